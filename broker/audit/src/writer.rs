//! The audit log: one writer thread doing greedy group commit, and the handle the broker
//! appends through.
//!
//! An append is acknowledged only after its frame is `fdatasync`ed. The writer syncs as soon
//! as the previous sync finished, taking whatever has queued meanwhile, so one lone request
//! never waits for a batch to fill and many concurrent ones share a sync.

use std::{
    fmt,
    fs::{self, File},
    future::Future,
    mem,
    path::{Path, PathBuf},
    sync::{
        Arc, Condvar, Mutex, MutexGuard, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::{
    checkpoint::{Checkpoint, LogSigner, Receipt, SignedCheckpoint},
    error::AuditError,
    load::{Loaded, Mode, load},
    merkle::{self, Hash, leaf_hash},
    record::AuditRecord,
    segment::{FileLayer, SEGMENT_ENTRIES, SegmentFile, StdFileLayer, encode_frame, segment_path},
    tiles::{TILE_WIDTH, TileKind, TreeStore, tile_path, write_file_atomic},
};

/// Tuning of an [`AuditLog`]; the defaults suit the broker.
#[derive(Clone)]
pub struct Options {
    /// How often a new checkpoint is signed and written while entries arrive. Default 1 s:
    /// witnesses and monitors see the log grow with at most this lag.
    pub checkpoint_interval: Duration,
    /// How long an unavailable log waits between recovery probes. Default 1 s.
    pub retry_interval: Duration,
    /// Most records made durable by one sync. Default 4,096 (bounds the latency of one
    /// batch); 1 means one `fdatasync` per record (the benchmark's baseline).
    pub max_batch: usize,
    /// The file layer for segments; tests inject failures through it.
    pub file_layer: Arc<dyn FileLayer>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            checkpoint_interval: Duration::from_secs(1),
            retry_interval: Duration::from_secs(1),
            max_batch: 4096,
            file_layer: Arc::new(StdFileLayer),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("retry_interval", &self.retry_interval)
            .field("max_batch", &self.max_batch)
            .field("file_layer", &self.file_layer)
            .finish()
    }
}

/// A record made durable: where it is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its index (0-based) in the log.
    pub index: u64,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Hash,
    /// The durable tree size right after its batch (greater than `index`).
    pub tree_size: u64,
}

/// The write-ahead audit log. Cheap to clone; the last clone dropped shuts the writer down
/// cleanly (pending records are written and a final checkpoint is signed).
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.inner.shared.dir)
            .field("size", &self.size())
            .field("available", &self.is_available())
            .finish()
    }
}

struct Inner {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stop(Stop::Drain);
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

struct Shared {
    dir: PathBuf,
    origin: String,
    signer: LogSigner,
    queue: Mutex<Queue>,
    wake: Condvar,
    available: AtomicBool,
    tree: RwLock<TreeStore>,
    /// The newest signed checkpoint, persisted or not; receipts reuse it while it covers
    /// them, so a burst of completions costs one signature.
    latest: Mutex<Option<SignedCheckpoint>>,
}

#[derive(Default)]
struct Queue {
    appends: Vec<Pending>,
    checkpoints: Vec<oneshot::Sender<Result<SignedCheckpoint, AuditError>>>,
    stop: Option<Stop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Write what is queued, sign a final checkpoint, exit.
    Drain,
    /// Exit now, as a killed process would (tests).
    Crash,
}

struct Pending {
    entry: Vec<u8>,
    leaf: Hash,
    reply: oneshot::Sender<Result<Appended, AuditError>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the audit log down with it: the data is still sound.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn stop(&self, how: Stop) {
        let mut queue = lock(&self.queue);
        if queue.stop != Some(Stop::Crash) {
            queue.stop = Some(how);
        }
        self.wake.notify_all();
    }

    fn tree(&self) -> std::sync::RwLockReadGuard<'_, TreeStore> {
        self.tree
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A signed checkpoint of at least `min_size` entries, signing one if needed.
    fn signed_at_least(&self, min_size: u64) -> Result<SignedCheckpoint, AuditError> {
        let mut latest = lock(&self.latest);
        if let Some(signed) = latest.as_ref()
            && signed.checkpoint().size >= min_size
        {
            return Ok(signed.clone());
        }
        let (size, root) = {
            let tree = self.tree();
            (tree.size(), merkle::root(&*tree, tree.size())?)
        };
        if size < min_size {
            return Err(AuditError::OutOfRange {
                index: min_size - 1,
                size,
            });
        }
        let signed = self.signer.sign(Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        })?;
        *latest = Some(signed.clone());
        Ok(signed)
    }
}

impl AuditLog {
    /// Opens (creating if needed) the log in `dir`, signing checkpoints with `signer`
    /// under `origin`. Recovers from a crash: a torn, never-acknowledged tail is cut, tiles
    /// and bundles are rebuilt from the entries, and the result must match the signed
    /// checkpoint or the log refuses to open ([`AuditError::Corrupt`]).
    pub fn open(dir: &Path, signer: LogSigner, origin: &str) -> Result<AuditLog, AuditError> {
        AuditLog::open_with(dir, signer, origin, Options::default())
    }

    /// [`AuditLog::open`] with explicit [`Options`].
    pub fn open_with(
        dir: &Path,
        signer: LogSigner,
        origin: &str,
        options: Options,
    ) -> Result<AuditLog, AuditError> {
        if origin.is_empty() || origin.contains('\n') {
            return Err(AuditError::Key(format!(
                "origin {origin:?} is not one line of text"
            )));
        }
        fs::create_dir_all(dir.join("log")).map_err(AuditError::io("cannot create", dir))?;
        let lock_file = take_lock(dir)?;
        let key = signer.verifier()?;
        let Loaded {
            tree,
            active_segment,
            active_len,
            bundle,
            derived,
            checkpoint,
        } = load(dir, &Mode::Write { key: &key, origin })?;
        let size = tree.size();
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            origin: origin.to_owned(),
            signer,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            available: AtomicBool::new(true),
            tree: RwLock::new(tree),
            latest: Mutex::new(checkpoint.clone()),
        });
        let mut writer = Writer {
            shared: shared.clone(),
            options,
            _lock: lock_file,
            segment: active_segment,
            file: None,
            acked_len: active_len,
            size,
            bundle,
            derived: derived.into(),
            persisted: checkpoint,
            last_checkpoint: Instant::now(),
            failed_at: None,
            buf: Vec::new(),
            trimmed_to: 0,
        };
        // Open the active segment now so a bad directory fails `open`, not the first append.
        writer.ensure_segment().map_err(AuditError::io(
            "cannot open",
            segment_path(dir, active_segment),
        ))?;
        // A fresh or recovered log gets a checkpoint for its current size at once, so
        // `verify` always has one to check against.
        writer.persist_checkpoint()?;
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run())
            .map_err(AuditError::io("cannot start the writer for", dir))?;
        Ok(AuditLog {
            inner: Arc::new(Inner {
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Appends a record. The future resolves once the record is durable (`fdatasync`ed),
    /// or with [`AuditError::Unavailable`] if it could not be made durable. The record's
    /// place in the log is fixed when `append` is called, not when the future is polled.
    pub fn append(
        &self,
        record: &AuditRecord,
    ) -> impl Future<Output = Result<Appended, AuditError>> + Send + use<> {
        let queued = self.enqueue(record);
        async move {
            match queued {
                Ok(reply) => reply.await.unwrap_or(Err(AuditError::Closed)),
                Err(error) => Err(error),
            }
        }
    }

    fn enqueue(
        &self,
        record: &AuditRecord,
    ) -> Result<oneshot::Receiver<Result<Appended, AuditError>>, AuditError> {
        let entry = record.encode()?;
        let shared = &self.inner.shared;
        if !shared.available.load(Ordering::Acquire) {
            return Err(AuditError::Unavailable);
        }
        // Hash here, on the caller's thread, to keep the writer's loop short.
        let leaf = leaf_hash(&entry);
        let (reply, receiver) = oneshot::channel();
        let mut queue = lock(&shared.queue);
        if queue.stop.is_some() {
            return Err(AuditError::Closed);
        }
        queue.appends.push(Pending { entry, leaf, reply });
        if queue.appends.len() == 1 {
            shared.wake.notify_one();
        }
        Ok(receiver)
    }

    /// A receipt for an appended record: its index and leaf hash with a signed checkpoint
    /// that contains it (the newest one if it does, else one signed now).
    pub fn receipt(&self, appended: &Appended) -> Result<Receipt, AuditError> {
        let checkpoint = self.inner.shared.signed_at_least(appended.index + 1)?;
        Ok(Receipt {
            index: appended.index,
            leaf_hash: appended.leaf_hash,
            checkpoint,
        })
    }

    /// Signs a checkpoint of everything durable now and writes it (with its partial tiles)
    /// to disk; resolves once it is durable.
    pub fn checkpoint(
        &self,
    ) -> impl Future<Output = Result<SignedCheckpoint, AuditError>> + Send + use<> {
        let (reply, receiver) = oneshot::channel();
        let shared = &self.inner.shared;
        {
            let mut queue = lock(&shared.queue);
            if queue.stop.is_none() {
                queue.checkpoints.push(reply);
                shared.wake.notify_one();
            }
        }
        async move { receiver.await.unwrap_or(Err(AuditError::Closed)) }
    }

    /// The newest signed checkpoint (possibly not yet written to disk).
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        lock(&self.inner.shared.latest).clone()
    }

    /// Number of durable entries.
    pub fn size(&self) -> u64 {
        self.inner.shared.tree().size()
    }

    /// Whether appends are accepted; false after a write or sync failed, until a probe
    /// succeeds. The broker reports itself unhealthy while this is false.
    pub fn is_available(&self) -> bool {
        self.inner.shared.available.load(Ordering::Acquire)
    }

    /// Root hash of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash, AuditError> {
        let tree = self.inner.shared.tree();
        check_size(size, tree.size())?;
        merkle::root(&*tree, size)
    }

    /// Inclusion proof of entry `index` in the tree of `tree_size` entries.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, AuditError> {
        let tree = self.inner.shared.tree();
        check_size(tree_size, tree.size())?;
        merkle::inclusion_proof(&*tree, index, tree_size)
    }

    /// Consistency proof between the trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        let tree = self.inner.shared.tree();
        check_size(new, tree.size())?;
        merkle::consistency_proof(&*tree, old, new)
    }

    /// The log's public key in signed-note format.
    pub fn verifier_key(&self) -> &str {
        self.inner.shared.signer.verifier_key()
    }

    /// Writes what is queued, signs a final checkpoint and stops the writer. Later appends
    /// on other clones fail with [`AuditError::Closed`].
    pub fn close(self) {
        self.inner.shared.stop(Stop::Drain);
        if let Some(thread) = lock(&self.inner.thread).take() {
            let _ = thread.join();
        }
    }

    /// Stops the writer at once, as `kill -9` would: queued records are dropped
    /// unacknowledged, no final checkpoint is written. For crash tests only.
    #[doc(hidden)]
    pub fn dangerous_crash(self) {
        self.inner.shared.stop(Stop::Crash);
        if let Some(thread) = lock(&self.inner.thread).take() {
            let _ = thread.join();
        }
    }
}

fn check_size(size: u64, durable: u64) -> Result<(), AuditError> {
    if size > durable {
        return Err(AuditError::OutOfRange {
            index: size,
            size: durable,
        });
    }
    Ok(())
}

/// One process appends to a log directory at a time.
fn take_lock(dir: &Path) -> Result<File, AuditError> {
    let path = dir.join("LOCK");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(AuditError::io("cannot open", &path))?;
    #[allow(clippy::incompatible_msrv)] // File::try_lock is std since 1.89; the toolchain is newer.
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(AuditError::Locked(dir.to_owned())),
        Err(fs::TryLockError::Error(error)) => Err(AuditError::io("cannot lock", &path)(error)),
    }
}

/// State owned by the writer thread.
struct Writer {
    shared: Arc<Shared>,
    options: Options,
    _lock: File,
    segment: u64,
    file: Option<Box<dyn SegmentFile>>,
    /// Bytes of the active segment that are durable and acknowledged.
    acked_len: u64,
    size: u64,
    /// The partial entry bundle being filled.
    bundle: Vec<u8>,
    /// Tiles and bundles still to write, in order; a failure leaves them queued.
    derived: std::collections::VecDeque<(PathBuf, Vec<u8>)>,
    persisted: Option<SignedCheckpoint>,
    last_checkpoint: Instant,
    failed_at: Option<Instant>,
    buf: Vec<u8>,
    /// Leaf hashes below this index have been dropped from memory.
    trimmed_to: u64,
}

impl Writer {
    fn run(mut self) {
        loop {
            let (batch, waiters, stop) = self.next_work();
            if stop == Some(Stop::Crash) {
                // Like a killed process: nothing queued is acknowledged.
                drop(batch);
                drop(mem::take(&mut lock(&self.shared.queue).appends));
                return;
            }
            if !batch.is_empty() {
                self.commit(batch);
            }
            if self.failed_at.is_some() {
                self.probe();
            }
            self.flush_derived();
            let due = self.size > self.persisted.as_ref().map_or(0, |c| c.checkpoint().size)
                && self.last_checkpoint.elapsed() >= self.options.checkpoint_interval;
            if !waiters.is_empty() || due || stop == Some(Stop::Drain) {
                let result = self.persist_checkpoint();
                if let Err(error) = &result {
                    tracing::warn!(%error, "audit log: cannot write checkpoint");
                }
                for waiter in waiters {
                    let _ = waiter.send(match &result {
                        Ok(signed) => Ok(signed.clone()),
                        Err(_) => Err(AuditError::Unavailable),
                    });
                }
            }
            if stop == Some(Stop::Drain) && lock(&self.shared.queue).appends.is_empty() {
                return;
            }
        }
    }

    /// Waits for work: appends, checkpoint requests, a stop, or a timer (checkpoint due,
    /// retry due). Never waits while appends are queued.
    #[allow(clippy::type_complexity)]
    fn next_work(
        &mut self,
    ) -> (
        Vec<Pending>,
        Vec<oneshot::Sender<Result<SignedCheckpoint, AuditError>>>,
        Option<Stop>,
    ) {
        let mut queue = lock(&self.shared.queue);
        let timeout = if self.failed_at.is_some() {
            self.options.retry_interval
        } else {
            self.options.checkpoint_interval
        };
        if queue.appends.is_empty() && queue.checkpoints.is_empty() && queue.stop.is_none() {
            queue = self
                .shared
                .wake
                .wait_timeout(queue, timeout)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        let take = queue.appends.len().min(self.options.max_batch.max(1));
        let batch = queue.appends.drain(..take).collect();
        (batch, mem::take(&mut queue.checkpoints), queue.stop)
    }

    fn commit(&mut self, batch: Vec<Pending>) {
        let mut batch = batch.into_iter().peekable();
        while batch.peek().is_some() {
            if self.failed_at.is_some() {
                break;
            }
            if let Err(error) = self.ensure_segment() {
                self.fail(&error);
                break;
            }
            let room = SEGMENT_ENTRIES - self.size % SEGMENT_ENTRIES;
            let chunk: Vec<Pending> = batch.by_ref().take(room as usize).collect();
            self.buf.clear();
            for (i, pending) in chunk.iter().enumerate() {
                encode_frame(&mut self.buf, self.size + i as u64, &pending.entry);
            }
            let written = match self.file.as_mut() {
                Some(file) => file.append(&self.buf).and_then(|()| file.sync_data()),
                None => Err(std::io::Error::other("no open segment")),
            };
            if let Err(error) = written {
                self.fail(&error);
                fail_all(chunk);
                break;
            }
            self.acked_len += self.buf.len() as u64;
            self.apply(chunk);
        }
        fail_all(batch);
    }

    /// Records a durable chunk in the tree, acknowledges it, and queues the tiles and
    /// bundles it completed.
    fn apply(&mut self, chunk: Vec<Pending>) {
        let mut completed = Vec::new();
        let first = self.size;
        let new_size = first + chunk.len() as u64;
        {
            let mut tree = self.shared.tree.write().unwrap_or_else(|p| p.into_inner());
            for pending in &chunk {
                tree.push(pending.leaf, &mut completed);
            }
            for &(level, n) in &completed {
                if let Some(bytes) = tree.tile_bytes(level, n, TILE_WIDTH) {
                    let path = tile_path(&self.shared.dir, TileKind::Hashes(level), n, TILE_WIDTH);
                    self.derived.push_back((path, bytes));
                }
            }
        }
        self.size = new_size;
        for (i, pending) in chunk.into_iter().enumerate() {
            let index = first + i as u64;
            self.bundle
                .extend_from_slice(&(pending.entry.len() as u16).to_be_bytes());
            self.bundle.extend_from_slice(&pending.entry);
            if (index + 1).is_multiple_of(TILE_WIDTH) {
                let path = tile_path(
                    &self.shared.dir,
                    TileKind::Entries,
                    index / TILE_WIDTH,
                    TILE_WIDTH,
                );
                self.derived.push_back((path, mem::take(&mut self.bundle)));
            }
            let _ = pending.reply.send(Ok(Appended {
                index,
                leaf_hash: pending.leaf,
                tree_size: new_size,
            }));
        }
    }

    /// Makes sure the segment for the next entry is open, rotating at segment boundaries.
    fn ensure_segment(&mut self) -> std::io::Result<()> {
        let wanted = self.size / SEGMENT_ENTRIES;
        if self.file.is_some() && self.segment == wanted {
            return Ok(());
        }
        if self.file.is_some() {
            // Sealing: each segment keeps a signed checkpoint of its last entry.
            if let Err(error) = self.persist_checkpoint() {
                tracing::warn!(%error, "audit log: cannot write the sealing checkpoint");
            }
            self.file = None;
            self.acked_len = 0;
            self.segment = wanted;
        }
        let path = segment_path(&self.shared.dir, wanted);
        let file = self.options.file_layer.open_segment(&path)?;
        self.options
            .file_layer
            .sync_dir(&self.shared.dir.join("log"))?;
        self.file = Some(file);
        Ok(())
    }

    fn fail(&mut self, error: &dyn fmt::Display) {
        if self.failed_at.is_none() {
            tracing::error!(%error, "audit log unavailable: records cannot be made durable");
        }
        self.failed_at = Some(Instant::now());
        self.shared.available.store(false, Ordering::Release);
        // Queued appends were accepted before the failure; fail them now, not after a wait.
        let queued = mem::take(&mut lock(&self.shared.queue).appends);
        fail_all(queued);
    }

    /// While unavailable: drop whatever a failed write left after the acknowledged bytes,
    /// then check that space is back by writing and syncing a probe block.
    fn probe(&mut self) {
        let Some(failed_at) = self.failed_at else {
            return;
        };
        if failed_at.elapsed() < self.options.retry_interval {
            return;
        }
        static PROBE: [u8; 64 * 1024] = [0; 64 * 1024];
        let acked = self.acked_len;
        let result = match self.file.as_mut() {
            Some(file) => file
                .truncate(acked)
                .and_then(|()| file.append(&PROBE))
                .and_then(|()| file.sync_data())
                .and_then(|()| file.truncate(acked))
                .and_then(|()| file.sync_data()),
            None => self.ensure_segment(),
        };
        match result {
            Ok(()) => {
                tracing::info!("audit log available again");
                self.failed_at = None;
                self.shared.available.store(true, Ordering::Release);
            }
            Err(_) => self.failed_at = Some(Instant::now()),
        }
    }

    /// Writes queued tiles and bundles in order, stopping at the first failure (retried
    /// later). They are derived data: a crash before they reach the disk is repaired by
    /// `open`, so they are not synced.
    fn flush_derived(&mut self) -> bool {
        while let Some((path, bytes)) = self.derived.front() {
            if let Err(error) = write_file_atomic(path, bytes, false) {
                tracing::warn!(path = %path.display(), %error, "audit log: cannot write tile");
                return false;
            }
            // A full tile supersedes its partial versions (C2SP allows deleting them).
            let mut partial = path.as_os_str().to_owned();
            partial.push(".p");
            let _ = fs::remove_dir_all(PathBuf::from(partial));
            self.derived.pop_front();
        }
        // Leaf hashes of earlier segments now live in their tiles.
        let segment_start = self.segment * SEGMENT_ENTRIES;
        if self.trimmed_to < segment_start {
            self.shared
                .tree
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .trim_leaves(segment_start);
            self.trimmed_to = segment_start;
        }
        true
    }

    /// Signs a checkpoint of the current size and writes it durably, after the partial
    /// tiles and bundle that serve it.
    fn persist_checkpoint(&mut self) -> Result<SignedCheckpoint, AuditError> {
        self.last_checkpoint = Instant::now();
        if let Some(persisted) = &self.persisted
            && persisted.checkpoint().size == self.size
        {
            return Ok(persisted.clone());
        }
        {
            let tree = self.shared.tree();
            for (level, n, width) in tree.partial_tiles() {
                if let Some(bytes) = tree.tile_bytes(level, n, width) {
                    let path = tile_path(&self.shared.dir, TileKind::Hashes(level), n, width);
                    self.derived.push_back((path, bytes));
                }
            }
        }
        let width = self.size % TILE_WIDTH;
        if width > 0 {
            let path = tile_path(
                &self.shared.dir,
                TileKind::Entries,
                self.size / TILE_WIDTH,
                width,
            );
            self.derived.push_back((path, self.bundle.clone()));
        }
        if !self.flush_derived() {
            return Err(AuditError::Unavailable);
        }
        let signed = self.shared.signed_at_least(self.size)?;
        let dir = &self.shared.dir;
        let path = dir.join("checkpoint");
        write_file_atomic(&path, signed.as_bytes(), true)
            .map_err(AuditError::io("cannot write", &path))?;
        if self.size > 0 {
            let segment = (self.size - 1) / SEGMENT_ENTRIES;
            let path = dir.join("log").join(format!("{segment:012}.checkpoint"));
            write_file_atomic(&path, signed.as_bytes(), true)
                .map_err(AuditError::io("cannot write", &path))?;
        }
        self.persisted = Some(signed.clone());
        Ok(signed)
    }
}

fn fail_all(pending: impl IntoIterator<Item = Pending>) {
    for pending in pending {
        let _ = pending.reply.send(Err(AuditError::Unavailable));
    }
}
