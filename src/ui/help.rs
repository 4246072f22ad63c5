//! The help overlay: every binding, generated from the keymap the handlers use.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use crate::app::{Context, State};

pub fn rows(state: &State) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let section = Style::default().fg(Color::Magenta).add_modifier(Modifier::BOLD);
    let key_style = Style::default().fg(Color::Cyan);
    for (ctx, title) in [
        (Context::Pane, "Panes (other keys go to the input box)"),
        (Context::Form, "New-agent form"),
        (Context::Approval, "A tool call waiting for your approval"),
        (Context::Overview, "Overview (typing filters it)"),
        (Context::Search, "Search (typing edits the text)"),
        (Context::Fork, "Fork picker"),
        (Context::Switch, "Model and permission mode picker"),
        (Context::Limits, "Usage limits panel"),
        (Context::Confirm, "Questions"),
        (Context::Diff, "Diff view"),
        (Context::Commit, "Commit message"),
        (Context::Help, "This help"),
    ] {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(title, section));
        for (keys, help) in state.keymap.help_rows(ctx) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<22}"), key_style),
                Span::raw(" "),
                Span::raw(help),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Mouse: click focuses a pane, the wheel scrolls it.",
        Style::default().fg(Color::Gray),
    ));
    lines
}

pub fn render(state: &State, scroll: u16, area: Rect, buf: &mut Buffer) {
    let lines = rows(state);
    let w = area.width.min(76);
    let h = area.height.min(lines.len() as u16 + 2);
    let rect = super::centered(area, w, h);
    Clear.render(rect, buf);
    let max_scroll = (lines.len() as u16).saturating_sub(h.saturating_sub(2));
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(Color::Cyan))
        .title(" help ");
    Paragraph::new(crate::render::sanitize::clean_lines(lines))
        .block(block)
        .scroll((scroll.min(max_scroll), 0))
        .render(rect, buf);
}
