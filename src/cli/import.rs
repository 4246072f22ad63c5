//! `agentmux import`: the Claude Code sessions of this directory, and one of them as an agent.
//!
//! Without an id it lists them (newest first). With one it asks the running agentmux of this
//! directory to add the agent (`import` request); when none runs, it adds the agent to this
//! directory's workspace, where the next `agentmux` shows it. Claude Code's files are only read.

use std::io::Write;
use std::path::Path;

use super::CliError;
use crate::agent::AgentSpec;
use crate::app::convo::FORK_EXTRA;
use crate::control::client::{find_socket, Client, ClientError, ENV_AGENT, ENV_SOCKET};
use crate::control::proto::{Answer, Request};
use crate::import::{self, History, SessionSummary};
use crate::store::{self, Access, Workspace, WorkspaceKey};

pub fn import(session: Option<String>, name: Option<String>) -> Result<(), CliError> {
    let cwd = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|source| CliError::Io { what: "current directory".into(), source })?;
    let projects = import::projects_dir()
        .ok_or_else(|| CliError::Other("neither CLAUDE_CONFIG_DIR nor HOME is set".into()))?;
    let Some(id) = session else {
        let list = import::list_sessions(&projects, &cwd);
        return print(&session_table(&list, &cwd, &projects));
    };
    // Read it here first: a bad id or file is told the same way whether agentmux runs or not.
    let found = import::find_session(&projects, &id, Some(&cwd)).map_err(other)?;
    let key = super::workspace_key(&cwd);
    let target = super::guess_target(&cwd);
    match find_socket(std::env::var_os(ENV_SOCKET), &target) {
        Ok(socket) => match into_running(&socket, &found.id, &cwd, name.clone()) {
            Err(ClientError::NotRunning(_)) => {}
            Err(e) => return Err(other(e)),
            Ok(done) => return done,
        },
        Err(ClientError::NotRunning(_)) => {}
        Err(e) => return Err(CliError::Other(e.to_string())),
    }
    into_workspace(&key, &cwd, &found, name)
}

fn other(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

fn print(text: &str) -> Result<(), CliError> {
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|source| CliError::Io { what: "standard output".into(), source })
}

/// Through the control socket; `NotRunning` when nothing answers there.
fn into_running(
    socket: &Path,
    id: &str,
    cwd: &Path,
    name: Option<String>,
) -> Result<Result<(), CliError>, ClientError> {
    let from = std::env::var(ENV_AGENT).ok().filter(|s| !s.is_empty());
    let mut client = Client::connect(socket, from)?;
    let request =
        Request::Import { session_id: id.to_string(), cwd: cwd.display().to_string(), name };
    Ok(match client.request(request)? {
        Answer::Created { agent } => print(&format!("imported session {id} as {agent}\n")),
        Answer::Error { message, .. } => Err(CliError::Other(message)),
        other => Err(CliError::Other(format!("unexpected answer {other:?}"))),
    })
}

/// Into the workspace of this directory, while no agentmux has it open.
fn into_workspace(
    key: &WorkspaceKey,
    cwd: &Path,
    found: &import::Found,
    name: Option<String>,
) -> Result<(), CliError> {
    let data_dir = store::data_dir()?;
    let mut ws = Workspace::open_or_create(&data_dir, key, Access::Exclusive)?;
    let name = name.unwrap_or_else(|| {
        let short: String = found.id.chars().take(8).collect();
        format!("session-{short}")
    });
    let open =
        ws.state().agents.iter().find(|a| {
            a.session_id.as_deref() == Some(&found.id) && !a.extras.contains_key(FORK_EXTRA)
        });
    if let Some(a) = open {
        let agent = a.spec.name.clone();
        return Err(other(import::ImportError::AlreadyOpen { id: found.id.clone(), agent }));
    }
    if ws.agent(&name).is_some() {
        return Err(CliError::Usage(format!(
            "workspace {} has an agent named {name} already; choose another with --name",
            ws.name()
        )));
    }
    let mut spec = AgentSpec::new(name.clone(), cwd);
    spec.options = crate::config::Settings::load()?.defaults;
    ws.add_agent(spec, false)?;
    let history = History::import(found);
    let bounds = history.bounds();
    for i in 0..history.turns.len() {
        ws.append_many(&name, i as u64 + 1, &history.records(i, &bounds))?;
    }
    ws.update_agent(&name, |s| s.prompt_sent = true)?;
    ws.sync()?;
    print(&format!(
        "imported session {} as {name} into workspace {} ({} turns); run agentmux here to \
         continue it\n",
        found.id,
        ws.name(),
        history.turns.len()
    ))
}

/// The list `agentmux import` prints: one line a session, newest first, and how to import.
pub fn session_table(list: &[SessionSummary], cwd: &Path, projects: &Path) -> String {
    if list.is_empty() {
        return format!(
            "no Claude Code sessions of {} (in {})\n",
            cwd.display(),
            projects.join(import::project_name(cwd)).display()
        );
    }
    let rows: Vec<[String; 4]> = list
        .iter()
        .map(|s| {
            let when = match s.last_ms {
                0 => "-".into(),
                ms => format!("{} UTC", store::fsutil::utc_minute(ms)),
            };
            [s.id.clone(), when, s.messages.to_string(), one_line(&s.first_prompt, 60)]
        })
        .collect();
    let header = ["SESSION", "WHEN", "MESSAGES", "FIRST PROMPT"].map(String::from);
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str("import one with `agentmux import SESSION [--name NAME]`\n");
    out
}

/// The first line of `text`, cut to `max` characters, made safe for a terminal.
fn one_line(text: &str, max: usize) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let clean = crate::render::sanitize(first).into_owned();
    if clean.chars().count() <= max {
        return clean;
    }
    clean.chars().take(max - 1).chain(['…']).collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_session_table_lists_newest_first_with_one_line_prompts() {
        let s = |id: &str, last_ms, prompt: &str, messages| SessionSummary {
            id: id.into(),
            file: PathBuf::from("f"),
            last_ms,
            first_prompt: prompt.into(),
            messages,
            turns: 1,
        };
        let list = [
            s("c36597d6-6218-456a-ac90-7c6396304ea0", 1_795_000_060_000, "fix the\nbuild", 8),
            s("00000000-0000-4000-8000-000000000000", 0, &"x\u{1b}[31m".repeat(40), 120),
        ];
        let table = session_table(&list, Path::new("/w"), Path::new("/h/.claude/projects"));
        insta::assert_snapshot!(table);
        let none = session_table(&[], Path::new("/w"), Path::new("/h/.claude/projects"));
        assert_eq!(none, "no Claude Code sessions of /w (in /h/.claude/projects/-w)\n");
    }
}
