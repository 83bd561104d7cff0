//! `nixmox logs A B`: two services' journals interleaved by time, each line
//! tagged with its service, against real lab hosts through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::lab::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn write_log(lab: &Lab, svc: &str, line: &str) {
    let out = lab.lab(&["fault", "write-log", svc, line]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn two_journals_are_interleaved_by_time_tagged_and_followed() {
    let lab = Lab::up("lg", &generated("lg", 2));
    let id = std::process::id();
    // Journal timestamps have whole seconds: a second apart, the order is
    // the journals' own, not the order the hosts' streams arrive in.
    let marks = [
        ("svc01", format!("first-{id}")),
        ("svc02", format!("second-{id}")),
        ("svc01", format!("third-{id}")),
    ];
    for (i, (svc, m)) in marks.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        write_log(&lab, svc, m);
    }
    let out = lab.exec(&["nixmox", "logs", "svc01", "svc02", "-n", "5"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = stdout(&out);
    assert!(
        shown
            .lines()
            .all(|l| l.starts_with("svc01 | ") || l.starts_with("svc02 | ")),
        "every line tagged:\n{shown}"
    );
    let at = |svc: &str, m: &str| {
        shown
            .lines()
            .position(|l| l.starts_with(&format!("{svc} | ")) && l.contains(m))
            .unwrap_or_else(|| panic!("{svc}'s {m} not shown:\n{shown}"))
    };
    let order: Vec<usize> = marks.iter().map(|(s, m)| at(s, m)).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "in time order:\n{shown}"
    );

    // Following: new lines of both come out, tagged.
    let mut child = lab
        .exec_cmd(&["nixmox", "logs", "svc01", "svc02", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    // Live once a line written now comes back from each.
    for svc in ["svc01", "svc02"] {
        let mut live = false;
        for i in 0..20 {
            let warm = format!("warm-{svc}-{i}-{id}");
            write_log(&lab, svc, &warm);
            let deadline = Instant::now() + Duration::from_millis(700);
            while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                if l.contains(&warm) {
                    assert!(l.starts_with(&format!("{svc} | ")), "{l}");
                    live = true;
                    break;
                }
            }
            if live {
                break;
            }
        }
        assert!(live, "{svc}'s tail never delivered a line");
    }
    for svc in ["svc02", "svc01"] {
        let marker = format!("{svc} | ");
        let msg = format!("followed-{svc}-{id}");
        write_log(&lab, svc, &msg);
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut seen = false;
        while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if l.contains(&msg) {
                assert!(l.starts_with(&marker), "{l}");
                seen = true;
                break;
            }
        }
        assert!(seen, "{msg} did not come");
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    wait_until("the remote tails end", Duration::from_secs(5), || {
        follow_processes(&lab.dir).is_empty()
    });
}
