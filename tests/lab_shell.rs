//! `nixmox ssh SERVICE [-- CMD…]` in a lab: the command runs on that
//! service's own host, its words arrive exactly as written (quoted once,
//! never re-split or expanded), its exit status comes back, and an unknown
//! service is refused by name. Runs inside a private network namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;

#[test]
fn a_command_runs_on_the_services_own_host_with_its_words_intact() {
    let manifest = generated("shell", 2);
    let lab = Lab::up("shell", &manifest);
    let services = manifest_services(&manifest);
    let (a, b) = (&services[0], &services[1]);

    // Each host answers with its own address: the command ran there.
    for svc in [a, b] {
        let out = lab.exec(&[
            "nixmox", "ssh", &svc.name, "--", "ip", "-4", "-o", "addr", "show", "eth0",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            stdout(&out).contains(&format!("inet {}/", svc.ip)),
            "{} ran elsewhere:\n{}",
            svc.name,
            text(&out)
        );
    }

    // Spaces, quotes, `$` and `;` stay one literal word each.
    let out = lab.exec(&[
        "nixmox",
        "ssh",
        &a.name,
        "--",
        "printf",
        "%s|",
        "a b",
        "$HOME",
        "x;echo pwned",
        "it's",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "a b|$HOME|x;echo pwned|it's|");

    // The remote exit status is the command's.
    let out = lab.exec(&["nixmox", "ssh", &a.name, "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));

    let out = lab.exec(&["nixmox", "ssh", "no-such-service", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("no-such-service"), "{}", text(&out));
}
