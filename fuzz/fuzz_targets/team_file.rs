//! Any text as a team file: a team whose names follow the one rule, or an error that points
//! into the file; never a panic.
#![no_main]

use std::path::Path;

use agentmux::config::{Layers, Team};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let dir = std::env::temp_dir();
    match Team::parse_str(text, Path::new("team.toml"), &dir, &Layers::default()) {
        Ok(team) => {
            for a in &team.agents {
                assert!(agentmux::agent::name::check(&a.spec.name).is_ok(), "{}", a.spec.name);
            }
            let _ = agentmux::config::trust::review(&team);
        }
        Err(e) => assert!(e.to_string().starts_with("team.toml:"), "{e}"),
    }
});
