//! Conversations Claude Code keeps: finding them, reading them (see [`session`]), and turning
//! them into an agent's history, the same log records a turn run here leaves (so a pane shows an
//! imported conversation through the code that shows its own).
//!
//! Claude Code keeps each conversation in `<config>/projects/<dir>/<session id>.jsonl`, where
//! `<config>` is `CLAUDE_CONFIG_DIR` or `~/.claude` and `<dir>` is the working directory with
//! every character but ASCII letters and digits replaced by `-` (cut at 200 characters and
//! given a hash suffix when longer). Nothing here writes there.

pub mod session;

use std::path::{Path, PathBuf};

pub use session::{Conversation, Turn};

use crate::store::{AgentLog, EndStatus, Record, TurnEnd, TurnStart};

/// How agentmux's own lines in a log start (as the store marks a skipped line).
const NOTE_MARK: &str = "[agentmux]";

/// Why a conversation could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no Claude Code session {id} (looked in {})", .looked.display())]
    NotFound { id: String, looked: PathBuf },
    #[error("session {id} belongs to {cwd}, not to this directory ({here}); run the import there")]
    OtherDirectory { id: String, cwd: String, here: String },
    #[error("{}: {cause}", .path.display())]
    Read { path: PathBuf, cause: String },
    #[error(
        "session {id} has no prompt that could be read ({lines} lines{}); a newer Claude Code \
         may write its sessions in a shape this agentmux does not know",
        match .unreadable { 0 => String::new(), n => format!(", {n} not readable") }
    )]
    Empty { id: String, lines: usize, unreadable: usize },
    #[error("session {id} is open already as {agent}; fork it (agentmux fork {agent}) to try another direction")]
    AlreadyOpen { id: String, agent: String },
    #[error("{0:?} is not a session id (expected a UUID)")]
    BadId(String),
    #[error("the conversation has {turns} turns; there is no turn {at}")]
    NoSuchTurn { at: usize, turns: usize },
    #[error("turn {0} got no answer to continue from")]
    Unanswered(usize),
}

/// Where Claude Code keeps its projects: `CLAUDE_CONFIG_DIR/projects`, else `~/.claude/projects`.
pub fn projects_dir() -> Option<PathBuf> {
    let config = std::env::var_os("CLAUDE_CONFIG_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".claude")))?;
    Some(config.join("projects"))
}

/// The name Claude Code gives the project directory of `cwd` (before any length cut).
pub fn project_name(cwd: &Path) -> String {
    cwd.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// The CLI cuts longer names and adds a hash we do not reproduce; such directories are found
/// by this prefix and told apart by the `cwd` their messages name.
const NAME_CUT: usize = 200;

/// The project directories that may hold `cwd`'s sessions.
fn project_dirs(projects: &Path, cwd: &Path) -> Vec<PathBuf> {
    let name = project_name(cwd);
    if name.len() <= NAME_CUT {
        return vec![projects.join(name)];
    }
    let prefix = format!("{}-", &name[..NAME_CUT]);
    std::fs::read_dir(projects)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// One session of a directory, for `agentmux import`'s list.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub file: PathBuf,
    /// Unix ms of the last message (the file's change time when no message says).
    pub last_ms: u64,
    pub first_prompt: String,
    pub messages: usize,
    pub turns: usize,
}

/// The sessions of `cwd`, newest first. A file that cannot be read is left out.
pub fn list_sessions(projects: &Path, cwd: &Path) -> Vec<SessionSummary> {
    let here = cwd.to_string_lossy();
    let mut out = Vec::new();
    for dir in project_dirs(projects, cwd) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Some(id) = session_id_of(&path) else { continue };
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let conv = Conversation::parse(&text);
            if conv.turns.is_empty() || conv.cwd.as_deref().is_some_and(|c| c != here) {
                continue;
            }
            let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
            let file_ms = modified
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as u64);
            out.push(SessionSummary {
                id,
                file: path,
                last_ms: if conv.last_ms > 0 { conv.last_ms } else { file_ms },
                first_prompt: conv.first_prompt().unwrap_or_default().to_string(),
                messages: conv.messages,
                turns: conv.turns.len(),
            });
        }
    }
    out.sort_by(|a, b| b.last_ms.cmp(&a.last_ms).then_with(|| a.id.cmp(&b.id)));
    out
}

fn session_id_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_suffix(".jsonl")?;
    uuid::Uuid::parse_str(id).ok().map(|_| id.to_string())
}

/// A session read for import: its file and its conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub id: String,
    pub file: PathBuf,
    pub conversation: Conversation,
}

/// Finds session `id` of any project and reads it. With `cwd`, a session whose messages name
/// another directory is refused (its `--resume` would not find it from here).
pub fn find_session(projects: &Path, id: &str, cwd: Option<&Path>) -> Result<Found, ImportError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ImportError::BadId(id.to_string()));
    }
    let file_name = format!("{id}.jsonl");
    let mut candidates: Vec<PathBuf> = cwd
        .map(|c| project_dirs(projects, c).into_iter().map(|d| d.join(&file_name)).collect())
        .unwrap_or_default();
    candidates.extend(
        std::fs::read_dir(projects)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(&file_name)),
    );
    let not_found = || ImportError::NotFound { id: id.to_string(), looked: projects.to_path_buf() };
    let file = candidates.into_iter().find(|p| p.is_file()).ok_or_else(not_found)?;
    let bytes = std::fs::read(&file).map_err(|e| ImportError::Read {
        path: file.clone(),
        cause: crate::config::io_cause(&e),
    })?;
    let conversation = Conversation::parse(&String::from_utf8_lossy(&bytes));
    if let (Some(here), Some(theirs)) = (cwd, conversation.cwd.as_deref()) {
        if Path::new(theirs) != here {
            return Err(ImportError::OtherDirectory {
                id: id.to_string(),
                cwd: theirs.to_string(),
                here: here.display().to_string(),
            });
        }
    }
    if conversation.turns.is_empty() {
        let lines = conversation.lines;
        let unreadable = conversation.unreadable;
        return Err(ImportError::Empty { id: id.to_string(), lines, unreadable });
    }
    Ok(Found { id: id.to_string(), file, conversation })
}

/// How each imported turn starts and ends in the log (see [`History::bounds`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Bounds {
    pub start: TurnStart,
    pub end: TurnEnd,
    /// How a turn that got no answer ends.
    pub unanswered: TurnEnd,
    /// The `result` line that ends the turn's events.
    pub result: String,
}

/// An agent's earlier conversation: the session it continues and the turns shown in its pane.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub session_id: String,
    pub turns: Vec<Turn>,
    /// What the pane says above the first turn (where the conversation came from).
    pub intro: Option<String>,
    /// What it says below the last one (where a fork came from).
    pub outro: Option<String>,
    /// Lines of the file that could not be read.
    pub unreadable: usize,
}

impl History {
    /// A whole conversation, to continue with `--resume`.
    pub fn import(found: &Found) -> History {
        let c = &found.conversation;
        History {
            session_id: found.id.clone(),
            turns: c.turns.clone(),
            intro: Some(format!(
                "{NOTE_MARK} imported Claude Code session {} ({} turns, {} messages{})",
                found.id,
                c.turns.len(),
                c.messages,
                match c.unreadable {
                    0 => String::new(),
                    1 => "; 1 line could not be read and is left out".into(),
                    n => format!("; {n} lines could not be read and are left out"),
                }
            )),
            outro: None,
            unreadable: c.unreadable,
        }
    }

    /// The conversation up to turn `at` (all of it without), and the uuid a fork there resumes
    /// at (`None`: at the end, no `--resume-session-at` needed). `from` names the agent forked.
    pub fn fork(
        found: &Found,
        at: Option<usize>,
        from: &str,
    ) -> Result<(History, Option<String>), ImportError> {
        let turns = &found.conversation.turns;
        let n = at.unwrap_or(turns.len());
        if n == 0 || n > turns.len() {
            return Err(ImportError::NoSuchTurn { at: n, turns: turns.len() });
        }
        let kept = &turns[..n];
        let point = match at {
            Some(n) if n < turns.len() => {
                Some(kept[n - 1].last_answer.clone().ok_or(ImportError::Unanswered(n))?)
            }
            _ => None,
        };
        let mut history = History::import(found);
        history.turns = kept.to_vec();
        history.intro = None;
        history.outro = Some(format!(
            "{NOTE_MARK} forked from {from} after turn {n} of {} (session {})",
            turns.len(),
            found.id
        ));
        Ok((history, point))
    }

    /// The log records of turn `index` (0-based; logged as turn `index + 1`).
    pub fn records<'a>(&'a self, index: usize, bounds: &'a Bounds) -> Vec<Record<'a>> {
        let Some(turn) = self.turns.get(index) else { return Vec::new() };
        let mut records = Vec::new();
        if let Some(intro) = self.intro.as_deref().filter(|_| index == 0) {
            records.push(Record::Text(intro));
        }
        records.extend([Record::Prompt(&turn.prompt), Record::TurnStarted(&bounds.start)]);
        records.extend(turn.lines.iter().map(|l| Record::Event(l)));
        let end = if turn.last_answer.is_some() { &bounds.end } else { &bounds.unanswered };
        records.extend([Record::Event(&bounds.result), Record::TurnEnded(end)]);
        if let Some(outro) = self.outro.as_deref().filter(|_| index + 1 == self.turns.len()) {
            records.push(Record::Text(outro));
        }
        records
    }

    /// What every imported turn is logged with: a resume of the session, ended well, or
    /// interrupted when it got no answer (stopped, or the file cut there). The session file
    /// keeps no `result` lines; one without figures ends each turn as a turn run here ends, so
    /// the pane counts the conversation's turns as `fork --at` numbers them.
    pub fn bounds(&self) -> Bounds {
        let start = TurnStart { session_id: self.session_id.clone(), resume: true };
        let ended = |status| {
            let mut end = TurnEnd::new(status);
            end.session_id = Some(self.session_id.clone());
            end
        };
        let (end, unanswered) = (ended(EndStatus::Ok), ended(EndStatus::Interrupted));
        let result = serde_json::json!({
            "type": "result",
            "subtype": "success",
            "is_error": false,
            "session_id": self.session_id,
        })
        .to_string();
        Bounds { start, end, unanswered, result }
    }

    /// The history as an agent log, for rebuilding a pane (`app::restore::restore_agent`).
    pub fn log(&self) -> AgentLog {
        let bounds = self.bounds();
        let mut bytes = Vec::new();
        let ts = crate::store::fsutil::now_ms();
        for (i, turn) in self.turns.iter().enumerate() {
            for r in self.records(i, &bounds) {
                crate::store::log::format_record(
                    &mut bytes,
                    turn.at_ms.max(1).min(ts),
                    i as u64 + 1,
                    &r,
                );
            }
        }
        crate::store::log::parse_log(bytes).map(|(log, _)| log).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
