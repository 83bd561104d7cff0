//! The probe scheduler: the manifest's `interface.health` with Kubernetes
//! probe semantics. `startup` runs until it passes (the service is then Up),
//! then `liveness` every `interval` seconds; each run is killed on the host
//! after `timeout` seconds; `retries` consecutive failures mean Down (what
//! happens between is in the probe results: see `ServiceState::Failing`).
//! Until a service's first verdict its failed probes are retried at once (a
//! start shows the truth within about a second, as `status --once` does).
//! Host reachability (can we get an ssh master at all) is reported separately.

use super::ssh::{remote_timeout, SshError, SshPool};
use crate::manifest::{Health, Manifest};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// Not probed yet, or the manifest gives no health check.
    Unknown,
    /// The startup probe has not passed yet.
    Starting,
    Up,
    /// A probe failed, fewer than `retries` times in a row: not Down yet,
    /// but no longer honestly Up. The scheduler's own states change only
    /// at a verdict; boards that show probes (`app::model::health`) derive
    /// this one from the failed probes they see.
    Failing,
    Down,
    /// Its host cannot be reached over ssh.
    Unreachable,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Unknown => "unknown",
            ServiceState::Starting => "starting",
            ServiceState::Up => "up",
            ServiceState::Failing => "failing",
            ServiceState::Down => "down",
            ServiceState::Unreachable => "unreachable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    Startup,
    Liveness,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub service: String,
    pub kind: ProbeKind,
    pub at: SystemTime,
    pub latency: Duration,
    /// Exit code of the health command; `None` when killed by a signal.
    pub code: Option<i32>,
    pub ok: bool,
    pub timed_out: bool,
    /// Last lines of its output.
    pub tail: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum HealthEvent {
    Probe(ProbeResult),
    State {
        service: String,
        state: ServiceState,
        since: SystemTime,
        /// Why, for anything but Up: the probe's last output or the ssh error.
        reason: Option<String>,
    },
    Host {
        host: String,
        reachable: bool,
        reason: Option<String>,
        at: SystemTime,
    },
}

/// One service to watch.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: String,
    pub host: String,
    pub health: Option<Health>,
}

impl Target {
    pub fn from_manifest(m: &Manifest) -> Vec<Target> {
        m.services
            .values()
            .filter(|s| s.enable)
            .map(|s| Target {
                service: s.name.clone(),
                host: s.ip.to_string(),
                health: s.interface.health.clone(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Retry a failed probe after this instead of `interval` (a one-shot
    /// sweep wants a verdict now, with the same retries semantics).
    pub fast_retry: Option<Duration>,
    /// Upper bound on the wait between probes (tests and sweeps).
    pub max_interval: Option<Duration>,
}

/// The pause before retrying a failed probe while a service has no verdict
/// yet: `retries` failures then take well under a second, not minutes.
const FIRST_VERDICT_RETRY: Duration = Duration::from_millis(100);

/// Running probe tasks. Dropping it stops them.
pub struct Scheduler {
    tasks: JoinSet<()>,
    wake: HashMap<String, Arc<Notify>>,
}

impl Scheduler {
    pub fn spawn(
        pool: Arc<SshPool>,
        targets: Vec<Target>,
        options: Options,
        tx: mpsc::UnboundedSender<HealthEvent>,
    ) -> Self {
        let mut tasks = JoinSet::new();
        let mut wake = HashMap::new();
        for t in targets {
            let notify = Arc::new(Notify::new());
            wake.insert(t.service.clone(), notify.clone());
            tasks.spawn(watch(pool.clone(), t, options.clone(), tx.clone(), notify));
        }
        Self { tasks, wake }
    }

    /// Probe `service` now (all services when `None`) instead of waiting.
    pub fn reprobe(&self, service: Option<&str>) {
        for (name, n) in &self.wake {
            if service.is_none_or(|s| s == name) {
                n.notify_one();
            }
        }
    }

    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

struct Tracker {
    state: ServiceState,
    startup_passed: bool,
    failures: u32,
}

async fn watch(
    pool: Arc<SshPool>,
    t: Target,
    options: Options,
    tx: mpsc::UnboundedSender<HealthEvent>,
    wake: Arc<Notify>,
) {
    let Some(health) = t.health.clone() else {
        let _ = tx.send(HealthEvent::State {
            service: t.service.clone(),
            state: ServiceState::Unknown,
            since: SystemTime::now(),
            reason: Some("no health check in the manifest".into()),
        });
        return;
    };
    let mut tr = Tracker {
        state: ServiceState::Unknown,
        startup_passed: false,
        failures: 0,
    };
    let interval = Duration::from_secs(health.interval);
    let interval = options.max_interval.map_or(interval, |m| interval.min(m));
    loop {
        let ok = probe_once(&pool, &t, &health, &mut tr, &tx).await;
        let first_verdict = !matches!(
            tr.state,
            ServiceState::Up | ServiceState::Down | ServiceState::Unreachable
        );
        let fast = options
            .fast_retry
            .or(first_verdict.then_some(FIRST_VERDICT_RETRY));
        let delay = match (ok, fast) {
            (false, Some(fast)) => fast,
            _ => interval,
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = wake.notified() => { pool.retry_now(&t.host).await; }
        }
        if tx.is_closed() {
            return;
        }
    }
}

/// Runs one probe and updates the tracker; returns whether it passed.
async fn probe_once(
    pool: &SshPool,
    t: &Target,
    h: &Health,
    tr: &mut Tracker,
    tx: &mpsc::UnboundedSender<HealthEvent>,
) -> bool {
    let kind = if tr.startup_passed {
        ProbeKind::Liveness
    } else {
        ProbeKind::Startup
    };
    let script = match kind {
        ProbeKind::Startup => &h.startup,
        ProbeKind::Liveness => &h.liveness,
    };
    let at = SystemTime::now();
    let result = run_probe(pool, &t.host, h.timeout, script).await;
    let set_state = |tr: &mut Tracker, state: ServiceState, reason: Option<String>| {
        if tr.state != state {
            tr.state = state;
            let _ = tx.send(HealthEvent::State {
                service: t.service.clone(),
                state,
                since: SystemTime::now(),
                reason,
            });
        }
    };
    let out = match result {
        Ok(out) => out,
        Err(SshError::TimedOut { after, .. }) => super::ssh::Output {
            code: None,
            stdout: String::new(),
            stderr: format!("no result within {after:?}"),
            latency: after,
        },
        Err(e) => {
            let reason = e.to_string();
            let _ = tx.send(HealthEvent::Host {
                host: t.host.clone(),
                reachable: false,
                reason: Some(reason.clone()),
                at,
            });
            set_state(tr, ServiceState::Unreachable, Some(reason));
            return false;
        }
    };
    let _ = tx.send(HealthEvent::Host {
        host: t.host.clone(),
        reachable: true,
        reason: None,
        at,
    });
    // coreutils timeout exits 124 when it stopped the command (137 if it
    // had to KILL it).
    let timed_out = matches!(out.code, Some(124) | Some(137) | None);
    let ok = out.success();
    let mut tail = out.tail();
    if timed_out && !ok {
        tail.push(format!("probe killed after its timeout of {}s", h.timeout));
    }
    let _ = tx.send(HealthEvent::Probe(ProbeResult {
        service: t.service.clone(),
        kind,
        at,
        latency: out.latency,
        code: out.code,
        ok,
        timed_out: timed_out && !ok,
        tail: tail.clone(),
    }));
    if ok {
        tr.failures = 0;
        tr.startup_passed = true;
        set_state(tr, ServiceState::Up, None);
    } else {
        tr.failures += 1;
        let reason = Some(failure_reason(kind, out.code, &tail));
        if tr.failures >= h.retries {
            set_state(tr, ServiceState::Down, reason);
        } else if matches!(tr.state, ServiceState::Unknown | ServiceState::Unreachable) {
            set_state(tr, ServiceState::Starting, reason);
        }
    }
    ok
}

fn failure_reason(kind: ProbeKind, code: Option<i32>, tail: &[String]) -> String {
    let what = match kind {
        ProbeKind::Startup => "startup probe",
        ProbeKind::Liveness => "liveness probe",
    };
    let code = code.map_or("killed".to_string(), |c| format!("exit {c}"));
    match tail.last() {
        Some(line) => format!("{what} failed ({code}): {line}"),
        None => format!("{what} failed ({code})"),
    }
}

/// Runs one health command on `host`, killed there after `timeout` seconds.
/// The local bound only guards against a wedged connection.
pub async fn run_probe(
    pool: &SshPool,
    host: &str,
    timeout: u64,
    script: &str,
) -> Result<super::ssh::Output, SshError> {
    let argv = remote_timeout(timeout, script);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    pool.run(
        host,
        &argv,
        Duration::from_secs(timeout) + Duration::from_secs(3),
    )
    .await
}

/// Runs every target's liveness command once, all hosts at once, over the
/// pool's masters. Returns the wall time and how many did not pass.
pub async fn sweep(pool: &Arc<SshPool>, targets: &[Target]) -> (Duration, usize) {
    let started = std::time::Instant::now();
    let mut set = JoinSet::new();
    for t in targets {
        let Some(h) = t.health.clone() else { continue };
        let pool = pool.clone();
        let host = t.host.clone();
        set.spawn(async move {
            run_probe(&pool, &host, h.timeout, &h.liveness)
                .await
                .is_ok_and(|o| o.success())
        });
    }
    let mut failed = 0;
    while let Some(r) = set.join_next().await {
        failed += usize::from(!r.unwrap_or(false));
    }
    (started.elapsed(), failed)
}
