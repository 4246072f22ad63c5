//! The background server against today's single process, with the real binary in real PTYs
//! and simulated agents (real processes):
//!
//! - `keys`: keystroke to screen through a client (8 idle agents, a letter then Backspace, 50 ms
//!   apart) against the same in the single process (`AGENTMUX_NO_SERVER=true`), same run.
//! - `attach`: `agentmux attach` of a workspace with a 100,000-line transcript until its screen
//!   shows it, against reopening the same workspace from disk with `--no-server`.
//! - `idle`: the server's CPU over 10 s with 8 idle agents, with no client and with one.
//!
//! `cargo bench --bench attach [keys|attach|idle]...` (all when none is named; `idle` runs on
//! the workspace `keys` built, so it needs `keys`).

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
const AGENTS: usize = 8;
const KEY_PAIRS: usize = 100;
const FLOOD: usize = 100_000;
const RUNS: usize = 7;

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
    if wanted("keys") || wanted("idle") {
        let started = Instant::now();
        let w = Workspace::new(home.path(), "keys");
        match w.and_then(|w| keys_and_idle(&w, wanted("idle"))) {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(format!("keys/idle: FAILED: {e}")),
        }
        eprintln!("[keys/idle took {:.1?}]", started.elapsed());
    }
    if wanted("attach") {
        let started = Instant::now();
        match Workspace::new(home.path(), "attach").and_then(|w| attach(&w)) {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(format!("attach: FAILED: {e}")),
        }
        eprintln!("[attach took {:.1?}]", started.elapsed());
    }
    println!("\n== attach summary ==");
    for r in rows {
        println!("{r}");
    }
}

/// A scratch home for one workspace. Dropping it kills every server that wrote a pid file in
/// its runtime dir (error paths included), before the temp dir goes.
struct Workspace {
    dir: PathBuf,
    claude: PathBuf,
}

impl Workspace {
    fn new(home: &Path, name: &str) -> Res<Workspace> {
        let dir = home.join(name);
        for d in ["home", "data", "config", "run"] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(dir.join("run"), mode)?;
        let claude = dir.join("claude");
        std::fs::write(&claude, format!("#!/bin/sh\nexec '{}' __sim-claude \"$@\"\n", exe()))?;
        std::fs::set_permissions(&claude, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(Workspace { dir, claude })
    }

    fn team(&self, agents: usize, prompt: &str) -> Res<PathBuf> {
        let toml: String = (0..agents)
            .map(|i| format!("[[agent]]\nname = \"a{i}\"\nprompt = {prompt:?}\n\n"))
            .collect();
        // Under agentmux's own config dir: a team file there is the user's, trusted.
        let team = self.dir.join("config/team.toml");
        std::fs::write(&team, toml)?;
        Ok(team)
    }

    fn env(&self, no_server: bool) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("HOME", self.dir.join("home")),
            ("XDG_DATA_HOME", self.dir.join("data")),
            ("XDG_RUNTIME_DIR", self.dir.join("run")),
            ("AGENTMUX_CONFIG_DIR", self.dir.join("config")),
            ("AGENTMUX_SIM_SPEED", "0".into()),
            ("AGENTMUX_NO_SERVER", if no_server { "true" } else { "false" }.into()),
        ]
    }

    /// `agentmux -c TEAM` (`no_server`: the single process).
    fn open(&self, team: &Path, no_server: bool) -> Res<App> {
        let (team, claude) = (team.display().to_string(), self.claude.display().to_string());
        App::spawn(&self.dir, &["-c", &team, "--claude", &claude], self.env(no_server))
    }

    fn attach(&self, workspace: &str) -> Res<App> {
        App::spawn(&self.dir, &["attach", workspace], self.env(false))
    }

    /// The running server's pid and workspace name, from its pid file.
    fn server(&self) -> Option<(u32, String)> {
        let dir = self.dir.join("run/agentmux");
        std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
            let p = e.path();
            if p.extension()? != "pid" {
                return None;
            }
            let pid = std::fs::read_to_string(&p).ok()?.trim().parse().ok()?;
            Some((pid, p.file_stem()?.to_string_lossy().into_owned()))
        })
    }

    fn wait_server(&self) -> Res<(u32, String)> {
        wait_for("the server's pid file", Duration::from_secs(60), || self.server())
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let Ok(files) = std::fs::read_dir(self.dir.join("run/agentmux")) else { return };
        for p in files.flatten().map(|e| e.path()) {
            if p.extension().is_none_or(|x| x != "pid") {
                continue;
            }
            let pid = std::fs::read_to_string(&p).ok().and_then(|s| s.trim().parse::<i32>().ok());
            if let Some(pid) = pid.filter(|&p| p > 0 && alive(p as u32)) {
                // The server leads its own session: its group holds its agents too.
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
                let _ = wait_for("the server's end", Duration::from_secs(10), || {
                    (!alive(pid as u32)).then_some(())
                });
            }
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn alive(pid: u32) -> bool {
    // A zombie is gone for our purposes (its parent has not reaped it yet).
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> Res<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > limit {
            return Err(format!("{what}: not within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The binary in a PTY, with a reader thread that keeps a vt100 screen and can time a wanted
/// screen: the moment the bytes that made it true arrived.
struct App {
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    shared: Arc<Mutex<Screen>>,
    spawned: Instant,
}

#[derive(Default)]
struct Screen {
    parser: Option<vt100::Parser>,
    bytes: usize,
    /// (row, col, the text the cell must read (or, with `false`, must no longer read), when
    /// that was first seen).
    watch: Option<(u16, u16, String, bool, Option<Instant>)>,
    /// Texts the whole screen must hold, and when it first did.
    holds: Option<(Vec<String>, Option<Instant>)>,
}

impl App {
    fn spawn(dir: &Path, args: &[&str], env: Vec<(&str, PathBuf)>) -> Res<App> {
        let pair = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .map_err(|e| e.to_string())?;
        let mut cmd = CommandBuilder::new(exe());
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let shared = Arc::new(Mutex::new(Screen {
            parser: Some(vt100::Parser::new(ROWS, COLS, 0)),
            ..Screen::default()
        }));
        let mut reader = pair.master.try_clone_reader().map_err(|e| e.to_string())?;
        let writer = pair.master.take_writer().map_err(|e| e.to_string())?;
        let spawned = Instant::now();
        let child = pair.slave.spawn_command(cmd).map_err(|e| e.to_string())?;
        drop(pair.slave);
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
                let Screen { parser, watch, holds, .. } = &mut *s;
                let Some(p) = parser.as_mut() else { break };
                p.process(&buf[..n]);
                if let Some((row, col, text, is, seen @ None)) = watch.as_mut() {
                    if (cell(p.screen(), *row, *col) == *text) == *is {
                        *seen = Some(at);
                    }
                }
                if let Some((texts, seen @ None)) = holds.as_mut() {
                    let all = p.screen().contents();
                    if texts.iter().all(|t| all.contains(t.as_str())) {
                        *seen = Some(at);
                    }
                }
            }
        });
        Ok(App { child, _master: pair.master, writer, shared, spawned })
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

    fn send(&mut self, bytes: &[u8]) -> Res<()> {
        self.writer.write_all(bytes)?;
        Ok(self.writer.flush()?)
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

    /// From the spawn to the arrival of the bytes that made the screen hold every one of
    /// `texts`. Set right after the spawn: the reader checks each read from then on, and a
    /// screen that already holds them is caught by the check below.
    fn time_to(&self, texts: &[&str], limit: Duration) -> Res<Duration> {
        {
            let mut s = self.shared.lock().map_err(|_| "poisoned")?;
            let now = s.parser.as_ref().map(|p| p.screen().contents()).unwrap_or_default();
            let seen = texts.iter().all(|t| now.contains(t)).then(Instant::now);
            s.holds = Some((texts.iter().map(|t| t.to_string()).collect(), seen));
        }
        let at = wait_for(&format!("{texts:?} on screen"), limit, || {
            self.shared.lock().ok()?.holds.as_ref()?.1
        })
        .map_err(|e| format!("{e}:\n{}", self.text()))?;
        Ok(at.saturating_duration_since(self.spawned))
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
        self.send(bytes)?;
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

    fn exited(&mut self, limit: Duration) -> Res<()> {
        let child = &mut self.child;
        let start = Instant::now();
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!("the process did not exit:\n{}", self.text()).into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// alt-q: the client leaves, the server stays.
    fn detach(mut self) -> Res<()> {
        self.send(b"\x1bq")?;
        self.exited(Duration::from_secs(30))
    }

    /// ctrl-q, and yes if asked.
    fn quit(mut self) -> Res<()> {
        self.send(b"\x11")?;
        let start = Instant::now();
        let mut answered = false;
        while self.child.try_wait()?.is_none() {
            if !answered && self.text().contains("Quit agentmux?") {
                self.send(b"y")?;
                answered = true;
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("quit did not end it:\n{}", self.text()).into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn cell(screen: &vt100::Screen, row: u16, col: u16) -> String {
    screen.cell(row, col).map(|c| c.contents()).unwrap_or_default()
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

/// Every agent's first turn has ended and the process that owns them (`owner`) has no child.
fn settled(app: &App, owner: impl Fn() -> Option<u32>) -> Res<()> {
    let need = format!("{AGENTS} need you");
    app.until("every first turn's end", Duration::from_secs(180), |t| {
        (t.matches("✓ done").count() == AGENTS || t.contains(&need))
            && !t.contains("running")
            && owner().is_some_and(|p| !has_children(p))
    })
}

/// Until no byte has reached the terminal for a second: the last frames are drawn.
fn quiet(app: &App) -> Res<()> {
    let mut last = (app.bytes(), Instant::now());
    wait_for("a quiet terminal", Duration::from_secs(60), || {
        let b = app.bytes();
        if b != last.0 {
            last = (b, Instant::now());
        }
        (last.1.elapsed() > Duration::from_secs(1)).then_some(())
    })
}

// ---------------------------------------------------------------------------------------------
// Keys, and the idle server

fn keys_and_idle(w: &Workspace, idle: bool) -> Res<Vec<String>> {
    let team = w.team(AGENTS, "Summarise the project in two lines.")?;
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for no_server in [true, false] {
        let mut app = w.open(&team, no_server)?;
        let client = app.child.process_id().ok_or("no pid")?;
        let owner = || if no_server { Some(client) } else { w.server().map(|s| s.0) };
        settled(&app, owner)?;
        // Eight tiles fit one screen: the first agent's input box has the focus.
        quiet(&app)?;
        let at = input_cell(&app)?;
        let v = type_pairs(&mut app, at)?;
        let what = if no_server { "single process (baseline)" } else { "through the client" };
        rows.push(format!(
            "keys {what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} keystrokes",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v.last().copied().unwrap_or(f64::NAN),
            v.len()
        ));
        figures.push(v);
        if no_server {
            app.quit()?;
        } else if idle {
            rows.extend(idle_server(w, app)?);
        } else {
            app.quit()?;
        }
    }
    let (base, client) = (&figures[0], &figures[1]);
    rows.push(format!(
        "keys: client - single process = p50 {:+.2} ms, p99 {:+.2} ms (goal p50 and p99 within \
         +2 ms)",
        percentile(client, 0.5) - percentile(base, 0.5),
        percentile(client, 0.99) - percentile(base, 0.99)
    ));
    Ok(rows)
}

/// The server's CPU over 10 s with this client attached, then over 10 s with none.
fn idle_server(w: &Workspace, app: App) -> Res<Vec<String>> {
    let (pid, name) = w.wait_server()?;
    let window = Duration::from_secs(10);
    let measure = || -> Res<f64> {
        let before = cpu_ns(pid)?;
        std::thread::sleep(window);
        Ok((cpu_ns(pid)? - before) as f64 / 1e6)
    };
    quiet(&app)?;
    let bytes = app.bytes();
    let attached = measure()?;
    let written = app.bytes() - bytes;
    app.detach()?;
    let detached = measure()?;
    // Back in to quit it the way a user would.
    let again = w.attach(&name)?;
    again.until("the workspace", Duration::from_secs(30), |t| t.contains("✓ done"))?;
    again.quit()?;
    wait_for("the server's end", Duration::from_secs(30), || (!alive(pid)).then_some(()))?;
    Ok(vec![
        format!("idle server, {AGENTS} agents, no client: {detached:.2} ms of CPU over {window:?} (goal 0)"),
        format!(
            "idle server, {AGENTS} agents, one client: {attached:.2} ms of CPU over {window:?}, \
             {written} bytes to the client's terminal (goal 0)"
        ),
    ])
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
    // whatever the path, and measure the cap rather than the path.
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

// ---------------------------------------------------------------------------------------------
// Attach to a long transcript

fn attach(w: &Workspace) -> Res<Vec<String>> {
    let team = w.team(1, &format!("/sim flood={FLOOD}"))?;
    let app = w.open(&team, false)?;
    let limit = Duration::from_secs(600);
    app.until("the flood's end", limit, |t| t.contains("✓ done"))?;
    let (pid, name) = w.wait_server()?;
    let log = find_log(&w.dir.join("data"), "a0.jsonl").ok_or("no log of a0")?;
    let lines = std::fs::read(&log)?.iter().filter(|b| **b == b'\n').count();
    if lines < FLOOD {
        return Err(
            format!("the log has {lines} lines, fewer than {FLOOD}: raise the flood").into()
        );
    }
    app.detach()?;
    let shown = ["a0", "✓ done"];
    let mut attach = Vec::new();
    for _ in 0..RUNS {
        let app = w.attach(&name)?;
        attach.push(app.time_to(&shown, Duration::from_secs(60))?.as_secs_f64() * 1e3);
        app.detach()?;
    }
    let app = w.attach(&name)?;
    // Keys typed before the client has the terminal in raw mode go to the line discipline,
    // which takes ctrl-q as flow control.
    app.until("attached", Duration::from_secs(60), |t| t.contains("✓ done"))?;
    app.quit()?;
    wait_for("the server's end", Duration::from_secs(30), || (!alive(pid)).then_some(()))?;
    let mut reopen = Vec::new();
    for _ in 0..RUNS {
        let app = w.open(&team, true)?;
        reopen.push(app.time_to(&shown, Duration::from_secs(60))?.as_secs_f64() * 1e3);
        app.quit()?;
    }
    attach.sort_by(f64::total_cmp);
    reopen.sort_by(f64::total_cmp);
    let (a, r) = (percentile(&attach, 0.5), percentile(&reopen, 0.5));
    Ok(vec![
        format!(
            "attach, {lines} log lines: median {a:.1} ms (min {:.1}, max {:.1}) over {RUNS} \
             (goal < 200 ms)",
            attach[0],
            attach[RUNS - 1]
        ),
        format!(
            "reopen --no-server, same workspace (baseline): median {r:.1} ms (min {:.1}, max \
             {:.1}) over {RUNS}",
            reopen[0],
            reopen[RUNS - 1]
        ),
        format!("attach / reopen = {:.2}x", a / r),
    ])
}

fn find_log(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_log(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name)
            && p.parent().and_then(|d| d.file_name()).is_some_and(|d| d == "logs")
        {
            return Some(p);
        }
    }
    None
}
