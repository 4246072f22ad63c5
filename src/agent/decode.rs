//! From PTY bytes to typed events: [`Framer`] cuts a byte stream into lines (dropping `\r` and
//! terminal escape sequences), [`decode_line`] turns one line into a [`Line`].
//!
//! Decoding goes straight into borrowed, typed structs (one pass, no `serde_json::Value` tree)
//! for the event kinds agentmux knows. Only the rare parts that must be kept whole (an unknown
//! event type, system subtype, stream event or content block) parse the line a second time as a
//! `Value`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

mod odd;

pub use odd::{OVERSIZED_LINE, SHOWN};

use crate::agent::event::{
    ApiRetry, ContentBlock, Event, Init, Line, MessageEvent, PermissionDenial, RateLimitEvent,
    ResultEvent, StreamEvent, StreamKind, SystemEvent, SystemKind, Usage, WindowReading,
};

// ---------------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------------

/// One frame cut from the byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line without its `\r\n`, escape sequences removed, invalid UTF-8 replaced.
    Line(String),
    /// A line longer than the limit: its bytes were counted and skipped, never buffered.
    TooLong { len: usize, limit: usize },
}

/// Where the escape-sequence parser is between two bytes (kept across reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EscState {
    Ground,
    /// Just saw ESC.
    Esc,
    /// ESC followed by intermediate bytes (`ESC ( B`, ...), waiting for the final byte.
    EscIntermediate,
    /// `ESC [` ... final byte.
    Csi,
    /// `ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _`: a string ended by BEL or ST (`ESC \`).
    Str,
    /// ESC inside a string: `\` ends it.
    StrEsc,
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// Cuts arbitrary byte chunks into lines. Survives splits at any byte: inside a UTF-8
/// character, inside an escape sequence, between `\r` and `\n`. Lines with nothing but escapes
/// and control characters are not reported.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    esc: EscState,
    max_line_bytes: usize,
    /// `Some(len)` while skipping the rest of an over-long line: bytes counted so far.
    skipping: Option<usize>,
}

impl Framer {
    pub fn new(max_line_bytes: usize) -> Self {
        Framer { buf: Vec::new(), esc: EscState::Ground, max_line_bytes, skipping: None }
    }

    /// Feeds one chunk; complete lines are pushed to `out` in order.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Frame>) {
        while !bytes.is_empty() {
            if self.esc == EscState::Ground {
                // Fast path: copy the run up to the next byte that needs attention.
                match memchr::memchr3(b'\n', b'\r', ESC, bytes) {
                    None => {
                        self.append(bytes);
                        return;
                    }
                    Some(i) => {
                        self.append(&bytes[..i]);
                        match bytes[i] {
                            b'\n' => self.end_line(out),
                            b'\r' => {}
                            _ => self.esc = EscState::Esc,
                        }
                        bytes = &bytes[i + 1..];
                    }
                }
            } else {
                let b = bytes[0];
                bytes = &bytes[1..];
                self.escape_byte(b, out);
            }
        }
    }

    /// The end of the stream: a last line without `\n` (escapes alone make no line).
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        self.esc = EscState::Ground;
        if self.skipping.is_some() || !self.buf.is_empty() {
            self.end_line(out);
        }
    }

    fn escape_byte(&mut self, b: u8, out: &mut Vec<Frame>) {
        use EscState::*;
        match (self.esc, b) {
            // A newline always ends the line, whatever escape was open: framing stays in sync
            // even after a malformed sequence.
            (_, b'\n') => {
                self.esc = Ground;
                self.end_line(out);
            }
            (Esc, b'[') => self.esc = Csi,
            (Esc, b']' | b'P' | b'X' | b'^' | b'_') => self.esc = Str,
            (Esc, 0x20..=0x2f) => self.esc = EscIntermediate,
            (Esc, ESC) => {}
            (Esc, 0x30..=0x7e) => self.esc = Ground,
            (EscIntermediate, 0x20..=0x2f) => {}
            (EscIntermediate, 0x30..=0x7e) => self.esc = Ground,
            (Csi, 0x20..=0x3f) => {}
            (Csi, 0x40..=0x7e) => self.esc = Ground,
            (Str, BEL) => self.esc = Ground,
            (Str, ESC) => self.esc = StrEsc,
            (Str, _) => {}
            (StrEsc, b'\\') => self.esc = Ground,
            (StrEsc, ESC) => {}
            (StrEsc, _) => self.esc = Str,
            // Anything else breaks the sequence off; the byte is ordinary text again.
            (Ground | Esc | EscIntermediate | Csi, _) => {
                self.esc = Ground;
                if b == ESC {
                    self.esc = Esc;
                } else if b != b'\r' {
                    self.append(&[b]);
                }
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(len) = &mut self.skipping {
            *len += bytes.len();
            return;
        }
        if self.buf.len() + bytes.len() > self.max_line_bytes {
            self.skipping = Some(self.buf.len() + bytes.len());
            // Give the memory back: the line will never be used.
            self.buf = Vec::new();
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn end_line(&mut self, out: &mut Vec<Frame>) {
        if let Some(len) = self.skipping.take() {
            out.push(Frame::TooLong { len, limit: self.max_line_bytes });
            return;
        }
        // Nothing but escapes and control characters: no line. (Stops at the first other byte,
        // so a long line costs nothing here; controls inside a line are `decode_line`'s.)
        if self.buf.iter().all(|&b| is_stray_control(b)) {
            self.buf.clear();
            return;
        }
        let bytes = std::mem::take(&mut self.buf);
        let line = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        out.push(Frame::Line(line));
    }
}

fn is_stray_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

impl Frame {
    /// The runner's form: the line's text and what it decodes to.
    pub fn decode(self) -> (String, Line) {
        match self {
            Frame::Line(s) => {
                let line = decode_line(&s);
                (s, line)
            }
            Frame::TooLong { len, limit } => (String::new(), Line::TooLong { len, limit }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Decodes one framed line: a typed event, `Event::Unknown` for JSON objects of a type not known
/// yet, or `Line::Text` for anything that is not a JSON object (the CLI's stderr).
pub fn decode_line(line: &str) -> Line {
    let decoded = decode_whole(line);
    if line.len() > odd::OVERSIZED_LINE {
        odd::slim(decoded, line.len())
    } else {
        decoded
    }
}

fn decode_whole(line: &str) -> Line {
    // Control characters can sit before a JSON line (the CLI's exit sequence ends in a shift-in,
    // 0x0f, and a line may follow it directly); JSON itself never holds raw ones.
    let trimmed = line.trim_matches(|c: char| c.is_ascii_whitespace() || c.is_ascii_control());
    if !trimmed.starts_with('{') {
        return text_line(line);
    }
    match decode_object(trimmed) {
        Some(event) => Line::Event(event),
        // A number out of range or nesting past the parser's limit: what parses is still read.
        None => match odd::prune(trimmed).as_deref().and_then(decode_object) {
            Some(event) => Line::Event(event),
            None => text_line(line),
        },
    }
}

/// A JSON object's event: typed when it is a shape we know, else kept whole.
fn decode_object(text: &str) -> Option<Event> {
    if let Ok(raw) = serde_json::from_str::<RawLine>(text) {
        if let Some(event) = raw.into_event(text) {
            return Some(event);
        }
    }
    // Not a shape we type (or a part of it that must be kept whole): keep the object as is.
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Some(kept_whole(v)),
        _ => None,
    }
}

/// An object whose shape we do not type. A `system` line stays a system event (its subtype is
/// still worth showing); anything else is `Event::Unknown`.
fn kept_whole(v: Value) -> Event {
    if v.get("type").and_then(Value::as_str) == Some("system") {
        let subtype = v.get("subtype").and_then(Value::as_str).unwrap_or("").to_owned();
        let session_id = v.get("session_id").and_then(Value::as_str).map(str::to_owned);
        return Event::System(SystemEvent { subtype, session_id, kind: SystemKind::Other(v) });
    }
    Event::Unknown(v)
}

/// Text lines lose the control characters that escape stripping leaves (BEL, backspace, ...).
fn text_line(line: &str) -> Line {
    if line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        Line::Text(line.chars().filter(|&c| c == '\t' || !c.is_control()).collect())
    } else {
        Line::Text(line.to_owned())
    }
}

/// The union of the top-level fields of every event type we know, so the line is read in one
/// pass whatever its key order. Fields of types not used here are skipped.
#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "lenient_cow")]
    subtype: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_string")]
    session_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    parent_tool_use_id: Option<String>,

    // assistant / user
    #[serde(default)]
    message: Option<RawMessage>,

    // stream_event
    #[serde(default)]
    event: Option<RawStreamEvent>,

    // system init
    #[serde(default, deserialize_with = "lenient_string")]
    cwd: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    model: Option<String>,
    #[serde(default, deserialize_with = "lenient_strings")]
    tools: Vec<String>,
    #[serde(rename = "permissionMode", default, deserialize_with = "lenient_string")]
    permission_mode: Option<String>,
    #[serde(rename = "apiKeySource", default, deserialize_with = "lenient_string")]
    api_key_source: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    claude_code_version: Option<String>,
    // system status
    #[serde(default, deserialize_with = "lenient_string")]
    status: Option<String>,
    // system api_retry
    #[serde(default, deserialize_with = "lenient_u64")]
    attempt: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    max_retries: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    retry_delay_ms: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    error_status: Option<u64>,
    #[serde(default)]
    error: Option<Value>,
    // system compact_boundary
    #[serde(default)]
    compact_metadata: Option<RawCompact>,

    // result
    #[serde(default, deserialize_with = "lenient_bool")]
    is_error: bool,
    #[serde(default, deserialize_with = "lenient_string")]
    result: Option<String>,
    #[serde(default, deserialize_with = "lenient_strings")]
    errors: Vec<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    duration_ms: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    duration_api_ms: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    num_turns: Option<u64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    total_cost_usd: Option<f64>,
    #[serde(default)]
    usage: Option<RawUsage>,
    #[serde(default)]
    permission_denials: Option<Vec<RawDenial>>,
    #[serde(default, deserialize_with = "lenient_string")]
    terminal_reason: Option<String>,

    // rate_limit_event
    #[serde(default)]
    rate_limit_info: Option<RawRateLimit>,
}

impl RawLine<'_> {
    /// `None` when the line must be kept whole as `Event::Unknown` (the caller re-parses it).
    fn into_event(self, line: &str) -> Option<Event> {
        let ev = match &*self.ty {
            "system" => {
                let subtype = self.subtype.as_deref().unwrap_or("").to_owned();
                let kind = match subtype.as_str() {
                    "init" => SystemKind::Init(Init {
                        cwd: self.cwd,
                        model: self.model,
                        tools: self.tools,
                        permission_mode: self.permission_mode,
                        api_key_source: self.api_key_source,
                        claude_code_version: self.claude_code_version,
                    }),
                    "status" => SystemKind::Status { status: self.status },
                    "api_retry" => SystemKind::ApiRetry(ApiRetry {
                        attempt: self.attempt.map(clamp_u32),
                        max_retries: self.max_retries.map(clamp_u32),
                        retry_delay_ms: self.retry_delay_ms,
                        error_status: self.error_status.map(|s| s.min(u16::MAX as u64) as u16),
                        error: self.error,
                    }),
                    "compact_boundary" => {
                        let m = self.compact_metadata.unwrap_or_default();
                        SystemKind::CompactBoundary { trigger: m.trigger, pre_tokens: m.pre_tokens }
                    }
                    _ => SystemKind::Other(reparse(line)?),
                };
                Event::System(SystemEvent { subtype, session_id: self.session_id, kind })
            }
            "assistant" | "user" => {
                let m = self.message.unwrap_or_default();
                let content = match m.content.0 {
                    Some(blocks) => blocks,
                    // A block we keep whole: take it from the whole line.
                    None => other_blocks(line)?,
                };
                let msg = MessageEvent {
                    message_id: m.id,
                    model: m.model,
                    content,
                    usage: m.usage.map(RawUsage::into_usage),
                    parent_tool_use_id: self.parent_tool_use_id,
                    session_id: self.session_id,
                };
                if self.ty == "assistant" {
                    Event::Assistant(msg)
                } else {
                    Event::User(msg)
                }
            }
            "stream_event" => {
                let kind = match self.event.and_then(RawStreamEvent::into_kind) {
                    Some(kind) => kind,
                    None => {
                        let mut v = reparse(line)?;
                        match v.get_mut("event").map(Value::take) {
                            Some(ev @ Value::Object(_)) => other_stream_kind(ev),
                            _ => StreamKind::Other(Value::Null),
                        }
                    }
                };
                Event::Stream(StreamEvent {
                    parent_tool_use_id: self.parent_tool_use_id,
                    session_id: self.session_id,
                    kind,
                })
            }
            "result" => Event::Result(ResultEvent {
                subtype: self.subtype.as_deref().unwrap_or("").to_owned(),
                is_error: self.is_error,
                result: self.result,
                errors: self.errors,
                duration_ms: self.duration_ms,
                duration_api_ms: self.duration_api_ms,
                num_turns: self.num_turns.map(clamp_u32),
                total_cost_usd: self.total_cost_usd,
                usage: self.usage.map(RawUsage::into_usage),
                permission_denials: self
                    .permission_denials
                    .unwrap_or_default()
                    .into_iter()
                    .map(RawDenial::into_denial)
                    .collect(),
                terminal_reason: self.terminal_reason,
                session_id: self.session_id,
            }),
            "rate_limit_event" => {
                let info = self.rate_limit_info.unwrap_or_default();
                Event::RateLimit(RateLimitEvent {
                    status: info.status,
                    limit_type: info.limit_type,
                    resets_at: info.resets_at.and_then(unix_seconds),
                    utilization: info.utilization.and_then(fraction),
                    windows: info.windows.as_ref().map(window_readings).unwrap_or_default(),
                    session_id: self.session_id,
                })
            }
            _ => return None,
        };
        Some(ev)
    }
}

fn clamp_u32(n: u64) -> u32 {
    n.min(u32::MAX as u64) as u32
}

fn reparse(line: &str) -> Option<Value> {
    serde_json::from_str(line).ok()
}

/// The slow path for a message with a block type we do not type: the blocks from the whole
/// line, known ones typed, the others kept as raw JSON.
fn other_blocks(line: &str) -> Option<Vec<ContentBlock>> {
    let v = reparse(line)?;
    let content = v.get("message")?.get("content")?;
    match content {
        Value::String(s) => Some(vec![ContentBlock::Text { text: s.clone() }]),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|item| {
                    RawBlock::deserialize(item)
                        .ok()
                        .and_then(RawBlock::into_block)
                        .unwrap_or_else(|| ContentBlock::Other(item.clone()))
                })
                .collect(),
        ),
        _ => Some(Vec::new()),
    }
}

/// The inner event of a `stream_event` that has a part we keep whole.
fn other_stream_kind(ev: Value) -> StreamKind {
    if ev.get("type").and_then(Value::as_str) == Some("content_block_start") {
        let index = ev.get("index").and_then(Value::as_u64).map_or(0, clamp_u32);
        if let Some(block) = ev.get("content_block") {
            return StreamKind::ContentBlockStart {
                index,
                block: ContentBlock::Other(block.clone()),
            };
        }
    }
    StreamKind::Other(ev)
}

#[derive(Deserialize, Default)]
struct RawCompact {
    #[serde(default, deserialize_with = "lenient_string")]
    trigger: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pre_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct RawRateLimit {
    #[serde(default, deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(rename = "rateLimitType", default, deserialize_with = "lenient_string")]
    limit_type: Option<String>,
    #[serde(rename = "resetsAt", default, deserialize_with = "lenient_f64")]
    resets_at: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    utilization: Option<f64>,
    /// Read by hand: any shape is tolerated, windows that make no sense are skipped.
    #[serde(rename = "unifiedWindows", default)]
    windows: Option<Value>,
}

/// `unifiedWindows`: `{"five_hour": {"utilization": 0.42, "resetsAt": 1796294634, "status":
/// "allowed"}, ...}`; an entry that is not an object is skipped, an odd field is left unknown.
fn window_readings(v: &Value) -> Vec<WindowReading> {
    let Some(map) = v.as_object() else { return Vec::new() };
    map.iter()
        .filter_map(|(name, w)| {
            let w = w.as_object()?;
            Some(WindowReading {
                name: name.clone(),
                utilization: w.get("utilization").and_then(Value::as_f64).and_then(fraction),
                resets_at: w.get("resetsAt").and_then(Value::as_f64).and_then(unix_seconds),
                status: w.get("status").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// A use fraction that can be shown: finite and not negative (a full window reads 1.02).
fn fraction(f: f64) -> Option<f64> {
    (f.is_finite() && f >= 0.0).then_some(f)
}

/// A reset time that can be shown: a finite positive number of seconds (2.1.197 passes a
/// header's fraction through), within what an i64 holds.
fn unix_seconds(f: f64) -> Option<i64> {
    (f.is_finite() && f > 0.0 && f < 1e15).then_some(f as i64)
}

#[derive(Deserialize, Default)]
struct RawUsage {
    #[serde(default, deserialize_with = "lenient_u64")]
    input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    output_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    cache_read_input_tokens: Option<u64>,
}

impl RawUsage {
    fn into_usage(self) -> Usage {
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0),
            output_tokens: self.output_tokens.unwrap_or(0),
            cache_creation_input_tokens: self.cache_creation_input_tokens.unwrap_or(0),
            cache_read_input_tokens: self.cache_read_input_tokens.unwrap_or(0),
        }
    }
}

#[derive(Deserialize, Default)]
struct RawDenial {
    #[serde(default, deserialize_with = "lenient_string")]
    tool_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    tool_use_id: Option<String>,
    #[serde(default)]
    tool_input: Value,
}

impl RawDenial {
    fn into_denial(self) -> PermissionDenial {
        PermissionDenial {
            tool_name: self.tool_name.unwrap_or_default(),
            tool_use_id: self.tool_use_id.unwrap_or_default(),
            tool_input: self.tool_input,
        }
    }
}

#[derive(Deserialize, Default)]
struct RawMessage {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    model: Option<String>,
    #[serde(default)]
    content: RawContent,
    #[serde(default)]
    usage: Option<RawUsage>,
}

/// A message's content: a plain string (user prompts) or a list of blocks. `None` when a block
/// must be kept whole (the caller takes the slow path).
#[derive(Default)]
struct RawContent(Option<Vec<ContentBlock>>);

impl<'de> Deserialize<'de> for RawContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawContent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of content blocks")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawContent, E> {
                Ok(RawContent(Some(vec![ContentBlock::Text { text: s.to_owned() }])))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<RawContent, E> {
                Ok(RawContent(Some(vec![ContentBlock::Text { text: s }])))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawContent, E> {
                Ok(RawContent(Some(Vec::new())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawContent, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                let mut whole = true;
                while let Some(b) = seq.next_element::<RawBlock>()? {
                    match b.into_block() {
                        Some(block) => blocks.push(block),
                        None => whole = false,
                    }
                }
                Ok(RawContent(whole.then_some(blocks)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The union of the fields of the block types we know.
#[derive(Deserialize)]
struct RawBlock<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "lenient_cow")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_string")]
    text: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    thinking: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default, deserialize_with = "lenient_string")]
    tool_use_id: Option<String>,
    #[serde(default)]
    content: FlatText,
    #[serde(default, deserialize_with = "lenient_bool")]
    is_error: bool,
}

impl RawBlock<'_> {
    /// `None` for a block type we keep whole.
    fn into_block(self) -> Option<ContentBlock> {
        Some(match self.ty.as_deref()? {
            "text" => ContentBlock::Text { text: self.text.unwrap_or_default() },
            "thinking" => ContentBlock::Thinking { thinking: self.thinking.unwrap_or_default() },
            "tool_use" => ContentBlock::ToolUse {
                id: self.id.unwrap_or_default(),
                name: self.name.unwrap_or_default(),
                input: self.input.unwrap_or(Value::Null),
            },
            "tool_result" => ContentBlock::ToolResult {
                tool_use_id: self.tool_use_id.unwrap_or_default(),
                content: self.content.0,
                is_error: self.is_error,
            },
            _ => return None,
        })
    }
}

/// A tool result's `content` flattened to text: a string as is, a list of blocks as the text of
/// its text blocks joined by newlines (an image becomes `[image]`).
#[derive(Default)]
struct FlatText(String);

impl<'de> Deserialize<'de> for FlatText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlatText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of blocks")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FlatText, E> {
                Ok(FlatText(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<FlatText, E> {
                Ok(FlatText(s))
            }
            fn visit_unit<E: de::Error>(self) -> Result<FlatText, E> {
                Ok(FlatText(String::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlatText, A::Error> {
                let mut out = String::new();
                while let Some(part) = seq.next_element::<FlatPart>()? {
                    let piece = match part.ty.as_deref() {
                        Some("text") => part.text.unwrap_or_default(),
                        Some("image") => "[image]".to_owned(),
                        Some(other) => format!("[{other}]"),
                        None => continue,
                    };
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(&piece);
                }
                Ok(FlatText(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlatText, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FlatText(String::new()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<FlatText, E> {
                Ok(FlatText(b.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<FlatText, E> {
                Ok(FlatText(n.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<FlatText, E> {
                Ok(FlatText(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<FlatText, E> {
                Ok(FlatText(n.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct FlatPart<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "lenient_cow")]
    ty: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_string")]
    text: Option<String>,
}

/// The inner `event` of a `stream_event`: the union of the fields of the kinds we know.
#[derive(Deserialize)]
struct RawStreamEvent {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    ty: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    index: Option<u64>,
    #[serde(default)]
    delta: Option<RawDelta>,
    #[serde(default)]
    message: Option<RawStreamMessage>,
    #[serde(default)]
    content_block: Option<RawBlockOrOther>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

/// A content block that may be of a type we keep whole (`None` then).
struct RawBlockOrOther(Option<ContentBlock>);

impl<'de> Deserialize<'de> for RawBlockOrOther {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawBlockOrOther(RawBlock::deserialize(d)?.into_block()))
    }
}

#[derive(Deserialize)]
struct RawDelta {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    ty: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    text: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    thinking: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    partial_json: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct RawStreamMessage {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    model: Option<String>,
}

impl RawStreamEvent {
    /// `None` for a kind we keep whole.
    fn into_kind(self) -> Option<StreamKind> {
        let index = self.index.map_or(0, clamp_u32);
        Some(match self.ty.as_deref()? {
            "message_start" => {
                let m = self.message;
                StreamKind::MessageStart {
                    message_id: m.as_ref().and_then(|m| m.id.clone()),
                    model: m.and_then(|m| m.model),
                }
            }
            "content_block_start" => {
                StreamKind::ContentBlockStart { index, block: self.content_block?.0? }
            }
            "content_block_delta" => {
                let d = self.delta?;
                match d.ty.as_deref()? {
                    "text_delta" => {
                        StreamKind::TextDelta { index, text: d.text.unwrap_or_default() }
                    }
                    "thinking_delta" => {
                        StreamKind::ThinkingDelta { index, text: d.thinking.unwrap_or_default() }
                    }
                    "input_json_delta" => StreamKind::InputJsonDelta {
                        index,
                        partial_json: d.partial_json.unwrap_or_default(),
                    },
                    "signature_delta" => StreamKind::SignatureDelta { index },
                    _ => return None,
                }
            }
            "content_block_stop" => StreamKind::ContentBlockStop { index },
            "message_delta" => StreamKind::MessageDelta {
                stop_reason: self.delta.and_then(|d| d.stop_reason),
                usage: self.usage.map(RawUsage::into_usage),
            },
            "message_stop" => StreamKind::MessageStop,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient leaf readers: a field of an unexpected JSON type reads as absent instead of failing
// the whole line (the CLI's schema moves; a changed leaf must not hide a whole event).
// ---------------------------------------------------------------------------------------------

/// Reads any JSON value; keeps it when the visitor `F` accepts its type.
struct Lenient<T>(Option<T>);

macro_rules! skip_others {
    () => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Lenient(None))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Lenient(None))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Lenient(None))
        }
    };
}

struct StrV;
impl<'de> Visitor<'de> for StrV {
    type Value = Lenient<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Lenient(Some(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Lenient(Some(s)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    skip_others!();
}

struct CowV;
impl<'de> Visitor<'de> for CowV {
    type Value = Lenient<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Borrowed(s))))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Owned(s.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Lenient(Some(Cow::Owned(s))))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    skip_others!();
}

struct NumV;
impl<'de> Visitor<'de> for NumV {
    type Value = Lenient<f64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Lenient(Some(n as f64)))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Lenient(Some(n as f64)))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Lenient(Some(n)))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    skip_others!();
}

/// u64 keeps full precision (token counts, ids) instead of going through f64.
struct U64V;
impl<'de> Visitor<'de> for U64V {
    type Value = Lenient<u64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative number")
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Lenient(Some(n)))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Lenient(u64::try_from(n).ok()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Lenient((n.is_finite() && n >= 0.0).then_some(n as u64)))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    skip_others!();
}

struct BoolV;
impl<'de> Visitor<'de> for BoolV {
    type Value = Lenient<bool>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Lenient(Some(b)))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    skip_others!();
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(d.deserialize_any(StrV)?.0)
}

fn lenient_cow<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Ok(d.deserialize_any(CowV)?.0)
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(d.deserialize_any(U64V)?.0)
}

fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(d.deserialize_any(NumV)?.0)
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(d.deserialize_any(BoolV)?.0.unwrap_or(false))
}

/// A list of strings; other items (and a non-list) are skipped. `errors[]` may hold objects in
/// future CLIs: their JSON text is kept so no reason is lost.
fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(v) = seq.next_element::<Value>()? {
                match v {
                    Value::String(s) => out.push(s),
                    Value::Null => {}
                    other => out.push(other.to_string()),
                }
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<String>, E> {
            Ok(vec![s.to_owned()])
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
pub(crate) mod tests;
