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
    reload_on_sighup(broker.tls_reloader(), broker.policy_reloader());
    tokio::spawn(watch_policy_dir(broker.policy_reloader()));
    broker.serve(listener, shutdown_signal()).await;
    ExitCode::SUCCESS
}

/// Re-reads certificates, CRLs and the policy on SIGHUP, keeping what is in force if the new
/// files are bad.
fn reload_on_sighup(tls: tongdao_broker::TlsReloader, policy: tongdao_broker::PolicyReloader) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; certificates and policy will not be reloaded");
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: certificates and CRLs reloaded"),
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: TLS reload failed; keeping the previous configuration");
                }
            }
            reload_policy(&policy, "SIGHUP");
        }
    });
}

/// Recompiles the policy when any file in its directory changes (checked every 2 s: names,
/// sizes and modification times), so NDC rolls out a policy by writing files.
async fn watch_policy_dir(policy: tongdao_broker::PolicyReloader) {
    let mut last = snapshot(policy.dir());
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        let now = snapshot(policy.dir());
        if now != last {
            last = now;
            reload_policy(&policy, "policy directory changed");
        }
    }
}

fn reload_policy(policy: &tongdao_broker::PolicyReloader, trigger: &str) {
    match policy.reload() {
        Ok(version) => tracing::info!(trigger, policy_version = version, "policy reloaded"),
        Err(problems) => {
            metrics::counter!("tongdao_policy_reload_failures_total").increment(1);
            tracing::error!(
                trigger,
                policy_version = policy.version(),
                problems = problems.join("; "),
                "policy rejected; the policy in force keeps serving"
            );
        }
    }
}

/// A file's path, size and modification time.
type FileStamp = (std::path::PathBuf, u64, Option<std::time::SystemTime>);

/// Every file below `dir` with its size and modification time.
fn snapshot(dir: &std::path::Path) -> Vec<FileStamp> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(path),
                Ok(meta) => files.push((path, meta.len(), meta.modified().ok())),
                Err(_) => {}
            }
        }
    }
    files.sort();
    files
}
