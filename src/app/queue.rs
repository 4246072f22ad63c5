//! An agent's queued follow-ups: prompts typed while its turn ran, sent one by one (oldest
//! first) as turns end. One of them is picked for editing or cancelling: the last unless the
//! user moved the pick; and one taken out for editing goes back to its place when sent again.
//!
//! Every follow-up keeps who asked for it ([`Origin`]) until its turn starts: a supervisor's
//! task is known by its id, not by its words. Nothing here merges follow-ups; one the user
//! edits keeps its origin, since the supervisor still waits for that task's report.

use std::collections::VecDeque;

use crate::agent::Origin;

/// A prompt for an agent's next turn, and who asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub text: String,
    pub origin: Origin,
}

impl Prompt {
    /// A prompt the user wrote (typed, or sent by a script).
    pub fn user(text: impl Into<String>) -> Prompt {
        Prompt { text: text.into(), origin: Origin::User }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowUps {
    items: VecDeque<Prompt>,
    /// The picked item when it is not the last one (`None` picks the last).
    picked: Option<usize>,
    /// Where the item taken out for editing was, and who asked for it: sent again, it goes
    /// back there, still theirs.
    editing: Option<(usize, Origin)>,
}

impl FollowUps {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The follow-ups' texts, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &String> + '_ {
        self.items.iter().map(|p| &p.text)
    }

    /// Whether a follow-up of this origin waits here (queued, or taken out for editing).
    pub fn holds(&self, origin: Origin) -> bool {
        self.items.iter().any(|p| p.origin == origin)
            || self.editing.is_some_and(|(_, o)| o == origin)
    }

    /// The item edit and cancel act on: the picked one, the last by default.
    pub fn picked(&self) -> Option<usize> {
        self.picked.filter(|&i| i < self.items.len()).or(self.items.len().checked_sub(1))
    }

    /// Pick the item above the picked one; false when there is none.
    pub fn pick_prev(&mut self) -> bool {
        match self.picked() {
            Some(i) if i > 0 => {
                self.picked = Some(i - 1);
                true
            }
            _ => false,
        }
    }

    /// Pick the item below the picked one; false when there is none.
    pub fn pick_next(&mut self) -> bool {
        match self.picked() {
            Some(i) if i + 1 < self.items.len() => {
                self.picked = Some(i + 1);
                self.settle();
                true
            }
            _ => false,
        }
    }

    /// A new follow-up, at the end. Returns its position (1-based).
    pub fn push_back(&mut self, prompt: Prompt) -> usize {
        self.items.push_back(prompt);
        self.items.len()
    }

    /// A prompt that runs before the others (a refused turn's own, to be sent again).
    pub fn push_front(&mut self, prompt: Prompt) {
        self.items.push_front(prompt);
        self.picked = self.picked.map(|i| i + 1);
        if let Some((at, _)) = self.editing.as_mut() {
            *at += 1;
        }
    }

    /// The oldest follow-up, to be sent now.
    pub fn pop_front(&mut self) -> Option<Prompt> {
        let first = self.items.pop_front()?;
        // The picked item (and the edited one's place) move up one; the picked one itself
        // went out, so the pick falls back to the last.
        self.picked = self.picked.and_then(|i| i.checked_sub(1));
        if let Some((at, _)) = self.editing.as_mut() {
            *at = at.saturating_sub(1);
        }
        self.settle();
        Some(first)
    }

    /// Takes the picked item out to be edited; sent again with `put_back`, it returns to its
    /// place. The pick stays on the same row (the item below, or the last).
    pub fn take_for_edit(&mut self) -> Option<String> {
        let i = self.picked()?;
        let prompt = self.items.remove(i)?;
        self.editing = Some((i, prompt.origin));
        self.settle();
        Some(prompt.text)
    }

    /// Cancels the picked item; the pick stays on the same row.
    pub fn cancel_picked(&mut self) -> Option<Prompt> {
        let i = self.picked()?;
        let prompt = self.items.remove(i)?;
        self.settle();
        Some(prompt)
    }

    /// Whether an item taken out for editing waits to be sent again.
    pub fn is_editing(&self) -> bool {
        self.editing.is_some()
    }

    /// The edit is over without the text going back to the queue: `text` is sent as a turn
    /// now, still on behalf of whoever asked for the edited item.
    pub fn end_edit(&mut self, text: String) -> Prompt {
        let origin = self.editing.take().map_or(Origin::User, |(_, o)| o);
        Prompt { text, origin }
    }

    /// An edited follow-up, back in the place it was taken from (at the end when that place
    /// is gone), for whoever asked for it. Returns its position (1-based).
    pub fn put_back(&mut self, text: String) -> usize {
        let (at, origin) = self.editing.take().unwrap_or((self.items.len(), Origin::User));
        let at = at.min(self.items.len());
        self.items.insert(at, Prompt { text, origin });
        // The pick keeps pointing at the same item.
        if let Some(p) = self.picked.as_mut().filter(|p| **p >= at) {
            *p += 1;
        }
        self.settle();
        at + 1
    }

    /// The last item is picked by default: say so with `None`, so that new items keep the
    /// default pick at the end.
    fn settle(&mut self) {
        if self.picked.is_some_and(|i| i + 1 >= self.items.len()) {
            self.picked = None;
        }
    }
}

/// Follow-ups read back from the workspace file are the user's: the tasks of an earlier run's
/// supervisor ended with that run.
impl FromIterator<String> for FollowUps {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        FollowUps {
            items: iter.into_iter().map(Prompt::user).collect(),
            picked: None,
            editing: None,
        }
    }
}

impl<const N: usize> PartialEq<[&str; N]> for FollowUps {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.items.len() == N && self.items.iter().zip(other).all(|(a, b)| a.text == *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(items: &[&str]) -> FollowUps {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_last_is_picked_until_the_pick_moves() {
        let mut q = queue(&[]);
        assert_eq!(q.picked(), None);
        assert!(!q.pick_prev() && !q.pick_next());
        let mut q = queue(&["a", "b", "c"]);
        assert_eq!(q.picked(), Some(2));
        assert!(!q.pick_next(), "nothing below the last");
        assert!(q.pick_prev());
        assert!(q.pick_prev());
        assert_eq!(q.picked(), Some(0));
        assert!(!q.pick_prev(), "nothing above the first");
        assert!(q.pick_next());
        assert_eq!(q.picked(), Some(1));
        // A new follow-up does not move a pick the user made.
        q.push_back(Prompt::user("d"));
        assert_eq!(q.picked(), Some(1));
        // Back at the end, the pick follows new items again.
        assert!(q.pick_next() && q.pick_next());
        q.push_back(Prompt::user("e"));
        assert_eq!(q.picked(), Some(4));
    }

    #[test]
    fn cancelling_keeps_the_pick_on_its_row() {
        let mut q = queue(&["a", "b", "c", "d"]);
        q.pick_prev();
        q.pick_prev();
        assert_eq!(q.cancel_picked().map(|p| p.text).as_deref(), Some("b"));
        assert_eq!(q, ["a", "c", "d"]);
        assert_eq!(q.picked(), Some(1));
        assert_eq!(q.cancel_picked().map(|p| p.text).as_deref(), Some("c"));
        assert_eq!(q.picked(), Some(1), "now the last");
        assert_eq!(q.cancel_picked().map(|p| p.text).as_deref(), Some("d"));
        assert_eq!(q.picked(), Some(0));
        assert_eq!(q.cancel_picked().map(|p| p.text).as_deref(), Some("a"));
        assert_eq!(q.cancel_picked(), None);
    }

    #[test]
    fn an_edited_item_goes_back_to_its_place() {
        let mut q = queue(&["a", "b", "c"]);
        q.pick_prev();
        assert_eq!(q.take_for_edit().as_deref(), Some("b"));
        assert!(q.is_editing());
        assert_eq!(q, ["a", "c"]);
        assert_eq!(q.put_back("b2".into()), 2);
        assert_eq!(q, ["a", "b2", "c"]);
        assert!(!q.is_editing());
        // Without an edit under way, a follow-up goes to the end.
        assert_eq!(q.put_back("d".into()), 4);
    }

    #[test]
    fn sending_the_first_shifts_the_pick_and_the_edited_place() {
        let mut q = queue(&["a", "b", "c", "d"]);
        q.pick_prev();
        q.pick_prev();
        assert_eq!(q.take_for_edit().as_deref(), Some("b"));
        q.pick_next(); // picks "d"
        assert_eq!(q.picked(), Some(2));
        assert_eq!(q.pop_front().map(|p| p.text).as_deref(), Some("a"));
        assert_eq!(q.picked(), Some(1), "still d");
        assert_eq!(q.put_back("b2".into()), 1);
        assert_eq!(q, ["b2", "c", "d"]);
        // The picked item itself going out: the pick falls back to the last.
        let mut q = queue(&["a", "b", "c"]);
        q.pick_prev();
        q.pick_prev();
        q.pop_front();
        assert_eq!(q.picked(), Some(1));
    }
}
