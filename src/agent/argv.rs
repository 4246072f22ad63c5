//! A turn's argv: `-p --output-format stream-json --verbose`, the agent's options, the session,
//! the app's extra arguments, then `--` and the prompt. Handed to the process as a list: no shell
//! ever sees it.
//!
//! Options with a value are written as two arguments (`--model opus`): the CLI (commander) takes
//! the next argument as the value even when it starts with `-`. Options that take lists
//! (`--add-dir`, `--allowedTools`, `--disallowedTools`, `--mcp-config`) are repeated once per
//! value, so a value is never read as the list's continuation, and `--` ends any list before
//! the prompt.
//!
//! Prompts longer than one argument may hold are refused. The CLI could read the prompt from
//! stdin instead (`-p` with no prompt argument), but our stdin is the PTY, whose line discipline
//! limits and echoes input lines; going through it would be the silent cut we refuse.

use crate::agent::runner::SessionArg;
use crate::agent::spec::AgentSpec;

/// Linux's `MAX_ARG_STRLEN` (32 pages) includes the terminating NUL.
pub const MAX_ARG_BYTES: usize = 128 * 1024 - 1;

#[derive(Debug, thiserror::Error)]
pub enum ArgvError {
    #[error("the prompt is {0} bytes; one argument may hold at most 128 KiB on Linux")]
    PromptTooLong(usize),
    #[error("{option} is {len} bytes; one argument may hold at most 128 KiB on Linux")]
    ArgTooLong { option: String, len: usize },
    #[error("the prompt holds a NUL character (byte {0}), which no program argument can carry; remove it and send again")]
    PromptHasNul(usize),
    #[error("{option} holds a NUL character, which no program argument can carry")]
    ArgHasNul { option: String },
    #[error("{option} {value:?} is not valid: {reason}")]
    Invalid { option: &'static str, value: String, reason: &'static str },
}

/// The argv of one turn, without the program (and without `ClaudeCmd::pre_args`).
pub fn build_argv(
    spec: &AgentSpec,
    prompt: &str,
    session: &SessionArg,
    extra_args: &[String],
) -> Result<Vec<String>, ArgvError> {
    let base = ["-p", "--output-format", "stream-json", "--verbose"];
    let mode = spec.options.permission_mode.map(|p| p.as_arg());
    let mut argv = options_argv(&base, spec, mode, session, extra_args)?;
    if prompt.len() > MAX_ARG_BYTES {
        return Err(ArgvError::PromptTooLong(prompt.len()));
    }
    if let Some(at) = prompt.find('\0') {
        return Err(ArgvError::PromptHasNul(at));
    }
    argv.push("--".into());
    argv.push(prompt.to_owned());
    Ok(argv)
}

/// The argv of a live process, which reads its messages from stdin and asks before tools
/// through the control protocol. `mode` is the permission mode as this CLI names it.
pub fn build_live_argv(
    spec: &AgentSpec,
    mode: Option<&str>,
    session: &SessionArg,
    extra_args: &[String],
) -> Result<Vec<String>, ArgvError> {
    let base = [
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-prompt-tool",
        "stdio",
    ];
    options_argv(&base, spec, mode, session, extra_args)
}

/// `base`, then the agent's options, the session and the extra arguments, each checked.
fn options_argv(
    base: &[&str],
    spec: &AgentSpec,
    mode: Option<&str>,
    session: &SessionArg,
    extra_args: &[String],
) -> Result<Vec<String>, ArgvError> {
    let o = &spec.options;
    let mut argv: Vec<String> = base.iter().map(|a| a.to_string()).collect();
    let opt = |argv: &mut Vec<String>, flag: &str, value: String| {
        argv.push(flag.to_owned());
        argv.push(value);
    };

    if o.include_partial_messages() {
        argv.push("--include-partial-messages".into());
    }
    if let Some(m) = &o.model {
        opt(&mut argv, "--model", m.clone());
    }
    if let Some(m) = &o.fallback_model {
        opt(&mut argv, "--fallback-model", m.clone());
    }
    if let Some(p) = mode {
        opt(&mut argv, "--permission-mode", p.to_owned());
    }
    for t in o.allowed_tools.iter().flatten() {
        opt(&mut argv, "--allowedTools", t.clone());
    }
    for t in o.disallowed_tools.iter().flatten() {
        opt(&mut argv, "--disallowedTools", t.clone());
    }
    if let Some(n) = o.max_turns {
        opt(&mut argv, "--max-turns", n.to_string());
    }
    if let Some(usd) = o.max_budget_usd {
        if !usd.is_finite() || usd < 0.0 {
            return Err(ArgvError::Invalid {
                option: "--max-budget-usd",
                value: usd.to_string(),
                reason: "it must be a non-negative number",
            });
        }
        opt(&mut argv, "--max-budget-usd", usd.to_string());
    }
    if let Some(p) = &o.append_system_prompt {
        opt(&mut argv, "--append-system-prompt", p.clone());
    }
    if let Some(p) = &o.system_prompt {
        opt(&mut argv, "--system-prompt", p.clone());
    }
    for d in o.add_dirs.iter().flatten() {
        opt(&mut argv, "--add-dir", d.to_string_lossy().into_owned());
    }
    if let Some(c) = &o.mcp_config {
        opt(&mut argv, "--mcp-config", c.clone());
    }
    if let Some(s) = &o.settings {
        opt(&mut argv, "--settings", s.clone());
    }
    match session {
        SessionArg::New(id) => {
            if uuid::Uuid::parse_str(id).is_err() {
                return Err(ArgvError::Invalid {
                    option: "--session-id",
                    value: id.clone(),
                    reason: "the CLI takes only a UUID",
                });
            }
            opt(&mut argv, "--session-id", id.clone());
        }
        SessionArg::Resume(id) => opt(&mut argv, "--resume", id.clone()),
        SessionArg::Fork { from, at } => {
            opt(&mut argv, "--resume", from.clone());
            argv.push("--fork-session".into());
            if let Some(uuid) = at {
                opt(&mut argv, "--resume-session-at", uuid.clone());
            }
        }
    }
    argv.extend(extra_args.iter().cloned());

    // Every argument is checked: a long system prompt fails the same way a long prompt does.
    for (i, a) in argv.iter().enumerate() {
        if a.len() > MAX_ARG_BYTES {
            let option = match i.checked_sub(1).and_then(|j| argv.get(j)) {
                Some(flag) if flag.starts_with("--") => flag.clone(),
                _ => format!("argument {:.40}...", a),
            };
            return Err(ArgvError::ArgTooLong { option, len: a.len() });
        }
        if a.contains('\0') {
            let option = match i.checked_sub(1).and_then(|j| argv.get(j)) {
                Some(flag) if flag.starts_with("--") => flag.clone(),
                _ => format!("argument {}", i + 1),
            };
            return Err(ArgvError::ArgHasNul { option });
        }
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::agent::spec::{AgentOptions, PermissionMode};

    const ID: &str = "3432fc9d-d881-4866-9606-9fe0578d1ae1";

    fn new() -> SessionArg {
        SessionArg::New(ID.into())
    }

    #[test]
    fn minimal_turn() {
        let spec = AgentSpec::new("a", "/tmp");
        let argv = build_argv(&spec, "hello", &new(), &[]).unwrap();
        assert_eq!(
            argv,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--session-id",
                ID,
                "--",
                "hello"
            ]
        );
    }

    #[test]
    fn every_option_in_order() {
        let mut spec = AgentSpec::new("a", "/tmp");
        spec.options = AgentOptions {
            model: Some("opus".into()),
            fallback_model: Some("sonnet".into()),
            permission_mode: Some(PermissionMode::AcceptEdits),
            allowed_tools: Some(vec!["Read".into(), "Bash(git log:*)".into()]),
            disallowed_tools: Some(vec!["WebFetch".into()]),
            max_turns: Some(7),
            max_budget_usd: Some(0.5),
            append_system_prompt: Some("- be brief".into()),
            system_prompt: Some("You are X".into()),
            add_dirs: Some(vec![PathBuf::from("/a"), PathBuf::from("/b c")]),
            mcp_config: Some("{\"mcpServers\":{}}".into()),
            settings: Some("/s.json".into()),
            include_partial_messages: Some(false),
            env: None,
            billing: None,
            approvals: None,
            engine: None,
            nice: None,
            priority: None,
        };
        let argv = build_argv(
            &spec,
            "go",
            &SessionArg::Resume("abc".into()),
            &["--permission-prompt-tool".into(), "mcp__x".into()],
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--model",
                "opus",
                "--fallback-model",
                "sonnet",
                "--permission-mode",
                "acceptEdits",
                "--allowedTools",
                "Read",
                "--allowedTools",
                "Bash(git log:*)",
                "--disallowedTools",
                "WebFetch",
                "--max-turns",
                "7",
                "--max-budget-usd",
                "0.5",
                "--append-system-prompt",
                "- be brief",
                "--system-prompt",
                "You are X",
                "--add-dir",
                "/a",
                "--add-dir",
                "/b c",
                "--mcp-config",
                "{\"mcpServers\":{}}",
                "--settings",
                "/s.json",
                "--resume",
                "abc",
                "--permission-prompt-tool",
                "mcp__x",
                "--",
                "go"
            ]
        );
    }

    #[test]
    fn a_live_process_reads_stream_json_and_asks_over_stdio() {
        let mut spec = AgentSpec::new("a", "/tmp");
        spec.options.permission_mode = Some(PermissionMode::Default);
        spec.options.model = Some("opus".into());
        let argv =
            build_live_argv(&spec, Some("manual"), &SessionArg::Resume("abc".into()), &[]).unwrap();
        assert_eq!(
            argv,
            [
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-prompt-tool",
                "stdio",
                "--include-partial-messages",
                "--model",
                "opus",
                "--permission-mode",
                "manual",
                "--resume",
                "abc"
            ]
        );
        // No prompt and no `--`: messages come on stdin.
        let long = "x".repeat(MAX_ARG_BYTES + 1);
        spec.options.append_system_prompt = Some(long);
        assert!(build_live_argv(&spec, None, &new(), &[]).is_err());
    }

    #[test]
    fn a_fork_resumes_its_origin_as_a_new_session_cut_where_asked() {
        let spec = AgentSpec::new("a", "/tmp");
        let fork =
            |at: Option<&str>| SessionArg::Fork { from: ID.into(), at: at.map(String::from) };
        let tail = |argv: Vec<String>| argv[5..].to_vec();
        let end = build_argv(&spec, "go", &fork(None), &[]).expect("argv");
        assert_eq!(tail(end), ["--resume", ID, "--fork-session", "--", "go"]);
        let early = build_argv(&spec, "go", &fork(Some("u-1")), &[]).expect("argv");
        assert_eq!(
            tail(early),
            ["--resume", ID, "--fork-session", "--resume-session-at", "u-1", "--", "go"]
        );
    }

    #[test]
    fn a_prompt_starting_with_a_dash_stays_after_the_double_dash() {
        let spec = AgentSpec::new("a", "/tmp");
        for prompt in ["-p", "--resume x", "--", "-", "; rm -rf / $(echo) `x` 'q' \"w\"\n"] {
            let argv = build_argv(&spec, prompt, &new(), &[]).unwrap();
            let n = argv.len();
            assert_eq!(argv[n - 2], "--");
            assert_eq!(argv[n - 1], prompt);
            // `--` appears only once, right before the prompt (unless the prompt is `--`).
            assert_eq!(argv.iter().position(|a| a == "--"), Some(n - 2));
        }
    }

    #[test]
    fn a_prompt_over_128_kib_is_refused_not_cut() {
        let spec = AgentSpec::new("a", "/tmp");
        let ok = "a".repeat(MAX_ARG_BYTES);
        assert_eq!(build_argv(&spec, &ok, &new(), &[]).unwrap().last(), Some(&ok));
        let long = "a".repeat(MAX_ARG_BYTES + 1);
        let err = build_argv(&spec, &long, &new(), &[]).unwrap_err();
        assert!(matches!(err, ArgvError::PromptTooLong(n) if n == MAX_ARG_BYTES + 1));
        assert!(err.to_string().contains("128 KiB"), "{err}");
    }

    #[test]
    fn a_system_prompt_over_128_kib_is_refused_and_named() {
        let mut spec = AgentSpec::new("a", "/tmp");
        spec.options.append_system_prompt = Some("x".repeat(200_000));
        let err = build_argv(&spec, "hi", &new(), &[]).unwrap_err();
        assert!(err.to_string().contains("--append-system-prompt"), "{err}");
    }

    #[test]
    fn invalid_values_are_refused() {
        let spec = AgentSpec::new("a", "/tmp");
        let err = build_argv(&spec, "hi", &SessionArg::New("nope".into()), &[]).unwrap_err();
        assert!(err.to_string().contains("--session-id"), "{err}");
        let mut spec = AgentSpec::new("a", "/tmp");
        spec.options.max_budget_usd = Some(f64::NAN);
        assert!(build_argv(&spec, "hi", &new(), &[]).is_err());
    }

    #[test]
    fn a_nul_in_the_prompt_or_an_option_is_a_clear_error() {
        let spec = AgentSpec::new("a", "/tmp");
        let err = build_argv(&spec, "fix\0this", &new(), &[]).unwrap_err();
        assert!(matches!(err, ArgvError::PromptHasNul(3)), "{err:?}");
        assert!(err.to_string().contains("NUL character"), "{err}");
        let mut spec = AgentSpec::new("a", "/tmp");
        spec.options.append_system_prompt = Some("be\0bad".into());
        let err = build_argv(&spec, "hi", &new(), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--append-system-prompt holds a NUL character, which no program argument can carry"
        );
    }
}
