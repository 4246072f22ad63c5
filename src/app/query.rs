//! Plain questions about the state, for the control socket (`ls`, `wait`) and the views.

use std::time::Duration;

use super::state::{Agent, State, TurnState};
use crate::control::proto::AgentState;

/// One agent as `agentmux ls` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSummary {
    pub name: String,
    pub role: Option<String>,
    pub supervisor: bool,
    /// "idle", "running", "starting", "error", "interrupted", "rate-limited".
    pub state: &'static str,
    pub busy: bool,
    pub queued: usize,
    pub session: Option<String>,
    pub model: Option<String>,
    pub turns: u32,
    pub cost_usd: f64,
    pub tokens: u64,
}

pub fn state_name(turn: &TurnState) -> &'static str {
    match turn {
        TurnState::Idle => "idle",
        TurnState::Starting { .. } => "starting",
        TurnState::Running { .. } => "running",
        TurnState::Error { .. } => "error",
        TurnState::Interrupted => "interrupted",
        TurnState::RateLimited { .. } => "rate-limited",
    }
}

/// When the five-hour window began (its reset less five hours), or five hours ago when no
/// reset is known: the start the burn is counted from.
pub fn burn_start(state: &State) -> (i64, bool) {
    let now = state.time();
    let five = state.limits.at(now).into_iter().find(|w| w.name == "five_hour");
    match five.and_then(|w| w.resets_at) {
        Some(at) => (at - crate::limits::burn::FIVE_HOURS, true),
        None => (now.wall - crate::limits::burn::FIVE_HOURS, false),
    }
}

/// The `top` agents that burned most since [`burn_start`], with their shares.
pub fn top_burners(state: &State, top: usize) -> Vec<crate::limits::burn::Burner> {
    let (start, _) = burn_start(state);
    let agents: Vec<(String, u64)> =
        state.agents.iter().map(|a| (a.spec.name.clone(), a.burn.since(start))).collect();
    crate::limits::burn::top_burners(&agents, top)
}

/// The window assumed when the CLI never said its size (every model's default window).
pub const DEFAULT_CONTEXT_WINDOW: u64 = 200_000;

/// How full an agent's context window is, in percent of the window (the CLI's count when a live
/// process answered `get_context_usage`, else the last request's usage against the default
/// window); `None` before any usage came.
pub fn context_percent(agent: &Agent) -> Option<u64> {
    let c = agent.context?;
    Some(c.used.saturating_mul(100) / context_window(agent))
}

/// The context window an agent works in: the CLI's count, else the one its model's name
/// selects (`[1m]`), else the default.
pub fn context_window(agent: &Agent) -> u64 {
    let counted = agent.context.and_then(|c| c.window).filter(|w| *w > 0);
    let named = || agent.model.as_deref().and_then(|m| split_model(m).1);
    counted.or_else(named).unwrap_or(DEFAULT_CONTEXT_WINDOW)
}

/// A model as the CLI names it, split into the model's own name and the context window its
/// suffix selects: `claude-opus-4-8[1m]` is `claude-opus-4-8` with a window of 1M tokens.
pub fn split_model(model: &str) -> (&str, Option<u64>) {
    let Some(open) = model.rfind('[').filter(|_| model.ends_with(']')) else {
        return (model, None);
    };
    let size = model[open + 1..model.len() - 1].to_ascii_lowercase();
    let (digits, unit) = match (size.strip_suffix('m'), size.strip_suffix('k')) {
        (Some(d), _) => (d, 1_000_000),
        (_, Some(d)) => (d, 1_000),
        _ => return (model, None),
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => (&model[..open], Some(n.saturating_mul(unit))),
        _ => (model, None),
    }
}

/// The model after an assistant message named `said`: the API's name has no window suffix,
/// so the one the CLI's name had stays while the model is the same.
pub fn reported_model(before: Option<&str>, said: &str) -> String {
    match before {
        Some(b) if split_model(b).0 == said => b.to_string(),
        _ => said.to_string(),
    }
}

/// Where an agent stands, in the one word every view shows: the pane header, the supervisor's
/// board, `agentmux ls` and `ls --json`. A call waiting for the user outranks the turn.
pub fn agent_state(state: &State, agent: &Agent) -> AgentState {
    if state.approvals.first_for(agent.id).is_some() {
        return AgentState::NeedsYou;
    }
    let held = || state.index_of(agent.id).and_then(|i| super::governor::held(state, i)).is_some();
    match &agent.turn {
        TurnState::RateLimited { .. } => AgentState::RateLimited,
        _ if !agent.turn.is_active() && held() => AgentState::Held,
        TurnState::Idle => AgentState::Idle,
        TurnState::Starting { .. } | TurnState::Running { .. } => AgentState::Running,
        TurnState::Error { .. } => AgentState::Failed,
        TurnState::Interrupted => AgentState::Interrupted,
    }
}

impl Agent {
    pub fn summary(&self) -> AgentSummary {
        AgentSummary {
            name: self.spec.name.clone(),
            role: self.spec.role.clone(),
            supervisor: self.supervisor,
            state: state_name(&self.turn),
            busy: self.turn.is_active(),
            queued: self.queue.len(),
            session: self.confirmed_session().map(String::from),
            model: self.model.clone(),
            turns: self.turns,
            cost_usd: self.cost_usd,
            tokens: self.tokens,
        }
    }
}

impl State {
    pub fn summaries(&self) -> Vec<AgentSummary> {
        self.agents.iter().map(Agent::summary).collect()
    }

    pub fn summary(&self, name: &str) -> Option<AgentSummary> {
        self.index_named(name).map(|i| self.agents[i].summary())
    }

    /// Whether an agent still has work: a turn running or follow-ups queued (`wait` waits
    /// until this is false). `None` when there is no such agent.
    pub fn has_work(&self, name: &str) -> Option<bool> {
        let a = &self.agents[self.index_named(name)?];
        Some(a.turn.is_active() || (!a.queue.is_empty() && !a.held))
    }

    /// How long an agent's turn has been running.
    pub fn elapsed(&self, agent: &Agent) -> Option<Duration> {
        agent.turn.since().map(|s| self.now.saturating_duration_since(s))
    }
}

impl State {
    /// Every agent's transcript lines holding `text`, in the team's order: one search for the
    /// global search view and `agentmux search`.
    pub fn search_all(
        &self,
        text: &str,
    ) -> Result<(crate::transcript::search::ByAgent, bool), crate::transcript::search::SearchError>
    {
        let needle = crate::transcript::search::Needle::new(text)?;
        let transcripts = self.agents.iter().map(|a| (a.name(), &a.transcript));
        Ok(crate::transcript::search::search_all(transcripts, &needle))
    }
}

/// Every agent as `agentmux ls` lists it.
pub fn agent_infos(state: &State) -> Vec<crate::control::proto::AgentInfo> {
    state
        .agents
        .iter()
        .map(|a| crate::control::proto::AgentInfo {
            name: a.name().to_string(),
            role: a.spec.role.clone(),
            state: agent_state(state, a),
            supervisor: a.supervisor,
            cwd: a.spec.cwd.display().to_string(),
            session_id: a.confirmed_session().map(String::from),
            turns: u64::from(a.turns),
            cost_usd: a.cost_usd,
            queued: a.queue.len(),
            last_activity_ms: a.last_activity.map(|t| state.wall_ms_at(t)),
        })
        .collect()
}

/// How the agent's last turn ended, as `agentmux wait` answers it.
pub fn last_turn(a: &Agent) -> crate::control::proto::TurnReport {
    use crate::control::proto::{TurnOutcome, TurnReport};
    if let Some(r) = &a.last_report {
        return r.clone();
    }
    // No turn ended in this run (a fresh agent, or one reopened from the log): the state says
    // how its last turn ended, so a turn cut off by a quit is not reported as done.
    let outcome = match &a.turn {
        TurnState::Interrupted => TurnOutcome::Interrupted,
        TurnState::RateLimited { .. } => TurnOutcome::RateLimited,
        TurnState::Error { .. } => TurnOutcome::Error,
        _ if a.turns > 0 => TurnOutcome::Success,
        _ => TurnOutcome::None,
    };
    let detail = match &a.turn {
        TurnState::Error { message } => Some(message.clone()),
        _ => None,
    };
    TurnReport { agent: a.name().to_string(), outcome, detail, result: None, cost_usd: None }
}
