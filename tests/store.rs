//! Workspaces that persist: round trips, crashes (truncated lines, kill -9 mid-flood), corrupt
//! files, permissions, the lock, a 100,000-line reopen, and the housekeeping commands.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agentmux::agent::AgentSpec;
use agentmux::store::{
    self, Access, EndStatus, Record, StoreError, TurnEnd, TurnStart, Workspace, WorkspaceKey,
};

const FIXTURE: &str = include_str!("fixtures/cli-2.1.197/tool-call.ndjson");

fn fixture_lines() -> Vec<&'static str> {
    // The capture ends with the CLI's terminal escapes, which are not an event.
    FIXTURE.lines().filter(|l| l.starts_with('{')).collect()
}

fn named(name: &str) -> WorkspaceKey {
    WorkspaceKey::Named(name.to_string())
}

/// Opens a workspace for writing. A lock held by this very process is waited out: a sibling test
/// spawning a child (fork, then exec) holds a copy of every descriptor, our lock's included,
/// until the exec closes it, so a workspace dropped a moment ago may look in use for that long.
fn open(data: &Path, name: &str) -> Workspace {
    open_key(data, &named(name))
}

fn open_key(data: &Path, key: &WorkspaceKey) -> Workspace {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Workspace::open_or_create(data, key, Access::Exclusive) {
            Err(StoreError::Locked { pid: Some(p), .. })
                if p == std::process::id() && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other.expect("open workspace"),
        }
    }
}

fn spec(name: &str, dir: &Path) -> AgentSpec {
    AgentSpec { role: Some(format!("{name} role")), ..AgentSpec::new(name, dir) }
}

/// One whole turn: prompt, start, the fixture's events, a stderr line, the end.
fn write_turn(ws: &mut Workspace, agent: &str, turn: u64, session: &str, cost: f64) {
    ws.append(agent, turn, Record::Prompt(&format!("turn {turn}: list the files")))
        .expect("prompt");
    let start = TurnStart { session_id: session.into(), resume: turn > 1 };
    ws.append(agent, turn, Record::TurnStarted(&start)).expect("start");
    let lines = fixture_lines();
    let (first, rest) = lines.split_at(3);
    for l in first {
        ws.append(agent, turn, Record::Event(l)).expect("event");
    }
    let batch: Vec<Record<'_>> = rest.iter().map(|l| Record::Event(l)).collect();
    ws.append_many(agent, turn, &batch).expect("batch");
    ws.append(agent, turn, Record::Text("[warn] slow network")).expect("text");
    let end = TurnEnd { cost_usd: Some(cost), exit_code: Some(0), ..TurnEnd::new(EndStatus::Ok) };
    ws.append(agent, turn, Record::TurnEnded(&end)).expect("end");
}

#[test]
fn a_session_survives_quit_and_reopen() {
    let data = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let written;
    {
        let mut ws = open(data.path(), "team");
        ws.add_agent(spec("lead", work.path()), true).expect("add lead");
        ws.add_agent(spec("web", work.path()), false).expect("add web");
        write_turn(&mut ws, "web", 1, "s-1", 0.5);
        write_turn(&mut ws, "web", 2, "s-2", 0.25);
        write_turn(&mut ws, "lead", 1, "l-1", 1.0);
        ws.update_agent("web", |a| {
            a.queue = vec!["and then the tests".into(), "second follow-up".into()];
            a.prompt_sent = true;
            a.extras.insert("worktree".into(), serde_json::json!({"branch": "agentmux/web"}));
        })
        .expect("update");
        let restored = ws.take_restored();
        assert!(restored.agents.is_empty(), "a new workspace has nothing to restore");
        written = ws.state().clone();
    }
    let mut ws = open(data.path(), "team");
    let restored = ws.take_restored();
    assert!(restored.notes.is_empty(), "{:?}", restored.notes);
    let names: Vec<_> = restored.agents.iter().map(|a| a.state.spec.name.as_str()).collect();
    assert_eq!(names, ["lead", "web"]);
    let web = &restored.agents[1];
    assert_eq!(web.state, written.agents[1]);
    assert_eq!(web.state.session_id.as_deref(), Some("s-2"));
    assert_eq!(web.state.past_sessions, ["s-1", "s-2"]);
    assert_eq!(web.state.queue, ["and then the tests", "second follow-up"]);
    assert!(web.state.prompt_sent);
    assert_eq!(web.state.turns, 2);
    assert!((web.state.cost_usd - 0.75).abs() < 1e-9);
    assert!(web.state.spec.role.as_deref() == Some("web role"));
    assert!(restored.agents[0].state.supervisor);
    assert!(web.interrupted.is_none());

    // Every record, in order, with the event text byte for byte.
    let n = fixture_lines().len();
    assert_eq!(web.log.len(), 2 * (n + 4));
    let events: Vec<&str> = web
        .log
        .iter()
        .filter_map(|(_, turn, r)| match r {
            Record::Event(e) if turn == 1 => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(events, fixture_lines());
    let first: Vec<_> = web.log.iter().take(2).map(|(_, t, r)| (t, r)).collect();
    assert_eq!(first[0], (1, Record::Prompt("turn 1: list the files")));
    assert!(matches!(first[1], (1, Record::TurnStarted(s)) if s.session_id == "s-1" && !s.resume));
    let (_, _, last) = web.log.get(web.log.len() - 1).expect("last");
    assert!(matches!(last, Record::TurnEnded(e) if e.status == EndStatus::Ok));
    let stamps: Vec<u64> = web.log.iter().map(|(ts, _, _)| ts).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]) && stamps[0] > 1_600_000_000_000);

    // Follow-ups continue in the same files.
    write_turn(&mut ws, "web", 3, "s-2", 0.0);
    drop(ws);
    let mut ws = open(data.path(), "team");
    let restored = ws.take_restored();
    assert_eq!(restored.agents[1].log.len(), 3 * (n + 4));
}

#[test]
fn a_turn_left_running_is_reported_interrupted() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut ws = open(data.path(), "w");
    ws.add_agent(spec("a", data.path()), false).expect("add");
    write_turn(&mut ws, "a", 1, "s-1", 0.1);
    ws.append("a", 2, Record::Prompt("now the hard part")).expect("prompt");
    ws.append("a", 2, Record::TurnStarted(&TurnStart { session_id: "s-1".into(), resume: true }))
        .expect("start");
    ws.append("a", 2, Record::Event(fixture_lines()[0])).expect("event");
    drop(ws);
    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    let i = r.agents[0].interrupted.clone().expect("interrupted");
    assert_eq!(i.turn, 2);
    assert_eq!(i.session_id, "s-1");
    assert_eq!(i.prompt.as_deref(), Some("now the hard part"));
    // Once the app closes it (here: as lost), it is no longer reported.
    ws.append("a", 2, Record::TurnEnded(&TurnEnd::new(EndStatus::Lost))).expect("end");
    drop(ws);
    let mut ws = open(data.path(), "w");
    assert!(ws.take_restored().agents[0].interrupted.is_none());
}

#[test]
fn a_truncated_last_line_is_ignored_with_a_note_and_cut_before_new_records() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut ws = open(data.path(), "w");
    ws.add_agent(spec("a", data.path()), false).expect("add");
    write_turn(&mut ws, "a", 1, "s-1", 0.0);
    let log_path = ws.log_path(ws.agent("a").expect("agent"));
    drop(ws);
    let whole = std::fs::read(&log_path).expect("read");
    // A crash in the middle of writing a record.
    let mut cut = whole.clone();
    cut.extend_from_slice(b"{\"ts\":1700000000000,\"turn\":2,\"event\":{\"type\":\"assis");
    std::fs::write(&log_path, &cut).expect("write");

    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    assert_eq!(r.agents[0].log.len(), fixture_lines().len() + 4);
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(r.notes[0].contains("cut short") && r.notes[0].contains("a.jsonl"), "{}", r.notes[0]);
    // The next record starts on a line of its own.
    ws.append("a", 2, Record::Prompt("again")).expect("append");
    drop(ws);
    let after = std::fs::read(&log_path).expect("read");
    assert!(after.starts_with(&whole) && after[whole.len()..].starts_with(b"{\"ts\":"));
    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.agents[0].log.len(), fixture_lines().len() + 5);
}

#[test]
fn a_corrupt_log_is_moved_aside_and_the_rest_opens() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut ws = open(data.path(), "w");
    ws.add_agent(spec("good", data.path()), false).expect("add");
    ws.add_agent(spec("bad", data.path()), false).expect("add");
    write_turn(&mut ws, "good", 1, "s-1", 0.0);
    write_turn(&mut ws, "bad", 1, "s-2", 0.0);
    let bad_path = ws.log_path(ws.agent("bad").expect("agent"));
    drop(ws);
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8 | 0x80).collect();
    std::fs::write(&bad_path, &garbage).expect("write");

    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    assert_eq!(r.agents[0].log.len(), fixture_lines().len() + 4, "the good agent opens");
    assert!(r.agents[1].log.is_empty());
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    let moved: Vec<PathBuf> = std::fs::read_dir(bad_path.parent().expect("dir"))
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains("bad.jsonl.corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1);
    assert!(r.notes[0].contains(&moved[0].display().to_string()), "{}", r.notes[0]);
    assert_eq!(std::fs::read(&moved[0]).expect("read"), garbage, "never deleted");
    // The agent carries on in a fresh log.
    ws.append("bad", 2, Record::Prompt("again")).expect("append");
}

#[test]
fn unreadable_lines_in_the_middle_are_skipped_with_a_note() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut ws = open(data.path(), "w");
    ws.add_agent(spec("a", data.path()), false).expect("add");
    write_turn(&mut ws, "a", 1, "s-1", 0.0);
    let path = ws.log_path(ws.agent("a").expect("agent"));
    drop(ws);
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(5, "this line is not a record");
    // And something foreign at the end, without a newline: kept, never cut.
    std::fs::write(&path, lines.join("\n") + "\nforeign tail").expect("write");
    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    assert_eq!(r.agents[0].log.len(), fixture_lines().len() + 4);
    assert!(
        r.notes.iter().any(|n| n.contains("2 unreadable line") && n.contains("line 6")),
        "{:?}",
        r.notes
    );
    ws.append("a", 2, Record::Prompt("next")).expect("append");
    drop(ws);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("\nforeign tail\n{\"ts\":"), "the foreign line is ended, not cut");
    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    assert_eq!(r.agents[0].log.len(), fixture_lines().len() + 5);
}

#[test]
fn a_corrupt_state_file_is_moved_aside_and_the_workspace_opens() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut ws = open(data.path(), "w");
    ws.add_agent(spec("a", data.path()), false).expect("add");
    let dir = ws.dir().to_path_buf();
    drop(ws);
    std::fs::write(dir.join("state.json"), b"{\"version\": 1, \"agents\": [tru").expect("write");
    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    assert!(r.agents.is_empty());
    assert_eq!(r.notes.len(), 1);
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(r.notes[0].contains(&aside[0].path().display().to_string()), "{}", r.notes[0]);
    assert!(dir.join("state.json").is_file(), "a fresh state was written");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

#[test]
fn directories_are_0700_and_files_0600() {
    let data = tempfile::tempdir().expect("tempdir");
    let root = data.path().join("fresh");
    let mut ws = Workspace::open_or_create(&root, &named("w"), Access::Exclusive).expect("open");
    ws.add_agent(spec("a", data.path()), false).expect("add");
    write_turn(&mut ws, "a", 1, "s", 0.0);
    let dir = ws.dir().to_path_buf();
    let log = ws.log_path(ws.agent("a").expect("agent"));
    for d in [root.clone(), store::workspaces_dir(&root), dir.clone(), dir.join("logs")] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    for f in [dir.join("state.json"), dir.join("lock"), log] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let strays: Vec<_> = std::fs::read_dir(&dir)
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(strays.is_empty(), "atomic writes leave no temporary files");
}

#[test]
fn a_second_open_gets_a_clear_error_and_may_look_read_only() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut ws = open(data.path(), "w");
    ws.add_agent(spec("a", data.path()), false).expect("add");
    write_turn(&mut ws, "a", 1, "s", 0.0);
    let err =
        Workspace::open_or_create(data.path(), &named("w"), Access::Exclusive).expect_err("locked");
    assert!(matches!(err, StoreError::Locked { pid: Some(p), .. } if p == std::process::id()));
    assert_eq!(
        err.to_string(),
        format!(
            "workspace w is in use by another agentmux (pid {}); close it, or open this one \
             read-only (--read-only)",
            std::process::id()
        )
    );
    let mut ro =
        Workspace::open_or_create(data.path(), &named("w"), Access::ReadOnly).expect("read-only");
    assert!(ro.is_read_only());
    assert_eq!(ro.take_restored().agents[0].log.len(), fixture_lines().len() + 4);
    assert!(matches!(ro.append("a", 2, Record::Prompt("x")), Err(StoreError::ReadOnly(_))));
    assert!(matches!(ro.save_state(), Err(StoreError::ReadOnly(_))));
    drop(ro);
    drop(ws);
    // The lock goes with the process that held it.
    open(data.path(), "w");
}

#[test]
fn a_second_agentmux_process_is_refused_with_one_line() {
    let data = tempfile::tempdir().expect("tempdir");
    let team_dir = tempfile::tempdir().expect("tempdir");
    let team = team_dir.path().join("team.toml");
    std::fs::write(&team, "[[agent]]\nname = \"a\"\n").expect("write");
    let key = WorkspaceKey::TeamFile(std::fs::canonicalize(&team).expect("canon"));
    let _held = Workspace::open_or_create(data.path(), &key, Access::Exclusive).expect("open");
    let out = Command::new(env!("CARGO_BIN_EXE_agentmux"))
        .arg("-c")
        .arg(&team)
        .args(["--claude", "/bin/sh", "--trust"])
        // The single process takes the lock itself (tests/attach.rs has the server's way).
        .env("AGENTMUX_NO_SERVER", "true")
        .env("AGENTMUX_DATA_DIR", data.path())
        .env("AGENTMUX_CONFIG_DIR", data.path().join("config"))
        .stdin(Stdio::null())
        .output()
        .expect("run agentmux");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("agentmux: workspace team is")
            && stderr.contains(&format!("in use by another agentmux (pid {})", std::process::id())),
        "{stderr}"
    );
}

/// The child half of the kill -9 test: floods a workspace until it is killed.
#[test]
fn flood_writer_child() {
    let Some(data) = std::env::var_os("AGENTMUX_TEST_FLOOD_DATA") else { return };
    let mut ws = open(Path::new(&data), "flood");
    ws.add_agent(spec("a", Path::new("/")), false).expect("add");
    ws.append("a", 1, Record::Prompt("flood")).expect("prompt");
    ws.append("a", 1, Record::TurnStarted(&TurnStart { session_id: "s-f".into(), resume: false }))
        .expect("start");
    let lines = fixture_lines();
    for i in 0.. {
        ws.append("a", 1, Record::Event(lines[i % lines.len()])).expect("event");
    }
}

#[test]
fn kill_9_during_a_flood_keeps_every_logged_event_and_the_turn_resumes() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test exe"))
        .args(["--exact", "flood_writer_child", "--nocapture", "--test-threads", "1"])
        .env("AGENTMUX_TEST_FLOOD_DATA", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the writer");
    let log = store::workspaces_dir(data.path()).join("flood/logs/a.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&log).map_or(0, |m| m.len()) < 2_000_000 {
        assert!(Instant::now() < deadline, "the writer never got going");
        assert!(child.try_wait().expect("wait").is_none(), "the writer died on its own");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: sending SIGKILL to the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().expect("wait");
    assert!(status.code().is_none(), "killed by a signal");

    let bytes = std::fs::read(&log).expect("read");
    let whole_lines = bytes.iter().filter(|b| **b == b'\n').count();
    let mut ws = open(data.path(), "flood");
    let r = ws.take_restored();
    let agent = &r.agents[0];
    assert_eq!(agent.log.len(), whole_lines, "every record that reached the log is there");
    let i = agent.interrupted.clone().expect("the running turn is interrupted");
    assert_eq!((i.turn, i.session_id.as_str(), i.prompt.as_deref()), (1, "s-f", Some("flood")));
    assert_eq!(agent.state.session_id.as_deref(), Some("s-f"), "ready to --resume");
    // And the workspace takes new records.
    ws.append("a", 2, Record::Prompt("resume")).expect("append");
}

#[test]
fn a_100k_line_log_reopens_well_under_a_second() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut ws = open(data.path(), "big");
    ws.add_agent(spec("a", data.path()), false).expect("add");
    let lines = fixture_lines();
    let batch: Vec<Record<'_>> = lines.iter().map(|l| Record::Event(l)).collect();
    let mut n = 0;
    while n < 100_000 {
        ws.append_many("a", 1 + n as u64 / 1000, &batch).expect("append");
        n += batch.len();
    }
    drop(ws);
    // How fast this is, is benches/reopen.rs's job (speed is never judged by a timed test).
    let mut ws = open(data.path(), "big");
    let r = ws.take_restored();
    assert_eq!(r.agents[0].log.len(), n);
    // Spot check: the last record is the last line written, byte for byte.
    let (_, _, last) = r.agents[0].log.get(n - 1).expect("last");
    assert_eq!(last, Record::Event(lines[(n - 1) % lines.len()]));
}

#[test]
fn workspace_keys_are_stable_and_distinct() {
    let a = WorkspaceKey::TeamFile("/home/u/proj/agentmux.toml".into()).dir_name().expect("name");
    let b = WorkspaceKey::TeamFile("/home/u/other/agentmux.toml".into()).dir_name().expect("name");
    let c = WorkspaceKey::Directory("/home/u/proj".into()).dir_name().expect("name");
    assert_eq!(a.len(), "agentmux-".len() + 8, "{a}");
    assert!(a.starts_with("agentmux-") && c.starts_with("proj-"));
    assert_ne!(a, b);
    assert_eq!(
        a,
        WorkspaceKey::TeamFile("/home/u/proj/agentmux.toml".into()).dir_name().expect("n")
    );
    assert!(WorkspaceKey::Named("../x".into()).dir_name().is_err());
    assert!(WorkspaceKey::Named(".hidden".into()).dir_name().is_err());
    assert_eq!(WorkspaceKey::Named("my-team_2".into()).dir_name().expect("ok"), "my-team_2");
}

#[test]
fn workspaces_are_named_after_their_team_file_or_directory() {
    let data = tempfile::tempdir().expect("tempdir");
    let name = |key: &WorkspaceKey| open_key(data.path(), key).name().to_string();
    let team = WorkspaceKey::TeamFile("/home/u/proj/team.toml".into());
    let default = WorkspaceKey::TeamFile("/home/u/web/agentmux.toml".into());
    let dir = WorkspaceKey::Directory("/home/u/api".into());
    assert_eq!(name(&team), "team");
    assert_eq!(name(&default), "web");
    assert_eq!(name(&dir), "api");
    // The same source finds its workspace again; another with the same name gets its own.
    assert_eq!(name(&team), "team");
    assert_eq!(name(&WorkspaceKey::TeamFile("/home/v/x/team.toml".into())), "team-2");
    assert_eq!(name(&WorkspaceKey::Directory("/srv/api".into())), "api-2");
    assert_eq!(name(&WorkspaceKey::Directory("/".into())), "root");

    // A workspace made under the old `<stem>-<hash>` name is still the one opened.
    let old = WorkspaceKey::Directory("/home/u/old".into());
    let legacy = old.dir_name().expect("legacy name");
    {
        let mut ws = open(data.path(), &legacy);
        ws.add_agent(spec("kept", data.path()), false).expect("add");
    }
    let ws = open_key(data.path(), &old);
    assert_eq!(ws.name(), legacy);
    assert_eq!(old.resolve_name(data.path()).expect("name"), legacy);
}

fn agentmux(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_agentmux"))
        .args(args)
        .env("AGENTMUX_DATA_DIR", data)
        .env("AGENTMUX_CONFIG_DIR", data.join("config"))
        .stdin(Stdio::null())
        .output()
        .expect("run agentmux")
}

#[test]
fn workspaces_are_listed_exported_and_removed() {
    let data = tempfile::tempdir().expect("tempdir");
    {
        let mut ws = open(data.path(), "alpha");
        ws.add_agent(spec("web", data.path()), false).expect("add");
        ws.add_agent(spec("api", data.path()), false).expect("add");
        write_turn(&mut ws, "web", 1, "s-1", 0.5);
        write_turn(&mut ws, "api", 1, "s-2", 0.25);
    }
    // A sibling test's fork may hold the lock we let go of for a moment (see `open`): list
    // again while the lock file names this process, which has the workspace open no longer.
    let lock = data.path().join("workspaces").join("alpha").join("lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let list = store::list_workspaces(data.path()).expect("list");
        let holder = std::fs::read_to_string(&lock).ok().and_then(|s| s.trim().parse().ok());
        let ours = holder == Some(std::process::id());
        if !(list.first().is_some_and(|w| w.in_use) && ours) || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "alpha");
    assert_eq!(list[0].agents, ["web", "api"]);
    assert!((list[0].cost_usd - 0.75).abs() < 1e-9);
    assert!(!list[0].in_use);

    let out = agentmux(data.path(), &["workspaces"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("NAME"), "{stdout}");
    assert!(
        stdout.contains("alpha") && stdout.contains("2: web, api") && stdout.contains("$0.75"),
        "{stdout}"
    );

    let md_path = data.path().join("web.md");
    let md_arg = md_path.to_string_lossy().into_owned();
    let out = agentmux(data.path(), &["export", "alpha", "web", "-o", &md_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = std::fs::read_to_string(&md_path).expect("markdown");
    assert_eq!(mode(&md_path), 0o600, "a transcript is private");
    // A file that was there, open to others, is private after the export too.
    let old = data.path().join("old.md");
    std::fs::write(&old, "x").expect("write");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = agentmux(data.path(), &["export", "alpha", "web", "-o", &old.to_string_lossy()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&old), 0o600);
    assert_eq!(std::fs::read_to_string(&old).expect("read"), md, "written whole, not appended");
    // Times vary: the snapshot keeps everything else.
    let md: String = md
        .lines()
        .map(|l| if l.starts_with("## Turn") { "## Turn (time)" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(md);

    let out = agentmux(data.path(), &["export", "alpha", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "agentmux: workspace alpha has no agent named nobody\n"
    );

    // Without --yes and with no answer, nothing is removed.
    let out = agentmux(data.path(), &["workspaces", "rm", "alpha"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(store::workspaces_dir(data.path()).join("alpha").is_dir());
    // In use: refused.
    let held = open(data.path(), "alpha");
    let out = agentmux(data.path(), &["workspaces", "rm", "alpha", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    drop(held);
    // A sibling test's fork may still hold the lock we just let go of (see `open`).
    drop(open(data.path(), "alpha"));
    let out = agentmux(data.path(), &["workspaces", "rm", "alpha", "--yes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!store::workspaces_dir(data.path()).join("alpha").exists());
    let out = agentmux(data.path(), &["workspaces", "rm", "alpha", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_mistakes_exit_2_with_one_line() {
    let data = tempfile::tempdir().expect("tempdir");
    for args in [
        &["--nope"][..],
        &["export", "only-one"],
        &["-c", "x.toml", "demo"],
        &["--workspace", "../x"],
    ] {
        let out = agentmux(data.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("agentmux: ") && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
    let out = agentmux(data.path(), &["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("agentmux "));
}

#[test]
fn reconcile_lines_the_team_up_with_what_the_workspace_remembers() {
    use agentmux::config::{Layers, Team};
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let team = |text: &str| {
        Team::parse_str(text, Path::new("t.toml"), dir.path(), &Layers::default()).expect("team")
    };
    let first = team(
        "[supervisor]\n[defaults]\nallowed_tools = [\"Read\"]\n[[agent]]\nname = \"a\"\nmodel = \"sonnet\"\n[[agent]]\nname = \"b\"\n",
    );
    {
        let mut ws = open(data.path(), "t");
        let r = ws.reconcile(&first).expect("reconcile");
        let names: Vec<_> = r.agents.iter().map(|a| a.state.spec.name.as_str()).collect();
        assert_eq!(names, ["supervisor", "a", "b"]);
        assert!(r.agents[0].state.supervisor && !r.agents[0].state.prompt_sent);
        write_turn(&mut ws, "a", 1, "s-a", 0.1);
        ws.update_agent("a", |a| {
            a.prompt_sent = true;
            a.allowed_at_run_time.push("Bash(npm test:*)".into());
        })
        .expect("update");
        ws.add_agent(spec("extra", dir.path()), false).expect("runtime agent");
    }
    // The file changed: a's model, b gone, c new.
    let second = team(
        "[supervisor]\n[defaults]\nallowed_tools = [\"Read\"]\n[[agent]]\nname = \"a\"\nmodel = \"opus\"\n[[agent]]\nname = \"c\"\n",
    );
    let mut ws = open(data.path(), "t");
    let r = ws.reconcile(&second).expect("reconcile");
    let names: Vec<_> = r.agents.iter().map(|a| a.state.spec.name.as_str()).collect();
    assert_eq!(names, ["supervisor", "a", "c", "b", "extra"]);
    let a = &r.agents[1];
    assert_eq!(a.state.spec.options.model.as_deref(), Some("opus"), "the team file wins");
    assert_eq!(
        a.state.spec.options.allowed_tools.as_deref(),
        Some(&["Read".to_string(), "Bash(npm test:*)".to_string()][..])
    );
    assert!(a.state.prompt_sent, "the first prompt is never sent again");
    assert_eq!(a.state.session_id.as_deref(), Some("s-a"));
    assert_eq!(a.log.len(), fixture_lines().len() + 4);
    assert!(r.agents[2].log.is_empty() && !r.agents[2].state.prompt_sent);
    drop(ws);
    let saved = Workspace::open_or_create(data.path(), &named("t"), Access::ReadOnly).expect("ro");
    let names: Vec<_> = saved.state().agents.iter().map(|a| a.spec.name.as_str()).collect();
    assert_eq!(names, ["supervisor", "a", "c", "b", "extra"], "the order is saved");
}

#[test]
fn after_a_lost_state_file_the_team_takes_its_transcripts_back() {
    use agentmux::config::{Layers, Team};
    let data = tempfile::tempdir().expect("tempdir");
    let team = Team::parse_str(
        "[[agent]]\nname = \"a\"\nprompt = \"hello\"\n[[agent]]\nname = \"b\"\n",
        Path::new("t.toml"),
        data.path(),
        &Layers::default(),
    )
    .expect("team");
    let dir;
    {
        let mut ws = open(data.path(), "t");
        ws.reconcile(&team).expect("reconcile");
        write_turn(&mut ws, "a", 1, "s-1", 0.5);
        write_turn(&mut ws, "a", 2, "s-2", 0.25);
        ws.update_agent("a", |a| a.prompt_sent = true).expect("update");
        dir = ws.dir().to_path_buf();
    }
    std::fs::write(dir.join("state.json"), b"\0\0\0").expect("clobber");
    let mut ws = open(data.path(), "t");
    let r = ws.reconcile(&team).expect("reconcile");
    let a = &r.agents[0];
    assert_eq!(a.log.len(), 2 * (fixture_lines().len() + 4));
    assert!(a.state.prompt_sent, "the first prompt is not sent twice");
    assert_eq!(a.state.session_id.as_deref(), Some("s-2"));
    assert_eq!(a.state.turns, 2);
    assert!((a.state.cost_usd - 0.75).abs() < 1e-9);
    assert!(r.agents[1].log.is_empty());
    assert!(r.notes.iter().any(|n| n.contains("moved aside")), "{:?}", r.notes);
    assert!(
        r.notes.iter().any(|n| n.contains("taken back as the transcript of a")),
        "{:?}",
        r.notes
    );

    // A removed agent's log is kept under another name; a new agent of that name starts empty.
    ws.remove_agent("a").expect("remove");
    drop(ws);
    let kept = std::fs::read_dir(dir.join("logs"))
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("a.jsonl.removed-"))
        .count();
    assert_eq!(kept, 1);
    let mut ws = open(data.path(), "t");
    let r = ws.reconcile(&team).expect("reconcile");
    assert!(r.agents[0].log.is_empty() && !r.agents[0].state.prompt_sent);
}

#[test]
fn engine_lines_are_logged_and_replay_decoded_as_they_arrived() {
    use agentmux::agent::decode::decode_line;
    use agentmux::agent::Line;
    use agentmux::store::Replay;
    let data = tempfile::tempdir().expect("tempdir");
    let mut batch: Vec<(String, Line)> =
        fixture_lines().iter().map(|l| (l.to_string(), decode_line(l))).collect();
    batch.insert(2, ("Error: something odd".into(), Line::Text("Error: something odd".into())));
    batch.push((String::new(), Line::TooLong { len: 99_000_000, limit: 64 }));
    {
        let mut ws = open(data.path(), "w");
        ws.add_agent(spec("a", data.path()), false).expect("add");
        ws.append_lines("a", 1, &batch).expect("lines");
    }
    let mut ws = open(data.path(), "w");
    let r = ws.take_restored();
    let replayed: Vec<(String, Line)> = r.agents[0]
        .log
        .replay()
        .filter_map(|(_, _, item)| match item {
            Replay::Line(text, line) => Some((text.to_string(), line)),
            _ => None,
        })
        .collect();
    assert_eq!(replayed.len(), batch.len());
    assert_eq!(replayed[..batch.len() - 1], batch[..batch.len() - 1]);
    assert!(
        matches!(&replayed[batch.len() - 1].1, Line::Text(t) if t.contains("99000000 bytes was skipped")),
        "{:?}",
        replayed.last()
    );
}
