//! TODO
pub mod diff;
