//! Figures, not assertions: seeding time and GetParcel / ListHoldings latency and throughput
//! on SQLite (and PostgreSQL when present), for a register generated from
//! `TONGDAO_LAND_BENCH_HOUSEHOLDS` households (default 100 000).
//!
//! `cargo test -p tongdao-adapter-land --test bench -- --ignored --nocapture`

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Backend;
use tongdao_adapter_land::{AnyStore, LandService};
use tongdao_schemas::land::v1 as pb;
use tongdao_schemas::land::v1::land_registry_server::LandRegistry;
use tongdao_synth::registers::Owner;
use tonic::Request;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(
    label: &str,
    service: &LandService<AnyStore>,
    keys: &[pb::ParcelKey],
    owners: &[String],
) {
    for (method, count) in [("GetParcel", keys.len()), ("ListHoldings", owners.len())] {
        // One in flight: latency.
        let mut latencies = Vec::with_capacity(count);
        for i in 0..count {
            let start = Instant::now();
            if method == "GetParcel" {
                service
                    .get_parcel(Request::new(pb::GetParcelRequest {
                        key: Some(keys[i].clone()),
                    }))
                    .await
                    .expect("served");
            } else {
                service
                    .list_holdings(Request::new(pb::ListHoldingsRequest {
                        national_id: owners[i].clone(),
                    }))
                    .await
                    .expect("served");
            }
            latencies.push(start.elapsed());
        }
        latencies.sort();
        // 64 in flight: throughput.
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let keys = Arc::new(keys.to_vec());
        let owners = Arc::new(owners.to_vec());
        for _ in 0..64 {
            let (service, next, keys, owners) =
                (service.clone(), next.clone(), keys.clone(), owners.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let ok = if method == "GetParcel" {
                        service
                            .get_parcel(Request::new(pb::GetParcelRequest {
                                key: Some(keys[i].clone()),
                            }))
                            .await
                            .is_ok()
                    } else {
                        service
                            .list_holdings(Request::new(pb::ListHoldingsRequest {
                                national_id: owners[i].clone(),
                            }))
                            .await
                            .is_ok()
                    };
                    assert!(ok);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let rate = count as f64 / start.elapsed().as_secs_f64();
        println!(
            "{label} {method}: 1 in flight p50 {:?} p99 {:?}; 64 in flight {rate:.0} req/s ({count} requests)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures"]
async fn bench() {
    let households: usize = std::env::var("TONGDAO_LAND_BENCH_HOUSEHOLDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let start = Instant::now();
    let (population, register) = common::generated(20_261_130, households);
    let rows: usize = register
        .parcels
        .iter()
        .map(|p| 1 + p.owners.len() + p.encumbrances.len())
        .sum();
    println!(
        "{households} households, {} people, {} parcels, {rows} rows, generated in {:?}",
        population.person_count(),
        register.parcels.len(),
        start.elapsed()
    );
    let step = (register.parcels.len() / 5_000).max(1);
    let keys: Vec<pb::ParcelKey> = register
        .parcels
        .iter()
        .step_by(step)
        .map(common::key)
        .collect();
    let owners: Vec<String> = register
        .parcels
        .iter()
        .step_by(step)
        .filter_map(|p| {
            p.owners.iter().find_map(|o| match &o.owner {
                Owner::Person { national_id, .. } => Some(national_id.to_string()),
                _ => None,
            })
        })
        .collect();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let start = Instant::now();
        let Some(fixture) = common::Fixture::with_pool(backend, &register, 4).await else {
            continue;
        };
        println!("{backend:?}: seeded and opened in {:?}", start.elapsed());
        let start = Instant::now();
        let scan = fixture.service.rescan_owner_ids().await.expect("scan");
        println!(
            "{backend:?}: owner-ID scan of {} rows in {:?}",
            scan.rows,
            start.elapsed()
        );
        measure(&format!("{backend:?}"), &fixture.service, &keys, &owners).await;
    }
}
