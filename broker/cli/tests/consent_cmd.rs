//! The real `tongdao consent`: a citizen grants, lists and revokes a consent against a broker
//! run by the real binary; the welfare office's `tongdao call` succeeds with it and is refused
//! once it is revoked; `tongdao consent verify` checks the artefact offline and rejects a
//! tampered copy; an agency certificate cannot grant.

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

fn consent(sandbox: &Sandbox, identity: &str, args: &[&str]) -> Output {
    let mut command = Command::new(TONGDAO);
    command.args(["consent", args[0]]);
    connection(&mut command, sandbox, identity);
    command
        .args(["--national-id", sandbox.citizen_id()])
        .args(&args[1..])
        .output()
        .expect("runs")
}

fn income(sandbox: &Sandbox, consent: &str) -> Output {
    let mut command = Command::new(TONGDAO);
    command.arg("call");
    connection(&mut command, sandbox, "agencies/taipei-welfare");
    command
        .args([
            "-H",
            "tongdao-purpose=057",
            "-H",
            &format!("tongdao-consent={consent}"),
            "tongdao.tax.v1.TaxRegistry/ListIncome",
        ])
        .arg(format!(
            "{{\"nationalId\":\"{}\",\"incomeYearRoc\":113}}",
            sandbox.citizen_id()
        ))
        .output()
        .expect("runs")
}

fn verify(sandbox: &Sandbox, artefact: &str) -> Output {
    Command::new(TONGDAO)
        .args(["consent", "verify", artefact, "--key"])
        .arg(sandbox.consent_public_key())
        .output()
        .expect("runs")
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn consent_grant_list_verify_revoke() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = Sandbox::create(5).expect("sandbox");
    let stack = ChildStack::spawn_binary(std::path::Path::new(TONGDAO), &mut sandbox)
        .await
        .expect("servers start");
    let granted = consent(
        &sandbox,
        "citizens/valid",
        &[
            "grant",
            "--grantee",
            "379010000A",
            "--service",
            "/tongdao.tax.v1.TaxRegistry/ListIncome",
            "--field",
            "income_year_roc",
            "--field",
            "earner_name",
            "--field",
            "items",
            "--purpose",
            "057",
            "--valid-for-days",
            "7",
        ],
    );
    assert!(granted.status.success(), "{}", text(&granted));
    let entry: serde_json::Value = serde_json::from_slice(&granted.stdout).expect("JSON");
    let id = entry["consent_id"].as_str().expect("id").to_owned();
    let artefact = entry["artefact"].as_str().expect("artefact").to_owned();
    assert_eq!(entry["status"], "ACTIVE");

    let used = income(&sandbox, &id);
    assert!(used.status.success(), "{}", text(&used));

    let listed = consent(&sandbox, "citizens/valid", &["list"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(listed["consents"][0]["consent_id"], id.as_str());

    // Offline: no broker involved, only the published key.
    let verified = verify(&sandbox, &artefact);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).contains(&id));
    let mut tampered = artefact.into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = verify(&sandbox, &String::from_utf8(tampered).expect("ascii"));
    assert_eq!(tampered.status.code(), Some(1), "{}", text(&tampered));
    assert!(text(&tampered).contains("NOT VALID"), "{}", text(&tampered));

    let revoked = consent(&sandbox, "citizens/valid", &["revoke", &id]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    let refused = income(&sandbox, &id);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("CONSENT_REVOKED"),
        "{}",
        text(&refused)
    );

    let agency = consent(&sandbox, "agencies/taipei-tax", &["list"]);
    assert_eq!(agency.status.code(), Some(1), "{}", text(&agency));
    assert!(
        text(&agency).contains("CITIZEN_REQUIRED"),
        "{}",
        text(&agency)
    );
    drop(stack);
}
