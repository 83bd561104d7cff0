//! Fault injection into a running lab's hosts, for tests and the demo:
//! stop or start sshd, cut a host off the network, kill its service, make its
//! next build unhealthy, write to its journal.

use super::error::LabError;
use super::journal;
use super::preflight;
use super::processes::{self, in_world, kill_and_wait, unit_names, unit_pid};
use super::state::{host_dir, RunningLab};
use super::sys;
use std::fmt;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Stop the host's sshd: the listener and every ssh connection to it
    /// (services keep running).
    StopSsh,
    /// Start the host's sshd again.
    StartSsh,
    /// Cut the host off the network (its veth on the bridge goes down).
    Partition,
    /// Reconnect a partitioned host.
    Heal,
    /// Kill the service's unit processes (SIGKILL), so health checks fail.
    KillService,
    /// Make the NEXT build of the service unhealthy.
    Break(BreakMode),
    /// Clear the break knob (the next build is healthy again).
    Fix,
    /// Append these lines to the service's unit log (its journal).
    WriteLog(String),
}

/// How a broken build is unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakMode {
    /// Its unit exits at start.
    Exit,
    /// Its unit runs but answers every request with HTTP 500.
    Http500,
    /// Its unit is healthy, but activating it stops the host's sshd (the
    /// generation cuts the deployer off); activating any other generation
    /// starts sshd again.
    Ssh,
}

impl BreakMode {
    /// As the knob file, `lab serve --broken` and the CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakMode::Exit => "exit",
            BreakMode::Http500 => "http500",
            BreakMode::Ssh => "ssh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exit" => Some(BreakMode::Exit),
            "http500" => Some(BreakMode::Http500),
            "ssh" => Some(BreakMode::Ssh),
            _ => None,
        }
    }
}

/// What a fault did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    SshStopped {
        host: String,
        processes: usize,
    },
    SshAlreadyRunning {
        host: String,
    },
    SshStarted {
        host: String,
    },
    Partitioned {
        host: String,
        veth: String,
    },
    Healed {
        host: String,
        veth: String,
    },
    /// Each killed unit with the pid it had.
    ServiceKilled {
        host: String,
        units: Vec<(String, u32)>,
    },
    Broken {
        host: String,
        mode: BreakMode,
    },
    Fixed {
        host: String,
    },
    LogWritten {
        host: String,
        unit: String,
        lines: usize,
    },
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Injected::SshStopped { host, processes } => write!(
                f,
                "{host}: sshd stopped ({processes} sshd process(es): the listener and every connection)"
            ),
            Injected::SshAlreadyRunning { host } => write!(f, "{host}: sshd is already running"),
            Injected::SshStarted { host } => write!(f, "{host}: sshd started"),
            Injected::Partitioned { host, veth } => {
                write!(f, "{host}: partitioned (veth {veth} down)")
            }
            Injected::Healed { host, veth } => write!(f, "{host}: healed (veth {veth} up)"),
            Injected::ServiceKilled { host, units } => {
                let units: Vec<String> = units
                    .iter()
                    .map(|(u, pid)| format!("{u} (pid {pid})"))
                    .collect();
                write!(f, "{host}: killed {}", units.join(", "))
            }
            Injected::Broken { host, mode } => write!(
                f,
                "{host}: the next build of {host} is broken ({}); `lab fault fix {host}` clears it",
                mode.as_str()
            ),
            Injected::Fixed { host } => write!(f, "{host}: the next build of {host} is healthy"),
            Injected::LogWritten { host, unit, lines } => write!(
                f,
                "{host}: wrote {lines} line(s) to the journal of {unit}"
            ),
        }
    }
}

/// `nixmox lab fault`: injects `fault` into the host `target` names (its
/// service name, host name or ip) in the running lab in `dir`.
pub fn inject(dir: &Path, fault: &Fault, target: &str) -> Result<Injected, LabError> {
    let RunningLab { dir, state, keeper } = RunningLab::open(dir)?;
    let h = state.find_host(target)?;
    let host = h.name.clone();
    let knob = dir.join("faults/broken").join(&host);
    Ok(match fault {
        Fault::StopSsh => Injected::SshStopped {
            processes: processes::stop_sshd(&dir, h)?,
            host,
        },
        Fault::StartSsh => {
            if processes::sshd_pid(&dir, &host).is_some() {
                return Ok(Injected::SshAlreadyRunning { host });
            }
            processes::start_sshd(&dir, h, &preflight::sshd()?)?;
            processes::wait_for_sshd(&dir, &[h], Duration::from_secs(10))?;
            Injected::SshStarted { host }
        }
        Fault::Partition | Fault::Heal => {
            let up = *fault == Fault::Heal;
            sys::run(
                in_world(keeper).args([
                    "ip",
                    "link",
                    "set",
                    &h.veth,
                    if up { "up" } else { "down" },
                ]),
                "ip link set",
            )?;
            let veth = h.veth.clone();
            if up {
                Injected::Healed { host, veth }
            } else {
                Injected::Partitioned { host, veth }
            }
        }
        Fault::KillService => {
            let mut units = Vec::new();
            for u in unit_names(&dir, &host) {
                if let Some(pid) = unit_pid(&dir, &host, &u) {
                    kill_and_wait(pid);
                    // What the lab's systemctl shows for a unit that died.
                    let _ = std::fs::write(
                        host_dir(&dir, &host)
                            .join("run")
                            .join(format!("{u}.result")),
                        "signal\n",
                    );
                    let msgs = [
                        format!("{u}.service: Main process exited, code=killed, status=9/KILL"),
                        format!("{u}.service: Failed with result 'signal'."),
                    ];
                    for msg in msgs {
                        journal::append(&dir, &host, &u, "systemd[1]", &msg);
                    }
                    units.push((u, pid));
                }
            }
            if units.is_empty() {
                return Err(LabError::NoRunningUnit { host });
            }
            Injected::ServiceKilled { host, units }
        }
        Fault::Break(mode) => {
            let knobs = dir.join("faults/broken");
            std::fs::create_dir_all(&knobs).map_err(LabError::io(&knobs))?;
            std::fs::write(&knob, format!("{}\n", mode.as_str())).map_err(LabError::io(&knob))?;
            Injected::Broken { host, mode: *mode }
        }
        Fault::Fix => {
            let _ = std::fs::remove_file(&knob);
            Injected::Fixed { host }
        }
        Fault::WriteLog(text) => {
            let unit = h.unit.clone();
            for line in text.lines() {
                journal::append(&dir, &host, &unit, &format!("{unit}[lab]"), line);
            }
            Injected::LogWritten {
                host,
                unit,
                lines: text.lines().count(),
            }
        }
    })
}
