//! The console's own configuration (`--config FILE` or `$NIXMOX_CONFIG`, JSON):
//! how to reach hosts over ssh and which command templates to run. The lab
//! writes one of these for its hosts; on a real network it is optional and
//! `~/.ssh/config` applies.

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
    /// Set by `nixmox lab up`: the lab directory this config belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_dir: Option<PathBuf>,
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

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
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
