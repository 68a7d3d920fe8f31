//! The real tax adapter, built from its configuration by `build` and served over mTLS as
//! `tongdao adapter tax` does, on seeded files and a development PKI: every check of the
//! conformance kit passes for the three methods.

use std::collections::HashSet;
use std::net::IpAddr;

use tokio::net::TcpListener;
use tongdao_config::{AdapterServerConfig, TaxAdapterConfig, TlsFiles};
use tongdao_conformance::{Outcome, Target, run_checks};
use tongdao_core::ids::NationalId;
use tongdao_pki::{AgencyRequest, DevPki, LeafSpec, Oid, Profile, ServerRequest};
use tongdao_synth::registers::TaxKind;

const BROKER_NAME: &str = "broker.tongdao.test";
const ADAPTER_NAME: &str = "tax.adapter.tongdao.test";

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
        "tax",
        LeafSpec::Server(
            ServerRequest::new([ADAPTER_NAME])
                .ip(loopback)
                .government_oid(oid("2.16.886.101.20003.20004")),
        ),
    )
    .expect("adapter certificate");
    pki.issue(
        "taipei-tax",
        LeafSpec::Agency(AgencyRequest::new(
            "財政部臺北國稅局",
            oid("2.16.886.101.20003.20004.20100"),
        )),
    )
    .expect("agency certificate");
    pki.write_to(dir).expect("write PKI");
}

fn config(dir: &std::path::Path, addr: std::net::SocketAddr) -> TaxAdapterConfig {
    let path = |p: &str| dir.join(p);
    TaxAdapterConfig {
        server: AdapterServerConfig {
            listen_addr: addr,
            tls: TlsFiles {
                certificate: path("adapters/tax.crt"),
                private_key: path("adapters/tax.key"),
                trust_anchors: vec![path("grca.crt")],
                crls: vec![path("gca.crl")],
            },
            broker_name: BROKER_NAME.to_owned(),
            handshake_timeout_ms: 5_000,
        },
        directory: path("tax"),
        mapping: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tax_adapter_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(dir.path());
    let path = |p: &str| dir.path().join(p);

    let population = tongdao_synth::Population::generate(20_261_128, 80);
    let registers = tongdao_synth::Registers::generate(&population);
    std::fs::create_dir(path("tax")).expect("tax dir");
    tongdao_adapter_tax::seed::write_files(&registers.tax, &path("tax")).expect("seed");

    // A subject with income, property and a land value tax payment in the same year.
    let payment = registers
        .tax
        .payments
        .iter()
        .find(|p| {
            p.kind == TaxKind::LandValueTax
                && registers.tax.income.iter().any(|i| {
                    i.earner_national_id == p.taxpayer_national_id
                        && i.income_year_roc == p.tax_year_roc
                })
                && registers.tax.property.iter().any(|i| {
                    i.owner_national_id == p.taxpayer_national_id && i.year_roc == p.tax_year_roc
                })
        })
        .expect("a subject with all three");
    let subject = payment.taxpayer_national_id.to_string();
    let year = payment.tax_year_roc;
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
    let adapter = tongdao_adapter_tax::build(&config(dir.path(), addr))
        .await
        .expect("tax adapter");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(adapter.serve(listener, async {
        let _ = stopped.await;
    }));

    let target = Target::builder(addr.to_string(), "tongdao.tax.v1.TaxRegistry")
        .server_name(ADAPTER_NAME)
        .broker(path("broker.crt"), path("broker.key"))
        .stranger(
            path("agencies/taipei-tax.crt"),
            path("agencies/taipei-tax.key"),
        )
        .ca(path("grca.crt"))
        .subject(&subject)
        .absent_subject(&absent)
        .request("ListIncome", format!(r#"{{"incomeYearRoc":{year}}}"#))
        .request("ListProperty", format!(r#"{{"yearRoc":{year}}}"#))
        .request(
            "GetTaxPaymentCertificate",
            format!(r#"{{"kind":"LAND_VALUE_TAX","taxYearRoc":{year}}}"#),
        )
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

#[tokio::test]
async fn build_fails_naming_the_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    pki(dir.path());
    std::fs::create_dir(dir.path().join("tax")).expect("tax dir");
    let addr = "127.0.0.1:0".parse().expect("addr");
    let error = tongdao_adapter_tax::build(&config(dir.path(), addr))
        .await
        .expect_err("no files");
    let text = error.to_string();
    assert!(
        text.contains("income.txt") && text.contains("file missing"),
        "{text}"
    );
}
