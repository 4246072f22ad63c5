//! PTY bytes through the framer (split where the input says) and every line through the
//! decoder: no panic, and framing never depends on where a read splits.
#![no_main]

use agentmux::agent::decode::{Frame, Framer};
use libfuzzer_sys::fuzz_target;

fn frames(chunks: &[&[u8]]) -> Vec<Frame> {
    let mut framer = Framer::new(1 << 20);
    let mut out = Vec::new();
    for c in chunks {
        framer.push(c, &mut out);
    }
    framer.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let at = usize::from(split).min(bytes.len());
    let whole = frames(&[bytes]);
    assert_eq!(frames(&[&bytes[..at], &bytes[at..]]), whole);
    for frame in whole {
        let _ = frame.decode();
    }
});
