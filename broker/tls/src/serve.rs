//! Serving gRPC over our own TLS acceptor.
//!
//! tonic's built-in TLS cannot check revocation, and its server always enforces the client's
//! `grpc-timeout` itself by answering CANCELLED; a broker must answer DEADLINE_EXCEEDED with a
//! reason, and audit it. So we accept TCP, run the rustls handshake in its own task under a time
//! limit, identify the peer once per connection, and serve HTTP/2 with hyper directly.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::{Service, ServiceExt as _};

use crate::HandshakeRefusal;

/// How a server accepts connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Name of this server in metrics and logs (`broker`, `adapter-household`).
    pub server_name: &'static str,
    /// A handshake not finished by then is dropped, so slow or silent clients cannot hold
    /// sockets open.
    pub handshake_timeout: Duration,
    /// HTTP/2 streams a single connection may have open at once.
    pub max_concurrent_streams: u32,
    /// How long connections may take to finish in-flight calls after shutdown starts.
    pub drain_timeout: Duration,
    /// Handshake outcomes, kept alongside the metrics so a process can read its own counts.
    pub counts: Arc<HandshakeCounts>,
}

/// Handshakes this server completed and refused, by reason.
#[derive(Debug, Default)]
pub struct HandshakeCounts {
    accepted: AtomicU64,
    refused: Mutex<HashMap<&'static str, u64>>,
}

impl HandshakeCounts {
    /// Handshakes completed.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Handshakes refused for `refusal`.
    pub fn refused(&self, refusal: HandshakeRefusal) -> u64 {
        let refused = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        refused.get(refusal.label()).copied().unwrap_or(0)
    }

    fn refuse(&self, refusal: HandshakeRefusal) {
        let mut refused = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *refused.entry(refusal.label()).or_default() += 1;
    }
}

/// The verified peer of a connection, as the handshake left it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Remote socket address.
    pub remote_addr: SocketAddr,
    /// The peer's certificate chain, leaf first, as it presented it (already verified).
    pub chain: Arc<[CertificateDer<'static>]>,
}

/// Serves `service` on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight calls finish (GOAWAY) for up to `drain_timeout`, and returns.
///
/// `identify` runs once per connection, after the handshake; its result is inserted into the
/// extensions of every request on that connection. `tls` is read per handshake, so swapping it
/// (new CRLs, a rotated certificate) affects new connections without a restart.
pub async fn serve<T, I, S, B>(
    listener: TcpListener,
    tls: Arc<ArcSwap<ServerConfig>>,
    options: ServeOptions,
    identify: I,
    service: S,
    shutdown: impl Future<Output = ()>,
) where
    I: Fn(&Peer) -> T + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let identify = Arc::new(identify);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote_addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(server = options.server_name, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connection = Connection {
            options: options.clone(),
            acceptor: TlsAcceptor::from(tls.load_full()),
            identify: identify.clone(),
            service: service.clone(),
            watcher: graceful.watcher(),
        };
        tokio::spawn(connection.run(tcp, remote_addr));
    }
    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            server = options.server_name,
            "connections still open after drain timeout"
        );
    }
}

struct Connection<I, S> {
    options: ServeOptions,
    acceptor: TlsAcceptor,
    identify: Arc<I>,
    service: S,
    watcher: hyper_util::server::graceful::Watcher,
}

impl<I, S> Connection<I, S> {
    async fn run<T, B>(self, tcp: TcpStream, remote_addr: SocketAddr)
    where
        I: Fn(&Peer) -> T + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
        S: Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<B>,
                Error = Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let server = self.options.server_name;
        // gRPC is many small messages: Nagle would add up to 40 ms per response.
        let _ = tcp.set_nodelay(true);
        let handshake =
            tokio::time::timeout(self.options.handshake_timeout, self.acceptor.accept(tcp));
        let tls = match handshake.await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                let refusal = HandshakeRefusal::classify(&error);
                self.options.counts.refuse(refusal);
                return refused(server, remote_addr, refusal, &error);
            }
            Err(_) => {
                self.options.counts.refuse(HandshakeRefusal::Timeout);
                return refused(server, remote_addr, HandshakeRefusal::Timeout, &"timed out");
            }
        };
        let chain: Arc<[CertificateDer<'static>]> = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        metrics::counter!("tongdao_tls_handshakes_total", "server" => server).increment(1);
        self.options.counts.accepted.fetch_add(1, Ordering::Relaxed);
        let info = (self.identify)(&Peer { remote_addr, chain });
        let service = self
            .service
            .map_request(move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(info.clone());
                request.map(tonic::body::Body::new)
            });
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.options.max_concurrent_streams)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(10));
        let connection =
            builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(server, %remote_addr, %error, "connection ended with an error");
        }
    }
}

fn refused(
    server: &'static str,
    remote_addr: SocketAddr,
    refusal: HandshakeRefusal,
    error: &dyn std::fmt::Display,
) {
    metrics::counter!(
        "tongdao_tls_handshakes_refused_total",
        "server" => server,
        "reason" => refusal.label()
    )
    .increment(1);
    tracing::warn!(server, %remote_addr, reason = refusal.label(), %error, "TLS handshake refused");
}
