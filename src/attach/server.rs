//! The server's side of the attach socket: every attached client is a screen of its own size,
//! drawn from the one state by the one loop, and every client's input is a message of the same
//! loop (tagged with the client, so a detach or a click is the right client's).
//!
//! Each client has a ratatui `Terminal` over a byte buffer at the client's size: ratatui diffs
//! each frame against that client's last one, so a keystroke costs a client the few cells it
//! changed, whatever the other clients' sizes. The bytes go to a writer task per client through
//! a bounded queue; a client that cannot keep up is not waited for (the loop never blocks on a
//! socket): its frames are skipped and it is repainted whole once it drains.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::proto::{self, Bye, ToClient, ToServer};
use crate::app::{Msg, State};
use crate::run::{Host, Screen};

/// Frames that may wait for one client's socket before its screen is repainted instead.
const CLIENT_QUEUE: usize = 64;

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

type ClientTerminal = Terminal<CrosstermBackend<Sink>>;

/// Where a client's terminal writes: bytes taken after each frame.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Client {
    size: (u16, u16),
    term: ClientTerminal,
    sink: Sink,
    out: mpsc::Sender<ToClient>,
    /// The client's screen is not what its terminal buffer says: clear it and draw it all.
    repaint: bool,
}

#[derive(Default)]
struct Shared {
    clients: HashMap<u32, Client>,
    /// The client whose input came last (a suspend or a shell is its own).
    active: Option<u32>,
    next_id: u32,
    /// The writer tasks, so the last goodbye is written before the server exits.
    writers: Vec<tokio::task::JoinHandle<()>>,
}

/// The attached clients, as the loop's [`Screen`] (and, through [`ClientsHost`], its host).
#[derive(Clone, Default)]
pub struct Clients {
    shared: Arc<Mutex<Shared>>,
}

fn terminal(size: (u16, u16), sink: &Sink) -> io::Result<ClientTerminal> {
    let viewport = Viewport::Fixed(Rect::new(0, 0, size.0, size.1));
    Terminal::with_options(CrosstermBackend::new(sink.clone()), TerminalOptions { viewport })
}

impl Clients {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many clients are attached.
    pub fn count(&self) -> usize {
        self.lock().clients.len()
    }

    /// Says `bye` to every client and waits (a little) for the words to be written.
    pub async fn farewell(&self, reason: Bye) {
        let writers = {
            let mut shared = self.lock();
            for (_, c) in shared.clients.drain() {
                let _ = c.out.try_send(ToClient::Bye { reason });
            }
            std::mem::take(&mut shared.writers)
        };
        for w in writers {
            let _ = tokio::time::timeout(Duration::from_secs(1), w).await;
        }
    }

    fn send_active(&self, msg: ToClient) {
        let shared = self.lock();
        if let Some(c) = shared.active.and_then(|id| shared.clients.get(&id)) {
            let _ = c.out.try_send(msg);
        }
    }

    /// Serve the attach socket: each connection that says a matching hello becomes a client;
    /// its input and its going away reach the loop on `local`.
    pub fn serve(
        &self,
        listener: std::os::unix::net::UnixListener,
        workspace: String,
        local: mpsc::UnboundedSender<Msg>,
    ) -> io::Result<tokio::task::JoinHandle<()>> {
        let listener = tokio::net::UnixListener::from_std(listener)?;
        let clients = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let (clients, workspace, local) =
                            (clients.clone(), workspace.clone(), local.clone());
                        tokio::spawn(
                            async move { clients.connection(stream, workspace, local).await },
                        );
                    }
                    Err(e) => {
                        // EMFILE and the like: the listener is fine; try again shortly.
                        tracing::warn!("attach socket accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }))
    }

    async fn connection(
        &self,
        stream: UnixStream,
        workspace: String,
        local: mpsc::UnboundedSender<Msg>,
    ) {
        let (mut reader, writer) = stream.into_split();
        let hello =
            match tokio::time::timeout(HELLO_TIMEOUT, proto::read_frame_async(&mut reader)).await {
                Ok(Ok(Some((tag, payload)))) => ToServer::decode(tag, &payload),
                _ => return,
            };
        let Ok(ToServer::Hello(hello)) = hello else { return };
        let (out, rx) = mpsc::channel(CLIENT_QUEUE);
        let writer = tokio::spawn(write_frames(writer, rx));
        if hello.version != proto::version() {
            let _ = out.try_send(ToClient::VersionMismatch {
                server: proto::version(),
                pid: std::process::id(),
            });
            drop(out);
            let _ = writer.await;
            return;
        }
        let size = (hello.cols.max(1), hello.rows.max(1));
        let sink = Sink::default();
        let Ok(term) = terminal(size, &sink) else { return };
        let _ = out.try_send(ToClient::Welcome { version: proto::version(), workspace });
        let id = {
            let mut shared = self.lock();
            let id = shared.next_id;
            shared.next_id += 1;
            shared.clients.insert(id, Client { size, term, sink, out, repaint: true });
            shared.active = Some(id);
            shared.writers.retain(|w| !w.is_finished());
            shared.writers.push(writer);
            id
        };
        tracing::info!(client = id, cols = size.0, rows = size.1, "client attached");
        let _ = local.send(Msg::Attached { id, size });
        self.read_input(id, &mut reader, &local).await;
        let mut shared = self.lock();
        shared.clients.remove(&id);
        if shared.active == Some(id) {
            shared.active = None;
        }
        drop(shared);
        tracing::info!(client = id, "client left");
        let _ = local.send(Msg::Left { id });
    }

    /// A client's frames until it detaches, goes away or sends something broken.
    async fn read_input(
        &self,
        id: u32,
        reader: &mut tokio::net::unix::OwnedReadHalf,
        local: &mpsc::UnboundedSender<Msg>,
    ) {
        while let Ok(Some((tag, payload))) = proto::read_frame_async(reader).await {
            let msg = match ToServer::decode(tag, &payload) {
                Ok(ToServer::Event(event)) => {
                    let mut shared = self.lock();
                    shared.active = Some(id);
                    let Some(c) = shared.clients.get_mut(&id) else { return };
                    if let crossterm::event::Event::Resize(cols, rows) = event {
                        let size = (cols.max(1), rows.max(1));
                        if size != c.size {
                            match terminal(size, &c.sink) {
                                Ok(term) => c.term = term,
                                Err(_) => return,
                            }
                            c.size = size;
                            c.repaint = true;
                        }
                    }
                    Msg::Client { id, size: c.size, event }
                }
                Ok(ToServer::Repaint) => {
                    if let Some(c) = self.lock().clients.get_mut(&id) {
                        c.repaint = true;
                    }
                    Msg::Redraw
                }
                Ok(ToServer::Detach) | Err(_) => return,
                // A second hello means nothing.
                Ok(ToServer::Hello(_)) => continue,
            };
            if local.send(msg).is_err() {
                return;
            }
        }
    }
}

async fn write_frames(mut w: tokio::net::unix::OwnedWriteHalf, mut rx: mpsc::Receiver<ToClient>) {
    use tokio::io::AsyncWriteExt;
    while let Some(msg) = rx.recv().await {
        let last = matches!(msg, ToClient::Bye { .. } | ToClient::VersionMismatch { .. });
        if w.write_all(&msg.encode()).await.is_err() || last {
            break;
        }
    }
    let _ = w.shutdown().await;
}

impl Screen for Clients {
    fn draw(&mut self, state: &mut State) -> io::Result<()> {
        let own = state.size;
        let mut shared = self.lock();
        // The client whose input came last is drawn last: what the view leaves in the state
        // (where the panes are, for its clicks) is its own.
        let mut ids: Vec<u32> = shared.clients.keys().copied().collect();
        ids.sort_by_key(|&id| (Some(id) == state.client, id));
        for id in ids {
            let Some(c) = shared.clients.get_mut(&id) else { continue };
            state.size = c.size;
            if c.repaint {
                // A new terminal remembers nothing drawn: the whole screen goes out.
                c.term = terminal(c.size, &c.sink)?;
                // What the old terminal wrote as it was dropped (it shows the cursor) is for
                // the screen about to be cleared.
                let mut bytes = c.sink.bytes();
                bytes.clear();
                bytes.extend_from_slice(b"\x1b[H\x1b[2J");
            }
            c.term.draw(|f| crate::ui::view(state, f))?;
            let bytes = std::mem::take(&mut *c.sink.bytes());
            c.repaint = match c.out.try_send(ToClient::Output(bytes)) {
                Ok(()) => false,
                // Its socket is behind: skip this frame, send the whole screen once it drains.
                Err(mpsc::error::TrySendError::Full(_)) => true,
                // Gone: its reader says so to the loop.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            };
        }
        state.size = own;
        state.dirty = false;
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        for c in self.lock().clients.values_mut() {
            c.repaint = true;
        }
        Ok(())
    }

    fn detach(&mut self, client: Option<u32>) {
        let mut shared = self.lock();
        let Some(id) = client.or(shared.active) else { return };
        if let Some(c) = shared.clients.remove(&id) {
            let _ = c.out.try_send(ToClient::Bye { reason: Bye::Detached });
        }
    }
}

/// The loop's host when its screens are clients: a bell goes to every client; a suspend or a
/// shell is done by the client whose input came last, on its own terminal.
pub struct ClientsHost(pub Clients);

impl Host for ClientsHost {
    fn notify(&mut self, bytes: &str) {
        for c in self.0.lock().clients.values() {
            let _ = c.out.try_send(ToClient::Output(bytes.as_bytes().to_vec()));
        }
    }

    fn suspend(&mut self) -> io::Result<()> {
        self.0.send_active(ToClient::Suspend);
        Ok(())
    }

    fn shell(&mut self, cmd: std::process::Command) -> io::Result<()> {
        let dir = cmd.get_current_dir().map(std::path::Path::to_path_buf).unwrap_or_default();
        let env = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
            .collect();
        self.0.send_active(ToClient::Shell { dir, env });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fixtures;

    impl Clients {
        /// A client without a socket: its frames come out of the returned queue.
        fn add(&self, size: (u16, u16), queue: usize) -> (u32, mpsc::Receiver<ToClient>) {
            let (out, rx) = mpsc::channel(queue);
            let sink = Sink::default();
            let term = terminal(size, &sink).unwrap_or_else(|e| panic!("{e}"));
            let mut shared = self.lock();
            let id = shared.next_id;
            shared.next_id += 1;
            shared.clients.insert(id, Client { size, term, sink, out, repaint: true });
            (id, rx)
        }
    }

    /// What a client's terminal shows after every frame it was sent.
    fn screen(
        rx: &mut mpsc::Receiver<ToClient>,
        size: (u16, u16),
        parser: &mut vt100::Parser,
    ) -> String {
        parser.set_size(size.1, size.0);
        while let Ok(m) = rx.try_recv() {
            if let ToClient::Output(bytes) = m {
                parser.process(&bytes);
            }
        }
        parser.screen().contents()
    }

    fn outputs(rx: &mut mpsc::Receiver<ToClient>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Ok(m) = rx.try_recv() {
            if let ToClient::Output(bytes) = m {
                out.push(bytes);
            }
        }
        out
    }

    #[test]
    fn two_clients_see_the_one_state_each_at_its_own_size() {
        let mut state = fixtures::state(false, &[("api", "fix the build")], (80, 24));
        let mut clients = Clients::default();
        let (small, mut small_rx) = clients.add((80, 24), 8);
        let (_, mut big_rx) = clients.add((132, 40), 8);
        state.client = Some(small);
        clients.draw(&mut state).unwrap_or_else(|e| panic!("{e}"));
        let (mut p_small, mut p_big) =
            (vt100::Parser::new(24, 80, 0), vt100::Parser::new(40, 132, 0));
        let small_screen = screen(&mut small_rx, (80, 24), &mut p_small);
        let big_screen = screen(&mut big_rx, (132, 40), &mut p_big);
        for s in [&small_screen, &big_screen] {
            assert!(s.contains("api"), "{s}");
        }
        let widest = |s: &str| s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert_eq!((widest(&small_screen), widest(&big_screen)), (80, 132));
        // The state keeps the size of the client whose input came last.
        assert_eq!(state.size, (80, 24));
        assert!(!state.dirty);
    }

    #[test]
    fn a_client_that_falls_behind_is_skipped_then_repainted_whole() {
        let mut state = fixtures::state(false, &[("api", "fix the build")], (80, 24));
        let mut clients = Clients::default();
        let (_, mut rx) = clients.add((80, 24), 1);
        clients.draw(&mut state).unwrap_or_else(|e| panic!("{e}"));
        // The queue holds the first frame: the next one finds it full and is skipped.
        state.flash = Some("first change".into());
        clients.draw(&mut state).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outputs(&mut rx).len(), 1);
        state.flash = Some("second change".into());
        clients.draw(&mut state).unwrap_or_else(|e| panic!("{e}"));
        let frames = outputs(&mut rx);
        assert_eq!(frames.len(), 1);
        // Whole: a cleared screen, then everything, not a diff against the skipped frame.
        assert!(frames[0].starts_with(b"\x1b[H\x1b[2J"));
        let mut parser = vt100::Parser::new(24, 80, 0);
        parser.process(&frames[0]);
        assert!(parser.screen().contents().contains("second change"));
        // And caught up: the next frame is a diff again.
        state.flash = Some("third".into());
        clients.draw(&mut state).unwrap_or_else(|e| panic!("{e}"));
        assert!(!outputs(&mut rx)[0].starts_with(b"\x1b[H\x1b[2J"));
    }

    #[test]
    fn a_detach_lets_that_client_go_and_no_other() {
        let mut clients = Clients::default();
        let (a, mut a_rx) = clients.add((80, 24), 8);
        let (_, mut b_rx) = clients.add((80, 24), 8);
        clients.detach(Some(a));
        assert_eq!(clients.count(), 1);
        assert!(matches!(a_rx.try_recv(), Ok(ToClient::Bye { reason: Bye::Detached })));
        assert!(b_rx.try_recv().is_err());
    }
}
