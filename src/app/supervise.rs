//! The supervisor's side of `update`: tasks it hands out, the reports of the turns that ran
//! them, and the relayed turn that carries those reports back (see `supervisor::relay`, the
//! pure bookkeeping this drives with the state's clock).
//!
//! A task is known by the id its send carried ([`Origin::Task`]), never by its words: the
//! worker's turn that runs it has that origin, and so does the prompt while it waits in a queue.

use super::effect::Effect;
use super::msg::ControlCmd;
use super::queue::Prompt;
use super::state::State;
use crate::agent::turn::{Phase, Verdict};
use crate::agent::{ExitInfo, Origin};
use crate::control::proto::{TurnOutcome, TurnReport};
use crate::supervisor::{RelayAction, TaskId};

const CLOSED: &str = "The worker was closed before it finished this task.";
const LEFT_THE_QUEUE: &str =
    "The task left the worker's queue without running: the user cancelled it, or its turn could \
     not start.";

/// A send was accepted: if the supervisor sent it to a worker, it is a task from now on.
pub fn sent(state: &mut State, prompt: &Prompt, worker: usize) {
    let Origin::Task(task) = prompt.origin else { return };
    let Some(a) = state.agents.get(worker).filter(|a| !a.supervisor) else { return };
    let name = a.name().to_string();
    let now = state.wall_ms;
    if let Some(s) = state.supervision.as_mut() {
        s.relay.task_sent(task, &name, &prompt.text, now);
    }
}

/// A turn of the agent `i` starts: a supervisor turn the relay did not ask for (the user's, a
/// script's) begins a new task chain.
pub fn turn_started(state: &mut State, i: usize) {
    let now = state.wall_ms;
    let Some(a) = state.agents.get(i) else { return };
    if !a.supervisor || a.origin == Origin::Relay {
        return;
    }
    if let Some(s) = state.supervision.as_mut() {
        s.relay.user_prompt(now);
    }
}

/// The turn of the agent `i` ended with `verdict`: its report is what `wait` answers from now
/// on, and a task's report goes to the relay. A task refused by a usage limit is not over: its
/// prompt waits to run again and reports when it has.
pub fn turn_ended(state: &mut State, i: usize, verdict: Verdict, judged: &Phase, exit: &ExitInfo) {
    let now = state.wall_ms;
    let a = &mut state.agents[i];
    let report = turn_report(a.name(), verdict, judged, exit);
    a.last_report = Some(report.clone());
    let (Origin::Task(task), false) = (a.origin, matches!(verdict, Verdict::RateLimited { .. }))
    else {
        return;
    };
    if let Some(s) = state.supervision.as_mut() {
        s.relay.turn_ended(task, &report, now);
    }
}

/// After every message: tasks no turn will end are reported as not run, and the reports
/// waiting for the supervisor go to it as its next turn once the relay says so. Whether the
/// relay's log or the screen changed.
pub fn step(state: &mut State, fx: &mut Vec<Effect>) -> bool {
    let lost = lost_tasks(state);
    let Some(sup) = state.agents.first().filter(|a| a.supervisor) else { return lost };
    let idle = !sup.turn.is_active() && sup.queue.is_empty();
    let name = sup.name().to_string();
    let team_cost = crate::agent::event::sum_costs(state.agents.iter().map(|a| a.cost_usd));
    let now = state.wall_ms;
    let Some(s) = state.supervision.as_mut() else { return lost };
    match s.relay.poll(now, idle, team_cost) {
        None => return lost,
        Some(RelayAction::Stopped(stop)) => state.flash = Some(stop.note()),
        Some(RelayAction::Turn(turn)) => {
            let cmd = ControlCmd::Send { agent: name, prompt: turn.prompt, origin: Origin::Relay };
            // Nobody waits for the reply: the supervisor's pane shows the turn.
            let _ = super::update::control(state, cmd, fx);
        }
    }
    true
}

/// When the relay's batching window ends, if reports wait for their siblings.
pub fn next_deadline(state: &State) -> Option<std::time::Instant> {
    let at = state.supervision.as_ref()?.relay.next_deadline()?;
    let wait = std::time::Duration::from_millis(at.saturating_sub(state.wall_ms));
    Some(state.now + wait)
}

/// Tasks whose worker was closed, or that left its queue without running (the user cancelled
/// them, or their turn could not start). Whether there were any.
fn lost_tasks(state: &mut State) -> bool {
    let Some(s) = state.supervision.as_ref() else { return false };
    let lost: Vec<(TaskId, TurnReport)> = s
        .relay
        .tasks()
        .filter_map(|(task, worker)| {
            let here = Origin::Task(task);
            match state.index_named(worker).map(|i| &state.agents[i]) {
                None => Some((task, not_run("worker closed", CLOSED))),
                Some(a) if a.queue.holds(here) => None,
                Some(a) if a.origin == here && a.turn.is_active() => None,
                Some(_) => Some((task, not_run("not run", LEFT_THE_QUEUE))),
            }
        })
        .collect();
    let now = state.wall_ms;
    let any = !lost.is_empty();
    if let Some(s) = state.supervision.as_mut() {
        for (task, report) in lost {
            s.relay.turn_ended(task, &report, now);
        }
    }
    any
}

/// How a turn ended, in the words `wait` and the supervisor's reports use: the verdict's
/// outcome, the result's subtype or the exit when it failed, and its text.
pub fn turn_report(agent: &str, verdict: Verdict, ended: &Phase, exit: &ExitInfo) -> TurnReport {
    let result = match ended {
        Phase::Done(r) => Some(r),
        Phase::Failed(f) => f.result.as_ref(),
        Phase::Interrupted | Phase::Starting | Phase::Running => None,
    };
    let outcome = match verdict {
        Verdict::Done => TurnOutcome::Success,
        Verdict::Failed => TurnOutcome::Error,
        Verdict::Interrupted => TurnOutcome::Interrupted,
        Verdict::RateLimited { .. } => TurnOutcome::RateLimited,
    };
    let detail = match (ended, result) {
        (Phase::Failed(_), Some(r)) if r.subtype != "success" => Some(r.subtype.clone()),
        (Phase::Failed(_), _) => Some(exit.describe()),
        _ => None,
    };
    let text = match (ended, result) {
        (_, Some(r)) => r
            .result
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| (!r.errors.is_empty()).then(|| r.errors.join("\n"))),
        (Phase::Failed(f), None) => f.detail.iter().rev().find(|l| !l.trim().is_empty()).cloned(),
        _ => None,
    };
    TurnReport {
        agent: agent.to_string(),
        outcome,
        detail,
        result: text,
        cost_usd: result.and_then(|r| r.total_cost_usd),
    }
}

/// The report of a task no turn ran to its end.
fn not_run(detail: &str, why: &str) -> TurnReport {
    TurnReport {
        agent: String::new(),
        outcome: TurnOutcome::Error,
        detail: Some(detail.into()),
        result: Some(why.into()),
        cost_usd: None,
    }
}
