//! The live engine behind the executor: an agent whose engine is `live` keeps one
//! `agent::live` process for all its turns, and the app sees its turns exactly as it sees
//! one-shot ones (`EngineMsg::Started`, `Lines`, `Exited` per turn), so the core does not change.
//!
//! One task owns the processes. It is told to start turns and interrupts by the executor, and
//! hears the processes' messages; it turns a `result` into the turn's `Exited`, a process that
//! dies into the turn in flight ending with the process's exit (resumable: the CLI holds it),
//! sends messages the dead process never began to a new one (`--resume`), asks the user about
//! tool calls through the same approval box as the approval server does, and closes a process
//! idle for `IDLE_TIMEOUT` (the next turn starts one again) and the least recently used idle
//! one when more than `MAX_LIVE` would run. It sleeps while nothing happens: one timer, for the
//! next idle deadline.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::agent::control::{CliVersion, ControlRequest, PermissionAnswer};
use crate::agent::live::{
    spawn_live, LiveHandle, LiveMsg, LiveRequest, CLOSE_GRACE, CONTROL_TIMEOUT,
};
use crate::agent::runner::{ExitInfo, FlowTicket};
use crate::agent::{AgentId, EngineMsg, SessionArg, TurnRequest};
use crate::app::{Msg, RequestId};
use crate::approval::{Ask, Decision};
use crate::config::LiveLimits;
use crate::control::server::Reply;

/// A live process idle this long is closed; the next turn starts it again with `--resume`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// At most this many live processes at once.
pub const MAX_LIVE: usize = 16;

/// How many live processes may run and for how long one may idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub idle_timeout: Duration,
    pub max_live: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { idle_timeout: IDLE_TIMEOUT, max_live: MAX_LIVE }
    }
}

impl Limits {
    /// The limits the team file sets, then the user's settings, then the defaults.
    pub fn from_config(team: LiveLimits, settings: LiveLimits) -> Limits {
        let set = team.over(settings);
        Limits {
            idle_timeout: set.idle_timeout.unwrap_or(IDLE_TIMEOUT),
            max_live: set.max_live.unwrap_or(MAX_LIVE),
        }
    }
}

/// Whether a turn may go to a live process: the agent's engine is `live`, claude is not the
/// simulated one (which speaks only the one-shot protocol; a script in claude's place is told
/// by its version, see [`live_version`]), and the agent asks the user about tool calls (one
/// that does not keeps a process per turn: the CLI then refuses such calls itself and lists
/// them, and a re-run allowed needs the new rules on its command line).
pub fn wants_live(req: &TurnRequest) -> bool {
    req.spec.options.engine() == crate::agent::Engine::Live
        && req.claude.pre_args.is_empty()
        && crate::approval::wiring::wanted(&req.spec.options)
}

/// The version of a CLI that can run live, from its `--version` output: the real CLI says
/// `2.1.197 (Claude Code)`; anything else (the simulated claude's `2.1.197-sim`, a script)
/// runs one-shot.
pub fn live_version(output: &str) -> Option<CliVersion> {
    let line = output.lines().next()?.trim();
    let (version, name) = line.split_once(' ')?;
    if name.trim() != "(Claude Code)" || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    CliVersion::parse(version)
}

/// How long `claude --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

async fn probe_version(program: &std::path::Path) -> Option<CliVersion> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg("--version").stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(VERSION_TIMEOUT, cmd.output()).await.ok()?.ok()?;
    live_version(&String::from_utf8_lossy(&out.stdout))
}

/// What the executor tells the engine.
#[derive(Debug)]
pub enum Command {
    Turn(Box<TurnRequest>),
    Interrupt {
        agent: AgentId,
        turn: u64,
    },
    InterruptAll,
    /// The agent was closed: its process closes now (stdin closed, killed after the grace).
    Close {
        agent: AgentId,
    },
    /// The user's answer to a tool call this engine put before them (`Msg::Approval`).
    Decide {
        id: RequestId,
        decision: Decision,
    },
    /// The app dropped that tool call unanswered (its turn ended): the CLI hears it was
    /// withdrawn.
    Withdraw {
        id: RequestId,
    },
}

/// The executor's end: starts the task on first use (inside the runtime).
pub struct LiveEngine {
    tx: Option<mpsc::UnboundedSender<Command>>,
    limits: Limits,
    engine_tx: mpsc::Sender<EngineMsg>,
    local_tx: Option<mpsc::UnboundedSender<Msg>>,
}

impl LiveEngine {
    pub fn new(
        engine_tx: mpsc::Sender<EngineMsg>,
        local_tx: Option<mpsc::UnboundedSender<Msg>>,
    ) -> Self {
        LiveEngine { tx: None, limits: Limits::default(), engine_tx, local_tx }
    }

    /// The same with other limits (before the first turn).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn send(&mut self, cmd: Command) {
        let tx = self.tx.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let task = Task::new(self.engine_tx.clone(), self.local_tx.clone(), self.limits);
            tokio::spawn(task.run(rx));
            tx
        });
        let _ = tx.send(cmd);
    }

    pub fn has_started(&self) -> bool {
        self.tx.is_some()
    }
}

/// An approval the user answered, back to the task.
#[derive(Debug)]
/// A tool call before the user, as the CLI asked it.
struct Asked {
    agent: AgentId,
    generation: u64,
    /// The CLI's id of its permission request.
    request_id: String,
    /// The input the user saw (and allowed, if they do).
    input: Value,
    tool: String,
}

/// One agent's live process and the turns it holds.
struct Agent {
    handle: Arc<LiveHandle>,
    generation: u64,
    /// Turns sent and not ended, oldest first, with their prompts (to send again).
    turns: VecDeque<(u64, String)>,
    /// The request the process was started from (for a restart).
    base: TurnRequest,
    last_used: Instant,
    /// Model and mode switches not answered yet, and whether this CLI refused one.
    switches: Vec<u64>,
    refused_switch: bool,
    /// The `get_context_usage` request not answered yet (one at a time).
    context_ask: Option<u64>,
}

struct Task {
    engine_tx: mpsc::Sender<EngineMsg>,
    local_tx: Option<mpsc::UnboundedSender<Msg>>,
    live_tx: mpsc::Sender<LiveMsg>,
    live_rx: Option<mpsc::Receiver<LiveMsg>>,
    /// Tool calls waiting for the user's answer, by the id the app knows them by.
    asks: HashMap<RequestId, Asked>,
    agents: HashMap<AgentId, Agent>,
    next_generation: u64,
    limits: Limits,
    /// Each program's version, `None` for one that cannot run live.
    versions: HashMap<std::path::PathBuf, Option<CliVersion>>,
    /// Turns of programs that cannot run live, one process each.
    oneshots: HashMap<AgentId, (u64, crate::agent::TurnHandle)>,
}

impl Task {
    fn new(
        engine_tx: mpsc::Sender<EngineMsg>,
        local_tx: Option<mpsc::UnboundedSender<Msg>>,
        limits: Limits,
    ) -> Task {
        let (live_tx, live_rx) = mpsc::channel(crate::run::ENGINE_CHANNEL);
        Task {
            engine_tx,
            local_tx,
            live_tx,
            live_rx: Some(live_rx),
            asks: HashMap::new(),
            agents: HashMap::new(),
            next_generation: 0,
            limits,
            versions: HashMap::new(),
            oneshots: HashMap::new(),
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let Some(mut live_rx) = self.live_rx.take() else { return };
        loop {
            let idle_deadline = self.next_idle_deadline();
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => return, // the executor is gone; dropping the handles closes stdin
                },
                Some(msg) = live_rx.recv() => self.live(msg).await,
                () = sleep_until(idle_deadline) => self.reap_idle(Instant::now()),
            }
        }
    }

    fn next_idle_deadline(&self) -> Option<Instant> {
        self.agents
            .values()
            .filter(|a| a.turns.is_empty())
            .map(|a| a.last_used + self.limits.idle_timeout)
            .min()
    }

    fn reap_idle(&mut self, now: Instant) {
        let idle: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.turns.is_empty() && a.last_used + self.limits.idle_timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            if let Some(a) = self.agents.remove(&id) {
                a.handle.close(CLOSE_GRACE);
            }
        }
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Turn(req) => self.turn(*req).await,
            Command::Interrupt { agent, turn } => {
                if let Some((t, handle)) = self.oneshots.get(&agent) {
                    if *t == turn {
                        handle.interrupt();
                    }
                }
                if let Some(a) = self.agents.get(&agent) {
                    if a.turns.front().is_some_and(|(t, _)| *t == turn) {
                        let _ = a.handle.request(ControlRequest::Interrupt);
                    }
                }
            }
            Command::Close { agent } => {
                if let Some(a) = self.agents.remove(&agent) {
                    a.handle.close(CLOSE_GRACE);
                }
                if let Some((_, handle)) = self.oneshots.remove(&agent) {
                    handle.interrupt();
                }
            }
            Command::Decide { id, decision } => {
                let answer = Reply::Answer(decision.answer());
                self.answered(id, |asked| permission_answer(answer, &asked.tool, asked.input));
            }
            Command::Withdraw { id } => {
                let message = "the approval was withdrawn".to_owned();
                self.answered(id, |_| PermissionAnswer::Deny { message });
            }
            Command::InterruptAll => {
                for (_, handle) in self.oneshots.values() {
                    handle.interrupt();
                }
                for a in self.agents.values().filter(|a| !a.turns.is_empty()) {
                    let _ = a.handle.request(ControlRequest::Interrupt);
                }
            }
        }
    }

    /// Sends a turn to the agent's process, starting one when there is none.
    async fn turn(&mut self, req: TurnRequest) {
        let version = match self.versions.get(&req.claude.program) {
            Some(v) => *v,
            None => {
                let v = probe_version(&req.claude.program).await;
                self.versions.insert(req.claude.program.clone(), v);
                v
            }
        };
        let Some(version) = version else {
            self.oneshot(req).await;
            return;
        };
        let (agent, turn, prompt) = (req.agent, req.turn, req.prompt.clone());
        if !self.reuse(&req, version) {
            if let Some(old) = self.agents.remove(&agent) {
                old.handle.close(CLOSE_GRACE);
            }
        }
        if !self.agents.contains_key(&agent) {
            self.make_room();
            if let Err(error) = self.start(req, Some(version)) {
                self.exit_turn(
                    agent,
                    turn,
                    ExitInfo { code: None, signal: None, tail: vec![error] },
                )
                .await;
                return;
            }
        }
        let Some(a) = self.agents.get_mut(&agent) else { return };
        a.last_used = Instant::now();
        let pid = Some(a.handle.pid);
        if a.handle.send_user(turn, &prompt).is_err() {
            let tail = vec!["the claude process has exited".to_string()];
            self.exit_turn(agent, turn, ExitInfo { code: None, signal: None, tail }).await;
            return;
        }
        a.turns.push_back((turn, prompt));
        let _ = self.engine_tx.send(EngineMsg::Started { agent, turn, pid }).await;
    }

    /// Whether the agent's process can take `req`. A new model or permission mode is switched
    /// in the living process (set_model, set_permission_mode); any other change of the spec (a
    /// rule, a prompt), a switch this CLI refused, or an exited process needs a new process
    /// resuming the conversation, once the old one is idle.
    fn reuse(&mut self, req: &TurnRequest, version: CliVersion) -> bool {
        let Some(a) = self.agents.get_mut(&req.agent) else { return false };
        if a.handle.has_exited() || (a.refused_switch && a.turns.is_empty()) {
            return false;
        }
        if a.base.spec == req.spec {
            return true;
        }
        if !a.turns.is_empty() {
            return true; // busy: the change waits for a turn that finds it idle
        }
        let (old, new) = (&a.base.spec.options, &req.spec.options);
        let mut switched = a.base.spec.clone();
        switched.options.model = new.model.clone();
        switched.options.permission_mode = new.permission_mode;
        if switched != req.spec {
            return false;
        }
        let mut sent = Vec::new();
        if old.model != new.model {
            sent.push(a.handle.request(ControlRequest::SetModel(new.model.clone())));
        }
        if old.permission_mode != new.permission_mode {
            let mode = new.permission_mode.unwrap_or(crate::agent::PermissionMode::Default);
            let name = crate::agent::control::permission_mode_name(mode, Some(version));
            sent.push(a.handle.request(ControlRequest::SetPermissionMode(name.to_owned())));
        }
        for id in sent {
            match id {
                Ok(id) => a.switches.push(id),
                Err(_) => return false,
            }
        }
        a.base.spec = req.spec.clone();
        true
    }

    /// A turn of a program that cannot run live: a process of its own, as the executor starts.
    async fn oneshot(&mut self, req: TurnRequest) {
        let (agent, turn) = (req.agent, req.turn);
        self.oneshots.retain(|_, (_, h)| !h.has_exited());
        match crate::agent::spawn_turn(req, self.engine_tx.clone()) {
            Ok(handle) => {
                self.oneshots.insert(agent, (turn, handle));
            }
            Err(e) => {
                let error = e.to_string();
                match &self.local_tx {
                    Some(local) => {
                        let _ = local.send(Msg::SpawnFailed { agent, turn, error });
                    }
                    None => {
                        let exit = ExitInfo { code: None, signal: None, tail: vec![error] };
                        self.exit_turn(agent, turn, exit).await;
                    }
                }
            }
        }
    }

    fn start(&mut self, req: TurnRequest, version: Option<CliVersion>) -> Result<(), String> {
        self.next_generation += 1;
        let generation = self.next_generation;
        let live_req = LiveRequest {
            agent: req.agent,
            generation,
            claude: req.claude.clone(),
            spec: req.spec.clone(),
            session: req.session.clone(),
            version,
            extra_env: req.extra_env.clone(),
            extra_args: live_extra_args(&req.extra_args),
            max_line_bytes: req.max_line_bytes,
            control_timeout: CONTROL_TIMEOUT,
        };
        let handle = spawn_live(live_req, self.live_tx.clone()).map_err(|e| e.to_string())?;
        let agent = Agent {
            handle: Arc::new(handle),
            generation,
            turns: VecDeque::new(),
            base: req,
            last_used: Instant::now(),
            switches: Vec::new(),
            refused_switch: false,
            context_ask: None,
        };
        self.agents.insert(agent.base.agent, agent);
        Ok(())
    }

    /// Closes the least recently used idle process while `max_live` are running.
    fn make_room(&mut self) {
        while self.agents.len() >= self.limits.max_live.max(1) {
            let lru = self
                .agents
                .iter()
                .filter(|(_, a)| a.turns.is_empty())
                .min_by_key(|(_, a)| a.last_used)
                .map(|(id, _)| *id);
            let Some(id) = lru else { return }; // every one is busy: run one more
            if let Some(a) = self.agents.remove(&id) {
                a.handle.close(CLOSE_GRACE);
            }
        }
    }

    async fn exit_turn(&self, agent: AgentId, turn: u64, exit: ExitInfo) {
        let _ = self.engine_tx.send(EngineMsg::Started { agent, turn, pid: None }).await;
        let _ = self.engine_tx.send(EngineMsg::Exited { agent, turn, exit }).await;
    }

    fn current(&self, agent: AgentId, generation: u64) -> Option<&Agent> {
        self.agents.get(&agent).filter(|a| a.generation == generation)
    }

    async fn live(&mut self, msg: LiveMsg) {
        match msg {
            LiveMsg::Started { .. } => {}
            LiveMsg::Reply { agent, generation, id, outcome } => {
                let Some(a) = self.agents.get_mut(&agent).filter(|a| a.generation == generation)
                else {
                    return;
                };
                if a.context_ask == Some(id) {
                    a.context_ask = None;
                    // A CLI that does not answer leaves the pane to the usage's figure.
                    let usage =
                        outcome.ok().as_ref().and_then(crate::agent::control::context_usage);
                    if let (Some((used, window)), Some(local)) = (usage, &self.local_tx) {
                        let _ = local.send(Msg::ContextUsage { agent, used, window });
                    }
                    return;
                }
                if let Some(i) = a.switches.iter().position(|s| *s == id) {
                    a.switches.remove(i);
                    if let Err(e) = outcome {
                        // The next idle turn gets a new process with the new options.
                        tracing::warn!(agent = agent.0, "{e}");
                        a.refused_switch = true;
                    }
                }
            }
            LiveMsg::Lines { agent, generation, lines, .. } => {
                let Some(turn) = self.current(agent, generation).and_then(|a| a.turns.front())
                else {
                    return; // output between turns (a model switch's note): nobody's turn
                };
                let (turn, ticket) = (turn.0, FlowTicket::default());
                let _ = self.engine_tx.send(EngineMsg::Lines { agent, turn, lines, ticket }).await;
            }
            LiveMsg::TurnEnded { agent, generation, seq } => {
                let Some(a) = self.agents.get_mut(&agent).filter(|a| a.generation == generation)
                else {
                    return;
                };
                a.turns.retain(|(t, _)| *t != seq);
                a.last_used = Instant::now();
                // The CLI's own count of the window, for the pane's header.
                if a.context_ask.is_none() && self.local_tx.is_some() {
                    a.context_ask = a.handle.request(ControlRequest::GetContextUsage).ok();
                }
                let exit = ExitInfo { code: Some(0), signal: None, tail: Vec::new() };
                let _ = self.engine_tx.send(EngineMsg::Exited { agent, turn: seq, exit }).await;
            }
            LiveMsg::Permission { agent, generation, request, call_input } => {
                self.ask(agent, generation, request, call_input);
            }
            LiveMsg::PermissionCancelled { .. } => {}
            LiveMsg::Exited { agent, generation, exit, in_flight, unstarted } => {
                self.died(agent, generation, exit, in_flight, unstarted).await;
            }
        }
    }

    /// The process ended: the turn in flight ends with its exit; turns it never began go to a
    /// new process resuming the conversation.
    async fn died(
        &mut self,
        agent: AgentId,
        generation: u64,
        exit: ExitInfo,
        in_flight: Option<u64>,
        unstarted: Vec<u64>,
    ) {
        let Some(a) = self.agents.remove(&agent) else { return };
        if a.generation != generation {
            self.agents.insert(agent, a);
            return;
        }
        if let Some(turn) = in_flight {
            let _ =
                self.engine_tx.send(EngineMsg::Exited { agent, turn, exit: exit.clone() }).await;
        }
        let again: Vec<(u64, String)> =
            a.turns.into_iter().filter(|(t, _)| unstarted.contains(t)).collect();
        if again.is_empty() {
            return;
        }
        let mut base = a.base;
        if let SessionArg::New(id) = &base.session {
            base.session = SessionArg::Resume(id.clone());
        }
        let version = self.versions.get(&base.claude.program).copied().flatten();
        if let Err(error) = self.start(base, version) {
            for (turn, _) in again {
                let tail = vec![error.clone()];
                let info = ExitInfo { code: None, signal: None, tail };
                let _ = self.engine_tx.send(EngineMsg::Exited { agent, turn, exit: info }).await;
            }
            return;
        }
        let Some(a) = self.agents.get_mut(&agent) else { return };
        for (turn, prompt) in again {
            if a.handle.send_user(turn, &prompt).is_ok() {
                a.turns.push_back((turn, prompt));
            }
        }
    }

    /// Puts a tool call before the user (and the rules) as the approval server's calls are.
    fn ask(
        &mut self,
        agent: AgentId,
        generation: u64,
        request: crate::agent::control::PermissionRequest,
        call_input: Option<Value>,
    ) {
        let Some(a) = self.current(agent, generation) else { return };
        let deny = |message: &str| PermissionAnswer::Deny { message: message.to_owned() };
        let Some(local) = &self.local_tx else {
            let _ = a.handle.answer(&request.request_id, &deny("nobody can approve it here"));
            return;
        };
        let shown = request.shown_input(call_input.as_ref()).clone();
        let mut ask = Ask::new(&a.base.spec.name, &request.tool_name, shown.clone());
        ask.tool_use_id = request.tool_use_id.clone();
        let id = RequestId::fresh();
        if local.send(Msg::Approval { id, ask }).is_err() {
            let _ = a.handle.answer(&request.request_id, &deny("agentmux is closing"));
            return;
        }
        // Allowed, the call runs with what the user saw: 2.1.332 sends ExitPlanMode's input as
        // `{}`, and allowed with that the model hears only that plan mode ended, not which plan.
        let (request_id, tool) = (request.request_id, request.tool_name);
        self.asks.insert(id, Asked { agent, generation, request_id, input: shown, tool });
    }

    /// The answer to the tool call `id` goes to its CLI, if the process that asked still runs.
    fn answered(&mut self, id: RequestId, answer: impl FnOnce(Asked) -> PermissionAnswer) {
        let Some(asked) = self.asks.remove(&id) else { return };
        let (agent, generation, request_id) =
            (asked.agent, asked.generation, asked.request_id.clone());
        if let Some(a) = self.current(agent, generation) {
            let _ = a.handle.answer(&request_id, &answer(asked));
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The app's approval answer as the CLI's: allow runs the call with its own input (a question
/// with the user's answers in it), deny sends the user's reason to the model. A question allowed
/// without answers (an old client, a rule) has nothing to tell the model, so it is dismissed.
fn permission_answer(
    reply: crate::control::server::Reply,
    tool_name: &str,
    input: Value,
) -> PermissionAnswer {
    use crate::control::proto::{Answer, Behavior};
    let (allowed, updated_input, message) = match reply {
        crate::control::server::Reply::Answer(Answer::Decision {
            behavior,
            updated_input,
            message,
        }) => (behavior == Behavior::Allow, updated_input, message),
        _ => (false, None, None),
    };
    let question = tool_name == QUESTION_TOOL;
    match (allowed, updated_input) {
        (true, Some(updated_input)) => PermissionAnswer::Allow { updated_input },
        (true, None) if !question => PermissionAnswer::Allow { updated_input: input },
        (true, None) => {
            PermissionAnswer::Deny { message: "The user did not pick an answer.".into() }
        }
        (false, _) => PermissionAnswer::Deny {
            message: message.unwrap_or_else(|| {
                let what =
                    if question { "dismissed the question" } else { "denied this tool call" };
                format!("The user {what}.")
            }),
        },
    }
}

use crate::approval::QUESTION_TOOL;

/// The app's extra arguments for a live process: the approval server's arguments go (the live
/// process asks over its control channel), the user's own MCP servers stay.
pub fn live_extra_args(extra: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(extra.len());
    let mut args = extra.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--permission-prompt-tool" => {
                args.next();
            }
            "--mcp-config" => {
                let Some(config) = args.next() else { continue };
                if let Some(kept) = without_approval_server(config) {
                    out.push(a.clone());
                    out.push(kept);
                }
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

/// An MCP config without agentmux's approval server; `None` when nothing else is left.
fn without_approval_server(config: &str) -> Option<String> {
    let Ok(mut v) = serde_json::from_str::<Value>(config) else {
        return Some(config.to_owned()); // a path: not ours
    };
    let Some(servers) = v.get_mut("mcpServers").and_then(Value::as_object_mut) else {
        return Some(config.to_owned());
    };
    servers.remove(crate::approval::SERVER_NAME);
    if servers.is_empty() {
        return None;
    }
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_the_team_file_over_the_settings_over_the_defaults() {
        use crate::config::LiveLimits;
        let mins = |m: u64| Some(Duration::from_secs(m * 60));
        let team = LiveLimits { idle_timeout: mins(2), max_live: None };
        let settings = LiveLimits { idle_timeout: mins(5), max_live: Some(3) };
        let cases = [
            (LiveLimits::default(), LiveLimits::default(), Limits::default()),
            (team, settings, Limits { idle_timeout: Duration::from_secs(120), max_live: 3 }),
            (
                LiveLimits::default(),
                settings,
                Limits { idle_timeout: Duration::from_secs(300), max_live: 3 },
            ),
            (
                team,
                LiveLimits::default(),
                Limits { idle_timeout: Duration::from_secs(120), max_live: MAX_LIVE },
            ),
        ];
        for (team, settings, want) in cases {
            assert_eq!(Limits::from_config(team, settings), want);
        }
        assert_eq!(
            Limits::default(),
            Limits { idle_timeout: Duration::from_secs(600), max_live: 16 }
        );
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_approval_servers_arguments_are_left_out_of_a_live_process() {
        let ours = r#"{"mcpServers":{"agentmux":{"command":"/bin/agentmux"}}}"#;
        let both =
            r#"{"mcpServers":{"agentmux":{"command":"/bin/agentmux"},"db":{"command":"db"}}}"#;
        let cases: [(Vec<String>, Vec<String>); 4] = [
            (
                args(&["--mcp-config", ours, "--permission-prompt-tool", "mcp__agentmux__approve"]),
                args(&[]),
            ),
            (
                args(&["--mcp-config", both, "--permission-prompt-tool", "x", "--foo"]),
                args(&["--mcp-config", r#"{"mcpServers":{"db":{"command":"db"}}}"#, "--foo"]),
            ),
            (args(&["--mcp-config", "/a/mcp.json"]), args(&["--mcp-config", "/a/mcp.json"])),
            (args(&["--debug"]), args(&["--debug"])),
        ];
        for (given, want) in cases {
            assert_eq!(live_extra_args(&given), want, "{given:?}");
        }
    }

    #[test]
    fn only_the_real_clis_version_runs_live() {
        let cases = [
            ("2.1.197 (Claude Code)\n", Some(CliVersion(2, 1, 197))),
            ("2.1.332 (Claude Code)", Some(CliVersion(2, 1, 332))),
            ("2.1.197-sim (Claude Code)\n", None),
            ("2.1.197\n", None),
            ("claude: command not found", None),
            ("", None),
        ];
        for (output, want) in cases {
            assert_eq!(live_version(output), want, "{output:?}");
        }
    }

    #[test]
    fn an_approval_answer_becomes_the_clis() {
        use crate::control::proto::{Answer, Behavior};
        use crate::control::server::Reply;
        use serde_json::json;
        let decision = |behavior, updated_input: Option<&Value>, message: Option<&str>| {
            Reply::Answer(Answer::Decision {
                behavior,
                updated_input: updated_input.cloned(),
                message: message.map(str::to_owned),
            })
        };
        let bash = json!({"command": "ls"});
        let one =
            json!({"questions": [{"question": "Which color?", "options": [{"label": "red"}]}]});
        let mut answered = one.clone();
        answered["answers"] = json!({"Which color?": "red"});
        let allow = |v: &Value| PermissionAnswer::Allow { updated_input: v.clone() };
        let deny = |m: &str| PermissionAnswer::Deny { message: m.into() };
        let q = QUESTION_TOOL;
        let cases = [
            (Behavior::Allow, None, None, "Bash", &bash, allow(&bash)),
            (Behavior::Allow, Some(&answered), None, "Bash", &bash, allow(&answered)),
            (Behavior::Deny, None, Some("not now"), "Bash", &bash, deny("not now")),
            (Behavior::Deny, None, None, "Bash", &bash, deny("The user denied this tool call.")),
            (Behavior::Unknown, None, None, "Bash", &bash, deny("The user denied this tool call.")),
            (Behavior::Allow, Some(&answered), None, q, &one, allow(&answered)),
            (Behavior::Allow, None, None, q, &one, deny("The user did not pick an answer.")),
            // A dismissal's reason is the reason, never read as an answer.
            (Behavior::Deny, None, Some("1"), q, &one, deny("1")),
            (Behavior::Deny, None, None, q, &one, deny("The user dismissed the question.")),
        ];
        for (behavior, updated, message, tool, input, want) in cases {
            let got = permission_answer(decision(behavior, updated, message), tool, input.clone());
            assert_eq!(got, want, "{tool} {updated:?} {message:?}");
        }
    }
}
