//! `verify`: recompute the whole log from its entries and check it against every signed
//! checkpoint, naming the first bad entry.
//!
//! Three independent witnesses locate damage: each frame's checksum and index (a flipped
//! byte, a deleted, inserted or moved entry), the published level-0 tiles (an entry
//! rewritten with a fresh checksum), and the signed checkpoints (anything else, down to the
//! span between two checkpoints). Only the checkpoints are signed; the other two make the
//! report precise.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use crate::{
    checkpoint::{Checkpoint, SignedCheckpoint, VerifierKey},
    error::{EntryProblem, VerifyError},
    merkle::{Frontier, Hash, leaf_hash},
    segment::{FRAME_OVERHEAD, FrameFault, MAX_ENTRY, SEGMENT_ENTRIES, segment_path},
    tiles::{TILE_WIDTH, read_full_tile},
};

/// What a successful `verify` checked.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Entries recomputed.
    pub entries: u64,
    /// The newest signed checkpoint, which the entries match.
    pub latest: Checkpoint,
    /// Distinct signed checkpoints checked.
    pub checkpoints: usize,
    /// Full level-0 tiles compared with the entries.
    pub tiles_checked: u64,
    /// Full level-0 tiles absent (derived data: `open` rewrites them).
    pub tiles_missing: u64,
    /// Entries after the newest checkpoint: checked for integrity, not yet signed.
    pub unsigned_entries: u64,
    /// A frame cut short at the very end, beyond the newest checkpoint: a write in progress
    /// or a crash's torn tail (never acknowledged); its byte offset in the last segment.
    pub torn_tail_at: Option<u64>,
}

/// Recomputes the log in `dir` and checks it against its checkpoints, signed by `key`.
/// `progress(done, total)` is called now and then with bytes of segments read.
pub fn verify(
    dir: &Path,
    key: &VerifierKey,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    let checkpoints = read_checkpoints(dir, key)?;
    let Some((_, latest)) = checkpoints.iter().next_back() else {
        return Err(VerifyError::NoCheckpoint(dir.to_owned()));
    };
    let latest = latest.clone();
    let segments = crate::segment::list_segments(dir).map_err(|error| VerifyError::Io {
        path: dir.join("log"),
        source: std::io::Error::other(error.to_string()),
    })?;
    let total_bytes: u64 = segments
        .iter()
        .map(|&s| fs::metadata(segment_path(dir, s)).map_or(0, |m| m.len()))
        .sum();

    let mut state = Walk {
        frontier: Frontier::default(),
        pending: checkpoints
            .iter()
            .map(|(&size, c)| (size, c.root))
            .collect(),
        last_good: 0,
        tile: None,
        tiles_checked: 0,
        tiles_missing: 0,
        signed_size: latest.size,
    };
    state.check_checkpoints()?;
    let mut done_bytes = 0u64;
    let mut torn_tail_at = None;
    progress(0, total_bytes);
    for (position, &number) in segments.iter().enumerate() {
        let expected_first = position as u64 * SEGMENT_ENTRIES;
        let path = segment_path(dir, number);
        if number != position as u64 {
            return Err(missing(expected_first, &latest, &path));
        }
        let last = position + 1 == segments.len();
        let scanned = scan_segment(
            &path,
            expected_first,
            |index, leaf, offset| {
                if !state.tile_agrees(dir, index, &leaf) {
                    return Err(entry_error(
                        index,
                        EntryProblem::TileMismatch,
                        &path,
                        offset,
                    ));
                }
                state.frontier.push(leaf);
                state.check_checkpoints()
            },
            |offset| progress(done_bytes + offset, total_bytes),
        )?;
        let (next_index, offset) = match scanned {
            Ok(end) => end,
            Err((FrameFault::Truncated, index, offset)) if last && index >= latest.size => {
                torn_tail_at = Some(offset);
                (index, offset)
            }
            Err((fault, index, offset)) => {
                let problem = match fault {
                    FrameFault::Truncated => EntryProblem::Truncated,
                    FrameFault::BadLength => EntryProblem::Malformed,
                    FrameFault::Checksum => EntryProblem::Checksum,
                    FrameFault::Misplaced(found) => EntryProblem::Misplaced { found },
                };
                return Err(entry_error(index, problem, &path, offset));
            }
        };
        if !last && next_index != expected_first + SEGMENT_ENTRIES {
            return Err(entry_error(
                next_index,
                EntryProblem::Truncated,
                &path,
                offset,
            ));
        }
        done_bytes += fs::metadata(&path).map_or(0, |m| m.len());
        progress(done_bytes.min(total_bytes), total_bytes);
    }
    let entries = state.frontier.size();
    if entries < latest.size {
        let path = segment_path(dir, entries / SEGMENT_ENTRIES);
        return Err(missing(entries, &latest, &path));
    }
    Ok(VerifyReport {
        entries,
        unsigned_entries: entries - latest.size,
        latest,
        checkpoints: checkpoints.len(),
        tiles_checked: state.tiles_checked,
        tiles_missing: state.tiles_missing,
        torn_tail_at,
    })
}

struct Walk {
    frontier: Frontier,
    /// Checkpoint roots still to meet, by size.
    pending: BTreeMap<u64, Hash>,
    /// Size of the last checkpoint that matched.
    last_good: u64,
    /// The level-0 tile covering the current entries, if published.
    tile: Option<(u64, Option<Vec<Hash>>)>,
    tiles_checked: u64,
    tiles_missing: u64,
    /// Full tiles must exist below this size (the newest checkpoint's).
    signed_size: u64,
}

impl Walk {
    fn check_checkpoints(&mut self) -> Result<(), VerifyError> {
        let size = self.frontier.size();
        while let Some((&want_size, &root)) = self.pending.first_key_value() {
            if want_size > size {
                break;
            }
            self.pending.pop_first();
            if self.frontier.root() != root {
                return Err(VerifyError::Entry {
                    index: self.last_good,
                    problem: EntryProblem::RootMismatch {
                        checkpoint_size: want_size,
                    },
                    location: format!("entries {}..{want_size}", self.last_good),
                });
            }
            self.last_good = want_size;
        }
        Ok(())
    }

    fn tile_agrees(&mut self, dir: &Path, index: u64, leaf: &Hash) -> bool {
        let n = index / TILE_WIDTH;
        if self.tile.as_ref().map(|(t, _)| *t) != Some(n) {
            let hashes = read_full_tile(dir, 0, n);
            match hashes {
                Some(_) => self.tiles_checked += 1,
                None if (n + 1) * TILE_WIDTH <= self.signed_size => self.tiles_missing += 1,
                None => {}
            }
            self.tile = Some((n, hashes));
        }
        match &self.tile {
            Some((_, Some(hashes))) => hashes[(index % TILE_WIDTH) as usize] == *leaf,
            // Absent (or the last, partial group): nothing to compare with.
            _ => true,
        }
    }
}

fn entry_error(index: u64, problem: EntryProblem, path: &Path, offset: u64) -> VerifyError {
    VerifyError::Entry {
        index,
        problem,
        location: format!("{} at byte {offset}", path.display()),
    }
}

fn missing(index: u64, latest: &Checkpoint, path: &Path) -> VerifyError {
    VerifyError::Entry {
        index,
        problem: EntryProblem::Missing {
            checkpoint_size: latest.size,
        },
        location: format!("{} is missing or short", path.display()),
    }
}

/// Every checkpoint in the directory (`checkpoint` and one per segment), signature checked,
/// by size.
fn read_checkpoints(
    dir: &Path,
    key: &VerifierKey,
) -> Result<BTreeMap<u64, Checkpoint>, VerifyError> {
    let mut paths: Vec<PathBuf> = vec![dir.join("checkpoint")];
    if let Ok(read) = fs::read_dir(dir.join("log")) {
        let mut per_segment: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "checkpoint"))
            .collect();
        per_segment.sort();
        paths.extend(per_segment);
    }
    let mut found: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    let mut origin: Option<String> = None;
    for path in paths {
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(VerifyError::Io { path, source }),
        };
        let bad = |detail: String| VerifyError::Checkpoint {
            path: path.clone(),
            detail,
        };
        let head = SignedCheckpoint::open(&bytes, key)
            .map_err(bad)?
            .checkpoint()
            .clone();
        match &origin {
            Some(origin) if *origin != head.origin => {
                return Err(bad(format!(
                    "names origin {:?}, not {origin:?}",
                    head.origin
                )));
            }
            _ => origin = Some(head.origin.clone()),
        }
        if let Some(other) = found.get(&head.size)
            && other.root != head.root
        {
            return Err(bad(format!(
                "two signed checkpoints of size {} disagree (a split view)",
                head.size
            )));
        }
        found.insert(head.size, head);
    }
    Ok(found)
}

/// Bytes read per step; a step's entries are checked and hashed on two threads.
const SCAN_CHUNK: usize = 8 << 20;

/// Where a scan stopped on a bad frame: the fault, the entry's index, its byte offset.
type FrameStop = (FrameFault, u64, u64);

/// Reads one segment, checking each frame's CRC and index and hashing each entry, the
/// checks and hashes of a chunk split over two threads (hashing is most of `verify`'s
/// work); `entry(index, leaf, offset)` then sees the entries in order. Returns the index
/// and offset after the last good frame, or where the first bad frame starts.
fn scan_segment(
    path: &Path,
    first_index: u64,
    mut entry: impl FnMut(u64, Hash, u64) -> Result<(), VerifyError>,
    mut progress: impl FnMut(u64),
) -> Result<Result<(u64, u64), FrameStop>, VerifyError> {
    let io_error = |source| VerifyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io_error)?;
    let mut data: Vec<u8> = Vec::with_capacity(SCAN_CHUNK + MAX_ENTRY as usize + FRAME_OVERHEAD);
    // File offset of data[0].
    let mut base = 0u64;
    let mut next_index = first_index;
    loop {
        let eof = read_chunk(&mut file, &mut data).map_err(io_error)?;
        // Frame boundaries (start, length, declared index), up to the first bad header.
        let mut frames: Vec<(usize, usize, u64)> = Vec::new();
        let mut at = 0usize;
        let mut header_fault = None;
        loop {
            let rest = data.len() - at;
            if rest < 12 {
                if eof && rest > 0 {
                    header_fault = Some(FrameFault::Truncated);
                }
                break;
            }
            let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap_or_default());
            if len == 0 || len > MAX_ENTRY {
                header_fault = Some(FrameFault::BadLength);
                break;
            }
            let frame_len = len as usize + FRAME_OVERHEAD;
            if rest < frame_len {
                if eof {
                    header_fault = Some(FrameFault::Truncated);
                }
                break;
            }
            let declared = u64::from_be_bytes(data[at + 4..at + 12].try_into().unwrap_or_default());
            frames.push((at, frame_len, declared));
            at += frame_len;
        }
        let checked = check_frames(&data, &frames);
        for (&(start, _, declared), (crc_ok, leaf)) in frames.iter().zip(checked) {
            let offset = base + start as u64;
            if !crc_ok {
                return Ok(Err((FrameFault::Checksum, next_index, offset)));
            }
            if declared != next_index {
                return Ok(Err((FrameFault::Misplaced(declared), next_index, offset)));
            }
            entry(next_index, leaf, offset)?;
            next_index += 1;
        }
        if let Some(fault) = header_fault {
            return Ok(Err((fault, next_index, base + at as u64)));
        }
        data.drain(..at);
        base += at as u64;
        progress(base);
        if eof {
            return Ok(Ok((next_index, base)));
        }
    }
}

/// Appends up to [`SCAN_CHUNK`] bytes; true at end of file.
fn read_chunk(file: &mut fs::File, data: &mut Vec<u8>) -> std::io::Result<bool> {
    use std::io::Read as _;
    // `read_to_end` fills spare capacity without zeroing it first.
    let read = file.by_ref().take(SCAN_CHUNK as u64).read_to_end(data)?;
    Ok(read < SCAN_CHUNK)
}

/// CRC check and leaf hash of each frame, on this thread and one helper.
fn check_frames(data: &[u8], frames: &[(usize, usize, u64)]) -> Vec<(bool, Hash)> {
    let one = |&(start, frame_len, _): &(usize, usize, u64)| {
        let frame = &data[start..start + frame_len];
        let (covered, crc) = frame.split_at(frame_len - 4);
        let ok = crc32fast::hash(covered).to_be_bytes() == crc;
        (ok, leaf_hash(&covered[12..]))
    };
    if frames.len() < 256 {
        return frames.iter().map(one).collect();
    }
    let (first, second) = frames.split_at(frames.len() / 2);
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| second.iter().map(one).collect::<Vec<_>>());
        let mut results: Vec<_> = first.iter().map(one).collect();
        // A panic in the helper is a bug in hashing code: re-raise it here.
        results.extend(
            helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
        results
    })
}
