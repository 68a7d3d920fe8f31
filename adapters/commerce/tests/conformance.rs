//! The real commerce adapter, built from its configuration and served over mTLS as
//! `tongdao adapter commerce` does, in front of the GCIS stand-in serving a generated register,
//! with a development PKI: every check of the conformance kit passes, for both methods.

use std::collections::HashSet;
use std::sync::Arc;
use tongdao_conformance::dev::serve_until_stopped;

use tokio::net::TcpListener;
use tongdao_adapter_commerce::standin::{self, Dataset};
use tongdao_config::CommerceAdapterConfig;
use tongdao_conformance::{Outcome, dev::TestPki, run_checks};
use tongdao_core::ids::BusinessNumber;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commerce_adapter_conforms() {
    let pki = TestPki::create("commerce").expect("development PKI");
    let path = |p: &str| pki.path(p);

    let population = tongdao_synth::Population::generate(20_261_128, 60);
    let register = tongdao_synth::Registers::generate(&population).commerce;
    let company = register.companies.first().expect("a company");
    let director = company.directors.first().expect("a director");
    let known_companies: HashSet<&str> = register
        .companies
        .iter()
        .map(|c| c.business_number.as_str())
        .collect();
    let absent_company = (10_000_000u32..)
        .filter_map(|n| format!("{n:08}").parse::<BusinessNumber>().ok())
        .find(|n| !known_companies.contains(n.as_str()))
        .expect("a number no company has");
    let known_people: HashSet<String> = population
        .people()
        .map(|(_, p)| p.national_id.to_string())
        .collect();
    let absent_person =
        tongdao_conformance::dev::absent_national_id(&known_people).expect("an ID nobody has");

    // The GCIS stand-in, from the dataset file `tongdao seed` writes.
    let dataset_path = path("gcis.json");
    Dataset::from_register(&register)
        .write(&dataset_path)
        .expect("write dataset");
    let dataset = Dataset::load(&dataset_path).expect("load dataset");
    let gcis = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gcis_addr = gcis.local_addr().expect("address");
    let gcis_server =
        serve_until_stopped(|stopped| standin::serve(gcis, Arc::new(dataset), stopped));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = CommerceAdapterConfig {
        server: pki.server_config(addr),
        gcis_url: format!("http://{gcis_addr}"),
        gcis_timeout_ms: 2_000,
        mapping: None,
    };
    let adapter = tongdao_adapter_commerce::build(&config)
        .await
        .expect("commerce adapter");
    let server = serve_until_stopped(|stopped| adapter.serve(listener, stopped));

    let target = pki
        .target(addr, "tongdao.commerce.v1.CompanyRegistry")
        .subject(company.business_number.as_str())
        .subject(director.national_id.as_str())
        .absent_subject(absent_company.as_str())
        .absent_subject(&absent_person)
        .build()
        .expect("target");
    let report = run_checks(&target).await;
    server.stop().await;
    gcis_server.stop().await;

    let shown = format!("{report}");
    println!("{shown}");
    assert!(report.passed(), "{shown}");
    let not_passed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .collect();
    // ListDirectorships' response has no field naming its subject, so its echo check skips.
    assert!(
        not_passed
            .iter()
            .all(|c| c.outcome == Outcome::Skip && c.id == "C-SUB-2"),
        "{shown}"
    );
    for id in [
        "C-SUB-1", "C-ERR-2", "C-ERR-3", "C-ERR-4", "C-DL-1", "C-CON-1",
    ] {
        assert!(report.with_id(id).next().is_some(), "no {id}:\n{shown}");
    }
    assert!(
        !shown.contains(director.national_id.as_str()),
        "the report never names the subject"
    );
}
