//! Authorization as a type: only a [`Permitted`] exchange can be forwarded to an adapter, and
//! only this module can make one — from a policy decision that allowed it.

use std::sync::Arc;

use tongdao_core::{Principal, Reason, Rejection};
use tongdao_policy::{Allow, DecisionRequest, Quotas};

use crate::{
    exchange::{CONSENT_HEADER, Exchange, PURPOSE_HEADER},
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

/// The authorization step: default deny, purpose-bound rules, quotas.
#[derive(Debug, Clone)]
pub(crate) struct Authorize {
    pub(crate) policy: PolicyHandle,
    pub(crate) quotas: Arc<Quotas>,
}

impl Step<Exchange> for Authorize {
    type Out = Permitted<Exchange>;

    fn apply(&self, exchange: Exchange) -> Result<Permitted<Exchange>, Rejection> {
        let agency_code = match &exchange.principal {
            Principal::Agency(agency) => agency.code.as_str(),
            // Citizens get their own self-access rules with the consent issue; until then
            // domain services are for agencies.
            Principal::Citizen(_) => {
                return Err(Rejection::new(
                    Reason::AgencyRequired,
                    "domain services are open to agency certificates; a citizen certificate cannot call them",
                ));
            }
        };
        let now_unix = unix_now();
        let policy = self.policy.load();
        let request = DecisionRequest {
            agency_code: Some(agency_code),
            method: &exchange.method.path,
            purpose: exchange.header(PURPOSE_HEADER),
            now_unix,
        };
        let allow = policy
            .decide(&request)
            .into_result()
            .map_err(|denial| denial.into_rejection())?;
        if allow.consent_required {
            // Consents are issued and verified with the MyData issue; until then a rule that
            // needs one cannot be satisfied, and says so.
            return Err(match exchange.header(CONSENT_HEADER) {
                None => Rejection::new(
                    Reason::ConsentRequired,
                    format!(
                        "rule {} needs the data subject's consent: send tongdao-consent",
                        allow.rule_id
                    ),
                ),
                Some(_) => Rejection::new(
                    Reason::ConsentInvalid,
                    "this broker does not issue consents yet",
                ),
            });
        }
        // Last, so refused requests never use up the quota.
        self.quotas
            .try_acquire(&allow, agency_code, now_unix)
            .map_err(|denial| denial.into_rejection())?;
        Ok(Permitted {
            inner: exchange,
            allow,
        })
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
