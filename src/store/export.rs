//! An agent's transcript as Markdown: prompts, assistant text, tool calls one line each, results.

use std::fmt::Write;

use serde_json::Value;

use super::log::{AgentLog, Record, TurnStatus};

/// Renders `log` as Markdown under the heading `title`.
pub fn export_markdown(title: &str, log: &AgentLog) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {title}\n");
    for (ts, turn, record) in log.iter() {
        match record {
            Record::Prompt(p) => {
                let _ = writeln!(md, "## Turn {turn} ({})\n", super::fsutil::utc_minute(ts));
                for line in p.lines() {
                    let _ = writeln!(md, "> {line}");
                }
                md.push('\n');
            }
            Record::TurnStarted(_) => {}
            Record::Text(t) => {
                let t = t.trim();
                if !t.is_empty() {
                    let _ = writeln!(md, "_claude: {}_\n", one_line(t, 200));
                }
            }
            Record::TurnEnded(end) => {
                let status = match end.status {
                    TurnStatus::Ok => "done",
                    TurnStatus::Error => "failed",
                    TurnStatus::Interrupted => "interrupted",
                    TurnStatus::RateLimited => "rate-limited",
                    TurnStatus::Lost => "lost (agentmux stopped while it ran)",
                };
                let _ = write!(md, "_Turn {turn} {status}");
                if let Some(cost) = end.cost_usd {
                    let _ = write!(md, ", {}", crate::money::usd(cost));
                }
                if let Some(code) = end.exit_code.filter(|c| *c != 0) {
                    let _ = write!(md, ", exit code {code}");
                }
                md.push_str("_\n\n");
            }
            Record::Event(line) => {
                if let Ok(v) = serde_json::from_str::<Value>(line) {
                    event(&mut md, &v);
                }
            }
        }
    }
    md
}

fn event(md: &mut String, v: &Value) {
    // Subagents' messages are nested work; the transcript keeps to the agent's own.
    if v.get("parent_tool_use_id").is_some_and(|p| !p.is_null()) {
        return;
    }
    let blocks = || v.pointer("/message/content").and_then(Value::as_array).into_iter().flatten();
    match v.get("type").and_then(Value::as_str) {
        Some("assistant") => {
            for b in blocks() {
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = b.get("text").and_then(Value::as_str).unwrap_or("").trim();
                        if !text.is_empty() {
                            let _ = writeln!(md, "{text}\n");
                        }
                    }
                    Some("tool_use") => {
                        let name = b.get("name").and_then(Value::as_str).unwrap_or("tool");
                        let input = b.get("input").cloned().unwrap_or(Value::Null);
                        let _ = writeln!(md, "- **{name}** `{}`", tool_summary(&input));
                    }
                    _ => {}
                }
            }
        }
        Some("user") => {
            for b in blocks() {
                if b.get("type").and_then(Value::as_str) == Some("tool_result") {
                    let text = flatten_content(b.get("content"));
                    let lines = text.lines().count();
                    let is_error = b.get("is_error").and_then(Value::as_bool).unwrap_or(false);
                    let label = if is_error { "error" } else { "result" };
                    let more =
                        if lines > 1 { format!(" (+{} lines)", lines - 1) } else { String::new() };
                    let first = text.lines().next().unwrap_or("").trim();
                    let _ = writeln!(md, "  - {label}: {}{more}", one_line(first, 160));
                }
            }
            md.push('\n');
        }
        Some("result") => {
            let subtype = v.get("subtype").and_then(Value::as_str).unwrap_or("result");
            let _ = write!(md, "**Result** ({subtype}");
            if let Some(n) = v.get("num_turns").and_then(Value::as_u64) {
                let _ = write!(md, ", {n} turns");
            }
            if let Some(c) = v.get("total_cost_usd").and_then(Value::as_f64) {
                let _ = write!(md, ", {}", crate::money::usd(c));
            }
            md.push_str(")\n\n");
            for e in v.get("errors").and_then(Value::as_array).into_iter().flatten() {
                if let Some(e) = e.as_str() {
                    let _ = writeln!(md, "- error: {}", one_line(e, 200));
                }
            }
        }
        _ => {}
    }
}

/// The part of a tool's input a reader needs: the command, the file, the pattern, ...
fn tool_summary(input: &Value) -> String {
    for key in ["command", "file_path", "path", "pattern", "url", "query", "description", "prompt"]
    {
        if let Some(s) = input.get(key).and_then(Value::as_str) {
            return one_line(s, 120);
        }
    }
    one_line(&input.to_string(), 120)
}

fn flatten_content(c: Option<&Value>) -> String {
    match c {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
    let flat = flat.replace('`', "'");
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}...")
    } else {
        flat
    }
}
