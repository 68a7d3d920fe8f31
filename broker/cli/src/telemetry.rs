//! Logs and metrics for the long-running subcommands.

use tongdao_config::{LogFormat, TelemetryConfig};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the log subscriber and, if configured, the Prometheus exporter. `RUST_LOG`
/// overrides the configured filter.
pub(crate) fn init(config: &TelemetryConfig) -> Result<(), String> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .map_err(|e| format!("telemetry.log_filter: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match config.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
    // Already installed (tests, the demo running several components) is fine.
    drop(installed);
    if let Some(addr) = config.metrics_addr {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .map_err(|e| format!("telemetry.metrics_addr {addr}: {e}"))?;
    }
    Ok(())
}
