//! The crate's errors: one for the log, one for proof checks, one for `verify`.

use std::{io, path::PathBuf};

/// Why the audit log could not do what was asked.
///
/// The broker maps [`AuditError::Unavailable`] (and [`AuditError::Closed`]) to
/// `AUDIT_UNAVAILABLE` and fails the exchange closed; every other variant is a
/// start-up, tooling or programming problem.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log cannot make records durable now (a write or sync failed: disk full, I/O
    /// error). Nothing was acknowledged for this record; the writer probes and recovers on
    /// its own once the cause is gone.
    #[error("the audit log is unavailable: records cannot be made durable")]
    Unavailable,
    /// The log has been shut down (or its writer stopped); nothing more is accepted.
    #[error("the audit log is closed")]
    Closed,
    /// A file of the log could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "cannot open".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another process holds the log directory (only one writer may append).
    #[error("the audit log in {} is in use by another process", .0.display())]
    Locked(PathBuf),
    /// The files on disk contradict each other or the signed checkpoint; the log is not
    /// opened for writing. `tongdao audit verify` names the first bad entry.
    #[error("the audit log is damaged{}: {detail}", index.map(|i| format!(" at entry {i}")).unwrap_or_default())]
    Corrupt {
        /// The first entry concerned, when known.
        index: Option<u64>,
        /// What does not match.
        detail: String,
    },
    /// A record encodes to more than the 65,535 bytes a C2SP entry bundle can hold.
    #[error("an audit record of {0} bytes exceeds the 65535-byte entry limit")]
    RecordTooLarge(usize),
    /// A key or key file could not be parsed.
    #[error("bad key: {0}")]
    Key(String),
    /// An index or tree size beyond the log.
    #[error("entry {index} is not in a tree of {size} entries")]
    OutOfRange {
        /// The index or older size asked for.
        index: u64,
        /// The tree size it was asked against.
        size: u64,
    },
}

impl AuditError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| AuditError::Io {
            action,
            path,
            source,
        }
    }
}

/// Why an inclusion or consistency proof does not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index or old size lies beyond the tree size.
    #[error("index or size out of range")]
    OutOfRange,
    /// The proof has too few or too many hashes for these sizes.
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    /// The proof leads to a different root: the entry or tree is not the one claimed.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// What is wrong with the first bad entry `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryProblem {
    /// The entry's frame is cut short (the file was truncated).
    Truncated,
    /// The frame's length field is impossible.
    Malformed,
    /// The frame's checksum does not match its bytes (a flipped byte).
    Checksum,
    /// The frame carries another entry's index (an entry was deleted, inserted or moved).
    Misplaced {
        /// The index written in the frame.
        found: u64,
    },
    /// The entry's hash differs from the level-0 tile published for it.
    TileMismatch,
    /// The entries up to a signed checkpoint do not hash to its root; the damage lies at or
    /// after this index and before the checkpoint's size.
    RootMismatch {
        /// The size of the checkpoint that does not match.
        checkpoint_size: u64,
    },
    /// The entry is missing: the log ends before a signed checkpoint's size.
    Missing {
        /// The size the checkpoint promises.
        checkpoint_size: u64,
    },
}

impl std::fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryProblem::Truncated => f.write_str("its record is cut short (truncated)"),
            EntryProblem::Malformed => f.write_str("its frame is malformed"),
            EntryProblem::Checksum => {
                f.write_str("its bytes do not match their checksum (altered)")
            }
            EntryProblem::Misplaced { found } => write!(
                f,
                "the record found there is entry {found} (entries deleted, inserted or reordered)"
            ),
            EntryProblem::TileMismatch => {
                f.write_str("its hash differs from the published level-0 tile (altered)")
            }
            EntryProblem::RootMismatch { checkpoint_size } => write!(
                f,
                "the entries from here up to {checkpoint_size} do not match the signed checkpoint of that size"
            ),
            EntryProblem::Missing { checkpoint_size } => write!(
                f,
                "it is missing: the log ends here but a signed checkpoint covers {checkpoint_size} entries"
            ),
        }
    }
}

/// Why `verify` rejected a log.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The first bad entry.
    #[error("entry {index} is bad: {problem} ({location})")]
    Entry {
        /// Its index in the log.
        index: u64,
        /// What is wrong with it.
        problem: EntryProblem,
        /// Where it is on disk, for the operator.
        location: String,
    },
    /// A checkpoint file is malformed, has no valid signature by the given key, or names
    /// another log.
    #[error("checkpoint {}: {detail}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The directory holds no signed checkpoint, so nothing anchors the entries.
    #[error("no signed checkpoint in {}", .0.display())]
    NoCheckpoint(PathBuf),
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl VerifyError {
    /// The index of the first bad entry, when the failure is about an entry.
    pub fn first_bad_index(&self) -> Option<u64> {
        match self {
            VerifyError::Entry { index, .. } => Some(*index),
            _ => None,
        }
    }
}
