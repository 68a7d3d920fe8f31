//! The health insurance (健保) adapter over My Health Bank JSON exports.
//!
//! Being written: until then [`build`] refuses to start.

use tongdao_adapter_sdk::{ReadyAdapter, StartError};

/// Loads the adapter's certificates and opens its source.
pub async fn build(_config: &tongdao_config::HealthAdapterConfig) -> Result<ReadyAdapter, StartError> {
    Err(StartError {
        name: "health",
        problems: vec!["this adapter is not built yet".into()],
    })
}
