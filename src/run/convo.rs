//! `import` and `fork` requests from the control socket, and the same from the UI (the fork key,
//! the new-agent form's session: `Effect::Convo`): the Claude Code session they name is found
//! and read here, at the loop's level (the core does no I/O), and handed to `update` as a
//! [`ControlCmd::Continue`]. A session file is read whole on the loop's thread: an import is
//! one deliberate act, and even a long conversation's file reads in milliseconds.

use crate::agent::AgentSpec;
use crate::app::convo::{Continue, ConvoAsk, ConvoMsg};
use crate::app::{ControlCmd, Msg, State};
use crate::control::proto::{Answer, ErrorCode};
use crate::import::{self, History, ImportError};

/// The command for `agentmux import SESSION_ID [--name NAME]`, or the answer refusing it.
pub fn import(
    state: &State,
    session_id: &str,
    cwd: &str,
    name: Option<String>,
) -> Result<ControlCmd, Answer> {
    let projects = projects()?;
    // The form's directory may be relative ("." by default): the session names an absolute one.
    let cwd = std::fs::canonicalize(cwd).map_err(|e| {
        let cause = crate::config::io_cause(&e);
        Answer::error(ErrorCode::Refused, format!("directory {cwd}: {cause}"))
    })?;
    let found = import::find_session(&projects, session_id, Some(&cwd)).map_err(refused)?;
    // Two agents resuming one session would write into it in turns, each unaware of the other.
    let open =
        state.agents.iter().find(|a| a.fork.is_none() && a.session.as_deref() == Some(session_id));
    if let Some(a) = open {
        let agent = a.name().to_string();
        return Err(refused(ImportError::AlreadyOpen { id: found.id, agent }));
    }
    let short: String = session_id.chars().take(8).collect();
    let name = name.unwrap_or_else(|| free_name(state, &format!("session-{short}")));
    let mut spec = AgentSpec::new(name, cwd);
    spec.options = state.defaults.clone();
    Ok(ControlCmd::Continue {
        spec: Box::new(spec),
        history: Box::new(History::import(&found)),
        how: Continue::Resume,
        worktree: false,
    })
}

/// The command for `agentmux fork NAME [--at TURN] [--name NEW] [--worktree]`.
pub fn fork(
    state: &State,
    agent: &str,
    at: Option<usize>,
    name: Option<String>,
    worktree: bool,
) -> Result<ControlCmd, Answer> {
    let Some(origin) = state.index_named(agent).map(|i| &state.agents[i]) else {
        return Err(Answer::no_such_agent(agent));
    };
    if origin.fork.is_some() {
        return Err(Answer::error(
            ErrorCode::Refused,
            format!("{agent} is a fork that has not run a turn yet: send it a prompt first"),
        ));
    }
    let Some(session) = origin.confirmed_session() else {
        return Err(Answer::error(
            ErrorCode::Refused,
            format!("{agent} has no conversation to fork yet"),
        ));
    };
    let projects = projects()?;
    let found = import::find_session(&projects, session, None).map_err(refused)?;
    let (history, point) = History::fork(&found, at, agent).map_err(refused)?;
    let name = name.unwrap_or_else(|| free_name(state, &format!("{agent}-fork")));
    let mut spec = origin.spec.clone();
    spec.name = name;
    if let Some(tree) = origin.tree.as_ref().filter(|_| worktree) {
        // A worktree of its own, made from the origin's repository.
        spec.cwd = tree.home.clone();
    }
    Ok(ControlCmd::Continue {
        spec: Box::new(spec),
        history: Box::new(history),
        how: Continue::Fork(point),
        worktree,
    })
}

/// What the UI asked for (`Effect::Convo`), read: the answer for `update`.
pub fn carry(state: &State, ask: ConvoAsk) -> Msg {
    let message = |a: Answer| match a {
        Answer::Error { message, .. } => message,
        other => format!("{other:?}"),
    };
    Msg::Convo(match ask {
        ConvoAsk::Turns { agent } => ConvoMsg::Turns { agent, prompts: prompts(state, agent) },
        ConvoAsk::Fork { agent, at, worktree } => {
            ConvoMsg::Ready(fork(state, &agent, at, None, worktree).map_err(message))
        }
        ConvoAsk::Import { session_id, cwd, name, model, worktree } => {
            let cmd = import(state, &session_id, &cwd, name).map(|mut cmd| {
                if let ControlCmd::Continue { spec, worktree: w, .. } = &mut cmd {
                    spec.options.model = model.or(spec.options.model.take());
                    *w = worktree;
                }
                cmd
            });
            ConvoMsg::Ready(cmd.map_err(message))
        }
    })
}

/// The prompts of an agent's conversation as the session file has them (what `--at` counts).
fn prompts(state: &State, agent: crate::agent::AgentId) -> Result<Vec<String>, String> {
    let a = state.index_of(agent).map(|i| &state.agents[i]).ok_or("the agent is gone")?;
    let session =
        a.confirmed_session().ok_or_else(|| format!("{} has no conversation", a.name()))?;
    let projects = import::projects_dir().ok_or("neither CLAUDE_CONFIG_DIR nor HOME is set")?;
    let found = import::find_session(&projects, session, None).map_err(|e| e.to_string())?;
    Ok(found.conversation.turns.into_iter().map(|t| t.prompt).collect())
}

fn projects() -> Result<std::path::PathBuf, Answer> {
    import::projects_dir().ok_or_else(|| {
        Answer::error(ErrorCode::Refused, "neither CLAUDE_CONFIG_DIR nor HOME is set")
    })
}

fn refused(e: ImportError) -> Answer {
    let code = match e {
        ImportError::BadId(_) | ImportError::NoSuchTurn { .. } => ErrorCode::BadRequest,
        _ => ErrorCode::Refused,
    };
    Answer::error(code, e.to_string())
}

/// `base`, or `base-2`, `base-3`, ... whichever no agent has.
fn free_name(state: &State, base: &str) -> String {
    std::iter::once(base.to_string())
        .chain((2..).map(|i| format!("{base}-{i}")))
        .find(|n| state.index_named(n).is_none())
        .unwrap_or_else(|| base.to_string())
}
