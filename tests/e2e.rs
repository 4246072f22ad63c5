//! End to end: the real binary in a real PTY, read through a vt100 parser, running
//! `agentmux demo` (simulated agents, no claude needed). Every wait is for text on the screen,
//! with a timeout; nothing sleeps a fixed time.

use std::time::{Duration, Instant};

mod support;
use support::cli::{claude_or_skip, offline_env};
use support::fake_api::{FakeApi, Reply};
use support::term::{proc_state, Term, TIMEOUT};

const ROWS: u16 = 40;
const COLS: u16 = 140;

/// `agentmux ARGS` in a fresh home of its own.
fn start(args: &[&str]) -> Term {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    start_in(home, args, &[])
}

/// `agentmux ARGS` in `home` (its cwd and HOME), with `env` set after the defaults.
fn start_in(home: tempfile::TempDir, args: &[&str], env: &[(String, String)]) -> Term {
    let h = home.path();
    let path = |p: &std::path::Path| p.display().to_string();
    let mut vars = vec![
        ("HOME".to_string(), path(h)),
        ("AGENTMUX_CONFIG_DIR".to_string(), path(&h.join("config"))),
        ("XDG_DATA_HOME".to_string(), path(&h.join("data"))),
        ("TMPDIR".to_string(), path(h)),
        // The control socket's directory, not the machine's $XDG_RUNTIME_DIR/agentmux.
        ("XDG_RUNTIME_DIR".to_string(), path(h)),
        // Fast simulated agents, but not instant, so running states are visible.
        ("AGENTMUX_SIM_SPEED".to_string(), "0.05".to_string()),
    ];
    vars.extend(env.iter().cloned());
    Term::spawn(args, h, &vars, (ROWS, COLS)).keeping(home)
}

const ENTER: &[u8] = b"\r";
const TAB: &[u8] = b"\t";
const ALT_Z: &[u8] = b"\x1bz";
const CTRL_Q: &[u8] = b"\x11";
const PAGE_UP: &[u8] = b"\x1b[5~";
const CTRL_END: &[u8] = b"\x1b[1;5F";
const F1: &[u8] = b"\x1bOP";
const ESC: &[u8] = b"\x1b";
const ALT_A: &[u8] = b"\x1ba";
const ALT_Y: &[u8] = b"\x1by";

/// The header of the focused pane (thick border) holds this name.
fn focused_name(screen: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let start = l.find("┏ ")?;
        let rest = &l[start + "┏ ".len()..];
        rest.split(' ').next().map(String::from)
    })
}

#[test]
fn demo_runs_answers_a_follow_up_moves_focus_zooms_scrolls_and_quits() {
    let mut t = start(&["demo"]);
    // The supervisor and the workers come up, and their first turns run to the end.
    t.wait_text("supervisor");
    t.wait_for("three finished turns", |s| s.matches("✓ done").count() >= 3);
    // The demo's approval (tests asks to run its suite) is answered, so every turn can end.
    t.wait_text("tests wants to use Bash");
    t.send(ALT_A);
    t.wait_for("the tests pane to have the focus", |s| focused_name(s).as_deref() == Some("tests"));
    t.send(ALT_Y);

    // Wait for every turn to end (no spinner left).
    t.wait_for("all turns idle", |s| !s.contains(" running "));
    let first = t.screen();
    let focused = focused_name(&first).unwrap_or_default();
    assert!(!focused.is_empty() && focused != "◆", "a worker has the focus:\n{first}");

    // Zoom shows only the focused pane, with its whole header.
    t.send(ALT_Z);
    t.wait_text("zoomed");
    let zoomed = t.screen();
    assert_eq!(zoomed.matches('┏').count(), 1, "one pane:\n{zoomed}");
    assert!(!zoomed.contains('╭'), "no other pane:\n{zoomed}");
    assert_eq!(focused_name(&zoomed).as_deref(), Some(focused.as_str()));

    // A follow-up: its turn runs and ends, and its prompt or answer is on screen.
    t.send(b"zebra42 please");
    t.wait_text("zebra42 please");
    t.send(ENTER);
    // The supervisor may relay a turn to this pane before or after it: wait for the footer
    // that follows the answer (which quotes the prompt), not for a count of turns.
    t.wait_for("the follow-up's turn to end", |s| {
        !s.contains(" running ")
            && s.rsplit_once("zebra42 please").is_some_and(|(_, after)| after.contains("✓ done"))
    });
    t.send(ALT_Z);
    t.wait_for("tiles again", |s| !s.contains("zoomed"));

    // Scroll up a page (the pane says what waits below) and back to the bottom. The supervisor
    // may relay new work to this pane meanwhile: then the indicator counts new lines instead.
    let below = |s: &str| {
        s.split("↓ ").skip(1).any(|rest| {
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            rest.starts_with(" more line") || rest.starts_with(" new line")
        })
    };
    t.send(PAGE_UP);
    t.wait_for("the lines below to be counted", below);
    t.send(CTRL_END);
    t.wait_for("the bottom again", |s| !below(s));

    // Focus moves with Tab.
    t.send(TAB);
    let moved = t.wait_for("focus to move", |s| focused_name(s).is_some_and(|n| n != focused));
    let second = focused_name(&moved).unwrap_or_default();

    // Zoom follows the focus.
    t.send(ALT_Z);
    t.wait_text("zoomed");
    assert_eq!(focused_name(&t.screen()).as_deref(), Some(second.as_str()));
    t.send(ALT_Z);
    t.wait_for("tiles again", |s| !s.contains("zoomed"));

    // Help opens and closes.
    t.send(F1);
    t.wait_text("Panes (other keys go to the input box)");
    t.send(ESC);
    t.wait_for("help to close", |s| !s.contains("Panes (other keys"));

    // Quit (answering yes should a turn have started meanwhile).
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
    // The terminal was handed back: alternate screen left, cursor shown, modes off.
    let parser = t.parser.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!parser.screen().alternate_screen(), "still on the alternate screen");
    assert!(!parser.screen().hide_cursor(), "the cursor is still hidden");
    let raw = t.raw.lock().unwrap_or_else(|e| e.into_inner());
    let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(200)..]).to_string();
    assert!(tail.contains("\x1b[?1049l"), "left the alternate screen last: {tail:?}");
    assert!(tail.contains("\x1b[?2004l"), "bracketed paste off: {tail:?}");
    assert!(tail.contains("\x1b[?1000l"), "mouse capture off: {tail:?}");
}

/// A new user tries an approval in the demo: the first-run note (in the asking agent's pane)
/// names the keys; alt-a goes to it, alt-y allows its command, and its turn goes on to the end.
#[test]
fn the_demo_asks_for_an_approval_and_the_shown_key_answers_it() {
    let mut t = start(&["demo"]);
    let hint = t.wait_text("demo: tests will ask to run a command");
    assert!(hint.contains("alt-a goes to it · alt-y allows"), "{hint}");
    t.wait_text("tests wants to use Bash");
    let waiting = t.wait_text("cd server && cargo test");
    assert!(waiting.contains("needs-you"), "{waiting}");
    t.send(ALT_A);
    t.wait_for("the tests pane to have the focus", |s| focused_name(s).as_deref() == Some("tests"));
    t.send(ALT_Y);
    // Allowed: the command runs and the turn reads on (its next step) to its footer.
    let after = t.wait_for("the turn to go on", |s| {
        !s.contains("tests wants to use Bash") && s.contains("One failure. Let me read the test.")
    });
    assert!(!after.contains("needs-you"), "{after}");
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
}

/// Three follow-ups queued behind a running turn: alt-< (ESC <, as terminals send it) picks
/// the second, alt-d cancels it and leaves the others.
#[test]
fn a_queued_follow_up_is_picked_and_cancelled_from_the_keyboard() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let team = "[[agent]]\nname = \"solo\"\ncwd = \".\"\nprompt = \"/sim hang\"\n";
    std::fs::write(home.path().join("agentmux.toml"), team)
        .unwrap_or_else(|e| panic!("team file: {e}"));
    let mut t = start_in(home, &["--claude", "sim", "--trust"], &[]);
    t.wait_for("the hanging turn", |s| s.contains(" running "));
    for q in ["q-one", "q-two", "q-three"] {
        t.send(q.as_bytes());
        t.wait_text(q);
        t.send(ENTER);
    }
    t.wait_text("queued 3");
    t.send(b"\x1b<");
    t.wait_text("▸ 2. q-two");
    t.send(b"\x1bd");
    let s = t.wait_text("queued 2");
    assert!(!s.contains("q-two") && s.contains("1. q-one") && s.contains("2. q-three"), "{s}");
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn quitting_while_turns_run_asks_first_and_stops_them() {
    let mut t = start(&["demo"]);
    t.wait_for("a running turn", |s| s.contains(" running "));
    t.send(CTRL_Q);
    t.wait_text("Quit agentmux?");
    t.send(b"n");
    t.wait_for("the question to go", |s| !s.contains("Quit agentmux?"));
    // Either still running (question) or everything finished meanwhile (quits at once).
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
    let parser = t.parser.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!parser.screen().alternate_screen());
}

#[test]
fn sigterm_restores_the_terminal() {
    let t = start(&["demo"]);
    t.wait_text("supervisor");
    let pid = t.child.process_id().unwrap_or_else(|| panic!("no pid"));
    // SAFETY: kill with a pid we spawned and a valid signal number.
    let rc = unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let mut t = t;
    let _ = t.wait_exit();
    let parser = t.parser.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!parser.screen().alternate_screen(), "SIGTERM left the alternate screen on");
    assert!(!parser.screen().hide_cursor(), "SIGTERM left the cursor hidden");
}

#[test]
fn a_runtime_dir_others_own_is_passed_over_with_a_note_and_the_log_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let h = home.path().to_path_buf();
    // Someone else made $XDG_RUNTIME_DIR/agentmux first (as root: another user owns it;
    // otherwise it is open to others, which is refused the same way).
    let theirs = h.join("run").join("agentmux");
    std::fs::create_dir_all(&theirs).unwrap_or_else(|e| panic!("mkdir: {e}"));
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod: {e}"));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534))
            .unwrap_or_else(|e| panic!("chown: {e}"));
    }
    let log = h.join("agentmux.log");
    let env = [
        ("XDG_RUNTIME_DIR".to_string(), h.join("run").display().to_string()),
        ("AGENTMUX_LOG".to_string(), log.display().to_string()),
    ];
    let mut t = start_in(home, &["demo"], &env);
    t.wait_for("the note on the hint line", |s| s.contains("not safe for a control socket"));
    t.wait_text("supervisor");
    let mode = std::fs::metadata(&log).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600), "the log file is private");
    // A client in another shell finds the socket in the directory the server fell back to.
    let ls = std::process::Command::new(env!("CARGO_BIN_EXE_agentmux"))
        .arg("ls")
        .env_remove("AGENTMUX_SOCKET")
        .env("HOME", &h)
        .env("TMPDIR", &h)
        .env("XDG_RUNTIME_DIR", h.join("run"))
        .output()
        .unwrap_or_else(|e| panic!("agentmux ls: {e}"));
    let stdout = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.status.success() && stdout.contains("supervisor"), "{stdout} {ls:?}");
    assert!(std::fs::read_dir(&theirs).map(|d| d.count()).ok() == Some(0), "nothing put there");
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_tiny_terminal_and_resizes_do_not_break_it() {
    let mut t = start(&["demo"]);
    t.wait_text("supervisor");
    for (rows, cols) in [(6, 20), (3, 10), (24, 80), (6, 20), (40, 140)] {
        t.resize(rows, cols);
        if rows < 5 {
            t.wait_text("too");
        } else {
            t.wait_for("a pane", |s| s.contains('┏') || s.contains('╭'));
        }
    }
    // Back at full size the whole screen is there again, hint line included.
    t.wait_for("the full screen", |s| s.contains("supervisor") && s.contains("ctrl-q quit"));
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
}

/// The process state letter from /proc (R, S, T for stopped, ...).

#[test]
fn ctrl_z_suspends_with_the_terminal_restored_and_resumes_with_a_redraw() {
    let mut t = start(&["demo"]);
    t.wait_text("supervisor");
    let pid = t.child.process_id().unwrap_or_else(|| panic!("no pid"));
    t.send(b"\x1a");
    let start = Instant::now();
    while proc_state(pid) != Some('T') {
        assert!(start.elapsed() < TIMEOUT, "not stopped: {:?}", proc_state(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    // The bytes written before stopping may still be on their way through the PTY.
    let restored = |t: &Term| {
        t.parser
            .lock()
            .map(|p| !p.screen().alternate_screen() && !p.screen().hide_cursor())
            .unwrap_or(false)
    };
    let start = Instant::now();
    while !restored(&t) {
        assert!(start.elapsed() < TIMEOUT, "stopped without restoring the terminal");
        std::thread::sleep(Duration::from_millis(20));
    }
    // `fg` sends SIGCONT: the app takes the terminal back and draws everything again.
    let before = t.raw.lock().map(|r| r.len()).unwrap_or(0);
    // SAFETY: kill with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGCONT) }, 0);
    let start = Instant::now();
    loop {
        let redrawn = t
            .raw
            .lock()
            .map(|r| String::from_utf8_lossy(&r[before.min(r.len())..]).contains("supervisor"));
        if redrawn.unwrap_or(false) {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "no redraw after SIGCONT:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(20));
    }
    t.wait_for("the redraw", |s| s.contains("supervisor") && s.contains("alt-n"));
    {
        let parser = t.parser.lock().unwrap_or_else(|e| e.into_inner());
        assert!(parser.screen().alternate_screen(), "back on the alternate screen");
    }
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
}

/// `agentmux ARGS` run as a client in `home` (the app's cwd, HOME and runtime directory),
/// killed if it has not exited within the timeout: `(exit code, stderr)`, `None` when it hung.
fn client_in(home: &std::path::Path, args: &[&str]) -> Option<(Option<i32>, String)> {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_agentmux"))
        .args(args)
        .current_dir(home)
        .env_remove("AGENTMUX_SOCKET")
        .env("HOME", home)
        .env("TMPDIR", home)
        .env("XDG_RUNTIME_DIR", home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("agentmux {args:?}: {e}"));
    let start = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("agentmux {args:?}: {e}"));
    Some((out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned()))
}

#[test]
fn ls_says_the_ui_is_suspended_instead_of_hanging_and_answers_after_fg() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let h = home.path().to_path_buf();
    let mut t = start_in(home, &["demo"], &[]);
    t.wait_text("supervisor");
    let pid = t.child.process_id().unwrap_or_else(|| panic!("no pid"));
    t.send(b"\x1a");
    let start = Instant::now();
    while proc_state(pid) != Some('T') {
        assert!(start.elapsed() < TIMEOUT, "not stopped: {:?}", proc_state(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    let answer = client_in(&h, &["ls"]);
    let Some((code, stderr)) = answer else { panic!("`agentmux ls` hung on a suspended agentmux") };
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!("agentmux: agentmux (pid {pid}) is suspended (Ctrl-Z); bring it back with fg")
    );
    // SAFETY: kill with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGCONT) }, 0);
    t.wait_for("the redraw", |s| s.contains("supervisor") && s.contains("alt-n"));
    let answer = client_in(&h, &["ls"]);
    assert!(matches!(&answer, Some((Some(0), _))), "after fg: {answer:?}");
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
}

/// The same binary with the real Claude Code CLI (2.1.197 from npm), talking to the tests'
/// loopback stand-in of the Messages API: a typed prompt runs a turn whose answer shows in the
/// pane, and a follow-up resumes the same conversation (the stand-in sees the first prompt).
#[test]
fn the_real_cli_answers_in_a_pane_and_a_follow_up_resumes_it() {
    let Some(claude) = claude_or_skip("the_real_cli_answers_in_a_pane") else { return };
    let api = FakeApi::start(|req| {
        let n = req.user_texts().iter().filter(|t| t.contains("zebra-")).count();
        Reply::text(format!("ANSWER-{n} from the stand-in"))
    });
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let team = "[[agent]]\nname = \"solo\"\ncwd = \".\"\nbilling = \"api\"\n";
    std::fs::write(home.path().join("agentmux.toml"), team)
        .unwrap_or_else(|e| panic!("team file: {e}"));
    let env = offline_env(&api.base_url(), home.path());
    let claude = claude.display().to_string();
    let mut t = start_in(home, &["--claude", &claude, "--trust"], &env);
    t.wait_text("solo");

    t.send(b"zebra-one");
    t.wait_text("zebra-one");
    t.send(ENTER);
    let s = t.wait_for("the first answer", |s| s.contains("ANSWER-1 from the stand-in"));
    // The API key came from the environment: the init event says so, and the header shows
    // "api" (per-token billing) where a subscription shows "sub".
    let header = s.lines().find(|l| l.contains("solo")).unwrap_or_default();
    assert!(header.contains(" api ") && !header.contains(" sub "), "billing shown:\n{s}");
    t.wait_for("the turn to end", |s| !s.contains(" running "));

    t.send(b"zebra-two");
    t.wait_text("zebra-two");
    t.send(ENTER);
    // The stand-in counts the prompts it was sent: 2 means the follow-up carried the first.
    t.wait_for("the follow-up's answer", |s| s.contains("ANSWER-2 from the stand-in"));
    t.wait_for("the turn to end", |s| !s.contains(" running "));
    let last = api.messages_requests().pop().unwrap_or_else(|| panic!("no request"));
    assert!(last.user_texts().iter().any(|u| u.contains("zebra-one")), "resumed with the first");

    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
    let parser = t.parser.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!parser.screen().alternate_screen(), "still on the alternate screen");
}

/// A panic restores the terminal (the hook chains the previous one, whose message is shown)
/// and the process ends: nothing waits for the blocked readers on the way out.
#[test]
fn a_panic_restores_the_terminal_and_exits() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let env = [("AGENTMUX_TEST_PANIC".to_string(), "1".to_string())];
    let mut t = start_in(home, &["demo"], &env);
    let status = t.wait_exit();
    assert!(!status.success(), "a panic is a failure: {status:?}");
    let parser = t.parser.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!parser.screen().alternate_screen(), "still on the alternate screen");
    assert!(!parser.screen().hide_cursor(), "the cursor is still hidden");
    let raw = t.raw.lock().unwrap_or_else(|e| e.into_inner());
    let out = String::from_utf8_lossy(&raw);
    let restored = out.rfind("\x1b[?1049l").unwrap_or_else(|| panic!("never left: {out:?}"));
    let message = out.rfind("AGENTMUX_TEST_PANIC is set").unwrap_or_else(|| panic!("{out:?}"));
    assert!(restored < message, "the message is printed on the restored terminal");
}

#[test]
fn a_team_of_128_opens_on_the_overview_filters_opens_one_jumps_to_the_one_asking_and_searches() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let team = home.path().join("team.toml");
    // 128 idle workers and one whose first turn asks for an approval (the simulated `tests`
    // persona runs the suite, which no rule allows).
    std::fs::write(
        &team,
        "[[agent]]\nname = \"w\"\ncount = 128\n\n[[agent]]\nname = \"tests\"\n\
         prompt = \"run the suite\"\nenv = { AGENTMUX_SIM_PERSONA = \"tests\" }\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let team = team.display().to_string();
    let mut t = start_in(home, &["-c", &team, "--claude", "sim", "--trust"], &[]);
    // More agents than tiles fit: the overview is the first screen.
    t.wait_text("overview 129 agents");
    t.wait_text("1 waiting");
    t.send(b"w-12");
    t.wait_text("10 shown");
    t.send(ENTER);
    t.wait_for("w-12 focused", |s| focused_name(s).as_deref() == Some("w-12"));
    // The inbox key goes to the one agent that waits for the user, among 129.
    t.send(b"\x1bi");
    t.wait_for("tests focused", |s| focused_name(s).as_deref() == Some("tests"));
    t.wait_text("tests wants to use Bash");
    // Search every agent: text with regex characters is looked for as it is.
    t.send(b"\x1b?");
    t.wait_text("search every agent");
    t.send(b"a.b*");
    t.wait_text("no match");
    t.send(ESC);
    // ESC and the next key at once would read as one alt-key: wait for the bar to close.
    t.wait_for("the search bar closed", |s| !s.contains("search every agent"));
    // A turn still waits for its approval: quitting asks first.
    let status = t.quit();
    assert!(status.success(), "exit status {status:?}");
}

/// `agentmux ARGS` run to its end in `cwd`, with the environment the terminals in `home` have.
fn control_in(home: &std::path::Path, cwd: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentmux"))
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env("AGENTMUX_CONFIG_DIR", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home)
        .env_remove("AGENTMUX_SOCKET")
        .output()
        .unwrap_or_else(|e| panic!("agentmux {args:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn control_commands_find_the_team_opened_with_c_among_several() {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let h = home.path();
    let (a, b) = (h.join("a"), h.join("b"));
    for (dir, file, agent) in [(&a, "team.toml", "alpha"), (&b, "other.toml", "beta")] {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join(file), format!("[[agent]]\nname = \"{agent}\"\n"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let vars: Vec<(String, String)> = [
        ("HOME", h.to_path_buf()),
        ("AGENTMUX_CONFIG_DIR", h.join("config")),
        ("XDG_DATA_HOME", h.join("data")),
        ("TMPDIR", h.to_path_buf()),
        ("XDG_RUNTIME_DIR", h.to_path_buf()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.display().to_string()))
    .collect();
    let mut one =
        Term::spawn(&["-c", "team.toml", "--trust", "--claude", "sim"], &a, &vars, (ROWS, COLS));
    one.wait_for("alpha's pane", |s| s.contains("alpha") && s.contains("f1 help"));
    let mut two =
        Term::spawn(&["-c", "other.toml", "--trust", "--claude", "sim"], &b, &vars, (ROWS, COLS));
    two.wait_for("beta's pane", |s| s.contains("beta") && s.contains("f1 help"));

    // In the team's directory, `ls` finds the agentmux that has its team file open.
    let (out, err) = control_in(h, &a, &["ls"]);
    assert!(out.contains("alpha") && !out.contains("beta"), "{out}{err}");
    // Anywhere, -c FILE and --workspace NAME (named after the team file) say which.
    let (out, err) = control_in(h, h, &["ls", "-c", "b/other.toml"]);
    assert!(out.contains("beta") && !out.contains("alpha"), "{out}{err}");
    let (out, err) = control_in(h, h, &["ls", "--workspace", "team"]);
    assert!(out.contains("alpha") && !out.contains("beta"), "{out}{err}");
    // Elsewhere, with neither: a clear message saying how to pick.
    let (out, err) = control_in(h, h, &["ls"]);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("other, team") && err.contains("--workspace NAME or -c FILE"), "{err}");
    let (_, err) = control_in(h, h, &["ls", "--workspace", "nope"]);
    assert!(err.contains("workspace nope is not open"), "{err}");
    // Not for the commands that do not talk to an agentmux.
    let (_, err) = control_in(h, h, &["workspaces", "-c", "a/team.toml"]);
    assert!(err.contains("-c is for opening a team and the control commands"), "{err}");

    one.send(CTRL_Q);
    one.wait_exit();
    two.send(CTRL_Q);
    two.wait_exit();
}
