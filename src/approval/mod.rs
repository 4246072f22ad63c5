//! Approvals: an agent's tool call that needs permission waits for the user's answer.
//!
//! The CLI is started with `--permission-prompt-tool mcp__agentmux__approve` and an `--mcp-config`
//! naming `agentmux __mcp-approve` ([`mcp`]) as the `agentmux` MCP server. For each call that needs
//! permission the CLI calls that tool; the subcommand forwards the request over the control socket
//! (`approve`, see `control::proto`) and answers with the decision the running agentmux sends.
//!
//! - [`mcp`]: the stdio MCP server (the hidden subcommand).
//! - [`wiring`]: the `--mcp-config` / `--permission-prompt-tool` arguments of a turn.
//! - [`rules`]: "allow always" rules (`Bash(npm test:*)`) made from a request, and matching them.
//! - [`show`]: a waiting call as lines a person can judge, and the approval box's rows.
//! - [`notify`]: the bell and desktop-notification escape sequences.

pub mod mcp;
pub mod notify;
pub mod question;
pub mod rules;
pub mod show;
pub mod wiring;

/// The hidden subcommand that runs the approval server.
pub const MCP_SUBCOMMAND: &str = "__mcp-approve";
/// The MCP server's name in `--mcp-config`.
pub const SERVER_NAME: &str = "agentmux";
/// The approval tool's name on that server.
pub const TOOL_NAME: &str = "approve";
/// What `--permission-prompt-tool` names: `mcp__<server>__<tool>`.
pub const PERMISSION_PROMPT_TOOL: &str = "mcp__agentmux__approve";

use serde_json::Value;

/// The tool that puts a plan before the user (permission mode `plan`); allowing it approves
/// the plan, a denial's message tells the model what to change.
pub const PLAN_TOOL: &str = "ExitPlanMode";
/// The tool that asks the user questions with choices; its answer is the input with `answers`.
pub const QUESTION_TOOL: &str = "AskUserQuestion";

/// What a waiting call asks of the user: leave to run a tool, approval of a plan, or answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asking {
    Tool,
    Plan,
    Question,
}

impl Asking {
    pub fn of(tool_name: &str) -> Asking {
        match tool_name {
            PLAN_TOOL => Asking::Plan,
            QUESTION_TOOL => Asking::Question,
            _ => Asking::Tool,
        }
    }

    /// Whether "allow always" means anything: a plan or a question is answered each time.
    pub fn has_rules(self) -> bool {
        self == Asking::Tool
    }
}

use crate::control::proto::{Answer, Behavior, Request};

/// A tool call waiting for the user, as the app holds it: plain data. The app knows it by the
/// id it came with (`Msg::Approval`) and answers with `Effect::Decide`; whoever waits for the
/// answer (the approval server's request, a live process) is kept by the loop.
#[derive(Clone, Debug, PartialEq)]
pub struct Ask {
    pub agent: String,
    pub tool_name: String,
    pub input: Value,
    pub tool_use_id: Option<String>,
    /// The secret a request over the control socket came with (checked against its turn's).
    pub secret: Option<String>,
    /// Whether it came over the control socket, which any process of the user can reach (only
    /// its secret says it is the turn's), rather than from the agent's own process.
    from_socket: bool,
}

/// The user's (or a rule's) answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Allow,
    Deny {
        message: Option<String>,
    },
    /// Allowed with this input: a question's, with the user's answers.
    Answer {
        updated_input: Value,
    },
}

impl Decision {
    /// The decision as the approval server reads it.
    pub fn answer(self) -> Answer {
        match self {
            Decision::Allow => {
                Answer::Decision { behavior: Behavior::Allow, updated_input: None, message: None }
            }
            Decision::Deny { message } => {
                Answer::Decision { behavior: Behavior::Deny, updated_input: None, message }
            }
            Decision::Answer { updated_input } => Answer::Decision {
                behavior: Behavior::Allow,
                updated_input: Some(updated_input),
                message: None,
            },
        }
    }
}

impl Ask {
    /// An ask from the agent's own process (a live one's permission request).
    pub fn new(agent: &str, tool_name: &str, input: Value) -> Ask {
        Ask {
            agent: agent.to_string(),
            tool_name: tool_name.to_string(),
            input,
            tool_use_id: None,
            secret: None,
            from_socket: false,
        }
    }

    /// The ask of an `approve` request over the control socket; any other request is handed
    /// back.
    pub fn from_request(request: Request) -> Result<Ask, Box<Request>> {
        match request {
            Request::Approve { agent, tool_name, input, tool_use_id, secret } => {
                Ok(Ask { agent, tool_name, input, tool_use_id, secret, from_socket: true })
            }
            request => Err(Box::new(request)),
        }
    }

    pub fn asking(&self) -> Asking {
        Asking::of(&self.tool_name)
    }

    /// Whether the request needs its turn's secret to be believed.
    pub fn from_socket(&self) -> bool {
        self.from_socket
    }
}
