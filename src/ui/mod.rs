//! Views: they read the [`State`] and draw; nothing here changes it. One file per widget.

pub mod approval;
pub mod confirm;
pub mod diff;
pub mod fork;
pub mod header;
pub mod help;
pub mod limits;
pub mod new_agent;
pub mod overview;
pub mod pane;
pub mod plan;
pub mod search;
pub mod status;
pub mod supervisor;
pub mod switch;

#[cfg(test)]
mod tests;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};
use ratatui::Frame;

use crate::app::state::Overlay;
use crate::app::{Command, Context, State};

/// Draw the whole screen.
pub fn view(state: &State, frame: &mut Frame) {
    let area = frame.area();
    draw(state, area, frame.buffer_mut());
}

/// Draw the whole screen into `buf`; whatever a view drew without the sanitizer is repaired
/// before it can reach the terminal (and, in tests, fails them).
pub fn draw(state: &State, area: Rect, buf: &mut Buffer) {
    draw_views(state, area, buf);
    let repaired = crate::render::sanitize::scrub(buf);
    if repaired > 0 {
        tracing::warn!(repaired, "cells drawn with unsanitized text");
    }
    #[cfg(test)]
    assert_eq!(repaired, 0, "a view drew text without the sanitizer");
}

fn draw_views(state: &State, area: Rect, buf: &mut Buffer) {
    // The layout is made for `state.size`, but ratatui sizes the frame from the terminal itself:
    // after a resize and before its Resize event is read they differ, and panes placed for the
    // old size would index outside the buffer (a panic). Draw nothing this frame; the pending
    // Resize event brings a redraw at the new size.
    if (area.width, area.height) != state.size {
        return;
    }
    if !state.usable() || area.width < crate::layout::MIN_SCREEN_WIDTH {
        let note = format!("terminal too small ({}x{})", area.width, area.height);
        Paragraph::new(note)
            .style(Style::default().fg(Color::Yellow))
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let panes = state.panes_area().intersection(area);
    if state.agents.is_empty() {
        let key = state.keymap.key_label(Context::Pane, Command::NewAgent).unwrap_or_default();
        let lines = vec![Line::raw("No agents yet."), Line::raw(format!("{key} creates one."))];
        let rect = centered(panes, panes.width.min(30), 2);
        Paragraph::new(lines).style(Style::default().fg(Color::Gray)).render(rect, buf);
    }
    for placed in &state.tiling().placed {
        let supervisor = state.agents.get(placed.pane).is_some_and(|a| a.supervisor);
        if supervisor {
            supervisor::render(state, placed, buf);
        } else {
            pane::render(state, placed, buf);
        }
    }
    let rows = status::height(state, area.width).min(area.height);
    let hint = Rect { y: area.y + area.height - rows, height: rows, ..area };
    status::render(state, hint, buf);
    match &state.overlay {
        None => {}
        Some(Overlay::Help { scroll }) => help::render(state, *scroll, panes, buf),
        Some(Overlay::NewAgent(form)) => new_agent::render(state, form, panes, buf),
        Some(Overlay::Confirm(c)) => confirm::render(state, c, panes, buf),
        Some(Overlay::Diff(view)) => diff::render_overlay(state, view, panes, buf),
        Some(Overlay::Commit(form)) => diff::render_commit(state, form, panes, buf),
        Some(Overlay::Overview(o)) => overview::render(state, o, panes, buf),
        Some(Overlay::Search(bar)) => search::render(state, bar, panes, buf),
        Some(Overlay::Fork(p)) => fork::render(state, p, panes, buf),
        Some(Overlay::Switch(sw)) => switch::render(state, sw, panes, buf),
        Some(Overlay::Limits) => limits::render(state, panes, buf),
    }
}

/// A `w` x `h` rectangle centred in `area` (clipped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
