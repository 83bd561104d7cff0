//! The console's own configuration: how to reach hosts over ssh and which
//! command templates to run. It is `--config FILE`, else `$NIXMOX_CONFIG`,
//! else `$XDG_CONFIG_HOME/nixmox/config.toml` when that exists, else the
//! defaults. TOML (with comments) for people; the JSON that `nixmox lab up`
//! writes is read too. On a real network it is optional and `~/.ssh/config`
//! applies.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The manifest to use when neither `--manifest` nor `$NIXMOX_MANIFEST` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
    #[serde(default)]
    pub ssh: SshSettings,
    /// Remote command templates by operation step (see README); values are argv
    /// lists with `{placeholders}`. Unset steps use the NixOS defaults.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub templates: serde_json::Map<String, serde_json::Value>,
    /// Extra `{placeholders}` for the templates (e.g. the lab's directory).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vars: std::collections::BTreeMap<String, String>,
    /// Where the JSONL audit log goes (default: `$XDG_STATE_HOME/nixmox/audit.jsonl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_log: Option<PathBuf>,
    /// Deploy settings; each one given here wins over the manifest's `deploy`.
    #[serde(default, skip_serializing_if = "DeploySettings::is_empty")]
    pub deploy: DeploySettings,
    #[serde(default, skip_serializing_if = "ConsoleSettings::is_default")]
    pub console: ConsoleSettings,
    /// Set by `nixmox lab up`: the lab directory this config belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_dir: Option<PathBuf>,
}

/// What the console does by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Look for drift in the background: build what the manifest would
    /// deploy (after start, each operation, each manifest change) and
    /// compare it with what each host runs. Off where builds are costly.
    #[serde(default = "yes")]
    pub drift: bool,
}

fn yes() -> bool {
    true
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self { drift: true }
    }
}

impl ConsoleSettings {
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySettings {
    /// Seconds a host waits for the deployer's confirmation after an
    /// activation before it switches back by itself (0: no host-side
    /// rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_timeout_secs: Option<u64>,
    /// Per-step time limits in seconds: `build`, `copy`, `activate`, `switch`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub timeouts: std::collections::BTreeMap<String, u64>,
}

impl DeploySettings {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The manifest's `deploy` attrset with these settings laid over it.
    pub fn over(&self, manifest_deploy: Option<&serde_json::Value>) -> serde_json::Value {
        let mut merged = match manifest_deploy {
            Some(serde_json::Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        if let Some(secs) = self.confirm_timeout_secs {
            merged.insert("confirm_timeout_secs".into(), secs.into());
        }
        if !self.timeouts.is_empty() {
            let mut t = match merged.remove("timeouts") {
                Some(serde_json::Value::Object(t)) => t,
                _ => serde_json::Map::new(),
            };
            for (step, secs) in &self.timeouts {
                t.insert(step.clone(), (*secs).into());
            }
            merged.insert("timeouts".into(), t.into());
        }
        serde_json::Value::Object(merged)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    /// An ssh_config(5) file (default: ssh's own, i.e. `~/.ssh/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<PathBuf>,
    /// known_hosts to check host keys against, strictly (unknown or changed keys are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_alive_interval")]
    pub server_alive_interval_secs: u64,
    /// Where control sockets live; must be short (ssh's socket path limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_dir: Option<PathBuf>,
}

fn default_connect_timeout() -> u64 {
    5
}

/// With ssh's ServerAliveCountMax of 3, a silent host (a partition) is
/// noticed in about three intervals, inside the default connect timeout.
fn default_alive_interval() -> u64 {
    1
}

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            config_file: None,
            known_hosts: None,
            identity: None,
            user: None,
            port: None,
            connect_timeout_secs: default_connect_timeout(),
            server_alive_interval_secs: default_alive_interval(),
            control_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid config: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// How a config file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Toml,
}

impl Format {
    /// `.json`, or text that opens with `{` (no TOML document can), is JSON;
    /// anything else is TOML.
    pub fn of(path: &Path, text: &str) -> Self {
        let json_name = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json_name || text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Toml
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        require_regular_file(path).map_err(io)?;
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(path, &text)
    }

    /// Reads `text` as the format [`Format::of`] says; unknown keys are
    /// errors that name the key, in either format.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        match Format::of(path, text) {
            Format::Json => serde_json::from_str(text).map_err(|e| invalid(e.to_string())),
            Format::Toml => toml::from_str(text).map_err(|e| invalid(toml_message(text, &e))),
        }
    }

    /// The config named on the command line or in the environment, or the
    /// defaults when neither names one.
    pub fn load_optional(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            Some(p) => Self::load(p),
            None => Ok(Self::default()),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

/// toml's own message spans several lines (a source excerpt with a caret);
/// this is the same on one line, worded like serde_json's.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{message} at line {line} column {column}")
        }
        None => message.to_string(),
    }
}

/// Refuses what is not a regular file (a FIFO would block the read forever,
/// a directory gives a confusing error) before anything opens it. A missing
/// file passes: the read that follows says so in its own words.
pub fn require_regular_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file ({what})"),
    ))
}

/// An XDG base directory: `$VAR` when it is an absolute path (the spec says
/// relative values are invalid and must be ignored), else `$HOME/<fallback>`.
pub fn xdg_dir(var: &str, home_fallback: &str) -> Option<PathBuf> {
    xdg_dir_from(
        std::env::var_os(var),
        std::env::var_os("HOME"),
        home_fallback,
    )
}

fn xdg_dir_from(
    value: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    home_fallback: &str,
) -> Option<PathBuf> {
    value
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(home_fallback))
        })
}

/// `$XDG_CONFIG_HOME/nixmox/config.toml` (default `~/.config/...`), whether
/// or not it exists.
pub fn user_config_path() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("nixmox/config.toml"))
}

/// Which config applies: the one named (`--config` or `$NIXMOX_CONFIG`; an
/// empty value counts as unset), else the user's config file if it exists.
pub fn resolve_path(named: Option<&Path>) -> Option<PathBuf> {
    match named {
        Some(p) if !p.as_os_str().is_empty() => Some(p.to_path_buf()),
        _ => user_config_path().filter(|p| p.exists()),
    }
}

#[cfg(test)]
mod deploy_settings_tests {
    use super::*;

    #[test]
    fn config_deploy_settings_win_over_the_manifests() {
        let manifest =
            serde_json::json!({"confirm_timeout_secs": 30, "timeouts": {"build": 10, "copy": 20}});
        let c: Config = Config::parse(
            Path::new("c.toml"),
            "[deploy]\nconfirm_timeout_secs = 90 # comments work\ntimeouts = { build = 99 }\n",
        )
        .unwrap();
        let merged = c.deploy.over(Some(&manifest));
        assert_eq!(
            merged,
            serde_json::json!({"confirm_timeout_secs": 90, "timeouts": {"build": 99, "copy": 20}})
        );
        assert_eq!(Config::default().deploy.over(Some(&manifest)), manifest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nixmox-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    }

    const COMMENTED: &str = r#"
# Where the manifest lives when --manifest is not given.
manifest = "/srv/homelab/nixos/service-manifest.nix"
audit_log = "/var/log/nixmox/audit.jsonl"   # trailing comments too

[ssh]
user = "deploy"
port = 2222
connect_timeout_secs = 9

[templates]
# argv lists with {placeholders}
copy = ["true"]

[vars]
lock_dir = "/run/other.lock"
"#;

    #[test]
    fn drift_can_be_turned_off_and_a_typo_there_is_named() {
        let d = scratch("drift");
        let f = d.join("config.toml");
        std::fs::write(&f, "[console]\ndrift = false\n").unwrap();
        assert!(!Config::load(&f).expect("valid").console.drift);
        std::fs::write(&f, "[console]\ndrfit = false\n").unwrap();
        let e = Config::load(&f).expect_err("unknown key").to_string();
        assert!(e.contains("drfit"), "{e}");
    }

    #[test]
    fn toml_with_comments_is_read() {
        let d = scratch("toml");
        let f = d.join("config.toml");
        std::fs::write(&f, COMMENTED).unwrap();
        let c = Config::load(&f).expect("valid TOML config");
        assert_eq!(
            c.manifest.as_deref(),
            Some(Path::new("/srv/homelab/nixos/service-manifest.nix"))
        );
        assert_eq!(c.ssh.user.as_deref(), Some("deploy"));
        assert_eq!(c.ssh.port, Some(2222));
        assert_eq!(c.ssh.connect_timeout_secs, 9);
        assert_eq!(
            c.ssh.server_alive_interval_secs, 1,
            "unset keys keep defaults"
        );
        assert_eq!(c.templates["copy"], serde_json::json!(["true"]));
        assert_eq!(c.vars["lock_dir"], "/run/other.lock");
        assert!(c.console.drift, "drift is looked for unless turned off");
        assert_eq!(
            c.audit_log.as_deref(),
            Some(Path::new("/var/log/nixmox/audit.jsonl"))
        );
    }

    #[test]
    fn the_labs_json_is_still_read_by_name_or_by_content() {
        let d = scratch("json");
        let mut c = Config::default();
        c.ssh.user = Some("root".into());
        c.vars.insert("lock_dir".into(), "/x".into());
        for name in ["nixmox.json", "nixmox.conf"] {
            let f = d.join(name);
            c.save(&f).unwrap();
            let back = Config::load(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back.ssh.user.as_deref(), Some("root"), "{name}");
            assert_eq!(back.vars["lock_dir"], "/x", "{name}");
        }
        assert_eq!(Format::of(Path::new("a.json"), ""), Format::Json);
        assert_eq!(Format::of(Path::new("a"), "  {\"ssh\":{}}"), Format::Json);
        assert_eq!(Format::of(Path::new("a.toml"), "[ssh]"), Format::Toml);
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key_in_both_formats() {
        let toml_err = Config::parse(Path::new("c.toml"), "# hi\n[ssh]\nusr = \"x\"\n")
            .expect_err("unknown key")
            .to_string();
        assert!(
            toml_err.starts_with("c.toml: invalid config: unknown field `usr`"),
            "{toml_err}"
        );
        assert!(toml_err.ends_with("at line 3 column 1"), "{toml_err}");
        assert!(!toml_err.contains('\n'), "one line: {toml_err}");
        let json_err = Config::parse(Path::new("c.json"), r#"{"ssh":{"usr":"x"}}"#)
            .expect_err("unknown key")
            .to_string();
        assert!(
            json_err.starts_with("c.json: invalid config: unknown field `usr`"),
            "{json_err}"
        );
    }

    #[test]
    fn relative_xdg_values_are_ignored() {
        let home = Some("/home/op".into());
        assert_eq!(
            xdg_dir_from(Some("/xdg/conf".into()), home.clone(), ".config"),
            Some(PathBuf::from("/xdg/conf"))
        );
        for relative in ["xdg/conf", "", "./conf"] {
            assert_eq!(
                xdg_dir_from(Some(relative.into()), home.clone(), ".config"),
                Some(PathBuf::from("/home/op/.config")),
                "{relative:?}"
            );
        }
        assert_eq!(xdg_dir_from(None, None, ".config"), None);
        assert_eq!(xdg_dir_from(None, Some("".into()), ".config"), None);
    }

    #[test]
    fn a_fifo_or_a_directory_is_refused_without_blocking() {
        let d = scratch("fifo");
        let fifo = d.join("config.toml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo (coreutils) runs");
        assert!(made.success());
        let started = Instant::now();
        let err = Config::load(&fifo)
            .expect_err("a FIFO is refused")
            .to_string();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "it must not block"
        );
        assert!(
            err.ends_with("cannot read config: not a regular file (a FIFO)"),
            "{err}"
        );
        let err = Config::load(&d)
            .expect_err("a directory is refused")
            .to_string();
        assert!(err.ends_with("not a regular file (a directory)"), "{err}");
        let missing = Config::load(&d.join("missing.toml"))
            .expect_err("missing")
            .to_string();
        assert!(missing.contains("No such file"), "{missing}");
    }

    #[test]
    fn an_empty_name_means_unset() {
        assert_eq!(
            resolve_path(Some(Path::new("/etc/nixmox.toml"))),
            Some(PathBuf::from("/etc/nixmox.toml"))
        );
        assert_eq!(resolve_path(Some(Path::new(""))), resolve_path(None));
    }
}
