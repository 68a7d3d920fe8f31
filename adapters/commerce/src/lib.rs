//! The company registry (商工) adapter: serves `tongdao.commerce.v1.CompanyRegistry` from the
//! GCIS company data service over HTTP/JSON (`FORMAT.md`), and a stand-in for that service
//! ([`standin`]) that the demo, the sandbox and the tests run. GCIS objects become messages
//! through the declarative mapping (`mapping.toml`, replaceable by `[adapters.commerce]
//! mapping`).

pub mod gcis;
pub mod records;
pub mod service;
pub mod standin;

use std::time::Duration;

use tongdao_adapter_sdk::{AdapterServer, ReadyAdapter, StartError};
use tongdao_schemas::commerce::v1::company_registry_server::CompanyRegistryServer;

pub use gcis::{ClientConfigError, GcisClient, SourceError};
pub use records::{CommerceMapping, RecordError};
pub use service::{CommerceService, LookupError};

/// Loads the adapter's certificates and sets up its GCIS client. Every problem is reported at
/// once.
pub async fn build(
    config: &tongdao_config::CommerceAdapterConfig,
) -> Result<ReadyAdapter, StartError> {
    let mut problems = Vec::new();
    let server = AdapterServer::new("commerce", &config.server)
        .map_err(|e| problems.extend(e.problems))
        .ok();
    let client = GcisClient::new(
        &config.gcis_url,
        Duration::from_millis(config.gcis_timeout_ms),
    )
    .map_err(|e| problems.push(e.to_string()))
    .ok();
    let mapping = match &config.mapping {
        Some(path) => CommerceMapping::load(path),
        None => CommerceMapping::shipped(),
    }
    .map_err(|e| problems.extend(e))
    .ok();
    match (server, client, mapping) {
        (Some(server), Some(client), Some(mapping)) if problems.is_empty() => Ok(server.ready(
            CompanyRegistryServer::new(CommerceService::new(client, mapping)),
        )),
        _ => Err(StartError {
            name: "commerce",
            problems,
        }),
    }
}
