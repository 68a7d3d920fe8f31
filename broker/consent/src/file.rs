//! The embedded store: an append-only event log in a directory, replayed into memory at
//! open; one node.
//!
//! `<dir>/consents.log` holds one event per line — `<canonical JSON> <CRC-32, 8 hex>` — the
//! first being a header. A grant, a revocation or the consumption of a single-use consent is
//! acknowledged only after its line is `fdatasync`ed; a writer thread does greedy group
//! commit (it syncs as soon as the previous sync finished, taking whatever queued meanwhile),
//! so concurrent changes share syncs and a lone one never waits for a batch. Checks of
//! reusable consents read only memory.
//!
//! At open, a torn tail (lines after the last complete, checksummed one, as a crash mid-write
//! leaves) is cut: none of it was acknowledged. A bad line followed by good ones is damage,
//! not a crash, and the store refuses to open ([`StoreError::Corrupt`]).

use std::{
    collections::HashMap,
    fmt,
    fs::{self, File, OpenOptions},
    io::Write as _,
    mem,
    path::{Path, PathBuf},
    sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard},
    thread::JoinHandle,
};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tongdao_core::ids::NationalId;

use crate::{
    error::StoreError,
    model::{Consent, ConsentId, ConsentIn, ConsentOut, ConsentState},
    record::StoredConsent,
    store::{
        CheckError, ConsentStore, Permit, Refusal, Revocation, Standing, StoreFuture, Use, evaluate,
    },
    subject::{Pseudonym, SubjectKey},
    timestamp::Timestamp,
};

/// The log's file name inside the store's directory.
pub const LOG_FILE: &str = "consents.log";

const FORMAT_NAME: &str = "tongdao-consent-log";
const FORMAT_VERSION: u32 = 1;

/// The embedded consent store. Cheap to clone; the last clone dropped stops its writer
/// after writing what is queued.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    key: SubjectKey,
    state: RwLock<State>,
    queue: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.queue.stop();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.inner.path)
            .field("consents", &self.inner.read().consents.len())
            .finish()
    }
}

/// The in-memory index.
#[derive(Default)]
struct State {
    consents: HashMap<ConsentId, Entry>,
    by_subject: HashMap<Pseudonym, Vec<ConsentId>>,
}

struct Entry {
    consent: StoredConsent,
    /// False while its grant is being written: the consent is not usable yet.
    durable: bool,
    revoked: Option<Mark>,
    used: Option<Mark>,
    /// The recipe run whose leg used it, when one did.
    used_by: Option<String>,
}

/// A revocation or use: in force from the moment it is recorded in memory (so concurrent
/// checks see it at once), acknowledged once durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    at: Timestamp,
    durable: bool,
}

impl Entry {
    fn standing(&self, subject: &Pseudonym) -> Standing<'_> {
        Standing {
            terms: &self.consent.terms,
            subject_matches: self.consent.subject == *subject,
            revoked_at: self.revoked.map(|m| m.at),
            used_at: self.used.map(|m| m.at),
            used_by: self.used_by.as_deref(),
        }
    }
}

impl State {
    fn insert(&mut self, consent: StoredConsent, durable: bool) {
        let id = consent.id;
        let subject = consent.subject;
        self.consents.insert(
            id,
            Entry {
                consent,
                durable,
                revoked: None,
                used: None,
                used_by: None,
            },
        );
        self.by_subject.entry(subject).or_default().push(id);
    }

    fn remove(&mut self, id: &ConsentId) {
        if let Some(entry) = self.consents.remove(id)
            && let Some(ids) = self.by_subject.get_mut(&entry.consent.subject)
        {
            ids.retain(|other| other != id);
            if ids.is_empty() {
                self.by_subject.remove(&entry.consent.subject);
            }
        }
    }

    /// A consent whose grant is durable.
    fn granted(&self, id: &ConsentId) -> Option<&Entry> {
        self.consents.get(id).filter(|entry| entry.durable)
    }

    fn granted_mut(&mut self, id: &ConsentId) -> Option<&mut Entry> {
        self.consents.get_mut(id).filter(|entry| entry.durable)
    }
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic elsewhere leaves the index consistent (every mutation is one assignment).
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`, filing subjects under `key`'s
    /// pseudonyms. Replays the log, cutting a torn tail; refuses a damaged log
    /// ([`StoreError::Corrupt`]) or a directory another process holds
    /// ([`StoreError::Locked`]).
    pub fn open(dir: &Path, key: SubjectKey) -> Result<FileStore, StoreError> {
        fs::create_dir_all(dir).map_err(StoreError::io("cannot create", dir))?;
        let lock_file = take_lock(dir)?;
        let path = dir.join(LOG_FILE);
        let existed = path.exists();
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(StoreError::io("cannot read", &path)(error)),
        };
        let Replayed { state, valid_len } = replay(&path, &data)?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(StoreError::io("cannot open", &path))?;
        if (valid_len as usize) < data.len() {
            tracing::warn!(
                path = %path.display(),
                cut_bytes = data.len() - valid_len as usize,
                "consent log: cutting a torn tail (never acknowledged)"
            );
            file.set_len(valid_len)
                .and_then(|()| file.sync_all())
                .map_err(StoreError::io("cannot repair", &path))?;
        }
        let mut acked_len = valid_len;
        if valid_len == 0 {
            let header = header_line();
            file.write_all(&header)
                .and_then(|()| file.sync_data())
                .map_err(StoreError::io("cannot write", &path))?;
            acked_len = header.len() as u64;
        }
        if !existed {
            // The new file's name must survive a crash too.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(StoreError::io("cannot sync", dir))?;
        }
        let queue = Arc::new(Shared::default());
        let writer = Writer {
            queue: queue.clone(),
            path: path.clone(),
            file,
            acked_len,
            broken: None,
            _lock: lock_file,
        };
        let thread = std::thread::Builder::new()
            .name("consent-writer".into())
            .spawn(move || writer.run())
            .map_err(StoreError::io("cannot start the writer for", &path))?;
        Ok(FileStore {
            inner: Arc::new(Inner {
                path,
                key,
                state: RwLock::new(state),
                queue,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Writes what is queued and stops the writer; later changes on other clones fail with
    /// [`StoreError::Closed`] (checks of reusable consents still answer from memory).
    pub fn close(&self) {
        self.inner.queue.stop();
        if let Some(thread) = lock(&self.inner.thread).take() {
            let _ = thread.join();
        }
    }

    /// Number of consents held (granted and durable).
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .consents
            .values()
            .filter(|entry| entry.durable)
            .count()
    }

    /// Whether the store holds no consent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn grant_inner(&self, consent: &Consent) -> Result<(), StoreError> {
        let subject = self.inner.key.pseudonym(consent.subject());
        let stored = StoredConsent::of(consent, subject);
        let line = encode_line(&EventOut::Grant {
            consent: stored.out(),
        });
        let id = stored.id;
        let written = {
            let mut state = self.inner.write();
            match state.consents.get(&id) {
                Some(entry) if entry.consent == stored && entry.durable => return Ok(()),
                // The same grant is being written by a concurrent call: write it again, so
                // this acknowledgement does not depend on the other's outcome (replay
                // ignores the duplicate).
                Some(entry) if entry.consent == stored => {}
                Some(_) => return Err(StoreError::Conflict(id)),
                None => state.insert(stored.clone(), false),
            }
            self.inner.queue.append(line)
        };
        let result = written.await;
        let mut state = self.inner.write();
        match (&result, state.consents.get_mut(&id)) {
            (Ok(()), Some(entry)) => entry.durable = true,
            (Ok(()), None) => state.insert(stored, true),
            (Err(_), Some(entry)) if !entry.durable => state.remove(&id),
            (Err(_), _) => {}
        }
        result
    }

    async fn revoke_inner(
        &self,
        id: &ConsentId,
        subject: &NationalId,
        at: Timestamp,
    ) -> Result<Revocation, StoreError> {
        let subject = self.inner.key.pseudonym(subject);
        let (mark_at, already, written) = {
            let mut state = self.inner.write();
            let Some(entry) = state
                .granted_mut(id)
                .filter(|entry| entry.consent.subject == subject)
            else {
                return Ok(Revocation::NotFound);
            };
            let (mark_at, already) = match entry.revoked {
                Some(Mark { at, durable: true }) => return Ok(Revocation::AlreadyRevoked { at }),
                // Being written by a concurrent call: write it again for this one's sake.
                Some(Mark { at, durable: false }) => (at, true),
                None => {
                    entry.revoked = Some(Mark { at, durable: false });
                    (at, false)
                }
            };
            let line = encode_line(&EventOut::Revoke { id, at: mark_at });
            (mark_at, already, self.inner.queue.append(line))
        };
        let result = written.await;
        let mut state = self.inner.write();
        if let Some(entry) = state.consents.get_mut(id) {
            match result {
                Ok(()) => {
                    entry.revoked = Some(Mark {
                        at: mark_at,
                        durable: true,
                    });
                }
                Err(_)
                    if !already
                        && entry.revoked
                            == Some(Mark {
                                at: mark_at,
                                durable: false,
                            }) =>
                {
                    entry.revoked = None;
                }
                Err(_) => {}
            }
        }
        result?;
        Ok(if already {
            Revocation::AlreadyRevoked { at: mark_at }
        } else {
            Revocation::Revoked { at: mark_at }
        })
    }

    fn list_inner(&self, subject: &NationalId) -> Vec<(Consent, ConsentState)> {
        let pseudonym = self.inner.key.pseudonym(subject);
        let state = self.inner.read();
        let mut listed: Vec<_> = state
            .by_subject
            .get(&pseudonym)
            .into_iter()
            .flatten()
            .filter_map(|id| state.granted(id))
            .map(|entry| {
                let durable = |mark: Option<Mark>| mark.filter(|m| m.durable).map(|m| m.at);
                (
                    Consent::from_parts(
                        entry.consent.id,
                        subject.clone(),
                        entry.consent.terms.clone(),
                    ),
                    ConsentState {
                        revoked_at: durable(entry.revoked),
                        used_at: durable(entry.used),
                    },
                )
            })
            .collect();
        listed.sort_by(|a, b| a.0.id().cmp(b.0.id()));
        listed
    }

    async fn check_inner(&self, id: &ConsentId, usage: &Use<'_>) -> Result<Permit, CheckError> {
        let subject = self.inner.key.pseudonym(usage.subject);
        let not_after = {
            let state = self.inner.read();
            let entry = state.granted(id).ok_or(Refusal::Unknown)?;
            evaluate(&entry.standing(&subject), usage)?;
            let not_after = entry.consent.terms.validity.not_after();
            if !entry.consent.terms.validity.is_single_use() {
                // Reusable: memory only, no I/O.
                return Ok(Permit {
                    id: *id,
                    consumed: false,
                    not_after,
                });
            }
            not_after
        };
        // Single use: test and set under the write lock, so one concurrent check wins. A leg of
        // the run that used it shares that use, once it is durable.
        let mark = Mark {
            at: usage.now,
            durable: false,
        };
        let written = loop {
            let pending = {
                let mut state = self.inner.write();
                let entry = state.granted_mut(id).ok_or(Refusal::Unknown)?;
                evaluate(&entry.standing(&subject), usage)?;
                match entry.used {
                    // Used by this run already (`evaluate` let it through), and recorded.
                    Some(used) if used.durable => {
                        return Ok(Permit {
                            id: *id,
                            consumed: false,
                            not_after,
                        });
                    }
                    // Used by this run, still being written: wait for the outcome.
                    Some(_) => None,
                    None => {
                        entry.used = Some(mark);
                        entry.used_by = usage.run.map(str::to_owned);
                        Some(self.inner.queue.append(encode_line(&EventOut::Use {
                            id,
                            at: usage.now,
                            run: usage.run,
                        })))
                    }
                }
            };
            match pending {
                Some(written) => break written,
                None => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
            }
        };
        let result = written.await;
        let mut state = self.inner.write();
        if let Some(entry) = state.consents.get_mut(id)
            && entry.used == Some(mark)
        {
            // On failure the consent is usable again: before anything else is written the
            // writer cuts the file back to what was acknowledged, so this use cannot
            // surface later.
            match result {
                Ok(()) => {
                    entry.used = Some(Mark {
                        durable: true,
                        ..mark
                    });
                }
                Err(_) => {
                    entry.used = None;
                    entry.used_by = None;
                }
            }
        }
        result?;
        Ok(Permit {
            id: *id,
            consumed: true,
            not_after,
        })
    }
}

impl ConsentStore for FileStore {
    fn grant<'a>(&'a self, consent: &'a Consent) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(self.grant_inner(consent))
    }

    fn revoke<'a>(
        &'a self,
        id: &'a ConsentId,
        subject: &'a NationalId,
        at: Timestamp,
    ) -> StoreFuture<'a, Result<Revocation, StoreError>> {
        Box::pin(self.revoke_inner(id, subject, at))
    }

    fn list<'a>(
        &'a self,
        subject: &'a NationalId,
    ) -> StoreFuture<'a, Result<Vec<(Consent, ConsentState)>, StoreError>> {
        Box::pin(async move { Ok(self.list_inner(subject)) })
    }

    fn check<'a>(
        &'a self,
        id: &'a ConsentId,
        usage: &'a Use<'a>,
    ) -> StoreFuture<'a, Result<Permit, CheckError>> {
        Box::pin(self.check_inner(id, usage))
    }
}

// ---------------------------------------------------------------------------------------
// The log's lines.

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum EventOut<'a> {
    Header {
        format: &'a str,
        version: u32,
    },
    Grant {
        consent: ConsentOut<'a, Pseudonym>,
    },
    Revoke {
        id: &'a ConsentId,
        at: Timestamp,
    },
    Use {
        id: &'a ConsentId,
        at: Timestamp,
        /// The recipe run whose leg used it; absent for a direct exchange (and in logs
        /// written before recipes), so those lines keep their form.
        #[serde(skip_serializing_if = "Option::is_none")]
        run: Option<&'a str>,
    },
}

#[derive(Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum EventIn {
    Header {},
    Grant {
        consent: ConsentIn<Pseudonym>,
    },
    Revoke {
        id: ConsentId,
        at: Timestamp,
    },
    Use {
        id: ConsentId,
        at: Timestamp,
        #[serde(default)]
        run: Option<String>,
    },
}

fn header_line() -> Vec<u8> {
    encode_line(&EventOut::Header {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
    })
}

/// `<json> <crc32 hex>\n`.
fn encode_line(event: &EventOut<'_>) -> Vec<u8> {
    // Strings and numbers only: serialising into a Vec cannot fail.
    let mut line = serde_json::to_vec(event).unwrap_or_default();
    let crc = crc32fast::hash(&line);
    writeln!(line, " {crc:08x}").unwrap_or_default();
    line
}

/// The event of one line (without its newline), or why it is not one.
fn decode_line(line: &[u8]) -> Result<EventIn, String> {
    let split = line.iter().rposition(|&b| b == b' ').ok_or("no checksum")?;
    let (json, crc) = (&line[..split], &line[split + 1..]);
    let crc = std::str::from_utf8(crc)
        .ok()
        .filter(|text| text.len() == 8)
        .and_then(|text| u32::from_str_radix(text, 16).ok())
        .ok_or("malformed checksum")?;
    if crc32fast::hash(json) != crc {
        return Err("checksum mismatch".into());
    }
    serde_json::from_slice(json).map_err(|error| format!("not an event: {error}"))
}

struct Replayed {
    state: State,
    /// Bytes up to the end of the last good line.
    valid_len: u64,
}

fn replay(path: &Path, data: &[u8]) -> Result<Replayed, StoreError> {
    let mut state = State::default();
    let corrupt = |line: usize, detail: String| StoreError::Corrupt {
        path: path.to_owned(),
        line,
        detail,
    };
    // The header line never varies: a file that does not begin with it is either cut short
    // while being created (start again) or not a consent log (never cut anything of it).
    let header = header_line();
    if !data.starts_with(&header) {
        if header.starts_with(data) {
            return Ok(Replayed {
                state,
                valid_len: 0,
            });
        }
        return Err(corrupt(
            1,
            format!("not a {FORMAT_NAME} of version {FORMAT_VERSION}"),
        ));
    }
    let mut offset = header.len();
    let mut number = 1;
    while offset < data.len() {
        number += 1;
        let rest = &data[offset..];
        let decoded = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => decode_line(&rest[..end]).map(|event| (event, end + 1)),
            None => Err("no end of line".into()),
        };
        let (event, len) = match decoded {
            Ok(decoded) => decoded,
            Err(detail) => {
                if later_line_is_good(rest) {
                    return Err(corrupt(number, detail));
                }
                break;
            }
        };
        apply(&mut state, event).map_err(|detail| corrupt(number, detail))?;
        offset += len;
    }
    Ok(Replayed {
        state,
        valid_len: offset as u64,
    })
}

/// Whether a good line follows the bad first line of `rest` (then the damage is not a torn
/// tail).
fn later_line_is_good(rest: &[u8]) -> bool {
    let mut lines = rest.split(|&b| b == b'\n');
    lines.next();
    let mut lines = lines.peekable();
    while let Some(line) = lines.next() {
        // The piece after the last newline has no end of line: never a complete line.
        if lines.peek().is_some() && decode_line(line).is_ok() {
            return true;
        }
    }
    false
}

fn apply(state: &mut State, event: EventIn) -> Result<(), String> {
    match event {
        EventIn::Header { .. } => return Err("a second header".into()),
        EventIn::Grant { consent } => {
            let consent = StoredConsent::from_in(consent)?;
            match state.consents.get(&consent.id) {
                None => state.insert(consent, true),
                Some(entry) if entry.consent == consent => {}
                Some(_) => {
                    return Err(format!("consent {} granted twice, differently", consent.id));
                }
            }
        }
        EventIn::Revoke { id, at } => {
            let entry = state
                .consents
                .get_mut(&id)
                .ok_or_else(|| format!("revocation of unknown consent {id}"))?;
            entry.revoked.get_or_insert(Mark { at, durable: true });
        }
        EventIn::Use { id, at, run } => {
            let entry = state
                .consents
                .get_mut(&id)
                .ok_or_else(|| format!("use of unknown consent {id}"))?;
            if !entry.consent.terms.validity.is_single_use() {
                return Err(format!("use recorded for reusable consent {id}"));
            }
            if entry.used.is_some() {
                return Err(format!("single-use consent {id} used twice"));
            }
            entry.used = Some(Mark { at, durable: true });
            entry.used_by = run;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The writer.

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    stopping: bool,
}

struct Pending {
    line: Vec<u8>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

impl Shared {
    /// Queues a line; the future resolves once it is durable.
    fn append(
        &self,
        line: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + use<> {
        let (reply, receiver) = oneshot::channel();
        let queued = {
            let mut queue = lock(&self.queue);
            if queue.stopping {
                false
            } else {
                queue.pending.push(Pending { line, reply });
                if queue.pending.len() == 1 {
                    self.wake.notify_one();
                }
                true
            }
        };
        async move {
            if !queued {
                return Err(StoreError::Closed);
            }
            receiver.await.unwrap_or(Err(StoreError::Closed))
        }
    }

    fn stop(&self) {
        lock(&self.queue).stopping = true;
        self.wake.notify_all();
    }
}

struct Writer {
    queue: Arc<Shared>,
    path: PathBuf,
    file: File,
    /// Bytes of the log that are durable and acknowledged.
    acked_len: u64,
    /// Why the last write failed, until the file is cut back to `acked_len`.
    broken: Option<String>,
    _lock: File,
}

impl Writer {
    fn run(mut self) {
        let mut buf = Vec::new();
        loop {
            let batch = {
                let mut queue = lock(&self.queue.queue);
                while queue.pending.is_empty() && !queue.stopping {
                    queue = self
                        .queue
                        .wake
                        .wait(queue)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                if queue.pending.is_empty() {
                    return;
                }
                mem::take(&mut queue.pending)
            };
            buf.clear();
            for pending in &batch {
                buf.extend_from_slice(&pending.line);
            }
            let result = self.commit(&buf);
            for pending in batch {
                let reply = match &result {
                    Ok(()) => Ok(()),
                    Err(detail) => Err(StoreError::Unavailable(detail.clone())),
                };
                // The caller may have gone away; the line is durable (or not) either way.
                let _ = pending.reply.send(reply);
            }
        }
    }

    /// Appends `buf` and syncs; after a failure, first cuts the file back to what was
    /// acknowledged, so nothing unacknowledged can resurface after a later success.
    fn commit(&mut self, buf: &[u8]) -> Result<(), String> {
        if let Some(cause) = &self.broken {
            self.file
                .set_len(self.acked_len)
                .and_then(|()| self.file.sync_all())
                .map_err(|error| format!("{cause}; repair failed: {error}"))?;
            tracing::info!(path = %self.path.display(), "consent log writable again");
            self.broken = None;
        }
        match self
            .file
            .write_all(buf)
            .and_then(|()| self.file.sync_data())
        {
            Ok(()) => {
                self.acked_len += buf.len() as u64;
                Ok(())
            }
            Err(error) => {
                let cause = format!("cannot write {}: {error}", self.path.display());
                tracing::error!(%cause, "consent log write failed; changes refused until it is repaired");
                self.broken = Some(cause.clone());
                Err(cause)
            }
        }
    }
}

/// One process uses a store directory at a time.
fn take_lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(StoreError::io("cannot open", &path))?;
    #[allow(clippy::incompatible_msrv)] // File::try_lock is std since 1.89; the toolchain is newer.
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked(dir.to_owned())),
        Err(fs::TryLockError::Error(error)) => Err(StoreError::io("cannot lock", &path)(error)),
    }
}
