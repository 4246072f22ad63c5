//! The supervisor: an agent that hands out work with `agentmux send` and gets the workers'
//! reports back as its next turn.
//!
//! - [`prompt`]: its appended system prompt and default tool rules, generated from the team.
//! - [`relay`]: which worker turns it started, the batched reports, and the guard rails
//!   (pure state: the app passes the time in).

pub mod prompt;
pub mod relay;

pub use prompt::{supervisor_prompt, supervisor_spec, DEFAULT_ALLOWED_TOOLS};
pub use relay::{
    Limit, LogEntry, LogKind, Relay, RelayAction, RelayLimits, RelayTurn, Stop, TaskId,
};

use crate::config::SupervisorConfig;

/// What the app keeps about supervision (in its state, for the supervisor pane to show): the
/// relay, and how to show clock times.
#[derive(Clone, Debug)]
pub struct Supervision {
    pub relay: Relay,
    /// Added to Unix time to show local clock times (0: UTC).
    pub utc_offset_secs: i64,
}

/// Relay log lines the supervisor pane shows at most.
pub const BOARD_LOG_LINES: usize = 4;
/// Rows the stop note may take.
pub const BOARD_STOP_LINES: usize = 5;

impl Supervision {
    pub fn new(config: &SupervisorConfig) -> Self {
        Supervision {
            relay: Relay::new(config.spec.name.clone(), RelayLimits::from_config(config)),
            utc_offset_secs: 0,
        }
    }

    /// Rows of the team board above the supervisor's conversation, for a team of `agents` and a
    /// body of `body_width` x `body_rows`: the table (a header and one row per agent), the last
    /// relay log lines, the stop note (wrapped, at most [`BOARD_STOP_LINES`]), a rule. At most
    /// half the body, and nothing when that leaves too little of either.
    pub fn board_rows(&self, agents: usize, body_width: u16, body_rows: u16) -> u16 {
        let log = self.relay.log().len().min(BOARD_LOG_LINES);
        let wanted = 1 + agents + log + self.stop_rows(body_width) + 1;
        let room = usize::from(body_rows / 2);
        if room < 4 {
            return 0;
        }
        wanted.min(room) as u16
    }

    /// The stop note's rows at a width (0 while the relay runs).
    pub fn stop_rows(&self, width: u16) -> usize {
        match self.relay.stopped() {
            None => 0,
            Some(s) => {
                let w = usize::from(width.max(1));
                let cells = unicode_width::UnicodeWidthStr::width(s.note().as_str()) + 2;
                // Word wrapping loses a little at each break.
                (cells.div_ceil(w) + cells / w / 4).clamp(1, BOARD_STOP_LINES)
            }
        }
    }

    /// `HH:MM:SS` of a Unix time in milliseconds, in local time.
    pub fn clock(&self, ms: relay::Millis) -> String {
        let secs = (ms / 1000) as i64 + self.utc_offset_secs;
        let day = secs.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
    }
}
