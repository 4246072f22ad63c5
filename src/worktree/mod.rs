//! A git worktree per agent, and what each agent changed.
//!
//! Git is driven through the user's `git` command (argv, never a shell; `git -C DIR ...`;
//! porcelain and numstat output parsed). Everything here blocks: the app calls it from a
//! blocking task after a turn, never on a timer and never on the UI thread.
//!
//! - [`open`]: create `agentmux/<agent>` and its worktree (under the git common dir by
//!   default, never inside the tracked tree), or reopen them; setup commands run once.
//! - [`AgentWorktree::changes`]: counts against the base, committed and uncommitted.
//! - [`AgentWorktree::diff`]: file by file with hunks, for `ui::diff`.
//! - [`AgentWorktree::commit`], [`AgentWorktree::remove`], [`delete_branch`]: handling, with
//!   removal refused while work would be lost unless confirmed with the counts.
//! - [`overlap`]: warnings when agents sharing a directory edit the same file.
//!
//! Submodules are not initialised in new worktrees (that may fetch over the network); a
//! [`Notice`] says so and names the command.

mod error;
mod git;
mod handle;
mod open;
pub mod overlap;
mod patch;
mod stats;

pub use error::{Loss, Result, WorktreeError};
pub use git::Git;
pub use handle::{
    delete_branch, propose_commit_message, shell_command, unmerged_commits, Committed, Removed,
    SUBJECT_CHARS,
};
pub use open::{
    agent_branch, agent_slug, open, AgentWorktree, Base, Notice, OpenRequest, Start, SETUP_MARKER,
    WORKTREES_DIR,
};
pub use patch::{
    parse_diff, unquote_path, DiffLine, DiffScope, FileDiff, FileStatus, Hunk, LineKind,
    MAX_LINES_PER_FILE,
};
pub use stats::{parse_numstat, Changes, DiffStat};
