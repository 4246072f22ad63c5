//! An agent's transcript as Markdown: prompts, assistant text, tool calls one line each, results.

use std::collections::HashSet;
use std::fmt::Write;

use serde_json::Value;

use super::log::{AgentLog, Record, TurnStatus};

/// Renders `log` as Markdown under the heading `title`.
pub fn export_markdown(title: &str, log: &AgentLog) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {title}\n");
    let denied = denied_calls(log);
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
                    event(&mut md, &v, &denied);
                }
            }
        }
    }
    md
}

/// The tool calls the turns' results list as denied: their results are the user's (or the
/// rule's) words, not the tool's error.
fn denied_calls(log: &AgentLog) -> HashSet<String> {
    let mut ids = HashSet::new();
    for (_, _, record) in log.iter() {
        let Record::Event(line) = record else { continue };
        if !line.contains("permission_denials") {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        let denials = v.get("permission_denials").and_then(Value::as_array);
        for d in denials.into_iter().flatten() {
            if let Some(id) = d.get("tool_use_id").and_then(Value::as_str) {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

fn event(md: &mut String, v: &Value, denied: &HashSet<String>) {
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
                    let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                    let label = if denied.contains(id) {
                        "denied"
                    } else if is_error {
                        "error"
                    } else {
                        "result"
                    };
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
            // The CLI's num_turns counts the model's steps within one of our turns.
            if let Some(n) = v.get("num_turns").and_then(Value::as_u64) {
                let _ = write!(md, ", {n} step{}", if n == 1 { "" } else { "s" });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::log::{format_record, parse_log, TurnEnd};

    fn log_of(records: &[Record<'_>]) -> AgentLog {
        let mut bytes = Vec::new();
        for r in records {
            format_record(&mut bytes, 0, 1, r);
        }
        parse_log(bytes).expect("a log").0
    }

    #[test]
    fn steps_are_steps_and_a_denial_says_the_users_words() {
        let use_ = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"rm a.txt"}}]}}"#;
        let denied = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"no, keep the file"}]}}"#;
        let failed = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t2","is_error":true,"content":"exit 1"}]}}"#;
        let one = r#"{"type":"result","subtype":"success","num_turns":1,"total_cost_usd":0.0002,"permission_denials":[{"tool_name":"Bash","tool_use_id":"t1","tool_input":{}}]}"#;
        let two = r#"{"type":"result","subtype":"success","num_turns":2}"#;
        let end = TurnEnd::new(TurnStatus::Ok);
        let log = log_of(&[
            Record::Prompt("tidy up"),
            Record::Event(use_),
            Record::Event(denied),
            Record::Event(failed),
            Record::Event(one),
            Record::Event(two),
            Record::TurnEnded(&end),
        ]);
        let md = export_markdown("web", &log);
        assert!(md.contains("  - denied: no, keep the file\n"), "{md}");
        assert!(md.contains("  - error: exit 1\n"), "{md}");
        assert!(md.contains("**Result** (success, 1 step, $0.0002)"), "{md}");
        assert!(md.contains("**Result** (success, 2 steps)"), "{md}");
        assert!(!md.contains("turns"), "{md}");
    }
}
