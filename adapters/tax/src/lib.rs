//! The tax registry (財稅) adapter over the Ministry of Finance's delimited files.
//!
//! At start it reads the three files of `FORMAT.md` (`income.txt`, `property.txt`,
//! `payments.txt`) from the configured directory into an in-memory index by national ID
//! ([`source::TaxSource`]), turning every data line into its protobuf item through the
//! declarative mapping (`mapping.toml`, embedded; replaceable by configuration) so that a
//! malformed line is found, logged and quarantined before any request. Requests are answered
//! by [`service::TaxService`]. [`seed`] writes the files from synthetic records.

pub mod seed;
pub mod service;
pub mod source;

use std::path::Path;

use tongdao_adapter_sdk::{AdapterServer, ReadyAdapter, StartError};
use tongdao_schemas::tax::v1::tax_registry_server::TaxRegistryServer;

pub use service::{LookupError, TaxService};
pub use source::{
    FileKind, FileSummary, LoadError, LoadOptions, LoadSummary, MalformedLine, TaxMapping,
    TaxSource,
};

/// The shipped mapping (`adapters/tax/mapping.toml`).
pub const DEFAULT_MAPPING: &str = include_str!("../mapping.toml");

/// Reads the mapping (`mapping`, or the shipped one) and the three files in `directory`.
/// Malformed lines are not an error here: they are logged, counted in
/// `tongdao_adapter_source_malformed_total{adapter="tax"}` and quarantined.
pub fn load(directory: &Path, mapping: Option<&Path>) -> Result<TaxSource, LoadError> {
    let mapping = match mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Mapping {
                origin: path.display().to_string(),
                problems: vec![source.to_string()],
            })?;
            TaxMapping::parse(&path.display().to_string(), &text)?
        }
        None => TaxMapping::parse("adapters/tax/mapping.toml", DEFAULT_MAPPING)?,
    };
    TaxSource::load(directory, mapping)
}

/// Loads the adapter's certificates and its source files.
pub async fn build(config: &tongdao_config::TaxAdapterConfig) -> Result<ReadyAdapter, StartError> {
    let server = AdapterServer::new("tax", &config.server)?;
    let directory = config.directory.clone();
    let mapping = config.mapping.clone();
    let loaded = tokio::task::spawn_blocking(move || load(&directory, mapping.as_deref()))
        .await
        .map_err(|e| StartError {
            name: "tax",
            problems: vec![format!("loading the tax files stopped: {e}")],
        })?;
    let source = loaded.map_err(|e| StartError {
        name: "tax",
        problems: vec![e.to_string()],
    })?;
    let service = TaxService::new(std::sync::Arc::new(source));
    Ok(server.ready(TaxRegistryServer::new(service)))
}
