//! The cost of logging a flood as it arrives: `EngineMsg::Lines` batches of 64 text deltas
//! through `update` alone, against `run::persist` logging each batch (one `write`) and then
//! `update`, in the same run. Decides whether logging must leave the loop's thread.
//!
//! `cargo bench --bench persist`; `AGENTMUX_BENCH_BATCHES` changes the number of batches.

use std::time::{Duration, Instant};

use agentmux::agent::decode::decode_line;
use agentmux::agent::{AgentSpec, ClaudeCmd, EngineMsg};
use agentmux::app::{update, Effect, Msg, State};
use agentmux::config::{Team, TeamAgent};
use agentmux::run::persist::{self, Persister};
use agentmux::store::{Access, Workspace, WorkspaceKey};

const BATCH: usize = 64;

fn batches() -> usize {
    std::env::var("AGENTMUX_BENCH_BATCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000)
}

/// A batch as the engine sends it: the sim's flood lines, with their decoded form.
fn batch(from: usize) -> Vec<(String, agentmux::agent::Line)> {
    (from..from + BATCH)
        .map(|i| {
            let text = format!(
                r#"{{"type":"stream_event","event":{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"tok{i} "}}}},"session_id":"0b7c1f4e-5a8d-4a53-9d2b-3c1d2e4f5a6b","parent_tool_use_id":null,"uuid":"5f0c6a1e-2b3c-4d5e-8f90-a1b2c3d4e5f6"}}"#
            );
            let line = decode_line(&text);
            (text, line)
        })
        .collect()
}

/// One agent with a turn running; with `persist`, a workspace logging it.
fn setup(dir: &std::path::Path, persist: bool) -> (State, Option<Persister>) {
    let team = Team {
        agents: vec![TeamAgent { spec: AgentSpec::new("api", dir), prompt: None, worktree: false }],
        ..Team::default()
    };
    let mut state = State::new(&team, ClaudeCmd::real("claude"), (200, 60), Instant::now());
    let mut p = None;
    if persist {
        let ws =
            Workspace::open_or_create(dir, &WorkspaceKey::Named("bench".into()), Access::Exclusive)
                .unwrap_or_else(|e| panic!("workspace: {e}"));
        p = Some(persist::open(&mut state, &team, ws).0);
    }
    let req = state
        .begin_turn(0, agentmux::app::queue::Prompt::user("flood"))
        .unwrap_or_else(|| panic!("a turn"));
    if let Some(p) = &mut p {
        p.effect(&Effect::SpawnTurn(Box::new(req)), &state);
    }
    (state, p)
}

fn run(persist: bool, n: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (mut state, mut p) = setup(dir.path(), persist);
    let agent = state.agents[0].id;
    let msgs: Vec<Msg> = (0..n)
        .map(|b| {
            Msg::Engine(EngineMsg::Lines {
                agent,
                turn: 1,
                lines: batch(b * BATCH),
                ticket: Default::default(),
            })
        })
        .collect();
    let start = Instant::now();
    for msg in msgs {
        if let Some(p) = &mut p {
            p.before(&msg, &state);
        }
        update(&mut state, msg);
    }
    start.elapsed()
}

fn main() {
    let n = batches();
    // Warm the page cache and the allocator, then alternate to share the machine's noise.
    run(true, n / 10);
    let (mut plain, mut logged) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..3 {
        plain += run(false, n);
        logged += run(true, n);
    }
    let lines = (3 * n * BATCH) as f64;
    println!(
        "flood of {} lines in batches of {BATCH}: update {:.0} ns/line, logged + update {:.0} ns/line, ratio {:.2}",
        n * BATCH,
        plain.as_nanos() as f64 / lines,
        logged.as_nanos() as f64 / lines,
        logged.as_secs_f64() / plain.as_secs_f64()
    );
}
