//! What a deploy would do, per planned host, before anything is asked or
//! touched: whether the freshly built system differs from what the host
//! runs, whether the host answers, whether another operation holds its
//! lock, and whether what it depends on is healthy. The CLI and the console
//! show the same [`HostPreview`]s ("preview" alone means what nixos/lib
//! generates, elsewhere). Nothing here changes a host.

use super::health::ServiceState;
use super::lock::LockState;
use super::op_context::{lock_dir_in, OpContext};
use crate::manifest::{DepGraph, Manifest, Service};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The built system against the running one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Change {
    Changed {
        built: String,
        running: String,
    },
    Unchanged {
        path: String,
    },
    /// It could not be told (the build failed, the host did not answer):
    /// a deploy treats it as changed and meets the problem itself.
    Unknown {
        why: String,
    },
}

/// The host's deploy lock as seen now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum LockView {
    Free,
    Held {
        holder: String,
        age_secs: u64,
        stale: bool,
    },
    /// The lock path holds something that is not a nixmox lock.
    Foreign {
        why: String,
    },
    Unknown {
        why: String,
    },
}

impl From<Result<LockState, String>> for LockView {
    fn from(state: Result<LockState, String>) -> Self {
        match state {
            Ok(LockState::Free) => LockView::Free,
            Ok(LockState::Held {
                holder,
                age_secs,
                stale,
            }) => LockView::Held {
                holder: holder.describe(),
                age_secs,
                stale,
            },
            Ok(LockState::Foreign(why)) => LockView::Foreign { why },
            Err(why) => LockView::Unknown { why },
        }
    }
}

/// One direct dependency's health: `None` when it has no health check or
/// it is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependencyHealth {
    pub service: String,
    pub healthy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostPreview {
    pub service: String,
    pub host: String,
    /// 1-based, as the plan shows it.
    pub wave: usize,
    pub change: Change,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    pub lock: LockView,
    pub dependencies: Vec<DependencyHealth>,
    /// Changed services of the plan this one depends on: it comes along
    /// as their dependent even when its own system is unchanged.
    pub because_of: Vec<String>,
}

impl HostPreview {
    /// A host that answered, unlocked, with `change`; its wave and
    /// dependencies not looked at yet.
    pub fn new(service: &str, host: &str, change: Change) -> Self {
        HostPreview {
            service: service.into(),
            host: host.into(),
            wave: 1,
            change,
            reachable: true,
            unreachable: None,
            lock: LockView::Free,
            dependencies: Vec::new(),
            because_of: Vec::new(),
        }
    }

    /// Its own system differs from what runs (or that is unknown).
    pub fn changed(&self) -> bool {
        !matches!(self.change, Change::Unchanged { .. })
    }

    /// Nothing to deploy here: unchanged, and nothing it depends on in the
    /// plan changes either.
    pub fn skippable(&self) -> bool {
        !self.changed() && self.because_of.is_empty()
    }

    /// What the operator should know before saying yes, one line each.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let who = format!("{} ({})", self.service, self.host);
        if let Some(why) = &self.unreachable {
            out.push(format!("{who} is unreachable: {why}"));
        }
        match &self.lock {
            LockView::Held {
                holder,
                age_secs,
                stale,
            } => out.push(format!(
                "{who} is locked by {holder} ({age_secs} s ago{})",
                if *stale { ", STALE" } else { "" }
            )),
            LockView::Foreign { why } => {
                out.push(format!("{who}: lock path is not a nixmox lock: {why}"))
            }
            LockView::Free | LockView::Unknown { .. } => {}
        }
        if let (Change::Unknown { why }, true) = (&self.change, self.reachable) {
            out.push(format!("{who}: cannot tell whether it changed: {why}"));
        }
        for d in &self.dependencies {
            if d.healthy == Some(false) {
                out.push(format!(
                    "{who} depends on {}, which is unhealthy{}",
                    d.service,
                    d.detail
                        .as_ref()
                        .map_or(String::new(), |w| format!(": {w}"))
                ));
            }
        }
        out
    }
}

/// The hosts a deploy goes to after its preview: all of them when forced,
/// else those that changed or come along as dependents of a change. The
/// CLI and the console decide with this, so both skip the same hosts.
pub fn to_deploy(previews: &[HostPreview], force: bool) -> BTreeSet<String> {
    previews
        .iter()
        .filter(|p| force || !p.skippable())
        .map(|p| p.service.clone())
        .collect()
}

impl HostPreview {
    /// What a deploy does with this host, in words both front ends show.
    pub fn change_text(&self, force: bool) -> String {
        match &self.change {
            Change::Changed { .. } => "changed".to_string(),
            Change::Unknown { .. } => "change unknown".to_string(),
            Change::Unchanged { .. } if !self.because_of.is_empty() => format!(
                "unchanged, comes along as a dependent of {}",
                self.because_of.join(", ")
            ),
            Change::Unchanged { .. } if force => "unchanged, forced".to_string(),
            Change::Unchanged { .. } => "unchanged, skipped".to_string(),
        }
    }

    pub fn lock_text(&self) -> &'static str {
        match &self.lock {
            LockView::Free => "free",
            LockView::Held { stale: true, .. } => "LOCKED (stale)",
            LockView::Held { .. } => "LOCKED",
            LockView::Foreign { .. } => "foreign",
            LockView::Unknown { .. } => "?",
        }
    }

    /// `ok`, or the unhealthy direct dependencies.
    pub fn dependencies_text(&self) -> String {
        let unhealthy: Vec<&str> = self
            .dependencies
            .iter()
            .filter(|d| d.healthy == Some(false))
            .map(|d| d.service.as_str())
            .collect();
        if unhealthy.is_empty() {
            "ok".to_string()
        } else {
            format!("DOWN: {}", unhealthy.join(", "))
        }
    }
}

/// Builds the preview of `waves`. `known` is health the caller already
/// has (a console's board); other dependencies get one startup probe.
pub(super) async fn preview(
    ctx: Arc<OpContext>,
    manifest: &Manifest,
    graph: &DepGraph,
    waves: &[Vec<String>],
    known: &BTreeMap<String, ServiceState>,
) -> Vec<HostPreview> {
    let planned: Vec<(usize, Service)> = waves
        .iter()
        .enumerate()
        .flat_map(|(i, w)| w.iter().map(move |n| (i + 1, n)))
        .filter_map(|(i, n)| manifest.services.get(n).map(|s| (i, s.clone())))
        .collect();
    let deps: BTreeSet<String> = planned
        .iter()
        .flat_map(|(_, s)| s.depends_on.iter().cloned())
        .collect();
    let mut hosts = tokio::task::JoinSet::new();
    for (wave, svc) in planned.iter().cloned() {
        let ctx = ctx.clone();
        hosts.spawn(async move { (wave, look_at_host(&ctx, &svc).await) });
    }
    let mut health = tokio::task::JoinSet::new();
    for name in deps {
        let Some(svc) = manifest.services.get(&name).cloned() else {
            continue;
        };
        let seen = known.get(&name).copied();
        let pool = ctx.pool.clone();
        health.spawn(async move { dependency_health(&pool, &svc, seen).await });
    }
    let mut looked = BTreeMap::new();
    while let Some(Ok((wave, p))) = hosts.join_next().await {
        looked.insert(p.service.clone(), (wave, p));
    }
    let mut healths = BTreeMap::new();
    while let Some(Ok(h)) = health.join_next().await {
        healths.insert(h.service.clone(), h);
    }
    let changed: BTreeSet<&String> = looked
        .values()
        .filter(|(_, p)| p.changed())
        .map(|(_, p)| &p.service)
        .collect();
    // In plan order, so front ends can print them as they come.
    let mut out = Vec::new();
    for (_, svc) in &planned {
        let Some((wave, mut p)) = looked.get(&svc.name).cloned() else {
            continue;
        };
        p.wave = wave;
        p.dependencies = svc
            .depends_on
            .iter()
            .filter_map(|d| healths.get(d).cloned())
            .collect();
        p.because_of = graph
            .dependencies(&svc.name)
            .unwrap_or_default()
            .into_iter()
            .filter(|d| changed.contains(d))
            .collect();
        out.push(p);
    }
    out
}

/// Reachability, lock and change of one host (no dependencies yet).
async fn look_at_host(ctx: &OpContext, svc: &Service) -> HostPreview {
    let host = svc.ip.to_string();
    let mut p = HostPreview {
        service: svc.name.clone(),
        host: host.clone(),
        wave: 0,
        change: Change::Unknown {
            why: "not looked at".into(),
        },
        reachable: false,
        unreachable: None,
        lock: LockView::Unknown {
            why: "not looked at".into(),
        },
        dependencies: Vec::new(),
        because_of: Vec::new(),
    };
    if let Err(e) = ctx.pool.session(&host).await {
        let why = e.to_string();
        p.change = Change::Unknown { why: why.clone() };
        p.lock = LockView::Unknown { why: why.clone() };
        p.unreachable = Some(why);
        return p;
    }
    p.reachable = true;
    let lock = super::lock::peek(&ctx.pool, &host, lock_dir_in(&ctx.vars))
        .await
        .map_err(|e| e.to_string());
    p.lock = lock.into();
    p.change = change_of(ctx, svc).await;
    p
}

/// Builds `svc`'s system and compares it with what its host runs.
async fn change_of(ctx: &OpContext, svc: &Service) -> Change {
    match super::deploy::built_and_running(ctx, svc).await {
        Ok((built, running)) if built == running => Change::Unchanged { path: built },
        Ok((built, running)) => Change::Changed { built, running },
        Err(why) => Change::Unknown { why },
    }
}

/// Drift: for each of `services`, what its host runs against what the
/// manifest now builds, with at most `parallel` builds at once (each is a
/// Nix evaluation; all at once would starve the probes). Changes nothing.
pub(super) async fn drift(
    ctx: Arc<OpContext>,
    services: Vec<Service>,
    parallel: usize,
) -> BTreeMap<String, Change> {
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut looks = tokio::task::JoinSet::new();
    for svc in services {
        let (ctx, permits) = (ctx.clone(), permits.clone());
        looks.spawn(async move {
            let change = match permits.acquire_owned().await {
                Ok(_permit) => change_of(&ctx, &svc).await,
                Err(_) => Change::Unknown {
                    why: "stopped".into(),
                },
            };
            (svc.name, change)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = looks.join_next().await {
        if let Ok((name, change)) = joined {
            out.insert(name, change);
        }
    }
    out
}

/// `seen` when the caller knows it; otherwise one startup probe.
async fn dependency_health(
    pool: &super::ssh::SshPool,
    svc: &Service,
    seen: Option<ServiceState>,
) -> DependencyHealth {
    let mut d = DependencyHealth {
        service: svc.name.clone(),
        healthy: None,
        detail: None,
    };
    match seen {
        Some(ServiceState::Up) => d.healthy = Some(true),
        Some(s @ (ServiceState::Down | ServiceState::Failing | ServiceState::Unreachable)) => {
            d.healthy = Some(false);
            d.detail = Some(s.as_str().to_string());
        }
        Some(ServiceState::Unknown | ServiceState::Starting) | None => {
            let Some(h) = &svc.interface.health else {
                return d;
            };
            let ip = svc.ip.to_string();
            match super::health::run_probe(pool, &ip, h.timeout, &h.startup).await {
                Ok(o) if o.success() => d.healthy = Some(true),
                Ok(o) => {
                    d.healthy = Some(false);
                    d.detail = Some(format!(
                        "startup probe failed: {}",
                        o.tail().last().cloned().unwrap_or_default()
                    ));
                }
                Err(e) => {
                    d.healthy = Some(false);
                    d.detail = Some(e.to_string());
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(change: Change) -> HostPreview {
        HostPreview::new("caddy", "10.0.0.2", change)
    }

    #[test]
    fn only_an_unchanged_host_nothing_drags_along_is_skippable() {
        let same = host(Change::Unchanged {
            path: "/nix/store/a".into(),
        });
        assert!(same.skippable() && same.warnings().is_empty());
        let mut along = same.clone();
        along.because_of = vec!["postgresql".into()];
        assert!(!along.skippable());
        let unknown = host(Change::Unknown {
            why: "build failed".into(),
        });
        assert!(unknown.changed() && !unknown.skippable());
        assert_eq!(unknown.warnings().len(), 1);
    }

    #[test]
    fn a_lock_an_unreachable_host_and_a_down_dependency_are_warned_about() {
        let mut p = host(Change::Changed {
            built: "/nix/store/b".into(),
            running: "/nix/store/a".into(),
        });
        p.lock = LockView::Held {
            holder: "alice@admin2 (op 7, deploy caddy)".into(),
            age_secs: 3,
            stale: false,
        };
        p.dependencies = vec![DependencyHealth {
            service: "authentik".into(),
            healthy: Some(false),
            detail: Some("down".into()),
        }];
        let w = p.warnings();
        assert!(w[0].contains("locked by alice@admin2"), "{w:?}");
        assert!(
            w[1].contains("depends on authentik, which is unhealthy: down"),
            "{w:?}"
        );
        p.reachable = false;
        p.unreachable = Some("connection refused".into());
        assert!(p.warnings()[0].contains("unreachable: connection refused"));
        let json = serde_json::to_value(&p).unwrap_or_default();
        assert_eq!(json["change"]["state"], "changed");
        assert_eq!(json["lock"]["state"], "held");
    }
}
