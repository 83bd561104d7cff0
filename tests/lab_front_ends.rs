//! The CLI and the console are front ends over one operations core
//! (`backend::fleet::Fleet`): the same lab scenario driven through each
//! must end in the same typed outcomes. Once through the real binary
//! (`nixmox deploy|rollback --json --yes`, JSON parsed), once through
//! `Fleet` directly the way the console drives it (a non-blocking start,
//! `HostDone` events collected from the stream), each on a fresh lab.
//!
//! The `Fleet` side must talk to the lab's hosts, so it runs inside the
//! lab's world: this test binary re-runs itself there (`nixmox lab exec`)
//! with only `fleet_front_end` selected and the scenario step in
//! `NIXMOX_TEST_FLEET_STEP`; that test prints the outcomes as one JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use nixmox::backend::fleet::{DeployOptions, Fleet, RollbackRequest};
use nixmox::backend::outcome::Outcome;
use nixmox::backend::progress::{OpEventKind, Reporter};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const STEP_VAR: &str = "NIXMOX_TEST_FLEET_STEP";
const MARK: &str = "FLEET-OUTCOMES ";

fn full() -> std::path::PathBuf {
    repo().join("nixos/service-manifest.nix")
}

/// What the scenario does to its lab; both front ends get exactly this.
struct Scenario {
    broken: String,
    dependents: Vec<String>,
    leaf: String,
}

impl Scenario {
    fn of(manifest: &std::path::Path) -> Self {
        let value = nixmox::manifest::load_value(manifest).unwrap();
        let m = nixmox::manifest::validate(&value).manifest.unwrap();
        let g = nixmox::manifest::DepGraph::from_manifest(&m);
        let broken = "prometheus".to_string();
        let dependents: Vec<String> = g.dependents(&broken).unwrap().into_iter().collect();
        assert!(!dependents.is_empty());
        let needs = g.dependencies(&broken).unwrap();
        let leaf = manifest_services(manifest)
            .into_iter()
            .map(|s| s.name)
            .find(|n| {
                *n != broken
                    && !dependents.contains(n)
                    && !needs.contains(n)
                    && g.required_by(n).is_empty()
            })
            .expect("an unrelated leaf service");
        Scenario {
            broken,
            dependents,
            leaf,
        }
    }
}

/// The part of an outcome both front ends must agree on: its kind and
/// every generation and health fact (not timings or probe output).
fn essence(v: &Value) -> Value {
    let keys = [
        "result",
        "step",
        "generation",
        "generation_before",
        "generation_after",
        "to_generation",
        "healthy_again",
        "profile_generation",
        "because",
    ];
    let mut out = serde_json::Map::new();
    for k in keys {
        if let Some(x) = v.get(k) {
            out.insert(k.to_string(), x.clone());
        }
    }
    Value::Object(out)
}

/// service → essence, from `nixmox ... --json` output.
fn from_cli(stdout: &[u8]) -> BTreeMap<String, Value> {
    let v: Value = serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(stdout)));
    v.as_array()
        .expect("an array of host results")
        .iter()
        .map(|r| (r["service"].as_str().unwrap().to_string(), essence(r)))
        .collect()
}

/// What one run of the scenario produced: per step, service → essence,
/// and where each involved host ended.
#[derive(Debug, PartialEq)]
struct Observed {
    deploy: BTreeMap<String, Value>,
    rollback: BTreeMap<String, Value>,
    refusal: String,
    generations: BTreeMap<String, u64>,
}

enum Via {
    Cli,
    Fleet,
}

fn run_scenario(lab: &Lab, s: &Scenario, via: Via) -> Observed {
    lab.fault("break", &s.broken);
    let cfg = lab.config_with("v2", |_| {});
    let plain = lab.dir.join("nixmox.json").to_str().unwrap().to_string();
    let (deploy, rollback, refusal) = match via {
        Via::Cli => {
            let out = lab.exec(&[
                "nixmox",
                "--config",
                &cfg,
                "deploy",
                &s.broken,
                &s.leaf,
                "--with-dependents",
                "--yes",
                "--json",
            ]);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            let deploy = from_cli(&out.stdout);
            let out = lab.exec(&["nixmox", "rollback", &s.leaf, "--yes", "--json"]);
            assert!(out.status.success(), "{}", text(&out));
            let rollback = from_cli(&out.stdout);
            let out = lab.exec(&["nixmox", "rollback", &s.broken, "--yes", "--json"]);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            assert!(out.stdout.is_empty(), "a refusal prints no results");
            let refusal = stderr(&out)
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or_else(|| panic!("no error line: {}", text(&out)))
                .to_string();
            (deploy, rollback, refusal)
        }
        Via::Fleet => {
            let step = |spec: Value| -> Value {
                let exe = std::env::current_exe().unwrap();
                let out = lab
                    .exec_cmd(&[
                        exe.to_str().unwrap(),
                        "--exact",
                        "fleet_front_end",
                        "--ignored",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(STEP_VAR, spec.to_string())
                    .stdin(std::process::Stdio::null())
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", text(&out));
                let line = stdout(&out)
                    .lines()
                    // libtest may have begun the line with the test's name.
                    .find_map(|l| l.split_once(MARK).map(|(_, j)| j.to_string()))
                    .unwrap_or_else(|| panic!("no outcomes printed: {}", text(&out)));
                serde_json::from_str(&line).unwrap()
            };
            let essences = |v: &Value| -> BTreeMap<String, Value> {
                v.as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, o)| (k.clone(), essence(o)))
                    .collect()
            };
            let deploy = step(json!({
                "op": "deploy", "config": cfg,
                "services": [s.broken, s.leaf], "with_dependents": true,
            }));
            let rollback = step(json!({"op": "rollback", "config": plain, "service": s.leaf}));
            let refused = step(json!({"op": "rollback", "config": plain, "service": s.broken}));
            (
                essences(&deploy),
                essences(&rollback),
                refused["refused"].as_str().unwrap().to_string(),
            )
        }
    };
    let mut generations = BTreeMap::new();
    for name in [&s.broken, &s.leaf].into_iter().chain(&s.dependents) {
        generations.insert(name.clone(), lab.current_generation(name));
    }
    Observed {
        deploy,
        rollback,
        refusal,
        generations,
    }
}

#[test]
fn cli_and_console_front_ends_end_in_the_same_typed_outcomes() {
    let s = Scenario::of(&full());
    // A fresh lab each, so both start from the same hosts.
    let observed: Vec<Observed> = [("fe-cli", Via::Cli), ("fe-fleet", Via::Fleet)]
        .into_iter()
        .map(|(name, via)| run_scenario(&Lab::up(name, &full()), &s, via))
        .collect();
    let cli = &observed[0];
    // What the scenario must do, so agreement is not agreement on nonsense.
    assert_eq!(
        cli.deploy[&s.broken],
        json!({"result": "rolled-back", "to_generation": 1, "healthy_again": true}),
        "{:#?}",
        cli.deploy
    );
    assert_eq!(
        cli.deploy[&s.leaf],
        json!({"result": "deployed", "generation_before": 1, "generation_after": 2})
    );
    for d in &s.dependents {
        let r = &cli.deploy[d];
        assert_eq!(r["result"], "skipped", "{d}: {r}");
        let because = r["because"].as_array().unwrap();
        assert!(because.contains(&json!(s.broken)), "{d}: {r}");
    }
    assert_eq!(cli.deploy.len(), 2 + s.dependents.len());
    assert_eq!(
        cli.rollback,
        BTreeMap::from([(
            s.leaf.clone(),
            json!({"result": "rolled-back", "to_generation": 1, "healthy_again": true})
        )])
    );
    assert!(
        cli.refusal.contains("is the oldest there is"),
        "{}",
        cli.refusal
    );
    assert_eq!(cli.generations[&s.leaf], 1);
    assert_eq!(cli.generations[&s.broken], 1);
    // And the console's way through the core ends exactly the same.
    assert_eq!(observed[1], observed[0]);
}

/// One scenario step through `Fleet`, as the console drives it; run inside
/// the lab's world by the test above (does nothing anywhere else).
#[test]
#[ignore = "runs inside a lab world, started by cli_and_console_front_ends_end_in_the_same_typed_outcomes"]
fn fleet_front_end() {
    let Ok(spec) = std::env::var(STEP_VAR) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let manifest_path = std::path::PathBuf::from(std::env::var("NIXMOX_MANIFEST").unwrap());
    let valid = nixmox::manifest::load_valid(&manifest_path).expect("a valid manifest");
    let config =
        nixmox::config::Config::load(std::path::Path::new(spec["config"].as_str().unwrap()))
            .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let fleet = Fleet::open(valid.manifest, &manifest_path, config).unwrap();
        fleet.ready().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let progress = Reporter::new(7, tx);
        let handle = match spec["op"].as_str().unwrap() {
            "deploy" => {
                let names: Vec<String> = serde_json::from_value(spec["services"].clone()).unwrap();
                let with_dependents = spec["with_dependents"].as_bool().unwrap();
                let selection = fleet.select(&names, with_dependents).unwrap();
                let plan = fleet.plan(&selection).unwrap();
                fleet
                    .deploy(plan, DeployOptions::default(), progress)
                    .unwrap()
            }
            _ => {
                let service = spec["service"].as_str().unwrap().to_string();
                let (from, to) = match fleet.rollback_target(&service, None).await {
                    Ok(x) => x,
                    Err(refused) => {
                        fleet.close().await;
                        println!("{MARK}{}", json!({ "refused": refused }));
                        return;
                    }
                };
                let request = RollbackRequest {
                    service,
                    from,
                    to,
                    break_lock: false,
                };
                fleet.rollback(request, progress).unwrap()
            }
        };
        // The console's view: the event stream, until the operation ends.
        let mut done: BTreeMap<String, Outcome> = BTreeMap::new();
        let mut finished = 0;
        while let Some(ev) = rx.recv().await {
            assert_eq!(ev.id, 7, "every event carries the operation's id");
            match ev.kind {
                OpEventKind::HostDone { service, outcome } => {
                    let again = done.insert(service.clone(), outcome);
                    assert!(again.is_none(), "{service}: more than one HostDone");
                }
                OpEventKind::Finished { .. } => finished += 1,
                _ => {}
            }
        }
        assert_eq!(finished, 1, "exactly one Finished");
        // The handle's results are the same outcomes the stream carried.
        let results = handle.wait().await.unwrap();
        assert_eq!(results.len(), done.len());
        for r in &results {
            assert_eq!(done.get(&r.service), Some(&r.outcome), "{}", r.service);
        }
        fleet.close().await;
        println!("{MARK}{}", serde_json::to_string(&done).unwrap());
    });
}
