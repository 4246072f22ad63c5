//! The control socket's side of the run loop: turns [`ControlCall`]s into app messages and
//! answers, feeds `tail` subscribers, answers `wait`s, and runs the supervisor's relay.
//!
//! The loop calls, in this order:
//! - [`ControlBridge::call`] for every request from the socket: read-only ones are answered at
//!   once from the state, the others come back as [`Msg`]s to apply;
//! - [`ControlBridge::observe`] for every message, before `update` applies it (engine lines go to
//!   `tail` subscribers; a turn's result is kept for `wait` and the relay);
//! - [`ControlBridge::effect`] for every effect, before carrying it out (every turn gets
//!   `AGENTMUX_SOCKET` and a `PATH` that starts with agentmux's own directory; a supervisor
//!   turn the relay did not ask for starts a new task chain);
//! - [`ControlBridge::settle`] once a batch is applied: answers, `wait`s, the relay; the messages
//!   it returns (a relayed supervisor turn) are applied like any other.
//!
//! It lives at the loop's level because it holds channels (the state never does) and because it
//! sees both sides: the socket's requests and the app's state.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};

use crate::agent::{AgentId, AgentSpec, EngineMsg, Line, Origin, TurnRequest};
use crate::app::query::{agent_infos, last_turn};
use crate::app::state::{Agent, TurnState};
use crate::app::worktree::WorktreeMsg;
use crate::app::{
    ControlCmd, ControlError, ControlOk, ControlReply, Effect, Msg, RequestId, State,
};
use crate::approval::Decision;
use crate::control::client::ENV_SOCKET;
use crate::control::proto::{Answer, ErrorCode, LimitInfo, Request, SearchHit, SentTo};
use crate::control::server::{ControlCall, Reply, TAIL_BUFFER};
use crate::supervisor::TaskId;
use crate::worktree::AgentWorktree;

/// How a request's app reply becomes its answer.
enum Kind {
    Send { agent: String },
    New,
    Kill { agent: String },
    Set { agent: String },
    Resume { agent: String },
}

/// Who waits for the app's reply to a `Msg::Control` (by its id).
enum Pending {
    One {
        kind: Kind,
        reply: oneshot::Sender<Reply>,
    },
    /// One worker's share of the broadcast `of`: its place among the broadcast's parts.
    Part {
        of: RequestId,
        index: usize,
    },
}

/// A broadcast waiting for every worker's reply.
struct Broadcast {
    /// Each worker's reply once it came.
    parts: Vec<(String, Option<ControlReply>)>,
    reply: oneshot::Sender<Reply>,
}

struct Waiter {
    agent: AgentId,
    name: String,
    reply: oneshot::Sender<Reply>,
}

#[derive(Default)]
pub struct ControlBridge {
    socket: Option<PathBuf>,
    /// agentmux's own directory, first on every agent's PATH.
    exe_dir: Option<PathBuf>,
    pending: HashMap<RequestId, Pending>,
    broadcasts: HashMap<RequestId, Broadcast>,
    /// Approval servers waiting for the user's decision, by the id the app knows the ask by.
    approvals: HashMap<RequestId, oneshot::Sender<Reply>>,
    waiters: Vec<Waiter>,
    tails: Vec<(AgentId, mpsc::Sender<String>)>,
    /// `new --worktree` requests, answered when their agent's worktree is made or fails.
    opening: Vec<Waiter>,
}

impl ControlBridge {
    /// `socket`: the control socket's path (given to every agent); `exe_dir`: the directory of
    /// the running agentmux (put first on every agent's PATH).
    pub fn new(socket: Option<PathBuf>, exe_dir: Option<PathBuf>) -> Self {
        ControlBridge { socket, exe_dir, ..Default::default() }
    }

    /// The directory of the running executable, for [`ControlBridge::new`].
    pub fn current_exe_dir() -> Option<PathBuf> {
        std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf))
    }

    // -----------------------------------------------------------------------------------------
    // Requests

    /// A request from the socket. Returns the messages to apply (none for a read-only request).
    pub fn call(&mut self, call: ControlCall, state: &State) -> Vec<Msg> {
        let ControlCall { from, request, reply } = call;
        let supervisor = supervisor_name(state);
        let from_supervisor = from.is_some() && from.as_deref() == supervisor.as_deref();
        match request {
            Request::Ls | Request::Wait { .. } | Request::Tail { .. } | Request::Search { .. } => {
                self.answer_now(request, reply, state);
                Vec::new()
            }
            Request::Send { agent, text } => {
                let is_worker =
                    state.index_named(&agent).is_some_and(|i| !state.agents[i].supervisor);
                let kind = Kind::Send { agent: agent.clone() };
                let id = self.ask(Pending::One { kind, reply });
                // The supervisor's send to a worker is a task, known by its request's id.
                let is_task = from_supervisor && is_worker;
                let origin = if is_task { Origin::Task(task_of(id)) } else { Origin::User };
                vec![Msg::Control { id, cmd: ControlCmd::Send { agent, prompt: text, origin } }]
            }
            Request::New { name, cwd, model, role, prompt, worktree } => {
                let dir =
                    cwd.map_or_else(|| state.default_dir.clone(), |d| state.default_dir.join(d));
                let mut spec = AgentSpec::new(name, dir);
                spec.options = state.defaults.clone();
                spec.options.model = model.or(spec.options.model);
                spec.role = role;
                let cmd = ControlCmd::New { spec: Box::new(spec), prompt, worktree };
                self.command(Kind::New, cmd, reply)
            }
            Request::Import { session_id, cwd, name } => {
                let cmd = super::convo::import(state, &session_id, &cwd, name);
                self.create(cmd, reply)
            }
            Request::Fork { agent, at, name, worktree } => {
                let cmd = super::convo::fork(state, &agent, at, name, worktree);
                self.create(cmd, reply)
            }
            Request::Kill { agent } => {
                let kind = Kind::Kill { agent: agent.clone() };
                self.command(kind, ControlCmd::Interrupt { agent }, reply)
            }
            Request::Set { agent, model, permission_mode } => {
                let kind = Kind::Set { agent: agent.clone() };
                self.command(kind, ControlCmd::Set { agent, model, permission_mode }, reply)
            }
            Request::Resume { agent } => {
                let kind = Kind::Resume { agent: agent.clone() };
                self.command(kind, ControlCmd::Resume { agent }, reply)
            }
            request @ Request::Approve { .. } => self.approve(request, reply),
            Request::Broadcast { text } => {
                if text.trim().is_empty() {
                    answer(reply, Answer::error(ErrorCode::BadRequest, "the text is empty"));
                    return Vec::new();
                }
                self.broadcast(state, reply, text, from_supervisor)
            }
        }
    }

    /// The requests answered from the state as it is (a `wait` on a busy agent waits, a
    /// `tail` subscribes): nothing for `update` to change.
    fn answer_now(&mut self, request: Request, reply: oneshot::Sender<Reply>, state: &State) {
        match request {
            Request::Ls => {
                let limits = state.limits.at(state.time()).iter().map(LimitInfo::of).collect();
                answer(reply, Answer::Agents { agents: agent_infos(state), limits });
            }
            Request::Wait { agent } => match state.index_named(&agent).map(|i| &state.agents[i]) {
                None => answer(reply, Answer::no_such_agent(&agent)),
                Some(a) if is_idle(a) => answer(reply, Answer::TurnEnded(last_turn(a))),
                Some(a) => self.waiters.push(Waiter { agent: a.id, name: agent, reply }),
            },
            Request::Tail { agent } => {
                match state.index_named(&agent).map(|i| state.agents[i].id) {
                    None => answer(reply, Answer::no_such_agent(&agent)),
                    Some(id) => {
                        let (tx, rx) = mpsc::channel(TAIL_BUFFER);
                        self.tails.push((id, tx));
                        let _ = reply.send(Reply::Tail { agent, lines: rx });
                    }
                }
            }
            Request::Search { text } => answer(reply, search(state, &text)),
            // Only the read-only requests come here.
            _ => answer(reply, Answer::error(ErrorCode::Internal, "not a read-only request")),
        }
    }

    /// A command `update` carries out and answers by the request's id.
    fn command(&mut self, kind: Kind, cmd: ControlCmd, reply: oneshot::Sender<Reply>) -> Vec<Msg> {
        let id = self.ask(Pending::One { kind, reply });
        vec![Msg::Control { id, cmd }]
    }

    /// An approval request: the app holds the ask until the user (or a rule) decides.
    fn approve(&mut self, request: Request, reply: oneshot::Sender<Reply>) -> Vec<Msg> {
        match crate::approval::Ask::from_request(request) {
            Ok(ask) => {
                let id = RequestId::fresh();
                self.approvals.insert(id, reply);
                vec![Msg::Approval { id, ask }]
            }
            Err(_) => {
                answer(reply, Answer::error(ErrorCode::Internal, "not an approval"));
                Vec::new()
            }
        }
    }

    /// A request that creates an agent: its command, answered as `new` is; or its refusal.
    fn create(
        &mut self,
        cmd: Result<ControlCmd, Answer>,
        reply: oneshot::Sender<Reply>,
    ) -> Vec<Msg> {
        match cmd {
            Ok(cmd) => {
                let id = self.ask(Pending::One { kind: Kind::New, reply });
                vec![Msg::Control { id, cmd }]
            }
            Err(answer) => {
                let _ = reply.send(Reply::Answer(answer));
                Vec::new()
            }
        }
    }

    /// A request for the app: its id, remembering who waits for the reply.
    fn ask(&mut self, pending: Pending) -> RequestId {
        let id = RequestId::fresh();
        self.pending.insert(id, pending);
        id
    }

    /// The same text to every worker, answered once each replied.
    fn broadcast(
        &mut self,
        state: &State,
        reply: oneshot::Sender<Reply>,
        text: String,
        from_supervisor: bool,
    ) -> Vec<Msg> {
        let of = RequestId::fresh();
        let workers: Vec<String> =
            state.agents.iter().filter(|a| !a.supervisor).map(|a| a.name().to_string()).collect();
        let mut msgs = Vec::new();
        for (index, agent) in workers.iter().enumerate() {
            let id = self.ask(Pending::Part { of, index });
            let origin = if from_supervisor { Origin::Task(task_of(id)) } else { Origin::User };
            let cmd = ControlCmd::Send { agent: agent.clone(), prompt: text.clone(), origin };
            msgs.push(Msg::Control { id, cmd });
        }
        let parts = workers.into_iter().map(|w| (w, None)).collect();
        let b = Broadcast { parts, reply };
        if msgs.is_empty() {
            // No worker: answered now, as an empty broadcast.
            let _ = b.reply.send(Reply::Answer(Answer::Broadcast { sent: Vec::new() }));
        } else {
            self.broadcasts.insert(of, b);
        }
        msgs
    }

    // -----------------------------------------------------------------------------------------
    // Messages and effects

    /// A message about to be applied (before `update` sees it): engine lines go to `tail`
    /// subscribers; a worktree made for `new --worktree` answers it.
    pub fn observe(&mut self, msg: &Msg, state: &State) {
        match msg {
            Msg::Worktree(WorktreeMsg::Opened { agent, result }) => {
                self.worktree_opened(*agent, result, state)
            }
            Msg::Engine(EngineMsg::Lines { agent, lines, .. }) => {
                for (text, line) in lines {
                    if !matches!(line, Line::Event(_)) {
                        continue;
                    }
                    // A subscriber that is gone or cannot keep up is dropped.
                    self.tails
                        .retain(|(id, tx)| *id != *agent || tx.try_send(text.clone()).is_ok());
                }
            }
            _ => {}
        }
    }

    /// An effect about to be carried out: a reply answers its request; every turn gets the
    /// socket's address and agentmux on its PATH.
    pub fn effect(&mut self, fx: &mut Effect) {
        match fx {
            Effect::Reply { id, reply } => self.replied(*id, reply.clone()),
            Effect::SpawnTurn(req) => self.add_env(req),
            _ => {}
        }
    }

    /// The user's decision on the ask `id` goes to the approval server that asked; handed back
    /// when no server asked it (a live process's ask).
    pub fn decide(&mut self, id: RequestId, decision: Decision) -> Option<Decision> {
        match self.approvals.remove(&id) {
            Some(reply) => {
                // The server may have gone meanwhile; the decision then has nobody to reach.
                let _ = reply.send(Reply::Answer(decision.answer()));
                None
            }
            None => Some(decision),
        }
    }

    /// The app dropped the ask `id` unanswered: its server hears so (the request is dropped).
    /// False when no server asked it.
    pub fn withdraw(&mut self, id: RequestId) -> bool {
        self.approvals.remove(&id).is_some()
    }

    fn add_env(&self, req: &mut TurnRequest) {
        let has = |req: &TurnRequest, k: &str| req.extra_env.iter().any(|(n, _)| n == k);
        if let Some(socket) = &self.socket {
            if !has(req, ENV_SOCKET) {
                req.extra_env.push((ENV_SOCKET.into(), socket.display().to_string()));
            }
        }
        if let Some(dir) = &self.exe_dir {
            if !has(req, "PATH") {
                // The agent's own PATH if its team entry sets one, else ours.
                let base = req
                    .spec
                    .options
                    .env
                    .as_ref()
                    .and_then(|e| e.get("PATH").cloned())
                    .or_else(|| std::env::var("PATH").ok())
                    .unwrap_or_default();
                let path = if base.is_empty() {
                    dir.display().to_string()
                } else {
                    format!("{}:{base}", dir.display())
                };
                req.extra_env.push(("PATH".into(), path));
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // After a batch

    /// Everything a batch settled: `wait`s, subscriptions whose agent or client is gone,
    /// approval servers that gave up. Returns the messages to apply next (the withdrawn asks).
    pub fn settle(&mut self, state: &State) -> Vec<Msg> {
        // Approval servers that gave up (their turn ended or was stopped): the app forgets
        // their asks.
        let gone: Vec<RequestId> =
            self.approvals.iter().filter(|(_, r)| r.is_closed()).map(|(id, _)| *id).collect();
        let mut msgs: Vec<Msg> = Vec::new();
        for id in gone {
            self.approvals.remove(&id);
            msgs.push(Msg::Withdrawn { id });
        }
        // Agents closed: their subscriptions end, their waiters learn it.
        let alive = |id: &AgentId| state.index_of(*id).is_some();
        self.tails.retain(|(id, tx)| alive(id) && !tx.is_closed());
        let mut still = Vec::new();
        for w in std::mem::take(&mut self.waiters) {
            if w.reply.is_closed() {
                continue;
            }
            match state.index_of(w.agent).map(|i| &state.agents[i]) {
                None => {
                    let a = Answer::error(
                        ErrorCode::NoSuchAgent,
                        format!("{} was closed while waiting", w.name),
                    );
                    let _ = w.reply.send(Reply::Answer(a));
                }
                Some(a) if is_idle(a) => {
                    let _ = w.reply.send(Reply::Answer(Answer::TurnEnded(last_turn(a))));
                }
                Some(_) => still.push(w),
            }
        }
        self.waiters = still;
        msgs
    }

    /// The app's reply to the request `id` becomes its answer (a reply nobody waits for, as
    /// a relayed turn's or one from a test, is dropped).
    fn replied(&mut self, id: RequestId, reply: ControlReply) {
        match (self.pending.remove(&id), reply) {
            (None, _) => {}
            (Some(Pending::One { reply, .. }), Ok(ControlOk::OpeningWorktree { name, agent })) => {
                self.opening.push(Waiter { agent, name, reply });
            }
            (Some(Pending::One { kind, reply: to }), reply) => {
                let _ = to.send(Reply::Answer(answer_for(kind, reply)));
            }
            (Some(Pending::Part { of, index }), reply) => self.part_replied(of, index, reply),
        }
    }

    /// A worker's reply to a broadcast; the broadcast is answered with the last one.
    fn part_replied(&mut self, of: RequestId, index: usize, reply: ControlReply) {
        let Some(b) = self.broadcasts.get_mut(&of) else { return };
        let Some(part) = b.parts.get_mut(index) else { return };
        part.1 = Some(reply);
        if self.broadcasts.get(&of).is_some_and(|b| b.parts.iter().any(|(_, r)| r.is_none())) {
            return;
        }
        let Some(b) = self.broadcasts.remove(&of) else { return };
        let mut sent = Vec::new();
        let mut errors = Vec::new();
        for (agent, part) in b.parts {
            match part {
                Some(Ok(ok)) => {
                    let queued = matches!(ok, ControlOk::Queued { .. });
                    sent.push(SentTo { agent, queued });
                }
                Some(Err(e)) => errors.push(format!("{agent}: {e}")),
                None => errors.push(format!("{agent}: no answer")),
            }
        }
        let a = if sent.is_empty() && !errors.is_empty() {
            Answer::error(ErrorCode::Refused, errors.join("; "))
        } else {
            Answer::Broadcast { sent }
        };
        let _ = b.reply.send(Reply::Answer(a));
    }

    /// A `new --worktree` is answered: created, or why the worktree could not be made (the
    /// agent stays, without a worktree and with its first prompt held, as its pane says).
    fn worktree_opened(
        &mut self,
        agent: AgentId,
        result: &Result<Box<AgentWorktree>, String>,
        state: &State,
    ) {
        let (done, still) = std::mem::take(&mut self.opening)
            .into_iter()
            .partition::<Vec<_>, _>(|w| w.agent == agent);
        self.opening = still;
        for w in done {
            let name = w.name;
            let a = match result {
                Ok(_) => Answer::Created { agent: name },
                Err(e) => {
                    let dir = state
                        .index_of(agent)
                        .map(|i| format!(" in {}", state.agents[i].spec.cwd.display()))
                        .unwrap_or_default();
                    Answer::error(
                        ErrorCode::Refused,
                        format!(
                            "could not create the worktree of {name}: {e} ({name} is open \
                             without one and was sent nothing: a send runs it{dir}, or close \
                             it in agentmux)"
                        ),
                    )
                }
            };
            let _ = w.reply.send(Reply::Answer(a));
        }
    }
}

/// A supervisor's task is known by the id of the request that sent it.
fn task_of(request: RequestId) -> TaskId {
    TaskId(request.0)
}

/// The answer to `search`.
fn search(state: &State, text: &str) -> Answer {
    match state.search_all(text) {
        Err(e) => Answer::error(ErrorCode::BadRequest, e.to_string()),
        Ok((by_agent, truncated)) => {
            let hits = by_agent
                .into_iter()
                .flat_map(|(agent, hits)| {
                    hits.into_iter().map(move |h| SearchHit {
                        agent: agent.clone(),
                        turn: h.turn,
                        line: h.line,
                    })
                })
                .collect();
            Answer::Hits { hits, truncated }
        }
    }
}

fn supervisor_name(state: &State) -> Option<String> {
    state.agents.first().filter(|a| a.supervisor).map(|a| a.name().to_string())
}

/// No turn running and nothing queued that will start by itself (after an interrupt the queue
/// waits for the user).
/// No turn running and none about to: a queue an interrupt or the usage governor holds back
/// waits for the user or a reset, so `wait` answers now.
fn is_idle(a: &Agent) -> bool {
    !a.turn.is_active()
        && (a.queue.is_empty() || a.held || matches!(a.turn, TurnState::Interrupted))
}

/// A plain answer; a client that went away is not an error.
fn answer(reply: oneshot::Sender<Reply>, a: Answer) {
    let _ = reply.send(Reply::Answer(a));
}

fn answer_for(kind: Kind, reply: ControlReply) -> Answer {
    match (kind, reply) {
        (Kind::Send { agent }, Ok(ControlOk::Queued { .. })) => {
            Answer::Sent { agent, queued: true }
        }
        (Kind::Send { agent }, Ok(_)) => Answer::Sent { agent, queued: false },
        (Kind::New, Ok(ControlOk::Created { name })) => Answer::Created { agent: name },
        (Kind::Kill { agent }, Ok(_)) => Answer::Killed { agent, was_running: true },
        (Kind::Kill { agent }, Err(ControlError::NotRunning(_))) => {
            Answer::Killed { agent, was_running: false }
        }
        (Kind::Set { agent }, Ok(ControlOk::Set)) => Answer::Set { agent },
        (Kind::Resume { agent }, Ok(ControlOk::Resumed)) => Answer::Resumed { agent },
        (_, Ok(other)) => Answer::error(ErrorCode::Internal, format!("unexpected reply {other:?}")),
        (_, Err(e)) => {
            let code = match &e {
                ControlError::NoSuchAgent(_) => ErrorCode::NoSuchAgent,
                ControlError::NameTaken(_) => ErrorCode::NameTaken,
                ControlError::BadName(..) | ControlError::EmptyPrompt => ErrorCode::BadRequest,
                ControlError::NotRunning(_)
                | ControlError::NotHeld(_)
                | ControlError::Supervisor => ErrorCode::Refused,
            };
            Answer::error(code, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::event::{Event, ResultEvent};
    use crate::app::fixtures::{self, state};
    use crate::app::update;
    use crate::control::proto::{AgentState, TurnOutcome, TurnReport};
    use crossterm::event::{KeyCode, KeyModifiers};

    /// The loop, as far as the bridge is concerned, with the engine played by hand.
    struct Sim {
        state: State,
        bridge: ControlBridge,
        spawned: Vec<TurnRequest>,
    }

    impl Sim {
        fn new() -> Sim {
            Sim {
                state: state(true, &[("api", "API"), ("web", "UI")], (120, 40)),
                bridge: ControlBridge::new(
                    Some(PathBuf::from("/run/agentmux/ws.sock")),
                    Some(PathBuf::from("/opt/agentmux/bin")),
                ),
                spawned: Vec::new(),
            }
        }

        fn apply(&mut self, msgs: Vec<Msg>) {
            let mut queue = msgs;
            while !queue.is_empty() {
                queue = self.batch(queue);
            }
        }

        /// One batch, as the loop applies it: what the bridge asks to apply next is returned.
        fn batch(&mut self, msgs: Vec<Msg>) -> Vec<Msg> {
            for m in msgs {
                self.bridge.observe(&m, &self.state);
                for mut fx in update(&mut self.state, m) {
                    self.bridge.effect(&mut fx);
                    if let Effect::SpawnTurn(r) = fx {
                        self.spawned.push(*r);
                    }
                }
            }
            self.bridge.settle(&self.state)
        }

        fn call(&mut self, from: Option<&str>, request: Request) -> oneshot::Receiver<Reply> {
            let (reply, rx) = oneshot::channel();
            let call = ControlCall { from: from.map(String::from), request, reply };
            let msgs = self.bridge.call(call, &self.state);
            self.apply(msgs);
            rx
        }

        fn answer(&mut self, from: Option<&str>, request: Request) -> Answer {
            answer_now(self.call(from, request))
        }

        fn id(&self, name: &str) -> AgentId {
            self.state.agents[self.state.index_named(name).unwrap()].id
        }

        fn turn_of(&self, name: &str) -> u64 {
            self.state.agents[self.state.index_named(name).unwrap()].turn_seq
        }

        /// The agent's running turn ends with `text` as its result.
        fn finish(&mut self, name: &str, subtype: &str, text: &str, cost: f64) {
            let msgs = self.ending(name, subtype, text, cost);
            self.apply(msgs);
        }

        /// The messages that end the agent's running turn with `text` as its result.
        fn ending(&self, name: &str, subtype: &str, text: &str, cost: f64) -> Vec<Msg> {
            let (id, turn) = (self.id(name), self.turn_of(name));
            let r = ResultEvent {
                subtype: subtype.into(),
                is_error: subtype != "success",
                result: Some(text.into()),
                total_cost_usd: Some(cost),
                ..Default::default()
            };
            let raw = format!("{{\"type\":\"result\",\"result\":{text:?}}}");
            vec![
                fixtures::started(id, turn),
                Msg::Engine(EngineMsg::Lines {
                    agent: id,
                    turn,
                    lines: vec![(raw, Line::Event(Event::Result(r)))],
                    ticket: Default::default(),
                }),
                fixtures::exited(id, turn, i32::from(subtype != "success")),
            ]
        }

        fn relay(&self) -> &crate::supervisor::Relay {
            &self.state.supervision.as_ref().unwrap().relay
        }
    }

    fn answer_now(mut rx: oneshot::Receiver<Reply>) -> Answer {
        match rx.try_recv() {
            Ok(Reply::Answer(a)) => a,
            Ok(Reply::Tail { .. }) => panic!("a tail, not an answer"),
            Err(e) => panic!("no answer yet: {e:?}"),
        }
    }

    fn send(agent: &str, text: &str) -> Request {
        Request::Send { agent: agent.into(), text: text.into() }
    }

    #[test]
    fn the_supervisors_tasks_come_back_batched_as_its_next_turn() {
        let mut s = Sim::new();
        let a = s.answer(Some("lead"), send("api", "write the API"));
        assert_eq!(a, Answer::Sent { agent: "api".into(), queued: false });
        s.answer(Some("lead"), send("web", "write the UI"));
        assert_eq!(s.relay().outstanding(), 2);

        s.finish("api", "success", "API done", 0.01);
        assert_eq!(s.relay().pending().len(), 1, "waits for its sibling");
        assert!(!s.state.agents[0].turn.is_active());
        s.finish("web", "error_max_turns", "ran out of turns", 0.02);

        let lead = s.spawned.last().unwrap();
        assert_eq!(lead.spec.name, "lead");
        assert_eq!(
            lead.prompt,
            "[agentmux] 2 reports from your workers:\n\n\
             --- api: done, $0.0100 ---\nAPI done\n\n\
             --- web: failed (error_max_turns), $0.0200 ---\nran out of turns\n"
        );
        assert!(s.state.agents[0].turn.is_active());
        let log: Vec<String> = s.relay().log().map(|e| e.line("lead")).collect();
        assert_eq!(
            log,
            [
                "lead -> api: write the API",
                "lead -> web: write the UI",
                "api -> lead: done, $0.0100",
                "web -> lead: failed, $0.0200",
                "relayed 2 reports to lead (api, web; depth 1)",
            ]
        );
    }

    #[test]
    fn sends_from_the_user_are_not_relayed_and_queued_tasks_bind_to_their_turn() {
        let mut s = Sim::new();
        s.answer(None, send("api", "user work"));
        let a = s.answer(Some("lead"), send("api", "supervisor work"));
        assert_eq!(a, Answer::Sent { agent: "api".into(), queued: true });
        s.finish("api", "success", "user work done", 0.0);
        assert!(s.relay().pending().is_empty(), "the user's turn is not reported");
        assert_eq!(s.spawned.last().map(|r| r.prompt.as_str()), Some("supervisor work"));
        s.finish("api", "success", "supervisor work done", 0.0);
        assert!(s.spawned.last().unwrap().prompt.contains("supervisor work done"));
    }

    /// Tasks are known by their id: two with the same words go to their own turns, and the
    /// user's follow-up with those words between them is not reported.
    #[test]
    fn tasks_with_the_same_words_bind_to_their_own_turns_by_id() {
        let mut s = Sim::new();
        s.answer(Some("lead"), send("api", "run the tests"));
        s.answer(None, send("api", "run the tests"));
        s.answer(Some("lead"), send("api", "run the tests"));
        s.finish("api", "success", "first task's run", 0.0);
        s.finish("api", "success", "the user's run", 0.0);
        assert_eq!(s.relay().pending().len(), 1, "the user's turn is not a task");
        assert_eq!(s.relay().outstanding(), 1);
        s.finish("api", "success", "second task's run", 0.0);
        let lead = s.spawned.last().unwrap();
        assert_eq!(lead.spec.name, "lead");
        assert_eq!(lead.origin, Origin::Relay);
        assert_eq!(
            lead.prompt,
            "[agentmux] 2 reports from your workers:\n\n\
             --- api: done, $0.00 ---\nfirst task's run\n\n\
             --- api: done, $0.00 ---\nsecond task's run\n"
        );
    }

    /// The user writes to the supervisor the very words of the relayed turn that is running:
    /// theirs is a new task chain, queued behind the relay's turn, never taken for it.
    #[test]
    fn a_users_prompt_with_the_relays_words_starts_a_new_chain() {
        let mut s = Sim::new();
        s.answer(Some("lead"), send("api", "write the API"));
        s.finish("api", "success", "API done", 0.0);
        let relayed = s.spawned.last().cloned().expect("the report is relayed at once");
        assert_eq!(relayed.origin, Origin::Relay);
        s.answer(None, send("lead", &relayed.prompt));
        assert_eq!(s.state.agents[0].queue.len(), 1, "the user's turn waits behind the relay's");
        s.finish("lead", "success", "ok", 0.0);
        assert_eq!(s.spawned.last().map(|r| r.origin), Some(Origin::User));
        // A task of the user's turn is one relay deep, as every first relay of a chain.
        s.answer(Some("lead"), send("api", "and the docs"));
        s.finish("lead", "success", "ok", 0.0);
        s.finish("api", "success", "docs done", 0.0);
        assert_eq!(s.spawned.last().map(|r| r.origin), Some(Origin::Relay));
        s.finish("lead", "success", "ok", 0.0);
        let last = s.relay().log().last().map(|e| e.line("lead"));
        assert_eq!(last.as_deref(), Some("relayed 1 report to lead (api; depth 1)"));
    }

    /// A task the user cancels from the worker's queue, or edits and sends again, is still
    /// the supervisor's: it hears that it was not run, or the edited task's result.
    #[test]
    fn a_cancelled_task_is_reported_not_run_and_an_edited_one_stays_a_task() {
        let mut s = Sim::new();
        s.answer(None, send("api", "busy"));
        s.answer(Some("lead"), send("api", "edit me"));
        s.answer(Some("lead"), send("api", "cancel me"));
        let api = s.state.index_named("api").unwrap();
        s.state.set_focus(api);
        s.apply(vec![fixtures::key_mod(KeyCode::Char('d'), KeyModifiers::ALT)]);
        assert_eq!(s.relay().pending().len(), 1);
        assert_eq!(s.relay().pending()[0].detail.as_deref(), Some("not run"));
        s.apply(vec![fixtures::key_mod(KeyCode::Char('e'), KeyModifiers::ALT)]);
        assert_eq!(s.relay().outstanding(), 1, "a task being edited is not lost");
        let mut msgs = fixtures_type(" (edited)");
        msgs.push(fixtures::key(KeyCode::Enter));
        s.apply(msgs);
        s.finish("api", "success", "busy done", 0.0);
        assert_eq!(s.spawned.last().map(|r| r.prompt.as_str()), Some("edit me (edited)"));
        s.finish("api", "success", "edited done", 0.0);
        let lead = s.spawned.last().unwrap();
        assert!(
            lead.prompt.contains("not run") && lead.prompt.contains("edited done"),
            "{}",
            lead.prompt
        );
    }

    fn fixtures_type(text: &str) -> Vec<Msg> {
        text.chars().map(|c| fixtures::key(KeyCode::Char(c))).collect()
    }

    #[test]
    fn every_turn_gets_the_socket_its_name_and_agentmux_on_its_path() {
        let mut s = Sim::new();
        s.answer(None, send("api", "x"));
        let env = &s.spawned[0].extra_env;
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("AGENTMUX_SOCKET"), Some("/run/agentmux/ws.sock"));
        assert_eq!(get("AGENTMUX_AGENT"), Some("api"));
        assert!(get("PATH").is_some_and(|p| p.starts_with("/opt/agentmux/bin")), "{env:?}");
    }

    #[test]
    fn the_supervisor_runs_with_its_generated_prompt_and_two_commands() {
        let s = Sim::new();
        let lead = &s.state.agents[0].spec.options;
        assert_eq!(
            lead.allowed_tools.as_deref(),
            Some(&["Bash(agentmux send:*)".to_string(), "Bash(agentmux ls:*)".to_string()][..])
        );
        let p = lead.append_system_prompt.as_deref().unwrap_or("");
        assert!(p.contains("- api (API), working in /work/project"), "{p}");
    }

    #[test]
    fn ls_says_which_agent_waits_for_an_approval() {
        let mut s = Sim::new();
        let web = s.state.agents[2].id;
        let secret = s.state.approvals.open_channel(web);
        let _pending = s.call(
            Some("web"),
            Request::Approve {
                agent: "web".into(),
                tool_name: "Bash".into(),
                input: serde_json::json!({"command": "make"}),
                tool_use_id: None,
                secret: Some(secret),
            },
        );
        match s.answer(None, Request::Ls) {
            Answer::Agents { agents, .. } => {
                let states: Vec<_> = agents.iter().map(|a| (a.name.as_str(), a.state)).collect();
                assert_eq!(
                    states,
                    [
                        ("lead", AgentState::Idle),
                        ("api", AgentState::Idle),
                        ("web", AgentState::NeedsYou)
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ls_carries_the_usage_windows() {
        let mut s = Sim::new();
        assert!(
            matches!(s.answer(None, Request::Ls), Answer::Agents { limits, .. } if limits.is_empty())
        );
        s.state.wall = crate::app::fixtures::WALL;
        let api = s.state.agents[1].id;
        let line = crate::app::fixtures::windows_line(0.85, 0.3);
        crate::app::update(&mut s.state, crate::app::fixtures::lines(api, 0, vec![line]));
        match s.answer(None, Request::Ls) {
            Answer::Agents { limits, .. } => {
                let five = LimitInfo {
                    window: "five_hour".into(),
                    utilization: Some(0.85),
                    status: Some("allowed".into()),
                    resets_at: Some(1_796_293_980),
                };
                assert_eq!(limits.first(), Some(&five));
                assert_eq!(limits.get(1).map(|l| l.window.as_str()), Some("seven_day"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A refused turn keeps its prompt queued to run again, yet `wait` answers at once with
    /// the one verdict (rate-limited: `agentmux wait` exits 5) and `ls` says rate-limited.
    #[test]
    fn wait_and_ls_on_a_refused_turn_say_rate_limited() {
        let mut s = Sim::new();
        s.answer(None, send("api", "the task"));
        let waiting = s.call(None, Request::Wait { agent: "api".into() });
        let (id, turn) = (s.id("api"), s.turn_of("api"));
        let refusal = crate::agent::event::RateLimitEvent {
            status: Some("rejected".into()),
            limit_type: Some("five_hour".into()),
            resets_at: Some(crate::limits::wall_clock() + 3600),
            ..Default::default()
        };
        s.apply(vec![
            fixtures::started(id, turn),
            fixtures::lines(id, turn, vec![Event::RateLimit(refusal)]),
            fixtures::exited(id, turn, 1),
        ]);
        match answer_now(waiting) {
            Answer::TurnEnded(r) => assert_eq!(r.outcome, TurnOutcome::RateLimited),
            other => panic!("{other:?}"),
        }
        let i = s.state.index_named("api").unwrap();
        assert_eq!(s.state.agents[i].queue.len(), 1, "the prompt is kept");
        // Asked again later, the same.
        match s.answer(None, Request::Wait { agent: "api".into() }) {
            Answer::TurnEnded(r) => assert_eq!(r.outcome, TurnOutcome::RateLimited),
            other => panic!("{other:?}"),
        }
        match s.answer(None, Request::Ls) {
            Answer::Agents { agents, .. } => assert_eq!(agents[i].state, AgentState::RateLimited),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn search_answers_agent_by_agent_and_refuses_nothing() {
        let mut s = Sim::new();
        s.answer(None, send("api", "Fix the PARSER (a.b*)"));
        s.answer(None, send("web", "nothing here"));
        s.finish("web", "success", "done", 0.01);
        s.answer(None, send("web", "and the parser again"));
        let hit = |agent: &str, turn, line: &str| SearchHit {
            agent: agent.into(),
            turn,
            line: line.into(),
        };
        assert_eq!(
            s.answer(None, Request::Search { text: "parser".into() }),
            Answer::Hits {
                hits: vec![
                    hit("api", 1, "Fix the PARSER (a.b*)"),
                    hit("web", 2, "and the parser again")
                ],
                truncated: false
            }
        );
        let literal = s.answer(None, Request::Search { text: "a.b*".into() });
        assert!(matches!(&literal, Answer::Hits { hits, .. } if hits.len() == 1), "{literal:?}");
        let none = s.answer(None, Request::Search { text: "b.*c".into() });
        assert_eq!(none, Answer::Hits { hits: vec![], truncated: false });
        let empty = s.answer(None, Request::Search { text: "  ".into() });
        assert!(
            matches!(&empty, Answer::Error { code: ErrorCode::BadRequest, message } if message.contains("nothing to search for")),
            "{empty:?}"
        );
    }

    #[test]
    fn ls_wait_tail_kill_and_broadcast() {
        let mut s = Sim::new();
        match s.answer(None, Request::Ls) {
            Answer::Agents { agents, .. } => {
                let names: Vec<_> =
                    agents.iter().map(|a| (a.name.as_str(), a.supervisor)).collect();
                assert_eq!(names, [("lead", true), ("api", false), ("web", false)]);
                assert_eq!(agents[1].state, AgentState::Idle);
            }
            other => panic!("{other:?}"),
        }
        // An agent that never ran answers a wait at once.
        let a = s.answer(None, Request::Wait { agent: "api".into() });
        assert!(matches!(a, Answer::TurnEnded(TurnReport { outcome: TurnOutcome::None, .. })));

        s.answer(None, send("api", "work"));
        let mut waiting = s.call(None, Request::Wait { agent: "api".into() });
        assert!(waiting.try_recv().is_err(), "busy: no answer yet");
        let tail = match s.call(None, Request::Tail { agent: "api".into() }).try_recv() {
            Ok(Reply::Tail { lines, .. }) => lines,
            _ => panic!("expected a tail"),
        };
        let mut tail = tail;
        s.finish("api", "success", "worked", 0.5);
        match answer_now(waiting) {
            Answer::TurnEnded(r) => {
                assert_eq!(r.outcome, TurnOutcome::Success);
                assert_eq!(r.result.as_deref(), Some("worked"));
                assert_eq!(r.cost_usd, Some(0.5));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            tail.try_recv().ok().as_deref(),
            Some("{\"type\":\"result\",\"result\":\"worked\"}")
        );

        let a = s.answer(None, Request::Kill { agent: "api".into() });
        assert_eq!(a, Answer::Killed { agent: "api".into(), was_running: false });
        s.answer(None, send("web", "busy"));
        let a = s.answer(None, Request::Kill { agent: "web".into() });
        assert_eq!(a, Answer::Killed { agent: "web".into(), was_running: true });

        s.answer(None, send("api", "busy too"));
        let a = s.answer(None, Request::Broadcast { text: "commit".into() });
        assert_eq!(
            a,
            Answer::Broadcast {
                sent: vec![
                    SentTo { agent: "api".into(), queued: true },
                    SentTo { agent: "web".into(), queued: true },
                ]
            }
        );
        let a = s.answer(None, send("nobody", "x"));
        assert!(matches!(a, Answer::Error { code: ErrorCode::NoSuchAgent, .. }));
        let a = s.answer(None, send("api", "  "));
        assert!(matches!(a, Answer::Error { code: ErrorCode::BadRequest, .. }));
    }

    #[test]
    fn an_approve_request_goes_to_the_app_as_an_ask_and_its_decision_comes_back_by_id() {
        let mut s = Sim::new();
        let approve = |command: &str| Request::Approve {
            agent: "api".into(),
            tool_name: "Bash".into(),
            input: serde_json::json!({"command": command}),
            tool_use_id: None,
            secret: Some("from the turn".into()),
        };
        let (reply, mut first) = oneshot::channel();
        let call = ControlCall { from: None, request: approve("ls"), reply };
        let msgs = s.bridge.call(call, &s.state);
        let [Msg::Approval { id, ask }] = &msgs[..] else { panic!("{msgs:?}") };
        assert_eq!((ask.agent.as_str(), ask.tool_name.as_str()), ("api", "Bash"));
        assert_eq!(ask.secret.as_deref(), Some("from the turn"));
        let (reply, mut second) = oneshot::channel();
        let call = ControlCall { from: None, request: approve("make"), reply };
        let msgs = s.bridge.call(call, &s.state);
        let [Msg::Approval { id: other, .. }] = &msgs[..] else { panic!("{msgs:?}") };
        assert_ne!(id, other);
        // The decision reaches the server that asked, and no other.
        let deny = Decision::Deny { message: Some("not that".into()) };
        assert_eq!(s.bridge.decide(*other, deny), None);
        assert!(first.try_recv().is_err(), "still waiting");
        assert!(matches!(
            second.try_recv(),
            Ok(Reply::Answer(Answer::Decision { message: Some(m), .. })) if m == "not that"
        ));
        // A server that gave up: the app hears its ask was withdrawn.
        drop(first);
        let next = s.bridge.settle(&s.state);
        assert!(matches!(&next[..], [Msg::Withdrawn { id: w }] if w == id), "{next:?}");
        // An id the socket never brought is handed back (a live process's ask).
        assert_eq!(s.bridge.decide(*id, Decision::Allow), Some(Decision::Allow));
    }

    #[test]
    fn a_tail_ends_when_its_agent_is_closed() {
        let mut s = Sim::new();
        let mut tail = match s.call(None, Request::Tail { agent: "web".into() }).try_recv() {
            Ok(Reply::Tail { lines, .. }) => lines,
            _ => panic!("expected a tail"),
        };
        s.apply(vec![Msg::Control {
            id: RequestId(1),
            cmd: ControlCmd::Kill { agent: "web".into() },
        }]);
        assert_eq!(tail.try_recv(), Err(mpsc::error::TryRecvError::Disconnected));
    }

    #[test]
    fn a_ping_pong_is_stopped_by_the_depth_limit_and_resumed_by_the_user() {
        let mut s = Sim::new();
        // The fixture team allows 3 relays per chain.
        for round in 1..=4 {
            s.answer(Some("lead"), send("api", "ping"));
            if round > 1 {
                s.finish("lead", "success", "sent another ping", 0.0);
            }
            s.finish("api", "success", "pong", 0.0);
        }
        let stop = s.relay().stopped().cloned().expect("stopped");
        assert_eq!(stop.limit, crate::supervisor::Limit::Depth);
        assert_eq!(s.state.flash.as_deref(), Some(stop.note().as_str()));
        let relayed = s.spawned.iter().filter(|r| r.spec.name == "lead").count();
        assert_eq!(relayed, 3);
        s.finish("lead", "success", "ok", 0.0);

        // The user writes to the supervisor: after that turn the held report follows.
        let fx = fixtures::send(&mut s.state, 0, "carry on");
        for mut e in fx {
            s.bridge.effect(&mut e);
            if let Effect::SpawnTurn(r) = e {
                s.spawned.push(*r);
            }
        }
        assert!(s.relay().stopped().is_none());
        s.finish("lead", "success", "ok", 0.0);
        let last = s.spawned.last().unwrap();
        assert_eq!(last.spec.name, "lead");
        assert!(
            last.prompt.starts_with("[agentmux] A report from your worker:"),
            "{}",
            last.prompt
        );
    }
}
