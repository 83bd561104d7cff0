//! Drawing: pure functions of `State`. No IO, no state change. The main
//! screen, then each layer over it, bottom first; a full-screen layer (the
//! logs) hides what is under it, so drawing starts at the topmost one.

mod activity;
mod details;
mod dialog;
mod help;
mod history;
mod logs;
mod statusbar;
pub mod theme;
mod tree;
mod wizard;

use crate::app::layers::{Focus, Layer};
use crate::app::State;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

pub fn draw(state: &State, frame: &mut Frame) {
    let area = frame.area();
    let [main, bar] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let above = state.layers.above();
    let screen = above.iter().rposition(Layer::full_screen);
    if screen.is_none() {
        main_screen(state, frame, main);
    }
    for layer in &above[screen.unwrap_or(0)..] {
        draw_layer(state, layer, frame, main);
    }
    statusbar::draw(state, frame, bar);
}

fn draw_layer(state: &State, layer: &Layer, frame: &mut Frame, main: Rect) {
    let area = layer
        .popup_percent()
        .map_or(main, |(pw, ph)| centered(main, pw, ph));
    match layer {
        // Lines typed in the status bar.
        Layer::Filter | Layer::LogSearch | Layer::CommandLine { .. } => {}
        Layer::Help { scroll } => help::draw(state, frame, area, *scroll),
        Layer::ConfirmQuit { scroll } => dialog::draw_quit(state, frame, area, *scroll),
        Layer::ConfirmDeploy { dialog: d, scroll } => {
            dialog::draw_deploy(state, d, frame, area, *scroll)
        }
        Layer::ConfirmBreakLock {
            service,
            reason,
            scroll,
        } => dialog::draw_break_lock(state, service, reason, frame, area, *scroll),
        Layer::Logs(view) => logs::draw(state, view, frame, main),
        Layer::Rollback { wizard, scroll } => wizard::draw(state, wizard, frame, area, *scroll),
        Layer::Output { op, scroll } => activity::draw_output(state, *op, frame, area, *scroll),
        Layer::History(view) => history::draw(state, view, frame, area),
        Layer::FaultMenu { service, selected } => {
            dialog::draw_faults(state, service, *selected, frame, area)
        }
        Layer::Steps { record, scroll } => history::draw_steps(state, record, frame, area, *scroll),
    }
}

/// Tree, details and activity: side by side where there is room, else the
/// tree over the activity.
fn main_screen(state: &State, frame: &mut Frame, main: Rect) {
    let focus = state.layers.main.focus;
    let wide = main.width >= 70;
    if wide {
        let tree_w = (main.width * 45 / 100).clamp(34, 70);
        let [left, right] =
            Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(20)]).areas(main);
        tree::draw(state, frame, left, focus == Focus::Tree);
        let act_h = activity_height(state, right.height);
        let [details_area, act_area] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(act_h)]).areas(right);
        details::draw(state, frame, details_area);
        activity::draw(state, frame, act_area, focus == Focus::Activity);
    } else {
        let act_h = if state.model.operations.is_empty() {
            0
        } else {
            activity_height(state, main.height)
        };
        let [tree_area, note_area, act_area] = Layout::vertical([
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(act_h),
        ])
        .areas(main);
        tree::draw(state, frame, tree_area, focus == Focus::Tree);
        // Say what is missing rather than drop it silently.
        frame.render_widget(
            ratatui::widgets::Paragraph::new(ratatui::text::Line::styled(
                "details hidden: 70+ columns show them",
                theme::dim(state.theme),
            )),
            note_area,
        );
        if act_h > 0 {
            activity::draw(state, frame, act_area, focus == Focus::Activity);
        }
    }
}

fn activity_height(state: &State, avail: u16) -> u16 {
    let want = state.model.operations.len() as u16 + 2;
    want.clamp(4, (avail / 3).max(4))
}

/// A pop-up over the main screen: cleared, bordered, text wrapped, the
/// first `scroll` lines scrolled off.
fn popup(
    frame: &mut Frame,
    area: Rect,
    block: ratatui::widgets::Block<'_>,
    lines: Vec<ratatui::text::Line<'_>>,
    scroll: usize,
) {
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(
        ratatui::widgets::Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .scroll((offset(scroll), 0))
            .block(block),
        area,
    );
}

/// A block's bottom-right note on where a scrolled text is: the rows shown
/// of how many, and which way there is more (`None` when it all fits).
fn scroll_note(
    t: crate::app::state::Theme,
    first: usize,
    shown: usize,
    rows: usize,
) -> Option<String> {
    if rows <= shown {
        return None;
    }
    let (up, down) = if t.ascii { ("^", "v") } else { ("↑", "↓") };
    let last = (first + shown).min(rows);
    let more = match (first > 0, last < rows) {
        (true, true) => format!("{up}{down}"),
        (true, false) => up.to_string(),
        _ => down.to_string(),
    };
    Some(format!(" {}-{last}/{rows} {more} j/k ", first + 1))
}

/// A pop-up with `rows` of unwrapped text scrolled by `scroll` (clamped to
/// the last page), a position note in its border, and `pinned` lines
/// (the question) always visible at its bottom.
fn scrolled_popup(
    state: &State,
    frame: &mut Frame,
    area: Rect,
    block: ratatui::widgets::Block<'_>,
    lines: Vec<ratatui::text::Line<'_>>,
    pinned: Vec<ratatui::text::Line<'_>>,
    scroll: usize,
) {
    let inner = block.inner(area);
    let pin = u16::try_from(pinned.len())
        .unwrap_or(u16::MAX)
        .min(inner.height);
    let [text, question] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(pin)]).areas(inner);
    let shown = usize::from(text.height);
    let first = scroll.min(lines.len().saturating_sub(shown.max(1)));
    let block = match scroll_note(state.theme, first, shown, lines.len()) {
        Some(note) => block.title_bottom(
            ratatui::text::Line::styled(note, theme::dim(state.theme)).right_aligned(),
        ),
        None => block,
    };
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(block, area);
    frame.render_widget(
        ratatui::widgets::Paragraph::new(lines).scroll((offset(first), 0)),
        text,
    );
    frame.render_widget(ratatui::widgets::Paragraph::new(pinned), question);
}

/// A scroll offset as ratatui takes it (saturating: no text is that long).
fn offset(scroll: usize) -> u16 {
    u16::try_from(scroll).unwrap_or(u16::MAX)
}

/// A rectangle `pw`% by `ph`% of `r`, centred, at least 40×8 where it fits.
fn centered(r: Rect, pw: u16, ph: u16) -> Rect {
    let w = (r.width * pw / 100).max(40).min(r.width);
    let h = (r.height * ph / 100).max(8).min(r.height);
    Rect {
        x: r.x + (r.width - w) / 2,
        y: r.y + (r.height - h) / 2,
        width: w,
        height: h,
    }
}
