//! A certificate made with the `openssl` command line to the GPKI profile — not by our own
//! issuing code — is accepted end to end and identifies its agency.

use std::process::Command;

use tongdao_cli::client::ClientFiles;
use tongdao_integration_tests::{GET_TRANSCRIPT, System, transcript_request};
use tongdao_schemas::v1::who_am_i_response::Principal;

fn openssl(args: &[&str], dir: &std::path::Path) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn openssl_made_agency_certificate_is_accepted() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: no openssl on this machine");
        return;
    }
    let system = System::start().await;
    let pki = system.sandbox.pki();
    let dir = tempfile_dir();
    let ext = "\
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
2.5.29.9 = ASN1:SEQUENCE:sda
[sda]
class = SEQUENCE:class_attr
agency = SEQUENCE:agency_attr
[class_attr]
type = OID:2.16.886.1.100.2.1
values = SET:class_values
[class_values]
value = OID:2.16.886.1.100.3.2.1.1
[agency_attr]
type = OID:2.16.886.1.100.2.102
values = SET:agency_values
[agency_values]
value = OID:2.16.886.101.20003.20004.20100
";
    std::fs::write(dir.join("ext.cnf"), ext).expect("write extfile");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "agency.key",
        ],
        &dir,
    );
    openssl(
        &[
            "req",
            "-new",
            "-key",
            "agency.key",
            "-utf8",
            "-subj",
            "/C=TW/O=財政部臺北國稅局/CN=財政部臺北國稅局 openssl",
            "-out",
            "agency.csr",
        ],
        &dir,
    );
    let (ca_cert, ca_key) = (pki.join("gca.crt"), pki.join("gca.key"));
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "agency.csr",
            "-CA",
            ca_cert.to_str().expect("utf-8"),
            "-CAkey",
            ca_key.to_str().expect("utf-8"),
            "-set_serial",
            "0x5a17",
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "ext",
            "-out",
            "agency.crt",
        ],
        &dir,
    );
    let chain = [
        std::fs::read(dir.join("agency.crt")).expect("cert"),
        std::fs::read(&ca_cert).expect("ca"),
    ]
    .concat();
    std::fs::write(dir.join("chain.crt"), chain).expect("chain");
    let files = ClientFiles {
        certificate: dir.join("chain.crt"),
        private_key: dir.join("agency.key"),
        trust_anchors: vec![pki.join("grca.crt")],
    };

    match system.who_am_i(&files).await.principal {
        Some(Principal::Agency(agency)) => assert_eq!(agency.agency_code, "307010000D"),
        other => panic!("expected the agency, got {other:?}"),
    }
    system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&system.someone()),
            &[("tongdao-purpose", "095")],
        )
        .await
        .expect("the openssl-made certificate can fetch a transcript");
    system.stack.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tongdao-openssl-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
