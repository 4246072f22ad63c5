//! Keymaps are data: key strings ("ctrl-x", "alt-enter", "f1") bound to named commands per
//! context. Defaults live here; a user's `[keys]` table patches them; the help overlay and the
//! hint line read the same bindings the handlers resolve.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::command::{Command, Context};

/// One key with its modifiers, normalised so that a parsed string and a terminal event compare
/// equal (letters carry their case, so SHIFT is dropped from characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("unknown key {0:?} (try \"ctrl-x\", \"alt-enter\", \"f1\", \"pageup\")")]
    BadKey(String),
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    #[error(
        "unknown context {0:?} (pane, help, form, confirm, diff, commit, approval, overview, search or fork)"
    )]
    UnknownContext(String),
    #[error("{key:?} types text, so it cannot answer an approval ({command}); use a ctrl- or alt- chord or an f-key")]
    TypingKey { key: String, command: &'static str },
}

impl KeySpec {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        KeySpec::normalised(code, mods)
    }

    fn normalised(code: KeyCode, mut mods: KeyModifiers) -> Self {
        let code = match code {
            // Terminals report shift-tab as BackTab, some with SHIFT set.
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                // Ctrl-letters arrive in lower case; keep bindings case-insensitive there.
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            other => other,
        };
        mods &= KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT;
        KeySpec { code, mods }
    }

    pub fn from_event(ev: &KeyEvent) -> Option<KeySpec> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        Some(KeySpec::normalised(ev.code, ev.modifiers))
    }

    /// Parse "ctrl-x", "alt-enter", "shift-up", "f1", "pageup", "?" (case-insensitive names).
    pub fn parse(s: &str) -> Result<KeySpec, KeymapError> {
        let bad = || KeymapError::BadKey(s.to_string());
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(bad());
        }
        // The last part is the key; a trailing "-" is the minus key itself ("ctrl--").
        let (prefix, key) = match trimmed.strip_suffix("--") {
            Some(p) => (p, "-"),
            None if trimmed == "-" => ("", "-"),
            None => match trimmed.rfind('-') {
                Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
                None => ("", trimmed),
            },
        };
        let mods = modifiers(prefix).ok_or_else(bad)?;
        let code = key_code(key).ok_or_else(bad)?;
        // "shift-tab" is how terminals spell BackTab.
        if code == KeyCode::Tab && mods.contains(KeyModifiers::SHIFT) {
            return Ok(KeySpec::normalised(KeyCode::BackTab, mods));
        }
        Ok(KeySpec::normalised(code, mods))
    }

    /// Whether the key is part of typing in an input box (a character without ctrl or alt,
    /// or the editing keys).
    pub fn types(&self) -> bool {
        let chord = self.mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self.code {
            KeyCode::Char(_) | KeyCode::Backspace | KeyCode::Delete | KeyCode::Tab => !chord,
            KeyCode::Enter => self.mods.is_empty(),
            _ => false,
        }
    }

    pub fn matches(&self, ev: &KeyEvent) -> bool {
        KeySpec::from_event(ev).is_some_and(|k| k == *self)
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pageup"),
            KeyCode::PageDown => f.write_str("pagedown"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub context: Context,
    pub command: Command,
    pub keys: Vec<KeySpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

/// The defaults. Every key here is one terminals deliver without extra protocols (Shift-Enter is
/// a bonus where the terminal reports it; Alt-Enter always works).
const DEFAULTS: &[(Context, Command, &[&str])] = &[
    (Context::Pane, Command::Send, &["enter"]),
    (Context::Pane, Command::Newline, &["alt-enter", "shift-enter"]),
    (Context::Pane, Command::HistoryPrev, &["up"]),
    (Context::Pane, Command::HistoryNext, &["down"]),
    (Context::Pane, Command::FocusNext, &["tab"]),
    (Context::Pane, Command::FocusPrev, &["shift-tab"]),
    (Context::Pane, Command::FocusLeft, &["alt-left", "alt-h"]),
    (Context::Pane, Command::FocusRight, &["alt-right", "alt-l"]),
    (Context::Pane, Command::FocusUp, &["alt-up", "alt-k"]),
    (Context::Pane, Command::FocusDown, &["alt-down", "alt-j"]),
    (Context::Pane, Command::Interrupt, &["ctrl-c"]),
    (Context::Pane, Command::Zoom, &["alt-z", "f11"]),
    (Context::Pane, Command::CycleLayout, &["alt-s"]),
    (Context::Pane, Command::ScrollUp, &["shift-up", "ctrl-up"]),
    (Context::Pane, Command::ScrollDown, &["shift-down", "ctrl-down"]),
    (Context::Pane, Command::PageUp, &["pageup"]),
    (Context::Pane, Command::PageDown, &["pagedown"]),
    (Context::Pane, Command::ScrollTop, &["ctrl-home", "alt-g"]),
    (Context::Pane, Command::ScrollBottom, &["ctrl-end", "alt-G"]),
    (Context::Pane, Command::SelectPrev, &["alt-,"]),
    (Context::Pane, Command::SelectNext, &["alt-."]),
    (Context::Pane, Command::ToggleExpand, &["ctrl-o", "alt-o"]),
    (Context::Pane, Command::EditQueued, &["alt-e"]),
    (Context::Pane, Command::CancelQueued, &["alt-d"]),
    // Shifted, the keys that select tool calls (alt-, alt-.) pick among the queued follow-ups.
    (Context::Pane, Command::PickQueuedPrev, &["alt-<"]),
    (Context::Pane, Command::PickQueuedNext, &["alt->"]),
    (Context::Pane, Command::NewAgent, &["alt-n"]),
    (Context::Pane, Command::CloseAgent, &["alt-w"]),
    (Context::Pane, Command::Help, &["f1", "ctrl-g"]),
    (Context::Pane, Command::Suspend, &["ctrl-z"]),
    (Context::Pane, Command::Quit, &["ctrl-q"]),
    (Context::Pane, Command::Detach, &["alt-q"]),
    (Context::Help, Command::Close, &["esc", "f1", "ctrl-g", "q", "enter"]),
    (Context::Help, Command::ScrollUp, &["up", "k"]),
    (Context::Help, Command::ScrollDown, &["down", "j"]),
    (Context::Help, Command::Quit, &["ctrl-q"]),
    (Context::Form, Command::Submit, &["enter"]),
    (Context::Form, Command::NextField, &["tab", "down"]),
    (Context::Form, Command::PrevField, &["shift-tab", "up"]),
    (Context::Form, Command::Newline, &["alt-enter", "shift-enter"]),
    (Context::Form, Command::Close, &["esc"]),
    (Context::Confirm, Command::Yes, &["y", "Y", "enter"]),
    (Context::Confirm, Command::No, &["n", "N", "esc"]),
    (Context::Confirm, Command::Detach, &["d", "D"]),
    (Context::Pane, Command::Diff, &["alt-v"]),
    (Context::Pane, Command::Commit, &["alt-c"]),
    (Context::Pane, Command::Shell, &["alt-t"]),
    (Context::Pane, Command::RemoveWorktree, &["alt-x"]),
    (Context::Diff, Command::Close, &["esc", "q", "alt-v"]),
    (Context::Diff, Command::ScrollUp, &["up", "k"]),
    (Context::Diff, Command::ScrollDown, &["down", "j"]),
    (Context::Diff, Command::PageUp, &["pageup", "b"]),
    (Context::Diff, Command::PageDown, &["pagedown", "space"]),
    (Context::Diff, Command::ScrollTop, &["home", "g"]),
    (Context::Diff, Command::ScrollBottom, &["end", "G"]),
    (Context::Diff, Command::NextFile, &["tab", "right", "l", "n"]),
    (Context::Diff, Command::PrevFile, &["shift-tab", "left", "h", "p"]),
    (Context::Diff, Command::Refresh, &["r"]),
    (Context::Diff, Command::Commit, &["c"]),
    (Context::Commit, Command::Submit, &["enter"]),
    (Context::Commit, Command::Newline, &["alt-enter", "shift-enter"]),
    (Context::Commit, Command::Close, &["esc"]),
    // Chords only: the input box below keeps taking letters, so a follow-up being typed
    // never answers a call ("also check logs" once allowed a command always with its `a`).
    (Context::Approval, Command::AllowOnce, &["alt-y"]),
    (Context::Approval, Command::AllowAlways, &["alt-Y"]),
    (Context::Approval, Command::Deny, &["alt-n"]),
    (Context::Approval, Command::Send, &["enter"]),
    (Context::Approval, Command::Close, &["esc"]),
    (Context::Approval, Command::PageUp, &["pageup"]),
    (Context::Approval, Command::PageDown, &["pagedown"]),
    // A question's options: these keys move and tick only while the input is empty, so a
    // follow-up being typed keeps them (a number key picks an option the same way).
    (Context::Approval, Command::ChoiceUp, &["up"]),
    (Context::Approval, Command::ChoiceDown, &["down"]),
    (Context::Approval, Command::Tick, &["space"]),
    (Context::Pane, Command::NextApproval, &["alt-a"]),
    (Context::Pane, Command::AllowDenied, &["alt-r"]),
    (Context::Pane, Command::ResumeTurn, &["alt-u"]),
    (Context::Pane, Command::Overview, &["alt-m", "f2"]),
    (Context::Pane, Command::Inbox, &["alt-i"]),
    (Context::Overview, Command::Submit, &["enter"]),
    (Context::Overview, Command::ScrollUp, &["up"]),
    (Context::Overview, Command::ScrollDown, &["down"]),
    (Context::Overview, Command::PageUp, &["pageup"]),
    (Context::Overview, Command::PageDown, &["pagedown"]),
    (Context::Overview, Command::ScrollTop, &["home"]),
    (Context::Overview, Command::ScrollBottom, &["end"]),
    (Context::Overview, Command::ToggleFold, &["tab"]),
    (Context::Overview, Command::HideIdle, &["alt-h"]),
    (Context::Overview, Command::Inbox, &["alt-i"]),
    (Context::Overview, Command::Close, &["esc", "alt-m", "f2"]),
    (Context::Overview, Command::Quit, &["ctrl-q"]),
    (Context::Pane, Command::Search, &["alt-/"]),
    (Context::Pane, Command::SearchAll, &["alt-?"]),
    (Context::Search, Command::Submit, &["enter"]),
    (Context::Search, Command::ScrollDown, &["down"]),
    (Context::Search, Command::ScrollUp, &["up"]),
    (Context::Search, Command::Close, &["esc"]),
    (Context::Search, Command::Quit, &["ctrl-q"]),
    // Shifted: alt-f moves the input's cursor a word on.
    (Context::Pane, Command::Fork, &["alt-F"]),
    (Context::Fork, Command::Submit, &["enter"]),
    (Context::Fork, Command::ScrollUp, &["up"]),
    (Context::Fork, Command::ScrollDown, &["down"]),
    (Context::Fork, Command::ToggleWorktree, &["w"]),
    (Context::Fork, Command::Close, &["esc"]),
    (Context::Pane, Command::Switch, &["alt-p"]),
    (Context::Switch, Command::Submit, &["enter"]),
    (Context::Switch, Command::ScrollUp, &["up", "k"]),
    (Context::Switch, Command::ScrollDown, &["down", "j"]),
    (Context::Switch, Command::Close, &["esc", "alt-p"]),
    (Context::Switch, Command::Quit, &["ctrl-q"]),
    // Shifted: alt-l moves the focus right.
    (Context::Pane, Command::Limits, &["f3", "alt-L"]),
    (Context::Limits, Command::Close, &["esc", "q", "f3", "alt-L"]),
    (Context::Limits, Command::Quit, &["ctrl-q"]),
];

/// What the hint line offers per context, in order of importance. A narrow line drops the tail,
/// so the pane hints that answer the focused pane's state come first: the hint line shows them
/// only while they apply (see `ui::status`), and then they are what the user came for.
const HINTS: &[(Context, Command, &str)] = &[
    (Context::Pane, Command::ResumeTurn, "resume"),
    (Context::Pane, Command::AllowDenied, "allow denied"),
    (Context::Pane, Command::EditQueued, "edit queued"),
    (Context::Pane, Command::CancelQueued, "cancel queued"),
    (Context::Pane, Command::Interrupt, "interrupt"),
    (Context::Pane, Command::NextApproval, "next waiting"),
    (Context::Pane, Command::Inbox, "needs you"),
    (Context::Pane, Command::PickQueuedPrev, "pick queued"),
    (Context::Pane, Command::Send, "send"),
    (Context::Pane, Command::FocusNext, "focus"),
    (Context::Pane, Command::Zoom, "zoom"),
    (Context::Pane, Command::NewAgent, "new"),
    (Context::Pane, Command::Help, "help"),
    (Context::Pane, Command::Overview, "overview"),
    (Context::Pane, Command::Quit, "quit"),
    (Context::Pane, Command::Detach, "detach"),
    (Context::Pane, Command::Newline, "newline"),
    (Context::Pane, Command::CycleLayout, "layout"),
    (Context::Pane, Command::PageUp, "scroll"),
    (Context::Pane, Command::ToggleExpand, "expand"),
    (Context::Pane, Command::Switch, "model/mode"),
    (Context::Help, Command::Close, "close"),
    (Context::Help, Command::ScrollDown, "scroll"),
    (Context::Form, Command::Submit, "create"),
    (Context::Form, Command::NextField, "next field"),
    (Context::Form, Command::Close, "cancel"),
    (Context::Confirm, Command::Yes, "yes"),
    (Context::Confirm, Command::No, "no"),
    (Context::Diff, Command::NextFile, "file"),
    (Context::Diff, Command::PageDown, "scroll"),
    (Context::Diff, Command::Commit, "commit"),
    (Context::Diff, Command::Close, "close"),
    (Context::Commit, Command::Submit, "commit"),
    (Context::Commit, Command::Close, "cancel"),
    (Context::Approval, Command::ChoiceDown, "choose"),
    (Context::Approval, Command::Tick, "tick"),
    (Context::Approval, Command::AllowOnce, "allow"),
    (Context::Approval, Command::AllowAlways, "always"),
    (Context::Approval, Command::Deny, "deny"),
    (Context::Overview, Command::Submit, "open"),
    (Context::Overview, Command::Inbox, "needs you"),
    (Context::Overview, Command::ToggleFold, "fold"),
    (Context::Overview, Command::HideIdle, "hide idle"),
    (Context::Overview, Command::Close, "close"),
    (Context::Search, Command::Submit, "next"),
    (Context::Search, Command::ScrollUp, "previous"),
    (Context::Search, Command::Close, "close"),
    (Context::Switch, Command::Submit, "switch"),
    (Context::Switch, Command::ScrollDown, "move"),
    (Context::Switch, Command::Close, "close"),
    (Context::Approval, Command::Send, "deny with this message"),
    (Context::Approval, Command::Close, "back"),
    (Context::Approval, Command::PageDown, "scroll"),
    (Context::Fork, Command::Submit, "fork"),
    (Context::Fork, Command::ScrollUp, "earlier"),
    (Context::Fork, Command::ScrollDown, "later"),
    (Context::Fork, Command::ToggleWorktree, "worktree"),
    (Context::Fork, Command::Close, "cancel"),
    (Context::Limits, Command::Close, "close"),
];

/// The commands that answer a waiting call: bound only to keys that cannot be typing.
fn answers_approval(context: Context, command: Command) -> bool {
    context == Context::Approval
        && matches!(command, Command::AllowOnce | Command::AllowAlways | Command::Deny)
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::defaults()
    }
}

impl Keymap {
    pub fn defaults() -> Keymap {
        let bindings = DEFAULTS
            .iter()
            .map(|&(context, command, keys)| Binding {
                context,
                command,
                // The defaults are literals tested below; a typo would fail `defaults_parse`.
                keys: keys.iter().filter_map(|k| KeySpec::parse(k).ok()).collect(),
            })
            .collect();
        Keymap { bindings }
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The command a key means in a context, if any.
    pub fn resolve(&self, context: Context, ev: &KeyEvent) -> Option<Command> {
        let key = KeySpec::from_event(ev)?;
        self.resolve_spec(context, key)
    }

    pub fn resolve_spec(&self, context: Context, key: KeySpec) -> Option<Command> {
        self.bindings
            .iter()
            .find(|b| b.context == context && b.keys.contains(&key))
            .map(|b| b.command)
    }

    pub fn keys(&self, context: Context, command: Command) -> &[KeySpec] {
        self.bindings
            .iter()
            .find(|b| b.context == context && b.command == command)
            .map(|b| b.keys.as_slice())
            .unwrap_or(&[])
    }

    /// The first key of a command, as shown to the user ("alt-z").
    pub fn key_label(&self, context: Context, command: Command) -> Option<String> {
        self.keys(context, command).first().map(|k| k.to_string())
    }

    /// Bind `keys` to a command, replacing its keys; the keys are taken from whatever else had
    /// them in that context, so the user's choice always wins.
    pub fn bind(&mut self, context: Context, command: Command, keys: Vec<KeySpec>) {
        for b in self.bindings.iter_mut().filter(|b| b.context == context) {
            b.keys.retain(|k| !keys.contains(k));
        }
        match self.bindings.iter_mut().find(|b| b.context == context && b.command == command) {
            Some(b) => b.keys = keys,
            None => self.bindings.push(Binding { context, command, keys }),
        }
    }

    /// Apply a user's `[keys]` table: `command = "key"` or `command = ["key", ...]` (an empty
    /// list unbinds); a name may be prefixed with its context (`form.submit`), pane otherwise.
    /// Nothing changes when any entry is wrong.
    pub fn patch<'a>(
        &mut self,
        table: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<(), KeymapError> {
        let mut staged = Vec::new();
        for (name, keys) in table {
            let (context, command) = match name.split_once('.') {
                Some((ctx, cmd)) => (
                    Context::from_name(ctx)
                        .ok_or_else(|| KeymapError::UnknownContext(ctx.into()))?,
                    cmd,
                ),
                None => (Context::Pane, name),
            };
            let command = Command::from_name(command)
                .ok_or_else(|| KeymapError::UnknownCommand(command.to_string()))?;
            let keys = keys.iter().map(|k| KeySpec::parse(k)).collect::<Result<Vec<_>, _>>()?;
            if let Some(k) = keys.iter().find(|k| answers_approval(context, command) && k.types()) {
                return Err(KeymapError::TypingKey { key: k.to_string(), command: command.name() });
            }
            staged.push((context, command, keys));
        }
        for (context, command, keys) in staged {
            self.bind(context, command, keys);
        }
        Ok(())
    }

    /// Convenience for a TOML table already read into a map.
    pub fn patch_map(&mut self, table: &BTreeMap<String, Vec<String>>) -> Result<(), KeymapError> {
        self.patch(table.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    }

    /// The hint line's entries for a context: (key label, short label), in order of importance,
    /// skipping commands that are unbound or that `show` rejects for the current state.
    pub fn hints(
        &self,
        context: Context,
        show: impl Fn(Command) -> bool,
    ) -> Vec<(String, &'static str)> {
        HINTS
            .iter()
            .filter(|(c, cmd, _)| *c == context && show(*cmd))
            .filter_map(|&(_, cmd, label)| Some((self.key_label(context, cmd)?, label)))
            .collect()
    }

    /// Every binding of a context with its keys joined, for the help overlay.
    pub fn help_rows(&self, context: Context) -> Vec<(String, &'static str)> {
        self.bindings
            .iter()
            .filter(|b| b.context == context && !b.keys.is_empty())
            .map(|b| {
                let keys: Vec<String> = b.keys.iter().map(|k| k.to_string()).collect();
                (keys.join(" "), b.command.help_in(context))
            })
            .collect()
    }
}

/// "ctrl-alt" and the like; `None` for a name that is not a modifier.
fn modifiers(prefix: &str) -> Option<KeyModifiers> {
    let mut mods = KeyModifiers::NONE;
    for m in prefix.split('-').filter(|m| !m.is_empty()) {
        mods |= match m.to_ascii_lowercase().as_str() {
            "ctrl" | "control" | "c" => KeyModifiers::CONTROL,
            "alt" | "meta" | "m" | "a" => KeyModifiers::ALT,
            "shift" | "s" => KeyModifiers::SHIFT,
            _ => return None,
        };
    }
    Some(mods)
}

/// A key's name ("enter", "pgup", "f5") or the character itself.
fn key_code(key: &str) -> Option<KeyCode> {
    let lower = key.to_ascii_lowercase();
    Some(match lower.as_str() {
        "enter" | "return" | "ret" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "backspace" | "bs" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" | "ins" => KeyCode::Insert,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" | "pgdown" => KeyCode::PageDown,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "space" => KeyCode::Char(' '),
        f if f.len() >= 2 && f.starts_with('f') && f[1..].chars().all(|c| c.is_ascii_digit()) => {
            match f[1..].parse::<u8>() {
                Ok(n @ 1..=24) => KeyCode::F(n),
                _ => return None,
            }
        }
        _ => {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => KeyCode::Char(c),
                _ => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_parse() {
        for (_, _, keys) in DEFAULTS {
            for k in *keys {
                assert!(KeySpec::parse(k).is_ok(), "{k}");
            }
        }
        // No key means two things in one context.
        let km = Keymap::defaults();
        for &ctx in Context::ALL {
            let mut seen = std::collections::HashSet::new();
            for b in km.bindings().iter().filter(|b| b.context == ctx) {
                for k in &b.keys {
                    assert!(seen.insert(*k), "{ctx:?}: {k} bound twice");
                }
            }
        }
    }

    #[test]
    fn parsing_key_strings() {
        let p = |s| KeySpec::parse(s);
        assert_eq!(p("ctrl-x"), Ok(KeySpec::new(KeyCode::Char('x'), KeyModifiers::CONTROL)));
        assert_eq!(p("Ctrl-X"), Ok(KeySpec::new(KeyCode::Char('x'), KeyModifiers::CONTROL)));
        assert_eq!(p("alt-enter"), Ok(KeySpec::new(KeyCode::Enter, KeyModifiers::ALT)));
        assert_eq!(p("f1"), Ok(KeySpec::new(KeyCode::F(1), KeyModifiers::NONE)));
        assert_eq!(p("F12"), Ok(KeySpec::new(KeyCode::F(12), KeyModifiers::NONE)));
        assert_eq!(p("shift-tab"), Ok(KeySpec::new(KeyCode::BackTab, KeyModifiers::NONE)));
        assert_eq!(p("ctrl--"), Ok(KeySpec::new(KeyCode::Char('-'), KeyModifiers::CONTROL)));
        assert_eq!(p("-"), Ok(KeySpec::new(KeyCode::Char('-'), KeyModifiers::NONE)));
        assert_eq!(p("?"), Ok(KeySpec::new(KeyCode::Char('?'), KeyModifiers::NONE)));
        assert_eq!(
            p("ctrl-alt-pageup"),
            Ok(KeySpec::new(KeyCode::PageUp, KeyModifiers::CONTROL | KeyModifiers::ALT))
        );
        for bad in ["", "hyper-x", "ctrl-", "f0", "f99", "enterr", "ctrl-xy"] {
            assert!(p(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["ctrl-x", "alt-enter", "f1", "shift-tab", "pageup", "ctrl-alt-left", "space"] {
            let k = KeySpec::parse(s).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(k.to_string(), s);
            assert_eq!(KeySpec::parse(&k.to_string()), Ok(k));
        }
    }

    #[test]
    fn resolving_terminal_events() {
        let km = Keymap::defaults();
        let r = |ctx, code, mods| km.resolve(ctx, &key(code, mods));
        assert_eq!(r(Context::Pane, KeyCode::Enter, KeyModifiers::NONE), Some(Command::Send));
        assert_eq!(r(Context::Pane, KeyCode::Enter, KeyModifiers::ALT), Some(Command::Newline));
        assert_eq!(r(Context::Pane, KeyCode::Enter, KeyModifiers::SHIFT), Some(Command::Newline));
        // Shift-Tab arrives as BackTab with SHIFT set.
        assert_eq!(
            r(Context::Pane, KeyCode::BackTab, KeyModifiers::SHIFT),
            Some(Command::FocusPrev)
        );
        // Ctrl letters match whatever case the terminal reports.
        assert_eq!(
            r(Context::Pane, KeyCode::Char('Q'), KeyModifiers::CONTROL),
            Some(Command::Quit)
        );
        assert_eq!(r(Context::Pane, KeyCode::Char('a'), KeyModifiers::NONE), None, "typing");
        assert_eq!(
            r(Context::Confirm, KeyCode::Char('Y'), KeyModifiers::SHIFT),
            Some(Command::Yes)
        );
        assert_eq!(r(Context::Help, KeyCode::Esc, KeyModifiers::NONE), Some(Command::Close));
        let mut release = key(KeyCode::Enter, KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(km.resolve(Context::Pane, &release), None);
    }

    #[test]
    fn a_user_table_patches_bindings() {
        let mut km = Keymap::defaults();
        let quit = vec!["ctrl-x".to_string()];
        let zoom = vec!["ctrl-q".to_string(), "f2".to_string()];
        let none: Vec<String> = vec![];
        km.patch([
            ("quit", quit.as_slice()),
            ("zoom", zoom.as_slice()),
            ("form.close", none.as_slice()),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let r = |ctx, s: &str| {
            km.resolve_spec(ctx, KeySpec::parse(s).unwrap_or_else(|e| panic!("{e}")))
        };
        assert_eq!(r(Context::Pane, "ctrl-x"), Some(Command::Quit));
        assert_eq!(r(Context::Pane, "ctrl-q"), Some(Command::Zoom), "taken from quit");
        assert_eq!(r(Context::Pane, "f2"), Some(Command::Zoom));
        assert_eq!(r(Context::Pane, "alt-z"), None, "replaced");
        assert_eq!(r(Context::Form, "esc"), None, "unbound");
        assert_eq!(km.key_label(Context::Pane, Command::Quit).as_deref(), Some("ctrl-x"));
        // The help and the hints follow.
        assert!(km
            .help_rows(Context::Pane)
            .contains(&("ctrl-x".to_string(), Command::Quit.help())));
        assert!(km.hints(Context::Pane, |_| true).contains(&("ctrl-x".to_string(), "quit")));
    }

    #[test]
    fn a_bad_table_changes_nothing() {
        let mut km = Keymap::defaults();
        let good = vec!["ctrl-x".to_string()];
        let bad = vec!["hyper-y".to_string()];
        let err = km.patch([("quit", good.as_slice()), ("zoom", bad.as_slice())]);
        assert_eq!(err, Err(KeymapError::BadKey("hyper-y".into())));
        assert_eq!(km, Keymap::defaults());
        assert_eq!(
            km.patch([("fly", good.as_slice())]),
            Err(KeymapError::UnknownCommand("fly".into()))
        );
        assert_eq!(
            km.patch([("nowhere.quit", good.as_slice())]),
            Err(KeymapError::UnknownContext("nowhere".into()))
        );
    }

    #[test]
    fn hints_skip_what_the_state_hides() {
        let km = Keymap::defaults();
        let all = km.hints(Context::Pane, |_| true);
        let idle = km.hints(Context::Pane, |c| c != Command::Interrupt);
        assert!(all.iter().any(|(_, l)| *l == "interrupt"));
        assert!(!idle.iter().any(|(_, l)| *l == "interrupt"));
        // The keys for the focused pane's state lead when they apply, and only then.
        assert_eq!(all[0], ("alt-u".to_string(), "resume"));
        let plain = km.hints(Context::Pane, |c| {
            !matches!(
                c,
                Command::ResumeTurn
                    | Command::AllowDenied
                    | Command::EditQueued
                    | Command::CancelQueued
                    | Command::PickQueuedPrev
                    | Command::Interrupt
                    | Command::NextApproval
                    | Command::Inbox
            )
        });
        assert_eq!(plain[0], ("enter".to_string(), "send"));
    }

    #[test]
    fn approval_answers_are_never_typing_keys() {
        let km = Keymap::defaults();
        for c in [Command::AllowOnce, Command::AllowAlways, Command::Deny] {
            let keys = km.keys(Context::Approval, c);
            assert!(!keys.is_empty() && keys.iter().all(|k| !k.types()), "{c:?}: {keys:?}");
        }
        let typed = |s: &str| KeySpec::parse(s).map(|k| k.types()).ok();
        let table: &[(&str, Option<bool>)] = &[
            ("a", Some(true)),
            ("A", Some(true)),
            ("space", Some(true)),
            ("enter", Some(true)),
            ("backspace", Some(true)),
            ("alt-a", Some(false)),
            ("ctrl-y", Some(false)),
            ("alt-enter", Some(false)),
            ("f5", Some(false)),
            ("esc", Some(false)),
        ];
        for (key, want) in table {
            assert_eq!(typed(key), *want, "{key}");
        }
        let mut km = Keymap::defaults();
        let keys = vec!["a".to_string()];
        let err = km.patch([("approval.allow-always", keys.as_slice())]).unwrap_err();
        assert!(matches!(err, KeymapError::TypingKey { .. }), "{err}");
        assert!(err.to_string().contains("cannot answer an approval"), "{err}");
        assert_eq!(km, Keymap::defaults(), "nothing changed");
        let keys = vec!["ctrl-y".to_string()];
        km.patch([("approval.allow", keys.as_slice())]).expect("a chord is fine");
        // Other approval commands (the deny message's enter) may stay typing keys.
        let keys = vec!["enter".to_string()];
        km.patch([("approval.send", keys.as_slice())]).expect("enter sends the message");
    }
}
