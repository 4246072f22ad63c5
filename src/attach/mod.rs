//! Agents that outlive the terminal: the workspace runs in a background server and terminal
//! UIs attach to it over a private Unix socket.
//!
//! [`proto`] is the socket's frames.

pub mod proto;
