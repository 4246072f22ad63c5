//! Heights per width, and the lines of the cells on screen.
//!
//! Every cell's height at the current width is kept, with running sums, so finding the cell at
//! a scroll position is a binary search and a frame renders only the cells it shows. A change
//! to a cell forgets only that cell's height (and the sums after it); a new width forgets all.
//! The streaming assistant cell keeps its completed Markdown blocks rendered and re-renders
//! only the unfinished tail.

use std::collections::HashMap;
use std::sync::Arc;

use ratatui::text::Line;

use super::cell::{Cell, CellKind};
use super::draw::{assistant_body, cell_lines, content_width};
use crate::render::markdown::stable_prefix_len;

const UNKNOWN: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct LayoutCache {
    /// The width the heights hold for (0: none yet).
    width: u16,
    heights: Vec<u32>,
    /// Cells whose height is unknown, in no order (duplicates are harmless).
    dirty: Vec<usize>,
    all_dirty: bool,
    /// `prefix[i]` = lines above cell `i`; correct for `i <= prefix_valid`.
    prefix: Vec<usize>,
    prefix_valid: usize,
    /// Lines of the cells drawn last (highlighted), by cell index.
    rendered: HashMap<usize, Arc<Vec<Line<'static>>>>,
    stream: Option<StreamCache>,
}

/// The completed part of a streaming assistant cell, rendered once.
#[derive(Debug)]
struct StreamCache {
    cell: usize,
    width: u16,
    /// The source text already rendered into `lines`.
    source: String,
    lines: Vec<Line<'static>>,
}

impl LayoutCache {
    pub(crate) fn on_push(&mut self) {
        self.heights.push(UNKNOWN);
        self.dirty.push(self.heights.len() - 1);
    }

    pub(crate) fn on_change(&mut self, i: usize) {
        if let Some(h) = self.heights.get_mut(i) {
            if *h != UNKNOWN {
                *h = UNKNOWN;
                self.dirty.push(i);
            }
        }
        self.prefix_valid = self.prefix_valid.min(i);
        self.rendered.remove(&i);
    }

    pub(crate) fn on_insert(&mut self, at: usize) {
        self.heights.insert(at, UNKNOWN);
        for d in &mut self.dirty {
            if *d >= at {
                *d += 1;
            }
        }
        self.dirty.push(at);
        self.prefix_valid = self.prefix_valid.min(at);
        self.rendered.clear();
        if let Some(s) = &mut self.stream {
            if s.cell >= at {
                s.cell += 1;
            }
        }
        // The cell after it has a new neighbour, which can change its margin.
        self.on_change(at + 1);
    }

    /// Bring heights and sums up to date for `width`.
    pub(crate) fn sync(&mut self, cells: &[Cell], width: u16) {
        debug_assert_eq!(self.heights.len(), cells.len());
        if width != self.width {
            self.width = width;
            self.heights.iter_mut().for_each(|h| *h = UNKNOWN);
            self.all_dirty = true;
            self.rendered.clear();
            self.stream = None;
            self.prefix_valid = 0;
        }
        if self.all_dirty {
            self.dirty.clear();
            self.all_dirty = false;
            for i in 0..cells.len() {
                self.heights[i] = self.measure(cells, i);
            }
        } else {
            let dirty = std::mem::take(&mut self.dirty);
            for i in dirty {
                if i < cells.len() && self.heights[i] == UNKNOWN {
                    self.heights[i] = self.measure(cells, i);
                }
            }
        }
        let n = cells.len();
        self.prefix.resize(n + 1, 0);
        let start = self.prefix_valid.min(n);
        for i in start..n {
            self.prefix[i + 1] = self.prefix[i] + self.heights[i] as usize;
        }
        self.prefix_valid = n;
    }

    pub(crate) fn total(&self) -> usize {
        self.prefix.last().copied().unwrap_or(0)
    }

    /// Lines above cell `i` and its height (after `sync`).
    pub(crate) fn span(&self, i: usize) -> Option<(usize, usize)> {
        let top = *self.prefix.get(i)?;
        let h = *self.heights.get(i)?;
        Some((top, h as usize))
    }

    /// The cell holding line `line` (after `sync`, `line < total`).
    pub(crate) fn cell_at(&self, line: usize) -> usize {
        // prefix is non-decreasing; the last i with prefix[i] <= line.
        let n = self.heights.len();
        let p = self.prefix[..n].partition_point(|&s| s <= line);
        p.saturating_sub(1)
    }

    fn measure(&mut self, cells: &[Cell], i: usize) -> u32 {
        let mut out = Vec::new();
        self.lines_into(cells, i, false, &mut out);
        u32::try_from(out.len()).unwrap_or(UNKNOWN - 1)
    }

    fn lines_into(
        &mut self,
        cells: &[Cell],
        i: usize,
        highlight: bool,
        out: &mut Vec<Line<'static>>,
    ) {
        let cell = &cells[i];
        let prev = i.checked_sub(1).map(|p| &cells[p]);
        let width = self.width;
        match &cell.kind {
            CellKind::Assistant(block) if block.streaming => {
                let body = self.stream_body(i, &block.text, content_width(cell, width));
                cell_lines(cell, prev, width, highlight, Some(&body), out);
            }
            _ => cell_lines(cell, prev, width, highlight, None, out),
        }
    }

    /// A streaming cell's Markdown: the completed blocks from the cache (extended when more
    /// completed), then the open tail rendered now, unhighlighted (it is redrawn every delta).
    fn stream_body(&mut self, i: usize, text: &str, w: u16) -> Vec<Line<'static>> {
        let cut = stable_prefix_len(text);
        let reusable = self.stream.as_ref().is_some_and(|s| {
            s.cell == i && s.width == w && s.source.len() <= cut && text.starts_with(&s.source)
        });
        if !reusable {
            self.stream =
                Some(StreamCache { cell: i, width: w, source: String::new(), lines: Vec::new() });
        }
        let Some(s) = self.stream.as_mut() else {
            return Vec::new();
        };
        if cut > s.source.len() {
            let chunk = &text[s.source.len()..cut];
            let mut lines = Vec::new();
            assistant_body(chunk, w, true, &mut lines);
            if !s.lines.is_empty() && !lines.is_empty() {
                s.lines.push(Line::default());
            }
            s.lines.append(&mut lines);
            s.source.push_str(chunk);
        }
        let mut body = s.lines.clone();
        let mut tail = Vec::new();
        assistant_body(&text[cut..], w, false, &mut tail);
        if !body.is_empty() && !tail.is_empty() {
            body.push(Line::default());
        }
        body.append(&mut tail);
        body
    }

    /// The lines of cell `i` for drawing, from the cache or rendered now.
    pub(crate) fn lines(&mut self, cells: &[Cell], i: usize) -> Arc<Vec<Line<'static>>> {
        if let Some(l) = self.rendered.get(&i) {
            return Arc::clone(l);
        }
        let mut out = Vec::new();
        self.lines_into(cells, i, true, &mut out);
        let lines = Arc::new(out);
        self.rendered.insert(i, Arc::clone(&lines));
        lines
    }

    /// Forget drawn lines of cells outside `first..=last`, so the cache stays screen-sized.
    pub(crate) fn keep_rendered(&mut self, first: usize, last: usize) {
        if self.rendered.len() > last.saturating_sub(first) + 1 {
            self.rendered.retain(|&i, _| i >= first && i <= last);
        }
    }
}
