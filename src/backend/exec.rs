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
                    // A malformed brace is refused when the templates are
                    // read, before any operation takes a lock.
                    placeholders(&argv).map_err(|e| format!("{origin}.{k}: {e}"))?;
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

/// One piece of a template argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(Cow<'a, str>),
    Placeholder(&'a str),
}

/// Splits a template argument into text and `{placeholders}`; `{{` and `}}`
/// are literal braces. A brace that is neither is an error saying how to
/// write it.
fn pieces(arg: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out: Vec<Piece> = Vec::new();
    let mut text = String::new();
    let mut rest = arg;
    while let Some(i) = rest.find(['{', '}']) {
        text.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            text.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(format!(
                "a lone }} in {arg:?} (write }}}} for a literal brace)"
            ));
        }
        let name_len = tail[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len() - 1);
        let name = &tail[1..1 + name_len];
        if name.is_empty() || !tail[1 + name_len..].starts_with('}') {
            return Err(format!(
                "a {{ that starts no {{placeholder}} in {arg:?} (write {{{{ for a literal brace)"
            ));
        }
        if !text.is_empty() {
            out.push(Piece::Text(Cow::Owned(std::mem::take(&mut text))));
        }
        out.push(Piece::Placeholder(name));
        rest = &tail[2 + name_len..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(Cow::Owned(text)));
    }
    Ok(out)
}

/// Programs that read an argument as a script: a placeholder inside a
/// larger argument of a template that runs one is shell-quoted.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"];

fn runs_a_shell(template: &[String]) -> bool {
    template
        .iter()
        .any(|w| SHELLS.contains(&w.rsplit('/').next().unwrap_or(w)))
}

/// The placeholders `template` uses, or its first malformed brace.
pub(crate) fn placeholders(template: &[String]) -> Result<Vec<&str>, String> {
    let mut names = Vec::new();
    for arg in template {
        for p in pieces(arg)? {
            if let Piece::Placeholder(n) = p {
                names.push(n);
            }
        }
    }
    Ok(names)
}

/// `template` with `vars` substituted. A placeholder that is a whole
/// argument becomes that argument verbatim. Inside a larger argument it is
/// shell-quoted when the template runs a shell (the argument is a script),
/// and verbatim otherwise: no shell reads it, so quotes would be literal
/// (a flake under `my homelab/` stays one word).
pub(crate) fn render(template: &[String], vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let shell = runs_a_shell(template);
    template
        .iter()
        .map(|arg| {
            let parts = pieces(arg)?;
            if let [Piece::Placeholder(name)] = parts.as_slice() {
                return lookup(vars, name).map(str::to_string);
            }
            let mut out = String::new();
            for p in parts {
                match p {
                    Piece::Text(t) => out.push_str(&t),
                    Piece::Placeholder(name) if shell => out.push_str(&quote(lookup(vars, name)?)),
                    Piece::Placeholder(name) => out.push_str(lookup(vars, name)?),
                }
            }
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

/// Placeholders some step supplies besides the base vars (per service and
/// per call); a template naming anything else, or a config var, is wrong.
pub(crate) const CALL_PLACEHOLDERS: &[&str] = &[
    "name",
    "service",
    "ip",
    "hostname",
    "path",
    "generation",
    "profile",
    "state_dir",
];

impl Templates {
    /// Every template checked against the placeholders that exist (`base`:
    /// the base vars' names, config vars included): `(step, message)` per
    /// problem, naming the unknown placeholder or the malformed brace.
    pub(crate) fn check(&self, base: &[&str]) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (step, t) in &self.0 {
            match placeholders(t) {
                Err(e) => problems.push((step.clone(), e)),
                Ok(names) => {
                    for n in names {
                        if !base.contains(&n) && !CALL_PLACEHOLDERS.contains(&n) {
                            problems.push((
                                step.clone(),
                                format!(
                                    "unknown placeholder {{{n}}} (known: {})",
                                    known_list(base)
                                ),
                            ));
                        }
                    }
                }
            }
        }
        problems
    }
}

fn known_list(base: &[&str]) -> String {
    let mut all: Vec<&str> = base.iter().chain(CALL_PLACEHOLDERS).copied().collect();
    all.sort_unstable();
    all.dedup();
    all.iter()
        .map(|n| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
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

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn double_braces_are_literal_braces() {
        let t = argv(&["sh", "-c", "awk '{{print $1}}' {path} ${{HOME}}", "x}}y{{"]);
        let out = render(&t, &[("path", "/a b")]).unwrap();
        assert_eq!(out[2], "awk '{print $1}' '/a b' ${HOME}");
        assert_eq!(out[3], "x}y{");
        // `awk '{print}'` and `${HOME}` name placeholders (refused by check
        // and at render time unless they exist); these are no placeholder.
        for bad in ["a } b", "{", "{ x}", "${ HOME}", "{a-b}"] {
            let err = render(&argv(&["sh", "-c", bad]), &[("x", "p")]);
            assert!(err.is_err(), "{bad} should be refused: {err:?}");
        }
    }

    #[test]
    fn a_step_without_a_shell_gets_values_verbatim() {
        // The default build under a directory with a space: one argv word,
        // no quotes (nix would read them literally).
        let t = Templates::default();
        let out = t
            .render("build", &[("flake", "/srv/my homelab"), ("name", "web")])
            .unwrap();
        assert_eq!(
            out.last().unwrap(),
            "/srv/my homelab#nixosConfigurations.web.config.system.build.toplevel"
        );
        // With a shell, the same value is quoted inside the script.
        let out = render(
            &argv(&["/bin/bash", "-c", "cd {flake}"]),
            &[("flake", "/a b")],
        );
        assert_eq!(out.unwrap()[2], "cd '/a b'");
    }

    #[test]
    fn check_names_unknown_placeholders_and_bad_braces() {
        let cfg: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"build": ["nix", "build", "{flake}#{nope}"], "copy": ["true", "{lock_dir}"]}"#,
        )
        .unwrap();
        let t = Templates::resolve(None, &cfg).unwrap();
        let problems = t.check(&["flake", "lock_dir"]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "build");
        assert!(
            problems[0].1.starts_with("unknown placeholder {nope}"),
            "{problems:?}"
        );
        assert!(Templates::default()
            .check(&["flake", "user", "manifest"])
            .is_empty());
        let awk: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"copy": ["sh", "-c", "awk '{print}'"]}"#).unwrap();
        let problems = Templates::resolve(None, &awk)
            .unwrap()
            .check(&["flake", "user"]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].1.starts_with("unknown placeholder {print}"),
            "{problems:?}"
        );
        let bad: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"copy": ["sh", "-c", "echo }"]}"#).unwrap();
        let err = Templates::resolve(None, &bad).unwrap_err();
        assert!(err.starts_with("config templates.copy: "), "{err}");
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
