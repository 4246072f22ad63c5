//! The run loop's side of the workspace store: what happens is written as it happens.
//!
//! Why here and not as effects of `update`: the bulk of a transcript is the raw lines of
//! `EngineMsg::Lines`, which `update` consumes; logging them where the message arrives (before
//! `update`, by reference) copies nothing and keeps the core free of I/O. What `update` decides
//! (a prompt sent: `Effect::SpawnTurn`; queues, sessions, agents, rules: `Effect::Persist`)
//! reaches the store through the effects the loop carries out. The store's writes are plain
//! `write`s (an atomic rename for the small state file), cheap enough on the loop's thread:
//! `benches/persist.rs` measured a flood in batches of 64 lines at 0.58 µs a line through
//! `update` alone and 1.27 µs logged first (ratio 2.2), still about 790,000 lines a second on
//! one core, far above what turns emit, so the logging was not moved to a thread of its own.
//!
//! A store error never stops the app: the state in memory is still good. It is shown once (the
//! hint line and the first pane), logged every time.

use crate::agent::event::{add_cost, Event};
use crate::agent::turn::Verdict;
use crate::agent::{AgentId, EngineMsg, Line, SessionArg};
use crate::app::{Effect, Msg, State};
use crate::config::Team;
use crate::store::follow::Follower;
use crate::store::{AgentState, EndStatus, Record, StoreError, TurnEnd, TurnStart, Workspace};

/// Extras key: the agent works in a git worktree of its own (reopened on the next start).
pub const WORKTREE_EXTRA: &str = "worktree";
use crate::app::convo::FORK_EXTRA;

/// Opens the app on a workspace: the panes rebuilt from it, the turns agentmux died in marked
/// lost, the worktrees of agents made at run time opened again. Returns the persister and the
/// first effects: the team's first prompts that never went out (none when read-only).
pub fn open(state: &mut State, team: &Team, mut ws: Workspace) -> (Persister, Vec<Effect>) {
    let read_only = ws.is_read_only();
    state.read_only = read_only;
    let mut first = State::first_prompts(team);
    // The state file as read, before the team is lined up with it: what a look follows.
    let as_read = ws.state().clone();
    let found = ws.reconcile(team);
    let follower = match (&found, read_only) {
        (Ok(found), true) => Some(Follower::new(&ws, as_read, found)),
        _ => None,
    };
    let mut p = Persister::new(ws);
    p.team = team
        .agents
        .iter()
        .map(|a| a.spec.name.clone())
        .chain(team.supervisor.as_ref().map(|s| s.spec.name.clone()))
        .collect();
    let mut fx = Vec::new();
    match found {
        Ok(mut found) => {
            state.limits = limits_of(&p.workspace().state().limits);
            // A turn the owner runs now is not one agentmux died in.
            let running: Vec<_> = match &follower {
                Some(f) if !f.owner_gone() => found
                    .agents
                    .iter_mut()
                    .filter_map(|a| a.interrupted.take().map(|t| (a.state.spec.name.clone(), t)))
                    .collect(),
                _ => Vec::new(),
            };
            let lost = crate::app::restore::restore(state, &found, &mut first);
            crate::app::follow::still_running(state, &running, crate::store::fsutil::now_ms());
            p.relay_kept = state
                .supervision
                .as_ref()
                .map(|s| (s.relay.log().len(), s.relay.log().next_back().cloned()));
            if !read_only {
                p.mark_lost(state, &lost);
            }
            if !read_only {
                reopen_worktrees(state, &found, &p.team, &mut fx);
            }
        }
        Err(e) => p.report(e),
    }
    if read_only {
        state.flash = Some(crate::app::update::READ_ONLY_NOTE.into());
    } else {
        fx.extend(crate::app::start_first_prompts(state, first));
        if let Err(e) = p.sync(state) {
            p.report(e);
        }
    }
    p.follower = follower.filter(|f| !f.owner_gone());
    (p, fx)
}

/// The worktrees of agents made at run time (the team's own are opened before the loop).
fn reopen_worktrees(
    state: &mut State,
    found: &crate::store::Restored,
    team: &[String],
    fx: &mut Vec<Effect>,
) {
    for kept in &found.agents {
        let name = kept.state.spec.name.as_str();
        let worktree = kept.state.extras.get(WORKTREE_EXTRA) == Some(&true.into());
        if worktree && !team.iter().any(|t| t == name) {
            if let Some(i) = state.index_named(name) {
                crate::app::worktree::open_for(state, i, None, fx);
            }
        }
    }
}

pub struct Persister {
    ws: Workspace,
    /// The relay log as last kept: its length and last line (the log is capped, so the length
    /// alone stops moving once full).
    relay_kept: Option<(usize, Option<crate::supervisor::LogEntry>)>,
    /// The running turn's cost, from its `result` line (logged with the turn's end).
    costs: std::collections::HashMap<AgentId, f64>,
    /// An error was shown already: later ones go to the log file only.
    reported: bool,
    /// The error to show, until the run loop takes it to `update` (`Msg::NotSaved`).
    unshown: Option<String>,
    /// The team file's agents: closing one keeps its transcript (the file brings it back on
    /// the next start, where it carries on rather than starting over).
    team: Vec<String>,
    /// A read-only look's follower of the owner's files, until the run loop takes it.
    follower: Option<Follower>,
}

impl Persister {
    pub fn new(ws: Workspace) -> Persister {
        Persister {
            ws,
            relay_kept: None,
            costs: Default::default(),
            reported: false,
            unshown: None,
            team: Vec::new(),
            follower: None,
        }
    }

    /// What follows the owner of a workspace open read-only (taken once).
    pub fn take_follower(&mut self) -> Option<Follower> {
        self.follower.take()
    }

    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    fn report(&mut self, e: StoreError) {
        tracing::warn!("workspace: {e}");
        if self.reported {
            return;
        }
        self.reported = true;
        let text = format!("not saved: {e} (agentmux keeps running; this session may be lost)");
        self.unshown = Some(text);
    }

    /// The first store error, for `update` to show (taken once).
    pub fn take_warning(&mut self) -> Option<Msg> {
        self.unshown.take().map(Msg::NotSaved)
    }

    /// The turns agentmux died in are over: a `Lost` end, so the log reads as it happened.
    pub fn mark_lost(&mut self, state: &State, agents: &[String]) {
        for name in agents {
            let Some(a) = state.index_named(name).map(|i| &state.agents[i]) else { continue };
            let mut end = TurnEnd::new(EndStatus::Lost);
            end.session_id = a.session.clone();
            let turn = a.turn_seq;
            if let Err(e) = self.ws.append(name, turn, Record::TurnEnded(&end)) {
                self.report(e);
            }
        }
    }

    /// Before `update` sees a message: log the lines it carries and how a turn ended (the
    /// state still knows which turn it was and what its result said).
    pub fn before(&mut self, msg: &Msg, state: &State) {
        if self.ws.is_read_only() {
            return;
        }
        let result = match msg {
            Msg::Engine(EngineMsg::Lines { agent, turn, lines, .. }) => {
                let Some(i) = current(state, *agent, *turn) else { return };
                for (_, line) in lines {
                    if let Line::Event(Event::Result(r)) = line {
                        let sum = self.costs.entry(*agent).or_default();
                        *sum = add_cost(*sum, r.total_cost_usd.unwrap_or(0.0));
                    }
                }
                self.ws.append_lines(state.agents[i].name(), *turn, lines)
            }
            Msg::Engine(EngineMsg::Exited { agent, turn, exit }) => {
                let Some(i) = current(state, *agent, *turn) else { return };
                let a = &state.agents[i];
                // As `update` will judge it (see `on_exit`).
                // The same verdict `update` reaches (see `on_exit`).
                let status = match a.progress.verdict(exit).0 {
                    Verdict::Done => EndStatus::Ok,
                    Verdict::Failed => EndStatus::Error,
                    Verdict::Interrupted => EndStatus::Interrupted,
                    Verdict::RateLimited { .. } => EndStatus::RateLimited,
                };
                let end = TurnEnd {
                    status,
                    exit_code: exit.code,
                    signal: exit.signal.clone(),
                    cost_usd: self.costs.remove(agent),
                    session_id: a.session.clone(),
                };
                self.ws.append(a.name(), *turn, Record::TurnEnded(&end))
            }
            Msg::SpawnFailed { agent, turn, .. } => {
                let Some(i) = current(state, *agent, *turn) else { return };
                let end = TurnEnd::new(EndStatus::Error);
                self.ws.append(state.agents[i].name(), *turn, Record::TurnEnded(&end))
            }
            _ => return,
        };
        if let Err(e) = result {
            self.report(e);
        }
    }

    /// An effect `update` returned: a prompt going out, or something the state file keeps.
    pub fn effect(&mut self, effect: &Effect, state: &State) {
        if self.ws.is_read_only() {
            return;
        }
        let result = match effect {
            Effect::SpawnTurn(req) => self.turn_started(state, req),
            Effect::Persist => self.sync(state),
            Effect::History { agent, history } => self.history(state, *agent, history),
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.report(e);
        }
    }

    fn turn_started(
        &mut self,
        state: &State,
        req: &crate::agent::TurnRequest,
    ) -> Result<(), StoreError> {
        let Some(a) = state.index_of(req.agent).map(|i| &state.agents[i]) else { return Ok(()) };
        if self.ws.agent(a.name()).is_none() {
            self.sync(state)?;
        }
        self.costs.remove(&req.agent);
        let start = match &req.session {
            SessionArg::New(id) => TurnStart { session_id: id.clone(), resume: false },
            // A fork starts from a conversation the CLI has.
            SessionArg::Resume(id) | SessionArg::Fork { from: id, .. } => {
                TurnStart { session_id: id.clone(), resume: true }
            }
        };
        let records = [Record::Prompt(&req.prompt), Record::TurnStarted(&start)];
        self.ws.append_many(a.name(), req.turn, &records)?;
        if self.ws.agent(a.name()).is_some_and(|s| !s.prompt_sent) {
            self.ws.update_agent(a.name(), |s| s.prompt_sent = true)?;
        }
        Ok(())
    }

    /// An agent's earlier conversation (imported or forked) into its new log, turn by turn as
    /// turns run here are logged.
    fn history(
        &mut self,
        state: &State,
        agent: AgentId,
        history: &crate::import::History,
    ) -> Result<(), StoreError> {
        let Some(a) = state.index_of(agent).map(|i| &state.agents[i]) else { return Ok(()) };
        if self.ws.agent(a.name()).is_none() {
            self.sync(state)?;
        }
        let bounds = history.bounds();
        for i in 0..history.turns.len() {
            self.ws.append_many(a.name(), i as u64 + 1, &history.records(i, &bounds))?;
        }
        Ok(())
    }

    /// Brings the state file in line with the app: agents created or closed at run time (a
    /// closed agent's log is renamed, see `Workspace::remove_agent`),
    /// sessions, queues, the rules "allow always" added. Writes only what changed.
    pub fn sync(&mut self, state: &State) -> Result<(), StoreError> {
        let closed: Vec<String> = self
            .ws
            .state()
            .agents
            .iter()
            .filter(|s| state.index_named(&s.spec.name).is_none())
            .filter(|s| !self.team.contains(&s.spec.name))
            .map(|s| s.spec.name.clone())
            .collect();
        for name in closed {
            self.ws.remove_agent(&name)?;
        }
        for a in &state.agents {
            let opening = state.opening_worktrees.contains(&a.id);
            if self.ws.agent(a.name()).is_none() {
                // Made at run time: its spec as the user gave it (its own directory, not its
                // worktree's: the worktree is opened again on reopen).
                let mut spec = a.spec.clone();
                if let Some(tree) = &a.tree {
                    spec.cwd = tree.home.clone();
                }
                self.ws.add_agent(spec, a.supervisor)?;
            }
            let Some(kept) = self.ws.agent(a.name()) else { continue };
            let mut next = kept.clone();
            apply(&mut next, a, a.tree.is_some() || opening);
            if next != *kept {
                self.ws.update_agent(a.name(), |s| *s = next)?;
            }
        }
        Ok(())
    }

    /// After every batch: what the board shows and no message persists (the relay log lines,
    /// which agent has the focus) is kept as it changes, so a reopen after a kill -9 shows it
    /// too. Compares in memory; writes only on a change.
    pub fn after_batch(&mut self, state: &State) {
        if self.ws.is_read_only() {
            return;
        }
        let focus = state.focused().map(|a| a.name().to_string());
        // Holds begin and end without a message that persists (a window fills, resets).
        let mut result = self.ws.set_focus(focus.as_deref()).and_then(|()| self.sync(state));
        if result.is_ok() {
            result = self.ws.set_limits(kept_limits(&state.limits));
        }
        if let (Some(sup), Some(lead)) =
            (&state.supervision, state.agents.iter().find(|a| a.supervisor))
        {
            let (n, last) = (sup.relay.log().len(), sup.relay.log().next_back());
            let same =
                matches!(&self.relay_kept, Some((kn, kl)) if *kn == n && kl.as_ref() == last);
            if !same && result.is_ok() {
                let value = crate::app::restore::relay_log_value(&sup.relay);
                let name = lead.name().to_string();
                result = self.ws.update_agent(&name, |s| {
                    s.extras.insert(crate::app::restore::RELAY_LOG_EXTRA.into(), value);
                });
                self.relay_kept = Some((n, last.cloned()));
            }
        }
        if let Err(e) = result {
            self.report(e);
        }
    }

    /// The run is over: turns still running were stopped by the quit; everything to disk.
    pub fn close(&mut self, state: &State) {
        if self.ws.is_read_only() {
            return;
        }
        let running: Vec<(String, u64, Option<String>)> = state
            .agents
            .iter()
            .filter(|a| a.turn.is_active())
            .map(|a| (a.name().to_string(), a.turn_seq, a.session.clone()))
            .collect();
        for (name, turn, session) in running {
            let mut end = TurnEnd::new(EndStatus::Interrupted);
            end.session_id = session;
            if let Err(e) = self.ws.append(&name, turn, Record::TurnEnded(&end)) {
                self.report(e);
            }
        }
        let limits = kept_limits(&state.limits);
        let saved = self.sync(state).and_then(|()| self.ws.set_limits(limits));
        if let Err(e) = saved.and_then(|()| self.ws.sync()) {
            self.report(e);
        }
    }
}

fn kept_limits(limits: &crate::limits::Limits) -> Vec<crate::store::KeptWindow> {
    let kept = |w: &crate::limits::Window| crate::store::KeptWindow {
        name: w.name.clone(),
        utilization: w.utilization,
        status: w.status.clone(),
        resets_at: w.resets_at,
    };
    limits.windows().iter().map(kept).collect()
}

fn limits_of(kept: &[crate::store::KeptWindow]) -> crate::limits::Limits {
    let read = |k: &crate::store::KeptWindow| {
        crate::limits::Window::reading(&k.name, k.utilization, k.status.clone(), k.resets_at)
    };
    crate::limits::Limits::from_readings(kept.iter().map(read).collect())
}

/// What the app knows of an agent, onto what the store keeps of it.
fn apply(kept: &mut AgentState, a: &crate::app::Agent, worktree: bool) {
    if let Some(id) = &a.session {
        // Only a conversation the CLI reported (or one a turn was started with).
        if a.session_live || kept.past_sessions.contains(id) {
            kept.set_session(id);
        }
    } else {
        kept.session_id = None;
    }
    kept.queue = a.queue.iter().cloned().collect();
    // The first turn carried the team file's `prompt`, if it had one.
    if a.turn_seq > 0 {
        kept.prompt_sent = true;
    }
    // Rules added at run time ("allow always"): what the app's spec allows beyond the kept one.
    let base = kept.spec.options.allowed_tools.clone().unwrap_or_default();
    for tool in a.spec.options.allowed_tools.iter().flatten() {
        if !base.contains(tool) {
            if !kept.allowed_at_run_time.contains(tool) {
                kept.allowed_at_run_time.push(tool.clone());
            }
            kept.spec.options.allowed_tools.get_or_insert_with(Vec::new).push(tool.clone());
        }
    }
    if worktree {
        kept.extras.insert(WORKTREE_EXTRA.into(), serde_json::Value::Bool(true));
    }
    if a.held {
        let until = serde_json::json!({ "refused_until": a.refused_until });
        kept.extras.insert(crate::app::restore::HELD_EXTRA.into(), until);
    } else {
        kept.extras.remove(crate::app::restore::HELD_EXTRA);
    }
    // A fork not made yet stays one across a reopen: resuming instead would add to the original.
    match &a.fork {
        Some(at) => {
            let at = at.clone().map_or(serde_json::Value::Null, serde_json::Value::String);
            kept.extras.insert(FORK_EXTRA.into(), serde_json::json!({ "at": at }));
        }
        None => {
            kept.extras.remove(FORK_EXTRA);
        }
    }
}

fn current(state: &State, agent: AgentId, turn: u64) -> Option<usize> {
    state.index_of(agent).filter(|&i| state.agents[i].turn_seq == turn)
}
