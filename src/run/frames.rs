//! When to draw: only after something visible changed, at most once per [`FRAME`], and never
//! on a timer of its own (an idle app sleeps until a message arrives).
//!
//! Times are tokio's, so the whole schedule can be tested under paused time.

use tokio::time::{Duration, Instant};

use super::FRAME;

#[derive(Clone, Copy, Debug)]
pub struct Frames {
    /// When the last frame was drawn.
    last: Instant,
    /// What drawing it cost.
    cost: Duration,
}

impl Frames {
    /// The first frame was drawn at `at`.
    pub fn new(at: Instant) -> Frames {
        Frames { last: at, cost: Duration::ZERO }
    }

    /// When a change waiting for the frame cap is to be drawn; `None` when nothing changed
    /// (so the loop sleeps until a message arrives).
    pub fn due(&self, dirty: bool) -> Option<Instant> {
        dirty.then_some(self.last + FRAME)
    }

    /// Whether to draw now.
    pub fn may_draw(&self, dirty: bool, now: Instant) -> bool {
        dirty && now >= self.last + FRAME
    }

    /// Whether to stop applying a batch to draw first. A flood must not hold the screen back,
    /// but applying gets at least twice the last frame's drawing time, so slow frames cannot
    /// starve it.
    pub fn cut_batch(&self, dirty: bool, now: Instant) -> bool {
        dirty && now >= self.last + FRAME.max(self.cost * 2)
    }

    pub fn drawn(&mut self, at: Instant, cost: Duration) {
        self.last = at;
        self.cost = cost;
    }

    /// The screen was cleared (after a suspend or a shell): the next frame is due at once.
    pub fn redraw_now(&mut self, now: Instant) {
        self.last = now.checked_sub(FRAME).unwrap_or(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_waits_for_the_frame_cap_and_nothing_is_due_without_one() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut f = Frames::new(t0);
        // (dirty, now - t0, may draw, cut the batch)
        let table = [
            (false, 0, false, false),
            (false, 100, false, false),
            (true, 0, false, false),
            (true, 7, false, false),
            (true, 8, true, true),
            (true, 50, true, true),
        ];
        for (dirty, at, draw, cut) in table {
            assert_eq!(f.may_draw(dirty, t0 + ms(at)), draw, "draw {dirty} {at}");
            assert_eq!(f.cut_batch(dirty, t0 + ms(at)), cut, "cut {dirty} {at}");
        }
        assert_eq!(f.due(false), None);
        assert_eq!(f.due(true), Some(t0 + FRAME));
        // A slow frame gives applying twice its cost before the next cut, not the cap alone.
        f.drawn(t0, ms(10));
        assert!(f.may_draw(true, t0 + ms(8)));
        assert!(!f.cut_batch(true, t0 + ms(19)));
        assert!(f.cut_batch(true, t0 + ms(20)));
        f.redraw_now(t0 + ms(30));
        assert!(f.may_draw(true, t0 + ms(30)));
    }
}
