//! The real `tongdao my-data log`: a citizen lists the exchanges about them against a broker run
//! by the real binary, every proof and the checkpoint's signature verified; a deferred access
//! is counted as withheld; an agency certificate is refused.

use std::process::{Command, Output};

use tongdao_cli::sandbox::{ChildStack, Sandbox};

const TONGDAO: &str = env!("CARGO_BIN_EXE_tongdao");

fn connection(command: &mut Command, sandbox: &Sandbox, identity: &str) {
    let pki = sandbox.pki();
    command
        .args([
            "--addr",
            &sandbox.broker_addr().to_string(),
            "--server-name",
            sandbox.broker_server_name(),
        ])
        .arg("--cert")
        .arg(pki.join(format!("{identity}.crt")))
        .arg("--key")
        .arg(pki.join(format!("{identity}.key")))
        .arg("--ca")
        .arg(pki.join("grca.crt"));
}

fn transcript(sandbox: &Sandbox, agency: &str, purpose: &str, national_id: &str) -> Output {
    let mut command = Command::new(TONGDAO);
    command.arg("call");
    connection(&mut command, sandbox, &format!("agencies/{agency}"));
    command
        .args([
            "-H",
            &format!("tongdao-purpose={purpose}"),
            "tongdao.household.v1.HouseholdRegistry/GetTranscript",
        ])
        .arg(format!("{{\"nationalId\":\"{national_id}\"}}"))
        .output()
        .expect("runs")
}

fn log(sandbox: &Sandbox, identity: &str, national_id: &str) -> Output {
    let mut command = Command::new(TONGDAO);
    command.args(["my-data", "log"]);
    connection(&mut command, sandbox, identity);
    command
        .args(["--national-id", national_id])
        .arg("--log-key")
        .arg(sandbox.audit_public_key())
        .output()
        .expect("runs")
}

#[tokio::test]
async fn my_data_log_lists_verifies_and_withholds() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = Sandbox::create(5).expect("sandbox");
    let _stack = ChildStack::spawn_binary(std::path::Path::new(TONGDAO), &mut sandbox)
        .await
        .expect("servers start");
    let me = sandbox.citizen_id().to_owned();
    let other = sandbox
        .subject_ids()
        .iter()
        .find(|id| **id != me)
        .expect("someone else")
        .clone();
    // Whether or not the transcript is found, each call is an exchange about its subject.
    transcript(&sandbox, "taipei-welfare", "057", &me);
    let deferred = transcript(&sandbox, "taipei-tax", "095", &me);
    assert!(
        deferred.status.success(),
        "{}",
        String::from_utf8_lossy(&deferred.stderr)
    );
    transcript(&sandbox, "taipei-welfare", "057", &other);

    let listed = log(&sandbox, "citizens/valid", &me);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    for expected in [
        "1 exchange(s) about you",
        "379010000A 臺北市政府社會局",
        "household-transcript-welfare",
        "社會救助法第5條",
        "1 entries withheld until ",
        "verified: 2 record(s) proven",
        "signature verified",
    ] {
        assert!(stdout.contains(expected), "lacks {expected:?}:\n{stdout}");
    }

    let refused = log(&sandbox, "agencies/taipei-tax", &me);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("CITIZEN_REQUIRED"), "{stderr}");
}
