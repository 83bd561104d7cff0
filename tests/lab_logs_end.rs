//! `nixmox logs` ends when it should, whatever its stdin is: without `-f` it
//! exits when the host's journal output ends (stdin an open pipe that is
//! never written, a terminal, or /dev/null), and a follow ends once its
//! reader has gone (`logs -f | head -1`). Each used to hang. Runs inside a
//! private network namespace, against a one-host lab.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Waits for `child` to end, at most `within`; kills it and fails if not.
fn ends_within(mut child: Child, within: Duration, what: &str) -> std::process::Output {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > within {
            let _ = child.kill();
            panic!("{what}: still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn logs_end_with_the_journal_and_when_their_reader_goes() {
    let manifest = generated("logs-end", 1);
    let lab = Lab::up("logs-end", &manifest);
    let svc = manifest_services(&manifest).remove(0).name;
    for i in 0..5 {
        let out = lab.lab(&["fault", "write-log", &svc, &format!("line {i}")]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let within = Duration::from_secs(15);

    // stdin an open pipe nobody writes to (we keep its other end).
    let child = lab
        .exec_cmd(&["nixmox", "logs", &svc, "-n", "3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ends_within(child, within, "logs -n 3, stdin an open pipe");
    assert!(out.status.success(), "{}", text(&out));
    let lines = stdout(&out).lines().count();
    assert!((1..=3).contains(&lines), "{lines} lines:\n{}", text(&out));

    // stdin /dev/null.
    let child = lab
        .exec_cmd(&["nixmox", "logs", &svc, "-n", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ends_within(child, within, "logs -n 3, stdin /dev/null");
    assert!(out.status.success(), "{}", text(&out));

    // stdin (and stdout) a terminal: `script` gives the command a pty.
    let inner = format!("{BIN} lab exec --dir {} -- nixmox logs {svc} -n 3", lab.d());
    let child = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ends_within(child, within, "logs -n 3 on a terminal");
    assert!(out.status.success(), "{}", text(&out));

    // A follow whose reader leaves after one line.
    let pipeline = format!(
        "{BIN} lab exec --dir {} -- nixmox logs {svc} -f -n 1 | head -n 1",
        lab.d()
    );
    let child = Command::new("sh")
        .args(["-c", &pipeline])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // At once: not at the next journal line, whenever that comes.
    let out = ends_within(child, Duration::from_secs(4), "logs -f | head -1");
    assert_eq!(stdout(&out).lines().count(), 1, "{}", text(&out));
}
