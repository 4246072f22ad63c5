//! The supervisor's appended system prompt and default tool rules, generated from the team.

use crate::agent::AgentSpec;
use crate::config::{SupervisorConfig, Team};

/// What the supervisor may run unless the team file says otherwise: exactly the two commands
/// it coordinates with.
pub const DEFAULT_ALLOWED_TOOLS: [&str; 2] = ["Bash(agentmux send:*)", "Bash(agentmux ls:*)"];

/// The supervisor's spec as it runs: its own options, its generated prompt appended to the
/// system prompt (before any text the team file appends), and [`DEFAULT_ALLOWED_TOOLS`] unless
/// the `[supervisor]` table sets `allowed_tools` itself. Rules it only inherited from the team's
/// `[defaults]` are the workers' tools and do not count as setting them.
pub fn supervisor_spec(team: &Team, sup: &SupervisorConfig) -> AgentSpec {
    let mut spec = sup.spec.clone();
    let own = spec.options.allowed_tools.as_ref();
    if own.is_none() || own == team.defaults.allowed_tools.as_ref() {
        spec.options.allowed_tools = Some(DEFAULT_ALLOWED_TOOLS.map(String::from).to_vec());
    }
    let generated = supervisor_prompt(team, sup);
    spec.options.append_system_prompt = Some(match &spec.options.append_system_prompt {
        Some(extra) if !extra.trim().is_empty() => format!("{generated}\n\n{extra}"),
        _ => generated,
    });
    spec
}

/// The appended system prompt: who the workers are, how to hand out work and look at the team,
/// and how reports come back.
pub fn supervisor_prompt(team: &Team, sup: &SupervisorConfig) -> String {
    let mut p = String::new();
    p.push_str(&format!(
        "You are \"{}\", the supervisor of a team of Claude Code agents that agentmux runs side \
         by side. You coordinate: split the user's requests into tasks, hand them to your \
         workers, read their reports, and decide what comes next. Leave the work itself to the \
         workers.\n\n",
        sup.spec.name
    ));
    let workers: Vec<_> = team.agents.iter().filter(|a| a.spec.name != sup.spec.name).collect();
    if workers.is_empty() {
        p.push_str(
            "Your team has no workers yet; `agentmux ls` shows any that were added since.\n\n",
        );
    } else {
        p.push_str("Your workers:\n");
        for w in &workers {
            let role = w.spec.role.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            p.push_str(&format!("- {}{role}, working in {}\n", w.spec.name, w.spec.cwd.display()));
        }
        p.push('\n');
    }
    p.push_str(
        "To hand out work, run with your Bash tool:\n\
         \x20   agentmux send NAME \"the task\"\n\
         One worker per command, the task in double quotes. A worker sees only what you send, \
         not this conversation, so say everything it needs: the goal, the files, how to check \
         its work. A busy worker queues the task and starts it when its current turn ends.\n\n\
         To see every agent's state, turns and cost, run:\n\
         \x20   agentmux ls\n\n\
         Reports come back by themselves: when a worker's turn that you started ends, agentmux \
         sends you its report (worker, outcome, result, cost) as your next message; reports that \
         end close together arrive in one message. Do not wait or poll for them: after handing \
         out work, end your turn. When the work is done, answer with a short summary for the \
         user.\n",
    );
    let mut limits = vec![
        format!("{} relays per task chain", sup.max_relay_depth),
        format!("{} relayed turns per minute", sup.max_relays_per_minute),
    ];
    if let Some(b) = sup.team_budget_usd {
        limits.push(format!("a team budget of {}", crate::money::usd(b)));
    }
    p.push_str(&format!(
        "\nLimits: {}. When one is reached agentmux stops relaying and the user decides how to \
         go on.",
        limits.join(", ")
    ));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentSpec;
    use crate::config::TeamAgent;

    fn team() -> (Team, SupervisorConfig) {
        let worker = |name: &str, role: Option<&str>, cwd: &str| TeamAgent {
            spec: AgentSpec { role: role.map(String::from), ..AgentSpec::new(name, cwd) },
            prompt: None,
            worktree: false,
        };
        let sup = SupervisorConfig {
            spec: AgentSpec::new("lead", "/proj"),
            prompt: None,
            max_relay_depth: 4,
            max_relays_per_minute: 6,
            team_budget_usd: Some(2.5),
            report_chars: 2000,
            relay_batch_ms: SupervisorConfig::DEFAULT_RELAY_BATCH_MS,
        };
        let team = Team {
            agents: vec![
                worker("backend", Some("API and database"), "/proj/api"),
                worker("frontend", None, "/proj/web"),
            ],
            supervisor: Some(sup.clone()),
            ..Team::default()
        };
        (team, sup)
    }

    #[test]
    fn the_prompt_names_every_worker_and_the_commands() {
        let (team, sup) = team();
        let p = supervisor_prompt(&team, &sup);
        assert!(p.contains("You are \"lead\""), "{p}");
        assert!(p.contains("- backend (API and database), working in /proj/api\n"), "{p}");
        assert!(p.contains("- frontend, working in /proj/web\n"), "{p}");
        assert!(p.contains("agentmux send NAME \"the task\""), "{p}");
        assert!(p.contains("agentmux ls"), "{p}");
        assert!(
            p.contains(
                "4 relays per task chain, 6 relayed turns per minute, a team budget of $2.50"
            ),
            "{p}"
        );
    }

    #[test]
    fn the_supervisor_gets_exactly_the_two_commands_by_default() {
        let (mut team, mut sup) = team();
        let spec = supervisor_spec(&team, &sup);
        assert_eq!(
            spec.options.allowed_tools,
            Some(vec!["Bash(agentmux send:*)".to_string(), "Bash(agentmux ls:*)".to_string()])
        );
        // Inherited from [defaults]: the workers' rules, not the supervisor's.
        team.defaults.allowed_tools = Some(vec!["Edit".into()]);
        sup.spec.options.allowed_tools = Some(vec!["Edit".into()]);
        let spec = supervisor_spec(&team, &sup);
        assert_eq!(spec.options.allowed_tools.map(|v| v.len()), Some(2));
        // Set in [supervisor] itself: kept as written.
        sup.spec.options.allowed_tools = Some(vec!["Bash(agentmux:*)".into()]);
        let spec = supervisor_spec(&team, &sup);
        assert_eq!(spec.options.allowed_tools, Some(vec!["Bash(agentmux:*)".to_string()]));
    }

    #[test]
    fn the_team_files_own_appended_prompt_comes_after_the_generated_one() {
        let (team, mut sup) = team();
        sup.spec.options.append_system_prompt = Some("Prefer small tasks.".into());
        let spec = supervisor_spec(&team, &sup);
        let p = spec.options.append_system_prompt.unwrap_or_default();
        assert!(p.starts_with("You are \"lead\""), "{p}");
        assert!(p.ends_with("\n\nPrefer small tasks."), "{p}");
    }
}
