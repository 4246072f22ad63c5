//! The simulated claude's conversations: one JSONL file per session id under
//! `$AGENTMUX_SIM_HOME` (else `$HOME/.agentmux-sim/`), one line per prompt or answer.
//!
//! The prompt is written when a turn starts (like the real CLI, a turn that dies midway still
//! leaves a resumable conversation) and the answer when it ends.

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub role: Role,
    pub text: String,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub timestamp: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot use session directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

/// Session ids are UUIDs; anything else never names a file (no path tricks).
pub fn parse_id(id: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id.trim()).ok()
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// `$AGENTMUX_SIM_HOME`, else `$HOME/.agentmux-sim`, else the temp directory's.
    pub fn from_env() -> Store {
        let dir = match std::env::var_os("AGENTMUX_SIM_HOME").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir)
                .join(".agentmux-sim"),
        };
        Store::new(dir)
    }

    fn path(&self, id: &uuid::Uuid) -> PathBuf {
        self.dir.join(format!("{id}.jsonl"))
    }

    pub fn exists(&self, id: &uuid::Uuid) -> bool {
        self.path(id).is_file()
    }

    /// The conversation so far. Lines that do not parse are skipped (a torn last line).
    pub fn load(&self, id: &uuid::Uuid) -> Result<Vec<Entry>, SessionError> {
        let path = self.path(id);
        let file = fs::File::open(&path).map_err(|source| SessionError::Io { path, source })?;
        Ok(BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Entry>(&l).ok())
            .collect())
    }

    pub fn append(&self, id: &uuid::Uuid, entry: &Entry) -> Result<(), SessionError> {
        let err = |source| SessionError::Io { path: self.dir.clone(), source };
        fs::create_dir_all(&self.dir).map_err(err)?;
        let path = self.path(id);
        let mut line = serde_json::to_string(entry)
            .map_err(|e| SessionError::Io { path: path.clone(), source: e.into() })?;
        line.push('\n');
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|source| SessionError::Io { path, source })
    }

    /// The most recently written session whose first prompt ran in `cwd` (`--continue`).
    pub fn latest_in(&self, cwd: &str) -> Option<uuid::Uuid> {
        let entries = fs::read_dir(&self.dir).ok()?;
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = parse_id(name.strip_suffix(".jsonl")?)?;
                let modified = e.metadata().ok()?.modified().ok()?;
                Some((modified, id))
            })
            .filter(|(_, id)| {
                self.load(id).ok().and_then(|es| es.first().map(|e| e.cwd == cwd)).unwrap_or(false)
            })
            .max_by_key(|(m, _)| *m)
            .map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_load_and_latest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("s"));
        let id = uuid::Uuid::new_v4();
        assert!(!store.exists(&id));
        let e = |role, text: &str| Entry {
            role,
            text: text.into(),
            cwd: "/w".into(),
            timestamp: String::new(),
        };
        store.append(&id, &e(Role::User, "hello")).unwrap();
        store.append(&id, &e(Role::Assistant, "hi\nthere")).unwrap();
        assert!(store.exists(&id));
        let got = store.load(&id).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].text, "hi\nthere");
        assert_eq!(store.latest_in("/w"), Some(id));
        assert_eq!(store.latest_in("/elsewhere"), None);
        assert!(parse_id("../../etc/passwd").is_none());
    }
}
