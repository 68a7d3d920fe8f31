//! `tongdao.v1.Consent`: a citizen grants, revokes and lists their own consents.
//!
//! Citizens only (`CITIZEN_REQUIRED`), for their own national ID: the request names the full
//! ID, which must pass the checksum (`SUBJECT_INVALID`) and end in the 4 characters of the
//! certificate (`IDENTITY_MISMATCH`). A grant is checked against the registries in force
//! (grantee, services, fields, purpose) and the consent model's limits. Every grant and
//! revocation is an audit record written before the change (`consent_change`: the subject's
//! pseudonym and the artefact's SHA-256, never the ID); every refused call is a `denial`
//! record, as for exchanges.

use std::sync::Arc;

use prost_reflect::MessageDescriptor;
use tongdao_audit::{
    AuditRecord, CertificateId, Client, ConsentChange, Denial, ExchangeContext, Outcome,
    Sha256Digest,
};
use tongdao_consent::{
    Consent, ConsentId, ConsentState, Grant, Limits, Revocation, Status as ConsentStatus,
    Timestamp, Validity,
};
use tongdao_core::{Principal, Reason, Rejection, ids::NationalId, reason::reason_name};
use tongdao_schemas::v1::{
    ConsentEntry, GrantConsentRequest, GrantConsentResponse, ListConsentsRequest,
    ListConsentsResponse, RevokeConsentRequest, RevokeConsentResponse, consent_server,
};
use tonic::{Request, Response, Status};

use crate::{
    audit::Auditor,
    consent::{Consents, store_unavailable},
    exchange::Caller,
    policy::PolicyHandle,
};

/// `tongdao.v1.Consent`.
#[derive(Debug, Clone)]
pub(crate) struct ConsentApi {
    /// `None`: the broker has no `[broker.consent]` section.
    pub(crate) consents: Option<Consents>,
    pub(crate) auditor: Auditor,
    pub(crate) policy: PolicyHandle,
}

const GRANT: &str = "/tongdao.v1.Consent/Grant";
const REVOKE: &str = "/tongdao.v1.Consent/Revoke";
const LIST: &str = "/tongdao.v1.Consent/List";

/// The citizen calling, acting for `national_id`.
struct Acting {
    caller: Arc<Caller>,
    subject: Option<NationalId>,
}

impl ConsentApi {
    fn consents(&self) -> Result<&Consents, Rejection> {
        self.consents.as_ref().ok_or_else(|| {
            Rejection::new(
                Reason::ConsentUnavailable,
                "this broker has no consent store configured",
            )
        })
    }

    /// Who calls, and the subject they act for; the refusal if they may not.
    fn acting<T>(request: &Request<T>, national_id: &str) -> Result<Acting, Status> {
        let caller = crate::api::caller(request)?;
        let subject = national_id.trim().parse::<NationalId>().ok();
        Ok(Acting { caller, subject })
    }

    /// Only a citizen, for their own valid national ID.
    fn check_citizen(acting: &Acting, national_id: &str) -> Result<NationalId, Rejection> {
        let citizen = match &acting.caller.principal {
            Ok(Principal::Citizen(citizen)) => citizen,
            Ok(Principal::Agency(_)) => {
                return Err(Rejection::new(
                    Reason::CitizenRequired,
                    "the consent API is for citizens, with their own citizen certificate; agencies present consents, they do not grant them",
                ));
            }
            Err(rejection) => return Err(rejection.clone()),
        };
        let Some(subject) = acting.subject.clone() else {
            return Err(Rejection::new(
                Reason::SubjectInvalid,
                if national_id.trim().is_empty() {
                    "national_id is required: your full national ID"
                } else {
                    "national_id is not a valid national ID (shape or check digit)"
                },
            ));
        };
        if !subject
            .as_str()
            .eq_ignore_ascii_case_suffix(&citizen.national_id_last4)
        {
            return Err(Rejection::new(
                Reason::IdentityMismatch,
                "national_id does not end in the 4 characters of your certificate: you act only for yourself",
            ));
        }
        Ok(subject)
    }

    /// Records a refused call (a `denial`, like a refused exchange) and returns its status.
    async fn refuse(
        &self,
        acting: &Acting,
        path: &str,
        consent_id: Option<&str>,
        rejection: Rejection,
    ) -> Status {
        let record = AuditRecord::Denial(Denial {
            at: tongdao_audit::Timestamp::now(),
            exchange: ExchangeContext {
                exchange_id: uuid::Uuid::now_v7().to_string(),
                trace_id: None,
                client: client(&acting.caller),
                service: path.to_owned(),
                purpose: None,
                subject: acting
                    .subject
                    .as_ref()
                    .map(|id| self.auditor.pseudonym(id.as_str())),
                consent_id: consent_id.and_then(crate::consent::audited_consent_id),
                recipe: None,
            },
            policy_version: Some(self.policy.load().version().to_owned()),
            outcome: Outcome {
                code: rejection.code() as u32,
                reason: Some(reason_name(rejection.reason()).to_owned()),
            },
            latency_us: 0,
            request_digest: None,
        });
        if let Err(error) = self.auditor.log().append(&record).await {
            tracing::error!(%error, "a refused consent call could not be recorded");
            return audit_unavailable();
        }
        tracing::info!(
            method = path,
            reason = reason_name(rejection.reason()),
            "consent call refused"
        );
        rejection.into_status()
    }

    /// The `consent_change` record, durable before the change is made.
    async fn record_change(
        &self,
        consent: &Consent,
        artefact: &str,
        change: &str,
    ) -> Result<(), Rejection> {
        let record = AuditRecord::ConsentChange(ConsentChange {
            at: tongdao_audit::Timestamp::now(),
            consent_id: consent.id().to_string(),
            subject: self.auditor.pseudonym(consent.subject().as_str()),
            change: change.to_owned(),
            document_digest: Sha256Digest::of(artefact.as_bytes()),
        });
        self.auditor.log().append(&record).await.map_err(|error| {
            tracing::error!(%error, "consent change not recorded; refused");
            Rejection::new(
                Reason::AuditUnavailable,
                "the audit log cannot be written; no consent changes unlogged, retry later",
            )
        })?;
        Ok(())
    }

    async fn grant_inner(
        &self,
        acting: &Acting,
        request: GrantConsentRequest,
    ) -> Result<GrantConsentResponse, Rejection> {
        let subject = Self::check_citizen(acting, &request.national_id)?;
        let consents = self.consents()?;
        let grant = self.checked_grant(subject, &request)?;
        let now = Timestamp::now();
        let consent = Consent::grant(grant, now, &Limits::default())
            .map_err(|error| Rejection::new(Reason::MalformedRequest, error.to_string()))?;
        let artefact = consents.signer.sign(&consent);
        self.record_change(&consent, &artefact, "grant").await?;
        consents
            .store
            .grant(&consent)
            .await
            .map_err(|error| store_unavailable(&error))?;
        tracing::info!(consent_id = %consent.id(), grantee = %consent.grantee(), "consent granted");
        Ok(GrantConsentResponse {
            consent: Some(entry(&consent, &ConsentState::default(), now, artefact)),
        })
    }

    /// The request's terms, checked against the registries in force: a known grantee, methods
    /// on the bus, fields of their responses, a registered purpose (normalised to ASCII).
    fn checked_grant(
        &self,
        subject: NationalId,
        request: &GrantConsentRequest,
    ) -> Result<Grant, Rejection> {
        let bad = |message: String| Rejection::new(Reason::MalformedRequest, message);
        let policy = self.policy.load();
        let grantee = request.grantee.trim().to_owned();
        if policy.agencies().by_code(&grantee).is_none() {
            return Err(bad(
                "grantee: no agency with this code in the agency registry".into(),
            ));
        }
        let mut outputs: Vec<MessageDescriptor> = Vec::new();
        for (position, service) in request.services.iter().enumerate() {
            let Some(entry) = policy.services().get(service.trim()) else {
                return Err(bad(format!(
                    "services: entry {} is not a method on the bus (e.g. /tongdao.tax.v1.TaxRegistry/ListIncome)",
                    position + 1
                )));
            };
            outputs.push(entry.output());
        }
        for (position, field) in request.fields.iter().enumerate() {
            if !outputs
                .iter()
                .any(|output| has_field_path(output, field.trim()))
            {
                return Err(bad(format!(
                    "fields: entry {} is not a field of the listed services' responses",
                    position + 1
                )));
            }
        }
        let purpose = policy
            .purposes()
            .resolve(&request.purpose)
            .map(|entry| entry.code.to_string())
            .ok_or_else(|| {
                Rejection::new(
                    Reason::PurposeUnknown,
                    "purpose: not a code in the purpose registry (e.g. 057)",
                )
            })?;
        if request.not_after_unix == 0 {
            return Err(bad(
                "not_after_unix: the end of validity is required (Unix seconds)".into(),
            ));
        }
        let not_after = Timestamp::from_unix_seconds(request.not_after_unix)
            .ok_or_else(|| bad("not_after_unix: out of range".into()))?;
        Ok(Grant {
            subject,
            grantee,
            services: request
                .services
                .iter()
                .map(|s| s.trim().to_owned())
                .collect(),
            fields: request.fields.iter().map(|f| f.trim().to_owned()).collect(),
            purpose,
            validity: if request.single_use {
                Validity::SingleUse { not_after }
            } else {
                Validity::Until(not_after)
            },
        })
    }

    async fn revoke_inner(
        &self,
        acting: &Acting,
        request: &RevokeConsentRequest,
    ) -> Result<RevokeConsentResponse, Rejection> {
        let subject = Self::check_citizen(acting, &request.national_id)?;
        let consents = self.consents()?;
        let not_yours =
            || Rejection::new(Reason::ConsentInvalid, "you have no consent with this id");
        let id: ConsentId = request.consent_id.trim().parse().map_err(|_| not_yours())?;
        // The consent's artefact digest goes in the record: the same digest as its grant's.
        let held = consents
            .store
            .list(&subject)
            .await
            .map_err(|error| store_unavailable(&error))?;
        let (consent, state) = held
            .into_iter()
            .find(|(consent, _)| *consent.id() == id)
            .ok_or_else(not_yours)?;
        if let Some(at) = state.revoked_at {
            return Ok(RevokeConsentResponse {
                revoked_at_unix: at.unix_seconds(),
                already_revoked: true,
            });
        }
        let artefact = consents.signer.sign(&consent);
        self.record_change(&consent, &artefact, "revoke").await?;
        let outcome = consents
            .store
            .revoke(&id, &subject, Timestamp::now())
            .await
            .map_err(|error| store_unavailable(&error))?;
        tracing::info!(consent_id = %id, "consent revoked");
        match outcome {
            Revocation::Revoked { at } => Ok(RevokeConsentResponse {
                revoked_at_unix: at.unix_seconds(),
                already_revoked: false,
            }),
            Revocation::AlreadyRevoked { at } => Ok(RevokeConsentResponse {
                revoked_at_unix: at.unix_seconds(),
                already_revoked: true,
            }),
            Revocation::NotFound => Err(not_yours()),
        }
    }

    async fn list_inner(
        &self,
        acting: &Acting,
        request: &ListConsentsRequest,
    ) -> Result<ListConsentsResponse, Rejection> {
        let subject = Self::check_citizen(acting, &request.national_id)?;
        let consents = self.consents()?;
        let held = consents
            .store
            .list(&subject)
            .await
            .map_err(|error| store_unavailable(&error))?;
        let now = Timestamp::now();
        Ok(ListConsentsResponse {
            consents: held
                .iter()
                .map(|(consent, state)| entry(consent, state, now, consents.signer.sign(consent)))
                .collect(),
            verifier_key: consents.signer.verifier().as_text().to_owned(),
        })
    }
}

#[tonic::async_trait]
impl consent_server::Consent for ConsentApi {
    async fn grant(
        &self,
        request: Request<GrantConsentRequest>,
    ) -> Result<Response<GrantConsentResponse>, Status> {
        let acting = Self::acting(&request, &request.get_ref().national_id)?;
        match self.grant_inner(&acting, request.into_inner()).await {
            Ok(response) => Ok(Response::new(response)),
            Err(rejection) => Err(self.refuse(&acting, GRANT, None, rejection).await),
        }
    }

    async fn revoke(
        &self,
        request: Request<RevokeConsentRequest>,
    ) -> Result<Response<RevokeConsentResponse>, Status> {
        let acting = Self::acting(&request, &request.get_ref().national_id)?;
        let request = request.into_inner();
        match self.revoke_inner(&acting, &request).await {
            Ok(response) => Ok(Response::new(response)),
            Err(rejection) => Err(self
                .refuse(&acting, REVOKE, Some(&request.consent_id), rejection)
                .await),
        }
    }

    async fn list(
        &self,
        request: Request<ListConsentsRequest>,
    ) -> Result<Response<ListConsentsResponse>, Status> {
        let acting = Self::acting(&request, &request.get_ref().national_id)?;
        let request = request.into_inner();
        match self.list_inner(&acting, &request).await {
            Ok(response) => Ok(Response::new(response)),
            Err(rejection) => Err(self.refuse(&acting, LIST, None, rejection).await),
        }
    }
}

/// Case-insensitive "ends with" for the certificate's last 4 characters.
trait SuffixExt {
    fn eq_ignore_ascii_case_suffix(&self, suffix: &str) -> bool;
}

impl SuffixExt for str {
    fn eq_ignore_ascii_case_suffix(&self, suffix: &str) -> bool {
        suffix.len() == 4
            && self.len() >= 4
            && self.is_char_boundary(self.len() - 4)
            && self[self.len() - 4..].eq_ignore_ascii_case(suffix)
    }
}

fn client(caller: &Caller) -> Client {
    let certificate = CertificateId {
        serial: caller.certificate.serial.clone(),
        issuer: caller.certificate.issuer.clone(),
    };
    match &caller.principal {
        Ok(Principal::Agency(agency)) => Client::Agency {
            agency: agency.code.clone(),
            subsystem: agency.unit.clone(),
            certificate,
        },
        Ok(Principal::Citizen(_)) => Client::Citizen { certificate },
        Err(_) => Client::Unrecognised { certificate },
    }
}

fn audit_unavailable() -> Status {
    Rejection::new(
        Reason::AuditUnavailable,
        "the audit log cannot be written; retry later",
    )
    .into_status()
}

/// Whether `path` (`items.gross_amount`) names a field of `message`, at any depth.
fn has_field_path(message: &MessageDescriptor, path: &str) -> bool {
    let mut current = message.clone();
    let mut parts = path.split('.').peekable();
    while let Some(name) = parts.next() {
        let Some(field) = current.get_field_by_name(name) else {
            return false;
        };
        if parts.peek().is_none() {
            return true;
        }
        match field.kind() {
            prost_reflect::Kind::Message(inner) => current = inner,
            _ => return false,
        }
    }
    false
}

fn entry(
    consent: &Consent,
    state: &ConsentState,
    now: Timestamp,
    artefact: String,
) -> ConsentEntry {
    let validity = consent.validity();
    ConsentEntry {
        consent_id: consent.id().to_string(),
        grantee: consent.grantee().to_string(),
        services: consent.services().to_vec(),
        fields: consent.fields().to_vec(),
        purpose: consent.purpose().to_string(),
        single_use: validity.is_single_use(),
        not_after_unix: validity.not_after().unix_seconds(),
        granted_at_unix: consent.granted_at().unix_seconds(),
        status: match state.status(consent, now) {
            ConsentStatus::Active => "ACTIVE",
            ConsentStatus::Revoked => "REVOKED",
            ConsentStatus::Used => "USED",
            ConsentStatus::Expired => "EXPIRED",
        }
        .to_owned(),
        revoked_at_unix: state.revoked_at.map_or(0, Timestamp::unix_seconds),
        used_at_unix: state.used_at.map_or(0, Timestamp::unix_seconds),
        artefact,
    }
}
