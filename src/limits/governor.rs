//! The governor: which agents may start a turn now, given the usage windows. A pure function
//! of (windows, agents, policy, now), so every rule below has a row in the table test.
//!
//! - A window the API refused (`rejected`, or its use at 100%) holds every agent until it
//!   resets: any turn would be refused too.
//! - With `pause_at` (percent), an agent holds once a window's use reaches its threshold: the
//!   highest priority's is `pause_at`, each lower priority level's [`PRIORITY_STEP`] points
//!   less, so the least important agents hold first.
//! - A turn the API refused holds its agent until the refusal's reset, or for
//!   [`UNKNOWN_RESET_WAIT`] when the CLI gave none.
//! - A hold the user released (a key, `agentmux resume`) lets that agent start until the hold
//!   changes (a new reset time).
//! - A hold ends at the window's reset at the latest (the windows come in as they stand at
//!   `now`: one that has reset is unknown, and unknown use holds nobody).
//!
//! Running turns are never stopped: the decisions only say whether a new turn may start.

use super::{reset_clock, Level, Now, Window};

/// How many percentage points lower each priority level below the highest holds.
pub const PRIORITY_STEP: u32 = 5;
/// How long a refused turn waits when the CLI said nothing of the reset (seconds).
pub const UNKNOWN_RESET_WAIT: i64 = 300;

/// `[limits]` in the team file or the user's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Hold new turns once a window's use reaches this percentage; `None`: only refusals hold.
    pub pause_at: Option<u32>,
}

impl Policy {
    /// These settings with `lower`'s where these are unset.
    pub fn over(self, lower: Policy) -> Policy {
        Policy { pause_at: self.pause_at.or(lower.pause_at) }
    }
}

/// What the governor knows of one agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Candidate {
    /// Higher is more important (0 by default).
    pub priority: i32,
    /// Its last turn was refused: Unix seconds when it may run again.
    pub refused_until: Option<i64>,
    /// The user released the hold that resumes at this time (`Some(None)`: one with no known
    /// resume time).
    pub released: Option<Option<i64>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Start,
    Hold(Hold),
}

/// Why an agent waits, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// What holds it: "5h 91%", "7d limit", "refused".
    pub reason: String,
    /// Unix seconds; `None` when no reset time is known.
    pub resumes_at: Option<i64>,
}

impl Hold {
    /// "held: 5h 91%, resumes 18:33".
    pub fn text(&self, now: i64) -> String {
        match self.resumes_at {
            Some(at) => format!("held: {}, resumes {}", self.reason, reset_clock(at, now)),
            None => format!("held: {}", self.reason),
        }
    }
}

/// One decision per agent, in the order given.
pub fn decide(windows: &[Window], agents: &[Candidate], policy: Policy, now: Now) -> Vec<Decision> {
    let levels = priority_levels(agents);
    agents
        .iter()
        .map(|a| {
            let threshold = policy.pause_at.map(|p| {
                let below = levels.iter().filter(|&&l| l > a.priority).count() as u32;
                p.saturating_sub(below * PRIORITY_STEP).max(1)
            });
            match hold_for(windows, a, threshold, now) {
                Some(h) if a.released != Some(h.resumes_at) => Decision::Hold(h),
                _ => Decision::Start,
            }
        })
        .collect()
}

/// The distinct priorities, highest first.
fn priority_levels(agents: &[Candidate]) -> Vec<i32> {
    let mut levels: Vec<i32> = agents.iter().map(|a| a.priority).collect();
    levels.sort_unstable_by(|a, b| b.cmp(a));
    levels.dedup();
    levels
}

fn hold_for(windows: &[Window], a: &Candidate, threshold: Option<u32>, now: Now) -> Option<Hold> {
    let over: Vec<&Window> = windows
        .iter()
        .filter(|w| {
            let refused = w.level() == Level::Rejected;
            let past = matches!((w.percent(), threshold), (Some(p), Some(t)) if p >= t);
            refused || past
        })
        .collect();
    if let Some(worst) = over.iter().max_by_key(|w| (w.level(), w.percent())) {
        // Held until every window over its threshold has reset.
        let resumes_at =
            over.iter().map(|w| w.resets_at).try_fold(i64::MIN, |m, r| Some(m.max(r?)));
        return Some(Hold { reason: reason(worst), resumes_at });
    }
    let until = a.refused_until?;
    (until > now.wall).then(|| Hold { reason: "refused".into(), resumes_at: Some(until) })
}

fn reason(w: &Window) -> String {
    match w.percent() {
        Some(p) => format!("{} {p}%", w.label()),
        None => format!("{} limit", w.label()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const NOW: i64 = 1_796_288_400; // 09:00 UTC
    const RESET: i64 = NOW + 3600 + 33 * 60; // 10:33

    fn window(name: &str, percent: Option<u32>, status: &str, resets_at: Option<i64>) -> Window {
        Window {
            utilization: percent.map(|p| f64::from(p) / 100.0),
            status: Some(status.to_string()).filter(|s| !s.is_empty()),
            resets_at,
            ..Window::new(name)
        }
    }

    fn agent(priority: i32) -> Candidate {
        Candidate { priority, ..Default::default() }
    }

    fn held(reason: &str, resumes_at: Option<i64>) -> Decision {
        Decision::Hold(Hold { reason: reason.into(), resumes_at })
    }

    /// A name, the windows, the agents, the policy and the decisions wanted.
    type Case = (&'static str, Vec<Window>, Vec<Candidate>, Policy, Vec<Decision>);

    #[test]
    fn decisions() {
        let five = |p| window("five_hour", Some(p), "allowed", Some(RESET));
        let week = |p| window("seven_day", Some(p), "allowed", Some(RESET + 86_400));
        let pause = |p| Policy { pause_at: Some(p) };
        let refused = Candidate { refused_until: Some(RESET), ..agent(0) };
        let released = Candidate { released: Some(Some(RESET)), ..agent(0) };
        let cases: Vec<Case> = vec![
            ("nothing known starts", vec![], vec![agent(0)], pause(90), vec![Decision::Start]),
            (
                "below the threshold",
                vec![five(89)],
                vec![agent(0)],
                pause(90),
                vec![Decision::Start],
            ),
            (
                "at the threshold",
                vec![five(90)],
                vec![agent(0)],
                pause(90),
                vec![held("5h 90%", Some(RESET))],
            ),
            (
                "no policy: use alone holds nobody",
                vec![five(95)],
                vec![agent(0)],
                Policy::default(),
                vec![Decision::Start],
            ),
            (
                "a refused window holds all",
                vec![window("five_hour", None, "rejected", Some(RESET))],
                vec![agent(0), agent(9)],
                Policy::default(),
                vec![held("5h limit", Some(RESET)), held("5h limit", Some(RESET))],
            ),
            (
                "full use holds all",
                vec![five(100)],
                vec![agent(0)],
                Policy::default(),
                vec![held("5h 100%", Some(RESET))],
            ),
            (
                "a status alone holds nobody",
                vec![window("five_hour", None, "allowed", Some(RESET))],
                vec![agent(0)],
                pause(1),
                vec![Decision::Start],
            ),
            (
                "lower priority holds first",
                vec![five(86)],
                vec![agent(1), agent(0)],
                pause(90),
                vec![Decision::Start, held("5h 86%", Some(RESET))],
            ),
            (
                "then every priority",
                vec![five(91)],
                vec![agent(1), agent(0)],
                pause(90),
                vec![held("5h 91%", Some(RESET)), held("5h 91%", Some(RESET))],
            ),
            (
                "three levels step down",
                vec![five(80)],
                vec![agent(5), agent(3), agent(-2)],
                pause(90),
                vec![Decision::Start, Decision::Start, held("5h 80%", Some(RESET))],
            ),
            (
                "the worst window names the hold, the latest reset ends it",
                vec![five(91), week(95)],
                vec![agent(0)],
                pause(90),
                vec![held("7d 95%", Some(RESET + 86_400))],
            ),
            (
                "an unknown reset: held with no time",
                vec![window("five_hour", Some(95), "", None)],
                vec![agent(0)],
                pause(90),
                vec![held("5h 95%", None)],
            ),
            (
                "a refused turn waits for its reset",
                vec![],
                vec![refused],
                Policy::default(),
                vec![held("refused", Some(RESET))],
            ),
            (
                "a refused turn's reset passed",
                vec![],
                vec![Candidate { refused_until: Some(NOW), ..refused }],
                Policy::default(),
                vec![Decision::Start],
            ),
            (
                "released by the user",
                vec![five(95)],
                vec![released],
                pause(90),
                vec![Decision::Start],
            ),
            (
                "a release does not outlive its hold",
                vec![window("five_hour", Some(95), "allowed", Some(RESET + 18_000))],
                vec![released],
                pause(90),
                vec![held("5h 95%", Some(RESET + 18_000))],
            ),
        ];
        let now = Now { wall: NOW, mono: Instant::now() };
        for (name, windows, agents, policy, want) in cases {
            assert_eq!(decide(&windows, &agents, policy, now), want, "{name}");
        }
    }

    #[test]
    fn a_hold_says_why_and_until_when() {
        assert_eq!(held_text("5h 91%", Some(RESET)), "held: 5h 91%, resumes 10:33");
        assert_eq!(
            held_text("7d limit", Some(RESET + 5 * 86_400)),
            "held: 7d limit, resumes Tue 10:33"
        );
        assert_eq!(held_text("5h 95%", None), "held: 5h 95%");
    }

    fn held_text(reason: &str, resumes_at: Option<i64>) -> String {
        Hold { reason: reason.into(), resumes_at }.text(NOW)
    }
}
