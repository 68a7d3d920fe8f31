//! What the conformance tests share: a development PKI on disk and a target description.

#![allow(dead_code, unreachable_pub)]

use std::{net::SocketAddr, path::PathBuf};

use tongdao_conformance::{Check, Outcome, Report, TargetBuilder, dev::TestPki};

/// DNS name in the broker's certificate; the adapter accepts only this peer.
pub const BROKER_NAME: &str = tongdao_conformance::dev::BROKER_NAME;
/// DNS name in the adapter's certificate.
pub const ADAPTER_NAME: &str = "household.adapter.tongdao.test";
/// The service under test.
pub const SERVICE: &str = "tongdao.household.v1.HouseholdRegistry";

/// The kit's development test bed for the household adapter: broker, adapter and stranger
/// certificates under one development CA.
#[derive(Debug)]
pub struct Pki(TestPki);

impl Pki {
    pub fn create() -> Pki {
        Pki(TestPki::create("household").expect("development PKI"))
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.0.path(relative)
    }

    /// A target for the adapter at `addr`, with the broker, stranger and CA of this PKI.
    pub fn target(&self, addr: SocketAddr) -> TargetBuilder {
        self.0.target(addr, SERVICE)
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
