//! Fleet figures with the real binary in a real PTY and simulated agents (real processes):
//!
//! - `idle`: 128 agents whose first turns ended, agentmux's own CPU over 10 s (from /proc),
//!   against the same with 8 agents, measured in the same run.
//! - `keys`: keystroke to screen (a letter typed into the focused input box, then Backspace,
//!   50 ms apart, each timed until the terminal shows it) while 64 agents stream (40 deltas a second each,
//!   from 64 processes), against the same 64 agents idle afterwards.
//!
//! - `keys-real`: the same keystrokes while 64 real Claude Code processes stream (40 deltas a
//!   second each from the loopback stand-in of the API, `tests/support/fake_api.rs`), against
//!   the same 64 idle afterwards. The CLI is `AGENTMUX_TEST_CLAUDE`, else `target/claude-cli`,
//!   else `claude` on PATH; without one it says so. About 12 GB of memory for the 64 processes.
//!
//! `cargo bench --bench fleet [idle|keys|keys-real]...` (all when none is named).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

#[path = "../tests/support/cli.rs"]
mod cli;
#[path = "common/mod.rs"]
mod common;
#[path = "../tests/support/fake_api.rs"]
mod fake_api;
use common::{exe, has_children, percentile};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const ROWS: u16 = 48;
const COLS: u16 = 160;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> =
        args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    let wanted = |n: &str| names.is_empty() || names.contains(&n);
    let home = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("no temp dir: {e}"),
    };
    let mut rows = Vec::new();
    type Bench = fn(&Path) -> Res<Vec<String>>;
    let benches: [(&str, Bench); 3] = [("idle", idle), ("keys", keys), ("keys-real", keys_real)];
    for (name, run) in benches {
        if wanted(name) {
            let started = Instant::now();
            match run(home.path()) {
                Ok(r) => rows.extend(r),
                Err(e) => rows.push(format!("{name}: FAILED: {e}")),
            }
            eprintln!("[{name} took {:.1?}]", started.elapsed());
        }
    }
    println!("\n== fleet summary ==");
    for r in rows {
        println!("{r}");
    }
}

/// The binary in a PTY, with a reader thread that keeps a vt100 screen and can time a wanted
/// screen: the moment the bytes that made it true arrived.
struct App {
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    shared: Arc<Mutex<Screen>>,
}

#[derive(Default)]
struct Screen {
    parser: Option<vt100::Parser>,
    bytes: usize,
    /// (row, col, the text the cell must read (or, with `false`, must no longer read), when
    /// that was first seen).
    watch: Option<(u16, u16, String, bool, Option<Instant>)>,
}

/// Who the agents are: simulated (`agentmux __sim-claude`), or the real CLI offline against a
/// stand-in API at this base URL.
enum Agents<'a> {
    Simulated,
    /// `nice`: the team's `nice` for every agent (unset: agentmux's default).
    Real {
        claude: &'a Path,
        base_url: String,
        nice: Option<u8>,
    },
}

impl App {
    fn start(dir: &Path, agents: usize, prompt: &str) -> Res<App> {
        App::start_with(dir, agents, prompt, Agents::Simulated)
    }

    fn start_with(dir: &Path, agents: usize, prompt: &str, who: Agents) -> Res<App> {
        let mut env = scratch_env(dir);
        let (claude, billing) = match &who {
            Agents::Simulated => {
                let wrapper = dir.join("claude");
                let script = format!("#!/bin/sh\nexec '{}' __sim-claude \"$@\"\n", exe());
                std::fs::write(&wrapper, script)?;
                let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
                std::fs::set_permissions(&wrapper, mode)?;
                (wrapper, String::new())
            }
            Agents::Real { claude, base_url, nice } => {
                let home = dir.join("home");
                std::fs::create_dir_all(&home)?;
                env.extend(
                    cli::offline_env(base_url, &home).into_iter().map(|(k, v)| (k, v.into())),
                );
                // The stand-in's key is an API key: the team bills the API (a subscriber's
                // turns would go to the same stand-in; only the key differs).
                let nice = nice.map(|n| format!("nice = {n}\n")).unwrap_or_default();
                (claude.to_path_buf(), format!("billing = \"api\"\n{nice}"))
            }
        };
        let toml: String = (0..agents)
            .map(|i| format!("[[agent]]\nname = \"a{i}\"\nprompt = {prompt:?}\n{billing}\n"))
            .collect();
        // Under agentmux's own config dir: a team file there is the user's, trusted.
        let team = dir.join("config/team.toml");
        std::fs::create_dir_all(dir.join("config"))?;
        std::fs::write(&team, toml)?;
        let pair = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .map_err(|e| e.to_string())?;
        let mut cmd = CommandBuilder::new(exe());
        cmd.args(["-c", &team.display().to_string(), "--claude", &claude.display().to_string()]);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        // The single process: with the background server this process would only be a
        // client, and these figures are of the UI that owns the agents.
        cmd.env("AGENTMUX_NO_SERVER", "true");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).map_err(|e| e.to_string())?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().map_err(|e| e.to_string())?;
        let writer = pair.master.take_writer().map_err(|e| e.to_string())?;
        let shared = Arc::new(Mutex::new(Screen {
            parser: Some(vt100::Parser::new(ROWS, COLS, 0)),
            ..Screen::default()
        }));
        let screen = Arc::clone(&shared);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let at = Instant::now();
                let Ok(mut s) = screen.lock() else { break };
                s.bytes += n;
                let Screen { parser, watch, .. } = &mut *s;
                let Some(p) = parser.as_mut() else { break };
                p.process(&buf[..n]);
                if let Some((row, col, text, is, seen @ None)) = watch.as_mut() {
                    if (cell(p.screen(), *row, *col) == *text) == *is {
                        *seen = Some(at);
                    }
                }
            }
        });
        Ok(App { child, _master: pair.master, writer, shared })
    }

    fn text(&self) -> String {
        self.shared
            .lock()
            .ok()
            .and_then(|s| s.parser.as_ref().map(|p| p.screen().contents()))
            .unwrap_or_default()
    }

    fn bytes(&self) -> usize {
        self.shared.lock().map(|s| s.bytes).unwrap_or(0)
    }

    /// Polls the screen until `done` holds (up to `limit`).
    fn until(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> Res<()> {
        let start = Instant::now();
        loop {
            let text = self.text();
            if done(&text) {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!("{what} never showed:\n{text}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Writes `bytes` and returns how long until the cell at (row, col) reads `text` (`is`) or
    /// no longer does.
    fn timed(
        &mut self,
        bytes: &[u8],
        (row, col): (u16, u16),
        text: &str,
        is: bool,
    ) -> Res<Duration> {
        self.shared.lock().map_err(|_| "poisoned")?.watch =
            Some((row, col, text.to_string(), is, None));
        let sent = Instant::now();
        self.writer.write_all(bytes)?;
        self.writer.flush()?;
        loop {
            let seen = self.shared.lock().map_err(|_| "poisoned")?.watch.as_ref().and_then(|w| w.4);
            if let Some(at) = seen {
                return Ok(at.saturating_duration_since(sent));
            }
            if sent.elapsed() > Duration::from_secs(30) {
                let text = self.text();
                return Err(
                    format!("no change at ({row}, {col}) after a keystroke:\n{text}").into()
                );
            }
            // A short poll: the reader thread stamps the arrival, so this adds nothing to it.
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    fn stop(mut self) {
        if let Some(pid) = self.child.process_id() {
            // SAFETY: kill has no memory-safety preconditions; pid is our child.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

fn scratch_env(dir: &Path) -> Vec<(String, PathBuf)> {
    [
        ("HOME", dir.join("home")),
        ("XDG_DATA_HOME", dir.join("data")),
        ("XDG_RUNTIME_DIR", dir.join("run")),
        ("AGENTMUX_CONFIG_DIR", dir.join("config")),
        ("AGENTMUX_SIM_SPEED", PathBuf::from("0")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn cell(screen: &vt100::Screen, row: u16, col: u16) -> String {
    screen.cell(row, col).map(|c| c.contents()).unwrap_or_default()
}

/// Every agent's first turn has ended and its process is gone.
fn settled(app: &App, agents: usize) -> Res<()> {
    let pid = app.child.process_id().ok_or("no pid")?;
    let need = format!("{agents} need you");
    app.until("every first turn's end", Duration::from_secs(180), |t| {
        (t.matches("✓ done").count() == agents || t.contains(&need))
            && !t.contains("running")
            && !has_children(pid)
    })
}

/// Nanoseconds on CPU of all of `pid`'s threads (schedstat).
fn cpu_ns(pid: u32) -> Res<u64> {
    let mut ns = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            ns += s.split_whitespace().next().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Ok(ns)
}

// ---------------------------------------------------------------------------------------------
// Idle

fn idle(home: &Path) -> Res<Vec<String>> {
    let mut rows = Vec::new();
    let mut base = None;
    for agents in [8, 128] {
        let dir = home.join(format!("idle-{agents}"));
        std::fs::create_dir_all(&dir)?;
        let app = App::start(&dir, agents, "Summarise the project in two lines.")?;
        settled(&app, agents)?;
        // The last frames of the turns' ends, and the highlighter's warm-up, are over.
        std::thread::sleep(Duration::from_secs(2));
        let pid = app.child.process_id().ok_or("no pid")?;
        let (before, bytes) = (cpu_ns(pid)?, app.bytes());
        let window = Duration::from_secs(10);
        std::thread::sleep(window);
        let (ms, written) = ((cpu_ns(pid)? - before) as f64 / 1e6, app.bytes() - bytes);
        app.stop();
        let against = match base {
            None => {
                base = Some(ms);
                String::new()
            }
            Some(b) => format!(", {:+.1} ms against 8 agents in the same run ({b:.1} ms)", ms - b),
        };
        rows.push(format!(
            "idle {agents} agents: {ms:.1} ms of CPU over {window:?}, {written} bytes to the \
             terminal{against} (goal < 20 ms)"
        ));
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Keys

const KEY_AGENTS: usize = 64;
const KEY_PAIRS: usize = 100;

fn keys(home: &Path) -> Res<Vec<String>> {
    let dir = home.join("keys");
    std::fs::create_dir_all(&dir)?;
    // 40 deltas a second for a minute: a steady stream, as a model writes.
    let app = App::start(&dir, KEY_AGENTS, "/sim flood=2400 pace=25\nstream")?;
    keys_on(app, "agents", "p99 < 25 ms", true)
}

/// Deltas a real agent's answer streams in, and the pause between them: 40 a second for a
/// minute, as the simulated ones.
const REAL_DELTAS: usize = 2400;
const REAL_PACE: Duration = Duration::from_millis(25);

fn keys_real(home: &Path) -> Res<Vec<String>> {
    let Some(claude) = cli::find_claude() else {
        return Ok(vec!["keys-real: no claude CLI found (AGENTMUX_TEST_CLAUDE, \
                        target/claude-cli, PATH); skipped"
            .into()]);
    };
    let api = fake_api::FakeApi::start(|_| {
        fake_api::Reply::text_deltas((0..REAL_DELTAS).map(|i| format!("word{i} ")), REAL_PACE)
    });
    let mut rows = Vec::new();
    // agentmux's default (the agents below the UI), then the agents at the UI's own priority:
    // the baseline that shows what the lowering buys on a machine they oversubscribe.
    for (nice, what) in [(None, "real CLI processes"), (Some(0), "real CLI processes at nice 0")] {
        let dir = home.join(format!("keys-real-{}", nice.unwrap_or(99)));
        std::fs::create_dir_all(&dir)?;
        let who = Agents::Real { claude: &claude, base_url: api.base_url(), nice };
        let app = App::start_with(&dir, KEY_AGENTS, "stream", who)?;
        // Live processes stay up between turns: idle is no turn running, not no process.
        rows.extend(keys_on(app, what, "p99 < 50 ms", false)?);
    }
    Ok(rows)
}

/// Keystrokes while the agents stream, then the same once they are idle.
fn keys_on(mut app: App, what: &str, goal: &str, exits: bool) -> Res<Vec<String>> {
    app.until("the overview", Duration::from_secs(120), |t| t.contains("overview"))?;
    app.writer.write_all(b"\x1b")?; // esc: the tiles, the first agent's input box focused
    app.writer.flush()?;
    let streaming = format!("{KEY_AGENTS} running");
    app.until("every agent streaming", Duration::from_secs(120), |t| {
        t.contains(&streaming) && (t.contains("word") || t.contains("tok"))
    })?;
    let at = input_cell(&app)?;
    let pid = app.child.process_id().ok_or("no pid")?;
    let (cpu0, t0) = (cpu_ns(pid)?, Instant::now());
    let busy = type_pairs(&mut app, at)?;
    // agentmux's own share of a core while they stream: what it costs to keep up with them.
    let share = (cpu_ns(pid)? - cpu0) as f64 / 1e9 / t0.elapsed().as_secs_f64();
    let still = app.text();
    let running = still
        .lines()
        .last()
        .and_then(|l| l.split(" running").next())
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or("?")
        .to_string();
    settled_keys(&app, exits)?;
    let quiet = type_pairs(&mut app, at)?;
    app.stop();
    let line = |name: &str, v: &[f64]| {
        format!(
            "keys {name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} keystrokes",
            percentile(v, 0.5),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(f64::NAN),
            v.len()
        )
    };
    Ok(vec![
        line(
            &format!("while {KEY_AGENTS} {what} stream ({running} still running at the end)"),
            &busy,
        ),
        line(&format!("the same {KEY_AGENTS} {what} idle (baseline)"), &quiet),
        format!("keys ({what}): agentmux used {:.0}% of a core while they streamed", share * 100.0),
        format!(
            "keys ({what}): p99 streaming / idle = {:.2}x (goal {goal} while they stream)",
            percentile(&busy, 0.99) / percentile(&quiet, 0.99)
        ),
    ])
}

/// Waits until no turn runs (the streams last about a minute), and with `exits` until every
/// agent's process is gone.
fn settled_keys(app: &App, exits: bool) -> Res<()> {
    let pid = app.child.process_id().ok_or("no pid")?;
    app.until("the streams' end", Duration::from_secs(240), |t| {
        !(t.contains("running") || exits && has_children(pid))
    })
}

/// Where the focused input box's first character goes: right after its `› ` prompt, the
/// lowest one inside the focused pane's heavy border (prompts in the transcript show `›` too).
fn input_cell(app: &App) -> Res<(u16, u16)> {
    let s = app.shared.lock().map_err(|_| "poisoned")?;
    let screen = s.parser.as_ref().ok_or("no screen")?.screen();
    for row in (0..ROWS).rev() {
        for col in 0..COLS.saturating_sub(2) {
            if cell(screen, row, col) == "┃"
                && cell(screen, row, col + 1) == "›"
                && cell(screen, row, col + 2).trim().is_empty()
            {
                return Ok((row, col + 3));
            }
        }
    }
    Err(format!("no input box on screen:\n{}", screen.contents()).into())
}

/// Types a letter and erases it, KEY_PAIRS times: each keystroke timed to the screen. Sorted.
fn type_pairs(app: &mut App, at: (u16, u16)) -> Res<Vec<f64>> {
    let mut v = Vec::with_capacity(KEY_PAIRS * 2);
    // A fast typist's pace: a key right after the last frame would wait for the frame cap
    // (8 ms) whatever the load, and measure the cap rather than the load.
    let gap = Duration::from_millis(50);
    for i in 0..KEY_PAIRS {
        let letter = ((b'a' + (i % 26) as u8) as char).to_string();
        std::thread::sleep(gap);
        v.push(app.timed(letter.as_bytes(), at, &letter, true)?);
        std::thread::sleep(gap);
        v.push(app.timed(b"\x7f", at, &letter, false)?);
    }
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    Ok(ms)
}
