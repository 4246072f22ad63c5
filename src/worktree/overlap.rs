//! Warnings across agents: files edited by two or more agents working in the same directory.
//!
//! Pure functions over the paths in agents' Edit/Write/MultiEdit/NotebookEdit tool calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::agent::event::ContentBlock;

/// Tools whose input names a file they change.
pub const EDITING_TOOLS: &[&str] = &["Edit", "Write", "MultiEdit", "NotebookEdit"];

/// The file a tool call edits, as written in its input (`file_path` or `notebook_path`);
/// `None` for any other block or tool.
pub fn edited_path(block: &ContentBlock) -> Option<&str> {
    let ContentBlock::ToolUse { name, input, .. } = block else {
        return None;
    };
    if !EDITING_TOOLS.contains(&name.as_str()) {
        return None;
    }
    ["file_path", "notebook_path"]
        .iter()
        .find_map(|key| input.get(key).and_then(|v| v.as_str()))
        .filter(|p| !p.is_empty())
}

/// `path` made absolute against `cwd`, with `.` and `..` resolved without touching the disk
/// (the file may not exist yet, or any more).
pub fn absolute_in(cwd: &Path, path: &str) -> PathBuf {
    let joined = cwd.join(path);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A file edited by more than one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedEdit {
    pub path: PathBuf,
    /// The agents that edited it, by name, sorted.
    pub agents: Vec<String>,
}

/// Which agent edited which file. Only agents without a worktree of their own belong here:
/// agents in separate worktrees cannot overwrite each other's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EditLog {
    by_path: BTreeMap<PathBuf, BTreeSet<String>>,
}

impl EditLog {
    /// Records the file `block` edits, if it edits one. Returns the absolute path recorded.
    pub fn record_block(
        &mut self,
        agent: &str,
        cwd: &Path,
        block: &ContentBlock,
    ) -> Option<PathBuf> {
        let path = absolute_in(cwd, edited_path(block)?);
        self.record(agent, path.clone());
        Some(path)
    }

    pub fn record(&mut self, agent: &str, path: PathBuf) {
        self.by_path.entry(path).or_default().insert(agent.to_string());
    }

    /// Forgets an agent (closed, or moved into a worktree of its own).
    pub fn forget(&mut self, agent: &str) {
        self.by_path.retain(|_, agents| {
            agents.remove(agent);
            !agents.is_empty()
        });
    }

    /// Files edited by two or more agents, sorted by path.
    pub fn shared(&self) -> Vec<SharedEdit> {
        self.by_path
            .iter()
            .filter(|(_, agents)| agents.len() > 1)
            .map(|(path, agents)| SharedEdit {
                path: path.clone(),
                agents: agents.iter().cloned().collect(),
            })
            .collect()
    }

    /// The shared files `agent` edited, each with the other agents that edited it too.
    pub fn warnings_for(&self, agent: &str) -> Vec<SharedEdit> {
        self.shared()
            .into_iter()
            .filter(|s| s.agents.iter().any(|a| a == agent))
            .map(|mut s| {
                s.agents.retain(|a| a != agent);
                s
            })
            .collect()
    }
}

/// One agent's edits, for [`shared_edits`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentEdits<'a> {
    pub agent: &'a str,
    pub cwd: &'a Path,
    /// An agent in a worktree of its own never shares a file with another.
    pub has_worktree: bool,
    /// Paths as written in the tool calls (relative ones are taken against `cwd`).
    pub paths: Vec<&'a str>,
}

/// Files edited by two or more agents that work without worktrees.
pub fn shared_edits(agents: &[AgentEdits<'_>]) -> Vec<SharedEdit> {
    let mut log = EditLog::default();
    for a in agents.iter().filter(|a| !a.has_worktree) {
        for p in &a.paths {
            log.record(a.agent, absolute_in(a.cwd, p));
        }
    }
    log.shared()
}

/// "also edited by backend, qa: src/lib.rs" for a pane, shortest form relative to `cwd`.
pub fn warning_line(edit: &SharedEdit, cwd: &Path) -> String {
    let shown = edit.path.strip_prefix(cwd).unwrap_or(&edit.path);
    format!("also edited by {}: {}", edit.agents.join(", "), shown.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, input: serde_json::Value) -> ContentBlock {
        ContentBlock::ToolUse { id: "t".into(), name: name.into(), input }
    }

    #[test]
    fn editing_tools_name_their_file() {
        assert_eq!(edited_path(&tool("Edit", json!({"file_path": "/r/a.rs"}))), Some("/r/a.rs"));
        assert_eq!(
            edited_path(&tool("NotebookEdit", json!({"notebook_path": "n.ipynb"}))),
            Some("n.ipynb")
        );
        assert_eq!(edited_path(&tool("Read", json!({"file_path": "/r/a.rs"}))), None);
        assert_eq!(edited_path(&tool("Write", json!({"content": "x"}))), None);
        assert_eq!(edited_path(&ContentBlock::Text { text: "Edit".into() }), None);
    }

    #[test]
    fn files_edited_by_two_agents_in_one_directory_are_reported_for_both() {
        let repo = Path::new("/r");
        let agents = [
            AgentEdits {
                agent: "api",
                cwd: repo,
                has_worktree: false,
                paths: vec!["/r/src/lib.rs", "README.md"],
            },
            AgentEdits {
                agent: "ui",
                cwd: Path::new("/r/src"),
                has_worktree: false,
                paths: vec!["./lib.rs", "../docs/x.md"],
            },
            AgentEdits {
                agent: "isolated",
                cwd: repo,
                has_worktree: true,
                paths: vec!["/r/src/lib.rs"],
            },
        ];
        let shared = shared_edits(&agents);
        assert_eq!(
            shared,
            vec![SharedEdit {
                path: PathBuf::from("/r/src/lib.rs"),
                agents: vec!["api".into(), "ui".into()],
            }]
        );

        let mut log = EditLog::default();
        log.record_block("api", repo, &tool("Edit", json!({"file_path": "src/lib.rs"})));
        log.record_block(
            "ui",
            repo,
            &tool("MultiEdit", json!({"file_path": "/r/src/../src/lib.rs"})),
        );
        log.record_block("ui", repo, &tool("Write", json!({"file_path": "/r/only-ui"})));
        let for_api = log.warnings_for("api");
        assert_eq!(for_api.len(), 1);
        assert_eq!(warning_line(&for_api[0], repo), "also edited by ui: src/lib.rs");
        assert_eq!(log.warnings_for("ui")[0].agents, vec!["api".to_string()]);
        log.forget("ui");
        assert!(log.shared().is_empty());
    }
}
