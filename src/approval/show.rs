//! A waiting tool call as lines a person can judge: the Bash command, the file and a coloured
//! diff for Edit/MultiEdit/Write, the URL for WebFetch, the raw input otherwise. All of it,
//! sanitized (a control character shows as its mark, never as itself) and wrapped at a width,
//! so the approval box can scroll through the whole call and the keys know how far.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::question::{questions, Answering};
use crate::render::sanitize::{needs_escape, sanitize, sanitize_lines};
use crate::render::{wrap_spans, WrapMode};

/// The call's lines wrapped to `width` (every character kept, so nothing hides past the edge).
pub fn call_rows(
    tool: &str,
    input: &Value,
    answering: &Answering,
    width: u16,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    // Prose reads better broken between words; commands and code keep every column.
    let mode = match super::Asking::of(tool) {
        super::Asking::Tool => WrapMode::Char,
        super::Asking::Plan | super::Asking::Question => WrapMode::Word,
    };
    let lines = match super::Asking::of(tool) {
        super::Asking::Question if !questions(input).is_empty() => question_lines(input, answering),
        _ => call_lines(tool, input),
    };
    for line in lines {
        let style = line.style;
        let spans: Vec<Span<'static>> =
            line.spans.into_iter().map(|s| Span::styled(s.content, style.patch(s.style))).collect();
        wrap_spans(&spans, width, &[], &[], mode, &mut out);
    }
    out
}

/// The approval box's height for `rows` of call: its title border and key line added.
pub fn box_rows(rows: usize) -> u16 {
    u16::try_from(rows.saturating_add(2)).unwrap_or(u16::MAX)
}

/// The box's height in a pane body of `body` rows: at most two thirds (some transcript stays in
/// view for context) unless the call needs more, then the whole body.
pub fn box_height(desired: u16, body: u16) -> u16 {
    let two_thirds = (body * 2 / 3).max(4);
    if desired <= two_thirds {
        desired
    } else {
        desired.min(body)
    }
}

fn str_field<'v>(input: &'v Value, key: &str) -> Option<&'v str> {
    input.get(key).and_then(Value::as_str)
}

/// The call, as lines a person can judge: all of it (the box scrolls, it never cuts), every
/// control or invisible character shown as a mark, and a warning above when there was one.
pub fn call_lines(tool: &str, input: &Value) -> Vec<Line<'static>> {
    let label = Style::default().fg(Color::Gray);
    let strong = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    match tool {
        "Bash" => {
            let command = str_field(input, "command").unwrap_or("");
            for (i, l) in sanitize_lines(command.trim_end_matches('\n')).enumerate() {
                let lead = if i == 0 { "$ " } else { "  " };
                lines.push(Line::from(vec![
                    Span::styled(lead, label),
                    Span::styled(l.into_owned(), strong),
                ]));
            }
            if let Some(d) = str_field(input, "description") {
                text_lines(&mut lines, d, label);
            }
        }
        "Edit" | "MultiEdit" | "Write" | "NotebookEdit" => {
            let path =
                str_field(input, "file_path").or(str_field(input, "notebook_path")).unwrap_or("?");
            lines.push(Line::from(vec![
                Span::styled("file ", label),
                Span::styled(sanitize(path).into_owned(), strong),
            ]));
            edit_lines(&mut lines, tool, input);
        }
        "WebFetch" => {
            let url = str_field(input, "url").unwrap_or("?");
            lines.push(Line::from(vec![
                Span::styled("url ", label),
                Span::styled(sanitize(url).into_owned(), strong),
            ]));
            if let Some(p) = str_field(input, "prompt") {
                text_lines(&mut lines, p, label);
            }
        }
        super::PLAN_TOOL => plan_lines(&mut lines, input, label),
        _ => {
            let pretty = serde_json::to_string_pretty(input).unwrap_or_default();
            text_lines(&mut lines, &pretty, Style::default());
        }
    }
    warn_if_escaped(&mut lines, input);
    lines
}

/// A warning above the call when any of it had a character shown as a mark.
fn warn_if_escaped(lines: &mut Vec<Line<'static>>, input: &Value) {
    if escaped_anywhere(input) {
        let warn = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
        let note = "⚠ holds control or invisible characters, shown as ␛ ^M \\u{…}: read it all";
        lines.insert(0, Line::styled(note, warn));
    }
}

/// Whether any string in the call's input has a character the sanitizer shows as a mark.
fn escaped_anywhere(input: &Value) -> bool {
    match input {
        Value::String(s) => needs_escape(s),
        Value::Array(a) => a.iter().any(escaped_anywhere),
        Value::Object(o) => o.iter().any(|(k, v)| needs_escape(k) || escaped_anywhere(v)),
        _ => false,
    }
}

/// A question to the user: the answers given so far, then the question shown, its options
/// numbered (the highlighted one marked, ticks where several may be picked), each sanitized.
pub fn question_lines(input: &Value, answering: &Answering) -> Vec<Line<'static>> {
    let qs = questions(input);
    let label = Style::default().fg(Color::Gray);
    let strong = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    for (q, a) in qs.iter().zip(&answering.answers) {
        let done = format!("✓ {}: {}", sanitize(&q.text), sanitize(a));
        lines.push(Line::styled(done, Style::default().fg(Color::Green)));
    }
    let Some(q) = qs.get(answering.at) else { return lines };
    let mut about = Vec::new();
    if !q.header.is_empty() {
        about.push(sanitize(&q.header).into_owned());
    }
    if qs.len() > 1 {
        about.push(format!("question {} of {}", answering.at + 1, qs.len()));
    }
    if q.multi {
        about.push("pick any".to_string());
    }
    if !about.is_empty() {
        lines.push(Line::styled(about.join(" · "), label));
    }
    text_lines(&mut lines, &q.text, strong);
    for (i, o) in q.options.iter().enumerate() {
        let here = i == answering.cursor;
        let mark = if here { "▸ " } else { "  " };
        let tick = match (q.multi, answering.ticked.contains(&i)) {
            (false, _) => "",
            (true, true) => "[x] ",
            (true, false) => "[ ] ",
        };
        let style = if here {
            Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        let mut spans =
            vec![Span::styled(format!("{mark}{tick}{}. {}", i + 1, sanitize(&o.label)), style)];
        if !o.description.is_empty() {
            spans.push(Span::styled(format!(" · {}", sanitize(&o.description)), label));
        }
        lines.push(Line::from(spans));
    }
    warn_if_escaped(&mut lines, input);
    lines
}

/// The plan as the model wrote it (its Markdown source: a renderer could hide parts of it, a
/// comment or a link's target), then any other input the call has.
fn plan_lines(lines: &mut Vec<Line<'static>>, input: &Value, label: Style) {
    match str_field(input, "plan") {
        Some(plan) => text_lines(lines, plan.trim_end(), Style::default()),
        None => lines.push(Line::styled("(no plan text came with the call)", label)),
    }
    let mut rest = input.as_object().cloned().unwrap_or_default();
    rest.remove("plan");
    if !rest.is_empty() {
        let pretty = serde_json::to_string_pretty(&rest).unwrap_or_default();
        text_lines(lines, &pretty, label);
    }
}

fn text_lines(lines: &mut Vec<Line<'static>>, text: &str, style: Style) {
    lines.extend(sanitize_lines(text).map(|l| Line::styled(l.into_owned(), style)));
}

fn edit_lines(lines: &mut Vec<Line<'static>>, tool: &str, input: &Value) {
    match tool {
        "Write" => added(lines, str_field(input, "content").unwrap_or("")),
        "MultiEdit" => {
            for e in input.get("edits").and_then(Value::as_array).into_iter().flatten() {
                diff(
                    lines,
                    str_field(e, "old_string").unwrap_or(""),
                    str_field(e, "new_string").unwrap_or(""),
                );
            }
        }
        "NotebookEdit" => added(lines, str_field(input, "new_source").unwrap_or("")),
        _ => diff(
            lines,
            str_field(input, "old_string").unwrap_or(""),
            str_field(input, "new_string").unwrap_or(""),
        ),
    }
}

fn added(lines: &mut Vec<Line<'static>>, text: &str) {
    let style = Style::default().fg(Color::Green);
    lines.extend(text.lines().map(|l| Line::styled(format!("+ {}", sanitize(l)), style)));
}

fn diff(lines: &mut Vec<Line<'static>>, old: &str, new: &str) {
    let red = Style::default().fg(Color::Red);
    lines.extend(old.lines().map(|l| Line::styled(format!("- {}", sanitize(l)), red)));
    added(lines, new);
}
