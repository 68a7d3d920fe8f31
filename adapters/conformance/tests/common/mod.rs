//! What the conformance tests share: a development PKI on disk and a target description.

#![allow(dead_code, unreachable_pub)]

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
};

use tongdao_conformance::{Check, Outcome, Report, Target, TargetBuilder};
use tongdao_pki::{AgencyRequest, DevPki, LeafSpec, Oid, Profile, ServerRequest};

/// DNS name in the broker's certificate; the adapter accepts only this peer.
pub const BROKER_NAME: &str = "broker.tongdao.test";
/// DNS name in the adapter's certificate.
pub const ADAPTER_NAME: &str = "household.adapter.tongdao.test";
/// The service under test.
pub const SERVICE: &str = "tongdao.household.v1.HouseholdRegistry";

/// A PKI written to a temporary directory: GRCA root, GCA issuing the broker's and the
/// adapter's server certificates and an agency certificate (the stranger).
#[derive(Debug)]
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn create() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("tongdao-conformance-")
            .tempdir()
            .expect("temp dir");
        let oid = |text: &str| Oid::parse(text).expect("OID");
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let mut pki = DevPki::new(Profile::embedded()).expect("dev PKI");
        pki.issue_broker(
            ServerRequest::new([BROKER_NAME])
                .ip(loopback)
                .government_oid(oid("2.16.886.101.20003.20069")),
        )
        .expect("broker certificate");
        pki.issue(
            "household",
            LeafSpec::Server(
                ServerRequest::new([ADAPTER_NAME])
                    .ip(loopback)
                    .government_oid(oid("2.16.886.101.20003.20001.20010")),
            ),
        )
        .expect("adapter certificate");
        // Valid under the same GCA, but not the broker: an agency calling the adapter directly.
        pki.issue(
            "taipei-tax",
            LeafSpec::Agency(AgencyRequest::new(
                "財政部臺北國稅局",
                oid("2.16.886.101.20003.20004.20100"),
            )),
        )
        .expect("agency certificate");
        pki.write_to(dir.path()).expect("write PKI");
        Pki { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A target for the adapter at `addr`, with the broker, stranger and CA of this PKI.
    pub fn target(&self, addr: SocketAddr) -> TargetBuilder {
        Target::builder(addr.to_string(), SERVICE)
            .server_name(ADAPTER_NAME)
            .broker(self.path("broker.crt"), self.path("broker.key"))
            .stranger(
                self.path("agencies/taipei-tax.crt"),
                self.path("agencies/taipei-tax.key"),
            )
            .ca(self.path("grca.crt"))
    }
}

/// The report, for assertion messages.
pub fn show(report: &Report) -> String {
    format!("{report}")
}

/// The checks with `id` and `outcome`.
pub fn with<'a>(report: &'a Report, id: &str, outcome: Outcome) -> Vec<&'a Check> {
    report
        .checks
        .iter()
        .filter(|c| c.id == id && c.outcome == outcome)
        .collect()
}
