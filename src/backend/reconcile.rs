//! Interrupted operations, reconciled by the next nixmox that talks to
//! their hosts. A host's part of an operation that started (its lock was
//! taken) and never ended, whose process on this admin box is gone (killed,
//! or its pid now another program's), is looked at on the host: its lock,
//! its detached step's status, where the profile is, what runs, the host
//! supervisor's verdict and the service's health. That is appended to the
//! audit log as its `interrupted` end, its lock is released, and the front
//! end shows it. A lock an operation could not release (its host was
//! unreachable then) is released the same way.

use super::audit::Audit;
use super::exec::Templates;
use super::history::{HostRecord, OpRecord};
use super::lock::{self, LockState, Released};
use super::op_context::{lock_dir_in, profile_in, read_generations, template_vars};
use super::ssh::SshPool;
use crate::manifest::Manifest;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The host-side state directory of the operations contract.
const STATE_DIR: &str = "/var/lib/nixmox";

/// What reconciling one host's part found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    pub op: u64,
    pub action: String,
    pub service: String,
    pub host: String,
    /// `interrupted` (an end was recorded), `lock-released` (a lock left
    /// behind was removed), or `pending` (not yet: its step still runs on
    /// the host, or the host did not answer).
    pub result: String,
    /// What was found, one sentence.
    pub found: String,
    /// For an interrupted part: where it stopped and why (`interrupted at
    /// activate (process 4242 gone)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
}

impl Reconciled {
    /// `deploy postgresql (op 17) interrupted at activate, process 4242
    /// gone: host runs gen 3 (new), healthy; its lock released`.
    pub fn message(&self) -> String {
        match self.result.as_str() {
            "interrupted" => format!(
                "{} {} (op {}) was {}: {}",
                self.action,
                self.service,
                self.op,
                self.interrupted.as_deref().unwrap_or("interrupted"),
                self.found
            ),
            "lock-released" => format!(
                "{} {} (op {}) had left its lock on {}: {}",
                self.action, self.service, self.op, self.host, self.found
            ),
            _ => format!(
                "{} {} (op {}) has no end yet and was not reconciled: {}",
                self.action, self.service, self.op, self.found
            ),
        }
    }
}

/// What reconciliation needs from the fleet.
pub(crate) struct Scope<'a> {
    pub(crate) pool: &'a SshPool,
    pub(crate) templates: &'a Templates,
    pub(crate) vars: &'a BTreeMap<String, String>,
    pub(crate) audit: &'a Audit,
    pub(crate) manifest: &'a Manifest,
}

/// Whether this host part's process is known to be gone: written on this
/// admin box by a process that no longer runs (or whose pid is reused).
fn process_gone(op: &OpRecord) -> bool {
    let here = super::audit::local_user();
    let host_of = |u: &str| u.rsplit_once('@').map(|(_, h)| h.to_string());
    let Some(pid) = op.pid else {
        // Written before nixmox recorded its pid: nothing can be told.
        return false;
    };
    host_of(&op.user).is_some()
        && host_of(&op.user) == host_of(&here)
        && !super::audit::process_alive(pid, op.pid_start)
}

/// Reconciles every host part in `ops` on `services` (all when `None`):
/// interrupted ones get their end, left locks are released.
pub(crate) async fn reconcile(
    scope: &Scope<'_>,
    ops: &[OpRecord],
    services: Option<&[String]>,
) -> Vec<Reconciled> {
    let wanted = |s: &str| services.is_none_or(|list| list.iter().any(|x| x == s));
    // All at once: an unreachable host costs one connect timeout, not one
    // per part.
    let mut parts = Vec::new();
    for op in ops {
        for part in &op.hosts {
            if !wanted(&part.service) || !scope.manifest.services.contains_key(&part.service) {
                continue;
            }
            let interrupted_part = part.outcome.is_none() && process_gone(op);
            let lock_left = part.outcome.is_some() && part.lock_left.is_some();
            if interrupted_part || lock_left {
                parts.push(async move {
                    if interrupted_part {
                        interrupted(scope, op, part).await
                    } else {
                        left_lock(scope, op, part).await
                    }
                });
            }
        }
    }
    futures::future::join_all(parts).await
}

/// The lock a finished operation could not release: removed now, if it is
/// still that operation's.
async fn left_lock(scope: &Scope<'_>, op: &OpRecord, part: &HostRecord) -> Reconciled {
    let dir = lock_dir_in(scope.vars);
    let (result, found) =
        match lock::release_of(scope.pool, &part.host, dir, &op.op.to_string()).await {
            Ok(Released::Removed) => ("lock-released", "removed now".to_string()),
            Ok(Released::Gone) => (
                "lock-released",
                "it was already gone, or someone else's".to_string(),
            ),
            Ok(Released::Left(why)) => ("pending", why),
            Err(e) => ("pending", format!("the host did not answer: {e}")),
        };
    let mut found = found;
    if result != "pending" {
        let detail = format!("left by op {}: {found}", op.op);
        if let Some(failed) = record(scope, op, part, "lock", "released", &detail) {
            found.push_str(&failed);
        }
    }
    Reconciled {
        op: op.op,
        action: op.action.clone(),
        service: part.service.clone(),
        host: part.host.clone(),
        result: result.into(),
        found,
        interrupted: None,
    }
}

async fn interrupted(scope: &Scope<'_>, op: &OpRecord, part: &HostRecord) -> Reconciled {
    let pending = |found: String| Reconciled {
        op: op.op,
        action: op.action.clone(),
        service: part.service.clone(),
        host: part.host.clone(),
        result: "pending".into(),
        found,
        interrupted: None,
    };
    let Some(svc) = scope.manifest.services.get(&part.service) else {
        return pending("the service is no longer in the manifest".into());
    };
    let ip = part.host.clone();
    let opid = op.op.to_string();
    let mut found: Vec<String> = Vec::new();

    // A detached step of this operation that still runs on the host: the
    // operation is not over there yet; look again on a later contact.
    let steps = match step_files(scope, &opid, &part.service, &ip).await {
        Ok(s) => s,
        Err(e) => return pending(format!("the host did not answer: {e}")),
    };
    if let Some(running) = steps.iter().find(|s| s.ends_with("still running")) {
        return pending(format!(
            "{running} on the host; it is reconciled once that ends"
        ));
    }

    // Where the profile is, and what runs.
    let gens = read_generations(scope.pool, scope.templates, scope.vars, svc, &ip).await;
    let current = gens
        .as_ref()
        .ok()
        .and_then(|g| g.iter().find(|g| g.current).cloned());
    let before = part
        .generation_before
        .as_deref()
        .and_then(|g| g.parse::<u64>().ok());
    match (&gens, &current) {
        (Err(e), _) => found.push(format!("its generations could not be read: {e}")),
        (Ok(_), None) => found.push("its profile has no current generation".into()),
        (Ok(_), Some(g)) => {
            let new_or_old = match before {
                Some(b) if b == g.generation => " (the one before the operation)",
                Some(_) => " (new)",
                None => "",
            };
            found.push(format!("profile on gen {}{new_or_old}", g.generation));
        }
    }
    found.push(running_system(scope, svc, &ip, gens.as_deref().unwrap_or(&[])).await);
    found.extend(steps);
    if let Some(v) = verdict(scope, &opid, &part.service, &ip).await {
        found.push(format!("host supervisor: {v}"));
    }
    found.push(health(scope, svc, &ip).await);

    // Its lock, released if it is still this operation's.
    let dir = lock_dir_in(scope.vars);
    match lock::peek(scope.pool, &ip, dir).await {
        Ok(LockState::Held { holder, .. }) if holder.op == opid => {
            match lock::release_of(scope.pool, &ip, dir, &opid).await {
                Ok(Released::Removed) => found.push("its lock released".into()),
                Ok(other) => found.push(format!("its lock: {other:?}")),
                Err(e) => found.push(format!("its lock could not be released: {e}")),
            }
        }
        Ok(LockState::Held { holder, .. }) => found.push(format!(
            "locked by another operation: {}",
            holder.describe()
        )),
        Ok(LockState::Free) => found.push("no lock left".into()),
        Ok(LockState::Foreign(why)) => found.push(format!("lock_dir is not a nixmox lock: {why}")),
        Err(e) => found.push(format!("its lock could not be read: {e}")),
    }

    let how = match &op.cancel {
        Some(why) => format!("after a cancel request ({why}), "),
        None => String::new(),
    };
    let why = format!(
        "interrupted at {} ({how}process {} gone)",
        part.interrupted_at(),
        op.pid.unwrap_or(0),
    );
    let mut found = found.join(", ");
    let text = format!("{} {} {why}: {found}", op.action, part.service);
    // Another nixmox may have reconciled it meanwhile: one end is enough.
    if still_open(scope, op, part) {
        if let Some(failed) = record(scope, op, part, "done", "interrupted", &text) {
            found.push_str(&failed);
        }
    }
    Reconciled {
        op: op.op,
        action: op.action.clone(),
        service: part.service.clone(),
        host: ip,
        result: "interrupted".into(),
        found,
        interrupted: Some(why),
    }
}

/// Whether `part` of `op` still has no end in the audit log as it is now.
fn still_open(scope: &Scope<'_>, op: &OpRecord, part: &HostRecord) -> bool {
    super::history::read(scope.audit.path()).is_ok_and(|ops| {
        ops.iter()
            .filter(|o| o.op == op.op && o.action == op.action)
            .flat_map(|o| &o.hosts)
            .any(|h| h.service == part.service && h.outcome.is_none())
    })
}

fn record(
    scope: &Scope<'_>,
    op: &OpRecord,
    part: &HostRecord,
    step: &str,
    outcome: &str,
    detail: &str,
) -> Option<String> {
    let mut e = scope.audit.entry(op.op, &op.action, step, outcome);
    e.service = Some(part.service.clone());
    e.host = Some(part.host.clone());
    e.generation_before = part.generation_before.clone();
    e.detail = Some(detail.to_string());
    scope.audit.record(&e).err().map(|err| {
        format!(
            " (AUDIT LOG WRITE FAILED ({}): {err}; not recorded)",
            scope.audit.path().display()
        )
    })
}

/// `$1` the state dir, `$2` the legacy prefix, `$3` op, `$4` service:
/// each detached step file of that operation on the host. The status file
/// is created empty when the step starts (O_EXCL) and gets the exit code
/// when it ends: empty means still running.
const STEPS: &str = r#"
for step in activate rollback switch; do
  for b in "$1/op-$3-$4-$step" "$2-$3-$4-$step"; do
    if [ -s "$b.status" ]; then echo "$step exited $(head -c 16 "$b.status")"; break
    elif [ -e "$b.log" ]; then echo "$step still running"; break; fi
  done
done
"#;

fn state_dir<'a>(scope: &Scope<'a>) -> &'a str {
    scope
        .vars
        .get("state_dir")
        .map_or(STATE_DIR, String::as_str)
}

async fn step_files(
    scope: &Scope<'_>,
    op: &str,
    service: &str,
    ip: &str,
) -> Result<Vec<String>, String> {
    let out = scope
        .pool
        .run(
            ip,
            &[
                "sh",
                "-c",
                STEPS,
                "sh",
                state_dir(scope),
                "/tmp/nixmox",
                op,
                service,
            ],
            Duration::from_secs(15),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(super::sanitize::lines(out.stdout.as_bytes())
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .map(|l| format!("its {l}"))
        .collect())
}

async fn verdict(scope: &Scope<'_>, op: &str, service: &str, ip: &str) -> Option<String> {
    let out = scope
        .pool
        .run(
            ip,
            &[
                "sh",
                "-c",
                r#"head -n 1 "$1/op-$2-$3.verdict" 2>/dev/null"#,
                "sh",
                state_dir(scope),
                op,
                service,
            ],
            Duration::from_secs(15),
        )
        .await
        .ok()?;
    let v = super::sanitize::line(out.stdout.trim().as_bytes());
    (!v.is_empty()).then_some(v)
}

/// What the host runs, through the `running` template when there is one;
/// otherwise says so (only the profile is known then).
async fn running_system(
    scope: &Scope<'_>,
    svc: &crate::manifest::Service,
    ip: &str,
    gens: &[super::generations::Generation],
) -> String {
    if scope.templates.get("running").is_none() {
        return "what runs is unknown (no `running` template: profile only)".into();
    }
    let profile = profile_in(scope.vars);
    let argv = match scope.templates.render(
        "running",
        &template_vars(scope.vars, svc, ip, &[("profile", profile)]),
    ) {
        Ok(a) => a,
        Err(e) => return format!("what runs is unknown ({e})"),
    };
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    match scope.pool.run(ip, &argv, Duration::from_secs(15)).await {
        Ok(o) if o.success() => {
            let path = o.stdout.trim();
            match gens.iter().find(|g| g.path == path) {
                Some(g) => format!("host runs gen {}", g.generation),
                None => format!(
                    "host runs {} (no generation)",
                    super::sanitize::line(path.as_bytes())
                ),
            }
        }
        Ok(o) => format!("what runs is unknown: {}", o.tail().join(" / ")),
        Err(e) => format!("what runs is unknown: {e}"),
    }
}

/// The service's startup probe, once.
async fn health(scope: &Scope<'_>, svc: &crate::manifest::Service, ip: &str) -> String {
    let Some(h) = &svc.interface.health else {
        return "no health check".into();
    };
    match super::health::run_probe(scope.pool, ip, h.timeout, &h.startup).await {
        Ok(o) if o.success() => "healthy".into(),
        Ok(o) => format!(
            "NOT healthy ({})",
            o.tail()
                .last()
                .cloned()
                .unwrap_or_else(|| "probe failed".into())
        ),
        Err(e) => format!("health unknown: {e}"),
    }
}
