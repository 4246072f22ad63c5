//! Framing + typed decoding of real CLI captures, against the baseline of parsing the same lines
//! into `serde_json::Value`. Run: `cargo bench --bench decode`; compare the two per file.

use std::path::{Path, PathBuf};

use agentmux::agent::decode::{decode_line, Frame, Framer};
use agentmux::agent::DEFAULT_MAX_LINE_BYTES;
use divan::counter::BytesCount;
use divan::Bencher;

fn main() {
    divan::main();
}

const FILES: &[&str] = &[
    "foksa-2.1.29-hello-world",
    "foksa-2.1.29-plan-mode-ls",
    "foksa-2.1.29-streaming-haiku",
    "nairid-1.0.x-refactor-session-head40",
];

fn fixture(name: &str) -> Vec<u8> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stream-json");
    // The PTY form: every line ends in \r\n.
    let text = std::fs::read(dir.join(format!("{name}.ndjson"))).unwrap_or_default();
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
    bencher.counter(BytesCount::of_slice(&bytes)).bench(|| {
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
    });
}

/// The baseline: the same lines, already cut, parsed into a `Value` tree.
#[divan::bench(args = FILES)]
fn serde_value_baseline(bencher: Bencher, name: &str) {
    let bytes = fixture(name);
    let lines: Vec<&[u8]> =
        bytes.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
    bencher.counter(BytesCount::of_slice(&bytes)).bench(|| {
        let mut events = 0usize;
        for l in &lines {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) {
                divan::black_box(v);
                events += 1;
            }
        }
        events
    });
}
