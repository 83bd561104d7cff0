//! The logs screen's keys: follow/pause, scroll, wrap, search.

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{Layer, Reply};
use super::super::panes::logs::LogView;
use super::super::state::State;

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
