//! A pane's history as plain lines, and the scroll math over it.
//!
//! A stand-in until the transcript cells (`transcript`, `render`) land: it keeps one styled line
//! per source line, so the screens, the scrolling and the tests work end to end today.

use crate::agent::event::{ContentBlock, Event, StreamKind, SystemKind};
use crate::agent::Line;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    User,
    Assistant,
    Tool,
    ToolResult,
    Error,
    /// The CLI's plain-text output and notes from agentmux.
    Dim,
    /// The summary after a turn.
    Footer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyLine {
    pub kind: LineKind,
    pub text: String,
}

#[derive(Clone, Debug, Default)]
pub struct Body {
    lines: Vec<BodyLine>,
    /// The last line is still being streamed into.
    tail_open: bool,
    /// Text of the current message already arrived as deltas (its full `assistant` line repeats
    /// it).
    streamed: bool,
}

impl Body {
    pub fn lines(&self) -> &[BodyLine] {
        &self.lines
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn push(&mut self, kind: LineKind, text: &str) {
        self.tail_open = false;
        for l in text.split('\n') {
            self.lines.push(BodyLine { kind, text: l.trim_end_matches('\r').to_string() });
        }
    }

    pub fn push_user(&mut self, prompt: &str) {
        self.tail_open = false;
        for (i, l) in prompt.split('\n').enumerate() {
            let mark = if i == 0 { "› " } else { "  " };
            self.lines.push(BodyLine { kind: LineKind::User, text: format!("{mark}{l}") });
        }
    }

    fn stream_text(&mut self, text: &str) {
        let mut parts = text.split('\n');
        if let Some(first) = parts.next() {
            match self.lines.last_mut() {
                Some(last) if self.tail_open => last.text.push_str(first),
                _ => self.lines.push(BodyLine { kind: LineKind::Assistant, text: first.into() }),
            }
        }
        for p in parts {
            self.lines.push(BodyLine { kind: LineKind::Assistant, text: p.into() });
        }
        self.tail_open = true;
    }

    pub fn apply(&mut self, line: &Line) {
        match line {
            Line::Text(t) if !t.trim().is_empty() => self.push(LineKind::Dim, t),
            Line::Text(_) => {}
            Line::TooLong { len, limit } => self.push(
                LineKind::Error,
                &format!("(skipped a line of {len} bytes, over the {limit}-byte limit)"),
            ),
            Line::Event(ev) => self.apply_event(ev),
        }
    }

    fn apply_event(&mut self, ev: &Event) {
        if ev.parent_tool_use_id().is_some() {
            return; // subagent detail: the transcript cells nest it; the stand-in skips it
        }
        match ev {
            Event::Stream(s) => match &s.kind {
                StreamKind::MessageStart { .. } => {
                    self.streamed = false;
                    self.tail_open = false;
                }
                StreamKind::TextDelta { text, .. } => {
                    self.streamed = true;
                    self.stream_text(text);
                }
                StreamKind::ContentBlockStop { .. } => self.tail_open = false,
                _ => {}
            },
            Event::Assistant(m) => {
                for block in &m.content {
                    match block {
                        ContentBlock::Text { text } if !self.streamed => {
                            self.push(LineKind::Assistant, text)
                        }
                        ContentBlock::ToolUse { name, input, .. } => {
                            self.push(LineKind::Tool, &tool_summary(name, input))
                        }
                        ContentBlock::Thinking { .. } => self.push(LineKind::Dim, "∴ thinking…"),
                        _ => {}
                    }
                }
            }
            Event::User(m) => {
                for block in &m.content {
                    if let ContentBlock::ToolResult { content, is_error, .. } = block {
                        let first = content.lines().next().unwrap_or("");
                        let more = content.lines().count().saturating_sub(1);
                        let more =
                            if more > 0 { format!(" (+{more} lines)") } else { String::new() };
                        let kind = if *is_error { LineKind::Error } else { LineKind::ToolResult };
                        self.push(kind, &format!("  ↳ {first}{more}"));
                    }
                }
            }
            Event::Result(r) => {
                for e in &r.errors {
                    self.push(LineKind::Error, e);
                }
                for d in &r.permission_denials {
                    self.push(LineKind::Error, &format!("denied: {}", d.tool_name));
                }
                let mut parts =
                    vec![if r.is_error { "✗ ".to_string() } else { "✓ ".to_string() }];
                parts[0].push_str(&r.subtype);
                if let Some(ms) = r.duration_ms {
                    parts.push(format!("{:.1}s", ms as f64 / 1000.0));
                }
                if let Some(c) = r.total_cost_usd {
                    parts.push(format!("${c:.4}"));
                }
                if let Some(n) = r.num_turns {
                    parts.push(format!("{n} turns"));
                }
                self.push(LineKind::Footer, &parts.join(" · "));
            }
            Event::System(s) => {
                if let SystemKind::ApiRetry(a) = &s.kind {
                    let status = a.error_status.map(|s| s.to_string()).unwrap_or_default();
                    let attempt = a.attempt.map(|n| format!(" (attempt {n})")).unwrap_or_default();
                    self.push(LineKind::Dim, &format!("API error {status}, retrying{attempt}"));
                }
            }
            Event::RateLimit(r) => {
                if r.status.as_deref().is_some_and(|s| s != "allowed") {
                    let status = r.status.as_deref().unwrap_or("");
                    self.push(LineKind::Dim, &format!("rate limit: {status}"));
                }
            }
            Event::Unknown(_) => {}
        }
    }
}

/// One line for a tool call: the command, the path, or the name.
pub fn tool_summary(name: &str, input: &serde_json::Value) -> String {
    let field = |k: &str| input.get(k).and_then(|v| v.as_str());
    let detail = match name {
        "Bash" => field("command"),
        "Read" | "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => {
            field("file_path").or_else(|| field("notebook_path"))
        }
        "Grep" | "Glob" => field("pattern"),
        "Task" | "Agent" => field("description"),
        _ => None,
    };
    let detail = detail.map(|d| d.lines().next().unwrap_or("").to_string()).unwrap_or_default();
    format!("⚙ {name} {detail}").trim_end().to_string()
}

/// Where a pane's view of its lines starts. `None` follows the bottom.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scroll {
    pub top: Option<usize>,
}

/// What a pane shows: the first line, and how many lines wait below the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub below: usize,
}

impl Scroll {
    pub fn following(&self) -> bool {
        self.top.is_none()
    }

    pub fn window(&self, total: usize, height: usize) -> Window {
        let max_start = total.saturating_sub(height);
        let start = self.top.map_or(max_start, |t| t.min(max_start));
        Window { start, below: total.saturating_sub(start + height) }
    }

    /// Move by `delta` lines (negative is up). Reaching the bottom follows again.
    pub fn by(&mut self, delta: isize, total: usize, height: usize) {
        let max_start = total.saturating_sub(height);
        let start = self.window(total, height).start;
        let new = start.saturating_add_signed(delta).min(max_start);
        self.top = if new >= max_start { None } else { Some(new) };
    }

    pub fn to_top(&mut self, total: usize, height: usize) {
        self.top = if total <= height { None } else { Some(0) };
    }

    pub fn to_bottom(&mut self) {
        self.top = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::event::{MessageEvent, StreamEvent};

    fn delta(text: &str) -> Line {
        Line::Event(Event::Stream(StreamEvent {
            parent_tool_use_id: None,
            session_id: None,
            kind: StreamKind::TextDelta { index: 0, text: text.into() },
        }))
    }

    #[test]
    fn deltas_stream_into_the_tail_and_the_full_message_is_not_repeated() {
        let mut b = Body::default();
        b.push_user("hi\nthere");
        b.apply(&delta("Hel"));
        b.apply(&delta("lo\nwor"));
        b.apply(&delta("ld"));
        b.apply(&Line::Event(Event::Assistant(MessageEvent {
            content: vec![ContentBlock::Text { text: "Hello\nworld".into() }],
            ..Default::default()
        })));
        let texts: Vec<_> = b.lines().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["› hi", "  there", "Hello", "world"]);
    }

    #[test]
    fn follow_until_scrolled_up_then_count_what_waits_below() {
        let mut s = Scroll::default();
        assert_eq!(s.window(100, 10), Window { start: 90, below: 0 });
        s.by(-5, 100, 10);
        assert_eq!(s.top, Some(85));
        // New output arrives: the view stays put and counts it.
        assert_eq!(s.window(120, 10), Window { start: 85, below: 25 });
        s.by(1000, 120, 10);
        assert!(s.following());
        s.to_top(120, 10);
        assert_eq!(s.window(120, 10), Window { start: 0, below: 110 });
        s.by(-3, 120, 10);
        assert_eq!(s.top, Some(0), "clamped at the top");
        // Short content always follows.
        s.to_top(5, 10);
        assert!(s.following());
        assert_eq!(s.window(5, 10), Window { start: 0, below: 0 });
        // A shrinking history never leaves the view past its end.
        let s = Scroll { top: Some(50) };
        assert_eq!(s.window(20, 10), Window { start: 10, below: 0 });
    }

    #[test]
    fn tool_summaries_name_the_command_or_path() {
        let v = serde_json::json!({"command": "cargo test\n--all"});
        assert_eq!(tool_summary("Bash", &v), "⚙ Bash cargo test");
        let v = serde_json::json!({"file_path": "src/main.rs"});
        assert_eq!(tool_summary("Edit", &v), "⚙ Edit src/main.rs");
        assert_eq!(tool_summary("WebFetch", &serde_json::json!({})), "⚙ WebFetch");
    }
}
