//! Typed stream-json events, tolerant of the future.
//!
//! Every field the CLI may omit is optional, unknown event types are kept as raw JSON
//! (`Event::Unknown`), unknown system subtypes and content blocks likewise. Nothing here fails
//! on a field it does not know.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One line read from an agent's PTY, after framing.
// Most lines are events: boxing them would add an allocation per line for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// A JSON object the decoder understood (or kept as `Event::Unknown`).
    Event(Event),
    /// Text that is not JSON: the CLI's stderr shares the terminal with stdout.
    Text(String),
    /// A line longer than the configured limit; its bytes were skipped.
    TooLong { len: usize, limit: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    System(SystemEvent),
    Assistant(MessageEvent),
    User(MessageEvent),
    Stream(StreamEvent),
    Result(ResultEvent),
    RateLimit(RateLimitEvent),
    /// Any `type` not known yet, kept whole.
    Unknown(Value),
}

impl Event {
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Event::System(e) => e.session_id.as_deref(),
            Event::Assistant(e) | Event::User(e) => e.session_id.as_deref(),
            Event::Stream(e) => e.session_id.as_deref(),
            Event::Result(e) => e.session_id.as_deref(),
            Event::RateLimit(e) => e.session_id.as_deref(),
            Event::Unknown(v) => v.get("session_id").and_then(Value::as_str),
        }
    }

    /// Set for events that belong to a subagent (a Task/Agent tool call's id).
    pub fn parent_tool_use_id(&self) -> Option<&str> {
        match self {
            Event::Assistant(e) | Event::User(e) => e.parent_tool_use_id.as_deref(),
            Event::Stream(e) => e.parent_tool_use_id.as_deref(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SystemEvent {
    pub subtype: String,
    pub session_id: Option<String>,
    pub kind: SystemKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SystemKind {
    Init(Init),
    Status {
        status: Option<String>,
    },
    ApiRetry(ApiRetry),
    CompactBoundary {
        trigger: Option<String>,
        pre_tokens: Option<u64>,
    },
    /// Any other subtype, kept whole.
    Other(Value),
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Init {
    pub cwd: Option<String>,
    pub model: Option<String>,
    pub tools: Vec<String>,
    #[serde(rename = "permissionMode")]
    pub permission_mode: Option<String>,
    #[serde(rename = "apiKeySource")]
    pub api_key_source: Option<String>,
    pub claude_code_version: Option<String>,
}

impl Init {
    /// The reason agentmux runs claude in a PTY: "none" means the subscription pays.
    /// An init without the key (older CLIs) is taken as subscription.
    pub fn billed_per_token(&self) -> bool {
        matches!(self.api_key_source.as_deref(), Some(s) if s != "none")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApiRetry {
    pub attempt: Option<u32>,
    pub max_retries: Option<u32>,
    pub retry_delay_ms: Option<u64>,
    pub error_status: Option<u16>,
    pub error: Option<Value>,
}

/// An `assistant` or `user` line: one message (often one content block of it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageEvent {
    pub message_id: Option<String>,
    pub model: Option<String>,
    pub content: Vec<ContentBlock>,
    pub usage: Option<Usage>,
    pub parent_tool_use_id: Option<String>,
    pub session_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ContentBlock {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// `content` flattened to text (the CLI sends a string or a list of text/image blocks).
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    /// Any other block type, kept whole.
    Other(Value),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// The counts come from the agent's output, so a huge one saturates instead of overflowing.
    pub fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_creation_input_tokens)
            .saturating_add(self.cache_read_input_tokens)
    }
}

/// Adds a reported cost to a running sum. Costs come from the agent's output: a negative, NaN or
/// infinite one adds nothing, and a sum past `f64::MAX` stays there rather than turning infinite.
pub fn add_cost(sum: f64, cost: f64) -> f64 {
    if !cost.is_finite() || cost < 0.0 {
        return sum;
    }
    let total = sum + cost;
    if total.is_finite() {
        total
    } else {
        f64::MAX
    }
}

/// The sum of several costs, saturating as [`add_cost`] does.
pub fn sum_costs(costs: impl IntoIterator<Item = f64>) -> f64 {
    costs.into_iter().fold(0.0, add_cost)
}

/// A `stream_event` line (with `--include-partial-messages`).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEvent {
    pub parent_tool_use_id: Option<String>,
    pub session_id: Option<String>,
    pub kind: StreamKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StreamKind {
    MessageStart {
        message_id: Option<String>,
        model: Option<String>,
    },
    ContentBlockStart {
        index: u32,
        block: ContentBlock,
    },
    TextDelta {
        index: u32,
        text: String,
    },
    ThinkingDelta {
        index: u32,
        text: String,
    },
    InputJsonDelta {
        index: u32,
        partial_json: String,
    },
    /// Thinking may arrive only as a signature with empty text.
    SignatureDelta {
        index: u32,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        stop_reason: Option<String>,
        usage: Option<Usage>,
    },
    MessageStop,
    Other(Value),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultEvent {
    pub subtype: String,
    pub is_error: bool,
    pub result: Option<String>,
    pub errors: Vec<String>,
    pub duration_ms: Option<u64>,
    pub duration_api_ms: Option<u64>,
    pub num_turns: Option<u32>,
    pub total_cost_usd: Option<f64>,
    pub usage: Option<Usage>,
    pub permission_denials: Vec<PermissionDenial>,
    pub terminal_reason: Option<String>,
    pub session_id: Option<String>,
}

impl ResultEvent {
    /// The errors meant for a reader: the CLI's `[ede_diagnostic] result_type=...` lines are
    /// notes for its own developers, and its own UI drops them too.
    pub fn shown_errors(&self) -> impl Iterator<Item = &str> {
        self.errors.iter().map(String::as_str).filter(|e| !is_diagnostic(e))
    }
}

/// One of the CLI's diagnostic error lines (see [`ResultEvent::shown_errors`]).
pub fn is_diagnostic(error: &str) -> bool {
    error.trim_start().starts_with("[ede_diagnostic]")
}

/// Is a tool result the CLI's word for a call that an interrupt cut off, rather than the
/// tool's own failure? The CLI answers the call it was running with its interrupt marker, and
/// an MCP tool whose server died with the interrupted process group with "Connection closed"
/// (JSON-RPC's -32000).
pub fn cut_by_interrupt(content: &str) -> bool {
    let first = content.trim_start();
    is_interrupt_marker(first)
        || (first.starts_with("MCP error -32000") && first.contains("Connection closed"))
}

/// The CLI's "[Request interrupted by user]" (or "... for tool use]"), which it adds to the
/// conversation when a turn is interrupted.
pub fn is_interrupt_marker(text: &str) -> bool {
    text.trim_start().starts_with("[Request interrupted by user")
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PermissionDenial {
    pub tool_name: String,
    pub tool_use_id: String,
    pub tool_input: Value,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimitEvent {
    /// "allowed", "allowed_warning", "rejected", ...
    pub status: Option<String>,
    /// "five_hour", "seven_day", ...
    pub limit_type: Option<String>,
    /// Unix seconds.
    pub resets_at: Option<i64>,
    /// The `limit_type` window's use (0 to 1, past 1 when over), given with a warning.
    pub utilization: Option<f64>,
    /// Every window the API's headers named (`unifiedWindows`, CLI 2.1.332 and later).
    pub windows: Vec<WindowReading>,
    pub session_id: Option<String>,
}

/// One usage window as a `rate_limit_event` reported it; each field may be missing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowReading {
    /// "five_hour", "seven_day", ...
    pub name: String,
    pub utilization: Option<f64>,
    /// Unix seconds.
    pub resets_at: Option<i64>,
    pub status: Option<String>,
}
