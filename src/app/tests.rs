//! Update logic: what each message does to the state and which effects it asks for.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::fixtures::*;
use super::state::{Confirm, Overlay};
use super::{
    update, ControlCmd, ControlError, ControlOk, Effect, Msg, RequestId, State, TurnState,
};
use crate::agent::{Billing, Origin, SessionArg};
use crate::layout::Arrangement;

fn has_quit(fx: &[Effect]) -> bool {
    fx.iter().any(|e| matches!(e, Effect::Quit))
}

fn interrupts(fx: &[Effect]) -> usize {
    fx.iter().filter(|e| matches!(e, Effect::Interrupt { .. })).count()
}

#[test]
fn the_first_agent_has_the_focus_and_the_supervisor_when_alone() {
    let s = state(true, &[("api", "backend"), ("web", "frontend")], (80, 24));
    assert_eq!(s.focused().map(|a| a.name()), Some("api"));
    assert!(s.agents[0].supervisor);
    let s = state(true, &[], (80, 24));
    assert_eq!(s.focused().map(|a| a.name()), Some("lead"));
    let s = state(false, &[("api", "backend")], (80, 24));
    assert_eq!(s.focus, 0);
}

#[test]
fn sending_starts_a_turn_with_a_fresh_session_then_resumes_the_adopted_one() {
    let mut s = state(false, &[("api", "backend")], (80, 24));
    let fx = send(&mut s, 0, "hello");
    let reqs = spawned(&fx);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].prompt, "hello");
    assert_eq!(reqs[0].turn, 1);
    assert!(reqs[0].extra_env.contains(&("AGENTMUX_AGENT".into(), "api".into())));
    let Some(SessionArg::New(fresh)) = session_arg(&fx) else { panic!("expected a new session") };
    assert!(uuid::Uuid::parse_str(&fresh).is_ok());
    assert!(s.agents[0].input_is_empty(), "the input is cleared");
    assert!(matches!(s.agents[0].turn, TurnState::Starting { .. }));

    // The CLI reports another id: adopt it, and resume that one next time.
    let id = s.agents[0].id;
    update(&mut s, started(id, 1));
    assert!(matches!(s.agents[0].turn, TurnState::Running { .. }));
    let fx = update(&mut s, lines(id, 1, vec![init(&sid(7), "none")]));
    assert!(fx.iter().any(|e| matches!(e, Effect::Persist)));
    assert_eq!(s.agents[0].session.as_deref(), Some(sid(7).as_str()));
    assert_eq!(s.agents[0].billing, Some(Billing::Subscription));
    update(&mut s, lines(id, 1, vec![result(&sid(7), "success", 0.5)]));
    update(&mut s, exited(id, 1, 0));
    assert_eq!(s.agents[0].turn, TurnState::Idle);
    assert_eq!(s.agents[0].turns, 1);
    assert!((s.agents[0].cost_usd - 0.5).abs() < 1e-9);
    assert_eq!(s.agents[0].tokens, 1540);

    let fx = send(&mut s, 0, "again");
    assert_eq!(session_arg(&fx), Some(SessionArg::Resume(sid(7))));
    assert_eq!(spawned(&fx)[0].turn, 2);
}

#[test]
fn huge_token_counts_and_costs_saturate_instead_of_overflowing() {
    let mut s = state(false, &[("api", "")], (80, 24));
    let id = s.agents[0].id;
    let huge = |cost: f64| {
        let mut r = result(&sid(1), "success", cost);
        if let crate::agent::Event::Result(r) = &mut r {
            let max = u64::MAX;
            r.usage = Some(crate::agent::event::Usage {
                input_tokens: max,
                output_tokens: max,
                cache_creation_input_tokens: max,
                cache_read_input_tokens: max,
            });
        }
        r
    };
    for (turn, cost) in [(1, f64::MAX), (2, f64::MAX), (3, f64::NAN), (4, -5.0)] {
        send(&mut s, 0, "go");
        update(&mut s, lines(id, turn, vec![huge(cost)]));
        update(&mut s, exited(id, turn, 0));
    }
    assert_eq!(s.agents[0].tokens, u64::MAX);
    assert_eq!(s.agents[0].cost_usd, f64::MAX, "finite, and no NaN or negative cost got in");
    assert_eq!(s.agents[0].turns, 4);
}

#[test]
fn a_failed_first_turn_starts_a_new_session_next_time() {
    let mut s = state(false, &[("api", "")], (80, 24));
    let fx = send(&mut s, 0, "hello");
    let id = s.agents[0].id;
    update(&mut s, Msg::SpawnFailed { agent: id, turn: 1, error: "no such dir".into() });
    assert_eq!(s.agents[0].turn, TurnState::Error { message: "no such dir".into() });
    let first = session_arg(&fx);
    let fx = send(&mut s, 0, "hello again");
    let second = session_arg(&fx);
    assert!(matches!(second, Some(SessionArg::New(_))));
    assert_ne!(first, second, "a fresh id, not one the CLI never saw");
}

#[test]
fn a_session_the_cli_does_not_know_is_dropped() {
    let mut s = state(false, &[("api", "")], (80, 24));
    full_turn(&mut s, 0, "hi", "hello", &sid(1));
    send(&mut s, 0, "more");
    let id = s.agents[0].id;
    let mut r = result(&sid(1), "error_during_execution", 0.0);
    if let crate::agent::Event::Result(r) = &mut r {
        r.errors = vec![format!("No conversation found with session ID: {}", sid(1))];
    }
    update(&mut s, lines(id, 2, vec![r]));
    update(&mut s, exited(id, 2, 1));
    assert!(matches!(s.agents[0].turn, TurnState::Error { .. }));
    let fx = send(&mut s, 0, "retry");
    assert!(matches!(session_arg(&fx), Some(SessionArg::New(_))));
}

#[test]
fn sending_while_running_queues_and_the_end_of_the_turn_starts_the_next() {
    let mut s = state(false, &[("api", "")], (80, 24));
    send(&mut s, 0, "first");
    let id = s.agents[0].id;
    update(&mut s, started(id, 1));
    let fx = send(&mut s, 0, "second");
    assert!(spawned(&fx).is_empty(), "nothing starts while a turn runs");
    send(&mut s, 0, "third");
    assert_eq!(s.agents[0].queue, ["second", "third"]);

    update(&mut s, lines(id, 1, vec![init(&sid(1), "none"), result(&sid(1), "success", 0.1)]));
    let fx = update(&mut s, exited(id, 1, 0));
    let reqs = spawned(&fx);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].prompt, "second");
    assert_eq!(reqs[0].session, SessionArg::Resume(sid(1)));
    assert_eq!(s.agents[0].queue, ["third"]);
    assert!(s.agents[0].turn.is_active());
}

#[test]
fn stale_engine_messages_are_ignored() {
    let mut s = state(false, &[("api", "")], (80, 24));
    send(&mut s, 0, "first");
    let id = s.agents[0].id;
    update(&mut s, exited(id, 7, 1));
    assert!(s.agents[0].turn.is_active(), "an old turn's exit changes nothing");
    update(&mut s, lines(crate::agent::AgentId(99), 1, vec![text("who?")]));
}

#[test]
fn queued_follow_ups_can_be_edited_and_cancelled() {
    let mut s = state(false, &[("api", "")], (80, 24));
    send(&mut s, 0, "first");
    send(&mut s, 0, "second");
    send(&mut s, 0, "third");
    update(&mut s, key_mod(KeyCode::Char('d'), KeyModifiers::ALT));
    assert_eq!(s.agents[0].queue, ["second"]);
    update(&mut s, key_mod(KeyCode::Char('e'), KeyModifiers::ALT));
    assert!(s.agents[0].queue.is_empty());
    assert_eq!(s.agents[0].input_text(), "second");
    type_text(&mut s, " edited");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.agents[0].queue, ["second edited"]);
}

fn alt(c: char) -> Msg {
    key_mod(KeyCode::Char(c), KeyModifiers::ALT)
}

fn persists(fx: &[Effect]) -> bool {
    fx.iter().any(|e| matches!(e, Effect::Persist))
}

/// Three follow-ups queued behind a running turn.
fn three_queued() -> State {
    let mut s = state(false, &[("api", "")], (80, 24));
    send(&mut s, 0, "first");
    for q in ["one", "two", "three"] {
        send(&mut s, 0, q);
    }
    assert_eq!(s.agents[0].queue, ["one", "two", "three"]);
    s
}

#[test]
fn an_earlier_queued_follow_up_can_be_picked_and_cancelled() {
    let mut s = three_queued();
    assert_eq!(s.agents[0].queue.picked(), Some(2), "the last by default");
    update(&mut s, alt('<'));
    assert_eq!(s.agents[0].queue.picked(), Some(1));
    let fx = update(&mut s, alt('d'));
    assert!(persists(&fx), "the queue on disk follows");
    assert_eq!(s.agents[0].queue, ["one", "three"]);
    // Twice more up (the second is refused at the top), then cancel the first.
    update(&mut s, alt('<'));
    update(&mut s, alt('<'));
    assert_eq!(s.agents[0].queue.picked(), Some(0));
    update(&mut s, alt('d'));
    assert_eq!(s.agents[0].queue, ["three"]);
    // Down past the last stays on it.
    update(&mut s, alt('>'));
    update(&mut s, alt('d'));
    assert!(s.agents[0].queue.is_empty());
    update(&mut s, alt('<'));
    assert_eq!(s.flash.as_deref(), Some("nothing queued"));
}

#[test]
fn an_earlier_queued_follow_up_is_edited_in_its_place() {
    let mut s = three_queued();
    update(&mut s, alt('<'));
    update(&mut s, alt('<'));
    update(&mut s, alt('>'));
    let fx = update(&mut s, alt('e'));
    assert!(persists(&fx));
    assert_eq!(s.agents[0].input_text(), "two");
    assert_eq!(s.agents[0].queue, ["one", "three"]);
    type_text(&mut s, " edited");
    let fx = update(&mut s, key(KeyCode::Enter));
    assert!(spawned(&fx).is_empty() && persists(&fx));
    assert_eq!(s.agents[0].queue, ["one", "two edited", "three"], "back in its place");
    // The next follow-up typed goes to the end as always.
    send(&mut s, 0, "four");
    assert_eq!(s.agents[0].queue, ["one", "two edited", "three", "four"]);
}

#[test]
fn an_edited_follow_up_keeps_its_place_as_the_queue_drains() {
    let mut s = three_queued();
    let id = s.agents[0].id;
    update(&mut s, alt('<'));
    update(&mut s, alt('e'));
    assert_eq!(s.agents[0].input_text(), "two");
    // The turn ends while the user edits: "one" goes out.
    update(&mut s, lines(id, 1, vec![init(&sid(1), "none"), result(&sid(1), "success", 0.1)]));
    let fx = update(&mut s, exited(id, 1, 0));
    assert_eq!(spawned(&fx)[0].prompt, "one");
    assert_eq!(s.agents[0].queue, ["three"]);
    type_text(&mut s, "!");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.agents[0].queue, ["two!", "three"], "still before three");
    // Once the agent is idle, an edited follow-up starts at once.
    update(&mut s, alt('<'));
    update(&mut s, alt('e'));
    update(&mut s, lines(id, 2, vec![result(&sid(1), "success", 0.1)]));
    update(&mut s, exited(id, 2, 0));
    update(&mut s, lines(id, 3, vec![result(&sid(1), "success", 0.1)]));
    update(&mut s, exited(id, 3, 0));
    assert!(!s.agents[0].turn.is_active());
    let fx = update(&mut s, key(KeyCode::Enter));
    assert_eq!(spawned(&fx)[0].prompt, "two!");
    assert!(!s.agents[0].queue.is_editing());
}

#[test]
fn an_interrupt_stops_the_turn_and_keeps_the_queue_for_later() {
    let mut s = state(false, &[("api", "")], (80, 24));
    send(&mut s, 0, "first");
    send(&mut s, 0, "second");
    let id = s.agents[0].id;
    let fx = update(&mut s, key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(interrupts(&fx), 1);
    let fx = update(&mut s, exited(id, 1, 130));
    assert_eq!(s.agents[0].turn, TurnState::Interrupted);
    assert!(spawned(&fx).is_empty(), "the queue waits after an interrupt");
    assert_eq!(s.agents[0].queue.len(), 1);
    // An empty Enter starts it.
    let fx = update(&mut s, key(KeyCode::Enter));
    assert_eq!(spawned(&fx)[0].prompt, "second");
    // Ctrl-C on an idle agent clears the input.
    let id_turn = s.agents[0].turn_seq;
    update(&mut s, exited(id, id_turn, 0));
    type_text(&mut s, "draft");
    let fx = update(&mut s, key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(interrupts(&fx), 0);
    assert!(s.agents[0].input_is_empty());
}

#[test]
fn turn_outcomes() {
    let mut s = state(false, &[("api", "")], (80, 24));
    let id = s.agents[0].id;
    // A failed result.
    send(&mut s, 0, "a");
    update(&mut s, lines(id, 1, vec![result(&sid(1), "error_max_turns", 0.0)]));
    update(&mut s, exited(id, 1, 1));
    assert_eq!(
        s.agents[0].turn,
        TurnState::Error { message: "reached the maximum number of turns".into() }
    );
    // No result and a failing exit: the tail says why.
    send(&mut s, 0, "b");
    update(
        &mut s,
        Msg::Engine(crate::agent::EngineMsg::Exited {
            agent: id,
            turn: 2,
            exit: crate::agent::ExitInfo {
                code: Some(1),
                signal: None,
                tail: vec!["Error: bad flag".into(), "".into()],
            },
        }),
    );
    assert_eq!(s.agents[0].turn, TurnState::Error { message: "Error: bad flag".into() });
    // Said once, by the footer with the exit code; the tail line was not shown as
    // output here, so the footer names it.
    let footer = |s: &super::State| match s.agents[0].transcript.cells().last().map(|c| &c.kind) {
        Some(crate::transcript::CellKind::Footer(f)) => f.status.clone(),
        other => panic!("no footer: {other:?}"),
    };
    assert_eq!(
        footer(&s),
        crate::transcript::TurnStatus::Failed("Error: bad flag (exit 1)".into())
    );
    // A start failure whose line is on screen: no error cell, the footer says "exit 3".
    send(&mut s, 0, "b2");
    update(
        &mut s,
        Msg::Engine(crate::agent::EngineMsg::Lines {
            agent: id,
            turn: 3,
            lines: vec![(String::new(), crate::agent::Line::Text("boom: cannot start".into()))],
            ticket: Default::default(),
        }),
    );
    update(
        &mut s,
        Msg::Engine(crate::agent::EngineMsg::Exited {
            agent: id,
            turn: 3,
            exit: crate::agent::ExitInfo {
                code: Some(3),
                signal: None,
                tail: vec!["boom: cannot start".into()],
            },
        }),
    );
    assert_eq!(footer(&s), crate::transcript::TurnStatus::Failed("exit 3".into()));
    let t = &s.agents[0].transcript;
    let since_prompt: Vec<_> = t.cells().iter().rev().take(2).collect();
    assert!(matches!(since_prompt[1].kind, crate::transcript::CellKind::Output(_)));
    // A rate limit refusal.
    send(&mut s, 0, "c");
    let rl = crate::agent::Event::RateLimit(crate::agent::event::RateLimitEvent {
        status: Some("rejected".into()),
        resets_at: Some(1_800_000_000),
        ..Default::default()
    });
    update(&mut s, lines(id, 4, vec![rl]));
    update(&mut s, exited(id, 4, 1));
    assert_eq!(s.agents[0].turn, TurnState::RateLimited { resets_at: Some(1_800_000_000) });
    assert_eq!(s.agents[0].rate_limit.as_deref(), Some("rejected"));
    // Its prompt is kept to run again; the user sends it now (resume).
    assert_eq!(s.agents[0].queue.iter().collect::<Vec<_>>(), ["c"]);
    let fx = update(&mut s, key_mod(KeyCode::Char('u'), KeyModifiers::ALT));
    assert_eq!(spawned(&fx).first().map(|r| r.prompt.as_str()), Some("c"));
    // Per-token billing from the init event.
    update(&mut s, lines(id, 5, vec![init(&sid(2), "ANTHROPIC_API_KEY")]));
    assert_eq!(s.agents[0].billing, Some(Billing::Api));
}

/// The engine's lifecycle decides how a turn ended (an exit with no result line fails),
/// so the pane, `agentmux wait` and the relay agree even when the CLI exits 0.
#[test]
fn an_exit_without_a_result_is_a_failure_even_with_code_zero() {
    let mut s = state(false, &[("api", "")], (80, 24));
    let id = s.agents[0].id;
    send(&mut s, 0, "a");
    update(&mut s, exited(id, 1, 0));
    assert_eq!(
        s.agents[0].turn,
        TurnState::Error { message: "exited with code 0 without a result".into() }
    );
    // A clean result with a failing exit code is a failure too.
    send(&mut s, 0, "b");
    update(&mut s, lines(id, 2, vec![result(&sid(1), "success", 0.01)]));
    update(&mut s, exited(id, 2, 1));
    assert_eq!(s.agents[0].turn, TurnState::Error { message: "exited with code 1".into() });
}

#[test]
fn history_recalls_earlier_prompts_on_an_empty_input() {
    let mut s = state(false, &[("api", "")], (80, 24));
    full_turn(&mut s, 0, "one", "1", &sid(1));
    full_turn(&mut s, 0, "two", "2", &sid(1));
    update(&mut s, key(KeyCode::Up));
    assert_eq!(s.agents[0].input_text(), "two");
    update(&mut s, key(KeyCode::Up));
    assert_eq!(s.agents[0].input_text(), "one");
    update(&mut s, key(KeyCode::Up));
    assert_eq!(s.agents[0].input_text(), "one", "stays at the oldest");
    update(&mut s, key(KeyCode::Down));
    assert_eq!(s.agents[0].input_text(), "two");
    update(&mut s, key(KeyCode::Down));
    assert!(s.agents[0].input_is_empty(), "past the newest: empty again");
    // With text typed, Up moves the cursor instead.
    type_text(&mut s, "draft");
    update(&mut s, key(KeyCode::Up));
    assert_eq!(s.agents[0].input_text(), "draft");
}

#[test]
fn ctrl_c_on_an_idle_pane_keeps_the_draft_for_up_and_history_is_per_pane() {
    let mut s = state(false, &[("api", ""), ("web", "")], (120, 40));
    let ctrl_c = || key_mod(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let first = s.focus;
    full_turn(&mut s, first, "one", "1", &sid(1));
    type_text(&mut s, "a long draft");
    update(&mut s, ctrl_c());
    assert!(s.agents[first].input_is_empty());
    assert_eq!(s.flash.as_deref(), Some("input cleared (up brings it back)"));
    update(&mut s, key(KeyCode::Up));
    assert_eq!(s.agents[first].input_text(), "a long draft");
    update(&mut s, key(KeyCode::Up));
    assert_eq!(s.agents[first].input_text(), "one");
    // Another pane has a history of its own.
    update(&mut s, key(KeyCode::Tab));
    assert_ne!(s.focus, first);
    update(&mut s, key(KeyCode::Up));
    assert!(s.focused().is_some_and(|a| a.input_is_empty()), "nothing sent from here");
}

#[test]
fn newlines_and_pastes_keep_lines() {
    let mut s = state(false, &[("api", "")], (80, 24));
    type_text(&mut s, "a");
    update(&mut s, key_mod(KeyCode::Enter, KeyModifiers::ALT));
    type_text(&mut s, "b");
    update(&mut s, key_mod(KeyCode::Enter, KeyModifiers::SHIFT));
    update(&mut s, Msg::Paste("c\r\nd\re".into()));
    assert_eq!(s.agents[0].input_text(), "a\nb\nc\nd\ne");
    let fx = update(&mut s, key(KeyCode::Enter));
    assert_eq!(spawned(&fx)[0].prompt, "a\nb\nc\nd\ne");
}

#[test]
fn focus_cycles_moves_by_direction_and_follows_clicks() {
    // 160x48: the lead's column on the left, three workers beside it.
    let mut s = state(true, &[("a", ""), ("b", ""), ("c", "")], (160, 48));
    assert_eq!(s.focus, 1);
    update(&mut s, key(KeyCode::Tab));
    assert_eq!(s.focus, 2);
    update(&mut s, key_mod(KeyCode::BackTab, KeyModifiers::SHIFT));
    update(&mut s, key_mod(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(s.focus, 0);
    update(&mut s, key_mod(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(s.focus, 3, "wraps");
    update(&mut s, key_mod(KeyCode::Left, KeyModifiers::ALT));
    assert_eq!(s.focus, 0, "left of any worker is the lead");
    update(&mut s, key_mod(KeyCode::Right, KeyModifiers::ALT));
    assert_ne!(s.focus, 0);
    // A click on the lead's column.
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 2,
        row: 5,
        modifiers: KeyModifiers::NONE,
    };
    update(&mut s, Msg::Mouse(click));
    assert_eq!(s.focus, 0);
}

#[test]
fn the_wheel_scrolls_the_pane_under_the_mouse() {
    let mut s = state(false, &[("a", ""), ("b", "")], (80, 24));
    for i in 0..50 {
        full_turn(&mut s, 1, &format!("q{i}"), "answer", &sid(1));
    }
    s.set_focus(0);
    let wheel =
        |kind| Msg::Mouse(MouseEvent { kind, column: 60, row: 5, modifiers: KeyModifiers::NONE });
    update(&mut s, wheel(MouseEventKind::ScrollUp));
    assert!(!s.agents[1].scroll.is_following());
    assert!(s.agents[0].scroll.is_following());
    update(&mut s, wheel(MouseEventKind::ScrollDown));
    assert!(s.agents[1].scroll.is_following(), "back at the bottom: following again");
}

#[test]
fn scroll_keys_move_the_focused_pane() {
    let mut s = state(false, &[("a", "")], (80, 24));
    for i in 0..30 {
        full_turn(&mut s, 0, &format!("q{i}"), "answer", &sid(1));
    }
    update(&mut s, key(KeyCode::PageUp));
    let v = s.viewport(0);
    assert!(v.total > v.height * 2, "{v:?}");
    assert_eq!(s.agents[0].scroll.lines_below(v), v.height - 1, "a page keeps a line");
    update(&mut s, key_mod(KeyCode::Home, KeyModifiers::CONTROL));
    assert_eq!(s.agents[0].scroll.top(v), 0);
    update(&mut s, key_mod(KeyCode::Down, KeyModifiers::SHIFT));
    assert_eq!(s.agents[0].scroll.top(v), 1);
    update(&mut s, key_mod(KeyCode::End, KeyModifiers::CONTROL));
    assert!(s.agents[0].scroll.is_following());
}

#[test]
fn zoom_and_layout_cycle() {
    let mut s = state(true, &[("a", "")], (80, 24));
    update(&mut s, key_mod(KeyCode::Char('z'), KeyModifiers::ALT));
    assert_eq!(s.arrangement, Arrangement::Zoomed);
    assert_eq!(s.tiling().placed.len(), 1);
    update(&mut s, key_mod(KeyCode::Char('z'), KeyModifiers::ALT));
    assert_eq!(s.arrangement, Arrangement::Tiled);
    update(&mut s, key_mod(KeyCode::Char('s'), KeyModifiers::ALT));
    assert_eq!(s.arrangement, Arrangement::Stacked);
}

#[test]
fn quitting_asks_while_turns_run() {
    let mut s = state(false, &[("a", "")], (80, 24));
    let fx = update(&mut s, key_mod(KeyCode::Char('q'), KeyModifiers::CONTROL));
    assert!(has_quit(&fx), "idle: quits at once");

    let mut s = state(false, &[("a", "")], (80, 24));
    send(&mut s, 0, "work");
    let fx = update(&mut s, key_mod(KeyCode::Char('q'), KeyModifiers::CONTROL));
    assert!(!has_quit(&fx));
    assert!(matches!(s.overlay, Some(Overlay::Confirm(Confirm::Quit { running: 1 }))));
    update(&mut s, key(KeyCode::Char('n')));
    assert!(s.overlay.is_none());
    update(&mut s, key_mod(KeyCode::Char('q'), KeyModifiers::CONTROL));
    let fx = update(&mut s, key(KeyCode::Char('y')));
    assert!(has_quit(&fx));
    assert_eq!(interrupts(&fx), 1, "running turns are stopped");
}

#[test]
fn terminate_quits_without_asking() {
    let mut s = state(false, &[("a", "")], (80, 24));
    send(&mut s, 0, "work");
    let fx = update(&mut s, Msg::Terminate);
    assert!(has_quit(&fx));
    assert_eq!(interrupts(&fx), 1);
}

#[test]
fn closing_asks_while_running_and_the_supervisor_stays() {
    let mut s = state(true, &[("a", ""), ("b", "")], (80, 24));
    send(&mut s, 1, "work");
    let close = key_mod(KeyCode::Char('w'), KeyModifiers::ALT);
    update(&mut s, close);
    assert!(matches!(s.overlay, Some(Overlay::Confirm(Confirm::Close { .. }))));
    let a = s.agents[1].id;
    let fx = update(&mut s, key(KeyCode::Enter));
    assert_eq!(interrupts(&fx), 1);
    // Its live process closes now, not after the idle timeout.
    assert!(fx.iter().any(|e| matches!(e, Effect::Closed { agent } if *agent == a)), "{fx:?}");
    assert_eq!(s.agents.iter().map(|a| a.name()).collect::<Vec<_>>(), ["lead", "b"]);
    assert_eq!(s.focused().map(|a| a.name()), Some("b"));
    update(&mut s, key_mod(KeyCode::Char('w'), KeyModifiers::ALT));
    assert_eq!(s.agents.len(), 1, "idle: closed at once");
    update(&mut s, key_mod(KeyCode::Char('w'), KeyModifiers::ALT));
    assert_eq!(s.agents.len(), 1, "the supervisor stays");
    assert!(s.flash.is_some());
}

#[test]
fn the_form_creates_an_agent_and_sends_its_first_prompt() {
    let mut s = state(false, &[("a", "")], (80, 24));
    update(&mut s, key_mod(KeyCode::Char('n'), KeyModifiers::ALT));
    assert!(matches!(s.overlay, Some(Overlay::NewAgent(_))));
    // Submitting without a name says so.
    update(&mut s, key(KeyCode::Enter));
    let Some(Overlay::NewAgent(form)) = &s.overlay else { panic!("the form closed") };
    assert!(form.error.is_some());
    type_text(&mut s, "a");
    update(&mut s, key(KeyCode::Enter));
    let Some(Overlay::NewAgent(form)) = &s.overlay else { panic!("the form closed") };
    assert!(form.error.as_deref().is_some_and(|e| e.contains("exists")), "{:?}", form.error);
    type_text(&mut s, "2");
    update(&mut s, key(KeyCode::Tab));
    update(&mut s, key(KeyCode::Tab));
    type_text(&mut s, "opus");
    update(&mut s, key(KeyCode::Tab));
    update(&mut s, Msg::Paste("line one\nline two".into()));
    let fx = update(&mut s, key(KeyCode::Enter));
    assert!(s.overlay.is_none());
    assert_eq!(s.focused().map(|a| a.name()), Some("a2"));
    let reqs = spawned(&fx);
    assert_eq!(reqs[0].prompt, "line one\nline two");
    assert_eq!(reqs[0].spec.options.model.as_deref(), Some("opus"));
    assert_eq!(reqs[0].spec.cwd, std::path::PathBuf::from("/work/project"));
}

#[test]
fn control_requests() {
    let mut s = state(true, &[("a", "")], (80, 24));
    let send = |prompt: &str| ControlCmd::Send {
        agent: "a".into(),
        prompt: prompt.into(),
        origin: Origin::User,
    };
    let (reply, fx) = control(&mut s, send("hi"));
    assert_eq!(reply, Ok(ControlOk::Started));
    assert_eq!(spawned(&fx).len(), 1);
    let (reply, _) = control(&mut s, send("more"));
    assert_eq!(reply, Ok(ControlOk::Queued { position: 1 }));
    assert_eq!(s.has_work("a"), Some(true));
    let (reply, _) = control(&mut s, ControlCmd::Kill { agent: "nobody".into() });
    assert_eq!(reply, Err(ControlError::NoSuchAgent("nobody".into())));
    let new = ControlCmd::New {
        spec: Box::new(spec("b", None)),
        prompt: Some("start".into()),
        worktree: false,
    };
    let (reply, fx) = control(&mut s, new);
    assert_eq!(reply, Ok(ControlOk::Created { name: "b".into() }));
    assert_eq!(spawned(&fx)[0].prompt, "start");
    let (reply, _) = control(&mut s, ControlCmd::Kill { agent: "lead".into() });
    assert_eq!(reply, Err(ControlError::Supervisor));
    let names: Vec<_> = s.summaries().into_iter().map(|a| (a.name, a.state)).collect();
    assert_eq!(
        names,
        [("lead".into(), "idle"), ("a".into(), "starting"), ("b".into(), "starting")]
    );
}

/// The reply is the first effect, so the loop knows what a request set off (a supervisor's
/// task) before the turn it started is spawned.
#[test]
fn a_control_reply_names_its_request_and_comes_before_what_it_set_off() {
    let mut s = state(true, &[("a", "")], (80, 24));
    let id = super::RequestId(7);
    let cmd = ControlCmd::Send { agent: "a".into(), prompt: "hi".into(), origin: Origin::User };
    let fx = update(&mut s, Msg::Control { id, cmd });
    assert!(
        matches!(
            &fx[..],
            [
                Effect::Reply { id: RequestId(7), reply: Ok(ControlOk::Started) },
                Effect::SpawnTurn(_),
                ..
            ]
        ),
        "{fx:?}"
    );
}

#[test]
fn an_agent_made_by_a_command_does_not_take_the_focus_or_the_draft() {
    let mut s = state(false, &[("a", ""), ("b", "")], (120, 40));
    let before = s.focus;
    type_text(&mut s, "half-typed");
    let spec = Box::new(spec("c", None));
    let (reply, _) = control(&mut s, ControlCmd::New { spec, prompt: None, worktree: false });
    assert_eq!(reply, Ok(ControlOk::Created { name: "c".into() }));
    assert_eq!(s.focus, before, "the focus stays where the user left it");
    type_text(&mut s, " on");
    assert_eq!(s.agents[before].input_text(), "half-typed on");
    assert!(s.agents[2].input_is_empty());
    // The form is the user's own key: what it makes is focused.
    update(&mut s, key_mod(KeyCode::Char('n'), KeyModifiers::ALT));
    type_text(&mut s, "d");
    update(&mut s, key(KeyCode::Enter));
    assert!(s.overlay.is_none(), "the form closed");
    assert_eq!(s.agents[s.focus].name(), "d");
}

/// `agentmux new`, the form, an import and a fork all go through one rule: `x/y` and `x-y`
/// would share a worktree, `A` and `a` a log on some file systems.
#[test]
fn a_new_agent_with_a_bad_or_colliding_name_is_refused_and_says_why() {
    use crate::agent::name::NameError;
    let mut s = state(false, &[("x-y", "")], (80, 24));
    let new = |s: &mut State, name: &str| {
        let spec = Box::new(spec(name, None));
        control(s, ControlCmd::New { spec, prompt: None, worktree: true }).0
    };
    assert_eq!(new(&mut s, "x/y"), Err(ControlError::BadName("x/y".into(), NameError::Char('/'))));
    assert_eq!(new(&mut s, "x--y"), Err(ControlError::BadName("x--y".into(), NameError::Doubled)));
    assert_eq!(new(&mut s, "X-Y"), Err(ControlError::NameTaken("x-y".into())));
    assert_eq!(s.agents.len(), 1, "nothing was added");
    let refused = ControlError::BadName("x/y".into(), NameError::Char('/')).to_string();
    assert!(refused.starts_with("\"x/y\" is not a usable agent name: '/' may not be"), "{refused}");
    // The form says the same in its name field, before anything is made.
    update(&mut s, key_mod(KeyCode::Char('n'), KeyModifiers::ALT));
    type_text(&mut s, "a/b");
    update(&mut s, key(KeyCode::Enter));
    let Some(Overlay::NewAgent(form)) = &s.overlay else { panic!("the form closed") };
    assert_eq!(form.error.as_deref(), Some(NameError::Char('/').to_string().as_str()));
    assert_eq!(s.agents.len(), 1);
}

#[test]
fn set_changes_the_model_and_mode_of_the_next_turn() {
    use crate::agent::PermissionMode;
    let mut s = state(true, &[("a", "")], (80, 24));
    let set = |s: &mut State, agent: &str, model: Option<&str>, mode: Option<PermissionMode>| {
        let cmd = ControlCmd::Set {
            agent: agent.into(),
            model: model.map(str::to_owned),
            permission_mode: mode,
        };
        control(s, cmd)
    };
    let (answer, fx) = set(&mut s, "a", Some("sonnet"), Some(PermissionMode::Plan));
    assert_eq!(answer, Ok(ControlOk::Set));
    assert!(fx.iter().any(|e| matches!(e, Effect::Persist)));
    // A field left out stays as it was.
    let (answer, _) = set(&mut s, "a", None, None);
    assert_eq!(answer, Ok(ControlOk::Set));
    let (answer, _) = set(&mut s, "nobody", Some("opus"), None);
    assert_eq!(answer, Err(ControlError::NoSuchAgent("nobody".into())));
    let cmd = ControlCmd::Send { agent: "a".into(), prompt: "hi".into(), origin: Origin::User };
    let (_, fx) = control(&mut s, cmd);
    let req = &spawned(&fx)[0];
    assert_eq!(req.spec.options.model.as_deref(), Some("sonnet"));
    assert_eq!(req.spec.options.permission_mode, Some(PermissionMode::Plan));
}

#[test]
fn the_spinner_asks_for_its_next_frame_and_idle_asks_for_nothing() {
    let mut s = state(false, &[("a", "")], (80, 24));
    assert_eq!(s.next_wake(), None);
    send(&mut s, 0, "work");
    let start = s.now;
    advance(&mut s, Duration::from_millis(250));
    assert_eq!(s.next_wake(), Some(start + Duration::from_millis(300)));
    s.dirty = false;
    update(&mut s, Msg::Wake);
    assert!(s.dirty);
    let id = s.agents[0].id;
    update(&mut s, exited(id, 1, 0));
    assert_eq!(s.next_wake(), None);
    s.dirty = false;
    update(&mut s, Msg::Wake);
    assert!(!s.dirty, "an idle wake draws nothing");
}

#[test]
fn resize_and_unbound_keys_type_into_the_input() {
    let mut s = state(false, &[("a", "")], (80, 24));
    update(&mut s, Msg::Resize { width: 20, height: 6 });
    assert_eq!(s.size, (20, 6));
    type_text(&mut s, "héllo 日本");
    assert_eq!(s.agents[0].input_text(), "héllo 日本");
    let fx = update(&mut s, key_mod(KeyCode::Char('z'), KeyModifiers::CONTROL));
    assert!(fx.iter().any(|e| matches!(e, Effect::Suspend)));
    update(&mut s, key(KeyCode::F(1)));
    assert!(matches!(s.overlay, Some(Overlay::Help { .. })));
    update(&mut s, key(KeyCode::Esc));
    assert!(s.overlay.is_none());
}

#[test]
fn the_form_can_ask_for_a_worktree_and_the_first_prompt_waits_for_it() {
    let mut s = state(false, &[("a", "")], (80, 24));
    update(&mut s, key_mod(KeyCode::Char('n'), KeyModifiers::ALT));
    type_text(&mut s, "wt");
    for _ in 0..3 {
        update(&mut s, key(KeyCode::Tab));
    }
    type_text(&mut s, "go");
    update(&mut s, key(KeyCode::Tab));
    update(&mut s, key(KeyCode::Char(' ')));
    let Some(Overlay::NewAgent(form)) = &s.overlay else { panic!("the form closed") };
    assert!(form.worktree);
    let fx = update(&mut s, key(KeyCode::Enter));
    assert!(s.overlay.is_none());
    assert!(spawned(&fx).is_empty(), "nothing starts before the worktree is ready");
    assert!(fx.iter().any(|e| matches!(e, Effect::Worktree(_))), "{fx:?}");
    assert_eq!(
        s.focused().map(|a| a.queue.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["go".to_string()])
    );
}

/// The spinner wakes the loop only for panes whose header is on screen.
#[test]
fn the_spinner_sleeps_while_the_working_pane_is_off_screen() {
    let names: Vec<(String, String)> = (0..12).map(|i| (format!("a{i}"), String::new())).collect();
    let refs: Vec<(&str, &str)> = names.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    let mut s = state(false, &refs, (80, 24));
    let shown: Vec<usize> = s.tiling().placed.iter().map(|p| p.pane).collect();
    let hidden = (0..12).find(|i| !shown.contains(i)).expect("a pane on another page");
    let now = s.now;
    s.agents[hidden].turn = TurnState::Running { since: now };
    assert_eq!(s.next_wake(), None);
    s.agents[shown[0]].turn = TurnState::Running { since: now };
    assert!(s.next_wake().is_some());
}

// ---------------------------------------------------------------------------------------------
// The usage governor in the app

/// A team of `names` (priorities as given) with `pause_at = 90`, on the tests' wall clock,
/// after agent 0's CLI reported the five-hour window at `five` (resets 10:33).
fn governed(agents: &[(&str, i32)], five: f64) -> State {
    let names: Vec<(&str, &str)> = agents.iter().map(|(n, _)| (*n, "")).collect();
    let mut s = state(false, &names, (100, 20));
    s.wall = WALL;
    s.policy = crate::limits::governor::Policy { pause_at: Some(90) };
    for (a, (_, p)) in s.agents.iter_mut().zip(agents) {
        a.spec.options.priority = Some(*p);
    }
    let id = s.agents[0].id;
    full_turn(&mut s, 0, "first", "ok", &sid(0));
    update(&mut s, lines(id, 1, vec![windows_line(five, 0.3)]));
    s
}

fn word(s: &State, i: usize) -> &'static str {
    super::query::agent_state(s, &s.agents[i]).as_str()
}

#[test]
fn past_the_threshold_a_prompt_is_held_until_the_window_resets() {
    // Read after the first turn ended: the line came with it.
    let mut s = governed(&[("api", 0)], 0.91);
    let fx = send(&mut s, 0, "next task");
    assert!(spawned(&fx).is_empty(), "held, not started");
    assert_eq!(s.agents[0].queue.iter().collect::<Vec<_>>(), ["next task"]);
    assert_eq!(word(&s, 0), "held");
    assert!(screen(&s).contains("held: 5h 91%, resumes 10:33"), "{}", screen(&s));
    insta::assert_snapshot!(screen(&s));
    // `wait` does not wait hours for a reset.
    assert_eq!(s.has_work("api"), Some(false));
    // The loop wakes at the reset (10:33, 93 minutes on).
    assert_eq!(s.next_wake(), Some(s.now + Duration::from_secs(93 * 60)));
    advance(&mut s, Duration::from_secs(93 * 60 - 1));
    assert!(spawned(&update(&mut s, Msg::Wake)).is_empty());
    advance(&mut s, Duration::from_secs(1));
    let fx = update(&mut s, Msg::Wake);
    assert_eq!(spawned(&fx).first().map(|r| r.prompt.as_str()), Some("next task"));
    assert_eq!(word(&s, 0), "running");
}

#[test]
fn a_running_turn_finishes_and_its_follow_up_is_held() {
    let mut s = governed(&[("api", 0)], 0.5);
    let id = s.agents[0].id;
    send(&mut s, 0, "long job");
    type_text(&mut s, "then this");
    update(&mut s, key(KeyCode::Enter));
    // The window fills while the turn runs: nothing stops it.
    let fx = update(&mut s, lines(id, 2, vec![windows_line(0.95, 0.3)]));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Interrupt { .. })));
    update(&mut s, lines(id, 2, vec![result(&sid(0), "success", 0.01)]));
    let fx = update(&mut s, exited(id, 2, 0));
    assert!(spawned(&fx).is_empty(), "the follow-up waits");
    assert_eq!(word(&s, 0), "held");
}

#[test]
fn lower_priority_holds_first() {
    let mut s = governed(&[("lead", 1), ("helper", 0)], 0.86);
    let fx = send(&mut s, 1, "helper task");
    assert!(spawned(&fx).is_empty());
    assert_eq!(word(&s, 1), "held");
    let fx = send(&mut s, 0, "important");
    assert_eq!(spawned(&fx).len(), 1, "the higher priority still starts below 90%");
}

#[test]
fn resume_releases_a_hold_now() {
    let mut s = governed(&[("api", 0)], 0.95);
    send(&mut s, 0, "please");
    let (reply, fx) = control(&mut s, ControlCmd::Resume { agent: "api".into() });
    assert_eq!(reply, Ok(ControlOk::Resumed));
    assert_eq!(spawned(&fx).first().map(|r| r.prompt.as_str()), Some("please"));
    // Nothing more to resume.
    let (reply, _) = control(&mut s, ControlCmd::Resume { agent: "api".into() });
    assert_eq!(reply, Err(ControlError::NotHeld("api".into())));
}

#[test]
fn a_refused_turn_is_rate_limited_and_runs_again_after_the_reset() {
    let mut s = state(false, &[("api", "")], (100, 20));
    s.wall = WALL;
    let id = s.agents[0].id;
    send(&mut s, 0, "write the handler");
    // 2.1.197's refusal: five-hour window, reset in 10 s.
    let refusal = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1796288410,"rateLimitType":"five_hour","overageStatus":"rejected","isUsingOverage":false},"uuid":"u","session_id":"s"}"#;
    update(&mut s, lines(id, 1, vec![init(&sid(0), "none"), cli_line(refusal)]));
    let fx = update(&mut s, exited(id, 1, 1));
    assert!(spawned(&fx).is_empty());
    assert_eq!(word(&s, 0), "rate-limited");
    assert_eq!(s.agents[0].queue.iter().collect::<Vec<_>>(), ["write the handler"]);
    assert_eq!(s.has_work("api"), Some(false));
    // Any other agent's prompt would be refused too: held, not sent.
    assert!(screen(&s).contains("runs again at 09:00"), "{}", screen(&s));
    advance(&mut s, Duration::from_secs(10));
    let fx = update(&mut s, Msg::Wake);
    let retried = spawned(&fx);
    assert_eq!(retried.first().map(|r| r.prompt.as_str()), Some("write the handler"));
    assert_eq!(word(&s, 0), "running");
}

/// A refused task runs again as the same task: the prompt goes back with who asked for it.
#[test]
fn a_refused_task_runs_again_as_the_same_task() {
    let mut s = state(false, &[("api", "")], (100, 20));
    s.wall = WALL;
    let id = s.agents[0].id;
    let task = Origin::Task(crate::agent::TaskId(7));
    let cmd = ControlCmd::Send { agent: "api".into(), prompt: "write it".into(), origin: task };
    let (_, fx) = control(&mut s, cmd);
    assert_eq!(spawned(&fx).first().map(|r| r.origin), Some(task));
    let refusal = crate::agent::Event::RateLimit(crate::agent::event::RateLimitEvent {
        status: Some("rejected".into()),
        ..Default::default()
    });
    update(&mut s, lines(id, 1, vec![refusal]));
    update(&mut s, exited(id, 1, 1));
    assert!(s.agents[0].queue.holds(task));
    advance(&mut s, Duration::from_secs(300));
    let fx = update(&mut s, Msg::Wake);
    let retried = spawned(&fx);
    assert_eq!(retried.first().map(|r| (r.prompt.as_str(), r.origin)), Some(("write it", task)));
}

#[test]
fn a_cancelled_refused_prompt_is_not_sent_again() {
    let mut s = state(false, &[("api", "")], (100, 20));
    s.wall = WALL;
    let id = s.agents[0].id;
    send(&mut s, 0, "write the handler");
    let refusal = crate::agent::Event::RateLimit(crate::agent::event::RateLimitEvent {
        status: Some("rejected".into()),
        ..Default::default()
    });
    update(&mut s, lines(id, 1, vec![refusal]));
    update(&mut s, exited(id, 1, 1));
    // No reset known: it waits five minutes.
    assert_eq!(s.agents[0].refused_until, Some(WALL + 300));
    update(&mut s, key_mod(KeyCode::Char('d'), KeyModifiers::ALT));
    assert!(s.agents[0].queue.is_empty(), "cancelled");
    advance(&mut s, Duration::from_secs(300));
    assert!(spawned(&update(&mut s, Msg::Wake)).is_empty());
    assert_eq!(word(&s, 0), "rate-limited");
}

#[test]
fn a_clock_set_back_does_not_hold_past_the_reset() {
    let mut s = governed(&[("api", 0)], 0.95);
    send(&mut s, 0, "later");
    // 93 minutes pass on the monotonic clock while the wall clock is set back an hour.
    s.now += Duration::from_secs(93 * 60);
    s.wall += 93 * 60 - 3600;
    let fx = update(&mut s, Msg::Wake);
    assert_eq!(spawned(&fx).len(), 1);
}

/// Under subscription billing a turn runs without the API key agentmux has, and its login
/// failure says so; billed per token, the key goes along and nothing is said.
#[test]
fn a_login_failure_names_the_key_subscription_billing_held_back() {
    let not_logged_in = || {
        cli_line(
            r#"{"type":"assistant","message":{"id":"m","model":"<synthetic>","role":"assistant","content":[{"type":"text","text":"Not logged in · Please run /login"}]},"parent_tool_use_id":null,"session_id":"s"}"#,
        )
    };
    for (billing, held) in
        [(crate::agent::Billing::Subscription, true), (crate::agent::Billing::Api, false)]
    {
        let mut s = state(false, &[("api", "")], (80, 24));
        s.api_keys_set = vec!["ANTHROPIC_API_KEY".into()];
        s.agents[0].spec.options.billing = Some(billing);
        send(&mut s, 0, "hi");
        let id = s.agents[0].id;
        update(&mut s, lines(id, 1, vec![not_logged_in()]));
        let errors: Vec<&str> = s.agents[0]
            .transcript
            .cells()
            .iter()
            .filter_map(|c| match &c.kind {
                crate::transcript::CellKind::Error(e) => Some(e.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].contains("ANTHROPIC_API_KEY is set but held back"),
            held,
            "{billing:?}"
        );
    }
}

/// One place decides a redraw: a message that can change the screen marks it, the few that
/// cannot leave it alone.
#[test]
fn which_messages_redraw() {
    use crossterm::event::{KeyEvent, KeyEventKind};
    let mouse =
        |kind| Msg::Mouse(MouseEvent { kind, column: 60, row: 5, modifiers: KeyModifiers::NONE });
    let release =
        KeyEvent::new_with_kind(KeyCode::Char('x'), KeyModifiers::NONE, KeyEventKind::Release);
    let table: Vec<(&str, Msg, bool)> = vec![
        ("a key press", key(KeyCode::Char('x')), true),
        ("a key release", Msg::Key(release), false),
        ("a mouse move", mouse(MouseEventKind::Moved), false),
        ("a drag", mouse(MouseEventKind::Drag(MouseButton::Left)), false),
        ("a click", mouse(MouseEventKind::Down(MouseButton::Left)), true),
        ("the wheel", mouse(MouseEventKind::ScrollDown), true),
        ("a resize", Msg::Resize { width: 100, height: 30 }, true),
        ("a paste", Msg::Paste("hi".into()), true),
        ("a redraw", Msg::Redraw, true),
        ("an idle wake", Msg::Wake, false),
        ("a stale turn's exit", exited(crate::agent::AgentId(99), 7, 0), true),
    ];
    for (what, msg, redraws) in table {
        let mut s = state(false, &[("a", ""), ("b", "")], (120, 30));
        s.dirty = false;
        update(&mut s, msg);
        assert_eq!(s.dirty, redraws, "{what}");
    }
}

/// A wake while nothing runs still redraws when a hold ended on it: the held turn starts.
#[test]
fn a_wake_that_ends_a_hold_redraws() {
    let mut s = state(false, &[("a", "")], (80, 24));
    s.agents[0].queue.push_back(super::queue::Prompt::user("later"));
    s.agents[0].held = true;
    s.dirty = false;
    let fx = update(&mut s, Msg::Wake);
    assert!(!spawned(&fx).is_empty(), "no hold is left, so the queued turn starts");
    assert!(s.dirty);
}
