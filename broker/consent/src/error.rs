//! The crate's errors: keys, artefacts, stores.
//!
//! Refusals of a consent check are not errors of the store: they are [`crate::Refusal`].

use std::{io, path::PathBuf};

use crate::model::ConsentId;

/// A key or key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The text is not a key of the expected kind.
    #[error("bad key: {0}")]
    Malformed(String),
}

/// Why an artefact does not verify. Every variant means "do not rely on this document";
/// the broker answers `CONSENT_INVALID` for all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtefactError {
    /// Not of the form `tdc1.<payload>.<signature>` in unpadded base64url, or too long.
    #[error("not a Tongdao consent artefact (tdc1.<payload>.<signature>)")]
    Malformed,
    /// Signed by another key than the one given (possibly a rotated-out broker key): the
    /// name and id of the key the artefact claims.
    #[error("signed by key {0}, not by the key given")]
    UnknownKey(String),
    /// The signature does not match: the artefact was altered or forged.
    #[error("the signature does not match (altered or forged)")]
    BadSignature,
    /// Correctly signed, but the payload is not a consent this crate would write (a newer
    /// format, or a signing bug).
    #[error("the signed payload is not a valid consent: {0}")]
    Payload(String),
}

/// A store could not do what was asked. The broker fails the exchange closed (gRPC
/// `UNAVAILABLE`) on every variant but [`StoreError::Conflict`], which is a bug.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot answer now: the embedded store could not make a change durable (a
    /// write or sync failed: disk full, I/O error), or Redis did not answer in time. Nothing
    /// was acknowledged; the store recovers by itself once the cause is gone.
    #[error("the consent store is unavailable: {0}")]
    Unavailable(String),
    /// The embedded store has been closed.
    #[error("the consent store is closed")]
    Closed,
    /// A file of the embedded store could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "cannot open".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another process holds the store's directory (one broker per embedded store).
    #[error("the consent store in {} is in use by another process", .0.display())]
    Locked(PathBuf),
    /// The consent log is damaged before its last line (a torn last line is repaired, not
    /// reported): the store does not open.
    #[error("the consent log {} is damaged at line {line}: {detail}", path.display())]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// The first bad line (1-based).
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// Redis failed, timed out or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis answered something this crate never writes (another program's data under the
    /// key prefix, or a version mismatch).
    #[error("unexpected data in redis: {0}")]
    Protocol(String),
    /// A different consent already has this id (ids are generated, so this is a bug).
    #[error("consent {0} already exists with different terms")]
    Conflict(ConsentId),
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}
