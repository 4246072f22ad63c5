//! One full frame at 200x60 with 16 panes, for transcripts of 1,000 and 100,000 lines each
//! (Markdown with tables and code, tool calls, some expanded). Goal: the 100,000-line frame
//! costs at most 1.2x the 1,000-line one. Run: `cargo bench --bench render`.
//!
//! - `frame`: nothing changed since the last frame (all panes idle, following the bottom).
//! - `frame_streaming`: every pane receives one text delta before each frame (16 live agents).
//! - `frame_scrolled`: every pane scrolled up to a different place each frame (paging through
//!   history), so visible cells are rendered, not just copied from the cache.
//! - `relayout`: the first frame after a resize: every height is measured again at the new
//!   width (what a resize costs once, not per frame).

use agentmux::agent::event::{
    ContentBlock, Event, Line as AgentLine, MessageEvent, StreamEvent, StreamKind,
};
use agentmux::transcript::{Scroll, Transcript, TranscriptView, TurnFooter, TurnStatus};
use divan::Bencher;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Widget};
use serde_json::json;

fn main() {
    divan::main();
    ratios();
}

/// The goal's ratio, measured here in the same run: the 100,000-line frame's time over the
/// 1,000-line one's, rounds of 50 frames each in turn, median of 9 rounds.
fn ratios() {
    let small = setup(SIZES[0]);
    let large = setup(SIZES[1]);
    let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT));
    let round = |(ts, rects): &(Vec<Transcript>, Vec<Rect>), scrolled: bool, buf: &mut Buffer| {
        let mut scrolls = vec![Scroll::new(); ts.len()];
        let t = std::time::Instant::now();
        for step in 0..50usize {
            if scrolled {
                for (i, (tr, s)) in ts.iter().zip(&mut scrolls).enumerate() {
                    let v = TranscriptView::viewport(tr, body(rects[i]));
                    *s = Scroll::new();
                    s.up((step * 37 + i * 101) % v.total.max(1), v);
                }
            }
            draw(ts, &scrolls, rects, buf);
            divan::black_box(&*buf);
        }
        t.elapsed().as_secs_f64() / 50.0
    };
    println!("render ratios (100,000-line frame / 1,000-line frame; goal <= 1.2x):");
    for scrolled in [false, true] {
        // A first frame each, so the cached layout is what is measured.
        round(&small, scrolled, &mut buf);
        round(&large, scrolled, &mut buf);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..9 {
            a.push(round(&small, scrolled, &mut buf));
            b.push(round(&large, scrolled, &mut buf));
        }
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        println!(
            "  {:<9} 1,000 lines {:>8.1} µs, 100,000 lines {:>8.1} µs: {:.2}x",
            if scrolled { "scrolled" } else { "idle" },
            a[4] * 1e6,
            b[4] * 1e6,
            b[4] / a[4]
        );
    }
}

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
const PANES: u16 = 16;
const SIZES: [usize; 2] = [1_000, 100_000];

const ANSWER: &str = "## Findings\n\nThe decoder spends most of its time in **serde**; the framer is cheap. \
See `decode_line` and [the notes](https://example.com/notes).\n\n\
| stage | time | share |\n|---|--:|--:|\n| frame | 12 µs | 20% |\n| decode | 48 µs | 75% |\n| apply | 3 µs | 5% |\n\n\
```rust\nfn decode_line(line: &str) -> Line {\n    match serde_json::from_str(line) {\n        Ok(v) => Line::Event(v),\n        Err(_) => Line::Text(line.to_string()),\n    }\n}\n```\n\n\
1. frame the bytes\n2. decode them\n   - keep unknown events\n   - never panic\n3. apply to the transcript\n\n\
> Wide text wraps too: 漢字かな交じり文 🦀.\n";

fn assistant(msg: &str, block: ContentBlock) -> AgentLine {
    AgentLine::Event(Event::Assistant(MessageEvent {
        message_id: Some(msg.to_string()),
        content: vec![block],
        ..Default::default()
    }))
}

fn result(id: &str, content: String) -> AgentLine {
    AgentLine::Event(Event::User(MessageEvent {
        content: vec![ContentBlock::ToolResult {
            tool_use_id: id.to_string(),
            content,
            is_error: false,
        }],
        ..Default::default()
    }))
}

/// A transcript of at least `lines` lines at `width`: turns of a prompt, a Markdown answer
/// with a table and code, three tool calls (one expanded, with a 12-line result) and a footer.
fn transcript(lines: usize, width: u16) -> Transcript {
    let mut t = Transcript::new();
    let mut turn = 0;
    while t.height(width) < lines {
        turn += 1;
        t.push_prompt(&format!("Step {turn}: profile the decoder and report."));
        let m = format!("msg_{turn}");
        // Each turn's code differs, so highlighting is not shared across turns.
        let answer = ANSWER.replace("fn decode_line", &format!("fn decode_line_{turn}"));
        t.apply(&assistant(&m, ContentBlock::Text { text: answer }));
        let bash = format!("b{turn}");
        t.apply(&assistant(
            &m,
            ContentBlock::ToolUse {
                id: bash.clone(),
                name: "Bash".into(),
                input: json!({"command": "cargo bench --bench decode", "description": "Run the decode bench"}),
            },
        ));
        let out: Vec<String> = (0..12).map(|i| format!("bench line {i}: 1.23 µs ± 0.01")).collect();
        t.apply(&result(&bash, out.join("\n")));
        let read = format!("r{turn}");
        t.apply(&assistant(
            &m,
            ContentBlock::ToolUse {
                id: read.clone(),
                name: "Read".into(),
                input: json!({"file_path": "src/agent/decode.rs"}),
            },
        ));
        t.apply(&result(&read, "     1→use serde_json::Value;\n".repeat(40)));
        let edit = format!("e{turn}");
        t.apply(&assistant(
            &m,
            ContentBlock::ToolUse {
                id: edit.clone(),
                name: "Edit".into(),
                input: json!({"file_path": "src/agent/decode.rs", "old_string": "a\nb", "new_string": "a\nb\nc"}),
            },
        ));
        t.apply(&result(&edit, "The file has been updated.".into()));
        let bash_cell = t.len() - 3;
        t.set_expanded(bash_cell, true);
        t.end_turn(TurnFooter {
            status: TurnStatus::Done,
            duration_ms: Some(12_300),
            cost_usd: Some(0.0123),
            num_turns: Some(3),
            tokens: Some(45_000),
            progress: None,
        });
    }
    t
}

/// A 4x4 grid of bordered panes.
fn panes() -> Vec<Rect> {
    let cols = 4u16;
    let rows = PANES / cols;
    let (w, h) = (WIDTH / cols, HEIGHT / rows);
    (0..PANES).map(|i| Rect::new((i % cols) * w, (i / cols) * h, w, h)).collect()
}

fn body(pane: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(pane)
}

/// One pane's transcript, cloned for the 16 panes (a clone measures afresh).
fn setup(lines: usize) -> (Vec<Transcript>, Vec<Rect>) {
    let rects = panes();
    let one = transcript(lines, body(rects[0]).width);
    let ts: Vec<Transcript> = (0..PANES).map(|_| one.clone()).collect();
    (ts, rects)
}

fn draw(ts: &[Transcript], scrolls: &[Scroll], rects: &[Rect], buf: &mut Buffer) {
    buf.reset();
    for ((t, scroll), &pane) in ts.iter().zip(scrolls).zip(rects) {
        let block = Block::default().borders(Borders::ALL).title(" agent ");
        let inner = block.inner(pane);
        block.render(pane, buf);
        TranscriptView::new(t, scroll).render(inner, buf);
    }
}

#[divan::bench(args = SIZES, sample_count = 200)]
fn frame(bencher: Bencher, lines: usize) {
    let (ts, rects) = setup(lines);
    let scrolls = vec![Scroll::new(); ts.len()];
    let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT));
    draw(&ts, &scrolls, &rects, &mut buf);
    bencher.bench_local(|| {
        draw(&ts, &scrolls, &rects, &mut buf);
        divan::black_box(&buf);
    });
}

#[divan::bench(args = SIZES, sample_count = 200)]
fn frame_streaming(bencher: Bencher, lines: usize) {
    let (mut ts, rects) = setup(lines);
    for t in &mut ts {
        t.push_prompt("Go on.");
    }
    let scrolls = vec![Scroll::new(); ts.len()];
    let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT));
    draw(&ts, &scrolls, &rects, &mut buf);
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        // A new turn now and then, so every sample streams into an answer of similar size.
        if n % 480 == 0 {
            for t in &mut ts {
                t.push_prompt("Go on.");
            }
        }
        // A paragraph break now and then, as real answers have: the tail stays small.
        let text =
            if n % 24 == 0 { "done.\n\n".to_string() } else { format!("word{n} and **more** ") };
        let delta = AgentLine::Event(Event::Stream(StreamEvent {
            parent_tool_use_id: None,
            session_id: None,
            kind: StreamKind::TextDelta { index: 0, text },
        }));
        for t in &mut ts {
            t.apply(&delta);
        }
        draw(&ts, &scrolls, &rects, &mut buf);
        divan::black_box(&buf);
    });
}

#[divan::bench(args = SIZES, sample_count = 200)]
fn frame_scrolled(bencher: Bencher, lines: usize) {
    let (ts, rects) = setup(lines);
    let mut scrolls = vec![Scroll::new(); ts.len()];
    let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT));
    draw(&ts, &scrolls, &rects, &mut buf);
    let mut step = 0usize;
    bencher.bench_local(|| {
        step += 1;
        for (i, (t, s)) in ts.iter().zip(&mut scrolls).enumerate() {
            let v = TranscriptView::viewport(t, body(rects[i]));
            // Each pane pages to its own place, different every frame.
            *s = Scroll::new();
            s.up((step * 37 + i * 101) % v.total.max(1), v);
        }
        draw(&ts, &scrolls, &rects, &mut buf);
        divan::black_box(&buf);
    });
}

#[divan::bench(args = SIZES, sample_count = 5, sample_size = 1)]
fn relayout(bencher: Bencher, lines: usize) {
    let (ts, rects) = setup(lines);
    let scrolls = vec![Scroll::new(); ts.len()];
    let mut buf = Buffer::empty(Rect::new(0, 0, WIDTH, HEIGHT));
    let narrow: Vec<Rect> =
        rects.iter().map(|r| Rect::new(r.x, r.y, r.width - 1, r.height)).collect();
    let mut flip = false;
    bencher.bench_local(|| {
        flip = !flip;
        let rs = if flip { &narrow } else { &rects };
        draw(&ts, &scrolls, rs, &mut buf);
        divan::black_box(&buf);
    });
}

/// One Markdown answer (table, code, lists) rendered at a pane's width, with and without
/// syntax highlighting: what a cell costs when it first comes into view.
#[divan::bench(args = [false, true])]
fn markdown_answer(bencher: Bencher, highlight: bool) {
    let mut n = 0u64;
    bencher.bench_local(|| {
        // New code every time: the cost of a first sight, not of the highlight cache.
        n += 1;
        let text = ANSWER.replace("fn decode_line", &format!("fn decode_line_{n}"));
        agentmux::render::markdown_lines(&text, 46, highlight).len()
    });
}
