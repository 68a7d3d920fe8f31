//! A failing disk: appends fail closed with `Unavailable`, nothing acknowledged is lost, a
//! half-written batch never reaches the log, and the log recovers when the fault clears.

mod common;

use std::{
    io,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::*;
use tongdao_audit::{
    AuditError, FileLayer, LogReader, Options, SegmentFile, StdFileLayer, leaf_hash, verify,
};

/// The real file system, except that while `failing` is set a write lands half its bytes
/// and then fails (as on a full disk), and syncs fail.
#[derive(Debug, Clone, Default)]
struct Faulty {
    failing: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FaultySegment {
    inner: Box<dyn SegmentFile>,
    failing: Arc<AtomicBool>,
}

impl FileLayer for Faulty {
    fn open_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(FaultySegment {
            inner: StdFileLayer.open_segment(path)?,
            failing: self.failing.clone(),
        }))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdFileLayer.sync_dir(path)
    }
}

impl SegmentFile for FaultySegment {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            self.inner.append(&bytes[..bytes.len() / 2])?;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected: disk full",
            ));
        }
        self.inner.append(bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected: sync failed"));
        }
        self.inner.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_fails_closed_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = signer();
    let faulty = Faulty::default();
    let options = Options {
        retry_interval: Duration::from_millis(50),
        file_layer: Arc::new(faulty.clone()),
        ..Options::default()
    };
    let log = open(dir.path(), &signer, options);
    let mut acknowledged = append_all(&log, 0..100).await;
    assert!(log.is_available());

    faulty.failing.store(true, Ordering::SeqCst);
    // A batch in flight when the disk fails: every record in it fails, none is acked.
    let futures: Vec<_> = (100..150).map(|i| log.append(&record(i))).collect();
    for future in futures {
        assert!(matches!(future.await, Err(AuditError::Unavailable)));
    }
    assert!(!log.is_available(), "the broker must report unhealthy");
    // While unavailable, appends fail at once (the broker answers AUDIT_UNAVAILABLE).
    let started = Instant::now();
    assert!(matches!(
        log.append(&record(150)).await,
        Err(AuditError::Unavailable)
    ));
    assert!(started.elapsed() < Duration::from_millis(20));
    // Probes keep failing while the fault lasts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!log.is_available());

    faulty.failing.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log.is_available() {
        assert!(Instant::now() < deadline, "log did not recover");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = append_all(&log, 200..300).await;
    assert_eq!(
        after[0].index, 100,
        "failed records took no place in the log"
    );
    acknowledged.extend(after);
    log.close();

    // Nothing acknowledged lost; the half-written batch is gone; the log verifies.
    let reader = LogReader::open(dir.path()).expect("reader");
    assert_eq!(reader.size(), 200);
    for appended in &acknowledged {
        let entry = reader.entry(appended.index).expect("entry");
        assert_eq!(leaf_hash(&entry), appended.leaf_hash);
    }
    verify(dir.path(), &signer.verifier().expect("key"), |_, _| {}).expect("verifies");
}
