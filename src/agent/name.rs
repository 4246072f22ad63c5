//! The one rule for agent names, wherever a name comes from (a team file, `agentmux new`, the
//! new-agent form, an import or a fork).
//!
//! A name becomes a directory, a git branch (`agentmux/<name>`), a log file and a socket
//! argument, so it is kept to what each of those takes as it is: a usable name is its own
//! worktree slug (see `worktree::agent_slug`), and two names that differ only in case are
//! one name (they would share a worktree and a log on a case-insensitive file system).

/// The longest agent name.
pub const MAX_LEN: usize = 64;

/// What is wrong with a name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name is needed")]
    Empty,
    #[error("it is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("{0:?} may not be in a name (letters, digits, '-', '_' and '.' may)")]
    Char(char),
    #[error("it must start with a letter, a digit or '_'")]
    Start,
    #[error("it must not end with '-' or '.'")]
    End,
    #[error("'-' and '.' may not follow one another (\"--\", \"..\", \".-\")")]
    Doubled,
    #[error("it must not end in \".lock\" (git refuses such branches)")]
    Lock,
}

/// The rule, said once for messages.
pub const RULE: &str = "1 to 64 letters, digits, '-', '_' or '.', starting with a letter, digit \
                        or '_'";

/// Whether `name` is a usable agent name, and if not, why.
pub fn check(name: &str) -> Result<(), NameError> {
    let separator = |c: char| c == '-' || c == '.';
    let Some(first) = name.chars().next() else { return Err(NameError::Empty) };
    if let Some(c) =
        name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || separator(*c)))
    {
        return Err(NameError::Char(c));
    }
    if name.len() > MAX_LEN {
        return Err(NameError::TooLong);
    }
    if separator(first) {
        return Err(NameError::Start);
    }
    if name.ends_with(separator) {
        return Err(NameError::End);
    }
    if name.as_bytes().windows(2).any(|w| separator(w[0] as char) && separator(w[1] as char)) {
        return Err(NameError::Doubled);
    }
    if name.to_ascii_lowercase().ends_with(".lock") {
        return Err(NameError::Lock);
    }
    Ok(())
}

/// Whether two names are one (they differ at most in case).
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_takes_names_that_are_their_own_slug() {
        let cases: &[(&str, Result<(), NameError>)] = &[
            ("backend", Ok(())),
            ("w-12", Ok(())),
            ("api_v2.1", Ok(())),
            ("_private", Ok(())),
            ("A", Ok(())),
            ("", Err(NameError::Empty)),
            ("x/y", Err(NameError::Char('/'))),
            ("x y", Err(NameError::Char(' '))),
            ("x\u{1b}", Err(NameError::Char('\u{1b}'))),
            ("café", Err(NameError::Char('é'))),
            (".hidden", Err(NameError::Start)),
            ("-x", Err(NameError::Start)),
            ("x-", Err(NameError::End)),
            ("x.", Err(NameError::End)),
            ("x--y", Err(NameError::Doubled)),
            ("x..y", Err(NameError::Doubled)),
            ("x.-y", Err(NameError::Doubled)),
            ("main.lock", Err(NameError::Lock)),
            ("main.LOCK", Err(NameError::Lock)),
        ];
        for (name, expected) in cases {
            assert_eq!(&check(name), expected, "{name:?}");
        }
        assert_eq!(check(&"a".repeat(MAX_LEN)), Ok(()));
        assert_eq!(check(&"a".repeat(MAX_LEN + 1)), Err(NameError::TooLong));
    }

    #[test]
    fn a_usable_name_is_its_own_worktree_slug() {
        for name in ["backend", "w-12", "api_v2.1", "_p", "Ab9"] {
            assert_eq!(crate::worktree::agent_slug(name).as_deref(), Some(name));
        }
    }

    #[test]
    fn names_that_differ_only_in_case_are_one() {
        assert!(same("Api", "api"));
        assert!(!same("api", "api-2"));
    }
}
