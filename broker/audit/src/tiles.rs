//! The Merkle tree as C2SP tlog-tiles: tile paths, the in-memory right edge, and reading
//! full tiles back from disk to answer proofs.
//!
//! Memory holds the leaf hashes of the active segment (at most 2 MiB) and every hash at
//! heights 8, 16, 24 … (one per 256 entries); older leaf hashes are read from their full
//! level-0 tiles when a proof needs them.

use std::{
    fs,
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use crate::{
    error::AuditError,
    merkle::{Hash, Nodes, subtree_hash},
};

/// Hashes (or entries) per full tile.
pub(crate) const TILE_WIDTH: u64 = 256;
/// Bytes of a full hash tile.
pub(crate) const FULL_TILE_BYTES: usize = 256 * 32;

/// Which kind of tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TileKind {
    /// Merkle tree hashes at this tile level.
    Hashes(u8),
    /// An entry bundle.
    Entries,
}

/// `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` under `dir`; `width` 256 is full.
pub(crate) fn tile_path(dir: &Path, kind: TileKind, n: u64, width: u64) -> PathBuf {
    let mut path = dir.join("tile");
    match kind {
        TileKind::Hashes(level) => path.push(level.to_string()),
        TileKind::Entries => path.push("entries"),
    }
    // Three digits per element, all but the last prefixed with `x` (C2SP tlog-tiles).
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    let last = groups.len() - 1;
    for (i, group) in groups.iter().enumerate() {
        if i == last && width < TILE_WIDTH {
            path.push(format!("{group}.p"));
            path.push(width.to_string());
        } else {
            path.push(group);
        }
    }
    path
}

/// Writes a file whole or not at all (temporary file, then rename), optionally durably.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
    }
    fs::rename(&temporary, path)?;
    if durable {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

pub(crate) fn hashes_to_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(hashes.len() * 32);
    for hash in hashes {
        bytes.extend_from_slice(&hash.0);
    }
    bytes
}

pub(crate) fn bytes_to_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|chunk| Hash(chunk.try_into().unwrap_or_default()))
        .collect()
}

/// Reads a full hash tile; `None` if it is absent or not exactly 256 hashes.
pub(crate) fn read_full_tile(dir: &Path, level: u8, n: u64) -> Option<Vec<Hash>> {
    let bytes = fs::read(tile_path(dir, TileKind::Hashes(level), n, TILE_WIDTH)).ok()?;
    (bytes.len() == FULL_TILE_BYTES).then(|| bytes_to_hashes(&bytes))
}

/// The tree's hashes: what is in memory plus the full level-0 tiles on disk.
#[derive(Debug)]
pub(crate) struct TreeStore {
    dir: PathBuf,
    size: u64,
    /// Index of `leaves[0]`; a multiple of 256. Leaf hashes below it are in tiles on disk.
    leaves_base: u64,
    leaves: Vec<Hash>,
    /// `upper[j]`: every complete hash at height `8 (j + 1)`.
    upper: Vec<Vec<Hash>>,
    /// The last level-0 tile read from disk: proofs read the same tile several times.
    cache: Mutex<Option<(u64, Arc<Vec<Hash>>)>>,
}

impl TreeStore {
    pub(crate) fn new(dir: &Path) -> TreeStore {
        TreeStore {
            dir: dir.to_owned(),
            size: 0,
            leaves_base: 0,
            leaves: Vec::new(),
            upper: Vec::new(),
            cache: Mutex::new(None),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; records the full tiles it completes as `(level, n)`.
    pub(crate) fn push(&mut self, leaf: Hash, completed: &mut Vec<(u8, u64)>) {
        self.leaves.push(leaf);
        self.size += 1;
        if self.size.is_multiple_of(TILE_WIDTH) {
            let n = self.size / TILE_WIDTH - 1;
            completed.push((0, n));
            let start = (n * TILE_WIDTH - self.leaves_base) as usize;
            let hash = subtree_hash(&self.leaves[start..start + TILE_WIDTH as usize]);
            self.push_upper(0, hash, completed);
        }
    }

    /// Appends the root of a full level-0 tile whose leaves stay on disk (recovery of a
    /// sealed segment from its level-1 tile).
    pub(crate) fn push_tile_root(&mut self, hash: Hash, completed: &mut Vec<(u8, u64)>) {
        debug_assert!(self.leaves.is_empty() && self.size.is_multiple_of(TILE_WIDTH));
        self.size += TILE_WIDTH;
        self.leaves_base = self.size;
        self.push_upper(0, hash, completed);
    }

    fn push_upper(&mut self, j: usize, hash: Hash, completed: &mut Vec<(u8, u64)>) {
        if self.upper.len() == j {
            self.upper.push(Vec::new());
        }
        let level = &mut self.upper[j];
        level.push(hash);
        if (level.len() as u64).is_multiple_of(TILE_WIDTH) {
            let n = level.len() as u64 / TILE_WIDTH - 1;
            completed.push((j as u8 + 1, n));
            let start = (n * TILE_WIDTH) as usize;
            let hash = subtree_hash(&level[start..start + TILE_WIDTH as usize]);
            self.push_upper(j + 1, hash, completed);
        }
    }

    /// Forgets leaf hashes below `index` (rounded down to a tile), whose full tiles are on
    /// disk.
    pub(crate) fn trim_leaves(&mut self, index: u64) {
        let index = (index / TILE_WIDTH * TILE_WIDTH).min(self.size / TILE_WIDTH * TILE_WIDTH);
        if index <= self.leaves_base {
            return;
        }
        self.leaves.drain(..(index - self.leaves_base) as usize);
        self.leaves_base = index;
    }

    /// The bytes of hash tile (`level`, `n`) with `width` hashes, from memory.
    pub(crate) fn tile_bytes(&self, level: u8, n: u64, width: u64) -> Option<Vec<u8>> {
        let start = n * TILE_WIDTH;
        let hashes = if level == 0 {
            let from = start.checked_sub(self.leaves_base)? as usize;
            self.leaves.get(from..from + width as usize)?
        } else {
            let level = self.upper.get(usize::from(level) - 1)?;
            level.get(start as usize..(start + width) as usize)?
        };
        Some(hashes_to_bytes(hashes))
    }

    /// The partial tiles of the current size as `(level, n, width)`.
    pub(crate) fn partial_tiles(&self) -> Vec<(u8, u64, u64)> {
        let mut partial = Vec::new();
        let mut level = 0u8;
        loop {
            let count = self.size >> (8 * u32::from(level));
            if count == 0 {
                break;
            }
            let width = count % TILE_WIDTH;
            if width > 0 {
                partial.push((level, count / TILE_WIDTH, width));
            }
            level += 1;
        }
        partial
    }

    /// Every full tile at level 1 and above, as `(level, n)`.
    pub(crate) fn full_upper_tiles(&self) -> Vec<(u8, u64)> {
        let mut full = Vec::new();
        for (j, hashes) in self.upper.iter().enumerate() {
            for n in 0..hashes.len() as u64 / TILE_WIDTH {
                full.push((j as u8 + 1, n));
            }
        }
        full
    }

    fn disk_tile(&self, n: u64) -> Result<Arc<Vec<Hash>>, AuditError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached, hashes)) = cache.as_ref()
            && *cached == n
        {
            return Ok(hashes.clone());
        }
        let hashes = read_full_tile(&self.dir, 0, n).ok_or_else(|| AuditError::Corrupt {
            index: Some(n * TILE_WIDTH),
            detail: format!(
                "level-0 tile {} is missing or short",
                tile_path(&self.dir, TileKind::Hashes(0), n, TILE_WIDTH).display()
            ),
        })?;
        let hashes = Arc::new(hashes);
        *cache = Some((n, hashes.clone()));
        Ok(hashes)
    }
}

impl Nodes for TreeStore {
    fn node(&self, level: u8, index: u64) -> Result<Hash, AuditError> {
        let tile_level = usize::from(level / 8);
        let k = u32::from(level % 8);
        // The node covers hashes [lo, hi) at height 8 * tile_level.
        let lo = index << k;
        let hi = (index + 1) << k;
        let missing = || AuditError::OutOfRange {
            index: hi << (8 * tile_level as u32),
            size: self.size,
        };
        if tile_level > 0 {
            let hashes = self.upper.get(tile_level - 1).ok_or_else(missing)?;
            let slice = hashes.get(lo as usize..hi as usize).ok_or_else(missing)?;
            return Ok(subtree_hash(slice));
        }
        if hi > self.size {
            return Err(missing());
        }
        if lo >= self.leaves_base {
            let from = (lo - self.leaves_base) as usize;
            return Ok(subtree_hash(&self.leaves[from..from + (1usize << k)]));
        }
        let tile = self.disk_tile(lo / TILE_WIDTH)?;
        let from = (lo % TILE_WIDTH) as usize;
        Ok(subtree_hash(&tile[from..from + (1usize << k)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_follow_c2sp() {
        let dir = Path::new("d");
        assert_eq!(
            tile_path(dir, TileKind::Hashes(0), 1_234_067, 256),
            Path::new("d/tile/0/x001/x234/067")
        );
        assert_eq!(
            tile_path(dir, TileKind::Hashes(2), 5, 17),
            Path::new("d/tile/2/005.p/17")
        );
        assert_eq!(
            tile_path(dir, TileKind::Entries, 1000, 1),
            Path::new("d/tile/entries/x001/000.p/1")
        );
    }

    #[test]
    fn partial_tiles_of_70000_match_the_spec_example() {
        let mut store = TreeStore::new(Path::new("unused"));
        let mut completed = Vec::new();
        for i in 0..70_000u64 {
            store.push(crate::leaf_hash(&i.to_be_bytes()), &mut completed);
        }
        // 273 full level-0 tiles, one partial of 112; one full level-1 tile, a partial
        // of 17; a partial level-2 tile of 1.
        assert_eq!(completed.iter().filter(|(l, _)| *l == 0).count(), 273);
        assert_eq!(completed.iter().filter(|(l, _)| *l == 1).count(), 1);
        assert_eq!(
            store.partial_tiles(),
            vec![(0, 273, 112), (1, 1, 17), (2, 0, 1)]
        );
    }
}
