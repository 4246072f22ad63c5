//! The cells a transcript is made of.

use serde_json::Value;

use crate::agent::event::ResultEvent;
pub use crate::agent::turn::Progress;

/// One entry of a pane's history.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub kind: CellKind,
    /// Nesting: 0 for the agent itself, 1 for a subagent under its Task call, ...
    pub depth: u8,
    /// Expanded tool calls show their input and result; thinking its text; errors every line.
    pub expanded: bool,
}

impl Cell {
    pub fn new(kind: CellKind) -> Self {
        Cell { kind, depth: 0, expanded: false }
    }

    /// Can the user expand or collapse this cell?
    pub fn is_expandable(&self) -> bool {
        match &self.kind {
            CellKind::Tool(_) | CellKind::Thinking(_) => true,
            // A relay turn's reports open like tool calls.
            CellKind::Prompt(text) => super::report::parse(text).is_some(),
            CellKind::Error(text) => text.trim_end().contains('\n'),
            _ => false,
        }
    }

    /// Still growing (a streamed block that has not finished)?
    pub fn is_streaming(&self) -> bool {
        match &self.kind {
            CellKind::Assistant(b) | CellKind::Thinking(b) => b.streaming,
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CellKind {
    /// What the user (or the supervisor) sent.
    Prompt(String),
    /// The model's answer, Markdown.
    Assistant(TextBlock),
    /// The model's thinking; shown collapsed.
    Thinking(TextBlock),
    Tool(ToolCall),
    /// Plain text the CLI printed (stderr shares the terminal): shown dimmed.
    Output(String),
    /// A system note: retries, compaction, rate limits, unknown events.
    Note(Note),
    /// Something went wrong: a skipped line, a failed turn.
    Error(String),
    /// The end of a turn.
    Footer(TurnFooter),
}

impl CellKind {
    /// The kind as one word ("prompt", "assistant", "tool", ...), for listings and tests.
    pub fn name(&self) -> &'static str {
        match self {
            CellKind::Prompt(_) => "prompt",
            CellKind::Assistant(_) => "assistant",
            CellKind::Thinking(_) => "thinking",
            CellKind::Tool(_) => "tool",
            CellKind::Output(_) => "output",
            CellKind::Note(_) => "note",
            CellKind::Error(_) => "error",
            CellKind::Footer(_) => "footer",
        }
    }
}

/// Streamed or complete text of one content block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextBlock {
    pub text: String,
    /// The API message it belongs to, to match the complete `assistant` line to what streamed.
    pub message_id: Option<String>,
    /// Deltas are still arriving.
    pub streaming: bool,
    /// Created from stream events and not yet matched by its `assistant` line.
    pub awaiting_line: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Value,
    /// Input JSON while it streams (`input_json_delta`), parsed when the block stops.
    pub partial_input: String,
    pub result: Option<ToolResult>,
    /// Listed in the turn result's `permission_denials`.
    pub denied: bool,
    /// Its turn ended before a result came (interrupted, failed): no longer running.
    pub unanswered: bool,
    /// An interrupt stopped it: a result it has is the CLI's word for that, not the tool's.
    pub cut: bool,
    /// The agent's directory when the call was made (paths inside it are shown relative).
    pub cwd: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    pub content: String,
    pub is_error: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub text: String,
    pub level: NoteLevel,
    pub kind: NoteKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteLevel {
    Info,
    Warn,
}

/// What a note is about, so a newer one of the same kind can replace it (retry countdowns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    Retry,
    Compact,
    RateLimit,
    Status,
    Other,
}

/// How a turn ended.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnStatus {
    Done,
    /// Failed with a reason ("reached max turns", "No conversation found ...").
    Failed(String),
    Interrupted,
}

/// The line under each turn: status, duration, cost, turns.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnFooter {
    pub status: TurnStatus,
    pub duration_ms: Option<u64>,
    pub cost_usd: Option<f64>,
    pub num_turns: Option<u32>,
    pub tokens: Option<u64>,
    /// What an interrupted turn had done (set when it ends).
    pub progress: Option<Progress>,
}

impl TurnFooter {
    pub fn new(status: TurnStatus) -> Self {
        TurnFooter {
            status,
            duration_ms: None,
            cost_usd: None,
            num_turns: None,
            tokens: None,
            progress: None,
        }
    }

    /// The footer a `result` event describes.
    pub fn from_result(r: &ResultEvent) -> Self {
        let status = match short_failure(r) {
            None => TurnStatus::Done,
            Some(reason) => TurnStatus::Failed(reason),
        };
        TurnFooter {
            status,
            duration_ms: r.duration_ms,
            cost_usd: r.total_cost_usd,
            num_turns: r.num_turns,
            tokens: r.usage.map(|u| u.total()),
            progress: None,
        }
    }
}

/// Why a turn failed, from its `result` event; `None` when it succeeded. The first error
/// line is added when the subtype alone does not say what happened.
pub fn result_failure(r: &ResultEvent) -> Option<String> {
    let reason = short_failure(r)?;
    let first_error = r.shown_errors().flat_map(str::lines).map(str::trim).find(|l| !l.is_empty());
    let says_enough =
        matches!(r.subtype.as_str(), "success" | "error_max_turns" | "error_max_budget_usd");
    Some(match first_error {
        Some(e) if !says_enough => format!("{reason}: {e}"),
        _ => reason,
    })
}

/// The CLI's "Not logged in · Please run /login" speaks of its own prompt, which agentmux does
/// not show. Returns the few words before the "·" and a hint that works from agentmux.
/// `held_key`: an API key variable set in agentmux's environment that subscription billing
/// kept from the agent; the hint names it and the setting that would pass it on.
pub fn login_hint(text: &str, held_key: Option<&str>) -> Option<(String, String)> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if !first.contains("/login") {
        return None;
    }
    let what = first.split(" · ").next().unwrap_or(first).trim().trim_end_matches('.');
    let mut hint = format!(
        "{what}: run `claude` once in a terminal and use /login; agentmux uses your \
         subscription login"
    );
    if let Some(key) = held_key {
        hint.push_str(&format!(
            ". {key} is set but held back from the agent (billing = \"subscription\"); \
             billing = \"api\" in the team file would use it, billed per token"
        ));
    }
    Some((what.to_string(), hint))
}

/// A few words for a failed turn (the footer's status), `None` when it succeeded.
pub fn short_failure(r: &ResultEvent) -> Option<String> {
    Some(match r.subtype.as_str() {
        "success" if !r.is_error => return None,
        "success" => match r.result.as_deref().and_then(|t| login_hint(t, None)) {
            Some((what, _)) => what,
            None => r
                .result
                .as_deref()
                .and_then(|s| s.lines().next())
                .unwrap_or("the turn reported an error")
                .to_string(),
        },
        "error_max_turns" => "reached the maximum number of turns".to_string(),
        "error_max_budget_usd" => "reached the budget limit".to_string(),
        "error_during_execution" => "error during execution".to_string(),
        other => other.replace('_', " "),
    })
}
