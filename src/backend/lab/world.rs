//! Building and tearing down a lab world.
//!
//! The world is a keeper process (`unshare -n -m --propagation private` of
//! `nixmox lab keeper`) that holds a private network namespace (a bridge with
//! the manifest's gateway, and no route off the machine) and a private mount
//! namespace (a tmpfs on /run/netns). Each enabled manifest host is a named
//! network namespace with a veth to the bridge and the manifest's ip, plus a
//! host "init" (`nixmox lab keeper --host`) in a private mount namespace where
//! the host's own directory is bind-mounted over /nix/var/nix/profiles (and
//! its /etc/passwd gives root /bin/sh). The host's sshd runs in that init's
//! namespaces; its units are started by its Nix system's
//! switch-to-configuration. Everything the lab starts is found again by
//! `lab down` through lab.json, the namespaces and the lab directory.

use super::files;
use super::state::{host_dir, host_env, HostState, LabState, MARKER};
use super::sys::{self, ProcId};
use crate::manifest::Manifest;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tools the lab runs, with the Debian package that has them.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("setsid", "util-linux"),
    ("flock", "util-linux"),
    ("mount", "mount"),
    ("sshd", "openssh-server"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("nix-build", "nix-bin"),
    ("nix-env", "nix-bin"),
    ("nix-instantiate", "nix-bin"),
    ("kill", "procps"),
    ("tail", "coreutils"),
    ("cmp", "diffutils"),
];

/// At most this many hosts are activated at once (each activation is an ssh
/// connection plus a handful of short processes).
const PARALLEL: usize = 16;

pub type Fallible<T> = Result<T, String>;

/// Refuses early, with one clear message, what `lab up` cannot do.
pub fn preflight() -> Fallible<PathBuf> {
    if sys::euid() != Some(0) {
        return Err(
            "nixmox lab: must run as root: the lab creates network namespaces, a bridge, \
                    veths and mounts (try: sudo nixmox lab ...)"
                .into(),
        );
    }
    let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (tool, pkg) in TOOLS {
        if sys::which(tool).is_none() {
            missing.entry(pkg).or_default().push(tool);
        }
    }
    if !missing.is_empty() {
        let mut msg = String::from("nixmox lab: missing tools:");
        for (pkg, tools) in &missing {
            let _ = write!(msg, "\n  {} (Debian package {pkg})", tools.join(", "));
        }
        let pkgs: Vec<&str> = missing.keys().copied().collect();
        let _ = write!(
            msg,
            "\ninstall them with: apt-get install {}",
            pkgs.join(" ")
        );
        return Err(msg);
    }
    Ok(sys::which("sshd").expect("checked above"))
}

/// The lab directory, absolute, and safe to appear unquoted in sshd and ssh
/// configs and in shell scripts.
pub fn lab_dir(dir: &Path) -> Fallible<PathBuf> {
    let abs = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let s = abs.to_string_lossy();
    let ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@'));
    if !ok || s.len() > 200 {
        return Err(format!(
            "{s}: the lab directory must be a path of letters, digits and / . _ - + @ \
             (at most 200 characters)"
        ));
    }
    Ok(PathBuf::from(s.trim_end_matches('/')))
}

/// Short, per lab: ssh control socket paths must stay under ~100 bytes.
fn control_dir(dir: &Path) -> PathBuf {
    PathBuf::from(format!(
        "/tmp/nmx-{}",
        sys::short_hash(&dir.to_string_lossy())
    ))
}

/// Set by SIGINT/SIGTERM/SIGHUP while `lab up` runs, so it can tear down
/// what it started instead of dying halfway.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = tx.send(());
            return;
        };
        rt.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                let _ = tx.send(());
                return;
            };
            let _ = tx.send(());
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            f.store(true, Ordering::SeqCst);
        });
    });
    let _ = rx.recv_timeout(Duration::from_secs(2));
    flag
}

struct Up {
    dir: PathBuf,
    st: LabState,
    sshd: PathBuf,
    interrupted: Arc<AtomicBool>,
    /// Children we spawned that may still be running (reaped at the end).
    children: Vec<Child>,
}

impl Up {
    fn check(&self) -> Fallible<()> {
        if self.interrupted.load(Ordering::SeqCst) {
            Err("interrupted".into())
        } else {
            Ok(())
        }
    }

    fn save(&self) -> Fallible<()> {
        self.st
            .save()
            .map_err(|e| format!("{}: {e}", LabState::path(&self.dir).display()))
    }
}

fn step(name: &str) -> Instant {
    eprintln!("lab: {name}");
    Instant::now()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// `nixmox lab up`.
pub fn up(dir: &Path, manifest_path: &Path, m: &Manifest) -> ExitCode {
    let t0 = Instant::now();
    let sshd = match preflight() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let dir = match lab_dir(dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("nixmox lab: {e}");
            return ExitCode::from(1);
        }
    };
    let manifest = match std::path::absolute(manifest_path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: {e}", manifest_path.display());
            return ExitCode::from(1);
        }
    };
    let hosts = hosts_of(m);
    if hosts.is_empty() {
        eprintln!(
            "nixmox lab: {}: no enabled service, nothing to run",
            manifest.display()
        );
        return ExitCode::from(1);
    }
    if let Err(e) = claim_dir(&dir) {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    let st = LabState {
        dir: dir.clone(),
        manifest,
        control_dir: control_dir(&dir),
        gateway: m.network.gateway,
        prefix: m.network.network_cidr.prefix,
        keeper: None,
        keeper_netns: None,
        hosts,
        ready: false,
    };
    let mut up = Up {
        dir: dir.clone(),
        st,
        sshd,
        interrupted: interrupt_flag(),
        children: Vec::new(),
    };
    let result = build_world(&mut up);
    let _ = std::fs::remove_file(dir.join("up.lock"));
    match result {
        Ok(timings) => {
            for c in &mut up.children {
                let _ = c.try_wait();
            }
            print_ready(&up.st, t0.elapsed(), &timings);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nixmox lab up: {e}");
            eprintln!("lab: tearing down what was started...");
            match teardown(&dir) {
                Ok(r) => eprintln!("lab: torn down ({} processes stopped)", r.stopped),
                Err(e) => eprintln!("lab: teardown incomplete: {e}"),
            }
            for c in &mut up.children {
                let _ = c.kill();
                let _ = c.wait();
            }
            ExitCode::from(if up.interrupted.load(Ordering::SeqCst) {
                130
            } else {
                1
            })
        }
    }
}

fn hosts_of(m: &Manifest) -> Vec<HostState> {
    m.services
        .values()
        .filter(|s| s.enable)
        .enumerate()
        .map(|(i, s)| HostState {
            name: s.name.clone(),
            ip: s.ip,
            hostname: s.hostname.clone(),
            veth: format!("v{i}"),
            unit: s.log_unit().to_string(),
            init: None,
            netns: None,
            system: None,
        })
        .collect()
}

/// Makes DIR ours for this `lab up`: refuses a live lab, a running `lab up`
/// and a directory that is not a lab's; clears what an old lab left.
fn claim_dir(dir: &Path) -> Fallible<()> {
    let d = dir.display();
    if let Some(st) = LabState::load(dir) {
        if let Some(pid) = st.keeper_alive() {
            return Err(format!(
                "nixmox lab: {d} is in use: a lab is already up there (keeper pid {pid}); \
                 `nixmox lab down --dir {d}` first"
            ));
        }
    }
    let lock = dir.join("up.lock");
    if let Ok(text) = std::fs::read_to_string(&lock) {
        if let Ok(pid) = text.trim().parse::<u32>() {
            if sys::alive(pid) && pid != sys::self_pid() {
                return Err(format!(
                    "nixmox lab: {d} is in use: `lab up` is already running there (pid {pid})"
                ));
            }
        }
    }
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let names: Vec<_> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect();
            if !names.is_empty() && !dir.join(MARKER).exists() {
                return Err(format!(
                    "nixmox lab: {d} is not empty and not a lab directory; give a new or empty directory"
                ));
            }
            // Down already (checked above): whatever is left is an old lab's.
            let leftover = teardown(dir).map_err(|e| format!("nixmox lab: {d}: {e}"))?;
            if leftover.stopped > 0 {
                eprintln!(
                    "lab: stopped {} processes an old lab in {d} had left",
                    leftover.stopped
                );
            }
            for name in names {
                let p = dir.join(&name);
                let r = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                r.map_err(|e| format!("nixmox lab: cannot clear {}: {e}", p.display()))?;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| format!("nixmox lab: {d}: {e}"))?;
        }
        Err(e) => return Err(format!("nixmox lab: {d}: {e}")),
    }
    std::fs::write(
        dir.join(MARKER),
        "a nixmox lab directory (`nixmox lab up`)\n",
    )
    .and_then(|_| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
            .and_then(|mut f| writeln!(f, "{}", sys::self_pid()))
    })
    .map_err(|e| format!("nixmox lab: {d}: {e}"))
}

#[derive(Default)]
struct Timings {
    files: Duration,
    world: Duration,
    build: Duration,
    activate: Duration,
    ssh: Duration,
}

fn build_world(up: &mut Up) -> Fallible<Timings> {
    let mut t = Timings::default();
    let dir = up.dir.clone();
    let d = dir.display().to_string();
    let n = up.st.hosts.len();

    // Files and keys.
    let s = step(&format!("preparing {n} hosts in {d}"));
    files::write_shared(&dir).map_err(|e| format!("writing {d}: {e}"))?;
    for h in &up.st.hosts {
        files::write_host(&dir, h).map_err(|e| format!("writing host {}: {e}", h.name))?;
    }
    keygen(up)?;
    files::write(
        &dir.join("authorized_keys"),
        &std::fs::read_to_string(dir.join("id_ed25519.pub")).map_err(|e| e.to_string())?,
        0o644,
    )
    .map_err(|e| e.to_string())?;
    files::write(&dir.join("ssh_config"), &files::ssh_config(&up.st), 0o644)
        .map_err(|e| e.to_string())?;
    files::write(
        &dir.join("known_hosts"),
        &files::known_hosts(&up.st).map_err(|e| e.to_string())?,
        0o644,
    )
    .map_err(|e| e.to_string())?;
    files::console_config(&up.st)
        .save(&dir.join("nixmox.json"))
        .map_err(|e| format!("writing nixmox.json: {e}"))?;
    up.save()?;
    t.files = s.elapsed();
    up.check()?;

    // The systems build meanwhile (one nix-build for every host).
    let build = spawn_build(up)?;

    let s = step("starting the world (network namespaces, bridge, veths)");
    start_keeper(up)?;
    up.check()?;
    world_network(up)?;
    up.check()?;
    start_inits(up)?;
    up.check()?;
    let mut sshds = Vec::new();
    for h in &up.st.hosts {
        sshds.push(spawn_sshd(&dir, h, &up.sshd)?);
    }
    for (h, child) in up.st.hosts.iter().zip(sshds) {
        finish_sshd(h, child)?;
    }
    t.world = s.elapsed();

    step(&format!(
        "building {n} systems (nix-instantiate, nix-store --realise)"
    ));
    let (systems, took) = build
        .join()
        .map_err(|_| "nix-build thread panicked".to_string())??;
    for h in &mut up.st.hosts {
        h.system = Some(
            systems
                .get(&h.name)
                .cloned()
                .ok_or_else(|| format!("nix-build printed no system for host {}", h.name))?,
        );
    }
    up.save()?;
    t.build = took;
    up.check()?;

    let s = step(&format!(
        "activating generation 1 on {n} hosts (nix-env --set, switch-to-configuration switch)"
    ));
    activate_all(up)?;
    t.activate = s.elapsed();
    up.check()?;

    let s = step("checking that every host answers ssh");
    wait_sshd(up)?;
    verify_ssh(up)?;
    t.ssh = s.elapsed();

    std::fs::create_dir_all(&up.st.control_dir)
        .and_then(|_| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&up.st.control_dir, std::fs::Permissions::from_mode(0o700))
        })
        .map_err(|e| format!("{}: {e}", up.st.control_dir.display()))?;
    up.st.ready = true;
    up.save()?;
    Ok(t)
}

fn keygen(up: &mut Up) -> Fallible<()> {
    let dir = &up.dir;
    let mut jobs: Vec<(String, Child)> = Vec::new();
    let mut spawn = |what: String, file: PathBuf, comment: String| -> Fallible<()> {
        let child = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(comment)
            .arg("-f")
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("ssh-keygen: {e}"))?;
        jobs.push((what, child));
        Ok(())
    };
    spawn(
        "the lab's ssh key".into(),
        dir.join("id_ed25519"),
        format!("nixmox-lab@{}", dir.display()),
    )?;
    for h in &up.st.hosts {
        spawn(
            format!("host key of {}", h.name),
            host_dir(dir, &h.name).join("ssh_host_ed25519_key"),
            format!("root@{}", h.name),
        )?;
    }
    let mut errors = Vec::new();
    for (what, child) in jobs {
        match child.wait_with_output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => errors.push(format!(
                "ssh-keygen ({what}): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => errors.push(format!("ssh-keygen ({what}): {e}")),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// Each host's system store path, and how long nix-build took.
type BuildResult = Fallible<(BTreeMap<String, String>, Duration)>;

/// Every host's system, built in the background by one evaluation
/// (`nix-instantiate`, all hosts) and one build (`nix-store -r`, all
/// derivations): the same as one `nix-build`, but without the indirect GC
/// root per output that Nix 2.8's `nix-build --no-out-link` leaves in
/// /nix/var/nix/gcroots/auto.
fn spawn_build(up: &Up) -> Fallible<std::thread::JoinHandle<BuildResult>> {
    let dir = up.dir.clone();
    let nix = |prog: &str| {
        let mut c = Command::new(prog);
        c.env("NIX_CONF_DIR", dir.join("nix"))
            .env("NIX_USER_CONF_FILES", dir.join("nix/nix.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let mut eval = nix("nix-instantiate");
    eval.arg(files::systems_nix(&dir))
        .args(["--quiet", "--argstr", "manifestFile"])
        .arg(&up.st.manifest)
        .args(["--argstr", "labDir"])
        .arg(&dir);
    for h in &up.st.hosts {
        eval.arg("-A").arg(&h.name);
    }
    let child = eval
        .spawn()
        .map_err(|e| format!("nix-instantiate: cannot run: {e}"))?;
    let mut realise = nix("nix-store");
    realise.arg("--realise");
    let started = Instant::now();
    Ok(std::thread::spawn(move || {
        let failed = |what: &str, out: &std::process::Output| {
            let err = String::from_utf8_lossy(&out.stderr);
            let err: Vec<&str> = err
                .lines()
                .filter(|l| !l.contains("you did not specify '--add-root'"))
                .collect();
            format!(
                "{what} of the lab systems failed ({}):\n{}",
                out.status,
                err.join("\n")
            )
        };
        let out = child
            .wait_with_output()
            .map_err(|e| format!("nix-instantiate: {e}"))?;
        if !out.status.success() {
            return Err(failed("nix-instantiate", &out));
        }
        let drvs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let out = realise
            .args(&drvs)
            .output()
            .map_err(|e| format!("nix-store: cannot run: {e}"))?;
        if !out.status.success() {
            return Err(failed("nix-store --realise", &out));
        }
        // Matched by name: "/nix/store/HASH-nixmox-lab-system-NAME".
        let mut map = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(name) = line
                .rsplit('/')
                .next()
                .and_then(|base| base.split_once('-'))
                .and_then(|(_, rest)| rest.strip_prefix("nixmox-lab-system-"))
            {
                map.insert(name.to_string(), line.trim().to_string());
            }
        }
        Ok((map, started.elapsed()))
    }))
}

fn start_keeper(up: &mut Up) -> Fallible<()> {
    let dir = &up.dir;
    let exe = dir.join("bin/nixmox");
    let log = std::fs::File::create(dir.join("keeper.log")).map_err(|e| e.to_string())?;
    let child = Command::new("setsid")
        .args(["unshare", "-n", "-m", "--propagation", "private", "--"])
        .arg(&exe)
        .args(["lab", "keeper", "--dir"])
        .arg(dir)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting the keeper: {e}"))?;
    let pid = child.id();
    up.children.push(child);
    let outer = sys::ns_inode(sys::self_pid(), "net");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cmd = sys::cmdline(pid);
        if cmd.iter().any(|a| a == "keeper") && sys::ns_inode(pid, "net") != outer {
            break;
        }
        if !sys::alive(pid) || Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("keeper.log")).unwrap_or_default();
            return Err(format!(
                "the keeper (unshare -n -m) did not start: {}",
                log.trim()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    up.st.keeper = ProcId::of(pid);
    up.st.keeper_netns = sys::ns_inode(pid, "net");
    std::fs::write(dir.join("keeper.pid"), format!("{pid}\n")).map_err(|e| e.to_string())?;
    up.save()
}

/// Runs a command in the world's network and mount namespaces.
pub fn in_world(keeper: u32) -> Command {
    let mut c = Command::new("nsenter");
    c.arg("-t").arg(keeper.to_string()).args(["-n", "-m", "--"]);
    c
}

/// Runs a command on a host: its network and mount namespaces, its environment.
pub fn on_host(dir: &Path, h: &HostState) -> Fallible<Command> {
    let init = h
        .init
        .filter(|p| p.alive())
        .ok_or_else(|| format!("host {} is not running (its init is gone)", h.name))?;
    let hd = host_dir(dir, &h.name);
    let mut c = Command::new("nsenter");
    c.arg("-t")
        .arg(init.pid.to_string())
        .args(["-n", "-m", "--", "env", "-i"]);
    c.arg(format!("HOME={}", hd.join("root").display()));
    c.args(["USER=root", "LOGNAME=root", "SHELL=/bin/sh"]);
    for (k, v) in host_env(dir, &h.name) {
        c.arg(format!("{k}={v}"));
    }
    c.current_dir("/");
    Ok(c)
}

fn world_network(up: &Up) -> Fallible<()> {
    let st = &up.st;
    let keeper = st.keeper.ok_or("no keeper")?.pid;
    let mut script = String::from("set -e\nip link set lo up\n");
    script.push_str("mkdir -p /run/netns /run/sshd /nix/var/nix/profiles\n");
    script.push_str("mount -t tmpfs -o mode=0755,size=1m nixmox-lab-netns /run/netns\n");
    let _ = writeln!(
        script,
        "ip link add br0 type bridge\nip addr add {}/{} dev br0\nip link set br0 up",
        st.gateway, st.prefix
    );
    script.push_str("ip -batch - <<'EOF'\n");
    for h in &st.hosts {
        let _ = writeln!(
            script,
            "netns add {n}\nlink add {v} type veth peer name eth0 netns {n}\nlink set {v} master br0 up",
            n = h.name,
            v = h.veth
        );
    }
    script.push_str("EOF\n");
    for h in &st.hosts {
        let _ = writeln!(
            script,
            "ip -n {n} -batch - <<'EOF'\nlink set lo up\naddr add {ip}/{p} dev eth0\nlink set eth0 up\nroute add default via {gw}\nEOF",
            n = h.name,
            ip = h.ip,
            p = st.prefix,
            gw = st.gateway
        );
    }
    let path = up.dir.join("world.sh");
    std::fs::write(&path, &script).map_err(|e| e.to_string())?;
    sys::run(
        in_world(keeper).arg("sh").arg(&path),
        "setting up the lab network",
    )
    .map(|_| ())
}

/// A host's init: enters the host's network namespace, makes a private mount
/// namespace with the host's profiles and passwd, and stays (it is what the
/// lab enters to act on the host, and what holds the host's namespaces).
fn start_inits(up: &mut Up) -> Fallible<()> {
    let dir = up.dir.clone();
    let keeper = up.st.keeper.ok_or("no keeper")?.pid;
    let exe = dir.join("bin/nixmox");
    let mut pids = Vec::new();
    for h in &up.st.hosts {
        let hd = host_dir(&dir, &h.name);
        let child = Command::new("setsid")
            .args(["nsenter", "-t"])
            .arg(keeper.to_string())
            .args(["-m", "--", "nsenter"])
            .arg(format!("--net=/run/netns/{}", h.name))
            .args(["--", "unshare", "-m", "--propagation", "private", "--"])
            .args([
                "sh",
                "-c",
                "mount --bind \"$1\" /nix/var/nix/profiles && mount --bind \"$2\" /etc/passwd && \
                 exec \"$3\" lab keeper --dir \"$4\" --host \"$5\"",
                "sh",
            ])
            .arg(hd.join("profiles"))
            .arg(hd.join("passwd"))
            .arg(&exe)
            .arg(&dir)
            .arg(&h.name)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(hd.join("init.log")).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("starting host {}: {e}", h.name))?;
        pids.push(child.id());
        up.children.push(child);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut waiting: BTreeSet<usize> = (0..pids.len()).collect();
    while !waiting.is_empty() {
        for i in waiting.clone() {
            let pid = pids[i];
            if sys::cmdline(pid).iter().any(|a| a == "keeper") {
                let h = &mut up.st.hosts[i];
                h.init = ProcId::of(pid);
                h.netns = sys::ns_inode(pid, "net");
                waiting.remove(&i);
            } else if !sys::alive(pid) {
                let h = &up.st.hosts[i];
                let log = std::fs::read_to_string(host_dir(&dir, &h.name).join("init.log"))
                    .unwrap_or_default();
                return Err(format!("host {} did not start: {}", h.name, log.trim()));
            }
        }
        if Instant::now() > deadline {
            return Err("hosts did not start within 15 s".into());
        }
        up.check()?;
        std::thread::sleep(Duration::from_millis(2));
    }
    up.save()
}

/// Starts the host's sshd (it daemonizes and writes its pid file once it listens).
pub fn start_sshd(dir: &Path, h: &HostState, sshd: &Path) -> Fallible<()> {
    let child = spawn_sshd(dir, h, sshd)?;
    finish_sshd(h, child)
}

fn spawn_sshd(dir: &Path, h: &HostState, sshd: &Path) -> Fallible<Child> {
    let hd = host_dir(dir, &h.name);
    let _ = std::fs::remove_file(hd.join("sshd.pid"));
    let init = h
        .init
        .filter(|p| p.alive())
        .ok_or_else(|| format!("host {} is not running", h.name))?;
    Command::new("nsenter")
        .arg("-t")
        .arg(init.pid.to_string())
        .args(["-n", "-m", "--"])
        .arg(sshd)
        .arg("-f")
        .arg(hd.join("sshd_config"))
        .arg("-E")
        .arg(hd.join("sshd.log"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("sshd of host {}: {e}", h.name))
}

/// Waits for the daemonizing parent of sshd to exit.
fn finish_sshd(h: &HostState, child: Child) -> Fallible<()> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("sshd of host {}: {e}", h.name))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "sshd of host {} failed to start ({}): {}",
            h.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The pid of a host's sshd listener, when it runs.
pub fn sshd_pid(dir: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(host_dir(dir, name).join("sshd.pid")).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    (sys::alive(pid) && sys::comm(pid).starts_with("sshd")).then_some(pid)
}

pub fn wait_for_sshd(dir: &Path, hosts: &[&HostState], timeout: Duration) -> Fallible<()> {
    let deadline = Instant::now() + timeout;
    let mut waiting: Vec<&HostState> = hosts.to_vec();
    while !waiting.is_empty() {
        waiting.retain(|h| sshd_pid(dir, &h.name).is_none());
        if waiting.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let h = waiting[0];
            let log = std::fs::read_to_string(host_dir(dir, &h.name).join("sshd.log"))
                .unwrap_or_default();
            return Err(format!(
                "sshd of host {} did not start listening: {}",
                h.name,
                log.trim()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn wait_sshd(up: &Up) -> Fallible<()> {
    let hosts: Vec<&HostState> = up.st.hosts.iter().collect();
    wait_for_sshd(&up.dir, &hosts, Duration::from_secs(10))
}

/// ssh from inside the world with the lab's ssh config.
pub fn ssh(dir: &Path, keeper: u32, ip: &str, remote: &str) -> Command {
    let mut c = Command::new("nsenter");
    c.arg("-t")
        .arg(keeper.to_string())
        .args(["-n", "--", "ssh", "-F"])
        .arg(dir.join("ssh_config"))
        .arg(ip)
        .arg(remote);
    c.current_dir("/");
    c
}

/// Activates every host's first system with the literal NixOS commands, run
/// on the host (its namespaces and environment, as its sshd would run them).
fn activate_all(up: &Up) -> Fallible<()> {
    let queue: Vec<HostState> = up.st.hosts.clone();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..PARALLEL.min(up.st.hosts.len()))
        .map(|_| {
            let queue = queue.clone();
            let errors = errors.clone();
            let dir = up.dir.clone();
            let interrupted = up.interrupted.clone();
            std::thread::spawn(move || loop {
                let Some(h) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    return;
                };
                if interrupted.load(Ordering::SeqCst) {
                    return;
                }
                if let Err(e) = activate(&dir, &h) {
                    errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let errors = errors.lock().unwrap_or_else(|e| e.into_inner());
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// The NixOS activation of a system, as the console runs it over ssh.
pub fn activation_command(system: &str) -> String {
    format!(
        "nix-env -p /nix/var/nix/profiles/system --set {s} && {s}/bin/switch-to-configuration switch",
        s = shell_escape::escape(system.into())
    )
}

fn activate(dir: &Path, h: &HostState) -> Fallible<()> {
    let system = h.system.as_deref().ok_or("no system built")?;
    let out = on_host(dir, h)?
        .args(["/bin/sh", "-c", &activation_command(system)])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("host {}: nsenter: {e}", h.name))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::write(host_dir(dir, &h.name).join("activation.log"), &text);
    if out.status.success() {
        return Ok(());
    }
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "host {} ({}): activation of generation 1 failed ({}):\n    {}",
        h.name,
        h.ip,
        out.status,
        tail.join("\n    ")
    ))
}

/// Every host answers ssh: each sshd sends its banner on the host's ip from
/// inside the world, and one full ssh login (key, known_hosts, environment)
/// succeeds. (A full login to every host would cost ~0.15 s of CPU each.)
fn verify_ssh(up: &Up) -> Fallible<()> {
    let keeper = up.st.keeper.ok_or("no keeper")?.pid;
    let mut cmd = in_world(keeper);
    cmd.arg(up.dir.join("bin/nixmox"))
        .args(["lab", "wait-ssh", "--timeout", "10"]);
    for h in &up.st.hosts {
        cmd.arg(h.ip.to_string());
    }
    sys::run(&mut cmd, "waiting for every host's sshd")?;
    let first = &up.st.hosts[0];
    let out = sys::run(
        &mut ssh(
            &up.dir,
            keeper,
            &first.ip.to_string(),
            "echo $NIXMOX_LAB_HOST",
        ),
        format!("ssh -F {}/ssh_config {}", up.dir.display(), first.ip),
    )?;
    if out.trim() != first.name {
        return Err(format!(
            "ssh to {} reached {:?}, not host {}",
            first.ip,
            out.trim(),
            first.name
        ));
    }
    Ok(())
}

fn print_ready(st: &LabState, total: Duration, t: &Timings) {
    let d = st.dir.display();
    println!(
        "lab up: {} hosts in {d} ({} total: files+keys {}, world+sshd {}, build {} (alongside), activation {}, ssh check {})",
        st.hosts.len(),
        secs(total),
        secs(t.files),
        secs(t.world),
        secs(t.build),
        secs(t.activate),
        secs(t.ssh)
    );
    let w = st.hosts.iter().map(|h| h.name.len()).max().unwrap_or(4);
    for h in &st.hosts {
        println!(
            "  {:<w$}  {:<15}  unit {}  generation 1  {}",
            h.name,
            h.ip,
            h.unit,
            h.system.as_deref().unwrap_or("?"),
        );
    }
    println!(
        "\nConsole config: {d}/nixmox.json (ssh config {d}/ssh_config, strict known_hosts {d}/known_hosts)\n\
         Everything that talks to the hosts runs inside the lab:\n  \
         nixmox lab exec --dir {d} -- nixmox status --once\n  \
         nixmox lab exec --dir {d} -- ssh -F {d}/ssh_config {ip} systemctl status {unit}\n  \
         nixmox lab status --dir {d}\n  \
         nixmox lab fault --dir {d} kill-service {name}    (also stop-ssh, start-ssh, partition, heal, break, fix)\n  \
         nixmox lab down --dir {d}",
        ip = st.hosts[0].ip,
        unit = st.hosts[0].unit,
        name = st.hosts[0].name,
    );
}

pub struct Teardown {
    pub stopped: usize,
}

/// Stops everything a lab in `dir` started: every process in the lab's
/// network namespaces (sshds, their sessions, units, host inits, commands run
/// with `lab exec`), and the lab's own processes wherever they are; then the
/// keeper, with which the namespaces and mounts go. Idempotent.
pub fn teardown(dir: &Path) -> Fallible<Teardown> {
    let st = LabState::load(dir);
    let spare = sys::self_and_ancestors();
    let exe_prefix = format!("{}/", dir.display());

    // Namespaces that are certainly this lab's: those of its live keeper and
    // host inits (identified by pid and start time), and recorded ones that
    // still hold a process of this lab (a recorded inode could be reused).
    let mut recorded: BTreeSet<u64> = BTreeSet::new();
    let mut ours: BTreeSet<u64> = BTreeSet::new();
    if let Some(st) = &st {
        recorded.extend(st.keeper_netns);
        recorded.extend(st.hosts.iter().filter_map(|h| h.netns));
        let live = st
            .keeper
            .iter()
            .chain(st.hosts.iter().filter_map(|h| h.init.as_ref()))
            .filter(|p| p.alive());
        for p in live {
            ours.extend(sys::ns_inode(p.pid, "net"));
        }
    }
    // Never the namespace this command runs in, nor the machine's own.
    let outside: BTreeSet<u64> = [sys::self_pid(), 1]
        .iter()
        .filter_map(|p| sys::ns_inode(*p, "net"))
        .collect();
    recorded.retain(|n| !outside.contains(n));
    ours.retain(|n| !outside.contains(n));
    let is_ours = |pid: u32, cmd: &[String]| {
        cmd.first().is_some_and(|a| a.starts_with(&exe_prefix))
            || (sys::comm(pid).starts_with("sshd") && sys::mentions(cmd, dir))
    };
    // Rounds, because a process caught starting (an sshd that daemonizes, a
    // unit being started) may leave a new process behind after the scan.
    let mut stopped = 0;
    for round in 0.. {
        let procs: Vec<(u32, Vec<String>, Option<u64>)> = sys::all_pids()
            .into_iter()
            .filter(|p| !spare.contains(p) && sys::alive(*p))
            .map(|p| (p, sys::cmdline(p), sys::ns_inode(p, "net")))
            .collect();
        for (pid, cmd, ns) in &procs {
            if let Some(ns) = ns {
                if recorded.contains(ns) && is_ours(*pid, cmd) {
                    ours.insert(*ns);
                }
            }
        }
        let victims: Vec<u32> = procs
            .iter()
            .filter(|(pid, cmd, ns)| ns.is_some_and(|n| ours.contains(&n)) || is_ours(*pid, cmd))
            .map(|(p, _, _)| *p)
            .collect();
        if victims.is_empty() {
            break;
        }
        if round == 10 {
            return Err(format!(
                "processes keep appearing in the lab: {}",
                victims
                    .iter()
                    .map(|p| format!("{p} ({})", sys::cmdline(*p).join(" ")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        stopped += victims.len();
        let left = sys::terminate(&victims, Duration::from_millis(1500));
        if !left.is_empty() {
            return Err(format!(
                "these processes would not stop: {}",
                left.iter()
                    .map(|p| format!("{p} ({})", sys::cmdline(*p).join(" ")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    // Nothing may be left in the lab's namespaces.
    let stray: Vec<u32> = sys::all_pids()
        .into_iter()
        .filter(|p| !spare.contains(p) && sys::alive(*p))
        .filter(|p| sys::ns_inode(*p, "net").is_some_and(|n| ours.contains(&n)))
        .collect();
    if !stray.is_empty() {
        return Err(format!(
            "processes still in the lab's namespaces: {stray:?}"
        ));
    }
    if let Some(st) = &st {
        let cd = &st.control_dir;
        if cd.starts_with("/tmp")
            && cd
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("nmx-"))
        {
            let _ = std::fs::remove_dir_all(cd);
        }
    }
    let _ = std::fs::remove_file(dir.join("keeper.pid"));
    let _ = std::fs::remove_file(LabState::path(dir));
    Ok(Teardown { stopped })
}

/// `nixmox lab down`.
pub fn down(dir: &Path) -> ExitCode {
    let dir = match lab_dir(dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("nixmox lab: {e}");
            return ExitCode::from(1);
        }
    };
    if sys::euid() != Some(0) {
        eprintln!("nixmox lab: must run as root");
        return ExitCode::from(1);
    }
    let t0 = Instant::now();
    let had = LabState::load(&dir);
    match teardown(&dir) {
        Ok(r) => {
            if had.is_none() && r.stopped == 0 {
                println!("lab down: no lab running in {}", dir.display());
            } else {
                println!(
                    "lab down: {} stopped ({} processes) in {}",
                    dir.display(),
                    r.stopped,
                    secs(t0.elapsed())
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nixmox lab down: {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}
