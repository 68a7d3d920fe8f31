//! What a consent is: its id, purpose code, validity, the terms a citizen grants, and the
//! validated [`Consent`] built from a [`Grant`] request.
//!
//! Parse, don't validate: a [`Consent`] can only come from [`Consent::grant`] (which checks
//! every input) or from decoding one of the crate's own documents (which checks the shape
//! again), so code holding one never re-checks it.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tongdao_core::ids::{AgencyCode, IdError, NationalId};
use uuid::Uuid;

use crate::timestamp::Timestamp;

/// A consent's id: a UUIDv7, written in lowercase hyphenated form.
///
/// Version 7 ids sort by creation time, so logs and listings read in grant order. Only the
/// canonical spelling is accepted: an id is a lookup key, and two spellings of one id would
/// be two keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsentId(Uuid);

impl ConsentId {
    /// A fresh id (UUIDv7 from the system clock and random bits).
    pub fn generate() -> ConsentId {
        ConsentId(Uuid::now_v7())
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

/// Why a string is not a consent id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConsentIdError {
    /// Not a UUID in lowercase hyphenated form (`0193a5b2-…`, 36 characters).
    #[error("a consent id is a UUID written in lowercase with hyphens (36 characters)")]
    Malformed,
    /// A UUID, but not version 7.
    #[error("a consent id is a version 7 UUID")]
    NotVersion7,
}

impl FromStr for ConsentId {
    type Err = ConsentIdError;

    fn from_str(text: &str) -> Result<ConsentId, ConsentIdError> {
        let canonical = text.len() == 36
            && text.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            });
        if !canonical {
            return Err(ConsentIdError::Malformed);
        }
        let uuid = Uuid::try_parse(text).map_err(|_| ConsentIdError::Malformed)?;
        if uuid.get_version_num() != 7 || uuid.get_variant() != uuid::Variant::RFC4122 {
            return Err(ConsentIdError::NotVersion7);
        }
        Ok(ConsentId(uuid))
    }
}

impl fmt::Display for ConsentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for ConsentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConsentId({self})")
    }
}

impl Serialize for ConsentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConsentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A PDPA specific-purpose code (`001`–`999`), e.g. `057` social administration.
///
/// Only the ASCII three-digit form is accepted here; the API layer turns the official
/// spellings (`○五七`, `０５７`) into it first (as `tongdao_policy::Purpose` does), so a
/// consent's purpose has one spelling.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PurposeCode([u8; 3]);

impl PurposeCode {
    /// The three ASCII digits.
    pub fn as_str(&self) -> &str {
        // Three ASCII digits by construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for PurposeCode {
    type Err = GrantError;

    fn from_str(text: &str) -> Result<PurposeCode, GrantError> {
        match text.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|d| d.is_ascii_digit()) && text != "000" => {
                Ok(PurposeCode([*a, *b, *c]))
            }
            _ => Err(GrantError::Purpose),
        }
    }
}

impl fmt::Display for PurposeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PurposeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PurposeCode({self})")
    }
}

impl Serialize for PurposeCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PurposeCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How long a consent lasts. Both kinds end at `not_after` (exclusive: a use at that second
/// is refused); a single-use consent also ends at its first successful use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ValidityRepr", into = "ValidityRepr")]
pub enum Validity {
    /// Good for one exchange (the MyData model: one consent per transaction), until
    /// `not_after` at the latest.
    SingleUse {
        /// The first second at which the consent no longer holds.
        not_after: Timestamp,
    },
    /// Good for any number of exchanges until this instant (exclusive).
    Until(Timestamp),
}

impl Validity {
    /// The first second at which the consent no longer holds.
    pub fn not_after(&self) -> Timestamp {
        match *self {
            Validity::SingleUse { not_after } | Validity::Until(not_after) => not_after,
        }
    }

    /// Whether the consent is consumed by its first use.
    pub fn is_single_use(&self) -> bool {
        matches!(self, Validity::SingleUse { .. })
    }
}

/// The encoding: `{"kind":"single_use","not_after":"…"}` or `{"kind":"until",…}`.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ValidityRepr {
    SingleUse { not_after: Timestamp },
    Until { not_after: Timestamp },
}

impl From<ValidityRepr> for Validity {
    fn from(repr: ValidityRepr) -> Validity {
        match repr {
            ValidityRepr::SingleUse { not_after } => Validity::SingleUse { not_after },
            ValidityRepr::Until { not_after } => Validity::Until(not_after),
        }
    }
}

impl From<Validity> for ValidityRepr {
    fn from(validity: Validity) -> ValidityRepr {
        match validity {
            Validity::SingleUse { not_after } => ValidityRepr::SingleUse { not_after },
            Validity::Until(not_after) => ValidityRepr::Until { not_after },
        }
    }
}

/// A citizen's request to grant a consent, as it arrives from the API (strings unparsed).
///
/// The subject is already a [`NationalId`]: the broker takes it from the citizen's verified
/// identity, never from the request body, so citizens grant only for themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The citizen granting (the data subject).
    pub subject: NationalId,
    /// The agency allowed to use the consent (機關代碼, e.g. `376570000A`).
    pub grantee: String,
    /// Full gRPC method paths it covers, e.g. `/tongdao.tax.v1.TaxRegistry/ListIncome`.
    pub services: Vec<String>,
    /// Response field paths it covers (`items.gross_amount`; `items` covers every
    /// `items.…`). At least one.
    pub fields: Vec<String>,
    /// PDPA purpose code, three ASCII digits (`057`).
    pub purpose: String,
    /// Single use or until a time.
    pub validity: Validity,
}

/// Bounds on what one grant may ask for. The defaults suit the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest time from grant to `not_after`. Default 366 days: a consent a citizen
    /// forgot should lapse within a year; longer needs a new grant.
    pub max_span: Duration,
    /// Most services in one consent. Default 16: a one-stop recipe spans a handful.
    pub max_services: usize,
    /// Most field paths in one consent. Default 64, which keeps an artefact under ~6 KB.
    pub max_fields: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_span: Duration::from_secs(366 * 24 * 3600),
            max_services: 16,
            max_fields: 64,
        }
    }
}

/// Why a [`Grant`] was refused. Positions are 1-based indexes into the request's lists; no
/// variant echoes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The grantee is not an agency code.
    #[error("grantee: {0}")]
    Grantee(IdError),
    /// The purpose is not a three-digit PDPA purpose code (`001`–`999`).
    #[error("purpose: expected a three-digit PDPA purpose code such as 057")]
    Purpose,
    /// No service listed.
    #[error("services: at least one service is required")]
    NoServices,
    /// A service is not a full gRPC method path (`/package.Service/Method`).
    #[error(
        "services: entry {position} is not a full gRPC method path such as /tongdao.tax.v1.TaxRegistry/ListIncome"
    )]
    Service {
        /// 1-based position in the list.
        position: usize,
    },
    /// More distinct services than [`Limits::max_services`].
    #[error("services: at most {max} services per consent")]
    TooManyServices {
        /// The limit.
        max: usize,
    },
    /// No field listed.
    #[error("fields: at least one field is required")]
    NoFields,
    /// A field is not a dotted path of protobuf field names (`items.gross_amount`).
    #[error("fields: entry {position} is not a field path such as items.gross_amount")]
    Field {
        /// 1-based position in the list.
        position: usize,
    },
    /// More distinct fields than [`Limits::max_fields`].
    #[error("fields: at most {max} fields per consent")]
    TooManyFields {
        /// The limit.
        max: usize,
    },
    /// `not_after` is not after the time of the grant.
    #[error("validity: the end of validity must be in the future")]
    NotInFuture,
    /// `not_after` lies further ahead than [`Limits::max_span`].
    #[error("validity: a consent may last at most {max_days} days")]
    TooLong {
        /// The limit, in whole days.
        max_days: u64,
    },
}

/// A granted consent: who allowed which agency to read what, for which purpose, how long.
///
/// Its canonical JSON (members in the order below, lists sorted and without duplicates) is
/// what the artefact signs; see the crate documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct Consent {
    id: ConsentId,
    subject: NationalId,
    terms: Terms,
}

/// Everything in a consent but its id and subject: shared by the signed document (clear
/// national ID) and the stored record (pseudonym).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terms {
    pub(crate) grantee: AgencyCode,
    /// Sorted, distinct, valid method paths; at least one.
    pub(crate) services: Vec<String>,
    /// Sorted, distinct, valid field paths; at least one.
    pub(crate) fields: Vec<String>,
    pub(crate) purpose: PurposeCode,
    pub(crate) validity: Validity,
    pub(crate) granted_at: Timestamp,
}

impl Consent {
    /// Validates a grant made at `now` and gives the consent a fresh id.
    pub fn grant(grant: Grant, now: Timestamp, limits: &Limits) -> Result<Consent, GrantError> {
        let Grant {
            subject,
            grantee,
            services,
            fields,
            purpose,
            validity,
        } = grant;
        let grantee = grantee.parse::<AgencyCode>().map_err(GrantError::Grantee)?;
        let services = canonical_list(
            services,
            is_method_path,
            GrantError::NoServices,
            |position| GrantError::Service { position },
        )?;
        if services.len() > limits.max_services {
            return Err(GrantError::TooManyServices {
                max: limits.max_services,
            });
        }
        let fields = canonical_list(fields, is_field_path, GrantError::NoFields, |position| {
            GrantError::Field { position }
        })?;
        if fields.len() > limits.max_fields {
            return Err(GrantError::TooManyFields {
                max: limits.max_fields,
            });
        }
        let purpose = purpose.parse::<PurposeCode>()?;
        let not_after = validity.not_after();
        if not_after <= now {
            return Err(GrantError::NotInFuture);
        }
        let max_span = i64::try_from(limits.max_span.as_secs()).unwrap_or(i64::MAX);
        if not_after.unix_seconds() - now.unix_seconds() > max_span {
            return Err(GrantError::TooLong {
                max_days: limits.max_span.as_secs() / 86_400,
            });
        }
        Ok(Consent {
            id: ConsentId::generate(),
            subject,
            terms: Terms {
                grantee,
                services,
                fields,
                purpose,
                validity,
                granted_at: now,
            },
        })
    }

    pub(crate) fn from_parts(id: ConsentId, subject: NationalId, terms: Terms) -> Consent {
        Consent { id, subject, terms }
    }

    pub(crate) fn terms(&self) -> &Terms {
        &self.terms
    }

    /// The consent's id.
    pub fn id(&self) -> &ConsentId {
        &self.id
    }

    /// The citizen who granted it.
    pub fn subject(&self) -> &NationalId {
        &self.subject
    }

    /// The agency that may use it.
    pub fn grantee(&self) -> &AgencyCode {
        &self.terms.grantee
    }

    /// The method paths it covers, sorted.
    pub fn services(&self) -> &[String] {
        &self.terms.services
    }

    /// The response field paths it covers, sorted.
    pub fn fields(&self) -> &[String] {
        &self.terms.fields
    }

    /// The purpose it was granted for.
    pub fn purpose(&self) -> PurposeCode {
        self.terms.purpose
    }

    /// Single use or until a time.
    pub fn validity(&self) -> Validity {
        self.terms.validity
    }

    /// When it was granted.
    pub fn granted_at(&self) -> Timestamp {
        self.terms.granted_at
    }

    /// The canonical JSON encoding (what the artefact signs).
    pub fn to_canonical_json(&self) -> Vec<u8> {
        // Serialising plain strings and numbers into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl fmt::Debug for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The subject's Debug masks all but its last four characters.
        f.debug_struct("Consent")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .field("grantee", &self.terms.grantee)
            .field("services", &self.terms.services)
            .field("fields", &self.terms.fields)
            .field("purpose", &self.terms.purpose)
            .field("validity", &self.terms.validity)
            .field("granted_at", &self.terms.granted_at)
            .finish()
    }
}

/// The encoding of a consent whose subject is `S` (a national ID in the signed document, a
/// pseudonym in a store). Members in this order; nothing omitted.
#[derive(Serialize)]
pub(crate) struct ConsentOut<'a, S> {
    pub(crate) id: &'a ConsentId,
    pub(crate) subject: &'a S,
    pub(crate) grantee: &'a AgencyCode,
    pub(crate) services: &'a [String],
    pub(crate) fields: &'a [String],
    pub(crate) purpose: PurposeCode,
    pub(crate) validity: Validity,
    pub(crate) granted_at: Timestamp,
}

impl<'a, S> ConsentOut<'a, S> {
    pub(crate) fn new(id: &'a ConsentId, subject: &'a S, terms: &'a Terms) -> Self {
        ConsentOut {
            id,
            subject,
            grantee: &terms.grantee,
            services: &terms.services,
            fields: &terms.fields,
            purpose: terms.purpose,
            validity: terms.validity,
            granted_at: terms.granted_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentIn<S> {
    pub(crate) id: ConsentId,
    pub(crate) subject: S,
    grantee: AgencyCode,
    services: Vec<String>,
    fields: Vec<String>,
    purpose: PurposeCode,
    validity: Validity,
    granted_at: Timestamp,
}

impl<S> ConsentIn<S> {
    /// Checks the shape a grant would have produced (lists non-empty, valid, sorted,
    /// distinct; validity ending after the grant).
    pub(crate) fn into_parts(self) -> Result<(ConsentId, S, Terms), &'static str> {
        let ConsentIn {
            id,
            subject,
            grantee,
            services,
            fields,
            purpose,
            validity,
            granted_at,
        } = self;
        if !is_canonical(&services, is_method_path) {
            return Err("services are not sorted, distinct method paths");
        }
        if !is_canonical(&fields, is_field_path) {
            return Err("fields are not sorted, distinct field paths");
        }
        if validity.not_after() <= granted_at {
            return Err("validity ends before the grant");
        }
        Ok((
            id,
            subject,
            Terms {
                grantee,
                services,
                fields,
                purpose,
                validity,
                granted_at,
            },
        ))
    }
}

impl Serialize for Consent {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        ConsentOut::new(&self.id, &self.subject, &self.terms).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Consent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (id, subject, terms) = ConsentIn::<NationalId>::deserialize(deserializer)?
            .into_parts()
            .map_err(serde::de::Error::custom)?;
        Ok(Consent { id, subject, terms })
    }
}

/// What has happened to a consent since it was granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsentState {
    /// When the citizen revoked it.
    pub revoked_at: Option<Timestamp>,
    /// When a single-use consent was consumed.
    pub used_at: Option<Timestamp>,
}

/// A consent's standing at some instant, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Usable.
    Active,
    /// Revoked by the citizen.
    Revoked,
    /// Single use, already consumed.
    Used,
    /// Past its `not_after`.
    Expired,
}

impl ConsentState {
    /// The standing of `consent` at `now`: revoked before used before expired.
    pub fn status(&self, consent: &Consent, now: Timestamp) -> Status {
        if self.revoked_at.is_some() {
            Status::Revoked
        } else if self.used_at.is_some() {
            Status::Used
        } else if now >= consent.validity().not_after() {
            Status::Expired
        } else {
            Status::Active
        }
    }
}

/// Sorts and deduplicates a list after checking each entry (positions are the caller's).
fn canonical_list(
    mut list: Vec<String>,
    valid: fn(&str) -> bool,
    empty: GrantError,
    bad: impl Fn(usize) -> GrantError,
) -> Result<Vec<String>, GrantError> {
    if list.is_empty() {
        return Err(empty);
    }
    if let Some(index) = list.iter().position(|entry| !valid(entry)) {
        return Err(bad(index + 1));
    }
    list.sort_unstable();
    list.dedup();
    Ok(list)
}

fn is_canonical(list: &[String], valid: fn(&str) -> bool) -> bool {
    !list.is_empty()
        && list.iter().all(|entry| valid(entry))
        && list.windows(2).all(|pair| pair[0] < pair[1])
}

/// Longest method path or field path accepted.
const MAX_PATH: usize = 200;

/// `/package.Service/Method`: a dotted service name (letters, digits, `_`), a method name.
pub(crate) fn is_method_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let Some((service, method)) = rest.split_once('/') else {
        return false;
    };
    path.len() <= MAX_PATH && is_dotted(service) && is_identifier(method)
}

/// `items.gross_amount`: protobuf field names joined by dots.
pub(crate) fn is_field_path(path: &str) -> bool {
    path.len() <= MAX_PATH && is_dotted(path)
}

fn is_dotted(text: &str) -> bool {
    text.split('.').all(is_identifier)
}

fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a consent listing the sorted `fields` covers `field`: the path itself or one of
/// its ancestors (`items` covers `items.gross_amount`) is listed.
pub(crate) fn covers(fields: &[String], field: &str) -> bool {
    let listed = |path: &str| fields.binary_search_by(|f| f.as_str().cmp(path)).is_ok();
    if listed(field) {
        return true;
    }
    field
        .match_indices('.')
        .any(|(dot, _)| listed(&field[..dot]))
}

#[cfg(test)]
mod tests;
