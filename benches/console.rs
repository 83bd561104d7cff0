//! Console performance without a terminal: one frame's draw time with 1,000
//! services; the cost of handling a key in the tree (`update()` alone);
//! keypress-to-frame latency while a log tail streams 20,000 lines/s; peak
//! RSS with 1,000 services and a full log buffer.
//!
//!   cargo bench --bench console

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nixmox::app::event::Event;
use nixmox::app::model::health::{HealthBoard, HISTORY};
use nixmox::app::state::{State, Theme};
use nixmox::app::update;
use nixmox::backend::health::{HealthEvent, ProbeKind, ProbeResult, ServiceState, Target};
use nixmox::backend::logs::LogEvent;
use nixmox::manifest::validate;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

fn manifest(n: usize) -> serde_json::Value {
    let mut services = serde_json::Map::new();
    for i in 0..n {
        let name = format!("svc{i:04}");
        let mut deps = Vec::new();
        if i >= 10 {
            deps.push(format!("svc{:04}", i % 10));
        }
        if i >= 17 {
            deps.push(format!("svc{:04}", i - 7));
        }
        let ip = format!("10.0.{}.{}", (i + 10) / 250, (i + 10) % 250 + 2);
        services.insert(
            name.clone(),
            json!({
                "ip": ip, "hostname": format!("{name}.bench.lan"), "depends_on": deps, "ports": [8080],
                "interface": {
                    "proxy": {"domain": format!("{name}.bench.lan"), "path": "/", "upstream": format!("{ip}:8080"), "tls": true, "authz": false},
                    "health": {"startup": format!("systemctl is-active --quiet {name}"), "liveness": "curl -f -s http://localhost:8080/alive", "interval": 30, "timeout": 10, "retries": 3}
                }
            }),
        );
    }
    json!({"network": {"gateway": "10.0.0.1", "network_cidr": "10.0.0.0/16", "domain": "bench.lan"}, "services": services})
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let m = validate(&manifest(1000))
        .manifest
        .expect("valid generated manifest");
    let targets = Target::from_manifest(&m);
    let mut s = State::new(
        Arc::new(m),
        "bench".into(),
        HealthBoard::new(&targets),
        Theme {
            color: true,
            ascii: false,
        },
    );
    let now = SystemTime::now();
    for t in &targets {
        for k in 0..HISTORY as u64 {
            update(
                &mut s,
                Event::Health(HealthEvent::Probe(ProbeResult {
                    service: t.service.clone(),
                    kind: ProbeKind::Liveness,
                    at: now,
                    latency: Duration::from_micros(3000 + k * 37),
                    code: Some(0),
                    ok: true,
                    timed_out: false,
                    tail: vec![],
                })),
            );
        }
        update(
            &mut s,
            Event::Health(HealthEvent::State {
                service: t.service.clone(),
                state: ServiceState::Up,
                since: now,
                reason: None,
            }),
        );
    }
    s.model.previews.insert(
        "svc0000".into(),
        Ok("## Caddy site\nsvc0000.bench.lan {\n}\n".into()),
    );

    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let down = Event::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
    // Warm up, then time frames, moving the selection each frame so every
    // frame is a real redraw.
    for _ in 0..20 {
        update(&mut s, down.clone());
        term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
    }
    let mut frames = Vec::new();
    for _ in 0..300 {
        update(&mut s, down.clone());
        let t = Instant::now();
        term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
        frames.push(t.elapsed());
    }
    frames.sort();
    let frame_median = frames[frames.len() / 2];
    let frame_p99 = frames[frames.len() * 99 / 100];

    // Handling a key alone (no draw): move, close/open the selected branch
    // (pairs, so the tree ends as it began), flip the direction (rebuilds
    // the forest of ~2,000 rows).
    let key = |c: KeyCode| Event::Key(KeyEvent::new(c, KeyModifiers::NONE));
    let mut key_cost = |events: &[Event], rounds: usize| {
        let mut t: Vec<Duration> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                for ev in events {
                    update(&mut s, ev.clone());
                }
                started.elapsed() / events.len() as u32
            })
            .collect();
        t.sort();
        t[t.len() / 2]
    };
    let key_move = key_cost(&[key(KeyCode::Char('j')), key(KeyCode::Char('k'))], 300);
    let key_toggle = key_cost(&[key(KeyCode::Enter), key(KeyCode::Enter)], 300);
    let key_flip = key_cost(&[key(KeyCode::Char('t')), key(KeyCode::Char('t'))], 30);

    // Logs at 20,000 lines/s: a batch every 16 ms (320 lines) between keys.
    update(
        &mut s,
        Event::Key(KeyEvent::new(KeyCode::Char('l'), KeyModifiers::NONE)),
    );
    let mut latencies = Vec::new();
    let mut n = 0u64;
    let started = Instant::now();
    let mut lines_sent = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        let batch: Vec<String> = (0..320)
            .map(|_| {
                n += 1;
                format!("2026-11-25T19:12:30.{:06}+0000 host svc0000[4242]: GET /alive 200 0.{n}ms request-id={n:016x}", n % 1_000_000)
            })
            .collect();
        lines_sent += 320;
        let tail = s.last_tail;
        update(
            &mut s,
            Event::Log {
                tail,
                event: LogEvent::Lines(batch),
            },
        );
        term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
        // A keypress (toggle follow) and the frame that shows it.
        let t = Instant::now();
        update(
            &mut s,
            Event::Key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::NONE)),
        );
        term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
        latencies.push(t.elapsed());
        let next = started + Duration::from_millis(16 * (lines_sent / 320));
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let rate = lines_sent as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let buffered = s.layers.logs().map_or(0, |l| l.lines.len());

    println!();
    println!("| measure | value | budget |");
    println!("|---|---:|---:|");
    println!(
        "| frame draw, 1,000 services, 200x60 (median of 300) | {:.3} ms | 2 ms |",
        frame_median.as_secs_f64() * 1e3
    );
    println!(
        "| frame draw p99 | {:.3} ms | |",
        frame_p99.as_secs_f64() * 1e3
    );
    for (what, t) in [
        ("j/k (move the selection)", key_move),
        ("enter (close/open a branch)", key_toggle),
        ("t (flip: rebuild the tree)", key_flip),
    ] {
        println!(
            "| key handling, 1,000 services: {what} (median) | {:.3} ms | |",
            t.as_secs_f64() * 1e3
        );
    }
    println!(
        "| keypress-to-frame while logs stream at {:.0} lines/s (median / max of {}) | {:.3} / {:.3} ms | 16 ms |",
        rate,
        latencies.len(),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );
    println!("| log buffer held | {buffered} lines | 10,000 |");
    println!(
        "| peak RSS (VmHWM), 1,000 services + full log buffer | {:.1} MB | 50 MB |",
        rss_kib("VmHWM:") as f64 / 1024.0
    );
}
