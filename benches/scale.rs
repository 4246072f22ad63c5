//! Scale: a team of 128 simulated agents held in one `State` (no processes), measured in one run
//! against baselines of the same run. Run: `cargo bench --bench scale`.
//!
//! - Global search: `State::search_all` over 128 x 10,000 lines (goal < 50 ms), against one
//!   case-sensitive `memmem` pass over the same bytes (the least any search must do).
//! - Frames at 200x60: the overview of 128 agents x 2,000 lines, and the first page of their
//!   tiles (goal < 4 ms each); the overview also as a ratio to the tiles' frame.
//! - Memory: resident memory grown while 128 agents x 2,000 lines are built, less the bytes of
//!   text they hold, per agent (goal < 2 MB).

use std::time::{Duration, Instant};

use agentmux::agent::{AgentSpec, ClaudeCmd, Line};
use agentmux::app::State;
use agentmux::config::{Team, TeamAgent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

const AGENTS: usize = 128;
const SIZE: (u16, u16) = (200, 60);

fn team(n: usize) -> Team {
    let agents = (0..n)
        .map(|i| TeamAgent {
            spec: AgentSpec::new(format!("worker-{}", i + 1), "/tmp"),
            prompt: None,
            worktree: false,
        })
        .collect();
    Team { agents, ..Team::default() }
}

/// `lines` lines per agent: a prompt every 20 lines, the rest plain output; returns the state
/// and the bytes of text it holds.
fn fill(n: usize, lines: usize) -> (State, usize) {
    let mut s = State::new(&team(n), ClaudeCmd::real("claude"), SIZE, Instant::now());
    let mut bytes = 0;
    for (a, agent) in s.agents.iter_mut().enumerate() {
        for l in 0..lines {
            let text = format!("agent {a} line {l}: compiling module_{} with flags -O2 ok", l % 97);
            bytes += text.len();
            if l % 20 == 0 {
                agent.transcript.push_prompt(&text);
            } else {
                agent.transcript.apply(&Line::Text(text));
            }
        }
    }
    (s, bytes)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(rounds: usize, mut f: impl FnMut()) -> Duration {
    f();
    median(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn rss_kb() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn frame(s: &State) -> Duration {
    let mut buf = Buffer::empty(Rect::new(0, 0, SIZE.0, SIZE.1));
    time(21, || {
        buf.reset();
        agentmux::ui::draw(s, buf.area, &mut buf);
        std::hint::black_box(&buf);
    })
}

fn main() {
    // Memory first, before anything else has grown the heap.
    let before = rss_kb();
    let (mut s, bytes) = fill(AGENTS, 2_000);
    let grown = rss_kb().saturating_sub(before) * 1024;
    let beyond = grown.saturating_sub(bytes) as f64 / AGENTS as f64;
    println!(
        "memory: {AGENTS} agents x 2,000 lines: RSS grew {:.1} MB for {:.1} MB of text: {:.2} MB \
         per agent beyond its text (goal < 2 MB)",
        grown as f64 / 1e6,
        bytes as f64 / 1e6,
        beyond / 1e6
    );

    // Frames: 16 tiles of the 128 (the first page) and the overview of all of them.
    let placed = s.tiling().placed.len();
    let tiles = frame(&s);
    agentmux::app::overview::open(&mut s);
    let overview = frame(&s);
    println!(
        "frames at {}x{}: a page of {placed} tiles {:.0} µs, overview of {AGENTS} {:.0} µs ({:.2}x the tiles; \
         goal < 4 ms each)",
        SIZE.0,
        SIZE.1,
        tiles.as_secs_f64() * 1e6,
        overview.as_secs_f64() * 1e6,
        overview.as_secs_f64() / tiles.as_secs_f64()
    );
    drop(s);

    // Global search over 128 x 10,000 lines, a rare text and a common one.
    let (big, bytes) = fill(AGENTS, 10_000);
    let mut raw = Vec::with_capacity(bytes + AGENTS * 10_000);
    for a in &big.agents {
        for c in a.transcript.cells() {
            agentmux::transcript::search::cell_texts(c, |t| {
                raw.extend_from_slice(t.as_bytes());
                raw.push(b'\n');
            });
        }
    }
    for (what, needle) in [("rare", "line 9999: compiling module_8"), ("none", "no such text")] {
        let ours = time(9, || {
            std::hint::black_box(big.search_all(needle).map(|(h, _)| h.len()).ok());
        });
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let base = time(9, || {
            std::hint::black_box(finder.find_iter(&raw).count());
        });
        println!(
            "search ({what}): {AGENTS} x 10,000 lines ({:.0} MB): {:.1} ms vs one memmem pass \
             {:.1} ms: {:.2}x (goal < 50 ms)",
            raw.len() as f64 / 1e6,
            ours.as_secs_f64() * 1e3,
            base.as_secs_f64() * 1e3,
            ours.as_secs_f64() / base.as_secs_f64()
        );
    }
}
