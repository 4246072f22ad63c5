//! Pure rectangle math: tiling panes for any number of agents, stacked and zoomed arrangements,
//! the parts of one pane, directional focus and mouse hit-testing. No state, no drawing.

use ratatui::layout::Rect;

/// Below this a pane stops being readable, so the grid pages instead of shrinking further.
pub const MIN_PANE_WIDTH: u16 = 32;
pub const MIN_PANE_HEIGHT: u16 = 8;
/// Below this the whole screen only says it is too small.
pub const MIN_SCREEN_WIDTH: u16 = 20;
pub const MIN_SCREEN_HEIGHT: u16 = 5;

/// How the panes share the screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Arrangement {
    /// A grid, the lead pane (the supervisor) in a column of its own when there is room.
    #[default]
    Tiled,
    /// The focused pane takes the height; every other pane keeps one header line.
    Stacked,
    /// The focused pane takes the whole area.
    Zoomed,
}

impl Arrangement {
    /// The next arrangement in the cycle tiled -> stacked -> zoomed -> tiled.
    pub fn next(self) -> Arrangement {
        match self {
            Arrangement::Tiled => Arrangement::Stacked,
            Arrangement::Stacked => Arrangement::Zoomed,
            Arrangement::Zoomed => Arrangement::Tiled,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arrangement::Tiled => "tiled",
            Arrangement::Stacked => "stacked",
            Arrangement::Zoomed => "zoomed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

/// What to tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRequest {
    /// Number of panes, the lead first when `lead` is set.
    pub panes: usize,
    pub focus: usize,
    /// The pane the grid must show (the focused one, or the last focused worker while the lead
    /// has the focus, so the grid does not jump pages when the user looks at the supervisor).
    pub anchor: usize,
    /// Pane 0 is the lead (the supervisor): it gets a column of its own when there is room.
    pub lead: bool,
    pub arrangement: Arrangement,
    pub min_width: u16,
    pub min_height: u16,
}

impl TileRequest {
    pub fn new(panes: usize, focus: usize, lead: bool, arrangement: Arrangement) -> Self {
        TileRequest {
            panes,
            focus,
            anchor: focus,
            lead,
            arrangement,
            min_width: MIN_PANE_WIDTH,
            min_height: MIN_PANE_HEIGHT,
        }
    }
}

/// One pane on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub pane: usize,
    pub rect: Rect,
    /// Only the header line is shown (stacked arrangement).
    pub collapsed: bool,
}

/// Where every visible pane goes; panes not listed are off screen (another page).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tiling {
    pub placed: Vec<Placed>,
    /// The grid page shown, and how many there are (1 when everything fits).
    pub page: usize,
    pub pages: usize,
}

impl Tiling {
    pub fn rect_of(&self, pane: usize) -> Option<Rect> {
        self.placed.iter().find(|p| p.pane == pane).map(|p| p.rect)
    }
}

pub fn tile(area: Rect, req: &TileRequest) -> Tiling {
    if req.panes == 0 || area.width == 0 || area.height == 0 {
        return Tiling { placed: Vec::new(), page: 0, pages: 1 };
    }
    let focus = req.focus.min(req.panes - 1);
    match req.arrangement {
        Arrangement::Zoomed => Tiling {
            placed: vec![Placed { pane: focus, rect: area, collapsed: false }],
            page: 0,
            pages: 1,
        },
        Arrangement::Stacked => stacked(area, req.panes, focus),
        Arrangement::Tiled => tiled(area, req),
    }
}

fn tiled(area: Rect, req: &TileRequest) -> Tiling {
    let min_w = req.min_width.max(1);
    let workers = req.panes.saturating_sub(1);
    // The lead gets its own column only when a worker column still fits beside it.
    if req.lead && workers > 0 && area.width >= min_w.saturating_mul(2) {
        let lead_w = if workers == 1 { area.width / 2 } else { (area.width / 3).max(min_w) };
        let lead_w = lead_w.min(area.width - min_w);
        let lead_rect = Rect { width: lead_w, ..area };
        let rest = Rect { x: area.x + lead_w, width: area.width - lead_w, ..area };
        let anchor = req.anchor.clamp(1, req.panes - 1) - 1;
        let mut grid = grid(rest, workers, anchor, min_w, req.min_height);
        for p in &mut grid.placed {
            p.pane += 1;
        }
        grid.placed.insert(0, Placed { pane: 0, rect: lead_rect, collapsed: false });
        // A column of its own is worth it unless it pushes workers off a screen that could
        // otherwise show every pane.
        let plain =
            self::grid(area, req.panes, req.anchor.min(req.panes - 1), min_w, req.min_height);
        if grid.pages == 1 || plain.pages > 1 {
            return grid;
        }
        return plain;
    }
    grid(area, req.panes, req.anchor.min(req.panes - 1), min_w, req.min_height)
}

/// The columns and rows for `n` panes in `area` with at most `max_cols` x `max_rows`: the shape
/// whose panes come closest to a comfortable reading ratio (text panes like to be wide).
pub fn grid_shape(area: Rect, n: usize, max_cols: usize, max_rows: usize) -> (usize, usize) {
    const IDEAL_RATIO: f64 = 2.5; // cell columns per cell row; a cell is about twice as tall
    let mut best: Option<(f64, usize, usize)> = None;
    for cols in 1..=n.min(max_cols).max(1) {
        let rows = n.div_ceil(cols);
        if rows > max_rows {
            continue;
        }
        let w = f64::from(area.width) / cols as f64;
        let h = f64::from(area.height) / rows as f64;
        let empty = (cols * rows - n) as f64;
        let score = ((w / h.max(1.0)) / IDEAL_RATIO).ln().abs() + empty * 0.3;
        if best.is_none_or(|(s, _, _)| score < s) {
            best = Some((score, cols, rows));
        }
    }
    best.map(|(_, c, r)| (c, r)).unwrap_or((1, 1))
}

fn grid(area: Rect, n: usize, anchor: usize, min_w: u16, min_h: u16) -> Tiling {
    let max_cols = usize::from((area.width / min_w).max(1));
    let max_rows = usize::from((area.height / min_h.max(1)).max(1));
    let per_page = max_cols * max_rows;
    let pages = n.div_ceil(per_page).max(1);
    let page = (anchor / per_page).min(pages - 1);
    let first = page * per_page;
    let count = (n - first).min(per_page);
    let (cols, rows) = grid_shape(area, count, max_cols, max_rows);
    let mut placed = Vec::with_capacity(count);
    let row_rects = split(area.y, area.height, rows);
    for (r, (y, h)) in row_rects.into_iter().enumerate() {
        let in_row = (count - r * cols).min(cols);
        if in_row == 0 {
            break;
        }
        // A short last row stretches its panes over the full width.
        for (c, (x, w)) in split(area.x, area.width, in_row).into_iter().enumerate() {
            placed.push(Placed {
                pane: first + r * cols + c,
                rect: Rect { x, y, width: w, height: h },
                collapsed: false,
            });
        }
    }
    Tiling { placed, page, pages }
}

/// `len` cells from `start` cut into `parts` runs, the remainder spread over the first ones.
fn split(start: u16, len: u16, parts: usize) -> Vec<(u16, u16)> {
    let parts = parts.max(1);
    let base = usize::from(len) / parts;
    let extra = usize::from(len) % parts;
    let mut at = usize::from(start);
    (0..parts)
        .map(|i| {
            let size = base + usize::from(i < extra);
            let run = (at as u16, size as u16);
            at += size;
            run
        })
        .collect()
}

fn stacked(area: Rect, n: usize, focus: usize) -> Tiling {
    // Keep at least a few rows for the focused pane; headers of the others fill what is left,
    // in a window around the focus.
    const FOCUS_MIN: u16 = 4;
    let room = usize::from(area.height.saturating_sub(FOCUS_MIN));
    let others = (n - 1).min(room);
    let mut first = focus.saturating_sub(others / 2);
    let mut last = first + others;
    if last > n - 1 {
        last = n - 1;
        first = last - others;
    }
    let focus_h = area.height - (last - first) as u16;
    let mut y = area.y;
    let mut placed = Vec::new();
    for pane in first..=last {
        let h = if pane == focus { focus_h } else { 1 };
        placed.push(Placed {
            pane,
            rect: Rect { x: area.x, y, width: area.width, height: h },
            collapsed: pane != focus,
        });
        y += h;
    }
    Tiling { placed, page: 0, pages: 1 }
}

/// The pane a direction leads to from `from`, among the panes on screen.
///
/// Candidates lie wholly on that side; the nearest edge wins, then panes that overlap on the
/// other axis, then the closest centre.
pub fn neighbor(placed: &[Placed], from: usize, dir: Direction) -> Option<usize> {
    let r = placed.iter().find(|p| p.pane == from)?.rect;
    let (rl, rr, rt, rb) = edges(r);
    placed
        .iter()
        .filter(|p| p.pane != from)
        .filter_map(|p| {
            let (cl, cr, ct, cb) = edges(p.rect);
            let (gap, overlap, centre) = match dir {
                Direction::Right if cl >= rr => {
                    (cl - rr, overlaps(rt, rb, ct, cb), (rt + rb) - (ct + cb))
                }
                Direction::Left if cr <= rl => {
                    (rl - cr, overlaps(rt, rb, ct, cb), (rt + rb) - (ct + cb))
                }
                Direction::Down if ct >= rb => {
                    (ct - rb, overlaps(rl, rr, cl, cr), (rl + rr) - (cl + cr))
                }
                Direction::Up if cb <= rt => {
                    (rt - cb, overlaps(rl, rr, cl, cr), (rl + rr) - (cl + cr))
                }
                _ => return None,
            };
            Some(((!overlap, gap, centre.abs()), p.pane))
        })
        .min()
        .map(|(_, pane)| pane)
}

fn edges(r: Rect) -> (i32, i32, i32, i32) {
    let (x, y) = (i32::from(r.x), i32::from(r.y));
    (x, x + i32::from(r.width), y, y + i32::from(r.height))
}

fn overlaps(a0: i32, a1: i32, b0: i32, b1: i32) -> bool {
    a0 < b1 && b0 < a1
}

/// The pane under a mouse position.
pub fn hit(placed: &[Placed], column: u16, row: u16) -> Option<usize> {
    placed
        .iter()
        .find(|p| {
            let r = p.rect;
            column >= r.x && column < r.x + r.width && row >= r.y && row < r.y + r.height
        })
        .map(|p| p.pane)
}

/// The inside of one pane: its header line, the body, the queued follow-ups, a rule and the
/// input box; `plan` (the todo list and subagents, above the body) is cut from the body's top
/// by the state, which knows how much the agent has to show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaneParts {
    pub header: Rect,
    pub plan: Rect,
    pub body: Rect,
    pub queue: Rect,
    pub rule: Rect,
    pub input: Rect,
}

/// The most rows the input box and the queue list take from a pane.
pub const MAX_INPUT_ROWS: usize = 6;
pub const MAX_QUEUE_ROWS: usize = 3;

/// Split a pane. The border's top line is the header; the input box (`input_lines`, 0 for none),
/// a rule above it and `queued` rows come out of the body from the bottom, the body keeping at
/// least one row whenever the pane has an inside.
pub fn pane_parts(rect: Rect, collapsed: bool, queued: usize, input_lines: usize) -> PaneParts {
    let header = Rect { height: rect.height.min(1), ..rect };
    if collapsed || rect.height < 3 || rect.width < 3 {
        let body = Rect { y: rect.y + header.height, height: rect.height - header.height, ..rect };
        let body = if collapsed { Rect { height: 0, ..body } } else { body };
        return PaneParts { header, body, ..Default::default() };
    }
    let inner =
        Rect { x: rect.x + 1, y: rect.y + 1, width: rect.width - 2, height: rect.height - 2 };
    let mut left = inner.height.saturating_sub(1);
    let input_h = (input_lines.min(MAX_INPUT_ROWS) as u16).min(left);
    left -= input_h;
    let rule_h = u16::from(input_h > 0 && left >= 3);
    left -= rule_h;
    let queue_h = (queued.min(MAX_QUEUE_ROWS) as u16).min(left);
    let body = Rect { height: inner.height - input_h - rule_h - queue_h, ..inner };
    let queue = Rect { y: body.y + body.height, height: queue_h, ..inner };
    let rule = Rect { y: queue.y + queue_h, height: rule_h, ..inner };
    let input = Rect { y: rule.y + rule_h, height: input_h, ..inner };
    PaneParts { header, body, queue, rule, input, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(w: u16, h: u16) -> Rect {
        Rect::new(0, 0, w, h)
    }

    fn req(n: usize, focus: usize, lead: bool) -> TileRequest {
        TileRequest::new(n, focus, lead, Arrangement::Tiled)
    }

    /// No two rects overlap and all lie inside the area.
    fn assert_disjoint_inside(t: &Tiling, a: Rect) {
        for (i, p) in t.placed.iter().enumerate() {
            assert!(a.contains(p.rect.as_position()), "{p:?} outside {a:?}");
            assert!(p.rect.right() <= a.right() && p.rect.bottom() <= a.bottom(), "{p:?}");
            for q in &t.placed[i + 1..] {
                assert!(!p.rect.intersects(q.rect), "{p:?} overlaps {q:?}");
            }
        }
    }

    fn covered(t: &Tiling) -> u32 {
        t.placed.iter().map(|p| u32::from(p.rect.width) * u32::from(p.rect.height)).sum()
    }

    #[test]
    fn one_pane_fills_the_area() {
        let t = tile(area(80, 23), &req(1, 0, false));
        assert_eq!(t.placed, vec![Placed { pane: 0, rect: area(80, 23), collapsed: false }]);
        assert_eq!(t.pages, 1);
    }

    #[test]
    fn no_panes_no_rects() {
        assert!(tile(area(80, 23), &req(0, 0, false)).placed.is_empty());
        assert!(tile(area(0, 0), &req(3, 0, false)).placed.is_empty());
    }

    #[test]
    fn the_lead_gets_a_column_and_workers_share_the_rest() {
        let t = tile(area(160, 47), &req(4, 1, true));
        assert_eq!(t.placed.len(), 4);
        assert_eq!(t.placed[0].pane, 0);
        assert_eq!(t.placed[0].rect, Rect::new(0, 0, 53, 47));
        assert_disjoint_inside(&t, area(160, 47));
        assert_eq!(covered(&t), 160 * 47, "the grid leaves no hole");
        // Three workers in 107x47: stacked rows or columns, never outside the right part.
        assert!(t.placed[1..].iter().all(|p| p.rect.x >= 53));
    }

    #[test]
    fn the_lead_shares_the_grid_when_its_column_would_page_the_workers() {
        // 80x23: a lead column leaves 48 columns, room for two workers; a 2x2 grid holds all.
        let t = tile(area(80, 23), &req(4, 1, true));
        assert_eq!((t.page, t.pages), (0, 1));
        assert_eq!(t.placed[0].rect, Rect::new(0, 0, 40, 12));
        // Too many for either: the lead keeps its column.
        let t = tile(area(80, 23), &req(9, 1, true));
        assert!(t.pages > 1);
        assert_eq!(t.placed[0].rect.height, 23);
    }

    #[test]
    fn two_panes_split_evenly() {
        let t = tile(area(80, 23), &req(2, 0, true));
        assert_eq!(t.placed[0].rect, Rect::new(0, 0, 40, 23));
        assert_eq!(t.placed[1].rect, Rect::new(40, 0, 40, 23));
    }

    #[test]
    fn every_count_tiles_without_overlap_or_holes() {
        for (w, h) in [(80, 23), (160, 47), (200, 60), (33, 9), (20, 5)] {
            for n in 1..=20 {
                for lead in [false, true] {
                    let t = tile(area(w, h), &req(n, n - 1, lead));
                    assert_disjoint_inside(&t, area(w, h));
                    assert!(!t.placed.is_empty());
                    if t.pages == 1 {
                        assert_eq!(t.placed.len(), n, "{w}x{h} n={n} lead={lead}");
                        assert_eq!(covered(&t), u32::from(w) * u32::from(h), "{w}x{h} n={n}");
                    }
                    assert!(t.placed.iter().any(|p| p.pane == n - 1), "the focus is visible");
                }
            }
        }
    }

    #[test]
    fn panes_stay_readable_and_the_rest_goes_to_other_pages() {
        let a = area(80, 23);
        let t = tile(a, &req(9, 0, false));
        assert!(t.placed.iter().all(|p| p.rect.width >= MIN_PANE_WIDTH));
        assert!(t.placed.iter().all(|p| p.rect.height >= MIN_PANE_HEIGHT));
        assert_eq!(t.placed.len(), 4, "2x2 fit in 80x23");
        assert_eq!((t.page, t.pages), (0, 3));
        let t = tile(a, &req(9, 8, false));
        assert_eq!((t.page, t.pages), (2, 3));
        assert_eq!(t.placed.iter().map(|p| p.pane).collect::<Vec<_>>(), vec![8]);
    }

    #[test]
    fn the_grid_keeps_its_page_while_the_lead_is_focused() {
        let mut r = req(12, 0, true);
        r.anchor = 11;
        let t = tile(area(100, 23), &r);
        assert!(t.placed.iter().any(|p| p.pane == 0));
        assert!(t.placed.iter().any(|p| p.pane == 11));
        assert!(t.page > 0);
    }

    #[test]
    fn wide_areas_prefer_columns_and_tall_ones_rows() {
        assert_eq!(grid_shape(area(200, 40), 2, 6, 5), (2, 1));
        assert_eq!(grid_shape(area(60, 60), 2, 1, 7), (1, 2));
        assert_eq!(grid_shape(area(160, 47), 4, 5, 5), (2, 2));
    }

    #[test]
    fn zoom_gives_the_focus_everything() {
        let mut r = req(5, 3, true);
        r.arrangement = Arrangement::Zoomed;
        let t = tile(area(80, 23), &r);
        assert_eq!(t.placed, vec![Placed { pane: 3, rect: area(80, 23), collapsed: false }]);
    }

    #[test]
    fn stacked_keeps_headers_of_the_others() {
        let mut r = req(4, 1, true);
        r.arrangement = Arrangement::Stacked;
        let t = tile(area(80, 23), &r);
        let rows: Vec<_> = t.placed.iter().map(|p| (p.pane, p.rect.y, p.rect.height)).collect();
        assert_eq!(rows, vec![(0, 0, 1), (1, 1, 20), (2, 21, 1), (3, 22, 1)]);
        assert!(t.placed[0].collapsed && !t.placed[1].collapsed);
    }

    #[test]
    fn stacked_with_more_panes_than_rows_shows_the_ones_near_the_focus() {
        let mut r = req(30, 15, false);
        r.arrangement = Arrangement::Stacked;
        let t = tile(area(80, 10), &r);
        assert_disjoint_inside(&t, area(80, 10));
        assert_eq!(t.placed.len(), 7);
        let focus = t.placed.iter().find(|p| p.pane == 15).map(|p| p.rect.height);
        assert_eq!(focus, Some(4));
        for f in [0, 29] {
            r.focus = f;
            let t = tile(area(80, 10), &r);
            assert_eq!(t.placed.len(), 7);
            assert!(t.placed.iter().any(|p| p.pane == f && !p.collapsed));
            assert_eq!(covered(&t), 800);
        }
    }

    #[test]
    fn directional_focus_in_a_grid() {
        // 2x2 grid of 4 panes: 0 1 / 2 3.
        let t = tile(area(80, 23), &req(4, 0, false));
        let n = |from, d| neighbor(&t.placed, from, d);
        assert_eq!(n(0, Direction::Right), Some(1));
        assert_eq!(n(0, Direction::Down), Some(2));
        assert_eq!(n(3, Direction::Up), Some(1));
        assert_eq!(n(3, Direction::Left), Some(2));
        assert_eq!(n(0, Direction::Left), None);
        assert_eq!(n(0, Direction::Up), None);
    }

    #[test]
    fn directional_focus_from_the_lead_column_prefers_overlap() {
        // Lead column on the left, workers stacked on the right.
        let placed = vec![
            Placed { pane: 0, rect: Rect::new(0, 0, 40, 30), collapsed: false },
            Placed { pane: 1, rect: Rect::new(40, 0, 40, 10), collapsed: false },
            Placed { pane: 2, rect: Rect::new(40, 10, 40, 10), collapsed: false },
            Placed { pane: 3, rect: Rect::new(40, 20, 40, 10), collapsed: false },
        ];
        assert_eq!(neighbor(&placed, 0, Direction::Right), Some(2), "closest centre");
        assert_eq!(neighbor(&placed, 3, Direction::Left), Some(0));
        assert_eq!(neighbor(&placed, 1, Direction::Down), Some(2));
        assert_eq!(neighbor(&placed, 9, Direction::Down), None, "unknown pane");
    }

    #[test]
    fn hit_testing_finds_the_pane_under_the_mouse() {
        let t = tile(area(80, 23), &req(2, 0, false));
        assert_eq!(hit(&t.placed, 0, 0), Some(0));
        assert_eq!(hit(&t.placed, 39, 22), Some(0));
        assert_eq!(hit(&t.placed, 40, 0), Some(1));
        assert_eq!(hit(&t.placed, 79, 22), Some(1));
        assert_eq!(hit(&t.placed, 80, 0), None);
        assert_eq!(hit(&t.placed, 0, 23), None);
    }

    #[test]
    fn pane_parts_stack_body_queue_and_input() {
        let p = pane_parts(Rect::new(0, 0, 40, 20), false, 2, 1);
        assert_eq!(p.header, Rect::new(0, 0, 40, 1));
        assert_eq!(p.body, Rect::new(1, 1, 38, 14));
        assert_eq!(p.queue, Rect::new(1, 15, 38, 2));
        assert_eq!(p.rule, Rect::new(1, 17, 38, 1));
        assert_eq!(p.input, Rect::new(1, 18, 38, 1));
        // Tiny panes keep a body row and never underflow.
        for h in 0..6 {
            for w in 0..5 {
                let p = pane_parts(Rect::new(0, 0, w, h), false, 5, 4);
                let inside = p.body.height + p.queue.height + p.rule.height + p.input.height;
                if w >= 3 && h >= 3 {
                    assert_eq!(inside + 2, h, "{w}x{h}: {p:?}");
                    assert!(p.body.height >= 1);
                } else {
                    assert!(inside + p.header.height <= h, "{w}x{h}: {p:?}");
                }
            }
        }
        let p = pane_parts(Rect::new(0, 0, 40, 4), false, 3, 3);
        assert_eq!(p.body.height, 1);
        assert_eq!(p.input.height, 1);
        assert_eq!(p.queue.height, 0);
    }

    #[test]
    fn split_spreads_the_remainder() {
        assert_eq!(split(0, 10, 3), vec![(0, 4), (4, 3), (7, 3)]);
        assert_eq!(split(5, 2, 4), vec![(5, 1), (6, 1), (7, 0), (7, 0)]);
    }
}
