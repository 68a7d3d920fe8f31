//! Revocation vocabulary and a CRL reader.
//!
//! The handshake itself checks CRLs (rustls/webpki, which also verifies their signatures); this
//! reader exists so the broker can say *why* a certificate was refused — revoked for what
//! reason, or merely suspended (停用), which MOICA can lift again (復用).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, ParsedExtension};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::ReasonCode;

/// Why a certificate was permanently revoked (RFC 5280 §5.3.1 minus the two codes that are not
/// permanent revocation: `certificateHold` is [`RevocationStatus::Suspended`], `removeFromCRL`
/// only has meaning in delta CRLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationReason {
    /// No reason given (written without a reason code, as RFC 5280 asks).
    Unspecified,
    /// The subject's private key was compromised.
    KeyCompromise,
    /// The issuing CA's key was compromised.
    CaCompromise,
    /// The subject's affiliation changed (e.g. an official left the agency).
    AffiliationChanged,
    /// Replaced by a newer certificate.
    Superseded,
    /// The subject no longer operates (e.g. an agency was merged).
    CessationOfOperation,
    /// The privilege the certificate stood for was withdrawn.
    PrivilegeWithdrawn,
    /// An attribute authority was compromised.
    AaCompromise,
}

impl RevocationReason {
    /// Every reason, for help texts.
    pub const ALL: [RevocationReason; 8] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    /// The kebab-case name used in `pki.toml` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key-compromise",
            RevocationReason::CaCompromise => "ca-compromise",
            RevocationReason::AffiliationChanged => "affiliation-changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation-of-operation",
            RevocationReason::PrivilegeWithdrawn => "privilege-withdrawn",
            RevocationReason::AaCompromise => "aa-compromise",
        }
    }

    pub(crate) fn to_rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            RevocationReason::Unspecified => R::Unspecified,
            RevocationReason::KeyCompromise => R::KeyCompromise,
            RevocationReason::CaCompromise => R::CaCompromise,
            RevocationReason::AffiliationChanged => R::AffiliationChanged,
            RevocationReason::Superseded => R::Superseded,
            RevocationReason::CessationOfOperation => R::CessationOfOperation,
            RevocationReason::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
            RevocationReason::AaCompromise => R::AaCompromise,
        }
    }

    fn from_code(code: ReasonCode) -> Option<RevocationReason> {
        Some(match code {
            ReasonCode::KeyCompromise => RevocationReason::KeyCompromise,
            ReasonCode::CACompromise => RevocationReason::CaCompromise,
            ReasonCode::AffiliationChanged => RevocationReason::AffiliationChanged,
            ReasonCode::Superseded => RevocationReason::Superseded,
            ReasonCode::CessationOfOperation => RevocationReason::CessationOfOperation,
            ReasonCode::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
            ReasonCode::AACompromise => RevocationReason::AaCompromise,
            ReasonCode::CertificateHold | ReasonCode::RemoveFromCRL => return None,
            _ => RevocationReason::Unspecified,
        })
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A revocation reason name that is not one of [`RevocationReason::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown revocation reason {0:?} (certificate-hold is `suspend`, not a reason)")]
pub struct UnknownReason(pub String);

impl FromStr for RevocationReason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_owned()))
    }
}

/// What a CRL says about a certificate that it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationStatus {
    /// Permanently revoked.
    Revoked(RevocationReason),
    /// On hold (停用, reason `certificateHold`): invalid until resumed (復用).
    Suspended,
}

impl fmt::Display for RevocationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevocationStatus::Revoked(reason) => write!(f, "revoked ({reason})"),
            RevocationStatus::Suspended => f.write_str("suspended (certificate-hold)"),
        }
    }
}

/// Lowercase hex of a DER INTEGER's content with leading zero bytes dropped, so the same
/// serial reads the same whether it came from a certificate, a CRL or a person.
pub fn serial_hex(raw: &[u8]) -> String {
    let first = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex(raw.get(first..).unwrap_or(&[]))
}

/// Normalises a serial typed by a person (`0x`, colons, spaces, upper case, odd length) to
/// the [`serial_hex`] form; `None` if it is not hex.
pub fn normalize_serial(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let trimmed = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let mut digits: String = trimmed.chars().filter(|c| *c != ':' && *c != ' ').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    if digits.len() % 2 == 1 {
        digits.insert(0, '0');
    }
    Some(serial_hex(&unhex(&digits)?))
}

/// Lowercase hex without separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Decodes even-length hex; `None` on anything else.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

/// Why a CRL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    /// The PEM text holds no `X509 CRL` block.
    #[error("no X509 CRL found in PEM")]
    NoPem,
    /// The DER is not a CRL.
    #[error("unparseable CRL: {0}")]
    Unparseable(String),
}

/// An index of one CRL's entries by serial.
///
/// It does not verify the CRL's signature: it only explains a refusal the TLS layer (which does
/// verify) already made. Serials are unique per issuer only, so keep one index per CA and
/// match it by [`CrlIndex::issuer_key_id`].
#[derive(Debug, Clone)]
pub struct CrlIndex {
    issuer_dn: String,
    issuer_key_id: Option<Vec<u8>>,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    entries: HashMap<String, RevocationStatus>,
}

impl CrlIndex {
    /// Reads the first `X509 CRL` block of a PEM text.
    pub fn from_pem(pem: &str) -> Result<CrlIndex, CrlError> {
        let der = CertificateRevocationListDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| CrlError::NoPem)?;
        CrlIndex::from_der(&der)
    }

    /// Reads a DER CRL. Never panics on malformed input.
    pub fn from_der(der: &[u8]) -> Result<CrlIndex, CrlError> {
        let (rest, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| CrlError::Unparseable(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CrlError::Unparseable(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        let issuer_key_id = crl
            .extensions()
            .iter()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            });
        let mut entries = HashMap::new();
        for revoked in crl.iter_revoked_certificates() {
            let status = match revoked.reason_code() {
                None => RevocationStatus::Revoked(RevocationReason::Unspecified),
                Some((_, ReasonCode::CertificateHold)) => RevocationStatus::Suspended,
                Some((_, code)) => match RevocationReason::from_code(code) {
                    Some(reason) => RevocationStatus::Revoked(reason),
                    // removeFromCRL: the certificate is no longer listed.
                    None => continue,
                },
            };
            entries.insert(serial_hex(revoked.raw_serial()), status);
        }
        Ok(CrlIndex {
            issuer_dn: crl.issuer().to_string(),
            issuer_key_id,
            this_update: crl.last_update().to_datetime(),
            next_update: crl.next_update().map(|t| t.to_datetime()),
            entries,
        })
    }

    /// The status of a serial (any notation [`normalize_serial`] accepts); `None` if unlisted.
    pub fn lookup(&self, serial: &str) -> Option<RevocationStatus> {
        self.entries.get(&normalize_serial(serial)?).copied()
    }

    /// The status of a serial given as raw DER INTEGER content (e.g. from x509-parser).
    pub fn lookup_raw(&self, raw_serial: &[u8]) -> Option<RevocationStatus> {
        self.entries.get(&serial_hex(raw_serial)).copied()
    }

    /// The issuer's DN as text.
    pub fn issuer_dn(&self) -> &str {
        &self.issuer_dn
    }

    /// The issuer's key identifier (from the CRL's Authority Key Identifier), if present.
    pub fn issuer_key_id(&self) -> Option<&[u8]> {
        self.issuer_key_id.as_deref()
    }

    /// When this CRL was issued.
    pub fn this_update(&self) -> OffsetDateTime {
        self.this_update
    }

    /// When the next CRL is due.
    pub fn next_update(&self) -> Option<OffsetDateTime> {
        self.next_update
    }

    /// Number of listed certificates.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no certificate is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every listed serial with its status.
    pub fn iter(&self) -> impl Iterator<Item = (&str, RevocationStatus)> {
        self.entries.iter().map(|(s, st)| (s.as_str(), *st))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_normalise() {
        assert_eq!(serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "");
        assert_eq!(normalize_serial("0x1A2").as_deref(), Some("01a2"));
        assert_eq!(normalize_serial("00:10:0C").as_deref(), Some("100c"));
        assert_eq!(normalize_serial("xyz"), None);
        assert_eq!(normalize_serial(""), None);
    }

    #[test]
    fn reasons_parse_and_print() {
        for r in RevocationReason::ALL {
            assert_eq!(r.as_str().parse::<RevocationReason>(), Ok(r));
        }
        assert!("certificate-hold".parse::<RevocationReason>().is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(CrlIndex::from_der(&[]).is_err());
        assert!(CrlIndex::from_der(&[0x30, 0x82, 0xff]).is_err());
        assert!(CrlIndex::from_pem("not pem").is_err());
    }
}
