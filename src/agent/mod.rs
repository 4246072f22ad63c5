//! The agent engine: build a turn's argv, spawn `claude -p` in a PTY, decode its stream-json
//! into typed events, and follow the turn's lifecycle.

pub mod argv;
pub mod control;
pub mod decode;
pub mod discover;
pub mod env;
pub mod event;
pub mod live;
pub mod name;
pub mod pty;
pub mod runner;
pub mod spec;
pub mod turn;

pub use event::{Event, Line};
pub use runner::{
    spawn_turn, ClaudeCmd, EngineMsg, ExitInfo, Origin, SessionArg, SpawnError, TaskId, TurnHandle,
    TurnRequest,
};
pub use spec::{AgentOptions, AgentSpec, Billing, Engine, PermissionMode};

/// A stable handle on one agent for the life of the process (names can be reused after close).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub u32);

/// The default limit of one stream-json line; at least 16 MiB must pass.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
