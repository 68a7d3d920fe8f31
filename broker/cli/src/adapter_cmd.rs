//! `tongdao adapter <domain>`: the five agency adapters, each its own process in production.

use std::{net::SocketAddr, path::Path, process::ExitCode};

use tongdao_adapter_sdk::ReadyAdapter;
use tongdao_config::Config;

use crate::{ConfigArg, EXIT_CONFIG, load_config, shutdown_signal, telemetry};

/// `tongdao adapter …`.
// Parsed once per process: the size of the conformance kit's arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AdapterCommand {
    /// The household registry (戶政) adapter over a fixed-width Big5 extract file.
    Household(ConfigArg),
    /// The land registry (地政) adapter over a SQL database (SQLite file or PostgreSQL).
    Land(ConfigArg),
    /// The tax registry (財稅) adapter over the Ministry of Finance's delimited files.
    Tax(ConfigArg),
    /// The health insurance (健保) adapter over My Health Bank JSON exports.
    Health(ConfigArg),
    /// The company registry (商工) adapter over the GCIS HTTP/JSON service.
    Commerce(ConfigArg),
    /// Runs the adapter contract's checks (adapters/CONTRACT.md) against a running adapter.
    Conformance(tongdao_conformance::Args),
}

/// The five adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdapterKind {
    /// 戶政
    Household,
    /// 地政
    Land,
    /// 財稅
    Tax,
    /// 健保
    Health,
    /// 商工
    Commerce,
}

impl AdapterKind {
    /// All five, in the order the demo starts them.
    pub const ALL: [AdapterKind; 5] = [
        AdapterKind::Household,
        AdapterKind::Land,
        AdapterKind::Tax,
        AdapterKind::Health,
        AdapterKind::Commerce,
    ];

    /// The name used in commands, config sections and certificates.
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::Household => "household",
            AdapterKind::Land => "land",
            AdapterKind::Tax => "tax",
            AdapterKind::Health => "health",
            AdapterKind::Commerce => "commerce",
        }
    }

    /// Where the `[adapters.<name>]` section of `config` says it listens.
    pub fn listen_addr(self, config: &Config) -> Option<SocketAddr> {
        let adapters = &config.adapters;
        match self {
            AdapterKind::Household => adapters.household.as_ref().map(|a| &a.server),
            AdapterKind::Land => adapters.land.as_ref().map(|a| &a.server),
            AdapterKind::Tax => adapters.tax.as_ref().map(|a| &a.server),
            AdapterKind::Health => adapters.health.as_ref().map(|a| &a.server),
            AdapterKind::Commerce => adapters.commerce.as_ref().map(|a| &a.server),
        }
        .map(|server| server.listen_addr)
    }
}

pub(crate) async fn run(command: AdapterCommand) -> ExitCode {
    let (kind, args) = match command {
        AdapterCommand::Household(args) => (AdapterKind::Household, args),
        AdapterCommand::Land(args) => (AdapterKind::Land, args),
        AdapterCommand::Tax(args) => (AdapterKind::Tax, args),
        AdapterCommand::Health(args) => (AdapterKind::Health, args),
        AdapterCommand::Commerce(args) => (AdapterKind::Commerce, args),
        AdapterCommand::Conformance(args) => return tongdao_conformance::main(args).await,
    };
    serve(kind, &args.config).await
}

async fn serve(kind: AdapterKind, path: &Path) -> ExitCode {
    let name = kind.name();
    let config = match load_config(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(addr) = kind.listen_addr(&config) else {
        eprintln!(
            "tongdao adapter {name}: {} has no [adapters.{name}] section",
            path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    if let Err(error) = telemetry::init(&config.telemetry) {
        eprintln!("tongdao adapter {name}: {error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("tongdao adapter {name}: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let adapter = match build(kind, &config).await {
        Ok(adapter) => adapter,
        Err(error) => {
            eprintln!("tongdao adapter {name}: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    tracing::info!(%addr, adapter = name, "adapter listening");
    adapter.serve(listener, shutdown_signal()).await;
    ExitCode::SUCCESS
}

/// Loads adapter `kind` from its `[adapters.<name>]` section: certificates, then its source.
pub async fn build(kind: AdapterKind, config: &Config) -> Result<ReadyAdapter, String> {
    let missing = || format!("no [adapters.{}] section", kind.name());
    let adapters = &config.adapters;
    let built = match kind {
        AdapterKind::Household => {
            tongdao_adapter_household::build(adapters.household.as_ref().ok_or_else(missing)?)
        }
        AdapterKind::Land => {
            tongdao_adapter_land::build(adapters.land.as_ref().ok_or_else(missing)?).await
        }
        AdapterKind::Tax => {
            tongdao_adapter_tax::build(adapters.tax.as_ref().ok_or_else(missing)?).await
        }
        AdapterKind::Health => {
            tongdao_adapter_health::build(adapters.health.as_ref().ok_or_else(missing)?).await
        }
        AdapterKind::Commerce => {
            tongdao_adapter_commerce::build(adapters.commerce.as_ref().ok_or_else(missing)?).await
        }
    };
    built.map_err(|e| e.to_string())
}
