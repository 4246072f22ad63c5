//! The hint line at the bottom: the few bindings that matter now (from the keymap), or a short
//! note; on the right, the layout, page and what runs.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::header::truncate;
use crate::app::state::Overlay;
use crate::app::{Command, Context, State};

pub fn context(state: &State) -> Context {
    match &state.overlay {
        None if crate::app::approvals::focused_waits(state) => Context::Approval,
        None => Context::Pane,
        Some(Overlay::Help { .. }) => Context::Help,
        Some(Overlay::NewAgent(_)) => Context::Form,
        Some(Overlay::Confirm(_)) => Context::Confirm,
        Some(Overlay::Diff(_)) => Context::Diff,
        Some(Overlay::Commit(_)) => Context::Commit,
    }
}

/// Whether a hint is worth its room in the current state.
fn relevant(state: &State, command: Command) -> bool {
    let focused = state.focused();
    // With no agent there is nothing to send to, scroll, lay out or expand.
    if state.agents.is_empty() {
        return matches!(command, Command::NewAgent | Command::Help | Command::Quit);
    }
    match command {
        Command::Interrupt => focused.is_some_and(|a| a.turn.is_active()),
        Command::EditQueued => focused.is_some_and(|a| !a.queue.is_empty()),
        Command::Send | Command::Newline => focused.is_some(),
        Command::FocusNext => state.agents.len() > 1,
        Command::Zoom => !state.agents.is_empty(),
        Command::PageUp => focused.is_some_and(|a| !a.transcript.is_empty()),
        Command::NextApproval => state.approvals.waiting() > 0,
        Command::ResumeTurn => focused.is_some_and(|a| a.resumable),
        Command::AllowDenied => {
            focused.is_some_and(|a| !state.approvals.denials_of(a.id).is_empty())
        }
        _ => true,
    }
}

pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let width = usize::from(area.width);
    let right = right_side(state);
    let right_w = right.width();
    let left_room = width.saturating_sub(if right_w + 2 <= width / 2 { right_w + 2 } else { 0 });
    if let Some(flash) = &state.flash {
        let text = truncate(flash, left_room);
        buf.set_string(area.x, area.y, text, Style::default().fg(Color::Yellow));
    } else {
        let ctx = context(state);
        let key_style = Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD);
        let label_style = Style::default().fg(Color::Gray);
        let mut spans = Vec::new();
        let mut used = 0;
        for (key, label) in state.keymap.hints(ctx, |c| relevant(state, c)) {
            let w = key.width() + 1 + label.width() + if spans.is_empty() { 0 } else { 2 };
            if used + w > left_room {
                break;
            }
            if !spans.is_empty() {
                spans.push(Span::raw("  "));
            }
            spans.push(Span::styled(key, key_style));
            spans.push(Span::styled(format!(" {label}"), label_style));
            used += w;
        }
        buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    }
    if right_w + 2 <= width / 2 {
        let x = area.x + area.width - right_w as u16;
        buf.set_string(x, area.y, right, Style::default().fg(Color::DarkGray));
    }
}

fn right_side(state: &State) -> String {
    let mut parts = Vec::new();
    if state.read_only {
        parts.push("read-only".to_string());
    }
    let tiling = state.tiling();
    if tiling.pages > 1 {
        parts.push(format!("page {}/{}", tiling.page + 1, tiling.pages));
    }
    if state.arrangement != crate::layout::Arrangement::Tiled {
        parts.push(state.arrangement.name().to_string());
    }
    let waiting = state.approvals.waiting();
    if waiting > 0 {
        parts.push(format!("{waiting} waiting"));
    }
    let running = state.running();
    if running > 0 {
        parts.push(format!("{running} running"));
    }
    let cost: f64 = state.agents.iter().map(|a| a.cost_usd).sum();
    if cost > 0.0 {
        parts.push(format!("${cost:.2}"));
    }
    parts.join(" · ")
}
