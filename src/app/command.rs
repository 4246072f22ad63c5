//! Named commands: what a key can do. The keymap binds keys to these; handlers act on them; the
//! help overlay and the hint line describe them.

macro_rules! commands {
    ($($variant:ident => $name:literal, $help:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Command {
            $($variant,)*
        }

        impl Command {
            pub const ALL: &'static [Command] = &[$(Command::$variant,)*];

            /// The name used in the user's `[keys]` table.
            pub fn name(self) -> &'static str {
                match self {
                    $(Command::$variant => $name,)*
                }
            }

            /// One line for the help overlay.
            pub fn help(self) -> &'static str {
                match self {
                    $(Command::$variant => $help,)*
                }
            }

            pub fn from_name(name: &str) -> Option<Command> {
                match name {
                    $($name => Some(Command::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

commands! {
    Send => "send", "send the input (queued while a turn runs)";
    Newline => "newline", "insert a newline in the input";
    HistoryPrev => "history-prev", "recall an earlier prompt (empty input)";
    HistoryNext => "history-next", "recall a later prompt";
    Interrupt => "interrupt", "interrupt the focused agent's turn";
    EditQueued => "edit-queued", "edit the picked queued follow-up (or the last)";
    CancelQueued => "cancel-queued", "cancel the picked queued follow-up";
    PickQueuedPrev => "pick-queued-prev", "pick the queued follow-up above";
    PickQueuedNext => "pick-queued-next", "pick the queued follow-up below";
    FocusNext => "focus-next", "focus the next pane";
    FocusPrev => "focus-prev", "focus the previous pane";
    FocusLeft => "focus-left", "focus the pane to the left";
    FocusRight => "focus-right", "focus the pane to the right";
    FocusUp => "focus-up", "focus the pane above";
    FocusDown => "focus-down", "focus the pane below";
    Zoom => "zoom", "zoom the focused pane / back";
    CycleLayout => "layout", "switch layout: tiled, stacked, zoomed";
    ScrollUp => "scroll-up", "scroll up a line";
    ScrollDown => "scroll-down", "scroll down a line";
    PageUp => "page-up", "scroll up a page";
    PageDown => "page-down", "scroll down a page";
    ScrollTop => "scroll-top", "scroll to the top";
    ScrollBottom => "scroll-bottom", "scroll to the bottom and follow";
    SelectPrev => "select-prev", "select the previous tool call";
    SelectNext => "select-next", "select the next tool call";
    ToggleExpand => "toggle", "expand / collapse the selected tool call";
    NewAgent => "new-agent", "create a new agent";
    CloseAgent => "close-agent", "close the focused agent";
    Help => "help", "show / hide this help";
    Suspend => "suspend", "suspend agentmux (fg resumes)";
    Quit => "quit", "quit agentmux";
    Detach => "detach", "detach (the agents go on; agentmux attach)";
    Close => "close", "close this window";
    NextField => "next-field", "next field";
    PrevField => "prev-field", "previous field";
    Submit => "submit", "create the agent";
    Yes => "yes", "confirm";
    No => "no", "cancel";
    Diff => "diff", "show what the agent changed in its worktree";
    Commit => "commit", "commit the agent's worktree changes";
    Shell => "shell", "open a shell in the agent's worktree";
    RemoveWorktree => "remove-worktree", "remove the agent's worktree (the branch stays)";
    NextFile => "next-file", "next file";
    PrevFile => "prev-file", "previous file";
    Refresh => "refresh", "read the diff again";
    AllowOnce => "allow", "allow the waiting tool call once";
    AllowAlways => "allow-always", "allow it and calls like it (this agent)";
    Deny => "deny", "deny it (type a message, enter)";
    ChoiceUp => "choice-up", "highlight the option above (a question to you, input empty)";
    ChoiceDown => "choice-down", "highlight the option below (a question to you, input empty)";
    Tick => "tick", "tick / untick the highlighted option (several may be picked, input empty)";
    NextApproval => "next-approval", "focus the next agent waiting for you";
    AllowDenied => "allow-denied", "allow what the last turn was denied, re-run";
    ResumeTurn => "resume-turn", "resume a held turn or the one agentmux died in";
    Overview => "overview", "show / hide the overview of every agent";
    Inbox => "inbox", "focus the next agent that needs you (in the order they began to)";
    ToggleFold => "fold", "fold / unfold the selected agent's group";
    HideIdle => "hide-idle", "hide / show idle agents";
    Search => "search", "search the focused transcript (plain text, any case)";
    SearchAll => "search-all", "search every agent's transcript";
    Fork => "fork", "fork this conversation into a new agent";
    Switch => "switch", "switch model or permission mode (next turn on)";
    ToggleWorktree => "toggle-worktree", "give the fork a git worktree of its own, or not";
    Limits => "limits", "show / hide the usage limits: windows, forecast, who burns most";
}

/// Where keys are read: each context has its own bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Panes: the focused pane's input box gets every key no binding takes.
    Pane,
    Help,
    Form,
    Confirm,
    /// The diff view of an agent's worktree.
    Diff,
    /// The commit message box.
    Commit,
    /// A pane whose agent waits for the user's approval of a tool call.
    Approval,
    /// The overview of every agent: typing filters it.
    Overview,
    /// The search bar: typing edits what it looks for.
    Search,
    /// The fork picker: after which turn a fork goes on.
    Fork,
    /// The model and permission mode picker.
    Switch,
    /// The usage limits panel.
    Limits,
}

impl Command {
    /// The help line for a command where it is bound: a few commands do something else in
    /// another context (Enter commits in the commit box, sends the deny message in the approval
    /// box).
    pub fn help_in(self, context: Context) -> &'static str {
        match (context, self) {
            (Context::Commit, Command::Submit) => "commit with this message",
            (Context::Commit, Command::Newline) => "insert a newline in the message",
            (Context::Commit, Command::Close) => "cancel the commit",
            (Context::Approval, Command::Send) => {
                "send the deny message (after alt-n); a question: answer (highlighted or typed)"
            }
            (Context::Approval, Command::PageUp | Command::PageDown) => {
                "scroll a call longer than its box"
            }
            (Context::Approval, Command::Close) => "cancel the deny message",
            (Context::Confirm, Command::Close) => "cancel",
            (Context::Form, Command::Close) => "cancel the form",
            (Context::Form, Command::Newline) => "insert a newline in the first prompt",
            (Context::Help, Command::ScrollUp) => "scroll the help up",
            (Context::Help, Command::ScrollDown) => "scroll the help down",
            (Context::Overview, Command::Submit) => "open the agent in a pane (a group: fold it)",
            (Context::Overview, Command::ScrollUp) => "select the line above",
            (Context::Overview, Command::ScrollDown) => "select the line below",
            (Context::Overview, Command::Close) => "close the overview",
            (Context::Overview, Command::Inbox) => "select the next agent that needs you",
            (Context::Search, Command::Submit) => "the next hit (every agent's: open it)",
            (Context::Search, Command::ScrollDown) => "the next hit",
            (Context::Search, Command::ScrollUp) => "the previous hit",
            (Context::Search, Command::Close) => "close the search",
            (Context::Fork, Command::Submit) => "fork after the picked turn (the last: the end)",
            (Context::Fork, Command::ScrollUp) => "pick an earlier turn",
            (Context::Fork, Command::ScrollDown) => "pick a later turn",
            (Context::Fork, Command::Close) => "cancel the fork",
            (Context::Switch, Command::Submit) => "switch to the highlighted model or mode",
            (Context::Switch, Command::ScrollUp) => "highlight the row above",
            (Context::Switch, Command::ScrollDown) => "highlight the row below",
            (Context::Switch, Command::Close) => "close the picker",
            (Context::Limits, Command::Close) => "close the limits panel",
            _ => self.help(),
        }
    }
}

impl Context {
    pub const ALL: &'static [Context] = &[
        Context::Pane,
        Context::Help,
        Context::Form,
        Context::Confirm,
        Context::Diff,
        Context::Commit,
        Context::Approval,
        Context::Overview,
        Context::Search,
        Context::Fork,
        Context::Switch,
        Context::Limits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Context::Pane => "pane",
            Context::Help => "help",
            Context::Form => "form",
            Context::Confirm => "confirm",
            Context::Diff => "diff",
            Context::Commit => "commit",
            Context::Approval => "approval",
            Context::Overview => "overview",
            Context::Search => "search",
            Context::Fork => "fork",
            Context::Switch => "switch",
            Context::Limits => "limits",
        }
    }

    pub fn from_name(name: &str) -> Option<Context> {
        Context::ALL.iter().copied().find(|c| c.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &c in Command::ALL {
            assert_eq!(Command::from_name(c.name()), Some(c));
            assert!(!c.help().is_empty());
        }
        assert_eq!(Command::from_name("nope"), None);
        for &c in Context::ALL {
            assert_eq!(Context::from_name(c.name()), Some(c));
        }
    }
}
