//! Transcript view snapshots on TestBackend at 80x24 and 160x48.

use agentmux::agent::event::{
    ContentBlock, Event, Line as AgentLine, MessageEvent, PermissionDenial, ResultEvent,
    StreamEvent, StreamKind, Usage,
};
use agentmux::transcript::{Scroll, Transcript, TranscriptView, TurnFooter, TurnStatus};
use ratatui::backend::TestBackend;
use ratatui::widgets::{Block, Borders};
use ratatui::Terminal;
use serde_json::json;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// Draw `t` in a bordered pane filling the terminal; `scroll` is applied by `f` first.
fn draw(t: &Transcript, scroll: &Scroll, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| {
        let block = Block::default().borders(Borders::ALL).title(" agent ");
        let inner = block.inner(f.area());
        f.render_widget(block, f.area());
        f.render_widget(TranscriptView::new(t, scroll), inner);
    })
    .expect("draw");
    term
}

fn body(w: u16, h: u16) -> ratatui::layout::Rect {
    ratatui::layout::Rect::new(1, 1, w - 2, h - 2)
}

fn snap(name: &str, t: &Transcript, scroll: &Scroll) {
    for (w, h) in SIZES {
        let term = draw(t, scroll, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), term.backend());
    }
}

fn assistant(msg: &str, block: ContentBlock) -> AgentLine {
    AgentLine::Event(Event::Assistant(MessageEvent {
        message_id: Some(msg.to_string()),
        content: vec![block],
        ..Default::default()
    }))
}

fn sub(parent: &str, msg: &str, block: ContentBlock) -> AgentLine {
    AgentLine::Event(Event::Assistant(MessageEvent {
        message_id: Some(msg.to_string()),
        content: vec![block],
        parent_tool_use_id: Some(parent.to_string()),
        ..Default::default()
    }))
}

fn text(t: &str) -> ContentBlock {
    ContentBlock::Text { text: t.to_string() }
}

fn tool(id: &str, name: &str, input: serde_json::Value) -> ContentBlock {
    ContentBlock::ToolUse { id: id.to_string(), name: name.to_string(), input }
}

fn result_of(id: &str, content: &str, is_error: bool) -> AgentLine {
    AgentLine::Event(Event::User(MessageEvent {
        content: vec![ContentBlock::ToolResult {
            tool_use_id: id.to_string(),
            content: content.to_string(),
            is_error,
        }],
        ..Default::default()
    }))
}

fn delta(t: &str) -> AgentLine {
    AgentLine::Event(Event::Stream(StreamEvent {
        parent_tool_use_id: None,
        session_id: None,
        kind: StreamKind::TextDelta { index: 0, text: t.to_string() },
    }))
}

fn footer(ms: u64, cost: f64, turns: u32) -> TurnFooter {
    TurnFooter {
        status: TurnStatus::Done,
        duration_ms: Some(ms),
        cost_usd: Some(cost),
        num_turns: Some(turns),
        tokens: Some(12_345),
        progress: None,
    }
}

const MARKDOWN: &str = "## Plan\n\nThe parser has **three** stages; the *second* one is `decode_line`.\n\n| stage | file | cost |\n|---|---|--:|\n| frame | `pty.rs` | 12 µs |\n| decode | `decode.rs` | 48 µs |\n| apply | `transcript/mod.rs` | 3 µs |\n\n```rust\nfn decode_line(line: &[u8]) -> Line {\n    match serde_json::from_slice(line) {\n        Ok(v) => Line::Event(v),\n        Err(_) => Line::Text(String::from_utf8_lossy(line).into()),\n    }\n}\n```\n\n1. frame the bytes\n2. decode\n   - keep unknown events\n   - never panic\n3. apply\n\n> Wide text stays inside: 漢字かな交じり文 🦀 e\u{301}t\u{e9}.\n\nSee [the docs](https://docs.rs/ratatui) for more.";

#[test]
fn streaming_answer_midway() {
    let mut t = Transcript::new();
    t.push_prompt("Explain the decoder in two paragraphs.");
    t.apply(&AgentLine::Event(Event::Stream(StreamEvent {
        parent_tool_use_id: None,
        session_id: None,
        kind: StreamKind::MessageStart { message_id: Some("msg_1".into()), model: None },
    })));
    for piece in [
        "The decoder reads **one line** at a time",
        " from the PTY and turns it into a typed event.",
        "\n\nUnknown events are kept whole, so a newer CLI",
        " never breaks the pane; lines that are not JSON",
        " become dimmed text, and",
    ] {
        t.apply(&delta(piece));
    }
    assert!(t.is_streaming());
    snap("streaming_midway", &t, &Scroll::new());
}

#[test]
fn markdown_with_a_table_and_code() {
    let mut t = Transcript::new();
    t.push_prompt("How does decoding work?");
    t.apply(&assistant("m", text(MARKDOWN)));
    let mut scroll = Scroll::new();
    // Show from the top so the whole answer reads in both sizes.
    scroll.home(TranscriptView::viewport(&t, body(80, 24)));
    snap("markdown_table_code", &t, &scroll);
}

fn tools_transcript() -> Transcript {
    let mut t = Transcript::new();
    t.push_prompt("Fix the failing test.");
    t.apply(&assistant("m1", text("I'll look at the test first.")));
    t.apply(&assistant(
        "m1",
        tool(
            "t1",
            "Bash",
            json!({"command": "cargo test --lib decode", "description": "Run the decoder tests"}),
        ),
    ));
    t.apply(&result_of(
        "t1",
        "running 3 tests\ntest decode::huge ... FAILED\ntest result: FAILED. 2 passed; 1 failed",
        false,
    ));
    t.apply(&assistant("m2", tool("t2", "Read", json!({"file_path": "src/agent/decode.rs"}))));
    t.apply(&result_of(
        "t2",
        "     1→use serde_json::Value;\n     2→\n     3→pub fn decode_line(line: &[u8]) -> Line {",
        false,
    ));
    t.apply(&assistant("m3", tool("t3", "Edit", json!({"file_path": "src/agent/decode.rs", "old_string": "    if line.len() > limit {\n        return Line::TooLong;", "new_string": "    if line.len() > limit {\n        let len = line.len();\n        return Line::TooLong { len, limit };"}))));
    t.apply(&result_of("t3", "The file src/agent/decode.rs has been updated.", false));
    t.apply(&assistant("m4", tool("t4", "Grep", json!({"pattern": "TooLong", "path": "src"}))));
    t.apply(&result_of("t4", "src/agent/decode.rs\nsrc/agent/event.rs", false));
    t.apply(&assistant(
        "m5",
        tool(
            "t5",
            "mcp__github__create_pull_request",
            json!({"title": "Fix decode", "draft": true}),
        ),
    ));
    t
}

#[test]
fn tool_calls_collapsed() {
    let t = tools_transcript();
    snap("tools_collapsed", &t, &Scroll::new());
}

#[test]
fn tool_calls_expanded_and_selected() {
    let mut t = tools_transcript();
    for i in 0..t.len() {
        t.set_expanded(i, true);
    }
    t.select(Some(3));
    let mut scroll = Scroll::new();
    scroll.home(TranscriptView::viewport(&t, body(80, 24)));
    snap("tools_expanded", &t, &scroll);
    // The selected cell is highlighted.
    let term = draw(&t, &scroll, 80, 24);
    let buf = term.backend().buffer();
    let (top, h) = t.cell_span(3, 78).expect("cell 3");
    assert!(top + h < 22, "the selected cell fits on screen");
    for y in top..top + h {
        let cell = &buf[(2, 1 + y as u16)];
        assert_eq!(cell.bg, agentmux::transcript::view::SELECTED_BG, "row {y}");
    }
    let after = &buf[(2, 1 + (top + h) as u16)];
    assert_ne!(after.bg, agentmux::transcript::view::SELECTED_BG);
}

#[test]
fn errors_and_denials() {
    let mut t = Transcript::new();
    t.push_prompt("Clean up the build directory.");
    t.apply(&assistant("m", tool("b1", "Bash", json!({"command": "rm -rf target/"}))));
    t.apply(&result_of(
        "b1",
        "Claude requested permissions to use Bash, but you haven't granted it yet.",
        true,
    ));
    t.apply(&assistant("m2", tool("r1", "Read", json!({"file_path": "/etc/shadow"}))));
    t.apply(&result_of("r1", "EACCES: permission denied, open '/etc/shadow'", true));
    t.apply(&AgentLine::Text("Warning: lock file busy, retrying".into()));
    t.apply(&AgentLine::TooLong { len: 70 * 1024 * 1024, limit: 64 * 1024 * 1024 });
    let r = ResultEvent {
        subtype: "error_max_turns".into(),
        is_error: true,
        errors: vec!["Reached maximum number of turns (3)\n    at loop (cli.js:1:1)\n    at main (cli.js:2:2)".into()],
        duration_ms: Some(65_300),
        num_turns: Some(3),
        total_cost_usd: Some(0.2051),
        usage: Some(Usage {
            input_tokens: 40_000,
            output_tokens: 2_000,
            ..Default::default()
        }),
        permission_denials: vec![PermissionDenial {
            tool_name: "Bash".into(),
            tool_use_id: "b1".into(),
            tool_input: json!({"command": "rm -rf target/"}),
        }],
        ..Default::default()
    };
    t.apply(&AgentLine::Event(Event::Result(r)));
    let f = t.result_footer().cloned().expect("result seen");
    t.end_turn(f);
    snap("errors_denials", &t, &Scroll::new());
}

#[test]
fn subagents_nest_under_their_task() {
    let mut t = Transcript::new();
    t.push_prompt("Find every caller of decode_line, in parallel.");
    t.apply(&assistant("m", tool("task1", "Task", json!({"description": "Search src/", "prompt": "Find callers in src/", "subagent_type": "Explore"}))));
    t.apply(&assistant("m", tool("task2", "Task", json!({"description": "Search tests/", "prompt": "Find callers in tests/", "subagent_type": "Explore"}))));
    t.apply(&sub("task1", "s1", text("Searching src/ for callers.")));
    t.apply(&sub(
        "task2",
        "s2",
        tool("g2", "Grep", json!({"pattern": "decode_line", "path": "tests"})),
    ));
    t.apply(&sub(
        "task1",
        "s1",
        tool("g1", "Grep", json!({"pattern": "decode_line", "path": "src"})),
    ));
    t.apply(&result_of("g1", "src/agent/pty.rs\nsrc/sim/mod.rs", false));
    t.apply(&result_of("g2", "tests/engine.rs", false));
    t.apply(&sub("task1", "s3", text("Two callers: `pty.rs` and `sim/mod.rs`.")));
    t.apply(&result_of("task1", "Two callers in src/", false));
    t.apply(&result_of("task2", "One caller in tests/", false));
    t.apply(&assistant("m9", text("Three callers in all.")));
    t.end_turn(footer(21_400, 0.0871, 5));
    snap("subagents_nested", &t, &Scroll::new());
}

#[test]
fn scrolled_up_with_new_lines_waiting() {
    let mut t = Transcript::new();
    for i in 1..=30 {
        t.push_prompt(&format!("step {i}"));
        t.apply(&assistant(&format!("m{i}"), text(&format!("Finished step {i}."))));
    }
    let mut scroll = Scroll::new();
    let v = TranscriptView::viewport(&t, body(80, 24));
    scroll.up(20, v);
    for i in 31..=33 {
        t.push_prompt(&format!("step {i}"));
        t.apply(&assistant(&format!("m{i}"), text(&format!("Finished step {i}."))));
    }
    let v = TranscriptView::viewport(&t, body(80, 24));
    // Three more steps of four lines each (margin, prompt, margin, answer).
    assert_eq!(scroll.new_lines(v), 12);
    snap("scrolled_up_new_lines", &t, &scroll);
}

#[test]
fn a_tiny_pane_never_panics_and_never_overflows() {
    let mut t = tools_transcript();
    t.apply(&assistant("mx", text(MARKDOWN)));
    for i in 0..t.len() {
        t.set_expanded(i, i % 2 == 0);
    }
    for (w, h) in [(3, 3), (4, 6), (20, 6), (7, 40)] {
        let term = draw(&t, &Scroll::new(), w, h);
        let buf = term.backend().buffer();
        // The right border column is intact on every row.
        for y in 0..h {
            let s = buf[(w - 1, y)].symbol();
            assert!(["│", "┐", "┘"].contains(&s), "{w}x{h} row {y}: {s:?}");
        }
    }
}

// ---- real captures -----------------------------------------------------------------------

fn replay(path: &str) -> Transcript {
    use agentmux::agent::decode::Framer;
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    let bytes = std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    let mut framer = Framer::new(agentmux::agent::DEFAULT_MAX_LINE_BYTES);
    let mut frames = Vec::new();
    framer.push(&bytes, &mut frames);
    framer.finish(&mut frames);
    let mut t = Transcript::new();
    t.push_prompt("(prompt)");
    for f in frames {
        let (_, line) = f.decode();
        t.apply(&line);
        if let Some(footer) = t.result_footer().cloned() {
            t.end_turn(footer);
        }
    }
    t
}

fn describe(t: &Transcript) -> Vec<String> {
    use agentmux::transcript::CellKind;
    t.cells()
        .iter()
        .map(|c| {
            let pad = "  ".repeat(c.depth as usize);
            let s = match &c.kind {
                CellKind::Prompt(p) => format!("prompt {p:?}"),
                CellKind::Assistant(b) => format!(
                    "assistant {:?}{}",
                    b.text,
                    if b.streaming { " (streaming)" } else { "" }
                ),
                CellKind::Thinking(b) => format!("thinking {:?}", b.text),
                CellKind::Tool(call) => format!(
                    "tool {} {} result={:?} denied={}",
                    call.name,
                    call.input,
                    call.result
                        .as_ref()
                        .map(|r| (r.is_error, r.content.chars().take(40).collect::<String>())),
                    call.denied
                ),
                CellKind::Output(o) => format!("output {o:?}"),
                CellKind::Note(n) => format!("note {:?} {:?}", n.level, n.text),
                CellKind::Error(e) => format!("error {e:?}"),
                CellKind::Footer(f) => format!("footer {:?}", f.status),
            };
            format!("{pad}{s}")
        })
        .collect()
}

fn kinds(t: &Transcript) -> Vec<&'static str> {
    t.cells().iter().map(|c| c.kind.name()).collect()
}

#[test]
fn real_captures_become_the_expected_cells() {
    let cases: &[(&str, &[&str])] = &[
        ("cli-2.1.197/turn.ndjson", &["prompt", "assistant", "footer"]),
        ("cli-2.1.197/resume.ndjson", &["prompt", "assistant", "footer"]),
        // Streamed in four deltas, then the complete line: still one cell.
        ("cli-2.1.197/turn-partial.ndjson", &["prompt", "assistant", "footer"]),
        ("cli-2.1.197/tool-call.ndjson", &["prompt", "tool", "assistant", "footer"]),
        ("cli-2.1.197/permission-denial.ndjson", &["prompt", "tool", "assistant", "footer"]),
        ("cli-2.1.197/mcp-approval-allow.ndjson", &["prompt", "tool", "assistant", "footer"]),
        ("cli-2.1.197/mcp-approval-deny.ndjson", &["prompt", "tool", "assistant", "footer"]),
        ("cli-2.1.197/mcp-approval-unreachable.ndjson", &["prompt", "tool", "output"]),
        ("cli-2.1.197/max-turns.ndjson", &["prompt", "tool", "error", "footer"]),
        ("cli-2.1.197/unknown-session.ndjson", &["prompt", "output", "error", "footer"]),
        ("cli-2.1.197/bypass-refused.ndjson", &["prompt", "output"]),
        // Two api_retry lines make one note that counts.
        ("cli-2.1.197/api-retry.ndjson", &["prompt", "note", "assistant", "footer"]),
        // The synthetic "API Error" message is an error, shown once.
        ("cli-2.1.197/api-error-400.ndjson", &["prompt", "error", "footer"]),
        ("stream-json/foksa-2.1.29-hello-world.ndjson", &["prompt", "assistant", "footer"]),
        ("stream-json/gleam-2.1.7-basic-query.ndjson", &["prompt", "assistant", "footer"]),
        ("stream-json/foksa-2.1.29-streaming-haiku.ndjson", &["prompt", "assistant", "footer"]),
        (
            "stream-json/foksa-2.1.29-plan-mode-ls.ndjson",
            &["prompt", "assistant", "tool", "assistant", "footer"],
        ),
        (
            "stream-json/foksa-2.1.29-multi-turn.ndjson",
            &["prompt", "assistant", "footer", "assistant", "footer"],
        ),
        // The CLI's "[Request interrupted by user]" is no note of its own: the footer says it.
        ("stream-json/foksa-2.1.29-interrupt.ndjson", &["prompt", "note", "error", "footer"]),
    ];
    for (file, expected) in cases {
        let t = replay(file);
        assert_eq!(&kinds(&t), expected, "{file}:\n{:#?}", describe(&t));
        assert!(!t.is_streaming(), "{file}: nothing left streaming");
    }
}

#[test]
fn real_captures_details() {
    use agentmux::transcript::{CellKind, NoteLevel};
    let tool = |t: &Transcript, i: usize| match &t.cells()[i].kind {
        CellKind::Tool(call) => call.clone(),
        other => panic!("cell {i} is {other:?}"),
    };
    let t = replay("cli-2.1.197/tool-call.ndjson");
    let call = tool(&t, 1);
    assert_eq!(call.input["command"], "touch made.txt", "streamed input parsed");
    assert!(call.result.as_ref().is_some_and(|r| !r.is_error));

    for file in ["cli-2.1.197/permission-denial.ndjson", "cli-2.1.197/mcp-approval-deny.ndjson"] {
        let call = tool(&replay(file), 1);
        assert!(call.denied, "{file}");
        assert!(call.result.as_ref().is_some_and(|r| r.is_error), "{file}");
    }

    let t = replay("cli-2.1.197/api-retry.ndjson");
    match &t.cells()[1].kind {
        CellKind::Note(n) => {
            assert_eq!(n.level, NoteLevel::Warn);
            assert!(n.text.contains("retrying in") && n.text.contains("attempt 2/"), "{}", n.text);
        }
        other => panic!("{other:?}"),
    }

    let t = replay("stream-json/foksa-2.1.29-streaming-haiku.ndjson");
    match &t.cells()[1].kind {
        CellKind::Assistant(b) => {
            assert!(b.text.starts_with("Here's a haiku about coding:\n\n```"));
            assert_eq!(b.text.matches("Functions compile clean").count(), 1);
        }
        other => panic!("{other:?}"),
    }

    // Plain text is kept without the CLI's escape sequences.
    let t = replay("cli-2.1.197/bypass-refused.ndjson");
    match &t.cells()[1].kind {
        CellKind::Output(o) => assert!(!o.contains('\u{1b}') && o.contains("root"), "{o:?}"),
        other => panic!("{other:?}"),
    }

    // A long real session: every result found its call.
    let t = replay("stream-json/nairid-1.0.x-refactor-session-head40.ndjson");
    let tools: Vec<_> = (0..t.len())
        .filter_map(|i| match &t.cells()[i].kind {
            CellKind::Tool(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert!(tools.len() > 10);
    assert!(tools.iter().all(|c| c.name != "(unknown tool)"));
    assert!(tools.iter().filter(|c| c.result.is_some()).count() >= tools.len() - 1);
}

#[test]
fn real_captures_drawn() {
    snap(
        "capture_plan_mode_ls",
        &replay("stream-json/foksa-2.1.29-plan-mode-ls.ndjson"),
        &Scroll::new(),
    );
    let mut t = replay("cli-2.1.197/permission-denial.ndjson");
    t.set_expanded(1, true);
    snap("capture_permission_denial", &t, &Scroll::new());
}
