//! The lab end to end (`nixmox lab ...`): real namespaces, one real sshd per
//! host, real Nix generations, real service processes. Needs root, sshd, nix,
//! ip; runs inside a private network namespace (scripts/test). A missing tool
//! or a routable 192.168.99.x fails the test, it never skips. Every test uses
//! its own lab directory and tears its lab down, even when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[test]
fn full_manifest_every_host_healthy_with_its_own_generation_then_down_leaves_nothing() {
    let manifest = repo().join("nixos/service-manifest.nix");
    let lab = Lab::up("full", &manifest);
    let services = manifest_services(&manifest);
    assert_eq!(lab.state.hosts.len(), services.len());

    // Per host, over its own sshd: the unit is active, the manifest's own
    // startup and liveness commands pass, generation 1 is the only one, and
    // the profile is this host's system.
    let results: Vec<(String, Output)> = std::thread::scope(|s| {
        let handles: Vec<_> = services
            .iter()
            .map(|svc| {
                let lab = &lab;
                s.spawn(move || {
                    let health = svc.interface.health.as_ref().expect("health");
                    let remote = format!(
                        "systemctl is-active --quiet {unit}; echo is-active=$?\n\
                         sh -c {startup} >/dev/null 2>&1; echo startup=$?\n\
                         sh -c {liveness} >/dev/null 2>&1; echo liveness=$?\n\
                         echo host=$NIXMOX_LAB_HOST\n\
                         echo system=$(readlink -f /nix/var/nix/profiles/system)\n\
                         nix-env -p /nix/var/nix/profiles/system --list-generations",
                        unit = q(svc.log_unit()),
                        startup = q(&health.startup),
                        liveness = q(&health.liveness),
                    );
                    (svc.name.clone(), lab.ssh(&svc.ip.to_string(), &remote))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut systems = BTreeSet::new();
    for (name, out) in &results {
        let o = stdout(out);
        assert!(out.status.success(), "{name}: ssh failed:\n{}", text(out));
        for check in ["is-active=0", "startup=0", "liveness=0"] {
            assert!(o.contains(check), "{name}: expected {check}:\n{o}");
        }
        assert!(
            o.contains(&format!("host={name}\n")),
            "{name}: wrong host:\n{o}"
        );
        let system = o
            .lines()
            .find_map(|l| l.strip_prefix("system="))
            .unwrap_or_default()
            .to_string();
        assert!(
            system.ends_with(&format!("-nixmox-lab-system-{name}")),
            "{name}: profile points at {system:?}"
        );
        assert!(
            systems.insert(system),
            "{name}: system shared with another host"
        );
        let gens: Vec<&str> = o
            .lines()
            .skip_while(|l| !l.starts_with("system="))
            .skip(1)
            .collect();
        assert_eq!(gens.len(), 1, "{name}: generations:\n{o}");
        let fields: Vec<&str> = gens[0].split_whitespace().collect();
        assert_eq!(fields.first(), Some(&"1"), "{name}: {:?}", gens[0]);
        assert_eq!(fields.last(), Some(&"(current)"), "{name}: {:?}", gens[0]);
    }

    // The ssh config knows hosts by service name and host name too, with the
    // same strict host key.
    let caddy = services.iter().find(|s| s.name == "caddy").unwrap();
    for alias in ["caddy", caddy.hostname.as_str()] {
        let out = lab.ssh(alias, "echo $NIXMOX_LAB_HOST");
        assert_eq!(stdout(&out).trim(), "caddy", "ssh {alias}:\n{}", text(&out));
    }

    // `lab status` sees everything up.
    let st = lab.lab(&["status"]);
    assert!(st.status.success(), "lab status:\n{}", text(&st));

    // journalctl -f: a line written on the host arrives; the remote follower
    // ends as soon as the client goes away, with a plain connection...
    let vw = services.iter().find(|s| s.name == "vaultwarden").unwrap();
    let cfg = lab.dir.join("ssh_config");
    let cfg = cfg.to_str().unwrap();
    let mut child = lab
        .exec_cmd(&[
            "ssh",
            "-F",
            cfg,
            "vaultwarden",
            "journalctl -u vaultwarden -f -n 2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    wait_until("the remote follower starts", Duration::from_secs(5), || {
        !follow_processes(&lab.dir).is_empty()
    });
    let out = lab.lab(&[
        "fault",
        "write-log",
        "vaultwarden",
        "marker one from the test",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    expect_line(&rx, "marker one from the test", Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
    wait_until(
        "the remote journalctl -f ends after the ssh client is killed",
        Duration::from_secs(3),
        || follow_processes(&lab.dir).is_empty(),
    );
    // ... and over a multiplexed master, which stays up.
    let ctl = format!("{}/ctl-vw", lab.state.control_dir.display());
    let master = lab.ssh_opts(
        &[
            "-o",
            "ControlMaster=yes",
            "-o",
            &format!("ControlPath={ctl}"),
            "-o",
            "ControlPersist=30",
            "-N",
            "-f",
        ],
        &vw.ip.to_string(),
        None,
    );
    assert!(master.status.success(), "ssh master:\n{}", text(&master));
    let mut child = lab
        .exec_cmd(&[
            "ssh",
            "-F",
            cfg,
            "-o",
            &format!("ControlPath={ctl}"),
            &vw.ip.to_string(),
            "journalctl -u vaultwarden -f -n 0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    wait_until("the muxed follower starts", Duration::from_secs(5), || {
        !follow_processes(&lab.dir).is_empty()
    });
    let out = lab.lab(&["fault", "write-log", "vaultwarden", "marker two"]);
    assert!(out.status.success(), "{}", text(&out));
    expect_line(&rx, "marker two", Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
    wait_until(
        "the remote journalctl -f ends when its channel closes (master still up)",
        Duration::from_secs(3),
        || follow_processes(&lab.dir).is_empty(),
    );
    let check = lab.ssh_opts(
        &["-o", &format!("ControlPath={ctl}"), "-O", "check"],
        &vw.ip.to_string(),
        None,
    );
    assert!(
        check.status.success(),
        "the master should still run:\n{}",
        text(&check)
    );

    // Down: nothing left, and down again is fine.
    let state = lab.state.clone();
    let out = lab.down();
    assert!(out.status.success(), "lab down:\n{}", text(&out));
    assert_nothing_left(&lab.dir, Some(&state));
    let again = lab.down();
    assert!(again.status.success(), "second lab down:\n{}", text(&again));
    assert!(
        stdout(&again).contains("no lab running"),
        "{}",
        text(&again)
    );
}

#[test]
fn faults_stop_ssh_partition_kill_service_and_break_with_real_generations() {
    let manifest = generated("faults", 3);
    let lab = Lab::up("faults", &manifest);
    let ok = |host: &str| {
        let out = lab.ssh_opts(&["-o", "ConnectTimeout=2"], host, Some("true"));
        assert!(
            out.status.success(),
            "ssh {host} should work:\n{}",
            text(&out)
        );
    };

    // stop-ssh: that host refuses ssh at once, others do not care; start-ssh restores.
    lab.fault("stop-ssh", "svc02");
    let t = Instant::now();
    let out = lab.ssh("svc02", "true");
    assert_eq!(
        out.status.code(),
        Some(255),
        "ssh to a stopped sshd:\n{}",
        text(&out)
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    ok("svc01");
    lab.fault("start-ssh", "svc02");
    ok("svc02");

    // partition: connections time out; heal restores.
    lab.fault("partition", "svc02");
    let out = lab.ssh_opts(&["-o", "ConnectTimeout=1"], "svc02", Some("true"));
    assert_eq!(
        out.status.code(),
        Some(255),
        "ssh to a partitioned host:\n{}",
        text(&out)
    );
    assert!(stderr(&out).contains("timed out"), "{}", text(&out));
    ok("svc01");
    lab.fault("heal", "svc02");
    ok("svc02");

    // kill-service: the manifest's health commands fail; restarting the unit heals.
    let services = manifest_services(&manifest);
    let svc3 = services.iter().find(|s| s.name == "svc03").unwrap();
    let health = svc3.interface.health.clone().unwrap();
    let probe = |want_ok: bool| {
        for cmd in [&health.startup, &health.liveness] {
            let out = lab.ssh("svc03", cmd);
            assert_eq!(
                out.status.success(),
                want_ok,
                "svc03 `{cmd}` should {}:\n{}",
                if want_ok { "pass" } else { "fail" },
                text(&out)
            );
        }
    };
    probe(true);
    lab.fault("kill-service", "svc03");
    probe(false);
    let out = lab.ssh("svc03", "systemctl status svc03");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stdout(&out).contains("Result: signal"), "{}", text(&out));
    let out = lab.ssh("svc03", "systemctl restart svc03");
    assert!(out.status.success(), "{}", text(&out));
    probe(true);

    // break: the next build (the lab's build template from nixmox.json) is
    // a new generation whose unit dies; switch-to-configuration says so (4);
    // the literal NixOS rollback brings the healthy one back; fix heals builds.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.join("nixmox.json")).unwrap())
            .unwrap();
    let build = |salt: &str| -> String {
        let argv: Vec<String> = config["templates"]["build"]
            .as_array()
            .expect("templates.build")
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("{manifest}", manifest.to_str().unwrap())
                    .replace("{service}", "svc03")
                    .replace("{salt}", salt)
            })
            .collect();
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = lab.exec(&args);
        assert!(out.status.success(), "build:\n{}", text(&out));
        stdout(&out).trim().to_string()
    };
    let activate = |p: &str| {
        lab.ssh(
            "svc03",
            &format!("nix-env -p /nix/var/nix/profiles/system --set {p} && {p}/bin/switch-to-configuration switch"),
        )
    };
    let gen1 = lab
        .state
        .hosts
        .iter()
        .find(|h| h.name == "svc03")
        .unwrap()
        .system
        .clone()
        .unwrap();
    assert_eq!(
        build(""),
        gen1,
        "an unchanged manifest rebuilds the same system"
    );
    lab.fault("break", "svc03");
    let broken = build("t1");
    assert_ne!(broken, gen1);
    let out = activate(&broken);
    assert_eq!(
        out.status.code(),
        Some(4),
        "a broken unit fails the switch:\n{}",
        text(&out)
    );
    probe(false);
    let out = lab.ssh(
        "svc03",
        "nix-env -p /nix/var/nix/profiles/system --list-generations",
    );
    let gens = stdout(&out);
    assert!(
        gens.lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with('2') && l.ends_with("(current)")),
        "{gens}"
    );
    let out = lab.ssh(
        "svc03",
        "nix-env -p /nix/var/nix/profiles/system --rollback && /nix/var/nix/profiles/system/bin/switch-to-configuration switch",
    );
    assert!(out.status.success(), "rollback:\n{}", text(&out));
    probe(true);
    lab.fault("fix", "svc03");
    let healthy = build("t2");
    let out = activate(&healthy);
    assert!(out.status.success(), "fixed build:\n{}", text(&out));
    probe(true);
    let out = lab.ssh(
        "svc03",
        "nix-env -p /nix/var/nix/profiles/system --list-generations",
    );
    let gens = stdout(&out);
    assert_eq!(gens.lines().count(), 3, "{gens}");
    assert!(
        gens.lines().nth(2).unwrap().ends_with("(current)"),
        "{gens}"
    );
    // Other hosts still have only their generation 1.
    let out = lab.ssh(
        "svc01",
        "nix-env -p /nix/var/nix/profiles/system --list-generations",
    );
    assert_eq!(stdout(&out).lines().count(), 1, "{}", text(&out));

    let state = lab.state.clone();
    let out = lab.down();
    assert!(out.status.success(), "{}", text(&out));
    assert_nothing_left(&lab.dir, Some(&state));
    let _ = std::fs::remove_file(manifest);
}

#[test]
fn up_twice_on_one_dir_is_refused_and_down_is_idempotent() {
    let manifest = generated("twice", 1);
    let lab = Lab::up("twice", &manifest);
    let keeper = lab.state.keeper.unwrap().pid;
    let out = nixmox(&[
        "lab",
        "up",
        "--manifest",
        manifest.to_str().unwrap(),
        "--dir",
        lab.d(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("in use"), "{err}");
    assert!(err.contains(&format!("keeper pid {keeper}")), "{err}");
    assert!(err.contains("lab down --dir"), "{err}");
    // The first lab is untouched.
    let out = lab.ssh("svc01", "systemctl is-active svc01");
    assert!(out.status.success(), "{}", text(&out));
    let state = lab.state.clone();
    for _ in 0..2 {
        let out = lab.down();
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_nothing_left(&lab.dir, Some(&state));
    let _ = std::fs::remove_file(manifest);
}

#[test]
fn up_refuses_an_invalid_manifest_with_the_errors_check_prints() {
    preconditions();
    let manifest = repo().join("tests/corpus/unknown-dependency.json");
    let dir = test_dir("invalid");
    let check = nixmox(&["check", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let errors: Vec<String> = stderr(&check)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_string)
        .collect();
    assert!(!errors.is_empty());
    let out = nixmox(&[
        "lab",
        "up",
        "--manifest",
        manifest.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for e in &errors {
        assert!(
            stderr(&out).contains(e.as_str()),
            "missing {e:?}:\n{}",
            text(&out)
        );
    }
    assert!(
        stderr(&out).contains("nothing was started"),
        "{}",
        text(&out)
    );
    assert!(
        !dir.exists(),
        "an invalid manifest must not touch the lab dir"
    );
}

#[test]
fn up_refuses_without_root_or_tools_and_says_what_is_missing() {
    preconditions();
    let dir = test_dir("refuse");
    let d = dir.to_str().unwrap();
    let manifest = repo().join("nixos/service-manifest.nix");
    let m = manifest.to_str().unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "lab",
            "up",
            "--manifest",
            m,
            "--dir",
            d,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("must run as root"), "{}", text(&out));
    let out = Command::new(BIN)
        .args(["lab", "up", "--manifest", m, "--dir", d])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    for want in [
        "missing tools",
        "nix-build",
        "nix-bin",
        "ssh-keygen",
        "openssh-client",
        "apt-get install",
    ] {
        assert!(err.contains(want), "expected {want:?} in:\n{err}");
    }
    assert!(!dir.exists());
}

#[test]
fn a_failed_up_tears_down_what_it_started() {
    preconditions();
    // svc02 wants port 22 on all addresses, where its host's sshd listens:
    // its unit cannot start, so activation fails halfway through `lab up`.
    let gen = generated("failing", 2);
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&gen).unwrap()).unwrap();
    m["services"]["svc02"]["ports"] = serde_json::json!([22]);
    std::fs::write(&gen, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let dir = test_dir("failing");
    let out = nixmox(&[
        "lab",
        "up",
        "--manifest",
        gen.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("svc02") && err.contains("activation of generation 1 failed"),
        "{err}"
    );
    assert!(err.contains("torn down"), "{err}");
    assert_nothing_left(&dir, None);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(gen);
}

#[test]
fn fifty_generated_hosts_come_up_and_go_down() {
    let manifest = generated("fifty", 50);
    let lab = Lab::up("fifty", &manifest);
    assert_eq!(lab.state.hosts.len(), 50);
    let st = lab.lab(&["status"]);
    assert!(st.status.success(), "lab status:\n{}", text(&st));
    assert_eq!(stdout(&st).matches(":active").count(), 50, "{}", text(&st));
    let out = lab.ssh(
        "svc50",
        "systemctl is-active svc50 && curl -fsS http://localhost:8049/health",
    );
    assert!(out.status.success(), "{}", text(&out));
    let veths: BTreeSet<&str> = lab.state.hosts.iter().map(|h| h.veth.as_str()).collect();
    assert_eq!(veths.len(), 50);
    assert!(veths.iter().all(|v| v.len() <= 15));
    let state = lab.state.clone();
    let t = Instant::now();
    let out = lab.down();
    assert!(out.status.success(), "{}", text(&out));
    eprintln!("[fifty] lab down: {:.2} s", t.elapsed().as_secs_f64());
    assert_nothing_left(&lab.dir, Some(&state));
    let _ = std::fs::remove_file(&lab.manifest);
}
