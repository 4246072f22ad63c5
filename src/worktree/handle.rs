//! What the user does with an agent's work: commit it, remove the worktree, delete the branch.

use std::path::{Path, PathBuf};

use super::error::{Loss, Result, WorktreeError};
use super::git::Git;
use super::open::{short, AgentWorktree, Base};

/// About as long as a commit subject should be.
pub const SUBJECT_CHARS: usize = 72;

/// A commit message proposed from a turn's result text: its first line that says something,
/// without markdown decoration, cut to about [`SUBJECT_CHARS`] at a word boundary. The user
/// edits it before committing.
pub fn propose_commit_message(result_text: &str, agent: &str) -> String {
    let line =
        result_text.lines().map(strip_markdown).find(|l| !l.is_empty() && !l.starts_with("```"));
    match line {
        Some(line) => cut_subject(&line),
        None => format!("Changes by {agent}"),
    }
}

fn strip_markdown(line: &str) -> String {
    let mut l = line.trim();
    l = l.trim_start_matches('#').trim_start();
    for bullet in ["- ", "* ", "+ ", "> "] {
        if let Some(rest) = l.strip_prefix(bullet) {
            l = rest.trim_start();
        }
    }
    let l = l.replace("**", "").replace('`', "");
    l.trim().to_string()
}

fn cut_subject(line: &str) -> String {
    if line.chars().count() <= SUBJECT_CHARS {
        return line.trim_end_matches([':', ',', ';']).to_string();
    }
    // One character more than fits, so a space right after the limit counts as a word end.
    let head: String = line.chars().take(SUBJECT_CHARS + 1).collect();
    let cut: String = match head.rfind(' ') {
        // Cut at a word only if that keeps most of the line.
        Some(i) if head[..i].chars().count() >= SUBJECT_CHARS / 2 => head[..i].to_string(),
        _ => head.chars().take(SUBJECT_CHARS).collect(),
    };
    cut.trim_end_matches([':', ',', ';', ' ', '.', '-']).to_string()
}

/// A commit made with [`AgentWorktree::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub commit: String,
    pub files: u32,
}

/// A worktree removed with [`AgentWorktree::remove`]: its branch is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    pub path: PathBuf,
    pub branch: String,
    /// What the confirmation agreed to lose (nothing when the removal was clean).
    pub lost: Loss,
}

impl Removed {
    /// Says that the branch was kept and how to get rid of it.
    pub fn message(&self) -> String {
        format!(
            "removed the worktree at {}; branch {} is kept (delete it separately if you no longer need it)",
            self.path.display(),
            self.branch
        )
    }
}

impl AgentWorktree {
    /// Stages everything in the worktree (new, changed and deleted files) and commits it.
    /// The message is used as written: lines starting with '#' are kept.
    pub fn commit(&self, git: &Git, message: &str) -> Result<Committed> {
        if message.trim().is_empty() {
            return Err(WorktreeError::EmptyMessage);
        }
        let dir = &self.path;
        git.run(dir, &["add", "--all"])?;
        let staged = git.run(dir, &["diff", "--cached", "--name-only", "-z"])?;
        let files = staged.split(|b| *b == 0).filter(|p| !p.is_empty()).count() as u32;
        if files == 0 {
            return Err(WorktreeError::NothingToCommit { path: dir.clone() });
        }
        git.run(dir, &["commit", "--quiet", "--cleanup=whitespace", "-m", message])?;
        let commit = git.text(dir, &["rev-parse", "HEAD"])?;
        Ok(Committed { commit, files })
    }

    /// What removing the worktree now would lose.
    pub fn loss(&self, git: &Git) -> Result<Loss> {
        if !self.path.is_dir() {
            return Ok(Loss::default());
        }
        let changes = self.changes(git)?;
        Ok(changes.loss())
    }

    /// Removes the worktree directory; the branch stays. Refuses with
    /// [`WorktreeError::WouldLoseWork`] while uncommitted files or commits not in the base
    /// exist, unless `confirmed` carries exactly those counts (so work done after the user
    /// was asked is not lost silently).
    pub fn remove(&self, git: &Git, confirmed: Option<Loss>) -> Result<Removed> {
        let loss = self.loss(git)?;
        if !loss.is_nothing() && confirmed != Some(loss) {
            return Err(WorktreeError::WouldLoseWork { path: self.path.clone(), loss });
        }
        let mut args = vec!["worktree".as_ref(), "remove".as_ref(), self.path.as_os_str()];
        if loss.uncommitted_files > 0 {
            args.insert(2, "--force".as_ref());
        }
        if self.path.is_dir() {
            git.run::<&std::ffi::OsStr>(&self.repo, &args)?;
        } else {
            git.run(&self.repo, &["worktree", "prune"])?;
        }
        Ok(Removed { path: self.path.clone(), branch: self.branch.clone(), lost: loss })
    }
}

/// The user's shell to open in the worktree: `$SHELL`, else `/bin/sh`, started in the
/// agent's directory. The run loop suspends the terminal UI while it runs.
pub fn shell_command(wt: &AgentWorktree) -> std::process::Command {
    let shell =
        std::env::var_os("SHELL").filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into());
    let mut cmd = std::process::Command::new(shell);
    let dir = if wt.cwd.is_dir() { &wt.cwd } else { &wt.path };
    cmd.current_dir(dir);
    cmd.env("AGENTMUX_AGENT", &wt.agent);
    cmd.env("AGENTMUX_WORKTREE", &wt.path);
    cmd
}

/// Commits on `branch` that its recorded base (or, without one, the checkout's HEAD) does
/// not contain.
pub fn unmerged_commits(git: &Git, repo: &Path, branch: &str) -> Result<u32> {
    let full = format!("refs/heads/{branch}");
    if git.probe(repo, &["rev-parse", "--verify", "-q", &full])?.is_none() {
        return Err(WorktreeError::UnknownBranch {
            branch: branch.to_string(),
            repo: repo.to_path_buf(),
        });
    }
    let key = format!("branch.{branch}.agentmux-base");
    let base = git.probe(repo, &["config", "--get", &key])?.map(|v| {
        let mut parts = v.trim().splitn(2, ' ');
        let commit = parts.next().unwrap_or_default().to_string();
        let reference = parts.next().unwrap_or(&commit).to_string();
        Base { reference, commit }
    });
    let against = match base {
        Some(base) => {
            // Like the stats' fork point, but measured from the branch, not the worktree's HEAD.
            let mut against = base.commit.clone();
            for rev in [&base.reference, &base.commit] {
                if git.probe(repo, &["merge-base", rev.as_str(), &full])?.is_some() {
                    against = rev.clone();
                    break;
                }
            }
            against
        }
        None => "HEAD".to_string(),
    };
    let range = format!("{against}..{full}");
    let n = git.text(repo, &["rev-list", "--count", &range])?;
    Ok(n.trim().parse().unwrap_or(0))
}

/// Deletes a branch: a step of its own, never part of removing a worktree. Refuses while the
/// branch has commits its base does not contain, unless `confirmed_unmerged` is that count.
/// Git itself refuses while the branch is checked out in a worktree.
pub fn delete_branch(
    git: &Git,
    repo: &Path,
    branch: &str,
    confirmed_unmerged: Option<u32>,
) -> Result<String> {
    let unmerged = unmerged_commits(git, repo, branch)?;
    if unmerged > 0 && confirmed_unmerged != Some(unmerged) {
        return Err(WorktreeError::BranchNotMerged {
            branch: branch.to_string(),
            unmerged_commits: unmerged,
        });
    }
    let full = format!("refs/heads/{branch}");
    let tip = git.text(repo, &["rev-parse", &full])?;
    git.run(repo, &["branch", "--delete", "--force", "--", branch])?;
    Ok(format!(
        "deleted branch {branch} (it was at {}{})",
        short(&tip),
        if unmerged > 0 {
            format!("; {unmerged} unmerged commit(s) are now reachable only through the reflog")
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_message_comes_from_the_first_meaningful_line() {
        let text = "\n## **Fixed** the `parser` bug\n\nDetails follow.";
        assert_eq!(propose_commit_message(text, "qa"), "Fixed the parser bug");
        assert_eq!(propose_commit_message("  \n", "qa"), "Changes by qa");
        assert_eq!(propose_commit_message("- Added tests:", "qa"), "Added tests");
    }

    #[test]
    fn long_lines_are_cut_at_a_word_near_72_characters() {
        let text = "Refactored the configuration loader so that team files with unknown keys report the file and line";
        let msg = propose_commit_message(text, "a");
        assert!(msg.chars().count() <= SUBJECT_CHARS, "{msg}");
        assert_eq!(msg, "Refactored the configuration loader so that team files with unknown keys");
        let word = "x".repeat(100);
        assert_eq!(propose_commit_message(&word, "a").chars().count(), 72);
    }
}
