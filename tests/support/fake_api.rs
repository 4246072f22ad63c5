//! A stand-in of the Anthropic Messages API on 127.0.0.1, scripted by the test.
//!
//! Start one per test with [`FakeApi::start`], point the CLI at it with
//! `ANTHROPIC_BASE_URL=` [`FakeApi::base_url`] (see `support::cli::offline_env`), and answer each
//! `POST /v1/messages` from a closure that sees the request ([`MessagesRequest`]) and returns a
//! [`Reply`]: text, tool calls, an HTTP error, or a hang (for interrupt tests). Every request is
//! recorded ([`FakeApi::requests`], [`FakeApi::messages_requests`]). It listens on an ephemeral
//! loopback port, serves each connection on its own thread, and stops when dropped. It never
//! opens a connection anywhere.
//!
//! # What the real CLI 2.1.197 sends (measured against this stand-in, 2026-11-21)
//! - At start, `HEAD /` (user agent `Bun/1.4.0`, a reachability check), then
//!   `POST /v1/messages?beta=true` with `stream: true`, `model: "claude-opus-4-8"` (the init event
//!   says `claude-opus-4-8[1m]`), `max_tokens: 64000`, `thinking`, `context_management`,
//!   `output_config`, `metadata`, 24 tools, a ~75 KB body. Headers include `x-api-key`,
//!   `anthropic-version: 2023-06-01`, `anthropic-beta: claude-code-20250219,...` and
//!   `X-Claude-Code-Session-Id: <session id>`. No `count_tokens`, no non-streaming call, no other
//!   path in `-p` mode with `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` (both are answered
//!   anyway). Keep-alive; request bodies use Content-Length, not chunked, not compressed.
//! - `system` is a list of text blocks; the first is `x-anthropic-billing-header: ...`.
//! - `messages` holds `role: "system"` entries besides user/assistant (beta
//!   `mid-conversation-system`): the first request is `[user, system]`, the user message being a
//!   `<system-reminder>` text block followed by the prompt's text block. So "the last message" is
//!   not the prompt: use [`MessagesRequest::last_user`].
//! - A `--resume` follow-up sends the whole earlier conversation: `[user, system, assistant, user]`.
//! - After a tool call the next request ends with `[assistant(tool_use), user(tool_result)]`.
//! - HTTP 429 and 500 are retried after about 0.5 s, then 1.2 s (the CLI ignores
//!   `retry-after: 0`), each announced by a `system`/`api_retry` line whose `retry_delay_ms` is a
//!   float (e.g. `547.09`) and whose `error` is a string (`"rate_limit"`, `"server_error"`);
//!   `max_retries` is 10. A 400 is not retried: a synthetic assistant message
//!   (`model: "<synthetic>"`, text `API Error: 400 <message>`) and a `result` with subtype
//!   `success` but `is_error: true`, `api_error_status: 400`, exit code 1.
//! - Permissions in `-p` mode (default permission mode): read-only Bash such as `echo hi` and
//!   `Read` run without any rule; `Bash(touch ...)` and `Write` are denied: a `user` tool_result
//!   with `is_error: true` (for Bash the text oddly says "touch in '<path>' was blocked. For
//!   security, Claude Code may only create or modify files in the allowed working
//!   directories...", even inside the cwd; for Write "Claude requested permissions to write to
//!   <path>, but you haven't granted it yet.") and the `result` lists it in
//!   `permission_denials`, subtype still `success`. `--allowedTools 'Bash(touch:*)'` lets it run.
//!   A command that writes no file, e.g. `agentmux send worker hi`, is denied with the text
//!   "This command requires approval". `--allowedTools 'Bash(agentmux send:*)' 'Bash(agentmux
//!   ls:*)'` (the flag takes several values, ended by `--`) allows `agentmux send worker "..."`,
//!   `agentmux ls && agentmux send worker hi` and `echo hi | agentmux send worker -`, and still
//!   denies `agentmux kill worker`. Bash runs with the child's `PATH`.
//!   A tool in `--disallowedTools` is not offered at all: calling it gives "No such tool
//!   available" and is NOT listed in `permission_denials`.
//! - `--resume <unknown id>`: a plain-text line `No conversation found with session ID: <id>`,
//!   then one `result` (error_during_execution, is_error, `errors` with the same text), no init,
//!   no request to the API, exit code 1.
//! - `--permission-mode bypassPermissions` as root: one red line
//!   `ESC[0mESC[31m--dangerously-skip-permissions cannot be used with root/sudo privileges for
//!   security reasons ESC[0m`, then `ESC[?25h`, no JSON at all, exit code 1, no request.
//! - `--max-turns 1` with a tool call: the tool runs, then `result` `error_max_turns`,
//!   `is_error: true`, exit code 1.
//! - `--include-partial-messages` adds a `system`/`status` line (`"status":"requesting"`) before
//!   the stream events; the complete `assistant` line arrives before `content_block_stop`.
//! - Every turn that ran ends with the exit sequence
//!   `ESC[?1006l ESC[?1003l ESC[?1002l ESC[?1000l ESC(B SI ESC[>4m ESC[<u ESC[?1004l ESC[?2031l
//!   ESC[?2004l ESC[?25h ESC7 ESC[r ESC8 ESC]0; BEL ESC[?25h` (no spaces, no newline).
//! - `--mcp-config '{"mcpServers":{"agentmux":{...}}}' --permission-prompt-tool
//!   mcp__agentmux__approve` works offline: for a call that needs permission the CLI sends the
//!   MCP server `tools/call` `approve` with `{tool_name, input, tool_use_id}` and obeys a text
//!   content of `{"behavior":"allow","updatedInput":...}` or `{"behavior":"deny","message":...}`
//!   (the message becomes the is_error tool_result, listed in `permission_denials`). The approval
//!   tool is not offered to the model. With the server missing, the CLI prints `Error: MCP tool
//!   ... not found` as plain text and exits 1 with no `result`, and a `user` JSON line follows the
//!   exit escape sequence on the same line (decoders must strip escapes before looking for JSON).
//! - SIGINT while the CLI waits on the API: it exits with code 0 and writes no `result`, only
//!   the exit escape sequence. A later `--resume` sends the interrupted prompt (its text block
//!   followed by a `Continue from where you left off.` block), a synthetic assistant message
//!   `No response requested.`, then the new prompt.
//! - A whole offline turn takes about 0.5 s of wall time (2 s with an MCP server to start).

#![allow(dead_code)] // each test binary uses a different part of the support code

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// What the scripted API answers to one `POST /v1/messages`.
#[derive(Clone, Debug)]
pub enum Reply {
    /// An assistant message: its content blocks, streamed as SSE (or one JSON body when the
    /// request did not ask for `stream`).
    Message {
        blocks: Vec<Block>,
        /// Pause between SSE events, to make streaming visible (zero by default).
        delay: Duration,
    },
    /// An HTTP error with an Anthropic-shaped error body (429 and 5xx make the CLI retry).
    Error { status: u16, error_type: String, message: String },
    /// Accept the request and never answer (until the fake is dropped): for interrupt tests.
    Hang,
    /// Another reply with these response headers added (e.g. the subscription's
    /// `anthropic-ratelimit-unified-*`).
    WithHeaders(Vec<(String, String)>, Box<Reply>),
}

#[derive(Clone, Debug)]
pub enum Block {
    /// Text, streamed as one `text_delta` per element.
    Text(Vec<String>),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Message { blocks: vec![Block::Text(vec![text.into()])], delay: Duration::ZERO }
    }

    /// Text that arrives in several deltas with `delay` between SSE events.
    pub fn text_deltas<S: Into<String>>(
        deltas: impl IntoIterator<Item = S>,
        delay: Duration,
    ) -> Reply {
        Reply::Message {
            blocks: vec![Block::Text(deltas.into_iter().map(Into::into).collect())],
            delay,
        }
    }

    /// One tool call; the id is made up by the fake (`toolu_fake_<n>`).
    pub fn tool_use(name: impl Into<String>, input: Value) -> Reply {
        Reply::Message {
            blocks: vec![Block::ToolUse { id: String::new(), name: name.into(), input }],
            delay: Duration::ZERO,
        }
    }

    /// A Bash tool call running `command`.
    pub fn bash(command: &str) -> Reply {
        Reply::tool_use("Bash", json!({ "command": command, "description": "run a command" }))
    }

    pub fn error(status: u16) -> Reply {
        let error_type = match status {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        };
        Reply::Error {
            status,
            error_type: error_type.to_string(),
            message: format!("fake API error {status}"),
        }
    }
}

/// A tool result found in a request.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    pub tool_use_id: String,
    /// `content` flattened to text.
    pub content: String,
    pub is_error: bool,
}

/// The parts of a `POST /v1/messages` body a script looks at.
#[derive(Clone, Debug)]
pub struct MessagesRequest {
    pub model: String,
    pub stream: bool,
    /// The system prompt's text blocks joined with newlines.
    pub system: String,
    /// All `messages`, including the `role: "system"` ones the CLI inserts.
    pub messages: Vec<Value>,
    /// Names of the offered tools.
    pub tools: Vec<String>,
    /// `X-Claude-Code-Session-Id`, when sent.
    pub session_id: Option<String>,
    pub body: Value,
}

impl MessagesRequest {
    fn from_body(body: &Value, headers: &[(String, String)]) -> MessagesRequest {
        let system = match body.get("system") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        MessagesRequest {
            model: body.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            system,
            messages: body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default(),
            tools: body
                .get("tools")
                .and_then(Value::as_array)
                .map(|tools| {
                    tools
                        .iter()
                        .filter_map(|t| t.get("name").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            session_id: header(headers, "x-claude-code-session-id").map(str::to_string),
            body: body.clone(),
        }
    }

    /// User and assistant messages, without the CLI's `role: "system"` inserts.
    pub fn conversation(&self) -> impl Iterator<Item = &Value> {
        self.messages.iter().filter(|m| m.get("role").and_then(Value::as_str) != Some("system"))
    }

    pub fn last_user(&self) -> Option<&Value> {
        self.conversation().filter(|m| role(m) == Some("user")).last()
    }

    /// The text blocks of the last user message, joined with newlines (the CLI's
    /// `<system-reminder>` blocks left out): the prompt, on a turn's first request.
    pub fn last_user_text(&self) -> String {
        self.last_user().map(text_of).unwrap_or_default()
    }

    /// The texts of every user message in order (the prompts of the conversation so far).
    pub fn user_texts(&self) -> Vec<String> {
        self.conversation()
            .filter(|m| role(m) == Some("user"))
            .map(text_of)
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// The texts of every assistant message in order.
    pub fn assistant_texts(&self) -> Vec<String> {
        self.conversation()
            .filter(|m| role(m) == Some("assistant"))
            .map(text_of)
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// The tool results in the last user message (empty when it is a prompt).
    pub fn tool_results(&self) -> Vec<ToolResult> {
        let Some(Value::Array(blocks)) = self.last_user().and_then(|m| m.get("content")) else {
            return Vec::new();
        };
        blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
            .map(|b| ToolResult {
                tool_use_id: b
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                content: flatten_content(b.get("content")),
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            })
            .collect()
    }

    /// Whether the last user message carries tool results (the CLI is continuing a tool loop).
    pub fn is_tool_continuation(&self) -> bool {
        !self.tool_results().is_empty()
    }
}

fn role(m: &Value) -> Option<&str> {
    m.get("role").and_then(Value::as_str)
}

fn text_of(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .filter(|t| !t.trim_start().starts_with("<system-reminder>"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn flatten_content(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// One HTTP request as received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, when it was JSON.
    pub body: Option<Value>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The request as a Messages API call, when it is `POST /v1/messages`.
    pub fn messages_request(&self) -> Option<MessagesRequest> {
        if self.method != "POST" || self.path != "/v1/messages" {
            return None;
        }
        self.body.as_ref().map(|b| MessagesRequest::from_body(b, &self.headers))
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

type Script = dyn Fn(&MessagesRequest) -> Reply + Send + Sync;

struct Shared {
    script: Box<Script>,
    stop: AtomicBool,
    state: Mutex<State>,
    /// Signalled on every recorded request and on stop.
    changed: Condvar,
    next_id: AtomicU64,
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    /// A clone of every accepted connection, shut down on drop to unblock its thread.
    conns: Vec<TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a connection thread must not hide the requests from the test.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeApi {
    /// Listens on 127.0.0.1 on an ephemeral port; `script` answers every `POST /v1/messages`.
    pub fn start(script: impl Fn(&MessagesRequest) -> Reply + Send + Sync + 'static) -> FakeApi {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr of a bound listener");
        let shared = Arc::new(Shared {
            script: Box::new(script),
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            next_id: AtomicU64::new(1),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("fake-api-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn the fake API's accept thread")
        };
        FakeApi { addr, shared, accept: Some(accept) }
    }

    /// A script that answers every turn with `text` (and every tool result with `text` too).
    pub fn always_text(text: &str) -> FakeApi {
        let text = text.to_string();
        FakeApi::start(move |_| Reply::text(text.clone()))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The `POST /v1/messages` requests received so far, in order.
    pub fn messages_requests(&self) -> Vec<MessagesRequest> {
        self.requests().iter().filter_map(RecordedRequest::messages_request).collect()
    }

    /// Waits until at least `n` Messages requests arrived; false on timeout.
    pub fn wait_for_messages_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let count = state.requests.iter().filter(|r| r.messages_request().is_some()).count();
            if count >= n {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = match self.shared.changed.wait_timeout(state, deadline - now) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wake the blocking accept() with a connection of our own.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let threads = {
            let mut state = self.shared.lock();
            for c in &state.conns {
                let _ = c.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut state.threads)
        };
        self.shared.changed.notify_all();
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let Ok(clone) = conn.try_clone() else { continue };
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("fake-api-conn".into())
                .spawn(move || serve_connection(conn, &shared))
        };
        let mut state = shared.lock();
        state.conns.push(clone);
        if let Ok(worker) = worker {
            state.threads.push(worker);
        }
    }
}

fn serve_connection(conn: TcpStream, shared: &Shared) {
    let Ok(write_half) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    let mut out = io::BufWriter::new(write_half);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let req = match read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) => return, // the client closed the connection
            Err(_) => {
                let _ = write_json(&mut out, 400, &error_body("invalid_request_error", "bad HTTP"));
                return;
            }
        };
        let close =
            req.headers.iter().any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close"));
        {
            let mut state = shared.lock();
            state.requests.push(req.clone());
        }
        shared.changed.notify_all();
        if respond(&req, shared, &mut out).is_err() || close {
            return;
        }
    }
}

/// Reads one request; `Ok(None)` at a clean end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<RecordedRequest>> {
    let mut line = String::new();
    // Tolerate stray empty lines between keep-alive requests.
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad request line"));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (method, path, query) = (method.to_string(), path.to_string(), query.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let len =
            header(&headers, "content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(RecordedRequest {
        method,
        path,
        query,
        body: serde_json::from_slice(&body).ok(),
        headers,
    }))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?; // the CRLF after the chunk
    }
}

fn respond(req: &RecordedRequest, shared: &Shared, out: &mut impl Write) -> io::Result<()> {
    match (req.method.as_str(), req.path.as_str()) {
        // The CLI's reachability check at start.
        ("HEAD", _) => {
            write!(out, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")?;
            out.flush()
        }
        ("POST", "/v1/messages/count_tokens") => {
            write_json(out, 200, &json!({ "input_tokens": 100 }))
        }
        ("POST", "/v1/messages") => {
            let Some(request) = req.messages_request() else {
                return write_json(
                    out,
                    400,
                    &error_body("invalid_request_error", "body is not JSON"),
                );
            };
            // A panicking script answers 500 instead of killing the connection silently.
            let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (shared.script)(&request)
            }))
            .unwrap_or_else(|_| Reply::Error {
                status: 500,
                error_type: "api_error".into(),
                message: "the fake API's script panicked".into(),
            });
            answer(&request, reply, shared, out)
        }
        _ => write_json(
            out,
            404,
            &error_body("not_found_error", &format!("{} {} is not faked", req.method, req.path)),
        ),
    }
}

fn answer(
    request: &MessagesRequest,
    reply: Reply,
    shared: &Shared,
    out: &mut impl Write,
) -> io::Result<()> {
    let (headers, reply) = match reply {
        Reply::WithHeaders(headers, reply) => (headers, *reply),
        reply => (Vec::new(), reply),
    };
    match reply {
        Reply::WithHeaders(..) => answer(request, reply, shared, out),
        Reply::Error { status, error_type, message } => {
            write_json_with(out, status, &error_body(&error_type, &message), &headers)
        }
        Reply::Hang => {
            let state = shared.lock();
            let _state = shared
                .changed
                .wait_while(state, |_| !shared.stop.load(Ordering::SeqCst))
                .unwrap_or_else(|e| e.into_inner());
            Err(io::ErrorKind::ConnectionAborted.into())
        }
        Reply::Message { blocks, delay } => {
            let n = shared.next_id.fetch_add(1, Ordering::SeqCst);
            let blocks: Vec<Block> = blocks
                .into_iter()
                .enumerate()
                .map(|(i, b)| match b {
                    Block::ToolUse { id, name, input } if id.is_empty() => {
                        Block::ToolUse { id: format!("toolu_fake_{n}_{i}"), name, input }
                    }
                    other => other,
                })
                .collect();
            let stop_reason = if blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
                "tool_use"
            } else {
                "end_turn"
            };
            let message_id = format!("msg_fake_{n}");
            let input_tokens = 10 * request.messages.len() as u64;
            let output_tokens: u64 = blocks
                .iter()
                .map(|b| match b {
                    Block::Text(parts) => parts.iter().map(|p| p.len() as u64 / 4 + 1).sum(),
                    Block::ToolUse { .. } => 20,
                })
                .sum();
            if request.stream {
                let events = sse_events(
                    &message_id,
                    &request.model,
                    &blocks,
                    stop_reason,
                    input_tokens,
                    output_tokens,
                );
                write_sse(out, &events, delay, &headers)
            } else {
                let content: Vec<Value> = blocks
                    .iter()
                    .map(|b| match b {
                        Block::Text(parts) => json!({ "type": "text", "text": parts.concat() }),
                        Block::ToolUse { id, name, input } => {
                            json!({ "type": "tool_use", "id": id, "name": name, "input": input })
                        }
                    })
                    .collect();
                let body = json!({
                    "id": message_id, "type": "message", "role": "assistant",
                    "model": request.model, "content": content,
                    "stop_reason": stop_reason, "stop_sequence": null,
                    "usage": { "input_tokens": input_tokens, "output_tokens": output_tokens },
                });
                write_json_with(out, 200, &body, &headers)
            }
        }
    }
}

/// The SSE events of one message, their JSON written by hand so the keys come in the real
/// API's order (`type` first): the CLI passes them through to its stream-json output.
fn sse_events(
    message_id: &str,
    model: &str,
    blocks: &[Block],
    stop_reason: &str,
    input_tokens: u64,
    output_tokens: u64,
) -> Vec<(&'static str, String)> {
    let q = |s: &str| Value::String(s.to_string()).to_string();
    let mut events = vec![(
        "message_start",
        format!(
            r#"{{"type":"message_start","message":{{"id":{},"type":"message","role":"assistant","model":{},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":{input_tokens},"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}}}}"#,
            q(message_id),
            q(model)
        ),
    )];
    for (index, block) in blocks.iter().enumerate() {
        match block {
            Block::Text(parts) => {
                events.push((
                    "content_block_start",
                    format!(
                        r#"{{"type":"content_block_start","index":{index},"content_block":{{"type":"text","text":""}}}}"#
                    ),
                ));
                for part in parts {
                    events.push((
                        "content_block_delta",
                        format!(
                            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"text_delta","text":{}}}}}"#,
                            q(part)
                        ),
                    ));
                }
            }
            Block::ToolUse { id, name, input } => {
                events.push((
                    "content_block_start",
                    format!(
                        r#"{{"type":"content_block_start","index":{index},"content_block":{{"type":"tool_use","id":{},"name":{},"input":{{}}}}}}"#,
                        q(id),
                        q(name)
                    ),
                ));
                events.push((
                    "content_block_delta",
                    format!(
                        r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"input_json_delta","partial_json":{}}}}}"#,
                        q(&input.to_string())
                    ),
                ));
            }
        }
        events.push((
            "content_block_stop",
            format!(r#"{{"type":"content_block_stop","index":{index}}}"#),
        ));
    }
    events.push((
        "message_delta",
        format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":{},"stop_sequence":null}},"usage":{{"output_tokens":{output_tokens}}}}}"#,
            q(stop_reason)
        ),
    ));
    events.push(("message_stop", r#"{"type":"message_stop"}"#.to_string()));
    events
}

/// Streams the events with chunked transfer encoding, flushing each one.
fn write_sse(
    out: &mut impl Write,
    events: &[(&'static str, String)],
    delay: Duration,
    headers: &[(String, String)],
) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n\
         cache-control: no-cache\r\ntransfer-encoding: chunked\r\n{}\r\n",
        header_lines(headers)
    )?;
    out.flush()?;
    for (i, (name, data)) in events.iter().enumerate() {
        if i > 0 && !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let chunk = format!("event: {name}\ndata: {data}\n\n");
        write!(out, "{:x}\r\n{chunk}\r\n", chunk.len())?;
        out.flush()?;
    }
    write!(out, "0\r\n\r\n")?;
    out.flush()
}

fn error_body(error_type: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": error_type, "message": message } })
}

fn header_lines(headers: &[(String, String)]) -> String {
    headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect()
}

fn write_json(out: &mut impl Write, status: u16, body: &Value) -> io::Result<()> {
    write_json_with(out, status, body, &[])
}

fn write_json_with(
    out: &mut impl Write,
    status: u16,
    body: &Value,
    headers: &[(String, String)],
) -> io::Result<()> {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Status",
    };
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
         request-id: req_fake\r\ncontent-length: {}\r\n{}\r\n{body}",
        body.len(),
        header_lines(headers)
    )?;
    out.flush()
}

/// Counts calls per key, so a script can fail the first calls (e.g. a 429, then an answer).
#[derive(Debug, Default)]
pub struct Countdown(Mutex<HashMap<String, usize>>);

impl Countdown {
    /// How many times `key` was seen before this call (0 the first time).
    pub fn next(&self, key: &str) -> usize {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = seen.entry(key.to_string()).or_insert(0);
        *count += 1;
        *count - 1
    }

    /// True the first `n` times it is called with `key`.
    pub fn first(&self, key: &str, n: usize) -> bool {
        self.next(key) < n
    }
}
