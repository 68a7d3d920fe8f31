//! The client side: the broker's mTLS connector toward adapters (and the CLI's toward the
//! broker).

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::{Material, crypto_provider};

/// A client TLS configuration that presents our certificate and verifies the server's
/// against our trust anchors.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// TLS 1.3, HTTP/2, our chain as client certificate, servers verified against
    /// `material.roots`.
    pub fn new(material: &Material) -> Result<Self, rustls::Error> {
        let mut roots = RootCertStore::empty();
        for root in &material.roots {
            roots.add(root.clone())?;
        }
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(material.chain.clone(), material.key.clone_key())?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// A client that presents no certificate: for probing that servers refuse such clients
    /// (tests, the adapter conformance kit). Servers are verified against `roots`.
    pub fn without_client_certificate(
        roots: &[rustls_pki_types::CertificateDer<'static>],
    ) -> Result<Self, rustls::Error> {
        let mut store = RootCertStore::empty();
        for root in roots {
            store.add(root.clone())?;
        }
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(store)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// A connector for `tonic::transport::Endpoint::connect_with_connector*` that verifies the
    /// server as `server_name` (whatever address the endpoint URI names).
    pub fn connector(&self, server_name: ServerName<'static>) -> TlsConnector {
        TlsConnector {
            inner: tokio_rustls::TlsConnector::from(self.config.clone()),
            server_name,
        }
    }
}

/// Dials TCP and runs the TLS handshake; see [`ClientTls::connector`].
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .finish()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<http::Uri> for TlsConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connector = self.inner.clone();
        let server_name = self.server_name.clone();
        Box::pin(async move {
            let host = uri.host().ok_or("endpoint URI has no host")?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = uri.port_u16().unwrap_or(443);
            let tcp = TcpStream::connect((host, port)).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(server_name, tcp).await?;
            Ok(TokioIo::new(tls))
        })
    }
}
