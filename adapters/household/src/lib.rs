//! Household registration (戶政) adapter: loads the registry's legacy fixed-width Big5 extract
//! (`FORMAT.md`) and serves household transcripts (戶籍謄本) over gRPC.

pub mod extract;
pub mod service;
pub mod transcript;

use std::path::Path;

pub use extract::{
    Event, EventKind, ExtractError, Household, HouseholdType, IndigenousStatus, LoadSummary,
    Member, MilitaryService, RECORD_LEN, Registry, Removal, RocDate, Sex,
};
pub use service::{HouseholdService, LookupError};
pub use transcript::transcript;

/// Why an extract could not be loaded at all. Malformed content is not an error here: it is
/// reported in the [`LoadSummary`] and quarantined.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("reading the household extract failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads and parses the extract at `path`. Malformed lines are counted in
/// `tongdao_adapter_source_malformed_total{adapter="household"}` and logged by line and field.
pub fn load(path: impl AsRef<Path>) -> Result<Registry, LoadError> {
    let bytes = std::fs::read(path)?;
    Ok(Registry::parse(&bytes))
}

/// Loads the household adapter's certificates and extract.
pub fn build(
    config: &tongdao_config::HouseholdAdapterConfig,
) -> Result<tongdao_adapter_sdk::ReadyAdapter, tongdao_adapter_sdk::StartError> {
    let server = tongdao_adapter_sdk::AdapterServer::new("household", &config.server)?;
    let registry = load(&config.extract).map_err(|e| tongdao_adapter_sdk::StartError {
        name: "household",
        problems: vec![format!("extract {}: {e}", config.extract.display())],
    })?;
    let service = HouseholdService::new(std::sync::Arc::new(registry));
    Ok(server.ready(
        tongdao_schemas::household::v1::household_registry_server::HouseholdRegistryServer::new(
            service,
        ),
    ))
}
