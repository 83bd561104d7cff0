//! The history popup's keys: move through the operations (the list keeps
//! the selected one in view), open one's steps, switch between the
//! selected service's operations and everyone's.

use super::super::event::Command;
use super::super::keymap::Action;
use super::super::layers::{Layer, Reply};
use super::super::panes::history::HistoryView;
use super::super::state::State;
use super::scroll::popup_inner;

/// Opens the history of `service` (`None`: every operation) and asks for it.
pub(super) fn open(service: Option<String>, out: &mut Vec<Command>) -> Reply {
    out.push(Command::LoadHistory {
        service: service.clone(),
    });
    Reply::Push(Layer::History(HistoryView::new(service)))
}

pub(super) fn on_key(
    state: &mut State,
    view: &mut HistoryView,
    action: Action,
    out: &mut Vec<Command>,
) -> Reply {
    let visible = popup_inner(state.size, (90, 85)).1;
    let page = visible.saturating_sub(1).max(1);
    let n = view.records().len();
    let at = view.selected;
    match action {
        Action::Down => view.select(at + 1, visible),
        Action::Up => view.select(at.saturating_sub(1), visible),
        Action::PageDown => view.select(at + page_ops(view, page), visible),
        Action::PageUp => view.select(at.saturating_sub(page_ops(view, page)), visible),
        Action::Top => view.select(0, visible),
        Action::Bottom => view.select(n.saturating_sub(1), visible),
        Action::Toggle => {
            if let Some(record) = view.selected_record() {
                return Reply::Push(Layer::Steps {
                    record: Box::new(record.clone()),
                    scroll: 0,
                });
            }
        }
        Action::HistoryAll => {
            let service = match &view.service {
                Some(_) => None,
                None => state.tree.selected_service().map(str::to_string),
            };
            out.push(Command::LoadHistory {
                service: service.clone(),
            });
            *view = HistoryView::new(service);
        }
        Action::Back => return Reply::Close,
        _ => {}
    }
    Reply::Consumed
}

/// How many operations make about a page of rows (each is a header and
/// its host rows).
fn page_ops(view: &HistoryView, page: usize) -> usize {
    let ops = view.records();
    let rows: usize = ops.iter().map(|o| 1 + o.hosts.len()).sum();
    (page * ops.len() / rows.max(1)).max(1)
}
