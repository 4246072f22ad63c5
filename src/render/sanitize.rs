//! The one sanitizer: outside text (an agent's words, tool inputs and outputs, file names,
//! diffs, agent names, titles, what the user pasted) made safe to draw.
//!
//! A terminal obeys control characters, so text that holds them could rewrite what the user
//! reads: `curl x | sh\r\e[2K$ npm test` draws as `$ npm test`, an OSC 52 writes the clipboard,
//! an OSC 2 the window title, a bidi override turns a line around. Here every such character
//! becomes a visible form that means nothing to the terminal: `␛` for ESC, caret notation for
//! the other C0 controls and DEL (`^M`, `^G`, `^?`), and `\u{202e}` for C1 controls, bidi
//! controls and the other invisible format characters. Tabs become spaces (stops every 4
//! columns). Nothing is dropped, so what is shown is what would run.
//!
//! [`scrub`] is the backstop over a drawn buffer: whatever a view put there without this
//! sanitizer is still never sent to the terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

use ratatui::buffer::Buffer;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Columns between tab stops.
const TAB: usize = 4;

/// Whether `c` must never reach the terminal as itself.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Format characters that draw as nothing yet change how text around them reads: bidi
/// embeddings, overrides, isolates and marks, zero-width spaces and joiners of words, the byte
/// order mark, line and paragraph separators, interlinear annotations and the tag characters
/// (which smuggle ASCII invisibly). The zero-width joiner and non-joiner stay: emoji and
/// several scripts need them and they cannot reorder or hide a word.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}' | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// Whether [`sanitize_lines`] would show a mark anywhere in `s` (tabs and line ends aside).
pub fn needs_escape(s: &str) -> bool {
    let unsafe_char = |c: char| c != '\t' && is_unsafe(c);
    s.split('\n').any(|raw| raw.strip_suffix('\r').unwrap_or(raw).contains(unsafe_char))
}

/// Whether [`sanitize`] would leave `s` as it is (no unsafe character, no tab).
pub fn is_clean(s: &str) -> bool {
    if s.is_ascii() {
        !s.bytes().any(|b| b.is_ascii_control())
    } else {
        !s.chars().any(is_unsafe)
    }
}

/// The visible form of one unsafe character.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push('␛'),
        '\u{7f}' => out.push_str("^?"),
        c if (c as u32) < 0x20 => {
            out.push('^');
            out.push(char::from(b'@' + c as u8));
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Make one line of outside text safe to draw (see the module note). Borrowed when nothing
/// needed changing.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if is_clean(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0usize;
    for c in s.chars() {
        if c == '\t' {
            let n = TAB - col % TAB;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else if is_unsafe(c) {
            let before = out.len();
            push_escaped(&mut out, c);
            col += unicode_width::UnicodeWidthStr::width(&out[before..]);
        } else {
            out.push(c);
            col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        }
    }
    Cow::Owned(out)
}

/// Text for an input box (a paste): line breaks and tabs stay, every other unsafe character
/// becomes its visible form, so what the user sees in the box is what is sent.
pub fn for_input(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && c != '\t' && is_unsafe(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c != '\n' && c != '\t' && is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Many lines of outside text: each line sanitized, a lone `\r` shown as `^M` (only `\n` and
/// `\r\n` end a line).
pub fn sanitize_lines(s: &str) -> impl Iterator<Item = Cow<'_, str>> {
    s.split('\n').map(|l| sanitize(l.strip_suffix('\r').unwrap_or(l)))
}

/// A line with every span sanitized (borrowed spans stay borrowed when clean).
pub fn clean_line(mut line: Line<'_>) -> Line<'_> {
    for span in &mut line.spans {
        if !is_clean(&span.content) {
            *span = Span::styled(sanitize(&span.content).into_owned(), span.style);
        }
    }
    line
}

/// [`clean_line`] over many lines.
pub fn clean_lines<'a>(lines: impl IntoIterator<Item = Line<'a>>) -> Vec<Line<'a>> {
    lines.into_iter().map(clean_line).collect()
}

/// Views draw text into a buffer only through these two (and [`clean_lines`] for widgets).
pub fn put_str(buf: &mut Buffer, x: u16, y: u16, s: impl AsRef<str>, style: Style) {
    buf.set_string(x, y, sanitize(s.as_ref()), style);
}

/// See [`put_str`].
pub fn put_line(buf: &mut Buffer, x: u16, y: u16, line: &Line<'_>, width: u16) {
    if line.spans.iter().all(|s| is_clean(&s.content)) {
        buf.set_line(x, y, line, width);
    } else {
        buf.set_line(x, y, &clean_line(line.clone()), width);
    }
}

/// The backstop: every cell of `buf` whose symbol holds an unsafe character is repaired (the
/// character removed, or shown as `�` when nothing else was in the cell). Returns how many
/// cells needed it: with every view going through [`sanitize`], none.
pub fn scrub(buf: &mut Buffer) -> usize {
    let mut repaired = 0;
    for cell in buf.content.iter_mut() {
        let symbol = cell.symbol();
        if symbol.is_ascii() && !symbol.bytes().any(|b| b.is_ascii_control()) {
            continue;
        }
        if !symbol.chars().any(is_unsafe) {
            continue;
        }
        let kept: String = symbol.chars().filter(|c| !is_unsafe(*c)).collect();
        cell.set_symbol(if kept.is_empty() { "\u{fffd}" } else { &kept });
        repaired += 1;
    }
    repaired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_forms() {
        let cases: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("a\tb", "a   b"),
            ("curl x | sh\r\u{1b}[2K$ npm test", "curl x | sh^M␛[2K$ npm test"),
            ("\u{1b}]52;c;ZXZpbA==\u{7}", "␛]52;c;ZXZpbA==^G"),
            ("\u{1b}]2;owned\u{1b}\\", "␛]2;owned␛\\"),
            ("nul\0del\u{7f}", "nul^@del^?"),
            ("csi8\u{9b}2J", "csi8\\u{9b}2J"),
            ("abc\u{202e}fdp.exe", "abc\\u{202e}fdp.exe"),
            ("zw\u{200b}sp\u{feff}", "zw\\u{200b}sp\\u{feff}"),
            ("tag\u{e0041}", "tag\\u{e0041}"),
            ("line\nbreak", "line^Jbreak"),
            ("emoji 👁️‍🗨️ ok", "emoji 👁️‍🗨️ ok"),
            ("日本\t語", "日本    語"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), *want, "{input:?}");
            assert!(!sanitize(input).chars().any(is_unsafe), "{input:?}");
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(sanitize("hello, wörld"), Cow::Borrowed(_)));
        assert!(!needs_escape("a\tb"));
        assert!(needs_escape("a\rb"));
        assert!(needs_escape("a\u{2066}b"));
        assert!(!needs_escape("one\r\ntwo\n"));
        assert!(needs_escape("one\rtwo\n"));
    }

    #[test]
    fn lines_keep_a_lone_carriage_return_visible() {
        let lines: Vec<_> = sanitize_lines("one\r\ntwo\rthree\n").collect();
        assert_eq!(lines, ["one", "two^Mthree", ""]);
    }

    #[test]
    fn scrub_repairs_what_bypassed_the_sanitizer() {
        use ratatui::layout::Rect;
        use ratatui::text::Line;
        use ratatui::widgets::Widget;
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 1));
        Line::raw("a\u{1b}]2;x\u{7}b\u{202e}c").render(buf.area, &mut buf);
        assert!(scrub(&mut buf) > 0);
        assert!(buf.content.iter().all(|c| !c.symbol().chars().any(is_unsafe)));
        assert_eq!(scrub(&mut buf), 0);
    }
}
