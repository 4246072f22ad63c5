//! The model and permission mode picker: a small box over the panes, its rows grouped under
//! "model" and "permission mode", the highlighted one marked and what the agent has now ticked.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use crate::app::switch::{choices, is_current, Choice, Switch};
use crate::app::{Command, Context, State};

pub fn lines(state: &State, sw: &Switch) -> Vec<Line<'static>> {
    let Some(a) = state.index_of(sw.agent).map(|i| &state.agents[i]) else { return Vec::new() };
    let (model, mode) = (a.spec.options.model.as_deref(), a.spec.options.permission_mode);
    let section = Style::default().fg(Color::Magenta).add_modifier(Modifier::BOLD);
    let mut out = Vec::new();
    let mut last_was_model = None;
    for (i, choice) in choices(model).iter().enumerate() {
        let is_model = matches!(choice, Choice::Model(_));
        if last_was_model != Some(is_model) {
            out.push(Line::styled(if is_model { "model" } else { "permission mode" }, section));
            last_was_model = Some(is_model);
        }
        let name = match choice {
            Choice::Model(None) => "the CLI's default".to_string(),
            Choice::Model(Some(m)) => m.clone(),
            Choice::Mode(m) => m.as_arg().to_string(),
        };
        let here = i == sw.cursor;
        let style = if here {
            Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        let mut spans =
            vec![Span::styled(format!("{}{name}", if here { "▸ " } else { "  " }), style)];
        if is_current(choice, model, mode) {
            spans.push(Span::styled("  ✓ now", Style::default().fg(Color::Green)));
        }
        out.push(Line::from(spans));
    }
    let key = |c| state.keymap.key_label(Context::Switch, c).unwrap_or_default();
    let keys = format!(
        "{}/{} move · {} switch · {} close",
        key(Command::ScrollUp),
        key(Command::ScrollDown),
        key(Command::Submit),
        key(Command::Close)
    );
    out.push(Line::raw(""));
    out.push(Line::styled(keys, Style::default().fg(Color::Gray)));
    out
}

pub fn render(state: &State, sw: &Switch, area: Rect, buf: &mut Buffer) {
    let lines = lines(state, sw);
    let name = state.index_of(sw.agent).map(|i| state.agents[i].name().to_string());
    let title = format!(" {} from its next turn ", name.unwrap_or_default());
    let w = area.width.min(44);
    let h = area.height.min(u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_add(2));
    let rect = super::centered(area, w, h);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(Color::Cyan))
        .title(Span::styled(
            super::header::truncate(&title, usize::from(w.saturating_sub(2))),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    // The highlighted row stays in view when the box is shorter than the list.
    let inner = h.saturating_sub(2);
    let models = state.index_of(sw.agent).map_or(0, |i| {
        let rows = choices(state.agents[i].spec.options.model.as_deref());
        rows.iter().filter(|c| matches!(c, Choice::Model(_))).count()
    });
    // Its line: below the "model" heading, and the "permission mode" one for a mode.
    let row = sw.cursor + 1 + usize::from(sw.cursor >= models);
    let at = u16::try_from(row + 1).unwrap_or(u16::MAX);
    let scroll = at.saturating_sub(inner.saturating_sub(1));
    Paragraph::new(crate::render::sanitize::clean_lines(lines))
        .block(block)
        .scroll((scroll, 0))
        .render(rect, buf);
}
