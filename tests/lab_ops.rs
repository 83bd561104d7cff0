//! Health and operations against real lab hosts (real sshd, real Nix
//! generations, real service processes), through the real binary, the way
//! an operator runs it: `nixmox lab exec --dir D -- nixmox ...`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn full() -> std::path::PathBuf {
    repo().join("nixos/service-manifest.nix")
}

/// `status --once --json` as a map service → (state, error, impacted_by).
fn status(lab: &Lab) -> (i32, BTreeMap<String, Value>) {
    let out = lab.exec(&["nixmox", "status", "--once", "--json"]);
    let rows = json_of(&out);
    let map = rows
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| (r["service"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    (out.status.code().unwrap_or(-1), map)
}

fn state_of(rows: &BTreeMap<String, Value>, s: &str) -> String {
    rows[s]["state"].as_str().unwrap_or("?").to_string()
}

fn services(lab: &Lab) -> Vec<nixmox::manifest::Service> {
    manifest_services(&lab.manifest)
}

fn graph(lab: &Lab) -> nixmox::manifest::DepGraph {
    let value = nixmox::manifest::load_value(&lab.manifest).unwrap();
    let m = nixmox::manifest::validate(&value).manifest.unwrap();
    nixmox::manifest::DepGraph::from_manifest(&m)
}

fn ip_of(lab: &Lab, s: &str) -> String {
    services(lab)
        .into_iter()
        .find(|x| x.name == s)
        .unwrap()
        .ip
        .to_string()
}

/// The generations of `service` as `nixmox generations --json` reports them.
fn generations(lab: &Lab, service: &str) -> Vec<(u64, bool)> {
    let out = lab.exec(&["nixmox", "generations", service, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["generation"].as_u64().unwrap(),
                g["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Where the lab keeps each host's deploy lock (the lab's `lock_dir`).
const LOCK: &str = "/nix/var/nix/profiles/.nixmox.lock";

fn audit(lab: &Lab) -> Vec<Value> {
    std::fs::read_to_string(lab.dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every audit line is JSON"))
        .collect()
}

// ---------------- health (status) ----------------

#[test]
fn status_every_service_up_with_one_master_per_host() {
    let lab = Lab::up("st-up", &full());
    let (code, rows) = status(&lab);
    assert_eq!(rows.len(), services(&lab).len());
    for (s, r) in &rows {
        assert_eq!(r["state"], "up", "{s}: {r}");
        assert!(
            r["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
            "{s}: {r}"
        );
    }
    assert_eq!(code, 0);

    // A live console: count the ssh masters while it probes.
    let mut watch = lab
        .exec_cmd(&["nixmox", "status", "--watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut watch);
    // Count once every service is up, so every master is open.
    let all_up = "\"state\":\"up\"";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the live console reports every service up");
        if line.matches(all_up).count() == rows.len() {
            break;
        }
    }
    let control = {
        let cfg: Value =
            serde_json::from_str(&std::fs::read_to_string(lab.dir.join("nixmox.json")).unwrap())
                .unwrap();
        cfg["ssh"]["control_dir"].as_str().unwrap().to_string()
    };
    let masters: Vec<Vec<String>> = proc_pids()
        .into_iter()
        .filter(|p| !zombie(*p))
        .map(cmdline)
        .filter(|c| {
            c.first().is_some_and(|a| a == "ssh")
                && c.iter().any(|a| a == "-M")
                && c.iter().any(|a| a.contains(&control))
        })
        .collect();
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(
        masters.len(),
        rows.len(),
        "one ssh master per host: {masters:#?}"
    );
}

#[test]
fn kill_service_goes_down_flags_dependents_and_recovers() {
    let lab = Lab::up("st-kill", &full());
    let g = graph(&lab);
    let victim = "authentik";
    let dependents = g.dependents(victim).unwrap();
    assert!(!dependents.is_empty());
    lab.fault("kill-service", victim);
    let (code, rows) = status(&lab);
    assert_eq!(code, 3, "not all up: exit 3");
    assert_eq!(state_of(&rows, victim), "down", "{}", rows[victim]);
    assert!(
        rows[victim]["error"]
            .as_str()
            .unwrap()
            .contains("probe failed"),
        "{}",
        rows[victim]
    );
    for (s, r) in &rows {
        if s == victim {
            continue;
        }
        assert_eq!(r["state"], "up", "{s} must stay up: {r}");
        let impacted: Vec<&str> = r["impacted_by"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            impacted.contains(&victim),
            dependents.contains(s),
            "{s}: {r}"
        );
    }
    // Restart it on the host: up again.
    let out = lab.ssh(&ip_of(&lab, victim), &format!("systemctl start {victim}"));
    assert!(out.status.success(), "{}", text(&out));
    let (code, rows) = status(&lab);
    assert_eq!(state_of(&rows, victim), "up");
    assert_eq!(code, 0);
}

#[test]
fn stop_ssh_and_partition_are_unreachable_quickly_and_recover_in_a_running_console() {
    // The full manifest with liveness every 2 s, so the running console
    // notices within the test's patience.
    let mut v = nixmox::manifest::load_value(&full()).unwrap();
    for group in ["core_services", "services"] {
        for (_, svc) in v[group].as_object_mut().unwrap().iter_mut() {
            svc["interface"]["health"]["interval"] = serde_json::json!(2);
        }
    }
    let fast = std::env::temp_dir().join(format!("nmx-fast-manifest-{}.json", std::process::id()));
    std::fs::write(&fast, v.to_string()).unwrap();
    let lab = Lab::up("st-net", &fast);
    let mut watch = lab
        .exec_cmd(&["nixmox", "status", "--watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = watch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<BTreeMap<String, String>>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let Ok(Value::Array(rows)) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let m = rows
                .iter()
                .map(|r| {
                    (
                        r["service"].as_str().unwrap_or("").to_string(),
                        r["state"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            if tx.send(m).is_err() {
                break;
            }
        }
    });
    let wait = |what: &str,
                within: Duration,
                pred: &dyn Fn(&BTreeMap<String, String>) -> bool|
     -> BTreeMap<String, String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(m) if pred(&m) => return m,
                Ok(_) => {}
                Err(_) => panic!("{what}: not within {within:?}"),
            }
        }
    };
    wait("all up", Duration::from_secs(20), &|m| {
        m.values().all(|s| s == "up")
    });

    for (fault, heal, target) in [
        ("stop-ssh", "start-ssh", "grafana"),
        ("partition", "heal", "loki"),
    ] {
        let t = Instant::now();
        lab.fault(fault, target);
        // Next liveness probe within 2 s; then the connect timeout (5 s) or
        // the keepalive (about 3 s) decides.
        let m = wait(
            &format!("{target} unreachable after {fault}"),
            Duration::from_secs(10),
            &|m| m.get(target).is_some_and(|s| s == "unreachable"),
        );
        let took = t.elapsed();
        eprintln!("{fault}: {target} unreachable after {took:?}");
        for (s, st) in &m {
            if s != target {
                assert_eq!(st, "up", "{fault} on {target} must not affect {s}");
            }
        }
        lab.fault(heal, target);
        wait(
            &format!("{target} up after {heal}"),
            Duration::from_secs(20),
            &|m| m.get(target).is_some_and(|s| s == "up"),
        );
    }
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn unreachable_hosts_are_reported_within_the_connect_timeout() {
    let lab = Lab::up("st-fast", &full());
    lab.fault("stop-ssh", "jellyfin");
    lab.fault("partition", "miniflux");
    let t = Instant::now();
    let (code, rows) = status(&lab);
    let took = t.elapsed();
    assert_eq!(code, 3);
    assert_eq!(
        state_of(&rows, "jellyfin"),
        "unreachable",
        "{}",
        rows["jellyfin"]
    );
    assert_eq!(
        state_of(&rows, "miniflux"),
        "unreachable",
        "{}",
        rows["miniflux"]
    );
    assert!(
        rows["jellyfin"]["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{}",
        rows["jellyfin"]
    );
    let others_up = rows
        .iter()
        .filter(|(s, _)| *s != "jellyfin" && *s != "miniflux")
        .all(|(_, r)| r["state"] == "up");
    assert!(others_up, "{rows:#?}");
    // connect timeout 5 s (+2 s bound on the handshake), plus process start.
    assert!(took < Duration::from_secs(9), "one sweep took {took:?}");
}

// ---------------- deploy ----------------

#[test]
fn whole_stack_deploy_makes_new_generations_in_dependency_order() {
    let lab = Lab::up("dep-all", &full());
    let cfg = lab.config_with("v2", |_| {});
    let out = lab.exec(&[
        "nixmox", "--config", &cfg, "deploy", "--all", "--yes", "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let results = json_of(&out);
    let svcs = services(&lab);
    assert_eq!(results.as_array().unwrap().len(), svcs.len());
    for r in results.as_array().unwrap() {
        assert_eq!(r["result"], "deployed", "{r}");
        assert_eq!(r["generation_after"], 2, "{r}");
    }
    for s in &svcs {
        assert_eq!(
            generations(&lab, &s.name),
            vec![(1, false), (2, true)],
            "{}",
            s.name
        );
    }
    // The audit log proves nothing started activating before everything it
    // depends on was healthy.
    let log = audit(&lab);
    let ts = |svc: &str, step: &str, outcome: &str| -> String {
        log.iter()
            .find(|e| e["service"] == svc && e["step"] == step && e["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no audit entry {svc} {step} {outcome}"))["ts"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let g = graph(&lab);
    for s in &svcs {
        let activated = ts(&s.name, "activate", "started");
        for dep in g.depends_on(&s.name) {
            let healthy = ts(&dep, "health", "ok");
            assert!(
                healthy <= activated,
                "{} activated at {activated} before {dep} was healthy at {healthy}",
                s.name
            );
        }
    }
    let (code, _) = status(&lab);
    assert_eq!(code, 0, "everything healthy after the deploy");
}

#[test]
fn a_broken_build_is_rolled_back_its_dependents_skipped_and_others_deploy() {
    let lab = Lab::up("dep-break", &full());
    let g = graph(&lab);
    let broken = "prometheus";
    let dependents = g.dependents(broken).unwrap();
    assert!(!dependents.is_empty());
    let unrelated = services(&lab)
        .into_iter()
        .map(|s| s.name)
        .find(|n| {
            n != broken
                && !dependents.contains(n)
                && !g.dependencies(broken).unwrap().contains(n)
                && g.required_by(n).is_empty()
        })
        .expect("an unrelated leaf service");
    lab.fault("break", broken);
    let cfg = lab.config_with("v2", |_| {});
    let out = lab.exec(&[
        "nixmox",
        "--config",
        &cfg,
        "deploy",
        broken,
        &unrelated,
        "--with-dependents",
        "--yes",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let results: BTreeMap<String, Value> = json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["service"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    assert_eq!(
        results[broken]["result"], "rolled-back",
        "{}",
        results[broken]
    );
    assert_eq!(results[broken]["to_generation"], 1);
    assert_eq!(results[broken]["healthy_again"], true);
    for d in &dependents {
        assert_eq!(results[d]["result"], "skipped", "{d}: {}", results[d]);
        assert!(
            results[d]["reason"].as_str().unwrap().contains(broken),
            "{}",
            results[d]
        );
    }
    assert_eq!(
        results[&unrelated]["result"], "deployed",
        "{}",
        results[&unrelated]
    );
    assert_eq!(
        lab.current_generation(broken),
        1,
        "back on its previous generation"
    );
    assert_eq!(lab.current_generation(&unrelated), 2);
    let err = stderr(&out);
    assert!(
        err.contains("rolled back") && err.contains("skipped"),
        "summary: {err}"
    );
    let (_, rows) = status(&lab);
    assert_eq!(
        state_of(&rows, broken),
        "up",
        "healthy again after the rollback"
    );
    let log = audit(&lab);
    assert!(log
        .iter()
        .any(|e| e["service"] == broken && e["step"] == "rollback" && e["outcome"] == "ok"));
    assert!(log
        .iter()
        .any(|e| e["service"] == broken && e["step"] == "health" && e["outcome"] == "failed"));
    assert!(log
        .iter()
        .any(|e| e["step"] == "plan" && e["outcome"] == "skipped"));
}

#[test]
fn a_host_down_fails_alone_and_keeps_its_generation() {
    let lab = Lab::up("dep-down", &full());
    let cfg = lab.config_with("v2", |_| {});
    let down = "nextcloud";
    lab.fault("stop-ssh", down);
    let out = lab.exec(&[
        "nixmox", "--config", &cfg, "deploy", "--all", "--yes", "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let results: BTreeMap<String, Value> = json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["service"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    assert_eq!(results[down]["result"], "failed", "{}", results[down]);
    assert!(
        results[down]["reason"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{}",
        results[down]
    );
    let g = graph(&lab);
    for (s, r) in &results {
        if s == down {
            continue;
        }
        let expected = if g.dependencies(s).unwrap().contains(down) {
            "skipped"
        } else {
            "deployed"
        };
        assert_eq!(r["result"], expected, "{s}: {r}");
    }
    lab.fault("start-ssh", down);
    assert_eq!(
        generations(&lab, down),
        vec![(1, true)],
        "a whole generation, untouched"
    );
    // No lock left that looks alive: none at all here.
    let out = lab.ssh(&ip_of(&lab, down), &format!("ls {LOCK} 2>&1 || true"));
    assert!(!stdout(&out).contains("holder"), "{}", text(&out));
}

#[test]
fn a_held_lock_is_refused_naming_its_holder_and_a_stale_one_can_be_broken() {
    let lab = Lab::up("dep-lock", &full());
    let ip = ip_of(&lab, "grafana");
    // Another console on another admin box holds grafana.
    let holder = r#"{"user":"alice@admin2","pid":4242,"op":"77","action":"deploy grafana","since":"2026-11-25T19:00:00.000Z"}"#;
    let out = lab.ssh(
        &ip,
        &format!("mkdir {LOCK} && printf '%s' {} > {LOCK}/holder", q(holder)),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = lab.exec(&["nixmox", "deploy", "grafana", "--yes", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("locked by alice@admin2") && err.contains("deploy grafana"),
        "{err}"
    );
    // It goes stale when its holder stops refreshing it.
    let out = lab.ssh(&ip, &format!("touch -d '-120 seconds' {LOCK}/holder"));
    assert!(out.status.success());
    let out = lab.exec(&["nixmox", "deploy", "grafana", "--yes", "--force"]);
    assert!(
        stderr(&out).contains("STALE lock from alice@admin2"),
        "{}",
        text(&out)
    );
    let out = lab.exec(&[
        "nixmox",
        "deploy",
        "grafana",
        "--yes",
        "--force",
        "--break-lock",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = lab.ssh(&ip, &format!("test -e {LOCK} && echo held || echo free"));
    assert_eq!(stdout(&out).trim(), "free", "released after the deploy");
}

#[test]
fn two_deploys_at_once_one_is_refused() {
    let lab = Lab::up("dep-race", &full());
    let cfg = lab.config_with("v2", |_| {});
    let spawn = || {
        lab.exec_cmd(&["nixmox", "--config", &cfg, "deploy", "vaultwarden", "--yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Whoever loses the race is refused with the winner's name; retry a few
    // times in case one finishes before the other even starts.
    for _ in 0..5 {
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let outcomes = [a.status.success(), b.status.success()];
        if outcomes.iter().filter(|ok| **ok).count() == 1 {
            let loser = if a.status.success() { &b } else { &a };
            let err = String::from_utf8_lossy(&loser.stderr);
            assert!(
                err.contains("is locked by") && err.contains("deploy vaultwarden"),
                "{err}"
            );
            return;
        }
    }
    panic!("never saw two overlapping deploys");
}

#[test]
fn rollback_to_previous_and_named_generation_and_refusal_at_the_oldest() {
    let lab = Lab::up("rb", &full());
    let svc = "grafana";
    let out = lab.exec(&["nixmox", "rollback", svc, "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is the oldest there is"),
        "{}",
        text(&out)
    );
    for salt in ["v2", "v3"] {
        let cfg = lab.config_with(salt, |_| {});
        let out = lab.exec(&["nixmox", "--config", &cfg, "deploy", svc, "--yes"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(lab.current_generation(svc), 3);
    let out = lab.exec(&["nixmox", "rollback", svc, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lab.current_generation(svc), 2, "previous");
    let out = lab.exec(&["nixmox", "rollback", svc, "--to", "1", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lab.current_generation(svc), 1, "named");
    let out = lab.exec(&["nixmox", "rollback", svc, "--to", "9", "--yes"]);
    assert!(
        stderr(&out).contains("generation 9 does not exist (have: 1, 2, 3)"),
        "{}",
        text(&out)
    );
    let (_, rows) = status(&lab);
    assert_eq!(state_of(&rows, svc), "up");
    let log = audit(&lab);
    assert!(
        log.iter()
            .filter(|e| e["action"] == "rollback" && e["step"] == "health" && e["outcome"] == "ok")
            .count()
            >= 2
    );
}

#[test]
fn a_switch_that_exits_non_zero_is_never_a_success() {
    let lab = Lab::up("rb-fail", &full());
    let svc = "grafana";
    let cfg = lab.config_with("v2", |_| {});
    let out = lab.exec(&["nixmox", "--config", &cfg, "deploy", svc, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    // The same lab, but switching generations fails on the host.
    let failing = |salt: &str| -> String {
        let path = lab.dir.join(format!("nixmox-failing-switch-{salt}.json"));
        let mut cfg: Value =
            serde_json::from_str(&std::fs::read_to_string(lab.config_with(salt, |_| {})).unwrap())
                .unwrap();
        cfg["templates"]["switch_generation"] =
            serde_json::json!(["sh", "-c", "echo refusing {hostname}; exit 3"]);
        std::fs::write(&path, cfg.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let out = lab.exec(&[
        "nixmox",
        "--config",
        &failing("v2"),
        "rollback",
        svc,
        "--yes",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &json_of(&out)[0];
    assert_eq!(r["result"], "rollback-failed", "{r}");
    assert_eq!(r["profile_generation"], 2, "{r}");
    assert!(r["error"].as_str().unwrap().contains("exited 3"), "{r}");
    assert!(
        stderr(&out).contains("switching to generation 1 failed"),
        "{}",
        text(&out)
    );
    assert_eq!(lab.current_generation(svc), 2, "still where it was");
    // Deploy's automatic rollback goes through the same switch.
    lab.fault("break", svc);
    let out = lab.exec(&[
        "nixmox",
        "--config",
        &failing("v3"),
        "deploy",
        svc,
        "--yes",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &json_of(&out)[0];
    assert_eq!(r["result"], "rollback-failed", "{r}");
    assert_eq!(r["profile_generation"], 3, "{r}");
    let log = audit(&lab);
    for (action, step) in [("rollback", "switch"), ("deploy", "rollback")] {
        assert!(
            log.iter()
                .any(|e| e["action"] == action && e["step"] == step && e["outcome"] == "failed"),
            "no failed {action} {step} in the audit log"
        );
    }
}

#[test]
fn logs_follow_shows_a_new_line_within_a_second_and_stops_the_remote_tail() {
    let lab = Lab::up("logs", &full());
    let mut child = lab
        .exec_cmd(&["nixmox", "logs", "vaultwarden", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    wait_until("the remote tail starts", Duration::from_secs(10), || {
        !follow_processes(&lab.dir).is_empty()
    });
    // The tail is live once a line written now comes back (the follower may
    // still be opening the journal when its process appears).
    let mut live = false;
    for i in 0..20 {
        let warm = format!("warm-up-{i}-{}", std::process::id());
        assert!(lab
            .lab(&["fault", "write-log", "vaultwarden", &warm])
            .status
            .success());
        let deadline = Instant::now() + Duration::from_millis(500);
        while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if l.contains(&warm) {
                live = true;
                break;
            }
        }
        if live {
            break;
        }
    }
    assert!(live, "the log tail never delivered a line");
    let marker = format!("hello-from-the-host-{}", std::process::id());
    let t = Instant::now();
    let out = lab.lab(&["fault", "write-log", "vaultwarden", &marker]);
    assert!(out.status.success(), "{}", text(&out));
    expect_line(&rx, &marker, Duration::from_secs(1));
    eprintln!("log line arrived after {:?}", t.elapsed());
    // The client stops (ctrl-c): the remote tail ends with it.
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    wait_until("the remote tail ends", Duration::from_secs(5), || {
        follow_processes(&lab.dir).is_empty()
    });
}

#[test]
fn deploy_changed_deploys_exactly_the_changed_service_and_its_dependents() {
    let lab = Lab::up("changed", &full());
    // Change one service's manifest entry (its liveness interval).
    let value = nixmox::manifest::load_value(&lab.manifest).unwrap();
    let mut v = value.clone();
    v["services"]["prometheus"]["interface"]["health"]["interval"] = serde_json::json!(17);
    let changed = lab.dir.join("changed-manifest.json");
    std::fs::write(&changed, v.to_string()).unwrap();
    let out = lab.exec(&[
        "nixmox",
        "--manifest",
        changed.to_str().unwrap(),
        "deploy",
        "--changed",
        "--yes",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let deployed: BTreeSet<String> = json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service"].as_str().unwrap().to_string())
        .collect();
    let g = graph(&lab);
    let mut want: BTreeSet<String> = g.dependents("prometheus").unwrap();
    want.insert("prometheus".into());
    assert_eq!(deployed, want);
    assert_eq!(lab.current_generation("prometheus"), 2);
    // Nothing changed any more: nothing to do.
    let out = lab.exec(&[
        "nixmox",
        "--manifest",
        changed.to_str().unwrap(),
        "deploy",
        "--changed",
        "--yes",
    ]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("nothing to deploy"), "{}", text(&out));
}

#[test]
fn cancel_stops_after_the_current_step_and_leaves_whole_generations() {
    let lab = Lab::up("cancel", &full());
    let cfg = lab.config_with("v2", |_| {});
    let child = lab
        .exec_cmd(&[
            "nixmox",
            "--config",
            &cfg,
            "deploy",
            "--all",
            "--yes",
            "--json",
            "--parallel",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the first activation", Duration::from_secs(30), || {
        audit(&lab)
            .iter()
            .any(|e| e["step"] == "activate" && e["outcome"] == "started")
    });
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("cancelling"), "{}", text(&out));
    let results = json_of(&out);
    let results = results.as_array().unwrap();
    let count = |r: &str| results.iter().filter(|x| x["result"] == r).count();
    assert!(
        count("deployed") >= 1,
        "the host mid-step finished: {results:#?}"
    );
    assert!(
        count("cancelled") >= 1,
        "later hosts did not start: {results:#?}"
    );
    assert_eq!(count("failed") + count("rolled-back"), 0, "{results:#?}");
    for s in services(&lab) {
        let gens = generations(&lab, &s.name);
        let cur = gens.iter().find(|g| g.1).expect("a current generation").0;
        let deployed = results
            .iter()
            .any(|r| r["service"] == s.name.as_str() && r["result"] == "deployed");
        assert_eq!(cur, if deployed { 2 } else { 1 }, "{}: {gens:?}", s.name);
    }
    let (code, _) = status(&lab);
    assert_eq!(code, 0, "every host healthy on a whole generation");
}
