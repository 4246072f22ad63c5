//! Syntax highlighting of fenced code with syntect's bundled syntaxes and themes.
//!
//! The syntax set takes tens of milliseconds to load, so it loads once, on first use. Highlighting
//! is a regex engine per line: above `MAX_HIGHLIGHT_BYTES` (or `MAX_HIGHLIGHT_LINES`) a block is
//! shown unhighlighted rather than stalling a frame.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, Theme, ThemeSet};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

/// Code blocks larger than this are drawn without highlighting.
pub const MAX_HIGHLIGHT_BYTES: usize = 64 * 1024;
pub const MAX_HIGHLIGHT_LINES: usize = 2_000;

const THEME: &str = "base16-ocean.dark";

struct Highlighter {
    syntaxes: SyntaxSet,
    theme: Theme,
}

fn highlighter() -> Option<&'static Highlighter> {
    static CELL: OnceLock<Option<Highlighter>> = OnceLock::new();
    CELL.get_or_init(|| {
        let syntaxes = SyntaxSet::load_defaults_newlines();
        let mut themes = ThemeSet::load_defaults();
        let theme = themes.themes.remove(THEME)?;
        Some(Highlighter { syntaxes, theme })
    })
    .as_ref()
}

/// Load the syntaxes and compile the common languages' rules on a thread of their own, so that
/// the first code block of a run does not stall a frame for them (tens of milliseconds: the
/// first `sh` block cost one frame 27 ms). Later calls do nothing.
pub fn warm_up() {
    static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if STARTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let warm = || {
        for (lang, code) in WARM_UP {
            let _ = highlight_uncached(code, lang);
        }
    };
    // Without a thread the first block pays, as before: nothing is lost.
    let _ = std::thread::Builder::new().name("highlight-warm-up".into()).spawn(warm);
}

const WARM_UP: &[(&str, &str)] = &[
    ("sh", "cd x && cargo test -- --nocapture | tee \"$LOG\" # note\n"),
    ("rust", "fn main() { let v: Vec<u8> = vec![1]; println!(\"{v:?}\"); }\n"),
    ("python", "def f(x):\n    return [i for i in x if i]  # note\n"),
    ("typescript", "export const f = (x: number): string => `${x}`;\n"),
    ("javascript", "const f = async (x) => { await x; };\n"),
    ("json", "{\"a\": [1, true, null]}\n"),
    ("toml", "[a]\nb = \"c\"\n"),
    ("diff", "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n"),
];

/// Is `lang` (a fence's info string) a language we can highlight?
pub fn knows(lang: &str) -> bool {
    let token = lang_token(lang);
    !token.is_empty()
        && highlighter().is_some_and(|h| h.syntaxes.find_syntax_by_token(token).is_some())
}

fn lang_token(lang: &str) -> &str {
    // "rust,ignore" or "python title=x.py": the first word names the language.
    lang.split(|c: char| c == ',' || c.is_whitespace()).next().unwrap_or("")
}

/// Spans per source line of one highlighted block.
pub type Highlighted = Arc<Vec<Vec<Span<'static>>>>;

/// Recently highlighted blocks, by language and code: highlighting does not depend on the
/// width, so a resize, or a cell scrolled out and back, does not pay for syntect again.
struct Recent {
    entries: VecDeque<(String, String, Highlighted)>,
    bytes: usize,
}

const RECENT_BYTES: usize = 4 * 1024 * 1024;

fn recent() -> &'static Mutex<Recent> {
    static CELL: OnceLock<Mutex<Recent>> = OnceLock::new();
    CELL.get_or_init(|| Mutex::new(Recent { entries: VecDeque::new(), bytes: 0 }))
}

/// Highlight `code` as `lang`: one vector of spans per source line (without its newline), or
/// `None` when the language is unknown, the block too large, or syntect fails.
pub fn highlight(code: &str, lang: &str) -> Option<Highlighted> {
    if code.len() > MAX_HIGHLIGHT_BYTES || code.lines().count() > MAX_HIGHLIGHT_LINES {
        return None;
    }
    let token = lang_token(lang);
    if token.is_empty() {
        return None;
    }
    let h = highlighter()?;
    let syntax = h.syntaxes.find_syntax_by_token(token)?;
    // Keyed by the syntax, not the fence's word: "rs" and "rust" are the same.
    let name = syntax.name.as_str();
    {
        let cache = recent().lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, h)) = cache.entries.iter().find(|(l, c, _)| l == name && c == code) {
            return Some(Arc::clone(h));
        }
    }
    let lines = Arc::new(highlight_uncached(code, token)?);
    let mut cache = recent().lock().unwrap_or_else(|e| e.into_inner());
    cache.bytes += code.len() * 3;
    cache.entries.push_front((name.to_string(), code.to_string(), Arc::clone(&lines)));
    while cache.bytes > RECENT_BYTES || cache.entries.len() > 512 {
        match cache.entries.pop_back() {
            Some((_, c, _)) => cache.bytes = cache.bytes.saturating_sub(c.len() * 3),
            None => break,
        }
    }
    Some(lines)
}

fn highlight_uncached(code: &str, token: &str) -> Option<Vec<Vec<Span<'static>>>> {
    let h = highlighter()?;
    let syntax = h.syntaxes.find_syntax_by_token(token)?;
    let mut hl = HighlightLines::new(syntax, &h.theme);
    let mut out = Vec::new();
    for line in LinesWithEndings::from(code) {
        let ranges = hl.highlight_line(line, &h.syntaxes).ok()?;
        let spans = ranges
            .into_iter()
            .filter_map(|(style, text)| {
                let text = text.trim_end_matches(['\n', '\r']);
                if text.is_empty() {
                    return None;
                }
                Some(Span::styled(text.to_string(), convert(style)))
            })
            .collect();
        out.push(spans);
    }
    Some(out)
}

fn convert(s: syntect::highlighting::Style) -> Style {
    let fg = s.foreground;
    let mut style = Style::default().fg(Color::Rgb(fg.r, fg.g, fg.b));
    if s.font_style.contains(FontStyle::BOLD) {
        style = style.add_modifier(Modifier::BOLD);
    }
    if s.font_style.contains(FontStyle::ITALIC) {
        style = style.add_modifier(Modifier::ITALIC);
    }
    if s.font_style.contains(FontStyle::UNDERLINE) {
        style = style.add_modifier(Modifier::UNDERLINED);
    }
    style
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_is_highlighted_line_by_line() {
        let lines = highlight("fn main() {\n    let x = 1;\n}\n", "rust").expect("rust is bundled");
        assert_eq!(lines.len(), 3);
        let first: String = lines[0].iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(first, "fn main() {");
        // More than one colour on the line: it was really highlighted.
        assert!(lines[0].len() > 1);
    }

    #[test]
    fn unknown_languages_and_huge_blocks_are_left_plain() {
        assert!(highlight("x", "no-such-language").is_none());
        assert!(highlight("x", "").is_none());
        let huge = "let x = 1;\n".repeat(MAX_HIGHLIGHT_LINES + 1);
        assert!(highlight(&huge, "rust").is_none());
    }

    #[test]
    fn a_block_seen_again_is_not_highlighted_again() {
        let code = "let cached = \"yes\";\n";
        let a = highlight(code, "rust").expect("rust");
        let b = highlight(code, "rs").expect("rust");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn info_strings_name_the_language_by_their_first_word() {
        assert!(highlight("x = 1", "python title=a.py").is_some());
        assert!(knows("rs"));
    }
}
