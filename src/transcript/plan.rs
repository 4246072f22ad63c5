//! What an agent plans and hands out: its todo list (the input of its latest TodoWrite call)
//! and its subagents (its Task/Agent calls, whose own events carry the call's id as
//! `parent_tool_use_id`). Folded from the events once as they arrive, so a pane reads the
//! figure instead of searching the transcript every frame.

use serde_json::Value;

use super::tool::is_subagent_tool;
use crate::agent::event::{ContentBlock, Event, MessageEvent, SystemKind};

/// A todo's text is the agent's output: a huge one is cut before it is kept.
const MAX_TEXT_CHARS: usize = 300;
/// The most todos kept from one list, and subagents kept from one turn.
const MAX_ITEMS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TodoStatus {
    Pending,
    InProgress,
    Completed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Todo {
    pub content: String,
    pub status: TodoStatus,
    /// What it says while in progress ("Running the tests").
    pub active_form: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubagentState {
    Running,
    Done,
    /// Its result was an error, or the turn ended without one.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subagent {
    /// The Task/Agent call's id.
    pub id: String,
    pub description: String,
    pub state: SubagentState,
    /// The tool calls it made so far.
    pub tools: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub todos: Vec<Todo>,
    /// The current (or last) turn's subagents, in the order they were started.
    pub subagents: Vec<Subagent>,
}

impl Plan {
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            // A new process: the last turn's subagents are over and no longer shown.
            Event::System(s) if matches!(s.kind, SystemKind::Init(_)) => self.subagents.clear(),
            Event::Assistant(m) => self.on_calls(m),
            Event::User(m) => self.on_results(m),
            Event::Result(_) => self.end_turn(),
            _ => {}
        }
    }

    /// The turn ended: a subagent that gave no result never will.
    pub fn end_turn(&mut self) {
        for s in self.subagents.iter_mut().filter(|s| s.state == SubagentState::Running) {
            s.state = SubagentState::Failed;
        }
    }

    fn on_calls(&mut self, m: &MessageEvent) {
        for block in &m.content {
            let ContentBlock::ToolUse { id, name, input } = block else { continue };
            if let Some(parent) = &m.parent_tool_use_id {
                // A subagent's own call: it is busy (its TodoWrite is not the agent's list).
                if let Some(s) = self.subagents.iter_mut().find(|s| &s.id == parent) {
                    s.tools = s.tools.saturating_add(1);
                }
            } else if name == "TodoWrite" {
                // A call without a list says nothing of it: the last list stays.
                if let Some(items) = input.get("todos").and_then(Value::as_array) {
                    self.todos = items.iter().filter_map(todo).take(MAX_ITEMS).collect();
                }
            } else if is_subagent_tool(name) && !self.subagents.iter().any(|s| &s.id == id) {
                if self.subagents.len() >= MAX_ITEMS {
                    self.subagents.remove(0);
                }
                self.subagents.push(Subagent {
                    id: id.clone(),
                    description: description(input),
                    state: SubagentState::Running,
                    tools: 0,
                });
            }
        }
    }

    fn on_results(&mut self, m: &MessageEvent) {
        for block in &m.content {
            let ContentBlock::ToolResult { tool_use_id, is_error, .. } = block else { continue };
            if let Some(s) = self.subagents.iter_mut().find(|s| &s.id == tool_use_id) {
                s.state = if *is_error { SubagentState::Failed } else { SubagentState::Done };
            }
        }
    }

    /// The todos in each state: (pending, in progress, completed).
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |st| self.todos.iter().filter(|t| t.status == st).count();
        (n(TodoStatus::Pending), n(TodoStatus::InProgress), n(TodoStatus::Completed))
    }

    /// The list is worth a row: something on it is still to do (a finished list is history,
    /// which the transcript keeps).
    pub fn has_open_todos(&self) -> bool {
        self.todos.iter().any(|t| t.status != TodoStatus::Completed)
    }

    /// The rows a pane gives the plan at the top of a body this tall: one for the todo list
    /// and one for the subagents, fewer in a short pane, none in a very short one.
    pub fn rows(&self, body_rows: u16) -> u16 {
        let wanted = u16::from(self.has_open_todos()) + u16::from(!self.subagents.is_empty());
        match body_rows {
            0..=3 => 0,
            4..=7 => wanted.min(1),
            _ => wanted,
        }
    }
}

fn todo(v: &Value) -> Option<Todo> {
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(|s| cut(s.trim()));
    let content = text("content").filter(|c| !c.is_empty())?;
    let status = match v.get("status").and_then(Value::as_str) {
        Some("completed") => TodoStatus::Completed,
        Some("in_progress") => TodoStatus::InProgress,
        // An unknown word is taken as still to do.
        _ => TodoStatus::Pending,
    };
    let active_form = text("activeForm").filter(|a| !a.is_empty());
    Some(Todo { content, status, active_form })
}

fn description(input: &Value) -> String {
    ["description", "subagent_type"]
        .iter()
        .find_map(|k| input.get(*k).and_then(Value::as_str).map(str::trim))
        .filter(|d| !d.is_empty())
        .map_or_else(|| "subagent".to_string(), cut)
}

/// The first line, at most [`MAX_TEXT_CHARS`] characters.
fn cut(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    match line.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::app::fixtures::{init, result, tool, tool_result};

    fn todo_write(items: Value) -> Event {
        tool("tw", "TodoWrite", json!({ "todos": items }))
    }

    fn item(content: &str, status: &str) -> Value {
        json!({"content": content, "status": status, "activeForm": format!("Doing {content}")})
    }

    fn sub_call(parent: &str, id: &str, name: &str) -> Event {
        let mut ev = tool(id, name, json!({"command": "ls"}));
        if let Event::Assistant(m) = &mut ev {
            m.parent_tool_use_id = Some(parent.into());
        }
        ev
    }

    fn plan_of(events: &[Event]) -> Plan {
        let mut p = Plan::default();
        for ev in events {
            p.apply(ev);
        }
        p
    }

    #[test]
    fn the_latest_todo_write_replaces_the_list() {
        let p = plan_of(&[
            todo_write(json!([item("a", "pending"), item("b", "pending")])),
            todo_write(json!([item("a", "completed"), item("b", "in_progress"), item("c", "x")])),
        ]);
        assert_eq!(p.todos.len(), 3);
        assert_eq!(p.counts(), (1, 1, 1), "an unknown status counts as pending");
        assert_eq!(p.todos[1].active_form.as_deref(), Some("Doing b"));
        // A call with no list, or a broken one, leaves the last list.
        let mut q = p.clone();
        q.apply(&tool("tw2", "TodoWrite", json!({"todos": "soon"})));
        q.apply(&tool("tw3", "TodoWrite", json!(null)));
        assert_eq!(q, p);
        // Items without text are left out; an empty list clears it.
        let r = plan_of(&[todo_write(json!([{"status": "pending"}, 7, item("z", "pending")]))]);
        assert_eq!(r.todos.len(), 1);
        assert!(plan_of(&[todo_write(json!([]))]).todos.is_empty());
    }

    #[test]
    fn a_finished_list_takes_no_row() {
        let open = plan_of(&[todo_write(json!([item("a", "completed"), item("b", "pending")]))]);
        assert_eq!(open.rows(20), 1);
        let done = plan_of(&[todo_write(json!([item("a", "completed")]))]);
        assert_eq!(done.rows(20), 0);
        assert_eq!(open.rows(3), 0, "a very short pane keeps its rows for the transcript");
    }

    #[test]
    fn a_subagents_result_ends_it() {
        let p = plan_of(&[
            tool("t1", "Task", json!({"description": "Explore the API", "prompt": "p"})),
            tool("t2", "Agent", json!({"subagent_type": "reviewer"})),
            sub_call("t1", "s1", "Read"),
            sub_call("t1", "s2", "Grep"),
            tool_result("t1", "found it", false),
        ]);
        let states: Vec<_> =
            p.subagents.iter().map(|s| (s.description.as_str(), s.state)).collect();
        assert_eq!(
            states,
            [("Explore the API", SubagentState::Done), ("reviewer", SubagentState::Running)]
        );
        assert_eq!(p.subagents[0].tools, 2);
        // Its own TodoWrite is not the agent's list.
        let mut q = p.clone();
        q.apply(&sub_call("t2", "s3", "TodoWrite"));
        assert!(q.todos.is_empty());
    }

    #[test]
    fn a_failed_subagent_and_one_the_turn_cut() {
        let p = plan_of(&[
            tool("t1", "Task", json!({"description": "A"})),
            tool("t2", "Task", json!({"description": "B"})),
            tool_result("t1", "API Error", true),
            result("s", "success", 0.0),
        ]);
        let states: Vec<_> = p.subagents.iter().map(|s| s.state).collect();
        assert_eq!(states, [SubagentState::Failed, SubagentState::Failed]);
        // The next turn starts without them; the todo list is the conversation's and stays.
        let mut q = plan_of(&[todo_write(json!([item("a", "pending")]))]);
        q.subagents = p.subagents.clone();
        q.apply(&init("s", "none"));
        assert!(q.subagents.is_empty());
        assert_eq!(q.todos.len(), 1);
    }

    #[test]
    fn huge_and_multi_line_text_is_cut() {
        let long = "x".repeat(5000);
        let p = plan_of(&[
            todo_write(json!([item(&format!("{long}\nsecond line"), "pending")])),
            tool("t1", "Task", json!({"description": "  "})),
        ]);
        assert_eq!(p.todos[0].content.chars().count(), MAX_TEXT_CHARS + 1);
        assert_eq!(p.subagents[0].description, "subagent");
    }
}
