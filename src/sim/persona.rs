//! What the simulated claude says: a generic assistant, or one of the demo personas chosen by
//! `AGENTMUX_SIM_PERSONA` (see `demo`). The scripted content lives in `workers` and `lead`, as data.

use std::path::Path;

use crate::sim::script::{Action, Call, Script};
use crate::sim::session::{Entry, Role};
use crate::sim::{lead, workers};

/// The first line of a prompt, cut to `max` characters, for quoting back.
pub fn gist(prompt: &str, max: usize) -> String {
    let line = prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

fn last_prompt(history: &[Entry]) -> Option<&str> {
    history.iter().rev().find(|e| e.role == Role::User).map(|e| e.text.as_str())
}

/// The turn's script for `persona` (None or unknown: the generic assistant).
pub fn script(persona: Option<&str>, prompt: &str, history: &[Entry], cwd: &Path) -> Script {
    let worker = persona.and_then(workers::worker);
    let earlier = last_prompt(history);
    match (persona, worker) {
        (Some("supervisor"), _) => lead::supervisor(prompt, earlier),
        (_, Some(w)) if history.is_empty() => w.first_turn(),
        (_, Some(w)) => w.follow_up(prompt, earlier),
        _ => generic(prompt, earlier, cwd),
    }
}

/// The generic assistant: looks at the directory on a first turn, then answers in Markdown;
/// a follow-up quotes the previous prompt.
fn generic(prompt: &str, earlier: Option<&str>, _cwd: &Path) -> Script {
    let asked = gist(prompt, 80);
    match earlier {
        None => Script {
            calls: vec![
                Call::with(
                    "I'll start by looking at what is in the working directory.",
                    vec![Action::Glob { pattern: "**/*".into() }],
                ),
                Call::text(format!(
                    "## Answer\n\nYou asked: \"{asked}\"\n\nHere is what I would do:\n\n\
                     1. Read the relevant files and note what they do today.\n\
                     2. Make the smallest change that does what you asked.\n\
                     3. Run the tests and report back.\n\n\
                     ```sh\ncargo test\n```\n\nTell me if you want me to go ahead."
                )),
            ],
        },
        Some(before) => Script {
            calls: vec![Call::text(format!(
                "## Follow-up\n\nEarlier you asked: \"{}\"\n\nNow you ask: \"{asked}\"\n\n\
                 - I kept the context of our previous turn.\n\
                 - The plan still holds; this only changes the last step.\n",
                gist(before, 80)
            ))],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gist_cuts_long_first_lines() {
        assert_eq!(gist("\n  hello there\nmore", 80), "hello there");
        assert_eq!(gist("abcdefghij", 5), "abcd…");
    }
}
