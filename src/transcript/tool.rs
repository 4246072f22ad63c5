//! One-line summaries of tool calls.

use serde_json::Value;

/// What a collapsed tool call shows after its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolSummary {
    pub text: String,
    /// Lines added and removed, for edits.
    pub added: Option<usize>,
    pub removed: Option<usize>,
    /// `text` is a file path: cut from the left so the file name stays visible.
    pub is_path: bool,
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

/// `path` relative to `cwd` when it lies inside it ("/w/a/src/x.rs" in "/w/a" -> "src/x.rs").
pub fn relative_path<'a>(path: &'a str, cwd: Option<&str>) -> &'a str {
    let Some(cwd) = cwd.map(|c| c.trim_end_matches('/')).filter(|c| !c.is_empty()) else {
        return path;
    };
    match path.strip_prefix(cwd) {
        Some(rest) if rest.starts_with('/') && rest.len() > 1 => &rest[1..],
        Some("") | Some("/") => ".",
        _ => path,
    }
}

/// The summary of a call to `name` with `input`; paths inside `cwd` (the agent's directory)
/// are shown relative to it.
pub fn summarize(name: &str, input: &Value, cwd: Option<&str>) -> ToolSummary {
    let text_of = |key: &str| str_field(input, key).map(first_line);
    let path_of = |key: &str| str_field(input, key).map(|p| relative_path(p, cwd).to_string());
    let mut summary = summarize_raw(name, input, &text_of, &path_of);
    summary.is_path =
        matches!(name, "Read" | "LS" | "Write" | "Edit" | "MultiEdit" | "NotebookEdit");
    summary
}

fn summarize_raw(
    name: &str,
    input: &Value,
    text_of: &dyn Fn(&str) -> Option<String>,
    path_of: &dyn Fn(&str) -> Option<String>,
) -> ToolSummary {
    match name {
        "Bash" => {
            ToolSummary { text: text_of("command").unwrap_or_default(), ..Default::default() }
        }
        "Read" | "LS" => ToolSummary {
            text: path_of("file_path").or_else(|| path_of("path")).unwrap_or_default(),
            ..Default::default()
        },
        "Write" => ToolSummary {
            text: path_of("file_path").unwrap_or_default(),
            added: Some(str_field(input, "content").map_or(0, count_lines)),
            ..Default::default()
        },
        "Edit" => ToolSummary {
            text: path_of("file_path").unwrap_or_default(),
            added: Some(str_field(input, "new_string").map_or(0, count_lines)),
            removed: Some(str_field(input, "old_string").map_or(0, count_lines)),
            ..Default::default()
        },
        "MultiEdit" => {
            let edits = input.get("edits").and_then(Value::as_array);
            let sum = |key: &str| {
                edits.map_or(0, |es| {
                    es.iter().map(|e| str_field(e, key).map_or(0, count_lines)).sum()
                })
            };
            ToolSummary {
                text: path_of("file_path").unwrap_or_default(),
                added: Some(sum("new_string")),
                removed: Some(sum("old_string")),
                ..Default::default()
            }
        }
        "NotebookEdit" => ToolSummary {
            text: path_of("notebook_path").unwrap_or_default(),
            added: Some(str_field(input, "new_source").map_or(0, count_lines)),
            ..Default::default()
        },
        "Grep" => {
            let pattern = text_of("pattern").unwrap_or_default();
            let text = match path_of("path") {
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
        let s = summarize("Bash", &json!({"command": "ls -la", "description": "List"}), None);
        assert_eq!(s.text, "ls -la");
        let s = summarize("Bash", &json!({"command": "cd x\nmake"}), None);
        assert_eq!(s.text, "cd x …");
    }

    #[test]
    fn edits_count_lines_added_and_removed() {
        let s = summarize(
            "Edit",
            &json!({"file_path": "src/a.rs", "old_string": "a\nb", "new_string": "a\nb\nc\n"}),
            None,
        );
        assert_eq!((s.text.as_str(), s.added, s.removed), ("src/a.rs", Some(3), Some(2)));
        let s = summarize(
            "MultiEdit",
            &json!({"file_path": "m.rs", "edits": [
                {"old_string": "x", "new_string": "y\nz"},
                {"old_string": "p\nq", "new_string": ""}
            ]}),
            None,
        );
        assert_eq!((s.added, s.removed), (Some(2), Some(3)));
        let s = summarize("Write", &json!({"file_path": "w.txt", "content": "1\n2\n3\n"}), None);
        assert_eq!((s.added, s.removed), (Some(3), None));
    }

    #[test]
    fn search_tools_show_their_pattern() {
        assert_eq!(summarize("Glob", &json!({"pattern": "**/*.rs"}), None).text, "**/*.rs");
        assert_eq!(
            summarize("Grep", &json!({"pattern": "fn main", "path": "src"}), None).text,
            "fn main  in src"
        );
    }

    #[test]
    fn task_shows_its_description() {
        let s = summarize(
            "Task",
            &json!({"description": "Find callers", "prompt": "…", "subagent_type": "Explore"}),
            None,
        );
        assert_eq!(s.text, "Find callers  (Explore)");
    }

    #[test]
    fn paths_inside_the_cwd_are_relative() {
        let cwd = Some("/tmp/demo/");
        let s = summarize("Edit", &json!({"file_path": "/tmp/demo/server/src/tasks.rs"}), cwd);
        assert_eq!((s.text.as_str(), s.is_path), ("server/src/tasks.rs", true));
        // A sibling that only shares a prefix, and paths outside, stay absolute.
        let s = summarize("Read", &json!({"file_path": "/tmp/demo2/a.rs"}), cwd);
        assert_eq!(s.text, "/tmp/demo2/a.rs");
        let s = summarize("Read", &json!({"file_path": "/etc/hosts"}), cwd);
        assert_eq!(s.text, "/etc/hosts");
        let s = summarize("Grep", &json!({"pattern": "x", "path": "/tmp/demo/web"}), cwd);
        assert_eq!((s.text.as_str(), s.is_path), ("x  in web", false));
        assert_eq!(relative_path("/tmp/demo", cwd), ".");
        assert_eq!(relative_path("/tmp/demo/a", None), "/tmp/demo/a");
    }

    #[test]
    fn unknown_and_mcp_tools_show_a_short_input() {
        let s = summarize(
            "mcp__context7__resolve-library-id",
            &json!({"libraryName": "tokio", "limit": 3}),
            None,
        );
        assert_eq!(s.text, "libraryName: tokio, limit: 3");
        let long = "x".repeat(500);
        assert!(short_input(&json!({ "a": long })).chars().count() <= 122);
    }
}
