//! The new-agent form: name, directory, model, first prompt, whether it gets a git worktree, and
//! a Claude Code session it continues (imported, as `agentmux import` does).

use std::path::Path;

use tui_textarea::TextArea;

use super::state::new_input;

pub const FIELDS: [&str; 6] =
    ["name", "directory", "model", "first prompt", "worktree", "import session"];
pub const NAME: usize = 0;
pub const DIR: usize = 1;
pub const MODEL: usize = 2;
pub const PROMPT: usize = 3;
/// A yes/no field: space, y or n set it (no text is typed there).
pub const WORKTREE: usize = 4;
/// A session id of the directory's (optional): the agent continues that conversation.
pub const SESSION: usize = 5;

#[derive(Clone, Debug)]
pub struct Form {
    /// One text area per field; the worktree field's text is unused (see `worktree`).
    pub fields: [TextArea<'static>; 6],
    pub active: usize,
    pub worktree: bool,
    pub error: Option<String>,
}

/// What a filled-in form asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAgent {
    pub name: String,
    pub dir: String,
    pub model: Option<String>,
    pub prompt: Option<String>,
    /// In a git worktree of its own (the first prompt waits until it is ready).
    pub worktree: bool,
    /// The Claude Code session it continues; its name may then be left empty.
    pub session: Option<String>,
}

impl Form {
    pub fn new(dir: &Path, model: Option<&str>) -> Form {
        let field = |text: &str| {
            let mut t = new_input();
            t.insert_str(text);
            t
        };
        let mut session = field("");
        session.set_placeholder_text("a session id (agentmux import lists them)");
        Form {
            fields: [
                field(""),
                field(&dir.display().to_string()),
                field(model.unwrap_or("")),
                field(""),
                field(""),
                session,
            ],
            active: NAME,
            worktree: false,
            error: None,
        }
    }

    pub fn text(&self, field: usize) -> String {
        self.fields.get(field).map(|f| f.lines().join("\n")).unwrap_or_default()
    }

    pub fn next(&mut self) {
        self.active = (self.active + 1) % FIELDS.len();
    }

    pub fn prev(&mut self) {
        self.active = (self.active + FIELDS.len() - 1) % FIELDS.len();
    }

    pub fn active_field(&mut self) -> &mut TextArea<'static> {
        &mut self.fields[self.active.min(FIELDS.len() - 1)]
    }

    /// The form's values, or what is wrong with them (which field to fix first).
    pub fn values(&self) -> Result<NewAgent, (usize, String)> {
        let name = self.text(NAME).trim().to_string();
        let session = Some(self.text(SESSION).trim().to_string()).filter(|s| !s.is_empty());
        // An import may leave the name to the session's id.
        if !(name.is_empty() && session.is_some()) {
            if let Err(why) = crate::agent::name::check(&name) {
                return Err((NAME, why.to_string()));
            }
        }
        let dir = self.text(DIR).trim().to_string();
        if dir.is_empty() {
            return Err((DIR, "a directory is needed".into()));
        }
        let model = Some(self.text(MODEL).trim().to_string()).filter(|m| !m.is_empty());
        let prompt = Some(self.text(PROMPT).trim().to_string()).filter(|p| !p.is_empty());
        Ok(NewAgent { name, dir, model, prompt, worktree: self.worktree, session })
    }
}
