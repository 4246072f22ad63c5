//! The hint line at the bottom: the few bindings that matter now (from the keymap), or a short
//! note; on the right, the layout, page and what runs.

use crate::render::sanitize::{put_line, put_str};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use super::header::truncate;
use crate::app::{Command, Context, State};

/// Whether a hint is worth its room in the current state.
fn relevant(state: &State, command: Command) -> bool {
    let focused = state.focused();
    // With no agent there is nothing to send to, scroll, lay out or expand.
    if state.agents.is_empty() {
        return matches!(command, Command::NewAgent | Command::Help | Command::Quit);
    }
    match command {
        Command::Interrupt => focused.is_some_and(|a| a.turn.is_active()),
        Command::EditQueued | Command::CancelQueued => focused.is_some_and(|a| !a.queue.is_empty()),
        Command::PickQueuedPrev => focused.is_some_and(|a| a.queue.len() > 1),
        Command::Send | Command::Newline => focused.is_some(),
        Command::FocusNext => state.agents.len() > 1,
        Command::Zoom => !state.agents.is_empty(),
        Command::PageUp => focused.is_some_and(|a| !a.transcript.is_empty()),
        Command::NextApproval => state.approvals.waiting() > 0,
        // Approvals alone have their own key (next-approval).
        Command::Inbox => state.agents.iter().any(|a| a.unread),
        // Offered when the team does not fit on one screen of tiles.
        Command::Overview => state.tiling().pages > 1,
        Command::ResumeTurn => focused.is_some_and(|a| a.resumable || a.held),
        // Only a screen attached to a server has anything to detach from.
        Command::Detach => state.served,
        Command::AllowDenied => {
            focused.is_some_and(|a| !state.approvals.denials_of(a.id).is_empty())
        }
        _ => true,
    }
}

/// The hints of the keys that work now. While the focused pane waits for an answer, the
/// approval chords first, then (letters still typing into the input) the pane's own keys; while
/// a denial's message is written, only sending and leaving it.
fn hints(state: &State) -> Vec<(String, &'static str)> {
    let ctx = state.key_context();
    if ctx != Context::Approval {
        return state.keymap.hints(ctx, |c| relevant(state, c));
    }
    let composing = state.approvals.composing;
    let overflows = call_overflows(state);
    let options = crate::app::question::option_keys(state);
    let mut out = state.keymap.hints(ctx, |c| match c {
        Command::Send | Command::Close => composing,
        Command::PageDown => overflows,
        Command::AllowAlways => !composing && crate::app::approvals::focused_has_rules(state),
        Command::ChoiceUp | Command::ChoiceDown => options.is_some(),
        Command::Tick => options == Some(true),
        _ => !composing,
    });
    relabel_for(state, &mut out);
    if !composing {
        // A pane key the approval takes first is not the pane's while the call waits.
        let taken = |a: Command| match a {
            Command::Send | Command::Close => false,
            Command::PageUp | Command::PageDown => overflows,
            Command::ChoiceUp | Command::ChoiceDown | Command::Tick => options.is_some(),
            _ => true,
        };
        let shadowed = |c: Command| {
            let keys = state.keymap.keys(Context::Pane, c);
            keys.iter().any(|k| state.keymap.resolve_spec(Context::Approval, *k).is_some_and(taken))
        };
        out.extend(state.keymap.hints(Context::Pane, |c| relevant(state, c) && !shadowed(c)));
    }
    out
}

/// A plan is approved or rejected and a question answered or dismissed, not allowed or denied:
/// the same keys, their own words.
fn relabel_for(state: &State, hints: &mut [(String, &'static str)]) {
    let focused = state.focused().and_then(|a| state.approvals.first_for(a.id));
    let words = match focused.map(|p| p.ask.asking()) {
        Some(crate::approval::Asking::Plan) => [
            (Command::AllowOnce, "approve"),
            (Command::Deny, "reject"),
            (Command::Send, "reject with this reason"),
        ],
        Some(crate::approval::Asking::Question) => [
            (Command::AllowOnce, "answer"),
            (Command::Deny, "dismiss"),
            (Command::Send, "dismiss with this reason"),
        ],
        _ => return,
    };
    for (key, label) in hints.iter_mut() {
        for (command, word) in words {
            if state.keymap.key_label(Context::Approval, command).as_deref() == Some(key) {
                *label = word;
            }
        }
    }
}

/// Whether the focused pane's waiting call is longer than its box (the page keys scroll it).
fn call_overflows(state: &State) -> bool {
    let Some(a) = state.focused() else { return false };
    let (Some(p), Some(body)) = (state.approvals.first_for(a.id), state.body_rect(state.focus))
    else {
        return false;
    };
    let desired = super::approval::desired_height(p, body.width);
    desired > crate::approval::show::box_height(desired, body.height)
}

/// Rows the hint line takes: two while a note is too long for one (it is wrapped over the row
/// above, the panes' bottom edge, until the next key, rather than cut), else one.
pub fn height(state: &State, width: u16) -> u16 {
    match &state.flash {
        Some(flash) if flash.width() > usize::from(width) => 2,
        _ => 1,
    }
}

pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    if let (Some(flash), true) = (&state.flash, area.height > 1) {
        Clear.render(area, buf);
        Paragraph::new(crate::render::sanitize(flash))
            .style(Style::default().fg(Color::Yellow))
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let width = usize::from(area.width);
    let right = right_side(state);
    let right_w = right.width();
    let left_room = width.saturating_sub(if right_w + 2 <= width / 2 { right_w + 2 } else { 0 });
    if let Some(flash) = &state.flash {
        let text = truncate(flash, left_room);
        put_str(buf, area.x, area.y, text, Style::default().fg(Color::Yellow));
    } else {
        let key_style = Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD);
        let label_style = Style::default().fg(Color::Gray);
        let mut spans = Vec::new();
        let all = hints(state);
        let label = |c| state.keymap.key_label(Context::Pane, c);
        // While a call waits its answers matter most; otherwise help and quit.
        let kept = match state.key_context() {
            Context::Approval => [None, None],
            _ => [label(Command::Help), label(Command::Quit)],
        };
        let keep: Vec<bool> = all.iter().map(|(k, _)| kept.contains(&Some(k.clone()))).collect();
        let widths: Vec<usize> = all.iter().map(|(k, l)| k.width() + 1 + l.width()).collect();
        let shown = fit_hints(&widths, &keep, left_room);
        for ((key, label), _) in all.into_iter().zip(shown).filter(|(_, show)| *show) {
            if !spans.is_empty() {
                spans.push(Span::raw("  "));
            }
            spans.push(Span::styled(key, key_style));
            spans.push(Span::styled(format!(" {label}"), label_style));
        }
        put_line(buf, area.x, area.y, &Line::from(spans), area.width);
    }
    if right_w + 2 <= width / 2 {
        let x = area.x + area.width - right_w as u16;
        put_line(buf, x, area.y, &right, right_w as u16);
    }
}

/// Which hints fit in `room` columns (two between each): the `keep` ones (help and quit, the
/// keys a newcomer needs most) first, then the others in their order while they fit.
fn fit_hints(widths: &[usize], keep: &[bool], room: usize) -> Vec<bool> {
    let mut shown = vec![false; widths.len()];
    let mut used = 0;
    let take = |i: usize, used: &mut usize, shown: &mut Vec<bool>| {
        let w = widths[i] + if *used == 0 { 0 } else { 2 };
        if *used + w <= room {
            *used += w;
            shown[i] = true;
            true
        } else {
            false
        }
    };
    for i in (0..widths.len()).filter(|&i| keep[i]) {
        take(i, &mut used, &mut shown);
    }
    for i in (0..widths.len()).filter(|&i| !keep[i]) {
        if !take(i, &mut used, &mut shown) {
            break;
        }
    }
    shown
}

/// The right side: the usage windows (coloured as they near their limits), then the layout,
/// page and what runs.
fn right_side(state: &State) -> Line<'static> {
    let dim = Style::default().fg(Color::DarkGray);
    let now = state.time();
    let mut spans = Vec::new();
    for w in state.limits.at(now) {
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", dim));
        }
        spans.push(Span::styled(crate::limits::window_text(&w, now), level_style(w.level())));
    }
    let rest = plain_parts(state);
    if !rest.is_empty() {
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", dim));
        }
        spans.push(Span::styled(rest, dim));
    }
    Line::from(spans)
}

pub fn level_style(level: crate::limits::Level) -> Style {
    use crate::limits::Level;
    match level {
        Level::Unknown | Level::Fine => Style::default().fg(Color::Gray),
        Level::Near => Style::default().fg(Color::Yellow),
        Level::Warning => Style::default().fg(Color::LightRed),
        Level::Rejected => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

fn plain_parts(state: &State) -> String {
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
    // The inbox's count, once it holds more than approvals (those are counted just above).
    let rows = crate::app::overview::rows(state);
    let need_you = crate::app::overview::inbox(&rows).len();
    let asking = rows.iter().filter(|r| state.approvals.first_for(r.id).is_some()).count();
    if need_you > asking {
        parts.push(format!("{need_you} need you"));
    }
    let running = state.running();
    if running > 0 {
        parts.push(format!("{running} running"));
    }
    let cost = crate::agent::event::sum_costs(state.agents.iter().map(|a| a.cost_usd));
    if cost > 0.0 {
        parts.push(crate::money::usd(cost));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::fit_hints;
    use crate::app::fixtures::state;

    #[test]
    fn help_and_quit_stay_when_the_line_is_short() {
        // widths of: enter send, tab focus, f1 help, ctrl-q quit, alt-s layout
        let widths = [10, 9, 7, 11, 12];
        let keep = [false, false, true, true, false];
        let cases: [(usize, [bool; 5]); 4] = [
            (100, [true, true, true, true, true]),
            (7 + 2 + 11 + 2 + 10, [true, false, true, true, false]),
            (20, [false, false, true, true, false]),
            (8, [false, false, true, false, false]),
        ];
        for (room, want) in cases {
            assert_eq!(fit_hints(&widths, &keep, room), want, "{room}");
        }
    }

    #[test]
    fn a_long_note_wraps_over_two_rows_instead_of_being_cut() {
        let mut s = state(false, &[("api", "backend")], (100, 10));
        let note = "removed the worktree at /tmp/qawt/.git/agentmux-worktrees/api; branch \
                    agentmux/api is kept (delete it separately if you no longer need it)";
        s.flash = Some(note.into());
        assert_eq!(super::height(&s, 100), 2);
        let mut t = Terminal::new(TestBackend::new(100, 10)).unwrap_or_else(|e| panic!("{e}"));
        t.draw(|f| crate::ui::view(&s, f)).unwrap_or_else(|e| panic!("{e}"));
        let buf = t.backend().buffer();
        let rows: Vec<String> = (0..10)
            .map(|y| (0..100).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().into())
            .collect();
        let text = rows.join("\n");
        assert!(text.contains("if you no longer need it)"), "{text}");
        insta::assert_snapshot!(text);
        // A short note keeps to the one hint line.
        s.flash = Some("nothing queued".into());
        assert_eq!(super::height(&s, 100), 1);
    }
}
