//! Tongdao's audit log: typed exchange records in a write-ahead, group-committed,
//! tamper-evident Merkle log (C2SP tlog-tiles layout, signed checkpoints), with `verify`
//! and `search` for the security team.
//!
//! The broker opens one [`AuditLog`], appends an [`AuditRecord`] before forwarding and
//! before answering (each `append` resolves once durable), maps [`AuditError::Unavailable`]
//! to `AUDIT_UNAVAILABLE`, and puts a [`Receipt`] in the response trailers. The on-disk
//! format is specified in `FORMAT.md` beside this crate.

mod checkpoint;
mod error;
mod load;
mod merkle;
mod reader;
mod record;
mod search;
mod segment;
mod tiles;
mod verify;
mod writer;

pub use checkpoint::{Checkpoint, KeyPair, LogSigner, Receipt, SignedCheckpoint, VerifierKey};
pub use error::{AuditError, EntryProblem, ProofError, VerifyError};
pub use merkle::{Hash, empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion};
pub use reader::LogReader;
pub use record::{
    AuditRecord, CertificateId, Client, ConsentChange, Denial, ExchangeCompletion, ExchangeContext,
    ExchangeIntent, LegCallOutcome, MAX_RECORD_BYTES, Outcome, Permit, PolicyChange, RecipeLeg,
    RecipeRun, Sha256Digest, SubjectPseudonym, Timestamp, grpc_code_name,
};
pub use search::{Found, Query, Search, search};
pub use segment::{FileLayer, SEGMENT_ENTRIES, SegmentFile, StdFileLayer};
pub use verify::{VerifyReport, verify};
pub use writer::{Appended, AuditLog, Options};

/// Reads a 32-byte pseudonym key file: 64 hex digits (whitespace around is ignored) or 32
/// raw bytes.
pub fn read_pseudonym_key(path: &std::path::Path) -> Result<[u8; 32], AuditError> {
    let bytes = std::fs::read(path).map_err(AuditError::io("cannot read", path))?;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(raw);
    }
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| merkle::unhex32(text.trim()))
        .ok_or_else(|| {
            AuditError::Key(format!(
                "{}: a pseudonym key is 64 hex digits or 32 raw bytes",
                path.display()
            ))
        })
}
