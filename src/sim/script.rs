//! What one simulated turn says and does: a list of API calls, each some text and tool calls.
//!
//! Tool calls are typed [`Action`]s; [`Action::run`] produces the tool's result. The simulation
//! never writes a file and never runs a shell: Read and Glob look at the real working directory,
//! Edit checks its old string against the real file, Bash output is scripted, and the only
//! command ever executed is `agentmux ...` (the supervisor's relay, see [`Action::Agentmux`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One turn: the API calls the model makes, in order. The last one has no tool calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    pub calls: Vec<Call>,
}

/// One API response: text (may be empty) followed by tool calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Call {
    pub text: String,
    pub tools: Vec<Action>,
}

impl Call {
    pub fn text(text: impl Into<String>) -> Call {
        Call { text: text.into(), tools: Vec::new() }
    }

    pub fn with(text: impl Into<String>, tools: Vec<Action>) -> Call {
        Call { text: text.into(), tools }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Read {
        path: String,
    },
    Edit {
        path: String,
        old: String,
        new: String,
    },
    Write {
        path: String,
        content: String,
    },
    Glob {
        pattern: String,
    },
    /// Scripted output; the command is never run.
    Bash {
        command: String,
        description: String,
        output: String,
        exit_code: i32,
        /// Needs the user's permission (as a command no rule allows does in the real CLI):
        /// asked through `--permission-prompt-tool`, else denied.
        asks: bool,
    },
    /// `agentmux <args>`: run for real when `AGENTMUX_SOCKET` is set, else `fallback` is reported.
    Agentmux {
        args: Vec<String>,
        description: String,
        fallback: String,
    },
}

/// A tool's result as the CLI reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    pub content: String,
    pub is_error: bool,
    /// The top-level `tool_use_result` of the `user` line.
    pub detail: Value,
}

impl ToolResult {
    fn ok(content: impl Into<String>, detail: Value) -> ToolResult {
        ToolResult { content: content.into(), is_error: false, detail }
    }

    pub fn error(message: &str) -> ToolResult {
        ToolResult {
            content: format!("<tool_use_error>{message}</tool_use_error>"),
            is_error: true,
            detail: json!(format!("Error: {message}")),
        }
    }
}

/// Quotes one word for display the way a person would type it.
pub fn shell_word(s: &str) -> String {
    let plain =
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Longest file the simulated Read returns whole.
const READ_LIMIT: u64 = 256 * 1024;
/// How long a relayed `agentmux` command may take.
const AGENTMUX_TIMEOUT: Duration = Duration::from_secs(30);

impl Action {
    pub fn tool_name(&self) -> &'static str {
        match self {
            Action::Read { .. } => "Read",
            Action::Edit { .. } => "Edit",
            Action::Write { .. } => "Write",
            Action::Glob { .. } => "Glob",
            Action::Bash { .. } | Action::Agentmux { .. } => "Bash",
        }
    }

    /// The tool call's `input`, with absolute paths like the real model sends.
    pub fn input(&self, cwd: &Path) -> Value {
        let abs = |p: &str| cwd.join(p).to_string_lossy().into_owned();
        match self {
            Action::Read { path } => json!({"file_path": abs(path)}),
            Action::Edit { path, old, new } => json!({
                "file_path": abs(path),
                "old_string": old,
                "new_string": new,
                "replace_all": false
            }),
            Action::Write { path, content } => json!({"file_path": abs(path), "content": content}),
            Action::Glob { pattern } => json!({"pattern": pattern}),
            Action::Bash { command, description, .. } => {
                json!({"command": command, "description": description})
            }
            Action::Agentmux { args, description, .. } => {
                let words: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
                json!({"command": format!("agentmux {}", words.join(" ")), "description": description})
            }
        }
    }

    pub fn run(&self, cwd: &Path) -> ToolResult {
        match self {
            Action::Read { path } => read(&cwd.join(path)),
            Action::Edit { path, old, new } => edit(&cwd.join(path), old, new),
            Action::Write { path, content } => {
                let abs = cwd.join(path);
                ToolResult::ok(
                    format!("File created successfully at: {}", abs.display()),
                    json!({"type": "create", "filePath": abs, "content": content, "structuredPatch": []}),
                )
            }
            Action::Glob { pattern } => glob(cwd, pattern),
            Action::Bash { output, exit_code, .. } => bash_result(output, "", *exit_code),
            Action::Agentmux { args, fallback, .. } => {
                if std::env::var_os("AGENTMUX_SOCKET").is_some() {
                    run_agentmux(args)
                } else {
                    bash_result(fallback, "", 0)
                }
            }
        }
    }
}

fn bash_result(stdout: &str, stderr: &str, code: i32) -> ToolResult {
    let joined = match (stdout.is_empty(), stderr.is_empty()) {
        (_, true) => stdout.to_string(),
        (true, false) => stderr.to_string(),
        (false, false) => format!("{stdout}\n{stderr}"),
    };
    if code == 0 {
        let detail = json!({
            "stdout": stdout,
            "stderr": stderr,
            "interrupted": false,
            "isImage": false,
            "noOutputExpected": false
        });
        ToolResult::ok(joined, detail)
    } else {
        let content = format!("Exit code {code}\n{joined}");
        ToolResult { detail: json!(format!("Error: {content}")), content, is_error: true }
    }
}

fn numbered(text: &str, first: usize) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| format!("{:>6}\u{2192}{l}", first + i))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read(path: &Path) -> ToolResult {
    let size = std::fs::metadata(path).map(|m| m.len());
    match size {
        Err(_) => ToolResult::error("File does not exist."),
        Ok(n) if n > READ_LIMIT => ToolResult::error(&format!(
            "File content ({} KB) exceeds maximum allowed size (256KB). Please use offset and limit parameters to read specific portions of the file.",
            n / 1024
        )),
        Ok(_) => match std::fs::read(path) {
            Err(e) => ToolResult::error(&e.to_string()),
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let lines = text.lines().count();
                let detail = json!({
                    "type": "text",
                    "file": {
                        "filePath": path,
                        "content": text,
                        "numLines": lines,
                        "startLine": 1,
                        "totalLines": lines
                    }
                });
                ToolResult::ok(numbered(&text, 1), detail)
            }
        },
    }
}

fn edit(path: &Path, old: &str, new: &str) -> ToolResult {
    let Ok(original) = std::fs::read_to_string(path) else {
        return ToolResult::error("File does not exist.");
    };
    let Some(at) = original.find(old) else {
        return ToolResult::error(&format!("String to replace not found in file.\nString: {old}"));
    };
    let line = original[..at].matches('\n').count() + 1;
    let mut lines: Vec<String> = old.lines().map(|l| format!("-{l}")).collect();
    lines.extend(new.lines().map(|l| format!("+{l}")));
    let detail = json!({
        "filePath": path,
        "oldString": old,
        "newString": new,
        "originalFile": original,
        "structuredPatch": [{
            "oldStart": line,
            "oldLines": old.lines().count(),
            "newStart": line,
            "newLines": new.lines().count(),
            "lines": lines
        }],
        "userModified": false,
        "replaceAll": false
    });
    let content = format!(
        "The file {} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n{}",
        path.display(),
        numbered(new, line)
    );
    ToolResult::ok(content, detail)
}

/// Lists the real directory (two levels, sorted, at most 50), ignoring the pattern's details.
fn glob(cwd: &Path, pattern: &str) -> ToolResult {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![(cwd.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() {
                if depth < 2 {
                    dirs.push((path, depth + 1));
                }
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    let truncated = found.len() > 50;
    found.truncate(50);
    let names: Vec<String> = found.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let content = if names.is_empty() { "No files found".to_string() } else { names.join("\n") };
    let detail = json!({
        "filenames": names,
        "durationMs": 12,
        "numFiles": names.len(),
        "truncated": truncated,
        "pattern": pattern
    });
    ToolResult::ok(content, detail)
}

/// The agentmux executable: `AGENTMUX_SIM_AGENTMUX` (the demo sets it), else `agentmux` on
/// PATH, else the one next to this executable, else this executable (the simulated claude is
/// agentmux).
fn agentmux_exe() -> Option<PathBuf> {
    let named =
        std::env::var_os("AGENTMUX_SIM_AGENTMUX").map(PathBuf::from).filter(|p| p.is_file());
    if named.is_some() {
        return named;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join("agentmux")).find(|p| p.is_file())
    });
    let own = std::env::current_exe().ok();
    on_path
        .or_else(|| {
            own.as_ref()
                .and_then(|e| e.parent())
                .map(|d| d.join("agentmux"))
                .filter(|p| p.is_file())
        })
        .or(own)
}

/// Runs `agentmux <args>` directly (no shell) and reports its output like Bash would.
fn run_agentmux(args: &[String]) -> ToolResult {
    let Some(exe) = agentmux_exe() else {
        return bash_result("", "agentmux: command not found", 127);
    };
    let child = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return bash_result("", &format!("agentmux: {e}"), 127),
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > AGENTMUX_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return bash_result("", "Command timed out after 30s", 124);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return bash_result("", &e.to_string(), 1),
        }
    }
    match child.wait_with_output() {
        Ok(out) => bash_result(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            String::from_utf8_lossy(&out.stderr).trim_end(),
            out.status.code().unwrap_or(1),
        ),
        Err(e) => bash_result("", &e.to_string(), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_edit_and_glob_look_at_the_real_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
        let r = Action::Read { path: "a.txt".into() }.run(dir.path());
        assert!(!r.is_error);
        assert_eq!(r.content, "     1\u{2192}one\n     2\u{2192}two");
        assert!(Action::Read { path: "nope".into() }.run(dir.path()).is_error);
        let e = Action::Edit { path: "a.txt".into(), old: "two".into(), new: "2".into() };
        let r = e.run(dir.path());
        assert!(!r.is_error, "{}", r.content);
        assert_eq!(r.detail["structuredPatch"][0]["oldStart"], 2);
        let bad = Action::Edit { path: "a.txt".into(), old: "zzz".into(), new: "y".into() };
        assert!(bad.run(dir.path()).is_error);
        // The edit is simulated: the file is untouched.
        assert_eq!(std::fs::read_to_string(dir.path().join("a.txt")).unwrap(), "one\ntwo\n");
        let g = Action::Glob { pattern: "**/*".into() }.run(dir.path());
        assert!(g.content.ends_with("a.txt"));
    }

    #[test]
    fn bash_failures_and_display_quoting() {
        let r = bash_result("boom", "", 101);
        assert!(r.is_error);
        assert_eq!(r.content, "Exit code 101\nboom");
        assert_eq!(shell_word("backend"), "backend");
        assert_eq!(shell_word("fix \"it\" $now"), "\"fix \\\"it\\\" \\$now\"");
        let a = Action::Agentmux {
            args: vec!["send".into(), "tests".into(), "run it".into()],
            description: "d".into(),
            fallback: "ok".into(),
        };
        assert_eq!(a.input(Path::new("/w"))["command"], "agentmux send tests \"run it\"");
    }
}
