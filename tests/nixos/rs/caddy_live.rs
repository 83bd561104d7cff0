//! forward_auth on a live Caddy (finding 6b, 6c; HSTS of finding 10): the
//! lib's Caddyfile for a small manifest whose services all live on loopback
//! addresses, run by the real Caddy, with a fake Authentik outpost and fake
//! upstreams that record the headers they get. Only 127.0.0.0/8 is used.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Header (lower-case name, value) pairs.
type Headers = Vec<(String, String)>;
/// Requests one fake server received: (path, headers).
type Seen = Arc<Mutex<Vec<(String, Headers)>>>;
/// What a fake server answers to a request's headers: status, headers, body.
type Answer = fn(&[(String, String)]) -> (u16, Headers, String);

/// A tiny HTTP/1.1 server on `ip`:0 answering every request with `answer`,
/// one request per connection. Its threads end with the test process.
fn serve(ip: &str, answer: Answer) -> (u16, Seen) {
    let listener = TcpListener::bind((ip, 0)).expect("bind on loopback");
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || handle(conn, &log, answer));
        }
    });
    (port, seen)
}

fn handle(mut conn: TcpStream, log: &Seen, answer: Answer) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        if let Some((k, v)) = l.trim_end().split_once(':') {
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let (code, extra, body) = answer(&headers);
    log.lock().unwrap().push((path, headers));
    let mut out = format!(
        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        out += &format!("{k}: {v}\r\n");
    }
    out += "\r\n";
    out += &body;
    let _ = conn.write_all(out.as_bytes());
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// What copy_headers copies (the lib's list).
const COPIED: [&str; 11] = [
    "Username",
    "Groups",
    "Email",
    "Name",
    "Uid",
    "Jwt",
    "Meta-Jwks",
    "Meta-Outpost",
    "Meta-Provider",
    "Meta-App",
    "Meta-Version",
];

/// The fake outpost: only app-a may pass, decided (as Authentik's is) by
/// the X-Forwarded-Host it is given; like Authentik it answers with every
/// X-Authentik-* header (the user is alice).
fn outpost(headers: &[(String, String)]) -> (u16, Headers, String) {
    let host = header(headers, "x-forwarded-host").unwrap_or("");
    if host.split(':').next() == Some("app-a.live.test") {
        let user = COPIED
            .iter()
            .map(|h| {
                (
                    format!("X-Authentik-{h}"),
                    if *h == "Username" {
                        "alice".into()
                    } else {
                        format!("outpost-{h}")
                    },
                )
            })
            .collect();
        (200, user, String::new())
    } else {
        (401, vec![], "denied".into())
    }
}

fn upstream(_: &[(String, String)]) -> (u16, Headers, String) {
    (200, vec![], "upstream".into())
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Caddy(std::process::Child);

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A manifest of four services on loopback: Caddy, the outpost, app-a and
/// app-b behind forward_auth, app-c proxied plainly (authz = false).
fn live_manifest(outpost_port: u16, ports: [u16; 3]) -> String {
    let app = |name: &str, ip: &str, port: u16, authz: bool| {
        format!(
            r#"{name} = {{ ip = "{ip}"; hostname = "{name}.live.test"; ports = [ {port} ];
               interface = {{
                 auth = {{ type = "oidc"; provider = "authentik"; }};
                 proxy = {{ domain = "{name}.live.test"; upstream = "{ip}:{port}"; tls = true; authz = {authz}; }};
               }}; }};"#
        )
    };
    format!(
        r#"{{
          network = {{ gateway = "127.0.0.1"; network_cidr = "127.0.0.0/8"; domain = "live.test"; }};
          core_services = {{
            caddy = {{ ip = "127.0.0.1"; hostname = "caddy.live.test"; }};
            authentik = {{ ip = "127.0.0.2"; hostname = "sso.live.test"; ports = [ {outpost_port} ]; }};
          }};
          services = {{ {} {} {} }};
        }}"#,
        app("app-a", "127.0.0.3", ports[0], true),
        app("app-b", "127.0.0.4", ports[1], true),
        app("app-c", "127.0.0.5", ports[2], false),
    )
}

fn curl(https_port: u16, host: &str, path: &str, headers: &[&str]) -> (u16, String) {
    let curl = require("curl", "apt-get install curl");
    let mut cmd = Command::new(curl);
    cmd.args([
        "-s",
        "-k",
        "-D",
        "-",
        "-o",
        "/dev/null",
        "--max-time",
        "10",
        "-w",
        "%{http_code}",
    ])
    .arg("--resolve")
    .arg(format!("{host}:{https_port}:127.0.0.1"))
    .arg(format!("https://{host}:{https_port}{path}"));
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = run_ok(&mut cmd);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = text
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or(0);
    (code, text)
}

#[test]
fn forged_forwarding_and_authentik_headers_do_not_pass() {
    let caddy = require("caddy", "apt-get install caddy");
    let (outpost_port, outpost_seen) = serve("127.0.0.2", outpost);
    let (a_port, a_seen) = serve("127.0.0.3", upstream);
    let (b_port, b_seen) = serve("127.0.0.4", upstream);
    let (c_port, c_seen) = serve("127.0.0.5", upstream);

    let tmp = TempDir::new("caddy-live");
    let (crt, key) = self_signed_cert(tmp.path(), "live.test");
    let manifest = tmp.path().join("manifest.nix");
    fs::write(
        &manifest,
        live_manifest(outpost_port, [a_port, b_port, c_port]),
    )
    .unwrap();
    let caddyfile = nix_string(&format!(
        "(import ./nixos/lib {{ manifest = import {}; settings.caddy = {{ certFile = \"{}\"; keyFile = \"{}\"; }}; }}).caddy.caddyfile",
        super::real_eval::nix_path(&manifest),
        crt.display(),
        key.display()
    ));
    assert!(
        caddyfile.contains("forward_auth @protected 127.0.0.2:"),
        "{caddyfile}"
    );
    let https_port = free_port();
    let file = tmp.path().join("Caddyfile");
    fs::write(
        &file,
        format!("{{\n\tadmin off\n\thttp_port {}\n\thttps_port {https_port}\n\tstorage file_system {}\n}}\n\n{caddyfile}", free_port(), tmp.path().join("data").display()),
    )
    .unwrap();
    let _caddy = Caddy(
        Command::new(caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("HOME", tmp.path())
            .env("XDG_DATA_HOME", tmp.path())
            .env("XDG_CONFIG_HOME", tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(tmp.path().join("caddy.log")).unwrap())
            .spawn()
            .expect("start caddy"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", https_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "caddy did not listen:\n{}",
            fs::read_to_string(tmp.path().join("caddy.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // 6b: a client of app-b naming app-a to the outpost is refused; the
    // outpost is told the real host.
    let (code, _) = curl(
        https_port,
        "app-b.live.test",
        "/",
        &["X-Forwarded-Host: app-a.live.test"],
    );
    assert_eq!(
        code, 401,
        "forged X-Forwarded-Host let a request through to app-b"
    );
    assert!(b_seen.lock().unwrap().is_empty(), "app-b was reached");
    let asked = outpost_seen.lock().unwrap().clone();
    assert_eq!(
        asked
            .iter()
            .map(|(_, h)| header(h, "x-forwarded-host")
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
                .to_string())
            .collect::<Vec<_>>(),
        ["app-b.live.test"],
        "the outpost was not told the request's own host"
    );

    // 6c: a forged user never reaches an upstream: behind forward_auth the
    // outpost's value replaces it, on a public path and on a plain site it
    // is removed.
    let forged = [
        "X-Authentik-Username: mallory",
        "X-Authentik-Groups: admins",
        "X-Authentik-Anything: x",
    ];
    let (code, text) = curl(https_port, "app-a.live.test", "/", &forged);
    assert_eq!(code, 200, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("strict-transport-security: max-age="),
        "no HSTS:\n{text}"
    );
    let (code, _) = curl(https_port, "app-b.live.test", "/health", &forged);
    assert_eq!(code, 200);
    let (code, _) = curl(https_port, "app-c.live.test", "/", &forged);
    assert_eq!(code, 200);
    let a = a_seen.lock().unwrap().clone();
    assert_eq!(a.len(), 1);
    assert_eq!(header(&a[0].1, "x-authentik-username"), Some("alice"));
    // app-a gets exactly the outpost's headers; the others none at all.
    let from_outpost = |k: &str, v: &str| {
        COPIED.iter().any(|h| {
            k == format!("x-authentik-{}", h.to_ascii_lowercase())
                && (v == format!("outpost-{h}") || (*h == "Username" && v == "alice"))
        })
    };
    for (name, seen, outpost_ok) in [
        ("app-a", &a, true),
        ("app-b /health", &b_seen.lock().unwrap().clone(), false),
        ("app-c", &c_seen.lock().unwrap().clone(), false),
    ] {
        assert_eq!(seen.len(), 1, "{name}");
        let bad: Vec<_> = seen[0]
            .1
            .iter()
            .filter(|(k, v)| k.starts_with("x-authentik-") && !(outpost_ok && from_outpost(k, v)))
            .collect();
        assert!(
            bad.is_empty(),
            "{name} got X-Authentik-* headers the outpost did not send: {bad:?}"
        );
    }
}

/// HSTS and the X-Authentik-* strip on every TLS site of the real
/// Caddyfiles, as Caddy itself reads them.
#[test]
fn every_site_strips_authentik_headers_and_tls_sites_send_hsts() {
    let caddy = require("caddy", "apt-get install caddy");
    for (set, manifest) in [MAIN, OTHER] {
        let tmp = TempDir::new("caddy-hsts");
        let file = tmp.path().join("Caddyfile");
        fs::write(
            &file,
            nix_string(&lib_expr(manifest, "{ }", "caddy.caddyfile")),
        )
        .unwrap();
        let out = run_ok(
            Command::new(&caddy)
                .args(["adapt", "--adapter", "caddyfile", "--config"])
                .arg(&file),
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let sites = nix_eval(&lib_expr(manifest, "{ }", "caddy.sites"));
        for (name, site) in sites.as_object().unwrap() {
            let domain = site["domain"].as_str().unwrap();
            let routes = json.pointer("/apps/http/servers").unwrap().to_string();
            assert!(routes.contains(domain), "{set}/{name}");
            let text = site["text"].as_str().unwrap();
            assert!(
                text.contains("request_header -X-Authentik-*"),
                "{set}/{name}: {text}"
            );
            assert_eq!(
                text.contains("Strict-Transport-Security"),
                site["tls"] == true,
                "{set}/{name}: HSTS iff TLS"
            );
            assert!(!text.contains("trusted_proxies"), "{set}/{name}");
        }
        let adapted = json.to_string();
        assert!(adapted.contains("\"delete\":[\"X-Authentik-*\"]"), "{set}");
        assert!(adapted.contains("Strict-Transport-Security"), "{set}");
    }
}
