//! The usage governor in the app: which agents' next turns wait for a usage window, and
//! starting them once they may (the decisions are `limits::governor`'s pure function).
//!
//! An agent is held when a prompt for it (typed, sent over the socket, the next follow-up, or
//! a refused turn's own) finds the governor saying hold: the prompt waits in its queue and
//! `held` is set. After every message `update` asks again ([`release_due`]), so a hold ends as
//! soon as its window resets, the user releases it (`resume`), or the policy allows it.

use std::time::{Duration, Instant};

use super::effect::Effect;
use super::queue::Prompt;
use super::state::{Agent, State};
use crate::limits::governor::{self, Candidate, Decision, Hold};

fn candidate(a: &Agent) -> Candidate {
    Candidate {
        priority: a.spec.options.priority.unwrap_or(0),
        refused_until: a.refused_until,
        released: a.release,
    }
}

/// One decision per agent, in the team's order.
pub fn decisions(state: &State) -> Vec<Decision> {
    let now = state.time();
    let windows = state.limits.at(now);
    let agents: Vec<Candidate> = state.agents.iter().map(candidate).collect();
    governor::decide(&windows, &agents, state.policy, now)
}

/// Why agent `i` may not start a turn now, if it may not.
pub fn hold(state: &State, i: usize) -> Option<Hold> {
    match decisions(state).into_iter().nth(i)? {
        Decision::Hold(h) => Some(h),
        Decision::Start => None,
    }
}

/// The hold agent `i`'s queue waits on.
pub fn held(state: &State, i: usize) -> Option<Hold> {
    state.agents.get(i).filter(|a| a.held).and_then(|_| hold(state, i))
}

/// Keeps `prompt` at the end of agent `i`'s queue while a hold lasts; `false` (nothing kept)
/// when it may start now. (A refused turn's own prompt goes to the front elsewhere.)
pub fn keep_if_held(state: &mut State, i: usize, prompt: &Prompt) -> bool {
    if hold(state, i).is_none() {
        return false;
    }
    let a = &mut state.agents[i];
    a.queue.push_back(prompt.clone());
    a.held = true;
    true
}

/// The user lets a held agent start now (a key, `agentmux resume`); `false` if it is not held.
pub fn release(state: &mut State, i: usize) -> bool {
    let Some(h) = held(state, i) else { return false };
    state.agents[i].release = Some(h.resumes_at);
    true
}

/// Starts the next turn of every held agent whose hold has ended; a held agent whose queue
/// the user emptied is no longer held. Whether any hold ended.
pub fn release_due(state: &mut State, fx: &mut Vec<Effect>) -> bool {
    if !state.agents.iter().any(|a| a.held) {
        return false;
    }
    let mut ended = false;
    let decisions = decisions(state);
    for (i, d) in decisions.into_iter().enumerate() {
        let a = &mut state.agents[i];
        if !a.held || a.turn.is_active() {
            continue;
        }
        if a.queue.is_empty() {
            a.held = false;
            a.refused_until = None;
            ended = true;
        } else if d == Decision::Start {
            if let Some(next) = a.queue.pop_front() {
                a.held = false;
                super::update::start_turn(state, i, next, fx);
                fx.push(Effect::Persist);
                ended = true;
            }
        }
    }
    ended
}

/// When a hold may end by itself (a window's reset, a refusal's wait), or the limits line
/// changes (a window resets): the loop wakes then.
pub fn next_release(state: &State) -> Option<Instant> {
    let now = state.time();
    let refusals = state.agents.iter().filter(|a| a.held).filter_map(|a| a.refused_until);
    let refused = refusals
        .map(|until| now.mono + Duration::from_secs(until.saturating_sub(now.wall).max(0) as u64))
        .filter(|at| *at > now.mono)
        .min();
    match (state.limits.next_reset(now), refused) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
