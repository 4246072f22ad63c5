//! Agent worktrees on real repositories made in temporary directories.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod support;

use agentmux::worktree::{
    self, delete_branch, open, AgentWorktree, DiffScope, DiffStat, FileStatus, Git, LineKind, Loss,
    Notice, OpenRequest, Start, WorktreeError,
};

/// Git that ignores this machine's global and system config: tests see only what they set.
fn git() -> Git {
    Git::default().env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_CONFIG_NOSYSTEM", "1")
}

/// Runs git for the test's own setup steps; panics with git's stderr when it fails.
fn sh(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write file");
}

struct Repo {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

/// An empty repository on branch `main` with a local identity.
fn empty_repo() -> Repo {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().canonicalize().expect("canonical").join("repo");
    std::fs::create_dir(&dir).expect("mkdir repo");
    sh(&dir, &["init", "-q", "-b", "main"]);
    sh(&dir, &["config", "user.name", "Test User"]);
    sh(&dir, &["config", "user.email", "test@example.invalid"]);
    Repo { _tmp: tmp, dir }
}

/// A repository with one commit: a README and src/lib.rs (4 lines).
fn repo() -> Repo {
    let r = empty_repo();
    write(&r.dir.join("README.md"), "# demo\n");
    write(&r.dir.join("src/lib.rs"), "fn a() {}\nfn b() {}\nfn c() {}\nfn d() {}\n");
    write(&r.dir.join(".gitignore"), ".env\n");
    sh(&r.dir, &["add", "-A"]);
    sh(&r.dir, &["commit", "-q", "-m", "first"]);
    r
}

fn open_agent(r: &Repo, agent: &str) -> AgentWorktree {
    open(&git(), &OpenRequest::new(agent, &r.dir)).expect("open worktree")
}

/// What a simulated agent turn does: edit a tracked file and create a new one.
fn agent_edits(wt: &AgentWorktree) {
    write(
        &wt.path.join("src/lib.rs"),
        "fn a() {}\nfn b() { 2 }\nfn c() {}\nfn d() {}\nfn e() {}\n",
    );
    write(&wt.path.join("notes/plan.md"), "one\ntwo\nthree\n");
}

#[test]
fn git_can_be_run() {
    let version = git().version().expect("git --version");
    assert!(version.starts_with("git version"), "{version}");
    let missing = Git::with_program("/nonexistent/git").version();
    assert!(matches!(missing, Err(WorktreeError::GitNotRunnable { .. })));
}

#[test]
fn create_places_the_worktree_outside_the_tracked_tree_and_reopens_it() {
    let r = repo();
    let wt = open_agent(&r, "backend");
    assert!(wt.created);
    assert_eq!(wt.branch, "agentmux/backend");
    assert_eq!(wt.base.reference, "main");
    assert_eq!(wt.base.commit, sh(&r.dir, &["rev-parse", "HEAD"]));
    assert_eq!(wt.path, r.dir.join(".git/agentmux-worktrees/backend"));
    assert_eq!(wt.cwd, wt.path);
    assert!(wt.path.join("src/lib.rs").is_file());
    assert!(wt.notices.is_empty(), "{:?}", wt.notices);
    // The main checkout sees nothing new: the worktree is not in its tracked tree.
    assert_eq!(sh(&r.dir, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(sh(&wt.path, &["symbolic-ref", "--short", "HEAD"]), "agentmux/backend");

    // The main checkout moves on; reopening finds the same worktree and the same base.
    write(&r.dir.join("README.md"), "# demo\nmore\n");
    sh(&r.dir, &["commit", "-qam", "second"]);
    let again = open_agent(&r, "backend");
    assert!(!again.created);
    assert_eq!(again.path, wt.path);
    assert_eq!(again.branch, wt.branch);
    assert_eq!(again.base, wt.base);
    let changes = again.changes(&git()).expect("changes");
    assert_eq!(changes.commits_ahead, 0);
    assert!(changes.total.is_empty(), "{changes:?}");
}

#[test]
fn a_data_directory_can_hold_the_worktrees_and_a_subdirectory_is_kept() {
    let r = repo();
    let data = r.dir.parent().expect("parent").join("data");
    let req = OpenRequest {
        root: Some(data.clone()),
        ..OpenRequest::new("Front End", r.dir.join("src"))
    };
    let wt = open(&git(), &req).expect("open");
    assert_eq!(wt.branch, "agentmux/Front-End");
    assert_eq!(wt.path, data.join("Front-End"));
    assert_eq!(wt.cwd, data.join("Front-End/src"));
    assert_eq!(wt.repo, r.dir);
    // A shell opened for the agent starts where the agent works.
    let shell = worktree::shell_command(&wt);
    assert_eq!(shell.get_current_dir(), Some(wt.cwd.as_path()));
}

#[test]
fn changes_are_counted_after_an_agent_edits_files_then_commits() {
    let r = repo();
    let wt = open_agent(&r, "qa");
    agent_edits(&wt);

    let c = wt.changes(&git()).expect("changes");
    assert_eq!(c.branch.as_deref(), Some("agentmux/qa"));
    assert_eq!(c.base, "main");
    assert_eq!(c.commits_ahead, 0);
    assert_eq!(c.committed, DiffStat::default());
    // src/lib.rs: +2 -1; notes/plan.md (untracked): +3.
    let expected = DiffStat { files: 2, added: 5, removed: 1 };
    assert_eq!(c.uncommitted, expected);
    assert_eq!(c.total, expected);
    assert_eq!(c.loss(), Loss { uncommitted_files: 2, unmerged_commits: 0 });
    // The user's own checkout is untouched.
    assert_eq!(sh(&r.dir, &["status", "--porcelain"]), "");

    let files = wt.diff(&git(), DiffScope::All).expect("diff");
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["notes/plan.md", "src/lib.rs"]);
    assert_eq!(files[0].status, FileStatus::Untracked);
    assert_eq!((files[0].added, files[0].removed), (3, 0));
    assert_eq!((files[1].added, files[1].removed), (2, 1));
    let lines = &files[1].hunks[0].lines;
    assert!(lines.iter().any(|l| l.kind == LineKind::Removed && l.text == "fn b() {}"));
    assert!(lines.iter().any(|l| l.kind == LineKind::Added && l.text == "fn e() {}"));

    let done = wt.commit(&git(), "Edit lib and add a plan").expect("commit");
    assert_eq!(done.files, 2);
    assert_eq!(sh(&wt.path, &["log", "-1", "--format=%s"]), "Edit lib and add a plan");
    let c = wt.changes(&git()).expect("changes after commit");
    assert_eq!(c.commits_ahead, 1);
    assert_eq!(c.committed, expected);
    assert_eq!(c.uncommitted, DiffStat::default());
    assert_eq!(c.total, expected);
    assert!(wt.diff(&git(), DiffScope::Uncommitted).expect("diff").is_empty());
    assert_eq!(wt.diff(&git(), DiffScope::Committed).expect("diff").len(), 2);

    // More uncommitted work on top of the commit is counted apart.
    write(&wt.path.join("README.md"), "# demo\nby qa\n");
    let c = wt.changes(&git()).expect("changes");
    assert_eq!(c.uncommitted, DiffStat { files: 1, added: 1, removed: 0 });
    assert_eq!(c.total.files, 3);

    assert!(matches!(wt.commit(&git(), "  \n"), Err(WorktreeError::EmptyMessage)));
    wt.commit(&git(), "# README line kept").expect("commit");
    assert_eq!(sh(&wt.path, &["log", "-1", "--format=%s"]), "# README line kept");
    let nothing = wt.commit(&git(), "again");
    assert!(matches!(nothing, Err(WorktreeError::NothingToCommit { .. })));
}

#[test]
fn remove_refuses_while_work_would_be_lost_until_confirmed_with_the_counts() {
    let r = repo();
    let wt = open_agent(&r, "dev");
    agent_edits(&wt);

    let err = wt.remove(&git(), None).expect_err("must refuse");
    let WorktreeError::WouldLoseWork { loss, .. } = &err else {
        panic!("unexpected {err:?}");
    };
    let loss = *loss;
    assert_eq!(loss, Loss { uncommitted_files: 2, unmerged_commits: 0 });
    assert!(err.to_string().contains("2 uncommitted files"), "{err}");
    // A confirmation for other counts (the agent changed more since) is not enough.
    let stale = Loss { uncommitted_files: 1, unmerged_commits: 0 };
    assert!(wt.remove(&git(), Some(stale)).is_err());
    assert!(wt.path.is_dir());

    let removed = wt.remove(&git(), Some(loss)).expect("confirmed removal");
    assert!(!wt.path.exists());
    assert_eq!(removed.lost, loss);
    assert!(removed.message().contains("branch agentmux/dev is kept"));
    assert_eq!(sh(&r.dir, &["branch", "--list", "agentmux/dev"]), "agentmux/dev");
}

#[test]
fn remove_without_pending_work_needs_no_confirmation_and_merged_commits_count_as_safe() {
    let r = repo();
    let clean = open_agent(&r, "idle");
    clean.remove(&git(), None).expect("clean removal");
    assert!(!clean.path.exists());

    let wt = open_agent(&r, "merged");
    agent_edits(&wt);
    wt.commit(&git(), "work").expect("commit");
    let err = wt.remove(&git(), None).expect_err("an unmerged commit");
    assert!(err.to_string().contains("1 unmerged commit"), "{err}");
    sh(&r.dir, &["merge", "-q", "--ff-only", "agentmux/merged"]);
    wt.remove(&git(), None).expect("merged into main: nothing lost");
}

#[test]
fn deleting_a_branch_is_a_separate_step_that_refuses_unmerged_commits() {
    let r = repo();
    let wt = open_agent(&r, "tmp");
    agent_edits(&wt);
    wt.commit(&git(), "work").expect("commit");
    // Git refuses while the worktree holds the branch.
    assert!(delete_branch(&git(), &r.dir, "agentmux/tmp", Some(1)).is_err());
    wt.remove(&git(), Some(Loss { uncommitted_files: 0, unmerged_commits: 1 })).expect("remove");
    let err = delete_branch(&git(), &r.dir, "agentmux/tmp", None).expect_err("unmerged");
    assert!(matches!(err, WorktreeError::BranchNotMerged { unmerged_commits: 1, .. }));
    let said = delete_branch(&git(), &r.dir, "agentmux/tmp", Some(1)).expect("confirmed");
    assert!(said.starts_with("deleted branch agentmux/tmp"), "{said}");
    assert_eq!(sh(&r.dir, &["branch", "--list", "agentmux/tmp"]), "");
}

#[test]
fn a_removed_worktree_comes_back_on_its_kept_branch() {
    let r = repo();
    let wt = open_agent(&r, "again");
    agent_edits(&wt);
    wt.commit(&git(), "work").expect("commit");
    let loss = wt.loss(&git()).expect("loss");
    wt.remove(&git(), Some(loss)).expect("remove");

    let back = open_agent(&r, "again");
    assert!(back.created);
    assert!(back.notices.contains(&Notice::BranchReused { branch: "agentmux/again".into() }));
    assert_eq!(back.base, wt.base);
    assert_eq!(back.changes(&git()).expect("changes").commits_ahead, 1);
}

#[test]
fn an_existing_branch_can_be_chosen() {
    let r = repo();
    sh(&r.dir, &["switch", "-q", "-c", "feature"]);
    write(&r.dir.join("feature.txt"), "f\n");
    sh(&r.dir, &["add", "-A"]);
    sh(&r.dir, &["commit", "-qm", "feature work"]);
    sh(&r.dir, &["switch", "-q", "main"]);

    let req = OpenRequest {
        start: Start::Branch("feature".into()),
        ..OpenRequest::new("helper", &r.dir)
    };
    let wt = open(&git(), &req).expect("open on feature");
    assert_eq!(wt.branch, "feature");
    assert_eq!(wt.base.reference, "main");
    let c = wt.changes(&git()).expect("changes");
    assert_eq!(c.branch.as_deref(), Some("feature"));
    assert_eq!(c.commits_ahead, 1);
    assert_eq!(c.committed.files, 1);

    let missing =
        OpenRequest { start: Start::Branch("nope".into()), ..OpenRequest::new("other", &r.dir) };
    let err = open(&git(), &missing).expect_err("no such branch");
    assert!(matches!(err, WorktreeError::UnknownBranch { .. }), "{err:?}");
    assert!(err.to_string().contains("no branch `nope`"), "{err}");

    // The checkout's own branch is in use there.
    let busy =
        OpenRequest { start: Start::Branch("main".into()), ..OpenRequest::new("third", &r.dir) };
    let err = open(&git(), &busy).expect_err("main is checked out");
    assert!(matches!(err, WorktreeError::BranchInUse { .. }), "{err:?}");
}

#[test]
fn a_chosen_base_and_an_unknown_base() {
    let r = repo();
    let first = sh(&r.dir, &["rev-parse", "HEAD"]);
    write(&r.dir.join("README.md"), "# demo\nv2\n");
    sh(&r.dir, &["commit", "-qam", "second"]);
    let req = OpenRequest { start: Start::From(first.clone()), ..OpenRequest::new("old", &r.dir) };
    let wt = open(&git(), &req).expect("open from first commit");
    assert_eq!(wt.base.commit, first);
    assert_eq!(sh(&wt.path, &["rev-parse", "HEAD"]), first);

    let bad =
        OpenRequest { start: Start::From("no-such-rev".into()), ..OpenRequest::new("bad", &r.dir) };
    let err = open(&git(), &bad).expect_err("unknown base");
    assert!(matches!(err, WorktreeError::UnknownBase { .. }), "{err:?}");
}

#[test]
fn a_directory_that_is_not_a_repository_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = open(&git(), &OpenRequest::new("a", tmp.path())).expect_err("not a repo");
    assert!(matches!(err, WorktreeError::NotARepository { .. }), "{err:?}");
    assert!(err.to_string().contains("is not inside a git repository"), "{err}");

    let gone = tmp.path().join("missing");
    let err = open(&git(), &OpenRequest::new("a", &gone)).expect_err("no dir");
    assert!(matches!(err, WorktreeError::NoSuchDirectory { .. }), "{err:?}");
}

#[test]
fn a_repository_with_no_commits_says_so() {
    let r = empty_repo();
    let err = open(&git(), &OpenRequest::new("a", &r.dir)).expect_err("no commits");
    assert!(matches!(err, WorktreeError::NoCommits { .. }), "{err:?}");
    assert!(err.to_string().contains("has no commits yet"), "{err}");
    assert!(!r.dir.join(".git/agentmux-worktrees").exists());
}

#[test]
fn a_detached_head_is_a_base_and_the_notice_names_the_commit() {
    let r = repo();
    sh(&r.dir, &["checkout", "-q", "--detach"]);
    let head = sh(&r.dir, &["rev-parse", "HEAD"]);
    let wt = open_agent(&r, "loose");
    assert_eq!(wt.base.reference, head);
    assert_eq!(wt.base.label(), head[..7]);
    let notice = Notice::DetachedBase { commit: head.clone() };
    assert!(wt.notices.contains(&notice), "{:?}", wt.notices);
    assert!(notice.to_string().contains(&head[..7]));
    agent_edits(&wt);
    wt.commit(&git(), "work").expect("commit");
    assert_eq!(wt.changes(&git()).expect("changes").commits_ahead, 1);
}

#[test]
fn setup_commands_run_once_after_creation() {
    let r = repo();
    write(&r.dir.join(".env"), "SECRET=1\n");
    let req = OpenRequest {
        setup: vec![
            vec!["cp".into(), "{repo}/.env".into(), ".".into()],
            vec!["git".into(), "status".into(), "--short".into()],
        ],
        ..OpenRequest::new("setup", &r.dir)
    };
    let wt = open(&git(), &req).expect("open with setup");
    assert_eq!(std::fs::read_to_string(wt.path.join(".env")).expect(".env copied"), "SECRET=1\n");
    assert!(wt.notices.contains(&Notice::SetupRan { commands: 2 }));

    // Reopening does not run them again: a command that would fail is never started.
    std::fs::remove_file(wt.path.join(".env")).expect("rm");
    let again = OpenRequest { setup: vec![vec!["false".into()]], ..req.clone() };
    let reopened = open(&git(), &again).expect("reopen skips setup");
    assert!(!reopened.path.join(".env").exists());

    // A failing setup on a new worktree says which command failed.
    let failing = OpenRequest {
        setup: vec![vec!["ls".into(), "/nonexistent-agentmux-path".into()]],
        ..OpenRequest::new("broken", &r.dir)
    };
    let err = open(&git(), &failing).expect_err("setup fails");
    assert!(matches!(err, WorktreeError::SetupFailed { .. }), "{err:?}");
    assert!(
        err.to_string().contains("setup command `ls /nonexistent-agentmux-path` failed"),
        "{err}"
    );
}

#[test]
fn submodules_are_left_uninitialised_with_a_notice() {
    let r = repo();
    let sub = r.dir.parent().expect("parent").join("sub");
    std::fs::create_dir(&sub).expect("mkdir sub");
    sh(&sub, &["init", "-q", "-b", "main"]);
    write(&sub.join("x"), "x\n");
    sh(&sub, &["add", "-A"]);
    sh(&sub, &["-c", "user.name=t", "-c", "user.email=t@e.invalid", "commit", "-qm", "sub"]);
    let url = sub.to_string_lossy().into_owned();
    sh(&r.dir, &["-c", "protocol.file.allow=always", "submodule", "add", "-q", &url, "vendor/sub"]);
    sh(&r.dir, &["commit", "-qm", "add submodule"]);

    let wt = open_agent(&r, "subs");
    let expected = Notice::SubmodulesNotInitialised { paths: vec!["vendor/sub".into()] };
    assert!(wt.notices.contains(&expected), "{:?}", wt.notices);
    assert!(expected.to_string().contains("git submodule update --init"));
}

#[test]
fn slugs_and_errors_read_well() {
    assert_eq!(worktree::agent_branch("a b").as_deref(), Some("agentmux/a-b"));
    let r = repo();
    let err = open(&git(), &OpenRequest::new("///", &r.dir)).expect_err("bad name");
    assert!(matches!(err, WorktreeError::InvalidAgentName { .. }));
}

mod view {
    use super::*;
    use agentmux::ui::diff::{
        file_rows, header_fragment, header_text, hunk_viewport, DiffScroll, DiffView, ADDED,
        HUNK_HEADER, REMOVED,
    };
    use agentmux::worktree::{Changes, FileDiff};
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;
    use ratatui::style::Color;
    use ratatui::Terminal;

    /// A worktree where the agent changed three files: an edit, a new file, a deletion.
    fn edited_worktree() -> (Repo, AgentWorktree, Vec<FileDiff>) {
        let r = repo();
        let wt = open_agent(&r, "qa");
        agent_edits(&wt);
        std::fs::remove_file(wt.path.join("README.md")).expect("rm");
        let files = wt.diff(&git(), DiffScope::All).expect("diff");
        (r, wt, files)
    }

    fn draw(files: &[FileDiff], scroll: DiffScroll, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        term.draw(|f| f.render_widget(DiffView::new(files, scroll, "main"), f.area()))
            .expect("draw");
        term
    }

    #[test]
    fn diff_view_lists_files_and_colours_the_selected_hunks() {
        let (_r, _wt, files) = edited_worktree();
        assert_eq!(files.len(), 3);
        let src = files.iter().position(|f| f.path == "src/lib.rs").expect("lib.rs in the diff");
        let scroll = DiffScroll { selected: src, offset: 0 };
        let term = draw(&files, scroll, 72, 12);
        insta::assert_snapshot!("diff_view_split", term.backend());

        // Colours: find the rows by their text and check the style of their first cell.
        let buf = term.backend().buffer();
        let row_style = |needle: &str| {
            (0..buf.area.height).find_map(|y| {
                let row: String =
                    (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
                row.find(needle).map(|col| {
                    let x = row[..col].chars().count() as u16;
                    buf[(x, y)].fg
                })
            })
        };
        assert_eq!(row_style("+fn e() {}"), ADDED.fg);
        assert_eq!(row_style("-fn b() {}"), REMOVED.fg);
        assert_eq!(row_style("@@ -1,4 +1,5 @@"), HUNK_HEADER.fg);
        assert_eq!(row_style(" fn a() {}"), Some(Color::Reset));
    }

    #[test]
    fn diff_view_scrolls_and_narrows() {
        let (_r, _wt, files) = edited_worktree();
        let src = files.iter().position(|f| f.path == "src/lib.rs").expect("lib.rs");
        let area = Rect::new(0, 0, 36, 5);
        let viewport = hunk_viewport(area);
        let mut scroll = DiffScroll { selected: src, offset: 0 };
        scroll.scroll(3, file_rows(&files[src]), viewport);
        let term = draw(&files, scroll, area.width, area.height);
        insta::assert_snapshot!("diff_view_narrow_scrolled", term.backend());

        // An offset past the end draws the last page, not an empty pane.
        let far = DiffScroll { selected: src, offset: 1_000 };
        let term = draw(&files, far, area.width, area.height);
        let text = term.backend().to_string();
        assert!(text.contains("+fn e() {}"), "{text}");
    }

    #[test]
    fn diff_view_survives_tiny_sizes_and_no_changes() {
        let (_r, _wt, files) = edited_worktree();
        for (w, h) in [(1, 1), (2, 1), (5, 2), (47, 3), (48, 2), (48, 1), (120, 1)] {
            for selected in [0, 2, 99] {
                draw(&files, DiffScroll { selected, offset: 7 }, w, h);
            }
        }
        let term = draw(&[], DiffScroll::default(), 30, 2);
        insta::assert_snapshot!("diff_view_empty", term.backend());
    }

    #[test]
    fn drawing_the_end_of_a_huge_file_costs_about_what_its_top_costs() {
        use agentmux::worktree::{DiffLine, FileStatus, Hunk};
        let lines: Vec<DiffLine> = (0..20_000)
            .map(|i| DiffLine {
                kind: LineKind::Added,
                text: format!("line {i} of a generated file"),
            })
            .collect();
        let files = vec![FileDiff {
            path: "Cargo.lock".into(),
            status: FileStatus::Modified,
            added: 20_000,
            removed: 0,
            binary: false,
            truncated: false,
            hunks: vec![Hunk { header: "@@ -0,0 +1,20000 @@".into(), lines }],
        }];
        let mut term = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
        let scroll = DiffScroll { selected: 0, offset: 19_990 };
        term.draw(|f| f.render_widget(DiffView::new(&files, scroll, "main"), f.area()))
            .expect("draw");
        let text = term.backend().to_string();
        assert!(text.contains("+line 19999 of a generated file"), "{text}");
    }

    #[test]
    fn header_fragment_says_branch_counts_and_state() {
        let (_r, wt, _files) = edited_worktree();
        let changes = wt.changes(&git()).expect("changes");
        let mut term = Terminal::new(TestBackend::new(60, 1)).expect("terminal");
        term.draw(|f| f.render_widget(header_fragment(&changes), f.area())).expect("draw");
        insta::assert_snapshot!("header_fragment_uncommitted", term.backend());

        wt.commit(&git(), "work").expect("commit");
        let committed = wt.changes(&git()).expect("changes");
        write(&wt.path.join("extra.txt"), "x\n");
        let both = wt.changes(&git()).expect("changes");
        let texts = [
            header_text(&changes),
            header_text(&committed),
            header_text(&both),
            header_text(&Changes { branch: Some("agentmux/idle".into()), ..Default::default() }),
        ];
        insta::assert_snapshot!("header_fragment_texts", texts.join("\n"));
    }
}

/// The worktree inside the app: turns, header counts, the diff view, commit, removal and the
/// shared-edit warnings, driven through `update` with git jobs run in place of the loop.
mod app {
    use super::*;
    use agentmux::agent::event::{ContentBlock, Event, MessageEvent, ResultEvent};
    use agentmux::agent::{AgentSpec, ClaudeCmd, EngineMsg, ExitInfo, Line};
    use agentmux::app::state::{Confirm, Overlay};
    use agentmux::app::worktree::WorktreeMsg;
    use agentmux::app::{update, Effect, Msg, State};
    use agentmux::config::{Team, TeamAgent};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use serde_json::json;

    fn team(dir: &Path, names: &[&str], worktree: bool) -> Team {
        Team {
            agents: names
                .iter()
                .map(|n| TeamAgent { spec: AgentSpec::new(*n, dir), prompt: None, worktree })
                .collect(),
            ..Default::default()
        }
    }

    fn state_with_worktree(r: &Repo) -> (State, AgentWorktree) {
        let mut s = State::new(
            &team(&r.dir, &["api"], true),
            ClaudeCmd::real("claude"),
            (100, 20),
            Instant::now(),
        );
        let wt = open_agent(r, "api");
        assert!(s.attach_worktree("api", wt.clone()));
        assert_eq!(s.agents[0].spec.cwd, wt.cwd, "turns run in the worktree");
        (s, wt)
    }

    /// Runs every git job among `fx` the way the loop does (off the UI thread there), feeds
    /// the answers back, and returns the effects that are not git jobs.
    fn drive(s: &mut State, fx: Vec<Effect>) -> Vec<Effect> {
        let mut rest = Vec::new();
        let mut queue = fx;
        while let Some(e) = queue.pop() {
            match e {
                Effect::Worktree(job) => {
                    let msg = job.run(&git());
                    queue.extend(update(s, Msg::Worktree(msg)));
                }
                other => rest.push(other),
            }
        }
        rest
    }

    fn assistant(blocks: Vec<ContentBlock>) -> Line {
        Line::Event(Event::Assistant(MessageEvent { content: blocks, ..Default::default() }))
    }

    fn edit_tool(path: &str) -> ContentBlock {
        ContentBlock::ToolUse {
            id: "t".into(),
            name: "Edit".into(),
            input: json!({ "file_path": path }),
        }
    }

    /// One turn of agent `i`: started, `lines`, a result with `result_text`, exit 0. `during`
    /// runs while the turn is under way (the agent editing files).
    fn turn(
        s: &mut State,
        i: usize,
        lines: Vec<Line>,
        result_text: &str,
        during: impl FnOnce(),
    ) -> Vec<Effect> {
        let req = s.begin_turn(i, agentmux::app::queue::Prompt::user("go")).expect("a turn");
        let (agent, n) = (req.agent, req.turn);
        // The CLI's result names the session it was given (the header shows it from then on).
        let session = req.session.id().to_string();
        update(s, Msg::Engine(EngineMsg::Started { agent, turn: n, pid: Some(1) }));
        let mut all = lines;
        all.push(Line::Event(Event::Result(ResultEvent {
            subtype: "success".into(),
            result: Some(result_text.into()),
            session_id: Some(session),
            ..Default::default()
        })));
        update(
            s,
            Msg::Engine(EngineMsg::Lines {
                agent,
                turn: n,
                lines: all.into_iter().map(|l| (String::new(), l)).collect(),
                ticket: Default::default(),
            }),
        );
        during();
        update(
            s,
            Msg::Engine(EngineMsg::Exited {
                agent,
                turn: n,
                exit: ExitInfo { code: Some(0), signal: None, tail: vec![] },
            }),
        )
    }

    fn key(s: &mut State, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
        update(s, Msg::Key(KeyEvent::new(code, mods)))
    }

    /// Session ids are random: fix them so the headers in snapshots do not change per run.
    fn fixed_sessions(s: &mut State) {
        for a in &mut s.agents {
            a.session = a.session.as_ref().map(|_| "5e55aaaa-0000-4000-8000-000000000000".into());
        }
    }

    fn screen(s: &State) -> Terminal<TestBackend> {
        let mut term = Terminal::new(TestBackend::new(s.size.0, s.size.1)).expect("terminal");
        term.draw(|f| agentmux::ui::view(s, f)).expect("draw");
        term
    }

    #[test]
    fn after_a_turn_the_header_shows_the_worktree_counts() {
        let r = repo();
        let (mut s, wt) = state_with_worktree(&r);
        let fx = turn(&mut s, 0, vec![], "Edited lib", || agent_edits(&wt));
        assert!(
            fx.iter().any(|e| matches!(e, Effect::Worktree(_))),
            "a turn's end asks for the counts"
        );
        drive(&mut s, fx);
        let tree = s.agents[0].tree.as_ref().expect("tree");
        assert_eq!(tree.changes.as_ref().map(|c| c.total.files), Some(2));
        fixed_sessions(&mut s);
        insta::assert_snapshot!("app_header_with_counts", screen(&s).backend());
    }

    #[test]
    fn closing_an_idle_agent_with_uncommitted_work_asks_first() {
        // Clean: nothing to lose, alt-w closes at once.
        let r = repo();
        let (mut s, _wt) = state_with_worktree(&r);
        let fx = turn(&mut s, 0, vec![], "Looked around", || {});
        drive(&mut s, fx);
        assert_eq!(s.agents[0].tree.as_ref().and_then(|t| t.uncommitted_files()), Some(0));
        key(&mut s, KeyCode::Char('w'), KeyModifiers::ALT);
        assert!(s.agents.is_empty(), "closed without asking");

        // Edited and not committed: it asks, and no keeps the agent.
        let r = repo();
        let (mut s, wt) = state_with_worktree(&r);
        let fx = turn(&mut s, 0, vec![], "Edited lib", || agent_edits(&wt));
        drive(&mut s, fx);
        key(&mut s, KeyCode::Char('w'), KeyModifiers::ALT);
        assert!(matches!(s.overlay, Some(Overlay::Confirm(_))), "it asks");
        let text = screen(&s).backend().to_string();
        assert!(text.contains("Close api? Its worktree has uncommitted changes in"), "{text}");
        assert!(text.contains("2 files."), "{text}");
        key(&mut s, KeyCode::Char('n'), KeyModifiers::NONE);
        assert_eq!(s.agents.len(), 1, "kept");
        key(&mut s, KeyCode::Char('w'), KeyModifiers::ALT);
        key(&mut s, KeyCode::Char('y'), KeyModifiers::NONE);
        assert!(s.agents.is_empty(), "closed on yes");
    }

    #[test]
    fn the_diff_view_opens_scrolls_and_closes() {
        let r = repo();
        let (mut s, wt) = state_with_worktree(&r);
        let fx = turn(&mut s, 0, vec![], "Edited lib", || agent_edits(&wt));
        drive(&mut s, fx);
        let fx = key(&mut s, KeyCode::Char('v'), KeyModifiers::ALT);
        let Some(Overlay::Diff(view)) = &s.overlay else { panic!("no diff view") };
        assert!(view.files.is_none(), "loading until git answers");
        drive(&mut s, fx);
        key(&mut s, KeyCode::Tab, KeyModifiers::NONE);
        let Some(Overlay::Diff(view)) = &s.overlay else { panic!("no diff view") };
        assert_eq!(view.scroll.selected, 1);
        fixed_sessions(&mut s);
        insta::assert_snapshot!("app_diff_overlay", screen(&s).backend());
        key(&mut s, KeyCode::Esc, KeyModifiers::NONE);
        assert!(s.overlay.is_none());
    }

    #[test]
    fn commit_proposes_the_turn_result_and_commits_what_the_user_confirms() {
        let r = repo();
        let (mut s, wt) = state_with_worktree(&r);
        let fx = turn(&mut s, 0, vec![], "**Added** the plan and fixed `b`.\n\nDetails.", || {
            agent_edits(&wt)
        });
        drive(&mut s, fx);
        key(&mut s, KeyCode::Char('c'), KeyModifiers::ALT);
        let Some(Overlay::Commit(form)) = &s.overlay else { panic!("no commit box") };
        assert_eq!(form.message(), "Added the plan and fixed b.");
        // The user edits the proposal before committing.
        for c in " (qa)".chars() {
            key(&mut s, KeyCode::Char(c), KeyModifiers::NONE);
        }
        fixed_sessions(&mut s);
        insta::assert_snapshot!("app_commit_box", screen(&s).backend());
        let fx = key(&mut s, KeyCode::Enter, KeyModifiers::NONE);
        assert!(matches!(&s.overlay, Some(Overlay::Commit(f)) if f.busy));
        drive(&mut s, fx);
        assert!(s.overlay.is_none());
        assert!(s.flash.as_deref().is_some_and(|f| f.starts_with("committed ")), "{:?}", s.flash);
        assert_eq!(sh(&wt.path, &["log", "-1", "--format=%s"]), "Added the plan and fixed b. (qa)");
        let changes = s.agents[0].tree.as_ref().and_then(|t| t.changes.clone()).expect("counts");
        assert_eq!(changes.commits_ahead, 1);
        assert!(changes.uncommitted.is_empty());
    }

    #[test]
    fn removal_asks_with_the_counts_then_the_agent_goes_home_and_the_branch_stays() {
        let r = repo();
        let (mut s, wt) = state_with_worktree(&r);
        let fx = turn(&mut s, 0, vec![], "x", || agent_edits(&wt));
        drive(&mut s, fx);
        let fx = key(&mut s, KeyCode::Char('x'), KeyModifiers::ALT);
        drive(&mut s, fx);
        let Some(Overlay::Confirm(Confirm::RemoveWorktree { loss, .. })) = &s.overlay else {
            panic!("no question: {:?}", s.flash)
        };
        assert_eq!(loss.uncommitted_files, 2);
        fixed_sessions(&mut s);
        insta::assert_snapshot!("app_remove_question", screen(&s).backend());
        assert!(wt.path.is_dir(), "nothing removed before the answer");
        let fx = key(&mut s, KeyCode::Char('y'), KeyModifiers::NONE);
        let rest = drive(&mut s, fx);
        assert!(rest.iter().any(|e| matches!(e, Effect::Persist)));
        assert!(!wt.path.exists());
        assert!(s.agents[0].tree.is_none());
        assert_eq!(s.agents[0].spec.cwd, r.dir, "the agent works in its own directory again");
        assert!(s.flash.as_deref().is_some_and(|f| f.contains("branch agentmux/api is kept")));
        assert_eq!(sh(&r.dir, &["branch", "--list", "agentmux/api"]), "agentmux/api");
    }

    #[test]
    fn worktree_keys_explain_themselves_without_a_worktree_and_the_shell_is_an_effect() {
        let r = repo();
        let mut s = State::new(
            &team(&r.dir, &["api"], false),
            ClaudeCmd::real("claude"),
            (100, 20),
            Instant::now(),
        );
        let fx = key(&mut s, KeyCode::Char('v'), KeyModifiers::ALT);
        assert!(fx.is_empty());
        assert!(s.flash.as_deref().is_some_and(|f| f.contains("api has no worktree")));

        let (mut s, wt) = state_with_worktree(&r);
        let fx = key(&mut s, KeyCode::Char('t'), KeyModifiers::ALT);
        let [Effect::Shell { agent, wt: shell_wt }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!(shell_wt.path, wt.path);
        // When the shell exits the counts are read again.
        let fx = update(&mut s, Msg::Worktree(WorktreeMsg::ShellExited { agent: *agent }));
        assert!(matches!(fx.as_slice(), [Effect::Worktree(_)]));
    }

    #[test]
    fn an_agent_created_with_worktree_waits_for_it_then_starts_there() {
        use agentmux::app::{ControlCmd, RequestId};
        let r = repo();
        let mut s = State::new(
            &team(&r.dir, &[], false),
            ClaudeCmd::real("claude"),
            (100, 20),
            Instant::now(),
        );
        let new = ControlCmd::New {
            spec: Box::new(AgentSpec::new("iso", &r.dir)),
            prompt: Some("first".into()),
            worktree: true,
        };
        let fx = update(&mut s, Msg::Control { id: RequestId::fresh(), cmd: new });
        assert!(!fx.iter().any(|e| matches!(e, Effect::SpawnTurn(_))), "nothing runs yet");
        assert!(fx.iter().any(|e| matches!(e, Effect::Worktree(_))));
        // A prompt sent meanwhile waits too, behind the first.
        let send = ControlCmd::Send {
            agent: "iso".into(),
            prompt: "second".into(),
            origin: agentmux::agent::Origin::User,
        };
        let more = update(&mut s, Msg::Control { id: RequestId::fresh(), cmd: send });
        assert!(!more.iter().any(|e| matches!(e, Effect::SpawnTurn(_))));
        let rest = drive(&mut s, fx);
        let spawned: Vec<_> = rest
            .iter()
            .filter_map(|e| match e {
                Effect::SpawnTurn(req) => Some(req),
                _ => None,
            })
            .collect();
        assert_eq!(spawned.len(), 1);
        assert_eq!(spawned[0].prompt, "first");
        let tree = s.agents[0].tree.as_ref().expect("attached");
        assert_eq!(tree.wt.branch, "agentmux/iso");
        assert_eq!(spawned[0].spec.cwd, tree.wt.cwd, "the turn runs in the worktree");
        assert_eq!(s.agents[0].queue.len(), 1, "the second prompt follows the first turn");
        // The note that said it was being prepared says it is ready.
        s.set_focus(0);
        let text = screen(&s).backend().to_string();
        assert!(text.contains("git worktree ready (branch agentmux/iso)"), "{text}");
        assert!(!text.contains("preparing"), "{text}");

        // Outside a repository the agent is told why, and nothing is sent.
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let new = ControlCmd::New {
            spec: Box::new(AgentSpec::new("lost", elsewhere.path())),
            prompt: Some("go".into()),
            worktree: true,
        };
        let fx = update(&mut s, Msg::Control { id: RequestId::fresh(), cmd: new });
        let rest = drive(&mut s, fx);
        assert!(!rest.iter().any(|e| matches!(e, Effect::SpawnTurn(_))));
        assert!(s.agents[1].tree.is_none());
        s.set_focus(1);
        let text = screen(&s).backend().to_string();
        assert!(text.contains("could not create the worktree"), "{text}");
        assert!(text.contains("no git worktree") && !text.contains("preparing"), "{text}");
    }

    #[test]
    fn agents_sharing_a_directory_are_warned_about_the_same_file() {
        let r = repo();
        let mut s = State::new(
            &team(&r.dir, &["api", "web", "docs"], false),
            ClaudeCmd::real("claude"),
            (120, 20),
            Instant::now(),
        );
        // Absolute and relative paths name the same file (the absolute form is in unit tests
        // of `overlap`; a temporary path would make the snapshot differ per run).
        turn(&mut s, 0, vec![assistant(vec![edit_tool("./src/../src/lib.rs")])], "ok", || {});
        turn(&mut s, 1, vec![assistant(vec![edit_tool("src/lib.rs")])], "ok", || {});
        turn(&mut s, 2, vec![assistant(vec![edit_tool("README.md")])], "ok", || {});
        let warnings = |name: &str| s.edits.warnings_for(name).len();
        assert_eq!((warnings("api"), warnings("web"), warnings("docs")), (1, 1, 0));
        // Each pane says so in its transcript, and in its header while there is room.
        let text = screen(&s).backend().to_string();
        assert!(text.contains("⚠ src/lib.rs is also edited by web"), "{text}");
        assert!(text.contains("⚠ src/lib.rs is also edited by api"), "{text}");
        assert_eq!(text.matches("is also edited").count(), 2, "{text}");
        s.size = (200, 20);
        fixed_sessions(&mut s);
        insta::assert_snapshot!("app_shared_edit_warnings", screen(&s).backend());
    }
}

/// The run loop carries out the git jobs off its thread and applies their answers.
mod run_loop {
    use super::*;
    use agentmux::agent::event::{Event, ResultEvent};
    use agentmux::agent::{AgentSpec, ClaudeCmd, EngineMsg, ExitInfo, Line};
    use agentmux::app::{Msg, State};
    use agentmux::config::{Team, TeamAgent};
    use agentmux::run::{event_loop, Executor, Headless, Inbox};
    use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::Duration;
    use tokio::sync::mpsc;

    #[test]
    fn team_agents_with_worktree_true_get_one_and_a_bad_directory_names_the_agent() {
        let r = repo();
        let agent = |name: &str, worktree| TeamAgent {
            spec: AgentSpec::new(name, &r.dir),
            prompt: None,
            worktree,
        };
        let team =
            Team { agents: vec![agent("api", true), agent("web", false)], ..Default::default() };
        let opened =
            agentmux::app::worktree::open_team_worktrees(&git(), &team).expect("worktrees");
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].0, "api");
        assert_eq!(opened[0].1.branch, "agentmux/api");

        let elsewhere = tempfile::tempdir().expect("tempdir");
        let team = Team {
            agents: vec![TeamAgent {
                spec: AgentSpec::new("lost", elsewhere.path()),
                prompt: None,
                worktree: true,
            }],
            ..Default::default()
        };
        let Err((name, err)) = agentmux::app::worktree::open_team_worktrees(&git(), &team) else {
            panic!("a directory outside any repository must fail")
        };
        assert_eq!(name, "lost");
        assert!(matches!(err, WorktreeError::NotARepository { .. }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_a_turn_the_loop_reads_the_counts_off_its_thread() {
        let r = repo();
        let team = Team {
            agents: vec![TeamAgent {
                spec: AgentSpec::new("api", &r.dir),
                prompt: None,
                worktree: true,
            }],
            ..Default::default()
        };
        let mut state = State::new(&team, ClaudeCmd::real("claude"), (100, 20), Instant::now());
        let wt = open_agent(&r, "api");
        state.attach_worktree("api", wt.clone());
        let mut terminal = Terminal::new(TestBackend::new(100, 20)).expect("terminal");

        let (engine_tx, engine_rx) = mpsc::channel(64);
        let (_control_tx, control_rx) = mpsc::channel(4);
        let (local_tx, local_rx) = mpsc::unbounded_channel();
        // Git answers pass through here on their way to the loop, so the test knows when.
        let (git_tx, mut git_rx) = mpsc::unbounded_channel::<Msg>();
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut seen = Some(seen_tx);
            while let Some(m) = git_rx.recv().await {
                let _ = local_tx.send(m);
                if let Some(tx) = seen.take() {
                    let _ = tx.send(());
                }
            }
        });
        // A turn under way: the engine's messages come from the test, as a reader thread
        // would send them, after the "agent" edited a file where its turn runs.
        let req = state.begin_turn(0, agentmux::app::queue::Prompt::user("go")).expect("a turn");
        assert_eq!(req.spec.cwd, wt.cwd, "the turn runs in the worktree");
        let (agent, turn) = (req.agent, req.turn);
        let engine = engine_tx.clone();
        let agent_turn = move || {
            write(&req.spec.cwd.join("src/lib.rs"), "fn a() {}\nfn z() {}\n");
            let result = Line::Event(Event::Result(ResultEvent {
                subtype: "success".into(),
                result: Some("rewrote lib".into()),
                ..Default::default()
            }));
            let exit = ExitInfo { code: Some(0), signal: None, tail: vec![] };
            [
                EngineMsg::Started { agent, turn, pid: None },
                EngineMsg::Lines {
                    agent,
                    turn,
                    lines: vec![(String::new(), result)],
                    ticket: Default::default(),
                },
                EngineMsg::Exited { agent, turn, exit },
            ]
        };
        let spawner: agentmux::run::Spawner = Box::new(|_, _| Err("no turns here".into()));
        let mut exec = Executor::new(engine_tx, spawner).with_worktree_replies(git_tx);
        let (term_tx, term_rx) = mpsc::channel::<std::io::Result<TermEvent>>(16);
        let inbox =
            Inbox { terminal: term_rx, engine: engine_rx, control: control_rx, local: local_rx };
        let key = |code, mods| Ok(TermEvent::Key(KeyEvent::new(code, mods)));
        let driver = async {
            for m in agent_turn() {
                assert!(engine.send(m).await.is_ok());
            }
            assert!(seen_rx.await.is_ok(), "git answered");
            let _ = term_tx.try_send(key(KeyCode::Char('q'), KeyModifiers::CONTROL));
        };
        let mut host = Headless;
        let looped = event_loop(&mut terminal, &mut state, inbox, &mut exec, &mut host, vec![]);
        let (result, ()) =
            tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(looped, driver) })
                .await
                .unwrap_or_else(|_| panic!("the loop did not finish"));
        assert!(result.is_ok());
        let changes =
            state.agents[0].tree.as_ref().and_then(|t| t.changes.clone()).expect("counts");
        assert_eq!(changes.uncommitted, DiffStat { files: 1, added: 1, removed: 3 }, "{changes:?}");
        assert_eq!(
            state.agents[0].tree.as_ref().and_then(|t| t.last_result.clone()).as_deref(),
            Some("rewrote lib")
        );
    }
}

/// The `[worktree]` table of team files reaches the worktrees.
mod team_file {
    use super::*;
    use agentmux::config::{Layers, Team};

    #[test]
    fn setup_commands_and_the_directory_come_from_the_team_file() {
        let r = repo();
        write(&r.dir.join(".env"), "KEY=1\n");
        let text = r#"
[worktree]
setup = [["cp", "{repo}/.env", "."], []]
dir = "../trees"

[[agent]]
name = "api"
worktree = true
"#;
        let team = Team::parse_str(text, Path::new("team.toml"), &r.dir, &Layers::default())
            .expect("team file");
        assert_eq!(team.worktree.setup, vec![vec!["cp", "{repo}/.env", "."]]);
        assert_eq!(team.worktree.dir, Some(r.dir.join("../trees")));
        let opened = agentmux::app::worktree::open_team_worktrees(&git(), &team).expect("open");
        let wt = &opened[0].1;
        assert_eq!(wt.path, r.dir.parent().expect("parent").join("trees/api"));
        assert_eq!(std::fs::read_to_string(wt.path.join(".env")).expect(".env"), "KEY=1\n");

        let wrong = "[worktree]\nsetup = \"make\"\n";
        let err = Team::parse_str(wrong, Path::new("team.toml"), &r.dir, &Layers::default());
        assert!(err.is_err(), "setup must be a list of argument lists");
    }

    #[test]
    fn the_example_team_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/worktrees.toml");
        let team = Team::load(&path, &Layers::default()).expect("config/worktrees.toml");
        assert!(team.agents.iter().all(|a| a.worktree));
        assert_eq!(team.worktree.setup.len(), 1);
    }
}

/// The real binary in a PTY: an agent with `worktree = true` shows its branch, and alt-t hands
/// the terminal to a shell in the worktree (its keystrokes reach the shell, not agentmux).
mod e2e {
    use super::*;
    use crate::support::term::Term;

    /// A home beside `r` with a claude stand-in, and the environment agentmux runs in there.
    fn home_beside(r: &Repo) -> (PathBuf, Vec<(String, String)>) {
        let home = r.dir.parent().expect("parent").join("home");
        std::fs::create_dir_all(&home).expect("home");
        // agentmux needs a claude to start; no turn runs here, so a stand-in that fails is enough.
        let claude = home.join("claude");
        std::fs::write(&claude, "#!/bin/sh\nexit 1\n").expect("claude");
        std::fs::set_permissions(&claude, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let path = |p: &Path| p.display().to_string();
        let env = [
            ("HOME", path(&home)),
            ("AGENTMUX_CONFIG_DIR", path(&home.join("config"))),
            ("XDG_DATA_HOME", path(&home.join("data"))),
            // The control socket's directory, not the machine's $XDG_RUNTIME_DIR/agentmux.
            ("XDG_RUNTIME_DIR", path(&home)),
            ("AGENTMUX_CLAUDE", path(&claude)),
            ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("SHELL", "/bin/sh".into()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        (home, env.to_vec())
    }

    /// A cloned repository's ./agentmux.toml is shown before anything of it runs: "no" runs
    /// nothing (its setup command never leaves its mark), "yes" runs it and is remembered, and
    /// a changed file asks again.
    #[test]
    fn a_team_file_never_trusted_asks_first_and_a_no_runs_nothing() {
        let r = repo();
        let (home, env) = home_beside(&r);
        let mark = home.join("setup-ran");
        let team = |mode: &str| {
            format!(
                "[worktree]\nsetup = [[\"touch\", \"{}\"]]\n\n[[agent]]\nname = \"api\"\n\
                 worktree = true\npermission_mode = \"{mode}\"\n",
                mark.display()
            )
        };
        write(&r.dir.join("agentmux.toml"), &team("bypassPermissions"));
        sh(&r.dir, &["add", "agentmux.toml"]);
        sh(&r.dir, &["commit", "-qm", "team"]);
        let open = || Term::spawn(&[], &r.dir, &env, (30, 120));
        let worktrees = r.dir.join(".git/agentmux-worktrees");

        let mut t = open();
        let screen = t.wait_text("Trust it and start? [y/N]");
        assert!(screen.contains("Trust this team file?"), "{screen}");
        assert!(screen.contains("you have not trusted it before"), "{screen}");
        assert!(screen.contains("setup command in each new worktree: touch"), "{screen}");
        assert!(screen.contains("permission mode bypassPermissions (api)"), "{screen}");
        t.send(b"n\r");
        let status = t.wait_exit();
        assert!(!status.success(), "a no is not a success: {status:?}");
        assert!(t.screen().contains("not trusted, nothing was started"), "{}", t.screen());
        assert!(!mark.exists(), "the setup command ran without a yes");
        assert!(!worktrees.exists(), "a worktree was made without a yes");

        let mut t = open();
        t.wait_text("Trust it and start? [y/N]");
        t.send(b"y\r");
        t.wait_text("⎇ agentmux/api");
        assert!(mark.exists(), "the setup command did not run after a yes");
        assert!(t.quit().success());

        // The same file again: straight to the panes.
        let mut t = open();
        let screen = t.wait_for("the panes or a question", |s| {
            s.contains("⎇ agentmux/api") || s.contains("Trust this team file?")
        });
        assert!(!screen.contains("Trust this team file?"), "asked again:\n{screen}");
        assert!(t.quit().success());

        // Changed since: asked again, and a no leaves it at that.
        write(&r.dir.join("agentmux.toml"), &team("acceptEdits"));
        let mut t = open();
        let screen = t.wait_text("Trust it and start? [y/N]");
        assert!(screen.contains("it changed since you trusted it"), "{screen}");
        assert!(screen.contains("permission mode acceptEdits (api)"), "{screen}");
        t.send(b"n\r");
        assert!(!t.wait_exit().success());
    }

    #[test]
    fn the_shell_key_opens_a_shell_in_the_worktree_and_comes_back() {
        let r = repo();
        let (_home, env) = home_beside(&r);
        let team = r.dir.join("team.toml");
        std::fs::write(&team, "[[agent]]\nname = \"api\"\ncwd = \".\"\nworktree = true\n")
            .expect("team");
        sh(&r.dir, &["add", "team.toml"]);
        sh(&r.dir, &["commit", "-qm", "team"]);
        let mut t = Term::spawn(&["-c", "team.toml", "--trust"], &r.dir, &env, (30, 120));

        t.wait_text("⎇ agentmux/api");
        t.send(b"\x1bt"); // alt-t
        t.wait_text("agentmux: a shell in");
        // The shell computes this: it shows only if the shell got every keystroke.
        // One byte at a time: each is a chance for another reader of the terminal to take it.
        for b in b"echo MARK-$((6*7)) $(pwd)\n" {
            t.send(&[*b]);
        }
        let screen = t.wait_text("MARK-42 ");
        assert!(screen.contains("agentmux-worktrees/api"), "{screen}");
        // agentmux's start is over, the highlighter's warm-up too (a thread of its own, about
        // 0.3 s of CPU in a debug build): from here on it has nothing to do.
        let pid = t.child.process_id().expect("pid");
        support::term::wait_thread_gone(pid, "highlight-warm");
        let (cpu_before, start) = (support::term::cpu_time(pid), Instant::now());
        // Typed ahead while the shell is busy, so waiting in the terminal: still the shell's.
        t.send(b"sleep 0.5; read x; echo GOT-$x\n");
        t.send(b"typed-ahead\n");
        t.wait_text("GOT-typed-ahead");
        // agentmux does not read the terminal meanwhile. (Here a read would not even take the
        // keys: the shell took the foreground, and agentmux's reads fail with EIO, which
        // crossterm retries at once, forever: a spinning thread.)
        let wall = start.elapsed();
        let used = support::term::cpu_time(pid).zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
        assert!(
            used.is_some_and(|used| used < wall / 2),
            "agentmux used {used:?} of CPU in {wall:?} while the shell had the terminal"
        );
        t.send(b"exit\n");
        let screen = t.wait_text("⎇ agentmux/api");
        assert!(!screen.contains("MARK"), "agentmux drew its screen again:\n{screen}");
        // Keys reach agentmux again: the help overlay opens.
        t.send(b"\x1bOP"); // f1
        t.wait_text("Panes (other keys go to the input box)");
        t.send(b"q"); // closes the help
        t.wait_for("the help to close", |s| !s.contains("Panes (other"));
        t.send(b"\x11"); // ctrl-q
        let status = t.wait_exit();
        assert!(status.success(), "{status:?}");
    }
}
