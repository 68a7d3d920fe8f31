//! Read-only access to a log directory (for the CLI and the audit API): proofs, roots and
//! entries, while a broker may be appending.

use std::path::{Path, PathBuf};

use crate::{
    checkpoint::SignedCheckpoint,
    error::AuditError,
    load::{Mode, load},
    merkle::{self, Hash, Nodes as _, leaf_hash},
    record::AuditRecord,
    segment::{FrameReader, SEGMENT_ENTRIES, segment_path},
    tiles::{TILE_WIDTH, TileKind, TreeStore, tile_path},
};

/// A snapshot of a log directory, opened without changing anything.
#[derive(Debug)]
pub struct LogReader {
    dir: PathBuf,
    tree: TreeStore,
    checkpoint: Option<SignedCheckpoint>,
}

impl LogReader {
    /// Reads the log in `dir` as it is now. The checkpoint's signature is not checked
    /// here: `verify` does that.
    pub fn open(dir: &Path) -> Result<LogReader, AuditError> {
        let loaded = load(dir, &Mode::Read)?;
        Ok(LogReader {
            dir: dir.to_owned(),
            tree: loaded.tree,
            checkpoint: loaded.checkpoint,
        })
    }

    /// Number of readable entries.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The latest checkpoint on disk, unverified.
    pub fn checkpoint(&self) -> Option<&SignedCheckpoint> {
        self.checkpoint.as_ref()
    }

    /// Root hash of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash, AuditError> {
        self.check(size)?;
        merkle::root(&self.tree, size)
    }

    /// Inclusion proof of entry `index` in the tree of `tree_size` entries.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check(tree_size)?;
        merkle::inclusion_proof(&self.tree, index, tree_size)
    }

    /// Consistency proof between the trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.check(new)?;
        merkle::consistency_proof(&self.tree, old, new)
    }

    /// The stored bytes of entry `index` (exactly what was hashed).
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, AuditError> {
        self.check(index + 1)?;
        if let Some(entry) = self.entry_from_bundle(index) {
            return Ok(entry);
        }
        // No full bundle yet (the newest entries), or it disagrees: read the segment.
        let segment = index / SEGMENT_ENTRIES;
        let path = segment_path(&self.dir, segment);
        let mut reader = FrameReader::open(&path, segment * SEGMENT_ENTRIES)
            .map_err(AuditError::io("cannot read", &path))?;
        loop {
            let at = reader.next_index;
            match reader
                .next_frame()
                .map_err(AuditError::io("cannot read", &path))?
            {
                Ok(Some(entry)) if at == index => return Ok(entry.to_vec()),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    return Err(AuditError::Corrupt {
                        index: Some(at),
                        detail: format!("cannot read entry {index} from {}", path.display()),
                    });
                }
            }
        }
    }

    /// Entry `index` from its full entry bundle (one small read instead of a segment
    /// scan), if the bundle exists and the entry hashes to the tree's leaf.
    fn entry_from_bundle(&self, index: u64) -> Option<Vec<u8>> {
        let path = tile_path(&self.dir, TileKind::Entries, index / TILE_WIDTH, TILE_WIDTH);
        let bundle = std::fs::read(path).ok()?;
        let mut at = 0usize;
        for _ in 0..index % TILE_WIDTH {
            let len = u16::from_be_bytes(bundle.get(at..at + 2)?.try_into().ok()?);
            at += 2 + usize::from(len);
        }
        let len = u16::from_be_bytes(bundle.get(at..at + 2)?.try_into().ok()?);
        let entry = bundle.get(at + 2..at + 2 + usize::from(len))?;
        let leaf = self.tree.node(0, index).ok()?;
        (leaf_hash(entry) == leaf).then(|| entry.to_vec())
    }

    /// Entry `index`, decoded.
    pub fn record(&self, index: u64) -> Result<AuditRecord, AuditError> {
        let entry = self.entry(index)?;
        AuditRecord::decode(&entry).map_err(|error| AuditError::Corrupt {
            index: Some(index),
            detail: format!("not an audit record: {error}"),
        })
    }

    fn check(&self, size: u64) -> Result<(), AuditError> {
        if size > self.tree.size() {
            return Err(AuditError::OutOfRange {
                index: size,
                size: self.tree.size(),
            });
        }
        Ok(())
    }
}
