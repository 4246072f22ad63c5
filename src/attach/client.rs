//! The terminal's side of the attach socket: says hello with its size, then forwards every
//! terminal event to the server and writes every frame the server draws for it to the
//! terminal. It keeps no state of the app: closing it (a detach, a hang-up, a dropped ssh
//! connection, kill -9) loses nothing.
//!
//! Opening a workspace attaches to its server, or starts one first: the same `agentmux`
//! command line again, as a session leader with no terminal, which says on a pipe when it is
//! ready (or what stopped it) before its output goes nowhere.

use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crossterm::event::Event as TermEvent;
use tokio::sync::mpsc;

use super::proto::{self, Bye, Hello, ToClient, ToServer};
use crate::run::input::TerminalInput;
use crate::run::Host;

/// Set in a server's environment: `agentmux` then runs the workspace in the background. Its
/// value is the starting terminal's size (`COLSxROWS`), so the first screen is laid out for
/// the terminal that will show it (a team too big for it starts on the overview, say).
pub const SERVE_ENV: &str = "AGENTMUX_SERVE";

/// The first screen's size a server was started with (80x24 when it says none).
pub fn serve_size(value: &std::ffi::OsStr) -> (u16, u16) {
    let parsed = value
        .to_str()
        .and_then(|v| v.split_once('x'))
        .and_then(|(c, r)| Some((c.parse::<u16>().ok()?.max(1), r.parse::<u16>().ok()?.max(1))));
    parsed.unwrap_or((80, 24))
}

/// The line a server writes on its ready pipe once clients can attach.
const READY: &str = "ready";

/// Where a workspace's server is reached, and where it writes what it has to say.
#[derive(Clone, Debug)]
pub struct Place {
    pub workspace: String,
    pub socket: PathBuf,
}

impl Place {
    pub fn of(workspace: &str) -> Result<Place, String> {
        let control = crate::control::server::socket_path(workspace).map_err(|e| e.to_string())?;
        Ok(Place { workspace: workspace.to_string(), socket: super::socket_beside(&control) })
    }

    /// The server's log (its standard error): a panic or a failure after it was ready.
    pub fn log(&self) -> PathBuf {
        self.socket.with_extension("log")
    }

    /// A connection to a running server; `None` when none answers (a stale socket file is
    /// removed by the next server that binds).
    pub fn connect(&self) -> Option<std::os::unix::net::UnixStream> {
        std::os::unix::net::UnixStream::connect(&self.socket).ok()
    }

    pub fn is_running(&self) -> bool {
        self.connect().is_some()
    }
}

/// Opens the workspace in this terminal: attaches to its server, starting one first when
/// none runs. `args` is this `agentmux`'s command line (the server runs the same one).
pub fn open(place: &Place) -> Result<(), String> {
    // Said before a server is started that nobody would attach to.
    need_terminal()?;
    let stream = match place.connect() {
        Some(s) => s,
        None => {
            // The server names its socket: a workspace new to the store may get another name
            // than the one guessed here.
            let socket = start_server(place)?;
            std::os::unix::net::UnixStream::connect(&socket).map_err(|e| {
                format!(
                    "the server of {} said it was ready but does not answer: {e}",
                    place.workspace
                )
            })?
        }
    };
    attach(stream, place)
}

/// `agentmux attach`: only a server that runs.
pub fn attach_running(place: &Place) -> Result<(), String> {
    let Some(stream) = place.connect() else {
        return Err(format!(
            "no agentmux server runs workspace {} (`agentmux workspaces` lists them; `agentmux` \
             in its directory opens it)",
            place.workspace
        ));
    };
    attach(stream, place)
}

/// Starts this command line again as the workspace's server and waits for its word: the
/// socket it listens on.
fn start_server(place: &Place) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("agentmux's own path: {e}"))?;
    let log = crate::store::fsutil::open_private(&place.log(), true)
        .map_err(|e| format!("{}: {e}", place.log().display()))?;
    let mut cmd = Command::new(exe);
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    cmd.args(std::env::args_os().skip(1))
        .env(SERVE_ENV, format!("{cols}x{rows}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's. A session of
    // its own: the terminal's hang-up and its job control never reach the server.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("could not start the server: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = io::BufReader::new(out).read_line(&mut line);
    }
    let line = line.trim_end();
    if let Some(socket) = line.strip_prefix(READY).and_then(|s| s.strip_prefix(' ')) {
        return Ok(PathBuf::from(socket));
    }
    match line {
        "" => {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            Err(format!(
                "the server of {} stopped before it was ready ({status}; its log: {})",
                place.workspace,
                place.log().display()
            ))
        }
        said => {
            let _ = child.wait();
            Err(said.strip_prefix("error: ").unwrap_or(said).to_string())
        }
    }
}

/// The server's side of the ready pipe (its standard output until then): clients may come.
pub fn say_ready(socket: &Path) {
    say(&format!("{READY} {}", socket.display()));
    // From now on nobody reads standard output: it goes nowhere, so a stray print neither
    // blocks nor kills the server.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto standard output of a descriptor we hold open.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

/// What stopped the server before it was ready, for the terminal that started it.
pub fn say_failed(error: &str) {
    say(&format!("error: {}", error.replace('\n', " ")));
}

fn say(line: &str) {
    let mut out = io::stdout();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// How an attached session ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Detached,
    Quit,
    /// The terminal went away (a hang-up) or a signal said to leave: the server goes on.
    Left,
    /// The server closed the connection without a goodbye (it was killed, or crashed).
    ServerGone,
}

fn need_terminal() -> Result<(), String> {
    use std::io::IsTerminal;
    if io::stdin().is_terminal() && io::stdout().is_terminal() {
        Ok(())
    } else {
        Err(crate::run::RunError::NotATerminal.to_string())
    }
}

fn attach(stream: std::os::unix::net::UnixStream, place: &Place) -> Result<(), String> {
    need_terminal()?;
    let mut stream = stream;
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let hello = ToServer::Hello(Hello { version: proto::version(), cols, rows });
    proto::write_frame(&mut stream, &hello.encode()).map_err(|e| e.to_string())?;
    match proto::read_frame(&mut stream) {
        Ok(Some((tag, payload))) => match ToClient::decode(tag, &payload) {
            Ok(ToClient::Welcome { .. }) => {}
            Ok(ToClient::VersionMismatch { server, pid }) => {
                return Err(format!(
                    "the server of workspace {} is agentmux {server} (pid {pid}), this is {}: \
                     attach with that version, or stop it (`kill {pid}`) and open the \
                     workspace again",
                    place.workspace,
                    proto::version()
                ))
            }
            other => return Err(format!("the server said something unexpected: {other:?}")),
        },
        _ => return Err(format!("the server of {} closed the connection", place.workspace)),
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ending = runtime.block_on(session(stream)).map_err(|e| e.to_string());
    runtime.shutdown_background();
    crate::run::restore_terminal();
    match ending? {
        Ending::Detached => {
            println!(
                "agentmux: detached from {ws}; its agents go on (`agentmux attach {ws}` comes \
                 back)",
                ws = place.workspace
            );
            Ok(())
        }
        Ending::Quit | Ending::Left => Ok(()),
        Ending::ServerGone => Err(format!(
            "the server of {} stopped (its log: {}); `agentmux` opens the workspace again",
            place.workspace,
            place.log().display()
        )),
    }
}

/// The attached terminal: its events go out, the server's frames come in.
async fn session(stream: std::os::unix::net::UnixStream) -> io::Result<Ending> {
    use tokio::io::AsyncWriteExt;
    use tokio::signal::unix::{signal, SignalKind};
    stream.set_nonblocking(true)?;
    let (reader, mut writer) = tokio::net::UnixStream::from_std(stream)?.into_split();
    let mut frames = read_frames(reader);
    crate::run::install_panic_hook();
    crate::run::take_terminal()?;
    let _guard = crate::run::TerminalGuard;
    let (input, mut events) = TerminalInput::spawn()?;
    crate::run::nudge_on_resize(input.clone())?;
    let mut host = crate::run::RealTerminal { input };
    let (mut term, mut int, mut hup) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
        signal(SignalKind::hangup())?,
    );
    let mut tstp = signal(SignalKind::from_raw(libc::SIGTSTP))?;
    loop {
        let to_server = tokio::select! {
            ev = events.recv() => match ev {
                Some(Ok(ev)) => event_frame(ev),
                // The terminal is gone: the server goes on without it.
                Some(Err(_)) | None => return Ok(Ending::Left),
            },
            frame = frames.recv() => match frame {
                Some(msg) => match on_frame(msg, &mut host)? {
                    Step::Go(reply) => reply,
                    Step::End(ending) => return Ok(ending),
                },
                None => return Ok(Ending::ServerGone),
            },
            _ = tstp.recv() => {
                host.suspend()?;
                Some(ToServer::Repaint)
            }
            _ = term.recv() => return Ok(Ending::Left),
            _ = int.recv() => return Ok(Ending::Left),
            _ = hup.recv() => return Ok(Ending::Left),
        };
        if let Some(m) = to_server {
            if writer.write_all(&m.encode()).await.is_err() {
                return Ok(Ending::ServerGone);
            }
        }
    }
}

fn event_frame(ev: TermEvent) -> Option<ToServer> {
    Some(ToServer::Event(ev))
}

enum Step {
    Go(Option<ToServer>),
    End(Ending),
}

/// What a frame from the server asks of this terminal.
fn on_frame(msg: ToClient, host: &mut crate::run::RealTerminal) -> io::Result<Step> {
    Ok(match msg {
        ToClient::Output(bytes) => {
            let mut out = io::stdout();
            match out.write_all(&bytes).and_then(|()| out.flush()) {
                Ok(()) => Step::Go(None),
                Err(_) => Step::End(Ending::Left),
            }
        }
        ToClient::Bye { reason: Bye::Detached } => Step::End(Ending::Detached),
        ToClient::Bye { reason: Bye::Quit } => Step::End(Ending::Quit),
        ToClient::Suspend => {
            host.suspend()?;
            Step::Go(Some(ToServer::Repaint))
        }
        ToClient::Shell { dir, env } => {
            let shell = std::env::var_os("SHELL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into());
            let mut cmd = Command::new(shell);
            cmd.current_dir(&dir).envs(env);
            if let Err(e) = host.shell(cmd) {
                eprintln!("agentmux: could not open a shell in {}: {e}", dir.display());
            }
            Step::Go(Some(ToServer::Repaint))
        }
        // Only a hello's answers; they came already.
        ToClient::Welcome { .. } | ToClient::VersionMismatch { .. } => Step::Go(None),
    })
}

/// The server's frames on a task of their own (a frame read is not cancel-safe in a select);
/// the channel closes at the end of the stream or at a broken frame.
fn read_frames(mut reader: tokio::net::unix::OwnedReadHalf) -> mpsc::Receiver<ToClient> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Ok(Some((tag, payload))) = proto::read_frame_async(&mut reader).await {
            let Ok(msg) = ToClient::decode(tag, &payload) else { break };
            if tx.send(msg).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// Whether `path` names a socket a server answers on.
pub fn answers(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_server_starts_at_the_size_it_was_given_or_80x24() {
        let cases: &[(&str, (u16, u16))] = &[
            ("200x60", (200, 60)),
            ("80x24", (80, 24)),
            ("0x0", (1, 1)),
            ("1", (80, 24)),
            ("wide", (80, 24)),
            ("120x", (80, 24)),
            ("70000x10", (80, 24)),
        ];
        for (value, want) in cases {
            assert_eq!(super::serve_size(std::ffi::OsStr::new(value)), *want, "{value}");
        }
    }
}
