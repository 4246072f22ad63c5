//! The end-to-end benchmarks of issue 8, each as a ratio to a baseline measured in the same run:
//!
//! - `flood` (item 2): 16 agents writing 20,000 events each through real PTYs into the engine
//!   (`spawn_turn`: framing, decoding) and the app's state (`update`), no terminal, against
//!   reading the same bytes through 16 PTYs with no decoding. Two producers: `cat` of the
//!   simulated claude's own flood output (same producer on both sides, so the ratio is
//!   agentmux's own cost), and the simulated claude itself (`/sim flood=20000`).
//! - `idle` (item 4): the real binary in a 160x48 PTY with 8 simulated agents whose first turns
//!   finished: CPU time over 10 seconds, from /proc.
//! - `latency` (item 5): the real run loop (`run::event_loop`) on a backend that timestamps each
//!   flush and reads which probe lines the frame shows; a probe agent's process writes stamped
//!   lines into its PTY. Alone, and beside 16 simulated agents flooding.
//! - `memory` (item 6): peak RSS (VmHWM) of a child process whose app state holds 16 agents'
//!   transcripts of 100,000 lines each (at a 16-pane width; Markdown, code, tool calls, built
//!   through `update` from decoded NDJSON), against the bytes of the text those transcripts show
//!   (and, for scale, the NDJSON they came from and a child that only holds that NDJSON).
//!
//! `cargo bench --bench e2e [flood|idle|latency|memory]...` (all when none is named).
//! `AGENTMUX_BENCH_LINES` changes the memory bench's lines per agent.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentmux::agent::decode::decode_line;
use agentmux::agent::pty::{self, Wake};
use agentmux::agent::{spawn_turn, AgentSpec, ClaudeCmd, EngineMsg, TurnRequest};
use agentmux::app::{start_first_prompts, update, Effect, Msg, State};
use agentmux::config::{Team, TeamAgent};
use agentmux::run::{event_loop, Executor, Headless, Inbox, Spawner, ENGINE_CHANNEL};
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::Terminal;
use tokio::sync::mpsc;

const AGENTS: usize = 16;
const FLOOD_EVENTS: usize = 20_000;
#[path = "common/mod.rs"]
mod common;
use common::{exe, has_children, percentile};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    // `cargo bench` passes `--bench`; names pick benchmarks.
    let names: Vec<&str> =
        args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    let wanted = |n: &str| names.is_empty() || names.contains(&n);
    let home = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return eprintln!("no temp dir: {e}"),
    };
    // Everything the agents and the app write stays in the scratch directory.
    std::env::set_var("HOME", home.path());
    std::env::set_var("XDG_DATA_HOME", home.path().join("data"));
    std::env::set_var("AGENTMUX_CONFIG_DIR", home.path().join("config"));
    std::env::set_var("AGENTMUX_SIM_SPEED", "0");
    let t = Instant::now();
    let mut rows: Vec<String> = Vec::new();
    type Bench = fn(&Path) -> Res<Vec<String>>;
    let benches: [(&str, Bench); 4] =
        [("flood", flood), ("idle", idle), ("latency", latency), ("memory", memory)];
    for (name, run) in benches {
        if !wanted(name) {
            continue;
        }
        let started = Instant::now();
        match run(home.path()) {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(format!("{name}: FAILED: {e}")),
        }
        eprintln!("[{name} took {:.1?}]", started.elapsed());
    }
    println!("\n== e2e summary ({:.1?}) ==", t.elapsed());
    for r in rows {
        println!("{r}");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn team(agents: &[(String, String)], cwd: &Path) -> Team {
    Team {
        path: None,
        defaults: Default::default(),
        supervisor: None,
        agents: agents
            .iter()
            .map(|(name, prompt)| TeamAgent {
                spec: AgentSpec::new(name, cwd),
                prompt: Some(prompt.clone()),
                worktree: false,
            })
            .collect(),
        worktree: Default::default(),
        live: Default::default(),
        limits: Default::default(),
    }
}

fn flood_team(cwd: &Path) -> Team {
    let agents: Vec<(String, String)> = (0..AGENTS)
        .map(|i| (format!("flood{i:02}"), format!("go\n/sim flood={FLOOD_EVENTS}")))
        .collect();
    team(&agents, cwd)
}

/// The turn requests the app itself builds for a team's first prompts.
fn first_requests(state: &mut State, team: &Team) -> Vec<TurnRequest> {
    start_first_prompts(state, State::first_prompts(team))
        .into_iter()
        .filter_map(|e| match e {
            Effect::SpawnTurn(req) => Some(*req),
            _ => None,
        })
        .collect()
}

/// `sh -c 'exec cat FILE'`: claude's arguments land in `$1...` and are ignored.
fn cat_cmd(file: &Path) -> ClaudeCmd {
    ClaudeCmd {
        program: PathBuf::from("/bin/sh"),
        pre_args: vec!["-c".into(), format!("exec cat '{}'", file.display()), "sh".into()],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

// ---------------------------------------------------------------------------------------------
// 2. Flood

/// Runs every request through the real engine into the app's state; returns the time until
/// every turn's exit was applied, the lines applied and their bytes.
fn flood_engine(
    mut state: Option<&mut State>,
    reqs: Vec<TurnRequest>,
    claude: &ClaudeCmd,
) -> Res<(Duration, usize, usize)> {
    let (tx, mut rx) = mpsc::channel(ENGINE_CHANNEL);
    let n = reqs.len();
    let t = Instant::now();
    for mut req in reqs {
        req.claude = claude.clone();
        spawn_turn(req, tx.clone())?;
    }
    drop(tx);
    let (mut exited, mut lines, mut bytes) = (0, 0, 0);
    while let Some(m) = rx.blocking_recv() {
        match &m {
            EngineMsg::Lines { lines: l, .. } => {
                lines += l.len();
                bytes += l.iter().map(|(s, _)| s.len() + 2).sum::<usize>();
            }
            EngineMsg::Exited { exit, .. } => {
                if !exit.success() {
                    return Err(format!("a flood turn failed: {exit:?}").into());
                }
                exited += 1;
            }
            EngineMsg::Started { .. } => {}
        }
        if let Some(state) = state.as_deref_mut() {
            state.now = Instant::now();
            drop(update(state, Msg::Engine(m)));
        }
        if exited == n {
            break;
        }
    }
    Ok((t.elapsed(), lines, bytes))
}

/// The baseline: the same programs in 16 PTYs, read to the end with no framing or decoding.
fn flood_raw(program: &Path, args: &[Vec<String>], cwd: &Path) -> Res<(Duration, usize)> {
    let t = Instant::now();
    let mut readers = Vec::new();
    for a in args {
        // At the agents' own priority, so both sides' producers compete alike.
        let nice = agentmux::agent::AgentOptions::DEFAULT_NICE;
        let p = pty::spawn(
            program,
            a,
            cwd,
            agentmux::agent::env::parent_env().collect::<Vec<_>>(),
            nice,
        )
        .map_err(|e| format!("pty: {e:?}"))?;
        let pid = p.pid;
        let mut r = p.into_reader(Wake::new()?);
        readers.push(std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0usize;
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n;
            }
            let _ = pty::wait(pid);
            total
        }));
    }
    let mut total = 0;
    for r in readers {
        total += r.join().map_err(|_| "a reader panicked")?;
    }
    Ok((t.elapsed(), total))
}

/// One simulated agent's flood, as its PTY delivered it.
fn sim_flood_text(cwd: &Path) -> Res<String> {
    let team = flood_team(cwd);
    let sim = ClaudeCmd::simulated(exe());
    let mut state = State::new(&team, sim.clone(), (200, 60), Instant::now());
    let one = first_requests(&mut state, &team).into_iter().next().ok_or("no turn request")?;
    let (tx, mut rx) = mpsc::channel(ENGINE_CHANNEL);
    spawn_turn(TurnRequest { claude: sim, ..one }, tx)?;
    let mut text = String::new();
    while let Some(m) = rx.blocking_recv() {
        if let EngineMsg::Lines { lines, .. } = m {
            for (s, _) in lines {
                text.push_str(&s);
                text.push('\n');
            }
        }
    }
    Ok(text)
}

fn flood(home: &Path) -> Res<Vec<String>> {
    let cwd = home.join("flood");
    std::fs::create_dir_all(&cwd)?;
    let team = flood_team(&cwd);
    let sim = ClaudeCmd::simulated(exe());
    let new_state = || State::new(&team, sim.clone(), (200, 60), Instant::now());

    let text = sim_flood_text(&cwd)?;
    let file = cwd.join("flood.ndjson");
    std::fs::write(&file, &text)?;
    let events = text.lines().count();
    eprintln!("flood: {events} lines, {} bytes per agent", text.len());

    // A new session id every time: the simulated claude refuses one it has seen.
    let sim_args = || -> Res<Vec<Vec<String>>> {
        let mut state = new_state();
        let mut all = Vec::new();
        for r in first_requests(&mut state, &team) {
            let mut a = sim.pre_args.clone();
            a.extend(agentmux::agent::argv::build_argv(
                &r.spec,
                &r.prompt,
                &r.session,
                &r.extra_args,
            )?);
            all.push(a);
        }
        Ok(all)
    };
    let cat_args: Vec<Vec<String>> =
        (0..AGENTS).map(|_| vec![file.display().to_string()]).collect();

    // Interleaved, medians of 3: the machine is shared.
    let (mut cat_ours, mut cat_base, mut sim_ours, mut sim_base) = (vec![], vec![], vec![], vec![]);
    let mut cat_engine = vec![];
    let mut applied = (0, 0);
    for _ in 0..3 {
        let (d, bytes) = flood_raw(Path::new("/bin/cat"), &cat_args, &cwd)?;
        cat_base.push(d.as_secs_f64());
        if bytes < AGENTS * text.len() {
            return Err(format!("cat read {bytes} bytes").into());
        }
        let mut state = new_state();
        let reqs = first_requests(&mut state, &team);
        let (d, lines, bytes) = flood_engine(Some(&mut state), reqs, &cat_cmd(&file))?;
        cat_ours.push(d.as_secs_f64());
        applied = (lines, bytes);
        if lines < AGENTS * events {
            return Err(format!("the engine applied {lines} lines").into());
        }
        // Where the time goes: the engine alone (framing, decoding, the channel), no state.
        let mut state = new_state();
        let reqs = first_requests(&mut state, &team);
        let (d, _, _) = flood_engine(None, reqs, &cat_cmd(&file))?;
        cat_engine.push(d.as_secs_f64());
        // The simulated claude on both sides.
        let (d, bytes) = flood_raw(Path::new(&exe()), &sim_args()?, &cwd)?;
        if bytes < AGENTS * text.len() {
            return Err(format!("the simulated claudes wrote {bytes} bytes").into());
        }
        sim_base.push(d.as_secs_f64());
        let mut state = new_state();
        let reqs = first_requests(&mut state, &team);
        let (d, _, _) = flood_engine(Some(&mut state), reqs, &sim)?;
        sim_ours.push(d.as_secs_f64());
    }
    let (co, cb, so, sb) = (median(cat_ours), median(cat_base), median(sim_ours), median(sim_base));
    let mb = applied.1 as f64 / 1e6;
    Ok(vec![
        format!(
            "flood (cat producer): engine+state {co:.3} s vs raw PTY read {cb:.3} s: ratio {:.2}x \
             (goal >= 0.7x); {} lines, {mb:.0} MB: {:.0} MB/s, {:.0} k lines/s",
            cb / co,
            applied.0,
            mb / co,
            applied.0 as f64 / co / 1e3
        ),
        format!(
            "flood (cat producer), engine alone (no state): {:.3} s: ratio {:.2}x",
            median(cat_engine.clone()),
            cb / median(cat_engine)
        ),
        format!(
            "flood (simulated claude producer): engine+state {so:.3} s vs raw PTY read {sb:.3} s: \
             ratio {:.2}x (goal >= 0.7x)",
            sb / so
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// 4. Idle

/// utime+stime (clock ticks) of `pid` and of its reaped children, and the nanoseconds on CPU of
/// all its threads (schedstat, finer than ticks).
fn cpu_of(pid: u32) -> Res<(u64, u64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(')').ok_or("bad stat")?.1;
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // After the name: state(0) ... utime(11) stime(12) cutime(13) cstime(14).
    let (own, children) = (f[11] + f[12], f[13] + f[14]);
    let mut ns = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            ns += s.split_whitespace().next().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    let switches = std::fs::read_to_string(format!("/proc/{pid}/status"))?
        .lines()
        .filter(|l| l.contains("ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1).and_then(|x| x.parse::<u64>().ok()))
        .sum();
    Ok((own, children, ns, switches))
}

fn idle(home: &Path) -> Res<Vec<String>> {
    use portable_pty::{native_pty_system, CommandBuilder, PtySize};
    let dir = home.join("idle");
    std::fs::create_dir_all(&dir)?;
    let wrapper = dir.join("claude");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{}' __sim-claude \"$@\"\n", exe()))?;
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let mut toml = String::new();
    for i in 0..8 {
        toml.push_str(&format!(
            "[[agent]]\nname = \"idle{i}\"\nprompt = \"Summarise the project in two lines.\"\n\n"
        ));
    }
    let team_file = dir.join("team.toml");
    std::fs::write(&team_file, toml)?;

    let pair = native_pty_system()
        .openpty(PtySize { rows: 48, cols: 160, pixel_width: 0, pixel_height: 0 })
        .map_err(|e| e.to_string())?;
    let mut cmd = CommandBuilder::new(exe());
    let team_arg = team_file.display().to_string();
    cmd.args(["-c", &team_arg, "--trust", "--claude", &wrapper.display().to_string()]);
    cmd.cwd(&dir);
    cmd.env("TERM", "xterm-256color");
    // The single process: with the background server this process would only be a client,
    // and the idle figure is the UI's together with its agents'.
    cmd.env("AGENTMUX_NO_SERVER", "true");
    let mut child = pair.slave.spawn_command(cmd).map_err(|e| e.to_string())?;
    drop(pair.slave);
    let pid = child.process_id().ok_or("no pid")?;
    let mut reader = pair.master.try_clone_reader().map_err(|e| e.to_string())?;
    let mut writer = pair.master.take_writer().map_err(|e| e.to_string())?;
    let last_output = Arc::new(Mutex::new((Instant::now(), 0usize)));
    let screen = Arc::new(Mutex::new(vt100::Parser::new(48, 160, 0)));
    {
        let (last_output, screen) = (Arc::clone(&last_output), Arc::clone(&screen));
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut l) = last_output.lock() {
                    *l = (Instant::now(), l.1 + n);
                }
                if let Ok(mut p) = screen.lock() {
                    p.process(&buf[..n]);
                }
            }
        });
    }
    // Idle: every first turn has ended (8 turn footers, no child process left) and the screen
    // has been quiet for a second.
    let start = Instant::now();
    loop {
        let (at, _) = *last_output.lock().map_err(|_| "poisoned")?;
        let done = screen.lock().map_or(0, |p| p.screen().contents().matches("✓ done").count());
        if done == 8 && !has_children(pid) && at.elapsed() > Duration::from_secs(1) {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let s = screen.lock().map(|p| p.screen().contents()).unwrap_or_default();
            return Err(format!("the agents did not go idle:\n{s}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let settled = start.elapsed();
    let text = screen.lock().map(|p| p.screen().contents()).unwrap_or_default();
    if std::env::var_os("AGENTMUX_BENCH_SHOW").is_some() {
        eprintln!("{text}");
    }
    let before = cpu_of(pid)?;
    let bytes_before = last_output.lock().map_err(|_| "poisoned")?.1;
    let window = Duration::from_secs(10);
    std::thread::sleep(window);
    let after = cpu_of(pid)?;
    let bytes_after = last_output.lock().map_err(|_| "poisoned")?.1;
    // SAFETY: kill has no memory-safety preconditions; pid is our child.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = writer.flush();
    let _ = child.wait();
    // SAFETY: sysconf has no preconditions.
    let tick_ms = 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks = (after.0 - before.0) + (after.1 - before.1);
    let ns = after.2 - before.2;
    Ok(vec![format!(
        "idle: 8 agents idle (settled after {settled:.1?}), over \
         {window:?}: {:.0} ms CPU by /proc stat utime+stime (+children; {tick_ms:.0} ms ticks), \
         {:.2} ms by schedstat; {} context switches; {} bytes written to the terminal (goal < 20 ms)",
        ticks as f64 * tick_ms,
        ns as f64 / 1e6,
        after.3 - before.3,
        bytes_after - bytes_before
    )])
}

// ---------------------------------------------------------------------------------------------
// 5. Latency

/// What the probe wrote and what the frames showed, shared by the writer and the backend.
#[derive(Default)]
struct Probe {
    sent: Vec<Instant>,
    shown: Vec<Option<Instant>>,
    /// The highest marker a frame showed so far.
    max_shown: Option<usize>,
    frames: usize,
}

/// TestBackend, plus: at every flush (the end of a frame), note the highest probe marker on
/// screen; the probe's lines arrive in order, so every marker up to it is in the frame's state.
struct ProbeBackend {
    inner: TestBackend,
    probe: Arc<Mutex<Probe>>,
}

const MARK: &str = "MARK#";

impl ProbeBackend {
    fn highest_marker(&self) -> Option<usize> {
        let buf = self.inner.buffer();
        let area = buf.area;
        let mut best = None;
        let mut row = String::with_capacity(area.width as usize);
        for y in 0..area.height {
            row.clear();
            for x in 0..area.width {
                row.push_str(buf[(x, y)].symbol());
            }
            let mut from = 0;
            while let Some(i) = row[from..].find(MARK) {
                let at = from + i + MARK.len();
                let digits: String = row[at..].chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse::<usize>() {
                    best = best.max(Some(n));
                }
                from = at;
            }
        }
        best
    }
}

impl Backend for ProbeBackend {
    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> std::io::Result<()> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> std::io::Result<()> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> std::io::Result<Position> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> std::io::Result<()> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> std::io::Result<()> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> std::io::Result<()> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> std::io::Result<Size> {
        self.inner.size()
    }
    fn window_size(&mut self) -> std::io::Result<WindowSize> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()?;
        let now = Instant::now();
        let top = self.highest_marker();
        if let Ok(mut p) = self.probe.lock() {
            p.frames += 1;
            if let Some(top) = top {
                let from = p.max_shown.map_or(0, |m| m + 1);
                for i in from..=top.min(p.shown.len().saturating_sub(1)) {
                    p.shown[i] = Some(now);
                }
                p.max_shown = p.max_shown.max(Some(top));
            }
        }
        Ok(())
    }
}

/// One probe line: an assistant message whose text is the marker.
fn probe_line(i: usize) -> String {
    let v = serde_json::json!({
        "type": "assistant",
        "message": {
            "id": format!("msg_probe_{i}"), "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": format!("{MARK}{i:06}")}],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 1, "output_tokens": 1}
        },
        "parent_tool_use_id": null,
        "session_id": "00000000-0000-4000-8000-000000000001"
    });
    format!("{v}\n")
}

/// Runs the loop with a probe agent (and `flooders` simulated agents flooding); returns the
/// latencies in ms from a line's write to the first frame showing it, and the frames drawn.
fn latency_run(home: &Path, flood: &Flood) -> Res<(Vec<f64>, usize, usize)> {
    let flooders = if let Flood::None = flood { 0 } else { AGENTS };
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let run = RUN.fetch_add(1, Ordering::SeqCst);
    let dir = home.join(format!("latency-{}-{run}", flood.key()));
    std::fs::create_dir_all(&dir)?;
    let fifo = dir.join("probe.fifo");
    let c = std::ffi::CString::new(fifo.display().to_string())?;
    // SAFETY: a valid C string; mkfifo has no other preconditions.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let mut agents = vec![("probe".to_string(), "probe".to_string())];
    agents.extend(
        (0..flooders).map(|i| (format!("flood{i:02}"), format!("go\n/sim flood={FLOOD_EVENTS}"))),
    );
    let team = team(&agents, &dir);
    let (w, h) = (200u16, 60u16);
    let mut state = State::new(&team, ClaudeCmd::simulated(exe()), (w, h), Instant::now());
    let first = start_first_prompts(&mut state, State::first_prompts(&team));

    let probe = Arc::new(Mutex::new(Probe::default()));
    let backend = ProbeBackend { inner: TestBackend::new(w, h), probe: Arc::clone(&probe) };
    let mut terminal = Terminal::new(backend)?;
    let flood_pids = Arc::new(Mutex::new(Vec::<u32>::new()));
    let probe_cmd = ClaudeCmd {
        program: PathBuf::from("/bin/sh"),
        pre_args: vec!["-c".into(), format!("exec cat '{}'", fifo.display()), "sh".into()],
    };
    let flood_cmd = match flood {
        Flood::Paragraphs(file) => Some(cat_cmd(file)),
        _ => None,
    };
    let spawner: Spawner = {
        let flood_pids = Arc::clone(&flood_pids);
        Box::new(move |mut req: TurnRequest, tx| {
            let is_probe = req.spec.name == "probe";
            if is_probe {
                req.claude = probe_cmd.clone();
            } else if let Some(cmd) = &flood_cmd {
                req.claude = cmd.clone();
            }
            let handle = spawn_turn(req, tx).map_err(|e| e.to_string())?;
            if let (false, Some(pid), Ok(mut p)) = (is_probe, handle.pid, flood_pids.lock()) {
                p.push(pid);
            }
            Ok(Some(handle))
        })
    };
    let (engine_tx, engine_rx) = mpsc::channel(ENGINE_CHANNEL);
    let (_control_tx, control_rx) = mpsc::channel(4);
    let (local_tx, local_rx) = mpsc::unbounded_channel();
    let (_term_tx, term_rx) = mpsc::channel(4);
    let inbox =
        Inbox { terminal: term_rx, engine: engine_rx, control: control_rx, local: local_rx };
    let mut exec = Executor::new(engine_tx, spawner);

    let failed = Arc::new(AtomicBool::new(false));
    let writer = {
        let (probe, flood_pids, failed) =
            (Arc::clone(&probe), Arc::clone(&flood_pids), Arc::clone(&failed));
        std::thread::spawn(move || -> Result<usize, String> {
            let result = write_probe(&fifo, &probe, &flood_pids, flooders);
            if result.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            // The loop ends as on SIGTERM (stopping the agents still flooding, if any).
            let _ = local_tx.send(Msg::Terminate);
            result
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let looped = runtime.block_on(event_loop(
        &mut terminal,
        &mut state,
        inbox,
        &mut exec,
        &mut Headless,
        first,
    ));
    runtime.shutdown_background();
    looped?;
    let written = writer.join().map_err(|_| "the probe writer panicked")??;
    let p = probe.lock().map_err(|_| "poisoned")?;
    let mut lat: Vec<f64> = p
        .sent
        .iter()
        .zip(&p.shown)
        .filter_map(|(s, shown)| shown.map(|t| t.duration_since(*s).as_secs_f64() * 1e3))
        .collect();
    if lat.len() < written {
        return Err(format!("only {} of {written} probe lines were shown", lat.len()).into());
    }
    lat.sort_by(f64::total_cmp);
    Ok((lat, written, p.frames))
}

const PROBE_EVERY: Duration = Duration::from_millis(10);
/// Runs of each flood in the latency bench.
const RUNS: usize = 5;

fn write_probe(
    fifo: &Path,
    probe: &Mutex<Probe>,
    flood_pids: &Mutex<Vec<u32>>,
    flooders: usize,
) -> Result<usize, String> {
    // Opens once the probe agent's `cat` opens the other end.
    let mut f = std::fs::OpenOptions::new().write(true).open(fifo).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while flood_pids.lock().map(|p| p.len()).unwrap_or(0) < flooders {
        if Instant::now() > deadline {
            return Err("the flood agents did not start".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let alive =
        || flood_pids.lock().map(|p| p.iter().any(|&pid| !pty::process_gone(pid))).unwrap_or(false);
    let mut i = 0;
    // Alone: 300 lines (3 s). Under the flood: for as long as it lasts, at least 100 lines.
    while (flooders == 0 && i < 300) || (flooders > 0 && (i < 100 || alive())) {
        if Instant::now() > deadline {
            break;
        }
        let line = probe_line(i);
        {
            let mut p = probe.lock().map_err(|_| "poisoned")?;
            p.sent.push(Instant::now());
            p.shown.push(None);
        }
        f.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        i += 1;
        // Not in step with the frames: 10 ms plus a varying 0-6 ms.
        std::thread::sleep(PROBE_EVERY + Duration::from_micros((i as u64 * 7919) % 6000));
    }
    // Wait until the last line was shown (or give up), then let the loop end.
    let shown_by = Instant::now() + Duration::from_secs(10);
    while probe.lock().map(|p| p.max_shown.map(|m| m + 1) < Some(i)).unwrap_or(false) {
        if Instant::now() > shown_by {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(i)
}

/// What the other 16 agents do while the probe writes.
enum Flood {
    None,
    /// The simulated claude's `/sim flood=20000`: one paragraph of 20,000 words.
    Sim,
    /// The same lines (`cat` of them), with a paragraph break every 40 words.
    Paragraphs(PathBuf),
}

impl Flood {
    fn key(&self) -> &'static str {
        match self {
            Flood::None => "alone",
            Flood::Sim => "sim",
            Flood::Paragraphs(_) => "paragraphs",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Flood::None => "alone",
            Flood::Sim => "under the 16-agent flood (/sim flood=20000, one paragraph each)",
            Flood::Paragraphs(_) => "under the 16-agent flood with a paragraph every 40 words",
        }
    }
}

fn latency(home: &Path) -> Res<Vec<String>> {
    let dir = home.join("latency-paragraphs");
    std::fs::create_dir_all(&dir)?;
    let mut text = String::new();
    for line in sim_flood_text(&dir)?.lines() {
        // Every 40th word ends its paragraph: `"tok39 "` becomes `"tok39\n\n"`.
        let word = line.find("\"tok").and_then(|at| {
            let digits: String = line[at + 4..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok().map(|n| (at, digits.len(), n))
        });
        match word {
            Some((at, len, n)) if n % 40 == 39 && line[at + 4 + len..].starts_with(" \"") => {
                text.push_str(&line[..at + 4 + len]);
                text.push_str("\\n\\n\"");
                text.push_str(&line[at + 4 + len + 2..]);
            }
            _ => text.push_str(line),
        }
        text.push('\n');
    }
    if text.matches("\\n\\n\"").count() < FLOOD_EVENTS / 40 {
        return Err("the flood's words were not where expected".into());
    }
    let file = dir.join("flood.ndjson");
    std::fs::write(&file, text)?;
    let mut rows = Vec::new();
    for flood in [Flood::None, Flood::Sim, Flood::Paragraphs(file)] {
        // A flood's tail depends on the scheduler: each is run RUNS times, and the median run
        // (by p99) is the figure, with the range beside it.
        let runs = if let Flood::None = flood { 1 } else { RUNS };
        let mut results = Vec::new();
        for _ in 0..runs {
            let (lat, written, frames) = latency_run(home, &flood)?;
            let p99 = percentile(&lat, 0.99);
            results.push((p99, percentile(&lat, 0.5), lat.last().copied(), written, frames));
        }
        results.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (p99, p50, max, written, frames) = results[results.len() / 2];
        let range = match (results.first(), results.last()) {
            (Some(lo), Some(hi)) if runs > 1 => {
                format!(" (median of {runs} runs; p99 from {:.1} to {:.1} ms)", lo.0, hi.0)
            }
            _ => String::new(),
        };
        rows.push(format!(
            "latency {}: p50 {p50:.1} ms, p99 {p99:.1} ms, max {:.1} ms over {written} probe \
             lines, {frames} frames{range} (goal p99 < 25 ms under the flood)",
            flood.name(),
            max.unwrap_or(f64::NAN),
        ));
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// 6. Memory

/// Transcript lines per agent (at a 16-pane layout's width), `AGENTMUX_BENCH_LINES` to change.
fn lines_per_agent() -> usize {
    std::env::var("AGENTMUX_BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

/// A pane's body width in a 4x4 grid at 200 columns.
const PANE_WIDTH: u16 = 48;

const ANSWER: &str =
    "## Findings\n\nThe decoder spends most of its time in **serde**; the framer is \
cheap. See `decode_line` and [the notes](https://example.com/notes).\n\n\
| stage | time | share |\n|---|--:|--:|\n| frame | 12 µs | 20% |\n| decode | 48 µs | 75% |\n\
| apply | 3 µs | 5% |\n\n```rust\nfn decode_line(line: &str) -> Line {\n    match \
serde_json::from_str(line) {\n        Ok(v) => Line::Event(v),\n        Err(_) => \
Line::Text(line.to_string()),\n    }\n}\n```\n\n1. frame the bytes\n2. decode them\n   - keep \
unknown events\n   - never panic\n3. apply to the transcript\n";

/// One turn's NDJSON, as the CLI writes it: a Markdown answer (table, code, lists), a Bash call
/// with 12 lines of output, a Read with 40 lines of code, and the result. Ids unique per turn.
fn sample_lines(turn: usize) -> Vec<String> {
    use serde_json::json;
    let sid = "00000000-0000-4000-8000-000000000002";
    let assistant = |content: serde_json::Value| {
        json!({"type": "assistant", "message": {"id": format!("msg_{turn}"), "type": "message",
            "role": "assistant", "model": "claude-sonnet-4-5", "content": [content],
            "stop_reason": null, "usage": {"input_tokens": 10, "output_tokens": 100}},
            "parent_tool_use_id": null, "session_id": sid})
        .to_string()
    };
    let result = |id: String, content: String| {
        json!({"type": "user", "message": {"role": "user", "content": [{"type": "tool_result",
            "tool_use_id": id, "content": content, "is_error": false}]},
            "parent_tool_use_id": null, "session_id": sid})
        .to_string()
    };
    let answer = ANSWER.replace("fn decode_line", &format!("fn decode_line_{turn}"));
    let out: Vec<String> = (0..12).map(|i| format!("bench line {i}: 1.23 µs ± 0.01")).collect();
    let code: Vec<String> =
        (1..=40).map(|i| format!("{i:>6}→    let value_{i} = decode(&line_{i})?;")).collect();
    vec![
        assistant(json!({"type": "text", "text": answer})),
        assistant(json!({"type": "tool_use", "id": format!("toolu_b{turn}"), "name": "Bash",
            "input": {"command": "cargo bench --bench decode", "description": "Run the bench"}})),
        result(format!("toolu_b{turn}"), out.join("\n")),
        assistant(json!({"type": "tool_use", "id": format!("toolu_r{turn}"), "name": "Read",
            "input": {"file_path": "src/agent/decode.rs"}})),
        result(format!("toolu_r{turn}"), code.join("\n")),
        json!({"type": "result", "subtype": "success", "is_error": false, "duration_ms": 12300,
            "num_turns": 3, "result": "done", "session_id": sid, "total_cost_usd": 0.0123,
            "usage": {"input_tokens": 100, "output_tokens": 1000}})
        .to_string(),
    ]
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The text a transcript shows, in bytes (every line at `width`, a newline each), read a
/// window at a time.
fn shown_bytes(t: &agentmux::transcript::Transcript, width: u16) -> (usize, usize) {
    let total = t.height(width);
    let (mut bytes, mut lines) = (0, 0);
    let mut top = 0;
    while top < total {
        t.for_each_line(width, top, 2000, |_, _, line| {
            bytes += line.spans.iter().map(|s| s.content.len()).sum::<usize>() + 1;
            lines += 1;
        });
        top += 2000;
    }
    (bytes, lines)
}

/// What the transcript's cells hold, in bytes: prompts, answers, tool calls (name, input as
/// JSON) and their results, notes, errors.
fn content_bytes(t: &agentmux::transcript::Transcript) -> usize {
    use agentmux::transcript::CellKind;
    t.cells()
        .iter()
        .map(|c| match &c.kind {
            CellKind::Prompt(s) | CellKind::Output(s) | CellKind::Error(s) => s.len(),
            CellKind::Assistant(b) | CellKind::Thinking(b) => b.text.len(),
            CellKind::Tool(call) => {
                call.name.len()
                    + call.input.to_string().len()
                    + call.result.as_ref().map_or(0, |r| r.content.len())
            }
            CellKind::Note(n) => n.text.len(),
            CellKind::Footer(_) => 0,
        })
        .sum()
}

/// In a child process. `state`: 16 agents' transcripts of `lines_per_agent()` lines each, built
/// through `update` from decoded engine messages; prints `<VmHWM kB> <NDJSON bytes>
/// <transcript lines> <transcript text bytes> <seconds>`. `bytes <N>`: only holds N bytes of
/// those NDJSON lines; prints `<VmHWM kB>`.
fn child(args: &[String]) {
    let what = args.first().map(String::as_str).unwrap_or("");
    let started = Instant::now();
    if what == "bytes" {
        let want: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
        let mut held: Vec<String> = Vec::new();
        let (mut total, mut rep) = (0, 0);
        while total < want {
            let batch = sample_lines(rep);
            total += batch.iter().map(|l| l.len() + 1).sum::<usize>();
            held.extend(batch);
            rep += 1;
        }
        println!("{}", vm_hwm_kb());
        drop(held);
        return;
    }
    let per_agent = lines_per_agent();
    let agents: Vec<(String, String)> =
        (0..AGENTS).map(|i| (format!("agent{i:02}"), "go".to_string())).collect();
    let team = team(&agents, Path::new("/"));
    let mut s = State::new(&team, ClaudeCmd::real("claude"), (200, 60), Instant::now());
    drop(start_first_prompts(&mut s, State::first_prompts(&team)));
    let mut ndjson = 0usize;
    for a in 0..AGENTS {
        let agent = s.agents[a].id;
        drop(update(&mut s, Msg::Engine(EngineMsg::Started { agent, turn: 1, pid: None })));
        let mut rep = 0;
        while rep % 64 != 0 || s.agents[a].transcript.height(PANE_WIDTH) < per_agent {
            let batch = sample_lines(rep);
            rep += 1;
            ndjson += batch.iter().map(|l| l.len() + 1).sum::<usize>();
            let lines = batch
                .into_iter()
                .map(|l| {
                    let d = decode_line(&l);
                    (l, d)
                })
                .collect();
            drop(update(
                &mut s,
                Msg::Engine(EngineMsg::Lines { agent, turn: 1, lines, ticket: Default::default() }),
            ));
        }
    }
    let peak = vm_hwm_kb();
    let secs = started.elapsed().as_secs_f64();
    let content: usize = s.agents.iter().map(|a| content_bytes(&a.transcript)).sum();
    // Every agent got the same turns: render one (rendering all 16 takes minutes).
    let (text, lines) = shown_bytes(&s.agents[0].transcript, PANE_WIDTH);
    let (text, lines) = (text * AGENTS, lines * AGENTS);
    println!("{peak} {ndjson} {lines} {text} {secs:.2} {content}");
}

fn run_child(args: &[&str]) -> Res<Vec<f64>> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .arg("--child")
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    if !out.status.success() || f.is_empty() {
        return Err(format!("child {args:?}: {} {text}", out.status).into());
    }
    Ok(f)
}

fn memory(_home: &Path) -> Res<Vec<String>> {
    let f = run_child(&["state"])?;
    let [peak_kb, ndjson, lines, text, secs, content] = f[..] else {
        return Err(format!("child state: {f:?}").into());
    };
    let peak = peak_kb * 1024.0;
    let base = run_child(&["bytes", &format!("{ndjson}")])?[0] * 1024.0;
    let mb = |b: f64| b / 1e6;
    Ok(vec![format!(
        "memory: 16 agents x {} transcript lines at width {PANE_WIDTH} ({:.0} lines in all; \
         cells hold {:.0} MB, {:.0} MB of text shown when all is drawn; built from {:.0} MB of \
         NDJSON in {secs:.1} s): peak RSS {:.0} MB = {:.2}x the transcripts' content (goal <= \
         2x), {:.2}x the text shown, {:.2}x the NDJSON; a process holding only the NDJSON lines: \
         {:.0} MB",
        lines_per_agent(),
        lines,
        mb(content),
        mb(text),
        mb(ndjson),
        mb(peak),
        peak / content,
        peak / text,
        peak / ndjson,
        mb(base),
    )])
}
