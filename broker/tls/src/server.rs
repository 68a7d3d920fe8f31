//! The server-side TLS configuration shared by the broker and every adapter.

use std::sync::Arc;

use rustls::{
    CertificateError, RootCertStore, ServerConfig,
    server::{WebPkiClientVerifier, danger::ClientCertVerifier},
};

use crate::{Material, crypto_provider};

/// Builds the server configuration: TLS 1.3 only, HTTP/2 only, and a client certificate
/// required that chains to one of `material.roots` and is not on the issuing CA's CRL.
///
/// Revocation is checked for the end-entity certificate against the CRL of its issuer; a peer
/// whose issuer has no loaded CRL is refused rather than waved through. Certificates "on hold"
/// (suspended MOICA certificates) are CRL entries too, so they are refused until resumed.
pub fn server_config(material: &Material) -> Result<ServerConfig, rustls::Error> {
    let provider = crypto_provider();
    let mut roots = RootCertStore::empty();
    for root in &material.roots {
        roots.add(root.clone())?;
    }
    let verifier: Arc<dyn ClientCertVerifier> =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(material.crls.iter().cloned())
            .only_check_end_entity_revocation()
            .build()
            .map_err(|e| rustls::Error::General(format!("client verifier: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(material.chain.clone(), material.key.clone_key())?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Why a TLS handshake was refused, as counted in
/// `tongdao_tls_handshakes_refused_total{reason=…}` and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeRefusal {
    /// The client sent no certificate.
    NoCertificate,
    /// The certificate does not chain to a trusted root.
    UnknownIssuer,
    /// The certificate has expired.
    Expired,
    /// The certificate is not valid yet.
    NotYetValid,
    /// The certificate is on its issuer's CRL (revoked or suspended).
    Revoked,
    /// The issuer's revocation status is unknown (no CRL loaded, or the CRL has expired).
    RevocationUnknown,
    /// Any other certificate problem (bad signature, bad encoding, wrong key usage…).
    BadCertificate,
    /// The handshake did not finish within the configured time.
    Timeout,
    /// The peer does not speak TLS 1.3 with us, or broke the protocol.
    Protocol,
}

impl HandshakeRefusal {
    /// Metric and log label.
    pub fn label(self) -> &'static str {
        match self {
            Self::NoCertificate => "no_certificate",
            Self::UnknownIssuer => "unknown_issuer",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Revoked => "revoked",
            Self::RevocationUnknown => "revocation_unknown",
            Self::BadCertificate => "bad_certificate",
            Self::Timeout => "timeout",
            Self::Protocol => "protocol",
        }
    }

    /// Classifies the error a rustls accept returned.
    pub fn classify(error: &std::io::Error) -> Self {
        let Some(tls) = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
            return Self::Protocol;
        };
        match tls {
            rustls::Error::NoCertificatesPresented => Self::NoCertificate,
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => Self::UnknownIssuer,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => Self::Expired,
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    Self::NotYetValid
                }
                CertificateError::Revoked => Self::Revoked,
                CertificateError::UnknownRevocationStatus
                | CertificateError::ExpiredRevocationList
                | CertificateError::ExpiredRevocationListContext { .. } => Self::RevocationUnknown,
                _ => Self::BadCertificate,
            },
            _ => Self::Protocol,
        }
    }
}
