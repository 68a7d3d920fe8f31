//! The real health adapter, built from its configuration by `build` and served over mTLS as
//! `tongdao adapter health` does, on seeded exports and a development PKI: every check of the
//! conformance kit passes for both methods.

use std::collections::HashSet;
use tongdao_conformance::dev::serve_until_stopped;

use tokio::net::TcpListener;
use tongdao_config::HealthAdapterConfig;
use tongdao_conformance::{Outcome, dev::TestPki, run_checks};

fn config(pki: &TestPki, addr: std::net::SocketAddr) -> HealthAdapterConfig {
    HealthAdapterConfig {
        server: pki.server_config(addr),
        directory: pki.path("health"),
        mapping: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_adapter_conforms() {
    let pki = TestPki::create("health").expect("development PKI");
    let path = |p: &str| pki.path(p);

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
    let absent = tongdao_conformance::dev::absent_national_id(&known).expect("an ID nobody has");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let adapter = tongdao_adapter_health::build(&config(&pki, addr))
        .await
        .expect("health adapter");
    let server = serve_until_stopped(|stopped| adapter.serve(listener, stopped));

    let target = pki
        .target(addr, "tongdao.health.v1.HealthInsurance")
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
