//! The real land adapter, built from its configuration and served over mTLS as
//! `tongdao adapter land` does, on a seeded SQLite register and a development PKI: every check
//! of the conformance kit passes, for both methods.

mod common;

use std::collections::HashSet;
use tongdao_conformance::dev::serve_until_stopped;

use tokio::net::TcpListener;
use tongdao_config::{AdapterServerConfig, LandAdapterConfig, TlsFiles};
use tongdao_conformance::{Outcome, dev::TestPki, run_checks};
use tongdao_synth::registers::Owner;

fn key_json(key: &tongdao_schemas::land::v1::ParcelKey) -> String {
    format!(
        r#"{{"landOfficeCode":"{}","sectionCode":"{}","parcelNumber":"{}"}}"#,
        key.land_office_code, key.section_code, key.parcel_number
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_land_adapter_conforms() {
    let pki = TestPki::create("land").expect("development PKI");
    let path = |p: &str| pki.path(p);

    let (population, register) = common::generated(20_261_129, 60);
    let database = path("land.sqlite");
    tongdao_adapter_land::seed::write_sqlite(&register, &database).expect("seed");

    let owner = register
        .parcels
        .iter()
        .flat_map(|p| &p.owners)
        .find_map(|o| match &o.owner {
            Owner::Person { national_id, .. } => Some(national_id.to_string()),
            _ => None,
        })
        .expect("a person owning land");
    let known: HashSet<String> = population
        .people()
        .map(|(_, p)| p.national_id.to_string())
        .collect();
    let absent_person =
        tongdao_conformance::dev::absent_national_id(&known).expect("an ID nobody has");
    let parcel = common::key(&register.parcels[0]);
    let mut absent_parcel = parcel.clone();
    absent_parcel.parcel_number = "9999-9999".into();

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = LandAdapterConfig {
        server: pki.server_config(addr),
        database: format!("sqlite:{}", database.display()),
        pool_size: 2,
        mapping: None,
    };
    let adapter = tongdao_adapter_land::build(&config)
        .await
        .expect("land adapter");
    let server = serve_until_stopped(|stopped| adapter.serve(listener, stopped));

    let target = pki
        .target(addr, "tongdao.land.v1.LandRegistry")
        .subject(&owner)
        .subject(key_json(&parcel))
        .absent_subject(&absent_person)
        .absent_subject(key_json(&absent_parcel))
        .build()
        .expect("target");
    let report = run_checks(&target).await;
    server.stop().await;

    let shown = format!("{report}");
    assert!(report.passed(), "{shown}");
    // Only ListHoldings' subject echo can be skipped: its response has no field naming the
    // subject.
    let not_passed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .collect();
    assert!(
        not_passed
            .iter()
            .all(|c| c.outcome == Outcome::Skip && c.id == "C-SUB-2"),
        "{shown}"
    );
    for id in [
        "C-SUB-1", "C-ERR-2", "C-ERR-3", "C-ERR-4", "C-DL-1", "C-CON-1", "C-ERR-9",
    ] {
        assert!(report.with_id(id).next().is_some(), "no {id}:\n{shown}");
    }
    assert!(
        !shown.contains(&owner),
        "the report never names the subject"
    );
    println!("{shown}");
}

#[tokio::test]
async fn a_bad_mapping_file_stops_the_adapter_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |p: &str| dir.path().join(p);
    let (_, register) = common::generated(3, 10);
    let database = path("land.sqlite");
    tongdao_adapter_land::seed::write_sqlite(&register, &database).expect("seed");
    let mapping = path("land-mapping.toml");
    let broken = tongdao_adapter_land::records::SHIPPED_MAPPING.replace(
        r#"area_cm2 = { column = "AREA", convert = "area_m2_to_cm2" }"#,
        r#"area_cm2 = { column = "AREA", convert = "roc_date" }"#,
    );
    assert_ne!(broken, tongdao_adapter_land::records::SHIPPED_MAPPING);
    std::fs::write(&mapping, broken).expect("write mapping");
    let config = LandAdapterConfig {
        server: AdapterServerConfig {
            listen_addr: "127.0.0.1:0".parse().expect("addr"),
            tls: TlsFiles {
                certificate: path("absent.crt"),
                private_key: path("absent.key"),
                trust_anchors: vec![],
                crls: vec![],
            },
            broker_name: tongdao_conformance::dev::BROKER_NAME.to_owned(),
            handshake_timeout_ms: 5_000,
        },
        database: format!("sqlite:{}", database.display()),
        pool_size: 1,
        mapping: Some(mapping.clone()),
    };
    let error = tongdao_adapter_land::open(&config)
        .await
        .expect_err("bad mapping");
    let text = error.to_string();
    assert!(text.contains("adapters.land.mapping"), "{text}");
    assert!(text.contains("land-mapping.toml:"), "{text}");

    // The same file, repaired, is used.
    std::fs::write(&mapping, tongdao_adapter_land::records::SHIPPED_MAPPING).expect("write");
    tongdao_adapter_land::open(&config)
        .await
        .expect("good mapping");

    let missing_table = LandAdapterConfig {
        mapping: None,
        database: format!("sqlite:{}", path("empty.sqlite").display()),
        ..config
    };
    rusqlite::Connection::open(path("empty.sqlite"))
        .and_then(|c| c.execute_batch("CREATE TABLE other (x TEXT)"))
        .expect("empty db");
    let text = tongdao_adapter_land::open(&missing_table)
        .await
        .expect_err("no tables")
        .to_string();
    assert!(text.contains("adapters.land.database: sqlite:"), "{text}");
    assert!(text.contains("empty.sqlite: table RALID missing"), "{text}");
}
