//! The company registry (商工) adapter over the GCIS HTTP/JSON service.
//!
//! Being written: until then [`build`] refuses to start.

use tongdao_adapter_sdk::{ReadyAdapter, StartError};

/// Loads the adapter's certificates and opens its source.
pub async fn build(_config: &tongdao_config::CommerceAdapterConfig) -> Result<ReadyAdapter, StartError> {
    Err(StartError {
        name: "commerce",
        problems: vec!["this adapter is not built yet".into()],
    })
}
