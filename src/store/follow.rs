//! Following a workspace another agentmux owns: its logs read as they grow, its state file as
//! it is replaced, its lock as it is let go. Synchronous and cheap: the caller (the run loop's
//! follower thread) calls [`Follower::changed`] when the file system says something changed,
//! and nothing runs in between.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::fsutil::LockFile;
use super::log::{parse_log, AgentLog};
use super::{AgentState, Restored, Workspace, WorkspaceState, LOCK_FILE, LOGS_DIR, STATE_FILE};

/// The end of one log another process appends to. Only whole lines are taken: a last line
/// without its newline (the owner is mid-write) is read again, whole, once its newline is there.
#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    /// Bytes of the file taken so far: always the end of a whole line.
    taken: u64,
    /// The file read last (device, inode): another file at the path is a log started afresh.
    file: Option<(u64, u64)>,
}

/// What one read of a [`LogTail`] found.
#[derive(Debug, Default)]
pub struct TailRead {
    /// The whole lines added since the last read (`None` when there were none).
    pub log: Option<AgentLog>,
    /// Something the user should hear: the file shrank, or lines could not be read.
    pub note: Option<String>,
}

impl LogTail {
    /// Follows the log at `path` from byte `taken` on (the end of what was read already).
    pub fn new(path: PathBuf, taken: u64) -> LogTail {
        let file = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        LogTail { path, taken, file }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the whole lines written since the last read. A file that shrank below what was
    /// taken was cut or rewritten by someone: that is said, and it is followed from its new end
    /// (what was shown stays).
    pub fn read(&mut self) -> io::Result<TailRead> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            // Not made yet (no turn so far), or renamed away (the agent was closed).
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TailRead::default()),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let id = Some((meta.dev(), meta.ino()));
        if self.file != id {
            // A new file at the path (an agent of the same name made again): from its start.
            self.file = id;
            self.taken = 0;
        }
        let mut read = TailRead::default();
        if meta.len() < self.taken {
            read.note = Some(format!(
                "{}: the transcript shrank from {} to {} bytes while it was followed; \
                 following it from its new end",
                self.path.display(),
                self.taken,
                meta.len()
            ));
            self.taken = meta.len();
            return Ok(read);
        }
        if meta.len() == self.taken {
            return Ok(read);
        }
        file.seek(SeekFrom::Start(self.taken))?;
        let mut bytes = Vec::with_capacity((meta.len() - self.taken) as usize);
        file.take(meta.len() - self.taken).read_to_end(&mut bytes)?;
        let Some(end) = memchr::memrchr(b'\n', &bytes) else { return Ok(read) };
        bytes.truncate(end + 1);
        self.taken += bytes.len() as u64;
        match parse_log(bytes) {
            Ok((log, report)) => {
                if let Some((_, head)) = report.unreadable.first() {
                    read.note = Some(format!(
                        "{}: {} unreadable line(s) skipped (first: {head:?})",
                        self.path.display(),
                        report.unreadable.len()
                    ));
                }
                read.log = Some(log).filter(|l| !l.is_empty());
            }
            Err(e) => {
                read.note =
                    Some(format!("{}: new lines could not be read ({e})", self.path.display()))
            }
        }
        Ok(read)
    }
}

/// What changed in a followed workspace, in the order it is to be applied.
#[derive(Debug)]
pub enum Change {
    /// The owner made an agent (its pane starts empty; its log follows).
    Added(Box<AgentState>),
    /// New records at the end of an agent's log.
    Records { agent: String, log: AgentLog },
    /// The owner closed an agent.
    Closed(String),
    /// A file could not be read as it should: said once, following goes on.
    Note(String),
    /// The agentmux that had the workspace open let it go (quit or died).
    OwnerGone,
}

/// A workspace followed: what of it was seen so far.
#[derive(Debug)]
pub struct Follower {
    dir: PathBuf,
    /// The state file as last read.
    state: WorkspaceState,
    /// Each agent's log, by agent name.
    tails: HashMap<String, LogTail>,
    /// The state file's last problem (said once until it changes).
    state_problem: Option<String>,
    gone: bool,
}

impl Follower {
    /// Follows `ws` from where opening it read: `state` is its state file as read (before the
    /// team was lined up with it), `found` the logs read back.
    pub fn new(ws: &Workspace, state: WorkspaceState, found: &Restored) -> Follower {
        let dir = ws.dir().to_path_buf();
        let taken = |name: &str| {
            let kept = found.agents.iter().find(|a| a.state.spec.name == name);
            kept.map_or(0, |a| a.log.text_len() as u64)
        };
        let tails = state
            .agents
            .iter()
            .map(|a| {
                let path = dir.join(LOGS_DIR).join(&a.log);
                (a.spec.name.clone(), LogTail::new(path, taken(&a.spec.name)))
            })
            .collect();
        let gone = !LockFile::is_held(&dir.join(LOCK_FILE));
        Follower { dir, state, tails, state_problem: None, gone }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The owner let the workspace go (or had, when it was opened): nothing more will change.
    pub fn owner_gone(&self) -> bool {
        self.gone
    }

    /// What changed, reading only the files in `touched` (every file when `None`: the first
    /// look, or after the file system lost track).
    pub fn changed(&mut self, touched: Option<&HashSet<PathBuf>>) -> Vec<Change> {
        let is_touched = |p: &Path| touched.is_none_or(|t| t.contains(p));
        let state_path = self.dir.join(STATE_FILE);
        let lock_path = self.dir.join(LOCK_FILE);
        let owner_may_be_gone = is_touched(&state_path) || is_touched(&lock_path);
        let gone = owner_may_be_gone && !self.gone && !LockFile::is_held(&lock_path);
        let mut out = Vec::new();
        let mut closed = Vec::new();
        if is_touched(&state_path) || gone {
            closed = self.read_state(&mut out);
        }
        for agent in &self.state.agents {
            let Some(tail) = self.tails.get_mut(&agent.spec.name) else { continue };
            // The owner's last records may have come with its going.
            if !(gone || is_touched(tail.path())) {
                continue;
            }
            match tail.read() {
                Ok(read) => {
                    if let Some(log) = read.log {
                        out.push(Change::Records { agent: agent.spec.name.clone(), log });
                    }
                    out.extend(read.note.map(Change::Note));
                }
                Err(e) => out.push(Change::Note(format!("{}: {e}", tail.path().display()))),
            }
        }
        out.extend(closed.into_iter().map(Change::Closed));
        if gone {
            self.gone = true;
            out.push(Change::OwnerGone);
        }
        out
    }

    /// Reads the state file again: agents made are added to `out`, agents closed returned
    /// (they go after their last records).
    fn read_state(&mut self, out: &mut Vec<Change>) -> Vec<String> {
        let path = self.dir.join(STATE_FILE);
        let parsed = std::fs::read(&path).map_err(|e| e.to_string()).and_then(|bytes| {
            serde_json::from_slice::<WorkspaceState>(&bytes).map_err(|e| e.to_string())
        });
        let next = match parsed {
            Ok(next) => next,
            Err(e) => {
                let note = format!("{}: could not be read ({e}); agents made or closed by the other agentmux are not shown", path.display());
                if self.state_problem.as_ref() != Some(&note) {
                    out.push(Change::Note(note.clone()));
                    self.state_problem = Some(note);
                }
                return Vec::new();
            }
        };
        self.state_problem = None;
        let names: HashSet<&str> = next.agents.iter().map(|a| a.spec.name.as_str()).collect();
        let closed: Vec<String> = self
            .state
            .agents
            .iter()
            .map(|a| a.spec.name.clone())
            .filter(|n| !names.contains(n.as_str()))
            .collect();
        for name in &closed {
            self.tails.remove(name);
        }
        for agent in &next.agents {
            if !self.tails.contains_key(&agent.spec.name) {
                let path = self.dir.join(LOGS_DIR).join(&agent.log);
                self.tails.insert(agent.spec.name.clone(), LogTail::new(path, 0));
                out.push(Change::Added(Box::new(agent.clone())));
            }
        }
        self.state = next;
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::log::{format_record, Record};
    use std::io::Write;

    fn line(prompt: &str) -> Vec<u8> {
        let mut out = Vec::new();
        format_record(&mut out, 1, 1, &Record::Prompt(prompt));
        out
    }

    fn prompts(read: &TailRead) -> Vec<String> {
        let Some(log) = &read.log else { return Vec::new() };
        log.iter()
            .filter_map(|(_, _, r)| match r {
                Record::Prompt(p) => Some(p.to_string()),
                _ => None,
            })
            .collect()
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = crate::store::fsutil::open_append(path).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn a_tail_takes_whole_lines_as_they_come_and_waits_for_a_cut_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("a.jsonl");
        let mut tail = LogTail::new(path.clone(), 0);
        let read = |tail: &mut LogTail| tail.read().unwrap_or_else(|e| panic!("{e}"));
        assert!(read(&mut tail).log.is_none(), "no file yet is nothing new");

        append(&path, &line("one"));
        assert_eq!(prompts(&read(&mut tail)), ["one"]);
        assert!(read(&mut tail).log.is_none(), "nothing grew");

        // The owner is mid-write: half a line is kept back until its newline arrives.
        let (two, three) = (line("two"), line("three"));
        let (head, rest) = three.split_at(10);
        append(&path, &[two.as_slice(), head].concat());
        let with_half = read(&mut tail);
        assert_eq!(prompts(&with_half), ["two"]);
        assert!(with_half.note.is_none(), "{with_half:?}");
        let (more, rest) = rest.split_at(5);
        append(&path, more);
        let half = read(&mut tail);
        assert!(half.log.is_none() && half.note.is_none(), "{half:?}");
        append(&path, rest);
        append(&path, &line("four"));
        assert_eq!(prompts(&read(&mut tail)), ["three", "four"]);
    }

    #[test]
    fn a_tail_says_when_its_file_shrank_or_holds_garbage_and_goes_on() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("a.jsonl");
        let read = |tail: &mut LogTail| tail.read().unwrap_or_else(|e| panic!("{e}"));
        append(&path, &[line("one"), line("two")].concat());
        let mut tail = LogTail::new(path.clone(), 0);
        assert_eq!(prompts(&read(&mut tail)), ["one", "two"]);

        // Cut back below what was read: said, and followed from the new end.
        let f = std::fs::OpenOptions::new().write(true).open(&path);
        f.and_then(|f| f.set_len(5)).unwrap_or_else(|e| panic!("{e}"));
        let cut = read(&mut tail);
        assert!(cut.log.is_none());
        assert!(cut.note.as_deref().is_some_and(|n| n.contains("shrank")), "{cut:?}");
        append(&path, b"\n");
        append(&path, &line("three"));
        let after = read(&mut tail);
        assert_eq!(prompts(&after), ["three"]);
        assert!(after.note.is_none(), "{after:?}");

        // Lines that are no records are skipped with a note; the good ones still come.
        append(&path, b"not a record\n\xff\xfe\n");
        let bad = read(&mut tail);
        assert!(bad.note.as_deref().is_some_and(|n| n.contains("could not be read")), "{bad:?}");
        append(&path, &[b"garbage\n".as_slice(), &line("four")].concat());
        let mixed = read(&mut tail);
        assert_eq!(prompts(&mixed), ["four"]);
        assert!(mixed.note.as_deref().is_some_and(|n| n.contains("1 unreadable")), "{mixed:?}");
    }

    #[test]
    fn a_new_file_at_the_path_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("a.jsonl");
        append(&path, &[line("old one"), line("old two")].concat());
        let mut tail = LogTail::new(path.clone(), 0);
        let read = |tail: &mut LogTail| tail.read().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(prompts(&read(&mut tail)).len(), 2);
        std::fs::rename(&path, dir.path().join("a.jsonl.removed"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(read(&mut tail).log.is_none(), "renamed away");
        append(&path, &line("new"));
        assert_eq!(prompts(&read(&mut tail)), ["new"]);
    }
}
