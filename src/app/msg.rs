//! Everything that can happen to the app, as one type: the loop turns terminal events, engine
//! messages, control requests and deadlines into these and hands them to `update`.

use crossterm::event::{Event as TermEvent, KeyEvent, MouseEvent};

use crate::agent::{AgentId, AgentSpec, EngineMsg};

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// Bracketed paste: the text as pasted, newlines kept.
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    /// Output of a turn (shared by every turn through one bounded channel).
    Engine(EngineMsg),
    /// `spawn_turn` refused the turn (no directory, no PTY, bad argv...).
    SpawnFailed {
        agent: AgentId,
        turn: u64,
        error: String,
    },
    /// A tool call waits for the user's approval (an `approve` request from the control socket,
    /// or a live process's permission request); answered with `Effect::Decide` of its id.
    Approval {
        id: RequestId,
        ask: crate::approval::Ask,
    },
    /// Nobody waits for the approval `id` any more (the approval server gave up: its turn
    /// ended or was stopped).
    Withdrawn {
        id: RequestId,
    },
    /// A request from the control socket (or the supervisor's relay). `update` answers it with
    /// `Effect::Reply` of the same id; the loop knows who asked.
    Control {
        id: RequestId,
        cmd: ControlCmd,
    },
    /// A deadline the state asked for passed (the spinner's next frame).
    Wake,
    /// Draw everything again (after a suspend, or when the terminal regained focus).
    Redraw,
    /// SIGTSTP from outside: suspend as Ctrl-Z does.
    Suspend,
    /// SIGTERM or SIGHUP: stop every turn and leave without asking.
    Terminate,
    /// A terminal event of an attached client, with the client's size (see `crate::attach`).
    Client {
        id: u32,
        size: (u16, u16),
        event: TermEvent,
    },
    /// A client attached at this size.
    Attached {
        id: u32,
        size: (u16, u16),
    },
    /// A client went away (it detached, or its terminal or connection did).
    Left {
        id: u32,
    },
    /// A worktree job came back (see `Effect::Worktree`).
    Worktree(super::worktree::WorktreeMsg),
    /// A conversation read for a fork or an import (see `Effect::Convo`).
    Convo(super::convo::ConvoMsg),
    /// What changed in the workspace a read-only look follows (see `store::follow`).
    Followed(Vec<crate::store::follow::Change>),
    /// The workspace could not be saved (the first store error; later ones are only logged).
    NotSaved(String),
    /// A live process said how full its context window is (`get_context_usage`).
    ContextUsage {
        agent: AgentId,
        used: u64,
        window: u64,
    },
}

impl Msg {
    /// The message for a terminal event, if it means anything to the app.
    pub fn from_terminal(ev: TermEvent) -> Option<Msg> {
        match ev {
            TermEvent::Key(k) => Some(Msg::Key(k)),
            TermEvent::Mouse(m) => Some(Msg::Mouse(m)),
            TermEvent::Paste(p) => Some(Msg::Paste(p)),
            TermEvent::Resize(width, height) => Some(Msg::Resize { width, height }),
            TermEvent::FocusGained => Some(Msg::Redraw),
            TermEvent::FocusLost => None,
        }
    }
}

/// What the control socket can ask of the app that changes it. Read-only questions (`ls`,
/// `tail`, `wait`) are answered from [`super::State`]'s query functions.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlCmd {
    /// Send a prompt to an agent (queued while it runs); `origin` stays with it until its
    /// turn starts.
    Send { agent: String, prompt: String, origin: crate::agent::Origin },
    /// Create an agent, optionally with its first prompt.
    New {
        spec: Box<AgentSpec>,
        prompt: Option<String>,
        /// In a git worktree of its own (`agentmux new --worktree`): the first prompt waits
        /// until the worktree is ready.
        worktree: bool,
    },
    /// Create an agent that continues a conversation held elsewhere (see `app::convo`).
    Continue {
        spec: Box<AgentSpec>,
        history: Box<crate::import::History>,
        how: super::convo::Continue,
        worktree: bool,
    },
    /// Interrupt an agent's running turn.
    Interrupt { agent: String },
    /// Start a held agent's next turn now (or the turn agentmux died in).
    Resume { agent: String },
    /// Close an agent (its running turn is stopped).
    Kill { agent: String },
    /// Change an agent's model or permission mode from its next turn on.
    Set {
        agent: String,
        model: Option<String>,
        permission_mode: Option<crate::agent::PermissionMode>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlOk {
    Started,
    Queued {
        position: usize,
    },
    Created {
        name: String,
    },
    /// Created; its worktree is being made (answered for good once it is, see
    /// [`WorktreeMsg::Opened`](super::worktree::WorktreeMsg::Opened)).
    OpeningWorktree {
        name: String,
        agent: AgentId,
    },
    Interrupted,
    Closed,
    Set,
    Resumed,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no agent named {0:?}")]
    NoSuchAgent(String),
    #[error("an agent named {0:?} exists already")]
    NameTaken(String),
    #[error("{0:?} is not a usable agent name: {1}; expected {rule}", rule = crate::agent::name::RULE)]
    BadName(String, crate::agent::name::NameError),
    #[error("{0} has no running turn")]
    NotRunning(String),
    #[error("the supervisor cannot be closed")]
    Supervisor,
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("{0} is neither held nor has a turn to resume")]
    NotHeld(String),
}

pub type ControlReply = Result<ControlOk, ControlError>;

/// Names a request that waits for an answer (a control command, an approval): the state keeps
/// the id, the loop keeps whoever waits, and the answer goes out as an effect naming the id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// An id no other request of this process has: the socket's requests and a live process's
    /// approvals are numbered by different tasks, and their answers must not be mistaken.
    pub fn fresh() -> RequestId {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        RequestId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}
