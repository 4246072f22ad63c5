//! Fleet figures with the real binary in a real PTY and simulated agents (real processes):
//!
//! - `idle`: 128 agents whose first turns ended, agentmux's own CPU over 10 s (from /proc),
//!   against the same with 8 agents, measured in the same run.
//! - `keys`: keystroke to screen (a letter typed into the focused input box, then Backspace,
//!   50 ms apart, each timed until the terminal shows it) while 64 agents stream (40 deltas a second each,
//!   from 64 processes), against the same 64 agents idle afterwards.
//!
//! `cargo bench --bench fleet [idle|keys]...` (both when none is named).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

#[path = "common/mod.rs"]
mod common;
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
    let benches: [(&str, Bench); 2] = [("idle", idle), ("keys", keys)];
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

impl App {
    fn start(dir: &Path, agents: usize, prompt: &str) -> Res<App> {
        let wrapper = dir.join("claude");
        std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{}' __sim-claude \"$@\"\n", exe()))?;
        std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let toml: String = (0..agents)
            .map(|i| format!("[[agent]]\nname = \"a{i}\"\nprompt = {prompt:?}\n\n"))
            .collect();
        // Under agentmux's own config dir: a team file there is the user's, trusted.
        let team = dir.join("config/team.toml");
        std::fs::create_dir_all(dir.join("config"))?;
        std::fs::write(&team, toml)?;
        let pair = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .map_err(|e| e.to_string())?;
        let mut cmd = CommandBuilder::new(exe());
        cmd.args(["-c", &team.display().to_string(), "--claude", &wrapper.display().to_string()]);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        for (k, v) in scratch_env(dir) {
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

fn scratch_env(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("HOME", dir.join("home")),
        ("XDG_DATA_HOME", dir.join("data")),
        ("XDG_RUNTIME_DIR", dir.join("run")),
        ("AGENTMUX_CONFIG_DIR", dir.join("config")),
        ("AGENTMUX_SIM_SPEED", PathBuf::from("0")),
    ]
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
    let mut app = App::start(&dir, KEY_AGENTS, "/sim flood=2400 pace=25\nstream")?;
    app.until("the overview", Duration::from_secs(60), |t| t.contains("overview"))?;
    app.writer.write_all(b"\x1b")?; // esc: the tiles, the first agent's input box focused
    app.writer.flush()?;
    let streaming = format!("{KEY_AGENTS} running");
    app.until("every agent streaming", Duration::from_secs(60), |t| {
        t.contains(&streaming) && t.contains("tok")
    })?;
    let at = input_cell(&app)?;
    let busy = type_pairs(&mut app, at)?;
    let still = app.text();
    let running = still
        .lines()
        .last()
        .and_then(|l| l.split(" running").next())
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or("?")
        .to_string();
    settled_keys(&app)?;
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
            &format!("while {KEY_AGENTS} agents stream ({running} still running at the end)"),
            &busy,
        ),
        line(&format!("the same {KEY_AGENTS} agents idle (baseline)"), &quiet),
        format!(
            "keys: p99 streaming / idle = {:.2}x (goal p99 < 25 ms while they stream)",
            percentile(&busy, 0.99) / percentile(&quiet, 0.99)
        ),
    ])
}

/// Waits until no turn runs (the streams last about a minute).
fn settled_keys(app: &App) -> Res<()> {
    let pid = app.child.process_id().ok_or("no pid")?;
    app.until("the streams' end", Duration::from_secs(240), |t| {
        !t.contains("running") && !has_children(pid)
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
