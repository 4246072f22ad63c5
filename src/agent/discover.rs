//! Finding the claude CLI: an explicit path wins (the `--claude` flag, `AGENTMUX_CLAUDE` or the
//! config: the caller picks), then `PATH`, then the places the installers use.
//!
//! [`find_claude_with`] is a pure function over what it is told (PATH, HOME, and a test for
//! "is an executable file"), so tests need no real files; [`find_claude`] asks the real system.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(
        "{} is not an executable file (given by --claude, AGENTMUX_CLAUDE or the config)",
        .0.display()
    )]
    ExplicitMissing(PathBuf),
    #[error("{}", not_found_message(.looked))]
    NotFound { looked: Vec<PathBuf> },
}

fn not_found_message(looked: &[PathBuf]) -> String {
    let mut s = String::from("could not find the claude CLI. Looked at:\n");
    for p in looked {
        s.push_str("  ");
        s.push_str(&p.display().to_string());
        s.push('\n');
    }
    s.push_str(
        "Install it with `npm install -g @anthropic-ai/claude-code`, or point to it with \
         `--claude PATH` or the AGENTMUX_CLAUDE environment variable.",
    );
    s
}

/// The usual install places, relative to the home directory or absolute.
const HOME_PLACES: &[&str] =
    &[".claude/local/claude", ".local/bin/claude", ".npm-global/bin/claude"];
const ABSOLUTE_PLACES: &[&str] = &["/usr/local/bin/claude", "/opt/homebrew/bin/claude"];

/// Finds claude given an explicit path, the `PATH` value, the home directory and a test.
/// An explicit bare name (no `/`) is looked up in `PATH`.
pub fn find_claude_with(
    explicit: Option<&Path>,
    path_var: Option<&OsStr>,
    home: Option<&Path>,
    is_executable: impl Fn(&Path) -> bool,
) -> Result<PathBuf, DiscoverError> {
    let dirs: Vec<PathBuf> =
        path_var.map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
    if let Some(explicit) = explicit {
        if explicit.components().count() == 1 && !explicit.is_absolute() {
            if let Some(found) = dirs.iter().map(|d| d.join(explicit)).find(|p| is_executable(p)) {
                return Ok(found);
            }
        } else if is_executable(explicit) {
            return Ok(explicit.to_path_buf());
        }
        return Err(DiscoverError::ExplicitMissing(explicit.to_path_buf()));
    }
    let mut looked = Vec::new();
    // Empty PATH entries mean the current directory; we never run claude from there.
    for d in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
        looked.push(d.join("claude"));
    }
    if let Some(home) = home {
        looked.extend(HOME_PLACES.iter().map(|p| home.join(p)));
    }
    looked.extend(ABSOLUTE_PLACES.iter().map(PathBuf::from));
    looked.dedup();
    match looked.iter().find(|p| is_executable(p)) {
        Some(p) => Ok(p.clone()),
        None => Err(DiscoverError::NotFound { looked }),
    }
}

/// Finds claude on this system.
pub fn find_claude(explicit: Option<&Path>) -> Result<PathBuf, DiscoverError> {
    let path_var = std::env::var_os("PATH");
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    find_claude_with(explicit, path_var.as_deref(), home.as_deref(), is_executable_file)
}

/// A regular file (or a link to one) with an execute bit.
pub fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn exists(paths: &[&str]) -> impl Fn(&Path) -> bool {
        let set: HashSet<PathBuf> = paths.iter().map(PathBuf::from).collect();
        move |p: &Path| set.contains(p)
    }

    #[test]
    fn an_explicit_path_wins_over_path() {
        let found = find_claude_with(
            Some(Path::new("/opt/my/claude")),
            Some(OsStr::new("/usr/bin")),
            Some(Path::new("/home/u")),
            exists(&["/opt/my/claude", "/usr/bin/claude"]),
        );
        assert_eq!(found.unwrap(), PathBuf::from("/opt/my/claude"));
    }

    #[test]
    fn a_missing_explicit_path_is_an_error_not_a_fallback() {
        let err = find_claude_with(
            Some(Path::new("/nope/claude")),
            Some(OsStr::new("/usr/bin")),
            None,
            exists(&["/usr/bin/claude"]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nope/claude"), "{err}");
    }

    #[test]
    fn an_explicit_bare_name_is_looked_up_in_path() {
        let found = find_claude_with(
            Some(Path::new("claude-beta")),
            Some(OsStr::new("/a:/b")),
            None,
            exists(&["/b/claude-beta"]),
        );
        assert_eq!(found.unwrap(), PathBuf::from("/b/claude-beta"));
    }

    #[test]
    fn path_in_order_then_home_places_then_system_places() {
        let path = OsStr::new("/a:/b");
        let home = Some(Path::new("/home/u"));
        let f = |present: &[&str]| find_claude_with(None, Some(path), home, exists(present));
        assert_eq!(f(&["/b/claude", "/a/claude"]).unwrap(), PathBuf::from("/a/claude"));
        assert_eq!(
            f(&["/home/u/.local/bin/claude", "/home/u/.claude/local/claude"]).unwrap(),
            PathBuf::from("/home/u/.claude/local/claude")
        );
        assert_eq!(
            f(&["/home/u/.npm-global/bin/claude", "/usr/local/bin/claude"]).unwrap(),
            PathBuf::from("/home/u/.npm-global/bin/claude")
        );
        assert_eq!(
            f(&["/opt/homebrew/bin/claude"]).unwrap(),
            PathBuf::from("/opt/homebrew/bin/claude")
        );
    }

    #[test]
    fn not_found_lists_every_place_and_says_how_to_fix_it() {
        let err = find_claude_with(
            None,
            Some(OsStr::new("/a::/b")),
            Some(Path::new("/home/u")),
            exists(&[]),
        )
        .unwrap_err();
        let DiscoverError::NotFound { looked } = &err else { panic!("{err}") };
        assert_eq!(
            looked,
            &[
                "/a/claude",
                "/b/claude",
                "/home/u/.claude/local/claude",
                "/home/u/.local/bin/claude",
                "/home/u/.npm-global/bin/claude",
                "/usr/local/bin/claude",
                "/opt/homebrew/bin/claude"
            ]
            .map(PathBuf::from)
        );
        let msg = err.to_string();
        for p in looked {
            assert!(msg.contains(&p.display().to_string()), "{msg}");
        }
        assert!(msg.contains("npm install -g @anthropic-ai/claude-code"), "{msg}");
        assert!(msg.contains("--claude PATH") && msg.contains("AGENTMUX_CLAUDE"), "{msg}");
    }

    #[test]
    fn no_path_and_no_home_still_checks_the_system_places() {
        let err = find_claude_with(None, None, None, exists(&[])).unwrap_err();
        let DiscoverError::NotFound { looked } = err else { panic!() };
        assert_eq!(looked, ABSOLUTE_PLACES.iter().map(PathBuf::from).collect::<Vec<_>>());
    }

    #[test]
    fn the_real_check_wants_an_executable_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("claude");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        assert!(!is_executable_file(&f));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(is_executable_file(&f));
        assert!(!is_executable_file(dir.path()));
        assert_eq!(find_claude(Some(&f)).unwrap(), f);
    }
}
