//! The real agentmux binary in a real PTY, read through a vt100 parser: wait for text on the
//! screen (with a timeout, never a fixed sleep), type, and wait for the exit.

#![allow(dead_code)] // each test binary uses a different part of the support code

use std::io::{Read, Write};
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
    writer: Box<dyn Write + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    /// Set when the reader saw the end of the PTY's output: everything the app wrote is parsed.
    eof: Arc<AtomicBool>,
    _master: Box<dyn MasterPty + Send>,
    /// A directory that must live as long as the app (its home, say).
    _keep: Option<tempfile::TempDir>,
}

impl Term {
    /// `agentmux ARGS` in a `rows` x `cols` PTY, in `cwd`, with `TERM` and then `env` set.
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
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap_or_else(|e| panic!("spawn: {e}"));
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap_or_else(|e| panic!("reader: {e}"));
        let writer = pair.master.take_writer().unwrap_or_else(|e| panic!("writer: {e}"));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(AtomicBool::new(false));
        {
            let (parser, raw, eof) = (Arc::clone(&parser), Arc::clone(&raw), Arc::clone(&eof));
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
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
            });
        }
        Term { parser, raw, writer, child, eof, _master: pair.master, _keep: None }
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
        self._master
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
        self.writer.write_all(bytes).unwrap_or_else(|e| panic!("write: {e}"));
        let _ = self.writer.flush();
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
                // terminal's restore): wait for the end of the output too.
                Ok(Some(status)) if self.eof.load(Ordering::SeqCst) => return status,
                Ok(Some(_)) if start.elapsed() < TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) if start.elapsed() < TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let state = self.child.process_id().and_then(proc_state);
                    let raw = self.raw.lock().map(|r| r.clone()).unwrap_or_default();
                    let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(600)..]);
                    let _ = self.child.kill();
                    panic!(
                        "agentmux did not exit, or its output did not end (state {state:?}, output \
                         ended {}); the screen:\n{}\nlast output: {tail:?}",
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

/// The state letter of a process (`R`, `S`, `T`, `Z`, ...), from /proc.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
