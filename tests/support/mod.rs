//! Shared test support: `mod support;` in a `tests/*.rs` file that needs it.

pub mod cli;
pub mod fake_api;
pub mod term;
pub mod view;
