//! The application core, Elm style: [`Msg`] in, [`update`] changes the [`State`] and returns
//! [`Effect`]s for the loop to carry out; views (`ui`) only read the state.

pub mod approvals;
pub mod command;
pub mod convo;
pub mod effect;
pub mod follow;
pub mod form;
pub mod governor;
pub mod keymap;
pub mod msg;
pub mod overview;
pub mod query;
pub mod question;
pub mod queue;
pub mod restore;
pub mod search;
pub mod state;
pub mod supervise;
pub mod switch;
pub mod update;
pub mod worktree;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use command::{Command, Context};
pub use effect::Effect;
pub use keymap::{KeySpec, Keymap, KeymapError};
pub use msg::{ControlCmd, ControlError, ControlOk, ControlReply, Msg, RequestId};
pub use state::{Agent, State, TurnState};
pub use update::{start_first_prompts, update};
