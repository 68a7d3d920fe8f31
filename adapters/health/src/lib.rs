//! The health insurance (健保) adapter: loads a directory of My Health Bank (健康存摺) JSON
//! exports (`FORMAT.md`), maps their records with the declarative mapping (`mapping.toml`)
//! and serves `tongdao.health.v1.HealthInsurance` (visits and lab results by date range).

pub mod export;
pub mod seed;
pub mod service;

use std::sync::Arc;

use tongdao_adapter_sdk::{AdapterServer, ReadyAdapter, StartError};
use tongdao_schemas::health::v1::health_insurance_server::HealthInsuranceServer;

pub use export::{
    Entry, Exports, HealthMapping, LoadError, LoadSummary, Lookup, Person, Problem, ProblemKind,
};
pub use service::{DateRange, HealthService, LookupError};

/// The adapter's name in metrics, logs and errors.
pub const ADAPTER: &str = "health";

/// Loads the mapping (the configured file or the shipped one) and the exports in
/// `config.directory`. Malformed exports are not an error: they are quarantined, counted and
/// logged.
pub fn load(config: &tongdao_config::HealthAdapterConfig) -> Result<Exports, StartError> {
    let mapping = match &config.mapping {
        Some(path) => HealthMapping::load(path),
        None => HealthMapping::shipped(),
    }
    .map_err(|problems| StartError {
        name: ADAPTER,
        problems,
    })?;
    Exports::load(&config.directory, &mapping).map_err(|e| StartError {
        name: ADAPTER,
        problems: vec![e.to_string()],
    })
}

/// Loads the adapter's certificates and exports.
pub async fn build(
    config: &tongdao_config::HealthAdapterConfig,
) -> Result<ReadyAdapter, StartError> {
    let server = AdapterServer::new(ADAPTER, &config.server)?;
    let owned = config.clone();
    let exports = tokio::task::spawn_blocking(move || load(&owned))
        .await
        .map_err(|e| StartError {
            name: ADAPTER,
            problems: vec![format!("loading the exports failed: {e}")],
        })??;
    let service = HealthService::new(Arc::new(exports));
    Ok(server.ready(HealthInsuranceServer::new(service)))
}
