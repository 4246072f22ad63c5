//! Team files (TOML) and the user's settings.
//!
//! Contract used by the app: a loaded [`Team`]. The loader (team files with errors that name
//! file, line and key; user settings from the platform's config directory) lives here too.

use std::path::PathBuf;

use crate::agent::{AgentOptions, AgentSpec};

/// A team, resolved: every agent's options already layered over the defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Team {
    /// The team file, canonical, when the team came from one.
    pub path: Option<PathBuf>,
    pub defaults: AgentOptions,
    pub supervisor: Option<SupervisorConfig>,
    pub agents: Vec<TeamAgent>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TeamAgent {
    pub spec: AgentSpec,
    /// The first prompt, sent once when the agent is created (never again on reopen).
    pub prompt: Option<String>,
    /// Run in a git worktree of its own (see `worktree`).
    pub worktree: bool,
}

/// The `[supervisor]` table: the supervisor is an agent too.
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisorConfig {
    pub spec: AgentSpec,
    pub prompt: Option<String>,
    /// Relay guard rails (see `supervisor`).
    pub max_relay_depth: u32,
    pub max_relays_per_minute: u32,
    pub team_budget_usd: Option<f64>,
    /// Cut relayed result text at this many characters.
    pub report_chars: usize,
}
