//! Agents that outlive the terminal: the real binary in real PTYs, with its workspace in a
//! background server. A turn goes on when its terminal is gone and is all there on the next
//! attach; two clients see each other's input; kill -9 of the server loses no logged event; a
//! client of another build is told so. Every wait is for a condition, with a timeout.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod support;

use support::term::{Term, TIMEOUT};

/// A home of its own: the workspace store, the sockets and the simulated claude's files.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(team: &str) -> Home {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("team.toml"), team).unwrap_or_else(|e| panic!("{e}"));
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self) -> Vec<(String, String)> {
        let h = self.path();
        let s = |p: PathBuf| p.display().to_string();
        vec![
            ("HOME".into(), s(h.to_path_buf())),
            ("AGENTMUX_DATA_DIR".into(), s(h.join("data"))),
            ("AGENTMUX_CONFIG_DIR".into(), s(h.join("config"))),
            ("AGENTMUX_SIM_HOME".into(), s(h.join("sim"))),
            ("XDG_RUNTIME_DIR".into(), s(h.to_path_buf())),
            ("TMPDIR".into(), s(h.to_path_buf())),
            ("AGENTMUX_SIM_SPEED".into(), "0".into()),
            // The background server, as a user gets it.
            ("AGENTMUX_NO_SERVER".into(), "false".into()),
        ]
    }

    /// `agentmux ARGS` in a PTY of `rows` x `cols`, in the home.
    fn term(&self, args: &[&str], (rows, cols): (u16, u16)) -> Term {
        Term::spawn(args, self.path(), &self.env(), (rows, cols))
    }

    /// Opens the team: attaches to its server, starting it first when none runs.
    fn open(&self) -> Term {
        self.term(&["-c", "team.toml", "--trust", "--claude", "sim"], (40, 120))
    }

    /// A control command (no terminal), its exit code and output.
    fn control(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_agentmux"))
            .args(args)
            .current_dir(self.path())
            .env_remove("AGENTMUX_SOCKET")
            .envs(self.env())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("agentmux {args:?}: {e}"));
        let start = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            assert!(start.elapsed() < TIMEOUT, "agentmux {args:?} did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    }

    /// The sockets' directory.
    fn run_dir(&self) -> PathBuf {
        self.path().join("agentmux")
    }

    /// The server's pid, once it wrote it.
    fn server_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.run_dir().join("team.pid")).ok()?;
        text.trim().parse().ok()
    }

    fn wait_until(&self, what: &str, ok: impl Fn() -> bool) {
        let start = Instant::now();
        while !ok() {
            assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Home {
    /// A failed test must not leave its server running.
    fn drop(&mut self) {
        if let Some(pid) = self.server_pid() {
            // SAFETY: kill with a pid read from the server's own file and a valid signal.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// The words on a screen (a wrapped paragraph keeps each word whole on one line).
fn words(screen: &str) -> HashSet<String> {
    screen
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        .collect()
}

/// A turn of 120 words, 25 ms apart: about three seconds, whatever the machine.
const SLOW: &str = "[[agent]]\nname = \"solo\"\ncwd = \".\"\nprompt = \"/sim flood=120 pace=25\"\n";

#[test]
fn a_turn_finishes_with_no_terminal_and_the_next_attach_shows_all_of_it() {
    let home = Home::new(SLOW);
    let mut first = home.open();
    first.wait_for("the turn to start", |s| s.contains("tok1 "));
    // The terminal is closed mid-turn: the client goes, the server and the turn do not.
    first.hang_up();
    first.wait_exit();
    let pid = home.server_pid().unwrap_or_else(|| panic!("no server pid"));
    assert!(alive(pid));

    // Exit code 0: the turn ended done.
    let (code, out) = home.control(&["wait", "solo"]);
    assert_eq!(code, Some(0), "{out}");

    let mut again = home.term(&["attach"], (40, 120));
    let screen =
        again.wait_for("the whole answer", |s| s.contains("✓ done") && s.contains("tok119"));
    let seen = words(&screen);
    let missing: Vec<String> =
        (0..120).map(|i| format!("tok{i}")).filter(|w| !seen.contains(w)).collect();
    assert!(missing.is_empty(), "missing {missing:?}:\n{screen}");
    assert_eq!(again.quit().exit_code(), 0);
    home.wait_until("the server to end", || !alive(pid));
    assert!(!home.run_dir().join("team.ui").exists(), "the server removed its socket");
}

#[test]
fn two_clients_at_once_each_at_its_size_both_show_what_one_typed() {
    let home = Home::new("[[agent]]\nname = \"solo\"\ncwd = \".\"\n");
    let mut wide = home.open();
    wide.wait_text("no turns yet");
    // A second open of the same workspace attaches to the same server.
    let mut narrow = home.term(&["-c", "team.toml", "--trust", "--claude", "sim"], (24, 80));
    let screen = narrow.wait_text("no turns yet");
    assert!(screen.lines().all(|l| l.chars().count() <= 80));
    let (code, out) = home.control(&["workspaces"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("team (running)"), "{out}");

    narrow.send(b"typed in the narrow one\r");
    for t in [&wide, &narrow] {
        t.wait_for("the follow-up and its answer in both", |s| {
            // The answer quotes it (at 24 rows the prompt itself has scrolled away).
            s.contains("\"typed in the narrow one\"") && s.contains("✓ done")
        });
    }
    // The wide one is still drawn at its own width.
    assert!(wide.screen().lines().any(|l| l.chars().count() > 100));

    // Detaching one leaves the other attached and the server running.
    narrow.send(b"\x1bq");
    narrow.wait_exit();
    wide.send(b"still here\r");
    wide.wait_for("a second turn", |s| s.contains("› still here"));
    assert_eq!(wide.quit().exit_code(), 0);
}

#[test]
fn quitting_while_a_turn_runs_offers_to_detach_and_the_turn_goes_on() {
    let home = Home::new(SLOW);
    let mut first = home.open();
    first.wait_for("the turn to start", |s| s.contains("tok1 "));
    first.send(b"\x11");
    first.wait_text("detaches instead");
    first.send(b"d");
    first.wait_exit();
    assert!(first.screen().contains("detached from team"), "{}", first.screen());
    let (code, out) = home.control(&["wait", "solo"]);
    assert_eq!(code, Some(0), "{out}");
    let mut again = home.term(&["attach", "team"], (40, 120));
    again.wait_for("the answer", |s| s.contains("tok119") && s.contains("✓ done"));
    assert_eq!(again.quit().exit_code(), 0);
}

#[test]
fn kill_9_of_the_server_loses_no_logged_event_and_the_next_open_restores_it() {
    let home = Home::new(SLOW);
    let mut first = home.open();
    first.wait_for("the turn well under way", |s| s.contains("tok30 "));
    let pid = home.server_pid().unwrap_or_else(|| panic!("no server pid"));
    // SAFETY: kill with the server's pid and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    first.wait_exit();
    let said = first.screen();
    assert!(said.contains("the server of team stopped"), "{said}");
    // What it left: a socket nobody answers on, cleaned up by the next server.
    assert!(home.run_dir().join("team.ui").exists());

    let log = std::fs::read_dir(home.path().join("data/workspaces"))
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path().join("logs/solo.jsonl"))))
        .unwrap_or_else(|| panic!("no workspace"));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
    let logged: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v.pointer("/event/event/delta/text")?.as_str().map(|t| t.trim().to_string())
        })
        .collect();
    assert!(logged.len() >= 2);
    let last = logged.last().cloned().unwrap_or_default();
    assert_eq!(last, format!("tok{}", logged.len() - 1), "no event lost in the middle");

    let mut again = home.open();
    let screen = again.wait_for("the pane rebuilt", |s| s.contains("resumes it"));
    assert!(words(&screen).contains(&last), "{screen}");
    assert_ne!(home.server_pid(), Some(pid), "a new server");
    assert_eq!(again.quit().exit_code(), 0);
}

#[test]
fn a_client_of_another_build_is_told_so_in_one_line() {
    use agentmux::attach::proto::{read_frame, write_frame, ToClient};
    let home = Home::new("[[agent]]\nname = \"solo\"\n");
    let dir = home.run_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = std::os::unix::net::UnixListener::bind(dir.join("team.ui"))
        .unwrap_or_else(|e| panic!("{e}"));
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
        let hello = read_frame(&mut s);
        let old = ToClient::VersionMismatch { server: "0.0.1/0".into(), pid: 4242 };
        write_frame(&mut s, &old.encode()).unwrap_or_else(|e| panic!("{e}"));
        hello
    });
    let mut client = home.term(&["attach", "team"], (24, 100));
    let status = client.wait_exit();
    assert_eq!(status.exit_code(), 1);
    let screen = client.screen();
    assert!(
        screen.contains("is agentmux 0.0.1/0 (pid 4242)") && screen.contains("kill 4242"),
        "{screen}"
    );
    assert!(matches!(server.join(), Ok(Ok(Some(_)))), "the client said hello");
}

#[test]
fn attach_with_nothing_running_says_how_to_start_it() {
    let home = Home::new("[[agent]]\nname = \"solo\"\n");
    let mut client = home.term(&["attach", "team"], (24, 120));
    assert_eq!(client.wait_exit().exit_code(), 1);
    assert!(
        client.screen().contains("no agentmux server runs workspace team"),
        "{}",
        client.screen()
    );
}

#[test]
fn a_server_that_cannot_start_says_why_in_the_terminal_that_asked() {
    let home = Home::new("[[agent]]\nname = \"solo\"\ncwd = \".\"\n");
    // The workspace held by an agentmux in its own terminal, without a server.
    let mut env = home.env();
    env.retain(|(k, _)| k != "AGENTMUX_NO_SERVER");
    env.push(("AGENTMUX_NO_SERVER".into(), "true".into()));
    let args = ["-c", "team.toml", "--trust", "--claude", "sim"];
    let mut owner = Term::spawn(&args, home.path(), &env, (40, 120));
    owner.wait_text("no turns yet");
    let mut second = home.open();
    assert_eq!(second.wait_exit().exit_code(), 1);
    let said = second.screen();
    assert!(said.contains("in use by another agentmux"), "{said}");
    assert!(home.server_pid().is_none(), "no server is left behind");
    assert_eq!(owner.quit().exit_code(), 0);
}
