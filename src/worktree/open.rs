//! Creating an agent's branch and worktree, or finding them again when a workspace reopens.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::error::{Result, WorktreeError};
use super::git::{last_lines, Git};

/// The directory under the git common dir (`.git`) that holds agents' worktrees by default.
pub const WORKTREES_DIR: &str = "agentmux-worktrees";
/// Written in the worktree's private git dir once its setup commands have succeeded.
pub const SETUP_MARKER: &str = "agentmux-setup-done";
/// Branch config key holding "<base commit> <base reference>" (see [`Base`]).
const BASE_KEY: &str = "agentmux-base";

/// Where an agent's branch starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// A new branch `agentmux/<agent>` from the repository's current HEAD.
    #[default]
    Head,
    /// A new branch `agentmux/<agent>` from this commit, branch or tag.
    From(String),
    /// An existing branch, checked out as it is; its base is the checkout's current branch.
    Branch(String),
}

/// What to open: see [`open`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenRequest {
    pub agent: String,
    /// A directory inside the repository: the agent's configured cwd.
    pub dir: PathBuf,
    pub start: Start,
    /// Where worktrees go; by default `<git common dir>/agentmux-worktrees`.
    pub root: Option<PathBuf>,
    /// Commands run once, in the new worktree, after it is created. Each is an argv list,
    /// never given to a shell; `{repo}`, `{worktree}` and `{agent}` in an argument are
    /// replaced by the main checkout's directory, the worktree's and the agent's name
    /// (e.g. `["cp", "{repo}/.env", "."]`).
    pub setup: Vec<Vec<String>>,
}

impl OpenRequest {
    pub fn new(agent: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        OpenRequest { agent: agent.into(), dir: dir.into(), ..Default::default() }
    }
}

/// What an agent's work is measured against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    /// A branch or tag name when the base was one (so merging the agent's branch into it
    /// counts as merged), otherwise a commit id.
    pub reference: String,
    /// The commit the reference pointed at when the branch was created.
    pub commit: String,
}

impl Base {
    /// "main", or "a1b2c3d" for a bare commit.
    pub fn label(&self) -> String {
        if self.reference == self.commit {
            short(&self.commit).to_string()
        } else {
            self.reference.clone()
        }
    }
}

/// Something the user should know about a worktree that is not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The checkout's HEAD was detached, so the branch starts from that commit.
    DetachedBase { commit: String },
    /// `agentmux/<agent>` already existed (an earlier worktree was removed, the branch kept):
    /// it was checked out again with its commits.
    BranchReused { branch: String },
    /// The base branch or tag no longer exists; changes are measured from the recorded commit.
    BaseGone { reference: String, commit: String },
    /// agentmux does not initialise submodules (that may fetch over the network).
    SubmodulesNotInitialised { paths: Vec<String> },
    /// The team's setup commands ran in the new worktree.
    SetupRan { commands: usize },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::DetachedBase { commit } => write!(
                f,
                "HEAD is detached: the agent's branch starts from commit {}",
                short(commit)
            ),
            Notice::BranchReused { branch } => {
                write!(f, "branch {branch} already existed: reusing it with its commits")
            }
            Notice::BaseGone { reference, commit } => write!(
                f,
                "base {reference} no longer exists: changes are measured from commit {}",
                short(commit)
            ),
            Notice::SubmodulesNotInitialised { paths } => write!(
                f,
                "submodules are not initialised in the worktree ({}); run `git submodule update --init` there or add it to the team's setup commands",
                paths.join(", ")
            ),
            Notice::SetupRan { commands } => {
                write!(f, "ran {commands} setup command{}", if *commands == 1 { "" } else { "s" })
            }
        }
    }
}

/// An agent's worktree, open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentWorktree {
    pub agent: String,
    /// The top-level directory of the checkout the request came from.
    pub repo: PathBuf,
    /// The top-level directory of the agent's worktree.
    pub path: PathBuf,
    /// Where the agent runs: the worktree, at the request directory's place in the repository.
    pub cwd: PathBuf,
    /// The branch checked out in the worktree when it was opened.
    pub branch: String,
    pub base: Base,
    /// False when an existing worktree was reopened.
    pub created: bool,
    pub notices: Vec<Notice>,
}

/// `agentmux/<agent>`, with characters git refuses in a branch name replaced by `-`.
pub fn agent_branch(agent: &str) -> Option<String> {
    agent_slug(agent).map(|slug| format!("agentmux/{slug}"))
}

/// The agent's name as a single path component and branch name component.
pub fn agent_slug(agent: &str) -> Option<String> {
    let mut slug = String::new();
    for c in agent.trim().chars() {
        let keep = c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
        let c = if keep { c } else { '-' };
        // No "..", no "--" runs: both read badly and ".." is refused by git.
        if (c == '-' || c == '.') && slug.ends_with(['-', '.']) {
            continue;
        }
        slug.push(c);
    }
    let slug = slug.trim_matches(['-', '.']).to_string();
    let slug = slug.strip_suffix(".lock").map(str::to_string).unwrap_or(slug);
    (!slug.is_empty()).then_some(slug)
}

pub(crate) fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// Where the request's directory sits in its repository.
struct Checkout {
    top: PathBuf,
    common_dir: PathBuf,
    /// The request directory relative to `top` ("" or "sub/dir/").
    prefix: String,
}

fn locate(git: &Git, dir: &Path) -> Result<Checkout> {
    if !dir.is_dir() {
        return Err(WorktreeError::NoSuchDirectory { dir: dir.to_path_buf() });
    }
    let Some(out) = git.probe(dir, &["rev-parse", "--is-inside-work-tree", "--git-common-dir"])?
    else {
        return Err(WorktreeError::NotARepository { dir: dir.to_path_buf() });
    };
    let mut lines = out.lines();
    let inside = lines.next() == Some("true");
    let common = lines.next().unwrap_or_default();
    if !inside {
        return Err(WorktreeError::BareRepository { dir: dir.to_path_buf() });
    }
    let out = git.text(dir, &["rev-parse", "--show-toplevel", "--show-prefix"])?;
    let mut lines = out.lines();
    let top = PathBuf::from(lines.next().unwrap_or_default());
    let prefix = lines.next().unwrap_or_default().to_string();
    // `--git-common-dir` may be relative to the directory git ran in.
    let common_dir = dir.join(common);
    let common_dir = common_dir.canonicalize().unwrap_or(common_dir);
    Ok(Checkout { top, common_dir, prefix })
}

/// One entry of `git worktree list --porcelain`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListedWorktree {
    pub path: PathBuf,
    pub head: Option<String>,
    /// Short branch name; `None` when detached.
    pub branch: Option<String>,
    pub prunable: bool,
}

pub(crate) fn parse_worktree_list(text: &str) -> Vec<ListedWorktree> {
    let mut all = Vec::new();
    let mut cur: Option<ListedWorktree> = None;
    for line in text.split(['\n', '\0']) {
        if let Some(path) = line.strip_prefix("worktree ") {
            all.extend(cur.take());
            cur = Some(ListedWorktree { path: PathBuf::from(path), ..Default::default() });
        } else if let Some(wt) = cur.as_mut() {
            if let Some(head) = line.strip_prefix("HEAD ") {
                wt.head = Some(head.to_string());
            } else if let Some(branch) = line.strip_prefix("branch ") {
                let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
                wt.branch = Some(branch.to_string());
            } else if line == "prunable" || line.starts_with("prunable ") {
                wt.prunable = true;
            }
        }
    }
    all.extend(cur);
    all
}

fn list_worktrees(git: &Git, repo: &Path) -> Result<Vec<ListedWorktree>> {
    let out = git.run(repo, &["worktree", "list", "--porcelain"])?;
    Ok(parse_worktree_list(&String::from_utf8_lossy(&out)))
}

fn same_path(a: &Path, b: &Path) -> bool {
    let a = a.canonicalize().unwrap_or_else(|_| a.to_path_buf());
    let b = b.canonicalize().unwrap_or_else(|_| b.to_path_buf());
    a == b
}

fn branch_exists(git: &Git, repo: &Path, branch: &str) -> Result<bool> {
    let full = format!("refs/heads/{branch}");
    Ok(git.probe(repo, &["rev-parse", "--verify", "-q", &full])?.is_some())
}

fn resolve_commit(git: &Git, repo: &Path, rev: &str) -> Result<Option<String>> {
    let spec = format!("{rev}^{{commit}}");
    git.probe(repo, &["rev-parse", "--verify", "-q", "--end-of-options", &spec])
}

/// The base for a new branch from `rev`: keeps a branch or tag name, else the commit id.
fn base_from(git: &Git, repo: &Path, rev: &str, notices: &mut Vec<Notice>) -> Result<Base> {
    let Some(commit) = resolve_commit(git, repo, rev)? else {
        return Err(WorktreeError::UnknownBase { base: rev.to_string(), repo: repo.to_path_buf() });
    };
    let full = git.probe(repo, &["rev-parse", "--symbolic-full-name", rev])?.unwrap_or_default();
    let reference = if let Some(name) = full.strip_prefix("refs/heads/") {
        name.to_string()
    } else if let Some(name) = full.strip_prefix("refs/tags/") {
        name.to_string()
    } else {
        if rev == "HEAD" {
            notices.push(Notice::DetachedBase { commit: commit.clone() });
        }
        commit.clone()
    };
    Ok(Base { reference, commit })
}

fn read_base(git: &Git, repo: &Path, branch: &str) -> Result<Option<Base>> {
    let key = format!("branch.{branch}.{BASE_KEY}");
    let Some(value) = git.probe(repo, &["config", "--get", &key])? else {
        return Ok(None);
    };
    let mut parts = value.trim().splitn(2, ' ');
    let commit = parts.next().unwrap_or_default().to_string();
    let reference = parts.next().unwrap_or(&commit).to_string();
    Ok((!commit.is_empty()).then_some(Base { reference, commit }))
}

fn write_base(git: &Git, repo: &Path, branch: &str, base: &Base) -> Result<()> {
    let key = format!("branch.{branch}.{BASE_KEY}");
    let value = format!("{} {}", base.commit, base.reference);
    git.run(repo, &["config", &key, &value])?;
    Ok(())
}

/// The base of an existing branch: the checkout's current branch (or HEAD commit), from the
/// point where the two diverged.
fn base_for_existing(git: &Git, repo: &Path, branch: &str) -> Result<Base> {
    let mut ignored = Vec::new();
    let head = base_from(git, repo, "HEAD", &mut ignored)?;
    let fork = git.probe(repo, &["merge-base", &head.commit, branch])?;
    Ok(Base { reference: head.reference, commit: fork.unwrap_or(head.commit) })
}

/// Creates the agent's branch and worktree, or reopens them. Blocking: call it off the UI
/// thread. Setup commands run once, after creation (a marker in the worktree's private git
/// dir records it; a failed setup is retried on the next open).
pub fn open(git: &Git, req: &OpenRequest) -> Result<AgentWorktree> {
    let checkout = locate(git, &req.dir)?;
    let repo = checkout.top.clone();
    let slug = agent_slug(&req.agent)
        .ok_or_else(|| WorktreeError::InvalidAgentName { name: req.agent.clone() })?;
    let branch = match &req.start {
        Start::Branch(b) => b.clone(),
        _ => format!("agentmux/{slug}"),
    };
    if git.probe(&repo, &["check-ref-format", "--branch", &branch])?.is_none() {
        return Err(match &req.start {
            Start::Branch(b) => WorktreeError::UnknownBranch { branch: b.clone(), repo },
            _ => WorktreeError::InvalidAgentName { name: req.agent.clone() },
        });
    }
    if resolve_commit(git, &repo, "HEAD")?.is_none() {
        return Err(WorktreeError::NoCommits { repo });
    }
    let root = req.root.clone().unwrap_or_else(|| checkout.common_dir.join(WORKTREES_DIR));
    let path = root.join(&slug);
    let mut notices = Vec::new();

    let mut listed = list_worktrees(git, &repo)?;
    if listed.iter().any(|w| w.prunable) {
        // A worktree whose directory was deleted by hand still holds its branch: forget it.
        git.run(&repo, &["worktree", "prune"])?;
        listed = list_worktrees(git, &repo)?;
    }

    let existing = listed.iter().find(|w| same_path(&w.path, &path));
    let created = existing.is_none();
    let (path, branch, base) = if let Some(found) = existing {
        let branch = found.branch.clone().unwrap_or(branch);
        let base = match read_base(git, &repo, &branch)? {
            Some(base) => base,
            None => base_for_existing(git, &repo, &branch)?,
        };
        (found.path.clone(), branch, base)
    } else {
        if path.exists() && !is_empty_dir(&path) {
            return Err(WorktreeError::PathOccupied { path });
        }
        if let Some(other) = listed.iter().find(|w| w.branch.as_deref() == Some(branch.as_str())) {
            return Err(WorktreeError::BranchInUse { branch, path: other.path.clone() });
        }
        std::fs::create_dir_all(&root).map_err(|source| WorktreeError::Io {
            action: "create the directory",
            path: root.clone(),
            source,
        })?;
        let base = match &req.start {
            Start::Branch(b) => {
                if !branch_exists(git, &repo, b)? {
                    return Err(WorktreeError::UnknownBranch { branch: b.clone(), repo });
                }
                let base = match read_base(git, &repo, b)? {
                    Some(base) => base,
                    None => base_for_existing(git, &repo, b)?,
                };
                let args = [
                    "worktree".as_ref(),
                    "add".as_ref(),
                    "--quiet".as_ref(),
                    path.as_os_str(),
                    b.as_ref(),
                ];
                git.run(&repo, &args)?;
                base
            }
            start if branch_exists(git, &repo, &branch)? => {
                // The agent had this branch before (its worktree was removed, the branch
                // kept): check it out again rather than fail or start over.
                notices.push(Notice::BranchReused { branch: branch.clone() });
                let base = match read_base(git, &repo, &branch)? {
                    Some(base) => base,
                    None => match start {
                        Start::From(rev) => base_from(git, &repo, rev, &mut notices)?,
                        _ => base_for_existing(git, &repo, &branch)?,
                    },
                };
                let args = [
                    "worktree".as_ref(),
                    "add".as_ref(),
                    "--quiet".as_ref(),
                    path.as_os_str(),
                    branch.as_ref(),
                ];
                git.run(&repo, &args)?;
                base
            }
            start => {
                let rev = match start {
                    Start::From(rev) => rev.as_str(),
                    _ => "HEAD",
                };
                let base = base_from(git, &repo, rev, &mut notices)?;
                let args = [
                    "worktree".as_ref(),
                    "add".as_ref(),
                    "--quiet".as_ref(),
                    "-b".as_ref(),
                    branch.as_ref(),
                    path.as_os_str(),
                    base.commit.as_ref(),
                ];
                git.run::<&std::ffi::OsStr>(&repo, &args)?;
                base
            }
        };
        write_base(git, &repo, &branch, &base)?;
        let path = path.canonicalize().unwrap_or(path);
        (path, branch, base)
    };

    if resolve_commit(git, &repo, &base.reference)?.is_none() {
        notices.push(Notice::BaseGone {
            reference: base.reference.clone(),
            commit: base.commit.clone(),
        });
    }
    let submodules = uninitialised_submodules(git, &path)?;
    if !submodules.is_empty() {
        notices.push(Notice::SubmodulesNotInitialised { paths: submodules });
    }
    let cwd = path.join(relative_clean(&checkout.prefix));
    let wt =
        AgentWorktree { agent: req.agent.clone(), repo, path, cwd, branch, base, created, notices };
    let ran = run_setup(git, &wt, &req.setup)?;
    let mut wt = wt;
    if ran > 0 {
        wt.notices.push(Notice::SetupRan { commands: ran });
    }
    Ok(wt)
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).map(|mut entries| entries.next().is_none()).unwrap_or(false)
}

/// A prefix from git ("sub/dir/") as a relative path with no `..` in it.
fn relative_clean(prefix: &str) -> PathBuf {
    Path::new(prefix).components().filter(|c| matches!(c, Component::Normal(_))).collect()
}

fn uninitialised_submodules(git: &Git, path: &Path) -> Result<Vec<String>> {
    if !path.join(".gitmodules").exists() {
        return Ok(Vec::new());
    }
    let Some(status) = git.probe(path, &["submodule", "status"])? else {
        return Ok(Vec::new());
    };
    // Lines read "-<sha> <path>" for a submodule that is not initialised.
    Ok(status
        .lines()
        .filter_map(|l| l.strip_prefix('-'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect())
}

/// The worktree's private git dir (`.git/worktrees/<name>`), where agentmux keeps markers.
fn private_git_dir(git: &Git, worktree: &Path) -> Result<PathBuf> {
    let dir = git.text(worktree, &["rev-parse", "--git-dir"])?;
    Ok(worktree.join(dir))
}

/// Runs the setup commands unless the marker says they already ran. Returns how many ran.
fn run_setup(git: &Git, wt: &AgentWorktree, setup: &[Vec<String>]) -> Result<usize> {
    if setup.is_empty() {
        return Ok(0);
    }
    let marker = private_git_dir(git, &wt.path)?.join(SETUP_MARKER);
    if marker.exists() {
        return Ok(0);
    }
    let mut record = String::new();
    for argv in setup {
        let argv: Vec<String> = argv.iter().map(|a| substitute(a, wt)).collect();
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let shown = argv.join(" ");
        let out = Command::new(program)
            .args(args)
            .current_dir(&wt.path)
            .env("AGENTMUX_AGENT", &wt.agent)
            .env("AGENTMUX_REPO", &wt.repo)
            .env("AGENTMUX_WORKTREE", &wt.path)
            .stdin(Stdio::null())
            .output();
        let failed = |status: String, detail: String| WorktreeError::SetupFailed {
            command: shown.clone(),
            dir: wt.path.clone(),
            status,
            detail,
        };
        let out = out.map_err(|e| failed("could not start it".into(), e.to_string()))?;
        if !out.status.success() {
            let status = match out.status.code() {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".into(),
            };
            let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
            if text.trim().is_empty() {
                text = String::from_utf8_lossy(&out.stdout).into_owned();
            }
            return Err(failed(status, last_lines(&text, 3)));
        }
        record.push_str(&shown);
        record.push('\n');
    }
    std::fs::write(&marker, record).map_err(|source| WorktreeError::Io {
        action: "write",
        path: marker.clone(),
        source,
    })?;
    Ok(setup.iter().filter(|a| !a.is_empty()).count())
}

fn substitute(arg: &str, wt: &AgentWorktree) -> String {
    arg.replace("{repo}", &wt.repo.to_string_lossy())
        .replace("{worktree}", &wt.path.to_string_lossy())
        .replace("{agent}", &wt.agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_safe_characters_and_replace_the_rest() {
        assert_eq!(agent_slug("backend").as_deref(), Some("backend"));
        assert_eq!(agent_slug("Front End #2").as_deref(), Some("Front-End-2"));
        assert_eq!(agent_slug("../etc").as_deref(), Some("etc"));
        assert_eq!(agent_slug("a..b").as_deref(), Some("a.b"));
        assert_eq!(agent_slug("x.lock").as_deref(), Some("x"));
        assert_eq!(agent_slug(" / ").as_deref(), None);
        assert_eq!(agent_branch("qa").as_deref(), Some("agentmux/qa"));
    }

    #[test]
    fn worktree_list_porcelain_is_parsed() {
        let text = "worktree /r\0HEAD abc\0branch refs/heads/main\0\0worktree /r/.git/x\0HEAD def\0detached\0\0worktree /gone\0HEAD 123\0branch refs/heads/agentmux/a\0prunable gitdir file points to non-existent location\0\0";
        let list = parse_worktree_list(text);
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].branch.as_deref(), Some("main"));
        assert_eq!(list[1].branch, None);
        assert_eq!(list[1].head.as_deref(), Some("def"));
        assert!(list[2].prunable);
        assert!(!list[0].prunable);
    }

    #[test]
    fn base_label_names_a_branch_or_a_short_commit() {
        let c = "0123456789abcdef0123456789abcdef01234567".to_string();
        let on_branch = Base { reference: "main".into(), commit: c.clone() };
        let detached = Base { reference: c.clone(), commit: c };
        assert_eq!(on_branch.label(), "main");
        assert_eq!(detached.label(), "0123456");
    }
}
