//! The `tongdao` command line: broker, adapters and tools as subcommands of one binary.

pub mod adapter_cmd;
mod audit_cmd;
mod bench;
mod broker_cmd;
mod call;
mod check_config;
pub mod client;
pub mod consent_cmd;
mod demo;
pub mod download;
pub mod mydata_cmd;
mod pki_cmd;
mod policy_cmd;
mod recipe_bench;
pub mod recipes;
pub mod sandbox;
pub mod seed_cmd;
mod telemetry;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// Exit status for a configuration or usage problem (sysexits EX_USAGE).
pub const EXIT_CONFIG: u8 = 64;
/// Exit status when a call returned an error status.
pub const EXIT_CALL_FAILED: u8 = 1;

/// Tongdao (通道): an interoperability bus for government agencies.
#[derive(Debug, Parser)]
#[command(name = "tongdao", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker.
    Broker(broker_cmd::BrokerArgs),
    /// Run an agency adapter.
    #[command(subcommand)]
    Adapter(adapter_cmd::AdapterCommand),
    /// Check a configuration file and every file it names; report every problem at once.
    CheckConfig(ConfigArg),
    /// Development PKI in the shape of Taiwan's GPKI.
    Pki(pki_cmd::PkiArgs),
    /// NDC's policy tools: lint, test, explain, diff.
    Policy(policy_cmd::PolicyArgs),
    /// Security-team tools for the audit log: verify, search, proof, checkpoint, keygen.
    Audit(audit_cmd::AuditArgs),
    /// A citizen's own data: who used it (with proofs), and more.
    #[command(subcommand)]
    MyData(mydata_cmd::MyDataCommand),
    /// A citizen's consents: grant, revoke, list (citizen certificate); verify offline.
    #[command(subcommand)]
    Consent(consent_cmd::ConsentCommand),
    /// Call a method through the broker (or any Tongdao server), like grpcurl.
    Call(call::CallArgs),
    /// A narrated demonstration on loopback with a throw-away PKI and data.
    Demo(demo::DemoArgs),
    /// Load-test the direct client→adapter path and the client→broker→adapter path.
    Bench(bench::BenchArgs),
    /// Write the five agencies' legacy sources for a synthetic population.
    Seed(seed_cmd::SeedArgs),
    /// Serve the GCIS company-data API from a seeded dataset (stand-in for the registry's
    /// service, for the demo and tests).
    GcisStandin(seed_cmd::StandinArgs),
}

/// The configuration file argument shared by server subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Configuration file (TOML); `TONGDAO__SECTION__KEY` environment variables override it.
    #[arg(long, short, env = "TONGDAO_CONFIG", default_value = "tongdao.toml")]
    pub config: PathBuf,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    tongdao_tls::install_crypto_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tongdao: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Broker(args) => broker_cmd::run(args).await,
            Command::Adapter(command) => adapter_cmd::run(command).await,
            Command::CheckConfig(args) => check_config::run(&args).await,
            Command::Pki(args) => match pki_cmd::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("tongdao pki: {error}");
                    ExitCode::FAILURE
                }
            },
            Command::Policy(args) => policy_cmd::run(args),
            Command::Audit(args) => audit_cmd::run(args),
            Command::MyData(command) => mydata_cmd::run(command).await,
            Command::Consent(command) => consent_cmd::run(command).await,
            Command::Call(args) => call::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Seed(args) => seed_cmd::run(args).await,
            Command::GcisStandin(args) => seed_cmd::standin(args).await,
        }
    })
}

/// Loads the configuration or prints every problem and returns the exit status to use.
pub(crate) fn load_config(path: &std::path::Path) -> Result<tongdao_config::Config, ExitCode> {
    tongdao_config::Config::load(path, std::env::vars()).map_err(|errors| {
        eprint!("tongdao: bad configuration: {errors}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; draining");
}
