//! Workspaces that persist: specs, session ids, queued follow-ups, transcripts as JSONL logs.

/// An open, locked workspace (placeholder until the store lands).
#[derive(Debug)]
pub struct Workspace {}
