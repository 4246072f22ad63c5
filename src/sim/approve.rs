//! The simulated CLI's side of `--permission-prompt-tool mcp__<server>__<tool>`: start the named
//! MCP server from `--mcp-config` (a JSON string or a file) and call its tool with
//! `{tool_name, input, tool_use_id}` as CLI 2.1.197 does, reading `{"behavior":"allow",...}` or
//! `{"behavior":"deny","message":...}` from the text result.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

/// What the permission tool said.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Allow,
    Deny(String),
}

/// A running MCP server with its tool.
pub struct PromptTool {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    tool: String,
    next_id: u64,
}

/// `mcp__<server>__<tool>` split in two.
fn split_tool(name: &str) -> Option<(&str, &str)> {
    name.strip_prefix("mcp__")?.split_once("__")
}

/// The server's entry among the `--mcp-config` values (the last one naming it wins).
fn server_entry(configs: &[String], server: &str) -> Option<Value> {
    configs.iter().rev().find_map(|c| {
        let text = if c.trim_start().starts_with('{') {
            c.clone()
        } else {
            std::fs::read_to_string(c).ok()?
        };
        let v: Value = serde_json::from_str(&text).ok()?;
        v.get("mcpServers")?.get(server).cloned()
    })
}

impl PromptTool {
    /// Start the server and initialize it. The error reads like the real CLI's.
    pub fn start(configs: &[String], prompt_tool: &str) -> Result<PromptTool, String> {
        let not_found = || {
            format!(
                "Error: MCP tool {prompt_tool} (passed via --permission-prompt-tool) not found. \
                 Available MCP tools: none"
            )
        };
        let (server, tool) = split_tool(prompt_tool).ok_or_else(not_found)?;
        let entry = server_entry(configs, server).ok_or_else(not_found)?;
        let command = entry.get("command").and_then(Value::as_str).ok_or_else(not_found)?;
        let mut cmd = Command::new(command);
        for a in entry.get("args").and_then(Value::as_array).into_iter().flatten() {
            cmd.arg(a.as_str().unwrap_or_default());
        }
        for (k, v) in entry.get("env").and_then(Value::as_object).into_iter().flatten() {
            cmd.env(k, v.as_str().unwrap_or_default());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|_| not_found())?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(not_found());
        };
        let mut t = PromptTool {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            tool: tool.to_string(),
            next_id: 0,
        };
        t.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "claude-code", "version": "2.1.197"}}),
        )
        .map_err(|_| not_found())?;
        t.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .map_err(|_| not_found())?;
        Ok(t)
    }

    fn send(&mut self, msg: &Value) -> std::io::Result<()> {
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes())?;
        self.stdin.flush()
    }

    /// One request and its response (other lines are skipped).
    fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .map_err(|e| e.to_string())?;
        loop {
            let mut line = String::new();
            match self.stdout.read_line(&mut line) {
                Ok(0) => return Err("the MCP server closed its output".into()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
            let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
            if v.get("id") == Some(&json!(id)) {
                return match v.get("error") {
                    Some(e) => Err(e.to_string()),
                    None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
        }
    }

    /// Ask about one tool call.
    pub fn ask(&mut self, tool_name: &str, input: &Value, tool_use_id: &str) -> Verdict {
        let tool = self.tool.clone();
        let args = json!({"tool_name": tool_name, "input": input, "tool_use_id": tool_use_id});
        let result = match self.request("tools/call", json!({"name": tool, "arguments": args})) {
            Ok(r) => r,
            Err(e) => return Verdict::Deny(format!("permission prompt tool failed: {e}")),
        };
        let text = result
            .get("content")
            .and_then(|c| c.get(0))
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let decision: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        match decision.get("behavior").and_then(Value::as_str) {
            Some("allow") => Verdict::Allow,
            _ => Verdict::Deny(
                decision
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("Permission denied")
                    .to_string(),
            ),
        }
    }
}

impl Drop for PromptTool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
