//! The demo personas' lines, as data. (Filled in by the persona work.)

use crate::sim::script::{Call, Script};

pub struct Worker {
    pub name: &'static str,
}

pub fn worker(_name: &str) -> Option<&'static Worker> {
    None
}

impl Worker {
    pub fn first_turn(&self) -> Script {
        Script { calls: vec![Call::text(self.name)] }
    }

    pub fn follow_up(&self, _prompt: &str, _earlier: Option<&str>) -> Script {
        Script { calls: vec![Call::text(self.name)] }
    }
}

pub fn supervisor(prompt: &str, _earlier: Option<&str>) -> Script {
    Script { calls: vec![Call::text(prompt)] }
}
