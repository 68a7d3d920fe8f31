//! Load time and memory for about a million people (ignored: run with
//! `cargo test -p tongdao-adapter-tax --test load_bench -- --ignored --nocapture`; set
//! `TAX_BENCH_PEOPLE` to change the size). Prints figures; asserts only correctness.
//!
//! The files are the seed writer's output for a generated population, replicated under fresh
//! national IDs until they hold the wanted number of people (generating a million people's
//! registers at once would need several GB).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use tongdao_adapter_tax::{FileKind, TaxService};
use tongdao_core::ids::NationalId;
use tongdao_schemas::tax::v1::ListIncomeRequest;

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Copies `from` into `to` `copies` times, each copy with every national ID (column 2)
/// replaced by a fresh one; returns the data lines written.
fn replicate(from: &Path, to: &Path, copies: u32, ids: &HashMap<String, u32>) -> u64 {
    let input = BufReader::new(std::fs::File::open(from).expect("open"));
    let mut lines = input.lines().map(|l| l.expect("line"));
    let header = lines.next().expect("header");
    let data: Vec<String> = lines.filter(|l| !l.starts_with("TRAILER")).collect();
    let mut out = BufWriter::new(std::fs::File::create(to).expect("create"));
    writeln!(out, "{}", header.trim_end_matches('\r')).expect("write");
    let people = ids.len() as u32;
    let mut written = 0u64;
    for copy in 0..copies {
        for line in &data {
            let line = line.trim_end_matches('\r');
            let mut fields: Vec<&str> = line.split('|').collect();
            let original = fields[1];
            let index = ids[original];
            let bytes = original.as_bytes();
            let fresh = NationalId::with_checksum(
                char::from(bytes[0]),
                bytes[1] - b'0',
                copy * people + index,
            )
            .expect("fresh ID");
            let fresh = fresh.to_string();
            fields[1] = &fresh;
            writeln!(out, "{}", fields.join("|")).expect("write");
            written += 1;
        }
    }
    writeln!(out, "TRAILER|{written}").expect("write");
    out.flush().expect("flush");
    written
}

#[test]
#[ignore = "prints load figures for about a million people"]
fn load_a_million_people() {
    let wanted: u32 = std::env::var("TAX_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let population = tongdao_synth::Population::generate(11, 4000);
    let registers = tongdao_synth::Registers::generate(&population);
    let seed_dir = tempfile::tempdir().expect("tempdir");
    tongdao_adapter_tax::seed::write_files(&registers.tax, seed_dir.path()).expect("seed");
    let mut ids = HashMap::new();
    for nid in registers
        .tax
        .income
        .iter()
        .map(|r| &r.earner_national_id)
        .chain(registers.tax.property.iter().map(|r| &r.owner_national_id))
        .chain(
            registers
                .tax
                .payments
                .iter()
                .map(|r| &r.taxpayer_national_id),
        )
    {
        let next = ids.len() as u32;
        ids.entry(nid.to_string()).or_insert(next);
    }
    let copies = wanted.div_ceil(ids.len() as u32);
    let people = copies as u64 * ids.len() as u64;
    drop(registers);
    drop(population);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = 0;
    let mut lines = 0;
    for kind in FileKind::ALL {
        lines += replicate(
            &seed_dir.path().join(kind.file_name()),
            &dir.path().join(kind.file_name()),
            copies,
            &ids,
        );
        bytes += std::fs::metadata(dir.path().join(kind.file_name()))
            .expect("meta")
            .len();
    }

    let before = rss_mib();
    let started = Instant::now();
    let source = tongdao_adapter_tax::load(dir.path(), None).expect("loads");
    let elapsed = started.elapsed();
    let after = rss_mib();
    assert_eq!(source.summary().malformed_lines(), 0);
    println!(
        "people {people}, data lines {lines}, {} MiB of files: loaded in {:.2} s ({:.0} lines/s), RSS {} → {} MiB",
        bytes / (1 << 20),
        elapsed.as_secs_f64(),
        lines as f64 / elapsed.as_secs_f64(),
        before,
        after
    );
    for file in &source.summary().files {
        println!(
            "  {}: {} lines, {} people, {:.2} s",
            file.file,
            file.data_lines,
            file.people,
            file.elapsed.as_secs_f64()
        );
    }

    let service = TaxService::new(std::sync::Arc::new(source));
    let last_copy = (copies - 1) * ids.len() as u32;
    let sample: Vec<String> = ids
        .iter()
        .take(2000)
        .map(|(original, index)| {
            let b = original.as_bytes();
            NationalId::with_checksum(char::from(b[0]), b[1] - b'0', last_copy + index)
                .expect("fresh ID")
                .to_string()
        })
        .collect();
    let started = Instant::now();
    let mut items = 0;
    for nid in &sample {
        for year in [112, 113] {
            items += service
                .list_income(&ListIncomeRequest {
                    national_id: nid.clone(),
                    income_year_roc: year,
                })
                .expect("answers")
                .items
                .len();
        }
    }
    let per_call = started.elapsed() / (2 * sample.len() as u32);
    assert!(items > 0);
    println!(
        "ListIncome: {per_call:?} per call ({items} items over {} calls)",
        2 * sample.len()
    );
}
