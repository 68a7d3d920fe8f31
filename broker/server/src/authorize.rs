//! Authorization as a type: only a [`Permitted`] exchange can be forwarded to an adapter, and
//! only this module can make one — from a policy decision that allowed it and, where the rule
//! needs the data subject's consent, a consent the store confirmed (`consent.rs`).

mod consent;

pub(crate) use consent::ConsentLayer;

use std::sync::Arc;

use tongdao_core::{Principal, Rejection};
use tongdao_policy::{Allow, DecisionRequest, Quotas};

use crate::{
    exchange::{Exchange, PURPOSE_HEADER},
    layers::Step,
    policy::PolicyHandle,
};

/// An exchange the policy allowed, with what it allowed (the rule, the fields to release). The
/// fields are private and there is no public constructor, so code after the authorization
/// layer cannot forge one.
#[derive(Debug)]
pub(crate) struct Permitted<T> {
    inner: T,
    allow: Allow,
}

impl<T> Permitted<T> {
    /// The permitted value and the decision that permitted it.
    pub(crate) fn into_parts(self) -> (T, Allow) {
        (self.inner, self.allow)
    }
}

/// An exchange the policy allowed whose consent, if its rule needs one, the consent step
/// ([`ConsentLayer`]) still has to confirm before it becomes [`Permitted`].
#[derive(Debug)]
pub(crate) struct Authorized {
    inner: Exchange,
    allow: Allow,
    /// The consent presented, when the rule needs one.
    consent: Option<tongdao_consent::ConsentId>,
}

/// The authorization step: default deny, purpose-bound rules, quotas.
#[derive(Debug, Clone)]
pub(crate) struct Authorize {
    pub(crate) policy: PolicyHandle,
    pub(crate) quotas: Arc<Quotas>,
}

impl Step<Exchange> for Authorize {
    type Out = Authorized;

    fn apply(&self, exchange: Exchange) -> Result<Authorized, Rejection> {
        let agency_code = match &exchange.principal {
            Principal::Agency(agency) => Some(agency.code.as_str()),
            // A citizen acts for themselves (Validate has checked that the subject is the
            // certificate's holder); only `citizen:self` rules can allow them.
            Principal::Citizen(_) => None,
        };
        let now_unix = unix_now();
        let policy = self.policy.load();
        let request = DecisionRequest {
            agency_code,
            method: &exchange.method.path,
            purpose: exchange.header(PURPOSE_HEADER),
            now_unix,
        };
        let mut allow = policy
            .decide(&request)
            .into_result()
            .map_err(|denial| denial.into_rejection())?;
        if let Some(leg) = &exchange.leg {
            narrow_to_leg(&mut allow, &leg.fields);
        }
        // A rule needing consent: the exchange must present one (checked against the store,
        // and consumed if single use, by the consent step after the quota).
        let consent = if allow.consent_required {
            Some(consent::presented(&exchange, &allow)?)
        } else {
            None
        };
        // Last of the policy checks, so policy refusals never use up the quota; before the
        // consent check, so a quota refusal never consumes a single-use consent (a consent
        // refusal does count).
        self.quotas
            .try_acquire(&allow, agency_code.unwrap_or("citizen:self"), now_unix)
            .map_err(|denial| denial.into_rejection())?;
        Ok(Authorized {
            inner: exchange,
            allow,
            consent,
        })
    }
}

/// A recipe leg asks for no more than its rule releases (checked when the policy compiles),
/// and often less: then the leg's mask is the one applied, consented to and audited, so the
/// records show what the recipe actually received. Should a policy reload slip between the
/// recipe being read and this decision, a leg asking for a field the rule no longer releases
/// keeps the rule's mask (the runner masks to the leg's fields afterwards either way).
fn narrow_to_leg(allow: &mut Allow, leg_fields: &Arc<tongdao_policy::FieldMask>) {
    let within_rule = leg_fields.descriptor() == allow.fields.descriptor()
        && leg_fields
            .paths()
            .iter()
            .all(|path| allow.fields.releases(path));
    if within_rule {
        allow.released_classes = leg_fields.released_classes().to_vec();
        allow.fields = Arc::clone(leg_fields);
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tongdao_policy::{Allow, FieldMask, LegalBasis};

    use super::narrow_to_leg;

    fn mask(paths: &[&str]) -> Arc<FieldMask> {
        let transcript = tongdao_schemas::descriptors::pool()
            .get_message_by_name("tongdao.household.v1.Transcript")
            .expect("Transcript");
        Arc::new(FieldMask::compile(&transcript, paths).expect("valid paths"))
    }

    fn allow(fields: Arc<FieldMask>) -> Allow {
        Allow {
            rule_id: "rule".into(),
            policy_version: "v".into(),
            purpose: None,
            released_classes: fields.released_classes().to_vec(),
            fields,
            consent_required: false,
            legal_basis: LegalBasis::Duty,
            special_basis: None,
            quota: None,
            deferred_disclosure_days: None,
        }
    }

    #[test]
    fn a_leg_within_its_rule_gets_only_its_fields_and_their_classes() {
        let rule = mask(&["household_number", "members.name", "members.birth_date"]);
        let mut decided = allow(rule);
        narrow_to_leg(&mut decided, &mask(&["members.name"]));
        assert_eq!(decided.fields.paths(), ["members.name"]);
        let classes: Vec<&str> = decided
            .released_classes
            .iter()
            .map(|c| c.as_str_name())
            .collect();
        assert_eq!(classes, ["C001"], "names only: no C011 birth dates");
    }

    #[test]
    fn a_leg_asking_beyond_its_rule_keeps_the_rules_mask() {
        // A policy reload between reading the recipe and deciding: the leg asks for a field the
        // rule in force no longer releases, and gets no more than the rule.
        let rule = mask(&["members.name"]);
        let mut decided = allow(rule.clone());
        narrow_to_leg(
            &mut decided,
            &mask(&["members.name", "members.national_id"]),
        );
        assert_eq!(decided.fields, rule);
    }
}
