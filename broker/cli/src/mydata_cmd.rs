//! `tongdao my-data`: a citizen's own view of the bus, acting with their citizen certificate.

use std::{path::PathBuf, process::ExitCode};

/// Subcommands of `tongdao my-data`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MyDataCommand {
    /// List every exchange about you, verifying each entry's inclusion proof.
    Log(LogArgs),
}

/// Connection flags shared by the `my-data` subcommands (as for `tongdao call`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CitizenConnection {
    /// Server address, host:port.
    #[arg(long, env = "TONGDAO_ADDR", default_value = "127.0.0.1:8443")]
    pub(crate) addr: String,
    /// Name to verify the server certificate against (default: the host of --addr).
    #[arg(long)]
    pub(crate) server_name: Option<String>,
    /// Citizen certificate chain (PEM).
    #[arg(long, env = "TONGDAO_CERT")]
    pub(crate) cert: PathBuf,
    /// Citizen private key (PEM).
    #[arg(long, env = "TONGDAO_KEY")]
    pub(crate) key: PathBuf,
    /// Trust anchor for the server certificate (PEM), e.g. the GRCA root.
    #[arg(long, env = "TONGDAO_CA")]
    pub(crate) ca: PathBuf,
    /// Your full national ID (the certificate carries only its last 4 characters).
    #[arg(long)]
    pub(crate) national_id: String,
}

/// Arguments of `tongdao my-data log`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    #[command(flatten)]
    pub(crate) connection: CitizenConnection,
    /// The broker's published checkpoint key (signed-note verifier key file); when given, the
    /// checkpoint's signature is verified too.
    #[arg(long)]
    pub(crate) log_key: Option<PathBuf>,
}

/// Runs a `tongdao my-data` subcommand.
pub(crate) async fn run(command: MyDataCommand) -> ExitCode {
    match command {
        MyDataCommand::Log(args) => log(args).await,
    }
}

async fn log(_args: LogArgs) -> ExitCode {
    eprintln!("tongdao my-data log: not implemented yet");
    ExitCode::FAILURE
}
