//! The command line as a user meets it: the real binary, its one-line errors and exit codes,
//! `agentmux workspaces`, `--claude sim`, and the demo's scratch directory on every way out
//! (quit, SIGTERM, a terminal that goes away). Waits are for a condition with a timeout.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::term::Term;

const EXE: &str = env!("CARGO_BIN_EXE_agentmux");

/// A home of its own for one run: config, data and temp directories inside it.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        // XDG_RUNTIME_DIR counts only when it exists.
        std::fs::create_dir(dir.path().join("run")).unwrap_or_else(|e| panic!("mkdir: {e}"));
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(EXE);
        cmd.args(args).current_dir(self.path());
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd.env_remove("AGENTMUX_CLAUDE").env_remove("AGENTMUX_SOCKET");
        cmd
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let p = self.path();
        vec![
            ("HOME", p.to_path_buf()),
            ("AGENTMUX_CONFIG_DIR", p.join("config")),
            ("AGENTMUX_DATA_DIR", p.join("data")),
            ("XDG_RUNTIME_DIR", p.join("run")),
            ("TMPDIR", p.to_path_buf()),
        ]
    }

    /// (exit code, stdout, stderr with the home replaced by `<home>`).
    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self.command(args).output().unwrap_or_else(|e| panic!("run agentmux: {e}"));
        let home = self.path().display().to_string();
        let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&home, "<home>");
        (out.status.code(), clean(&out.stdout), clean(&out.stderr))
    }

    fn demo_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.path())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("agentmux-demo-"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One error line on stderr, nothing on stdout, and the exit code.
fn one_line_error(home: &Home, args: &[&str], code: i32) -> String {
    let (status, out, err) = home.run(args);
    assert_eq!(status, Some(code), "agentmux {args:?}: {err}");
    assert_eq!(out, "", "agentmux {args:?}");
    assert_eq!(err.lines().count(), 1, "agentmux {args:?} said:\n{err}");
    assert!(err.starts_with("agentmux: "), "{err}");
    err
}

#[test]
fn every_command_line_mistake_is_one_line_with_its_exit_code() {
    let home = Home::new();
    std::fs::create_dir(home.path().join("a-dir")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(home.path().join("bad.toml"), "[agent\nname = \"a\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(home.path().join("team.toml"), "[[agent]]\nname = \"a\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(home.path().join("escapes.toml"), "\"\\u001b]2;pwned\\u0007\" = 1\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let errors = [
        one_line_error(&home, &["-c", "missing.toml"], 1),
        one_line_error(&home, &["-c", "a-dir"], 1),
        one_line_error(&home, &["-c", "bad.toml"], 1),
        // The claude given does not exist: refused before the terminal is taken.
        one_line_error(&home, &["-c", "team.toml", "--claude", "/nonexistent/claude"], 1),
        // A team file never trusted, and no terminal to ask on: nothing starts.
        one_line_error(&home, &["-c", "team.toml", "--claude", "sim"], 1),
        // A mistake that quotes escapes (a key that sets the window title) shows their marks.
        one_line_error(&home, &["-c", "escapes.toml"], 1),
        one_line_error(&home, &["--bogus"], 2),
        one_line_error(&home, &["--max-budget-usd=-3"], 2),
        one_line_error(&home, &["export", "nope", "a"], 1),
        one_line_error(&home, &["ls"], 3),
    ];
    insta::assert_snapshot!(errors.join(""));
}

#[test]
fn no_claude_anywhere_is_one_line_saying_where_it_looked() {
    let home = Home::new();
    let mut cmd = home.command(&[]);
    // Only directories without a claude on PATH; the usual places are under the empty home.
    cmd.env("PATH", home.path().join("bin"));
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let err =
        String::from_utf8_lossy(&out.stderr).replace(&home.path().display().to_string(), "<home>");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("agentmux: claude: not found (looked at <home>/bin/claude"), "{err}");
    assert!(err.contains("--claude PATH or AGENTMUX_CLAUDE"), "{err}");
}

#[test]
fn help_on_help_is_help_not_a_mistake() {
    let home = Home::new();
    for args in [&["help", "--help"][..], &["help", "-h"], &["help", "demo", "--help"]] {
        let (code, out, err) = home.run(args);
        assert_eq!(code, Some(0), "agentmux {args:?}: {err}");
        assert!(out.contains("Usage: agentmux"), "agentmux {args:?}: {out}");
    }
    let (_, out, _) = home.run(&["--help"]);
    assert!(out.contains("<PATH|sim>") && out.contains("simulated claude"), "{out}");
}

#[test]
fn without_a_terminal_it_says_what_it_needs_in_one_line() {
    let home = Home::new();
    let err = one_line_error(&home, &["--claude", "sim"], 1);
    assert!(err.starts_with("agentmux: needs a terminal: "), "{err}");
    assert!(err.contains("agentmux ls"), "points to what scripts can use: {err}");
}

#[test]
fn control_commands_with_nothing_running_say_where_they_looked() {
    let home = Home::new();
    let err = one_line_error(&home, &["ls"], 3);
    assert_eq!(
        err,
        "agentmux: no agentmux is running (no socket answers in <home>/run/agentmux; set \
         AGENTMUX_SOCKET to reach one elsewhere)\n"
    );
}

#[test]
fn workspaces_lists_an_empty_workspace_with_zero_agents_and_no_negative_cost() {
    let home = Home::new();
    let data = home.path().join("data");
    let key = agentmux::store::WorkspaceKey::Named("empty-one".into());
    let ws =
        agentmux::store::Workspace::open_or_create(&data, &key, agentmux::store::Access::Exclusive);
    drop(ws.unwrap_or_else(|e| panic!("{e}")));
    let (code, out, err) = home.run(&["workspaces"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("-0.00"), "{out}");
    // Every line's COST ends in the same column as its header.
    let widths: Vec<usize> = out.lines().map(|l| l.chars().count()).collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "ragged COST column:\n{out}");
    // The date changes from run to run.
    let out = regex_free_date(&out);
    insta::assert_snapshot!(out);
}

/// `2026-11-21 10:04 UTC` -> `YYYY-MM-DD hh:mm UTC`, keeping widths.
fn regex_free_date(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.to_string();
        if let Some(i) = l.find(" UTC") {
            if i >= 16 && l.is_char_boundary(i - 16) {
                l.replace_range(i - 16..i, "YYYY-MM-DD hh:mm");
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// In a PTY

/// agentmux in a 40x140 PTY in `home`, with the simulated agents fast but not instant.
fn start_in_pty(home: &Home, args: &[&str], extra_env: &[(&str, &str)]) -> Term {
    let mut env: Vec<(String, String)> =
        home.env().into_iter().map(|(k, v)| (k.to_string(), v.display().to_string())).collect();
    env.push(("AGENTMUX_SIM_SPEED".into(), "0.05".into()));
    env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Term::spawn(args, home.path(), &env, (40, 140))
}

/// crossterm's reader spins on a hung-up terminal without returning; when it ran on the loop's
/// thread, the SIGHUP was never taken, about one run in three (see src/run/input.rs).
#[test]
fn the_demo_removes_its_scratch_directory_when_the_terminal_hangs_up() {
    let home = Home::new();
    let mut pty = start_in_pty(&home, &["demo"], &[]);
    pty.wait_text("supervisor");
    assert_eq!(home.demo_dirs().len(), 1, "the demo works in a scratch directory");
    // The terminal goes away, then the hang-up.
    pty.hang_up();
    pty.signal(libc::SIGHUP);
    let status = pty.wait_exit();
    // Not 101: writing to the closed terminal on the way out must not panic.
    assert!(status.success(), "exit status after SIGHUP: {status:?}");
    assert_eq!(home.demo_dirs(), Vec::<PathBuf>::new(), "scratch directory left behind");
}

#[test]
fn the_demo_removes_its_scratch_directory_on_sigterm() {
    let home = Home::new();
    let mut pty = start_in_pty(&home, &["demo"], &[]);
    pty.wait_text("supervisor");
    assert_eq!(home.demo_dirs().len(), 1);
    pty.signal(libc::SIGTERM);
    let status = pty.wait_exit();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert_eq!(home.demo_dirs(), Vec::<PathBuf>::new(), "scratch directory left behind");
}

/// Command-line arguments, environment, settings file.
type Way<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], Option<&'a str>);

/// A team file runs with the simulated claude, chosen by `--claude sim`, `AGENTMUX_CLAUDE=sim`
/// or the settings' `claude = "sim"`: its first prompt's turn finishes.
#[test]
fn a_team_file_runs_with_the_simulated_claude() {
    let team = "[[agent]]\nname = \"solo\"\nprompt = \"say hello\"\n";
    let ways: [Way; 3] = [
        (&["-c", "team.toml", "--trust", "--claude", "sim"], &[], None),
        (&["-c", "team.toml", "--trust"], &[("AGENTMUX_CLAUDE", "sim")], None),
        (&["-c", "team.toml", "--trust"], &[], Some("claude = \"sim\"\n")),
    ];
    for (args, env, settings) in ways {
        let home = Home::new();
        std::fs::write(home.path().join("team.toml"), team).unwrap_or_else(|e| panic!("{e}"));
        if let Some(settings) = settings {
            std::fs::create_dir_all(home.path().join("config")).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(home.path().join("config/config.toml"), settings)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // PATH without a claude: only the simulated one can answer.
        let path = home.path().join("bin");
        let path = path.to_string_lossy().into_owned();
        let mut env = env.to_vec();
        env.push(("PATH", path.as_str()));
        let mut pty = start_in_pty(&home, args, &env);
        let screen = pty.wait_text("✓ done");
        assert!(screen.contains("solo"), "{args:?} {env:?}:\n{screen}");
        pty.signal(libc::SIGTERM);
        let status = pty.wait_exit();
        assert!(status.success(), "{args:?} {env:?}: {status:?}");
    }
}
