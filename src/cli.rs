//! The command line. `main.rs` only calls [`main`].
//!
//! `agentmux [-c FILE] [--claude PATH] [--workspace NAME]` opens a team; subcommands do the
//! rest. To add a subcommand: a variant of [`Command`] and an arm in [`dispatch`].
//! Errors are reported once, here: `agentmux: <what>: <cause>` on stderr, exit code 2 for
//! usage mistakes and 1 for everything else.

mod import;

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::agent::{AgentOptions, ClaudeCmd, PermissionMode};
use crate::attach::client::{Place, SERVE_ENV};
use crate::config::trust::{self, Standing, TrustStore};
use crate::config::{ConfigError, Layers, Settings, Team, TEAM_FILE_NAME};
use crate::control::client::Target;
use crate::money::usd;
use crate::run::{RunError, RunOptions};
use crate::store::{self, Access, StoreError, Workspace, WorkspaceKey};

#[derive(Debug, Parser)]
#[command(
    name = "agentmux",
    version,
    about = "Run a team of Claude Code agents side by side in one terminal",
    long_about = "Run a team of Claude Code agents side by side in one terminal.\n\n\
        Without a subcommand, agentmux opens the team described by -c FILE, or by ./agentmux.toml \
        when there is one, or else an empty workspace for the current directory. Workspaces \
        persist: reopening shows every pane, conversation and cost where it was.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub open: OpenArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How to open a team (the default action).
#[derive(Debug, Default, Args)]
pub struct OpenArgs {
    /// The team file to open (default: ./agentmux.toml if it exists); with a control command
    /// (ls, send, ...), the agentmux that has it open
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The claude CLI to run (default: AGENTMUX_CLAUDE, your settings, PATH, usual places);
    /// `sim` runs the simulated claude built into agentmux (offline, free, canned answers)
    #[arg(long, value_name = "PATH|sim", env = "AGENTMUX_CLAUDE")]
    pub claude: Option<PathBuf>,
    /// Keep this run in the workspace NAME instead of the team file's own; with a control
    /// command, the agentmux that has it open
    #[arg(long, value_name = "NAME", global = true)]
    pub workspace: Option<String>,
    /// Look at a workspace another agentmux has open, without changing it
    #[arg(long)]
    pub read_only: bool,
    /// Model for every agent (over the team file)
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Permission mode for every agent (over the team file)
    #[arg(long, value_name = "MODE", value_parser = parse_permission_mode)]
    pub permission_mode: Option<PermissionMode>,
    /// Spending limit per turn for every agent, in US dollars
    #[arg(long, value_name = "USD")]
    pub max_budget_usd: Option<f64>,
    /// Limit of agentic turns per turn for every agent
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// Run the agents in this terminal, not in a background server: they stop when it closes
    #[arg(long, env = "AGENTMUX_NO_SERVER")]
    pub no_server: bool,
    /// Run the team file without asking whether you trust it (for scripts; nothing is
    /// remembered). Without it, a team file you have not trusted before is shown first.
    #[arg(long)]
    pub trust: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A supervisor and simulated agents at work (no claude, no network, nothing saved)
    Demo,
    /// Attach this terminal to a workspace whose agents run in the background
    Attach {
        /// The workspace (as `agentmux workspaces` lists it; default: this directory's)
        #[arg(id = "attach_workspace", value_name = "WORKSPACE")]
        workspace: Option<String>,
    },
    /// List saved workspaces (the running ones marked), or remove one
    Workspaces {
        #[command(subcommand)]
        action: Option<WorkspacesAction>,
    },
    /// Write an agent's transcript as Markdown
    Export {
        /// The workspace (as `agentmux workspaces` lists it)
        // Its own id: `workspace` is the global --workspace.
        #[arg(id = "export_workspace", value_name = "WORKSPACE")]
        workspace: String,
        /// The agent's name
        agent: String,
        /// Write to FILE instead of standard output
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// List this directory's Claude Code sessions, or continue one as an agent
    Import {
        /// The session to import (as the list shows it); without it, list them
        session: Option<String>,
        /// The agent's name (default: session-<first 8 characters of the id>)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Print a shell completion script (e.g. `agentmux completions bash > ...`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// `ls`, `send`, `new`, `wait`, `tail`, `kill`, `broadcast`: drive a running agentmux.
    #[command(flatten)]
    Control(crate::control::ControlCommand),
}

#[derive(Debug, Subcommand)]
pub enum WorkspacesAction {
    /// List workspaces (the default)
    Ls,
    /// Remove a workspace and its transcripts
    Rm {
        name: String,
        /// Do not ask for confirmation
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

fn parse_permission_mode(s: &str) -> Result<PermissionMode, String> {
    Ok(match s {
        "default" => PermissionMode::Default,
        "acceptEdits" => PermissionMode::AcceptEdits,
        "bypassPermissions" => PermissionMode::BypassPermissions,
        "plan" => PermissionMode::Plan,
        "dontAsk" => PermissionMode::DontAsk,
        _ => {
            return Err(
                "expected one of default, acceptEdits, bypassPermissions, plan, dontAsk".into()
            )
        }
    })
}

/// Everything that can stop a command, reported as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A usage mistake (exit code 2).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("claude: {0}")]
    Claude(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{what}: {}", crate::config::io_cause(source))]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // The simulated claude takes claude's flags, not ours: dispatch before any parsing.
    if args.get(1).is_some_and(|a| a == crate::SIM_SUBCOMMAND) {
        return crate::sim::main(args[2..].to_vec());
    }
    // The approval server speaks MCP on stdio; the CLI starts it (see `approval::mcp`).
    if args.get(1).is_some_and(|a| a == crate::approval::MCP_SUBCOMMAND) {
        return crate::approval::mcp::main();
    }
    let args = without_help_flags_after_help(args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    // The control commands have exit statuses of their own (see `control::client`).
    if let Some(Command::Control(cmd)) = cli.command {
        return control(cmd, &cli.open);
    }
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints `agentmux: <what>: <cause>` on stderr, sanitized (a cause may quote a team file or a
/// path, which may hold escapes). Not `eprintln!`: it panics when the terminal is gone (a
/// hang-up), and there is nobody to tell then.
fn report(e: &CliError) {
    let _ = writeln!(std::io::stderr(), "agentmux: {}", crate::render::sanitize(&e.to_string()));
}

/// `agentmux help --help` and `agentmux help demo -h` ask for help on help: clap's built-in
/// `help` takes no flags and would call that a usage mistake, so the flags are dropped and
/// `help` prints what it always prints.
fn without_help_flags_after_help(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.get(1).is_some_and(|a| a == "help") {
        let tail = args.split_off(2);
        args.extend(tail.into_iter().filter(|a| a != "--help" && a != "-h"));
    }
    args
}

/// `--help` and `--version` print as clap renders them; a usage mistake becomes one line.
fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let _ = writeln!(std::io::stderr(), "agentmux: {first} (see agentmux --help)");
            ExitCode::from(2)
        }
    }
}

/// Runs a parsed command line.
pub fn dispatch(cli: Cli) -> Result<(), CliError> {
    // -c and --workspace are global for the control commands' sake; the others have none.
    if let Some(cmd) = &cli.command {
        let flag = match (&cli.open.config, &cli.open.workspace) {
            (Some(_), _) => Some("-c"),
            (None, Some(_)) => Some("--workspace"),
            (None, None) => None,
        };
        if let Some(flag) = flag.filter(|_| !matches!(cmd, Command::Control(_))) {
            return Err(CliError::Usage(format!(
                "{flag} is for opening a team and the control commands (ls, send, ...), not \
                 for this command"
            )));
        }
    }
    match cli.command {
        None => open(cli.open),
        Some(Command::Demo) => demo(),
        Some(Command::Attach { workspace }) => attach(workspace),
        Some(Command::Workspaces { action: None | Some(WorkspacesAction::Ls) }) => {
            list_workspaces()
        }
        Some(Command::Workspaces { action: Some(WorkspacesAction::Rm { name, yes }) }) => {
            remove_workspace(&name, yes)
        }
        Some(Command::Export { workspace, agent, output }) => export(&workspace, &agent, output),
        Some(Command::Import { session, name }) => import::import(session, name),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "agentmux", &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Control(cmd)) => match control(cmd, &cli.open) {
            c if c == ExitCode::SUCCESS => Ok(()),
            _ => Err(CliError::Other("the control command failed".into())),
        },
    }
}

/// A control command against the running agentmux: the one `--workspace` or `-c` names, else
/// `AGENTMUX_SOCKET`, else the one this directory's workspace or team files are open in, else
/// the only one running.
fn control(cmd: crate::control::ControlCommand, open: &OpenArgs) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match control_target(open, &cwd) {
        Ok(target) => crate::control::client::main(cmd, &target),
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

fn control_target(open: &OpenArgs, cwd: &Path) -> Result<Target, CliError> {
    if let Some(name) = &open.workspace {
        WorkspaceKey::Named(name.clone()).dir_name().map_err(|_| bad_workspace_name(name))?;
        return Ok(Target::Named(name.clone()));
    }
    let Some(file) = &open.config else { return Ok(guess_target(cwd)) };
    let path = std::fs::canonicalize(cwd.join(file))
        .map_err(|source| CliError::Io { what: format!("-c {}", file.display()), source })?;
    Ok(Target::Named(workspace_name(&WorkspaceKey::TeamFile(path))))
}

/// The workspaces a control command run in `cwd` most likely means: the one `agentmux` here
/// opens, then any other open one whose team file is in this directory (`agentmux -c x.toml`).
fn guess_target(cwd: &Path) -> Target {
    Target::Guess(guess_names(cwd))
}

fn guess_names(cwd: &Path) -> Vec<String> {
    let mut names = vec![workspace_name(&workspace_key(cwd))];
    let cwd = std::fs::canonicalize(cwd).unwrap_or(cwd.to_path_buf());
    let list = store::data_dir().and_then(|d| store::list_workspaces(&d)).unwrap_or_default();
    for w in list.into_iter().filter(|w| w.in_use) {
        let here = w.source.as_deref().is_some_and(|s| s == cwd || s.parent() == Some(&cwd));
        if here && !names.contains(&w.name) {
            names.push(w.name);
        }
    }
    names
}

/// The workspace's name as `agentmux` would open it (without a data directory: the old name).
fn workspace_name(key: &WorkspaceKey) -> String {
    let named = store::data_dir().ok().and_then(|d| key.resolve_name(&d).ok());
    named.or_else(|| key.dir_name().ok()).unwrap_or_default()
}

fn bad_workspace_name(name: &str) -> CliError {
    CliError::Usage(format!(
        "--workspace {name}: expected letters, digits, '-', '_' or '.' (not starting with '.')"
    ))
}

/// The workspace `agentmux` in `cwd` opens (without `-c` or `--workspace`): its team file's,
/// else the directory's.
fn workspace_key(cwd: &Path) -> WorkspaceKey {
    match std::fs::canonicalize(cwd.join(TEAM_FILE_NAME)) {
        Ok(file) if file.is_file() => WorkspaceKey::TeamFile(file),
        _ => WorkspaceKey::Directory(std::fs::canonicalize(cwd).unwrap_or(cwd.to_path_buf())),
    }
}

/// The options given on the command line, the top layer over every agent's.
fn command_line_options(args: &OpenArgs) -> Result<AgentOptions, CliError> {
    if let Some(b) = args.max_budget_usd {
        if !(b.is_finite() && b > 0.0) {
            return Err(CliError::Usage(format!(
                "--max-budget-usd {b}: expected a positive number of US dollars"
            )));
        }
    }
    Ok(AgentOptions {
        model: args.model.clone(),
        permission_mode: args.permission_mode,
        max_budget_usd: args.max_budget_usd,
        max_turns: args.max_turns,
        ..AgentOptions::default()
    })
}

/// What `agentmux` (no subcommand) would open, before anything is started.
#[derive(Debug)]
pub struct OpenPlan {
    pub team: Team,
    pub key: WorkspaceKey,
    pub settings: Settings,
    /// How the team file stands with the user, when the team came from one.
    pub trust: Option<TrustCheck>,
}

/// A team file's standing with the user, and what a yes to it is remembered by.
#[derive(Debug)]
pub struct TrustCheck {
    /// The file, canonical.
    pub path: PathBuf,
    /// [`trust::digest`] of the text the team was read from.
    pub sha256: String,
    pub standing: Standing,
}

/// Resolves settings, the team file and the workspace key from the arguments and `cwd`.
pub fn plan_open(args: &OpenArgs, cwd: &Path) -> Result<OpenPlan, CliError> {
    let settings = Settings::load()?;
    let layers =
        Layers { user: settings.defaults.clone(), command_line: command_line_options(args)? };
    let team_file = match &args.config {
        Some(file) => Some(cwd.join(file)),
        None => Some(cwd.join(TEAM_FILE_NAME)).filter(|f| f.is_file()),
    };
    let (team, trust) = match &team_file {
        Some(file) => {
            let (team, text) = Team::load_with_text(file, &layers)?;
            let path = team.path.clone().unwrap_or_else(|| file.clone());
            let sha256 = trust::digest(&text);
            let standing = TrustStore::for_user().standing(&path, &sha256);
            (team, Some(TrustCheck { path, sha256, standing }))
        }
        None => (Team::empty(&layers), None),
    };
    let key = match (&args.workspace, &team.path) {
        (Some(name), _) => WorkspaceKey::Named(name.clone()),
        (None, Some(path)) => WorkspaceKey::TeamFile(path.clone()),
        (None, None) => {
            WorkspaceKey::Directory(std::fs::canonicalize(cwd).unwrap_or(cwd.to_path_buf()))
        }
    };
    if let Some(name) = &args.workspace {
        key.dir_name().map_err(|_| bad_workspace_name(name))?;
    }
    Ok(OpenPlan { team, key, settings, trust })
}

/// Opens a workspace: in this terminal's own process with `--no-server` or `--read-only`,
/// else by attaching to the workspace's server (started first when none runs). The server is
/// this same command line run again with [`SERVE_ENV`] set.
fn open(args: OpenArgs) -> Result<(), CliError> {
    if std::env::var_os(SERVE_ENV).is_none() {
        return open_here(args);
    }
    let result = open_here(args);
    // Before it was ready, the terminal that started the server waits for this word.
    if let Err(e) = &result {
        crate::attach::client::say_failed(&e.to_string());
    }
    result
}

fn attach(workspace: Option<String>) -> Result<(), CliError> {
    let cwd = std::env::current_dir()
        .map_err(|source| CliError::Io { what: "current directory".into(), source })?;
    let place = match workspace {
        Some(name) => {
            WorkspaceKey::Named(name.clone()).dir_name().map_err(|_| bad_workspace_name(&name))?;
            Place::of(&name).map_err(CliError::Other)?
        }
        // The workspace `agentmux` here opens, else one running for a team file here.
        None => {
            let places: Vec<Place> =
                guess_names(&cwd).iter().filter_map(|n| Place::of(n).ok()).collect();
            let running = places.iter().find(|p| p.is_running()).cloned();
            match running.or_else(|| places.into_iter().next()) {
                Some(place) => place,
                None => {
                    Place::of(&workspace_name(&workspace_key(&cwd))).map_err(CliError::Other)?
                }
            }
        }
    };
    crate::attach::client::attach_running(&place).map_err(CliError::Other)
}

fn open_here(args: OpenArgs) -> Result<(), CliError> {
    let cwd = std::env::current_dir()
        .map_err(|source| CliError::Io { what: "current directory".into(), source })?;
    let plan = plan_open(&args, &cwd)?;
    // A missing claude is said before the user is asked to read anything.
    let claude = choose_claude(args.claude.as_deref(), plan.settings.claude.as_deref())?;
    if let Some(check) = &plan.trust {
        confirm_trust(check, &plan.team, args.trust)?;
    }
    let serving = std::env::var_os(SERVE_ENV);
    if !(serving.is_some() || args.read_only || args.no_server) {
        let place = Place::of(&workspace_name(&plan.key)).map_err(CliError::Other)?;
        return crate::attach::client::open(&place).map_err(CliError::Other);
    }
    let data_dir = store::data_dir()?;
    let access = if args.read_only { Access::ReadOnly } else { Access::Exclusive };
    let workspace = Workspace::open_or_create(&data_dir, &plan.key, access)?;
    let opts = RunOptions { team: plan.team, claude, workspace: Some(workspace), demo: false };
    if let Some(size) = serving {
        let size = crate::attach::client::serve_size(&size);
        crate::run::serve(opts, size, Box::new(crate::attach::client::say_ready))?;
    } else {
        crate::run::run(opts)?;
    }
    Ok(())
}

/// Nothing of a team file the user has not trusted runs: it is shown, and runs on a yes
/// (remembered, see `config::trust`) or with `--trust`. Without a terminal to ask on, that is
/// an error saying how to go on.
fn confirm_trust(check: &TrustCheck, team: &Team, flag: bool) -> Result<(), CliError> {
    use std::io::IsTerminal;
    if flag || !check.standing.needs_yes() {
        return Ok(());
    }
    let shown = crate::render::sanitize(&check.path.to_string_lossy()).into_owned();
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::Other(format!(
            "{shown}: this team file is not trusted yet (it starts agents and may run commands); \
             open it in a terminal to read and trust it, or pass --trust"
        )));
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{}", trust_question(check, team));
    let _ = err.flush();
    if !answered_yes()? {
        return Err(CliError::Other(format!("{shown}: not trusted, nothing was started")));
    }
    if let Err(e) = TrustStore::for_user().remember(&check.path, &check.sha256) {
        let cause = crate::config::io_cause(&e);
        let _ = writeln!(err, "(trusted for this run only: could not remember it: {cause})");
    }
    Ok(())
}

/// The question [`confirm_trust`] asks: the file, why it asks, and what the team would run,
/// every line sanitized (the file's text is the repository author's).
pub fn trust_question(check: &TrustCheck, team: &Team) -> String {
    let why = match check.standing {
        Standing::Changed => "it changed since you trusted it",
        _ => "you have not trusted it before",
    };
    let mut out = format!(
        "Trust this team file?\n  {}\n  ({why})\nIt will run:\n",
        crate::render::sanitize(&check.path.to_string_lossy())
    );
    for line in trust::review(team) {
        out.push_str(&format!("  - {}\n", crate::render::sanitize(&line)));
    }
    out.push_str("Trust only a team file you have read. Trust it and start? [y/N] ");
    out
}

/// The word `--claude`, `AGENTMUX_CLAUDE` and the settings' `claude` take for the simulated
/// claude (`agentmux __sim-claude`); a file of that name is still reachable as `./sim`.
pub const SIMULATED_CLAUDE: &str = "sim";

/// How agents start claude: the simulated one when the first choice given (`--claude`,
/// `AGENTMUX_CLAUDE`, then the settings) is [`SIMULATED_CLAUDE`], else the real CLI found by
/// [`find_claude`].
fn choose_claude(
    explicit: Option<&Path>,
    from_settings: Option<&Path>,
) -> Result<ClaudeCmd, CliError> {
    if explicit.or(from_settings).is_some_and(|c| c == Path::new(SIMULATED_CLAUDE)) {
        return Ok(ClaudeCmd::simulated(current_exe()?));
    }
    find_claude(explicit, from_settings).map(ClaudeCmd::real)
}

fn current_exe() -> Result<PathBuf, CliError> {
    std::env::current_exe()
        .map_err(|source| CliError::Io { what: "the agentmux executable".into(), source })
}

/// The demo's scratch directory, removed when dropped: after a quit, a SIGHUP or SIGTERM (the
/// run loop returns on those), an error, and a panic that unwinds through [`demo`].
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(dir: PathBuf) -> Result<ScratchDir, CliError> {
        store::fsutil::create_private_dir(&dir)
            .map_err(|source| CliError::Io { what: dir.display().to_string(), source })?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Nothing to report to: the terminal may be gone already.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn demo() -> Result<(), CliError> {
    let exe = current_exe()?;
    // The simulated agents work in a scratch directory of their own.
    let workdir = ScratchDir::create(
        std::env::temp_dir().join(format!("agentmux-demo-{}", std::process::id())),
    )?;
    let team = crate::sim::demo_team(&exe, &workdir.0);
    crate::run::run(RunOptions {
        team,
        claude: ClaudeCmd::simulated(exe),
        workspace: None,
        demo: true,
    })?;
    drop(workdir);
    Ok(())
}

/// Finds the claude CLI: an explicit path (`--claude`, `AGENTMUX_CLAUDE`), the settings'
/// `claude`, then PATH and the usual install places.
fn find_claude(explicit: Option<&Path>, from_settings: Option<&Path>) -> Result<PathBuf, CliError> {
    use crate::agent::discover::{find_claude, DiscoverError};
    find_claude(explicit.or(from_settings)).map_err(|e| match e {
        // The engine's message lists one place a line; here it is one line.
        DiscoverError::NotFound { looked } => CliError::Claude(format!(
            "not found (looked at {}); install it with `npm install -g @anthropic-ai/claude-code` \
             or point to it with --claude PATH or AGENTMUX_CLAUDE",
            looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )),
        other => CliError::Claude(other.to_string()),
    })
}

fn list_workspaces() -> Result<(), CliError> {
    let data_dir = store::data_dir()?;
    let list = store::list_workspaces(&data_dir)?;
    let text = if list.is_empty() {
        format!("no workspaces yet (in {})\n", store::workspaces_dir(&data_dir).display())
    } else {
        let running: Vec<String> = list
            .iter()
            .filter(|w| w.in_use && Place::of(&w.name).is_ok_and(|p| p.is_running()))
            .map(|w| w.name.clone())
            .collect();
        workspace_table(&list, &running)
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|source| CliError::Io { what: "standard output".into(), source })
}

/// The table `agentmux workspaces` prints: one line per workspace, columns padded to their
/// widest cell, COST right-aligned under its header. `running` names the workspaces whose
/// server answers: their agents work in the background, `agentmux attach NAME` shows them.
pub fn workspace_table(list: &[store::WorkspaceSummary], running: &[String]) -> String {
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|w| {
            let mut name = w.name.clone();
            if running.contains(&w.name) {
                name.push_str(" (running)");
            } else if w.in_use {
                name.push_str(" (in use)");
            }
            let agents = match &w.problem {
                Some(p) => p.clone(),
                None if w.agents.is_empty() => "0".into(),
                None => format!("{}: {}", w.agents.len(), w.agents.join(", ")),
            };
            let last = if w.last_used_ms == 0 {
                "-".into()
            } else {
                format!("{} UTC", store::fsutil::utc_minute(w.last_used_ms))
            };
            let source = w.source.as_ref().map_or("-".into(), |s| s.display().to_string());
            [name, source, agents, last, usd(w.cost_usd)]
        })
        .collect();
    let header = ["NAME", "FOR", "AGENTS", "LAST USED", "COST"].map(String::from);
    let mut widths = [0; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == 4 {
                line.push_str(&format!("{cell:>w$}", w = widths[i]));
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn remove_workspace(name: &str, yes: bool) -> Result<(), CliError> {
    let data_dir = store::data_dir()?;
    let list = store::list_workspaces(&data_dir)?;
    let Some(found) = list.iter().find(|w| w.name == name) else {
        return Err(StoreError::NotFound(name.to_string()).into());
    };
    if !yes {
        eprint!(
            "Remove workspace {name} ({} agents, {}) and its transcripts? [y/N] ",
            found.agents.len(),
            usd(found.cost_usd)
        );
        let _ = std::io::stderr().flush();
        if !answered_yes()? {
            return Err(CliError::Other(format!("workspace {name} kept")));
        }
    }
    let dir = store::remove_workspace(&data_dir, name)?;
    println!("removed {}", dir.display());
    Ok(())
}

fn export(workspace: &str, agent: &str, output: Option<PathBuf>) -> Result<(), CliError> {
    let data_dir = store::data_dir()?;
    let markdown = store::export_agent(&data_dir, workspace, agent)?;
    match output {
        Some(file) => store::fsutil::open_private(&file, false)
            .and_then(|mut f| f.write_all(markdown.as_bytes()))
            .map_err(|source| CliError::Io { what: file.display().to_string(), source }),
        None => std::io::stdout()
            .write_all(markdown.as_bytes())
            .map_err(|source| CliError::Io { what: "standard output".into(), source }),
    }
}

/// Reads one line from stdin: is it a yes?
fn answered_yes() -> Result<bool, CliError> {
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| CliError::Io { what: "reading the answer".into(), source })?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sim_names_the_simulated_claude_from_any_layer() {
        let Ok(exe) = std::env::current_exe() else { return };
        let sim = Some(Path::new("sim"));
        let expected = ClaudeCmd::simulated(exe);
        assert_eq!(choose_claude(sim, None).ok(), Some(expected.clone()));
        assert_eq!(choose_claude(None, sim).ok(), Some(expected));
        // An explicit path wins over the settings' `sim`; `./sim` is a file, not the simulator.
        assert!(choose_claude(Some(Path::new("/nonexistent/claude")), sim).is_err());
        assert!(choose_claude(Some(Path::new("./sim")), None).is_err());
    }

    #[test]
    fn help_flags_after_help_are_dropped() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            without_help_flags_after_help(args(&["agentmux", "help", "--help"])),
            args(&["agentmux", "help"])
        );
        assert_eq!(
            without_help_flags_after_help(args(&["agentmux", "send", "a", "--help"])),
            args(&["agentmux", "send", "a", "--help"])
        );
    }

    #[test]
    fn the_workspace_table_aligns_and_never_shows_negative_zero() {
        let summary =
            |name: &str, agents: &[&str], last_used_ms, cost_usd| store::WorkspaceSummary {
                name: name.into(),
                dir: PathBuf::from("/d").join(name),
                source: Some(PathBuf::from("/p").join(name).join("agentmux.toml")),
                agents: agents.iter().map(|a| a.to_string()).collect(),
                last_used_ms,
                cost_usd,
                in_use: name == "api" || name == "web",
                problem: None,
            };
        let table = workspace_table(
            &[
                summary("api", &["backend", "frontend"], 1_795_000_000_000, 1.2345),
                summary("fresh", &[], 1_795_000_060_000, -0.0),
                summary("never", &[], 0, 12.5),
                summary("web", &["ui"], 1_795_000_120_000, 0.5),
            ],
            &["web".to_string()],
        );
        insta::assert_snapshot!(table);
    }

    #[test]
    fn the_trust_question_shows_escapes_as_marks() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let text = "[[agent]]\nname = \"a\"\nprompt = \"ok\\r\\u001b[2K$ npm test\"\n\
                    env = { X = \"\\u001b]52;c;aGk=\\u0007\" }\n";
        let team = Team::parse_str(text, Path::new("t.toml"), dir.path(), &Layers::default());
        let team = team.unwrap_or_else(|e| panic!("{e}"));
        let check = TrustCheck {
            path: dir.path().join("evil\u{1b}]2;title\u{7}.toml"),
            sha256: trust::digest(text),
            standing: Standing::New,
        };
        let question = trust_question(&check, &team);
        assert!(!question.chars().any(|c| c != '\n' && c.is_control()), "{question:?}");
        assert!(question.contains("env X=␛]52;c;aGk=^G (a)"), "{question}");
        assert!(question.contains("first prompt: ok^M␛[2K$ npm test (a)"), "{question}");
        assert!(question.contains("evil␛]2;title^G.toml"), "{question}");
    }

    #[test]
    fn subcommands_and_team_flags_do_not_mix() {
        assert!(Cli::try_parse_from(["agentmux", "-c", "x.toml", "demo"]).is_err());
        let cli = Cli::try_parse_from(["agentmux", "workspaces", "rm", "w", "--yes"]);
        assert!(matches!(
            cli.map(|c| c.command),
            Ok(Some(Command::Workspaces { action: Some(WorkspacesAction::Rm { yes: true, .. }) }))
        ));
    }
}
