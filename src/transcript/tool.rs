//! One-line summaries of tool calls.

use serde_json::Value;

/// What a collapsed tool call shows after its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolSummary {
    pub text: String,
    /// Lines added and removed, for edits.
    pub added: Option<usize>,
    pub removed: Option<usize>,
}

fn str_field<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

/// Lines in a piece of file content ("" has none, "a" and "a\n" have one).
pub fn count_lines(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.lines().count().max(1)
    }
}

/// The first line, with "…" when more follows.
fn first_line(s: &str) -> String {
    let s = s.trim();
    match s.split_once('\n') {
        Some((first, _)) => format!("{} …", first.trim_end()),
        None => s.to_string(),
    }
}

/// A subagent's events carry its Task/Agent call's id as `parent_tool_use_id`.
pub fn is_subagent_tool(name: &str) -> bool {
    matches!(name, "Task" | "Agent")
}

pub fn summarize(name: &str, input: &Value) -> ToolSummary {
    let text_of = |key: &str| str_field(input, key).map(first_line);
    match name {
        "Bash" => {
            ToolSummary { text: text_of("command").unwrap_or_default(), ..Default::default() }
        }
        "Read" | "LS" => ToolSummary {
            text: text_of("file_path").or_else(|| text_of("path")).unwrap_or_default(),
            ..Default::default()
        },
        "Write" => ToolSummary {
            text: text_of("file_path").unwrap_or_default(),
            added: Some(str_field(input, "content").map_or(0, count_lines)),
            removed: None,
        },
        "Edit" => ToolSummary {
            text: text_of("file_path").unwrap_or_default(),
            added: Some(str_field(input, "new_string").map_or(0, count_lines)),
            removed: Some(str_field(input, "old_string").map_or(0, count_lines)),
        },
        "MultiEdit" => {
            let edits = input.get("edits").and_then(Value::as_array);
            let sum = |key: &str| {
                edits.map_or(0, |es| {
                    es.iter().map(|e| str_field(e, key).map_or(0, count_lines)).sum()
                })
            };
            ToolSummary {
                text: text_of("file_path").unwrap_or_default(),
                added: Some(sum("new_string")),
                removed: Some(sum("old_string")),
            }
        }
        "NotebookEdit" => ToolSummary {
            text: text_of("notebook_path").unwrap_or_default(),
            added: Some(str_field(input, "new_source").map_or(0, count_lines)),
            removed: None,
        },
        "Grep" => {
            let pattern = text_of("pattern").unwrap_or_default();
            let text = match str_field(input, "path") {
                Some(path) => format!("{pattern}  in {path}"),
                None => pattern,
            };
            ToolSummary { text, ..Default::default() }
        }
        "Glob" => {
            ToolSummary { text: text_of("pattern").unwrap_or_default(), ..Default::default() }
        }
        "Task" | "Agent" => {
            let description = text_of("description").unwrap_or_default();
            let text = match str_field(input, "subagent_type") {
                Some(kind) => format!("{description}  ({kind})"),
                None => description,
            };
            ToolSummary { text, ..Default::default() }
        }
        "WebFetch" => {
            ToolSummary { text: text_of("url").unwrap_or_default(), ..Default::default() }
        }
        "WebSearch" => {
            ToolSummary { text: text_of("query").unwrap_or_default(), ..Default::default() }
        }
        "TodoWrite" => {
            let n = input.get("todos").and_then(Value::as_array).map_or(0, Vec::len);
            ToolSummary { text: format!("{n} todos"), ..Default::default() }
        }
        _ => ToolSummary { text: short_input(input), ..Default::default() },
    }
}

/// A compact one-line rendering of any input: `key: value` pairs, strings unquoted.
pub fn short_input(input: &Value) -> String {
    const MAX: usize = 120;
    let mut out = String::new();
    match input {
        Value::Object(map) => {
            for (k, v) in map {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                match v {
                    Value::String(s) => out.push_str(&first_line(s)),
                    other => out.push_str(&other.to_string()),
                }
                if out.len() > MAX {
                    break;
                }
            }
        }
        Value::Null => {}
        other => out = other.to_string(),
    }
    if out.len() > MAX {
        let mut cut = MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bash_shows_its_command() {
        let s = summarize("Bash", &json!({"command": "ls -la", "description": "List"}));
        assert_eq!(s.text, "ls -la");
        let s = summarize("Bash", &json!({"command": "cd x\nmake"}));
        assert_eq!(s.text, "cd x …");
    }

    #[test]
    fn edits_count_lines_added_and_removed() {
        let s = summarize(
            "Edit",
            &json!({"file_path": "src/a.rs", "old_string": "a\nb", "new_string": "a\nb\nc\n"}),
        );
        assert_eq!((s.text.as_str(), s.added, s.removed), ("src/a.rs", Some(3), Some(2)));
        let s = summarize(
            "MultiEdit",
            &json!({"file_path": "m.rs", "edits": [
                {"old_string": "x", "new_string": "y\nz"},
                {"old_string": "p\nq", "new_string": ""}
            ]}),
        );
        assert_eq!((s.added, s.removed), (Some(2), Some(3)));
        let s = summarize("Write", &json!({"file_path": "w.txt", "content": "1\n2\n3\n"}));
        assert_eq!((s.added, s.removed), (Some(3), None));
    }

    #[test]
    fn search_tools_show_their_pattern() {
        assert_eq!(summarize("Glob", &json!({"pattern": "**/*.rs"})).text, "**/*.rs");
        assert_eq!(
            summarize("Grep", &json!({"pattern": "fn main", "path": "src"})).text,
            "fn main  in src"
        );
    }

    #[test]
    fn task_shows_its_description() {
        let s = summarize(
            "Task",
            &json!({"description": "Find callers", "prompt": "…", "subagent_type": "Explore"}),
        );
        assert_eq!(s.text, "Find callers  (Explore)");
    }

    #[test]
    fn unknown_and_mcp_tools_show_a_short_input() {
        let s = summarize(
            "mcp__context7__resolve-library-id",
            &json!({"libraryName": "tokio", "limit": 3}),
        );
        assert_eq!(s.text, "libraryName: tokio, limit: 3");
        let long = "x".repeat(500);
        assert!(short_input(&json!({ "a": long })).chars().count() <= 122);
    }
}
