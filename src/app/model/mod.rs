//! The domain model: what is true about the fleet of hosts, whatever the screen
//! shows. The manifest and its graph, each service's health, the generation
//! each host runs, the last deploy of each service, what nixos/lib generates
//! for it (its preview) and the operations this console runs. No pane or
//! popup state lives here; `update` changes it from events.

pub mod health;
pub mod history;
pub mod operation;

use self::health::HealthBoard;
use self::history::LastDeploy;
use self::operation::Operation;
use crate::backend::deploy_preview::Change;
use crate::backend::generations::Generation;
use crate::manifest::{DepGraph, Manifest};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

pub struct Model {
    pub manifest: Arc<Manifest>,
    pub manifest_path: String,
    /// Why the manifest on disk is not the one shown (it changed and does
    /// not validate); `None` while they agree.
    pub manifest_error: Option<String>,
    pub graph: DepGraph,
    /// The enabled services, in manifest order.
    pub services: Vec<String>,
    pub health: HealthBoard,
    /// The generation each host runs now (listed at start and after operations).
    pub generations: HashMap<String, Generation>,
    /// The last deploy or rollback of each service.
    pub last_deploy: HashMap<String, LastDeploy>,
    /// What nixos/lib generates, per service, rendered (evaluated on first
    /// selection; a pending evaluation is an `Err` saying so).
    pub previews: HashMap<String, Result<String, String>>,
    /// Hosts whose deploy lock refused this console's last operation, by
    /// service: the refusal (holder, and whether it is STALE).
    pub locks: HashMap<String, String>,
    /// Drift: what each host runs against what the manifest now builds
    /// (looked at in the background; empty until the first look ends).
    pub drift: HashMap<String, Change>,
    /// The config turned the look for drift off (`[console] drift = false`).
    pub drift_off: bool,
    /// Every operation this console started, oldest first.
    pub operations: Vec<Operation>,
    /// The last operation id handed out (allocated here so a screen can
    /// follow the operation it started).
    pub last_op: u64,
}

impl Model {
    pub fn new(manifest: Arc<Manifest>, manifest_path: String, health: HealthBoard) -> Self {
        let graph = DepGraph::from_manifest(&manifest);
        let services = manifest
            .services
            .values()
            .filter(|s| s.enable)
            .map(|s| s.name.clone())
            .collect();
        Self {
            manifest,
            manifest_path,
            manifest_error: None,
            graph,
            services,
            health,
            generations: HashMap::new(),
            last_deploy: HashMap::new(),
            previews: HashMap::new(),
            locks: HashMap::new(),
            drift: HashMap::new(),
            drift_off: false,
            operations: Vec::new(),
            // Ids start at the clock, as the CLI's do: the audit log keeps
            // operations of every run apart by id.
            last_op: SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }

    /// The services whose hosts run something else than the manifest
    /// builds, in manifest order.
    pub fn outdated(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|s| self.is_outdated(s))
            .cloned()
            .collect()
    }

    /// Its host runs something else than the manifest builds.
    pub fn is_outdated(&self, service: &str) -> bool {
        matches!(self.drift.get(service), Some(Change::Changed { .. }))
    }

    /// Follows a new (valid) manifest: its graph and services; health rows
    /// of services still on the same host keep what is known about them.
    /// Previews are evaluated again (what nixos/lib generates may differ).
    pub fn reload(&mut self, manifest: Arc<Manifest>) {
        let targets = crate::backend::health::Target::from_manifest(&manifest);
        let mut health = HealthBoard::new(&targets);
        for (name, row) in health.rows.iter_mut() {
            if let Some(old) = self.health.rows.remove(name).filter(|o| o.host == row.host) {
                let retries = row.retries;
                *row = old;
                row.retries = retries;
            }
        }
        self.health = health;
        self.graph = DepGraph::from_manifest(&manifest);
        self.services = manifest
            .services
            .values()
            .filter(|s| s.enable)
            .map(|s| s.name.clone())
            .collect();
        self.manifest = manifest;
        self.previews.clear();
        self.manifest_error = None;
    }

    pub fn next_op(&mut self) -> u64 {
        self.last_op += 1;
        self.last_op
    }

    pub fn operation(&self, id: u64) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }

    pub fn running_ops(&self) -> usize {
        self.operations.iter().filter(|o| o.running()).count()
    }
}
