//! The diff view: an agent's changed files with +/- counts, and the selected file's hunks,
//! coloured and scrollable. Also the one-line header fragment a pane shows after each turn.
//!
//! The view only reads: [`DiffScroll`] is plain state the app keeps (`app::worktree`) and
//! moves with pure methods; [`DiffView`] clamps it while drawing.

use crate::render::sanitize::{clean_line, put_line, put_str, sanitize};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use crate::app::worktree::{diff_overlay_inner, diff_overlay_rect, CommitForm, DiffOverlay};
pub use crate::app::worktree::{file_rows, hunk_viewport, max_offset, DiffScroll};
use crate::app::{Command, Context, State};
use crate::worktree::overlap::SharedEdit;
use crate::worktree::{Changes, DiffLine, FileDiff, FileStatus, LineKind};

/// Below this width the file list is dropped and one line names the selected file.
pub const MIN_SPLIT_WIDTH: u16 = 48;

pub const ADDED: Style = Style::new().fg(Color::Green);
pub const REMOVED: Style = Style::new().fg(Color::Red);
pub const HUNK_HEADER: Style = Style::new().fg(Color::Cyan);
const DIM: Style = Style::new().add_modifier(Modifier::DIM);
const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const TITLE: Style = Style::new().add_modifier(Modifier::BOLD);

/// The first row of a list of `len` rows shown `height` at a time that keeps `selected` in view.
pub fn list_offset(selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    let selected = selected.min(len - 1);
    // Keep the selection in the middle where the list allows it.
    selected.saturating_sub(height / 2).min(len - height)
}

fn status_letter(status: &FileStatus) -> (&'static str, Style) {
    match status {
        FileStatus::Modified => ("M", Style::new().fg(Color::Yellow)),
        FileStatus::Added => ("A", ADDED),
        FileStatus::Untracked => ("?", ADDED),
        FileStatus::Deleted => ("D", REMOVED),
        FileStatus::Renamed { .. } => ("R", Style::new().fg(Color::Magenta)),
    }
}

/// Tabs as spaces and control characters shown, so a line takes the cells it says.
fn printable(text: &str) -> String {
    sanitize(text).into_owned()
}

/// `text` cut to `width` cells, its start replaced by "…" when it does not fit (the end of
/// a path is the part worth seeing).
fn fit_left(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut kept: Vec<char> = Vec::new();
    let mut used = 1;
    for c in text.chars().rev() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        kept.push(c);
    }
    kept.reverse();
    format!("…{}", kept.into_iter().collect::<String>())
}

/// The diff view widget.
pub struct DiffView<'a> {
    files: &'a [FileDiff],
    scroll: DiffScroll,
    /// What the changes are measured against, for the empty message.
    base: &'a str,
}

impl<'a> DiffView<'a> {
    pub fn new(files: &'a [FileDiff], scroll: DiffScroll, base: &'a str) -> Self {
        DiffView { files, scroll, base }
    }
}

impl Widget for DiffView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        if self.files.is_empty() {
            let text = format!("No changes against {}.", self.base);
            put_line(buf, area.x, area.y, &Line::styled(text, DIM), area.width);
            return;
        }
        let selected = self.scroll.selected.min(self.files.len() - 1);
        let file = &self.files[selected];
        if area.width < MIN_SPLIT_WIDTH {
            render_hunks(file, selected, self.files.len(), self.scroll, area, buf);
            return;
        }
        let list_width = (area.width / 3).clamp(16, 40);
        let list = Rect { width: list_width, ..area };
        let sep_x = area.x + list_width;
        let hunks = Rect { x: sep_x + 1, width: area.width - list_width - 1, ..area };
        render_list(self.files, selected, list, buf);
        for y in area.y..area.y + area.height {
            put_str(buf, sep_x, y, "│", DIM);
        }
        render_hunks(file, selected, self.files.len(), self.scroll, hunks, buf);
    }
}

fn render_list(files: &[FileDiff], selected: usize, area: Rect, buf: &mut Buffer) {
    let height = usize::from(area.height);
    let first = list_offset(selected, files.len(), height);
    for (row, (i, file)) in files.iter().enumerate().skip(first).take(height).enumerate() {
        let y = area.y + row as u16;
        let (letter, letter_style) = status_letter(&file.status);
        let counts = if file.binary {
            vec![Span::styled("bin", DIM)]
        } else {
            vec![
                Span::styled(format!("+{}", file.added), ADDED),
                Span::raw(" "),
                Span::styled(format!("−{}", file.removed), REMOVED),
            ]
        };
        let counts_width: usize = counts.iter().map(|s| s.content.width()).sum();
        let width = usize::from(area.width);
        // "M path  +1 −2": the path gets what the letter and the counts leave.
        let path_width = width.saturating_sub(2 + 1 + counts_width);
        let path = fit_left(&printable(&file.path), path_width);
        let pad = path_width.saturating_sub(path.width());
        let mut spans = vec![
            Span::styled(letter, letter_style),
            Span::raw(" "),
            Span::raw(path),
            Span::raw(" ".repeat(pad + 1)),
        ];
        spans.extend(counts);
        let mut line = Line::from(spans);
        if i == selected {
            line = line.patch_style(SELECTED);
        }
        put_line(buf, area.x, y, &line, area.width);
    }
}

fn title_line(file: &FileDiff, selected: usize, count: usize, width: usize) -> Line<'static> {
    let position = if count > 1 { format!(" {}/{count}", selected + 1) } else { String::new() };
    let note = match &file.status {
        FileStatus::Renamed { from } => format!(" (renamed from {})", printable(from)),
        FileStatus::Added => " (new)".into(),
        FileStatus::Untracked => " (new, untracked)".into(),
        FileStatus::Deleted => " (deleted)".into(),
        FileStatus::Modified => String::new(),
    };
    let counts = format!(" +{} −{}", file.added, file.removed);
    let fixed = position.width() + note.width() + counts.width();
    let path = fit_left(&printable(&file.path), width.saturating_sub(fixed).max(1));
    Line::from(vec![
        Span::styled(path, TITLE),
        Span::styled(note, DIM),
        Span::styled(format!(" +{}", file.added), ADDED),
        Span::styled(format!(" −{}", file.removed), REMOVED),
        Span::styled(position, DIM),
    ])
}

fn render_hunks(
    file: &FileDiff,
    selected: usize,
    count: usize,
    scroll: DiffScroll,
    area: Rect,
    buf: &mut Buffer,
) {
    let title = title_line(file, selected, count, usize::from(area.width));
    put_line(buf, area.x, area.y, &title, area.width);
    let viewport = hunk_viewport(area);
    if viewport == 0 {
        return;
    }
    let offset = scroll.effective_offset(file_rows(file), viewport);
    for (i, line) in visible_rows(file, offset, viewport).into_iter().enumerate() {
        put_line(buf, area.x, area.y + 1 + i as u16, &line, area.width);
    }
}

fn diff_line(l: &DiffLine) -> Line<'static> {
    let (mark, style) = match l.kind {
        LineKind::Added => ("+", ADDED),
        LineKind::Removed => ("-", REMOVED),
        LineKind::Context => (" ", Style::new()),
        LineKind::NoNewline => ("", DIM),
    };
    Line::styled(format!("{mark}{}", printable(&l.text)), style)
}

/// Rows `offset..offset + count` of a file's hunk pane ([`file_rows`] says how many there
/// are). Hunks above the offset are skipped by arithmetic, so a file of 20,000 lines costs
/// the same per frame as a short one.
fn visible_rows(file: &FileDiff, offset: usize, count: usize) -> Vec<Line<'static>> {
    if file.binary || file.hunks.is_empty() {
        let text = if file.binary {
            "Binary file: contents not shown."
        } else if file.truncated {
            "Too large to show."
        } else {
            "No content changes (mode or empty file)."
        };
        return (offset == 0 && count > 0).then(|| Line::styled(text, DIM)).into_iter().collect();
    }
    if count == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(count);
    let mut row = 0usize;
    for hunk in &file.hunks {
        let rows = 1 + hunk.lines.len();
        if row + rows <= offset {
            row += rows;
            continue;
        }
        if row >= offset {
            out.push(Line::styled(printable(&hunk.header), HUNK_HEADER));
        }
        // Index of the first line of this hunk that is at or after the offset.
        let first = (offset.saturating_sub(row + 1)).min(hunk.lines.len());
        for l in &hunk.lines[first..] {
            if out.len() >= count {
                return out;
            }
            out.push(diff_line(l));
        }
        row += rows;
        if out.len() >= count {
            return out;
        }
    }
    // `row` is now the index of the "more lines" row.
    if file.truncated && out.len() < count && offset <= row {
        out.push(Line::styled("… more lines not shown", DIM));
    }
    out.truncate(count);
    out
}

/// The diff view as an overlay over the panes, with the agent's branch and base in its title
/// and the keys in its bottom border.
pub fn render_overlay(state: &State, view: &DiffOverlay, panes: Rect, buf: &mut Buffer) {
    let rect = diff_overlay_rect(panes);
    if rect.width < 3 || rect.height < 3 {
        return;
    }
    Clear.render(rect, buf);
    let agent = state.index_of(view.agent).map(|i| &state.agents[i]);
    let tree = agent.and_then(|a| a.tree.as_ref());
    let (branch, base) = tree.map(|t| (t.wt.branch.clone(), t.wt.base.label())).unwrap_or_default();
    let title = format!(" diff · {branch} vs {base} ");
    let keys = |c| state.keymap.key_label(Context::Diff, c).unwrap_or_default();
    let hint = format!(
        " {} file · {} scroll · {} commit · {} close ",
        keys(Command::NextFile),
        keys(Command::PageDown),
        keys(Command::Commit),
        keys(Command::Close)
    );
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Cyan))
        .title(sanitize(&title).into_owned())
        .title_bottom(Line::styled(hint, DIM));
    block.render(rect, buf);
    let inner = diff_overlay_inner(panes);
    if let Some(err) = &view.error {
        let line = Line::styled(format!("could not read the diff: {err}"), REMOVED);
        Paragraph::new(clean_line(line)).wrap(Wrap { trim: true }).render(inner, buf);
        return;
    }
    match &view.files {
        None => {
            put_line(buf, inner.x, inner.y, &Line::styled("reading the diff…", DIM), inner.width);
        }
        Some(files) => DiffView::new(files, view.scroll, &base).render(inner, buf),
    }
}

/// The commit message box: the proposed message, editable.
pub fn render_commit(state: &State, form: &CommitForm, panes: Rect, buf: &mut Buffer) {
    let w = panes.width.min(80);
    let lines = form.input.lines().len() as u16;
    let h = panes.height.min(lines.clamp(1, 8) + 4);
    let rect = super::centered(panes, w, h);
    if rect.width < 3 || rect.height < 3 {
        return;
    }
    Clear.render(rect, buf);
    let name = state
        .index_of(form.agent)
        .and_then(|i| state.agents[i].tree.as_ref())
        .map(|t| t.wt.branch.clone())
        .unwrap_or_default();
    let keys = |c| state.keymap.key_label(Context::Commit, c).unwrap_or_default();
    let hint = if form.busy {
        " committing… ".to_string()
    } else {
        format!(" {} commit · {} cancel ", keys(Command::Submit), keys(Command::Close))
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Yellow))
        .title(sanitize(&format!(" commit all changes on {name} ")).into_owned())
        .title_bottom(Line::styled(hint, DIM));
    let inner = block.inner(rect);
    block.render(rect, buf);
    let input_area = Rect { height: inner.height.saturating_sub(1), ..inner };
    form.input.render(input_area, buf);
    if let Some(err) = &form.error {
        let y = inner.y + inner.height.saturating_sub(1);
        put_line(buf, inner.x, y, &Line::styled(err.clone(), REMOVED), inner.width);
    }
}

/// The pane header's worktree fragment, e.g. "⎇ agentmux/qa +12 −3 · 2 files (uncommitted)".
pub fn header_fragment(changes: &Changes) -> Line<'static> {
    let branch = changes.branch.clone().unwrap_or_else(|| "(detached)".into());
    let mut spans = vec![Span::styled(format!("⎇ {branch}"), Style::new().fg(Color::Magenta))];
    let total = changes.total;
    if total.is_empty() && changes.commits_ahead == 0 {
        spans.push(Span::styled(" · no changes", DIM));
        return Line::from(spans);
    }
    spans.push(Span::styled(format!(" +{}", total.added), ADDED));
    spans.push(Span::styled(format!(" −{}", total.removed), REMOVED));
    let files =
        if total.files == 1 { "1 file".to_string() } else { format!("{} files", total.files) };
    let commits = match changes.commits_ahead {
        0 => None,
        1 => Some("1 commit".to_string()),
        n => Some(format!("{n} commits")),
    };
    let state = match (commits, changes.uncommitted.is_empty()) {
        (None, _) => "uncommitted".to_string(),
        (Some(c), true) => c,
        (Some(c), false) => format!("{c} + uncommitted"),
    };
    spans.push(Span::styled(format!(" · {files} ({state})"), DIM));
    Line::from(spans)
}

/// The header fragment as plain text.
pub fn header_text(changes: &Changes) -> String {
    header_fragment(changes).spans.iter().map(|s| s.content.as_ref()).collect()
}

/// The warning a pane shows when files it edited were edited by another agent in the same
/// directory: "⚠ lib.rs also edited by api", "⚠ 3 files also edited by api, web".
pub fn shared_warning(shared: &[SharedEdit]) -> String {
    let mut others: Vec<&str> =
        shared.iter().flat_map(|s| s.agents.iter().map(String::as_str)).collect();
    others.sort_unstable();
    others.dedup();
    let what = match shared {
        [one] => one
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| one.path.display().to_string()),
        many => format!("{} files", many.len()),
    };
    format!("⚠ {what} also edited by {}", others.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_stays_within_the_content() {
        let mut s = DiffScroll::default();
        s.scroll(5, 20, 10);
        assert_eq!(s.offset, 5);
        s.scroll(50, 20, 10);
        assert_eq!(s.offset, 10);
        s.scroll(-3, 20, 10);
        assert_eq!(s.offset, 7);
        s.scroll(-30, 20, 10);
        assert_eq!(s.offset, 0);
        s.scroll(4, 5, 10);
        assert_eq!(s.offset, 0, "content shorter than the view does not scroll");
        s.page_down(8, 10);
        assert_eq!(s.offset, 0, "nothing to page through when all rows fit");
        s.page_down(20, 10);
        s.page_down(20, 10);
        assert_eq!(s.offset, 10, "paging stops at the last page");
        s.offset = 0;
        s.page_down(40, 10);
        assert_eq!(s.offset, 9);
        s.page_up(40, 10);
        assert_eq!(s.offset, 0);
        s.to_end(40, 10);
        assert_eq!(s.offset, 30);
        assert_eq!(s.effective_offset(12, 10), 2);
    }

    #[test]
    fn selecting_files_resets_the_scroll_and_clamps() {
        let mut s = DiffScroll { selected: 0, offset: 9 };
        s.next_file(3);
        assert_eq!(s, DiffScroll { selected: 1, offset: 0 });
        s.next_file(3);
        s.next_file(3);
        assert_eq!(s.selected, 2);
        s.prev_file(3);
        assert_eq!(s.selected, 1);
        s.select(7, 0);
        assert_eq!(s.selected, 0);
    }

    #[test]
    fn the_file_list_keeps_the_selection_in_view() {
        assert_eq!(list_offset(0, 5, 10), 0);
        assert_eq!(list_offset(9, 20, 4), 7);
        assert_eq!(list_offset(19, 20, 4), 16);
        assert_eq!(list_offset(3, 20, 0), 0);
    }

    #[test]
    fn visible_rows_start_at_the_offset_across_hunks() {
        use crate::worktree::Hunk;
        let line = |t: &str| DiffLine { kind: LineKind::Context, text: t.into() };
        let file = FileDiff {
            path: "f".into(),
            status: FileStatus::Modified,
            added: 0,
            removed: 0,
            binary: false,
            truncated: true,
            hunks: vec![
                Hunk { header: "@@ 1 @@".into(), lines: vec![line("a"), line("b")] },
                Hunk { header: "@@ 2 @@".into(), lines: vec![line("c")] },
            ],
        };
        let text = |offset, count| -> Vec<String> {
            visible_rows(&file, offset, count)
                .iter()
                .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
                .collect()
        };
        assert_eq!(file_rows(&file), 6);
        assert_eq!(text(0, 10), ["@@ 1 @@", " a", " b", "@@ 2 @@", " c", "… more lines not shown"]);
        assert_eq!(text(1, 2), [" a", " b"]);
        assert_eq!(text(2, 3), [" b", "@@ 2 @@", " c"]);
        assert_eq!(text(3, 1), ["@@ 2 @@"]);
        assert_eq!(text(5, 4), ["… more lines not shown"]);
        assert!(text(6, 4).is_empty());
        assert!(text(0, 0).is_empty());
    }

    #[test]
    fn long_paths_keep_their_end() {
        assert_eq!(fit_left("src/worktree/open.rs", 10), "…e/open.rs");
        assert_eq!(fit_left("a.rs", 10), "a.rs");
        assert_eq!(fit_left("abc", 0), "");
        assert_eq!(printable("a\tb\u{1b}c"), "a   b␛c");
    }
}
