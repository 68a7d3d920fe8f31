//! The land registry (地政) adapter: serves `tongdao.land.v1.LandRegistry` from the land
//! office's SQL database (`FORMAT.md`), a SQLite file by default or PostgreSQL.
//!
//! - [`store`]: reading the tables ([`store::LandStore`], SQLite and PostgreSQL);
//! - [`records`]: rows → messages through the declarative mapping (`mapping.toml`), refusing
//!   malformed rows;
//! - [`service`]: the gRPC service and its refusals;
//! - [`seed`]: writing a synthetic register into either database.

pub mod records;
pub mod schema;
pub mod seed;
pub mod service;
pub mod store;

use std::sync::Arc;

use tongdao_adapter_sdk::{AdapterServer, ReadyAdapter, StartError};
use tongdao_schemas::land::v1::land_registry_server::LandRegistryServer;

pub use records::LandMapping;
pub use service::{LandService, LookupError};
pub use store::{AnyStore, LandStore, PostgresStore, SqliteStore, StoreError};

/// How often the owner IDs are rescanned (see [`LandService::rescan_owner_ids`]).
pub const OWNER_ID_RESCAN: std::time::Duration = std::time::Duration::from_secs(300);

/// Opens the configured database (checking its tables), scans its owner IDs and returns the
/// service over it, rescanning every [`OWNER_ID_RESCAN`].
pub async fn open(
    config: &tongdao_config::LandAdapterConfig,
) -> Result<LandService<AnyStore>, StartError> {
    let fail = |problem: String| StartError {
        name: "land",
        problems: vec![problem],
    };
    let mapping = match &config.mapping {
        Some(path) => LandMapping::load(path),
        None => LandMapping::shipped(),
    }
    .map_err(|problems| StartError {
        name: "land",
        problems: problems
            .into_iter()
            .map(|p| format!("adapters.land.mapping: {p}"))
            .collect(),
    })?;
    let store = AnyStore::open(&config.database, config.pool_size)
        .await
        .map_err(|e| {
            fail(format!(
                "adapters.land.database: {}: {e}",
                store::describe_database(&config.database)
            ))
        })?;
    let service = LandService::new(Arc::new(store), Arc::new(mapping));
    service.rescan_owner_ids().await.map_err(|e| {
        fail(format!(
            "adapters.land.database: {}: scanning owner IDs: {e}",
            store::describe_database(&config.database)
        ))
    })?;
    service.spawn_rescans(OWNER_ID_RESCAN);
    Ok(service)
}

/// Loads the adapter's certificates and opens its database.
pub async fn build(config: &tongdao_config::LandAdapterConfig) -> Result<ReadyAdapter, StartError> {
    let server = AdapterServer::new("land", &config.server)?;
    let service = open(config).await?;
    Ok(server.ready(LandRegistryServer::new(service)))
}
