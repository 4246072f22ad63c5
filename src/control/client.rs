//! The client side of the control subcommands (`agentmux ls`, `send`, `new`, `wait`, `tail`,
//! `kill`, `broadcast`, `search`): find the socket, send one request, print the answer for people.
//!
//! Blocking std I/O on purpose: a client does one thing and exits, and agents run it from their
//! Bash tool, so it should start fast and need no runtime.
//!
//! Exit status: 0 done; 1 the request failed (an error answer, or `wait` on a turn that did not
//! succeed); 2 usage (clap, or unreadable stdin for `send -`); 3 agentmux is not reachable.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::control::proto::{
    decode_answer, AgentInfo, Answer, ProtoError, Request, RequestLine, SearchHit, TurnOutcome,
    TurnReport,
};
use crate::control::server;

/// Set in every agent's environment: the control socket of the agentmux that runs it.
pub const ENV_SOCKET: &str = "AGENTMUX_SOCKET";
/// Set in every agent's environment: the agent's own name (sent as `from`).
pub const ENV_AGENT: &str = "AGENTMUX_AGENT";
/// The secret of one turn's approval channel, in that turn's environment only: an `approve`
/// request without it is refused (another process cannot ask, or save a rule, in its name).
pub const ENV_APPROVAL_SECRET: &str = "AGENTMUX_APPROVAL_SECRET";

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;
/// `wait`: the turn was interrupted.
pub const EXIT_INTERRUPTED: u8 = 4;
/// `wait`: a usage limit refused the turn.
pub const EXIT_RATE_LIMITED: u8 = 5;

/// The control subcommands, ready to be flattened into the command line's own
/// (`#[command(flatten)] Control(ControlCommand)`).
#[derive(Clone, Debug, PartialEq, clap::Subcommand)]
pub enum ControlCommand {
    /// List the running agents: state, turns, cost, session id
    Ls {
        /// Print the agents as JSON
        #[arg(long)]
        json: bool,
    },
    /// Send a follow-up to an agent (queued while it is busy)
    Send {
        name: String,
        /// The text; `-` reads it from stdin
        text: String,
    },
    /// Create an agent in the running agentmux
    New {
        name: String,
        /// Its directory (default: the workspace's)
        #[arg(long)]
        cwd: Option<PathBuf>,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        role: Option<String>,
        /// Its first prompt
        #[arg(long)]
        prompt: Option<String>,
        /// Give it a git worktree of its own (branch agentmux/NAME) in its directory's repository
        #[arg(long)]
        worktree: bool,
    },
    /// A new agent that continues an agent's conversation in one of its own (the original
    /// goes on untouched)
    Fork {
        name: String,
        /// Continue after this turn (counted from the conversation's first, imported ones
        /// included); default: the end
        #[arg(long, value_name = "TURN", value_parser = clap::value_parser!(u32).range(1..))]
        at: Option<u32>,
        /// The new agent's name (default: NAME-fork)
        #[arg(long = "name", value_name = "NEW")]
        new_name: Option<String>,
        /// Give it a git worktree of its own
        #[arg(long)]
        worktree: bool,
    },
    /// Wait until an agent is idle and print its last result
    ///
    /// Exit status, by how that turn ended: 0 done (or no turn yet), 1 failed, 2 usage error,
    /// 3 agentmux unreachable, 4 interrupted (or cut off when agentmux stopped), 5 rate-limited
    /// (refused by a usage limit).
    Wait { name: String },
    /// Follow an agent's events as NDJSON
    Tail { name: String },
    /// Interrupt an agent's running turn
    Kill { name: String },
    /// Change an agent's model or permission mode from its next turn on (a live process
    /// switches while it lives)
    Set {
        name: String,
        #[arg(long)]
        model: Option<String>,
        #[arg(long, value_name = "MODE", value_parser = crate::agent::PermissionMode::parse)]
        permission_mode: Option<crate::agent::PermissionMode>,
    },
    /// Start a held agent's next turn now, past the usage limits (or resume the turn
    /// agentmux died in)
    Resume { name: String },
    /// Send one follow-up to every worker
    Broadcast {
        /// The text; `-` reads it from stdin
        text: String,
    },
    /// Print every transcript line holding TEXT (plain, any case) as AGENT:TURN: line; exit 1
    /// when none does
    Search { text: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no agentmux is running ({0})")]
    NotRunning(Looked),
    #[error(
        "several agentmux workspaces are running ({}); pick one with --workspace NAME or -c FILE, \
         or run this in a team's directory",
        .0.iter().map(|p| socket_workspace(p)).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous(Vec<PathBuf>),
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("agentmux closed the connection without answering")]
    NoAnswer,
    #[error("agentmux (pid {0}) is suspended (Ctrl-Z); bring it back with fg")]
    Suspended(u32),
    #[error("unexpected answer from agentmux: {0}")]
    Proto(#[from] ProtoError),
    #[error(transparent)]
    Socket(#[from] server::ControlError),
}

/// The workspace a socket belongs to, as its file is named.
fn socket_workspace(p: &Path) -> String {
    p.file_stem().map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into_owned())
}

/// Which agentmux a control command is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `--workspace NAME` or `-c FILE`: that workspace's agentmux and no other.
    Named(String),
    /// Neither: the first of these workspaces that is open (the directory's own first, then
    /// those of team files there), else the only agentmux running.
    Guess(Vec<String>),
}

/// Where a client looked for agentmux, for the "not running" message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Looked {
    /// No agentmux has this workspace open.
    Workspace(String),
    /// This socket (from `AGENTMUX_SOCKET`, or the workspace's) does not answer.
    Socket(PathBuf),
    /// No socket in the runtime directory answers.
    Dir(PathBuf),
}

impl std::fmt::Display for Looked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Looked::Socket(p) => write!(f, "nothing answers at {}", p.display()),
            Looked::Workspace(name) => write!(f, "workspace {name} is not open"),
            Looked::Dir(d) => write!(
                f,
                "no socket answers in {}; set {ENV_SOCKET} to reach one elsewhere",
                d.display()
            ),
        }
    }
}

/// Which socket to talk to: a named workspace's; else `AGENTMUX_SOCKET` when set (every agent
/// has it); else the first guessed workspace whose socket is there, or the one of the others
/// that answers, or the only live socket in the runtime directory.
pub fn find_socket(env_socket: Option<OsString>, target: &Target) -> Result<PathBuf, ClientError> {
    let names = match target {
        Target::Named(name) => {
            let path = server::socket_path_in(&server::runtime_dir()?, name);
            // A stale file still names this workspace: connecting says "not running" precisely.
            return if path.exists() {
                Ok(path)
            } else {
                Err(ClientError::NotRunning(Looked::Workspace(name.clone())))
            };
        }
        Target::Guess(names) => names,
    };
    if let Some(s) = env_socket.filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(s));
    }
    let dir = server::runtime_dir()?;
    let mut paths = names.iter().map(|ws| server::socket_path_in(&dir, ws));
    if let Some(own) = paths.next().filter(|p| p.exists()) {
        return Ok(own);
    }
    let mut live: Vec<PathBuf> = paths.filter(|p| UnixStream::connect(p).is_ok()).collect();
    live.dedup();
    match live.len() {
        0 => only_live_socket(&dir),
        1 => Ok(live.remove(0)),
        _ => Err(ClientError::Ambiguous(live)),
    }
}

/// The one socket in `dir` that answers; none is "not running", several is ambiguous.
pub fn only_live_socket(dir: &Path) -> Result<PathBuf, ClientError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ClientError::NotRunning(Looked::Dir(dir.to_path_buf())))
        }
        Err(source) => return Err(ClientError::Io { path: dir.to_path_buf(), source }),
    };
    let mut live: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .filter(|p| UnixStream::connect(p).is_ok())
        .collect();
    live.sort();
    match live.len() {
        0 => Err(ClientError::NotRunning(Looked::Dir(dir.to_path_buf()))),
        1 => Ok(live.remove(0)),
        _ => Err(ClientError::Ambiguous(live)),
    }
}

/// A connection to agentmux.
pub struct Client {
    path: PathBuf,
    from: Option<String>,
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    /// The process that listens on the socket (from the kernel, not from what it says), to
    /// tell a stopped agentmux from a busy one.
    server_pid: Option<u32>,
}

/// How long the first wait for an answer lasts before the server's process state is looked at,
/// and the most it grows to (an answer normally takes well under a millisecond).
const FIRST_LOOK: std::time::Duration = std::time::Duration::from_millis(50);
const MAX_LOOK: std::time::Duration = std::time::Duration::from_secs(1);

/// The pid of the process that listens at the other end of `stream` (SO_PEERCRED holds the
/// listener's credentials from `listen()`, so this works before the server accepted).
#[cfg(target_os = "linux")]
fn peer_pid(stream: &UnixStream) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a valid descriptor, and a buffer of the size passed for SO_PEERCRED.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast::<libc::c_void>(),
            &mut len,
        )
    };
    u32::try_from(cred.pid).ok().filter(|&pid| rc == 0 && pid > 0)
}

#[cfg(not(target_os = "linux"))]
fn peer_pid(_stream: &UnixStream) -> Option<u32> {
    None
}

/// True when `pid` is stopped by job control (Ctrl-Z, SIGSTOP): state `T` in /proc.
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat_state(&stat) == Some('T'))
}

/// The state letter of a /proc/PID/stat line. The command name is in parentheses and may hold
/// spaces or parentheses itself: the state follows the last ')'.
fn stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

impl Client {
    /// Connect; `from` is the asking agent's name (`AGENTMUX_AGENT`), if any.
    pub fn connect(path: &Path, from: Option<String>) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ClientError::NotRunning(Looked::Socket(path.to_path_buf()))
            }
            _ => ClientError::Io { path: path.to_path_buf(), source: e },
        })?;
        let reader = stream
            .try_clone()
            .map_err(|source| ClientError::Io { path: path.to_path_buf(), source })?;
        let server_pid = peer_pid(&stream);
        Ok(Client {
            path: path.to_path_buf(),
            from,
            writer: stream,
            reader: BufReader::new(reader),
            server_pid,
        })
    }

    fn io(&self) -> impl FnOnce(io::Error) -> ClientError + '_ {
        |source| ClientError::Io { path: self.path.clone(), source }
    }

    /// Send one request and read its answer. A stopped agentmux (Ctrl-Z) cannot answer until
    /// it is resumed: that is [`ClientError::Suspended`] rather than a hang (see
    /// [`Client::wait_answer`] to wait for it anyway).
    pub fn request(&mut self, request: Request) -> Result<Answer, ClientError> {
        let mut line = RequestLine::new(self.from.clone(), request).to_line();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| ClientError::Io { path: self.path.clone(), source: e })?;
        self.read_answer(true)
    }

    /// After [`ClientError::Suspended`]: wait for the answer however long agentmux stays stopped.
    pub fn wait_answer(&mut self) -> Result<Answer, ClientError> {
        self.read_answer(false)
    }

    /// Reads the answer line; with `fail_if_stopped`, the wait is cut into growing slices and
    /// the server's state is looked at between them (no slices without a pid to look at).
    fn read_answer(&mut self, fail_if_stopped: bool) -> Result<Answer, ClientError> {
        let watch = self.server_pid.filter(|_| fail_if_stopped);
        let mut look = FIRST_LOOK;
        let mut line = Vec::new();
        let result = loop {
            let slice = watch.map(|_| look);
            if let Err(source) = self.reader.get_ref().set_read_timeout(slice) {
                break Err(ClientError::Io { path: self.path.clone(), source });
            }
            // Bytes of a line cut by a timeout stay in `line`; the next read goes on from them.
            match self.reader.read_until(b'\n', &mut line) {
                Ok(_) => break Ok(()),
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    if let Some(pid) = watch.filter(|&pid| is_stopped(pid)) {
                        break Err(ClientError::Suspended(pid));
                    }
                    look = (look * 2).min(MAX_LOOK);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => break Err(ClientError::Io { path: self.path.clone(), source }),
            }
        };
        // What follows (a `tail` stream) waits as long as it takes.
        let _ = self.reader.get_ref().set_read_timeout(None);
        result?;
        if line.is_empty() {
            return Err(ClientError::NoAnswer);
        }
        Ok(decode_answer(&String::from_utf8_lossy(&line))?.answer)
    }

    /// After a `tailing` answer: the next event line, `None` when the stream ended.
    pub fn next_line(&mut self) -> Result<Option<String>, ClientError> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).map_err(self.io())?;
        if n == 0 {
            return Ok(None);
        }
        if line.ends_with('\n') {
            line.pop();
        }
        Ok(Some(line))
    }
}

/// The process's standard streams, or buffers in tests.
pub struct Stdio<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

/// `agentmux <control command>` with the real environment and streams.
pub fn main(cmd: ControlCommand, target: &Target) -> std::process::ExitCode {
    let (stdin, stdout, stderr) = (io::stdin(), io::stdout(), io::stderr());
    let (mut i, mut o, mut e) = (stdin.lock(), stdout.lock(), stderr.lock());
    let mut stdio = Stdio { stdin: &mut i, stdout: &mut o, stderr: &mut e };
    let socket = match find_socket(std::env::var_os(ENV_SOCKET), target) {
        Ok(s) => s,
        Err(err) => {
            let _ = writeln!(stdio.stderr, "agentmux: {err}");
            return std::process::ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    let from = std::env::var(ENV_AGENT).ok().filter(|s| !s.is_empty());
    std::process::ExitCode::from(run(&socket, from, cmd, &mut stdio, now_ms()))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Run one control command against `socket`; returns the exit status.
/// `now_ms` (Unix milliseconds) is used for the "last activity" column of `ls`.
pub fn run(
    socket: &Path,
    from: Option<String>,
    cmd: ControlCommand,
    io: &mut Stdio<'_>,
    now_ms: u64,
) -> u8 {
    match run_inner(socket, from, cmd, io, now_ms) {
        Ok(code) => code,
        Err(RunError::Usage(msg)) => {
            let _ = writeln!(io.stderr, "agentmux: {msg}");
            EXIT_USAGE
        }
        Err(RunError::Client(e)) => {
            let _ = writeln!(io.stderr, "agentmux: {e}");
            EXIT_UNREACHABLE
        }
    }
}

enum RunError {
    Usage(String),
    Client(ClientError),
}

impl From<ClientError> for RunError {
    fn from(e: ClientError) -> Self {
        RunError::Client(e)
    }
}

fn text_arg(text: String, stdin: &mut dyn Read) -> Result<String, RunError> {
    if text != "-" {
        return Ok(text);
    }
    let mut s = String::new();
    stdin
        .read_to_string(&mut s)
        .map_err(|e| RunError::Usage(format!("reading the text from stdin: {e}")))?;
    if s.trim().is_empty() {
        return Err(RunError::Usage("stdin was empty: nothing to send".into()));
    }
    Ok(s)
}

/// `AGENT:TURN: line`, one a hit, for grep-like scripts: exit 1 when nothing matched.
fn print_hits(hits: &[SearchHit], truncated: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    for h in hits {
        if writeln!(out, "{}:{}: {}", h.agent, h.turn, h.line).is_err() {
            return EXIT_OK;
        }
    }
    if truncated {
        let _ =
            writeln!(err, "agentmux: stopped at {} lines; search for something rarer", hits.len());
    }
    if hits.is_empty() {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn run_inner(
    socket: &Path,
    from: Option<String>,
    cmd: ControlCommand,
    io: &mut Stdio<'_>,
    now_ms: u64,
) -> Result<u8, RunError> {
    let json = matches!(cmd, ControlCommand::Ls { json: true });
    let tail = matches!(cmd, ControlCommand::Tail { .. });
    let request = request_of(cmd, io.stdin)?;
    let waits = matches!(request, Request::Wait { .. });
    let mut client = Client::connect(socket, from)?;
    let answer = match client.request(request) {
        // `wait` is there to block: it goes on once agentmux is back, and says why it stalls.
        Err(e @ ClientError::Suspended(_)) if waits => {
            let _ = writeln!(io.stderr, "agentmux: {e}; still waiting");
            client.wait_answer()?
        }
        other => other?,
    };
    let code = match answer {
        Answer::Tailing { .. } if tail => {
            let out = &mut *io.stdout;
            // A closed pipe (`agentmux tail w | head`) ends the command quietly.
            while let Some(line) = client.next_line()? {
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
            EXIT_OK
        }
        answer => print_answer(answer, json, io, now_ms),
    };
    let _ = io.stdout.flush();
    Ok(code)
}

/// The request a command makes; text from stdin where the command says `-`.
fn request_of(cmd: ControlCommand, stdin: &mut dyn Read) -> Result<Request, RunError> {
    Ok(match cmd {
        ControlCommand::Ls { .. } => Request::Ls,
        ControlCommand::Send { name, text } => {
            Request::Send { agent: name, text: text_arg(text, stdin)? }
        }
        ControlCommand::New { name, cwd, model, role, prompt, worktree } => {
            // The server runs elsewhere: a relative directory means the client's.
            let cwd = match cwd {
                Some(d) if d.is_relative() => Some(
                    std::env::current_dir()
                        .map(|c| c.join(&d))
                        .unwrap_or(d)
                        .to_string_lossy()
                        .into_owned(),
                ),
                Some(d) => Some(d.to_string_lossy().into_owned()),
                None => None,
            };
            Request::New { name, cwd, model, role, prompt, worktree }
        }
        ControlCommand::Fork { name, at, new_name, worktree } => {
            Request::Fork { agent: name, at: at.map(|n| n as usize), name: new_name, worktree }
        }
        ControlCommand::Wait { name } => Request::Wait { agent: name },
        ControlCommand::Tail { name } => Request::Tail { agent: name },
        ControlCommand::Kill { name } => Request::Kill { agent: name },
        ControlCommand::Resume { name } => Request::Resume { agent: name },
        ControlCommand::Set { name, model, permission_mode } => {
            Request::Set { agent: name, model, permission_mode }
        }
        ControlCommand::Broadcast { text } => Request::Broadcast { text: text_arg(text, stdin)? },
        ControlCommand::Search { text } => Request::Search { text },
    })
}

/// Prints an answer the way its command's user reads it; the exit code.
fn print_answer(answer: Answer, json: bool, io: &mut Stdio<'_>, now_ms: u64) -> u8 {
    let out = &mut *io.stdout;
    // Output errors (a closed pipe) end the command quietly.
    let said = |out: &mut dyn Write, text: String| {
        let _ = writeln!(out, "{text}");
        EXIT_OK
    };
    match answer {
        Answer::Error { code, message } => {
            let _ = writeln!(io.stderr, "agentmux: {message} ({})", code.as_str());
            EXIT_FAILED
        }
        Answer::Agents { agents, limits } => {
            let text = if json {
                let all = serde_json::json!({ "agents": agents, "limits": limits });
                serde_json::to_string_pretty(&all).unwrap_or_default() + "\n"
            } else {
                ls_table(&agents, now_ms) + &limits_line(&limits, now_ms)
            };
            let _ = out.write_all(text.as_bytes());
            EXIT_OK
        }
        Answer::Sent { agent, queued: true } => {
            said(out, format!("queued for {agent} (busy: it runs when the current turn ends)"))
        }
        Answer::Sent { agent, queued: false } => said(out, format!("sent to {agent}")),
        Answer::Created { agent } => said(out, format!("created {agent}")),
        Answer::Set { agent } => said(out, format!("set {agent}")),
        Answer::Resumed { agent } => said(out, format!("resumed {agent}")),
        Answer::TurnEnded(report) => print_turn(&report, out, io.stderr),
        Answer::Killed { agent, was_running: true } => said(out, format!("interrupted {agent}")),
        Answer::Killed { agent, was_running: false } => {
            said(out, format!("{agent} had no turn running"))
        }
        Answer::Broadcast { sent } => print_broadcast(&sent, out),
        Answer::Hits { hits, truncated } => print_hits(&hits, truncated, out, io.stderr),
        other => {
            let _ = writeln!(io.stderr, "agentmux: unexpected answer {other:?}");
            EXIT_UNREACHABLE
        }
    }
}

/// Which workers got a broadcast now and which have it queued.
fn print_broadcast(sent: &[super::proto::SentTo], out: &mut dyn Write) -> u8 {
    let names = |queued: bool| {
        sent.iter()
            .filter(|s| s.queued == queued)
            .map(|s| s.agent.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (now, later) = (names(false), names(true));
    if sent.is_empty() {
        let _ = writeln!(out, "no workers to send to");
    }
    if !now.is_empty() {
        let _ = writeln!(out, "sent to {now}");
    }
    if !later.is_empty() {
        let _ = writeln!(out, "queued for {later} (busy)");
    }
    EXIT_OK
}

fn print_turn(report: &TurnReport, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if let Some(text) = &report.result {
        let _ = writeln!(out, "{}", text.trim_end());
    }
    let code = match report.outcome {
        _ if report.outcome.ok() => return EXIT_OK,
        TurnOutcome::Interrupted => EXIT_INTERRUPTED,
        TurnOutcome::RateLimited => EXIT_RATE_LIMITED,
        _ => EXIT_FAILED,
    };
    let detail = report.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    let _ = writeln!(
        err,
        "agentmux: {}'s turn ended: {}{detail}",
        report.agent,
        report.outcome.as_str()
    );
    code
}

/// "12s", "4m", "3h", "2d" ago; "-" for never.
fn ago(then_ms: Option<u64>, now_ms: u64) -> String {
    let Some(then) = then_ms else { return "-".into() };
    let s = now_ms.saturating_sub(then) / 1000;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86400),
    }
}

/// `ls`'s last line: "limits: 5h 85% ↺18:33 · 7d 30%", or nothing before any was reported.
pub fn limits_line(limits: &[crate::control::proto::LimitInfo], now_ms: u64) -> String {
    if limits.is_empty() {
        return String::new();
    }
    let now = crate::limits::Now {
        wall: i64::try_from(now_ms / 1000).unwrap_or(i64::MAX),
        mono: std::time::Instant::now(),
    };
    let windows: Vec<_> = limits.iter().map(|l| l.window().as_of(now)).collect();
    let text = crate::render::sanitize(&crate::limits::line_text(&windows, now)).into_owned();
    format!("limits: {text}\n")
}

/// `ls` for people: one row per agent, columns padded to their widest cell.
pub fn ls_table(agents: &[AgentInfo], now_ms: u64) -> String {
    let header = ["NAME", "ROLE", "STATE", "TURNS", "QUEUED", "COST", "LAST", "SESSION"];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for a in agents {
        let role = match (&a.role, a.supervisor) {
            (Some(r), true) => format!("{r} (supervisor)"),
            (None, true) => "supervisor".into(),
            (Some(r), false) => r.clone(),
            (None, false) => "-".into(),
        };
        rows.push(vec![
            a.name.clone(),
            role,
            a.state.as_str().into(),
            a.turns.to_string(),
            a.queued.to_string(),
            crate::money::usd(a.cost_usd),
            ago(a.last_activity_ms, now_ms),
            a.session_id.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let cols = header.len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| unicode_width::UnicodeWidthStr::width(r[c].as_str()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < cols {
                let pad = widths[c] - unicode_width::UnicodeWidthStr::width(cell.as_str()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::AgentState;

    #[test]
    fn ls_table_lines_up() {
        let agents = vec![
            AgentInfo {
                name: "lead".into(),
                role: None,
                state: AgentState::Running,
                supervisor: true,
                cwd: "/w".into(),
                session_id: Some("s-1".into()),
                turns: 3,
                cost_usd: 0.01234,
                queued: 0,
                last_activity_ms: Some(95_000),
            },
            AgentInfo {
                name: "backend-dev".into(),
                role: Some("API".into()),
                state: AgentState::Idle,
                supervisor: false,
                cwd: "/w/api".into(),
                session_id: None,
                turns: 0,
                cost_usd: 0.0,
                queued: 2,
                last_activity_ms: None,
            },
        ];
        let t = ls_table(&agents, 100_000);
        assert_eq!(
            t,
            "NAME         ROLE        STATE    TURNS  QUEUED  COST     LAST    SESSION\n\
             lead         supervisor  running  3      0       $0.0123  5s ago  s-1\n\
             backend-dev  API         idle     0      2       $0.00    -       -\n"
        );
    }

    #[test]
    fn ls_ends_with_the_usage_windows() {
        use crate::control::proto::LimitInfo;
        let info = |window: &str, utilization, status: Option<&str>, resets_at| LimitInfo {
            window: window.into(),
            utilization,
            status: status.map(String::from),
            resets_at,
        };
        let now_ms = 1_796_288_400_000; // 09:00 UTC
        assert_eq!(limits_line(&[], now_ms), "");
        let limits = [
            info("five_hour", Some(0.85), None, Some(1_796_293_980)),
            info("seven_day", None, Some("allowed"), Some(1_796_720_400)),
            info("seven_day_opus", None, Some("\u{1b}[2Jx"), None),
        ];
        assert_eq!(
            limits_line(&limits, now_ms),
            "limits: 5h 85% ↺10:33 · 7d ok ↺Tue 09:00 · 7d opus ␛[2Jx\n"
        );
        // Read after the reset: unknown.
        assert_eq!(limits_line(&limits[..1], now_ms + 7_200_000), "limits: 5h ?\n");
    }

    #[test]
    fn the_state_letter_follows_the_last_parenthesis() {
        let cases = [
            ("4242 (agentmux) T 1 4242 4242 34816", Some('T')),
            ("4242 (agentmux) S 1 4242", Some('S')),
            // A command name may hold spaces and parentheses.
            ("7 (a) b) (c) R 1 7", Some('R')),
            ("7 (x)", None),
            ("", None),
        ];
        for (stat, want) in cases {
            assert_eq!(stat_state(stat), want, "{stat:?}");
        }
    }

    #[test]
    fn the_env_socket_wins_over_the_workspace() {
        let p = find_socket(Some("/x/y.sock".into()), &Target::Guess(vec!["ignored".into()]));
        assert_eq!(p.ok(), Some(PathBuf::from("/x/y.sock")));
    }

    #[test]
    fn the_only_live_socket_is_found_and_dead_ones_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let none = only_live_socket(dir.path());
        assert!(
            matches!(&none, Err(ClientError::NotRunning(Looked::Dir(d))) if d == dir.path()),
            "{none:?}"
        );
        let message = none.err().map(|e| e.to_string()).unwrap_or_default();
        let message = message.replace(&dir.path().display().to_string(), "<runtime dir>");
        insta::assert_snapshot!(message);
        let live = dir.path().join("a.sock");
        let _l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        let dead = dir.path().join("b.sock");
        drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
        assert_eq!(only_live_socket(dir.path()).ok(), Some(live));
        let _l2 = std::os::unix::net::UnixListener::bind(dir.path().join("c.sock")).unwrap();
        assert!(
            matches!(only_live_socket(dir.path()), Err(ClientError::Ambiguous(v)) if v.len() == 2)
        );
    }
}
