//! The adapter conformance kit (being written): runs the checks of `adapters/CONTRACT.md`
//! against a running adapter, whatever language it is written in.

use std::process::ExitCode;

/// `tongdao adapter conformance …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The adapter's address, host:port.
    #[arg(long)]
    pub target: String,
}

/// Runs the checks and prints the report; fails when any check fails.
pub async fn main(args: Args) -> ExitCode {
    eprintln!("conformance kit not built yet (target {})", args.target);
    ExitCode::FAILURE
}
