//! The whole app state: agents, focus, layout, overlays. Only `update` changes it; views read it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use tui_textarea::TextArea;

use super::form::Form;
use super::keymap::Keymap;
use super::queue::Prompt;
use crate::agent::{
    AgentId, AgentOptions, AgentSpec, Billing, ClaudeCmd, Origin, SessionArg, TurnRequest,
    DEFAULT_MAX_LINE_BYTES,
};
use crate::config::Team;
use crate::layout::{self, Arrangement, PaneParts, Placed, TileRequest, Tiling};
use crate::transcript::{Scroll, Transcript, TranscriptView, Viewport};

/// One spinner frame; also how often a running pane's elapsed time can change on screen.
pub const SPINNER_FRAME: Duration = Duration::from_millis(100);
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurnState {
    /// No turn yet, or the last one ended well.
    Idle,
    /// Asked the engine for a turn; the process has not reported yet.
    Starting {
        since: Instant,
    },
    Running {
        since: Instant,
    },
    /// The last turn failed; the message says why.
    Error {
        message: String,
    },
    /// The user stopped the last turn.
    Interrupted,
    /// The last turn was refused by a rate limit; `resets_at` in Unix seconds when known.
    RateLimited {
        resets_at: Option<i64>,
    },
}

impl TurnState {
    pub fn is_active(&self) -> bool {
        matches!(self, TurnState::Starting { .. } | TurnState::Running { .. })
    }

    pub fn since(&self) -> Option<Instant> {
        match self {
            TurnState::Starting { since } | TurnState::Running { since } => Some(*since),
            _ => None,
        }
    }
}

/// What the current turn reported so far. How it ended is the engine's lifecycle's call
/// (`agent::turn`), so the panes, `agentmux wait` and the relay all agree.
#[derive(Clone, Debug, Default)]
pub struct TurnProgress {
    pub lifecycle: crate::agent::turn::Turn,
    /// An `api_retry` with this HTTP status is going on.
    pub retrying: Option<u16>,
}

impl TurnProgress {
    /// How the turn ended, once its process exited: the engine's lifecycle decides.
    pub fn judge(&self, exit: &crate::agent::ExitInfo) -> crate::agent::turn::Phase {
        self.lifecycle.clone().on_exit(exit).clone()
    }

    /// The one verdict on the turn once its process exited, with what the lifecycle judged.
    pub fn verdict(
        &self,
        exit: &crate::agent::ExitInfo,
    ) -> (crate::agent::turn::Verdict, crate::agent::turn::Phase) {
        let mut turn = self.lifecycle.clone();
        turn.on_exit(exit);
        (turn.verdict(), turn.state().clone())
    }
}

#[derive(Clone, Debug)]
pub struct Agent {
    pub id: AgentId,
    pub spec: AgentSpec,
    pub supervisor: bool,
    /// The conversation's id: ours before the first turn, then whatever the CLI reports.
    /// Shown only once the CLI confirmed it (`confirmed_session`).
    pub session: Option<String>,
    /// The CLI knows this session: follow-ups resume it.
    pub session_live: bool,
    pub turn: TurnState,
    /// The number of the current (or last) turn; engine messages of older ones are stale.
    pub turn_seq: u64,
    pub progress: TurnProgress,
    pub pid: Option<u32>,
    pub queue: super::queue::FollowUps,
    /// From the init event; `None` until one arrived.
    pub billing: Option<Billing>,
    pub model: Option<String>,
    /// The last rate-limit status that was not "allowed".
    pub rate_limit: Option<String>,
    pub turns: u32,
    pub cost_usd: f64,
    pub tokens: u64,
    /// How full the conversation's context window is (see `query::context_percent`).
    pub context: Option<ContextUse>,
    /// Its todo list and subagents, as its events told them.
    pub plan: crate::transcript::plan::Plan,
    /// The tokens its requests used, by the minute (for the limits panel).
    pub burn: crate::limits::burn::Burn,
    pub transcript: Transcript,
    pub scroll: Scroll,
    pub input: TextArea<'static>,
    pub history: Vec<String>,
    pub history_pos: Option<usize>,
    /// The agent's git worktree, when it works in one.
    pub tree: Option<super::worktree::AgentTree>,
    /// Its last turn was lost when agentmux died: `Command::ResumeTurn` continues it.
    pub resumable: bool,
    /// When its last event arrived.
    pub last_activity: Option<Instant>,
    /// How its last turn in this run ended, as `agentmux wait` answers it.
    pub last_report: Option<crate::control::proto::TurnReport>,
    /// When its last turn ended.
    pub ended_at: Option<Instant>,
    /// Its last turn ended while the user looked elsewhere (cleared once it has the focus).
    pub unread: bool,
    /// A fork not made yet: the next turn copies `session` (cut after this assistant message
    /// when `Some`) into a conversation of its own, leaving the original untouched.
    pub fork: Option<Option<String>>,
    /// The current (or last) turn's prompt: a refused turn's goes back into the queue.
    pub prompt: Option<String>,
    /// Who asked for the current (or last) turn: read when it ends, kept when it goes back.
    pub origin: Origin,
    /// Its queue waits for the usage governor (see `app::governor`).
    pub held: bool,
    /// The user released the hold resuming at this time (see `limits::governor::Candidate`).
    pub release: Option<Option<i64>>,
    /// Its last turn was refused: Unix seconds when it may run again.
    pub refused_until: Option<i64>,
}

impl Agent {
    pub fn new(id: AgentId, spec: AgentSpec, supervisor: bool) -> Agent {
        Agent {
            id,
            model: spec.options.model.clone(),
            spec,
            supervisor,
            session: None,
            session_live: false,
            turn: TurnState::Idle,
            turn_seq: 0,
            progress: TurnProgress::default(),
            pid: None,
            queue: Default::default(),
            billing: None,
            rate_limit: None,
            turns: 0,
            cost_usd: 0.0,
            tokens: 0,
            context: None,
            plan: Default::default(),
            burn: Default::default(),
            transcript: Transcript::new(),
            scroll: Scroll::new(),
            input: new_input(),
            history: Vec::new(),
            history_pos: None,
            tree: None,
            resumable: false,
            last_activity: None,
            last_report: None,
            ended_at: None,
            unread: false,
            fork: None,
            prompt: None,
            origin: Origin::User,
            held: false,
            release: None,
            refused_until: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }

    pub fn input_is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// The conversation's id once the CLI reported it (an init event, a result): until then the
    /// id agentmux proposed with `--session-id` names nothing the CLI has (it may have failed
    /// at start), so it is neither shown nor handed out.
    pub fn confirmed_session(&self) -> Option<&str> {
        self.session.as_deref().filter(|_| self.session_live)
    }

    /// Billing as the CLI reported it, or as configured until it did.
    pub fn billing_shown(&self) -> Billing {
        self.billing.unwrap_or_else(|| self.spec.options.billing())
    }
}

pub fn new_input() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

/// The context window's use: the tokens the last request of the conversation held, and the
/// window's size when the CLI said it (its `get_context_usage` answer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextUse {
    pub used: u64,
    pub window: Option<u64>,
}

impl ContextUse {
    /// The use after an assistant message: its request's usage, when it is the conversation's
    /// own (a subagent's request says nothing of this window); the window named before stays.
    pub fn after(
        before: Option<ContextUse>,
        m: &crate::agent::event::MessageEvent,
    ) -> Option<Self> {
        match (&m.usage, &m.parent_tool_use_id) {
            (Some(u), None) => {
                Some(ContextUse { used: u.total(), window: before.and_then(|c| c.window) })
            }
            _ => before,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    NewAgent(Box<Form>),
    Confirm(Confirm),
    Diff(Box<super::worktree::DiffOverlay>),
    Commit(Box<super::worktree::CommitForm>),
    Overview(Box<super::overview::Overview>),
    Search(Box<super::search::SearchBar>),
    Fork(Box<super::convo::ForkPicker>),
    /// The model and permission mode picker of one agent.
    Switch(super::switch::Switch),
    /// The usage windows, their forecast and the agents that burn most.
    Limits,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirm {
    Quit {
        running: usize,
    },
    Close {
        agent: AgentId,
    },
    /// Removing the agent's worktree loses this much.
    RemoveWorktree {
        agent: AgentId,
        loss: crate::worktree::Loss,
    },
}

#[derive(Clone, Debug)]
pub struct State {
    /// The supervisor first when there is one, then the workers in order.
    pub agents: Vec<Agent>,
    pub focus: usize,
    /// The worker the grid keeps on screen while the supervisor has the focus.
    pub anchor: usize,
    pub arrangement: Arrangement,
    pub overlay: Option<Overlay>,
    pub keymap: Keymap,
    /// The terminal's size.
    pub size: (u16, u16),
    /// The time `update` and `view` see (set by the loop before each batch; fixed in tests).
    pub now: Instant,
    /// The wall clock at `now`, in Unix seconds (usage windows reset at wall-clock times).
    pub wall: i64,
    /// The same reading in Unix milliseconds (the relay's batching windows are shorter than a
    /// second's rounding can bear).
    pub wall_ms: u64,
    /// The subscription's usage windows, as the agents' CLIs reported them.
    pub limits: crate::limits::Limits,
    /// Something visible may have changed since the last draw: set by `update` alone (see
    /// `update::shows`), cleared by the draw.
    pub dirty: bool,
    pub claude: ClaudeCmd,
    /// Options for agents created at run time.
    pub defaults: AgentOptions,
    /// The directory offered for new agents.
    pub default_dir: PathBuf,
    /// `[limits]`: when the usage governor holds new turns.
    pub policy: crate::limits::governor::Policy,
    /// Variables every turn gets (the control socket's address, ...).
    pub extra_env: Vec<(String, String)>,
    /// The API key variables set in agentmux's own environment (names only): agents billed
    /// to the subscription run without them, and a login failure says so.
    pub api_keys_set: Vec<String>,
    /// A short note on the hint line until the next key.
    pub flash: Option<String>,
    /// Tool calls waiting for the user, and how turns ask (see `app::approvals`).
    pub approvals: super::approvals::Approvals,
    pub quitting: bool,
    /// The workspace runs in a background server and this screen is one of its attached
    /// clients: detaching leaves the agents working.
    pub served: bool,
    /// The attached client whose input came last: its size is `size`, and a detach is its own.
    pub client: Option<u32>,
    /// Files edited by agents that share a directory (for the warnings in their headers).
    pub edits: crate::worktree::overlap::EditLog,
    /// Agents whose worktree is being created: their prompts wait in their queues.
    pub opening_worktrees: Vec<AgentId>,
    /// The team's `[worktree]` table, for agents created at run time.
    pub worktree_settings: crate::config::WorktreeSettings,
    /// The supervisor's relay and the team table's activity (kept by the run loop's control
    /// bridge; `None` without a supervisor).
    pub supervision: Option<crate::supervisor::Supervision>,
    /// The workspace is open read-only (another agentmux has it): nothing is sent.
    pub read_only: bool,
    /// The agents the tiles show, when the overview's filter chose a few (empty: all). The
    /// supervisor and the focused agent always show.
    pub shown: Vec<AgentId>,
    next_id: u32,
}

impl State {
    /// Which bindings apply now: the handlers and the hint line both ask this.
    pub fn key_context(&self) -> super::Context {
        match &self.overlay {
            None if super::approvals::focused_waits(self) => super::Context::Approval,
            None => super::Context::Pane,
            Some(Overlay::Help { .. }) => super::Context::Help,
            Some(Overlay::NewAgent(_)) => super::Context::Form,
            Some(Overlay::Confirm(_)) => super::Context::Confirm,
            Some(Overlay::Diff(_)) => super::Context::Diff,
            Some(Overlay::Commit(_)) => super::Context::Commit,
            Some(Overlay::Overview(_)) => super::Context::Overview,
            Some(Overlay::Search(_)) => super::Context::Search,
            Some(Overlay::Fork(_)) => super::Context::Fork,
            Some(Overlay::Switch(_)) => super::Context::Switch,
            Some(Overlay::Limits) => super::Context::Limits,
        }
    }

    pub fn new(team: &Team, claude: ClaudeCmd, size: (u16, u16), now: Instant) -> State {
        let mut s = State {
            agents: Vec::new(),
            focus: 0,
            anchor: 0,
            arrangement: Arrangement::Tiled,
            overlay: None,
            keymap: Keymap::defaults(),
            size,
            now,
            wall: crate::limits::wall_clock(),
            wall_ms: crate::limits::wall_clock_ms(),
            limits: Default::default(),
            dirty: true,
            claude,
            defaults: team.defaults.clone(),
            default_dir: team
                .path
                .as_ref()
                .and_then(|p| p.parent().map(PathBuf::from))
                .or_else(|| team.agents.first().map(|a| a.spec.cwd.clone()))
                .unwrap_or_else(|| PathBuf::from(".")),
            policy: team.limits,
            extra_env: Vec::new(),
            api_keys_set: Vec::new(),
            flash: None,
            approvals: Default::default(),
            quitting: false,
            served: false,
            client: None,
            edits: Default::default(),
            opening_worktrees: Vec::new(),
            worktree_settings: team.worktree.clone(),
            supervision: team.supervisor.as_ref().map(crate::supervisor::Supervision::new),
            read_only: false,
            shown: Vec::new(),
            next_id: 0,
        };
        if let Some(sup) = &team.supervisor {
            // Its generated prompt (the workers, how to hand out work) and its tool rules.
            s.add_agent(crate::supervisor::supervisor_spec(team, sup), true);
        }
        for a in &team.agents {
            s.add_agent(a.spec.clone(), false);
        }
        // The first agent has the focus; the supervisor when there is none.
        s.focus = usize::from(team.supervisor.is_some() && !team.agents.is_empty());
        s.anchor = s.focus;
        s
    }

    /// The first prompts of the team, sent once at start.
    pub fn first_prompts(team: &Team) -> Vec<Option<String>> {
        let sup = team.supervisor.as_ref().map(|s| s.prompt.clone());
        sup.into_iter().chain(team.agents.iter().map(|a| a.prompt.clone())).collect()
    }

    pub fn add_agent(&mut self, spec: AgentSpec, supervisor: bool) -> usize {
        let id = AgentId(self.next_id);
        self.next_id += 1;
        let agent = Agent::new(id, spec, supervisor);
        if supervisor {
            self.agents.insert(0, agent);
            0
        } else {
            self.agents.push(agent);
            self.agents.len() - 1
        }
    }

    /// Puts the agent named `name` in its worktree: its turns run in the worktree from now on.
    pub fn attach_worktree(&mut self, name: &str, wt: crate::worktree::AgentWorktree) -> bool {
        let Some(i) = self.index_named(name) else { return false };
        let agent = &mut self.agents[i];
        let home = std::mem::replace(&mut agent.spec.cwd, wt.cwd.clone());
        // What the user should know (detached base, submodules, setup) opens the transcript.
        for notice in &wt.notices {
            agent.transcript.push_note(&format!("⎇ {notice}"), crate::transcript::NoteLevel::Info);
        }
        agent.tree = Some(super::worktree::AgentTree::new(wt, home));
        true
    }

    /// Sets the time `update` and `view` see, on both clocks (`wall_ms`: Unix milliseconds).
    pub fn set_clock(&mut self, now: Instant, wall_ms: u64) {
        self.now = now;
        self.wall = i64::try_from(wall_ms / 1000).unwrap_or(i64::MAX);
        self.wall_ms = wall_ms;
    }

    /// The wall clock (Unix milliseconds) at an earlier moment of `now`'s clock.
    pub fn wall_ms_at(&self, then: Instant) -> u64 {
        let ago = self.now.saturating_duration_since(then).as_millis();
        self.wall_ms.saturating_sub(u64::try_from(ago).unwrap_or(u64::MAX))
    }

    /// When `now`'s clock read the wall clock `ms` (Unix milliseconds), if it ran then.
    pub fn instant_at(&self, ms: u64) -> Option<Instant> {
        let ago = std::time::Duration::from_millis(self.wall_ms.saturating_sub(ms));
        self.now.checked_sub(ago)
    }

    /// The time the usage windows are judged at.
    pub fn time(&self) -> crate::limits::Now {
        crate::limits::Now { wall: self.wall, mono: self.now }
    }

    pub fn has_supervisor(&self) -> bool {
        self.agents.first().is_some_and(|a| a.supervisor)
    }

    pub fn index_of(&self, id: AgentId) -> Option<usize> {
        self.agents.iter().position(|a| a.id == id)
    }

    pub fn index_named(&self, name: &str) -> Option<usize> {
        self.agents.iter().position(|a| a.spec.name == name)
    }

    pub fn focused(&self) -> Option<&Agent> {
        self.agents.get(self.focus)
    }

    pub fn focused_mut(&mut self) -> Option<&mut Agent> {
        self.agents.get_mut(self.focus)
    }

    pub fn focus_is(&self, id: AgentId) -> bool {
        self.focused().is_some_and(|a| a.id == id)
    }

    pub fn running(&self) -> usize {
        self.agents.iter().filter(|a| a.turn.is_active()).count()
    }

    pub fn set_focus(&mut self, index: usize) {
        if index < self.agents.len() {
            self.focus = index;
            if !(self.has_supervisor() && index == 0) {
                self.anchor = index;
            }
        }
    }

    /// Whether the screen is big enough for panes.
    pub fn usable(&self) -> bool {
        self.size.0 >= layout::MIN_SCREEN_WIDTH && self.size.1 >= layout::MIN_SCREEN_HEIGHT
    }

    /// The panes' area: the screen less the hint line.
    pub fn panes_area(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1.saturating_sub(1))
    }

    pub fn tiling(&self) -> Tiling {
        if !self.usable() {
            return Tiling::default();
        }
        let tiles = self.tiled_agents();
        let at = |index: usize| tiles.iter().position(|&i| i == index).unwrap_or(0);
        let lead = self.has_supervisor() && tiles.first() == Some(&0);
        let mut req = TileRequest::new(tiles.len(), at(self.focus), lead, self.arrangement);
        req.anchor = at(self.anchor);
        let mut tiling = layout::tile(self.panes_area(), &req);
        for p in &mut tiling.placed {
            p.pane = tiles[p.pane];
        }
        tiling
    }

    /// The indices of the agents that get tiles, in order: every agent, or the chosen few of
    /// `shown` with the supervisor and the focused agent.
    pub fn tiled_agents(&self) -> Vec<usize> {
        let all = 0..self.agents.len();
        if self.shown.is_empty() {
            return all.collect();
        }
        all.filter(|&i| {
            let a = &self.agents[i];
            a.supervisor || i == self.focus || i == self.anchor || self.shown.contains(&a.id)
        })
        .collect()
    }

    /// The next (or, with `back`, previous) agent with a tile, after the focused one.
    pub fn next_tiled(&self, back: bool) -> Option<usize> {
        let tiles = self.tiled_agents();
        let n = tiles.len();
        let at = tiles.iter().position(|&i| i == self.focus)?;
        Some(tiles[if back { (at + n - 1) % n } else { (at + 1) % n }])
    }

    pub fn pane_parts(&self, placed: &Placed) -> PaneParts {
        let Some(agent) = self.agents.get(placed.pane) else {
            return layout::pane_parts(placed.rect, placed.collapsed, 0, 0);
        };
        let input_lines = if placed.pane == self.focus { agent.input.lines().len() } else { 0 };
        let mut parts =
            layout::pane_parts(placed.rect, placed.collapsed, agent.queue.len(), input_lines);
        // The supervisor's team board takes the top of its body (see `ui::supervisor`).
        if let (true, Some(s)) = (agent.supervisor, &self.supervision) {
            let rows = s.board_rows(self.agents.len(), parts.body.width, parts.body.height);
            parts.body.y += rows;
            parts.body.height -= rows;
        }
        let rows = agent.plan.rows(parts.body.height);
        parts.plan = Rect { height: rows, ..parts.body };
        parts.body.y += rows;
        parts.body.height -= rows;
        parts
    }

    /// Where a pane's transcript is drawn, when the pane is on screen.
    pub fn body_rect(&self, pane: usize) -> Option<Rect> {
        self.tiling().placed.iter().find(|p| p.pane == pane).map(|p| self.pane_parts(p).body)
    }

    /// The scroll math's view of a pane (lines at its width, rows it shows).
    pub fn viewport(&self, pane: usize) -> Viewport {
        match (self.agents.get(pane), self.body_rect(pane)) {
            (Some(a), Some(body)) => TranscriptView::viewport(&a.transcript, body),
            _ => Viewport::new(0, 1),
        }
    }

    /// When the state next changes by itself: the next spinner frame while an agent whose
    /// header is on screen works, a held turn's release, the end of the relay's batching
    /// window. `None` otherwise (all idle, or the working panes are on another page), so the
    /// loop sleeps.
    pub fn next_wake(&self) -> Option<Instant> {
        let spinner = self.next_frame();
        let release = super::governor::next_release(self);
        let relay = super::supervise::next_deadline(self);
        [spinner, release, relay].into_iter().flatten().min()
    }

    fn next_frame(&self) -> Option<Instant> {
        let shown = self.tiling().placed;
        self.agents
            .iter()
            .enumerate()
            .filter(|(i, _)| shown.iter().any(|p| p.pane == *i))
            .filter_map(|(_, a)| a.turn.since())
            .map(|since| {
                let elapsed = self.now.saturating_duration_since(since);
                let frame = SPINNER_FRAME.as_millis();
                let into = elapsed.as_millis() % frame;
                self.now + Duration::from_millis((frame - into) as u64)
            })
            .min()
    }

    /// Build the request for an agent's next turn and mark it starting.
    pub fn begin_turn(&mut self, index: usize, prompt: Prompt) -> Option<TurnRequest> {
        let Prompt { text: prompt, origin } = prompt;
        let now = self.now;
        let claude = self.claude.clone();
        let mut env = self.extra_env.clone();
        let agent = self.agents.get_mut(index)?;
        env.push(("AGENTMUX_AGENT".into(), agent.spec.name.clone()));
        agent.turn_seq += 1;
        agent.turn = TurnState::Starting { since: now };
        agent.prompt = Some(prompt.clone());
        agent.origin = origin;
        agent.held = false;
        agent.refused_until = None;
        agent.resumable = false;
        agent.progress = TurnProgress::default();
        agent.pid = None;
        let session = match (&agent.session, agent.session_live, &agent.fork) {
            (Some(id), true, Some(at)) => SessionArg::Fork { from: id.clone(), at: at.clone() },
            (Some(id), true, None) => SessionArg::Resume(id.clone()),
            _ => {
                let id = uuid::Uuid::new_v4().to_string();
                agent.session = Some(id.clone());
                SessionArg::New(id)
            }
        };
        agent.transcript.push_prompt(&prompt);
        let subscription = agent.spec.options.billing() == crate::agent::Billing::Subscription;
        let held = self.api_keys_set.first().filter(|_| subscription);
        agent.transcript.hold_key(held.map(String::as_str));
        agent.scroll.end();
        let mut req = TurnRequest {
            agent: agent.id,
            turn: agent.turn_seq,
            claude,
            spec: agent.spec.clone(),
            prompt,
            origin,
            session,
            extra_env: env,
            extra_args: Vec::new(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        };
        if let Err(why) = super::approvals::wire_turn(&mut self.approvals, &mut req) {
            // The agent's own MCP config is broken: say so in its pane, start nothing.
            let message = format!("cannot start the turn: {why}");
            agent.transcript.push_error(&message);
            agent.transcript.end_turn(crate::transcript::TurnFooter::new(
                crate::transcript::TurnStatus::Failed(message.clone()),
            ));
            agent.turn = TurnState::Error { message };
            return None;
        }
        super::supervise::turn_started(self, index);
        Some(req)
    }
}
