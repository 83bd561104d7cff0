//! The binary's conventions: shell completions and a man page generated from
//! the CLI definition, and no ssh control directory left behind when a
//! command is stopped by SIGTERM or SIGHUP. Offline: the one command that
//! would use ssh gets an ssh config whose ProxyCommand fails at once, so no
//! connection is ever attempted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn nixmox() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nixmox"));
    // Neither needs (nor may be broken by) a config or a manifest.
    c.env("NIXMOX_CONFIG", "/nonexistent/config.toml")
        .env("NIXMOX_MANIFEST", "/nonexistent/manifest.nix");
    c
}

fn ok_stdout(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("UTF-8 output")
}

#[test]
fn completions_for_every_shell() {
    let bash = ok_stdout(nixmox().args(["completions", "bash"]).output().unwrap());
    assert!(bash.contains("nixmox"), "{bash}");
    assert!(bash.contains("deploy"), "{bash}");
    assert!(bash.contains("--manifest"), "{bash}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = ok_stdout(nixmox().args(["completions", shell]).output().unwrap());
        assert!(
            script.contains("nixmox") && script.contains("rollback"),
            "{shell}: {script}"
        );
    }
    let o = nixmox().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn a_man_page_in_roff() {
    let page = ok_stdout(nixmox().arg("man").output().unwrap());
    // clap_mangen opens with string definitions for the apostrophe
    // (`.ie`/`.el`); the first request after them is the title.
    let first_request = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap_or_default();
    assert!(
        first_request.starts_with(".TH nixmox 1"),
        "{first_request:?}"
    );
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains("deploy"), "{page}");
}

/// A manifest with one host and a console config whose ssh cannot connect
/// (ProxyCommand false) and whose control sockets go under `root/ctl`.
fn offline_setup(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let root = std::env::temp_dir().join(format!("nixmox-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let manifest = root.join("m.json");
    std::fs::write(
        &manifest,
        r#"{"network":{"gateway":"127.0.0.1","network_cidr":"127.0.0.0/24","domain":"test.lan"},
 "services":{"web":{"ip":"127.0.0.9","hostname":"web","depends_on":[],"ports":[80],
   "interface":{"health":{"startup":"true","liveness":"true","interval":1,"timeout":2,"retries":1}}}}}"#,
    )
    .unwrap();
    let ssh_config = root.join("ssh_config");
    std::fs::write(&ssh_config, "Host *\n  ProxyCommand false\n").unwrap();
    let ctl = root.join("ctl");
    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[ssh]\nconfig_file = {:?}\nknown_hosts = \"/dev/null\"\ncontrol_dir = {:?}\n",
            ssh_config.display().to_string(),
            ctl.display().to_string()
        ),
    )
    .unwrap();
    (manifest, config, ctl)
}

fn entries(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn sigterm_or_sighup_leaves_no_control_directory() {
    for (sig, number) in [("TERM", 15), ("HUP", 1)] {
        let (manifest, config, ctl) = offline_setup(sig);
        let mut child = Command::new(env!("CARGO_BIN_EXE_nixmox"))
            .args(["status", "--watch", "--json", "--manifest"])
            .arg(&manifest)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while entries(&ctl).is_empty() {
            assert!(
                Instant::now() < deadline,
                "status --watch made no control directory"
            );
            assert!(child.try_wait().unwrap().is_none(), "status ended early");
            std::thread::sleep(Duration::from_millis(20));
        }
        let made = entries(&ctl);
        assert!(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success());
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(number), "dies by SIG{sig} as before");
        assert!(
            entries(&ctl).is_empty(),
            "SIG{sig} left {made:?} behind: {:?}",
            entries(&ctl)
        );
        let _ = std::fs::remove_dir_all(ctl.parent().unwrap());
    }
}
