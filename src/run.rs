//! The run loop: terminal, inbox, control socket, update and view wired together.
//!
//! Contract: `cli` builds [`RunOptions`] and calls [`run`].
//!
//! One inbox: terminal events, engine messages (one bounded channel shared by every turn),
//! control requests and the loop's own messages. The loop awaits the next message, drains
//! whatever else is ready, applies it all, then draws at most once per frame if something
//! visible changed. Nothing ticks: a running spinner asks for its next deadline
//! ([`State::next_wake`]) and an idle app sleeps until something arrives.
//!
//! The loop is generic over the ratatui backend and the terminal event stream, so the whole app
//! runs headless on `TestBackend` (tests, benchmarks); [`run`] adds the real terminal around it.

pub mod bridge;
pub mod convo;
mod cycle;
mod follow;
mod frames;
pub mod input;
pub mod live;
pub mod persist;

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as TermEvent, KeyboardEnhancementFlags, PopKeyboardEnhancementFlags,
    PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::agent::{AgentId, ClaudeCmd, EngineMsg, TurnHandle, TurnRequest};
use crate::app::{start_first_prompts, update, Effect, Msg, State};
use crate::config::Team;
use crate::control::{ControlCall, ControlError, ControlServer};

pub struct RunOptions {
    pub team: Team,
    /// How to start claude for every agent of this run.
    pub claude: ClaudeCmd,
    /// The persisted workspace (locked for this process), when there is one.
    pub workspace: Option<crate::store::Workspace>,
    /// The demo team: simulated agents, no persistence.
    pub demo: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(
        "needs a terminal: standard input and output must be a terminal (scripts can drive a \
         running agentmux with `agentmux ls`, `send`, `wait`, `tail`)"
    )]
    NotATerminal,
    #[error("the worktree of agent {agent}: {source}")]
    Worktree {
        agent: String,
        #[source]
        source: crate::worktree::WorktreeError,
    },
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// At most one draw per frame (about 120 a second). A line waits for the next frame, so the
/// frame is most of a line's latency under a flood (the screen is always due then); a frame
/// costs 1 to 4 ms at 200x60 with 16 streaming panes, so drawing stays a small share.
pub const FRAME: Duration = Duration::from_millis(8);
/// Engine messages that may wait in the shared channel before readers are pushed back. Each is
/// one read of a PTY (up to a few KiB), and a new line waits behind all of them: under a flood
/// this bounds the latency (64 reads are about 1,000 lines, a few ms; 1,024 were over 100 ms).
pub const ENGINE_CHANNEL: usize = 64;
/// Messages taken from the inbox at once. Each waits behind those taken before it, and a batch
/// is applied only until a frame is due, so more than a frame's worth only adds latency.
const MAX_BATCH: usize = 256;

/// Where the loop's messages come from. Every source is a channel, so draining is a `try_recv`
/// on each (a terminal event stream polled out of turn can lose its wake-up; a channel cannot).
pub struct Inbox {
    /// Terminal events (see [`input`]); the channel closing means the terminal is gone.
    pub terminal: mpsc::Receiver<io::Result<TermEvent>>,
    /// Every turn's output (the receiving end of the channel `spawn_turn` writes to).
    pub engine: mpsc::Receiver<EngineMsg>,
    /// Requests from the control socket (see [`bridge`]).
    pub control: mpsc::Receiver<ControlCall>,
    /// Signals and the loop's own notes.
    pub local: mpsc::UnboundedReceiver<Msg>,
}

/// How a turn is started; the real one is [`crate::agent::spawn_turn`]. Tests and benchmarks
/// can start something else (with no process to interrupt: `Ok(None)`).
pub type Spawner = Box<
    dyn FnMut(TurnRequest, mpsc::Sender<EngineMsg>) -> Result<Option<TurnHandle>, String> + Send,
>;

/// Carries out the effects `update` returns.
pub struct Executor {
    engine_tx: mpsc::Sender<EngineMsg>,
    spawn: Spawner,
    running: HashMap<AgentId, (u64, TurnHandle)>,
    /// Where git jobs answer from their blocking task; without it they run in place (tests).
    worktree_tx: Option<mpsc::UnboundedSender<Msg>>,
    git: crate::worktree::Git,
    /// The control socket's side: answers requests, adds every turn's environment, relays.
    pub control: bridge::ControlBridge,
    /// The workspace store, when the run has one (see [`persist`]).
    pub persist: Option<persist::Persister>,
    /// Live processes for agents whose engine is `live` (only with the real engine).
    live: Option<live::LiveEngine>,
}

impl Executor {
    pub fn new(engine_tx: mpsc::Sender<EngineMsg>, spawn: Spawner) -> Executor {
        Executor {
            engine_tx,
            spawn,
            running: HashMap::new(),
            worktree_tx: None,
            git: crate::worktree::Git::default(),
            control: bridge::ControlBridge::new(None, bridge::ControlBridge::current_exe_dir()),
            persist: None,
            live: None,
        }
    }

    /// Run git jobs (`Effect::Worktree`) on blocking tasks that answer into `tx`.
    pub fn with_worktree_replies(mut self, tx: mpsc::UnboundedSender<Msg>) -> Executor {
        if self.live.is_some() {
            // Approvals of live processes go to the loop the same way.
            self.live = Some(live::LiveEngine::new(self.engine_tx.clone(), Some(tx.clone())));
        }
        self.worktree_tx = Some(tx);
        self
    }

    /// How long live processes may idle and how many may run (before the first turn).
    pub fn with_live_limits(mut self, limits: live::Limits) -> Executor {
        self.live = self.live.take().map(|engine| engine.with_limits(limits));
        self
    }

    /// The real engine: one-shot turns, and live processes for agents whose engine is `live`.
    pub fn engine(engine_tx: mpsc::Sender<EngineMsg>) -> Executor {
        let mut exec = Executor::new(
            engine_tx.clone(),
            Box::new(|req, tx| {
                crate::agent::spawn_turn(req, tx).map(Some).map_err(|e| e.to_string())
            }),
        );
        exec.live = Some(live::LiveEngine::new(engine_tx, None));
        exec
    }

    /// Start or stop turns; anything the loop must handle comes back as a message or an
    /// [`Outcome`].
    fn apply(&mut self, effect: Effect, state: &State, replies: &mut VecDeque<Msg>) -> Outcome {
        match effect {
            Effect::SpawnTurn(req) if self.live.is_some() && live::wants_live(&req) => {
                if let Some(engine) = &mut self.live {
                    engine.send(live::Command::Turn(req));
                }
            }
            Effect::SpawnTurn(req) => self.spawn_turn(*req, replies),
            Effect::Interrupt { agent, turn } => {
                self.tell_live(live::Command::Interrupt { agent, turn });
                if let Some((t, handle)) = self.running.get(&agent) {
                    if *t == turn {
                        handle.interrupt();
                    }
                }
            }
            Effect::Closed { agent } => self.tell_live(live::Command::Close { agent }),
            Effect::Decide { id, decision } => {
                // An ask the socket did not bring came from a live process.
                if let Some(decision) = self.control.decide(id, decision) {
                    self.tell_live(live::Command::Decide { id, decision });
                }
            }
            Effect::Withdraw { id } => {
                if !self.control.withdraw(id) {
                    self.tell_live(live::Command::Withdraw { id });
                }
            }
            // Answered by `exec.control` as the effect goes by (see `run::bridge`).
            Effect::Reply { .. } => {}
            // Saved by `exec.persist` as the effect goes by (see `run::persist`).
            Effect::Persist | Effect::History { .. } => {}
            Effect::Suspend => return Outcome::Suspend,
            Effect::Notify(bytes) => return Outcome::Notify(bytes),
            Effect::Quit => return Outcome::Quit,
            Effect::Detach { client } => return Outcome::Detach(client),
            Effect::Worktree(job) => self.run_worktree_job(job, replies),
            Effect::Shell { agent, wt } => return Outcome::Shell { agent, wt },
            // A session file reads in milliseconds (see `run::convo`).
            Effect::Convo(ask) => replies.push_back(convo::carry(state, ask)),
        }
        Outcome::Continue
    }

    /// A turn in its own process; a failed start comes back as a message.
    fn spawn_turn(&mut self, req: TurnRequest, replies: &mut VecDeque<Msg>) {
        let (agent, turn) = (req.agent, req.turn);
        match (self.spawn)(req, self.engine_tx.clone()) {
            Ok(Some(handle)) => {
                self.running.insert(agent, (turn, handle));
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(agent = agent.0, turn, "spawn failed: {error}");
                replies.push_back(Msg::SpawnFailed { agent, turn, error });
            }
        }
    }

    /// A command for the live engine, if it runs: a turn it never started is not its own.
    fn tell_live(&mut self, command: live::Command) {
        if let Some(engine) = self.live.as_mut().filter(|e| e.has_started()) {
            engine.send(command);
        }
    }

    /// Git takes milliseconds to seconds: never on the loop's thread, unless the loop has no
    /// channel for its answer (then it runs inline).
    fn run_worktree_job(
        &mut self,
        job: crate::app::worktree::WorktreeJob,
        replies: &mut VecDeque<Msg>,
    ) {
        let git = self.git.clone();
        match &self.worktree_tx {
            Some(tx) => {
                let tx = tx.clone();
                tokio::task::spawn_blocking(move || {
                    // The loop may have ended meanwhile; nothing to do then.
                    let _ = tx.send(Msg::Worktree(job.run(&git)));
                });
            }
            None => replies.push_back(Msg::Worktree(job.run(&git))),
        }
    }

    /// Forget a turn that ended (its handle has nothing left to stop).
    fn ended(&mut self, msg: &Msg) {
        if let Msg::Engine(EngineMsg::Exited { agent, turn, .. }) = msg {
            if self.running.get(agent).is_some_and(|(t, _)| t == turn) {
                self.running.remove(agent);
            }
        }
    }

    pub fn interrupt_all(&mut self) {
        if let Some(engine) = self.live.as_mut().filter(|e| e.has_started()) {
            engine.send(live::Command::InterruptAll);
        }
        for (_, handle) in self.running.values() {
            handle.interrupt();
        }
    }
}

enum Outcome {
    Continue,
    Notify(String),
    Suspend,
    Quit,
    Detach(Option<u32>),
    Shell { agent: AgentId, wt: Box<crate::worktree::AgentWorktree> },
}

/// What the loop needs from the real terminal (suspend and resume); nothing for a test backend.
pub trait Host {
    /// Give the terminal back, stop the process until it is continued, take the terminal again.
    fn suspend(&mut self) -> io::Result<()>;

    /// Write a bell or notification sequence to the terminal (headless hosts write nothing).
    fn notify(&mut self, bytes: &str) {
        let _ = bytes;
    }

    /// Give the terminal to `cmd` (the user's shell in a worktree) until it exits, then take
    /// it back. Headless hosts run nothing.
    fn shell(&mut self, cmd: std::process::Command) -> io::Result<()> {
        let _ = cmd;
        Ok(())
    }
}

/// A host with nothing to suspend (headless runs).
pub struct Headless;

impl Host for Headless {
    fn suspend(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Apply messages to the state and draw if anything visible changed: the core without a loop,
/// for tests and benchmarks on any backend.
pub fn apply<B: Backend>(
    state: &mut State,
    terminal: &mut Terminal<B>,
    msgs: impl IntoIterator<Item = Msg>,
) -> io::Result<Vec<Effect>> {
    let mut fx = Vec::new();
    for m in msgs {
        fx.extend(update(state, m));
    }
    if state.dirty {
        draw(state, terminal)?;
    }
    Ok(fx)
}

fn draw<B: Backend>(state: &mut State, terminal: &mut Terminal<B>) -> io::Result<()> {
    terminal.draw(|f| crate::ui::view(state, f))?;
    state.dirty = false;
    Ok(())
}

/// Where the loop's frames go: one terminal, or every client attached to a server (see
/// [`crate::attach`]), each drawn at its own size.
pub trait Screen {
    /// Draw the state (and mark it drawn).
    fn draw(&mut self, state: &mut State) -> io::Result<()>;

    /// Forget what is on screen: the next draw repaints everything.
    fn clear(&mut self) -> io::Result<()>;

    /// Let an attached client go (a screen of one terminal has none to let go).
    fn detach(&mut self, client: Option<u32>) {
        let _ = client;
    }
}

impl<B: Backend> Screen for Terminal<B> {
    fn draw(&mut self, state: &mut State) -> io::Result<()> {
        draw(state, self)
    }

    fn clear(&mut self) -> io::Result<()> {
        Terminal::clear(self)
    }
}

/// The loop. Returns when the user quits, a terminate signal arrives or the terminal's event
/// channel closes.
pub async fn event_loop<S>(
    terminal: &mut S,
    state: &mut State,
    inbox: Inbox,
    exec: &mut Executor,
    host: &mut dyn Host,
    first: Vec<Effect>,
) -> Result<(), RunError>
where
    S: Screen,
{
    crate::render::highlight::warm_up();
    match cycle::Loop::start(terminal, state, inbox, exec, host, first)? {
        Some(round) => round.run().await,
        None => Ok(()),
    }
}

/// A read from a terminal that went away fails with EIO (often before SIGHUP arrives): that is
/// a hang-up, handled as SIGHUP is, not an error to report to a terminal that is gone.
fn hung_up(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EIO)
}

// ---------------------------------------------------------------------------------------------
// The real terminal

/// Whether the terminal is in our modes (raw, alternate screen...), so restoring twice (quit,
/// then the panic hook, say) does nothing the second time.
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

pub(crate) fn take_terminal() -> io::Result<()> {
    enable_raw_mode()?;
    TERMINAL_TAKEN.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    crossterm::execute!(
        out,
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste,
        // Where the terminal speaks the kitty protocol, Shift-Enter becomes distinct from
        // Enter; terminals that do not simply ignore the request.
        PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES),
        crossterm::cursor::Hide,
    )?;
    out.flush()
}

/// Put the terminal back as we found it. Safe to call from any exit path, more than once.
pub fn restore_terminal() {
    if !TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = crossterm::execute!(
        out,
        PopKeyboardEnhancementFlags,
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show,
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal when dropped (normal return and errors).
pub(crate) struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

pub(crate) fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

pub(crate) struct RealTerminal {
    pub(crate) input: input::TerminalInput,
}

impl Host for RealTerminal {
    fn notify(&mut self, bytes: &str) {
        // Between frames: the bytes are not drawn, the terminal acts on them.
        let mut out = io::stdout();
        let _ = out.write_all(bytes.as_bytes()).and_then(|()| out.flush());
    }

    fn suspend(&mut self) -> io::Result<()> {
        restore_terminal();
        // SIGSTOP rather than SIGTSTP: agentmux handles SIGTSTP itself (to restore first).
        // SAFETY: raise has no memory-safety preconditions.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
        take_terminal()
    }

    fn shell(&mut self, mut cmd: std::process::Command) -> io::Result<()> {
        // The shell reads the terminal alone.
        self.input.pause();
        restore_terminal();
        let dir = cmd.get_current_dir().map(|d| d.display().to_string()).unwrap_or_default();
        println!("agentmux: a shell in {dir}; exit it to return to agentmux");
        let status = cmd.status();
        self.input.resume();
        take_terminal()?;
        status.map(|_| ())
    }
}

/// Whose signals: a terminal's, or a background server's (which has no terminal to lose).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signals {
    Terminal,
    Server,
}

/// Signals become messages: SIGTERM, SIGHUP and SIGINT end the run (the terminal is restored
/// on the way out); SIGTSTP from outside suspends as Ctrl-Z does; SIGCONT redraws. A server
/// ends on SIGTERM and SIGINT only: a hang-up is some terminal's, never the server's, and
/// it has nothing to suspend.
fn forward_signals(tx: mpsc::UnboundedSender<Msg>, whose: Signals) -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut kinds = vec![
        (SignalKind::terminate(), SignalMsg::Terminate),
        (SignalKind::interrupt(), SignalMsg::Terminate),
    ];
    match whose {
        Signals::Terminal => kinds.extend([
            (SignalKind::hangup(), SignalMsg::Terminate),
            (SignalKind::from_raw(libc::SIGTSTP), SignalMsg::Suspend),
            (SignalKind::from_raw(libc::SIGCONT), SignalMsg::Redraw),
        ]),
        // Listening for SIGHUP keeps its default action (to end the process) away.
        Signals::Server => kinds.push((SignalKind::hangup(), SignalMsg::Ignore)),
    }
    for (kind, what) in kinds {
        let mut stream = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let msg = match what {
                    SignalMsg::Ignore => continue,
                    SignalMsg::Terminate => Msg::Terminate,
                    SignalMsg::Suspend => Msg::Suspend,
                    SignalMsg::Redraw => Msg::Redraw,
                };
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}

/// A resize is no input on the terminal: wake the reader to ask crossterm, which saw the signal.
pub(crate) fn nudge_on_resize(input: input::TerminalInput) -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut stream = signal(SignalKind::window_change())?;
    tokio::spawn(async move {
        while stream.recv().await.is_some() {
            input.nudge();
        }
    });
    Ok(())
}

#[derive(Clone, Copy)]
enum SignalMsg {
    Ignore,
    Terminate,
    Suspend,
    Redraw,
}

/// Logs never go to the screen: with `AGENTMUX_LOG=<file>` they go to that file (the level from
/// `AGENTMUX_LOG_LEVEL`, `info` by default); without it they are dropped.
pub(crate) fn init_log() {
    let Some(path) = std::env::var_os("AGENTMUX_LOG").filter(|p| !p.is_empty()) else {
        return;
    };
    let Ok(file) = crate::store::fsutil::open_private(std::path::Path::new(&path), true) else {
        return;
    };
    let level = std::env::var("AGENTMUX_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second subscriber (tests, embedding) is not an error worth reporting.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

pub fn run(opts: RunOptions) -> Result<(), RunError> {
    use std::io::IsTerminal;
    if !(io::stdin().is_terminal() && io::stdout().is_terminal()) {
        return Err(RunError::NotATerminal);
    }
    on_runtime(opts, run_terminal)
}

/// Runs the workspace as a background server (see [`crate::attach`]) until a client quits it
/// or it is terminated; `ready` is called once clients can attach.
pub fn serve(
    opts: RunOptions,
    size: (u16, u16),
    ready: Box<dyn FnOnce(&std::path::Path)>,
) -> Result<(), RunError> {
    on_runtime(opts, move |opts, worktrees| run_server(opts, size, worktrees, ready))
}

/// Opens the team's worktrees, then runs `body` on a runtime of its own.
fn on_runtime<F, Fut>(opts: RunOptions, body: F) -> Result<(), RunError>
where
    F: FnOnce(RunOptions, Vec<(String, crate::worktree::AgentWorktree)>) -> Fut,
    Fut: std::future::Future<Output = Result<(), RunError>>,
{
    init_log();
    // Before the terminal is taken: setup commands may take a while, and an error (not a
    // repository, no commits...) reads best as a plain line.
    let worktrees =
        crate::app::worktree::open_team_worktrees(&crate::worktree::Git::default(), &opts.team)
            .map_err(|(agent, source)| RunError::Worktree { agent, source })?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Never wait for blocking tasks on the way out (git jobs; readers of ended turns may still
    // be blocked on their PTYs). Dropping the runtime waits for them, and a panic's unwinding
    // would drop it: catch it, shut down in the background, then let it go on.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(body(opts, worktrees))
    }));
    runtime.shutdown_background();
    match result {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The app's state before its first frame: the team, the user's keys and settings, how
/// approvals reach the user, the worktrees made for it, and the demo's first-run note. The
/// user's settings go back too (the loop's live-process limits read them) with a note on the
/// keymap file when it had a problem.
fn initial_state(
    opts: &RunOptions,
    size: (u16, u16),
    worktrees: Vec<(String, crate::worktree::AgentWorktree)>,
    socket: Option<std::path::PathBuf>,
) -> (State, crate::config::Settings, Option<String>) {
    let mut state = State::new(&opts.team, opts.claude.clone(), size, Instant::now());
    let keymap_note = apply_user_keys(&mut state);
    state.api_keys_set = crate::agent::env::api_keys_set(crate::agent::env::parent_env());
    let settings = crate::config::Settings::load().unwrap_or_default();
    state.policy = opts.team.limits.over(settings.limits);
    let notify = settings.notify;
    crate::app::approvals::configure(
        &mut state.approvals,
        std::env::current_exe().ok(),
        socket,
        notify,
    );
    // Agents with `worktree = true` run in their worktrees from their first turn on.
    for (name, wt) in worktrees {
        state.attach_worktree(&name, wt);
    }
    // The demo's first-run note, in the pane of the agent that will ask, above its first
    // prompt: the hint line keeps its keys.
    if opts.demo {
        let agent = crate::sim::DEMO_ASKING_AGENT;
        let hint = crate::app::approvals::demo_hint(&state.keymap, agent);
        if let Some(a) = state.agents.iter_mut().find(|a| a.name() == agent) {
            a.transcript.push_note(&hint, crate::transcript::NoteLevel::Info);
        }
    }
    (state, settings, keymap_note)
}

/// The control socket, bound first: a second agentmux on this workspace stops here, before
/// the terminal is taken. A read-only look at a workspace leaves the socket to its owner.
struct Control {
    server: Option<crate::control::ServerHandle>,
    note: Option<String>,
    calls: mpsc::Receiver<ControlCall>,
}

fn bind_control(opts: &RunOptions) -> Result<Control, RunError> {
    let (control_tx, calls) = mpsc::channel(64);
    let workspace_name = match &opts.workspace {
        Some(w) if w.is_read_only() => None,
        Some(w) => Some(w.name().to_string()),
        None => Some(format!("{}-{}", if opts.demo { "demo" } else { "run" }, std::process::id())),
    };
    let (server, note) = match workspace_name {
        Some(name) => {
            let (server, note) = ControlServer::bind_workspace(&name)?;
            (Some(server.serve(control_tx)?), note)
        }
        None => (None, None),
    };
    Ok(Control { server, note, calls })
}

/// The state, its executor and its first effects, ready for the loop.
struct Session {
    state: State,
    exec: Executor,
    first: Vec<Effect>,
    engine: mpsc::Receiver<EngineMsg>,
}

fn open_session(
    opts: RunOptions,
    size: (u16, u16),
    worktrees: Vec<(String, crate::worktree::AgentWorktree)>,
    control: &mut Control,
    local_tx: &mpsc::UnboundedSender<Msg>,
) -> Session {
    let socket = control.server.as_ref().map(|s| s.path().to_path_buf());
    let (mut state, settings, keymap_note) = initial_state(&opts, size, worktrees, socket.clone());
    // With a workspace: the panes as they were, and only the first prompts never sent.
    let (persister, first) = match opts.workspace {
        Some(ws) => {
            let (p, fx) = persist::open(&mut state, &opts.team, ws);
            (Some(p), fx)
        }
        None => (None, start_first_prompts(&mut state, State::first_prompts(&opts.team))),
    };
    if state.flash.is_none() {
        state.flash = keymap_note.or(control.note.take());
    }
    // More agents than one screen of tiles holds: start where all of them can be seen.
    if crate::app::overview::wanted_at_start(&state) && state.overlay.is_none() {
        crate::app::overview::open(&mut state);
    }
    let (engine_tx, engine) = mpsc::channel(ENGINE_CHANNEL);
    let mut exec = Executor::engine(engine_tx)
        .with_worktree_replies(local_tx.clone())
        .with_live_limits(live::Limits::from_config(opts.team.live, settings.live));
    exec.control = bridge::ControlBridge::new(socket, bridge::ControlBridge::current_exe_dir());
    exec.persist = persister;
    // A read-only look follows its owner as the owner's files change.
    if let Some(follower) = exec.persist.as_mut().and_then(persist::Persister::take_follower) {
        if let Err(e) = follow::spawn(follower, local_tx.clone()) {
            state.flash = Some(format!("not following the workspace live: {e}"));
        }
    }
    Session { state, exec, first, engine }
}

/// For the end-to-end test of the panic path (terminal restored, process gone): panics once
/// the terminal is taken and the loop's machinery is running.
fn test_panic() {
    if std::env::var_os("AGENTMUX_TEST_PANIC").is_some() {
        panic!("AGENTMUX_TEST_PANIC is set");
    }
}

async fn run_terminal(
    opts: RunOptions,
    worktrees: Vec<(String, crate::worktree::AgentWorktree)>,
) -> Result<(), RunError> {
    let mut control = bind_control(&opts)?;
    let (local_tx, local_rx) = mpsc::unbounded_channel();
    forward_signals(local_tx.clone(), Signals::Terminal)?;
    install_panic_hook();
    take_terminal()?;
    let _guard = TerminalGuard;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let size = terminal.size()?;
    let Session { mut state, mut exec, first, engine } =
        open_session(opts, (size.width, size.height), worktrees, &mut control, &local_tx);
    let (input, terminal_rx) = input::TerminalInput::spawn()?;
    nudge_on_resize(input.clone())?;
    let inbox = Inbox { terminal: terminal_rx, engine, control: control.calls, local: local_rx };
    test_panic();
    let result =
        event_loop(&mut terminal, &mut state, inbox, &mut exec, &mut RealTerminal { input }, first)
            .await;
    exec.interrupt_all();
    // Dropping ratatui's Terminal shows the cursor and reports a failure with eprintln!, which
    // panics when the terminal is gone (SIGHUP). Show it here; if that fails there is no
    // terminal to restore, so the Terminal is not dropped.
    if terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    }
    result
}

/// The workspace in a background server (see [`crate::attach`]): the same loop, drawing for
/// every attached client, with no terminal of its own. `ready` is called once both sockets
/// answer, before the first client attaches.
async fn run_server(
    opts: RunOptions,
    size: (u16, u16),
    worktrees: Vec<(String, crate::worktree::AgentWorktree)>,
    ready: Box<dyn FnOnce(&std::path::Path)>,
) -> Result<(), RunError> {
    let name = opts.workspace.as_ref().map(|w| w.name().to_string()).unwrap_or_default();
    let mut control = bind_control(&opts)?;
    let control_path = control.server.as_ref().map(|s| s.path().to_path_buf());
    let Some(control_path) = control_path else { return Err(RunError::NotATerminal) };
    let attach_path = crate::attach::socket_beside(&control_path);
    let listener = ControlServer::bind(&attach_path)?.into_listener();
    let _attach_file = crate::attach::RemoveOnDrop(attach_path.clone());
    let _pid_file = crate::attach::write_pid(&attach_path)?;
    let (local_tx, local_rx) = mpsc::unbounded_channel();
    forward_signals(local_tx.clone(), Signals::Server)?;
    let Session { mut state, mut exec, first, engine } =
        open_session(opts, size, worktrees, &mut control, &local_tx);
    state.served = true;
    let mut clients = crate::attach::server::Clients::default();
    let _accept = clients.serve(listener, name, local_tx.clone())?;
    // No terminal: this channel stays open and empty (clients' input comes as messages).
    let (_no_terminal, terminal_rx) = mpsc::channel(1);
    let inbox = Inbox { terminal: terminal_rx, engine, control: control.calls, local: local_rx };
    ready(&attach_path);
    test_panic();
    let mut host = crate::attach::server::ClientsHost(clients.clone());
    let result = event_loop(&mut clients, &mut state, inbox, &mut exec, &mut host, first).await;
    exec.interrupt_all();
    clients.farewell(crate::attach::proto::Bye::Quit).await;
    result
}

/// The `[keys]` table as (name, keys) pairs. `form.submit = "ctrl-s"` without quotes is a
/// dotted key, i.e. a nested table `form = { submit = ... }`: it means the same as the quoted
/// `"form.submit"`, so nested tables are flattened.
pub fn key_table(keys: &toml::Table) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (name, value) in keys {
        match value {
            toml::Value::String(s) => out.push((name.clone(), vec![s.clone()])),
            toml::Value::Array(a) => out.push((
                name.clone(),
                a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            )),
            toml::Value::Table(inner) => {
                for (sub, keys) in key_table(inner) {
                    out.push((format!("{name}.{sub}"), keys));
                }
            }
            _ => out.push((name.clone(), Vec::new())),
        }
    }
    out
}

/// Patch the keymap from the user's `[keys]` table; a note to show when it could not be used.
fn apply_user_keys(state: &mut State) -> Option<String> {
    let settings = crate::config::Settings::load().ok()?;
    let table = key_table(&settings.keys);
    let entries = table.iter().map(|(n, k)| (n.as_str(), k.as_slice()));
    match state.keymap.patch(entries) {
        Ok(()) => None,
        Err(e) => Some(format!("[keys] not applied: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::event::{Event, StreamEvent, StreamKind};
    use crate::agent::{ExitInfo, Line};
    use crate::app::fixtures;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;

    fn screen(t: &Terminal<TestBackend>) -> String {
        let buf = t.backend().buffer();
        let area = buf.area;
        let mut out = String::new();
        for y in 0..area.height {
            for x in 0..area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    /// A spawner whose turns answer "echo: <prompt>" from a thread, as the engine would.
    fn echo_spawner(done: std::sync::mpsc::Sender<u64>) -> Spawner {
        Box::new(move |req: TurnRequest, tx: mpsc::Sender<EngineMsg>| {
            let done = done.clone();
            std::thread::spawn(move || {
                let (agent, turn) = (req.agent, req.turn);
                let delta = |text: String| {
                    Line::Event(Event::Stream(StreamEvent {
                        parent_tool_use_id: None,
                        session_id: None,
                        kind: StreamKind::TextDelta { index: 0, text },
                    }))
                };
                let msgs = [
                    EngineMsg::Started { agent, turn, pid: None },
                    EngineMsg::Lines {
                        agent,
                        turn,
                        lines: vec![
                            (String::new(), Line::Event(fixtures::init(&fixtures::sid(1), "none"))),
                            (String::new(), delta(format!("echo: {}", req.prompt))),
                            (
                                String::new(),
                                Line::Event(fixtures::result(&fixtures::sid(1), "success", 0.01)),
                            ),
                        ],
                        ticket: Default::default(),
                    },
                    EngineMsg::Exited {
                        agent,
                        turn,
                        exit: ExitInfo { code: Some(0), signal: None, tail: vec![] },
                    },
                ];
                for m in msgs {
                    if tx.blocking_send(m).is_err() {
                        return;
                    }
                }
                let _ = done.send(turn);
            });
            Ok(None)
        })
    }

    #[tokio::test]
    async fn the_loop_sends_a_prompt_shows_the_answer_and_quits() {
        let mut state = fixtures::state(true, &[("api", "backend")], (80, 24));
        let mut terminal = match Terminal::new(TestBackend::new(80, 24)) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let (engine_tx, engine_rx) = mpsc::channel(ENGINE_CHANNEL);
        let (_control_tx, control_rx) = mpsc::channel(4);
        let (_local_tx, local_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let mut exec = Executor::new(engine_tx, echo_spawner(done_tx));
        let (term_tx, term_rx) = mpsc::channel::<io::Result<TermEvent>>(64);
        let inbox =
            Inbox { terminal: term_rx, engine: engine_rx, control: control_rx, local: local_rx };

        let key = |code| Ok(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        let driver = async {
            for c in "hello".chars() {
                let _ = term_tx.try_send(key(KeyCode::Char(c)));
            }
            let _ = term_tx.try_send(key(KeyCode::Enter));
            // Wait for the turn to end, off the runtime (the loop runs on this thread).
            let turn =
                tokio::task::spawn_blocking(move || done_rx.recv_timeout(Duration::from_secs(10)))
                    .await
                    .ok()
                    .and_then(Result::ok);
            assert_eq!(turn, Some(1));
            let _ = term_tx.try_send(Ok(TermEvent::Key(KeyEvent::new(
                KeyCode::Char('q'),
                KeyModifiers::CONTROL,
            ))));
            // The turn's exit and the key may land in one batch in either order: if the app
            // still saw the turn running it asks, and this answers.
            let _ = term_tx.try_send(key(KeyCode::Char('y')));
        };
        let mut host = Headless;
        let looped = event_loop(&mut terminal, &mut state, inbox, &mut exec, &mut host, vec![]);
        let (result, ()) =
            tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(looped, driver) })
                .await
                .unwrap_or_else(|_| panic!("the loop did not finish"));
        assert!(result.is_ok());
        assert!(state.quitting);
        assert_eq!(state.agents[1].turn, crate::app::TurnState::Idle);
        assert_eq!(state.agents[1].session.as_deref(), Some(fixtures::sid(1).as_str()));
        // The quit may come within a frame of the answer: draw the final state once more.
        state.dirty = true;
        if let Err(e) = apply(&mut state, &mut terminal, []) {
            panic!("{e}");
        }
        let text = screen(&terminal);
        assert!(text.contains("echo: hello"), "{text}");
    }

    #[test]
    fn dotted_key_names_in_the_keys_table_name_a_context() {
        let table: toml::Table = match toml::from_str(
            "quit = \"ctrl-x\"\nzoom = [\"f2\", \"alt-z\"]\nform.submit = \"ctrl-s\"\n",
        ) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let mut pairs = key_table(&table);
        pairs.sort();
        assert_eq!(
            pairs,
            vec![
                ("form.submit".to_string(), vec!["ctrl-s".to_string()]),
                ("quit".to_string(), vec!["ctrl-x".to_string()]),
                ("zoom".to_string(), vec!["f2".to_string(), "alt-z".to_string()]),
            ]
        );
        let mut keymap = crate::app::Keymap::defaults();
        let entries = pairs.iter().map(|(n, k)| (n.as_str(), k.as_slice()));
        assert!(keymap.patch(entries).is_ok());
        let ctrl_s = crate::app::KeySpec::parse("ctrl-s").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            keymap.resolve_spec(crate::app::Context::Form, ctrl_s),
            Some(crate::app::Command::Submit)
        );
    }

    #[tokio::test]
    async fn a_refused_spawn_comes_back_as_an_error_in_the_pane() {
        let mut state = fixtures::state(false, &[("api", "")], (80, 24));
        let mut terminal = match Terminal::new(TestBackend::new(80, 24)) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let (engine_tx, engine_rx) = mpsc::channel(4);
        let (_control_tx, control_rx) = mpsc::channel(4);
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        let mut exec = Executor::new(engine_tx, Box::new(|_, _| Err("no such directory".into())));
        let first = start_first_prompts(&mut state, vec![Some("go".into())]);
        // The terminal's channel is closed at once: the loop leaves as on SIGHUP, after the
        // refusal was applied.
        let (_, term_rx) = mpsc::channel(1);
        let _ = local_tx.send(Msg::Redraw);
        let inbox =
            Inbox { terminal: term_rx, engine: engine_rx, control: control_rx, local: local_rx };
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            event_loop(&mut terminal, &mut state, inbox, &mut exec, &mut Headless, first),
        )
        .await;
        assert!(matches!(result, Ok(Ok(()))));
        assert_eq!(
            state.agents[0].turn,
            crate::app::TurnState::Error { message: "no such directory".into() }
        );
    }
}
