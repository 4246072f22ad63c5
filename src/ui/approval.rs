//! The approval box at the bottom of a pane whose agent waits for the user: what the tool call
//! would do, in a form a person can judge (the Bash command, the file and a coloured diff for
//! Edit/MultiEdit/Write, the URL for WebFetch, the raw input otherwise), and the keys.
//! Also the one-line note of a turn's denied tools, with the key that allows them and re-runs.

use crate::render::sanitize::put_line;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};
use unicode_width::UnicodeWidthStr;

use super::header::truncate;
use crate::agent::event::PermissionDenial;
use crate::app::approvals::Pending;
use crate::app::{Command, Context, Keymap};
use crate::approval::{rules, show, Asking};

/// Rows the box wants at `width` (its border and key line included).
pub fn desired_height(pending: &Pending, width: u16) -> u16 {
    let ask = &pending.ask;
    show::box_rows(show::call_rows(&ask.tool_name, &ask.input, &pending.answering, width).len())
}

/// The call, as lines a person can judge (see [`show::call_lines`]).
pub fn body_lines(pending: &Pending) -> Vec<Line<'static>> {
    show::call_lines(&pending.ask.tool_name, &pending.ask.input)
}

/// The approval box of one waiting call.
pub struct ApprovalView<'a> {
    pub pending: &'a Pending,
    pub agent: &'a str,
    /// Calls of this agent waiting, this one included.
    pub waiting: usize,
    pub composing: bool,
    /// The pane's input holds text (a question's keys then type, and enter answers with it).
    pub typed: bool,
    pub keymap: &'a Keymap,
}

impl Widget for ApprovalView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height < 2 || area.width < 4 {
            return;
        }
        let ask = &self.pending.ask;
        let rows = show::call_rows(&ask.tool_name, &ask.input, &self.pending.answering, area.width);
        let shown = usize::from(area.height.saturating_sub(2));
        let first = usize::from(self.pending.scroll).min(rows.len().saturating_sub(shown));
        let more =
            if self.waiting > 1 { format!(" (+{} more)", self.waiting - 1) } else { String::new() };
        // A call longer than the box says where the view is and how to see the rest.
        let place = if rows.len() > shown {
            let key = |c| self.keymap.key_label(Context::Approval, c).unwrap_or_default();
            let (up, down) = (key(Command::PageUp), key(Command::PageDown));
            let last = (first + shown).min(rows.len());
            format!("· rows {}-{last} of {} · {up} {down} ", first + 1, rows.len())
        } else {
            String::new()
        };
        let title = match ask.asking() {
            Asking::Plan => {
                format!(" ⚠ {} has a plan for you to approve{more} {place}", self.agent)
            }
            Asking::Question => format!(" ? {} asks you{more} {place}", self.agent),
            _ => format!(" ⚠ {} wants to use {}{more} {place}", self.agent, ask.tool_name),
        };
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(Style::default().fg(Color::Yellow))
            .title(Span::styled(
                truncate(&title, usize::from(area.width)),
                Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 {
            return;
        }
        let keys_row = Rect { y: inner.y + inner.height - 1, height: 1, ..inner };
        let body = Rect { height: inner.height - 1, ..inner };
        for (i, line) in rows.iter().skip(first).take(usize::from(body.height)).enumerate() {
            put_line(buf, body.x, body.y + i as u16, line, body.width);
        }
        put_line(buf, keys_row.x, keys_row.y, &self.keys_line(keys_row.width), keys_row.width);
    }
}

/// A key and the words after it.
type KeyWords = (String, String);

/// The first of `variants` (longest first) that fits `width`, else the last: the words
/// shorten before a key falls off.
fn fit_keys(variants: Vec<Vec<KeyWords>>, width: u16) -> Line<'static> {
    let k = Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let d = Style::default().fg(Color::Gray);
    let w = |v: &[KeyWords]| v.iter().map(|(a, b)| a.width() + b.width()).sum::<usize>();
    let n = variants.len();
    let chosen = variants
        .into_iter()
        .enumerate()
        .find(|(i, v)| w(v) <= usize::from(width) || i + 1 == n)
        .map(|(_, v)| v)
        .unwrap_or_default();
    let spans =
        chosen.into_iter().flat_map(|(key, words)| [Span::styled(key, k), Span::styled(words, d)]);
    Line::from(spans.collect::<Vec<_>>())
}

/// `(key, words)` pairs from string slices.
fn pairs(items: &[(&str, &str)]) -> Vec<KeyWords> {
    items.iter().map(|(k, w)| (k.to_string(), w.to_string())).collect()
}

impl ApprovalView<'_> {
    /// The keys that answer, fitted to `width`: the key of every answer always shows.
    fn keys_line(&self, width: u16) -> Line<'static> {
        fit_keys(self.key_variants(), width)
    }

    fn key_variants(&self) -> Vec<Vec<KeyWords>> {
        let key = |c: Command| self.keymap.key_label(Context::Approval, c).unwrap_or_default();
        let plan = self.pending.ask.asking() == Asking::Plan;
        if self.pending.ask.asking() == Asking::Question {
            return self.question_keys(&key);
        }
        if self.composing {
            let (send, close) = (key(Command::Send), key(Command::Close));
            let (what, verb) = if plan {
                ("reject: say what to change (or nothing), ", " reject · ")
            } else {
                ("deny: type a message for the agent, ", " deny · ")
            };
            return vec![
                pairs(&[("", what), (&send, verb), (&close, " back")]),
                pairs(&[(&send, verb), (&close, " back")]),
                pairs(&[(&send, " "), (&close, "")]),
            ];
        }
        let (once, always, deny) =
            (key(Command::AllowOnce), key(Command::AllowAlways), key(Command::Deny));
        if plan {
            return vec![
                pairs(&[(&once, " approve the plan · "), (&deny, " reject it, saying why")]),
                pairs(&[(&once, " approve · "), (&deny, " reject")]),
                pairs(&[(&once, " · "), (&deny, "")]),
            ];
        }
        let rule = rules::suggest(&self.pending.ask.tool_name, &self.pending.ask.input);
        let (full, short) = match &rule {
            Some(rule) => (format!(" always allow {rule} · "), " always · "),
            None => (" allow once (no narrower rule) · ".to_string(), " once · "),
        };
        vec![
            pairs(&[(&once, " allow once · "), (&always, &full), (&deny, " deny")]),
            pairs(&[(&once, " allow once · "), (&always, short), (&deny, " deny")]),
            pairs(&[(&once, " once · "), (&always, short), (&deny, " deny")]),
            pairs(&[(&once, " · "), (&always, " · "), (&deny, "")]),
        ]
    }

    fn question_keys(&self, key: &dyn Fn(Command) -> String) -> Vec<Vec<KeyWords>> {
        let (send, deny) = (key(Command::Send), key(Command::Deny));
        if self.composing {
            let close = key(Command::Close);
            return vec![
                pairs(&[
                    ("", "dismiss: say why (or nothing), "),
                    (&send, " dismiss · "),
                    (&close, " back"),
                ]),
                pairs(&[(&send, " dismiss · "), (&close, " back")]),
            ];
        }
        if self.typed {
            return vec![
                pairs(&[(&send, " answer with what you typed · "), (&deny, " dismiss")]),
                pairs(&[(&send, " answer · "), (&deny, " dismiss")]),
            ];
        }
        let qs = crate::approval::question::questions(&self.pending.ask.input);
        let q = qs.get(self.pending.answering.at);
        let numbers = format!("1-{}", q.map_or(0, |q| q.options.len()));
        if q.is_some_and(|q| q.multi) {
            let tick = key(Command::Tick);
            vec![
                pairs(&[
                    (&numbers, " or "),
                    (&tick, " tick · "),
                    (&send, " done · or type your own answer · "),
                    (&deny, " dismiss"),
                ]),
                pairs(&[
                    (&numbers, " or "),
                    (&tick, " tick · "),
                    (&send, " done · "),
                    (&deny, " dismiss"),
                ]),
                pairs(&[(&numbers, " "), (&tick, " "), (&send, " "), (&deny, "")]),
            ]
        } else {
            let moves = format!("{}/{}", key(Command::ChoiceUp), key(Command::ChoiceDown));
            vec![
                pairs(&[
                    (&numbers, " or "),
                    (&moves, " and "),
                    (&send, " pick · or type your own answer · "),
                    (&deny, " dismiss"),
                ]),
                pairs(&[
                    (&numbers, " or "),
                    (&moves, " and "),
                    (&send, " pick · "),
                    (&deny, " dismiss"),
                ]),
                pairs(&[(&numbers, " "), (&moves, " "), (&send, " pick · "), (&deny, " dismiss")]),
                pairs(&[(&numbers, " "), (&moves, " "), (&send, " "), (&deny, "")]),
            ]
        }
    }
}

/// One line under the transcript: the tools the last turn was denied, and the key that allows
/// them and re-runs the turn.
pub fn denials_line(denials: &[PermissionDenial], keymap: &Keymap) -> Line<'static> {
    let calls: Vec<String> = denials
        .iter()
        .map(|d| rules::suggest(&d.tool_name, &d.tool_input).unwrap_or(d.tool_name.clone()))
        .collect();
    let key = keymap.key_label(Context::Pane, Command::AllowDenied).unwrap_or_default();
    Line::from(vec![
        Span::styled(
            format!("⚠ denied: {} · ", calls.join(", ")),
            Style::default().fg(Color::Yellow),
        ),
        Span::styled(key, Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)),
        Span::styled(" allow and re-run", Style::default().fg(Color::Gray)),
    ])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::app::fixtures::*;
    use crate::app::{update, State};

    /// One agent mid-turn, asking about `tool`.
    fn asking(tool: &str, input: serde_json::Value) -> State {
        let mut s = state(false, &[("api", "backend")], (80, 24));
        let id = s.agents[0].id;
        send(&mut s, 0, "Fix the failing test");
        update(&mut s, started(id, 1));
        update(&mut s, lines(id, 1, vec![init(&sid(1), "none"), text("Let me look.")]));
        ask_approval(&mut s, "api", tool, input);
        s
    }

    #[test]
    fn bash_request() {
        let s = asking(
            "Bash",
            json!({"command": "npm test -- --runInBand", "description": "Run the test suite"}),
        );
        insta::assert_snapshot!(screen(&s));
    }

    #[test]
    fn edit_request_with_a_diff() {
        let s = asking(
            "Edit",
            json!({
                "file_path": "/proj/src/lib.rs",
                "old_string": "fn add(a: i32, b: i32) -> i32 {\n    a - b\n}",
                "new_string": "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}",
            }),
        );
        let text = screen(&s);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_write_no_rule_can_name_offers_to_allow_it_once() {
        let s = asking("Write", json!({"file_path": "/proj/*.txt", "content": "hello"}));
        let text = screen(&s);
        assert!(text.contains("alt-Y allow once (no narrower rule)"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn edit_diff_is_coloured() {
        let s =
            asking("Edit", json!({"file_path": "/a", "old_string": "old", "new_string": "new"}));
        let lines = super::body_lines(s.approvals.first_for(s.agents[0].id).expect("waiting"));
        let colour = |needle: &str| {
            lines.iter().find(|l| l.to_string().contains(needle)).and_then(|l| l.style.fg)
        };
        assert_eq!(colour("- old"), Some(ratatui::style::Color::Red));
        assert_eq!(colour("+ new"), Some(ratatui::style::Color::Green));
    }

    #[test]
    fn unknown_tool_request_shows_its_input() {
        let s = asking("mcp__db__query", json!({"sql": "DELETE FROM users", "limit": 10}));
        insta::assert_snapshot!(screen(&s));
    }

    /// A plan longer than its box: all of it, wrapped between words, the escape shown as its
    /// mark, the rows in view and the page keys in the title; no "allow always".
    fn long_plan() -> serde_json::Value {
        let mut plan = String::from(
            "## Fix the flaky login test\n\nThe test races the session store: it reads the \
             cookie before the write lands, so it fails about one run in ten.\n\n",
        );
        for i in 1..=12 {
            plan.push_str(&format!("{i}. step {i} of the fix\n"));
        }
        plan.push_str("13. print \u{1b}[2J to the log\n");
        json!({ "plan": plan })
    }

    #[test]
    fn a_plan_is_shown_whole_and_scrolls() {
        let mut s = asking("ExitPlanMode", long_plan());
        let top = screen(&s);
        assert!(top.contains("The test races"), "{top}");
        assert!(!top.contains("always"), "{top}");
        update(&mut s, key(crossterm::event::KeyCode::PageDown));
        update(&mut s, key(crossterm::event::KeyCode::PageDown));
        let bottom = screen(&s);
        assert!(bottom.contains("13. print ␛[2J to the log"), "{bottom}");
        insta::assert_snapshot!("a_plan_is_shown_whole_and_scrolls_top", top);
        insta::assert_snapshot!("a_plan_is_shown_whole_and_scrolls_bottom", bottom);
    }

    #[test]
    fn rejecting_a_plan_with_a_reason() {
        let mut s = asking("ExitPlanMode", json!({"plan": "1. look\n2. fix"}));
        update(&mut s, deny());
        type_text(&mut s, "add tests first");
        insta::assert_snapshot!(screen(&s));
    }

    fn questions() -> serde_json::Value {
        json!({"questions": [
            {"question": "Which database should the service use?", "header": "Database",
             "multiSelect": false, "options": [
                {"label": "Postgres", "description": "what the other services run"},
                {"label": "SQLite", "description": "one file, no server"},
                {"label": "\u{1b}[31mred", "description": "an escape in a label"}]},
            {"question": "Which environments?", "header": "Deploy", "multiSelect": true,
             "options": [{"label": "staging"}, {"label": "production"}, {"label": "preview"}]}]})
    }

    #[test]
    fn a_question_with_numbered_options_and_the_highlight() {
        let mut s = asking("AskUserQuestion", questions());
        update(&mut s, key(crossterm::event::KeyCode::Down));
        insta::assert_snapshot!(screen(&s));
    }

    #[test]
    fn a_second_question_where_several_may_be_picked() {
        let mut s = asking("AskUserQuestion", questions());
        type_text(&mut s, "1");
        type_text(&mut s, "3");
        update(&mut s, key(crossterm::event::KeyCode::Up));
        insta::assert_snapshot!(screen(&s));
    }

    #[test]
    fn a_question_answered_in_the_users_own_words() {
        let mut s = asking("AskUserQuestion", questions());
        type_text(&mut s, "whatever the team picks");
        let text = screen(&s);
        assert!(text.contains("enter answer with what you typed"), "{text}");
        insta::assert_snapshot!(text);
    }

    /// In a 43-column pane the words shorten and every answer's key stays: the Bash call, a
    /// plan and a question.
    #[test]
    fn a_narrow_pane_keeps_every_answers_key() {
        let bash = json!({"command": "npm test -- --runInBand", "description": "Run the tests"});
        let calls = [
            ("Bash", bash),
            ("ExitPlanMode", json!({"plan": "1. Read\n2. Fix"})),
            ("AskUserQuestion", questions()),
        ];
        let mut shots = Vec::new();
        for (tool, input) in calls {
            let mut s = asking(tool, input);
            s.size = (43, 16);
            let text = screen(&s);
            let keys = s.keymap.clone();
            let label = |c| keys.key_label(crate::app::Context::Approval, c).unwrap_or_default();
            let needed: &[crate::app::Command] = match tool {
                "Bash" => &[
                    crate::app::Command::AllowOnce,
                    crate::app::Command::AllowAlways,
                    crate::app::Command::Deny,
                ],
                "ExitPlanMode" => &[crate::app::Command::AllowOnce, crate::app::Command::Deny],
                _ => &[crate::app::Command::Send, crate::app::Command::Deny],
            };
            let keys_row = text.lines().find(|l| l.contains(&label(needed[0]))).unwrap_or_default();
            for c in needed {
                assert!(
                    keys_row.contains(&format!("{} ", label(*c)))
                        || keys_row.trim_end_matches('┃').trim_end().ends_with(&label(*c)),
                    "{tool}: {c:?} fell off:\n{text}"
                );
            }
            shots.push(text);
        }
        insta::assert_snapshot!(shots.join("\n"));
    }

    #[test]
    fn composing_a_denial() {
        let mut s = asking("Write", json!({"file_path": "/etc/hosts", "content": "127.0.0.1 x\n"}));
        update(&mut s, deny());
        type_text(&mut s, "not there");
        insta::assert_snapshot!(screen(&s));
    }
}
