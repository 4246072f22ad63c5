//! Wrapping styled text to a width in terminal cells.
//!
//! Widths are measured the way ratatui's buffer draws: per grapheme (unicode-segmentation),
//! `unicode-width` of the grapheme, graphemes holding control characters or of width 0 skipped.
//! So a wrapped line never draws wider than the width it was wrapped to: a wide character that
//! would straddle the edge moves to the next line, combining marks stay on their base.

use std::borrow::Cow;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::sanitize::{is_clean, sanitize, sanitize_lines};

/// How a logical line breaks when it is too wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrapMode {
    /// Break between words; a word longer than the line breaks between graphemes.
    Word,
    /// Break exactly at the width, keeping every space (code, tool output).
    Char,
}

/// The width of `s` as ratatui draws it.
pub fn display_width(s: &str) -> usize {
    if s.is_ascii() {
        return s.bytes().filter(|b| !b.is_ascii_control()).count();
    }
    s.graphemes(true).map(grapheme_width).sum()
}

fn grapheme_width(g: &str) -> usize {
    if g.contains(char::is_control) {
        0
    } else {
        g.width()
    }
}

/// One grapheme ready to place.
struct Glyph<'a> {
    text: &'a str,
    width: usize,
    style: Style,
    space: bool,
}

fn glyphs<'a>(spans: &'a [Span<'a>], out: &mut Vec<Glyph<'a>>) {
    for span in spans {
        let style = span.style;
        let content: &str = &span.content;
        if content.is_ascii() {
            for (i, b) in content.bytes().enumerate() {
                if b.is_ascii_control() {
                    continue;
                }
                out.push(Glyph { text: &content[i..i + 1], width: 1, style, space: b == b' ' });
            }
        } else {
            for g in content.graphemes(true) {
                let width = grapheme_width(g);
                if width == 0 {
                    continue;
                }
                out.push(Glyph { text: g, width, style, space: g == " " || g == "\u{3000}" });
            }
        }
    }
}

/// Builds one output line, merging neighbouring glyphs of the same style into one span.
struct LineBuf {
    spans: Vec<Span<'static>>,
    text: String,
    style: Style,
    width: usize,
}

impl LineBuf {
    fn new(prefix: &[Span<'static>]) -> Self {
        LineBuf { spans: prefix.to_vec(), text: String::new(), style: Style::default(), width: 0 }
    }

    fn push(&mut self, g: &Glyph<'_>) {
        if g.style != self.style && !self.text.is_empty() {
            self.spans.push(Span::styled(std::mem::take(&mut self.text), self.style));
        }
        self.style = g.style;
        self.text.push_str(g.text);
        self.width += g.width;
    }

    fn finish(mut self, trim_end: bool) -> Line<'static> {
        if trim_end {
            let kept = self.text.trim_end_matches(' ').len();
            self.text.truncate(kept);
        }
        if !self.text.is_empty() {
            self.spans.push(Span::styled(self.text, self.style));
        }
        Line::from(self.spans)
    }
}

/// Wrap one logical line of styled spans to `width` cells and append the result to `out`.
///
/// `first_prefix` starts the first output line, `rest_prefix` every continuation line (list
/// markers and their hanging indent, quote bars, nesting guides). An empty input still yields
/// one line (the prefix alone), so blank lines survive.
pub fn wrap_spans(
    spans: &[Span<'_>],
    width: u16,
    first_prefix: &[Span<'static>],
    rest_prefix: &[Span<'static>],
    mode: WrapMode,
    out: &mut Vec<Line<'static>>,
) {
    let width = usize::from(width).max(1);
    let first_prefix = fit_prefix(first_prefix, width);
    let rest_prefix = fit_prefix(rest_prefix, width);
    let avail_first = width - prefix_width(&first_prefix);
    let avail_rest = width - prefix_width(&rest_prefix);

    // Outside text reaches here from many places; this is one of the sanitizer's choke points.
    let clean: Vec<Span<'_>>;
    let spans = if !spans.iter().all(|s| is_clean(&s.content)) {
        clean = spans.iter().map(|s| Span::styled(sanitize(&s.content), s.style)).collect();
        &clean[..]
    } else {
        spans
    };
    let mut gs = Vec::new();
    glyphs(spans, &mut gs);

    let mut line = LineBuf::new(&first_prefix);
    let mut avail = avail_first;
    let mut i = 0;
    let break_line = |line: LineBuf, out: &mut Vec<Line<'static>>| {
        out.push(line.finish(mode == WrapMode::Word));
    };
    while i < gs.len() {
        let g = &gs[i];
        if mode == WrapMode::Char || g.space {
            if line.width + g.width > avail {
                break_line(std::mem::replace(&mut line, LineBuf::new(&rest_prefix)), out);
                avail = avail_rest;
                if mode == WrapMode::Word {
                    // A wrapped line does not start with the space it broke at.
                    while i < gs.len() && gs[i].space {
                        i += 1;
                    }
                    continue;
                }
            }
            push_fitting(&mut line, g, avail);
            i += 1;
            continue;
        }
        // A word: everything up to the next space.
        let end = gs[i..].iter().position(|g| g.space).map_or(gs.len(), |p| i + p);
        let word_width: usize = gs[i..end].iter().map(|g| g.width).sum();
        if line.width + word_width > avail && line.width > 0 {
            break_line(std::mem::replace(&mut line, LineBuf::new(&rest_prefix)), out);
            avail = avail_rest;
        }
        for g in &gs[i..end] {
            if line.width + g.width > avail && line.width > 0 {
                break_line(std::mem::replace(&mut line, LineBuf::new(&rest_prefix)), out);
                avail = avail_rest;
            }
            push_fitting(&mut line, g, avail);
        }
        i = end;
    }
    out.push(line.finish(mode == WrapMode::Word));
}

/// Place a glyph, or a one-cell stand-in when it is wider than a whole line (a wide character
/// in a one-column pane), so nothing ever draws past the edge.
fn push_fitting(line: &mut LineBuf, g: &Glyph<'_>, avail: usize) {
    if g.width > avail {
        line.push(&Glyph { text: "…", width: 1, style: g.style, space: false });
    } else {
        line.push(g);
    }
}

fn prefix_width(prefix: &[Span<'_>]) -> usize {
    prefix.iter().map(|s| display_width(&s.content)).sum()
}

/// A prefix must leave at least one cell for the text; deep nesting in a narrow pane drops
/// the prefix's tail rather than overflowing.
fn fit_prefix(prefix: &[Span<'static>], width: usize) -> Vec<Span<'static>> {
    if prefix_width(prefix) < width {
        return prefix.to_vec();
    }
    let mut out = Vec::new();
    let mut used = 0;
    for span in prefix {
        let mut text = String::new();
        for g in span.content.graphemes(true) {
            let w = grapheme_width(g);
            if used + w >= width {
                break;
            }
            used += w;
            text.push_str(g);
        }
        if !text.is_empty() {
            out.push(Span::styled(text, span.style));
        }
    }
    out
}

/// Wrap plain text (possibly many lines) with one style; every source line is sanitized.
pub fn wrap_text(
    text: &str,
    style: Style,
    width: u16,
    first_prefix: &[Span<'static>],
    rest_prefix: &[Span<'static>],
    mode: WrapMode,
    out: &mut Vec<Line<'static>>,
) {
    let mut first = true;
    for clean in sanitize_lines(text) {
        let span = [Span::styled(clean, style)];
        let prefix = if first { first_prefix } else { rest_prefix };
        wrap_spans(&span, width, prefix, rest_prefix, mode, out);
        first = false;
    }
}

/// Sanitize `s`, then cut it with `cut`, borrowing where neither changed anything.
fn sanitized<'a>(s: &'a str, width: usize, cut: fn(&str, usize) -> Cow<'_, str>) -> Cow<'a, str> {
    match sanitize(s) {
        Cow::Borrowed(s) => cut(s, width),
        Cow::Owned(s) => Cow::Owned(cut(&s, width).into_owned()),
    }
}

/// Sanitize `s` and cut it to at most `width` cells, ending with "…" when something was cut.
pub fn truncate(s: &str, width: usize) -> Cow<'_, str> {
    sanitized(s, width, truncate_clean)
}

fn truncate_clean(s: &str, width: usize) -> Cow<'_, str> {
    if display_width(s) <= width {
        return Cow::Borrowed(s);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let w = grapheme_width(g);
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push_str(g);
    }
    out.push('…');
    Cow::Owned(out)
}

/// Cut `s` to at most `width` cells from the left, starting with "…" when something was cut
/// (paths, whose end says the most); sanitized first.
pub fn truncate_left(s: &str, width: usize) -> Cow<'_, str> {
    sanitized(s, width, truncate_left_clean)
}

fn truncate_left_clean(s: &str, width: usize) -> Cow<'_, str> {
    if display_width(s) <= width {
        return Cow::Borrowed(s);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let mut kept = Vec::new();
    let mut used = 0;
    for g in s.graphemes(true).rev() {
        let w = grapheme_width(g);
        if used + w > width - 1 {
            break;
        }
        used += w;
        kept.push(g);
    }
    let mut out = String::from("…");
    out.extend(kept.into_iter().rev());
    Cow::Owned(out)
}

/// The width of a line as drawn.
pub fn line_width(line: &Line<'_>) -> usize {
    line.spans.iter().map(|s| display_width(&s.content)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    fn wrap(s: &str, width: u16) -> Vec<String> {
        let mut out = Vec::new();
        wrap_text(s, Style::default(), width, &[], &[], WrapMode::Word, &mut out);
        for l in &out {
            assert!(line_width(l) <= usize::from(width), "{l:?} wider than {width}");
        }
        texts(&out)
    }

    #[test]
    fn words_wrap_at_spaces_and_drop_the_break_space() {
        assert_eq!(wrap("hello brave new world", 11), ["hello brave", "new world"]);
        assert_eq!(wrap("a  b", 10), ["a  b"]);
    }

    #[test]
    fn a_long_word_breaks_between_graphemes() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("ab abcdefgh", 4), ["ab", "abcd", "efgh"]);
    }

    #[test]
    fn wide_characters_never_straddle_the_edge() {
        // 5 CJK characters of width 2 in 5 columns: two per line, the third moves down.
        assert_eq!(wrap("漢字漢字漢", 5), ["漢字", "漢字", "漢"]);
        assert_eq!(display_width("漢字"), 4);
    }

    #[test]
    fn emoji_count_two_cells() {
        assert_eq!(wrap("🦀🦀🦀", 5), ["🦀🦀", "🦀"]);
        // A ZWJ family is one grapheme; it must not be split apart.
        let family = "👨\u{200d}👩\u{200d}👧";
        let lines = wrap(&format!("{family}{family}"), 3);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], family);
    }

    #[test]
    fn combining_marks_stay_with_their_base() {
        let e = "e\u{301}"; // é as e + combining acute
        let s = format!("{e}{e}{e}{e}");
        assert_eq!(display_width(&s), 4);
        let lines = wrap(&s, 3);
        assert_eq!(lines, [format!("{e}{e}{e}"), e.to_string()]);
    }

    #[test]
    fn one_column_gets_a_stand_in_for_wide_glyphs() {
        assert_eq!(wrap("漢a", 1), ["…", "a"]);
    }

    #[test]
    fn char_mode_keeps_spaces_and_breaks_exactly() {
        let mut out = Vec::new();
        let spans = [Span::raw("    let x = 1;")];
        wrap_spans(&spans, 6, &[], &[], WrapMode::Char, &mut out);
        assert_eq!(texts(&out), ["    le", "t x = ", "1;"]);
    }

    #[test]
    fn prefixes_start_each_line() {
        let mut out = Vec::new();
        let first = [Span::raw("- ")];
        let rest = [Span::raw("  ")];
        wrap_spans(&[Span::raw("one two three")], 8, &first, &rest, WrapMode::Word, &mut out);
        assert_eq!(texts(&out), ["- one", "  two", "  three"]);
    }

    #[test]
    fn wrapping_and_cutting_show_escapes() {
        let mut out = Vec::new();
        wrap_spans(&[Span::raw("a\u{1b}[2Kb")], 20, &[], &[], WrapMode::Char, &mut out);
        assert_eq!(texts(&out), ["a␛[2Kb"]);
        assert_eq!(truncate("x\ry", 10), "x^My");
        assert_eq!(truncate_left("x\u{202e}y", 10), "x\\u{202e}y");
    }

    #[test]
    fn truncate_ends_with_an_ellipsis() {
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("漢字漢字", 5), "漢字…");
        assert_eq!(truncate("short", 6), "short");
    }

    #[test]
    fn truncate_left_keeps_the_end() {
        assert_eq!(truncate_left("server/src/tasks.rs", 10), "…/tasks.rs");
        assert_eq!(truncate_left("a/漢字漢字", 6), "…漢字");
        assert_eq!(truncate_left("short", 6), "short");
        assert_eq!(truncate_left("short", 0), "");
    }
}
