//! The limits panel: each usage window's use and reset, when the window runs out at this pace,
//! and the agents that burn most of the five-hour window.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use super::header::{elapsed_label, tokens_label};
use crate::app::query;
use crate::app::{Command, Context, State};
use crate::limits::{reset_clock, Forecast, Level, Now, Window};

/// How many agents the panel names.
const TOP_BURNERS: usize = 5;

pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let lines = rows(state);
    let w = area.width.min(80);
    let h = area.height.min(lines.len() as u16 + 2);
    let rect = super::centered(area, w, h);
    Clear.render(rect, buf);
    let close = state.keymap.key_label(Context::Limits, Command::Close).unwrap_or_default();
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::default().fg(Color::Cyan))
        .title(" usage limits ")
        .title_bottom(format!(" {close} close "));
    Paragraph::new(crate::render::sanitize::clean_lines(lines)).block(block).render(rect, buf);
}

fn rows(state: &State) -> Vec<Line<'static>> {
    let now = state.time();
    let windows = state.limits.at(now);
    let section = Style::default().fg(Color::Magenta).add_modifier(Modifier::BOLD);
    let dim = Style::default().fg(Color::Gray);
    let mut lines = vec![Line::styled("Windows", section)];
    if windows.is_empty() {
        lines.push(Line::styled(
            "  none reported yet (the CLI tells them with each reply on a subscription)",
            dim,
        ));
    }
    lines.extend(windows.iter().map(|w| window_row(w, now)));
    lines.push(Line::raw(""));
    let (start, known) = query::burn_start(state);
    let since = if known {
        format!("Burning most since the 5h window began ({})", reset_clock(start, now.wall))
    } else {
        "Burning most in the last five hours".to_string()
    };
    lines.push(Line::styled(since, section));
    let burners = query::top_burners(state, TOP_BURNERS);
    if burners.is_empty() {
        lines.push(Line::styled("  no tokens used yet", dim));
    }
    let name_width = burners.iter().map(|b| b.name.chars().count()).max().unwrap_or(0).min(24);
    for b in burners {
        let name = super::header::truncate(&b.name, name_width);
        lines.push(Line::from(vec![
            Span::raw(format!("  {name:<name_width$}  ")),
            Span::styled(format!("{:>10}", tokens_label(b.tokens)), dim),
            Span::raw(format!("  {:>3}%", b.share)),
        ]));
    }
    lines
}

/// How long until a reset: "1h33m", or beyond a day "4d23h".
fn left_label(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    } else {
        elapsed_label(d)
    }
}

/// `  5h  85%  resets 10:33 (in 1h33m)  out ~10:02 at this pace`.
fn window_row(w: &Window, now: Now) -> Line<'static> {
    let used = match (w.percent(), w.status.as_deref()) {
        (Some(p), _) => format!("{p}%"),
        (None, Some("allowed")) => "ok".into(),
        (None, Some("allowed_warning")) => "warning".into(),
        (None, Some("rejected")) => "limit".into(),
        (None, Some(other)) => other.replace('_', " "),
        (None, None) => "?".into(),
    };
    let reset = match (w.resets_at, w.reset_in(now)) {
        (Some(at), Some(left)) => {
            format!("resets {} (in {})", reset_clock(at, now.wall), left_label(left))
        }
        _ => "reset unknown".into(),
    };
    let pace = match w.forecast() {
        Forecast::OutAt(at) => format!("out ~{} at this pace", reset_clock(at, now.wall)),
        Forecast::Lasts => "lasts past the reset".into(),
        Forecast::Unknown => "pace unknown".into(),
    };
    let colour = match w.level() {
        Level::Rejected => Color::LightRed,
        Level::Warning => Color::LightRed,
        Level::Near => Color::Yellow,
        Level::Fine | Level::Unknown => Color::Gray,
    };
    let pace_style = match w.forecast() {
        Forecast::OutAt(_) => Style::default().fg(Color::Yellow),
        _ => Style::default().fg(Color::Gray),
    };
    Line::from(vec![
        Span::raw(format!("  {:<7}", w.label())),
        Span::styled(format!("{used:<8}"), Style::default().fg(colour)),
        Span::raw(format!("{reset:<29}")),
        Span::styled(pace, pace_style),
    ])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crossterm::event::{KeyCode, KeyModifiers};

    use crate::agent::event::{ContentBlock, MessageEvent, Usage};
    use crate::agent::Event;
    use crate::app::fixtures::*;
    use crate::app::state::Overlay;
    use crate::app::{update, State};

    fn reply(id: &str, input: u64, output: u64) -> Event {
        Event::Assistant(MessageEvent {
            message_id: Some(id.into()),
            content: vec![ContentBlock::Text { text: "ok".into() }],
            usage: Some(Usage { input_tokens: input, output_tokens: output, ..Default::default() }),
            ..Default::default()
        })
    }

    fn open_panel(s: &mut State) {
        update(s, key_mod(KeyCode::F(3), KeyModifiers::NONE));
        assert!(matches!(s.overlay, Some(Overlay::Limits)));
    }

    /// Two readings ten minutes apart give the pace; api burned three times what web did;
    /// docs burned nothing and is left out.
    #[test]
    fn the_limits_panel_shows_windows_forecast_and_burners() {
        let mut s = state(false, &[("api", "a"), ("web", "b"), ("docs", "c")], (90, 20));
        s.wall = WALL;
        let (api, web) = (s.agents[0].id, s.agents[1].id);
        send(&mut s, 0, "hi");
        send(&mut s, 1, "hi");
        update(&mut s, lines(api, 1, vec![windows_line(0.5, 0.3), reply("m1", 3000, 0)]));
        update(&mut s, lines(web, 1, vec![reply("w1", 1000, 0), reply("w1", 1000, 0)]));
        advance(&mut s, Duration::from_secs(600));
        update(&mut s, lines(api, 1, vec![windows_line(0.6, 0.3)]));
        open_panel(&mut s);
        let text = screen(&s);
        assert!(
            text.contains("5h     60%     resets 10:33 (in 1h23m)      out ~09:50 at this pace"),
            "{text}"
        );
        assert!(
            text.contains("7d     30%     resets Tue 09:00 (in 4d23h)  lasts past the reset"),
            "{text}"
        );
        assert!(text.contains("api    3.0k tok   75%"), "{text}");
        assert!(text.contains("web    1.0k tok   25%"), "{text}");
        assert!(!text.contains("docs"), "{text}");
        insta::assert_snapshot!("limits_panel_90x20", text);
        update(&mut s, key(KeyCode::Esc));
        assert!(s.overlay.is_none());
    }

    /// A single reading: the pace is unknown; once the reset passed, the window is unknown
    /// and the burn counts the last five hours.
    #[test]
    fn too_few_readings_and_a_past_reset_read_as_unknown() {
        let mut s = state(false, &[("api", "a")], (90, 16));
        s.wall = WALL;
        let api = s.agents[0].id;
        send(&mut s, 0, "hi");
        update(&mut s, lines(api, 1, vec![windows_line(0.5, 0.3)]));
        open_panel(&mut s);
        let text = screen(&s);
        assert!(text.contains("pace unknown"), "{text}");
        assert!(text.contains("no tokens used yet"), "{text}");
        advance(&mut s, Duration::from_secs(2 * 3600));
        let text = screen(&s);
        assert!(text.contains("5h     ?       reset unknown"), "{text}");
        assert!(text.contains("Burning most in the last five hours"), "{text}");
        insta::assert_snapshot!("limits_panel_after_reset_90x16", text);
    }

    #[test]
    fn the_panel_key_is_listed_in_help() {
        let s = state(false, &[("api", "a")], (90, 16));
        let help: Vec<String> =
            crate::ui::help::rows(&s).iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert!(help.iter().any(|l| l.contains("f3") && l.contains("usage limits")), "{help:?}");
    }
}
