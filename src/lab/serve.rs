//! `nixmox lab serve`: the process behind a lab unit. A small real HTTP/1.1
//! server on the unit's ports (all addresses of the host) that answers any
//! path (`/alive`, `/health`, `/-/healthy`, `/`, ...) with 200 and a line of
//! JSON, logs each request and a heartbeat to the unit's journal file, and
//! tells the lab's `systemctl` that it is up by writing its pid file once it
//! listens (like `Type=notify`). Broken (the lab's break knob):
//! `--broken exit` dies at start, `--broken http500` runs but answers 500.

use super::error::LabError;
use super::fault::BreakMode;
use super::journal;
use std::convert::Infallible;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone)]
pub struct ServeArgs {
    pub host: String,
    pub unit: String,
    pub ports: Vec<u16>,
    /// Shown in every answer and the first log line (which build this is).
    pub label: String,
    pub broken: Option<BreakMode>,
    /// Between heartbeat lines in the unit's log.
    pub heartbeat: Duration,
}

/// The unit's journal file, or `fallback` off a lab host.
struct Journal {
    out: Mutex<Box<dyn Write + Send>>,
    prefix: String,
}

impl Journal {
    fn line(&self, msg: &str) {
        let text = format!(
            "{} {}: {msg}\n",
            journal::timestamp(SystemTime::now()),
            self.prefix
        );
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line: concurrent writers never interleave within a line.
        let _ = out.write_all(text.as_bytes());
    }
}

/// What `nixmox lab serve` does: serves until killed. Logs to the unit's
/// journal on a lab host (`NIXMOX_LAB_HOSTDIR`), else to `fallback_log`.
/// Returns only when it cannot serve (the reason is in the log too).
pub fn serve(a: ServeArgs, fallback_log: Box<dyn Write + Send>) -> Result<Infallible, LabError> {
    let hostdir = std::env::var_os("NIXMOX_LAB_HOSTDIR").map(PathBuf::from);
    let file = hostdir.as_ref().and_then(|hd| {
        let _ = std::fs::create_dir_all(hd.join("log"));
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(journal::log_file(hd, &a.unit))
            .ok()
    });
    let pid = std::process::id();
    let j = Arc::new(Journal {
        out: Mutex::new(match file {
            Some(f) => Box::new(f),
            None => fallback_log,
        }),
        prefix: format!("{} {}[{pid}]", a.host, a.unit),
    });
    j.line(&format!(
        "starting {} (lab service of host {}, system {})",
        a.unit, a.host, a.label
    ));
    if a.broken == Some(BreakMode::Exit) {
        j.line("fatal: configuration check failed: this build is broken (lab break knob); exiting");
        return Err(LabError::BrokenBuild);
    }
    let mut listeners = Vec::new();
    for port in &a.ports {
        // An old instance may still be releasing the port for a moment.
        let deadline = Instant::now() + Duration::from_secs(3);
        let l = loop {
            match TcpListener::bind((Ipv4Addr::UNSPECIFIED, *port)) {
                Ok(l) => break l,
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    j.line(&format!("fatal: cannot listen on 0.0.0.0:{port}: {e}"));
                    return Err(LabError::Listen {
                        port: *port,
                        source: e,
                    });
                }
            }
        };
        listeners.push((*port, l));
    }
    let ports: Vec<String> = a.ports.iter().map(|p| p.to_string()).collect();
    j.line(&format!(
        "listening on {}",
        if ports.is_empty() {
            "no ports".to_string()
        } else {
            format!("0.0.0.0:{}", ports.join(", 0.0.0.0:"))
        }
    ));
    if let Some(hd) = &hostdir {
        let run = hd.join("run");
        let _ = std::fs::create_dir_all(&run);
        let tmp = run.join(format!(".{}.pid.{pid}", a.unit));
        let done = std::fs::write(&tmp, format!("{pid}\n"))
            .and_then(|_| std::fs::rename(&tmp, run.join(format!("{}.pid", a.unit))));
        if let Err(e) = done {
            j.line(&format!("fatal: cannot write the pid file: {e}"));
            return Err(LabError::io(run.join(format!("{}.pid", a.unit)))(e));
        }
    }
    let http500 = a.broken == Some(BreakMode::Http500);
    if http500 {
        j.line("warning: this build is broken (lab break knob): every request fails with 500");
    }
    let requests = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let info = Arc::new((a.host.clone(), a.unit.clone(), a.label.clone(), http500));
    for (port, l) in listeners {
        let j = j.clone();
        let requests = requests.clone();
        let info = info.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let j = j.clone();
                let requests = requests.clone();
                let info = info.clone();
                std::thread::spawn(move || {
                    handle(conn, port, &j, &info);
                    requests.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
    }
    loop {
        std::thread::sleep(a.heartbeat.max(Duration::from_secs(1)));
        j.line(&format!(
            "heartbeat: up {} s, {} requests served",
            started.elapsed().as_secs(),
            requests.load(Ordering::Relaxed)
        ));
    }
}

fn handle(conn: TcpStream, port: u16, j: &Journal, info: &(String, String, String, bool)) {
    let (host, unit, label, broken) = info;
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let peer = conn
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    let mut reader = BufReader::new(&conn);
    let mut request = String::new();
    if reader.read_line(&mut request).unwrap_or(0) == 0 {
        return;
    }
    // The rest of the head (headers) up to the blank line.
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("/");
    let (status, reason) = match (method, *broken) {
        ("GET" | "HEAD", false) => (200, "OK"),
        ("GET" | "HEAD", true) => (500, "Internal Server Error"),
        _ => (405, "Method Not Allowed"),
    };
    let body = format!(
        "{}\n",
        serde_json::json!({
            "status": if status == 200 { "ok" } else { "error" },
            "host": host,
            "unit": unit,
            "system": label,
            "path": path,
        })
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut w = &conn;
    let _ = w.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = w.write_all(body.as_bytes());
    }
    let _ = w.flush();
    j.line(&format!(
        "{peer} \"{} {path}\" {status} (port {port})",
        method
    ));
}
