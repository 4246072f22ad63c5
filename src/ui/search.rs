//! The search bar: in one transcript, a line at the bottom of the panes and what matched
//! highlighted in the focused pane; across every agent, the hits listed by agent.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use crate::app::search::{Scope, SearchBar};
use crate::app::State;
use crate::render::sanitize;
use crate::transcript::search::{Needle, MAX_HITS};

pub fn render(state: &State, bar: &SearchBar, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    match bar.scope {
        Scope::One(id) => {
            if let (Some(needle), Some(body)) =
                (bar.needle(), state.index_of(id).and_then(|i| state.body_rect(i)))
            {
                highlight(&needle, body.intersection(area), buf);
            }
        }
        Scope::All => list(state, bar, area, buf),
    }
    let y = area.y + area.height - 1;
    let row = Rect { y, height: 1, ..area };
    Clear.render(row, buf);
    buf.set_line(area.x, y, &bar_line(state, bar), area.width);
}

fn bar_line(state: &State, bar: &SearchBar) -> Line<'static> {
    let where_ = match bar.scope {
        Scope::One(id) => state
            .index_of(id)
            .map_or_else(|| "search".to_string(), |i| format!("search {}", state.agents[i].name())),
        Scope::All => "search every agent".to_string(),
    };
    let count = if bar.needle().is_none() {
        "type the text to find (plain, any case)".to_string()
    } else if bar.hits.is_empty() {
        "no match".to_string()
    } else {
        let more = if bar.truncated { format!(" (stopped at {MAX_HITS})") } else { String::new() };
        format!("{}/{}{more}", bar.at + 1, bar.hits.len())
    };
    Line::from(vec![
        Span::styled(
            format!(" {where_}: "),
            Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Span::styled(format!("{}▏", sanitize(&bar.query)), Style::default().fg(Color::White)),
        Span::styled(format!("  {count}"), Style::default().fg(Color::Gray)),
    ])
}

/// Marks every match of the needle on the screen rows of `area` (a pane's body).
pub fn highlight(needle: &Needle, area: Rect, buf: &mut Buffer) {
    let mark = Style::default().bg(Color::Yellow).fg(Color::Black);
    for y in area.top()..area.bottom() {
        // The row's text, each char remembering its cell (wide glyphs leave an empty cell).
        let mut text = String::new();
        let mut owner = Vec::new();
        for x in area.left()..area.right() {
            for c in buf[(x, y)].symbol().chars() {
                text.push(c);
                owner.push(x);
            }
        }
        for r in needle.char_ranges(&text) {
            for &x in owner.get(r).unwrap_or(&[]) {
                buf[(x, y)].set_style(mark);
            }
        }
    }
}

/// Every agent's hits, a heading per agent, the selected hit kept in view.
fn list(state: &State, bar: &SearchBar, area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    let rows = area.height.saturating_sub(1) as usize;
    let mut lines: Vec<(Line<'static>, bool)> = Vec::new();
    let mut selected_line = 0;
    let mut last = None;
    for (n, (id, hit)) in bar.hits.iter().enumerate() {
        if last != Some(*id) {
            let name = state.index_of(*id).map_or("?", |i| state.agents[i].name());
            let style = Style::default().fg(Color::Magenta).add_modifier(Modifier::BOLD);
            lines.push((Line::styled(sanitize(name).into_owned(), style), false));
            last = Some(*id);
        }
        if n == bar.at {
            selected_line = lines.len();
        }
        let text = format!("  {}: {}", hit.turn, sanitize(&hit.line));
        lines.push((Line::raw(text), n == bar.at));
    }
    let first = selected_line.saturating_sub(rows.saturating_sub(1));
    for (k, (line, selected)) in lines.into_iter().skip(first).take(rows).enumerate() {
        let line = if selected {
            line.patch_style(Style::default().add_modifier(Modifier::REVERSED))
        } else {
            line
        };
        buf.set_line(area.x, area.y + k as u16, &line, area.width);
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyModifiers};

    use crate::app::fixtures::{key, key_mod, screen, state, type_text};
    use crate::app::update;

    #[test]
    fn search_snapshots() {
        let mut s = state(false, &[("api", "x"), ("web", "y")], (80, 14));
        s.agents[0].transcript.push_prompt("why does the Parser fail?");
        s.agents[0].transcript.push_error("parser: unexpected token\nat line 3");
        s.agents[1].transcript.push_prompt("fix the parser tests");
        update(&mut s, key_mod(KeyCode::Char('/'), KeyModifiers::ALT));
        insta::assert_snapshot!("search_empty_80x14", screen(&s));
        type_text(&mut s, "parser");
        insta::assert_snapshot!("search_focused_80x14", screen(&s));
        type_text(&mut s, "zz");
        insta::assert_snapshot!("search_no_match_80x14", screen(&s));
        update(&mut s, key(KeyCode::Esc));
        update(&mut s, key_mod(KeyCode::Char('?'), KeyModifiers::ALT));
        type_text(&mut s, "PARSER");
        update(&mut s, key(KeyCode::Down));
        insta::assert_snapshot!("search_every_agent_80x14", screen(&s));
    }

    #[test]
    fn matches_on_screen_are_highlighted() {
        let mut s = state(false, &[("api", "x")], (60, 10));
        s.agents[0].transcript.push_prompt("one Needle and another needle");
        update(&mut s, key_mod(KeyCode::Char('/'), KeyModifiers::ALT));
        type_text(&mut s, "needle");
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(60, 10)).unwrap();
        t.draw(|f| crate::ui::view(&s, f)).unwrap();
        let buf = t.backend().buffer();
        let marked: String = (0..10)
            .flat_map(|y| (0..60).map(move |x| (x, y)))
            .filter(|&(x, y)| buf[(x, y)].bg == ratatui::style::Color::Yellow)
            .map(|(x, y)| buf[(x, y)].symbol().to_string())
            .collect();
        assert_eq!(marked, "Needleneedle");
    }
}
