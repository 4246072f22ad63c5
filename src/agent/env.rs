//! The environment of an agent's process.
//!
//! The parent's environment is passed on (PATH, HOME, TERM, locale, ...), except the API keys
//! under subscription billing: running claude in a PTY is about being billed to the user's
//! subscription, and an inherited `ANTHROPIC_API_KEY` would silently switch to per-token billing.
//! Nor are the variables a Claude Code session sets for its own children (see
//! [`PARENT_SESSION_VARS`]), for an agentmux started from inside one. Then the agent's own variables (some names refused: they change what code runs), then the
//! app's.

use std::collections::BTreeMap;

use crate::agent::spec::Billing;

/// Variables that select per-token billing; not inherited under `Billing::Subscription`.
pub const API_KEY_VARS: &[&str] = &["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"];

/// Variables a Claude Code session sets for the processes it starts (its Bash tool, hooks, MCP
/// servers; read from the bundle of CLI 2.1.197), so not inherited: an agentmux started from
/// inside a session has them, and a claude that sees them takes itself for a child of that
/// session (`CLAUDE_CODE_ENTRYPOINT` stays the parent's `cli` where `-p` alone makes
/// `sdk-cli`; the session id and `CLAUDE_CODE_CHILD_SESSION` are the parent's). Only these:
/// settings the user exported (`CLAUDE_CODE_USE_BEDROCK`, `CLAUDE_CODE_DISABLE_...`) pass on,
/// and an agent's own `env` may still set any of them.
pub const PARENT_SESSION_VARS: &[&str] = &[
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDE_CODE_CHILD_SESSION",
    "CLAUDE_CODE_EXECPATH",
    "CLAUDE_PROJECT_DIR",
    "CLAUDE_EFFORT",
];

/// Variables an agent's configuration may not set, with why: each makes a program that the
/// agent starts (the CLI, its shell, node, git, an interpreter) load or run other code. Exact
/// names, then prefixes ([`FORBIDDEN_PREFIXES`]).
pub const FORBIDDEN_VARS: &[(&str, &str)] = &[
    ("NODE_OPTIONS", NODE),
    ("NODE_PATH", NODE),
    ("BASH_ENV", SHELL),
    ("ENV", SHELL),
    ("ZDOTDIR", SHELL),
    ("PROMPT_COMMAND", SHELL),
    ("SHELLOPTS", SHELL),
    ("BASHOPTS", SHELL),
    ("PS4", SHELL),
    ("IFS", SHELL),
    ("GCONV_PATH", LIBS),
    ("PYTHONPATH", INTERPRETER),
    ("PYTHONSTARTUP", INTERPRETER),
    ("PYTHONHOME", INTERPRETER),
    ("PERL5LIB", INTERPRETER),
    ("PERL5OPT", INTERPRETER),
    ("PERLLIB", INTERPRETER),
    ("RUBYOPT", INTERPRETER),
    ("RUBYLIB", INTERPRETER),
    ("GIT_SSH", GIT),
    ("GIT_SSH_COMMAND", GIT),
    ("GIT_EXEC_PATH", GIT),
    ("GIT_ASKPASS", GIT),
    ("GIT_EXTERNAL_DIFF", GIT),
];

/// Prefixes of forbidden names: the dynamic loader's (`LD_PRELOAD`, `LD_AUDIT`, ...), macOS's,
/// bash's exported functions, and git's config-by-environment (which can set hooks and helpers).
pub const FORBIDDEN_PREFIXES: &[(&str, &str)] =
    &[("LD_", LIBS), ("DYLD_", LIBS), ("BASH_FUNC_", SHELL), ("GIT_CONFIG", GIT)];

const NODE: &str = "it changes how the claude CLI itself runs";
const SHELL: &str = "it makes the agent's shell run other code";
const LIBS: &str = "it changes which libraries the agent loads";
const INTERPRETER: &str = "it makes an interpreter the agent runs load other code";
const GIT: &str = "it makes git run other programs";

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("env sets {0}, which agentmux does not pass to agents (it could change what runs)")]
    Forbidden(String),
    #[error(
        "env sets {0} while billing is \"subscription\"; set billing = \"api\" to pay per token"
    )]
    KeyWithSubscription(String),
    #[error("env variable {0:?} has an invalid name or value (empty, '=' or NUL in the name, NUL in the value)")]
    Invalid(String),
}

/// Why an agent's configuration may not set `name`, or `None` when it may.
pub fn forbidden_reason(name: &str) -> Option<&'static str> {
    let exact = FORBIDDEN_VARS.iter().find(|(n, _)| *n == name);
    let prefix = || FORBIDDEN_PREFIXES.iter().find(|(p, _)| name.starts_with(p));
    exact.or_else(prefix).map(|(_, why)| *why)
}

/// Whether an agent's configuration may not set `name`.
pub fn is_forbidden(name: &str) -> bool {
    forbidden_reason(name).is_some()
}

/// Checks an agent's own variables (also useful when a team file is loaded, to fail early).
pub fn check_spec_env(
    spec_env: Option<&BTreeMap<String, String>>,
    billing: Billing,
) -> Result<(), EnvError> {
    for (k, v) in spec_env.into_iter().flatten() {
        check_name_value(k, v)?;
        if is_forbidden(k) {
            return Err(EnvError::Forbidden(k.clone()));
        }
        if billing == Billing::Subscription && API_KEY_VARS.contains(&k.as_str()) {
            return Err(EnvError::KeyWithSubscription(k.clone()));
        }
    }
    Ok(())
}

fn check_name_value(k: &str, v: &str) -> Result<(), EnvError> {
    if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
        return Err(EnvError::Invalid(k.to_owned()));
    }
    Ok(())
}

/// The child's whole environment, in order of precedence: the parent's (less the API keys
/// under subscription billing and a parent Claude Code session's variables), the agent's own,
/// then the app's `extra`.
pub fn child_env(
    parent: impl IntoIterator<Item = (String, String)>,
    spec_env: Option<&BTreeMap<String, String>>,
    billing: Billing,
    extra: &[(String, String)],
) -> Result<BTreeMap<String, String>, EnvError> {
    check_spec_env(spec_env, billing)?;
    let mut env: BTreeMap<String, String> = parent
        .into_iter()
        .filter(|(k, _)| billing == Billing::Api || !API_KEY_VARS.contains(&k.as_str()))
        .filter(|(k, _)| !PARENT_SESSION_VARS.contains(&k.as_str()))
        .collect();
    // The CLI behaves better with a terminal type; a parent without one (a service) gets a
    // plain one.
    env.entry("TERM".into()).or_insert_with(|| "xterm-256color".into());
    for (k, v) in spec_env.into_iter().flatten() {
        env.insert(k.clone(), v.clone());
    }
    for (k, v) in extra {
        check_name_value(k, v)?;
        env.insert(k.clone(), v.clone());
    }
    Ok(env)
}

/// The API key variables `parent` sets (to a value), in [`API_KEY_VARS`]' order.
pub fn api_keys_set(parent: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let set: Vec<String> =
        parent.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| k).collect();
    API_KEY_VARS.iter().filter(|k| set.iter().any(|s| s == *k)).map(|k| k.to_string()).collect()
}

/// The parent process's environment, skipping variables that are not valid UTF-8.
pub fn parent_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(String, String)> {
        [
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("ANTHROPIC_API_KEY", "sk-secret"),
            ("ANTHROPIC_AUTH_TOKEN", "tok"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    #[test]
    fn subscription_drops_the_api_keys_and_keeps_the_rest() {
        let env = child_env(parent(), None, Billing::Subscription, &[]).unwrap();
        assert!(!env.contains_key("ANTHROPIC_API_KEY"));
        assert!(!env.contains_key("ANTHROPIC_AUTH_TOKEN"));
        assert_eq!(env["PATH"], "/usr/bin");
        assert_eq!(env["HOME"], "/root");
        assert_eq!(env["ANTHROPIC_BASE_URL"], "http://127.0.0.1:1");
        assert_eq!(env["TERM"], "xterm-256color");
    }

    #[test]
    fn a_parent_claude_code_sessions_variables_stay_behind_and_user_settings_pass() {
        // What CLI 2.1.197 gives its Bash tool, and what a user may have exported.
        let mut from_session = parent();
        from_session.extend(
            [
                ("CLAUDECODE", "1"),
                ("CLAUDE_CODE_ENTRYPOINT", "cli"),
                ("CLAUDE_CODE_SESSION_ID", "6f1c2d9e-0000-4000-8000-000000000001"),
                ("CLAUDE_CODE_CHILD_SESSION", "1"),
                ("CLAUDE_CODE_EXECPATH", "/usr/local/bin/claude"),
                ("CLAUDE_PROJECT_DIR", "/home/u/elsewhere"),
                ("CLAUDE_EFFORT", "high"),
                ("CLAUDE_CODE_USE_BEDROCK", "1"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                ("CLAUDE_CODE_MAX_OUTPUT_TOKENS", "8000"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let env = child_env(from_session, None, Billing::Subscription, &[]).unwrap();
        for name in PARENT_SESSION_VARS {
            assert!(!env.contains_key(*name), "{name} was inherited");
        }
        assert_eq!(env["CLAUDE_CODE_USE_BEDROCK"], "1");
        assert_eq!(env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"], "1");
        assert_eq!(env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"], "8000");
        assert_eq!(env["PATH"], "/usr/bin");
        // An agent that asks for one gets it.
        let spec = BTreeMap::from([("CLAUDE_CODE_ENTRYPOINT".to_owned(), "mine".to_owned())]);
        let env = child_env(parent(), Some(&spec), Billing::Subscription, &[]).unwrap();
        assert_eq!(env["CLAUDE_CODE_ENTRYPOINT"], "mine");
    }

    #[test]
    fn api_billing_passes_the_keys() {
        let env = child_env(parent(), None, Billing::Api, &[]).unwrap();
        assert_eq!(env["ANTHROPIC_API_KEY"], "sk-secret");
        assert_eq!(env["ANTHROPIC_AUTH_TOKEN"], "tok");
    }

    #[test]
    fn the_api_keys_set_are_named_in_order_and_empty_ones_are_not() {
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Vars, &[&str]); 4] = [
            (&[("PATH", "/bin")], &[]),
            (&[("ANTHROPIC_API_KEY", "")], &[]),
            (&[("ANTHROPIC_AUTH_TOKEN", "t"), ("ANTHROPIC_API_KEY", "k")], API_KEY_VARS),
            (&[("ANTHROPIC_AUTH_TOKEN", "t")], &["ANTHROPIC_AUTH_TOKEN"]),
        ];
        for (parent, want) in cases {
            let parent = parent.iter().map(|(k, v)| (k.to_string(), v.to_string()));
            assert_eq!(api_keys_set(parent), want.to_vec());
        }
    }

    #[test]
    fn spec_env_then_extra_env_override_the_parent() {
        let spec = BTreeMap::from([("HOME".to_owned(), "/spec".to_owned())]);
        let extra = [("AGENTMUX_AGENT".to_owned(), "a".to_owned())];
        let env = child_env(parent(), Some(&spec), Billing::Subscription, &extra).unwrap();
        assert_eq!(env["HOME"], "/spec");
        assert_eq!(env["AGENTMUX_AGENT"], "a");
        let extra = [("HOME".to_owned(), "/extra".to_owned())];
        let env = child_env(parent(), Some(&spec), Billing::Subscription, &extra).unwrap();
        assert_eq!(env["HOME"], "/extra");
    }

    #[test]
    fn forbidden_names_are_a_clear_error() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "NODE_OPTIONS",
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_ls%%",
            "PROMPT_COMMAND",
            "PYTHONPATH",
            "GIT_SSH_COMMAND",
            "GIT_CONFIG_COUNT",
        ] {
            let spec = BTreeMap::from([(name.to_owned(), "x".to_owned())]);
            let err = child_env(parent(), Some(&spec), Billing::Api, &[]).unwrap_err();
            assert!(matches!(&err, EnvError::Forbidden(n) if n == name));
            assert!(err.to_string().contains(name), "{err}");
        }
        // Look-alikes are fine.
        for fine in ["ENVIRONMENT", "MY_ENV", "RUST_LOG", "GIT_AUTHOR_NAME", "NODE_ENV", "PATH"] {
            let spec = BTreeMap::from([(fine.to_owned(), "x".to_owned())]);
            assert!(child_env(parent(), Some(&spec), Billing::Api, &[]).is_ok(), "{fine}");
        }
    }

    #[test]
    fn an_api_key_in_spec_env_under_subscription_is_an_error() {
        let spec = BTreeMap::from([("ANTHROPIC_API_KEY".to_owned(), "k".to_owned())]);
        let err = child_env(parent(), Some(&spec), Billing::Subscription, &[]).unwrap_err();
        assert!(err.to_string().contains("billing"), "{err}");
        let env = child_env(parent(), Some(&spec), Billing::Api, &[]).unwrap();
        assert_eq!(env["ANTHROPIC_API_KEY"], "k");
    }

    #[test]
    fn invalid_names_are_refused() {
        let spec = BTreeMap::from([("A=B".to_owned(), "x".to_owned())]);
        assert!(matches!(
            child_env(parent(), Some(&spec), Billing::Api, &[]),
            Err(EnvError::Invalid(_))
        ));
        let extra = [("X".to_owned(), "a\0b".to_owned())];
        assert!(child_env(parent(), None, Billing::Api, &extra).is_err());
    }
}
