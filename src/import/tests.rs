use std::path::{Path, PathBuf};

use super::*;
use crate::agent::{decode::decode_line, Line};
use crate::store::Replay;
use crate::transcript::Transcript;

fn fixture(version: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/claude-sessions/cli-{version}.jsonl"));
    std::fs::read_to_string(path).expect("fixture")
}

const VERSIONS: [&str; 2] = ["2.1.197", "2.1.332"];

#[test]
fn both_cli_versions_read_as_three_turns_with_their_answers() {
    for v in VERSIONS {
        let c = Conversation::parse(&fixture(v));
        let prompts: Vec<&str> = c.turns.iter().map(|t| t.prompt.as_str()).collect();
        assert_eq!(prompts, ["hello one", "run: echo hi", "third"], "{v}");
        assert_eq!(c.messages, 8, "{v}: 3 prompts, a tool result, 4 answers");
        assert_eq!(c.unreadable, 0, "{v}");
        assert!(c.cwd.as_deref().is_some_and(|d| d.ends_with("/work")), "{v}");
        assert!(c.turns.iter().all(|t| t.last_answer.is_some() && t.at_ms > 0), "{v}");
        // The tool turn: the call, its result, the answer; each a stream-json line.
        let kinds: Vec<_> = c.turns[1]
            .lines
            .iter()
            .map(|l| match decode_line(l) {
                Line::Event(e) => format!("{e:?}").split('(').next().unwrap_or("").to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["Assistant", "User", "Assistant"], "{v}");
    }
}

#[test]
fn the_pane_of_an_imported_session_shows_prompts_answers_and_the_tool_call() {
    let found = Found {
        id: "c36597d6-6218-456a-ac90-7c6396304ea0".into(),
        file: PathBuf::from("x.jsonl"),
        conversation: Conversation::parse(&fixture("2.1.197")),
    };
    let history = History::import(&found);
    let log = history.log();
    let mut t = Transcript::new();
    let mut turns = Vec::new();
    for (_, turn, item) in log.replay() {
        turns.push(turn);
        match item {
            Replay::Prompt(p) => t.push_prompt(p),
            Replay::Line(_, line) => t.apply(&line),
            Replay::TurnEnded(_) => {
                t.end_turn(crate::transcript::TurnFooter::new(crate::transcript::TurnStatus::Done))
            }
            Replay::TurnStarted(s) => assert!(s.resume && s.session_id == found.id),
        }
    }
    assert_eq!(turns.first(), Some(&1));
    assert_eq!(turns.last(), Some(&3));
    let kinds: Vec<&str> = t.cells().iter().map(|c| c.kind.name()).collect();
    insta::assert_debug_snapshot!(kinds);
}

#[test]
fn a_file_cut_short_reads_as_far_as_it_goes() {
    let text = fixture("2.1.197");
    // Cut in the middle of the last answer's line.
    let cut = text.rfind("\"type\":\"assistant\"").expect("an answer") + 30;
    let c = Conversation::parse(&text[..cut]);
    assert_eq!(c.turns.len(), 3);
    assert_eq!(c.unreadable, 1);
    assert!(c.turns[2].last_answer.is_none(), "the cut answer is not there");
    let (_, point) = History::fork(&found_of(c.clone()), Some(2), "w").expect("turn 2 is whole");
    assert_eq!(point, c.turns[1].last_answer);
}

fn found_of(conversation: Conversation) -> Found {
    Found { id: "s".into(), file: PathBuf::new(), conversation }
}

#[test]
fn unknown_lines_and_newer_fields_are_skipped_not_fatal() {
    let text = concat!(
        r#"{"type":"shiny-new-kind","sessionId":"s","data":[1,2]}"#,
        "\n",
        r#"{"type":"user","uuid":"u1","parentUuid":null,"sessionId":"s","cwd":"/w","timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_v9","data":"?"}]},"brandNewField":{"x":1}}"#,
        "\n",
        "not json at all\n",
        r#"{"type":"assistant","uuid":"a1","parentUuid":"u1","sessionId":"s","message":{"role":"assistant","content":[{"type":"hologram"},{"type":"text","text":"hello"}]}}"#,
        "\n",
        r#"{"type":"user","uuid":"m1","parentUuid":"a1","isMeta":true,"message":{"role":"user","content":"<local-command-caveat>"}}"#,
        "\n",
    );
    let c = Conversation::parse(text);
    assert_eq!(c.unreadable, 1);
    assert_eq!(c.turns.len(), 1);
    assert_eq!(c.turns[0].prompt, "hi");
    assert_eq!(c.turns[0].last_answer.as_deref(), Some("a1"));
    assert_eq!(c.turns[0].at_ms, 1_767_225_600_000);
}

#[test]
fn the_conversation_is_the_chain_to_the_last_message_without_sidechains() {
    let line = |uuid: &str, parent: Option<&str>, kind: &str, text: &str, side: bool| {
        serde_json::json!({
            "type": kind, "uuid": uuid, "parentUuid": parent, "isSidechain": side,
            "message": {"role": kind, "content": text},
        })
        .to_string()
    };
    let text = [
        line("u1", None, "user", "first", false),
        line("a1", Some("u1"), "assistant", "one", false),
        line("u2", Some("a1"), "user", "abandoned", false),
        line("a2", Some("u2"), "assistant", "two", false),
        line("s1", Some("a1"), "user", "subagent task", true),
        line("u3", Some("a1"), "user", "taken", false),
        line("a3", Some("u3"), "assistant", "three", false),
    ]
    .join("\n");
    let c = Conversation::parse(&text);
    let prompts: Vec<&str> = c.turns.iter().map(|t| t.prompt.as_str()).collect();
    assert_eq!(prompts, ["first", "taken"]);
}

#[test]
fn forks_count_turns_from_the_first_and_need_an_answer_to_continue_from() {
    let c = Conversation::parse(&fixture("2.1.332"));
    let found = found_of(c.clone());
    let (h, point) = History::fork(&found, None, "w1").expect("the end");
    assert_eq!((h.turns.len(), point), (3, None));
    assert!(h.outro.as_deref().is_some_and(|o| o.contains("forked from w1 after turn 3 of 3")));
    let (h, point) = History::fork(&found, Some(1), "w1").expect("turn 1");
    assert_eq!(h.turns.len(), 1);
    assert_eq!(point, c.turns[0].last_answer);
    // The last turn is the end: no cut needed.
    assert_eq!(History::fork(&found, Some(3), "w1").expect("turn 3").1, None);
    for at in [0, 4] {
        assert!(matches!(
            History::fork(&found, Some(at), "w1"),
            Err(ImportError::NoSuchTurn { turns: 3, .. })
        ));
    }
}

#[test]
fn sessions_are_found_by_directory_and_id_and_other_directories_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let projects = tmp.path().join("projects");
    let text = fixture("2.1.197");
    let cwd = Conversation::parse(&text).cwd.expect("a cwd");
    let dir = projects.join(project_name(Path::new(&cwd)));
    std::fs::create_dir_all(&dir).expect("project dir");
    let id = "c36597d6-6218-456a-ac90-7c6396304ea0";
    std::fs::write(dir.join(format!("{id}.jsonl")), &text).expect("session");
    std::fs::write(dir.join("not-a-session.jsonl"), "{}").expect("other file");
    let older = "00000000-0000-4000-8000-000000000000";
    std::fs::write(dir.join(format!("{older}.jsonl")), text.replace("2026-12-02", "2026-11-02"))
        .expect("older session");

    let list = list_sessions(&projects, Path::new(&cwd));
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [id, older], "newest first");
    assert_eq!((list[0].turns, list[0].messages), (3, 8));
    assert_eq!(list[0].first_prompt, "hello one");
    assert!(list_sessions(&projects, Path::new("/elsewhere")).is_empty());

    let found = find_session(&projects, id, Some(Path::new(&cwd))).expect("found");
    assert_eq!(found.conversation.turns.len(), 3);
    let other = find_session(&projects, id, Some(Path::new("/elsewhere")));
    assert!(matches!(other, Err(ImportError::OtherDirectory { .. })), "{other:?}");
    let missing = find_session(&projects, older.replace('0', "1").as_str(), None);
    assert!(matches!(missing, Err(ImportError::NotFound { .. })), "{missing:?}");
    assert!(matches!(find_session(&projects, "../x", None), Err(ImportError::BadId(_))));
    // Reading changed nothing there.
    assert_eq!(std::fs::read_to_string(dir.join(format!("{id}.jsonl"))).ok(), Some(text));
}

#[test]
fn project_names_replace_every_character_but_letters_and_digits() {
    assert_eq!(project_name(Path::new("/tmp/.tmpAa7lWR/work")), "-tmp--tmpAa7lWR-work");
    assert_eq!(project_name(Path::new("/home/a_b/c d/é")), "-home-a-b-c-d--");
}
