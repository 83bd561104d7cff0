//! What one running operation shares between its host tasks (pool,
//! templates, vars, audit, progress, cancellation), and the one place
//! template variables are put together. Private to the core: front ends
//! hold a `Fleet` and an `OpHandle`, never this.

use super::audit::{Audit, Entry};
use super::exec::{Templates, LOCK_DIR, PROFILE};
use super::generations::{self, Generation};
use super::lock::{Holder, Lock, LockError, LockWatcher, Released};
use super::progress::Reporter;
use super::ssh::SshPool;
use crate::manifest::Service;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// The system profile the vars name (the NixOS one unless overridden).
pub(super) fn profile_in(vars: &BTreeMap<String, String>) -> &str {
    vars.get("profile").map_or(PROFILE, String::as_str)
}

/// The host lock directory the vars name.
pub(super) fn lock_dir_in(vars: &BTreeMap<String, String>) -> &str {
    vars.get("lock_dir").map_or(LOCK_DIR, String::as_str)
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
    let argv = templates.render(
        "generations",
        &template_vars(base, svc, ip, &[("profile", profile)]),
    )?;
    generations::list_argv(pool, ip, &argv, profile).await
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
    pub(super) step_timeout: Duration,
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
            self.progress.line(
                None,
                &format!(
                    "AUDIT LOG WRITE FAILED ({}): {err}",
                    self.audit.path().display()
                ),
            );
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

    /// The profile's current generation as the host reports it now.
    pub(super) async fn current_generation(
        &self,
        svc: &Service,
        ip: &str,
    ) -> Result<Option<u64>, String> {
        Ok(self
            .generations(svc, ip)
            .await?
            .into_iter()
            .find(|g| g.current)
            .map(|g| g.generation))
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
