//! Property tests of what reads outside input: the stream-json framer and decoder, the one
//! sanitizer, the team file parser with the name rule, and the control protocol. Inputs are
//! random bytes and text rich in control, bidi and invisible characters, and random documents
//! built from the keys each parser knows, so the interesting paths are reached. The same
//! inputs drive the fuzz targets in `fuzz/` for longer runs.

use std::path::Path;

use agentmux::agent::decode::{decode_line, Frame, Framer};
use agentmux::agent::Line;
use agentmux::config::{Layers, Team};
use agentmux::render::sanitize::{self, for_input, is_clean, is_unsafe};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Characters that matter to a terminal, mixed with plain and wide ones.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        2 => prop::char::range('\0', '\u{1f}'),
        1 => Just('\u{7f}'),
        1 => prop::char::range('\u{80}', '\u{9f}'),
        1 => prop::char::range('\u{200b}', '\u{200f}'),
        1 => prop::char::range('\u{2028}', '\u{202e}'),
        1 => prop::char::range('\u{2066}', '\u{2069}'),
        1 => prop::char::range('\u{e0000}', '\u{e007f}'),
        1 => prop_oneof![Just('\u{feff}'), Just('\u{ad}'), Just('漢'), Just('🦀'), Just('é')],
        1 => prop_oneof![Just('['), Just(']'), Just(';'), Just('\\'), Just('"'), Just('{')],
        2 => any::<char>(),
    ]
}

fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// A JSON value whose strings are tricky and whose objects use the stream-json keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        tricky_text(12).prop_map(Value::String),
        prop::sample::select(KNOWN_WORDS).prop_map(|w| json!(w)),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KNOWN_KEYS), inner), 0..6).prop_map(
                |pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    })
}

const KNOWN_KEYS: &[&str] = &[
    "type",
    "subtype",
    "session_id",
    "message",
    "content",
    "id",
    "name",
    "input",
    "text",
    "thinking",
    "tool_use_id",
    "is_error",
    "event",
    "delta",
    "index",
    "content_block",
    "usage",
    "input_tokens",
    "output_tokens",
    "result",
    "total_cost_usd",
    "duration_ms",
    "num_turns",
    "errors",
    "permission_denials",
    "rate_limit_info",
    "status",
    "resetsAt",
    "utilization",
    "model",
    "tools",
    "cwd",
    "parent_tool_use_id",
    "partial_json",
    "stop_reason",
    "attempt",
];

const KNOWN_WORDS: &[&str] = &[
    "assistant",
    "user",
    "system",
    "result",
    "stream_event",
    "rate_limit_event",
    "init",
    "text",
    "tool_use",
    "tool_result",
    "thinking",
    "content_block_start",
    "content_block_delta",
    "text_delta",
    "input_json_delta",
    "message_start",
    "message_delta",
    "message_stop",
    "success",
    "error_during_execution",
    "api_retry",
    "compact_boundary",
    "status",
];

/// A stream-json line: an object of a known type with known and random members.
fn stream_json_object() -> impl Strategy<Value = Value> {
    let members = prop::collection::vec((prop::sample::select(KNOWN_KEYS), json_value()), 0..8);
    (prop::sample::select(KNOWN_WORDS), members).prop_map(|(ty, members)| {
        let mut map: Map<String, Value> =
            members.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        map.insert("type".into(), json!(ty));
        Value::Object(map)
    })
}

fn frames(chunks: &[&[u8]]) -> Vec<Frame> {
    let mut framer = Framer::new(4096);
    let mut out = Vec::new();
    for c in chunks {
        framer.push(c, &mut out);
    }
    framer.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the bytes and wherever a read splits them, framing gives the same lines and
    /// decoding never panics.
    #[test]
    fn framing_does_not_depend_on_where_reads_split(
        bytes in prop::collection::vec(prop_oneof![
            4 => any::<u8>(),
            2 => prop::sample::select(&b"\x1b[]P\\\x07\r\n{}\":,"[..]),
        ], 0..600),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let (i, j) = {
            let (x, y) = (a.index(bytes.len() + 1), b.index(bytes.len() + 1));
            (x.min(y), x.max(y))
        };
        let whole = frames(&[&bytes]);
        prop_assert_eq!(&frames(&[&bytes[..i], &bytes[i..j], &bytes[j..]]), &whole);
        for f in whole {
            let _ = f.decode();
        }
    }

    /// Every JSON object is an event (typed or kept whole), never a text line, whatever it
    /// holds; decoding never panics.
    #[test]
    fn every_json_object_decodes_to_an_event(v in stream_json_object()) {
        let line = v.to_string();
        prop_assert!(matches!(decode_line(&line), Line::Event(_)), "{}", line);
    }

    /// A line cut or edited anywhere still decodes without a panic.
    #[test]
    fn broken_json_lines_never_panic(v in stream_json_object(), cut in any::<prop::sample::Index>(), junk in tricky_text(4)) {
        let line = v.to_string();
        let mut at = cut.index(line.len() + 1);
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        let _ = decode_line(&line[..at]);
        let _ = decode_line(&format!("{}{junk}{}", &line[..at], &line[at..]));
    }

    /// The sanitizer's output never holds a control, bidi or invisible format character, is
    /// left as it is by a second pass, and is the input itself when that was clean.
    #[test]
    fn sanitized_text_is_safe_and_stable(s in tricky_text(80)) {
        let out = sanitize::sanitize(&s);
        prop_assert!(!out.chars().any(|c| c.is_control() || is_unsafe(c)), "{:?} -> {:?}", s, out);
        prop_assert!(is_clean(&out));
        let again = sanitize::sanitize(&out).into_owned();
        prop_assert_eq!(again.as_str(), out.as_ref());
        if is_clean(&s) {
            prop_assert_eq!(out.as_ref(), s.as_str());
        }
        for line in sanitize::sanitize_lines(&s) {
            prop_assert!(!line.chars().any(|c| c.is_control() || is_unsafe(c)), "{:?}", line);
        }
        let typed = for_input(&s);
        prop_assert!(!typed.chars().any(|c| c != '\n' && c != '\t' && is_unsafe(c)), "{:?}", typed);
    }

    /// Any text is a team file or a clear error that points into it; never a panic.
    #[test]
    fn any_text_is_a_team_or_an_error_with_a_place(text in tricky_text(200)) {
        check_team_text(&text)?;
    }

    /// Team files built from the keys the parser knows, with values of every type.
    #[test]
    fn team_files_of_known_keys_parse_or_say_where(doc in team_document()) {
        check_team_text(&doc)?;
    }

    /// A usable name is its own worktree slug: two usable names never share a worktree.
    #[test]
    fn a_usable_name_is_its_own_slug(name in prop::collection::vec(prop_oneof![
        prop::char::range('a', 'c'), Just('-'), Just('.'), Just('_'), Just('/'), Just('A'), Just('1'), Just(' '),
    ], 0..10).prop_map(|v| v.into_iter().collect::<String>())) {
        if agentmux::agent::name::check(&name).is_ok() {
            prop_assert_eq!(agentmux::worktree::agent_slug(&name), Some(name.clone()));
        }
    }

    /// Control request lines: any text, or objects of the protocol's keys, decode to a request
    /// or an error; a request decoded reads back the same from its own line.
    #[test]
    fn control_request_lines_decode_or_are_refused(
        text in tricky_text(60),
        cmd in prop::sample::select(&["ls", "send", "new", "wait", "tail", "kill", "broadcast",
            "approve", "import", "fork", "search", "set", "bogus"][..]),
        members in prop::collection::vec((prop::sample::select(&["agent", "text", "name", "cwd",
            "model", "prompt", "worktree", "tool_name", "input", "secret", "from", "at",
            "session_id", "permission_mode"][..]), json_value()), 0..5),
    ) {
        use agentmux::control::proto::decode_request;
        let _ = decode_request(&text);
        let mut map: Map<String, Value> = members.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        map.insert("v".into(), json!(1));
        map.insert("cmd".into(), json!(cmd));
        if let Ok(request) = decode_request(&Value::Object(map).to_string()) {
            prop_assert_eq!(decode_request(&request.to_line()).ok(), Some(request));
        }
    }
}

fn check_team_text(text: &str) -> Result<(), TestCaseError> {
    let dir = std::env::temp_dir();
    match Team::parse_str(text, Path::new("team.toml"), &dir, &Layers::default()) {
        Ok(team) => {
            let names: Vec<&str> = team
                .agents
                .iter()
                .map(|a| a.spec.name.as_str())
                .chain(team.supervisor.iter().map(|s| s.spec.name.as_str()))
                .collect();
            for (i, n) in names.iter().enumerate() {
                let alike = names[..i].iter().any(|m| agentmux::agent::name::same(m, n));
                prop_assert!(!alike, "two agents named {:?} in\n{}", n, text);
            }
            for a in &team.agents {
                prop_assert!(agentmux::agent::name::check(&a.spec.name).is_ok());
            }
        }
        Err(e) => {
            let shown = e.to_string();
            prop_assert!(shown.starts_with("team.toml:"), "{}", shown);
        }
    }
    Ok(())
}

/// A TOML document of the team file's tables and keys, values of any type.
fn team_document() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        tricky_text(8).prop_map(|s| toml_string(&s)),
        prop::sample::select(
            &[
                "\"a\"",
                "\"b\"",
                "\"A\"",
                "\"w-1\"",
                "\"x/y\"",
                "\".\"",
                "\"bypassPermissions\"",
                "\"api\"",
                "\"live\"",
                "\"10m\"",
                "[\"make\"]"
            ][..]
        )
        .prop_map(str::to_string),
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(&["0", "1", "3", "256", "257", "-1"][..]).prop_map(str::to_string),
        any::<f64>().prop_map(|f| format!("{f:?}").replace("inf", "inf").replace("NaN", "nan")),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("[[\"echo\", \"{worktree}\"], []]".to_string()),
        Just("{ FOO = \"1\", LD_PRELOAD = \"x\" }".to_string()),
        Just("[\"Bash\", 1]".to_string()),
    ];
    let key = prop::sample::select(
        &[
            "name",
            "count",
            "cwd",
            "prompt",
            "worktree",
            "role",
            "model",
            "permission_mode",
            "allowed_tools",
            "disallowed_tools",
            "max_turns",
            "max_budget_usd",
            "env",
            "billing",
            "approvals",
            "nice",
            "engine",
            "setup",
            "dir",
            "idle_timeout",
            "max_live",
            "max_relay_depth",
            "team_budget_usd",
            "relay_batch_seconds",
            "add_dirs",
            "bogus",
        ][..],
    );
    let table = prop::sample::select(
        &["", "[defaults]", "[[agent]]", "[[agent]]", "[supervisor]", "[worktree]", "[agent]"][..],
    );
    let section = (table, prop::collection::vec((key, value), 0..5));
    prop::collection::vec(section, 0..6).prop_map(|sections| {
        let mut doc = String::new();
        for (header, pairs) in sections {
            doc.push_str(header);
            doc.push('\n');
            for (k, v) in pairs {
                doc.push_str(&format!("{k} = {v}\n"));
            }
        }
        doc
    })
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
