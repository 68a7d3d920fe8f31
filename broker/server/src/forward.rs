//! The innermost step: a permitted exchange, recorded in the audit log, relayed to its adapter
//! over a pooled mTLS channel on which the broker presents its own certificate, and its answer
//! checked, masked and recorded before it goes back.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use rustls_pki_types::ServerName;
use tongdao_config::RouteConfig;
use tongdao_core::{Principal, Reason, Rejection, codec::RawCodec};
use tongdao_policy::Allow;
use tongdao_tls::ClientTls;
use tonic::{
    Code, Status,
    metadata::{MetadataMap, MetadataValue},
    transport::{Channel, Endpoint},
};

use crate::{
    audit::Auditor,
    authorize::Permitted,
    exchange::{
        CLIENT_AGENCY_HEADER, CONSENT_HEADER, EXCHANGE_ID_HEADER, Exchange, PURPOSE_HEADER, Reply,
        TRACEPARENT_HEADER,
    },
};

/// The adapters serving one domain package.
#[derive(Debug)]
pub(crate) struct Route {
    channels: Vec<Channel>,
    next: AtomicUsize,
    timeout: Duration,
    available: AtomicBool,
}

impl Route {
    /// Whether the last call to this route reached an adapter (shown in the directory).
    pub(crate) fn available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    /// Round-robin over the adapter instances. Each channel is one multiplexed HTTP/2
    /// connection that reconnects by itself.
    fn channel(&self) -> Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        self.channels[i].clone()
    }
}

/// Every route, by package.
#[derive(Debug, Default, Clone)]
pub(crate) struct Routes {
    by_package: HashMap<String, Arc<Route>>,
}

/// A route that cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("route {package}: {problem}")]
pub(crate) struct RouteError {
    package: String,
    problem: String,
}

impl Routes {
    /// Builds lazily-connecting channels for each route: a broker starts even when an adapter
    /// is down, and calls to it fail with ADAPTER_UNAVAILABLE until it is back.
    pub(crate) fn new(configs: &[RouteConfig], tls: &ClientTls) -> Result<Self, RouteError> {
        let mut by_package = HashMap::new();
        for config in configs {
            let error = |problem: String| RouteError {
                package: config.package.clone(),
                problem,
            };
            let server_name = ServerName::try_from(config.server_name.clone())
                .map_err(|e| error(format!("server_name: {e}")))?;
            let mut channels = Vec::new();
            for endpoint in &config.endpoints {
                // The scheme is nominal: the connector below does the TLS.
                let endpoint = Endpoint::from_shared(format!("http://{endpoint}"))
                    .map_err(|e| error(format!("endpoint {endpoint}: {e}")))?
                    .connect_timeout(config.connect_timeout())
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_while_idle(true);
                channels
                    .push(endpoint.connect_with_connector_lazy(tls.connector(server_name.clone())));
            }
            let route = Route {
                channels,
                next: AtomicUsize::new(0),
                timeout: config.timeout(),
                available: AtomicBool::new(true),
            };
            by_package.insert(config.package.clone(), Arc::new(route));
        }
        Ok(Self { by_package })
    }

    /// The route for a package.
    pub(crate) fn for_package(&self, package: &str) -> Option<Arc<Route>> {
        self.by_package.get(package).cloned()
    }
}

/// The innermost step: records the intent, relays the exchange, records the completion —
/// each durable before the next step — and answers with the receipt.
pub(crate) async fn audited_forward(
    auditor: Auditor,
    permitted: Permitted<Exchange>,
) -> Result<Reply, Rejection> {
    let (exchange, allow) = permitted.into_parts();
    // Write-ahead: no request reaches an adapter without a durable intent record.
    auditor.intent(&exchange, &allow).await?;
    let result = relay(&exchange, &allow).await;
    // And no data reaches the caller without a durable completion record.
    let receipt = auditor.completion(&exchange, &allow, &result).await?;
    let masked_to_leg = exchange
        .leg
        .as_ref()
        .is_some_and(|leg| Arc::ptr_eq(&leg.fields, &allow.fields));
    result.map(|body| Reply {
        body,
        receipt,
        masked_to_leg,
    })
}

/// Relays an exchange to its adapter, checks the answer and masks it to the rule's fields.
async fn relay(exchange: &Exchange, allow: &Allow) -> Result<bytes::Bytes, Rejection> {
    let Some(route) = exchange.method.route.clone() else {
        return Err(Rejection::new(
            Reason::AdapterUnavailable,
            format!(
                "no adapter is configured for {}",
                exchange.method.service.full_name()
            ),
        ));
    };
    // The adapter gets what is left of the caller's deadline, capped by the route's own limit
    // and, for a recipe leg, the leg's. Which of them ends the wait says whose time ran out.
    let remaining = exchange.remaining();
    let limit = exchange
        .leg
        .as_ref()
        .map_or(route.timeout, |leg| leg.timeout.min(route.timeout));
    let budget = remaining.min(limit);
    if budget.is_zero() {
        return Err(Rejection::new(
            Reason::DeadlineExceeded,
            "the deadline passed before the exchange reached the adapter",
        ));
    }
    let mut request = tonic::Request::new(exchange.body.clone());
    *request.metadata_mut() = downstream_metadata(exchange);
    request.set_timeout(budget);
    let path = http::uri::PathAndQuery::try_from(exchange.method.path.as_str()).map_err(|_| {
        Rejection::new(Reason::InternalError, "method path is not a valid URI path")
    })?;

    let mut client = tonic::client::Grpc::new(route.channel());
    let call = async {
        client
            .ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        client.unary(request, path, RawCodec).await
    };
    let outcome = tokio::time::timeout(budget, call).await;
    let response = match outcome {
        Err(_elapsed) if remaining <= limit => return Err(callers_deadline_passed()),
        Err(_elapsed) => {
            return Err(Rejection::new(
                Reason::AdapterTimeout,
                "the adapter did not answer in time",
            ));
        }
        Ok(Err(status)) => {
            let mut rejection = adapter_rejection(&status);
            // The adapter was given the same budget and may give up a moment before our timer:
            // when the caller's deadline was the binding one, say so, as the timer would have.
            if rejection.reason() == Reason::AdapterTimeout && remaining <= limit {
                rejection = callers_deadline_passed();
            }
            route.available.store(
                rejection.reason() != Reason::AdapterUnavailable,
                Ordering::Relaxed,
            );
            return Err(rejection);
        }
        Ok(Ok(response)) => response,
    };
    route.available.store(true, Ordering::Relaxed);
    let body = response.into_inner();
    // An adapter is trusted to answer, not to answer well: a reply that is not a valid message
    // of the output type never reaches the caller.
    let output = exchange.method.descriptor.output();
    let Ok(mut message) = prost_reflect::DynamicMessage::decode(output, body) else {
        return Err(Rejection::new(
            Reason::AdapterFailed,
            "the adapter answered with a malformed response",
        ));
    };
    // Minimisation: every field the rule does not release is cleared, at any depth.
    allow.fields.apply(&mut message);
    Ok(bytes::Bytes::from(prost::Message::encode_to_vec(&message)))
}

fn callers_deadline_passed() -> Rejection {
    Rejection::new(
        Reason::DeadlineExceeded,
        "the caller's deadline passed before the adapter answered",
    )
}

/// What the adapter sees: the exchange id, the caller's purpose, consent and trace context,
/// and the calling agency as the broker established it. Nothing else the caller sent.
fn downstream_metadata(exchange: &Exchange) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    let mut insert = |key: &'static str, value: &str| {
        if let Ok(value) = MetadataValue::try_from(value) {
            metadata.insert(key, value);
        }
    };
    insert(EXCHANGE_ID_HEADER, &exchange.id.to_string());
    insert(TRACEPARENT_HEADER, &exchange.trace.traceparent());
    if let Some(purpose) = exchange.header(PURPOSE_HEADER) {
        insert(PURPOSE_HEADER, purpose);
    }
    if let Some(consent) = exchange.header(CONSENT_HEADER) {
        insert(CONSENT_HEADER, consent);
    }
    if let Principal::Agency(agency) = &exchange.principal {
        insert(CLIENT_AGENCY_HEADER, &agency.code);
    }
    metadata
}

/// What an adapter's error status means for the caller. Adapters speak the same reason set:
/// record-level reasons pass through with their message; anything else is the broker's to name,
/// so adapter internals never reach the caller.
fn adapter_rejection(status: &Status) -> Rejection {
    if let Some(reason) = Rejection::reason_of(status)
        && matches!(
            reason,
            Reason::RecordNotFound
                | Reason::SubjectInvalid
                | Reason::SourceRecordMalformed
                | Reason::MalformedRequest
        )
    {
        return Rejection::new(reason, status.message().to_owned());
    }
    match status.code() {
        Code::Unavailable => Rejection::new(
            Reason::AdapterUnavailable,
            "the adapter serving this method cannot be reached; retry later",
        ),
        Code::DeadlineExceeded | Code::Cancelled => {
            Rejection::new(Reason::AdapterTimeout, "the adapter did not answer in time")
        }
        _ => Rejection::new(Reason::AdapterFailed, "the adapter failed to answer"),
    }
}
