//! The app's whole screen for a `State`, drawn on ratatui's TestBackend.

#![allow(dead_code)] // each test binary uses a different part of the support code

use agentmux::app::State;

/// The screen drawn for `state` at its size, as text: one line per row, every cell kept.
pub fn screen(state: &State) -> String {
    let (w, h) = state.size;
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h))
        .unwrap_or_else(|e| panic!("terminal: {e}"));
    t.draw(|f| agentmux::ui::view(state, f)).unwrap_or_else(|e| panic!("draw: {e}"));
    let buf = t.backend().buffer();
    (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n").collect()
}
