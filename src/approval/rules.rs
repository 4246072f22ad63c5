//! "Allow always" rules in the CLI's `--allowedTools` syntax, made from a request the user
//! allowed, and matched against later requests so they are answered without asking again.
//!
//! Matching is deliberately narrower than the CLI's: a rule answers only requests it plainly
//! covers (one simple Bash command with the rule's prefix, the same tool, the same web domain,
//! the same file). Anything else is asked; the CLI applies the rule itself on later turns, where
//! it is passed with `--allowedTools`.
//!
//! File rules follow the CLI 2.1.197 (checked against the real CLI in `tests/approval.rs`): the
//! content of `Edit(...)` / `Read(...)` is a gitignore pattern, and `//` starts an absolute path,
//! so `Edit(//home/me/app/src/lib.rs)` is that one file. Write, MultiEdit and NotebookEdit are
//! checked against `Edit(...)` rules (`Write(//path)` is ignored by the CLI: the call is still
//! asked), so a rule made from any of them is an `Edit` rule.

use serde_json::Value;

/// Commands whose first argument names what they do (`npm test`, `git commit`), so a rule
/// covers the pair rather than every use of the program.
const TWO_WORD_PROGRAMS: &[&str] = &[
    "npm", "npx", "pnpm", "yarn", "bun", "cargo", "git", "go", "make", "docker", "kubectl", "pip",
    "pip3", "poetry", "uv", "gradle", "mvn", "dotnet", "rustup", "gh", "agentmux", "deno",
];

/// The rule "allow always" adds for this call, or `None` when no rule is as narrow as the call
/// (a file tool whose path is missing, relative, not in normal form or has characters that are
/// special to the CLI's patterns; a Bash command no prefix rule covers): then the call can only
/// be allowed once.
pub fn suggest(tool_name: &str, input: &Value) -> Option<String> {
    if let Some(rule_tool) = file_rule_tool(tool_name) {
        let path = file_path(tool_name, input)?;
        return Some(format!("{rule_tool}(/{path})"));
    }
    if tool_name == "Bash" {
        return bash_rule(input);
    }
    Some(match tool_name {
        "WebFetch" => match input.get("url").and_then(Value::as_str).and_then(url_host) {
            Some(host) => format!("WebFetch(domain:{host})"),
            None => "WebFetch".to_string(),
        },
        other => other.to_string(),
    })
}

/// A prefix rule for a Bash call, only when it covers this very command: a compound command
/// (`cd server && cargo test`), a redirect or a leading assignment gets none, since the CLI
/// checks each part of such a command on its own and a rule for the first word would never
/// answer it. A bare `Bash` rule would allow every command, so it is never offered.
fn bash_rule(input: &Value) -> Option<String> {
    let prefix = command_prefix(input.get("command")?.as_str()?)?;
    let rule = format!("Bash({prefix}:*)");
    covers(&rule, "Bash", input).then_some(rule)
}

/// The tool whose rules the CLI checks a file tool's path against.
fn file_rule_tool(tool_name: &str) -> Option<&'static str> {
    match tool_name {
        "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => Some("Edit"),
        "Read" => Some("Read"),
        _ => None,
    }
}

/// The file a file tool's call names, when it is one plain absolute path a rule can name
/// exactly.
fn file_path<'v>(tool_name: &str, input: &'v Value) -> Option<&'v str> {
    let key = if tool_name == "NotebookEdit" { "notebook_path" } else { "file_path" };
    input.get(key).and_then(Value::as_str).filter(|p| is_plain_absolute(p))
}

/// An absolute path in normal form (no empty, `.` or `..` components, no trailing slash) whose
/// characters mean themselves both in a gitignore pattern and in an `--allowedTools` value.
fn is_plain_absolute(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else { return false };
    !rest.is_empty()
        && rest.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && !path.ends_with(char::is_whitespace)
        && !path.chars().any(|c| c.is_control() || "*?[]{}()\\!#".contains(c))
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

/// The host of an http(s) URL, as a WHATWG parser (the one the CLI's fetch uses) reads it:
/// userinfo dropped, a backslash taken for a slash, the port cut off, a name in IDNA ASCII form
/// and lowercase, an IP address in its canonical form. One trailing dot is dropped, since
/// `docs.rs.` is the same host.
pub fn url_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?;
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then(|| host.to_string())
}

/// The host a `domain:` rule names, in the form [`url_host`] gives, or `None` when it is no
/// plain host name (a rule with a path, a port, a wildcard or userinfo names no one host).
fn rule_host(domain: &str) -> Option<String> {
    // An IPv6 address is the one host with colons, and only inside its brackets.
    let name = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(address) if address.chars().all(|c| c.is_ascii_hexdigit() || ".:".contains(c)) => "",
        _ => domain,
    };
    let plain = |c: char| !c.is_whitespace() && !c.is_control() && !"/\\@:?#*[]%".contains(c);
    if domain.is_empty() || !name.chars().all(plain) {
        return None;
    }
    url_host(&format!("https://{domain}/"))
}

/// Whether a `WebFetch` call's URL is on the rule's host. A URL with userinfo is never covered:
/// what it shows before the `@` is not where it goes, so the user is asked.
fn url_on_host(url: &str, domain: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url.trim()) else { return false };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return false;
    }
    match (url_host(url), rule_host(domain)) {
        (Some(host), Some(rule)) => host == rule,
        _ => false,
    }
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
    let Some(spec) = spec else { return tool == tool_name };
    // An `Edit` rule is what the CLI checks Write, MultiEdit and NotebookEdit against too.
    if tool != tool_name && !(tool == "Edit" && file_rule_tool(tool_name) == Some("Edit")) {
        return false;
    }
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
            (Some(domain), Some(Value::String(url))) => url_on_host(url, domain),
            _ => false,
        },
        "Edit" | "Read" => {
            // `//` + the exact path; a pattern of any other shape is the CLI's to apply.
            let Some(path) = spec.strip_prefix('/').filter(|p| is_plain_absolute(p)) else {
                return false;
            };
            file_rule_tool(tool_name) == Some(tool) && file_path(tool_name, input) == Some(path)
        }
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

    fn suggested(tool: &str, input: Value) -> String {
        suggest(tool, &input).expect("a rule")
    }

    #[test]
    fn suggested_rules() {
        assert_eq!(suggested("Bash", bash("npm test -- --watch")), "Bash(npm test:*)");
        assert_eq!(suggested("Bash", bash("touch made.txt")), "Bash(touch:*)");
        assert_eq!(suggested("Bash", bash("git -C x log")), "Bash(git:*)");
        assert_eq!(
            suggested("WebFetch", json!({"url": "https://Docs.rs:443/x?y"})),
            "WebFetch(domain:docs.rs)"
        );
        assert_eq!(suggested("mcp__db__query", json!({})), "mcp__db__query");
    }

    #[test]
    fn a_bash_rule_is_offered_only_when_it_covers_the_whole_command() {
        let table: &[(&str, Option<&str>)] = &[
            ("cargo test", Some("Bash(cargo test:*)")),
            ("  ls -la  ", Some("Bash(ls:*)")),
            ("./run.sh --fast", Some("Bash(./run.sh:*)")),
            ("cd server && cargo test", None),
            ("make || true", None),
            ("cd server; cargo test", None),
            ("cargo test | tail", None),
            ("cargo build\ncargo test", None),
            ("echo $(whoami)", None),
            ("echo `whoami`", None),
            ("$(evil)", None),
            ("cargo test > out.txt", None),
            ("sleep 5 &", None),
            ("RUST_LOG=1 cargo build --release", None),
            ("npm  test", None),
            ("", None),
        ];
        for (command, want) in table {
            let input = bash(command);
            let got = suggest("Bash", &input);
            assert_eq!(got.as_deref(), *want, "{command:?}");
            if let Some(rule) = got {
                assert!(covers(&rule, "Bash", &input), "{rule} must cover {command:?}");
            }
        }
        assert_eq!(suggest("Bash", &json!({})), None, "no command, no rule");
    }

    #[test]
    fn a_file_tool_gets_a_rule_for_its_one_file() {
        let file = |p: &str| json!({ "file_path": p, "content": "x" });
        // The CLI checks every editing tool against `Edit(...)` rules; `//` is the root.
        for tool in ["Write", "Edit", "MultiEdit"] {
            assert_eq!(suggested(tool, file("/proj/src/lib.rs")), "Edit(//proj/src/lib.rs)");
        }
        assert_eq!(
            suggested("NotebookEdit", json!({"notebook_path": "/proj/a b,c.ipynb"})),
            "Edit(//proj/a b,c.ipynb)"
        );
        assert_eq!(suggested("Read", file("/etc/hosts")), "Read(//etc/hosts)");
        // No rule names exactly these: they are allowed once, never widened to the tool.
        for odd in [
            "src/lib.rs",
            "~/x",
            "/",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/a/",
            "/a/*.rs",
            "/a/[x]",
            "/a/b?",
            "/a/(x)",
            "/a/{x}",
            "/a/!x",
            "/a/#x",
            "/a\\b",
            "/a/x ",
            "/a/x\n",
        ] {
            assert_eq!(suggest("Write", &file(odd)), None, "{odd:?}");
        }
        assert_eq!(suggest("Write", &json!({})), None);
        assert_eq!(suggest("NotebookEdit", &file("/a.ipynb")), None, "its path is notebook_path");
    }

    #[test]
    fn a_file_rule_covers_that_file_only() {
        let file = |p: &str| json!({ "file_path": p, "content": "x" });
        let r = "Edit(//proj/src/lib.rs)";
        for tool in ["Write", "Edit", "MultiEdit"] {
            assert!(covers(r, tool, &file("/proj/src/lib.rs")), "{tool}");
        }
        assert!(covers(
            "Edit(//p/a.ipynb)",
            "NotebookEdit",
            &json!({"notebook_path": "/p/a.ipynb"})
        ));
        assert!(!covers("Edit(//p/a.ipynb)", "NotebookEdit", &file("/p/a.ipynb")));
        for other in [
            "/proj/src/main.rs",
            "/proj/src/lib.rs/x",
            "/proj/src/lib.rsx",
            "/proj/src/./lib.rs",
            "/proj/src/../src/lib.rs",
            "/proj//src/lib.rs",
            "src/lib.rs",
            "/PROJ/src/lib.rs",
        ] {
            assert!(!covers(r, "Write", &file(other)), "{other}");
        }
        assert!(!covers(r, "Write", &json!({})));
        assert!(!covers(r, "Read", &file("/proj/src/lib.rs")), "a Read is asked");
        assert!(!covers(r, "Bash", &bash("/proj/src/lib.rs")));
        assert!(covers("Read(//etc/hosts)", "Read", &file("/etc/hosts")));
        assert!(!covers("Read(//etc/hosts)", "Write", &file("/etc/hosts")));
        // Patterns (and the CLI's other roots) are the CLI's to apply: agentmux asks.
        for wide in
            ["Edit(//proj/**)", "Edit(//proj/src/*.rs)", "Edit(/src/lib.rs)", "Edit(lib.rs)"]
        {
            assert!(!covers(wide, "Write", &file("/proj/src/lib.rs")), "{wide}");
        }
        // A bare tool rule (the team file's, or an older "allow always") covers that tool.
        assert!(covers("Write", "Write", &file("/x")));
        assert!(!covers("Edit", "Write", &file("/x")));
    }

    #[test]
    fn a_domain_rule_matches_the_host_a_url_parser_reads() {
        let fetch = |u: &str| json!({ "url": u });
        let r = "WebFetch(domain:docs.rs)";
        for same in [
            "https://docs.rs/x",
            "http://DOCS.RS:8080/x",
            "https://docs.rs./x",
            "https://docs.rs?q=evil.example",
            "https://docs.rs#@evil.example",
            " https://docs.rs/x",
        ] {
            assert!(covers(r, "WebFetch", &fetch(same)), "{same:?}");
        }
        for other in [
            // A backslash is a slash to the fetcher: the host is evil.example.
            "https://evil.example\\@docs.rs/x",
            "https://evil.example\\.docs.rs/",
            // Userinfo is never shown as the host it is not, and never covered.
            "https://docs.rs@evil.example/x",
            "https://docs.rs:pw@evil.example/",
            "https://user@docs.rs/x",
            "https://docs.rs.evil.example/",
            "https://evil-docs.rs/",
            "ftp://docs.rs/x",
            "file://docs.rs/etc/passwd",
            "docs.rs/x",
            "https://",
            "not a url",
        ] {
            assert!(!covers(r, "WebFetch", &fetch(other)), "{other:?}");
        }
        // Names are compared in their IDNA ASCII form, whichever form each side was written in.
        let idn = "WebFetch(domain:bücher.example)";
        assert!(covers(idn, "WebFetch", &fetch("https://xn--bcher-kva.example/")));
        assert!(covers(
            "WebFetch(domain:xn--bcher-kva.example)",
            "WebFetch",
            &fetch("https://BÜCHER.example/")
        ));
        // Addresses in any spelling the parser accepts are one address.
        assert!(covers("WebFetch(domain:127.0.0.1)", "WebFetch", &fetch("http://0x7f.0.0.1/")));
        // A rule that names no plain host covers nothing.
        for odd in
            ["domain:", "domain:*.rs", "domain:docs.rs/x", "domain:a@docs.rs", "domain:docs.rs:443"]
        {
            assert!(
                !covers(&format!("WebFetch({odd})"), "WebFetch", &fetch("https://docs.rs/")),
                "{odd}"
            );
        }
    }

    #[test]
    fn a_suggested_domain_rule_names_the_real_host() {
        let rule = |u: &str| suggest("WebFetch", &json!({ "url": u })).expect("a rule");
        assert_eq!(rule("https://evil.example\\@docs.rs/x"), "WebFetch(domain:evil.example)");
        assert_eq!(rule("https://docs.rs@evil.example/x"), "WebFetch(domain:evil.example)");
        assert_eq!(rule("https://Bücher.example/"), "WebFetch(domain:xn--bcher-kva.example)");
        assert_eq!(rule("javascript:alert(1)"), "WebFetch");
        // What it suggests, it covers.
        for u in ["https://docs.rs/x", "https://xn--bcher-kva.example", "http://[::1]:3000/"] {
            assert!(covers(&rule(u), "WebFetch", &json!({ "url": u })), "{u}");
        }
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
