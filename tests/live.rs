//! The live engine (`agent::live`): one long-lived claude process per agent, driven over the
//! CLI's control protocol. The real-CLI tests run the CLI named by `AGENTMUX_TEST_CLAUDE`
//! (CI runs them with 2.1.197 and with 2.1.332) against the loopback stand-in of the API; the
//! fault tests use a tiny shell script in the CLI's place.
//!
//! What the real CLI does here (both versions, measured with these tests):
//! - every turn starts with a `system`/`init` line and ends with one `result`; messages written
//!   while a turn runs are queued and each gets its own turn, in order;
//! - `interrupt` is answered at once (2.1.332: `{"still_queued":[]}`), the turn ends with a
//!   user line `[Request interrupted by user]` and a `result`, and the next message continues the
//!   same conversation (the API then sees the interrupted prompt, the marker and the new prompt
//!   as one user message);
//! - `set_model` is answered with no body, after a replayed user line
//!   `<local-command-stdout>Set model to ...`; the next request to the API names the new model,
//!   and its user message holds a note on the switch before the next prompt;
//! - ExitPlanMode's `can_use_tool` input is `{}` in 2.1.332 (the plan is in the assistant's
//!   tool_use block only) and the plan itself in 2.1.197.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use agentmux::agent::control::{context_usage, CliVersion, ControlRequest, PermissionAnswer};
use agentmux::agent::event::{ContentBlock, Event};
use agentmux::agent::live::{
    spawn_live, ControlError, LiveError, LiveHandle, LiveMsg, LiveRequest, CONTROL_TIMEOUT,
};
use agentmux::agent::{
    AgentId, AgentOptions, AgentSpec, Billing, ClaudeCmd, Line, PermissionMode, SessionArg,
    DEFAULT_MAX_LINE_BYTES,
};
use serde_json::{json, Value};
use support::cli::{claude_or_skip, offline_env};
use support::fake_api::{FakeApi, MessagesRequest, Reply};

const WAIT: Duration = Duration::from_secs(60);

/// `run: CMD` calls Bash, `ask` asks one question, `plan` calls ExitPlanMode, `hang` never gets
/// an answer; a tool result is answered with its content, anything else with an echo.
fn script(req: &MessagesRequest) -> Reply {
    if let Some(result) = req.tool_results().first() {
        let state = if result.is_error { "failed" } else { "said" };
        return Reply::text(format!("The tool {state}: {}", result.content));
    }
    // The prompt is the message's last line: after a model switch the CLI puts its note on the
    // switch before the prompt, in the same message.
    let text = req.last_user_text();
    let prompt = text.lines().last().unwrap_or_default();
    if let Some(cmd) = prompt.strip_prefix("run: ") {
        return Reply::bash(cmd);
    }
    match prompt {
        "ask" => Reply::tool_use(
            "AskUserQuestion",
            json!({"questions": [{"question": "Which color?", "header": "Color", "multiSelect": false,
                "options": [{"label": "red", "description": "warm"},
                            {"label": "blue", "description": "cool"}]}]}),
        ),
        "ask many" => Reply::tool_use(
            "AskUserQuestion",
            json!({"questions": [{"question": "Which sizes?", "header": "Size", "multiSelect": true,
                "options": [{"label": "S", "description": "small"},
                            {"label": "M", "description": "medium"},
                            {"label": "L", "description": "large"}]}]}),
        ),
        "plan" => Reply::tool_use("ExitPlanMode", json!({"plan": "1. look\n2. fix"})),
        "hang" => Reply::Hang,
        _ => Reply::text(format!("You said: {prompt}.")),
    }
}

/// One live process with a sandboxed home and cwd, and everything it reported so far.
struct Live {
    handle: LiveHandle,
    rx: tokio::sync::mpsc::Receiver<LiveMsg>,
    seen: Vec<LiveMsg>,
    _dir: tempfile::TempDir,
    _home: Option<tempfile::TempDir>,
    work: PathBuf,
}

fn request(
    claude: ClaudeCmd,
    options: AgentOptions,
    env: Vec<(String, String)>,
) -> (LiveRequest, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spec = AgentSpec::new("live", dir.path().to_path_buf());
    spec.options = AgentOptions { billing: Some(Billing::Api), ..options };
    let req = LiveRequest {
        agent: AgentId(3),
        generation: 1,
        claude,
        spec,
        session: SessionArg::New(uuid::Uuid::new_v4().to_string()),
        version: None,
        extra_env: env,
        extra_args: Vec::new(),
        max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        control_timeout: CONTROL_TIMEOUT,
    };
    (req, dir)
}

impl Live {
    fn real(claude: PathBuf, api: &FakeApi, options: AgentOptions) -> Live {
        let version = cli_version(&claude);
        let home = tempfile::tempdir().expect("home dir");
        let env = offline_env(&api.base_url(), home.path());
        let (mut req, dir) = request(ClaudeCmd::real(&claude), options, env);
        req.version = version;
        let mut live = Live::start(req, dir);
        live._home = Some(home);
        live
    }

    fn start(req: LiveRequest, dir: tempfile::TempDir) -> Live {
        let work = req.spec.cwd.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let handle = spawn_live(req, tx).expect("spawn_live");
        Live { handle, rx, seen: Vec::new(), _dir: dir, _home: None, work }
    }

    /// Waits for the first message (after those already taken) that `pick` accepts.
    fn next<T>(&mut self, what: &str, mut pick: impl FnMut(&LiveMsg) -> Option<T>) -> T {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let msg = match blocking_recv(&mut self.rx, left) {
                Some(msg) => msg,
                None => panic!("no {what} within {WAIT:?}; seen:\n{}", self.dump()),
            };
            let got = pick(&msg);
            self.seen.push(msg);
            if let Some(got) = got {
                return got;
            }
        }
    }

    fn turn_ended(&mut self, want: u64) {
        let seq = self.next("turn end", |m| match m {
            LiveMsg::TurnEnded { seq, .. } => Some(*seq),
            _ => None,
        });
        assert_eq!(seq, want, "{}", self.dump());
    }

    fn permission(&mut self) -> (agentmux::agent::control::PermissionRequest, Option<Value>) {
        self.next("permission request", |m| match m {
            LiveMsg::Permission { request, call_input, .. } => {
                Some((request.clone(), call_input.clone()))
            }
            _ => None,
        })
    }

    fn reply(&mut self, want: u64) -> Result<Value, ControlError> {
        self.next("reply", |m| match m {
            LiveMsg::Reply { id, outcome, .. } if *id == want => Some(outcome.clone()),
            _ => None,
        })
    }

    fn exited(&mut self) -> (agentmux::agent::ExitInfo, Option<u64>, Vec<u64>) {
        self.next("exit", |m| match m {
            LiveMsg::Exited { exit, in_flight, unstarted, .. } => {
                Some((exit.clone(), *in_flight, unstarted.clone()))
            }
            _ => None,
        })
    }

    /// The `result` texts of the turns so far.
    fn results(&self) -> Vec<String> {
        self.events()
            .filter_map(|e| match e {
                Event::Result(r) => Some(r.result.clone().unwrap_or_default()),
                _ => None,
            })
            .collect()
    }

    /// (content, is_error) of every tool result the CLI reported.
    fn tool_results(&self) -> Vec<(String, bool)> {
        self.events()
            .filter_map(|e| match e {
                Event::User(m) => Some(&m.content),
                _ => None,
            })
            .flatten()
            .filter_map(|b| match b {
                ContentBlock::ToolResult { content, is_error, .. } => {
                    Some((content.clone(), *is_error))
                }
                _ => None,
            })
            .collect()
    }

    fn events(&self) -> impl Iterator<Item = &Event> {
        self.seen
            .iter()
            .filter_map(|m| match m {
                LiveMsg::Lines { lines, .. } => Some(lines),
                _ => None,
            })
            .flatten()
            .filter_map(|(_, l)| match l {
                Line::Event(e) => Some(e),
                _ => None,
            })
    }

    fn dump(&self) -> String {
        let mut out = String::new();
        for m in &self.seen {
            match m {
                LiveMsg::Lines { lines, .. } => {
                    for (raw, _) in lines {
                        out.push_str(&format!("  | {:.300}\n", raw));
                    }
                }
                other => out.push_str(&format!("{other:?}\n")),
            }
        }
        out
    }
}

fn blocking_recv(rx: &mut tokio::sync::mpsc::Receiver<LiveMsg>, wait: Duration) -> Option<LiveMsg> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match rx.try_recv() {
            Ok(msg) => return Some(msg),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return None,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {}
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn cli_version(claude: &PathBuf) -> Option<CliVersion> {
    let out = std::process::Command::new(claude).arg("--version").output().ok()?;
    CliVersion::parse(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn several_turns_and_queued_messages_run_in_one_process() {
    let Some(claude) = claude_or_skip("several_turns_and_queued_messages_run_in_one_process")
    else {
        return;
    };
    let api = FakeApi::start(script);
    let mut live = Live::real(claude, &api, AgentOptions::default());
    live.handle.send_user(1, "remember banana").expect("send");
    live.turn_ended(1);
    live.handle.send_user(2, "what word?").expect("send");
    live.turn_ended(2);
    // Written back to back, while the first of them runs: one turn each, in order.
    live.handle.send_user(3, "three").expect("send");
    live.handle.send_user(4, "four").expect("send");
    live.turn_ended(3);
    live.turn_ended(4);
    assert_eq!(
        live.results(),
        [
            "You said: remember banana.",
            "You said: what word?.",
            "You said: three.",
            "You said: four."
        ],
        "{}",
        live.dump()
    );
    let starts = live.seen.iter().filter(|m| matches!(m, LiveMsg::Started { .. })).count();
    assert_eq!(starts, 1);
    let requests = api.messages_requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[3].user_texts(), ["remember banana", "what word?", "three", "four"]);
    // stdin closed: the CLI exits on its own, with nothing left unanswered.
    live.handle.close(Duration::from_secs(30));
    let (exit, in_flight, unstarted) = live.exited();
    assert!(exit.success(), "{exit:?}\n{}", live.dump());
    assert_eq!((in_flight, unstarted), (None, vec![]));
}

#[test]
fn an_interrupted_turn_ends_and_the_conversation_goes_on() {
    let Some(claude) = claude_or_skip("an_interrupted_turn_ends_and_the_conversation_goes_on")
    else {
        return;
    };
    let api = FakeApi::start(script);
    let mut live = Live::real(claude, &api, AgentOptions::default());
    live.handle.send_user(1, "hang").expect("send");
    assert!(api.wait_for_messages_requests(1, WAIT), "the turn never reached the API");
    let id = live.handle.request(ControlRequest::Interrupt).expect("interrupt");
    assert!(live.reply(id).is_ok(), "{}", live.dump());
    live.turn_ended(1);
    live.handle.send_user(2, "after").expect("send");
    live.turn_ended(2);
    // The same conversation: the interrupted prompt, the CLI's marker and the new one (the CLI
    // joins them into one user message).
    let last = api.messages_requests().pop().expect("a request");
    let texts = last.user_texts().join("\n");
    assert!(texts.starts_with("hang"), "{texts:?}");
    assert!(texts.contains("[Request interrupted by user]"), "{texts:?}");
    assert!(texts.ends_with("after"), "{texts:?}");
    assert!(!live.handle.has_exited());
}

#[test]
fn tool_permissions_are_asked_over_the_control_protocol() {
    let Some(claude) = claude_or_skip("tool_permissions_are_asked_over_the_control_protocol")
    else {
        return;
    };
    let api = FakeApi::start(script);
    let mut live = Live::real(claude, &api, AgentOptions::default());
    live.handle.send_user(1, "run: touch denied.txt").expect("send");
    let (ask, _) = live.permission();
    assert_eq!(ask.tool_name, "Bash");
    assert_eq!(ask.input["command"], "touch denied.txt");
    assert!(ask.tool_use_id.is_some());
    let deny = PermissionAnswer::Deny { message: "not today".into() };
    live.handle.answer(&ask.request_id, &deny).expect("answer");
    live.turn_ended(1);
    assert!(!live.work.join("denied.txt").exists());
    assert_eq!(live.tool_results(), [("not today".to_string(), true)], "{}", live.dump());

    live.handle.send_user(2, "run: touch allowed.txt").expect("send");
    let (ask, _) = live.permission();
    let allow = PermissionAnswer::Allow { updated_input: ask.input.clone() };
    live.handle.answer(&ask.request_id, &allow).expect("answer");
    live.turn_ended(2);
    assert!(live.work.join("allowed.txt").exists(), "{}", live.dump());
}

#[test]
fn a_question_to_the_user_is_answered_with_a_choice() {
    let Some(claude) = claude_or_skip("a_question_to_the_user_is_answered_with_a_choice") else {
        return;
    };
    let api = FakeApi::start(script);
    let mut live = Live::real(claude, &api, AgentOptions::default());
    live.handle.send_user(1, "ask").expect("send");
    let (ask, _) = live.permission();
    assert_eq!(ask.tool_name, "AskUserQuestion");
    assert_eq!(ask.input["questions"][0]["options"][1]["label"], "blue");
    let mut input = ask.input.clone();
    input["answers"] = json!({ "Which color?": "blue" });
    live.handle.answer(&ask.request_id, &PermissionAnswer::Allow { updated_input: input }).unwrap();
    live.turn_ended(1);
    let results = live.tool_results();
    assert_eq!(results.len(), 1, "{}", live.dump());
    assert!(results[0].0.contains("\"Which color?\"=\"blue\""), "{results:?}");
}

#[test]
fn a_plan_is_shown_whole_and_rejected_then_approved() {
    let Some(claude) = claude_or_skip("a_plan_is_shown_whole_and_rejected_then_approved") else {
        return;
    };
    let api = FakeApi::start(script);
    let options =
        AgentOptions { permission_mode: Some(PermissionMode::Plan), ..Default::default() };
    let mut live = Live::real(claude, &api, options);
    live.handle.send_user(1, "plan").expect("send");
    let (ask, call_input) = live.permission();
    assert_eq!(ask.tool_name, "ExitPlanMode");
    // 2.1.332 leaves the plan out of the request; the assistant's block has it.
    assert_eq!(ask.shown_input(call_input.as_ref())["plan"], "1. look\n2. fix");
    let deny = PermissionAnswer::Deny { message: "add tests first".into() };
    live.handle.answer(&ask.request_id, &deny).expect("answer");
    live.turn_ended(1);
    assert_eq!(live.tool_results(), [("add tests first".to_string(), true)]);

    live.handle.send_user(2, "plan").expect("send");
    let (ask, _) = live.permission();
    let allow = PermissionAnswer::Allow { updated_input: ask.input.clone() };
    live.handle.answer(&ask.request_id, &allow).expect("answer");
    live.turn_ended(2);
    let results = live.tool_results();
    assert_eq!(results.len(), 2, "{}", live.dump());
    assert!(!results[1].1 && results[1].0.contains("approved"), "{results:?}");
}

#[test]
fn the_model_and_mode_change_while_the_process_lives() {
    let Some(claude) = claude_or_skip("the_model_and_mode_change_while_the_process_lives") else {
        return;
    };
    let api = FakeApi::start(script);
    let mut live = Live::real(claude, &api, AgentOptions::default());
    let init = live.handle.request(ControlRequest::Initialize).expect("initialize");
    assert!(live.reply(init).is_ok(), "{}", live.dump());
    live.handle.send_user(1, "hi").expect("send");
    live.turn_ended(1);
    let id = live.handle.request(ControlRequest::SetModel(Some("sonnet".into()))).unwrap();
    assert!(live.reply(id).is_ok(), "{}", live.dump());
    let id = live.handle.request(ControlRequest::SetPermissionMode("acceptEdits".into())).unwrap();
    assert!(live.reply(id).is_ok(), "{}", live.dump());
    live.handle.send_user(2, "run: touch edited.txt").expect("send");
    live.turn_ended(2);
    // acceptEdits lets a file-creating command in the cwd run without asking.
    assert!(!live.seen.iter().any(|m| matches!(m, LiveMsg::Permission { .. })), "{}", live.dump());
    assert!(live.work.join("edited.txt").exists(), "{}", live.dump());
    let requests = api.messages_requests();
    assert!(!requests[0].model.contains("sonnet"), "{}", requests[0].model);
    assert!(requests[1].model.contains("sonnet"), "{}", requests[1].model);
    let id = live.handle.request(ControlRequest::GetContextUsage).unwrap();
    let usage = live.reply(id).expect("context usage");
    let (used, max) = context_usage(&usage).unwrap_or_else(|| panic!("{usage}"));
    assert!(used > 0 && max >= used, "{usage}");
}

/// A stand-in CLI: `sh -c SCRIPT` (the live argv follows as `$0 $1 ...`).
fn fake_cli(script: &str) -> Live {
    let claude =
        ClaudeCmd { program: PathBuf::from("/bin/sh"), pre_args: vec!["-c".into(), script.into()] };
    let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    let (mut req, dir) = request(claude, AgentOptions::default(), env);
    req.control_timeout = Duration::from_millis(300);
    Live::start(req, dir)
}

#[test]
fn a_request_with_no_answer_times_out_and_a_refused_one_is_not_sent_again() {
    // Reads everything and answers only the context usage request, with an error.
    let mut live = fake_cli(
        r#"while read -r line; do case "$line" in *get_context_usage*)
           id=$(printf '%s' "$line" | sed 's/.*"request_id":"\([^"]*\)".*/\1/')
           printf '{"type":"control_response","response":{"subtype":"error","request_id":"%s","error":"Unsupported control request subtype: get_context_usage","error_code":"unsupported_request"}}\n' "$id";;
           esac; done"#,
    );
    let id = live.handle.request(ControlRequest::SetModel(None)).expect("set_model");
    let err = live.reply(id).expect_err("no answer");
    assert_eq!(
        err,
        ControlError::Timeout { subtype: "set_model", after: Duration::from_millis(300) }
    );
    assert_eq!(err.to_string(), "claude did not answer set_model within 300ms");
    let id = live.handle.request(ControlRequest::GetContextUsage).expect("context usage");
    let err = live.reply(id).expect_err("refused");
    assert!(matches!(err, ControlError::Refused { unsupported: true, .. }), "{err:?}");
    assert_eq!(
        live.handle.request(ControlRequest::GetContextUsage),
        Err(LiveError::Unsupported("get_context_usage"))
    );
    // Refused lines are not shown as output.
    assert_eq!(live.events().count(), 0, "{}", live.dump());
    live.handle.close(Duration::from_secs(5));
    let (_, in_flight, unstarted) = live.exited();
    assert_eq!((in_flight, unstarted), (None, vec![]));
    assert_eq!(live.handle.send_user(9, "late"), Err(LiveError::Gone));
}

#[test]
fn a_process_that_dies_mid_turn_names_the_turn_and_the_messages_it_never_began() {
    // Takes the first message, starts its turn (an init line), reads the second message and
    // an interrupt, then dies without answering either.
    let mut live = fake_cli(
        r#"read -r first; printf '{"type":"system","subtype":"init","session_id":"s"}\n';
           read -r second; read -r third; echo 'fatal: out of memory' >&2; exit 3"#,
    );
    live.handle.send_user(1, "one").expect("send");
    live.handle.send_user(2, "two").expect("send");
    let pending = live.handle.request(ControlRequest::Interrupt).expect("interrupt");
    let (exit, in_flight, unstarted) = live.exited();
    assert_eq!(exit.code, Some(3));
    assert!(exit.tail.iter().any(|l| l.contains("out of memory")), "{exit:?}");
    assert_eq!(in_flight, Some(1));
    assert_eq!(unstarted, vec![2]);
    // The request still waiting was answered (before the exit) as gone, not left to time out.
    let gone = live.seen.iter().find_map(|m| match m {
        LiveMsg::Reply { id, outcome, .. } if *id == pending => Some(outcome.clone()),
        _ => None,
    });
    assert_eq!(gone, Some(Err(ControlError::Gone { subtype: "interrupt" })));
}

// ---------------------------------------------------------------------------------------------
// The executor's live engine (`run::live`): the app's turns through one live process per agent

mod engine {
    use super::*;
    use agentmux::agent::{EngineMsg, TurnRequest};
    use agentmux::app::{Msg, RequestId};
    use agentmux::approval::Decision;
    use agentmux::run::live::{Command, LiveEngine};
    use tokio::sync::mpsc;

    pub(super) struct Harness {
        engine: LiveEngine,
        engine_rx: mpsc::Receiver<EngineMsg>,
        local_rx: mpsc::UnboundedReceiver<Msg>,
        claude: PathBuf,
        env: Vec<(String, String)>,
        dir: tempfile::TempDir,
        session: String,
        /// The options of the turns it sends.
        pub(super) options: AgentOptions,
    }

    impl Harness {
        pub(super) fn new(claude: PathBuf, api: &FakeApi) -> Harness {
            let (engine_tx, engine_rx) = mpsc::channel(64);
            let (local_tx, local_rx) = mpsc::unbounded_channel();
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::create_dir_all(dir.path().join("home")).expect("home");
            std::fs::create_dir_all(dir.path().join("work")).expect("work");
            let env = offline_env(&api.base_url(), &dir.path().join("home"));
            Harness {
                engine: LiveEngine::new(engine_tx, Some(local_tx)),
                engine_rx,
                local_rx,
                claude,
                env,
                dir,
                session: uuid::Uuid::new_v4().to_string(),
                options: AgentOptions { billing: Some(Billing::Api), ..Default::default() },
            }
        }

        pub(super) fn work(&self) -> PathBuf {
            self.dir.path().join("work")
        }

        pub(super) fn turn(&mut self, turn: u64, prompt: &str) {
            let mut spec = AgentSpec::new("solo", self.work());
            spec.options = self.options.clone();
            let session = if turn == 1 {
                SessionArg::New(self.session.clone())
            } else {
                SessionArg::Resume(self.session.clone())
            };
            let req = TurnRequest {
                agent: AgentId(5),
                turn,
                claude: ClaudeCmd::real(&self.claude),
                spec,
                prompt: prompt.into(),
                origin: agentmux::agent::Origin::User,
                session,
                extra_env: self.env.clone(),
                extra_args: Vec::new(),
                max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            };
            assert!(agentmux::run::live::wants_live(&req));
            self.engine.send(Command::Turn(Box::new(req)));
        }

        /// Engine messages of `turn` until its `Exited`: (pid at start, result texts, exit).
        pub(super) async fn until_exit(&mut self, turn: u64) -> (Option<u32>, Vec<String>, bool) {
            let (mut pid, mut results) = (None, Vec::new());
            loop {
                let msg = tokio::time::timeout(WAIT, self.engine_rx.recv()).await;
                match msg.expect("an engine message in time").expect("the channel open") {
                    EngineMsg::Started { turn: t, pid: p, .. } if t == turn => pid = p,
                    EngineMsg::Lines { turn: t, lines, .. } if t == turn => {
                        for (_, line) in lines {
                            if let Line::Event(Event::Result(r)) = line {
                                results.push(r.result.unwrap_or_default());
                            }
                        }
                    }
                    EngineMsg::Exited { turn: t, exit, .. } if t == turn => {
                        return (pid, results, exit.success());
                    }
                    other => panic!("unexpected for turn {turn}: {other:?}"),
                }
            }
        }

        /// The next approval (the context counts asked after each turn are passed over).
        pub(super) async fn approval(&mut self) -> (RequestId, agentmux::approval::Ask) {
            loop {
                let msg = tokio::time::timeout(WAIT, self.local_rx.recv()).await;
                match msg.expect("an approval in time").expect("the channel open") {
                    Msg::Approval { id, ask } => return (id, ask),
                    Msg::ContextUsage { .. } => {}
                    other => panic!("not an approval: {other:?}"),
                }
            }
        }

        /// The user's answer to the approval `id`, as the loop hands it to the engine.
        pub(super) fn decide(&mut self, id: RequestId, decision: agentmux::approval::Decision) {
            self.engine.send(Command::Decide { id, decision });
        }

        /// The next context count the engine asked the CLI for: (used, window).
        pub(super) async fn context_usage(&mut self) -> (u64, u64) {
            let msg = tokio::time::timeout(WAIT, self.local_rx.recv()).await;
            match msg.expect("a context count in time").expect("the channel open") {
                Msg::ContextUsage { used, window, .. } => (used, window),
                other => panic!("not a context count: {other:?}"),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_apps_turns_share_one_process_and_ask_through_the_approval_box() {
        let name = "the_apps_turns_share_one_process_and_ask_through_the_approval_box";
        let Some(claude) = claude_or_skip(name) else { return };
        let api = FakeApi::start(script);
        let mut h = Harness::new(claude, &api);
        h.turn(1, "hello");
        let (first_pid, results, ok) = h.until_exit(1).await;
        assert!(ok && first_pid.is_some());
        assert_eq!(results, ["You said: hello."]);
        // After each turn the engine asks the CLI how full the window is, for the header.
        let (used, window) = h.context_usage().await;
        assert!(used > 0 && window >= used, "{used} of {window}");
        h.turn(2, "run: touch approved.txt");
        let (id, ask) = h.approval().await;
        assert_eq!((ask.agent.as_str(), ask.tool_name.as_str()), ("solo", "Bash"));
        assert_eq!(ask.input["command"], "touch approved.txt");
        h.decide(id, Decision::Allow);
        let (pid, _, ok) = h.until_exit(2).await;
        assert!(ok);
        assert_eq!(pid, first_pid, "the follow-up went to the same process");
        assert!(h.work().join("approved.txt").exists());

        h.turn(3, "run: touch refused.txt");
        let (id, _) = h.approval().await;
        h.decide(id, Decision::Deny { message: Some("not here".into()) });
        h.until_exit(3).await;
        assert!(!h.work().join("refused.txt").exists());
        let sent = api.messages_requests().pop().expect("a request");
        assert_eq!(sent.tool_results()[0].content, "not here");

        // An interrupt ends the turn; the next one continues the conversation.
        h.turn(4, "hang");
        assert!(api.wait_for_messages_requests(6, WAIT));
        h.engine.send(Command::Interrupt { agent: AgentId(5), turn: 4 });
        h.until_exit(4).await;
        h.turn(5, "after");
        let (pid, results, _) = h.until_exit(5).await;
        assert_eq!(pid, first_pid);
        assert_eq!(results.len(), 1);
        assert!(results[0].ends_with("after."), "{results:?}");
    }
}

mod engine_questions {
    use super::engine::Harness;
    use super::*;
    use agentmux::approval::question::{questions, Answering};
    use agentmux::approval::Decision;

    /// The answer the approval box makes of picking `options` (from 0) in order.
    fn picked(input: &Value, options: &[usize]) -> Decision {
        let qs = questions(input);
        let mut answering = Answering::default();
        let mut done = None;
        for &i in options {
            done = answering.pick(input, &qs, i).or(done);
        }
        let updated_input = done.or_else(|| answering.choose(input, &qs)).expect("answered");
        Decision::Answer { updated_input }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn questions_are_answered_from_the_approval_box_or_dismissed() {
        let name = "questions_are_answered_from_the_approval_box_or_dismissed";
        let Some(claude) = claude_or_skip(name) else { return };
        let api = FakeApi::start(script);
        let mut h = Harness::new(claude, &api);
        let last_result = |api: &FakeApi| {
            let sent = api.messages_requests().pop().expect("a request");
            sent.tool_results()[0].clone()
        };
        h.turn(1, "ask");
        let (id, ask) = h.approval().await;
        assert_eq!(ask.tool_name, "AskUserQuestion");
        assert_eq!(ask.input["questions"][0]["question"], "Which color?");
        let answer = picked(&ask.input, &[1]);
        h.decide(id, answer);
        let (_, _, ok) = h.until_exit(1).await;
        assert!(ok);
        let result = last_result(&api);
        assert!(!result.is_error, "{result:?}");
        assert!(result.content.contains("\"Which color?\"=\"blue\""), "{result:?}");

        // Several options ticked go back as one answer, the labels in order.
        h.turn(2, "ask many");
        let (id, ask) = h.approval().await;
        let answer = picked(&ask.input, &[2, 0]);
        h.decide(id, answer);
        h.until_exit(2).await;
        let result = last_result(&api);
        assert!(result.content.contains("\"Which sizes?\"=\"S, L\""), "{result:?}");

        h.turn(3, "ask");
        let (id, _) = h.approval().await;
        h.decide(id, Decision::Deny { message: Some("ask me later".into()) });
        h.until_exit(3).await;
        let result = last_result(&api);
        assert!(result.is_error && result.content == "ask me later", "{result:?}");
    }
}

mod engine_plans {
    use super::engine::Harness;
    use super::*;
    use agentmux::approval::Decision;

    /// `permission_mode = "plan"`, as a team file sets it: the plan comes to the approval box
    /// whole (2.1.332 leaves it out of the request), a rejection's reason goes to the model as
    /// the tool's error, and an approval gives the model back the plan it approved.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_plan_is_rejected_with_a_reason_then_approved_from_the_approval_box() {
        let name = "a_plan_is_rejected_with_a_reason_then_approved_from_the_approval_box";
        let Some(claude) = claude_or_skip(name) else { return };
        let api = FakeApi::start(script);
        let mut h = Harness::new(claude, &api);
        h.options.permission_mode = Some(PermissionMode::Plan);
        h.turn(1, "plan");
        let (id, ask) = h.approval().await;
        assert_eq!(ask.tool_name, "ExitPlanMode");
        assert_eq!(ask.input["plan"], "1. look\n2. fix");
        h.decide(id, Decision::Deny { message: Some("add tests first".into()) });
        let (_, _, ok) = h.until_exit(1).await;
        assert!(ok);
        let sent = api.messages_requests().pop().expect("a request");
        let result = &sent.tool_results()[0];
        assert!(result.is_error && result.content == "add tests first", "{result:?}");

        h.turn(2, "plan");
        let (id, ask) = h.approval().await;
        assert_eq!(ask.input["plan"], "1. look\n2. fix");
        h.decide(id, Decision::Allow);
        h.until_exit(2).await;
        let sent = api.messages_requests().pop().expect("a request");
        let result = &sent.tool_results()[0];
        assert!(!result.is_error, "{result:?}");
        assert!(result.content.contains("1. look\n2. fix"), "the approved plan: {result:?}");
    }
}

mod engine_switches {
    use super::engine::Harness;
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_model_and_mode_switch_the_living_process_and_other_changes_restart_it() {
        let name = "a_new_model_and_mode_switch_the_living_process_and_other_changes_restart_it";
        let Some(claude) = claude_or_skip(name) else { return };
        let api = FakeApi::start(script);
        let mut h = Harness::new(claude, &api);
        h.turn(1, "hello");
        let (first, _, _) = h.until_exit(1).await;
        h.options.model = Some("sonnet".into());
        h.options.permission_mode = Some(PermissionMode::AcceptEdits);
        h.turn(2, "run: touch edited.txt");
        let (pid, _, ok) = h.until_exit(2).await;
        assert!(ok);
        assert_eq!(pid, first, "switched in the same process");
        // acceptEdits: the file is made without asking.
        assert!(h.work().join("edited.txt").exists());
        let requests = api.messages_requests();
        assert!(!requests[0].model.contains("sonnet"), "{}", requests[0].model);
        assert!(requests[1].model.contains("sonnet"), "{}", requests[1].model);
        // A new rule is only read at start: a new process, resuming the same conversation.
        h.options.allowed_tools = Some(vec!["Bash(touch:*)".into()]);
        h.turn(3, "again");
        let (pid, results, _) = h.until_exit(3).await;
        assert_ne!(pid, first);
        assert_eq!(results, ["You said: again."]);
        let last = api.messages_requests().pop().expect("a request");
        assert!(last.user_texts().iter().any(|t| t == "hello"), "resumed: {:?}", last.user_texts());
        assert!(last.model.contains("sonnet"), "{}", last.model);
    }
}

mod engine_faults {
    use super::*;
    use agentmux::agent::{EngineMsg, TurnRequest};
    use agentmux::run::live::{Command, LiveEngine};
    use tokio::sync::mpsc;

    /// A stand-in that says it is the real CLI, logs each start's arguments, answers `ok`
    /// messages with an init and a result, and on `die` starts that turn, reads one more
    /// message and exits 1 without answering either.
    const SCRIPT: &str = r#"#!/bin/sh
[ "$1" = --version ] && { echo '2.1.197 (Claude Code)'; exit 0; }
echo "$*" >> "$(dirname "$0")/starts.log"
while read -r line; do
  case "$line" in
    *'"die"'*) printf '{"type":"system","subtype":"init","session_id":"s"}\n'
               read -r next; exit 1;;
    *) printf '{"type":"system","subtype":"init","session_id":"s"}\n'
       printf '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s"}\n';;
  esac
done"#;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_process_ends_its_turn_and_the_next_one_gets_the_unanswered_message() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let claude = dir.path().join("claude");
        std::fs::write(&claude, SCRIPT).expect("script");
        std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).expect("mode");
        let (engine_tx, mut engine_rx) = mpsc::channel(64);
        let mut engine = LiveEngine::new(engine_tx, None);
        let session = uuid::Uuid::new_v4().to_string();
        let turn = |n: u64, prompt: &str| {
            let spec = AgentSpec::new("solo", dir.path());
            let session = if n == 1 {
                SessionArg::New(session.clone())
            } else {
                SessionArg::Resume(session.clone())
            };
            Command::Turn(Box::new(TurnRequest {
                agent: AgentId(9),
                turn: n,
                claude: ClaudeCmd::real(&claude),
                spec,
                prompt: prompt.into(),
                origin: agentmux::agent::Origin::User,
                session,
                extra_env: vec![("PATH".into(), "/usr/bin:/bin".into())],
                extra_args: Vec::new(),
                max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            }))
        };
        engine.send(turn(1, "die"));
        engine.send(turn(2, "ok"));
        let mut exits = Vec::new();
        while exits.len() < 2 {
            let msg = tokio::time::timeout(WAIT, engine_rx.recv()).await;
            if let EngineMsg::Exited { turn, exit, .. } = msg.expect("in time").expect("open") {
                exits.push((turn, exit.code));
            }
        }
        // The turn in flight ends with the process's exit (the CLI holds it: resumable); the
        // message it never began runs once, in a new process resuming the conversation.
        assert_eq!(exits, [(1, Some(1)), (2, Some(0))]);
        let starts = std::fs::read_to_string(dir.path().join("starts.log")).expect("log");
        let starts: Vec<&str> = starts.lines().collect();
        assert_eq!(starts.len(), 2, "{starts:?}");
        assert!(starts[0].contains(&format!("--session-id {session}")), "{}", starts[0]);
        assert!(starts[1].contains(&format!("--resume {session}")), "{}", starts[1]);
        assert!(starts[1].contains("--input-format stream-json"), "{}", starts[1]);
    }
}

mod engine_limits {
    use super::*;
    use agentmux::agent::{EngineMsg, TurnRequest};
    use agentmux::run::live::{Command, Limits, LiveEngine};
    use tokio::sync::mpsc;

    /// Says it is the real CLI, logs `start ARGS` and `end` (stdin closed), answers every
    /// message with an init and a result.
    const SCRIPT: &str = r#"#!/bin/sh
[ "$1" = --version ] && { echo '2.1.197 (Claude Code)'; exit 0; }
log="$(dirname "$0")/log"
echo "start $*" >> "$log"
while read -r line; do
  printf '{"type":"system","subtype":"init","session_id":"s"}\n'
  printf '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s"}\n'
done
echo end >> "$log""#;

    struct Rig {
        dir: tempfile::TempDir,
        engine: LiveEngine,
        rx: mpsc::Receiver<EngineMsg>,
    }

    impl Rig {
        fn new(limits: Limits) -> Rig {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().expect("temp dir");
            let claude = dir.path().join("claude");
            std::fs::write(&claude, SCRIPT).expect("script");
            std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755))
                .expect("mode");
            let (tx, rx) = mpsc::channel(64);
            Rig { engine: LiveEngine::new(tx, None).with_limits(limits), rx, dir }
        }

        /// Runs turn `n` of agent `agent` (session `s-<agent>`) to its end.
        async fn turn(&mut self, agent: u32, n: u64) {
            let session = format!("00000000-0000-4000-8000-00000000000{agent}");
            let session =
                if n == 1 { SessionArg::New(session) } else { SessionArg::Resume(session) };
            self.engine.send(Command::Turn(Box::new(TurnRequest {
                agent: AgentId(agent),
                turn: n,
                claude: ClaudeCmd::real(self.dir.path().join("claude")),
                spec: AgentSpec::new(format!("a{agent}"), self.dir.path()),
                prompt: "ok".into(),
                origin: agentmux::agent::Origin::User,
                session,
                extra_env: vec![("PATH".into(), "/usr/bin:/bin".into())],
                extra_args: Vec::new(),
                max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            })));
            loop {
                let msg = tokio::time::timeout(WAIT, self.rx.recv()).await;
                if let EngineMsg::Exited { turn, exit, .. } = msg.expect("in time").expect("open") {
                    assert_eq!((turn, exit.code), (n, Some(0)));
                    return;
                }
            }
        }

        fn log(&self) -> Vec<String> {
            let text = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            text.lines().map(str::to_owned).collect()
        }

        async fn until_log(&self, what: &str, pick: impl Fn(&[String]) -> bool) {
            let deadline = std::time::Instant::now() + WAIT;
            while !pick(&self.log()) {
                assert!(std::time::Instant::now() < deadline, "{what}: {:?}", self.log());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_process_is_closed_and_the_next_turn_resumes_in_a_new_one() {
        let limits = Limits { idle_timeout: Duration::from_millis(300), max_live: 16 };
        let mut rig = Rig::new(limits);
        rig.turn(1, 1).await;
        rig.turn(1, 2).await;
        assert_eq!(rig.log().len(), 1, "two turns, one process: {:?}", rig.log());
        rig.until_log("the idle process closed", |l| l.len() == 2 && l[1] == "end").await;
        rig.turn(1, 3).await;
        let log = rig.log();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log[2].contains("--resume 00000000-0000-4000-8000-000000000001"), "{log:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_an_agent_closes_its_process_at_once_and_leaves_the_others() {
        let limits = Limits { idle_timeout: Duration::from_secs(600), max_live: 16 };
        let mut rig = Rig::new(limits);
        rig.turn(1, 1).await;
        rig.turn(2, 1).await;
        rig.engine.send(Command::Close { agent: AgentId(1) });
        rig.until_log("the closed agent's process ended", |l| l.iter().any(|e| e == "end")).await;
        // Agent 2's process still serves its next turn.
        rig.turn(2, 2).await;
        let log = rig.log();
        assert_eq!(log.iter().filter(|l| l.starts_with("start")).count(), 2, "{log:?}");
        assert_eq!(log.iter().filter(|l| *l == "end").count(), 1, "{log:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_max_live_the_least_recently_used_idle_process_closes_first() {
        let limits = Limits { idle_timeout: Duration::from_secs(600), max_live: 2 };
        let mut rig = Rig::new(limits);
        rig.turn(1, 1).await;
        rig.turn(2, 1).await;
        rig.turn(1, 2).await; // 1 is now the more recently used
        rig.turn(3, 1).await; // a third: 2 closes
        rig.until_log("one process closed", |l| l.iter().any(|e| e == "end")).await;
        let starts = rig.log().iter().filter(|l| l.starts_with("start")).count();
        assert_eq!(starts, 3, "{:?}", rig.log());
        // Agent 2's process went: its next turn starts a new one; agent 1's did not.
        rig.turn(1, 3).await;
        assert_eq!(rig.log().iter().filter(|l| l.starts_with("start")).count(), 3);
        rig.turn(2, 2).await;
        let log = rig.log();
        let last = log.iter().rev().find(|l| l.starts_with("start")).expect("a start");
        assert!(last.contains("--resume 00000000-0000-4000-8000-000000000002"), "{log:?}");
    }
}
