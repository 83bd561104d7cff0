//! Locks, interrupted operations, signals and the audit log under faults,
//! against real lab hosts through the real binary. Each scenario prints a
//! `FAULT-MATRIX | scenario | outcome | host state | seconds` line: the
//! seconds from the fault to the operator being told.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::lab::*;
use serde_json::Value;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where the lab keeps each host's deploy lock (the lab's `lock_dir`).
const LOCK: &str = "/nix/var/nix/profiles/.nixmox.lock";

fn audit_at(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn audit(lab: &Lab) -> Vec<Value> {
    audit_at(&lab.dir.join("audit.jsonl"))
}

fn matrix(scenario: &str, outcome: &str, host: &str, seconds: f64) {
    eprintln!("FAULT-MATRIX | {scenario} | {outcome} | {host} | {seconds:.1}");
}

/// Activation that takes `secs` longer (still the NixOS default's switch).
fn slow_activate(secs: u64) -> impl FnOnce(&mut Value) {
    move |cfg: &mut Value| {
        cfg["templates"]["activate"] = serde_json::json!([
            "sh",
            "-c",
            format!(
                "sleep {secs}; nix-env -p {{profile}} --set {{path}} && {{path}}/bin/switch-to-configuration switch"
            )
        ]);
    }
}

fn one_host(name: &str) -> (Lab, String, String) {
    one_host_with(name, |_| {})
}

/// A one-host lab whose generated manifest is changed by `edit` first.
fn one_host_with(name: &str, edit: impl FnOnce(&mut Value)) -> (Lab, String, String) {
    let manifest = generated(name, 1);
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&manifest, m.to_string()).unwrap();
    let lab = Lab::up(name, &manifest);
    let svc = manifest_services(&manifest).remove(0);
    (lab, svc.name.clone(), svc.ip.to_string())
}

/// A startup probe (the deploy's health gate) that takes 3 s to pass.
fn slow_gate(m: &mut Value) {
    for group in ["core_services", "services"] {
        if let Some(map) = m[group].as_object_mut() {
            for (name, svc) in map.iter_mut() {
                svc["interface"]["health"]["startup"] =
                    serde_json::json!(format!("sleep 3; systemctl is-active --quiet {name}"));
            }
        }
    }
}

fn spawn(lab: &Lab, args: &[&str]) -> Child {
    lab.exec_cmd(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

fn lock_present(lab: &Lab, ip: &str) -> bool {
    let out = lab.ssh(ip, &format!("test -e {LOCK} && echo held || echo free"));
    stdout(&out).trim() == "held"
}

fn wait_audit(lab: &Lab, what: &str, f: impl Fn(&Value) -> bool) {
    wait_until(what, Duration::from_secs(60), || audit(lab).iter().any(&f));
}

fn last_op(lab: &Lab, svc: &str) -> Value {
    let out = lab.exec(&["nixmox", "history", svc, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    json_of(&out)
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .expect("an operation")
}

// ---------------- locks ----------------

#[test]
fn a_live_lock_is_never_broken_and_the_host_stays_consistent() {
    let (lab, svc, ip) = one_host("lk-live");
    let slow = lab.config_with("a2", slow_activate(6));
    let a = spawn(
        &lab,
        &["nixmox", "--config", &slow, "deploy", &svc, "--yes"],
    );
    wait_audit(&lab, "A activates", |e| {
        e["step"] == "activate" && e["outcome"] == "started"
    });
    // B asks to break A's lock while A activates: refused, naming A.
    let other = lab.config_with("b3", |_| {});
    let t = Instant::now();
    let b = lab.exec(&[
        "nixmox",
        "--config",
        &other,
        "deploy",
        &svc,
        "--yes",
        "--break-lock",
    ]);
    let told = t.elapsed().as_secs_f64();
    assert_eq!(b.status.code(), Some(1), "{}", text(&b));
    let err = stderr(&b);
    assert!(
        err.contains("is locked by") && err.contains(&format!("deploy {svc}")),
        "{err}"
    );
    assert!(
        err.contains("LIVE") && err.contains("--break-lock breaks only a STALE lock"),
        "{err}"
    );
    assert!(lock_present(&lab, &ip), "A's lock is still there");
    // status shows it, live.
    let st = json_of(&lab.exec(&["nixmox", "status", "--once", "--json"]));
    let lock = &st.as_array().unwrap()[0]["lock"];
    assert_eq!(lock["stale"], false, "{st}");
    assert!(
        lock["holder"]
            .as_str()
            .unwrap()
            .contains(&format!("deploy {svc}")),
        "{st}"
    );
    assert!(lock["since"].as_str().is_some(), "{st}");
    let a = a.wait_with_output().unwrap();
    assert!(a.status.success(), "A deploys undisturbed:\n{}", text(&a));
    // The host runs what A built, and only A switched it.
    assert_eq!(lab.current_generation(&svc), 2, "only A made a generation");
    assert!(!lock_present(&lab, &ip), "A released its lock");
    let refusals: Vec<Value> = audit(&lab)
        .into_iter()
        .filter(|e| e["step"] == "lock" && e["outcome"] == "failed")
        .collect();
    assert_eq!(refusals.len(), 1, "B's refusal is audited");
    matrix(
        "live lock + --break-lock",
        "refused, naming the holder (LIVE)",
        "A's generation 2 runs, lock released by A",
        told,
    );
}

#[test]
fn break_lock_on_a_lock_dir_that_is_not_a_nixmox_lock_refuses_and_deletes_nothing() {
    let (lab, svc, ip) = one_host("lk-foreign");
    // A deploy first, so the profile has generations to lose.
    let v2 = lab.config_with("f2", |_| {});
    let out = lab.exec(&["nixmox", "--config", &v2, "deploy", &svc, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    // `lock_dir` mistyped as the profiles directory, which even holds an
    // old, stale nixmox holder file.
    let profiles = "/nix/var/nix/profiles";
    let holder = r#"{"user":"alice@admin2","pid":4242,"op":"77","action":"deploy x","since":"2026-11-25T19:00:00.000Z"}"#;
    let out = lab.ssh(
        &ip,
        &format!(
            "printf '%s' {} > {profiles}/holder && touch -d '-300 seconds' {profiles}/holder",
            q(holder)
        ),
    );
    assert!(out.status.success(), "{}", text(&out));
    let listing = || stdout(&lab.ssh(&ip, &format!("ls -A {profiles}")));
    let before = listing();
    assert!(before.contains("system-2-link"), "{before}");
    let wrong = lab.config_with("f3", |cfg| {
        cfg["vars"]["lock_dir"] = serde_json::json!(profiles);
    });
    let t = Instant::now();
    let out = lab.exec(&[
        "nixmox",
        "--config",
        &wrong,
        "deploy",
        &svc,
        "--yes",
        "--break-lock",
    ]);
    let told = t.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("is not a nixmox lock") && stderr(&out).contains("lock_dir"),
        "{}",
        text(&out)
    );
    assert_eq!(listing(), before, "nothing in {profiles} was touched");
    assert_eq!(lab.current_generation(&svc), 2);
    // status says what the lock directory is.
    let st = json_of(&lab.exec(&["nixmox", "--config", &wrong, "status", "--once", "--json"]));
    assert!(
        st.as_array().unwrap()[0]["lock"]["foreign"].is_string(),
        "{st}"
    );
    matrix(
        "lock_dir = profiles dir + --break-lock",
        "refused: not a nixmox lock",
        "every generation link kept, gen 2 current",
        told,
    );
}

#[test]
fn a_lock_left_by_a_short_stop_ssh_is_reported_then_released_on_the_next_contact() {
    let (lab, svc, ip) = one_host("lk-left");
    // A short host-side confirmation window: losing contact during the
    // activation means waiting for the host's own verdict until it is due.
    let slow = lab.config_with("l2", |cfg| {
        slow_activate(4)(cfg);
        cfg["deploy"] = serde_json::json!({"confirm_timeout_secs": 5, "timeouts": {"switch": 5}});
    });
    let child = spawn(
        &lab,
        &[
            "nixmox", "--config", &slow, "deploy", &svc, "--yes", "--json",
        ],
    );
    wait_audit(&lab, "activation starts", |e| {
        e["step"] == "activate" && e["outcome"] == "started"
    });
    std::thread::sleep(Duration::from_millis(800));
    let t = Instant::now();
    lab.fault("stop-ssh", &svc);
    let out = child.wait_with_output().unwrap();
    let told = t.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("LOCK LEFT"), "{}", text(&out));
    let rows = json_of(&out);
    assert!(
        rows[0]["lock_left"]
            .as_str()
            .is_some_and(|w| w.contains("could not release")),
        "{rows}"
    );
    assert!(
        audit(&lab)
            .iter()
            .any(|e| e["step"] == "lock" && e["outcome"] == "left"),
        "the left lock is audited"
    );
    matrix(
        "stop-ssh during activate (lock left)",
        "failed at activate, LOCK LEFT reported",
        "lock left on the host",
        told,
    );
    let t = Instant::now();
    lab.fault("start-ssh", &svc);
    assert!(lock_present(&lab, &ip), "the lock is still on the host");
    let (err, told) = status_telling(&lab, "had left its lock", t);
    let told = told.unwrap_or_else(|| panic!("the next contact says so:\n{err}"));
    assert!(!lock_present(&lab, &ip), "and releases it");
    let st = lab.exec(&["nixmox", "status", "--once", "--json"]);
    assert_eq!(json_of(&st).as_array().unwrap()[0]["lock"], Value::Null);
    let again = lab.exec(&[
        "nixmox", "--config", &slow, "deploy", &svc, "--yes", "--force",
    ]);
    assert!(again.status.success(), "{}", text(&again));
    matrix(
        "start-ssh, next status",
        "lock released, said on stderr",
        "no lock; the same deploy re-runs without --break-lock",
        told,
    );
}

// ---------------- interrupted operations and signals ----------------

/// Interrupts a deploy of `svc` with `signals` (in order) once `at` is
/// reached, then checks what the operator is told. Returns the child's
/// output, when the first signal was sent, and the seconds from it to the
/// command's exit.
fn interrupt(
    lab: &Lab,
    svc: &str,
    cfg: &str,
    at: &str,
    signals: &[&str],
) -> (Output, Instant, f64) {
    let before = audit(lab).len();
    let child = spawn(lab, &["nixmox", "--config", cfg, "deploy", svc, "--yes"]);
    let (step, outcome) = match at {
        "activate" => ("activate", "started"),
        _ => ("activate", "ok"),
    };
    wait_until(
        &format!("{step} {outcome}"),
        Duration::from_secs(60),
        || {
            audit(lab)
                .iter()
                .skip(before)
                .any(|e| e["step"] == step && e["outcome"] == outcome)
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    for s in signals {
        signal(&child, s);
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = child.wait_with_output().unwrap();
    (out, t, t.elapsed().as_secs_f64())
}

/// Runs `status --once`, returning its stderr and the seconds from
/// `since` to the moment it printed a line containing `needle`, if it did.
fn status_telling(lab: &Lab, needle: &str, since: Instant) -> (String, Option<f64>) {
    use std::io::BufRead;
    let mut child = lab
        .exec_cmd(&["nixmox", "status", "--once"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let mut all = String::new();
    let mut told = None;
    for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
        if told.is_none() && line.contains(needle) {
            told = Some(since.elapsed().as_secs_f64());
        }
        all.push_str(&line);
        all.push('\n');
    }
    let _ = child.wait();
    (all, told)
}

/// After a process died: the next `status` reconciles (retried while the
/// step still runs on the host); `history --json` shows it interrupted.
fn reconciled(lab: &Lab, svc: &str, ip: &str, at: &str, fault: Instant) -> (Value, f64) {
    let told = loop {
        let (err, told) = status_telling(lab, "was interrupted", fault);
        if let Some(told) = told {
            assert!(err.contains(&format!("interrupted at {at}")), "{err}");
            break told;
        }
        assert!(
            fault.elapsed() < Duration::from_secs(40),
            "never reconciled:\n{err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let op = last_op(lab, svc);
    assert_eq!(op["state"], "interrupted", "{op:#}");
    let host = &op["hosts"][0];
    assert_eq!(host["outcome"], "interrupted", "{op:#}");
    let found = host["detail"].as_str().unwrap();
    assert!(found.contains("profile on gen"), "{found}");
    assert!(found.contains("its lock released"), "{found}");
    assert!(!lock_present(lab, ip), "its lock is gone");
    (op, told)
}

#[test]
fn a_cli_killed_or_signalled_during_activate_is_reconciled_or_cancelled() {
    let (lab, svc, ip) = one_host("lk-sig-act");
    let mut gen = 1;
    // kill -9: nothing can be done by the process; the next status does it.
    let cfg = lab.config_with("k2", slow_activate(2));
    let (out, fault, _) = interrupt(&lab, &svc, &cfg, "activate", &["KILL"]);
    assert_eq!(out.status.code(), None, "killed");
    let (op, told) = reconciled(&lab, &svc, &ip, "activate", fault);
    let found = op["hosts"][0]["detail"].as_str().unwrap().to_string();
    gen += 1;
    assert!(
        found.contains(&format!("profile on gen {gen} (new)")),
        "{found}"
    );
    matrix(
        "kill -9 during activate",
        "interrupted (reconciled by next status)",
        &found,
        told,
    );
    let again = lab.exec(&[
        "nixmox", "--config", &cfg, "deploy", &svc, "--yes", "--force",
    ]);
    assert!(
        again.status.success(),
        "re-runs without --break-lock:\n{}",
        text(&again)
    );

    // One SIGHUP or SIGTERM: the current step finishes, the lock is
    // released, the cancel is audited, exit 1.
    for (salt, sig) in [("h3", "HUP"), ("t4", "TERM")] {
        let cfg = lab.config_with(salt, slow_activate(2));
        let (out, _, told) = interrupt(&lab, &svc, &cfg, "activate", &[sig]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(stderr(&out).contains("cancelling"), "{}", text(&out));
        assert!(
            stderr(&out).contains(&format!("stopped by SIG{sig}")),
            "{}",
            text(&out)
        );
        assert!(!lock_present(&lab, &ip), "released");
        let op = last_op(&lab, &svc);
        assert_eq!(op["cancel"], format!("SIG{sig}"), "{op:#}");
        assert_eq!(op["state"], "cancelled", "{op:#}");
        let outcome = op["hosts"][0]["outcome"].as_str().unwrap().to_string();
        matrix(
            &format!("SIG{sig} during activate"),
            &format!("cancel audited; the step in flight ended: {outcome}"),
            &format!(
                "gen {} current, lock released",
                lab.current_generation(&svc)
            ),
            told,
        );
    }
    // Two SIGTERMs: stops at once; the next status reconciles.
    let cfg = lab.config_with("tt5", slow_activate(3));
    let (out, fault, _) = interrupt(&lab, &svc, &cfg, "activate", &["TERM", "TERM"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains("again: stopping now"),
        "{}",
        text(&out)
    );
    let (op, told) = reconciled(&lab, &svc, &ip, "activate", fault);
    let found = op["hosts"][0]["detail"].as_str().unwrap().to_string();
    assert!(
        found.contains("after a cancel request (SIGTERM)"),
        "{found}"
    );
    matrix(
        "SIGTERM twice during activate",
        "interrupted (reconciled by next status)",
        &found,
        told,
    );
    let again = lab.exec(&[
        "nixmox", "--config", &cfg, "deploy", &svc, "--yes", "--force",
    ]);
    assert!(again.status.success(), "{}", text(&again));
}

#[test]
fn a_cli_killed_or_signalled_during_the_gate_is_reconciled_or_cancelled() {
    let (lab, svc, ip) = one_host_with("lk-sig-gate", slow_gate);
    let cfg = lab.config_with("g2", |_| {});
    let (out, fault, _) = interrupt(&lab, &svc, &cfg, "gate", &["KILL"]);
    assert_eq!(out.status.code(), None);
    let (op, told) = reconciled(&lab, &svc, &ip, "health", fault);
    let found = op["hosts"][0]["detail"].as_str().unwrap().to_string();
    assert!(found.contains("profile on gen 2 (new)"), "{found}");
    assert!(found.contains("healthy"), "{found}");
    matrix(
        "kill -9 during the gate",
        "interrupted (reconciled by next status)",
        &found,
        told,
    );

    // SIGTERM during the gate: the gate finishes, the cancel is audited.
    let cfg = lab.config_with("g3", |_| {});
    let (out, _, told) = interrupt(&lab, &svc, &cfg, "gate", &["TERM"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("stopped by SIGTERM"),
        "{}",
        text(&out)
    );
    assert!(!lock_present(&lab, &ip));
    let op = last_op(&lab, &svc);
    assert_eq!(op["cancel"], "SIGTERM", "{op:#}");
    let outcome = op["hosts"][0]["outcome"].as_str().unwrap().to_string();
    matrix(
        "SIGTERM during the gate",
        &format!("cancel audited; the gate finished: {outcome}"),
        &format!(
            "gen {} current, lock released",
            lab.current_generation(&svc)
        ),
        told,
    );

    // SIGHUP twice during the gate: stops at once, reconciled.
    let cfg = lab.config_with("g4", |_| {});
    let (out, fault, _) = interrupt(&lab, &svc, &cfg, "gate", &["HUP", "HUP"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let (op, told) = reconciled(&lab, &svc, &ip, "health", fault);
    let found = op["hosts"][0]["detail"].as_str().unwrap().to_string();
    assert!(found.contains("after a cancel request (SIGHUP)"), "{found}");
    matrix(
        "SIGHUP twice during the gate",
        "interrupted (reconciled by next status)",
        &found,
        told,
    );

    // The same deploy re-runs without --break-lock.
    let out = lab.exec(&[
        "nixmox", "--config", &cfg, "deploy", &svc, "--yes", "--force",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

// ---------------- audit ----------------

#[test]
fn a_full_disk_under_the_audit_log_never_blocks_a_rollback_and_is_reported() {
    // A tiny tmpfs in this test's mount namespace, mounted before the lab
    // so the lab's world sees the same filesystem.
    let full = std::path::PathBuf::from(format!("/tmp/nmx-full-audit-{}", std::process::id()));
    std::fs::create_dir_all(&full).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&full)
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mount a tmpfs (run as root in `unshare -m`)"
    );
    let (lab, svc, _ip) = one_host("lk-audit");
    let out = lab.exec(&[
        "nixmox",
        "--config",
        &lab.config_with("d2", |_| {}),
        "deploy",
        &svc,
        "--yes",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(lab.current_generation(&svc), 2);
    // Fill the disk, then point the audit log at it (a new file: its
    // first page cannot be had).
    let _ = std::fs::write(full.join("filler"), vec![b'x'; 256 * 1024]);
    let log = full.join("audit.jsonl");
    let cfg = lab.config_with("d3", |cfg| {
        cfg["audit_log"] = serde_json::json!(log);
    });
    let t = Instant::now();
    let out = lab.exec(&[
        "nixmox", "--config", &cfg, "rollback", &svc, "--yes", "--json",
    ]);
    let told = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "the rollback still works:\n{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("AUDIT LOG WRITE FAILED"),
        "{}",
        text(&out)
    );
    let rows = json_of(&out);
    assert_eq!(rows[0]["result"], "rolled-back", "{rows}");
    assert!(
        rows[0]["audit_error"]
            .as_str()
            .is_some_and(|e| e.contains("No space left")),
        "{rows}"
    );
    assert_eq!(lab.current_generation(&svc), 1, "back on generation 1");
    matrix(
        "audit log on a full disk + rollback",
        "rolled back; AUDIT LOG WRITE FAILED in summary and JSON",
        "gen 1 current, healthy",
        told,
    );
    drop(lab);
    let _ = Command::new("umount").arg(&full).status();
    let _ = std::fs::remove_dir_all(&full);
}
