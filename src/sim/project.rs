//! The demo's tiny project, `taskboard`: a Rust API and a React UI, with one bug (tasks without
//! a due date sort first) for the `tests` persona to find.

use std::path::Path;

pub const SERVER_MAIN: &str = r#"use axum::{extract::Query, routing::get, Json, Router};
use serde::Deserialize;
use taskboard_server::tasks::{self, Task};

#[derive(Deserialize)]
struct ListParams {
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn list(Query(_params): Query<ListParams>) -> Json<Vec<Task>> {
    Json(tasks::list_tasks(&tasks::sample()))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new().route("/api/tasks", get(list));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}
"#;

pub const SERVER_TASKS: &str = r#"use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Task {
    pub id: u32,
    pub title: String,
    pub done: bool,
    /// Days from today; `None` when the task has no due date.
    pub due: Option<u32>,
}

pub fn sort_by_due(tasks: &mut [Task]) {
    tasks.sort_by_key(|t| t.due);
}

pub fn list_tasks(store: &[Task]) -> Vec<Task> {
    let mut tasks = store.to_vec();
    sort_by_due(&mut tasks);
    tasks
}

pub fn sample() -> Vec<Task> {
    let task = |id, title: &str, due| Task { id, title: title.into(), done: false, due };
    vec![
        task(1, "Write the release notes", Some(3)),
        task(2, "Fix the login redirect", Some(1)),
        task(3, "Review the API draft", Some(7)),
        task(4, "Clean up old branches", None),
    ]
}
"#;

pub const SERVER_TESTS: &str = r#"use taskboard_server::tasks::{list_tasks, sample, Task};

#[test]
fn lists_all_tasks() {
    assert_eq!(list_tasks(&sample()).len(), 4);
}

#[test]
fn creates_a_task() {
    let t = Task { id: 9, title: "New".into(), done: false, due: None };
    assert_eq!(t.title, "New");
}

#[test]
fn marks_a_task_done() {
    let mut t = sample().remove(0);
    t.done = true;
    assert!(t.done);
}

#[test]
fn due_dates_sort_soonest_first() {
    let ids: Vec<u32> = list_tasks(&sample()).iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![2, 1, 3, 4]);
}
"#;

pub const WEB_API: &str = r#"export interface Task {
  id: number;
  title: string;
  done: boolean;
  due: number | null;
}

export async function fetchTasks(): Promise<Task[]> {
  const res = await fetch("/api/tasks");
  if (!res.ok) throw new Error(`GET /api/tasks: ${res.status}`);
  return res.json();
}
"#;

pub const WEB_TASK_LIST: &str = r#"import { useEffect, useState } from "react";
import { fetchTasks, Task } from "./api";

export function TaskList() {
  const [tasks, setTasks] = useState<Task[]>([]);

  useEffect(() => {
    fetchTasks().then(setTasks);
  }, []);

  return (
    <ul className="task-list">
      {tasks.map((t) => (
        <li key={t.id} className={t.done ? "done" : ""}>
          {t.title}
        </li>
      ))}
    </ul>
  );
}
"#;

/// The tiny project the personas read, edit (in words only) and test.
pub const PROJECT: &[(&str, &str)] = &[
    (
        "README.md",
        "# taskboard\n\nA small task tracker: a Rust API (`server/`) and a React UI (`web/`).\n\n\
         ```sh\ncd server && cargo test\ncd web && npm run typecheck\n```\n",
    ),
    (
        "server/Cargo.toml",
        "[package]\nname = \"taskboard-server\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\naxum = \"0.7\"\nserde = { version = \"1\", features = [\"derive\"] }\n\
         tokio = { version = \"1\", features = [\"full\"] }\n",
    ),
    ("server/src/lib.rs", "pub mod tasks;\n"),
    ("server/src/main.rs", SERVER_MAIN),
    ("server/src/tasks.rs", SERVER_TASKS),
    ("server/tests/api.rs", SERVER_TESTS),
    (
        "web/package.json",
        "{\n  \"name\": \"web\",\n  \"version\": \"0.1.0\",\n  \"private\": true,\n  \"scripts\": {\n    \
         \"dev\": \"vite\",\n    \"typecheck\": \"tsc --noEmit\"\n  },\n  \"dependencies\": {\n    \
         \"react\": \"^18.3.1\",\n    \"react-dom\": \"^18.3.1\"\n  }\n}\n",
    ),
    ("web/src/api.ts", WEB_API),
    ("web/src/TaskList.tsx", WEB_TASK_LIST),
];

/// Writes the demo project into `workdir` (overwriting earlier copies of the same files).
pub fn write_project(workdir: &Path) -> std::io::Result<()> {
    for (path, content) in PROJECT {
        let full = workdir.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(full, content)?;
    }
    Ok(())
}
