//! The files a lab is made of: Nix expression and settings, the hosts' fake
//! systemd tools, sshd and ssh configuration, and the console config.

use super::error::LabError;
use super::state::{host_dir, host_env, HostState, LabState};
use crate::config::{Config, SshSettings};
use serde_json::json;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SYSTEMS_NIX: &str = include_str!("../../assets/lab/systems.nix");
const BUILD_SYSTEM: &str = include_str!("../../assets/lab/build-system.sh");
const SWITCH: &str = include_str!("../../assets/lab/switch-to-configuration.sh");
const SYSTEMCTL: &str = include_str!("../../assets/lab/systemctl.sh");
const JOURNALCTL: &str = include_str!("../../assets/lab/journalctl.sh");

/// Nix settings for everything the lab builds or runs (`NIX_CONF_DIR=DIR/nix`,
/// and `NIX_USER_CONF_FILES` = this file so no user config adds a cache):
/// no binary cache (the default would try cache.nixos.org), no sandbox (not
/// available on Debian's nix-bin as used here), builds as root.
pub(crate) const NIX_CONF: &str = "\
# Nix settings of a nixmox lab (used through NIX_CONF_DIR): local builds only.
substituters =
trusted-substituters =
sandbox = false
build-users-group =
max-jobs = 8
cores = 1
connect-timeout = 1
";

pub(crate) fn write(path: &Path, text: &str, mode: u32) -> Result<(), LabError> {
    std::fs::write(path, text)
        .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(LabError::io(path))
}

fn create_dir(d: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(d).map_err(LabError::io(d))
}

pub(crate) fn systems_nix(dir: &Path) -> PathBuf {
    dir.join("nix/systems.nix")
}

/// Files shared by every host: tools on their PATH (DIR/bin), the Nix expression.
pub(crate) fn write_shared(dir: &Path) -> Result<(), LabError> {
    let bin = dir.join("bin");
    let nix = dir.join("nix");
    for d in [
        &bin,
        &nix,
        &dir.join("faults/broken"),
        &dir.join("hosts"),
        &dir.join("gcroots"),
    ] {
        create_dir(d)?;
    }
    write(&bin.join("systemctl"), SYSTEMCTL, 0o755)?;
    write(&bin.join("journalctl"), JOURNALCTL, 0o755)?;
    write(&nix.join("nix.conf"), NIX_CONF, 0o644)?;
    write(&nix.join("systems.nix"), SYSTEMS_NIX, 0o644)?;
    write(&nix.join("build-system.sh"), BUILD_SYSTEM, 0o644)?;
    write(&nix.join("switch-to-configuration.sh"), SWITCH, 0o755)?;
    let to = bin.join("nixmox");
    install_self(&to).map_err(LabError::io(&to))
}

/// The running binary, for the hosts (their units run `nixmox lab serve`):
/// a hard link when possible (a rebuild replaces the file, the link keeps
/// this version), else a copy.
fn install_self(to: &Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let _ = std::fs::remove_file(to);
    if std::fs::hard_link(&exe, to).is_err() {
        std::fs::copy(&exe, to)?;
    }
    Ok(())
}

/// The host's own files (keys are made by ssh-keygen separately).
pub(crate) fn write_host(dir: &Path, h: &HostState) -> Result<(), LabError> {
    let hd = host_dir(dir, &h.name);
    for sub in ["profiles/per-user/root", "run", "log", "root"] {
        create_dir(&hd.join(sub))?;
    }
    let root = hd.join("root");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
        .map_err(LabError::io(&root))?;
    write(&hd.join("sshd_config"), &sshd_config(dir, h), 0o644)?;
    let system = std::fs::read_to_string("/etc/passwd").map_err(LabError::io("/etc/passwd"))?;
    write(&hd.join("passwd"), &passwd(&system, &hd), 0o644)
}

fn sshd_config(dir: &Path, h: &HostState) -> String {
    let hd = host_dir(dir, &h.name);
    let env: Vec<String> = host_env(dir, &h.name)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "\
# sshd of nixmox lab host {name} (written by `nixmox lab up`).
ListenAddress {ip}:22
HostKey {hd}/ssh_host_ed25519_key
PidFile {hd}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# Keys live under the lab directory, which may be anywhere (e.g. /tmp).
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
PermitUserEnvironment no
MaxSessions 100
MaxStartups 100:30:200
ClientAliveInterval 15
ClientAliveCountMax 3
Subsystem sftp internal-sftp
# Root's login shell on a lab host is /bin/sh (see HOSTDIR/passwd), so a
# command costs no rc files; this is the hosts' whole environment.
SetEnv {env}
",
        name = h.name,
        ip = h.ip,
        hd = hd.display(),
        dir = dir.display(),
        env = env.join(" "),
    )
}

/// /etc/passwd as the host's sshd sees it (bind-mounted in the host's mount
/// namespace): root's shell is /bin/sh and its home the host's own.
fn passwd(system: &str, hd: &Path) -> String {
    let mut out = String::new();
    let root = format!("root:x:0:0:root:{}:/bin/sh", hd.join("root").display());
    let mut seen = false;
    for line in system.lines() {
        if line.starts_with("root:") {
            out.push_str(&root);
            seen = true;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if !seen {
        out.insert_str(0, &format!("{root}\n"));
    }
    out
}

/// ssh client config for the console and for people: one `Host` per lab host
/// (its ip, service name and host name), strict host key checking, and the
/// key exchange `kex` (see `lab_kex`).
pub(crate) fn ssh_config(st: &LabState, kex: &str) -> String {
    let d = st.dir.display();
    let mut out = format!(
        "# ssh config of the nixmox lab in {d} (written by `nixmox lab up`).\n\
         # Use from inside the lab: nixmox lab exec --dir {d} -- ssh -F {d}/ssh_config HOST CMD\n"
    );
    for h in &st.hosts {
        let _ = write!(
            out,
            "\nHost {ip} {name} {hostname}\n  HostName {ip}\n",
            ip = h.ip,
            name = h.name,
            hostname = h.hostname
        );
    }
    let _ = write!(
        out,
        "
Host *
  User root
  Port 22
  IdentityFile {d}/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile {d}/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  CheckHostIP no
  BatchMode yes
  ConnectTimeout 5
  ServerAliveInterval 5
  ServerAliveCountMax 3
  ControlMaster no
  # All lab hosts share this machine's cores with the console; see `nixmox
  # lab up --help` on why the lab picks its key exchange.
  KexAlgorithms {kex}
"
    );
    out
}

/// The lab's key exchange. OpenSSH before 9.9 offers post-quantum key
/// exchange only as sntrup761x25519, whose client keygen costs about 160 ms
/// of CPU per connection here (x25519: 16 ms): 15 lab hosts started at once
/// spend 2.4 core-seconds in the console's ssh clients, and their sshds on the
/// same cores add more, so connecting is most of a console's start-up. The
/// lab therefore uses ML-KEM (post-quantum and fast) when this ssh offers it
/// and x25519 otherwise; a real fleet uses the operator's own ssh config.
pub(crate) fn lab_kex(offered: &str) -> &'static str {
    const MLKEM: &str = "mlkem768x25519-sha256";
    if offered.lines().any(|l| l.trim() == MLKEM) {
        MLKEM
    } else {
        "curve25519-sha256"
    }
}

/// known_hosts: each host's key under its ip (ssh checks the HostName, so
/// this also covers the name and host name aliases of ssh_config).
pub(crate) fn known_hosts(st: &LabState) -> Result<String, LabError> {
    let mut out = String::new();
    for h in &st.hosts {
        let path = host_dir(&st.dir, &h.name).join("ssh_host_ed25519_key.pub");
        let pubkey = std::fs::read_to_string(&path).map_err(LabError::io(&path))?;
        let mut parts = pubkey.split_whitespace();
        let (Some(kind), Some(key)) = (parts.next(), parts.next()) else {
            return Err(LabError::Io {
                path,
                source: std::io::Error::other("malformed host key"),
            });
        };
        let _ = writeln!(out, "{} {kind} {key}", h.ip);
    }
    Ok(out)
}

/// The console config (`NIXMOX_CONFIG`) for this lab.
pub(crate) fn console_config(st: &LabState) -> Config {
    let d = &st.dir;
    let mut templates = serde_json::Map::new();
    // Build a host's system: the lab's real nix-build (no nixpkgs, no binary
    // cache). Placeholders: {manifest} (absolute path), {service}, {salt}
    // (letters, digits, . _ + -; a new salt gives a new store path, hence a
    // new generation; "" rebuilds exactly what the manifest describes). The
    // store path is printed on stdout; DIR/gcroots/{service} keeps the latest
    // build of each service from the garbage collector (one GC root per
    // service and lab, not one per build). Hosts share this machine's store,
    // so there is nothing to copy; activation uses the NixOS default as is.
    templates.insert(
        "build".into(),
        json!([
            "env",
            format!("NIX_CONF_DIR={}", d.join("nix").display()),
            format!("NIX_USER_CONF_FILES={}", d.join("nix/nix.conf").display()),
            "nix-build",
            systems_nix(d),
            "--quiet",
            "--out-link",
            d.join("gcroots/{service}"),
            "--argstr",
            "manifestFile",
            "{manifest}",
            "--argstr",
            "labDir",
            d,
            "--argstr",
            "salt",
            "{salt}",
            "-A",
            "{service}"
        ]),
    );
    // The hosts share this machine's store: there is nothing to copy.
    templates.insert("copy".into(), json!(["true"]));
    // What a host runs: the lab's switch-to-configuration keeps
    // HOSTDIR/current-system as NixOS keeps /run/current-system (/run is
    // shared by every lab host).
    templates.insert(
        "running".into(),
        json!([
            "sh",
            "-c",
            "readlink -f \"$NIXMOX_LAB_HOSTDIR/current-system\""
        ]),
    );
    Config {
        manifest: Some(st.manifest.clone()),
        ssh: SshSettings {
            config_file: Some(d.join("ssh_config")),
            known_hosts: Some(d.join("known_hosts")),
            identity: Some(d.join("id_ed25519")),
            user: Some("root".into()),
            port: Some(22),
            connect_timeout_secs: 5,
            server_alive_interval_secs: 1,
            control_dir: Some(st.control_dir.clone()),
        },
        templates,
        audit_log: Some(d.join("audit.jsonl")),
        deploy: Default::default(),
        console: Default::default(),
        lab_dir: Some(d.clone()),
        // /run and /var are shared by every lab host; the profiles directory
        // is each host's own (bind-mounted), so the host lock and the
        // host-side state (step files, the supervisor's) live there. Lab
        // hosts have no systemd: the supervisor is a setsid process.
        vars: [
            (
                "lock_dir".to_string(),
                "/nix/var/nix/profiles/.nixmox.lock".to_string(),
            ),
            (
                "state_dir".to_string(),
                "/nix/var/nix/profiles/.nixmox-state".to_string(),
            ),
            ("detach".to_string(), "setsid".to_string()),
        ]
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::lab_kex;

    #[test]
    fn the_lab_prefers_ml_kem_and_falls_back_to_x25519() {
        let new = "curve25519-sha256\nsntrup761x25519-sha512@openssh.com\nmlkem768x25519-sha256\n";
        assert_eq!(lab_kex(new), "mlkem768x25519-sha256");
        let old = "curve25519-sha256\nsntrup761x25519-sha512@openssh.com\n";
        assert_eq!(lab_kex(old), "curve25519-sha256");
        assert_eq!(lab_kex(""), "curve25519-sha256");
    }
}
