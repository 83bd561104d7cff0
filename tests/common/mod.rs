//! Shared test fixtures: a real sshd on private loopback addresses, and the lab.
#![allow(dead_code)]

pub(crate) mod lab;
pub(crate) mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A real OpenSSH server listening on some 127.0.0.x addresses, with its
/// own host key, a client key, a strict known_hosts and a console config.
/// Root's login shell rc files are masked inside the server's private mount
/// namespace so each command costs what sshd costs, not what pyenv costs.
pub(crate) struct TestSshd {
    pub dir: PathBuf,
    pub ips: Vec<String>,
}

pub(crate) fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found || Path::new(tool).exists(),
        "{tool} is required for this test: apt-get install {package} (scripts/install-deps does it)"
    );
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TestSshd {
    pub(crate) fn start(name: &str, ips: &[&str]) -> Self {
        require("/usr/sbin/sshd", "openssh-server");
        require("ssh-keygen", "openssh-client");
        let dir = PathBuf::from(format!("/tmp/nmt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        // Loopback must be up (CI runs tests in a fresh network namespace).
        let _ = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        for key in ["hostkey", "id"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", ""])
                .arg("-f")
                .arg(dir.join(key)));
        }
        let sshd = Self {
            dir,
            ips: ips.iter().map(|s| s.to_string()).collect(),
        };
        sshd.write_known_hosts();
        let listen: String = ips
            .iter()
            .map(|ip| format!("ListenAddress {ip}:22\n"))
            .collect();
        std::fs::write(
            sshd.dir.join("sshd_config"),
            format!(
                "{listen}HostKey {d}/hostkey\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/id.pub\n\
                 StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nMaxSessions 200\n\
                 MaxStartups 200:30:400\nLogLevel ERROR\n",
                d = sshd.dir.display()
            ),
        )
        .unwrap();
        std::fs::write(
            sshd.config_path(),
            serde_json::json!({
                "ssh": {
                    "known_hosts": sshd.dir.join("known_hosts"),
                    "identity": sshd.dir.join("id"),
                    "user": "root",
                    "connect_timeout_secs": 2,
                    "server_alive_interval_secs": 1,
                    "control_dir": sshd.dir.join("c"),
                }
            })
            .to_string(),
        )
        .unwrap();
        sshd.resume();
        sshd
    }

    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.join("nixmox.json")
    }

    pub(crate) fn write_known_hosts(&self) {
        let pubkey = std::fs::read_to_string(self.dir.join("hostkey.pub")).unwrap();
        let key: Vec<&str> = pubkey.split_whitespace().take(2).collect();
        let lines: String = self
            .ips
            .iter()
            .map(|ip| format!("{ip} {}\n", key.join(" ")))
            .collect();
        std::fs::write(self.dir.join("known_hosts"), lines).unwrap();
    }

    /// Starts (again) the server; returns once it accepts connections.
    pub(crate) fn resume(&self) {
        let cfg = self.dir.join("sshd_config");
        run(Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "for f in /root/.bashrc /root/.profile /root/.bash_profile; do \
                   [ -e $f ] && mount --bind /dev/null $f; done; exec /usr/sbin/sshd -f {}",
                cfg.display()
            )));
        let deadline = Instant::now() + Duration::from_secs(5);
        for ip in &self.ips {
            while std::net::TcpStream::connect((ip.as_str(), 22)).is_err() {
                assert!(Instant::now() < deadline, "sshd did not come up on {ip}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Stops the server and every connection it serves (a host going down).
    pub(crate) fn stop(&self) {
        self.kill();
        for ip in &self.ips {
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::net::TcpStream::connect((ip.as_str(), 22)).is_ok() {
                assert!(Instant::now() < deadline, "sshd still answering on {ip}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn kill(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("sshd.pid")) {
            let pid = pid.trim();
            // Per-connection children first, then the listener.
            let _ = Command::new("pkill").args(["-KILL", "-P", pid]).status();
            let _ = Command::new("kill").args(["-KILL", pid]).status();
            let _ = std::fs::remove_file(self.dir.join("sshd.pid"));
        }
    }

    /// ssh processes whose command line mentions our control directory.
    pub(crate) fn ssh_processes(&self) -> Vec<String> {
        let out = Command::new("pgrep")
            .args(["-af", &format!("^ssh .*{}", self.dir.join("c").display())])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
