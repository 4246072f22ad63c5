//! Lines that decode but cannot be shown whole, and JSON that no parser here takes whole.
//!
//! - An oversized line (more than [`OVERSIZED_LINE`] bytes: a tool result of a whole file, an
//!   answer pasted back) is decoded for what it means (ids, cost, session), but every string
//!   in it longer than [`SHOWN`] is cut there with a visible "line too long" mark: drawing 16
//!   MiB of text would hold the UI for seconds, and nobody reads it on screen. The log keeps
//!   the line whole.
//! - An object that holds a number out of range (`1e999999`) or nesting deeper than the JSON
//!   parser's limit (128) fails to parse at all. [`prune`] rewrites it without the values
//!   that fail, so the fields that do parse (a result's cost, say) are still read.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::agent::event::{ContentBlock, Event, Line, StreamKind, SystemKind};

/// A line longer than this is oversized.
pub const OVERSIZED_LINE: usize = 1024 * 1024;
/// How much of one string of an oversized line is shown.
pub const SHOWN: usize = 64 * 1024;

/// `line` (decoded from `len` bytes) with every string longer than [`SHOWN`] cut.
pub fn slim(line: Line, len: usize) -> Line {
    let mut line = line;
    match &mut line {
        Line::Event(e) => slim_event(e, len),
        Line::Text(t) => cut(t, len),
        Line::TooLong { .. } => {}
    }
    line
}

fn slim_event(e: &mut Event, len: usize) {
    match e {
        Event::Assistant(m) | Event::User(m) => {
            m.content.iter_mut().for_each(|b| slim_block(b, len));
        }
        Event::Stream(s) => match &mut s.kind {
            StreamKind::TextDelta { text, .. } | StreamKind::ThinkingDelta { text, .. } => {
                cut(text, len)
            }
            // A cut partial JSON would never parse: the tool's input is shown from the
            // assistant's message instead.
            StreamKind::InputJsonDelta { partial_json, .. } if partial_json.len() > SHOWN => {
                partial_json.clear()
            }
            StreamKind::ContentBlockStart { block, .. } => slim_block(block, len),
            StreamKind::Other(v) => cut_value(v, len),
            _ => {}
        },
        Event::Result(r) => {
            if let Some(text) = &mut r.result {
                cut(text, len);
            }
            r.errors.iter_mut().for_each(|t| cut(t, len));
            r.permission_denials.iter_mut().for_each(|d| cut_value(&mut d.tool_input, len));
        }
        Event::System(s) => {
            if let SystemKind::Other(v) = &mut s.kind {
                cut_value(v, len);
            }
        }
        Event::Unknown(v) => cut_value(v, len),
        Event::RateLimit(_) => {}
    }
}

fn slim_block(b: &mut ContentBlock, len: usize) {
    match b {
        ContentBlock::Text { text } => cut(text, len),
        ContentBlock::Thinking { thinking } => cut(thinking, len),
        ContentBlock::ToolUse { input, .. } => cut_value(input, len),
        ContentBlock::ToolResult { content, .. } => cut(content, len),
        ContentBlock::Other(v) => cut_value(v, len),
    }
}

fn cut_value(v: &mut Value, len: usize) {
    match v {
        Value::String(s) => cut(s, len),
        Value::Array(items) => items.iter_mut().for_each(|i| cut_value(i, len)),
        Value::Object(map) => map.values_mut().for_each(|i| cut_value(i, len)),
        _ => {}
    }
}

/// Cuts `s` at [`SHOWN`] bytes (on a character) and says so.
fn cut(s: &mut String, len: usize) {
    if s.len() <= SHOWN {
        return;
    }
    let mut end = SHOWN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(&format!("\n… line too long ({len} bytes): the rest is not shown"));
}

/// How deep [`prune`] looks into a value before it drops the rest (each level is a pass over
/// its bytes).
const PRUNE_DEPTH: usize = 64;

/// The JSON object `text` without the values serde_json cannot parse (numbers out of range,
/// nesting past its limit), or `None` when it is not an object at all.
pub fn prune(text: &str) -> Option<String> {
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    text.trim_start().starts_with('{').then(|| pruned(raw, 0)).flatten()
}

/// One value rewritten without its unparsable parts; `None` drops it.
fn pruned(raw: &RawValue, depth: usize) -> Option<String> {
    let text = raw.get();
    match text.as_bytes().first()? {
        b'{' if depth < PRUNE_DEPTH => {
            let Pairs(pairs) = serde_json::from_str(text).ok()?;
            let mut out = String::from("{");
            for (key, value) in pairs {
                let Some(value) = pruned(value, depth + 1) else { continue };
                if out.len() > 1 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(&key).ok()?);
                out.push(':');
                out.push_str(&value);
            }
            out.push('}');
            Some(out)
        }
        b'[' if depth < PRUNE_DEPTH => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            let kept: Vec<String> =
                items.into_iter().filter_map(|i| pruned(i, depth + 1)).collect();
            Some(format!("[{}]", kept.join(",")))
        }
        b'{' | b'[' => None,
        b'-' | b'0'..=b'9' => serde_json::from_str::<Value>(text).ok().map(|_| text.to_string()),
        _ => Some(text.to_string()),
    }
}

/// An object's members in their order, values unparsed.
struct Pairs<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Pairs<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'de>, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(V)
    }
}
