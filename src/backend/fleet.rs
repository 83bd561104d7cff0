//! The operations core (gitui's asyncgit is the model): one [`Fleet`] holds
//! everything an operation on the manifest's hosts needs — the ssh pool, the
//! manifest and its dependency graph, the command templates and their
//! placeholders, the audit log and the config — and offers plan, changed,
//! deploy, rollback, generations and break_lock. The CLI and the console
//! are front ends over it: they ask, show the streamed [`OpEvent`]s and
//! render the typed outcomes; they never assemble an operation themselves.
//!
//! [`OpEvent`]: super::progress::OpEvent

use super::audit::Audit;
use super::deploy_preview::{Change, HostPreview, LockView};
use super::exec::{StepTimeouts, Templates, LOCK_DIR, PROFILE, STATE_DIR};
use super::generations::Generation;
use super::health::ServiceState;
use super::history::{OpRecord, OpTrouble};
use super::lock::{Holder, LockState};
use super::op_context::{lock_dir_in, read_generations, OpContext};
use super::outcome::HostResult;
use super::progress::Reporter;
use super::reconcile::Reconciled;
pub use super::rollback::OnChange;
use super::ssh::SshPool;
use crate::config::{Config, SshSettings};
use crate::manifest::{DepGraph, Manifest, PlanError, Service};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Hosts deployed at once within a wave, unless asked otherwise.
pub const DEFAULT_PARALLEL: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    #[error("cannot prepare the ssh control directory: {0}")]
    Pool(String),
    /// A command template override is malformed.
    #[error("{0}")]
    Templates(String),
    #[error("cannot open the audit log: {0}")]
    Audit(String),
    #[error("unknown service {name:?} (known: {known})")]
    UnknownService { name: String, known: String },
}

/// The hosts we operate on, and how. Cheap to clone; clones share one pool.
#[derive(Clone)]
pub struct Fleet {
    core: Arc<Core>,
}

struct Core {
    manifest: Arc<Manifest>,
    graph: Arc<DepGraph>,
    config: Config,
    pool: Arc<SshPool>,
    /// Kept as a result: a malformed override refuses operations, not the
    /// console's health view.
    templates: Result<Templates, String>,
    /// Per-step limits and the confirmation timeout from the manifest's
    /// `deploy` settings (an invalid value refuses operations, like a
    /// malformed template).
    timeouts: Result<(StepTimeouts, Option<u64>), String>,
    vars: Arc<BTreeMap<String, String>>,
    /// Opened on the first operation that records anything.
    audit: OnceLock<Result<Audit, String>>,
}

/// Deploy waves: nothing in a wave depends on anything in a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub waves: Vec<Vec<String>>,
}

impl Plan {
    pub fn hosts(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts() == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployOptions {
    /// At most this many hosts at once within a wave.
    pub parallel: usize,
    /// Break a STALE lock (never a live one) before taking it.
    pub break_lock: bool,
    /// Seconds a host waits for the deployer's confirmation (after its
    /// health gate passed) before switching back by itself; `Some(0)`
    /// disables the host-side rollback; `None`: the manifest's
    /// `deploy.confirm_timeout_secs`, else 60.
    pub confirm_timeout_secs: Option<u64>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            parallel: DEFAULT_PARALLEL,
            break_lock: false,
            confirm_timeout_secs: None,
        }
    }
}

/// Switch a service's host from generation `from` (as the operator saw it)
/// to `to`, then verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRequest {
    pub service: String,
    pub from: u64,
    pub to: u64,
    pub break_lock: bool,
}

/// Stops an operation after the step each host is in (so every host stays
/// on a whole generation). Cloneable, so a front end can keep one per op.
#[derive(Clone)]
pub struct Canceller(Arc<watch::Sender<bool>>);

impl Canceller {
    pub fn cancel(&self) {
        // No receiver left means the operation already ended.
        let _ = self.0.send(true);
    }
}

/// A running operation: its id, a way to cancel it, and its results.
pub struct OpHandle {
    id: u64,
    cancel: Canceller,
    task: JoinHandle<Vec<HostResult>>,
}

impl OpHandle {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn canceller(&self) -> Canceller {
        self.cancel.clone()
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Every host's result, in plan order. Err only if the operation's task
    /// died (a bug): then nothing is known about the hosts.
    pub async fn wait(self) -> Result<Vec<HostResult>, String> {
        self.task
            .await
            .map_err(|e| format!("operation {} ended abnormally: {e}", self.id))
    }
}

/// An operation id for front ends without their own counter: milliseconds
/// since the epoch (unique enough per admin box, sortable in the audit log).
pub fn op_id() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The ssh pool for `settings` (no connection is made yet).
pub fn open_pool(settings: &SshSettings) -> Result<Arc<SshPool>, FleetError> {
    SshPool::new(settings)
        .map(Arc::new)
        .map_err(|e| FleetError::Pool(e.to_string()))
}

/// The placeholders every template may use besides per-host and per-call
/// ones: the manifest, the flake, the ssh user, the profile, the lock
/// directory, the salt, the domain, then the config's `vars` (which win).
pub fn base_vars(manifest_path: &Path, m: &Manifest, config: &Config) -> BTreeMap<String, String> {
    let manifest =
        std::path::absolute(manifest_path).unwrap_or_else(|_| manifest_path.to_path_buf());
    let flake = manifest
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".".into());
    let mut v = BTreeMap::new();
    v.insert("manifest".into(), manifest.display().to_string());
    v.insert("flake".into(), flake);
    v.insert(
        "user".into(),
        config.ssh.user.clone().unwrap_or_else(|| "root".into()),
    );
    v.insert("profile".into(), PROFILE.into());
    v.insert("lock_dir".into(), LOCK_DIR.into());
    v.insert("state_dir".into(), STATE_DIR.into());
    // How the activation supervisor detaches: systemd-run where systemd
    // runs, a setsid process otherwise (auto), or forced.
    v.insert("detach".into(), "auto".into());
    v.insert("salt".into(), String::new());
    v.insert("domain".into(), m.network.domain.clone());
    v.extend(config.vars.clone());
    v
}

/// Named services (all enabled ones when none are named), plus what
/// depends on them if asked; unknown and disabled names are refused.
pub fn select(
    m: &Manifest,
    graph: &DepGraph,
    names: &[String],
    with_dependents: bool,
) -> Result<BTreeSet<String>, PlanError> {
    if names.is_empty() {
        return graph.selection(
            &m.services
                .values()
                .filter(|s| s.enable)
                .map(|s| s.name.clone())
                .collect::<Vec<_>>(),
            false,
        );
    }
    for n in names {
        match m.services.get(n) {
            None => return Err(PlanError::Unknown(n.clone())),
            Some(s) if !s.enable => return Err(PlanError::Disabled(n.clone())),
            Some(_) => {}
        }
    }
    graph.selection(names, with_dependents)
}

impl Fleet {
    /// Everything operations need, from a valid manifest (`manifest_path`
    /// is where it was read: templates see it and its directory, the flake).
    /// Only an unusable ssh control directory fails here; malformed
    /// templates or an unwritable audit log refuse operations later
    /// ([`Fleet::ready`]), so a console can still show health.
    pub fn open(
        manifest: impl Into<Arc<Manifest>>,
        manifest_path: &Path,
        config: Config,
    ) -> Result<Fleet, FleetError> {
        let manifest = manifest.into();
        let pool = open_pool(&config.ssh)?;
        let graph = Arc::new(DepGraph::from_manifest(&manifest));
        let templates = Templates::resolve(manifest.deploy.as_ref(), &config.templates);
        // The config's deploy settings win over the manifest's.
        let deploy = config.deploy.over(manifest.deploy.as_ref());
        let timeouts = StepTimeouts::resolve(Some(&deploy))
            .and_then(|t| Ok((t, super::exec::confirm_timeout_in(Some(&deploy))?)));
        let vars = Arc::new(base_vars(manifest_path, &manifest, &config));
        Ok(Fleet {
            core: Arc::new(Core {
                manifest,
                graph,
                config,
                pool,
                templates,
                timeouts,
                vars,
                audit: OnceLock::new(),
            }),
        })
    }

    pub fn manifest(&self) -> &Arc<Manifest> {
        &self.core.manifest
    }

    pub fn graph(&self) -> &Arc<DepGraph> {
        &self.core.graph
    }

    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The one ssh pool: health probes and log tails share its masters.
    pub fn pool(&self) -> &Arc<SshPool> {
        &self.core.pool
    }

    /// The base template placeholders (see [`base_vars`]).
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.core.vars
    }

    /// The named service, or an error listing the known ones.
    pub fn service(&self, name: &str) -> Result<&Service, FleetError> {
        let m = &self.core.manifest;
        m.services
            .get(name)
            .ok_or_else(|| FleetError::UnknownService {
                name: name.to_string(),
                known: m.services.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    fn templates(&self) -> Result<&Templates, FleetError> {
        self.core
            .templates
            .as_ref()
            .map_err(|e| FleetError::Templates(e.clone()))
    }

    fn timeouts(&self) -> Result<(StepTimeouts, Option<u64>), FleetError> {
        self.core.timeouts.clone().map_err(FleetError::Templates)
    }

    fn audit(&self) -> Result<&Audit, FleetError> {
        self.core
            .audit
            .get_or_init(|| {
                Audit::open(self.core.config.audit_log.as_deref()).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| FleetError::Audit(e.clone()))
    }

    /// Whether operations can run: the templates resolve and the audit log
    /// opens. Front ends ask before showing a plan, not after confirming.
    pub fn ready(&self) -> Result<(), FleetError> {
        self.templates()?;
        self.timeouts()?;
        self.audit()?;
        Ok(())
    }

    /// See [`select`].
    pub fn select(
        &self,
        names: &[String],
        with_dependents: bool,
    ) -> Result<BTreeSet<String>, PlanError> {
        select(
            &self.core.manifest,
            &self.core.graph,
            names,
            with_dependents,
        )
    }

    /// The waves that deploy `selection` in dependency order.
    pub fn plan(&self, selection: &BTreeSet<String>) -> Result<Plan, PlanError> {
        self.core
            .graph
            .waves_of(selection)
            .map(|waves| Plan { waves })
    }

    /// Per planned host: changed or not, reachable, locked, and the health
    /// of what it depends on (one startup probe each). Builds every
    /// planned system (progress as `Compare` steps); changes nothing.
    pub async fn preview(&self, plan: &Plan, progress: Reporter) -> Vec<HostPreview> {
        self.preview_known(plan, &BTreeMap::new(), progress).await
    }

    /// [`Fleet::preview`], taking the dependencies' health from `known`
    /// where it has them (a console's last verdicts) instead of probing.
    pub async fn preview_known(
        &self,
        plan: &Plan,
        known: &BTreeMap<String, ServiceState>,
        progress: Reporter,
    ) -> Vec<HostPreview> {
        let (_never, cancel) = watch::channel(false);
        let ctx = match self.context("deploy", progress, cancel, false, None) {
            Ok(ctx) => Arc::new(ctx),
            Err(e) => return unknown_previews(self, plan, &e.to_string()),
        };
        let (m, g) = (&self.core.manifest, &self.core.graph);
        super::deploy_preview::preview(ctx, m, g, &plan.waves, known).await
    }

    /// Drift: each enabled service's [`Change`] between what its host runs
    /// and what the manifest now builds. Builds every system (a few at a
    /// time); changes nothing on any host.
    pub async fn drift(&self) -> BTreeMap<String, Change> {
        let (_never, cancel) = watch::channel(false);
        let services: Vec<Service> = self
            .core
            .manifest
            .services
            .values()
            .filter(|s| s.enable)
            .cloned()
            .collect();
        match self.context("drift", Reporter::quiet(0), cancel, false, None) {
            Ok(ctx) => super::deploy_preview::drift(Arc::new(ctx), services, DRIFT_BUILDS).await,
            Err(e) => services
                .into_iter()
                .map(|s| (s.name, Change::Unknown { why: e.to_string() }))
                .collect(),
        }
    }

    /// The system generations on `service`'s host.
    pub async fn generations(&self, service: &str) -> Result<Vec<Generation>, String> {
        let svc = self.service(service).map_err(|e| e.to_string())?;
        let templates = self.templates().map_err(|e| e.to_string())?;
        let ip = svc.ip.to_string();
        read_generations(&self.core.pool, templates, &self.core.vars, svc, &ip).await
    }

    /// Where a rollback of `service` would go: `(current, target)`, the
    /// target being `to` or else the newest generation older than the
    /// current one. Refuses clearly (oldest, missing, already current).
    pub async fn rollback_target(
        &self,
        service: &str,
        to: Option<u64>,
    ) -> Result<(u64, u64), String> {
        let gens = self.generations(service).await?;
        let ip = self.service(service).map_err(|e| e.to_string())?.ip;
        super::rollback::choose(&gens, to, &format!("{service} ({ip})"))
    }

    /// Starts deploying `plan` (call inside a tokio runtime); returns at
    /// once. Progress streams on `progress`: `Started`, per host `Step`s and
    /// `Line`s, exactly one `HostDone` per planned host, then `Finished`.
    pub fn deploy(
        &self,
        plan: Plan,
        options: DeployOptions,
        progress: Reporter,
    ) -> Result<OpHandle, FleetError> {
        let (cancel_tx, cancel) = watch::channel(false);
        let id = progress.op();
        let ctx = Arc::new(self.context(
            "deploy",
            progress,
            cancel,
            options.break_lock,
            options.confirm_timeout_secs,
        )?);
        let (manifest, graph) = (self.core.manifest.clone(), self.core.graph.clone());
        let task = tokio::spawn(async move {
            super::deploy::deploy(ctx, &manifest, &graph, plan.waves, options.parallel).await
        });
        Ok(OpHandle {
            id,
            cancel: Canceller(Arc::new(cancel_tx)),
            task,
        })
    }

    /// Starts a rollback (call inside a tokio runtime); returns at once.
    /// Under the host's lock it re-reads the generations (a host that
    /// changed since `request.from` is refused: see [`OnChange`]),
    /// switches, reads back the profile and what runs, and checks health;
    /// one `HostDone`, then `Finished`.
    pub fn rollback(
        &self,
        request: RollbackRequest,
        progress: Reporter,
    ) -> Result<OpHandle, FleetError> {
        self.rollback_with(request, OnChange::Refuse, progress)
    }

    /// [`Fleet::rollback`], choosing what a changed host does.
    pub fn rollback_with(
        &self,
        request: RollbackRequest,
        on_change: OnChange,
        progress: Reporter,
    ) -> Result<OpHandle, FleetError> {
        let svc = self.service(&request.service)?.clone();
        let (cancel_tx, cancel) = watch::channel(false);
        let id = progress.op();
        let ctx = Arc::new(self.context("rollback", progress, cancel, request.break_lock, None)?);
        let task = tokio::spawn(async move {
            vec![super::rollback::rollback(&ctx, &svc, request.from, request.to, on_change).await]
        });
        Ok(OpHandle {
            id,
            cancel: Canceller(Arc::new(cancel_tx)),
            task,
        })
    }

    /// Removes `service`'s host lock if it is STALE (its holder stopped
    /// refreshing it, or was a process on this box that is gone) and is a
    /// nixmox lock; a live lock is refused naming its holder. Returns the
    /// holder that was broken, or `None` when there was no lock.
    pub async fn break_lock(&self, service: &str, op: u64) -> Result<Option<Holder>, String> {
        let svc = self.service(service).map_err(|e| e.to_string())?;
        let audit = self.audit().map_err(|e| e.to_string())?;
        let ip = svc.ip.to_string();
        let lock_dir = lock_dir_in(&self.core.vars);
        let result = super::lock::break_stale(&self.core.pool, &ip, lock_dir).await;
        let mut e = audit.entry(op, "lock-break", "lock", "");
        e.service = Some(svc.name.clone());
        e.host = Some(ip);
        (e.outcome, e.detail) = match &result {
            Ok(Some(h)) => ("broken".into(), serde_json::to_string(h).ok()),
            Ok(None) => ("no-lock".into(), None),
            Err(err) => ("refused".into(), Some(err.to_string())),
        };
        let recorded = audit.record(&e);
        let broken = result.map_err(|e| e.to_string())?;
        recorded
            .map_err(|err| format!("AUDIT LOG WRITE FAILED ({}): {err}", audit.path().display()))?;
        Ok(broken)
    }

    /// Every operation in the audit log, oldest first; with `service`,
    /// only those that touched it.
    pub fn history(&self, service: Option<&str>) -> Result<Vec<OpRecord>, String> {
        let path = super::audit::default_path(self.core.config.audit_log.as_deref());
        let mut ops = super::history::read(&path)?;
        if let Some(s) = service {
            self.service(s).map_err(|e| e.to_string())?;
            ops.retain(|op| op.hosts.iter().any(|h| h.service == s));
        }
        Ok(ops)
    }

    /// Reconciles interrupted operations on `services`' hosts (all when
    /// `None`): a host part that started and never ended, whose process on
    /// this admin box is gone, is inspected on its host, recorded as
    /// `interrupted` with what was found, and its lock released; a lock a
    /// finished operation left behind is released. Front ends call this
    /// before they act on hosts (status, deploy, rollback, console start)
    /// and show each result's [`Reconciled::message`].
    pub async fn reconcile(&self, services: Option<&[String]>) -> Vec<Reconciled> {
        let (Ok(templates), Ok(audit)) = (self.templates(), self.audit()) else {
            return Vec::new();
        };
        let Ok(ops) = self.history(None) else {
            return Vec::new();
        };
        let scope = super::reconcile::Scope {
            pool: &self.core.pool,
            templates,
            vars: &self.core.vars,
            audit,
            manifest: &self.core.manifest,
        };
        super::reconcile::reconcile(&scope, &ops, services).await
    }

    /// Each enabled service's host lock, as it is now (nothing changed).
    pub async fn locks(&self) -> BTreeMap<String, Result<LockState, String>> {
        let dir = lock_dir_in(&self.core.vars).to_string();
        let mut set = tokio::task::JoinSet::new();
        for svc in self.core.manifest.services.values().filter(|s| s.enable) {
            let (pool, dir, name, ip) = (
                self.core.pool.clone(),
                dir.clone(),
                svc.name.clone(),
                svc.ip.to_string(),
            );
            set.spawn(async move {
                let state = super::lock::peek(&pool, &ip, &dir)
                    .await
                    .map_err(|e| e.to_string());
                (name, state)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(r) = set.join_next().await {
            if let Ok((name, state)) = r {
                out.insert(name, state);
            }
        }
        out
    }

    /// What went wrong in operation `op` besides its outcomes: audit
    /// writes that failed, locks it could not release.
    pub fn trouble(&self, op: u64) -> OpTrouble {
        match self.audit() {
            Ok(a) => OpTrouble {
                audit_errors: a.failures(op),
                locks_left: a.locks_left(op),
            },
            Err(e) => OpTrouble {
                audit_errors: vec![e.to_string()],
                locks_left: Vec::new(),
            },
        }
    }

    /// Ends every ssh master (after the operations are done).
    pub async fn close(&self) {
        self.core.pool.close_all().await;
    }

    fn context(
        &self,
        action: &'static str,
        progress: Reporter,
        cancel: watch::Receiver<bool>,
        break_lock: bool,
        confirm_timeout: Option<u64>,
    ) -> Result<OpContext, FleetError> {
        let (timeouts, configured) = self.timeouts()?;
        Ok(OpContext {
            pool: self.core.pool.clone(),
            templates: self.templates()?.clone(),
            vars: self.core.vars.clone(),
            audit: self.audit()?.clone(),
            action,
            progress,
            cancel,
            break_lock,
            timeouts,
            confirm_timeout: confirm_timeout
                .or(configured)
                .unwrap_or(super::exec::CONFIRM_TIMEOUT_SECS),
            gate: self.core.manifest.gate(),
        })
    }
}

/// Systems built at once while looking for drift.
const DRIFT_BUILDS: usize = 3;

/// Previews that say only why nothing could be looked at.
fn unknown_previews(fleet: &Fleet, plan: &Plan, why: &str) -> Vec<HostPreview> {
    let m = &fleet.core.manifest;
    plan.waves
        .iter()
        .enumerate()
        .flat_map(|(i, w)| w.iter().map(move |n| (i + 1, n)))
        .map(|(wave, n)| HostPreview {
            service: n.clone(),
            host: m
                .services
                .get(n)
                .map_or_else(String::new, |s| s.ip.to_string()),
            wave,
            change: Change::Unknown { why: why.into() },
            reachable: false,
            unreachable: None,
            lock: LockView::Unknown { why: why.into() },
            dependencies: Vec::new(),
            because_of: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::op_context::template_vars;

    fn manifest() -> Manifest {
        let v = serde_json::json!({
            "network": {"dns_server": "192.168.99.1", "gateway": "192.168.99.1",
                        "network_cidr": "192.168.99.0/24", "domain": "lab.test", "vlan_tag": 99},
            "core_services": {
                "dns": {"ip": "192.168.99.10", "hostname": "dns-host", "depends_on": [],
                        "interface": {"health": {"startup": "true", "liveness": "true",
                            "interval": 5, "timeout": 2, "retries": 3}}}
            },
            "services": {
                "web": {"ip": "192.168.99.20", "hostname": "web-host", "depends_on": ["dns"],
                        "interface": {"health": {"startup": "true", "liveness": "true",
                            "interval": 5, "timeout": 2, "retries": 3}}},
                "off": {"enable": false, "ip": "192.168.99.30", "hostname": "off-host",
                        "depends_on": [], "interface": {}}
            }
        });
        crate::manifest::validate(&v)
            .manifest
            .expect("the test manifest is valid")
    }

    #[test]
    fn every_template_gets_the_same_placeholders() {
        let m = manifest();
        let config = Config {
            vars: [("lock_dir".to_string(), "/elsewhere".to_string())].into(),
            ..Config::default()
        };
        let base = base_vars(Path::new("/srv/nixos/manifest.nix"), &m, &config);
        assert_eq!(base["lock_dir"], "/elsewhere", "the config's vars win");
        assert_eq!(base["flake"], "/srv/nixos");
        let web = &m.services["web"];
        let vars = template_vars(&base, web, "192.168.99.20", &[("generation", "3")]);
        let t: Vec<String> = ["x {hostname} {name} {ip} {generation} {profile} {domain}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            super::super::exec::render(&t, &vars).unwrap(),
            vec!["x web-host web 192.168.99.20 3 /nix/var/nix/profiles/system lab.test"]
        );
        // A per-call value wins over a base one of the same name.
        let vars = template_vars(&base, web, "ip", &[("profile", "/p")]);
        assert_eq!(vars.iter().find(|(k, _)| *k == "profile").unwrap().1, "/p");
    }

    #[test]
    fn selection_refuses_unknown_and_disabled_and_plans_waves() {
        let m = manifest();
        let dir = std::env::temp_dir().join(format!("nmx-fleet-unit-{}", std::process::id()));
        let config = Config {
            ssh: SshSettings {
                control_dir: Some(dir.clone()),
                ..SshSettings::default()
            },
            ..Config::default()
        };
        let fleet = Fleet::open(m, Path::new("m.nix"), config).unwrap();
        assert_eq!(
            fleet.select(&["nope".into()], false),
            Err(PlanError::Unknown("nope".into()))
        );
        assert_eq!(
            fleet.select(&["off".into()], false),
            Err(PlanError::Disabled("off".into()))
        );
        let all = fleet.select(&[], false).unwrap();
        assert_eq!(
            fleet.plan(&all).unwrap().waves,
            vec![vec!["dns".to_string()], vec!["web".to_string()]]
        );
        let with = fleet.select(&["dns".into()], true).unwrap();
        assert_eq!(fleet.plan(&with).unwrap().hosts(), 2);
        assert!(matches!(
            fleet.service("nope"),
            Err(FleetError::UnknownService { known, .. }) if known == "dns, off, web"
        ));
        drop(fleet);
        let _ = std::fs::remove_dir_all(dir);
    }
}
