//! A hostile host, in a real lab: every sequence a compromised host (or a
//! service logging colours) could send to take over the operator's terminal
//! goes through every path that prints remote text, CLI and console, and
//! the terminal must never receive it raw. Also: a remote command nixmox
//! gives up on does not outlive it on the host.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The payload as a `printf` format (octal escapes): a title change, a
/// clipboard write, a screen clear, leaving the alternate screen, a carriage
/// return that would overwrite the line, a tab, invalid UTF-8 and a C1 CSI.
const PRINTF_PAYLOAD: &str = r"A\033]0;PWNED\007B\033]52;c;cHduZWQ=\007C\033[2JD\033[?1049lE\rFORGED\tTAB\377\376Z\302\2332J";

/// The payload without its invalid UTF-8, for local steps: deploy.rs reads
/// their output with `BufReader::lines`, which stops at the first invalid
/// byte (and the build's store path is then never seen). Reported; that file
/// is outside this change.
const PRINTF_PAYLOAD_UTF8: &str =
    r"A\033]0;PWNED\007B\033]52;c;cHduZWQ=\007C\033[2JD\033[?1049lE\rFORGED\tTAB Z\302\2332J";

/// The same bytes, for files written directly.
const RAW_PAYLOAD: &[u8] =
    b"A\x1b]0;PWNED\x07B\x1b]52;c;cHduZWQ=\x07C\x1b[2JD\x1b[?1049lE\rFORGED\tTAB\xff\xfeZ\xc2\x9b2J";

/// What a terminal must not receive from a host, and what proves the text
/// went through (its visible, sanitised form).
fn assert_clean(what: &str, bytes: &[u8]) {
    let shown = String::from_utf8_lossy(bytes);
    assert!(
        std::str::from_utf8(bytes).is_ok(),
        "{what}: invalid UTF-8 reached the terminal:\n{shown}"
    );
    for (bad, name) in [
        (&b"\x1b"[..], "ESC"),
        (b"\x07", "BEL"),
        (b"\r", "carriage return"),
        (b"\xc2\x9b", "C1 CSI"),
        (b"\x9b", "raw C1 byte"),
    ] {
        assert!(
            !bytes.windows(bad.len()).any(|w| w == bad),
            "{what}: {name} from the host reached the terminal:\n{shown:?}"
        );
    }
    assert!(
        shown.contains(r"\e]0;PWNED") && shown.contains(r"\e]52;c;"),
        "{what}: the hostile text should be shown, escaped:\n{shown}"
    );
    assert!(
        tab_expanded(&shown),
        "{what}: the tab should be expanded:\n{shown}"
    );
}

/// The payload's tab became spaces up to a tab stop (not dropped, not raw).
fn tab_expanded(shown: &str) -> bool {
    shown.contains("FORGED")
        && !shown.contains('\t')
        && !shown.contains("FORGEDTAB")
        && (1..=8).any(|n| shown.contains(&format!("FORGED{}TAB", " ".repeat(n))))
}

/// Two hosts: svc01 healthy; svc02's health check prints the payload and fails.
fn hostile_manifest(name: &str) -> PathBuf {
    let path = generated(name, 2);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let probe = format!("printf '{PRINTF_PAYLOAD}\\n'; exit 1");
    let h = &mut v["services"]["svc02"]["interface"]["health"];
    h["startup"] = Value::from(probe.clone());
    h["liveness"] = Value::from(probe);
    h["retries"] = Value::from(1);
    h["timeout"] = Value::from(3);
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

/// The lab's console config with `step` printing the payload first (on
/// stdout and stderr), then doing what it did.
fn config_with_hostile_steps(lab: &Lab, salt: &str) -> String {
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.join("nixmox.json")).unwrap())
            .unwrap();
    cfg["vars"]["salt"] = Value::from(salt);
    let say = format!("printf '{PRINTF_PAYLOAD}\\n'; printf '{PRINTF_PAYLOAD}\\n' >&2");
    let say_utf8 =
        format!("printf '{PRINTF_PAYLOAD_UTF8}\\n'; printf '{PRINTF_PAYLOAD_UTF8}\\n' >&2");
    // Local: the build (its argv after the payload, as it was).
    let build: Vec<Value> = cfg["templates"]["build"].as_array().unwrap().clone();
    let mut wrapped = vec![
        Value::from("sh"),
        Value::from("-c"),
        Value::from(format!("{say_utf8}; exec \"$@\"")),
        Value::from("sh"),
    ];
    wrapped.extend(build);
    cfg["templates"]["build"] = Value::Array(wrapped);
    // On the host, detached: activation and switching generations.
    cfg["templates"]["activate"] = serde_json::json!([
        "sh",
        "-c",
        format!("{say}; nix-env -p {{profile}} --set {{path}} && {{path}}/bin/switch-to-configuration switch")
    ]);
    cfg["templates"]["switch_generation"] = serde_json::json!([
        "sh",
        "-c",
        format!("{say}; nix-env -p {{profile}} --switch-generation {{generation}} && {{profile}}/bin/switch-to-configuration switch")
    ]);
    let path = lab.dir.join(format!("hostile-{salt}.json"));
    std::fs::write(&path, cfg.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// Appends the payload, as a journal line, to svc02's journal on its host.
fn write_hostile_log(lab: &Lab) {
    let log = lab.dir.join("hosts/svc02/log/svc02.log");
    let mut line = b"2026-11-30T12:00:00+00:00 svc02 svc02[1]: ".to_vec();
    line.extend_from_slice(RAW_PAYLOAD);
    line.push(b'\n');
    let mut old = std::fs::read(&log).unwrap_or_default();
    old.extend_from_slice(&line);
    std::fs::write(&log, old).unwrap();
}

fn both(o: &std::process::Output) -> Vec<u8> {
    let mut all = o.stdout.clone();
    all.extend_from_slice(&o.stderr);
    all
}

#[test]
fn no_path_lets_a_host_write_to_the_terminal() {
    let manifest = hostile_manifest("hostile");
    let lab = Lab::up("hostile", &manifest);
    write_hostile_log(&lab);

    // logs
    let out = lab.exec(&["nixmox", "logs", "svc02", "-n", "5"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_clean("nixmox logs", &out.stdout);

    // status: LAST ERROR is the probe's output; JSON keeps it exact.
    let out = lab.exec(&["nixmox", "status", "--once"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_clean("nixmox status", &both(&out));
    let out = lab.exec(&["nixmox", "status", "--once", "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    let svc02 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "svc02")
        .expect("svc02 in status");
    assert!(
        svc02.to_string().contains("PWNED"),
        "the JSON says what the host said: {svc02}"
    );
    assert!(
        !out.stdout.contains(&0x1b),
        "JSON escapes control characters"
    );

    // deploy progress: the build (local) and activation (on the host).
    let cfg = config_with_hostile_steps(&lab, "h1");
    let out = lab.exec(&["nixmox", "--config", &cfg, "deploy", "svc01", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_clean("nixmox deploy", &both(&out));

    // rollback progress.
    let out = lab.exec(&["nixmox", "--config", &cfg, "rollback", "svc01", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_clean("nixmox rollback", &both(&out));

    // the console: its raw output recorded under `script`, in a tmux pane.
    console_shows_no_hostile_bytes(&lab);
    let _ = std::fs::remove_file(&manifest);
}

/// The console on the lab, recorded byte for byte: the log view of svc02
/// and its details (the failing probe's output) are shown, then it quits.
fn console_shows_no_hostile_bytes(lab: &Lab) {
    assert!(
        on_path("tmux"),
        "this test needs tmux (apt-get install tmux)"
    );
    assert!(on_path("script"), "this test needs script (util-linux)");
    let socket = format!("nmx-hostile-{}", std::process::id());
    let record = lab.dir.join("console.typescript");
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null"])
            .args(args)
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out));
        out
    };
    let inner = format!(
        "{} lab exec --dir {} -- nixmox; echo console-exited",
        q(BIN),
        q(lab.d())
    );
    let cmd = format!(
        "script -q -f -c {} {}",
        q(&inner),
        q(record.to_str().unwrap())
    );
    tmux(&["new-session", "-d", "-x", "160", "-y", "48", &cmd]);
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let wait_for = |needle: &str| {
        let t = Instant::now();
        while !screen().contains(needle) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the console never showed {needle:?}:\n{}",
                screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("svc02");
    for keys in [&["/"][..], &["s", "v", "c", "0", "2"], &["Enter"], &["l"]] {
        for k in keys {
            tmux(&["send-keys", k]);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    wait_for("PWNED");
    let seen = screen();
    tmux(&["send-keys", "Escape"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux(&["send-keys", "q"]);
    // The pane closes with the console (nothing runs, so it does not ask).
    let t = Instant::now();
    while raw_ends(&record) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .status();
    let raw = std::fs::read(&record).unwrap();
    for (bad, name) in [
        (&b"\x1b]0;PWNED"[..], "a title change"),
        (b"\x1b]52;", "a clipboard write"),
        (b"PWNED\x07", "a bell ending a title"),
        (b"\rFORGED", "a carriage return"),
        (b"\xff\xfe", "invalid UTF-8"),
        (b"\xc2\x9b", "a C1 CSI"),
    ] {
        assert!(
            !raw.windows(bad.len()).any(|w| w == bad),
            "the console passed {name} from the host to the terminal"
        );
    }
    assert!(tab_expanded(&seen), "the log view expands tabs:\n{seen}");
}

/// Whether the console is still running (script writes a trailer at exit).
fn raw_ends(record: &std::path::Path) -> bool {
    let raw = std::fs::read(record).unwrap_or_default();
    !raw.windows(13).any(|w| w == b"console-exite")
}

/// Every process on this machine (lab hosts share its pid namespace) whose
/// command line has `word`.
fn processes_with(word: &str) -> Vec<String> {
    proc_pids()
        .into_iter()
        .filter(|p| !zombie(*p) && *p != std::process::id())
        .map(cmdline)
        .filter(|c| c.iter().any(|a| a.contains(word)))
        .map(|c| c.join(" "))
        .collect()
}

#[test]
fn a_remote_command_does_not_outlive_nixmox() {
    // svc02's probe hangs far past anything nixmox waits for; nixmox is
    // killed (SIGKILL: no cleanup of its own) while the probe runs.
    let path = generated("hostile-hang", 2);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let marker = format!("{}", 9_000_000 + std::process::id() % 1_000_000);
    let h = &mut v["services"]["svc02"]["interface"]["health"];
    h["startup"] = Value::from(format!("sleep {marker}; sleep {marker}"));
    h["timeout"] = Value::from(600);
    std::fs::write(&path, v.to_string()).unwrap();
    let lab = Lab::up("hostile-hang", &path);
    let mut child = lab
        .exec_cmd(&["nixmox", "status", "--once"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        "the probe runs on the host",
        Duration::from_secs(20),
        || !processes_with(&format!("sleep {marker}")).is_empty(),
    );
    // `lab exec` execs (through nsenter) into nixmox: the child is nixmox.
    child.kill().unwrap();
    let _ = child.wait();
    let t = Instant::now();
    while !processes_with(&format!("sleep {marker}")).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the probe outlived nixmox on the host: {:?}",
            processes_with(&format!("sleep {marker}"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn check_reports_template_errors_naming_the_placeholder() {
    let path = generated("hostile-templates", 2);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["deploy"] = serde_json::json!({"templates": {
        "build": ["nix", "build", "{flake}#{nope}"],
        "current": ["sh", "-c", "awk '{{print $1}}' {profile} && echo ${{HOME}}"],
    }});
    std::fs::write(&path, v.to_string()).unwrap();
    let out = Command::new(BIN)
        .args(["--manifest", path.to_str().unwrap(), "check"])
        .env_remove("NIXMOX_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: deploy.templates.build: unknown placeholder {nope}"),
        "{err}"
    );
    assert!(
        !err.contains("deploy.templates.current"),
        "{{ }} are literal braces: {err}"
    );
    // A brace that is no placeholder is refused, saying how to write it.
    v["deploy"]["templates"]["current"] = serde_json::json!(["sh", "-c", "echo }"]);
    std::fs::write(&path, v.to_string()).unwrap();
    let out = Command::new(BIN)
        .args(["--manifest", path.to_str().unwrap(), "check", "--json"])
        .env_remove("NIXMOX_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"][0]["path"], "deploy.templates.current");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("}}"),
        "{report}"
    );
    let _ = std::fs::remove_file(&path);
}
