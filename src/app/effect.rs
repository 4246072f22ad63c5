//! What `update` asks the loop to do: the only way the core touches the world.

use super::msg::{ControlReply, RequestId};
use crate::agent::{AgentId, TurnRequest};

#[derive(Debug, Clone)]
pub enum Effect {
    /// Start a turn (`spawn_turn`); a refusal comes back as `Msg::SpawnFailed`.
    SpawnTurn(Box<TurnRequest>),
    /// Stop an agent's running turn (the whole process group).
    Interrupt { agent: AgentId, turn: u64 },
    /// An agent was closed: what still runs for it goes at once (its live process, which
    /// would otherwise idle until its timeout).
    Closed { agent: AgentId },
    /// The answer to the control request `id` (`Msg::Control`): the loop hands it to whoever
    /// asked; nobody may wait (a relayed turn), then it is dropped.
    Reply { id: RequestId, reply: ControlReply },
    /// The answer to the approval `id` (`Msg::Approval`), for whoever asked.
    Decide { id: RequestId, decision: crate::approval::Decision },
    /// The approval `id` will not be answered (its turn ended): whoever asked hears so.
    Withdraw { id: RequestId },
    /// Something the workspace keeps changed (agents, session ids, queued follow-ups).
    Persist,
    /// A new agent's earlier conversation, to be written into its log (`app::convo`).
    History { agent: AgentId, history: Box<crate::import::History> },
    /// Read a conversation for a fork or an import the user asked for; the answer comes back
    /// as `Msg::Convo`.
    Convo(super::convo::ConvoAsk),
    /// Restore the terminal, stop the process (SIGTSTP), redraw when resumed.
    Suspend,
    /// Get the user's attention: write these bytes (a bell or a notification sequence) to the
    /// terminal.
    Notify(String),
    /// Leave: restore the terminal and exit.
    Quit,
    /// Let this attached client go (`None`: the one whose input came last); the agents go on.
    Detach { client: Option<u32> },
    /// Git work on an agent's worktree: run `job.run(&git)` on a blocking task and send the
    /// answer back as `Msg::Worktree`.
    Worktree(super::worktree::WorktreeJob),
    /// Suspend the UI, run `worktree::shell_command(&wt)` until it exits, redraw, then send
    /// `Msg::Worktree(WorktreeMsg::ShellExited { agent })`.
    Shell { agent: AgentId, wt: Box<crate::worktree::AgentWorktree> },
}
