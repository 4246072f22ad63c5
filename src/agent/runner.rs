//! One turn of one agent: spawn it, read it on a blocking thread, hand decoded lines to the app.
//!
//! Contract (the rest of the program codes against it):
//! - `spawn_turn` spawns `claude` in a fresh PTY with the request's argv, cwd and environment,
//!   and returns at once. A blocking thread reads the PTY, frames and decodes lines (off the
//!   render path) and sends them, batched per read, into the shared bounded `tx`: a slow consumer
//!   pushes back on the reader, nothing is dropped.
//! - Messages for one turn arrive in order: `Started`, zero or more `Lines`, then exactly one
//!   `Exited` (also when the process was killed or could not be waited on).
//! - `TurnHandle::interrupt` stops the whole process group: SIGINT, then SIGTERM, then SIGKILL
//!   after a grace period, without blocking the caller.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use crate::agent::decode::{Frame, Framer};
use crate::agent::pty::{self, ProcessState, PtySpawnError, Wake};
use crate::agent::{AgentId, AgentSpec, Line};

/// How to start claude: the real CLI's path, or agentmux's own simulated claude
/// (`agentmux __sim-claude ...`), which takes the same flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaudeCmd {
    pub program: PathBuf,
    /// Arguments before the turn's own (`["__sim-claude"]` for the simulated claude).
    pub pre_args: Vec<String>,
}

impl ClaudeCmd {
    pub fn real(program: impl Into<PathBuf>) -> Self {
        ClaudeCmd { program: program.into(), pre_args: Vec::new() }
    }

    /// The simulated claude inside the agentmux executable at `agentmux_exe`.
    pub fn simulated(agentmux_exe: impl Into<PathBuf>) -> Self {
        ClaudeCmd {
            program: agentmux_exe.into(),
            pre_args: vec![crate::SIM_SUBCOMMAND.to_string()],
        }
    }
}

/// Which conversation a turn belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionArg {
    /// The first turn: `--session-id <uuid>` so the id is known before the first byte.
    New(String),
    /// A follow-up: `--resume <id>`.
    Resume(String),
    /// A new conversation that starts as a copy of `from` (`--resume <from> --fork-session`),
    /// cut after the assistant message `at` when given (`--resume-session-at <uuid>`, measured
    /// in 2.1.197 and 2.1.332: the message's line uuid, not its `msg_` id). The CLI reports
    /// the new id in its init.
    Fork { from: String, at: Option<String> },
}

impl SessionArg {
    /// The session id the turn names (for a fork, the one it copies).
    pub fn id(&self) -> &str {
        match self {
            SessionArg::New(id) | SessionArg::Resume(id) => id,
            SessionArg::Fork { from, .. } => from,
        }
    }
}

/// A task the supervisor handed to a worker: the turn that runs it reports back under this id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

/// Who asked for a turn. Carried from the request through the queue to the turn, so that the
/// relay knows a supervisor's task or its own turn by id, never by what the prompt says (the
/// user may type the same words).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// The user (a key, a script over the socket, a team file's first prompt).
    #[default]
    User,
    /// A supervisor's task, reported back to it when its turn ends.
    Task(TaskId),
    /// The supervisor's turn that carries its workers' reports.
    Relay,
}

#[derive(Clone, Debug)]
pub struct TurnRequest {
    pub agent: AgentId,
    /// Sequence number of the turn within the agent, echoed in every message.
    pub turn: u64,
    pub claude: ClaudeCmd,
    pub spec: AgentSpec,
    pub prompt: String,
    pub origin: Origin,
    pub session: SessionArg,
    /// Variables the app adds (AGENTMUX_SOCKET, AGENTMUX_AGENT, PATH, ...), after the env rules.
    pub extra_env: Vec<(String, String)>,
    /// Arguments the app adds before `--` (e.g. `--permission-prompt-tool`).
    pub extra_args: Vec<String>,
    pub max_line_bytes: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EngineMsg {
    Started {
        agent: AgentId,
        turn: u64,
        pid: Option<u32>,
    },
    /// Lines decoded from one read, in order: (the line's text without CR and escapes, decoded).
    Lines {
        agent: AgentId,
        turn: u64,
        lines: Vec<(String, Line)>,
        /// A flooding turn's hold on its next message (see [`FlowTicket`]).
        ticket: FlowTicket,
    },
    Exited {
        agent: AgentId,
        turn: u64,
        exit: ExitInfo,
    },
}

/// A flooding turn keeps one message in flight: its reader sends the next only once this one's
/// ticket is dropped, which is when the loop is done with the message. Without it the floods
/// filled the shared channel and a quiet agent's line waited behind all of them (up to 64
/// messages of up to 64 KiB). Empty for other turns. It is not part of what a message says: it
/// compares equal and clones empty.
#[derive(Default)]
pub struct FlowTicket(Option<Arc<FloodGate>>);

impl Drop for FlowTicket {
    fn drop(&mut self) {
        if let Some(gate) = self.0.take() {
            gate.open();
        }
    }
}

impl Clone for FlowTicket {
    fn clone(&self) -> Self {
        FlowTicket(None)
    }
}

impl PartialEq for FlowTicket {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for FlowTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "FlowTicket(held)" } else { "FlowTicket" })
    }
}

/// Where a flooding reader waits for its last message's ticket.
#[derive(Debug)]
pub struct FloodGate {
    open: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

/// A consumer that keeps messages (rather than applying and dropping them) slows a flood to one
/// message per this long; it never stops it.
const GATE_PATIENCE: Duration = Duration::from_secs(1);

impl FloodGate {
    fn new() -> Arc<FloodGate> {
        Arc::new(FloodGate { open: std::sync::Mutex::new(true), cv: std::sync::Condvar::new() })
    }

    /// Waits for the last message's ticket (or the loop's end, or `GATE_PATIENCE`), then
    /// gives out the next one.
    fn ticket(self: &Arc<Self>, tx: &Sender<EngineMsg>) -> FlowTicket {
        let deadline = Instant::now() + GATE_PATIENCE;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        while !*open && !tx.is_closed() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Short waits: a loop that went away closes the channel without a notification.
            let wait = left.min(Duration::from_millis(100));
            open = match self.cv.wait_timeout(open, wait) {
                Ok((o, _)) => o,
                Err(p) => p.into_inner().0,
            };
        }
        *open = false;
        FlowTicket(Some(Arc::clone(self)))
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_one();
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    /// Set when the process died of a signal ("SIGKILL", ...).
    pub signal: Option<String>,
    /// The last non-JSON lines the process wrote (why it failed, when it did).
    pub tail: Vec<String>,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.code == Some(0) && self.signal.is_none()
    }

    /// How the process ended, in a few words: "killed by SIGKILL", "exited with code 1".
    pub fn describe(&self) -> String {
        describe_exit(self.code, self.signal.as_deref())
    }

    /// The same for a turn's footer, where `failed:` comes first: "exit 1", "killed by SIGKILL".
    pub fn short(&self) -> String {
        short_exit(self.code, self.signal.as_deref())
    }
}

/// [`ExitInfo::short`] for an exit known only by its code and signal (a reopened turn's footer
/// says what the live one said).
pub fn short_exit(code: Option<i32>, signal: Option<&str>) -> String {
    match (signal, code) {
        (None, Some(code)) => format!("exit {code}"),
        _ => describe_exit(code, signal),
    }
}

/// [`ExitInfo::describe`] for an exit known only by its code and signal (e.g. from a log).
pub fn describe_exit(code: Option<i32>, signal: Option<&str>) -> String {
    match (signal, code) {
        (Some(sig), _) => format!("killed by {sig}"),
        (None, Some(code)) => format!("exited with code {code}"),
        (None, None) => "exited".to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("could not open a pseudo-terminal: {0}")]
    Pty(String),
    #[error("could not start {path}: {reason}")]
    Spawn { path: PathBuf, reason: String },
    #[error("working directory {0} does not exist")]
    NoCwd(PathBuf),
    #[error(transparent)]
    Argv(#[from] crate::agent::argv::ArgvError),
    #[error(transparent)]
    Env(#[from] crate::agent::env::EnvError),
}

/// A running turn. Dropping it does not stop the process.
#[derive(Debug)]
pub struct TurnHandle {
    pub pid: Option<u32>,
}

/// The turns whose process has not been reaped yet, by pid. A handle finds its process here,
/// so it never signals a pid that was reaped (and may belong to someone else by now), and a
/// handle made by hand (`TurnHandle { pid: None }`, as the app's tests do) is inert.
static LIVE: std::sync::Mutex<Option<std::collections::HashMap<u32, Arc<ProcessState>>>> =
    std::sync::Mutex::new(None);

fn live(
) -> std::sync::MutexGuard<'static, Option<std::collections::HashMap<u32, Arc<ProcessState>>>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

fn live_state(pid: u32) -> Option<Arc<ProcessState>> {
    live().as_ref().and_then(|m| m.get(&pid).cloned())
}

/// How long each signal of an interrupt gets before the next, harder one.
pub const INTERRUPT_GRACE: Duration = Duration::from_millis(1500);

/// The last plain-text lines kept for `ExitInfo::tail`.
const TAIL_LINES: usize = crate::agent::turn::TAIL_LINES;

/// One read of the PTY; lines are batched per read.
const READ_BUF: usize = 64 * 1024;
/// Reading on for what is already there stops when less than this is left of the buffer.
const READ_MORE_ROOM: usize = 4 * 1024;

impl TurnHandle {
    /// Stops the turn's whole process group: SIGINT, then SIGTERM and SIGKILL each after
    /// [`INTERRUPT_GRACE`] if a process of the group is still there. Returns at once; a second
    /// call while one is under way does nothing.
    pub fn interrupt(&self) {
        let Some(pgid) = self.pid else { return };
        let Some(state) = live_state(pgid) else { return };
        if state.exited.is_set() || !state.begin_interrupt() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name(format!("interrupt-{pgid}"))
            .spawn(move || escalate(pgid, &state));
        if spawned.is_err() {
            // No thread to wait in: go straight to the end.
            pty::signal_group(pgid, libc::SIGKILL);
        }
    }

    /// Whether the process has been reaped (or there never was one).
    pub fn has_exited(&self) -> bool {
        self.pid.and_then(live_state).is_none_or(|s| s.exited.is_set())
    }
}

fn escalate(pgid: u32, state: &ProcessState) {
    const STEP: Duration = Duration::from_millis(25);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        if !pty::signal_group(pgid, sig) || sig == libc::SIGKILL {
            return; // nobody left in the group, or nothing harder to send
        }
        // The leader exiting is the usual end; the rest of the group (children that ignore
        // SIGINT, like a shell's background jobs) still gets the next signal.
        let deadline = std::time::Instant::now() + INTERRUPT_GRACE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || !pty::signal_group(pgid, 0) {
                break;
            }
            if state.exited.is_set() {
                if group_all_gone(pgid) {
                    return;
                }
                std::thread::sleep(left.min(STEP));
            } else {
                state.exited.wait_timeout(left.min(STEP));
            }
        }
        if !pty::signal_group(pgid, 0) {
            return;
        }
    }
}

/// Whether every process still in group `pgid` is a zombie (only /proc knows; without it,
/// assume not).
fn group_all_gone(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else { return false };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        // Fields after the name: state, ppid, pgrp.
        let mut f = rest.split_whitespace();
        let (state, _ppid, pgrp) = (f.next(), f.next(), f.next());
        if pgrp.and_then(|p| p.parse::<u32>().ok()) == Some(pgid) && state != Some("Z") {
            return false;
        }
    }
    true
}

/// Spawns one turn in a fresh PTY and returns at once; see the module's contract.
pub fn spawn_turn(req: TurnRequest, tx: Sender<EngineMsg>) -> Result<TurnHandle, SpawnError> {
    let argv =
        crate::agent::argv::build_argv(&req.spec, &req.prompt, &req.session, &req.extra_args)?;
    let opts = &req.spec.options;
    let env = crate::agent::env::child_env(
        crate::agent::env::parent_env(),
        opts.env.as_ref(),
        opts.billing(),
        &req.extra_env,
    )?;
    if !req.spec.cwd.is_dir() {
        return Err(SpawnError::NoCwd(req.spec.cwd.clone()));
    }
    let mut args = req.claude.pre_args.clone();
    args.extend(argv);
    let wake = Wake::new().map_err(|e| SpawnError::Pty(e.to_string()))?;
    let notifier = wake.notifier().map_err(|e| SpawnError::Pty(e.to_string()))?;
    let proc = pty::spawn(&req.claude.program, &args, &req.spec.cwd, env, opts.nice()).map_err(
        |e| match e {
            PtySpawnError::Pty(reason) => SpawnError::Pty(reason),
            PtySpawnError::Spawn(reason) => {
                SpawnError::Spawn { path: req.claude.program.clone(), reason }
            }
        },
    )?;
    let pid = proc.pid;
    let state = ProcessState::new();

    // The waiter reaps the child, then wakes the reader, which drains what is left and sends
    // `Exited` last.
    let (status_tx, status_rx) = std::sync::mpsc::channel();
    live().get_or_insert_with(Default::default).insert(pid, Arc::clone(&state));
    let waiter = move || {
        let status = pty::wait(pid);
        state.exited.set();
        if let Some(m) = live().as_mut() {
            m.remove(&pid);
        }
        let _ = status_tx.send(status);
        notifier.notify();
    };
    if let Err(e) = std::thread::Builder::new().name(format!("wait-{pid}")).spawn(waiter) {
        // Without a waiter nobody could ever report the exit: stop the process now.
        pty::signal_group(pid, libc::SIGKILL);
        let _ = pty::wait(pid);
        if let Some(m) = live().as_mut() {
            m.remove(&pid);
        }
        return Err(SpawnError::Spawn {
            path: req.claude.program.clone(),
            reason: format!("no thread to wait for it: {e}"),
        });
    }

    let (agent, turn, max_line_bytes) = (req.agent, req.turn, req.max_line_bytes);
    let reader = proc.into_reader(wake);
    let read_loop = move || {
        read_turn(agent, turn, max_line_bytes, reader, &tx, pid, status_rx);
    };
    if let Err(e) = std::thread::Builder::new().name(format!("read-{pid}")).spawn(read_loop) {
        pty::signal_group(pid, libc::SIGKILL);
        return Err(SpawnError::Spawn {
            path: req.claude.program.clone(),
            reason: format!("no thread to read it: {e}"),
        });
    }
    Ok(TurnHandle { pid: Some(pid) })
}

/// The reader thread: `Started`, every line in batches per read, then exactly one `Exited`.
fn read_turn(
    agent: AgentId,
    turn: u64,
    max_line_bytes: usize,
    mut reader: pty::PtyReader,
    tx: &Sender<EngineMsg>,
    pid: u32,
    status_rx: std::sync::mpsc::Receiver<std::io::Result<pty::ExitStatus>>,
) {
    // When the app is gone, keep reading (and dropping) so the process never blocks on a full
    // terminal.
    let mut app_gone =
        tx.blocking_send(EngineMsg::Started { agent, turn, pid: Some(pid) }).is_err();
    let mut framer = Framer::new(max_line_bytes);
    let mut frames = Vec::new();
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let mut buf = vec![0u8; READ_BUF];
    let mut read_error = None;
    let mut flood = FloodGuard::new(Instant::now());
    let mut gate: Option<Arc<FloodGate>> = None;
    let mut at_end = false;
    while !at_end {
        let mut n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        // A flood's output that is there already goes in the same message: it then costs the
        // loop one wake-up per 64 KiB rather than per PTY read (a few KiB). Only a flood's:
        // large messages from every agent at once (as 16 agents start) held frames back.
        while gate.is_some() && buf.len() - n >= READ_MORE_ROOM {
            match reader.read_ready(&mut buf[n..]) {
                Ok(None) => break,
                Ok(Some(0)) => {
                    at_end = true;
                    break;
                }
                Ok(Some(more)) => n += more,
                Err(e) => {
                    read_error = Some(e);
                    at_end = true;
                    break;
                }
            }
        }
        if flood.read(n, Instant::now()) {
            pty::lower_thread_priority(FLOOD_NICE);
            gate = Some(FloodGate::new());
        }
        framer.push(&buf[..n], &mut frames);
        send_frames(agent, turn, &mut frames, &mut tail, tx, &mut app_gone, gate.as_ref());
    }
    framer.finish(&mut frames);
    send_frames(agent, turn, &mut frames, &mut tail, tx, &mut app_gone, gate.as_ref());
    // Release the terminal before waiting: a process still writing gets EIO, not a stall.
    drop(reader);

    let mut tail: Vec<String> = tail.into();
    let exit = match status_rx.recv() {
        Ok(Ok(status)) => ExitInfo { code: status.code, signal: status.signal, tail },
        Ok(Err(e)) => {
            tail.push(format!("agentmux could not wait for the process: {e}"));
            ExitInfo { code: None, signal: None, tail }
        }
        Err(_) => {
            tail.push("agentmux lost the process's waiter".into());
            ExitInfo { code: None, signal: None, tail }
        }
    };
    let exit = match read_error {
        Some(e) => {
            let mut exit = exit;
            exit.tail.push(format!("agentmux could not read the terminal: {e}"));
            exit
        }
        None => exit,
    };
    let _ = tx.blocking_send(EngineMsg::Exited { agent, turn, exit });
}

/// Output above this rate (bytes within `FLOOD_WINDOW`: a mebibyte a second) is a flood: its
/// reader then yields the CPU to the loop and the other readers, and keeps one message in flight
/// (a model answers in KB/s). A short window tells a flood within a quarter second.
const FLOOD_BYTES: usize = 256 << 10;
const FLOOD_WINDOW: Duration = Duration::from_millis(250);
/// How much a flooding reader lowers its priority (a nice value, added to its own).
const FLOOD_NICE: i32 = 19;

/// Tells when a turn's output becomes a flood: `FLOOD_BYTES` read within one `FLOOD_WINDOW`.
/// Says so once; the reader's priority stays lowered for the rest of the turn (an unprivileged
/// thread cannot raise it again), and each turn has a reader of its own.
#[derive(Debug)]
struct FloodGuard {
    window_start: Instant,
    bytes: usize,
    flooding: bool,
}

impl FloodGuard {
    fn new(now: Instant) -> FloodGuard {
        FloodGuard { window_start: now, bytes: 0, flooding: false }
    }

    /// `n` bytes were read at `now`; true the first time the output counts as a flood.
    fn read(&mut self, n: usize, now: Instant) -> bool {
        if self.flooding {
            return false;
        }
        if now.duration_since(self.window_start) > FLOOD_WINDOW {
            self.window_start = now;
            self.bytes = 0;
        }
        self.bytes += n;
        self.flooding = self.bytes >= FLOOD_BYTES;
        self.flooding
    }
}

fn send_frames(
    agent: AgentId,
    turn: u64,
    frames: &mut Vec<Frame>,
    tail: &mut VecDeque<String>,
    tx: &Sender<EngineMsg>,
    app_gone: &mut bool,
    gate: Option<&Arc<FloodGate>>,
) {
    if frames.is_empty() {
        return;
    }
    let lines: Vec<(String, Line)> = frames.drain(..).map(Frame::decode).collect();
    for (_, line) in &lines {
        if let Line::Text(t) = line {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(t.clone());
        }
    }
    if !*app_gone {
        let ticket = gate.map(|g| g.ticket(tx)).unwrap_or_default();
        *app_gone = tx.blocking_send(EngineMsg::Lines { agent, turn, lines, ticket }).is_err();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_a_flood_from_a_mebibyte_a_second_and_says_so_once() {
        let t0 = Instant::now();
        let mut g = FloodGuard::new(t0);
        // A model's pace: 64 KiB every 100 ms for 10 s is never a flood.
        for i in 0..100 {
            assert!(!g.read(64 << 10, t0 + Duration::from_millis(100 * i)));
        }
        // A mebibyte a second (256 KiB within 250 ms) is, once.
        let t1 = t0 + Duration::from_secs(20);
        let steps: Vec<bool> =
            (0..20).map(|i| g.read(64 << 10, t1 + Duration::from_millis(i))).collect();
        assert_eq!(steps.iter().filter(|&&f| f).count(), 1);
        assert!(steps[3], "the 4th 64 KiB read makes 256 KiB");
    }

    #[test]
    fn a_flooding_turn_gets_its_next_ticket_once_the_last_message_is_done_with() {
        let (tx, _rx) = tokio::sync::mpsc::channel::<EngineMsg>(4);
        let gate = FloodGate::new();
        let first = gate.ticket(&tx);
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let waiter = {
            let (gate, tx) = (Arc::clone(&gate), tx.clone());
            std::thread::spawn(move || {
                let next = gate.ticket(&tx);
                let _ = got_tx.send(());
                next
            })
        };
        // Not while the first message is held (this can only miss a bug, not invent one).
        assert!(got_rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        assert!(got_rx.recv_timeout(Duration::from_secs(30)).is_ok());
        let second = waiter.join().expect("the waiter");
        // A copy of a message does not hold the flood back; copies compare equal.
        assert_eq!(second.clone(), second);
        assert!(second.clone().0.is_none());
    }
}
