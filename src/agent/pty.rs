//! The PTY plumbing of one turn: spawn a program in a fresh pseudo-terminal as the leader of its
//! own session and process group, wait for it, read its output until it is all read, and signal
//! its whole group.
//!
//! portable-pty opens the PTY; the spawn is our own (`spawn_in_pty`: `setsid`, the PTY as the
//! controlling terminal, so the child's pid is also its process group id, and the lowered
//! priority set before exec). Waiting is done here with
//! `waitpid`, to report the signal by its name (`SIGKILL`), and reading polls the master together
//! with a wake-up pipe so that a grandchild still holding the terminal cannot keep a finished
//! turn open.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, MasterPty, PtySize};

/// Rows and columns of an agent's terminal. The CLI writes its JSON lines whole whatever the
/// width (the PTY does not wrap; only a terminal emulator would), so this only matters for the
/// plain-text lines, which are kept short enough to read at 200 columns.
pub const PTY_SIZE: PtySize = PtySize { rows: 50, cols: 200, pixel_width: 0, pixel_height: 0 };

/// After the process exits, how long to keep reading output that is still arriving (from a
/// grandchild that holds the terminal) before the turn is reported finished.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(1500);
/// ... and how long a quiet terminal counts as drained.
const QUIET_AFTER_EXIT: Duration = Duration::from_millis(100);

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: Option<i32>,
    pub signal: Option<String>,
}

/// A program running in its own PTY.
pub struct PtyProcess {
    pub pid: u32,
    master: Box<dyn MasterPty + Send>,
    reader: Box<dyn Read + Send>,
}

/// What a spawn can fail on.
#[derive(Debug)]
pub enum PtySpawnError {
    Pty(String),
    Spawn(String),
}

/// Spawns `program args` in a fresh PTY with exactly `env` and `cwd`, `nice` steps below this
/// process's priority (see [`spawn_in_pty`]).
pub fn spawn(
    program: &Path,
    args: &[String],
    cwd: &Path,
    env: impl IntoIterator<Item = (String, String)>,
    nice: u8,
) -> Result<PtyProcess, PtySpawnError> {
    spawn_in_pty(program, args, cwd, env, nice, Stdin::Terminal).map(|(process, _)| process)
}

/// Lower this thread's CPU priority by `by` nice steps (up to the lowest, 19). Failing changes
/// nothing but speed, so it is not reported.
#[cfg(target_os = "linux")]
pub(crate) fn lower_thread_priority(by: i32) {
    // SAFETY: gettid has no preconditions; getpriority and setpriority only read or change the
    // scheduling priority of this thread, named by its id.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now == -1 && *libc::__errno_location() != 0 {
            return;
        }
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + by).min(19));
    }
}

/// Elsewhere a priority names the whole process, not a thread: leave it.
#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_thread_priority(_by: i32) {}

/// Waits for `pid` (our child) to end.
pub fn wait(pid: u32) -> io::Result<ExitStatus> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid out pointer.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if r == pid as libc::pid_t {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    if libc::WIFEXITED(status) {
        Ok(ExitStatus { code: Some(libc::WEXITSTATUS(status)), signal: None })
    } else if libc::WIFSIGNALED(status) {
        Ok(ExitStatus { code: None, signal: Some(signal_name(libc::WTERMSIG(status))) })
    } else {
        Ok(ExitStatus { code: None, signal: None })
    }
}

pub fn signal_name(sig: libc::c_int) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_owned()
}

/// Sends `sig` to the process group `pgid`. `false` when no process of the group is left.
pub fn signal_group(pgid: u32, sig: libc::c_int) -> bool {
    if pgid == 0 || pgid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: killpg has no memory effects; a positive pgid never means "every process".
    unsafe { libc::killpg(pgid as libc::pid_t, sig) == 0 }
}

/// Set once the process has been reaped; lets other threads wait for it with a deadline.
#[derive(Debug, Default)]
pub struct ExitFlag {
    done: Mutex<bool>,
    cv: Condvar,
}

impl ExitFlag {
    pub fn set(&self) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        *done = true;
        self.cv.notify_all();
    }

    pub fn is_set(&self) -> bool {
        *self.done.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until set or until `timeout`; says whether it is set.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let (done, _) =
            self.cv.wait_timeout_while(done, timeout, |d| !*d).unwrap_or_else(|p| p.into_inner());
        *done
    }
}

/// A pipe whose write end tells a polling reader that the process has exited.
pub struct Wake {
    read: OwnedFd,
    write: OwnedFd,
}

impl Wake {
    pub fn new() -> io::Result<Wake> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills two fds we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds were just created and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Wake { read, write })
    }

    /// The writing half, for the waiter thread.
    pub fn notifier(&self) -> io::Result<WakeNotifier> {
        Ok(WakeNotifier(self.write.try_clone()?))
    }
}

pub struct WakeNotifier(OwnedFd);

impl WakeNotifier {
    pub fn notify(&self) {
        let b = [1u8];
        // SAFETY: writing one byte from a valid buffer to a pipe we own. A full pipe (it never
        // is: one byte per process) or an error only loses a wake-up the reader also gets
        // from EOF.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), b.as_ptr().cast(), 1) };
    }
}

/// Reads a PTY master until its output is all read: EOF/EIO (every slave closed), or, once the
/// process has exited (woken through `wake`), until it stays quiet or the drain time is up.
pub struct PtyReader {
    master: Box<dyn MasterPty + Send>,
    reader: Box<dyn Read + Send>,
    wake: Wake,
    exited_at: Option<Instant>,
}

impl PtyProcess {
    pub fn into_reader(self, wake: Wake) -> PtyReader {
        PtyReader { master: self.master, reader: self.reader, wake, exited_at: None }
    }
}

impl PtyReader {
    /// The next chunk of output, `Ok(0)` at the end.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(master_fd) = self.master.as_raw_fd() else {
            return self.read_plain(buf);
        };
        loop {
            let timeout_ms: libc::c_int = match self.exited_at {
                None => -1,
                Some(t) => {
                    let left = DRAIN_AFTER_EXIT.saturating_sub(t.elapsed());
                    if left.is_zero() {
                        return Ok(0);
                    }
                    left.min(QUIET_AFTER_EXIT).as_millis() as libc::c_int
                }
            };
            let mut fds = [
                libc::pollfd { fd: master_fd, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: self.wake.read.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            ];
            let n_fds = if self.exited_at.is_some() { 1 } else { 2 };
            // SAFETY: fds is a valid array of n_fds pollfd.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), n_fds as libc::nfds_t, timeout_ms) };
            if r < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if r == 0 {
                // Exited and quiet: everything written before the exit has been read.
                return Ok(0);
            }
            if fds[0].revents != 0 {
                return self.read_plain(buf);
            }
            if n_fds == 2 && fds[1].revents != 0 {
                self.exited_at = Some(Instant::now());
            }
        }
    }

    /// More output if some is there already, without waiting: `Ok(None)` when there is none
    /// now, `Ok(Some(0))` at the end. A reader uses it to take a flood in large chunks (a
    /// PTY hands out a few KiB per read) and pass each on at once.
    pub fn read_ready(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(master_fd) = self.master.as_raw_fd() else {
            return Ok(None);
        };
        let mut fds = [libc::pollfd { fd: master_fd, events: libc::POLLIN, revents: 0 }];
        // SAFETY: fds is a valid array of one pollfd.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
        if r <= 0 || fds[0].revents == 0 {
            return Ok(None);
        }
        self.read_plain(buf).map(Some)
    }

    fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.reader.read(buf) {
                // Linux reports a PTY whose slave side is all closed as EIO: that is EOF.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// Whether a process is gone (dead, or a zombie waiting for a parent that may never reap it).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        }
        Err(_) => true,
    }
}

/// Shared between a turn's handle, its waiter and its interrupter.
#[derive(Debug, Default)]
pub struct ProcessState {
    pub exited: ExitFlag,
    interrupting: std::sync::atomic::AtomicBool,
}

impl ProcessState {
    pub fn new() -> Arc<ProcessState> {
        Arc::new(ProcessState::default())
    }

    /// Marks the start of an interrupt; `false` if one is already under way.
    pub fn begin_interrupt(&self) -> bool {
        !self.interrupting.swap(true, std::sync::atomic::Ordering::SeqCst)
    }
}

/// A program whose stdin is a pipe and whose stdout and stderr are a fresh PTY: a live
/// `claude -p --input-format stream-json` reads one JSON message a line from stdin, which must
/// not be a terminal (the CLI refuses one, and a cooked line over 4,095 bytes would kill it),
/// while its output keeps the terminal the CLI wants to see.
pub struct PipedProcess {
    pub process: PtyProcess,
    pub stdin: std::process::ChildStdin,
}

/// Spawns `program args` like [`spawn`], but with stdin a pipe.
pub fn spawn_piped(
    program: &Path,
    args: &[String],
    cwd: &Path,
    env: impl IntoIterator<Item = (String, String)>,
    nice: u8,
) -> Result<PipedProcess, PtySpawnError> {
    let (process, stdin) = spawn_in_pty(program, args, cwd, env, nice, Stdin::Pipe)?;
    let Some(stdin) = stdin else {
        return Err(PtySpawnError::Spawn("the process has no stdin pipe".into()));
    };
    Ok(PipedProcess { process, stdin })
}

/// What a spawned program reads from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stdin {
    Terminal,
    Pipe,
}

/// Spawns `program args` as the leader of a new session and process group, with a fresh PTY as
/// its controlling terminal on stdout and stderr (and stdin, or a pipe there), exactly `env`
/// and `cwd`, and `nice` steps below this process's priority.
///
/// The priority is lowered between fork and exec, so the program, every thread it starts and
/// every process it runs are lowered from their first instruction. Where the kernel groups
/// processes by session for scheduling (autogroup, on in most distributions), the `setsid`
/// makes the agent a group of its own, and groups share the CPU equally whatever their
/// members' nice values: 64 agents would each weigh as much as the UI. So the group's own nice
/// value (`/proc/self/autogroup`, which a user may raise for their own processes) is lowered
/// too. Either failing changes nothing but speed, so neither is reported.
fn spawn_in_pty(
    program: &Path,
    args: &[String],
    cwd: &Path,
    env: impl IntoIterator<Item = (String, String)>,
    nice: u8,
    stdin: Stdin,
) -> Result<(PtyProcess, Option<std::process::ChildStdin>), PtySpawnError> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let pair =
        native_pty_system().openpty(PTY_SIZE).map_err(|e| PtySpawnError::Pty(e.to_string()))?;
    // portable-pty's own spawn puts the slave on all three descriptors; open it by name instead.
    let Some(tty) = pair.master.tty_name() else {
        return Err(PtySpawnError::Pty("the terminal has no name".into()));
    };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(&tty)
        .map_err(|e| PtySpawnError::Pty(format!("{}: {e}", tty.display())))?;
    drop(pair.slave);
    let dup = |f: &std::fs::File| f.try_clone().map_err(|e| PtySpawnError::Pty(e.to_string()));
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).env_clear().envs(env);
    cmd.stdin(match stdin {
        Stdin::Pipe => Stdio::piped(),
        Stdin::Terminal => Stdio::from(dup(&slave)?),
    });
    cmd.stdout(Stdio::from(dup(&slave)?)).stderr(Stdio::from(slave));
    // Made before the fork: between fork and exec nothing may allocate.
    let group_nice = nice.to_string();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for sig in [
                libc::SIGCHLD,
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGQUIT,
                libc::SIGTERM,
                libc::SIGALRM,
                libc::SIGPIPE,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            let empty: libc::sigset_t = std::mem::zeroed();
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            if nice > 0 {
                libc::nice(libc::c_int::from(nice));
                lower_own_group(group_nice.as_bytes());
            }
            // stdout is the terminal in either case.
            #[allow(clippy::useless_conversion)]
            if libc::ioctl(1, libc::TIOCSCTTY as _, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| PtySpawnError::Spawn(e.to_string()))?;
    // `cmd` holds the slave descriptors until dropped: EOF on the master needs them closed.
    drop(cmd);
    let stdin = child.stdin.take();
    let pid = child.id();
    // We reap the child ourselves (`wait`); dropping std's Child neither waits nor kills.
    drop(child);
    let reader = match pair.master.try_clone_reader() {
        Ok(reader) => reader,
        Err(e) => {
            signal_group(pid, libc::SIGKILL);
            let _ = wait(pid);
            return Err(PtySpawnError::Pty(e.to_string()));
        }
    };
    Ok((PtyProcess { pid, master: pair.master, reader }, stdin))
}

/// Writes `nice` (its digits) as this process's session group's nice value: in the child
/// between fork and exec, so only raw, async-signal-safe calls.
#[cfg(target_os = "linux")]
unsafe fn lower_own_group(nice: &[u8]) {
    // SAFETY: open, write and close are async-signal-safe; the path is a NUL-ended literal and
    // `nice` a live slice.
    unsafe {
        let fd = libc::open(c"/proc/self/autogroup".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            libc::write(fd, nice.as_ptr().cast(), nice.len());
            libc::close(fd);
        }
    }
}

#[cfg(not(target_os = "linux"))]
unsafe fn lower_own_group(_nice: &[u8]) {}
