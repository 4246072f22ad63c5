//! The real agentmux binary in a real PTY, read through a vt100 parser: wait for text on the
//! screen (with a timeout, never a fixed sleep), type, hang the terminal up, and wait for the
//! exit.

#![allow(dead_code)] // each test binary uses a different part of the support code

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

pub const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Term {
    pub parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the app wrote, for checks on escape sequences.
    pub raw: Arc<Mutex<Vec<u8>>>,
    /// `None` once the terminal hung up, like the master and the reader.
    writer: Option<Box<dyn Write + Send>>,
    pub child: Box<dyn Child + Send + Sync>,
    /// Set when the reader saw the end of the PTY's output: everything the app wrote is parsed.
    eof: Arc<AtomicBool>,
    master: Option<Box<dyn MasterPty + Send>>,
    /// Writing here stops the reader, which then closes its handle of the master.
    stop_reader: Option<OwnedFd>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// A directory that must live as long as the app (its home, say).
    _keep: Option<tempfile::TempDir>,
}

impl Term {
    /// `agentmux ARGS` in a `rows` x `cols` PTY, in `cwd`, with `TERM` and then `env` set.
    /// `AGENTMUX_CLAUDE` and `AGENTMUX_SOCKET` are not inherited from the test's environment
    /// (`env` may set them).
    pub fn spawn(
        args: &[&str],
        cwd: &Path,
        env: &[(String, String)],
        (rows, cols): (u16, u16),
    ) -> Term {
        let pair = native_pty_system()
            .openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 })
            .unwrap_or_else(|e| panic!("openpty: {e}"));
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_agentmux"));
        cmd.args(args);
        cmd.cwd(cwd);
        cmd.env_remove("AGENTMUX_CLAUDE");
        cmd.env_remove("AGENTMUX_SOCKET");
        cmd.env("TERM", "xterm-256color");
        // The agents in the terminal's own process, as these tests were written for; the
        // tests of the background server (tests/attach.rs) set it to false.
        cmd.env("AGENTMUX_NO_SERVER", "true");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap_or_else(|e| panic!("spawn: {e}"));
        drop(pair.slave);
        // The reader's own handle of the master, which it closes when stopped (see `hang_up`).
        let master_fd = pair.master.as_raw_fd().unwrap_or_else(|| panic!("no master fd"));
        // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one that we own.
        let dup = unsafe { libc::fcntl(master_fd, libc::F_DUPFD_CLOEXEC, 0) };
        assert!(dup >= 0, "dup: {}", std::io::Error::last_os_error());
        // SAFETY: `dup` was just opened and nothing else owns it.
        let mut reader = unsafe { File::from_raw_fd(dup) };
        let (stop_rx, stop_tx) = pipe();
        let writer = pair.master.take_writer().unwrap_or_else(|e| panic!("writer: {e}"));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(AtomicBool::new(false));
        let thread = {
            let (parser, raw, eof) = (Arc::clone(&parser), Arc::clone(&raw), Arc::clone(&eof));
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    let pollfd = |fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                    let mut fds = [pollfd(reader.as_raw_fd()), pollfd(stop_rx.as_raw_fd())];
                    // SAFETY: two valid pollfd structures.
                    if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                        continue; // EINTR
                    }
                    if fds[1].revents != 0 {
                        return; // hung up: `reader` closes here
                    }
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => {
                            eof.store(true, Ordering::SeqCst);
                            break;
                        }
                        Ok(n) => {
                            if let Ok(mut p) = parser.lock() {
                                p.process(&buf[..n]);
                            }
                            if let Ok(mut r) = raw.lock() {
                                r.extend_from_slice(&buf[..n]);
                            }
                        }
                    }
                }
            })
        };
        Term {
            parser,
            raw,
            writer: Some(writer),
            child,
            eof,
            master: Some(pair.master),
            stop_reader: Some(stop_tx),
            reader: Some(thread),
            _keep: None,
        }
    }

    /// The terminal goes away, as when its window is closed: every handle of the master is
    /// closed (the reader's first), so the app's reads and writes fail from now on. The screen
    /// keeps what was read until then.
    pub fn hang_up(&mut self) {
        if let Some(stop) = self.stop_reader.take() {
            // SAFETY: writes one byte from a valid buffer to a descriptor we own.
            let _ = unsafe { libc::write(stop.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.writer = None;
        self.master = None;
    }

    /// Sends a signal to the app.
    pub fn signal(&self, sig: i32) {
        let pid = self.child.process_id().unwrap_or_else(|| panic!("no pid"));
        // SAFETY: kill with a pid we spawned and a valid signal number.
        let rc = unsafe { libc::kill(pid as i32, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Keeps `dir` until the terminal is dropped.
    pub fn keeping(mut self, dir: tempfile::TempDir) -> Term {
        self._keep = Some(dir);
        self
    }

    /// Resizes the terminal: the parser first, so the redraw the resize causes is read at the
    /// new size.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        if let Ok(mut p) = self.parser.lock() {
            p.set_size(rows, cols);
        }
        self.master
            .as_ref()
            .unwrap_or_else(|| panic!("the terminal hung up"))
            .resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 })
            .unwrap_or_else(|e| panic!("resize: {e}"));
    }

    pub fn screen(&self) -> String {
        self.parser.lock().map(|p| p.screen().contents()).unwrap_or_default()
    }

    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > TIMEOUT {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(text, |s| s.contains(text))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let writer = self.writer.as_mut().unwrap_or_else(|| panic!("the terminal hung up"));
        writer.write_all(bytes).unwrap_or_else(|e| panic!("write: {e}"));
        let _ = writer.flush();
    }

    /// Ctrl-Q, answering yes if asked; returns the exit status.
    pub fn quit(&mut self) -> portable_pty::ExitStatus {
        self.send(b"\x11");
        let start = Instant::now();
        loop {
            if self.screen().contains("Quit agentmux?") {
                self.send(b"y");
                break;
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) || start.elapsed() > TIMEOUT {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait_exit()
    }

    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                // The exit can be seen before the reader has parsed the app's last bytes (the
                // terminal's restore): wait for the end of the output too, if it is still read.
                Ok(Some(status)) if self.eof.load(Ordering::SeqCst) || self.reader.is_none() => {
                    return status
                }
                Ok(Some(_)) if start.elapsed() < TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) if start.elapsed() < TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let state = self.child.process_id().and_then(proc_state);
                    let threads = self.child.process_id().map(threads).unwrap_or_default();
                    let raw = self.raw.lock().map(|r| r.clone()).unwrap_or_default();
                    let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(600)..]);
                    let _ = self.child.kill();
                    panic!(
                        "agentmux did not exit, or its output did not end (state {state:?}, output \
                         ended {}); its threads:\n{threads}the screen:\n{}\nlast output: {tail:?}",
                        self.eof.load(Ordering::SeqCst),
                        self.screen()
                    );
                }
            }
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Each thread of a process: name, state and where it waits in the kernel, from /proc.
fn threads(pid: u32) -> String {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return String::new() };
    let read = |p: &Path, f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
    tasks
        .filter_map(Result::ok)
        .map(|t| {
            let p = t.path();
            let state = proc_state_of(&read(&p, "stat")).unwrap_or('?');
            format!("  {} {state} {}\n", read(&p, "comm").trim(), read(&p, "wchan"))
        })
        .collect()
}

/// A pipe: (read end, write end), both closed on exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into a valid array of two.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and nothing else owns them.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// The CPU time a process has used so far (all its threads, not its children), from /proc.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the name: state is field 3, utime and stime are fields 14 and 15.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let ticks = fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?.max(1);
    Some(Duration::from_millis(ticks * 1000 / per_second))
}

/// Waits (up to 30 s) until no thread of `pid` has a name starting with `prefix`: start-up work
/// on a thread of its own (the highlighter's warm-up) must be over before CPU use is measured.
pub fn wait_thread_gone(pid: u32, prefix: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let busy = || {
        std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten().any(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(prefix))
        })
    };
    while busy() {
        assert!(std::time::Instant::now() < deadline, "thread {prefix}… of {pid} still runs");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The state letter of a process (`R`, `S`, `T`, `Z`, ...), from /proc.
pub fn proc_state(pid: u32) -> Option<char> {
    proc_state_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn proc_state_of(stat: &str) -> Option<char> {
    // The command name is in parentheses and may hold spaces: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
