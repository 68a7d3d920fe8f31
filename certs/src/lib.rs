//! tongdao-pki: a development PKI in the shape of Taiwan's GPKI, and the code that reads
//! identities (agency, citizen, server) out of GPKI certificates' Subject Directory Attributes.
//!
//! * [`Profile`]: the OIDs and CA permissions, configuration loaded from TOML.
//! * [`TrustStore`]: binds profile authorities to CA certificates by key identifier and
//!   [identifies](TrustStore::identify) verified leaves.
//! * [`DevPki`]: issues GRCA/GCA/MOICA-like CAs, leaves and CRLs; stores them in a directory.
//! * [`CrlIndex`]: explains why a serial is refused (revoked with a reason, or suspended).

pub mod crl;
pub mod demo;
mod der;
pub mod identity;
pub mod issue;
pub mod profile;
pub mod sda;
pub mod store;

pub use crl::{
    CrlError, CrlIndex, RevocationReason, RevocationStatus, normalize_serial, serial_hex,
};
pub use identity::{
    BoundCa, CertIdentity, IdentityError, IdentityKind, IssuerRef, TrustError, TrustStore,
};
pub use issue::{
    AgencyRequest, CertificateAuthority, CitizenRequest, DevPki, DevPkiBuilder, GCA, GRCA,
    IssuedCert, LeafSpec, MOICA, PkiError, RawRequest, Revocation, ServerRequest, Validity,
};
pub use profile::{EMBEDDED_PROFILE, Oid, PrincipalKind, Profile, ProfileError};
pub use store::{PROFILE_FILE, STATE_FILE};
