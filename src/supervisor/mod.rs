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

use std::collections::BTreeMap;

use crate::config::SupervisorConfig;

/// What the app keeps about supervision (in its state, for the supervisor pane to show): the
/// relay, and when each agent last did something.
#[derive(Debug)]
pub struct Supervision {
    pub relay: Relay,
    /// Unix milliseconds of each agent's last event, by name (the team table's last column).
    pub activity: BTreeMap<String, relay::Millis>,
}

impl Supervision {
    pub fn new(config: &SupervisorConfig) -> Self {
        Supervision {
            relay: Relay::new(config.spec.name.clone(), RelayLimits::from_config(config)),
            activity: BTreeMap::new(),
        }
    }
}
