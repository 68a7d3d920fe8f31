//! An exchange as it moves through the broker: what arrived ([`Incoming`]), what it was
//! resolved to ([`Exchange`]), and what goes back ([`Reply`]).

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use tongdao_core::{Principal, Rejection, principal::CertificateFacts};
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use crate::catalogue::Method;

/// Metadata key of the exchange id, on requests (optional, client-chosen) and responses.
pub const EXCHANGE_ID_HEADER: &str = "tongdao-exchange-id";
/// Metadata key of the declared purpose.
pub const PURPOSE_HEADER: &str = "tongdao-purpose";
/// Metadata key of the consent reference.
pub const CONSENT_HEADER: &str = "tongdao-consent";
/// W3C trace context.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// Response metadata (headers and trailers): the audit receipt of the exchange's completion
/// record, `v1.<index>.<leaf hash>.<signed checkpoint>`, verifiable against the log's key.
pub const RECEIPT_HEADER: &str = "tongdao-receipt";
/// Set by the broker toward adapters: the agency code of the calling agency.
pub const CLIENT_AGENCY_HEADER: &str = "tongdao-client-agency";

/// Who is on the other end of a connection: worked out once per connection, after the
/// handshake, and shared by every call on it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal, or why the verified certificate identifies nobody on the bus.
    pub principal: Result<Principal, Rejection>,
    /// Certificate facts for logs and audit.
    pub certificate: CertificateFacts,
    /// Remote address.
    pub remote_addr: SocketAddr,
}

/// The exchange id: client-chosen (UUIDv7) or assigned by the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ExchangeId(pub Uuid);

impl ExchangeId {
    /// A fresh, time-ordered id.
    pub(crate) fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl std::fmt::Display for ExchangeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// W3C trace context: the caller's trace id (or a new one) and the broker's span on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceContext {
    /// 16-byte trace id.
    pub trace_id: u128,
    /// The broker's span id, parent of the adapter's.
    pub span_id: u64,
    /// Trace flags (sampled = 1).
    pub flags: u8,
}

impl TraceContext {
    /// Continues the caller's trace if `traceparent` is valid, else starts a new one.
    pub(crate) fn continue_or_start(traceparent: Option<&str>) -> Self {
        let span_id = rand_u64();
        if let Some((trace_id, flags)) = traceparent.and_then(parse_traceparent) {
            return Self {
                trace_id,
                span_id,
                flags,
            };
        }
        Self {
            trace_id: Uuid::new_v4().as_u128(),
            span_id,
            flags: 1,
        }
    }

    /// Another span on the same trace: a recipe leg's, under the recipe run's.
    pub(crate) fn child(&self) -> Self {
        Self {
            span_id: rand_u64(),
            ..*self
        }
    }

    /// The `traceparent` to send downstream.
    pub(crate) fn traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }

    /// The trace id as 32 hex digits.
    pub(crate) fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }
}

fn rand_u64() -> u64 {
    // A v4 UUID is 122 random bits from the OS RNG; 64 of them make a span id.
    (Uuid::new_v4().as_u128() >> 64) as u64 | 1
}

fn parse_traceparent(value: &str) -> Option<(u128, u8)> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || trace.len() != 32 || parent.len() != 16 || flags.len() != 2 {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok()?;
    let parent_id = u64::from_str_radix(parent, 16).ok()?;
    // All-zero ids are invalid per the W3C spec.
    if trace_id == 0 || parent_id == 0 {
        return None;
    }
    Some((trace_id, u8::from_str_radix(flags, 16).ok()?))
}

/// A call as it arrived: nothing checked yet beyond TLS.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// Id used for logs and the response whatever happens (see [`Incoming::requested_id`]).
    pub id: ExchangeId,
    /// The client-chosen id, if one was sent and it parsed as a UUID.
    pub requested_id: Option<Result<Uuid, ()>>,
    /// Full method path, `/package.Service/Method`.
    pub path: String,
    /// Who is calling.
    pub caller: Arc<Caller>,
    /// Request metadata as received.
    pub metadata: MetadataMap,
    /// The encoded request message.
    pub body: Bytes,
    /// When the exchange must be answered.
    pub deadline: Instant,
    /// Trace context.
    pub trace: TraceContext,
    /// Set once the exchange's intent is in the audit log.
    pub recorded: crate::audit::Recorded,
    /// Set when the call is a leg of a one-stop recipe.
    pub leg: Option<Arc<LegContext>>,
}

/// What a recipe leg's call carries beyond a direct call: its parent, and the fields the
/// recipe asks for (never more than the rule releases, so the narrower mask applies).
#[derive(Debug)]
pub(crate) struct LegContext {
    /// What every audit record of the leg's calls says about the recipe it is part of (the
    /// recipe, the leg, the run's exchange id), built once per leg.
    pub record: tongdao_audit::RecipeLeg,
    /// The leg's fields, compiled against the method's output.
    pub fields: Arc<tongdao_policy::FieldMask>,
    /// The leg's own bound on the adapter's answer, applied like a route's timeout
    /// (`ADAPTER_TIMEOUT`); the caller's deadline bounds it too (`DEADLINE_EXCEEDED`).
    pub timeout: std::time::Duration,
}

/// A call resolved to a known method and an identified agency.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// The exchange id.
    pub id: ExchangeId,
    /// Whether the client chose the id (replay protection applies).
    pub client_chose_id: bool,
    /// The method called.
    pub method: Arc<Method>,
    /// The calling principal.
    pub principal: Principal,
    /// Request metadata as received.
    pub metadata: MetadataMap,
    /// The encoded request message, forwarded as is.
    pub body: Bytes,
    /// When the exchange must be answered.
    pub deadline: Instant,
    /// Trace context.
    pub trace: TraceContext,
    /// The connection's caller (certificate facts for the audit record).
    pub caller: Arc<Caller>,
    /// When the exchange was admitted.
    pub admitted: Instant,
    /// Set once the exchange's intent is in the audit log.
    pub recorded: crate::audit::Recorded,
    /// The data subject, once validation has read it from the request.
    pub subject: Option<Subject>,
    /// Set when the exchange is a leg of a one-stop recipe.
    pub leg: Option<Arc<LegContext>>,
}

/// Whom an exchange is about, as the request's subject field names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A person.
    NationalId(tongdao_core::ids::NationalId),
    /// A company.
    BusinessNumber(tongdao_core::ids::BusinessNumber),
    /// Something else the schema marks (a land parcel).
    Other(String),
}

impl Exchange {
    /// Time left before the deadline (zero if passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// A metadata value as text, if present and ASCII.
    pub(crate) fn header(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(|v| v.to_str().ok())
    }
}

/// The adapter's answer, as the caller receives it.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The encoded response message.
    pub body: Bytes,
    /// The audit receipt of the completion record (`tongdao-receipt` trailer).
    pub receipt: Option<String>,
    /// Whether `body` is minimised to a recipe leg's own fields (the leg's mask was the one
    /// applied), so the runner need not mask it again.
    pub masked_to_leg: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_continued_with_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = TraceContext::continue_or_start(Some(incoming));
        assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let out = trace.traceparent();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(!out.contains("00f067aa0ba902b7"), "broker's own span id");
    }

    #[test]
    fn invalid_traceparent_starts_a_new_trace() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            let trace = TraceContext::continue_or_start(Some(bad));
            assert_ne!(trace.trace_id, 0);
            assert_ne!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        }
    }
}
