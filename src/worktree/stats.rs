//! What an agent changed: counts against its base, split into committed and uncommitted.

use std::io::Read;
use std::path::Path;

use super::error::{Loss, Result};
use super::git::Git;
use super::open::{AgentWorktree, Base};

/// Files changed and lines added/removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiffStat {
    pub files: u32,
    pub added: u64,
    pub removed: u64,
}

impl DiffStat {
    pub fn is_empty(&self) -> bool {
        self.files == 0
    }

    fn add(&mut self, other: DiffStat) {
        self.files += other.files;
        self.added += other.added;
        self.removed += other.removed;
    }
}

/// An agent's change against its base, read after a turn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// The branch checked out in the worktree; `None` when its HEAD is detached.
    pub branch: Option<String>,
    /// What the changes are measured against ("main", or a short commit id).
    pub base: String,
    /// Commits on the branch that the base does not contain.
    pub commits_ahead: u32,
    /// From the base to the branch's last commit.
    pub committed: DiffStat,
    /// From the last commit to the files on disk, untracked files included.
    pub uncommitted: DiffStat,
    /// From the base to the files on disk: what the agent changed, all told.
    pub total: DiffStat,
}

impl Changes {
    /// What removing the worktree would throw away.
    pub fn loss(&self) -> Loss {
        Loss { uncommitted_files: self.uncommitted.files, unmerged_commits: self.commits_ahead }
    }
}

/// Above this many untracked files only the files are counted, not their lines.
const UNTRACKED_LINE_COUNT_FILES: usize = 2_000;
/// Untracked files larger than this are counted as one file with no lines.
const UNTRACKED_LINE_COUNT_BYTES: u64 = 1 << 20;

/// The commit the agent's work is compared with: where its HEAD and the base diverged
/// (so commits merged into the base stop counting). Falls back to the recorded commit
/// when the base reference is gone.
pub(crate) fn fork_point(git: &Git, dir: &Path, base: &Base) -> Result<String> {
    for rev in [&base.reference, &base.commit] {
        if let Some(mb) = git.probe(dir, &["merge-base", rev.as_str(), "HEAD"])? {
            if !mb.is_empty() {
                return Ok(mb);
            }
        }
    }
    Ok(base.commit.clone())
}

/// Parses `git diff --numstat -z` output. Binary files count as a file with no lines.
pub fn parse_numstat(out: &[u8]) -> DiffStat {
    let mut stat = DiffStat::default();
    let mut fields = out.split(|b| *b == 0);
    while let Some(record) = fields.next() {
        if record.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(record);
        let mut parts = text.splitn(3, '\t');
        let added = parts.next().unwrap_or_default();
        let removed = parts.next().unwrap_or_default();
        let path = parts.next().unwrap_or_default();
        if path.is_empty() {
            // A rename or copy: the old and new paths follow as two more fields.
            fields.next();
            fields.next();
        }
        stat.files += 1;
        stat.added += added.parse::<u64>().unwrap_or(0);
        stat.removed += removed.parse::<u64>().unwrap_or(0);
    }
    stat
}

const NUMSTAT: &[&str] = &["diff", "--numstat", "-z", "--no-ext-diff", "--no-textconv"];

fn numstat(git: &Git, dir: &Path, revs: &[&str]) -> Result<DiffStat> {
    let mut args: Vec<&str> = NUMSTAT.to_vec();
    args.extend_from_slice(revs);
    args.push("--");
    Ok(parse_numstat(&git.run(dir, &args)?))
}

/// Untracked (and not ignored) files, relative to `dir`.
pub(crate) fn untracked_files(git: &Git, dir: &Path) -> Result<Vec<String>> {
    let out = git.run(dir, &["ls-files", "--others", "--exclude-standard", "-z"])?;
    Ok(out
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Lines in a text file, `None` for a binary, unreadable or very large file.
fn count_lines(path: &Path) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() > UNTRACKED_LINE_COUNT_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(UNTRACKED_LINE_COUNT_BYTES).read_to_end(&mut bytes).ok()?;
    if bytes.contains(&0) {
        return None;
    }
    let newlines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let unterminated = u64::from(bytes.last().is_some_and(|b| *b != b'\n'));
    Some(newlines + unterminated)
}

fn untracked_stat(dir: &Path, files: &[String]) -> DiffStat {
    let mut stat = DiffStat { files: files.len() as u32, ..Default::default() };
    if files.len() <= UNTRACKED_LINE_COUNT_FILES {
        stat.added = files.iter().filter_map(|f| count_lines(&dir.join(f))).sum();
    }
    stat
}

impl AgentWorktree {
    /// What the agent changed against its base. Blocking (several short git runs): the app
    /// calls it after a turn, from a blocking task.
    pub fn changes(&self, git: &Git) -> Result<Changes> {
        let dir = &self.path;
        let branch = git.probe(dir, &["symbolic-ref", "-q", "--short", "HEAD"])?;
        let fork = fork_point(git, dir, &self.base)?;
        let range = format!("{fork}..HEAD");
        let ahead = git.text(dir, &["rev-list", "--count", &range])?;
        let committed = numstat(git, dir, &[&fork, "HEAD"])?;
        let mut uncommitted = numstat(git, dir, &["HEAD"])?;
        let mut total = numstat(git, dir, &[&fork])?;
        let untracked = untracked_stat(dir, &untracked_files(git, dir)?);
        uncommitted.add(untracked);
        total.add(untracked);
        Ok(Changes {
            branch,
            base: self.base.label(),
            commits_ahead: ahead.trim().parse().unwrap_or(0),
            committed,
            uncommitted,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_counts_text_binary_and_renamed_files() {
        let out = b"3\t1\tsrc/a.rs\0-\t-\timg.png\x002\t0\t\0old.txt\0new.txt\0";
        let stat = parse_numstat(out);
        assert_eq!(stat, DiffStat { files: 3, added: 5, removed: 1 });
        assert_eq!(parse_numstat(b""), DiffStat::default());
    }

    #[test]
    fn loss_comes_from_uncommitted_files_and_commits_ahead() {
        let changes = Changes {
            commits_ahead: 2,
            uncommitted: DiffStat { files: 3, added: 1, removed: 0 },
            ..Default::default()
        };
        assert_eq!(changes.loss(), Loss { uncommitted_files: 3, unmerged_commits: 2 });
        assert_eq!(changes.loss().to_string(), "3 uncommitted files and 2 unmerged commits");
    }
}
