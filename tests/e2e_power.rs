//! End to end at 80×24 (issue 14): the real console in tmux against a real
//! lab. `s` hands the terminal to a shell on the selected service's host and
//! the console comes back intact when it ends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use common::tmux::Tmux;
use std::time::Duration;

#[test]
fn s_opens_a_shell_on_the_host_and_the_console_comes_back_intact() {
    let manifest = generated("power-shell", 2);
    let lab = Lab::up("power-shell", &manifest);
    let services = manifest_services(&manifest);
    let tmux = Tmux::new("power-shell", 80, 24);
    tmux.start_console(&lab, &lab.manifest);
    let first = tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("services ·")
    });
    let named = |s: &str| services.iter().all(|svc| s.contains(&svc.name));
    assert!(named(&first), "{first}");

    tmux.keys(&["s"]);
    tmux.wait_for("the console suspended", Duration::from_secs(10), |s| {
        !s.contains("services ·")
    });
    // The shell's prompt is the host's business; the typed line waits in
    // the pty until the shell reads it.
    tmux.type_line("echo SHELL-$((6*7))");
    tmux.wait_for("the command's output", Duration::from_secs(10), |s| {
        // The echoed line has `$((6*7))`, not 42: this is the output.
        s.lines().any(|l| l.trim_end().ends_with("SHELL-42"))
    });
    tmux.type_line("exit");
    let back = tmux.wait_for("the console back", Duration::from_secs(10), |s| {
        s.contains("services ·") && s.contains("shell on")
    });
    assert!(named(&back), "the tree is drawn again:\n{back}");
    assert!(
        !back.contains("SHELL-42"),
        "nothing of the shell is left:\n{back}"
    );
    assert_eq!(back.lines().count(), 24, "{back}");

    // Keys work again: the help opens and closes.
    tmux.keys(&["?"]);
    tmux.wait_for("the help", Duration::from_secs(5), |s| {
        s.contains("shell on the selected service's host")
    });
    tmux.keys(&["Escape", "q"]);
    tmux.wait_for("the console gone", Duration::from_secs(10), |s| {
        !s.contains("services ·")
    });
}

#[test]
fn h_lists_an_earlier_deploy_with_its_outcome_and_steps() {
    let manifest = generated("power-history", 2);
    let lab = Lab::up("power-history", &manifest);
    let name = manifest_services(&manifest)[1].name.clone();
    // The host already runs this system: only --force deploys it again.
    let out = lab.exec(&["nixmox", "deploy", &name, "--yes", "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    let tmux = Tmux::new("power-history", 80, 24);
    tmux.start_console(&lab, &lab.manifest);
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("services ·")
    });
    tmux.keys(&["H"]);
    let s = tmux.wait_for("the deploy listed", Duration::from_secs(10), |s| {
        s.contains(&format!("deploy {name} by"))
    });
    let host_row = s
        .lines()
        .find(|l| l.contains(&format!("  {name} ")) && !l.contains(" by "))
        .unwrap_or_else(|| panic!("no host row:\n{s}"));
    assert!(host_row.contains("deployed"), "{s}");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("its steps", Duration::from_secs(5), |s| {
        s.contains(": steps")
    });
    assert!(s.contains("activate"), "{s}");
    tmux.keys(&["Escape", "Escape", "q"]);
    tmux.wait_for("the console gone", Duration::from_secs(10), |s| {
        !s.contains("services ·")
    });
}

#[test]
fn f_kills_the_selected_service_from_the_fault_menu_and_the_console_sees_it() {
    let manifest = generated("power-fault", 2);
    let lab = Lab::up("power-fault", &manifest);
    let tmux = Tmux::new("power-fault", 80, 24);
    tmux.start_console(&lab, &lab.manifest);
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("services ·")
    });
    tmux.keys(&["F"]);
    let menu = tmux.wait_for("the fault menu", Duration::from_secs(5), |s| {
        s.contains("lab fault: ")
    });
    let service = menu
        .lines()
        .find_map(|l| l.split("lab fault: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    tmux.keys(&["Enter"]);
    let said = tmux.wait_for("the lab's answer", Duration::from_secs(10), |s| {
        s.contains(&format!("lab: kill-service {service}"))
    });
    assert!(!said.contains("failed:"), "{said}");
    // Detection: its row turns failing or down.
    tmux.wait_for("the service seen failing", Duration::from_secs(15), |s| {
        s.lines()
            .any(|l| l.contains(&format!(" {service} ")) && (l.contains('▼') || l.contains('✖')))
    });
    tmux.keys(&["q"]);
}
