//! Console performance without a terminal: one frame's draw time with 1,000
//! services (at 200x60 and 80x24), beside the same tree drawn by
//! tui-tree-widget; the cost of handling a key in the tree (`update()`
//! alone); keypress-to-frame latency while a log tail streams 20,000
//! lines/s; peak RSS with 1,000 services and a full log buffer.
//!
//!   cargo bench --bench console
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

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
use tui_tree_widget::{Tree, TreeItem, TreeState};

/// Frames timed per renderer and size (p99 needs a few hundred).
const FRAMES: usize = 600;

/// (p50, p99) of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

/// Wall-clock and on-CPU percentiles of a set of frames: on a machine shared
/// with other work the wall p99 is mostly time spent preempted, which the
/// thread's CPU clock leaves out.
struct FrameTimes {
    wall: (Duration, Duration),
    cpu: (Duration, Duration),
}

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Times `frame` FRAMES times, after `step` (not timed) each time.
fn time_frames(mut step: impl FnMut(), mut frame: impl FnMut()) -> FrameTimes {
    for _ in 0..20 {
        step();
        frame();
    }
    let (wall, cpu): (Vec<Duration>, Vec<Duration>) = (0..FRAMES)
        .map(|_| {
            step();
            let (t, c) = (Instant::now(), thread_cpu());
            frame();
            (t.elapsed(), thread_cpu().saturating_sub(c))
        })
        .unzip();
    FrameTimes {
        wall: percentiles(wall),
        cpu: percentiles(cpu),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The console's own frame (tree, details, activity, status bar), moving the
/// selection before each frame so every frame is a real redraw.
fn own_frames(s: &mut State, width: u16, height: u16) -> FrameTimes {
    let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
    let down = Event::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
    let s = std::cell::RefCell::new(s);
    time_frames(
        || {
            update(&mut s.borrow_mut(), down.clone());
        },
        || {
            let s = s.borrow();
            term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
        },
    )
}

/// The console's forest as tui-tree-widget items, identified by node id (an
/// integer; a node id is unique in the whole forest), each row's text what
/// the console's row shows: glyph, name, host, age of the last probe.
fn widget_items(s: &State) -> Vec<TreeItem<'static, usize>> {
    fn item(s: &State, id: usize) -> TreeItem<'static, usize> {
        use nixmox::views::theme;
        use ratatui::text::{Line, Span};
        let node = s.tree.forest.node(id);
        let row = s.model.health.rows.get(&node.name);
        let st = row.map_or(ServiceState::Unknown, |r| r.state);
        let mut spans = vec![
            Span::styled(theme::glyph(s.theme, st), theme::state_style(s.theme, st)),
            Span::raw(format!(" {:<10}", node.name)),
        ];
        if let Some(r) = row {
            spans.push(Span::styled(
                format!("  {:<15}", r.host),
                theme::dim(s.theme),
            ));
            if let Some(p) = r.last_probe() {
                let age = s.now.duration_since(p.at).unwrap_or_default();
                spans.push(Span::styled(
                    format!(" {:>4}", nixmox::timefmt::age(age)),
                    theme::dim(s.theme),
                ));
            }
        }
        let children: Vec<_> = s.tree.forest.children(id).map(|c| item(s, c)).collect();
        TreeItem::new(id, Line::from(spans), children).expect("node ids are unique")
    }
    s.tree.forest.root_ids().map(|r| item(s, r)).collect()
}

/// A widget state with the same branches open as the console's and the
/// first row selected.
fn widget_state(s: &State) -> TreeState<usize> {
    let mut state = TreeState::default();
    for id in 0..s.tree.forest.len() {
        if s.tree.opened.is_open(id) {
            let mut path = vec![id];
            let mut at = s.tree.forest.node(id).parent;
            while let Some(p) = at {
                path.push(p);
                at = s.tree.forest.node(p).parent;
            }
            path.reverse();
            state.open(path);
        }
    }
    state.select_first();
    state
}

/// tui-tree-widget drawing the same rows: items built once (they change only
/// when the tree or a row's text does), one persistent state, the selection
/// moved before each frame as above.
fn widget_frames(
    items: &[TreeItem<'static, usize>],
    state: &mut TreeState<usize>,
    theme: nixmox::app::state::Theme,
    width: u16,
    height: u16,
) -> FrameTimes {
    let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
    let state = std::cell::RefCell::new(state);
    time_frames(
        || {
            state.borrow_mut().key_down();
        },
        || {
            let tree = Tree::new(items)
                .expect("root ids are unique")
                .block(nixmox::views::theme::block(theme).title(" services "))
                .highlight_style(nixmox::views::theme::selected(theme));
            let mut state = state.borrow_mut();
            term.draw(|f| f.render_stateful_widget(tree, f.area(), &mut state))
                .unwrap();
        },
    )
}

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

/// Bytes a terminal backend writes, counted (what would cross the pty).
#[derive(Clone, Default)]
struct Counter(std::rc::Rc<std::cell::Cell<u64>>);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len() as u64);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A crossterm terminal of a fixed size writing into `counter`: the escape
/// sequences a real pty would carry, counted.
fn counted_terminal(
    counter: &Counter,
    w: u16,
    h: u16,
) -> Terminal<ratatui::backend::CrosstermBackend<Counter>> {
    Terminal::with_options(
        ratatui::backend::CrosstermBackend::new(counter.clone()),
        ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, w, h)),
        },
    )
    .unwrap()
}

fn probe_event(service: &str, at: SystemTime, ok: bool) -> Event {
    Event::Health(HealthEvent::Probe(ProbeResult {
        service: service.into(),
        kind: ProbeKind::Liveness,
        at,
        latency: Duration::from_millis(4),
        code: Some(if ok { 0 } else { 7 }),
        ok,
        timed_out: false,
        tail: vec![],
    }))
}

/// The terminal-bound figures at 200×50, with the loop's own frame policy
/// (`State::frame_due`) on a simulated clock: idle bytes/s with ages
/// ticking (15 services, probed every 30 s), the draw that shows a first
/// failed probe, and frames and bytes/s while a log streams 20,000 lines/s.
struct PtyFigures {
    idle_bytes_per_s: f64,
    failing_draw: Duration,
    flood_frames_per_s: f64,
    flood_bytes_per_s: f64,
}

fn pty_figures() -> PtyFigures {
    let m = validate(&manifest(15)).manifest.expect("valid");
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
    s.size = (200, 50);
    let t0 = SystemTime::now();
    for t in &targets {
        update(&mut s, probe_event(&t.service, t0, true));
        update(
            &mut s,
            Event::Health(HealthEvent::State {
                service: t.service.clone(),
                state: ServiceState::Up,
                since: t0,
                reason: None,
            }),
        );
    }
    let counter = Counter::default();
    let mut term = counted_terminal(&counter, 200, 50);
    term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
    s.dirty = false;
    s.urgent = false;
    // Idle for 120 s: one tick a second; each service probed every 30 s
    // (spread out), every event followed by its frame.
    let start = counter.0.get();
    for sec in 1..=120u64 {
        let now = t0 + Duration::from_secs(sec);
        for (i, t) in targets.iter().enumerate() {
            if (sec + i as u64 * 2).is_multiple_of(30) {
                update(&mut s, probe_event(&t.service, now, true));
            }
        }
        update(&mut s, Event::Tick(now));
        if s.dirty {
            term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
            s.dirty = false;
            s.urgent = false;
        }
    }
    let idle_bytes_per_s = (counter.0.get() - start) as f64 / 120.0;

    // A first failed probe: the event, then the frame that shows it.
    let failing = Instant::now();
    let at = t0 + Duration::from_secs(121);
    update(&mut s, probe_event("svc0003", at, false));
    update(
        &mut s,
        Event::Health(HealthEvent::State {
            service: "svc0003".into(),
            state: ServiceState::Failing,
            since: at,
            reason: Some("liveness probe failed (exit 7)".into()),
        }),
    );
    term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
    let failing_draw = failing.elapsed();
    s.dirty = false;

    // A log flood: 20 lines every millisecond for 5 simulated seconds; a
    // frame whenever the loop's policy says one is due.
    update(
        &mut s,
        Event::Key(KeyEvent::new(KeyCode::Char('l'), KeyModifiers::NONE)),
    );
    let start = counter.0.get();
    let mut frames = 0u64;
    let mut last_draw = Duration::ZERO;
    let mut n = 0u64;
    let span = Duration::from_secs(5);
    let mut clock = Duration::ZERO;
    while clock < span {
        clock += Duration::from_millis(1);
        let batch: Vec<String> = (0..20)
            .map(|_| {
                n += 1;
                format!("2026-11-25T19:12:30.{:06}+0000 host svc0000[4242]: GET /alive 200 0.{n}ms request-id={n:016x}", n % 1_000_000)
            })
            .collect();
        let tail = s.last_tail;
        update(
            &mut s,
            Event::Log {
                tail,
                event: LogEvent::Lines(batch),
            },
        );
        if s.frame_due(clock - last_draw) == Some(Duration::ZERO) {
            term.draw(|f| nixmox::views::draw(&s, f)).unwrap();
            s.dirty = false;
            s.urgent = false;
            last_draw = clock;
            frames += 1;
        }
    }
    PtyFigures {
        idle_bytes_per_s,
        failing_draw,
        flood_frames_per_s: frames as f64 / span.as_secs_f64(),
        flood_bytes_per_s: (counter.0.get() - start) as f64 / span.as_secs_f64(),
    }
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
    let pty = pty_figures();
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

    // The same tree both ways, in the same state: every branch open (as the
    // console starts), the selection moving one row per frame.
    let rows = s.tree.rows.len();
    let own_wide = own_frames(&mut s, 200, 60);
    let own_small = own_frames(&mut s, 80, 24);
    let build_started = Instant::now();
    let items = widget_items(&s);
    let item_build = build_started.elapsed();
    let mut builds: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(widget_items(&s));
            t.elapsed()
        })
        .collect();
    builds.push(item_build);
    let (item_build, _) = percentiles(builds);
    let mut tree_state = widget_state(&s);
    let widget_wide = widget_frames(&items, &mut tree_state, s.theme, 200, 60);
    let widget_small = widget_frames(&items, &mut tree_state, s.theme, 80, 24);
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();

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
    let renderers = [
        ("200x60: whole console frame, own tree renderer", own_wide),
        ("80x24: whole console frame, own tree renderer", own_small),
        ("200x60: tui-tree-widget 0.24 alone", widget_wide),
        ("80x24: tui-tree-widget 0.24 alone", widget_small),
    ];
    for (what, t) in renderers {
        println!(
            "| frame draw, 1,000 services ({rows} rows open), {what}: p50 / p99 of {FRAMES}, wall (on-CPU) | {:.3} / {:.3} ms ({:.3} / {:.3}) | 2 ms |",
            ms(t.wall.0),
            ms(t.wall.1),
            ms(t.cpu.0),
            ms(t.cpu.1)
        );
    }
    println!(
        "| tui-tree-widget items rebuilt (after a change: probe, age tick, filter) (median of 21) | {:.3} ms | |",
        ms(item_build)
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
        "| 200x50 idle, ages ticking, 15 services probed every 30 s: bytes to the terminal | {:.0} B/s | 300 B/s |",
        pty.idle_bytes_per_s
    );
    println!(
        "| first failed probe -> failing row drawn (update + frame; the loop adds at most {:.1} ms) | {:.3} ms | 100 ms |",
        ms(nixmox::app::state::MIN_FRAME),
        ms(pty.failing_draw)
    );
    println!(
        "| 200x50 log flood at 20,000 lines/s: frames / bytes to the terminal | {:.0} /s, {:.0} KB/s | 60 /s, 200 KB/s |",
        pty.flood_frames_per_s,
        pty.flood_bytes_per_s / 1000.0
    );
    println!(
        "| peak RSS (VmHWM), 1,000 services + full log buffer | {:.1} MB | 50 MB |",
        rss_kib("VmHWM:") as f64 / 1024.0
    );
}
