//! The deploy health gate: the manifest's own probes, judged the same way
//! after an activation, an automatic rollback and a manual one. Which probes
//! is the manifest's `deploy.gate`: `startup` (the unit runs), `liveness`
//! (it answers: catches a build that starts but answers 500) or `both`, in
//! that order (the default).

use super::ssh::SshPool;
use crate::manifest::{Gate, Health, Service};
use std::time::Duration;

/// The gate `gate` chooses: each probe in turn until it passes, at most
/// `retries` times, `timeout` each, a short pause between. Err carries the
/// failing probe's output.
pub(super) async fn health_gate(
    pool: &SshPool,
    svc: &Service,
    ip: &str,
    gate: Gate,
) -> Result<(), String> {
    let Some(h) = &svc.interface.health else {
        return Ok(());
    };
    if matches!(gate, Gate::Startup | Gate::Both) {
        probe_until_pass(pool, h, ip, "startup", &h.startup).await?;
    }
    if matches!(gate, Gate::Liveness | Gate::Both) {
        probe_until_pass(pool, h, ip, "liveness", &h.liveness).await?;
    }
    Ok(())
}

async fn probe_until_pass(
    pool: &SshPool,
    h: &Health,
    ip: &str,
    what: &str,
    script: &str,
) -> Result<(), String> {
    let pause = Duration::from_secs(h.interval.min(2));
    let mut last = String::new();
    for attempt in 1..=h.retries {
        match super::health::run_probe(pool, ip, h.timeout, script).await {
            Ok(o) if o.success() => return Ok(()),
            Ok(o) => {
                last = format!(
                    "{what} probe failed {attempt}/{} (exit {}): {}",
                    h.retries,
                    o.code.map_or("killed".into(), |c| c.to_string()),
                    o.tail().last().cloned().unwrap_or_default()
                )
            }
            Err(e) => last = format!("{what} probe could not run: {e}"),
        }
        if attempt < h.retries {
            tokio::time::sleep(pause).await;
        }
    }
    Err(last)
}
