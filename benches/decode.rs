//! Framing + typed decoding of real CLI captures, against the baseline of parsing the same lines
//! into `serde_json::Value` (issue 8, item 1; goal: at least 0.8x the baseline's throughput).
//! Run: `cargo bench --bench decode`. After divan's tables, the ratio per input is measured again
//! in the same run (interleaved, medians) and printed.
//!
//! Inputs: the committed captures of the pinned CLI 2.1.197 (`tests/fixtures/cli-2.1.197`),
//! older public captures (`tests/fixtures/stream-json`), and `synthetic`: a large mix (about
//! 8 MB) of the 2.1.197 lines with fresh ids, plain-text stderr lines and big tool results.

use std::path::{Path, PathBuf};

use agentmux::agent::decode::{decode_line, Frame, Framer};
use agentmux::agent::DEFAULT_MAX_LINE_BYTES;
use divan::counter::BytesCount;
use divan::Bencher;

fn main() {
    divan::main();
    ratios();
}

const FILES: &[&str] = &[
    "cli-2.1.197/tool-call",
    "cli-2.1.197/turn-partial",
    "cli-2.1.197/permission-denial",
    "cli-2.1.197/mcp-approval-allow",
    "cli-2.1.197/api-retry",
    "stream-json/foksa-2.1.29-hello-world",
    "stream-json/foksa-2.1.29-plan-mode-ls",
    "stream-json/foksa-2.1.29-streaming-haiku",
    "stream-json/nairid-1.0.x-refactor-session-head40",
    "synthetic",
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every 2.1.197 capture, repeated with fresh message and tool ids up to about 8 MB, with a
/// plain-text line (stderr shares the terminal) every 40 lines and a 256 KiB tool result every
/// 500 lines.
fn synthetic() -> Vec<u8> {
    let mut lines: Vec<String> = Vec::new();
    if let Ok(dir) = std::fs::read_dir(fixtures_dir().join("cli-2.1.197")) {
        let mut paths: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "ndjson")) {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            lines.extend(text.lines().filter(|l| l.starts_with('{')).map(String::from));
        }
    }
    let big = serde_json::json!({
        "type": "user",
        "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_big",
            "content": "x".repeat(256 * 1024)}]},
        "parent_tool_use_id": null,
        "session_id": "00000000-0000-4000-8000-000000000001"
    })
    .to_string();
    let mut out = String::new();
    let (mut n, mut rep) = (0usize, 0usize);
    while out.len() < 8 << 20 && !lines.is_empty() {
        for l in &lines {
            n += 1;
            out.push_str(
                &l.replace("msg_", &format!("msg_{rep}_"))
                    .replace("toolu_", &format!("toolu_{rep}_")),
            );
            out.push('\n');
            if n % 40 == 0 {
                out.push_str("[warn] plain text from stderr between the JSON lines\n");
            }
            if n % 500 == 0 {
                out.push_str(&big);
                out.push('\n');
            }
        }
        rep += 1;
    }
    out.into_bytes()
}

fn fixture(name: &str) -> Vec<u8> {
    // The PTY form: every line ends in \r\n.
    let text = if name == "synthetic" {
        synthetic()
    } else {
        std::fs::read(fixtures_dir().join(format!("{name}.ndjson"))).unwrap_or_default()
    };
    let mut out = Vec::with_capacity(text.len() + text.len() / 64);
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Frames the PTY bytes (in 4 KiB reads, like the runner) and decodes every line.
#[divan::bench(args = FILES)]
fn frame_and_decode(bencher: Bencher, name: &str) {
    let bytes = fixture(name);
    bencher.counter(BytesCount::of_slice(&bytes)).bench(|| ours(&bytes));
}

fn ours(bytes: &[u8]) -> usize {
    let mut framer = Framer::new(DEFAULT_MAX_LINE_BYTES);
    let mut frames = Vec::new();
    let mut events = 0usize;
    for chunk in bytes.chunks(4096) {
        framer.push(chunk, &mut frames);
        for f in frames.drain(..) {
            if let Frame::Line(s) = f {
                divan::black_box(decode_line(&s));
                events += 1;
            }
        }
    }
    events
}

/// The baseline: the same lines, already cut, parsed into a `Value` tree.
#[divan::bench(args = FILES)]
fn serde_value_baseline(bencher: Bencher, name: &str) {
    let bytes = fixture(name);
    let lines = cut(&bytes);
    bencher.counter(BytesCount::of_slice(&bytes)).bench(|| baseline(&lines));
}

fn cut(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect()
}

fn baseline(lines: &[&[u8]]) -> usize {
    let mut events = 0usize;
    for l in lines {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) {
            divan::black_box(v);
            events += 1;
        }
    }
    events
}

/// The goal's ratio per input, measured here in the same run: rounds of each side in turn over
/// about 16 MB, median of 7 rounds.
fn ratios() {
    println!(
        "decode ratios (throughput of framing + typed decoding / serde_json::Value; goal >= 0.8x):"
    );
    let mut all = (0.0, 0.0);
    for name in FILES {
        let bytes = fixture(name);
        let lines = cut(&bytes);
        let reps = (16usize << 20) / bytes.len().max(1) + 1;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                divan::black_box(ours(&bytes));
            }
            a.push(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            for _ in 0..reps {
                divan::black_box(baseline(&lines));
            }
            b.push(t.elapsed().as_secs_f64());
        }
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        let (ta, tb) = (a[3], b[3]);
        let mb = (bytes.len() * reps) as f64 / 1e6;
        all.0 += ta;
        all.1 += tb;
        println!("  {name:<50} {:>7.0} MB/s vs {:>7.0} MB/s: {:.2}x", mb / ta, mb / tb, tb / ta);
    }
    println!("  {:<50} {:.2}x", "all inputs (same volume each)", all.1 / all.0);
}
