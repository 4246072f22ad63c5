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
//! - [`notify`]: the bell and desktop-notification escape sequences.

pub mod mcp;
pub mod notify;
pub mod rules;
pub mod wiring;

/// The hidden subcommand that runs the approval server.
pub const MCP_SUBCOMMAND: &str = "__mcp-approve";
/// The MCP server's name in `--mcp-config`.
pub const SERVER_NAME: &str = "agentmux";
/// The approval tool's name on that server.
pub const TOOL_NAME: &str = "approve";
/// What `--permission-prompt-tool` names: `mcp__<server>__<tool>`.
pub const PERMISSION_PROMPT_TOOL: &str = "mcp__agentmux__approve";
