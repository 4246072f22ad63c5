//! Keys for a question to the user (AskUserQuestion) waiting in the focused pane's approval box:
//! a number key picks that option (ticks it where several may be picked), the arrows move the
//! highlight, space ticks it and enter (or the allow chord) takes it; words typed into the input
//! box answer with enter instead. While any text is typed every key types, digits and arrows
//! too, so a key never does two things at once; alt-n still dismisses the question.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::command::Command;
use super::state::State;
use crate::approval::question::questions;
use crate::approval::{Asking, Decision};

/// Handles a key for the focused pane's question; false when it is not one of its keys (or no
/// question waits there), so the approval box and the pane go on as usual.
pub fn key(
    state: &mut State,
    command: Option<Command>,
    key: &KeyEvent,
    fx: &mut Vec<super::Effect>,
) -> bool {
    let Some(agent) = state.focused() else { return false };
    let (id, typed) = (agent.id, agent.input_text());
    let Some(p) = state.approvals.queue.iter_mut().find(|p| p.agent == id) else { return false };
    if p.ask.asking() != Asking::Question {
        return false;
    }
    let qs = questions(&p.ask.input);
    let Some(q) = qs.get(p.answering.at) else { return false };
    let (empty, multi, options) = (typed.trim().is_empty(), q.multi, q.options.len());
    let answered = match command {
        Some(Command::Send | Command::AllowOnce) if !empty => {
            p.answering.write(&p.ask.input, &qs, &typed)
        }
        Some(Command::Send | Command::AllowOnce) => p.answering.choose(&p.ask.input, &qs),
        Some(c @ (Command::ChoiceUp | Command::ChoiceDown)) if empty => {
            p.answering.step(&qs, c == Command::ChoiceDown);
            None
        }
        Some(Command::Tick) if empty && multi => {
            p.answering.tick(&qs);
            None
        }
        _ => match digit(key) {
            Some(n) if empty && n <= options => p.answering.pick(&p.ask.input, &qs, n - 1),
            Some(n) if empty => {
                state.flash = Some(format!("no option {n}: {options} to pick from"));
                return true;
            }
            _ => return false,
        },
    };
    if !empty && matches!(command, Some(Command::Send | Command::AllowOnce)) {
        if let Some(a) = state.focused_mut() {
            a.input = super::state::new_input();
        }
    }
    if let Some(updated_input) = answered {
        super::approvals::decide_focused(state, Decision::Answer { updated_input }, fx);
    }
    true
}

/// A plain number key 1-9.
fn digit(key: &KeyEvent) -> Option<usize> {
    match key.code {
        KeyCode::Char(c @ '1'..='9') if !key.modifiers.intersects(!KeyModifiers::SHIFT) => {
            c.to_digit(10).map(|d| d as usize)
        }
        _ => None,
    }
}

/// Whether the focused pane's question takes its option keys now (it waits, no denial is being
/// written, the input is empty), and whether several of its options may be picked.
pub fn option_keys(state: &State) -> Option<bool> {
    let agent = state.focused()?;
    let p = state.approvals.first_for(agent.id)?;
    if p.ask.asking() != Asking::Question
        || state.approvals.composing
        || !agent.input_text().trim().is_empty()
    {
        return None;
    }
    questions(&p.ask.input).get(p.answering.at).map(|q| q.multi)
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;
    use serde_json::{json, Value};

    use crate::app::fixtures::*;
    use crate::app::{RequestId, State};
    use crate::control::proto::{Answer, Behavior};

    fn color() -> Value {
        json!({"questions": [{"question": "Which color?", "header": "Color", "multiSelect": false,
            "options": [{"label": "red", "description": "warm"}, {"label": "blue"},
                        {"label": "green"}]}]})
    }

    fn sizes() -> Value {
        json!({"questions": [
            {"question": "Which color?", "options": [{"label": "red"}, {"label": "blue"}]},
            {"question": "Which sizes?", "multiSelect": true,
             "options": [{"label": "S"}, {"label": "M"}, {"label": "L"}]}]})
    }

    fn asked(input: Value) -> (State, RequestId) {
        let mut s = state(false, &[("api", "backend")], (80, 24));
        let rx = ask_approval(&mut s, "api", "AskUserQuestion", input);
        (s, rx)
    }

    /// The answers sent back, or the behaviour and message of another answer.
    fn reply(id: RequestId) -> Option<Result<Value, (Behavior, Option<String>)>> {
        match decision(id)?.answer() {
            Answer::Decision { behavior: Behavior::Allow, updated_input: Some(v), .. } => {
                Some(Ok(v["answers"].clone()))
            }
            Answer::Decision { behavior, message, .. } => Some(Err((behavior, message))),
            other => panic!("{other:?}"),
        }
    }

    fn keys(s: &mut State, codes: &[KeyCode]) {
        for c in codes {
            step(s, key(*c));
        }
    }

    #[test]
    fn a_number_key_picks_that_option() {
        let (mut s, rx) = asked(color());
        type_text(&mut s, "2");
        assert_eq!(reply(rx), Some(Ok(json!({"Which color?": "blue"}))));
        assert!(s.agents[0].input_text().is_empty(), "the digit did not type");
        assert!(s.approvals.queue.is_empty());
    }

    #[test]
    fn arrows_move_the_highlight_and_enter_or_the_allow_chord_takes_it() {
        let (mut s, rx) = asked(color());
        keys(&mut s, &[KeyCode::Down, KeyCode::Down, KeyCode::Down, KeyCode::Up]);
        assert_eq!(s.approvals.queue[0].answering.cursor, 1);
        step(&mut s, key(KeyCode::Enter));
        assert_eq!(reply(rx), Some(Ok(json!({"Which color?": "blue"}))));
        let (mut s, rx) = asked(color());
        keys(&mut s, &[KeyCode::Down, KeyCode::Down]);
        step(&mut s, allow_once());
        assert_eq!(reply(rx), Some(Ok(json!({"Which color?": "green"}))));
    }

    #[test]
    fn while_text_is_typed_every_key_types_and_enter_answers_with_it() {
        let (mut s, rx) = asked(color());
        type_text(&mut s, "teal 3");
        keys(&mut s, &[KeyCode::Down]);
        assert_eq!(s.agents[0].input_text(), "teal 3", "the digit typed");
        assert_eq!(s.approvals.queue[0].answering.cursor, 0, "down did not move the highlight");
        assert_eq!(reply(rx), None);
        let fx = step(&mut s, key(KeyCode::Enter));
        assert_eq!(reply(rx), Some(Ok(json!({"Which color?": "teal 3"}))));
        assert!(s.agents[0].input_text().is_empty(), "the answer left the input");
        assert!(spawned(&fx).is_empty(), "not sent as a follow-up too");
    }

    #[test]
    fn several_questions_one_after_another_and_several_options_ticked() {
        let (mut s, rx) = asked(sizes());
        type_text(&mut s, "1");
        assert_eq!(reply(rx), None, "one question left");
        // 3 and 2 tick L and M; space unticks M (the highlight follows a number); up, space: S.
        type_text(&mut s, "32 ");
        keys(&mut s, &[KeyCode::Up, KeyCode::Char(' ')]);
        let answering = &s.approvals.queue[0].answering;
        assert_eq!((answering.at, answering.cursor, answering.ticked.clone()), (1, 0, vec![2, 0]));
        assert!(s.agents[0].input_text().is_empty(), "the space and digits did not type");
        step(&mut s, key(KeyCode::Enter));
        assert_eq!(reply(rx), Some(Ok(json!({"Which color?": "red", "Which sizes?": "S, L"}))));
    }

    #[test]
    fn a_number_that_is_no_option_says_so_and_alt_n_dismisses_with_a_reason() {
        let (mut s, rx) = asked(color());
        type_text(&mut s, "7");
        assert!(s.flash.as_deref().is_some_and(|f| f.contains("no option 7")), "{:?}", s.flash);
        assert_eq!(reply(rx), None);
        step(&mut s, deny());
        type_text(&mut s, "ask me later");
        step(&mut s, key(KeyCode::Enter));
        assert_eq!(reply(rx), Some(Err((Behavior::Deny, Some("ask me later".into())))));
    }

    #[test]
    fn no_rule_answers_a_question() {
        let mut s = state(false, &[("api", "backend")], (80, 24));
        s.agents[0].spec.options.allowed_tools = Some(vec!["AskUserQuestion".into()]);
        let rx = ask_approval(&mut s, "api", "AskUserQuestion", color());
        assert_eq!(reply(rx), None);
        assert_eq!(s.approvals.waiting(), 1);
    }
}
