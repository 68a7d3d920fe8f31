//! The engine: runs every check of `adapters/CONTRACT.md` that can be observed over the wire
//! against one adapter, in order — TLS, health, unknown methods, then each method of the
//! service, then concurrency and the rules over every error seen.
//!
//! Every network step has a time limit (see [`crate::Limits`]) and nothing the adapter sends
//! can panic the kit: a broken or hostile adapter yields failed checks, never a crash or a hang.

use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MethodDescriptor, Value};
use tokio::task::JoinSet;
use tongdao_core::reason::{ERROR_DOMAIN, code_for};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::{descriptors, v1::SubjectKind};
use tonic::{Code, Status};
use tonic_types::{ErrorDetail, StatusExt as _};

use crate::{
    inspect::{self, Findings},
    report::{Check, Outcome, Report},
    target::{SubjectArg, Target, decode_json},
    wire::{self, H2, Probe, Reply},
};

const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
/// `grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING`.
const SERVING: i32 = 1;

/// Bodies no protobuf decoder accepts, whatever the message type: a tag with wire type 7
/// (which does not exist), and a length-delimited field announcing more bytes than follow.
const GARBAGE: [(&str, &[u8]); 2] = [
    ("wire type 7", b"\x0f\xff\xff\xff\xff"),
    ("truncated field", b"\x0a\x64abc"),
];

/// Runs every check against `target` and reports them in order.
pub async fn run_checks(target: &Target) -> Report {
    let mut run = Run {
        target,
        checks: Vec::new(),
        connection: None,
        errors: Vec::new(),
    };
    if run.tls().await {
        run.health().await;
        run.unknown_method().await;
        let plans: Vec<Plan> = target
            .service
            .methods()
            .map(|method| Plan::new(target, method))
            .collect();
        let mut answered = Vec::new();
        for plan in &plans {
            answered.push(run.method(plan).await);
        }
        run.concurrency(&plans, &answered).await;
        run.error_details();
        run.error_messages();
    } else {
        run.push(
            "C-TLS-1",
            "remaining checks",
            Outcome::Skip,
            "not run: the kit cannot reach the adapter as the broker (see above)",
        );
    }
    Report {
        target: format!("{} ({})", target.addr(), target.server_name()),
        service: target.service.full_name().to_owned(),
        checks: run.checks,
    }
}

/// Whether a method reads one record or lists records (by its name: `Get…` / `List…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MethodKind {
    Get,
    List,
    Other,
}

/// Everything the kit sends to one method.
struct Plan {
    method: MethodDescriptor,
    path: String,
    kind: MethodKind,
    /// The field marked `(tongdao.v1.subject)` and the kind of subject it names.
    subject: Option<(FieldDescriptor, SubjectKind)>,
    /// The request: the sample given, or the empty request, with the known subject set.
    base: DynamicMessage,
    /// The subject the source knows, as set in `base`.
    known: Option<Value>,
    /// A subject valid by checksum the source does not know.
    absent: Option<Value>,
    /// Why there is no known subject, when there is none.
    missing: String,
    /// Whether `base` is a sample request given to the kit.
    from_sample: bool,
}

impl Plan {
    fn new(target: &Target, method: MethodDescriptor) -> Plan {
        let input = method.input();
        let subject = descriptors::subject_field(&input);
        let sample = target.requests.get(method.name()).cloned();
        let from_sample = sample.is_some();
        let mut base = sample.unwrap_or_else(|| DynamicMessage::new(input.clone()));
        let kind = if method.name().starts_with("Get") {
            MethodKind::Get
        } else if method.name().starts_with("List") {
            MethodKind::List
        } else {
            MethodKind::Other
        };
        let mut known = None;
        let mut absent = None;
        let mut missing = String::new();
        if let Some((field, subject_kind)) = &subject {
            let in_sample = base.get_field(field).into_owned();
            if from_sample && base.has_field(field) && !is_empty(&in_sample) {
                known = Some(in_sample);
            } else {
                known = subject_value(field, *subject_kind, &target.subjects);
                if let Some(value) = &known {
                    base.set_field(field, value.clone());
                }
            }
            absent = subject_value(field, *subject_kind, &target.absent_subjects);
            if known.is_none() {
                missing = format!(
                    "no known subject for {} ({}): pass --subject {} or --request {}=…",
                    field.name(),
                    subject_kind.as_str_name(),
                    example_for(field, *subject_kind),
                    method.name()
                );
            }
        }
        Plan {
            path: format!("/{}/{}", method.parent_service().full_name(), method.name()),
            method,
            kind,
            subject,
            base,
            known,
            absent,
            missing,
            from_sample,
        }
    }

    fn name(&self, what: &str) -> String {
        format!("{}: {what}", self.method.name())
    }

    /// The request with the subject field replaced by `value` (`None`: cleared).
    fn with_subject(&self, value: Option<Value>) -> Option<DynamicMessage> {
        let (field, _) = self.subject.as_ref()?;
        let mut request = self.base.clone();
        match value {
            Some(value) => request.set_field(field, value),
            None => request.clear_field(field),
        }
        Some(request)
    }

    /// Requests naming an invalid subject, with a label each: a broken check digit (or a
    /// malformed key) and an empty subject.
    fn invalid_requests(&self) -> Vec<(&'static str, DynamicMessage)> {
        let Some((field, kind)) = &self.subject else {
            return Vec::new();
        };
        let known_text = match &self.known {
            Some(Value::String(text)) => Some(text.as_str()),
            _ => None,
        };
        let mut variants = Vec::new();
        match field.kind() {
            Kind::String => {
                let broken = match kind {
                    SubjectKind::NationalId => Some((
                        "check digit broken",
                        inspect::break_national_id(known_text.unwrap_or("A123456789")),
                    )),
                    SubjectKind::BusinessNumber => Some((
                        "check digit broken",
                        inspect::break_business_number(known_text.unwrap_or("22099131")),
                    )),
                    _ => Some(("malformed", "?".to_owned())),
                };
                if let Some((label, text)) = broken {
                    variants.extend(
                        self.with_subject(Some(Value::String(text)))
                            .map(|r| (label, r)),
                    );
                }
                variants.extend(
                    self.with_subject(Some(Value::String(String::new())))
                        .map(|r| ("empty", r)),
                );
            }
            Kind::Message(message) => {
                let valid = match &self.known {
                    Some(Value::Message(m)) => m.clone(),
                    _ => DynamicMessage::new(message),
                };
                let broken = inspect::break_message_subject(&valid);
                variants.extend(
                    self.with_subject(Some(Value::Message(broken)))
                        .map(|r| ("malformed fields", r)),
                );
                variants.extend(self.with_subject(None).map(|r| ("unset", r)));
            }
            _ => {}
        }
        variants
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Message(m) => m.fields().next().is_none(),
        _ => false,
    }
}

fn example_for(field: &FieldDescriptor, kind: SubjectKind) -> String {
    match (field.kind(), kind) {
        (Kind::Message(m), _) => format!("'{{…a {} in JSON…}}'", m.name()),
        (_, SubjectKind::BusinessNumber) => "<unified business number>".to_owned(),
        _ => "<national ID>".to_owned(),
    }
}

/// The first subject argument that fits `field`.
fn subject_value(field: &FieldDescriptor, kind: SubjectKind, args: &[SubjectArg]) -> Option<Value> {
    match field.kind() {
        Kind::String => args.iter().find_map(|arg| match (arg, kind) {
            (SubjectArg::NationalId(v), SubjectKind::NationalId)
            | (SubjectArg::BusinessNumber(v), SubjectKind::BusinessNumber) => {
                Some(Value::String(v.clone()))
            }
            _ => None,
        }),
        Kind::Message(message) => args.iter().find_map(|arg| match arg {
            SubjectArg::Json(json) => decode_json(&message, json).ok().map(Value::Message),
            _ => None,
        }),
        _ => None,
    }
}

/// An error status the adapter sent, kept for the rules over all errors (C-ERR-1, C-ERR-9).
struct SeenError {
    context: String,
    status: Status,
    /// Whether the contract requires an ErrorInfo on this answer.
    info_required: bool,
}

/// What the known-subject call of a method came to, for the concurrency check.
#[derive(Debug, Clone, Copy)]
enum Answered {
    /// It answered with this code (OK, or NOT_FOUND for a Get).
    As(Code),
    /// It did not answer acceptably.
    Not,
    /// It was not asked, or asked incompletely (the method needs a sample request).
    Skipped,
}

struct Run<'a> {
    target: &'a Target,
    checks: Vec<Check>,
    connection: Option<H2>,
    errors: Vec<SeenError>,
}

/// A one-line description of a status for a check's detail. Messages are printed as sent,
/// except that national-ID-shaped tokens are masked.
fn describe(status: &Status) -> String {
    let reason = status
        .get_details_error_info()
        .map(|info| format!(" {}/{}", info.domain, info.reason))
        .unwrap_or_default();
    let message = if inspect::national_ids_in(status.message()).is_empty() {
        let mut message: String = status.message().chars().take(160).collect();
        if status.message().chars().count() > 160 {
            message.push('…');
        }
        message
    } else {
        "(message withheld: it names a national ID)".to_owned()
    };
    format!("{:?}{reason} {message:?}", status.code())
}

fn code_name(code: Code) -> String {
    format!("{code:?}")
}

impl Run<'_> {
    fn push(
        &mut self,
        id: &'static str,
        name: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) {
        self.checks.push(Check {
            id,
            name: name.into(),
            outcome,
            detail: detail.into(),
        });
    }

    fn verdict(
        &mut self,
        id: &'static str,
        name: impl Into<String>,
        problems: &[String],
        ok: impl Into<String>,
    ) {
        if problems.is_empty() {
            self.push(id, name, Outcome::Pass, ok);
        } else {
            self.push(id, name, Outcome::Fail, problems.join("; "));
        }
    }

    /// One unary call as the broker, on the kept connection (re-opened when needed).
    async fn call(
        &mut self,
        path: &str,
        body: &[u8],
        grpc_timeout: Option<&str>,
    ) -> Result<Reply, String> {
        if self.connection.as_ref().is_none_or(H2::is_closed) {
            self.connection = None;
            let connection = H2::connect(&self.target.dialer, self.target.broker.clone()).await?;
            self.connection = Some(connection);
        }
        let Some(connection) = self.connection.as_ref() else {
            return Err("no connection".to_owned());
        };
        let mut sender = connection.sender();
        let result = sender
            .unary(path, body, grpc_timeout, self.target.limits.call_timeout)
            .await;
        if result.is_err() {
            // Whatever went wrong, start the next call on a fresh connection.
            self.connection = None;
        }
        result
    }

    fn remember(&mut self, context: String, reply: &Reply, info_required: bool) {
        if reply.code() != Code::Ok {
            self.errors.push(SeenError {
                context,
                status: reply.status.clone(),
                info_required,
            });
        }
    }

    // --- Transport ---------------------------------------------------------------------------

    /// C-TLS-1..3; returns whether the broker's identity can reach the adapter at all.
    async fn tls(&mut self) -> bool {
        let dialer = self.target.dialer.clone();
        let limit = dialer.connect_timeout.as_millis();
        let broker = wire::probe(&dialer, self.target.broker.clone()).await;
        let reachable = matches!(broker, Probe::Accepted { .. });
        match broker {
            Probe::Accepted {
                version,
                alpn,
                spoke_h2,
            } => {
                let mut problems = Vec::new();
                if version != "TLSv1_3" {
                    problems.push(format!("negotiated {version}, not TLS 1.3"));
                }
                if alpn.as_deref() != Some("h2") {
                    problems.push(format!(
                        "ALPN negotiated {}, not h2",
                        alpn.as_deref().unwrap_or("nothing")
                    ));
                }
                if !spoke_h2 {
                    problems.push("the server's first bytes were not an HTTP/2 SETTINGS frame".to_owned());
                }
                self.verdict(
                    "C-TLS-1",
                    "broker certificate accepted over TLS 1.3, ALPN h2",
                    &problems,
                    format!(
                        "handshake {version}, ALPN h2, server certificate valid for {}",
                        self.target.server_name()
                    ),
                );
            }
            Probe::Refused(why) => self.push(
                "C-TLS-1",
                "broker certificate accepted over TLS 1.3, ALPN h2",
                Outcome::Fail,
                format!("the broker's connection failed: {why} (is the adapter's server certificate valid for {} under --ca, and is it configured with the broker's name?)", self.target.server_name()),
            ),
            Probe::Silent => self.push(
                "C-TLS-1",
                "broker certificate accepted over TLS 1.3, ALPN h2",
                Outcome::Fail,
                format!("the adapter neither completed the handshake and spoke HTTP/2 nor closed within {limit} ms"),
            ),
            Probe::Unreachable(why) => self.push(
                "C-TLS-1",
                "broker certificate accepted over TLS 1.3, ALPN h2",
                Outcome::Fail,
                why,
            ),
        }

        let refusal = |probe: Probe, who: &str| -> (Outcome, String) {
            match probe {
                Probe::Refused(why) => (Outcome::Pass, format!("refused: {why}")),
                Probe::Accepted { version, .. } => (
                    Outcome::Fail,
                    format!(
                        "{who} completed a {version} handshake and the adapter went on to serve the connection: it must end the handshake with an alert"
                    ),
                ),
                Probe::Silent => (
                    Outcome::Fail,
                    format!(
                        "{who}: the adapter neither refused nor answered within {limit} ms; it must end the handshake with an alert"
                    ),
                ),
                Probe::Unreachable(why) => (Outcome::Fail, why),
            }
        };

        let tls12 = wire::probe(&dialer, self.target.broker_tls12.clone()).await;
        let (outcome, detail) = refusal(tls12, "the broker's certificate over TLS 1.2");
        self.push("C-TLS-1", "TLS 1.2 refused", outcome, detail);

        let anonymous = wire::probe(&dialer, self.target.anonymous.clone()).await;
        let (outcome, detail) = refusal(anonymous, "a client without a certificate");
        self.push(
            "C-TLS-2",
            "client without a certificate refused",
            outcome,
            detail,
        );

        match self.target.stranger.clone() {
            Some(stranger) => {
                let probe = wire::probe(&dialer, stranger).await;
                let (outcome, detail) = refusal(probe, "a certificate that is not the broker's");
                self.push(
                    "C-TLS-3",
                    "certificate other than the broker's refused",
                    outcome,
                    detail,
                );
            }
            None => self.push(
                "C-TLS-3",
                "certificate other than the broker's refused",
                Outcome::Skip,
                "no stranger certificate given (--stranger-cert, --stranger-key)",
            ),
        }
        reachable
    }

    // --- Health --------------------------------------------------------------------------------

    /// `grpc.health.v1.Health/Check` for `service`: `Ok(status)` or why there is none.
    async fn health_status(&mut self, service: &str) -> Result<i32, String> {
        let request = tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        };
        let reply = self
            .call(HEALTH_CHECK, &request.encode_to_vec(), None)
            .await?;
        if reply.code() != Code::Ok {
            return Err(describe(&reply.status));
        }
        let body = reply.body.unwrap_or_default();
        let response = tonic_health::pb::HealthCheckResponse::decode(body)
            .map_err(|e| format!("the answer is not a HealthCheckResponse: {e}"))?;
        Ok(response.status)
    }

    async fn health(&mut self) {
        let service = self.target.service.full_name().to_owned();
        for (name, label) in [
            ("", "health of \"\" is SERVING"),
            (service.as_str(), "health of the service is SERVING"),
        ] {
            let (outcome, detail) = match self.health_status(name).await {
                Ok(SERVING) => (Outcome::Pass, format!("Check({name:?}) = SERVING")),
                Ok(other) => (
                    Outcome::Fail,
                    format!(
                        "Check({name:?}) = {} instead of SERVING",
                        serving_name(other)
                    ),
                ),
                Err(why) => (Outcome::Fail, format!("Check({name:?}) failed: {why}")),
            };
            self.push("C-HLT-1", label, outcome, detail);
        }
    }

    // --- Unknown methods -------------------------------------------------------------------

    async fn unknown_method(&mut self) {
        let service = self.target.service.full_name().to_owned();
        let paths = [
            format!("/{service}/ConformanceNoSuchMethod"),
            "/tongdao.conformance.v1.NoSuchService/Get".to_owned(),
        ];
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for path in paths {
            match self.call(&path, &[], None).await {
                Ok(reply) => {
                    self.remember(format!("unknown method {path}"), &reply, false);
                    if reply.code() == Code::Unimplemented {
                        seen.push(format!("{path} → Unimplemented"));
                    } else {
                        problems.push(format!(
                            "{path} answered {} instead of UNIMPLEMENTED",
                            describe(&reply.status)
                        ));
                    }
                }
                Err(why) => problems.push(format!("{path}: no gRPC answer: {why}")),
            }
        }
        self.verdict(
            "C-ERR-8",
            "unknown method and service answer UNIMPLEMENTED",
            &problems,
            seen.join(", "),
        );
    }

    // --- One method ------------------------------------------------------------------------

    async fn method(&mut self, plan: &Plan) -> Answered {
        let answered = self.known_subject(plan).await;
        self.invalid_subject(plan).await;
        self.absent_subject(plan).await;
        self.garbage(plan).await;
        self.deadline(plan, answered).await;
        answered
    }

    /// C-SUB-1, then the schema and echo checks on the answer.
    async fn known_subject(&mut self, plan: &Plan) -> Answered {
        let name = plan.name("known subject answered");
        let schema_names = [
            ("C-SCH-1", "response decodes strictly (no unknown fields)"),
            ("C-SCH-2", "enum values are defined"),
            ("C-SCH-3", "ROC dates are calendar dates"),
            ("C-SCH-4", "identifiers valid by checksum"),
            ("C-SUB-2", "response is about the subject"),
        ];
        let skip_rest = |run: &mut Self, why: &str| {
            for (id, what) in schema_names {
                run.push(id, plan.name(what), Outcome::Skip, why);
            }
        };
        if plan.subject.is_some() && plan.known.is_none() {
            self.push("C-SUB-1", name, Outcome::Skip, plan.missing.clone());
            skip_rest(self, "no known subject to ask about");
            return Answered::Skipped;
        }
        let request = plan.base.encode_to_vec();
        let reply = match self.call(&plan.path, &request, None).await {
            Ok(reply) => reply,
            Err(why) => {
                self.push(
                    "C-SUB-1",
                    name,
                    Outcome::Fail,
                    format!("no gRPC answer: {why}"),
                );
                skip_rest(self, "no answer to inspect");
                return Answered::Not;
            }
        };
        self.remember(plan.name("known subject"), &reply, true);
        let reason = Rejection::reason_of(&reply.status);
        let body = match reply.code() {
            Code::Ok => {
                self.push(
                    "C-SUB-1",
                    name,
                    Outcome::Pass,
                    format!(
                        "OK, {} bytes in {} ms",
                        reply.body.as_ref().map_or(0, Bytes::len),
                        reply.elapsed.as_millis()
                    ),
                );
                reply.body.unwrap_or_default()
            }
            Code::NotFound
                if plan.kind == MethodKind::Get && reason == Some(Reason::RecordNotFound) =>
            {
                self.push(
                    "C-SUB-1",
                    name,
                    Outcome::Pass,
                    "NOT_FOUND/RECORD_NOT_FOUND: the source holds no record of this kind for the subject (allowed for a Get; pass --request with another sample to inspect a record)",
                );
                skip_rest(
                    self,
                    "the known subject has no record of this kind: nothing to inspect",
                );
                return Answered::As(Code::NotFound);
            }
            Code::InvalidArgument
                if !plan.from_sample && reason == Some(Reason::MalformedRequest) =>
            {
                self.push(
                    "C-SUB-1",
                    name,
                    Outcome::Skip,
                    format!(
                        "the method needs more than the subject ({}): pass --request {}={{…}}",
                        describe(&reply.status),
                        plan.method.name()
                    ),
                );
                skip_rest(self, "no sample request: nothing to inspect");
                return Answered::Skipped;
            }
            _ => {
                self.push(
                    "C-SUB-1",
                    name,
                    Outcome::Fail,
                    format!(
                        "answered {} instead of OK{}",
                        describe(&reply.status),
                        if plan.kind == MethodKind::Get {
                            " (or NOT_FOUND with RECORD_NOT_FOUND)"
                        } else {
                            ""
                        }
                    ),
                );
                skip_rest(self, "no answer to inspect");
                return Answered::Not;
            }
        };
        self.inspect_answer(plan, &body);
        Answered::As(Code::Ok)
    }

    fn inspect_answer(&mut self, plan: &Plan, body: &Bytes) {
        let output = plan.method.output();
        let message = match DynamicMessage::decode(output.clone(), body.clone()) {
            Ok(message) => message,
            Err(e) => {
                self.push(
                    "C-SCH-1",
                    plan.name("response decodes strictly (no unknown fields)"),
                    Outcome::Fail,
                    format!("the response is not a valid {}: {e}", output.full_name()),
                );
                for (id, what) in [
                    ("C-SCH-2", "enum values are defined"),
                    ("C-SCH-3", "ROC dates are calendar dates"),
                    ("C-SCH-4", "identifiers valid by checksum"),
                    ("C-SUB-2", "response is about the subject"),
                ] {
                    self.push(
                        id,
                        plan.name(what),
                        Outcome::Skip,
                        "the response does not decode (see C-SCH-1)",
                    );
                }
                return;
            }
        };
        let findings: Findings = inspect::inspect(&message);
        self.verdict(
            "C-SCH-1",
            plan.name("response decodes strictly (no unknown fields)"),
            &findings.unknown_fields,
            format!("decodes as {} with no unknown field", output.full_name()),
        );
        self.verdict(
            "C-SCH-2",
            plan.name("enum values are defined"),
            &findings.unknown_enums,
            "every enum value is defined in the schema",
        );
        self.verdict(
            "C-SCH-3",
            plan.name("ROC dates are calendar dates"),
            &findings.bad_dates,
            match findings.dates_seen {
                0 => "no ROC date in this response".to_owned(),
                n => format!("{n} ROC date(s), all valid or unset"),
            },
        );
        self.verdict(
            "C-SCH-4",
            plan.name("identifiers valid by checksum"),
            &findings.bad_ids,
            match findings.ids_seen {
                0 => "no identifier field set in this response".to_owned(),
                n => format!("{n} identifier(s), all valid by checksum"),
            },
        );
        let name = plan.name("response is about the subject");
        match (&plan.subject, &plan.known) {
            (Some((field, _)), Some(subject)) => {
                let record = plan.kind == MethodKind::Get || inspect::has_records(&message);
                let echo = inspect::check_echo(&message, field, subject, record);
                if echo.looked_at.is_empty() {
                    self.push(
                        "C-SUB-2",
                        name,
                        Outcome::Skip,
                        format!(
                            "{} has no field echoing {}",
                            output.full_name(),
                            field.name()
                        ),
                    );
                } else {
                    self.verdict(
                        "C-SUB-2",
                        name,
                        &echo.problems,
                        format!(
                            "echoes agree with the subject: {}",
                            echo.looked_at.join(", ")
                        ),
                    );
                }
            }
            _ => self.push(
                "C-SUB-2",
                name,
                Outcome::Skip,
                "the request has no subject field",
            ),
        }
    }

    /// C-ERR-2.
    async fn invalid_subject(&mut self, plan: &Plan) {
        let name = plan.name("invalid subject refused with SUBJECT_INVALID");
        let variants = plan.invalid_requests();
        if variants.is_empty() {
            self.push(
                "C-ERR-2",
                name,
                Outcome::Skip,
                "the request has no subject field",
            );
            return;
        }
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for (label, request) in variants {
            match self.call(&plan.path, &request.encode_to_vec(), None).await {
                Ok(reply) => {
                    self.remember(plan.name(&format!("{label} subject")), &reply, true);
                    let reason = Rejection::reason_of(&reply.status);
                    if reply.code() == Code::InvalidArgument
                        && reason == Some(Reason::SubjectInvalid)
                    {
                        seen.push(label);
                    } else {
                        problems.push(format!("{label}: answered {} instead of INVALID_ARGUMENT with ErrorInfo tongdao/SUBJECT_INVALID", describe(&reply.status)));
                    }
                }
                Err(why) => problems.push(format!("{label}: no gRPC answer: {why}")),
            }
        }
        self.verdict(
            "C-ERR-2",
            name,
            &problems,
            format!(
                "{}: INVALID_ARGUMENT tongdao/SUBJECT_INVALID",
                seen.join(", ")
            ),
        );
    }

    /// C-ERR-3 (Get) and C-ERR-4 (List).
    async fn absent_subject(&mut self, plan: &Plan) {
        let (id, what) = match plan.kind {
            MethodKind::Get => (
                "C-ERR-3",
                "absent subject answered NOT_FOUND/RECORD_NOT_FOUND",
            ),
            MethodKind::List => ("C-ERR-4", "absent subject answered OK with an empty list"),
            MethodKind::Other => ("C-ERR-3", "absent subject answered NOT_FOUND or empty"),
        };
        let name = plan.name(what);
        let Some((field, kind)) = &plan.subject else {
            self.push(id, name, Outcome::Skip, "the request has no subject field");
            return;
        };
        let Some(request) = plan.absent.clone().and_then(|v| plan.with_subject(Some(v))) else {
            self.push(
                id,
                name,
                Outcome::Skip,
                format!(
                    "no absent subject for {} ({}): pass --absent-subject",
                    field.name(),
                    kind.as_str_name()
                ),
            );
            return;
        };
        let reply = match self.call(&plan.path, &request.encode_to_vec(), None).await {
            Ok(reply) => reply,
            Err(why) => {
                self.push(id, name, Outcome::Fail, format!("no gRPC answer: {why}"));
                return;
            }
        };
        self.remember(
            plan.name("absent subject"),
            &reply,
            plan.kind != MethodKind::List,
        );
        let reason = Rejection::reason_of(&reply.status);
        let not_found = reply.code() == Code::NotFound && reason == Some(Reason::RecordNotFound);
        let empty_ok = || -> Result<(), String> {
            let body = reply.body.clone().unwrap_or_default();
            let message = DynamicMessage::decode(plan.method.output(), body).map_err(|e| {
                format!(
                    "answered OK but the response is not a valid {}: {e}",
                    plan.method.output().full_name()
                )
            })?;
            let lists = inspect::non_empty_lists(&message);
            if lists.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "answered OK with records for a subject the source does not know: {}",
                    lists.join(", ")
                ))
            }
        };
        if !plan.from_sample
            && reply.code() == Code::InvalidArgument
            && reason == Some(Reason::MalformedRequest)
        {
            self.push(
                id,
                name,
                Outcome::Skip,
                format!(
                    "the method needs more than the subject ({}): pass --request {}={{…}}",
                    describe(&reply.status),
                    plan.method.name()
                ),
            );
            return;
        }
        let outcome = match (plan.kind, reply.code()) {
            (MethodKind::Get, _) if not_found => {
                Ok("NOT_FOUND tongdao/RECORD_NOT_FOUND".to_owned())
            }
            (MethodKind::Get, _) => Err(format!(
                "answered {} instead of NOT_FOUND with ErrorInfo tongdao/RECORD_NOT_FOUND",
                describe(&reply.status)
            )),
            (MethodKind::List | MethodKind::Other, Code::Ok) => {
                empty_ok().map(|()| "OK with every list empty".to_owned())
            }
            (MethodKind::Other, _) if not_found => {
                Ok("NOT_FOUND tongdao/RECORD_NOT_FOUND".to_owned())
            }
            (_, _) => Err(format!(
                "answered {} instead of OK with an empty list",
                describe(&reply.status)
            )),
        };
        match outcome {
            Ok(detail) => self.push(id, name, Outcome::Pass, detail),
            Err(detail) => self.push(id, name, Outcome::Fail, detail),
        }
    }

    /// C-ERR-7.
    async fn garbage(&mut self, plan: &Plan) {
        let name = plan.name("undecodable request refused, adapter stays healthy");
        let mut problems = Vec::new();
        let mut codes = Vec::new();
        for (label, body) in GARBAGE {
            match self.call(&plan.path, body, None).await {
                Ok(reply) => {
                    let context = plan.name(&format!("undecodable request ({label})"));
                    self.remember(context, &reply, false);
                    if reply.code() == Code::Ok {
                        problems.push(format!("{label}: an undecodable request was answered OK"));
                    } else {
                        codes.push(reply.code());
                    }
                }
                Err(why) => problems.push(format!("{label}: no gRPC answer: {why}")),
            }
        }
        match self.health_status("").await {
            Ok(SERVING) => {}
            Ok(other) => problems.push(format!("afterwards health is {}", serving_name(other))),
            Err(why) => problems.push(format!("afterwards the health check failed: {why}")),
        }
        let mut detail = format!(
            "answered {}; still SERVING",
            codes
                .iter()
                .map(|c| code_name(*c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if codes.iter().any(|c| *c != Code::InvalidArgument) {
            detail.push_str(" (SHOULD be INVALID_ARGUMENT with tongdao/MALFORMED_REQUEST)");
        }
        self.verdict("C-ERR-7", name, &problems, detail);
    }

    /// C-DL-1: `grpc-timeout: 1m` (1 ms).
    async fn deadline(&mut self, plan: &Plan, answered: Answered) {
        let slack = self.target.limits.deadline_slack;
        let name = plan.name("1 ms deadline honoured");
        if plan.subject.is_some() && plan.known.is_none() {
            self.push("C-DL-1", name, Outcome::Skip, plan.missing.clone());
            return;
        }
        if matches!(answered, Answered::Skipped) {
            self.push(
                "C-DL-1",
                name,
                Outcome::Skip,
                "the method needs a sample request (see C-SUB-1)",
            );
            return;
        }
        let request = plan.base.encode_to_vec();
        let reply = match self.call(&plan.path, &request, Some("1m")).await {
            Ok(reply) => reply,
            Err(why) => {
                self.push(
                    "C-DL-1",
                    name,
                    Outcome::Fail,
                    format!("no gRPC answer: {why}"),
                );
                return;
            }
        };
        self.remember(plan.name("1 ms deadline"), &reply, false);
        let limit = Duration::from_millis(1) + slack;
        let mut problems = Vec::new();
        let expected_without_deadline = match answered {
            Answered::As(code) => Some(code),
            Answered::Not | Answered::Skipped => None,
        };
        let code_ok = reply.code() == Code::DeadlineExceeded
            || Some(reply.code()) == expected_without_deadline;
        if !code_ok {
            let hint = if reply.code() == Code::Cancelled {
                " (tonic's Server::timeout answers CANCELLED: honour grpc-timeout with DEADLINE_EXCEEDED instead)"
            } else {
                ""
            };
            problems.push(format!("answered {} instead of DEADLINE_EXCEEDED or the answer it gives without a deadline{hint}", describe(&reply.status)));
        }
        if reply.elapsed > limit {
            problems.push(format!(
                "answered after {} ms, more than the 1 ms deadline + {} ms",
                reply.elapsed.as_millis(),
                slack.as_millis()
            ));
        }
        self.verdict(
            "C-DL-1",
            name,
            &problems,
            format!(
                "{} after {:.1} ms",
                code_name(reply.code()),
                reply.elapsed.as_secs_f64() * 1000.0
            ),
        );
    }

    // --- Concurrency -----------------------------------------------------------------------

    /// C-CON-1: `limits.concurrency` calls in flight at once on one connection, round-robin
    /// over the methods whose known-subject call answered; each must answer as it did alone.
    async fn concurrency(&mut self, plans: &[Plan], answered: &[Answered]) {
        let n = self.target.limits.concurrency;
        let name = format!("{n} concurrent calls all answered");
        let usable: Vec<(String, Bytes, Code)> = plans
            .iter()
            .zip(answered)
            .filter_map(|(plan, answered)| match answered {
                Answered::As(code) => Some((
                    plan.path.clone(),
                    Bytes::from(plan.base.encode_to_vec()),
                    *code,
                )),
                Answered::Not | Answered::Skipped => None,
            })
            .collect();
        if usable.is_empty() {
            self.push(
                "C-CON-1",
                name,
                Outcome::Skip,
                "no method answered the known-subject call, so there is nothing to repeat",
            );
            return;
        }
        let connection = match H2::connect(&self.target.dialer, self.target.broker.clone()).await {
            Ok(connection) => connection,
            Err(why) => {
                self.push(
                    "C-CON-1",
                    name,
                    Outcome::Fail,
                    format!("cannot connect: {why}"),
                );
                return;
            }
        };
        let limit = self.target.limits.call_timeout;
        let started = Instant::now();
        let mut calls = JoinSet::new();
        for i in 0..n {
            let (path, body, expected) = usable[i % usable.len()].clone();
            let mut sender = connection.sender();
            calls.spawn(async move {
                let result = sender.unary(&path, &body, None, limit).await;
                (path, expected, result)
            });
        }
        let mut good = 0usize;
        let mut slowest = Duration::ZERO;
        let mut problems = Vec::new();
        while let Some(joined) = calls.join_next().await {
            match joined {
                Ok((path, expected, Ok(reply))) => {
                    slowest = slowest.max(reply.elapsed);
                    if reply.code() == expected {
                        good += 1;
                    } else if problems.len() < 3 {
                        problems.push(format!(
                            "{path} answered {} (alone: {})",
                            describe(&reply.status),
                            code_name(expected)
                        ));
                    }
                }
                Ok((path, _, Err(why))) => {
                    if problems.len() < 3 {
                        problems.push(format!("{path}: {why}"));
                    }
                }
                Err(e) => problems.push(format!("a call task failed: {e}")),
            }
        }
        drop(connection);
        if good == n {
            self.push(
                "C-CON-1",
                name,
                Outcome::Pass,
                format!(
                    "{good}/{n} answered as when alone, in {} ms (slowest {} ms), on one connection",
                    started.elapsed().as_millis(),
                    slowest.as_millis()
                ),
            );
        } else {
            self.push(
                "C-CON-1",
                name,
                Outcome::Fail,
                format!("{good}/{n} answered as when alone; {}", problems.join("; ")),
            );
        }
    }

    // --- Rules over every error seen -------------------------------------------------------

    /// C-ERR-1: every ErrorInfo is well formed, and present where the contract requires it.
    fn error_details(&mut self) {
        let name = "errors carry ErrorInfo (domain tongdao, a known reason, its code)";
        if self.errors.is_empty() {
            self.push("C-ERR-1", name, Outcome::Skip, "no error answer was seen");
            return;
        }
        let mut problems = Vec::new();
        let mut with_info = 0usize;
        for seen in &self.errors {
            let details = match seen.status.check_error_details_vec() {
                Ok(details) => details,
                Err(e) => {
                    problems.push(format!(
                        "{}: grpc-status-details-bin is not a google.rpc.Status: {e}",
                        seen.context
                    ));
                    continue;
                }
            };
            let infos: Vec<_> = details
                .into_iter()
                .filter_map(|d| match d {
                    ErrorDetail::ErrorInfo(info) => Some(info),
                    _ => None,
                })
                .collect();
            match infos.as_slice() {
                [] if seen.info_required => problems.push(format!(
                    "{}: {:?} without an ErrorInfo detail",
                    seen.context,
                    seen.status.code()
                )),
                [] => {}
                [info] => {
                    with_info += 1;
                    if info.domain != ERROR_DOMAIN {
                        problems.push(format!(
                            "{}: ErrorInfo domain {:?}, not {ERROR_DOMAIN:?}",
                            seen.context, info.domain
                        ));
                        continue;
                    }
                    match Reason::from_str_name(&info.reason) {
                        Some(Reason::Unspecified) | None => problems.push(format!(
                            "{}: ErrorInfo reason {:?} is not a tongdao.v1.ErrorReason",
                            seen.context, info.reason
                        )),
                        Some(reason) if code_for(reason) != seen.status.code() => {
                            problems.push(format!(
                                "{}: reason {} goes with {:?}, but the status is {:?}",
                                seen.context,
                                info.reason,
                                code_for(reason),
                                seen.status.code()
                            ));
                        }
                        Some(_) => {}
                    }
                }
                _ => problems.push(format!(
                    "{}: {} ErrorInfo details, expected one",
                    seen.context,
                    infos.len()
                )),
            }
        }
        let total = self.errors.len();
        self.verdict(
            "C-ERR-1",
            name,
            &problems,
            format!("{total} error answer(s), {with_info} with a well-formed ErrorInfo, none missing where required"),
        );
    }

    /// C-ERR-9: no error message (nor ErrorInfo metadata) carries a national ID.
    fn error_messages(&mut self) {
        let name = "error messages carry no national ID";
        if self.errors.is_empty() {
            self.push("C-ERR-9", name, Outcome::Skip, "no error answer was seen");
            return;
        }
        let mut problems = Vec::new();
        for seen in &self.errors {
            let mut texts = vec![seen.status.message().to_owned()];
            if let Some(info) = seen.status.get_details_error_info() {
                texts.extend(info.metadata.into_values());
            }
            let found: Vec<String> = texts
                .iter()
                .flat_map(|t| inspect::national_ids_in(t))
                .collect();
            if !found.is_empty() {
                problems.push(format!(
                    "{}: the error names national ID(s) {}",
                    seen.context,
                    found.join(", ")
                ));
            }
        }
        self.verdict(
            "C-ERR-9",
            name,
            &problems,
            format!(
                "{} error message(s), none with a national ID",
                self.errors.len()
            ),
        );
    }
}

fn serving_name(status: i32) -> String {
    match status {
        0 => "UNKNOWN".to_owned(),
        1 => "SERVING".to_owned(),
        2 => "NOT_SERVING".to_owned(),
        3 => "SERVICE_UNKNOWN".to_owned(),
        other => format!("status {other}"),
    }
}

#[cfg(test)]
mod tests;
