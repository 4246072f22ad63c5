//! The new-agent form overlay.

use crate::render::sanitize::put_str;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::header::truncate;
use crate::app::form::{Form, FIELDS, PROMPT, WORKTREE};
use crate::app::{Command, Context, State};

pub fn render(state: &State, form: &Form, area: Rect, buf: &mut Buffer) {
    let prompt_rows = form.fields[PROMPT].lines().len().clamp(1, 4) as u16;
    let w = area.width.min(70);
    let h = area.height.min(FIELDS.len() as u16 * 2 + prompt_rows + 4);
    let rect = super::centered(area, w, h);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(Color::Cyan))
        .title(" new agent ");
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.width < 4 || inner.height == 0 {
        return;
    }
    let label_w = 14.min(inner.width / 3);
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    for (i, label) in FIELDS.iter().enumerate() {
        if y >= bottom {
            break;
        }
        let active = i == form.active;
        let label_style = if active {
            Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Gray)
        };
        put_str(buf, inner.x, y, truncate(label, usize::from(label_w)), label_style);
        let rows = if i == PROMPT { prompt_rows } else { 1 };
        let field = Rect {
            x: inner.x + label_w + 1,
            y,
            width: inner.width.saturating_sub(label_w + 1),
            height: rows.min(bottom - y),
        };
        if i == WORKTREE {
            let (mark, text) = if form.worktree {
                ("[x] ", "its own git worktree")
            } else {
                ("[ ] ", "no (space toggles)")
            };
            let style = if active {
                Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            let line = truncate(&format!("{mark}{text}"), usize::from(field.width));
            put_str(buf, field.x, field.y, line, style);
            y += rows + 1;
            continue;
        }
        let mut ta = form.fields[i].clone();
        if !active {
            ta.set_cursor_style(Style::default());
        }
        ta.set_style(Style::default().bg(if active { Color::DarkGray } else { Color::Black }));
        (&ta).render(field, buf);
        y += rows + 1;
    }
    let keys = |c| state.keymap.key_label(Context::Form, c).unwrap_or_default();
    let footer = match &form.error {
        Some(e) => (e.clone(), Style::default().fg(Color::Red)),
        None => (
            format!(
                "{} create · {} next field · {} cancel",
                keys(Command::Submit),
                keys(Command::NextField),
                keys(Command::Close)
            ),
            Style::default().fg(Color::DarkGray),
        ),
    };
    let fy = inner.y + inner.height - 1;
    if fy >= y.saturating_sub(1) || inner.height > 1 {
        put_str(buf, inner.x, fy, truncate(&footer.0, usize::from(inner.width)), footer.1);
    }
}
