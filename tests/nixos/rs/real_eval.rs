//! Every module for every host under nixpkgs' real module system
//! (`tests/nixos/eval/`), and what the evaluated hosts say about findings
//! 1, 3, 6a, 7 and 10 of issue 13.

use super::*;

const HOW_TO_GET_NIXPKGS_LIB: &str = "set NIXMOX_NIXPKGS_LIB to nixpkgs' lib directory \
     (scripts/test sets ../shared/nixpkgs-lib/lib, relative to the repository), \
     or put nixpkgs on NIX_PATH so that <nixpkgs/lib> resolves";

/// nixpkgs' own `lib` (the real `evalModules` and `types`): `NIXMOX_NIXPKGS_LIB`
/// (a relative path is relative to the repository), else `<nixpkgs/lib>`.
/// Neither: the test fails saying how to provide it.
pub(crate) fn nixpkgs_lib() -> PathBuf {
    let is_lib = |p: &Path| p.join("default.nix").is_file() && p.join("modules.nix").is_file();
    if let Some(v) = std::env::var_os("NIXMOX_NIXPKGS_LIB") {
        let p = repo().join(v);
        assert!(
            is_lib(&p),
            "NIXMOX_NIXPKGS_LIB={} is not nixpkgs' lib (no default.nix and modules.nix there): {HOW_TO_GET_NIXPKGS_LIB}",
            p.display()
        );
        return p;
    }
    let out = run(Command::new(nix_instantiate()).args(["--find-file", "nixpkgs/lib"]));
    let found = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        out.status.success() && is_lib(&found),
        "nixpkgs' lib is needed to evaluate the modules with the real module system, and \
         NIXMOX_NIXPKGS_LIB is unset and <nixpkgs/lib> is not available: {HOW_TO_GET_NIXPKGS_LIB}"
    );
    found
}

/// A Nix path expression for an absolute path (any characters).
pub(crate) fn nix_path(p: &Path) -> String {
    format!(
        "(/. + {})",
        serde_json::to_string(p.to_str().expect("UTF-8 path")).unwrap()
    )
}

/// Stand-ins for the SOPS files of a manifest and the internal CA's
/// certificate: sops-nix only hashes them at evaluation time.
pub(crate) struct Fixture {
    dir: TempDir,
}

impl Fixture {
    pub(crate) fn new(manifest: &str) -> Fixture {
        let dir = TempDir::new("secrets");
        let files = nix_eval(&lib_expr(manifest, "{ }", "secrets.files"));
        for name in files.as_object().unwrap().keys() {
            let f = dir.path().join(name);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(&f, "# a test stand-in for a SOPS file\n{}\n").unwrap();
        }
        fs::write(dir.path().join("ca.crt"), "a test stand-in\n").unwrap();
        Fixture { dir }
    }

    /// Without any SOPS file: a fresh checkout.
    pub(crate) fn empty() -> Fixture {
        let dir = TempDir::new("no-secrets");
        fs::write(dir.path().join("ca.crt"), "a test stand-in\n").unwrap();
        Fixture { dir }
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }
}

/// `tests/nixos/eval` for one host (a Nix expression for its name).
pub(crate) fn eval_host_expr(manifest: &str, host: &str, f: &Fixture, ca: bool) -> String {
    format!(
        "import ./tests/nixos/eval {{ nixpkgsLib = {}; manifestPath = ./{manifest}; host = {host}; secretsRoot = {}; caCertificate = {}; }}",
        nix_path(&nixpkgs_lib()),
        serde_json::to_string(f.root().to_str().unwrap()).unwrap(),
        if ca { nix_path(&f.ca()) } else { "null".into() },
    )
}

/// Every host of a manifest, evaluated for real, in one evaluation.
pub(crate) fn real_eval_all(manifest: &str, f: &Fixture) -> Value {
    nix_eval(&format!(
        "builtins.listToAttrs (map (host: {{ name = host; value = {}; }}) (import ./nixos/hosts.nix {{ manifestPath = ./{manifest}; }}))",
        eval_host_expr(manifest, "host", f, true)
    ))
}

/// The evaluation of one host must fail; its error output.
pub(crate) fn real_eval_error(manifest: &str, host: &str, f: &Fixture, ca: bool) -> String {
    let expr = eval_host_expr(manifest, &format!("\"{host}\""), f, ca);
    let out = run(Command::new(nix_instantiate())
        .current_dir(repo())
        .args(["--eval", "--strict", "--json", "--expr", &expr]));
    assert!(!out.status.success(), "{host} evaluated; expected an error");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn check_modules((set, manifest): (&str, &str), runs: &[(&str, &str)]) {
    let lib = lib_outputs(manifest);
    let fixture = Fixture::new(manifest);
    let hosts = real_eval_all(manifest, &fixture);
    let hosts = hosts.as_object().unwrap();
    let m = nix_eval(&format!("import ./{manifest}"));
    assert_eq!(hosts.len(), lib["hosts"]["names"].as_array().unwrap().len());
    for (name, c) in hosts {
        let want = &lib["hosts"]["hosts"][name];
        let ctx = format!("{set}/{name}");
        assert_eq!(get(c, "networking.hostName"), &want["hostName"], "{ctx}");
        assert_eq!(
            get(c, "networking.interfaces.eth0.ipv4.addresses")[0]["address"],
            want["ip"],
            "{ctx}"
        );
        assert_eq!(
            get(c, "networking.defaultGateway.address"),
            &want["gateway"],
            "{ctx}"
        );
        assert_eq!(
            get(c, "networking.firewall.allowedTCPPorts"),
            get(want, "firewall.allowedTCPPorts"),
            "{ctx}: firewall"
        );
        // nixosModules.default brings its own arguments: the manifest it
        // evaluated is the one given, the host the lib's.
        assert_eq!(get(c, "nixmox.manifest"), &m, "{ctx}: nixmox.manifest");
        assert_eq!(get(c, "nixmox.hostInfo"), want, "{ctx}: nixmox.hostInfo");
        // Every sops secret a module touches is one the lib declared for this
        // host (a module-only name would have no sopsFile), and vice versa.
        let secrets = get(c, "sops.secrets")
            .as_object()
            .cloned()
            .unwrap_or_default();
        let declared: BTreeSet<&String> = lib["secrets"]["byHost"][name]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            secrets.keys().collect::<BTreeSet<_>>(),
            declared,
            "{ctx}: sops.secrets"
        );
        for (s, v) in &secrets {
            assert!(
                v["sopsFile"].is_string() && v["key"].is_string(),
                "{ctx}: secret {s} has no SOPS file/key"
            );
            // sops validation was on: the file was read and hashed.
            assert!(
                v["sopsFileHash"].as_str().is_some_and(|h| h.len() == 64),
                "{ctx}: secret {s}: sops-nix did not validate its file"
            );
        }
        assert!(!c.to_string().contains("changeme"), "{ctx}");
    }
    // The service each host runs.
    for (host, path) in runs {
        assert_eq!(
            get(&hosts[*host], path),
            &Value::Bool(true),
            "{set}/{host}: {path} is not on"
        );
    }
    let proxy = runs
        .iter()
        .find(|(_, p)| *p == "services.caddy.enable")
        .unwrap()
        .0;
    assert_eq!(
        get(&hosts[proxy], "services.caddy.extraConfig"),
        &lib["caddyfile"]
    );
    let db = lib["postgresql"]["server"]["service"].as_str().unwrap();
    let pg = get(&hosts[db], "services.postgresql");
    assert_eq!(pg["ensureDatabases"], lib["postgresql"]["ensureDatabases"]);
    assert_eq!(
        get(pg, "settings.port"),
        &lib["postgresql"]["server"]["port"]
    );
    assert!(get(
        &hosts[db],
        "systemd.services.nixmox-postgresql-ensure.script"
    )
    .is_string());
}

#[test]
fn modules_evaluate_for_every_host_under_the_real_module_system() {
    check_modules(
        MAIN,
        &[
            ("caddy", "services.caddy.enable"),
            ("postgresql", "services.postgresql.enable"),
            ("authentik", "services.authentik.enable"),
            ("dns", "services.blocky.enable"),
            ("vaultwarden", "services.vaultwarden.enable"),
            ("guacamole", "services.guacamole-client.enable"),
            ("nextcloud", "services.nextcloud.enable"),
            ("miniflux", "services.miniflux.enable"),
            ("wikijs", "services.wiki-js.enable"),
            ("prometheus", "services.prometheus.enable"),
            ("alertmanager", "services.prometheus.alertmanager.enable"),
            ("loki", "services.loki.enable"),
            ("grafana", "services.grafana.enable"),
            ("jellyfin", "services.jellyfin.enable"),
            ("homepage", "services.homepage-dashboard.enable"),
        ],
    );
    // Hosts of the second manifest without a module of their own (wiki, gitea, ...)
    // get the base system only; the renamed database server still gets PostgreSQL.
    check_modules(
        OTHER,
        &[
            ("caddy", "services.caddy.enable"),
            ("db", "services.postgresql.enable"),
            ("authentik", "services.authentik.enable"),
        ],
    );
}

/// The harness is strict: a misspelt option, a wrong type and a definition
/// that conflicts with nixpkgs' own fail (the stand-in accepted all three).
#[test]
fn the_real_module_system_rejects_typos_wrong_types_and_conflicts() {
    let f = Fixture::new(MAIN.1);
    let cases = [
        (
            "{ services.caddy.extraConfg = \"x\"; }",
            "services.caddy.extraConfg' does not exist",
        ),
        (
            "{ services.homepage-dashboard.listenPort = \"8082\"; }",
            "is not of type",
        ),
        (
            "{ systemd.services.homepage-dashboard.environment.HOMEPAGE_ALLOWED_HOSTS = \"homepage.nixmox.lan\"; }",
            "has conflicting definition values",
        ),
    ];
    for (module, message) in cases {
        let expr = format!(
            "let sys = import ./tests/nixos/eval/system.nix {{ nixpkgsLib = {}; secretsRoot = {}; caCertificate = {}; }} {{ modules = [ ./tests/nixos/eval/sops-nix.nix ./tests/nixos/eval/authentik-nix.nix ./nixos/module.nix {{ nixmox.host = \"homepage\"; }} {module} ]; }}; in sys.config.system.build.toplevel.outPath",
            nix_path(&nixpkgs_lib()),
            serde_json::to_string(f.root().to_str().unwrap()).unwrap(),
            nix_path(&f.ca()),
        );
        let out = run(Command::new(nix_instantiate())
            .current_dir(repo())
            .args(["--eval", "--strict", "--json", "--expr", &expr]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{module} was accepted");
        assert!(
            err.contains(message),
            "{module}: expected {message:?} in:\n{err}"
        );
    }
}

/// Finding 1: nixpkgs sets HOMEPAGE_ALLOWED_HOSTS from its own option; the
/// module sets that option (its own environment line conflicted).
#[test]
fn homepage_allowed_hosts_go_through_the_nixpkgs_option() {
    let f = Fixture::new(MAIN.1);
    let c = nix_eval(&eval_host_expr(MAIN.1, "\"homepage\"", &f, true));
    let want = "homepage.nixmox.lan,localhost:8082,127.0.0.1:8082";
    assert_eq!(get(&c, "services.homepage-dashboard.allowedHosts"), want);
    assert_eq!(
        get(
            &c,
            "systemd.services.homepage-dashboard.environment.HOMEPAGE_ALLOWED_HOSTS"
        ),
        want
    );
}

/// Finding 3: go-oidc compares the discovered issuer byte for byte.
#[test]
fn miniflux_discovers_the_issuer_exactly() {
    let f = Fixture::new(MAIN.1);
    let c = nix_eval(&eval_host_expr(MAIN.1, "\"miniflux\"", &f, true));
    let issuer = nix_string(&lib_expr(MAIN.1, "{ }", "oidc.clients.miniflux.issuer"));
    assert!(issuer.ends_with('/'), "{issuer}");
    assert_eq!(
        get(
            &c,
            "services.miniflux.config.OAUTH2_OIDC_DISCOVERY_ENDPOINT"
        ),
        &Value::String(issuer)
    );
}

/// Finding 6a: no proxied upstream port is open to the network; it is
/// accepted only from Caddy (and the listed direct clients).
#[test]
fn upstream_ports_are_reachable_only_from_caddy() {
    for (set, manifest) in [MAIN, OTHER] {
        let lib = lib_outputs(manifest);
        let f = Fixture::new(manifest);
        let hosts = real_eval_all(manifest, &f);
        let caddy_ip = lib["services"]["caddy"]["ip"].as_str().unwrap();
        let mut seen = 0;
        for (name, site) in lib["caddy"]["sites"].as_object().unwrap() {
            let (ip, port) = site["upstream"].as_str().unwrap().rsplit_once(':').unwrap();
            let port: u64 = port.parse().unwrap();
            let Some((host, c)) = hosts
                .as_object()
                .unwrap()
                .iter()
                .find(|(h, _)| lib["hosts"]["hosts"][h.as_str()]["ip"] == ip)
            else {
                continue;
            };
            seen += 1;
            let open = get(c, "networking.firewall.allowedTCPPorts")
                .as_array()
                .unwrap();
            assert!(
                !open.iter().any(|p| p.as_u64() == Some(port)),
                "{set}/{host}: {name}'s upstream port {port} is open to the whole network"
            );
            let rules = get(c, "networking.firewall.extraCommands")
                .as_str()
                .unwrap();
            let from: Vec<&str> = rules
                .lines()
                .filter(|l| l.contains(&format!("--dport {port} ")))
                .filter_map(|l| l.split(" -s ").nth(1)?.split(' ').next())
                .collect();
            assert!(
                from.contains(&caddy_ip),
                "{set}/{host}: port {port} is not accepted from Caddy ({caddy_ip}):\n{rules}"
            );
            let allowed: Vec<&str> = lib["hosts"]["hosts"][host.as_str()]["firewall"]
                ["restrictedTCPPorts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["port"] == port)
                .flat_map(|r| {
                    r["from"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                })
                .collect();
            for ip in &from {
                assert!(
                    allowed.contains(ip),
                    "{set}/{host}: port {port} accepted from {ip}"
                );
            }
        }
        assert!(seen > 2, "{set}: too few proxied upstreams checked");
    }
}

/// Finding 7: Bitwarden apps and extensions cannot log in through
/// forward_auth; Vaultwarden does SSO itself.
#[test]
fn vaultwarden_logs_in_itself_not_behind_forward_auth() {
    let site = nix_eval(&lib_expr(MAIN.1, "{ }", "caddy.sites.vaultwarden"));
    assert!(
        site["forward_auth"].is_null(),
        "vaultwarden sits behind forward_auth"
    );
    assert!(!site["text"].as_str().unwrap().contains("forward_auth"));
    let f = Fixture::new(MAIN.1);
    let c = nix_eval(&eval_host_expr(MAIN.1, "\"vaultwarden\"", &f, true));
    assert_eq!(get(&c, "services.vaultwarden.config.SSO_ENABLED"), true);
    let env = get(&c, "sops.templates")["vaultwarden.env"]["content"]
        .as_str()
        .unwrap();
    assert!(env.contains("SSO_CLIENT_SECRET=<SOPS:"), "{env}");
}

/// Finding 10: the container's resolv.conf is the manifest's (nixpkgs'
/// container default would keep the host's), and the internal CA is
/// required as soon as a service uses OIDC.
#[test]
fn containers_use_the_manifests_resolver_and_require_the_ca() {
    let f = Fixture::new(MAIN.1);
    let hosts = real_eval_all(MAIN.1, &f);
    for (name, c) in hosts.as_object().unwrap() {
        assert_eq!(get(c, "networking.useHostResolvConf"), false, "{name}");
        assert_eq!(
            get(c, "networking.nameservers"),
            &serde_json::json!(["192.168.99.13"]),
            "{name}"
        );
    }
    let err = real_eval_error(MAIN.1, "caddy", &f, false);
    assert!(err.contains("nixmox.caCertificate is not set"), "{err}");
    assert!(err.contains("nixos/ca/root.crt"), "{err}");
}

/// Finding 10: Nextcloud's OIDC client secret is read from its file by occ,
/// never put on a command line (visible in /proc).
#[test]
fn nextcloud_client_secret_is_never_on_a_command_line() {
    let f = Fixture::new(MAIN.1);
    let c = nix_eval(&eval_host_expr(MAIN.1, "\"nextcloud\"", &f, true));
    let script = get(&c, "systemd.services.nixmox-nextcloud-oidc.script")
        .as_str()
        .unwrap();
    assert!(
        script.contains("--clientsecret-file=/run/secrets/nextcloud/oidc_client_secret ")
            || script.contains("--clientsecret-file='/run/secrets/nextcloud/oidc_client_secret'"),
        "{script}"
    );
    assert!(!script.contains("--clientsecret="), "{script}");
    assert!(!script.contains("$(cat"), "{script}");
    assert_eq!(
        get(&c, "sops.secrets")["nextcloud/oidc_client_secret"]["owner"],
        "nextcloud"
    );
}

/// Finding 10: Blocky's API (no login of its own) sits behind forward_auth
/// and its port is not open to the network.
#[test]
fn blocky_api_is_behind_forward_auth() {
    let site = nix_eval(&lib_expr(MAIN.1, "{ }", "caddy.sites.dns"));
    assert_eq!(site["forward_auth"], "192.168.99.12:9000");
    let host = nix_eval(&lib_expr(MAIN.1, "{ }", "hosts.hosts.dns.firewall"));
    assert_eq!(host["allowedTCPPorts"], serde_json::json!([53]));
    assert_eq!(
        host["restrictedTCPPorts"],
        serde_json::json!([{ "port": 4000, "from": ["192.168.99.10"] }])
    );
}
