//! The control socket: scripts and the supervisor agent drive agentmux with JSON lines over a
//! Unix socket, like tmux's commands.
//!
//! - [`proto`]: the requests and answers (the wire format, versioned).
//! - [`server`]: binds the workspace's socket and hands every request to the app's loop as a
//!   [`ControlCall`]; it knows the protocol and a channel, never the app.
//! - [`client`]: the `agentmux ls|send|new|wait|tail|kill|broadcast` subcommands.

pub mod client;
pub mod proto;
pub mod server;

pub use client::{Client, ControlCommand, ENV_AGENT, ENV_APPROVAL_SECRET, ENV_SOCKET};
pub use proto::{
    AgentInfo, AgentState, Answer, Behavior, ErrorCode, Request, TurnOutcome, TurnReport,
};
pub use server::{ControlCall, ControlError, ControlServer, Reply, ServerHandle};
