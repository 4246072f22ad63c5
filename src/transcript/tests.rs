//! Cell building from typed events.

use serde_json::json;

use super::*;
use crate::agent::event::{PermissionDenial, Usage};

fn ev(e: Event) -> AgentLine {
    AgentLine::Event(e)
}

fn assistant(msg: &str, block: ContentBlock) -> AgentLine {
    ev(Event::Assistant(MessageEvent {
        message_id: Some(msg.to_string()),
        content: vec![block],
        ..Default::default()
    }))
}

fn sub_assistant(parent: &str, msg: &str, block: ContentBlock) -> AgentLine {
    ev(Event::Assistant(MessageEvent {
        message_id: Some(msg.to_string()),
        content: vec![block],
        parent_tool_use_id: Some(parent.to_string()),
        ..Default::default()
    }))
}

fn text(t: &str) -> ContentBlock {
    ContentBlock::Text { text: t.to_string() }
}

fn tool_use(id: &str, name: &str, input: serde_json::Value) -> ContentBlock {
    ContentBlock::ToolUse { id: id.to_string(), name: name.to_string(), input }
}

fn tool_result(id: &str, content: &str, is_error: bool) -> AgentLine {
    ev(Event::User(MessageEvent {
        content: vec![ContentBlock::ToolResult {
            tool_use_id: id.to_string(),
            content: content.to_string(),
            is_error,
        }],
        ..Default::default()
    }))
}

fn stream(kind: StreamKind) -> AgentLine {
    ev(Event::Stream(StreamEvent { parent_tool_use_id: None, session_id: None, kind }))
}

fn result(subtype: &str, is_error: bool) -> ResultEvent {
    ResultEvent {
        subtype: subtype.to_string(),
        is_error,
        duration_ms: Some(9081),
        num_turns: Some(2),
        total_cost_usd: Some(0.0123),
        usage: Some(Usage { input_tokens: 100, output_tokens: 50, ..Default::default() }),
        ..Default::default()
    }
}

fn kinds(t: &Transcript) -> Vec<&'static str> {
    t.cells().iter().map(|c| c.kind.name()).collect()
}

fn assistant_text(c: &Cell) -> &str {
    match &c.kind {
        CellKind::Assistant(b) => &b.text,
        other => panic!("not an assistant cell: {other:?}"),
    }
}

fn tool_of(c: &Cell) -> &ToolCall {
    match &c.kind {
        CellKind::Tool(t) => t,
        other => panic!("not a tool cell: {other:?}"),
    }
}

#[test]
fn an_assistant_line_alone_makes_a_text_cell() {
    let mut t = Transcript::new();
    t.push_prompt("what is 2+2?");
    t.apply(&assistant("msg_1", text("4")));
    assert_eq!(kinds(&t), ["prompt", "assistant"]);
    assert_eq!(assistant_text(&t.cells()[1]), "4");
    assert!(!t.cells()[1].is_streaming());
}

#[test]
fn streamed_deltas_grow_one_cell_and_the_assistant_line_does_not_repeat_it() {
    let mut t = Transcript::new();
    t.apply(&stream(StreamKind::MessageStart { message_id: Some("msg_1".into()), model: None }));
    t.apply(&stream(StreamKind::ContentBlockStart { index: 0, block: text("") }));
    t.apply(&stream(StreamKind::TextDelta { index: 0, text: "Here".into() }));
    t.apply(&stream(StreamKind::TextDelta { index: 0, text: " it is".into() }));
    assert_eq!(kinds(&t), ["assistant"]);
    assert!(t.cells()[0].is_streaming());
    assert_eq!(assistant_text(&t.cells()[0]), "Here it is");
    // The complete line arrives before content_block_stop (as the real CLI does).
    t.apply(&assistant("msg_1", text("Here it is")));
    assert_eq!(kinds(&t), ["assistant"]);
    t.apply(&stream(StreamKind::ContentBlockStop { index: 0 }));
    t.apply(&stream(StreamKind::MessageStop));
    assert_eq!(kinds(&t), ["assistant"]);
    assert!(!t.cells()[0].is_streaming());
}

#[test]
fn block_indexes_may_start_at_one_and_thinking_may_be_empty() {
    let mut t = Transcript::new();
    t.apply(&stream(StreamKind::MessageStart { message_id: Some("m".into()), model: None }));
    t.apply(&stream(StreamKind::ContentBlockStart {
        index: 0,
        block: ContentBlock::Thinking { thinking: String::new() },
    }));
    t.apply(&stream(StreamKind::SignatureDelta { index: 0 }));
    t.apply(&assistant("m", ContentBlock::Thinking { thinking: String::new() }));
    t.apply(&stream(StreamKind::ContentBlockStop { index: 0 }));
    t.apply(&stream(StreamKind::TextDelta { index: 1, text: "answer".into() }));
    t.apply(&assistant("m", text("answer")));
    assert_eq!(kinds(&t), ["thinking", "assistant"]);
    assert_eq!(assistant_text(&t.cells()[1]), "answer");
}

#[test]
fn the_complete_line_wins_over_lost_deltas() {
    let mut t = Transcript::new();
    t.apply(&stream(StreamKind::MessageStart { message_id: Some("m".into()), model: None }));
    t.apply(&stream(StreamKind::TextDelta { index: 0, text: "Hel".into() }));
    t.apply(&assistant("m", text("Hello")));
    assert_eq!(assistant_text(&t.cells()[0]), "Hello");
}

#[test]
fn one_response_split_over_lines_makes_one_cell_per_block() {
    let mut t = Transcript::new();
    t.apply(&assistant("m", text("I'll list the files.")));
    t.apply(&assistant("m", tool_use("toolu_1", "Bash", json!({"command": "ls -la"}))));
    t.apply(&tool_result("toolu_1", "total 180\n.\n..", false));
    t.apply(&assistant("m2", text("Done.")));
    assert_eq!(kinds(&t), ["assistant", "tool", "assistant"]);
    let call = tool_of(&t.cells()[1]);
    assert_eq!(call.name, "Bash");
    assert_eq!(call.result.as_ref().map(|r| r.content.as_str()), Some("total 180\n.\n.."));
}

#[test]
fn streamed_tool_input_is_parsed_when_its_block_stops() {
    let mut t = Transcript::new();
    t.apply(&stream(StreamKind::ContentBlockStart {
        index: 1,
        block: tool_use("toolu_9", "Read", json!({})),
    }));
    t.apply(&stream(StreamKind::InputJsonDelta {
        index: 1,
        partial_json: "{\"file_path\":".into(),
    }));
    t.apply(&stream(StreamKind::InputJsonDelta {
        index: 1,
        partial_json: "\"src/main.rs\"}".into(),
    }));
    t.apply(&stream(StreamKind::ContentBlockStop { index: 1 }));
    assert_eq!(tool_of(&t.cells()[0]).input, json!({"file_path": "src/main.rs"}));
    // The assistant line for the same call updates, never duplicates.
    t.apply(&assistant("m", tool_use("toolu_9", "Read", json!({"file_path": "src/main.rs"}))));
    assert_eq!(kinds(&t), ["tool"]);
}

#[test]
fn errors_and_denials_mark_their_tool_call() {
    let mut t = Transcript::new();
    t.apply(&assistant("m", tool_use("t1", "Bash", json!({"command": "rm -rf /"}))));
    t.apply(&tool_result("t1", "Claude requested permissions to use Bash", true));
    let mut r = result("success", false);
    r.permission_denials = vec![
        PermissionDenial {
            tool_name: "Bash".into(),
            tool_use_id: "t1".into(),
            tool_input: json!({}),
        },
        PermissionDenial {
            tool_name: "Write".into(),
            tool_use_id: "unseen".into(),
            tool_input: json!({}),
        },
    ];
    t.apply(&ev(Event::Result(r)));
    let call = tool_of(&t.cells()[0]);
    assert!(call.denied);
    assert!(call.result.as_ref().is_some_and(|r| r.is_error));
    assert_eq!(kinds(&t), ["tool", "note"]);
}

#[test]
fn failed_turns_say_why_and_the_footer_comes_from_the_result() {
    let mut t = Transcript::new();
    t.push_prompt("go");
    let mut r = result("error_during_execution", true);
    r.errors = vec!["No conversation found with session ID: abc".into()];
    t.apply(&ev(Event::Result(r)));
    let footer = t.result_footer().cloned().expect("a result arrived");
    assert!(matches!(footer.status, TurnStatus::Failed(_)));
    t.end_turn(footer);
    assert_eq!(kinds(&t), ["prompt", "error", "footer"]);
    match &t.cells()[1].kind {
        CellKind::Error(e) => assert!(e.contains("No conversation found"), "{e}"),
        _ => unreachable!(),
    }
    assert!(t.result_footer().is_none(), "end_turn consumes it");
    let ok = TurnFooter::from_result(&result("success", false));
    assert_eq!(ok.status, TurnStatus::Done);
    assert_eq!(ok.tokens, Some(150));
    let max = TurnFooter::from_result(&result("error_max_turns", true));
    assert!(
        matches!(max.status, TurnStatus::Failed(ref s) if s.contains("maximum number of turns"))
    );
}

#[test]
fn subagent_cells_nest_under_their_task_call() {
    let mut t = Transcript::new();
    t.apply(&assistant("m", tool_use("task_a", "Task", json!({"description": "A"}))));
    t.apply(&assistant("m", tool_use("task_b", "Task", json!({"description": "B"}))));
    t.apply(&sub_assistant("task_a", "s1", text("looking")));
    t.apply(&sub_assistant("task_b", "s2", text("other")));
    t.apply(&sub_assistant("task_a", "s1", tool_use("g1", "Grep", json!({"pattern": "x"}))));
    t.apply(&tool_result("g1", "found", false));
    t.apply(&tool_result("task_a", "A done", false));
    let layout: Vec<(u8, &str)> = t
        .cells()
        .iter()
        .map(|c| {
            let name = match &c.kind {
                CellKind::Tool(call) => call.id.as_str(),
                CellKind::Assistant(b) => b.text.as_str(),
                _ => "?",
            };
            (c.depth, name)
        })
        .collect();
    assert_eq!(layout, [(0, "task_a"), (1, "looking"), (1, "g1"), (0, "task_b"), (1, "other")]);
    // The inserted cells moved task_b; its result still finds it.
    t.apply(&tool_result("task_b", "B done", false));
    assert!(tool_of(&t.cells()[3]).result.is_some());
    assert!(tool_of(&t.cells()[2]).result.is_some(), "g1 found after the shift");
}

#[test]
fn plain_text_output_merges_into_one_dim_cell() {
    let mut t = Transcript::new();
    t.apply(&AgentLine::Text("Error: something odd".into()));
    t.apply(&AgentLine::Text("  at line 2".into()));
    t.apply(&AgentLine::Text("   ".into()));
    assert_eq!(kinds(&t), ["output"]);
    t.apply(&AgentLine::TooLong { len: 80 * 1024 * 1024, limit: 64 * 1024 * 1024 });
    assert_eq!(kinds(&t), ["output", "error"]);
}

#[test]
fn system_notes_retries_replace_each_other() {
    let mut t = Transcript::new();
    let retry = |attempt| {
        ev(Event::System(SystemEvent {
            subtype: "api_retry".into(),
            session_id: None,
            kind: SystemKind::ApiRetry(ApiRetry {
                attempt: Some(attempt),
                max_retries: Some(10),
                retry_delay_ms: Some(1500),
                error_status: Some(529),
                error: None,
            }),
        }))
    };
    t.apply(&retry(1));
    t.apply(&retry(2));
    assert_eq!(kinds(&t), ["note"]);
    match &t.cells()[0].kind {
        CellKind::Note(n) => {
            assert_eq!(n.text, "API error 529 · retrying in 2s (attempt 2/10)")
        }
        _ => unreachable!(),
    }
    t.apply(&ev(Event::System(SystemEvent {
        subtype: "compact_boundary".into(),
        session_id: None,
        kind: SystemKind::CompactBoundary {
            trigger: Some("auto".into()),
            pre_tokens: Some(150_000),
        },
    })));
    t.apply(&ev(Event::Unknown(json!({"type": "control_response"}))));
    t.apply(&ev(Event::System(SystemEvent {
        subtype: "hook_started".into(),
        session_id: None,
        kind: SystemKind::Other(json!({})),
    })));
    let texts: Vec<String> = t
        .cells()
        .iter()
        .filter_map(|c| match &c.kind {
            CellKind::Note(n) => Some(n.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts[1..],
        [
            "conversation compacted (auto, 150.0k tokens before)",
            "control_response event",
            "system: hook_started"
        ]
    );
}

#[test]
fn rate_limit_notes_only_on_change() {
    let mut t = Transcript::new();
    let rl = |s: &str| {
        ev(Event::RateLimit(RateLimitEvent {
            status: Some(s.into()),
            limit_type: Some("five_hour".into()),
            resets_at: Some(1_700_000_000),
            ..Default::default()
        }))
    };
    t.apply(&rl("allowed"));
    assert!(t.is_empty(), "the usual state is not news");
    t.apply(&rl("allowed_warning"));
    t.apply(&rl("allowed_warning"));
    assert_eq!(kinds(&t), ["note"]);
}

#[test]
fn selection_moves_over_expandable_cells_and_toggles() {
    let mut t = Transcript::new();
    t.push_prompt("p");
    t.apply(&assistant("m", tool_use("a", "Bash", json!({"command": "ls"}))));
    t.apply(&assistant("m", text("words")));
    t.apply(&assistant("m", tool_use("b", "Read", json!({"file_path": "x"}))));
    assert_eq!(t.select_prev(), Some(3));
    assert_eq!(t.select_prev(), Some(1));
    assert_eq!(t.select_prev(), Some(1), "stays on the first");
    t.toggle_selected();
    assert!(t.cells()[1].expanded);
    assert_eq!(t.select_next(), Some(3));
    assert_eq!(t.select_next(), None);
    // Prompts are not expandable.
    t.set_expanded(0, true);
    assert!(!t.cells()[0].expanded);
}

#[test]
fn heights_change_only_for_cells_that_change() {
    let mut t = Transcript::new();
    for i in 0..50 {
        t.push_prompt(&format!("prompt {i}"));
        t.apply(&assistant(&format!("m{i}"), text("one\n\ntwo")));
    }
    let h = t.height(40);
    // Each pair: margin + prompt, margin + 3 lines (first prompt has no margin).
    assert_eq!(h, 50 * 6 - 1);
    let (top, height) = t.cell_span(3, 40).expect("cell 3");
    assert_eq!((top, height), (7, 4));
    t.apply(&stream(StreamKind::TextDelta { index: 0, text: "streaming".into() }));
    assert_eq!(t.height(40), h + 2);
    t.apply(&stream(StreamKind::TextDelta { index: 0, text: "\n\nmore".into() }));
    assert_eq!(t.height(40), h + 4);
    assert_eq!(t.cell_at_line(7, 40), Some(3));
    // Expanding a tool grows it; the cache notices.
    t.apply(&assistant("x", tool_use("z", "Bash", json!({"command": "ls"}))));
    let before = t.height(40);
    let last = t.len() - 1;
    t.set_expanded(last, true);
    assert!(t.height(40) > before);
}

#[test]
fn a_clone_measures_like_the_original() {
    let mut t = Transcript::new();
    t.push_prompt("hello");
    t.apply(&assistant("m", text("a\n\nb")));
    let c = t.clone();
    assert_eq!(c.height(20), t.height(20));
    assert_eq!(c, t);
}

fn long_transcript(turns: usize) -> Transcript {
    let mut t = Transcript::new();
    for i in 0..turns {
        t.push_prompt(&format!("prompt {i} with enough words to wrap at narrow widths"));
        t.apply(&assistant(
            &format!("m{i}"),
            text("A paragraph that is long enough to wrap differently at every width we try.\n\n- a list item\n- another one that is a bit longer\n\n```rust\nfn main() { println!(\"hi\"); }\n```"),
        ));
        t.apply(&assistant(
            &format!("m{i}"),
            tool_use(&format!("t{i}"), "Bash", json!({"command": "ls"})),
        ));
        t.apply(&tool_result(&format!("t{i}"), "a\nb", i % 3 == 0));
    }
    t
}

fn screen(t: &Transcript, scroll: &Scroll, w: u16, h: u16) -> Vec<String> {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::Widget;
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    TranscriptView::new(t, scroll).render(area, &mut buf);
    (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect()).collect()
}

#[test]
fn a_resize_measures_only_what_is_seen() {
    let t = long_transcript(300);
    let follow = Scroll::new();
    let _ = screen(&t, &follow, 60, 20);
    let seen_at_60 = t.layout().exact_count();
    assert!(seen_at_60 < 20, "measured {seen_at_60} cells for one screen");
    let _ = screen(&t, &follow, 41, 20);
    assert!(t.layout().exact_count() < 20);
    assert_eq!(t.len(), 900);
}

#[test]
fn after_a_resize_the_bottom_looks_as_if_measured_from_scratch() {
    let t = long_transcript(200);
    let follow = Scroll::new();
    let _ = screen(&t, &follow, 70, 15);
    for w in [33u16, 50, 90] {
        let fresh = t.clone();
        assert_eq!(screen(&t, &follow, w, 15), screen(&fresh, &follow, w, 15), "width {w}");
    }
    // Scrolled to the top after a resize: also exact.
    let mut home = Scroll::new();
    home.home(t.viewport(47, 15));
    let fresh = t.clone();
    assert_eq!(screen(&t, &home, 47, 15), screen(&fresh, &home, 47, 15));
    // And a pinned place in the middle matches what a fully measured transcript shows there.
    let mut mid = Scroll::new();
    let v = t.viewport(52, 15);
    mid.up(v.total / 2, v);
    let shown = screen(&t, &mid, 52, 15);
    // What it shows is a run of real lines, in order, as a fully measured transcript has
    // them (the last row is the "more lines" indicator).
    let full = t.clone();
    let total = full.height(52);
    let mut top = Scroll::new();
    top.home(full.viewport(52, total as u16));
    let all = screen(&full, &top, 52, total as u16);
    let window = &shown[..14];
    assert!(
        all.windows(14).any(|w| w == window),
        "the pinned window is not a slice of the real lines: {window:#?}"
    );
}

#[test]
fn a_flood_of_new_cells_measures_only_the_newest() {
    let mut t = long_transcript(10);
    let _ = t.height(80);
    for i in 0..2000 {
        t.push_prompt(&format!("p{i}"));
    }
    let _ = t.height(80);
    let exact = t.layout().exact_count();
    assert!(exact <= 256 + 40, "{exact} measured");
    // The newest ones are exact: following the bottom needs no estimate.
    let v = t.viewport(80, 10);
    assert_eq!(v.total, t.height(80));
}

#[test]
fn a_streaming_cell_is_as_tall_as_what_it_draws() {
    let mut t = Transcript::new();
    t.push_prompt("go");
    let text = "Intro paragraph that wraps at narrow widths, on and on.\n\n```rust\nfn a() {}\n\nfn b() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nlast words here";
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(7) {
        let s: String = piece.iter().collect();
        t.apply(&stream(StreamKind::TextDelta { index: 0, text: s }));
        for width in [20u16, 33] {
            let (top, height) = t.cell_span(1, width).expect("the streaming cell");
            let mut drawn = 0;
            t.for_each_line(width, top, height + 5, |_, cell, _| {
                if cell == 1 {
                    drawn += 1;
                }
            });
            assert_eq!(drawn, height, "at width {width} after {:?}", assistant_text(&t.cells()[1]));
        }
    }
    assert!(t.cells()[1].is_streaming());
}

/// The streaming cell's lines as a whole render of its text would give them (the cache keeps
/// completed blocks and the final lines of an open paragraph; neither may show).
fn streamed_and_whole(
    t: &Transcript,
    i: usize,
    width: u16,
) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let (top, height) = t.cell_span(i, width).expect("the streaming cell");
    let mut streamed = Vec::new();
    t.for_each_line(width, top, height, |_, cell, line| {
        if cell == i {
            streamed.push(line.clone());
        }
    });
    let mut whole = Vec::new();
    let prev = i.checked_sub(1).map(|p| &t.cells()[p]);
    draw::cell_lines(&t.cells()[i], prev, width, false, None, &mut whole);
    (streamed, whole)
}

#[test]
fn a_long_streaming_paragraph_draws_as_its_whole_render_and_freezes_its_lines() {
    let words =
        ["Plain", "words", "of", "several", "lengths,", "then", "a", "longer", "stretch", "here."];
    let mut text = String::new();
    for i in 0..240 {
        text.push_str(words[i % words.len()]);
        text.push(' ');
    }
    let mixed = "with `code spans` and *emphasis that pairs later* a_b 1. - > # 12 \
                 averyveryverylongwordthatisfarwiderthanthepane ünïcödé wörds 漢字漢字漢字漢字 ";
    for _ in 0..6 {
        text.push_str(mixed);
        text.push_str("and plain words again, for a while, before the next odd part. ");
    }
    text.push_str("\n\nA second paragraph, then a list:\n\n- one\n- two");
    let chars: Vec<char> = text.chars().collect();
    // One width per run: the cache is kept for one width, as a pane has.
    for width in [20u16, 33, 48] {
        let mut t = Transcript::new();
        t.push_prompt("go");
        t.apply(&stream(StreamKind::MessageStart { message_id: Some("m".into()), model: None }));
        let (mut at, mut step, mut frozen) = (0, 0, 0);
        while at < chars.len() {
            step += 1;
            let n = 1 + (step * 7) % 13;
            let piece: String = chars[at..(at + n).min(chars.len())].iter().collect();
            at += n;
            t.apply(&stream(StreamKind::TextDelta { index: 0, text: piece }));
            let (streamed, whole) = streamed_and_whole(&t, 1, width);
            assert_eq!(streamed, whole, "at width {width} after {at} chars");
            frozen = frozen.max(t.layout().frozen_lines());
        }
        assert!(t.cells()[1].is_streaming());
        // The plain stretch was frozen, not rendered again on every delta.
        assert!(frozen > 25, "only {frozen} lines were frozen at width {width}");

        // It ends, and the complete line adds a last paragraph: drawn as a whole render
        // (highlighted) draws it, from the stream cache.
        let handoffs = t.layout().handoffs.get();
        t.apply(&stream(StreamKind::ContentBlockStop { index: 0 }));
        t.apply(&assistant("m", self::text(&format!("{text}\n\nThe end."))));
        assert_eq!(t.cells().len(), 2);
        assert!(assistant_text(&t.cells()[1]).ends_with("The end."));
        assert!(!t.cells()[1].is_streaming());
        let (top, height) = t.cell_span(1, width).expect("the cell");
        let mut drawn = Vec::new();
        t.for_each_line(width, top, height, |_, _, line| drawn.push(line.clone()));
        let mut whole = Vec::new();
        draw::cell_lines(&t.cells()[1], Some(&t.cells()[0]), width, true, None, &mut whole);
        assert_eq!(drawn, whole, "at width {width}, complete");
        assert!(t.layout().handoffs.get() > handoffs, "the stream cache was not reused");
    }
}

#[test]
fn a_long_answer_is_not_rendered_whole_as_it_ends_or_when_the_next_one_streams() {
    let words: String = (0..3000).map(|i| format!("word{i} ")).collect();
    let mut t = Transcript::new();
    t.push_prompt("go");
    t.apply(&stream(StreamKind::MessageStart { message_id: Some("m1".into()), model: None }));
    for chunk in words.as_bytes().chunks(40) {
        let piece = String::from_utf8(chunk.to_vec()).expect("ascii");
        t.apply(&stream(StreamKind::TextDelta { index: 0, text: piece }));
        let v = t.viewport(40, 10);
        t.for_each_line(40, v.total.saturating_sub(10), 10, |_, _, _| {});
    }
    // The complete line adds a sentence while the block still streams (as the simulated
    // claude does), then the block stops, a tool runs, and the next message streams.
    t.apply(&assistant("m1", self::text(&format!("{words}\n\nNow the tool."))));
    t.apply(&stream(StreamKind::ContentBlockStop { index: 0 }));
    t.apply(&assistant("m1", tool_use("t1", "Glob", json!({"pattern": "**/*"}))));
    t.apply(&tool_result("t1", "a.rs", false));
    t.apply(&stream(StreamKind::MessageStart { message_id: Some("m2".into()), model: None }));
    t.apply(&stream(StreamKind::TextDelta { index: 0, text: "Done".into() }));
    let v = t.viewport(40, 10);
    t.for_each_line(40, v.total.saturating_sub(10), 10, |_, _, _| {});
    // The first answer, drawn at its end and at its start, as a whole render draws it.
    let (top, height) = t.cell_span(1, 40).expect("the first answer");
    let mut drawn = Vec::new();
    t.for_each_line(40, top, height, |_, cell, line| {
        if cell == 1 {
            drawn.push(line.clone());
        }
    });
    let mut whole = Vec::new();
    draw::cell_lines(&t.cells()[1], Some(&t.cells()[0]), 40, true, None, &mut whole);
    assert_eq!(drawn, whole);
    assert!(t.cells().last().is_some_and(Cell::is_streaming));
    assert_eq!(t.layout().whole_renders, 0, "an answer was rendered whole");
}

#[test]
fn a_completed_cell_whose_blocks_span_a_cut_is_rendered_whole() {
    // A loose list and an item's continuation span the blank lines streaming cuts at.
    let text = "Steps:\n\n- one\n\n- two\n\n  more of two\n\n1. first\n\n2. second\n\nend";
    let mut t = Transcript::new();
    t.push_prompt("go");
    for piece in text.split_inclusive(' ') {
        t.apply(&stream(StreamKind::TextDelta { index: 0, text: piece.into() }));
        let _ = t.cell_span(1, 30);
    }
    t.apply(&stream(StreamKind::ContentBlockStop { index: 0 }));
    let (top, height) = t.cell_span(1, 30).expect("the cell");
    let mut drawn = Vec::new();
    t.for_each_line(30, top, height, |_, _, line| drawn.push(line.clone()));
    let mut whole = Vec::new();
    draw::cell_lines(&t.cells()[1], Some(&t.cells()[0]), 30, true, None, &mut whole);
    assert_eq!(drawn, whole);
    assert_eq!(t.layout().handoffs.get(), 0);
}

/// One marker per state, relative paths cut from the left.
#[test]
fn tool_one_liners_while_streaming_running_and_done() {
    use crate::agent::event::Init;
    let mut t = Transcript::new();
    t.apply(&ev(Event::System(SystemEvent {
        subtype: "init".into(),
        session_id: None,
        kind: SystemKind::Init(Init {
            cwd: Some("/tmp/agentmux-demo-7175".into()),
            ..Default::default()
        }),
    })));
    // Its input has not streamed yet: the name alone.
    t.apply(&stream(StreamKind::ContentBlockStart {
        index: 0,
        block: tool_use("t0", "Read", json!({})),
    }));
    // Known input, no result: one truncation "…", then the running marker.
    t.apply(&assistant(
        "m",
        tool_use(
            "t1",
            "Bash",
            json!({"command": "cd server && cargo build --release --all-features"}),
        ),
    ));
    t.apply(&assistant(
        "m",
        tool_use(
            "t2",
            "Edit",
            json!({"file_path": "/tmp/agentmux-demo-7175/server/src/tasks.rs", "old_string": "a", "new_string": "b\nc"}),
        ),
    ));
    t.apply(&tool_result("t2", "ok", false));
    t.apply(&assistant(
        "m",
        tool_use(
            "t3",
            "Read",
            json!({"file_path": "/tmp/agentmux-demo-7175/web/src/components/TaskList.tsx"}),
        ),
    ));
    t.apply(&tool_result("t3", "ok", false));
    t.apply(&assistant("m", tool_use("t4", "Read", json!({"file_path": "/etc/hosts"}))));
    let scroll = Scroll::default();
    let shot = screen(&t, &scroll, 34, 5).join("\n");
    insta::assert_snapshot!(shot);
    // The turn fails without their results: no longer "running".
    t.end_turn(TurnFooter::new(TurnStatus::Failed("exit code 1".into())));
    let shot = screen(&t, &scroll, 34, 7).join("\n");
    assert!(!shot.contains("running"), "{shot}");
    assert_eq!(shot.matches("no result").count(), 3, "{shot}");
}

/// A claude that fails at start: its line, dimmed, then one footer with the exit code.
#[test]
fn a_start_failure_is_said_once() {
    let mut t = Transcript::new();
    t.push_prompt("say hi");
    t.apply(&AgentLine::Text("boom: cannot start".into()));
    assert!(t.last_output_contains("boom: cannot start"));
    t.end_turn(TurnFooter::new(TurnStatus::Failed("exit 3".into())));
    let shot = screen(&t, &Scroll::default(), 40, 4).join("\n");
    insta::assert_snapshot!(shot);
}

/// A claude that is not logged in: a hint that works from agentmux, said once.
#[test]
fn not_logged_in_says_how_to_log_in_from_agentmux() {
    let mut t = Transcript::new();
    t.push_prompt("say hi");
    t.apply(&ev(Event::Assistant(MessageEvent {
        message_id: Some("m".into()),
        model: Some("<synthetic>".into()),
        content: vec![text("Not logged in · Please run /login")],
        ..Default::default()
    })));
    let mut r = result("success", true);
    r.result = Some("Not logged in · Please run /login".into());
    t.apply(&ev(Event::Result(r)));
    let footer = t.result_footer().cloned().expect("a result arrived");
    t.end_turn(footer);
    assert_eq!(kinds(&t), ["prompt", "error", "footer"]);
    let shot = screen(&t, &Scroll::default(), 60, 7).join("\n");
    insta::assert_snapshot!(shot);
}

/// With an API key in agentmux's environment that subscription billing held back, the hint
/// says so and names the setting that would use it.
#[test]
fn not_logged_in_with_a_held_back_key_says_billing_api_would_use_it() {
    let mut t = Transcript::new();
    t.push_prompt("say hi");
    t.hold_key(Some("ANTHROPIC_API_KEY"));
    t.apply(&ev(Event::Assistant(MessageEvent {
        message_id: Some("m".into()),
        model: Some("<synthetic>".into()),
        content: vec![text("Not logged in · Please run /login")],
        ..Default::default()
    })));
    let CellKind::Error(e) = &t.cells()[1].kind else { panic!("{:?}", t.cells()) };
    assert!(e.contains("ANTHROPIC_API_KEY is set but held back"), "{e}");
    assert!(e.contains("billing = \"api\""), "{e}");
    let shot = screen(&t, &Scroll::default(), 60, 7).join("\n");
    insta::assert_snapshot!(shot);
}

/// A relay turn's prompt is a compact list of reports that opens like a tool call.
#[test]
fn a_relayed_report_is_a_compact_cell_that_expands() {
    let mut t = Transcript::new();
    t.push_prompt(
        "[agentmux] 2 reports from your workers:\n\n--- tests: success, $0.0289 ---\n## Paging edge cases covered\n\n| test | checks |\n|---|---|\n| `limit_zero` | limit 0 |\n\nAll 6 tests pass.\n\n--- web: error (max turns), $0.0100 ---\nCould not finish the Prev button.\n",
    );
    assert!(t.cells()[0].is_expandable());
    let scroll = Scroll::default();
    let collapsed = screen(&t, &scroll, 50, 4).join("\n");
    insta::assert_snapshot!("relay_report_collapsed", collapsed);
    t.toggle(0);
    let expanded = screen(&t, &scroll, 50, 12).join("\n");
    insta::assert_snapshot!("relay_report_expanded", expanded);
}

/// The lines of a turn the user interrupted while an MCP tool ran (the CLI's own words, from
/// its captures): a Read that finished, the MCP call its server's death cut off, the CLI's
/// marker and its `error_during_execution` result.
fn interrupted_turn(t: &mut Transcript) {
    let decode = |l: &str| crate::agent::decode::decode_line(l);
    t.push_prompt("look around");
    t.apply(&assistant("m1", tool_use("r1", "Read", json!({"file_path": "/w/README.md"}))));
    t.apply(&tool_result("r1", "# agentmux", false));
    t.apply(&assistant("m2", tool_use("p1", "mcp__pw__browser_navigate", json!({"url": "x"}))));
    t.apply(&tool_result("p1", "MCP error -32000: Connection closed", true));
    t.apply(&decode(r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"[Request interrupted by user]"}]},"parent_tool_use_id":null,"session_id":"s"}"#));
    // 2.1.332's result after an interrupt.
    t.apply(&decode(r#"{"duration_api_ms":0,"stop_reason":null,"session_id":"s","total_cost_usd":0,"permission_denials":[],"terminal_reason":"aborted_streaming","is_error":true,"num_turns":2,"subtype":"error_during_execution","errors":["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"],"type":"result","duration_ms":130}"#));
}

/// An interrupted turn says so with what it had done, not the CLI's internals.
#[test]
fn an_interrupted_turn_says_what_it_had_done() {
    let mut t = Transcript::new();
    interrupted_turn(&mut t);
    let mut footer = t.result_footer().cloned().expect("a result arrived");
    footer.status = TurnStatus::Interrupted;
    t.end_turn(footer);
    assert_eq!(kinds(&t), ["prompt", "tool", "tool", "footer"]);
    assert!(!tool_of(&t.cells()[1]).cut);
    assert!(tool_of(&t.cells()[2]).cut);
    let shot = screen(&t, &Scroll::default(), 60, 5).join("\n");
    assert!(!shot.contains("ede_diagnostic") && !shot.contains("MCP error"), "{shot}");
    insta::assert_snapshot!(shot);
}

/// The same lines in a turn that failed on its own: the tool's error is an error, and the
/// CLI's diagnostic line is still not shown.
#[test]
fn a_failed_turn_keeps_its_errors_but_not_the_clis_diagnostics() {
    let mut t = Transcript::new();
    interrupted_turn(&mut t);
    let footer = t.result_footer().cloned().expect("a result arrived");
    t.end_turn(footer);
    assert_eq!(kinds(&t), ["prompt", "tool", "tool", "error", "footer"]);
    assert!(!tool_of(&t.cells()[2]).cut);
    let shot = screen(&t, &Scroll::default(), 60, 7).join("\n");
    assert!(shot.contains("MCP error -32000"), "{shot}");
    assert!(!shot.contains("ede_diagnostic"), "{shot}");
    insta::assert_snapshot!(shot);
}

/// The 2.1.29 capture of an interrupt: its stack traces are about the interrupt.
#[test]
fn the_real_interrupt_capture_shows_no_stack_traces() {
    let capture = include_str!("../../tests/fixtures/stream-json/foksa-2.1.29-interrupt.ndjson");
    let mut t = Transcript::new();
    t.push_prompt("hang");
    for line in capture.lines() {
        t.apply(&crate::agent::decode::decode_line(line));
    }
    t.end_turn(TurnFooter::new(TurnStatus::Interrupted));
    assert_eq!(kinds(&t).last(), Some(&"footer"));
    assert!(!kinds(&t).contains(&"error"), "{:?}", t.cells());
}

#[test]
fn interrupted_progress_in_words() {
    let cases = [
        ((0, 0), "interrupted"),
        ((0, 1), "interrupted during a tool call"),
        ((0, 2), "interrupted during 2 tool calls"),
        ((1, 0), "interrupted after 1 tool call"),
        ((3, 1), "interrupted after 3 tool calls, 1 cut off"),
    ];
    for ((done, cut), words) in cases {
        assert_eq!(Progress { done, cut }.interrupted(), words, "{done} done, {cut} cut");
    }
}

#[test]
fn what_an_interrupt_cut_off_and_what_the_cli_notes_for_itself() {
    use crate::agent::event::{cut_by_interrupt, is_diagnostic};
    let cut = [
        ("MCP error -32000: Connection closed", true),
        ("[Request interrupted by user for tool use]", true),
        ("MCP error -32602: Invalid arguments", false),
        ("Exit code 1\nConnection closed", false),
        ("", false),
    ];
    for (content, want) in cut {
        assert_eq!(cut_by_interrupt(content), want, "{content:?}");
    }
    assert!(is_diagnostic("[ede_diagnostic] result_type=user last_content_type=n/a"));
    assert!(!is_diagnostic("Error: Request was aborted."));
}
