//! The worker personas (`backend`, `frontend`, `tests`) as data: each one's first turn and its
//! keyword-chosen follow-ups. Answer templates may use `{asked}` (the prompt's first line) and
//! `{earlier}` (the previous prompt's first line).

use crate::sim::persona::gist;
use crate::sim::script::{Action, Call, Script};

// ---------------------------------------------------------------------------------------------
// Scripted tool calls.

/// A tool call as data; paths are relative to the agent's directory.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    Read(&'static str),
    Edit {
        path: &'static str,
        old: &'static str,
        new: &'static str,
    },
    Bash {
        command: &'static str,
        description: &'static str,
        output: &'static str,
        code: i32,
    },
    /// A Bash command that needs the user's permission: the demo's approval.
    Asking {
        command: &'static str,
        description: &'static str,
        output: &'static str,
        code: i32,
    },
}

impl Tool {
    fn action(self) -> Action {
        match self {
            Tool::Read(path) => Action::Read { path: path.into() },
            Tool::Edit { path, old, new } => {
                Action::Edit { path: path.into(), old: old.into(), new: new.into() }
            }
            Tool::Bash { command, description, output, code } => Action::Bash {
                command: command.into(),
                description: description.into(),
                output: output.into(),
                exit_code: code,
                asks: false,
            },
            Tool::Asking { command, description, output, code } => Action::Bash {
                command: command.into(),
                description: description.into(),
                output: output.into(),
                exit_code: code,
                asks: true,
            },
        }
    }
}

/// Something said, then a tool called (one API call).
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub say: &'static str,
    pub tool: Tool,
}

/// A whole answer: steps, then the final Markdown. `keywords` choose a follow-up reply.
#[derive(Clone, Copy, Debug)]
pub struct Reply {
    pub keywords: &'static [&'static str],
    pub steps: &'static [Step],
    pub answer: &'static str,
}

fn fill(template: &str, asked: &str, earlier: &str) -> String {
    template.replace("{asked}", asked).replace("{earlier}", earlier)
}

impl Reply {
    fn script(&self, asked: &str, earlier: &str) -> Script {
        let mut calls: Vec<Call> =
            self.steps.iter().map(|s| Call::with(s.say, vec![s.tool.action()])).collect();
        calls.push(Call::text(fill(self.answer, asked, earlier)));
        Script { calls }
    }
}

pub struct Worker {
    pub name: &'static str,
    pub role: &'static str,
    pub first_prompt: &'static str,
    pub first: Reply,
    /// Follow-ups: the first reply whose keyword the prompt contains; the last is the default.
    pub replies: &'static [Reply],
}

pub fn worker(name: &str) -> Option<&'static Worker> {
    WORKERS.iter().find(|w| w.name == name)
}

impl Worker {
    pub fn first_turn(&self) -> Script {
        self.first.script(&gist(self.first_prompt, 80), "")
    }

    pub fn follow_up(&self, prompt: &str, earlier: Option<&str>) -> Script {
        let lower = prompt.to_lowercase();
        let reply = self
            .replies
            .iter()
            .find(|r| r.keywords.iter().any(|k| lower.contains(k)))
            .or(self.replies.last());
        let asked = gist(prompt, 80);
        let earlier = gist(earlier.unwrap_or(self.first_prompt), 80);
        match reply {
            Some(r) => r.script(&asked, &earlier),
            None => Script { calls: vec![Call::text(asked)] },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared outputs.

const CARGO_TEST_FAILING: &str = r#"   Compiling taskboard-server v0.1.0 (/work/taskboard/server)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 2.31s
     Running tests/api.rs (target/debug/deps/api-3f9c2e1a0b7d4e55)

running 4 tests
test creates_a_task ... ok
test lists_all_tasks ... ok
test marks_a_task_done ... ok
test due_dates_sort_soonest_first ... FAILED

failures:

---- due_dates_sort_soonest_first stdout ----

thread 'due_dates_sort_soonest_first' panicked at tests/api.rs:24:5:
assertion `left == right` failed
  left: [4, 2, 1, 3]
 right: [2, 1, 3, 4]
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    due_dates_sort_soonest_first

test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--test api`"#;

const CARGO_TEST_PASSING: &str = r#"   Compiling taskboard-server v0.1.0 (/work/taskboard/server)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.87s
     Running tests/api.rs (target/debug/deps/api-3f9c2e1a0b7d4e55)

running 4 tests
test creates_a_task ... ok
test lists_all_tasks ... ok
test marks_a_task_done ... ok
test due_dates_sort_soonest_first ... ok

test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"#;

const CARGO_TEST_PAGINATION: &str = r#"    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.42s
     Running tests/api.rs (target/debug/deps/api-3f9c2e1a0b7d4e55)

running 6 tests
test creates_a_task ... ok
test lists_all_tasks ... ok
test marks_a_task_done ... ok
test due_dates_sort_soonest_first ... ok
test offset_past_the_end_is_empty ... ok
test limit_zero_returns_nothing ... ok

test result: ok. 6 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"#;

const CARGO_BUILD_OK: &str = "   Compiling taskboard-server v0.1.0 (/work/taskboard/server)\n    Finished `dev` profile [unoptimized + debuginfo] target(s) in 3.12s";

const TYPECHECK_OK: &str = "\n> web@0.1.0 typecheck\n> tsc --noEmit\n";

const CARGO_TEST: Tool = Tool::Bash {
    command: "cd server && cargo test",
    description: "Run the server tests",
    output: CARGO_TEST_PASSING,
    code: 0,
};

const READ_TASKS: Tool = Tool::Read("server/src/tasks.rs");
const READ_TESTS: Tool = Tool::Read("server/tests/api.rs");
const READ_LIST: Tool = Tool::Read("web/src/TaskList.tsx");

// ---------------------------------------------------------------------------------------------
// The workers.

pub const WORKERS: &[Worker] = &[
    Worker {
        name: "backend",
        role: "Rust API (server/)",
        first_prompt: "Add pagination to GET /api/tasks: `limit` and `offset` query parameters, \
                       default limit 20, at most 100.",
        first: Reply {
            keywords: &[],
            steps: &[
                Step {
                    say: "I'll start by reading the tasks module to see how listing works today.",
                    tool: READ_TASKS,
                },
                Step {
                    say: "`list_tasks` returns every task at once. I'll add a `Page` with \
                          `offset` and `limit` and apply it after sorting.",
                    tool: Tool::Edit {
                        path: "server/src/tasks.rs",
                        old: "pub fn list_tasks(store: &[Task]) -> Vec<Task> {\n    let mut tasks = store.to_vec();\n    sort_by_due(&mut tasks);\n    tasks\n}",
                        new: "#[derive(Clone, Copy, Debug)]\npub struct Page {\n    pub offset: usize,\n    pub limit: usize,\n}\n\nimpl Default for Page {\n    fn default() -> Self {\n        Page { offset: 0, limit: 20 }\n    }\n}\n\npub fn list_tasks(store: &[Task], page: Page) -> Vec<Task> {\n    let mut tasks = store.to_vec();\n    sort_by_due(&mut tasks);\n    tasks.into_iter().skip(page.offset).take(page.limit.min(100)).collect()\n}",
                    },
                },
                Step {
                    say: "Now the handler passes the query parameters through.",
                    tool: Tool::Edit {
                        path: "server/src/main.rs",
                        old: "async fn list(Query(_params): Query<ListParams>) -> Json<Vec<Task>> {\n    Json(tasks::list_tasks(&tasks::sample()))\n}",
                        new: "async fn list(Query(params): Query<ListParams>) -> Json<Vec<Task>> {\n    let page = tasks::Page {\n        offset: params.offset.unwrap_or(0),\n        limit: params.limit.unwrap_or(20),\n    };\n    Json(tasks::list_tasks(&tasks::sample(), page))\n}",
                    },
                },
                Step {
                    say: "Let me make sure it builds.",
                    tool: Tool::Bash {
                        command: "cd server && cargo build",
                        description: "Build the server",
                        output: CARGO_BUILD_OK,
                        code: 0,
                    },
                },
            ],
            answer: "## Pagination for `GET /api/tasks`\n\n\
                     Listing now takes a page, applied **after** sorting so pages are stable.\n\n\
                     ### Changes\n\n\
                     - `server/src/tasks.rs`: new `Page { offset, limit }` (default limit 20, capped at 100)\n\
                     - `server/src/main.rs`: the handler reads `limit` and `offset` from the query\n\n\
                     | parameter | default | limit |\n|---|---|---|\n| `limit` | 20 | 100 |\n| `offset` | 0 | none |\n\n\
                     ```sh\ncurl 'http://127.0.0.1:3000/api/tasks?limit=2&offset=2'\n```\n\n\
                     It builds; the `tests` agent runs the suite. The UI still asks for the first page only; \
                     `frontend` can add Prev/Next buttons.",
        },
        replies: &[
            Reply {
                keywords: &["fail", "fix", "sort", "due"],
                steps: &[
                    Step {
                        say: "The failing test expects tasks without a due date last. \
                              `Option` sorts `None` first, so I'll sort on `(is_none, due)`.",
                        tool: Tool::Edit {
                            path: "server/src/tasks.rs",
                            old: "    tasks.sort_by_key(|t| t.due);",
                            new: "    // Tasks without a due date go last.\n    tasks.sort_by_key(|t| (t.due.is_none(), t.due));",
                        },
                    },
                    Step { say: "Running the tests again.", tool: CARGO_TEST },
                ],
                answer: "## Fixed: tasks without a due date sort last\n\n\
                         You asked: *{asked}*\n\n\
                         `Option<u32>` orders `None` before every `Some`, which put \
                         \"Clean up old branches\" first. The key is now a tuple:\n\n\
                         ```rust\ntasks.sort_by_key(|t| (t.due.is_none(), t.due));\n```\n\n\
                         - `due_dates_sort_soonest_first` passes\n\
                         - all 4 server tests pass",
            },
            Reply {
                keywords: &["total", "count", "page", "pagination"],
                steps: &[Step { say: "Let me look at the current listing code.", tool: READ_TASKS }],
                answer: "## Adding a total count\n\n\
                         You asked: *{asked}*\n\n\
                         I'd wrap the list in an envelope so the UI can show page numbers:\n\n\
                         ```rust\n#[derive(Serialize)]\npub struct TaskPage {\n    pub tasks: Vec<Task>,\n    pub total: usize,\n}\n```\n\n\
                         1. `list_tasks` returns `TaskPage` with `total = store.len()`\n\
                         2. the handler serializes it as is\n\
                         3. `web/src/api.ts` reads `tasks` and `total`\n\n\
                         This changes the response shape, so `frontend` needs to follow.",
            },
            Reply {
                keywords: &[],
                steps: &[Step { say: "Let me check the code first.", tool: READ_TASKS }],
                answer: "## Backend: follow-up\n\n\
                         Earlier you asked: *{earlier}*\n\n\
                         Now: *{asked}*\n\n\
                         - `server/src/tasks.rs` is the place for it; listing, sorting and paging live there\n\
                         - I'd keep the handler in `main.rs` thin\n\n\
                         Say the word and I'll make the change and run `cargo test`.",
            },
        ],
    },
    Worker {
        name: "frontend",
        role: "React UI (web/)",
        first_prompt: "The task list shows nothing while it loads and nothing when it is empty. \
                       Add a loading state and an empty state.",
        first: Reply {
            keywords: &[],
            steps: &[
                Step { say: "Let me read the task list component.", tool: READ_LIST },
                Step {
                    say: "I'll track loading separately from the data.",
                    tool: Tool::Edit {
                        path: "web/src/TaskList.tsx",
                        old: "  const [tasks, setTasks] = useState<Task[]>([]);\n\n  useEffect(() => {\n    fetchTasks().then(setTasks);\n  }, []);",
                        new: "  const [tasks, setTasks] = useState<Task[]>([]);\n  const [loading, setLoading] = useState(true);\n\n  useEffect(() => {\n    fetchTasks()\n      .then(setTasks)\n      .finally(() => setLoading(false));\n  }, []);\n\n  if (loading) return <p className=\"muted\">Loading tasks…</p>;\n  if (tasks.length === 0) return <p className=\"empty\">No tasks yet. Add one above.</p>;",
                    },
                },
                Step {
                    say: "Type-checking the UI.",
                    tool: Tool::Bash {
                        command: "cd web && npm run typecheck",
                        description: "Type-check the web app",
                        output: TYPECHECK_OK,
                        code: 0,
                    },
                },
            ],
            answer: "## Loading and empty states\n\n\
                     `TaskList` now has three states instead of one:\n\n\
                     | state | shows |\n|---|---|\n| loading | *Loading tasks…* |\n| empty | *No tasks yet. Add one above.* |\n| loaded | the list |\n\n\
                     ```tsx\nif (loading) return <p className=\"muted\">Loading tasks…</p>;\nif (tasks.length === 0) return <p className=\"empty\">No tasks yet.</p>;\n```\n\n\
                     - `finally` clears the loading flag on errors too\n\
                     - `npm run typecheck` is clean",
        },
        replies: &[
            Reply {
                keywords: &["page", "pagination", "button", "next", "prev"],
                steps: &[
                    Step { say: "Let me see how the API client fetches tasks.", tool: Tool::Read("web/src/api.ts") },
                    Step {
                        say: "`fetchTasks` takes no parameters yet; I'll add `limit` and `offset`.",
                        tool: Tool::Edit {
                            path: "web/src/api.ts",
                            old: "export async function fetchTasks(): Promise<Task[]> {\n  const res = await fetch(\"/api/tasks\");",
                            new: "export async function fetchTasks(limit = 20, offset = 0): Promise<Task[]> {\n  const res = await fetch(`/api/tasks?limit=${limit}&offset=${offset}`);",
                        },
                    },
                    Step {
                        say: "Type-checking.",
                        tool: Tool::Bash {
                            command: "cd web && npm run typecheck",
                            description: "Type-check the web app",
                            output: TYPECHECK_OK,
                            code: 0,
                        },
                    },
                ],
                answer: "## Prev / Next paging\n\n\
                         You asked: *{asked}*\n\n\
                         ```tsx\nconst [offset, setOffset] = useState(0);\n<button disabled={offset === 0} onClick={() => setOffset(offset - 20)}>Prev</button>\n<button disabled={tasks.length < 20} onClick={() => setOffset(offset + 20)}>Next</button>\n```\n\n\
                         - `fetchTasks(limit, offset)` passes the page to the API\n\
                         - *Next* is disabled on a short page, so no total count is needed yet",
            },
            Reply {
                keywords: &[],
                steps: &[Step { say: "Let me re-read the component.", tool: READ_LIST }],
                answer: "## Frontend: follow-up\n\n\
                         Earlier you asked: *{earlier}*\n\n\
                         Now: *{asked}*\n\n\
                         1. It fits in `web/src/TaskList.tsx` without new dependencies\n\
                         2. I'd keep fetching in `api.ts`\n\
                         3. `npm run typecheck` after the change",
            },
        ],
    },
    Worker {
        name: "tests",
        role: "test suite and CI",
        first_prompt: "Run the server test suite and triage any failures.",
        first: Reply {
            keywords: &[],
            steps: &[
                // The demo's approval: the first thing a new user is asked.
                Step {
                    say: "Running the whole server suite first.",
                    tool: Tool::Asking {
                        command: "cd server && cargo test",
                        description: "Run the server tests",
                        output: CARGO_TEST_FAILING,
                        code: 101,
                    },
                },
                Step { say: "One failure. Let me read the test.", tool: READ_TESTS },
                Step { say: "And the sorting code it exercises.", tool: READ_TASKS },
            ],
            answer: "## Test run: 1 FAILED\n\n\
                     | test | result |\n|---|---|\n| `lists_all_tasks` | ok |\n| `creates_a_task` | ok |\n| `marks_a_task_done` | ok |\n| `due_dates_sort_soonest_first` | **FAILED** |\n\n\
                     ### Cause\n\n\
                     `sort_by_due` sorts on `Option<u32>`, and `None` sorts **before** any `Some`, \
                     so the task without a due date (id 4) comes first:\n\n\
                     ```text\n  left: [4, 2, 1, 3]\n right: [2, 1, 3, 4]\n```\n\n\
                     ### Suggested fix (for `backend`)\n\n\
                     ```rust\ntasks.sort_by_key(|t| (t.due.is_none(), t.due));\n```\n\n\
                     - the other 3 tests pass\n\
                     - I'll re-run the suite once the fix is in",
        },
        replies: &[
            Reply {
                keywords: &["pagination", "edge", "page", "add test"],
                steps: &[
                    Step { say: "Let me see the existing tests.", tool: READ_TESTS },
                    Step {
                        say: "Adding two edge cases for paging.",
                        tool: Tool::Edit {
                            path: "server/tests/api.rs",
                            old: "#[test]\nfn due_dates_sort_soonest_first() {",
                            new: "#[test]\nfn offset_past_the_end_is_empty() {\n    let page = Page { offset: 10, limit: 20 };\n    assert!(list_tasks(&sample(), page).is_empty());\n}\n\n#[test]\nfn limit_zero_returns_nothing() {\n    let page = Page { offset: 0, limit: 0 };\n    assert!(list_tasks(&sample(), page).is_empty());\n}\n\n#[test]\nfn due_dates_sort_soonest_first() {",
                        },
                    },
                    Step {
                        say: "Running the suite.",
                        tool: Tool::Bash {
                            command: "cd server && cargo test",
                            description: "Run the server tests",
                            output: CARGO_TEST_PAGINATION,
                            code: 0,
                        },
                    },
                ],
                answer: "## Paging edge cases covered\n\n\
                         You asked: *{asked}*\n\n\
                         | test | checks |\n|---|---|\n| `offset_past_the_end_is_empty` | offset 10 of 4 tasks |\n| `limit_zero_returns_nothing` | limit 0 |\n\n\
                         All 6 tests pass.",
            },
            Reply {
                keywords: &[],
                steps: &[Step { say: "Re-running the suite.", tool: CARGO_TEST }],
                answer: "## Tests: all green\n\n\
                         Earlier you asked: *{earlier}*\n\n\
                         Now: *{asked}*\n\n\
                         - 4 passed, 0 failed\n\
                         - `due_dates_sort_soonest_first` passes now",
            },
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::project::{SERVER_MAIN, SERVER_TASKS, SERVER_TESTS, WEB_API, WEB_TASK_LIST};

    #[test]
    fn every_scripted_edit_matches_the_project_files() {
        let files: &[(&str, &str)] = &[
            ("server/src/tasks.rs", SERVER_TASKS),
            ("server/src/main.rs", SERVER_MAIN),
            ("server/tests/api.rs", SERVER_TESTS),
            ("web/src/TaskList.tsx", WEB_TASK_LIST),
            ("web/src/api.ts", WEB_API),
        ];
        let replies = WORKERS.iter().flat_map(|w| std::iter::once(&w.first).chain(w.replies));
        for step in replies.flat_map(|r| r.steps) {
            match step.tool {
                Tool::Edit { path, old, .. } => {
                    let (_, text) = files.iter().find(|(p, _)| *p == path).expect("known file");
                    assert!(text.contains(old), "{path}: {old}");
                }
                Tool::Read(path) => assert!(files.iter().any(|(p, _)| *p == path), "{path}"),
                Tool::Bash { .. } | Tool::Asking { .. } => {}
            }
        }
    }

    /// The demo's approval: the asking worker's first turn, and only its, starts with a
    /// command that needs the user's permission.
    #[test]
    fn only_the_demos_asking_worker_asks_and_first() {
        for w in WORKERS {
            let script = w.first_turn();
            let asks = |a: &Action| matches!(a, Action::Bash { asks: true, .. });
            let first = script.calls[0].tools.iter().any(asks);
            let any = script.calls.iter().flat_map(|c| &c.tools).any(asks);
            let asking = w.name == crate::sim::DEMO_ASKING_AGENT;
            assert_eq!((first, any), (asking, asking), "{}", w.name);
        }
    }

    #[test]
    fn follow_ups_pick_a_reply_by_keyword_and_quote_the_prompt() {
        let backend = worker("backend").unwrap();
        let s = backend.follow_up("Please fix the failing sort", Some("Add pagination"));
        assert!(matches!(s.calls[0].tools[0], Action::Edit { .. }));
        let last = &s.calls.last().unwrap().text;
        assert!(last.contains("Please fix the failing sort"));
        let s = backend.follow_up("What about caching?", Some("Add pagination"));
        let last = &s.calls.last().unwrap().text;
        assert!(last.contains("Earlier you asked: *Add pagination*"), "{last}");
    }
}
