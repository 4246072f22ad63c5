//! The supervisor's pane: an agent pane marked as the team's lead (◆, magenta), placed in a
//! column of its own by the layout, with the team board at the top of its body: a table of the
//! agents (state, turns, cost, last activity), the last lines of the relay log (who sent what to
//! whom, when) and, when a guard rail stopped the relay, which one and why.

use crate::render::sanitize::{clean_line, put_line, put_str};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::header::truncate;
use crate::app::query::agent_state;
use crate::app::state::Agent;
use crate::app::State;
use crate::control::proto::AgentState;
use crate::layout::Placed;
use crate::render::wrap::{wrap_text, WrapMode};
use crate::supervisor::{Supervision, BOARD_LOG_LINES};

pub fn render(state: &State, placed: &Placed, buf: &mut Buffer) {
    super::pane::render(state, placed, buf);
    let (Some(agent), Some(sup)) = (state.agents.get(placed.pane), &state.supervision) else {
        return;
    };
    if placed.collapsed || !agent.supervisor {
        return;
    }
    // `State::pane_parts` moved the body (and the plan above it) down by the board's rows:
    // draw in the gap.
    let below = state.pane_parts(placed).plan;
    let full = layout_body(state, placed);
    let rows = below.y.saturating_sub(full.y);
    if rows == 0 {
        return;
    }
    let area = Rect { y: full.y, height: rows, ..full };
    draw_board(state, sup, area, buf);
}

/// The body as the pane's own layout has it, before the board took its top.
fn layout_body(state: &State, placed: &Placed) -> Rect {
    let agent = state.agents.get(placed.pane);
    let queued = agent.map_or(0, |a| a.queue.len());
    let input = match agent {
        Some(a) if placed.pane == state.focus => a.input.lines().len(),
        _ => 0,
    };
    crate::layout::pane_parts(placed.rect, placed.collapsed, queued, input).body
}

fn state_style(s: AgentState) -> Style {
    match s {
        AgentState::Running => Style::default().fg(Color::Cyan),
        AgentState::NeedsYou => Style::default().fg(Color::Black).bg(Color::Yellow),
        AgentState::Failed | AgentState::RateLimited => Style::default().fg(Color::Red),
        AgentState::Interrupted | AgentState::Held => Style::default().fg(Color::Yellow),
        AgentState::Idle | AgentState::Unknown => Style::default().fg(Color::Gray),
    }
}

/// Which of the optional columns fit: a narrow pane drops LAST, then TURNS.
#[derive(Clone, Copy)]
struct Columns {
    turns: bool,
    last: bool,
}

impl Columns {
    /// The widest set whose rows fit `width` (AGENT, STATE and COST always stay).
    fn fitting(widths: &[usize; 4], width: usize) -> Self {
        // Each column is followed by one space; LAST is "HH:MM:SS".
        let base = widths[0] + widths[1] + widths[3] + 3;
        let turns = widths[2] + 1;
        if base + turns + 8 <= width {
            Columns { turns: true, last: true }
        } else if base + turns <= width {
            Columns { turns: true, last: false }
        } else {
            Columns { turns: false, last: false }
        }
    }
}

fn row(
    state: &State,
    agent: &Agent,
    sup: &Supervision,
    widths: &[usize; 4],
    cols: Columns,
) -> Line<'static> {
    let standing = agent_state(state, agent);
    let last =
        agent.last_activity.map_or_else(|| "-".to_string(), |t| sup.clock(state.wall_ms_at(t)));
    let pad = |s: &str, w: usize| format!("{s:<w$} ");
    let name = if agent.supervisor { format!("◆ {}", agent.name()) } else { agent.name().into() };
    let mut spans = vec![
        Span::styled(pad(&name, widths[0]), Style::default().add_modifier(Modifier::BOLD)),
        Span::styled(pad(standing.as_str(), widths[1]), state_style(standing)),
    ];
    if cols.turns {
        spans.push(Span::raw(format!("{:>w$} ", agent.turns, w = widths[2])));
    }
    spans.push(Span::raw(format!("{:>w$} ", crate::money::usd(agent.cost_usd), w = widths[3])));
    if cols.last {
        spans.push(Span::styled(last, Style::default().fg(Color::DarkGray)));
    }
    Line::from(spans)
}

fn draw_board(state: &State, sup: &Supervision, area: Rect, buf: &mut Buffer) {
    let dim = Style::default().fg(Color::DarkGray);
    let width = usize::from(area.width);
    // Columns as wide as their widest cell: the supervisor's column is narrow.
    let widest = |title: &str, cells: &mut dyn Iterator<Item = usize>| {
        cells.chain([title.chars().count()]).max().unwrap_or(0)
    };
    let agents = &state.agents;
    let widths = [
        widest(
            "AGENT",
            &mut agents.iter().map(|a| a.name().chars().count() + if a.supervisor { 2 } else { 0 }),
        ),
        widest("STATE", &mut agents.iter().map(|a| agent_state(state, a).as_str().len())),
        widest("TURNS", &mut agents.iter().map(|a| a.turns.to_string().len())),
        widest("COST", &mut agents.iter().map(|a| crate::money::usd(a.cost_usd).len())),
    ];
    let cols = Columns::fitting(&widths, width);
    let mut header = format!("{:<w0$} {:<w1$} ", "AGENT", "STATE", w0 = widths[0], w1 = widths[1]);
    if cols.turns {
        header.push_str(&format!("{:>w$} ", "TURNS", w = widths[2]));
    }
    header.push_str(&format!("{:>w$} ", "COST", w = widths[3]));
    if cols.last {
        header.push_str("LAST");
    }
    let mut table: Vec<Line<'static>> = vec![Line::styled(header.trim_end().to_string(), dim)];
    table.extend(state.agents.iter().map(|a| row(state, a, sup, &widths, cols)));

    let supervisor = sup.relay.supervisor();
    let log: Vec<Line<'static>> = {
        let n = sup.relay.log().len();
        sup.relay
            .log()
            .skip(n.saturating_sub(BOARD_LOG_LINES))
            .map(|e| {
                Line::from(vec![
                    Span::styled(format!("{} ", sup.clock(e.at)), dim),
                    Span::raw(e.line(supervisor)),
                ])
            })
            .collect()
    };
    let mut stop: Vec<Line<'static>> = Vec::new();
    if let Some(s) = sup.relay.stopped() {
        let style = Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD);
        let first = [Span::styled("⚠ ", style)];
        let rest = [Span::raw("  ")];
        wrap_text(&s.note(), style, area.width, &first, &rest, WrapMode::Word, &mut stop);
        let keep = sup.stop_rows(area.width);
        if stop.len() > keep {
            stop.truncate(keep);
            if let Some(last) = stop.last_mut() {
                last.spans.push(Span::styled("…", style));
            }
        }
    }

    // The last row is the rule; when rows are short, the stop note stays, then the table, then
    // the newest log lines.
    let room = usize::from(area.height.saturating_sub(1));
    let stop_rows = stop.len().min(room);
    // A header without a single agent row says nothing.
    let table_rows = match table.len().min(room - stop_rows) {
        n if n < 2 => 0,
        n => n,
    };
    let log_rows = log.len().min(room - stop_rows - table_rows);
    // Agents that do not fit are counted on the last row rather than cut silently.
    if table_rows >= 2 && table_rows < table.len() {
        let hidden = table.len() - table_rows + 1;
        let more = format!("+{hidden} more");
        table[table_rows - 1] = Line::styled(more, dim);
    }
    let lines = table
        .into_iter()
        .take(table_rows)
        .chain(log.into_iter().rev().take(log_rows).rev())
        .chain(stop.into_iter().take(stop_rows));
    for (i, line) in lines.map(clean_line).enumerate() {
        let y = area.y + i as u16;
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        if unicode_width::UnicodeWidthStr::width(text.as_str()) > width {
            // One style for a cut line: simpler than cutting span by span.
            let style = line.spans.last().map(|s| s.style).unwrap_or_default();
            put_str(buf, area.x, y, truncate(&text, width), line.style.patch(style));
        } else {
            put_line(buf, area.x, y, &line, area.width);
        }
    }
    let rule_y = area.y + area.height - 1;
    put_str(buf, area.x, rule_y, "─".repeat(width), dim);
    put_str(
        buf,
        area.x + 1.min(area.width),
        rule_y,
        truncate(" conversation ", width.saturating_sub(1)),
        dim,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures;
    use crate::app::state::TurnState;
    use crate::control::proto::{TurnOutcome, TurnReport};
    use crate::supervisor::{RelayAction, RelayLimits, TaskId};

    fn screen(state: &mut State, w: u16, h: u16) -> String {
        state.size = (w, h);
        fixtures::screen(state)
    }

    fn report(agent: &str, outcome: TurnOutcome, cost: f64) -> TurnReport {
        TurnReport {
            agent: agent.into(),
            outcome,
            detail: None,
            result: Some("done".into()),
            cost_usd: Some(cost),
        }
    }

    /// A lead and two workers after one relay round and a stopped second one.
    fn supervised() -> State {
        let mut s = fixtures::state(true, &[("api", "backend"), ("web", "frontend")], (120, 40));
        s.agents[1].turns = 2;
        s.agents[1].cost_usd = 0.0412;
        s.agents[2].turn = TurnState::Error { message: "max turns".into() };
        s.agents[2].turns = 1;
        let Some(sup) = s.supervision.as_mut() else { panic!("a supervisor") };
        // 10:41:00 UTC
        let t0 = 38_460_000;
        // One relayed turn a minute: the second round is stopped.
        let limits = RelayLimits { max_per_minute: 1, ..sup.relay.limits().clone() };
        sup.relay = crate::supervisor::Relay::new("lead", limits);
        let r = &mut sup.relay;
        let (a, b, c) = (TaskId(1), TaskId(2), TaskId(3));
        r.task_sent(a, "api", "Add a total count to the response", t0);
        r.task_sent(b, "web", "Add Prev/Next buttons", t0 + 1_000);
        r.turn_ended(a, &report("api", TurnOutcome::Success, 0.0123), t0 + 65_000);
        r.turn_ended(b, &report("web", TurnOutcome::Error, 0.02), t0 + 70_000);
        assert!(matches!(r.poll(t0 + 70_000, true, 0.0), Some(RelayAction::Turn(_))));
        r.task_sent(c, "web", "Try again", t0 + 80_000);
        r.turn_ended(c, &report("web", TurnOutcome::Error, 0.01), t0 + 90_000);
        assert!(matches!(r.poll(t0 + 90_000, true, 0.0), Some(RelayAction::Stopped(_))));
        s.wall_ms = t0 + 90_000;
        s.agents[1].last_activity = Some(s.now - std::time::Duration::from_secs(25));
        s.agents[2].last_activity = Some(s.now - std::time::Duration::from_secs(20));
        s
    }

    #[test]
    fn the_supervisor_pane_shows_the_team_the_relay_log_and_why_it_stopped() {
        let mut state = supervised();
        let text = screen(&mut state, 120, 40);
        insta::assert_snapshot!("supervisor_board_120x40", text);
        assert!(text.contains("AGENT"), "{text}");
        assert!(text.contains("max_relays_per_minute is 1"), "{text}");
    }

    #[test]
    fn a_short_pane_keeps_the_stop_note_and_the_conversation() {
        let mut state = supervised();
        let text = screen(&mut state, 80, 16);
        insta::assert_snapshot!("supervisor_board_80x16", text);
        assert!(text.contains("⚠ Relay stopped"), "{text}");
    }

    /// In a short pane with more agents than rows, the board says how many it left out, and
    /// a narrow pane drops the LAST column instead of cutting it.
    #[test]
    fn a_small_board_says_what_it_leaves_out() {
        let mut s = fixtures::state(
            true,
            &[
                ("backend", "api"),
                ("frontend", "web"),
                ("tests", "qa"),
                ("docs", "writer"),
                ("ops", "deploys"),
                ("design", "ux"),
                ("perf", "profiling"),
            ],
            (80, 24),
        );
        s.agents[1].cost_usd = 0.0412;
        let text = screen(&mut s, 80, 14);
        insta::assert_snapshot!("supervisor_board_80x14", text);
        assert!(text.contains(" more"), "{text}");
        assert!(!text.contains("LAST"), "{text}");
        assert!(!text.contains("10…"), "{text}");
    }

    /// At 120x30 the lead's own status table fits its narrow column: words stay whole, and
    /// the summary column, cut to its room, ends its words with "…".
    #[test]
    fn the_leads_status_table_keeps_its_words_whole_at_120x30() {
        let mut state = supervised();
        let table = "Status:\n\n| worker | status | cost | summary |\n|---|---|--:|---|\n| api | success | $0.0123 | total count added to the response |\n| web | error | $0.0300 | stopped by the relay limit |";
        fixtures::full_turn(&mut state, 0, "How is the team doing?", table, &fixtures::sid(9));
        let text = screen(&mut state, 120, 30);
        insta::assert_snapshot!("supervisor_status_table_120x30", text);
        for word in ["success", "$0.0123", "error", "stopped", "respon…"] {
            assert!(text.contains(word), "{word} broken:\n{text}");
        }
    }

    #[test]
    fn the_board_takes_the_top_of_the_body_and_the_conversation_keeps_the_rest() {
        let state = supervised();
        let placed = state.tiling().placed.into_iter().find(|p| p.pane == 0);
        let Some(placed) = placed else { panic!("the supervisor is on screen") };
        let body = state.pane_parts(&placed).body;
        let full = layout_body(&state, &placed);
        assert!(body.y > full.y && body.bottom() == full.bottom(), "{full:?} {body:?}");
        // 1 header + 3 agents + 4 log lines + 5 rows of stop note + the rule.
        assert_eq!(body.y - full.y, 14);
    }
}
