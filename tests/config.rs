//! The config file as a user meets it, through the real binary: found at
//! `$XDG_CONFIG_HOME/nixmox/config.toml` (TOML with comments), overridden by
//! `--config` and `$NIXMOX_CONFIG`, and refused clearly when broken. All
//! offline: `check` reads the config for its `manifest` key and talks to no
//! host.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const MANIFEST: &str = r#"{"network":{"gateway":"127.0.0.1","network_cidr":"127.0.0.0/24","domain":"test.lan"},
 "services":{"web":{"ip":"127.0.0.9","hostname":"web","depends_on":[],"ports":[80],
   "interface":{"health":{"startup":"true","liveness":"true","interval":1,"timeout":2,"retries":1}}}}}"#;

/// A fresh HOME with `m.json` in it, and a `nixmox` that sees only it: no
/// inherited NIXMOX_* or XDG_* variables, run from HOME (which holds no
/// `nixos/service-manifest.nix`, so the built-in default cannot be what
/// makes a test pass).
struct Home(PathBuf);

impl Home {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("nixmox-cfg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("m.json"), MANIFEST).unwrap();
        Self(d)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let f = self.0.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, text).unwrap();
        f
    }

    fn nixmox(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nixmox"));
        c.current_dir(&self.0)
            .env("HOME", &self.0)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("NIXMOX_MANIFEST")
            .env_remove("NIXMOX_CONFIG");
        c
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(c: &mut Command) -> Output {
    c.output().expect("nixmox runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A config whose `manifest` points at `m.json` next to HOME: `check` then
/// names which manifest it read, which proves the config was read.
fn config_naming(manifest: &Path) -> String {
    format!(
        "# nixmox console config\n\
         manifest = {:?}  # absolute, so it does not depend on where this file is\n\
         \n\
         [ssh]\n\
         # lab-style settings are accepted too\n\
         connect_timeout_secs = 3\n",
        manifest.display().to_string()
    )
}

#[test]
fn the_xdg_config_file_is_read() {
    let h = Home::new("xdg");
    let xdg = h.0.join("xdg");
    let manifest = h.0.join("m.json");
    h.write("xdg/nixmox/config.toml", &config_naming(&manifest));
    let o = run(h.nixmox().env("XDG_CONFIG_HOME", &xdg).arg("check"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("ok: {}: 1 services", manifest.display())),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_relative_manifest_in_the_config_is_relative_to_the_config_file() {
    let h = Home::new("rel-manifest");
    h.write(".config/nixmox/lab.json", MANIFEST);
    h.write(".config/nixmox/config.toml", "manifest = \"lab.json\"\n");
    let o = run(h.nixmox().arg("check"));
    let want = h.0.join(".config/nixmox/lab.json");
    assert!(
        stdout(&o).starts_with(&format!("ok: {}:", want.display())),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn a_relative_xdg_config_home_is_ignored_for_home_dot_config() {
    let h = Home::new("xdg-relative");
    let manifest = h.0.join("m.json");
    h.write(".config/nixmox/config.toml", &config_naming(&manifest));
    // Would be found relative to the working directory if it were honoured.
    h.write("rel/nixmox/config.toml", "this is = not toml [");
    let o = run(h.nixmox().env("XDG_CONFIG_HOME", "rel").arg("check"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&manifest.display().to_string()));
}

#[test]
fn named_configs_win_and_empty_variables_mean_unset() {
    let h = Home::new("order");
    let xdg_manifest = h.write("from-xdg.json", MANIFEST);
    let named_manifest = h.write("from-named.json", MANIFEST);
    h.write(".config/nixmox/config.toml", &config_naming(&xdg_manifest));
    let named = h.write("named.toml", &config_naming(&named_manifest));
    let shows = |o: Output, want: &Path| {
        assert!(
            stdout(&o).starts_with(&format!("ok: {}:", want.display())),
            "want {}: {}{}",
            want.display(),
            stdout(&o),
            stderr(&o)
        );
    };
    shows(
        run(h.nixmox().args(["check", "--config"]).arg(&named)),
        &named_manifest,
    );
    shows(
        run(h.nixmox().env("NIXMOX_CONFIG", &named).arg("check")),
        &named_manifest,
    );
    shows(
        run(h
            .nixmox()
            .env("NIXMOX_CONFIG", "")
            .env("NIXMOX_MANIFEST", "")
            .arg("check")),
        &xdg_manifest,
    );
    // The manifest named on the command line wins over the config's.
    let o = run(h.nixmox().args(["check", "--manifest", "m.json"]));
    assert!(stdout(&o).starts_with("ok: m.json:"), "{}", stdout(&o));
}

#[test]
fn the_labs_json_config_still_works() {
    let h = Home::new("json");
    let manifest = h.0.join("m.json");
    let json = h.write(
        "nixmox.json",
        &format!(
            "{{\"manifest\": {:?}, \"ssh\": {{\"user\": \"root\"}}}}",
            manifest.display().to_string()
        ),
    );
    let o = run(h.nixmox().env("NIXMOX_CONFIG", &json).arg("check"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&manifest.display().to_string()));
}

#[test]
fn an_unknown_key_is_an_error_naming_the_file_and_the_key() {
    let h = Home::new("unknown");
    let f = h.write(
        ".config/nixmox/config.toml",
        "# typo below\n[ssh]\nconect_timeout_secs = 3\n",
    );
    let o = run(h.nixmox().arg("check"));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!(
            "error: {}: invalid config: unknown field `conect_timeout_secs`",
            f.display()
        )),
        "{err}"
    );
    assert!(err.contains("at line 3 column 1"), "{err}");
}

#[test]
fn a_fifo_config_or_manifest_is_refused_at_once() {
    let h = Home::new("fifo");
    let fifo = h.0.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils)")
        .success());
    let started = Instant::now();
    let o = run(h.nixmox().args(["check", "--config"]).arg(&fifo));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pipe: cannot read config: not a regular file (a FIFO)"),
        "{}",
        stderr(&o)
    );
    let o = run(h.nixmox().args(["check", "--manifest"]).arg(&fifo));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pipe: cannot read manifest: not a regular file (a FIFO)"),
        "{}",
        stderr(&o)
    );
    let o = run(h.nixmox().args(["check", "--manifest"]).arg(&h.0));
    assert!(
        stderr(&o).contains("cannot read manifest: not a regular file (a directory)"),
        "{}",
        stderr(&o)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "nothing blocked"
    );
}
