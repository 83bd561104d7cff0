//! The console without a terminal: `update()` transitions for every key and
//! event that changes state, and every screen drawn on a `TestBackend`
//! (insta snapshots at 80×24 and 160×48, plus colour checks).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nixmox::app::event::{Command, Event, OpEvent, OpEventKind};
use nixmox::app::keymap::{Key, Keymap};
use nixmox::app::keys::route;
use nixmox::app::layers::{Focus, Layer};
use nixmox::app::model::health::HealthBoard;
use nixmox::app::panes::wizard::WizardStep;
use nixmox::app::state::{State, Theme};
use nixmox::app::update;
use nixmox::backend::deploy_preview::{Change, HostPreview, LockView};
use nixmox::backend::generations::Generation;
use nixmox::backend::health::{HealthEvent, ProbeKind, ProbeResult, ServiceState, Target};
use nixmox::backend::logs::{LogEvent, LogSource, MergedEvent, TaggedLine};
use nixmox::backend::outcome::{Outcome, Step};
use nixmox::manifest::{load_value, validate};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const T0: u64 = 1_795_633_950;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

/// The full manifest, evaluated once by the real Nix.
fn manifest_value() -> &'static serde_json::Value {
    static VALUE: OnceLock<serde_json::Value> = OnceLock::new();
    VALUE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("nixos/service-manifest.nix");
        load_value(&path).expect("the full manifest loads (needs nix-instantiate)")
    })
}

fn state(theme: Theme) -> State {
    let manifest = validate(manifest_value())
        .manifest
        .expect("the full manifest is valid");
    let targets = Target::from_manifest(&manifest);
    let mut s = State::new(
        Arc::new(manifest),
        "nixos/service-manifest.nix".into(),
        HealthBoard::new(&targets),
        theme,
    );
    s.now = at(100);
    s.model.previews = generated().clone();
    s
}

/// What nixos/lib generates for a few services, evaluated once by the real
/// Nix; the others are marked as not evaluated.
fn generated() -> &'static HashMap<String, Result<String, String>> {
    static CACHE: OnceLock<HashMap<String, Result<String, String>>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("nixos/service-manifest.nix");
        let evaluated = ["caddy", "authentik", "grafana", "vaultwarden"];
        let others = [
            "alertmanager",
            "dns",
            "guacamole",
            "homepage",
            "jellyfin",
            "loki",
            "miniflux",
            "nextcloud",
            "postgresql",
            "prometheus",
            "wikijs",
        ];
        evaluated
            .iter()
            .map(|s| {
                let v = nixmox::backend::nixos::show(&path, s).expect("show.nix evaluates");
                (s.to_string(), Ok(nixmox::backend::nixos::render(s, &v)))
            })
            .chain(
                others
                    .iter()
                    .map(|s| (s.to_string(), Err("not evaluated in this test".to_string()))),
            )
            .collect()
    })
}

fn color() -> Theme {
    Theme {
        color: true,
        ascii: false,
    }
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn probe(service: &str, ok: bool, secs: u64, ms: u64) -> HealthEvent {
    HealthEvent::Probe(ProbeResult {
        service: service.into(),
        kind: ProbeKind::Liveness,
        at: at(secs),
        latency: Duration::from_millis(ms),
        code: Some(if ok { 0 } else { 7 }),
        ok,
        timed_out: false,
        tail: if ok {
            vec![]
        } else {
            vec!["curl: (7) Failed to connect to localhost port 8080".into()]
        },
    })
}

fn set(s: &mut State, service: &str, st: ServiceState, reason: Option<&str>) {
    update(
        s,
        Event::Health(HealthEvent::State {
            service: service.into(),
            state: st,
            since: at(40),
            reason: reason.map(str::to_string),
        }),
    );
}

/// A lab-like picture: everything up, vaultwarden down, dns unreachable.
fn healthy(theme: Theme) -> State {
    let mut s = state(theme);
    let names: Vec<String> = s.model.services.clone();
    for (i, n) in names.iter().enumerate() {
        for k in 0..5u64 {
            update(
                &mut s,
                Event::Health(probe(n, true, 60 + k * 5, 3 + (i as u64 + k) % 7)),
            );
        }
        set(&mut s, n, ServiceState::Up, None);
    }
    update(&mut s, Event::Health(probe("vaultwarden", false, 95, 12)));
    set(
        &mut s,
        "vaultwarden",
        ServiceState::Down,
        Some("liveness probe failed (exit 7): curl: (7) Failed to connect to localhost port 8080"),
    );
    set(&mut s, "dns", ServiceState::Unreachable, Some("cannot connect to 192.168.99.13: connect to host 192.168.99.13 port 22: Connection refused"));
    s.now = at(100);
    s
}

fn render(s: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| nixmox::views::draw(s, f)).unwrap();
    t
}

fn screen(s: &State, w: u16, h: u16) -> String {
    render(s, w, h).backend().to_string()
}

fn snap(name: &str, s: &State) {
    insta::assert_snapshot!(format!("{name}_80x24"), screen(s, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), screen(s, 160, 48));
}

// ---------- update() ----------

#[test]
fn navigation_keys_move_the_selection() {
    let mut s = healthy(color());
    let first = s.tree.selected.clone();
    assert_eq!(first, vec!["caddy".to_string()]);
    update(&mut s, key('j'));
    assert_eq!(s.tree.selected_service(), Some("alertmanager"));
    update(&mut s, code(KeyCode::Down));
    assert_ne!(s.tree.selected_service(), Some("alertmanager"));
    update(&mut s, key('k'));
    update(&mut s, code(KeyCode::Up));
    assert_eq!(s.tree.selected, first);
    update(&mut s, key('k'));
    assert_eq!(s.tree.selected, first, "stays at the top");
    update(&mut s, key('G'));
    let last = s.tree.selected.clone();
    assert_ne!(last, first);
    update(&mut s, key('j'));
    assert_eq!(s.tree.selected, last, "stays at the bottom");
    update(&mut s, key('g'));
    assert_eq!(s.tree.selected, first);
}

#[test]
fn enter_and_arrows_collapse_and_expand() {
    let mut s = healthy(color());
    assert!(s.tree.opened.contains(&vec!["caddy".to_string()]));
    update(&mut s, code(KeyCode::Enter));
    assert!(!s.tree.opened.contains(&vec!["caddy".to_string()]));
    update(&mut s, key('j'));
    assert_eq!(
        s.tree.selected_service(),
        Some("dns"),
        "collapsed children are skipped"
    );
    update(&mut s, key('k'));
    update(&mut s, code(KeyCode::Right));
    assert!(s.tree.opened.contains(&vec!["caddy".to_string()]));
    update(&mut s, key('j'));
    update(&mut s, code(KeyCode::Left));
    assert_eq!(
        s.tree.selected,
        vec!["caddy".to_string()],
        "left on a leaf goes to its parent"
    );
}

#[test]
fn t_flips_the_tree_and_keeps_the_service() {
    let mut s = healthy(color());
    update(&mut s, key('j'));
    let name = s.tree.selected_service().unwrap().to_string();
    update(&mut s, key('t'));
    assert_eq!(
        s.tree.direction,
        nixmox::app::panes::forest::Direction::DependsOn
    );
    assert_eq!(s.tree.selected_service(), Some(name.as_str()));
    update(&mut s, key('t'));
    assert_eq!(
        s.tree.direction,
        nixmox::app::panes::forest::Direction::RequiredBy
    );
}

#[test]
fn slash_filters_as_you_type_and_esc_clears() {
    let mut s = healthy(color());
    update(&mut s, key('/'));
    assert_eq!(s.layers.top(), Some(&Layer::Filter));
    for c in "graf".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(s.tree.filter, "graf");
    assert_eq!(s.tree.selected_service(), Some("grafana"));
    update(&mut s, code(KeyCode::Backspace));
    assert_eq!(s.tree.filter, "gra");
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.layers.top(), None);
    assert_eq!(s.tree.filter, "gra", "enter keeps the filter");
    update(&mut s, code(KeyCode::Esc));
    assert!(s.tree.filter.is_empty());
    update(&mut s, key('/'));
    update(&mut s, key('x'));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!((s.layers.top(), s.tree.filter.as_str()), (None, ""));
}

#[test]
fn deploy_asks_with_the_plan_then_sends_the_command() {
    let mut s = healthy(color());
    update(&mut s, key('/'));
    for c in "authentik".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    let asked = update(&mut s, key('D'));
    assert!(
        matches!(&asked[..], [Command::PreviewDeploy { services, with_dependents: true, .. }] if services == &["authentik".to_string()]),
        "only the preview runs before confirmation: {asked:?}"
    );
    let Some(Layer::ConfirmDeploy { dialog, .. }) = s.layers.top().cloned() else {
        panic!("no confirmation: {:?}", s.layers.top())
    };
    let plan = &dialog.plan;
    assert!(plan.with_dependents);
    assert_eq!(plan.waves[0], vec!["authentik".to_string()]);
    assert!(plan.waves.iter().flatten().any(|n| n == "vaultwarden"));
    assert_eq!(update(&mut s, key('n')), vec![]);
    assert_eq!(s.layers.top(), None);
    update(&mut s, key('d'));
    let id = open_dialog_id(&s);
    // Before the preview, y does not guess: it says what f would do.
    assert_eq!(update(&mut s, key('y')), vec![]);
    assert!(
        s.message
            .as_deref()
            .unwrap_or("")
            .contains("f deploys all 1"),
        "{:?}",
        s.message
    );
    update(
        &mut s,
        Event::DeployPreview {
            id,
            result: Ok(vec![preview_of("authentik", changed())]),
        },
    );
    let cmds = update(&mut s, key('y'));
    assert_eq!(
        cmds,
        vec![Command::Deploy {
            op: s.model.last_op,
            services: vec!["authentik".into()],
            with_dependents: false
        }]
    );
    assert_eq!(s.layers.top(), None);
}

fn open_dialog_id(s: &State) -> u64 {
    match s.layers.top() {
        Some(Layer::ConfirmDeploy { dialog, .. }) => dialog.id,
        other => panic!("no deploy dialog: {other:?}"),
    }
}

fn changed() -> Change {
    Change::Changed {
        built: "/nix/store/new-system".into(),
        running: "/nix/store/old-system".into(),
    }
}

fn unchanged() -> Change {
    Change::Unchanged {
        path: "/nix/store/same-system".into(),
    }
}

fn preview_of(service: &str, change: Change) -> HostPreview {
    HostPreview::new(service, "192.168.99.1", change)
}

#[test]
fn the_deploy_preview_skips_unchanged_hosts_and_f_deploys_them_all() {
    let mut s = healthy(color());
    select(&mut s, "caddy");
    update(&mut s, key('D'));
    let id = open_dialog_id(&s);
    let Some(Layer::ConfirmDeploy { dialog, .. }) = s.layers.top().cloned() else {
        panic!("no plan");
    };
    let all: Vec<String> = dialog.plan.waves.concat();
    // caddy changed; everything else runs its build already, and the
    // homepage host is locked by someone else.
    let mut previews: Vec<HostPreview> = all
        .iter()
        .map(|n| preview_of(n, if n == "caddy" { changed() } else { unchanged() }))
        .collect();
    let dependent = all.iter().find(|n| *n != "caddy").unwrap().clone();
    if let Some(p) = previews.iter_mut().find(|p| p.service == dependent) {
        p.because_of = vec!["caddy".into()];
    }
    if let Some(p) = previews.iter_mut().find(|p| p.service == "homepage") {
        p.lock = LockView::Held {
            holder: "alice@box".into(),
            age_secs: 30,
            stale: false,
        };
    }
    update(
        &mut s,
        Event::DeployPreview {
            id,
            result: Ok(previews),
        },
    );
    let text = screen(&s, 80, 24);
    assert!(text.contains("y deploy 2 host(s), f all"), "{text}");
    assert!(text.contains("caddy 192.168.99.10  changed"), "{text}");
    assert!(text.contains("unchanged, skipped"), "{text}");
    assert!(
        text.contains("homepage") && text.contains("locked by alice@box"),
        "the warning is pinned:\n{text}"
    );
    insta::assert_snapshot!("deploy_preview_80x24", text);
    let small = screen(&s, 60, 15);
    assert!(small.contains("y deploy 2 host(s), f all"), "{small}");
    insta::assert_snapshot!("deploy_preview_60x15", small);
    let cmds = update(&mut s, key('y'));
    let mut go = vec!["caddy".to_string(), dependent];
    go.sort();
    assert_eq!(
        cmds,
        vec![Command::Deploy {
            op: s.model.last_op,
            services: go,
            with_dependents: false
        }]
    );
    assert!(s
        .message
        .as_deref()
        .unwrap_or("")
        .contains("unchanged host(s) skipped"));

    // Nothing changed: y refuses and says so; f deploys the whole plan.
    update(&mut s, key('D'));
    let id = open_dialog_id(&s);
    let same: Vec<HostPreview> = all.iter().map(|n| preview_of(n, unchanged())).collect();
    update(
        &mut s,
        Event::DeployPreview {
            id,
            result: Ok(same),
        },
    );
    assert!(screen(&s, 80, 24).contains("nothing changed: f deploy anyway"));
    assert_eq!(update(&mut s, key('y')), vec![]);
    assert!(s
        .message
        .as_deref()
        .unwrap_or("")
        .contains("nothing to deploy"));
    assert_eq!(
        update(&mut s, key('f')),
        vec![Command::Deploy {
            op: s.model.last_op,
            services: vec!["caddy".into()],
            with_dependents: true
        }]
    );

    // A preview for a dialog since closed changes nothing.
    update(&mut s, key('D'));
    let id = open_dialog_id(&s);
    update(&mut s, key('n'));
    update(
        &mut s,
        Event::DeployPreview {
            id,
            result: Err("late".into()),
        },
    );
    assert_eq!(s.layers.top(), None);
}

fn gens(current: u64, n: u64) -> Vec<Generation> {
    (1..=n)
        .map(|g| Generation {
            generation: g,
            date: format!("2026-11-25 19:0{g}:00"),
            current: g == current,
            path: format!("/nix/store/{g}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-grafana"),
            running: g == current,
            present: true,
        })
        .collect()
}

fn wizard_at_grafana() -> State {
    let mut s = healthy(color());
    update(&mut s, key('/'));
    for c in "grafana".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    s
}

#[test]
fn rollback_wizard_walks_through_choose_confirm_progress() {
    let mut s = wizard_at_grafana();
    let cmds = update(&mut s, key('r'));
    assert_eq!(
        cmds,
        vec![Command::ListGenerations {
            service: "grafana".into()
        }]
    );
    assert!(
        matches!(s.layers.top(), Some(Layer::Rollback { wizard: w, .. }) if w.step == WizardStep::Loading)
    );
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(3, 3)),
        },
    );
    let Some(Layer::Rollback { wizard: w, .. }) = s.layers.top() else {
        panic!()
    };
    assert_eq!(
        w.step,
        WizardStep::Choose {
            gens: gens(3, 3),
            selected: 1
        },
        "default: the previous generation"
    );
    update(&mut s, key('k'));
    update(&mut s, code(KeyCode::Enter));
    let Some(Layer::Rollback { wizard: w, .. }) = s.layers.top() else {
        panic!()
    };
    assert_eq!(
        w.step,
        WizardStep::Confirm {
            gens: gens(3, 3),
            from: 3,
            to: 1
        }
    );
    update(&mut s, key('n'));
    let Some(Layer::Rollback { wizard: w, .. }) = s.layers.top() else {
        panic!()
    };
    assert!(
        matches!(w.step, WizardStep::Choose { selected: 0, .. }),
        "n goes back to the list"
    );
    update(&mut s, key('j'));
    update(&mut s, code(KeyCode::Enter));
    let cmds = update(&mut s, key('y'));
    let op = s.model.last_op;
    assert_eq!(
        cmds,
        vec![Command::Rollback {
            op,
            service: "grafana".into(),
            from: 3,
            to: 2
        }]
    );
    update(
        &mut s,
        Event::Op(OpEvent {
            id: op,
            at: at(99),
            kind: OpEventKind::Started {
                title: "rollback grafana to gen 2".into(),
            },
        }),
    );
    update(
        &mut s,
        Event::Op(OpEvent {
            id: op,
            at: at(99),
            kind: OpEventKind::Finished {
                ok: true,
                summary: "grafana on generation 2, healthy".into(),
            },
        }),
    );
    snap("wizard_done", &s);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.layers.top(), None);
    assert_eq!(s.layers.main.focus, Focus::Activity);
}

#[test]
fn rollback_wizard_refuses_at_the_oldest_generation() {
    let mut s = wizard_at_grafana();
    update(&mut s, key('r'));
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(1, 1)),
        },
    );
    let Some(Layer::Rollback { wizard: w, .. }) = s.layers.top() else {
        panic!()
    };
    assert!(
        matches!(&w.step, WizardStep::Failed(why) if why.contains("oldest")),
        "{:?}",
        w.step
    );
    snap("wizard_oldest", &s);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.layers.top(), None);
    // y (the bar's "yes") acknowledges too.
    update(&mut s, key('r'));
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(1, 1)),
        },
    );
    update(&mut s, key('y'));
    assert_eq!(s.layers.top(), None, "y closes the refusal as esc does");
}

#[test]
fn rollback_wizard_screens() {
    let mut s = wizard_at_grafana();
    update(&mut s, key('r'));
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(3, 3)),
        },
    );
    snap("wizard_choose", &s);
    update(&mut s, code(KeyCode::Enter));
    snap("wizard_confirm", &s);
}

#[test]
fn logs_screen_follows_searches_and_closes() {
    let mut s = wizard_at_grafana();
    let cmds = update(&mut s, key('l'));
    assert_eq!(
        cmds,
        vec![Command::OpenLogs {
            tail: s.last_tail,
            service: "grafana".into(),
            host: "192.168.99.23".into(),
            unit: "grafana".into()
        }]
    );
    assert!(matches!(s.layers.top(), Some(Layer::Logs(_))));
    let lines: Vec<String> = (0..30)
        .map(|i| format!("2026-11-25T19:{i:02}:00+0000 grafana[42]: request {i} ok"))
        .collect();
    let tail = s.layers.logs().unwrap().tail;
    update(
        &mut s,
        Event::Log {
            tail,
            event: LogEvent::Lines(lines),
        },
    );
    snap("logs_follow", &s);
    update(&mut s, key('f'));
    assert!(!s.layers.logs().unwrap().follow);
    update(&mut s, key('/'));
    for c in "request 7".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.layers.logs().unwrap().current, Some(7));
    update(&mut s, key('n'));
    assert_eq!(
        s.layers.logs().unwrap().current,
        Some(7),
        "only one match: wraps to itself"
    );
    update(&mut s, key('w'));
    assert!(s.layers.logs().unwrap().wrap);
    snap("logs_search", &s);
    update(&mut s, key('G'));
    assert!(s.layers.logs().unwrap().follow);
    assert_eq!(update(&mut s, code(KeyCode::Esc)), vec![Command::CloseLogs]);
    assert_eq!(s.layers.top(), None);
    assert!(s.layers.logs().is_none());
}

fn op(id: u64, secs: u64, kind: OpEventKind) -> Event {
    Event::Op(OpEvent {
        id,
        at: at(secs),
        kind,
    })
}

#[test]
fn operations_stream_into_activity_and_quit_asks_while_they_run() {
    let mut s = healthy(color());
    assert_eq!(
        update(&mut s, key('q')),
        vec![Command::Quit],
        "idle: quit at once"
    );
    update(
        &mut s,
        op(
            1,
            90,
            OpEventKind::Started {
                title: "deploy vaultwarden".into(),
            },
        ),
    );
    update(
        &mut s,
        op(
            1,
            91,
            OpEventKind::Step {
                host: Some("vaultwarden".into()),
                step: Step::Build,
            },
        ),
    );
    update(
        &mut s,
        op(
            1,
            92,
            OpEventKind::Line {
                line: "building '/nix/store/…-system.drv'".into(),
            },
        ),
    );
    assert!(s.needs_tick());
    let spin = s.spinner;
    update(&mut s, Event::Tick(at(93)));
    assert_eq!(s.spinner, spin + 1);
    assert_eq!(s.model.operations[0].step, "vaultwarden: build");
    assert_eq!(update(&mut s, key('q')), vec![]);
    assert!(matches!(s.layers.top(), Some(Layer::ConfirmQuit { .. })));
    update(&mut s, key('n'));
    assert_eq!(s.layers.top(), None);
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut s, ctrl_c), vec![Command::Cancel(1)]);
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(s.layers.main.focus, Focus::Activity);
    update(&mut s, code(KeyCode::Enter));
    assert!(matches!(s.layers.top(), Some(Layer::Output { op: 1, .. })));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.layers.top(), None);
    let cmds = update(
        &mut s,
        op(
            1,
            95,
            OpEventKind::Finished {
                ok: true,
                summary: "1 deployed".into(),
            },
        ),
    );
    assert_eq!(
        cmds.first(),
        Some(&Command::Reprobe(None)),
        "a finished operation triggers a re-probe"
    );
    assert!(!s.needs_tick(), "no spinner ticks when idle");
    update(&mut s, Event::Tick(at(96)));
    assert_eq!(update(&mut s, key('q')), vec![Command::Quit]);
}

#[test]
fn selecting_a_service_asks_nixos_lib_once() {
    let mut s = healthy(color());
    s.model.previews.remove("alertmanager");
    let cmds = update(&mut s, key('j'));
    assert_eq!(s.tree.selected_service(), Some("alertmanager"));
    assert_eq!(cmds, vec![Command::LoadPreview("alertmanager".into())]);
    update(&mut s, key('k'));
    assert_eq!(
        update(&mut s, key('j')),
        vec![],
        "asked once, even before the answer"
    );
    update(
        &mut s,
        Event::Preview {
            service: "alertmanager".into(),
            result: Ok("## Caddy site\nalertmanager.nixmox.lan {\n}".into()),
        },
    );
    assert!(s.model.previews["alertmanager"].is_ok());
}

#[test]
fn health_events_change_state_and_mark_dirty() {
    let mut s = healthy(color());
    s.dirty = false;
    set(&mut s, "grafana", ServiceState::Down, Some("boom"));
    assert!(s.dirty);
    assert_eq!(s.model.health.rows["grafana"].state, ServiceState::Down);
    assert!(s
        .model
        .health
        .impacted_by(&s.model.graph, "homepage")
        .contains(&"grafana".to_string()));
    s.dirty = false;
    update(&mut s, Event::Tick(at(101)));
    assert!(s.dirty, "ages on screen tick");
    update(&mut s, key('l'));
    s.dirty = false;
    update(&mut s, Event::Tick(at(102)));
    assert!(!s.dirty, "an idle tick with no age on screen draws nothing");
    update(&mut s, code(KeyCode::Esc));
    let cmds = update(&mut s, key('R'));
    assert_eq!(cmds[0], Command::Reprobe(None));
    assert!(
        cmds.contains(&Command::ListGenerations {
            service: "grafana".into()
        }),
        "R re-reads generations too: {cmds:?}"
    );
    update(&mut s, key('?'));
    assert!(matches!(s.layers.top(), Some(Layer::Help { .. })));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.layers.top(), None);
    update(&mut s, Event::Resize(120, 40));
    assert_eq!(s.size, (120, 40));
}

// ---------- views ----------

#[test]
fn main_screen() {
    snap("main", &healthy(color()));
}

#[test]
fn main_screen_depends_on() {
    let mut s = healthy(color());
    update(&mut s, key('t'));
    snap("depends_on", &s);
}

#[test]
fn help_screen() {
    let mut s = healthy(color());
    update(&mut s, key('?'));
    snap("help", &s);
}

#[test]
fn filter_screen() {
    let mut s = healthy(color());
    update(&mut s, key('/'));
    for c in "na".chars() {
        update(&mut s, key(c));
    }
    snap("filter", &s);
}

#[test]
fn deploy_dialog() {
    let mut s = healthy(color());
    update(&mut s, key('D'));
    snap("deploy_dialog", &s);
}

#[test]
fn activity_and_output() {
    let mut s = healthy(color());
    update(
        &mut s,
        op(
            1,
            80,
            OpEventKind::Started {
                title: "deploy caddy+deps".into(),
            },
        ),
    );
    update(
        &mut s,
        op(
            1,
            81,
            OpEventKind::Step {
                host: Some("caddy".into()),
                step: Step::Activate,
            },
        ),
    );
    update(
        &mut s,
        op(
            2,
            70,
            OpEventKind::Started {
                title: "rollback grafana".into(),
            },
        ),
    );
    update(
        &mut s,
        op(
            2,
            75,
            OpEventKind::Finished {
                ok: false,
                summary: "health not restored".into(),
            },
        ),
    );
    snap("activity", &s);
    update(&mut s, code(KeyCode::Tab));
    update(&mut s, code(KeyCode::Enter));
    snap("activity_output", &s);
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('q'));
    snap("quit_dialog", &s);
}

#[test]
fn ascii_and_no_color() {
    let s = healthy(Theme {
        color: false,
        ascii: true,
    });
    snap("ascii_no_color", &s);
    let t = render(&s, 80, 24);
    let buf = t.backend().buffer();
    assert!(
        buf.content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
        "NO_COLOR: no colour at all"
    );
    assert!(
        buf.content()
            .iter()
            .all(|c| c.symbol().is_ascii() || "─│┌┐└┘├┤┬┴┼".contains(c.symbol())),
        "ASCII glyphs only"
    );
}

/// Finds the cell holding `glyph` on the row that names `service`.
fn glyph_color(t: &Terminal<TestBackend>, service: &str, glyph: &str) -> Color {
    let buf = t.backend().buffer();
    let area = buf.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if row.contains(&format!("{glyph} {service} ")) {
            for x in 0..area.width {
                if buf[(x, y)].symbol() == glyph {
                    return buf[(x, y)].fg;
                }
            }
        }
    }
    panic!("no row with {glyph} {service}");
}

#[test]
fn health_colours() {
    let s = healthy(color());
    let t = render(&s, 160, 48);
    assert_eq!(glyph_color(&t, "caddy", "●"), Color::Green);
    assert_eq!(glyph_color(&t, "vaultwarden", "✖"), Color::Red);
    assert_eq!(glyph_color(&t, "dns", "⊘"), Color::Magenta);
}

#[test]
fn generation_and_last_deploy_are_shown() {
    let mut s = healthy(color());
    for (i, n) in s.model.services.clone().iter().enumerate() {
        update(
            &mut s,
            Event::Generations {
                service: n.clone(),
                result: Ok(gens(1 + (i as u64 % 3), 3)),
            },
        );
    }
    // caddy is the third service alphabetically: current generation 3.
    assert_eq!(s.model.generations["caddy"].generation, 3);
    update(
        &mut s,
        op(
            7,
            90,
            OpEventKind::Started {
                title: "deploy caddy".into(),
            },
        ),
    );
    update(
        &mut s,
        op(
            7,
            95,
            OpEventKind::HostDone {
                service: "caddy".into(),
                outcome: Outcome::Deployed {
                    generation_before: Some(1),
                    generation_after: Some(2),
                },
            },
        ),
    );
    let cmds = update(
        &mut s,
        op(
            7,
            96,
            OpEventKind::Finished {
                ok: true,
                summary: "1 deployed".into(),
            },
        ),
    );
    assert!(
        cmds.contains(&Command::ListGenerations {
            service: "caddy".into()
        }),
        "generations are listed again"
    );
    assert_eq!(s.model.last_deploy["caddy"].outcome.label(), "deployed");
    assert_eq!(s.model.last_deploy["caddy"].what, "deploy caddy");
    s.now = at(100);
    snap("generations", &s);
}

// ---------- layers ----------

fn key_event(k: &Key) -> KeyEvent {
    match *k {
        Key::Char(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        Key::Ctrl(c) => KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL),
        Key::Code(c) => KeyEvent::new(c, KeyModifiers::NONE),
        Key::Text => KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE),
    }
}

/// An operation in flight (so quitting asks), focused in the activity pane.
fn running_op() -> State {
    let mut s = healthy(color());
    update(
        &mut s,
        op(
            1,
            90,
            OpEventKind::Started {
                title: "deploy caddy".into(),
            },
        ),
    );
    s
}

/// A way to open a layer from the main screen, named.
type Opener = (&'static str, fn() -> State);

/// Every layer, opened by keys as an operator opens it.
fn every_layer() -> Vec<Opener> {
    vec![
        ("main screen", || healthy(color())),
        ("filter", || {
            let mut s = healthy(color());
            update(&mut s, key('/'));
            s
        }),
        ("help", || {
            let mut s = healthy(color());
            update(&mut s, key('?'));
            s
        }),
        ("deploy dialog", || {
            let mut s = healthy(color());
            update(&mut s, key('d'));
            s
        }),
        ("quit dialog", || {
            let mut s = running_op();
            update(&mut s, key('q'));
            s
        }),
        ("rollback wizard", || {
            let mut s = wizard_at_grafana();
            update(&mut s, key('r'));
            update(
                &mut s,
                Event::Generations {
                    service: "grafana".into(),
                    result: Ok(gens(3, 3)),
                },
            );
            s
        }),
        ("logs", || {
            let mut s = healthy(color());
            update(&mut s, key('l'));
            s
        }),
        ("log search", || {
            let mut s = healthy(color());
            update(&mut s, key('l'));
            update(&mut s, key('/'));
            s
        }),
        ("operation output", || {
            let mut s = running_op();
            update(&mut s, code(KeyCode::Tab));
            update(&mut s, code(KeyCode::Enter));
            s
        }),
        ("command line", || {
            let mut s = healthy(color());
            update(&mut s, key(':'));
            s
        }),
        ("fault menu", || {
            let mut s = wizard_at_grafana();
            s.lab = true;
            update(&mut s, key('F'));
            s
        }),
        ("history", history_of_grafana),
        ("steps", || {
            let mut s = history_of_grafana();
            update(&mut s, code(KeyCode::Enter));
            s
        }),
    ]
}

/// The keys a status bar label names (`y/enter`, `n/N`, `/`).
fn named_keys(keymap: Keymap, label: &str) -> Vec<Key> {
    let names: Vec<&str> = if label.len() > 1 {
        label.split('/').collect()
    } else {
        vec![label]
    };
    names
        .into_iter()
        .map(|name| {
            keymap
                .bindings()
                .flat_map(|b| b.keys.iter().copied())
                .find(|k| k.label(false) == name)
                .unwrap_or_else(|| {
                    panic!("{keymap:?}: the hint names {name:?}, which it does not bind")
                })
        })
        .collect()
}

#[test]
fn every_hint_is_a_key_its_layer_takes() {
    let mut seen = HashSet::new();
    for (name, open) in every_layer() {
        let keymap = open().layers.keymap();
        seen.insert(keymap);
        assert!(keymap.hints().next().is_some(), "{name}: no hints");
        for hint in keymap.hints() {
            let keys = hint
                .keys
                .iter()
                .copied()
                .chain(named_keys(keymap, hint.label));
            for k in keys {
                let mut s = open();
                let routed = route(&mut s, &key_event(&k));
                assert_eq!(
                    routed.taken_by,
                    Some(keymap),
                    "{name}: the hint \"{} {}\" names {k:?}, which the layer does not take",
                    hint.label,
                    hint.hint
                );
            }
        }
    }
    assert_eq!(
        seen,
        Keymap::ALL.into_iter().collect(),
        "a layer is missing from this test"
    );
}

/// The other way round: every key a layer binds (and so the help lists)
/// is taken by that layer, none falls through to a layer below.
#[test]
fn every_key_a_layer_binds_is_taken_by_it() {
    for (name, open) in every_layer() {
        let keymap = open().layers.keymap();
        for b in keymap.bindings() {
            for k in b.keys {
                let mut s = open();
                let routed = route(&mut s, &key_event(k));
                assert_eq!(
                    routed.taken_by,
                    Some(keymap),
                    "{name}: {k:?} ({}) is bound but not taken",
                    b.help
                );
            }
        }
    }
}

#[test]
fn help_lists_every_key_of_every_layer() {
    let mut s = healthy(color());
    update(&mut s, key('?'));
    // Every page of it, scrolled with pgdn to its end.
    let mut help = screen(&s, 160, 48);
    for _ in 0..10 {
        s.size = (160, 48);
        update(&mut s, code(KeyCode::PageDown));
        help.push_str(&screen(&s, 160, 48));
    }
    for keymap in Keymap::ALL {
        assert!(help.contains(keymap.title()), "{keymap:?} has no section");
        for b in keymap.bindings() {
            let label = b.keys_label(false);
            for k in b.keys {
                assert!(
                    label.contains(&k.label(false)),
                    "{k:?} missing from {label}"
                );
            }
            let rows = help
                .lines()
                .filter(|l| {
                    l.match_indices(&label)
                        .any(|(i, _)| l[i + label.len()..].trim_start().starts_with(b.help))
                })
                .count();
            assert!(
                rows >= 1,
                "{keymap:?}: \"{label} {}\" not in the help:\n{help}",
                b.help
            );
        }
    }
}

#[test]
fn a_popup_takes_only_its_own_keys() {
    let mut s = running_op();
    update(&mut s, code(KeyCode::Tab));
    update(&mut s, code(KeyCode::Enter));
    let shown = s.layers.top().cloned();
    assert!(matches!(shown, Some(Layer::Output { op: 1, .. })));
    for c in ['d', 'D', 'r', 'l', '/', 't', 'R'] {
        let routed = route(&mut s, &key_event(&Key::Char(c)));
        assert_eq!(
            routed.taken_by, None,
            "{c} reached the screen under the popup"
        );
        assert!(routed.commands.is_empty());
        assert_eq!(
            s.layers.top().cloned(),
            shown,
            "{c} opened something over the output"
        );
    }
    let bar = screen(&s, 80, 24);
    let bar = bar.lines().last().unwrap();
    assert!(
        bar.contains("esc close") && !bar.contains("deploy"),
        "{bar}"
    );
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut s, ctrl_c), vec![Command::Cancel(1)]);
    update(&mut s, key('q'));
    assert_eq!(s.layers.top(), None, "q closes the popup, it does not quit");
    assert_eq!(
        s.layers.main.focus,
        Focus::Activity,
        "focus stays where it was"
    );
}

#[test]
fn a_stale_tails_lines_are_dropped() {
    let mut s = healthy(color());
    update(&mut s, key('l'));
    let first = s.layers.logs().unwrap().tail;
    update(&mut s, code(KeyCode::Esc));
    let cmds = update(&mut s, key('l'));
    let second = s.layers.logs().unwrap().tail;
    assert_ne!(first, second);
    assert!(matches!(&cmds[..], [Command::OpenLogs { tail, .. }] if *tail == second));
    s.dirty = false;
    let lines = |t: &str| LogEvent::Lines(vec![t.to_string()]);
    update(
        &mut s,
        Event::Log {
            tail: first,
            event: lines("old"),
        },
    );
    update(
        &mut s,
        Event::Log {
            tail: first,
            event: LogEvent::Ended(None),
        },
    );
    assert!(!s.dirty, "nothing of the old tail shows");
    update(
        &mut s,
        Event::Log {
            tail: second,
            event: lines("new"),
        },
    );
    let view = s.layers.logs().unwrap();
    assert_eq!(view.lines, ["new"]);
    assert_eq!(view.ended, None);
}

/// A merged tail's batch: (service, journal line) pairs, in order.
fn merged(lines: &[(&str, String)]) -> MergedEvent {
    MergedEvent::Lines(
        lines
            .iter()
            .map(|(service, line)| TaggedLine {
                service: service.to_string(),
                line: line.clone(),
            })
            .collect(),
    )
}

/// What the console asks to tail for `service`, from the manifest.
fn source(s: &State, service: &str) -> LogSource {
    let svc = &s.model.manifest.services[service];
    LogSource {
        service: service.into(),
        host: svc.ip.to_string(),
        unit: svc.log_unit().into(),
    }
}

#[test]
fn big_l_merges_the_logs_of_a_service_and_all_it_depends_on() {
    let mut s = healthy(color());
    select(&mut s, "vaultwarden");
    let cmds = update(&mut s, key('L'));
    let tail = s.last_tail;
    // Its own first, then what it depends on, directly (caddy, authentik,
    // postgresql) or not (authentik's postgresql, counted once).
    let want: Vec<LogSource> = ["vaultwarden", "authentik", "caddy", "postgresql"]
        .iter()
        .map(|n| source(&s, n))
        .collect();
    assert_eq!(
        cmds,
        vec![Command::OpenMergedLogs {
            tail,
            sources: want
        }]
    );
    let view = s.layers.logs().unwrap();
    assert_eq!(view.tail, tail);
    assert!(view.tagged());
    let at = |sec: u32, host: &str, msg: &str| {
        format!("2026-11-30T12:00:{sec:02}+0000 {host} {host}[7]: {msg}")
    };
    let batch: Vec<(&str, String)> = (0..12u32)
        .map(|i| {
            let who = ["postgresql", "authentik", "vaultwarden", "caddy"][i as usize % 4];
            (who, at(i, who, &format!("event {i} from {who}")))
        })
        .collect();
    update(
        &mut s,
        Event::MergedLog {
            tail,
            event: merged(&batch),
        },
    );
    update(
        &mut s,
        Event::MergedLog {
            tail,
            event: MergedEvent::SourceFailed {
                service: "caddy".into(),
                why: "lost connection to 192.168.99.11".into(),
            },
        },
    );
    let text = screen(&s, 80, 24);
    // Every line behind its service's tag, in the order they came.
    assert!(
        text.contains("postgresql  │ 2026-11-30T12:00:00+0000 postgresql"),
        "{text}"
    );
    assert!(
        text.contains("vaultwarden │ 2026-11-30T12:00:10+0000 vaultwarden"),
        "{text}"
    );
    // One source lost: a line of its own says so; the others go on.
    assert!(
        text.contains("caddy       │ [nixmox] the tail of caddy ended: lost connection"),
        "{text}"
    );
    assert!(
        text.contains("logs · vaultwarden +3 (authentik, caddy, postgresql)"),
        "{text}"
    );
    insta::assert_snapshot!("logs_merged_80x24", text);

    // Search, prefix hiding and wrap work on the merged lines as on one
    // journal's: the text after the tag.
    update(&mut s, key('p'));
    let text = screen(&s, 80, 24);
    assert!(
        text.contains("authentik   │ event 9 from authentik"),
        "{text}"
    );
    update(&mut s, key('/'));
    for c in "from authentik".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    let view = s.layers.logs().unwrap();
    assert_eq!(view.current, Some(1));
    assert_eq!(view.service_of(1), "authentik");
    assert_eq!(view.match_count(), (Some(1), 3));
    update(&mut s, key('n'));
    assert_eq!(s.layers.logs().unwrap().current, Some(5));
    assert!(screen(&s, 80, 24).contains("2/3 match(es) for \"from authentik\""));
    update(&mut s, key('w'));
    assert!(s.layers.logs().unwrap().wrap);

    // A stale merged tail's lines never land in a newer view.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('L'));
    assert_ne!(s.last_tail, tail);
    s.dirty = false;
    update(
        &mut s,
        Event::MergedLog {
            tail,
            event: merged(&batch),
        },
    );
    assert!(!s.dirty, "nothing of the old tail shows");
    assert!(s.layers.logs().unwrap().lines.is_empty());
}

#[test]
fn big_l_on_a_service_that_depends_on_nothing_opens_its_own_logs() {
    let mut s = healthy(color());
    select(&mut s, "postgresql");
    let cmds = update(&mut s, key('L'));
    assert!(
        matches!(&cmds[..], [Command::OpenLogs { service, .. }] if service == "postgresql"),
        "{cmds:?}"
    );
    assert!(!s.layers.logs().unwrap().tagged());
}

#[test]
fn the_command_line_merges_the_logs_it_names() {
    let mut s = healthy(color());
    command_line(&mut s, "logs grafana loki");
    let cmds = update(&mut s, code(KeyCode::Enter));
    let tail = s.last_tail;
    assert_eq!(
        cmds,
        vec![Command::OpenMergedLogs {
            tail,
            sources: vec![source(&s, "grafana"), source(&s, "loki")]
        }]
    );
    assert_eq!(s.tree.selected_service(), Some("grafana"));
    assert!(matches!(s.layers.top(), Some(Layer::Logs(_))));
    // One name: the single view, as before.
    update(&mut s, code(KeyCode::Esc));
    command_line(&mut s, "logs loki");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert!(
        matches!(&cmds[..], [Command::OpenLogs { service, .. }] if service == "loki"),
        "{cmds:?}"
    );
}

// ---------- the truth at a glance (issue 12) ----------

/// Selects `service` in the tree (its first row).
fn select(s: &mut State, service: &str) {
    update(s, key('g'));
    for _ in 0..60 {
        if s.tree.selected_service() == Some(service) {
            return;
        }
        update(s, key('j'));
    }
    panic!("{service} not in the tree");
}

#[test]
fn the_first_failed_probe_shows_failing_with_impact_marks() {
    let mut s = healthy(color());
    // The scheduler says nothing until Down; the probe result is the news.
    update(&mut s, Event::Health(probe("grafana", false, 99, 5)));
    // Health events take the wall clock; the picture is drawn at a fixed one.
    s.now = at(101);
    let row = &s.model.health.rows["grafana"];
    assert_eq!(row.state, ServiceState::Failing);
    assert_eq!(row.state_text(), "failing 1/3");
    assert!(row
        .reason
        .as_deref()
        .unwrap()
        .contains("liveness probe failed (exit 7)"));
    assert!(s.model.health.impacted(&s.model.graph).contains("homepage"));
    select(&mut s, "grafana");
    let text = screen(&s, 80, 24);
    assert!(text.contains("▼ failing 1/3"), "{text}");
    assert!(text.contains("1 failing"), "the bar counts it: {text}");
    let t = render(&s, 80, 24);
    assert_eq!(glyph_color(&t, "grafana", "▼"), Color::LightRed);
    // A second failure counts on; the start of the trouble stays.
    let since = s.model.health.rows["grafana"].since;
    update(&mut s, Event::Health(probe("grafana", false, 100, 5)));
    assert_eq!(s.model.health.rows["grafana"].state_text(), "failing 2/3");
    assert_eq!(s.model.health.rows["grafana"].since, since);
    s.now = at(101);
    insta::assert_snapshot!("failing_80x24", screen(&s, 80, 24));
    // The third is the scheduler's Down; a pass after one failure is Up
    // again, as it was.
    update(&mut s, Event::Health(probe("grafana", false, 101, 5)));
    set(
        &mut s,
        "grafana",
        ServiceState::Down,
        Some("liveness probe failed"),
    );
    assert_eq!(s.model.health.rows["grafana"].state, ServiceState::Down);
    update(&mut s, Event::Health(probe("caddy", false, 101, 5)));
    assert_eq!(s.model.health.rows["caddy"].state, ServiceState::Failing);
    update(&mut s, Event::Health(probe("caddy", true, 102, 5)));
    assert_eq!(s.model.health.rows["caddy"].state, ServiceState::Up);
    assert_eq!(s.model.health.rows["caddy"].since, Some(at(40)));
    // At start: a first failure (the scheduler says Starting) is Failing.
    let mut s = state(color());
    update(&mut s, Event::Health(probe("dns", false, 1, 5)));
    set(
        &mut s,
        "dns",
        ServiceState::Starting,
        Some("startup probe failed"),
    );
    assert_eq!(s.model.health.rows["dns"].state, ServiceState::Failing);
}

#[test]
fn verdicts_and_reasons_come_from_the_typed_outcomes() {
    let mut s = healthy(color());
    let ev = |secs, kind| op(7, secs, kind);
    update(
        &mut s,
        ev(
            80,
            OpEventKind::Started {
                title: "deploy prometheus".into(),
            },
        ),
    );
    update(
        &mut s,
        ev(
            81,
            OpEventKind::HostDone {
                service: "prometheus".into(),
                outcome: Outcome::RolledBack {
                    reason: "liveness probe failed 3/3 (exit 22): 500".into(),
                    to_generation: Some(1),
                    healthy_again: true,
                    health_error: None,
                },
            },
        ),
    );
    update(
        &mut s,
        ev(
            82,
            OpEventKind::HostDone {
                service: "grafana".into(),
                outcome: Outcome::Failed {
                    step: Step::Lock,
                    reason: "192.168.99.22 has a STALE lock from alice (deploy since 10:00)".into(),
                    output: vec![],
                },
            },
        ),
    );
    update(
        &mut s,
        ev(
            83,
            OpEventKind::Finished {
                ok: false,
                summary: "0 deployed, 1 rolled back, 1 failed, 0 skipped".into(),
            },
        ),
    );
    let op = s.model.operation(7).unwrap();
    assert_eq!(
        op.verdict().as_deref(),
        Some("1 failed, 1 rolled back (healthy)")
    );
    assert!(op
        .output
        .iter()
        .any(|l| l == "== grafana: failed at lock: 192.168.99.22 has a STALE lock from alice (deploy since 10:00)"));
    assert!(op.output.iter().any(|l| l
        .starts_with("== prometheus: rolled back to g1 (healthy) because liveness probe failed")));
    assert_eq!(
        s.message.as_deref(),
        Some("FAILED: 1 failed, 1 rolled back (healthy)")
    );
    // The lock is shown with its holder and can be broken after a question.
    select(&mut s, "grafana");
    let text = screen(&s, 160, 48);
    assert!(text.contains("STALE lock from alice"), "{text}");
    assert!(text.contains("failed at lock"), "details say why: {text}");
    update(&mut s, key('B'));
    assert!(matches!(
        s.layers.top(),
        Some(Layer::ConfirmBreakLock { .. })
    ));
    insta::assert_snapshot!("break_lock_80x24", screen(&s, 80, 24));
    let cmds = update(&mut s, key('y'));
    assert!(
        matches!(&cmds[..], [Command::BreakLock { service, .. }] if service == "grafana"),
        "{cmds:?}"
    );
    update(
        &mut s,
        Event::LockBroken {
            service: "grafana".into(),
            result: Ok(Some("alice (deploy since 10:00)".into())),
        },
    );
    assert!(!s.model.locks.contains_key("grafana"));
    update(&mut s, key('B'));
    assert_eq!(s.layers.top(), None, "no lock left to break");
}

#[test]
fn a_cancelled_deploy_says_after_which_step() {
    let mut s = healthy(color());
    update(
        &mut s,
        op(
            8,
            80,
            OpEventKind::Started {
                title: "deploy caddy".into(),
            },
        ),
    );
    update(
        &mut s,
        op(
            8,
            81,
            OpEventKind::HostDone {
                service: "caddy".into(),
                outcome: Outcome::Cancelled {
                    after: Some(Step::Build),
                },
            },
        ),
    );
    update(
        &mut s,
        op(
            8,
            82,
            OpEventKind::Finished {
                ok: false,
                summary: "cancelled".into(),
            },
        ),
    );
    assert_eq!(s.message.as_deref(), Some("stopped: cancelled after build"));
}

#[test]
fn the_deploy_plan_scrolls_and_its_question_stays_visible() {
    let mut s = healthy(color());
    select(&mut s, "caddy");
    update(&mut s, key('D'));
    let Some(Layer::ConfirmDeploy { dialog, .. }) = s.layers.top().cloned() else {
        panic!("no plan");
    };
    let plan = &dialog.plan;
    let mut seen = screen(&s, 80, 24);
    assert!(seen.contains("f deploy all 12 now, n cancel"), "{seen}");
    for _ in 0..30 {
        update(&mut s, key('j'));
        let page = screen(&s, 80, 24);
        assert!(page.contains("f deploy all 12 now, n cancel"), "{page}");
        seen.push_str(&page);
    }
    for (i, wave) in plan.waves.iter().enumerate() {
        assert!(
            seen.contains(&format!("wave {} (", i + 1)),
            "wave {}",
            i + 1
        );
        for host in wave {
            assert!(seen.contains(&format!("  {host} ")), "{host}");
        }
    }
    insta::assert_snapshot!("deploy_plan_scrolled_80x24", screen(&s, 80, 24));
    update(&mut s, key('g'));
    assert!(screen(&s, 80, 24).contains("Deploy caddy"));
}

#[test]
fn help_scrolls_to_its_end_at_80x24() {
    let mut s = healthy(color());
    update(&mut s, key('?'));
    assert!(!screen(&s, 80, 24).contains("close help"));
    update(&mut s, key('G'));
    let end = screen(&s, 80, 24);
    assert!(end.contains("close help"), "{end}");
    insta::assert_snapshot!("help_end_80x24", end);
    update(&mut s, key('k'));
    assert!(
        matches!(s.layers.top(), Some(Layer::Help { scroll }) if *scroll < usize::MAX),
        "k from the end moves up at once"
    );
}

#[test]
fn small_screens_say_what_they_hide_and_keep_help_in_the_bar() {
    let mut s = healthy(color());
    s.size = (60, 15);
    let text = screen(&s, 60, 15);
    assert!(text.contains("details hidden"), "{text}");
    assert!(text.contains("? help"), "{text}");
    insta::assert_snapshot!("main_60x15", text);
    update(&mut s, key('?'));
    insta::assert_snapshot!("help_60x15", screen(&s, 60, 15));
}

#[test]
fn an_edited_manifest_replaces_the_model_and_a_broken_one_keeps_it() {
    let mut s = healthy(color());
    let mut m = (*s.model.manifest).clone();
    m.services.remove("wikijs");
    let cmds = update(&mut s, Event::Manifest(Ok(Arc::new(m))));
    assert!(cmds.contains(&Command::ReopenFleet), "{cmds:?}");
    assert!(!s.model.services.contains(&"wikijs".to_string()));
    assert!(!s.model.health.rows.contains_key("wikijs"));
    assert_eq!(
        s.model.health.rows["vaultwarden"].state,
        ServiceState::Down,
        "what is known about kept services stays"
    );
    let before = s.model.services.clone();
    let cmds = update(
        &mut s,
        Event::Manifest(Err("services.x.ip: not an address".into())),
    );
    assert!(cmds.is_empty());
    assert_eq!(s.model.services, before, "the last valid model is kept");
    assert!(s.message.as_deref().unwrap().contains("not valid"));
}

#[test]
fn logs_hide_the_prefix_count_matches_and_follow_wrapped_lines() {
    let mut s = wizard_at_grafana();
    update(&mut s, key('l'));
    let tail = s.layers.logs().unwrap().tail;
    let mut lines: Vec<String> = (0..30)
        .map(|i| format!("2026-11-25T19:{i:02}:00+0000 grafana grafana[42]: Request {i} ok"))
        .collect();
    lines.push(format!(
        "2026-11-25T19:31:00+0000 grafana grafana[42]: {} NEWEST",
        "x".repeat(150)
    ));
    update(
        &mut s,
        Event::Log {
            tail,
            event: LogEvent::Lines(lines),
        },
    );
    // Wrap on while following: the newest line is whole on screen.
    update(&mut s, key('w'));
    assert!(screen(&s, 80, 24).contains("NEWEST"));
    // p hides the time and host prefix.
    update(&mut s, key('p'));
    let text = screen(&s, 80, 24);
    assert!(text.contains("│Request 29 ok"), "{text}");
    assert!(!text.contains("2026-11-25T19:29"), "{text}");
    // Smart case: lower case finds any case; the counter says how many.
    update(&mut s, key('/'));
    for c in "request 2".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    let text = screen(&s, 80, 24);
    assert!(text.contains("/11 match(es) for \"request 2\""), "{text}");
    insta::assert_snapshot!("logs_bare_search_80x24", text);
}

#[test]
fn s_asks_for_a_shell_on_the_selected_services_host() {
    let mut s = wizard_at_grafana();
    let cmds = update(&mut s, key('s'));
    assert_eq!(
        cmds,
        vec![Command::Shell {
            service: "grafana".into(),
            host: "192.168.99.23".into(),
        }]
    );
    assert_eq!(s.layers.top(), None, "the console stays as it was");
    assert!(Keymap::Main.hints().any(|b| b.label == "s"));
}

/// An audit log of `n` deploys of grafana (op 1..n; op 2 also postgresql),
/// the last one interrupted, read as `Fleet::history` reads it.
fn audit_history(n: u64) -> Vec<nixmox::backend::history::OpRecord> {
    let mut lines = Vec::new();
    let entry = |op: u64, svc: &str, step: &str, outcome: &str, extra: &str| {
        format!(
            r#"{{"ts":"2026-11-30T10:{op:02}:00.000+00:00","user":"alice","op":{op},"action":"deploy","service":"{svc}","host":"192.168.99.23","step":"{step}","outcome":"{outcome}"{extra}}}"#
        )
    };
    for op in 1..=n {
        let mut svcs = vec!["grafana"];
        if op == 2 {
            svcs.push("postgresql");
        }
        for svc in svcs {
            lines.push(entry(op, svc, "lock", "acquired", ""));
            lines.push(entry(op, svc, "build", "ok", ""));
            lines.push(entry(op, svc, "activate", "started", ""));
            if op == n {
                lines.push(entry(
                    op,
                    svc,
                    "done",
                    "interrupted",
                    r#","detail":"the console died mid-activate""#,
                ));
                continue;
            }
            lines.push(entry(op, svc, "activate", "ok", ""));
            lines.push(entry(op, svc, "health", "ok", ""));
            lines.push(entry(
                op,
                svc,
                "done",
                "deployed",
                &format!(
                    r#","generation_before":"{op}","generation_after":"{}""#,
                    op + 1
                ),
            ));
            lines.push(entry(op, svc, "lock", "released", ""));
        }
    }
    // Tests run in parallel: each log a file of its own.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "nmx-console-audit-{}-{nth}.jsonl",
        std::process::id()
    ));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let ops = nixmox::backend::history::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    ops
}

/// The history of grafana, open and loaded (12 operations).
fn history_of_grafana() -> State {
    let mut s = wizard_at_grafana();
    let cmds = update(&mut s, key('h'));
    assert_eq!(
        cmds,
        vec![Command::LoadHistory {
            service: Some("grafana".into())
        }]
    );
    update(
        &mut s,
        Event::OpHistory {
            service: Some("grafana".into()),
            result: Ok(audit_history(12)),
        },
    );
    s
}

#[test]
fn history_lists_operations_newest_first_and_opens_their_steps() {
    let mut s = wizard_at_grafana();
    update(&mut s, key('h'));
    assert!(screen(&s, 80, 24).contains("reading the audit log"));
    let mut s = history_of_grafana();
    let Some(Layer::History(view)) = s.layers.top() else {
        panic!("no history: {:?}", s.layers.top());
    };
    assert_eq!(view.records()[0].op, 12, "newest first");
    let text = screen(&s, 80, 24);
    assert!(text.contains("history: grafana"), "{text}");
    assert!(text.contains("INTERRUPTED"), "{text}");
    assert!(text.contains("by alice (op 12)"), "{text}");
    assert!(text.contains("gen 11→12"), "{text}");
    assert!(text.contains("↓ j/k"), "a longer list says so:\n{text}");
    snap("history", &s);

    // Down to op 2: its two host rows come into view with it.
    for _ in 0..10 {
        update(&mut s, key('j'));
    }
    let text = screen(&s, 80, 24);
    assert!(
        text.contains("▸ 2026-11-30 10:02:00  deploy grafana, postgresql"),
        "{text}"
    );
    assert!(text.contains("postgresql   deployed  gen 2→3"), "{text}");
    insta::assert_snapshot!("history_scrolled_80x24", text);
    update(&mut s, key('G'));
    assert!(screen(&s, 80, 24).contains("▸ 2026-11-30 10:01:00"));

    // Enter: op 1's steps, per host part; esc back to the list.
    update(&mut s, code(KeyCode::Enter));
    let Some(Layer::Steps { record, .. }) = s.layers.top() else {
        panic!("no steps: {:?}", s.layers.top());
    };
    assert_eq!(record.op, 1);
    let text = screen(&s, 80, 24);
    for want in [
        "op 1: steps",
        "grafana (192.168.99.23)",
        "activate   ok",
        "→ deployed  gen 1→2",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    insta::assert_snapshot!("history_steps_80x24", text);
    update(&mut s, code(KeyCode::Esc));
    assert!(matches!(s.layers.top(), Some(Layer::History(_))));

    // The interrupted one says where it stopped and why.
    update(&mut s, key('g'));
    update(&mut s, code(KeyCode::Enter));
    let text = screen(&s, 80, 24);
    assert!(text.contains("→ interrupted"), "{text}");
    assert!(text.contains("the console died mid-activate"), "{text}");
    update(&mut s, code(KeyCode::Esc));

    // H: every service's operations; a late answer for grafana alone is
    // not shown as everyone's.
    let cmds = update(&mut s, key('H'));
    assert_eq!(cmds, vec![Command::LoadHistory { service: None }]);
    update(
        &mut s,
        Event::OpHistory {
            service: Some("grafana".into()),
            result: Ok(audit_history(3)),
        },
    );
    assert!(screen(&s, 80, 24).contains("reading the audit log"));
    update(
        &mut s,
        Event::OpHistory {
            service: None,
            result: Err("/var/log/nixmox/audit.jsonl: permission denied".into()),
        },
    );
    let text = screen(&s, 80, 24);
    assert!(text.contains("history: all services"), "{text}");
    assert!(text.contains("cannot read the audit log"), "{text}");
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.layers.top(), None);
    // From the main screen, H opens everyone's at once.
    assert_eq!(
        update(&mut s, key('H')),
        vec![Command::LoadHistory { service: None }]
    );
}

/// Grafana's generations 1..=4, 4 current and running, 3 dangling.
fn gens_with_dangling() -> Vec<Generation> {
    let mut g = gens(4, 4);
    g[2].present = false;
    g
}

#[test]
fn the_wizard_shows_what_runs_and_never_offers_a_dangling_generation() {
    let mut s = wizard_at_grafana();
    update(&mut s, key('r'));
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens_with_dangling()),
        },
    );
    let Some(Layer::Rollback { wizard, .. }) = s.layers.top() else {
        panic!("no wizard: {:?}", s.layers.top());
    };
    let WizardStep::Choose { gens, selected } = &wizard.step else {
        panic!("{:?}", wizard.step);
    };
    assert_eq!(
        gens[*selected].generation, 2,
        "3 is dangling: 2 is preselected"
    );
    let text = screen(&s, 160, 48);
    assert!(text.contains("current running"), "{text}");
    assert!(text.contains("dangling (store path gone)"), "{text}");
    insta::assert_snapshot!("wizard_dangling_160x48", text);

    // Choosing the dangling one is refused, with the reason.
    update(&mut s, key('j'));
    update(&mut s, code(KeyCode::Enter));
    let Some(Layer::Rollback { wizard, .. }) = s.layers.top() else {
        panic!("no wizard");
    };
    assert!(matches!(
        wizard.step,
        WizardStep::Choose { selected: 2, .. }
    ));
    let msg = s.message.clone().unwrap_or_default();
    assert!(msg.contains("generation 3 is dangling"), "{msg}");
}

#[test]
fn a_rollback_refused_because_the_host_changed_goes_back_to_the_choice() {
    let mut s = wizard_at_grafana();
    update(&mut s, key('r'));
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(3, 3)),
        },
    );
    update(&mut s, code(KeyCode::Enter));
    let cmds = update(&mut s, key('y'));
    let Some(Command::Rollback { op: id, .. }) = cmds.first().cloned() else {
        panic!("no rollback: {cmds:?}");
    };
    update(
        &mut s,
        op(
            id,
            100,
            OpEventKind::Started {
                title: "rollback grafana".into(),
            },
        ),
    );
    // Someone deployed meanwhile: the host runs generation 4 now.
    let cmds = update(
        &mut s,
        op(
            id,
            101,
            OpEventKind::HostDone {
                service: "grafana".into(),
                outcome: Outcome::Failed {
                    step: Step::Plan,
                    reason: "grafana now runs generation 4, not 3".into(),
                    output: Vec::new(),
                },
            },
        ),
    );
    assert_eq!(
        cmds,
        vec![Command::ListGenerations {
            service: "grafana".into()
        }]
    );
    let text = screen(&s, 80, 24);
    assert!(text.contains("host changed since the plan"), "{text}");
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(4, 4)),
        },
    );
    let Some(Layer::Rollback { wizard, .. }) = s.layers.top() else {
        panic!("no wizard: {:?}", s.layers.top());
    };
    let WizardStep::Choose { gens, selected } = &wizard.step else {
        panic!("{:?}", wizard.step);
    };
    assert_eq!(gens.len(), 4, "the fresh list");
    assert_eq!(gens[*selected].generation, 3);
    let text = screen(&s, 160, 48);
    assert!(text.contains("now runs generation 4, not 3"), "{text}");
    insta::assert_snapshot!("wizard_replan_160x48", text);

    // Another operation's plan refusal does not touch the wizard.
    update(&mut s, code(KeyCode::Enter));
    let cmds = update(
        &mut s,
        op(
            id + 50,
            102,
            OpEventKind::HostDone {
                service: "grafana".into(),
                outcome: Outcome::Failed {
                    step: Step::Plan,
                    reason: "x".into(),
                    output: Vec::new(),
                },
            },
        ),
    );
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(matches!(
        s.layers.top(),
        Some(Layer::Rollback {
            wizard: w,
            ..
        }) if matches!(w.step, WizardStep::Confirm { .. })
    ));
}

/// Types `line` on the command line (opened with `:`), without enter.
fn command_line(s: &mut State, line: &str) {
    update(s, key(':'));
    for c in line.chars() {
        update(s, key(c));
    }
}

#[test]
fn the_command_line_opens_what_the_keys_open_on_the_named_service() {
    // Tab completes the verb and the name; enter opens the deploy plan.
    let mut s = healthy(color());
    command_line(&mut s, "dep");
    update(&mut s, code(KeyCode::Tab));
    for c in "graf".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Tab));
    assert_eq!(
        s.layers.top(),
        Some(&Layer::CommandLine {
            text: "deploy grafana ".into()
        })
    );
    let text = screen(&s, 80, 24);
    assert!(text.contains(":deploy grafana"), "{text}");
    insta::assert_snapshot!("command_line_80x24", text);
    update(&mut s, code(KeyCode::Enter));
    let Some(Layer::ConfirmDeploy { dialog, .. }) = s.layers.top() else {
        panic!("no plan: {:?}", s.layers.top());
    };
    assert_eq!(dialog.plan.services, vec!["grafana".to_string()]);
    assert_eq!(s.layers.above().len(), 1, "the command line is gone");
    assert_eq!(s.tree.selected_service(), Some("grafana"));

    // A name the filter hides: the filter goes, the logs open.
    let mut s = healthy(color());
    update(&mut s, key('/'));
    update(&mut s, key('x'));
    update(&mut s, code(KeyCode::Enter));
    command_line(&mut s, "logs grafana");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert!(
        matches!(&cmds[..], [Command::OpenLogs { service, .. }] if service == "grafana"),
        "{cmds:?}"
    );
    assert!(matches!(s.layers.top(), Some(Layer::Logs(_))));
    assert_eq!(s.tree.filter, "");

    // ssh asks for the shell; history for one service or all.
    let mut s = healthy(color());
    command_line(&mut s, "ssh grafana");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::Shell {
            service: "grafana".into(),
            host: "192.168.99.23".into()
        }]
    );
    assert_eq!(s.layers.top(), None);
    command_line(&mut s, "history");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(cmds, vec![Command::LoadHistory { service: None }]);
    update(&mut s, code(KeyCode::Esc));
    command_line(&mut s, "history grafana");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::LoadHistory {
            service: Some("grafana".into())
        }]
    );
    update(&mut s, code(KeyCode::Esc));

    // A wrong line says why and stays to be fixed; esc abandons it.
    command_line(&mut s, "deploy nope");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert!(cmds.is_empty());
    assert!(matches!(s.layers.top(), Some(Layer::CommandLine { .. })));
    let msg = s.message.clone().unwrap_or_default();
    assert!(msg.contains("no service named \"nope\""), "{msg}");
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.layers.top(), None);
}

#[test]
fn rollback_by_name_and_generation_goes_to_its_confirmation() {
    let mut s = healthy(color());
    command_line(&mut s, "rollback grafana 2");
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::ListGenerations {
            service: "grafana".into()
        }]
    );
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(3, 3)),
        },
    );
    let Some(Layer::Rollback { wizard, .. }) = s.layers.top() else {
        panic!("no wizard: {:?}", s.layers.top());
    };
    assert!(
        matches!(wizard.step, WizardStep::Confirm { from: 3, to: 2, .. }),
        "{:?}",
        wizard.step
    );

    // The current generation cannot be the target: the list, saying why.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, code(KeyCode::Esc));
    command_line(&mut s, "rollback grafana 3");
    update(&mut s, code(KeyCode::Enter));
    update(
        &mut s,
        Event::Generations {
            service: "grafana".into(),
            result: Ok(gens(3, 3)),
        },
    );
    let Some(Layer::Rollback { wizard, .. }) = s.layers.top() else {
        panic!("no wizard: {:?}", s.layers.top());
    };
    assert!(matches!(
        wizard.step,
        WizardStep::Choose { selected: 1, .. }
    ));
    assert!(
        screen(&s, 160, 48).contains("generation 3 is already the current one"),
        "{}",
        screen(&s, 160, 48)
    );
}

#[test]
fn the_fault_menu_works_inside_a_lab_only_and_reports_what_the_lab_said() {
    let mut s = wizard_at_grafana();
    assert!(update(&mut s, key('F')).is_empty());
    assert_eq!(s.layers.top(), None);
    let msg = s.message.clone().unwrap_or_default();
    assert!(msg.contains("inside a lab"), "{msg}");

    s.lab = true;
    update(&mut s, key('F'));
    assert!(matches!(s.layers.top(), Some(Layer::FaultMenu { .. })));
    let text = screen(&s, 80, 24);
    assert!(text.contains("lab fault: grafana"), "{text}");
    insta::assert_snapshot!("fault_menu_80x24", text);
    update(&mut s, key('j'));
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::Fault {
            kind: "partition".into(),
            target: "grafana".into()
        }]
    );
    assert_eq!(s.layers.top(), None);
    let cmds = update(
        &mut s,
        Event::FaultDone {
            what: "partition grafana".into(),
            result: Ok(String::new()),
        },
    );
    assert_eq!(cmds, vec![Command::Reprobe(None)]);
    assert_eq!(s.message.as_deref(), Some("lab: partition grafana"));
    update(
        &mut s,
        Event::FaultDone {
            what: "heal grafana".into(),
            result: Err("exit status: 1: no such host".into()),
        },
    );
    assert_eq!(
        s.message.as_deref(),
        Some("lab: heal grafana failed: exit status: 1: no such host")
    );
}

#[test]
fn drift_marks_outdated_hosts_and_u_deploys_exactly_them() {
    let mut s = healthy(color());
    // Before the first look, u says so and opens nothing.
    assert_eq!(update(&mut s, key('u')), vec![]);
    assert!(s
        .message
        .as_deref()
        .unwrap_or("")
        .contains("still comparing"));
    let mut found: std::collections::BTreeMap<String, Change> = s
        .model
        .services
        .iter()
        .map(|n| (n.clone(), unchanged()))
        .collect();
    found.insert("grafana".into(), changed());
    found.insert(
        "dns".into(),
        Change::Unknown {
            why: "cannot connect to 192.168.99.13".into(),
        },
    );
    update(&mut s, Event::Drift(found));
    select(&mut s, "grafana");
    let text = screen(&s, 80, 24);
    let row = text
        .lines()
        .find(|l| l.contains("● grafana "))
        .unwrap_or_default()
        .to_string();
    assert!(row.contains('≠'), "the tree marks it: {row}\n{text}");
    assert!(text.contains("≠ 1 outdated"), "the bar counts it:\n{text}");
    assert!(
        text.contains("outdated: manifest changed"),
        "details say it:\n{text}"
    );
    insta::assert_snapshot!("drift_80x24", text);
    // u: the deploy dialog for exactly the outdated host, alone.
    let cmds = update(&mut s, key('u'));
    assert!(
        matches!(&cmds[..], [Command::PreviewDeploy { services, with_dependents: false, .. }] if services == &["grafana".to_string()]),
        "{cmds:?}"
    );
    let Some(Layer::ConfirmDeploy { dialog, .. }) = s.layers.top() else {
        panic!("no dialog");
    };
    assert_eq!(dialog.plan.waves, vec![vec!["grafana".to_string()]]);
    // Nothing outdated any more: u says so.
    update(&mut s, key('n'));
    let same: std::collections::BTreeMap<String, Change> = s
        .model
        .services
        .iter()
        .map(|n| (n.clone(), unchanged()))
        .collect();
    update(&mut s, Event::Drift(same));
    assert!(!screen(&s, 80, 24).contains('≠'));
    assert_eq!(update(&mut s, key('u')), vec![]);
    assert!(s
        .message
        .as_deref()
        .unwrap_or("")
        .contains("no host is outdated"));

    // Turned off in the config: u says where.
    s.model.drift_off = true;
    s.model.drift.clear();
    assert_eq!(update(&mut s, key('u')), vec![]);
    let said = s.message.clone().unwrap_or_default();
    assert!(said.contains("[console] drift = false"), "{said}");
}
