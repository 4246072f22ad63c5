//! The usage windows and the governor with the real CLI (either version: `AGENTMUX_TEST_CLAUDE`)
//! logged in as a subscriber, against a stand-in API that sends the subscription's
//! `anthropic-ratelimit-unified-*` headers. The app core (`update`) is fed what the engine
//! reads from the real CLI, as the run loop does; no request leaves 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use agentmux::agent::{spawn_turn, AgentSpec, Billing, ClaudeCmd, EngineMsg};
use agentmux::app::{update, ControlCmd, Effect, Msg, RequestId, State};
use agentmux::config::{Team, TeamAgent};
use agentmux::limits::wall_clock;
use support::cli::{claude_or_skip, subscriber_env};
use support::fake_api::{Countdown, FakeApi, Reply};

const TURN_TIMEOUT: Duration = Duration::from_secs(60);

/// The headers of a subscriber's five-hour window at `use_` (a fraction) resetting at `reset`,
/// past the 90% warning threshold, with the weekly window at 30%.
fn window_headers(status: &str, use_: f64, reset: i64) -> Vec<(String, String)> {
    let week = wall_clock() + 5 * 86_400;
    [
        ("anthropic-ratelimit-unified-status", status.to_string()),
        ("anthropic-ratelimit-unified-reset", reset.to_string()),
        ("anthropic-ratelimit-unified-representative-claim", "five_hour".into()),
        ("anthropic-ratelimit-unified-5h-utilization", use_.to_string()),
        ("anthropic-ratelimit-unified-5h-reset", reset.to_string()),
        ("anthropic-ratelimit-unified-5h-surpassed-threshold", "0.9".into()),
        ("anthropic-ratelimit-unified-7d-utilization", "0.3".into()),
        ("anthropic-ratelimit-unified-7d-reset", week.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

struct Sandbox {
    _dir: tempfile::TempDir,
    state: State,
}

/// One agent "api" on the real CLI, logged in as a subscriber, with `pause_at`.
fn sandbox(claude: &std::path::Path, api: &FakeApi, pause_at: Option<u32>) -> Sandbox {
    let dir = tempfile::tempdir().expect("temp dir");
    let (home, work) = (dir.path().join("home"), dir.path().join("work"));
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&work).expect("work");
    let mut spec = AgentSpec::new("api", &work);
    spec.options.billing = Some(Billing::Subscription);
    spec.options.approvals = Some(false);
    let team =
        Team { agents: vec![TeamAgent { spec, prompt: None, worktree: false }], ..Team::default() };
    let mut state = State::new(&team, ClaudeCmd::real(claude), (120, 30), Instant::now());
    state.extra_env = subscriber_env(&api.base_url(), &home);
    state.policy.pause_at = pause_at;
    Sandbox { _dir: dir, state }
}

fn tick(state: &mut State) {
    state.set_clock(Instant::now(), agentmux::limits::wall_clock_ms());
}

/// Applies `msg`; runs every turn it starts through the engine to its end, as the loop would.
async fn apply(state: &mut State, msg: Msg) -> usize {
    tick(state);
    let mut started = 0;
    for fx in update(state, msg) {
        if let Effect::SpawnTurn(req) = fx {
            started += 1;
            run_turn(state, *req).await;
        }
    }
    started
}

async fn run_turn(state: &mut State, req: agentmux::agent::TurnRequest) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let _handle = spawn_turn(req, tx).expect("spawn_turn");
    loop {
        let msg = tokio::time::timeout(TURN_TIMEOUT, rx.recv())
            .await
            .expect("the turn ends in time")
            .expect("the engine reports the exit");
        let exited = matches!(msg, EngineMsg::Exited { .. });
        tick(state);
        for fx in update(state, Msg::Engine(msg)) {
            if let Effect::SpawnTurn(next) = fx {
                panic!("a turn started as one ended: {:?}", next.prompt);
            }
        }
        if exited {
            return;
        }
    }
}

fn send(text: &str) -> Msg {
    Msg::Control {
        id: RequestId::fresh(),
        cmd: ControlCmd::Send {
            agent: "api".into(),
            prompt: text.into(),
            origin: agentmux::agent::Origin::User,
        },
    }
}

fn word(state: &State) -> &'static str {
    agentmux::app::query::agent_state(state, &state.agents[0]).as_str()
}

/// The screen as text, one line per row.
fn screen(state: &State) -> String {
    let (w, h) = state.size;
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("term");
    t.draw(|f| agentmux::ui::view(state, f)).expect("draw");
    let buf = t.backend().buffer();
    let row = |y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>();
    (0..h).map(|y| row(y).trim_end().to_string()).collect::<Vec<_>>().join("\n")
}

fn status_line(state: &State) -> String {
    screen(state).lines().last().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_show_and_a_follow_up_is_held_past_the_threshold() {
    let Some(claude) = claude_or_skip("the_windows_show_and_a_follow_up_is_held") else { return };
    let reset = wall_clock() + 3600;
    let api = FakeApi::start(move |_| {
        Reply::WithHeaders(window_headers("allowed", 0.91, reset), Box::new(Reply::text("ok")))
    });
    let mut s = sandbox(&claude, &api, Some(90));
    assert_eq!(apply(&mut s.state, send("first")).await, 1);
    let line = status_line(&s.state);
    // Both versions report the warning's use; 2.1.332 adds the weekly window.
    assert!(line.contains("5h 91% ↺"), "{line}");
    assert_eq!(word(&s.state), "idle");
    // Past 90%: the next prompt waits.
    assert_eq!(apply(&mut s.state, send("second")).await, 0);
    assert_eq!(word(&s.state), "held");
    assert_eq!(s.state.agents[0].queue.iter().collect::<Vec<_>>(), ["second"]);
    assert_eq!(api.messages_requests().len(), 1, "nothing more was sent");
    // Released by the user, it runs.
    let resume =
        Msg::Control { id: RequestId::fresh(), cmd: ControlCmd::Resume { agent: "api".into() } };
    assert_eq!(apply(&mut s.state, resume).await, 1);
    assert_eq!(api.messages_requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_turn_is_rate_limited_and_runs_again_after_a_short_reset() {
    let Some(claude) = claude_or_skip("a_refused_turn_runs_again") else { return };
    // The first request is refused with a reset a few seconds ahead; later ones are answered.
    let reset = wall_clock() + 6;
    let calls = Countdown::default();
    let api = FakeApi::start(move |_| {
        if calls.first("refuse", 1) {
            Reply::WithHeaders(window_headers("rejected", 1.0, reset), Box::new(Reply::error(429)))
        } else {
            Reply::text("done at last")
        }
    });
    let mut s = sandbox(&claude, &api, None);
    apply(&mut s.state, send("the task")).await;
    assert_eq!(word(&s.state), "rate-limited");
    assert_eq!(s.state.agents[0].queue.iter().collect::<Vec<_>>(), ["the task"]);
    assert_eq!(s.state.has_work("api"), Some(false), "wait answers (rate-limited, exit 5)");
    // The pane says so, and when it runs again; the window is shown refused.
    let screen = screen(&s.state);
    assert!(screen.contains("api · rate-limited"), "{screen}");
    assert!(screen.contains("the prompt runs again at"), "{screen}");
    let line = status_line(&s.state);
    assert!(line.contains("5h"), "{line}");
    // The loop sleeps until the reset (and the least retry gap), then the prompt runs again
    // by itself.
    let mut started = 0;
    for _ in 0..3 {
        let wake = s.state.next_wake().expect("a wake-up at the reset");
        assert!(wake <= Instant::now() + Duration::from_secs(10), "wakes within the reset");
        tokio::time::sleep_until(wake.into()).await;
        started = apply(&mut s.state, Msg::Wake).await;
        if started > 0 {
            break;
        }
    }
    assert_eq!(started, 1, "sent again after the reset");
    assert_eq!(word(&s.state), "idle");
    let last = api.messages_requests().pop().expect("a request");
    assert!(last.user_texts().iter().any(|t| t.contains("the task")), "{:?}", last.user_texts());
}
