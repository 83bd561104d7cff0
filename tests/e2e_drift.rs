//! End to end at 80×24 (issue 14): drift and the deploy preview. The real
//! console in tmux against a real lab: an edit to one service in the
//! manifest marks exactly that host `≠` once its system is built, `u`
//! previews and deploys exactly it, and the mark goes once it runs the new
//! build; the other hosts stay on their generation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use common::tmux::{tree_row, Tmux};
use std::time::Duration;

/// What `ip`'s system profile points at (`system-N-link`).
fn generation(lab: &Lab, ip: &str) -> String {
    stdout(&lab.ssh(ip, "readlink /nix/var/nix/profiles/system"))
        .trim()
        .to_string()
}

#[test]
fn an_edited_service_shows_drift_and_u_deploys_exactly_it() {
    let lab = Lab::up("drift", &repo().join("nixos/service-manifest.nix"));
    let tmux = Tmux::new("drift", 80, 24);
    let mut value = nixmox::manifest::load_value(&lab.manifest).unwrap();
    let json = lab.dir.join("manifest-drift.json");
    std::fs::write(&json, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    tmux.start_console(&lab, &json);
    // The first look for drift ends with every host as the lab built it.
    tmux.keys(&["/", "w", "i", "k", "i", "Enter"]);
    tmux.wait_for("no drift", Duration::from_secs(60), |s| {
        s.contains("up to date with the manifest") && !s.contains("outdated")
    });
    let services = manifest_services(&lab.manifest);
    let ip_of = |name: &str| {
        services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.ip.to_string())
            .unwrap()
    };
    let before: Vec<(String, String)> = services
        .iter()
        .filter(|s| s.enable)
        .map(|s| (s.name.clone(), generation(&lab, &s.ip.to_string())))
        .collect();

    // One service's entry changes: its host alone is outdated once built.
    value["services"]["wikijs"]["interface"]["health"]["timeout"] = serde_json::json!(11);
    std::fs::write(&json, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    let s = tmux.wait_for("wikijs outdated", Duration::from_secs(60), |s| {
        tree_row(s, "wikijs").is_some_and(|r| r.contains('≠')) && s.contains("≠ 1 outdated")
    });
    assert!(
        s.contains("outdated: manifest changed") && s.contains("since gen 1"),
        "{s}"
    );

    // D on what wikijs depends on: one preview with the changed host and
    // the unchanged ones (skipped).
    tmux.keys(&["Escape", "/"]);
    for c in "postgresql".chars() {
        tmux.keys(&[&c.to_string()]);
    }
    tmux.keys(&["Enter", "D"]);
    let mut seen = tmux.wait_for(
        "the preview of postgresql's plan",
        Duration::from_secs(60),
        |s| s.contains("deploy?") && s.contains("preview: 1 changed"),
    );
    for _ in 0..20 {
        tmux.keys(&["j"]);
        seen.push_str(&tmux.screen());
    }
    assert!(
        seen.contains("postgresql 192.168.99.11  unchanged, skipped"),
        "{seen}"
    );
    assert!(seen.contains("wikijs 192.168.99.18  changed"), "{seen}");
    assert!(seen.contains("y deploy 1 host(s), f all"), "{seen}");
    tmux.keys(&["n"]);

    // `:deploy wikijs` opens the same preview for it alone.
    tmux.keys(&[":"]);
    tmux.tmux(&["send-keys", "-l", "deploy wikijs"]);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(
        "the preview from the command line",
        Duration::from_secs(60),
        |s| s.contains("deploy?") && s.contains("wikijs 192.168.99.18  changed"),
    );
    assert!(s.contains("Deploy wikijs alone"), "{s}");
    tmux.keys(&["n"]);

    // u: the preview of exactly that host, then its deploy.
    tmux.keys(&["u"]);
    let s = tmux.wait_for("the preview", Duration::from_secs(60), |s| {
        s.contains("deploy?") && s.contains("wikijs 192.168.99.18  changed")
    });
    assert!(s.contains("Deploy wikijs alone"), "{s}");
    assert!(s.contains("1 host(s) in 1 wave(s)"), "{s}");
    tmux.keys(&["y"]);
    tmux.wait_for("deployed", Duration::from_secs(90), |s| {
        s.contains("✔ deploy wikijs")
    });
    // Looked at again after the deploy: nothing outdated.
    tmux.wait_for("the mark gone", Duration::from_secs(60), |s| {
        !s.contains('≠') && s.contains("up to date with the manifest")
    });
    for (name, was) in before {
        let now = generation(&lab, &ip_of(&name));
        if name == "wikijs" {
            assert_ne!(now, was, "wikijs got a new generation");
        } else {
            assert_eq!(now, was, "{name} was left alone");
        }
    }
    tmux.keys(&["q"]);
}

#[test]
fn quitting_while_drift_builds_run_leaves_no_build_behind() {
    let lab = Lab::up("drift-quit", &generated("drift-quit", 2));
    let tmux = Tmux::new("drift-quit", 80, 24);
    // Builds that never end (and start a child of their own).
    let cfg = lab.config_with("hung-build", |c| {
        c["templates"]["build"] = serde_json::json!(["sh", "-c", "sleep 3019 & sleep 3019"]);
    });
    let bin = env!("CARGO_BIN_EXE_nixmox");
    tmux.type_line(&format!(
        "{bin} lab exec --dir {} -- {bin} --config {} --manifest {}",
        lab.d(),
        cfg,
        lab.manifest.display()
    ));
    let hung = || -> Vec<u32> {
        proc_pids()
            .into_iter()
            .filter(|p| !zombie(*p) && cmdline(*p) == ["sleep", "3019"])
            .collect()
    };
    wait_until("the drift builds running", Duration::from_secs(30), || {
        hung().len() >= 2
    });
    tmux.keys(&["q"]);
    tmux.wait_for("the console gone", Duration::from_secs(15), |s| {
        !s.contains("services ·")
    });
    wait_until("every build gone", Duration::from_secs(5), || {
        hung().is_empty()
    });
}
