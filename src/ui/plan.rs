//! The plan rows at the top of a pane's body: the todo list (`☐ 2 ☑ 3 ▸ Running the tests`)
//! and the subagents (`⧉ ▸1 ✓2 ✗1 Explore the API (3 tools)`). Counts come first, so a
//! narrow pane cuts the words and keeps the figures; with one row the two share it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::header::truncate;
use crate::render::sanitize::put_line;
use crate::transcript::plan::{Plan, SubagentState, TodoStatus};

pub fn render(plan: &Plan, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    if plan.has_open_todos() {
        lines.push(todo_spans(plan));
    }
    if !plan.subagents.is_empty() {
        lines.push(subagent_spans(plan));
    }
    if lines.len() > usize::from(area.height) {
        let joined = lines.into_iter().reduce(|mut a, b| {
            a.push(Span::styled(" │ ", dim()));
            a.extend(b);
            a
        });
        lines = joined.into_iter().collect();
    }
    for (row, spans) in lines.into_iter().enumerate().take(usize::from(area.height)) {
        let line = fit(spans, usize::from(area.width));
        put_line(buf, area.x, area.y + row as u16, &line, area.width);
    }
}

fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

/// `☐ 2 ☑ 3 ▸ Running the tests`, or with nothing in progress `☐ 2 ☑ 3 · next: Write docs`.
fn todo_spans(plan: &Plan) -> Vec<Span<'static>> {
    let (pending, doing, done) = plan.counts();
    let mut spans = vec![
        Span::styled(format!("☐ {pending}"), Style::default().fg(Color::Gray)),
        Span::styled(format!(" ☑ {done}"), Style::default().fg(Color::Green)),
    ];
    let current = plan.todos.iter().find(|t| t.status == TodoStatus::InProgress);
    if let Some(t) = current {
        let what = t.active_form.as_deref().unwrap_or(&t.content);
        spans.push(Span::styled(format!(" ▸ {what}"), Style::default().fg(Color::Yellow)));
        if doing > 1 {
            spans
                .push(Span::styled(format!(" +{}", doing - 1), Style::default().fg(Color::Yellow)));
        }
    } else if let Some(t) = plan.todos.iter().find(|t| t.status == TodoStatus::Pending) {
        spans.push(Span::styled(format!(" · next: {}", t.content), dim()));
    }
    spans
}

/// `⧉ ▸1 ✓2 ✗1 Explore the API (3 tools) · Review`: the counts by state, then the running
/// subagents (or, with none running, the failed ones; else the last one).
fn subagent_spans(plan: &Plan) -> Vec<Span<'static>> {
    let count = |st| plan.subagents.iter().filter(|s| s.state == st).count();
    let mut spans = vec![Span::styled("⧉", Style::default().fg(Color::Magenta))];
    let marks = [
        (SubagentState::Running, "▸", Color::Yellow),
        (SubagentState::Done, "✓", Color::Green),
        (SubagentState::Failed, "✗", Color::Red),
    ];
    for (st, mark, colour) in marks {
        let n = count(st);
        if n > 0 {
            spans.push(Span::styled(format!(" {mark}{n}"), Style::default().fg(colour)));
        }
    }
    let named = [SubagentState::Running, SubagentState::Failed]
        .into_iter()
        .find(|st| count(*st) > 0)
        .map_or_else(
            || plan.subagents.iter().rev().take(1).collect::<Vec<_>>(),
            |st| plan.subagents.iter().filter(|s| s.state == st).collect(),
        );
    let words: Vec<String> = named
        .iter()
        .map(|s| match (s.state, s.tools) {
            (SubagentState::Running, 1) => format!("{} (1 tool)", s.description),
            (SubagentState::Running, n) if n > 1 => format!("{} ({n} tools)", s.description),
            _ => s.description.clone(),
        })
        .collect();
    spans.push(Span::styled(format!(" {}", words.join(" · ")), Style::default().fg(Color::Gray)));
    spans
}

/// The spans cut to `width` cells (sanitized, the cut one ending with "…").
fn fit(spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let mut left = width;
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let text = truncate(&span.content, left);
        let cut = text.width() < crate::render::sanitize(&span.content).width();
        left = left.saturating_sub(text.width());
        out.push(Span::styled(text, span.style));
        if cut || left == 0 {
            break;
        }
    }
    Line::from(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::app::fixtures::*;
    use crate::app::{update, State};

    fn team_with_plans(size: (u16, u16)) -> State {
        let mut s = state(false, &[("api", "backend"), ("web", "frontend")], size);
        let (api, web) = (s.agents[0].id, s.agents[1].id);
        send(&mut s, 0, "Ship the release");
        let todos = json!({"todos": [
            {"content": "Read the issue", "status": "completed", "activeForm": "Reading the issue"},
            {"content": "Fix the parser", "status": "completed", "activeForm": "Fixing the parser"},
            {"content": "Run the tests", "status": "in_progress", "activeForm": "Running the tests"},
            {"content": "Write the changelog", "status": "pending", "activeForm": "x"},
        ]});
        let events = vec![
            init(&sid(0), "none"),
            tool("tw", "TodoWrite", todos),
            tool("t1", "Task", json!({"description": "Explore the API", "prompt": "p"})),
            tool("t2", "Agent", json!({"description": "Review the diff"})),
            tool("t3", "Task", json!({"description": "Check the docs"})),
            tool_result("t2", "looks good", false),
            tool_result("t3", "API Error: 500", true),
        ];
        update(&mut s, lines(api, 1, events));
        send(&mut s, 1, "Style the page");
        let todos = json!({"todos": [
            {"content": "Pick the \u{1b}[31mcolours", "status": "pending", "activeForm": "Picking"},
        ]});
        update(&mut s, lines(web, 1, vec![init(&sid(1), "none"), tool("tw", "TodoWrite", todos)]));
        s
    }

    /// Each pane shows its list and its subagents under the header; a narrow one cuts the
    /// words and keeps the counts; a short one puts both on one row.
    #[test]
    fn each_pane_shows_its_todo_list_and_subagents() {
        let wide = screen(&team_with_plans((100, 20)));
        assert!(wide.contains("☐ 1 ☑ 2 ▸ Running the tests"), "{wide}");
        assert!(wide.contains("⧉ ▸1 ✓1 ✗1 Explore the API"), "{wide}");
        // The agent's text is shown, never obeyed.
        assert!(wide.contains("☐ 1 ☑ 0 · next: Pick the ␛[31mcolours"), "{wide}");
        insta::assert_snapshot!("plan_rows_100x20", wide);
        let narrow = screen(&team_with_plans((26, 20)));
        assert!(narrow.contains("│☐ 1 ☑ 2 ▸ Running the t…│"), "{narrow}");
        assert!(narrow.contains("│⧉ ▸1 ✓1 ✗1 Explore the …│"), "{narrow}");
        insta::assert_snapshot!("plan_rows_26x20", narrow);
        let short = screen(&team_with_plans((100, 9)));
        assert!(short.contains("▸ Running the tests │ ⧉ ▸1 ✓1 ✗1"), "{short}");
        insta::assert_snapshot!("plan_rows_100x9", short);
    }

    /// A subagent that reports tools counts them; once every result is in and the list is
    /// done, the rows give their room back to the transcript.
    #[test]
    fn the_rows_follow_the_events() {
        let mut s = team_with_plans((100, 20));
        let api = s.agents[0].id;
        let mut call = tool("s1", "Read", json!({"file_path": "a"}));
        if let crate::agent::Event::Assistant(m) = &mut call {
            m.parent_tool_use_id = Some("t1".into());
        }
        update(&mut s, lines(api, 1, vec![call]));
        assert!(screen(&s).contains("Explore the API (1 tool)"));
        let done = json!({"todos": [{"content": "all", "status": "completed", "activeForm": "a"}]});
        update(&mut s, lines(api, 1, vec![tool("tw2", "TodoWrite", done)]));
        let text = screen(&s);
        assert!(!text.contains("▸ Running the tests"), "{text}");
        assert!(text.contains("⧉ ▸1 ✓1 ✗1"), "{text}");
    }
}
