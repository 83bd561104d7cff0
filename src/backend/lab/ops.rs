//! Operating a running lab: `exec`, `status`, `fault`, and the keeper.

use super::state::{host_dir, HostState, LabState};
use super::sys;
use super::world::{self, Fallible};
use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The running lab in `dir`, or why there is none.
pub fn running(dir: &Path) -> Fallible<(PathBuf, LabState, u32)> {
    let dir = world::lab_dir(dir)?;
    let d = dir.display();
    let st = LabState::load(&dir)
        .ok_or_else(|| format!("no lab in {d} (start one with `nixmox lab up --dir {d}`)"))?;
    let keeper = st.keeper_alive().ok_or_else(|| {
        format!("the lab in {d} is not running (its keeper is gone); `nixmox lab down --dir {d}` cleans up, then `lab up` again")
    })?;
    if !st.ready {
        return Err(format!(
            "the lab in {d} is still starting (or its `lab up` failed)"
        ));
    }
    Ok((dir, st, keeper))
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("nixmox lab: {msg}");
    ExitCode::from(1)
}

/// `nixmox lab exec [--host H] -- CMD...`: CMD inside the world (or on a host),
/// with the lab's console config; replaces this process, so the exit status,
/// signals and the terminal pass straight through.
pub fn exec(dir: &Path, host: Option<&str>, command: &[OsString]) -> ExitCode {
    let (dir, st, keeper) = match running(dir) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let Some((prog, args)) = command.split_first() else {
        return fail("exec: no command given");
    };
    let mut cmd = match host {
        Some(target) => {
            let Some(h) = st.host(target) else {
                return fail(format!("no host {target:?} in this lab"));
            };
            match world::on_host(&dir, h) {
                Ok(c) => c,
                Err(e) => return fail(e),
            }
        }
        None => {
            let mut c = world::in_world(keeper);
            // `nixmox` inside the world is the binary running this command.
            let admin = dir.join("admin-bin");
            if let Ok(exe) = std::env::current_exe() {
                let _ = std::fs::create_dir_all(&admin);
                let tmp = admin.join(format!(".nixmox.{}", std::process::id()));
                let _ = std::fs::remove_file(&tmp);
                if std::os::unix::fs::symlink(&exe, &tmp).is_ok() {
                    let _ = std::fs::rename(&tmp, admin.join("nixmox"));
                }
            }
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut new_path = OsString::from(admin.as_os_str());
            new_path.push(":");
            new_path.push(path);
            c.env("PATH", new_path)
                .env("NIXMOX_CONFIG", dir.join("nixmox.json"))
                .env("NIXMOX_MANIFEST", &st.manifest)
                .env("NIXMOX_LAB_DIR", &dir)
                .env("NIX_CONF_DIR", dir.join("nix"))
                .env("NIX_USER_CONF_FILES", dir.join("nix/nix.conf"));
            if let Ok(cwd) = std::env::current_dir() {
                c.current_dir(cwd);
            }
            c
        }
    };
    cmd.arg(prog).args(args);
    let err = cmd.exec();
    fail(format!("exec: nsenter: {err}"))
}

/// `nixmox lab status`: what runs, per host.
pub fn status(dir: &Path) -> ExitCode {
    let (dir, st, keeper) = match running(dir) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let links = link_states(keeper);
    let w = st
        .hosts
        .iter()
        .map(|h| h.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "lab {} (keeper pid {keeper}, manifest {})",
        dir.display(),
        st.manifest.display()
    );
    println!(
        "{:<w$}  {:<15}  {:<5}  {:<5}  {:<4}  UNITS",
        "HOST", "IP", "SSHD", "LINK", "GEN"
    );
    let mut all_ok = true;
    for h in &st.hosts {
        let host_up = h.init.is_some_and(|p| p.alive());
        let sshd = if world::sshd_pid(&dir, &h.name).is_some() {
            "up"
        } else {
            "down"
        };
        let link = links.get(&h.veth).map(String::as_str).unwrap_or("?");
        let gen = generation(&dir, &h.name).map_or("-".to_string(), |g| g.to_string());
        let units = unit_states(&dir, &h.name);
        let units_text = if !host_up {
            "(host gone)".to_string()
        } else if units.is_empty() {
            "-".to_string()
        } else {
            units
                .iter()
                .map(|(u, s)| format!("{u}:{s}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        all_ok &=
            host_up && sshd == "up" && link == "up" && units.iter().all(|(_, s)| s == "active");
        println!(
            "{:<w$}  {:<15}  {:<5}  {:<5}  {:<4}  {}",
            h.name,
            h.ip.to_string(),
            sshd,
            link,
            gen,
            units_text
        );
    }
    let broken: Vec<String> = std::fs::read_dir(dir.join("faults/broken"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if !broken.is_empty() {
        println!(
            "break knob set (next build unhealthy): {}",
            broken.join(", ")
        );
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

/// Bridge-side veth states in the world: name -> "up"/"down".
fn link_states(keeper: u32) -> std::collections::BTreeMap<String, String> {
    let mut map = std::collections::BTreeMap::new();
    let Ok(out) = sys::run(
        world::in_world(keeper).args(["ip", "-o", "link", "show"]),
        "ip link",
    ) else {
        return map;
    };
    for line in out.lines() {
        // "5: v0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> ..."
        let mut parts = line.split(": ");
        let (Some(_), Some(name), Some(flags)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or(name).to_string();
        let up = flags
            .split('>')
            .next()
            .is_some_and(|f| f.trim_start_matches('<').split(',').any(|x| x == "UP"));
        map.insert(name, if up { "up" } else { "down" }.to_string());
    }
    map
}

/// The host's current generation number (from its profile link).
pub fn generation(dir: &Path, name: &str) -> Option<u32> {
    let link = std::fs::read_link(host_dir(dir, name).join("profiles/system")).ok()?;
    let s = link.file_name()?.to_str()?;
    s.strip_prefix("system-")?
        .strip_suffix("-link")?
        .parse()
        .ok()
}

/// The units the host has pid files for, with their state as the lab's
/// systemctl sees it.
pub fn unit_states(dir: &Path, name: &str) -> Vec<(String, String)> {
    let run = host_dir(dir, name).join("run");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&run) else {
        return out;
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
    for u in names {
        let state = match unit_pid(dir, name, &u) {
            Some(_) => "active",
            None => "failed",
        };
        out.push((u, state.to_string()));
    }
    out
}

fn unit_pid(dir: &Path, name: &str, unit: &str) -> Option<u32> {
    let text = std::fs::read_to_string(host_dir(dir, name).join("run").join(format!("{unit}.pid")))
        .ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    sys::alive(pid).then_some(pid)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// Stop the host's sshd: the listener and every ssh connection to it (services keep running).
    StopSsh,
    /// Start the host's sshd again.
    StartSsh,
    /// Cut the host off the network (its veth on the bridge goes down).
    Partition,
    /// Reconnect a partitioned host.
    Heal,
    /// Kill the service's unit processes (SIGKILL), so health checks fail.
    KillService,
    /// Make the NEXT build of the service unhealthy (its unit dies at start; `--mode http500`: answers 500).
    Break,
    /// Clear the break knob (the next build is healthy again).
    Fix,
    /// Append a line to the service's unit log (its journal), e.g. for log tests.
    WriteLog,
}

pub fn fault(dir: &Path, kind: Fault, target: &str, text: Option<&str>, mode: &str) -> ExitCode {
    match fault_inner(dir, kind, target, text, mode) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn fault_inner(
    dir: &Path,
    kind: Fault,
    target: &str,
    text: Option<&str>,
    mode: &str,
) -> Fallible<String> {
    let (dir, st, keeper) = running(dir)?;
    let h: &HostState = st.host(target).ok_or_else(|| {
        format!(
            "no host {target:?} in this lab (hosts: {})",
            st.hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let name = &h.name;
    match kind {
        Fault::StopSsh => {
            let netns = h.netns;
            let pids: Vec<u32> = sys::all_pids()
                .into_iter()
                .filter(|p| sys::comm(*p).starts_with("sshd"))
                .filter(|p| netns.is_some() && sys::ns_inode(*p, "net") == netns)
                .collect();
            let left = sys::terminate(&pids, Duration::from_secs(2));
            if !left.is_empty() {
                return Err(format!("sshd of {name} would not stop: {left:?}"));
            }
            let _ = std::fs::remove_file(host_dir(&dir, name).join("sshd.pid"));
            Ok(format!(
                "{name}: sshd stopped ({} sshd process(es): the listener and every connection)",
                pids.len()
            ))
        }
        Fault::StartSsh => {
            if world::sshd_pid(&dir, name).is_some() {
                return Ok(format!("{name}: sshd is already running"));
            }
            let sshd =
                sys::which("sshd").ok_or("sshd not found (apt-get install openssh-server)")?;
            world::start_sshd(&dir, h, &sshd)?;
            world::wait_for_sshd(&dir, &[h], Duration::from_secs(10))?;
            Ok(format!("{name}: sshd started"))
        }
        Fault::Partition | Fault::Heal => {
            let state = if kind == Fault::Partition {
                "down"
            } else {
                "up"
            };
            sys::run(
                world::in_world(keeper).args(["ip", "link", "set", &h.veth, state]),
                "ip link set",
            )?;
            Ok(if kind == Fault::Partition {
                format!("{name}: partitioned (veth {} down)", h.veth)
            } else {
                format!("{name}: healed (veth {} up)", h.veth)
            })
        }
        Fault::KillService => {
            let units = unit_states(&dir, name);
            let mut killed = Vec::new();
            for (u, _) in &units {
                if let Some(pid) = unit_pid(&dir, name, u) {
                    sys::signal(&[pid], "KILL");
                    let t = Instant::now();
                    while sys::alive(pid) && t.elapsed() < Duration::from_secs(3) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    let _ = std::fs::write(
                        host_dir(&dir, name).join("run").join(format!("{u}.result")),
                        "signal\n",
                    );
                    journal(
                        &dir,
                        name,
                        u,
                        "systemd[1]",
                        &format!("{u}.service: Main process exited, code=killed, status=9/KILL"),
                    );
                    journal(
                        &dir,
                        name,
                        u,
                        "systemd[1]",
                        &format!("{u}.service: Failed with result 'signal'."),
                    );
                    killed.push(format!("{u} (pid {pid})"));
                }
            }
            if killed.is_empty() {
                return Err(format!("{name}: no running unit to kill"));
            }
            Ok(format!("{name}: killed {}", killed.join(", ")))
        }
        Fault::Break => {
            let mode = match mode {
                "exit" | "http500" => mode,
                other => return Err(format!("unknown break mode {other:?} (exit or http500)")),
            };
            let f = dir.join("faults/broken").join(name);
            std::fs::create_dir_all(f.parent().unwrap_or(&dir)).map_err(|e| e.to_string())?;
            std::fs::write(&f, format!("{mode}\n")).map_err(|e| e.to_string())?;
            Ok(format!(
                "{name}: the next build of {name} is broken ({mode}); `lab fault fix {name}` clears it"
            ))
        }
        Fault::Fix => {
            let f = dir.join("faults/broken").join(name);
            let _ = std::fs::remove_file(&f);
            Ok(format!("{name}: the next build of {name} is healthy"))
        }
        Fault::WriteLog => {
            let text = text.ok_or("write-log needs the text to write")?;
            let unit = &h.unit;
            for line in text.lines() {
                journal(&dir, name, unit, &format!("{unit}[lab]"), line);
            }
            Ok(format!(
                "{name}: wrote {} line(s) to the journal of {unit}",
                text.lines().count()
            ))
        }
    }
}

/// Appends a line to a unit's journal file, as the unit's log lines look.
fn journal(dir: &Path, host: &str, unit: &str, ident: &str, msg: &str) {
    let path = host_dir(dir, host).join("log").join(format!("{unit}.log"));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(format!("{} {host} {ident}: {msg}\n", sys::iso_now()).as_bytes());
    }
}

/// `nixmox lab keeper`: holds namespaces; does nothing else, until killed.
pub fn keeper() -> ExitCode {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// `nixmox lab wait-ssh`: every address has an sshd that sends its banner.
pub fn wait_ssh(ips: &[std::net::Ipv4Addr], timeout: u64) -> ExitCode {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let threads: Vec<_> = ips
        .iter()
        .map(|ip| {
            let ip = *ip;
            std::thread::spawn(move || -> Result<(), String> {
                let addr = std::net::SocketAddr::from((ip, 22));
                loop {
                    let attempt = (|| -> std::io::Result<String> {
                        let mut s =
                            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
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
                        Ok(other) => {
                            return Err(format!("{ip}:22 answered {:?}, not ssh", other.trim()))
                        }
                        Err(e) if Instant::now() > deadline => return Err(format!("{ip}:22: {e}")),
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        })
        .collect();
    let mut failed = false;
    for t in threads {
        if let Ok(Err(e)) | Err(e) = t.join().map_err(|_| "panicked".to_string()) {
            eprintln!("{e}");
            failed = true;
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
