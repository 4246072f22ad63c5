//! The JSON shapes claude 2.1.197 writes with `--output-format stream-json --verbose`, built with
//! `json!` so the field names sit next to each other and can be compared with real captures
//! (tests/fixtures/stream-json/, and the 2.1.197 lines quoted in the tests).

use serde_json::{json, Value};

/// The version the init event reports: the real one with a marker.
pub const VERSION: &str = "2.1.197-sim";

/// The tools the real CLI lists in `init` (a trimmed but realistic set).
pub const TOOLS: &[&str] = &[
    "Task",
    "Bash",
    "Glob",
    "Grep",
    "Read",
    "Edit",
    "Write",
    "NotebookEdit",
    "WebFetch",
    "WebSearch",
    "TodoWrite",
    "TaskOutput",
    "TaskStop",
    "Skill",
];

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Ids in the API's style (`msg_01...`, `toolu_01...`): 24 base62-ish characters.
pub fn api_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let more = uuid::Uuid::new_v4().into_bytes();
    let tail: String = bytes
        .iter()
        .chain(more.iter())
        .take(22)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}_01{tail}")
}

/// Token counts of one API response or of a whole turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_creation: u64,
    pub cache_read: u64,
}

impl Tokens {
    pub fn add(&mut self, other: Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_creation += other.cache_creation;
        self.cache_read += other.cache_read;
    }

    /// The `usage` object inside a message (and `message_start`).
    pub fn message_usage(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0,
                "ephemeral_1h_input_tokens": self.cache_creation
            },
            "output_tokens": self.output,
            "service_tier": "standard"
        })
    }

    /// The `usage` object of a `result`.
    pub fn result_usage(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
            "cache_creation": {
                "ephemeral_1h_input_tokens": self.cache_creation,
                "ephemeral_5m_input_tokens": 0
            },
            "inference_geo": "",
            "iterations": [],
            "speed": "standard"
        })
    }
}

/// What the init event says about the run.
pub struct InitInfo<'a> {
    pub session_id: &'a str,
    pub cwd: &'a str,
    pub model: &'a str,
    pub tools: &'a [String],
    pub permission_mode: &'a str,
    pub api_key_source: &'a str,
}

pub fn init(i: &InitInfo<'_>) -> Value {
    json!({
        "type": "system",
        "subtype": "init",
        "cwd": i.cwd,
        "session_id": i.session_id,
        "tools": i.tools,
        "mcp_servers": [],
        "model": i.model,
        "permissionMode": i.permission_mode,
        "slash_commands": ["compact", "context", "cost", "init", "review", "security-review"],
        "apiKeySource": i.api_key_source,
        "claude_code_version": VERSION,
        "output_style": "default",
        "agents": ["general-purpose", "Explore", "Plan", "statusline-setup"],
        "skills": [],
        "plugins": [],
        "uuid": uuid(),
        "fast_mode_state": "off"
    })
}

/// `system`/`status` "requesting", written before each API request with partial messages.
pub fn status_requesting(session_id: &str) -> Value {
    json!({
        "type": "system",
        "subtype": "status",
        "status": "requesting",
        "uuid": uuid(),
        "session_id": session_id
    })
}

/// What a subscription's rate-limit headers say, after the first response.
pub fn rate_limit(session_id: &str, status: &str, resets_at: u64) -> Value {
    json!({
        "type": "rate_limit_event",
        "rate_limit_info": {
            "status": status,
            "resetsAt": resets_at,
            "rateLimitType": "five_hour",
            "overageStatus": "rejected",
            "overageDisabledReason": "org_level_disabled",
            "isUsingOverage": false
        },
        "uuid": uuid(),
        "session_id": session_id
    })
}

pub fn api_retry(session_id: &str, attempt: u32, delay_ms: f64, status: u16, error: &str) -> Value {
    json!({
        "type": "system",
        "subtype": "api_retry",
        "attempt": attempt,
        "max_retries": 10,
        "retry_delay_ms": delay_ms,
        "error_status": status,
        "error": error,
        "session_id": session_id,
        "uuid": uuid()
    })
}

/// One `assistant` line: one content block of the response `message_id`.
pub fn assistant(
    session_id: &str,
    message_id: &str,
    model: &str,
    block: Value,
    usage: &Tokens,
) -> Value {
    json!({
        "type": "assistant",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage.message_usage(),
            "context_management": null
        },
        "parent_tool_use_id": null,
        "session_id": session_id,
        "uuid": uuid()
    })
}

pub fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

pub fn tool_use_block(id: &str, name: &str, input: &Value) -> Value {
    json!({"type": "tool_use", "id": id, "name": name, "input": input})
}

/// The `user` line carrying a tool's result (and the top-level `tool_use_result`).
pub fn tool_result(
    session_id: &str,
    tool_use_id: &str,
    content: &str,
    is_error: bool,
    tool_use_result: &Value,
) -> Value {
    json!({
        "type": "user",
        "message": {
            "role": "user",
            "content": [{
                "tool_use_id": tool_use_id,
                "type": "tool_result",
                "content": content,
                "is_error": is_error
            }]
        },
        "parent_tool_use_id": null,
        "session_id": session_id,
        "uuid": uuid(),
        "timestamp": crate::sim::clock::now_rfc3339(),
        "tool_use_result": tool_use_result
    })
}

/// A `stream_event` line wrapping one SSE event of the Messages API.
pub fn stream_event(session_id: &str, event: Value) -> Value {
    json!({
        "type": "stream_event",
        "event": event,
        "session_id": session_id,
        "parent_tool_use_id": null,
        "uuid": uuid()
    })
}

pub fn message_start(message_id: &str, model: &str, usage: &Tokens) -> Value {
    json!({
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {
                "input_tokens": usage.input,
                "output_tokens": 1,
                "cache_creation_input_tokens": usage.cache_creation,
                "cache_read_input_tokens": usage.cache_read
            }
        }
    })
}

pub fn content_block_start(index: usize, block: Value) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": block})
}

pub fn text_delta(index: usize, text: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})
}

pub fn input_json_delta(index: usize, partial_json: &str) -> Value {
    json!({
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "input_json_delta", "partial_json": partial_json}
    })
}

pub fn content_block_stop(index: usize) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

pub fn message_delta(stop_reason: &str, output_tokens: u64) -> Value {
    json!({
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": output_tokens}
    })
}

pub fn message_stop() -> Value {
    json!({"type": "message_stop"})
}

/// How a turn ended, for the `result` line.
pub struct Outcome<'a> {
    pub subtype: &'a str,
    pub is_error: bool,
    /// The final text (successes only; error results carry `errors` instead).
    pub result: Option<&'a str>,
    pub errors: &'a [String],
    pub stop_reason: Option<&'a str>,
    pub terminal_reason: Option<&'a str>,
}

pub struct Totals<'a> {
    pub session_id: &'a str,
    pub model: &'a str,
    pub duration_ms: u64,
    pub duration_api_ms: u64,
    pub num_turns: u32,
    pub cost_usd: f64,
    pub tokens: Tokens,
    pub permission_denials: &'a [Value],
}

pub fn result(o: &Outcome<'_>, t: &Totals<'_>) -> Value {
    let mut v = json!({
        "type": "result",
        "subtype": o.subtype,
        "is_error": o.is_error,
        "api_error_status": null,
        "duration_ms": t.duration_ms,
        "duration_api_ms": t.duration_api_ms,
        "num_turns": t.num_turns,
        "stop_reason": o.stop_reason,
        "session_id": t.session_id,
        "total_cost_usd": t.cost_usd,
        "usage": t.tokens.result_usage(),
        "modelUsage": model_usage(t),
        "permission_denials": t.permission_denials,
        "fast_mode_state": "off",
        "uuid": uuid()
    });
    if let Some(map) = v.as_object_mut() {
        if let Some(text) = o.result {
            map.insert("result".into(), json!(text));
        }
        if let Some(reason) = o.terminal_reason {
            map.insert("terminal_reason".into(), json!(reason));
        }
        if !o.errors.is_empty() {
            map.insert("errors".into(), json!(o.errors));
        }
    }
    v
}

fn model_usage(t: &Totals<'_>) -> Value {
    if t.num_turns == 0 {
        return json!({});
    }
    let mut m = serde_json::Map::new();
    m.insert(
        t.model.to_string(),
        json!({
            "inputTokens": t.tokens.input,
            "outputTokens": t.tokens.output,
            "cacheReadInputTokens": t.tokens.cache_read,
            "cacheCreationInputTokens": t.tokens.cache_creation,
            "webSearchRequests": 0,
            "costUSD": t.cost_usd,
            "contextWindow": 200000,
            "maxOutputTokens": 64000
        }),
    );
    Value::Object(m)
}
