//! claude's command line, as far as the simulated claude needs it.
//!
//! Every option of `claude --help` (2.1.197) is accepted; the ones the simulation does not act on
//! are skipped together with their values. Unknown options fail like commander does in the real
//! CLI (`error: unknown option '--x'`, exit 1).

use std::ffi::OsString;

/// How an option takes its value (commander's `<v>`, `[v]`, `<v...>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arity {
    Flag,
    Required,
    Optional,
    Variadic,
}

/// Every option claude 2.1.197 accepts, long and short names, with its arity.
const OPTIONS: &[(&str, Arity)] = &[
    ("--add-dir", Arity::Variadic),
    ("--agent", Arity::Required),
    ("--agents", Arity::Required),
    ("--allow-dangerously-skip-permissions", Arity::Flag),
    ("--allowedTools", Arity::Variadic),
    ("--allowed-tools", Arity::Variadic),
    ("--append-system-prompt", Arity::Required),
    ("--append-system-prompt-file", Arity::Required),
    ("--ax-screen-reader", Arity::Flag),
    ("--bg", Arity::Flag),
    ("--background", Arity::Flag),
    ("--bare", Arity::Flag),
    ("--betas", Arity::Variadic),
    ("--brief", Arity::Flag),
    ("--chrome", Arity::Flag),
    ("-c", Arity::Flag),
    ("--continue", Arity::Flag),
    ("--dangerously-skip-permissions", Arity::Flag),
    ("-d", Arity::Optional),
    ("--debug", Arity::Optional),
    ("--debug-file", Arity::Required),
    ("--disable-slash-commands", Arity::Flag),
    ("--disallowedTools", Arity::Variadic),
    ("--disallowed-tools", Arity::Variadic),
    ("--effort", Arity::Required),
    ("--exclude-dynamic-system-prompt-sections", Arity::Flag),
    ("--fallback-model", Arity::Required),
    ("--file", Arity::Variadic),
    ("--fork-session", Arity::Flag),
    ("--from-pr", Arity::Optional),
    ("-h", Arity::Flag),
    ("--help", Arity::Flag),
    ("--ide", Arity::Flag),
    ("--include-hook-events", Arity::Flag),
    ("--include-partial-messages", Arity::Flag),
    ("--input-format", Arity::Required),
    ("--json-schema", Arity::Required),
    ("--max-budget-usd", Arity::Required),
    ("--max-turns", Arity::Required),
    ("--mcp-config", Arity::Variadic),
    ("--model", Arity::Required),
    ("-n", Arity::Required),
    ("--name", Arity::Required),
    ("--no-chrome", Arity::Flag),
    ("--no-session-persistence", Arity::Flag),
    ("--output-format", Arity::Required),
    ("--permission-mode", Arity::Required),
    ("--permission-prompt-tool", Arity::Required),
    ("--plugin-dir", Arity::Required),
    ("--plugin-url", Arity::Required),
    ("-p", Arity::Flag),
    ("--print", Arity::Flag),
    ("--prompt-suggestions", Arity::Optional),
    ("--remote-control", Arity::Optional),
    ("--remote-control-session-name-prefix", Arity::Required),
    ("--replay-user-messages", Arity::Flag),
    ("-r", Arity::Optional),
    ("--resume", Arity::Optional),
    ("--safe-mode", Arity::Flag),
    ("--session-id", Arity::Required),
    ("--setting-sources", Arity::Required),
    ("--settings", Arity::Required),
    ("--strict-mcp-config", Arity::Flag),
    ("--system-prompt", Arity::Required),
    ("--system-prompt-file", Arity::Required),
    ("--tmux", Arity::Optional),
    ("--tools", Arity::Variadic),
    ("--verbose", Arity::Flag),
    ("-v", Arity::Flag),
    ("--version", Arity::Flag),
    ("-w", Arity::Optional),
    ("--worktree", Arity::Optional),
];

/// The permission modes `--permission-mode` accepts.
pub const PERMISSION_MODES: &[&str] =
    &["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"];

/// The options the simulation acts on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimArgs {
    pub print: bool,
    pub verbose: bool,
    pub output_format: Option<String>,
    pub include_partial_messages: bool,
    pub session_id: Option<String>,
    /// `Some(None)` for a bare `--resume` (the real CLI opens a picker).
    pub resume: Option<Option<String>>,
    pub continue_last: bool,
    pub permission_mode: Option<String>,
    pub dangerously_skip_permissions: bool,
    pub model: Option<String>,
    pub max_turns: Option<String>,
    pub max_budget_usd: Option<String>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    /// `--mcp-config` values (JSON strings or files).
    pub mcp_configs: Vec<String>,
    /// `--permission-prompt-tool mcp__<server>__<tool>`.
    pub permission_prompt_tool: Option<String>,
    pub no_session_persistence: bool,
    pub prompt: Option<String>,
    pub version: bool,
    pub help: bool,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("error: unknown option '{0}'")]
    UnknownOption(String),
    #[error("error: option '{0}' argument missing")]
    MissingValue(String),
    #[error("error: option '--permission-mode <mode>' argument '{0}' is invalid. Allowed choices are acceptEdits, auto, bypassPermissions, default, dontAsk, plan.")]
    BadPermissionMode(String),
    #[error("error: option '--output-format <format>' argument '{0}' is invalid. Allowed choices are text, json, stream-json.")]
    BadOutputFormat(String),
    #[error("error: too many arguments. Expected 1 argument but got {0}.")]
    TooManyArguments(usize),
}

fn arity_of(name: &str) -> Option<Arity> {
    OPTIONS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// Splits a tool list the way claude does: comma or space separated, possibly repeated.
/// Separators inside parentheses belong to the rule (`Bash(git *)`).
fn push_tools(list: &mut Vec<String>, values: &[String]) {
    for v in values {
        let mut depth = 0usize;
        let mut current = String::new();
        for c in v.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth == 0 && (c == ',' || c.is_whitespace()) {
                if !current.is_empty() {
                    list.push(std::mem::take(&mut current));
                }
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            list.push(current);
        }
    }
}

impl SimArgs {
    pub fn parse(raw: &[OsString]) -> Result<SimArgs, ArgsError> {
        // Non-UTF-8 arguments are replaced: the simulation only compares and echoes them.
        let args: Vec<String> = raw.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let mut out = SimArgs::default();
        let mut positionals: Vec<String> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if arg == "--" {
                positionals.extend(args[i..].iter().cloned());
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                positionals.push(arg.clone());
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let arity = arity_of(&name).ok_or_else(|| ArgsError::UnknownOption(name.clone()))?;
            let mut values: Vec<String> = inline.into_iter().collect();
            let is_value = |s: &String| !s.starts_with('-') || s == "-";
            match arity {
                Arity::Flag => {}
                Arity::Required if values.is_empty() => match args.get(i) {
                    // commander takes the next word even when it starts with '-'.
                    Some(v) if v != "--" => {
                        values.push(v.clone());
                        i += 1;
                    }
                    _ => return Err(ArgsError::MissingValue(name)),
                },
                Arity::Optional if values.is_empty() => {
                    if let Some(v) = args.get(i).filter(|v| is_value(v)) {
                        values.push(v.clone());
                        i += 1;
                    }
                }
                Arity::Variadic => {
                    while let Some(v) = args.get(i).filter(|v| is_value(v)) {
                        values.push(v.clone());
                        i += 1;
                    }
                    if values.is_empty() {
                        return Err(ArgsError::MissingValue(name));
                    }
                }
                _ => {}
            }
            out.apply(&name, values)?;
        }
        if positionals.len() > 1 {
            return Err(ArgsError::TooManyArguments(positionals.len()));
        }
        out.prompt = positionals.pop();
        Ok(out)
    }

    fn apply(&mut self, name: &str, values: Vec<String>) -> Result<(), ArgsError> {
        let first = values.first().cloned();
        match name {
            "-p" | "--print" => self.print = true,
            "--verbose" => self.verbose = true,
            "--output-format" => {
                let v = first.unwrap_or_default();
                if !["text", "json", "stream-json"].contains(&v.as_str()) {
                    return Err(ArgsError::BadOutputFormat(v));
                }
                self.output_format = Some(v);
            }
            "--include-partial-messages" => self.include_partial_messages = true,
            "--session-id" => self.session_id = first,
            "-r" | "--resume" => self.resume = Some(first),
            "-c" | "--continue" => self.continue_last = true,
            "--permission-mode" => {
                let v = first.unwrap_or_default();
                if !PERMISSION_MODES.contains(&v.as_str()) {
                    return Err(ArgsError::BadPermissionMode(v));
                }
                self.permission_mode = Some(v);
            }
            "--dangerously-skip-permissions" => self.dangerously_skip_permissions = true,
            "--model" => self.model = first,
            "--max-turns" => self.max_turns = first,
            "--max-budget-usd" => self.max_budget_usd = first,
            "--allowedTools" | "--allowed-tools" => push_tools(&mut self.allowed_tools, &values),
            "--disallowedTools" | "--disallowed-tools" => {
                push_tools(&mut self.disallowed_tools, &values)
            }
            "--mcp-config" => self.mcp_configs.extend(values),
            "--permission-prompt-tool" => self.permission_prompt_tool = first,
            "--no-session-persistence" => self.no_session_persistence = true,
            "-v" | "--version" => self.version = true,
            "-h" | "--help" => self.help = true,
            _ => {}
        }
        Ok(())
    }

    /// Whether permission checks are bypassed (refused as root).
    pub fn bypasses_permissions(&self) -> bool {
        self.dangerously_skip_permissions
            || self.permission_mode.as_deref() == Some("bypassPermissions")
    }

    pub fn permission_mode(&self) -> &str {
        match self.permission_mode.as_deref() {
            Some(m) => m,
            None if self.dangerously_skip_permissions => "bypassPermissions",
            None => "default",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SimArgs, ArgsError> {
        let raw: Vec<OsString> = args.iter().map(OsString::from).collect();
        SimArgs::parse(&raw)
    }

    #[test]
    fn the_engine_argv_parses() {
        let a = parse(&[
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--model",
            "sonnet",
            "--allowedTools",
            "Read,Edit",
            "Bash(git *)",
            "--max-turns",
            "4",
            "--append-system-prompt",
            "-be brief",
            "--resume",
            "abc",
            "--",
            "-starts with a dash",
        ])
        .unwrap();
        assert!(a.print && a.verbose && a.include_partial_messages);
        assert_eq!(a.output_format.as_deref(), Some("stream-json"));
        assert_eq!(a.model.as_deref(), Some("sonnet"));
        assert_eq!(a.allowed_tools, vec!["Read", "Edit", "Bash(git *)"]);
        assert_eq!(a.max_turns.as_deref(), Some("4"));
        assert_eq!(a.resume, Some(Some("abc".into())));
        assert_eq!(a.prompt.as_deref(), Some("-starts with a dash"));
    }

    #[test]
    fn inline_values_optional_values_and_errors() {
        let a = parse(&["-p", "--model=opus", "--resume", "--verbose"]).unwrap();
        assert_eq!(a.model.as_deref(), Some("opus"));
        assert_eq!(a.resume, Some(None));
        assert_eq!(a.prompt, None);
        assert_eq!(parse(&["--bogus"]), Err(ArgsError::UnknownOption("--bogus".into())));
        assert_eq!(
            parse(&["--permission-mode", "nope"]),
            Err(ArgsError::BadPermissionMode("nope".into()))
        );
        assert_eq!(parse(&["--model"]), Err(ArgsError::MissingValue("--model".into())));
        assert_eq!(parse(&["a", "b"]), Err(ArgsError::TooManyArguments(2)));
    }
}
