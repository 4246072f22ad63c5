//! The relay: reports of worker turns the supervisor started go back to the supervisor as its
//! next turn, batched, within guard rails.
//!
//! Pure state, driven by the app: time is passed in (Unix milliseconds), nothing here spawns,
//! sleeps or reads a clock. The app calls
//! - [`Relay::task_sent`] when a `send` from the supervisor's agent was accepted, under the
//!   [`TaskId`] the app keeps with that follow-up until the worker's turn that runs it ends;
//! - [`Relay::turn_ended`] with that id and the turn's report;
//! - [`Relay::user_prompt`] when a turn the relay did not ask for starts for the supervisor (the
//!   user wrote to it: a new task chain);
//! - [`Relay::poll`] after every batch of messages; it says when to start a relayed supervisor
//!   turn, or that a guard rail stopped the relay; [`Relay::next_deadline`] says when to poll
//!   again without any message (the end of a batching window).
//!
//! A task chain: the user's prompt to the supervisor has depth 0; a task the supervisor sends
//! during a turn of depth d has depth d + 1, and so does its report and the relayed turn that
//! carries it. A relay deeper than `max_depth` is stopped, so a supervisor and a worker that keep
//! handing work back and forth stop after `max_depth` rounds.

use std::collections::{BTreeMap, VecDeque};

use crate::config::SupervisorConfig;
use crate::control::proto::{TurnOutcome, TurnReport};

/// Milliseconds since the Unix epoch, as the app's clock said.
pub type Millis = u64;

const MINUTE_MS: Millis = 60_000;
/// The relay log keeps this many entries (the pane shows the last few).
pub const LOG_CAPACITY: usize = 1000;
/// How much of a task's text the log keeps.
const LOG_TEXT_CHARS: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub struct RelayLimits {
    /// Relays per task chain (0: never relay).
    pub max_depth: u32,
    /// Relayed supervisor turns in any 60 seconds.
    pub max_per_minute: u32,
    /// The whole team's cost at which relaying stops.
    pub team_budget_usd: Option<f64>,
    /// Result text is cut at this many characters.
    pub report_chars: usize,
    /// How long a report waits for the other tasks handed out in the same supervisor turn, so
    /// that they come back as one prompt.
    pub batch_window_ms: Millis,
}

impl RelayLimits {
    pub fn from_config(c: &SupervisorConfig) -> Self {
        RelayLimits {
            max_depth: c.max_relay_depth,
            max_per_minute: c.max_relays_per_minute,
            team_budget_usd: c.team_budget_usd,
            report_chars: c.report_chars,
            batch_window_ms: c.relay_batch_ms,
        }
    }
}

pub use crate::agent::TaskId;

#[derive(Clone, Debug, PartialEq)]
struct Task {
    worker: String,
    depth: u32,
    /// The supervisor turn that sent it: tasks of one turn are batched together.
    round: u64,
}

/// A finished task, waiting to be relayed.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub task: TaskId,
    pub worker: String,
    pub outcome: TurnOutcome,
    pub detail: Option<String>,
    /// Already cut at `report_chars`.
    pub result: String,
    pub cost_usd: Option<f64>,
    pub depth: u32,
    pub at: Millis,
    round: u64,
}

/// Which guard rail stopped the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    Depth,
    Rate,
    Budget,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Depth => "relay depth",
            Limit::Rate => "relays per minute",
            Limit::Budget => "team budget",
        }
    }
}

/// The relay stopped; reports are held until the user writes to the supervisor.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stop {
    pub limit: Limit,
    /// Why, in numbers ("this chain would reach 4 relays; max_relay_depth is 3").
    pub why: String,
    pub at: Millis,
}

impl Stop {
    /// The note the supervisor pane shows.
    pub fn note(&self) -> String {
        format!(
            "Relay stopped ({} limit): {}. Write to the supervisor to continue; the held \
             reports follow.",
            self.limit.as_str(),
            self.why
        )
    }
}

/// A supervisor turn to start now.
#[derive(Clone, Debug, PartialEq)]
pub struct RelayTurn {
    pub prompt: String,
    /// The chain depth of this turn (its tasks get depth + 1).
    pub depth: u32,
    pub workers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RelayAction {
    /// Start a supervisor turn with this prompt.
    Turn(RelayTurn),
    /// A guard rail stopped the relay just now: show [`Stop::note`] in the supervisor pane.
    Stopped(Stop),
}

/// Kept in the workspace (the board shows the last lines again on reopen), so its shape is a
/// file format: fields may be added, with defaults.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// The supervisor handed a task to a worker.
    Task {
        to: String,
        text: String,
        depth: u32,
    },
    /// A worker's turn for the supervisor ended.
    Report {
        from: String,
        outcome: TurnOutcome,
        cost_usd: Option<f64>,
    },
    /// Reports went to the supervisor as one turn.
    Relayed {
        workers: Vec<String>,
        depth: u32,
    },
    Stopped(Stop),
    /// The user wrote to the supervisor: a new chain, held reports included.
    Resumed {
        held: usize,
    },
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    pub at: Millis,
    pub kind: LogKind,
}

impl LogEntry {
    /// One line for the relay log (without the time, which the view formats).
    pub fn line(&self, supervisor: &str) -> String {
        match &self.kind {
            LogKind::Task { to, text, .. } => {
                format!("{supervisor} -> {to}: {}", one_line(text))
            }
            LogKind::Report { from, outcome, cost_usd } => {
                format!("{from} -> {supervisor}: {}{}", outcome.as_str(), cost(*cost_usd))
            }
            LogKind::Relayed { workers, depth } => format!(
                "relayed {} report{} to {supervisor} ({}; depth {depth})",
                workers.len(),
                if workers.len() == 1 { "" } else { "s" },
                workers.join(", ")
            ),
            LogKind::Stopped(stop) => {
                format!("stopped by the {} limit: {}", stop.limit.as_str(), stop.why)
            }
            LogKind::Resumed { held: 0 } => format!("user -> {supervisor}: new task chain"),
            LogKind::Resumed { held } => {
                format!("user -> {supervisor}: continued with {held} held report(s)")
            }
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cost(c: Option<f64>) -> String {
    c.map(|c| format!(", {}", crate::money::usd(c))).unwrap_or_default()
}

/// `s` cut to at most `max` characters, saying how much was left out.
pub fn cut(s: &str, max: usize) -> String {
    let total = s.chars().count();
    if total <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max).collect();
    format!("{kept}\n[... cut: {} more characters; see the worker's pane]", total - max)
}

#[derive(Clone, Debug)]
pub struct Relay {
    limits: RelayLimits,
    supervisor: String,
    outstanding: BTreeMap<TaskId, Task>,
    pending: Vec<Report>,
    /// When each relayed turn started, within the last minute.
    relays: VecDeque<Millis>,
    /// The depth of the supervisor's current (or last) turn.
    depth: u32,
    round: u64,
    stop: Option<Stop>,
    log: VecDeque<LogEntry>,
}

impl Relay {
    pub fn new(supervisor: impl Into<String>, limits: RelayLimits) -> Self {
        Relay {
            limits,
            supervisor: supervisor.into(),
            outstanding: BTreeMap::new(),
            pending: Vec::new(),
            relays: VecDeque::new(),
            depth: 0,
            round: 0,
            stop: None,
            log: VecDeque::new(),
        }
    }

    pub fn supervisor(&self) -> &str {
        &self.supervisor
    }

    /// True when a control request `from` this agent is the supervisor's.
    pub fn is_supervisor(&self, from: Option<&str>) -> bool {
        from == Some(self.supervisor.as_str())
    }

    pub fn limits(&self) -> &RelayLimits {
        &self.limits
    }

    /// Set when a guard rail stopped the relay and the user has not continued yet.
    pub fn stopped(&self) -> Option<&Stop> {
        self.stop.as_ref()
    }

    /// Reports waiting: for the supervisor to be idle, for their siblings, or for the user.
    pub fn pending(&self) -> &[Report] {
        &self.pending
    }

    /// The tasks sent that have not ended, and the worker each went to.
    pub fn tasks(&self) -> impl Iterator<Item = (TaskId, &str)> {
        self.outstanding.iter().map(|(id, t)| (*id, t.worker.as_str()))
    }

    /// Tasks handed out whose turns have not ended.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    pub fn log(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + ExactSizeIterator {
        self.log.iter()
    }

    /// The log lines of an earlier run (on reopen), before anything this run logs.
    pub fn restore_log(&mut self, entries: impl IntoIterator<Item = LogEntry>) {
        let mut earlier: VecDeque<LogEntry> = entries.into_iter().collect();
        earlier.extend(self.log.drain(..));
        let extra = earlier.len().saturating_sub(LOG_CAPACITY);
        earlier.drain(..extra);
        self.log = earlier;
    }

    fn push_log(&mut self, at: Millis, kind: LogKind) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry { at, kind });
    }

    /// The supervisor handed `text` to `worker` as the task `id` (the app's id for the send,
    /// kept with the follow-up until the turn that runs it ends).
    pub fn task_sent(&mut self, id: TaskId, worker: &str, text: &str, now: Millis) {
        let depth = self.depth + 1;
        self.outstanding.insert(id, Task { worker: worker.to_string(), depth, round: self.round });
        let text: String = text.chars().take(LOG_TEXT_CHARS).collect();
        self.push_log(now, LogKind::Task { to: worker.to_string(), text, depth });
    }

    /// The worker turn that ran `task` ended. Returns false for an unknown (or finished) task.
    pub fn turn_ended(&mut self, task: TaskId, report: &TurnReport, now: Millis) -> bool {
        let Some(t) = self.outstanding.remove(&task) else { return false };
        self.push_log(
            now,
            LogKind::Report {
                from: t.worker.clone(),
                outcome: report.outcome,
                cost_usd: report.cost_usd,
            },
        );
        self.pending.push(Report {
            task,
            worker: t.worker,
            outcome: report.outcome,
            detail: report.detail.clone(),
            result: cut(report.result.as_deref().unwrap_or(""), self.limits.report_chars),
            cost_usd: report.cost_usd,
            depth: t.depth,
            at: now,
            round: t.round,
        });
        true
    }

    /// The user (or a script) wrote to the supervisor: a new task chain starts. A stopped relay
    /// resumes: the held reports go to the supervisor after that turn, as the new chain's first
    /// relay.
    pub fn user_prompt(&mut self, now: Millis) {
        self.depth = 0;
        self.round += 1;
        if self.stop.take().is_none() {
            return;
        }
        // A round no task belongs to: the held reports wait for no sibling.
        let held_round = self.round;
        self.round += 1;
        for r in &mut self.pending {
            r.depth = 1;
            r.round = held_round;
        }
        let held = self.pending.len();
        self.push_log(now, LogKind::Resumed { held });
    }

    /// The end of the batching window, if reports wait for siblings: poll again then.
    pub fn next_deadline(&self) -> Option<Millis> {
        if self.stop.is_some() || !self.waiting_for_siblings() {
            return None;
        }
        self.pending.iter().map(|r| r.at + self.limits.batch_window_ms).min()
    }

    fn waiting_for_siblings(&self) -> bool {
        self.pending.iter().any(|r| self.outstanding.values().any(|t| t.round == r.round))
    }

    /// What to do now. `supervisor_idle`: no supervisor turn is running or queued;
    /// `team_cost_usd`: what the whole team has cost so far.
    pub fn poll(
        &mut self,
        now: Millis,
        supervisor_idle: bool,
        team_cost_usd: f64,
    ) -> Option<RelayAction> {
        if self.pending.is_empty() || self.stop.is_some() || !supervisor_idle {
            return None;
        }
        if self.waiting_for_siblings()
            && self.pending.iter().all(|r| now < r.at + self.limits.batch_window_ms)
        {
            return None;
        }
        let depth = self.pending.iter().map(|r| r.depth).max().unwrap_or(0);
        while self.relays.front().is_some_and(|t| now.saturating_sub(*t) >= MINUTE_MS) {
            self.relays.pop_front();
        }
        let l = &self.limits;
        let stop = if depth > l.max_depth {
            Some((
                Limit::Depth,
                format!(
                    "this task chain would reach {depth} relays; max_relay_depth is {}",
                    l.max_depth
                ),
            ))
        } else if self.relays.len() >= l.max_per_minute as usize {
            Some((
                Limit::Rate,
                format!(
                    "{} relayed turn{} in the last minute; max_relays_per_minute is {}",
                    self.relays.len(),
                    if self.relays.len() == 1 { "" } else { "s" },
                    l.max_per_minute
                ),
            ))
        } else {
            l.team_budget_usd.filter(|b| team_cost_usd >= *b).map(|budget| {
                (
                    Limit::Budget,
                    format!(
                        "the team has cost {}; team_budget_usd is {}",
                        crate::money::usd(team_cost_usd),
                        crate::money::usd(budget)
                    ),
                )
            })
        };
        if let Some((limit, why)) = stop {
            let stop = Stop { limit, why, at: now };
            self.stop = Some(stop.clone());
            self.push_log(now, LogKind::Stopped(stop.clone()));
            return Some(RelayAction::Stopped(stop));
        }
        let reports = std::mem::take(&mut self.pending);
        let workers: Vec<String> = reports.iter().map(|r| r.worker.clone()).collect();
        self.relays.push_back(now);
        self.depth = depth;
        self.round += 1;
        self.push_log(now, LogKind::Relayed { workers: workers.clone(), depth });
        Some(RelayAction::Turn(RelayTurn { prompt: reports_prompt(&reports), depth, workers }))
    }
}

/// The prompt that carries reports to the supervisor.
pub fn reports_prompt(reports: &[Report]) -> String {
    let mut p = if reports.len() == 1 {
        "[agentmux] A report from your worker:\n".to_string()
    } else {
        format!("[agentmux] {} reports from your workers:\n", reports.len())
    };
    for r in reports {
        let detail = r.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        let cost = match r.cost_usd {
            Some(c) => crate::money::usd(c),
            None => "cost unknown".into(),
        };
        let text = if r.result.trim().is_empty() { "(no result text)" } else { r.result.trim() };
        p.push_str(&format!(
            "\n--- {}: {}{detail}, {cost} ---\n{text}\n",
            r.worker,
            r.outcome.as_str()
        ));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_an_earlier_run_come_before_this_runs_and_the_log_stays_capped() {
        let mut r = Relay::new("lead", limits());
        sent(&mut r, "w", "now", 5);
        let earlier = (0..LOG_CAPACITY as u64)
            .map(|at| LogEntry { at, kind: LogKind::Resumed { held: 0 } })
            .collect::<Vec<_>>();
        r.restore_log(earlier);
        assert_eq!(r.log().len(), LOG_CAPACITY);
        // The oldest earlier line made room for this run's.
        assert_eq!(r.log().next().map(|e| e.at), Some(1));
        assert!(
            matches!(&r.log().next_back().map(|e| &e.kind), Some(LogKind::Task { to, .. }) if to == "w")
        );
    }

    /// Hands out a task under an id of its own, as the app does with its send's request id.
    fn sent(r: &mut Relay, worker: &str, text: &str, now: Millis) -> TaskId {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = TaskId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        r.task_sent(id, worker, text, now);
        id
    }

    fn limits() -> RelayLimits {
        RelayLimits {
            max_depth: 3,
            max_per_minute: 100,
            team_budget_usd: None,
            report_chars: 50,
            batch_window_ms: 10_000,
        }
    }

    fn done(worker: &str, text: &str, cost: f64) -> TurnReport {
        TurnReport {
            agent: worker.into(),
            outcome: TurnOutcome::Success,
            detail: None,
            result: Some(text.into()),
            cost_usd: Some(cost),
        }
    }

    fn turn(a: Option<RelayAction>) -> RelayTurn {
        match a {
            Some(RelayAction::Turn(t)) => t,
            other => panic!("expected a relayed turn, got {other:?}"),
        }
    }

    fn stopped(a: Option<RelayAction>) -> Stop {
        match a {
            Some(RelayAction::Stopped(s)) => s,
            other => panic!("expected a stop, got {other:?}"),
        }
    }

    #[test]
    fn reports_of_one_round_come_back_as_one_prompt() {
        let mut r = Relay::new("lead", limits());
        r.user_prompt(0);
        let a = sent(&mut r, "api", "write the API", 1);
        let b = sent(&mut r, "web", "write the UI", 2);
        assert!(r.turn_ended(a, &done("api", "API done", 0.01), 100));
        // The UI task is still running: wait for it.
        assert_eq!(r.poll(101, true, 0.0), None);
        assert_eq!(r.next_deadline(), Some(100 + 10_000));
        assert!(r.turn_ended(b, &done("web", "UI done", 0.02), 200));
        let t = turn(r.poll(201, true, 0.0));
        assert_eq!(t.workers, vec!["api", "web"]);
        assert_eq!(t.depth, 1);
        assert_eq!(
            t.prompt,
            "[agentmux] 2 reports from your workers:\n\n\
             --- api: done, $0.0100 ---\nAPI done\n\n\
             --- web: done, $0.0200 ---\nUI done\n"
        );
        assert_eq!(r.poll(202, true, 0.0), None, "nothing twice");
        assert!(!r.turn_ended(a, &done("api", "again", 0.0), 203), "a task ends once");
    }

    #[test]
    fn a_slow_sibling_does_not_hold_a_report_past_the_window() {
        let mut r = Relay::new("lead", limits());
        let a = sent(&mut r, "api", "t", 0);
        let _slow = sent(&mut r, "web", "t", 0);
        r.turn_ended(a, &done("api", "ok", 0.0), 1_000);
        assert_eq!(r.poll(10_999, true, 0.0), None);
        assert_eq!(turn(r.poll(11_000, true, 0.0)).workers, vec!["api"]);
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn reports_wait_while_the_supervisor_is_busy_and_then_batch() {
        let mut r = Relay::new("lead", limits());
        let a = sent(&mut r, "api", "t", 0);
        r.turn_ended(a, &done("api", "one", 0.0), 10);
        assert_eq!(r.poll(11, false, 0.0), None, "busy supervisor");
        // A task from a later round (the user's own turn) ends while it is still busy.
        r.user_prompt(20);
        let b = sent(&mut r, "web", "t", 21);
        r.turn_ended(b, &done("web", "two", 0.0), 30);
        assert_eq!(r.poll(31, false, 0.0), None);
        assert_eq!(r.pending().len(), 2);
        assert_eq!(turn(r.poll(40, true, 0.0)).workers, vec!["api", "web"]);
    }

    #[test]
    fn the_batch_window_comes_from_the_team_file() {
        let mut sup = crate::app::fixtures::team(true, &[]).supervisor.expect("a supervisor");
        sup.relay_batch_ms = 5_000;
        assert_eq!(RelayLimits::from_config(&sup).batch_window_ms, 5_000);
    }

    #[test]
    fn results_are_cut_at_report_chars() {
        let mut r = Relay::new("lead", limits());
        let a = sent(&mut r, "api", "t", 0);
        let long = "é".repeat(80);
        r.turn_ended(a, &done("api", &long, 0.0), 1);
        let p = turn(r.poll(2, true, 0.0)).prompt;
        assert!(p.contains(&format!("{}\n[... cut: 30 more characters", "é".repeat(50))), "{p}");
        assert!(!p.contains(&"é".repeat(51)));
    }

    #[test]
    fn a_ping_pong_stops_at_the_depth_limit_and_the_user_continues() {
        let mut r = Relay::new("lead", limits());
        r.user_prompt(0);
        let mut now = 0;
        for depth in 1..=3 {
            let t = sent(&mut r, "w", "ping", now);
            r.turn_ended(t, &done("w", "pong", 0.0), now + 1);
            let relayed = turn(r.poll(now + 2, true, 0.0));
            assert_eq!(relayed.depth, depth);
            now += 10;
        }
        let t = sent(&mut r, "w", "ping", now);
        r.turn_ended(t, &done("w", "pong", 0.0), now + 1);
        let s = stopped(r.poll(now + 2, true, 0.0));
        assert_eq!(s.limit, Limit::Depth);
        assert_eq!(s.why, "this task chain would reach 4 relays; max_relay_depth is 3");
        assert!(s.note().contains("Write to the supervisor to continue"), "{}", s.note());
        assert_eq!(r.poll(now + 3, true, 0.0), None, "stopped stays stopped, said once");
        assert_eq!(r.next_deadline(), None);
        // The user continues by hand: the chain starts over, the held report follows.
        r.user_prompt(now + 5);
        assert!(r.stopped().is_none());
        assert_eq!(r.poll(now + 6, false, 0.0), None, "after the user's turn");
        let t = turn(r.poll(now + 7, true, 0.0));
        assert_eq!((t.depth, t.workers), (1, vec!["w".to_string()]));
        let t = sent(&mut r, "w", "ping", now + 8);
        r.turn_ended(t, &done("w", "pong", 0.0), now + 9);
        assert_eq!(turn(r.poll(now + 10, true, 0.0)).depth, 2);
    }

    #[test]
    fn the_rate_limit_counts_relays_in_the_last_minute() {
        let mut r =
            Relay::new("lead", RelayLimits { max_per_minute: 2, max_depth: 99, ..limits() });
        let relay_at = |r: &mut Relay, now: Millis| {
            let t = sent(r, "w", "x", now);
            r.turn_ended(t, &done("w", "y", 0.0), now);
            r.poll(now, true, 0.0)
        };
        turn(relay_at(&mut r, 0));
        turn(relay_at(&mut r, 30_000));
        let s = stopped(relay_at(&mut r, 59_999));
        assert_eq!(s.limit, Limit::Rate);
        assert_eq!(s.why, "2 relayed turns in the last minute; max_relays_per_minute is 2");
        r.user_prompt(60_000);
        // The relay at 0 has left the window; the one at 30 s has not.
        turn(relay_at(&mut r, 60_000));
        stopped(relay_at(&mut r, 60_001));
    }

    #[test]
    fn the_team_budget_stops_the_relay() {
        let mut r = Relay::new("lead", RelayLimits { team_budget_usd: Some(1.0), ..limits() });
        let t = sent(&mut r, "w", "x", 0);
        r.turn_ended(t, &done("w", "y", 0.5), 1);
        turn(r.poll(2, true, 0.99));
        let t = sent(&mut r, "w", "x", 3);
        r.turn_ended(t, &done("w", "y", 0.5), 4);
        let s = stopped(r.poll(5, true, 1.0));
        assert_eq!(s.limit, Limit::Budget);
        assert_eq!(s.why, "the team has cost $1.00; team_budget_usd is $1.00");
    }

    #[test]
    fn the_log_says_who_sent_what_to_whom() {
        let mut r = Relay::new("lead", limits());
        let t = sent(&mut r, "api", "write\nthe API", 7);
        r.turn_ended(t, &done("api", "ok", 0.25), 8);
        turn(r.poll(9, true, 0.0));
        let lines: Vec<(Millis, String)> = r.log().map(|e| (e.at, e.line("lead"))).collect();
        assert_eq!(
            lines,
            vec![
                (7, "lead -> api: write the API".to_string()),
                (8, "api -> lead: done, $0.2500".to_string()),
                (9, "relayed 1 report to lead (api; depth 1)".to_string()),
            ]
        );
    }

    #[test]
    fn only_the_supervisors_requests_count() {
        let r = Relay::new("lead", limits());
        assert!(r.is_supervisor(Some("lead")));
        assert!(!r.is_supervisor(Some("api")));
        assert!(!r.is_supervisor(None));
    }
}
