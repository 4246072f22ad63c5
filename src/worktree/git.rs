//! Running the user's `git`: argv only (never a shell), `git -C DIR ...`, output captured.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::error::{Result, WorktreeError};

/// Variables that would point git at another repository than the one we name with `-C`
/// (set, for example, when agentmux is started from a git hook).
const REPOSITORY_OVERRIDES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
];

/// How to run git. `Git::default()` runs `git` from PATH.
#[derive(Clone, Debug)]
pub struct Git {
    program: OsString,
    env: Vec<(OsString, OsString)>,
}

impl Default for Git {
    fn default() -> Self {
        Git { program: OsString::from("git"), env: Vec::new() }
    }
}

impl Git {
    pub fn with_program(program: impl Into<OsString>) -> Self {
        Git { program: program.into(), env: Vec::new() }
    }

    /// An extra environment variable for every git run (tests use it to ignore the
    /// machine's global config).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `git --version`, e.g. "git version 2.47.3": a cheap check that git can be run at all.
    pub fn version(&self) -> Result<String> {
        let out = self.command(None).arg("--version").output();
        let out = out.map_err(|source| self.not_runnable(source))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn not_runnable(&self, source: std::io::Error) -> WorktreeError {
        WorktreeError::GitNotRunnable {
            program: self.program.to_string_lossy().into_owned(),
            source,
        }
    }

    fn command(&self, dir: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.program);
        for key in REPOSITORY_OVERRIDES {
            cmd.env_remove(key);
        }
        // Never wait on a password prompt, and never take the index lock just to refresh
        // stat data while an agent may be running git in the same worktree.
        cmd.env("GIT_TERMINAL_PROMPT", "0");
        cmd.env("GIT_OPTIONAL_LOCKS", "0");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = dir {
            cmd.arg("-C").arg(dir);
        }
        // Output we parse must not depend on the user's colour, quoting or pager settings.
        cmd.args(["-c", "color.ui=false", "-c", "core.quotepath=false"]);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs git and returns its raw output, whatever the exit status.
    pub(crate) fn raw<S: AsRef<OsStr>>(&self, dir: &Path, args: &[S]) -> Result<Output> {
        let mut cmd = self.command(Some(dir));
        cmd.args(args);
        cmd.output().map_err(|source| self.not_runnable(source))
    }

    /// Runs git and returns stdout; a non-zero exit is a [`WorktreeError::Git`].
    pub(crate) fn run<S: AsRef<OsStr>>(&self, dir: &Path, args: &[S]) -> Result<Vec<u8>> {
        let out = self.raw(dir, args)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(failure(dir, args, &out))
        }
    }

    /// Like [`Git::run`], as text with the trailing newline removed.
    pub(crate) fn text<S: AsRef<OsStr>>(&self, dir: &Path, args: &[S]) -> Result<String> {
        let out = self.run(dir, args)?;
        let text = String::from_utf8(out).map_err(|_| WorktreeError::Unreadable {
            what: format!("non-UTF-8 output for `git {}`", join_args(args)),
        })?;
        Ok(text.trim_end_matches(['\n', '\r']).to_string())
    }

    /// Runs git; `Ok(None)` when it exits non-zero (for questions such as "does this ref exist").
    pub(crate) fn probe<S: AsRef<OsStr>>(&self, dir: &Path, args: &[S]) -> Result<Option<String>> {
        let out = self.raw(dir, args)?;
        if !out.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
    }
}

pub(crate) fn failure<S: AsRef<OsStr>>(dir: &Path, args: &[S], out: &Output) -> WorktreeError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut detail = last_lines(&stderr, 4);
    if detail.is_empty() {
        detail = match out.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
    }
    WorktreeError::Git { args: join_args(args), dir: dir.to_path_buf(), stderr: detail }
}

/// The last `n` non-empty lines of a command's output, joined by "; ".
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("; ")
}

pub(crate) fn join_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}
