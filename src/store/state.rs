//! The workspace's small state file (`state.json`): every agent's spec, sessions and queue.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::agent::AgentSpec;

pub const STATE_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceState {
    pub version: u32,
    /// The name `agentmux workspaces` shows and `rm` / `export` accept (the directory's name).
    pub name: String,
    /// What the workspace belongs to: a team file or a directory (None for `--workspace NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    pub created_ms: u64,
    pub last_used_ms: u64,
    #[serde(default)]
    pub agents: Vec<AgentState>,
    /// The agent that had the focus last (by name): it has it again on reopen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
    /// The usage windows as last reported: a reopen knows them (and when they reset) before
    /// any agent has replied again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<KeptWindow>,
}

/// One usage window as last reported (see `limits::Window`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptWindow {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
}

/// What the store keeps of one agent between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub spec: AgentSpec,
    /// True for the team's supervisor.
    #[serde(default)]
    pub supervisor: bool,
    /// The log's file name in the workspace's `logs/` directory.
    pub log: String,
    /// The conversation follow-ups resume (`--resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Every session the agent has had, oldest first (the current one last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_sessions: Vec<String>,
    /// Follow-ups typed while a turn ran, not sent yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<String>,
    /// The team file's `prompt` went out once: never send it again.
    #[serde(default)]
    pub prompt_sent: bool,
    /// Turns started so far (the next turn's number is this plus one).
    #[serde(default)]
    pub turns: u64,
    /// Sum of the `cost_usd` of ended turns.
    #[serde(default)]
    pub cost_usd: f64,
    /// Tools allowed at run time ("allow always" rules such as `Bash(npm test:*)`): kept
    /// across reopens on top of the team file's `allowed_tools` (see `Workspace::reconcile`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_at_run_time: Vec<String>,
    /// Room for other parts of agentmux (worktree branch, approvals, ...), kept as is.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extras: BTreeMap<String, serde_json::Value>,
}

impl AgentState {
    /// A new agent; `log` is its log's file name (see `Workspace::add_agent`).
    pub fn new(spec: AgentSpec, log: String) -> Self {
        AgentState {
            spec,
            supervisor: false,
            log,
            session_id: None,
            past_sessions: Vec::new(),
            queue: Vec::new(),
            prompt_sent: false,
            turns: 0,
            cost_usd: 0.0,
            allowed_at_run_time: Vec::new(),
            extras: BTreeMap::new(),
        }
    }

    /// Makes `id` the current session, remembering it in `past_sessions`.
    pub fn set_session(&mut self, id: &str) {
        if self.session_id.as_deref() != Some(id) {
            self.session_id = Some(id.to_string());
        }
        if self.past_sessions.last().map(String::as_str) != Some(id) {
            self.past_sessions.retain(|s| s != id);
            self.past_sessions.push(id.to_string());
        }
    }
}

impl WorkspaceState {
    pub fn new(name: String, source: Option<PathBuf>, now_ms: u64) -> Self {
        WorkspaceState {
            version: STATE_VERSION,
            name,
            source,
            created_ms: now_ms,
            last_used_ms: now_ms,
            agents: Vec::new(),
            focus: None,
            limits: Vec::new(),
        }
    }

    pub fn total_cost_usd(&self) -> f64 {
        crate::agent::event::sum_costs(self.agents.iter().map(|a| a.cost_usd))
    }
}
