//! A certificate revoked after the broker started is refused once the broker reloads its CRLs
//! (SIGHUP), and a broken CRL file never replaces a good one.

use tongdao_integration_tests::{System, refusal_counted};
use tongdao_pki::{DevPki, RevocationReason};
use tongdao_tls::HandshakeRefusal;

#[tokio::test]
async fn revocation_takes_effect_on_reload() {
    let system = System::start().await;
    let subject = system.someone();
    system
        .transcript("taipei-tax", &subject)
        .await
        .expect("allowed before revocation");

    let pki_dir = system.sandbox.pki();
    let mut pki = DevPki::load_from(&pki_dir).expect("sandbox PKI loads");
    pki.revoke("agencies/taipei-tax", RevocationReason::KeyCompromise)
        .expect("revoke");
    pki.write_to(&pki_dir).expect("write CRLs");

    system.stack.broker_tls.reload().expect("reload");
    let refused_before = system
        .stack
        .broker_counts
        .refused(HandshakeRefusal::Revoked);
    assert!(
        system.transcript("taipei-tax", &subject).await.is_err(),
        "revoked after reload"
    );
    let counted = refusal_counted(
        &system.stack.broker_counts,
        HandshakeRefusal::Revoked,
        refused_before,
    );
    assert!(counted.await, "the broker counted the revoked handshake");
    system
        .transcript_for("taipei-welfare", "057", &subject)
        .await
        .expect("other agencies unaffected");
    system.stack.stop().await;
}

#[tokio::test]
async fn broken_crl_file_keeps_the_previous_configuration() {
    let system = System::start().await;
    std::fs::write(system.sandbox.pki().join("gca.crl"), "not a CRL").expect("write");
    let error = system
        .stack
        .broker_tls
        .reload()
        .expect_err("a bad CRL is refused");
    assert!(error.contains("gca.crl"), "{error}");
    system
        .transcript("taipei-tax", &system.someone())
        .await
        .expect("still served with the old CRLs");
    system.stack.stop().await;
}
