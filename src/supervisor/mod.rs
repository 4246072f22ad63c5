//! The supervisor: an agent that hands out work with `agentmux send` and gets the workers'
//! reports back as its next turn.
//!
//! - [`prompt`]: its appended system prompt and default tool rules, generated from the team.
//! - [`relay`]: which worker turns it started, the batched reports, and the guard rails
//!   (pure state: the app passes the time in).

pub mod prompt;
pub mod relay;

pub use prompt::{supervisor_prompt, supervisor_spec, DEFAULT_ALLOWED_TOOLS};
pub use relay::{
    Limit, LogEntry, LogKind, Relay, RelayAction, RelayLimits, RelayTurn, Stop, TaskId,
};
