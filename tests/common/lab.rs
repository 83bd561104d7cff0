//! The lab harness shared by the lab tests: bring a lab up for a test,
//! drive it, and tear it down (even on failure) through `Drop`.
#![allow(dead_code)]

use nixmox::lab::LabState;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_nixmox");

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

pub(crate) fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file())
}

/// Root, the tools, and no route to the manifest's network from here:
/// otherwise fail (closed), never skip.
pub(crate) fn preconditions() {
    assert_eq!(
        euid(),
        0,
        "the lab tests need root (they create namespaces); scripts/test runs them as root"
    );
    for (tool, pkg) in [
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("nsenter", "util-linux"),
        ("setpriv", "util-linux"),
        ("sshd", "openssh-server"),
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
        ("nix-build", "nix-bin"),
        ("nix-env", "nix-bin"),
        ("curl", "curl"),
    ] {
        assert!(
            on_path(tool),
            "the lab tests need `{tool}` (Debian package {pkg}; `sh scripts/install-deps` installs it)"
        );
    }
    let route = Command::new("ip")
        .args(["route", "get", "192.168.99.11"])
        .output()
        .expect("ip route get");
    assert!(
        !route.status.success(),
        "refusing to run: 192.168.99.11 is routable from this network namespace; \
         run the tests inside `unshare -n -m` (scripts/test does)"
    );
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn nixmox(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run nixmox")
}

pub(crate) fn test_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/tmp/nmx-labtest-{name}-{}", std::process::id()));
    let _ = nixmox(&["lab", "down", "--dir", dir.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A running lab; dropping it tears it down.
pub(crate) struct Lab {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub state: LabState,
}

/// A command's stdout as JSON; fails showing what it printed.
pub(crate) fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(o)))
}

impl Lab {
    /// A console config like the lab's, with a build salt (every system
    /// built with it differs from the running one, so a deploy makes a new
    /// generation) and `edit` applied; its path.
    pub(crate) fn config_with(
        &self,
        salt: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> String {
        let path = self.dir.join(format!("nixmox-{salt}.json"));
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("nixmox.json")).unwrap())
                .unwrap();
        cfg["vars"]["salt"] = serde_json::json!(salt);
        edit(&mut cfg);
        std::fs::write(&path, cfg.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// The profile's current generation of `service`, as `nixmox
    /// generations --json` says.
    pub(crate) fn current_generation(&self, service: &str) -> u64 {
        let out = self.exec(&["nixmox", "generations", service, "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        json_of(&out)
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["current"] == true)
            .and_then(|g| g["generation"].as_u64())
            .expect("a current generation")
    }

    pub(crate) fn up(name: &str, manifest: &Path) -> Lab {
        preconditions();
        let dir = test_dir(name);
        let t = Instant::now();
        let out = nixmox(&[
            "lab",
            "up",
            "--manifest",
            manifest.to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
        ]);
        let took = t.elapsed();
        let guard_state = LabState::load(&dir);
        assert!(out.status.success(), "lab up failed:\n{}", text(&out));
        let state = guard_state.expect("lab.json after lab up");
        assert!(state.ready && state.keeper.is_some_and(|k| k.alive()));
        assert!(state.keeper_netns.is_some());
        for h in &state.hosts {
            assert!(
                h.init.is_some_and(|p| p.alive())
                    && h.netns.is_some()
                    && h.netns != state.keeper_netns,
                "host {} has no init or namespace of its own in lab.json",
                h.name
            );
        }
        eprintln!(
            "[{name}] lab up: {} hosts in {:.2} s",
            state.hosts.len(),
            took.as_secs_f64()
        );
        Lab {
            dir,
            manifest: manifest.to_path_buf(),
            state,
        }
    }

    pub(crate) fn d(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    pub(crate) fn lab(&self, args: &[&str]) -> Output {
        let mut all = vec!["lab"];
        all.extend_from_slice(&args[..1]);
        all.extend_from_slice(&["--dir", self.d()]);
        all.extend_from_slice(&args[1..]);
        nixmox(&all)
    }

    pub(crate) fn exec_cmd(&self, cmd: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["lab", "exec", "--dir", self.d(), "--"]).args(cmd);
        c
    }

    pub(crate) fn exec(&self, cmd: &[&str]) -> Output {
        self.exec_cmd(cmd)
            .stdin(Stdio::null())
            .output()
            .expect("lab exec")
    }

    pub(crate) fn ssh(&self, host: &str, remote: &str) -> Output {
        let cfg = self.dir.join("ssh_config");
        self.exec(&["ssh", "-F", cfg.to_str().unwrap(), host, remote])
    }

    pub(crate) fn ssh_opts(&self, opts: &[&str], host: &str, remote: Option<&str>) -> Output {
        let cfg = self.dir.join("ssh_config");
        let mut args = vec!["ssh", "-F", cfg.to_str().unwrap()];
        args.extend_from_slice(opts);
        args.push(host);
        args.extend(remote);
        self.exec(&args)
    }

    pub(crate) fn fault(&self, kind: &str, target: &str) {
        let out = self.lab(&["fault", kind, target]);
        assert!(
            out.status.success(),
            "lab fault {kind} {target}:\n{}",
            text(&out)
        );
    }

    pub(crate) fn down(&self) -> Output {
        nixmox(&["lab", "down", "--dir", self.d()])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.down();
        if !out.status.success() {
            eprintln!("lab down in Drop failed:\n{}", text(&out));
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub(crate) fn proc_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

pub(crate) fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

pub(crate) fn netns(pid: u32) -> Option<u64> {
    let l = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    l.to_str()?
        .strip_prefix("net:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

pub(crate) fn mentions(cmd: &[String], dir: &Path) -> bool {
    let d = dir.to_str().unwrap();
    let prefix = format!("{d}/");
    cmd.iter().any(|a| a == d || a.contains(&prefix))
}

/// Nothing of the lab is left: no process that names the lab directory, no
/// process in any of its namespaces, no mount of its files, the keeper gone,
/// the control dir gone.
pub(crate) fn assert_nothing_left(dir: &Path, state: Option<&LabState>) {
    let me = std::process::id();
    let mut namespaces: BTreeSet<u64> = BTreeSet::new();
    if let Some(st) = state {
        namespaces.extend(st.keeper_netns);
        namespaces.extend(st.hosts.iter().filter_map(|h| h.netns));
        if let Some(k) = st.keeper {
            assert!(!k.alive(), "the keeper (pid {}) is still running", k.pid);
        }
        assert!(
            !st.control_dir.exists(),
            "control dir {} still exists",
            st.control_dir.display()
        );
    }
    let mut left = Vec::new();
    for pid in proc_pids() {
        if pid == me || zombie(pid) {
            continue;
        }
        let cmd = cmdline(pid);
        if mentions(&cmd, dir) {
            left.push(format!("{pid} names the lab dir: {}", cmd.join(" ")));
        }
        if netns(pid).is_some_and(|n| namespaces.contains(&n)) {
            left.push(format!("{pid} is in a lab namespace: {}", cmd.join(" ")));
        }
        if let Ok(mi) = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) {
            if mi.contains(&format!("{}/", dir.display())) {
                left.push(format!("{pid} has a lab mount: {}", cmd.join(" ")));
            }
            if let Some(ns) = namespaces
                .iter()
                .find(|n| mi.contains(&format!("net:[{n}]")))
            {
                left.push(format!(
                    "{pid} still mounts lab namespace net:[{ns}]: {}",
                    cmd.join(" ")
                ));
            }
        }
    }
    assert!(
        left.is_empty(),
        "left behind after lab down:\n{}",
        left.join("\n")
    );
}

pub(crate) fn manifest_services(path: &Path) -> Vec<nixmox::manifest::Service> {
    let value = nixmox::manifest::load_value(path).expect("load manifest");
    let m = nixmox::manifest::validate(&value)
        .manifest
        .expect("valid manifest");
    m.services.into_values().filter(|s| s.enable).collect()
}

pub(crate) fn q(s: &str) -> String {
    shell_escape::escape(s.into()).into_owned()
}

/// The lab's hidden manifest generator.
pub(crate) fn generated(name: &str, hosts: usize) -> PathBuf {
    let path = PathBuf::from(format!(
        "/tmp/nmx-labtest-{name}-{}.json",
        std::process::id()
    ));
    let out = nixmox(&[
        "lab",
        "gen-manifest",
        "--hosts",
        &hosts.to_string(),
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "gen-manifest:\n{}", text(&out));
    path
}

pub(crate) fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn follow_processes(dir: &Path) -> Vec<u32> {
    proc_pids()
        .into_iter()
        .filter(|p| !zombie(*p))
        .filter(|p| {
            let c = cmdline(*p);
            c.iter().any(|a| a == "follow") && mentions(&c, dir)
        })
        .collect()
}

/// Lines of a child's stdout, as they come.
pub(crate) fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

pub(crate) fn expect_line(rx: &mpsc::Receiver<String>, needle: &str, within: Duration) {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return,
            Ok(l) => seen.push(l),
            Err(_) => panic!("no line with {needle:?} within {within:?}; saw {seen:#?}"),
        }
    }
}
