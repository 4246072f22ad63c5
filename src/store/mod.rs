//! Workspaces that persist: specs, session ids, queued follow-ups, transcripts as JSONL logs.
//!
//! A workspace is a directory under the data directory (`AGENTMUX_DATA_DIR` overrides it):
//! ```text
//! <data>/workspaces/<name>/
//!     lock            flock'd by the process that has it open (holds its pid)
//!     state.json      WorkspaceState, written atomically
//!     logs/<agent>.jsonl   append-only transcript of each agent
//! ```
//! The API is synchronous and cheap enough for the run loop to call per event line.
//!
//! How the run loop uses it:
//! - on start, [`Workspace::reconcile`] with the team: one [`RestoredAgent`] per pane (spec,
//!   session id, queue, `prompt_sent`, cost, log records, a turn left running), plus notes;
//!   rebuild each pane from [`AgentLog::replay`] (the lines decoded as the engine does);
//! - an agent created at run time: [`Workspace::add_agent`];
//! - a turn: `append(agent, turn, Record::Prompt(..))`, then `Record::TurnStarted(..)`; every
//!   `EngineMsg::Lines` batch: [`Workspace::append_lines`] (one write); at exit
//!   `Record::TurnEnded(..)` with its status and cost;
//! - queue, `prompt_sent`, session changes: [`Workspace::update_agent`] (atomic state write).

mod export;
pub mod follow;
pub mod fsutil;
pub mod log;
mod state;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

pub use export::export_markdown;
pub use log::{AgentLog, EndStatus, LogItem, Record, Replay, TurnEnd, TurnStart};
pub use state::{AgentState, KeptWindow, WorkspaceState};

use crate::agent::event::add_cost;
use fsutil::{LockFile, LockOutcome};
use log::LogWriter;

const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";
const LOGS_DIR: &str = "logs";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no data directory: set AGENTMUX_DATA_DIR or HOME")]
    NoDataDir,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("workspace {name} is in use by another agentmux{}; close it, or open this one read-only (--read-only)", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked { name: String, pid: Option<u32> },
    #[error("workspace {0} is open read-only")]
    ReadOnly(String),
    #[error("no workspace named {0} (see `agentmux workspaces`)")]
    NotFound(String),
    #[error("workspace {workspace} has no agent named {agent}")]
    NoAgent { workspace: String, agent: String },
    #[error("\"{0}\" is not a usable workspace name; expected letters, digits, '-', '_' or '.'")]
    BadName(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// The data directory (`AGENTMUX_DATA_DIR`, else the platform's).
pub fn data_dir() -> Result<PathBuf, StoreError> {
    if let Some(dir) = std::env::var_os("AGENTMUX_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "agentmux")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or(StoreError::NoDataDir)
}

/// Where workspaces live under a data directory.
pub fn workspaces_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("workspaces")
}

/// What a workspace belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkspaceKey {
    /// A team file, by its canonical path.
    TeamFile(PathBuf),
    /// No team file: the directory agentmux was started in (canonical).
    Directory(PathBuf),
    /// `--workspace NAME`.
    Named(String),
}

impl WorkspaceKey {
    /// The workspace's directory name under `data_dir`: a `--workspace` name itself; else the
    /// team file's or directory's own name (`web`, `team`), with `-2`, `-3`, ... when another
    /// team file or directory has it. A workspace made before names were readable keeps its
    /// `<stem>-<hash>` directory, so nothing it holds is lost.
    pub fn resolve_name(&self, data_dir: &Path) -> Result<String, StoreError> {
        let (WorkspaceKey::TeamFile(path) | WorkspaceKey::Directory(path)) = self else {
            return self.dir_name();
        };
        let root = workspaces_dir(data_dir);
        let legacy = self.dir_name()?;
        if root.join(&legacy).join(STATE_FILE).is_file() {
            return Ok(legacy);
        }
        let base = self.readable_name();
        for n in 1..1000 {
            let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            let dir = root.join(&name);
            if !dir.exists() || workspace_source(&dir).as_ref() == Some(path) {
                return Ok(name);
            }
        }
        Ok(legacy)
    }

    /// `agentmux.toml` is named after its directory, any other team file after itself.
    fn readable_name(&self) -> String {
        let stem = match self {
            WorkspaceKey::TeamFile(p) => {
                let stem = p
                    .file_stem()
                    .filter(|s| Path::new(crate::config::TEAM_FILE_NAME).file_stem() != Some(*s));
                stem.or_else(|| p.parent().and_then(Path::file_name))
            }
            WorkspaceKey::Directory(p) => p.file_name(),
            WorkspaceKey::Named(n) => return n.clone(),
        };
        let mut name =
            safe_name(&stem.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        if name.is_empty() || name.starts_with('.') {
            name.insert_str(0, "root");
        }
        name
    }

    /// The name a workspace had before names were readable: `<stem>-<hash of the path>`.
    pub fn dir_name(&self) -> Result<String, StoreError> {
        match self {
            WorkspaceKey::Named(name) => {
                check_workspace_name(name)?;
                Ok(name.clone())
            }
            WorkspaceKey::TeamFile(p) | WorkspaceKey::Directory(p) => {
                let stem = match self {
                    WorkspaceKey::TeamFile(_) => p.file_stem(),
                    _ => p.file_name(),
                };
                let stem = stem.map(|s| s.to_string_lossy().into_owned());
                let stem = safe_name(stem.as_deref().unwrap_or("root"));
                let kind = if matches!(self, WorkspaceKey::TeamFile(_)) { "team:" } else { "dir:" };
                let mut bytes = kind.as_bytes().to_vec();
                bytes.extend_from_slice(p.as_os_str().as_encoded_bytes());
                Ok(format!("{stem}-{:08x}", fnv1a(&bytes) as u32))
            }
        }
    }

    fn source(&self) -> Option<PathBuf> {
        match self {
            WorkspaceKey::TeamFile(p) | WorkspaceKey::Directory(p) => Some(p.clone()),
            WorkspaceKey::Named(_) => None,
        }
    }
}

/// Letters, digits, `-` and `_` kept, anything else `_`, at most 32 characters.
fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(32)
        .collect()
}

/// The team file or directory a workspace directory belongs to, from its state file.
fn workspace_source(dir: &Path) -> Option<PathBuf> {
    let bytes = std::fs::read(dir.join(STATE_FILE)).ok()?;
    serde_json::from_slice::<WorkspaceState>(&bytes).ok()?.source
}

/// A hash that stays the same across Rust versions (std's may not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn check_workspace_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadName(name.to_string()))
    }
}

/// Whether the process owns the workspace or only looks at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Locked for this process; writes allowed.
    Exclusive,
    /// No lock, no writes: for looking at a workspace another agentmux has open.
    ReadOnly,
}

/// A turn that was running when agentmux went away: offer to resume it.
#[derive(Clone, Debug, PartialEq)]
pub struct InterruptedTurn {
    pub turn: u64,
    pub session_id: String,
    pub prompt: Option<String>,
    /// When it started (ms since the epoch).
    pub started_ms: u64,
}

/// One agent as found on reopen: enough to rebuild its pane.
#[derive(Debug)]
pub struct RestoredAgent {
    pub state: AgentState,
    pub log: AgentLog,
    pub interrupted: Option<InterruptedTurn>,
}

/// What reopening a workspace found.
#[derive(Debug, Default)]
pub struct Restored {
    pub agents: Vec<RestoredAgent>,
    /// Things the user should hear about: cut-short lines, files moved aside.
    pub notes: Vec<String>,
    /// The agent that had the focus when the workspace was last used.
    pub focus: Option<String>,
}

/// An open workspace. With [`Access::Exclusive`] it holds the lock until dropped.
#[derive(Debug)]
pub struct Workspace {
    dir: PathBuf,
    state: WorkspaceState,
    access: Access,
    _lock: Option<LockFile>,
    writers: HashMap<String, LogWriter>,
    /// How each log's end must be mended before the first append (found on open).
    mends: HashMap<String, log::Mend>,
    restored: Option<Restored>,
}

impl Workspace {
    /// Opens the workspace for `key` under `data_dir`, creating it if needed, and reads
    /// everything back (see [`Workspace::take_restored`]).
    pub fn open_or_create(
        data_dir: &Path,
        key: &WorkspaceKey,
        access: Access,
    ) -> Result<Workspace, StoreError> {
        let name = key.resolve_name(data_dir)?;
        let dir = workspaces_dir(data_dir).join(&name);
        if access == Access::ReadOnly && !dir.is_dir() {
            return Err(StoreError::NotFound(name));
        }
        Workspace::open_dir(dir, name, key.source(), access)
    }

    /// Opens an existing workspace by its name (as `agentmux workspaces` lists it).
    pub fn open_existing(
        data_dir: &Path,
        name: &str,
        access: Access,
    ) -> Result<Workspace, StoreError> {
        check_workspace_name(name).map_err(|_| StoreError::NotFound(name.to_string()))?;
        let dir = workspaces_dir(data_dir).join(name);
        if !dir.join(STATE_FILE).is_file() {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Workspace::open_dir(dir, name.to_string(), None, access)
    }

    fn open_dir(
        dir: PathBuf,
        name: String,
        source: Option<PathBuf>,
        access: Access,
    ) -> Result<Workspace, StoreError> {
        let lock = match access {
            Access::Exclusive => {
                fsutil::create_private_dir(&dir.join(LOGS_DIR)).map_err(io_err(&dir))?;
                let lock_path = dir.join(LOCK_FILE);
                match LockFile::try_acquire(&lock_path).map_err(io_err(&lock_path))? {
                    LockOutcome::Acquired(l) => Some(l),
                    LockOutcome::Held(pid) => return Err(StoreError::Locked { name, pid }),
                }
            }
            Access::ReadOnly => None,
        };
        let mut notes = Vec::new();
        let now = fsutil::now_ms();
        let state_path = dir.join(STATE_FILE);
        let state = match std::fs::read(&state_path) {
            Ok(bytes) => match serde_json::from_slice::<WorkspaceState>(&bytes) {
                Ok(s) => Some(s),
                Err(e) => {
                    if access == Access::Exclusive {
                        let moved = fsutil::move_aside(&state_path).map_err(io_err(&state_path))?;
                        notes.push(format!(
                            "{} could not be read ({e}); moved aside to {}; agents start afresh",
                            state_path.display(),
                            moved.display()
                        ));
                    } else {
                        notes.push(format!("{} could not be read ({e})", state_path.display()));
                    }
                    None
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::Io { path: state_path, source: e }),
        };
        let fresh = state.is_none();
        let mut state =
            state.unwrap_or_else(|| WorkspaceState::new(name.clone(), source.clone(), now));
        state.name = name;
        if source.is_some() {
            state.source = source;
        }

        let mut restored = Restored {
            agents: Vec::with_capacity(state.agents.len()),
            notes,
            focus: state.focus.clone(),
        };
        let mut mends = HashMap::new();
        for (agent, read) in state.agents.iter().zip(read_logs(&dir, &state.agents, access)) {
            let read = read?;
            restored.notes.extend(read.notes);
            mends.insert(agent.spec.name.clone(), read.mend);
            restored.agents.push(RestoredAgent {
                state: agent.clone(),
                log: read.log,
                interrupted: read.interrupted,
            });
        }

        let mut ws = Workspace {
            dir,
            state,
            access,
            _lock: lock,
            writers: HashMap::new(),
            mends,
            restored: Some(restored),
        };
        if access == Access::Exclusive {
            ws.state.last_used_ms = now;
            // An existing state is saved again when the workspace closes (see Drop): opening
            // stays free of fsyncs.
            if fresh {
                ws.save_state()?;
            }
        }
        Ok(ws)
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_read_only(&self) -> bool {
        self.access == Access::ReadOnly
    }

    pub fn state(&self) -> &WorkspaceState {
        &self.state
    }

    pub fn agent(&self, name: &str) -> Option<&AgentState> {
        self.state.agents.iter().find(|a| a.spec.name == name)
    }

    /// What was found on open (agents, logs, interrupted turns, notes). Taken once.
    pub fn take_restored(&mut self) -> Restored {
        self.restored.take().unwrap_or_default()
    }

    /// Lines the team up with what the workspace remembers, and returns the panes to build,
    /// in order: the supervisor, the team's agents as in the file, then agents added at run
    /// time in earlier sessions. Takes what [`Workspace::take_restored`] would.
    ///
    /// The team file wins for an agent's spec (edit the file, reopen, it applies), plus the
    /// tools allowed at run time (`AgentState::allowed_at_run_time`). Sessions, queues, the
    /// `prompt_sent` flag, costs and logs carry over; agents new to the workspace start empty.
    /// On a read-only workspace nothing is written.
    pub fn reconcile(&mut self, team: &crate::config::Team) -> Result<Restored, StoreError> {
        let mut restored = self.take_restored();
        let mut old: Vec<Option<RestoredAgent>> = restored.agents.drain(..).map(Some).collect();
        let mut wanted: Vec<(crate::agent::AgentSpec, bool)> = Vec::new();
        if let Some(sup) = &team.supervisor {
            wanted.push((sup.spec.clone(), true));
        }
        wanted.extend(team.agents.iter().map(|a| (a.spec.clone(), false)));

        let mut agents = Vec::with_capacity(wanted.len() + old.len());
        for (spec, supervisor) in wanted {
            let found = old
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|o| o.state.spec.name == spec.name))
                .and_then(Option::take);
            let mut agent = match found {
                Some(a) => a,
                None => self.adopt_or_start(&spec, &mut restored.notes)?,
            };
            agent.state.spec = merge_spec(spec, &agent.state.allowed_at_run_time);
            agent.state.supervisor = supervisor;
            agents.push(agent);
        }
        // Agents made at run time in earlier sessions stay, after the team's.
        agents.extend(old.into_iter().flatten());

        self.state.agents = agents.iter().map(|a| a.state.clone()).collect();
        if self.access == Access::Exclusive {
            self.save_state()?;
        }
        restored.agents = agents;
        Ok(restored)
    }

    /// A team agent the state does not know: a log of its name nobody claims (the state file
    /// was lost) is taken back with what it tells (prompt sent, session, turns, cost);
    /// otherwise the agent starts empty.
    fn adopt_or_start(
        &mut self,
        spec: &crate::agent::AgentSpec,
        notes: &mut Vec<String>,
    ) -> Result<RestoredAgent, StoreError> {
        let log_name = format!("{}.jsonl", log_base(&spec.name));
        let claimed = self.state.agents.iter().any(|a| a.log == log_name);
        let path = self.dir.join(LOGS_DIR).join(&log_name);
        if claimed || !path.is_file() {
            return Ok(RestoredAgent {
                state: AgentState::new(spec.clone(), self.unused_log_name(&spec.name)),
                log: AgentLog::default(),
                interrupted: None,
            });
        }
        let mut state = AgentState::new(spec.clone(), log_name);
        let read = read_agent_log(&self.dir, &state, self.access)?;
        notes.extend(read.notes);
        self.mends.insert(spec.name.clone(), read.mend);
        for (_, turn, record) in read.log.iter() {
            state.turns = state.turns.max(turn);
            match record {
                Record::Prompt(_) => state.prompt_sent = true,
                Record::TurnStarted(s) => state.set_session(&s.session_id),
                Record::TurnEnded(e) => {
                    state.cost_usd = add_cost(state.cost_usd, e.cost_usd.unwrap_or(0.0));
                    if let Some(id) = &e.session_id {
                        state.set_session(id);
                    }
                }
                _ => {}
            }
        }
        notes.push(format!(
            "{}: taken back as the transcript of {} ({} records)",
            path.display(),
            spec.name,
            read.log.len()
        ));
        Ok(RestoredAgent { state, log: read.log, interrupted: read.interrupted })
    }

    /// Path of an agent's log.
    pub fn log_path(&self, agent: &AgentState) -> PathBuf {
        self.dir.join(LOGS_DIR).join(&agent.log)
    }

    fn writable(&self) -> Result<(), StoreError> {
        match self.access {
            Access::Exclusive => Ok(()),
            Access::ReadOnly => Err(StoreError::ReadOnly(self.state.name.clone())),
        }
    }

    /// Writes the state file atomically.
    pub fn save_state(&mut self) -> Result<(), StoreError> {
        self.writable()?;
        let path = self.dir.join(STATE_FILE);
        let bytes = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| StoreError::Io { path: path.clone(), source: e.into() })?;
        fsutil::write_atomic(&path, &bytes).map_err(io_err(&path))
    }

    /// Remembers which agent has the focus; saves the state when that changed.
    pub fn set_focus(&mut self, agent: Option<&str>) -> Result<(), StoreError> {
        self.writable()?;
        if self.state.focus.as_deref() == agent {
            return Ok(());
        }
        self.state.focus = agent.map(String::from);
        self.save_state()
    }

    /// Keeps the usage windows as last reported; writes only on a change.
    pub fn set_limits(&mut self, limits: Vec<KeptWindow>) -> Result<(), StoreError> {
        self.writable()?;
        if self.state.limits == limits {
            return Ok(());
        }
        self.state.limits = limits;
        self.save_state()
    }

    /// Adds an agent (or replaces the spec of one with that name, keeping its sessions and
    /// log) and saves the state. Returns its state.
    pub fn add_agent(
        &mut self,
        spec: crate::agent::AgentSpec,
        supervisor: bool,
    ) -> Result<&AgentState, StoreError> {
        self.writable()?;
        let index = match self.state.agents.iter().position(|a| a.spec.name == spec.name) {
            Some(i) => {
                self.state.agents[i].spec = spec;
                self.state.agents[i].supervisor = supervisor;
                i
            }
            None => {
                let log = self.unused_log_name(&spec.name);
                let mut a = AgentState::new(spec, log);
                a.supervisor = supervisor;
                self.state.agents.push(a);
                self.state.agents.len() - 1
            }
        };
        self.save_state()?;
        Ok(&self.state.agents[index])
    }

    fn unused_log_name(&self, agent: &str) -> String {
        let base = log_base(agent);
        let taken = |n: &str| {
            self.state.agents.iter().any(|a| a.log == n) || self.dir.join(LOGS_DIR).join(n).exists()
        };
        let first = format!("{base}.jsonl");
        if !taken(&first) {
            return first;
        }
        (2..).map(|i| format!("{base}-{i}.jsonl")).find(|n| !taken(n)).unwrap_or(first)
    }

    /// Changes an agent's state (session, queue, prompt_sent, extras, ...) and saves it.
    pub fn update_agent(
        &mut self,
        name: &str,
        change: impl FnOnce(&mut AgentState),
    ) -> Result<(), StoreError> {
        self.writable()?;
        let workspace = self.state.name.clone();
        let agent = self
            .state
            .agents
            .iter_mut()
            .find(|a| a.spec.name == name)
            .ok_or_else(|| StoreError::NoAgent { workspace, agent: name.to_string() })?;
        change(agent);
        self.save_state()
    }

    /// Forgets an agent. Its log is renamed `<log>.removed-<time>`, not deleted, so a later
    /// agent of the same name starts afresh.
    pub fn remove_agent(&mut self, name: &str) -> Result<(), StoreError> {
        self.writable()?;
        self.writers.remove(name);
        if let Some(agent) = self.agent(name) {
            let path = self.log_path(agent);
            if path.exists() {
                fsutil::rename_with_suffix(&path, "removed").map_err(io_err(&path))?;
            }
        }
        self.state.agents.retain(|a| a.spec.name != name);
        self.save_state()
    }

    /// Appends one record to an agent's log (one `write`; not fsync'd, see [`Workspace::sync`]).
    /// A `TurnStarted` counts the turn and makes its session current; a `TurnEnded` adds the
    /// turn's cost; both save the state.
    pub fn append(&mut self, agent: &str, turn: u64, record: Record<'_>) -> Result<(), StoreError> {
        self.append_many(agent, turn, &[record])
    }

    /// Logs the lines of one `EngineMsg::Lines` batch in one `write`: decoded events verbatim,
    /// plain text as text, and a note for a line that was too long to keep.
    pub fn append_lines(
        &mut self,
        agent: &str,
        turn: u64,
        lines: &[(String, crate::agent::Line)],
    ) -> Result<(), StoreError> {
        use crate::agent::Line;
        let notes: Vec<String> = lines
            .iter()
            .filter_map(|(_, l)| match l {
                Line::TooLong { len, limit } => {
                    Some(format!("[agentmux] a line of {len} bytes was skipped (limit {limit})"))
                }
                _ => None,
            })
            .collect();
        let mut notes = notes.iter();
        let records: Vec<Record<'_>> = lines
            .iter()
            .filter_map(|(text, line)| match line {
                Line::Event(_) => Some(Record::Event(text)),
                Line::Text(_) => Some(Record::Text(text)),
                Line::TooLong { .. } => notes.next().map(|n| Record::Text(n)),
            })
            .collect();
        self.append_many(agent, turn, &records)
    }

    /// Appends several records of one turn in one `write` (e.g. the lines of one PTY read).
    pub fn append_many(
        &mut self,
        agent: &str,
        turn: u64,
        records: &[Record<'_>],
    ) -> Result<(), StoreError> {
        self.writable()?;
        let now = fsutil::now_ms();
        let writer = match self.writers.get_mut(agent) {
            Some(w) => w,
            None => {
                let state = self.agent(agent).ok_or_else(|| StoreError::NoAgent {
                    workspace: self.state.name.clone(),
                    agent: agent.to_string(),
                })?;
                let path = self.log_path(state);
                let mend = self.mends.remove(agent).unwrap_or_default();
                let w = LogWriter::open(&path, mend).map_err(io_err(&path))?;
                self.writers.entry(agent.to_string()).or_insert(w)
            }
        };
        if let Err(source) = writer.append(now, turn, records) {
            let path = self.agent(agent).map(|a| self.log_path(a)).unwrap_or_default();
            return Err(StoreError::Io { path, source });
        }
        let mut changed = false;
        for r in records {
            match r {
                Record::TurnStarted(s) => {
                    if let Some(a) = self.state.agents.iter_mut().find(|a| a.spec.name == agent) {
                        a.turns = a.turns.max(turn);
                        a.set_session(&s.session_id);
                        changed = true;
                    }
                }
                Record::TurnEnded(e) => {
                    if let Some(a) = self.state.agents.iter_mut().find(|a| a.spec.name == agent) {
                        a.cost_usd = add_cost(a.cost_usd, e.cost_usd.unwrap_or(0.0));
                        if let Some(id) = &e.session_id {
                            a.set_session(id);
                        }
                        changed = true;
                    }
                    // A turn's records are worth a disk flush once it is over.
                    if let Some(w) = self.writers.get(agent) {
                        let _ = w.sync();
                    }
                }
                _ => {}
            }
        }
        if changed {
            self.state.last_used_ms = now;
            self.save_state()?;
        }
        Ok(())
    }

    /// Waits until every log's appended records are on the disk.
    pub fn sync(&self) -> Result<(), StoreError> {
        for w in self.writers.values() {
            w.sync().map_err(io_err(&self.dir))?;
        }
        Ok(())
    }
}

/// The file name stem of an agent's log.
fn log_base(agent: &str) -> String {
    agent
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(64)
        .collect()
}

/// The team's spec for an agent, plus the tools allowed at run time.
fn merge_spec(team: crate::agent::AgentSpec, added: &[String]) -> crate::agent::AgentSpec {
    let mut spec = team;
    if !added.is_empty() {
        let allowed = spec.options.allowed_tools.get_or_insert_with(Vec::new);
        for tool in added {
            if !allowed.contains(tool) {
                allowed.push(tool.clone());
            }
        }
    }
    spec
}

/// One agent's log as read on open.
struct LogRead {
    log: AgentLog,
    interrupted: Option<InterruptedTurn>,
    notes: Vec<String>,
    mend: log::Mend,
}

/// Reads every agent's log, on as many threads as there are cores (logs are independent).
fn read_logs(
    dir: &Path,
    agents: &[AgentState],
    access: Access,
) -> Vec<Result<LogRead, StoreError>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(agents.len());
    if workers <= 1 {
        return agents.iter().map(|a| read_agent_log(dir, a, access)).collect();
    }
    let mut results: Vec<Option<Result<LogRead, StoreError>>> =
        (0..agents.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..agents.len())
                        .step_by(workers)
                        .map(|i| (i, read_agent_log(dir, &agents[i], access)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A reader that panicked leaves its agents as None: reported below.
            for (i, r) in h.join().unwrap_or_default() {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .zip(agents)
        .map(|(r, a)| {
            r.unwrap_or_else(|| {
                Err(StoreError::Io {
                    path: dir.join(LOGS_DIR).join(&a.log),
                    source: io::Error::other("the reading thread failed"),
                })
            })
        })
        .collect()
}

/// Reads one agent's log, moving a corrupt one aside; finds a turn left running.
fn read_agent_log(dir: &Path, agent: &AgentState, access: Access) -> Result<LogRead, StoreError> {
    let path = dir.join(LOGS_DIR).join(&agent.log);
    let mut notes = Vec::new();
    let (log, report) = match log::read_log(&path) {
        Ok(r) => r,
        Err(log::ReadError::Io(e)) => return Err(StoreError::Io { path, source: e }),
        Err(e) => {
            if access == Access::Exclusive {
                let moved = fsutil::move_aside(&path).map_err(io_err(&path))?;
                notes.push(format!(
                    "{}: the transcript of {} could not be read ({e}); moved aside to {}",
                    path.display(),
                    agent.spec.name,
                    moved.display()
                ));
            } else {
                notes.push(format!("{}: could not be read ({e})", path.display()));
            }
            return Ok(LogRead {
                log: AgentLog::default(),
                interrupted: None,
                notes,
                mend: log::Mend::Nothing,
            });
        }
    };
    // A look at a workspace in use may catch its owner mid-write: that line is followed.
    if report.truncated_tail > 0 && access == Access::Exclusive {
        notes.push(format!(
            "{}: the last line was cut short ({} bytes, a crash mid-write?) and is ignored",
            path.display(),
            report.truncated_tail
        ));
    }
    if let Some((first, _)) = report.unreadable.first() {
        notes.push(format!(
            "{}: {} unreadable line(s) skipped (first: line {first})",
            path.display(),
            report.unreadable.len()
        ));
    }
    let interrupted = find_interrupted(&log);
    Ok(LogRead { log, interrupted, notes, mend: report.mend })
}

/// The last turn started and never ended, if the log ends inside one.
fn find_interrupted(log: &AgentLog) -> Option<InterruptedTurn> {
    let mut ended_turn = None;
    for (index, (ts, turn, record)) in log.iter().enumerate().rev() {
        match record {
            Record::TurnEnded(_) if ended_turn.is_none() => ended_turn = Some(turn),
            Record::TurnStarted(start) => {
                if ended_turn == Some(turn) {
                    return None;
                }
                let prompt = (0..index).rev().find_map(|i| match log.get(i) {
                    Some((_, t, Record::Prompt(p))) if t == turn => Some(p.to_string()),
                    _ => None,
                });
                return Some(InterruptedTurn {
                    turn,
                    session_id: start.session_id.clone(),
                    prompt,
                    started_ms: ts,
                });
            }
            _ => {}
        }
    }
    None
}

impl Drop for Workspace {
    /// Records when the workspace was last used; best effort (the records are already safe).
    fn drop(&mut self) {
        if self.access == Access::Exclusive {
            let _ = self.save_state();
        }
    }
}

/// One line of `agentmux workspaces`.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkspaceSummary {
    pub name: String,
    pub dir: PathBuf,
    /// The team file or directory it belongs to.
    pub source: Option<PathBuf>,
    pub agents: Vec<String>,
    pub last_used_ms: u64,
    pub cost_usd: f64,
    pub in_use: bool,
    /// Set when the state file could not be read.
    pub problem: Option<String>,
}

/// Every workspace under `data_dir`, most recently used first.
pub fn list_workspaces(data_dir: &Path) -> Result<Vec<WorkspaceSummary>, StoreError> {
    let root = workspaces_dir(data_dir);
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::Io { path: root, source: e }),
    };
    let mut list = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let in_use = LockFile::is_held(&dir.join(LOCK_FILE));
        let mut summary = WorkspaceSummary {
            name,
            dir: dir.clone(),
            source: None,
            agents: Vec::new(),
            last_used_ms: 0,
            cost_usd: 0.0,
            in_use,
            problem: None,
        };
        match std::fs::read(dir.join(STATE_FILE)) {
            Ok(bytes) => match serde_json::from_slice::<WorkspaceState>(&bytes) {
                Ok(state) => {
                    summary.source = state.source.clone();
                    summary.agents = state.agents.iter().map(|a| a.spec.name.clone()).collect();
                    summary.last_used_ms = state.last_used_ms;
                    // A sum of nothing is -0.0; a listing shows no cost as 0.
                    summary.cost_usd = state.total_cost_usd() + 0.0;
                }
                Err(e) => summary.problem = Some(format!("state.json unreadable: {e}")),
            },
            Err(e) => summary.problem = Some(format!("state.json: {e}")),
        }
        list.push(summary);
    }
    list.sort_by(|a, b| b.last_used_ms.cmp(&a.last_used_ms).then(a.name.cmp(&b.name)));
    Ok(list)
}

/// Deletes a workspace and its transcripts. Refuses while another agentmux has it open.
pub fn remove_workspace(data_dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    check_workspace_name(name).map_err(|_| StoreError::NotFound(name.to_string()))?;
    let dir = workspaces_dir(data_dir).join(name);
    if !dir.is_dir() {
        return Err(StoreError::NotFound(name.to_string()));
    }
    let lock_path = dir.join(LOCK_FILE);
    // Hold the lock while deleting so no agentmux opens it half-removed.
    let _lock = match LockFile::try_acquire(&lock_path).map_err(io_err(&lock_path))? {
        LockOutcome::Acquired(l) => l,
        LockOutcome::Held(pid) => return Err(StoreError::Locked { name: name.to_string(), pid }),
    };
    std::fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
    Ok(dir)
}

/// An agent's transcript in a workspace, as Markdown.
pub fn export_agent(data_dir: &Path, workspace: &str, agent: &str) -> Result<String, StoreError> {
    let mut ws = Workspace::open_existing(data_dir, workspace, Access::ReadOnly)?;
    let restored = ws.take_restored();
    let found = restored.agents.into_iter().find(|a| a.state.spec.name == agent);
    let Some(found) = found else {
        return Err(StoreError::NoAgent {
            workspace: workspace.to_string(),
            agent: agent.to_string(),
        });
    };
    let mut title = format!("{agent} ({workspace})");
    if let Some(role) = &found.state.spec.role {
        title = format!("{agent}: {role} ({workspace})");
    }
    Ok(export_markdown(&title, &found.log))
}
