//! Drawing: pure functions of `State`. No IO, no state change.

mod activity;
mod details;
mod dialog;
mod help;
mod logs;
mod statusbar;
pub mod theme;
mod tree;
mod wizard;

use crate::app::state::{Focus, Mode};
use crate::app::State;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

pub fn draw(state: &State, frame: &mut Frame) {
    let area = frame.area();
    let [main, bar] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    if state.mode == Mode::Logs {
        logs::draw(state, frame, main);
        statusbar::draw(state, frame, bar);
        return;
    }
    let wide = main.width >= 70;
    if wide {
        let tree_w = (main.width * 45 / 100).clamp(34, 70);
        let [left, right] =
            Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(20)]).areas(main);
        tree::draw(state, frame, left, state.focus == Focus::Tree);
        let act_h = activity_height(state, right.height);
        let [details_area, act_area] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(act_h)]).areas(right);
        details::draw(state, frame, details_area);
        activity::draw(state, frame, act_area, state.focus == Focus::Activity);
    } else {
        let act_h = if state.activity.is_empty() {
            0
        } else {
            activity_height(state, main.height)
        };
        let [tree_area, act_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(act_h)]).areas(main);
        tree::draw(state, frame, tree_area, state.focus == Focus::Tree);
        if act_h > 0 {
            activity::draw(state, frame, act_area, state.focus == Focus::Activity);
        }
    }
    statusbar::draw(state, frame, bar);

    if state.activity_expanded {
        activity::draw_output(state, frame, centered(main, 90, 85));
    }
    match state.mode {
        Mode::Help => help::draw(state, frame, centered(main, 80, 90)),
        Mode::ConfirmQuit | Mode::ConfirmDeploy(_) => {
            dialog::draw(state, frame, centered(main, 70, 60))
        }
        Mode::Rollback(ref w) => wizard::draw(state, w, frame, centered(main, 80, 80)),
        Mode::Main | Mode::Filter | Mode::Logs => {}
    }
}

fn activity_height(state: &State, avail: u16) -> u16 {
    let want = state.activity.len() as u16 + 2;
    want.clamp(4, (avail / 3).max(4))
}

/// A pop-up over the main screen: cleared, bordered, text wrapped.
fn popup(
    frame: &mut Frame,
    area: Rect,
    block: ratatui::widgets::Block<'_>,
    lines: Vec<ratatui::text::Line<'_>>,
) {
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(
        ratatui::widgets::Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(block),
        area,
    );
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
