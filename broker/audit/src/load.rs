//! Opening a log directory: reading the segments back, repairing a torn tail, rebuilding
//! tiles and entry bundles, and checking the result against the signed checkpoint.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::{
    checkpoint::{SignedCheckpoint, VerifierKey},
    error::AuditError,
    merkle::{self, leaf_hash},
    segment::{FrameFault, FrameReader, SEGMENT_ENTRIES, list_segments, segment_path},
    tiles::{TILE_WIDTH, TileKind, TreeStore, read_full_tile, tile_path},
};

/// How to open.
pub(crate) enum Mode<'a> {
    /// For appending: verify the checkpoint with this key and origin; repair the tail;
    /// collect derived files to rewrite.
    Write {
        key: &'a VerifierKey,
        origin: &'a str,
    },
    /// Read-only: change nothing, stop at the first unreadable frame.
    Read,
}

/// What the directory holds, ready for the writer or a reader.
pub(crate) struct Loaded {
    pub(crate) tree: TreeStore,
    /// The active (last) segment's number and its valid length in bytes.
    pub(crate) active_segment: u64,
    pub(crate) active_len: u64,
    /// The current partial entry bundle, encoded.
    pub(crate) bundle: Vec<u8>,
    /// Derived files (tiles, bundles) that are missing or wrong on disk.
    pub(crate) derived: Vec<(PathBuf, Vec<u8>)>,
    pub(crate) checkpoint: Option<SignedCheckpoint>,
}

pub(crate) fn load(dir: &Path, mode: &Mode<'_>) -> Result<Loaded, AuditError> {
    let checkpoint = read_checkpoint(dir, mode)?;
    let signed_size = checkpoint.as_ref().map_or(0, |c| c.checkpoint().size);
    let loaded = scan(dir, mode, signed_size, true)?;
    let Some(signed) = &checkpoint else {
        return Ok(Loaded {
            checkpoint,
            ..loaded
        });
    };
    let head = signed.checkpoint();
    if head.size > loaded.tree.size() {
        return Err(AuditError::Corrupt {
            index: Some(loaded.tree.size()),
            detail: format!(
                "the log ends after {} entries but its signed checkpoint covers {}",
                loaded.tree.size(),
                head.size
            ),
        });
    }
    if merkle::root(&loaded.tree, head.size).ok() == Some(head.root) {
        return Ok(Loaded {
            checkpoint,
            ..loaded
        });
    }
    // The fast path trusted level-1 tiles of sealed segments (a power cut can leave them
    // stale); rebuild everything from the entries before declaring damage.
    let loaded = scan(dir, mode, signed_size, false)?;
    if merkle::root(&loaded.tree, head.size)? != head.root {
        return Err(AuditError::Corrupt {
            index: None,
            detail: format!(
                "the entries do not hash to the signed checkpoint of size {}",
                head.size
            ),
        });
    }
    Ok(Loaded {
        checkpoint,
        ..loaded
    })
}

fn read_checkpoint(dir: &Path, mode: &Mode<'_>) -> Result<Option<SignedCheckpoint>, AuditError> {
    let mut path = dir.join("checkpoint");
    if !path.exists() {
        // `checkpoint` gone (deleted, or lost before its first write): the newest
        // per-segment copy still bounds what recovery may cut.
        let newest = crate::segment::list_segments(dir)?
            .into_iter()
            .rev()
            .map(|n| dir.join("log").join(format!("{n:012}.checkpoint")))
            .find(|p| p.exists());
        match newest {
            Some(newest) => path = newest,
            None => return Ok(None),
        }
    }
    let bytes = fs::read(&path).map_err(AuditError::io("cannot read", &path))?;
    let corrupt = |detail: String| AuditError::Corrupt {
        index: None,
        detail: format!("{}: {detail}", path.display()),
    };
    match mode {
        Mode::Read => SignedCheckpoint::parse_unverified(&bytes)
            .map(Some)
            .map_err(corrupt),
        Mode::Write { key, origin } => {
            let signed = SignedCheckpoint::open(&bytes, key).map_err(corrupt)?;
            if signed.checkpoint().origin != *origin {
                return Err(corrupt(format!(
                    "the log's origin is {:?}, not the configured {origin:?}",
                    signed.checkpoint().origin
                )));
            }
            Ok(Some(signed))
        }
    }
}

/// Reads every segment. With `trust_tiles`, a sealed segment is taken from its level-1 tile
/// without reading its entries.
fn scan(
    dir: &Path,
    mode: &Mode<'_>,
    signed_size: u64,
    trust_tiles: bool,
) -> Result<Loaded, AuditError> {
    let writing = matches!(mode, Mode::Write { .. });
    let segments = list_segments(dir)?;
    let mut tree = TreeStore::new(dir);
    let mut derived = Vec::new();
    let mut completed = Vec::new();
    let mut bundle = Vec::new();
    let mut active_len = 0;
    let active_segment = segments.last().copied().unwrap_or(0);

    for (position, &number) in segments.iter().enumerate() {
        if number != position as u64 {
            return Err(AuditError::Corrupt {
                index: Some(position as u64 * SEGMENT_ENTRIES),
                detail: format!(
                    "segment {} is missing",
                    segment_path(dir, position as u64).display()
                ),
            });
        }
        let sealed = number != active_segment;
        if sealed
            && trust_tiles
            && let Some(roots) = read_full_tile(dir, 1, number)
        {
            for root in roots {
                tree.push_tile_root(root, &mut completed);
            }
            // Its level-1 tile is what was just read; levels 2+ are checked at the end.
            completed.clear();
            continue;
        }
        let path = segment_path(dir, number);
        let mut reader =
            FrameReader::open(&path, tree.size()).map_err(AuditError::io("cannot read", &path))?;
        let mut entry = Vec::new();
        bundle.clear();
        loop {
            let index = reader.next_index;
            let fault = match reader
                .next_into(&mut entry)
                .map_err(AuditError::io("cannot read", &path))?
            {
                Ok(true) => None,
                Ok(false) => break,
                Err(fault) => Some(fault),
            };
            if let Some(fault) = fault {
                if sealed || !writing {
                    if sealed {
                        return Err(AuditError::Corrupt {
                            index: Some(index),
                            detail: format!("{fault:?} in sealed segment {}", path.display()),
                        });
                    }
                    break;
                }
                repair_tail(&path, reader.offset, index, fault, signed_size)?;
                break;
            }
            tree.push(leaf_hash(&entry), &mut completed);
            bundle.extend_from_slice(&(entry.len() as u16).to_be_bytes());
            bundle.extend_from_slice(&entry);
            if tree.size().is_multiple_of(TILE_WIDTH) {
                let n = tree.size() / TILE_WIDTH - 1;
                let full = std::mem::take(&mut bundle);
                if writing {
                    want(
                        &mut derived,
                        tile_path(dir, TileKind::Entries, n, TILE_WIDTH),
                        full,
                    );
                }
            }
        }
        if sealed && tree.size() != (number + 1) * SEGMENT_ENTRIES {
            return Err(AuditError::Corrupt {
                index: Some(tree.size()),
                detail: format!("sealed segment {} ends early", path.display()),
            });
        }
        if !sealed {
            active_len = reader.offset;
        }
        for (level, n) in completed.drain(..) {
            if writing
                && level <= 1
                && let Some(bytes) = tree.tile_bytes(level, n, TILE_WIDTH)
            {
                want(
                    &mut derived,
                    tile_path(dir, TileKind::Hashes(level), n, TILE_WIDTH),
                    bytes,
                );
            }
        }
        if sealed {
            tree.trim_leaves(tree.size());
        }
    }
    // Level 2 and above: few files, rebuilt from memory when missing or wrong.
    if writing {
        for (level, n) in tree.full_upper_tiles() {
            if level >= 2
                && let Some(bytes) = tree.tile_bytes(level, n, TILE_WIDTH)
            {
                want(
                    &mut derived,
                    tile_path(dir, TileKind::Hashes(level), n, TILE_WIDTH),
                    bytes,
                );
            }
        }
    }
    Ok(Loaded {
        tree,
        active_segment,
        active_len,
        bundle,
        derived,
        checkpoint: None,
    })
}

/// Queues a derived file unless the disk already holds exactly these bytes.
fn want(derived: &mut Vec<(PathBuf, Vec<u8>)>, path: PathBuf, bytes: Vec<u8>) {
    if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
        derived.push((path, bytes));
    }
}

/// Cuts a torn tail off the active segment, keeping the cut bytes beside it for forensics.
///
/// Only a tail that a crash can produce (a frame cut short or failing its checksum) and
/// that lies beyond the signed checkpoint (so it was never covered by a signature) is cut;
/// anything else is damage for `verify` to name, and the log refuses to open.
fn repair_tail(
    path: &Path,
    offset: u64,
    index: u64,
    fault: FrameFault,
    signed_size: u64,
) -> Result<(), AuditError> {
    let torn_candidate = matches!(
        fault,
        FrameFault::Truncated | FrameFault::Checksum | FrameFault::BadLength
    );
    if !torn_candidate || index < signed_size {
        return Err(AuditError::Corrupt {
            index: Some(index),
            detail: format!(
                "{fault:?} at byte {offset} of {} (signed checkpoint covers {signed_size} entries)",
                path.display()
            ),
        });
    }
    let bytes = fs::read(path).map_err(AuditError::io("cannot read", path))?;
    let tail = &bytes[offset as usize..];
    let mut keep = path.as_os_str().to_owned();
    keep.push(format!(".torn-{offset}"));
    fs::write(&keep, tail).map_err(AuditError::io("cannot write", PathBuf::from(&keep)))?;
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(AuditError::io("cannot open", path))?;
    file.set_len(offset)
        .and_then(|()| file.sync_all())
        .map_err(AuditError::io("cannot truncate", path))?;
    tracing::warn!(
        segment = %path.display(),
        offset,
        first_entry = index,
        bytes = tail.len(),
        "audit log: cut a torn tail left by a crash (never acknowledged); kept in {}",
        PathBuf::from(keep).display()
    );
    Ok(())
}
