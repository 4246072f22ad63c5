//! Sessions that survive a restart: the app core and the workspace store wired as the run loop
//! wires them (`run::persist`), with the simulated claude; and the real binary in a PTY killed
//! with SIGKILL during a flood, reopened, resumed. Every wait is for a condition, with a timeout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;

mod support;

use agentmux::agent::{spawn_turn, AgentSpec, ClaudeCmd, EngineMsg, TurnHandle};
use agentmux::app::{update, ControlCmd, Effect, Msg, RequestId, State};
use agentmux::config::{Team, TeamAgent};
use agentmux::run::persist::{self, Persister};
use agentmux::store::{Access, Record, StoreError, Workspace, WorkspaceKey};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the workspace. A lock held by this very process is waited out: a sibling test spawning
/// a child (fork, then exec) holds a copy of every descriptor, our lock file's included, until
/// the exec closes it, so a workspace dropped a moment ago may look in use for that long.
fn open_workspace(data: &Path, access: Access) -> Workspace {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match Workspace::open_or_create(data, &WorkspaceKey::Named("t".into()), access) {
            Err(StoreError::Locked { pid: Some(p), .. })
                if p == std::process::id() && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.expect("open the workspace"),
        }
    }
}

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
        let claude = ClaudeCmd::simulated(env!("CARGO_BIN_EXE_agentmux"));
        App::open_with(data, work, sim_home, access, claude)
    }

    fn open_with(
        data: &Path,
        work: &Path,
        sim_home: &Path,
        access: Access,
        claude: ClaudeCmd,
    ) -> App {
        let ws = open_workspace(data, access);
        let team = team(work);
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
        self.persist.effect(&effect, &self.state);
        // As the run loop does: a failed save is shown by `update`.
        if let Some(warning) = self.persist.take_warning() {
            self.apply(warning);
        }
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
        self.persist.before(&msg, &self.state);
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
        support::view::screen(&self.state)
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
            Record::Prompt(p) => Some(p.to_string()),
            _ => None,
        })
        .collect()
}

/// A scratch directory with the workspace store's data dir, the team's work dir (made) and a
/// home: (the directory, data, work, home).
fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, work, home) =
        (dir.path().join("data"), dir.path().join("work"), dir.path().join("h"));
    std::fs::create_dir_all(&work).expect("work dir");
    (dir, data, work, home)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reopens_with_identical_panes_and_the_first_prompt_is_not_resent() {
    let (_dir, data, work, home) = dirs(); // kept until the test ends

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
    // The panes alone are compared here: the usage windows a reopen keeps are another test's.
    app.state.limits = Default::default();
    let before = app.screen();
    let (cost, turns) = (app.state.agents[0].cost_usd, app.state.agents[0].turns);
    assert!(cost > 0.0 && turns == 2, "cost {cost}, turns {turns}");
    app.persist.close(&app.state);
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
    again.persist.close(&again.state);
    drop(again);
    assert_eq!(
        logged_prompts(&data, "api"),
        ["write the handler", "now add a test", "one more thing"]
    );
}

/// A claude that fails at start is said once (its line, dimmed, and a footer with the
/// exit code), and a reopen says it the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_failure_is_said_once_live_and_after_a_reopen() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, data, work, home) = dirs();
    let script = dir.path().join("claude");
    std::fs::write(&script, "#!/bin/sh\necho 'boom: cannot start' >&2\nexit 3\n").expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let claude = || ClaudeCmd::real(&script);

    let mut app = App::open_with(&data, &work, &home, Access::Exclusive, claude());
    app.until("api's first turn", |s| idle(s, 0, 1)).await;
    app.state.set_focus(0);
    let before = app.screen();
    assert_eq!(before.matches("boom: cannot start").count(), 1, "{before}");
    assert!(before.contains("─ ✗ failed: exit 3 "), "{before}");
    // The session id agentmux proposed never reached the CLI: no header names it.
    let proposed = app.state.agents[0].session.clone().expect("the first turn proposed one");
    assert!(!before.contains(&proposed[..8]), "{before}");
    app.persist.close(&app.state);
    drop(app);

    let mut again = App::open_with(&data, &work, &home, Access::Exclusive, claude());
    let after = again.screen();
    assert_eq!(before, after, "said as it was said live");
    assert!(!after.contains(&proposed[..8]), "{after}");
    assert_eq!(again.state.agents[0].session, None, "no conversation to resume");
    // The next turn proposes a new one rather than resuming what the CLI never had.
    again.send(0, "try again");
    again.until("api's second turn", |s| idle(s, 0, 2)).await;
    let next = again.state.agents[0].session.clone();
    assert!(next.is_some() && next != Some(proposed.clone()), "{next:?}");
    assert!(!again.screen().contains(&proposed[..8]));
    // api's pane under its header.
    let pane: String = after
        .lines()
        .skip(1)
        .take(5)
        .map(|l| l.chars().take(50).collect::<String>() + "\n")
        .collect();
    insta::assert_snapshot!("a_start_failure", pane);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_open_shows_the_panes_and_sends_nothing() {
    let (_dir, data, work, home) = dirs(); // kept until the test ends
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
    owner.persist.close(&owner.state);
    drop(owner);
    assert_eq!(logged_prompts(&data, "api"), ["write the handler"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_look_follows_the_turns_the_owner_runs_after_it_opened() {
    let (_dir, data, work, home) = dirs(); // kept until the test ends
    let mut owner = App::open(&data, &work, &home, Access::Exclusive);
    owner.until("api's first turn", |s| idle(s, 0, 1)).await;
    let mut look = App::open(&data, &work, &home, Access::ReadOnly);
    let mut follower = look.persist.take_follower().expect("a look at a workspace in use follows");
    assert!(!look.screen().contains("a later task"));

    owner.send(1, "a later task");
    owner.until("web's turn", |s| idle(s, 1, 1)).await;
    look.apply(Msg::Followed(follower.changed(None)));
    look.state.set_focus(1);
    let screen = look.screen();
    assert!(screen.contains("› a later task"), "the owner's new turn is shown: {screen}");
    assert!(!look.state.agents[1].turn.is_active(), "and its end");
    assert_eq!(look.state.agents[1].turn_seq, 1);

    owner.persist.close(&owner.state);
    drop(owner);
    let changes = follower.changed(None);
    assert!(follower.owner_gone());
    look.apply(Msg::Followed(changes));
    assert!(look.screen().contains("quit; open it without --read-only"), "{}", look.screen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_made_and_closed_at_run_time_and_allow_always_rules_survive_a_reopen() {
    let (_dir, data, work, home) = dirs(); // kept until the test ends
    let mut app = App::open(&data, &work, &home, Access::Exclusive);
    app.until("api's first turn", |s| idle(s, 0, 1)).await;
    for (name, prompt) in [("extra", Some("hello extra")), ("gone", None)] {
        let spec = Box::new(AgentSpec::new(name, &work));
        let prompt = prompt.map(String::from);
        app.apply(Msg::Control {
            id: RequestId::fresh(),
            cmd: ControlCmd::New { spec, prompt, worktree: false },
        });
    }
    app.until("extra's turn", |s| s.index_named("extra").is_some_and(|i| idle(s, i, 1))).await;
    app.apply(Msg::Control {
        id: RequestId::fresh(),
        cmd: ControlCmd::Kill { agent: "gone".into() },
    });
    // Closing a team agent keeps it (the team file brings it back, carrying on).
    app.apply(Msg::Control {
        id: RequestId::fresh(),
        cmd: ControlCmd::Kill { agent: "web".into() },
    });
    // What "allow always" does to an agent (see `app::approvals`).
    app.state.agents[0].spec.options.allowed_tools = Some(vec!["Bash(npm test:*)".into()]);
    app.effect(Effect::Persist);
    app.persist.close(&app.state);
    drop(app);

    let again = App::open(&data, &work, &home, Access::Exclusive);
    assert_eq!(spawns(&again.opened), 0, "no first prompt again, the team's or extra's");
    let names: Vec<&str> = again.state.agents.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["api", "web", "extra"]);
    let extra = &again.state.agents[2];
    assert_eq!((extra.turn_seq, extra.turns), (1, 1));
    assert_eq!(extra.history, ["hello extra"], "its pane rebuilt from its log");
    assert_eq!(
        again.state.agents[0].spec.options.allowed_tools.as_deref(),
        Some(&["Bash(npm test:*)".to_string()][..])
    );
    let kept = again.persist.workspace().agent("api").expect("api kept");
    assert_eq!(kept.allowed_at_run_time, ["Bash(npm test:*)"]);
}

#[test]
fn an_agent_made_in_a_worktree_gets_its_worktree_back_on_reopen() {
    let (_dir, data, work, home) = dirs(); // kept until the test ends
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let mut app = App::open(&data, &work, &home, Access::Exclusive);
    let spec = Box::new(AgentSpec::new("tree", &work));
    // The first prompt waits in the queue until the worktree is ready (not here: no git job
    // runs in this harness).
    let prompt = Some("in my own tree".to_string());
    app.apply(Msg::Control {
        id: RequestId::fresh(),
        cmd: ControlCmd::New { spec, prompt, worktree: true },
    });
    let kept = app.persist.workspace().agent("tree").expect("tree kept");
    assert_eq!(kept.extras.get(persist::WORKTREE_EXTRA), Some(&serde_json::Value::Bool(true)));
    assert_eq!(kept.queue, ["in my own tree"]);
    app.persist.close(&app.state);
    drop(app);

    let again = App::open(&data, &work, &home, Access::Exclusive);
    let opening: Vec<&Effect> =
        again.opened.iter().filter(|e| matches!(e, Effect::Worktree(_))).collect();
    assert_eq!(opening.len(), 1, "{:?}", again.opened);
    let i = again.state.index_named("tree").expect("tree again");
    assert!(again.state.opening_worktrees.contains(&again.state.agents[i].id));
    assert_eq!(again.state.agents[i].queue, ["in my own tree"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_error_is_shown_once_and_the_app_keeps_running() {
    let (_dir, data, work, home) = dirs(); // kept until the test ends
    let mut app = App::open(&data, &work, &home, Access::Exclusive);
    app.until("api's first turn", |s| idle(s, 0, 1)).await;
    // The workspace's directory goes away under the app: the state file cannot be written.
    std::fs::remove_dir_all(app.persist.workspace().dir()).expect("remove the workspace");
    app.send(0, "go on");
    let flash = app.state.flash.clone().unwrap_or_default();
    assert!(flash.contains("not saved") && flash.contains("state.json"), "{flash}");
    app.until("the turn, all the same", |s| idle(s, 0, 2)).await;
    app.send(0, "and again");
    assert!(app.state.flash.is_none(), "shown once: {:?}", app.state.flash);
    app.until("the next turn", |s| idle(s, 0, 3)).await;
    assert_eq!(app.state.agents[0].turns, 3);
}

// ---------------------------------------------------------------------------------------------
// The real binary in a PTY

mod pty {
    use std::path::{Path, PathBuf};

    pub use super::support::term::Term;

    const ROWS: u16 = 40;
    const COLS: u16 = 120;

    /// A home for one test: the team file in `work/`, data and config directories, and a
    /// `claude` that is the simulated one.
    pub struct Home {
        pub dir: tempfile::TempDir,
    }

    impl Home {
        pub fn new(team: &str) -> Home {
            let dir = tempfile::tempdir().expect("tempdir");
            let work = dir.path().join("work");
            std::fs::create_dir_all(&work).expect("work dir");
            std::fs::write(work.join("agentmux.toml"), team).expect("team file");
            let claude = dir.path().join("claude");
            let script = format!(
                "#!/bin/sh\nexec '{}' {} \"$@\"\n",
                env!("CARGO_BIN_EXE_agentmux"),
                agentmux::SIM_SUBCOMMAND
            );
            std::fs::write(&claude, script).expect("claude script");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            Home { dir }
        }

        pub fn path(&self) -> &Path {
            self.dir.path()
        }

        pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
            let h = self.path();
            vec![
                ("HOME", h.to_path_buf()),
                ("AGENTMUX_DATA_DIR", h.join("data")),
                ("AGENTMUX_CONFIG_DIR", h.join("config")),
                ("AGENTMUX_SIM_HOME", h.join("sim")),
                ("XDG_RUNTIME_DIR", h.join("run")),
                ("TMPDIR", h.to_path_buf()),
            ]
        }

        pub fn args(&self, extra: &[&str]) -> Vec<String> {
            let mut args =
                vec!["--claude".to_string(), self.path().join("claude").display().to_string()];
            // A script's run: the team file is the test's own.
            args.push("--trust".to_string());
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        }

        /// The one workspace's log of `agent`.
        pub fn log(&self, agent: &str) -> PathBuf {
            let root = self.path().join("data").join("workspaces");
            let ws = std::fs::read_dir(&root)
                .expect("workspaces dir")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.is_dir())
                .expect("a workspace");
            ws.join("logs").join(format!("{agent}.jsonl"))
        }
    }

    /// agentmux on `home`'s team, in its `work/` directory, with the simulated claude at speed 0.
    pub fn start(home: &Home, extra: &[&str]) -> Term {
        let args = home.args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env: Vec<(String, String)> =
            home.env().into_iter().map(|(k, v)| (k.to_string(), v.display().to_string())).collect();
        env.push(("AGENTMUX_SIM_SPEED".into(), "0".into()));
        Term::spawn(&args, &home.path().join("work"), &env, (ROWS, COLS))
    }
}

/// The text deltas of a log as written, in order (the flood's words).
fn logged_deltas(log: &Path) -> (Vec<String>, String) {
    let text = std::fs::read_to_string(log).expect("read the log");
    let mut words = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if let Some(w) = v.pointer("/event/event/delta/text").and_then(|t| t.as_str()) {
            words.push(w.trim().to_string());
        }
    }
    (words, text)
}

#[test]
fn killed_during_a_flood_reopens_with_every_logged_event_and_resumes_the_lost_turn() {
    let home =
        pty::Home::new("[[agent]]\nname = \"api\"\ncwd = \".\"\nprompt = \"/sim flood=3000000\"\n");
    let mut first = pty::start(&home, &[]);
    first.wait_for("the flood", |s| s.contains("tok1"));
    let pid = first.child.process_id().expect("pid");
    // SAFETY: kill with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    first.wait_exit();
    drop(first);

    let (words, text) = logged_deltas(&home.log("api"));
    assert!(words.len() >= 2, "some of the flood reached the log");
    assert!(!text.contains("\"ended\""), "the turn never ended:\n{}", &text[..text.len().min(600)]);
    let last = words.last().cloned().unwrap_or_default();
    assert_eq!(last, format!("tok{}", words.len() - 1), "no event lost in the middle");

    // Reopened: the flood up to its last logged word, the turn shown as interrupted.
    let mut again = pty::start(&home, &[]);
    let screen = again.wait_for("the pane rebuilt", |s| s.contains("alt-u resumes it"));
    assert!(screen.contains(&last), "{screen}");
    assert!(screen.contains("interrupted"), "{screen}");
    // The cut turn counts, as an interrupted one does.
    let header = screen.lines().find(|l| l.contains("┏")).unwrap_or_default();
    assert!(header.contains(" · 1 turn "), "{header}");

    // A second agentmux on the workspace says so and leaves; --read-only shows the panes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentmux"))
        .args(home.args(&[]))
        .current_dir(home.path().join("work"))
        .envs(home.env())
        .env("AGENTMUX_NO_SERVER", "true")
        .output()
        .expect("run a second agentmux");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("in use by another agentmux") && err.contains("--read-only"), "{err}");
    let mut look = pty::start(&home, &["--read-only"]);
    let seen = look.wait_for("the read-only look", |s| s.contains("read-only"));
    assert!(seen.contains(&last), "{seen}");
    look.quit();

    // One key resumes the lost turn: a follow-up with --resume of its session.
    again.send(b"\x1bu");
    again.wait_for("the resumed turn to end", |s| {
        s.contains("Continue from where you left off.") && s.contains("✓ done")
    });
    let screen = again.screen();
    let header = screen.lines().find(|l| l.contains("┏")).unwrap_or_default();
    assert!(header.contains(" · 2 turns "), "{header}");
    again.quit();
    let text = std::fs::read_to_string(home.log("api")).expect("read the log");
    let records: Vec<serde_json::Value> =
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let prompts: Vec<&str> =
        records.iter().filter_map(|r| r.get("prompt").and_then(|p| p.as_str())).collect();
    assert_eq!(prompts, ["/sim flood=3000000", "Continue from where you left off."]);
    let starts: Vec<&serde_json::Value> = records.iter().filter_map(|r| r.get("started")).collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1]["resume"], true);
    assert_eq!(starts[0]["session_id"], starts[1]["session_id"]);
    let ends: Vec<&str> = records
        .iter()
        .filter_map(|r| r.pointer("/ended/status").and_then(|s| s.as_str()))
        .collect();
    assert_eq!(ends, ["lost", "ok"]);
}

#[test]
fn a_read_only_look_in_a_terminal_shows_a_turn_the_owner_runs_after_it_opened() {
    let home = pty::Home::new("[[agent]]\nname = \"api\"\ncwd = \".\"\n");
    let mut owner = pty::start(&home, &[]);
    owner.wait_for("the owner's pane", |s| s.contains("no turns yet"));
    let mut look = pty::start(&home, &["--read-only"]);
    look.wait_for("the look", |s| s.contains("read-only") && s.contains("no turns yet"));

    owner.send(b"a later task\r");
    owner.wait_for("the owner's turn", |s| s.contains("✓ done"));
    let seen = look.wait_for("the owner's turn in the look", |s| {
        s.contains("› a later task") && s.contains("✓ done")
    });
    assert!(seen.contains("read-only"), "{seen}");

    owner.quit();
    look.wait_for("the owner gone", |s| s.contains("open it without --read-only"));
    look.quit();
}

/// The supervisor's board as the screen shows it: its rows from the table's header to the rule
/// under the relay lines, each cut to the supervisor's column.
fn board(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(top) = lines.iter().position(|l| l.contains("AGENT") && l.contains("STATE")) else {
        return Vec::new();
    };
    let left = lines[top].chars().take_while(|c| *c != 'A').count();
    let column = |l: &str| -> String {
        let cells: String = l.chars().skip(left).take_while(|c| !matches!(c, '│' | '┃')).collect();
        cells.trim_end().to_string()
    };
    let rows: Vec<String> = lines[top..].iter().map(|l| column(l)).collect();
    // Without its rule the board is not drawn to its end yet (a frame still on its way).
    match rows.iter().position(|l| l.starts_with('─')) {
        Some(rule) => rows[..rule].to_vec(),
        None => Vec::new(),
    }
}

/// `HH:MM:SS` as seconds of the day.
fn clock_secs(s: &str) -> Option<i64> {
    let mut parts = s.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    Some(h * 3600 + m * 60 + sec)
}

#[test]
fn a_reopen_after_a_kill_shows_the_same_board_relay_lines_and_focus() {
    let home = pty::Home::new(
        "[supervisor]\nenv = { AGENTMUX_SIM_PERSONA = \"supervisor\" }\n\n\
         [[agent]]\nname = \"backend\"\ncwd = \".\"\nenv = { AGENTMUX_SIM_PERSONA = \"backend\" }\n",
    );
    let mut first = pty::start(&home, &[]);
    first.wait_for("the board", |s| s.contains("AGENT") && s.contains("LAST"));
    // The supervisor hands out a task: the worker's report is relayed to it, it sums up.
    let sent = std::process::Command::new(env!("CARGO_BIN_EXE_agentmux"))
        .args(["send", "backend", "add a total count to the list response"])
        .current_dir(home.path().join("work"))
        .envs(home.env())
        .env("AGENTMUX_AGENT", "supervisor")
        .env_remove("AGENTMUX_SOCKET")
        .output()
        .expect("agentmux send");
    assert!(sent.status.success(), "{sent:?}");
    let done = |s: &str| {
        let b = board(s);
        b.iter().any(|l| l.contains("relayed 1 report"))
            && b.iter().filter(|l| l.contains(" idle ")).count() == 2
            && s.contains("Nothing blocks the release")
    };
    first.wait_for("the relayed report and the synthesis", done);
    // The focus moves from the first worker to the supervisor.
    first.send(b"\t");
    let before = first.wait_for("the supervisor focused", |s| {
        done(s) && s.lines().any(|l| l.contains("┏ ◆ supervisor") || l.contains("┏ supervisor"))
    });
    let before_board = board(&before);
    let focused = |s: &str| s.lines().find(|l| l.contains('┏')).map(String::from);
    let pid = first.child.process_id().expect("pid");
    // SAFETY: kill with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    first.wait_exit();
    drop(first);

    let mut again = pty::start(&home, &[]);
    let after = again.wait_for("the board again", |s| board(s).len() >= before_board.len());
    let after_board = board(&after);
    assert_eq!(focused(&after), focused(&before), "the focus is back:\n{after}");
    // The table: the same rows, LAST included (taken from the logs, which may have been written
    // a moment after the clock the board read).
    let rows = 1 + 2;
    for (b, a) in before_board[..rows].iter().zip(&after_board[..rows]) {
        let (b_last, a_last) = (b.rsplit(' ').next(), a.rsplit(' ').next());
        let (Some(bs), Some(as_)) = (b_last.and_then(clock_secs), a_last.and_then(clock_secs))
        else {
            assert_eq!(b, a, "a header or a row without a time");
            continue;
        };
        assert!((as_ - bs).rem_euclid(86_400) <= 1, "LAST: {b:?} then {a:?}");
        assert_eq!(b.rsplit_once(' ').map(|p| p.0), a.rsplit_once(' ').map(|p| p.0));
    }
    assert_eq!(before_board[rows..], after_board[rows..], "the relay lines:\n{after}");
    again.quit();
}

/// The usage windows of the last run, as a reopen reads them: the five-hour window at 95%
/// resetting in an hour, the weekly one whose reset has passed since.
fn windows_seen(wall: i64) -> agentmux::agent::Event {
    use agentmux::agent::event::{RateLimitEvent, WindowReading};
    let reading = |name: &str, utilization, resets_at| WindowReading {
        name: name.into(),
        utilization: Some(utilization),
        resets_at: Some(resets_at),
        status: Some("allowed".into()),
    };
    agentmux::agent::Event::RateLimit(RateLimitEvent {
        status: Some("allowed".into()),
        windows: vec![
            reading("five_hour", 0.95, wall + 3600),
            reading("seven_day", 0.4, wall + 60),
        ],
        ..Default::default()
    })
}

fn windows_shown(state: &State) -> String {
    agentmux::limits::line_text(&state.limits.at(state.time()), state.time())
}

/// A reopened workspace knows the last windows and their resets (one that passed reads as
/// unknown), and a follow-up held past the threshold stays held: `agentmux resume` lets it
/// go, and another one goes by itself at the reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_and_held_follow_ups_survive_a_reopen() {
    let (_dir, data, work, home) = dirs();
    let pause = agentmux::limits::governor::Policy { pause_at: Some(90) };
    let mut app = App::open(&data, &work, &home, Access::Exclusive);
    app.until("api's first turn", |s| idle(s, 0, 1)).await;
    app.state.policy = pause;
    let wall = app.state.wall;
    let reset = wall + 3600;
    let now = app.state.time();
    if let agentmux::agent::Event::RateLimit(r) = windows_seen(wall) {
        app.state.limits.apply(&r, now);
    }
    app.send(1, "after the reset");
    assert!(app.state.agents[1].held, "held past the threshold");
    app.persist.close(&app.state);
    drop(app);

    // Later: the weekly window's reset has passed.
    let mut again = App::open(&data, &work, &home, Access::Exclusive);
    again.state.policy = pause;
    again.state.wall = wall + 120;
    assert!(windows_shown(&again.state).starts_with("5h 95% ↺"), "{}", windows_shown(&again.state));
    assert!(windows_shown(&again.state).ends_with("7d ?"), "{}", windows_shown(&again.state));
    let web = &again.state.agents[1];
    assert!(web.held && web.queue.len() == 1, "still held: {:?}", web.queue);
    let hold = agentmux::app::governor::held(&again.state, 1).expect("a hold");
    assert_eq!(hold.resumes_at, Some(reset));
    again.apply(Msg::Control {
        id: RequestId::fresh(),
        cmd: ControlCmd::Resume { agent: "web".into() },
    });
    assert!(again.state.agents[1].turn.is_active(), "resume starts it now");
    again.until("web's released turn", |s| idle(s, 1, 1)).await;
    // The simulated CLI reported a window of its own; the account's is full again.
    let now = again.state.time();
    if let agentmux::agent::Event::RateLimit(r) = windows_seen(wall) {
        again.state.limits.apply(&r, now);
    }
    // Released until the hold changes: a follow-up of another agent waits for the reset.
    again.send(0, "at the reset");
    assert!(again.state.agents[0].held);
    again.persist.close(&again.state);
    drop(again);

    // Reopened after the five-hour reset: the held follow-up goes by itself.
    let mut third = App::open(&data, &work, &home, Access::Exclusive);
    third.state.policy = pause;
    third.state.wall = reset + 1;
    assert!(third.state.agents[0].held);
    third.apply(Msg::Wake);
    assert!(third.state.agents[0].turn.is_active(), "released at the reset");
    third.until("api's turn after the reset", |s| idle(s, 0, 2)).await;
    third.persist.close(&third.state);
}
