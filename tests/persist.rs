//! Sessions that survive a restart: the app core and the workspace store wired as the run loop
//! wires them (`run::persist`), with the simulated claude; and the real binary in a PTY killed
//! with SIGKILL during a flood, reopened, resumed. Every wait is for a condition, with a timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;

use agentmux::agent::{spawn_turn, AgentSpec, ClaudeCmd, EngineMsg, TurnHandle};
use agentmux::app::{update, Effect, Msg, State};
use agentmux::config::{Team, TeamAgent};
use agentmux::run::persist::{self, Persister};
use agentmux::store::{Access, RecordRef, Workspace, WorkspaceKey};

const TIMEOUT: Duration = Duration::from_secs(30);

/// State + update + persistence + turns, as the run loop has them.
struct App {
    state: State,
    persist: Persister,
    engine_tx: mpsc::Sender<EngineMsg>,
    engine_rx: mpsc::Receiver<EngineMsg>,
    handles: Vec<(agentmux::agent::AgentId, u64, TurnHandle)>,
    /// The effects the opening returned (the first prompts still to send).
    opened: Vec<Effect>,
}

fn team(work: &Path) -> Team {
    let agent = |name: &str, prompt: Option<&str>| TeamAgent {
        spec: AgentSpec::new(name, work),
        prompt: prompt.map(String::from),
        worktree: false,
    };
    Team {
        agents: vec![agent("api", Some("write the handler")), agent("web", None)],
        ..Team::default()
    }
}

impl App {
    fn open(data: &Path, work: &Path, sim_home: &Path, access: Access) -> App {
        let ws = Workspace::open_or_create(data, &WorkspaceKey::Named("t".into()), access)
            .expect("open the workspace");
        let team = team(work);
        let claude = ClaudeCmd::simulated(env!("CARGO_BIN_EXE_agentmux"));
        let mut state = State::new(&team, claude, (100, 30), Instant::now());
        state.extra_env = vec![
            ("AGENTMUX_SIM_SPEED".into(), "0".into()),
            ("AGENTMUX_SIM_HOME".into(), sim_home.display().to_string()),
        ];
        let (persist, opened) = persist::open(&mut state, &team, ws);
        let (engine_tx, engine_rx) = mpsc::channel(1024);
        let mut app =
            App { state, persist, engine_tx, engine_rx, handles: Vec::new(), opened: Vec::new() };
        app.opened = opened.clone();
        for e in opened {
            app.effect(e);
        }
        app
    }

    fn effect(&mut self, effect: Effect) {
        self.persist.effect(&effect, &mut self.state);
        match effect {
            Effect::SpawnTurn(req) => {
                let (agent, turn) = (req.agent, req.turn);
                match spawn_turn(*req, self.engine_tx.clone()) {
                    Ok(h) => self.handles.push((agent, turn, h)),
                    Err(e) => self.apply(Msg::SpawnFailed { agent, turn, error: e.to_string() }),
                }
            }
            Effect::Interrupt { agent, turn } => {
                for (a, t, h) in &self.handles {
                    if (*a, *t) == (agent, turn) {
                        h.interrupt();
                    }
                }
            }
            _ => {}
        }
    }

    fn apply(&mut self, msg: Msg) {
        self.state.now = Instant::now();
        self.persist.before(&msg, &mut self.state);
        for effect in update(&mut self.state, msg) {
            self.effect(effect);
        }
    }

    fn send(&mut self, index: usize, prompt: &str) {
        self.state.set_focus(index);
        for c in prompt.chars() {
            self.apply(Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
        }
        self.apply(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    }

    async fn until(&mut self, what: &str, done: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !done(&self.state) {
            let msg = tokio::select! {
                Some(m) = self.engine_rx.recv() => Msg::Engine(m),
                () = tokio::time::sleep_until(deadline) => panic!("timed out waiting for {what}"),
            };
            self.apply(msg);
        }
    }

    fn screen(&self) -> String {
        let (w, h) = self.state.size;
        let mut t =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
        t.draw(|f| agentmux::ui::view(&self.state, f)).expect("draw");
        let buf = t.backend().buffer();
        (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n").collect()
    }
}

/// The screen without what the simulated claude varies from run to run (costs, token counts,
/// durations):
/// their digits become `#`, so every column stays where it was.
fn steady(screen: &str) -> String {
    let mut out = String::with_capacity(screen.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let numeric = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.');
        let varies = word.strip_prefix('$').is_some_and(numeric)
            || word.strip_suffix('k').is_some_and(numeric)
            || word.strip_suffix('s').is_some_and(numeric);
        if varies {
            out.extend(word.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in screen.chars() {
        if c == ' ' || c == '\n' || c == '│' || c == '┃' {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn idle(state: &State, index: usize, turns: u64) -> bool {
    let a = &state.agents[index];
    a.turn_seq >= turns && !a.turn.is_active()
}

fn spawns(fx: &[Effect]) -> usize {
    fx.iter().filter(|e| matches!(e, Effect::SpawnTurn(_))).count()
}

/// Prompts in an agent's log.
fn logged_prompts(data: &Path, agent: &str) -> Vec<String> {
    let mut ws = Workspace::open_existing(data, "t", Access::ReadOnly).expect("reopen read-only");
    let found = ws.take_restored();
    let kept = found.agents.iter().find(|a| a.state.spec.name == agent).expect("agent kept");
    kept.log
        .iter()
        .filter_map(|(_, _, r)| match r {
            RecordRef::Prompt(p) => Some(p.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reopens_with_identical_panes_and_the_first_prompt_is_not_resent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, work, home) =
        (dir.path().join("data"), dir.path().join("work"), dir.path().join("h"));
    std::fs::create_dir_all(&work).expect("work dir");

    let mut app = App::open(&data, &work, &home, Access::Exclusive);
    assert_eq!(spawns(&app.opened), 1, "the first prompt goes out on the first open");
    app.until("api's first turn", |s| idle(s, 0, 1)).await;
    app.send(0, "now add a test");
    app.until("api's second turn", |s| idle(s, 0, 2)).await;
    app.send(1, "hello web");
    app.until("web's turn", |s| idle(s, 1, 1)).await;
    // A follow-up typed while nothing can run it stays queued: interrupt web's next turn and
    // queue one behind it.
    app.send(1, "/sim hang");
    app.until("web running", |s| s.agents[1].turn.is_active()).await;
    app.send(1, "queued for later");
    app.state.set_focus(1);
    app.apply(Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
    app.until("web interrupted", |s| idle(s, 1, 2)).await;
    assert_eq!(app.state.agents[1].queue.len(), 1);
    app.state.set_focus(0);
    // The hint line's note ("interrupting web…") lasts until the next key; not part of a pane.
    app.state.flash = None;
    let before = app.screen();
    let (cost, turns) = (app.state.agents[0].cost_usd, app.state.agents[0].turns);
    assert!(cost > 0.0 && turns == 2, "cost {cost}, turns {turns}");
    app.persist.close(&mut app.state);
    drop(app);

    let mut again = App::open(&data, &work, &home, Access::Exclusive);
    assert_eq!(spawns(&again.opened), 0, "the team's first prompt is never sent twice");
    again.state.set_focus(0);
    let after = again.screen();
    assert_eq!(before, after, "the panes as they were");
    insta::assert_snapshot!("reopened_panes", steady(&after));
    let (a, w) = (&again.state.agents[0], &again.state.agents[1]);
    assert_eq!((a.cost_usd, a.turns), (cost, turns));
    assert!(a.session.is_some() && a.session_live);
    assert_eq!(w.queue, ["queued for later"]);

    // A follow-up resumes the same conversation.
    let session = a.session.clone();
    again.send(0, "one more thing");
    again.until("api's third turn", |s| idle(s, 0, 3)).await;
    assert_eq!(again.state.agents[0].session, session);
    assert_eq!(again.state.agents[0].turn_seq, 3);
    again.persist.close(&mut again.state);
    drop(again);
    assert_eq!(
        logged_prompts(&data, "api"),
        ["write the handler", "now add a test", "one more thing"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_open_shows_the_panes_and_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, work, home) =
        (dir.path().join("data"), dir.path().join("work"), dir.path().join("h"));
    std::fs::create_dir_all(&work).expect("work dir");
    let mut owner = App::open(&data, &work, &home, Access::Exclusive);
    owner.until("api's first turn", |s| idle(s, 0, 1)).await;

    // The owner keeps the workspace open; a second look is read-only.
    let mut look = App::open(&data, &work, &home, Access::ReadOnly);
    assert!(look.state.read_only);
    assert_eq!(spawns(&look.opened), 0);
    look.send(0, "hi");
    assert_eq!(look.state.agents[0].turn_seq, 1, "nothing was sent");
    let screen = look.screen();
    assert!(screen.contains("write the handler"), "{screen}");
    assert!(screen.contains("read-only"), "{screen}");
    // The input is kept, to be copied elsewhere.
    assert_eq!(look.state.agents[0].input_text(), "hi");
    drop(look);
    owner.persist.close(&mut owner.state);
    drop(owner);
    assert_eq!(logged_prompts(&data, "api"), ["write the handler"]);
}
