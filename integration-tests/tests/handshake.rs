//! Bad certificates are refused in the TLS handshake, and the broker counts each refusal by
//! reason. (With TLS 1.3 the client learns of the refusal on its first call, with an unstable
//! code, so these tests assert "not OK" plus the server-side count.)

use std::time::Duration;

use tongdao_cli::client;
use tongdao_integration_tests::{GET_TRANSCRIPT, System, refusal_counted, transcript_request};
use tongdao_tls::HandshakeRefusal;

async fn refused_with(system: &System, identity: &str, refusal: HandshakeRefusal) {
    let before = system.stack.broker_counts.refused(refusal);
    let files = system.sandbox.identity(identity);
    let outcome = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&system.someone()),
            &[("tongdao-purpose", "095")],
        )
        .await;
    let status = outcome.expect_err("refused");
    assert_ne!(status.code(), tonic::Code::Ok);
    assert!(
        refusal_counted(&system.stack.broker_counts, refusal, before).await,
        "broker did not count a {refusal:?} refusal for {identity}: client saw {status:?}"
    );
}

#[tokio::test]
async fn certificate_from_an_unknown_ca_is_refused() {
    let system = System::start().await;
    refused_with(
        &system,
        "stranger/impostor",
        HandshakeRefusal::UnknownIssuer,
    )
    .await;
    system.stack.stop().await;
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let system = System::start().await;
    refused_with(&system, "agencies/expired", HandshakeRefusal::Expired).await;
    system.stack.stop().await;
}

#[tokio::test]
async fn not_yet_valid_certificate_is_refused() {
    let system = System::start().await;
    refused_with(
        &system,
        "agencies/not-yet-valid",
        HandshakeRefusal::NotYetValid,
    )
    .await;
    system.stack.stop().await;
}

#[tokio::test]
async fn revoked_certificates_are_refused() {
    let system = System::start().await;
    refused_with(
        &system,
        "agencies/revoked-agency",
        HandshakeRefusal::Revoked,
    )
    .await;
    refused_with(&system, "citizens/revoked", HandshakeRefusal::Revoked).await;
    system.stack.stop().await;
}

#[tokio::test]
async fn suspended_citizen_certificate_is_refused() {
    let system = System::start().await;
    refused_with(&system, "citizens/suspended", HandshakeRefusal::Revoked).await;
    system.stack.stop().await;
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let system = System::start().await;
    let before = system
        .stack
        .broker_counts
        .refused(HandshakeRefusal::NoCertificate);
    let channel = client::anonymous_channel(
        &system.sandbox.pki().join("grca.crt"),
        &system.sandbox.broker_addr().to_string(),
        system.sandbox.broker_server_name(),
    )
    .expect("channel");
    let outcome = client::unary(
        channel,
        GET_TRANSCRIPT,
        transcript_request(&system.someone()),
        &[],
        Some(Duration::from_secs(5)),
    )
    .await;
    assert!(outcome.is_err(), "refused");
    let counted = refusal_counted(
        &system.stack.broker_counts,
        HandshakeRefusal::NoCertificate,
        before,
    );
    assert!(counted.await, "no-certificate refusal not counted");
    system.stack.stop().await;
}

#[tokio::test]
async fn adapter_accepts_only_the_broker() {
    let system = System::start().await;
    // A valid agency certificate, straight to the adapter: refused.
    let files = system.sandbox.agency_files("taipei-tax");
    let channel = client::channel(
        &files,
        &system.sandbox.adapter_addr().to_string(),
        Some(system.sandbox.adapter_server_name()),
    )
    .expect("channel");
    let outcome = client::unary(
        channel,
        GET_TRANSCRIPT,
        transcript_request(&system.someone()),
        &[],
        Some(Duration::from_secs(5)),
    )
    .await;
    assert!(outcome.is_err(), "an agency may not bypass the broker");
    let counted = refusal_counted(
        &system.stack.adapter_counts,
        HandshakeRefusal::NotPermitted,
        0,
    );
    assert!(counted.await, "the adapter counted a not-permitted refusal");
    // The broker's own certificate is accepted.
    let channel = client::channel(
        &system.sandbox.broker_client_files(),
        &system.sandbox.adapter_addr().to_string(),
        Some(system.sandbox.adapter_server_name()),
    )
    .expect("channel");
    client::unary(
        channel,
        GET_TRANSCRIPT,
        transcript_request(&system.someone()),
        &[],
        Some(Duration::from_secs(5)),
    )
    .await
    .expect("the broker's certificate is accepted");
    system.stack.stop().await;
}

#[tokio::test]
async fn silent_client_is_dropped_when_the_handshake_times_out() {
    use tokio::io::AsyncReadExt as _;
    tongdao_tls::install_crypto_provider();
    let sandbox = tongdao_cli::sandbox::Sandbox::create(2).expect("sandbox");
    let config =
        tongdao_config::Config::load(&sandbox.config_path(), std::iter::empty()).expect("config");
    let mut broker_config = config.broker.expect("broker section");
    broker_config.handshake_timeout_ms = 200;
    let broker = tongdao_broker::Broker::from_config(&broker_config).expect("broker");
    let counts = broker.handshake_counts();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(broker.serve(listener, std::future::pending()));

    // Connect and say nothing: no ClientHello ever comes.
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(3), socket.read(&mut buffer))
        .await
        .expect("the broker closes the socket well before 3 s");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without a byte: {read:?}"
    );
    assert_eq!(counts.refused(HandshakeRefusal::Timeout), 1);
}
