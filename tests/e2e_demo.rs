//! End to end at 80×24 (issue 14): `nixmox demo` as a newcomer runs it. The
//! hosts come with a past, so the rollback wizard offers an earlier
//! generation right after start; quitting the console tears the lab down.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use common::tmux::Tmux;
use std::time::Duration;

#[test]
fn the_demo_has_a_past_to_roll_back_to_and_leaves_nothing_behind() {
    preconditions();
    let dir = test_dir("demo");
    let tmux = Tmux::new("demo", 80, 24);
    let bin = env!("CARGO_BIN_EXE_nixmox");
    let manifest = repo().join("nixos/service-manifest.nix");
    tmux.type_line(&format!(
        "{bin} --manifest {} demo --dir {}; echo DEMO-EXIT-$?",
        manifest.display(),
        dir.display()
    ));
    tmux.wait_for("the console", Duration::from_secs(240), |s| {
        s.contains("services ·")
    });
    // Generation 3 runs, and the wizard offers 2 before anything was done.
    tmux.keys(&["/", "g", "r", "a", "f", "a", "n", "a", "Enter"]);
    tmux.wait_for("grafana at g3", Duration::from_secs(20), |s| {
        s.contains("g3") && s.contains("generation 3")
    });
    tmux.keys(&["r"]);
    let s = tmux.wait_for("generations listed", Duration::from_secs(20), |s| {
        s.contains("2/4 choose")
    });
    let offered = s
        .lines()
        .find(|l| l.contains(">    2 "))
        .map(str::to_string);
    assert!(offered.is_some(), "generation 2 offered first:\n{s}");
    assert!(
        s.lines()
            .any(|l| l.contains("    3 ") && l.contains("current")),
        "3 is the current one:\n{s}"
    );
    tmux.keys(&["Escape", "Escape", "q"]);
    let s = tmux.wait_for("the demo's end", Duration::from_secs(60), |s| {
        s.contains("DEMO-EXIT-")
    });
    assert!(s.contains("DEMO-EXIT-0"), "{s}");
    assert!(!dir.exists(), "the lab directory is removed");
}
