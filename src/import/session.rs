//! Reading one Claude Code session file: its conversation as turns, as far as it reads.
//!
//! Measured with the real CLI 2.1.197 and 2.1.332 (`-p`, against the loopback stand-in): one
//! JSON object a line. `user` and `assistant` lines carry `uuid`, `parentUuid`, `sessionId`,
//! `cwd`, `timestamp` (RFC 3339) and `message` (the Messages API's message: a prompt's `content`
//! is a string, a tool result's a list of `tool_result` blocks). Between them sit lines of other
//! types: `queue-operation`, `attachment` (which has a uuid and may be an assistant line's parent),
//! `last-prompt`, `mode`, and in 2.1.332 also `api-request`, `api-request-shape`,
//! `api-request-blob`, `cost-state`, `tools-used`, `atis-latch`; some are over 100 KB. Forks
//! (`--fork-session`) copy the messages with their uuids into a file of the new id.
//!
//! The conversation is the chain of parents from the last message back to the first (a file
//! may hold abandoned branches); `isSidechain` lines (a subagent's) are not part of it. A line
//! that does not parse (a file cut short while written, a newer shape) is skipped and counted.

use serde_json::Value;

/// One turn: a prompt and what followed it, up to the next prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    pub prompt: String,
    /// The turn's messages as stream-json lines (`{"type":"assistant","message":..}`), the
    /// shape the transcript is built from live.
    pub lines: Vec<String>,
    /// The uuid of the turn's last assistant message: where a fork after this turn resumes
    /// (`--resume-session-at`). `None` when the turn got no answer.
    pub last_answer: Option<String>,
    /// Unix ms of the prompt, 0 when unknown.
    pub at_ms: u64,
}

/// What a session file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conversation {
    pub session_id: Option<String>,
    /// The working directory the session's messages name (the first one that does).
    pub cwd: Option<String>,
    pub turns: Vec<Turn>,
    /// Messages (user and assistant lines) in the conversation.
    pub messages: usize,
    /// Lines that could not be read (not JSON, or a message without its parts).
    pub unreadable: usize,
    /// Lines in the file (blank ones aside).
    pub lines: usize,
    /// Unix ms of the last message, 0 when unknown.
    pub last_ms: u64,
}

impl Conversation {
    /// Reads a session file's text. Never fails: what cannot be read is counted.
    pub fn parse(text: &str) -> Conversation {
        let mut conv = Conversation::default();
        let mut lines: Vec<Value> = Vec::new();
        for raw in text.lines().filter(|l| !l.trim().is_empty()) {
            conv.lines += 1;
            match serde_json::from_str::<Value>(raw) {
                Ok(v) if v.is_object() => lines.push(v),
                _ => conv.unreadable += 1,
            }
        }
        let chain = chain(&lines);
        for v in chain {
            conv.take(v);
        }
        conv
    }

    fn take(&mut self, v: &Value) {
        let kind = str_of(v, "type");
        if kind != Some("user") && kind != Some("assistant") {
            return;
        }
        // The CLI's own notes to the model (command caveats, a compaction's summary).
        let flag = |k: &str| v.get(k).and_then(Value::as_bool) == Some(true);
        if flag("isMeta") || flag("isCompactSummary") {
            return;
        }
        let Some(message) = v.get("message").filter(|m| m.is_object()) else {
            self.unreadable += 1;
            return;
        };
        self.messages += 1;
        if self.session_id.is_none() {
            self.session_id = str_of(v, "sessionId").map(String::from);
        }
        if self.cwd.is_none() {
            self.cwd = str_of(v, "cwd").map(String::from);
        }
        let at_ms = str_of(v, "timestamp").map_or(0, rfc3339_ms);
        self.last_ms = self.last_ms.max(at_ms);
        if kind == Some("user") {
            if let Some(prompt) = prompt_text(message) {
                self.turns.push(Turn { prompt, lines: Vec::new(), last_answer: None, at_ms });
                return;
            }
        }
        let Some(turn) = self.turns.last_mut() else {
            // Messages before any prompt (a file cut at its head): nothing to hang them on.
            return;
        };
        let mut line = serde_json::json!({
            "type": kind,
            "message": message,
            "session_id": v.get("sessionId"),
            "uuid": v.get("uuid"),
        });
        if let Some(obj) = line.as_object_mut() {
            obj.retain(|_, v| !v.is_null());
        }
        turn.lines.push(line.to_string());
        if kind == Some("assistant") {
            turn.last_answer = str_of(v, "uuid").map(String::from);
        }
    }

    /// The first prompt, for lists.
    pub fn first_prompt(&self) -> Option<&str> {
        self.turns.first().map(|t| t.prompt.as_str())
    }

    /// The turns up to and including number `n` (counted from 1).
    pub fn up_to(&self, n: usize) -> &[Turn] {
        &self.turns[..n.min(self.turns.len())]
    }
}

/// The conversation's lines in order: the chain of parents from the last message (a compact
/// boundary's `logicalParentUuid` bridges the summary), without subagent lines.
fn chain(lines: &[Value]) -> Vec<&Value> {
    use std::collections::{HashMap, HashSet};
    let main = |v: &&Value| v.get("isSidechain").and_then(Value::as_bool) != Some(true);
    let by_uuid: HashMap<&str, &Value> =
        lines.iter().filter(main).filter_map(|v| Some((str_of(v, "uuid")?, v))).collect();
    let is_message = |v: &&Value| matches!(str_of(v, "type"), Some("user" | "assistant"));
    let Some(leaf) = lines.iter().filter(main).rfind(is_message) else { return Vec::new() };
    let mut out = vec![leaf];
    let mut seen = HashSet::new();
    let mut at = leaf;
    loop {
        let parent = str_of(at, "parentUuid").or_else(|| str_of(at, "logicalParentUuid"));
        let Some(next) = parent.and_then(|p| by_uuid.get(p)) else { break };
        if !seen.insert(str_of(next, "uuid")) {
            break;
        }
        out.push(next);
        at = next;
    }
    out.reverse();
    out
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A user message the person typed (not a tool result): its text.
fn prompt_text(message: &Value) -> Option<String> {
    match message.get("content")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => {
            if blocks.iter().any(|b| str_of(b, "type") == Some("tool_result")) {
                return None;
            }
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| str_of(b, "type") == Some("text"))
                .filter_map(|b| str_of(b, "text"))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

fn rfc3339_ms(s: &str) -> u64 {
    humantime::parse_rfc3339_weak(s)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}
