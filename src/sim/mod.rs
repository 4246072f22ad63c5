//! The simulated claude: `agentmux __sim-claude <claude's flags>`.
//!
//! It takes the flags of `claude -p --output-format stream-json --verbose ...` (2.1.197; see
//! `args`) and writes what the real CLI writes: `system`/`init` first, `assistant` and `user`
//! lines (text, `tool_use` with `toolu_...` ids, `tool_result`), with
//! `--include-partial-messages` the `stream_event` deltas, and the `result` last. Exit codes and
//! plain-text errors match the real CLI (unknown option, invalid `--session-id`, unknown
//! `--resume` id, `bypassPermissions` as root, `--max-turns`, `--max-budget-usd`).
//!
//! Environment:
//! - `AGENTMUX_SIM_HOME`: where sessions live (default `$HOME/.agentmux-sim/`), one JSONL file
//!   per session id with its prompts and answers; `--resume <id>` continues one and the answer
//!   quotes the earlier prompt ("Earlier you asked: ...").
//! - `AGENTMUX_SIM_SPEED`: a multiplier for every delay; 0 = none (tests), 1 = realistic
//!   (a few hundred ms to start, text streamed over seconds).
//! - `AGENTMUX_SIM_PERSONA`: `supervisor`, `frontend`, `backend` or `tests` (see `demo`);
//!   anything else is a generic assistant.
//! - `AGENTMUX_SIM_FAIL`: directives, as below, for every turn.
//!
//! Directives: a prompt line `/sim <word> <word>...` (removed from the prompt) where a word is
//! - `fail=<word>`: the same as the word itself;
//! - `max_turns`: the answer needs more turns than `--max-turns` (default 2): `error_max_turns`;
//! - `budget`: `error_max_budget_usd` after the first API call (`--max-budget-usd` also applies);
//! - `retry=N`: N `system`/`api_retry` events (HTTP 529, backing off), then the answer;
//! - `crash` / `crash=signal`: part of the answer, a node stack trace on stderr, then exit code 1
//!   / SIGKILL, and no `result`;
//! - `flood=N`: N `stream_event` text deltas as fast as possible (even without partial messages);
//!   with `pace=MS`, one every MS real milliseconds (whatever `AGENTMUX_SIM_SPEED` says);
//! - `huge=BYTES`: one tool result of BYTES bytes on a single line;
//! - `stderr=N`: N plain-text lines on stderr, one after each JSON line;
//! - `deny`: a Write (or the script's edits) is denied: `tool_result` with `is_error` and the
//!   denial listed in the result's `permission_denials`;
//! - `ask` / `ask=a.txt+b.txt`: Bash calls `touch <file>` that need permission: asked through
//!   `--permission-prompt-tool` (its server started from `--mcp-config`, as the real CLI does),
//!   else denied ("This command requires approval") and listed in `permission_denials`;
//!   an `--allowedTools` rule such as `Bash(touch:*)` lets them run without asking;
//! - `hang`: after init, sleep until a signal (SIGINT, SIGTERM) ends the process.
//! - `ratelimit`: the `rate_limit_event` (written for subscriptions, i.e. without
//!   `ANTHROPIC_API_KEY`) says `allowed_warning` instead of `allowed`.
//!
//! The simulation never writes a project file and never runs a shell; the supervisor persona
//! runs `agentmux send ...` for real only when `AGENTMUX_SOCKET` is set (see `script`).

mod approve;
mod args;
mod clock;
mod demo;
mod directive;
mod emit;
mod lead;
mod persona;
mod project;
mod script;
mod session;
mod shape;
mod turn;
mod workers;

pub use demo::{demo_team, DEMO_ASKING_AGENT};

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use args::SimArgs;
use clock::Pace;
use directive::{Crash, Directives};
use emit::{stderr_line, Format, Out};
use session::{Entry, Role, Store};
use turn::{Ending, Setup, Turn};

/// Real model names for the CLI's aliases.
fn model_name(requested: Option<&str>) -> String {
    match requested {
        None | Some("default" | "opus") => "claude-opus-4-8".into(),
        Some("sonnet") => "claude-sonnet-4-6".into(),
        Some("haiku") => "claude-haiku-4-5-20251001".into(),
        Some(other) => other.into(),
    }
}

const USAGE: &str = "Usage: agentmux __sim-claude -p [options] [--] <prompt>

agentmux's simulated Claude Code CLI (same flags as `claude -p --output-format stream-json
--verbose`). See the `sim` module documentation for its environment and /sim directives.";

/// What the real CLI writes on a terminal as it exits (mouse modes, keyboard protocol, bracketed
/// paste and cursor restored, title cleared), with no newline. Measured on 2.1.197 in a PTY.
const EXIT_SEQUENCE: &str = "\x1b[?1006l\x1b[?1003l\x1b[?1002l\x1b[?1000l\x1b(B\x0f\x1b[>4m\x1b[<u\x1b[?1004l\x1b[?2031l\x1b[?2004l\x1b[?25h\x1b7\x1b[r\x1b8\x1b]0;\x07\x1b[?25h";
/// What it writes after an early error: only "show the cursor".
const SHOW_CURSOR: &str = "\x1b[?25h";

/// Terminal escapes on stdout when it is a terminal (as in agentmux's PTYs).
fn terminal_trailer(sequence: &str) {
    let mut out = std::io::stdout();
    if out.is_terminal() {
        // Best effort: the reader may be gone already.
        let _ = out.write_all(sequence.as_bytes()).and_then(|()| out.flush());
    }
}

/// A plain-text error on stderr and exit code 1, like the real CLI's early failures: its own
/// errors are red on a terminal, the option parser's are not.
fn fail(message: &str) -> ExitCode {
    let red = !message.starts_with("error:") && std::io::stderr().is_terminal();
    let _ = if red {
        stderr_line(&format!("\x1b[0m\x1b[31m{message}\x1b[0m"))
    } else {
        stderr_line(message)
    };
    terminal_trailer(SHOW_CURSOR);
    ExitCode::from(1)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn main(raw: Vec<OsString>) -> ExitCode {
    let args = match SimArgs::parse(&raw) {
        Ok(a) => a,
        Err(e) => return fail(&e.to_string()),
    };
    if args.version {
        println!("{} (Claude Code)", shape::VERSION);
        return ExitCode::SUCCESS;
    }
    if args.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.bypasses_permissions() && is_root() && std::env::var("IS_SANDBOX").as_deref() != Ok("1")
    {
        return fail(
            "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons",
        );
    }
    if !args.print {
        return fail("Error: the simulated claude only runs non-interactively: pass -p/--print");
    }
    let format = Format::parse(args.output_format.as_deref());
    if format == Format::StreamJson && !args.verbose {
        return fail("Error: When using --print, --output-format=stream-json requires --verbose");
    }
    match run(args, format) {
        Ok(code) => code,
        // stdout or stderr went away: the reader is gone, nothing more to say.
        Err(_) => ExitCode::from(1),
    }
}

fn read_prompt(args: &SimArgs) -> std::io::Result<String> {
    match &args.prompt {
        Some(p) => Ok(p.clone()),
        // With nothing piped in there is nothing to wait for (the real CLI fails at once).
        None if std::io::stdin().is_terminal() => Ok(String::new()),
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            Ok(s)
        }
    }
}

fn run(args: SimArgs, format: Format) -> std::io::Result<ExitCode> {
    let raw_prompt = read_prompt(&args).unwrap_or_default();
    if raw_prompt.trim().is_empty() {
        return Ok(fail(
            "Error: Input must be provided either through stdin or as a prompt argument when using --print",
        ));
    }
    let env_fail = std::env::var("AGENTMUX_SIM_FAIL").ok();
    let (directives, prompt) = Directives::extract(&raw_prompt, env_fail.as_deref());
    let store = Store::from_env();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let cwd_text = cwd.to_string_lossy().into_owned();

    // Which conversation: resumed, continued, given, or new.
    let (id, history) = if let Some(resume) = &args.resume {
        let Some(wanted) = resume else {
            return Ok(fail("Error: --resume requires a session ID when used with --print"));
        };
        let found = session::parse_id(wanted).filter(|id| store.exists(id));
        let Some(id) = found else {
            // As the real CLI: the message on stderr first, then the result, exit code 1.
            let message = format!("No conversation found with session ID: {wanted}");
            stderr_line(&message)?;
            let mut out = Out::new(format, 0);
            out.event(&turn::no_conversation(wanted, &message))?;
            terminal_trailer(EXIT_SEQUENCE);
            return Ok(ExitCode::from(1));
        };
        match store.load(&id) {
            Ok(h) => (id, h),
            Err(e) => return Ok(fail(&format!("Error: {e}"))),
        }
    } else if let Some(given) = &args.session_id {
        let Some(id) = session::parse_id(given) else {
            return Ok(fail("Error: Invalid session ID. Must be a valid UUID."));
        };
        if store.exists(&id) {
            return Ok(fail(&format!("Error: Session ID {id} is already in use.")));
        }
        (id, Vec::new())
    } else if let Some(id) = args.continue_last.then(|| store.latest_in(&cwd_text)).flatten() {
        match store.load(&id) {
            Ok(h) => (id, h),
            Err(e) => return Ok(fail(&format!("Error: {e}"))),
        }
    } else {
        (uuid::Uuid::new_v4(), Vec::new())
    };
    let session_id = id.to_string();

    let persist = !args.no_session_persistence;
    let entry = |role, text: &str| Entry {
        role,
        text: text.to_string(),
        cwd: cwd_text.clone(),
        timestamp: clock::now_rfc3339(),
    };
    if persist {
        if let Err(e) = store.append(&id, &entry(Role::User, &prompt)) {
            return Ok(fail(&format!("Error: {e}")));
        }
    }

    let persona = std::env::var("AGENTMUX_SIM_PERSONA").ok();
    let script = persona::script(persona.as_deref(), &prompt, &history, &cwd);
    let context_tokens = history.iter().map(|e| e.text.len() as u64 / 4).sum();
    let disallowed = args.disallowed_tools.clone();
    let tools = shape::TOOLS
        .iter()
        .filter(|t| !disallowed.iter().any(|d| d == *t))
        .map(|t| t.to_string())
        .collect();
    let api_key_source = match std::env::var("ANTHROPIC_API_KEY") {
        Ok(k) if !k.is_empty() => "ANTHROPIC_API_KEY",
        _ => "none",
    };
    let setup = Setup {
        session_id: session_id.clone(),
        cwd: cwd.clone(),
        model: model_name(args.model.as_deref()),
        tools,
        permission_mode: args.permission_mode().to_string(),
        api_key_source: api_key_source.to_string(),
        partial: args.include_partial_messages && format == Format::StreamJson,
        disallowed,
        max_turns: args.max_turns.as_deref().and_then(|s| s.trim().parse().ok()),
        max_budget: args
            .max_budget_usd
            .as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok().map(|v| (s.trim().to_string(), v))),
        context_tokens,
        allowed: args.allowed_tools.clone(),
        prompt_tool: args.permission_prompt_tool.clone(),
        mcp_configs: args.mcp_configs.clone(),
    };
    let pace = Pace::from_env(clock::seed_from(&session_id));
    let out = Out::new(format, directives.stderr_lines);
    let report = Turn::new(setup, out, pace, directives).run(script)?;
    if persist && !report.answer.is_empty() {
        // The answer is what a follow-up refers to; failing to keep it is not the turn's failure.
        let _ = store.append(&id, &entry(Role::Assistant, &report.answer));
    }
    if matches!(report.ending, Ending::Exit(_)) {
        terminal_trailer(EXIT_SEQUENCE);
    }
    Ok(match report.ending {
        Ending::Exit(0) => ExitCode::SUCCESS,
        Ending::Exit(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ending::Crash(Crash::Exit) => ExitCode::from(1),
        Ending::Crash(Crash::Signal) => {
            // SAFETY: kill on our own pid with a valid signal number.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            ExitCode::from(137)
        }
    })
}
