//! What one running operation shares between its host tasks (pool,
//! templates, vars, audit, progress, cancellation), and the one place
//! template variables are put together. Private to the core: front ends
//! hold a `Fleet` and an `OpHandle`, never this.

use super::audit::{Audit, Entry};
use super::exec::{StepTimeouts, Templates, LOCK_DIR, PROFILE, STATE_DIR};
use super::generations::{self, Generation};
use super::lock::{Holder, Lock, LockError, LockWatcher, Released};
use super::progress::Reporter;
use super::ssh::SshPool;
use crate::manifest::Service;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::watch;

/// The system profile the vars name (the NixOS one unless overridden).
pub(super) fn profile_in(vars: &BTreeMap<String, String>) -> &str {
    vars.get("profile").map_or(PROFILE, String::as_str)
}

/// The host lock directory the vars name.
pub(super) fn lock_dir_in(vars: &BTreeMap<String, String>) -> &str {
    vars.get("lock_dir").map_or(LOCK_DIR, String::as_str)
}

/// The host-side private directory the vars name.
pub(super) fn state_dir_in(vars: &BTreeMap<String, String>) -> &str {
    vars.get("state_dir").map_or(STATE_DIR, String::as_str)
}

/// Every placeholder of a template run for `svc`: the per-call `extra`
/// first (they win: template lookup takes the first match), then the
/// service's own (`name`, `service`, `ip`, `hostname`), then `base`.
/// The one place template variables are put together.
pub(super) fn template_vars<'a>(
    base: &'a BTreeMap<String, String>,
    svc: &'a Service,
    ip: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = extra.to_vec();
    v.extend([
        ("name", svc.name.as_str()),
        ("service", svc.name.as_str()),
        ("ip", ip),
        ("hostname", svc.hostname.as_str()),
    ]);
    v.extend(base.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    v
}

/// The generations on `svc`'s host, its template given every placeholder.
pub(super) async fn read_generations(
    pool: &SshPool,
    templates: &Templates,
    base: &BTreeMap<String, String>,
    svc: &Service,
    ip: &str,
) -> Result<Vec<Generation>, String> {
    let profile = profile_in(base);
    let vars = template_vars(base, svc, ip, &[("profile", profile)]);
    let list = templates.render("generations", &vars)?;
    let running = templates.render("running", &vars)?;
    generations::list_argv(pool, ip, &list, &running, profile).await
}

/// A host's profile and running generation, as read back after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HostState {
    pub(super) profile: Option<u64>,
    pub(super) running: Option<u64>,
    /// The profile's generation has its store path.
    pub(super) present: bool,
}

impl HostState {
    /// The host runs generation `n`, its profile points at it, and its
    /// store path exists.
    pub(super) fn is_on(&self, n: u64) -> bool {
        self.profile == Some(n) && self.running == Some(n) && self.present
    }

    pub(super) fn describe(&self) -> String {
        let g = |g: Option<u64>| g.map_or("none".to_string(), |n| n.to_string());
        let dangling = if self.present || self.profile.is_none() {
            ""
        } else {
            " (its store path is missing)"
        };
        format!(
            "profile on gen {}{dangling}, running gen {}",
            g(self.profile),
            match self.running {
                Some(n) => n.to_string(),
                None => "unknown (no generation matches what runs)".into(),
            }
        )
    }
}

/// What one running operation shares between its host tasks. Private to
/// the core: front ends hold a [`Fleet`] and an [`OpHandle`], never this.
pub(super) struct OpContext {
    pub(super) pool: Arc<SshPool>,
    pub(super) templates: Templates,
    pub(super) vars: Arc<BTreeMap<String, String>>,
    pub(super) audit: Audit,
    /// The audit log's `action`: deploy or rollback.
    pub(super) action: &'static str,
    pub(super) progress: Reporter,
    pub(super) cancel: watch::Receiver<bool>,
    pub(super) break_lock: bool,
    pub(super) timeouts: StepTimeouts,
    /// Seconds the host waits for confirmation before switching back by
    /// itself; 0: no host-side rollback.
    pub(super) confirm_timeout: u64,
    /// Which probes judge a switch: the manifest's `deploy.gate`.
    pub(super) gate: crate::manifest::Gate,
}

impl OpContext {
    pub(super) fn id(&self) -> u64 {
        self.progress.op()
    }

    pub(super) fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    pub(super) fn vars_for<'a>(
        &'a self,
        svc: &'a Service,
        ip: &'a str,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        template_vars(&self.vars, svc, ip, extra)
    }

    pub(super) fn profile(&self) -> &str {
        profile_in(&self.vars)
    }

    fn lock_dir(&self) -> &str {
        lock_dir_in(&self.vars)
    }

    pub(super) fn state_dir(&self) -> &str {
        state_dir_in(&self.vars)
    }

    /// How the host-side supervisor detaches (see `remote`).
    pub(super) fn detach(&self) -> &str {
        self.vars.get("detach").map_or("auto", String::as_str)
    }

    /// `op-OP-SERVICE`: the name of this operation's files on `svc`'s host.
    pub(super) fn op_base(&self, svc: &Service) -> String {
        format!("op-{}-{}", self.id(), svc.name)
    }

    /// Waits for a cancel request (never returns if none comes).
    pub(super) async fn cancel_requested(&self) {
        let mut rx = self.cancel.clone();
        // An error means the sender is gone: nobody can cancel any more.
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Appends one audit entry for `svc`. A failed write is reported
    /// loudly on the operation's stream and never stops the operation (a
    /// rollback must not be blocked by a full disk).
    pub(super) fn audit(
        &self,
        svc: &Service,
        step: &str,
        outcome: &str,
        f: impl FnOnce(&mut Entry),
    ) {
        let mut e = self.audit.entry(self.id(), self.action, step, outcome);
        e.service = Some(svc.name.clone());
        e.host = Some(svc.ip.to_string());
        f(&mut e);
        if let Err(err) = self.audit.record(&e) {
            self.progress.notice(&format!(
                "AUDIT LOG WRITE FAILED ({}): {err}",
                self.audit.path().display()
            ));
        }
    }

    /// Takes `svc`'s host lock (breaking a stale one if the operation was
    /// asked to), auditing it taken (the host's part of the operation
    /// starts: who, which process), broken (with the old holder) or
    /// refused; then, while held, a cancel request, and how it was let go
    /// of (released, or LEFT on the host, also said on the stream).
    pub(super) async fn lock(&self, svc: &Service, ip: &str) -> Result<Lock, LockError> {
        let pid = std::process::id();
        let holder = Holder {
            user: self.audit.user().to_string(),
            pid,
            op: self.id().to_string(),
            action: format!("{} {}", self.action, svc.name),
            since: crate::timefmt::rfc3339(SystemTime::now()),
            pid_start: super::audit::process_start(pid),
        };
        self.progress.step(&svc.name, super::outcome::Step::Lock);
        // An operator's action tries a fresh connection now, whatever a
        // probe's failed attempt a moment ago set the backoff to.
        self.pool.retry_now(ip).await;
        let watcher = Arc::new(LockAudit {
            audit: self.audit.clone(),
            progress: self.progress.clone(),
            op: self.id(),
            action: self.action,
            service: svc.name.clone(),
            host: ip.to_string(),
        });
        match Lock::acquire(
            self.pool.clone(),
            ip,
            self.lock_dir(),
            holder,
            self.break_lock,
            self.cancel.clone(),
            watcher,
        )
        .await
        {
            Ok(lock) => {
                let broke = lock
                    .broke()
                    .map(|old| serde_json::to_string(old).unwrap_or_default());
                if let Some(old) = &broke {
                    self.progress
                        .line(Some(&svc.name), &format!("broke a stale lock: {old}"));
                    self.audit(svc, "lock", "broke-stale", |a| a.detail = Some(old.clone()));
                }
                self.audit(svc, "lock", "acquired", |a| {
                    a.detail = Some(self.lock_dir().to_string());
                });
                Ok(lock)
            }
            Err(e) => {
                self.audit(svc, "lock", "failed", |a| a.detail = Some(e.to_string()));
                Err(e)
            }
        }
    }

    pub(super) async fn generations(
        &self,
        svc: &Service,
        ip: &str,
    ) -> Result<Vec<Generation>, String> {
        read_generations(&self.pool, &self.templates, &self.vars, svc, ip).await
    }

    /// Where the host is now: the profile's current generation and the
    /// generation it runs, read back from the host.
    pub(super) async fn host_state(&self, svc: &Service, ip: &str) -> Result<HostState, String> {
        Ok(self.host_state_at(svc, ip, "").await?.0)
    }

    /// [`OpContext::host_state`], and whether the profile's current
    /// generation is the store path `path`.
    pub(super) async fn host_state_at(
        &self,
        svc: &Service,
        ip: &str,
        path: &str,
    ) -> Result<(HostState, bool), String> {
        let gens = self.generations(svc, ip).await?;
        let current = gens.iter().find(|g| g.current);
        Ok((
            HostState {
                profile: generations::current_generation(&gens),
                running: generations::running_generation(&gens),
                present: current.is_some_and(|g| g.present),
            },
            current.is_some_and(|g| g.path == path),
        ))
    }
}

/// Audits what happens to one host's lock while its operation holds it.
struct LockAudit {
    audit: Audit,
    progress: Reporter,
    op: u64,
    action: &'static str,
    service: String,
    host: String,
}

impl LockAudit {
    fn record(&self, step: &str, outcome: &str, detail: Option<String>) {
        let mut e = self.audit.entry(self.op, self.action, step, outcome);
        e.service = Some(self.service.clone());
        e.host = Some(self.host.clone());
        e.detail = detail;
        if let Err(err) = self.audit.record(&e) {
            self.progress.line(
                None,
                &format!(
                    "AUDIT LOG WRITE FAILED ({}): {err}",
                    self.audit.path().display()
                ),
            );
        }
    }
}

impl LockWatcher for LockAudit {
    fn cancel_requested(&self) {
        let why = super::audit::cancel_reason();
        self.progress.line(
            Some(&self.service),
            &format!("cancel requested ({why}): stopping after the current step"),
        );
        self.record("cancel", "requested", Some(why));
    }

    fn released(&self, how: &Released) {
        match how {
            Released::Removed => self.record("lock", "released", None),
            Released::Gone => self.record(
                "lock",
                "released",
                Some("it was no longer there, or no longer ours".into()),
            ),
            Released::Left(why) => {
                self.progress.line(
                    None,
                    &format!(
                        "LOCK LEFT on {} ({}): {why}; the next nixmox that reaches it removes it",
                        self.host, self.service
                    ),
                );
                self.audit.note_lock_left(self.op, &self.service, why);
                self.record("lock", "left", Some(why.clone()));
            }
        }
    }
}
