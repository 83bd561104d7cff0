//! What runs in a lab, per host: its init, sshd, link, generation and units.

use super::error::LabError;
use super::processes::{in_world, sshd_pid, unit_names, unit_pid};
use super::state::{host_dir, RunningLab};
use super::sys;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LabStatus {
    pub dir: PathBuf,
    pub keeper: u32,
    pub manifest: PathBuf,
    pub hosts: Vec<HostStatus>,
    /// Hosts whose next build is unhealthy (the break knob).
    pub broken: Vec<String>,
}

impl LabStatus {
    /// Every host runs, with sshd and link up and every unit active.
    pub fn all_up(&self) -> bool {
        self.hosts.iter().all(HostStatus::all_up)
    }
}

#[derive(Debug, Clone)]
pub struct HostStatus {
    pub name: String,
    pub ip: Ipv4Addr,
    /// Its init (which holds its namespaces) runs.
    pub running: bool,
    pub sshd_up: bool,
    /// Its veth on the bridge is up; `None` when `ip link` could not tell.
    pub link_up: Option<bool>,
    /// The current generation of its system profile.
    pub generation: Option<u32>,
    /// Its units, each active or not, as the lab's `systemctl` sees them.
    pub units: Vec<(String, bool)>,
}

impl HostStatus {
    pub fn all_up(&self) -> bool {
        self.running
            && self.sshd_up
            && self.link_up == Some(true)
            && self.units.iter().all(|(_, active)| *active)
    }
}

/// `nixmox lab status`.
pub fn status(dir: &Path) -> Result<LabStatus, LabError> {
    let RunningLab { dir, state, keeper } = RunningLab::open(dir)?;
    let links = link_states(keeper);
    let hosts = state
        .hosts
        .iter()
        .map(|h| HostStatus {
            name: h.name.clone(),
            ip: h.ip,
            running: h.init.is_some_and(|p| p.alive()),
            sshd_up: sshd_pid(&dir, &h.name).is_some(),
            link_up: links.get(&h.veth).copied(),
            generation: generation(&dir, &h.name),
            units: unit_names(&dir, &h.name)
                .into_iter()
                .map(|u| {
                    let active = unit_pid(&dir, &h.name, &u).is_some();
                    (u, active)
                })
                .collect(),
        })
        .collect();
    let broken = std::fs::read_dir(dir.join("faults/broken"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Ok(LabStatus {
        keeper,
        manifest: state.manifest,
        hosts,
        broken,
        dir,
    })
}

/// Bridge-side veth states in the world: name -> up.
fn link_states(keeper: u32) -> BTreeMap<String, bool> {
    let Ok(out) = sys::run(
        in_world(keeper).args(["ip", "-o", "link", "show"]),
        "ip link",
    ) else {
        return BTreeMap::new();
    };
    parse_links(&out)
}

fn parse_links(out: &str) -> BTreeMap<String, bool> {
    let mut map = BTreeMap::new();
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
        map.insert(name, up);
    }
    map
}

/// The host's current generation number (from its profile link).
fn generation(dir: &Path, name: &str) -> Option<u32> {
    let link = std::fs::read_link(host_dir(dir, name).join("profiles/system")).ok()?;
    let s = link.file_name()?.to_str()?;
    s.strip_prefix("system-")?
        .strip_suffix("-link")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_flags() {
        let out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n\
                   5: v0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n\
                   6: v1@if2: <BROADCAST,MULTICAST> mtu 1500\n";
        let links = parse_links(out);
        assert_eq!(links.get("v0"), Some(&true));
        assert_eq!(links.get("v1"), Some(&false));
        assert_eq!(links.get("lo"), Some(&true));
    }
}
