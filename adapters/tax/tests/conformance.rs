//! The real tax adapter, built from its configuration by `build` and served over mTLS as
//! `tongdao adapter tax` does, on seeded files and a development PKI: every check of the
//! conformance kit passes for the three methods.

use std::collections::HashSet;
use tongdao_conformance::dev::serve_until_stopped;

use tokio::net::TcpListener;
use tongdao_config::TaxAdapterConfig;
use tongdao_conformance::{Outcome, dev::TestPki, run_checks};
use tongdao_synth::registers::TaxKind;

fn config(pki: &TestPki, addr: std::net::SocketAddr) -> TaxAdapterConfig {
    TaxAdapterConfig {
        server: pki.server_config(addr),
        directory: pki.path("tax"),
        mapping: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tax_adapter_conforms() {
    let pki = TestPki::create("tax").expect("development PKI");
    let path = |p: &str| pki.path(p);

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
    let absent = tongdao_conformance::dev::absent_national_id(&known).expect("an ID nobody has");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let adapter = tongdao_adapter_tax::build(&config(&pki, addr))
        .await
        .expect("tax adapter");
    let server = serve_until_stopped(|stopped| adapter.serve(listener, stopped));

    let target = pki
        .target(addr, "tongdao.tax.v1.TaxRegistry")
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
    server.stop().await;

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
    let pki = TestPki::create("tax").expect("development PKI");
    std::fs::create_dir(pki.path("tax")).expect("tax dir");
    let addr = "127.0.0.1:0".parse().expect("addr");
    let error = tongdao_adapter_tax::build(&config(&pki, addr))
        .await
        .expect_err("no files");
    let text = error.to_string();
    assert!(
        text.contains("income.txt") && text.contains("file missing"),
        "{text}"
    );
}
