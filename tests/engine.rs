//! The engine through real PTYs: small shell scripts standing in for claude where the test needs
//! exact control over the bytes, and the simulated claude (`agentmux __sim-claude`) for whole
//! turns and follow-ups.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agentmux::agent::event::{ContentBlock, Event, Line};
use agentmux::agent::pty::process_gone;
use agentmux::agent::turn::{Phase, Turn};
use agentmux::agent::{
    spawn_turn, AgentId, AgentOptions, AgentSpec, Billing, ClaudeCmd, EngineMsg, ExitInfo,
    SessionArg, SpawnError, TurnHandle, TurnRequest, DEFAULT_MAX_LINE_BYTES,
};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn request(agent: u32, claude: ClaudeCmd, cwd: &Path, prompt: &str) -> TurnRequest {
    let mut spec = AgentSpec::new(format!("agent{agent}"), cwd);
    spec.options.billing = Some(Billing::Api);
    TurnRequest {
        agent: AgentId(agent),
        turn: 1,
        claude,
        spec,
        prompt: prompt.into(),
        origin: agentmux::agent::Origin::User,
        session: SessionArg::New(uuid::Uuid::new_v4().to_string()),
        extra_env: Vec::new(),
        extra_args: Vec::new(),
        max_line_bytes: DEFAULT_MAX_LINE_BYTES,
    }
}

/// Everything one turn reported, in order.
#[derive(Debug, Default)]
struct Seen {
    started: bool,
    lines: Vec<(String, Line)>,
    exit: Option<ExitInfo>,
}

impl Seen {
    fn texts(&self) -> Vec<&str> {
        self.lines.iter().map(|(s, _)| s.as_str()).collect()
    }

    fn turn(&self) -> Turn {
        let mut t = Turn::new();
        for (_, l) in &self.lines {
            t.on_line(l);
        }
        if let Some(exit) = &self.exit {
            t.on_exit(exit);
        }
        t
    }

    fn assistant_text(&self) -> String {
        let mut out = String::new();
        for (_, l) in &self.lines {
            if let Line::Event(Event::Assistant(m)) = l {
                for b in &m.content {
                    if let ContentBlock::Text { text } = b {
                        out.push_str(text);
                    }
                }
            }
        }
        out
    }
}

/// Applies one message, checking the contract's order (Started, Lines..., one Exited).
fn apply(seen: &mut HashMap<AgentId, Seen>, msg: EngineMsg) -> AgentId {
    match msg {
        EngineMsg::Started { agent, .. } => {
            let s = seen.entry(agent).or_default();
            assert!(!s.started && s.lines.is_empty(), "{agent:?}: Started twice or late");
            s.started = true;
            agent
        }
        EngineMsg::Lines { agent, lines, .. } => {
            let s = seen.entry(agent).or_default();
            assert!(s.started && s.exit.is_none(), "{agent:?}: lines out of order");
            assert!(!lines.is_empty(), "{agent:?}: an empty batch");
            s.lines.extend(lines);
            agent
        }
        EngineMsg::Exited { agent, exit, .. } => {
            let s = seen.entry(agent).or_default();
            assert!(s.started && s.exit.is_none(), "{agent:?}: Exited twice or before Started");
            s.exit = Some(exit);
            agent
        }
    }
}

/// Receives into `seen` until `done` holds.
async fn pump(
    rx: &mut mpsc::Receiver<EngineMsg>,
    seen: &mut HashMap<AgentId, Seen>,
    done: impl Fn(&HashMap<AgentId, Seen>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(seen) {
        let msg = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; seen so far: {seen:#?}"))
            .expect("channel closed");
        apply(seen, msg);
    }
}

fn exited(seen: &HashMap<AgentId, Seen>, agent: u32) -> bool {
    seen.get(&AgentId(agent)).is_some_and(|s| s.exit.is_some())
}

/// Receives until every agent in `agents` has exited.
async fn run_until_exited(
    rx: &mut mpsc::Receiver<EngineMsg>,
    agents: &[u32],
) -> HashMap<AgentId, Seen> {
    let mut seen = HashMap::new();
    pump(rx, &mut seen, |seen| agents.iter().all(|a| exited(seen, *a))).await;
    seen
}

async fn one_turn(req: TurnRequest) -> Seen {
    let agent = req.agent.0;
    let (tx, mut rx) = mpsc::channel(16);
    let _handle = spawn_turn(req, tx).expect("spawn");
    let mut seen = run_until_exited(&mut rx, &[agent]).await;
    seen.remove(&AgentId(agent)).unwrap_or_default()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const INIT: &str =
    r#"{"type":"system","subtype":"init","session_id":"sid-1","apiKeySource":"none","tools":[]}"#;
const RESULT: &str =
    r#"{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"sid-1"}"#;

// --- scripts -----------------------------------------------------------------------------------

#[tokio::test]
async fn output_lines_arrive_typed_and_the_turn_is_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "printf '%s\\n' '{INIT}'\necho 'a plain line on stderr' >&2\nprintf '\\033[1mbold\\033[0m\\n'\nprintf '%s\\n' '{RESULT}'\nprintf '\\033[?25h\\033]0;\\007'"
    );
    let claude = ClaudeCmd::real(script(dir.path(), "claude", &body));
    let seen = one_turn(request(1, claude, dir.path(), "hi")).await;
    assert_eq!(seen.texts(), [INIT, "a plain line on stderr", "bold", RESULT]);
    assert!(matches!(seen.lines[0].1, Line::Event(Event::System(_))));
    assert_eq!(seen.lines[1].1, Line::Text("a plain line on stderr".into()));
    assert!(matches!(seen.lines[3].1, Line::Event(Event::Result(_))));
    let exit = seen.exit.clone().expect("exit");
    assert_eq!(exit.code, Some(0));
    assert!(exit.success());
    assert!(matches!(seen.turn().state(), Phase::Done(_)));
}

#[tokio::test]
async fn the_child_gets_argv_cwd_and_env_without_a_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path().join("work dir");
    std::fs::create_dir(&cwd).expect("mkdir");
    let body = "for a in \"$@\"; do printf 'arg:%s\\n' \"$a\"; done\npwd\nprintf 'key:%s\\n' \"${ANTHROPIC_API_KEY-unset}\"\nprintf 'extra:%s\\n' \"$AGENTMUX_AGENT\"";
    let claude = ClaudeCmd::real(script(dir.path(), "claude", body));
    let prompt = "-p $(touch pwned) 'quoted' \"double\"";
    let mut req = request(1, claude, &cwd, prompt);
    req.spec.options.billing = Some(Billing::Subscription);
    req.extra_env.push(("AGENTMUX_AGENT".into(), "agent1".into()));
    let seen = one_turn(req).await;
    let texts = seen.texts();
    assert_eq!(
        texts.last_chunk::<3>().map(|c| c.to_vec()),
        Some(vec![cwd.to_str().expect("utf8"), "key:unset", "extra:agent1"])
    );
    assert!(texts.contains(&"arg:-p"));
    assert!(texts.contains(&"arg:--"));
    assert!(texts.contains(&format!("arg:{prompt}").as_str()));
    assert!(!cwd.join("pwned").exists());
}

#[tokio::test]
async fn exit_codes_and_signals_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let claude = ClaudeCmd::real(script(dir.path(), "claude", "echo bye\nexit 3"));
    let seen = one_turn(request(1, claude, dir.path(), "hi")).await;
    let exit = seen.exit.expect("exit");
    assert_eq!((exit.code, exit.signal), (Some(3), None));

    let claude = ClaudeCmd::real(script(dir.path(), "claude2", "echo dying\nkill -9 $$"));
    let seen = one_turn(request(2, claude, dir.path(), "hi")).await;
    let exit = seen.exit.expect("exit");
    assert_eq!((exit.code, exit.signal.as_deref()), (None, Some("SIGKILL")));
}

#[tokio::test]
async fn a_crash_with_no_result_fails_with_the_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "printf '%s\\n' '{INIT}'\nfor i in $(seq 1 30); do echo \"    at frame $i\" >&2; done\necho 'TypeError: boom' >&2\nexit 1"
    );
    let claude = ClaudeCmd::real(script(dir.path(), "claude", &body));
    let seen = one_turn(request(1, claude, dir.path(), "hi")).await;
    let exit = seen.exit.clone().expect("exit");
    assert_eq!(exit.tail.len(), 20);
    assert_eq!(exit.tail.last().map(String::as_str), Some("TypeError: boom"));
    let Phase::Failed(f) = seen.turn().state().clone() else { panic!("{:?}", seen.turn()) };
    assert_eq!(f.summary, "exited with code 1 without a result");
    assert_eq!(f.detail.last().map(String::as_str), Some("TypeError: boom"));
}

#[tokio::test]
async fn all_output_written_just_before_exit_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 2 MB written as fast as possible, then an immediate exit.
    let body = "i=0; while [ $i -lt 20000 ]; do echo \"line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done\nprintf 'last line without newline'";
    let claude = ClaudeCmd::real(script(dir.path(), "claude", body));
    let seen = one_turn(request(1, claude, dir.path(), "hi")).await;
    let texts = seen.texts();
    assert_eq!(texts.len(), 20001);
    assert!(texts[19999].starts_with("line 19999 "));
    assert_eq!(texts[20000], "last line without newline");
}

#[tokio::test]
async fn interrupt_stops_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The grandchild ignores SIGINT, SIGTERM and SIGHUP: only the final SIGKILL stops it.
    // It says its pid once its traps are set.
    let body = "sh -c 'trap \"\" INT TERM HUP; echo child $$; exec sleep 1000' &\nwait";
    let claude = ClaudeCmd::real(script(dir.path(), "claude", body));
    let (tx, mut rx) = mpsc::channel(16);
    let handle: TurnHandle = spawn_turn(request(1, claude, dir.path(), "hi"), tx).expect("spawn");
    let leader = handle.pid.expect("pid");
    let mut seen = HashMap::new();
    let texts_of = |seen: &HashMap<AgentId, Seen>| -> Vec<String> {
        seen.get(&AgentId(1))
            .map(|s| s.texts().iter().map(|t| t.to_string()).collect())
            .unwrap_or_default()
    };
    pump(&mut rx, &mut seen, |seen| texts_of(seen).iter().any(|t| t.starts_with("child "))).await;
    let child = texts_of(&seen)
        .iter()
        .find_map(|t| t.strip_prefix("child ").and_then(|p| p.parse::<u32>().ok()));
    let child = child.expect("child pid");
    assert!(!process_gone(child));
    // The turn leads its own session and process group (what makes killpg reach the grandchild).
    // SAFETY: plain queries about a live child process.
    let (pgid, sid) = unsafe { (libc::getpgid(leader as i32), libc::getsid(leader as i32)) };
    assert_eq!((pgid, sid), (leader as i32, leader as i32));
    assert!(!handle.has_exited());
    let asked = Instant::now();
    handle.interrupt();
    // interrupt() does not block its caller: blocking would take a whole 1.5 s grace period.
    assert!(asked.elapsed() < Duration::from_millis(1000));
    handle.interrupt(); // a second call is harmless
    pump(&mut rx, &mut seen, |seen| exited(seen, 1)).await;
    wait_for("the leader to go", || process_gone(leader));
    wait_for("the grandchild to go", || process_gone(child));
    // It took the SIGKILL step: SIGINT and SIGTERM were each given their grace period.
    assert!(asked.elapsed() >= Duration::from_millis(2900), "{:?}", asked.elapsed());
    assert!(handle.has_exited());
}

#[tokio::test]
async fn a_process_ignoring_sigint_gets_sigterm_after_one_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "trap '' INT\necho ready\nwhile :; do sleep 0.05; done";
    let claude = ClaudeCmd::real(script(dir.path(), "claude", body));
    let (tx, mut rx) = mpsc::channel(16);
    let handle = spawn_turn(request(1, claude, dir.path(), "hi"), tx).expect("spawn");
    let mut seen = HashMap::new();
    pump(&mut rx, &mut seen, |seen| seen.get(&AgentId(1)).is_some_and(|s| !s.lines.is_empty()))
        .await;
    let asked = Instant::now();
    handle.interrupt();
    pump(&mut rx, &mut seen, |seen| exited(seen, 1)).await;
    let took = asked.elapsed();
    let exit = seen[&AgentId(1)].exit.clone().expect("exit");
    assert_eq!(exit.signal.as_deref(), Some("SIGTERM"));
    // SIGTERM (not SIGKILL, asserted above) after one grace period.
    assert!(took >= Duration::from_millis(1400), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_agents_at_once_each_get_all_their_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "printf '%s\\n' '{INIT}'\ni=0; while [ $i -lt 300 ]; do echo \"{{\\\"type\\\":\\\"assistant\\\",\\\"message\\\":{{\\\"content\\\":[{{\\\"type\\\":\\\"text\\\",\\\"text\\\":\\\"$1 $i\\\"}}]}}}}\"; i=$((i+1)); done\nprintf '%s\\n' '{RESULT}'"
    );
    let path = script(dir.path(), "claude", &body);
    let (tx, mut rx) = mpsc::channel(8);
    let mut handles = Vec::new();
    for a in 0..16u32 {
        // The prompt comes last; put the agent's name first so the script sees it as $1.
        let mut req = request(
            a,
            ClaudeCmd { program: path.clone(), pre_args: vec![format!("a{a}")] },
            dir.path(),
            "go",
        );
        req.turn = u64::from(a) + 100;
        handles.push(spawn_turn(req, tx.clone()).expect("spawn"));
    }
    drop(tx);
    let agents: Vec<u32> = (0..16).collect();
    let seen = run_until_exited(&mut rx, &agents).await;
    for a in 0..16u32 {
        let s = &seen[&AgentId(a)];
        assert_eq!(s.lines.len(), 302, "agent {a}");
        let texts: Vec<String> = s
            .lines
            .iter()
            .filter_map(|(_, l)| match l {
                Line::Event(Event::Assistant(m)) => match m.content.first() {
                    Some(ContentBlock::Text { text }) => Some(text.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let expected: Vec<String> = (0..300).map(|i| format!("a{a} {i}")).collect();
        assert_eq!(texts, expected, "agent {a}");
        assert!(matches!(s.turn().state(), Phase::Done(_)), "agent {a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_agent_does_not_stall_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flood = script(
        dir.path(),
        "flood",
        r#"exec yes '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"flood"}}}'"#,
    );
    let quiet = script(dir.path(), "quiet", &format!("printf '%s\\n' '{INIT}' '{RESULT}'"));
    let (tx, mut rx) = mpsc::channel(4);
    let flooder =
        spawn_turn(request(1, ClaudeCmd::real(flood), dir.path(), "x"), tx.clone()).expect("spawn");
    let mut seen = HashMap::new();
    // The flood is under way...
    pump(&mut rx, &mut seen, |seen| seen.get(&AgentId(1)).is_some_and(|s| s.lines.len() >= 10_000))
        .await;
    // ... its reader gave way to the loop (a lower priority than this process's)...
    let pid = flooder.pid.expect("a pid");
    let ours = thread_nice(&format!("/proc/{}/stat", std::process::id())).expect("our nice");
    if ours < 19 {
        let reader = reader_thread(pid).expect("the flood's reader thread");
        let nice = thread_nice(&format!("/proc/self/task/{reader}/stat")).expect("its nice");
        assert!(nice > ours, "the flooding reader runs at nice {nice}, as we do ({ours})");
    }
    // ... and another agent's whole turn gets through while it goes on.
    let _quiet =
        spawn_turn(request(2, ClaudeCmd::real(quiet), dir.path(), "x"), tx).expect("spawn");
    let started = Instant::now();
    pump(&mut rx, &mut seen, |seen| exited(seen, 2)).await;
    let took = started.elapsed();
    assert!(seen[&AgentId(1)].exit.is_none(), "the flood ended first");
    assert_eq!(seen[&AgentId(2)].texts(), [INIT, RESULT]);
    assert!(took < Duration::from_secs(10), "the quiet agent waited {took:?}");
    let flood_lines = seen[&AgentId(1)].lines.len();
    assert!(seen[&AgentId(1)]
        .lines
        .iter()
        .all(|(_, l)| matches!(l, Line::Event(Event::Stream(_)))));
    flooder.interrupt();
    pump(&mut rx, &mut seen, |seen| exited(seen, 1)).await;
    assert!(flood_lines >= 10_000);
}

/// The nice value in a /proc stat file (field 19; the name in field 2 may hold spaces).
fn thread_nice(stat: &str) -> Option<i64> {
    let text = std::fs::read_to_string(stat).ok()?;
    let after_name = &text[text.rfind(')')? + 2..];
    after_name.split(' ').nth(16)?.parse().ok()
}

/// The id of the thread reading turn `pid`'s terminal (named `read-<pid>`).
fn reader_thread(pid: u32) -> Option<String> {
    let name = format!("read-{pid}");
    std::fs::read_dir("/proc/self/task").ok()?.flatten().find_map(|t| {
        let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
        (comm.trim() == name).then(|| t.file_name().to_string_lossy().into_owned())
    })
}

/// The nice value the script and a process it starts report (field 19 of their stat files).
async fn agent_nice(nice: Option<u8>) -> (i64, i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "cut -d' ' -f19 /proc/$$/stat\nsh -c 'cut -d\" \" -f19 /proc/$$/stat'";
    let mut req = request(1, ClaudeCmd::real(script(dir.path(), "claude", body)), dir.path(), "x");
    req.spec.options.nice = nice;
    let seen = one_turn(req).await;
    let texts = seen.texts();
    let parse = |t: &&str| t.trim().parse::<i64>().ok();
    let got: Vec<i64> = texts.iter().filter_map(parse).collect();
    assert_eq!(got.len(), 2, "two nice values in {texts:?}");
    (got[0], got[1])
}

#[tokio::test]
async fn agents_run_below_the_ui_and_so_do_their_children() {
    let ours = thread_nice(&format!("/proc/{}/stat", std::process::id())).expect("our nice");
    let below = |by: i64| (ours + by).min(19);
    let default = i64::from(AgentOptions::DEFAULT_NICE);
    assert_eq!(agent_nice(None).await, (below(default), below(default)));
    assert_eq!(agent_nice(Some(3)).await, (below(3), below(3)));
    assert_eq!(agent_nice(Some(0)).await, (ours, ours));
}

/// The nice value of the scheduling group the script runs in (`/proc/PID/autogroup`).
async fn agent_group_nice(nice: Option<u8>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "cut -d' ' -f3 /proc/$$/autogroup";
    let mut req = request(1, ClaudeCmd::real(script(dir.path(), "claude", body)), dir.path(), "x");
    req.spec.options.nice = nice;
    let seen = one_turn(req).await;
    seen.texts().iter().map(|t| t.trim().to_string()).collect::<Vec<_>>().join(" ")
}

/// Each agent leads a session of its own, which the kernel's autogroup makes a scheduling group
/// of its own: without lowering the group, 64 agents would each weigh as much as the UI.
#[tokio::test]
async fn each_agents_scheduling_group_is_lowered_as_its_processes_are() {
    if !std::path::Path::new("/proc/self/autogroup").exists() {
        return eprintln!("no autogroup here (kernel option off): nothing to lower");
    }
    let default = AgentOptions::DEFAULT_NICE.to_string();
    assert_eq!(agent_group_nice(None).await, default);
    assert_eq!(agent_group_nice(Some(3)).await, "3");
    assert_eq!(agent_group_nice(Some(0)).await, "0");
}

#[tokio::test]
async fn refusals_come_back_as_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, _rx) = mpsc::channel(4);
    let claude = ClaudeCmd::real(script(dir.path(), "claude", "true"));
    let missing = dir.path().join("nope");
    let err = spawn_turn(request(1, claude.clone(), &missing, "hi"), tx.clone()).unwrap_err();
    assert!(matches!(err, SpawnError::NoCwd(p) if p == missing));

    let err = spawn_turn(
        request(1, ClaudeCmd::real(dir.path().join("no-such-claude")), dir.path(), "hi"),
        tx.clone(),
    )
    .unwrap_err();
    assert!(matches!(err, SpawnError::Spawn { .. }), "{err}");

    let mut req = request(1, claude.clone(), dir.path(), "hi");
    req.spec.options.env = Some([("LD_PRELOAD".to_string(), "x.so".to_string())].into());
    assert!(matches!(spawn_turn(req, tx.clone()), Err(SpawnError::Env(_))));

    let req = request(1, claude, dir.path(), &"x".repeat(200_000));
    assert!(matches!(spawn_turn(req, tx), Err(SpawnError::Argv(_))));
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn dozens_of_turns_leak_no_descriptors_or_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let claude = ClaudeCmd::real(script(
        dir.path(),
        "claude",
        &format!("printf '%s\\n' '{INIT}' '{RESULT}'"),
    ));
    // One turn first, so lazily opened descriptors (the runtime's, /dev/ptmx's) are counted.
    one_turn(request(1, claude.clone(), dir.path(), "hi")).await;
    let before = open_fds();
    for i in 0..40 {
        let seen = one_turn(request(i, claude.clone(), dir.path(), "hi")).await;
        assert!(matches!(seen.turn().state(), Phase::Done(_)));
    }
    // Threads drop their descriptors just after sending Exited.
    wait_for("descriptors to be closed", || open_fds() <= before);
}

// --- the simulated claude ---------------------------------------------------------------------

fn sim() -> ClaudeCmd {
    ClaudeCmd::simulated(env!("CARGO_BIN_EXE_agentmux"))
}

fn sim_request(agent: u32, home: &Path, prompt: &str, session: SessionArg) -> TurnRequest {
    let mut req = request(agent, sim(), home, prompt);
    req.session = session;
    req.extra_env = vec![
        ("AGENTMUX_SIM_HOME".into(), home.join("sim").to_string_lossy().into_owned()),
        ("AGENTMUX_SIM_SPEED".into(), "0".into()),
        ("HOME".into(), home.to_string_lossy().into_owned()),
    ];
    req
}

#[tokio::test]
async fn sim_turn_and_a_follow_up_that_remembers_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = SessionArg::New(uuid::Uuid::new_v4().to_string());
    let seen = one_turn(sim_request(1, dir.path(), "remember the word banana", sent.clone())).await;
    let turn = seen.turn();
    assert!(matches!(turn.state(), Phase::Done(_)), "{:?}", turn.state());
    let next = turn.next_session(&sent, None).expect("a session to resume");
    if let SessionArg::New(id) = &sent {
        assert_eq!(&next, id, "the sim keeps the id it was given");
    }
    // Text streamed as deltas too (partial messages are on by default).
    assert!(seen.lines.iter().any(|(_, l)| matches!(l, Line::Event(Event::Stream(_)))));

    let resume = SessionArg::Resume(next.clone());
    let seen = one_turn(sim_request(
        1,
        dir.path(),
        "what word did I ask you to remember?",
        resume.clone(),
    ))
    .await;
    let turn = seen.turn();
    assert!(matches!(turn.state(), Phase::Done(_)), "{:?}", turn.state());
    assert!(seen.assistant_text().contains("banana"), "{}", seen.assistant_text());
    assert_eq!(turn.next_session(&resume, Some(&next)), Some(next));
}

#[tokio::test]
async fn sim_unknown_session_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let resume = SessionArg::Resume(uuid::Uuid::new_v4().to_string());
    let seen = one_turn(sim_request(1, dir.path(), "hello?", resume.clone())).await;
    let turn = seen.turn();
    let Phase::Failed(f) = turn.state() else { panic!("{:?}", turn.state()) };
    assert!(f.detail.join("\n").contains("No conversation found"), "{f:?}");
    assert_eq!(turn.next_session(&resume, Some("before")), Some("before".into()));
}

#[tokio::test]
async fn sim_crash_mid_stream_fails_with_the_stack_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = SessionArg::New(uuid::Uuid::new_v4().to_string());
    let seen = one_turn(sim_request(1, dir.path(), "/sim crash\nwrite a poem", sent)).await;
    let turn = seen.turn();
    let Phase::Failed(f) = turn.state() else { panic!("{:?}", turn.state()) };
    assert!(f.result.is_none());
    assert!(!f.detail.is_empty(), "{f:?}");
}

#[tokio::test]
async fn sim_hang_then_interrupt_is_interrupted_and_resumable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = SessionArg::New(uuid::Uuid::new_v4().to_string());
    let (tx, mut rx) = mpsc::channel(16);
    let handle = spawn_turn(sim_request(1, dir.path(), "/sim hang\nthink", sent.clone()), tx)
        .expect("spawn");
    let mut seen = HashMap::new();
    // Wait for the init line: the turn has reached its conversation.
    pump(&mut rx, &mut seen, |seen| seen.get(&AgentId(1)).is_some_and(|s| !s.lines.is_empty()))
        .await;
    let mut turn = Turn::new();
    handle.interrupt();
    turn.on_interrupt();
    pump(&mut rx, &mut seen, |seen| exited(seen, 1)).await;
    let all = &seen[&AgentId(1)];
    for (_, l) in &all.lines {
        turn.on_line(l);
    }
    turn.on_exit(all.exit.as_ref().expect("exit"));
    assert_eq!(turn.state(), &Phase::Interrupted);
    assert!(turn.next_session(&sent, None).is_some());
}

#[tokio::test]
async fn sim_huge_line_over_the_limit_is_one_error_and_the_turn_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = SessionArg::New(uuid::Uuid::new_v4().to_string());
    let mut req = sim_request(1, dir.path(), "/sim huge=300000\nread the big file", sent);
    req.max_line_bytes = 100_000;
    let seen = one_turn(req).await;
    let too_long: Vec<&Line> =
        seen.lines.iter().map(|(_, l)| l).filter(|l| matches!(l, Line::TooLong { .. })).collect();
    assert_eq!(too_long.len(), 1, "{too_long:?}");
    let Line::TooLong { len, limit } = too_long[0] else { unreachable!() };
    assert!(*len > 300_000 && *limit == 100_000);
    assert!(matches!(seen.turn().state(), Phase::Done(_)), "{:?}", seen.turn().state());
}
