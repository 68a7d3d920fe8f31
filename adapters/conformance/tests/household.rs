//! The real household adapter, built and served as `tongdao adapter household` does, on a
//! synthetic extract and a development PKI: every check of the kit passes.

mod common;

use std::{collections::HashSet, process::ExitCode};
use tongdao_conformance::dev::serve_until_stopped;

use clap::Parser as _;

use common::{BROKER_NAME, Pki, show};
use tokio::net::TcpListener;
use tongdao_config::{AdapterServerConfig, HouseholdAdapterConfig, TlsFiles};
use tongdao_conformance::{Outcome, run_checks};
use tongdao_synth::{Population, write_household_extract};

/// The subcommand's arguments as the CLI parses them.
#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: tongdao_conformance::Args,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_household_adapter_conforms() {
    let pki = Pki::create();

    let population = Population::generate(20_261_128, 40);
    let mut extract = Vec::new();
    write_household_extract(&population, &mut extract).expect("synthetic extract");
    let extract_path = pki.path("household.dat");
    std::fs::write(&extract_path, &extract).expect("write extract");
    let known: HashSet<String> = population
        .people()
        .map(|(_, person)| person.national_id.to_string())
        .collect();
    let subject = population
        .people()
        .find(|(_, person)| person.removed.is_none())
        .map(|(_, person)| person.national_id.to_string())
        .expect("a current member");
    let absent = tongdao_conformance::dev::absent_national_id(&known)
        .expect("an ID nobody in the population has");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = HouseholdAdapterConfig {
        server: AdapterServerConfig {
            listen_addr: addr,
            tls: TlsFiles {
                certificate: pki.path("adapters/household.crt"),
                private_key: pki.path("adapters/household.key"),
                trust_anchors: vec![pki.path("grca.crt")],
                crls: vec![pki.path("gca.crl")],
            },
            broker_name: BROKER_NAME.to_owned(),
            handshake_timeout_ms: 5_000,
        },
        extract: extract_path,
    };
    let adapter = tongdao_adapter_household::build(&config).expect("household adapter");
    let server = serve_until_stopped(|stopped| adapter.serve(listener, stopped));

    let target = pki
        .target(addr)
        .subject(&subject)
        .absent_subject(&absent)
        .build()
        .expect("target");
    let report = run_checks(&target).await;

    // The command line runs the same checks: exit 0 here; a usage problem exits 64.
    let path = |p: &str| pki.path(p).display().to_string();
    let mut argv = vec![
        "conformance".to_owned(),
        "--target".to_owned(),
        addr.to_string(),
        "--server-name".to_owned(),
        common::ADAPTER_NAME.to_owned(),
        "--service".to_owned(),
        common::SERVICE.to_owned(),
        "--broker-cert".to_owned(),
        path("broker.crt"),
        "--broker-key".to_owned(),
        path("broker.key"),
        "--ca".to_owned(),
        path("grca.crt"),
        "--stranger-cert".to_owned(),
        path("agencies/stranger.crt"),
        "--stranger-key".to_owned(),
        path("agencies/stranger.key"),
        "--subject".to_owned(),
        subject.clone(),
        "--absent-subject".to_owned(),
        absent.clone(),
        "--request".to_owned(),
        r#"GetTranscript={"kind":"CURRENT_WHOLE"}"#.to_owned(),
        "--json".to_owned(),
    ];
    let cli = Cli::try_parse_from(&argv).expect("arguments parse");
    let code = tongdao_conformance::main(cli.args).await;
    assert_eq!(format!("{code:?}"), format!("{:?}", ExitCode::SUCCESS));
    argv.extend(["--subject".to_owned(), "A12345678".to_owned()]);
    let cli = Cli::try_parse_from(&argv).expect("arguments parse");
    let code = tongdao_conformance::main(cli.args).await;
    assert_eq!(format!("{code:?}"), format!("{:?}", ExitCode::from(64)));

    server.stop().await;

    assert!(report.passed(), "{}", show(&report));
    let not_passed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .collect();
    assert!(not_passed.is_empty(), "{}", show(&report));
    for id in [
        "C-TLS-1", "C-TLS-2", "C-TLS-3", "C-HLT-1", "C-ERR-8", "C-SUB-1", "C-SCH-1", "C-SCH-2",
        "C-SCH-3", "C-SCH-4", "C-SUB-2", "C-ERR-2", "C-ERR-3", "C-ERR-7", "C-DL-1", "C-CON-1",
        "C-ERR-1", "C-ERR-9",
    ] {
        assert!(
            report.with_id(id).next().is_some(),
            "no check cites {id}:\n{}",
            show(&report)
        );
    }
    // Nothing in the report names the subject.
    let text = format!("{}{}", show(&report), report.to_json());
    assert!(!text.contains(&subject), "the report leaks the subject");
    println!("{}", show(&report));
}
