//! A development PKI for running the kit against an adapter under test, for adapter authors'
//! own test suites: the broker's certificate (the only client the adapter must accept), the
//! adapter's server certificate, and a valid agency certificate under the same CA that the
//! adapter must refuse (the kit's "stranger"), written to a temporary directory in the layout
//! `tongdao pki` uses.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
};

use tongdao_config::{AdapterServerConfig, TlsFiles};
use tongdao_pki::{AgencyRequest, DevPki, LeafSpec, Oid, Profile, ServerRequest};

use crate::{Target, TargetBuilder};

/// DNS name in the development broker certificate.
pub const BROKER_NAME: &str = "broker.tongdao.test";

/// The certificates of one adapter's test bed; the directory is removed when dropped.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
    adapter: String,
}

impl TestPki {
    /// Issues, under a development GRCA → GCA chain, the broker's certificate (`broker.crt`),
    /// the adapter's (`adapters/<adapter>.crt`, DNS name `<adapter>.adapter.tongdao.test`) and an
    /// agency's (`agencies/stranger.crt`), for 127.0.0.1.
    pub fn create(adapter: &str) -> Result<TestPki, String> {
        let dir = tempfile::Builder::new()
            .prefix("tongdao-adapter-test-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let oid = |text: &str| Oid::parse(text).map_err(|e| e.to_string());
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let pki_error = |e: tongdao_pki::PkiError| e.to_string();
        let mut pki = DevPki::new(Profile::embedded()).map_err(pki_error)?;
        pki.issue_broker(
            ServerRequest::new([BROKER_NAME])
                .ip(loopback)
                .government_oid(oid("2.16.886.101.20003.20069")?),
        )
        .map_err(pki_error)?;
        let adapter_name = format!("{adapter}.adapter.tongdao.test");
        pki.issue(
            adapter,
            LeafSpec::Server(
                ServerRequest::new([adapter_name.as_str()])
                    .ip(loopback)
                    .government_oid(oid("2.16.886.101.20003.20001")?),
            ),
        )
        .map_err(pki_error)?;
        pki.issue(
            "stranger",
            LeafSpec::Agency(AgencyRequest::new(
                "財政部臺北國稅局",
                oid("2.16.886.101.20003.20004.20100")?,
            )),
        )
        .map_err(pki_error)?;
        pki.write_to(dir.path()).map_err(pki_error)?;
        Ok(TestPki {
            dir,
            adapter: adapter.to_owned(),
        })
    }

    /// A file in the test bed's directory (which tests may also use for their source data).
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The DNS name in the adapter's certificate.
    pub fn adapter_name(&self) -> String {
        format!("{}.adapter.tongdao.test", self.adapter)
    }

    /// The adapter's server section: these certificates, accepting only [`BROKER_NAME`].
    pub fn server_config(&self, listen_addr: SocketAddr) -> AdapterServerConfig {
        AdapterServerConfig {
            listen_addr,
            tls: TlsFiles {
                certificate: self.path(&format!("adapters/{}.crt", self.adapter)),
                private_key: self.path(&format!("adapters/{}.key", self.adapter)),
                trust_anchors: vec![self.path("grca.crt")],
                crls: vec![self.path("gca.crl")],
            },
            broker_name: BROKER_NAME.to_owned(),
            handshake_timeout_ms: 5_000,
        }
    }

    /// A kit target for the adapter at `addr` serving `service`, presenting the broker's
    /// certificate, with the stranger and the CA of this test bed; add subjects and requests.
    pub fn target(&self, addr: SocketAddr, service: &str) -> TargetBuilder {
        Target::builder(addr.to_string(), service)
            .server_name(self.adapter_name())
            .broker(self.path("broker.crt"), self.path("broker.key"))
            .stranger(
                self.path("agencies/stranger.crt"),
                self.path("agencies/stranger.key"),
            )
            .ca(self.path("grca.crt"))
    }
}

/// A national ID valid by checksum that is not in `known`: the kit's `--absent-subject` for an
/// adapter serving a synthetic population. IDs are taken from a letter and serial range the
/// synthetic generator leaves alone, so the search ends at once in practice.
pub fn absent_national_id(known: &std::collections::HashSet<String>) -> Option<String> {
    (0..10_000u32)
        .filter_map(|n| tongdao_core::ids::NationalId::with_checksum('Z', 1, 9_000_000 + n).ok())
        .map(|id| id.to_string())
        .find(|id| !known.contains(id))
}

/// A server running in a task until [`Served::stop`]: how test suites run the adapter (or a
/// source stand-in) under test.
#[derive(Debug)]
pub struct Served {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// The shutdown signal [`serve_until_stopped`] hands the server.
pub type StopSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Spawns `serve(stop_signal)` (e.g. `|stopped| adapter.serve(listener, stopped)`); the signal
/// completes when [`Served::stop`] is called.
pub fn serve_until_stopped<F>(serve: impl FnOnce(StopSignal) -> F) -> Served
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(Box::pin(async {
        let _ = stopped.await;
    })));
    Served { stop, task }
}

impl Served {
    /// Signals the server to stop and waits for it to finish draining.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
