//! A pane's header line: name, state, queue and warnings, worktree, model, cost, tokens, turns,
//! context window use, billing, role, session. When the line is too narrow fields drop from the right (display
//! order is priority order), then the name is cut with an ellipsis.

use std::time::Duration;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::agent::Billing;
use crate::app::state::{Agent, TurnState, SPINNER, SPINNER_FRAME};
use crate::app::State;
use crate::control::proto::AgentState;

struct Segment {
    text: String,
    style: Style,
    /// Higher stays longer.
    priority: u8,
}

const SEP: &str = " · ";

pub fn elapsed_label(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

pub fn tokens_label(n: u64) -> String {
    match n {
        0..=999 => format!("{n} tok"),
        1_000..=999_999 => format!("{:.1}k tok", n as f64 / 1e3),
        _ => format!("{:.1}M tok", n as f64 / 1e6),
    }
}

/// The model's own name, without "claude-" and without the window suffix (`[1m]`: the
/// context segment says the window).
fn short_model(m: &str) -> &str {
    let name = crate::app::query::split_model(m).0;
    name.strip_prefix("claude-").unwrap_or(name)
}

/// "1M", "200k": a context window's size.
pub fn window_label(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 100_000 == 0 => {
            format!("{}M", n as f64 / 1e6)
        }
        n if n >= 1_000 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The state segment's text and colour.
pub fn state_label(state: &State, agent: &Agent) -> (String, Style) {
    let word = crate::app::query::agent_state(state, agent);
    match word {
        AgentState::NeedsYou => {
            let style =
                Style::default().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD);
            (format!("⚠ {}", word.as_str()), style)
        }
        AgentState::Running => {
            let since = agent.turn.since().unwrap_or(state.now);
            let elapsed = state.now.saturating_duration_since(since);
            let frame = (elapsed.as_millis() / SPINNER_FRAME.as_millis()) as usize % SPINNER.len();
            // What a running turn is doing, where that says more than running.
            let what = match (
                &agent.turn,
                agent.progress.retrying,
                agent.progress.lifecycle.interrupt_requested(),
            ) {
                (_, _, true) => "stopping".to_string(),
                (_, Some(status), _) if status > 0 => format!("retry {status}"),
                (TurnState::Starting { .. }, _, _) => "starting".into(),
                _ => word.as_str().into(),
            };
            (
                format!("{} {what} {}", SPINNER[frame], elapsed_label(elapsed)),
                Style::default().fg(Color::Yellow),
            )
        }
        AgentState::Idle | AgentState::Unknown => {
            (word.as_str().into(), Style::default().fg(Color::Green))
        }
        AgentState::Failed => (format!("✗ {}", word.as_str()), Style::default().fg(Color::Red)),
        AgentState::Interrupted => (word.as_str().into(), Style::default().fg(Color::Yellow)),
        AgentState::RateLimited => (word.as_str().into(), Style::default().fg(Color::Magenta)),
        AgentState::Held => {
            // Why and until when: "held: 5h 91%, resumes 18:33".
            let hold = state.index_of(agent.id).and_then(|i| crate::app::governor::held(state, i));
            let text = hold.map_or_else(|| word.as_str().into(), |h| h.text(state.wall));
            (text, Style::default().fg(Color::Magenta))
        }
    }
}

/// The segments in display order, which is also their priority order: when the line is too
/// narrow they drop from the right, one at a time, so a field never outlives one to its left.
/// Name and state first, then what needs the user (queue, shared edits, limits), the
/// worktree, then the figures (model, cost, tokens, turns, billing), the role and the session.
fn segments(state: &State, agent: &Agent) -> Vec<Segment> {
    let dim = Style::default().fg(Color::Gray);
    let mut s = Vec::new();
    // Sanitized here so widths are measured on what is drawn.
    let mut push = |text: String, style: Style| {
        let text = crate::render::sanitize(&text).into_owned();
        s.push(Segment { text, style, priority: 0 });
    };
    let name_style = Style::default().add_modifier(Modifier::BOLD).fg(if agent.supervisor {
        Color::Magenta
    } else {
        Color::White
    });
    let mark = if agent.supervisor { "◆ " } else { "" };
    push(format!("{mark}{}", agent.spec.name), name_style);
    let (label, style) = state_label(state, agent);
    push(label, style);
    if !agent.queue.is_empty() {
        push(format!("queued {}", agent.queue.len()), Style::default().fg(Color::Cyan));
    }
    let shared = state.edits.warnings_for(&agent.spec.name);
    if !shared.is_empty() {
        push(super::diff::shared_warning(&shared), Style::default().fg(Color::Yellow));
    }
    if let Some(rl) = &agent.rate_limit {
        push(format!("limit {rl}"), Style::default().fg(Color::Magenta));
    }
    if let Some(tree) = &agent.tree {
        let text = match &tree.changes {
            Some(c) => super::diff::header_text(c),
            None => format!("⎇ {}", tree.wt.branch),
        };
        push(text, Style::default().fg(Color::Magenta));
    }
    // "<synthetic>" names the CLI's own error messages, not a model.
    if let Some(m) = agent.model.as_ref().filter(|m| !m.starts_with('<')) {
        push(short_model(m).to_string(), dim);
    }
    if agent.cost_usd > 0.0 {
        push(crate::money::usd(agent.cost_usd), dim);
    }
    if agent.tokens > 0 {
        push(tokens_label(agent.tokens), dim);
    }
    if agent.turns > 0 {
        // A turn is one prompt and its answer (the footers count the CLI's steps).
        let t =
            if agent.turns == 1 { "1 turn".to_string() } else { format!("{} turns", agent.turns) };
        push(t, dim);
    }
    if let Some(pct) = crate::app::query::context_percent(agent) {
        let style = match pct {
            0..=79 => dim,
            80..=94 => Style::default().fg(Color::Yellow),
            _ => Style::default().fg(Color::Red),
        };
        // A few tokens of a large window are some use, not none.
        let used = agent.context.is_some_and(|c| c.used > 0);
        let shown = if pct == 0 && used { "<1".to_string() } else { pct.to_string() };
        push(format!("ctx {shown}%{}", window_apart(agent)), style);
    } else if !window_apart(agent).is_empty() {
        // A window the model's name chose, before any use of it.
        push(format!("ctx {}", window_label(crate::app::query::context_window(agent))), dim);
    }
    let billing = match agent.billing_shown() {
        Billing::Subscription => "sub",
        Billing::Api => "api",
    };
    push(billing.into(), dim);
    if let Some(role) = agent.spec.role.as_ref().filter(|r| !r.is_empty()) {
        push(role.clone(), dim);
    }
    if let Some(id) = agent.confirmed_session() {
        push(id.chars().take(8).collect(), dim);
    }
    let n = s.len();
    for (i, seg) in s.iter_mut().enumerate() {
        seg.priority = u8::try_from(n - i).unwrap_or(u8::MAX);
    }
    s
}

/// " of 1M" when the agent's window is not the default one (its size is news then), else "".
fn window_apart(agent: &Agent) -> String {
    let window = crate::app::query::context_window(agent);
    if window == crate::app::query::DEFAULT_CONTEXT_WINDOW {
        String::new()
    } else {
        format!(" of {}", window_label(window))
    }
}

fn width_of(segs: &[Segment]) -> usize {
    segs.iter().map(|s| s.text.width()).sum::<usize>() + SEP.len() * segs.len().saturating_sub(1)
}

/// The header fitted to `width` cells.
pub fn header_line(state: &State, agent: &Agent, width: usize) -> Line<'static> {
    let mut segs = segments(state, agent);
    while width_of(&segs) > width && segs.len() > 1 {
        // Drop the least important segment (the last of equals).
        let Some((i, _)) = segs.iter().enumerate().rev().min_by_key(|(_, s)| s.priority) else {
            break;
        };
        segs.remove(i);
    }
    if width_of(&segs) > width {
        segs.truncate(1);
        segs[0].text = truncate(&segs[0].text, width);
    }
    let sep = Style::default().fg(Color::DarkGray);
    let mut spans = Vec::with_capacity(segs.len() * 2);
    for (i, seg) in segs.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(SEP, sep));
        }
        spans.push(Span::styled(seg.text, seg.style));
    }
    Line::from(spans)
}

/// Cut `s` to `width` cells, ending with "…" when cut. Wide characters never split.
pub fn truncate(s: &str, width: usize) -> String {
    let s = crate::render::sanitize(s);
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(elapsed_label(Duration::from_millis(12_300)), "12s");
        assert_eq!(elapsed_label(Duration::from_secs(65)), "1m05s");
        assert_eq!(elapsed_label(Duration::from_secs(7322)), "2h02m");
        assert_eq!(tokens_label(999), "999 tok");
        assert_eq!(tokens_label(12_345), "12.3k tok");
        assert_eq!(tokens_label(2_500_000), "2.5M tok");
    }

    fn plain(line: &Line<'_>) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    /// Narrowing drops fields from the right, never one while a later one stays.
    #[test]
    fn fields_drop_from_the_right_as_the_line_narrows() {
        use crate::app::fixtures::*;
        let mut s = state(false, &[("api", "backend")], (160, 48));
        full_turn(&mut s, 0, "go", "done", &sid(1));
        let a = &s.agents[0];
        let full = plain(&header_line(&s, a, 200));
        let fields: Vec<&str> = full.split(SEP).collect();
        assert_eq!(fields[0], "api");
        assert_eq!(fields[1], "idle");
        assert!(fields.contains(&"1 turn") && fields.contains(&"sub"), "{full}");
        let mut last = fields.len();
        for w in (0..=full.len()).rev() {
            let shown = plain(&header_line(&s, a, w));
            let n = shown.split(SEP).count();
            assert!(n <= last, "at {w}: {shown}");
            if n > 1 {
                assert_eq!(shown.split(SEP).collect::<Vec<_>>(), fields[..n], "at {w}");
            }
            last = n;
        }
    }

    /// The context figure: the last request's usage of the conversation itself (a subagent's
    /// is not its window) against the default window, then the live CLI's own count; yellow
    /// from 80 %, red from 95 %.
    #[test]
    fn the_header_shows_how_full_the_context_window_is() {
        use crate::agent::event::{Event, MessageEvent, Usage};
        use crate::app::fixtures::*;
        use crate::app::{update, Msg};
        let mut s = state(false, &[("api", "backend")], (100, 6));
        let id = s.agents[0].id;
        send(&mut s, 0, "go");
        update(&mut s, started(id, 1));
        let said = |input: u64, parent: Option<&str>| {
            Event::Assistant(MessageEvent {
                usage: Some(Usage {
                    input_tokens: input,
                    output_tokens: 1_000,
                    cache_creation_input_tokens: 0,
                    cache_read_input_tokens: 29_000,
                }),
                parent_tool_use_id: parent.map(str::to_owned),
                ..Default::default()
            })
        };
        let ctx = |s: &State| {
            let line = header_line(s, &s.agents[0], 200);
            let seg = plain(&line).split(SEP).find(|f| f.starts_with("ctx ")).map(str::to_owned);
            let colour = line
                .spans
                .iter()
                .find(|sp| sp.content.starts_with("ctx "))
                .and_then(|sp| sp.style.fg);
            (seg, colour)
        };
        assert_eq!(ctx(&s), (None, None), "nothing before any usage");
        update(&mut s, lines(id, 1, vec![init(&sid(1), "none"), said(20_000, None)]));
        assert_eq!(ctx(&s).0.as_deref(), Some("ctx 25%"));
        update(&mut s, lines(id, 1, vec![said(190_000, Some("toolu_1"))]));
        assert_eq!(ctx(&s).0.as_deref(), Some("ctx 25%"), "a subagent's request is not counted");
        update(&mut s, lines(id, 1, vec![said(140_000, None)]));
        assert_eq!(ctx(&s), (Some("ctx 85%".into()), Some(Color::Yellow)));
        update(&mut s, Msg::ContextUsage { agent: id, used: 960_000, window: 1_000_000 });
        // A window other than the default one is news: its size is shown.
        assert_eq!(ctx(&s), (Some("ctx 96% of 1M".into()), Some(Color::Red)));
        // The window the CLI named stays for the usage that comes next.
        update(&mut s, lines(id, 1, vec![said(70_000, None)]));
        assert_eq!(ctx(&s).0.as_deref(), Some("ctx 10% of 1M"));
        insta::assert_snapshot!(screen(&s));
    }

    /// The id agentmux proposes to a first turn names no conversation until the CLI reports
    /// it: a turn that failed at start shows none; the init event's id is shown at once.
    #[test]
    fn the_session_id_is_shown_once_the_cli_confirmed_it() {
        use crate::app::fixtures::*;
        use crate::app::update;
        let mut s = state(false, &[("api", "backend")], (160, 48));
        let fx = send(&mut s, 0, "go");
        let Some(crate::agent::SessionArg::New(proposed)) = session_arg(&fx) else {
            panic!("a first turn proposes a session")
        };
        let shown = |s: &State| plain(&header_line(s, &s.agents[0], 200));
        let prefix: String = proposed.chars().take(8).collect();
        assert!(!shown(&s).contains(&prefix), "starting: {}", shown(&s));
        let id = s.agents[0].id;
        update(&mut s, started(id, 1));
        update(&mut s, lines(id, 1, vec![text("error: bad flag")]));
        update(&mut s, exited(id, 1, 1));
        assert!(matches!(s.agents[0].turn, TurnState::Error { .. }));
        assert!(!shown(&s).contains(&prefix), "failed at start: {}", shown(&s));
        assert_eq!(s.agents[0].summary().session, None, "nor handed out");
        // The next turn reaches the CLI: its init names the session.
        send(&mut s, 0, "again");
        update(&mut s, lines(id, 2, vec![init(&sid(7), "none")]));
        assert!(shown(&s).ends_with(&sid(7)[..8]), "{}", shown(&s));
        assert_eq!(s.agents[0].summary().session, Some(sid(7)));
        // A result alone confirms it too.
        let mut s = state(false, &[("api", "backend")], (160, 48));
        send(&mut s, 0, "go");
        let id = s.agents[0].id;
        update(&mut s, lines(id, 1, vec![result(&sid(8), "success", 0.0)]));
        assert!(shown(&s).ends_with(&sid(8)[..8]), "{}", shown(&s));
    }

    /// The CLI names a 1M-token model `claude-opus-4-8[1m]`, the API `claude-opus-4-8`: the
    /// header shows the name and the window apart, and the window stays after the first answer.
    #[test]
    fn the_model_and_its_context_window_are_shown_apart() {
        use crate::agent::event::{Event, MessageEvent, Usage};
        use crate::app::fixtures::*;
        use crate::app::update;
        let mut s = state(false, &[("api", "backend")], (160, 48));
        let id = s.agents[0].id;
        send(&mut s, 0, "go");
        let mut init = init(&sid(1), "none");
        if let Event::System(sys) = &mut init {
            if let crate::agent::event::SystemKind::Init(i) = &mut sys.kind {
                i.model = Some("claude-opus-4-8[1m]".into());
            }
        }
        update(&mut s, lines(id, 1, vec![init]));
        let fields = |s: &State| -> Vec<String> {
            let line = plain(&header_line(s, &s.agents[0], 200));
            line.split(SEP).map(str::to_owned).collect()
        };
        let shown = fields(&s);
        assert!(shown.contains(&"opus-4-8".to_string()), "{shown:?}");
        assert!(shown.contains(&"ctx 1M".to_string()), "{shown:?}");
        assert!(!shown.iter().any(|f| f.contains('[')), "{shown:?}");
        let answer = Event::Assistant(MessageEvent {
            model: Some("claude-opus-4-8".into()),
            usage: Some(Usage { input_tokens: 120_000, ..Default::default() }),
            ..Default::default()
        });
        update(&mut s, lines(id, 1, vec![answer]));
        let shown = fields(&s);
        assert!(shown.contains(&"opus-4-8".to_string()), "{shown:?}");
        assert!(shown.contains(&"ctx 12% of 1M".to_string()), "{shown:?}");
    }

    #[test]
    fn model_names_and_the_window_their_suffix_selects() {
        use crate::app::query::{reported_model, split_model};
        let cases = [
            ("claude-opus-4-8[1m]", ("claude-opus-4-8", Some(1_000_000))),
            ("claude-sonnet-4-5[200K]", ("claude-sonnet-4-5", Some(200_000))),
            ("claude-sonnet-4-5", ("claude-sonnet-4-5", None)),
            ("opus[x]", ("opus[x]", None)),
            ("opus[0m]", ("opus[0m]", None)),
            ("[1m]", ("", Some(1_000_000))),
        ];
        for (model, want) in cases {
            assert_eq!(split_model(model), want, "{model}");
        }
        assert_eq!(
            reported_model(Some("claude-opus-4-8[1m]"), "claude-opus-4-8"),
            "claude-opus-4-8[1m]"
        );
        assert_eq!(
            reported_model(Some("claude-opus-4-8[1m]"), "claude-haiku-4-5"),
            "claude-haiku-4-5"
        );
        assert_eq!(reported_model(None, "claude-opus-4-8"), "claude-opus-4-8");
        assert_eq!(window_label(1_000_000), "1M");
        assert_eq!(window_label(1_500_000), "1.5M");
        assert_eq!(window_label(200_000), "200k");
    }

    /// The CLI's own error messages carry the model "<synthetic>": never a header field.
    #[test]
    fn a_synthetic_model_is_not_shown() {
        use crate::app::fixtures::*;
        let mut s = state(false, &[("api", "backend")], (160, 48));
        s.agents[0].model = Some("<synthetic>".into());
        let shown = plain(&header_line(&s, &s.agents[0], 200));
        assert!(!shown.contains("synthetic"), "{shown}");
    }

    #[test]
    fn truncation_respects_wide_characters() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello", 4), "hel…");
        assert_eq!(truncate("日本語テキスト", 6), "日本…");
        assert_eq!(truncate("日本語", 1), "…");
        assert_eq!(truncate("abc", 0), "");
        for w in 0..10 {
            assert!(truncate("日本語テキスト", w).width() <= w);
        }
    }
}
