//! Building a lab world.
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
//! switch-to-configuration. lab.json records everything as it starts, so
//! that `down` (or a failed `up`) finds it all again.

use super::error::LabError;
use super::files;
use super::preflight::preflight;
use super::processes::{self, in_world};
use super::state::{host_dir, resolve_dir, HostState, LabState, MARKER};
use super::sys;
use super::systems;
use super::teardown::teardown;
use crate::manifest::{Diagnostic, Manifest};
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `up` reports while it works, for the caller to show as it happens.
#[derive(Debug)]
pub enum UpEvent<'a> {
    /// A warning about the manifest (which is used anyway).
    Warning(&'a Diagnostic),
    /// An old lab in the directory had left processes behind; they were stopped.
    LeftoversStopped { dir: &'a Path, stopped: usize },
    /// A phase begins.
    Step(Step),
    /// `up` failed with `cause`; it now tears down what it started, and then
    /// returns `LabError::UpFailed`.
    TearingDown { cause: &'a LabError },
}

/// The phases of `up`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Preparing { hosts: usize, dir: PathBuf },
    StartingWorld,
    Building { hosts: usize },
    Activating { hosts: usize },
    CheckingSsh,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Preparing { hosts, dir } => {
                write!(f, "preparing {hosts} hosts in {}", dir.display())
            }
            Step::StartingWorld => f.write_str("starting the world (network namespaces, bridge, veths)"),
            Step::Building { hosts } => write!(
                f,
                "building {hosts} systems (nix-instantiate, nix-store --realise)"
            ),
            Step::Activating { hosts } => write!(
                f,
                "activating generation 1 on {hosts} hosts (nix-env --set, switch-to-configuration switch)"
            ),
            Step::CheckingSsh => f.write_str("checking that every host answers ssh"),
        }
    }
}

/// How long each phase of `up` took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    pub files: Duration,
    pub world: Duration,
    /// Runs alongside the world's start.
    pub build: Duration,
    pub activate: Duration,
    pub ssh: Duration,
    pub total: Duration,
}

/// A lab that came up: every host answered ssh.
#[derive(Debug, Clone)]
pub struct Ready {
    pub state: LabState,
    pub timings: Timings,
}

/// `nixmox lab up`: checks root and tools, loads and validates the manifest,
/// and builds its lab in `dir`. Returns once every host answers ssh; the lab
/// runs until `down`. On failure after the first change, what was started is
/// torn down (`LabError::UpFailed`); SIGINT, SIGTERM and SIGHUP stop it the
/// same way.
pub fn up(
    dir: &Path,
    manifest: &Path,
    report: &mut dyn FnMut(UpEvent<'_>),
) -> Result<Ready, LabError> {
    let t0 = Instant::now();
    // Root and tools first: nothing is touched before both pass.
    let tools = preflight()?;
    let valid =
        crate::manifest::load_valid(manifest).map_err(|unusable| LabError::InvalidManifest {
            path: manifest.to_path_buf(),
            unusable,
        })?;
    for w in &valid.warnings {
        report(UpEvent::Warning(w));
    }
    let dir = resolve_dir(dir)?;
    let manifest = std::path::absolute(manifest).map_err(LabError::io(manifest))?;
    let hosts = hosts_of(&valid.manifest);
    if hosts.is_empty() {
        return Err(LabError::NoHosts { manifest });
    }
    claim_dir(&dir, report)?;
    let m = &valid.manifest;
    let mut up = Up {
        st: LabState {
            dir: dir.clone(),
            manifest,
            control_dir: control_dir(&dir),
            gateway: m.network.gateway,
            prefix: m.network.network_cidr.prefix,
            keeper: None,
            keeper_netns: None,
            hosts,
            ready: false,
        },
        dir: dir.clone(),
        sshd: tools.sshd,
        interrupts: Interrupts::watch(),
        children: Vec::new(),
    };
    let result = build_world(&mut up, report);
    let _ = std::fs::remove_file(dir.join("up.lock"));
    match result {
        Ok(mut timings) => {
            for c in &mut up.children {
                let _ = c.try_wait();
            }
            timings.total = t0.elapsed();
            Ok(Ready {
                state: up.st,
                timings,
            })
        }
        Err(cause) => {
            report(UpEvent::TearingDown { cause: &cause });
            let teardown = teardown(&dir).map_err(Box::new);
            for c in &mut up.children {
                let _ = c.kill();
                let _ = c.wait();
            }
            Err(LabError::UpFailed {
                cause: Box::new(cause),
                teardown,
                interrupted: up.interrupts.seen(),
            })
        }
    }
}

struct Up {
    dir: PathBuf,
    st: LabState,
    sshd: PathBuf,
    interrupts: Interrupts,
    /// Children we spawned that may still be running (reaped at the end).
    children: Vec<Child>,
}

impl Up {
    fn check(&self) -> Result<(), LabError> {
        check(&self.interrupts.flag)
    }

    fn keeper(&self) -> Result<u32, LabError> {
        self.st.keeper.map(|k| k.pid).ok_or(LabError::NoKeeper)
    }
}

fn check(interrupted: &AtomicBool) -> Result<(), LabError> {
    if interrupted.load(Ordering::SeqCst) {
        Err(LabError::Interrupted)
    } else {
        Ok(())
    }
}

/// Set by SIGINT/SIGTERM/SIGHUP while `up` runs, so that it can tear down
/// what it started instead of dying halfway. The handlers go when `up` ends.
struct Interrupts {
    flag: Arc<AtomicBool>,
    ids: Vec<signal_hook::SigId>,
}

impl Interrupts {
    fn watch() -> Self {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let flag = Arc::new(AtomicBool::new(false));
        let ids = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            // The handler only stores to an atomic (async-signal-safe).
            .filter_map(|sig| signal_hook::flag::register(sig, flag.clone()).ok())
            .collect();
        Interrupts { flag, ids }
    }

    fn seen(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Short, per lab: ssh control socket paths must stay under ~100 bytes.
fn control_dir(dir: &Path) -> PathBuf {
    PathBuf::from(format!(
        "/tmp/nmx-{}",
        sys::short_hash(&dir.to_string_lossy())
    ))
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

/// Makes DIR ours for this `up`: refuses a live lab, a running `up` and a
/// directory that is not a lab's; clears what an old lab left.
fn claim_dir(dir: &Path, report: &mut dyn FnMut(UpEvent<'_>)) -> Result<(), LabError> {
    if let Some(st) = LabState::load(dir) {
        if let Some(keeper) = st.keeper_alive() {
            return Err(LabError::AlreadyUp {
                dir: dir.to_path_buf(),
                keeper,
            });
        }
    }
    let lock = dir.join("up.lock");
    if let Ok(text) = std::fs::read_to_string(&lock) {
        if let Ok(pid) = text.trim().parse::<u32>() {
            if sys::alive(pid) && pid != sys::self_pid() {
                return Err(LabError::UpRunning {
                    dir: dir.to_path_buf(),
                    pid,
                });
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
                return Err(LabError::NotLabDir {
                    dir: dir.to_path_buf(),
                });
            }
            // Down already (checked above): whatever is left is an old lab's.
            let leftover = teardown(dir)?;
            if leftover.stopped > 0 {
                report(UpEvent::LeftoversStopped {
                    dir,
                    stopped: leftover.stopped,
                });
            }
            for name in names {
                let p = dir.join(&name);
                let r = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                r.map_err(LabError::io(&p))?;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(LabError::io(dir))?;
        }
        Err(e) => return Err(LabError::io(dir)(e)),
    }
    let marker = dir.join(MARKER);
    std::fs::write(&marker, "a nixmox lab directory (`nixmox lab up`)\n")
        .map_err(LabError::io(&marker))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
        .and_then(|mut f| writeln!(f, "{}", sys::self_pid()))
        .map_err(LabError::io(&lock))
}

fn build_world(up: &mut Up, report: &mut dyn FnMut(UpEvent<'_>)) -> Result<Timings, LabError> {
    let mut t = Timings::default();
    let dir = up.dir.clone();
    let n = up.st.hosts.len();
    let mut step = |s: Step| {
        report(UpEvent::Step(s));
        Instant::now()
    };

    // Files and keys.
    let s = step(Step::Preparing {
        hosts: n,
        dir: dir.clone(),
    });
    files::write_shared(&dir)?;
    for h in &up.st.hosts {
        files::write_host(&dir, h)?;
    }
    keygen(&dir, &up.st.hosts)?;
    let pubkey = dir.join("id_ed25519.pub");
    let key = std::fs::read_to_string(&pubkey).map_err(LabError::io(&pubkey))?;
    files::write(&dir.join("authorized_keys"), &key, 0o644)?;
    let kex = files::lab_kex(&offered_kex());
    files::write(
        &dir.join("ssh_config"),
        &files::ssh_config(&up.st, kex),
        0o644,
    )?;
    files::write(
        &dir.join("known_hosts"),
        &files::known_hosts(&up.st)?,
        0o644,
    )?;
    let console = dir.join("nixmox.json");
    files::console_config(&up.st)
        .save(&console)
        .map_err(LabError::io(&console))?;
    up.st.save()?;
    t.files = s.elapsed();
    up.check()?;

    // The systems build meanwhile (one nix-build for every host).
    let build = systems::spawn_build(&dir, &up.st.manifest, &up.st.hosts)?;

    let s = step(Step::StartingWorld);
    let keeper = processes::start_keeper(&dir, &mut up.children)?;
    up.st.keeper = Some(keeper);
    up.st.keeper_netns = sys::ns_inode(keeper.pid, "net");
    let pidfile = dir.join("keeper.pid");
    std::fs::write(&pidfile, format!("{}\n", keeper.pid)).map_err(LabError::io(&pidfile))?;
    up.st.save()?;
    up.check()?;
    world_network(&dir, &up.st)?;
    up.check()?;
    let flag = up.interrupts.flag.clone();
    let inits = processes::start_inits(&dir, keeper.pid, &up.st.hosts, &mut up.children, &|| {
        check(&flag)
    })?;
    for (h, init) in up.st.hosts.iter_mut().zip(inits) {
        h.netns = sys::ns_inode(init.pid, "net");
        h.init = Some(init);
    }
    up.st.save()?;
    up.check()?;
    let mut sshds = Vec::new();
    for h in &up.st.hosts {
        sshds.push(processes::spawn_sshd(&dir, h, &up.sshd)?);
    }
    for (h, child) in up.st.hosts.iter().zip(sshds) {
        processes::finish_sshd(h, child)?;
    }
    t.world = s.elapsed();

    step(Step::Building { hosts: n });
    let (systems, took) = build
        .join()
        .map_err(|_| LabError::Panicked { what: "nix-build" })??;
    for h in &mut up.st.hosts {
        let system = systems.get(&h.name).ok_or_else(|| LabError::NoSystem {
            host: h.name.clone(),
        })?;
        h.system = Some(system.clone());
    }
    up.st.save()?;
    t.build = took;
    up.check()?;

    let s = step(Step::Activating { hosts: n });
    systems::activate_all(&dir, &up.st.hosts, &up.interrupts.flag)?;
    t.activate = s.elapsed();
    up.check()?;

    let s = step(Step::CheckingSsh);
    let hosts: Vec<&HostState> = up.st.hosts.iter().collect();
    processes::wait_for_sshd(&dir, &hosts, Duration::from_secs(10))?;
    verify_ssh(&dir, &up.st, up.keeper()?)?;
    t.ssh = s.elapsed();

    let cd = &up.st.control_dir;
    std::fs::create_dir_all(cd)
        .and_then(|_| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(cd, std::fs::Permissions::from_mode(0o700))
        })
        .map_err(LabError::io(cd))?;
    up.st.ready = true;
    up.st.save()?;
    Ok(t)
}

/// The lab's own ssh key and every host's host key, made side by side.
/// `ssh -Q kex`: the key exchanges this ssh knows (empty if it cannot say;
/// the lab then falls back to x25519, which every OpenSSH since 7.4 has).
fn offered_kex() -> String {
    Command::new("ssh")
        .args(["-Q", "kex"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn keygen(dir: &Path, hosts: &[HostState]) -> Result<(), LabError> {
    let mut jobs: Vec<(String, Child)> = Vec::new();
    let mut spawn = |what: String, file: PathBuf, comment: String| -> Result<(), LabError> {
        let child = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(comment)
            .arg("-f")
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(LabError::spawn(format!("ssh-keygen ({what})")))?;
        jobs.push((what, child));
        Ok(())
    };
    spawn(
        "the lab's ssh key".into(),
        dir.join("id_ed25519"),
        format!("nixmox-lab@{}", dir.display()),
    )?;
    for h in hosts {
        spawn(
            format!("host key of {}", h.name),
            host_dir(dir, &h.name).join("ssh_host_ed25519_key"),
            format!("root@{}", h.name),
        )?;
    }
    let mut errors = Vec::new();
    for (what, child) in jobs {
        let what = format!("ssh-keygen ({what})");
        match child.wait_with_output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => errors.push(LabError::Failed {
                what,
                status: o.status,
                output: String::from_utf8_lossy(&o.stderr).trim().to_string(),
            }),
            Err(e) => errors.push(LabError::spawn(what)(e)),
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(LabError::Several(errors)),
    }
}

/// The bridge, and each host's network namespace with its veth and address.
fn world_network(dir: &Path, st: &LabState) -> Result<(), LabError> {
    let keeper = st.keeper.ok_or(LabError::NoKeeper)?.pid;
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
    let path = dir.join("world.sh");
    std::fs::write(&path, &script).map_err(LabError::io(&path))?;
    sys::run(
        in_world(keeper).arg("sh").arg(&path),
        "setting up the lab network",
    )
    .map(|_| ())
}

/// Every host answers ssh: each sshd sends its banner on the host's ip from
/// inside the world, and one full ssh login (key, known_hosts, environment)
/// succeeds. (A full login to every host would cost ~0.15 s of CPU each.)
fn verify_ssh(dir: &Path, st: &LabState, keeper: u32) -> Result<(), LabError> {
    let mut cmd = in_world(keeper);
    cmd.arg(dir.join("bin/nixmox"))
        .args(["lab", "wait-ssh", "--timeout", "10"]);
    for h in &st.hosts {
        cmd.arg(h.ip.to_string());
    }
    sys::run(&mut cmd, "waiting for every host's sshd")?;
    let Some(first) = st.hosts.first() else {
        return Ok(());
    };
    let out = sys::run(
        &mut processes::ssh(dir, keeper, first.ip, "echo $NIXMOX_LAB_HOST"),
        format!("ssh -F {}/ssh_config {}", dir.display(), first.ip),
    )?;
    if out.trim() != first.name {
        return Err(LabError::WrongHost {
            ip: first.ip,
            reached: out.trim().to_string(),
            host: first.name.clone(),
        });
    }
    Ok(())
}
