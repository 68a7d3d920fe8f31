//! Interoperability with another language's gRPC stack: Python grpcio (gRPC C-core and
//! BoringSSL) calls the broker over mutual TLS with stubs generated from `schemas/proto`.
//! `.ci/run` installs `integration-tests/python/requirements.txt`; elsewhere the test is skipped
//! with a note when those packages are missing.

use std::process::Command;

use tongdao_integration_tests::System;

fn python_grpc_available() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc, grpc_tools, grpc_status"])
        .output()
        .is_ok_and(|output| output.status.success())
}

#[tokio::test]
async fn python_grpcio_client_talks_to_the_broker() {
    if !python_grpc_available() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install integration-tests/python/requirements.txt"
        );
        eprintln!("SKIPPED: python3 with grpcio, grpcio-tools and grpcio-status is not installed");
        return;
    }
    let system = System::start().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pki = system.sandbox.pki();
    let path = |p: std::path::PathBuf| p.display().to_string();
    let output = tokio::process::Command::new("python3")
        .arg(root.join("python/interop.py"))
        .args(["--addr", &system.sandbox.broker_addr().to_string()])
        .args(["--server-name", system.sandbox.broker_server_name()])
        .args(["--ca", &path(pki.join("grca.crt"))])
        .args(["--proto-dir", &path(root.join("../schemas/proto"))])
        .args(["--agency-cert", &path(pki.join("agencies/taipei-tax.crt"))])
        .args(["--agency-key", &path(pki.join("agencies/taipei-tax.key"))])
        .args(["--citizen-cert", &path(pki.join("citizens/valid.crt"))])
        .args(["--citizen-key", &path(pki.join("citizens/valid.key"))])
        .args(["--national-id", &system.someone()])
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("PURPOSE_NOT_ALLOWED"), "{stdout}");
    system.stack.stop().await;
}
