//! The overview: every agent on one screen, a row each, grouped by repository, those that need
//! the user first. It reads `app::overview`'s rows; columns that do not fit are dropped from
//! the right, names that do not fit are cut with an ellipsis.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use crate::app::overview::{arrange, inbox, rows, Entry, Need, Overview, Row, Standing};
use crate::app::State;
use crate::render::{display_width, sanitize, truncate};

/// The columns after the name, in the order they are dropped when the screen is narrow (last
/// first): (title, width).
const FIXED: [(&str, usize); 4] = [("LAST", 8), ("COST", 8), ("CONTEXT", 10), ("BRANCH", 18)];
const STATE_WIDTH: usize = 9;
const NAME_MAX: usize = 24;
const WAITS_MIN: usize = 12;

pub fn render(state: &State, o: &Overview, area: Rect, buf: &mut Buffer) {
    Clear.render(area, buf);
    if area.height == 0 || area.width == 0 {
        return;
    }
    let all = rows(state);
    let waiting = inbox(&all).len();
    let total = all.len();
    let entries = arrange(all, &o.lens);
    let selected = o.selected(&entries);
    let title = title_line(
        total,
        waiting,
        entries.iter().filter(|e| matches!(e, Entry::Agent(_))).count(),
        o,
    );
    buf.set_line(area.x, area.y, &title, area.width);
    if area.height < 3 {
        return;
    }
    let layout = Columns::fit(area.width as usize, &entries);
    let dim = Style::default().fg(Color::Gray);
    buf.set_line(area.x, area.y + 1, &Line::styled(layout.header(), dim), area.width);
    let rows_area = area.height as usize - 2;
    if entries.is_empty() {
        let note = if total == 0 { "no agents yet" } else { "no agent matches the filter" };
        buf.set_line(
            area.x + 2,
            area.y + 2,
            &Line::styled(note, dim),
            area.width.saturating_sub(2),
        );
        return;
    }
    // Keep the selected line in view: it sits as high as it can with the list's end below it.
    let sel = selected.unwrap_or(0);
    let first = sel
        .saturating_sub(rows_area.saturating_sub(1))
        .min(entries.len().saturating_sub(rows_area));
    for (n, entry) in entries.iter().enumerate().skip(first).take(rows_area) {
        let y = area.y + 2 + (n - first) as u16;
        let mut line = match entry {
            Entry::Group { repo, agents, need_you, folded } => {
                group_line(repo, *agents, *need_you, *folded)
            }
            Entry::Agent(row) => layout.row(row, state.now),
        };
        if Some(n) == selected {
            line = line.patch_style(Style::default().add_modifier(Modifier::REVERSED));
        }
        buf.set_line(area.x, y, &line, area.width);
    }
}

fn title_line(total: usize, waiting: usize, shown: usize, o: &Overview) -> Line<'static> {
    let bold = Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let plural = if total == 1 { "" } else { "s" };
    let mut spans =
        vec![Span::styled(" overview ", bold), Span::raw(format!("{total} agent{plural}"))];
    if waiting > 0 {
        spans.push(Span::styled(
            format!(" · {waiting} need you"),
            Style::default().fg(Color::Yellow),
        ));
    }
    if shown != total {
        spans.push(Span::raw(format!(" · {shown} shown")));
    }
    if o.lens.hide_idle {
        spans.push(Span::raw(" · idle hidden"));
    }
    spans.push(Span::raw(" · filter: "));
    spans.push(Span::styled(
        format!("{}▏", sanitize(&o.lens.filter)),
        Style::default().fg(Color::White),
    ));
    Line::from(spans)
}

fn group_line(repo: &str, agents: usize, need_you: usize, folded: bool) -> Line<'static> {
    let mark = if folded { "▸" } else { "▾" };
    let needs = if need_you > 0 { format!(", {need_you} need you") } else { String::new() };
    let plural = if agents == 1 { "" } else { "s" };
    Line::styled(
        format!("{mark} {} ({agents} agent{plural}{needs})", sanitize(repo)),
        Style::default().fg(Color::Magenta).add_modifier(Modifier::BOLD),
    )
}

/// The widths chosen for one screen.
struct Columns {
    name: usize,
    waits: usize,
    /// How many of [`FIXED`] fit.
    fixed: usize,
}

impl Columns {
    fn fit(width: usize, entries: &[Entry]) -> Columns {
        let longest = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Agent(r) => Some(display_width(&sanitize(&r.name))),
                Entry::Group { .. } => None,
            })
            .max()
            .unwrap_or(4);
        let name = longest.clamp(4, NAME_MAX);
        // Marker (2), state, name, then each column with a space before it.
        let mut used = 2 + STATE_WIDTH + 1 + name;
        let mut fixed = 0;
        for (_, w) in FIXED {
            if used + 1 + WAITS_MIN + 1 + w > width {
                break;
            }
            used += 1 + w;
            fixed += 1;
        }
        let name = name.min(width.saturating_sub(2 + STATE_WIDTH + 1).max(1));
        let waits = width.saturating_sub(used + 1);
        Columns { name, waits, fixed }
    }

    fn header(&self) -> String {
        let mut s = format!("  {:<sw$} {:<nw$}", "STATE", "NAME", sw = STATE_WIDTH, nw = self.name);
        if self.waits > 0 {
            s.push_str(&format!(" {:<w$}", "WAITS FOR", w = self.waits));
        }
        for (title, w) in &FIXED[..self.fixed] {
            s.push_str(&format!(" {title:<w$}"));
        }
        s
    }

    fn row(&self, r: &Row, now: Instant) -> Line<'static> {
        let (mark, style) = match r.standing {
            Standing::Needs(Need::Failed) => ("✗ ", Style::default().fg(Color::Red)),
            Standing::Needs(_) => ("● ", Style::default().fg(Color::Yellow)),
            Standing::Running => ("◌ ", Style::default().fg(Color::Green)),
            Standing::Idle => ("  ", Style::default().fg(Color::Gray)),
        };
        let mut spans = vec![
            Span::styled(mark, style),
            Span::styled(pad(r.standing.word(), STATE_WIDTH), style),
            Span::raw(" "),
            Span::styled(pad(&r.name, self.name), Style::default().add_modifier(Modifier::BOLD)),
        ];
        if self.waits > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::raw(pad(&r.waits_for, self.waits)));
        }
        let figures = [
            r.last_activity
                .map_or_else(|| "-".into(), |t| ago(now.saturating_duration_since(t).as_secs())),
            if r.cost_usd > 0.0 { crate::money::usd(r.cost_usd) } else { "-".into() },
            if r.tokens > 0 { super::header::tokens_label(r.tokens) } else { "-".into() },
            r.branch.clone().unwrap_or_else(|| "-".into()),
        ];
        for (text, (_, w)) in figures.iter().zip(FIXED).take(self.fixed) {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(pad(text, w), Style::default().fg(Color::Gray)));
        }
        Line::from(spans)
    }
}

/// `text` made safe, on one line, cut or padded to exactly `width` columns.
fn pad(text: &str, width: usize) -> String {
    let one_line = sanitize(text).replace('\n', " ");
    let cut = truncate(&one_line, width);
    let fill = width.saturating_sub(display_width(&cut));
    format!("{cut}{}", " ".repeat(fill))
}

fn ago(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::app::fixtures::{screen, state};
    use crate::app::overview;
    use crate::app::state::{Overlay, TurnState};
    use crate::app::State;

    fn team(names: &[String], size: (u16, u16)) -> State {
        let agents: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "worker")).collect();
        let mut s = state(false, &agents, size);
        overview::open(&mut s);
        s
    }

    /// A team in every state: running, failed and unread, finished and unread, idle, with
    /// costs, tokens and a name too long for its column.
    fn mixed(size: (u16, u16)) -> State {
        let names: Vec<String> = [
            "api",
            "web",
            "a-name-far-too-long-for-any-column-of-the-overview",
            "docs",
            "日本語の名前",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut s = team(&names, size);
        let now = s.now;
        s.agents[0].turn = TurnState::Running { since: now };
        s.agents[0].last_activity = Some(now - Duration::from_secs(3));
        s.agents[0].cost_usd = 0.42;
        s.agents[0].tokens = 12_345;
        s.agents[1].turn =
            TurnState::Error { message: "error_max_turns: \u{1b}[31mran out\u{7}".into() };
        s.agents[1].unread = true;
        s.agents[1].ended_at = Some(now - Duration::from_secs(120));
        s.agents[1].last_activity = Some(now - Duration::from_secs(120));
        s.agents[2].unread = true;
        s.agents[2].ended_at = Some(now - Duration::from_secs(30));
        s.agents[2].last_activity = Some(now - Duration::from_secs(7200));
        s
    }

    #[test]
    fn overview_snapshots() {
        insta::assert_snapshot!("overview_mixed_120x14", screen(&mixed((120, 14))));
        insta::assert_snapshot!("overview_mixed_60x12", screen(&mixed((60, 12))));
        insta::assert_snapshot!("overview_no_agents_80x8", screen(&team(&[], (80, 8))));
        insta::assert_snapshot!(
            "overview_one_agent_80x8",
            screen(&team(&["solo".into()], (80, 8)))
        );
        let mut filtered = mixed((100, 10));
        if let Some(Overlay::Overview(o)) = &mut filtered.overlay {
            o.lens.filter = "zzz".into();
        }
        insta::assert_snapshot!("overview_filtered_to_nothing_100x10", screen(&filtered));
    }

    #[test]
    fn a_thousand_agents_page_around_the_selection() {
        let names: Vec<String> = (1..=1000).map(|i| format!("w-{i}")).collect();
        let mut s = team(&names, (100, 16));
        s.agents[999].unread = true;
        s.agents[999].ended_at = Some(s.now);
        insta::assert_snapshot!("overview_1000_agents_100x16", screen(&s));
        if let Some(Overlay::Overview(o)) = &mut s.overlay {
            o.pick = Some(overview::Pick::Agent(s.agents[500].id));
        }
        let shown = screen(&s);
        assert!(shown.contains("w-501"), "{shown}");
        assert!(shown.contains("1000 agents · 1 need you"), "{shown}");
    }
}
