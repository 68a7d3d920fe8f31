//! Typed audit records and their canonical JSON encoding (see `FORMAT.md`).
//!
//! A record holds metadata and digests, never payloads. The data subject appears only as a
//! [`SubjectPseudonym`], which can be made only by keyed hashing, so a national ID in clear
//! cannot be put in the subject field by mistake.

use std::{fmt, time::SystemTime};

use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::{
    error::AuditError,
    merkle::{hex, unhex32},
};

/// The largest encoded record: C2SP entry bundles prefix each entry with a `u16` length.
pub const MAX_RECORD_BYTES: usize = u16::MAX as usize;

/// One entry of the audit log.
///
/// Encoded as one line of canonical JSON whose first member is `"kind"`; the other members
/// follow in the declaration order below, absent values as `null` (never omitted), so one
/// record has exactly one encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditRecord {
    /// Written, and durable, before a permitted request is forwarded to an adapter.
    ExchangeIntent(ExchangeIntent),
    /// Written, and durable, before the answer (or error) of a forwarded exchange reaches
    /// the caller.
    ExchangeCompletion(ExchangeCompletion),
    /// A refused exchange: the one record it gets, durable before the refusal is sent.
    Denial(Denial),
    /// A citizen granted or revoked a consent (placeholder until consent lands).
    ConsentChange(ConsentChange),
    /// A policy version was rolled out (placeholder until policy roll-out lands).
    PolicyChange(PolicyChange),
    /// A one-stop recipe ran: the parent of its legs' exchanges, written once every leg has
    /// answered (each leg has its own records, naming this one's exchange id as parent).
    RecipeRun(RecipeRun),
}

impl AuditRecord {
    /// The canonical encoding: the exact bytes stored and hashed into the log.
    pub fn encode(&self) -> Result<Vec<u8>, AuditError> {
        let bytes = serde_json::to_vec(self)
            // Only maps with non-string keys fail to serialise; records have none.
            .map_err(|error| AuditError::Corrupt {
                index: None,
                detail: format!("record does not encode: {error}"),
            })?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(AuditError::RecordTooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Parses an encoded record.
    pub fn decode(bytes: &[u8]) -> Result<AuditRecord, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// When the record was made.
    pub fn at(&self) -> Timestamp {
        match self {
            AuditRecord::ExchangeIntent(r) => r.at,
            AuditRecord::ExchangeCompletion(r) => r.at,
            AuditRecord::Denial(r) => r.at,
            AuditRecord::ConsentChange(r) => r.at,
            AuditRecord::PolicyChange(r) => r.at,
            AuditRecord::RecipeRun(r) => r.at,
        }
    }

    /// The exchange the record belongs to, for the three exchange kinds.
    pub fn exchange(&self) -> Option<&ExchangeContext> {
        match self {
            AuditRecord::ExchangeIntent(r) => Some(&r.exchange),
            AuditRecord::ExchangeCompletion(r) => Some(&r.exchange),
            AuditRecord::Denial(r) => Some(&r.exchange),
            AuditRecord::RecipeRun(r) => Some(&r.exchange),
            AuditRecord::ConsentChange(_) | AuditRecord::PolicyChange(_) => None,
        }
    }

    /// The outcome, for completions and denials.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            AuditRecord::ExchangeCompletion(r) => Some(&r.outcome),
            AuditRecord::Denial(r) => Some(&r.outcome),
            AuditRecord::RecipeRun(r) => Some(&r.outcome),
            _ => None,
        }
    }

    /// The `kind` tag as written in the encoding.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditRecord::ExchangeIntent(_) => "exchange_intent",
            AuditRecord::ExchangeCompletion(_) => "exchange_completion",
            AuditRecord::Denial(_) => "denial",
            AuditRecord::ConsentChange(_) => "consent_change",
            AuditRecord::PolicyChange(_) => "policy_change",
            AuditRecord::RecipeRun(_) => "recipe_run",
        }
    }
}

/// Who called what, for whom and why: shared by every record of one exchange so each record
/// stands on its own (a citizen shown one completion sees who accessed their data and why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeContext {
    /// The exchange id (a UUID; the broker normalises it to lowercase).
    pub exchange_id: String,
    /// W3C trace id (32 lowercase hex digits), when the exchange was traced.
    pub trace_id: Option<String>,
    /// The calling principal, from its verified certificate.
    pub client: Client,
    /// Full gRPC method path, e.g. `/tongdao.household.v1.HouseholdRegistry/GetTranscript`.
    pub service: String,
    /// Declared purpose code (`015` …), when given.
    pub purpose: Option<String>,
    /// The data subject, pseudonymised, when the request names one.
    pub subject: Option<SubjectPseudonym>,
    /// Consent id presented, when any.
    pub consent_id: Option<String>,
    /// For a leg of a one-stop recipe: which recipe, which leg, and the run it belongs to.
    /// Added after version 1: omitted when absent, so records written before it keep their one
    /// encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<RecipeLeg>,
}

impl ExchangeContext {
    /// The recipe run this exchange is a leg of, if any.
    pub fn parent_exchange_id(&self) -> Option<&str> {
        self.recipe.as_ref().map(|r| r.parent_exchange_id.as_str())
    }
}

/// Where a leg's exchange belongs: so each of its records says on its own that it was one step
/// of a one-stop service (a citizen shown it sees why), and links to the run's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeLeg {
    /// The recipe's name, e.g. `welfare-eligibility`.
    pub recipe: String,
    /// The leg's name in the recipe, e.g. `members_land`.
    pub leg: String,
    /// The exchange id of the run (its `recipe_run` record).
    pub parent_exchange_id: String,
}

/// The calling principal as read from its verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Client {
    /// An agency system (GCA-style certificate).
    Agency {
        /// Agency code.
        agency: String,
        /// Subsystem, when the certificate names one.
        subsystem: Option<String>,
        /// The certificate.
        certificate: CertificateId,
    },
    /// A citizen (MOICA-style certificate). Neither the name nor the ID digits from the
    /// certificate are recorded: the subject pseudonym links citizen and data.
    Citizen {
        /// The certificate.
        certificate: CertificateId,
    },
    /// A certificate that identified nobody the broker knows (the record is a denial).
    Unrecognised {
        /// The certificate.
        certificate: CertificateId,
    },
}

impl Client {
    /// The agency code, for agency callers.
    pub fn agency(&self) -> Option<&str> {
        match self {
            Client::Agency { agency, .. } => Some(agency),
            _ => None,
        }
    }

    /// The certificate that authenticated the caller.
    pub fn certificate(&self) -> &CertificateId {
        match self {
            Client::Agency { certificate, .. }
            | Client::Citizen { certificate }
            | Client::Unrecognised { certificate } => certificate,
        }
    }
}

/// Identifies a certificate without copying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateId {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Issuer distinguished name (RFC 4514 string).
    pub issuer: String,
}

/// The permitting decision of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    /// Id of the rule that allowed the call.
    pub rule_id: String,
    /// Version of the policy set that decided.
    pub policy_version: String,
    /// When the rule defers the subject's view of this access (`deferred_disclosure_days`),
    /// the time from which the subject may see it. Added after version 1: omitted when
    /// absent, so records written before it keep their one encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosed_from: Option<Timestamp>,
}

/// How an exchange ended, in gRPC terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// gRPC status code (0 = OK … 16 = UNAUTHENTICATED).
    pub code: u32,
    /// The `google.rpc.ErrorInfo` reason (`CONSENT_REQUIRED` …), absent when OK.
    pub reason: Option<String>,
}

impl Outcome {
    /// The OK outcome.
    pub fn ok() -> Outcome {
        Outcome {
            code: 0,
            reason: None,
        }
    }

    /// The status code's canonical name (`OK`, `PERMISSION_DENIED` …).
    pub fn code_name(&self) -> &'static str {
        grpc_code_name(self.code)
    }
}

/// The canonical name of a gRPC status code.
pub fn grpc_code_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("UNKNOWN_CODE")
}

/// Intent: a permitted request is about to be forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeIntent {
    /// When the exchange was admitted.
    pub at: Timestamp,
    /// Who, what, for whom, why.
    pub exchange: ExchangeContext,
    /// The rule and policy version that permitted it.
    pub permit: Permit,
    /// SHA-256 of the request message bytes as received.
    pub request_digest: Sha256Digest,
}

/// Completion: the exchange's answer is about to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeCompletion {
    /// When the answer was ready.
    pub at: Timestamp,
    /// Who, what, for whom, why.
    pub exchange: ExchangeContext,
    /// Data classes (C001 …) actually released to the caller, sorted.
    pub released: Vec<String>,
    /// Status sent to the caller.
    pub outcome: Outcome,
    /// Time from admission to answer, in microseconds.
    pub latency_us: u64,
    /// SHA-256 of the response message bytes sent, when there was a response.
    pub response_digest: Option<Sha256Digest>,
}

/// Denial: the exchange was refused before reaching any adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// When it was refused.
    pub at: Timestamp,
    /// Who, what, for whom, why (as far as known when refused).
    pub exchange: ExchangeContext,
    /// Version of the policy set that refused, when policy was consulted.
    pub policy_version: Option<String>,
    /// Status sent; `reason` is the denial reason (`NO_MATCHING_RULE` …).
    pub outcome: Outcome,
    /// Time from arrival to refusal, in microseconds.
    pub latency_us: u64,
    /// SHA-256 of the request message bytes, when a message was read.
    pub request_digest: Option<Sha256Digest>,
}

/// A consent was granted or revoked (placeholder shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChange {
    /// When.
    pub at: Timestamp,
    /// The consent.
    pub consent_id: String,
    /// The citizen who gave or revoked it.
    pub subject: SubjectPseudonym,
    /// `grant` or `revoke`.
    pub change: String,
    /// SHA-256 of the signed consent document.
    pub document_digest: Sha256Digest,
}

/// A policy version was rolled out (placeholder shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChange {
    /// When it took effect.
    pub at: Timestamp,
    /// The new policy version.
    pub policy_version: String,
    /// The version it replaced.
    pub previous_version: Option<String>,
    /// SHA-256 of the compiled policy set.
    pub policy_digest: Sha256Digest,
}

/// A one-stop recipe run: who ran which recipe for whom, and how each leg's calls ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeRun {
    /// When the last leg answered.
    pub at: Timestamp,
    /// The parent exchange: its id is every leg's `recipe.parent_exchange_id`; `service` is
    /// `/tongdao.v1.OneStop/RunRecipe`; `subject` is the recipe's consent subject (or its
    /// first person input).
    pub exchange: ExchangeContext,
    /// The recipe's name.
    pub recipe: String,
    /// Version of the policy the recipe was taken from.
    pub policy_version: String,
    /// Every call of every leg, in the recipe's order.
    pub legs: Vec<LegCallOutcome>,
    /// OK: the caller received the legs' results (each leg's own outcome is in `legs`).
    pub outcome: Outcome,
    /// Time from arrival to answer, in microseconds.
    pub latency_us: u64,
}

/// How one call of a recipe leg ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegCallOutcome {
    /// The leg's name in the recipe.
    pub leg: String,
    /// The call's child exchange id; absent when the call was never made (what it reads was
    /// missing).
    pub exchange_id: Option<String>,
    /// Its outcome.
    pub outcome: Outcome,
}

/// A data subject's national ID after keyed hashing: `HMAC-SHA256(key, ID)`.
///
/// Without the key nobody can test a guessed ID against the log, so the log is no copy of
/// the registers; with it, `search` hashes an ID before looking it up. Encoded as 64
/// lowercase hex digits (never uppercase, so no encoding of it resembles an ID).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubjectPseudonym([u8; 32]);

impl SubjectPseudonym {
    /// Pseudonymises a national ID with the deployment's key. The ID is trimmed and
    /// upper-cased first so `a123456789` and `A123456789` name the same person.
    pub fn derive(key: &[u8; 32], national_id: &str) -> SubjectPseudonym {
        let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(national_id.trim().to_ascii_uppercase().as_bytes());
        SubjectPseudonym(mac.finalize().into_bytes().into())
    }

    /// Parses the 64-hex-digit form (as printed by the log and the CLI).
    pub fn from_hex(text: &str) -> Option<SubjectPseudonym> {
        unhex32(text).map(SubjectPseudonym)
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for SubjectPseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectPseudonym({})", self.to_hex())
    }
}

impl Serialize for SubjectPseudonym {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SubjectPseudonym {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        SubjectPseudonym::from_hex(&text)
            .filter(|_| text.bytes().all(|b| !b.is_ascii_uppercase()))
            .ok_or_else(|| serde::de::Error::custom("subject must be 64 lowercase hex digits"))
    }
}

/// A SHA-256 digest of a message, encoded as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        unhex32(&text)
            .map(Sha256Digest)
            .ok_or_else(|| serde::de::Error::custom("digest must be 64 hex digits"))
    }
}

/// A UTC instant with microsecond precision.
///
/// Encoded as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339, always six fraction digits), which
/// is fixed-width, so encoded times sort as text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const TIMESTAMP_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

impl Timestamp {
    /// Now, from the system clock.
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// From microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.0
    }

    /// Parses any RFC 3339 time (with offset), e.g. for `--since`.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        Some(Timestamp((at.unix_timestamp_nanos() / 1000) as i64))
    }

    fn to_offset_date_time(self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000).ok()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(at: SystemTime) -> Timestamp {
        let micros = match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => after.as_micros() as i64,
            Err(before) => -(before.duration().as_micros() as i64),
        };
        Timestamp(micros)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self
            .to_offset_date_time()
            .and_then(|at| at.format(TIMESTAMP_FORMAT).ok())
        {
            Some(text) => f.write_str(&text),
            None => write!(f, "@{}us", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let at = self
            .to_offset_date_time()
            .ok_or_else(|| serde::ser::Error::custom("timestamp out of range"))?;
        let text = at
            .format(TIMESTAMP_FORMAT)
            .map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let at = time::PrimitiveDateTime::parse(&text, TIMESTAMP_FORMAT)
            .map_err(serde::de::Error::custom)?
            .assume_utc();
        Ok(Timestamp((at.unix_timestamp_nanos() / 1000) as i64))
    }
}

#[cfg(test)]
mod tests;
