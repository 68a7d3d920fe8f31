//! `tongdao adapter <domain>`.

use std::{path::Path, process::ExitCode, sync::Arc};

use tongdao_adapter_sdk::AdapterServer;
use tongdao_schemas::household::v1::household_registry_server::HouseholdRegistryServer;

use crate::{ConfigArg, EXIT_CONFIG, load_config, shutdown_signal, telemetry};

/// `tongdao adapter …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum AdapterCommand {
    /// The household registry (戶政) adapter over a fixed-width Big5 extract file.
    Household(ConfigArg),
}

pub(crate) async fn run(command: AdapterCommand) -> ExitCode {
    match command {
        AdapterCommand::Household(args) => household(&args.config).await,
    }
}

async fn household(path: &Path) -> ExitCode {
    let config = match load_config(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(household) = &config.adapters.household else {
        eprintln!(
            "tongdao adapter household: {} has no [adapters.household] section",
            path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    if let Err(error) = telemetry::init(&config.telemetry) {
        eprintln!("tongdao adapter household: {error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let listener = match tokio::net::TcpListener::bind(household.server.listen_addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "tongdao adapter household: cannot listen on {}: {error}",
                household.server.listen_addr
            );
            return ExitCode::FAILURE;
        }
    };
    let server = match household_server(household) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("tongdao adapter household: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    tracing::info!(addr = %household.server.listen_addr, "household adapter listening");
    match server.serve(listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tongdao adapter household: {error}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// The household adapter, loaded and ready to serve.
pub struct HouseholdAdapter {
    server: AdapterServer,
    service: HouseholdRegistryServer<tongdao_adapter_household::HouseholdService>,
}

impl std::fmt::Debug for HouseholdAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HouseholdAdapter")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl HouseholdAdapter {
    /// Handshakes accepted and refused, by reason.
    pub fn handshake_counts(&self) -> Arc<tongdao_tls::HandshakeCounts> {
        self.server.handshake_counts()
    }

    /// Serves until `shutdown`.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), String> {
        self.server.serve(listener, self.service, shutdown).await;
        Ok(())
    }
}

/// Loads the household adapter's certificates and extract.
pub fn household_server(
    config: &tongdao_config::HouseholdAdapterConfig,
) -> Result<HouseholdAdapter, String> {
    let server = AdapterServer::new("household", &config.server).map_err(|e| e.to_string())?;
    let registry = tongdao_adapter_household::load(&config.extract).map_err(|e| e.to_string())?;
    let service = tongdao_adapter_household::HouseholdService::new(Arc::new(registry));
    Ok(HouseholdAdapter {
        server,
        service: HouseholdRegistryServer::new(service),
    })
}
