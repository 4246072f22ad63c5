//! One turn's lifecycle as a pure state machine, fed the lines and the exit the runner reports:
//! Starting -> Running (first line) -> Done(result) | Failed(reason) | Interrupted.
//!
//! The outcome is decided when the process exits, from everything seen: the `result` line (not
//! always the last line, missing when the process dies), its `subtype` and `is_error`
//! (`error_during_execution` can come with `is_error: false`), the exit code or signal, and
//! whether we interrupted the turn.

use crate::agent::event::{Event, Line, ResultEvent, SystemKind};
use crate::agent::runner::{ExitInfo, SessionArg};

/// How many non-JSON lines a turn keeps as the reason of a failure.
pub const TAIL_LINES: usize = 20;

/// Where the engine is in one turn, as its lines and its exit tell it (the pane's word for
/// it is the app's `TurnState`).
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Spawned, nothing read yet.
    Starting,
    /// At least one line arrived.
    Running,
    Done(ResultEvent),
    Failed(Failure),
    /// Stopped by the user; the conversation stays resumable.
    Interrupted,
}

impl Phase {
    pub fn is_finished(&self) -> bool {
        matches!(self, Phase::Done(_) | Phase::Failed(_) | Phase::Interrupted)
    }
}

/// How a turn ended, in the one word every view uses (pane, `ls`, `wait`, the log, the relay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Failed,
    Interrupted,
    /// Refused by a usage limit; `resets_at` in Unix seconds when the CLI said.
    RateLimited {
        resets_at: Option<i64>,
    },
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Done => "done",
            Verdict::Failed => "failed",
            Verdict::Interrupted => "interrupted",
            Verdict::RateLimited { .. } => "rate-limited",
        }
    }
}

/// What an interrupted turn had done by the time it stopped: its own tool calls that
/// finished, and those the interrupt cut off (subagents' calls are counted in their Task's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub cut: usize,
}

impl Progress {
    /// "interrupted", "interrupted after 2 tool calls", "interrupted after 1 tool call, 1 cut
    /// off": the words the pane's footer and the export both use.
    pub fn interrupted(self) -> String {
        let calls =
            |n: usize| if n == 1 { "1 tool call".to_owned() } else { format!("{n} tool calls") };
        match (self.done, self.cut) {
            (0, 0) => "interrupted".to_owned(),
            (0, 1) => "interrupted during a tool call".to_owned(),
            (0, cut) => format!("interrupted during {}", calls(cut)),
            (done, 0) => format!("interrupted after {}", calls(done)),
            (done, cut) => format!("interrupted after {}, {cut} cut off", calls(done)),
        }
    }
}

/// The verdict on a finished turn: what its lifecycle judged (see [`Turn::on_exit`]) and
/// whether a `rate_limit_event` said `rejected` during it (`refused`, with its reset time).
/// A refusal outranks the failure it causes (the CLI reports it as an error result with
/// `api_error_status` 429), an interrupt outranks both: the user stopped it.
pub fn verdict(judged: &Phase, refused: Option<Option<i64>>) -> Verdict {
    match (judged, refused) {
        (Phase::Interrupted, _) => Verdict::Interrupted,
        (_, Some(resets_at)) => Verdict::RateLimited { resets_at },
        (Phase::Failed(_), None) => Verdict::Failed,
        (Phase::Done(_) | Phase::Starting | Phase::Running, None) => Verdict::Done,
    }
}

/// Why a turn failed: one line to show, and the lines behind it (the CLI's `errors[]`, or the
/// last output lines when there was no result).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub summary: String,
    pub detail: Vec<String>,
    /// The result line, when there was one (cost and usage still count).
    pub result: Option<ResultEvent>,
}

#[derive(Clone, Debug)]
pub struct Turn {
    state: Phase,
    result: Option<ResultEvent>,
    interrupted: bool,
    /// Last non-JSON lines (the CLI's stderr shares the PTY).
    tail: std::collections::VecDeque<String>,
    /// The first session id the CLI reported in an event of a real conversation.
    reported_session: Option<String>,
    /// Whether the CLI got as far as a conversation (init, a message or a stream event).
    reached_conversation: bool,
    billed_per_token: bool,
    /// A `rate_limit_event` said `rejected` (with its reset time, when given).
    refused: Option<Option<i64>>,
}

impl Default for Turn {
    fn default() -> Self {
        Self::new()
    }
}

impl Turn {
    pub fn new() -> Self {
        Turn {
            state: Phase::Starting,
            result: None,
            interrupted: false,
            tail: Default::default(),
            reported_session: None,
            reached_conversation: false,
            billed_per_token: false,
            refused: None,
        }
    }

    pub fn state(&self) -> &Phase {
        &self.state
    }

    /// The last `result` line seen so far.
    pub fn result(&self) -> Option<&ResultEvent> {
        self.result.as_ref()
    }

    /// Whether an init event reported an API key source other than "none".
    pub fn billed_per_token(&self) -> bool {
        self.billed_per_token
    }

    /// Whether a usage limit refused the turn, with the reset time in Unix seconds if known.
    pub fn refused(&self) -> Option<Option<i64>> {
        self.refused
    }

    /// How the turn ended, once [`Turn::on_exit`] judged it.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.state, self.refused)
    }

    pub fn interrupt_requested(&self) -> bool {
        self.interrupted
    }

    /// The user asked to stop the turn (the runner signals the process group).
    pub fn on_interrupt(&mut self) {
        if !self.state.is_finished() {
            self.interrupted = true;
        }
    }

    pub fn on_line(&mut self, line: &Line) {
        if self.state.is_finished() {
            return;
        }
        self.state = Phase::Running;
        match line {
            Line::Text(t) => {
                if !t.trim().is_empty() {
                    if self.tail.len() == TAIL_LINES {
                        self.tail.pop_front();
                    }
                    self.tail.push_back(t.clone());
                }
            }
            Line::TooLong { .. } => {}
            Line::Event(e) => {
                let conversation = match e {
                    Event::System(s) => {
                        if let SystemKind::Init(init) = &s.kind {
                            self.billed_per_token |= init.billed_per_token();
                            true
                        } else {
                            false
                        }
                    }
                    Event::Assistant(_) | Event::User(_) | Event::Stream(_) => true,
                    Event::Result(r) => {
                        self.result = Some(r.clone());
                        false
                    }
                    Event::RateLimit(r) => {
                        if r.status.as_deref() == Some("rejected") {
                            self.refused = Some(r.resets_at);
                        }
                        false
                    }
                    Event::Unknown(_) => false,
                };
                if conversation {
                    self.reached_conversation = true;
                    if self.reported_session.is_none() {
                        self.reported_session = e.session_id().map(str::to_owned);
                    }
                }
            }
        }
    }

    /// The process ended: decide the outcome.
    pub fn on_exit(&mut self, exit: &ExitInfo) -> &Phase {
        if self.state.is_finished() {
            return &self.state;
        }
        let mut tail: Vec<String> = self.tail.iter().cloned().collect();
        if tail.is_empty() {
            tail = exit.tail.clone();
        }
        let result = self.result.clone();
        self.state = match result {
            // It finished cleanly before the interrupt took effect.
            Some(r) if r.subtype == "success" && !r.is_error && exit.success() => Phase::Done(r),
            _ if self.interrupted => Phase::Interrupted,
            Some(r) if r.is_error || r.subtype != "success" => {
                let mut detail: Vec<String> = r.shown_errors().map(str::to_owned).collect();
                if detail.is_empty() {
                    detail.extend(r.result.iter().filter(|t| !t.is_empty()).cloned());
                }
                if detail.is_empty() {
                    detail = tail;
                }
                Phase::Failed(Failure { summary: result_summary(&r), detail, result: Some(r) })
            }
            Some(r) if !exit.success() => Phase::Failed(Failure {
                summary: exit_summary(exit),
                detail: tail,
                result: Some(r),
            }),
            Some(r) => Phase::Done(r),
            None => Phase::Failed(Failure {
                summary: format!("{} without a result", exit_summary(exit)),
                detail: tail,
                result: None,
            }),
        };
        &self.state
    }

    /// The session to resume on the next turn, given what this turn was sent and the id the
    /// agent had before it (`None` before the first turn). A turn that never reached a
    /// conversation (refused to start, unknown `--resume` id) changes nothing; otherwise the
    /// id the CLI reported is adopted, falling back to the one we sent.
    pub fn next_session(&self, sent: &SessionArg, before: Option<&str>) -> Option<String> {
        if !self.reached_conversation {
            return before.map(str::to_owned);
        }
        Some(self.reported_session.clone().unwrap_or_else(|| sent.id().to_owned()))
    }
}

fn exit_summary(exit: &ExitInfo) -> String {
    exit.describe()
}

fn result_summary(r: &ResultEvent) -> String {
    match r.subtype.as_str() {
        "error_max_turns" => "stopped: reached the maximum number of turns".to_owned(),
        "error_max_budget_usd" => "stopped: reached the maximum budget".to_owned(),
        "error_during_execution" => "failed during execution".to_owned(),
        "success" => "the CLI reported an error".to_owned(),
        other => format!("failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::decode::decode_line;

    fn exit(code: i32) -> ExitInfo {
        ExitInfo { code: Some(code), signal: None, tail: Vec::new() }
    }

    fn killed(sig: &str) -> ExitInfo {
        ExitInfo { code: None, signal: Some(sig.into()), tail: Vec::new() }
    }

    const INIT: &str =
        r#"{"type":"system","subtype":"init","session_id":"cli-id","apiKeySource":"none"}"#;
    const OK: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"cli-id"}"#;

    fn run(lines: &[&str], interrupt: bool, exit_info: ExitInfo) -> Turn {
        let mut t = Turn::new();
        assert_eq!(t.state(), &Phase::Starting);
        for l in lines {
            t.on_line(&decode_line(l));
            assert!(matches!(t.state(), Phase::Running));
        }
        if interrupt {
            t.on_interrupt();
        }
        t.on_exit(&exit_info);
        t
    }

    #[test]
    fn success_is_done_with_the_result() {
        let t = run(&[INIT, OK], false, exit(0));
        let Phase::Done(r) = t.state() else { panic!("{:?}", t.state()) };
        assert_eq!(r.result.as_deref(), Some("done"));
        assert!(!t.billed_per_token());
    }

    #[test]
    fn result_need_not_be_the_last_line() {
        let after = r#"{"type":"system","subtype":"session_state_changed","state":"idle"}"#;
        let t = run(&[INIT, OK, after, "some stderr"], false, exit(0));
        assert!(matches!(t.state(), Phase::Done(_)));
    }

    #[test]
    fn non_zero_exit_after_a_success_result_fails() {
        let t = run(&[INIT, OK, "Error: flush failed"], false, exit(3));
        let Phase::Failed(f) = t.state() else { panic!() };
        assert_eq!(f.summary, "exited with code 3");
        assert_eq!(f.detail, ["Error: flush failed"]);
        assert!(f.result.is_some());
    }

    #[test]
    fn is_error_result_fails_with_its_errors() {
        let r = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["No conversation found with session ID: x"]}"#;
        let t = run(&[r], false, exit(1));
        let Phase::Failed(f) = t.state() else { panic!() };
        assert_eq!(f.detail, ["No conversation found with session ID: x"]);
    }

    #[test]
    fn error_subtype_with_is_error_false_still_fails_unless_we_interrupted() {
        let r = r#"{"type":"result","subtype":"error_during_execution","is_error":false,"errors":["aborted"]}"#;
        assert!(matches!(run(&[INIT, r], false, exit(0)).state(), Phase::Failed(_)));
        assert_eq!(run(&[INIT, r], true, exit(0)).state(), &Phase::Interrupted);
    }

    #[test]
    fn max_turns_is_a_failure_with_a_clear_summary() {
        let r = r#"{"type":"result","subtype":"error_max_turns","is_error":true}"#;
        let t = run(&[INIT, r], false, exit(1));
        let Phase::Failed(f) = t.state() else { panic!() };
        assert!(f.summary.contains("maximum number of turns"));
    }

    #[test]
    fn exit_without_result_fails_with_the_last_lines() {
        let mut lines = vec![INIT];
        let noise: Vec<String> = (0..30).map(|i| format!("stderr {i}")).collect();
        lines.extend(noise.iter().map(String::as_str));
        let t = run(&lines, false, exit(1));
        let Phase::Failed(f) = t.state() else { panic!() };
        assert_eq!(f.summary, "exited with code 1 without a result");
        assert_eq!(f.detail.len(), TAIL_LINES);
        assert_eq!(f.detail.last().map(String::as_str), Some("stderr 29"));
        assert_eq!(f.detail[0], "stderr 10");
        // Exit 0 without a result is a failure too.
        assert!(matches!(run(&[INIT], false, exit(0)).state(), Phase::Failed(_)));
    }

    #[test]
    fn a_refusal_to_start_uses_the_runners_tail_when_no_line_was_seen() {
        let mut t = Turn::new();
        let info = ExitInfo {
            code: Some(1),
            signal: None,
            tail: vec!["--dangerously-skip-permissions cannot be used with root".into()],
        };
        t.on_exit(&info);
        let Phase::Failed(f) = t.state() else { panic!() };
        assert_eq!(f.detail, info.tail);
    }

    #[test]
    fn a_signal_without_interrupt_fails_and_with_interrupt_is_interrupted() {
        let t = run(&[INIT], false, killed("SIGKILL"));
        let Phase::Failed(f) = t.state() else { panic!() };
        assert_eq!(f.summary, "killed by SIGKILL without a result");
        assert_eq!(run(&[INIT], true, killed("SIGINT")).state(), &Phase::Interrupted);
        // A turn that finished cleanly before the interrupt landed is done.
        assert!(matches!(run(&[INIT, OK], true, exit(0)).state(), Phase::Done(_)));
    }

    #[test]
    fn the_state_is_final_once_finished() {
        let mut t = run(&[INIT, OK], false, exit(0));
        t.on_line(&decode_line("late"));
        t.on_interrupt();
        t.on_exit(&exit(9));
        assert!(matches!(t.state(), Phase::Done(_)));
        assert!(!t.interrupt_requested());
    }

    #[test]
    fn billing_is_flagged_from_init() {
        let init = r#"{"type":"system","subtype":"init","apiKeySource":"ANTHROPIC_API_KEY"}"#;
        assert!(run(&[init, OK], false, exit(0)).billed_per_token());
    }

    #[test]
    fn session_adoption() {
        let new = SessionArg::New("ours".into());
        // The CLI reports another id: adopt it.
        let t = run(&[INIT, OK], false, exit(0));
        assert_eq!(t.next_session(&new, None).as_deref(), Some("cli-id"));
        // No id reported, but a conversation happened: the one we sent.
        let t = run(&[r#"{"type":"assistant","message":{"content":[]}}"#], true, exit(0));
        assert_eq!(t.next_session(&new, None).as_deref(), Some("ours"));
        // Refused to start: nothing changes (no conversation to resume).
        let t = run(&["Error: bad flag"], false, exit(1));
        assert_eq!(t.next_session(&new, None), None);
        // Unknown --resume id: the error result carries some id, but nothing changes.
        let r = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"session_id":"random"}"#;
        let t = run(&[r], false, exit(1));
        let resume = SessionArg::Resume("old".into());
        assert_eq!(t.next_session(&resume, Some("old")).as_deref(), Some("old"));
        // A resumed turn that reached the conversation and was interrupted stays resumable.
        let t = run(&[INIT], true, killed("SIGINT"));
        assert_eq!(t.next_session(&resume, Some("old")).as_deref(), Some("cli-id"));
    }
}

#[cfg(test)]
mod real_cli_captures {
    use super::*;
    use crate::agent::decode::decode_line;
    use crate::agent::decode::tests::{decode_capture, pty_capture};

    fn exit(code: i32) -> ExitInfo {
        ExitInfo { code: Some(code), signal: None, tail: Vec::new() }
    }

    fn killed(sig: &str) -> ExitInfo {
        ExitInfo { code: None, signal: Some(sig.into()), tail: Vec::new() }
    }

    fn outcome(name: &str, code: i32) -> Turn {
        let mut t = Turn::new();
        for l in decode_capture(&pty_capture(name)) {
            t.on_line(&l);
        }
        t.on_exit(&ExitInfo { code: Some(code), signal: None, tail: Vec::new() });
        t
    }

    /// The exit codes are the ones the CLI returned when the captures were recorded.
    #[test]
    fn each_capture_ends_as_the_real_run_did() {
        for (name, code) in [
            ("turn", 0),
            ("resume", 0),
            ("turn-partial", 0),
            ("tool-call", 0),
            ("permission-denial", 0),
            ("api-retry", 0),
            ("mcp-approval-allow", 0),
            ("mcp-approval-deny", 0),
        ] {
            let t = outcome(name, code);
            assert!(matches!(t.state(), Phase::Done(_)), "{name}: {:?}", t.state());
            assert!(t.billed_per_token(), "{name}: the tests run with ANTHROPIC_API_KEY");
        }
        for (name, code, needle) in [
            ("unknown-session", 1, "No conversation found"),
            ("bypass-refused", 1, "cannot be used with root"),
            ("api-error-400", 1, "400"),
            ("max-turns", 1, "maximum number of turns"),
            ("mcp-approval-unreachable", 1, "not found"),
        ] {
            let t = outcome(name, code);
            let Phase::Failed(f) = t.state() else { panic!("{name}: {:?}", t.state()) };
            let all = format!("{} {}", f.summary, f.detail.join("\n"));
            assert!(all.contains(needle), "{name}: {all}");
        }
    }

    #[test]
    fn unknown_session_changes_nothing_and_a_turn_adopts_the_clis_id() {
        let t = outcome("unknown-session", 1);
        let sent = SessionArg::Resume("old".into());
        assert_eq!(t.next_session(&sent, Some("old")).as_deref(), Some("old"));
        let t = outcome("bypass-refused", 1);
        assert_eq!(t.next_session(&SessionArg::New("x".into()), None), None);
        let t = outcome("turn", 0);
        let reported = t.reported_session.clone();
        assert!(reported.is_some());
        assert_eq!(t.next_session(&SessionArg::New("x".into()), None), reported);
    }

    /// The verdict on a turn made of a capture's lines (PTY or pipe output, `\r\n` or `\n`).
    fn verdict_of(capture: &str, interrupt: bool, exit_info: ExitInfo) -> Verdict {
        let mut t = Turn::new();
        for l in capture.split('\n') {
            let l = l.trim_end_matches('\r');
            if !l.is_empty() {
                t.on_line(&decode_line(l));
            }
        }
        if interrupt {
            t.on_interrupt();
        }
        t.on_exit(&exit_info);
        t.verdict()
    }

    /// Every way a turn ends, from the real CLI's own lines of both versions, gets one verdict.
    #[test]
    fn every_end_of_a_turn_gets_one_verdict() {
        macro_rules! cap {
            ($f:literal) => {
                include_str!(concat!("../../tests/fixtures/", $f))
            };
        }
        let reset = Some(1_796_247_445);
        let rejected = Verdict::RateLimited { resets_at: reset };
        let table: &[(&str, &str, bool, ExitInfo, Verdict)] = &[
            ("done", cap!("cli-2.1.197/turn.ndjson"), false, exit(0), Verdict::Done),
            ("tool call", cap!("cli-2.1.197/tool-call.ndjson"), false, exit(0), Verdict::Done),
            ("max turns", cap!("cli-2.1.197/max-turns.ndjson"), false, exit(1), Verdict::Failed),
            (
                "API error",
                cap!("cli-2.1.197/api-error-400.ndjson"),
                false,
                exit(1),
                Verdict::Failed,
            ),
            (
                "API error, 2.1.332",
                cap!("verdict/2.1.332-api-error-400.ndjson"),
                false,
                exit(1),
                Verdict::Failed,
            ),
            (
                "unknown session",
                cap!("cli-2.1.197/unknown-session.ndjson"),
                false,
                exit(1),
                Verdict::Failed,
            ),
            (
                "bypass refused",
                cap!("cli-2.1.197/bypass-refused.ndjson"),
                false,
                exit(1),
                Verdict::Failed,
            ),
            (
                "crash, no result",
                cap!("cli-2.1.197/turn-partial.ndjson"),
                false,
                killed("SIGSEGV"),
                Verdict::Failed,
            ),
            (
                "interrupted",
                cap!("cli-2.1.197/turn-partial.ndjson"),
                true,
                killed("SIGINT"),
                Verdict::Interrupted,
            ),
            (
                "refused, 2.1.197",
                cap!("verdict/2.1.197-rate-limited.ndjson"),
                false,
                exit(1),
                rejected,
            ),
            (
                "refused, 2.1.332",
                cap!("verdict/2.1.332-rate-limited.ndjson"),
                false,
                exit(1),
                rejected,
            ),
            (
                "refused, then interrupted",
                cap!("verdict/2.1.332-rate-limited.ndjson"),
                true,
                exit(1),
                Verdict::Interrupted,
            ),
            ("exited without a word", "", false, exit(1), Verdict::Failed),
        ];
        for (name, capture, interrupt, exit_info, want) in table {
            assert_eq!(verdict_of(capture, *interrupt, exit_info.clone()), *want, "{name}");
        }
        assert_eq!(rejected.word(), "rate-limited");
        assert_eq!(Verdict::Interrupted.word(), "interrupted");
    }
}
