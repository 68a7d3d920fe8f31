//! What every Tongdao adapter shares, so that an adapter is only its mapping from a legacy
//! source to the schema: an mTLS server that accepts the broker's certificate and nobody else,
//! gRPC health, deadlines honoured, errors mapped to the contract's reasons, and a log line and
//! metric per call.

pub mod mapping;

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tongdao_config::AdapterServerConfig;
use tongdao_core::{Reason, Rejection};
use tongdao_tls::{Material, ServeOptions};
use tonic::{body::Body, server::NamedService, service::Routes};
use tower::Service;

/// An adapter that cannot start; every problem is listed.
#[derive(Debug, thiserror::Error)]
#[error("adapter {name}: {}", problems.join("; "))]
pub struct StartError {
    /// The adapter.
    pub name: &'static str,
    /// What is wrong.
    pub problems: Vec<String>,
}

/// The server every adapter runs.
pub struct AdapterServer {
    name: &'static str,
    tls: Arc<ArcSwap<rustls::ServerConfig>>,
    options: ServeOptions,
}

impl std::fmt::Debug for AdapterServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterServer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AdapterServer {
    /// Loads the adapter's certificates; the TLS server it builds completes a handshake only
    /// with a client whose certificate chains to the trust anchors, is on no CRL, and is valid
    /// for `config.broker_name`.
    pub fn new(name: &'static str, config: &AdapterServerConfig) -> Result<Self, StartError> {
        let fail = |problem: String| StartError {
            name,
            problems: vec![problem],
        };
        let material = Material::load(
            &config.tls.certificate,
            &config.tls.private_key,
            &config.tls.trust_anchors,
            &config.tls.crls,
        )
        .map_err(|e| fail(format!("tls: {e}")))?;
        let server_config = tongdao_tls::server_config_for_peer(&material, &config.broker_name)
            .map_err(|e| fail(format!("tls: {e}")))?;
        Ok(Self {
            name,
            tls: Arc::new(ArcSwap::from_pointee(server_config)),
            options: ServeOptions {
                server_name: name,
                handshake_timeout: config.handshake_timeout(),
                max_concurrent_streams: 1024,
                drain_timeout: Duration::from_secs(10),
                counts: Arc::default(),
            },
        })
    }

    /// Handshakes this adapter accepted and refused, by reason.
    pub fn handshake_counts(&self) -> Arc<tongdao_tls::HandshakeCounts> {
        self.options.counts.clone()
    }

    /// Pairs the server with `service` (a generated tonic server): the adapter, ready to serve.
    pub fn ready<S>(self, service: S) -> ReadyAdapter
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        ReadyAdapter {
            server: self,
            service_name: S::NAME,
            routes: Routes::new(service),
        }
    }

    /// Serves `service` (a generated tonic server) plus gRPC health until `shutdown`.
    pub async fn serve<S>(
        self,
        listener: TcpListener,
        service: S,
        shutdown: impl Future<Output = ()>,
    ) where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.ready(service).serve(listener, shutdown).await;
    }
}

/// An adapter whose certificates and source are loaded: what `tongdao adapter <domain>`, the
/// demo and the tests start.
pub struct ReadyAdapter {
    server: AdapterServer,
    service_name: &'static str,
    routes: Routes,
}

impl std::fmt::Debug for ReadyAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyAdapter")
            .field("server", &self.server)
            .field("service", &self.service_name)
            .finish_non_exhaustive()
    }
}

impl ReadyAdapter {
    /// The adapter's name, e.g. `land`.
    pub fn name(&self) -> &'static str {
        self.server.name
    }

    /// The gRPC service it serves, e.g. `tongdao.land.v1.LandRegistry`.
    pub fn service_name(&self) -> &'static str {
        self.service_name
    }

    /// Handshakes this adapter accepted and refused, by reason.
    pub fn handshake_counts(&self) -> Arc<tongdao_tls::HandshakeCounts> {
        self.server.handshake_counts()
    }

    /// Serves the service plus gRPC health until `shutdown`.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status(self.service_name, tonic_health::ServingStatus::Serving)
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let routes = self.routes.add_service(health_service).prepare();
        let service = Deadline {
            inner: routes,
            adapter: self.server.name,
        };
        let server = self.server;
        tongdao_tls::serve(
            listener,
            server.tls,
            server.options,
            |_| (),
            service,
            shutdown,
        )
        .await;
    }
}

/// Honours the caller's `grpc-timeout`: when it passes, the call is abandoned and answered
/// DEADLINE_EXCEEDED, so an adapter never works on for a caller who has gone.
#[derive(Clone)]
struct Deadline<S> {
    inner: S,
    adapter: &'static str,
}

impl<S> Service<http::Request<Body>> for Deadline<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(tongdao_core::deadline::parse_grpc_timeout);
        let method = request.uri().path().to_owned();
        let adapter = self.adapter;
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = match timeout {
                Some(timeout) => match tokio::time::timeout(timeout, call).await {
                    Ok(response) => response,
                    Err(_) => Ok(Rejection::new(
                        Reason::DeadlineExceeded,
                        "the deadline passed before the adapter answered",
                    )
                    .into_status()
                    .into_http()),
                },
                None => call.await,
            };
            let response = response.map(undecodable_request_is_malformed);
            let status = response
                .as_ref()
                .ok()
                .and_then(|r| r.headers().get("grpc-status"))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("0")
                .to_owned();
            metrics::counter!("tongdao_adapter_calls_total", "adapter" => adapter, "grpc_status" => status.clone()).increment(1);
            tracing::debug!(
                adapter,
                method,
                grpc_status = status,
                latency_us = started.elapsed().as_micros() as u64,
                "call"
            );
            response
        })
    }
}

/// tonic answers a request body that does not decode with INTERNAL and no reason (it follows
/// gRPC's status-code guide); the adapter contract (C-ERR-7) wants the caller told its request
/// is malformed, as the broker would. tonic's message for that case is prost's `DecodeError`
/// text, percent-encoded in `grpc-message`.
fn undecodable_request_is_malformed(response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers();
    let internal = headers.get("grpc-status").is_some_and(|v| v == "13");
    let undecodable = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| {
            m.starts_with("failed%20to%20decode%20Protobuf%20message")
                || m.starts_with("failed to decode Protobuf message")
        });
    if internal && undecodable {
        Rejection::new(
            Reason::MalformedRequest,
            "the request body is not a valid message of the method's input type",
        )
        .into_status()
        .into_http()
    } else {
        response
    }
}
