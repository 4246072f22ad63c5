//! Finding text in transcripts: plain, case-insensitive substrings (no pattern language, so a
//! search for `a.b*` finds exactly `a.b*`), one hit per matching line.
//!
//! One pure module serves the focused pane's search, the search across every agent and
//! `agentmux search`, so the three always find the same lines.

use std::ops::Range;

use serde_json::Value;

use super::{Cell, CellKind, Transcript};

/// A hit's line is cut to this many characters (a tool result may hold one enormous line).
pub const MAX_LINE_CHARS: usize = 200;
/// A search across transcripts stops after this many hits: a reply stays small and quick
/// however common the text is.
pub const MAX_HITS: usize = 10_000;

/// Why a search cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("nothing to search for: type some text")]
    Empty,
}

/// What to look for, folded once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needle {
    text: String,
    /// The text in lower case; when it is ASCII, haystacks need only ASCII folding, which keeps
    /// byte offsets (and is several times faster than Unicode folding).
    folded: String,
}

impl Needle {
    pub fn new(text: &str) -> Result<Needle, SearchError> {
        if text.trim().is_empty() {
            return Err(SearchError::Empty);
        }
        Ok(Needle { text: text.to_string(), folded: text.to_lowercase() })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Calls `hit` with each line of `text` that holds the needle, once per line.
    pub fn lines<'t>(&self, text: &'t str, scratch: &mut Vec<u8>, mut hit: impl FnMut(&'t str)) {
        if !self.folded.is_ascii() {
            text.lines().filter(|l| l.to_lowercase().contains(&self.folded)).for_each(hit);
            return;
        }
        scratch.clear();
        scratch.extend_from_slice(text.as_bytes());
        scratch.make_ascii_lowercase();
        let finder = memchr::memmem::Finder::new(self.folded.as_bytes());
        let mut from = 0;
        while let Some(at) = finder.find(&scratch[from..]).map(|i| from + i) {
            let start = memchr::memrchr(b'\n', &scratch[..at]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &scratch[at..]).map_or(scratch.len(), |i| at + i);
            if at + self.folded.len() > end {
                // A needle with a line break in it: hits are lines, so it spans none.
                from = at + 1;
                continue;
            }
            // Folding ASCII keeps every byte where it was, so these are char boundaries of
            // `text` too.
            if let Some(line) = text.get(start..end) {
                hit(line.strip_suffix('\r').unwrap_or(line));
            }
            from = end + 1;
            if from >= scratch.len() {
                break;
            }
        }
    }

    /// Where the needle is in one line of screen text, as char ranges (for highlighting).
    pub fn char_ranges(&self, line: &str) -> Vec<Range<usize>> {
        let hay: Vec<char> = line.chars().map(fold_char).collect();
        let needle: Vec<char> = self.text.chars().map(fold_char).collect();
        let mut out = Vec::new();
        let mut i = 0;
        while !needle.is_empty() && i + needle.len() <= hay.len() {
            if hay[i..i + needle.len()] == needle[..] {
                out.push(i..i + needle.len());
                i += needle.len();
            } else {
                i += 1;
            }
        }
        out
    }
}

/// One char in lower case, as one char (the rare letters that lower to two keep their first).
fn fold_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Hits grouped by agent name.
pub type ByAgent = Vec<(String, Vec<Hit>)>;

/// A line of a transcript that holds the needle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The cell it is in.
    pub cell: usize,
    /// The turn the cell belongs to: 1 for the first prompt's, 0 before any prompt.
    pub turn: u32,
    /// The line, sanitized, trimmed and cut to [`MAX_LINE_CHARS`].
    pub line: String,
}

/// The searchable text of a cell: what the pane can show of it.
pub fn cell_texts(cell: &Cell, mut text: impl FnMut(&str)) {
    match &cell.kind {
        CellKind::Prompt(t) | CellKind::Output(t) | CellKind::Error(t) => text(t),
        CellKind::Assistant(b) | CellKind::Thinking(b) => text(&b.text),
        CellKind::Note(n) => text(&n.text),
        CellKind::Tool(call) => {
            text(&call.name);
            input_strings(&call.input, &mut text);
            if let Some(r) = &call.result {
                text(&r.content);
            }
        }
        CellKind::Footer(_) => {}
    }
}

/// Every string value in a tool's input (the command, the path, the pattern ...).
fn input_strings(v: &Value, text: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => text(s),
        Value::Array(items) => items.iter().for_each(|i| input_strings(i, text)),
        Value::Object(map) => map.values().for_each(|i| input_strings(i, text)),
        _ => {}
    }
}

/// Every line of `transcript` that holds the needle, in order, at most `limit`.
pub fn search(transcript: &Transcript, needle: &Needle, limit: usize) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut scratch = Vec::new();
    let mut turn = 0u32;
    for (i, cell) in transcript.cells().iter().enumerate() {
        if hits.len() >= limit {
            break;
        }
        if matches!(cell.kind, CellKind::Prompt(_)) {
            turn += 1;
        }
        cell_texts(cell, |text| {
            needle.lines(text, &mut scratch, |line| {
                if hits.len() < limit {
                    hits.push(Hit { cell: i, turn, line: shown(line) });
                }
            })
        });
    }
    hits
}

/// The hits of every named transcript, grouped by agent in the order given, at most
/// [`MAX_HITS`] in all; the flag says the list reached the limit (more may be left).
pub fn search_all<'a>(
    transcripts: impl IntoIterator<Item = (&'a str, &'a Transcript)>,
    needle: &Needle,
) -> (ByAgent, bool) {
    let mut out = Vec::new();
    let mut left = MAX_HITS;
    for (name, transcript) in transcripts {
        let hits = search(transcript, needle, left);
        left -= hits.len();
        if !hits.is_empty() {
            out.push((name.to_string(), hits));
        }
        if left == 0 {
            return (out, true);
        }
    }
    (out, false)
}

/// A hit's line as it may reach a terminal: no control characters or escapes, trimmed, cut.
fn shown(line: &str) -> String {
    let line = crate::render::sanitize(line);
    let line = line.trim();
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(needle: &str, text: &str) -> Vec<String> {
        let n = Needle::new(needle).expect("a needle");
        let mut out = Vec::new();
        n.lines(text, &mut Vec::new(), |l| out.push(l.to_string()));
        out
    }

    #[test]
    fn lines_holding_the_needle() {
        let text = "alpha\nBeta gamma\r\nbeta beta\nno\nlast BETA";
        let cases: &[(&str, &str, &[&str])] = &[
            ("case folds both ways", "beta", &["Beta gamma", "beta beta", "last BETA"]),
            ("upper needle", "GAMMA", &["Beta gamma"]),
            ("first line", "alp", &["alpha"]),
            ("nothing", "zeta", &[]),
            ("spans no lines", "a\nb", &[]),
            ("regex characters are literal", ".*", &[]),
            ("a space inside", "a g", &["Beta gamma"]),
        ];
        for (why, needle, want) in cases {
            assert_eq!(lines_of(needle, text), *want, "{why}");
        }
        let regexy = "call f(x) with a.b*\nf(x)? no\nplain";
        assert_eq!(lines_of("a.b*", regexy), ["call f(x) with a.b*"]);
        assert_eq!(lines_of("(x)", regexy), ["call f(x) with a.b*", "f(x)? no"]);
        assert_eq!(lines_of("[", "a[b\nab"), ["a[b"]);
    }

    #[test]
    fn unicode_text_and_needles() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("non-ASCII needle folds", "ÉTÉ", &["un été chaud"]),
            ("ASCII needle in non-ASCII text", "chaud", &["un été chaud"]),
            ("wide characters", "日本", &["言語 日本語"]),
        ];
        for (why, needle, want) in cases {
            assert_eq!(lines_of(needle, "un été chaud\n言語 日本語\nzzz"), *want, "{why}");
        }
    }

    #[test]
    fn an_empty_needle_is_an_error() {
        for empty in ["", " ", "\t\n"] {
            assert_eq!(Needle::new(empty), Err(SearchError::Empty), "{empty:?}");
        }
        assert_eq!(SearchError::Empty.to_string(), "nothing to search for: type some text");
    }

    #[test]
    fn char_ranges_for_highlighting() {
        let n = Needle::new("ab").expect("needle");
        let cases: &[(&str, &[(usize, usize)])] = &[
            ("xabyAB", &[(1, 3), (4, 6)]),
            ("aaab", &[(2, 4)]),
            ("abab", &[(0, 2), (2, 4)]),
            ("日ab", &[(1, 3)]),
            ("a b", &[]),
            ("", &[]),
        ];
        for (line, want) in cases {
            let got: Vec<(usize, usize)> =
                n.char_ranges(line).into_iter().map(|r| (r.start, r.end)).collect();
            assert_eq!(got, *want, "{line:?}");
        }
    }

    #[test]
    fn hits_name_their_cell_and_turn() {
        let mut t = Transcript::new();
        t.push_note("needle before any prompt", super::super::NoteLevel::Info);
        t.push_prompt("first: find the NEEDLE");
        t.push_error("no needle here\nbut a Needle there");
        t.push_prompt("second");
        t.push_error("x".repeat(300).as_str());
        t.push_error(&format!("needle{}", "y".repeat(300)));
        t.push_error("\u{1b}[31mred needle\u{1b}[0m\tend\u{7}");
        let hits = search(&t, &Needle::new("needle").expect("needle"), usize::MAX);
        let got: Vec<(usize, u32, &str)> =
            hits.iter().map(|h| (h.cell, h.turn, &h.line[..h.line.len().min(24)])).collect();
        assert_eq!(
            got,
            [
                (0, 0, "needle before any prompt"),
                (1, 1, "first: find the NEEDLE"),
                (2, 1, "no needle here"),
                (2, 1, "but a Needle there"),
                (5, 2, "needleyyyyyyyyyyyyyyyyyy"),
                (6, 2, "␛[31mred needle␛[0m "),
            ]
        );
        assert_eq!(hits[4].line.chars().count(), MAX_LINE_CHARS + 1, "cut, with an ellipsis");
        assert_eq!(search(&t, &Needle::new("needle").expect("needle"), 2).len(), 2);
        assert!(hits.iter().all(|h| !h.line.contains(|c: char| c.is_control())), "sanitized");
    }

    #[test]
    fn search_all_groups_by_agent_and_stops_at_the_limit() {
        let mut a = Transcript::new();
        a.push_prompt("find me");
        let b = Transcript::new();
        let mut c = Transcript::new();
        c.push_prompt("me too");
        c.push_error("and me");
        let needle = Needle::new("ME").expect("needle");
        let (hits, cut) = search_all([("a", &a), ("b", &b), ("c", &c)], &needle);
        let names: Vec<(&str, usize)> = hits.iter().map(|(n, h)| (n.as_str(), h.len())).collect();
        assert_eq!(names, [("a", 1), ("c", 2)]);
        assert!(!cut);
        let mut big = Transcript::new();
        big.push_error(&"me\n".repeat(MAX_HITS + 5));
        let (hits, cut) = search_all([("big", &big), ("a", &a)], &needle);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].1.len(), MAX_HITS);
        assert!(cut);
    }
}
