//! Tampering with a closed log: every flipped byte, truncation, deletion and reordering is
//! caught by `verify`, which names the first bad entry.

mod common;

use std::{fs, path::Path};

use common::*;
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use tongdao_audit::{EntryProblem, Options, VerifyError, verify};

const ENTRIES: u64 = 1500;

/// Byte ranges of each entry's frame in the first segment.
fn frames(segment: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < segment.len() {
        let len = u32::from_be_bytes(segment[at..at + 4].try_into().expect("4 bytes")) as usize;
        frames.push(at..at + len + 16);
        at += len + 16;
    }
    frames
}

fn first_bad(dir: &Path, key: &tongdao_audit::VerifierKey) -> (u64, EntryProblem) {
    match verify(dir, key, |_, _| {}) {
        Err(VerifyError::Entry { index, problem, .. }) => (index, problem),
        other => panic!("tampering not detected as a bad entry: {other:?}"),
    }
}

async fn build() -> (tempfile::TempDir, tongdao_audit::VerifierKey) {
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = signer();
    let log = open(dir.path(), &signer, Options::default());
    append_all(&log, 0..ENTRIES).await;
    log.close();
    let key = signer.verifier().expect("verifier");
    verify(dir.path(), &key, |_, _| {}).expect("untouched log verifies");
    (dir, key)
}

#[tokio::test]
async fn every_flipped_byte_is_found_at_its_entry() {
    let (dir, key) = build().await;
    let path = dir.path().join("log/000000000000.seg");
    let original = fs::read(&path).expect("segment");
    let frames = frames(&original);
    assert_eq!(frames.len() as u64, ENTRIES);
    let mut rng = StdRng::seed_from_u64(0x07a1_1da0);
    for _ in 0..300 {
        let position = rng.random_range(0..original.len());
        let mut bytes = original.clone();
        bytes[position] ^= 1 << rng.random_range(0..8);
        fs::write(&path, &bytes).expect("write");
        let expected = frames
            .iter()
            .position(|f| f.contains(&position))
            .expect("byte in a frame") as u64;
        let (index, problem) = first_bad(dir.path(), &key);
        assert_eq!(index, expected, "byte {position}: {problem}");
    }
    fs::write(&path, &original).expect("restore");
    verify(dir.path(), &key, |_, _| {}).expect("restored log verifies");
}

#[tokio::test]
async fn truncation_deletion_and_reordering_are_found() {
    let (dir, key) = build().await;
    let path = dir.path().join("log/000000000000.seg");
    let original = fs::read(&path).expect("segment");
    let frames = frames(&original);
    let mut rng = StdRng::seed_from_u64(42);

    // Truncation anywhere: the first entry not wholly present is named.
    for _ in 0..40 {
        let cut = rng.random_range(0..original.len());
        fs::write(&path, &original[..cut]).expect("write");
        let expected = frames.iter().position(|f| f.end > cut).expect("cut frame") as u64;
        assert_eq!(first_bad(dir.path(), &key).0, expected, "cut at {cut}");
    }

    // Deleting one entry, including the last.
    for victim in [0, 1, 700, ENTRIES as usize - 1] {
        let mut bytes = original[..frames[victim].start].to_vec();
        bytes.extend_from_slice(&original[frames[victim].end..]);
        fs::write(&path, &bytes).expect("write");
        assert_eq!(
            first_bad(dir.path(), &key).0,
            victim as u64,
            "deleted {victim}"
        );
    }

    // Swapping two entries.
    for _ in 0..20 {
        let a = rng.random_range(0..frames.len() - 1);
        let b = rng.random_range(a + 1..frames.len());
        let mut bytes = original[..frames[a].start].to_vec();
        bytes.extend_from_slice(&original[frames[b].clone()]);
        bytes.extend_from_slice(&original[frames[a].end..frames[b].start]);
        bytes.extend_from_slice(&original[frames[a].clone()]);
        bytes.extend_from_slice(&original[frames[b].end..]);
        fs::write(&path, &bytes).expect("write");
        assert_eq!(
            first_bad(dir.path(), &key).0,
            a as u64,
            "swapped {a} and {b}"
        );
    }
    fs::write(&path, &original).expect("restore");
    verify(dir.path(), &key, |_, _| {}).expect("restored log verifies");
}

#[tokio::test]
async fn rewritten_entries_and_tiles_and_forged_checkpoints_are_found() {
    let (dir, key) = build().await;
    let path = dir.path().join("log/000000000000.seg");
    let original = fs::read(&path).expect("segment");
    let frames = frames(&original);

    // An entry rewritten with a fresh checksum (a careful forger): the level-0 tile names it.
    let victim = 300;
    let mut bytes = original.clone();
    let frame = frames[victim].clone();
    let target = frame.start + 12 + 20;
    bytes[target] = if bytes[target] == b'a' { b'b' } else { b'a' };
    let crc = crc(&bytes[frame.start..frame.end - 4]);
    bytes[frame.end - 4..frame.end].copy_from_slice(&crc.to_be_bytes());
    fs::write(&path, &bytes).expect("write");
    assert_eq!(
        first_bad(dir.path(), &key),
        (victim as u64, EntryProblem::TileMismatch)
    );

    // The forger rewrites the tile too: only the signed checkpoint remains, and it holds.
    let tile = dir.path().join("tile/0/001");
    let original_tile = fs::read(&tile).expect("tile");
    let mut forged_tile = original_tile.clone();
    let entry = &bytes[frame.start + 12..frame.end - 4];
    forged_tile[(victim - 256) * 32..(victim - 255) * 32]
        .copy_from_slice(&tongdao_audit::leaf_hash(entry).0);
    fs::write(&tile, &forged_tile).expect("write tile");
    let (index, problem) = first_bad(dir.path(), &key);
    assert!(
        matches!(problem, EntryProblem::RootMismatch { .. }),
        "{problem}"
    );
    assert!(index <= victim as u64);
    fs::write(&path, &original).expect("restore");

    // A tile altered alone is found at the entry it misdescribes.
    assert_eq!(
        first_bad(dir.path(), &key),
        (victim as u64, EntryProblem::TileMismatch)
    );
    fs::write(&tile, &original_tile).expect("restore tile");

    // A flipped byte in the checkpoint breaks its signature.
    let checkpoint = dir.path().join("checkpoint");
    let original_checkpoint = fs::read(&checkpoint).expect("checkpoint");
    let mut forged = original_checkpoint.clone();
    let middle = forged.len() / 3;
    forged[middle] ^= 0x01;
    fs::write(&checkpoint, &forged).expect("write");
    assert!(matches!(
        verify(dir.path(), &key, |_, _| {}),
        Err(VerifyError::Checkpoint { .. })
    ));
    fs::write(&checkpoint, &original_checkpoint).expect("restore");
    verify(dir.path(), &key, |_, _| {}).expect("restored log verifies");
}

/// CRC-32 (IEEE), bitwise: the forger's tool, independent of the crate's.
fn crc(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
