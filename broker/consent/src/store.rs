//! The store interface both implementations satisfy, and the rules a check applies.

use std::{fmt, future::Future, pin::Pin};

use tongdao_core::{
    ids::{AgencyCode, NationalId},
    reason::Reason,
};

use crate::{
    error::StoreError,
    model::{Consent, ConsentId, ConsentState, PurposeCode, Terms, covers},
    timestamp::Timestamp,
};

/// The future every store method returns: boxed, so `dyn ConsentStore` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where consents live: [`crate::FileStore`] on one node, [`crate::RedisStore`] for replicas.
///
/// Every method takes the subject's national ID and the store files it under its keyed
/// pseudonym; nothing a store writes holds a national ID in clear.
pub trait ConsentStore: Send + Sync + fmt::Debug {
    /// Records a granted consent; durable when the future resolves `Ok`. Granting the same
    /// consent again is a no-op; another consent under the same id is
    /// [`StoreError::Conflict`].
    fn grant<'a>(&'a self, consent: &'a Consent) -> StoreFuture<'a, Result<(), StoreError>>;

    /// Revokes consent `id` of `subject` at `at`; durable when the future resolves `Ok`.
    /// Only the subject may revoke: a consent of someone else answers
    /// [`Revocation::NotFound`], exactly as an unknown id does, so ids cannot be probed.
    fn revoke<'a>(
        &'a self,
        id: &'a ConsentId,
        subject: &'a NationalId,
        at: Timestamp,
    ) -> StoreFuture<'a, Result<Revocation, StoreError>>;

    /// Every consent `subject` granted that the store still holds (expired ones included),
    /// in id (that is, grant) order, each with what has happened to it.
    fn list<'a>(
        &'a self,
        subject: &'a NationalId,
    ) -> StoreFuture<'a, Result<Vec<(Consent, ConsentState)>, StoreError>>;

    /// Checks that consent `id` allows `usage`, and consumes it in the same atomic step if it
    /// is single use: of any number of concurrent checks of one single-use consent, on any
    /// number of brokers sharing the store, at most one gets a [`Permit`]. A permit for a
    /// single-use consent is returned only once its consumption is durable.
    fn check<'a>(
        &'a self,
        id: &'a ConsentId,
        usage: &'a Use<'a>,
    ) -> StoreFuture<'a, Result<Permit, CheckError>>;
}

/// One exchange's claim on a consent: the broker fills it from the verified caller, the
/// request and the rule that matched.
#[derive(Debug, Clone, Copy)]
pub struct Use<'a> {
    /// The calling agency.
    pub grantee: &'a AgencyCode,
    /// The data subject the request names.
    pub subject: &'a NationalId,
    /// The full method path called.
    pub service: &'a str,
    /// The declared purpose.
    pub purpose: PurposeCode,
    /// The response fields the exchange would release (the rule's fields): each must be
    /// covered by the consent (listed, or under a listed ancestor).
    pub fields: &'a [String],
    /// The broker's clock.
    pub now: Timestamp,
    /// The one-stop recipe run the exchange is a leg of (the run's exchange id), if any. A
    /// single-use consent is one use for one exchange or for one whole run: its legs about the
    /// consenting person all share the use the first of them made.
    pub run: Option<&'a str>,
}

/// A consent allows the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// The consent.
    pub id: ConsentId,
    /// Whether this check consumed a single-use consent (it is now used up).
    pub consumed: bool,
    /// When the consent ends.
    pub not_after: Timestamp,
}

/// Why a consent does not allow an exchange.
///
/// Checked in this order, so a caller learns nothing about a consent that is not theirs:
/// unknown id; grantee; subject; revoked; expired; service; purpose; fields; already used.
/// A single-use consent is consumed only when every check passes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No such consent (never granted, or dropped after its retention).
    #[error("no such consent")]
    Unknown,
    /// The consent ended.
    #[error("the consent expired at {not_after}")]
    Expired {
        /// When it ended.
        not_after: Timestamp,
    },
    /// The citizen revoked the consent.
    #[error("the citizen revoked the consent at {at}")]
    Revoked {
        /// When.
        at: Timestamp,
    },
    /// The consent does not cover this exchange.
    #[error("the consent does not cover this exchange: {0}")]
    Scope(ScopeMismatch),
    /// The single-use consent was used already.
    #[error("the single-use consent was used at {at}")]
    AlreadyUsed {
        /// When it was consumed.
        at: Timestamp,
    },
}

impl Refusal {
    /// The `google.rpc.ErrorInfo` reason the broker answers with.
    pub fn reason(&self) -> Reason {
        match self {
            Refusal::Unknown => Reason::ConsentInvalid,
            Refusal::Expired { .. } => Reason::ConsentExpired,
            Refusal::Revoked { .. } => Reason::ConsentRevoked,
            Refusal::Scope(_) => Reason::ConsentScope,
            Refusal::AlreadyUsed { .. } => Reason::ConsentUsed,
        }
    }
}

/// Which dimension of the exchange the consent does not cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeMismatch {
    /// It was granted to another agency.
    #[error("it was granted to another agency")]
    Grantee,
    /// It was granted by another citizen than the request's subject.
    #[error("it was granted for another data subject")]
    Subject,
    /// It does not list the method called.
    #[error("it does not cover this service")]
    Service,
    /// It was granted for another purpose.
    #[error("it was granted for another purpose")]
    Purpose,
    /// It does not cover this response field (path as the rule lists it).
    #[error("it does not cover field {0}")]
    Field(String),
}

/// A check that did not give a permit.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The consent does not allow the exchange.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store could not answer; the broker fails closed (`UNAVAILABLE`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Revoked now.
    Revoked {
        /// When.
        at: Timestamp,
    },
    /// It was revoked before (possibly by a concurrent request); nothing changed.
    AlreadyRevoked {
        /// When it was revoked.
        at: Timestamp,
    },
    /// No consent with this id belongs to this citizen.
    NotFound,
}

/// The state a check reads, however a store keeps it.
pub(crate) struct Standing<'a> {
    pub(crate) terms: &'a Terms,
    pub(crate) subject_matches: bool,
    pub(crate) revoked_at: Option<Timestamp>,
    pub(crate) used_at: Option<Timestamp>,
    /// The recipe run that used it, when a run's leg did.
    pub(crate) used_by: Option<&'a str>,
}

/// Applies the rules of [`Refusal`] in their order. `Ok` means the exchange may go ahead
/// (after consuming the consent if it is single use). The Redis script applies the same
/// rules, in the same order, in Lua.
pub(crate) fn evaluate(standing: &Standing<'_>, usage: &Use<'_>) -> Result<(), Refusal> {
    let terms = standing.terms;
    if terms.grantee != *usage.grantee {
        return Err(Refusal::Scope(ScopeMismatch::Grantee));
    }
    if !standing.subject_matches {
        return Err(Refusal::Scope(ScopeMismatch::Subject));
    }
    if let Some(at) = standing.revoked_at {
        return Err(Refusal::Revoked { at });
    }
    let not_after = terms.validity.not_after();
    if usage.now >= not_after {
        return Err(Refusal::Expired { not_after });
    }
    if terms
        .services
        .binary_search_by(|s| s.as_str().cmp(usage.service))
        .is_err()
    {
        return Err(Refusal::Scope(ScopeMismatch::Service));
    }
    if terms.purpose != usage.purpose {
        return Err(Refusal::Scope(ScopeMismatch::Purpose));
    }
    if let Some(field) = usage.fields.iter().find(|f| !covers(&terms.fields, f)) {
        return Err(Refusal::Scope(ScopeMismatch::Field(field.clone())));
    }
    if terms.validity.is_single_use()
        && let Some(at) = standing.used_at
        && !(usage.run.is_some() && standing.used_by == usage.run)
    {
        return Err(Refusal::AlreadyUsed { at });
    }
    Ok(())
}
