//! `tongdao bench`: a load generator over mTLS that measures, in one run, the direct
//! client→adapter path (the floor) and the client→broker→adapter path, and prints their ratio.
//!
//! It builds a throw-away sandbox (PKI, the five seeded sources, config) and runs the adapters
//! and the broker as child processes of this binary, so the figures include real process
//! boundaries and sockets. `--adapter` picks the agency (one representative method each, asked
//! by an agency a shipped rule allows); `--adapter all` measures the five in turn.

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
use tonic::transport::Channel;

use crate::{
    adapter_cmd::AdapterKind,
    client::{self, ClientFiles},
    sandbox::{ChildStack, Sandbox, adapter_server_name},
};

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
    pub(crate) duration_s: u64,
    /// Warm-up seconds before each run (connections, caches).
    #[arg(long, default_value_t = 2)]
    pub(crate) warmup_s: u64,
    /// Households in the synthetic population.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) households: usize,
    /// The agency whose adapter is measured, or `all`.
    #[arg(long, default_value = "household")]
    adapter: BenchAdapter,
    /// Measure a shipped one-stop recipe instead (e.g. `welfare-eligibility`): its latency
    /// against its slowest dependency chain and the sum of its legs, called by hand.
    #[arg(long, conflicts_with = "adapter")]
    recipe: Option<String>,
}

/// `--adapter`: one agency or all five.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchAdapter {
    Household,
    Land,
    Tax,
    Health,
    Commerce,
    All,
}

impl BenchAdapter {
    fn kinds(self) -> Vec<AdapterKind> {
        match self {
            BenchAdapter::Household => vec![AdapterKind::Household],
            BenchAdapter::Land => vec![AdapterKind::Land],
            BenchAdapter::Tax => vec![AdapterKind::Tax],
            BenchAdapter::Health => vec![AdapterKind::Health],
            BenchAdapter::Commerce => vec![AdapterKind::Commerce],
            BenchAdapter::All => AdapterKind::ALL.to_vec(),
        }
    }
}

/// What a run asks one adapter: a method, who asks it for which purpose, and request bodies
/// about subjects the source holds records for.
struct Workload {
    method: &'static str,
    identity: &'static str,
    purpose: &'static str,
    requests: Arc<[Bytes]>,
}

impl Workload {
    fn for_adapter(kind: AdapterKind, sandbox: &Sandbox) -> Result<Workload, String> {
        use tongdao_schemas::{commerce, health, household, land, tax};
        use tongdao_synth::registers::{Owner, TaxKind};
        let registers = sandbox.registers();
        let encode = |message: &dyn Fn(String) -> Vec<u8>, ids: Vec<String>| -> Arc<[Bytes]> {
            let mut ids = ids;
            ids.dedup();
            ids.into_iter().map(|id| Bytes::from(message(id))).collect()
        };
        let workload = match kind {
            AdapterKind::Household => Workload {
                method: "tongdao.household.v1.HouseholdRegistry/GetTranscript",
                identity: "agencies/taipei-tax",
                purpose: "095",
                requests: encode(
                    &|national_id| {
                        household::v1::GetTranscriptRequest {
                            national_id,
                            kind: 0,
                        }
                        .encode_to_vec()
                    },
                    sandbox.subject_ids().to_vec(),
                ),
            },
            AdapterKind::Land => {
                let mut owners: Vec<String> = registers
                    .land
                    .parcels
                    .iter()
                    .flat_map(|p| &p.owners)
                    .filter_map(|o| match &o.owner {
                        Owner::Person { national_id, .. } => Some(national_id.to_string()),
                        _ => None,
                    })
                    .collect();
                owners.sort();
                Workload {
                    method: "tongdao.land.v1.LandRegistry/ListHoldings",
                    identity: "agencies/taipei-tax",
                    purpose: "095",
                    requests: encode(
                        &|national_id| {
                            land::v1::ListHoldingsRequest { national_id }.encode_to_vec()
                        },
                        owners,
                    ),
                }
            }
            AdapterKind::Tax => Workload {
                method: "tongdao.tax.v1.TaxRegistry/GetTaxPaymentCertificate",
                identity: "agencies/land-dept",
                purpose: "004",
                requests: encode(
                    &|national_id| {
                        tax::v1::GetTaxPaymentCertificateRequest {
                            national_id,
                            kind: tax::v1::TaxKind::LandValueTax as i32,
                            tax_year_roc: 113,
                        }
                        .encode_to_vec()
                    },
                    registers
                        .tax
                        .payments
                        .iter()
                        .filter(|p| p.kind == TaxKind::LandValueTax && p.tax_year_roc == 113)
                        .map(|p| p.taxpayer_national_id.to_string())
                        .collect(),
                ),
            },
            AdapterKind::Health => Workload {
                method: "tongdao.health.v1.HealthInsurance/ListVisits",
                identity: "agencies/mohw",
                purpose: "012",
                requests: encode(
                    &|national_id| {
                        health::v1::ListVisitsRequest {
                            national_id,
                            from_date: None,
                            to_date: None,
                        }
                        .encode_to_vec()
                    },
                    registers
                        .health
                        .visits
                        .iter()
                        .map(|v| v.national_id.to_string())
                        .collect(),
                ),
            },
            AdapterKind::Commerce => Workload {
                method: "tongdao.commerce.v1.CompanyRegistry/GetCompany",
                identity: "agencies/taipei-tax",
                purpose: "095",
                requests: encode(
                    &|business_number| {
                        commerce::v1::GetCompanyRequest { business_number }.encode_to_vec()
                    },
                    registers
                        .commerce
                        .companies
                        .iter()
                        .map(|c| c.business_number.to_string())
                        .collect(),
                ),
            },
        };
        if workload.requests.is_empty() {
            return Err(format!(
                "the {} source holds no records to ask for at this size; use more --households",
                kind.name()
            ));
        }
        Ok(workload)
    }
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
    let outcome = match &args.recipe {
        Some(recipe) => crate::recipe_bench::bench(&args, recipe).await,
        None => bench(&args).await,
    };
    match outcome {
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
    let mut results = Vec::new();
    for kind in args.adapter.kinds() {
        let workload = Workload::for_adapter(kind, &sandbox)?;
        // Direct: the load generator stands in for the broker (the adapter accepts no one else).
        let direct = Target {
            files: sandbox.broker_client_files(),
            addr: sandbox.adapter_addr_of(kind).to_string(),
            server_name: adapter_server_name(kind),
            metadata: vec![],
        };
        let via_broker = Target {
            files: sandbox.identity(workload.identity),
            addr: sandbox.broker_addr().to_string(),
            server_name: sandbox.broker_server_name().to_owned(),
            metadata: vec![("tongdao-purpose".to_owned(), workload.purpose.to_owned())],
        };
        let mut runs = Vec::new();
        for (in_flight, connections) in [(args.concurrency, args.connections), (1, 1)] {
            for (path, target) in [
                ("direct client→adapter", &direct),
                ("client→broker→adapter", &via_broker),
            ] {
                let label = format!("{} {path}", kind.name());
                let result = load(args, &label, target, &workload, in_flight, connections).await?;
                eprintln!(
                    "  {label:<34} {in_flight:>3} in flight: {:>9.0} req/s, p50 {} µs",
                    result.throughput(),
                    result.micros(0.5)
                );
                runs.push(result);
            }
        }
        results.push((kind, workload.method, runs));
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
    workload: &Workload,
    in_flight: usize,
    connections: usize,
) -> Result<RunResult, String> {
    let method = workload.method;
    let subjects = workload.requests.clone();
    let channels: Vec<Channel> = (0..connections.max(1))
        .map(|_| client::channel(&target.files, &target.addr, Some(&target.server_name)))
        .collect::<Result<_, _>>()?;
    // One call per channel first, so connection set-up is not measured and a refusal is
    // reported clearly rather than as a wall of errors.
    for channel in &channels {
        client::unary(
            channel.clone(),
            method,
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
                    method,
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

fn print_report(args: &BenchArgs, results: &[(AdapterKind, &str, Vec<RunResult>)]) {
    println!();
    println!(
        "tongdao bench: {} households, {} s per run after {} s warm-up, {} core(s)",
        args.households,
        args.duration_s,
        args.warmup_s,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for (kind, method, runs) in results {
        println!();
        println!("{} — {method}", kind.name());
        println!();
        println!("| path | in flight | req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | errors |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in runs {
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
        if let [direct, broker, direct_1, broker_1] = runs.as_slice() {
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
}

/// Shipped rules cap how many exchanges an agency may make a day; a load test makes more.
/// Everything else about the rules — purpose, fields, masking — stays as shipped.
pub(crate) fn lift_quotas(sandbox: &Sandbox) -> Result<(), String> {
    let rules = sandbox.policy_dir().join("rules");
    let entries = std::fs::read_dir(&rules).map_err(|e| format!("{}: {e}", rules.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let lifted: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("quota"))
            .map(|line| format!("{line}\n"))
            .collect();
        std::fs::write(&path, lifted).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
