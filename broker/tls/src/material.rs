//! Certificate material read from PEM files: a certificate chain with its private key, the
//! trust anchors, and the CRLs of the issuing CAs.

use std::path::{Path, PathBuf};

use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, pem::PemObject as _,
};

/// Everything a Tongdao endpoint needs for mutual TLS.
#[derive(Debug)]
pub struct Material {
    /// Our certificate first, then the intermediates that issued it.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key of the first certificate in `chain`.
    pub key: PrivateKeyDer<'static>,
    /// Trust anchors peers must chain to (the GRCA-like root).
    pub roots: Vec<CertificateDer<'static>>,
    /// CRLs of the CAs that issue peer certificates; a peer whose issuer has no CRL here is
    /// refused (revocation status unknown fails closed).
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

/// A file that could not be used as certificate material.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no PEM block of the expected kind, or a malformed one.
    #[error("{path}: no valid PEM {what} found ({detail})")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was expected: "certificate", "private key" or "CRL".
        what: &'static str,
        /// What the PEM parser said.
        detail: String,
    },
}

impl Material {
    /// Reads a chain, key, trust anchors and CRLs from PEM files.
    pub fn load(
        chain: &Path,
        key: &Path,
        roots: &[PathBuf],
        crls: &[PathBuf],
    ) -> Result<Self, MaterialError> {
        let mut trust = Vec::new();
        for root in roots {
            trust.extend(certificates(root)?);
        }
        let mut revocations = Vec::new();
        for crl in crls {
            revocations.extend(revocation_lists(crl)?);
        }
        Ok(Self {
            chain: certificates(chain)?,
            key: private_key(key)?,
            roots: trust,
            crls: revocations,
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, MaterialError> {
    std::fs::read(path).map_err(|source| MaterialError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in a PEM file (at least one).
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, MaterialError> {
    let pem = read(path)?;
    let parsed: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match parsed {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(pem_error(path, "certificate", "the file holds none".into())),
        Err(e) => Err(pem_error(path, "certificate", e.to_string())),
    }
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, MaterialError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| pem_error(path, "private key", e.to_string()))
}

fn revocation_lists(
    path: &Path,
) -> Result<Vec<CertificateRevocationListDer<'static>>, MaterialError> {
    let pem = read(path)?;
    let parsed: Result<Vec<_>, _> = CertificateRevocationListDer::pem_slice_iter(&pem).collect();
    match parsed {
        Ok(crls) if !crls.is_empty() => Ok(crls),
        Ok(_) => Err(pem_error(path, "CRL", "the file holds none".into())),
        Err(e) => Err(pem_error(path, "CRL", e.to_string())),
    }
}

fn pem_error(path: &Path, what: &'static str, detail: String) -> MaterialError {
    MaterialError::Pem {
        path: path.to_owned(),
        what,
        detail,
    }
}
