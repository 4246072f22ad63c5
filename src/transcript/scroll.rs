//! Scroll state of one pane: pure math, no rendering.
//!
//! The pane follows the bottom until the user scrolls up; then it stays put (new output grows
//! below) and reports how many lines arrived since. Scrolling back to the bottom follows again.

/// What the math needs to know about the pane: lines in the transcript at the pane's width,
/// and rows the pane shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Viewport {
    pub total: usize,
    pub height: usize,
}

impl Viewport {
    pub fn new(total: usize, height: usize) -> Self {
        Viewport { total, height }
    }

    /// The top line when showing the bottom.
    pub fn max_top(&self) -> usize {
        self.total.saturating_sub(self.height)
    }
}

/// Lines one wheel notch moves.
pub const WHEEL_LINES: usize = 3;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scroll {
    pinned: Option<Pin>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pin {
    top: usize,
    /// Transcript length when the user left the bottom.
    seen_total: usize,
}

impl Scroll {
    /// Following the bottom.
    pub fn new() -> Self {
        Scroll::default()
    }

    pub fn is_following(&self) -> bool {
        self.pinned.is_none()
    }

    /// The first transcript line to show.
    pub fn top(&self, v: Viewport) -> usize {
        match self.pinned {
            None => v.max_top(),
            Some(p) => p.top.min(v.max_top()),
        }
    }

    /// Lines below the bottom of the pane.
    pub fn lines_below(&self, v: Viewport) -> usize {
        v.total.saturating_sub(self.top(v) + v.height)
    }

    /// Lines that arrived since the user scrolled up (and are not on screen).
    pub fn new_lines(&self, v: Viewport) -> usize {
        match self.pinned {
            None => 0,
            Some(p) => v.total.saturating_sub(p.seen_total).min(self.lines_below(v)),
        }
    }

    fn set_top(&mut self, top: usize, v: Viewport) {
        if top >= v.max_top() {
            self.pinned = None;
            return;
        }
        let seen_total = match self.pinned {
            Some(p) => p.seen_total,
            None => v.total,
        };
        self.pinned = Some(Pin { top, seen_total });
    }

    /// The transcript went from `before` to `after` lines without anything arriving (a call
    /// expanded or collapsed): those lines are not new.
    pub fn reshaped(&mut self, before: usize, after: usize) {
        if let Some(p) = &mut self.pinned {
            p.seen_total = (p.seen_total + after).saturating_sub(before);
        }
    }

    pub fn up(&mut self, lines: usize, v: Viewport) {
        let top = self.top(v).saturating_sub(lines);
        self.set_top(top, v);
    }

    pub fn down(&mut self, lines: usize, v: Viewport) {
        let top = self.top(v).saturating_add(lines);
        self.set_top(top, v);
    }

    /// One page is the pane's height less one line, kept for context.
    fn page(v: Viewport) -> usize {
        v.height.saturating_sub(1).max(1)
    }

    pub fn page_up(&mut self, v: Viewport) {
        self.up(Self::page(v), v);
    }

    pub fn page_down(&mut self, v: Viewport) {
        self.down(Self::page(v), v);
    }

    pub fn home(&mut self, v: Viewport) {
        self.set_top(0, v);
    }

    /// Back to the bottom, following.
    pub fn end(&mut self) {
        self.pinned = None;
    }

    pub fn wheel_up(&mut self, v: Viewport) {
        self.up(WHEEL_LINES, v);
    }

    pub fn wheel_down(&mut self, v: Viewport) {
        self.down(WHEEL_LINES, v);
    }

    /// Scroll as little as needed so that lines `top..top + height` (a cell) are on screen;
    /// a cell taller than the pane shows its first line.
    pub fn reveal(&mut self, top: usize, height: usize, v: Viewport) {
        let cur = self.top(v);
        if top < cur || height > v.height {
            self.set_top(top, v);
        } else if top + height > cur + v.height {
            self.set_top(top + height - v.height, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Viewport = Viewport { total: 100, height: 10 };

    #[test]
    fn expanding_in_place_is_not_new_lines() {
        let mut s = Scroll::new();
        s.page_up(V);
        let grown = Viewport { total: 131, ..V };
        s.reshaped(100, 131);
        assert_eq!(s.new_lines(grown), 0);
        assert!(s.lines_below(grown) > 0);
        // What arrives afterwards still counts.
        assert_eq!(s.new_lines(Viewport { total: 135, ..V }), 4);
        s.reshaped(135, 104);
        assert_eq!(s.new_lines(Viewport { total: 104, ..V }), 4);
    }

    #[test]
    fn follows_the_bottom_by_default() {
        let s = Scroll::new();
        assert!(s.is_following());
        assert_eq!(s.top(V), 90);
        assert_eq!(s.top(Viewport::new(5, 10)), 0);
        // New output moves the view along.
        assert_eq!(s.top(Viewport::new(150, 10)), 140);
    }

    #[test]
    fn scrolling_up_pins_the_view_and_counts_new_lines() {
        let mut s = Scroll::new();
        s.up(5, V);
        assert!(!s.is_following());
        assert_eq!(s.top(V), 85);
        assert_eq!(s.lines_below(V), 5);
        assert_eq!(s.new_lines(V), 0);
        let grown = Viewport::new(130, 10);
        assert_eq!(s.top(grown), 85, "the view stays where the user left it");
        assert_eq!(s.new_lines(grown), 30);
        assert_eq!(s.lines_below(grown), 35);
    }

    #[test]
    fn scrolling_back_down_to_the_bottom_follows_again() {
        let mut s = Scroll::new();
        s.up(5, V);
        s.down(3, V);
        assert_eq!(s.top(V), 88);
        s.down(10, V);
        assert!(s.is_following());
    }

    #[test]
    fn pages_keep_one_line_of_context() {
        let mut s = Scroll::new();
        s.page_up(V);
        assert_eq!(s.top(V), 81);
        s.page_up(V);
        assert_eq!(s.top(V), 72);
        s.page_down(V);
        assert_eq!(s.top(V), 81);
        s.page_down(V);
        assert!(s.is_following());
    }

    #[test]
    fn home_end_and_the_wheel() {
        let mut s = Scroll::new();
        s.home(V);
        assert_eq!(s.top(V), 0);
        s.wheel_down(V);
        assert_eq!(s.top(V), WHEEL_LINES);
        s.wheel_up(V);
        s.wheel_up(V);
        assert_eq!(s.top(V), 0, "never above the first line");
        s.end();
        assert!(s.is_following());
        // Home on a transcript that fits the pane changes nothing.
        let short = Viewport::new(4, 10);
        s.home(short);
        assert!(s.is_following());
    }

    #[test]
    fn a_shorter_transcript_clamps_a_pinned_top() {
        let mut s = Scroll::new();
        s.up(50, V);
        assert_eq!(s.top(Viewport::new(45, 10)), 35);
    }

    #[test]
    fn reveal_scrolls_just_enough() {
        let mut s = Scroll::new();
        s.reveal(95, 2, V);
        assert!(s.is_following(), "already visible");
        s.reveal(40, 3, V);
        assert_eq!(s.top(V), 40);
        s.reveal(48, 4, V);
        assert_eq!(s.top(V), 42);
        s.reveal(10, 30, V);
        assert_eq!(s.top(V), 10, "a tall cell shows its head");
    }
}
