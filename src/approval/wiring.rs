//! A turn's approval arguments: `--mcp-config` with the `agentmux` server (this executable, run
//! as `__mcp-approve`, told the control socket and the agent's name) merged into the agent's own
//! MCP config, and `--permission-prompt-tool mcp__agentmux__approve`.
//!
//! The agent's own `mcp_config` (a path or a JSON string) is read and merged here, so the CLI
//! gets one config; it is taken out of the request's spec so it is not passed twice.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::agent::{AgentOptions, PermissionMode, TurnRequest};
use crate::control::client::{ENV_AGENT, ENV_SOCKET};

/// Where the approval server runs from and whom it asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wiring {
    /// The agentmux executable (`std::env::current_exe`).
    pub exe: PathBuf,
    /// The control socket of this agentmux.
    pub socket: PathBuf,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WiringError {
    #[error("mcp_config {path}: {why}")]
    Read { path: String, why: String },
    #[error("mcp_config is not valid JSON: {0}")]
    Json(String),
    #[error("mcp_config must be a JSON object with an \"mcpServers\" object")]
    Shape,
    #[error(
        "mcp_config already has a server named \"agentmux\", which agentmux needs for approvals; \
         rename it, or set approvals = false"
    )]
    NameTaken,
}

/// Whether an agent with these options asks the user: not when turned off, and not in the
/// modes that never ask (bypassPermissions runs everything; dontAsk denies what is not allowed).
pub fn wanted(options: &AgentOptions) -> bool {
    options.approvals != Some(false)
        && !matches!(
            options.permission_mode,
            Some(PermissionMode::BypassPermissions | PermissionMode::DontAsk)
        )
}

/// The `mcpServers` entry of the approval server.
pub fn server_entry(wiring: &Wiring, agent: &str) -> Value {
    json!({
        "type": "stdio",
        "command": wiring.exe.to_string_lossy(),
        "args": [super::MCP_SUBCOMMAND],
        "env": {
            ENV_SOCKET: wiring.socket.to_string_lossy(),
            ENV_AGENT: agent,
        },
    })
}

/// Read the user's config (`None` = none): JSON text as is, anything else a file, relative to
/// `cwd`.
fn user_config(config: Option<&str>, cwd: &Path) -> Result<Map<String, Value>, WiringError> {
    let Some(config) = config.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(Map::new());
    };
    let text = if config.starts_with('{') {
        config.to_string()
    } else {
        let path = cwd.join(config);
        std::fs::read_to_string(&path).map_err(|e| WiringError::Read {
            path: path.display().to_string(),
            why: e.to_string(),
        })?
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(WiringError::Shape),
        Err(e) => Err(WiringError::Json(e.to_string())),
    }
}

/// The merged config: the user's servers and ours.
pub fn merged_config(
    user: Option<&str>,
    cwd: &Path,
    wiring: &Wiring,
    agent: &str,
) -> Result<String, WiringError> {
    let mut config = user_config(user, cwd)?;
    let servers = config.entry("mcpServers").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(servers) = servers else {
        return Err(WiringError::Shape);
    };
    if servers.contains_key(super::SERVER_NAME) {
        return Err(WiringError::NameTaken);
    }
    servers.insert(super::SERVER_NAME.to_string(), server_entry(wiring, agent));
    Ok(Value::Object(config).to_string())
}

/// Add the approval arguments to a turn, when its agent asks the user.
pub fn apply(req: &mut TurnRequest, wiring: &Wiring) -> Result<(), WiringError> {
    if !wanted(&req.spec.options) {
        return Ok(());
    }
    let config = merged_config(
        req.spec.options.mcp_config.as_deref(),
        &req.spec.cwd,
        wiring,
        &req.spec.name,
    )?;
    req.spec.options.mcp_config = None;
    req.extra_args.extend([
        "--mcp-config".to_string(),
        config,
        "--permission-prompt-tool".to_string(),
        super::PERMISSION_PROMPT_TOOL.to_string(),
    ]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentId, AgentSpec, ClaudeCmd, SessionArg};

    fn wiring() -> Wiring {
        Wiring { exe: "/usr/bin/agentmux".into(), socket: "/run/a.sock".into() }
    }

    fn request(options: AgentOptions) -> TurnRequest {
        let mut spec = AgentSpec::new("api", "/proj");
        spec.options = options;
        TurnRequest {
            agent: AgentId(0),
            turn: 1,
            claude: ClaudeCmd::real("claude"),
            spec,
            prompt: "go".into(),
            origin: crate::agent::Origin::User,
            session: SessionArg::Resume("s".into()),
            extra_env: Vec::new(),
            extra_args: Vec::new(),
            max_line_bytes: 1024,
        }
    }

    fn config_arg(req: &TurnRequest) -> Value {
        let i = req.extra_args.iter().position(|a| a == "--mcp-config").expect("--mcp-config");
        serde_json::from_str(&req.extra_args[i + 1]).expect("JSON")
    }

    #[test]
    fn adds_the_server_and_the_prompt_tool() {
        let mut req = request(AgentOptions::default());
        apply(&mut req, &wiring()).expect("applies");
        assert_eq!(req.extra_args[2..], ["--permission-prompt-tool", "mcp__agentmux__approve"]);
        assert_eq!(
            config_arg(&req),
            json!({"mcpServers": {"agentmux": {
                "type": "stdio",
                "command": "/usr/bin/agentmux",
                "args": ["__mcp-approve"],
                "env": {"AGENTMUX_SOCKET": "/run/a.sock", "AGENTMUX_AGENT": "api"},
            }}})
        );
    }

    #[test]
    fn merges_the_agents_own_config_from_json_or_a_file() {
        let own = r#"{"mcpServers":{"db":{"command":"db-mcp"}},"other":1}"#;
        let mut req = request(AgentOptions { mcp_config: Some(own.into()), ..Default::default() });
        apply(&mut req, &wiring()).expect("applies");
        assert_eq!(req.spec.options.mcp_config, None, "passed once, merged");
        let c = config_arg(&req);
        assert_eq!(c["mcpServers"]["db"]["command"], "db-mcp");
        assert_eq!(c["mcpServers"]["agentmux"]["args"][0], "__mcp-approve");
        assert_eq!(c["other"], 1);

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("mcp.json"), own).expect("write");
        let mut req =
            request(AgentOptions { mcp_config: Some("mcp.json".into()), ..Default::default() });
        req.spec.cwd = dir.path().to_path_buf();
        apply(&mut req, &wiring()).expect("applies");
        assert_eq!(config_arg(&req)["mcpServers"]["db"]["command"], "db-mcp");
    }

    #[test]
    fn a_broken_user_config_is_an_error_that_says_what() {
        let with = |c: &str| {
            let mut req =
                request(AgentOptions { mcp_config: Some(c.into()), ..Default::default() });
            apply(&mut req, &wiring()).map(|()| req.extra_args)
        };
        assert!(matches!(with("{not json"), Err(WiringError::Json(_))));
        assert_eq!(with(r#"{"mcpServers":[]}"#), Err(WiringError::Shape));
        assert_eq!(with(r#"{"mcpServers":{"agentmux":{}}}"#), Err(WiringError::NameTaken));
        match with("/nonexistent/mcp.json") {
            Err(e @ WiringError::Read { .. }) => {
                assert!(e.to_string().contains("/nonexistent/mcp.json"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn modes_that_never_ask_and_approvals_off_get_nothing() {
        for options in [
            AgentOptions { approvals: Some(false), ..Default::default() },
            AgentOptions {
                permission_mode: Some(PermissionMode::BypassPermissions),
                ..Default::default()
            },
            AgentOptions { permission_mode: Some(PermissionMode::DontAsk), ..Default::default() },
        ] {
            let mut req = request(options.clone());
            apply(&mut req, &wiring()).expect("nothing to do");
            assert!(req.extra_args.is_empty(), "{options:?}");
        }
        assert!(wanted(&AgentOptions {
            permission_mode: Some(PermissionMode::AcceptEdits),
            ..Default::default()
        }));
    }
}
