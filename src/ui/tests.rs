//! Screens on TestBackend, as insta snapshots (text only; colours are checked where they carry
//! meaning).

use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::fixtures::*;
use crate::app::{update, Msg, State};

/// A supervisor and three workers: one finished with tools, one streaming, one failed.
fn busy_team(size: (u16, u16)) -> State {
    let mut s = state(true, &[("api", "backend"), ("web", "frontend"), ("docs", "writer")], size);
    let (lead, api, web, docs) = (s.agents[0].id, s.agents[1].id, s.agents[2].id, s.agents[3].id);
    // The lead finished a turn.
    full_turn(&mut s, 0, "Plan the release", "Three agents: api, web, docs.", &sid(0));
    let _ = lead;
    // api: a turn with tools, done.
    send(&mut s, 1, "Fix the failing test in src/lib.rs");
    update(&mut s, started(api, 1));
    update(
        &mut s,
        lines(
            api,
            1,
            vec![
                init(&sid(1), "none"),
                tool("t1", "Read", serde_json::json!({"file_path": "src/lib.rs"})),
                tool_result("t1", "fn add(a: i32, b: i32) -> i32 {\n    a - b\n}", false),
                tool("t2", "Bash", serde_json::json!({"command": "cargo test"})),
                tool_result("t2", "error: test failed", true),
                text("The `add` function subtracts. Fixed it;\nall 12 tests pass now."),
                result(&sid(1), "success", 0.0432),
            ],
        ),
    );
    update(&mut s, exited(api, 1, 0));
    // web: streaming right now, 12.3 s in.
    send(&mut s, 2, "Build the settings page");
    update(&mut s, started(web, 1));
    update(&mut s, lines(web, 1, vec![init(&sid(2), "ANTHROPIC_API_KEY")]));
    update(
        &mut s,
        lines(web, 1, vec![delta("I'll start with the form.\nFirst the "), delta("layout")]),
    );
    // docs: failed.
    send(&mut s, 3, "Write the changelog");
    update(
        &mut s,
        lines(docs, 1, vec![init(&sid(3), "none"), result(&sid(3), "error_max_turns", 0.01)]),
    );
    update(&mut s, exited(docs, 1, 1));
    advance(&mut s, Duration::from_millis(12_300));
    s.set_focus(1);
    s
}

#[test]
fn empty_team() {
    for size in [(80, 24), (160, 48)] {
        let s = state(false, &[], size);
        insta::assert_snapshot!(format!("empty_team_{}x{}", size.0, size.1), screen(&s));
    }
}

#[test]
fn several_panes_with_a_streaming_answer() {
    for size in [(80, 24), (160, 48)] {
        let s = busy_team(size);
        insta::assert_snapshot!(format!("streaming_{}x{}", size.0, size.1), screen(&s));
    }
}

#[test]
fn queued_follow_ups_are_shown_in_the_pane() {
    let mut s = busy_team((80, 24));
    send(&mut s, 2, "Also add a dark mode toggle");
    send(&mut s, 2, "And write tests for it\nwith two lines");
    type_text(&mut s, "draft in prog");
    let text = screen(&s);
    assert!(text.contains("queued 2"), "{text}");
    insta::assert_snapshot!("queued_80x24", text);
}

/// An interrupt leaves the queue waiting: the input says how to run it, and the flash that
/// said "interrupting" is gone once the turn has ended.
#[test]
fn a_queue_left_by_an_interrupt_says_how_to_resume() {
    let mut s = state(false, &[("api", "backend")], (70, 14));
    send(&mut s, 0, "Build the settings page");
    send(&mut s, 0, "Also add a dark mode toggle");
    let id = s.agents[0].id;
    update(&mut s, key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(screen(&s).contains("interrupting api…"));
    update(&mut s, exited(id, 1, 130));
    let text = screen(&s);
    assert!(text.contains("enter runs the queued follow-up"), "{text}");
    assert!(!text.contains("interrupting"), "{text}");
    insta::assert_snapshot!("queue_after_interrupt_70x14", text);
}

/// Three follow-ups queued, the second picked (alt-<): edit and cancel act on it.
#[test]
fn the_picked_queued_follow_up_is_marked() {
    let mut s = state(false, &[("api", "backend")], (60, 16));
    send(&mut s, 0, "Build the settings page");
    for q in ["Also add a dark mode toggle", "Then the tests", "And update the docs"] {
        send(&mut s, 0, q);
    }
    update(&mut s, key_mod(KeyCode::Char('<'), KeyModifiers::ALT));
    let text = screen(&s);
    assert!(text.contains("▸ 2. Then the tests"), "{text}");
    assert!(text.contains("⏸ 1.") && text.contains("⏸ 3."), "{text}");
    insta::assert_snapshot!("queue_second_picked_60x16", text);
}

#[test]
fn zoomed_pane() {
    let mut s = busy_team((80, 24));
    s.set_focus(2);
    update(&mut s, key_mod(KeyCode::Char('z'), KeyModifiers::ALT));
    insta::assert_snapshot!("zoom_80x24", screen(&s));
}

#[test]
fn stacked_panes() {
    let mut s = busy_team((80, 24));
    update(&mut s, key_mod(KeyCode::Char('s'), KeyModifiers::ALT));
    insta::assert_snapshot!("stacked_80x24", screen(&s));
}

#[test]
fn help_overlay() {
    for size in [(80, 24), (160, 48)] {
        let mut s = busy_team(size);
        update(&mut s, key(KeyCode::F(1)));
        insta::assert_snapshot!(format!("help_{}x{}", size.0, size.1), screen(&s));
    }
}

#[test]
fn new_agent_form() {
    let mut s = busy_team((80, 24));
    update(&mut s, key_mod(KeyCode::Char('n'), KeyModifiers::ALT));
    type_text(&mut s, "tests");
    update(&mut s, key(KeyCode::Tab));
    insta::assert_snapshot!("new_agent_80x24", screen(&s));
}

#[test]
fn quit_confirmation() {
    let mut s = busy_team((80, 24));
    update(&mut s, key_mod(KeyCode::Char('q'), KeyModifiers::CONTROL));
    insta::assert_snapshot!("quit_80x24", screen(&s));
}

#[test]
fn tiny_terminals() {
    let s = busy_team((20, 6));
    insta::assert_snapshot!("tiny_20x6", screen(&s));
    let s = busy_team((12, 3));
    insta::assert_snapshot!("too_small_12x3", screen(&s));
}

#[test]
fn many_agents_page_and_the_hint_line_says_so() {
    let names: Vec<(String, String)> =
        (0..12).map(|i| (format!("agent{i}"), String::new())).collect();
    let refs: Vec<(&str, &str)> = names.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    let mut s = state(true, &refs, (80, 24));
    let text = screen(&s);
    assert!(text.contains("page 1/"), "{text}");
    s.set_focus(12);
    let text = screen(&s);
    assert!(text.contains("agent11"), "the focused pane is on screen: {text}");
}

#[test]
fn every_size_draws_without_panicking() {
    let mut s = busy_team((80, 24));
    send(&mut s, 2, "queued one");
    type_text(&mut s, "typing");
    for w in 0..=100u16 {
        for h in 0..=30u16 {
            update(&mut s, Msg::Resize { width: w, height: h });
            let _ = screen(&s);
        }
    }
    // With every overlay too.
    for open in [key(KeyCode::F(1)), key_mod(KeyCode::Char('n'), KeyModifiers::ALT)] {
        let mut s = busy_team((80, 24));
        update(&mut s, open);
        for (w, h) in [(20, 6), (21, 7), (25, 5), (30, 10), (0, 0), (1, 1)] {
            update(&mut s, Msg::Resize { width: w, height: h });
            let _ = screen(&s);
        }
    }
}

/// Found by the e2e resize test under load: the terminal shrank to 20x6, ratatui drew a frame at
/// that size before the Resize event reached the state, and the panes laid out for 140x40
/// indexed outside the buffer (a panic that took the app down).
#[test]
fn a_frame_of_another_size_than_the_last_resize_does_not_panic() {
    let mut s = busy_team((140, 40));
    send(&mut s, 2, "queued one");
    for (w, h) in [(20, 6), (12, 3), (0, 0), (200, 60), (140, 39)] {
        let mut t = match Terminal::new(TestBackend::new(w, h)) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        if let Err(e) = t.draw(|f| super::view(&s, f)) {
            panic!("{e}");
        }
    }
    // Once the Resize arrives the frame is drawn in full again.
    update(&mut s, Msg::Resize { width: 20, height: 6 });
    assert!(screen(&s).contains('┏'), "{}", screen(&s));
}

#[test]
fn a_scrolled_pane_says_how_much_waits_below() {
    let mut s = state(false, &[("a", "")], (80, 24));
    for i in 0..20 {
        full_turn(&mut s, 0, &format!("question {i}"), "answer", &sid(1));
    }
    send(&mut s, 0, "and now?");
    let id = s.agents[0].id;
    update(&mut s, key(KeyCode::PageUp));
    let below = s.viewport(0).height - 1;
    let shown = screen(&s);
    assert!(shown.contains(&format!("↓ {below} more lines")), "{shown}");
    // Output arriving while scrolled up is counted as new, and the view stays put.
    let top = s.agents[0].scroll.top(s.viewport(0));
    update(&mut s, lines(id, 21, vec![text("line one\n\nline two")]));
    assert_eq!(s.agents[0].scroll.top(s.viewport(0)), top);
    let shown = screen(&s);
    assert!(shown.contains("new lines"), "{shown}");
    update(&mut s, key_mod(KeyCode::End, KeyModifiers::CONTROL));
    assert!(!screen(&s).contains("↓"));
}

#[test]
fn expanding_a_call_while_scrolled_up_is_not_new_lines() {
    let mut s = state(false, &[("a", "")], (80, 20));
    let id = s.agents[0].id;
    send(&mut s, 0, "list the files");
    let listing: String = (0..30).map(|i| format!("file{i}.txt\n")).collect();
    let events = vec![
        init(&sid(1), "none"),
        tool("t1", "Bash", serde_json::json!({"command": "ls"})),
        tool_result("t1", &listing, false),
        text("Thirty files."),
    ];
    update(&mut s, lines(id, 1, events));
    update(&mut s, exited(id, 1, 0));
    for i in 0..10 {
        full_turn(&mut s, 0, &format!("question {i}"), "answer", &sid(1));
    }
    update(&mut s, key(KeyCode::PageUp));
    for _ in 0..12 {
        update(&mut s, key_mod(KeyCode::Char(','), KeyModifiers::ALT));
    }
    update(&mut s, key_mod(KeyCode::Char('o'), KeyModifiers::CONTROL));
    let shown = screen(&s);
    assert!(shown.contains("file0.txt"), "the call is open: {shown}");
    assert!(!shown.contains("new line"), "{shown}");
    assert!(shown.contains("more lines"), "{shown}");
}

#[test]
fn a_tool_call_expands_and_collapses() {
    let mut s = busy_team((80, 24));
    s.set_focus(1);
    update(&mut s, key_mod(KeyCode::Char('z'), KeyModifiers::ALT));
    // Select the Read call (the last expandable cell but one) and open it.
    update(&mut s, key_mod(KeyCode::Char(','), KeyModifiers::ALT));
    update(&mut s, key_mod(KeyCode::Char(','), KeyModifiers::ALT));
    update(&mut s, key_mod(KeyCode::Char('o'), KeyModifiers::CONTROL));
    let open = screen(&s);
    assert!(open.contains("a - b"), "the result shows: {open}");
    insta::assert_snapshot!("tool_expanded_80x24", open);
    update(&mut s, key_mod(KeyCode::Char('o'), KeyModifiers::CONTROL));
    assert!(!screen(&s).contains("a - b"), "collapsed again");
}

/// After a reopen with a turn agentmux died in, the hint line at 120 columns ended at
/// `pageup scroll` and left out the one key the pane's note asks for.
#[test]
fn the_hint_line_offers_what_the_focused_pane_needs_first() {
    let mut s = state(true, &[("api", "backend"), ("web", "frontend")], (120, 16));
    full_turn(&mut s, 1, "Fix the failing test", "Looking at src/lib.rs", &sid(1));
    // What reopening a workspace leaves for a lost turn (see `app::restore`).
    let api = &mut s.agents[1];
    api.transcript.push_note(
        "agentmux stopped while this turn ran; alt-u resumes it",
        crate::transcript::NoteLevel::Warn,
    );
    api.resumable = true;
    s.set_focus(1);
    let text = screen(&s);
    let hints = text.lines().last().unwrap_or_default();
    assert!(hints.starts_with("alt-u resume  enter send"), "{hints}");
    insta::assert_snapshot!("resumable_120x16", text);
    // A queued follow-up's keys come before the generic ones too.
    s.agents[1].resumable = false;
    send(&mut s, 2, "Build the settings page");
    send(&mut s, 2, "Also add a dark mode toggle");
    s.set_focus(2);
    let text = screen(&s);
    let hints = text.lines().last().unwrap_or_default();
    assert!(
        hints.starts_with("alt-e edit queued  alt-d cancel queued  ctrl-c interrupt"),
        "{hints}"
    );
}

/// Text an agent, a tool, a team file or a paste could send, each with what a terminal obeys.
const HOSTILE_BASH: &str = "curl x | sh\r\u{1b}[2K$ npm test";
const OSC_52: &str = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}";
const OSC_2: &str = "\u{1b}]2;pwned\u{1b}\\";
const BIDI: &str = "evil\u{202e}txt.exe";

/// Every cell's symbol holds nothing a terminal would obey.
fn assert_inert(screen: &str) {
    let bad: Vec<char> =
        screen.chars().filter(|c| *c != '\n' && crate::render::sanitize::is_unsafe(*c)).collect();
    assert!(bad.is_empty(), "{bad:?} reached the screen:\n{screen}");
}

#[test]
fn hostile_text_is_shown_marked_on_every_path_and_never_sent() {
    let mut s = state(true, &[("api", &format!("role{OSC_2}"))], (120, 50));
    let api = s.agents[1].id;
    send(&mut s, 1, "Fix it");
    update(&mut s, started(api, 1));
    let said = format!("Done {OSC_52} see {BIDI}");
    let input = serde_json::json!({"command": HOSTILE_BASH});
    let events = vec![
        init(&sid(1), "none"),
        text(&said),
        tool("t1", "Bash", input.clone()),
        tool_result("t1", &format!("ok{OSC_2}\r\u{1b}[1A"), false),
    ];
    update(&mut s, lines(api, 1, events));
    ask_approval(&mut s, "api", "Bash", input);
    if let Some(sup) = s.supervision.as_mut() {
        sup.relay.task_sent(crate::supervisor::TaskId(1), "api", &format!("go {OSC_52}{BIDI}"), 0);
    }
    s.flash = Some(format!("flash {OSC_2}"));
    s.set_focus(1);
    update(&mut s, Msg::Paste(format!("pasted {OSC_52} {BIDI}")));

    let text = screen(&s);
    assert_inert(&text);
    for mark in ["sh^M␛[2K$ npm test", "pasted ␛]52;c;", "evil\\u{202e}txt"] {
        assert!(text.contains(mark), "{mark:?} not shown:\n{text}");
    }
    assert!(text.contains("⚠ holds control or invisible characters"), "{text}");
    let header = super::header::header_line(&s, &s.agents[1], 200).to_string();
    assert!(header.contains("role␛]2;pwned␛\\"), "{header}");
    // The board and the flash, in their own frames.
    s.set_focus(0);
    let board = screen(&s);
    assert_inert(&board);
    assert!(board.contains("go ␛]52;c;cm0gLXJmIH4=^G"), "{board}");
    assert!(board.contains("flash ␛]2;pwned"), "{board}");
}

/// An agent waiting on `command`, its pane focused and empty.
fn bash_waits(command: &str, size: (u16, u16)) -> (State, crate::app::RequestId) {
    let mut s = state(false, &[("api", "backend")], size);
    let api = s.agents[0].id;
    send(&mut s, 0, "Clean up");
    update(&mut s, started(api, 1));
    update(&mut s, lines(api, 1, vec![init(&sid(1), "none"), text("Cleaning.")]));
    let input = serde_json::json!({"command": command});
    let rx = ask_approval(&mut s, "api", "Bash", input);
    (s, rx)
}

#[test]
fn typing_a_follow_up_while_a_call_waits_answers_nothing() {
    let (mut s, id) = bash_waits("rm -rf build", (80, 24));
    let fx = type_text(&mut s, "also check logs");
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(decision(id), None, "the call is still waiting");
    assert_eq!(s.approvals.waiting(), 1);
    assert_eq!(s.agents[0].input_text(), "also check logs", "every letter was typed");
    assert!(s.agents[0].spec.options.allowed_tools.iter().flatten().next().is_none(), "no rule");
    // Enter queues the follow-up; the call still waits for a chord.
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.approvals.waiting(), 1);
    assert_eq!(s.agents[0].queue.len(), 1);
    insta::assert_snapshot!(screen(&s));
    update(&mut s, allow_once());
    assert_eq!(s.approvals.waiting(), 0, "alt-y answers it");
}

#[test]
fn a_long_call_is_shown_whole_and_scrolls() {
    let command: Vec<String> = (1..=40).map(|i| format!("echo step {i}")).collect();
    let (mut s, _) = bash_waits(&command.join("\n"), (80, 24));
    let text = screen(&s);
    assert!(text.contains("rows 1-"), "{text}");
    assert!(text.contains("of 40 · pageup pagedown"), "{text}");
    assert!(text.contains("pagedown scroll"), "the hint says how: {text}");
    for _ in 0..10 {
        update(&mut s, key(KeyCode::PageDown));
    }
    let text = screen(&s);
    assert!(text.contains("  echo step 40"), "the last line is reachable: {text}");
    assert!(text.contains("of 40"), "{text}");
    insta::assert_snapshot!(text);
    for _ in 0..10 {
        update(&mut s, key(KeyCode::PageUp));
    }
    assert!(screen(&s).contains("$ echo step 1\n") || screen(&s).contains("$ echo step 1 "));
}

/// The limits line on the hint row's right: each window's use and the five-hour reset, in the
/// colour of how near it is; 2.1.197's report (no use) as its status and reset.
#[test]
fn the_status_bar_shows_the_usage_windows() {
    let mut s = state(false, &[("api", "backend"), ("web", "frontend")], (100, 12));
    s.wall = WALL;
    let api = s.agents[0].id;
    send(&mut s, 0, "hi");
    update(&mut s, lines(api, 1, vec![windows_line(0.85, 0.3)]));
    let text = screen(&s);
    let last = text.lines().last().unwrap_or_default().to_string();
    assert!(last.ends_with("5h 85% ↺10:33 · 7d 30% · 1 running"), "{last}");
    insta::assert_snapshot!(text);
    let cell_fg = |s: &State, needle: &str| {
        let mut t = Terminal::new(TestBackend::new(100, 12)).unwrap_or_else(|e| panic!("{e}"));
        t.draw(|f| crate::ui::view(s, f)).unwrap_or_else(|e| panic!("{e}"));
        let buf = t.backend().buffer();
        let row: String = (0..100).map(|x| buf[(x, 11)].symbol()).collect();
        let x = row.find(needle).map(|b| row[..b].chars().count()).unwrap_or(0) as u16;
        buf[(x, 11)].fg
    };
    use ratatui::style::Color;
    assert_eq!(cell_fg(&s, "5h"), Color::Yellow);
    assert_eq!(cell_fg(&s, "7d"), Color::Gray);
    update(&mut s, lines(api, 1, vec![windows_line(0.93, 0.3)]));
    assert_eq!(cell_fg(&s, "5h"), Color::LightRed);
    // 2.1.197 tells the status and the reset alone.
    let mut s = state(false, &[("api", "backend")], (100, 12));
    s.wall = WALL;
    let api = s.agents[0].id;
    send(&mut s, 0, "hi");
    let v197 = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1796293980,"rateLimitType":"five_hour","isUsingOverage":false},"uuid":"u","session_id":"s"}"#;
    update(&mut s, lines(api, 1, vec![cli_line(v197)]));
    let text = screen(&s);
    assert!(text.trim_end().ends_with("5h ok ↺10:33 · 1 running"), "{text}");
    // Once the reset passed, the use is unknown.
    advance(&mut s, Duration::from_secs(3600 + 33 * 60));
    let text = screen(&s);
    assert!(text.trim_end().ends_with("5h ? · 1 running"), "{text}");
}

/// The whole buffer (symbols and styles) that `view` draws for `state`.
fn buffer_of(state: &State) -> ratatui::buffer::Buffer {
    let (w, h) = state.size;
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
    t.draw(|f| crate::ui::view(state, f)).unwrap_or_else(|e| panic!("{e}"));
    t.backend().buffer().clone()
}

/// State is plain data: a copy of it draws the very same screen, colours included, and it
/// stays as it was while the original moves on (no handle shared between the two).
#[test]
fn a_cloned_state_draws_the_same_screen_and_keeps_it() {
    let mut s = busy_team((120, 36));
    let _waits = ask_approval(&mut s, "web", "Bash", serde_json::json!({"command": "npm test"}));
    let copy = s.clone();
    assert!(format!("{copy:?}").contains("npm test"), "Debug shows the state's data");
    let before = buffer_of(&s);
    assert_eq!(buffer_of(&copy), before);
    insta::assert_snapshot!(screen(&copy));
    let web = s.agents[2].id;
    update(&mut s, lines(web, 1, vec![delta(" and then the fields.")]));
    update(&mut s, allow_once());
    assert_ne!(buffer_of(&s), before, "the original moved on");
    assert_eq!(buffer_of(&copy), before, "the copy did not");
}
