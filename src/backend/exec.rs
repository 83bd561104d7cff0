//! Command templates: every remote or local step is an argv with
//! `{placeholders}`, with a NixOS default that the manifest's `deploy`
//! attrset or the console config can override (the lab sets its own).
//!
//! Substitution never lets a value change the shape of a command: a
//! placeholder that is a whole argument becomes that argument verbatim (and
//! the ssh layer quotes every argument); a placeholder inside a larger
//! argument (a shell script) is replaced by the value shell-quoted.

use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) type Template = Vec<String>;

/// Every step's template, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Templates(pub BTreeMap<String, Template>);

const DEFAULTS: &[(&str, &[&str])] = &[
    // Local: build the host's system closure from the flake.
    (
        "build",
        &[
            "nix",
            "--extra-experimental-features",
            "nix-command flakes",
            "build",
            "--no-link",
            "--print-out-paths",
            "{flake}#nixosConfigurations.{name}.config.system.build.toplevel",
        ],
    ),
    // Local: copy the closure to the host.
    (
        "copy",
        &["nix", "--extra-experimental-features", "nix-command", "copy", "--to", "ssh://{user}@{ip}", "{path}"],
    ),
    // Remote (a script, run detached): make it the system generation and switch.
    (
        "activate",
        &["sh", "-c", "nix-env -p {profile} --set {path} && {path}/bin/switch-to-configuration switch"],
    ),
    // Remote (a script, run detached): go back to a generation and switch.
    (
        "switch_generation",
        &["sh", "-c", "nix-env -p {profile} --switch-generation {generation} && {profile}/bin/switch-to-configuration switch"],
    ),
    // Remote: the store path the profile points at.
    ("current", &["readlink", "-f", "{profile}"]),
    // Remote: the store path the host runs now (not the profile: a switch
    // that failed halfway leaves them apart).
    ("running", &["readlink", "-f", "/run/current-system"]),
    // Remote: the generations of the system profile.
    ("generations", &["nix-env", "-p", "{profile}", "--list-generations"]),
];

/// Placeholders every template may use besides per-call ones.
pub(crate) const PROFILE: &str = "/nix/var/nix/profiles/system";
pub(crate) const LOCK_DIR: &str = "/run/nixmox.lock";
/// The private directory for host-side step files and the supervisor's.
pub(crate) const STATE_DIR: &str = "/var/lib/nixmox";

/// How long each step may take before it is killed (local steps: their
/// process group; remote ones: on the host). Defaults, overridden by the
/// manifest's `deploy.timeouts.STEP` (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepTimeouts {
    pub build: Duration,
    pub copy: Duration,
    pub activate: Duration,
    pub switch: Duration,
}

impl Default for StepTimeouts {
    fn default() -> Self {
        Self {
            build: Duration::from_secs(3600),
            copy: Duration::from_secs(1800),
            activate: Duration::from_secs(600),
            switch: Duration::from_secs(600),
        }
    }
}

/// Seconds the host waits for the deployer's confirmation before it
/// switches back by itself, unless configured otherwise.
pub(crate) const CONFIRM_TIMEOUT_SECS: u64 = 60;

impl StepTimeouts {
    /// The defaults with `deploy.timeouts` of the manifest applied; a value
    /// that is not a positive number of seconds is an error naming it.
    pub(crate) fn resolve(manifest_deploy: Option<&Value>) -> Result<Self, String> {
        let mut t = Self::default();
        let Some(Value::Object(m)) = manifest_deploy.and_then(|d| d.get("timeouts")) else {
            return Ok(t);
        };
        for (k, v) in m {
            let secs = v.as_u64().filter(|s| *s > 0).ok_or_else(|| {
                format!("deploy.timeouts.{k}: expected a positive number of seconds")
            })?;
            let slot = match k.as_str() {
                "build" => &mut t.build,
                "copy" => &mut t.copy,
                "activate" => &mut t.activate,
                "switch" => &mut t.switch,
                _ => {
                    return Err(format!(
                        "deploy.timeouts.{k}: unknown step (build, copy, activate, switch)"
                    ))
                }
            };
            *slot = Duration::from_secs(secs);
        }
        Ok(t)
    }
}

/// The manifest's `deploy.confirm_timeout_secs`, if set.
pub(crate) fn confirm_timeout_in(manifest_deploy: Option<&Value>) -> Result<Option<u64>, String> {
    match manifest_deploy.and_then(|d| d.get("confirm_timeout_secs")) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| "deploy.confirm_timeout_secs: expected a number of seconds".into()),
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self(
            DEFAULTS
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        )
    }
}

impl Templates {
    /// Defaults, then the manifest's `deploy.templates`, then the console
    /// config's `templates` (later wins). Each override must be a non-empty
    /// list of strings; anything else is an error naming where it came from.
    pub(crate) fn resolve(
        manifest_deploy: Option<&Value>,
        config: &serde_json::Map<String, Value>,
    ) -> Result<Self, String> {
        let mut t = Self::default();
        if let Some(Value::Object(d)) = manifest_deploy {
            if let Some(Value::Object(m)) = d.get("templates") {
                t.merge(m, "deploy.templates")?;
            }
        }
        t.merge(config, "config templates")?;
        Ok(t)
    }

    fn merge(&mut self, m: &serde_json::Map<String, Value>, origin: &str) -> Result<(), String> {
        for (k, v) in m {
            let argv: Option<Vec<String>> = v
                .as_array()
                .filter(|a| !a.is_empty())
                .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect());
            match argv {
                Some(argv) => {
                    self.0.insert(k.clone(), argv);
                }
                None => {
                    return Err(format!(
                        "{origin}.{k}: expected a non-empty list of strings (an argv with {{placeholders}})"
                    ))
                }
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, step: &str) -> Option<&Template> {
        self.0.get(step)
    }

    /// The template for `step` with `vars` substituted.
    pub(crate) fn render(&self, step: &str, vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let t = self
            .get(step)
            .ok_or_else(|| format!("no command template for step {step:?}"))?;
        render(t, vars)
    }
}

pub(crate) fn render(template: &[String], vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    template
        .iter()
        .map(|arg| {
            if let Some(name) = arg.strip_prefix('{').and_then(|a| a.strip_suffix('}')) {
                if !name.contains(['{', '}']) {
                    return lookup(vars, name).map(str::to_string);
                }
            }
            let mut out = String::new();
            let mut rest = arg.as_str();
            while let Some(start) = rest.find('{') {
                let Some(len) = rest[start..].find('}') else {
                    break;
                };
                let name = &rest[start + 1..start + len];
                out.push_str(&rest[..start]);
                out.push_str(&quote(lookup(vars, name)?));
                rest = &rest[start + len + 1..];
            }
            out.push_str(rest);
            Ok(out)
        })
        .collect()
}

fn lookup<'a>(vars: &[(&str, &'a str)], name: &str) -> Result<&'a str, String> {
    vars.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("unknown placeholder {{{name}}} in a command template"))
}

/// POSIX shell quoting; plain words stay readable.
pub(crate) fn quote(s: &str) -> Cow<'_, str> {
    shell_escape::unix::escape(Cow::Borrowed(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_arguments_are_verbatim_and_embedded_ones_quoted() {
        let t: Vec<String> = ["sh", "-c", "nix-env --set {path} && {path}/bin/x", "{name}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = render(&t, &[("path", "/nix/store/a b;rm -rf /"), ("name", "x; y")]).unwrap();
        assert_eq!(
            out[2],
            "nix-env --set '/nix/store/a b;rm -rf /' && '/nix/store/a b;rm -rf /'/bin/x"
        );
        assert_eq!(
            out[3], "x; y",
            "a whole argument is one argv word, quoted later by ssh"
        );
        assert!(render(&t, &[("path", "p")]).unwrap_err().contains("{name}"));
    }

    #[test]
    fn overrides_are_checked() {
        let cfg: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"copy": ["true"]}"#).unwrap();
        let t = Templates::resolve(None, &cfg).unwrap();
        assert_eq!(t.get("copy").unwrap(), &vec!["true".to_string()]);
        let bad: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"copy": "true"}"#).unwrap();
        assert!(Templates::resolve(None, &bad)
            .unwrap_err()
            .contains("config templates.copy"));
    }
}
