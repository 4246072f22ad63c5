//! The command line. `main.rs` only calls [`main`].

use std::process::ExitCode;

pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The simulated claude takes claude's flags, not ours: dispatch before any parsing.
    if args.get(1).is_some_and(|a| a == crate::SIM_SUBCOMMAND) {
        return crate::sim::main(args[2..].to_vec());
    }
    eprintln!("agentmux: not built yet");
    ExitCode::FAILURE
}
