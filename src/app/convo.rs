//! Agents that continue a conversation held elsewhere: an imported Claude Code session, or a
//! fork of another agent's. Their panes show the earlier turns, rebuilt from the same log
//! records a turn run here leaves (`import::History::log`), so they read like any other.

use super::msg::{ControlError, ControlOk};
use super::state::State;
use super::Effect;
use crate::agent::AgentSpec;
use crate::import::History;
use crate::store::{AgentState, RestoredAgent};

/// Extras key of the workspace's state: the agent is a fork whose first turn has not made its
/// copy yet (`{"at": <uuid or null>}`, see `Agent::fork`).
pub const FORK_EXTRA: &str = "fork";

/// What the new agent does with the conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum Continue {
    /// Follow-ups resume the session itself (`--resume`).
    Resume,
    /// The first turn copies it into a session of its own (`--fork-session`), cut after the
    /// assistant message named (`--resume-session-at`) when `Some`.
    Fork(Option<String>),
}

/// Adds an agent whose pane shows `history` and whose next turn continues it as `how` says.
/// `worktree`: in a git worktree of its own (the earlier turns' files are the origin's).
pub fn add(
    state: &mut State,
    spec: AgentSpec,
    history: History,
    how: Continue,
    worktree: bool,
    fx: &mut Vec<Effect>,
) -> Result<ControlOk, ControlError> {
    let name = spec.name.clone();
    let index = super::update::add_spec(state, spec.clone(), None, fx)?;
    let mut kept = AgentState::new(spec, String::new());
    kept.session_id = Some(history.session_id.clone());
    kept.turns = history.turns.len() as u64;
    kept.prompt_sent = true;
    let restored = RestoredAgent { state: kept, log: history.log(), interrupted: None };
    let resume_key = super::restore::resume_key(state);
    let agent = &mut state.agents[index];
    super::restore::restore_agent(agent, &restored, &resume_key);
    if let Continue::Fork(at) = how {
        agent.fork = Some(at);
    }
    let id = agent.id;
    fx.push(Effect::History { agent: id, history: Box::new(history) });
    fx.push(Effect::Persist);
    state.dirty = true;
    if worktree {
        super::worktree::open_for(state, index, None, fx);
        return Ok(ControlOk::OpeningWorktree { name, agent: id });
    }
    Ok(ControlOk::Created { name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::SessionArg;
    use crate::app::fixtures::{self, exited, init, lines, result, send, session_arg, spawned};
    use crate::app::{update, ControlCmd, Msg};
    use crate::import::{Conversation, Found};

    fn found() -> Found {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/claude-sessions/cli-2.1.197.jsonl");
        let text = std::fs::read_to_string(path).expect("fixture");
        Found {
            id: fixtures::sid(1),
            file: Default::default(),
            conversation: Conversation::parse(&text),
        }
    }

    fn add_with(s: &mut State, name: &str, history: History, how: Continue) -> Vec<Effect> {
        let cmd = ControlCmd::Continue {
            spec: Box::new(fixtures::spec(name, None)),
            history: Box::new(history),
            how,
            worktree: false,
        };
        update(s, Msg::Control(cmd, None))
    }

    #[test]
    fn an_imported_session_shows_its_turns_and_follow_ups_resume_it() {
        let mut s = fixtures::state(false, &[("w1", "dev")], (100, 40));
        let fx = add_with(&mut s, "old", History::import(&found()), Continue::Resume);
        assert!(fx.iter().any(|e| matches!(e, Effect::History { .. })));
        let i = s.index_named("old").expect("added");
        assert_eq!(s.focus, i);
        insta::assert_snapshot!(fixtures::screen(&s));
        let a = &s.agents[i];
        assert_eq!(a.confirmed_session(), Some(fixtures::sid(1).as_str()));
        assert_eq!(a.turn_seq, 3);
        let fx = send(&mut s, i, "fourth");
        assert_eq!(spawned(&fx)[0].turn, 4, "its turns go on after the imported ones");
        assert_eq!(session_arg(&fx), Some(SessionArg::Resume(fixtures::sid(1))));
    }

    #[test]
    fn a_fork_copies_once_then_resumes_its_own_session() {
        let mut s = fixtures::state(false, &[("w1", "dev")], (100, 40));
        let (history, at) = History::fork(&found(), Some(1), "w1").expect("turn 1");
        let uuid = at.clone().expect("an earlier turn is cut at its answer");
        add_with(&mut s, "w1-fork", history, Continue::Fork(at));
        let i = s.index_named("w1-fork").expect("added");
        assert_eq!(s.agents[i].turn_seq, 1);
        let fx = send(&mut s, i, "other way");
        let sent = session_arg(&fx);
        assert_eq!(sent, Some(SessionArg::Fork { from: fixtures::sid(1), at: Some(uuid) }));
        // The CLI reports the copy's id: the fork is made, follow-ups resume the copy.
        let (id, turn) = (s.agents[i].id, s.agents[i].turn_seq);
        update(&mut s, lines(id, turn, vec![init(&fixtures::sid(2), "none")]));
        update(&mut s, lines(id, turn, vec![result(&fixtures::sid(2), "success", 0.0)]));
        update(&mut s, exited(id, turn, 0));
        assert_eq!(s.agents[i].fork, None);
        let fx = send(&mut s, i, "again");
        assert_eq!(session_arg(&fx), Some(SessionArg::Resume(fixtures::sid(2))));
    }
}
