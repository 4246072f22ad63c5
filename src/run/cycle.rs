//! The loop's round: wait for a message, take whatever else is ready (up to a batch), apply it
//! all through `update`, carry out the effects, then draw if something visible changed and a
//! frame is due ([`Frames`]).

use std::collections::VecDeque;
use std::io;

use crossterm::event::Event as TermEvent;
use tokio::time::Instant;

use super::frames::Frames;
use super::{hung_up, Effect, Executor, Host, Inbox, Outcome, RunError, Screen, MAX_BATCH};
use crate::agent::AgentId;
use crate::app::{update, Msg, State};
use crate::control::ControlCall;

pub(super) struct Loop<'a, S: Screen> {
    terminal: &'a mut S,
    state: &'a mut State,
    inbox: Inbox,
    exec: &'a mut Executor,
    host: &'a mut dyn Host,
    pending: VecDeque<Msg>,
    calls: Vec<ControlCall>,
    /// False once the terminal's channel closed or a read said it hung up.
    stdin_open: bool,
    frames: Frames,
}

/// What a batch asked of the loop besides drawing.
#[derive(Default)]
struct Asked {
    suspend: bool,
    quit: bool,
    shell: Option<(AgentId, Box<crate::worktree::AgentWorktree>)>,
}

impl<'a, S: Screen> Loop<'a, S> {
    /// Carries out the first effects and draws the first frame; `None` when those effects
    /// already quit.
    pub(super) fn start(
        terminal: &'a mut S,
        state: &'a mut State,
        inbox: Inbox,
        exec: &'a mut Executor,
        host: &'a mut dyn Host,
        first: Vec<Effect>,
    ) -> Result<Option<Self>, RunError> {
        let mut pending = VecDeque::new();
        for mut e in first {
            exec.control.effect(&mut e);
            if let Some(p) = &mut exec.persist {
                p.effect(&e, state);
            }
            match exec.apply(e, state, &mut pending) {
                Outcome::Quit => return Ok(None),
                Outcome::Notify(bytes) => host.notify(&bytes),
                _ => {}
            }
        }
        pending.extend(exec.persist.as_mut().and_then(super::persist::Persister::take_warning));
        state.set_clock(std::time::Instant::now(), crate::limits::wall_clock_ms());
        let frames = Frames::new(Instant::now());
        let mut l = Loop {
            terminal,
            state,
            inbox,
            exec,
            host,
            pending,
            calls: Vec::new(),
            stdin_open: true,
            frames,
        };
        l.draw_now()?;
        Ok(Some(l))
    }

    pub(super) async fn run(mut self) -> Result<(), RunError> {
        loop {
            if self.pending.is_empty() && self.calls.is_empty() {
                self.wait().await?;
            }
            self.drain()?;
            let asked = self.apply_batch();
            if asked.quit {
                tracing::info!("quit");
                self.exec.interrupt_all();
                if let Some(p) = &mut self.exec.persist {
                    p.close(self.state);
                }
                return Ok(());
            }
            self.carry_out(asked)?;
            if self.frames.may_draw(self.state.dirty, Instant::now()) {
                self.draw_now()?;
            }
        }
    }

    /// The earlier of: the state's next change by itself (a spinner's step, a release, the
    /// end of a relay batching window) and the frame a waiting change is due in. `None`:
    /// sleep until a message arrives.
    fn deadline(&self) -> Option<Instant> {
        let wake = self.state.next_wake().map(Instant::from_std);
        [wake, self.frames.due(self.state.dirty)].into_iter().flatten().min()
    }

    async fn wait(&mut self) -> Result<(), RunError> {
        let deadline = self.deadline();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let inbox = &mut self.inbox;
        tokio::select! {
            ev = inbox.terminal.recv(), if self.stdin_open => return self.terminal_event(ev),
            Some(m) = inbox.engine.recv() => self.pending.push_back(Msg::Engine(m)),
            Some(c) = inbox.control.recv() => self.calls.push(c),
            Some(m) = inbox.local.recv() => self.pending.push_back(m),
            () = sleep => self.pending.push_back(Msg::Wake),
        }
        Ok(())
    }

    /// A terminal event, or the terminal's end (its channel closed, or a hang-up): leave then
    /// as on SIGHUP.
    fn terminal_event(&mut self, ev: Option<io::Result<TermEvent>>) -> Result<(), RunError> {
        match ev {
            Some(Ok(ev)) => self.pending.extend(Msg::from_terminal(ev)),
            Some(Err(e)) if !hung_up(&e) => return Err(e.into()),
            Some(Err(_)) | None => {
                self.stdin_open = false;
                self.pending.push_back(Msg::Terminate);
            }
        }
        Ok(())
    }

    /// Takes everything already waiting, up to a batch.
    fn drain(&mut self) -> Result<(), RunError> {
        while self.pending.len() < MAX_BATCH {
            let before = (self.pending.len(), self.calls.len());
            if self.stdin_open {
                use tokio::sync::mpsc::error::TryRecvError;
                match self.inbox.terminal.try_recv() {
                    Ok(ev) => self.terminal_event(Some(ev))?,
                    Err(TryRecvError::Disconnected) => self.terminal_event(None)?,
                    Err(TryRecvError::Empty) => {}
                }
            }
            while self.pending.len() < MAX_BATCH {
                match self.inbox.engine.try_recv() {
                    Ok(m) => self.pending.push_back(Msg::Engine(m)),
                    Err(_) => break,
                }
            }
            if let Ok(c) = self.inbox.control.try_recv() {
                self.calls.push(c);
            }
            if let Ok(m) = self.inbox.local.try_recv() {
                self.pending.push_back(m);
            }
            if (self.pending.len(), self.calls.len()) == before {
                break;
            }
        }
        Ok(())
    }

    /// Applies the batch until it is done or a frame is due; what is left waits for the next
    /// round, which takes it before waiting again.
    fn apply_batch(&mut self) -> Asked {
        let (state, exec) = (&mut *self.state, &mut *self.exec);
        state.set_clock(std::time::Instant::now(), crate::limits::wall_clock_ms());
        // Control requests: read-only ones are answered now, the others become messages.
        for call in self.calls.drain(..) {
            self.pending.extend(exec.control.call(call, state));
        }
        let mut replies = VecDeque::new();
        let mut asked = Asked::default();
        while let Some(msg) = self.pending.pop_front() {
            exec.ended(&msg);
            exec.control.observe(&msg, state);
            if let Some(p) = &mut exec.persist {
                p.before(&msg, state);
            }
            for mut effect in update(state, msg) {
                exec.control.effect(&mut effect);
                if let Some(p) = &mut exec.persist {
                    p.effect(&effect, state);
                }
                match exec.apply(effect, state, &mut replies) {
                    Outcome::Continue => {}
                    Outcome::Notify(bytes) => self.host.notify(&bytes),
                    Outcome::Suspend => asked.suspend = true,
                    Outcome::Quit => asked.quit = true,
                    Outcome::Detach(client) => self.terminal.detach(client),
                    Outcome::Shell { agent, wt } => asked.shell = Some((agent, wt)),
                }
            }
            if self.frames.cut_batch(state.dirty, Instant::now()) {
                break;
            }
        }
        self.pending.append(&mut replies);
        // Waits, and asks nobody waits for any more (applied next).
        self.pending.extend(exec.control.settle(state));
        if let Some(p) = &mut exec.persist {
            p.after_batch(state);
            // A save that failed is shown by `update`, in the next batch.
            self.pending.extend(p.take_warning());
        }
        asked
    }

    /// A suspend or a shell: the terminal is given away, then taken back and drawn again.
    fn carry_out(&mut self, asked: Asked) -> Result<(), RunError> {
        if asked.suspend {
            tracing::info!("suspend");
            self.host.suspend()?;
            self.redraw_all()?;
        }
        if let Some((agent, wt)) = asked.shell {
            // A shell that cannot start is reported, not fatal.
            if let Err(e) = self.host.shell(crate::worktree::shell_command(&wt)) {
                self.state.flash = Some(format!("could not open a shell: {e}"));
            }
            self.redraw_all()?;
            let exited = crate::app::worktree::WorktreeMsg::ShellExited { agent };
            self.pending.push_back(Msg::Worktree(exited));
        }
        Ok(())
    }

    fn redraw_all(&mut self) -> io::Result<()> {
        self.terminal.clear()?;
        self.state.dirty = true;
        self.frames.redraw_now(Instant::now());
        Ok(())
    }

    fn draw_now(&mut self) -> Result<(), RunError> {
        let now = Instant::now();
        self.state.set_clock(std::time::Instant::now(), crate::limits::wall_clock_ms());
        match self.terminal.draw(self.state) {
            // Nothing to draw on any more: leave as on SIGHUP.
            Err(e) if hung_up(&e) => {
                self.stdin_open = false;
                self.state.dirty = false;
                self.pending.push_back(Msg::Terminate);
            }
            result => result?,
        }
        self.frames.drawn(now, now.elapsed());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The frame schedule of the whole loop, under tokio's paused time: the clock moves only
    //! when every task waits, so each figure below is exact, not a timing.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
    use ratatui::buffer::Cell;
    use ratatui::layout::{Position, Size};
    use ratatui::Terminal;
    use tokio::sync::mpsc;

    use super::super::{event_loop, Executor, Headless, Inbox, ENGINE_CHANNEL, FRAME};
    use super::*;
    use crate::app::fixtures;
    use tokio::time::Duration;

    /// A TestBackend that counts frames (a flush ends each).
    struct Counting {
        inner: TestBackend,
        frames: Arc<AtomicUsize>,
    }

    impl Backend for Counting {
        fn draw<'b, I>(&mut self, content: I) -> io::Result<()>
        where
            I: Iterator<Item = (u16, u16, &'b Cell)>,
        {
            self.inner.draw(content)
        }
        fn hide_cursor(&mut self) -> io::Result<()> {
            self.inner.hide_cursor()
        }
        fn show_cursor(&mut self) -> io::Result<()> {
            self.inner.show_cursor()
        }
        fn get_cursor_position(&mut self) -> io::Result<Position> {
            self.inner.get_cursor_position()
        }
        fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
            self.inner.set_cursor_position(position)
        }
        fn clear(&mut self) -> io::Result<()> {
            self.inner.clear()
        }
        fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
            self.inner.clear_region(clear_type)
        }
        fn size(&self) -> io::Result<Size> {
            self.inner.size()
        }
        fn window_size(&mut self) -> io::Result<WindowSize> {
            self.inner.window_size()
        }
        fn flush(&mut self) -> io::Result<()> {
            self.frames.fetch_add(1, Ordering::SeqCst);
            self.inner.flush()
        }
    }

    fn key(c: char) -> io::Result<TermEvent> {
        Ok(TermEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)))
    }

    /// Runs the loop on an idle two-agent app while `drive` sends terminal events; the loop
    /// ends when `drive` drops its sender (the terminal's end). Returns the frames drawn and the
    /// last screen.
    async fn run_with<F, Fut>(drive: F) -> (usize, String)
    where
        F: FnOnce(mpsc::Sender<io::Result<TermEvent>>, Arc<AtomicUsize>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let frames = Arc::new(AtomicUsize::new(0));
        let backend = Counting { inner: TestBackend::new(80, 24), frames: Arc::clone(&frames) };
        let mut terminal = Terminal::new(backend).unwrap_or_else(|e| panic!("{e}"));
        let mut state = fixtures::state(false, &[("api", "backend")], (80, 24));
        let (engine_tx, engine_rx) = mpsc::channel(ENGINE_CHANNEL);
        let (_control_tx, control_rx) = mpsc::channel(4);
        let (_local_tx, local_rx) = mpsc::unbounded_channel();
        let mut exec = Executor::new(engine_tx, Box::new(|_, _| Ok(None)));
        let (term_tx, term_rx) = mpsc::channel(1024);
        let inbox =
            Inbox { terminal: term_rx, engine: engine_rx, control: control_rx, local: local_rx };
        let mut host = Headless;
        let looped = event_loop(&mut terminal, &mut state, inbox, &mut exec, &mut host, vec![]);
        let (result, ()) = tokio::join!(looped, drive(term_tx, Arc::clone(&frames)));
        assert!(result.is_ok(), "{result:?}");
        let buf = terminal.backend().inner.buffer().clone();
        let text = (0..buf.area.height)
            .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n");
        (frames.load(Ordering::SeqCst), text)
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_app_draws_once_and_then_never_on_a_timer() {
        let (frames, _) = run_with(|tx, frames| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            assert_eq!(frames.load(Ordering::SeqCst), 1, "frames in an idle hour");
            drop(tx);
        })
        .await;
        assert_eq!(frames, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_keys_is_one_frame_drawn_within_the_frame_cap() {
        let (frames, screen) = run_with(|tx, frames| async move {
            // Let the first frame out.
            tokio::time::sleep(Duration::from_millis(1)).await;
            let at = Instant::now();
            for c in "coalesced".chars() {
                let _ = tx.send(key(c)).await;
            }
            while frames.load(Ordering::SeqCst) < 2 {
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
            assert!(at.elapsed() <= FRAME, "the burst waited {:?}", at.elapsed());
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(tx);
        })
        .await;
        assert_eq!(frames, 2, "nine keys at once, one frame");
        assert!(screen.contains("coalesced"), "{screen}");
    }

    #[tokio::test(start_paused = true)]
    async fn steady_keys_are_drawn_at_most_once_a_frame_and_the_last_one_shows() {
        let (frames, screen) = run_with(|tx, _| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            // A key every millisecond for 80 ms: ten frames' worth.
            for i in 0..80 {
                let _ = tx.send(key(char::from(b'a' + (i % 26) as u8))).await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let _ = tx.send(key('Z')).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(tx);
        })
        .await;
        // The first frame, then one per FRAME (8 ms) over the 81 ms of keys, and one for the
        // last key: never one per key.
        let cap = 1 + 81 / FRAME.as_millis() as usize + 1;
        assert!((cap - 2..=cap).contains(&frames), "{frames} frames, cap {cap}");
        assert!(screen.contains('Z'), "{screen}");
    }
}
