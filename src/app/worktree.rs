//! The app's side of agent worktrees: what it keeps per agent, the jobs the loop runs on a
//! blocking task (git is never run on the UI thread), and the handlers `update` calls.
//!
//! The flow: a turn ends -> [`after_turn`] asks for a [`WorktreeJob::Changes`] -> the loop
//! runs it with [`WorktreeJob::run`] and sends back [`Msg::Worktree`](super::Msg) -> the
//! header shows the counts. The diff view, commit and removal go the same way.

use std::path::PathBuf;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use tui_textarea::TextArea;

use super::command::Command;
use super::effect::Effect;
use super::state::{Confirm, Overlay, State};
use crate::agent::event::MessageEvent;
use crate::agent::AgentId;
use crate::config::Team;
use crate::transcript::NoteLevel;
use crate::worktree::overlap::{EditLog, SharedEdit};
use crate::worktree::{
    open, propose_commit_message, AgentWorktree, Changes, Committed, FileDiff, Git, Loss,
    OpenRequest, Removed, WorktreeError,
};

/// Opens (or reopens) the worktree of every team agent with `worktree = true`, in order. The
/// first failure stops: an agent asked to be isolated must not run in the shared directory.
pub fn open_team_worktrees(
    git: &Git,
    team: &Team,
) -> Result<Vec<(String, AgentWorktree)>, (String, WorktreeError)> {
    let mut opened = Vec::new();
    for a in team.agents.iter().filter(|a| a.worktree) {
        let req = OpenRequest {
            root: team.worktree.dir.clone(),
            setup: team.worktree.setup.clone(),
            ..OpenRequest::new(a.spec.name.clone(), a.spec.cwd.clone())
        };
        let wt = open(git, &req).map_err(|e| (a.spec.name.clone(), e))?;
        opened.push((a.spec.name.clone(), wt));
    }
    Ok(opened)
}

/// An agent's worktree as the app knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentTree {
    pub wt: AgentWorktree,
    /// The counts read after the last turn; `None` until the first read came back.
    pub changes: Option<Changes>,
    /// A read of the counts is under way.
    pub reading: bool,
    /// Something changed while reading: read again when the read comes back.
    pub reread: bool,
    /// The last turn's result text, for the proposed commit message.
    pub last_result: Option<String>,
    /// The directory the agent came from, where it goes back to when the worktree is removed.
    pub home: PathBuf,
}

impl AgentTree {
    /// Files changed and not committed, by the last read; `None` before the first read came
    /// back (unknown, so closing asks).
    pub fn uncommitted_files(&self) -> Option<u32> {
        self.changes.as_ref().map(|c| c.uncommitted.files)
    }

    pub fn new(wt: AgentWorktree, home: PathBuf) -> Self {
        AgentTree { wt, changes: None, reading: false, reread: false, last_result: None, home }
    }
}

/// Work for the loop to run off the UI thread; each job answers with one [`WorktreeMsg`].
#[derive(Clone, Debug)]
pub enum WorktreeJob {
    /// Create (or reopen) the worktree of an agent made at run time.
    Open {
        agent: AgentId,
        request: Box<OpenRequest>,
    },
    Changes {
        agent: AgentId,
        wt: Box<AgentWorktree>,
    },
    Diff {
        agent: AgentId,
        wt: Box<AgentWorktree>,
    },
    Commit {
        agent: AgentId,
        wt: Box<AgentWorktree>,
        message: String,
    },
    Remove {
        agent: AgentId,
        wt: Box<AgentWorktree>,
        confirmed: Option<Loss>,
    },
}

/// How a removal went.
#[derive(Clone, Debug, PartialEq)]
pub enum RemoveOutcome {
    Removed(Removed),
    /// Work would be lost: ask the user, with these counts.
    NeedsConfirm(Loss),
    Failed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum WorktreeMsg {
    Opened {
        agent: AgentId,
        result: Result<Box<AgentWorktree>, String>,
    },
    Changes {
        agent: AgentId,
        result: Result<Changes, String>,
    },
    Diff {
        agent: AgentId,
        result: Result<Vec<FileDiff>, String>,
    },
    Committed {
        agent: AgentId,
        result: Result<Committed, String>,
    },
    Removed {
        agent: AgentId,
        outcome: RemoveOutcome,
    },
    /// The user's shell in the worktree exited: the files may have changed.
    ShellExited {
        agent: AgentId,
    },
}

impl WorktreeJob {
    /// Runs the job. Blocking: the loop calls it from `spawn_blocking`.
    pub fn run(self, git: &Git) -> WorktreeMsg {
        match self {
            WorktreeJob::Open { agent, request } => WorktreeMsg::Opened {
                agent,
                result: open(git, &request).map(Box::new).map_err(|e| e.to_string()),
            },
            WorktreeJob::Changes { agent, wt } => {
                WorktreeMsg::Changes { agent, result: wt.changes(git).map_err(|e| e.to_string()) }
            }
            WorktreeJob::Diff { agent, wt } => WorktreeMsg::Diff {
                agent,
                result: wt.diff(git, crate::worktree::DiffScope::All).map_err(|e| e.to_string()),
            },
            WorktreeJob::Commit { agent, wt, message } => WorktreeMsg::Committed {
                agent,
                result: wt.commit(git, &message).map_err(|e| e.to_string()),
            },
            WorktreeJob::Remove { agent, wt, confirmed } => {
                let outcome = match wt.remove(git, confirmed) {
                    Ok(removed) => RemoveOutcome::Removed(removed),
                    Err(WorktreeError::WouldLoseWork { loss, .. }) => {
                        RemoveOutcome::NeedsConfirm(loss)
                    }
                    Err(e) => RemoveOutcome::Failed(e.to_string()),
                };
                WorktreeMsg::Removed { agent, outcome }
            }
        }
    }
}

/// Which file of the diff view is selected and how far its hunks are scrolled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiffScroll {
    pub selected: usize,
    /// Rows of the selected file's hunks scrolled past.
    pub offset: usize,
}

impl DiffScroll {
    /// Selects file `index` (clamped to the list) and shows it from the top.
    pub fn select(&mut self, index: usize, files: usize) {
        self.selected = index.min(files.saturating_sub(1));
        self.offset = 0;
    }

    pub fn next_file(&mut self, files: usize) {
        self.select(self.selected.saturating_add(1), files);
    }

    pub fn prev_file(&mut self, files: usize) {
        self.select(self.selected.saturating_sub(1), files);
    }

    /// Scrolls by `delta` rows within `rows` rows of content shown `viewport` rows at a time.
    pub fn scroll(&mut self, delta: isize, rows: usize, viewport: usize) {
        let max = max_offset(rows, viewport);
        let from = self.offset.min(max);
        self.offset = if delta < 0 {
            from.saturating_sub(delta.unsigned_abs())
        } else {
            from.saturating_add(delta.unsigned_abs()).min(max)
        };
    }

    pub fn page_down(&mut self, rows: usize, viewport: usize) {
        self.scroll(viewport.saturating_sub(1).max(1) as isize, rows, viewport);
    }

    pub fn page_up(&mut self, rows: usize, viewport: usize) {
        self.scroll(-(viewport.saturating_sub(1).max(1) as isize), rows, viewport);
    }

    pub fn to_end(&mut self, rows: usize, viewport: usize) {
        self.offset = max_offset(rows, viewport);
    }

    /// The offset to draw with: never past the last page, whatever was stored.
    pub fn effective_offset(&self, rows: usize, viewport: usize) -> usize {
        self.offset.min(max_offset(rows, viewport))
    }
}

pub fn max_offset(rows: usize, viewport: usize) -> usize {
    rows.saturating_sub(viewport)
}

/// The rows a file's hunks take in the diff view (its title line not included): a header
/// row per hunk plus its lines, one more for a cut file; one row for a binary or empty file.
pub fn file_rows(file: &FileDiff) -> usize {
    if file.binary || file.hunks.is_empty() {
        return 1;
    }
    let body: usize = file.hunks.iter().map(|h| 1 + h.lines.len()).sum();
    body + usize::from(file.truncated)
}

/// The rows the hunk pane has for content in a view of `area` (a title line takes one).
pub fn hunk_viewport(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(1))
}

/// The diff overlay's frame in the panes' area: all of it but a margin of one cell.
pub fn diff_overlay_rect(panes: Rect) -> Rect {
    if panes.width < 10 || panes.height < 6 {
        return panes;
    }
    Rect { x: panes.x + 1, y: panes.y + 1, width: panes.width - 2, height: panes.height - 2 }
}

/// Inside the overlay's border.
pub fn diff_overlay_inner(panes: Rect) -> Rect {
    let r = diff_overlay_rect(panes);
    Rect {
        x: r.x.saturating_add(1),
        y: r.y.saturating_add(1),
        width: r.width.saturating_sub(2),
        height: r.height.saturating_sub(2),
    }
}

/// The diff view over the panes.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffOverlay {
    pub agent: AgentId,
    /// `None` while the diff is being read.
    pub files: Option<Vec<FileDiff>>,
    pub scroll: DiffScroll,
    pub error: Option<String>,
}

/// Editing the commit message before committing.
#[derive(Clone, Debug)]
pub struct CommitForm {
    pub agent: AgentId,
    pub input: TextArea<'static>,
    pub error: Option<String>,
    /// The commit is under way.
    pub busy: bool,
}

impl CommitForm {
    pub fn message(&self) -> String {
        self.input.lines().join("\n")
    }
}

fn job_wt(state: &State, index: usize) -> Option<Box<AgentWorktree>> {
    state.agents.get(index)?.tree.as_ref().map(|t| Box::new(t.wt.clone()))
}

const PREPARING: &str = "⎇ preparing a git worktree…";

/// Gives the agent at `index` (just created, idle) a worktree of its own. Until it is ready
/// the agent's prompts wait in its queue, `prompt` first.
pub fn open_for(state: &mut State, index: usize, prompt: Option<String>, fx: &mut Vec<Effect>) {
    let settings = state.worktree_settings.clone();
    let Some(a) = state.agents.get_mut(index) else { return };
    if let Some(p) = prompt.filter(|p| !p.trim().is_empty()) {
        a.queue.push_back(super::queue::Prompt::user(p));
    }
    a.transcript.push_note(PREPARING, NoteLevel::Info);
    let request = OpenRequest {
        root: settings.dir,
        setup: settings.setup,
        ..OpenRequest::new(a.spec.name.clone(), a.spec.cwd.clone())
    };
    state.opening_worktrees.push(a.id);
    fx.push(Effect::Worktree(WorktreeJob::Open { agent: a.id, request: Box::new(request) }));
}

/// After a turn: read the agent's changes (one read at a time; a second request waits).
pub fn after_turn(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    let Some(agent) = state.agents.get_mut(index) else { return };
    let id = agent.id;
    let Some(tree) = agent.tree.as_mut() else { return };
    if tree.reading {
        tree.reread = true;
        return;
    }
    tree.reading = true;
    fx.push(Effect::Worktree(WorktreeJob::Changes { agent: id, wt: Box::new(tree.wt.clone()) }));
}

/// Keeps what a message tells the worktree side: the files edited by agents that share a
/// directory. A file newly edited by two agents gets a warning line in each of their panes
/// (the header keeps a short form while there is room).
pub fn on_message(state: &mut State, index: usize, message: &MessageEvent) {
    let Some(agent) = state.agents.get(index) else { return };
    if agent.tree.is_some() {
        return;
    }
    let (name, cwd) = (agent.spec.name.clone(), agent.spec.cwd.clone());
    let before = state.edits.shared();
    let mut recorded = false;
    for block in &message.content {
        recorded |= state.edits.record_block(&name, &cwd, block).is_some();
    }
    if !recorded {
        return;
    }
    for edit in state.edits.shared() {
        if before.contains(&edit) {
            continue;
        }
        for a in state.agents.iter_mut().filter(|a| edit.agents.contains(&a.spec.name)) {
            let others: Vec<&str> =
                edit.agents.iter().map(String::as_str).filter(|n| *n != a.spec.name).collect();
            let shown = edit.path.strip_prefix(&a.spec.cwd).unwrap_or(&edit.path);
            let line = format!(
                "⚠ {} is also edited by {} (same directory, no worktree)",
                shown.display(),
                others.join(", ")
            );
            a.transcript.push_note(&line, NoteLevel::Warn);
        }
    }
}

pub fn on_result_text(state: &mut State, index: usize, text: Option<&str>) {
    if let Some(tree) = state.agents.get_mut(index).and_then(|a| a.tree.as_mut()) {
        tree.last_result = text.map(str::to_string);
    }
}

/// The files this agent edited that another agent in the same directory edited too.
pub fn shared_edits(edits: &EditLog, agent: &str) -> Vec<SharedEdit> {
    edits.warnings_for(agent)
}

/// Handles a pane command that belongs to worktrees; false when `command` is not one.
pub fn pane_command(state: &mut State, command: Command, fx: &mut Vec<Effect>) -> bool {
    let focus = state.focus;
    match command {
        Command::Diff => open_diff(state, focus, fx),
        Command::Commit => open_commit(state, focus),
        Command::Shell => {
            if let Some(wt) = require_tree(state, focus) {
                let agent = state.agents[focus].id;
                fx.push(Effect::Shell { agent, wt });
            }
        }
        Command::RemoveWorktree => remove(state, focus, None, fx),
        _ => return false,
    }
    true
}

fn require_tree(state: &mut State, index: usize) -> Option<Box<AgentWorktree>> {
    let wt = job_wt(state, index);
    if wt.is_none() {
        let name = state.agents.get(index).map(|a| a.spec.name.clone()).unwrap_or_default();
        state.flash = Some(format!("{name} has no worktree (worktree = true in the team file)"));
    }
    wt
}

fn open_diff(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    let Some(wt) = require_tree(state, index) else { return };
    let agent = state.agents[index].id;
    state.overlay = Some(Overlay::Diff(Box::new(DiffOverlay {
        agent,
        files: None,
        scroll: DiffScroll::default(),
        error: None,
    })));
    fx.push(Effect::Worktree(WorktreeJob::Diff { agent, wt }));
}

fn open_commit(state: &mut State, index: usize) {
    if require_tree(state, index).is_none() {
        return;
    }
    let a = &state.agents[index];
    let text = a.tree.as_ref().and_then(|t| t.last_result.clone()).unwrap_or_default();
    let mut input = super::state::new_input();
    input.insert_str(propose_commit_message(&text, &a.spec.name));
    state.overlay = Some(Overlay::Commit(Box::new(CommitForm {
        agent: a.id,
        input,
        error: None,
        busy: false,
    })));
}

fn remove(state: &mut State, index: usize, confirmed: Option<Loss>, fx: &mut Vec<Effect>) {
    let Some(wt) = require_tree(state, index) else { return };
    let a = &state.agents[index];
    if a.turn.is_active() {
        state.flash = Some(format!("{} is working: stop its turn before removing", a.spec.name));
        return;
    }
    fx.push(Effect::Worktree(WorktreeJob::Remove { agent: a.id, wt, confirmed }));
}

/// The user confirmed a removal that loses `loss`.
pub fn confirm_remove(state: &mut State, agent: AgentId, loss: Loss, fx: &mut Vec<Effect>) {
    if let Some(i) = state.index_of(agent) {
        remove(state, i, Some(loss), fx);
    }
}

/// A key in the diff view.
pub fn diff_key(state: &mut State, command: Option<Command>, fx: &mut Vec<Effect>) {
    let inner = diff_overlay_inner(state.panes_area());
    let viewport = hunk_viewport(inner);
    let Some(Overlay::Diff(view)) = &mut state.overlay else { return };
    let files = view.files.as_deref().unwrap_or(&[]);
    let n = files.len();
    let rows = files.get(view.scroll.selected).map_or(0, file_rows);
    let s = &mut view.scroll;
    match command {
        Some(Command::Close) | Some(Command::Diff) => state.overlay = None,
        Some(Command::ScrollUp) => s.scroll(-1, rows, viewport),
        Some(Command::ScrollDown) => s.scroll(1, rows, viewport),
        Some(Command::PageUp) => s.page_up(rows, viewport),
        Some(Command::PageDown) => s.page_down(rows, viewport),
        Some(Command::ScrollTop) => s.offset = 0,
        Some(Command::ScrollBottom) => s.to_end(rows, viewport),
        Some(Command::NextFile) => s.next_file(n),
        Some(Command::PrevFile) => s.prev_file(n),
        Some(Command::Refresh) => {
            let agent = view.agent;
            view.files = None;
            if let Some(i) = state.index_of(agent) {
                if let Some(wt) = job_wt(state, i) {
                    fx.push(Effect::Worktree(WorktreeJob::Diff { agent, wt }));
                }
            }
        }
        Some(Command::Commit) => {
            let agent = view.agent;
            if let Some(i) = state.index_of(agent) {
                open_commit(state, i);
            }
        }
        _ => {}
    }
}

/// A key in the commit message box.
pub fn commit_key(
    state: &mut State,
    command: Option<Command>,
    key: KeyEvent,
    fx: &mut Vec<Effect>,
) {
    let Some(Overlay::Commit(form)) = &mut state.overlay else { return };
    if form.busy {
        return;
    }
    match command {
        Some(Command::Close) => state.overlay = None,
        Some(Command::Newline) => form.input.insert_newline(),
        Some(Command::Submit) => {
            let message = form.message();
            if message.trim().is_empty() {
                form.error = Some("the commit message is empty".into());
                return;
            }
            let agent = form.agent;
            let wt = state.index_of(agent).and_then(|i| job_wt(state, i));
            let Some(Overlay::Commit(form)) = &mut state.overlay else { return };
            match wt {
                Some(wt) => {
                    form.busy = true;
                    form.error = None;
                    fx.push(Effect::Worktree(WorktreeJob::Commit { agent, wt, message }));
                }
                None => state.overlay = None,
            }
        }
        _ => {
            form.error = None;
            form.input.input(key);
        }
    }
}

/// A job came back.
pub fn on_msg(state: &mut State, msg: WorktreeMsg, fx: &mut Vec<Effect>) {
    match msg {
        WorktreeMsg::Opened { agent, result } => opened(state, agent, result, fx),
        WorktreeMsg::Changes { agent, result } => changes_read(state, agent, result, fx),
        WorktreeMsg::Diff { agent, result } => diff_read(state, agent, result),
        WorktreeMsg::Committed { agent, result } => committed(state, agent, result, fx),
        WorktreeMsg::Removed { agent, outcome } => removed(state, agent, outcome, fx),
        WorktreeMsg::ShellExited { agent } => {
            if let Some(i) = state.index_of(agent) {
                after_turn(state, i, fx);
            }
        }
    }
}

/// The agent's worktree is ready (its prompts that waited go out) or could not be made.
fn opened(
    state: &mut State,
    agent: AgentId,
    result: Result<Box<AgentWorktree>, String>,
    fx: &mut Vec<Effect>,
) {
    state.opening_worktrees.retain(|a| *a != agent);
    let Some(i) = state.index_of(agent) else { return };
    match result {
        Ok(wt) => {
            let ready = format!("⎇ git worktree ready (branch {})", wt.branch);
            state.agents[i].transcript.replace_note(PREPARING, &ready);
            let name = state.agents[i].spec.name.clone();
            state.attach_worktree(&name, *wt);
            fx.push(Effect::Persist);
            after_turn(state, i, fx);
            // The prompts that waited go out now, the first one at once.
            let a = &mut state.agents[i];
            if !a.turn.is_active() {
                if let Some(prompt) = a.queue.pop_front() {
                    if let Some(req) = state.begin_turn(i, prompt) {
                        fx.push(Effect::SpawnTurn(Box::new(req)));
                    }
                }
            }
        }
        Err(e) => {
            let a = &mut state.agents[i];
            a.transcript.replace_note(PREPARING, "⎇ no git worktree");
            a.transcript.push_error(&format!(
                "could not create the worktree: {e}. Nothing was sent; close this agent \
                 or send to run it in {} without a worktree.",
                a.spec.cwd.display()
            ));
        }
    }
}

/// The worktree's changed files, for the header; read again if a turn ended meanwhile.
fn changes_read(
    state: &mut State,
    agent: AgentId,
    result: Result<Changes, String>,
    fx: &mut Vec<Effect>,
) {
    let Some(i) = state.index_of(agent) else { return };
    let Some(tree) = state.agents[i].tree.as_mut() else { return };
    tree.reading = false;
    let reread = std::mem::take(&mut tree.reread);
    match result {
        Ok(changes) => tree.changes = Some(changes),
        Err(e) => state.flash = Some(format!("{}: {e}", state.agents[i].spec.name)),
    }
    if reread {
        after_turn(state, i, fx);
    }
}

/// The diff view's files, if the view is still open on that agent.
fn diff_read(state: &mut State, agent: AgentId, result: Result<Vec<FileDiff>, String>) {
    let Some(Overlay::Diff(view)) = &mut state.overlay else { return };
    if view.agent != agent {
        return;
    }
    match result {
        Ok(files) => {
            let n = files.len();
            view.files = Some(files);
            let selected = view.scroll.selected;
            view.scroll.select(selected, n);
            view.error = None;
        }
        Err(e) => {
            view.files = Some(Vec::new());
            view.error = Some(e);
        }
    }
}

/// A commit made (the form closes, the flash names it) or refused (the form says why).
fn committed(
    state: &mut State,
    agent: AgentId,
    result: Result<Committed, String>,
    fx: &mut Vec<Effect>,
) {
    let commit_open = matches!(&state.overlay, Some(Overlay::Commit(f)) if f.agent == agent);
    match result {
        Ok(done) => {
            if commit_open {
                state.overlay = None;
            }
            let short: String = done.commit.chars().take(7).collect();
            let files =
                if done.files == 1 { "1 file".into() } else { format!("{} files", done.files) };
            state.flash = Some(format!("committed {short} ({files})"));
        }
        Err(e) => match &mut state.overlay {
            Some(Overlay::Commit(form)) if commit_open => {
                form.busy = false;
                form.error = Some(e);
            }
            _ => state.flash = Some(e),
        },
    }
    if let Some(i) = state.index_of(agent) {
        after_turn(state, i, fx);
    }
}

/// A worktree removed (the agent works where it came from), or a question first.
fn removed(state: &mut State, agent: AgentId, outcome: RemoveOutcome, fx: &mut Vec<Effect>) {
    let Some(i) = state.index_of(agent) else { return };
    match outcome {
        RemoveOutcome::NeedsConfirm(loss) => {
            state.overlay = Some(Overlay::Confirm(Confirm::RemoveWorktree { agent, loss }));
        }
        RemoveOutcome::Removed(removed) => {
            let a = &mut state.agents[i];
            if let Some(tree) = a.tree.take() {
                // The agent works where it came from again; its branch stays.
                a.spec.cwd = tree.home;
            }
            state.flash = Some(removed.message());
            fx.push(Effect::Persist);
        }
        RemoveOutcome::Failed(e) => state.flash = Some(e),
    }
}
