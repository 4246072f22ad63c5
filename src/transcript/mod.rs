//! A pane's history as a list of cells built from typed stream-json events.
//!
//! Plain data: `push_prompt`, `apply` each decoded `Line`, `end_turn`; select, expand and
//! collapse cells; ask heights at a width. No channels, no I/O. Drawing is `view::TranscriptView`.
//!
//! How events become cells:
//! - With partial messages, `stream_event` deltas grow a text (or thinking) cell; the complete
//!   `assistant` line for the same message id then only confirms it (its text replaces the
//!   streamed one, no second cell). Without partial messages the `assistant` line creates it.
//! - Tool calls are keyed by their id: the `tool_result` (in a `user` line) attaches to its
//!   call, and the turn's `permission_denials` mark theirs.
//! - Events with `parent_tool_use_id` belong to a subagent: their cells go, indented, right
//!   after the cells already under that Task/Agent call.

mod cache;
pub mod cell;
pub mod draw;
pub mod plan;
pub mod report;
pub mod scroll;
pub mod search;
pub mod tool;
pub mod view;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use ratatui::text::Line;
use serde_json::Value;

use crate::agent::event::{
    cut_by_interrupt, is_interrupt_marker, ApiRetry, ContentBlock, Event, Line as AgentLine,
    MessageEvent, RateLimitEvent, ResultEvent, StreamEvent, StreamKind, SystemEvent, SystemKind,
};
use cache::LayoutCache;
pub use cell::{
    login_hint, result_failure, short_failure, Cell, CellKind, Note, NoteKind, NoteLevel, Progress,
    TextBlock, ToolCall, ToolResult, TurnFooter, TurnStatus,
};
pub use scroll::{Scroll, Viewport};
pub use view::TranscriptView;

/// How far back an `assistant` line looks for the streamed cell it completes.
const MATCH_WINDOW: usize = 256;

#[derive(Debug, Default)]
pub struct Transcript {
    cells: Vec<Cell>,
    /// Tool calls by id.
    tools: HashMap<String, usize>,
    /// Streamed blocks of the message in flight, by (subagent parent, block index).
    blocks: HashMap<(Option<String>, u32), usize>,
    /// The message in flight, by subagent parent.
    messages: HashMap<Option<String>, String>,
    selected: Option<usize>,
    rate_limit: Option<String>,
    result: Option<TurnFooter>,
    /// Why the turn's `result` says it failed, shown when the turn ends unless it was
    /// interrupted (then the CLI's error words are only about the interrupt).
    failure: Option<String>,
    /// An API key variable agentmux has that the agent's subscription billing keeps from it
    /// (named by a login failure's hint).
    held_key: Option<String>,
    /// The agent's directory, from the last `init` (tool paths inside it are shown relative).
    cwd: Option<String>,
    layout: Mutex<LayoutCache>,
}

impl Clone for Transcript {
    fn clone(&self) -> Self {
        let mut t = Transcript {
            cells: Vec::new(),
            tools: self.tools.clone(),
            blocks: self.blocks.clone(),
            messages: self.messages.clone(),
            selected: self.selected,
            rate_limit: self.rate_limit.clone(),
            result: self.result.clone(),
            failure: self.failure.clone(),
            held_key: self.held_key.clone(),
            cwd: self.cwd.clone(),
            layout: Mutex::default(),
        };
        for c in &self.cells {
            t.cells.push(c.clone());
            t.layout.get_mut().unwrap_or_else(|e| e.into_inner()).on_push();
        }
        t
    }
}

impl PartialEq for Transcript {
    fn eq(&self, other: &Self) -> bool {
        self.cells == other.cells && self.selected == other.selected
    }
}

impl Transcript {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    pub fn get(&self, i: usize) -> Option<&Cell> {
        self.cells.get(i)
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Is any cell still streaming?
    pub fn is_streaming(&self) -> bool {
        self.blocks.values().any(|&i| self.cells[i].is_streaming())
    }

    /// The footer the turn's `result` event described, if one arrived since the last prompt.
    pub fn result_footer(&self) -> Option<&TurnFooter> {
        self.result.as_ref()
    }

    fn layout_mut(&mut self) -> &mut LayoutCache {
        self.layout.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn layout(&self) -> MutexGuard<'_, LayoutCache> {
        // A panic while drawing leaves only a cache behind: keep using it.
        self.layout.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- building ----------------------------------------------------------------------

    /// The user (or supervisor) sent a prompt: a new turn starts.
    pub fn push_prompt(&mut self, text: &str) {
        self.close_streams();
        self.result = None;
        // A turn whose end never came still says why it failed.
        if let Some(text) = self.failure.take() {
            self.add(Cell::new(CellKind::Error(text)), None);
        }
        self.add(Cell::new(CellKind::Prompt(text.to_string())), None);
    }

    /// The turn is over: close what still streams and add its footer.
    pub fn end_turn(&mut self, mut footer: TurnFooter) {
        self.close_streams();
        self.result = None;
        let interrupted = footer.status == TurnStatus::Interrupted;
        if let Some(text) = self.failure.take().filter(|_| !interrupted) {
            self.add(Cell::new(CellKind::Error(text)), None);
        }
        let start = self.cells.iter().rposition(|c| matches!(c.kind, CellKind::Prompt(_)));
        let mut progress = Progress::default();
        for i in start.unwrap_or(0)..self.cells.len() {
            let depth = self.cells[i].depth;
            let CellKind::Tool(call) = &mut self.cells[i].kind else { continue };
            let waiting = call.result.is_none() && !call.unanswered;
            // Calls of this turn still waiting for a result will not get one.
            call.unanswered |= waiting;
            let cut = interrupted
                && (call.result.is_none()
                    || call.result.as_ref().is_some_and(|r| cut_by_interrupt(&r.content)));
            call.cut = cut;
            if depth == 0 {
                if cut {
                    progress.cut += 1;
                } else {
                    progress.done += 1;
                }
            }
            if waiting || cut {
                self.touch(i);
            }
        }
        if interrupted {
            footer.progress = Some(progress);
        }
        self.add(Cell::new(CellKind::Footer(footer)), None);
    }

    /// The API key variable the agent's turns run without (see `held_key`), `None` when none.
    pub fn hold_key(&mut self, key: Option<&str>) {
        self.held_key = key.map(str::to_string);
    }

    /// Add a note of agentmux's own (e.g. "turn queued", "spawn failed").
    pub fn push_note(&mut self, text: &str, level: NoteLevel) {
        self.add_note(text.to_string(), level, NoteKind::Other, None);
    }

    /// The last note that says `old` says `new` instead (a step that finished): no stale words
    /// stay behind.
    pub fn replace_note(&mut self, old: &str, new: &str) {
        let found =
            self.cells.iter().rposition(|c| matches!(&c.kind, CellKind::Note(n) if n.text == old));
        if let Some(i) = found {
            if let CellKind::Note(n) = &mut self.cells[i].kind {
                n.text = new.to_string();
            }
            self.touch(i);
        }
    }

    /// Does the plain output printed since the last prompt hold `line`? (Then a failure
    /// need not repeat it.)
    pub fn last_output_contains(&self, line: &str) -> bool {
        let line = line.trim();
        self.cells.iter().rev().take_while(|c| !matches!(c.kind, CellKind::Prompt(_))).any(|c| {
            match &c.kind {
                CellKind::Output(text) => text.lines().any(|l| l.trim() == line),
                _ => false,
            }
        })
    }

    /// Add an error of agentmux's own.
    pub fn push_error(&mut self, text: &str) {
        self.add(Cell::new(CellKind::Error(text.to_string())), None);
    }

    /// Apply one decoded line of the agent's output.
    pub fn apply(&mut self, line: &AgentLine) {
        match line {
            AgentLine::Event(e) => self.apply_event(e),
            AgentLine::Text(text) => self.apply_text(text),
            AgentLine::TooLong { len, limit } => {
                let text = format!(
                    "skipped an output line of {} (over the {} limit)",
                    format_bytes(*len),
                    format_bytes(*limit)
                );
                self.add(Cell::new(CellKind::Error(text)), None);
            }
        }
    }

    pub fn apply_event(&mut self, event: &Event) {
        match event {
            Event::System(e) => self.apply_system(e),
            Event::Assistant(m) => self.apply_assistant(m),
            Event::User(m) => self.apply_user(m),
            Event::Stream(s) => self.apply_stream(s),
            Event::Result(r) => self.apply_result(r),
            Event::RateLimit(r) => self.apply_rate_limit(r),
            Event::Unknown(v) => {
                let kind = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
                self.add_note(format!("{kind} event"), NoteLevel::Info, NoteKind::Other, None);
            }
        }
    }

    fn apply_text(&mut self, text: &str) {
        let text = text.trim_end();
        if text.trim().is_empty() {
            return;
        }
        if let Some(i) = self.cells.len().checked_sub(1) {
            if let CellKind::Output(prev) = &mut self.cells[i].kind {
                prev.push('\n');
                prev.push_str(text);
                self.touch(i);
                return;
            }
        }
        self.add(Cell::new(CellKind::Output(text.to_string())), None);
    }

    fn apply_system(&mut self, e: &SystemEvent) {
        match &e.kind {
            // The pane header shows what init says; the cwd shortens tool paths.
            SystemKind::Init(init) => {
                if init.cwd.is_some() {
                    self.cwd = init.cwd.clone();
                }
            }
            SystemKind::Status { status } => {
                // "requesting" starts every API call: the header's spinner says as much.
                if let Some(s) = status.as_deref().filter(|s| *s != "requesting") {
                    self.add_note(format!("status: {s}"), NoteLevel::Info, NoteKind::Status, None);
                }
            }
            SystemKind::ApiRetry(r) => {
                self.add_note(retry_text(r), NoteLevel::Warn, NoteKind::Retry, None);
            }
            SystemKind::CompactBoundary { trigger, pre_tokens } => {
                let mut text = "conversation compacted".to_string();
                let mut details = Vec::new();
                if let Some(t) = trigger {
                    details.push(t.clone());
                }
                if let Some(n) = pre_tokens {
                    details.push(format!("{} tokens before", draw::format_tokens(*n)));
                }
                if !details.is_empty() {
                    text.push_str(&format!(" ({})", details.join(", ")));
                }
                self.add_note(text, NoteLevel::Info, NoteKind::Compact, None);
            }
            SystemKind::Other(_) => {
                let text = format!("system: {}", e.subtype);
                self.add_note(text, NoteLevel::Info, NoteKind::Other, None);
            }
        }
    }

    fn apply_assistant(&mut self, m: &MessageEvent) {
        let parent = m.parent_tool_use_id.as_deref();
        for block in &m.content {
            match block {
                ContentBlock::Text { text } => {
                    if text.is_empty() {
                        continue;
                    }
                    // The CLI reports API failures as a message of its own making.
                    if m.model.as_deref() == Some("<synthetic>") {
                        let hint = login_hint(text, self.held_key.as_deref());
                        let text = hint.map_or_else(|| text.clone(), |(_, hint)| hint);
                        self.add(Cell::new(CellKind::Error(text)), parent);
                        continue;
                    }
                    self.complete_text(m.message_id.as_deref(), parent, text, false);
                }
                ContentBlock::Thinking { thinking } => {
                    self.complete_text(m.message_id.as_deref(), parent, thinking, true);
                }
                ContentBlock::ToolUse { id, name, input } => {
                    if let Some(&i) = self.tools.get(id) {
                        if let CellKind::Tool(call) = &mut self.cells[i].kind {
                            call.name = name.clone();
                            call.input = input.clone();
                            call.partial_input.clear();
                        }
                        self.touch(i);
                    } else {
                        self.add_tool(id, name, input.clone(), parent);
                    }
                }
                ContentBlock::ToolResult { tool_use_id, content, is_error } => {
                    self.attach_result(tool_use_id, content, *is_error, parent)
                }
                ContentBlock::Other(v) => {
                    let kind = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
                    if kind == "redacted_thinking" {
                        let block = TextBlock::default();
                        self.add(Cell::new(CellKind::Thinking(block)), parent);
                    } else {
                        let text = format!("{kind} block");
                        self.add_note(text, NoteLevel::Info, NoteKind::Other, parent);
                    }
                }
            }
        }
    }

    /// A complete text or thinking block: confirm the streamed cell it finishes, or add it.
    fn complete_text(
        &mut self,
        message_id: Option<&str>,
        parent: Option<&str>,
        text: &str,
        thinking: bool,
    ) {
        if let Some(id) = message_id {
            let from = self.cells.len().saturating_sub(MATCH_WINDOW);
            let found = (from..self.cells.len()).find(|&i| match &self.cells[i].kind {
                CellKind::Assistant(b) if !thinking => {
                    b.awaiting_line && b.message_id.as_deref() == Some(id)
                }
                CellKind::Thinking(b) if thinking => {
                    b.awaiting_line && b.message_id.as_deref() == Some(id)
                }
                _ => false,
            });
            if let Some(i) = found {
                if let CellKind::Assistant(b) | CellKind::Thinking(b) = &mut self.cells[i].kind {
                    b.awaiting_line = false;
                    // The complete line is authoritative (a delta may have been lost); it only
                    // ever replaces text when it differs.
                    if b.text != text {
                        b.text = text.to_string();
                    }
                }
                self.touch(i);
                return;
            }
        }
        let block = TextBlock {
            text: text.to_string(),
            message_id: message_id.map(str::to_string),
            streaming: false,
            awaiting_line: false,
        };
        let kind = if thinking { CellKind::Thinking(block) } else { CellKind::Assistant(block) };
        self.add(Cell::new(kind), parent);
    }

    fn apply_user(&mut self, m: &MessageEvent) {
        let parent = m.parent_tool_use_id.as_deref();
        for block in &m.content {
            match block {
                ContentBlock::ToolResult { tool_use_id, content, is_error } => {
                    self.attach_result(tool_use_id, content, *is_error, parent)
                }
                // A subagent's user text is its Task prompt, already shown in the Task call.
                ContentBlock::Text { text } if parent.is_none() => {
                    let last_prompt = self.cells.iter().rev().find_map(|c| match &c.kind {
                        CellKind::Prompt(p) => Some(p.as_str()),
                        _ => None,
                    });
                    // The CLI's interrupt marker: the turn's footer says it in words.
                    let said = last_prompt == Some(text.as_str()) || is_interrupt_marker(text);
                    if !text.trim().is_empty() && !said {
                        self.add_note(
                            text.trim().to_string(),
                            NoteLevel::Warn,
                            NoteKind::Other,
                            None,
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn apply_stream(&mut self, s: &StreamEvent) {
        let parent = s.parent_tool_use_id.clone();
        match &s.kind {
            StreamKind::MessageStart { message_id, .. } => {
                self.close_blocks_of(&parent);
                if let Some(id) = message_id {
                    self.messages.insert(parent, id.clone());
                }
            }
            StreamKind::ContentBlockStart { index, block } => match block {
                ContentBlock::Text { text } => {
                    let i = self.stream_block(&parent, *index, false);
                    self.append_to(i, text);
                }
                ContentBlock::Thinking { thinking } => {
                    let i = self.stream_block(&parent, *index, true);
                    self.append_to(i, thinking);
                }
                ContentBlock::ToolUse { id, name, input } => {
                    let input = match input {
                        Value::Object(m) if m.is_empty() => Value::Null,
                        other => other.clone(),
                    };
                    let i = match self.tools.get(id) {
                        Some(&i) => i,
                        None => self.add_tool(id, name, input, parent.as_deref()),
                    };
                    self.blocks.insert((parent, *index), i);
                }
                _ => {}
            },
            StreamKind::TextDelta { index, text } => {
                let i = self.stream_block(&parent, *index, false);
                self.append_to(i, text);
            }
            StreamKind::ThinkingDelta { index, text } => {
                let i = self.stream_block(&parent, *index, true);
                self.append_to(i, text);
            }
            StreamKind::InputJsonDelta { index, partial_json } => {
                if let Some(&i) = self.blocks.get(&(parent, *index)) {
                    if let CellKind::Tool(call) = &mut self.cells[i].kind {
                        call.partial_input.push_str(partial_json);
                        self.touch(i);
                    }
                }
            }
            StreamKind::ContentBlockStop { index } => {
                if let Some(&i) = self.blocks.get(&(parent, *index)) {
                    self.close_cell(i);
                }
            }
            StreamKind::MessageStop => self.close_blocks_of(&parent),
            StreamKind::SignatureDelta { .. }
            | StreamKind::MessageDelta { .. }
            | StreamKind::Other(_) => {}
        }
    }

    /// The cell of a streamed text/thinking block, created on its first sight.
    fn stream_block(&mut self, parent: &Option<String>, index: u32, thinking: bool) -> usize {
        let key = (parent.clone(), index);
        if let Some(&i) = self.blocks.get(&key) {
            let same_kind = matches!(
                (&self.cells[i].kind, thinking),
                (CellKind::Thinking(_), true) | (CellKind::Assistant(_), false)
            );
            if same_kind {
                return i;
            }
        }
        let block = TextBlock {
            text: String::new(),
            message_id: self.messages.get(parent).cloned(),
            streaming: true,
            awaiting_line: true,
        };
        let kind = if thinking { CellKind::Thinking(block) } else { CellKind::Assistant(block) };
        let i = self.add(Cell::new(kind), parent.as_deref());
        self.blocks.insert(key, i);
        i
    }

    fn append_to(&mut self, i: usize, text: &str) {
        if text.is_empty() {
            return;
        }
        if let CellKind::Assistant(b) | CellKind::Thinking(b) = &mut self.cells[i].kind {
            b.text.push_str(text);
        }
        self.touch(i);
    }

    fn close_cell(&mut self, i: usize) {
        let mut changed = false;
        match &mut self.cells[i].kind {
            CellKind::Assistant(b) | CellKind::Thinking(b) => {
                changed = b.streaming;
                b.streaming = false;
            }
            CellKind::Tool(call) if !call.partial_input.is_empty() => {
                if let Ok(v) = serde_json::from_str::<Value>(&call.partial_input) {
                    call.input = v;
                    call.partial_input.clear();
                }
                changed = true;
            }
            _ => {}
        }
        if changed {
            self.touch(i);
        }
    }

    fn close_blocks_of(&mut self, parent: &Option<String>) {
        let keys: Vec<_> = self.blocks.keys().filter(|(p, _)| p == parent).cloned().collect();
        for k in keys {
            if let Some(i) = self.blocks.remove(&k) {
                self.close_cell(i);
            }
        }
    }

    fn close_streams(&mut self) {
        let open: Vec<usize> = self.blocks.values().copied().collect();
        for i in open {
            self.close_cell(i);
        }
        self.blocks.clear();
        self.messages.clear();
    }

    fn add_tool(&mut self, id: &str, name: &str, input: Value, parent: Option<&str>) -> usize {
        let call = ToolCall {
            id: id.to_string(),
            name: name.to_string(),
            input,
            partial_input: String::new(),
            result: None,
            denied: false,
            unanswered: false,
            cut: false,
            cwd: self.cwd.clone(),
        };
        let i = self.add(Cell::new(CellKind::Tool(call)), parent);
        self.tools.insert(id.to_string(), i);
        i
    }

    fn attach_result(&mut self, id: &str, content: &str, is_error: bool, parent: Option<&str>) {
        let result = ToolResult { content: content.to_string(), is_error };
        match self.tools.get(id) {
            Some(&i) => {
                if let CellKind::Tool(call) = &mut self.cells[i].kind {
                    call.result = Some(result);
                }
                self.touch(i);
            }
            None => {
                // A result whose call we never saw (a cut capture): keep it visible.
                let i = self.add_tool(id, "(unknown tool)", Value::Null, parent);
                if let CellKind::Tool(call) = &mut self.cells[i].kind {
                    call.result = Some(result);
                }
            }
        }
    }

    fn apply_result(&mut self, r: &ResultEvent) {
        self.close_streams();
        for d in &r.permission_denials {
            match self.tools.get(&d.tool_use_id) {
                Some(&i) => {
                    if let CellKind::Tool(call) = &mut self.cells[i].kind {
                        call.denied = true;
                    }
                    self.touch(i);
                }
                None => {
                    let text = format!("permission denied: {}", d.tool_name);
                    self.add_note(text, NoteLevel::Warn, NoteKind::Other, None);
                }
            }
        }
        self.result = Some(TurnFooter::from_result(r));
        let Some(mut text) = result_failure(r) else { return };
        let said = self.cells.iter().rev().take(8).any(|c| match &c.kind {
            CellKind::Error(e) => text.contains(e.trim()) || e.contains(text.trim()),
            _ => false,
        });
        if said {
            return;
        }
        // The rest of the errors (often stack traces) under the reason, shown expanded.
        let more: Vec<&str> =
            r.shown_errors().flat_map(str::lines).filter(|l| !text.contains(l.trim())).collect();
        if !more.is_empty() {
            text.push('\n');
            text.push_str(&more.join("\n"));
        }
        self.failure = Some(text);
    }

    fn apply_rate_limit(&mut self, r: &RateLimitEvent) {
        let status = r.status.clone();
        if status == self.rate_limit {
            return;
        }
        let first = self.rate_limit.is_none();
        self.rate_limit = status.clone();
        let status = status.unwrap_or_else(|| "unknown".to_string());
        if first && status == "allowed" {
            return;
        }
        let mut text = format!("rate limit: {}", status.replace('_', " "));
        if let Some(t) = &r.limit_type {
            text.push_str(&format!(" ({})", t.replace('_', " ")));
        }
        if let Some(at) = r.resets_at {
            text.push_str(&format!(", resets at {} UTC", clock(at)));
        }
        let level = if status == "allowed" { NoteLevel::Info } else { NoteLevel::Warn };
        self.add_note(text, level, NoteKind::RateLimit, None);
    }

    fn add_note(&mut self, text: String, level: NoteLevel, kind: NoteKind, parent: Option<&str>) {
        // A retry countdown replaces the one before it instead of piling up.
        if kind == NoteKind::Retry || kind == NoteKind::Status {
            if let Some(last) = self.cells.len().checked_sub(1) {
                if let CellKind::Note(n) = &mut self.cells[last].kind {
                    if n.kind == kind {
                        n.text = text;
                        n.level = level;
                        self.touch(last);
                        return;
                    }
                }
            }
        }
        self.add(Cell::new(CellKind::Note(Note { text, level, kind })), parent);
    }

    /// Add a cell: at the end, or (for a subagent) after what is already under its Task call.
    fn add(&mut self, mut cell: Cell, parent: Option<&str>) -> usize {
        let Some(parent) = parent else {
            self.cells.push(cell);
            self.layout_mut().on_push();
            return self.cells.len() - 1;
        };
        let Some(&task) = self.tools.get(parent) else {
            cell.depth = 1;
            self.cells.push(cell);
            self.layout_mut().on_push();
            return self.cells.len() - 1;
        };
        let depth = self.cells[task].depth;
        cell.depth = depth.saturating_add(1);
        let at = (task + 1..self.cells.len())
            .find(|&j| self.cells[j].depth <= depth)
            .unwrap_or(self.cells.len());
        if at == self.cells.len() {
            self.cells.push(cell);
            self.layout_mut().on_push();
            return at;
        }
        self.cells.insert(at, cell);
        let shift = |i: &mut usize| {
            if *i >= at {
                *i += 1;
            }
        };
        self.tools.values_mut().for_each(shift);
        self.blocks.values_mut().for_each(shift);
        if let Some(s) = &mut self.selected {
            shift(s);
        }
        self.layout_mut().on_insert(at);
        at
    }

    fn touch(&mut self, i: usize) {
        self.layout_mut().on_change(i);
    }

    // ---- selection and expansion ------------------------------------------------------

    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    pub fn select(&mut self, i: Option<usize>) {
        self.selected = i.filter(|&i| i < self.cells.len());
    }

    /// Select the previous expandable cell (the last one when none is selected).
    pub fn select_prev(&mut self) -> Option<usize> {
        let end = self.selected.unwrap_or(self.cells.len());
        let found = (0..end).rev().find(|&i| self.cells[i].is_expandable());
        if found.is_some() {
            self.selected = found;
        }
        self.selected
    }

    /// Select the next expandable cell; past the last one, the selection ends.
    pub fn select_next(&mut self) -> Option<usize> {
        let start = self.selected.map_or(0, |s| s + 1);
        self.selected = (start..self.cells.len()).find(|&i| self.cells[i].is_expandable());
        self.selected
    }

    pub fn set_expanded(&mut self, i: usize, expanded: bool) {
        let Some(cell) = self.cells.get_mut(i) else {
            return;
        };
        if cell.expanded != expanded && cell.is_expandable() {
            cell.expanded = expanded;
            self.touch(i);
        }
    }

    pub fn toggle(&mut self, i: usize) {
        if let Some(c) = self.cells.get(i) {
            let e = !c.expanded;
            self.set_expanded(i, e);
        }
    }

    /// Expand or collapse the selected cell.
    pub fn toggle_selected(&mut self) {
        if let Some(i) = self.selected {
            self.toggle(i);
        }
    }

    // ---- measuring ---------------------------------------------------------------------

    /// Lines the whole transcript takes at `width`. Right after a resize, cells not seen
    /// since are estimated (see `cache`), so this can change a little as they are drawn.
    pub fn height(&self, width: u16) -> usize {
        let mut layout = self.layout();
        layout.sync(&self.cells, width.max(1));
        layout.total()
    }

    /// The scroll math's view of a pane `width` x `rows`: the last `rows` lines are measured
    /// exactly, so a pane following the bottom never sees an estimate.
    pub fn viewport(&self, width: u16, rows: u16) -> Viewport {
        let mut layout = self.layout();
        layout.sync(&self.cells, width.max(1));
        layout.exact_bottom(&self.cells, usize::from(rows));
        Viewport::new(layout.total(), usize::from(rows))
    }

    /// The first line of cell `i` and its height at `width`.
    pub fn cell_span(&self, i: usize, width: u16) -> Option<(usize, usize)> {
        let mut layout = self.layout();
        layout.sync(&self.cells, width.max(1));
        if i < self.cells.len() {
            layout.exact_cell(&self.cells, i);
        }
        layout.span(i)
    }

    /// The cell at line `line` of the transcript at `width` (for mouse clicks).
    pub fn cell_at_line(&self, line: usize, width: u16) -> Option<usize> {
        let mut layout = self.layout();
        layout.sync(&self.cells, width.max(1));
        (line < layout.total()).then(|| layout.cell_at(line))
    }

    /// Calls `f(row, cell, line)` for the `rows` lines starting at transcript line `top`,
    /// rendering only the cells they fall in.
    pub fn for_each_line(
        &self,
        width: u16,
        top: usize,
        rows: usize,
        mut f: impl FnMut(usize, usize, &Line<'static>),
    ) {
        let mut layout = self.layout();
        layout.sync(&self.cells, width.max(1));
        if rows == 0 || top >= layout.total() {
            return;
        }
        layout.exact_window(&self.cells, top, rows);
        let first = layout.cell_at(top);
        let mut row = 0;
        let mut i = first;
        let mut last = first;
        while row < rows && i < self.cells.len() {
            let Some((cell_top, _)) = layout.span(i) else {
                break;
            };
            let skip = top.saturating_sub(cell_top);
            layout.visit(&self.cells, i, skip, |line| {
                if row >= rows {
                    return false;
                }
                f(row, i, line);
                row += 1;
                true
            });
            last = i;
            i += 1;
        }
        layout.keep_rendered(first, last);
    }
}

fn retry_text(r: &ApiRetry) -> String {
    let mut text = String::from("API ");
    match r.error_status {
        Some(s) => text.push_str(&format!("error {s}")),
        None => text.push_str("error"),
    }
    if let Some(ms) = r.retry_delay_ms {
        text.push_str(&format!(" · retrying in {}s", ms.div_ceil(1000)));
    } else {
        text.push_str(" · retrying");
    }
    match (r.attempt, r.max_retries) {
        (Some(a), Some(m)) => text.push_str(&format!(" (attempt {a}/{m})")),
        (Some(a), None) => text.push_str(&format!(" (attempt {a})")),
        _ => {}
    }
    text
}

fn format_bytes(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

/// "14:05" for a Unix time (UTC).
fn clock(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!("{:02}:{:02}", secs / 3600, (secs % 3600) / 60)
}
