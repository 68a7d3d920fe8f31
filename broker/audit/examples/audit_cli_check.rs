//! Temporary: compiles the CLI module until it is wired into `tongdao`.
#[path = "../../cli/src/audit_cmd.rs"]
mod audit_cmd;

use clap::Parser as _;

#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Audit(audit_cmd::AuditArgs),
}

fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Audit(args) => audit_cmd::run(args),
    }
}
