//! The lab's processes: the keeper that holds the world's namespaces, each
//! host's init and sshd, and the units on the hosts: starting them, finding
//! their pids, stopping them, and entering their namespaces.

use super::error::LabError;
use super::state::{host_dir, host_env, HostState};
use super::sys::{self, ProcId};
use rustix::process::Signal;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What `nixmox lab keeper` does: hold the namespaces it was started in,
/// and nothing else, until it is killed.
pub fn hold_namespaces() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Starts the world's keeper (`unshare -n -m` of `nixmox lab keeper`) and
/// waits until it runs in a network namespace of its own.
pub(crate) fn start_keeper(dir: &Path, children: &mut Vec<Child>) -> Result<ProcId, LabError> {
    let exe = dir.join("bin/nixmox");
    let log_path = dir.join("keeper.log");
    let log = std::fs::File::create(&log_path).map_err(LabError::io(&log_path))?;
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
        .map_err(LabError::spawn("the keeper (setsid unshare)"))?;
    let pid = child.id();
    children.push(child);
    let outer = sys::ns_inode(sys::self_pid(), "net");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cmd = sys::cmdline(pid);
        if cmd.iter().any(|a| a == "keeper") && sys::ns_inode(pid, "net") != outer {
            break;
        }
        if !sys::alive(pid) || Instant::now() > deadline {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(LabError::KeeperDidNotStart {
                log: log.trim().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    ProcId::of(pid).ok_or(LabError::KeeperDidNotStart {
        log: format!("pid {pid} vanished"),
    })
}

/// Starts every host's init: it enters the host's network namespace, makes
/// a private mount namespace with the host's profiles and passwd, and stays
/// (it is what the lab enters to act on the host, and what holds the host's
/// namespaces). Returns the inits in the order of `hosts`. `check` is asked
/// while waiting, and stops the wait with its error.
pub(crate) fn start_inits(
    dir: &Path,
    keeper: u32,
    hosts: &[HostState],
    children: &mut Vec<Child>,
    check: &dyn Fn() -> Result<(), LabError>,
) -> Result<Vec<ProcId>, LabError> {
    let exe = dir.join("bin/nixmox");
    let mut pids = Vec::new();
    for h in hosts {
        let hd = host_dir(dir, &h.name);
        let log = hd.join("init.log");
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
            .arg(dir)
            .arg(&h.name)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(LabError::io(&log))?)
            .spawn()
            .map_err(LabError::spawn(format!("the init of host {}", h.name)))?;
        pids.push(child.id());
        children.push(child);
    }
    const LIMIT: Duration = Duration::from_secs(15);
    let deadline = Instant::now() + LIMIT;
    let mut inits: Vec<Option<ProcId>> = vec![None; pids.len()];
    let mut waiting: BTreeSet<usize> = (0..pids.len()).collect();
    while !waiting.is_empty() {
        for i in waiting.clone() {
            let pid = pids[i];
            if sys::cmdline(pid).iter().any(|a| a == "keeper") {
                inits[i] = ProcId::of(pid);
                waiting.remove(&i);
            } else if !sys::alive(pid) {
                let h = &hosts[i];
                let log = std::fs::read_to_string(host_dir(dir, &h.name).join("init.log"))
                    .unwrap_or_default();
                return Err(LabError::HostDidNotStart {
                    host: h.name.clone(),
                    log: log.trim().to_string(),
                });
            }
        }
        if Instant::now() > deadline {
            return Err(LabError::HostsTimedOut {
                secs: LIMIT.as_secs(),
            });
        }
        check()?;
        std::thread::sleep(Duration::from_millis(2));
    }
    inits
        .into_iter()
        .zip(hosts)
        .map(|(init, h)| {
            init.ok_or_else(|| LabError::HostDidNotStart {
                host: h.name.clone(),
                log: "its init vanished".into(),
            })
        })
        .collect()
}

/// A command in the world's network and mount namespaces.
pub(crate) fn in_world(keeper: u32) -> Command {
    let mut c = Command::new("nsenter");
    c.arg("-t").arg(keeper.to_string()).args(["-n", "-m", "--"]);
    c
}

/// A command on a host: its network and mount namespaces, its environment.
pub(crate) fn on_host(dir: &Path, h: &HostState) -> Result<Command, LabError> {
    let init = running_init(h)?;
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

/// ssh from inside the world with the lab's ssh config.
pub(crate) fn ssh(dir: &Path, keeper: u32, ip: Ipv4Addr, remote: &str) -> Command {
    let mut c = Command::new("nsenter");
    c.arg("-t")
        .arg(keeper.to_string())
        .args(["-n", "--", "ssh", "-F"])
        .arg(dir.join("ssh_config"))
        .arg(ip.to_string())
        .arg(remote);
    c.current_dir("/");
    c
}

fn running_init(h: &HostState) -> Result<ProcId, LabError> {
    h.init
        .filter(|p| p.alive())
        .ok_or_else(|| LabError::HostNotRunning {
            host: h.name.clone(),
        })
}

/// Starts the host's sshd (it daemonizes and writes its pid file once it listens).
pub(crate) fn start_sshd(dir: &Path, h: &HostState, sshd: &Path) -> Result<(), LabError> {
    let child = spawn_sshd(dir, h, sshd)?;
    finish_sshd(h, child)
}

/// Starts the host's sshd without waiting: `finish_sshd` waits, so that many
/// start side by side.
pub(crate) fn spawn_sshd(dir: &Path, h: &HostState, sshd: &Path) -> Result<Child, LabError> {
    let hd = host_dir(dir, &h.name);
    let _ = std::fs::remove_file(hd.join("sshd.pid"));
    let init = running_init(h)?;
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
        .map_err(LabError::spawn(format!("sshd of host {}", h.name)))
}

/// Waits for the daemonizing parent of sshd to exit.
pub(crate) fn finish_sshd(h: &HostState, child: Child) -> Result<(), LabError> {
    let what = format!("sshd of host {}", h.name);
    let out = child.wait_with_output().map_err(LabError::spawn(&what))?;
    if out.status.success() {
        return Ok(());
    }
    Err(LabError::Failed {
        what,
        status: out.status,
        output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// The pid of a host's sshd listener, when it runs.
pub(crate) fn sshd_pid(dir: &Path, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(host_dir(dir, name).join("sshd.pid")).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    (sys::alive(pid) && sys::comm(pid).starts_with("sshd")).then_some(pid)
}

/// Waits until every host's sshd has written its pid file (it listens then).
pub(crate) fn wait_for_sshd(
    dir: &Path,
    hosts: &[&HostState],
    timeout: Duration,
) -> Result<(), LabError> {
    let deadline = Instant::now() + timeout;
    let mut waiting: Vec<&HostState> = hosts.to_vec();
    while !waiting.is_empty() {
        waiting.retain(|h| sshd_pid(dir, &h.name).is_none());
        let Some(h) = waiting.first() else {
            break;
        };
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(host_dir(dir, &h.name).join("sshd.log"))
                .unwrap_or_default();
            return Err(LabError::SshdNotListening {
                host: h.name.clone(),
                log: log.trim().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Stops every sshd process in the host's network namespace: the listener
/// and every connection. Returns how many there were.
pub(crate) fn stop_sshd(dir: &Path, h: &HostState) -> Result<usize, LabError> {
    let netns = h.netns;
    let pids: Vec<u32> = sys::all_pids()
        .into_iter()
        .filter(|p| sys::comm(*p).starts_with("sshd"))
        .filter(|p| netns.is_some() && sys::ns_inode(*p, "net") == netns)
        .collect();
    let left = sys::terminate(&pids, Duration::from_secs(2));
    if !left.is_empty() {
        return Err(LabError::SshdWouldNotStop {
            host: h.name.clone(),
            pids: left,
        });
    }
    let _ = std::fs::remove_file(host_dir(dir, &h.name).join("sshd.pid"));
    Ok(pids.len())
}

/// What `nixmox lab wait-ssh` does (inside the world): waits until every
/// address has an sshd that sends its banner on port 22.
pub fn wait_for_banners(ips: &[Ipv4Addr], timeout: Duration) -> Result<(), LabError> {
    let deadline = Instant::now() + timeout;
    let threads: Vec<_> = ips
        .iter()
        .map(|ip| {
            let ip = *ip;
            std::thread::spawn(move || banner(ip, deadline).map_err(|why| (ip, why)))
        })
        .collect();
    let mut failures = Vec::new();
    for (t, ip) in threads.into_iter().zip(ips) {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(f)) => failures.push(f),
            Err(_) => failures.push((*ip, "panicked".into())),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(LabError::NoSshBanner { failures })
    }
}

fn banner(ip: Ipv4Addr, deadline: Instant) -> Result<(), String> {
    let addr = SocketAddr::from((ip, 22));
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut buf = [0u8; 64];
            let mut got = Vec::new();
            while !got.contains(&b'\n') && got.len() < 255 {
                let n = std::io::Read::read(&mut s, &mut buf)?;
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            Ok(String::from_utf8_lossy(&got).into_owned())
        })();
        match attempt {
            Ok(banner) if banner.starts_with("SSH-2.0-") => return Ok(()),
            Ok(other) => return Err(format!("answered {:?}, not ssh", other.trim())),
            Err(e) if Instant::now() > deadline => return Err(e.to_string()),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The units the host has pid files for (the lab's `systemctl` writes them).
pub(crate) fn unit_names(dir: &Path, host: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(host_dir(dir, host).join("run")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".pid")
                .filter(|u| !u.starts_with('.'))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// The pid of a unit's main process, when it runs.
pub(crate) fn unit_pid(dir: &Path, host: &str, unit: &str) -> Option<u32> {
    let path = host_dir(dir, host).join("run").join(format!("{unit}.pid"));
    let pid: u32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    sys::alive(pid).then_some(pid)
}

/// SIGKILLs a process and waits (up to 3 s) until it is gone.
pub(crate) fn kill_and_wait(pid: u32) {
    sys::signal(&[pid], Signal::KILL);
    let t = Instant::now();
    while sys::alive(pid) && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(5));
    }
}
