//! `agentmux demo`: a supervisor and three simulated agents (`backend`, `frontend`, `tests`)
//! working on a tiny project, `taskboard`, written into the demo's working directory.

use std::collections::BTreeMap;
use std::path::Path;

use crate::agent::{AgentOptions, AgentSpec, PermissionMode};
use crate::config::{SupervisorConfig, Team, TeamAgent};
use crate::sim::project::write_project;
use crate::sim::{lead, workers};

/// The worker whose first turn asks the user for approval (a Bash command no rule allows).
pub const DEMO_ASKING_AGENT: &str = "tests";

fn persona_env(persona: &str, agentmux_exe: &Path, workdir: &Path) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("AGENTMUX_SIM_PERSONA".to_string(), persona.to_string()),
        (
            "AGENTMUX_SIM_HOME".to_string(),
            workdir.join(".agentmux-sim").to_string_lossy().into_owned(),
        ),
        ("AGENTMUX_SIM_AGENTMUX".to_string(), agentmux_exe.to_string_lossy().into_owned()),
    ])
}

/// The demo team: run it with the simulated claude (`ClaudeCmd::simulated(agentmux_exe)`).
/// Also writes the demo project into `workdir`; if that fails the personas still talk, and
/// their Read calls report missing files.
pub fn demo_team(agentmux_exe: &Path, workdir: &Path) -> Team {
    // A demo without its files still runs (Read says "File does not exist"), so a write
    // failure is not worth refusing to start.
    let _ = write_project(workdir);
    let spec = |name: &str, role: &str, model: &str, mode: Option<PermissionMode>| AgentSpec {
        name: name.to_string(),
        role: Some(role.to_string()),
        cwd: workdir.to_path_buf(),
        options: AgentOptions {
            model: Some(model.to_string()),
            permission_mode: mode,
            env: Some(persona_env(name, agentmux_exe, workdir)),
            ..AgentOptions::default()
        },
    };
    let agents = workers::WORKERS
        .iter()
        .map(|w| TeamAgent {
            spec: spec(w.name, w.role, "sonnet", Some(PermissionMode::AcceptEdits)),
            prompt: Some(w.first_prompt.to_string()),
            worktree: false,
        })
        .collect();
    Team {
        path: None,
        defaults: AgentOptions { include_partial_messages: Some(true), ..AgentOptions::default() },
        supervisor: Some(SupervisorConfig {
            spec: spec("supervisor", "plans and hands out work", "opus", None),
            prompt: Some(lead::SUPERVISOR_FIRST_PROMPT.to_string()),
            max_relay_depth: 3,
            max_relays_per_minute: 12,
            team_budget_usd: Some(5.0),
            report_chars: 1200,
            relay_batch_ms: SupervisorConfig::DEFAULT_RELAY_BATCH_MS,
        }),
        agents,
        worktree: Default::default(),
        limits: Default::default(),
        live: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::project::PROJECT;

    #[test]
    fn the_team_has_a_supervisor_and_three_personas_in_the_workdir() {
        let dir = tempfile::tempdir().unwrap();
        let exe = Path::new("/usr/bin/agentmux");
        let team = demo_team(exe, dir.path());
        let names: Vec<&str> = team.agents.iter().map(|a| a.spec.name.as_str()).collect();
        assert_eq!(names, ["backend", "frontend", "tests"]);
        let sup = team.supervisor.as_ref().unwrap();
        for spec in team.agents.iter().map(|a| &a.spec).chain([&sup.spec]) {
            assert_eq!(spec.cwd, dir.path());
            assert!(spec.role.is_some());
            let env = spec.options.env.as_ref().unwrap();
            assert_eq!(env["AGENTMUX_SIM_PERSONA"], spec.name);
            assert!(env["AGENTMUX_SIM_HOME"].starts_with(&*dir.path().to_string_lossy()));
        }
        assert!(team.agents.iter().all(|a| a.prompt.is_some()) && sup.prompt.is_some());
        for (path, _) in PROJECT {
            assert!(dir.path().join(path).is_file(), "{path}");
        }
    }
}
