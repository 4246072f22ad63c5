//! The approval box at the bottom of a pane whose agent waits for the user: what the tool call
//! would do, in a form a person can judge (the Bash command, the file and a coloured diff for
//! Edit/MultiEdit/Write, the URL for WebFetch, the raw input otherwise), and the keys.
//! Also the one-line note of a turn's denied tools, with the key that allows them and re-runs.

use crate::render::sanitize::put_line;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};
use serde_json::Value;

use super::header::truncate;
use crate::agent::event::PermissionDenial;
use crate::app::approvals::Pending;
use crate::app::{Command, Context, Keymap};
use crate::approval::rules;
use crate::render::sanitize::{needs_escape, sanitize, sanitize_lines};

/// Rows the box wants at `width` (its border and key line included).
pub fn desired_height(pending: &Pending, width: u16) -> u16 {
    let inner = usize::from(width.max(1));
    let rows: usize = body_lines(pending).iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    (rows + 2).min(u16::MAX as usize) as u16
}

/// The approval box of one waiting call.
pub struct ApprovalView<'a> {
    pub pending: &'a Pending,
    pub agent: &'a str,
    /// Calls of this agent waiting, this one included.
    pub waiting: usize,
    pub composing: bool,
    pub keymap: &'a Keymap,
}

impl Widget for ApprovalView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height < 2 || area.width < 4 {
            return;
        }
        let ask = &self.pending.ask;
        let more =
            if self.waiting > 1 { format!(" (+{} more)", self.waiting - 1) } else { String::new() };
        let title = format!(" ⚠ {} wants to use {}{more} ", self.agent, ask.tool_name);
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(Style::default().fg(Color::Yellow))
            .title(Span::styled(
                truncate(&title, usize::from(area.width)),
                Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 {
            return;
        }
        let keys_row = Rect { y: inner.y + inner.height - 1, height: 1, ..inner };
        let body = Rect { height: inner.height - 1, ..inner };
        Paragraph::new(body_lines(self.pending)).wrap(Wrap { trim: false }).render(body, buf);
        put_line(buf, keys_row.x, keys_row.y, &self.keys_line(), keys_row.width);
    }
}

impl ApprovalView<'_> {
    fn keys_line(&self) -> Line<'static> {
        let key = |c: Command| self.keymap.key_label(Context::Approval, c).unwrap_or_default();
        let k = Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD);
        let d = Style::default().fg(Color::Gray);
        if self.composing {
            return Line::from(vec![
                Span::styled("deny: type a message for the agent, ", d),
                Span::styled(key(Command::Send), k),
                Span::styled(" deny · ", d),
                Span::styled(key(Command::Close), k),
                Span::styled(" back", d),
            ]);
        }
        let always = match rules::suggest(&self.pending.ask.tool_name, &self.pending.ask.input) {
            Some(rule) => format!(" always allow {rule} · "),
            None => " allow once (no narrower rule) · ".to_string(),
        };
        Line::from(vec![
            Span::styled(key(Command::AllowOnce), k),
            Span::styled(" allow once · ", d),
            Span::styled(key(Command::AllowAlways), k),
            Span::styled(always, d),
            Span::styled(key(Command::Deny), k),
            Span::styled(" deny", d),
        ])
    }
}

fn str_field<'v>(input: &'v Value, key: &str) -> Option<&'v str> {
    input.get(key).and_then(Value::as_str)
}

/// The call, as lines a person can judge: all of it (the box scrolls, it never cuts), every
/// control or invisible character shown as a mark, and a warning above when there was one.
pub fn body_lines(pending: &Pending) -> Vec<Line<'static>> {
    let ask = &pending.ask;
    let input = &ask.input;
    let label = Style::default().fg(Color::Gray);
    let strong = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    match ask.tool_name.as_str() {
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
            edit_lines(&mut lines, &ask.tool_name, input);
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
        _ => {
            let pretty = serde_json::to_string_pretty(input).unwrap_or_default();
            text_lines(&mut lines, &pretty, Style::default());
        }
    }
    if escaped_anywhere(input) {
        let warn = Style::default().fg(Color::Red).add_modifier(Modifier::BOLD);
        let note = "⚠ holds control or invisible characters, shown as ␛ ^M \\u{…}: read it all";
        lines.insert(0, Line::styled(note, warn));
    }
    lines
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

/// One line under the transcript: the tools the last turn was denied, and the key that allows
/// them and re-runs the turn.
pub fn denials_line(denials: &[PermissionDenial], keymap: &Keymap) -> Line<'static> {
    let calls: Vec<String> = denials
        .iter()
        .map(|d| rules::suggest(&d.tool_name, &d.tool_input).unwrap_or(d.tool_name.clone()))
        .collect();
    let key = keymap.key_label(Context::Pane, Command::AllowDenied).unwrap_or_default();
    Line::from(vec![
        Span::styled(
            format!("⚠ denied: {} · ", calls.join(", ")),
            Style::default().fg(Color::Yellow),
        ),
        Span::styled(key, Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)),
        Span::styled(" allow and re-run", Style::default().fg(Color::Gray)),
    ])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::app::fixtures::*;
    use crate::app::{update, Msg, State};
    use crate::approval::Ask;

    /// One agent mid-turn, asking about `tool`.
    fn asking(tool: &str, input: serde_json::Value) -> State {
        let mut s = state(false, &[("api", "backend")], (80, 24));
        let id = s.agents[0].id;
        send(&mut s, 0, "Fix the failing test");
        update(&mut s, started(id, 1));
        update(&mut s, lines(id, 1, vec![init(&sid(1), "none"), text("Let me look.")]));
        let (ask, rx) = Ask::new("api", tool, input);
        std::mem::forget(rx); // keep the request live for the picture
        update(&mut s, Msg::Approval(ask));
        s
    }

    #[test]
    fn bash_request() {
        let s = asking(
            "Bash",
            json!({"command": "npm test -- --runInBand", "description": "Run the test suite"}),
        );
        insta::assert_snapshot!(screen(&s));
    }

    #[test]
    fn edit_request_with_a_diff() {
        let s = asking(
            "Edit",
            json!({
                "file_path": "/proj/src/lib.rs",
                "old_string": "fn add(a: i32, b: i32) -> i32 {\n    a - b\n}",
                "new_string": "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}",
            }),
        );
        let text = screen(&s);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_write_no_rule_can_name_offers_to_allow_it_once() {
        let s = asking("Write", json!({"file_path": "/proj/*.txt", "content": "hello"}));
        let text = screen(&s);
        assert!(text.contains("a allow once (no narrower rule)"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn edit_diff_is_coloured() {
        let s =
            asking("Edit", json!({"file_path": "/a", "old_string": "old", "new_string": "new"}));
        let lines = super::body_lines(s.approvals.first_for(s.agents[0].id).expect("waiting"));
        let colour = |needle: &str| {
            lines.iter().find(|l| l.to_string().contains(needle)).and_then(|l| l.style.fg)
        };
        assert_eq!(colour("- old"), Some(ratatui::style::Color::Red));
        assert_eq!(colour("+ new"), Some(ratatui::style::Color::Green));
    }

    #[test]
    fn unknown_tool_request_shows_its_input() {
        let s = asking("mcp__db__query", json!({"sql": "DELETE FROM users", "limit": 10}));
        insta::assert_snapshot!(screen(&s));
    }

    #[test]
    fn composing_a_denial() {
        let mut s = asking("Write", json!({"file_path": "/etc/hosts", "content": "127.0.0.1 x\n"}));
        update(&mut s, key(crossterm::event::KeyCode::Char('n')));
        type_text(&mut s, "not there");
        insta::assert_snapshot!(screen(&s));
    }
}
