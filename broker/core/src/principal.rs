//! Who is calling: read once per connection from the verified client certificate.

use std::fmt;

/// The party behind a connection, as its verified certificate and the agency registry show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A government agency (GCA-style certificate whose government OID is in the registry).
    Agency(Agency),
    /// A natural person (MOICA-style certificate).
    Citizen(Citizen),
}

/// A registered agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agency {
    /// Agency code (機關代碼), e.g. `307000000D`.
    pub code: String,
    /// Registered name, e.g. 財政部.
    pub name: String,
    /// Government OID from the certificate, e.g. `2.16.886.101.20003.20004`.
    pub government_oid: String,
    /// Unit or subsystem named by the certificate, if any.
    pub unit: Option<String>,
}

/// A citizen: a MOICA certificate proves the name and the last 4 characters of the national ID,
/// never the full ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    /// Name as in the certificate.
    pub name: String,
    /// Last 4 characters of the national ID.
    pub national_id_last4: String,
}

impl Citizen {
    /// Whether this citizen may act for the person `national_id` names: themselves only, which is
    /// all a certificate holding the last 4 characters can show. The ID's checksum is the
    /// caller's to check first (`NationalId` only holds valid ones).
    pub fn is(&self, national_id: &crate::ids::NationalId) -> bool {
        national_id.last4() == self.national_id_last4
    }
}

/// Facts about the client certificate kept for logs and audit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateFacts {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Expiry, seconds since the Unix epoch.
    pub not_after_unix: i64,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Agency(agency) => write!(f, "agency {}", agency.code),
            // Only the last 4 characters: the full ID is personal data and never in logs.
            Principal::Citizen(citizen) => write!(f, "citizen ****{}", citizen.national_id_last4),
        }
    }
}
