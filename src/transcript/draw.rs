//! A cell as lines at a width.
//!
//! Pure: the same cell, neighbour and width always give the same lines, which is what lets
//! the view cache heights per width and re-render only what changed.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::cell::{Cell, CellKind, Note, NoteLevel, TextBlock, ToolCall, TurnFooter, TurnStatus};
use super::tool::{is_subagent_tool, summarize};
use crate::render::markdown::render_markdown;
use crate::render::wrap::{
    display_width, truncate, truncate_left, wrap_spans, wrap_text, WrapMode,
};

pub mod style {
    use super::*;

    pub fn dim() -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }
    pub fn prompt_marker() -> Style {
        Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn error() -> Style {
        Style::default().fg(Color::Red)
    }
    pub fn warn() -> Style {
        Style::default().fg(Color::Yellow)
    }
    pub fn ok() -> Style {
        Style::default().fg(Color::Green)
    }
    pub fn tool_name() -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn nest() -> Style {
        Style::default().fg(Color::DarkGray)
    }
    pub fn thinking() -> Style {
        Style::default().add_modifier(Modifier::DIM | Modifier::ITALIC)
    }
}

/// Columns a nesting level takes.
const NEST: &str = "│ ";

/// Does this cell start with a blank line, given the cell before it?
pub fn has_margin(cell: &Cell, prev: Option<&Cell>) -> bool {
    let Some(prev) = prev else {
        return false;
    };
    if cell.depth > 0 {
        return false;
    }
    match &cell.kind {
        CellKind::Prompt(_) | CellKind::Assistant(_) | CellKind::Error(_) => true,
        CellKind::Footer(_) => true,
        // A run of tool calls and thinking stays compact.
        CellKind::Tool(_) | CellKind::Thinking(_) => {
            !matches!(prev.kind, CellKind::Tool(_) | CellKind::Thinking(_)) || prev.depth > 0
        }
        CellKind::Output(_) | CellKind::Note(_) => false,
    }
}

/// The width left for a cell's own content after its nesting guides.
pub fn content_width(cell: &Cell, width: u16) -> u16 {
    let nest = u16::from(cell.depth).saturating_mul(2);
    width.saturating_sub(nest).max(1)
}

/// The Markdown body of an assistant cell at its content width (the part streaming caches).
pub fn assistant_body(
    text: &str,
    content_width: u16,
    highlight: bool,
    out: &mut Vec<Line<'static>>,
) {
    render_markdown(text, content_width.saturating_sub(2).max(1), highlight, out);
}

/// Append `cell`'s lines at `width` to `out`. `body`, when given, is the already rendered
/// Markdown of an assistant cell (see `assistant_body`).
pub fn cell_lines(
    cell: &Cell,
    prev: Option<&Cell>,
    width: u16,
    highlight: bool,
    body: Option<&[Line<'static>]>,
    out: &mut Vec<Line<'static>>,
) {
    let start = out.len();
    if has_margin(cell, prev) {
        out.push(Line::default());
    }
    let w = content_width(cell, width);
    match &cell.kind {
        CellKind::Prompt(text) if super::report::parse(text).is_some() => {
            relay_prompt(text, cell.expanded, w, highlight, out)
        }
        CellKind::Prompt(text) => {
            let first = [Span::styled("› ", style::prompt_marker())];
            let rest = [Span::raw("  ")];
            let bold = Style::default().add_modifier(Modifier::BOLD);
            wrap_text(text.trim_end(), bold, w, &first, &rest, WrapMode::Word, out);
        }
        CellKind::Assistant(block) => assistant(block, w, highlight, body, out),
        CellKind::Thinking(block) => thinking(block, cell.expanded, w, out),
        CellKind::Tool(call) => tool(call, cell.expanded, w, out),
        CellKind::Output(text) => {
            let gutter = [Span::raw("  ")];
            wrap_text(text, style::dim(), w, &gutter, &gutter, WrapMode::Word, out);
        }
        CellKind::Note(note) => self::note(note, w, out),
        CellKind::Error(text) => error(text, cell.expanded, w, out),
        CellKind::Footer(footer) => self::footer(footer, w, out),
    }
    if cell.depth > 0 {
        for line in &mut out[start..] {
            line.spans.insert(0, nest_guide(cell.depth));
        }
    }
}

/// The guide before every line of a cell nested `depth` levels (a subagent's).
pub fn nest_guide(depth: u8) -> Span<'static> {
    Span::styled(NEST.repeat(usize::from(depth)), style::nest())
}

/// The gutter before an assistant body's line: the bullet on its first.
pub fn assistant_gutter(first: bool) -> Span<'static> {
    if first {
        Span::styled("● ", Style::default().fg(Color::White))
    } else {
        Span::raw("  ")
    }
}

/// A relay turn's prompt: its intro, then one line per worker report (worker, outcome, cost,
/// first line); expanded, each report's text as Markdown under its line.
fn relay_prompt(text: &str, expanded: bool, w: u16, highlight: bool, out: &mut Vec<Line<'static>>) {
    let Some((intro, reports)) = super::report::parse(text) else {
        return;
    };
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let first = [Span::styled("› ", style::prompt_marker())];
    let rest = [Span::raw("  ")];
    wrap_text(intro, bold, w, &first, &rest, WrapMode::Word, out);
    let arrow = if expanded { "  ▾ " } else { "  ▸ " };
    for r in &reports {
        let (worker, outcome) = r.head.split_once(": ").unwrap_or((r.head, ""));
        let failed = !outcome.starts_with("success");
        let outcome_style = if failed { style::error() } else { style::ok() };
        let lead = vec![
            Span::styled(arrow, style::dim()),
            Span::styled(format!("{worker} "), style::tool_name()),
            Span::styled(outcome.to_string(), outcome_style),
            Span::styled(" · ", style::dim()),
        ];
        out.push(one_line(lead, r.first_line(), style::dim(), Vec::new(), w));
        if expanded {
            let start = out.len();
            render_markdown(&r.body, w.saturating_sub(4).max(1), highlight, out);
            for line in &mut out[start..] {
                line.spans.insert(0, Span::raw("    "));
            }
        }
    }
}

fn assistant(
    block: &TextBlock,
    w: u16,
    highlight: bool,
    body: Option<&[Line<'static>]>,
    out: &mut Vec<Line<'static>>,
) {
    let start = out.len();
    match body {
        Some(lines) => out.extend_from_slice(lines),
        None => assistant_body(&block.text, w, highlight, out),
    }
    if out.len() == start {
        // Nothing yet (the first delta is on its way): keep the cell one line tall.
        out.push(Line::default());
    }
    for (i, line) in out[start..].iter_mut().enumerate() {
        line.spans.insert(0, assistant_gutter(i == 0));
    }
}

fn length_hint(chars: usize) -> String {
    if chars >= 1000 {
        format!("{:.1}k chars", chars as f64 / 1000.0)
    } else {
        format!("{chars} chars")
    }
}

fn thinking(block: &TextBlock, expanded: bool, w: u16, out: &mut Vec<Line<'static>>) {
    let chars = block.text.chars().count();
    let head = if block.streaming {
        "✻ thinking…".to_string()
    } else if chars == 0 {
        "✻ thought".to_string()
    } else if expanded {
        format!("✻ thinking ({})", length_hint(chars))
    } else {
        format!("✻ thinking… ({})", length_hint(chars))
    };
    out.push(Line::from(Span::styled(
        truncate(&head, usize::from(w)).into_owned(),
        style::thinking(),
    )));
    if expanded && !block.text.is_empty() {
        let gutter = [Span::raw("  ")];
        wrap_text(
            block.text.trim_end(),
            style::thinking(),
            w,
            &gutter,
            &gutter,
            WrapMode::Word,
            out,
        );
    }
}

/// How `one_line` cuts a text that does not fit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Keep the start: "cargo bu…".
    End,
    /// Keep the end, for paths: "…src/tasks.rs".
    Start,
}

/// One line that must not wrap: `fixed` spans are kept, `text` is cut to what is left.
fn one_line(
    lead: Vec<Span<'static>>,
    text: &str,
    text_style: Style,
    tail: Vec<Span<'static>>,
    w: u16,
) -> Line<'static> {
    one_line_cut(lead, text, text_style, tail, w, Cut::End)
}

fn one_line_cut(
    lead: Vec<Span<'static>>,
    text: &str,
    text_style: Style,
    tail: Vec<Span<'static>>,
    w: u16,
    cut: Cut,
) -> Line<'static> {
    let w = usize::from(w);
    let lead_w: usize = lead.iter().map(|s| display_width(&s.content)).sum();
    let tail_w: usize = tail.iter().map(|s| display_width(&s.content)).sum();
    let mut spans = Vec::new();
    let mut used = 0;
    for s in lead {
        let sw = display_width(&s.content);
        if used + sw > w {
            spans.push(Span::styled(truncate(&s.content, w - used).into_owned(), s.style));
            return Line::from(spans);
        }
        used += sw;
        spans.push(s);
    }
    let room = w.saturating_sub(lead_w + tail_w);
    let text = crate::render::sanitize(text);
    if room > 0 && !text.is_empty() {
        let shown = match cut {
            Cut::End => truncate(&text, room),
            Cut::Start => truncate_left(&text, room),
        };
        used += display_width(&shown);
        spans.push(Span::styled(shown.into_owned(), text_style));
    }
    for s in tail {
        let sw = display_width(&s.content);
        if used + sw > w {
            break;
        }
        used += sw;
        spans.push(s);
    }
    Line::from(spans)
}

fn tool(call: &ToolCall, expanded: bool, w: u16, out: &mut Vec<Line<'static>>) {
    let summary = summarize(&call.name, &call.input, call.cwd.as_deref());
    // The input is still streaming: the name alone until there is something to summarize.
    let input_pending = call.input.is_null()
        && call.result.is_none()
        && !call.unanswered
        && summary.text.is_empty();
    // A call the interrupt cut off did not fail: its result is the CLI's, not the tool's.
    let failed = !call.cut && call.result.as_ref().is_some_and(|r| r.is_error);
    let name_style = if call.denied || failed {
        style::tool_name().fg(Color::Red)
    } else if call.result.is_some() {
        style::tool_name()
    } else {
        style::tool_name().fg(Color::Yellow)
    };
    let arrow = if expanded { "▾ " } else { "▸ " };
    let name = if input_pending { call.name.clone() } else { format!("{} ", call.name) };
    let lead = vec![Span::styled(arrow, style::dim()), Span::styled(name, name_style)];
    let mut tail = Vec::new();
    // Counts of an edit whose input has not arrived would read "+0 -0".
    if let Some(added) = summary.added.filter(|_| !input_pending) {
        tail.push(Span::styled(format!(" +{added}"), style::ok()));
    }
    if let Some(removed) = summary.removed.filter(|_| !input_pending) {
        tail.push(Span::styled(format!(" -{removed}"), style::error()));
    }
    if call.denied {
        tail.push(Span::styled("  ⊘ denied", style::error()));
    } else if call.cut {
        tail.push(Span::styled("  ⊘ interrupted", style::warn()));
    } else if failed {
        tail.push(Span::styled("  ✗ error", style::error()));
    } else if call.unanswered && call.result.is_none() {
        tail.push(Span::styled("  no result", style::dim()));
    } else if call.result.is_none() && !is_subagent_tool(&call.name) && !input_pending {
        // A word, not a second "…" beside a truncated summary.
        tail.push(Span::styled("  running", style::dim()));
    }
    let cut = if summary.is_path { Cut::Start } else { Cut::End };
    out.push(one_line_cut(lead, &summary.text, Style::default(), tail, w, cut));

    if !expanded {
        // A failure says why on a second line, so it reads without expanding.
        if let Some(r) = call.result.as_ref().filter(|_| failed) {
            let first = r.content.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let lead = vec![Span::styled("  └ ", style::dim())];
            out.push(one_line(lead, first.trim(), style::error(), Vec::new(), w));
        } else if call.denied {
            let lead = vec![Span::styled("  └ ", style::dim())];
            out.push(one_line(lead, "permission denied", style::error(), Vec::new(), w));
        }
        return;
    }

    let indent = [Span::raw("  ")];
    tool_input(call, w, out);
    match &call.result {
        Some(r) => {
            out.push(Line::from(vec![Span::raw("  "), Span::styled("└ result", style::dim())]));
            let s = if failed { style::error() } else { style::dim() };
            let pad = [Span::raw("    ")];
            let content = r.content.trim_end_matches('\n');
            if content.is_empty() {
                out.push(Line::from(vec![
                    Span::raw("    "),
                    Span::styled("(empty)", style::dim()),
                ]));
            } else {
                wrap_text(content, s, w, &pad, &pad, WrapMode::Word, out);
            }
        }
        None if is_subagent_tool(&call.name) => {}
        None => {
            let what = match (call.cut, call.unanswered) {
                (true, _) => "└ interrupted",
                (false, true) => "└ no result",
                (false, false) => "└ running…",
            };
            wrap_text(what, style::dim(), w, &indent, &indent, WrapMode::Word, out);
        }
    }
    if call.denied {
        wrap_text("⊘ permission denied", style::error(), w, &indent, &indent, WrapMode::Word, out);
    }
}

fn tool_input(call: &ToolCall, w: u16, out: &mut Vec<Line<'static>>) {
    let input = &call.input;
    let get = |k: &str| input.get(k).and_then(serde_json::Value::as_str);
    let pad = [Span::raw("  ")];
    let diff = |old: &str, new: &str, out: &mut Vec<Line<'static>>| {
        if !old.is_empty() {
            for l in old.lines() {
                let first = [Span::raw("  "), Span::styled("- ", style::error())];
                wrap_text(l, style::error(), w, &first, &[Span::raw("    ")], WrapMode::Char, out);
            }
        }
        if !new.is_empty() {
            for l in new.lines() {
                let first = [Span::raw("  "), Span::styled("+ ", style::ok())];
                wrap_text(l, style::ok(), w, &first, &[Span::raw("    ")], WrapMode::Char, out);
            }
        }
    };
    match call.name.as_str() {
        "Bash" => {
            if let Some(d) = get("description") {
                wrap_text(d, style::dim(), w, &pad, &pad, WrapMode::Word, out);
            }
            let first = [Span::raw("  "), Span::styled("$ ", style::dim())];
            let rest = [Span::raw("    ")];
            wrap_text(
                get("command").unwrap_or(""),
                Style::default(),
                w,
                &first,
                &rest,
                WrapMode::Word,
                out,
            );
        }
        "Edit" => diff(get("old_string").unwrap_or(""), get("new_string").unwrap_or(""), out),
        "MultiEdit" => {
            let edits = input.get("edits").and_then(serde_json::Value::as_array);
            for (i, e) in edits.into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push(Line::from(vec![Span::raw("  "), Span::styled("⋯", style::dim())]));
                }
                let g = |k: &str| e.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
                diff(g("old_string"), g("new_string"), out);
            }
        }
        "Write" => diff("", get("content").unwrap_or(""), out),
        "Task" | "Agent" => {
            let prompt = get("prompt").unwrap_or("");
            wrap_text(prompt, style::dim(), w, &pad, &pad, WrapMode::Word, out);
        }
        _ => {
            if input.is_null() && !call.partial_input.is_empty() {
                let text = call.partial_input.clone();
                wrap_text(&text, style::dim(), w, &pad, &pad, WrapMode::Char, out);
                return;
            }
            // What the one-line summary already shows is not repeated.
            let shown: &[&str] = match call.name.as_str() {
                "Read" | "LS" => &["file_path", "path"],
                "Grep" => &["pattern", "path"],
                "Glob" => &["pattern"],
                "WebFetch" => &["url"],
                "WebSearch" => &["query"],
                "NotebookEdit" => &["notebook_path"],
                _ => &[],
            };
            input_fields(input, shown, w, out);
        }
    }
}

/// An input object as `key: value` lines (strings unquoted, multi-line ones indented).
fn input_fields(input: &serde_json::Value, skip: &[&str], w: u16, out: &mut Vec<Line<'static>>) {
    let pad = [Span::raw("  ")];
    let deeper = [Span::raw("    ")];
    let serde_json::Value::Object(map) = input else {
        if !input.is_null() {
            wrap_text(&input.to_string(), style::dim(), w, &pad, &pad, WrapMode::Char, out);
        }
        return;
    };
    for (k, v) in map.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
        let key = Span::styled(format!("{k}: "), style::dim());
        match v {
            serde_json::Value::String(s) if !s.contains('\n') => {
                let spans = [key, Span::raw(crate::render::sanitize(s).into_owned())];
                wrap_spans(&spans, w, &pad, &deeper, WrapMode::Word, out);
            }
            serde_json::Value::String(s) => {
                wrap_spans(&[key], w, &pad, &pad, WrapMode::Word, out);
                wrap_text(s, Style::default(), w, &deeper, &deeper, WrapMode::Char, out);
            }
            other => {
                let text = serde_json::to_string_pretty(other).unwrap_or_default();
                let mut lines = text.lines();
                let first = lines.next().unwrap_or("");
                let spans = [key, Span::raw(first.to_string())];
                wrap_spans(&spans, w, &pad, &deeper, WrapMode::Char, out);
                for l in lines {
                    wrap_text(l, Style::default(), w, &deeper, &deeper, WrapMode::Char, out);
                }
            }
        }
    }
}

fn note(note: &Note, w: u16, out: &mut Vec<Line<'static>>) {
    let s = match note.level {
        NoteLevel::Info => style::dim(),
        NoteLevel::Warn => style::warn(),
    };
    let first = [Span::styled("· ", s)];
    let rest = [Span::raw("  ")];
    wrap_text(&note.text, s, w, &first, &rest, WrapMode::Word, out);
}

fn error(text: &str, expanded: bool, w: u16, out: &mut Vec<Line<'static>>) {
    let text = text.trim_end();
    let first = [Span::styled("✗ ", style::error().add_modifier(Modifier::BOLD))];
    let rest = [Span::raw("  ")];
    let extra = text.lines().count().saturating_sub(1);
    if expanded || extra == 0 {
        wrap_text(text, style::error(), w, &first, &rest, WrapMode::Word, out);
    } else {
        let head = text.lines().next().unwrap_or("");
        let spans = [
            Span::styled(crate::render::sanitize(head).into_owned(), style::error()),
            Span::styled(format!(" (+{extra} lines)"), style::dim()),
        ];
        wrap_spans(&spans, w, &first, &rest, WrapMode::Word, out);
    }
}

/// "9.1s", "2m05s", "1h02m".
pub fn format_duration(ms: u64) -> String {
    let secs = ms / 1000;
    if secs < 60 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// "950", "12.3k", "1.2M".
pub fn format_tokens(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else if n < 1_000_000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else {
        format!("{:.1}M", n as f64 / 1_000_000.0)
    }
}

fn footer(f: &TurnFooter, w: u16, out: &mut Vec<Line<'static>>) {
    let (mark, label, s) = match &f.status {
        TurnStatus::Done => ("✓ ", "done".to_string(), style::ok()),
        TurnStatus::Failed(reason) => ("✗ ", format!("failed: {reason}"), style::error()),
        TurnStatus::Interrupted => {
            ("⊘ ", f.progress.unwrap_or_default().interrupted(), style::warn())
        }
    };
    let mut parts = Vec::new();
    if let Some(ms) = f.duration_ms {
        parts.push(format_duration(ms));
    }
    if let Some(cost) = f.cost_usd {
        parts.push(crate::money::usd(cost));
    }
    if let Some(n) = f.num_turns {
        // The CLI's num_turns counts model calls; "turn" is what the header counts (prompts).
        parts.push(format!("{n} step{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(t) = f.tokens {
        parts.push(format!("{} tokens", format_tokens(t)));
    }
    let mut spans =
        vec![Span::styled("─ ", style::dim()), Span::styled(mark, s), Span::styled(label, s)];
    for p in parts {
        spans.push(Span::styled(" · ", style::dim()));
        spans.push(Span::styled(p, style::dim()));
    }
    wrap_spans(&spans, w, &[], &[Span::raw("  ")], WrapMode::Word, out);
}
