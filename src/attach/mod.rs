//! Agents that outlive the terminal: the workspace runs in a background server and terminal
//! UIs attach to it over a private Unix socket, like tmux's clients to its server.
//!
//! [`proto`] is the socket's frames, [`server`] the server's side (the loop's clients as its
//! screen), [`client`] the terminal's side (and the start of a server when none runs).

pub mod client;
pub mod proto;
pub mod server;

use std::path::{Path, PathBuf};

/// The attach socket sits beside the workspace's control socket, named like it: whoever finds
/// one finds the other.
pub fn socket_beside(control_socket: &Path) -> PathBuf {
    control_socket.with_extension("ui")
}

/// The file beside the attach socket that names the server's process (for `kill`, and for
/// `agentmux workspaces`).
pub fn pid_file(attach_socket: &Path) -> PathBuf {
    attach_socket.with_extension("pid")
}

/// The pid a server wrote beside its socket, if any.
pub fn server_pid(attach_socket: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file(attach_socket)).ok()?.trim().parse().ok()
}

/// Writes this process's pid beside the socket (private, like the socket).
pub fn write_pid(attach_socket: &Path) -> std::io::Result<RemoveOnDrop> {
    use std::io::Write;
    let path = pid_file(attach_socket);
    let mut f = crate::store::fsutil::open_private(&path, false)?;
    writeln!(f, "{}", std::process::id())?;
    Ok(RemoveOnDrop(path))
}

/// Removes a socket file when the server that bound it ends.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
