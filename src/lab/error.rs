//! What can go wrong in the lab. Every variant names the host, file, process
//! or command concerned; the CLI adds the subcommand in front.

use crate::manifest::Unusable;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "must run as root: the lab creates network namespaces, a bridge, veths and mounts \
         (try: sudo nixmox lab ...)"
    )]
    NotRoot,
    #[error("{0}")]
    MissingTools(MissingTools),
    #[error(
        "{}: the lab directory must be a path of letters, digits and / . _ - + @ \
         (at most 200 characters)",
        .dir.display()
    )]
    UnsafeDir { dir: PathBuf },
    /// Reading or writing a file of the lab (or the directory itself).
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem is in `unusable`; the lab touched nothing.
    #[error(
        "{}: invalid manifest: {} error(s); nothing was started",
        .path.display(),
        .unusable.errors.len()
    )]
    InvalidManifest { path: PathBuf, unusable: Unusable },
    #[error("{}: no enabled service, nothing to run", .manifest.display())]
    NoHosts { manifest: PathBuf },
    #[error(
        "{d} is in use: a lab is already up there (keeper pid {keeper}); \
         `nixmox lab down --dir {d}` first",
        d = .dir.display()
    )]
    AlreadyUp { dir: PathBuf, keeper: u32 },
    #[error("{} is in use: `lab up` is already running there (pid {pid})", .dir.display())]
    UpRunning { dir: PathBuf, pid: u32 },
    #[error("{} is not empty and not a lab directory; give a new or empty directory", .dir.display())]
    NotLabDir { dir: PathBuf },
    /// SIGINT, SIGTERM or SIGHUP arrived while `up` ran.
    #[error("interrupted")]
    Interrupted,
    #[error("{what}: cannot run: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A command the lab ran exited non-zero; `output` is its stderr (or stdout).
    #[error("{what} failed ({status}){}{output}", if .output.is_empty() { "" } else { ":\n" })]
    Failed {
        what: String,
        status: ExitStatus,
        output: String,
    },
    #[error("{what} panicked")]
    Panicked { what: &'static str },
    #[error("the keeper (unshare -n -m) did not start: {log}")]
    KeeperDidNotStart { log: String },
    #[error("the lab's keeper is not recorded in lab.json")]
    NoKeeper,
    #[error("host {host} did not start: {log}")]
    HostDidNotStart { host: String, log: String },
    #[error("hosts did not start within {secs} s")]
    HostsTimedOut { secs: u64 },
    #[error("host {host} is not running (its init is gone)")]
    HostNotRunning { host: String },
    #[error("sshd of host {host} did not start listening: {log}")]
    SshdNotListening { host: String, log: String },
    #[error("sshd of {host} would not stop: {pids:?}")]
    SshdWouldNotStop { host: String, pids: Vec<u32> },
    #[error("{}", .failures.iter().map(|(ip, why)| format!("{ip}:22: {why}")).collect::<Vec<_>>().join("\n"))]
    NoSshBanner { failures: Vec<(Ipv4Addr, String)> },
    #[error("nix-build printed no system for host {host}")]
    NoSystem { host: String },
    #[error(
        "host {host} ({ip}): activation of generation 1 failed ({status}):\n    {}",
        .tail.join("\n    ")
    )]
    ActivationFailed {
        host: String,
        ip: Ipv4Addr,
        status: ExitStatus,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    #[error("ssh to {ip} reached {reached:?}, not host {host}")]
    WrongHost {
        ip: Ipv4Addr,
        reached: String,
        host: String,
    },
    /// Several steps that ran side by side failed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<LabError>),
    #[error("no lab in {d} (start one with `nixmox lab up --dir {d}`)", d = .dir.display())]
    NoLab { dir: PathBuf },
    #[error(
        "the lab in {d} is not running (its keeper is gone); \
         `nixmox lab down --dir {d}` cleans up, then `lab up` again",
        d = .dir.display()
    )]
    NotRunning { dir: PathBuf },
    #[error("the lab in {} is still starting (or its `lab up` failed)", .dir.display())]
    Starting { dir: PathBuf },
    #[error("no host {target:?} in this lab (hosts: {})", .hosts.join(", "))]
    NoSuchHost { target: String, hosts: Vec<String> },
    #[error("no command given")]
    NoCommand,
    #[error("{host}: no running unit to kill")]
    NoRunningUnit { host: String },
    /// `lab serve` of a build whose break knob says "exit".
    #[error("this build is broken (lab break knob)")]
    BrokenBuild,
    #[error("cannot listen on 0.0.0.0:{port}: {source}")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("a generated manifest has 1 to {max} hosts, not {hosts}")]
    HostCount { hosts: usize, max: usize },
    /// Teardown could not stop everything the lab in `dir` started.
    #[error("{}: {leftover}", .dir.display())]
    TeardownIncomplete { dir: PathBuf, leftover: Leftover },
    /// `up` failed with `cause`, and tore down what it had started.
    #[error("{cause} ({})", match .teardown {
        Ok(t) => format!("torn down, {} processes stopped", t.stopped),
        Err(e) => format!("teardown incomplete: {e}"),
    })]
    UpFailed {
        cause: Box<LabError>,
        teardown: Result<super::Teardown, Box<LabError>>,
        /// A signal stopped it (the CLI exits 130).
        interrupted: bool,
    },
}

impl LabError {
    /// For `map_err`: an I/O error on `path`.
    pub(crate) fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.as_ref().to_path_buf();
        move |source| LabError::Io { path, source }
    }

    pub(crate) fn spawn(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Spawn { what, source }
    }
}

/// Tools the lab needs and did not find, by the Debian package that has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MissingTools {
    pub by_package: BTreeMap<String, Vec<String>>,
}

impl fmt::Display for MissingTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("missing tools:")?;
        for (pkg, tools) in &self.by_package {
            write!(f, "\n  {} (Debian package {pkg})", tools.join(", "))?;
        }
        let pkgs: Vec<&str> = self.by_package.keys().map(String::as_str).collect();
        write!(f, "\ninstall them with: apt-get install {}", pkgs.join(" "))
    }
}

/// A process, for messages: its pid and command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcDesc {
    pub pid: u32,
    pub cmdline: String,
}

impl fmt::Display for ProcDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.pid, self.cmdline)
    }
}

/// What teardown found it could not stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Leftover {
    /// New lab processes kept appearing, round after round.
    #[error("processes keep appearing in the lab: {}", list(.0))]
    KeepAppearing(Vec<ProcDesc>),
    /// Processes that survived SIGTERM and SIGKILL.
    #[error("these processes would not stop: {}", list(.0))]
    WouldNotStop(Vec<ProcDesc>),
    #[error("processes still in the lab's namespaces: {0:?}")]
    InNamespaces(Vec<u32>),
}

fn list(procs: &[ProcDesc]) -> String {
    procs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn messages_name_what_failed() {
        let failed = |output: &str| LabError::Failed {
            what: "ip link set".into(),
            status: ExitStatus::from_raw(256),
            output: output.into(),
        };
        assert_eq!(
            failed("").to_string(),
            "ip link set failed (exit status: 1)"
        );
        assert_eq!(
            failed("Cannot find device").to_string(),
            "ip link set failed (exit status: 1):\nCannot find device"
        );
        let missing = LabError::MissingTools(MissingTools {
            by_package: [
                ("nix-bin".to_string(), vec!["nix-build".to_string()]),
                ("iproute2".to_string(), vec!["ip".to_string()]),
            ]
            .into(),
        });
        assert_eq!(
            missing.to_string(),
            "missing tools:\n  ip (Debian package iproute2)\n  nix-build (Debian package nix-bin)\n\
             install them with: apt-get install iproute2 nix-bin"
        );
        let up = LabError::AlreadyUp {
            dir: "/tmp/l".into(),
            keeper: 42,
        };
        assert_eq!(
            up.to_string(),
            "/tmp/l is in use: a lab is already up there (keeper pid 42); \
             `nixmox lab down --dir /tmp/l` first"
        );
    }
}
