//! End to end at 80×24 (issue 14): `L` in the real console against a real
//! lab shows the selected service's journal and those of what it depends
//! on, interleaved by time, each line behind its service's tag; closing
//! the screen ends every remote tail.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use common::tmux::Tmux;
use std::time::Duration;

fn write_log(lab: &Lab, svc: &str, line: &str) {
    let out = lab.lab(&["fault", "write-log", svc, line]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The screen row (from the top) of the line tagged `svc` that shows `mark`.
fn row_of(screen: &str, svc: &str, mark: &str) -> Option<usize> {
    screen
        .lines()
        .position(|l| l.contains(&format!("{svc} │ ")) && l.contains(mark))
}

#[test]
fn big_l_interleaves_the_logs_of_a_service_and_what_it_depends_on() {
    // svc02 depends on svc01.
    let manifest = generated("e2e-logs", 2);
    let lab = Lab::up("e2e-logs", &manifest);
    let deps = &manifest_services(&manifest)
        .into_iter()
        .find(|s| s.name == "svc02")
        .unwrap()
        .depends_on;
    assert_eq!(deps, &["svc01".to_string()]);
    let tmux = Tmux::new("e2e-logs", 80, 24);
    tmux.start_console(&lab, &lab.manifest);
    tmux.wait_for("the first frame", Duration::from_secs(20), |s| {
        s.contains("services ·")
    });
    // The details pane's title names the selected service.
    for _ in 0..5 {
        if tmux.screen().contains("┌ svc02 ") {
            break;
        }
        tmux.keys(&["j"]);
    }
    tmux.wait_for("svc02 selected", Duration::from_secs(5), |s| {
        s.contains("┌ svc02 ")
    });

    tmux.keys(&["L"]);
    // Both journals' past lines first: both tails are running.
    let s = tmux.wait_for("both journals tailed", Duration::from_secs(20), |s| {
        ["svc01", "svc02"]
            .iter()
            .all(|svc| row_of(s, svc, &format!("Started {svc}")).is_some())
    });
    assert!(s.contains("logs · svc02 +1 (svc01)"), "{s}");
    let id = std::process::id();
    // Followed lines, a second apart: the journals' timestamps order them,
    // whatever order the two hosts' streams arrive in.
    let marks = [
        ("svc01", format!("one-{id}")),
        ("svc02", format!("two-{id}")),
        ("svc01", format!("three-{id}")),
    ];
    for (i, (svc, m)) in marks.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        write_log(&lab, svc, m);
    }
    let s = tmux.wait_for("both journals interleaved", Duration::from_secs(10), |s| {
        marks.iter().all(|(svc, m)| row_of(s, svc, m).is_some())
    });
    let rows: Vec<usize> = marks
        .iter()
        .filter_map(|(svc, m)| row_of(&s, svc, m))
        .collect();
    assert!(
        rows.windows(2).all(|w| w[0] < w[1]),
        "interleaved by time:\n{s}"
    );
    assert_eq!(s.lines().count(), 24, "{s}");

    // Closing the screen ends both remote tails.
    assert!(!follow_processes(&lab.dir).is_empty(), "nothing follows?");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the main screen", Duration::from_secs(5), |s| {
        s.contains("services ·")
    });
    wait_until("the remote tails end", Duration::from_secs(10), || {
        follow_processes(&lab.dir).is_empty()
    });
    tmux.keys(&["q"]);
    tmux.wait_for("the console gone", Duration::from_secs(10), |s| {
        !s.contains("services ·")
    });
}
