//! The kit can fail: a deliberately sloppy household adapter — a plain tonic service behind a
//! TLS server that takes anyone — breaks one requirement after another, and exactly those
//! checks fail, citing their contract ids, while the requirements it does meet still pass.

mod common;

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use common::{Pki, SERVICE, show, with};
use prost::Message as _;
use rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};
use tokio::net::TcpListener;
use tongdao_conformance::{Outcome, run_checks};
use tongdao_core::codec::RawCodec;
use tongdao_schemas::household::v1::{GetTranscriptRequest, Member, RocDate, Transcript};
use tonic::{Request, Response, Status, body::Body, server::NamedService};

/// The subject the sloppy adapter "knows", someone else it answers about instead, and the
/// subject it does not know.
const KNOWN: &str = "A123456789";
const SOMEONE_ELSE: &str = "F131104093";
const ABSENT: &str = "Z190000009";

/// A household registry that gets everything wrong that the contract asks about a response.
#[derive(Clone)]
struct Sloppy;

impl NamedService for Sloppy {
    const NAME: &'static str = SERVICE;
}

impl tower::Service<http::Request<Body>> for Sloppy {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() != format!("/{SERVICE}/GetTranscript") {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.unary(GetTranscript, request).await)
        })
    }
}

struct GetTranscript;

impl tonic::server::UnaryService<Bytes> for GetTranscript {
    type Response = Bytes;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Status>> + Send>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let has_deadline = request.metadata().get("grpc-timeout").is_some();
        let body = request.into_inner();
        Box::pin(async move {
            if has_deadline {
                // Ignores the caller's deadline and works on.
                tokio::time::sleep(Duration::from_millis(1_500)).await;
            }
            let Ok(request) = GetTranscriptRequest::decode(body) else {
                // Answers an undecodable request OK.
                return Ok(Response::new(Bytes::new()));
            };
            if request.national_id == ABSENT {
                // NOT_FOUND without ErrorInfo, naming the national ID.
                return Err(Status::not_found(format!(
                    "no household record for {}",
                    request.national_id
                )));
            }
            // Everything else, invalid subjects included, gets a transcript: about someone else,
            // with an undefined enum value, an impossible date, a broken ID and a field the
            // schema does not have.
            let transcript = Transcript {
                household_type: 42,
                members: vec![
                    Member {
                        national_id: SOMEONE_ELSE.to_owned(),
                        birth_date: Some(RocDate {
                            year: 76,
                            month: 2,
                            day: 30,
                        }),
                        ..Member::default()
                    },
                    Member {
                        national_id: "A123456780".to_owned(),
                        ..Member::default()
                    },
                ],
                ..Transcript::default()
            };
            let mut bytes = transcript.encode_to_vec();
            bytes.extend_from_slice(&[0x98, 0x06, 0x01]); // field 99 = 1
            Ok(Response::new(Bytes::from(bytes)))
        })
    }
}

/// A TLS server that takes TLS 1.2 and 1.3, with any client certificate under the CA or none.
fn permissive_tls(pki: &Pki) -> ServerConfig {
    let material = tongdao_tls::Material::load(
        &pki.path("adapters/household.crt"),
        &pki.path("adapters/household.key"),
        &[pki.path("grca.crt")],
        &[],
    )
    .expect("adapter material");
    let mut roots = RootCertStore::empty();
    for root in &material.roots {
        roots.add(root.clone()).expect("root");
    }
    let provider = tongdao_tls::crypto_provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .expect("verifier");
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(material.chain.clone(), material.key.clone_key())
        .expect("server config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

#[test]
fn the_fixture_ids_are_what_the_test_assumes() {
    use tongdao_core::ids::NationalId;
    for valid in [KNOWN, SOMEONE_ELSE, ABSENT] {
        assert!(valid.parse::<NationalId>().is_ok(), "{valid}");
    }
    assert!("A123456780".parse::<NationalId>().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sloppy_adapter_fails_the_checks_it_breaks() {
    let pki = Pki::create();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    health
        .set_service_status(SERVICE, tonic_health::ServingStatus::NotServing)
        .await;
    let routes = tonic::service::Routes::new(Sloppy)
        .add_service(health_service)
        .prepare();
    let options = tongdao_tls::ServeOptions {
        server_name: "sloppy",
        handshake_timeout: Duration::from_secs(5),
        max_concurrent_streams: 1024,
        drain_timeout: Duration::from_secs(1),
        counts: Arc::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tongdao_tls::serve(
        listener,
        Arc::new(ArcSwap::from_pointee(permissive_tls(&pki))),
        options,
        |_| (),
        routes,
        async {
            let _ = stopped.await;
        },
    ));

    let target = pki
        .target(addr)
        .subject(KNOWN)
        .absent_subject(ABSENT)
        .build()
        .expect("target");
    let report = run_checks(&target).await;
    let _ = stop.send(());
    let _ = server.await;
    let report_text = show(&report);
    println!("{report_text}");

    assert!(!report.passed());
    let failed = |id: &str| !with(&report, id, Outcome::Fail).is_empty();
    let passed = |id: &str| !with(&report, id, Outcome::Pass).is_empty();
    for (id, why) in [
        ("C-TLS-1", "TLS 1.2 is accepted"),
        ("C-TLS-2", "a client without a certificate is served"),
        ("C-TLS-3", "a certificate other than the broker's is served"),
        ("C-HLT-1", "the service is NOT_SERVING"),
        ("C-SCH-1", "field 99 is not in the schema"),
        ("C-SCH-2", "household_type 42 is not defined"),
        ("C-SCH-3", "February 30th"),
        ("C-SCH-4", "a national ID with a broken check digit"),
        ("C-SUB-2", "the transcript is about someone else"),
        ("C-ERR-2", "an invalid subject is answered OK"),
        ("C-ERR-3", "NOT_FOUND without RECORD_NOT_FOUND"),
        ("C-ERR-7", "an undecodable request is answered OK"),
        ("C-DL-1", "the deadline is ignored"),
        (
            "C-ERR-1",
            "an error without ErrorInfo where one is required",
        ),
        ("C-ERR-9", "an error message naming a national ID"),
    ] {
        assert!(failed(id), "{id} should fail ({why}):\n{report_text}");
    }
    // What it does right still passes: the kit fails precisely.
    for id in ["C-SUB-1", "C-ERR-8", "C-CON-1"] {
        assert!(passed(id), "{id} should pass:\n{report_text}");
    }
    assert!(
        report.checks.iter().any(
            |c| c.name == "broker certificate accepted over TLS 1.3, ALPN h2"
                && c.outcome == Outcome::Pass
        ),
        "{report_text}"
    );
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.name == "health of \"\" is SERVING" && c.outcome == Outcome::Pass),
        "{report_text}"
    );
    // The report names no national ID, not even the leaked one it found.
    let json = report.to_json();
    for id in [KNOWN, SOMEONE_ELSE, ABSENT, "A123456780"] {
        assert!(
            !report_text.contains(id) && !json.contains(id),
            "the report names {id}"
        );
    }
    // JSON is machine-readable and agrees with the text.
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON report");
    assert_eq!(value["summary"]["passed"], serde_json::Value::Bool(false));
    assert_eq!(
        value["checks"].as_array().map(Vec::len),
        Some(report.checks.len())
    );
}
