//! Operations under faults, told truthfully (issue 10): every outcome is
//! what was read back from the host, a generation that cuts the deployer
//! off is switched back by the host itself, and no step hangs. Each
//! scenario prints a `FAULT-MATRIX` line: scenario, outcome reported, host
//! state verified, seconds from the fault to the operator being told.
//! Needs root and the lab's tools; runs inside a private network namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const IP: &str = "192.168.99.20";
const SVC: &str = "web";
/// The host waits this long for a confirmation in these tests.
const CONFIRM: &str = "8";

/// One service on one host, with a startup probe that a broken build fails
/// (HTTP 500) and that needs the host to answer over ssh.
fn manifest(name: &str, deploy: Option<Value>) -> PathBuf {
    let health = json!({
        "startup": "curl -f -s http://localhost:8080/alive",
        "liveness": "curl -f -s http://localhost:8080/alive",
        "interval": 2, "timeout": 2, "retries": 3
    });
    let mut m = json!({
        "network": {"dns_server": "192.168.99.1", "gateway": "192.168.99.1",
                    "network_cidr": "192.168.99.0/24", "domain": "lab.test", "vlan_tag": 99},
        "core_services": {
            SVC: {"ip": IP, "hostname": "web-host", "depends_on": [], "ports": [8080],
                  "interface": {"health": health}}
        },
        "services": {}
    });
    if let Some(d) = deploy {
        m["deploy"] = d;
    }
    let path = PathBuf::from(format!(
        "/tmp/nmx-labtest-truth-{name}-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, m.to_string()).unwrap();
    path
}

/// The lab's console config with a build salt (a new generation) and
/// optional template overrides.
fn config(lab: &Lab, salt: &str, templates: Value) -> String {
    lab.config_with(salt, |cfg| {
        if let Value::Object(t) = templates {
            for (k, v) in t {
                cfg["templates"][k] = v;
            }
        }
    })
}

/// `(generation, current, running, present)` as `generations --json` says.
fn generations(lab: &Lab) -> Vec<(u64, bool, bool, bool)> {
    let out = lab.exec(&["nixmox", "generations", SVC, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["generation"].as_u64().unwrap(),
                g["current"].as_bool().unwrap(),
                g["running"].as_bool().expect("a running field"),
                g["present"].as_bool().expect("a present field"),
            )
        })
        .collect()
}

/// Profile and running both on `n`, and nothing else running.
fn assert_on(lab: &Lab, n: u64) -> String {
    let gens = generations(lab);
    for (g, current, running, present) in &gens {
        assert_eq!(*current, *g == n, "profile: {gens:?}");
        assert_eq!(*running, *g == n, "running: {gens:?}");
        if *g == n {
            assert!(present, "{gens:?}");
        }
    }
    format!("profile = running = gen {n}")
}

fn matrix(scenario: &str, outcome: &str, host: &str, seconds: f64) {
    eprintln!("FAULT-MATRIX | {scenario} | {outcome} | {host} | {seconds:.1}");
}

/// Runs `child` to its end, at most `limit` (then kills it and fails).
fn finish(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: still running after {limit:?} (a hang):\n{}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// stderr lines of a child as they come; stdout collected separately.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            eprintln!("  | {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return,
            Ok(_) => {}
            Err(_) => panic!("no line with {needle:?} within {within:?}"),
        }
    }
}

fn read_stdout(child: &mut Child) -> std::thread::JoinHandle<Vec<u8>> {
    let mut out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut buf);
        buf
    })
}

#[test]
fn partition_during_the_gate_the_host_reverts_by_itself() {
    let lab = Lab::up("truth-part", &manifest("part", None));
    assert_on(&lab, 1);
    lab.lab(&["fault", "break", SVC, "--mode", "http500"]);
    let cfg = config(&lab, "v2", json!({}));
    let mut child = lab
        .exec_cmd(&[
            "nixmox",
            "--config",
            &cfg,
            "deploy",
            SVC,
            "--yes",
            "--json",
            "--confirm-timeout",
            CONFIRM,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let stdout = read_stdout(&mut child);
    wait_for(&rx, "health", Duration::from_secs(120));
    lab.fault("partition", SVC);
    let fault = Instant::now();
    // Cut off for longer than the host waits for its confirmation.
    std::thread::sleep(Duration::from_secs(14));
    lab.fault("heal", SVC);
    let status = finish(child, Duration::from_secs(180), "deploy").status;
    let told = fault.elapsed().as_secs_f64();
    let out = stdout.join().unwrap();
    let results: Value = serde_json::from_slice(&out).expect("JSON results");
    let r = &results[0];
    assert_eq!(status.code(), Some(1));
    assert_eq!(r["result"], "rolled-back", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("rolled back by the host: not confirmed within 8 s"),
        "{r}"
    );
    assert_eq!(r["to_generation"], 1, "{r}");
    assert_eq!(r["healthy_again"], true, "{r}");
    let host = assert_on(&lab, 1);
    matrix(
        "partition during the health gate",
        "rolled back by the host: not confirmed within 8 s (healthy)",
        &host,
        told,
    );
}

#[test]
fn a_generation_that_stops_sshd_is_reverted_by_the_host_and_ssh_comes_back() {
    let lab = Lab::up("truth-ssh", &manifest("ssh", None));
    let out = lab.lab(&["fault", "break", SVC, "--mode", "ssh"]);
    assert!(out.status.success(), "{}", text(&out));
    let cfg = config(&lab, "v2", json!({}));
    let started = Instant::now();
    let child = lab
        .exec_cmd(&[
            "nixmox",
            "--config",
            &cfg,
            "deploy",
            SVC,
            "--yes",
            "--json",
            "--confirm-timeout",
            CONFIRM,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, Duration::from_secs(180), "deploy");
    let told = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &json_of(&out)[0];
    assert_eq!(r["result"], "rolled-back", "{r}\n{}", text(&out));
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("rolled back by the host"),
        "{r}"
    );
    assert_eq!(r["to_generation"], 1, "{r}");
    assert_eq!(r["healthy_again"], true, "{r}");
    // Reachable again, on its old generation.
    let ssh = lab.ssh(IP, "true");
    assert!(ssh.status.success(), "{}", text(&ssh));
    let host = assert_on(&lab, 1);
    let gens = generations(&lab);
    assert!(
        gens.iter().any(|g| g.0 == 2),
        "the new generation is kept, not run: {gens:?}"
    );
    matrix(
        "activation stops sshd (break --mode ssh)",
        "rolled back by the host (healthy), ssh back",
        &host,
        told,
    );
}

#[test]
fn switching_to_a_dangling_or_missing_generation_fails_and_changes_nothing() {
    let lab = Lab::up("truth-dangle", &manifest("dangle", None));
    let cfg = config(&lab, "v2", json!({}));
    let out = lab.exec(&["nixmox", "--config", &cfg, "deploy", SVC, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_on(&lab, 2);
    // Generation 1's store path is gone (its link points nowhere).
    let out = lab.ssh(
        IP,
        "ln -sfn /nix/store/00000000000000000000000000000000-gone /nix/var/nix/profiles/system-1-link",
    );
    assert!(out.status.success(), "{}", text(&out));
    let gens = generations(&lab);
    assert_eq!(
        gens,
        vec![(1, false, false, false), (2, true, true, true)],
        "shown, marked missing"
    );
    let fault = Instant::now();
    let out = lab.exec(&["nixmox", "rollback", SVC, "--to", "1", "--yes", "--json"]);
    let told = fault.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("generation 1 is dangling"),
        "{}",
        text(&out)
    );
    let out = lab.exec(&["nixmox", "rollback", SVC, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("dangling"), "{}", text(&out));
    let host = assert_on(&lab, 2);
    matrix(
        "rollback to a dangling generation",
        "refused: generation 1 is dangling",
        &host,
        told,
    );
    // A generation whose link was removed.
    let out = lab.ssh(IP, "rm /nix/var/nix/profiles/system-1-link");
    assert!(out.status.success(), "{}", text(&out));
    let fault = Instant::now();
    let out = lab.exec(&["nixmox", "rollback", SVC, "--to", "1", "--yes"]);
    let told = fault.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("generation 1 does not exist (have: 2)"),
        "{}",
        text(&out)
    );
    let host = assert_on(&lab, 2);
    matrix(
        "rollback to a removed generation",
        "refused: generation 1 does not exist",
        &host,
        told,
    );
    // A switch that the host reports done but leaves it elsewhere is a
    // failure naming where the host is.
    let cfg = config(
        &lab,
        "v3",
        json!({"switch_generation": ["sh", "-c", "nix-env -p {profile} --switch-generation {generation}"]}),
    );
    let out = lab.exec(&["nixmox", "--config", &cfg, "deploy", SVC, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let fault = Instant::now();
    let out = lab.exec(&[
        "nixmox", "--config", &cfg, "rollback", SVC, "--to", "2", "--yes", "--json",
    ]);
    let told = fault.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &json_of(&out)[0];
    assert_eq!(r["result"], "rollback-failed", "{r}");
    assert_eq!(r["profile_generation"], 2, "{r}");
    assert_eq!(r["running_generation"], 3, "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("profile on gen 2, running gen 3"),
        "{r}"
    );
    matrix(
        "switch that leaves profile and running apart",
        "rollback failed: profile on gen 2, running gen 3",
        "profile = gen 2, running = gen 3 (reported as such)",
        told,
    );
}

#[test]
fn non_utf8_and_3000_lines_of_build_output_finish() {
    let lab = Lab::up("truth-noisy", &manifest("noisy", None));
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.join("nixmox.json")).unwrap())
            .unwrap();
    let build = cfg["templates"]["build"].as_array().unwrap().clone();
    // 3,000 long lines with invalid UTF-8 on both pipes, more than a pipe
    // holds, then the real build.
    let noisy = lab.dir.join("noisy-build.sh");
    std::fs::write(
        &noisy,
        "i=0\nwhile [ $i -lt 3000 ]; do\n  printf 'line %d \\377\\376 \\033]0;PWNED\\007 %s\\n' $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n  printf 'err %d \\377\\n' $i >&2\n  i=$((i + 1))\ndone\nexec \"$@\"\n",
    )
    .unwrap();
    let mut argv = vec![json!("sh"), json!(noisy)];
    argv.extend(build);
    let cfg = config(&lab, "v2", json!({ "build": argv }));
    let fault = Instant::now();
    let child = lab
        .exec_cmd(&["nixmox", "--config", &cfg, "deploy", SVC, "--yes", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(
        child,
        Duration::from_secs(120),
        "deploy with noisy build output",
    );
    let told = fault.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", text(&out));
    let r = &json_of(&out)[0];
    assert_eq!(r["result"], "deployed", "{r}");
    assert!(
        !out.stderr.contains(&0x1b),
        "a host's escape sequence reached the terminal"
    );
    let host = assert_on(&lab, 2);
    matrix(
        "non-UTF-8 + 3,000 lines of build output",
        "deployed (gen 2 runs)",
        &host,
        told,
    );
}

#[test]
fn a_hung_local_step_is_killed_at_its_timeout() {
    let m = manifest("hung", Some(json!({"timeouts": {"build": 3}})));
    let lab = Lab::up("truth-hung", &m);
    let cfg = config(
        &lab,
        "v2",
        json!({"build": ["sh", "-c", "sleep 3017 & sleep 3017; echo never"]}),
    );
    let fault = Instant::now();
    let child = lab
        .exec_cmd(&[
            "nixmox",
            "--config",
            &cfg,
            "--manifest",
            m.to_str().unwrap(),
            "deploy",
            SVC,
            "--yes",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child, Duration::from_secs(60), "deploy with a hung build");
    let told = fault.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &json_of(&out)[0];
    assert_eq!(r["result"], "failed", "{r}");
    assert_eq!(r["step"], "build", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("did not finish within 3 s; its process group was killed"),
        "{r}"
    );
    assert!(told < 30.0, "took {told:.1} s");
    // The whole group went, the background sleep too.
    let left: Vec<u32> = proc_pids()
        .into_iter()
        .filter(|p| !zombie(*p) && cmdline(*p) == ["sleep", "3017"])
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
    let host = assert_on(&lab, 1);
    matrix(
        "hung local build step (timeout 3 s)",
        "failed at build: killed at its timeout",
        &host,
        told,
    );
}

#[test]
fn a_hung_remote_step_is_killed_on_the_host_at_its_timeout() {
    let m = manifest("hung-remote", Some(json!({"timeouts": {"activate": 3}})));
    let lab = Lab::up("truth-hung-remote", &m);
    let cfg = config(
        &lab,
        "v2",
        json!({"activate": ["sh", "-c", "sleep 3018 & sleep 3018"]}),
    );
    let fault = Instant::now();
    let child = lab
        .exec_cmd(&[
            "nixmox",
            "--config",
            &cfg,
            "--manifest",
            m.to_str().unwrap(),
            "deploy",
            SVC,
            "--yes",
            "--json",
            "--confirm-timeout",
            CONFIRM,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(
        child,
        Duration::from_secs(60),
        "deploy with a hung activation",
    );
    let told = fault.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &json_of(&out)[0];
    assert_eq!(r["result"], "rolled-back", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("activate did not finish within 3 s; killed on the host"),
        "{r}"
    );
    assert_eq!(r["healthy_again"], true, "{r}");
    let left: Vec<u32> = proc_pids()
        .into_iter()
        .filter(|p| !zombie(*p) && cmdline(*p) == ["sleep", "3018"])
        .collect();
    assert!(left.is_empty(), "left running on the host: {left:?}");
    let host = assert_on(&lab, 1);
    matrix(
        "hung remote activation (timeout 3 s)",
        "killed on the host, rolled back (healthy)",
        &host,
        told,
    );
}

#[test]
fn a_host_that_never_answers_again_is_reported_unknown_and_reverts_by_itself() {
    let m = manifest("lost", Some(json!({"timeouts": {"switch": 5}})));
    let lab = Lab::up("truth-lost", &m);
    lab.lab(&["fault", "break", SVC, "--mode", "http500"]);
    let cfg = config(&lab, "v2", json!({}));
    let mut child = lab
        .exec_cmd(&[
            "nixmox",
            "--config",
            &cfg,
            "--manifest",
            m.to_str().unwrap(),
            "deploy",
            SVC,
            "--yes",
            "--json",
            "--confirm-timeout",
            "3",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let stdout = read_stdout(&mut child);
    wait_for(&rx, "health", Duration::from_secs(120));
    lab.fault("partition", SVC);
    let fault = Instant::now();
    let status = finish(child, Duration::from_secs(120), "deploy").status;
    let told = fault.elapsed().as_secs_f64();
    let results: Value = serde_json::from_slice(&stdout.join().unwrap()).expect("JSON results");
    let r = &results[0];
    assert_eq!(status.code(), Some(1));
    assert_eq!(r["result"], "failed", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("host state unknown until it answers"),
        "{r}"
    );
    lab.fault("heal", SVC);
    // Unconfirmed, the host went back by itself, and says so.
    let host = assert_on(&lab, 1);
    let verdict = lab.ssh(
        IP,
        "cat /nix/var/nix/profiles/.nixmox-state/op-*-web.verdict",
    );
    assert!(
        stdout_of(&verdict).contains("reverted not confirmed within 3 s"),
        "{}",
        text(&verdict)
    );
    matrix(
        "partition for good during the gate",
        "failed: lost contact, host state unknown until it answers",
        &format!("{host} (the host reverted by itself)"),
        told,
    );
}

fn stdout_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_host_changed_since_the_rollback_was_planned_is_reported_under_the_lock() {
    let lab = Lab::up("truth-replan", &manifest("replan", None));
    for salt in ["v2", "v3"] {
        let cfg = config(&lab, salt, json!({}));
        let out = lab.exec(&["nixmox", "--config", &cfg, "deploy", SVC, "--yes"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_on(&lab, 3);
    // Someone switches the host to generation 1 right after the plan was
    // read (the first listing does it, once).
    let cfg = config(
        &lab,
        "v3",
        json!({"generations": ["sh", "-c",
            "nix-env -p {profile} --list-generations; m={profile}.changed-once; if [ ! -e \"$m\" ]; then : > \"$m\"; nix-env -p {profile} --switch-generation 1 > /dev/null 2>&1 && {profile}/bin/switch-to-configuration switch > /dev/null 2>&1; fi"]}),
    );
    let fault = Instant::now();
    let out = lab.exec(&["nixmox", "--config", &cfg, "rollback", SVC, "--yes"]);
    let told = fault.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("plan: switch web (192.168.99.20) from generation 3 to 2"),
        "{err}"
    );
    assert!(
        err.contains(
            "changed since the rollback was confirmed: its profile is on generation 1 now (was 3)"
        ) && err.contains("proceeding to generation 2 as confirmed (--yes)"),
        "{err}"
    );
    let host = assert_on(&lab, 2);
    let audit = std::fs::read_to_string(lab.dir.join("audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"step\":\"plan\"") && l.contains("\"outcome\":\"changed\"")),
        "{audit}"
    );
    matrix(
        "host changed between the plan and the lock (--yes)",
        "reported, proceeded as confirmed, verified",
        &host,
        told,
    );
}
