//! Approvals end to end: `agentmux __mcp-approve` spoken to as the CLI does (MCP over stdio)
//! against the real control server and a fake app answering `approve` requests.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use agentmux::control::proto::{Answer, Behavior, Request};
use agentmux::control::server::{ControlCall, ControlServer};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(15);

/// The approval server as a child process, its stdout read line by line on a thread.
struct McpServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std_mpsc::Receiver<String>,
}

impl McpServer {
    fn spawn(socket: Option<&Path>, agent: Option<&str>) -> McpServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentmux"));
        cmd.arg("__mcp-approve")
            .env_remove("AGENTMUX_SOCKET")
            .env_remove("AGENTMUX_AGENT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(s) = socket {
            cmd.env("AGENTMUX_SOCKET", s);
        }
        if let Some(a) = agent {
            cmd.env("AGENTMUX_AGENT", a);
        }
        let mut child = cmd.spawn().expect("spawn agentmux __mcp-approve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        McpServer { child, stdin, lines }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    }

    fn send_json(&mut self, v: Value) {
        self.send(&v.to_string());
    }

    fn next(&self) -> Value {
        let line = self.lines.recv_timeout(TIMEOUT).expect("an answer in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The answer to a `tools/call`: the decision JSON inside its text block.
    fn decision(&self) -> (Value, Value) {
        let v = self.next();
        let text = v["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string();
        assert_eq!(v["result"]["content"][0]["type"], "text", "{v}");
        let decision = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {v}"));
        (v["id"].clone(), decision)
    }

    fn call(&mut self, id: u64, tool: &str, input: Value) {
        self.send_json(json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "approve", "arguments": {
                "tool_name": tool, "input": input, "tool_use_id": format!("toolu_{id}")
            }}
        }));
    }

    /// Close stdin (the CLI went away) and wait for the exit.
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_socket(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ctl.sock")
}

/// The real control server on a runtime of its own; every call comes out of the returned channel.
struct FakeAgentmux {
    _rt: tokio::runtime::Runtime,
    _handle: agentmux::control::ServerHandle,
    calls: std::sync::Mutex<mpsc::Receiver<ControlCall>>,
}

impl FakeAgentmux {
    fn start(path: &Path) -> FakeAgentmux {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, rx) = mpsc::channel(16);
        let server = ControlServer::bind(path).expect("bind");
        let handle = rt.block_on(async { server.serve(tx) }).expect("serve");
        FakeAgentmux { _rt: rt, _handle: handle, calls: std::sync::Mutex::new(rx) }
    }

    fn next_call(&self) -> ControlCall {
        let mut rx = self.calls.lock().expect("lock");
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            match rx.try_recv() {
                Ok(c) => return c,
                Err(mpsc::error::TryRecvError::Empty) => {
                    assert!(std::time::Instant::now() < deadline, "no control call in time");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn speaks_mcp_initialize_list_ping() {
    let mut s = McpServer::spawn(None, None);
    s.send_json(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"claude-code","version":"2.1.197"}}}));
    let init = s.next();
    assert_eq!(init["id"], 0);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "agentmux");
    s.send_json(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    s.send_json(json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}));
    // The notification got no answer: the next line answers id 1.
    let list = s.next();
    assert_eq!(list["id"], 1);
    assert_eq!(list["result"]["tools"][0]["name"], "approve");
    let schema = &list["result"]["tools"][0]["inputSchema"];
    assert_eq!(schema["type"], "object");
    for k in ["tool_name", "input", "tool_use_id"] {
        assert!(schema["properties"].get(k).is_some(), "{k} in {schema}");
    }
    s.send_json(json!({"jsonrpc":"2.0","id":"p","method":"ping"}));
    assert_eq!(s.next(), json!({"jsonrpc":"2.0","id":"p","result":{}}));
    s.send_json(json!({"jsonrpc":"2.0","id":2,"method":"prompts/list"}));
    assert_eq!(s.next()["error"]["code"], -32601);
    assert!(s.finish().success());
}

#[test]
fn malformed_lines_get_errors_and_the_server_goes_on() {
    let mut s = McpServer::spawn(None, None);
    s.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\"");
    assert_eq!(s.next()["error"]["code"], -32700);
    s.send("\u{1}\u{2} garbage \u{fffd}");
    assert_eq!(s.next()["error"]["code"], -32700);
    s.send("42");
    assert_eq!(s.next()["error"]["code"], -32600);
    s.send_json(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"approve"}}));
    let v = s.next();
    assert_eq!((v["id"].clone(), v["error"]["code"].clone()), (json!(3), json!(-32602)));
    s.send(""); // blank lines are skipped
    s.send(&"x".repeat(200_000)); // a huge broken line
    assert_eq!(s.next()["error"]["code"], -32700);
    s.send_json(json!({"jsonrpc":"2.0","id":4,"method":"ping"}));
    assert_eq!(s.next()["id"], 4);
    assert!(s.finish().success());
}

#[test]
fn a_call_is_forwarded_and_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = FakeAgentmux::start(&temp_socket(&dir));
    let mut s = McpServer::spawn(Some(&temp_socket(&dir)), Some("worker"));
    let input = json!({"command": "touch made.txt", "description": "make a file"});
    s.call(5, "Bash", input.clone());
    let call = app.next_call();
    assert_eq!(call.from.as_deref(), Some("worker"));
    assert_eq!(
        call.request,
        Request::Approve {
            agent: "worker".into(),
            tool_name: "Bash".into(),
            input: input.clone(),
            tool_use_id: Some("toolu_5".into()),
        }
    );
    call.answer(Answer::Decision { behavior: Behavior::Allow, updated_input: None, message: None });
    let (id, decision) = s.decision();
    assert_eq!(id, 5);
    assert_eq!(decision, json!({"behavior": "allow", "updatedInput": input}));
}

#[test]
fn a_denial_carries_the_users_message_and_calls_wait_independently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = FakeAgentmux::start(&temp_socket(&dir));
    let mut s = McpServer::spawn(Some(&temp_socket(&dir)), Some("w"));
    s.call(1, "Write", json!({"file_path": "/tmp/x", "content": "hi"}));
    let first = app.next_call();
    // A second call while the first waits, and a ping: both are answered meanwhile.
    s.call(2, "Bash", json!({"command": "rm -rf build"}));
    let second = app.next_call();
    s.send_json(json!({"jsonrpc":"2.0","id":3,"method":"ping"}));
    assert_eq!(s.next()["id"], 3);
    second.answer(Answer::Decision {
        behavior: Behavior::Deny,
        updated_input: None,
        message: Some("not the build dir, use make clean".into()),
    });
    let (id, decision) = s.decision();
    assert_eq!(id, 2);
    assert_eq!(
        decision,
        json!({"behavior": "deny", "message": "not the build dir, use make clean"})
    );
    first.answer(Answer::Decision {
        behavior: Behavior::Allow,
        updated_input: Some(json!({"file_path": "/tmp/y", "content": "hi"})),
        message: None,
    });
    let (id, decision) = s.decision();
    assert_eq!(id, 1);
    assert_eq!(decision["updatedInput"]["file_path"], "/tmp/y");
}

fn denial_message(decision: &Value) -> String {
    assert_eq!(decision["behavior"], "deny", "{decision}");
    decision["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn unreachable_agentmux_is_a_denial_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No socket file at all.
    let mut s = McpServer::spawn(Some(&temp_socket(&dir)), Some("w"));
    s.call(1, "Bash", json!({"command": "make"}));
    let msg = denial_message(&s.decision().1);
    assert!(msg.contains("not running"), "{msg}");
    // A socket file nobody listens on (a crashed agentmux): refused.
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).expect("bind"));
    let mut s = McpServer::spawn(Some(&stale), Some("w"));
    s.call(2, "Bash", json!({"command": "make"}));
    let msg = denial_message(&s.decision().1);
    assert!(msg.contains("not running"), "{msg}");
    // No AGENTMUX_SOCKET: run outside agentmux.
    let mut s = McpServer::spawn(None, Some("w"));
    s.call(3, "Bash", json!({"command": "make"}));
    let msg = denial_message(&s.decision().1);
    assert!(msg.contains("AGENTMUX_SOCKET"), "{msg}");
}

#[test]
fn agentmux_going_away_mid_wait_is_a_denial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_socket(&dir);
    let listener = UnixListener::bind(&path).expect("bind");
    let mut s = McpServer::spawn(Some(&path), Some("w"));
    s.call(1, "Bash", json!({"command": "make"}));
    // Read the request, then close without answering, as a quitting agentmux does.
    let (conn, _) = listener.accept().expect("accept");
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line).expect("read");
    assert!(line.contains("\"cmd\":\"approve\""), "{line}");
    drop(conn);
    let msg = denial_message(&s.decision().1);
    assert!(msg.contains("closed the connection"), "{msg}");
    // An app that drops the request unanswered is a denial too.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let app = FakeAgentmux::start(&temp_socket(&dir2));
    let mut s = McpServer::spawn(Some(&temp_socket(&dir2)), Some("w"));
    s.call(2, "Bash", json!({"command": "make"}));
    drop(app.next_call());
    let msg = denial_message(&s.decision().1);
    assert!(msg.contains("refused"), "{msg}");
}

#[test]
fn the_server_exits_when_the_cli_goes_away_even_while_a_call_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = FakeAgentmux::start(&temp_socket(&dir));
    let mut s = McpServer::spawn(Some(&temp_socket(&dir)), Some("w"));
    s.call(1, "Bash", json!({"command": "make"}));
    let call = app.next_call();
    assert!(s.finish().success());
    // Its connection closed with it: the app sees the request withdrawn.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !call.client_gone() {
        assert!(std::time::Instant::now() < deadline, "the request was not withdrawn");
        std::thread::sleep(Duration::from_millis(10));
    }
}
