//! MyData consent: what a citizen granted, to which agency, for what; revocation and
//! single-use consumption; artefacts anyone verifies offline with the broker's public key;
//! an embedded store for one node and a Redis store for replicas.
//!
//! No gRPC here: the broker turns a [`Refusal`] into `CONSENT_*` reasons
//! ([`Refusal::reason`]) and a [`StoreError`] into `UNAVAILABLE`. The model, the artefact
//! format and the stores' guarantees are described in `README.md` beside this crate.
//!
//! ```text
//! grant:  Consent::grant(Grant, now, &Limits)? → signer.sign(&consent) → store.grant(&consent)
//! use:    consent_id_of(header)? → store.check(&id, &Use { grantee, subject, service, … })
//! revoke: store.revoke(&id, &subject, now)
//! verify: verify_artefact(text, &verifier_key)   (offline, anyone)
//! ```

mod artefact;
mod error;
mod file;
mod model;
mod record;
mod redis_store;
mod store;
mod subject;
mod timestamp;

pub use artefact::{
    ARTEFACT_PREFIX, ConsentSigner, KeyPair, MAX_ARTEFACT_LEN, VerifierKey, consent_id_of,
    verify_artefact,
};
pub use error::{ArtefactError, KeyError, StoreError};
pub use file::{FileStore, LOG_FILE};
pub use model::{
    Consent, ConsentId, ConsentIdError, ConsentState, Grant, GrantError, Limits, PurposeCode,
    Status, Validity,
};
pub use redis_store::{RedisOptions, RedisStore};
pub use store::{
    CheckError, ConsentStore, Permit, Refusal, Revocation, ScopeMismatch, StoreFuture, Use,
};
pub use subject::{Pseudonym, SubjectKey};
pub use timestamp::Timestamp;
