//! The real `tongdao` binary: the demo, check-config and call, as a person or a script runs them.

use std::process::Command;

use tongdao_cli::sandbox::{ChildStack, Sandbox};

const TONGDAO: &str = env!("CARGO_BIN_EXE_tongdao");

#[test]
fn demo_runs_the_narrated_exchanges() {
    let output = Command::new(TONGDAO)
        .args(["demo", "--households", "10"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "OK  exchange",
        "refused in the TLS handshake",
        "AGENCY_REQUIRED",
        "IDENTITY_MISMATCH",
        "PURPOSE_NOT_ALLOWED",
        "PURPOSE_REQUIRED",
        "NO_MATCHING_RULE",
        "were masked",
        "audit log verified",
        "AGENCY_UNKNOWN",
        "METHOD_UNKNOWN",
        "SUBJECT_INVALID",
        "CONSENT_REQUIRED",
        "OK  with the consent",
        "CONSENT_USED",
        "artefact verified offline",
        "recipe welfare-eligibility",
        "leg members_land",
        "legs ran concurrently",
    ] {
        assert!(
            stdout.contains(expected),
            "demo output lacks {expected:?}:\n{stdout}"
        );
    }
    assert!(!stdout.contains("unexpectedly allowed"), "{stdout}");
}

#[test]
fn check_config_accepts_a_good_file() {
    tongdao_tls::install_crypto_provider();
    let sandbox = Sandbox::create(3).expect("sandbox");
    let output = Command::new(TONGDAO)
        .arg("check-config")
        .arg("--config")
        .arg(sandbox.config_path())
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(
        "OK (broker, adapters.household, adapters.land, adapters.tax, adapters.health, adapters.commerce)"
    ));
}

#[test]
fn check_config_reports_every_problem_and_exits_64() {
    tongdao_tls::install_crypto_provider();
    let sandbox = Sandbox::create(3).expect("sandbox");
    let config = std::fs::read_to_string(sandbox.config_path()).expect("read");
    // Three independent problems: a missing CRL, a garbage agency registry, a bad route package.
    let broken = config
        .replace(
            "pki/gca.crl\", \"pki/moica.crl",
            "pki/gca.crl\", \"pki/missing.crl",
        )
        .replace(
            "package = \"tongdao.household.v1\"",
            "package = \"household\"",
        );
    std::fs::write(
        sandbox.policy_dir().join("agencies.toml"),
        "[[agency]]\ncode = 1\n",
    )
    .expect("write");
    let path = sandbox.root().join("broken.toml");
    std::fs::write(&path, broken).expect("write");
    let output = Command::new(TONGDAO)
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.crl"), "{stderr}");
    assert!(stderr.contains("not a domain package"), "{stderr}");
    let unparsable = Command::new(TONGDAO)
        .arg("check-config")
        .arg("--config")
        .arg(sandbox.root().join("nope.toml"))
        .output()
        .expect("runs");
    assert_eq!(unparsable.status.code(), Some(64));
}

#[tokio::test]
async fn call_prints_json_or_the_reason() {
    tongdao_tls::install_crypto_provider();
    let sandbox = Sandbox::create(5).expect("sandbox");
    let mut sandbox = sandbox;
    let _stack = ChildStack::spawn_binary(std::path::Path::new(TONGDAO), &mut sandbox)
        .await
        .expect("servers start");
    let pki = sandbox.pki();
    let call = |identity: &str, request: String| {
        Command::new(TONGDAO)
            .arg("call")
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
            .arg(pki.join("grca.crt"))
            .args([
                "-H",
                "tongdao-purpose=095",
                "tongdao.household.v1.HouseholdRegistry/GetTranscript",
            ])
            .arg(request)
            .output()
            .expect("runs")
    };
    let subject = &sandbox.subject_ids()[0];
    let ok = call(
        "agencies/taipei-tax",
        format!("{{\"nationalId\":\"{subject}\"}}"),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("stdout is JSON");
    assert_eq!(
        json["householdNumber"].as_str().map(str::len),
        Some(8),
        "{json}"
    );

    let refused = call(
        "citizens/valid",
        format!("{{\"nationalId\":\"{subject}\"}}"),
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    // The citizen's own transcript is a self-access service, for purpose 073 only.
    assert!(
        stderr.contains("PermissionDenied") && stderr.contains("PURPOSE_NOT_ALLOWED"),
        "{stderr}"
    );

    let bad_json = call("agencies/taipei-tax", "{\"nationalID\": 1".to_owned());
    assert_eq!(
        bad_json.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&bad_json.stderr)
    );
}

#[test]
fn policy_tools_pass_on_the_shipped_policy() {
    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let lint = Command::new(TONGDAO)
        .args(["policy", "lint"])
        .arg(&policies)
        .output()
        .expect("runs");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    assert!(String::from_utf8_lossy(&lint.stdout).contains("no problems"));
    let test = Command::new(TONGDAO)
        .args(["policy", "test"])
        .arg(&policies)
        .output()
        .expect("runs");
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stdout)
    );
    assert!(String::from_utf8_lossy(&test.stdout).contains(" 0 failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_runs_a_recipe_printing_each_leg_and_exits_2_on_partial_results() {
    use tongdao_cli::recipes;
    tongdao_tls::install_crypto_provider();
    let mut sandbox = Sandbox::create(5).expect("sandbox");
    let _stack = ChildStack::spawn_binary(std::path::Path::new(TONGDAO), &mut sandbox)
        .await
        .expect("servers start");
    let policy = recipes::sandbox_policy(&sandbox).expect("policy");
    let recipe = policy.recipe("welfare-eligibility").expect("shipped");
    let input = recipes::sandbox_input(&sandbox, recipe);
    let pki = sandbox.pki();
    let run = |headers: &[String]| {
        let mut command = Command::new(TONGDAO);
        command
            .arg("call")
            .args(["--addr", &sandbox.broker_addr().to_string()])
            .args(["--server-name", sandbox.broker_server_name()])
            .arg("--cert")
            .arg(pki.join("agencies/taipei-welfare.crt"))
            .arg("--key")
            .arg(pki.join("agencies/taipei-welfare.key"))
            .arg("--ca")
            .arg(pki.join("grca.crt"))
            .args(["--recipe", "welfare-eligibility"]);
        for (name, value) in &input {
            command.args(["--input", &format!("{name}={value}")]);
        }
        for header in headers {
            command.args(["-H", header]);
        }
        command.output().expect("runs")
    };

    // Without the applicant's consent: the consent legs are refused, the others answer.
    let partial = run(&[]);
    assert_eq!(
        partial.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&partial.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&partial.stdout).expect("stdout is JSON");
    assert_eq!(json["recipe"], "welfare-eligibility");
    let household = &json["legs"][0];
    assert_eq!(household["leg"], "household");
    assert_eq!(
        household["calls"][0]["response"]["@type"],
        "type.googleapis.com/tongdao.household.v1.Transcript",
        "each answer is printed as its own message type"
    );
    let summary = String::from_utf8_lossy(&partial.stderr);
    assert!(summary.contains("applicant_income") && summary.contains("CONSENT_REQUIRED"));

    // With the consent every leg answers.
    let consent = recipes::grant_consent(
        &sandbox,
        recipes::consent_request(&sandbox, recipe, "379010000A"),
    )
    .await
    .expect("consent");
    let complete = run(&[format!("tongdao-consent={consent}")]);
    assert!(
        complete.status.success(),
        "{}",
        String::from_utf8_lossy(&complete.stderr)
    );
    assert!(!String::from_utf8_lossy(&complete.stderr).contains("CONSENT_REQUIRED"));
}
