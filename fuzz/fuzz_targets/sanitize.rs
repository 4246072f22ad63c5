//! The one sanitizer: its output never holds a character a terminal would obey, and a second
//! pass leaves it as it is.
#![no_main]

use agentmux::render::sanitize::{for_input, is_clean, is_unsafe, sanitize, sanitize_lines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let out = sanitize(text);
    assert!(!out.chars().any(|c| c.is_control() || is_unsafe(c)), "{text:?} -> {out:?}");
    assert!(is_clean(&out));
    assert_eq!(sanitize(&out), out);
    for line in sanitize_lines(text) {
        assert!(!line.chars().any(|c| c.is_control() || is_unsafe(c)));
    }
    assert!(!for_input(text).chars().any(|c| c != '\n' && c != '\t' && is_unsafe(c)));
});
