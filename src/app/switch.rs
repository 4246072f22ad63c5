//! The switch picker: the focused agent's model and permission mode, changed from a small list
//! (up/down, enter) the same way `agentmux set` changes them. The change holds from the agent's
//! next turn on: a live process is switched in place then (set_model, set_permission_mode), a
//! one-shot turn starts with the new arguments.

use super::command::Command;
use super::effect::Effect;
use super::state::{Overlay, State};
use crate::agent::{AgentId, PermissionMode};

/// The models offered by name (the CLI's aliases), besides the CLI's default and the agent's own.
pub const MODELS: &[&str] = &["opus", "sonnet", "haiku"];
/// The permission modes offered, in the order the CLI lists them.
pub const MODES: &[PermissionMode] = &[
    PermissionMode::Default,
    PermissionMode::AcceptEdits,
    PermissionMode::Plan,
    PermissionMode::DontAsk,
    PermissionMode::BypassPermissions,
];

/// The open picker: whose, and which row is highlighted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub agent: AgentId,
    pub cursor: usize,
}

/// One row of the picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// `None`: the CLI's default model.
    Model(Option<String>),
    Mode(PermissionMode),
}

/// The rows for an agent whose model is `model`: the default, the aliases, its own model when it
/// is none of those, then the modes.
pub fn choices(model: Option<&str>) -> Vec<Choice> {
    let mut out = vec![Choice::Model(None)];
    out.extend(MODELS.iter().map(|m| Choice::Model(Some((*m).to_owned()))));
    if let Some(own) = model.filter(|m| !MODELS.contains(m)) {
        out.push(Choice::Model(Some(own.to_owned())));
    }
    out.extend(MODES.iter().map(|m| Choice::Mode(*m)));
    out
}

/// Whether a row is what the agent has now (an unset mode is the default one).
pub fn is_current(choice: &Choice, model: Option<&str>, mode: Option<PermissionMode>) -> bool {
    match choice {
        Choice::Model(m) => m.as_deref() == model,
        Choice::Mode(m) => *m == mode.unwrap_or(PermissionMode::Default),
    }
}

/// Opens the picker on the focused agent (the supervisor's model and mode are the team's).
pub fn open(state: &mut State) {
    let Some(a) = state.focused() else { return };
    if a.supervisor {
        state.flash = Some("the supervisor's model and mode are set in the team file".into());
        return;
    }
    let (agent, model) = (a.id, a.spec.options.model.clone());
    let cursor = choices(model.as_deref())
        .iter()
        .position(|c| matches!(c, Choice::Model(m) if *m == model))
        .unwrap_or(0);
    state.overlay = Some(Overlay::Switch(Switch { agent, cursor }));
}

pub fn key(state: &mut State, command: Option<Command>, fx: &mut Vec<Effect>) {
    let Some(Overlay::Switch(sw)) = &mut state.overlay else { return };
    let Some(i) = state.agents.iter().position(|a| a.id == sw.agent) else {
        state.overlay = None;
        return;
    };
    let rows = choices(state.agents[i].spec.options.model.as_deref());
    match command {
        Some(Command::ScrollUp) => sw.cursor = sw.cursor.saturating_sub(1),
        Some(Command::ScrollDown) => sw.cursor = (sw.cursor + 1).min(rows.len() - 1),
        Some(Command::Submit) => {
            let choice = rows.get(sw.cursor).cloned();
            state.overlay = None;
            let (model, mode) = match choice {
                Some(Choice::Model(m)) => (Some(m), None),
                Some(Choice::Mode(m)) => (None, Some(m)),
                None => (None, None),
            };
            set(state, i, model, mode, fx);
            state.flash = Some(said(state, i));
        }
        Some(Command::Close) => state.overlay = None,
        _ => {}
    }
}

/// Changes agent `i`'s model (`Some(None)`: back to the CLI's default) and permission mode from
/// its next turn on; kept with the workspace. `agentmux set` and the picker both come here.
pub fn set(
    state: &mut State,
    i: usize,
    model: Option<Option<String>>,
    mode: Option<PermissionMode>,
    fx: &mut Vec<Effect>,
) {
    let options = &mut state.agents[i].spec.options;
    if let Some(model) = model {
        options.model = model;
    }
    if mode.is_some() {
        options.permission_mode = mode;
    }
    fx.push(Effect::Persist);
}

fn said(state: &State, i: usize) -> String {
    let a = &state.agents[i];
    let model = a.spec.options.model.as_deref().unwrap_or("the default model");
    let mode = a.spec.options.permission_mode.unwrap_or(PermissionMode::Default).as_arg();
    let when = if a.turn.is_active() { "from its next turn" } else { "from the next turn" };
    format!("{}: {model}, permission mode {mode}, {when}", a.name())
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyModifiers};

    use super::{choices, is_current, Choice, Effect, Overlay, PermissionMode, Switch};
    use crate::app::fixtures::*;
    use crate::app::update;

    fn alt_p() -> crate::app::Msg {
        key_mod(KeyCode::Char('p'), KeyModifiers::ALT)
    }

    #[test]
    fn the_rows_are_the_default_the_aliases_the_agents_own_model_and_the_modes() {
        let names = |model: Option<&str>| -> Vec<String> {
            choices(model)
                .iter()
                .map(|c| match c {
                    Choice::Model(m) => m.clone().unwrap_or_else(|| "-".into()),
                    Choice::Mode(m) => m.as_arg().into(),
                })
                .collect()
        };
        let modes = ["default", "acceptEdits", "plan", "dontAsk", "bypassPermissions"];
        let mut want: Vec<&str> = vec!["-", "opus", "sonnet", "haiku"];
        want.extend(modes);
        assert_eq!(names(None), want);
        assert_eq!(names(Some("sonnet")), want);
        let mut own = vec!["-", "opus", "sonnet", "haiku", "claude-opus-4-1"];
        own.extend(modes);
        assert_eq!(names(Some("claude-opus-4-1")), own);
        let now = |c: &Choice, model, mode| is_current(c, model, mode);
        assert!(now(&Choice::Mode(PermissionMode::Default), None, None));
        assert!(!now(&Choice::Mode(PermissionMode::Plan), None, None));
        assert!(now(&Choice::Model(None), None, None));
        assert!(now(&Choice::Model(Some("opus".into())), Some("opus"), None));
    }

    #[test]
    fn the_picker_switches_the_focused_agents_model_and_mode_as_agentmux_set_does() {
        let mut s = state(false, &[("api", "backend")], (80, 24));
        s.agents[0].spec.options.model = None;
        update(&mut s, alt_p());
        assert!(matches!(s.overlay, Some(Overlay::Switch(Switch { cursor: 0, .. }))));
        update(&mut s, key(KeyCode::Down));
        update(&mut s, key(KeyCode::Down));
        let fx = update(&mut s, key(KeyCode::Enter));
        assert!(s.overlay.is_none());
        assert_eq!(s.agents[0].spec.options.model.as_deref(), Some("sonnet"));
        assert!(fx.iter().any(|e| matches!(e, Effect::Persist)));
        assert!(s.flash.as_deref().is_some_and(|f| f.contains("sonnet")), "{:?}", s.flash);

        // Opened again, it starts on the agent's model; plan mode is two rows below the modes'.
        update(&mut s, alt_p());
        assert!(matches!(s.overlay, Some(Overlay::Switch(Switch { cursor: 2, .. }))));
        for _ in 0..4 {
            update(&mut s, key(KeyCode::Down));
        }
        update(&mut s, key(KeyCode::Enter));
        let options = &s.agents[0].spec.options;
        assert_eq!(
            (options.model.as_deref(), options.permission_mode),
            (Some("sonnet"), Some(PermissionMode::Plan))
        );

        // The default model again; esc leaves everything as it was.
        update(&mut s, alt_p());
        for _ in 0..2 {
            update(&mut s, key(KeyCode::Up));
        }
        update(&mut s, key(KeyCode::Enter));
        assert_eq!(s.agents[0].spec.options.model, None);
        update(&mut s, alt_p());
        update(&mut s, key(KeyCode::Down));
        update(&mut s, key(KeyCode::Esc));
        assert!(s.overlay.is_none());
        assert_eq!(s.agents[0].spec.options.model, None);

        // The next turn carries what was picked.
        let fx = send(&mut s, 0, "go on");
        let req = spawned(&fx)[0];
        assert_eq!(
            (req.spec.options.model.as_deref(), req.spec.options.permission_mode),
            (None, Some(PermissionMode::Plan))
        );
    }

    #[test]
    fn the_picker_shows_the_rows_the_highlight_and_what_the_agent_has_now() {
        let mut s = state(false, &[("api", "backend")], (80, 24));
        s.agents[0].spec.options.permission_mode = Some(PermissionMode::AcceptEdits);
        update(&mut s, alt_p());
        for _ in 0..5 {
            update(&mut s, key(KeyCode::Down));
        }
        insta::assert_snapshot!(screen(&s));
    }
}
