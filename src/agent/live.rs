//! One long-lived `claude -p --input-format stream-json` process per agent, serving all its
//! turns: stdin a pipe we write JSON lines to, stdout and stderr a PTY read on its own thread.
//!
//! Contract:
//! - [`spawn_live`] starts the process and returns a [`LiveHandle`] at once. Messages for one
//!   process (one `generation` of an agent) arrive in order on the shared bounded channel:
//!   `Started`, then lines, control events and turn ends as they come, then exactly one
//!   `Exited`, after a `Reply` for every control request still waiting.
//! - [`LiveHandle::send_user`] queues a message (the CLI runs queued messages one turn each, in
//!   order). Each `result` line ends the oldest unanswered message's turn: a `TurnEnded` with
//!   its number follows the lines that carried it. If the process dies first, `Exited` names
//!   the message whose turn it was in (`in_flight`: the CLI has it, the turn is resumable) and
//!   those it never began (`unstarted`: send them again to the next process).
//! - [`LiveHandle::request`] sends a control request under a fresh id; its `Reply` comes when
//!   the CLI answers, or with [`ControlError::Timeout`] when it does not in time, or
//!   [`ControlError::Gone`] when the process ends first. A request this CLI refused as
//!   unsupported is refused at once the next time ([`LiveError::Unsupported`]).
//! - The CLI's `can_use_tool` requests arrive as `Permission` and wait for
//!   [`LiveHandle::answer`]; other requests of the CLI are refused for it.
//! - Nothing here wakes up while the process is idle: the writer thread blocks on its queue (or
//!   until the next control deadline), the reader on the terminal.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc::Sender;

use crate::agent::control::{self, CliVersion, ControlRequest, Incoming, PermissionAnswer};
use crate::agent::decode::{Frame, Framer};
use crate::agent::event::{ContentBlock, Event, SystemKind};
use crate::agent::pty::{self, ProcessState, PtySpawnError, Wake};
use crate::agent::runner::{ClaudeCmd, ExitInfo, FlowTicket, SessionArg, SpawnError};
use crate::agent::{AgentId, AgentSpec, Line};

/// How long a control request may wait for its answer (initialize gets longer: MCP servers
/// start first).
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
const INITIALIZE_TIMEOUT: Duration = Duration::from_secs(60);
/// After stdin closes, how long the CLI gets to finish and exit before it is signalled.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Tool calls whose input is remembered for a permission request that comes without it.
const CALLS_KEPT: usize = 64;
const READ_BUF: usize = 64 * 1024;
const TAIL_LINES: usize = crate::agent::turn::TAIL_LINES;

#[derive(Clone, Debug)]
pub struct LiveRequest {
    pub agent: AgentId,
    /// Which process of the agent this is (a restart gets the next), echoed in every message.
    pub generation: u64,
    pub claude: ClaudeCmd,
    pub spec: AgentSpec,
    /// `New` for a conversation that does not exist yet, else `Resume`.
    pub session: SessionArg,
    /// The CLI's version when known: it decides how permission modes are named.
    pub version: Option<CliVersion>,
    pub extra_env: Vec<(String, String)>,
    pub extra_args: Vec<String>,
    pub max_line_bytes: usize,
    pub control_timeout: Duration,
}

/// Why a control request got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("claude did not answer {subtype} within {}", humantime::format_duration(*.after))]
    Timeout { subtype: &'static str, after: Duration },
    #[error("claude refused {subtype}: {message}")]
    Refused { subtype: &'static str, message: String, unsupported: bool },
    #[error("claude exited before it answered {subtype}")]
    Gone { subtype: &'static str },
}

/// Why the handle could not do what it was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error("the claude process has exited")]
    Gone,
    #[error("this claude version does not support {0}")]
    Unsupported(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub enum LiveMsg {
    Started {
        agent: AgentId,
        generation: u64,
        pid: u32,
    },
    /// Lines of the stream that are not control lines, in order.
    Lines {
        agent: AgentId,
        generation: u64,
        lines: Vec<(String, Line)>,
        ticket: FlowTicket,
    },
    /// The turn of message `seq` ended (its `result` was the last line before this).
    TurnEnded {
        agent: AgentId,
        generation: u64,
        seq: u64,
    },
    /// The CLI asks whether a tool may run; answer with [`LiveHandle::answer`].
    Permission {
        agent: AgentId,
        generation: u64,
        request: control::PermissionRequest,
        /// The input of the assistant's tool_use block with the same id, when seen.
        call_input: Option<Value>,
    },
    /// The CLI no longer waits for its permission request `request_id`.
    PermissionCancelled {
        agent: AgentId,
        generation: u64,
        request_id: String,
    },
    /// The answer to our control request `id`.
    Reply {
        agent: AgentId,
        generation: u64,
        id: u64,
        outcome: Result<Value, ControlError>,
    },
    Exited {
        agent: AgentId,
        generation: u64,
        exit: ExitInfo,
        /// The message whose turn was running: the CLI holds it, the conversation can resume.
        in_flight: Option<u64>,
        /// Messages written (or queued to be) that the CLI never began: send them again.
        unstarted: Vec<u64>,
    },
}

/// What the writer thread is asked to do.
enum WriteCmd {
    Line(String),
    /// Close stdin: the CLI finishes what it has and exits.
    Close,
}

struct PendingControl {
    id: u64,
    subtype: &'static str,
    deadline: Instant,
    timeout: Duration,
}

/// What the handle, the reader and the writer share.
#[derive(Default)]
struct Book {
    /// Messages sent and not answered yet, oldest first: (seq, its turn has begun).
    messages: VecDeque<(u64, bool)>,
    /// Our control requests waiting for an answer, by wire id.
    controls: HashMap<String, PendingControl>,
    unsupported: HashSet<&'static str>,
    next_id: u64,
    exited: bool,
}

struct Shared {
    agent: AgentId,
    pid: u32,
    generation: u64,
    book: Mutex<Book>,
    process: Arc<ProcessState>,
    tx: Sender<LiveMsg>,
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, msg: LiveMsg) {
        let _ = self.tx.blocking_send(msg);
    }

    fn reply(&self, id: u64, outcome: Result<Value, ControlError>) {
        let (agent, generation) = (self.agent, self.generation);
        self.send(LiveMsg::Reply { agent, generation, id, outcome });
    }
}

/// A live process. Dropping it closes stdin (the CLI then exits on its own).
pub struct LiveHandle {
    pub pid: u32,
    shared: Arc<Shared>,
    writer: mpsc::Sender<WriteCmd>,
    control_timeout: Duration,
}

impl std::fmt::Debug for LiveHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHandle").field("pid", &self.pid).finish_non_exhaustive()
    }
}

impl LiveHandle {
    /// Writes message `seq` (the caller's number for it) to the CLI.
    pub fn send_user(&self, seq: u64, text: &str) -> Result<(), LiveError> {
        let mut book = self.shared.book();
        if book.exited {
            return Err(LiveError::Gone);
        }
        // Booked before it is written, so its result can never come first.
        book.messages.push_back((seq, false));
        if self.writer.send(WriteCmd::Line(control::user_message_line(text))).is_err() {
            book.messages.pop_back();
            return Err(LiveError::Gone);
        }
        Ok(())
    }

    /// Sends `request`; returns the id its `Reply` will carry.
    pub fn request(&self, request: ControlRequest) -> Result<u64, LiveError> {
        let subtype = request.subtype();
        let timeout = match request {
            ControlRequest::Initialize => INITIALIZE_TIMEOUT.max(self.control_timeout),
            _ => self.control_timeout,
        };
        let mut book = self.shared.book();
        if book.exited {
            return Err(LiveError::Gone);
        }
        if book.unsupported.contains(subtype) {
            return Err(LiveError::Unsupported(subtype));
        }
        book.next_id += 1;
        let id = book.next_id;
        let wire = format!("agentmux-{}-{id}", self.shared.generation);
        let line = control::control_request_line(&wire, &request);
        let deadline = Instant::now() + timeout;
        book.controls.insert(wire.clone(), PendingControl { id, subtype, deadline, timeout });
        if self.writer.send(WriteCmd::Line(line)).is_err() {
            book.controls.remove(&wire);
            return Err(LiveError::Gone);
        }
        Ok(id)
    }

    /// Answers the CLI's permission request `request_id`.
    pub fn answer(&self, request_id: &str, answer: &PermissionAnswer) -> Result<(), LiveError> {
        if self.shared.book().exited {
            return Err(LiveError::Gone);
        }
        let line = control::permission_answer_line(request_id, answer);
        self.writer.send(WriteCmd::Line(line)).map_err(|_| LiveError::Gone)
    }

    /// Closes the process gracefully: stdin ends, the CLI exits once its turn is done; after
    /// `grace` its group gets SIGTERM, then SIGKILL. Returns at once.
    pub fn close(&self, grace: Duration) {
        let _ = self.writer.send(WriteCmd::Close);
        let (pid, process) = (self.pid, Arc::clone(&self.shared.process));
        let _ = std::thread::Builder::new().name(format!("close-{pid}")).spawn(move || {
            for (wait, sig) in
                [(grace, libc::SIGTERM), (Duration::from_millis(1500), libc::SIGKILL)]
            {
                if process.exited.wait_timeout(wait) {
                    return;
                }
                pty::signal_group(pid, sig);
            }
        });
    }

    /// Stops the whole process group now.
    pub fn kill(&self) {
        if !self.shared.process.exited.is_set() {
            pty::signal_group(self.pid, libc::SIGKILL);
        }
    }

    pub fn has_exited(&self) -> bool {
        self.shared.process.exited.is_set()
    }
}

impl Drop for LiveHandle {
    fn drop(&mut self) {
        let _ = self.writer.send(WriteCmd::Close);
    }
}

/// Starts a live process; see the module's contract.
pub fn spawn_live(req: LiveRequest, tx: Sender<LiveMsg>) -> Result<LiveHandle, SpawnError> {
    let mode =
        req.spec.options.permission_mode.map(|m| control::permission_mode_name(m, req.version));
    let argv = crate::agent::argv::build_live_argv(&req.spec, mode, &req.session, &req.extra_args)?;
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
    let spawn_error =
        |reason: String| SpawnError::Spawn { path: req.claude.program.clone(), reason };
    let wake = Wake::new().map_err(|e| SpawnError::Pty(e.to_string()))?;
    let notifier = wake.notifier().map_err(|e| SpawnError::Pty(e.to_string()))?;
    let piped = pty::spawn_piped(&req.claude.program, &args, &req.spec.cwd, env, opts.nice())
        .map_err(|e| match e {
            PtySpawnError::Pty(reason) => SpawnError::Pty(reason),
            PtySpawnError::Spawn(reason) => spawn_error(reason),
        })?;
    let pid = piped.process.pid;
    let shared = Arc::new(Shared {
        agent: req.agent,
        pid,
        generation: req.generation,
        book: Mutex::new(Book::default()),
        process: ProcessState::new(),
        tx,
    });
    let fail = |reason: String| {
        pty::signal_group(pid, libc::SIGKILL);
        spawn_error(reason)
    };

    let (status_tx, status_rx) = std::sync::mpsc::channel();
    let process = Arc::clone(&shared.process);
    let waiter = move || {
        let status = pty::wait(pid);
        process.exited.set();
        let _ = status_tx.send(status);
        notifier.notify();
    };
    if let Err(e) = std::thread::Builder::new().name(format!("wait-{pid}")).spawn(waiter) {
        let err = fail(format!("no thread to wait for it: {e}"));
        let _ = pty::wait(pid);
        return Err(err);
    }

    let (writer, write_rx) = mpsc::channel();
    let stdin = piped.stdin;
    let w_shared = Arc::clone(&shared);
    let write_loop = move || write_lines(stdin, write_rx, &w_shared);
    if let Err(e) = std::thread::Builder::new().name(format!("write-{pid}")).spawn(write_loop) {
        return Err(fail(format!("no thread to write to it: {e}")));
    }

    let reader = piped.process.into_reader(wake);
    let (r_shared, r_writer) = (Arc::clone(&shared), writer.clone());
    let max_line = req.max_line_bytes;
    let read_loop = move || read_live(reader, max_line, &r_shared, &r_writer, status_rx);
    if let Err(e) = std::thread::Builder::new().name(format!("read-{pid}")).spawn(read_loop) {
        return Err(fail(format!("no thread to read it: {e}")));
    }
    Ok(LiveHandle { pid, shared, writer, control_timeout: req.control_timeout })
}

/// The writer thread: writes each line whole, and times out control requests whose answer is
/// late. Ends when stdin is closed or the handle and reader are gone.
fn write_lines(mut stdin: std::process::ChildStdin, rx: mpsc::Receiver<WriteCmd>, shared: &Shared) {
    let mut broken = false;
    loop {
        let next_deadline = shared.book().controls.values().map(|c| c.deadline).min();
        let cmd = match next_deadline {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match cmd {
            Ok(WriteCmd::Line(line)) => {
                // A broken pipe means the process is gone: the reader reports that; what was
                // not written stays booked and is reported with the exit.
                if !broken {
                    broken = stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()).is_err();
                }
            }
            Ok(WriteCmd::Close) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => time_out_controls(shared, Instant::now()),
        }
    }
    drop(stdin);
    // Requests still waiting get their timeouts even with stdin closed.
    loop {
        let next_deadline = shared.book().controls.values().map(|c| c.deadline).min();
        let Some(at) = next_deadline else { return };
        if shared.process.exited.wait_timeout(at.saturating_duration_since(Instant::now())) {
            return; // the reader answers them as Gone
        }
        time_out_controls(shared, Instant::now());
    }
}

fn time_out_controls(shared: &Shared, now: Instant) {
    let expired: Vec<PendingControl> = {
        let mut book = shared.book();
        let ids: Vec<String> = book
            .controls
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        ids.iter().filter_map(|k| book.controls.remove(k)).collect()
    };
    for c in expired {
        let error = ControlError::Timeout { subtype: c.subtype, after: c.timeout };
        shared.reply(c.id, Err(error));
    }
}

/// The reader thread: `Started`, the stream with its control lines taken out and routed, then
/// the pending requests' `Gone` and exactly one `Exited`.
fn read_live(
    mut reader: pty::PtyReader,
    max_line_bytes: usize,
    shared: &Shared,
    writer: &mpsc::Sender<WriteCmd>,
    status_rx: mpsc::Receiver<std::io::Result<pty::ExitStatus>>,
) {
    let (agent, generation) = (shared.agent, shared.generation);
    shared.send(LiveMsg::Started { agent, generation, pid: shared.pid });
    let mut router = Router::new(shared, writer);
    let mut framer = Framer::new(max_line_bytes);
    let mut frames = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut read_error = None;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        framer.push(&buf[..n], &mut frames);
        router.route(frames.drain(..));
    }
    framer.finish(&mut frames);
    router.route(frames.drain(..));
    drop(reader);
    let mut tail: Vec<String> = std::mem::take(&mut router.tail).into();
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
    let mut exit = exit;
    if let Some(e) = read_error {
        exit.tail.push(format!("agentmux could not read the terminal: {e}"));
    }
    let (controls, messages) = {
        let mut book = shared.book();
        book.exited = true;
        (std::mem::take(&mut book.controls), std::mem::take(&mut book.messages))
    };
    let mut gone: Vec<PendingControl> = controls.into_values().collect();
    gone.sort_by_key(|c| c.id);
    for c in gone {
        shared.reply(c.id, Err(ControlError::Gone { subtype: c.subtype }));
    }
    let in_flight = messages.front().filter(|(_, started)| *started).map(|(seq, _)| *seq);
    let unstarted = messages.iter().filter(|(_, started)| !started).map(|(seq, _)| *seq).collect();
    let _ = writer.send(WriteCmd::Close);
    shared.send(LiveMsg::Exited { agent, generation, exit, in_flight, unstarted });
}

/// Sorts the decoded stream: plain lines go out in batches, control lines are answered or
/// turned into typed messages in their place, and each `result` ends a booked message's turn.
struct Router<'a> {
    shared: &'a Shared,
    writer: &'a mpsc::Sender<WriteCmd>,
    batch: Vec<(String, Line)>,
    /// The inputs of recent tool calls, by tool_use id.
    calls: HashMap<String, Value>,
    call_order: VecDeque<String>,
    tail: VecDeque<String>,
}

impl<'a> Router<'a> {
    fn new(shared: &'a Shared, writer: &'a mpsc::Sender<WriteCmd>) -> Self {
        Router {
            shared,
            writer,
            batch: Vec::new(),
            calls: HashMap::new(),
            call_order: VecDeque::new(),
            tail: VecDeque::new(),
        }
    }

    fn route(&mut self, frames: impl Iterator<Item = Frame>) {
        for frame in frames {
            let (raw, line) = frame.decode();
            match &line {
                Line::Event(Event::Unknown(v)) if control::is_control(v) => {
                    if let Some(incoming) = control::parse(v) {
                        self.flush();
                        self.control(incoming);
                        continue;
                    }
                }
                Line::Event(Event::Assistant(m)) => self.remember_calls(&m.content),
                Line::Event(Event::System(s)) if matches!(s.kind, SystemKind::Init(_)) => {
                    if let Some(front) = self.shared.book().messages.front_mut() {
                        front.1 = true;
                    }
                }
                Line::Text(t) => {
                    if self.tail.len() == TAIL_LINES {
                        self.tail.pop_front();
                    }
                    self.tail.push_back(t.clone());
                }
                _ => {}
            }
            let ends_turn = matches!(line, Line::Event(Event::Result(_)));
            self.batch.push((raw, line));
            if ends_turn {
                self.flush();
                let seq = self.shared.book().messages.pop_front().map(|(seq, _)| seq);
                if let Some(seq) = seq {
                    let (agent, generation) = (self.shared.agent, self.shared.generation);
                    self.shared.send(LiveMsg::TurnEnded { agent, generation, seq });
                }
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.batch);
        let (agent, generation) = (self.shared.agent, self.shared.generation);
        self.shared.send(LiveMsg::Lines {
            agent,
            generation,
            lines,
            ticket: FlowTicket::default(),
        });
    }

    fn remember_calls(&mut self, content: &[ContentBlock]) {
        for block in content {
            if let ContentBlock::ToolUse { id, input, .. } = block {
                if self.calls.insert(id.clone(), input.clone()).is_none() {
                    self.call_order.push_back(id.clone());
                }
                while self.call_order.len() > CALLS_KEPT {
                    if let Some(old) = self.call_order.pop_front() {
                        self.calls.remove(&old);
                    }
                }
            }
        }
    }

    fn control(&mut self, incoming: Incoming) {
        let (agent, generation) = (self.shared.agent, self.shared.generation);
        match incoming {
            Incoming::Response { request_id, outcome } => {
                let Some(pending) = self.shared.book().controls.remove(&request_id) else {
                    // Timed out already (and reported), or not ours.
                    return;
                };
                let subtype = pending.subtype;
                let outcome = outcome.map_err(|r| {
                    if r.unsupported {
                        self.shared.book().unsupported.insert(subtype);
                    }
                    ControlError::Refused {
                        subtype,
                        message: r.message,
                        unsupported: r.unsupported,
                    }
                });
                self.shared.reply(pending.id, outcome);
            }
            Incoming::Permission(request) => {
                let call_input =
                    request.tool_use_id.as_ref().and_then(|id| self.calls.get(id)).cloned();
                self.shared.send(LiveMsg::Permission { agent, generation, request, call_input });
            }
            Incoming::OtherRequest { request_id, subtype } => {
                let why = format!("agentmux does not serve {subtype} requests");
                let _ = self.writer.send(WriteCmd::Line(control::refusal_line(&request_id, &why)));
            }
            Incoming::Cancel { request_id } => {
                self.shared.send(LiveMsg::PermissionCancelled { agent, generation, request_id });
            }
        }
    }
}
