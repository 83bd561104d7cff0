//! The NixOS side (`nixos/`), checked with the real tools:
//!
//! - every generator of `nixos/lib` evaluated by the real `nix-instantiate`
//!   on `nixos/service-manifest.nix` and on a second, different manifest
//!   (`tests/nixos/other-manifest.nix`), compared with the checked-in outputs
//!   under `tests/nixos/expected/{main,other}/`;
//! - the generated Caddyfiles accepted by the real Caddy (`caddy adapt --validate`,
//!   with a throw-away certificate) and already in `caddy fmt` form;
//! - the generated SQL applied twice to a real PostgreSQL 15 started here,
//!   with databases, owners, extensions and role passwords checked by query,
//!   and the catalog unchanged by the second run;
//! - every `.nix` file parses; the flake's host list is the manifest's enabled services;
//! - every module for every host of both manifests under nixpkgs' REAL module
//!   system (`lib.evalModules` of the nixpkgs lib in `NIXMOX_NIXPKGS_LIB`, else
//!   `<nixpkgs/lib>`) with typed declarations of the options they touch
//!   (`tests/nixos/eval/`), sops validation on; `nix flake check` (Nix's own
//!   checker) on the flake with those stand-ins as its inputs;
//! - the secrets plan (`.sops.yaml`), the Terraform variable's shape, and the
//!   forward_auth headers on a live Caddy with a fake outpost (loopback only).
//!
//! A missing tool fails the test with what to install; nothing is skipped.
//! To re-generate the expected files after a deliberate change, run with
//! `NIXMOX_BLESS=1` and read the diff before committing it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// (name of the expected-output set, manifest path relative to the repo)
const MAIN: (&str, &str) = ("main", "nixos/service-manifest.nix");
const OTHER: (&str, &str) = ("other", "tests/nixos/other-manifest.nix");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The full path of `name`, or a failed test that says what to install.
fn require(name: &str, install: &str) -> PathBuf {
    if name.contains('/') {
        let p = PathBuf::from(name);
        assert!(p.is_file(), "required tool {name} is missing: {install}");
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("required tool `{name}` is not on PATH: {install}"))
}

fn nix_instantiate() -> PathBuf {
    require(
        "nix-instantiate",
        "install Nix (Debian: apt-get install nix-bin)",
    )
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {shown}: {e}"));
    out
}

fn run_ok(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `nix-instantiate --eval --strict --json` of an expression, from the repo root
/// (so `./nixos/...` in the expression is the checked-out tree).
fn nix_eval(expr: &str) -> Value {
    let out = run_ok(
        Command::new(nix_instantiate())
            .current_dir(repo())
            .args(["--eval", "--strict", "--json", "--expr", expr]),
    );
    serde_json::from_slice(&out.stdout).expect("nix-instantiate --json printed invalid JSON")
}

fn nix_string(expr: &str) -> String {
    match nix_eval(expr) {
        Value::String(s) => s,
        other => panic!("expected a string from {expr}, got {other}"),
    }
}

fn lib_expr(manifest: &str, settings: &str, attr: &str) -> String {
    format!(
        "(import ./nixos/lib {{ manifest = import ./{manifest}; settings = {settings}; }}).{attr}"
    )
}

/// A private scratch directory, removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "nixmox-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Expected outputs

/// Every artefact the lib generates for one manifest, in one evaluation.
fn lib_outputs(manifest: &str) -> Value {
    nix_eval(&format!(
        r#"let l = import ./nixos/lib {{ manifest = import ./{manifest}; }}; in {{
          services = l.services.all;
          caddyfile = l.caddy.caddyfile;
          caddy = {{ inherit (l.caddy) sites skipped proxiedNames authAddress; }};
          postgresql = {{ inherit (l.postgresql) server databases roles ensureDatabases ensureUsers hba; }};
          ensure_sql = l.postgresql.ensureSql;
          password_sql = l.postgresql.passwordSql;
          hosts = l.hosts;
          terraform = l.terraform;
          secrets = l.secrets;
          oidc = l.oidc;
        }}"#
    ))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

/// Compares `actual` with the checked-in file (or writes it under NIXMOX_BLESS=1);
/// returns a description of the mismatch.
fn check_expected(set: &str, file: &str, actual: &str) -> Option<String> {
    let path = repo().join("tests/nixos/expected").join(set).join(file);
    if std::env::var_os("NIXMOX_BLESS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return None;
    }
    let expected = match fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            return Some(format!(
                "{}: {e} (run with NIXMOX_BLESS=1 to create it)",
                path.display()
            ))
        }
    };
    if expected == actual {
        return None;
    }
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let at = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    Some(format!(
        "{} differs from the generated output at line {}:\n  expected: {:?}\n  actual:   {:?}",
        path.display(),
        at + 1,
        e.get(at).copied().unwrap_or("<end of file>"),
        a.get(at).copied().unwrap_or("<end of output>")
    ))
}

fn compare_lib_outputs((set, manifest): (&str, &str)) {
    let out = lib_outputs(manifest);
    let text = |k: &str| {
        out[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} is not a string"))
            .to_string()
    };
    let files: Vec<(&str, String)> = vec![
        ("services.json", pretty(&out["services"])),
        ("Caddyfile", text("caddyfile")),
        ("caddy.json", pretty(&out["caddy"])),
        ("postgresql.json", pretty(&out["postgresql"])),
        ("ensure.sql", text("ensure_sql")),
        ("passwords.sql", text("password_sql")),
        ("hosts.json", pretty(&out["hosts"])),
        ("terraform.json", pretty(&out["terraform"])),
        ("secrets.json", pretty(&out["secrets"])),
        ("oidc.json", pretty(&out["oidc"])),
    ];
    let problems: Vec<String> = files
        .iter()
        .filter_map(|(f, actual)| check_expected(set, f, actual))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // No value in anything generated may be a secret: the seed's "changeme",
    // or a password/secret attribute holding a literal.
    let all = out.to_string();
    assert!(
        !all.contains("changeme"),
        "a plaintext default password leaked into the output"
    );
    for key in ["\"password\":", "\"secret\":", "\"client_secret\":\""] {
        assert!(!all.contains(key), "generated output has a literal {key}");
    }
}

#[test]
fn lib_outputs_match_expected_for_the_full_manifest() {
    compare_lib_outputs(MAIN);
}

#[test]
fn lib_outputs_match_expected_for_a_second_manifest() {
    compare_lib_outputs(OTHER);
}

/// The two manifests share nothing the lib could have hard-coded.
#[test]
fn nothing_of_the_full_manifest_leaks_into_the_second() {
    let mut out = lib_outputs(OTHER.1);
    // `services` lists every service, the disabled one included; everything
    // generated from it must not.
    let services = out.as_object_mut().unwrap().remove("services").unwrap();
    assert_eq!(services["legacy"]["enable"], false);
    let other = out.to_string();
    for s in [
        "nixmox.lan",
        "192.168.99",
        "vaultwarden",
        "guacamole",
        "5432",
    ] {
        assert!(!other.contains(s), "output for {} mentions {s:?}", OTHER.1);
    }
    // The disabled service and its database appear nowhere.
    assert!(
        !other.contains("legacy"),
        "the disabled service `legacy` reached the output"
    );
}

/// `nixmox show` evaluates this exact invocation.
fn show(manifest_arg: &[&str], service: &str) -> Output {
    let mut cmd = Command::new(nix_instantiate());
    cmd.current_dir(repo())
        .args(["--eval", "--strict", "--json", "nixos/lib/show.nix"])
        .args(manifest_arg)
        .args(["--argstr", "service", service]);
    run(&mut cmd)
}

fn show_json(manifest_arg: &[&str], service: &str) -> Value {
    let out = show(manifest_arg, service);
    assert!(
        out.status.success(),
        "show.nix for {service} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn show_nix_matches_expected() {
    let main = ["--arg", "manifestPath", "./nixos/service-manifest.nix"];
    let other = ["--arg", "manifestPath", "./tests/nixos/other-manifest.nix"];
    let cases: [(&str, &[&str], &str); 5] = [
        ("main", &main, "vaultwarden"),
        ("main", &main, "postgresql"),
        ("main", &main, "guacamole"),
        ("other", &other, "wiki"),
        ("other", &other, "backup"),
    ];
    let problems: Vec<String> = cases
        .iter()
        .filter_map(|(set, arg, svc)| {
            check_expected(
                set,
                &format!("show-{svc}.json"),
                &pretty(&show_json(arg, svc)),
            )
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Vaultwarden logs in itself (issue 13, finding 7); Grafana is the
    // forward_auth site now.
    let grafana = show_json(&main, "grafana");
    let site = grafana["caddy_site"].as_str().unwrap();
    assert!(
        site.contains("forward_auth @protected 192.168.99.12:9000"),
        "{site}"
    );
    let v = show_json(&main, "vaultwarden");
    let site = v["caddy_site"].as_str().unwrap();
    assert!(!site.contains("forward_auth"), "{site}");
    assert_eq!(v["database"]["owner"], "vaultwarden");
    assert_eq!(v["host"]["ip"], "192.168.99.14");
    let caddy = show_json(&main, "caddy");
    assert!(caddy["caddy_site"].is_null());
    assert!(caddy["caddy_skipped"]
        .as_str()
        .unwrap()
        .contains("Caddy host itself"));
}

#[test]
fn show_nix_reads_a_json_manifest_by_absolute_path() {
    let tmp = TempDir::new("show-json");
    let manifest = nix_eval("import ./tests/nixos/other-manifest.nix");
    let file = tmp.path().join("manifest.json");
    fs::write(&file, manifest.to_string()).unwrap();
    let from_json = show_json(
        &["--argstr", "manifestPath", file.to_str().unwrap()],
        "paperless",
    );
    let from_nix = show_json(
        &["--arg", "manifestPath", "./tests/nixos/other-manifest.nix"],
        "paperless",
    );
    assert_eq!(from_json, from_nix);
}

#[test]
fn show_nix_names_an_unknown_service() {
    let out = show(
        &["--arg", "manifestPath", "./nixos/service-manifest.nix"],
        "nosuch",
    );
    assert!(
        !out.status.success(),
        "show.nix accepted an unknown service"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown service \"nosuch\""), "{err}");
}

/// Errors from the lib say what is wrong and where.
#[test]
fn lib_errors_are_clear() {
    let cases = [
        (
            "let m = import ./nixos/service-manifest.nix; in m // { services = m.services // { jellyfin = m.services.jellyfin // { interface = m.services.jellyfin.interface // { proxy = m.services.jellyfin.interface.proxy // { domain = \"grafana.nixmox.lan\"; }; }; }; }; }",
            "caddy.caddyfile",
            "several services proxy the same domain: grafana.nixmox.lan (grafana, jellyfin)",
        ),
        (
            "let m = import ./nixos/service-manifest.nix; in m // { services = m.services // { grafana = m.services.grafana // { interface = m.services.grafana.interface // { db = m.services.grafana.interface.db // { owner = \"postgres\"; }; }; }; }; }",
            "postgresql.ensureSql",
            "services.grafana.interface.db.owner: \"postgres\" is reserved",
        ),
        (
            "let m = import ./nixos/service-manifest.nix; in m // { services = m.services // { grafana = m.services.grafana // { interface = m.services.grafana.interface // { db = m.services.grafana.interface.db // { name = \"x; DROP TABLE y\"; }; }; }; }; }",
            "postgresql.ensureSql",
            "services.grafana.interface.db.name: \"x; DROP TABLE y\" is not a valid PostgreSQL name",
        ),
        (
            "let m = import ./nixos/service-manifest.nix; in m // { services = m.services // { loki = m.services.loki // { interface = m.services.loki.interface // { proxy = m.services.loki.interface.proxy // { upstream = \"loki\"; }; }; }; }; }",
            "caddy.caddyfile",
            "loki.interface.proxy.upstream: \"loki\" is not host:port",
        ),
        (
            "let m = import ./nixos/service-manifest.nix; in m // { services = m.services // { caddy = m.services.homepage; }; }",
            "services.all",
            "defined in both core_services and services: caddy",
        ),
    ];
    for (manifest, attr, message) in cases {
        let expr = format!("(import ./nixos/lib {{ manifest = {manifest}; }}).{attr}");
        let out = run(Command::new(nix_instantiate())
            .current_dir(repo())
            .args(["--eval", "--strict", "--json", "--expr", &expr]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "no error for {attr}; expected {message:?}"
        );
        assert!(err.contains(message), "expected {message:?} in:\n{err}");
    }
}

// ---------------------------------------------------------------------------
// Caddy

fn self_signed_cert(dir: &Path, domain: &str) -> (PathBuf, PathBuf) {
    let openssl = require("openssl", "apt-get install openssl");
    let (crt, key) = (dir.join("wildcard.crt"), dir.join("wildcard.key"));
    run_ok(Command::new(openssl).args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN=*.{domain}"),
        "-addext",
        &format!("subjectAltName=DNS:*.{domain},DNS:{domain}"),
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        crt.to_str().unwrap(),
    ]));
    (crt, key)
}

fn caddy_accepts((set, manifest): (&str, &str), domain: &str, must_contain: &[&str]) {
    let caddy = require("caddy", "apt-get install caddy");
    let tmp = TempDir::new(&format!("caddy-{set}"));
    let (crt, key) = self_signed_cert(tmp.path(), domain);
    let settings = format!(
        "{{ caddy = {{ certFile = \"{}\"; keyFile = \"{}\"; }}; }}",
        crt.display(),
        key.display()
    );
    let caddyfile = nix_string(&lib_expr(manifest, &settings, "caddy.caddyfile"));
    let file = tmp.path().join("Caddyfile");
    fs::write(&file, &caddyfile).unwrap();

    let out = run_ok(Command::new(&caddy).args([
        "adapt",
        "--config",
        file.to_str().unwrap(),
        "--adapter",
        "caddyfile",
        "--validate",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("not formatted"),
        "caddy warns about formatting:\n{stderr}"
    );
    let json: Value =
        serde_json::from_slice(&out.stdout).expect("caddy adapt printed invalid JSON");
    let adapted = json.to_string();
    for s in must_contain {
        assert!(adapted.contains(s), "adapted config lacks {s:?}");
    }

    // Already in `caddy fmt` form.
    let fmt = run_ok(Command::new(&caddy).args(["fmt", file.to_str().unwrap()]));
    assert_eq!(
        String::from_utf8_lossy(&fmt.stdout),
        caddyfile,
        "caddy fmt would change the Caddyfile"
    );
}

#[test]
fn caddy_accepts_the_full_manifest_caddyfile() {
    caddy_accepts(
        MAIN,
        "nixmox.lan",
        &[
            "vaultwarden.nixmox.lan",
            "192.168.99.12:9000",
            "/outpost.goauthentik.io/auth/caddy",
            "/alertmanager/*",
            "\"delete\":[\"Server\"]",
        ],
    );
}

#[test]
fn caddy_accepts_the_second_manifest_caddyfile() {
    caddy_accepts(
        OTHER,
        "lab.example.org",
        &["docs.lab.example.org", "10.42.1.20:9000", "/wiki/*"],
    );
}

// ---------------------------------------------------------------------------
// PostgreSQL

/// A PostgreSQL 15 cluster in a temp dir, owned by `postgres`, reachable only
/// through a unix socket in that dir; stopped and removed on drop.
struct Postgres {
    dir: TempDir,
}

impl Postgres {
    fn start(tag: &str) -> Postgres {
        let runuser = require("runuser", "it is part of util-linux");
        for b in ["initdb", "pg_ctl", "psql", "pg_dumpall"] {
            require(&format!("{PG_BIN}/{b}"), "apt-get install postgresql-15");
        }
        let dir = TempDir::new(&format!("pg-{tag}"));
        run_ok(Command::new("chown").args(["postgres:postgres", dir.path().to_str().unwrap()]));
        let pg = Postgres { dir };
        run_ok(Command::new(&runuser).args(["-u", "postgres", "--"]).args([
            &format!("{PG_BIN}/initdb"),
            "-D",
            pg.data().to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]));
        let opts = format!(
            "-c listen_addresses='' -k {} -c fsync=off",
            pg.dir.path().display()
        );
        run_ok(Command::new(&runuser).args(["-u", "postgres", "--"]).args([
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            pg.data().to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            pg.dir.path().join("log").to_str().unwrap(),
            "-w",
            "start",
        ]));
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, bin: &str) -> Command {
        let mut c = Command::new(require("runuser", "it is part of util-linux"));
        c.args(["-u", "postgres", "--", &format!("{PG_BIN}/{bin}")])
            .args(["-h", self.dir.path().to_str().unwrap()]);
        c
    }

    /// Runs a file with psql as the superuser, as the NixOS oneshot does.
    fn apply(&self, name: &str, sql: &str) -> Output {
        let f = self.dir.path().join(name);
        fs::write(&f, sql).unwrap();
        run_ok(
            self.as_postgres("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-f"])
                .arg(&f),
        )
    }

    fn query(&self, db: &str, sql: &str) -> String {
        let out = run_ok(self.as_postgres("psql").args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db,
            "-c",
            sql,
        ]));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Everything the SQL may touch, including each row's xmin: a no-op
    /// ALTER/REVOKE would still rewrite its row and show up here.
    fn catalog(&self, dbs: &[String]) -> String {
        let mut s = self.query(
            "postgres",
            "SELECT 'role', rolname, xmin::text, rolcanlogin::text, rolsuper::text, (rolpassword IS NULL)::text FROM pg_authid \
             UNION ALL SELECT 'db', datname, xmin::text, pg_get_userbyid(datdba), coalesce(datacl::text, '-'), '' FROM pg_database \
             ORDER BY 1, 2",
        );
        for db in dbs {
            s += &self.query(
                db,
                "SELECT 'ext', extname, xmin::text, extversion FROM pg_extension ORDER BY 2",
            );
        }
        let dump = run_ok(
            self.as_postgres("pg_dumpall")
                .args(["--schema-only", "--no-role-passwords"]),
        );
        // pg_dump writes a random \restrict key per run (CVE-2025-8714); drop it.
        for line in String::from_utf8_lossy(&dump.stdout).lines() {
            if !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict") {
                s += line;
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{PG_BIN}/pg_ctl"), "-D"])
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn sql_applies((set, manifest): (&str, &str)) {
    let lib = lib_outputs(manifest);
    let databases = lib["postgresql"]["databases"].as_object().unwrap().clone();
    assert!(!databases.is_empty(), "{manifest} declares no database");
    let names: Vec<String> = databases.keys().cloned().collect();
    let ensure = lib["ensure_sql"].as_str().unwrap();
    assert!(
        !ensure.contains("PASSWORD"),
        "ensureSql sets a password:\n{ensure}"
    );

    let pg = Postgres::start(set);
    pg.apply("ensure.sql", ensure);

    // Databases, owners, extensions, roles as the manifest says.
    for (name, db) in &databases {
        let owner = db["owner"].as_str().unwrap();
        let row = pg.query(
            "postgres",
            &format!(
                "SELECT pg_get_userbyid(datdba), has_database_privilege('public', oid, 'CONNECT') \
                 FROM pg_database WHERE datname = '{name}'"
            ),
        );
        assert_eq!(
            row.trim(),
            format!("{owner}|f"),
            "database {name}: owner / PUBLIC access"
        );
        let role = pg.query(
            "postgres",
            &format!("SELECT rolcanlogin, rolsuper, rolpassword IS NULL FROM pg_authid WHERE rolname = '{owner}'"),
        );
        assert_eq!(
            role.trim(),
            "t|f|t",
            "role {owner}: login, not superuser, no password yet"
        );
        let want: BTreeSet<String> = db["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .chain(["plpgsql".to_string()])
            .collect();
        let got: BTreeSet<String> = pg
            .query(name, "SELECT extname FROM pg_extension")
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(got, want, "extensions of {name}");
    }
    let all_dbs = pg.query("postgres", "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY 1");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        all_dbs.lines().collect::<Vec<_>>(),
        sorted,
        "exactly the manifest's databases"
    );

    // A second run changes nothing, not even a row version.
    let before = pg.catalog(&names);
    pg.apply("ensure.sql", ensure);
    assert_eq!(
        before,
        pg.catalog(&names),
        "applying ensureSql twice changed the catalog"
    );

    // Passwords come from files (as sops-nix provides them), never from the SQL.
    let secret_dir = TempDir::new(&format!("secrets-{set}"));
    let roles = lib["postgresql"]["roles"].as_object().unwrap();
    let mut files = Vec::new();
    for (i, role) in roles.keys().enumerate() {
        let f = secret_dir.path().join(format!("{role}.pw"));
        fs::write(&f, format!("s3cret'\"-{i}-{role}\n")).unwrap();
        files.push((role.clone(), f));
    }
    run_ok(
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(secret_dir.path()),
    );
    let password_sql = nix_string(&format!(
        "let l = import ./nixos/lib {{ manifest = import ./{manifest}; }}; in l.postgresql.passwordSqlWith (r: \"{}/${{r.name}}.pw\")",
        secret_dir.path().display()
    ));
    assert!(!password_sql.contains("s3cret"));
    pg.apply("passwords.sql", &password_sql);
    for (role, _) in &files {
        let v = pg.query(
            "postgres",
            &format!(
                "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{role}'"
            ),
        );
        assert_eq!(
            v.trim(),
            "t",
            "role {role} has no SCRAM password after passwordSql"
        );
    }
    // The password is the file's content without its trailing newline.
    let (role, _) = &files[0];
    let check = pg.query(
        "postgres",
        &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'"),
    );
    assert!(check.trim().starts_with("SCRAM-SHA-256$"));
}

#[test]
fn postgresql_sql_for_the_full_manifest_applies_idempotently() {
    sql_applies(MAIN);
}

#[test]
fn postgresql_sql_for_the_second_manifest_applies_idempotently() {
    sql_applies(OTHER);
}

/// Finding 9: a missing or empty password file stops the password SQL with
/// an error, and no role's password changes (PostgreSQL 15 would otherwise
/// clear it: psql reads a missing file as "").
#[test]
fn a_missing_or_empty_password_file_fails_and_keeps_every_password() {
    let lib = lib_outputs(MAIN.1);
    let pg = Postgres::start("pw-missing");
    pg.apply("ensure.sql", lib["ensure_sql"].as_str().unwrap());
    let dir = TempDir::new("pw-files");
    let roles: Vec<String> = lib["postgresql"]["roles"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for role in &roles {
        fs::write(
            dir.path().join(format!("{role}.pw")),
            format!("first-{role}\n"),
        )
        .unwrap();
    }
    run_ok(Command::new("chmod").args(["-R", "a+rX"]).arg(dir.path()));
    let sql = nix_string(&format!(
        "let l = import ./nixos/lib {{ manifest = import ./{}; }}; in l.postgresql.passwordSqlWith (r: \"{}/${{r.name}}.pw\")",
        MAIN.1,
        dir.path().display()
    ));
    pg.apply("passwords.sql", &sql);
    let passwords = || {
        pg.query(
            "postgres",
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolpassword IS NOT NULL ORDER BY 1",
        )
    };
    let before = passwords();
    assert_eq!(before.lines().count(), roles.len(), "{before}");

    // One file gone, one empty, the others changed: nothing may change.
    for role in &roles {
        fs::write(
            dir.path().join(format!("{role}.pw")),
            format!("second-{role}\n"),
        )
        .unwrap();
    }
    fs::remove_file(dir.path().join(format!("{}.pw", roles[0]))).unwrap();
    fs::write(
        dir.path().join(format!("{}.pw", roles[roles.len() - 1])),
        "\n",
    )
    .unwrap();
    for gone in [0, roles.len() - 1] {
        let f = pg.dir.path().join("passwords-again.sql");
        fs::write(&f, &sql).unwrap();
        let out = run(pg
            .as_postgres("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-f"])
            .arg(&f));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "password SQL succeeded with a missing/empty file:\n{err}"
        );
        assert!(err.contains("is missing or empty"), "{err}");
        assert!(err.contains(&roles[gone]) || gone != 0, "{err}");
        assert_eq!(passwords(), before, "a role's password changed");
        // Next round: the missing file is back, only the empty one remains.
        fs::write(dir.path().join(format!("{}.pw", roles[0])), "second\n").unwrap();
    }
}

// ---------------------------------------------------------------------------
// Nix files and the flake

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            nix_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "nix") {
            out.push(p);
        }
    }
}

#[test]
fn every_nix_file_parses() {
    let mut files = Vec::new();
    nix_files(&repo().join("nixos"), &mut files);
    nix_files(&repo().join("tests/nixos"), &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {} .nix files", files.len());
    for needed in [
        "nixos/flake.nix",
        "nixos/modules/core.nix",
        "nixos/modules/caddy/default.nix",
        "nixos/modules/postgresql/default.nix",
        "nixos/modules/authentik/default.nix",
    ] {
        assert!(files.contains(&repo().join(needed)), "{needed} is missing");
    }
    let failed: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let out = run(Command::new(nix_instantiate()).arg("--parse").arg(f));
            (!out.status.success())
                .then(|| format!("{}:\n{}", f.display(), String::from_utf8_lossy(&out.stderr)))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "files that do not parse:\n{}",
        failed.join("\n")
    );
}

/// The enabled services, read from the raw manifest (not through nixos/lib).
fn enabled_services(manifest: &str) -> Vec<String> {
    let m = nix_eval(&format!("import ./{manifest}"));
    let mut names: Vec<String> = ["core_services", "services"]
        .iter()
        .filter_map(|g| m[*g].as_object())
        .flat_map(|group| group.iter())
        .filter(|(_, s)| s.get("enable").and_then(Value::as_bool).unwrap_or(true))
        .map(|(n, _)| n.clone())
        .collect();
    names.sort();
    names
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn flake_hosts_are_the_manifests_enabled_services() {
    // hosts.nix, which flake.nix uses, for both manifests.
    let main = enabled_services(MAIN.1);
    assert_eq!(strings(&nix_eval("import ./nixos/hosts.nix { }")), main);
    let other = enabled_services(OTHER.1);
    assert!(!other.contains(&"legacy".to_string()));
    assert_eq!(
        strings(&nix_eval(&format!(
            "import ./nixos/hosts.nix {{ manifestPath = ./{}; }}",
            OTHER.1
        ))),
        other
    );

    // The flake's own outputs function, with stand-ins for its inputs (nixpkgs
    // is not available here): one nixosSystem per enabled service, each given
    // nixosModules.default (which derives the manifest and the lib itself:
    // tests/nixos/rs/real_eval.rs checks what it derives) and told which host it is.
    let flake = nix_eval(
        r#"let
             outputs = (import ./nixos/flake.nix).outputs {
               self = outputs // { nixosModules.default = "nixmox-module"; };
               nixpkgs.lib.nixosSystem = args: args;
               sops-nix.nixosModules.sops = "sops-nix";
               authentik-nix.nixosModules.default = "authentik-nix";
             };
           in builtins.mapAttrs (name: sys: {
             inherit (sys) system;
             manifest = builtins.elem "nixmox-module" sys.modules;
             lib = outputs.lib.nixmox.hosts.names == builtins.attrNames outputs.nixosConfigurations;
             host = builtins.any (m: builtins.isAttrs m && (m.nixmox.host or null) == name) sys.modules;
             modules = builtins.length sys.modules;
           }) outputs.nixosConfigurations"#,
    );
    let hosts: Vec<String> = flake.as_object().unwrap().keys().cloned().collect();
    assert_eq!(hosts, main, "flake nixosConfigurations");
    for (name, h) in flake.as_object().unwrap() {
        assert_eq!(h["system"], "x86_64-linux", "{name}");
        assert_eq!(
            h["manifest"], true,
            "{name}: does not import nixosModules.default (it brings the manifest)"
        );
        assert_eq!(h["lib"], true, "{name}: lib.nixmox");
        assert_eq!(
            h["host"], true,
            "{name}: no module sets nixmox.host = {name:?}"
        );
    }
    // hosts/<name>.nix is added only for hosts that have one.
    assert_eq!(flake["postgresql"]["modules"].as_u64(), Some(5));
    assert_eq!(flake["vaultwarden"]["modules"].as_u64(), Some(4));
}

// ---------------------------------------------------------------------------
// Modules under the real module system, the flake, secrets, Terraform, and
// the forward_auth headers on a live Caddy: one file per subject.

#[path = "nixos/rs/caddy_live.rs"]
mod caddy_live;
#[path = "nixos/rs/flake.rs"]
mod flake;
#[path = "nixos/rs/real_eval.rs"]
mod real_eval;
#[path = "nixos/rs/secrets.rs"]
mod secrets;
#[path = "nixos/rs/terraform.rs"]
mod terraform;
