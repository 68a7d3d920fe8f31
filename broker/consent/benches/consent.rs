//! Consent benchmark: what a consent check adds to an exchange, each figure beside a
//! baseline measured in the same run.
//!
//! `cargo bench -p tongdao-consent` (Redis figures need Redis at `TONGDAO_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379/`; without it they are skipped, loudly).
//!
//! - embedded check of a reusable consent vs a bare `HashMap` lookup (no I/O either way);
//! - embedded single-use check (durable consumption) vs a bare `write` + `fdatasync`;
//!   and with 64 concurrent checks (group commit);
//! - Redis check (one `EVALSHA`) vs Redis `PING` (one round trip);
//! - artefact verification vs a bare Ed25519 verification.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    collections::HashMap,
    hint::black_box,
    io::Write as _,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use common::*;
use ed25519_dalek::Signer as _;
use tongdao_consent::{
    Consent, ConsentId, ConsentSigner, ConsentStore, FileStore, RedisStore, Timestamp,
    verify_artefact,
};

const CONSENTS: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch dir");
    println!("consent benchmark ({CONSENTS} consents held, 2 cores shared)\n");
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        "measurement", "p50", "p99", "mean"
    );

    // --- embedded, reusable: memory only -------------------------------------------------
    let reusable: Vec<Consent> = (0..CONSENTS)
        .map(|_| grant_for(citizen(), until(86_400)))
        .collect();
    let index: HashMap<ConsentId, usize> = reusable
        .iter()
        .enumerate()
        .map(|(n, c)| (*c.id(), n))
        .collect();
    let ids: Vec<ConsentId> = reusable.iter().map(|c| *c.id()).collect();
    let lookups = Stats::measure(1_000_000, |n| {
        black_box(index.get(&ids[n % ids.len()]));
    });
    lookups.print("baseline: HashMap lookup of a consent id");
    let key = subject_key();
    let subject = citizen();
    Stats::measure(1_000_000, |_| {
        black_box(key.pseudonym(black_box(&subject)));
    })
    .print("  part of every check: subject pseudonym (HMAC)");

    let store = FileStore::open(&scratch.path().join("store"), subject_key()).expect("opens");
    runtime.block_on(grant_all(&store, &reusable));
    let (grantee, fields) = (welfare(), fields());
    let check = runtime.block_on(async {
        Stats::measure_async(300_000, |n| {
            let store = &store;
            let (grantee, subject, fields) = (&grantee, &subject, &fields);
            let id = ids[n % ids.len()];
            async move {
                let usage = usage(grantee, subject, fields, Timestamp::now());
                store.check(&id, &usage).await.expect("permitted");
            }
        })
        .await
    });
    check.print("FileStore check, reusable consent");
    println!(
        "{:<52} {:>10}",
        "  added over the baseline (p50)",
        format_ns(check.p50.saturating_sub(lookups.p50))
    );

    // --- embedded, single use: durable before the permit ---------------------------------
    let single: Vec<Consent> = (0..2_000)
        .map(|_| grant_for(citizen(), single_use(86_400)))
        .collect();
    runtime.block_on(grant_all(&store, &single));
    // Interleaved with the baseline, so both see the same disk (shared with other work).
    let mut raw = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(scratch.path().join("raw"))
        .expect("raw file");
    let (sync, consume) = runtime.block_on(async {
        let (mut syncs, mut consumes) = (Vec::new(), Vec::new());
        for consent in &single[..500] {
            let started = Instant::now();
            raw.write_all(&[b'x'; 200]).expect("write");
            raw.sync_data().expect("sync");
            syncs.push(started.elapsed().as_nanos() as u64);
            let started = Instant::now();
            let usage = usage(&grantee, &subject, &fields, Timestamp::now());
            let permit = store.check(consent.id(), &usage).await.expect("permitted");
            assert!(permit.consumed);
            consumes.push(started.elapsed().as_nanos() as u64);
        }
        (Stats::from(syncs), Stats::from(consumes))
    });
    sync.print("baseline: append 200 bytes + fdatasync");
    consume.print("FileStore check, single use (1 in flight)");
    let rate = runtime.block_on(concurrent_single_use(&store, 64, Duration::from_secs(2)));
    println!(
        "{:<52} {:>10}",
        "FileStore single-use checks/s, 64 in flight",
        format!("{rate:.0}/s")
    );
    println!(
        "{:<52} {:>10}",
        "  vs one fdatasync each (1 / baseline mean)",
        format!("{:.0}/s", 1e9 / sync.mean)
    );
    drop(store);

    // --- Redis: one round trip ------------------------------------------------------------
    runtime.block_on(redis_figures(&reusable));

    // --- artefacts --------------------------------------------------------------------------
    let pair = ConsentSigner::generate("consent.tongdao.bench").expect("key");
    let signer = ConsentSigner::from_text(&pair.signing_key).expect("key");
    let consent = &reusable[0];
    let artefact = signer.sign(consent);
    let raw_key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let message = artefact.as_bytes().to_vec();
    let signature = raw_key.sign(&message);
    let public = raw_key.verifying_key();
    Stats::measure(5_000, |_| {
        black_box(public.verify_strict(black_box(&message), &signature)).expect("valid");
    })
    .print(&format!(
        "baseline: Ed25519 verify of {} bytes",
        message.len()
    ));
    Stats::measure(5_000, |_| {
        black_box(verify_artefact(black_box(&artefact), signer.verifier())).expect("verifies");
    })
    .print(&format!("verify_artefact ({} bytes)", artefact.len()));
    Stats::measure(5_000, |_| {
        black_box(signer.sign(black_box(consent)));
    })
    .print("ConsentSigner::sign");
}

async fn grant_all(store: &dyn ConsentStore, consents: &[Consent]) {
    for chunk in consents.chunks(256) {
        let grants: Vec<_> = chunk.iter().map(|c| store.grant(c)).collect();
        for grant in grants {
            grant.await.expect("granted");
        }
    }
}

async fn concurrent_single_use(store: &FileStore, tasks: usize, run: Duration) -> f64 {
    // A stock of single-use consents per task, granted before timing starts.
    let mut stocks = Vec::new();
    for _ in 0..tasks {
        let stock: Vec<Consent> = (0..1_000)
            .map(|_| grant_for(citizen(), single_use(86_400)))
            .collect();
        grant_all(store, &stock).await;
        stocks.push(stock);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for stock in stocks {
        let (store, stop, done) = (store.clone(), stop.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let (grantee, subject, fields) = (welfare(), citizen(), fields());
            for consent in &stock {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let usage = usage(&grantee, &subject, &fields, Timestamp::now());
                let permit = store.check(consent.id(), &usage).await.expect("permitted");
                assert!(permit.consumed);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.await.expect("task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn redis_figures(reusable: &[Consent]) {
    let url = redis_url();
    let store =
        match RedisStore::connect(&url, subject_key(), redis_options(&unique_prefix())).await {
            Ok(store) => store,
            Err(error) => {
                println!("SKIPPED Redis figures: {url} unreachable ({error})");
                return;
            }
        };
    let some = &reusable[..2_000];
    grant_all(&store, some).await;
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    // Interleaved, so both see the same load on the shared Redis.
    let (mut pings, mut checks) = (Vec::new(), Vec::new());
    for n in 0..5_000 {
        let started = Instant::now();
        store.ping().await.expect("pong");
        pings.push(started.elapsed().as_nanos() as u64);
        let started = Instant::now();
        let usage = usage(&grantee, &subject, &fields, Timestamp::now());
        store
            .check(some[n % some.len()].id(), &usage)
            .await
            .expect("permitted");
        checks.push(started.elapsed().as_nanos() as u64);
    }
    let (ping, check) = (Stats::from(pings), Stats::from(checks));
    ping.print("baseline: Redis PING round trip");
    check.print("RedisStore check, reusable (one EVALSHA)");
    let single: Vec<Consent> = (0..2_000)
        .map(|_| grant_for(citizen(), single_use(86_400)))
        .collect();
    grant_all(&store, &single).await;
    let consume = Stats::measure_async(2_000, |n| {
        let store = &store;
        let (grantee, subject, fields) = (&grantee, &subject, &fields);
        let id = *single[n].id();
        async move {
            let usage = usage(grantee, subject, fields, Timestamp::now());
            assert!(store.check(&id, &usage).await.expect("permitted").consumed);
        }
    })
    .await;
    consume.print("RedisStore check, single use (one EVALSHA)");
    println!(
        "{:<52} {:>10}",
        "  check p50 / PING p50",
        format!("{:.2}×", check.p50 as f64 / ping.p50 as f64)
    );
}

/// Latencies of one operation, in nanoseconds.
struct Stats {
    p50: u64,
    p99: u64,
    mean: f64,
}

impl Stats {
    fn from(mut samples: Vec<u64>) -> Stats {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        Stats {
            p50: at(0.50),
            p99: at(0.99),
            mean: samples.iter().sum::<u64>() as f64 / samples.len() as f64,
        }
    }

    fn measure(count: usize, mut op: impl FnMut(usize)) -> Stats {
        // Warm up, then time each call.
        for n in 0..count.min(1_000) {
            op(n);
        }
        let mut samples = Vec::with_capacity(count);
        for n in 0..count {
            let started = Instant::now();
            op(n);
            samples.push(started.elapsed().as_nanos() as u64);
        }
        Stats::from(samples)
    }

    async fn measure_async<F: std::future::Future<Output = ()>>(
        count: usize,
        mut op: impl FnMut(usize) -> F,
    ) -> Stats {
        let mut samples = Vec::with_capacity(count);
        for n in 0..count {
            let started = Instant::now();
            op(n).await;
            samples.push(started.elapsed().as_nanos() as u64);
        }
        Stats::from(samples)
    }

    fn print(&self, label: &str) {
        println!(
            "{label:<52} {:>10} {:>10} {:>10}",
            format_ns(self.p50),
            format_ns(self.p99),
            format_ns(self.mean as u64)
        );
    }
}

fn format_ns(ns: u64) -> String {
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}
