//! The logs screen's keys: follow/pause, scroll, wrap, search; and how
//! the screen opens, on one journal or several merged.

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{Layer, Reply};
use super::super::panes::logs::{LogView, Source, DEFAULT_CAP};
use super::super::state::State;
use crate::backend::logs::LogSource;

/// Opens the logs screen on the services `names` (the first is the one
/// asked for; unknown names and repeats are left out): one service's
/// journal, or several merged by time.
pub(super) fn open(state: &mut State, names: Vec<String>, out: &mut Vec<Command>) -> Reply {
    let mut sources: Vec<LogSource> = Vec::new();
    for name in names {
        let Some(svc) = state.model.manifest.services.get(&name) else {
            continue;
        };
        if sources.iter().all(|s| s.service != svc.name) {
            sources.push(LogSource {
                service: svc.name.clone(),
                host: svc.ip.to_string(),
                unit: svc.log_unit().to_string(),
            });
        }
    }
    if sources.is_empty() {
        return Reply::Consumed;
    }
    let tail = state.next_tail();
    let shown: Vec<Source> = sources
        .iter()
        .map(|s| Source {
            service: s.service.clone(),
            unit: s.unit.clone(),
        })
        .collect();
    let view = LogView::merged(tail, shown, DEFAULT_CAP);
    match <[LogSource; 1]>::try_from(sources) {
        Ok([one]) => out.push(Command::OpenLogs {
            tail,
            service: one.service,
            host: one.host,
            unit: one.unit,
        }),
        Err(sources) => out.push(Command::OpenMergedLogs { tail, sources }),
    }
    Reply::Push(Layer::Logs(view))
}

pub(super) fn on_key(
    state: &mut State,
    view: &mut LogView,
    action: Action,
    out: &mut Vec<Command>,
) -> Reply {
    let height = state.log_height();
    match action {
        Action::LogFollow => {
            view.follow = !view.follow;
            if !view.follow {
                view.top = view.lines.len().saturating_sub(height);
            }
        }
        Action::LogWrap => view.wrap = !view.wrap,
        Action::LogPrefix => view.bare = !view.bare,
        Action::LogSearch => {
            view.search.clear();
            view.current = None;
            return Reply::Push(Layer::LogSearch);
        }
        Action::LogNext | Action::LogPrev if !view.find(action == Action::LogNext, height) => {
            state.message = Some(format!("no match for {:?}", view.search));
        }
        Action::Down => view.scroll(1, height),
        Action::PageDown => view.scroll(height.saturating_sub(1).max(1) as isize, height),
        Action::PageUp => view.scroll(-(height.saturating_sub(1).max(1) as isize), height),
        Action::Up => view.scroll(-1, height),
        Action::Top => {
            view.follow = false;
            view.top = 0;
        }
        Action::Bottom => view.follow = true,
        Action::Back => {
            out.push(Command::CloseLogs);
            return Reply::Close;
        }
        _ => {}
    }
    Reply::Consumed
}
