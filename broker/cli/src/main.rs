//! The `tongdao` binary: every subcommand lives in the `tongdao_cli` library.

fn main() -> std::process::ExitCode {
    tongdao_cli::main()
}
