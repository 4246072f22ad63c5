//! Test helpers: teams, engine messages and keys, built by hand.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{update, Effect, Msg, State};
use crate::agent::event::{
    ContentBlock, Event, Init, MessageEvent, ResultEvent, StreamEvent, StreamKind, SystemEvent,
    SystemKind, Usage,
};
use crate::agent::{AgentId, AgentSpec, ClaudeCmd, EngineMsg, ExitInfo, Line, SessionArg};
use crate::config::{SupervisorConfig, Team, TeamAgent};

pub fn spec(name: &str, role: Option<&str>) -> AgentSpec {
    let mut s = AgentSpec::new(name, "/work/project");
    s.role = role.map(String::from);
    s.options.model = Some("claude-sonnet-4-5".into());
    s
}

pub fn team(supervisor: bool, agents: &[(&str, &str)]) -> Team {
    Team {
        path: Some(PathBuf::from("/work/project/team.toml")),
        defaults: Default::default(),
        supervisor: supervisor.then(|| SupervisorConfig {
            spec: spec("lead", Some("supervisor")),
            prompt: None,
            max_relay_depth: 3,
            max_relays_per_minute: 10,
            team_budget_usd: None,
            report_chars: 2000,
            relay_batch_ms: SupervisorConfig::DEFAULT_RELAY_BATCH_MS,
        }),
        agents: agents
            .iter()
            .map(|(n, r)| TeamAgent { spec: spec(n, Some(r)), prompt: None, worktree: false })
            .collect(),
        worktree: Default::default(),
        live: Default::default(),
        limits: Default::default(),
    }
}

/// A state whose wall clock reads `WALL`, so screens that show clock times are the same on every run.
pub fn state(supervisor: bool, agents: &[(&str, &str)], size: (u16, u16)) -> State {
    let now = Instant::now();
    let mut s = State::new(&team(supervisor, agents), ClaudeCmd::real("claude"), size, now);
    s.set_clock(now, WALL as u64 * 1000);
    s
}

pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn key_mod(code: KeyCode, mods: KeyModifiers) -> Msg {
    Msg::Key(KeyEvent::new(code, mods))
}

/// The approval chords, as a terminal sends them.
pub fn allow_once() -> Msg {
    key_mod(KeyCode::Char('y'), KeyModifiers::ALT)
}

pub fn allow_always() -> Msg {
    key_mod(KeyCode::Char('Y'), KeyModifiers::ALT | KeyModifiers::SHIFT)
}

pub fn deny() -> Msg {
    key_mod(KeyCode::Char('n'), KeyModifiers::ALT)
}

/// A tool call of `agent`'s running turn waiting for the user, sent over the control socket
/// with that turn's secret as its approval server would; [`decision`] reads its answer once
/// [`step`] carried it out.
pub fn ask_approval(
    state: &mut State,
    agent: &str,
    tool: &str,
    input: serde_json::Value,
) -> super::RequestId {
    let secret = state.index_named(agent).map(|i| {
        let id = state.agents[i].id;
        state.approvals.open_channel(id)
    });
    let id = super::RequestId::fresh();
    step(state, Msg::Approval { id, ask: socket_ask(agent, tool, input, secret) });
    id
}

/// An `approve` request as the control server hands it over, with `secret` (or none).
pub fn socket_ask(
    agent: &str,
    tool: &str,
    input: serde_json::Value,
    secret: Option<String>,
) -> crate::approval::Ask {
    let request = crate::control::proto::Request::Approve {
        agent: agent.to_string(),
        tool_name: tool.to_string(),
        input,
        tool_use_id: None,
        secret,
    };
    match crate::approval::Ask::from_request(request) {
        Ok(ask) => ask,
        Err(_) => unreachable!("an approve request is an ask"),
    }
}

thread_local! {
    /// The decisions [`step`] carried out, by the id of their ask (the loop's side).
    static DECIDED: std::cell::RefCell<std::collections::HashMap<super::RequestId, crate::approval::Decision>> =
        Default::default();
}

/// `update` as the loop applies it, as far as approvals go: each `Effect::Decide` is handed to
/// whoever asked (here: kept for [`decision`]).
pub fn step(state: &mut State, msg: Msg) -> Vec<Effect> {
    let fx = update(state, msg);
    for e in &fx {
        if let Effect::Decide { id, decision } = e {
            DECIDED.with(|d| d.borrow_mut().insert(*id, decision.clone()));
        }
    }
    fx
}

/// The answer the ask `id` got, once (`None`: none yet).
pub fn decision(id: super::RequestId) -> Option<crate::approval::Decision> {
    DECIDED.with(|d| d.borrow_mut().remove(&id))
}

/// A control command as the socket hands it over: the reply `update` gives its id, and the
/// other effects.
pub fn control(state: &mut State, cmd: super::ControlCmd) -> (super::ControlReply, Vec<Effect>) {
    let id = super::RequestId::fresh();
    let mut reply = None;
    let mut rest = Vec::new();
    for e in update(state, Msg::Control { id, cmd }) {
        match e {
            Effect::Reply { id: to, reply: r } if to == id && reply.is_none() => reply = Some(r),
            e => rest.push(e),
        }
    }
    (reply.unwrap_or_else(|| panic!("no reply to {id:?}")), rest)
}

pub fn type_text(state: &mut State, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| step(state, key(KeyCode::Char(c)))).collect()
}

pub fn spawned(fx: &[Effect]) -> Vec<&crate::agent::TurnRequest> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::SpawnTurn(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

pub fn sid(n: u32) -> String {
    format!("5e55{n:04}-0000-4000-8000-000000000000")
}

pub fn lines(agent: AgentId, turn: u64, events: Vec<Event>) -> Msg {
    Msg::Engine(EngineMsg::Lines {
        agent,
        turn,
        lines: events.into_iter().map(|e| (String::new(), Line::Event(e))).collect(),
        ticket: Default::default(),
    })
}

pub fn init(session: &str, api_key_source: &str) -> Event {
    Event::System(SystemEvent {
        subtype: "init".into(),
        session_id: Some(session.into()),
        kind: SystemKind::Init(Init {
            model: Some("claude-sonnet-4-5".into()),
            api_key_source: Some(api_key_source.into()),
            ..Default::default()
        }),
    })
}

pub fn delta(text: &str) -> Event {
    Event::Stream(StreamEvent {
        parent_tool_use_id: None,
        session_id: None,
        kind: StreamKind::TextDelta { index: 0, text: text.into() },
    })
}

pub fn text(text: &str) -> Event {
    Event::Assistant(MessageEvent {
        content: vec![ContentBlock::Text { text: text.into() }],
        ..Default::default()
    })
}

pub fn tool(id: &str, name: &str, input: serde_json::Value) -> Event {
    Event::Assistant(MessageEvent {
        content: vec![ContentBlock::ToolUse { id: id.into(), name: name.into(), input }],
        ..Default::default()
    })
}

pub fn tool_result(id: &str, content: &str, is_error: bool) -> Event {
    Event::User(MessageEvent {
        content: vec![ContentBlock::ToolResult {
            tool_use_id: id.into(),
            content: content.into(),
            is_error,
        }],
        ..Default::default()
    })
}

pub fn result(session: &str, subtype: &str, cost: f64) -> Event {
    Event::Result(ResultEvent {
        subtype: subtype.into(),
        is_error: subtype != "success",
        result: Some("done".into()),
        duration_ms: Some(4200),
        num_turns: Some(2),
        total_cost_usd: Some(cost),
        usage: Some(Usage { input_tokens: 1200, output_tokens: 340, ..Default::default() }),
        session_id: Some(session.into()),
        errors: if subtype == "success" { vec![] } else { vec![format!("{subtype} happened")] },
        ..Default::default()
    })
}

pub fn started(agent: AgentId, turn: u64) -> Msg {
    Msg::Engine(EngineMsg::Started { agent, turn, pid: Some(4242) })
}

pub fn exited(agent: AgentId, turn: u64, code: i32) -> Msg {
    Msg::Engine(EngineMsg::Exited {
        agent,
        turn,
        exit: ExitInfo { code: Some(code), signal: None, tail: vec![] },
    })
}

/// Send `prompt` to pane `i` as the user would, returning the effects.
pub fn send(state: &mut State, i: usize, prompt: &str) -> Vec<Effect> {
    state.set_focus(i);
    let mut fx = type_text(state, prompt);
    fx.extend(update(state, key(KeyCode::Enter)));
    fx
}

/// Run a whole successful turn on pane `i`: send, start, stream `answer`, result, exit.
pub fn full_turn(state: &mut State, i: usize, prompt: &str, answer: &str, session: &str) {
    let fx = send(state, i, prompt);
    let id = state.agents[i].id;
    let turn = spawned(&fx).first().map(|r| r.turn).unwrap_or(0);
    update(state, started(id, turn));
    update(state, lines(id, turn, vec![init(session, "none"), text(answer)]));
    update(state, lines(id, turn, vec![result(session, "success", 0.0123)]));
    update(state, exited(id, turn, 0));
}

pub fn session_arg(fx: &[Effect]) -> Option<SessionArg> {
    spawned(fx).first().map(|r| r.session.clone())
}

pub fn advance(state: &mut State, d: Duration) {
    state.now += d;
    state.wall += d.as_secs() as i64;
    state.wall_ms += d.as_millis() as u64;
}

/// 2026-12-03 09:00 UTC: the wall clock of tests that show usage windows.
pub const WALL: i64 = 1_796_288_400;

/// A real CLI line (a `rate_limit_event`), decoded.
pub fn cli_line(json: &str) -> Event {
    match crate::agent::decode::decode_line(json) {
        Line::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

/// 2.1.332's report of a five-hour window at `five` and a weekly one at `week` (fractions),
/// resetting at 10:33 and on Tuesday 09:00.
pub fn windows_line(five: f64, week: f64) -> Event {
    cli_line(&format!(
        r#"{{"type":"rate_limit_event","rate_limit_info":{{"status":"allowed","resetsAt":1796293980,"rateLimitType":"five_hour","isUsingOverage":false,"unifiedWindows":{{"five_hour":{{"utilization":{five},"resetsAt":1796293980}},"seven_day":{{"utilization":{week},"resetsAt":1796720400}}}}}},"uuid":"u","session_id":"s"}}"#
    ))
}

/// The whole screen drawn for `state` at its size on a TestBackend, as text: one line per row,
/// trailing blanks trimmed.
pub fn screen(state: &State) -> String {
    let (w, h) = state.size;
    let mut t = match ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    if let Err(e) = t.draw(|f| crate::ui::view(state, f)) {
        panic!("{e}");
    }
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
