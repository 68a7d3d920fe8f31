//! The land registry (地政) adapter over a SQL database (SQLite or PostgreSQL).
//!
//! Being written: until then [`build`] refuses to start.

use tongdao_adapter_sdk::{ReadyAdapter, StartError};

/// Loads the adapter's certificates and opens its source.
pub async fn build(_config: &tongdao_config::LandAdapterConfig) -> Result<ReadyAdapter, StartError> {
    Err(StartError {
        name: "land",
        problems: vec!["this adapter is not built yet".into()],
    })
}
