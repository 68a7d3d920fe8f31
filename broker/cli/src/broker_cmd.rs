//! `tongdao broker`.

use std::process::ExitCode;

use tongdao_broker::Broker;

use crate::{ConfigArg, EXIT_CONFIG, load_config, shutdown_signal, telemetry};

/// Arguments of `tongdao broker`.
#[derive(Debug, clap::Args)]
pub(crate) struct BrokerArgs {
    #[command(flatten)]
    config: ConfigArg,
}

pub(crate) async fn run(args: BrokerArgs) -> ExitCode {
    let config = match load_config(&args.config.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(broker_config) = &config.broker else {
        eprintln!(
            "tongdao broker: {} has no [broker] section",
            args.config.config.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    if let Err(error) = telemetry::init(&config.telemetry) {
        eprintln!("tongdao broker: {error}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let broker = match Broker::from_config(broker_config) {
        Ok(broker) => broker,
        Err(problems) => {
            eprintln!("tongdao broker: cannot start:");
            for problem in problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let listener = match tokio::net::TcpListener::bind(broker_config.listen_addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "tongdao broker: cannot listen on {}: {error}",
                broker_config.listen_addr
            );
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %broker_config.listen_addr, "broker listening");
    reload_on_sighup(broker.tls_reloader());
    broker.serve(listener, shutdown_signal()).await;
    ExitCode::SUCCESS
}

/// Re-reads certificates and CRLs on SIGHUP, keeping the old ones if the new files are bad.
fn reload_on_sighup(reloader: tongdao_broker::TlsReloader) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; TLS material will not be reloaded");
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match reloader.reload() {
                Ok(()) => tracing::info!("SIGHUP: certificates and CRLs reloaded"),
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: reload failed; keeping the previous TLS configuration");
                }
            }
        }
    });
}
