//! The real Claude Code CLI (2.1.197) against a loopback stand-in of the Messages API.
//!
//! Needs the CLI (see `support::cli::find_claude`); without it these tests print a skip note and
//! pass, except in CI where its absence fails them. No request leaves 127.0.0.1.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

fn run(claude: &Path, sandbox: &Sandbox, api: &FakeApi, args: &[&str]) -> PtyRun {
    let mut argv = vec!["-p", "--output-format", "stream-json", "--verbose"];
    argv.extend_from_slice(args);
    run_in_pty(
        claude,
        &argv,
        &sandbox.work(),
        &offline_env(&api.base_url(), &sandbox.home()),
        TURN_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("running claude {argv:?}: {e}"))
}

fn result_of(run: &PtyRun) -> Value {
    run.json_lines()
        .into_iter()
        .find(|v| v["type"] == "result")
        .unwrap_or_else(|| panic!("no result line in:\n{}", run.text()))
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[test]
fn a_turn_streams_text_and_a_resume_sees_the_first_turn() {
    let Some(claude) = claude_or_skip("a_turn_streams_text_and_a_resume_sees_the_first_turn")
    else {
        return;
    };
    let api = FakeApi::start(script());
    let sandbox = Sandbox::new();
    let session = uuid();
    let first = run(&claude, &sandbox, &api, &["--session-id", &session, "--", "remember banana"]);
    assert_eq!(first.exit_code, Some(0), "{}", first.text());
    let result = result_of(&first);
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["session_id"], session.as_str());
    assert_eq!(result["result"], "You said: remember banana. Prompts so far: 1.");

    let second = run(&claude, &sandbox, &api, &["--resume", &session, "--", "what word?"]);
    assert_eq!(second.exit_code, Some(0), "{}", second.text());
    assert_eq!(result_of(&second)["result"], "You said: what word?. Prompts so far: 2.");
    let requests = api.messages_requests();
    let last = requests.last().expect("a request");
    assert_eq!(last.user_texts(), ["remember banana", "what word?"]);
    assert_eq!(last.assistant_texts(), ["You said: remember banana. Prompts so far: 1."]);
    assert_eq!(last.session_id.as_deref(), Some(session.as_str()));
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

fn tool_results(run: &PtyRun) -> Vec<Value> {
    run.json_lines()
        .into_iter()
        .filter(|v| v["type"] == "user")
        .flat_map(|v| v["message"]["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_result")
        .collect()
}

#[test]
fn an_allowed_tool_call_runs_and_its_result_goes_back_to_the_api() {
    let Some(claude) =
        claude_or_skip("an_allowed_tool_call_runs_and_its_result_goes_back_to_the_api")
    else {
        return;
    };
    let api = FakeApi::start(script());
    let sandbox = Sandbox::new();
    // `touch` is refused in the default mode unless a rule allows it.
    let run = run(
        &claude,
        &sandbox,
        &api,
        &["--allowedTools", "Bash(touch:*)", "--", "run: touch made.txt"],
    );
    assert_eq!(run.exit_code, Some(0), "{}", run.text());
    assert!(sandbox.work().join("made.txt").exists(), "the Bash call ran in the cwd");
    let results = tool_results(&run);
    assert_eq!(results.len(), 1, "{}", run.text());
    assert_eq!(results[0]["is_error"], false);
    let result = result_of(&run);
    assert_eq!(result["num_turns"], 2);
    assert_eq!(result["permission_denials"], json!([]));
    let requests = api.messages_requests();
    assert_eq!(requests.len(), 2);
    let sent = requests[1].tool_results();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].is_error);
    assert!(sent[0].tool_use_id.starts_with("toolu_fake_"));
}

#[test]
fn a_tool_without_permission_is_denied_and_listed() {
    let Some(claude) = claude_or_skip("a_tool_without_permission_is_denied_and_listed") else {
        return;
    };
    let api = FakeApi::start(script());
    let sandbox = Sandbox::new();
    let run = run(&claude, &sandbox, &api, &["--", "run: touch denied.txt"]);
    assert_eq!(run.exit_code, Some(0), "{}", run.text());
    assert!(!sandbox.work().join("denied.txt").exists());
    let results = tool_results(&run);
    assert_eq!(results.len(), 1, "{}", run.text());
    assert_eq!(results[0]["is_error"], true);
    let result = result_of(&run);
    assert_eq!(result["subtype"], "success");
    let denials = result["permission_denials"].as_array().cloned().unwrap_or_default();
    assert_eq!(denials.len(), 1, "{result}");
    assert_eq!(denials[0]["tool_name"], "Bash");
    assert_eq!(denials[0]["tool_input"]["command"], "touch denied.txt");
    assert!(api.messages_requests()[1].tool_results()[0].is_error);
}

#[test]
fn an_unknown_session_id_fails_with_the_reason() {
    let Some(claude) = claude_or_skip("an_unknown_session_id_fails_with_the_reason") else {
        return;
    };
    let api = FakeApi::start(script());
    let sandbox = Sandbox::new();
    let unknown = uuid();
    let run = run(&claude, &sandbox, &api, &["--resume", &unknown, "--", "hello?"]);
    assert_eq!(run.exit_code, Some(1), "{}", run.text());
    let expected = format!("No conversation found with session ID: {unknown}");
    let result = result_of(&run);
    assert_eq!(result["subtype"], "error_during_execution");
    assert_eq!(result["is_error"], true);
    assert_eq!(result["errors"], json!([expected]));
    assert!(run.text().starts_with(&format!("{expected}\r\n")), "{}", run.text());
    assert!(api.messages_requests().is_empty());
}

#[test]
fn bypass_permissions_as_root_is_refused_in_plain_text() {
    let Some(claude) = claude_or_skip("bypass_permissions_as_root_is_refused_in_plain_text") else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED bypass_permissions_as_root_is_refused_in_plain_text: not root");
        return;
    }
    let api = FakeApi::start(script());
    let sandbox = Sandbox::new();
    let run = run(&claude, &sandbox, &api, &["--permission-mode", "bypassPermissions", "--", "hi"]);
    assert_eq!(run.exit_code, Some(1), "{}", run.text());
    assert!(
        run.text().contains("cannot be used with root/sudo privileges for security reasons"),
        "{}",
        run.text()
    );
    assert!(run.json_lines().is_empty());
    assert!(api.messages_requests().is_empty());
}

#[test]
fn api_errors_are_retried_with_api_retry_events() {
    let Some(claude) = claude_or_skip("api_errors_are_retried_with_api_retry_events") else {
        return;
    };
    let api = FakeApi::start(script());
    let sandbox = Sandbox::new();
    let run = run(&claude, &sandbox, &api, &["--", "fail 429 500"]);
    assert_eq!(run.exit_code, Some(0), "{}", run.text());
    let retries: Vec<Value> = run
        .json_lines()
        .into_iter()
        .filter(|v| v["type"] == "system" && v["subtype"] == "api_retry")
        .collect();
    let statuses: Vec<&Value> = retries.iter().map(|v| &v["error_status"]).collect();
    assert_eq!(statuses, [&json!(429), &json!(500)], "{}", run.text());
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(result_of(&run)["subtype"], "success");
    assert_eq!(api.messages_requests().len(), 3);
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
        let run = run(&claude, &sandbox, api, &args);
        let path = dir.join(format!("{name}.ndjson"));
        std::fs::write(&path, &run.output).expect("write fixture");
        eprintln!("{name}: exit {:?}, {} bytes", run.exit_code, run.output.len());
    }
}
