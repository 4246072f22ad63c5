//! The supervisor persona: plans and hands out work with `agentmux send`, and turns relayed
//! worker reports into a short synthesis (sending failures back to be fixed).

use crate::sim::persona::gist;
use crate::sim::script::{Action, Call, Script};
use crate::sim::workers::WORKERS;

pub const SUPERVISOR_FIRST_PROMPT: &str =
    "Ship pagination for the task list end to end: API, UI and tests. Hand out the work and \
     tell me when it is done.";

/// The supervisor's opening plan: (worker, task) sent with `agentmux send`.
const PLAN: &[(&str, &str)] = &[
    (
        "backend",
        "When pagination is in, add a total count to the response so the UI can show page numbers.",
    ),
    (
        "frontend",
        "Add Prev/Next buttons to the task list using the new limit and offset parameters.",
    ),
    ("tests", "Add tests for the pagination edge cases: offset past the end, limit 0."),
];

fn send(worker: &str, task: &str) -> Action {
    Action::Agentmux {
        args: vec!["send".into(), worker.into(), task.into()],
        description: format!("Hand the task to {worker}"),
        fallback: format!("sent to {worker}"),
    }
}

/// One worker's report, parsed from the relay prompt (`--- NAME: OUTCOME, $COST ---`).
struct Report {
    worker: String,
    outcome: String,
    first_line: String,
    failing: bool,
}

fn parse_reports(prompt: &str) -> Vec<Report> {
    let mut reports: Vec<Report> = Vec::new();
    for line in prompt.lines() {
        let header = line
            .trim()
            .strip_prefix("--- ")
            .and_then(|l| l.strip_suffix(" ---"))
            .and_then(|l| l.split_once(": "));
        if let Some((worker, rest)) = header {
            let outcome = rest.split([',', ' ']).next().unwrap_or("").to_string();
            // The relay says "done"; older workspaces' logs said "success".
            let failing = !matches!(outcome.as_str(), "done" | "success");
            reports.push(Report {
                worker: worker.into(),
                outcome,
                first_line: String::new(),
                failing,
            });
        } else if let Some(r) = reports.last_mut() {
            if r.first_line.is_empty() && !line.trim().is_empty() {
                r.first_line = gist(line.trim_start_matches('#').trim(), 60);
            }
            r.failing |= line.contains("FAILED");
        }
    }
    reports
}

/// What the supervisor says and does for a prompt.
pub fn supervisor(prompt: &str, earlier: Option<&str>) -> Script {
    let reports = parse_reports(prompt);
    if !reports.is_empty() {
        return synthesis(&reports);
    }
    if earlier.is_none() {
        let table: String = PLAN.iter().map(|(w, t)| format!("| {w} | {t} |\n")).collect();
        return Script {
            calls: vec![
                Call::with(
                    format!(
                        "## Plan\n\nThe team already has the first pieces in flight; I'll queue \
                         the follow-ups so nobody waits:\n\n| worker | next task |\n|---|---|\n{table}"
                    ),
                    PLAN.iter().map(|(w, t)| send(w, t)).collect(),
                ),
                Call::text(
                    "## Handed out\n\n\
                     - **backend**: pagination, then a total count\n\
                     - **frontend**: loading and empty states, then Prev/Next\n\
                     - **tests**: triage the suite, then paging edge cases\n\n\
                     I'll summarize as their reports come in.",
                ),
            ],
        };
    }
    let lower = prompt.to_lowercase();
    let asked = gist(prompt, 80);
    if let Some(w) = WORKERS.iter().find(|w| lower.contains(w.name)) {
        return Script {
            calls: vec![
                Call::with(
                    format!("I'll pass this on to **{}**.", w.name),
                    vec![send(w.name, prompt.trim())],
                ),
                Call::text(format!(
                    "## Relayed\n\n- **{}** has it: *{asked}*\n- I'll report back when it is done.",
                    w.name
                )),
            ],
        };
    }
    let ls = Action::Agentmux {
        args: vec!["ls".into()],
        description: "See what the team is doing".into(),
        fallback: "NAME        STATE    TURNS  COST\nsupervisor  working      2  $0.0412\nbackend     idle         2  $0.0385\nfrontend    idle         2  $0.0291\ntests       idle         2  $0.0330".into(),
    };
    Script {
        calls: vec![
            Call::with("Let me check on the team first.", vec![ls]),
            Call::text(format!(
                "## Status\n\nYou asked: *{asked}*\n\n\
                 Earlier: *{}*\n\n\
                 1. Everyone is idle, so new work can start right away\n\
                 2. Name a worker (`backend`, `frontend`, `tests`) and I'll hand it over",
                gist(earlier.unwrap_or(""), 80)
            )),
        ],
    }
}

fn synthesis(reports: &[Report]) -> Script {
    let rows: String = reports
        .iter()
        .map(|r| {
            let mark = if r.failing { "needs work" } else { "done" };
            format!("| {} | {} | {mark} | {} |\n", r.worker, r.outcome, r.first_line)
        })
        .collect();
    let table = format!("| worker | outcome | status | summary |\n|---|---|---|---|\n{rows}");
    let failing: Vec<&Report> = reports.iter().filter(|r| r.failing).collect();
    if failing.is_empty() {
        return Script {
            calls: vec![Call::text(format!(
                "## Synthesis\n\n{table}\nEverything reported is done. Nothing blocks the release."
            ))],
        };
    }
    // A failing test run goes to backend to fix; any other failure back to its worker.
    let sends: Vec<Action> = failing
        .iter()
        .map(|r| {
            if r.worker == "tests" {
                send("backend", "The tests agent reports a FAILED test, due_dates_sort_soonest_first: tasks without a due date sort first. Please fix the sort in server/src/tasks.rs.")
            } else {
                send(&r.worker, "Your last turn did not succeed; please look at the error and try again.")
            }
        })
        .collect();
    Script {
        calls: vec![
            Call::with(
                format!("## Synthesis\n\n{table}\nSomething needs fixing; handing it back."),
                sends,
            ),
            Call::text("## Next\n\n- A fix is on its way; I'll check the next report."),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_parsed_from_the_relay_prompt() {
        let prompt = "[agentmux] 2 reports from your workers:\n\n--- tests: done, $0.0301 ---\n## Test run: 1 FAILED\n| a | b |\n\n--- frontend: done, $0.0200 ---\n## Loading states\n";
        let r = parse_reports(prompt);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].worker, "tests");
        assert!(r[0].failing);
        assert_eq!(r[0].first_line, "Test run: 1 FAILED");
        assert!(!r[1].failing);
        let s = supervisor(prompt, Some("earlier"));
        let Action::Agentmux { args, .. } = &s.calls[0].tools[0] else { panic!("a send") };
        assert_eq!(args[..2], ["send".to_string(), "backend".to_string()]);
    }
}
