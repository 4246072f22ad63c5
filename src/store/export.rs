//! An agent's transcript as Markdown: prompts, assistant text, tool calls one line each, results.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use serde_json::Value;

use super::log::{AgentLog, EndStatus, Record};
use crate::agent::event::{cut_by_interrupt, is_diagnostic};
use crate::agent::turn::Progress;

/// Renders `log` as Markdown under the heading `title`.
pub fn export_markdown(title: &str, log: &AgentLog) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {title}\n");
    let denied = denied_calls(log);
    let interrupted = interrupted_turns(log);
    for (ts, turn, record) in log.iter() {
        let progress = interrupted.get(&turn).copied();
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
                    EndStatus::Ok => "done",
                    EndStatus::Error => "failed",
                    EndStatus::Interrupted => &progress.unwrap_or_default().interrupted(),
                    EndStatus::RateLimited => "rate-limited",
                    EndStatus::Lost => "lost (agentmux stopped while it ran)",
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
                    event(&mut md, &v, &denied, progress.is_some());
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

/// The turns that ended interrupted, with what each had done: its own tool calls that got a
/// result of the tool's, and those the interrupt cut off (no result, or the CLI's word for
/// the cut).
fn interrupted_turns(log: &AgentLog) -> HashMap<u64, Progress> {
    let mut calls: HashMap<u64, Vec<String>> = HashMap::new();
    let mut answered: HashSet<String> = HashSet::new();
    let mut ended = HashSet::new();
    for (_, turn, record) in log.iter() {
        let line = match record {
            Record::TurnEnded(end) if end.status == EndStatus::Interrupted => {
                ended.insert(turn);
                continue;
            }
            Record::Event(line) => line,
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if v.get("parent_tool_use_id").is_some_and(|p| !p.is_null()) {
            continue;
        }
        let blocks = v.pointer("/message/content").and_then(Value::as_array);
        for b in blocks.into_iter().flatten() {
            let id = b.get("id").or_else(|| b.get("tool_use_id")).and_then(Value::as_str);
            let Some(id) = id else { continue };
            match b.get("type").and_then(Value::as_str) {
                Some("tool_use") => calls.entry(turn).or_default().push(id.to_string()),
                Some("tool_result") if !cut_by_interrupt(&flatten_content(b.get("content"))) => {
                    answered.insert(id.to_string());
                }
                _ => {}
            }
        }
    }
    ended
        .into_iter()
        .map(|turn| {
            let ids = calls.get(&turn).map(Vec::as_slice).unwrap_or_default();
            let done = ids.iter().filter(|id| answered.contains(*id)).count();
            (turn, Progress { done, cut: ids.len() - done })
        })
        .collect()
}

/// One logged event as Markdown; `interrupted`: its turn was (the CLI's errors then only say
/// so, in its own internal words).
fn event(md: &mut String, v: &Value, denied: &HashSet<String>, interrupted: bool) {
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
            let before = md.len();
            for b in blocks() {
                if b.get("type").and_then(Value::as_str) == Some("tool_result") {
                    let text = flatten_content(b.get("content"));
                    let lines = text.lines().count();
                    let is_error = b.get("is_error").and_then(Value::as_bool).unwrap_or(false);
                    let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                    let cut = interrupted && cut_by_interrupt(&text);
                    if cut {
                        let _ = writeln!(md, "  - interrupted");
                        continue;
                    }
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
            // A user line of text only (the CLI's interrupt marker) adds nothing.
            if md.len() > before {
                md.push('\n');
            }
        }
        Some("result") => {
            let subtype = match v.get("subtype").and_then(Value::as_str) {
                _ if interrupted => "interrupted",
                Some(s) => s,
                None => "result",
            };
            let _ = write!(md, "**Result** ({subtype}");
            // The CLI's num_turns counts the model's steps within one of our turns.
            if let Some(n) = v.get("num_turns").and_then(Value::as_u64) {
                let _ = write!(md, ", {n} step{}", if n == 1 { "" } else { "s" });
            }
            if let Some(c) = v.get("total_cost_usd").and_then(Value::as_f64) {
                let _ = write!(md, ", {}", crate::money::usd(c));
            }
            md.push_str(")\n\n");
            let errors = v.get("errors").and_then(Value::as_array).filter(|_| !interrupted);
            for e in errors.into_iter().flatten() {
                if let Some(e) = e.as_str().filter(|e| !is_diagnostic(e)) {
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
        let end = TurnEnd::new(EndStatus::Ok);
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

    /// An interrupted turn says so with what it had done; the CLI's words for the interrupt
    /// (its diagnostic, the MCP server's closed connection) stay out.
    #[test]
    fn an_interrupted_turn_says_what_it_had_done() {
        let read = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"r1","name":"Read","input":{"file_path":"README.md"}}]}}"#;
        let read_ok = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"r1","content":"the readme"}]}}"#;
        let mcp = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"p1","name":"mcp__pw__navigate","input":{"url":"x"}}]}}"#;
        let closed = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"p1","is_error":true,"content":"MCP error -32000: Connection closed"}]}}"#;
        let marker = r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"[Request interrupted by user]"}]},"parent_tool_use_id":null}"#;
        let result = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":2,"total_cost_usd":0,"errors":["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"],"terminal_reason":"aborted_streaming"}"#;
        let end = TurnEnd::new(EndStatus::Interrupted);
        let mut records = vec![Record::Prompt("look"), Record::Event(read), Record::Event(read_ok)];
        records.extend([Record::Event(mcp), Record::Event(closed), Record::Event(marker)]);
        records.extend([Record::Event(result), Record::TurnEnded(&end)]);
        let md = export_markdown("web", &log_of(&records));
        assert!(md.contains("  - result: the readme\n"), "{md}");
        assert!(md.contains("  - interrupted\n\n**Result**"), "{md}");
        assert!(md.contains("**Result** (interrupted, 2 steps, $0.00)"), "{md}");
        assert!(md.contains("_Turn 1 interrupted after 1 tool call, 1 cut off_"), "{md}");
        for raw in ["ede_diagnostic", "MCP error", "error_during_execution", "{"] {
            assert!(!md.contains(raw), "{raw}: {md}");
        }
    }

    /// A failure keeps its errors, less the CLI's diagnostic lines.
    #[test]
    fn a_failed_turn_keeps_its_errors_but_not_the_clis_diagnostics() {
        let result = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":1,"errors":["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null","Error: Request was aborted."]}"#;
        let end = TurnEnd::new(EndStatus::Error);
        let log = log_of(&[Record::Prompt("go"), Record::Event(result), Record::TurnEnded(&end)]);
        let md = export_markdown("web", &log);
        assert!(md.contains("**Result** (error_during_execution, 1 step)"), "{md}");
        assert!(md.contains("- error: Error: Request was aborted.\n"), "{md}");
        assert!(!md.contains("ede_diagnostic"), "{md}");
    }
}
