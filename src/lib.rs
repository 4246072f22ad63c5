//! agentmux: run a team of Claude Code agents side by side in one terminal.
//!
//! Layers, imports pointing down (see the README's "Architecture"):
//! `agent` (engine), `layout` -> `limits`, `transcript`, `render`, `config`, `store`, `worktree`, `sim`,
//! `control`, `supervisor` -> `app` (msg, state, update, effects) -> `ui` (views) -> `run` (the
//! loop) and `cli`.

pub mod agent;
pub mod app;
pub mod approval;
pub mod attach;
pub mod cli;
pub mod config;
pub mod control;
pub mod import;
pub mod layout;
pub mod limits;
pub mod money;
pub mod render;
pub mod run;
pub mod sim;
pub mod store;
pub mod supervisor;
pub mod transcript;
pub mod ui;
pub mod worktree;

/// The hidden subcommand that runs the simulated claude.
pub const SIM_SUBCOMMAND: &str = "__sim-claude";
