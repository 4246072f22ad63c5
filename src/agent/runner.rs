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

use std::path::PathBuf;

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
}

#[derive(Clone, Debug)]
pub struct TurnRequest {
    pub agent: AgentId,
    /// Sequence number of the turn within the agent, echoed in every message.
    pub turn: u64,
    pub claude: ClaudeCmd,
    pub spec: AgentSpec,
    pub prompt: String,
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
    },
    Exited {
        agent: AgentId,
        turn: u64,
        exit: ExitInfo,
    },
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

impl TurnHandle {
    pub fn interrupt(&self) {
        todo!("engine")
    }
}

pub fn spawn_turn(
    req: TurnRequest,
    tx: tokio::sync::mpsc::Sender<EngineMsg>,
) -> Result<TurnHandle, SpawnError> {
    let _ = (req, tx);
    todo!("engine")
}
