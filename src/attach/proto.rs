//! The attach socket's frames: a 4-byte big-endian length, then a tag byte and the payload.
//!
//! A client says `Hello` (its version and size) and then sends terminal events; the server
//! answers `Welcome` or `VersionMismatch`, then sends the bytes that draw the client's screen
//! (`Output`) until it says `Bye`. Control frames carry JSON (unknown fields are ignored, so
//! a `Hello` from another version still decodes and gets a clear answer); `Output` carries raw
//! bytes, which are most of the traffic.

use std::io::{self, Read, Write};

use crossterm::event::Event as TermEvent;
use serde::{Deserialize, Serialize};

/// What both ends must agree on. A client and a server of different builds may disagree on
/// the events or the drawing, so the whole version is compared, not only this number.
pub const PROTOCOL: u32 = 1;

/// This build's version, as a `Hello` and a `VersionMismatch` carry it.
pub fn version() -> String {
    format!("{}/{PROTOCOL}", env!("CARGO_PKG_VERSION"))
}

/// The largest frame either side accepts: a full redraw of a big screen is a few hundred KiB.
pub const MAX_FRAME: usize = 16 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: String,
    pub cols: u16,
    pub rows: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ToServer {
    Hello(Hello),
    /// A terminal event of the client's (a resize is the client's new size).
    Event(TermEvent),
    /// The client goes away on its own (its user closed it); the server keeps running.
    Detach,
    /// The client's screen was someone else's for a while (a suspend, a shell): draw all of it.
    Repaint,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ToClient {
    Welcome {
        version: String,
        workspace: String,
    },
    /// The server is another build: the client says so and leaves.
    VersionMismatch {
        server: String,
        pid: u32,
    },
    /// Bytes for the client's terminal (ANSI, drawn for the client's size).
    Output(Vec<u8>),
    /// The server lets the client go: detached, quit, or refused.
    Bye {
        reason: Bye,
    },
    /// The user asked to suspend: the client gives its terminal back and stops itself; once
    /// continued it takes the terminal again and asks for a `Repaint`.
    Suspend,
    /// The user asked for a shell in an agent's worktree: the client runs one there on its own
    /// terminal, then asks for a `Repaint`.
    Shell {
        dir: std::path::PathBuf,
        /// What the shell's environment has besides the client's (the agent, its worktree).
        env: Vec<(String, String)>,
    },
}

/// Why the server said goodbye; the client's last line depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bye {
    /// The user detached: the agents go on.
    Detached,
    /// The user quit agentmux: the server is gone.
    Quit,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("a frame of {0} bytes is over the limit")]
    TooLong(usize),
    #[error("an empty frame")]
    Empty,
    #[error("unknown frame tag {0}")]
    UnknownTag(u8),
    #[error("a frame that does not decode: {0}")]
    Bad(String),
}

const HELLO: u8 = 1;
const EVENT: u8 = 2;
const DETACH: u8 = 3;
const REPAINT: u8 = 4;
const WELCOME: u8 = 10;
const MISMATCH: u8 = 11;
const OUTPUT: u8 = 12;
const BYE: u8 = 13;
const SUSPEND: u8 = 14;
const SHELL: u8 = 15;

#[derive(Serialize, Deserialize)]
struct WelcomeBody {
    version: String,
    workspace: String,
}

#[derive(Serialize, Deserialize)]
struct MismatchBody {
    server: String,
    pid: u32,
}

#[derive(Serialize, Deserialize)]
struct ShellBody {
    dir: std::path::PathBuf,
    #[serde(default)]
    env: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct ByeBody {
    reason: Bye,
}

fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.extend_from_slice(&((payload.len() + 1) as u32).to_be_bytes());
    out.push(tag);
    out.extend_from_slice(payload);
    out
}

fn json<T: Serialize>(tag: u8, body: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    frame(tag, &serde_json::to_vec(body).unwrap_or_default())
}

fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, FrameError> {
    serde_json::from_slice(payload).map_err(|e| FrameError::Bad(e.to_string()))
}

impl ToServer {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ToServer::Hello(h) => json(HELLO, h),
            ToServer::Event(ev) => json(EVENT, ev),
            ToServer::Detach => frame(DETACH, &[]),
            ToServer::Repaint => frame(REPAINT, &[]),
        }
    }

    pub fn decode(tag: u8, payload: &[u8]) -> Result<ToServer, FrameError> {
        Ok(match tag {
            HELLO => ToServer::Hello(parse(payload)?),
            EVENT => ToServer::Event(parse(payload)?),
            DETACH => ToServer::Detach,
            REPAINT => ToServer::Repaint,
            other => return Err(FrameError::UnknownTag(other)),
        })
    }
}

impl ToClient {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ToClient::Welcome { version, workspace } => json(
                WELCOME,
                &WelcomeBody { version: version.clone(), workspace: workspace.clone() },
            ),
            ToClient::VersionMismatch { server, pid } => {
                json(MISMATCH, &MismatchBody { server: server.clone(), pid: *pid })
            }
            ToClient::Output(bytes) => frame(OUTPUT, bytes),
            ToClient::Bye { reason } => json(BYE, &ByeBody { reason: *reason }),
            ToClient::Suspend => frame(SUSPEND, &[]),
            ToClient::Shell { dir, env } => {
                json(SHELL, &ShellBody { dir: dir.clone(), env: env.clone() })
            }
        }
    }

    pub fn decode(tag: u8, payload: &[u8]) -> Result<ToClient, FrameError> {
        Ok(match tag {
            WELCOME => {
                let b: WelcomeBody = parse(payload)?;
                ToClient::Welcome { version: b.version, workspace: b.workspace }
            }
            MISMATCH => {
                let b: MismatchBody = parse(payload)?;
                ToClient::VersionMismatch { server: b.server, pid: b.pid }
            }
            OUTPUT => ToClient::Output(payload.to_vec()),
            BYE => ToClient::Bye { reason: parse::<ByeBody>(payload)?.reason },
            SUSPEND => ToClient::Suspend,
            SHELL => {
                let b: ShellBody = parse(payload)?;
                ToClient::Shell { dir: b.dir, env: b.env }
            }
            other => return Err(FrameError::UnknownTag(other)),
        })
    }
}

/// The length a frame's header announces, checked against the limit.
fn announced(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    match len {
        0 => Err(FrameError::Empty),
        n if n > MAX_FRAME => Err(FrameError::TooLong(n)),
        n => Ok(n),
    }
}

/// Reads one frame: `Ok(None)` at a clean end of the stream (between frames).
pub fn read_frame(r: &mut impl Read) -> Result<Option<(u8, Vec<u8>)>, FrameError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut body = vec![0u8; announced(header)?];
    r.read_exact(&mut body)?;
    let payload = body.split_off(1);
    Ok(Some((body[0], payload)))
}

/// The same on a tokio stream.
pub async fn read_frame_async(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Result<Option<(u8, Vec<u8>)>, FrameError> {
    use tokio::io::AsyncReadExt;
    let mut header = [0u8; 4];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut body = vec![0u8; announced(header)?];
    r.read_exact(&mut body).await?;
    let payload = body.split_off(1);
    Ok(Some((body[0], payload)))
}

pub fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

    fn round_server(m: ToServer) -> ToServer {
        let bytes = m.encode();
        let (tag, payload) = match read_frame(&mut bytes.as_slice()) {
            Ok(Some(f)) => f,
            other => panic!("{other:?}"),
        };
        ToServer::decode(tag, &payload).unwrap_or_else(|e| panic!("{e}"))
    }

    fn round_client(m: ToClient) -> ToClient {
        let bytes = m.encode();
        let (tag, payload) = match read_frame(&mut bytes.as_slice()) {
            Ok(Some(f)) => f,
            other => panic!("{other:?}"),
        };
        ToClient::decode(tag, &payload).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_frame_decodes_to_what_was_encoded() {
        let key = TermEvent::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::ALT));
        let mouse = TermEvent::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollUp,
            column: 3,
            row: 7,
            modifiers: KeyModifiers::SHIFT,
        });
        let to_server = [
            ToServer::Hello(Hello { version: version(), cols: 140, rows: 40 }),
            ToServer::Event(key),
            ToServer::Event(mouse),
            ToServer::Event(TermEvent::Resize(200, 60)),
            ToServer::Event(TermEvent::Paste("a\nb\u{1b}[2J".into())),
            ToServer::Detach,
            ToServer::Repaint,
        ];
        for m in to_server {
            assert_eq!(round_server(m.clone()), m);
        }
        let to_client = [
            ToClient::Welcome { version: version(), workspace: "api".into() },
            ToClient::VersionMismatch { server: "0.0.9/1".into(), pid: 42 },
            ToClient::Output(b"\x1b[1;1Hhello\x00\xff".to_vec()),
            ToClient::Output(Vec::new()),
            ToClient::Bye { reason: Bye::Detached },
            ToClient::Bye { reason: Bye::Quit },
            ToClient::Suspend,
            ToClient::Shell {
                dir: "/home/u/api".into(),
                env: vec![("AGENTMUX_AGENT".into(), "api".into())],
            },
        ];
        for m in to_client {
            assert_eq!(round_client(m.clone()), m);
        }
    }

    #[test]
    fn frames_follow_each_other_and_a_clean_end_is_none() {
        let mut bytes = ToServer::Detach.encode();
        bytes.extend(ToServer::Event(TermEvent::FocusGained).encode());
        let mut r = bytes.as_slice();
        assert!(matches!(read_frame(&mut r), Ok(Some((DETACH, _)))));
        assert!(matches!(read_frame(&mut r), Ok(Some((EVENT, _)))));
        assert!(matches!(read_frame(&mut r), Ok(None)));
    }

    #[test]
    fn broken_frames_are_errors_not_panics() {
        let cases: &[(&str, Vec<u8>)] = &[
            ("empty", vec![0, 0, 0, 0]),
            ("too long", ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec()),
            ("cut short", vec![0, 0, 0, 9, EVENT, b'{']),
            ("half a header", vec![0, 0]),
        ];
        for (what, bytes) in cases {
            let got = read_frame(&mut bytes.as_slice());
            let ok = match *what {
                "empty" => matches!(got, Err(FrameError::Empty)),
                "too long" => matches!(got, Err(FrameError::TooLong(_))),
                "cut short" => matches!(got, Err(FrameError::Io(_))),
                // A stream that ends inside a header ends as cleanly as one can.
                _ => matches!(got, Ok(None)),
            };
            assert!(ok, "{what}: {got:?}");
        }
        assert!(matches!(ToServer::decode(99, b""), Err(FrameError::UnknownTag(99))));
        assert!(matches!(ToServer::decode(EVENT, b"{\"Key\":"), Err(FrameError::Bad(_))));
        assert!(matches!(
            ToClient::decode(BYE, b"{\"reason\":\"later\"}"),
            Err(FrameError::Bad(_))
        ));
    }

    #[test]
    fn a_hello_from_a_newer_build_still_decodes() {
        let newer = br#"{"version":"9.0.0/7","cols":80,"rows":24,"truecolor":true}"#;
        let got = ToServer::decode(HELLO, newer).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, ToServer::Hello(Hello { version: "9.0.0/7".into(), cols: 80, rows: 24 }));
    }
}
