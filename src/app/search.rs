//! The search bar: the focused transcript's hits, stepped through one by one (the pane scrolls
//! to each and highlights what matched), or every agent's hits listed by agent. What matches is
//! `transcript::search`'s call, the same as `agentmux search`'s.

use super::command::Command;
use super::overview::TypedKey;
use super::state::{Overlay, State};
use crate::agent::AgentId;
use crate::transcript::search::{search, Hit, Needle, MAX_HITS};

/// Where the bar searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One agent's transcript (the one focused when the bar opened).
    One(AgentId),
    /// Every agent's.
    All,
}

/// The search bar's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchBar {
    pub scope: Scope,
    pub query: String,
    /// The hits, agent by agent (one agent's only for [`Scope::One`]).
    pub hits: Vec<(AgentId, Hit)>,
    /// The selected hit.
    pub at: usize,
    /// The limit cut the hits.
    pub truncated: bool,
}

impl SearchBar {
    pub fn new(scope: Scope) -> SearchBar {
        SearchBar { scope, query: String::new(), hits: Vec::new(), at: 0, truncated: false }
    }

    /// The needle, when the query is not blank.
    pub fn needle(&self) -> Option<Needle> {
        Needle::new(&self.query).ok()
    }

    pub fn current(&self) -> Option<&(AgentId, Hit)> {
        self.hits.get(self.at)
    }
}

/// Opens the bar on the focused transcript, or on every agent's.
pub fn open(state: &mut State, every_agent: bool) {
    let scope = match (every_agent, state.focused()) {
        (false, Some(a)) => Scope::One(a.id),
        (false, None) => {
            state.flash = Some("no agent to search".into());
            return;
        }
        (true, _) => Scope::All,
    };
    state.overlay = Some(Overlay::Search(Box::new(SearchBar::new(scope))));
}

/// The hits of `query` in `scope`, agent by agent in the team's order.
pub fn find(state: &State, scope: Scope, needle: &Needle) -> (Vec<(AgentId, Hit)>, bool) {
    let mut out = Vec::new();
    for a in &state.agents {
        if matches!(scope, Scope::One(id) if id != a.id) {
            continue;
        }
        let left = MAX_HITS - out.len();
        out.extend(search(&a.transcript, needle, left).into_iter().map(|h| (a.id, h)));
        if out.len() >= MAX_HITS {
            return (out, true);
        }
    }
    (out, false)
}

/// A key in the search bar.
pub fn key(state: &mut State, command: Option<Command>, typed: Option<TypedKey>) {
    // Agents went on writing since the last search: step through today's hits, not stale ones.
    if matches!(command, Some(Command::ScrollDown | Command::ScrollUp | Command::Submit)) {
        refresh_keeping(state);
    }
    let Some(Overlay::Search(bar)) = &mut state.overlay else { return };
    let n = bar.hits.len();
    match command {
        Some(Command::Close) => {
            state.overlay = None;
            return;
        }
        Some(Command::ScrollDown) if n > 0 => bar.at = (bar.at + 1) % n,
        Some(Command::ScrollUp) if n > 0 => bar.at = (bar.at + n - 1) % n,
        Some(Command::Submit) if bar.scope == Scope::All => {
            let picked = bar.current().cloned();
            state.overlay = None;
            if let Some((id, hit)) = picked {
                if let Some(i) = state.index_of(id) {
                    state.set_focus(i);
                    reveal(state, i, hit.cell);
                }
            }
            return;
        }
        Some(Command::Submit) if n > 0 => bar.at = (bar.at + 1) % n,
        Some(Command::Submit) => {}
        None => match typed {
            Some(TypedKey::Char(c)) => bar.query.push(c),
            Some(TypedKey::Backspace) => {
                bar.query.pop();
            }
            None => return,
        },
        _ => return,
    }
    if command.is_none() {
        refresh(state);
    }
    follow(state);
}

/// Searches again for the bar's query.
fn refresh(state: &mut State) {
    let Some(Overlay::Search(bar)) = &state.overlay else { return };
    let (scope, needle) = (bar.scope, bar.needle());
    let (hits, truncated) = match &needle {
        Some(n) => find(state, scope, n),
        None => (Vec::new(), false),
    };
    if let Some(Overlay::Search(bar)) = &mut state.overlay {
        bar.hits = hits;
        bar.truncated = truncated;
        bar.at = 0;
    }
}

/// Searches again, the selection staying on the hit it was on (or the one now in its place).
fn refresh_keeping(state: &mut State) {
    let Some(Overlay::Search(bar)) = &state.overlay else { return };
    let (was, at) = (bar.current().cloned(), bar.at);
    refresh(state);
    let Some(Overlay::Search(bar)) = &mut state.overlay else { return };
    let same = was.and_then(|w| bar.hits.iter().position(|h| *h == w));
    bar.at = same.unwrap_or(at.min(bar.hits.len().saturating_sub(1)));
}

/// In one transcript, the pane shows the selected hit.
fn follow(state: &mut State) {
    let Some(Overlay::Search(bar)) = &state.overlay else { return };
    let (Scope::One(id), Some((_, hit))) = (bar.scope, bar.current()) else { return };
    let cell = hit.cell;
    if let Some(i) = state.index_of(id) {
        reveal(state, i, cell);
    }
}

/// Scrolls pane `i` to cell `cell`, opened (a hit in a tool's result is hidden while it is
/// collapsed).
fn reveal(state: &mut State, i: usize, cell: usize) {
    let Some(body) = state.body_rect(i) else { return };
    let a = &mut state.agents[i];
    if a.transcript.get(cell).is_some_and(|c| c.is_expandable() && !c.expanded) {
        a.transcript.set_expanded(cell, true);
    }
    let v = crate::transcript::TranscriptView::viewport(&a.transcript, body);
    if let Some((top, height)) = a.transcript.cell_span(cell, body.width) {
        a.scroll.reveal(top, height, v);
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyModifiers};

    use super::*;
    use crate::app::fixtures::{key, key_mod, state, type_text};
    use crate::app::update;

    fn bar(s: &State) -> &SearchBar {
        match &s.overlay {
            Some(Overlay::Search(b)) => b,
            _ => panic!("no search bar"),
        }
    }

    #[test]
    fn the_bar_finds_steps_and_closes_without_typing_into_the_input() {
        let mut s = state(false, &[("a", "x"), ("b", "y")], (120, 40));
        for i in 0..2 {
            s.agents[i].transcript.push_prompt("first line\nthe Needle here");
            s.agents[i].transcript.push_error("needle again, and (a.b*)");
        }
        update(&mut s, key_mod(KeyCode::Char('/'), KeyModifiers::ALT));
        assert_eq!(bar(&s).scope, Scope::One(s.agents[0].id));
        type_text(&mut s, "NEEDLE");
        let cells: Vec<usize> = bar(&s).hits.iter().map(|(_, h)| h.cell).collect();
        assert_eq!(cells, [0, 1], "only the focused agent's");
        update(&mut s, key(KeyCode::Down));
        assert_eq!(bar(&s).at, 1);
        update(&mut s, key(KeyCode::Down));
        assert_eq!(bar(&s).at, 0, "wraps around");
        update(&mut s, key(KeyCode::Up));
        assert_eq!(bar(&s).at, 1);
        for _ in 0..6 {
            update(&mut s, key(KeyCode::Backspace));
        }
        type_text(&mut s, "a.b*");
        assert_eq!(bar(&s).hits.len(), 1, "regex characters are literal");
        for _ in 0..4 {
            update(&mut s, key(KeyCode::Backspace));
        }
        assert!(bar(&s).hits.is_empty() && bar(&s).needle().is_none(), "nothing to search");
        update(&mut s, key(KeyCode::Esc));
        assert!(s.overlay.is_none());
        assert!(s.agents.iter().all(|a| a.input_is_empty()), "no key reached an input box");
    }

    #[test]
    fn every_agent_lists_hits_by_agent_and_enter_opens_one() {
        let mut s = state(false, &[("a", "x"), ("b", "y"), ("c", "z")], (120, 40));
        s.agents[0].transcript.push_prompt("no");
        s.agents[1].transcript.push_prompt("build failed");
        s.agents[2].transcript.push_prompt("one");
        s.agents[2].transcript.push_error("FAILED twice");
        update(&mut s, key_mod(KeyCode::Char('?'), KeyModifiers::ALT));
        assert_eq!(bar(&s).scope, Scope::All);
        type_text(&mut s, "failed");
        let by: Vec<(u32, usize)> = bar(&s).hits.iter().map(|(id, h)| (id.0, h.cell)).collect();
        assert_eq!(by, [(1, 0), (2, 1)]);
        update(&mut s, key(KeyCode::Down));
        update(&mut s, key(KeyCode::Enter));
        assert!(s.overlay.is_none());
        assert_eq!(s.focus, 2, "enter opens the hit's agent");
    }

    #[test]
    fn stepping_finds_what_arrived_since_the_search_and_stays_on_its_hit() {
        let mut s = state(false, &[("a", "x"), ("b", "y")], (120, 40));
        s.agents[1].transcript.push_prompt("one needle");
        update(&mut s, key_mod(KeyCode::Char('?'), KeyModifiers::ALT));
        type_text(&mut s, "needle");
        assert_eq!(bar(&s).hits.len(), 1);
        // Agent a writes a match meanwhile: it sorts first (the team's order), yet the
        // selection stays on b's hit, and the next step reaches the new one.
        s.agents[0].transcript.push_error("a needle too");
        update(&mut s, key(KeyCode::Down));
        let at: Vec<(u32, String)> =
            bar(&s).hits.iter().map(|(id, h)| (id.0, h.line.clone())).collect();
        assert_eq!(at, [(0, "a needle too".to_string()), (1, "one needle".to_string())]);
        assert_eq!(bar(&s).current().map(|(id, _)| id.0), Some(0), "stepped past b's to a's");
        update(&mut s, key(KeyCode::Down));
        assert_eq!(bar(&s).current().map(|(id, _)| id.0), Some(1));
    }
}
