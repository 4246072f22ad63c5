//! Panes rebuilt from a workspace on reopen (see `store`): the prompts, the logged lines
//! replayed through the transcript as the engine delivered them, the turn ends with their
//! outcome; sessions, queues and counters; a turn agentmux died in, and the key resuming it.

use super::command::{Command, Context};
use super::state::{Agent, State, TurnState};
use crate::agent::event::{add_cost, Event, SystemKind};
use crate::agent::{Billing, Line};
use crate::store::{EndStatus, Record, Replay, Restored, RestoredAgent, TurnEnd};
use crate::supervisor::{LogEntry, Relay};
use crate::transcript::{NoteLevel, TurnFooter, TurnStatus};

/// What a resumed turn says to the agent.
pub const RESUME_PROMPT: &str = "Continue from where you left off.";

/// Extras key of the supervisor's state: the last lines of the relay log, for the board.
pub const RELAY_LOG_EXTRA: &str = "relay_log";
/// How many relay log lines the workspace keeps (the board shows a few; the rest is margin).
pub const RELAY_LOG_KEPT: usize = 50;

/// The relay log's last lines as the workspace keeps them.
pub fn relay_log_value(relay: &Relay) -> serde_json::Value {
    let n = relay.log().len();
    let kept: Vec<&LogEntry> = relay.log().skip(n.saturating_sub(RELAY_LOG_KEPT)).collect();
    serde_json::to_value(kept).unwrap_or_default()
}

/// The relay log lines kept in `value`; one that does not read (written by another version)
/// is left out, not the whole log.
fn relay_log_of(value: &serde_json::Value) -> Vec<LogEntry> {
    let Some(lines) = value.as_array() else { return Vec::new() };
    lines.iter().filter_map(|l| serde_json::from_value(l.clone()).ok()).collect()
}

/// When an agent last did something, from its log (the board's LAST column): its last record,
/// not counting the `lost` end a reopen writes for a turn agentmux died in.
fn last_activity(kept: &RestoredAgent) -> Option<u64> {
    kept.log
        .iter()
        .rev()
        .find(|(_, _, r)| !matches!(r, Record::TurnEnded(e) if e.status == EndStatus::Lost))
        .map(|(ts, _, _)| ts)
}

/// Rebuilds the state's panes from what reopening the workspace found. Agents the state does
/// not have yet (made at run time in an earlier session) are added after the team's. Clears
/// the first prompts (`first`, indexed like `state.agents` at start) that already went out.
/// Returns the names of agents whose turn was left running (to be marked lost in the log).
/// The extra that keeps a held queue held across a reopen (with a refused turn's wait).
pub const HELD_EXTRA: &str = "held";

pub fn restore(state: &mut State, found: &Restored, first: &mut [Option<String>]) -> Vec<String> {
    let resume = resume_key(state);
    let mut lost = Vec::new();
    for kept in &found.agents {
        let name = kept.state.spec.name.as_str();
        let index = match state.index_named(name) {
            Some(i) => {
                if kept.state.prompt_sent {
                    if let Some(p) = first.get_mut(i) {
                        *p = None;
                    }
                }
                i
            }
            None => state.add_agent(kept.state.spec.clone(), kept.state.supervisor),
        };
        let agent = &mut state.agents[index];
        restore_agent(agent, kept, &resume);
        if kept.interrupted.is_some() {
            lost.push(name.to_string());
        }
        let at = last_activity(kept).and_then(|ms| state.instant_at(ms));
        state.agents[index].last_activity = at;
        if let Some(sup) = state.supervision.as_mut() {
            if kept.state.supervisor {
                if let Some(log) = kept.state.extras.get(RELAY_LOG_EXTRA) {
                    sup.relay.restore_log(relay_log_of(log));
                }
            }
        }
    }
    if let Some(i) = found.focus.as_deref().and_then(|name| state.index_named(name)) {
        state.set_focus(i);
    }
    if !found.notes.is_empty() {
        // Cut-short lines, files moved aside: the user hears once, in the first pane.
        if let Some(a) = state.agents.first_mut() {
            for note in &found.notes {
                a.transcript.push_note(note, NoteLevel::Warn);
            }
        }
    }
    lost
}

pub(super) fn resume_key(state: &State) -> String {
    state.keymap.key_label(Context::Pane, Command::ResumeTurn).unwrap_or_else(|| "resume".into())
}

/// One pane from its log.
pub fn restore_agent(agent: &mut Agent, kept: &RestoredAgent, resume_key: &str) {
    let st = &kept.state;
    agent.session = st.session_id.clone();
    // A conversation the CLI has (or had: a resume of a lost one says so and starts afresh);
    // not one agentmux proposed to a turn that never reached the CLI's init (see below).
    agent.session_live = st.session_id.is_some();
    agent.fork = st
        .extras
        .get(super::convo::FORK_EXTRA)
        .map(|f| f.get("at").and_then(serde_json::Value::as_str).map(String::from));
    restore_settings(agent, st);
    let replayed = replay(agent, kept, resume_key);
    if replayed.proposed && !replayed.confirmed {
        // Its turns failed before the CLI said a word: there is no such conversation.
        agent.session = None;
        agent.session_live = false;
    }
    if let Some(turn) = &kept.interrupted {
        count_lost(agent, replayed.with_result, turn.turn);
        let mut end = TurnEnd::new(EndStatus::Lost);
        end.session_id = Some(turn.session_id.clone());
        end_turn(agent, &end, resume_key);
    }
    agent.scroll.end();
}

/// The queue, a hold, the turn count and the rules allowed at run time, as last kept.
fn restore_settings(agent: &mut Agent, st: &crate::store::AgentState) {
    agent.queue = st.queue.iter().cloned().collect();
    // A held queue stays held: the governor lets it go at the reset, or `resume` does.
    if let Some(h) = st.extras.get(HELD_EXTRA).filter(|_| !agent.queue.is_empty()) {
        agent.held = true;
        agent.refused_until = h.get("refused_until").and_then(serde_json::Value::as_i64);
    }
    agent.turn_seq = agent.turn_seq.max(st.turns);
    // "Allow always" rules of earlier runs, on top of the team file's.
    if !st.allowed_at_run_time.is_empty() {
        let tools = agent.spec.options.allowed_tools.get_or_insert_with(Vec::new);
        for rule in &st.allowed_at_run_time {
            if !tools.contains(rule) {
                tools.push(rule.clone());
            }
        }
    }
}

/// What a replay of the log learned about the kept conversation.
#[derive(Default)]
struct Replayed {
    /// A turn proposed the kept id with `--session-id`.
    proposed: bool,
    /// The CLI used the kept id (a resume of it, or a line carrying it).
    confirmed: bool,
    /// The last turn whose `result` is in the log.
    with_result: Option<u64>,
}

/// The pane's transcript and prompt history again, turn by turn.
fn replay(agent: &mut Agent, kept: &RestoredAgent, resume_key: &str) -> Replayed {
    let kept_id = kept.state.session_id.as_deref();
    let mut r = Replayed::default();
    for (_, turn, item) in kept.log.replay() {
        match item {
            Replay::Prompt(p) => {
                agent.transcript.push_prompt(p);
                if agent.history.last().map(String::as_str) != Some(p) {
                    agent.history.push(p.to_string());
                }
            }
            Replay::TurnStarted(start) => {
                if Some(start.session_id.as_str()) == kept_id {
                    // Proposed with `--session-id`, or resumed: the CLI had it by then.
                    r.proposed |= !start.resume;
                    r.confirmed |= start.resume;
                }
            }
            Replay::Line(_, line) => {
                if let Line::Event(ev) = &line {
                    r.confirmed |= ev.session_id().is_some_and(|id| Some(id) == kept_id);
                    if matches!(ev, Event::Result(_)) {
                        r.with_result = Some(turn);
                    }
                }
                replay_line(agent, &line)
            }
            Replay::TurnEnded(end) => {
                if end.status == EndStatus::Lost {
                    count_lost(agent, r.with_result, turn);
                }
                end_turn(agent, end, resume_key)
            }
        }
    }
    r
}

/// A turn agentmux died in counts as an interrupted one does (the CLI writes a `result` when
/// it is interrupted, which counts it), unless its own result made it to the log.
fn count_lost(agent: &mut Agent, with_result: Option<u64>, turn: u64) {
    if with_result != Some(turn) {
        agent.turns += 1;
    }
}

/// The counters a header shows, as `update` keeps them live.
pub(super) fn replay_line(agent: &mut Agent, line: &Line) {
    agent.transcript.apply(line);
    let Line::Event(ev) = line else { return };
    agent.plan.apply(ev);
    match ev {
        Event::System(s) => {
            if let SystemKind::Init(init) = &s.kind {
                if init.model.is_some() {
                    agent.model = init.model.clone();
                }
                agent.billing = Some(if init.billed_per_token() {
                    Billing::Api
                } else {
                    Billing::Subscription
                });
            }
        }
        Event::Assistant(m) => {
            if let Some(model) = &m.model {
                agent.model = Some(super::query::reported_model(agent.model.as_deref(), model));
            }
            agent.context = super::state::ContextUse::after(agent.context, m);
        }
        Event::Result(r) => {
            agent.turns += 1;
            agent.cost_usd = add_cost(agent.cost_usd, r.total_cost_usd.unwrap_or(0.0));
            if let Some(u) = &r.usage {
                agent.tokens = agent.tokens.saturating_add(u.total());
            }
        }
        _ => {}
    }
}

/// A turn's end as logged: its footer, and the state the pane is left in.
pub(super) fn end_turn(agent: &mut Agent, end: &TurnEnd, resume_key: &str) {
    let mut footer = agent.transcript.result_footer().cloned();
    agent.resumable = false;
    agent.turn = match end.status {
        EndStatus::Ok => TurnState::Idle,
        EndStatus::Error => {
            let message = match footer.as_ref().map(|f| &f.status) {
                Some(TurnStatus::Failed(m)) => m.clone(),
                _ => {
                    // As the live footer said it; the lines the process printed are above.
                    let (code, signal) = (end.exit_code, end.signal.as_deref());
                    let how = crate::agent::runner::short_exit(code, signal);
                    footer = Some(TurnFooter::new(TurnStatus::Failed(how)));
                    crate::agent::runner::describe_exit(code, signal)
                }
            };
            TurnState::Error { message }
        }
        EndStatus::RateLimited => TurnState::RateLimited { resets_at: None },
        EndStatus::Interrupted => {
            footer.get_or_insert_with(|| TurnFooter::new(TurnStatus::Interrupted)).status =
                TurnStatus::Interrupted;
            TurnState::Interrupted
        }
        EndStatus::Lost => {
            footer.get_or_insert_with(|| TurnFooter::new(TurnStatus::Interrupted)).status =
                TurnStatus::Interrupted;
            agent.transcript.push_note(
                &format!("agentmux stopped while this turn ran; {resume_key} resumes it"),
                NoteLevel::Warn,
            );
            agent.resumable = true;
            TurnState::Interrupted
        }
    };
    agent.transcript.end_turn(footer.unwrap_or_else(|| TurnFooter::new(TurnStatus::Done)));
    agent.plan.end_turn();
}

/// The follow-up that resumes the focused agent's lost turn, or `None` when it has none.
pub fn take_resumable(state: &mut State, index: usize) -> Option<String> {
    let a = state.agents.get_mut(index)?;
    if !a.resumable || a.turn.is_active() {
        return None;
    }
    a.resumable = false;
    Some(RESUME_PROMPT.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::{LogKind, RelayLimits};

    #[test]
    fn the_relay_log_reads_back_and_a_line_it_cannot_read_is_left_out() {
        let limits = RelayLimits {
            max_depth: 3,
            max_per_minute: 10,
            team_budget_usd: None,
            report_chars: 100,
            batch_window_ms: 0,
        };
        let mut relay = Relay::new("lead", limits);
        relay.task_sent(crate::supervisor::TaskId(1), "api", "add a count", 1_000);
        let mut value = relay_log_value(&relay);
        if let Some(lines) = value.as_array_mut() {
            lines.insert(0, serde_json::json!({"at": 5, "kind": {"a_later_kind": {}}}));
            lines.push(serde_json::json!("not a line"));
        }
        let back = relay_log_of(&value);
        assert_eq!(back.len(), 1, "{value}");
        assert_eq!(back[0].at, 1_000);
        assert!(
            matches!(&back[0].kind, LogKind::Task { to, text, depth: 1 } if to == "api" && text == "add a count")
        );
        assert!(relay_log_of(&serde_json::json!({"not": "a list"})).is_empty());
    }
}
