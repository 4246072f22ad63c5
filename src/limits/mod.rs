//! The subscription's usage windows (five hours, seven days, ...), folded from the CLI's
//! `rate_limit_event` lines, and the governor that holds turns back as they fill up.
//!
//! # What the CLI reports (measured against a stand-in API, logged in as a subscriber)
//! Each API response's `anthropic-ratelimit-unified-*` headers are read by the CLI, which writes
//! a `rate_limit_event` whenever what it read differs from what it had (so once per process
//! when nothing changes; at least once, `{"status":"allowed"}`, even with no headers at all).
//! - `-status` (allowed, allowed_warning, rejected; any other word is passed through),
//!   `-reset` (Unix seconds; 2.1.197 passes a fraction through, 2.1.332 rounds it; a word
//!   becomes `null`) and `-representative-claim` (five_hour, seven_day, ...) become
//!   `rate_limit_info.status`, `resetsAt` and `rateLimitType`.
//! - `allowed_warning` in `-status` alone is reported as `allowed` by both versions. A warning
//!   comes from the per-window headers: `-5h-surpassed-threshold` (or 7d, 7d_oi, overage), or
//!   a window's `-utilization` high for its time left (5h: 90% with under 72% of the window
//!   gone). The warning then carries `utilization` and `surpassedThreshold` for that window.
//! - 2.1.197 says nothing else about `-5h-utilization`/`-5h-reset`, `-7d-...`: without a
//!   warning the use is unknown. 2.1.332 adds `unifiedWindows: {five_hour: {utilization,
//!   resetsAt, status?, surpassedThreshold?}, seven_day: {...}}` for every window whose
//!   `-utilization` and `-reset` were both sent (`-5h-status` adds its status), leaving out
//!   windows whose reset is already past.
//! - A 429 with `-status: rejected` is one `rejected` event (with the windows, 2.1.332), then
//!   the refusal ("You've hit your session limit · resets 10:44am (UTC)"), not retried. A 429
//!   without these headers: 2.1.197 reports `{"status":"rejected"}` without a window or reset
//!   and gives up ("Server is temporarily limiting requests (not your usage limit)"); 2.1.332
//!   retries it as a server error.

pub mod burn;
pub mod governor;

use std::time::{Duration, Instant};

use crate::agent::event::RateLimitEvent;

/// One usage window as last reported. Any field may be unknown.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// The CLI's name: "five_hour", "seven_day", "seven_day_opus", ...
    pub name: String,
    /// 0 to 1 (a full window reads a little over 1).
    pub utilization: Option<f64>,
    /// The CLI's word: "allowed", "allowed_warning", "rejected", or something newer.
    pub status: Option<String>,
    /// Unix seconds.
    pub resets_at: Option<i64>,
    /// When this reading arrived, on both clocks: a reset is due at `resets_at` on the wall
    /// clock or after the time it had left then, whichever comes first, so a clock set back
    /// never holds a turn past its reset.
    seen: Option<Seen>,
    /// The first use read in this window (Unix seconds, fraction): the pace is measured from it.
    first: Option<(i64, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Seen {
    wall: i64,
    mono: Instant,
}

/// The time the limits are judged at: the wall clock (reset times are Unix seconds) and the
/// monotonic one (which no clock change moves).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Now {
    pub wall: i64,
    pub mono: Instant,
}

impl Now {
    pub fn system() -> Now {
        Now { wall: wall_clock(), mono: Instant::now() }
    }
}

/// Unix seconds from the system clock (0 if it is before 1970).
pub fn wall_clock() -> i64 {
    i64::try_from(wall_clock_ms() / 1000).unwrap_or(i64::MAX)
}

/// Unix milliseconds from the system clock (0 if it is before 1970).
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How close a window is to its limit, for colour and for the words shown without a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Unknown,
    Fine,
    Near,
    Warning,
    Rejected,
}

impl Window {
    fn new(name: &str) -> Window {
        Window {
            name: name.to_string(),
            utilization: None,
            status: None,
            resets_at: None,
            seen: None,
            first: None,
        }
    }

    /// A window as another process reported it (`ls`): its reset is judged on the wall clock.
    pub fn reading(
        name: &str,
        utilization: Option<f64>,
        status: Option<String>,
        resets_at: Option<i64>,
    ) -> Window {
        Window { utilization, status, resets_at, ..Window::new(name) }
    }

    /// The window as it stands at `now`: unknown once it has reset.
    pub fn as_of(&self, now: Now) -> Window {
        if self.has_reset(now) {
            Window::new(&self.name)
        } else {
            self.clone()
        }
    }

    /// Whether the window has reset since it was read (then nothing about it is known).
    pub fn has_reset(&self, now: Now) -> bool {
        self.reset_in(now) == Some(Duration::ZERO)
    }

    /// How long until the window resets, on whichever clock says sooner; `None` if unknown.
    pub fn reset_in(&self, now: Now) -> Option<Duration> {
        let at = self.resets_at?;
        let by_wall = at.saturating_sub(now.wall);
        let by_mono = self.seen.map_or(by_wall, |s| {
            let left = at.saturating_sub(s.wall);
            let gone = now.mono.saturating_duration_since(s.mono).as_secs();
            left.saturating_sub(i64::try_from(gone).unwrap_or(i64::MAX))
        });
        Some(Duration::from_secs(by_wall.min(by_mono).max(0) as u64))
    }

    /// When the window runs out at the pace since its first reading (Unix seconds), if that
    /// comes before its reset: the forecast. Needs two readings at least a minute apart.
    pub fn runs_out_at(&self) -> Option<i64> {
        let ((t0, u0), t1, u1) = (self.first?, self.seen?.wall, self.utilization?);
        if t1 < t0 + 60 || u1 <= u0 || u1 >= 1.0 {
            return None;
        }
        let per_second = (u1 - u0) / (t1 - t0) as f64;
        let out = t1.saturating_add(((1.0 - u1) / per_second).ceil() as i64);
        (out < self.resets_at?).then_some(out)
    }

    /// The forecast in words the panel can say: when it runs out at this pace, that it lasts
    /// to its reset, or unknown (fewer than two readings a minute apart, no use or reset told).
    pub fn forecast(&self) -> Forecast {
        if let Some(out) = self.runs_out_at() {
            return Forecast::OutAt(out);
        }
        let measured = match (self.first, self.seen, self.utilization, self.resets_at) {
            (Some((t0, _)), Some(s), Some(u), Some(_)) => s.wall >= t0 + 60 && u < 1.0,
            _ => false,
        };
        if measured {
            Forecast::Lasts
        } else {
            Forecast::Unknown
        }
    }

    /// The use in whole percent, when known.
    pub fn percent(&self) -> Option<u32> {
        self.utilization.map(|u| (u * 100.0).round().clamp(0.0, 999.0) as u32)
    }

    pub fn level(&self) -> Level {
        let by_status = match self.status.as_deref() {
            Some("rejected") => Level::Rejected,
            Some("allowed_warning") => Level::Warning,
            Some("allowed") => Level::Fine,
            _ => Level::Unknown,
        };
        let by_use = match self.percent() {
            Some(p) if p >= 100 => Level::Rejected,
            Some(p) if p >= 90 => Level::Warning,
            Some(p) if p >= 70 => Level::Near,
            Some(_) => Level::Fine,
            None => Level::Unknown,
        };
        by_status.max(by_use)
    }

    /// The short name: "5h", "7d", "7d opus", or the CLI's name with spaces.
    pub fn label(&self) -> String {
        match self.name.as_str() {
            "five_hour" => "5h".into(),
            "seven_day" => "7d".into(),
            other => match other.strip_prefix("seven_day_") {
                Some(rest) => format!("7d {}", rest.replace('_', " ")),
                None => other.replace('_', " "),
            },
        }
    }

    fn rank(&self) -> (u8, &str) {
        let known = match self.name.as_str() {
            "five_hour" => 0,
            "seven_day" => 1,
            n if n.starts_with("seven_day") => 2,
            _ => 3,
        };
        (known, &self.name)
    }

    /// A reading for the same window: a later reset starts a new window, whose earlier use
    /// and status are no longer true.
    fn read(
        &mut self,
        utilization: Option<f64>,
        status: Option<&str>,
        resets_at: Option<i64>,
        wall: i64,
    ) {
        if let Some(at) = resets_at {
            if self.resets_at.is_some_and(|old| old != at) {
                self.utilization = None;
                self.status = None;
                self.first = None;
            }
            self.resets_at = Some(at);
        }
        if let (None, Some(u)) = (self.first, utilization) {
            self.first = Some((wall, u));
        }
        if utilization.is_some() {
            self.utilization = utilization;
        }
        if let Some(s) = status.filter(|s| !s.is_empty()) {
            self.status = Some(s.to_string());
        }
    }
}

/// When a window runs out at the pace since its first reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forecast {
    Unknown,
    /// At this time (Unix seconds), before its reset.
    OutAt(i64),
    /// Not before its reset.
    Lasts,
}

/// Every window the CLIs reported, in a fixed order (5h, 7d, the other weeklies, the rest).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    windows: Vec<Window>,
}

impl Limits {
    /// Folds one `rate_limit_event` in: its named window (`rateLimitType`) gets the status,
    /// reset and (with a warning) use; each of `unifiedWindows` its own. An event naming no
    /// window says nothing about any.
    pub fn apply(&mut self, ev: &RateLimitEvent, now: Now) {
        if let Some(name) = ev.limit_type.as_deref().filter(|n| !n.is_empty()) {
            let w = self.window_mut(name);
            w.read(ev.utilization, ev.status.as_deref(), ev.resets_at, now.wall);
            w.seen = Some(Seen { wall: now.wall, mono: now.mono });
        }
        for r in ev.windows.iter().filter(|r| !r.name.is_empty()) {
            let w = self.window_mut(&r.name);
            w.read(r.utilization, r.status.as_deref(), r.resets_at, now.wall);
            w.seen = Some(Seen { wall: now.wall, mono: now.mono });
        }
    }

    fn window_mut(&mut self, name: &str) -> &mut Window {
        let i = match self.windows.iter().position(|w| w.name == name) {
            Some(i) => i,
            None => {
                self.windows.push(Window::new(name));
                self.windows.sort_by(|a, b| a.rank().cmp(&b.rank()));
                self.windows.iter().position(|w| w.name == name).unwrap_or(0)
            }
        };
        &mut self.windows[i]
    }

    /// The windows as they stand at `now`: one that has reset since it was read is unknown
    /// (its use starts again from nothing the CLI told us yet).
    pub fn at(&self, now: Now) -> Vec<Window> {
        self.windows.iter().map(|w| w.as_of(now)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The windows as last read (a reset since is not applied: see [`Limits::at`]).
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// Windows read back from an earlier run: their resets are judged on the wall clock.
    pub fn from_readings(mut windows: Vec<Window>) -> Limits {
        windows.retain(|w| !w.name.is_empty());
        windows.sort_by(|a, b| a.rank().cmp(&b.rank()));
        windows.dedup_by(|a, b| a.name == b.name);
        Limits { windows }
    }

    /// When the next known reset comes (for the loop's wake-up), as a monotonic instant.
    pub fn next_reset(&self, now: Now) -> Option<Instant> {
        self.windows
            .iter()
            .filter_map(|w| w.reset_in(now))
            .filter(|d| !d.is_zero())
            .min()
            .map(|d| now.mono + d)
    }
}

/// One window on the limits line: `5h 85% ↺18:33`, or without a figure its status
/// (`7d warning ↺Tue 09:44`); unknown as `5h ?`.
pub fn window_text(w: &Window, now: Now) -> String {
    let mut text = w.label();
    match (w.percent(), w.status.as_deref()) {
        (Some(p), _) => text.push_str(&format!(" {p}%")),
        (None, Some("allowed")) => text.push_str(" ok"),
        (None, Some("allowed_warning")) => text.push_str(" warning"),
        (None, Some("rejected")) => text.push_str(" limit"),
        (None, Some(other)) => text.push_str(&format!(" {}", other.replace('_', " "))),
        (None, None) => text.push_str(" ?"),
    }
    // The five-hour reset always matters; a longer window's only once it nears its limit.
    let worth = w.name == "five_hour" || w.level() >= Level::Near || w.percent().is_none();
    if let (true, Some(at)) = (worth, w.resets_at.filter(|_| !w.has_reset(now))) {
        text.push_str(&format!(" ↺{}", reset_clock(at, now.wall)));
    }
    if let Some(out) = w.runs_out_at().filter(|_| !w.has_reset(now)) {
        text.push_str(&format!(" (out ~{})", reset_clock(out, now.wall)));
    }
    text
}

/// A reset time: "18:33" within a day, "Tue 09:44" beyond (UTC, as the CLI's own messages).
pub fn reset_clock(at: i64, now: i64) -> String {
    let secs = at.rem_euclid(86_400);
    let hm = format!("{:02}:{:02}", secs / 3600, (secs % 3600) / 60);
    if at - now < 20 * 3600 {
        return hm;
    }
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!("{} {hm}", DAYS[at.div_euclid(86_400).rem_euclid(7) as usize])
}

/// The whole limits line, windows joined with " · "; empty when nothing was reported.
pub fn line_text(windows: &[Window], now: Now) -> String {
    windows.iter().map(|w| window_text(w, now)).collect::<Vec<_>>().join(" · ")
}

#[cfg(test)]
mod tests;
