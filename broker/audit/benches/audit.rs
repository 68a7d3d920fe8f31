//! Audit log benchmark: durable records/s with group commit against one fsync per record,
//! `verify` rate and inclusion-proof time on a log of a million records.
//!
//! `cargo bench -p tongdao-audit` (optionally `-- --records N` for the verify/proof log).
//! Plain std timing; prints one table and compares against the targets in the same run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use common::{open, record, signer};
use tongdao_audit::{LogReader, LogSigner, Options, verify, verify_inclusion};

const RUN: Duration = Duration::from_secs(3);

fn main() {
    let records: u64 = std::env::args()
        .skip_while(|a| a != "--records")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let signer = signer();
    let size = record(1).encode().expect("encodes").len();
    println!("audit log benchmark ({size}-byte records, 2 cores, {RUN:?} per durable run)\n");
    println!("{:<44} {:>14} {:>12}", "measurement", "result", "target");

    let mut rates = Vec::new();
    for (label, writers, max_batch) in [
        ("fsync per record, 1 writer", 1, 1),
        ("fsync per record, 64 writers", 64, 1),
        ("group commit, 1 writer", 1, 4096),
        ("group commit, 16 writers", 16, 4096),
        ("group commit, 64 writers", 64, 4096),
    ] {
        let rate = runtime.block_on(durable_rate(scratch, &signer, writers, max_batch));
        let target = if writers == 64 && max_batch > 1 {
            "≥ 50000/s"
        } else {
            ""
        };
        println!("{label:<44} {:>12.0}/s {target:>12}", rate);
        rates.push(rate);
    }
    println!(
        "{:<44} {:>13.1}× {:>12}",
        "group commit vs fsync per record (64 writers)",
        rates[4] / rates[1],
        ""
    );

    let dir = tempfile::tempdir_in(scratch).expect("temp dir");
    let started = Instant::now();
    runtime.block_on(fill(dir.path(), &signer, records));
    let fill_secs = started.elapsed().as_secs_f64();
    println!(
        "{:<44} {:>12.0}/s {:>12}",
        format!("filling {records} records (256 in flight)"),
        records as f64 / fill_secs,
        ""
    );

    let key = signer.verifier().expect("verifier key");
    let started = Instant::now();
    let report = verify(dir.path(), &key, |_, _| {}).expect("log verifies");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.entries, records);
    println!(
        "{:<44} {:>12.0}/s {:>12}",
        format!("verify {records} records"),
        records as f64 / secs,
        "≥ 1000000/s"
    );

    let started = Instant::now();
    let reader = LogReader::open(dir.path()).expect("reader");
    println!(
        "{:<44} {:>11.1} ms {:>12}",
        format!("open (recovery scan) of {records} records"),
        started.elapsed().as_secs_f64() * 1e3,
        ""
    );
    let head = reader
        .checkpoint()
        .expect("checkpoint")
        .checkpoint()
        .clone();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let rounds: u32 = 2000;
    let started = Instant::now();
    let mut checked = 0;
    for _ in 0..rounds {
        // xorshift: spread the proofs over the whole log, so most read a tile from disk.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = state % head.size;
        let proof = reader.inclusion_proof(index, head.size).expect("proof");
        let leaf = tongdao_audit::leaf_hash(&reader.entry(index).expect("entry"));
        verify_inclusion(&proof, index, head.size, &leaf, &head.root).expect("checks");
        checked += 1;
    }
    let per_proof_with_entry = started.elapsed().as_secs_f64() / f64::from(checked) * 1e6;
    let started = Instant::now();
    for i in 0..rounds {
        let index = (u64::from(i) * 7919 * 127) % head.size;
        let proof = reader.inclusion_proof(index, head.size).expect("proof");
        std::hint::black_box(proof);
    }
    let per_proof = started.elapsed().as_secs_f64() / f64::from(rounds) * 1e6;
    println!(
        "{:<44} {:>11.1} µs {:>12}",
        format!("inclusion proof at {} records", head.size),
        per_proof,
        "< 1000 µs"
    );
    println!(
        "{:<44} {:>11.1} µs {:>12}",
        "  … plus reading the entry and checking it", per_proof_with_entry, ""
    );
    let started = Instant::now();
    let proof = reader
        .consistency_proof(head.size / 3, head.size)
        .expect("consistency proof");
    println!(
        "{:<44} {:>11.1} µs {:>12}",
        "consistency proof (n/3 → n)",
        started.elapsed().as_secs_f64() * 1e6,
        ""
    );
    std::hint::black_box(proof);
}

/// Records/s made durable by `writers` tasks appending back to back for [`RUN`].
async fn durable_rate(scratch: &Path, signer: &LogSigner, writers: u64, max_batch: usize) -> f64 {
    let dir = tempfile::tempdir_in(scratch).expect("temp dir");
    let options = Options {
        max_batch,
        ..Options::default()
    };
    let log = open(dir.path(), signer, options);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (log, stop, done) = (log.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = writer << 32;
            while !stop.load(Ordering::Relaxed) {
                log.append(&record(i)).await.expect("durable");
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    for task in tasks {
        task.await.expect("writer");
    }
    log.close();
    counted as f64 / RUN.as_secs_f64()
}

/// Writes `records` records with 256 in flight.
async fn fill(dir: &Path, signer: &LogSigner, records: u64) {
    let log = open(dir, signer, Options::default());
    let mut tasks = Vec::new();
    for lane in 0..256 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = lane;
            while i < records {
                log.append(&record(i)).await.expect("durable");
                i += 256;
            }
        }));
    }
    for task in tasks {
        task.await.expect("filler");
    }
    log.close();
}
