//! The control socket's server: accepts connections, reads request lines, hands each request to
//! the app's loop as a [`ControlCall`], writes the answer back.
//!
//! Channel-only on purpose: the app's loop is the single owner of the state, so a request is just
//! one more message in its inbox, answered when the loop gets to it. A trait the server calls
//! would need the state behind a lock (or would be a channel in disguise), and would make the
//! server import the app. The app answers through the call's `reply`: at once, or later (`wait`
//! keeps the sender until the turn ends; `tail` answers with a receiver it feeds).

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::control::proto::{
    decode_request, Answer, AnswerLine, ErrorCode, ProtoError, Request, MAX_REQUEST_BYTES,
};

/// One request for the app. Answer it by sending on `reply` (dropping it answers `internal`).
#[derive(Debug)]
pub struct ControlCall {
    /// The asking agent (`AGENTMUX_AGENT` of the client), if an agent asks.
    pub from: Option<String>,
    pub request: Request,
    pub reply: oneshot::Sender<Reply>,
}

impl ControlCall {
    /// Answer with a plain answer. A client that went away is not an error.
    pub fn answer(self, answer: Answer) {
        let _ = self.reply.send(Reply::Answer(answer));
    }

    /// True once the client is gone (a `wait` whose client disconnected can be dropped).
    pub fn client_gone(&self) -> bool {
        self.reply.is_closed()
    }
}

/// How the app answers a call.
#[derive(Debug)]
pub enum Reply {
    Answer(Answer),
    /// The answer to `tail`: the server writes a `tailing` answer, then every line received here
    /// (one stream-json event, without its newline) until the app drops the sender (the agent
    /// was closed) or the client disconnects (the receiver is dropped, so the app's `send`
    /// fails and it forgets the subscription).
    Tail {
        agent: String,
        lines: mpsc::Receiver<String>,
    },
}

/// How many event lines may wait for a slow `tail` client before the app's `try_send` fails
/// (the app then drops the subscription rather than block its loop or grow memory).
pub const TAIL_BUFFER: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "agentmux is already running for this workspace (its control socket {0} answers); \
         quit it first or attach to it with `agentmux ls`"
    )]
    AlreadyRunning(PathBuf),
    #[error("{0} exists and is not a socket; not replacing it")]
    NotASocket(PathBuf),
    #[error("{path} is not safe for a control socket: {why}")]
    UnsafeDir { path: PathBuf, why: String },
    #[error("socket path {0} is too long for a Unix socket (at most 107 bytes)")]
    PathTooLong(PathBuf),
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ControlError + '_ {
    move |source| ControlError::Io { path: path.to_path_buf(), source }
}

/// sun_path is 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// The directory for control sockets: `$XDG_RUNTIME_DIR/agentmux`, else `/tmp/agentmux-<uid>`
/// (the first of [`fixed_runtime_dirs`] that is safe); created 0700, and refused when another
/// user owns it or others can enter it. Clients look here.
pub fn runtime_dir() -> Result<PathBuf, ControlError> {
    let mut first_error = None;
    for dir in fixed_runtime_dirs() {
        match ensure_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| ControlError::UnsafeDir {
        path: std::env::temp_dir(),
        why: "no directory for control sockets".into(),
    }))
}

/// Where the sockets may go, in order of preference.
fn fixed_runtime_dirs() -> Vec<PathBuf> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir());
    let tmp = std::env::temp_dir().join(format!("agentmux-{}", current_uid()));
    xdg.map(|x| x.join("agentmux")).into_iter().chain([tmp]).collect()
}

/// The directory a server binds in, and a note for the user when it is not the usual one.
#[derive(Debug)]
pub struct ServerDir {
    pub path: PathBuf,
    pub note: Option<String>,
}

/// The directory for this process's socket. When the usual ones are refused (another user
/// made them first, or opened them to others), a fresh private one with an unguessable name:
/// agents still reach it through `AGENTMUX_SOCKET`, and the note says why `agentmux ls` from
/// another shell will not find it.
pub fn server_dir() -> Result<ServerDir, ControlError> {
    let refused = match runtime_dir() {
        Ok(path) => {
            let usual = fixed_runtime_dirs().first() == Some(&path);
            let note = (!usual).then(|| refused_note(&path, fixed_runtime_dirs().first()));
            return Ok(ServerDir { path, note: note.flatten() });
        }
        Err(e) => e,
    };
    let path = std::env::temp_dir().join(format!(
        "agentmux-{}-{}",
        current_uid(),
        uuid::Uuid::new_v4().simple()
    ));
    // A name nobody could have made first: creating it (not recursively) fails if it exists.
    std::fs::DirBuilder::new().mode(0o700).create(&path).map_err(io_err(&path))?;
    ensure_private_dir(&path)?;
    let note = format!(
        "{refused}; the control socket is in {} instead (`agentmux ls` from another shell \
         needs AGENTMUX_SOCKET set to the socket there)",
        path.display()
    );
    tracing::warn!("{note}");
    Ok(ServerDir { path, note: Some(note) })
}

/// Why the preferred directory was passed over for `chosen`.
fn refused_note(chosen: &Path, preferred: Option<&PathBuf>) -> Option<String> {
    let preferred = preferred?;
    let why = ensure_private_dir(preferred).err()?;
    let note = format!("{why}; the control socket is in {} instead", chosen.display());
    tracing::warn!("{note}");
    Some(note)
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Create `dir` (0700) if missing; check that it is ours and closed to others.
pub fn ensure_private_dir(dir: &Path) -> Result<(), ControlError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(dir)(e)),
    }
    // symlink_metadata: a symlink planted by someone else must not redirect us.
    let meta = std::fs::symlink_metadata(dir).map_err(io_err(dir))?;
    let unsafe_dir = |why: String| ControlError::UnsafeDir { path: dir.to_path_buf(), why };
    if !meta.is_dir() {
        return Err(unsafe_dir("not a directory".into()));
    }
    if meta.uid() != current_uid() {
        return Err(unsafe_dir(format!("owned by uid {}, not by you", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_dir(format!(
            "mode {:o} lets others in (want 700)",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

/// The socket of a workspace: `<dir>/<name>.sock`, the name made safe for a file name and
/// shortened (with a hash, to stay unique) when it would not fit a socket path.
pub fn socket_path_in(dir: &Path, workspace: &str) -> PathBuf {
    let mut safe: String = workspace
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        safe.insert(0, '_');
    }
    // Long names are cut and made unique again with a hash of the whole name.
    let room = MAX_SOCKET_PATH.saturating_sub(dir.as_os_str().len() + "/.sock".len()).min(64);
    if safe.len() > room {
        let hash = format!("{:016x}", fnv1a(workspace.as_bytes()));
        safe.truncate(room.saturating_sub(hash.len() + 1).max(1));
        safe = format!("{safe}-{hash}");
    }
    dir.join(format!("{safe}.sock"))
}

/// The socket of a workspace in the user's runtime directory.
pub fn socket_path(workspace: &str) -> Result<PathBuf, ControlError> {
    Ok(socket_path_in(&runtime_dir()?, workspace))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// A bound control socket, not yet serving. Binding needs no runtime; serving does.
#[derive(Debug)]
pub struct ControlServer {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

impl ControlServer {
    /// Bind `path` (mode 0600). A socket file nobody answers on is stale and replaced; one that
    /// answers belongs to a running agentmux and is refused; any other file is left alone.
    pub fn bind(path: &Path) -> Result<Self, ControlError> {
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(ControlError::PathTooLong(path.to_path_buf()));
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                match std::os::unix::net::UnixStream::connect(path) {
                    Ok(_) => return Err(ControlError::AlreadyRunning(path.to_path_buf())),
                    // Refused (nobody listens) or gone meanwhile: stale.
                    Err(_) => match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err(path)(e)),
                    },
                }
            }
            Ok(_) => return Err(ControlError::NotASocket(path.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(path)(e)),
        }
        let listener = std::os::unix::net::UnixListener::bind(path).map_err(io_err(path))?;
        // The directory is 0700 already; 0600 on the socket says the same to anyone who looks,
        // and holds if the socket is ever moved.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(path))?;
        listener.set_nonblocking(true).map_err(io_err(path))?;
        Ok(ControlServer { listener, path: path.to_path_buf() })
    }

    /// Bind the socket of `workspace` in the user's runtime directory (see [`server_dir`]);
    /// with a note for the user when that had to be another directory.
    pub fn bind_workspace(workspace: &str) -> Result<(Self, Option<String>), ControlError> {
        let dir = server_dir()?;
        Ok((Self::bind(&socket_path_in(&dir.path, workspace))?, dir.note))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bound socket, for a server of another protocol (the attach socket binds the same
    /// way: private, stale files replaced, a live one refused).
    pub fn into_listener(self) -> std::os::unix::net::UnixListener {
        self.listener
    }

    /// Serve on the current tokio runtime: every request becomes a [`ControlCall`] on `calls`.
    /// The returned handle stops the server and removes the socket file when dropped.
    pub fn serve(self, calls: mpsc::Sender<ControlCall>) -> Result<ServerHandle, ControlError> {
        self.serve_with(calls, Limits::default())
    }

    /// [`serve`](Self::serve) within other limits (tests use short ones).
    pub fn serve_with(
        self,
        calls: mpsc::Sender<ControlCall>,
        limits: Limits,
    ) -> Result<ServerHandle, ControlError> {
        let ControlServer { listener, path } = self;
        let listener = tokio::net::UnixListener::from_std(listener).map_err(io_err(&path))?;
        let open = Arc::new(Semaphore::new(limits.max_connections));
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => match Arc::clone(&open).try_acquire_owned() {
                        Ok(permit) => {
                            let calls = calls.clone();
                            tokio::spawn(async move {
                                serve_connection(stream, calls, limits).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            tokio::spawn(refuse_connection(stream, limits));
                        }
                    },
                    Err(e) => {
                        // EMFILE and the like: the listener itself is fine; try again shortly
                        // rather than spin.
                        tracing::warn!("control socket accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(ServerHandle { path, task })
    }
}

/// What one client may hold of the server: a process of the user that has the socket should
/// not be able to exhaust its file descriptors or memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; one more is answered `refused` and closed.
    pub max_connections: usize,
    /// How long a connection may take to send a whole request line (from connecting, or from
    /// the previous answer); then it is answered `bad_request` and closed. Waiting for an
    /// answer (a `wait`, an approval) or tailing is not idle.
    pub idle: Duration,
    /// The longest request line.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: MAX_CONNECTIONS, idle: IDLE_TIMEOUT, max_line: MAX_REQUEST_BYTES }
    }
}

/// Connections at once: far more than a team's agents and scripts use (each client holds one
/// for a single request, a `wait` or a `tail`).
pub const MAX_CONNECTIONS: usize = 64;

/// Time for a connection to send its request line; a client writes it as soon as it connects.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Answer a connection past the limit and close it; a client that does not read gets no more
/// than a second of the server's time.
async fn refuse_connection(stream: UnixStream, limits: Limits) {
    let (_rd, mut wr) = stream.into_split();
    let message = format!(
        "too many connections to agentmux ({} open); try again when some have closed",
        limits.max_connections
    );
    let answer = Answer::error(ErrorCode::Refused, message);
    let _ = tokio::time::timeout(Duration::from_secs(1), write_answer(&mut wr, answer)).await;
}

/// A serving control socket. Dropping it stops accepting and removes the socket file;
/// connections already open finish what they are doing.
#[derive(Debug)]
pub struct ServerHandle {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

enum ReadLine {
    Line(String),
    Eof,
    TooLong,
}

/// Read one line of at most `limit` bytes without buffering more than that.
async fn read_line_limited(
    reader: &mut BufReader<OwnedReadHalf>,
    limit: usize,
) -> io::Result<ReadLine> {
    let mut buf = Vec::new();
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            // A last line without a newline still counts.
            return Ok(if buf.is_empty() { ReadLine::Eof } else { finish(buf) });
        }
        let (used, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        buf.extend_from_slice(&chunk[..used]);
        reader.consume(used);
        if buf.len() > limit + 1 {
            return Ok(ReadLine::TooLong);
        }
        if done {
            buf.pop();
            return Ok(finish(buf));
        }
    }

    fn finish(mut buf: Vec<u8>) -> ReadLine {
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        ReadLine::Line(String::from_utf8_lossy(&buf).into_owned())
    }
}

async fn write_answer(w: &mut OwnedWriteHalf, answer: Answer) -> io::Result<()> {
    let mut line = AnswerLine::new(answer).to_line();
    line.push('\n');
    w.write_all(line.as_bytes()).await?;
    w.flush().await
}

/// Resolves to true when the peer closed its side, false when it sent more bytes (a pipelined
/// request: left in the buffer for later).
async fn peer_closed(reader: &mut BufReader<OwnedReadHalf>) -> bool {
    match reader.fill_buf().await {
        Ok(b) => b.is_empty(),
        Err(_) => true,
    }
}

/// One connection: any number of requests, one after the other; a `tail` takes the rest of it.
async fn serve_connection(stream: UnixStream, calls: mpsc::Sender<ControlCall>, limits: Limits) {
    let (rd, mut wr) = stream.into_split();
    let mut reader = BufReader::new(rd);
    loop {
        let read = read_line_limited(&mut reader, limits.max_line);
        let line = match tokio::time::timeout(limits.idle, read).await {
            Ok(Ok(ReadLine::Line(l))) => l,
            Ok(Ok(ReadLine::Eof) | Err(_)) => return,
            Ok(Ok(ReadLine::TooLong)) => {
                // The rest of the line is unread and cannot be skipped cheaply: close.
                let answer = ProtoError::TooLong(limits.max_line).to_answer();
                let _ = tokio::time::timeout(limits.idle, write_answer(&mut wr, answer)).await;
                return;
            }
            Err(_elapsed) => {
                let message = format!(
                    "no whole request line within {}s; closing the connection",
                    limits.idle.as_secs_f32()
                );
                let answer = Answer::error(ErrorCode::BadRequest, message);
                let _ = tokio::time::timeout(limits.idle, write_answer(&mut wr, answer)).await;
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let req = match decode_request(&line) {
            Ok(r) => r,
            Err(e) => {
                if write_answer(&mut wr, e.to_answer()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let long_lived = matches!(
            req.request,
            Request::Wait { .. } | Request::Tail { .. } | Request::Approve { .. }
        );
        let (tx, mut rx) = oneshot::channel();
        let call = ControlCall { from: req.from, request: req.request, reply: tx };
        if calls.send(call).await.is_err() {
            let _ = write_answer(
                &mut wr,
                Answer::error(ErrorCode::ShuttingDown, "agentmux is shutting down"),
            )
            .await;
            return;
        }
        let reply = if long_lived {
            // A client that leaves while waiting drops the call: the app sees its reply closed.
            tokio::select! {
                r = &mut rx => r,
                gone = peer_closed(&mut reader) => {
                    if gone { return }
                    rx.await
                }
            }
        } else {
            rx.await
        };
        let reply = reply.unwrap_or_else(|_| {
            Reply::Answer(Answer::error(ErrorCode::Internal, "the request was dropped unanswered"))
        });
        match reply {
            Reply::Answer(answer) => {
                if write_answer(&mut wr, answer).await.is_err() {
                    return;
                }
            }
            Reply::Tail { agent, lines } => {
                stream_tail(reader, wr, agent, lines).await;
                return;
            }
        }
    }
}

/// Write a `tailing` answer, then the event lines, until either side ends.
async fn stream_tail(
    mut reader: BufReader<OwnedReadHalf>,
    mut wr: OwnedWriteHalf,
    agent: String,
    mut lines: mpsc::Receiver<String>,
) {
    if write_answer(&mut wr, Answer::Tailing { agent }).await.is_err() {
        return;
    }
    let mut sink = [0u8; 512];
    loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(mut line) = line else { break };
                // One event per line, whatever the app handed over.
                line.retain(|c| c != '\n' && c != '\r');
                line.push('\n');
                if wr.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
            // Whatever the client sends now is ignored; its end ends the subscription.
            n = reader.read(&mut sink) => {
                if matches!(n, Ok(0) | Err(_)) {
                    break;
                }
            }
        }
    }
    let _ = wr.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_are_safe_and_short() {
        let dir = Path::new("/run/user/1000/agentmux");
        assert_eq!(socket_path_in(dir, "myproj"), dir.join("myproj.sock"));
        assert_eq!(socket_path_in(dir, "a/b c"), dir.join("a_b_c.sock"));
        assert_eq!(socket_path_in(dir, ".."), dir.join("_...sock"));
        let long = "x".repeat(300);
        let p = socket_path_in(dir, &long);
        assert!(p.as_os_str().len() <= MAX_SOCKET_PATH, "{}", p.display());
        let other = socket_path_in(dir, &format!("{long}y"));
        assert_ne!(p, other, "long names stay distinct");
    }
}
