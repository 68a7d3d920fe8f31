//! Recording exchanges in the audit log: an intent before a request reaches an adapter, a
//! completion before the answer reaches the caller, a denial for every refusal. Each append
//! returns only once durable (group commit), and a log that cannot be written fails the
//! exchange closed with AUDIT_UNAVAILABLE.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use tongdao_audit::{
    Appended, AuditLog, AuditRecord, CertificateId, Client, ExchangeCompletion, ExchangeContext,
    ExchangeIntent, Outcome, Permit, Sha256Digest, SubjectPseudonym, Timestamp,
};
use tongdao_core::{Principal, Reason, Rejection, reason::reason_name};
use tongdao_policy::Allow;

use crate::exchange::{
    CONSENT_HEADER, Caller, Exchange, ExchangeId, Incoming, PURPOSE_HEADER, Subject, TraceContext,
};

/// The broker's handle on its audit log.
#[derive(Clone)]
pub(crate) struct Auditor {
    log: AuditLog,
    dir: Arc<std::path::Path>,
    pseudonym_key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("size", &self.log.size())
            .finish_non_exhaustive()
    }
}

/// Set once an exchange's intent is durable: from then on its completion record tells the
/// outcome, so the outer layer does not record a denial for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorded(Arc<AtomicBool>);

impl Recorded {
    pub(crate) fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub(crate) fn is_marked(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

fn unavailable() -> Rejection {
    Rejection::new(
        Reason::AuditUnavailable,
        "the audit log cannot be written; nothing is served unlogged, retry later",
    )
}

pub(crate) fn client(caller: &Caller) -> Client {
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

fn outcome(rejection: Option<&Rejection>) -> Outcome {
    match rejection {
        None => Outcome::ok(),
        Some(rejection) => Outcome {
            code: rejection.code() as u32,
            reason: Some(reason_name(rejection.reason()).to_owned()),
        },
    }
}

impl Auditor {
    pub(crate) fn new(log: AuditLog, dir: &std::path::Path, pseudonym_key: [u8; 32]) -> Self {
        Self {
            log,
            dir: dir.into(),
            pseudonym_key: Arc::new(pseudonym_key),
        }
    }

    /// The log, for the audit API's checkpoints and proofs.
    pub(crate) fn log(&self) -> &AuditLog {
        &self.log
    }

    /// The log's directory, for searches.
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The pseudonym a national ID is recorded under.
    pub(crate) fn pseudonym(&self, national_id: &str) -> SubjectPseudonym {
        SubjectPseudonym::derive(&self.pseudonym_key, national_id)
    }

    /// Whether appends currently succeed (false while the disk is full or failing).
    pub(crate) fn is_available(&self) -> bool {
        self.log.is_available()
    }

    fn context(&self, exchange: &Exchange) -> ExchangeContext {
        let subject = match &exchange.subject {
            Some(Subject::NationalId(id)) => {
                Some(SubjectPseudonym::derive(&self.pseudonym_key, id.as_str()))
            }
            Some(Subject::BusinessNumber(number)) => Some(SubjectPseudonym::derive(
                &self.pseudonym_key,
                number.as_str(),
            )),
            Some(Subject::Other(value)) => {
                Some(SubjectPseudonym::derive(&self.pseudonym_key, value))
            }
            None => None,
        };
        ExchangeContext {
            exchange_id: exchange.id.to_string(),
            trace_id: Some(exchange.trace.trace_id_hex()),
            client: client(&exchange.caller),
            service: exchange.method.path.clone(),
            purpose: exchange.header(PURPOSE_HEADER).map(str::to_owned),
            subject,
            // The id only: an artefact holds the national ID in clear.
            consent_id: exchange
                .header(CONSENT_HEADER)
                .and_then(crate::consent::audited_consent_id),
            recipe: exchange.leg.as_deref().map(|leg| leg.record.clone()),
        }
    }

    pub(crate) async fn append(&self, record: AuditRecord) -> Result<Appended, Rejection> {
        match self.log.append(&record).await {
            Ok(appended) => Ok(appended),
            Err(error) => {
                metrics::counter!("tongdao_audit_append_failures_total").increment(1);
                tracing::error!(%error, "audit append failed; exchange refused");
                Err(unavailable())
            }
        }
    }

    /// The intent record: durable before the request is forwarded.
    pub(crate) async fn intent(&self, exchange: &Exchange, allow: &Allow) -> Result<(), Rejection> {
        let record = AuditRecord::ExchangeIntent(ExchangeIntent {
            at: Timestamp::now(),
            exchange: self.context(exchange),
            permit: Permit {
                rule_id: allow.rule_id.to_string(),
                policy_version: allow.policy_version.to_string(),
                disclosed_from: allow.deferred_disclosure_days.map(|days| {
                    let now = Timestamp::now().unix_micros();
                    Timestamp::from_unix_micros(
                        now.saturating_add(i64::from(days).saturating_mul(86_400_000_000)),
                    )
                }),
            },
            request_digest: Sha256Digest::of(&exchange.body),
        });
        self.append(record).await?;
        exchange.recorded.mark();
        Ok(())
    }

    /// The completion record: durable before the answer is sent. Returns the receipt to put
    /// in the trailers when the exchange succeeded.
    pub(crate) async fn completion(
        &self,
        exchange: &Exchange,
        allow: &Allow,
        result: &Result<bytes::Bytes, Rejection>,
    ) -> Result<Option<String>, Rejection> {
        let (released, response_digest) = match result {
            Ok(body) => (
                allow
                    .released_classes
                    .iter()
                    .map(|c| c.as_str_name().to_owned())
                    .collect(),
                Some(Sha256Digest::of(body)),
            ),
            Err(_) => (Vec::new(), None),
        };
        let record = AuditRecord::ExchangeCompletion(ExchangeCompletion {
            at: Timestamp::now(),
            exchange: self.context(exchange),
            released,
            outcome: outcome(result.as_ref().err()),
            latency_us: exchange.admitted.elapsed().as_micros() as u64,
            response_digest,
        });
        let appended = self.append(record).await?;
        if result.is_err() {
            return Ok(None);
        }
        Ok(self
            .log
            .receipt(&appended)
            .ok()
            .map(|receipt| receipt.encode()))
    }

    /// A policy roll-out. Failure to record it is logged: the policy is already in force.
    pub(crate) async fn policy_change(
        &self,
        version: String,
        previous: Option<String>,
        digest: &str,
    ) {
        let record = AuditRecord::PolicyChange(tongdao_audit::PolicyChange {
            at: Timestamp::now(),
            policy_version: version,
            previous_version: previous,
            // The policy's own digest covers every file; the record keeps a digest of it.
            policy_digest: Sha256Digest::of(digest.as_bytes()),
        });
        if let Err(error) = self.log.append(&record).await {
            tracing::error!(%error, "policy change could not be recorded in the audit log");
        }
    }

    /// A denial: a refusal before any adapter was asked.
    pub(crate) async fn denial(
        &self,
        incoming: &DenialFacts,
        rejection: &Rejection,
        policy_version: Option<String>,
    ) -> Result<(), Rejection> {
        let record = AuditRecord::Denial(tongdao_audit::Denial {
            at: Timestamp::now(),
            exchange: ExchangeContext {
                exchange_id: incoming.id.clone(),
                trace_id: Some(incoming.trace_id.clone()),
                client: client(&incoming.caller),
                service: incoming.path.clone(),
                purpose: incoming.purpose.clone(),
                // Read from the body so the subject sees refused attempts too.
                subject: denied_subject(&incoming.path, &incoming.body)
                    .map(|id| SubjectPseudonym::derive(&self.pseudonym_key, &id)),
                consent_id: incoming.consent.clone(),
                recipe: incoming.recipe.clone(),
            },
            policy_version,
            outcome: outcome(Some(rejection)),
            latency_us: incoming.received.elapsed().as_micros() as u64,
            request_digest: Some(Sha256Digest::of(&incoming.body)),
        });
        self.append(record).await.map(|_| ())
    }
}

/// The subject a refused request names, when its body decodes as the method's input and the
/// subject field holds text (a national ID or business number, as written). Only read for a
/// denial, so allowed exchanges pay nothing for it.
fn denied_subject(path: &str, body: &bytes::Bytes) -> Option<String> {
    use prost_reflect::{DynamicMessage, Value};
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    let service = tongdao_schemas::descriptors::pool().get_service_by_name(service)?;
    let method = service.methods().find(|m| m.name() == method)?;
    let input = method.input();
    let (field, _) = tongdao_schemas::descriptors::subject_field(&input)?;
    let message = DynamicMessage::decode(input, body.clone()).ok()?;
    match message.get_field(&field).as_ref() {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// What the outer layer keeps of every exchange's [`Incoming`]: enough to log its outcome and,
/// if it is refused before an adapter, to record the denial. Cheap to take (the body is a
/// shared buffer); the request digest is computed only for a denial.
#[derive(Debug)]
pub(crate) struct DenialFacts {
    pub(crate) id: String,
    pub(crate) trace_id: String,
    pub(crate) caller: Arc<Caller>,
    pub(crate) path: String,
    purpose: Option<String>,
    consent: Option<String>,
    recipe: Option<tongdao_audit::RecipeLeg>,
    body: bytes::Bytes,
    pub(crate) received: Instant,
}

impl DenialFacts {
    /// A refused call to the broker's own API that is recorded like an exchange (a recipe run
    /// refused as a whole): `body` is the encoded request.
    pub(crate) fn for_api(
        id: ExchangeId,
        trace: &TraceContext,
        caller: &Arc<Caller>,
        path: &str,
        body: Vec<u8>,
    ) -> Self {
        Self {
            id: id.to_string(),
            trace_id: trace.trace_id_hex(),
            caller: caller.clone(),
            path: path.to_owned(),
            purpose: None,
            consent: None,
            recipe: None,
            body: body.into(),
            received: Instant::now(),
        }
    }

    /// The purpose the refused call was for, when known.
    pub(crate) fn with_purpose(mut self, purpose: Option<String>) -> Self {
        self.purpose = purpose;
        self
    }

    /// The consent the refused call presented (recorded by id only).
    pub(crate) fn with_consent(mut self, consent: Option<&str>) -> Self {
        self.consent = consent.and_then(crate::consent::audited_consent_id);
        self
    }

    pub(crate) fn of(incoming: &Incoming) -> Self {
        let header = |key: &str| {
            incoming
                .metadata
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            id: incoming.id.to_string(),
            trace_id: incoming.trace.trace_id_hex(),
            caller: incoming.caller.clone(),
            path: incoming.path.clone(),
            purpose: header(PURPOSE_HEADER),
            consent: header(CONSENT_HEADER)
                .as_deref()
                .and_then(crate::consent::audited_consent_id),
            recipe: incoming.leg.as_deref().map(|leg| leg.record.clone()),
            body: incoming.body.clone(),
            received: Instant::now(),
        }
    }
}
