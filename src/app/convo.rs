//! Agents that continue a conversation held elsewhere: an imported Claude Code session, or a
//! fork of another agent's. Their panes show the earlier turns, rebuilt from the same log
//! records a turn run here leaves (`import::History::log`), so they read like any other.

use super::msg::{ControlCmd, ControlError, ControlOk};
use super::state::{Overlay, State};
use super::{Command, Effect};
use crate::agent::{AgentId, AgentSpec};
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
    if worktree {
        super::worktree::open_for(state, index, None, fx);
        return Ok(ControlOk::OpeningWorktree { name, agent: id });
    }
    Ok(ControlOk::Created { name })
}

/// What the UI asks the loop to read for a fork or an import (`Effect::Convo`); the answer
/// comes back as a [`ConvoMsg`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConvoAsk {
    /// The prompts of an agent's conversation, for the fork picker.
    Turns { agent: AgentId },
    /// Fork `agent` after turn `at` (the end when `None`), in a worktree of its own or not.
    Fork { agent: String, at: Option<usize>, worktree: bool },
    /// Import a Claude Code session of `cwd` (the new-agent form).
    Import {
        session_id: String,
        cwd: String,
        name: Option<String>,
        model: Option<String>,
        worktree: bool,
    },
}

/// The loop's answer to a [`ConvoAsk`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConvoMsg {
    Turns {
        agent: AgentId,
        prompts: Result<Vec<String>, String>,
    },
    /// The agent to add for a fork or an import, or why there is none.
    Ready(Result<ControlCmd, String>),
}

/// The fork picker: after which turn of an agent's conversation the fork goes on.
#[derive(Clone, Debug, PartialEq)]
pub struct ForkPicker {
    pub agent: AgentId,
    pub name: String,
    /// The conversation's prompts, the first turn's first (numbered as `fork --at` counts).
    pub prompts: Vec<String>,
    /// The turn picked, from 1; the last one is the end.
    pub at: usize,
    /// The fork gets a git worktree of its own.
    pub worktree: bool,
}

/// The fork key: read the focused agent's conversation for the picker.
pub fn ask_fork(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(a) = state.focused() else { return };
    let refusal = if a.supervisor {
        Some("the supervisor's conversation is not forked".to_string())
    } else if a.fork.is_some() {
        Some(format!("{} is a fork that has not run a turn yet", a.name()))
    } else if a.confirmed_session().is_none() {
        Some(format!("{} has no conversation to fork yet", a.name()))
    } else {
        None
    };
    match refusal {
        Some(why) => state.flash = Some(why),
        None => fx.push(Effect::Convo(ConvoAsk::Turns { agent: a.id })),
    }
}

/// An answer the loop read for the UI.
pub fn on_msg(state: &mut State, msg: ConvoMsg, fx: &mut Vec<Effect>) {
    match msg {
        ConvoMsg::Turns { agent, prompts } => {
            let Some(i) = state.index_of(agent) else { return };
            match prompts {
                Ok(prompts) if !prompts.is_empty() => {
                    let name = state.agents[i].name().to_string();
                    let at = prompts.len();
                    let picker = ForkPicker { agent, name, prompts, at, worktree: false };
                    state.overlay = Some(Overlay::Fork(Box::new(picker)));
                }
                Ok(_) => state.flash = Some("no turn to fork from".into()),
                Err(why) => state.flash = Some(why),
            }
        }
        ConvoMsg::Ready(cmd) => {
            let from_form = matches!(state.overlay, Some(Overlay::NewAgent(_)));
            let result = cmd
                .and_then(|cmd| super::update::control(state, cmd, fx).map_err(|e| e.to_string()));
            match (result, &mut state.overlay) {
                (Err(why), Some(Overlay::NewAgent(form))) => form.error = Some(why),
                (Err(why), _) => state.flash = Some(why),
                (Ok(_), _) if from_form => super::update::imported_from_form(state, fx),
                // The fork picker's enter, read by the loop: the user's own key.
                (Ok(_), _) => state.set_focus(state.agents.len().saturating_sub(1)),
            }
        }
    }
}

/// A key in the fork picker.
pub fn picker_key(state: &mut State, command: Option<Command>, fx: &mut Vec<Effect>) {
    let Some(Overlay::Fork(p)) = &mut state.overlay else { return };
    match command {
        Some(Command::ScrollUp) => p.at = p.at.saturating_sub(1).max(1),
        Some(Command::ScrollDown) => p.at = (p.at + 1).min(p.prompts.len()),
        Some(Command::ToggleWorktree) => p.worktree = !p.worktree,
        Some(Command::Submit) => {
            let at = Some(p.at).filter(|&n| n < p.prompts.len());
            let (agent, worktree) = (p.name.clone(), p.worktree);
            fx.push(Effect::Convo(ConvoAsk::Fork { agent, at, worktree }));
            state.overlay = None;
        }
        Some(Command::Close) => state.overlay = None,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::SessionArg;
    use crate::app::fixtures::{
        self, exited, init, key, key_mod, lines, result, send, session_arg, spawned, type_text,
    };
    use crate::app::state::Overlay;
    use crate::app::{update, ControlCmd, Msg};
    use crate::import::{Conversation, Found};
    use crossterm::event::{KeyCode, KeyModifiers};

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
        crate::app::fixtures::control(s, cmd).1
    }

    #[test]
    fn an_imported_session_shows_its_turns_and_follow_ups_resume_it() {
        let mut s = fixtures::state(false, &[("w1", "dev")], (100, 40));
        let fx = add_with(&mut s, "old", History::import(&found()), Continue::Resume);
        assert!(fx.iter().any(|e| matches!(e, Effect::History { .. })));
        let i = s.index_named("old").expect("added");
        assert_eq!(s.focus, 0, "a command does not take the focus");
        s.set_focus(i);
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

    fn convo_asks(fx: &[Effect]) -> Vec<&ConvoAsk> {
        fx.iter().filter_map(|e| if let Effect::Convo(a) = e { Some(a) } else { None }).collect()
    }

    #[test]
    fn the_fork_key_picks_a_turn_and_the_fork_marks_where_it_came_from() {
        let mut s = fixtures::state(false, &[("w1", "dev")], (100, 30));
        let alt_f = || key_mod(KeyCode::Char('F'), KeyModifiers::ALT | KeyModifiers::SHIFT);
        // No conversation yet: said, nothing read.
        let fx = update(&mut s, alt_f());
        assert!(convo_asks(&fx).is_empty());
        assert_eq!(s.flash.as_deref(), Some("w1 has no conversation to fork yet"));
        add_with(&mut s, "old", History::import(&found()), Continue::Resume);
        let i = s.index_named("old").expect("added");
        s.set_focus(i);
        let id = s.agents[i].id;
        let fx = update(&mut s, alt_f());
        assert_eq!(convo_asks(&fx), [&ConvoAsk::Turns { agent: id }]);
        let prompts = found().conversation.turns.iter().map(|t| t.prompt.clone()).collect();
        update(&mut s, Msg::Convo(ConvoMsg::Turns { agent: id, prompts: Ok(prompts) }));
        update(&mut s, key(KeyCode::Up));
        update(&mut s, key(KeyCode::Char('w')));
        insta::assert_snapshot!("fork_picker", fixtures::screen(&s));
        let fx = update(&mut s, key(KeyCode::Enter));
        assert!(s.overlay.is_none());
        let ask = ConvoAsk::Fork { agent: "old".into(), at: Some(2), worktree: true };
        assert_eq!(convo_asks(&fx), [&ask]);
        // The loop read it: the fork is added, focused, and says where it came from.
        let (history, point) = History::fork(&found(), Some(2), "old").expect("turn 2");
        let cmd = ControlCmd::Continue {
            spec: Box::new(fixtures::spec("old-fork", None)),
            history: Box::new(history),
            how: Continue::Fork(point),
            worktree: false,
        };
        update(&mut s, Msg::Convo(ConvoMsg::Ready(Ok(cmd))));
        assert_eq!(s.focused().map(|a| a.name()), Some("old-fork"));
        insta::assert_snapshot!("forked_pane", fixtures::screen(&s));
        update(&mut s, Msg::Convo(ConvoMsg::Ready(Err("the file went away".into()))));
        assert_eq!(s.flash.as_deref(), Some("the file went away"));
    }

    #[test]
    fn the_form_imports_a_session_and_stays_open_until_it_is_read() {
        let mut s = fixtures::state(false, &[("w1", "dev")], (100, 30));
        update(&mut s, key_mod(KeyCode::Char('n'), KeyModifiers::ALT));
        for _ in 0..crate::app::form::SESSION {
            update(&mut s, key(KeyCode::Tab));
        }
        type_text(&mut s, &fixtures::sid(1));
        let fx = update(&mut s, key(KeyCode::Enter));
        let Some(ConvoAsk::Import { session_id, name, .. }) = convo_asks(&fx).first().copied()
        else {
            panic!("no import asked: {fx:?}")
        };
        assert_eq!((session_id.as_str(), name), (fixtures::sid(1).as_str(), &None));
        assert!(matches!(s.overlay, Some(Overlay::NewAgent(_))), "open while it is read");
        update(&mut s, Msg::Convo(ConvoMsg::Ready(Err("no Claude Code session x".into()))));
        let Some(Overlay::NewAgent(form)) = &s.overlay else { panic!("the form closed") };
        assert_eq!(form.error.as_deref(), Some("no Claude Code session x"));
        let cmd = ControlCmd::Continue {
            spec: Box::new(fixtures::spec("old", None)),
            history: Box::new(History::import(&found())),
            how: Continue::Resume,
            worktree: false,
        };
        update(&mut s, Msg::Convo(ConvoMsg::Ready(Ok(cmd))));
        assert!(s.overlay.is_none(), "closed once the agent is added");
        assert_eq!(s.focused().map(|a| a.name()), Some("old"));
    }
}
