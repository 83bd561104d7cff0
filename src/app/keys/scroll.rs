//! Scrolling the popups that show text (help, dialogs, an operation's
//! output): j/k, PgUp/PgDn, g/G. The end is computed from the same
//! geometry the views draw with; `BOTTOM` means "the last page" and is
//! where scrolling up starts from.

use super::super::keymap::{Action, HelpLayout};
use super::super::layers::{Layer, BOTTOM};
use super::super::panes::activity::wrap_rows;
use super::super::state::State;

/// The inner size (columns, rows) of a popup taking `percent` of the screen
/// above the status bar, as `views` places it (at least 40×8 where it fits,
/// minus its border).
pub fn popup_inner(size: (u16, u16), percent: (u16, u16)) -> (usize, usize) {
    let (w, h) = (size.0, size.1.saturating_sub(1));
    let pw = (w * percent.0 / 100).max(40).min(w);
    let ph = (h * percent.1 / 100).max(8).min(h);
    (
        usize::from(pw.saturating_sub(2)),
        usize::from(ph.saturating_sub(2)),
    )
}

/// The break-lock dialog's text, as rows cut at `width`: what it asks
/// about, the refusal that showed the lock, and what breaking does.
pub fn break_lock_text(service: &str, reason: &str, width: usize) -> Vec<String> {
    let mut rows = wrap_rows(
        &format!("Break the deploy lock of {service}'s host?"),
        width,
    );
    rows.push(String::new());
    rows.extend(wrap_rows(reason, width));
    rows.push(String::new());
    rows.extend(wrap_rows(
        "Only a STALE nixmox lock is removed; a live one is refused, naming its holder.",
        width,
    ));
    rows
}

fn break_lock_rows(service: &str, reason: &str, width: usize) -> usize {
    break_lock_text(service, reason, width).len()
}

/// Rows of the quit dialog's text above its pinned question.
pub const QUIT_ROWS: usize = 3;

/// (rows of content, rows visible) of a text popup; `None` for the others.
fn extent(state: &State, layer: &Layer) -> Option<(usize, usize)> {
    let (w, h) = popup_inner(state.size, layer.popup_percent()?);
    match layer {
        Layer::Help { .. } => Some((HelpLayout::new(w, h, state.theme.ascii).rows, h)),
        Layer::ConfirmQuit { .. } => Some((QUIT_ROWS, h.saturating_sub(1))),
        Layer::ConfirmDeploy { dialog, .. } => Some((
            dialog
                .body(&state.model.manifest, w, state.theme.ascii)
                .len(),
            h.saturating_sub(dialog.pinned(w, state.theme.ascii).len()),
        )),
        Layer::ConfirmBreakLock {
            service, reason, ..
        } => Some((break_lock_rows(service, reason, w), h.saturating_sub(1))),
        Layer::Output { op, .. } => {
            let rows = state
                .model
                .operation(*op)
                .map_or(0, |o| o.output.iter().map(|l| wrap_rows(l, w).len()).sum());
            Some((rows, h))
        }
        Layer::Steps { record, .. } => {
            Some((super::super::panes::history::steps_rows(record).len(), h))
        }
        _ => None,
    }
}

/// The last first-row a popup can show (0 when everything fits).
pub fn max_scroll(state: &State, layer: &Layer) -> Option<usize> {
    extent(state, layer).map(|(rows, visible)| rows.saturating_sub(visible.max(1)))
}

/// Scrolls a text popup; false when `action` is not a scroll or the layer
/// does not scroll this way.
pub(super) fn scroll(state: &State, layer: &mut Layer, action: Action) -> bool {
    let Some((rows, visible)) = extent(state, layer) else {
        return false;
    };
    let max = rows.saturating_sub(visible.max(1));
    let page = visible.saturating_sub(1).max(1);
    let Some(at) = layer.scroll_mut() else {
        return false;
    };
    let now = (*at).min(max);
    *at = match action {
        Action::Down => now + 1,
        Action::Up => now.saturating_sub(1),
        Action::PageDown => now + page,
        Action::PageUp => now.saturating_sub(page),
        Action::Top => 0,
        Action::Bottom => BOTTOM,
        _ => return false,
    };
    if *at >= max {
        // At the end: stay there (the output keeps following new lines).
        *at = BOTTOM;
    }
    true
}
