//! What can go wrong with an agent's worktree, in words a user understands.

use std::path::PathBuf;

/// How much work a removal would throw away; a removal is confirmed with these exact counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loss {
    /// Files with changes that are not committed (untracked files included).
    pub uncommitted_files: u32,
    /// Commits on the branch that the base does not contain.
    pub unmerged_commits: u32,
}

impl Loss {
    pub fn is_nothing(&self) -> bool {
        self.uncommitted_files == 0 && self.unmerged_commits == 0
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files = plural(self.uncommitted_files, "uncommitted file", "uncommitted files");
        let commits = plural(self.unmerged_commits, "unmerged commit", "unmerged commits");
        match (self.uncommitted_files, self.unmerged_commits) {
            (0, 0) => write!(f, "nothing"),
            (_, 0) => write!(f, "{files}"),
            (0, _) => write!(f, "{commits}"),
            _ => write!(f, "{files} and {commits}"),
        }
    }
}

pub(crate) fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    #[error("could not run `{program}` ({source}); is git installed and on PATH?")]
    GitNotRunnable {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} does not exist or is not a directory", .dir.display())]
    NoSuchDirectory { dir: PathBuf },
    #[error("{} is not inside a git repository; run `git init` there (and make a first commit) to give agents worktrees", .dir.display())]
    NotARepository { dir: PathBuf },
    #[error("{} is a bare repository (it has no working tree to branch from)", .dir.display())]
    BareRepository { dir: PathBuf },
    #[error("the repository at {} has no commits yet; make a first commit so agents have a base to branch from", .repo.display())]
    NoCommits { repo: PathBuf },
    #[error("`{base}` is not a commit, branch or tag in the repository at {}", .repo.display())]
    UnknownBase { base: String, repo: PathBuf },
    #[error("there is no branch `{branch}` in the repository at {}", .repo.display())]
    UnknownBranch { branch: String, repo: PathBuf },
    #[error("branch `{branch}` is already checked out at {}; git allows a branch in one worktree only", .path.display())]
    BranchInUse { branch: String, path: PathBuf },
    #[error("the agent name `{name}` cannot be turned into a git branch name")]
    InvalidAgentName { name: String },
    #[error("{} already exists and is not a worktree of this repository; move it away or choose another directory", .path.display())]
    PathOccupied { path: PathBuf },
    #[error("setup command `{command}` failed in {} ({status}){}", .dir.display(), detail_suffix(.detail))]
    SetupFailed { command: String, dir: PathBuf, status: String, detail: String },
    #[error("there is nothing to commit in {}", .path.display())]
    NothingToCommit { path: PathBuf },
    #[error("the commit message is empty")]
    EmptyMessage,
    #[error("removing the worktree at {} would lose {loss}; confirm with these counts to remove it anyway", .path.display())]
    WouldLoseWork { path: PathBuf, loss: Loss },
    #[error("deleting branch `{branch}` would lose {}; confirm to delete it anyway", plural(*.unmerged_commits, "commit that is not merged", "commits that are not merged"))]
    BranchNotMerged { branch: String, unmerged_commits: u32 },
    #[error("`git {args}` failed in {}{}", .dir.display(), detail_suffix(.stderr))]
    Git { args: String, dir: PathBuf, stderr: String },
    #[error("git printed {what} that agentmux could not read")]
    Unreadable { what: String },
    #[error("could not {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn detail_suffix(detail: &str) -> String {
    let detail = detail.trim();
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

pub type Result<T, E = WorktreeError> = std::result::Result<T, E>;
