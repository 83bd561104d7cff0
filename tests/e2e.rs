//! End to end: the real binary in tmux, inside a real lab, driven by keys
//! (`send-keys`) and read back from the screen (`capture-pane`), as an
//! operator would use it over ssh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use common::tmux::{tree_row, Tmux};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_console_in_tmux_against_a_lab() {
    let lab = Lab::up("e2e", &repo().join("nixos/service-manifest.nix"));
    let tmux = Tmux::new("e2e-main", 160, 48);
    let bin = env!("CARGO_BIN_EXE_nixmox");
    // The lab's console config with a build salt: every deploy from this
    // console builds a new system, so it makes a new generation.
    let cfg = lab.dir.join("nixmox-e2e.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.join("nixmox.json")).unwrap())
            .unwrap();
    c["vars"]["salt"] = serde_json::json!("e2e");
    std::fs::write(&cfg, c.to_string()).unwrap();
    tmux.type_line(&format!(
        "{bin} lab exec --dir {} -- {bin} --config {}",
        lab.d(),
        cfg.display()
    ));

    // Every service up.
    let names: Vec<String> = manifest_services(&lab.manifest)
        .into_iter()
        .map(|s| s.name)
        .collect();
    let s = tmux.wait_for("all services up", Duration::from_secs(20), |s| {
        s.contains(&format!("● {} up", names.len()))
    });
    for n in &names {
        let r = tree_row(&s, n).unwrap_or_else(|| panic!("{n} not in the tree:\n{s}"));
        assert!(r.contains('●'), "{n}: {r}");
    }

    // `/` filters.
    tmux.keys(&["/", "g", "r", "a", "f"]);
    let s = tmux.wait_for("filtered", Duration::from_secs(5), |s| {
        s.contains("filter \"graf\"")
    });
    assert!(
        tree_row(&s, "grafana").is_some() && tree_row(&s, "postgresql").is_none(),
        "{s}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("filter cleared", Duration::from_secs(5), |s| {
        !s.contains("filter \"") && tree_row(s, "postgresql").is_some()
    });

    // A service killed on its host turns red.
    lab.fault("kill-service", "vaultwarden");
    // Down takes `retries` (3) consecutive failures; re-probe instead of
    // waiting three 30 s intervals.
    for _ in 0..3 {
        tmux.keys(&["R"]);
        std::thread::sleep(Duration::from_millis(700));
    }
    tmux.wait_for("vaultwarden down", Duration::from_secs(30), |s| {
        tree_row(s, "vaultwarden").is_some_and(|r| r.contains('✖'))
    });
    let ansi = tmux.screen_ansi();
    let line = ansi
        .lines()
        .find(|l| l.contains("vaultwarden") && l.contains('✖'))
        .expect("the down row");
    let glyph_at = line.find('✖').unwrap();
    let before = &line[..glyph_at];
    let last_sgr = before.rfind("\u{1b}[").map(|i| &before[i..]).unwrap_or("");
    // Red is SGR 31, which tmux reports as palette colour 1.
    let red =
        last_sgr.contains("[31m") || last_sgr.ends_with(";38;5;1m") || last_sgr == "\u{1b}[38;5;1m";
    assert!(red, "the down glyph is red: {last_sgr:?} in {line:?}");
    let out = lab.ssh("192.168.99.14", "systemctl start vaultwarden");
    assert!(out.status.success(), "{}", text(&out));

    // `l` shows a line written on the host.
    tmux.keys(&["/"]);
    for c in "vaultwarden".chars() {
        tmux.keys(&[&c.to_string()]);
    }
    tmux.keys(&["Enter", "l"]);
    tmux.wait_for("logs open", Duration::from_secs(5), |s| {
        s.contains("logs · vaultwarden")
    });
    // Write until the line shows: the tail may still be opening the journal
    // when the screen first appears.
    let marker = format!("e2e-marker-{}", std::process::id());
    let t = Instant::now();
    loop {
        let out = lab.lab(&["fault", "write-log", "vaultwarden", &marker]);
        assert!(out.status.success(), "{}", text(&out));
        std::thread::sleep(Duration::from_millis(300));
        if tmux.screen().contains(&marker) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the host's log line never showed:\n{}",
            tmux.screen()
        );
    }
    tmux.keys(&["Escape"]);

    // `d` previews (the salt makes every build a new system, so the host
    // has changed), `y` deploys; the activity pane shows it finish.
    tmux.keys(&["d"]);
    tmux.wait_for("the preview", Duration::from_secs(30), |s| {
        s.contains("deploy?")
            && s.contains("wave 1 (1 host(s)):")
            && s.contains("  vaultwarden 192.168.99.14  changed")
            && s.contains("y deploy, n cancel")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("deploy done", Duration::from_secs(30), |s| {
        s.contains("✔ deploy vaultwarden")
    });

    // A broken build: the deploy shows the automatic rollback.
    lab.fault("break", "vaultwarden");
    tmux.keys(&["d"]);
    tmux.wait_for("the preview", Duration::from_secs(30), |s| {
        s.contains("deploy?") && s.contains("vaultwarden 192.168.99.14  changed")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("rolled back", Duration::from_secs(60), |s| {
        s.contains("1 rolled back")
    });
    lab.fault("fix", "vaultwarden");

    // `r` rolls back to the previous generation through the wizard.
    tmux.keys(&["r"]);
    tmux.wait_for("generations listed", Duration::from_secs(10), |s| {
        s.contains("2/4 choose")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for("consequences", Duration::from_secs(5), |s| {
        s.contains("3/4 confirm")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("rollback verified", Duration::from_secs(60), |s| {
        s.contains("Done:") && s.contains("healthy")
    });
    tmux.keys(&["Escape"]);

    // `q` quits and the pane is a shell again. Typed only once the console
    // has gone: until it has stopped its tasks it still reads the keys.
    tmux.keys(&["q"]);
    tmux.wait_for("the console gone", Duration::from_secs(15), |s| {
        !s.contains("services ·")
    });
    tmux.type_line("echo BACK-$((40+2))");
    tmux.wait_for("the shell", Duration::from_secs(10), |s| {
        s.contains("BACK-42")
    });
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    let lab = Lab::up("e2e-sig", &repo().join("nixos/service-manifest.nix"));
    let tmux = Tmux::new("e2e-sig", 100, 30);
    let bin = env!("CARGO_BIN_EXE_nixmox");
    for sig in ["TERM", "HUP"] {
        // A config path of our own marks the console process for pgrep.
        let cfg = lab.dir.join(format!("nixmox-sig-{sig}.json"));
        std::fs::copy(lab.dir.join("nixmox.json"), &cfg).unwrap();
        let before = lab.dir.join(format!("tty-before-{sig}"));
        let after = lab.dir.join(format!("tty-after-{sig}"));
        tmux.type_line(&format!("stty -g > {}", before.display()));
        tmux.type_line(&format!(
            "{bin} lab exec --dir {} -- {bin} --config {}",
            lab.d(),
            cfg.display()
        ));
        tmux.wait_for("the console", Duration::from_secs(20), |s| {
            s.contains("services ·")
        });
        let pid = proc_pids()
            .into_iter()
            .find(|p| {
                let c = cmdline(*p);
                c.iter().any(|a| a == cfg.to_str().unwrap()) && !c.iter().any(|a| a == "exec")
            })
            .expect("the console process");
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status();
        tmux.wait_for(
            "the console says why it stopped",
            Duration::from_secs(10),
            |s| s.contains(&format!("nixmox: stopped by SIG{sig}")),
        );
        // Type only once it is gone: until then its input reader could take
        // the line. (And no `;` in typed lines: tmux reads it as a separator.)
        wait_until("the console exits", Duration::from_secs(10), || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists() || zombie(pid)
        });
        tmux.type_line(&format!("stty -g > {}", after.display()));
        tmux.type_line(&format!(
            "cmp -s {} {} && echo TTY-RESTORED-{sig}",
            before.display(),
            after.display()
        ));
        let s = tmux.wait_for(
            "the shell with the terminal restored",
            Duration::from_secs(10),
            |s| s.contains(&format!("TTY-RESTORED-{sig}")),
        );
        assert!(
            !s.contains("services ·"),
            "the console's screen is gone after SIG{sig}:\n{s}"
        );
        tmux.type_line("clear");
    }
}
