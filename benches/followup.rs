//! A follow-up's latency, live against oneshot in the same run: from writing the follow-up to
//! its first text decoded by the engine, with the real CLI over the loopback stand-in of the API
//! (`tests/support/fake_api.rs`, answering at once).
//!
//! - live: one `agent::live` process; each follow-up is a line on its stdin.
//! - oneshot: each follow-up is a new `claude -p ... --resume ID` process (`spawn_turn`).
//!
//! The two alternate, follow-up by follow-up, so a load change hits both alike. The CLI is
//! `AGENTMUX_TEST_CLAUDE`, else `target/claude-cli`, else `claude` on PATH; without one the
//! benchmark says so and stops. `AGENTMUX_BENCH_FOLLOWUPS` sets the count (15).
//!
//! `cargo bench --bench followup`

#[path = "../tests/support/cli.rs"]
mod cli;
#[path = "../tests/support/fake_api.rs"]
mod fake_api;

use std::path::Path;
use std::time::{Duration, Instant};

use agentmux::agent::event::{ContentBlock, Event, StreamKind};
use agentmux::agent::live::{spawn_live, LiveHandle, LiveMsg, LiveRequest, CONTROL_TIMEOUT};
use agentmux::agent::{
    spawn_turn, AgentId, AgentOptions, AgentSpec, Billing, ClaudeCmd, EngineMsg, Line, SessionArg,
    TurnRequest, DEFAULT_MAX_LINE_BYTES,
};
use fake_api::{FakeApi, MessagesRequest, Reply};

const WAIT: Duration = Duration::from_secs(60);

type Res<T> = Result<T, String>;

fn main() {
    let Some(claude) = cli::find_claude() else {
        println!("followup: no claude CLI found (AGENTMUX_TEST_CLAUDE, target/claude-cli, PATH)");
        return;
    };
    let n: usize =
        std::env::var("AGENTMUX_BENCH_FOLLOWUPS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    if let Err(e) = run(&claude, n) {
        eprintln!("followup: {e}");
        std::process::exit(1);
    }
}

fn script(req: &MessagesRequest) -> Reply {
    Reply::text(format!("You said: {}.", req.last_user_text()))
}

/// A sandbox (home and cwd) and the agent spec of one side.
struct Side {
    _dir: tempfile::TempDir,
    spec: AgentSpec,
    env: Vec<(String, String)>,
}

impl Side {
    fn new(api: &FakeApi) -> Res<Side> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (home, work) = (dir.path().join("home"), dir.path().join("work"));
        for d in [&home, &work] {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        }
        let mut spec = AgentSpec::new("bench", work);
        spec.options = AgentOptions { billing: Some(Billing::Api), ..Default::default() };
        Ok(Side { env: cli::offline_env(&api.base_url(), &home), spec, _dir: dir })
    }
}

fn run(claude: &Path, n: usize) -> Res<()> {
    let api = FakeApi::start(script);
    let version = std::process::Command::new(claude)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("followup: {n} follow-ups each side, claude {version}");

    let live_side = Side::new(&api)?;
    let (live_tx, mut live_rx) = tokio::sync::mpsc::channel(64);
    let live = spawn_live(live_request(claude, &live_side), live_tx).map_err(|e| e.to_string())?;
    live.send_user(0, "first").map_err(|e| e.to_string())?;
    live_first_text(&mut live_rx)?;
    live_turn_end(&mut live_rx)?;

    let once_side = Side::new(&api)?;
    let session = uuid::Uuid::new_v4().to_string();
    oneshot(claude, &once_side, "first", SessionArg::New(session.clone()))?;

    let (mut live_ms, mut once_ms) = (Vec::new(), Vec::new());
    for i in 1..=n {
        live_ms.push(live_followup(&live, &mut live_rx, i as u64)?);
        let prompt = format!("follow-up {i}");
        once_ms.push(oneshot(claude, &once_side, &prompt, SessionArg::Resume(session.clone()))?);
    }
    live.close(Duration::from_secs(5));
    report("live", &mut live_ms);
    report("oneshot", &mut once_ms);
    let ratio = median(&once_ms) / median(&live_ms);
    println!("followup: live is {ratio:.1}x faster than oneshot (medians)");
    Ok(())
}

fn live_request(claude: &Path, side: &Side) -> LiveRequest {
    LiveRequest {
        agent: AgentId(1),
        generation: 1,
        claude: ClaudeCmd::real(claude),
        spec: side.spec.clone(),
        session: SessionArg::New(uuid::Uuid::new_v4().to_string()),
        version: None,
        extra_env: side.env.clone(),
        extra_args: Vec::new(),
        max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        control_timeout: CONTROL_TIMEOUT,
    }
}

/// One follow-up to the live process: ms from the write to its first text.
fn live_followup(
    live: &LiveHandle,
    rx: &mut tokio::sync::mpsc::Receiver<LiveMsg>,
    seq: u64,
) -> Res<f64> {
    let t0 = Instant::now();
    live.send_user(seq, &format!("follow-up {seq}")).map_err(|e| e.to_string())?;
    live_first_text(rx)?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    live_turn_end(rx)?;
    Ok(ms)
}

fn live_first_text(rx: &mut tokio::sync::mpsc::Receiver<LiveMsg>) -> Res<()> {
    loop {
        match recv(rx)? {
            LiveMsg::Lines { lines, .. } if lines.iter().any(|(_, l)| is_text(l)) => return Ok(()),
            LiveMsg::Exited { exit, .. } => return Err(format!("live process ended: {exit:?}")),
            _ => {}
        }
    }
}

fn live_turn_end(rx: &mut tokio::sync::mpsc::Receiver<LiveMsg>) -> Res<()> {
    loop {
        match recv(rx)? {
            LiveMsg::TurnEnded { .. } => return Ok(()),
            LiveMsg::Exited { exit, .. } => return Err(format!("live process ended: {exit:?}")),
            _ => {}
        }
    }
}

/// One oneshot turn to its end: ms from the spawn to its first text.
fn oneshot(claude: &Path, side: &Side, prompt: &str, session: SessionArg) -> Res<f64> {
    let req = TurnRequest {
        agent: AgentId(2),
        turn: 1,
        claude: ClaudeCmd::real(claude),
        spec: side.spec.clone(),
        prompt: prompt.to_owned(),
        origin: agentmux::agent::Origin::User,
        session,
        extra_env: side.env.clone(),
        extra_args: Vec::new(),
        max_line_bytes: DEFAULT_MAX_LINE_BYTES,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let t0 = Instant::now();
    let _handle = spawn_turn(req, tx).map_err(|e| e.to_string())?;
    let mut first = None;
    loop {
        match recv(&mut rx)? {
            EngineMsg::Lines { lines, .. }
                if first.is_none() && lines.iter().any(|(_, l)| is_text(l)) =>
            {
                first = Some(t0.elapsed().as_secs_f64() * 1e3);
            }
            EngineMsg::Exited { exit, .. } => {
                return first.ok_or_else(|| format!("a oneshot turn showed no text: {exit:?}"));
            }
            _ => {}
        }
    }
}

fn recv<T>(rx: &mut tokio::sync::mpsc::Receiver<T>) -> Res<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        match rx.try_recv() {
            Ok(msg) => return Ok(msg),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                return Err("the engine closed its channel".into())
            }
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {}
        }
        if Instant::now() >= deadline {
            return Err(format!("nothing within {WAIT:?}"));
        }
        // Short naps: they add at most 0.2 ms to either side.
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A line that puts the answer's text on screen: a text delta or an assistant text block.
fn is_text(line: &Line) -> bool {
    match line {
        Line::Event(Event::Stream(s)) => {
            matches!(&s.kind, StreamKind::TextDelta { text, .. } if !text.is_empty())
        }
        Line::Event(Event::Assistant(m)) => {
            m.content.iter().any(|b| matches!(b, ContentBlock::Text { text } if !text.is_empty()))
        }
        _ => false,
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(name: &str, ms: &mut [f64]) {
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied();
    let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
    println!(
        "followup: {name:8} median {} ms, p90 {} ms, min {} ms, max {} ms",
        f(pick(0.5)),
        f(pick(0.9)),
        f(ms.first().copied()),
        f(ms.last().copied())
    );
}
