//! The overview of a big team: one row per agent, those that need the user first, grouped by
//! repository; and the inbox, the agents that need the user in the order they began to.
//!
//! Pure functions of the state (`standing`, `rows`, `arrange`, `inbox`), so the overview, the
//! inbox key and the status bar's count agree; the keys of the overview are at the end.

use std::collections::BTreeSet;
use std::time::Instant;

use super::command::Command;
use super::state::{Overlay, State, TurnState};
use crate::agent::AgentId;

/// Why an agent needs the user, most pressing first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// A tool call waits for permission.
    Approval,
    /// The agent asked a question (`AskUserQuestion`).
    Question,
    /// A plan waits for approval (`ExitPlanMode`).
    Plan,
    /// Its last turn failed and the user has not looked since.
    Failed,
    /// Its last turn finished and the user has not looked since.
    Unread,
}

/// Where an agent stands, in the overview's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    Needs(Need),
    Running,
    Idle,
}

impl Standing {
    /// The state word the overview shows.
    pub fn word(self) -> &'static str {
        match self {
            Standing::Needs(Need::Approval) => "approve",
            Standing::Needs(Need::Question) => "question",
            Standing::Needs(Need::Plan) => "plan",
            Standing::Needs(Need::Failed) => "failed",
            Standing::Needs(Need::Unread) => "finished",
            Standing::Running => "running",
            Standing::Idle => "idle",
        }
    }

    pub fn needs_you(self) -> bool {
        matches!(self, Standing::Needs(_))
    }
}

/// One agent's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: AgentId,
    pub name: String,
    pub standing: Standing,
    /// When it began to need the user (for the inbox's order).
    pub since: Option<Instant>,
    /// What it waits for, in a few words (a tool call, the failure, ...).
    pub waits_for: String,
    pub last_activity: Option<Instant>,
    pub cost_usd: f64,
    pub tokens: u64,
    /// The repository (or directory) it works in, by its last path component: the group.
    pub repo: String,
    /// Its worktree's branch, when it has one.
    pub branch: Option<String>,
}

/// Where the agent at `i` stands, since when, and what it waits for.
pub fn standing(state: &State, i: usize) -> (Standing, Option<Instant>, String) {
    let a = &state.agents[i];
    if let Some(p) = state.approvals.first_for(a.id) {
        let need = match p.ask.tool_name.as_str() {
            "AskUserQuestion" => Need::Question,
            "ExitPlanMode" => Need::Plan,
            _ => Need::Approval,
        };
        let input = crate::transcript::tool::short_input(&p.ask.input);
        let what = if input.is_empty() {
            p.ask.tool_name.clone()
        } else {
            format!("{}: {input}", p.ask.tool_name)
        };
        return (Standing::Needs(need), Some(p.since), what);
    }
    match &a.turn {
        t if t.is_active() => (Standing::Running, None, String::new()),
        TurnState::Error { message } if a.unread => {
            (Standing::Needs(Need::Failed), a.ended_at, message.clone())
        }
        TurnState::RateLimited { .. } if a.unread => {
            (Standing::Needs(Need::Failed), a.ended_at, "rate limited".into())
        }
        _ if a.unread => (Standing::Needs(Need::Unread), a.ended_at, "finished, unread".into()),
        _ => (Standing::Idle, None, String::new()),
    }
}

/// Every agent's row, in the team's order.
pub fn rows(state: &State) -> Vec<Row> {
    (0..state.agents.len())
        .map(|i| {
            let a = &state.agents[i];
            let (standing, since, waits_for) = standing(state, i);
            let (repo_dir, branch) = match &a.tree {
                Some(t) => (t.wt.repo.as_path(), Some(t.wt.branch.clone())),
                None => (a.spec.cwd.as_path(), None),
            };
            let repo = repo_dir
                .file_name()
                .map_or_else(|| repo_dir.display().to_string(), |n| n.to_string_lossy().into());
            Row {
                id: a.id,
                name: a.name().to_string(),
                standing,
                since,
                waits_for,
                last_activity: a.last_activity,
                cost_usd: a.cost_usd,
                tokens: a.tokens,
                repo,
                branch,
            }
        })
        .collect()
}

/// The agents that need the user, in the order they began to (the team's order breaks ties).
pub fn inbox(rows: &[Row]) -> Vec<AgentId> {
    let mut waiting: Vec<(usize, &Row)> =
        rows.iter().enumerate().filter(|(_, r)| r.standing.needs_you()).collect();
    waiting.sort_by_key(|(i, r)| (r.since, *i));
    waiting.into_iter().map(|(_, r)| r.id).collect()
}

/// What the user chose to see: a filter, idle agents hidden, folded groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lens {
    pub filter: String,
    pub hide_idle: bool,
    pub folded: BTreeSet<String>,
}

/// One line of the overview.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Group { repo: String, agents: usize, need_you: usize, folded: bool },
    Agent(Row),
}

impl Entry {
    fn pick(&self) -> Pick {
        match self {
            Entry::Group { repo, .. } => Pick::Group(repo.clone()),
            Entry::Agent(r) => Pick::Agent(r.id),
        }
    }
}

/// Does the row show through the filter? Plain, case-insensitive text in its name, state,
/// repository, branch or what it waits for.
pub fn shows(row: &Row, filter: &str) -> bool {
    let filter = filter.trim().to_lowercase();
    if filter.is_empty() {
        return true;
    }
    [row.name.as_str(), row.standing.word(), &row.repo, row.branch.as_deref().unwrap_or("")]
        .iter()
        .chain(std::iter::once(&row.waits_for.as_str()))
        .any(|field| field.to_lowercase().contains(&filter))
}

/// The overview's lines: groups by repository (the group with the most pressing agent first),
/// in each the agents that need the user first (longest waiting first), then running, then idle;
/// alike ones in the team's order.
pub fn arrange(rows: Vec<Row>, lens: &Lens) -> Vec<Entry> {
    let mut kept: Vec<Row> = rows
        .into_iter()
        .filter(|r| !(lens.hide_idle && r.standing == Standing::Idle))
        .filter(|r| shows(r, &lens.filter))
        .collect();
    // Stable: agents alike keep the team's order.
    kept.sort_by_key(|r| (r.standing, r.since));
    // Groups in the order of their first (most pressing) agent.
    let mut order: Vec<String> = Vec::new();
    for r in &kept {
        if !order.contains(&r.repo) {
            order.push(r.repo.clone());
        }
    }
    let mut out = Vec::with_capacity(kept.len() + order.len());
    for repo in order {
        let members: Vec<&Row> = kept.iter().filter(|r| r.repo == repo).collect();
        let folded = lens.folded.contains(&repo);
        out.push(Entry::Group {
            repo: repo.clone(),
            agents: members.len(),
            need_you: members.iter().filter(|r| r.standing.needs_you()).count(),
            folded,
        });
        if !folded {
            out.extend(members.into_iter().cloned().map(Entry::Agent));
        }
    }
    out
}

/// The selected line, by what it is rather than where it is: rows move as agents change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    Group(String),
    Agent(AgentId),
}

/// The overview overlay's own state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    pub lens: Lens,
    pub pick: Option<Pick>,
}

impl Overview {
    /// The selected line's index in `entries` (the first agent when nothing is picked yet).
    pub fn selected(&self, entries: &[Entry]) -> Option<usize> {
        let first_agent = || entries.iter().position(|e| matches!(e, Entry::Agent(_)));
        match &self.pick {
            Some(p) => entries.iter().position(|e| e.pick() == *p).or_else(first_agent),
            None => first_agent(),
        }
        .or(if entries.is_empty() { None } else { Some(0) })
    }
}

/// Would the team need more than one page of tiles? Then `agentmux` opens on the overview.
pub fn wanted_at_start(state: &State) -> bool {
    state.usable() && state.tiling().pages > 1
}

pub fn open(state: &mut State) {
    state.overlay = Some(Overlay::Overview(Box::default()));
}

/// Focus the next agent that needs the user, in the inbox's order; says so when none does.
pub fn next_in_inbox(state: &mut State) {
    let inbox = inbox(&rows(state));
    let focused = state.focused().map(|a| a.id);
    let next = match inbox.iter().position(|id| Some(*id) == focused) {
        Some(i) => inbox.get(i + 1).or(inbox.first()),
        None => inbox.first(),
    };
    match next.and_then(|id| state.index_of(*id)) {
        Some(i) if Some(state.agents[i].id) != focused || inbox.len() == 1 => {
            match &mut state.overlay {
                Some(Overlay::Overview(o)) => o.pick = Some(Pick::Agent(state.agents[i].id)),
                _ => state.set_focus(i),
            }
        }
        _ => {
            state.flash = Some("no agent needs you".into());
        }
    }
}

/// Where a movement key takes the selection, in a list of `n` entries.
fn moved(command: Option<Command>, at: Option<usize>, n: usize) -> Option<usize> {
    let step = |by: isize| {
        let last = n.saturating_sub(1) as isize;
        at.map(|i| (i as isize + by).clamp(0, last) as usize)
    };
    match command? {
        Command::ScrollUp => step(-1),
        Command::ScrollDown => step(1),
        Command::PageUp => step(-10),
        Command::PageDown => step(10),
        Command::ScrollTop => (n > 0).then_some(0),
        Command::ScrollBottom => n.checked_sub(1),
        _ => None,
    }
}

/// A key in the overview. `typed` is the key's character when no binding took it (it edits
/// the filter).
pub fn key(state: &mut State, command: Option<Command>, typed: Option<TypedKey>) {
    let all = rows(state);
    let entries = arrange(all.clone(), &lens_of(state));
    let Some(Overlay::Overview(o)) = &mut state.overlay else { return };
    let at = o.selected(&entries);
    if let Some(i) = moved(command, at, entries.len()) {
        o.pick = entries.get(i).map(Entry::pick);
        return;
    }
    match (command, at.and_then(|i| entries.get(i))) {
        (Some(Command::ToggleFold), Some(e)) => {
            let repo = match e {
                Entry::Group { repo, .. } => repo.clone(),
                Entry::Agent(r) => r.repo.clone(),
            };
            toggle_fold(&mut o.lens.folded, &repo);
            o.pick = Some(Pick::Group(repo));
        }
        (Some(Command::Submit), Some(Entry::Agent(r))) => {
            // A filter (or hidden idle agents) chose a few: the tiles show those; without one,
            // every agent again.
            let narrowed = !o.lens.filter.trim().is_empty() || o.lens.hide_idle;
            let listed = entries.iter().filter_map(|e| match e {
                Entry::Agent(r) => Some(r.id),
                Entry::Group { .. } => None,
            });
            let tiles = if narrowed { listed.collect() } else { Vec::new() };
            tile_and_focus(state, tiles, r.id);
        }
        (Some(Command::Submit), Some(Entry::Group { repo, .. })) => {
            toggle_fold(&mut o.lens.folded, repo)
        }
        (Some(Command::HideIdle), _) => o.lens.hide_idle = !o.lens.hide_idle,
        (Some(Command::Close), _) => state.overlay = None,
        (None, _) => {
            match typed {
                Some(TypedKey::Char(c)) => o.lens.filter.push(c),
                Some(TypedKey::Backspace) => {
                    o.lens.filter.pop();
                }
                None => return,
            }
            // The pick becomes what the filtered list shows selected, so it stays there as
            // the filter changes again.
            let shown = arrange(all, &o.lens);
            o.pick = o.selected(&shown).and_then(|i| shown.get(i)).map(Entry::pick);
        }
        _ => {}
    }
}

/// Leaves the overview for the tiles (`tiles`: the agents to tile, empty for all) with
/// agent `id` focused.
fn tile_and_focus(state: &mut State, tiles: Vec<AgentId>, id: AgentId) {
    let narrowed = !tiles.is_empty();
    state.shown = tiles;
    state.overlay = None;
    if let Some(i) = state.index_of(id) {
        state.set_focus(i);
    }
    if narrowed {
        state.flash = Some(format!(
            "tiles: {} of {} agents, as filtered (enter in the overview with no filter shows \
             all)",
            state.tiled_agents().len(),
            state.agents.len()
        ));
    }
}

/// A folded repository opens, an open one folds.
fn toggle_fold(folded: &mut BTreeSet<String>, repo: &str) {
    if !folded.remove(repo) {
        folded.insert(repo.to_string());
    }
}

/// A key that edits the overview's filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypedKey {
    Char(char),
    Backspace,
}

fn lens_of(state: &State) -> Lens {
    match &state.overlay {
        Some(Overlay::Overview(o)) => o.lens.clone(),
        _ => Lens::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::fixtures;
    use crate::app::{update, Msg};

    fn row(n: u32, name: &str, standing: Standing, since: Option<u64>, repo: &str) -> Row {
        let t0 = Instant::now();
        Row {
            id: AgentId(n),
            name: name.into(),
            standing,
            since: since.map(|s| t0 + Duration::from_secs(s)),
            waits_for: String::new(),
            last_activity: None,
            cost_usd: 0.0,
            tokens: 0,
            repo: repo.into(),
            branch: (name == "b").then(|| "agentmux/b".into()),
        }
    }

    fn team_rows() -> Vec<Row> {
        use Need::*;
        vec![
            row(0, "idle-a", Standing::Idle, None, "api"),
            row(1, "run-a", Standing::Running, None, "api"),
            row(2, "done", Standing::Needs(Unread), Some(5), "web"),
            row(3, "ask", Standing::Needs(Approval), Some(9), "api"),
            row(4, "broke", Standing::Needs(Failed), Some(1), "web"),
            row(5, "b", Standing::Idle, None, "web"),
            row(6, "plan", Standing::Needs(Plan), Some(3), "api"),
        ]
    }

    fn names(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Group { repo, agents, need_you, folded } => {
                    format!("[{repo} {agents}/{need_you}{}]", if *folded { " folded" } else { "" })
                }
                Entry::Agent(r) => r.name.clone(),
            })
            .collect()
    }

    #[test]
    fn needs_you_first_then_running_then_idle_grouped_by_repo() {
        let cases: &[(&str, Lens, &[&str])] = &[
            (
                "everything",
                Lens::default(),
                &["[api 4/2]", "ask", "plan", "run-a", "idle-a", "[web 3/2]", "broke", "done", "b"],
            ),
            (
                "idle hidden",
                Lens { hide_idle: true, ..Lens::default() },
                &["[api 3/2]", "ask", "plan", "run-a", "[web 2/2]", "broke", "done"],
            ),
            (
                "a folded group keeps its counts",
                Lens { folded: ["api".to_string()].into(), ..Lens::default() },
                &["[api 4/2 folded]", "[web 3/2]", "broke", "done", "b"],
            ),
            (
                "filter by name, any case",
                Lens { filter: "Run-".into(), ..Lens::default() },
                &["[api 1/0]", "run-a"],
            ),
            (
                "filter by state word and branch",
                Lens { filter: "agentmux/".into(), ..Lens::default() },
                &["[web 1/0]", "b"],
            ),
            (
                "filter by repo",
                Lens { filter: "web".into(), ..Lens::default() },
                &["[web 3/2]", "broke", "done", "b"],
            ),
            ("regex characters are literal", Lens { filter: ".*".into(), ..Lens::default() }, &[]),
            (
                "a blank filter hides nothing",
                Lens { filter: "  ".into(), ..Lens::default() },
                &["[api 4/2]", "ask", "plan", "run-a", "idle-a", "[web 3/2]", "broke", "done", "b"],
            ),
        ];
        for (why, lens, want) in cases {
            assert_eq!(names(&arrange(team_rows(), lens)), *want, "{why}");
        }
        assert!(arrange(Vec::new(), &Lens::default()).is_empty(), "no agents, no lines");
    }

    #[test]
    fn the_inbox_is_in_the_order_they_began_to_wait() {
        let ids: Vec<u32> = inbox(&team_rows()).into_iter().map(|id| id.0).collect();
        assert_eq!(ids, [4, 6, 2, 3]);
        assert!(inbox(&[]).is_empty());
    }

    #[test]
    fn standing_from_the_agents_state() {
        let mut s =
            fixtures::state(false, &[("a", "x"), ("b", "y"), ("c", "z"), ("d", "w")], (120, 40));
        let now = s.now;
        s.agents[0].turn = TurnState::Running { since: now };
        s.agents[1].turn = TurnState::Error { message: "boom".into() };
        s.agents[1].unread = true;
        s.agents[2].unread = true;
        s.agents[3].turn = TurnState::Error { message: "seen".into() };
        let got: Vec<(Standing, String)> =
            (0..4).map(|i| standing(&s, i)).map(|(st, _, w)| (st, w)).collect();
        assert_eq!(
            got,
            [
                (Standing::Running, String::new()),
                (Standing::Needs(Need::Failed), "boom".into()),
                (Standing::Needs(Need::Unread), "finished, unread".into()),
                (Standing::Idle, String::new()),
            ]
        );
    }

    #[test]
    fn a_finished_turn_is_unread_until_the_agent_has_the_focus() {
        let mut s = fixtures::state(false, &[("a", "x"), ("b", "y")], (120, 40));
        for i in 0..2 {
            let _ = s.begin_turn(i, crate::app::queue::Prompt::user(format!("go {i}")));
            let (id, turn) = (s.agents[i].id, s.agents[i].turn_seq);
            update(&mut s, fixtures::exited(id, turn, 0));
        }
        assert_eq!(s.focus, 0);
        assert!(!s.agents[0].unread, "the focused agent's turn was seen");
        assert!(s.agents[1].unread);
        assert_eq!(inbox(&rows(&s)), [s.agents[1].id]);
        next_in_inbox(&mut s);
        assert_eq!(s.focus, 1);
        update(&mut s, Msg::Redraw);
        assert!(!s.agents[1].unread, "seen once focused");
        next_in_inbox(&mut s);
        assert_eq!(s.flash.as_deref(), Some("no agent needs you"));
    }

    #[test]
    fn keys_move_filter_fold_and_open() {
        use crossterm::event::{KeyCode, KeyModifiers};
        let agents: Vec<(String, &str)> = (1..=5).map(|i| (format!("w-{i}"), "r")).collect();
        let agents: Vec<(&str, &str)> = agents.iter().map(|(n, r)| (n.as_str(), *r)).collect();
        let mut s = fixtures::state(false, &agents, (120, 40));
        update(&mut s, fixtures::key_mod(KeyCode::Char('m'), KeyModifiers::ALT));
        assert!(matches!(s.overlay, Some(Overlay::Overview(_))));
        let picked = |s: &State| match &s.overlay {
            Some(Overlay::Overview(o)) => {
                let entries = arrange(rows(s), &o.lens);
                o.selected(&entries).map(|i| names(&entries)[i].clone())
            }
            _ => None,
        };
        assert_eq!(picked(&s).as_deref(), Some("w-1"));
        update(&mut s, fixtures::key(KeyCode::Down));
        update(&mut s, fixtures::key(KeyCode::Down));
        assert_eq!(picked(&s).as_deref(), Some("w-3"));
        fixtures::type_text(&mut s, "w-5");
        assert_eq!(picked(&s).as_deref(), Some("w-5"), "the filter leaves one");
        update(&mut s, fixtures::key(KeyCode::Backspace));
        assert_eq!(picked(&s).as_deref(), Some("w-5"), "the pick stays on its agent");
        update(&mut s, fixtures::key(KeyCode::Tab));
        assert_eq!(picked(&s).as_deref(), Some("[project 5/0 folded]"));
        update(&mut s, fixtures::key(KeyCode::Enter));
        update(&mut s, fixtures::key(KeyCode::End));
        assert_eq!(picked(&s).as_deref(), Some("w-5"));
        update(&mut s, fixtures::key(KeyCode::Enter));
        assert!(s.overlay.is_none(), "enter opens the agent");
        assert_eq!(s.focus, 4);
        assert!(s.agents.iter().all(|a| a.input_is_empty()), "nothing typed reached an input");
    }

    #[test]
    fn enter_on_a_filtered_list_tiles_those_agents_and_an_unfiltered_one_all_again() {
        use crossterm::event::{KeyCode, KeyModifiers};
        let names: Vec<String> = (1..=12)
            .map(|i| if i % 4 == 0 { format!("api-{i}") } else { format!("w-{i}") })
            .collect();
        let agents: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "r")).collect();
        let mut s = fixtures::state(false, &agents, (120, 40));
        let tiled = |s: &State| -> Vec<String> {
            let mut on: Vec<usize> = s.tiling().placed.iter().map(|p| p.pane).collect();
            on.sort();
            on.iter().map(|&i| s.agents[i].name().to_string()).collect()
        };
        let alt_m = || fixtures::key_mod(KeyCode::Char('m'), KeyModifiers::ALT);
        update(&mut s, alt_m());
        fixtures::type_text(&mut s, "api");
        update(&mut s, fixtures::key(KeyCode::Enter));
        assert_eq!(tiled(&s), ["api-4", "api-8", "api-12"]);
        assert_eq!(s.agents[s.focus].name(), "api-4");
        assert!(s.flash.as_deref().is_some_and(|f| f.contains("3 of 12")), "{:?}", s.flash);
        // Tab goes round the tiled few only.
        update(&mut s, fixtures::key(KeyCode::Tab));
        assert_eq!(s.agents[s.focus].name(), "api-8");
        update(&mut s, fixtures::key(KeyCode::Tab));
        update(&mut s, fixtures::key(KeyCode::Tab));
        assert_eq!(s.agents[s.focus].name(), "api-4");
        // The overview with no filter: enter tiles everyone again.
        update(&mut s, alt_m());
        update(&mut s, fixtures::key(KeyCode::Enter));
        assert!(s.shown.is_empty());
        assert!(tiled(&s).len() > 3, "{:?}", tiled(&s));
    }
}
