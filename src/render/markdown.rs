//! Markdown to wrapped ratatui lines.
//!
//! pulldown-cmark parses; this walks its events keeping a stack of containers (block quotes,
//! list items) whose prefixes start each output line, collects inline text as styled spans and
//! wraps it with `wrap::wrap_spans`. Tables are laid out in columns (shrunk to fit, cells
//! wrapped inside their column), fenced code is highlighted (see `highlight`) and broken at
//! the width without reflowing. `highlight: false` gives the same lines unstyled-code, for
//! measuring heights cheaply: highlighting never changes how many lines there are.

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::highlight;
use super::sanitize::sanitize;
use super::wrap::{display_width, wrap_spans, WrapMode};

/// The styles Markdown is drawn with.
pub mod styles {
    use super::*;

    pub fn heading(level: HeadingLevel) -> Style {
        match level {
            HeadingLevel::H1 => Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            HeadingLevel::H2 => Style::default().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            _ => Style::default().add_modifier(Modifier::BOLD),
        }
    }
    pub fn code_span() -> Style {
        Style::default().fg(Color::Cyan)
    }
    pub fn code_block() -> Style {
        Style::default().fg(Color::Gray)
    }
    pub fn dim() -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }
    pub fn link() -> Style {
        Style::default().fg(Color::Blue).add_modifier(Modifier::UNDERLINED)
    }
    pub fn quote() -> Style {
        Style::default().fg(Color::Green)
    }
}

/// Render `text` as Markdown wrapped to `width` cells, appending to `out`.
pub fn render_markdown(text: &str, width: u16, highlight: bool, out: &mut Vec<Line<'static>>) {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut md = Md {
        width,
        highlight,
        out,
        start_len: 0,
        containers: Vec::new(),
        lists: Vec::new(),
        inline: Vec::new(),
        styles: vec![Style::default()],
        links: Vec::new(),
        code: None,
        table: None,
        need_blank: false,
    };
    md.start_len = md.out.len();
    for event in Parser::new_ext(text, opts) {
        md.event(event);
    }
    md.flush();
}

/// A convenience for tests and callers that want a fresh vector.
pub fn markdown_lines(text: &str, width: u16, highlight: bool) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    render_markdown(text, width, highlight, &mut out);
    out
}

struct Container {
    first: Span<'static>,
    rest: Span<'static>,
    /// The first line after a list item starts carries its marker.
    marker_pending: bool,
}

struct Table {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<Vec<Span<'static>>>>,
    row: Vec<Vec<Span<'static>>>,
    header_rows: usize,
}

struct Md<'o> {
    width: u16,
    highlight: bool,
    out: &'o mut Vec<Line<'static>>,
    start_len: usize,
    containers: Vec<Container>,
    /// One entry per open list: the next item's number, or `None` for bullets.
    lists: Vec<Option<u64>>,
    inline: Vec<Span<'static>>,
    styles: Vec<Style>,
    /// Open links: their URL and where their text starts in `inline`.
    links: Vec<(String, usize)>,
    code: Option<(String, String)>,
    table: Option<Table>,
    need_blank: bool,
}

impl Md<'_> {
    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, f: impl FnOnce(Style) -> Style) {
        let s = f(self.style());
        self.styles.push(s);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    fn prefixes(&mut self) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let mut first = Vec::with_capacity(self.containers.len());
        let mut rest = Vec::with_capacity(self.containers.len());
        for c in &mut self.containers {
            if c.marker_pending {
                first.push(c.first.clone());
                c.marker_pending = false;
            } else {
                first.push(c.rest.clone());
            }
            rest.push(c.rest.clone());
        }
        (first, rest)
    }

    fn blank_if_needed(&mut self) {
        if self.need_blank && self.out.len() > self.start_len {
            let rest: Vec<Span<'static>> = self
                .containers
                .iter()
                .map(|c| {
                    let trimmed = c.rest.content.trim_end().to_string();
                    Span::styled(trimmed, c.rest.style)
                })
                .collect();
            self.out.push(Line::from(rest));
        }
        self.need_blank = false;
    }

    /// Emit the collected inline text as wrapped lines.
    fn flush(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        let spans = std::mem::take(&mut self.inline);
        let (first, rest) = self.prefixes();
        wrap_spans(&spans, self.width, &first, &rest, WrapMode::Word, self.out);
    }

    fn text(&mut self, t: &str) {
        let style = self.style();
        let mut first = true;
        for part in t.split('\n') {
            if !first {
                self.flush();
            }
            first = false;
            if !part.is_empty() {
                self.inline.push(Span::styled(sanitize(part).into_owned(), style));
            }
        }
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some((_, buf)) = &mut self.code {
            match event {
                Event::Text(t) => buf.push_str(&t),
                Event::End(TagEnd::CodeBlock) => self.end_code(),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let style = styles::code_span().patch(self.style());
                self.inline.push(Span::styled(sanitize(&t).into_owned(), style));
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t),
            Event::Html(t) | Event::InlineHtml(t) => {
                self.push_style(|s| s.patch(styles::dim()));
                self.text(&t);
                self.pop_style();
            }
            Event::FootnoteReference(t) => self.text(&format!("[^{t}]")),
            // A single newline in an agent's answer is a line break, as Claude Code draws it:
            // listings and addresses keep their lines.
            Event::SoftBreak | Event::HardBreak => {
                if self.table.is_none() {
                    self.flush();
                }
            }
            Event::Rule => {
                self.flush();
                self.blank_if_needed();
                let (first, _) = self.prefixes();
                let used: usize = first.iter().map(|s| display_width(&s.content)).sum();
                let n = usize::from(self.width).saturating_sub(used);
                let mut spans = first;
                spans.push(Span::styled("─".repeat(n), styles::dim()));
                self.out.push(Line::from(spans));
                self.need_blank = true;
            }
            Event::TaskListMarker(done) => {
                let mark = if done { "[x] " } else { "[ ] " };
                self.inline.push(Span::styled(mark, styles::dim()));
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.blank_if_needed(),
            Tag::Heading { level, .. } => {
                self.flush();
                self.blank_if_needed();
                let hashes = "#".repeat(level as usize);
                self.inline.push(Span::styled(format!("{hashes} "), styles::dim()));
                self.push_style(|_| styles::heading(level));
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.blank_if_needed();
                let bar = Span::styled("│ ", styles::quote());
                self.containers.push(Container {
                    first: bar.clone(),
                    rest: bar,
                    marker_pending: false,
                });
                self.push_style(|s| s.add_modifier(Modifier::ITALIC));
            }
            Tag::CodeBlock(kind) => {
                self.flush();
                self.blank_if_needed();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::HtmlBlock => {
                self.flush();
                self.blank_if_needed();
            }
            Tag::List(start) => {
                self.flush();
                if self.lists.is_empty() {
                    self.blank_if_needed();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                self.need_blank = false;
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => match self.lists.len() {
                        1 => "• ".to_string(),
                        2 => "◦ ".to_string(),
                        _ => "▪ ".to_string(),
                    },
                };
                let indent = " ".repeat(display_width(&marker));
                let style = Style::default().fg(Color::Yellow);
                self.containers.push(Container {
                    first: Span::styled(marker, style),
                    rest: Span::raw(indent),
                    marker_pending: true,
                });
            }
            Tag::Table(aligns) => {
                self.flush();
                self.blank_if_needed();
                self.table =
                    Some(Table { aligns, rows: Vec::new(), row: Vec::new(), header_rows: 0 });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.row.clear();
                }
            }
            Tag::TableCell => self.inline.clear(),
            Tag::Emphasis => self.push_style(|s| s.add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(|s| s.add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.push_style(|s| s.add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push((dest_url.to_string(), self.inline.len()));
                self.push_style(|s| s.patch(styles::link()));
            }
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_)
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush();
                self.need_blank = true;
            }
            TagEnd::Heading(_) => {
                self.flush();
                self.pop_style();
                self.need_blank = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.containers.pop();
                self.pop_style();
                self.need_blank = true;
            }
            TagEnd::CodeBlock => self.end_code(),
            TagEnd::HtmlBlock => {
                self.flush();
                self.need_blank = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.need_blank = true;
            }
            TagEnd::Item => {
                self.flush();
                self.containers.pop();
            }
            TagEnd::Table => self.end_table(),
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                    t.header_rows = t.rows.len();
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = &mut self.table {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(t) = &mut self.table {
                    t.row.push(cell);
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link | TagEnd::Image => {
                self.pop_style();
                if let Some((url, start)) = self.links.pop() {
                    let text: String = self.inline[start.min(self.inline.len())..]
                        .iter()
                        .map(|s| s.content.as_ref())
                        .collect();
                    let bare = url.strip_prefix("mailto:").unwrap_or(&url);
                    if !url.is_empty() && text != url && text != bare {
                        self.inline.push(Span::styled(format!(" ({url})"), styles::dim()));
                    }
                }
            }
            _ => {}
        }
    }

    fn end_code(&mut self) {
        let Some((lang, code)) = self.code.take() else {
            return;
        };
        let code = code.strip_suffix('\n').unwrap_or(&code);
        let highlighted = if self.highlight { highlight::highlight(code, &lang) } else { None };
        let (_, rest) = self.prefixes();
        let mut prefix = rest.clone();
        prefix.push(Span::raw("  "));
        // A code line broken at the width says so: its continuation starts with "↪".
        let mut wrapped = rest;
        wrapped.push(Span::styled("↪ ", Style::default().fg(Color::DarkGray)));
        let plain = styles::code_block();
        for (i, line) in code.split('\n').enumerate() {
            let spans: Vec<Span<'static>> = match highlighted.as_ref().and_then(|h| h.get(i)) {
                Some(spans) => spans
                    .iter()
                    .map(|s| Span::styled(sanitize(&s.content).into_owned(), s.style))
                    .collect(),
                None => vec![Span::styled(sanitize(line).into_owned(), plain)],
            };
            wrap_spans(&spans, self.width, &prefix, &wrapped, WrapMode::Char, self.out);
        }
        self.need_blank = true;
    }

    fn end_table(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        let (_, rest) = self.prefixes();
        let prefix_w: usize = rest.iter().map(|s| display_width(&s.content)).sum();
        let avail = usize::from(self.width).saturating_sub(prefix_w);
        let lines = layout_table(&table, avail);
        for mut line in lines {
            let mut spans = rest.clone();
            spans.append(&mut line.spans);
            self.out.push(Line::from(spans));
        }
        self.need_blank = true;
    }
}

const COLUMN_GAP: &str = " │ ";
// Measured in cells: its bar is one cell and three bytes.

fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| display_width(&s.content)).sum()
}

/// Column widths: natural widths when they fit; otherwise each column first gets its longest
/// word (`words`), so no word is broken, and the wide ones share what is left (water-filling).
/// When even the longest words do not fit, the columns with the most text (prose, whose words
/// say least one by one) give up theirs first, and their cells cut words with "…".
fn column_widths(natural: &[usize], words: &[usize], avail: usize) -> Vec<usize> {
    let gaps = natural.len().saturating_sub(1) * display_width(COLUMN_GAP);
    let room = avail.saturating_sub(gaps);
    if natural.iter().sum::<usize>() <= room {
        return natural.to_vec();
    }
    let mut widths: Vec<usize> =
        natural.iter().zip(words).map(|(&n, &w)| w.min(n).max(1)).collect();
    let mut widest: Vec<usize> = (0..natural.len()).collect();
    widest.sort_by_key(|&i| std::cmp::Reverse(natural[i]));
    for &i in &widest {
        let excess = widths.iter().sum::<usize>().saturating_sub(room);
        widths[i] -= excess.min(widths[i] - 1);
    }
    let wants: Vec<usize> = natural.iter().zip(&widths).map(|(n, w)| n - w).collect();
    let mut order: Vec<usize> = (0..natural.len()).collect();
    order.sort_by_key(|&i| wants[i]);
    let mut left = room.saturating_sub(widths.iter().sum());
    for (k, &i) in order.iter().enumerate() {
        let add = wants[i].min(left / (natural.len() - k));
        widths[i] += add;
        left -= add;
    }
    widths
}

/// The widest word of a cell (what its column needs so that no word is broken).
fn longest_word(cell: &[Span<'_>]) -> usize {
    let text: String = cell.iter().map(|s| s.content.as_ref()).collect();
    text.split_whitespace().map(display_width).max().unwrap_or(0)
}

/// The cell's spans with every word wider than `width` cut to it, ending with "…".
fn cut_long_words(cell: &[Span<'static>], width: usize) -> Vec<Span<'static>> {
    cell.iter()
        .map(|s| {
            if s.content.split_whitespace().all(|w| display_width(w) <= width) {
                return s.clone();
            }
            let mut out = String::new();
            for (i, word) in s.content.split(' ').enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&super::wrap::truncate(word, width));
            }
            Span::styled(out, s.style)
        })
        .collect()
}

fn layout_table(table: &Table, avail: usize) -> Vec<Line<'static>> {
    let ncols = table.rows.iter().map(Vec::len).max().unwrap_or(0);
    if ncols == 0 {
        return Vec::new();
    }
    let mut natural = vec![1usize; ncols];
    let mut words = vec![1usize; ncols];
    for row in &table.rows {
        for (c, cell) in row.iter().enumerate() {
            natural[c] = natural[c].max(spans_width(cell));
            words[c] = words[c].max(longest_word(cell));
        }
    }
    let min_needed = ncols + (ncols - 1) * display_width(COLUMN_GAP);
    let mut out = Vec::new();
    if avail < min_needed {
        // Too narrow for columns: one wrapped line per row.
        for row in &table.rows {
            let mut spans = Vec::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    spans.push(Span::styled(COLUMN_GAP, styles::dim()));
                }
                spans.extend(cell.iter().cloned());
            }
            let width = u16::try_from(avail.max(1)).unwrap_or(u16::MAX);
            wrap_spans(&spans, width, &[], &[], WrapMode::Word, &mut out);
        }
        return out;
    }
    let widths = column_widths(&natural, &words, avail);
    let header_style = Style::default().add_modifier(Modifier::BOLD);
    for (r, row) in table.rows.iter().enumerate() {
        let is_header = r < table.header_rows;
        let mut cells: Vec<Vec<Line<'static>>> = Vec::with_capacity(ncols);
        for (c, &w) in widths.iter().enumerate() {
            let mut lines = Vec::new();
            let spans: Vec<Span<'static>> = row
                .get(c)
                .map(|cell| {
                    cut_long_words(cell, w)
                        .into_iter()
                        .map(|s| {
                            let style =
                                if is_header { s.style.patch(header_style) } else { s.style };
                            Span::styled(s.content, style)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let width = u16::try_from(w).unwrap_or(u16::MAX);
            wrap_spans(&spans, width, &[], &[], WrapMode::Word, &mut lines);
            cells.push(lines);
        }
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            let mut spans = Vec::new();
            for (c, &w) in widths.iter().enumerate() {
                if c > 0 {
                    spans.push(Span::styled(COLUMN_GAP, styles::dim()));
                }
                let content = cells[c].get(k).map(|l| l.spans.clone()).unwrap_or_default();
                let used = spans_width(&content);
                let pad = w.saturating_sub(used);
                let (left, right) = match table.aligns.get(c) {
                    Some(Alignment::Right) => (pad, 0),
                    Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                    _ => (0, pad),
                };
                if left > 0 {
                    spans.push(Span::raw(" ".repeat(left)));
                }
                spans.extend(content);
                // The last column needs no trailing padding.
                if right > 0 && c + 1 < ncols {
                    spans.push(Span::raw(" ".repeat(right)));
                }
            }
            out.push(Line::from(spans));
        }
        if is_header && r + 1 == table.header_rows {
            let rule: Vec<String> = widths.iter().map(|&w| "─".repeat(w)).collect();
            out.push(Line::from(Span::styled(rule.join("─┼─"), styles::dim())));
        }
    }
    out
}

/// Where a streaming Markdown text may be cut so that what comes before renders the same
/// whatever arrives later: just after the last blank line that is outside a code fence.
/// Returns 0 when there is no such place yet.
pub fn stable_prefix_len(text: &str) -> usize {
    stable_prefix_len_from(text, 0)
}

/// [`stable_prefix_len`] of `text`, given `from`, that function's answer for a prefix of
/// `text`: the scan starts there (outside any fence, as every such place is), so a streaming
/// text is scanned once, not once per delta.
pub fn stable_prefix_len_from(text: &str, from: usize) -> usize {
    let from = if text.is_char_boundary(from) { from } else { 0 };
    let mut fence: Option<(char, usize)> = None;
    let mut cut = from;
    let mut pos = from;
    // Was the line that ends at `from` blank? (Two blank lines in a row cut once.)
    let mut prev_blank = from > 0
        && text[..from].strip_suffix('\n').is_some_and(|before| {
            before.rsplit('\n').next().is_some_and(|line| line.trim().is_empty())
        });
    for line in text[from..].split_inclusive('\n') {
        let complete = line.ends_with('\n');
        if !complete {
            break;
        }
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start_matches(' ');
        let indent = body.len() - trimmed.len();
        if indent < 4 {
            let fch = trimmed.chars().next();
            if let Some(ch @ ('`' | '~')) = fch {
                let run = trimmed.chars().take_while(|&c| c == ch).count();
                if run >= 3 {
                    match fence {
                        None => fence = Some((ch, run)),
                        Some((open, n))
                            if open == ch && run >= n && trimmed[run..].trim().is_empty() =>
                        {
                            fence = None;
                            pos += line.len();
                            // A closed fence is a block boundary of its own.
                            cut = pos;
                            prev_blank = false;
                            continue;
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        pos += line.len();
        let blank = body.trim().is_empty();
        if fence.is_none() && blank && !prev_blank {
            cut = pos;
        }
        prev_blank = blank;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str, width: u16) -> Vec<String> {
        markdown_lines(text, width, false)
            .iter()
            .map(|l| {
                let s: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
                assert!(display_width(&s) <= usize::from(width), "{s:?} is wider than {width}");
                s
            })
            .collect()
    }

    #[test]
    fn paragraphs_are_separated_by_one_blank_line() {
        assert_eq!(plain("one\n\nthree", 40), ["one", "", "three"]);
    }

    #[test]
    fn single_newlines_are_line_breaks() {
        assert_eq!(plain("line 1\nline 2\n\nline 3", 40), ["line 1", "line 2", "", "line 3"]);
        let ls =
            "Here is the listing:\ntotal 8\ndrwxr-xr-x 2 me me 4096 .\n-rw-r--r-- 1 me me 12 a.txt";
        assert_eq!(
            plain(ls, 60),
            [
                "Here is the listing:",
                "total 8",
                "drwxr-xr-x 2 me me 4096 .",
                "-rw-r--r-- 1 me me 12 a.txt"
            ]
        );
        // Structure still renders: a list item's second line stays inside the item.
        assert_eq!(plain("- **one**\n  more\n- two", 40), ["• one", "  more", "• two"]);
    }

    #[test]
    fn headings_keep_their_hashes_and_style() {
        let lines = markdown_lines("# Title\n\ntext", 40, false);
        let first: String = lines[0].spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(first, "# Title");
        assert!(lines[0].spans[1].style.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn emphasis_strong_and_code_spans_are_styled() {
        let lines = markdown_lines("a *b* **c** `d`", 40, false);
        let spans = &lines[0].spans;
        let find =
            |t: &str| spans.iter().find(|s| s.content == t).map(|s| s.style).expect("span present");
        assert!(find("b").add_modifier.contains(Modifier::ITALIC));
        assert!(find("c").add_modifier.contains(Modifier::BOLD));
        assert_eq!(find("d").fg, Some(Color::Cyan));
    }

    #[test]
    fn nested_and_ordered_lists_indent_and_number() {
        let text = "1. first item that wraps\n2. second\n   - nested a\n   - nested b\n3. third";
        assert_eq!(
            plain(text, 16),
            [
                "1. first item",
                "   that wraps",
                "2. second",
                "   ◦ nested a",
                "   ◦ nested b",
                "3. third"
            ]
        );
        assert_eq!(plain("- a\n  - b\n    - c", 20), ["• a", "  ◦ b", "    ▪ c"]);
        assert_eq!(plain("7. seven\n8. eight", 20), ["7. seven", "8. eight"]);
    }

    #[test]
    fn block_quotes_carry_a_bar_on_every_line() {
        assert_eq!(
            plain("> quoted words here\n>\n> again", 12),
            ["│ quoted", "│ words here", "│", "│ again"]
        );
    }

    #[test]
    fn tables_are_laid_out_in_columns() {
        let text = "| name | n |\n|---|--:|\n| alpha | 1 |\n| b | 22 |";
        assert_eq!(plain(text, 40), ["name  │  n", "──────┼───", "alpha │  1", "b     │ 22"]);
    }

    #[test]
    fn wide_tables_shrink_and_wrap_inside_columns() {
        let text = "| key | description |\n|---|---|\n| a | a rather long description of it |";
        let lines = plain(text, 20);
        assert_eq!(lines[0], "key │ description");
        assert!(lines.len() > 3, "{lines:?}");
        assert!(lines[2].starts_with("a   │ "), "{lines:?}");
        assert!(lines[3].starts_with("    │ "), "{lines:?}");
    }

    /// A squeezed table wraps at spaces and never breaks a word: the short columns keep their
    /// words and the prose column wraps; narrower still, the prose column cuts its words with
    /// "…" first, and a word is never split over two lines.
    #[test]
    fn squeezed_tables_keep_words_whole_or_cut_them_with_an_ellipsis() {
        let text = "| worker | status | cost | summary |\n|---|---|--:|---|\n| frontend | success | $0.0412 | added the paging tests to the list view |\n| api | failed | $0.0100 | the build broke on a missing import |";
        for width in [40u16, 48] {
            let all = plain(text, width).join("\n");
            for word in ["frontend", "success", "$0.0412", "failed", "summary", "missing"] {
                assert!(all.contains(word), "{width}: {word} broken:\n{all}");
            }
        }
        for width in [32u16, 34] {
            let narrow = plain(text, width).join("\n");
            for word in ["frontend", "success", "$0.0412", "failed"] {
                assert!(narrow.contains(word), "{width}: {word} broken:\n{narrow}");
            }
            assert!(narrow.contains('…'), "{narrow}");
        }
        insta::assert_snapshot!(
            [plain(text, 40).join("\n"), plain(text, 34).join("\n")].join("\n\n")
        );
    }

    #[test]
    fn code_blocks_keep_their_lines_and_break_at_the_width() {
        let text = "```\nfn main() {\n    println!(\"a long line\");\n}\n```";
        assert_eq!(
            plain(text, 20),
            ["  fn main() {", "      println!(\"a lo", "↪ ng line\");", "  }"]
        );
    }

    /// A code line broken mid-token in a narrow pane is marked, not silently split.
    #[test]
    fn wrapped_code_lines_are_marked() {
        let text = "```tsx\nif (tasks.length === 0) return <p className=\"empty\">No tasks yet.</p>;\ncurl '/api/tasks?limit=2&offset=2'\n```";
        insta::assert_snapshot!(plain(text, 30).join("\n"));
    }

    #[test]
    fn highlighting_changes_colours_not_lines() {
        let text = "Some code:\n\n```rust\nfn main() {\n    let answer = 42; // the answer to everything\n}\n```\nafter";
        for width in [10u16, 24, 80] {
            let a = markdown_lines(text, width, true);
            let b = markdown_lines(text, width, false);
            assert_eq!(a.len(), b.len(), "at width {width}");
        }
        let lit = markdown_lines(text, 80, true);
        let colours: std::collections::HashSet<_> =
            lit[2].spans.iter().filter_map(|s| s.style.fg).collect();
        assert!(colours.len() > 1, "{:?}", lit[2]);
    }

    #[test]
    fn links_show_text_then_a_dim_url() {
        assert_eq!(
            plain("see [docs](https://x.dev) or <https://y.dev>", 60),
            ["see docs (https://x.dev) or https://y.dev"]
        );
    }

    #[test]
    fn rules_and_task_lists() {
        assert_eq!(plain("a\n\n---\n\nb", 5), ["a", "", "─────", "", "b"]);
        assert_eq!(plain("- [x] done\n- [ ] todo", 20), ["• [x] done", "• [ ] todo"]);
    }

    #[test]
    fn stable_prefix_stops_before_open_fences_and_partial_lines() {
        assert_eq!(stable_prefix_len("para one\n\npara two"), "para one\n\n".len());
        assert_eq!(stable_prefix_len("no blank yet\nstill"), 0);
        let open = "intro\n\n```\ncode\n\nmore code\n";
        assert_eq!(stable_prefix_len(open), "intro\n\n".len());
        let closed = "intro\n\n```\ncode\n\n```\nafter";
        assert_eq!(stable_prefix_len(closed), "intro\n\n```\ncode\n\n```\n".len());
    }

    #[test]
    fn stable_prefix_from_an_earlier_answer_is_the_same_as_from_the_start() {
        let texts = [
            "intro\n\n```\ncode\n\nmore\n```\n\n\n\nafter\n\n- a\n- b\n\nend",
            "a\n\n\n\nb\n\n~~~~\nx\n~~~\n\n~~~~\n\nc",
            "```\n\n```\n```\nopen\n\n",
        ];
        for text in texts {
            for split in 0..=text.len() {
                let earlier = stable_prefix_len(&text[..split]);
                assert_eq!(
                    stable_prefix_len_from(text, earlier),
                    stable_prefix_len(text),
                    "{text:?} after {:?}",
                    &text[..split]
                );
            }
        }
    }
}
