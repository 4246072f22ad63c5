//! The control protocol: requests and answers as JSON lines over a Unix socket.
//!
//! One request is one line: `{"v":1,"cmd":"send","agent":"w1","text":"..."}`, optionally with
//! `"from":"<agent name>"` (the client's `AGENTMUX_AGENT`). One answer is one line:
//! `{"v":1,"type":"sent","agent":"w1","queued":false}` or
//! `{"v":1,"type":"error","code":"no_such_agent","message":"..."}`. After a `tailing` answer
//! the connection carries the agent's events, one stream-json line each, until it ends.
//! docs/control-protocol.md is the reference for users; this file is the one for code.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this build speaks. A request with another `v` gets a `version` error.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request line is refused past this size, and the connection closed. A follow-up's text
/// travels in it, and the CLI caps one argv argument at 128 KiB, so this leaves room for stdin
/// input and a large tool call asking for approval, while the server's connections together
/// (see `server::MAX_CONNECTIONS`) hold at most 64 MiB.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// What a client asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Every agent (workers and supervisor): answered with [`Answer::Agents`].
    Ls,
    /// A follow-up turn; queued when the agent is busy. Answered with [`Answer::Sent`].
    Send { agent: String, text: String },
    /// A new agent. Fields left out take the team's defaults. Answered with [`Answer::Created`].
    New {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        /// The first prompt; without it the agent waits for one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt: Option<String>,
        /// In a git worktree of its own (branch `agentmux/<name>`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        worktree: bool,
    },
    /// A new agent that continues a Claude Code session of `cwd` (follow-ups `--resume` it);
    /// its pane shows the earlier turns. Answered with [`Answer::Created`].
    Import {
        session_id: String,
        /// The directory the session belongs to (the client's).
        cwd: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A new agent that continues `agent`'s conversation after turn `at` (counted from the
    /// conversation's first, imported ones included; the end when absent) in a conversation of
    /// its own; `agent` goes on untouched. Answered with [`Answer::Created`].
    Fork {
        agent: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        worktree: bool,
    },
    /// Answered with [`Answer::TurnEnded`] once the agent is idle: no turn running and no
    /// follow-up queued (an interrupted agent's queue waits for the user: idle). An idle agent
    /// answers at once with its last turn (outcome `none` if it never ran one).
    Wait { agent: String },
    /// A subscription: answered with [`Answer::Tailing`], then the agent's events, one
    /// stream-json line each, until the agent is closed or the client disconnects.
    Tail { agent: String },
    /// Interrupt the running turn (queued follow-ups stay queued). Answered with [`Answer::Killed`].
    Kill { agent: String },
    /// The same follow-up to every worker (not the supervisor). Answered with
    /// [`Answer::Broadcast`].
    Broadcast { text: String },
    /// An agent's tool call waits for the user's permission (sent by `agentmux __mcp-approve`,
    /// the CLI's `--permission-prompt-tool`). Answered with [`Answer::Decision`] once the user
    /// decides (or a rule decides at once); a client that leaves withdraws the request.
    Approve {
        agent: String,
        tool_name: String,
        /// The tool's input as the CLI sent it.
        #[serde(default)]
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_use_id: Option<String>,
        /// The asking turn's secret (`AGENTMUX_APPROVAL_SECRET`); without the right one the
        /// request is refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
    /// Lines of every agent's transcript holding `text` (plain, case-insensitive). Answered with
    /// [`Answer::Hits`].
    Search { text: String },
    /// Change an agent's model or permission mode from its next turn on (a live process
    /// switches while it lives). Answered with [`Answer::Set`].
    Set {
        agent: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        permission_mode: Option<crate::agent::PermissionMode>,
    },
    /// Start a held agent's next turn now, past the usage governor (or the turn agentmux died
    /// in). Answered with [`Answer::Resumed`].
    Resume { agent: String },
}

impl Request {
    /// The agent a request names, if it names one.
    pub fn agent(&self) -> Option<&str> {
        match self {
            Request::Send { agent, .. }
            | Request::Wait { agent }
            | Request::Tail { agent }
            | Request::Kill { agent }
            | Request::Approve { agent, .. }
            | Request::Set { agent, .. }
            | Request::Resume { agent }
            | Request::Fork { agent, .. } => Some(agent),
            Request::New { name, .. } => Some(name),
            Request::Import { name, .. } => name.as_deref(),
            Request::Ls | Request::Broadcast { .. } | Request::Search { .. } => None,
        }
    }
}

/// A request line: the version, who asks, and the request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestLine {
    pub v: u32,
    /// The asking agent's name (`AGENTMUX_AGENT`), absent when a person or script asks.
    /// The supervisor's `send`s are told apart by it, so their reports can be relayed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(flatten)]
    pub request: Request,
}

impl RequestLine {
    pub fn new(from: Option<String>, request: Request) -> Self {
        RequestLine { v: PROTOCOL_VERSION, from, request }
    }

    /// One line, without the newline.
    pub fn to_line(&self) -> String {
        // A struct of strings and enums always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the server answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Answer {
    Agents {
        agents: Vec<AgentInfo>,
        /// The subscription's usage windows (none before a CLI reported them).
        #[serde(default)]
        limits: Vec<LimitInfo>,
    },
    Sent {
        agent: String,
        /// True when the agent was busy and the text waits in its queue.
        queued: bool,
    },
    Created {
        agent: String,
    },
    /// The agent's options changed (`set`).
    Set {
        agent: String,
    },
    /// The held agent's next turn starts (`resume`).
    Resumed {
        agent: String,
    },
    TurnEnded(TurnReport),
    /// The subscription started; event lines follow.
    Tailing {
        agent: String,
    },
    Killed {
        agent: String,
        /// False when no turn was running (nothing was interrupted).
        was_running: bool,
    },
    Broadcast {
        sent: Vec<SentTo>,
    },
    /// The answer to `search`: agent by agent in the team's order, each agent's in order.
    Hits {
        hits: Vec<SearchHit>,
        /// The list stopped at its limit; more lines may hold the text.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        truncated: bool,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    /// The answer to `approve`: run the call (with `updated_input` when the user changed it) or
    /// not (`message` tells the agent why).
    Decision {
        behavior: Behavior,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        updated_input: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

/// Whether a tool call may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behavior {
    Allow,
    Deny,
    /// A behavior from a newer agentmux: treated as a denial.
    #[serde(other)]
    Unknown,
}

impl Answer {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Answer::Error { code, message: message.into() }
    }

    pub fn no_such_agent(name: &str) -> Self {
        Answer::error(ErrorCode::NoSuchAgent, format!("no agent named {name:?}"))
    }
}

/// An answer line: the version and the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerLine {
    pub v: u32,
    #[serde(flatten)]
    pub answer: Answer,
}

impl AnswerLine {
    pub fn new(answer: Answer) -> Self {
        AnswerLine { v: PROTOCOL_VERSION, answer }
    }

    pub fn to_line(&self) -> String {
        // Only strings, numbers, enums and finite-or-null floats: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One line of a transcript that holds the searched text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub agent: String,
    /// 1 for the first prompt's turn, 0 before any prompt.
    pub turn: u32,
    pub line: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentTo {
    pub agent: String,
    pub queued: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not an object, an unknown `cmd`, a missing or mistyped field.
    BadRequest,
    /// A `v` this build does not speak.
    Version,
    NoSuchAgent,
    /// `new` with a name already in use.
    NameTaken,
    /// The request was understood but cannot be done now (the message says why).
    Refused,
    /// agentmux is quitting.
    ShuttingDown,
    Internal,
    /// A code from a newer agentmux.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Version => "version",
            ErrorCode::NoSuchAgent => "no_such_agent",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::Refused => "refused",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// One usage window in `ls`: what the CLIs last reported of it (unknown once it has reset).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitInfo {
    /// The CLI's name: "five_hour", "seven_day", ...
    pub window: String,
    /// 0 to 1 (a full window reads a little over 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    /// "allowed", "allowed_warning", "rejected", ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
}

impl LimitInfo {
    pub fn of(w: &crate::limits::Window) -> LimitInfo {
        LimitInfo {
            window: w.name.clone(),
            utilization: w.utilization,
            status: w.status.clone(),
            resets_at: w.resets_at,
        }
    }

    pub fn window(&self) -> crate::limits::Window {
        crate::limits::Window::reading(
            &self.window,
            self.utilization,
            self.status.clone(),
            self.resets_at,
        )
    }
}

/// One row of `ls`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub state: AgentState,
    /// True for the team's supervisor.
    #[serde(default)]
    pub supervisor: bool,
    #[serde(default)]
    pub cwd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default)]
    pub turns: u64,
    #[serde(default)]
    pub cost_usd: f64,
    /// Follow-ups waiting for the running turn to end.
    #[serde(default)]
    pub queued: usize,
    /// Milliseconds since the Unix epoch of the agent's last event, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_ms: Option<u64>,
}

/// Where an agent stands: the one word the pane header, the supervisor's board, `ls` and
/// `ls --json` all show (decided by `app::query::agent_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    /// No turn running; the last one (if any) succeeded.
    Idle,
    /// A turn is starting or running.
    #[serde(alias = "working")]
    Running,
    /// A tool call waits for the user's answer.
    #[serde(alias = "waiting")]
    NeedsYou,
    /// No turn running; the last one failed.
    Failed,
    /// No turn running; the user stopped the last one.
    Interrupted,
    /// No turn running; a usage limit refused the last one.
    RateLimited,
    /// Its next turn waits for a usage window (the governor holds it).
    Held,
    /// A state from a newer agentmux.
    #[serde(other)]
    Unknown,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Idle => "idle",
            AgentState::Running => "running",
            AgentState::NeedsYou => "needs-you",
            AgentState::Failed => "failed",
            AgentState::Interrupted => "interrupted",
            AgentState::RateLimited => "rate-limited",
            AgentState::Held => "held",
            AgentState::Unknown => "unknown",
        }
    }
}

/// How a turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnOutcome {
    /// A `result` event that is not an error, and exit status 0.
    Success,
    /// An error result, a non-zero exit, or no result at all.
    Error,
    /// Stopped by `kill` or by the user.
    Interrupted,
    /// Refused by a usage limit.
    #[serde(rename = "rate-limited")]
    RateLimited,
    /// The agent never ran a turn (answer to `wait` on a fresh agent).
    None,
    #[serde(other)]
    Unknown,
}

impl TurnOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnOutcome::Success => "done",
            TurnOutcome::Error => "failed",
            TurnOutcome::Interrupted => "interrupted",
            TurnOutcome::RateLimited => "rate-limited",
            TurnOutcome::None => "none",
            TurnOutcome::Unknown => "unknown",
        }
    }

    /// What `agentmux wait` exits 0 for.
    pub fn ok(self) -> bool {
        matches!(self, TurnOutcome::Success | TurnOutcome::None)
    }
}

/// How an agent's turn ended: the answer to `wait`, and what the supervisor's reports are made of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnReport {
    pub agent: String,
    pub outcome: TurnOutcome,
    /// The result event's subtype when it says more than the outcome
    /// (`error_max_turns`, `error_during_execution`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The result text (or the errors, for a failed turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// This turn's cost, when the CLI reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// Why a line is not a request. Every variant becomes an error answer, never a crash.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtoError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("a request must be a JSON object")]
    NotAnObject,
    #[error("missing \"v\" (the protocol version; this agentmux speaks {PROTOCOL_VERSION})")]
    NoVersion,
    #[error("protocol version {0} is not supported (this agentmux speaks {PROTOCOL_VERSION})")]
    Version(Value),
    #[error("bad request: {0}")]
    Bad(String),
    #[error("request longer than {0} bytes; closing the connection")]
    TooLong(usize),
}

impl ProtoError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtoError::Version(_) => ErrorCode::Version,
            _ => ErrorCode::BadRequest,
        }
    }

    pub fn to_answer(&self) -> Answer {
        Answer::error(self.code(), self.to_string())
    }
}

/// Parse one request line (without its newline). The version is checked before the command, so
/// a client from another version learns that rather than a confusing field error.
pub fn decode_request(line: &str) -> Result<RequestLine, ProtoError> {
    let value: Value =
        serde_json::from_str(line.trim()).map_err(|e| ProtoError::NotJson(e.to_string()))?;
    let obj = value.as_object().ok_or(ProtoError::NotAnObject)?;
    match obj.get("v") {
        None => return Err(ProtoError::NoVersion),
        Some(v) if v.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
        Some(v) => return Err(ProtoError::Version(v.clone())),
    }
    // Unknown fields are refused by name, so a typo ("agnet", "modle") is not silently dropped.
    if let Some(cmd) = obj.get("cmd").and_then(Value::as_str) {
        if let Some(allowed) = request_fields(cmd) {
            if let Some(extra) = obj.keys().find(|k| {
                !matches!(k.as_str(), "v" | "from" | "cmd") && !allowed.contains(&k.as_str())
            }) {
                return Err(ProtoError::Bad(format!(
                    "unknown field {extra:?} for cmd {cmd:?} (it takes: {})",
                    if allowed.is_empty() { "nothing".to_string() } else { allowed.join(", ") }
                )));
            }
        }
    }
    serde_json::from_value(value).map_err(|e| ProtoError::Bad(e.to_string()))
}

/// The fields each `cmd` takes besides `v`, `from` and `cmd`; `None` for an unknown `cmd`.
fn request_fields(cmd: &str) -> Option<&'static [&'static str]> {
    Some(match cmd {
        "ls" => &[],
        "send" => &["agent", "text"],
        "new" => &["name", "cwd", "model", "role", "prompt", "worktree"],
        "wait" | "tail" | "kill" => &["agent"],
        "broadcast" => &["text"],
        "approve" => &["agent", "tool_name", "input", "tool_use_id", "secret"],
        _ => return None,
    })
}

/// Parse one answer line (the client's side).
pub fn decode_answer(line: &str) -> Result<AnswerLine, ProtoError> {
    let value: Value =
        serde_json::from_str(line.trim()).map_err(|e| ProtoError::NotJson(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| ProtoError::Bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_one_line() {
        let reqs = [
            Request::Ls,
            Request::Send { agent: "w".into(), text: "line one\nline two".into() },
            Request::New {
                name: "n".into(),
                cwd: Some("/tmp".into()),
                model: Some("sonnet".into()),
                role: Some("tests".into()),
                prompt: Some("go".into()),
                worktree: true,
            },
            Request::Wait { agent: "w".into() },
            Request::Tail { agent: "w".into() },
            Request::Kill { agent: "w".into() },
            Request::Set {
                agent: "w".into(),
                model: Some("sonnet".into()),
                permission_mode: Some(crate::agent::PermissionMode::Plan),
            },
            Request::Set { agent: "w".into(), model: None, permission_mode: None },
            Request::Broadcast { text: "hi".into() },
            Request::Import { session_id: "s".into(), cwd: "/w".into(), name: None },
            Request::Fork {
                agent: "w".into(),
                at: Some(2),
                name: Some("f".into()),
                worktree: true,
            },
            Request::Approve {
                agent: "w".into(),
                tool_name: "Bash".into(),
                input: serde_json::json!({"command": "touch a\nb"}),
                tool_use_id: Some("toolu_1".into()),
                secret: Some("s3cret".into()),
            },
        ];
        for r in reqs {
            let line = RequestLine::new(Some("sup".into()), r.clone()).to_line();
            assert!(!line.contains('\n'), "{line}");
            let back = decode_request(&line).map(|l| (l.from, l.request));
            assert_eq!(back, Ok((Some("sup".into()), r)));
        }
    }

    #[test]
    fn the_wire_form_is_flat_and_versioned() {
        let line =
            RequestLine::new(None, Request::Send { agent: "w".into(), text: "t".into() }).to_line();
        assert_eq!(line, r#"{"v":1,"cmd":"send","agent":"w","text":"t"}"#);
        let ans = AnswerLine::new(Answer::Sent { agent: "w".into(), queued: true }).to_line();
        assert_eq!(ans, r#"{"v":1,"type":"sent","agent":"w","queued":true}"#);
        let err = AnswerLine::new(Answer::no_such_agent("x")).to_line();
        assert_eq!(
            err,
            r#"{"v":1,"type":"error","code":"no_such_agent","message":"no agent named \"x\""}"#
        );
    }

    #[test]
    fn decisions_on_the_wire() {
        let allow = AnswerLine::new(Answer::Decision {
            behavior: Behavior::Allow,
            updated_input: Some(serde_json::json!({"command": "ls"})),
            message: None,
        });
        let line = allow.to_line();
        assert_eq!(
            line,
            r#"{"v":1,"type":"decision","behavior":"allow","updated_input":{"command":"ls"}}"#
        );
        assert_eq!(decode_answer(&line), Ok(allow));
        let newer = decode_answer(r#"{"v":1,"type":"decision","behavior":"ask_later"}"#);
        assert!(matches!(
            newer.map(|l| l.answer),
            Ok(Answer::Decision { behavior: Behavior::Unknown, .. })
        ));
        // An approve without input still parses (the input defaults to null).
        let r = decode_request(r#"{"v":1,"cmd":"approve","agent":"w","tool_name":"Read"}"#);
        assert!(matches!(r.map(|l| l.request), Ok(Request::Approve { input: Value::Null, .. })));
    }

    #[test]
    fn bad_requests_are_errors_with_codes() {
        let cases = [
            ("", ErrorCode::BadRequest),
            ("not json", ErrorCode::BadRequest),
            ("[1,2]", ErrorCode::BadRequest),
            (r#"{"cmd":"ls"}"#, ErrorCode::BadRequest),
            (r#"{"v":2,"cmd":"ls"}"#, ErrorCode::Version),
            (r#"{"v":"1","cmd":"ls"}"#, ErrorCode::Version),
            (r#"{"v":1,"cmd":"fly"}"#, ErrorCode::BadRequest),
            (r#"{"v":1}"#, ErrorCode::BadRequest),
            (r#"{"v":1,"cmd":"send","agent":"w"}"#, ErrorCode::BadRequest),
            (r#"{"v":1,"cmd":"send","agent":3,"text":"t"}"#, ErrorCode::BadRequest),
            (r#"{"v":1,"cmd":"ls","extra":true}"#, ErrorCode::BadRequest),
        ];
        for (line, code) in cases {
            match decode_request(line) {
                Err(e) => assert_eq!(e.code(), code, "{line}: {e}"),
                Ok(r) => panic!("{line} parsed as {r:?}"),
            }
        }
    }

    #[test]
    fn answers_from_a_newer_server_do_not_break_the_client() {
        let a = decode_answer(r#"{"v":1,"type":"error","code":"from_the_future","message":"m"}"#);
        assert!(matches!(a.map(|l| l.answer), Ok(Answer::Error { code: ErrorCode::Unknown, .. })));
        let a = decode_answer(
            r#"{"v":1,"type":"agents","agents":[{"name":"a","state":"sleeping","new_field":1}]}"#,
        );
        match a.map(|l| l.answer) {
            Ok(Answer::Agents { agents, .. }) => assert_eq!(agents[0].state, AgentState::Unknown),
            other => panic!("{other:?}"),
        }
    }
}
