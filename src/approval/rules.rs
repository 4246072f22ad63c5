//! "Allow always" rules in the CLI's `--allowedTools` syntax, made from a request the user
//! allowed, and matched against later requests so they are answered without asking again.
//!
//! Matching is deliberately narrower than the CLI's: a rule answers only requests it plainly
//! covers (one simple Bash command with the rule's prefix, the same tool, the same web domain).
//! Anything else is asked; the CLI applies the rule itself on later turns, where it is passed
//! with `--allowedTools`.

use serde_json::Value;

/// Commands whose first argument names what they do (`npm test`, `git commit`), so a rule
/// covers the pair rather than every use of the program.
const TWO_WORD_PROGRAMS: &[&str] = &[
    "npm", "npx", "pnpm", "yarn", "bun", "cargo", "git", "go", "make", "docker", "kubectl", "pip",
    "pip3", "poetry", "uv", "gradle", "mvn", "dotnet", "rustup", "gh", "agentmux", "deno",
];

/// The rule "allow always" adds for this call.
pub fn suggest(tool_name: &str, input: &Value) -> String {
    match tool_name {
        "Bash" => match input.get("command").and_then(Value::as_str).and_then(command_prefix) {
            Some(prefix) => format!("Bash({prefix}:*)"),
            None => "Bash".to_string(),
        },
        "WebFetch" => match input.get("url").and_then(Value::as_str).and_then(url_host) {
            Some(host) => format!("WebFetch(domain:{host})"),
            None => "WebFetch".to_string(),
        },
        other => other.to_string(),
    }
}

/// The first word(s) of a command: the program, and its subcommand for programs that have them.
pub fn command_prefix(command: &str) -> Option<String> {
    let first = command.split(['\n', ';', '|', '&']).next()?.trim();
    let mut words = first.split_whitespace().skip_while(|w| is_assignment(w));
    let program = words.next()?;
    if !program.chars().all(|c| c.is_ascii_alphanumeric() || "._-/+".contains(c)) {
        return None;
    }
    let base = program.rsplit('/').next().unwrap_or(program);
    match words.next() {
        Some(sub)
            if TWO_WORD_PROGRAMS.contains(&base)
                && sub.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
                && !sub.starts_with('-') =>
        {
            Some(format!("{program} {sub}"))
        }
        _ => Some(program.to_string()),
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The host of an http(s) URL.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Shell syntax that can run more than one command or redirect: a prefix rule never covers it.
fn is_compound(command: &str) -> bool {
    ["&&", "||", ";", "|", "`", "$(", ">", "<", "\n", "&"].iter().any(|op| command.contains(op))
}

/// Whether `rule` plainly covers this call.
pub fn covers(rule: &str, tool_name: &str, input: &Value) -> bool {
    let (tool, spec) = match rule.split_once('(') {
        Some((t, rest)) => match rest.strip_suffix(')') {
            Some(spec) => (t, Some(spec)),
            None => return false,
        },
        None => (rule, None),
    };
    if tool != tool_name {
        return false;
    }
    let Some(spec) = spec else { return true };
    match tool {
        "Bash" => {
            let Some(command) = input.get("command").and_then(Value::as_str) else {
                return false;
            };
            let command = command.trim();
            if is_compound(command) {
                return false;
            }
            match spec.strip_suffix(":*") {
                Some(prefix) => {
                    command == prefix
                        || command.strip_prefix(prefix).is_some_and(|r| r.starts_with(' '))
                }
                None => command == spec,
            }
        }
        "WebFetch" => match (spec.strip_prefix("domain:"), input.get("url")) {
            (Some(domain), Some(Value::String(url))) => {
                url_host(url).is_some_and(|h| h.eq_ignore_ascii_case(domain))
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bash(c: &str) -> Value {
        json!({ "command": c })
    }

    #[test]
    fn suggested_rules() {
        assert_eq!(suggest("Bash", &bash("npm test -- --watch")), "Bash(npm test:*)");
        assert_eq!(suggest("Bash", &bash("touch made.txt")), "Bash(touch:*)");
        assert_eq!(
            suggest("Bash", &bash("RUST_LOG=1 cargo build --release")),
            "Bash(cargo build:*)"
        );
        assert_eq!(suggest("Bash", &bash("git -C x log")), "Bash(git:*)");
        assert_eq!(suggest("Bash", &bash("make && rm -rf /")), "Bash(make:*)");
        assert_eq!(suggest("Bash", &bash("$(evil)")), "Bash");
        assert_eq!(suggest("Bash", &json!({})), "Bash");
        assert_eq!(suggest("Write", &json!({"file_path": "/a"})), "Write");
        assert_eq!(
            suggest("WebFetch", &json!({"url": "https://Docs.rs:443/x?y"})),
            "WebFetch(domain:docs.rs)"
        );
        assert_eq!(suggest("mcp__db__query", &json!({})), "mcp__db__query");
    }

    #[test]
    fn rules_cover_only_what_they_plainly_say() {
        let r = "Bash(npm test:*)";
        assert!(covers(r, "Bash", &bash("npm test")));
        assert!(covers(r, "Bash", &bash("npm test -- --watch")));
        assert!(!covers(r, "Bash", &bash("npm testing")));
        assert!(!covers(r, "Bash", &bash("npm test && rm -rf ~")));
        assert!(!covers(r, "Bash", &bash("npm test > /etc/passwd")));
        assert!(!covers(r, "Write", &bash("npm test")));
        assert!(covers("Bash(ls)", "Bash", &bash("ls")));
        assert!(!covers("Bash(ls)", "Bash", &bash("ls -la")));
        assert!(covers("Write", "Write", &json!({"file_path": "/x"})));
        assert!(!covers("Write(/src/**)", "Write", &json!({"file_path": "/src/x"})));
        assert!(covers(
            "WebFetch(domain:docs.rs)",
            "WebFetch",
            &json!({"url": "https://docs.rs/a"})
        ));
        assert!(!covers(
            "WebFetch(domain:docs.rs)",
            "WebFetch",
            &json!({"url": "https://evil.rs/"})
        ));
        assert!(!covers("Bash(broken", "Bash", &bash("broken")));
    }
}
