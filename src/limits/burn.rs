//! What each agent burns of the five-hour window: the tokens its requests used (input, output
//! and cache creation; cache reads are left out, as the window counts them far less), by the
//! minute they arrived, so the sum since the window began can be read once its start is known
//! (the CLI may report the window only after an agent has worked for a while).

use crate::agent::event::Usage;

/// The five-hour window's length: it began this long before its reset.
pub const FIVE_HOURS: i64 = 5 * 3600;
/// Minutes older than this are dropped: no window that is still open can hold them.
const KEEP_SECS: i64 = FIVE_HOURS + 3600;
/// How many message ids are remembered: the CLI repeats a message's usage on each of its
/// content blocks (and a subagent's messages come in between), so one is counted once.
const RECENT_MESSAGES: usize = 16;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Burn {
    /// (the minute, as Unix seconds at its start; the tokens in it).
    minutes: Vec<(i64, u64)>,
    /// The latest messages' ids and what was counted of each.
    recent: Vec<(String, u64)>,
}

/// The tokens of one request that count against the window.
pub fn counted(u: &Usage) -> u64 {
    u.input_tokens.saturating_add(u.output_tokens).saturating_add(u.cache_creation_input_tokens)
}

impl Burn {
    /// One message's usage at `wall` (Unix seconds). The same message again adds only what
    /// grew since (its usage as the CLI last reported it is the whole).
    pub fn record(&mut self, message_id: Option<&str>, usage: &Usage, wall: i64) {
        let total = counted(usage);
        let added = match message_id.filter(|id| !id.is_empty()) {
            None => total,
            Some(id) => match self.recent.iter_mut().find(|(m, _)| m == id) {
                Some((_, seen)) => {
                    let grew = total.saturating_sub(*seen);
                    *seen = (*seen).max(total);
                    grew
                }
                None => {
                    if self.recent.len() >= RECENT_MESSAGES {
                        self.recent.remove(0);
                    }
                    self.recent.push((id.to_string(), total));
                    total
                }
            },
        };
        if added == 0 {
            return;
        }
        let minute = wall - wall.rem_euclid(60);
        match self.minutes.iter_mut().find(|(m, _)| *m == minute) {
            Some((_, n)) => *n = n.saturating_add(added),
            None => self.minutes.push((minute, added)),
        }
        self.minutes.retain(|(m, _)| *m >= wall - KEEP_SECS);
    }

    /// The tokens recorded at `start` (Unix seconds) or later.
    pub fn since(&self, start: i64) -> u64 {
        let minutes = self.minutes.iter().filter(|(m, _)| *m + 60 > start);
        minutes.fold(0u64, |sum, (_, n)| sum.saturating_add(*n))
    }
}

/// One agent among the ones that burn most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Burner {
    pub name: String,
    pub tokens: u64,
    /// Its share of the team's tokens, in whole percent.
    pub share: u32,
}

/// The `top` agents by tokens, most first (ties by name), with their share of all agents'
/// tokens; agents that burned nothing are left out.
pub fn top_burners(agents: &[(String, u64)], top: usize) -> Vec<Burner> {
    let total: u128 = agents.iter().map(|(_, t)| u128::from(*t)).sum();
    let mut busy: Vec<&(String, u64)> = agents.iter().filter(|(_, t)| *t > 0).collect();
    busy.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    busy.into_iter()
        .take(top)
        .map(|(name, tokens)| Burner {
            name: name.clone(),
            tokens: *tokens,
            share: (u128::from(*tokens) * 100).checked_div(total).unwrap_or(0) as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_796_288_400; // 09:00 UTC

    fn usage(input: u64, output: u64, creation: u64, read: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: creation,
            cache_read_input_tokens: read,
        }
    }

    #[test]
    fn tokens_since_the_window_began() {
        // (what happened: message id, usage, when), the window's start, the tokens wanted.
        type Case = (&'static str, Vec<(Option<&'static str>, Usage, i64)>, i64, u64);
        let cases: Vec<Case> = vec![
            ("nothing", vec![], T, 0),
            ("cache reads do not count", vec![(Some("m1"), usage(10, 20, 30, 9999), T)], T, 60),
            (
                "a message repeated on each block counts once",
                vec![(Some("m1"), usage(10, 5, 0, 0), T), (Some("m1"), usage(10, 5, 0, 0), T + 1)],
                T,
                15,
            ),
            (
                "a message that grew adds what grew",
                vec![(Some("m1"), usage(10, 5, 0, 0), T), (Some("m1"), usage(10, 50, 0, 0), T)],
                T,
                60,
            ),
            (
                "interleaved with a subagent's",
                vec![
                    (Some("m1"), usage(10, 0, 0, 0), T),
                    (Some("s1"), usage(100, 0, 0, 0), T),
                    (Some("m1"), usage(10, 0, 0, 0), T),
                ],
                T,
                110,
            ),
            (
                "no id: each counts",
                vec![(None, usage(1, 0, 0, 0), T), (None, usage(1, 0, 0, 0), T)],
                T,
                2,
            ),
            (
                "before the window began",
                vec![(Some("m1"), usage(7, 0, 0, 0), T - 120), (Some("m2"), usage(3, 0, 0, 0), T)],
                T,
                3,
            ),
            (
                "the minute the window began counts",
                vec![(Some("m1"), usage(7, 0, 0, 0), T + 10)],
                T + 30,
                7,
            ),
            (
                "a clock set back still counts what came after the start",
                vec![(Some("m1"), usage(7, 0, 0, 0), T + 600), (Some("m2"), usage(3, 0, 0, 0), T)],
                T,
                10,
            ),
            (
                "huge counts saturate",
                vec![(Some("m1"), usage(u64::MAX, 1, 0, 0), T), (Some("m2"), usage(5, 0, 0, 0), T)],
                T,
                u64::MAX,
            ),
        ];
        for (name, events, start, want) in cases {
            let mut b = Burn::default();
            for (id, u, at) in &events {
                b.record(*id, u, *at);
            }
            assert_eq!(b.since(start), want, "{name}");
        }
    }

    #[test]
    fn old_minutes_are_dropped() {
        let mut b = Burn::default();
        b.record(Some("m1"), &usage(5, 0, 0, 0), T);
        b.record(Some("m2"), &usage(1, 0, 0, 0), T + KEEP_SECS + 60);
        assert_eq!(b.minutes.len(), 1);
        assert_eq!(b.since(0), 1);
    }

    #[test]
    fn the_top_burners_with_their_share() {
        let team = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
            v.iter().map(|(n, t)| (n.to_string(), *t)).collect()
        };
        let b = |name: &str, tokens, share| Burner { name: name.into(), tokens, share };
        // A name, the agents' tokens, how many to name, the burners wanted.
        type Case = (&'static str, Vec<(String, u64)>, usize, Vec<Burner>);
        let cases: Vec<Case> = vec![
            ("nobody worked", team(&[("a", 0), ("b", 0)]), 3, vec![]),
            (
                "most first, idle left out",
                team(&[("a", 100), ("b", 300), ("c", 0)]),
                3,
                vec![b("b", 300, 75), b("a", 100, 25)],
            ),
            (
                "the share is of everyone, not of the top few",
                team(&[("a", 50), ("b", 30), ("c", 20)]),
                2,
                vec![b("a", 50, 50), b("b", 30, 30)],
            ),
            ("ties by name", team(&[("z", 1), ("y", 1)]), 3, vec![b("y", 1, 50), b("z", 1, 50)]),
            (
                "huge counts do not overflow",
                team(&[("a", u64::MAX), ("b", u64::MAX)]),
                1,
                vec![b("a", u64::MAX, 50)],
            ),
        ];
        for (name, agents, top, want) in cases {
            assert_eq!(top_burners(&agents, top), want, "{name}");
        }
    }
}
