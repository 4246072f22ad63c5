//! Conversations in and out with the real Claude Code CLI (the one `AGENTMUX_TEST_CLAUDE` names;
//! CI runs these with 2.1.197 and 2.1.332) against the loopback stand-in of the Messages API: a
//! conversation made with `claude -p` directly is listed, imported, continued and forked by the
//! real agentmux binary in a real terminal, and each request the stand-in receives is checked
//! for the history it should carry.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::cli::{claude_or_skip, offline_env};
use support::fake_api::{FakeApi, MessagesRequest, Reply};
use support::term::Term;

/// Every prompt is answered `ANSWER to <prompt>`, so each request's messages name the turns
/// before it; `run: CMD` calls Bash, whose result is answered `The tool said: <output>`.
fn echo(req: &MessagesRequest) -> Reply {
    if let Some(result) = req.tool_results().first() {
        return Reply::text(format!("The tool said: {}", result.content.trim()));
    }
    let prompt = req.last_user_text();
    match prompt.strip_prefix("run: ") {
        Some(cmd) => Reply::bash(cmd),
        None => Reply::text(format!("ANSWER to {prompt}")),
    }
}

/// A temp dir with the CLI's and agentmux's homes and the working directory, and the
/// environment that keeps both offline and inside it.
struct World {
    dir: tempfile::TempDir,
    claude: PathBuf,
    api: FakeApi,
    env: Vec<(String, String)>,
}

impl World {
    fn new(claude: PathBuf) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let api = FakeApi::start(echo);
        let home = dir.path().join("home");
        let config = dir.path().join("config");
        for d in [&home, &config, &dir.path().join("work")] {
            std::fs::create_dir_all(d).expect("dir");
        }
        // Per-token billing, so the stand-in's key reaches the agents' CLI.
        std::fs::write(config.join("config.toml"), "[defaults]\nbilling = \"api\"\n")
            .expect("settings");
        let mut env = offline_env(&api.base_url(), &home);
        let path = |p: &Path| p.display().to_string();
        env.extend([
            ("AGENTMUX_CONFIG_DIR".to_string(), path(&config)),
            ("XDG_RUNTIME_DIR".to_string(), path(&home)),
        ]);
        World { dir, claude, api, env }
    }

    fn work(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.path().join("work")).expect("work dir")
    }

    /// The session files Claude Code keeps for the working directory.
    fn session_file(&self, id: &str) -> PathBuf {
        let name = agentmux::import::project_name(&self.work());
        self.dir.path().join("home/.claude/projects").join(name).join(format!("{id}.jsonl"))
    }

    /// `claude -p ARGS` in the working directory, as a user would run it.
    fn claude_p(&self, args: &[&str]) -> String {
        let out = Command::new(&self.claude)
            .arg("-p")
            .args(args)
            .current_dir(self.work())
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .expect("claude runs");
        assert!(
            out.status.success(),
            "claude -p {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `agentmux ARGS` in the working directory, output not a terminal.
    fn agentmux(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_agentmux"))
            .args(args)
            .current_dir(self.work())
            .env_remove("AGENTMUX_SOCKET")
            .env_remove("AGENTMUX_AGENT")
            .env_remove("AGENTMUX_CLAUDE")
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .output()
            .expect("agentmux runs")
    }

    /// `agentmux ARGS`, which must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.agentmux(args);
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "agentmux {args:?}: {stdout}{stderr}");
        stdout.into_owned()
    }

    /// agentmux on the working directory in a terminal, agents run by the real CLI.
    fn open(&self) -> Term {
        let claude = self.claude.display().to_string();
        Term::spawn(&["--claude", &claude], &self.work(), &self.env, (40, 140))
    }

    /// A two-turn conversation made with `claude -p` directly: its session id.
    fn two_turns(&self) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.claude_p(&["--session-id", &id, "alpha-one"]);
        self.claude_p(&["--resume", &id, "alpha-two"]);
        id
    }

    /// Sends `prompt` to `agent` and waits for the turn's end; the request that carried it.
    fn turn(&self, agent: &str, prompt: &str) -> MessagesRequest {
        self.ok(&["send", agent, prompt]);
        let out = self.ok(&["wait", agent]);
        assert!(out.contains(&format!("ANSWER to {prompt}")), "{agent}'s answer: {out}");
        self.request_for(prompt)
    }

    fn request_for(&self, prompt: &str) -> MessagesRequest {
        let all = self.api.messages_requests();
        let found = all.iter().rev().find(|r| r.last_user_text() == prompt).cloned();
        found.unwrap_or_else(|| {
            let seen: Vec<String> = all.iter().map(|r| r.last_user_text()).collect();
            panic!("no request for {prompt:?}; prompts seen: {seen:?}")
        })
    }
}

/// The prompts and answers a request carried, in order.
fn history(req: &MessagesRequest) -> (Vec<String>, Vec<String>) {
    (req.user_texts(), req.assistant_texts())
}

fn answers(prompts: &[&str]) -> Vec<String> {
    prompts.iter().map(|p| format!("ANSWER to {p}")).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_claude_session_is_imported_continued_and_forked_at_the_end_and_at_turn_one() {
    let Some(claude) = claude_or_skip("convo") else { return };
    let w = World::new(claude);
    let id = w.two_turns();
    let file = w.session_file(&id);
    let listed = w.ok(&["import"]);
    let row = listed.lines().find(|l| l.starts_with(&id));
    let row = row.unwrap_or_else(|| panic!("{id} not listed:\n{listed}"));
    assert!(row.contains("alpha-one") && row.contains(" 4 "), "{row}");

    let mut t = w.open();
    t.wait_text("alt-n creates one");
    let said = w.ok(&["import", &id, "--name", "old"]);
    assert_eq!(said, format!("imported session {id} as old\n"));
    t.wait_for("the imported turns", |s| s.contains("ANSWER to alpha-two"));
    let before = std::fs::read(&file).expect("session file");

    let req = w.turn("old", "gamma-three");
    let all = ["alpha-one", "alpha-two", "gamma-three"];
    assert_eq!(history(&req), (strings(&all), answers(&all[..2])), "the whole history");
    let grown = std::fs::read(&file).expect("session file");
    assert!(grown.starts_with(&before), "the CLI appended to the session it resumed");

    assert_eq!(w.ok(&["fork", "old", "--name", "end"]), "created end\n");
    assert_eq!(w.ok(&["fork", "old", "--at", "1", "--name", "one"]), "created one\n");
    t.wait_text("forked from old after turn 1 of 3");
    let at_end = w.turn("end", "delta-end");
    let p = ["alpha-one", "alpha-two", "gamma-three", "delta-end"];
    assert_eq!(history(&at_end), (strings(&p), answers(&p[..3])), "a fork at the end");
    let at_one = w.turn("one", "delta-one");
    let p = ["alpha-one", "delta-one"];
    assert_eq!(history(&at_one), (strings(&p), answers(&p[..1])), "a fork after turn 1");

    // Each goes on in its own conversation, and the original in its.
    let req = w.turn("end", "epsilon-end");
    let p = ["alpha-one", "alpha-two", "gamma-three", "delta-end", "epsilon-end"];
    assert_eq!(history(&req), (strings(&p), answers(&p[..4])), "the end fork goes on");
    let req = w.turn("one", "epsilon-one");
    let p = ["alpha-one", "delta-one", "epsilon-one"];
    assert_eq!(history(&req), (strings(&p), answers(&p[..2])), "the turn-1 fork goes on");
    let req = w.turn("old", "zeta-old");
    let p = ["alpha-one", "alpha-two", "gamma-three", "zeta-old"];
    assert_eq!(history(&req), (strings(&p), answers(&p[..3])), "the original is untouched");
    // Each header counts its conversation's turns, imported ones included (as `--at` does).
    for (name, turns) in [("old", 4), ("end", 5), ("one", 3)] {
        let header = format!("{name} · idle");
        let count = format!(" {turns} turns ");
        t.wait_for(&format!("{name}: {turns} turns"), |s| {
            s.lines().any(|l| l.contains(&header) && l.contains(&count))
        });
    }
    let status = t.quit();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_session_imported_with_no_agentmux_running_opens_with_its_history_and_continues() {
    let Some(claude) = claude_or_skip("convo") else { return };
    let w = World::new(claude);
    let id = w.two_turns();
    let file = w.session_file(&id);
    let before = std::fs::read(&file).expect("session file");
    let said = w.ok(&["import", &id]);
    let short = &id[..8];
    assert!(said.starts_with(&format!("imported session {id} as session-{short} into")), "{said}");
    assert_eq!(std::fs::read(&file).expect("session file"), before, "only read");

    let mut t = w.open();
    t.wait_for("the imported turns", |s| s.contains("ANSWER to alpha-two"));
    let name = format!("session-{short}");
    let req = w.turn(&name, "gamma-three");
    let all = ["alpha-one", "alpha-two", "gamma-three"];
    assert_eq!(history(&req), (strings(&all), answers(&all[..2])), "the whole history");
    let status = t.quit();
    assert!(status.success(), "{status:?}");
}

/// A fork cut after a turn with a tool call keeps the call and its result; a fork made but not
/// run yet stays a fork across a restart of agentmux.
#[test]
fn a_fork_after_a_tool_turn_keeps_the_call_and_a_fork_not_run_yet_survives_a_restart() {
    let Some(claude) = claude_or_skip("convo") else { return };
    let w = World::new(claude);
    let id = uuid::Uuid::new_v4().to_string();
    w.claude_p(&["--session-id", &id, "alpha-one"]);
    w.claude_p(&["--resume", &id, "--allowedTools", "Bash", "--", "run: echo hi"]);
    w.claude_p(&["--resume", &id, "alpha-three"]);
    let mut t = w.open();
    t.wait_text("alt-n creates one");
    w.ok(&["import", &id, "--name", "old"]);
    assert_eq!(w.ok(&["fork", "old", "--at", "2", "--name", "two"]), "created two\n");
    assert_eq!(w.ok(&["fork", "old", "--at", "1", "--name", "later"]), "created later\n");
    let req = w.turn("two", "delta-two");
    let p = ["alpha-one", "run: echo hi", "delta-two"];
    let a = ["ANSWER to alpha-one".to_string(), "The tool said: hi".to_string()];
    assert_eq!(history(&req), (strings(&p), a.to_vec()), "cut after the tool turn's answer");
    let results = req.conversation().filter(|m| m.to_string().contains("tool_result")).count();
    assert_eq!(results, 1, "the call's result is kept: {:?}", req.messages);
    let status = t.quit();
    assert!(status.success(), "{status:?}");

    let mut t = w.open();
    t.wait_text("forked from old after turn 1 of 3");
    let req = w.turn("later", "delta-later");
    let p = ["alpha-one", "delta-later"];
    assert_eq!(history(&req), (strings(&p), answers(&p[..1])), "still a fork after a restart");
    let req = w.turn("old", "zeta-old");
    let p = ["alpha-one", "run: echo hi", "alpha-three", "zeta-old"];
    let a = ["ANSWER to alpha-one", "The tool said: hi", "ANSWER to alpha-three"];
    assert_eq!(history(&req), (strings(&p), strings(&a)), "the original is untouched");
    let status = t.quit();
    assert!(status.success(), "{status:?}");
}

/// A fork in a git worktree of its own works there and still starts from the conversation.
#[test]
fn a_fork_in_a_worktree_of_its_own_goes_on_from_the_conversation() {
    let Some(claude) = claude_or_skip("convo") else { return };
    let w = World::new(claude);
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(w.work())
            .status()
            .expect("git runs")
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "first"]);
    let id = w.two_turns();
    let mut t = w.open();
    t.wait_text("alt-n creates one");
    w.ok(&["import", &id, "--name", "old"]);
    let said = w.ok(&["fork", "old", "--at", "1", "--name", "tree", "--worktree"]);
    assert_eq!(said, "created tree\n");
    let req = w.turn("tree", "delta-tree");
    let p = ["alpha-one", "delta-tree"];
    assert_eq!(history(&req), (strings(&p), answers(&p[..1])), "a fork after turn 1");
    let trees = Command::new("git").args(["worktree", "list"]).current_dir(w.work()).output();
    let trees = String::from_utf8_lossy(&trees.expect("git runs").stdout).into_owned();
    assert!(trees.contains("[agentmux/tree]"), "its worktree: {trees}");
    // Its turn ran there: the CLI keeps the fork's session under the worktree's project.
    let session = w.ok(&["ls", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&session).expect("ls --json");
    let fork_id = v["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "tree"))
        .and_then(|a| a["session_id"].as_str())
        .expect("the fork's session")
        .to_string();
    let line = trees.lines().find(|l| l.contains("[agentmux/tree]")).unwrap_or_default();
    let tree_dir = PathBuf::from(line.split_whitespace().next().unwrap_or_default());
    let name = agentmux::import::project_name(&tree_dir);
    let file =
        w.dir.path().join("home/.claude/projects").join(name).join(format!("{fork_id}.jsonl"));
    assert!(file.is_file(), "{} is not there", file.display());
    let req = w.turn("tree", "epsilon-tree");
    let p = ["alpha-one", "delta-tree", "epsilon-tree"];
    assert_eq!(history(&req), (strings(&p), answers(&p[..2])), "and goes on there");
    let status = t.quit();
    assert!(status.success(), "{status:?}");
}

// ---------------------------------------------------------------------------------------------
// Bad input, with the session files the real CLI wrote (tests/fixtures/claude-sessions) and the
// simulated claude: no turn runs, so no CLI is needed.

const WHOLE: &str = "c36597d6-6218-456a-ac90-7c6396304ea0";
const CUT: &str = "11111111-1111-4111-8111-111111111111";
const NEWER: &str = "22222222-2222-4222-8222-222222222222";
const ELSEWHERE: &str = "33333333-3333-4333-8333-333333333333";
const MISSING: &str = "44444444-4444-4444-8444-444444444444";

/// The fixture session (three turns: `hello one`, `run: echo hi`, `third`), made to belong to
/// `cwd`.
fn fixture_for(cwd: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude-sessions/cli-2.1.197.jsonl");
    let text = std::fs::read_to_string(path).expect("fixture");
    text.replace("/tmp/.tmpAa7lWR/work", &cwd.display().to_string())
}

/// Every file under `dir`, with its bytes.
fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("read file"));
            }
        }
    }
    out
}

impl World {
    /// Writes session `id` of the working directory (or of `cwd`) as Claude Code keeps it.
    fn session(&self, id: &str, text: &str) -> PathBuf {
        let file = self.session_file(id);
        std::fs::create_dir_all(file.parent().expect("project dir")).expect("project dir");
        std::fs::write(&file, text).expect("session file");
        file
    }

    /// `agentmux ARGS`, which must fail with exit code 1; its error line.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.agentmux(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "agentmux {args:?}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "agentmux {args:?}");
        stderr
    }
}

#[test]
fn bad_sessions_are_told_clearly_and_claude_codes_files_are_never_written() {
    let w = World::new(PathBuf::from("sim"));
    let whole = fixture_for(&w.work());
    w.session(WHOLE, &whole);
    // Cut in the middle of the last answer's line, as when the CLI is killed while writing.
    let cut = whole.rfind("\"type\":\"assistant\"").expect("an answer") + 30;
    w.session(CUT, &whole[..cut]);
    // Lines of kinds not known yet, and messages in a shape not known yet.
    let newer = format!(
        "{}\n{}\nnot json\n",
        r#"{"type":"hyper-message","sessionId":"x","body":{"text":"hello"}}"#,
        r#"{"type":"user","uuid":"u1","sessionId":"x","payload":{"text":"hello"}}"#,
    );
    w.session(NEWER, &newer);
    let elsewhere = w.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let theirs = fixture_for(&elsewhere);
    let file = w
        .dir
        .path()
        .join("home/.claude/projects")
        .join(agentmux::import::project_name(&elsewhere))
        .join(format!("{ELSEWHERE}.jsonl"));
    std::fs::create_dir_all(file.parent().expect("dir")).expect("dir");
    std::fs::write(&file, &theirs).expect("session file");
    let claude_dir = w.dir.path().join("home/.claude");
    let before = tree(&claude_dir);

    let listed = w.ok(&["import"]);
    let ids: Vec<&str> = listed.lines().skip(1).filter_map(|l| l.split(' ').next()).collect();
    assert!(ids.contains(&WHOLE) && ids.contains(&CUT), "{listed}");
    assert!(!ids.contains(&NEWER) && !ids.contains(&ELSEWHERE), "{listed}");

    let err = w.fails(&["import", MISSING]);
    assert!(err.contains(&format!("no Claude Code session {MISSING} (looked in ")), "{err}");
    let err = w.fails(&["import", "../../etc/passwd"]);
    assert!(err.contains("is not a session id (expected a UUID)"), "{err}");
    let err = w.fails(&["import", ELSEWHERE]);
    let other = format!("belongs to {}, not to this directory", elsewhere.display());
    assert!(err.contains(&other) && err.contains("run the import there"), "{err}");
    let err = w.fails(&["import", NEWER]);
    assert!(err.contains("has no prompt that could be read (3 lines, 2 not readable)"), "{err}");
    assert!(err.contains("a newer Claude Code"), "{err}");

    let mut t = w.open();
    t.wait_text("alt-n creates one");
    assert_eq!(w.ok(&["import", CUT, "--name", "cut"]), format!("imported session {CUT} as cut\n"));
    // As far as it reads: the first two turns whole, the third's prompt without its answer.
    t.wait_for("the cut session's turns", |s| {
        let third = s.find("› third");
        s.contains("1 line could not be read and is")
            && s.contains("The tool said: hi")
            // The cut turn says it got no answer.
            && third.is_some_and(|at| s[at..].contains("interrupted"))
    });
    let err = w.fails(&["fork", "cut", "--at", "9"]);
    assert!(err.contains("the conversation has 3 turns; there is no turn 9"), "{err}");
    assert_eq!(w.ok(&["fork", "cut", "--at", "2", "--name", "two"]), "created two\n");
    t.wait_text("forked from cut after turn 2 of 3");

    assert_eq!(
        w.ok(&["import", WHOLE, "--name", "whole"]),
        format!("imported session {WHOLE} as whole\n")
    );
    let err = w.fails(&["import", WHOLE]);
    assert!(err.contains(&format!("session {WHOLE} is open already as whole")), "{err}");
    let status = t.quit();
    assert!(status.success(), "{status:?}");

    // With no agentmux running, the workspace knows it too.
    let err = w.fails(&["import", WHOLE]);
    assert!(err.contains(&format!("session {WHOLE} is open already as whole")), "{err}");
    assert_eq!(tree(&claude_dir), before, "Claude Code's files are only read");
}

#[test]
fn the_form_imports_a_session_and_the_fork_key_forks_it_after_a_picked_turn() {
    let w = World::new(PathBuf::from("sim"));
    w.session(WHOLE, &fixture_for(&w.work()));
    let claude_dir = w.dir.path().join("home/.claude");
    let before = tree(&claude_dir);
    let mut t = w.open();
    t.wait_text("alt-n creates one");
    t.send(b"\x1bn");
    t.wait_text("import session");
    // Name, directory, model, first prompt, worktree: to the session field.
    t.send(b"\t\t\t\t\t");
    t.send(WHOLE.as_bytes());
    t.wait_text(WHOLE);
    t.send(b"\r");
    t.wait_text("imported Claude Code session");
    t.send(b"\x1bF");
    t.wait_text("go on after which turn?");
    t.wait_text("3  third  (the end)");
    t.send(b"\x1b[A");
    t.wait_text("› 2  run: echo hi");
    t.send(b"\r");
    let short = &WHOLE[..8];
    t.wait_text(&format!("forked from session-{short} after turn 2 of 3"));
    let listed = w.ok(&["ls"]);
    assert!(listed.contains(&format!("session-{short}-fork")), "{listed}");
    let status = t.quit();
    assert!(status.success(), "{status:?}");
    assert_eq!(tree(&claude_dir), before, "Claude Code's files are only read");
}
