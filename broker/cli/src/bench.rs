//! `tongdao bench`: a load generator over mTLS that measures, in one run, the direct
//! client→adapter path (the floor) and the client→broker→adapter path, and prints their ratio.
//!
//! By default it builds a throw-away sandbox (PKI, synthetic household extract, config) and
//! runs the adapter and the broker as child processes of this binary, so the figures include
//! real process boundaries and sockets.

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use hdrhistogram::Histogram;
use prost::Message as _;
use tongdao_schemas::household::v1::GetTranscriptRequest;
use tonic::transport::Channel;

use crate::{
    client::{self, ClientFiles},
    sandbox::{ChildStack, Sandbox},
};

const METHOD: &str = "tongdao.household.v1.HouseholdRegistry/GetTranscript";

/// Arguments of `tongdao bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Requests in flight during the throughput runs.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the load is spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    duration_s: u64,
    /// Warm-up seconds before each run (connections, caches).
    #[arg(long, default_value_t = 2)]
    warmup_s: u64,
    /// Households in the synthetic extract.
    #[arg(long, default_value_t = 2_000)]
    households: usize,
}

/// Figures of one load run.
#[derive(Debug)]
struct RunResult {
    label: String,
    in_flight: usize,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl RunResult {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn micros(&self, quantile: f64) -> u64 {
        self.latency.value_at_quantile(quantile)
    }
}

pub(crate) async fn run(args: BenchArgs) -> ExitCode {
    match bench(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tongdao bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: &BenchArgs) -> Result<(), String> {
    let mut sandbox = Sandbox::create(args.households)?;
    lift_quotas(&sandbox)?;
    eprintln!(
        "sandbox in {} ({} households)",
        sandbox.root().display(),
        args.households
    );
    let stack = ChildStack::spawn(&mut sandbox).await?;
    let subjects: Arc<[Bytes]> = sandbox
        .subject_ids()
        .iter()
        .map(|id| {
            Bytes::from(
                GetTranscriptRequest {
                    national_id: id.clone(),
                    kind: 0,
                }
                .encode_to_vec(),
            )
        })
        .collect();

    // Direct: the load generator stands in for the broker (the adapter accepts no one else).
    let direct = Target {
        files: sandbox.broker_client_files(),
        addr: sandbox.adapter_addr().to_string(),
        server_name: sandbox.adapter_server_name().to_owned(),
        metadata: vec![],
    };
    let via_broker = Target {
        files: sandbox.agency_files("taipei-tax"),
        addr: sandbox.broker_addr().to_string(),
        server_name: sandbox.broker_server_name().to_owned(),
        metadata: vec![("tongdao-purpose".to_owned(), "095".to_owned())],
    };
    let mut results = Vec::new();
    for (in_flight, connections) in [(args.concurrency, args.connections), (1, 1)] {
        for (label, target) in [
            ("direct client→adapter", &direct),
            ("client→broker→adapter", &via_broker),
        ] {
            let result = load(
                args,
                label,
                target,
                in_flight,
                connections,
                subjects.clone(),
            )
            .await?;
            eprintln!(
                "  {label:<24} {in_flight:>3} in flight: {:>9.0} req/s, p50 {} µs",
                result.throughput(),
                result.micros(0.5)
            );
            results.push(result);
        }
    }
    drop(stack);
    print_report(args, &results);
    Ok(())
}

struct Target {
    files: ClientFiles,
    addr: String,
    server_name: String,
    metadata: Vec<(String, String)>,
}

async fn load(
    args: &BenchArgs,
    label: &str,
    target: &Target,
    in_flight: usize,
    connections: usize,
    subjects: Arc<[Bytes]>,
) -> Result<RunResult, String> {
    let channels: Vec<Channel> = (0..connections.max(1))
        .map(|_| client::channel(&target.files, &target.addr, Some(&target.server_name)))
        .collect::<Result<_, _>>()?;
    // One call per channel first, so connection set-up is not measured and a refusal is
    // reported clearly rather than as a wall of errors.
    for channel in &channels {
        client::unary(
            channel.clone(),
            METHOD,
            subjects[0].clone(),
            &target.metadata,
            Some(Duration::from_secs(5)),
        )
        .await
        .map_err(|status| {
            format!(
                "{label}: first call failed: {}",
                client::describe_status(&status)
            )
        })?;
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for worker in 0..in_flight {
        let channel = channels[worker % channels.len()].clone();
        let subjects = subjects.clone();
        let metadata = target.metadata.clone();
        let (measuring, stop, errors) = (measuring.clone(), stop.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let body = subjects[i % subjects.len()].clone();
                i += in_flight;
                let started = Instant::now();
                let outcome = client::unary(
                    channel.clone(),
                    METHOD,
                    body,
                    &metadata,
                    Some(Duration::from_secs(5)),
                )
                .await;
                if measuring.load(Ordering::Relaxed) {
                    match outcome {
                        Ok(_) => {
                            let _ = histogram.record(started.elapsed().as_micros().max(1) as u64);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            histogram
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.warmup_s)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration_s)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    for worker in workers {
        let histogram = worker
            .await
            .map_err(|e| format!("load worker failed: {e}"))?;
        latency
            .add(&histogram)
            .map_err(|e| format!("merging histograms: {e}"))?;
    }
    Ok(RunResult {
        label: label.to_owned(),
        in_flight,
        requests: latency.len(),
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        latency,
    })
}

fn print_report(args: &BenchArgs, results: &[RunResult]) {
    println!();
    println!(
        "tongdao bench: GetTranscript, {} households, {} s per run after {} s warm-up, {} core(s)",
        args.households,
        args.duration_s,
        args.warmup_s,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| path | in flight | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            r.label,
            r.in_flight,
            r.throughput(),
            r.micros(0.5),
            r.micros(0.9),
            r.micros(0.99),
            r.micros(0.999),
            r.errors
        );
    }
    if let [direct, broker, direct_1, broker_1] = results {
        println!();
        println!(
            "broker/direct throughput at {} in flight: {:.2}",
            direct.in_flight,
            broker.throughput() / direct.throughput()
        );
        println!(
            "latency the broker adds at 1 in flight: p50 +{} µs, p99 +{} µs",
            broker_1.micros(0.5).saturating_sub(direct_1.micros(0.5)),
            broker_1.micros(0.99).saturating_sub(direct_1.micros(0.99))
        );
    }
}

/// The shipped policy caps the tax office at 5,000 transcripts a day; a load test makes more.
/// Everything else about the rule — purpose, fields, masking — stays as shipped.
fn lift_quotas(sandbox: &Sandbox) -> Result<(), String> {
    let path = sandbox.policy_dir().join("rules/household.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lifted: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("quota"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&path, lifted).map_err(|e| format!("{}: {e}", path.display()))
}
