//! `update(&mut State, Msg) -> Vec<Effect>`: every change to the state happens here.

use std::path::PathBuf;

use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};

use super::command::{Command, Context};
use super::convo::ConvoAsk;
use super::effect::Effect;
use super::form::{self, Form, NewAgent};
use super::msg::{ControlCmd, ControlError, ControlOk, ControlReply, Msg};
use super::queue::Prompt;
use super::state::{Confirm, Overlay, State, TurnState};
use crate::agent::event::{Event, SystemKind};
use crate::agent::turn::{Phase, Verdict};
use crate::agent::{AgentId, AgentSpec, Billing, EngineMsg, ExitInfo, Line};
use crate::layout::{self, Arrangement, Direction};
use crate::transcript::{result_failure, NoteLevel, Scroll, TurnFooter, TurnStatus, Viewport};

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    let mut shown = shows(state, &msg);
    match msg {
        Msg::Key(key) => on_key(state, key, &mut fx),
        Msg::Mouse(m) => on_mouse(state, m),
        Msg::Paste(text) => on_paste(state, &text),
        Msg::Resize { width, height } => state.size = (width, height),
        Msg::Engine(m) => on_engine(state, m, &mut fx),
        Msg::SpawnFailed { agent, turn, error } => spawn_failed(state, agent, turn, error),
        Msg::Approval { id, ask } => super::approvals::on_ask(state, id, ask, &mut fx),
        Msg::Withdrawn { id } => super::approvals::withdrawn(state, id),
        Msg::Control { id, cmd } => {
            let reply = control(state, cmd, &mut fx);
            // The answer goes before what the command set off: a supervisor's task is known
            // to the loop before the turn that runs it starts.
            fx.insert(0, Effect::Reply { id, reply });
        }
        // What a wake or a redraw shows is decided by `shows`.
        Msg::Wake | Msg::Redraw => {}
        Msg::Suspend => fx.push(Effect::Suspend),
        Msg::Terminate => quit_now(state, &mut fx),
        Msg::Client { id, size, event } => {
            // The client typing is the one whose size the state has (its clicks hit there).
            client_input(state, id, size);
            fx.extend(Msg::from_terminal(event).map(|m| update(state, m)).unwrap_or_default());
        }
        Msg::Attached { id, size } => client_input(state, id, size),
        Msg::Left { id } => state.client = state.client.filter(|&c| c != id),
        Msg::Worktree(m) => super::worktree::on_msg(state, m, &mut fx),
        Msg::Convo(m) => super::convo::on_msg(state, m, &mut fx),
        Msg::Followed(changes) => super::follow::apply(state, changes),
        Msg::NotSaved(text) => not_saved(state, text),
        Msg::ContextUsage { agent, used, window } => {
            if let Some(i) = state.index_of(agent) {
                let context = super::state::ContextUse { used, window: Some(window) };
                state.agents[i].context = Some(context);
            }
        }
    }
    // Held turns whose window reset (or that the user released) start now.
    shown |= super::governor::release_due(state, &mut fx);
    // Lost tasks are reported, and waiting reports go to the supervisor once it is free.
    shown |= super::supervise::step(state, &mut fx);
    // What the user has in front of them is read.
    if state.overlay.is_none() {
        if let Some(a) = state.agents.get_mut(state.focus).filter(|a| a.unread) {
            a.unread = false;
            shown = true;
        }
    }
    state.dirty |= shown;
    fx
}

/// Whether a message may change what is on screen: the one place that decides a redraw.
/// Almost every message may (a frame is coalesced and cheap; a missed change is a stale
/// screen), so this names the few that cannot: a key's release, a mouse move or drag (only
/// clicks and the wheel do anything), and a wake with nothing on a clock (a spinner's
/// deadline that outlived its turn). A wake that ends a hold or a relay's wait says so
/// through `release_due` and `supervise::step`.
fn shows(state: &State, msg: &Msg) -> bool {
    match msg {
        Msg::Key(k) => k.kind != crossterm::event::KeyEventKind::Release,
        Msg::Mouse(m) => matches!(
            m.kind,
            MouseEventKind::Down(_) | MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
        ),
        Msg::Wake => state.running() > 0 || !state.limits.is_empty(),
        // The event decides for itself (update is called on it); another size is a redraw.
        Msg::Client { size, .. } => *size != state.size,
        // The others draw at their own sizes, as they did.
        Msg::Left { .. } => false,
        _ => true,
    }
}

fn client_input(state: &mut State, id: u32, size: (u16, u16)) {
    state.client = Some(id);
    state.size = size;
}

/// A save that failed: in the pane in front of the user, and on the hint line.
fn not_saved(state: &mut State, text: String) {
    if let Some(a) = state.agents.get_mut(state.focus) {
        a.transcript.push_note(&text, NoteLevel::Warn);
    }
    state.flash = Some(text);
}

fn spawn_failed(state: &mut State, agent: AgentId, turn: u64, error: String) {
    let Some(i) = current(state, agent, turn) else { return };
    let a = &mut state.agents[i];
    a.transcript.push_error(&format!("could not start: {error}"));
    a.transcript.end_turn(TurnFooter::new(TurnStatus::Failed(error.clone())));
    a.turn = TurnState::Error { message: error };
}

/// The index of an agent if `turn` is its current turn (messages of older turns are stale).
fn current(state: &State, agent: AgentId, turn: u64) -> Option<usize> {
    state.index_of(agent).filter(|&i| state.agents[i].turn_seq == turn)
}

fn quit_now(state: &mut State, fx: &mut Vec<Effect>) {
    for a in &state.agents {
        if a.turn.is_active() {
            fx.push(Effect::Interrupt { agent: a.id, turn: a.turn_seq });
        }
    }
    state.quitting = true;
    fx.push(Effect::Quit);
}

// ---------------------------------------------------------------------------------------------
// Keys

fn on_key(state: &mut State, key: KeyEvent, fx: &mut Vec<Effect>) {
    if key.kind == crossterm::event::KeyEventKind::Release {
        return;
    }
    state.flash = None;
    let ctx = state.key_context();
    let command = state.keymap.resolve(ctx, &key);
    let browsing = matches!(
        ctx,
        Context::Help | Context::Overview | Context::Search | Context::Switch | Context::Limits
    );
    if browsing && command == Some(Command::Quit) {
        // A view over the panes closes on the way to the quit question.
        close_overlay(state);
        ask_quit(state, fx);
        return;
    }
    match ctx {
        Context::Pane => match command {
            Some(c) => pane_command(state, c, key, fx),
            None => type_into_input(state, key),
        },
        Context::Help => help_key(state, command),
        Context::Approval => approval_key(state, command, key, fx),
        Context::Overview => match command {
            Some(Command::Inbox) => super::overview::next_in_inbox(state),
            _ => super::overview::key(state, command, typed_key(&key)),
        },
        Context::Search => super::search::key(state, command, typed_key(&key)),
        Context::Switch => super::switch::key(state, command, fx),
        Context::Limits => {
            if command == Some(Command::Close) {
                close_overlay(state);
            }
        }
        Context::Form => form_key(state, command, key, fx),
        Context::Fork => super::convo::picker_key(state, command, fx),
        Context::Diff => super::worktree::diff_key(state, command, fx),
        Context::Commit => super::worktree::commit_key(state, command, key, fx),
        Context::Confirm => confirm_key(state, command, fx),
    }
}

/// The help overlay scrolls and closes.
fn help_key(state: &mut State, command: Option<Command>) {
    match command {
        Some(Command::Close) => close_overlay(state),
        Some(Command::ScrollUp) | Some(Command::ScrollDown) => {
            if let Some(Overlay::Help { scroll }) = &mut state.overlay {
                *scroll = if command == Some(Command::ScrollUp) {
                    scroll.saturating_sub(1)
                } else {
                    scroll.saturating_add(1)
                };
            }
        }
        _ => {}
    }
}

/// A key while the focused pane's call waits: the approval's own chords answer it; pane keys
/// (focus, scroll, ...) still work and letters go to the input, so typing a follow-up never
/// answers the call.
fn approval_key(state: &mut State, command: Option<Command>, key: KeyEvent, fx: &mut Vec<Effect>) {
    if super::approvals::key(state, command, &key, fx) {
        return;
    }
    match state.keymap.resolve(Context::Pane, &key) {
        Some(c) => {
            let focus = state.focus;
            pane_command(state, c, key, fx);
            if state.focus != focus {
                // A denial's message belongs to the pane it was begun in.
                state.approvals.composing = false;
            }
        }
        None => type_into_input(state, key),
    }
}

/// The answer to a question asked before something that cannot be undone.
fn confirm_key(state: &mut State, command: Option<Command>, fx: &mut Vec<Effect>) {
    match command {
        Some(Command::Yes) => {
            let Some(Overlay::Confirm(confirm)) = state.overlay.take() else { return };
            match confirm {
                Confirm::Quit { .. } => quit_now(state, fx),
                Confirm::Close { agent } => {
                    if let Some(i) = state.index_of(agent) {
                        close_agent(state, i, fx);
                    }
                }
                Confirm::RemoveWorktree { agent, loss } => {
                    super::worktree::confirm_remove(state, agent, loss, fx)
                }
            }
        }
        Some(Command::No) => close_overlay(state),
        Some(Command::Detach)
            if matches!(state.overlay, Some(Overlay::Confirm(Confirm::Quit { .. }))) =>
        {
            close_overlay(state);
            detach(state, fx);
        }
        _ => {}
    }
}

/// Leave the agents working and this screen with them: only a screen attached to a server
/// can (anywhere else, the agents are this process's children).
fn detach(state: &mut State, fx: &mut Vec<Effect>) {
    if state.served {
        fx.push(Effect::Detach { client: state.client });
    } else {
        let quit = state.keymap.key_label(Context::Pane, Command::Quit).unwrap_or_default();
        state.flash = Some(format!(
            "nothing to detach from: these agents run in this terminal ({quit} quits)"
        ));
    }
}

/// A key that types (a character, backspace) without ctrl or alt, for text fields of our own.
fn typed_key(key: &KeyEvent) -> Option<super::overview::TypedKey> {
    use crossterm::event::{KeyCode, KeyModifiers};
    if key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) {
        return None;
    }
    match key.code {
        KeyCode::Char(c) if !c.is_control() => Some(super::overview::TypedKey::Char(c)),
        KeyCode::Backspace => Some(super::overview::TypedKey::Backspace),
        _ => None,
    }
}

fn close_overlay(state: &mut State) {
    state.overlay = None;
}

fn ask_quit(state: &mut State, fx: &mut Vec<Effect>) {
    match state.running() {
        0 => quit_now(state, fx),
        running => {
            state.overlay = Some(Overlay::Confirm(Confirm::Quit { running }));
        }
    }
}

fn pane_command(state: &mut State, command: Command, key: KeyEvent, fx: &mut Vec<Effect>) {
    match command {
        Command::Send
        | Command::Newline
        | Command::HistoryPrev
        | Command::HistoryNext
        | Command::Interrupt
        | Command::AllowDenied
        | Command::ResumeTurn => turn_command(state, command, key, fx),
        Command::EditQueued
        | Command::CancelQueued
        | Command::PickQueuedPrev
        | Command::PickQueuedNext => queue_command(state, command, fx),
        Command::FocusNext
        | Command::FocusPrev
        | Command::FocusLeft
        | Command::FocusRight
        | Command::FocusUp
        | Command::FocusDown
        | Command::Zoom
        | Command::CycleLayout => layout_command(state, command),
        Command::ScrollUp
        | Command::ScrollDown
        | Command::PageUp
        | Command::PageDown
        | Command::ScrollTop
        | Command::ScrollBottom
        | Command::SelectPrev
        | Command::SelectNext
        | Command::ToggleExpand => transcript_command(state, command),
        other => open_command(state, other, fx),
    }
}

/// The input and the focused agent's turn: send, edit, history, interrupt, run again.
fn turn_command(state: &mut State, command: Command, key: KeyEvent, fx: &mut Vec<Effect>) {
    match command {
        Command::Send => send_input(state, fx),
        Command::Newline => {
            if let Some(a) = state.focused_mut() {
                a.input.insert_newline();
            }
        }
        Command::HistoryPrev => history(state, key, -1),
        Command::HistoryNext => history(state, key, 1),
        Command::Interrupt => interrupt_focused(state, fx),
        Command::AllowDenied => {
            let focus = state.focus;
            match super::approvals::allow_denied_focused(state, fx) {
                Some(prompt) => start_turn(state, focus, Prompt::user(prompt), fx),
                None => {
                    state.flash = Some("no denied tools to allow here".into());
                }
            }
        }
        Command::ResumeTurn => {
            let focus = state.focus;
            if super::governor::release(state, focus) {
                return;
            }
            match super::restore::take_resumable(state, focus) {
                Some(prompt) => start_turn(state, focus, Prompt::user(prompt), fx),
                None => {
                    state.flash = Some("no interrupted turn to resume here".into());
                }
            }
        }
        _ => {}
    }
}

/// The focused agent's queued follow-ups.
fn queue_command(state: &mut State, command: Command, fx: &mut Vec<Effect>) {
    match command {
        Command::EditQueued => {
            let Some(a) = state.focused_mut() else { return };
            if !a.input_is_empty() {
                state.flash = Some("clear the input first to edit a queued follow-up".into());
            } else if let Some(text) = a.queue.take_for_edit() {
                a.input.insert_str(&text);
                a.history_pos = None;
                fx.push(Effect::Persist);
            } else {
                state.flash = Some("nothing queued".into());
            }
        }
        Command::CancelQueued => {
            let Some(a) = state.focused_mut() else { return };
            if a.queue.cancel_picked().is_some() {
                fx.push(Effect::Persist);
            } else {
                state.flash = Some("nothing queued".into());
            }
        }
        Command::PickQueuedPrev | Command::PickQueuedNext => {
            let Some(a) = state.focused_mut() else { return };
            if command == Command::PickQueuedPrev {
                a.queue.pick_prev();
            } else {
                a.queue.pick_next();
            }
            if a.queue.is_empty() {
                state.flash = Some("nothing queued".into());
            }
        }
        _ => {}
    }
}

/// Which pane has the focus and how the panes are arranged.
fn layout_command(state: &mut State, command: Command) {
    let n = state.agents.len();
    match command {
        Command::FocusNext if n > 0 => {
            state.set_focus(state.next_tiled(false).unwrap_or((state.focus + 1) % n))
        }
        Command::FocusPrev if n > 0 => {
            state.set_focus(state.next_tiled(true).unwrap_or((state.focus + n - 1) % n))
        }
        Command::FocusLeft => focus_direction(state, Direction::Left),
        Command::FocusRight => focus_direction(state, Direction::Right),
        Command::FocusUp => focus_direction(state, Direction::Up),
        Command::FocusDown => focus_direction(state, Direction::Down),
        Command::Zoom => {
            state.arrangement = match state.arrangement {
                Arrangement::Zoomed => Arrangement::Tiled,
                _ => Arrangement::Zoomed,
            };
        }
        Command::CycleLayout => {
            state.arrangement = state.arrangement.next();
            state.flash = Some(format!("layout: {}", state.arrangement.name()));
        }
        _ => {}
    }
}

/// Scrolling the focused transcript, and selecting or expanding its cells.
fn transcript_command(state: &mut State, command: Command) {
    match command {
        Command::ScrollUp => scroll_focused(state, |s, v| s.up(1, v)),
        Command::ScrollDown => scroll_focused(state, |s, v| s.down(1, v)),
        Command::PageUp => scroll_focused(state, |s, v| s.page_up(v)),
        Command::PageDown => scroll_focused(state, |s, v| s.page_down(v)),
        Command::ScrollTop => scroll_focused(state, |s, v| s.home(v)),
        Command::ScrollBottom => scroll_focused(state, |s, _| s.end()),
        Command::SelectPrev | Command::SelectNext => {
            let focus = state.focus;
            let Some(a) = state.agents.get_mut(focus) else { return };
            let selected = if command == Command::SelectPrev {
                a.transcript.select_prev()
            } else {
                a.transcript.select_next()
            };
            reveal(state, focus, selected);
        }
        Command::ToggleExpand => {
            let focus = state.focus;
            let Some(a) = state.agents.get_mut(focus) else { return };
            if a.transcript.selected().is_none() {
                a.transcript.select_prev();
            }
            let selected = a.transcript.selected();
            if let Some(cell) = selected {
                toggle_in_place(state, focus, cell);
            }
            reveal(state, focus, selected);
        }
        _ => {}
    }
}

/// Overlays, other agents, and what leaves the pane (suspend, quit, fork, worktree commands).
fn open_command(state: &mut State, command: Command, fx: &mut Vec<Effect>) {
    match command {
        Command::NextApproval => super::approvals::focus_next_waiting(state),
        Command::Inbox => super::overview::next_in_inbox(state),
        Command::Overview => super::overview::open(state),
        Command::Switch => super::switch::open(state),
        Command::Limits => {
            state.overlay = Some(Overlay::Limits);
        }
        Command::Search => super::search::open(state, false),
        Command::SearchAll => super::search::open(state, true),
        Command::NewAgent => {
            let model = state.defaults.model.clone();
            state.overlay =
                Some(Overlay::NewAgent(Box::new(Form::new(&state.default_dir, model.as_deref()))));
        }
        Command::CloseAgent => {
            let Some(a) = state.focused() else { return };
            if a.supervisor {
                state.flash = Some("the supervisor stays".into());
            } else if a.turn.is_active() || close_loses_work(a) {
                state.overlay = Some(Overlay::Confirm(Confirm::Close { agent: a.id }));
            } else {
                close_agent(state, state.focus, fx);
            }
        }
        Command::Help => {
            state.overlay = Some(Overlay::Help { scroll: 0 });
        }
        Command::Suspend => fx.push(Effect::Suspend),
        Command::Quit => ask_quit(state, fx),
        Command::Detach => detach(state, fx),
        Command::Fork => super::convo::ask_fork(state, fx),
        other => {
            super::worktree::pane_command(state, other, fx);
        }
    }
}

fn scroll_focused(state: &mut State, f: impl FnOnce(&mut Scroll, Viewport)) {
    let v = state.viewport(state.focus);
    if let Some(a) = state.focused_mut() {
        f(&mut a.scroll, v);
    }
}

/// Scroll a pane so that a selected cell is on screen.
fn reveal(state: &mut State, pane: usize, cell: Option<usize>) {
    let (Some(cell), Some(body)) = (cell, state.body_rect(pane)) else { return };
    let v = state.viewport(pane);
    if let Some(a) = state.agents.get_mut(pane) {
        if let Some((top, height)) = a.transcript.cell_span(cell, body.width) {
            a.scroll.reveal(top, height, v);
        }
    }
}

fn focus_direction(state: &mut State, dir: Direction) {
    let tiling = state.tiling();
    if let Some(to) = layout::neighbor(&tiling.placed, state.focus, dir) {
        state.set_focus(to);
    } else if tiling.pages > 1 {
        // Past the grid's edge, step to the neighbouring page.
        let n = state.agents.len();
        let shown: Vec<usize> = tiling.placed.iter().map(|p| p.pane).collect();
        let forward = matches!(dir, Direction::Right | Direction::Down);
        let next = if forward {
            shown.iter().max().map(|m| (m + 1) % n)
        } else {
            shown
                .iter()
                .filter(|&&p| p != 0 || !state.has_supervisor())
                .min()
                .map(|m| (m + n - 1) % n)
        };
        if let Some(next) = next {
            state.set_focus(next);
        }
    }
}

fn type_into_input(state: &mut State, key: KeyEvent) {
    if let Some(a) = state.focused_mut() {
        if a.input.input(key) {
            a.history_pos = None;
        }
    }
}

fn on_paste(state: &mut State, text: &str) {
    // Terminals send CR for newlines in pastes; keep every line break as LF.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = crate::render::sanitize::for_input(&text).into_owned();
    match &mut state.overlay {
        Some(Overlay::NewAgent(form)) => {
            let single_line = form.active != form::PROMPT;
            let t = if single_line { text.replace('\n', " ") } else { text };
            form.active_field().insert_str(t);
        }
        Some(_) => {}
        None => {
            if let Some(a) = state.focused_mut() {
                a.input.insert_str(text);
                a.history_pos = None;
            }
        }
    }
}

/// Up/Down recall earlier prompts while the input is empty (or shows a recalled prompt);
/// otherwise they move the cursor in the input.
fn history(state: &mut State, key: KeyEvent, step: isize) {
    let Some(a) = state.focused_mut() else { return };
    let browsing = match a.history_pos {
        Some(i) => a.history.get(i).is_some_and(|h| *h == a.input_text()),
        None => a.input_is_empty(),
    };
    if !browsing || a.history.is_empty() {
        a.input.input(key);
        return;
    }
    let len = a.history.len();
    let next = match (a.history_pos, step < 0) {
        (None, true) => Some(len - 1),
        (None, false) => return,
        (Some(i), true) => Some(i.saturating_sub(1)),
        (Some(i), false) if i + 1 < len => Some(i + 1),
        (Some(_), false) => None,
    };
    a.history_pos = next;
    a.input = super::state::new_input();
    if let Some(i) = next {
        let text = a.history[i].clone();
        a.input.insert_str(text);
    }
}

fn send_input(state: &mut State, fx: &mut Vec<Effect>) {
    if state.read_only {
        // The input stays, to be copied elsewhere.
        state.flash = Some(READ_ONLY_NOTE.into());
        return;
    }
    let focus = state.focus;
    let Some(a) = state.agents.get_mut(focus) else { return };
    let text = a.input_text();
    if text.trim().is_empty() {
        // An empty Enter on an idle agent starts what an interrupt left queued (a hold is
        // released with resume instead).
        if !a.turn.is_active() && !a.held {
            if let Some(next) = a.queue.pop_front() {
                start_turn(state, focus, next, fx);
                fx.push(Effect::Persist);
            }
        }
        return;
    }
    a.input = super::state::new_input();
    a.history_pos = None;
    if a.history.last() != Some(&text) {
        a.history.push(text.clone());
    }
    let prompt = if a.queue.is_editing() {
        if busy(state, focus) {
            // An edited follow-up goes back where it was taken from.
            state.agents[focus].queue.put_back(text);
            fx.push(Effect::Persist);
            return;
        }
        state.agents[focus].queue.end_edit(text)
    } else {
        Prompt::user(text)
    };
    submit(state, focus, prompt, fx);
}

/// Whether a prompt for the agent waits in its queue rather than starting now.
fn busy(state: &State, index: usize) -> bool {
    state.agents.get(index).is_some_and(|a| {
        // An agent whose worktree is being made must not start in the shared directory.
        a.turn.is_active() || state.opening_worktrees.contains(&a.id)
    })
}

/// Why nothing is sent from a read-only workspace.
pub const READ_ONLY_NOTE: &str =
    "read-only: another agentmux has this workspace open; nothing is sent from here";

/// Start a turn with `prompt`, or queue it while one runs. Returns the queue position (1-based)
/// when queued.
fn submit(state: &mut State, index: usize, prompt: Prompt, fx: &mut Vec<Effect>) -> Option<usize> {
    if state.read_only {
        state.flash = Some(READ_ONLY_NOTE.into());
        return None;
    }
    if busy(state, index) {
        let pos = state.agents.get_mut(index)?.queue.push_back(prompt);
        fx.push(Effect::Persist);
        Some(pos)
    } else if super::governor::keep_if_held(state, index, &prompt) {
        fx.push(Effect::Persist);
        Some(state.agents[index].queue.len())
    } else {
        start_turn(state, index, prompt, fx);
        None
    }
}

pub(super) fn start_turn(state: &mut State, index: usize, prompt: Prompt, fx: &mut Vec<Effect>) {
    if state.read_only {
        state.flash = Some(READ_ONLY_NOTE.into());
        return;
    }
    if let Some(req) = state.begin_turn(index, prompt) {
        fx.push(Effect::SpawnTurn(Box::new(req)));
    }
}

/// Start the first prompts of a team (once, at start).
pub fn start_first_prompts(state: &mut State, prompts: Vec<Option<String>>) -> Vec<Effect> {
    let mut fx = Vec::new();
    for (i, p) in prompts.into_iter().enumerate() {
        if let Some(p) = p.filter(|p| !p.trim().is_empty()) {
            start_turn(state, i, Prompt::user(p), &mut fx);
        }
    }
    fx
}

fn interrupting(name: &str) -> String {
    format!("interrupting {name}…")
}

fn interrupt_focused(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(a) = state.focused_mut() else { return };
    if a.turn.is_active() {
        a.progress.lifecycle.on_interrupt();
        fx.push(Effect::Interrupt { agent: a.id, turn: a.turn_seq });
        state.flash = Some(interrupting(&a.spec.name));
    } else if !a.input_is_empty() {
        // Nothing to stop: clear the input instead, as shells do, keeping the draft in the
        // history so that up brings it back.
        let draft = a.input_text();
        a.input = super::state::new_input();
        a.history_pos = None;
        if a.history.last() != Some(&draft) {
            a.history.push(draft);
        }
        let up = state.keymap.key_label(Context::Pane, Command::HistoryPrev).unwrap_or_default();
        state.flash = Some(format!("input cleared ({up} brings it back)"));
    } else {
        let quit = state.keymap.key_label(Context::Pane, Command::Quit).unwrap_or_default();
        state.flash = Some(format!("nothing running ({quit} quits)"));
    }
}

/// Closing asks first when the agent's worktree holds uncommitted changes (or they are not
/// known yet): the pane that shows them goes away.
fn close_loses_work(a: &super::state::Agent) -> bool {
    a.tree.as_ref().is_some_and(|t| t.uncommitted_files() != Some(0))
}

fn close_agent(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    if index >= state.agents.len() || state.agents[index].supervisor {
        return;
    }
    let a = state.agents.remove(index);
    if a.turn.is_active() {
        fx.push(Effect::Interrupt { agent: a.id, turn: a.turn_seq });
    }
    fx.push(Effect::Closed { agent: a.id });
    fx.push(Effect::Persist);
    let n = state.agents.len();
    let fix = |i: usize| if i > index { i - 1 } else { i.min(n.saturating_sub(1)) };
    state.focus = fix(state.focus);
    state.anchor = fix(state.anchor);
    state.flash = Some(format!("closed {}", a.spec.name));
}

fn form_key(state: &mut State, command: Option<Command>, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(Overlay::NewAgent(form)) = &mut state.overlay else { return };
    match command {
        Some(Command::Close) => state.overlay = None,
        Some(Command::NextField) => form.next(),
        Some(Command::PrevField) => form.prev(),
        Some(Command::Newline) if form.active == form::PROMPT => {
            form.active_field().insert_newline()
        }
        Some(Command::Submit) => {
            let values = form.values();
            if let Ok(v) = &values {
                if let Some(session_id) = v.session.clone() {
                    // Read by the loop; the form stays open until the agent is added.
                    form.error = None;
                    let name = Some(v.name.clone()).filter(|n| !n.is_empty());
                    let (cwd, model, worktree) = (v.dir.clone(), v.model.clone(), v.worktree);
                    let ask = ConvoAsk::Import { session_id, cwd, name, model, worktree };
                    fx.push(Effect::Convo(ask));
                    return;
                }
            }
            let result = values.map_err(|e| (e.0, e.1)).and_then(|v| {
                let (prompt, worktree) = (v.prompt, v.worktree);
                // With a worktree the first prompt waits until it is ready.
                let first = if worktree { None } else { prompt.clone() };
                let index = create_agent(state, v.name, PathBuf::from(v.dir), v.model, first, fx)
                    .map_err(|e| (form::NAME, e.to_string()))?;
                state.set_focus(index);
                if worktree {
                    super::worktree::open_for(state, index, prompt, fx);
                }
                Ok(index)
            });
            match result {
                Ok(_) => state.overlay = None,
                Err((field, message)) => {
                    if let Some(Overlay::NewAgent(form)) = &mut state.overlay {
                        form.active = field;
                        form.error = Some(message);
                    }
                }
            }
        }
        _ if form.active == form::WORKTREE => {
            form.error = None;
            match key.code {
                crossterm::event::KeyCode::Char(' ') => form.worktree = !form.worktree,
                crossterm::event::KeyCode::Char('y' | 'Y') => form.worktree = true,
                crossterm::event::KeyCode::Char('n' | 'N') => form.worktree = false,
                _ => {}
            }
        }
        _ => {
            form.error = None;
            form.active_field().input(key);
        }
    }
}

/// The agent the form imported was added: the form closes, and its first prompt, if any, is the
/// agent's first follow-up (queued until its worktree is ready, when it has one).
pub(super) fn imported_from_form(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(Overlay::NewAgent(form)) = state.overlay.take() else { return };
    let Ok(NewAgent { prompt, worktree, .. }) = form.values() else { return };
    // The form's agent is the last one added.
    let i = state.agents.len().saturating_sub(1);
    state.set_focus(i);
    let Some(prompt) = prompt else { return };
    match state.agents.get_mut(i) {
        Some(a) if worktree => {
            a.queue.push_back(Prompt::user(prompt));
        }
        Some(_) => {
            submit(state, i, Prompt::user(prompt), fx);
        }
        None => {}
    }
}

fn create_agent(
    state: &mut State,
    name: String,
    dir: PathBuf,
    model: Option<String>,
    prompt: Option<String>,
    fx: &mut Vec<Effect>,
) -> Result<usize, ControlError> {
    let mut spec = AgentSpec::new(name, dir);
    spec.options = state.defaults.clone();
    if model.is_some() {
        spec.options.model = model;
    }
    add_spec(state, spec, prompt, fx)
}

pub(super) fn add_spec(
    state: &mut State,
    spec: AgentSpec,
    prompt: Option<String>,
    fx: &mut Vec<Effect>,
) -> Result<usize, ControlError> {
    if let Err(why) = crate::agent::name::check(&spec.name) {
        return Err(ControlError::BadName(spec.name, why));
    }
    let alike = state.agents.iter().find(|a| crate::agent::name::same(&a.spec.name, &spec.name));
    if let Some(a) = alike {
        return Err(ControlError::NameTaken(a.spec.name.clone()));
    }
    // No focus here: an agent made by `agentmux new`, the supervisor or a fork must not take
    // the keys the user is typing; the form focuses what it made (the user's own key).
    let index = state.add_agent(spec, false);
    fx.push(Effect::Persist);
    if let Some(p) = prompt.filter(|p| !p.trim().is_empty()) {
        start_turn(state, index, Prompt::user(p), fx);
    }
    Ok(index)
}

/// Expands or collapses `cell` of the agent at `pane`; the lines that appear or go are the
/// pane's own, not new output.
fn toggle_in_place(state: &mut State, pane: usize, cell: usize) {
    let before = state.viewport(pane).total;
    let Some(a) = state.agents.get_mut(pane) else { return };
    a.transcript.toggle(cell);
    let after = state.viewport(pane).total;
    if let Some(a) = state.agents.get_mut(pane) {
        a.scroll.reshaped(before, after);
    }
}

// ---------------------------------------------------------------------------------------------
// Mouse

fn on_mouse(state: &mut State, m: MouseEvent) {
    if state.overlay.is_some() {
        return;
    }
    let tiling = state.tiling();
    let Some(pane) = layout::hit(&tiling.placed, m.column, m.row) else { return };
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            state.set_focus(pane);
            // A click on a tool call (or other expandable cell) opens or closes it.
            let Some(body) = state.body_rect(pane) else { return };
            let inside = m.column >= body.x
                && m.column < body.x + body.width
                && m.row >= body.y
                && m.row < body.y + body.height;
            if !inside {
                return;
            }
            let v = state.viewport(pane);
            let Some(a) = state.agents.get_mut(pane) else { return };
            let line = a.scroll.top(v) + usize::from(m.row - body.y);
            if let Some(cell) = a.transcript.cell_at_line(line, body.width) {
                let expandable = a.transcript.get(cell).is_some_and(|c| c.is_expandable());
                if expandable {
                    a.transcript.select(Some(cell));
                    toggle_in_place(state, pane, cell);
                }
            }
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let v = state.viewport(pane);
            if let Some(a) = state.agents.get_mut(pane) {
                if m.kind == MouseEventKind::ScrollUp {
                    a.scroll.wheel_up(v);
                } else {
                    a.scroll.wheel_down(v);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Engine

fn on_engine(state: &mut State, msg: EngineMsg, fx: &mut Vec<Effect>) {
    match msg {
        EngineMsg::Started { agent, turn, pid } => {
            let now = state.now;
            if let Some(i) = current(state, agent, turn) {
                let a = &mut state.agents[i];
                a.pid = pid;
                a.last_activity = Some(now);
                if let TurnState::Starting { .. } = a.turn {
                    a.turn = TurnState::Running { since: now };
                }
            }
        }
        EngineMsg::Lines { agent, turn, lines, .. } => {
            if let Some(i) = current(state, agent, turn) {
                for (_, line) in &lines {
                    on_line(state, i, line, fx);
                }
            }
        }
        EngineMsg::Exited { agent, turn, exit } => {
            if let Some(i) = current(state, agent, turn) {
                on_exit(state, i, exit, fx);
            }
        }
    }
}

fn on_line(state: &mut State, i: usize, line: &Line, fx: &mut Vec<Effect>) {
    let (now, wall) = (state.now, state.wall);
    let a = &mut state.agents[i];
    a.last_activity = Some(now);
    a.progress.lifecycle.on_line(line);
    a.transcript.apply(line);
    let Line::Event(ev) = line else { return };
    a.plan.apply(ev);
    if let Some(sid) = ev.session_id().filter(|s| !s.is_empty()) {
        adopt_session(a, sid, fx);
    }
    match ev {
        Event::System(s) => match &s.kind {
            SystemKind::Init(init) => {
                if init.model.is_some() {
                    a.model = init.model.clone();
                }
                a.billing = Some(if init.billed_per_token() {
                    Billing::Api
                } else {
                    Billing::Subscription
                });
            }
            SystemKind::ApiRetry(r) => a.progress.retrying = r.error_status.or(Some(0)),
            _ => {}
        },
        Event::Assistant(m) => {
            a.progress.retrying = None;
            if let Some(u) = &m.usage {
                a.burn.record(m.message_id.as_deref(), u, wall);
            }
            a.context = super::state::ContextUse::after(a.context, m);
            // "<synthetic>" marks the CLI's own error messages; the model stays what it was.
            if let Some(model) = m.model.as_ref().filter(|m| *m != "<synthetic>") {
                a.model = Some(super::query::reported_model(a.model.as_deref(), model));
            }
            super::worktree::on_message(state, i, m);
        }
        Event::RateLimit(r) => {
            let now = state.time();
            state.limits.apply(r, now);
            let status = r.status.clone().unwrap_or_default();
            state.agents[i].rate_limit = Some(status).filter(|s| s != "allowed" && !s.is_empty());
        }
        Event::Result(r) => on_result(state, i, r),
        _ => {}
    }
}

/// Adopts the conversation id the CLI reports: that is the one follow-ups must resume.
fn adopt_session(a: &mut super::state::Agent, sid: &str, fx: &mut Vec<Effect>) {
    if a.session.as_deref() != Some(sid) {
        a.session = Some(sid.to_string());
        // A new id after a fork's turn: the copy is made, follow-ups resume it.
        a.fork = None;
        fx.push(Effect::Persist);
    }
    if !a.session_live {
        a.session_live = true;
        fx.push(Effect::Persist);
    }
}

/// A turn's result line: what it cost and counted, what it was denied, what it left to say.
fn on_result(state: &mut State, i: usize, r: &crate::agent::event::ResultEvent) {
    if !r.permission_denials.is_empty() {
        super::approvals::on_result(state, i, &r.permission_denials);
    }
    let a = &mut state.agents[i];
    a.turns += 1;
    if let Some(c) = r.total_cost_usd {
        a.cost_usd = crate::agent::event::add_cost(a.cost_usd, c);
    }
    if let Some(u) = &r.usage {
        a.tokens = a.tokens.saturating_add(u.total());
    }
    // A resume of a conversation the CLI does not have: start a new one next time.
    if r.errors.iter().any(|e| e.contains("No conversation found")) {
        a.session_live = false;
        a.session = None;
        a.transcript.push_note(
            "the session was not found; the next message starts a new one",
            NoteLevel::Info,
        );
    }
    super::worktree::on_result_text(state, i, r.result.as_deref());
}

fn on_exit(state: &mut State, i: usize, exit: ExitInfo, fx: &mut Vec<Effect>) {
    // "interrupting NAME…" is stale once the turn has ended, however it ended.
    if state.flash.as_deref() == Some(interrupting(state.agents[i].name()).as_str()) {
        state.flash = None;
    }
    let a = &mut state.agents[i];
    let report = std::mem::take(&mut a.progress);
    a.pid = None;
    a.last_activity = Some(state.now);
    // The footer the result described, or one saying how the turn ended without it.
    let mut footer = a.transcript.result_footer().cloned();
    let (verdict, judged) = report.verdict(&exit);
    super::supervise::turn_ended(state, i, verdict, &judged, &exit);
    let a = &mut state.agents[i];
    a.turn = match (verdict, judged) {
        (Verdict::Interrupted, _) => {
            let f = footer.get_or_insert_with(|| TurnFooter::new(TurnStatus::Interrupted));
            f.status = TurnStatus::Interrupted;
            TurnState::Interrupted
        }
        (Verdict::RateLimited { resets_at }, _) => TurnState::RateLimited { resets_at },
        (Verdict::Failed, Phase::Failed(f)) => match &f.result {
            // The result's own words, as its footer says them.
            Some(r) => TurnState::Error { message: result_failure(r).unwrap_or(f.summary) },
            None => {
                let why = f.detail.iter().rev().find(|l| !l.trim().is_empty()).cloned();
                // Said once: the footer, with the exit code; the line it printed is shown
                // above it (dimmed) and is named only when it is not.
                let how = exit.short();
                let reason = match &why {
                    Some(w) if !a.transcript.last_output_contains(w) => format!("{w} ({how})"),
                    _ => how,
                };
                footer = Some(TurnFooter::new(TurnStatus::Failed(reason)));
                TurnState::Error { message: why.unwrap_or(f.summary) }
            }
        },
        _ => TurnState::Idle,
    };
    a.transcript.end_turn(footer.unwrap_or_else(|| TurnFooter::new(TurnStatus::Done)));
    a.plan.end_turn();
    a.ended_at = Some(state.now);
    // A turn the user stopped is no news to them.
    a.unread = !matches!(a.turn, TurnState::Interrupted);
    // What the turn changed in the agent's worktree, read off the UI thread.
    super::worktree::after_turn(state, i, fx);
    super::approvals::on_turn_end(state, i, fx);
    let a = &mut state.agents[i];
    // The next queued follow-up starts as soon as the governor allows (`governor::release_due`,
    // at the end of this update), unless the user stopped the agent; a refused prompt runs
    // again first.
    match a.turn {
        TurnState::RateLimited { resets_at } => keep_refused(state, i, resets_at, fx),
        TurnState::Interrupted => {}
        _ => a.held = !a.queue.is_empty(),
    }
}

/// A refused turn's prompt goes back to the front of the queue, to run again once the limit
/// resets (at least [`RETRY_GAP`] seconds on, so a reset already past is no busy loop).
fn keep_refused(state: &mut State, i: usize, resets_at: Option<i64>, fx: &mut Vec<Effect>) {
    let wall = state.wall;
    let a = &mut state.agents[i];
    let until = resets_at.unwrap_or(wall + crate::limits::governor::UNKNOWN_RESET_WAIT);
    a.refused_until = Some(until.max(wall + RETRY_GAP));
    let Some(text) = a.prompt.clone() else { return };
    // Still whoever asked for it: a supervisor's refused task reports again when it reruns.
    a.queue.push_front(Prompt { text, origin: a.origin });
    a.held = true;
    let when = crate::limits::reset_clock(until.max(wall + RETRY_GAP), wall);
    a.transcript.push_note(
        &format!("refused by the usage limit: the prompt runs again at {when} (UTC); cancel it in the queue"),
        NoteLevel::Warn,
    );
    fx.push(Effect::Persist);
}

/// The least wait before a refused prompt is sent again (seconds).
const RETRY_GAP: i64 = 5;

// ---------------------------------------------------------------------------------------------
// Control

pub(super) fn control(state: &mut State, cmd: ControlCmd, fx: &mut Vec<Effect>) -> ControlReply {
    match cmd {
        ControlCmd::Send { agent, prompt, origin } => {
            let i = named(state, &agent)?;
            if prompt.trim().is_empty() {
                return Err(ControlError::EmptyPrompt);
            }
            let prompt = Prompt { text: prompt, origin };
            // A task is known before the turn that runs it starts (a turn that cannot start
            // reports it as not run).
            super::supervise::sent(state, &prompt, i);
            Ok(match submit(state, i, prompt, fx) {
                Some(position) => ControlOk::Queued { position },
                None => ControlOk::Started,
            })
        }
        ControlCmd::New { spec, prompt, worktree } => new_agent(state, *spec, prompt, worktree, fx),
        ControlCmd::Continue { spec, history, how, worktree } => {
            super::convo::add(state, *spec, *history, how, worktree, fx)
        }
        ControlCmd::Interrupt { agent } => {
            let i = named(state, &agent)?;
            let a = &mut state.agents[i];
            if !a.turn.is_active() {
                return Err(ControlError::NotRunning(agent));
            }
            a.progress.lifecycle.on_interrupt();
            fx.push(Effect::Interrupt { agent: a.id, turn: a.turn_seq });
            Ok(ControlOk::Interrupted)
        }
        ControlCmd::Resume { agent } => resume(state, &agent, fx),
        ControlCmd::Kill { agent } => {
            let i = named(state, &agent)?;
            if state.agents[i].supervisor {
                return Err(ControlError::Supervisor);
            }
            close_agent(state, i, fx);
            Ok(ControlOk::Closed)
        }
        ControlCmd::Set { agent, model, permission_mode } => {
            let i = named(state, &agent)?;
            super::switch::set(state, i, model.map(Some), permission_mode, fx);
            Ok(ControlOk::Set)
        }
    }
}

fn named(state: &State, name: &str) -> Result<usize, ControlError> {
    state.index_named(name).ok_or_else(|| ControlError::NoSuchAgent(name.to_string()))
}

/// `agentmux new`: with a worktree, the first prompt waits in the queue until it is ready.
fn new_agent(
    state: &mut State,
    spec: AgentSpec,
    prompt: Option<String>,
    worktree: bool,
    fx: &mut Vec<Effect>,
) -> ControlReply {
    let name = spec.name.clone();
    if !worktree {
        add_spec(state, spec, prompt, fx)?;
        return Ok(ControlOk::Created { name });
    }
    let index = add_spec(state, spec, None, fx)?;
    super::worktree::open_for(state, index, prompt, fx);
    Ok(ControlOk::OpeningWorktree { name, agent: state.agents[index].id })
}

/// `agentmux resume`: a held agent starts now, or the turn agentmux died in runs again.
fn resume(state: &mut State, agent: &str, fx: &mut Vec<Effect>) -> ControlReply {
    let i = named(state, agent)?;
    if super::governor::release(state, i) {
        return Ok(ControlOk::Resumed);
    }
    let prompt = super::restore::take_resumable(state, i)
        .ok_or_else(|| ControlError::NotHeld(agent.to_string()))?;
    start_turn(state, i, Prompt::user(prompt), fx);
    Ok(ControlOk::Resumed)
}
