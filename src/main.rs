fn main() -> std::process::ExitCode {
    agentmux::cli::main()
}
