//! Where HTTP/2 requests for domain methods become [`Incoming`] exchanges, and exchange
//! outcomes become gRPC responses.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tongdao_core::{Reason, Rejection, codec::RawCodec};
use tonic::{
    Status,
    body::Body,
    codec::CompressionEncoding,
    metadata::MetadataValue,
    server::{Grpc, UnaryService},
};
use tower::{Service, ServiceExt as _};
use uuid::Uuid;

use crate::{
    exchange::{
        Caller, EXCHANGE_ID_HEADER, ExchangeId, Incoming, RECEIPT_HEADER, TRACEPARENT_HEADER,
        TraceContext,
    },
    replay::ReplayGuard,
    stack::ExchangeService,
};

/// Serves every path that is not the broker's own API: decodes one unary gRPC message, runs the
/// exchange stack, and answers with the reply or the rejection's status. This is where a
/// [`Rejection`] becomes a gRPC status (through [`Rejection::into_status`]), with the exchange
/// id added to the trailers either way.
#[derive(Clone)]
pub(crate) struct DomainIngress {
    pub(crate) stack: ExchangeService,
    pub(crate) replay: ReplayGuard,
    pub(crate) max_message_bytes: usize,
    pub(crate) max_deadline: Duration,
}

impl Service<http::Request<Body>> for DomainIngress {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let headers = request.headers();
        let received = Instant::now();
        let timeout = caller_budget(
            headers.get("grpc-timeout").and_then(|v| v.to_str().ok()),
            self.max_deadline,
        );
        let requested_id = headers.get(EXCHANGE_ID_HEADER).map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| Uuid::try_parse(text.trim()).ok())
                .filter(|id| self.replay.fresh(id))
                .ok_or(())
        });
        let id = match requested_id {
            Some(Ok(uuid)) => ExchangeId(uuid),
            _ => ExchangeId::generate(),
        };
        let trace = TraceContext::continue_or_start(
            headers
                .get(TRACEPARENT_HEADER)
                .and_then(|v| v.to_str().ok()),
        );
        let caller = request.extensions().get::<Arc<Caller>>().cloned();
        let path = request.uri().path().to_owned();
        let unary = Unary {
            stack: self.stack.clone(),
            context: Some(CallContext {
                id,
                requested_id,
                path,
                caller,
                deadline: received + timeout,
                trace,
            }),
        };
        let mut grpc = Grpc::new(RawCodec)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes);
        Box::pin(async move {
            let response = grpc.unary(unary, request).await;
            Ok(with_exchange_id_trailer(response, id))
        })
    }
}

/// How long the caller gives the exchange: its `grpc-timeout`, capped by the broker's maximum
/// (which is also the default when it sends none or an unreadable one).
pub(crate) fn caller_budget(grpc_timeout: Option<&str>, max: Duration) -> Duration {
    grpc_timeout
        .and_then(tongdao_core::deadline::parse_grpc_timeout)
        .map_or(max, |t| t.min(max))
}

/// Per-call context handed from [`DomainIngress`] to the unary handler.
struct CallContext {
    id: ExchangeId,
    requested_id: Option<Result<Uuid, ()>>,
    path: String,
    caller: Option<Arc<Caller>>,
    deadline: Instant,
    trace: TraceContext,
}

struct Unary {
    stack: ExchangeService,
    context: Option<CallContext>,
}

impl UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Bytes>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let stack = self.stack.clone();
        let context = self.context.take();
        Box::pin(async move {
            let Some(context) = context else {
                return Err(
                    Rejection::new(Reason::InternalError, "handler called twice").into_status(),
                );
            };
            let id = context.id;
            let Some(caller) = context.caller else {
                // Every connection is identified after its handshake; a request without a caller
                // means the server was wired wrongly. Refuse rather than serve it anonymously.
                return Err(status_for(
                    Rejection::new(Reason::InternalError, "connection identity missing"),
                    id,
                ));
            };
            let (metadata, _extensions, body) = request.into_parts();
            let incoming = Incoming {
                id,
                requested_id: context.requested_id,
                path: context.path,
                caller,
                metadata,
                body,
                deadline: context.deadline,
                trace: context.trace,
                recorded: crate::audit::Recorded::default(),
                leg: None,
            };
            let remaining = context.deadline.saturating_duration_since(Instant::now());
            let outcome = tokio::time::timeout(remaining, stack.oneshot(incoming)).await;
            match outcome {
                Ok(Ok(reply)) => {
                    let mut response = tonic::Response::new(reply.body);
                    insert_id(response.metadata_mut(), id);
                    if let Some(receipt) =
                        reply.receipt.and_then(|r| MetadataValue::try_from(r).ok())
                    {
                        response.metadata_mut().insert(RECEIPT_HEADER, receipt);
                    }
                    Ok(response)
                }
                Ok(Err(rejection)) => Err(status_for(rejection, id)),
                Err(_elapsed) => Err(status_for(
                    Rejection::new(
                        Reason::DeadlineExceeded,
                        "the deadline passed before the exchange completed",
                    ),
                    id,
                )),
            }
        })
    }
}

/// A rejection as the status a caller receives, with the exchange id in its metadata.
pub(crate) fn status_for(rejection: Rejection, id: ExchangeId) -> Status {
    let mut status = rejection.into_status();
    insert_id(status.metadata_mut(), id);
    status
}

/// Puts the exchange id in response metadata (`tongdao-exchange-id`).
pub(crate) fn insert_id(metadata: &mut tonic::metadata::MetadataMap, id: ExchangeId) {
    if let Ok(value) = MetadataValue::try_from(id.to_string()) {
        metadata.insert(EXCHANGE_ID_HEADER, value);
    }
}

/// Adds the exchange id, and the audit receipt when there is one, to the trailers of a
/// successful response (error responses carry the id in their trailers-only headers already).
fn with_exchange_id_trailer(
    response: http::Response<Body>,
    id: ExchangeId,
) -> http::Response<Body> {
    let Ok(value) = http::HeaderValue::try_from(id.to_string()) else {
        return response;
    };
    let receipt = response.headers().get(RECEIPT_HEADER).cloned();
    response.map(|body| {
        Body::new(body.map_frame(move |frame| match frame.into_trailers() {
            Ok(mut trailers) => {
                trailers.insert(EXCHANGE_ID_HEADER, value.clone());
                if let Some(receipt) = &receipt {
                    trailers.insert(RECEIPT_HEADER, receipt.clone());
                }
                http_body::Frame::trailers(trailers)
            }
            Err(frame) => frame,
        }))
    })
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    #[tokio::test]
    async fn exchange_id_is_added_to_the_trailers() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames = [
            Ok::<_, Status>(http_body::Frame::data(Bytes::from_static(b"\0\0\0\0\0"))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let body = Body::new(http_body_util::StreamBody::new(futures::stream::iter(
            frames,
        )));
        let id = ExchangeId::generate();
        let response = with_exchange_id_trailer(http::Response::new(body), id);
        let collected = response.into_body().collect().await.expect("body");
        let trailers = collected.trailers().expect("trailers").clone();
        assert_eq!(
            trailers
                .get(EXCHANGE_ID_HEADER)
                .and_then(|v| v.to_str().ok()),
            Some(id.to_string().as_str())
        );
        assert_eq!(
            trailers.get("grpc-status").and_then(|v| v.to_str().ok()),
            Some("0")
        );
    }
}
