//! A development PKI in the shape of Taiwan's GPKI: a GRCA-like root, a GCA-like CA for
//! agencies and servers and a MOICA-like CA for citizens, issuing leaves whose identity lives
//! in Subject Directory Attributes exactly where [`crate::TrustStore::identify`] reads it.
//!
//! Keys are ECDSA P-256 because they are generated in milliseconds; the real GRCA G3 and its
//! CAs use RSA-4096. Nothing here is meant for production: CA keys are written to disk.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, RevokedCertParams, SanType,
    SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::prelude::FromDer;

use crate::crl::{RevocationReason, RevocationStatus, normalize_serial, serial_hex, unhex};
use crate::der;
use crate::identity::{TrustError, TrustStore, subject_key_id};
use crate::profile::{Oid, PrincipalKind, Profile, ProfileError, SubjectClass};
use crate::sda::{self, AttributeValue, SDA_EXTENSION_ARCS, SdaAttribute};

/// Profile authority name of the root.
pub const GRCA: &str = "GRCA";
/// Profile authority name of the agency/server CA.
pub const GCA: &str = "GCA";
/// Profile authority name of the citizen CA.
pub const MOICA: &str = "MOICA";

/// C= of every GPKI CA DN.
const COUNTRY: &str = "TW";
/// O= of every GPKI CA DN (the Executive Yuan).
const ORGANIZATION: &str = "行政院";
/// Serials start here so they read as four hex digits in demos.
const FIRST_SERIAL: u64 = 0x1000;
/// How long a freshly signed CRL claims to be current.
const CRL_LIFETIME: Duration = Duration::days(7);
/// CRL signing needs CrlSign on the CA (rcgen refuses otherwise; webpki checks it too).
const CA_KEY_USAGES: [KeyUsagePurpose; 3] = [
    KeyUsagePurpose::KeyCertSign,
    KeyUsagePurpose::CrlSign,
    KeyUsagePurpose::DigitalSignature,
];
/// id-ce-certificatePolicies.
const CERTIFICATE_POLICIES_ARCS: [u64; 4] = [2, 5, 29, 32];

/// Everything that can go wrong issuing, revoking, storing or loading.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused to build or sign something.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// The profile is invalid or lacks an authority the dev PKI needs.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The profile lacks an authority the dev PKI creates (GRCA, GCA, MOICA).
    #[error("the profile has no authority named {0:?}")]
    MissingAuthority(String),
    /// No authority in the profile may issue this kind.
    #[error("no authority in the profile may issue {0} certificates")]
    NoAuthorityFor(PrincipalKind),
    /// A request field is invalid (bad name, last-4, empty SAN list...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A certificate with this path already exists.
    #[error("{0} already exists")]
    Duplicate(String),
    /// No certificate with this serial (or name) was issued by this PKI.
    #[error("no certificate {0} in this PKI")]
    UnknownCertificate(String),
    /// The certificate is already permanently revoked.
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    /// Only suspended certificates can be resumed.
    #[error("certificate {0} is not suspended")]
    NotSuspended(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PKI directory's state or files are inconsistent.
    #[error("invalid PKI state: {0}")]
    State(String),
    /// Binding CA certificates into a trust store failed.
    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// A validity window; tests use [`Validity::expired`] and [`Validity::not_yet_valid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Start.
    pub not_before: OffsetDateTime,
    /// End.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From one hour ago (tolerates clock skew between machines) for `days` days.
    pub fn days(days: i64) -> Validity {
        let now = now();
        Validity {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(days),
        }
    }

    /// Expired yesterday (valid for the 30 days before).
    pub fn expired() -> Validity {
        let now = now();
        Validity {
            not_before: now - Duration::days(31),
            not_after: now - Duration::days(1),
        }
    }

    /// Valid from tomorrow, for 30 days.
    pub fn not_yet_valid() -> Validity {
        let now = now();
        Validity {
            not_before: now + Duration::days(1),
            not_after: now + Duration::days(31),
        }
    }
}

impl Default for Validity {
    /// One year.
    fn default() -> Self {
        Validity::days(365)
    }
}

/// Current time truncated to seconds: certificates and `pki.toml` cannot hold more.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// An agency (機關) or unit (單位) client certificate, issued by GCA.
#[derive(Debug, Clone)]
pub struct AgencyRequest {
    /// The agency's name: subject O, and CN unless a unit is given.
    pub agency_name: String,
    /// The agency's government OID (SDA attribute 2.16.886.1.100.2.102).
    pub government_oid: Oid,
    /// A unit inside the agency: makes the subject class "unit", subject OU and CN.
    pub unit: Option<String>,
    /// Validity window.
    pub validity: Validity,
}

impl AgencyRequest {
    /// An agency certificate valid for a year.
    pub fn new(agency_name: impl Into<String>, government_oid: Oid) -> Self {
        AgencyRequest {
            agency_name: agency_name.into(),
            government_oid,
            unit: None,
            validity: Validity::default(),
        }
    }

    /// Makes it a unit certificate.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Sets the validity window.
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }
}

/// A citizen (自然人) client certificate, issued by MOICA.
#[derive(Debug, Clone)]
pub struct CitizenRequest {
    /// The person's name (subject CN).
    pub name: String,
    /// Last four digits of the national ID (SDA attribute 2.16.886.1.100.2.51).
    pub national_id_last4: String,
    /// Validity window.
    pub validity: Validity,
}

impl CitizenRequest {
    /// A citizen certificate valid for a year.
    pub fn new(name: impl Into<String>, national_id_last4: impl Into<String>) -> Self {
        CitizenRequest {
            name: name.into(),
            national_id_last4: national_id_last4.into(),
            validity: Validity::default(),
        }
    }

    /// Sets the validity window.
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }
}

/// A server certificate (serverAuth + clientAuth), issued by GCA.
#[derive(Debug, Clone)]
pub struct ServerRequest {
    /// Subject CN; defaults to the first DNS name.
    pub common_name: Option<String>,
    /// DNS names for the Subject Alternative Name extension.
    pub dns_names: Vec<String>,
    /// IP addresses for the Subject Alternative Name extension.
    pub ip_addresses: Vec<IpAddr>,
    /// The operating organisation's government OID, if any.
    pub government_oid: Option<Oid>,
    /// Validity window.
    pub validity: Validity,
}

impl ServerRequest {
    /// A server certificate for these DNS names, valid for a year.
    pub fn new<S: Into<String>>(dns_names: impl IntoIterator<Item = S>) -> Self {
        ServerRequest {
            common_name: None,
            dns_names: dns_names.into_iter().map(Into::into).collect(),
            ip_addresses: Vec::new(),
            government_oid: None,
            validity: Validity::default(),
        }
    }

    /// Adds an IP address SAN.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip_addresses.push(ip);
        self
    }

    /// Sets the government OID.
    pub fn government_oid(mut self, oid: Oid) -> Self {
        self.government_oid = Some(oid);
        self
    }

    /// Sets the validity window.
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }
}

/// A leaf with hand-supplied Subject Directory Attributes, for testing how identity
/// extraction handles missing, malformed or unexpected attributes.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Subject CN.
    pub common_name: String,
    /// Subject OU, if any.
    pub organizational_unit: Option<String>,
    /// The DER value of extension 2.5.29.9 (see [`crate::sda::encode`]); `None` omits it.
    pub sda_der: Option<Vec<u8>>,
    /// Server EKUs and a DNS SAN of `common_name` instead of clientAuth only.
    pub server: bool,
    /// Validity window.
    pub validity: Validity,
}

/// What to issue.
#[derive(Debug, Clone)]
pub enum LeafSpec {
    /// An agency or unit client certificate.
    Agency(AgencyRequest),
    /// A citizen client certificate.
    Citizen(CitizenRequest),
    /// A server certificate.
    Server(ServerRequest),
    /// A hand-built test certificate.
    Raw(RawRequest),
}

impl From<AgencyRequest> for LeafSpec {
    fn from(request: AgencyRequest) -> Self {
        LeafSpec::Agency(request)
    }
}

impl From<CitizenRequest> for LeafSpec {
    fn from(request: CitizenRequest) -> Self {
        LeafSpec::Citizen(request)
    }
}

impl From<ServerRequest> for LeafSpec {
    fn from(request: ServerRequest) -> Self {
        LeafSpec::Server(request)
    }
}

impl From<RawRequest> for LeafSpec {
    fn from(request: RawRequest) -> Self {
        LeafSpec::Raw(request)
    }
}

impl LeafSpec {
    /// The principal kind; `None` for raw test certificates.
    pub fn kind(&self) -> Option<PrincipalKind> {
        match self {
            LeafSpec::Agency(_) => Some(PrincipalKind::Agency),
            LeafSpec::Citizen(_) => Some(PrincipalKind::Citizen),
            LeafSpec::Server(_) => Some(PrincipalKind::Server),
            LeafSpec::Raw(_) => None,
        }
    }

    /// The directory of the PKI layout its files go to.
    pub fn directory(&self) -> &'static str {
        match self {
            LeafSpec::Agency(_) => "agencies",
            LeafSpec::Citizen(_) => "citizens",
            LeafSpec::Server(_) => "adapters",
            LeafSpec::Raw(_) => "other",
        }
    }

    fn validity(&self) -> Validity {
        match self {
            LeafSpec::Agency(r) => r.validity,
            LeafSpec::Citizen(r) => r.validity,
            LeafSpec::Server(r) => r.validity,
            LeafSpec::Raw(r) => r.validity,
        }
    }
}

/// An issued leaf certificate with its key.
#[derive(Clone)]
pub struct IssuedCert {
    /// Short name (`taipei-tax`, `broker`, ...).
    pub name: String,
    /// Path stem relative to the PKI directory (`agencies/taipei-tax`); files add `.crt`/`.key`.
    pub path: String,
    /// Principal kind; `None` for raw test certificates.
    pub kind: Option<PrincipalKind>,
    /// Issuing authority (`GCA`, `MOICA`).
    pub authority: String,
    /// Serial, lowercase hex.
    pub serial_hex: String,
    /// Subject CN.
    pub subject_cn: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The leaf certificate.
    pub cert_der: CertificateDer<'static>,
    /// The leaf certificate, PEM.
    pub cert_pem: String,
    /// Leaf + issuing CA, PEM: what a TLS peer presents.
    pub chain_pem: String,
    pub(crate) key_pem: String,
}

impl IssuedCert {
    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl fmt::Debug for IssuedCert {
    /// Omits the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("authority", &self.authority)
            .field("serial_hex", &self.serial_hex)
            .field("subject_cn", &self.subject_cn)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// A revocation-list entry held by a CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// Revoked (with reason) or suspended.
    pub status: RevocationStatus,
    /// When the CA processed it.
    pub at: OffsetDateTime,
}

/// One CA of the dev PKI: certificate, signing key, and revocation state.
#[derive(Debug)]
pub struct CertificateAuthority {
    authority: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    key_id: Vec<u8>,
    serial_hex: String,
    issued: BTreeSet<String>,
    revocations: BTreeMap<String, Revocation>,
    crl_number: u64,
}

impl CertificateAuthority {
    /// Rebuilds a CA from its certificate and key. The issuer DN and key identifier are taken
    /// from the certificate itself so leaves and CRLs name it byte-for-byte.
    pub(crate) fn from_parts(
        authority: &str,
        cert_der: CertificateDer<'static>,
        key: KeyPair,
    ) -> Result<CertificateAuthority, PkiError> {
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|e| PkiError::State(format!("{authority} certificate: {e}")))?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(PkiError::State(format!(
                "{authority} key does not match its certificate"
            )));
        }
        let key_id = subject_key_id(&cert)
            .ok_or_else(|| PkiError::State(format!("{authority} certificate has no SKI")))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn_from_name(cert.subject())?;
        params.key_identifier_method = KeyIdMethod::PreSpecified(key_id.clone());
        params.key_usages = CA_KEY_USAGES.to_vec();
        let serial_hex = serial_hex(cert.raw_serial());
        Ok(CertificateAuthority {
            authority: authority.to_owned(),
            issuer: Issuer::new(params, key),
            key_id,
            serial_hex,
            cert_der,
            issued: BTreeSet::new(),
            revocations: BTreeMap::new(),
            crl_number: 1,
        })
    }

    /// The profile authority name.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The CA certificate.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }

    /// The CA's private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// The CA's Subject Key Identifier.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The CA certificate's serial, lowercase hex.
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }

    /// Serials this CA has issued.
    pub fn issued(&self) -> impl Iterator<Item = &str> {
        self.issued.iter().map(String::as_str)
    }

    /// The current CRL number (bumped on every revocation change).
    pub fn crl_number(&self) -> u64 {
        self.crl_number
    }

    /// Every revocation-list entry by serial.
    pub fn revocations(&self) -> &BTreeMap<String, Revocation> {
        &self.revocations
    }

    /// The revocation status of a serial this CA issued.
    pub fn status(&self, serial: &str) -> Option<RevocationStatus> {
        let serial = normalize_serial(serial)?;
        self.revocations.get(&serial).map(|r| r.status)
    }

    /// Permanently revokes a serial this CA issued. A suspended certificate may be revoked;
    /// a revoked one stays as it is (error).
    pub fn revoke(&mut self, serial: &str, reason: RevocationReason) -> Result<(), PkiError> {
        let serial = self.own_serial(serial)?;
        if let Some(Revocation {
            status: RevocationStatus::Revoked(_),
            ..
        }) = self.revocations.get(&serial)
        {
            return Err(PkiError::AlreadyRevoked(serial));
        }
        self.set(serial, RevocationStatus::Revoked(reason));
        Ok(())
    }

    /// Suspends (停用) a serial: listed with reason `certificateHold` until resumed.
    /// Suspending a suspended certificate changes nothing.
    pub fn suspend(&mut self, serial: &str) -> Result<(), PkiError> {
        let serial = self.own_serial(serial)?;
        match self.revocations.get(&serial).map(|r| r.status) {
            Some(RevocationStatus::Suspended) => Ok(()),
            Some(RevocationStatus::Revoked(_)) => Err(PkiError::AlreadyRevoked(serial)),
            None => {
                self.set(serial, RevocationStatus::Suspended);
                Ok(())
            }
        }
    }

    /// Resumes (復用) a suspended serial: it leaves the CRL.
    pub fn resume(&mut self, serial: &str) -> Result<(), PkiError> {
        let serial = self.own_serial(serial)?;
        match self.revocations.get(&serial).map(|r| r.status) {
            Some(RevocationStatus::Suspended) => {
                self.revocations.remove(&serial);
                self.crl_number += 1;
                Ok(())
            }
            _ => Err(PkiError::NotSuspended(serial)),
        }
    }

    /// A freshly signed CRL: this update now, next update in 7 days.
    pub fn crl_der(&self) -> Result<CertificateRevocationListDer<'static>, PkiError> {
        let now = now();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + CRL_LIFETIME,
            crl_number: SerialNumber::from_slice(&minimal_be(self.crl_number)),
            issuing_distribution_point: None,
            revoked_certs: self
                .revocations
                .iter()
                .map(|(serial, r)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&unhex(serial).unwrap_or_default()),
                    revocation_time: r.at,
                    reason_code: Some(match r.status {
                        RevocationStatus::Suspended => rcgen::RevocationReason::CertificateHold,
                        RevocationStatus::Revoked(reason) => reason.to_rcgen(),
                    }),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::PreSpecified(self.key_id.clone()),
        };
        Ok(params.signed_by(&self.issuer)?.der().clone())
    }

    /// [`CertificateAuthority::crl_der`] as PEM (`X509 CRL`).
    pub fn crl_pem(&self) -> Result<String, PkiError> {
        Ok(pem("X509 CRL", &self.crl_der()?))
    }

    fn own_serial(&self, serial: &str) -> Result<String, PkiError> {
        normalize_serial(serial)
            .filter(|s| self.issued.contains(s))
            .ok_or_else(|| {
                PkiError::UnknownCertificate(format!("{serial} from {}", self.authority))
            })
    }

    fn set(&mut self, serial: String, status: RevocationStatus) {
        self.revocations
            .insert(serial, Revocation { status, at: now() });
        self.crl_number += 1;
    }

    pub(crate) fn restore(
        &mut self,
        issued: impl IntoIterator<Item = String>,
        revocations: BTreeMap<String, Revocation>,
        crl_number: u64,
    ) {
        self.issued.extend(issued);
        self.revocations = revocations;
        self.crl_number = crl_number;
    }
}

/// Configures a [`DevPki`] before its keys are generated.
#[derive(Debug, Clone)]
pub struct DevPkiBuilder {
    profile: Profile,
    cn_prefix: String,
    ca_validity: Validity,
}

impl DevPkiBuilder {
    /// CN prefix of the CAs (`"<prefix> GRCA"`); default `Tongdao Dev`.
    pub fn cn_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.cn_prefix = prefix.into();
        self
    }

    /// Validity of the three CAs; default 10 years.
    pub fn ca_validity(mut self, validity: Validity) -> Self {
        self.ca_validity = validity;
        self
    }

    /// Generates the root and both CAs.
    pub fn build(self) -> Result<DevPki, PkiError> {
        self.profile.validate()?;
        let mut next_serial = FIRST_SERIAL;
        let mut make = |name: &str, parent: Option<&CertificateAuthority>| {
            let serial = next_serial;
            next_serial += 1;
            make_ca(
                &self.profile,
                name,
                &self.cn_prefix,
                self.ca_validity,
                serial,
                parent,
            )
        };
        let mut grca = make(GRCA, None)?;
        let gca = make(GCA, Some(&grca))?;
        let moica = make(MOICA, Some(&grca))?;
        grca.issued.insert(gca.serial_hex.clone());
        grca.issued.insert(moica.serial_hex.clone());
        Ok(DevPki {
            profile: self.profile,
            cn_prefix: self.cn_prefix,
            next_serial,
            grca,
            gca,
            moica,
            leaves: Vec::new(),
        })
    }
}

fn make_ca(
    profile: &Profile,
    name: &str,
    cn_prefix: &str,
    validity: Validity,
    serial: u64,
    parent: Option<&CertificateAuthority>,
) -> Result<CertificateAuthority, PkiError> {
    let authority = profile
        .authority(name)
        .ok_or_else(|| PkiError::MissingAuthority(name.to_owned()))?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString(COUNTRY.try_into()?),
    );
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::OrganizationalUnitName, authority.ou.as_str());
    dn.push(DnType::CommonName, format!("{cn_prefix} {name}"));
    params.distinguished_name = dn;
    params.key_usages = CA_KEY_USAGES.to_vec();
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(SerialNumber::from_slice(&minimal_be(serial)));
    let cert = match parent {
        None => {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.self_signed(&key)?
        }
        Some(parent) => {
            // Issuing CAs sign leaves only, like GCA/MOICA under GRCA.
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.use_authority_key_identifier_extension = true;
            params.signed_by(&key, &parent.issuer)?
        }
    };
    CertificateAuthority::from_parts(name, cert.der().clone(), key)
}

/// The development PKI: GRCA-like root, GCA-like and MOICA-like CAs, issued leaves.
#[derive(Debug)]
pub struct DevPki {
    pub(crate) profile: Profile,
    pub(crate) cn_prefix: String,
    pub(crate) next_serial: u64,
    pub(crate) grca: CertificateAuthority,
    pub(crate) gca: CertificateAuthority,
    pub(crate) moica: CertificateAuthority,
    pub(crate) leaves: Vec<IssuedCert>,
}

impl DevPki {
    /// A builder for a new PKI with this profile.
    pub fn builder(profile: Profile) -> DevPkiBuilder {
        DevPkiBuilder {
            profile,
            cn_prefix: "Tongdao Dev".to_owned(),
            ca_validity: Validity::days(3650),
        }
    }

    /// A new PKI with default settings.
    pub fn new(profile: Profile) -> Result<DevPki, PkiError> {
        DevPki::builder(profile).build()
    }

    /// An unrelated PKI of the same shape ("Stranger Dev" CAs, same OUs), for testing that
    /// certificates from unknown CAs are refused.
    pub fn stranger(profile: Profile) -> Result<DevPki, PkiError> {
        DevPki::builder(profile).cn_prefix("Stranger Dev").build()
    }

    /// The profile this PKI issues by.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The root.
    pub fn grca(&self) -> &CertificateAuthority {
        &self.grca
    }

    /// The agency/server CA.
    pub fn gca(&self) -> &CertificateAuthority {
        &self.gca
    }

    /// The citizen CA.
    pub fn moica(&self) -> &CertificateAuthority {
        &self.moica
    }

    /// The three CAs, root first.
    pub fn cas(&self) -> [&CertificateAuthority; 3] {
        [&self.grca, &self.gca, &self.moica]
    }

    /// A CA by authority name.
    pub fn ca(&self, authority: &str) -> Option<&CertificateAuthority> {
        self.cas().into_iter().find(|ca| ca.authority == authority)
    }

    /// A CA by authority name, mutable (to revoke directly on it).
    pub fn ca_mut(&mut self, authority: &str) -> Option<&mut CertificateAuthority> {
        [&mut self.grca, &mut self.gca, &mut self.moica]
            .into_iter()
            .find(|ca| ca.authority == authority)
    }

    /// Every issued leaf, in issue order.
    pub fn leaves(&self) -> &[IssuedCert] {
        &self.leaves
    }

    /// A leaf by path stem (`citizens/valid`), serial, or unique short name.
    pub fn find(&self, query: &str) -> Option<&IssuedCert> {
        if let Some(leaf) = self.leaves.iter().find(|l| l.path == query) {
            return Some(leaf);
        }
        let mut by_name = self.leaves.iter().filter(|l| l.name == query);
        if let (Some(leaf), None) = (by_name.next(), by_name.next()) {
            return Some(leaf);
        }
        let serial = normalize_serial(query)?;
        self.leaves.iter().find(|l| l.serial_hex == serial)
    }

    /// A trust store binding GRCA, GCA and MOICA of this PKI.
    pub fn trust_store(&self) -> Result<TrustStore, PkiError> {
        let mut store = TrustStore::new(self.profile.clone());
        for ca in self.cas() {
            store.bind_der(&ca.authority, &ca.cert_der)?;
        }
        Ok(store)
    }

    /// Issues a leaf under `<directory>/<name>` from the first CA the profile lets issue its
    /// kind. Raw test certificates need [`DevPki::issue_by`].
    pub fn issue(
        &mut self,
        name: &str,
        spec: impl Into<LeafSpec>,
    ) -> Result<&IssuedCert, PkiError> {
        let spec = spec.into();
        let kind = spec
            .kind()
            .ok_or_else(|| PkiError::InvalidRequest("raw certificates need issue_by".into()))?;
        let authority = [GCA, MOICA]
            .into_iter()
            .find(|a| self.profile.authority(a).is_some_and(|a| a.may_issue(kind)))
            .ok_or(PkiError::NoAuthorityFor(kind))?;
        self.issue_by(authority, name, spec)
    }

    /// Issues a leaf from a named CA, even one the profile does not allow for that kind (to
    /// test that identification refuses it).
    pub fn issue_by(
        &mut self,
        authority: &str,
        name: &str,
        spec: impl Into<LeafSpec>,
    ) -> Result<&IssuedCert, PkiError> {
        let spec = spec.into();
        check_name(name)?;
        let path = format!("{}/{name}", spec.directory());
        self.issue_at(authority, name, path, &spec)
    }

    /// Issues the broker's server certificate, stored as `broker.crt`/`broker.key`.
    pub fn issue_broker(&mut self, request: ServerRequest) -> Result<&IssuedCert, PkiError> {
        let authority = if self
            .profile
            .authority(GCA)
            .is_some_and(|a| a.may_issue(PrincipalKind::Server))
        {
            GCA
        } else {
            return Err(PkiError::NoAuthorityFor(PrincipalKind::Server));
        };
        self.issue_at(
            authority,
            "broker",
            "broker".into(),
            &LeafSpec::Server(request),
        )
    }

    /// Revokes a leaf (by serial, path or name) on its issuing CA.
    pub fn revoke(&mut self, query: &str, reason: RevocationReason) -> Result<(), PkiError> {
        let (authority, serial) = self.locate(query)?;
        self.ca_mut_or_err(&authority)?.revoke(&serial, reason)
    }

    /// Suspends (停用) a leaf on its issuing CA.
    pub fn suspend(&mut self, query: &str) -> Result<(), PkiError> {
        let (authority, serial) = self.locate(query)?;
        self.ca_mut_or_err(&authority)?.suspend(&serial)
    }

    /// Resumes (復用) a suspended leaf.
    pub fn resume(&mut self, query: &str) -> Result<(), PkiError> {
        let (authority, serial) = self.locate(query)?;
        self.ca_mut_or_err(&authority)?.resume(&serial)
    }

    /// The revocation status of a leaf; `None` when it is good.
    pub fn status(&self, query: &str) -> Option<RevocationStatus> {
        let leaf = self.find(query)?;
        self.ca(&leaf.authority)?.status(&leaf.serial_hex)
    }

    fn locate(&self, query: &str) -> Result<(String, String), PkiError> {
        self.find(query)
            .map(|l| (l.authority.clone(), l.serial_hex.clone()))
            .ok_or_else(|| PkiError::UnknownCertificate(query.to_owned()))
    }

    fn ca_mut_or_err(&mut self, authority: &str) -> Result<&mut CertificateAuthority, PkiError> {
        self.ca_mut(authority)
            .ok_or_else(|| PkiError::MissingAuthority(authority.to_owned()))
    }

    fn take_serial(&mut self) -> u64 {
        let serial = self.next_serial;
        self.next_serial += 1;
        serial
    }

    fn issue_at(
        &mut self,
        authority: &str,
        name: &str,
        path: String,
        spec: &LeafSpec,
    ) -> Result<&IssuedCert, PkiError> {
        if self.leaves.iter().any(|l| l.path == path) {
            return Err(PkiError::Duplicate(path));
        }
        if self.ca(authority).is_none() {
            return Err(PkiError::MissingAuthority(authority.to_owned()));
        }
        let serial = self.take_serial();
        let (params, subject_cn) = leaf_params(&self.profile, spec, serial)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let ca = self.ca_mut_or_err(authority)?;
        let cert = params.signed_by(&key, &ca.issuer)?;
        let serial_hex = serial_hex(&minimal_be(serial));
        ca.issued.insert(serial_hex.clone());
        let cert_pem = cert.pem();
        let chain_pem = format!("{cert_pem}{}", ca.cert_pem());
        let validity = spec.validity();
        self.leaves.push(IssuedCert {
            name: name.to_owned(),
            path,
            kind: spec.kind(),
            authority: authority.to_owned(),
            serial_hex,
            subject_cn,
            not_before: validity.not_before,
            not_after: validity.not_after,
            cert_der: cert.der().clone(),
            cert_pem,
            chain_pem,
            key_pem: key.serialize_pem(),
        });
        self.leaves
            .last()
            .ok_or_else(|| PkiError::State("leaf vanished".into()))
    }
}

/// Leaf parameters for a request: DN, SANs, EKUs, SDA and policy extensions.
fn leaf_params(
    profile: &Profile,
    spec: &LeafSpec,
    serial: u64,
) -> Result<(CertificateParams, String), PkiError> {
    let mut params = CertificateParams::default();
    let validity = spec.validity();
    if validity.not_after <= validity.not_before {
        return Err(PkiError::InvalidRequest(
            "validity ends before it starts".into(),
        ));
    }
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(SerialNumber::from_slice(&minimal_be(serial)));
    // ExplicitNoCa makes rcgen write a Subject Key Identifier (and cA=false); the AKI lets
    // CRL and chain code find the issuer by key, not DN.
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];

    let a = &profile.attributes;
    let class = |c| AttributeValue::Oid(profile.subject_class_oid(c).clone());
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString(COUNTRY.try_into()?),
    );
    let (cn, sda) = match spec {
        LeafSpec::Agency(r) => {
            non_empty("agency name", &r.agency_name)?;
            dn.push(DnType::OrganizationName, r.agency_name.as_str());
            let cn = match &r.unit {
                Some(unit) => {
                    non_empty("unit", unit)?;
                    dn.push(DnType::OrganizationalUnitName, unit.as_str());
                    unit.clone()
                }
                None => r.agency_name.clone(),
            };
            let class = class(if r.unit.is_some() {
                SubjectClass::Unit
            } else {
                SubjectClass::Agency
            });
            let attrs = vec![
                SdaAttribute::single(a.subject_class.clone(), class),
                SdaAttribute::single(
                    a.government_oid.clone(),
                    AttributeValue::Oid(r.government_oid.clone()),
                ),
            ];
            (cn, Some(sda::encode(&attrs).map_err(|e| sda_err(&e))?))
        }
        LeafSpec::Citizen(r) => {
            non_empty("name", &r.name)?;
            let last4 = &r.national_id_last4;
            if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PkiError::InvalidRequest(
                    "national_id_last4 must be four digits".into(),
                ));
            }
            let attrs = vec![
                SdaAttribute::single(a.subject_class.clone(), class(SubjectClass::Citizen)),
                SdaAttribute::single(
                    a.national_id_last4.clone(),
                    AttributeValue::Printable(last4.clone()),
                ),
            ];
            (
                r.name.clone(),
                Some(sda::encode(&attrs).map_err(|e| sda_err(&e))?),
            )
        }
        LeafSpec::Server(r) => {
            if r.dns_names.is_empty() && r.ip_addresses.is_empty() {
                return Err(PkiError::InvalidRequest(
                    "a server needs a DNS name or IP".into(),
                ));
            }
            for dns in &r.dns_names {
                params
                    .subject_alt_names
                    .push(SanType::DnsName(dns.as_str().try_into()?));
            }
            for ip in &r.ip_addresses {
                params.subject_alt_names.push(SanType::IpAddress(*ip));
            }
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let mut attrs = vec![SdaAttribute::single(
                a.subject_class.clone(),
                class(SubjectClass::Server),
            )];
            if let Some(oid) = &r.government_oid {
                attrs.push(SdaAttribute::single(
                    a.government_oid.clone(),
                    AttributeValue::Oid(oid.clone()),
                ));
            }
            let cn = r
                .common_name
                .clone()
                .or_else(|| r.dns_names.first().cloned())
                .or_else(|| r.ip_addresses.first().map(ToString::to_string))
                .unwrap_or_default();
            (cn, Some(sda::encode(&attrs).map_err(|e| sda_err(&e))?))
        }
        LeafSpec::Raw(r) => {
            if let Some(ou) = &r.organizational_unit {
                dn.push(DnType::OrganizationalUnitName, ou.as_str());
            }
            if r.server {
                params
                    .subject_alt_names
                    .push(SanType::DnsName(r.common_name.as_str().try_into()?));
                params.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
            }
            (r.common_name.clone(), r.sda_der.clone())
        }
    };
    dn.push(DnType::CommonName, cn.as_str());
    params.distinguished_name = dn;
    if let Some(sda) = sda {
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(&SDA_EXTENSION_ARCS, sda));
    }
    if let Some(policy) = &profile.certificate_policy {
        // certificatePolicies ::= SEQUENCE OF PolicyInformation { policyIdentifier }
        let policies = der::sequence(&[der::sequence(&[der::oid(policy)])]);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &CERTIFICATE_POLICIES_ARCS,
                policies,
            ));
    }
    Ok((params, cn))
}

fn sda_err(e: &sda::SdaError) -> PkiError {
    PkiError::InvalidRequest(e.to_string())
}

fn non_empty(what: &str, value: &str) -> Result<(), PkiError> {
    if value.trim().is_empty() {
        return Err(PkiError::InvalidRequest(format!("{what} is empty")));
    }
    Ok(())
}

/// Names become file names: keep them to `[a-z0-9-]`, so no path can escape the PKI directory.
fn check_name(name: &str) -> Result<(), PkiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PkiError::InvalidRequest(format!(
            "name {name:?} must be 1-64 characters of a-z, 0-9 and '-'"
        )))
    }
}

/// Big-endian bytes without leading zeros (at least one byte).
fn minimal_be(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    bytes.get(first..).unwrap_or(&[0]).to_vec()
}

/// PEM-encodes DER with a label (64-column base64, LF line ends, as rcgen writes it).
///
/// Hand-written because a loaded CA exists only as DER and no PEM encoder is among our
/// dependencies; a test checks it against rcgen's output.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        out.extend(line.iter().map(|b| char::from(*b)));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Rebuilds an rcgen DN from a parsed one, keeping each value's string type so that leaves
/// and CRLs carry the CA's subject byte-for-byte (chain building compares bytes).
fn dn_from_name(name: &x509_parser::x509::X509Name<'_>) -> Result<DistinguishedName, PkiError> {
    let bad = |m: &str| PkiError::State(format!("CA subject: {m}"));
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(bad("multi-valued or empty RDN"));
        };
        let arcs: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| bad("attribute type arc too large"))?
            .collect();
        let ty = match arcs.as_slice() {
            [2, 5, 4, 6] => DnType::CountryName,
            [2, 5, 4, 7] => DnType::LocalityName,
            [2, 5, 4, 8] => DnType::StateOrProvinceName,
            [2, 5, 4, 10] => DnType::OrganizationName,
            [2, 5, 4, 11] => DnType::OrganizationalUnitName,
            [2, 5, 4, 3] => DnType::CommonName,
            _ => DnType::CustomDnType(arcs),
        };
        let value = attr.attr_value();
        let text = std::str::from_utf8(value.data).map_err(|_| bad("value is not UTF-8"))?;
        let value = match value.tag() {
            Tag::PrintableString => DnValue::PrintableString(text.try_into()?),
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            Tag::Ia5String => DnValue::Ia5String(text.try_into()?),
            _ => return Err(bad("unsupported string type")),
        };
        dn.push(ty, value);
    }
    Ok(dn)
}

/// Parses the first certificate of a PEM text.
pub(crate) fn first_cert(pem: &str) -> Option<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).next()?.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_encoding_matches_rcgen() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let cert = CertificateParams::new(vec!["a.test".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        assert_eq!(pem("CERTIFICATE", cert.der()), cert.pem());
        for len in 1..7 {
            let der = vec![0xab; len];
            let text = pem("CERTIFICATE", &der);
            let back = CertificateDer::from_pem_slice(text.as_bytes()).expect("decodes");
            assert_eq!(back.as_ref(), der.as_slice());
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("taipei-tax").is_ok());
        for bad in ["", "../x", "A", "a/b", "-x", "a.b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(minimal_be(0x1000), vec![0x10, 0x00]);
        assert_eq!(minimal_be(0), vec![0]);
    }
}
