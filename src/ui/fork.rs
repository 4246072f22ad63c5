//! The fork picker: after which turn of an agent's conversation a fork goes on.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::header::truncate;
use crate::app::convo::ForkPicker;
use crate::app::{Command, Context, State};
use crate::render::sanitize::put_str;

pub fn render(state: &State, picker: &ForkPicker, area: Rect, buf: &mut Buffer) {
    let n = picker.prompts.len();
    let w = area.width.min(70);
    let h = area.height.min(n as u16 + 6);
    let rect = super::centered(area, w, h);
    Clear.render(rect, buf);
    let title = format!(" fork {} ", picker.name);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(Color::Cyan))
        .title(truncate(&title, usize::from(w.saturating_sub(2))));
    let inner = block.inner(rect);
    block.render(rect, buf);
    if inner.width < 4 || inner.height < 4 {
        return;
    }
    let width = usize::from(inner.width);
    let dim = Style::default().fg(Color::DarkGray);
    put_str(buf, inner.x, inner.y, truncate("go on after which turn?", width), dim);
    // The rows between the question and the worktree line; the picked turn stays among them.
    let rows = usize::from(inner.height.saturating_sub(3)).max(1);
    let first = picker.at.saturating_sub(rows).min(n.saturating_sub(rows));
    let number_w = n.to_string().len();
    for (row, turn) in (first + 1..=n).take(rows).enumerate() {
        let picked = turn == picker.at;
        let prompt = picker.prompts[turn - 1].lines().find(|l| !l.trim().is_empty());
        let end = if turn == n { "  (the end)" } else { "" };
        let mark = if picked { "›" } else { " " };
        let line = format!("{mark} {turn:>number_w$}  {}{end}", prompt.unwrap_or("").trim());
        let style = if picked {
            Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        put_str(buf, inner.x, inner.y + 1 + row as u16, truncate(&line, width), style);
    }
    let keys = |c| state.keymap.key_label(Context::Fork, c).unwrap_or_default();
    let mark = if picker.worktree { "[x]" } else { "[ ]" };
    let tree = format!("{mark} its own git worktree ({})", keys(Command::ToggleWorktree));
    put_str(buf, inner.x, inner.y + inner.height - 2, truncate(&tree, width), Style::default());
    let footer = format!(
        "{} fork · {}/{} pick · {} cancel",
        keys(Command::Submit),
        keys(Command::ScrollUp),
        keys(Command::ScrollDown),
        keys(Command::Close)
    );
    put_str(buf, inner.x, inner.y + inner.height - 1, truncate(&footer, width), dim);
}
