//! Decisions: for one request, the rule that allows it (with the fields to release) or the
//! reason it is refused.
//!
//! The order of checks is the order a caller fixes things in: a service nobody may call, a
//! caller who is not an agency, a missing or unknown purpose, then the rules of this agency for
//! this service.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use tongdao_core::{Reason, Rejection};
use tongdao_schemas::v1::DataClass;

use crate::codes::Purpose;
use crate::index::AgencyKey;
use crate::mask::FieldMask;
use crate::policy::{ClientRules, Entry, Policy};
use crate::rules::{CITIZEN_SELF, LegalBasis, Quota, SpecialBasis};
use crate::toml_read::format_instant;

/// One request to decide on.
#[derive(Debug, Clone, Copy)]
pub struct DecisionRequest<'a> {
    /// The calling agency's code; `None` when the caller is not an agency (a citizen).
    pub agency_code: Option<&'a str>,
    /// Full method path, `/package.Service/Method`.
    pub method: &'a str,
    /// The raw `tongdao-purpose` value, if the request carried one.
    pub purpose: Option<&'a str>,
    /// The time of the request, Unix seconds (validity windows).
    pub now_unix: i64,
}

/// The outcome of [`Policy::decide`].
#[derive(Debug, Clone)]
pub enum Decision {
    /// A rule allows the request.
    Allow(Allow),
    /// No rule allows it.
    Deny(Denial),
}

impl Decision {
    /// The allowance, or the denial as an error.
    pub fn into_result(self) -> Result<Allow, Denial> {
        match self {
            Self::Allow(allow) => Ok(allow),
            Self::Deny(denial) => Err(denial),
        }
    }

    /// Whether a rule allows the request.
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow(_))
    }
}

/// What a matching rule allows: which rule, under which policy version, which fields to
/// release and on what legal basis.
#[derive(Debug, Clone, PartialEq)]
pub struct Allow {
    /// The matching rule's id (for the audit record).
    pub rule_id: Arc<str>,
    /// The version of the policy that decided.
    pub policy_version: Arc<str>,
    /// The declared purpose, normalised (`○九五` → `095`); `None` only for services without
    /// personal data called without one.
    pub purpose: Option<Purpose>,
    /// The fields of the response to release; apply it to the adapter's reply.
    pub fields: Arc<FieldMask>,
    /// Whether the request must carry the subject's consent (`tongdao-consent`).
    pub consent_required: bool,
    /// The §15/§16 basis.
    pub legal_basis: LegalBasis,
    /// The §6 ground, when special-category data is released.
    pub special_basis: Option<SpecialBasis>,
    /// Data classes the released fields carry.
    pub released_classes: Vec<DataClass>,
    /// The rule's quota, for [`crate::Quotas::try_acquire`].
    pub quota: Option<Quota>,
    /// Days the subject's view of this access is deferred.
    pub deferred_disclosure_days: Option<u32>,
}

/// A refusal: a reason from the fixed set and a message for the caller. Only this crate makes
/// them, so a denial always comes from a policy decision or a quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    reason: Reason,
    message: Cow<'static, str>,
}

impl Denial {
    pub(crate) fn new(reason: Reason, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// The reason (`PURPOSE_REQUIRED`, `NO_MATCHING_RULE`, …).
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The caller-facing message. It names the method, agency, purposes and rule windows — what
    /// the caller needs to fix the request — never a subject or a file.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The rejection the broker answers with.
    pub fn into_rejection(self) -> Rejection {
        Rejection::new(self.reason, self.message)
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str_name(), self.message)
    }
}

impl std::error::Error for Denial {}

impl From<Denial> for Rejection {
    fn from(denial: Denial) -> Self {
        denial.into_rejection()
    }
}

/// How a request resolved against the index, shared by `decide` and `explain`.
pub(crate) enum Lookup<'p> {
    Matched(&'p Entry, Option<Purpose>),
    Refused(Denial),
}

impl Policy {
    /// Decides one request. Pure and allocation-light: two hash lookups and a scan of the
    /// agency's few rules for the method.
    pub fn decide(&self, request: &DecisionRequest<'_>) -> Decision {
        match self.lookup(request) {
            Lookup::Matched(entry, purpose) => {
                let mut allow = entry.allow.clone();
                allow.purpose = purpose;
                allow.released_classes = entry.classes.to_vec();
                Decision::Allow(allow)
            }
            Lookup::Refused(denial) => Decision::Deny(denial),
        }
    }

    pub(crate) fn lookup(&self, request: &DecisionRequest<'_>) -> Lookup<'_> {
        let method = request.method;
        let Some(slot) = self.index.get(method) else {
            return Lookup::Refused(Denial::new(
                Reason::NoMatchingRule,
                format!("{method} is not a registered service; no rule can allow it"),
            ));
        };
        // A caller that is not an agency is a citizen acting for themselves: only
        // `citizen:self` rules apply (the broker checks that the subject is the caller).
        let client_key = match request.agency_code {
            Some(agency) if agency != CITIZEN_SELF => AgencyKey::new(agency),
            Some(_) => None,
            None => match AgencyKey::new(CITIZEN_SELF) {
                Some(key) if slot.by_client.contains_key(&key) => Some(key),
                _ => {
                    return Lookup::Refused(Denial::new(
                        Reason::AgencyRequired,
                        format!(
                            "{method} is open to agency certificates only; citizens may call \
                             the services self-access rules name, for their own records"
                        ),
                    ));
                }
            },
        };
        let agency = request.agency_code.unwrap_or(CITIZEN_SELF);
        let purpose = match request.purpose.map(str::trim).filter(|p| !p.is_empty()) {
            None if slot.personal => {
                return Lookup::Refused(Denial::new(
                    Reason::PurposeRequired,
                    format!(
                        "{method} returns personal data: declare the purpose in the \
                         tongdao-purpose header (a PDPA purpose code such as 095)"
                    ),
                ));
            }
            None => None,
            Some(raw) => match self.purposes().resolve_index(raw) {
                Some(found) => Some(found),
                // The raw value is not echoed: callers have been seen putting other data there.
                None => {
                    return Lookup::Refused(Denial::new(
                        Reason::PurposeUnknown,
                        "the tongdao-purpose value is not a registered PDPA purpose code \
                         (three digits, e.g. 095)",
                    ));
                }
            },
        };
        let Some(client) = client_key.and_then(|key| slot.by_client.get(&key)) else {
            return Lookup::Refused(Denial::new(
                Reason::NoMatchingRule,
                format!("no rule allows agency {agency} to call {method}"),
            ));
        };
        let mut out_of_window = None;
        for entry in client.entries() {
            if purpose.is_some_and(|(index, _)| !entry.purpose_set.contains(index)) {
                continue;
            }
            if entry.is_valid_at(request.now_unix) {
                return Lookup::Matched(entry, purpose.map(|(_, code)| code));
            }
            out_of_window.get_or_insert(entry);
        }
        let purpose = purpose.map(|(_, code)| code);
        Lookup::Refused(self.refusal(client, out_of_window, purpose, request))
    }

    fn refusal(
        &self,
        client: &ClientRules,
        out_of_window: Option<&Entry>,
        purpose: Option<Purpose>,
        request: &DecisionRequest<'_>,
    ) -> Denial {
        let method = request.method;
        let who = match request.agency_code {
            Some(agency) => Cow::Owned(format!("agency {agency}")),
            None => Cow::Borrowed("a citizen (for their own records)"),
        };
        if let Some(entry) = out_of_window {
            let rule = self.rule_at(entry.rule);
            let when = if entry.valid_from > request.now_unix {
                format!("from {}", format_instant(entry.valid_from))
            } else {
                format!("until {}", format_instant(entry.valid_until))
            };
            return Denial::new(
                Reason::NoMatchingRule,
                format!(
                    "rule {} allowing {who} to call {method} is not in force now \
                     (it is valid {when})",
                    rule.id
                ),
            );
        }
        match purpose {
            Some(purpose) => {
                let mut message = String::with_capacity(128 + method.len());
                message.push_str(&who);
                message.push_str(" may call ");
                message.push_str(method);
                message.push_str(" only for purpose ");
                let entries = self.purposes().entries();
                for (n, index) in client.all_purposes.iter().enumerate() {
                    if n > 0 {
                        message.push_str(", ");
                    }
                    if let Some(entry) = entries.get(index) {
                        entry.code.push_to(&mut message);
                    }
                }
                message.push_str(", not ");
                purpose.push_to(&mut message);
                Denial::new(Reason::PurposeNotAllowed, message)
            }
            None => Denial::new(
                Reason::NoMatchingRule,
                format!("no rule allows {who} to call {method} now"),
            ),
        }
    }
}

#[cfg(test)]
mod tests;
