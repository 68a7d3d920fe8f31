//! Reading a principal's identity out of a verified certificate chain.
//!
//! A [`TrustStore`] binds the profile's authority names to CA certificates by Subject Key
//! Identifier (DNs are not unique: MOICA generations share one). [`TrustStore::identify`] then
//! classifies a leaf: which authority issued it, what its subject class is, and whether that
//! authority may issue that class, and returns a [`CertIdentity`].
//!
//! It does not verify signatures, validity or revocation: the TLS verifier has done that before
//! the broker asks who the peer is. It never panics on any input.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::crl::{hex, serial_hex};
use crate::profile::{Oid, PrincipalKind, Profile, SubjectClass};
use crate::sda::{self, SDA_EXTENSION_ARCS, SdaAttribute};

/// Who a certificate identifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    /// A government agency, or a unit of one (subject class "unit").
    Agency {
        /// The organisation's government OID (dotted), from attribute 2.16.886.1.100.2.102.
        government_oid: String,
        /// The unit's name (subject OU, else CN) when the subject class is "unit".
        unit: Option<String>,
    },
    /// A natural person.
    Citizen {
        /// The person's name (subject CN).
        name: String,
        /// Last four characters of the national ID; the full ID is never in a certificate.
        national_id_last4: String,
    },
    /// A server (the broker or an adapter).
    Server {
        /// The operating organisation's government OID, if the certificate carries one.
        government_oid: Option<String>,
        /// DNS names from the Subject Alternative Name extension.
        dns_names: Vec<String>,
        /// IP addresses from the Subject Alternative Name extension.
        ip_addresses: Vec<IpAddr>,
    },
}

impl IdentityKind {
    /// The principal kind.
    pub fn principal_kind(&self) -> PrincipalKind {
        match self {
            IdentityKind::Agency { .. } => PrincipalKind::Agency,
            IdentityKind::Citizen { .. } => PrincipalKind::Citizen,
            IdentityKind::Server { .. } => PrincipalKind::Server,
        }
    }
}

/// The identity read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// Who the certificate identifies.
    pub kind: IdentityKind,
    /// The profile authority that issued it (`GCA`, `MOICA`, ...).
    pub authority: String,
    /// The issuing CA's key identifier, lowercase hex (tells CA generations apart).
    pub issuer_key_id_hex: String,
    /// Serial number, lowercase hex without leading zero bytes (see [`crate::serial_hex`]).
    pub serial_hex: String,
    /// The issuer DN as text, e.g. `C=TW, O=行政院, OU=政府憑證管理中心, CN=...`.
    pub issuer_dn: String,
    /// The subject's common name, if any.
    pub subject_cn: Option<String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// How the caller tells [`TrustStore::identify`] which CA issued the leaf.
#[derive(Debug, Clone, Copy)]
pub enum IssuerRef<'a> {
    /// The issuing CA certificate (DER) from the verified chain; the strongest binding.
    Certificate(&'a [u8]),
    /// The issuing CA's Subject Key Identifier.
    KeyId(&'a [u8]),
    /// Trust the leaf's own Authority Key Identifier (the issuer was a trust anchor and the
    /// peer sent no intermediate).
    LeafAuthorityKeyId,
}

/// Why no identity could be read. Each variant has a stable [`IdentityError::code`].
///
/// Messages never contain attribute values: the last four ID digits are personal data and
/// these errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The leaf or the given issuer certificate is not a parseable X.509 certificate.
    #[error("unparseable {which} certificate: {detail}")]
    UnparseableCertificate {
        /// `"leaf"` or `"issuer"`.
        which: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// The issuing CA cannot be determined: no AKI in the leaf, or no SKI in the issuer.
    #[error("cannot tell the issuing CA: the {which} certificate has no key identifier")]
    NoIssuerKeyId {
        /// `"leaf"` (no AKI) or `"issuer"` (no SKI).
        which: &'static str,
    },
    /// The issuing CA's key identifier is bound to no authority in the trust store.
    #[error("issuing CA with key id {key_id} is not a trusted authority")]
    UnknownIssuer {
        /// The key identifier, lowercase hex.
        key_id: String,
    },
    /// The leaf does not name the given issuer (DN or key identifier differ).
    #[error("the leaf was not issued by the given CA: {0}")]
    IssuerMismatch(String),
    /// The leaf has no Subject Directory Attributes extension (2.5.29.9).
    #[error("no Subject Directory Attributes extension")]
    NoSubjectDirectoryAttributes,
    /// The Subject Directory Attributes extension is not well-formed, or an attribute this
    /// profile reads is repeated, multi-valued or of an unsupported type.
    #[error("malformed Subject Directory Attributes: {0}")]
    MalformedSubjectDirectoryAttributes(String),
    /// There is no subject-class attribute.
    #[error("no subject-class attribute")]
    MissingSubjectClass,
    /// The subject-class value is none of the profile's subject classes.
    #[error("unknown subject class {value}")]
    UnknownSubjectClass {
        /// The value found (an OID as text, or whatever string was there).
        value: String,
    },
    /// The profile does not allow the issuing authority to issue this principal kind.
    #[error("{authority} may not issue {kind} certificates")]
    ClassNotIssuable {
        /// The issuing authority.
        authority: String,
        /// The kind the certificate claims.
        kind: PrincipalKind,
    },
    /// An attribute or subject field required for the kind is absent.
    #[error("{kind} certificate lacks {attribute}")]
    MissingAttribute {
        /// The kind the certificate claims.
        kind: PrincipalKind,
        /// What is missing (`"national_id_last4"`, `"government_oid"`, `"subject CN"`, ...).
        attribute: &'static str,
    },
    /// The last-4 attribute is not four ASCII digits (IDs match `^[A-Z][1289]\d{8}$`).
    #[error("national_id_last4 is not four digits")]
    MalformedNationalIdLast4,
    /// The government-OID attribute is not a dotted-decimal OID.
    #[error("government_oid is not a dotted-decimal OID")]
    MalformedGovernmentOid,
}

impl IdentityError {
    /// A stable machine-readable code, for metrics and error details.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::UnparseableCertificate { .. } => "UNPARSEABLE_CERTIFICATE",
            IdentityError::NoIssuerKeyId { .. } => "NO_ISSUER_KEY_ID",
            IdentityError::UnknownIssuer { .. } => "UNKNOWN_ISSUER",
            IdentityError::IssuerMismatch(_) => "ISSUER_MISMATCH",
            IdentityError::NoSubjectDirectoryAttributes => "NO_SUBJECT_DIRECTORY_ATTRIBUTES",
            IdentityError::MalformedSubjectDirectoryAttributes(_) => {
                "MALFORMED_SUBJECT_DIRECTORY_ATTRIBUTES"
            }
            IdentityError::MissingSubjectClass => "MISSING_SUBJECT_CLASS",
            IdentityError::UnknownSubjectClass { .. } => "UNKNOWN_SUBJECT_CLASS",
            IdentityError::ClassNotIssuable { .. } => "CLASS_NOT_ISSUABLE",
            IdentityError::MissingAttribute { .. } => "MISSING_ATTRIBUTE",
            IdentityError::MalformedNationalIdLast4 => "MALFORMED_NATIONAL_ID_LAST4",
            IdentityError::MalformedGovernmentOid => "MALFORMED_GOVERNMENT_OID",
        }
    }
}

/// Why a CA certificate could not be bound to an authority.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The profile names no such authority.
    #[error("the profile has no authority named {0:?}")]
    UnknownAuthority(String),
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PEM text holds no certificate.
    #[error("no CERTIFICATE found in PEM for {0}")]
    NoCertificate(String),
    /// The certificate does not parse.
    #[error("unparseable CA certificate: {0}")]
    Unparseable(String),
    /// The certificate is not a CA (basicConstraints cA is not true).
    #[error("certificate {subject} is not a CA")]
    NotACa {
        /// Its subject DN.
        subject: String,
    },
    /// The CA certificate has no Subject Key Identifier, the only reliable way to tell CAs apart.
    #[error("CA certificate {subject} has no subject key identifier")]
    NoSubjectKeyId {
        /// Its subject DN.
        subject: String,
    },
    /// The CA's DN does not carry the OU the profile gives the authority: probably the wrong file.
    #[error("CA certificate {subject} has no OU={expected_ou} expected for {authority}")]
    OuMismatch {
        /// The authority it was bound to.
        authority: String,
        /// The OU the profile expects.
        expected_ou: String,
        /// The CA's subject DN.
        subject: String,
    },
    /// The same key identifier is already bound to another authority.
    #[error("key id {key_id} already bound to {existing}")]
    Conflict {
        /// The key identifier, hex.
        key_id: String,
        /// The authority already holding it.
        existing: String,
    },
}

/// A CA certificate bound to a profile authority.
#[derive(Debug, Clone)]
pub struct BoundCa {
    /// The profile authority name.
    pub authority: String,
    /// The CA's Subject Key Identifier.
    pub key_id: Vec<u8>,
    /// The CA's subject DN, as text.
    pub subject_dn: String,
    subject_raw: Vec<u8>,
    /// The CA certificate.
    pub cert_der: CertificateDer<'static>,
}

/// A profile plus the CA certificates bound to its authorities.
#[derive(Debug, Clone)]
pub struct TrustStore {
    profile: Profile,
    cas: Vec<BoundCa>,
}

impl TrustStore {
    /// An empty store for a profile; bind CA certificates next.
    pub fn new(profile: Profile) -> TrustStore {
        TrustStore {
            profile,
            cas: Vec::new(),
        }
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Every bound CA.
    pub fn cas(&self) -> &[BoundCa] {
        &self.cas
    }

    /// The CA bound under this key identifier.
    pub fn ca_by_key_id(&self, key_id: &[u8]) -> Option<&BoundCa> {
        self.cas.iter().find(|ca| ca.key_id == key_id)
    }

    /// Binds one CA certificate (DER) to an authority; checks that it is a CA with an SKI and
    /// that its DN carries the authority's OU. Binding the same certificate twice is harmless.
    pub fn bind_der(&mut self, authority: &str, ca_der: &[u8]) -> Result<(), TrustError> {
        let expected = self
            .profile
            .authority(authority)
            .ok_or_else(|| TrustError::UnknownAuthority(authority.to_owned()))?;
        let (_, cert) = X509Certificate::from_der(ca_der)
            .map_err(|e| TrustError::Unparseable(e.to_string()))?;
        let subject = cert.subject().to_string();
        if !cert.is_ca() {
            return Err(TrustError::NotACa { subject });
        }
        let Some(key_id) = subject_key_id(&cert) else {
            return Err(TrustError::NoSubjectKeyId { subject });
        };
        if !cert
            .subject()
            .iter_organizational_unit()
            .any(|ou| ou.as_str().is_ok_and(|ou| ou == expected.ou))
        {
            return Err(TrustError::OuMismatch {
                authority: authority.to_owned(),
                expected_ou: expected.ou.clone(),
                subject,
            });
        }
        if let Some(existing) = self.ca_by_key_id(&key_id) {
            if existing.authority == authority {
                return Ok(());
            }
            return Err(TrustError::Conflict {
                key_id: hex(&key_id),
                existing: existing.authority.clone(),
            });
        }
        self.cas.push(BoundCa {
            authority: authority.to_owned(),
            key_id,
            subject_dn: subject,
            subject_raw: cert.subject().as_raw().to_vec(),
            cert_der: CertificateDer::from(ca_der.to_vec()),
        });
        Ok(())
    }

    /// Binds every certificate in a PEM text (several generations of one authority may share
    /// a file); returns how many were bound.
    pub fn bind_pem(&mut self, authority: &str, pem: &str) -> Result<usize, TrustError> {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| TrustError::Unparseable(e.to_string()))?;
            self.bind_der(authority, &cert)?;
            n += 1;
        }
        if n == 0 {
            return Err(TrustError::NoCertificate(authority.to_owned()));
        }
        Ok(n)
    }

    /// Binds every certificate in a PEM file.
    pub fn bind_pem_file(&mut self, authority: &str, path: &Path) -> Result<usize, TrustError> {
        let pem = std::fs::read_to_string(path).map_err(|source| TrustError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.bind_pem(authority, &pem)
    }

    /// Reads the identity of a leaf whose chain the caller has already verified.
    pub fn identify(
        &self,
        leaf_der: &[u8],
        issuer: IssuerRef<'_>,
    ) -> Result<CertIdentity, IdentityError> {
        let leaf = parse_cert(leaf_der, "leaf")?;
        let aki = authority_key_id(&leaf);
        let ca = match issuer {
            IssuerRef::LeafAuthorityKeyId => {
                let aki = aki.ok_or(IdentityError::NoIssuerKeyId { which: "leaf" })?;
                self.bound(&aki)?
            }
            IssuerRef::KeyId(key_id) => {
                check_aki(aki.as_deref(), key_id)?;
                self.bound(key_id)?
            }
            IssuerRef::Certificate(der) => {
                let issuer = parse_cert(der, "issuer")?;
                let key_id = subject_key_id(&issuer)
                    .ok_or(IdentityError::NoIssuerKeyId { which: "issuer" })?;
                check_aki(aki.as_deref(), &key_id)?;
                self.bound(&key_id)?
            }
        };
        if leaf.issuer().as_raw() != ca.subject_raw.as_slice() {
            return Err(IdentityError::IssuerMismatch(format!(
                "leaf issuer {} is not {}",
                leaf.issuer(),
                ca.subject_dn
            )));
        }
        self.classify(&leaf, ca)
    }

    /// Convenience for a rustls verifier: finds the issuer among the presented intermediates
    /// (subject = leaf issuer and SKI = leaf AKI), falling back to the leaf's AKI when the
    /// peer sent none (its CA is then a trust anchor).
    pub fn identify_presented(
        &self,
        end_entity: &[u8],
        intermediates: &[CertificateDer<'_>],
    ) -> Result<CertIdentity, IdentityError> {
        let leaf = parse_cert(end_entity, "leaf")?;
        let aki = authority_key_id(&leaf);
        let issuer = intermediates.iter().find(|der| {
            X509Certificate::from_der(der).is_ok_and(|(_, c)| {
                c.subject().as_raw() == leaf.issuer().as_raw()
                    && aki
                        .as_deref()
                        .is_none_or(|aki| subject_key_id(&c).is_some_and(|ski| ski == aki))
            })
        });
        match issuer {
            Some(der) => self.identify(end_entity, IssuerRef::Certificate(der)),
            None => self.identify(end_entity, IssuerRef::LeafAuthorityKeyId),
        }
    }

    fn bound(&self, key_id: &[u8]) -> Result<&BoundCa, IdentityError> {
        self.ca_by_key_id(key_id)
            .ok_or_else(|| IdentityError::UnknownIssuer {
                key_id: hex(key_id),
            })
    }

    fn classify(
        &self,
        leaf: &X509Certificate<'_>,
        ca: &BoundCa,
    ) -> Result<CertIdentity, IdentityError> {
        let profile = &self.profile;
        let sda_oid = x509_parser::oid_registry::Oid::from(&SDA_EXTENSION_ARCS[..])
            .map_err(|_| IdentityError::NoSubjectDirectoryAttributes)?;
        let ext = leaf
            .iter_extensions()
            .find(|e| e.oid == sda_oid)
            .ok_or(IdentityError::NoSubjectDirectoryAttributes)?;
        let attrs = sda::parse(ext.value)
            .map_err(|e| IdentityError::MalformedSubjectDirectoryAttributes(e.to_string()))?;
        let a = &profile.attributes;

        let class_text = single(&attrs, &a.subject_class, "subject_class")?
            .ok_or(IdentityError::MissingSubjectClass)?;
        let class = Oid::parse(&class_text)
            .ok()
            .and_then(|oid| profile.subject_class(&oid))
            .ok_or(IdentityError::UnknownSubjectClass { value: class_text })?;
        let kind = class.kind();
        // bind_der only binds authorities the profile names, so this lookup succeeds.
        let authority =
            profile
                .authority(&ca.authority)
                .ok_or_else(|| IdentityError::UnknownIssuer {
                    key_id: hex(&ca.key_id),
                })?;
        if !authority.may_issue(kind) {
            return Err(IdentityError::ClassNotIssuable {
                authority: authority.name.clone(),
                kind,
            });
        }

        let subject_cn = first_str(leaf.subject(), NameField::Cn);
        let missing = |attribute| IdentityError::MissingAttribute { kind, attribute };
        let identity_kind = match class {
            SubjectClass::Citizen => {
                let name = subject_cn.clone().ok_or(missing("subject CN"))?;
                let last4 = single(&attrs, &a.national_id_last4, "national_id_last4")?
                    .ok_or(missing("national_id_last4"))?;
                if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(IdentityError::MalformedNationalIdLast4);
                }
                IdentityKind::Citizen {
                    name,
                    national_id_last4: last4,
                }
            }
            SubjectClass::Agency | SubjectClass::Unit => {
                let government_oid = single(&attrs, &a.government_oid, "government_oid")?
                    .ok_or(missing("government_oid"))?;
                let government_oid = checked_oid(&government_oid)?;
                let unit = if class == SubjectClass::Unit {
                    let unit = first_str(leaf.subject(), NameField::Ou).or(subject_cn.clone());
                    Some(unit.ok_or(missing("subject OU"))?)
                } else {
                    None
                };
                IdentityKind::Agency {
                    government_oid,
                    unit,
                }
            }
            SubjectClass::Server => {
                let government_oid = single(&attrs, &a.government_oid, "government_oid")?
                    .map(|oid| checked_oid(&oid))
                    .transpose()?;
                let (dns_names, ip_addresses) = subject_alt_names(leaf);
                IdentityKind::Server {
                    government_oid,
                    dns_names,
                    ip_addresses,
                }
            }
        };

        Ok(CertIdentity {
            kind: identity_kind,
            authority: authority.name.clone(),
            issuer_key_id_hex: hex(&ca.key_id),
            serial_hex: serial_hex(leaf.raw_serial()),
            issuer_dn: leaf.issuer().to_string(),
            subject_cn,
            not_before: leaf.validity().not_before.to_datetime(),
            not_after: leaf.validity().not_after.to_datetime(),
        })
    }
}

fn parse_cert<'a>(
    der: &'a [u8],
    which: &'static str,
) -> Result<X509Certificate<'a>, IdentityError> {
    let unparseable = |detail: String| IdentityError::UnparseableCertificate { which, detail };
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| unparseable(e.to_string()))?;
    if !rest.is_empty() {
        return Err(unparseable(format!("{} trailing bytes", rest.len())));
    }
    Ok(cert)
}

fn check_aki(aki: Option<&[u8]>, key_id: &[u8]) -> Result<(), IdentityError> {
    match aki {
        Some(aki) if aki != key_id => Err(IdentityError::IssuerMismatch(format!(
            "leaf authority key id {} is not the issuer's {}",
            hex(aki),
            hex(key_id)
        ))),
        _ => Ok(()),
    }
}

fn checked_oid(text: &str) -> Result<String, IdentityError> {
    Oid::parse(text)
        .map(|oid| oid.to_string())
        .map_err(|_| IdentityError::MalformedGovernmentOid)
}

/// The one value of an attribute this profile reads: absent is `None`, while repeated,
/// multi-valued or non-string values are malformed (a second value would be ambiguous).
fn single(
    attrs: &[SdaAttribute],
    oid: &Oid,
    name: &'static str,
) -> Result<Option<String>, IdentityError> {
    let malformed = |m: String| IdentityError::MalformedSubjectDirectoryAttributes(m);
    let mut found = attrs.iter().filter(|a| &a.oid == oid);
    let Some(attr) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(malformed(format!(
            "attribute {name} appears more than once"
        )));
    }
    let [value] = attr.values.as_slice() else {
        return Err(malformed(format!(
            "attribute {name} must have exactly one value"
        )));
    };
    value
        .as_text()
        .map(Some)
        .ok_or_else(|| malformed(format!("attribute {name} has an unsupported value type")))
}

#[derive(Clone, Copy)]
enum NameField {
    Cn,
    Ou,
}

fn first_str(name: &X509Name<'_>, field: NameField) -> Option<String> {
    let mut iter: Box<dyn Iterator<Item = _>> = match field {
        NameField::Cn => Box::new(name.iter_common_name()),
        NameField::Ou => Box::new(name.iter_organizational_unit()),
    };
    iter.find_map(|attr| attr.as_str().ok().map(str::to_owned))
}

fn subject_alt_names(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    (dns, ips)
}

/// The Subject Key Identifier of a certificate, if present and parseable.
pub(crate) fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

fn authority_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

impl fmt::Display for CertIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            IdentityKind::Agency {
                government_oid,
                unit,
            } => {
                write!(f, "agency {government_oid}")?;
                if let Some(unit) = unit {
                    write!(f, " unit {unit:?}")?;
                }
            }
            // The last-4 is personal data: Display (used in logs) leaves it out.
            IdentityKind::Citizen { name, .. } => write!(f, "citizen {name:?}")?,
            IdentityKind::Server {
                government_oid,
                dns_names,
                ..
            } => {
                write!(f, "server {}", dns_names.join(","))?;
                if let Some(oid) = government_oid {
                    write!(f, " of {oid}")?;
                }
            }
        }
        write!(f, " (serial {} from {})", self.serial_hex, self.authority)
    }
}
