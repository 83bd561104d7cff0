//! End to end at 80×24 (issue 12): the real console in tmux against a real
//! lab, driven by keys and read back from the screen. The console tells the
//! truth at once (a dead service is down within about a second, a failing
//! probe shows at its first failure), everything is reachable by scrolling,
//! failures say why, a stale lock is broken from the console, and an edited
//! manifest is reloaded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use common::tmux::{tree_row, Tmux};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The first test times how soon the truth shows; a second lab starting
/// beside it on the same two cores would time that lab instead.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The lab's manifest as JSON in the lab dir (so a test can edit it), and
/// the console started on it in `tmux`.
fn start_console(lab: &Lab, tmux: &Tmux) -> std::path::PathBuf {
    let value = nixmox::manifest::load_value(&lab.manifest).unwrap();
    let json = lab.dir.join("manifest-e2e.json");
    std::fs::write(&json, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    tmux.start_console(lab, &json);
    json
}

const LOCK: &str = "/nix/var/nix/profiles/.nixmox.lock";

#[test]
fn truth_at_a_glance_and_everything_reachable_at_80x24() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::up("truth-a", &repo().join("nixos/service-manifest.nix"));
    let tmux = Tmux::new("truth-a", 80, 24);
    // Dead before the console starts: it must say so at once, not after
    // `retries` intervals.
    lab.fault("kill-service", "vaultwarden");
    let manifest = start_console(&lab, &tmux);
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("services ·")
    });
    let first_frame = Instant::now();
    let s = tmux.wait_for("vaultwarden down", Duration::from_secs(10), |s| {
        tree_row(s, "vaultwarden").is_some_and(|r| r.contains('✖'))
    });
    let took = first_frame.elapsed();
    eprintln!("first frame → vaultwarden down: {took:?}");
    // The bound is the issue's 1.5 s, unless ssh itself is slower here:
    // then no slower than `status --once` (which opens its own masters).
    let status = Instant::now();
    let out = lab.exec(&["nixmox", "status", "--once"]);
    let once = status.elapsed();
    eprintln!("status --once: {once:?} ({})", out.status);
    assert!(
        took <= Duration::from_millis(1500).max(once + Duration::from_millis(500)),
        "down after {took:?}; status --once took {once:?}"
    );
    assert!(!s.contains("starting"), "no row waits as starting:\n{s}");

    // Help scrolls to its end: the main screen's q, then the help's own keys.
    tmux.keys(&["?"]);
    let mut seen = tmux.screen();
    for _ in 0..12 {
        tmux.keys(&["PgDn"]);
        seen.push_str(&tmux.screen());
    }
    assert!(seen.contains("quit (asks while operations run)"), "{seen}");
    assert!(seen.contains("close help"), "{seen}");
    tmux.keys(&["Escape"]);

    // The D plan on caddy: every wave and the question, by scrolling.
    tmux.keys(&["g", "D"]);
    let mut plan = tmux.wait_for("the plan", Duration::from_secs(5), |s| {
        s.contains("deploy?")
    });
    for _ in 0..20 {
        assert!(plan.contains(", n cancel"), "the question: {plan}");
        tmux.keys(&["j"]);
        plan.push_str(&tmux.screen());
    }
    for wave in 1..=4 {
        assert!(
            plan.contains(&format!("wave {wave} (")),
            "wave {wave}:\n{plan}"
        );
    }
    tmux.keys(&["n"]);

    // A killed service shows failing at its first failed probe, and its
    // dependents the impact mark.
    lab.fault("kill-service", "grafana");
    tmux.keys(&["R"]);
    let s = tmux.wait_for("grafana failing", Duration::from_secs(10), |s| {
        tree_row(s, "grafana").is_some_and(|r| r.contains('▼') && r.contains("/3"))
    });
    // The tree pane is the part of the line before the details pane.
    let homepage = tree_row(&s, "homepage")
        .unwrap()
        .split("││")
        .next()
        .unwrap();
    assert!(homepage.contains(" !"), "{s}");

    // An edited manifest is reloaded (and a broken edit kept out).
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, "{ not json").unwrap();
    tmux.wait_for("an invalid edit refused", Duration::from_secs(8), |s| {
        s.contains("not valid")
    });
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["services"].as_object_mut().unwrap().remove("wikijs");
    std::fs::write(&manifest, serde_json::to_string(&value).unwrap()).unwrap();
    let s = tmux.wait_for("the edit reloaded", Duration::from_secs(8), |s| {
        s.contains("manifest reloaded")
    });
    assert!(tree_row(&s, "wikijs").is_none(), "{s}");

    // Idle: the console's own CPU over 10 s (ages tick once a second).
    let pid = proc_pids()
        .into_iter()
        .find(|p| {
            // nixmox itself: the builds it starts to look for drift name
            // the manifest too.
            let c = cmdline(*p);
            c.first().is_some_and(|a| a.ends_with("/nixmox"))
                && c.iter().any(|a| a.ends_with("manifest-e2e.json"))
                && !c.iter().any(|a| a == "exec")
        })
        .expect("the console process");
    let ticks = || -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split(' ').collect();
        // utime and stime: fields 14 and 15, here 11 and 12 after the name.
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let (t0, c0) = (Instant::now(), ticks());
    std::thread::sleep(Duration::from_secs(10));
    let cpu = (ticks() - c0) as f64 / 100.0 / t0.elapsed().as_secs_f64() * 100.0;
    eprintln!("idle CPU: {cpu:.2} %");
    // The budget (0.5 %) is the release build's; a debug build draws its
    // once-a-second frame several times slower.
    let budget = if cfg!(debug_assertions) { 3.0 } else { 0.5 };
    assert!(cpu <= budget, "idle CPU {cpu:.2} %");
    tmux.keys(&["q"]);
}

#[test]
fn failures_say_why_and_a_stale_lock_is_broken_from_the_console() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::up("truth-b", &repo().join("nixos/service-manifest.nix"));
    let tmux = Tmux::new("truth-b", 80, 24);
    let ip = manifest_services(&lab.manifest)
        .into_iter()
        .find(|s| s.name == "homepage")
        .unwrap()
        .ip
        .to_string();
    let holder = r#"{"user":"alice@admin2","pid":4242,"op":"77","action":"deploy homepage","since":"2026-11-25T19:00:00.000Z"}"#;
    let out = lab.ssh(
        &ip,
        &format!("mkdir {LOCK} && printf '%s' {} > {LOCK}/holder && touch -d '-120 seconds' {LOCK}/holder", q(holder)),
    );
    assert!(out.status.success(), "{}", text(&out));
    start_console(&lab, &tmux);
    tmux.wait_for("the console", Duration::from_secs(20), |s| {
        s.contains("services ·")
    });
    // The filter selects homepage.
    tmux.keys(&["/", "h", "o", "m", "e", "p", "Enter", "d"]);
    // The preview warns of the lock above the question; the host runs its
    // build already, so only `f` deploys (into the lock's refusal).
    tmux.wait_for("the preview's warning", Duration::from_secs(30), |s| {
        s.contains("deploy?") && s.contains("alice@admin2") && s.contains("f deploy anyway")
    });
    tmux.keys(&["f"]);
    let s = tmux.wait_for(
        "the refusal with its reason",
        Duration::from_secs(30),
        |s| s.contains("STALE lock") && s.contains("1 failed"),
    );
    assert!(s.contains("alice@admin2"), "the holder is named:\n{s}");
    tmux.keys(&["B"]);
    tmux.wait_for("the question", Duration::from_secs(5), |s| {
        s.contains("break lock?") && s.contains("y break it")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("broken", Duration::from_secs(15), |s| {
        s.contains("broke the stale lock")
    });
    let out = lab.ssh(&ip, &format!("test -e {LOCK} && echo held || echo free"));
    assert_eq!(stdout(&out).trim(), "free");
    tmux.keys(&["q"]);
}
