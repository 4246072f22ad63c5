//! The real Claude Code CLI (2.1.197) driven through agentmux's engine (`spawn_turn`), against
//! a loopback stand-in of the Messages API (`support::fake_api`).
//!
//! Needs the CLI (see `support::cli::find_claude`); without it these tests print a skip note and
//! pass, except in CI where its absence fails them. No request leaves 127.0.0.1. Each test is one
//! scenario, so libtest runs them in parallel; a turn takes about half a second.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentmux::agent::event::{ContentBlock, Init, ResultEvent, SystemKind};
use agentmux::agent::turn::{Phase, Turn};
use agentmux::agent::{
    spawn_turn, AgentId, AgentOptions, AgentSpec, Billing, ClaudeCmd, EngineMsg, Event, ExitInfo,
    Line, PermissionMode, SessionArg, TurnHandle, TurnRequest, DEFAULT_MAX_LINE_BYTES,
};
use serde_json::{json, Value};
use support::cli::{claude_or_skip, offline_env, run_in_pty, PtyRun};
use support::fake_api::{Countdown, FakeApi, MessagesRequest, Reply};

const TURN_TIMEOUT: Duration = Duration::from_secs(60);

/// The answers the tests script: a prompt `run: CMD` calls Bash, `write: PATH` calls Write,
/// `fail A B` fails the first calls with HTTP A, then B, anything else gets an echo that says how many
/// prompts the conversation holds; a tool result is answered with its content.
fn script() -> impl Fn(&MessagesRequest) -> Reply + Send + Sync + 'static {
    let countdown = Countdown::default();
    move |req| {
        if let Some(result) = req.tool_results().first() {
            let state = if result.is_error { "failed" } else { "said" };
            return Reply::text(format!("The tool {state}: {}", result.content));
        }
        let prompt = req.last_user_text();
        if let Some(cmd) = prompt.strip_prefix("run: ") {
            return Reply::bash(cmd);
        }
        if let Some(path) = prompt.strip_prefix("write: ") {
            return Reply::tool_use("Write", json!({ "file_path": path, "content": "x\n" }));
        }
        if let Some(statuses) = prompt.strip_prefix("fail ") {
            let statuses: Vec<u16> =
                statuses.split_whitespace().filter_map(|s| s.parse().ok()).collect();
            let call = countdown.next(&prompt);
            if let Some(&status) = statuses.get(call) {
                return Reply::error(status);
            }
        }
        let prompts = req.user_texts();
        Reply::text_deltas(
            [format!("You said: {prompt}."), format!(" Prompts so far: {}.", prompts.len())],
            Duration::ZERO,
        )
    }
}

/// A temp dir with `home/` and `work/` (the agent's cwd) inside.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home dir");
        std::fs::create_dir_all(dir.path().join("work")).expect("work dir");
        Sandbox { dir }
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Everything the engine reported for one turn.
struct TurnOutput {
    lines: Vec<(String, Line)>,
    exit: ExitInfo,
    /// The turn's lifecycle, fed the same lines and exit as the app would.
    turn: Turn,
}

impl TurnOutput {
    fn events(&self) -> impl Iterator<Item = &Event> {
        self.lines.iter().filter_map(|(_, l)| match l {
            Line::Event(e) => Some(e),
            _ => None,
        })
    }

    /// The plain-text (non-JSON) lines.
    fn texts(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|(_, l)| match l {
                Line::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// All lines as read, for failure messages.
    fn dump(&self) -> String {
        let lines: Vec<&str> = self.lines.iter().map(|(raw, _)| raw.as_str()).collect();
        format!("exit {:?}\n{}", self.exit, lines.join("\n"))
    }

    fn init(&self) -> Option<&Init> {
        self.events().find_map(|e| match e {
            Event::System(s) => match &s.kind {
                SystemKind::Init(init) => Some(init),
                _ => None,
            },
            _ => None,
        })
    }

    fn result(&self) -> &ResultEvent {
        self.events()
            .find_map(|e| match e {
                Event::Result(r) => Some(r),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no result event:\n{}", self.dump()))
    }

    fn blocks<'a>(&'a self, user: bool) -> impl Iterator<Item = &'a ContentBlock> + 'a {
        self.events()
            .filter_map(move |e| match (e, user) {
                (Event::User(m), true) | (Event::Assistant(m), false) => Some(&m.content),
                _ => None,
            })
            .flatten()
    }

    /// (content, is_error) of every tool result the CLI reported.
    fn tool_results(&self) -> Vec<(String, bool)> {
        self.blocks(true)
            .filter_map(|b| match b {
                ContentBlock::ToolResult { content, is_error, .. } => {
                    Some((content.clone(), *is_error))
                }
                _ => None,
            })
            .collect()
    }

    /// (name, input) of every tool call the assistant made.
    fn tool_uses(&self) -> Vec<(String, Value)> {
        self.blocks(false)
            .filter_map(|b| match b {
                ContentBlock::ToolUse { name, input, .. } => Some((name.clone(), input.clone())),
                _ => None,
            })
            .collect()
    }

    /// The streamed text deltas, concatenated.
    fn streamed_text(&self) -> String {
        use agentmux::agent::event::StreamKind;
        self.events()
            .filter_map(|e| match e {
                Event::Stream(s) => match &s.kind {
                    StreamKind::TextDelta { text, .. } => Some(text.as_str()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }
}

/// One agent with a sandboxed home and cwd, billed per token so the fake key reaches the CLI.
struct Agent {
    claude: PathBuf,
    sandbox: Sandbox,
    options: AgentOptions,
    turns: u64,
}

impl Agent {
    fn new(claude: PathBuf) -> Agent {
        Agent {
            claude,
            sandbox: Sandbox::new(),
            options: AgentOptions { billing: Some(Billing::Api), ..Default::default() },
            turns: 0,
        }
    }

    fn with(mut self, options: AgentOptions) -> Agent {
        self.options = AgentOptions { billing: Some(Billing::Api), ..options };
        self
    }

    fn request(&mut self, api: &FakeApi, prompt: &str, session: SessionArg) -> TurnRequest {
        self.turns += 1;
        let mut spec = AgentSpec::new("real", self.sandbox.work());
        spec.options = self.options.clone();
        TurnRequest {
            agent: AgentId(7),
            turn: self.turns,
            claude: ClaudeCmd::real(&self.claude),
            spec,
            prompt: prompt.to_string(),
            origin: agentmux::agent::Origin::User,
            session,
            extra_env: offline_env(&api.base_url(), &self.sandbox.home()),
            extra_args: Vec::new(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Runs one turn through the engine to its end.
    async fn turn(&mut self, api: &FakeApi, prompt: &str, session: SessionArg) -> TurnOutput {
        let req = self.request(api, prompt, session);
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let _handle = spawn_turn(req, tx).expect("spawn_turn");
        collect(&mut rx, self.turns, false).await
    }
}

/// Reads the engine's messages for one turn until `Exited`, checking their order.
/// `interrupted`: the test interrupted the turn (the lifecycle is told so before the exit).
async fn collect(
    rx: &mut tokio::sync::mpsc::Receiver<EngineMsg>,
    turn_no: u64,
    interrupted: bool,
) -> TurnOutput {
    let mut lines = Vec::new();
    let mut turn = Turn::new();
    let mut started = false;
    loop {
        let msg = match tokio::time::timeout(TURN_TIMEOUT, rx.recv()).await {
            Ok(Some(msg)) => msg,
            Ok(None) => panic!("the engine closed the channel before Exited"),
            Err(_) => panic!("the turn did not end within {TURN_TIMEOUT:?}; lines: {lines:#?}"),
        };
        match msg {
            EngineMsg::Started { agent, turn: n, .. } => {
                assert!(!started, "Started twice");
                assert_eq!((agent, n), (AgentId(7), turn_no));
                started = true;
            }
            EngineMsg::Lines { agent, turn: n, lines: batch, .. } => {
                assert!(started, "Lines before Started");
                assert_eq!((agent, n), (AgentId(7), turn_no));
                for (_, line) in &batch {
                    turn.on_line(line);
                }
                lines.extend(batch);
            }
            EngineMsg::Exited { agent, turn: n, exit } => {
                assert!(started, "Exited before Started");
                assert_eq!((agent, n), (AgentId(7), turn_no));
                if interrupted {
                    turn.on_interrupt();
                }
                turn.on_exit(&exit);
                return TurnOutput { lines, exit, turn };
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_streams_text_and_a_resume_sees_the_first_turn() {
    let Some(claude) = claude_or_skip("a_turn_streams_text_and_a_resume_sees_the_first_turn")
    else {
        return;
    };
    let api = FakeApi::start(script());
    let mut agent = Agent::new(claude);
    let session = uuid();
    let first = agent.turn(&api, "remember banana", SessionArg::New(session.clone())).await;
    assert!(first.exit.success(), "{}", first.dump());
    let init = first.init().unwrap_or_else(|| panic!("no init:\n{}", first.dump()));
    let version = init.claude_code_version.as_deref().unwrap_or_default();
    assert!(
        support::cli::TESTED_VERSIONS.contains(&version),
        "these tests were made with the CLI versions {:?}, not {version:?}: install the pinned \
         one into target/claude-cli",
        support::cli::TESTED_VERSIONS
    );
    assert_eq!(init.api_key_source.as_deref(), Some("ANTHROPIC_API_KEY"));
    assert!(first.turn.billed_per_token());
    assert_eq!(Path::new(init.cwd.as_deref().unwrap_or_default()), agent.sandbox.work());
    let answer = "You said: remember banana. Prompts so far: 1.";
    // Partial messages are on by default: the text streams as deltas.
    assert_eq!(first.streamed_text(), answer, "{}", first.dump());
    let result = first.result();
    assert_eq!((result.subtype.as_str(), result.is_error), ("success", false));
    assert_eq!(result.result.as_deref(), Some(answer));
    assert_eq!(result.session_id.as_deref(), Some(session.as_str()));
    let Phase::Done(_) = first.turn.state() else {
        panic!("{:?}\n{}", first.turn.state(), first.dump())
    };
    let next = first.turn.next_session(&SessionArg::New(session.clone()), None);
    assert_eq!(next.as_deref(), Some(session.as_str()));

    let second = agent.turn(&api, "what word?", SessionArg::Resume(session.clone())).await;
    assert!(second.exit.success(), "{}", second.dump());
    assert_eq!(second.result().result.as_deref(), Some("You said: what word?. Prompts so far: 2."));
    let requests = api.messages_requests();
    assert_eq!(requests.len(), 2);
    let follow_up = &requests[1];
    assert_eq!(follow_up.user_texts(), ["remember banana", "what word?"]);
    assert_eq!(follow_up.assistant_texts(), [answer]);
    assert_eq!(follow_up.session_id.as_deref(), Some(session.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_tool_call_runs_and_its_result_goes_back_to_the_api() {
    let Some(claude) =
        claude_or_skip("an_allowed_tool_call_runs_and_its_result_goes_back_to_the_api")
    else {
        return;
    };
    let api = FakeApi::start(script());
    // `touch` is refused in the default mode unless a rule allows it.
    let mut agent = Agent::new(claude).with(AgentOptions {
        allowed_tools: Some(vec!["Bash(touch:*)".into()]),
        ..Default::default()
    });
    let out = agent.turn(&api, "run: touch made.txt", SessionArg::New(uuid())).await;
    assert!(out.exit.success(), "{}", out.dump());
    assert!(agent.sandbox.work().join("made.txt").exists(), "the Bash call ran in the cwd");
    assert_eq!(
        out.tool_uses(),
        [(
            "Bash".to_string(),
            json!({ "command": "touch made.txt", "description": "run a command" })
        )]
    );
    assert_eq!(out.tool_results(), [("(Bash completed with no output)".to_string(), false)]);
    let result = out.result();
    assert_eq!(result.num_turns, Some(2));
    assert!(result.permission_denials.is_empty());
    assert_eq!(result.result.as_deref(), Some("The tool said: (Bash completed with no output)"));
    let requests = api.messages_requests();
    assert_eq!(requests.len(), 2);
    let sent = requests[1].tool_results();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].is_error);
    assert!(sent[0].tool_use_id.starts_with("toolu_fake_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_without_permission_is_denied_and_listed() {
    let Some(claude) = claude_or_skip("a_tool_without_permission_is_denied_and_listed") else {
        return;
    };
    let api = FakeApi::start(script());
    let mut agent = Agent::new(claude);
    let out = agent.turn(&api, "run: touch denied.txt", SessionArg::New(uuid())).await;
    assert!(out.exit.success(), "{}", out.dump());
    assert!(!agent.sandbox.work().join("denied.txt").exists());
    let results = out.tool_results();
    assert_eq!(results.len(), 1, "{}", out.dump());
    assert!(results[0].1, "the tool result is an error: {results:?}");
    let result = out.result();
    assert_eq!((result.subtype.as_str(), result.is_error), ("success", false));
    assert_eq!(result.permission_denials.len(), 1, "{result:?}");
    assert_eq!(result.permission_denials[0].tool_name, "Bash");
    assert_eq!(result.permission_denials[0].tool_input["command"], "touch denied.txt");
    assert!(api.messages_requests()[1].tool_results()[0].is_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_session_id_fails_with_the_reason() {
    let Some(claude) = claude_or_skip("an_unknown_session_id_fails_with_the_reason") else {
        return;
    };
    let api = FakeApi::start(script());
    let mut agent = Agent::new(claude);
    let unknown = uuid();
    let out = agent.turn(&api, "hello?", SessionArg::Resume(unknown.clone())).await;
    assert_eq!(out.exit.code, Some(1), "{}", out.dump());
    let expected = format!("No conversation found with session ID: {unknown}");
    let result = out.result();
    assert_eq!((result.subtype.as_str(), result.is_error), ("error_during_execution", true));
    assert_eq!(result.errors, std::slice::from_ref(&expected));
    assert_eq!(out.texts(), [expected.as_str()], "the CLI's plain-text line is kept");
    assert!(out.exit.tail.contains(&expected), "{:?}", out.exit.tail);
    let Phase::Failed(failure) = out.turn.state() else { panic!("{:?}", out.turn.state()) };
    assert_eq!(failure.detail, [expected]);
    // Nothing reached a conversation: the agent keeps the session it had.
    let kept = out.turn.next_session(&SessionArg::Resume(unknown), Some("before"));
    assert_eq!(kept.as_deref(), Some("before"));
    assert!(api.messages_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypass_permissions_as_root_is_refused_and_the_reason_is_kept() {
    let name = "bypass_permissions_as_root_is_refused_and_the_reason_is_kept";
    let Some(claude) = claude_or_skip(name) else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED {name}: the CLI refuses bypassPermissions only for root");
        return;
    }
    let api = FakeApi::start(script());
    let mut agent = Agent::new(claude).with(AgentOptions {
        permission_mode: Some(PermissionMode::BypassPermissions),
        ..Default::default()
    });
    let out = agent.turn(&api, "hi", SessionArg::New(uuid())).await;
    assert_eq!((out.exit.code, out.exit.signal.as_deref()), (Some(1), None), "{}", out.dump());
    let reason = "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons";
    // The red SGR escapes around it are gone.
    assert_eq!(out.texts(), [reason], "{}", out.dump());
    assert_eq!(out.events().count(), 0);
    assert_eq!(out.exit.tail, [reason]);
    let Phase::Failed(failure) = out.turn.state() else { panic!("{:?}", out.turn.state()) };
    assert!(failure.result.is_none());
    assert_eq!(failure.detail, [reason]);
    assert!(api.messages_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_are_retried_with_api_retry_events() {
    let Some(claude) = claude_or_skip("api_errors_are_retried_with_api_retry_events") else {
        return;
    };
    let api = FakeApi::start(script());
    let mut agent = Agent::new(claude);
    let out = agent.turn(&api, "fail 429 500", SessionArg::New(uuid())).await;
    assert!(out.exit.success(), "{}", out.dump());
    let retries: Vec<_> = out
        .events()
        .filter_map(|e| match e {
            Event::System(s) => match &s.kind {
                SystemKind::ApiRetry(r) => Some(r.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let seen: Vec<_> = retries.iter().map(|r| (r.attempt, r.error_status)).collect();
    assert_eq!(seen, [(Some(1), Some(429)), (Some(2), Some(500))], "{}", out.dump());
    assert!(retries.iter().all(|r| r.retry_delay_ms.is_some_and(|ms| ms > 0)));
    assert_eq!(out.result().subtype, "success");
    assert_eq!(api.messages_requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_turn_stops_and_stays_resumable() {
    let Some(claude) = claude_or_skip("an_interrupted_turn_stops_and_stays_resumable") else {
        return;
    };
    let hang = std::sync::atomic::AtomicBool::new(true);
    let api = FakeApi::start(move |req| {
        if hang.swap(false, std::sync::atomic::Ordering::SeqCst) {
            Reply::Hang
        } else {
            Reply::text(format!("Prompts so far: {}.", req.user_texts().len()))
        }
    });
    let mut agent = Agent::new(claude);
    let session = uuid();
    let req = agent.request(&api, "wait forever", SessionArg::New(session.clone()));
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let handle: TurnHandle = spawn_turn(req, tx).expect("spawn_turn");
    assert!(api.wait_for_messages_requests(1, TURN_TIMEOUT), "the CLI never called the API");
    handle.interrupt();
    let out = collect(&mut rx, agent.turns, true).await;
    // The CLI exits on SIGINT with code 0, with no result or, depending on when the signal
    // lands, an `error_during_execution` one (terminal_reason "aborted_streaming"): never a
    // successful result.
    let success = |e: &Event| matches!(e, Event::Result(r) if r.subtype == "success");
    assert!(!out.events().any(success), "{}", out.dump());
    assert_eq!(out.turn.state(), &Phase::Interrupted, "{}", out.dump());

    let next = agent.turn(&api, "and now?", SessionArg::Resume(session.clone())).await;
    assert!(next.exit.success(), "{}", next.dump());
    let requests = api.messages_requests();
    let last = requests.last().expect("a request");
    let prompts = last.user_texts();
    assert_eq!(prompts.last().map(String::as_str), Some("and now?"));
    // The CLI resumes with the interrupted prompt (plus "Continue from where you left off.").
    assert!(prompts[0].starts_with("wait forever"), "{prompts:?}");
}

/// A raw HTTP/1.1 exchange with the fake, without the CLI: runs everywhere.
#[test]
fn the_fake_api_streams_sse_answers_json_and_records_requests() {
    let api = FakeApi::start(|req| {
        if req.last_user_text() == "tool" {
            Reply::tool_use("Read", json!({ "file_path": "/x" }))
        } else {
            Reply::text_deltas(["Hel", "lo"], Duration::ZERO)
        }
    });
    let conn = TcpStream::connect(api.addr()).expect("connect");
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    let mut exchange = |method: &str, path: &str, body: &str| {
        write!(
            conn,
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             X-Claude-Code-Session-Id: s1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        read_response(&mut reader, method == "HEAD")
    };
    let (status, _) = exchange("HEAD", "/", "");
    assert_eq!(status, 200);
    let (status, body) = exchange("GET", "/v1/models", "");
    assert_eq!(status, 404);
    assert!(body.contains("not_found_error"), "{body}");
    let (status, body) = exchange("POST", "/v1/messages/count_tokens", "{}");
    assert_eq!(status, 200);
    assert!(body.contains("input_tokens"), "{body}");
    let prompt = |text: &str, stream: bool| {
        json!({ "model": "m", "stream": stream, "system": [{ "type": "text", "text": "sys" }],
                "messages": [{ "role": "user", "content": [{ "type": "text", "text": text }] },
                             { "role": "system", "content": "inserted by the CLI" }] })
        .to_string()
    };
    let (status, body) = exchange("POST", "/v1/messages?beta=true", &prompt("hi", true));
    assert_eq!(status, 200);
    let events: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(body.contains(r#""stop_reason":"end_turn""#), "{body}");
    let data: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("each SSE data line is JSON"))
        .collect();
    let types: Vec<&str> = data.iter().filter_map(|d| d["type"].as_str()).collect();
    assert_eq!(types, events);
    assert_eq!(data[3]["delta"]["text"], "lo");
    let (_, body) = exchange("POST", "/v1/messages", &prompt("tool", true));
    assert!(body.contains(r#""type":"input_json_delta""#), "{body}");
    assert!(body.contains(r#""partial_json":"{\"file_path\":\"/x\"}""#), "{body}");
    assert!(body.contains(r#""stop_reason":"tool_use""#), "{body}");
    let (status, body) = exchange("POST", "/v1/messages", &prompt("hi", false));
    assert_eq!(status, 200);
    let message: Value = serde_json::from_str(&body).expect("a JSON message");
    assert_eq!(message["content"][0]["text"], "Hello");

    let requests = api.requests();
    assert_eq!(requests.len(), 6, "all on one keep-alive connection");
    let messages = api.messages_requests();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0].last_user_text(), "hi");
    assert_eq!(messages[0].system, "sys");
    assert_eq!(messages[0].session_id.as_deref(), Some("s1"));
    assert_eq!(messages[0].conversation().count(), 1);
}

/// Errors come back as Anthropic-shaped JSON; a hung answer does not keep the fake from stopping.
#[test]
fn the_fake_api_answers_errors_and_stops_while_a_request_hangs() {
    let api = FakeApi::start(|req| match req.last_user_text().as_str() {
        "hang" => Reply::Hang,
        _ => Reply::error(429),
    });
    let body = |text: &str| {
        json!({ "model": "m", "stream": true,
                "messages": [{ "role": "user", "content": text }] })
        .to_string()
    };
    let post = |text: &str| {
        let body = body(text);
        let mut conn = TcpStream::connect(api.addr()).expect("connect");
        write!(
            conn,
            "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        conn
    };
    let conn = post("please");
    let (status, text) = read_response(&mut BufReader::new(conn), false);
    assert_eq!(status, 429);
    let error: Value = serde_json::from_str(&text).expect("JSON error body");
    assert_eq!(error["error"]["type"], "rate_limit_error");

    let hung = post("hang");
    assert!(api.wait_for_messages_requests(2, Duration::from_secs(10)));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(api);
        let _ = done_tx.send(());
    });
    assert!(done_rx.recv_timeout(Duration::from_secs(10)).is_ok(), "drop did not return");
    // The hung request's connection was closed without an answer.
    let mut rest = Vec::new();
    let _ = BufReader::new(hung).read_to_end(&mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}

/// Reads one response: (status, body), with chunked or Content-Length bodies.
fn read_response(reader: &mut impl BufRead, head: bool) -> (u16, String) {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    let (mut chunked, mut len) = (false, 0usize);
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        chunked |= l == "transfer-encoding: chunked";
        if let Some(v) = l.strip_prefix("content-length: ") {
            len = v.parse().expect("length");
        }
    }
    let mut body = Vec::new();
    if head {
    } else if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("hex size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(len, 0);
        reader.read_exact(&mut body).expect("body");
    }
    (status, String::from_utf8(body).expect("utf-8 body"))
}

fn run_raw(claude: &Path, sandbox: &Sandbox, api: &FakeApi, args: &[&str]) -> PtyRun {
    let mut argv = vec!["-p", "--output-format", "stream-json", "--verbose"];
    argv.extend_from_slice(args);
    let env = offline_env(&api.base_url(), &sandbox.home());
    run_in_pty(claude, &argv, &sandbox.work(), &env, TURN_TIMEOUT)
        .unwrap_or_else(|e| panic!("running claude {argv:?}: {e}"))
}

/// Records the raw PTY output of each scenario into `tests/fixtures/cli-2.1.197/` (see the
/// README there). Byte-exact: `\r\n` line ends, stderr text and the exit escape sequences.
#[test]
#[ignore = "rewrites tests/fixtures/cli-2.1.197; run by hand with `cargo test --test real_cli -- --ignored record_fixtures`"]
fn record_fixtures() {
    let Some(claude) = claude_or_skip("record_fixtures") else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cli-2.1.197");
    let api = FakeApi::start(script());
    let sandbox = Sandbox::new();
    let session = uuid();
    let unknown = uuid();
    let partial_api = FakeApi::start(|_| {
        Reply::text_deltas(["Streaming ", "in ", "four ", "deltas."], Duration::from_millis(20))
    });
    let scenarios: Vec<(&str, &FakeApi, Vec<&str>)> = vec![
        ("turn", &api, vec!["--session-id", &session, "--", "remember banana"]),
        ("resume", &api, vec!["--resume", &session, "--", "what word?"]),
        ("turn-partial", &partial_api, vec!["--include-partial-messages", "--", "stream please"]),
        (
            "tool-call",
            &api,
            vec![
                "--include-partial-messages",
                "--allowedTools",
                "Bash(touch:*)",
                "--",
                "run: touch made.txt",
            ],
        ),
        ("permission-denial", &api, vec!["--", "run: touch denied.txt"]),
        ("unknown-session", &api, vec!["--resume", &unknown, "--", "hello?"]),
        ("bypass-refused", &api, vec!["--permission-mode", "bypassPermissions", "--", "hi"]),
        ("api-retry", &api, vec!["--", "fail 429 500"]),
        ("api-error-400", &api, vec!["--", "fail 400"]),
        ("max-turns", &api, vec!["--max-turns", "1", "--", "run: echo hi"]),
    ];
    // `--permission-prompt-tool` through a stand-in approval server (needs python3).
    let mcp = |decision: &str| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/mcp_approve.py");
        json!({ "mcpServers": { "agentmux": {
            "command": "python3", "args": [script.display().to_string(), decision] } } })
        .to_string()
    };
    let (allow, deny) = (mcp("allow"), mcp("deny"));
    let broken =
        json!({ "mcpServers": { "agentmux": { "command": "/nonexistent/mcp" } } }).to_string();
    let prompt_tool = "mcp__agentmux__approve";
    let mut scenarios = scenarios;
    if std::process::Command::new("python3").arg("--version").output().is_ok() {
        scenarios.extend([
            (
                "mcp-approval-allow",
                &api,
                vec![
                    "--mcp-config",
                    &allow,
                    "--permission-prompt-tool",
                    prompt_tool,
                    "--",
                    "run: touch approved.txt",
                ],
            ),
            (
                "mcp-approval-deny",
                &api,
                vec![
                    "--mcp-config",
                    &deny,
                    "--permission-prompt-tool",
                    prompt_tool,
                    "--",
                    "run: touch refused.txt",
                ],
            ),
        ]);
    } else {
        eprintln!("python3 not found: the mcp-approval-* fixtures are not recorded");
    }
    scenarios.push((
        "mcp-approval-unreachable",
        &api,
        vec![
            "--mcp-config",
            &broken,
            "--permission-prompt-tool",
            prompt_tool,
            "--",
            "run: touch x.txt",
        ],
    ));
    for (name, api, args) in scenarios {
        let run = run_raw(&claude, &sandbox, api, &args);
        let path = dir.join(format!("{name}.ndjson"));
        std::fs::write(&path, &run.output).expect("write fixture");
        eprintln!("{name}: exit {:?}, {} bytes", run.exit_code, run.output.len());
    }
}
