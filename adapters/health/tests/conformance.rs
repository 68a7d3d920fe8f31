//! The real health adapter, built from its configuration by `build` and served over mTLS as
//! `tongdao adapter health` does, on seeded exports and a development PKI: every check of the
//! conformance kit passes for both methods.

use std::collections::HashSet;
use std::net::IpAddr;

use tokio::net::TcpListener;
use tongdao_config::{AdapterServerConfig, HealthAdapterConfig, TlsFiles};
use tongdao_conformance::{Outcome, Target, run_checks};
use tongdao_core::ids::NationalId;
use tongdao_pki::{AgencyRequest, DevPki, LeafSpec, Oid, Profile, ServerRequest};

const BROKER_NAME: &str = "broker.tongdao.test";
const ADAPTER_NAME: &str = "health.adapter.tongdao.test";

fn pki(dir: &std::path::Path) {
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
        "health",
        LeafSpec::Server(
            ServerRequest::new([ADAPTER_NAME])
                .ip(loopback)
                .government_oid(oid("2.16.886.101.20003.20065.20022")),
        ),
    )
    .expect("adapter certificate");
    pki.issue(
        "mohw",
        LeafSpec::Agency(AgencyRequest::new(
            "衛生福利部",
            oid("2.16.886.101.20003.20065"),
        )),
    )
    .expect("agency certificate");
    pki.write_to(dir).expect("write PKI");
}

fn config(dir: &std::path::Path, addr: std::net::SocketAddr) -> HealthAdapterConfig {
    let path = |p: &str| dir.join(p);
    HealthAdapterConfig {
        server: AdapterServerConfig {
            listen_addr: addr,
            tls: TlsFiles {
                certificate: path("adapters/health.crt"),
                private_key: path("adapters/health.key"),
                trust_anchors: vec![path("grca.crt")],
                crls: vec![path("gca.crl")],
            },
            broker_name: BROKER_NAME.to_owned(),
            handshake_timeout_ms: 5_000,
        },
        directory: path("health"),
        mapping: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_adapter_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(dir.path());
    let path = |p: &str| dir.path().join(p);

    let population = tongdao_synth::Population::generate(20_261_129, 80);
    let registers = tongdao_synth::Registers::generate(&population);
    tongdao_adapter_health::seed::write_exports(&registers.health, &path("health")).expect("seed");

    // A subject with visits and lab results.
    let subject = registers
        .health
        .lab_results
        .first()
        .map(|l| l.national_id.to_string())
        .expect("someone with lab results");
    let known: HashSet<String> = population
        .people()
        .map(|(_, p)| p.national_id.to_string())
        .collect();
    let absent = (0..10_000u32)
        .filter_map(|n| NationalId::with_checksum('Z', 1, 9_000_000 + n).ok())
        .map(|id| id.to_string())
        .find(|id| !known.contains(id))
        .expect("an ID nobody has");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let adapter = tongdao_adapter_health::build(&config(dir.path(), addr))
        .await
        .expect("health adapter");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(adapter.serve(listener, async {
        let _ = stopped.await;
    }));

    let target = Target::builder(addr.to_string(), "tongdao.health.v1.HealthInsurance")
        .server_name(ADAPTER_NAME)
        .broker(path("broker.crt"), path("broker.key"))
        .stranger(path("agencies/mohw.crt"), path("agencies/mohw.key"))
        .ca(path("grca.crt"))
        .subject(&subject)
        .absent_subject(&absent)
        .request(
            "ListVisits",
            r#"{"fromDate":{"year":112,"month":1,"day":1},"toDate":{"year":113,"month":12,"day":31}}"#,
        )
        .request("ListLabResults", "{}")
        .build()
        .expect("target");
    let report = run_checks(&target).await;
    let _ = stop.send(());
    let _ = server.await;

    let shown = format!("{report}");
    assert!(report.passed(), "{shown}");
    let skipped: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .map(|c| c.id)
        .collect();
    assert!(skipped.is_empty(), "{shown}");
    assert!(
        !shown.contains(&subject),
        "the report never names the subject"
    );
    println!("{shown}");
}
