//! A read-only look that follows the workspace's owner: what its logs and state file say
//! changed (see `store::follow`), applied to the panes as a reopen would have rebuilt them.

use std::time::Duration;

use super::state::{State, TurnState};
use crate::store::follow::Change;
use crate::store::{EndStatus, InterruptedTurn, Replay, TurnEnd};
use crate::transcript::NoteLevel;

/// Why nothing is sent once the owner let the workspace go.
pub const OWNER_GONE_NOTE: &str =
    "the agentmux that had this workspace open quit; open it without --read-only to work in it";

/// Applies what changed in the followed workspace.
pub fn apply(state: &mut State, changes: Vec<Change>) {
    let resume_key = super::restore::resume_key(state);
    for change in changes {
        match change {
            Change::Added(kept) => {
                if state.index_named(&kept.spec.name).is_none() {
                    state.add_agent(kept.spec, kept.supervisor);
                }
            }
            Change::Records { agent, log } => {
                let now = state.now;
                let Some(i) = state.index_named(&agent) else { continue };
                let a = &mut state.agents[i];
                for (_, turn, item) in log.replay() {
                    match item {
                        Replay::Prompt(p) => a.transcript.push_prompt(p),
                        Replay::TurnStarted(start) => {
                            a.turn_seq = turn;
                            a.session = Some(start.session_id.clone());
                            a.turn = TurnState::Running { since: now };
                        }
                        Replay::Line(_, line) => super::restore::replay_line(a, &line),
                        Replay::TurnEnded(end) => super::restore::end_turn(a, end, &resume_key),
                    }
                }
                if i != state.focus {
                    a.unread = true;
                }
            }
            Change::Closed(name) => {
                if let Some(i) = state.index_named(&name).filter(|&i| !state.agents[i].supervisor) {
                    state.agents.remove(i);
                    let n = state.agents.len();
                    let fix = |j: usize| if j > i { j - 1 } else { j.min(n.saturating_sub(1)) };
                    state.focus = fix(state.focus);
                    state.anchor = fix(state.anchor);
                }
            }
            Change::Note(text) => {
                if let Some(a) = state.agents.get_mut(state.focus) {
                    a.transcript.push_note(&text, NoteLevel::Warn);
                }
            }
            Change::OwnerGone => owner_gone(state, &resume_key),
        }
    }
}

/// Turns still running when the owner went were cut short with it.
fn owner_gone(state: &mut State, resume_key: &str) {
    for a in state.agents.iter_mut().filter(|a| a.turn.is_active()) {
        let mut end = TurnEnd::new(EndStatus::Lost);
        end.session_id = a.session.clone();
        super::restore::end_turn(a, &end, resume_key);
    }
    if let Some(a) = state.agents.get_mut(state.focus) {
        a.transcript.push_note(OWNER_GONE_NOTE, NoteLevel::Warn);
    }
    state.flash = Some(OWNER_GONE_NOTE.into());
}

/// Turns the owner is running as the look opens: shown running, from when they started.
pub fn still_running(state: &mut State, running: &[(String, InterruptedTurn)], now_ms: u64) {
    for (name, turn) in running {
        let Some(i) = state.index_named(name) else { continue };
        let ago = Duration::from_millis(now_ms.saturating_sub(turn.started_ms));
        let since = state.now.checked_sub(ago).unwrap_or(state.now);
        let a = &mut state.agents[i];
        a.turn_seq = a.turn_seq.max(turn.turn);
        a.session = Some(turn.session_id.clone());
        a.turn = TurnState::Running { since };
    }
}
