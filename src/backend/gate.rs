//! The deploy health gate: the manifest's own startup probe, judged the
//! same way after an activation, an automatic rollback and a manual one.

use super::ssh::SshPool;
use crate::manifest::Service;
use std::time::Duration;

/// The service's startup probe until it passes, at most `retries` times,
/// `timeout` each, a short pause between. Err carries the probe's output.
pub(super) async fn health_gate(pool: &SshPool, svc: &Service, ip: &str) -> Result<(), String> {
    let Some(h) = &svc.interface.health else {
        return Ok(());
    };
    let pause = Duration::from_secs(h.interval.min(2));
    let mut last = String::new();
    for attempt in 1..=h.retries {
        match super::health::run_probe(pool, ip, h.timeout, &h.startup).await {
            Ok(o) if o.success() => return Ok(()),
            Ok(o) => {
                last = format!(
                    "startup probe failed {attempt}/{} (exit {}): {}",
                    h.retries,
                    o.code.map_or("killed".into(), |c| c.to_string()),
                    o.tail().last().cloned().unwrap_or_default()
                )
            }
            Err(e) => last = format!("startup probe could not run: {e}"),
        }
        if attempt < h.retries {
            tokio::time::sleep(pause).await;
        }
    }
    Err(last)
}
