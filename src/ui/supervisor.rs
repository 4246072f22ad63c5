//! The supervisor's pane: an agent pane marked as the team's lead (◆, magenta), placed in a
//! column of its own by the layout.

use ratatui::buffer::Buffer;

use crate::app::State;
use crate::layout::Placed;

pub fn render(state: &State, placed: &Placed, buf: &mut Buffer) {
    super::pane::render(state, placed, buf);
}
