//! Heights per width, and the lines of the cells on screen.
//!
//! Every cell's height at the current width is kept, with running sums, so finding the cell at
//! a scroll position is a binary search and a frame renders only the cells it shows. A change
//! to a cell forgets only that cell's height (and the sums after it).
//!
//! A new width (or a large batch of new cells, as when a workspace is reopened) does not
//! re-render the whole history: heights become estimates from the source text, and a cell is
//! measured exactly only when it comes into view (`exact_bottom`, `exact_window`). Resizing a
//! pane with 100,000 lines therefore costs a scan of the text, not a render of it.
//!
//! The streaming assistant cell keeps its completed Markdown blocks rendered and re-renders
//! only the unfinished tail.

use std::collections::HashMap;
use std::sync::Arc;

use ratatui::text::Line;

use super::cell::{Cell, CellKind};
use super::draw::{
    assistant_body, assistant_gutter, cell_lines, content_width, has_margin, nest_guide,
};
use crate::render::markdown::stable_prefix_len_from;

const UNKNOWN: u32 = u32::MAX;

/// Above this many unmeasured cells at once, all but the newest are estimated.
const EXACT_BATCH: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct LayoutCache {
    /// The width the heights hold for (0: none yet).
    width: u16,
    heights: Vec<u32>,
    /// Is `heights[i]` measured (true) or estimated from the text (false)?
    exact: Vec<bool>,
    /// Cells whose height is unknown, in no order (duplicates are harmless).
    dirty: Vec<usize>,
    /// `prefix[i]` = lines above cell `i`; correct for `i <= prefix_valid`.
    prefix: Vec<usize>,
    prefix_valid: usize,
    /// Lines of the cells drawn last (highlighted), by cell index.
    rendered: HashMap<usize, Arc<Vec<Line<'static>>>>,
    stream: Option<StreamCache>,
    /// Renders of a completed cell that reused its stream cache (see `adopt`).
    #[cfg(test)]
    pub(crate) handoffs: std::cell::Cell<usize>,
    /// Assistant cells rendered whole from their text.
    #[cfg(test)]
    pub(crate) whole_renders: usize,
}

/// The streaming assistant cell's body, kept between frames so that a frame renders only what
/// changed: completed Markdown blocks are rendered once (highlighted); of the open block, only
/// what follows its last line that can no longer change (see [`OpenPara`]).
#[derive(Debug)]
struct StreamCache {
    cell: usize,
    width: u16,
    /// The source text already rendered into `lines`.
    source: String,
    lines: Vec<Line<'static>>,
    /// The open block, when it is one line of a paragraph: its wrapped lines that are final.
    para: Option<OpenPara>,
    /// The source `tail` was rendered from: the open block after `para`'s source.
    tail_for: Option<String>,
    tail: Vec<Line<'static>>,
    /// The cell is complete and `tail` was rendered as its end (highlighted; see `adopt`).
    complete: bool,
}

/// The final lines of an open paragraph that is still one source line. Wrapping is greedy, so
/// a wrapped line followed by another no longer depends on what is appended, as long as the
/// words on it are plain (no Markdown syntax a later character could pair with); the paragraph
/// goes on from the first word of the line after, rendered as a paragraph of its own. Without
/// this, every frame re-rendered the whole paragraph (O(n) per frame for a long answer).
#[derive(Debug, Default)]
struct OpenPara {
    /// The paragraph's source up to the first word of its first line not in `lines`.
    source: String,
    lines: Vec<Line<'static>>,
}

impl StreamCache {
    fn para_lines(&self) -> &[Line<'static>] {
        self.para.as_ref().map_or(&[], |p| &p.lines)
    }

    fn separated(&self) -> bool {
        !self.lines.is_empty() && (!self.para_lines().is_empty() || !self.tail.is_empty())
    }

    fn len(&self) -> usize {
        self.lines.len() + usize::from(self.separated()) + self.para_lines().len() + self.tail.len()
    }

    /// Line `j` of the body.
    fn line(&self, j: usize) -> Option<&Line<'static>> {
        let mut j = j;
        if j < self.lines.len() {
            return self.lines.get(j);
        }
        j -= self.lines.len();
        if self.separated() {
            if j == 0 {
                return Some(&BLANK);
            }
            j -= 1;
        }
        let para = self.para_lines();
        if j < para.len() {
            return para.get(j);
        }
        self.tail.get(j - para.len())
    }

    fn body(&self) -> Vec<Line<'static>> {
        (0..self.len()).filter_map(|j| self.line(j).cloned()).collect()
    }
}

static BLANK: Line<'static> =
    Line { spans: Vec::new(), style: ratatui::style::Style::new(), alignment: None };

/// Can these characters never pair with a later one or start a block (plain words)?
fn is_plain(s: &str) -> bool {
    !s.bytes().any(|b| {
        matches!(b, b'\\' | b'`' | b'*' | b'_' | b'[' | b']' | b'<' | b'>' | b'&' | b'|' | b'~')
            || b.is_ascii_control()
    })
}

/// Do the blocks of `source` (cut after blank lines, as streaming cuts) render alone as they
/// do together? Not when a construct can span a blank line: list items (loose lists, item
/// continuations), indented code, HTML blocks.
fn blocks_render_alone(source: &str) -> bool {
    let mut fence: Option<(char, usize)> = None;
    for line in source.lines() {
        let t = line.trim_start_matches(' ');
        let indent = line.len() - t.len();
        let fence_run = |ch: char| t.chars().take_while(|&c| c == ch).count();
        if indent < 4 {
            if let Some(ch @ ('`' | '~')) = t.chars().next() {
                let run = fence_run(ch);
                if run >= 3 {
                    match fence {
                        None => fence = Some((ch, run)),
                        Some((open, n)) if open == ch && run >= n && t[run..].trim().is_empty() => {
                            fence = None
                        }
                        Some(_) => {}
                    }
                    continue;
                }
            }
        }
        if fence.is_some() || t.is_empty() {
            continue;
        }
        if indent >= 4 || t.starts_with('\t') || t.starts_with('<') || is_list_item(t) {
            return false;
        }
    }
    true
}

fn is_list_item(t: &str) -> bool {
    let marker_then_space = |rest: &str| rest.is_empty() || rest.starts_with([' ', '\t']);
    if let Some(rest) = t.strip_prefix(['-', '*', '+']) {
        return marker_then_space(rest);
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && t[digits..].strip_prefix(['.', ')']).is_some_and(marker_then_space)
}

/// `[label]: destination`, which changes links anywhere in the text.
fn is_link_definition(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    t.starts_with('[') && t.contains("]:")
}

/// The lines of the first block of `text` (up to a blank line).
fn first_block(text: &str) -> impl Iterator<Item = &str> + Clone {
    text.lines().take_while(|l| !l.trim().is_empty())
}

/// A setext underline or a table's delimiter row, which turn the lines above them into a
/// heading or a table header.
fn reaches_back(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty()
        && (t.chars().all(|c| c == '=' || c == ' ')
            || t.chars().all(|c| c == '-' || c == ' ')
            || (t.contains('-') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))))
}

/// Does this open block start a paragraph (not a list, heading, quote, fence, table...)?
fn starts_paragraph(open: &str) -> bool {
    open.chars().next().is_some_and(char::is_alphabetic)
}

/// How many of `lines` (rendered from the plain paragraph `src`) can be frozen, and where
/// the source goes on after them: each line's words must be `src`'s next words, whole (not
/// cut by a hard wrap), with plain source, and the next line must start like a paragraph.
/// Stops at the first line that is not.
fn frozen_prefix(src: &str, lines: &[Line<'_>]) -> (usize, usize) {
    let mut pos = 0;
    let mut frozen = (0, 0);
    let mut text = String::new();
    for (k, line) in lines.iter().enumerate() {
        text.clear();
        for span in &line.spans {
            text.push_str(&span.content);
        }
        let start = pos;
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            pos += src[pos..].len() - src[pos..].trim_start().len();
            if !src[pos..].starts_with(word) {
                return frozen;
            }
            pos += word.len();
            // The word must end here: a hard wrap cut it otherwise.
            if !src[pos..].starts_with(char::is_whitespace) {
                return frozen;
            }
        }
        if pos == start || !is_plain(&src[start..pos]) {
            return frozen;
        }
        let next = pos + (src[pos..].len() - src[pos..].trim_start().len());
        // What follows is rendered as a paragraph of its own: it must read as one ("- x" or
        // "1. x" would start a list).
        if !starts_paragraph(&src[next..]) {
            return frozen;
        }
        frozen = (k + 1, next);
    }
    frozen
}

impl LayoutCache {
    pub(crate) fn on_push(&mut self) {
        self.heights.push(UNKNOWN);
        self.exact.push(false);
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
        self.exact.insert(at, false);
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

    /// Bring heights and sums up to date for `width`: changed cells are measured, the rest
    /// keep their (exact or estimated) heights; a new width turns all heights into estimates.
    pub(crate) fn sync(&mut self, cells: &[Cell], width: u16) {
        debug_assert_eq!(self.heights.len(), cells.len());
        let n = cells.len();
        if width != self.width {
            self.width = width;
            for i in 0..n {
                self.heights[i] = estimate(cells, i, width);
                self.exact[i] = false;
            }
            self.dirty.clear();
            self.rendered.clear();
            self.stream = None;
            self.prefix_valid = 0;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.retain(|&i| i < n && self.heights[i] == UNKNOWN);
        if dirty.len() > EXACT_BATCH {
            // A flood of new cells (a reopened history): measure the newest, estimate the rest.
            dirty.sort_unstable();
            dirty.dedup();
            let keep_from = dirty.len().saturating_sub(EXACT_BATCH);
            for &i in &dirty[..keep_from] {
                self.heights[i] = estimate(cells, i, width);
                self.exact[i] = false;
            }
            dirty.drain(..keep_from);
        }
        for i in dirty {
            if self.heights[i] == UNKNOWN {
                self.heights[i] = self.measure(cells, i);
                self.exact[i] = true;
            }
        }
        self.fix_prefix(n);
    }

    fn fix_prefix(&mut self, n: usize) {
        self.prefix.resize(n + 1, 0);
        let start = self.prefix_valid.min(n);
        for i in start..n {
            self.prefix[i + 1] = self.prefix[i] + self.heights[i] as usize;
        }
        self.prefix_valid = n;
    }

    /// Measure cell `i` now if its height is an estimate (after `sync`).
    pub(crate) fn exact_cell(&mut self, cells: &[Cell], i: usize) {
        if self.make_exact(cells, i) {
            self.fix_prefix(cells.len());
        }
    }

    /// Measure cell `i` if its height is an estimate; true when it was.
    fn make_exact(&mut self, cells: &[Cell], i: usize) -> bool {
        if i >= cells.len() || self.exact[i] {
            return false;
        }
        self.heights[i] = self.measure(cells, i);
        self.exact[i] = true;
        self.prefix_valid = self.prefix_valid.min(i);
        true
    }

    /// Measure the last cells until they fill `rows` lines: what a pane following the
    /// bottom shows (after `sync`).
    pub(crate) fn exact_bottom(&mut self, cells: &[Cell], rows: usize) {
        let mut filled = 0;
        let mut changed = false;
        for i in (0..cells.len()).rev() {
            changed |= self.make_exact(cells, i);
            filled += self.heights[i] as usize;
            if filled >= rows {
                break;
            }
        }
        if changed {
            self.fix_prefix(cells.len());
        }
    }

    /// Measure the cells that lines `top..top + rows` fall in (after `sync`). Cells above
    /// `top` keep their heights, so `top` keeps pointing at the same place.
    pub(crate) fn exact_window(&mut self, cells: &[Cell], top: usize, rows: usize) {
        if cells.is_empty() {
            return;
        }
        let end = top + rows;
        let mut i = self.cell_at(top.min(self.total().saturating_sub(1)));
        let mut changed = false;
        while i < cells.len() {
            changed |= self.make_exact(cells, i);
            if changed {
                self.fix_prefix(cells.len());
            }
            if self.prefix[i + 1] >= end {
                break;
            }
            i += 1;
        }
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

    /// Lines of the streaming cell's open paragraph that are frozen (not rendered again).
    #[cfg(test)]
    pub(crate) fn frozen_lines(&self) -> usize {
        self.stream.as_ref().map_or(0, |s| s.para_lines().len())
    }

    #[cfg(test)]
    pub(crate) fn exact_count(&self) -> usize {
        self.exact.iter().filter(|&&e| e).count()
    }

    fn measure(&mut self, cells: &[Cell], i: usize) -> u32 {
        let cell = &cells[i];
        // Counted without copying the streamed lines (this runs on every delta).
        let height = match self.cached_body(cells, i).map(StreamCache::len) {
            Some(body) => {
                let prev = i.checked_sub(1).map(|p| &cells[p]);
                usize::from(has_margin(cell, prev)) + body.max(1)
            }
            None => {
                let mut out = Vec::new();
                self.lines_into(cells, i, false, &mut out);
                out.len()
            }
        };
        u32::try_from(height).unwrap_or(UNKNOWN - 1)
    }

    /// Cell `i` rendered whole from its source. (A cell whose body a stream cache holds is
    /// measured and drawn from the cache instead: see `cached_body`.)
    fn lines_into(
        &mut self,
        cells: &[Cell],
        i: usize,
        highlight: bool,
        out: &mut Vec<Line<'static>>,
    ) {
        let cell = &cells[i];
        #[cfg(test)]
        if matches!(cell.kind, CellKind::Assistant(_)) {
            self.whole_renders += 1;
        }
        let prev = i.checked_sub(1).map(|p| &cells[p]);
        cell_lines(cell, prev, self.width, highlight, None, out)
    }

    /// Bring the streaming cell's cache up to `text`: completed blocks are rendered once
    /// (highlighted) and kept; the open one is rendered unhighlighted, from its last line that
    /// can still change, once per new text.
    fn stream_update(&mut self, i: usize, text: &str, w: u16) -> Option<&StreamCache> {
        let reusable = self.stream.as_ref().is_some_and(|s| {
            s.cell == i && s.width == w && !s.complete && text.starts_with(s.source.as_str())
        });
        if !reusable {
            self.stream = Some(StreamCache {
                cell: i,
                width: w,
                source: String::new(),
                lines: Vec::new(),
                para: None,
                tail_for: None,
                tail: Vec::new(),
                complete: false,
            });
        }
        let s = self.stream.as_mut()?;
        let cut = stable_prefix_len_from(text, s.source.len());
        if cut > s.source.len() {
            let chunk = &text[s.source.len()..cut];
            // The open paragraph ended: its frozen lines stay, the rest of it is rendered.
            let mut lines = Vec::new();
            let frozen = s.para.take().and_then(|p| {
                let after = chunk.strip_prefix(p.source.as_str())?;
                (!p.lines.is_empty() && !first_block(after).any(reaches_back))
                    .then_some((p.lines, after))
            });
            match frozen {
                Some((frozen, after)) => {
                    lines = frozen;
                    assistant_body(after, w, true, &mut lines);
                }
                None => assistant_body(chunk, w, true, &mut lines),
            }
            if !s.lines.is_empty() && !lines.is_empty() {
                s.lines.push(Line::default());
            }
            s.lines.append(&mut lines);
            s.source.push_str(chunk);
            s.para = None;
            s.tail_for = None;
        }
        let open = &text[cut..];
        // The open block as a paragraph of one line so far: only its unfrozen end is rendered.
        let one_line_paragraph = !open.contains('\n') && starts_paragraph(open);
        match &s.para {
            Some(p) if one_line_paragraph && open.starts_with(p.source.as_str()) => {}
            Some(_) => {
                s.para = None;
                s.tail_for = None;
            }
            None if one_line_paragraph => {
                s.para = Some(OpenPara::default());
                s.tail_for = None;
            }
            None => {}
        }
        let rest = &open[s.para.as_ref().map_or(0, |p| p.source.len())..];
        if s.tail_for.as_deref() != Some(rest) {
            s.tail.clear();
            assistant_body(rest, w, false, &mut s.tail);
            s.tail_for = Some(rest.to_string());
            if let Some(p) = &mut s.para {
                // Every line but the last is followed by another: freeze those that can be.
                let last = s.tail.len().saturating_sub(1);
                let (n, end) = frozen_prefix(rest, &s.tail[..last]);
                if n > 0 {
                    p.lines.extend(s.tail.drain(..n));
                    p.source.push_str(&rest[..end]);
                    s.tail_for = None;
                }
            }
        }
        Some(s)
    }

    /// The stream cache as the body of cell `i`, which streamed and is now complete, when
    /// it shows what a whole render of `text` gives: only what follows the cache's frozen part
    /// is rendered again (highlighted). A long answer otherwise cost whole renders as it ended,
    /// for measuring and for drawing. `None` when the cache does not apply.
    fn adopt(&mut self, i: usize, text: &str, w: u16) -> Option<&StreamCache> {
        let s = self.stream.as_mut().filter(|s| s.cell == i && s.width == w)?;
        let open = text.strip_prefix(s.source.as_str())?;
        let rest = match &s.para {
            Some(p) => open.strip_prefix(p.source.as_str())?,
            None => open,
        };
        if !(s.complete && s.tail_for.as_deref() == Some(rest)) {
            if !blocks_render_alone(&s.source) || text.lines().any(is_link_definition) {
                return None;
            }
            // The frozen lines' paragraph goes on in `rest`: nothing there may reach back.
            if s.para.is_some() && first_block(rest).any(reaches_back) {
                return None;
            }
            s.tail.clear();
            assistant_body(rest, w, true, &mut s.tail);
            s.tail_for = Some(rest.to_string());
            s.complete = true;
            #[cfg(test)]
            self.handoffs.set(self.handoffs.get() + 1);
        }
        self.stream.as_ref()
    }

    /// The cache that holds cell `i`'s body, if one does: the streaming cell's, brought up to
    /// date, or the one it left when it completed.
    fn cached_body(&mut self, cells: &[Cell], i: usize) -> Option<&StreamCache> {
        let cell = &cells[i];
        let CellKind::Assistant(block) = &cell.kind else {
            return None;
        };
        let w = content_width(cell, self.width);
        if block.streaming {
            self.retire_stream(cells, i);
            self.stream_update(i, &block.text, w)
        } else {
            self.adopt(i, &block.text, w)
        }
    }

    /// Cell `i` starts streaming: the completed cell the cache held keeps its lines as drawn
    /// (the cache is about to be reused), rather than being rendered again from its text the
    /// next time it shows.
    fn retire_stream(&mut self, cells: &[Cell], i: usize) {
        let Some(old) = self.stream.as_ref().map(|s| s.cell).filter(|&c| c != i) else {
            return;
        };
        let Some(cell) = cells.get(old) else {
            return;
        };
        let CellKind::Assistant(block) = &cell.kind else {
            return;
        };
        if block.streaming || self.rendered.contains_key(&old) {
            return;
        }
        let w = content_width(cell, self.width);
        let Some(body) = self.adopt(old, &block.text, w).map(StreamCache::body) else {
            return;
        };
        let mut out = Vec::new();
        let prev = old.checked_sub(1).map(|p| &cells[p]);
        cell_lines(cell, prev, self.width, true, Some(&body), &mut out);
        self.rendered.insert(old, Arc::new(out));
    }

    /// Calls `f` with the lines of cell `i` from its line `skip` on, until it returns false.
    /// The streaming cell's lines are made one by one from its cache (no copy of its body).
    pub(crate) fn visit(
        &mut self,
        cells: &[Cell],
        i: usize,
        skip: usize,
        mut f: impl FnMut(&Line<'static>) -> bool,
    ) {
        let cell = &cells[i];
        let margin = usize::from(has_margin(cell, i.checked_sub(1).map(|p| &cells[p])));
        if self.cached_body(cells, i).is_none() {
            return self.visit_rendered(cells, i, skip, f);
        }
        let Some(s) = self.stream.as_ref() else {
            return;
        };
        // As `cell_lines` draws it: the margin, then the body (one blank line at least), each
        // line after its gutter, all after the nesting guide.
        for row in skip..margin + s.len().max(1) {
            let mut line = match row.checked_sub(margin) {
                None => Line::default(),
                Some(j) => {
                    let mut line = s.line(j).cloned().unwrap_or_default();
                    line.spans.insert(0, assistant_gutter(j == 0));
                    line
                }
            };
            if cell.depth > 0 {
                line.spans.insert(0, nest_guide(cell.depth));
            }
            if !f(&line) {
                return;
            }
        }
    }

    fn visit_rendered(
        &mut self,
        cells: &[Cell],
        i: usize,
        skip: usize,
        mut f: impl FnMut(&Line<'static>) -> bool,
    ) {
        for line in self.lines(cells, i).iter().skip(skip) {
            if !f(line) {
                return;
            }
        }
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

/// A cheap guess of a cell's height at `width` from its source text: one line per
/// `width` bytes of each source line, plus the margin. Corrected when the cell is seen.
fn estimate(cells: &[Cell], i: usize, width: u16) -> u32 {
    let cell = &cells[i];
    let prev = i.checked_sub(1).map(|p| &cells[p]);
    let w = usize::from(content_width(cell, width).saturating_sub(2).max(1));
    let text_lines = |s: &str| -> usize { s.split('\n').map(|l| 1 + l.len() / w).sum() };
    let body = match &cell.kind {
        CellKind::Prompt(t) | CellKind::Output(t) => text_lines(t),
        CellKind::Assistant(b) => text_lines(&b.text),
        CellKind::Thinking(b) => 1 + if cell.expanded { text_lines(&b.text) } else { 0 },
        CellKind::Note(n) => text_lines(&n.text),
        CellKind::Error(e) => {
            if cell.expanded {
                text_lines(e)
            } else {
                1
            }
        }
        CellKind::Footer(_) => 1,
        CellKind::Tool(call) => {
            let failed = call.denied || call.result.as_ref().is_some_and(|r| r.is_error);
            if cell.expanded {
                let input = call.input.to_string();
                let result = call.result.as_ref().map_or(1, |r| 1 + text_lines(&r.content));
                1 + 1 + input.len() / w + input.matches("\\n").count() + result
            } else {
                1 + usize::from(failed)
            }
        }
    };
    let margin = usize::from(has_margin(cell, prev));
    u32::try_from(body + margin).unwrap_or(UNKNOWN - 1)
}
