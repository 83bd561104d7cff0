//! Tearing a lab down so that nothing is left behind: every process it
//! started (found through lab.json, its namespaces and its directory), and
//! with the keeper its namespaces and mounts.

use super::error::{LabError, Leftover};
use super::preflight::require_root;
use super::state::{resolve_dir, LabState};
use super::sys;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a teardown stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Teardown {
    pub stopped: usize,
}

/// What `down` did.
#[derive(Debug, Clone)]
pub struct Down {
    /// The lab directory, absolute.
    pub dir: PathBuf,
    /// There was a lab record (lab.json) in it.
    pub had_lab: bool,
    /// How many processes were stopped.
    pub stopped: usize,
    pub took: Duration,
}

/// `nixmox lab down`: stops everything the lab in `dir` started. Idempotent.
pub fn down(dir: &Path) -> Result<Down, LabError> {
    let dir = resolve_dir(dir)?;
    require_root()?;
    let t0 = Instant::now();
    let had_lab = LabState::load(&dir).is_some();
    let Teardown { stopped } = teardown(&dir)?;
    Ok(Down {
        dir,
        had_lab,
        stopped,
        took: t0.elapsed(),
    })
}

/// Stops everything a lab in `dir` started: every process in the lab's
/// network namespaces (sshds, their sessions, units, host inits, commands run
/// with `lab exec`), and the lab's own processes wherever they are; then the
/// keeper, with which the namespaces and mounts go. Idempotent.
pub(crate) fn teardown(dir: &Path) -> Result<Teardown, LabError> {
    let incomplete = |leftover| LabError::TeardownIncomplete {
        dir: dir.to_path_buf(),
        leftover,
    };
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
            return Err(incomplete(Leftover::KeepAppearing(sys::describe(&victims))));
        }
        stopped += victims.len();
        let left = sys::terminate(&victims, Duration::from_millis(1500));
        if !left.is_empty() {
            return Err(incomplete(Leftover::WouldNotStop(sys::describe(&left))));
        }
    }
    // Nothing may be left in the lab's namespaces.
    let stray: Vec<u32> = sys::all_pids()
        .into_iter()
        .filter(|p| !spare.contains(p) && sys::alive(*p))
        .filter(|p| sys::ns_inode(*p, "net").is_some_and(|n| ours.contains(&n)))
        .collect();
    if !stray.is_empty() {
        return Err(incomplete(Leftover::InNamespaces(stray)));
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
