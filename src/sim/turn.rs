//! Plays one [`Script`] as the real CLI would: init, per API call the streamed message and the
//! tool results, then the `result`; with the failures the directives ask for.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::sim::approve::{PromptTool, Verdict};
use crate::sim::clock::Pace;
use crate::sim::directive::{Crash, Directives};
use crate::sim::emit::{stderr_line, Out};
use crate::sim::script::{Action, Call, Script, ToolResult};
use crate::sim::shape::{self, Tokens};

/// Everything fixed for the turn.
pub struct Setup {
    pub session_id: String,
    pub cwd: PathBuf,
    pub model: String,
    pub tools: Vec<String>,
    pub permission_mode: String,
    pub api_key_source: String,
    pub partial: bool,
    pub disallowed: Vec<String>,
    pub max_turns: Option<u32>,
    /// `--max-budget-usd`, as given (echoed in the error) and parsed.
    pub max_budget: Option<(String, f64)>,
    /// Tokens of the conversation before this turn (cache reads grow with it).
    pub context_tokens: u64,
    /// `--allowedTools` rules.
    pub allowed: Vec<String>,
    /// `--permission-prompt-tool` and the `--mcp-config` values naming its server.
    pub prompt_tool: Option<String>,
    pub mcp_configs: Vec<String>,
}

/// How the turn ended, for `main` to turn into an exit.
#[derive(Debug, PartialEq)]
pub enum Ending {
    /// The result was written; exit with this code.
    Exit(i32),
    /// No result: die this way.
    Crash(Crash),
}

pub struct Report {
    pub ending: Ending,
    /// Everything the assistant said, for the session file.
    pub answer: String,
}

enum Stop {
    MaxTurns { num_turns: u32 },
    Budget { num_turns: u32, stop_reason: &'static str },
}

pub struct Turn {
    setup: Setup,
    out: Out,
    pace: Pace,
    directives: Directives,
    started: Instant,
    api_time: Duration,
    tokens: Tokens,
    cost: f64,
    denials: Vec<Value>,
    said: Vec<String>,
    /// The permission prompt tool's server, started at the first call that needs it.
    prompt_tool: Option<Result<PromptTool, String>>,
}

/// Dollars per token (input, output) for a model name.
fn price(model: &str) -> (f64, f64) {
    if model.contains("opus") {
        (5e-6, 25e-6)
    } else if model.contains("haiku") {
        (1e-6, 5e-6)
    } else {
        (3e-6, 15e-6)
    }
}

/// Splits text into deltas of one to three words, keeping every byte.
fn chunks(text: &str, pace: &mut Pace) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    let mut want = pace.between(1, 3);
    let mut prev_space = false;
    for c in text.chars() {
        let space = c.is_whitespace();
        if space && !prev_space {
            words += 1;
            if words >= want {
                out.push(std::mem::take(&mut current));
                words = 0;
                want = pace.between(1, 3);
            }
        }
        current.push(c);
        prev_space = space;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Splits tool input JSON into pieces of about `size` bytes (on character boundaries).
fn json_pieces(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        out.push(piece);
        rest = tail;
    }
    out
}

const STACK_TRACE: &[&str] = &[
    "file:///usr/lib/node_modules/@anthropic-ai/claude-code/cli.js:4821",
    "        throw new TypeError(`Cannot read properties of undefined (reading 'content')`);",
    "        ^",
    "",
    "TypeError: Cannot read properties of undefined (reading 'content')",
    "    at processStreamChunk (file:///usr/lib/node_modules/@anthropic-ai/claude-code/cli.js:4821:15)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "",
    "Node.js v22.11.0",
];

impl Turn {
    pub fn new(setup: Setup, out: Out, pace: Pace, directives: Directives) -> Turn {
        Turn {
            setup,
            out,
            pace,
            directives,
            started: Instant::now(),
            api_time: Duration::ZERO,
            tokens: Tokens::default(),
            cost: 0.0,
            denials: Vec::new(),
            said: Vec::new(),
            prompt_tool: None,
        }
    }

    fn emit(&mut self, v: Value) -> io::Result<()> {
        self.out.event(&v)
    }

    fn stream(&mut self, event: Value) -> io::Result<()> {
        if self.setup.partial {
            let v = shape::stream_event(&self.setup.session_id, event);
            self.out.event(&v)?;
        }
        Ok(())
    }

    pub fn run(mut self, script: Script) -> io::Result<Report> {
        let script = self.shape_script(script);
        self.pace.wait(250, 500);
        let s = &self.setup;
        let init = shape::init(&shape::InitInfo {
            session_id: &s.session_id,
            cwd: &s.cwd.to_string_lossy(),
            model: &s.model,
            tools: &s.tools,
            permission_mode: &s.permission_mode,
            api_key_source: &s.api_key_source,
        });
        self.emit(init)?;
        for word in self.directives.unknown.clone() {
            stderr_line(&format!("[sim] unknown directive ignored: {word}"))?;
        }
        if self.directives.hang {
            self.hang()?;
        }
        self.retries()?;
        if self.setup.api_key_source == "none" {
            self.rate_limit()?;
        }
        let total = script.calls.len();
        for (i, call) in script.calls.into_iter().enumerate() {
            let k = i as u32 + 1;
            let last = i + 1 == total;
            if let Some(crash) = self.directives.crash.filter(|_| k == 1) {
                return self.crash(&call, crash);
            }
            let stop_reason = if call.tools.is_empty() { "end_turn" } else { "tool_use" };
            let calls = self.api_call(&call, k == 1)?;
            if self.over_budget() {
                return self.finish(Err(Stop::Budget { num_turns: k, stop_reason }));
            }
            for (id, action) in calls {
                self.tool(&id, &action)?;
            }
            if !last && self.setup.max_turns.is_some_and(|m| k >= m) {
                return self.finish(Err(Stop::MaxTurns { num_turns: k + 1 }));
            }
        }
        self.finish(Ok(total as u32))
    }

    /// Applies the directives that change what is said: padding for max turns, the denied
    /// write, the huge tool result.
    fn shape_script(&mut self, mut script: Script) -> Script {
        if script.calls.is_empty() {
            script.calls.push(Call::text("Done."));
        }
        if self.directives.max_turns {
            let limit = *self.setup.max_turns.get_or_insert(2) as usize;
            while script.calls.len() <= limit {
                let at = script.calls.len() - 1;
                script.calls.insert(
                    at,
                    Call::with(
                        "Let me look a little further before answering.",
                        vec![Action::Glob { pattern: "**/*".into() }],
                    ),
                );
            }
        }
        if let Some(bytes) = self.directives.huge {
            // Base64 needs no JSON escaping, so the line is `bytes` long plus the envelope.
            let chunk =
                "iVBORw0KGgoAAAANSUhEUgAAAoAAAAHgCAYAAAA10dzkAAAABHNCSVQICAgIfAhkiAAAIABJREFU";
            let mut output = chunk.repeat(bytes / chunk.len() + 1);
            output.truncate(bytes);
            let tool = Action::Bash {
                command: "base64 -w0 assets/screenshot.png".into(),
                description: "Encode the screenshot".into(),
                output,
                exit_code: 0,
                asks: false,
            };
            script
                .calls
                .insert(0, Call::with("I need the screenshot as base64 first.", vec![tool]));
        }
        for file in self.directives.ask.clone().iter().rev() {
            let touch = Action::Bash {
                command: format!("touch {file}"),
                description: format!("Create {file}"),
                output: String::new(),
                exit_code: 0,
                asks: true,
            };
            script.calls.insert(0, Call::with(format!("I'll create {file}."), vec![touch]));
        }
        if self.directives.deny {
            let has_write = script.calls.iter().any(|c| {
                c.tools.iter().any(|a| matches!(a, Action::Write { .. } | Action::Edit { .. }))
            });
            if !has_write {
                let write = Action::Write {
                    path: "NOTES.md".into(),
                    content: "# Notes\n\n- summary of this session\n".into(),
                };
                script.calls.insert(0, Call::with("I'll write my notes to a file.", vec![write]));
            }
            if let Some(last) = script.calls.last_mut() {
                last.text.push_str(
                    "\n\n> **Note:** I was not allowed to write files (permission denied). \
                     Allow the tool (for example `--allowedTools Write Edit`) and ask again.",
                );
            }
        }
        script
    }

    fn hang(&mut self) -> io::Result<()> {
        if self.setup.partial {
            let v = shape::status_requesting(&self.setup.session_id);
            self.emit(v)?;
        }
        // Until a signal ends the process. The real CLI handles SIGINT and SIGTERM itself, so
        // it stops even when started with them ignored (a background job of a script ignores
        // SIGINT, and children inherit that): restore the default action, which ends us.
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: setting a standard signal to its default action; no handler runs.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }

    fn retries(&mut self) -> io::Result<()> {
        for attempt in 1..=self.directives.retries {
            let base = 500.0 * 2f64.powi(attempt.min(10) as i32 - 1);
            let delay = (base * (1.0 + 0.25 * self.pace.unit())).min(32_000.0);
            let v = shape::api_retry(&self.setup.session_id, attempt, delay, 529, "overloaded");
            self.emit(v)?;
            self.pace.wait_ms(delay);
        }
        Ok(())
    }

    /// Subscriptions report their five-hour window (the real CLI reads the response headers).
    fn rate_limit(&mut self) -> io::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let resets_at = (now / 3600 + 3) * 3600;
        let status = if self.directives.rate_limit_warning { "allowed_warning" } else { "allowed" };
        let v = shape::rate_limit(&self.setup.session_id, status, resets_at);
        self.emit(v)
    }

    fn usage_for(&mut self, call: &Call, first: bool) -> Tokens {
        let out_chars = call.text.len()
            + call.tools.iter().map(|a| a.input(&self.setup.cwd).to_string().len()).sum::<usize>();
        let input = self.pace.between(3, 12);
        let fresh = if first { self.pace.between(400, 1600) } else { self.pace.between(200, 900) };
        Tokens {
            input,
            output: out_chars as u64 / 4 + 5,
            cache_creation: fresh,
            cache_read: 14_000 + self.setup.context_tokens + self.tokens.output,
        }
    }

    /// One API request: the streamed message (or just its assistant lines).
    fn api_call(&mut self, call: &Call, first: bool) -> io::Result<Vec<(String, Action)>> {
        let began = Instant::now();
        let sid = self.setup.session_id.clone();
        let model = self.setup.model.clone();
        let msg_id = shape::api_id("msg");
        let mut usage = self.usage_for(call, first);
        if self.setup.partial {
            self.emit(shape::status_requesting(&sid))?;
        }
        let ttft_at = Instant::now();
        // The first request of a turn waits longest (a cold prompt cache).
        if first {
            self.pace.wait(450, 1100);
        } else {
            self.pace.wait(250, 600);
        }
        let mut start = shape::stream_event(&sid, shape::message_start(&msg_id, &model, &usage));
        if let Some(map) = start.as_object_mut() {
            map.insert("ttft_ms".into(), json!(ttft_at.elapsed().as_millis() as u64));
        }
        if self.setup.partial {
            self.emit(start)?;
        }
        let mut index = 0;
        let mut tool_calls = Vec::new();
        let mut text = call.text.clone();
        if let Some(n) = self.directives.flood.filter(|_| first) {
            text = self.flood(n, &text)?;
            usage.output += n;
        }
        if !text.is_empty() {
            self.stream(shape::content_block_start(index, shape::text_block("")))?;
            let pieces = chunks(&text, &mut self.pace);
            for piece in pieces {
                self.pace.wait(15, 45);
                self.stream(shape::text_delta(index, &piece))?;
            }
            self.emit(shape::assistant(&sid, &msg_id, &model, shape::text_block(&text), &usage))?;
            self.stream(shape::content_block_stop(index))?;
            self.said.push(text);
            index += 1;
        }
        for action in &call.tools {
            let id = shape::api_id("toolu");
            let input = action.input(&self.setup.cwd);
            let empty = json!({});
            self.stream(shape::content_block_start(
                index,
                shape::tool_use_block(&id, action.tool_name(), &empty),
            ))?;
            let json_text = input.to_string();
            for piece in json_pieces(&json_text, 48) {
                self.pace.wait(5, 12);
                self.stream(shape::input_json_delta(index, piece))?;
            }
            let block = shape::tool_use_block(&id, action.tool_name(), &input);
            self.emit(shape::assistant(&sid, &msg_id, &model, block, &usage))?;
            self.stream(shape::content_block_stop(index))?;
            tool_calls.push((id, action.clone()));
            index += 1;
        }
        let stop_reason = if call.tools.is_empty() { "end_turn" } else { "tool_use" };
        self.stream(shape::message_delta(stop_reason, usage.output))?;
        self.stream(shape::message_stop())?;
        let (per_in, per_out) = price(&model);
        self.cost += (usage.input as f64
            + usage.cache_creation as f64 * 1.25
            + usage.cache_read as f64 * 0.1)
            * per_in
            + usage.output as f64 * per_out;
        self.tokens.add(usage);
        self.api_time += began.elapsed();
        Ok(tool_calls)
    }

    /// `n` one-word deltas, as fast as possible or `pace=MS` apart; returns the message's
    /// whole text.
    fn flood(&mut self, n: u64, text: &str) -> io::Result<String> {
        let mut all = String::with_capacity(n as usize * 8 + text.len());
        self.stream_always(shape::content_block_start(0, shape::text_block("")))?;
        let pace = self.directives.pace_ms.map(Duration::from_millis);
        for i in 0..n {
            if let Some(pace) = pace.filter(|_| i > 0) {
                std::thread::sleep(pace);
            }
            let word = format!("tok{i} ");
            self.stream_always(shape::text_delta(0, &word))?;
            all.push_str(&word);
        }
        all.push_str("\n\n");
        all.push_str(text);
        Ok(all)
    }

    /// A stream event written even without `--include-partial-messages` (floods).
    fn stream_always(&mut self, event: Value) -> io::Result<()> {
        let v = shape::stream_event(&self.setup.session_id, event);
        self.out.event(&v)
    }

    fn over_budget(&self) -> bool {
        self.directives.budget
            || self.setup.max_budget.as_ref().is_some_and(|(_, b)| self.cost >= *b)
    }

    fn denied(&self, action: &Action) -> Option<String> {
        let name = action.tool_name();
        if self.setup.disallowed.iter().any(|d| d == name) {
            return Some(format!(
                "No such tool available: {name}. {name} exists but is not enabled in this context. Use one of the available tools instead."
            ));
        }
        None
    }

    /// For a call that needs permission (the `ask` directive's, a persona's asking command):
    /// the denial message, or `None` when an `--allowedTools` rule or the permission prompt
    /// tool allows it.
    fn permission(&mut self, id: &str, action: &Action, input: &Value) -> Option<String> {
        let Action::Bash { asks: true, .. } = action else { return None };
        let allowed =
            self.setup.allowed.iter().any(|r| crate::approval::rules::covers(r, "Bash", input));
        if allowed || self.setup.permission_mode == "bypassPermissions" {
            return None;
        }
        let Some(prompt_tool) = self.setup.prompt_tool.clone() else {
            return Some("This command requires approval".into());
        };
        let configs = self.setup.mcp_configs.clone();
        let server =
            self.prompt_tool.get_or_insert_with(|| PromptTool::start(&configs, &prompt_tool));
        match server {
            Ok(server) => match server.ask(action.tool_name(), input, id) {
                Verdict::Allow => None,
                Verdict::Deny(message) => Some(message),
            },
            Err(e) => Some(e.clone()),
        }
    }

    fn tool(&mut self, id: &str, action: &Action) -> io::Result<()> {
        let input = action.input(&self.setup.cwd);
        let result = if let Some(message) = self.denied(action) {
            ToolResult::error(&message)
        } else if let Some(message) = self.permission(id, action, &input) {
            self.denials.push(
                json!({"tool_name": action.tool_name(), "tool_use_id": id, "tool_input": input}),
            );
            ToolResult {
                detail: json!(format!("Error: {message}")),
                content: message,
                is_error: true,
            }
        } else if self.directives.deny
            && matches!(action, Action::Write { .. } | Action::Edit { .. })
        {
            self.denials.push(
                json!({"tool_name": action.tool_name(), "tool_use_id": id, "tool_input": input}),
            );
            let path = input.get("file_path").and_then(Value::as_str).unwrap_or_default();
            let content = format!(
                "Claude requested permissions to write to {path}, but you haven't granted it yet."
            );
            ToolResult { detail: json!(format!("Error: {content}")), content, is_error: true }
        } else {
            let (lo, hi) = match action {
                Action::Bash { command, .. }
                    if command.contains("test") || command.contains("build") =>
                {
                    (900, 1800)
                }
                Action::Bash { .. } | Action::Agentmux { .. } => (150, 600),
                _ => (30, 120),
            };
            self.pace.wait(lo, hi);
            let mut result = action.run(&self.setup.cwd);
            if let Some(bytes) = self.directives.huge.filter(|b| result.content.len() >= *b) {
                // Keep the huge line about `bytes` long: the payload once, not twice.
                result.detail = json!({"stdout": "", "stderr": "", "interrupted": false,
                    "isImage": false, "noOutputExpected": false, "outputBytes": bytes});
            }
            result
        };
        let v = shape::tool_result(
            &self.setup.session_id,
            id,
            &result.content,
            result.is_error,
            &result.detail,
        );
        self.emit(v)
    }

    /// Part of the first message, a stack trace on stderr, and no result.
    fn crash(mut self, call: &Call, how: Crash) -> io::Result<Report> {
        let sid = self.setup.session_id.clone();
        let model = self.setup.model.clone();
        if self.setup.partial {
            self.emit(shape::status_requesting(&sid))?;
            self.pace.wait(450, 1100);
            let usage = self.usage_for(call, true);
            let msg_id = shape::api_id("msg");
            self.stream(shape::message_start(&msg_id, &model, &usage))?;
            self.stream(shape::content_block_start(0, shape::text_block("")))?;
            let pieces = chunks(&call.text, &mut self.pace);
            let half = pieces.len().div_ceil(2);
            for piece in pieces.into_iter().take(half) {
                self.pace.wait(15, 45);
                self.stream(shape::text_delta(0, &piece))?;
            }
        }
        self.pace.wait(100, 300);
        for line in STACK_TRACE {
            stderr_line(line)?;
        }
        Ok(Report { ending: Ending::Crash(how), answer: self.said.join("\n\n") })
    }

    fn finish(mut self, end: Result<u32, Stop>) -> io::Result<Report> {
        let answer = self.said.join("\n\n");
        let final_text = self.said.last().cloned().unwrap_or_default();
        let (num_turns, outcome_errors, subtype, stop_reason, terminal_reason) = match end {
            Ok(n) => (n, Vec::new(), "success", "end_turn", Some("completed")),
            Err(Stop::MaxTurns { num_turns }) => {
                let limit = self.setup.max_turns.unwrap_or(num_turns.saturating_sub(1));
                let errors = vec![format!("Reached maximum number of turns ({limit})")];
                (num_turns, errors, "error_max_turns", "tool_use", Some("max_turns"))
            }
            Err(Stop::Budget { num_turns, stop_reason }) => {
                let limit = self
                    .setup
                    .max_budget
                    .as_ref()
                    .map(|(s, _)| s.clone())
                    .unwrap_or_else(|| "0.01".into());
                let errors = vec![format!("Reached maximum budget (${limit})")];
                (num_turns, errors, "error_max_budget_usd", stop_reason, None)
            }
        };
        let is_error = !outcome_errors.is_empty();
        let outcome = shape::Outcome {
            subtype,
            is_error,
            result: (!is_error).then_some(final_text.as_str()),
            errors: &outcome_errors,
            stop_reason: Some(stop_reason),
            terminal_reason,
        };
        let totals = shape::Totals {
            session_id: &self.setup.session_id,
            model: &self.setup.model,
            duration_ms: self.started.elapsed().as_millis() as u64,
            duration_api_ms: self.api_time.as_millis() as u64,
            num_turns,
            cost_usd: (self.cost * 1e8).round() / 1e8,
            tokens: self.tokens,
            permission_denials: &self.denials,
        };
        let v = shape::result(&outcome, &totals);
        self.emit(v)?;
        Ok(Report { ending: Ending::Exit(i32::from(is_error)), answer })
    }
}

/// The result of a turn that never reached a conversation (unknown `--resume` id).
pub fn no_conversation(session_id: &str, message: &str) -> Value {
    let outcome = shape::Outcome {
        subtype: "error_during_execution",
        is_error: true,
        result: None,
        errors: &[message.to_string()],
        stop_reason: None,
        terminal_reason: None,
    };
    let totals = shape::Totals {
        session_id,
        model: "",
        duration_ms: 0,
        duration_api_ms: 0,
        num_turns: 0,
        cost_usd: 0.0,
        tokens: Tokens::default(),
        permission_denials: &[],
    };
    shape::result(&outcome, &totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_pieces_keep_every_byte() {
        let text = "## Title\n\nsome text, with ünïcödé and  double  spaces\n- a\n";
        let mut pace = Pace::new(0.0, 7);
        let c = chunks(text, &mut pace);
        assert!(c.len() > 3);
        assert_eq!(c.concat(), text);
        let p = json_pieces("{\"a\":\"ééééééééé\"}", 4);
        assert_eq!(p.concat(), "{\"a\":\"ééééééééé\"}");
    }
}
