//! `agentmux demo`: a supervisor and three simulated agents on a tiny project.

use std::path::Path;

use crate::config::Team;

pub fn demo_team(agentmux_exe: &Path, workdir: &Path) -> Team {
    let _ = (agentmux_exe, workdir);
    Team::default()
}
