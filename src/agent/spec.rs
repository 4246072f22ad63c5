//! What an agent is: a name, a role, a directory, and the claude options a team needs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Who pays for an agent's tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Billing {
    /// The user's Claude subscription: API keys are not passed to the child.
    #[default]
    Subscription,
    /// Pass `ANTHROPIC_API_KEY` / `ANTHROPIC_AUTH_TOKEN` through (billed per token).
    Api,
}

/// The CLI's `--permission-mode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionMode {
    Default,
    AcceptEdits,
    BypassPermissions,
    Plan,
    DontAsk,
}

impl PermissionMode {
    /// A mode as a user names it: the CLI's names, and `manual` (newer CLIs' name of
    /// `default`).
    pub fn parse(s: &str) -> Result<PermissionMode, String> {
        Ok(match s {
            "default" | "manual" => PermissionMode::Default,
            "acceptEdits" => PermissionMode::AcceptEdits,
            "bypassPermissions" => PermissionMode::BypassPermissions,
            "plan" => PermissionMode::Plan,
            "dontAsk" => PermissionMode::DontAsk,
            _ => {
                return Err(
                    "expected one of default, acceptEdits, bypassPermissions, plan, dontAsk".into(),
                )
            }
        })
    }

    pub fn as_arg(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::BypassPermissions => "bypassPermissions",
            PermissionMode::Plan => "plan",
            PermissionMode::DontAsk => "dontAsk",
        }
    }
}

/// How an agent's turns reach claude.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// One long-lived process serves every turn (`agent::live`), started with `--resume` when
    /// the conversation exists.
    #[default]
    Live,
    /// A new `claude -p ... --resume ID` process per turn.
    Oneshot,
}

/// The claude options of an agent. Every field is optional so that layers (user settings,
/// a team's `[defaults]`, an agent's own table, the command line) can be merged: see
/// [`AgentOptions::over`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentOptions {
    pub model: Option<String>,
    pub fallback_model: Option<String>,
    pub permission_mode: Option<PermissionMode>,
    pub allowed_tools: Option<Vec<String>>,
    pub disallowed_tools: Option<Vec<String>>,
    pub max_turns: Option<u32>,
    pub max_budget_usd: Option<f64>,
    pub append_system_prompt: Option<String>,
    /// Replaces the CLI's whole system prompt.
    pub system_prompt: Option<String>,
    /// `--add-dir` entries.
    pub add_dirs: Option<Vec<PathBuf>>,
    /// `--mcp-config`: a path or a JSON string.
    pub mcp_config: Option<String>,
    /// `--settings`: a path or a JSON string.
    pub settings: Option<String>,
    /// On unless set to false, so text streams as it is written.
    pub include_partial_messages: Option<bool>,
    /// Extra environment variables for the child (see `agent::env` for the forbidden ones).
    pub env: Option<BTreeMap<String, String>>,
    pub billing: Option<Billing>,
    /// Ask the user about tool calls that need permission (agentmux's approval server); on
    /// unless set to false or the permission mode never asks.
    pub approvals: Option<bool>,
    /// `live` (the default) or `oneshot`.
    pub engine: Option<Engine>,
    /// How far below the UI the agent's processes run (a nice value, 0 to 19): the user's
    /// keys must win the CPU over the agents' work. [`AgentOptions::DEFAULT_NICE`] when unset.
    pub nice: Option<u8>,
    /// Which agents the usage governor holds first as a window fills: lower first (0 when
    /// unset; see `limits::governor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
}

impl AgentOptions {
    /// Agents run this much below agentmux unless told otherwise: enough that a busy team
    /// leaves the loop the CPU it needs to answer a key, not so much that agents starve under
    /// other work on the machine.
    pub const DEFAULT_NICE: u8 = 10;
    /// The lowest priority there is.
    pub const MAX_NICE: u8 = 19;

    /// `self` layered over `base`: every field `self` sets wins; `env` maps are merged.
    pub fn over(&self, base: &AgentOptions) -> AgentOptions {
        let env = match (&base.env, &self.env) {
            (Some(b), Some(s)) => {
                let mut m = b.clone();
                m.extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
                Some(m)
            }
            (b, s) => s.clone().or_else(|| b.clone()),
        };
        AgentOptions {
            model: self.model.clone().or_else(|| base.model.clone()),
            fallback_model: self.fallback_model.clone().or_else(|| base.fallback_model.clone()),
            permission_mode: self.permission_mode.or(base.permission_mode),
            allowed_tools: self.allowed_tools.clone().or_else(|| base.allowed_tools.clone()),
            disallowed_tools: self
                .disallowed_tools
                .clone()
                .or_else(|| base.disallowed_tools.clone()),
            max_turns: self.max_turns.or(base.max_turns),
            max_budget_usd: self.max_budget_usd.or(base.max_budget_usd),
            append_system_prompt: self
                .append_system_prompt
                .clone()
                .or_else(|| base.append_system_prompt.clone()),
            system_prompt: self.system_prompt.clone().or_else(|| base.system_prompt.clone()),
            add_dirs: self.add_dirs.clone().or_else(|| base.add_dirs.clone()),
            mcp_config: self.mcp_config.clone().or_else(|| base.mcp_config.clone()),
            settings: self.settings.clone().or_else(|| base.settings.clone()),
            include_partial_messages: self
                .include_partial_messages
                .or(base.include_partial_messages),
            env,
            billing: self.billing.or(base.billing),
            approvals: self.approvals.or(base.approvals),
            engine: self.engine.or(base.engine),
            nice: self.nice.or(base.nice),
            priority: self.priority.or(base.priority),
        }
    }

    pub fn nice(&self) -> u8 {
        self.nice.unwrap_or(Self::DEFAULT_NICE).min(Self::MAX_NICE)
    }

    pub fn engine(&self) -> Engine {
        self.engine.unwrap_or_default()
    }

    pub fn billing(&self) -> Billing {
        self.billing.unwrap_or_default()
    }

    pub fn include_partial_messages(&self) -> bool {
        self.include_partial_messages.unwrap_or(true)
    }
}

/// One agent of a team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The child's working directory (the CLI has no `--cwd`).
    pub cwd: PathBuf,
    #[serde(default)]
    pub options: AgentOptions,
}

impl AgentSpec {
    pub fn new(name: impl Into<String>, cwd: impl Into<PathBuf>) -> Self {
        AgentSpec {
            name: name.into(),
            role: None,
            cwd: cwd.into(),
            options: AgentOptions::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layering_prefers_the_upper_layer_and_merges_env() {
        let base = AgentOptions {
            model: Some("sonnet".into()),
            max_turns: Some(5),
            env: Some(BTreeMap::from([("A".into(), "1".into()), ("B".into(), "1".into())])),
            ..Default::default()
        };
        let top = AgentOptions {
            model: Some("opus".into()),
            env: Some(BTreeMap::from([("B".into(), "2".into())])),
            ..Default::default()
        };
        let m = top.over(&base);
        assert_eq!(m.model.as_deref(), Some("opus"));
        assert_eq!(m.max_turns, Some(5));
        assert!(m.include_partial_messages());
        assert_eq!(m.billing(), Billing::Subscription);
        let env = m.env.unwrap_or_default();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "2");
    }
}
