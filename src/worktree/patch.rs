//! The agent's diff, file by file with hunks, for the diff view.

use std::io::Read;
use std::path::Path;

use super::error::Result;
use super::git::Git;
use super::open::AgentWorktree;
use super::stats::{fork_point, untracked_files};

/// Which part of the agent's work a diff shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiffScope {
    /// From the base to the files on disk (committed and uncommitted together).
    #[default]
    All,
    /// From the base to the branch's last commit.
    Committed,
    /// From the last commit to the files on disk.
    Uncommitted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    Modified,
    Added,
    Deleted,
    Renamed {
        from: String,
    },
    /// A new file git does not track yet.
    Untracked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Context,
    Added,
    Removed,
    /// "\ No newline at end of file".
    NoNewline,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: LineKind,
    /// The line without its leading '+', '-' or ' '.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    /// "@@ -1,3 +1,4 @@ fn main()".
    pub header: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiff {
    pub path: String,
    pub status: FileStatus,
    pub added: u32,
    pub removed: u32,
    pub binary: bool,
    /// Lines beyond [`MAX_LINES_PER_FILE`] were left out.
    pub truncated: bool,
    pub hunks: Vec<Hunk>,
}

impl FileDiff {
    fn new(path: String) -> Self {
        FileDiff {
            path,
            status: FileStatus::Modified,
            added: 0,
            removed: 0,
            binary: false,
            truncated: false,
            hunks: Vec::new(),
        }
    }
}

/// A generated lock file can be huge; the view keeps this many lines of a file.
pub const MAX_LINES_PER_FILE: usize = 20_000;
/// Untracked files larger than this are listed without their content.
const MAX_UNTRACKED_BYTES: u64 = 512 * 1024;

/// Undoes git's C-style quoting of a path ("\"a\\tb\"" -> "a\tb"); other text is returned as is.
pub fn unquote_path(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut it = inner.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match it.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(b'r') => bytes.push(b'\r'),
            Some(b'a') => bytes.push(7),
            Some(b'b') => bytes.push(8),
            Some(b'f') => bytes.push(12),
            Some(b'v') => bytes.push(11),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    match it.peek() {
                        Some(n @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(n - b'0');
                            it.next();
                        }
                        _ => break,
                    }
                }
                bytes.push(v as u8);
            }
            Some(other) => bytes.push(other),
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A path from a "--- a/x" or "+++ b/x" line: unquoted, prefix dropped; `None` for /dev/null.
fn side_path(rest: &str) -> Option<String> {
    // git ends the name with a tab when it contains a space.
    let rest = rest.strip_suffix('\t').unwrap_or(rest);
    let path = unquote_path(rest);
    if path == "/dev/null" {
        return None;
    }
    Some(path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(&path).to_string())
}

/// The path from "diff --git a/P b/P" when the file has no ---/+++ lines (binary, mode only).
fn header_path(rest: &str) -> String {
    if let Some(quoted) = rest.strip_prefix('"') {
        // Quoted names: take the second token ("a/.." "b/..").
        if let Some(end) = quoted.find("\" ") {
            return side_path(&quoted[end + 2..]).unwrap_or_default();
        }
    }
    // Unquoted "a/P b/P" with the same P on both sides: split in the middle.
    let n = rest.len();
    if n % 2 == 1 {
        let (a, b) = (&rest[..n / 2], &rest[n / 2 + 1..]);
        if a.get(2..) == b.get(2..) {
            return b.strip_prefix("b/").unwrap_or(b).to_string();
        }
    }
    rest.rsplit(" b/").next().unwrap_or(rest).to_string()
}

/// Parses `git diff` output (a unified diff with a/ and b/ prefixes).
pub fn parse_diff(text: &str) -> Vec<FileDiff> {
    let mut files: Vec<FileDiff> = Vec::new();
    let mut in_hunk = false;
    let mut lines_kept = 0usize;
    for line in text.split('\n') {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            files.push(FileDiff::new(header_path(rest)));
            in_hunk = false;
            lines_kept = 0;
            continue;
        }
        let Some(file) = files.last_mut() else {
            continue;
        };
        if line.starts_with("@@") {
            in_hunk = true;
            lines_kept += 1;
            if lines_kept > MAX_LINES_PER_FILE {
                file.truncated = true;
                continue;
            }
            file.hunks.push(Hunk { header: line.to_string(), lines: Vec::new() });
            continue;
        }
        if in_hunk {
            let (kind, body) = match line.as_bytes().first() {
                Some(b'+') => (LineKind::Added, &line[1..]),
                Some(b'-') => (LineKind::Removed, &line[1..]),
                Some(b' ') => (LineKind::Context, &line[1..]),
                Some(b'\\') => (LineKind::NoNewline, line),
                // The empty string after the final newline, or the next file's header.
                _ => continue,
            };
            match kind {
                LineKind::Added => file.added += 1,
                LineKind::Removed => file.removed += 1,
                _ => {}
            }
            lines_kept += 1;
            if lines_kept > MAX_LINES_PER_FILE {
                file.truncated = true;
                continue;
            }
            if let Some(hunk) = file.hunks.last_mut() {
                hunk.lines.push(DiffLine { kind, text: body.to_string() });
            }
            continue;
        }
        if line.starts_with("new file mode") {
            file.status = FileStatus::Added;
        } else if line.starts_with("deleted file mode") {
            file.status = FileStatus::Deleted;
        } else if let Some(from) = line.strip_prefix("rename from ") {
            file.status = FileStatus::Renamed { from: unquote_path(from) };
        } else if let Some(to) = line.strip_prefix("rename to ") {
            file.path = unquote_path(to);
        } else if let Some(rest) = line.strip_prefix("--- ") {
            if let (Some(p), FileStatus::Deleted) = (side_path(rest), &file.status) {
                file.path = p;
            }
        } else if let Some(rest) = line.strip_prefix("+++ ") {
            if let Some(p) = side_path(rest) {
                file.path = p;
            }
        } else if line.starts_with("Binary files ") || line.starts_with("GIT binary patch") {
            file.binary = true;
        }
    }
    files
}

/// An untracked file shown as a new file: every line added.
fn untracked_diff(dir: &Path, rel: &str) -> FileDiff {
    let mut file = FileDiff::new(rel.to_string());
    file.status = FileStatus::Untracked;
    let mut bytes = Vec::new();
    let read = std::fs::File::open(dir.join(rel))
        .and_then(|f| f.take(MAX_UNTRACKED_BYTES + 1).read_to_end(&mut bytes));
    if read.is_err() {
        return file;
    }
    if bytes.contains(&0) {
        file.binary = true;
        return file;
    }
    if bytes.len() as u64 > MAX_UNTRACKED_BYTES {
        file.truncated = true;
        return file;
    }
    let text = String::from_utf8_lossy(&bytes);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() {
        return file;
    }
    let mut lines: Vec<DiffLine> = body
        .split('\n')
        .take(MAX_LINES_PER_FILE)
        .map(|l| DiffLine { kind: LineKind::Added, text: l.to_string() })
        .collect();
    file.truncated = body.split('\n').count() > MAX_LINES_PER_FILE;
    file.added = body.split('\n').count() as u32;
    let count = lines.len();
    if !text.ends_with('\n') {
        lines.push(DiffLine {
            kind: LineKind::NoNewline,
            text: "\\ No newline at end of file".into(),
        });
    }
    file.hunks.push(Hunk { header: format!("@@ -0,0 +1,{count} @@"), lines });
    file
}

impl AgentWorktree {
    /// The agent's diff, file by file. Untracked files appear as new files (scopes `All` and
    /// `Uncommitted`). Blocking: call it off the UI thread.
    pub fn diff(&self, git: &Git, scope: DiffScope) -> Result<Vec<FileDiff>> {
        let dir = &self.path;
        let fork = fork_point(git, dir, &self.base)?;
        let mut args = vec![
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--src-prefix=a/",
            "--dst-prefix=b/",
        ];
        match scope {
            DiffScope::All => args.push(&fork),
            DiffScope::Committed => args.extend([fork.as_str(), "HEAD"]),
            DiffScope::Uncommitted => args.push("HEAD"),
        }
        args.push("--");
        let out = git.run(dir, &args)?;
        let mut files = parse_diff(&String::from_utf8_lossy(&out));
        if scope != DiffScope::Committed {
            for rel in untracked_files(git, dir)? {
                files.push(untracked_diff(dir, &rel));
            }
            files.sort_by(|a, b| a.path.cmp(&b.path));
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,4 @@ mod a;
 fn a() {}
-fn b() {}
+fn b() { 1 }
+fn c() {}
 fn d() {}
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 3333333..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
\\ No newline at end of file
diff --git a/logo.png b/logo.png
index 4444444..5555555 100644
Binary files a/logo.png and b/logo.png differ
diff --git a/old name.txt b/new name.txt
similarity index 90%
rename from old name.txt
rename to new name.txt
diff --git \"a/tab\\there\" \"b/tab\\there\"
new file mode 100644
--- /dev/null
+++ \"b/tab\\there\"
@@ -0,0 +1 @@
+x
";

    #[test]
    fn unified_diff_is_parsed_file_by_file() {
        let files = parse_diff(SAMPLE);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["src/lib.rs", "gone.txt", "logo.png", "new name.txt", "tab\there"]);
        assert_eq!((files[0].added, files[0].removed), (2, 1));
        assert_eq!(files[0].hunks.len(), 1);
        assert_eq!(files[0].hunks[0].header, "@@ -1,3 +1,4 @@ mod a;");
        assert_eq!(files[0].hunks[0].lines.len(), 5);
        assert_eq!(files[0].hunks[0].lines[1].kind, LineKind::Removed);
        assert_eq!(files[0].hunks[0].lines[1].text, "fn b() {}");
        assert_eq!(files[1].status, FileStatus::Deleted);
        assert_eq!(files[1].hunks[0].lines[1].kind, LineKind::NoNewline);
        assert!(files[2].binary);
        assert_eq!(files[3].status, FileStatus::Renamed { from: "old name.txt".into() });
        assert_eq!(files[4].status, FileStatus::Added);
    }

    #[test]
    fn quoted_paths_are_unquoted() {
        assert_eq!(unquote_path("\"a\\\"b\\\\c\""), "a\"b\\c");
        assert_eq!(unquote_path("\"caf\\303\\251\""), "café");
        assert_eq!(unquote_path("plain"), "plain");
        assert_eq!(header_path("a/x y b/x y"), "x y");
    }
}
