//! Crash at library level: the writer stops mid-flight without a clean shutdown (and a torn
//! frame is left at the end, as a power cut could); reopening keeps every acknowledged
//! record, cuts the torn tail, and the log verifies.

mod common;

use std::{
    fs::OpenOptions,
    io::Write as _,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::*;
use tongdao_audit::{AuditError, LogReader, Options, leaf_hash, verify};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = signer();
    let log = open(dir.path(), &signer, Options::default());
    let acknowledged = Arc::new(Mutex::new(Vec::new()));

    let mut writers = Vec::new();
    for writer in 0..32u64 {
        let log = log.clone();
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let i = writer * 1_000_000 + n;
                match log.append(&record(i)).await {
                    Ok(appended) => acknowledged.lock().expect("lock").push((appended, i)),
                    Err(AuditError::Closed) => return,
                    Err(other) => panic!("unexpected {other}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    log.dangerous_crash();
    for writer in writers {
        writer.await.expect("writer task");
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().expect("lock"));
    assert!(
        acknowledged.len() > 100,
        "only {} appends",
        acknowledged.len()
    );

    // A power cut can also leave half a frame after the last sync.
    let segment = dir.path().join("log/000000000000.seg");
    let mut file = OpenOptions::new()
        .append(true)
        .open(&segment)
        .expect("segment");
    file.write_all(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, b'{', b'"'])
        .expect("torn frame");
    drop(file);

    let log = open(dir.path(), &signer, Options::default());
    let size = log.size();
    log.close();
    let reader = LogReader::open(dir.path()).expect("reader");
    assert_eq!(reader.size(), size);
    for (appended, i) in &acknowledged {
        let entry = reader
            .entry(appended.index)
            .expect("acknowledged entry present");
        assert_eq!(leaf_hash(&entry), appended.leaf_hash);
        assert_eq!(entry, record(*i).encode().expect("encodes"));
    }
    let torn: Vec<_> = std::fs::read_dir(dir.path().join("log"))
        .expect("log dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
        .collect();
    assert_eq!(torn.len(), 1, "the cut tail is kept for forensics");
    let report = verify(dir.path(), &signer.verifier().expect("key"), |_, _| {}).expect("verifies");
    assert_eq!(report.entries, size);
}
