//! The standard demo identities, shared by `tongdao pki init`, the README and tests.
//!
//! All names are synthetic. Government OIDs are the ones registered in `policies/agencies.toml`
//! (real ministry arcs from taiwan.md §1 with synthetic sub-arcs), except `unregistered`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::crl::RevocationReason;
use crate::issue::{
    AgencyRequest, CitizenRequest, DevPki, LeafSpec, PkiError, ServerRequest, Validity,
};
use crate::profile::{Oid, Profile};

/// The broker's DNS name.
pub const BROKER_DNS: &str = "broker.tongdao.test";
/// The broker operator's government OID (國發會, National Development Council).
pub const BROKER_GOVERNMENT_OID: &str = "2.16.886.101.20003.20069";

/// A demo adapter: server certificate `adapters/<name>` for `<name>.adapter.tongdao.test`.
#[derive(Debug, Clone, Copy)]
pub struct DemoAdapter {
    /// Domain name and file name.
    pub name: &'static str,
    /// Government OID of the ministry whose records it serves.
    pub government_oid: &'static str,
}

impl DemoAdapter {
    /// Its DNS name.
    pub fn dns_name(&self) -> String {
        format!("{}.adapter.tongdao.test", self.name)
    }
}

/// The five adapters.
pub const DEMO_ADAPTERS: [DemoAdapter; 5] = [
    DemoAdapter {
        name: "household",
        government_oid: "2.16.886.101.20003.20001",
    }, // 內政部
    DemoAdapter {
        name: "land",
        government_oid: "2.16.886.101.20003.20001",
    }, // 內政部 (地政)
    DemoAdapter {
        name: "tax",
        government_oid: "2.16.886.101.20003.20004",
    }, // 財政部
    DemoAdapter {
        name: "health",
        government_oid: "2.16.886.101.20003.20065.20022",
    }, // 健保署
    DemoAdapter {
        name: "commerce",
        government_oid: "2.16.886.101.20003.20007",
    }, // 經濟部
];

/// A demo agency client certificate `agencies/<name>`.
#[derive(Debug, Clone, Copy)]
pub struct DemoAgency {
    /// File name.
    pub name: &'static str,
    /// Agency name (subject O; CN unless a unit is given).
    pub agency_name: &'static str,
    /// Unit name, making it a unit (單位) certificate.
    pub unit: Option<&'static str>,
    /// Government OID in the certificate.
    pub government_oid: &'static str,
    /// Whether the certificate is already expired.
    pub expired: bool,
    /// What it is for.
    pub note: &'static str,
}

/// The demo agencies.
pub const DEMO_AGENCIES: [DemoAgency; 5] = [
    DemoAgency {
        name: "taipei-tax",
        agency_name: "財政部臺北國稅局",
        unit: None,
        government_oid: "2.16.886.101.20003.20004.20100",
        expired: false,
        note: "tax office (臺北國稅局-like), under 財政部",
    },
    DemoAgency {
        name: "household",
        agency_name: "內政部",
        unit: Some("測試戶政司"),
        government_oid: "2.16.886.101.20003.20001.20010",
        expired: false,
        note: "household registration department (戶政司-like), a unit certificate under 內政部",
    },
    DemoAgency {
        name: "social-welfare",
        agency_name: "臺北市政府社會局",
        unit: None,
        government_oid: "2.16.886.101.20003.20301.20010",
        expired: false,
        note: "social welfare office of a city government",
    },
    DemoAgency {
        name: "unregistered",
        agency_name: "未登錄測試機關",
        unit: None,
        government_oid: "2.16.886.101.20003.29999.1",
        expired: false,
        note: "valid certificate whose OID is in no registry (unknown-agency tests)",
    },
    DemoAgency {
        name: "expired",
        agency_name: "財政部臺北國稅局",
        unit: None,
        government_oid: "2.16.886.101.20003.20004.20100",
        expired: true,
        note: "the tax office again, expired yesterday",
    },
];

/// What the demo does to a citizen certificate after issuing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoStatus {
    /// Left valid.
    Valid,
    /// Suspended (on hold in the MOICA CRL).
    Suspended,
    /// Revoked for key compromise.
    Revoked,
}

/// A demo citizen certificate `citizens/<name>`.
#[derive(Debug, Clone, Copy)]
pub struct DemoCitizen {
    /// File name.
    pub name: &'static str,
    /// The person's (synthetic) name.
    pub person: &'static str,
    /// A synthetic national ID with a valid check digit; only its last 4 are in the cert.
    pub national_id: &'static str,
    /// Status after the demo is built.
    pub status: DemoStatus,
}

impl DemoCitizen {
    /// The last four digits, as in the certificate.
    pub fn last4(&self) -> &'static str {
        self.national_id.get(6..).unwrap_or_default()
    }
}

/// The demo citizens.
pub const DEMO_CITIZENS: [DemoCitizen; 3] = [
    DemoCitizen {
        name: "valid",
        person: "王小明",
        national_id: "A123456789",
        status: DemoStatus::Valid,
    },
    DemoCitizen {
        name: "suspended",
        person: "李小華",
        national_id: "F223456786",
        status: DemoStatus::Suspended,
    },
    DemoCitizen {
        name: "revoked",
        person: "張大同",
        national_id: "B124680244",
        status: DemoStatus::Revoked,
    },
];

fn oid(text: &str) -> Result<Oid, PkiError> {
    Oid::parse(text).map_err(|e| PkiError::InvalidRequest(e.to_string()))
}

impl DevPki {
    /// A new PKI holding the standard demo set (see the README table): broker, five adapters,
    /// five agencies, three citizens (one suspended, one revoked).
    pub fn demo(profile: Profile) -> Result<DevPki, PkiError> {
        let mut pki = DevPki::new(profile)?;
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        pki.issue_broker(
            ServerRequest::new([BROKER_DNS, "localhost"])
                .ip(local)
                .government_oid(oid(BROKER_GOVERNMENT_OID)?),
        )?;
        for adapter in DEMO_ADAPTERS {
            let request = ServerRequest::new([adapter.dns_name(), "localhost".to_owned()])
                .ip(local)
                .government_oid(oid(adapter.government_oid)?);
            pki.issue(adapter.name, LeafSpec::Server(request))?;
        }
        for agency in DEMO_AGENCIES {
            let mut request = AgencyRequest::new(agency.agency_name, oid(agency.government_oid)?);
            if let Some(unit) = agency.unit {
                request = request.unit(unit);
            }
            if agency.expired {
                request = request.validity(Validity::expired());
            }
            pki.issue(agency.name, LeafSpec::Agency(request))?;
        }
        for citizen in DEMO_CITIZENS {
            let request = CitizenRequest::new(citizen.person, citizen.last4());
            let serial = pki
                .issue(citizen.name, LeafSpec::Citizen(request))?
                .serial_hex
                .clone();
            match citizen.status {
                DemoStatus::Valid => {}
                DemoStatus::Suspended => pki.suspend(&serial)?,
                DemoStatus::Revoked => pki.revoke(&serial, RevocationReason::KeyCompromise)?,
            }
        }
        Ok(pki)
    }

    /// [`DevPki::demo`] written to `dir`.
    pub fn init_demo(dir: &Path, profile: Profile) -> Result<DevPki, PkiError> {
        let pki = DevPki::demo(profile)?;
        pki.write_to(dir)?;
        Ok(pki)
    }
}
