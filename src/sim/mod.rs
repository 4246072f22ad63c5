//! The simulated claude: `agentmux __sim-claude <claude's flags>`.

use std::ffi::OsString;
use std::process::ExitCode;

pub fn main(args: Vec<OsString>) -> ExitCode {
    let _ = args;
    todo!("sim")
}
