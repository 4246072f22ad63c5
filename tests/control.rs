//! The control socket end to end: the real server and the real client subcommands against a
//! fake app (a task answering `ControlCall`s from a small in-memory table); then the whole loop
//! with the simulated claude, and with the real CLI against the loopback Messages API stand-in.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentmux::control::client::{self, ControlCommand, Stdio};
use agentmux::control::proto::{
    AgentInfo, AgentState, Answer, ErrorCode, Request, SearchHit, SentTo, TurnOutcome, TurnReport,
};
use agentmux::control::server::{self, ControlCall, ControlError, ControlServer, Reply};
use agentmux::control::ServerHandle;
use tokio::sync::{mpsc, oneshot};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct FakeAgent {
    supervisor: bool,
    busy: bool,
    queued: usize,
    turns: u64,
    waiters: Vec<oneshot::Sender<Reply>>,
    tails: Vec<mpsc::Sender<String>>,
    last: Option<TurnReport>,
}

/// What a test makes the fake app do, besides answering calls.
enum Script {
    /// An event line from the agent: goes to its `tail` subscribers.
    Emit(&'static str, String),
    /// The agent's turn ends: `wait`ers are answered.
    EndTurn(&'static str, TurnOutcome, &'static str),
    /// The agent is closed: its subscriptions end.
    Close(&'static str),
    Observe(oneshot::Sender<Observed>),
}

#[derive(Debug, Default)]
struct Observed {
    /// Live tail subscriptions per agent (the app drops those whose client left).
    tails: BTreeMap<String, usize>,
    /// Waiters still wanting an answer.
    waiters: usize,
    calls: Vec<(Option<String>, Request)>,
}

struct FakeApp {
    agents: BTreeMap<String, FakeAgent>,
    calls: Vec<(Option<String>, Request)>,
}

impl FakeApp {
    fn new() -> Self {
        let mut agents = BTreeMap::new();
        agents.insert("lead".to_string(), FakeAgent { supervisor: true, ..Default::default() });
        agents.insert("api".to_string(), FakeAgent { turns: 2, ..Default::default() });
        agents.insert("web".to_string(), FakeAgent { busy: true, turns: 1, ..Default::default() });
        FakeApp { agents, calls: Vec::new() }
    }

    fn info(&self) -> Vec<AgentInfo> {
        self.agents
            .iter()
            .map(|(name, a)| AgentInfo {
                name: name.clone(),
                role: None,
                state: if a.busy { AgentState::Running } else { AgentState::Idle },
                supervisor: a.supervisor,
                cwd: format!("/w/{name}"),
                session_id: Some(format!("sess-{name}")),
                turns: a.turns,
                cost_usd: 0.5,
                queued: a.queued,
                last_activity_ms: Some(1_000),
            })
            .collect()
    }

    fn call(&mut self, call: ControlCall) {
        self.calls.push((call.from.clone(), call.request.clone()));
        let answer = match &call.request {
            Request::Ls => Answer::Agents { agents: self.info(), limits: vec![] },
            Request::Set { agent, .. } => match self.agents.get(agent) {
                None => Answer::no_such_agent(agent),
                Some(_) => Answer::Set { agent: agent.clone() },
            },
            Request::Resume { agent } => match self.agents.get(agent) {
                None => Answer::no_such_agent(agent),
                Some(_) => Answer::Resumed { agent: agent.clone() },
            },
            Request::Send { agent, .. } => match self.agents.get_mut(agent) {
                None => Answer::no_such_agent(agent),
                Some(a) if a.busy => {
                    a.queued += 1;
                    Answer::Sent { agent: agent.clone(), queued: true }
                }
                Some(a) => {
                    a.busy = true;
                    Answer::Sent { agent: agent.clone(), queued: false }
                }
            },
            Request::New { name, .. } => {
                if self.agents.contains_key(name) {
                    Answer::error(ErrorCode::NameTaken, format!("{name} exists"))
                } else {
                    self.agents.insert(name.clone(), FakeAgent::default());
                    Answer::Created { agent: name.clone() }
                }
            }
            Request::Wait { agent } => match self.agents.get_mut(agent) {
                None => Answer::no_such_agent(agent),
                Some(a) if a.busy => {
                    a.waiters.push(call.reply);
                    return;
                }
                Some(a) => Answer::TurnEnded(a.last.clone().unwrap_or(TurnReport {
                    agent: agent.clone(),
                    outcome: TurnOutcome::None,
                    detail: None,
                    result: None,
                    cost_usd: None,
                })),
            },
            Request::Tail { agent } => match self.agents.get_mut(agent) {
                None => Answer::no_such_agent(agent),
                Some(a) => {
                    let (tx, rx) = mpsc::channel(server::TAIL_BUFFER);
                    a.tails.push(tx);
                    let _ = call.reply.send(Reply::Tail { agent: agent.clone(), lines: rx });
                    return;
                }
            },
            Request::Kill { agent } => match self.agents.get_mut(agent) {
                None => Answer::no_such_agent(agent),
                Some(a) => {
                    let was_running = a.busy;
                    a.busy = false;
                    Answer::Killed { agent: agent.clone(), was_running }
                }
            },
            Request::Approve { .. } => Answer::error(ErrorCode::Refused, "no approvals here"),
            Request::Search { text } if text.is_empty() => {
                Answer::error(ErrorCode::BadRequest, "nothing to search for")
            }
            Request::Search { text } => Answer::Hits {
                hits: self
                    .agents
                    .keys()
                    .filter(|name| name.contains(text.as_str()))
                    .map(|name| SearchHit {
                        agent: name.clone(),
                        turn: 1,
                        line: format!("{name}!"),
                    })
                    .collect(),
                truncated: false,
            },
            Request::Import { .. } | Request::Fork { .. } => {
                Answer::error(ErrorCode::Refused, "no conversations here")
            }
            Request::Broadcast { .. } => Answer::Broadcast {
                sent: self
                    .agents
                    .iter_mut()
                    .filter(|(_, a)| !a.supervisor)
                    .map(|(name, a)| {
                        let queued = a.busy;
                        a.busy = true;
                        SentTo { agent: name.clone(), queued }
                    })
                    .collect(),
            },
        };
        call.answer(answer);
    }

    fn script(&mut self, s: Script) {
        match s {
            Script::Emit(agent, line) => {
                if let Some(a) = self.agents.get_mut(agent) {
                    // A subscriber that is gone is forgotten (what the real app does too).
                    a.tails.retain(|t| t.try_send(line.clone()).is_ok());
                }
            }
            Script::EndTurn(agent, outcome, text) => {
                if let Some(a) = self.agents.get_mut(agent) {
                    a.busy = false;
                    a.turns += 1;
                    let report = TurnReport {
                        agent: agent.to_string(),
                        outcome,
                        detail: (outcome == TurnOutcome::Error).then(|| "error_max_turns".into()),
                        result: Some(text.to_string()),
                        cost_usd: Some(0.01),
                    };
                    a.last = Some(report.clone());
                    for w in a.waiters.drain(..) {
                        let _ = w.send(Reply::Answer(Answer::TurnEnded(report.clone())));
                    }
                }
            }
            Script::Close(agent) => {
                self.agents.remove(agent);
            }
            Script::Observe(tx) => {
                let tails = self
                    .agents
                    .iter()
                    .map(|(n, a)| (n.clone(), a.tails.iter().filter(|t| !t.is_closed()).count()))
                    .collect();
                let waiters = self
                    .agents
                    .values()
                    .flat_map(|a| &a.waiters)
                    .filter(|w| !w.is_closed())
                    .count();
                let _ = tx.send(Observed { tails, waiters, calls: self.calls.clone() });
            }
        }
    }
}

struct Harness {
    dir: tempfile::TempDir,
    path: PathBuf,
    script: mpsc::Sender<Script>,
    _server: ServerHandle,
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sock");
    let server = ControlServer::bind(&path).unwrap();
    let (calls_tx, mut calls) = mpsc::channel::<ControlCall>(16);
    let (script_tx, mut script) = mpsc::channel::<Script>(16);
    tokio::spawn(async move {
        let mut app = FakeApp::new();
        loop {
            tokio::select! {
                Some(c) = calls.recv() => app.call(c),
                Some(s) = script.recv() => app.script(s),
                else => break,
            }
        }
    });
    let handle = server.serve(calls_tx).unwrap();
    Harness { dir, path, script: script_tx, _server: handle }
}

#[derive(Debug)]
struct Run {
    code: u8,
    out: String,
    err: String,
}

impl Harness {
    async fn cli(&self, from: Option<&str>, cmd: ControlCommand) -> Run {
        self.cli_stdin(from, cmd, "").await
    }

    async fn cli_stdin(&self, from: Option<&str>, cmd: ControlCommand, stdin: &str) -> Run {
        let cli = run_cli(&self.path, from, cmd, stdin);
        tokio::time::timeout(TIMEOUT, cli).await.expect("the client finished in time").unwrap()
    }

    async fn do_(&self, s: Script) {
        self.script.send(s).await.unwrap();
    }

    async fn observe(&self) -> Observed {
        let (tx, rx) = oneshot::channel();
        self.do_(Script::Observe(tx)).await;
        rx.await.unwrap()
    }

    /// Observe until `ok` holds, or fail after the timeout.
    async fn until(&self, what: &str, ok: impl Fn(&Observed) -> bool) -> Observed {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let o = self.observe().await;
            if ok(&o) {
                return o;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {o:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn run_cli(
    path: &Path,
    from: Option<&str>,
    cmd: ControlCommand,
    stdin: &str,
) -> tokio::task::JoinHandle<Run> {
    let path = path.to_path_buf();
    let from = from.map(String::from);
    let stdin = stdin.to_string();
    let blocking = tokio::task::spawn_blocking(move || {
        let (mut i, mut o, mut e) = (stdin.as_bytes(), Vec::new(), Vec::new());
        let mut io = Stdio { stdin: &mut i, stdout: &mut o, stderr: &mut e };
        let code = client::run(&path, from, cmd, &mut io, 61_000);
        Run {
            code,
            out: String::from_utf8_lossy(&o).into_owned(),
            err: String::from_utf8_lossy(&e).into_owned(),
        }
    });
    tokio::spawn(async move { blocking.await.unwrap() })
}

fn name(s: &str) -> String {
    s.to_string()
}

/// A raw connection, for what the client never sends.
fn raw(path: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn read_json(r: &mut BufReader<UnixStream>) -> serde_json::Value {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_prints_a_table_and_json() {
    let h = start().await;
    let r = h.cli(None, ControlCommand::Ls { json: false }).await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.out,
        "NAME  ROLE        STATE    TURNS  QUEUED  COST     LAST    SESSION\n\
         api   -           idle     2      0       $0.5000  1m ago  sess-api\n\
         lead  supervisor  idle     0      0       $0.5000  1m ago  sess-lead\n\
         web   -           running  1      0       $0.5000  1m ago  sess-web\n"
    );
    let r = h.cli(None, ControlCommand::Ls { json: true }).await;
    assert_eq!(r.code, 0);
    let all: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    let agents: Vec<AgentInfo> = serde_json::from_value(all["agents"].clone()).unwrap();
    assert_eq!(agents.len(), 3);
    assert_eq!(agents[2].state, AgentState::Running);
    // No CLI reported a usage window yet.
    assert_eq!(all["limits"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_prints_agent_turn_line_and_exits_1_when_nothing_matched() {
    let h = start().await;
    let search = |text: &str| ControlCommand::Search { text: text.into() };
    let r = h.cli(None, search("a")).await;
    assert_eq!((r.code, r.out.as_str()), (0, "api:1: api!\nlead:1: lead!\n"), "{}", r.err);
    let r = h.cli(None, search("zzz")).await;
    assert_eq!((r.code, r.out.as_str()), (1, ""));
    let r = h.cli(None, search("")).await;
    assert_eq!(r.code, 1);
    assert!(r.err.contains("nothing to search for"), "{}", r.err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_starts_or_queues_and_says_which_and_who_asked() {
    let h = start().await;
    let r =
        h.cli(Some("lead"), ControlCommand::Send { name: name("api"), text: name("do it") }).await;
    assert_eq!((r.code, r.out.as_str()), (0, "sent to api\n"));
    let r = h.cli(None, ControlCommand::Send { name: name("web"), text: name("-") }).await;
    assert_eq!(r.code, 2, "empty stdin is a usage error");
    let r = h
        .cli_stdin(
            None,
            ControlCommand::Send { name: name("web"), text: name("-") },
            "from\nstdin\n",
        )
        .await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.starts_with("queued for web (busy"), "{}", r.out);
    let o = h.observe().await;
    assert_eq!(
        o.calls,
        vec![
            (Some(name("lead")), Request::Send { agent: name("api"), text: name("do it") }),
            (None, Request::Send { agent: name("web"), text: name("from\nstdin\n") }),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_agent_is_an_error_with_exit_1() {
    let h = start().await;
    for cmd in [
        ControlCommand::Send { name: name("nobody"), text: name("x") },
        ControlCommand::Wait { name: name("nobody") },
        ControlCommand::Tail { name: name("nobody") },
        ControlCommand::Kill { name: name("nobody") },
    ] {
        let r = h.cli(None, cmd).await;
        assert_eq!(r.code, 1);
        assert_eq!(r.err, "agentmux: no agent named \"nobody\" (no_such_agent)\n");
        assert_eq!(r.out, "");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_creates_once() {
    let h = start().await;
    let new = || ControlCommand::New {
        name: name("docs"),
        cwd: Some(PathBuf::from("/srv/docs")),
        model: Some(name("sonnet")),
        role: Some(name("writer")),
        prompt: None,
        worktree: false,
    };
    let r = h.cli(None, new()).await;
    assert_eq!((r.code, r.out.as_str()), (0, "created docs\n"));
    let r = h.cli(None, new()).await;
    assert_eq!(r.code, 1);
    assert!(r.err.contains("(name_taken)"), "{}", r.err);
    let o = h.observe().await;
    assert_eq!(
        o.calls[0].1,
        Request::New {
            name: name("docs"),
            cwd: Some(name("/srv/docs")),
            model: Some(name("sonnet")),
            role: Some(name("writer")),
            prompt: None,
            worktree: false,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_answers_when_the_turn_ends_with_its_outcome() {
    let h = start().await;
    let waiting = run_cli(&h.path, None, ControlCommand::Wait { name: name("web") }, "");
    h.until("the waiter", |o| o.waiters == 1).await;
    assert!(!waiting.is_finished());
    h.do_(Script::EndTurn("web", TurnOutcome::Success, "all green")).await;
    let r = tokio::time::timeout(TIMEOUT, waiting).await.unwrap().unwrap();
    assert_eq!((r.code, r.out.as_str(), r.err.as_str()), (0, "all green\n", ""));

    // An idle agent answers at once with its last turn.
    let r = h.cli(None, ControlCommand::Wait { name: name("web") }).await;
    assert_eq!((r.code, r.out.as_str()), (0, "all green\n"));

    h.cli(None, ControlCommand::Send { name: name("web"), text: name("again") }).await;
    let waiting = run_cli(&h.path, None, ControlCommand::Wait { name: name("web") }, "");
    h.until("the waiter", |o| o.waiters == 1).await;
    h.do_(Script::EndTurn("web", TurnOutcome::Error, "gave up")).await;
    let r = tokio::time::timeout(TIMEOUT, waiting).await.unwrap().unwrap();
    assert_eq!(r.code, 1);
    assert_eq!(r.out, "gave up\n");
    assert_eq!(r.err, "agentmux: web's turn ended: failed (error_max_turns)\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_a_wait_drops_it() {
    let h = start().await;
    let (mut s, r) = raw(&h.path);
    writeln!(s, r#"{{"v":1,"cmd":"wait","agent":"web"}}"#).unwrap();
    h.until("the waiter", |o| o.waiters == 1).await;
    drop((s, r));
    h.until("the waiter to be dropped", |o| o.waiters == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_events_until_the_agent_closes() {
    let h = start().await;
    let tailing = run_cli(&h.path, None, ControlCommand::Tail { name: name("web") }, "");
    h.until("the subscription", |o| o.tails.get("web") == Some(&1)).await;
    h.do_(Script::Emit("web", r#"{"type":"system","subtype":"init"}"#.into())).await;
    h.do_(Script::Emit("web", r#"{"type":"result","result":"ok"}"#.into())).await;
    h.do_(Script::Close("web")).await;
    let r = tokio::time::timeout(TIMEOUT, tailing).await.unwrap().unwrap();
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        r.out,
        "{\"type\":\"system\",\"subtype\":\"init\"}\n{\"type\":\"result\",\"result\":\"ok\"}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_tail_drops_the_subscription() {
    let h = start().await;
    let (mut s, mut r) = raw(&h.path);
    writeln!(s, r#"{{"v":1,"cmd":"tail","agent":"api"}}"#).unwrap();
    assert_eq!(read_json(&mut r)["type"], "tailing");
    h.do_(Script::Emit("api", r#"{"n":1}"#.into())).await;
    assert_eq!(read_json(&mut r)["n"], 1);
    // Leave while the agent is quiet: the server notices without any event to write.
    s.shutdown(std::net::Shutdown::Both).unwrap();
    drop((s, r));
    h.until("the subscription to close", |o| o.tails.get("api") == Some(&0)).await;
    // Events after that go nowhere and do not disturb anything.
    h.do_(Script::Emit("api", r#"{"n":2}"#.into())).await;
    let r = h.cli(None, ControlCommand::Ls { json: true }).await;
    assert_eq!(r.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_broadcast() {
    let h = start().await;
    let r = h.cli(None, ControlCommand::Kill { name: name("web") }).await;
    assert_eq!((r.code, r.out.as_str()), (0, "interrupted web\n"));
    let r = h.cli(None, ControlCommand::Kill { name: name("web") }).await;
    assert_eq!((r.code, r.out.as_str()), (0, "web had no turn running\n"));
    h.cli(None, ControlCommand::Send { name: name("web"), text: name("busy now") }).await;
    let r = h.cli(None, ControlCommand::Broadcast { text: name("stop and commit") }).await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(r.out, "sent to api\nqueued for web (busy)\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_error_answers_and_the_connection_lives_on() {
    let h = start().await;
    let (mut s, mut r) = raw(&h.path);
    let cases = [
        ("this is not json", "bad_request"),
        (r#"{"cmd":"ls"}"#, "bad_request"),
        (r#"{"v":7,"cmd":"ls"}"#, "version"),
        (r#"{"v":1,"cmd":"teleport"}"#, "bad_request"),
        (r#"{"v":1,"cmd":"send","agnet":"api","text":"x"}"#, "bad_request"),
        ("\u{0}\u{1}\u{ff}", "bad_request"),
    ];
    for (line, code) in cases {
        writeln!(s, "{line}").unwrap();
        let a = read_json(&mut r);
        assert_eq!(a["v"], 1, "{line}");
        assert_eq!(a["type"], "error", "{line}");
        assert_eq!(a["code"], code, "{line}: {a}");
        assert!(a["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Blank lines are skipped; then a good request on the same connection works.
    s.write_all(b"\n\r\n{\"v\":1,\"cmd\":\"ls\"}\n").unwrap();
    let a = read_json(&mut r);
    assert_eq!(a["type"], "agents");
    assert_eq!(a["agents"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_is_refused_and_the_server_stays_up() {
    let h = start().await;
    let (mut s, mut r) = raw(&h.path);
    let big = vec![b'x'; agentmux::control::proto::MAX_REQUEST_BYTES + 10];
    // The server may close before all of it is written.
    let _ = s.write_all(&big);
    let a = read_json(&mut r);
    assert_eq!(a["code"], "bad_request");
    assert!(a["message"].as_str().unwrap_or("").contains("longer than"));
    let r = h.cli(None, ControlCommand::Ls { json: true }).await;
    assert_eq!(r.code, 0);
}

/// A server like [`start`]'s, within `limits`, answering `ls` with no agents.
fn start_limited(limits: server::Limits) -> (tempfile::TempDir, PathBuf, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sock");
    let (tx, mut rx) = mpsc::channel::<ControlCall>(16);
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            c.answer(Answer::Agents { agents: vec![], limits: vec![] });
        }
    });
    let handle = ControlServer::bind(&path).unwrap().serve_with(tx, limits).unwrap();
    (dir, path, handle)
}

/// Reads to the end: the server closed the connection (and sent nothing more).
/// The server closed the connection: an end of file, or a reset when the server closed it with
/// bytes of ours still unread (as it does on a line past the cap).
fn closed(r: &mut BufReader<UnixStream>) -> bool {
    let mut rest = String::new();
    match std::io::Read::read_to_string(r, &mut rest) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_and_idle_ones_time_out() {
    let limits = server::Limits {
        max_connections: server::MAX_CONNECTIONS,
        idle: Duration::from_secs(4),
        ..Default::default()
    };
    let (_dir, path, _server) = start_limited(limits);
    let path2 = path.clone();
    tokio::task::spawn_blocking(move || {
        let path = path2;
        // The cap's worth of idle connections, and a flood past it: each one more is answered
        // and closed at once, so the server's descriptors stay bounded.
        let held: Vec<_> = (0..server::MAX_CONNECTIONS).map(|_| raw(&path)).collect();
        let mut first = None;
        for _ in 0..200 {
            let (_s, mut r) = raw(&path);
            let a = read_json(&mut r);
            assert_eq!(a["code"], "refused", "{a}");
            assert!(closed(&mut r));
            first.get_or_insert(a);
        }
        let message = first.map(|a| a["message"].to_string()).unwrap_or_default();
        assert!(message.contains("too many connections"), "{message}");
        // The held ones said nothing: each is told so and closed, which frees room.
        for (_s, mut r) in held {
            let a = read_json(&mut r);
            assert_eq!(a["code"], "bad_request");
            assert!(a["message"].as_str().is_some_and(|m| m.contains("no whole request line")));
            assert!(closed(&mut r));
        }
        let (mut s, mut r) = raw(&path);
        writeln!(s, r#"{{"v":1,"cmd":"ls"}}"#).unwrap();
        assert_eq!(read_json(&mut r)["type"], "agents");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_partial_line_is_cut_off_at_one_mib() {
    let (_dir, path, _server) = start_limited(server::Limits::default());
    tokio::task::spawn_blocking(move || {
        assert_eq!(agentmux::control::proto::MAX_REQUEST_BYTES, 1024 * 1024);
        let (mut s, mut r) = raw(&path);
        // 4 MiB with no newline, as a client holding memory would send it.
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < 4 * 1024 * 1024 && s.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        assert!(sent < 4 * 1024 * 1024, "the server closed before taking 4 MiB");
        let a = read_json(&mut r);
        assert_eq!(a["code"], "bad_request");
        assert!(a["message"].as_str().is_some_and(|m| m.contains("longer than 1048576")), "{a}");
        assert!(closed(&mut r));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_at_once() {
    let h = start().await;
    // One client holds a wait and another a tail while two more ask and get answers.
    let waiting = run_cli(&h.path, None, ControlCommand::Wait { name: name("web") }, "");
    let tailing = run_cli(&h.path, None, ControlCommand::Tail { name: name("web") }, "");
    h.until("both held", |o| o.waiters == 1 && o.tails.get("web") == Some(&1)).await;
    let (a, b) = tokio::join!(
        h.cli(None, ControlCommand::Ls { json: true }),
        h.cli(None, ControlCommand::Send { name: name("api"), text: name("t") }),
    );
    assert_eq!((a.code, b.code), (0, 0));
    h.do_(Script::Emit("web", "{}".into())).await;
    h.do_(Script::EndTurn("web", TurnOutcome::Success, "done")).await;
    h.do_(Script::Close("web")).await;
    let w = tokio::time::timeout(TIMEOUT, waiting).await.unwrap().unwrap();
    let t = tokio::time::timeout(TIMEOUT, tailing).await.unwrap().unwrap();
    assert_eq!((w.code, w.out.as_str()), (0, "done\n"));
    assert_eq!((t.code, t.out.as_str()), (0, "{}\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sock");
    // A crashed agentmux leaves its socket file behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (tx, mut rx) = mpsc::channel(4);
    let handle = ControlServer::bind(&path).unwrap().serve(tx).unwrap();
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            let c: ControlCall = c;
            c.answer(Answer::Agents { agents: vec![], limits: vec![] });
        }
    });
    let r =
        tokio::time::timeout(TIMEOUT, run_cli(&path, None, ControlCommand::Ls { json: true }, ""))
            .await
            .unwrap()
            .unwrap();
    let empty = serde_json::json!({ "agents": [], "limits": [] });
    assert_eq!((r.code, serde_json::from_str::<serde_json::Value>(&r.out).ok()), (0, Some(empty)));

    // A second agentmux for the same workspace is refused with a clear message.
    let err = ControlServer::bind(&path).unwrap_err();
    assert!(matches!(err, ControlError::AlreadyRunning(_)));
    assert!(err.to_string().contains("already running"), "{err}");

    // Quitting removes the socket; a file that is not a socket is never replaced.
    drop(handle);
    assert!(!path.exists());
    std::fs::write(&path, "notes").unwrap();
    assert!(matches!(ControlServer::bind(&path), Err(ControlError::NotASocket(_))));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "notes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_and_its_directory_are_private() {
    let h = start().await;
    let mode = std::fs::metadata(&h.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let dir = h.dir.path().join("runtime");
    server::ensure_private_dir(&dir).unwrap();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    server::ensure_private_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = server::ensure_private_dir(&dir).unwrap_err();
    assert!(err.to_string().contains("lets others in"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_nobody_listening_says_agentmux_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.sock");
    let r =
        tokio::time::timeout(TIMEOUT, run_cli(&path, None, ControlCommand::Ls { json: false }, ""))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(r.code, 3);
    assert_eq!(
        r.err,
        format!("agentmux: no agentmux is running (nothing answers at {})\n", path.display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_after_the_app_quit_are_answered_shutting_down() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.sock");
    let (tx, rx) = mpsc::channel::<ControlCall>(1);
    let _h = ControlServer::bind(&path).unwrap().serve(tx).unwrap();
    drop(rx);
    let r =
        tokio::time::timeout(TIMEOUT, run_cli(&path, None, ControlCommand::Ls { json: false }, ""))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(r.code, 1);
    assert!(r.err.contains("shutting_down"), "{}", r.err);
}

#[test]
fn the_command_line_has_the_control_subcommands() {
    use agentmux::cli::{Cli, Command};
    use clap::Parser;
    let parse = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
        Ok(Some(Command::Control(c))) => c,
        other => panic!("{args:?}: {other:?}"),
    };
    assert_eq!(parse(&["agentmux", "ls", "--json"]), ControlCommand::Ls { json: true });
    assert_eq!(
        parse(&["agentmux", "send", "api", "-"]),
        ControlCommand::Send { name: name("api"), text: name("-") }
    );
    assert_eq!(
        parse(&["agentmux", "new", "docs", "--cwd", "d", "--role", "writer"]),
        ControlCommand::New {
            name: name("docs"),
            cwd: Some(PathBuf::from("d")),
            model: None,
            role: Some(name("writer")),
            prompt: None,
            worktree: false,
        }
    );
    assert_eq!(
        parse(&["agentmux", "new", "iso", "--worktree"]),
        ControlCommand::New {
            name: name("iso"),
            cwd: None,
            model: None,
            role: None,
            prompt: None,
            worktree: true,
        }
    );
    assert_eq!(parse(&["agentmux", "wait", "a"]), ControlCommand::Wait { name: name("a") });
    assert_eq!(parse(&["agentmux", "tail", "a"]), ControlCommand::Tail { name: name("a") });
    assert_eq!(parse(&["agentmux", "kill", "a"]), ControlCommand::Kill { name: name("a") });
    assert_eq!(
        parse(&["agentmux", "set", "a", "--model", "sonnet", "--permission-mode", "manual"]),
        ControlCommand::Set {
            name: name("a"),
            model: Some("sonnet".into()),
            permission_mode: Some(agentmux::agent::PermissionMode::Default),
        }
    );
    assert_eq!(
        parse(&["agentmux", "broadcast", "hi all"]),
        ControlCommand::Broadcast { text: name("hi all") }
    );
    assert!(Cli::try_parse_from(["agentmux", "send", "only-a-name"]).is_err());
}

/// The real executable, as an agent runs it: socket and name from the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executable_uses_the_agents_environment() {
    let h = start().await;
    let exe = env!("CARGO_BIN_EXE_agentmux");
    let out = tokio::process::Command::new(exe)
        .args(["send", "api", "from the supervisor"])
        .env("AGENTMUX_SOCKET", &h.path)
        .env("AGENTMUX_AGENT", "lead")
        .output();
    let out = tokio::time::timeout(TIMEOUT, out).await.unwrap().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sent to api\n");
    let o = h.observe().await;
    assert_eq!(
        o.calls,
        vec![(
            Some(name("lead")),
            Request::Send { agent: name("api"), text: name("from the supervisor") }
        )]
    );
    let out = tokio::process::Command::new(exe)
        .args(["kill", "nobody"])
        .env("AGENTMUX_SOCKET", &h.path)
        .env_remove("AGENTMUX_AGENT")
        .output();
    let out = tokio::time::timeout(TIMEOUT, out).await.unwrap().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let gone = h.dir.path().join("gone.sock");
    let out = tokio::process::Command::new(exe).args(["ls"]).env("AGENTMUX_SOCKET", &gone).output();
    let out = tokio::time::timeout(TIMEOUT, out).await.unwrap().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agentmux is running"));
}

// ---------------------------------------------------------------------------------------------
// The whole loop with the simulated claude: the supervisor persona runs `agentmux send` for real.

mod team_runs {
    use super::*;
    use agentmux::agent::ClaudeCmd;
    use agentmux::app::{start_first_prompts, Msg, State};
    use agentmux::config::Team;
    use agentmux::run::bridge::ControlBridge;
    use agentmux::run::{event_loop, Executor, Headless, Inbox, ENGINE_CHANNEL};
    use agentmux::supervisor::{Limit, LogKind};
    use agentmux::transcript::cell::CellKind;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::Instant;

    pub(super) fn exe() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_agentmux"))
    }

    /// The demo team, fast, with no first prompts for the workers (the supervisor hands out all
    /// the work) and without the sim's own pointer to agentmux: the agents find it on their PATH.
    fn team(workdir: &Path, worker_env: &[(&str, &str)], max_relay_depth: u32) -> Team {
        let mut team = agentmux::sim::demo_team(&exe(), workdir);
        let fix = |env: &mut Option<BTreeMap<String, String>>, extra: &[(&str, &str)]| {
            let env = env.get_or_insert_with(BTreeMap::new);
            env.remove("AGENTMUX_SIM_AGENTMUX");
            env.insert("AGENTMUX_SIM_SPEED".into(), "0".into());
            for (k, v) in extra {
                env.insert(k.to_string(), v.to_string());
            }
        };
        for a in &mut team.agents {
            a.prompt = None;
            fix(&mut a.spec.options.env, worker_env);
        }
        if let Some(s) = team.supervisor.as_mut() {
            fix(&mut s.spec.options.env, &[]);
            s.max_relay_depth = max_relay_depth;
        }
        team
    }

    /// Run the team until `done` holds for `ls`, then quit; returns the final state.
    async fn run_until(team: Team, dir: &Path, done: fn(&[AgentInfo]) -> bool) -> State {
        run_with(team, ClaudeCmd::simulated(exe()), dir, done).await
    }

    pub(super) async fn run_with(
        team: Team,
        claude: ClaudeCmd,
        dir: &Path,
        done: fn(&[AgentInfo]) -> bool,
    ) -> State {
        run_driven(team, claude, dir, |sock| async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let sock = sock.clone();
                let ls = tokio::task::spawn_blocking(move || {
                    client::Client::connect(&sock, None).and_then(|mut c| c.request(Request::Ls))
                })
                .await
                .unwrap();
                if let Ok(Answer::Agents { agents, .. }) = &ls {
                    if done(agents) {
                        break;
                    }
                }
                assert!(tokio::time::Instant::now() < deadline, "the team never settled: {ls:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    /// Run the team while `drive` talks to its socket, then quit; returns the final state.
    async fn run_driven<F: std::future::Future<Output = ()>>(
        team: Team,
        claude: ClaudeCmd,
        dir: &Path,
        drive: impl FnOnce(PathBuf) -> F,
    ) -> State {
        let sock = dir.join("ws.sock");
        let (control_tx, control_rx) = mpsc::channel(64);
        let _server = ControlServer::bind(&sock).unwrap().serve(control_tx).unwrap();
        let mut state = State::new(&team, claude, (160, 48), Instant::now());
        let first = start_first_prompts(&mut state, State::first_prompts(&team));
        let (engine_tx, engine_rx) = mpsc::channel(ENGINE_CHANNEL);
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        // The terminal stays open (its sender lives) and quiet.
        let (_term_tx, term_rx) = mpsc::channel(1);
        let inbox =
            Inbox { terminal: term_rx, engine: engine_rx, control: control_rx, local: local_rx };
        let mut exec = Executor::engine(engine_tx);
        exec.control =
            ControlBridge::new(Some(sock.clone()), exe().parent().map(Path::to_path_buf));
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();

        let driven = drive(sock);
        let driver = async move {
            driven.await;
            let _ = local_tx.send(Msg::Terminate);
        };
        let mut host = Headless;
        let looped = event_loop(&mut terminal, &mut state, inbox, &mut exec, &mut host, first);
        let (result, ()) = tokio::join!(looped, driver);
        assert!(result.is_ok(), "{result:?}");
        state
    }

    pub(super) fn quiet(agents: &[AgentInfo]) -> bool {
        agents.iter().all(|a| a.state != AgentState::Running && a.queued == 0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_supervisor_hands_out_work_gets_the_reports_batched_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = dir.path().join("work");
        std::fs::create_dir_all(&workdir).unwrap();
        let team = team(&workdir, &[], 3);
        let state = run_until(team, dir.path(), |agents| {
            quiet(agents) && agents.iter().any(|a| a.supervisor && a.turns >= 2)
        })
        .await;

        let relay = &state.supervision.as_ref().unwrap().relay;
        let tasks: Vec<&str> = relay
            .log()
            .filter_map(|e| match &e.kind {
                LogKind::Task { to, .. } => Some(to.as_str()),
                _ => None,
            })
            .take(3)
            .collect();
        assert_eq!(tasks, ["backend", "frontend", "tests"], "sent for real through the socket");
        let first_relay = relay.log().find_map(|e| match &e.kind {
            LogKind::Relayed { workers, depth } => Some((workers.clone(), *depth)),
            _ => None,
        });
        let (mut workers, depth) = first_relay.expect("a relay");
        workers.sort();
        assert_eq!(
            (workers, depth),
            (vec!["backend".into(), "frontend".into(), "tests".into()], 1)
        );

        // The supervisor got all three reports in one prompt and answered it.
        let sup = &state.agents[0];
        let cells = sup.transcript.cells();
        let relayed = cells.iter().position(|c| {
            matches!(&c.kind, CellKind::Prompt(p) if p.starts_with("[agentmux] 3 reports from your workers:"))
        });
        let relayed = relayed.expect("the batched reports in the supervisor's transcript");
        assert!(
            cells[relayed..]
                .iter()
                .any(|c| matches!(&c.kind, CellKind::Assistant(t) if t.text.contains("Synthesis"))),
            "the supervisor answered the reports"
        );
    }

    /// `new --worktree` said `created`, exit 0, where no worktree could be made.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_with_a_worktree_answers_once_the_worktree_is_made_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&repo).unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args)
                .current_dir(&repo)
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["commit", "-q", "--allow-empty", "-m", "first"]);
        let team = Team { path: Some(plain.join("team.toml")), ..Default::default() };
        let new = |name: &str, cwd: &Path| ControlCommand::New {
            name: name.into(),
            cwd: Some(cwd.to_path_buf()),
            model: None,
            role: None,
            prompt: Some("go".into()),
            worktree: true,
        };
        let (lost, made) = (new("lost", &plain), new("made", &repo));
        let state = run_driven(team, ClaudeCmd::simulated(exe()), dir.path(), |sock| async move {
            let cli = |cmd| async {
                let r = run_cli(&sock, None, cmd, "");
                tokio::time::timeout(TIMEOUT, r).await.expect("answered in time").unwrap()
            };
            let r = cli(lost).await;
            assert_eq!(r.code, 1, "{r:?}");
            assert_eq!(r.out, "");
            assert_eq!(r.err.lines().count(), 1, "one line: {}", r.err);
            assert!(
                r.err.contains("could not create the worktree of lost: ")
                    && r.err.contains("is not inside a git repository")
                    && r.err.contains("lost is open without one and was sent nothing"),
                "{}",
                r.err
            );
            let r = cli(made).await;
            assert_eq!((r.code, r.out.as_str()), (0, "created made\n"), "{r:?}");
        })
        .await;
        let made = &state.agents[state.index_named("made").unwrap()];
        assert!(made.tree.is_some(), "answered after the worktree was attached");
        assert!(state.agents[state.index_named("lost").unwrap()].tree.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ping_pong_is_stopped_by_the_guard_rails() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = dir.path().join("work");
        std::fs::create_dir_all(&workdir).unwrap();
        // Every worker turn fails, and the supervisor hands failures back: a loop, but for
        // the depth limit.
        let team = team(&workdir, &[("AGENTMUX_SIM_FAIL", "max_turns")], 2);
        let state = run_until(team, dir.path(), |agents| {
            quiet(agents) && agents.iter().any(|a| a.supervisor && a.turns >= 3)
        })
        .await;
        let relay = &state.supervision.as_ref().unwrap().relay;
        let stop = relay.stopped().expect("the relay stopped");
        assert_eq!(stop.limit, Limit::Depth, "{}", stop.why);
        assert_eq!(state.agents[0].turns, 3, "the first turn and two relays, no more");
        assert!(!relay.pending().is_empty(), "the last reports are held for the user");
    }
}

/// The real CLI 2.1.197: the supervisor's Bash tool call runs `agentmux send` for real (allowed
/// by its default rules), the worker's turn runs, and its report comes back as the supervisor's
/// next prompt.
mod real_cli_relay {
    use super::team_runs::{quiet, run_with};
    use super::*;
    use agentmux::agent::{AgentOptions, AgentSpec, Billing, ClaudeCmd};
    use agentmux::config::{SupervisorConfig, Team, TeamAgent};
    use agentmux::supervisor::LogKind;
    use support::cli::{claude_or_skip, offline_env};
    use support::fake_api::{FakeApi, Reply};

    const TASK: &str = "count to three";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_supervisors_bash_call_sends_for_real_and_the_report_comes_back() {
        let Some(claude) = claude_or_skip("real_cli_relay") else { return };
        let api = FakeApi::start(|req| {
            let prompt = req.last_user_text();
            if let Some(result) = req.tool_results().first() {
                return Reply::text(format!("Handed out ({}).", result.content.trim()));
            }
            if prompt.starts_with("[agentmux]") {
                return Reply::text("The worker is done; all good.");
            }
            match prompt.as_str() {
                "delegate" => Reply::bash(&format!("agentmux send worker \"{TASK}\"")),
                TASK => Reply::text("one two three"),
                other => Reply::text(format!("unexpected prompt: {other}")),
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let (home, work) = (dir.path().join("home"), dir.path().join("work"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let options = AgentOptions {
            billing: Some(Billing::Api),
            env: Some(offline_env(&api.base_url(), &home).into_iter().collect()),
            ..AgentOptions::default()
        };
        let spec =
            |name: &str| AgentSpec { options: options.clone(), ..AgentSpec::new(name, &work) };
        let team = Team {
            supervisor: Some(SupervisorConfig {
                spec: spec("lead"),
                prompt: Some("delegate".into()),
                max_relay_depth: 3,
                max_relays_per_minute: 10,
                team_budget_usd: None,
                report_chars: 2000,
                relay_batch_ms: SupervisorConfig::DEFAULT_RELAY_BATCH_MS,
            }),
            agents: vec![TeamAgent { spec: spec("worker"), prompt: None, worktree: false }],
            ..Team::default()
        };
        let state = run_with(team, ClaudeCmd::real(claude), dir.path(), |agents| {
            quiet(agents) && agents.iter().any(|a| a.supervisor && a.turns >= 2)
        })
        .await;

        let relay = &state.supervision.as_ref().unwrap().relay;
        let sent: Vec<_> = relay
            .log()
            .filter_map(|e| match &e.kind {
                LogKind::Task { to, text, .. } => Some((to.clone(), text.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(sent, [("worker".to_string(), TASK.to_string())]);
        let prompts: Vec<String> =
            api.messages_requests().iter().map(|r| r.last_user_text()).collect();
        let report = prompts.iter().find(|p| p.starts_with("[agentmux]"));
        let report = report.unwrap_or_else(|| panic!("no relayed report among {prompts:#?}"));
        assert!(report.contains("--- worker: done, $"), "{report}");
        assert!(report.contains("one two three"), "{report}");
    }
}
