//! Targets that are not adapters at all — nothing listening, a socket that never answers, a TLS
//! server that speaks no HTTP/2 — yield failed checks with a reason, within the time limits:
//! never a panic, never a hang.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::{Pki, show};
use rustls::{ServerConfig, server::WebPkiClientVerifier};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
};
use tongdao_conformance::{Limits, Outcome, Report, run_checks};

fn short_limits() -> Limits {
    Limits {
        connect_timeout: Duration::from_millis(400),
        call_timeout: Duration::from_millis(600),
        concurrency: 8,
        deadline_slack: Duration::from_millis(500),
    }
}

async fn run_against(pki: &Pki, addr: std::net::SocketAddr) -> (Report, Duration) {
    let target = pki
        .target(addr)
        .subject("A123456789")
        .limits(short_limits())
        .build()
        .expect("target");
    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(60), run_checks(&target))
        .await
        .expect("the kit finishes within its limits");
    (report, started.elapsed())
}

fn assert_broker_check_failed(report: &Report, contains: &str) {
    let first = report.checks.first().expect("a check");
    assert_eq!(first.id, "C-TLS-1", "{}", show(report));
    assert_eq!(first.outcome, Outcome::Fail, "{}", show(report));
    assert!(
        first.detail.contains(contains),
        "expected {contains:?} in {:?}",
        first.detail
    );
    assert!(!report.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_fails_fast() {
    let pki = Pki::create();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let (report, took) = run_against(&pki, addr).await;
    assert_broker_check_failed(&report, "TCP connect failed");
    // TLS 1.2, no certificate, stranger: unreachable is a failure, never a "refusal".
    assert!(
        report
            .checks
            .iter()
            .filter(|c| c.id.starts_with("C-TLS") && c.name != "remaining checks")
            .all(|c| c.outcome == Outcome::Fail),
        "{}",
        show(&report)
    );
    assert_eq!(report.checks.last().map(|c| c.outcome), Some(Outcome::Skip));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_is_not_a_refusal_and_does_not_hang_the_kit() {
    let pki = Pki::create();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    // Accepts and holds every connection, reads nothing, writes nothing.
    let hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let (report, took) = run_against(&pki, addr).await;
    hole.abort();
    assert_broker_check_failed(&report, "neither completed the handshake");
    for check in report
        .checks
        .iter()
        .filter(|c| c.id.starts_with("C-TLS") && c.name != "remaining checks")
    {
        assert_eq!(check.outcome, Outcome::Fail, "{}", show(&report));
    }
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_speaking_http1_fails_every_call_within_limits() {
    let pki = Pki::create();
    let material = tongdao_tls::Material::load(
        &pki.path("adapters/household.crt"),
        &pki.path("adapters/household.key"),
        &[pki.path("grca.crt")],
        &[],
    )
    .expect("material");
    let mut roots = rustls::RootCertStore::empty();
    for root in &material.roots {
        roots.add(root.clone()).expect("root");
    }
    let provider = tongdao_tls::crypto_provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .expect("verifier");
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(material.chain.clone(), material.key.clone_key())
        .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let (report, took) = run_against(&pki, addr).await;
    server.abort();
    let text = show(&report);
    println!("{text}");
    let first = report.checks.first().expect("a check");
    assert_eq!(first.outcome, Outcome::Fail, "{text}");
    assert!(first.detail.contains("ALPN"), "{text}");
    // Every call-based check fails (or is skipped for want of an answer); none passes.
    for check in report.checks.iter().skip(4) {
        assert_ne!(check.outcome, Outcome::Pass, "{text}");
    }
    assert!(
        report
            .with_id("C-HLT-1")
            .all(|c| c.outcome == Outcome::Fail)
    );
    assert!(took < Duration::from_secs(30), "took {took:?}\n{text}");
}
