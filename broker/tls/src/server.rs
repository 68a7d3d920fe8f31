//! The server-side TLS configuration shared by the broker and every adapter.

use std::sync::Arc;

use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
    client::danger::HandshakeSignatureValid,
    server::{
        WebPkiClientVerifier,
        danger::{ClientCertVerified, ClientCertVerifier},
    },
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::{Material, crypto_provider};

/// Builds the server configuration: TLS 1.3 only, HTTP/2 only, and a client certificate
/// required that chains to one of `material.roots` and is not on the issuing CA's CRL.
///
/// Revocation is checked for the end-entity certificate against the CRL of its issuer; a peer
/// whose issuer has no loaded CRL is refused rather than waved through. Certificates "on hold"
/// (suspended MOICA certificates) are CRL entries too, so they are refused until resumed.
pub fn server_config(material: &Material) -> Result<ServerConfig, rustls::Error> {
    build(material, None)
}

/// Like [`server_config`], but only a client whose certificate is valid for the DNS name
/// `peer_name` completes the handshake: adapters accept the broker and nobody else.
pub fn server_config_for_peer(
    material: &Material,
    peer_name: &str,
) -> Result<ServerConfig, rustls::Error> {
    let name = ServerName::try_from(peer_name.to_owned())
        .map_err(|e| rustls::Error::General(format!("peer name {peer_name:?}: {e}")))?;
    build(material, Some(name))
}

fn build(
    material: &Material,
    only: Option<ServerName<'static>>,
) -> Result<ServerConfig, rustls::Error> {
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
    let verifier = match only {
        Some(name) => Arc::new(OnlyPeer {
            inner: verifier,
            name,
        }),
        None => verifier,
    };
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
    /// The certificate is valid but not the one peer this server accepts (an adapter called by
    /// someone other than the broker).
    NotPermitted,
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
            Self::NotPermitted => "not_permitted",
            Self::Protocol => "protocol",
        }
    }

    /// Classifies the error a rustls accept returned.
    pub fn classify(error: &std::io::Error) -> Self {
        let Some(tls) = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        else {
            return Self::Protocol;
        };
        match tls {
            rustls::Error::NoCertificatesPresented => Self::NoCertificate,
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => Self::UnknownIssuer,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Self::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    Self::NotYetValid
                }
                CertificateError::Revoked => Self::Revoked,
                CertificateError::UnknownRevocationStatus
                | CertificateError::ExpiredRevocationList
                | CertificateError::ExpiredRevocationListContext { .. } => Self::RevocationUnknown,
                CertificateError::ApplicationVerificationFailure => Self::NotPermitted,
                _ => Self::BadCertificate,
            },
            _ => Self::Protocol,
        }
    }
}

/// Accepts only client certificates valid for one DNS name, after the usual chain and CRL checks.
#[derive(Debug)]
struct OnlyPeer {
    inner: Arc<dyn ClientCertVerifier>,
    name: ServerName<'static>,
}

impl ClientCertVerifier for OnlyPeer {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let certificate = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        certificate
            .verify_is_valid_for_subject_name(&self.name)
            .map_err(|_| {
                rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
            })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
