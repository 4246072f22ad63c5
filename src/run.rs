//! The run loop: terminal, inbox, control socket, update and view wired together.
//!
//! Contract: `cli` builds [`RunOptions`] and calls [`run`].

use crate::agent::ClaudeCmd;
use crate::config::Team;

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
}

pub fn run(opts: RunOptions) -> Result<(), RunError> {
    let _ = opts;
    todo!("app")
}
