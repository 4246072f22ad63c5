//! `import` and `fork` requests from the control socket, and the same from the UI (the fork key,
//! the new-agent form's session: `Effect::Convo`): the Claude Code session they name is found
//! and read here, at the loop's level (the core does no I/O), and handed to `update` as a
//! [`ControlCmd::Continue`]. A session file is read whole on the loop's thread: an import is
//! one deliberate act, and even a long conversation's file reads in milliseconds (a fork asked
//! for the moment a turn ended may wait for the CLI to finish writing it: `settled`).

use crate::agent::AgentSpec;
use crate::app::convo::{Continue, ConvoAsk, ConvoMsg};
use crate::app::{ControlCmd, Msg, State};
use crate::control::proto::{Answer, ErrorCode};
use crate::import::{self, History, ImportError};
use std::time::{Duration, Instant};

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
    let found = settled(&projects, origin, session).map_err(refused)?;
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

/// How long after an agent's last event its session file may still be a turn behind.
const SETTLE: Duration = Duration::from_secs(2);

/// The origin's session as the CLI wrote it. The CLI appends to its session file a moment after
/// it prints a turn's result line, so a fork asked for just then (`agentmux wait` returns on the
/// result) finds the file a turn short of what the pane counts: it is read again, briefly, until
/// it holds every turn counted. Only right after a turn, so the loop never waits long.
fn settled(
    projects: &std::path::Path,
    origin: &crate::app::state::Agent,
    session: &str,
) -> Result<import::Found, ImportError> {
    let until = origin.last_activity.map(|t| t + SETTLE);
    loop {
        let found = import::find_session(projects, session, None)?;
        let behind = found.conversation.turns.len() < origin.turns as usize;
        match until {
            Some(until) if behind && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return Ok(found),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentId, AgentSpec};
    use crate::app::state::Agent;

    const ID: &str = "c36597d6-6218-456a-ac90-7c6396304ea0";

    /// A projects dir whose session file holds the fixture's first two turns, and the rest.
    fn two_of_three() -> (tempfile::TempDir, std::path::PathBuf, String) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("tests/fixtures/claude-sessions/cli-2.1.197.jsonl");
        let whole = std::fs::read_to_string(path).expect("fixture");
        let cut = whole.find(r#""content":"third"}"#).and_then(|i| whole[..i].rfind('\n'));
        let (head, rest) = whole.split_at(cut.expect("the third prompt") + 1);
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("-project").join(format!("{ID}.jsonl"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, head).unwrap();
        (dir, file, rest.to_string())
    }

    fn origin(turns: u32, last_event: Instant) -> Agent {
        let mut a = Agent::new(
            AgentId(1),
            AgentSpec::new("old".to_string(), std::path::PathBuf::from(".")),
            false,
        );
        a.turns = turns;
        a.last_activity = Some(last_event);
        a
    }

    #[test]
    fn a_fork_right_after_a_turn_reads_the_session_file_once_the_cli_wrote_that_turn() {
        let (dir, file, rest) = two_of_three();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
            std::io::Write::write_all(&mut f, rest.as_bytes()).unwrap();
        });
        let found = settled(dir.path(), &origin(3, Instant::now()), ID).expect("found");
        writer.join().unwrap();
        assert_eq!(found.conversation.turns.len(), 3, "the turn the pane counted is in");
    }

    #[test]
    fn a_file_that_never_catches_up_is_taken_as_it_is_once_the_turn_is_long_over() {
        let (dir, _file, _rest) = two_of_three();
        let long_ago = Instant::now() - SETTLE * 2;
        let found = settled(dir.path(), &origin(3, long_ago), ID).expect("found");
        assert_eq!(found.conversation.turns.len(), 2);
    }
}
