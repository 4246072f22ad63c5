//! Team files (TOML) and the user's settings.
//!
//! Contract used by the app: a loaded [`Team`]. The loader (team files with errors that name
//! file, line and key; user settings from the platform's config directory) lives here too.

use std::path::{Path, PathBuf};

use crate::agent::{AgentOptions, AgentSpec};

mod settings;
mod team_file;
pub mod trust;

pub use settings::{config_dir, settings_path, Notify, Settings};
pub use team_file::forbidden_env;

/// The team file `agentmux` opens when run without `-c` in a directory that has one.
pub const TEAM_FILE_NAME: &str = "agentmux.toml";

/// A team, resolved: every agent's options already layered over the defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Team {
    /// The team file, canonical, when the team came from one.
    pub path: Option<PathBuf>,
    pub defaults: AgentOptions,
    pub supervisor: Option<SupervisorConfig>,
    pub agents: Vec<TeamAgent>,
    /// The `[worktree]` table, for agents with `worktree = true`.
    pub worktree: WorktreeSettings,
    /// `idle_timeout` and `max_live`, when the team file sets them.
    pub live: LiveLimits,
    /// `[limits]`: when the usage governor holds new turns.
    pub limits: crate::limits::governor::Policy,
}

/// How long a live process may idle and how many may run at once, as a file sets them (unset
/// keys fall to the layer below: the team file over the user's settings over the engine's
/// defaults).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveLimits {
    pub idle_timeout: Option<std::time::Duration>,
    pub max_live: Option<usize>,
}

impl LiveLimits {
    /// Longer than a day is surely a mistake (a process would idle that long).
    pub const MAX_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    /// More live processes than this is surely a typo (each holds about 200 MB).
    pub const MAX_LIVE: usize = 256;

    /// These limits with `lower`'s where these are unset.
    pub fn over(self, lower: LiveLimits) -> LiveLimits {
        LiveLimits {
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
            max_live: self.max_live.or(lower.max_live),
        }
    }
}

/// The `[worktree]` table: how agents with `worktree = true` get their worktrees.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorktreeSettings {
    /// Commands run once in each new worktree: argv lists, never given to a shell; `{repo}`,
    /// `{worktree}` and `{agent}` in an argument are replaced (see `worktree::OpenRequest`).
    pub setup: Vec<Vec<String>>,
    /// Where worktrees go instead of `<git common dir>/agentmux-worktrees` (relative to the
    /// team file).
    pub dir: Option<PathBuf>,
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
    /// How long a report waits for the other tasks handed out in the same supervisor turn, so
    /// they come back as one prompt (`relay_batch_seconds`).
    pub relay_batch_ms: u64,
}

impl SupervisorConfig {
    pub const DEFAULT_NAME: &'static str = "supervisor";
    pub const DEFAULT_MAX_RELAY_DEPTH: u32 = 3;
    pub const DEFAULT_MAX_RELAYS_PER_MINUTE: u32 = 12;
    pub const DEFAULT_REPORT_CHARS: usize = 2000;
    pub const DEFAULT_RELAY_BATCH_MS: u64 = 30_000;
    /// Longer than an hour is surely a mistake (a report would wait that long).
    pub const MAX_RELAY_BATCH_SECONDS: u64 = 3600;
}

/// The option layers under and over a team file's own: user settings < team `[defaults]` <
/// an agent's table < the command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layers {
    /// The user's personal defaults (see [`Settings`]).
    pub user: AgentOptions,
    /// Options given on the command line: they win over everything.
    pub command_line: AgentOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {}", path.display(), io_cause(source))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A mistake in a file: where it is and what was expected.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid { file: PathBuf, line: usize, column: usize, message: String },
}

/// An I/O error as a person reads it: "No such file or directory", without rust's
/// " (os error 2)".
pub fn io_cause(e: &std::io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_string(),
        _ => text,
    }
}

impl Team {
    /// Loads a team file: relative directories are taken from the file's directory.
    pub fn load(path: &Path, layers: &Layers) -> Result<Team, ConfigError> {
        Team::load_with_text(path, layers).map(|(team, _)| team)
    }

    /// [`Team::load`], with the text the team was read from: what the user trusts (see
    /// [`trust`]) is exactly what runs, never a second read of the file.
    pub fn load_with_text(path: &Path, layers: &Layers) -> Result<(Team, String), ConfigError> {
        let read_err = |source| ConfigError::Read { path: path.to_path_buf(), source };
        let canonical = std::fs::canonicalize(path).map_err(read_err)?;
        let text = std::fs::read_to_string(&canonical).map_err(read_err)?;
        let base_dir = canonical.parent().unwrap_or(Path::new("/"));
        let mut team = Team::parse_str(&text, path, base_dir, layers)?;
        team.path = Some(canonical);
        Ok((team, text))
    }

    /// Parses a team file's text. `file` names it in messages; relative paths are taken from
    /// `base_dir`. The result has no `path`.
    pub fn parse_str(
        text: &str,
        file: &Path,
        base_dir: &Path,
        layers: &Layers,
    ) -> Result<Team, ConfigError> {
        team_file::parse(&team_file::Source { file, text, base_dir }, layers)
    }

    /// A team with no file and no agents (agents are added at run time).
    pub fn empty(layers: &Layers) -> Team {
        Team { defaults: layers.command_line.over(&layers.user), ..Team::default() }
    }
}
