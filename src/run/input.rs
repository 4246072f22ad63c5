//! Terminal events, read on a thread of their own into [`super::Inbox::terminal`].
//!
//! Why not crossterm's `EventStream` on the runtime: once the terminal hangs up, a read of it
//! returns 0 (or fails with EIO), and crossterm's reader retries such a read at once, forever,
//! without returning. `EventStream` runs that reader inside `poll_next`, on the caller's thread:
//! the run loop's own thread, which then never took the SIGHUP that followed (the process spun
//! until it was killed, about one run in three of the hang-up test in tests/cli.rs).
//!
//! So the loop's thread never calls crossterm's reader. This thread waits for input with
//! poll(2) itself, where a hang-up shows as POLLHUP: it reports EIO (see `hung_up` in the loop)
//! and ends. crossterm is asked only to parse input already waiting, with a zero timeout. (A
//! hang-up in the microseconds between the check and crossterm's read still spins this thread,
//! but not the loop: it leaves on the SIGHUP or the next draw's EIO, and the process with it.)
//!
//! While the user's shell has the terminal, the thread is paused and reads nothing, so it does
//! not race the shell for keystrokes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crossterm::event::Event as TermEvent;
use tokio::sync::mpsc;

/// Terminal events waiting for the loop; a slow loop pushes back on the terminal reader.
pub const TERMINAL_CHANNEL: usize = 256;

/// The handle of the reading thread: pause it, resume it, wake it.
#[derive(Clone)]
pub struct TerminalInput {
    paused: Arc<(Mutex<bool>, Condvar)>,
    /// Writing a byte here wakes the thread from its poll.
    wake: Arc<OwnedFd>,
}

/// What waiting on the terminal came to.
#[derive(Debug, PartialEq, Eq)]
enum Ready {
    /// Input is waiting (or a wake-up asked the thread to look: a resize, a pause).
    Look,
    /// The terminal is gone.
    HungUp,
}

impl TerminalInput {
    /// Start reading standard input (crossterm reads fd 0 when it is a terminal).
    pub fn spawn() -> io::Result<(TerminalInput, mpsc::Receiver<io::Result<TermEvent>>)> {
        let (wake_rx, wake) = pipe()?;
        let (tx, rx) = mpsc::channel(TERMINAL_CHANNEL);
        let paused = Arc::new((Mutex::new(false), Condvar::new()));
        let gate = Arc::clone(&paused);
        std::thread::Builder::new()
            .name("terminal-input".into())
            .spawn(move || read_events(libc::STDIN_FILENO, &wake_rx, &gate, &tx))?;
        Ok((TerminalInput { paused, wake: Arc::new(wake) }, rx))
    }

    /// Stop reading (the user's shell has the terminal) until [`TerminalInput::resume`].
    pub fn pause(&self) {
        self.set_paused(true);
    }

    pub fn resume(&self) {
        self.set_paused(false);
    }

    /// Have the thread look for events now: after SIGWINCH, crossterm has a resize to report
    /// (it catches the signal itself) but the terminal has no input to wake the thread.
    pub fn nudge(&self) {
        // A full pipe already holds a wake-up.
        // SAFETY: writes one byte from a valid buffer to a descriptor we own.
        let _ = unsafe { libc::write(self.wake.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }

    fn set_paused(&self, on: bool) {
        let (lock, cvar) = &*self.paused;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = on;
        cvar.notify_all();
        self.nudge();
    }
}

fn is_paused(gate: &(Mutex<bool>, Condvar)) -> bool {
    *gate.0.lock().unwrap_or_else(|e| e.into_inner())
}

fn wait_while_paused(gate: &(Mutex<bool>, Condvar)) {
    let (lock, cvar) = gate;
    let mut paused = lock.lock().unwrap_or_else(|e| e.into_inner());
    while *paused {
        paused = cvar.wait(paused).unwrap_or_else(|e| e.into_inner());
    }
}

fn read_events(
    tty: RawFd,
    wake: &OwnedFd,
    gate: &(Mutex<bool>, Condvar),
    tx: &mpsc::Sender<io::Result<TermEvent>>,
) {
    let hang_up = || io::Error::from_raw_os_error(libc::EIO);
    // Sets crossterm's reader up now, with its SIGWINCH handler: a resize before the first key
    // would otherwise go unseen.
    if wait_input(tty, None, Some(0)).is_ok_and(|r| r == Ready::HungUp) {
        let _ = tx.blocking_send(Err(hang_up()));
        return;
    }
    // Setting the reader up reads what was typed already (keys typed as the first frame came
    // up): crossterm holds it, and the terminal has nothing left to wake the poll below, so it
    // is taken now. (Waiting first lost those keys until the next one.)
    if !forward_ready(tty, gate, tx) {
        return;
    }
    loop {
        wait_while_paused(gate);
        match wait_input(tty, Some(wake.as_raw_fd()), None) {
            Ok(Ready::Look) => {}
            Ok(Ready::HungUp) => {
                let _ = tx.blocking_send(Err(hang_up()));
                return;
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
        drain(wake);
        if !forward_ready(tty, gate, tx) {
            return;
        }
    }
}

/// Send the loop every event crossterm has ready, checking before each read that the terminal
/// is still there and that the shell has not been given it meanwhile. False when the thread is
/// done (the terminal or the loop is gone, or reading failed).
fn forward_ready(
    tty: RawFd,
    gate: &(Mutex<bool>, Condvar),
    tx: &mpsc::Sender<io::Result<TermEvent>>,
) -> bool {
    loop {
        if is_paused(gate) {
            return true;
        }
        match wait_input(tty, None, Some(0)) {
            Ok(Ready::HungUp) => {
                let _ = tx.blocking_send(Err(io::Error::from_raw_os_error(libc::EIO)));
                return false;
            }
            Ok(Ready::Look) | Err(_) => {}
        }
        let event = match crossterm::event::poll(Duration::ZERO) {
            Ok(true) => crossterm::event::read(),
            Ok(false) => return true,
            Err(e) => Err(e),
        };
        let failed = event.is_err();
        if tx.blocking_send(event).is_err() || failed {
            return false;
        }
    }
}

/// Wait until `tty` has input or hung up, or `wake` has a byte, or `timeout_ms` passed (then
/// `Look`: there is nothing to see, which the caller finds out from crossterm).
fn wait_input(tty: RawFd, wake: Option<RawFd>, timeout_ms: Option<i32>) -> io::Result<Ready> {
    let pollfd = |fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let mut fds = [pollfd(tty), pollfd(wake.unwrap_or(-1))];
    let count = if wake.is_some() { 2 } else { 1 };
    loop {
        // SAFETY: `fds` is a valid array of at least `count` pollfd structures.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), count, timeout_ms.unwrap_or(-1)) };
        if rc >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    // A hung-up terminal reports POLLIN too (a read returns 0): the hang-up decides.
    if fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Ok(Ready::HungUp);
    }
    Ok(Ready::Look)
}

/// Empty the wake-up pipe (non-blocking).
fn drain(wake: &OwnedFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a valid buffer of its length from a descriptor we own.
    while unsafe { libc::read(wake.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into a valid array of two.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a wait that blocks until what it waits for happens, failing instead of hanging.
    fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|e| panic!("still waiting: {e}"))
    }

    #[test]
    fn a_terminal_whose_other_end_closed_is_a_hang_up_not_input() {
        let (theirs, ours) = pipe().unwrap_or_else(|e| panic!("{e}"));
        let fd = theirs.as_raw_fd();
        assert_eq!(wait_input(fd, None, Some(0)).ok(), Some(Ready::Look));
        drop(ours);
        // A hung-up terminal reads as ready too: the wait must tell it apart.
        assert_eq!(within(move || wait_input(fd, None, None).ok()), Some(Ready::HungUp));
        drop(theirs);
    }

    #[test]
    fn a_nudge_ends_the_wait_for_input() {
        let (tty, tty_w) = pipe().unwrap_or_else(|e| panic!("{e}"));
        let (wake_r, wake_w) = pipe().unwrap_or_else(|e| panic!("{e}"));
        let input = TerminalInput {
            paused: Arc::new((Mutex::new(false), Condvar::new())),
            wake: Arc::new(wake_w),
        };
        input.nudge();
        let (fd, wake_fd) = (tty.as_raw_fd(), wake_r.as_raw_fd());
        assert_eq!(within(move || wait_input(fd, Some(wake_fd), None).ok()), Some(Ready::Look));
        drop((tty, tty_w, wake_r));
    }
}
