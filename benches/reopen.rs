//! Reopening a persisted workspace (16 agents x 100,000 log lines) against reading the same
//! files' bytes with `std::fs::read` (issue 8, item 7; goal: at least 0.5x the baseline).
//!
//! `cargo bench --bench reopen`; `AGENTMUX_BENCH_LINES` changes the lines per agent.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agentmux::agent::AgentSpec;
use agentmux::store::{Access, EndStatus, Record, TurnEnd, TurnStart, Workspace, WorkspaceKey};

const AGENTS: usize = 16;

fn lines_per_agent() -> usize {
    std::env::var("AGENTMUX_BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

/// Real CLI 2.1.197 output: a tool call and a streamed (partial messages) turn.
fn sample_lines() -> Vec<&'static str> {
    [
        include_str!("../tests/fixtures/cli-2.1.197/tool-call.ndjson"),
        include_str!("../tests/fixtures/cli-2.1.197/turn-partial.ndjson"),
    ]
    .iter()
    .flat_map(|f| f.lines())
    .filter(|l| l.starts_with('{'))
    .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    files: Vec<PathBuf>,
    bytes: u64,
}

fn key() -> WorkspaceKey {
    WorkspaceKey::Named("bench".into())
}

/// Writes the workspace once, through the store's own writer, turn by turn.
fn build() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_path_buf();
    let lines = sample_lines();
    let per_agent = lines_per_agent();
    let mut ws = Workspace::open_or_create(&data, &key(), Access::Exclusive).expect("open");
    let mut files = Vec::new();
    for a in 0..AGENTS {
        let name = format!("agent-{a:02}");
        ws.add_agent(AgentSpec::new(&name, "/"), false).expect("add");
        let mut written = 0;
        let mut turn = 0;
        while written < per_agent {
            turn += 1;
            let start = TurnStart { session_id: format!("s-{a}"), resume: turn > 1 };
            ws.append_many(
                &name,
                turn,
                &[Record::Prompt("next step"), Record::TurnStarted(&start)],
            )
            .expect("start");
            // Long turns: the state file is saved (fsync) once per turn start and end.
            let n = (per_agent - written - 1).min(lines.len() * 150);
            let batch: Vec<Record<'_>> =
                lines.iter().cycle().take(n.saturating_sub(2)).map(|l| Record::Event(l)).collect();
            ws.append_many(&name, turn, &batch).expect("events");
            let end = TurnEnd { cost_usd: Some(0.01), ..TurnEnd::new(EndStatus::Ok) };
            ws.append(&name, turn, Record::TurnEnded(&end)).expect("end");
            written += batch.len() + 3;
        }
        files.push(ws.log_path(ws.agent(&name).expect("agent")));
    }
    files.push(ws.dir().join("state.json"));
    drop(ws);
    let bytes = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    Fixture { _dir: dir, data, files, bytes }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(build)
}

/// What the app does on start: open (locked) and take every agent's state and log.
fn reopen(data: &Path) -> (Workspace, agentmux::store::Restored) {
    let mut ws = Workspace::open_or_create(data, &key(), Access::Exclusive).expect("reopen");
    let restored = ws.take_restored();
    (ws, restored)
}

/// The baseline: every file's bytes in memory at once, as reopening holds every log.
fn read_bytes(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files.iter().map(|f| std::fs::read(f).unwrap_or_default()).collect()
}

#[divan::bench(sample_count = 10)]
fn reopen_workspace(bencher: divan::Bencher) {
    let f = fixture();
    bencher.counter(divan::counter::BytesCount::new(f.bytes)).bench(|| reopen(&f.data));
}

#[divan::bench(sample_count = 10)]
fn baseline_fs_read(bencher: divan::Bencher) {
    let f = fixture();
    bencher.counter(divan::counter::BytesCount::new(f.bytes)).bench(|| read_bytes(&f.files));
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let t = Instant::now();
    let f = fixture();
    eprintln!(
        "workspace: {AGENTS} agents x {} lines, {:.0} MB, written in {:.1?}",
        lines_per_agent(),
        f.bytes as f64 / 1e6,
        t.elapsed()
    );
    if std::env::var_os("AGENTMUX_BENCH_PHASES").is_some() {
        for _ in 0..3 {
            let t = Instant::now();
            let n: usize = f.files[..AGENTS]
                .iter()
                .map(|p| agentmux::store::log::read_log(p).map_or(0, |(l, _)| l.len()))
                .sum();
            let parse = t.elapsed();
            let t = Instant::now();
            let mut ws = Workspace::open_or_create(&f.data, &key(), Access::ReadOnly).expect("ro");
            let ro = t.elapsed();
            drop(ws.take_restored());
            let t = Instant::now();
            let bytes: usize =
                f.files[..AGENTS].iter().map(|p| std::fs::read(p).map_or(0, |b| b.len())).sum();
            let raw = t.elapsed();
            let t = Instant::now();
            let lines: usize = f.files[..AGENTS]
                .iter()
                .map(|p| std::fs::read(p).map_or(0, |b| memchr::memchr_iter(b'\n', &b).count()))
                .sum();
            let raw_lines = t.elapsed();
            eprintln!("read_log x16 {parse:.1?} ({n} records); read-only open {ro:.1?}; fs::read {raw:.1?} ({bytes} B); read+memchr {raw_lines:.1?} ({lines})");
        }
    }
    divan::main();
    // The ratio, measured here in the same run (interleaved, medians of 7).
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        let (ws, restored) = reopen(&f.data);
        ours.push(t.elapsed());
        let n: usize = restored.agents.iter().map(|a| a.log.len()).sum();
        drop((ws, restored));
        assert!(n >= AGENTS * lines_per_agent() - AGENTS, "records: {n}");
        let t = Instant::now();
        divan::black_box(read_bytes(&f.files));
        base.push(t.elapsed());
    }
    let (ours, base) = (median(ours), median(base));
    println!(
        "reopen {ours:.1?} vs fs::read {base:.1?}: ratio {:.2}x of the baseline's throughput \
         (goal >= 0.5x); {:.2} GB/s",
        base.as_secs_f64() / ours.as_secs_f64(),
        f.bytes as f64 / 1e9 / ours.as_secs_f64()
    );
}
