//! The simulated claude (`agentmux __sim-claude`) run as a plain child process, checked against
//! the shapes and exit codes of the real CLI 2.1.197.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_agentmux");
const TIMEOUT: Duration = Duration::from_secs(60);

struct Sim {
    home: tempfile::TempDir,
    cwd: tempfile::TempDir,
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Every stdout line, parsed; panics on a line that is not a JSON object with a `type`.
    fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("not JSON ({e}): {}", l.chars().take(200).collect::<String>())
                });
                assert!(v.get("type").and_then(Value::as_str).is_some(), "no type: {l}");
                v
            })
            .collect()
    }

    fn result(&self) -> Value {
        let events = self.events();
        let last = events.last().cloned().expect("no output");
        assert_eq!(last["type"], "result", "result is not last: {last}");
        last
    }
}

fn spawn(sim: &Sim, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Child {
    spawn_with(sim, args, env, stdin, |_| {})
}

fn spawn_with(
    sim: &Sim,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
    adjust: impl FnOnce(&mut Command),
) -> Child {
    let mut cmd = Command::new(EXE);
    cmd.arg("__sim-claude")
        .args(args)
        .current_dir(sim.cwd.path())
        .env("HOME", sim.home.path())
        .env("AGENTMUX_SIM_HOME", sim.home.path().join("sessions"))
        .env("AGENTMUX_SIM_SPEED", "0")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("AGENTMUX_SIM_FAIL")
        .env_remove("AGENTMUX_SIM_PERSONA")
        .env_remove("AGENTMUX_SOCKET")
        .env_remove("IS_SANDBOX")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    adjust(&mut cmd);
    let mut child = cmd.spawn().expect("spawn agentmux");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child
}

/// Waits for the child with a timeout, reading both pipes on threads so neither fills up.
fn finish(mut child: Child) -> Run {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                p.read_to_string(&mut s).expect("read pipe");
            }
            s
        })
    }
    let out_t = drain(child.stdout.take());
    let err_t = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("simulated claude did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run { status, stdout: out_t.join().expect("join"), stderr: err_t.join().expect("join") }
}

impl Sim {
    fn new() -> Sim {
        Sim { home: tempfile::tempdir().unwrap(), cwd: tempfile::tempdir().unwrap() }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        finish(spawn(self, args, env, None))
    }

    /// A stream-json turn with `prompt` after `--`.
    fn turn(&self, extra: &[&str], prompt: &str, env: &[(&str, &str)]) -> Run {
        let mut args = vec!["-p", "--output-format", "stream-json", "--verbose"];
        args.extend_from_slice(extra);
        args.push("--");
        args.push(prompt);
        self.run(&args, env)
    }
}

const SID: &str = "5b7c6f0e-1111-4222-8333-444455556666";
const SID2: &str = "5b7c6f0e-1111-4222-8333-444455556667";

fn cwd_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Checks the common shape: init first with the session id, result last, every line tagged
/// with the same session.
fn check_turn(run: &Run, sim: &Sim, session: &str) -> Vec<Value> {
    let events = run.events();
    let init = &events[0];
    assert_eq!(init["type"], "system");
    assert_eq!(init["subtype"], "init");
    assert_eq!(init["session_id"], session);
    assert_eq!(init["cwd"], cwd_str(sim.cwd.path()));
    assert!(init["tools"].as_array().is_some_and(|t| t.iter().any(|x| x == "Bash")));
    assert!(init["model"].as_str().is_some_and(|m| m.starts_with("claude-")));
    assert!(init["claude_code_version"].as_str().is_some_and(|v| v.starts_with("2.1.197")));
    for e in &events {
        assert_eq!(e["session_id"], session, "{e}");
    }
    run.result();
    events
}

#[test]
fn a_turn_has_init_text_tools_and_a_successful_result() {
    let sim = Sim::new();
    let run = sim.turn(&["--session-id", SID], "Say hello", &[]);
    assert!(run.status.success(), "{}", run.stderr);
    let events = check_turn(&run, &sim, SID);
    assert_eq!(events[0]["apiKeySource"], "none");
    assert_eq!(events[0]["permissionMode"], "default");
    // A tool call and its result, with matching ids.
    let tool_use = events
        .iter()
        .find_map(|e| {
            (e["type"] == "assistant" && e["message"]["content"][0]["type"] == "tool_use")
                .then(|| e["message"]["content"][0].clone())
        })
        .expect("a tool_use");
    let id = tool_use["id"].as_str().expect("id");
    assert!(id.starts_with("toolu_"));
    let result_line = events.iter().find(|e| e["type"] == "user").expect("a tool_result");
    assert_eq!(result_line["message"]["content"][0]["tool_use_id"], id);
    assert_eq!(result_line["message"]["content"][0]["is_error"], false);
    // No partial messages unless asked.
    assert!(events.iter().all(|e| e["type"] != "stream_event"));
    let result = run.result();
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["is_error"], false);
    assert_eq!(result["num_turns"], 2);
    assert!(result["result"].as_str().is_some_and(|t| t.contains("Say hello")));
    assert!(result["total_cost_usd"].as_f64().is_some_and(|c| c > 0.0));
    assert!(result["usage"]["output_tokens"].as_u64().is_some_and(|n| n > 0));
    assert!(result["duration_ms"].is_u64() && result["duration_api_ms"].is_u64());
    assert_eq!(result["permission_denials"], serde_json::json!([]));
    assert!(result["uuid"].is_string());
    // Each line begins with its type, as the CLI writes it.
    assert!(run.stdout.lines().all(|l| l.starts_with("{\"type\":")));
}

#[test]
fn partial_messages_stream_deltas_that_add_up_to_the_message() {
    let sim = Sim::new();
    let run = sim.turn(&["--include-partial-messages"], "Explain the plan", &[]);
    assert!(run.status.success(), "{}", run.stderr);
    let events = run.events();
    let sid = events[0]["session_id"].as_str().expect("session").to_string();
    check_turn(&run, &sim, &sid);
    let kinds: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "stream_event")
        .map(|e| e["event"]["type"].as_str().unwrap_or("").to_string())
        .collect();
    for k in [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(kinds.iter().any(|x| x == k), "missing {k}");
    }
    // The last message's text deltas add up to its complete assistant line, which comes
    // before its content_block_stop (as in the real CLI).
    let last_start =
        events.iter().rposition(|e| e["event"]["type"] == "message_start").expect("message_start");
    let tail = &events[last_start..];
    let streamed: String = tail
        .iter()
        .filter(|e| e["event"]["delta"]["type"] == "text_delta")
        .filter_map(|e| e["event"]["delta"]["text"].as_str())
        .collect();
    let full_at = tail.iter().position(|e| e["type"] == "assistant").expect("assistant");
    assert_eq!(tail[full_at]["message"]["content"][0]["text"], streamed.as_str());
    assert_eq!(tail[full_at + 1]["event"]["type"], "content_block_stop");
    assert_eq!(run.result()["result"], streamed.as_str());
}

#[test]
fn resume_remembers_the_earlier_prompt() {
    let sim = Sim::new();
    let first = sim.turn(&["--session-id", SID], "Rename the config loader", &[]);
    assert!(first.status.success(), "{}", first.stderr);
    let second = sim.turn(&["--resume", SID], "and add a test", &[]);
    assert!(second.status.success(), "{}", second.stderr);
    check_turn(&second, &sim, SID);
    let text = second.result()["result"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("Earlier you asked: \"Rename the config loader\""), "{text}");
    assert!(text.contains("and add a test"), "{text}");
    let third = sim.turn(&["--resume", SID], "one more", &[]);
    let text = third.result()["result"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("Earlier you asked: \"and add a test\""), "{text}");
    // The same id cannot start a second conversation.
    let again = sim.turn(&["--session-id", SID], "hi", &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(again.stdout.is_empty());
    assert!(again.stderr.contains("is already in use"), "{}", again.stderr);
}

#[test]
fn an_unknown_session_fails_like_the_real_cli() {
    let sim = Sim::new();
    let id = "11111111-2222-3333-4444-555555555555";
    let run = sim.turn(&["--resume", id], "hi", &[]);
    assert_eq!(run.status.code(), Some(1));
    let events = run.events();
    assert_eq!(events.len(), 1, "{}", run.stdout);
    let r = &events[0];
    assert_eq!(r["type"], "result");
    assert_eq!(r["subtype"], "error_during_execution");
    assert_eq!(r["is_error"], true);
    assert_eq!(r["num_turns"], 0);
    assert_eq!(r["session_id"], id);
    let message = format!("No conversation found with session ID: {id}");
    assert_eq!(r["errors"], serde_json::json!([message]));
    assert!(run.stderr.contains(&message));
    // Not a UUID at all: the same answer, and no file is looked up outside the store.
    let run = sim.turn(&["--resume", "../../etc/passwd"], "hi", &[]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(run.result()["subtype"], "error_during_execution");
}

#[test]
fn early_errors_are_plain_text_with_exit_code_1() {
    let sim = Sim::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["-p", "--output-format", "stream-json", "--verbose", "--bogus", "--", "x"],
            "error: unknown option '--bogus'",
        ),
        (&["-p", "--output-format", "stream-json", "--", "x"], "requires --verbose"),
        (
            &[
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--session-id",
                "nope",
                "--",
                "x",
            ],
            "Invalid session ID",
        ),
        (
            &[
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "nope",
                "--",
                "x",
            ],
            "argument 'nope' is invalid",
        ),
        (&["-p", "--output-format", "stream-json", "--verbose"], "Input must be provided"),
    ];
    for (args, want) in cases {
        let run = sim.run(args, &[]);
        assert_eq!(run.status.code(), Some(1), "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn bypass_permissions_as_root_is_refused_with_plain_text() {
    let sim = Sim::new();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let run = sim.turn(&["--permission-mode", "bypassPermissions"], "hi", &[]);
    if root {
        assert_eq!(run.status.code(), Some(1));
        assert!(run.stdout.is_empty());
        assert_eq!(
            run.stderr.trim(),
            "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
        );
    } else {
        assert!(run.status.success());
        assert_eq!(run.events()[0]["permissionMode"], "bypassPermissions");
    }
}

#[test]
fn a_prompt_after_the_separator_may_start_with_a_dash_and_stdin_works_too() {
    let sim = Sim::new();
    let run = sim.turn(&[], "--help me with -p flags", &[]);
    assert!(run.status.success(), "{}", run.stderr);
    let text = run.result()["result"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("--help me with -p flags"), "{text}");

    let child = spawn(
        &sim,
        &["-p", "--output-format", "stream-json", "--verbose"],
        &[],
        Some("from stdin please\n"),
    );
    let run = finish(child);
    assert!(run.status.success(), "{}", run.stderr);
    let text = run.result()["result"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("from stdin please"), "{text}");
}

#[test]
fn api_key_source_follows_the_environment() {
    let sim = Sim::new();
    let run = sim.turn(&[], "hi", &[("ANTHROPIC_API_KEY", "sk-test")]);
    let events = run.events();
    assert_eq!(events[0]["apiKeySource"], "ANTHROPIC_API_KEY");
    // Billed per token: no subscription rate-limit window.
    assert!(events.iter().all(|e| e["type"] != "rate_limit_event"));
    let run = sim.turn(&[], "hi", &[]);
    let events = run.events();
    let rl = events.iter().find(|e| e["type"] == "rate_limit_event").expect("rate limit");
    assert_eq!(rl["rate_limit_info"]["status"], "allowed");
    assert_eq!(rl["rate_limit_info"]["rateLimitType"], "five_hour");
    assert!(rl["rate_limit_info"]["resetsAt"].is_u64());
    let run = sim.turn(&[], "hi\n/sim ratelimit", &[]);
    let events = run.events();
    let rl = events.iter().find(|e| e["type"] == "rate_limit_event").expect("rate limit");
    assert_eq!(rl["rate_limit_info"]["status"], "allowed_warning");
}

#[test]
fn continue_picks_the_latest_conversation_in_this_directory() {
    let sim = Sim::new();
    let first = sim.turn(&["--session-id", SID], "Remember the number 42", &[]);
    assert!(first.status.success());
    let run = sim.turn(&["--continue"], "what number?", &[]);
    assert!(run.status.success());
    check_turn(&run, &sim, SID);
    let text = run.result()["result"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("Earlier you asked: \"Remember the number 42\""), "{text}");
}

#[test]
fn speed_scales_the_delays() {
    let sim = Sim::new();
    let fast = Instant::now();
    let run = sim.turn(&["--include-partial-messages"], "time me", &[]);
    assert!(run.status.success());
    let fast = fast.elapsed();
    let slow = Instant::now();
    let run =
        sim.turn(&["--include-partial-messages"], "time me", &[("AGENTMUX_SIM_SPEED", "0.2")]);
    assert!(run.status.success());
    let slow = slow.elapsed();
    // At 1/5 of realistic pacing a turn still takes well over 200 ms (start, time to first
    // token, deltas); at speed 0 it takes only process start-up.
    assert!(slow >= Duration::from_millis(200), "slow {slow:?}");
    assert!(slow > fast, "slow {slow:?} fast {fast:?}");
}

#[test]
fn text_and_json_output_formats_print_only_the_result() {
    let sim = Sim::new();
    let run = sim.run(&["-p", "--", "plain text please"], &[]);
    assert!(run.status.success());
    assert!(run.stdout.contains("plain text please"));
    assert!(serde_json::from_str::<Value>(run.stdout.trim()).is_err());
    let run = sim.run(&["-p", "--output-format", "json", "--", "json please"], &[]);
    let v: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert_eq!(v["type"], "result");
}

fn directive(sim: &Sim, extra: &[&str], words: &str) -> Run {
    sim.turn(extra, &format!("Fix the flaky test\n/sim {words}"), &[])
}

fn subtype(run: &Run) -> String {
    run.result()["subtype"].as_str().unwrap_or_default().to_string()
}

#[test]
fn max_turns_ends_with_error_max_turns() {
    let sim = Sim::new();
    let run = directive(&sim, &[], "fail=max_turns");
    assert_eq!(run.status.code(), Some(1));
    let r = run.result();
    assert_eq!(r["subtype"], "error_max_turns");
    assert_eq!(r["is_error"], true);
    assert_eq!(r["num_turns"], 3);
    assert_eq!(r["errors"], serde_json::json!(["Reached maximum number of turns (2)"]));
    assert!(r.get("result").is_none());
    // --max-turns alone cuts a script that needs more calls (the generic one needs 2).
    let run = sim.turn(&["--max-turns", "1"], "look around", &[]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(subtype(&run), "error_max_turns");
    assert_eq!(run.result()["errors"][0], "Reached maximum number of turns (1)");
    let run = sim.turn(&["--max-turns", "5"], "look around", &[]);
    assert!(run.status.success());
    // The directive honours the flag's limit.
    let run = directive(&sim, &["--max-turns", "4"], "max_turns");
    assert_eq!(run.result()["num_turns"], 5);
}

#[test]
fn budget_ends_with_error_max_budget_usd() {
    let sim = Sim::new();
    let run = directive(&sim, &[], "fail=budget");
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(subtype(&run), "error_max_budget_usd");
    assert_eq!(run.result()["is_error"], true);
    let run = sim.turn(&["--max-budget-usd", "0.000001"], "hi", &[]);
    assert_eq!(run.status.code(), Some(1));
    let r = run.result();
    assert_eq!(r["subtype"], "error_max_budget_usd");
    assert_eq!(r["errors"][0], "Reached maximum budget ($0.000001)");
    assert!(r["total_cost_usd"].as_f64().is_some_and(|c| c > 0.000001));
    let run = sim.turn(&["--max-budget-usd", "50"], "hi", &[]);
    assert!(run.status.success());
}

#[test]
fn api_retries_come_before_a_successful_answer() {
    let sim = Sim::new();
    let run = directive(&sim, &[], "retry=3");
    assert!(run.status.success(), "{}", run.stderr);
    let events = run.events();
    let retries: Vec<&Value> = events.iter().filter(|e| e["subtype"] == "api_retry").collect();
    assert_eq!(retries.len(), 3);
    for (i, r) in retries.iter().enumerate() {
        assert_eq!(r["type"], "system");
        assert_eq!(r["attempt"], i as u64 + 1);
        assert!(r["retry_delay_ms"].as_f64().is_some_and(|d| d > 0.0));
        assert!(r["error_status"].is_u64());
    }
    assert_eq!(subtype(&run), "success");
}

#[test]
fn a_crash_leaves_stderr_text_and_no_result() {
    use std::os::unix::process::ExitStatusExt;
    let sim = Sim::new();
    for (words, signal) in [("crash", None), ("crash=signal", Some(libc::SIGKILL))] {
        let run = directive(&sim, &["--include-partial-messages"], words);
        let events = run.events();
        assert_eq!(events[0]["subtype"], "init");
        assert!(events.iter().all(|e| e["type"] != "result"), "{words}");
        assert!(events.iter().any(|e| e["event"]["type"] == "content_block_delta"), "{words}");
        assert!(run.stderr.contains("TypeError"), "{words}: {}", run.stderr);
        match signal {
            None => assert_eq!(run.status.code(), Some(1)),
            Some(sig) => assert_eq!(run.status.signal(), Some(sig)),
        }
    }
}

#[test]
fn a_flood_writes_n_deltas_and_still_ends_with_a_result() {
    let sim = Sim::new();
    let run = directive(&sim, &[], "flood=5000");
    assert!(run.status.success());
    let events = run.events();
    let deltas = events.iter().filter(|e| e["event"]["delta"]["type"] == "text_delta").count();
    assert!(deltas >= 5000, "{deltas}");
    assert_eq!(subtype(&run), "success");
}

#[test]
fn huge_writes_one_line_of_that_size() {
    let sim = Sim::new();
    let bytes = 20_000_000;
    let run = directive(&sim, &[], &format!("huge={bytes}"));
    assert!(run.status.success());
    let longest = run.stdout.lines().map(str::len).max().unwrap_or(0);
    assert!(longest >= bytes && longest < bytes + 100_000, "{longest}");
    let events = run.events();
    let big = events.iter().find(|e| e["type"] == "user").expect("a tool result");
    assert_eq!(big["message"]["content"][0]["content"].as_str().map(str::len), Some(bytes));
    assert_eq!(subtype(&run), "success");
}

#[test]
fn stderr_noise_goes_between_json_lines() {
    let sim = Sim::new();
    let run = directive(&sim, &[], "stderr=3");
    assert!(run.status.success());
    run.events(); // stdout stays pure JSON
    let noise: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(noise.len(), 3, "{}", run.stderr);
    assert!(noise.iter().all(|l| serde_json::from_str::<Value>(l).is_err()));
}

#[test]
fn a_denied_write_is_an_error_result_and_a_listed_denial() {
    let sim = Sim::new();
    let run = directive(&sim, &[], "deny");
    assert!(run.status.success());
    let events = run.events();
    let denied = events
        .iter()
        .find(|e| e["type"] == "user" && e["message"]["content"][0]["is_error"] == true)
        .expect("an is_error tool_result");
    let id = denied["message"]["content"][0]["tool_use_id"].clone();
    let r = run.result();
    assert_eq!(r["subtype"], "success");
    let denials = r["permission_denials"].as_array().expect("denials");
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0]["tool_use_id"], id);
    assert_eq!(denials[0]["tool_name"], "Write");
    assert!(denials[0]["tool_input"]["file_path"].is_string());
    // The file was not written.
    assert!(!sim.cwd.path().join("NOTES.md").exists());
}

#[test]
fn a_disallowed_tool_is_missing_from_init_and_fails_when_called() {
    let sim = Sim::new();
    let run = sim.turn(&["--disallowedTools", "Glob"], "look around", &[]);
    assert!(run.status.success());
    let events = run.events();
    assert!(events[0]["tools"].as_array().is_some_and(|t| !t.iter().any(|x| x == "Glob")));
    let result = events.iter().find(|e| e["type"] == "user").expect("tool result");
    let block = &result["message"]["content"][0];
    assert_eq!(block["is_error"], true);
    assert!(block["content"].as_str().is_some_and(|c| c.contains("No such tool available: Glob")));
}

#[test]
fn the_fail_environment_variable_applies_to_every_turn() {
    let sim = Sim::new();
    let run = sim.turn(&[], "hello", &[("AGENTMUX_SIM_FAIL", "budget")]);
    assert_eq!(subtype(&run), "error_max_budget_usd");
}

#[test]
fn a_hang_dies_on_sigint_and_sigterm() {
    a_hang_dies_on_signals(false);
}

/// Found when the suite ran as a script's background job: such a job ignores SIGINT, the sim
/// inherited that and hung forever, where the real CLI (which handles SIGINT itself) stops.
#[test]
fn a_hang_dies_on_sigint_and_sigterm_even_when_started_with_them_ignored() {
    a_hang_dies_on_signals(true);
}

fn a_hang_dies_on_signals(started_ignoring: bool) {
    use std::io::BufRead;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let sim = Sim::new();
    let ids = [SID, "6c8d7f1e-2222-4333-8444-555566667777"];
    for (signal, id) in [libc::SIGINT, libc::SIGTERM].into_iter().zip(ids) {
        let args = ["-p", "--output-format", "stream-json", "--verbose", "--session-id", id, "--"];
        let mut args = args.to_vec();
        args.push("A long task\n/sim hang");
        let mut child = spawn_with(&sim, &args, &[], None, |cmd| {
            if started_ignoring {
                // SAFETY: only async-signal-safe calls (signal) between fork and exec.
                unsafe {
                    cmd.pre_exec(|| {
                        libc::signal(libc::SIGINT, libc::SIG_IGN);
                        libc::signal(libc::SIGTERM, libc::SIG_IGN);
                        Ok(())
                    });
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = rx.recv_timeout(TIMEOUT).expect("init before the hang");
        assert!(first.contains("\"subtype\":\"init\""));
        // Still running: nothing more comes.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        assert!(child.try_wait().expect("wait").is_none());
        let pid = i32::try_from(child.id()).expect("pid");
        // SAFETY: signalling our own child, whose pid we hold and have not reaped.
        unsafe { libc::kill(pid, signal) };
        let run = finish(child);
        assert_eq!(run.status.signal(), Some(signal));
        // The interrupted conversation can be resumed.
        let run = sim.turn(&["--resume", id], "go on", &[]);
        assert!(run.status.success(), "{}", run.stderr);
        let text = run.result()["result"].as_str().unwrap_or_default().to_string();
        assert!(text.contains("Earlier you asked: \"A long task\""), "{text}");
    }
}

/// A turn of a demo persona in a directory holding the demo project.
fn persona_turn(
    sim: &Sim,
    persona: &str,
    extra: &[&str],
    prompt: &str,
    env: &[(&str, &str)],
) -> Run {
    let mut all = vec![("AGENTMUX_SIM_PERSONA", persona)];
    all.extend_from_slice(env);
    sim.turn(extra, prompt, &all)
}

fn demo_sim() -> Sim {
    let sim = Sim::new();
    let team = agentmux::sim::demo_team(Path::new(EXE), sim.cwd.path());
    assert_eq!(team.agents.len(), 3);
    sim
}

fn tool_results(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "user").map(|e| &e["message"]["content"][0]).collect()
}

fn tool_uses(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "assistant" && e["message"]["content"][0]["type"] == "tool_use")
        .map(|e| &e["message"]["content"][0])
        .collect()
}

#[test]
fn worker_personas_read_edit_and_run_tests_with_markdown_answers() {
    let sim = demo_sim();
    // The tests persona's suite run needs permission (the demo's approval): a rule allows it.
    let denied = persona_turn(&sim, "tests", &["--session-id", SID2], "start", &[]);
    let denials = denied.result()["permission_denials"].as_array().cloned().unwrap_or_default();
    assert_eq!(denials.len(), 1, "{}", denied.stdout);
    assert_eq!(denials[0]["tool_input"]["command"], "cd server && cargo test");
    for persona in ["backend", "frontend", "tests"] {
        let allow: &[&str] = if persona == "tests" { &["--allowedTools", "Bash"] } else { &[] };
        let args = [&["--session-id", SID][..], allow].concat();
        let run = persona_turn(&sim, persona, &args, "start", &[]);
        assert!(run.status.success(), "{persona}: {}", run.stderr);
        let events = check_turn(&run, &sim, SID);
        let uses = tool_uses(&events);
        let results = tool_results(&events);
        assert_eq!(uses.len(), results.len(), "{persona}");
        assert!(uses.iter().any(|u| u["name"] == "Read"), "{persona}");
        assert!(uses.iter().any(|u| u["name"] == "Bash"), "{persona}");
        // Read returns the real file's content.
        let read_at = uses.iter().position(|u| u["name"] == "Read").unwrap_or(0);
        let read = results[read_at]["content"].as_str().unwrap_or_default();
        assert!(read.contains("\u{2192}"), "{persona}: {read}");
        assert_eq!(results[read_at]["is_error"], false);
        if persona != "tests" {
            let edit = uses.iter().find(|u| u["name"] == "Edit").expect("an edit");
            assert!(
                edit["input"]["old_string"].is_string() && edit["input"]["new_string"].is_string()
            );
            assert!(results.iter().all(|r| r["is_error"] == false), "{persona}: {results:?}");
        } else {
            // The test run fails (exit 101) and the answer says so.
            let failed = results.iter().find(|r| r["is_error"] == true).expect("a failing run");
            assert!(failed["content"].as_str().is_some_and(|c| c.starts_with("Exit code 101")));
        }
        let text = run.result()["result"].as_str().unwrap_or_default().to_string();
        assert!(text.starts_with("## "), "{persona}: {text}");
        assert!(text.contains("\n- ") || text.contains("\n1. "), "{persona}: a list");
        assert!(text.contains("```"), "{persona}: a code block");
        assert!(text.contains("|---|"), "{persona}: a table");
        // A follow-up refers to the prompt and the earlier turn.
        let run =
            persona_turn(&sim, persona, &["--resume", SID], "What about error handling?", &[]);
        assert!(run.status.success());
        let text = run.result()["result"].as_str().unwrap_or_default().to_string();
        assert!(text.contains("What about error handling?"), "{persona}: {text}");
        assert!(text.contains("Earlier you asked"), "{persona}: {text}");
        // Nothing in the project was written.
        let tasks = std::fs::read_to_string(sim.cwd.path().join("server/src/tasks.rs")).unwrap();
        assert!(tasks.contains("tasks.sort_by_key(|t| t.due);"));
        std::fs::remove_dir_all(sim.home.path().join("sessions")).unwrap();
    }
}

#[test]
fn the_supervisor_plans_and_relays_with_agentmux_send() {
    let sim = demo_sim();
    // Without a control socket the results are plausible stand-ins.
    let run = persona_turn(&sim, "supervisor", &["--session-id", SID], "Ship it", &[]);
    assert!(run.status.success(), "{}", run.stderr);
    let events = run.events();
    let uses = tool_uses(&events);
    assert_eq!(uses.len(), 3);
    for (u, worker) in uses.iter().zip(["backend", "frontend", "tests"]) {
        assert_eq!(u["name"], "Bash");
        let command = u["input"]["command"].as_str().unwrap_or_default();
        assert!(command.starts_with(&format!("agentmux send {worker} \"")), "{command}");
    }
    assert!(tool_results(&events)
        .iter()
        .all(|r| r["content"].as_str().is_some_and(|c| c.starts_with("sent to"))));

    // With AGENTMUX_SOCKET set it runs agentmux (here a stand-in script) without a shell.
    let fake = sim.home.path().join("fake-agentmux");
    std::fs::write(&fake, "#!/bin/sh\necho \"fake agentmux: $1 $2 [$3]\"\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let env = [
        ("AGENTMUX_SOCKET", "/nonexistent/agentmux.sock"),
        ("AGENTMUX_SIM_AGENTMUX", fake.to_str().unwrap()),
    ];
    let report = "[agentmux] A report from your worker:\n\n--- tests: done, $0.0301 ---\n## Test run: 1 FAILED\n| test | result |\n";
    let run = persona_turn(&sim, "supervisor", &["--resume", SID], report, &env);
    assert!(run.status.success(), "{}", run.stderr);
    let events = run.events();
    let results = tool_results(&events);
    assert_eq!(results.len(), 1);
    let content = results[0]["content"].as_str().unwrap_or_default();
    assert!(
        content.starts_with("fake agentmux: send backend [The tests agent reports"),
        "{content}"
    );
    let text = run.result()["result"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("Next"), "{text}");
    let synthesis = events
        .iter()
        .filter(|e| e["type"] == "assistant")
        .filter_map(|e| e["message"]["content"][0]["text"].as_str())
        .collect::<String>();
    assert!(synthesis.contains("| tests | done | needs work |"), "{synthesis}");

    // A report with nothing failing ends the chain: a synthesis, no tool calls.
    let report = "[agentmux] A report from your worker:\n\n--- backend: done, $0.0201 ---\n## Fixed: tasks without a due date sort last\n";
    let run = persona_turn(&sim, "supervisor", &["--resume", SID], report, &env);
    let events = run.events();
    assert!(tool_uses(&events).is_empty());
    let text = run.result()["result"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("## Synthesis") && text.contains("| backend | done | done |"), "{text}");
}

/// Runs the simulated claude in a real PTY and returns everything it wrote there.
fn in_pty(sim: &Sim, args: &[&str]) -> (Vec<u8>, u32) {
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let pair = native_pty_system()
        .openpty(PtySize { rows: 24, cols: 80, pixel_width: 0, pixel_height: 0 })
        .expect("openpty");
    let mut cmd = CommandBuilder::new(EXE);
    cmd.arg("__sim-claude");
    for a in args {
        cmd.arg(a);
    }
    cmd.cwd(sim.cwd.path());
    cmd.env("HOME", sim.home.path());
    cmd.env("AGENTMUX_SIM_HOME", sim.home.path().join("sessions"));
    cmd.env("AGENTMUX_SIM_SPEED", "0");
    cmd.env_remove("ANTHROPIC_API_KEY");
    cmd.env_remove("AGENTMUX_SIM_FAIL");
    cmd.env_remove("AGENTMUX_SIM_PERSONA");
    let mut child = pair.slave.spawn_command(cmd).expect("spawn in pty");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 65536];
        // EIO once the child is gone and the slave is closed: the end of the output.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(all);
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(start.elapsed() < TIMEOUT, "no exit in the PTY");
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(pair.master);
    let out = rx.recv_timeout(TIMEOUT).expect("pty output");
    (out, status.exit_code())
}

#[test]
fn in_a_terminal_lines_end_in_crlf_and_the_exit_sequences_follow_without_newline() {
    let sim = Sim::new();
    let (out, code) =
        in_pty(&sim, &["-p", "--output-format", "stream-json", "--verbose", "--", "hi"]);
    assert_eq!(code, 0);
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.contains("}\r\n{"), "CRLF line ends");
    let tail_at = text.rfind("}\r\n").expect("a last JSON line") + 3;
    let tail = &text[tail_at..];
    assert!(tail.starts_with("\u{1b}[?1006l") && tail.ends_with("\u{1b}[?25h"), "{tail:?}");
    assert!(!tail.contains('\n'));
    let last_json = text[..tail_at].trim_end().rsplit("\r\n").next().unwrap_or("");
    let v: Value = serde_json::from_str(last_json).expect("result JSON");
    assert_eq!(v["type"], "result");
    // An early error is red on a terminal and ends with "show cursor".
    let (out, code) = in_pty(
        &sim,
        &["-p", "--output-format", "stream-json", "--verbose", "--session-id", "x", "--", "hi"],
    );
    assert_eq!(code, 1);
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.starts_with("\u{1b}[0m\u{1b}[31mError: Invalid session ID"), "{text:?}");
    assert!(text.ends_with("\r\n\u{1b}[?25h"), "{text:?}");
    // No prompt and a terminal on stdin: fail at once instead of waiting for input.
    let (out, code) = in_pty(&sim, &["-p", "--output-format", "stream-json", "--verbose"]);
    assert_eq!(code, 1);
    assert!(String::from_utf8_lossy(&out).contains("Input must be provided"));
}
