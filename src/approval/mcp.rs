//! `agentmux __mcp-approve`: the MCP server (JSON-RPC 2.0, one message a line on stdio) the CLI
//! asks through `--permission-prompt-tool mcp__agentmux__approve`.
//!
//! It offers one tool, `approve` (`tool_name`, `input`, `tool_use_id`). A call is forwarded as an
//! `approve` request over the control socket named by `AGENTMUX_SOCKET`, for the agent named by
//! `AGENTMUX_AGENT`, and the running agentmux's decision becomes the tool's text result:
//! `{"behavior":"allow","updatedInput":...}` or `{"behavior":"deny","message":"..."}` (measured
//! with CLI 2.1.197, see `tests/support/fake_api.rs`). When agentmux cannot be asked (no socket,
//! nobody listening, the connection closed while waiting) the call is denied with a message that
//! says why: the agent's turn goes on instead of hanging.
//!
//! Blocking std I/O: each call waits on its own thread (the user may take minutes, and the CLI may
//! ask about several calls at once or ping meanwhile); answers share stdout under a lock, one line
//! each. When stdin ends the CLI is gone: the process exits, which closes the control connections,
//! and agentmux withdraws the requests still shown.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::control::client::{Client, ClientError, ENV_AGENT, ENV_APPROVAL_SECRET, ENV_SOCKET};
use crate::control::proto::{Answer, Behavior, Request};

/// The MCP revision we answer with when the client names none.
const DEFAULT_PROTOCOL_VERSION: &str = "2024-11-05";

// JSON-RPC 2.0 error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// The approval tool's arguments, as the CLI sends them.
#[derive(Clone, Debug, PartialEq)]
pub struct ApproveArgs {
    pub tool_name: String,
    pub input: Value,
    pub tool_use_id: Option<String>,
}

/// What the CLI is told.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Allow { updated_input: Value },
    Deny { message: String },
}

impl Verdict {
    /// The tool result's text, in the shape the CLI obeys.
    pub fn to_text(&self) -> String {
        let v = match self {
            Verdict::Allow { updated_input } => {
                json!({"behavior": "allow", "updatedInput": updated_input})
            }
            Verdict::Deny { message } => json!({"behavior": "deny", "message": message}),
        };
        v.to_string()
    }
}

/// Asks the running agentmux about one call.
#[derive(Clone, Debug)]
pub struct Forwarder {
    pub socket: Option<PathBuf>,
    pub agent: Option<String>,
    /// The turn's approval secret, sent with every request.
    pub secret: Option<String>,
}

impl Forwarder {
    /// From `AGENTMUX_SOCKET` and `AGENTMUX_AGENT`.
    pub fn from_env() -> Forwarder {
        let non_empty = |s: &String| !s.is_empty();
        Forwarder {
            socket: std::env::var_os(ENV_SOCKET).filter(|s| !s.is_empty()).map(PathBuf::from),
            agent: std::env::var(ENV_AGENT).ok().filter(non_empty),
            secret: std::env::var(ENV_APPROVAL_SECRET).ok().filter(non_empty),
        }
    }

    /// Forward the call and wait for the decision; every failure is a denial saying why.
    pub fn decide(&self, args: &ApproveArgs) -> Verdict {
        let deny = |message: String| Verdict::Deny { message };
        let Some(socket) = &self.socket else {
            return deny(format!(
                "agentmux could not ask the user: {ENV_SOCKET} is not set (this approval server \
                 runs outside agentmux), so {} was not allowed",
                args.tool_name
            ));
        };
        let Some(agent) = &self.agent else {
            return deny(format!(
                "agentmux could not ask the user: {ENV_AGENT} is not set, so the asking agent is \
                 unknown and {} was not allowed",
                args.tool_name
            ));
        };
        let asked = Client::connect(socket, Some(agent.clone())).and_then(|mut c| {
            c.request(Request::Approve {
                agent: agent.clone(),
                tool_name: args.tool_name.clone(),
                input: args.input.clone(),
                tool_use_id: args.tool_use_id.clone(),
                secret: self.secret.clone(),
            })
        });
        match asked {
            Ok(Answer::Decision { behavior: Behavior::Allow, updated_input, .. }) => {
                Verdict::Allow {
                    updated_input: updated_input.unwrap_or_else(|| args.input.clone()),
                }
            }
            Ok(Answer::Decision { message, .. }) => deny(
                message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| format!("The user denied {}.", args.tool_name)),
            ),
            Ok(Answer::Error { message, .. }) => {
                deny(format!("agentmux refused the approval request: {message}"))
            }
            Ok(other) => deny(format!("agentmux answered the approval request with {other:?}")),
            Err(e @ (ClientError::NotRunning(_) | ClientError::NoAnswer)) => {
                deny(format!("agentmux could not ask the user ({e}), so it was not allowed"))
            }
            Err(e) => deny(format!("agentmux could not ask the user: {e}")),
        }
    }
}

/// The subcommand: serve on stdin/stdout with the environment's socket and agent.
pub fn main() -> ExitCode {
    let forwarder = Arc::new(Forwarder::from_env());
    let out: Shared = Arc::new(Mutex::new(Box::new(io::stdout())));
    match serve(io::stdin().lock(), out, forwarder) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // stderr is the CLI's log of this server; stdout is the protocol.
            eprintln!("agentmux {}: {e}", super::MCP_SUBCOMMAND);
            ExitCode::FAILURE
        }
    }
}

type Shared = Arc<Mutex<Box<dyn Write + Send>>>;

fn write_message(out: &Shared, msg: &Value) {
    let mut line = msg.to_string();
    line.push('\n');
    // A poisoned lock only means another answer's thread panicked mid-write; keep answering.
    let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
    // The CLI went away: nothing to tell anyone.
    let _ = w.write_all(line.as_bytes()).and_then(|()| w.flush());
}

fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// Serve until `input` ends. Tool calls are answered from their own threads.
pub fn serve(input: impl BufRead, out: Shared, forwarder: Arc<Forwarder>) -> io::Result<()> {
    for line in split_lines(input) {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match handle_line(&line) {
            Handled::Reply(msg) => write_message(&out, &msg),
            Handled::Nothing => {}
            Handled::Call { id, args } => {
                let (out, forwarder) = (out.clone(), forwarder.clone());
                std::thread::spawn(move || {
                    let verdict = forwarder.decide(&args);
                    write_message(&out, &result(id, tool_text(&verdict)));
                });
            }
        }
    }
    Ok(())
}

/// Lines as lossy UTF-8 (a stray byte is the message's problem, not the server's).
fn split_lines(mut input: impl BufRead) -> impl Iterator<Item = io::Result<String>> {
    std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => Some(Ok(String::from_utf8_lossy(&buf).into_owned())),
            Err(e) => Some(Err(e)),
        }
    })
}

fn tool_text(verdict: &Verdict) -> Value {
    json!({"content": [{"type": "text", "text": verdict.to_text()}]})
}

/// What one incoming line asks for.
#[derive(Debug, PartialEq)]
pub enum Handled {
    Reply(Value),
    /// A notification, or a response to something we never asked: no answer.
    Nothing,
    /// A `tools/call` of `approve`: decided off the reading thread.
    Call {
        id: Value,
        args: ApproveArgs,
    },
}

/// Answer one JSON-RPC line (everything but the waiting part of a tool call).
pub fn handle_line(line: &str) -> Handled {
    let msg: Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(e) => {
            return Handled::Reply(error(Value::Null, PARSE_ERROR, format!("parse error: {e}")))
        }
    };
    let Some(obj) = msg.as_object() else {
        return Handled::Reply(error(Value::Null, INVALID_REQUEST, "a message must be an object"));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        // A response (we send no requests) or junk with an id: only the latter gets an error.
        if obj.contains_key("result") || obj.contains_key("error") || id.is_null() {
            return Handled::Nothing;
        }
        return Handled::Reply(error(id, INVALID_REQUEST, "no method"));
    };
    if !obj.contains_key("id") {
        // Notifications (notifications/initialized, cancelled...) want no answer.
        return Handled::Nothing;
    }
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    match method {
        "initialize" => {
            let version = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_PROTOCOL_VERSION)
                .to_string();
            Handled::Reply(result(
                id,
                json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": super::SERVER_NAME, "version": env!("CARGO_PKG_VERSION")},
                }),
            ))
        }
        "ping" => Handled::Reply(result(id, json!({}))),
        "tools/list" => Handled::Reply(result(id, json!({"tools": [tool_description()]}))),
        "tools/call" => match call_args(&params) {
            Ok(args) => Handled::Call { id, args },
            Err(why) => Handled::Reply(error(id, INVALID_PARAMS, why)),
        },
        other => Handled::Reply(error(id, METHOD_NOT_FOUND, format!("method not found: {other}"))),
    }
}

fn tool_description() -> Value {
    json!({
        "name": super::TOOL_NAME,
        "description": "Ask the agentmux user whether a tool call may run",
        "inputSchema": {
            "type": "object",
            "properties": {
                "tool_name": {"type": "string", "description": "the tool that wants to run"},
                "input": {"type": "object", "description": "its input"},
                "tool_use_id": {"type": "string", "description": "the tool call's id"},
            },
            "required": ["tool_name", "input"],
        },
    })
}

fn call_args(params: &Value) -> Result<ApproveArgs, String> {
    let name = params.get("name").and_then(Value::as_str).unwrap_or_default();
    if name != super::TOOL_NAME {
        return Err(format!("unknown tool {name:?} (this server has only {:?})", super::TOOL_NAME));
    }
    let args = params.get("arguments").cloned().unwrap_or(Value::Null);
    let tool_name = args
        .get("tool_name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("missing tool_name")?
        .to_string();
    Ok(ApproveArgs {
        tool_name,
        input: args.get("input").cloned().unwrap_or_else(|| json!({})),
        tool_use_id: args.get("tool_use_id").and_then(Value::as_str).map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(line: &str) -> Value {
        match handle_line(line) {
            Handled::Reply(v) => v,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn initialize_echoes_the_protocol_version() {
        let v = reply(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#,
        );
        assert_eq!(v["id"], 0);
        assert_eq!(v["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(v["result"]["serverInfo"]["name"], "agentmux");
        assert!(v["result"]["capabilities"]["tools"].is_object());
    }

    #[test]
    fn lists_one_tool_with_its_schema() {
        let v = reply(r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#);
        assert_eq!(v["id"], "a");
        let tools = v["result"]["tools"].as_array().cloned().unwrap_or_default();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0]["name"], "approve");
        let props = &tools[0]["inputSchema"]["properties"];
        for key in ["tool_name", "input", "tool_use_id"] {
            assert!(props.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn notifications_and_responses_get_no_answer() {
        assert_eq!(
            handle_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Handled::Nothing
        );
        assert_eq!(handle_line(r#"{"jsonrpc":"2.0","id":3,"result":{}}"#), Handled::Nothing);
    }

    #[test]
    fn bad_lines_are_errors_not_crashes() {
        assert_eq!(reply("{nope")["error"]["code"], PARSE_ERROR);
        assert_eq!(reply("[1]")["error"]["code"], INVALID_REQUEST);
        assert_eq!(reply(r#"{"id":1}"#)["error"]["code"], INVALID_REQUEST);
        assert_eq!(
            reply(r#"{"id":1,"method":"resources/list"}"#)["error"]["code"],
            METHOD_NOT_FOUND
        );
        let v = reply(r#"{"id":2,"method":"tools/call","params":{"name":"other"}}"#);
        assert_eq!(v["error"]["code"], INVALID_PARAMS);
        let v =
            reply(r#"{"id":2,"method":"tools/call","params":{"name":"approve","arguments":{}}}"#);
        assert_eq!(v["error"]["code"], INVALID_PARAMS);
    }

    #[test]
    fn a_call_is_handed_off_with_its_arguments() {
        let h = handle_line(
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"approve","arguments":{"tool_name":"Bash","input":{"command":"ls"},"tool_use_id":"t1"}}}"#,
        );
        assert_eq!(
            h,
            Handled::Call {
                id: json!(7),
                args: ApproveArgs {
                    tool_name: "Bash".into(),
                    input: json!({"command": "ls"}),
                    tool_use_id: Some("t1".into()),
                },
            }
        );
    }

    #[test]
    fn without_agentmux_the_call_is_denied_with_the_reason() {
        let args = ApproveArgs { tool_name: "Bash".into(), input: json!({}), tool_use_id: None };
        let none = Forwarder { socket: None, agent: Some("w".into()), secret: None };
        match none.decide(&args) {
            Verdict::Deny { message } => assert!(message.contains("AGENTMUX_SOCKET"), "{message}"),
            v => panic!("{v:?}"),
        }
        let dir = std::env::temp_dir().join(format!("agentmux-mcp-{}", std::process::id()));
        let gone = Forwarder {
            socket: Some(dir.join("nobody.sock")),
            agent: Some("w".into()),
            secret: None,
        };
        match gone.decide(&args) {
            Verdict::Deny { message } => {
                assert!(message.contains("no agentmux is running"), "{message}")
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn verdict_texts_are_what_the_cli_obeys() {
        let allow = Verdict::Allow { updated_input: json!({"a": 1}) }.to_text();
        assert_eq!(allow, r#"{"behavior":"allow","updatedInput":{"a":1}}"#);
        let deny = Verdict::Deny { message: "no".into() }.to_text();
        assert_eq!(deny, r#"{"behavior":"deny","message":"no"}"#);
    }
}
