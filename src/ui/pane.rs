//! One agent's pane: the border with the header in it, the transcript body, the queued
//! follow-ups and, in the focused pane, the input box.

use crate::render::sanitize::{put_line, put_str};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType, Borders, Widget};
use unicode_width::UnicodeWidthStr;

use super::header::{header_line, truncate};
use crate::app::state::Agent;
use crate::app::{Command, Context, State};
use crate::layout::Placed;
use crate::transcript::TranscriptView;

pub fn border_style(focused: bool, supervisor: bool) -> Style {
    match (focused, supervisor) {
        (true, _) => Style::default().fg(Color::Cyan),
        (false, true) => Style::default().fg(Color::Magenta),
        (false, false) => Style::default().fg(Color::DarkGray),
    }
}

pub fn render(state: &State, placed: &Placed, buf: &mut Buffer) {
    let Some(agent) = state.agents.get(placed.pane) else { return };
    let focused = placed.pane == state.focus;
    let rect = placed.rect;
    let parts = state.pane_parts(placed);

    if placed.collapsed || rect.height < 3 || rect.width < 3 {
        // One line: the header on a tinted row.
        let row = Rect { height: 1, ..rect };
        let style = border_style(focused, agent.supervisor);
        let mark = if focused { "▸ " } else { "  " };
        buf.set_style(row, Style::default().bg(Color::Black));
        put_str(buf, row.x, row.y, truncate(mark, usize::from(row.width)), style);
        let width = usize::from(row.width.saturating_sub(2));
        let header = header_line(state, agent, width);
        put_line(buf, row.x + 2.min(row.width), row.y, &header, row.width.saturating_sub(2));
        if !placed.collapsed {
            draw_body(agent, focused, parts.body, buf);
        }
        return;
    }

    let style = border_style(focused, agent.supervisor);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Rounded })
        .border_style(style);
    block.render(rect, buf);
    // The header sits in the top border, one cell in from each corner.
    let width = rect.width.saturating_sub(4);
    let mut header = header_line(state, agent, usize::from(width));
    header.spans.insert(0, Span::raw(" "));
    header.spans.push(Span::raw(" "));
    put_line(buf, rect.x + 1, rect.y, &header, rect.width.saturating_sub(2));

    super::plan::render(&agent.plan, parts.plan, buf);
    let body = draw_approval(state, agent, parts.body, buf);
    draw_body(agent, focused, body, buf);
    draw_queue(agent, focused, parts.queue, buf);
    if parts.rule.height > 0 {
        // The hint sits one cell in from each end of the rule.
        let room = usize::from(parts.rule.width.saturating_sub(2));
        let hint = queue_hint(state, agent, room);
        let rule = "─".repeat(usize::from(parts.rule.width));
        put_str(buf, parts.rule.x, parts.rule.y, &rule, Style::default().fg(Color::DarkGray));
        let hint = truncate(&hint, room);
        put_str(buf, parts.rule.x + 1, parts.rule.y, hint, Style::default().fg(Color::DarkGray));
    }
    if focused && parts.input.height > 0 {
        let asked = state.approvals.first_for(agent.id).map(|p| p.ask.asking());
        let send = state.keymap.key_label(Context::Pane, Command::Send);
        let question = asked == Some(crate::approval::Asking::Question);
        draw_input(agent, question, send.as_deref(), parts.input, buf);
    }
}

/// The keys for the queued follow-ups, on the rule above the input: edit and cancel, and how
/// to pick another one when there are several (dropped first when the rule is short).
fn queue_hint(state: &State, agent: &Agent, room: usize) -> String {
    if agent.queue.is_empty() {
        return String::new();
    }
    let key = |c| state.keymap.key_label(Context::Pane, c);
    let (Some(edit), Some(cancel)) = (key(Command::EditQueued), key(Command::CancelQueued)) else {
        return String::new();
    };
    let short = format!(" {edit} edit · {cancel} cancel ");
    match (key(Command::PickQueuedPrev), key(Command::PickQueuedNext)) {
        (Some(p), Some(n)) if agent.queue.len() > 1 => {
            let long = format!(" {edit} edit · {cancel} cancel · {p} {n} pick ");
            if long.width() <= room {
                long
            } else {
                short
            }
        }
        _ => short,
    }
}

/// The approval box of a waiting call (or the note of denied tools) at the bottom of the body;
/// returns what is left for the transcript.
fn draw_approval(state: &State, agent: &Agent, body: Rect, buf: &mut Buffer) -> Rect {
    if body.height < 4 {
        return body;
    }
    if let Some(pending) = state.approvals.first_for(agent.id) {
        let desired = super::approval::desired_height(pending, body.width);
        let h = crate::approval::show::box_height(desired, body.height);
        let area = Rect { y: body.y + body.height - h, height: h, ..body };
        super::approval::ApprovalView {
            pending,
            agent: agent.name(),
            waiting: state.approvals.count_for(agent.id),
            composing: state.approvals.composing && state.focus_is(agent.id),
            typed: state.focus_is(agent.id) && !agent.input_text().trim().is_empty(),
            keymap: &state.keymap,
        }
        .render(area, buf);
        return Rect { height: body.height - h, ..body };
    }
    let denials = state.approvals.denials_of(agent.id);
    if !denials.is_empty() && !agent.turn.is_active() {
        let y = body.y + body.height - 1;
        put_line(
            buf,
            body.x,
            y,
            &super::approval::denials_line(denials, &state.keymap),
            body.width,
        );
        return Rect { height: body.height - 1, ..body };
    }
    body
}

/// The transcript through its widget (only the visible cells are drawn), or a note while empty.
fn draw_body(agent: &Agent, focused: bool, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    if agent.transcript.is_empty() {
        let note =
            if agent.turn.is_active() { "waiting for the first output…" } else { "no turns yet" };
        let note = truncate(note, usize::from(area.width));
        put_str(buf, area.x, area.y, note, Style::default().fg(Color::DarkGray));
        return;
    }
    TranscriptView::new(&agent.transcript, &agent.scroll).show_selection(focused).render(area, buf);
}

/// The queued follow-ups, one a row. In the focused pane, with more than one, the one that
/// edit and cancel act on is marked.
fn draw_queue(agent: &Agent, focused: bool, area: Rect, buf: &mut Buffer) {
    let rows = usize::from(area.height);
    if rows == 0 {
        return;
    }
    let n = agent.queue.len();
    // With more than fit, the last row counts the rest; a picked item stays in view.
    let shown = if n > rows { rows - 1 } else { n };
    let picked = agent.queue.picked().filter(|_| focused && n > 1);
    let skip = match picked {
        Some(p) if p >= shown => p + 1 - shown,
        _ => 0,
    };
    let style = Style::default().fg(Color::Cyan);
    for (row, (i, q)) in agent.queue.iter().enumerate().skip(skip).take(shown).enumerate() {
        let first = q.lines().next().unwrap_or("");
        let more = if q.lines().count() > 1 { " …" } else { "" };
        let (mark, style) = if picked == Some(i) {
            ("▸", style.add_modifier(Modifier::REVERSED))
        } else {
            ("⏸", style)
        };
        let text = truncate(&format!("{mark} {}. {first}{more}", i + 1), usize::from(area.width));
        put_str(buf, area.x, area.y + row as u16, text, style);
    }
    if n > shown {
        let text = truncate(&format!("⏸ +{} more queued", n - shown), usize::from(area.width));
        put_str(buf, area.x, area.y + shown as u16, text, style);
    }
}

/// The input box; while a question waits what is typed there answers it, and its hint says so.
/// `send`: the send key's label, for the hint that an empty send runs what an interrupt left
/// queued.
fn draw_input(agent: &Agent, question: bool, send: Option<&str>, area: Rect, buf: &mut Buffer) {
    let prompt_style = Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    put_str(buf, area.x, area.y, "›", prompt_style);
    let text_area =
        Rect { x: area.x + 2.min(area.width), width: area.width.saturating_sub(2), ..area };
    if text_area.width == 0 {
        return;
    }
    (&agent.input).render(text_area, buf);
    if agent.input_is_empty() {
        let resume;
        let hint = match (question, agent.turn.is_active(), send) {
            (true, _, _) => "your own answer…",
            (false, true, _) => "queue a follow-up…",
            // A held queue starts by itself (or with resume), not with enter.
            (false, false, Some(send)) if !agent.queue.is_empty() && !agent.held => {
                resume = format!("{send} runs the queued follow-up, or type a message…");
                resume.as_str()
            }
            (false, false, _) => "message…",
        };
        let hint = truncate(hint, usize::from(text_area.width.saturating_sub(1)));
        put_str(buf, text_area.x + 1, text_area.y, hint, Style::default().fg(Color::DarkGray));
    }
}
