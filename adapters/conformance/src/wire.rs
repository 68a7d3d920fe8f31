//! The wire, under the kit's control: TCP and TLS with a time limit on every step, a probe that
//! tells a refused handshake from an accepted one, and unary gRPC calls over hyper's HTTP/2
//! client.
//!
//! The kit does not use tonic's `Channel`: it enforces a request's `grpc-timeout` itself on the
//! client side, which would hide what the adapter does with a deadline, and it retries and
//! reconnects behind the caller's back. Here every call is one HTTP/2 stream whose headers,
//! body and trailers the kit reads itself.

use std::{sync::Arc, time::Duration};

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    task::JoinHandle,
    time::{Instant, timeout},
};
use tokio_rustls::{TlsConnector, client::TlsStream};
use tonic::{Code, Status};

/// The largest response body the kit reads; anything larger is a failure, not a crash.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The HTTP/2 connection preface and an empty SETTINGS frame: what a client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Where the adapter is and how long each network step may take.
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    /// `host:port`.
    pub(crate) addr: String,
    /// The name the adapter's certificate must be valid for.
    pub(crate) server_name: ServerName<'static>,
    /// Limit for the TCP connect and, separately, for the TLS handshake.
    pub(crate) connect_timeout: Duration,
}

/// A client TLS configuration offering `versions`, trusting `roots`, presenting `identity`
/// (or no certificate), and asking for HTTP/2 by ALPN.
pub(crate) fn client_config(
    roots: &RootCertStore,
    identity: Option<(&[CertificateDer<'static>], &PrivateKeyDer<'static>)>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(tongdao_tls::crypto_provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS client configuration: {e}"))?
        .with_root_certificates(roots.clone());
    let mut config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.to_vec(), key.clone_key())
            .map_err(|e| format!("client certificate and key do not go together: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Connects TCP, then runs the TLS handshake, each under `dialer.connect_timeout`.
pub(crate) async fn tls_connect(
    dialer: &Dialer,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, ConnectError> {
    let tcp = match timeout(dialer.connect_timeout, TcpStream::connect(&dialer.addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(ConnectError::Tcp(format!("TCP connect failed: {e}"))),
        Err(_) => {
            return Err(ConnectError::Tcp(format!(
                "TCP connect did not finish in {} ms",
                dialer.connect_timeout.as_millis()
            )));
        }
    };
    let _ = tcp.set_nodelay(true);
    let connector = TlsConnector::from(config);
    match timeout(
        dialer.connect_timeout,
        connector.connect(dialer.server_name.clone(), tcp),
    )
    .await
    {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(ConnectError::Tls(format!("TLS handshake failed: {e}"))),
        Err(_) => Err(ConnectError::Timeout(format!(
            "TLS handshake did not finish in {} ms",
            dialer.connect_timeout.as_millis()
        ))),
    }
}

/// Why no connection could be made.
#[derive(Debug, Clone)]
pub(crate) enum ConnectError {
    /// Nothing accepted the TCP connection in time.
    Tcp(String),
    /// TCP worked; the TLS handshake failed.
    Tls(String),
    /// TCP worked; the TLS handshake did not finish in time.
    Timeout(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Tcp(text) | ConnectError::Tls(text) | ConnectError::Timeout(text) => {
                f.write_str(text)
            }
        }
    }
}

/// What a handshake with some identity came to.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    /// The handshake completed and the server then spoke (HTTP/2): the identity was accepted.
    Accepted {
        /// Negotiated TLS version, e.g. `TLSv1_3`.
        version: String,
        /// Protocol negotiated by ALPN, if any.
        alpn: Option<String>,
        /// Whether the server's first bytes were an HTTP/2 SETTINGS frame.
        spoke_h2: bool,
    },
    /// The server ended the handshake or the connection: the identity was refused.
    Refused(String),
    /// The server neither refused nor spoke within the time limit (during or after the
    /// handshake).
    Silent,
    /// The TCP connection itself failed: nothing can be said about the identity.
    Unreachable(String),
}

/// Handshakes with `config`'s identity, then sends the HTTP/2 preface and waits for the
/// server's first bytes. With TLS 1.3 a server refuses a client certificate *after* the client
/// considers the handshake done, so only the server's next move tells refusal from acceptance:
/// a TLS alert or a closed connection (refused), or its HTTP/2 SETTINGS frame (accepted).
pub(crate) async fn probe(dialer: &Dialer, config: Arc<ClientConfig>) -> Probe {
    let mut tls = match tls_connect(dialer, config).await {
        Ok(tls) => tls,
        Err(ConnectError::Tcp(e)) => return Probe::Unreachable(e),
        Err(ConnectError::Tls(e)) => return Probe::Refused(e),
        Err(ConnectError::Timeout(_)) => return Probe::Silent,
    };
    let (version, alpn) = {
        let (_, connection) = tls.get_ref();
        (
            connection
                .protocol_version()
                .map_or_else(|| "unknown".to_owned(), |v| format!("{v:?}")),
            connection
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        )
    };
    let exchange = async {
        tls.write_all(H2_PREFACE).await?;
        tls.flush().await?;
        let mut first = [0u8; 64];
        let n = tls.read(&mut first).await?;
        Ok::<_, std::io::Error>(first[..n].to_vec())
    };
    match timeout(dialer.connect_timeout, exchange).await {
        Ok(Ok(bytes)) if bytes.is_empty() => {
            Probe::Refused("the server closed the connection after the handshake".to_owned())
        }
        Ok(Ok(bytes)) => Probe::Accepted {
            version,
            alpn,
            // A frame header is 9 bytes; byte 3 is the frame type, 0x4 = SETTINGS.
            spoke_h2: bytes.len() >= 9 && bytes[3] == 0x4,
        },
        Ok(Err(e)) => Probe::Refused(format!("after the handshake: {e}")),
        Err(_) => Probe::Silent,
    }
}

/// One HTTP/2 connection to the adapter.
pub(crate) struct H2 {
    send: http2::SendRequest<Full<Bytes>>,
    authority: String,
    driver: JoinHandle<()>,
}

impl std::fmt::Debug for H2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl Drop for H2 {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// What an adapter answered to one unary call.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// The gRPC status (code OK on success), with message and details as sent.
    pub(crate) status: Status,
    /// The response message when the status is OK.
    pub(crate) body: Option<Bytes>,
    /// From sending the request to the end of the response.
    pub(crate) elapsed: Duration,
}

impl Reply {
    /// The status code.
    pub(crate) fn code(&self) -> Code {
        self.status.code()
    }
}

impl H2 {
    /// Opens a TLS connection with `config` and starts HTTP/2 on it.
    pub(crate) async fn connect(dialer: &Dialer, config: Arc<ClientConfig>) -> Result<H2, String> {
        let tls = tls_connect(dialer, config)
            .await
            .map_err(|e| e.to_string())?;
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new());
        let (send, connection) =
            match timeout(dialer.connect_timeout, builder.handshake(TokioIo::new(tls))).await {
                Ok(Ok(pair)) => pair,
                Ok(Err(e)) => return Err(format!("HTTP/2 handshake failed: {e}")),
                Err(_) => {
                    return Err(format!(
                        "HTTP/2 handshake did not finish in {} ms",
                        dialer.connect_timeout.as_millis()
                    ));
                }
            };
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let authority = match &dialer.server_name {
            ServerName::DnsName(name) => name.as_ref().to_owned(),
            other => dialer
                .addr
                .rsplit_once(':')
                .map_or_else(|| format!("{other:?}"), |(host, _)| host.to_owned()),
        };
        Ok(H2 {
            send,
            authority,
            driver,
        })
    }

    /// Whether the connection can no longer carry calls.
    pub(crate) fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    /// A handle for concurrent calls on the same connection.
    pub(crate) fn sender(&self) -> Sender {
        Sender {
            send: self.send.clone(),
            authority: self.authority.clone(),
        }
    }
}

/// Sends unary calls on one HTTP/2 connection; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    send: http2::SendRequest<Full<Bytes>>,
    authority: String,
}

impl Sender {
    /// Calls `path` (`/package.Service/Method`) with the encoded `message`, sending
    /// `grpc-timeout: <grpc_timeout>` when given. Everything — sending, the answer's headers,
    /// body and trailers — must complete within `limit`. `Err` means no gRPC answer at all
    /// (connection failure, protocol violation, time limit).
    pub(crate) async fn unary(
        &mut self,
        path: &str,
        message: &[u8],
        grpc_timeout: Option<&str>,
        limit: Duration,
    ) -> Result<Reply, String> {
        let started = Instant::now();
        match timeout(limit, self.exchange(path, message, grpc_timeout)).await {
            Ok(Ok((status, body))) => Ok(Reply {
                status,
                body,
                elapsed: started.elapsed(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!(
                "no complete answer within {} ms",
                limit.as_millis()
            )),
        }
    }

    async fn exchange(
        &mut self,
        path: &str,
        message: &[u8],
        grpc_timeout: Option<&str>,
    ) -> Result<(Status, Option<Bytes>), String> {
        let mut framed = BytesMut::with_capacity(5 + message.len());
        framed.put_u8(0);
        framed.put_u32(
            u32::try_from(message.len()).map_err(|_| "request too large to frame".to_owned())?,
        );
        framed.put_slice(message);
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("https://{}{path}", self.authority))
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers")
            .header("grpc-accept-encoding", "identity")
            .header(http::header::USER_AGENT, "tongdao-conformance");
        if let Some(value) = grpc_timeout {
            request = request.header("grpc-timeout", value);
        }
        let request = request
            .body(Full::new(framed.freeze()))
            .map_err(|e| format!("building the request: {e}"))?;
        self.send
            .ready()
            .await
            .map_err(|e| format!("the HTTP/2 connection is unusable ({e}): the adapter dropped it or does not speak HTTP/2"))?;
        let response = self
            .send
            .send_request(request)
            .await
            .map_err(|e| format!("request failed on the connection: {e}"))?;
        let (parts, body) = response.into_parts();
        if parts.status != http::StatusCode::OK {
            return Err(format!(
                "HTTP status {} instead of 200 (not a gRPC answer)",
                parts.status
            ));
        }
        // Trailers-only answer: the status is in the headers.
        if let Some(status) = Status::from_header_map(&parts.headers) {
            return Ok((status, None));
        }
        let collected = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the response body: {e}"))?;
        let trailers = collected.trailers().cloned();
        let mut data = collected.to_bytes();
        let status = trailers
            .as_ref()
            .and_then(Status::from_header_map)
            .ok_or("the response ended without grpc-status")?;
        if status.code() != Code::Ok {
            return Ok((status, None));
        }
        let mut messages = Vec::new();
        while data.has_remaining() {
            if data.remaining() < 5 {
                return Err("the response body ends inside a gRPC frame header".to_owned());
            }
            let compressed = data.get_u8();
            let len = data.get_u32() as usize;
            if compressed != 0 {
                return Err(
                    "the response message is compressed though the kit accepts only identity"
                        .to_owned(),
                );
            }
            if data.remaining() < len {
                return Err(format!(
                    "the response frame announces {len} bytes but only {} follow",
                    data.remaining()
                ));
            }
            messages.push(data.split_to(len));
        }
        match messages.len() {
            1 => Ok((status, messages.pop())),
            n => Err(format!(
                "a unary call answered OK with {n} response messages instead of 1"
            )),
        }
    }
}
