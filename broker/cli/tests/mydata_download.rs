//! The real `tongdao my-data download`: a citizen downloads their own records through a broker
//! run by the real binary, one JSON file per kind; another person's ID downloads nothing
//! (IDENTITY_MISMATCH for every kind, exit 1); an invalid ID is refused before any call (64).

use std::process::{Command, Output};

use tongdao_cli::sandbox::{ChildStack, Sandbox};

const TONGDAO: &str = env!("CARGO_BIN_EXE_tongdao");

fn download(sandbox: &Sandbox, national_id: &str, out: &std::path::Path) -> Output {
    let pki = sandbox.pki();
    Command::new(TONGDAO)
        .args(["my-data", "download", "--addr"])
        .arg(sandbox.broker_addr().to_string())
        .args(["--server-name", sandbox.broker_server_name()])
        .arg("--cert")
        .arg(pki.join("citizens/valid.crt"))
        .arg("--key")
        .arg(pki.join("citizens/valid.key"))
        .arg("--ca")
        .arg(pki.join("grca.crt"))
        .args([
            "--national-id",
            national_id,
            "--year",
            "112",
            "--year",
            "113",
        ])
        .arg("--out")
        .arg(out)
        .output()
        .expect("runs")
}

#[tokio::test]
async fn my_data_download_writes_the_citizens_records() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = Sandbox::create(20).expect("sandbox");
    let _stack = ChildStack::spawn_binary(std::path::Path::new(TONGDAO), &mut sandbox)
        .await
        .expect("servers start");
    let me = sandbox.citizen_id().to_owned();
    let out = sandbox.root().join("my-records");

    let done = download(&sandbox, &me, &out);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    for kind in [
        "household-transcript",
        "land-holdings",
        "tax-income",
        "health-visits",
    ] {
        assert!(stdout.contains(kind), "{stdout}");
        let text = std::fs::read_to_string(out.join(format!("{kind}.json"))).expect(kind);
        let _: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    }

    let other = sandbox
        .subject_ids()
        .iter()
        .find(|id| id[6..] != me[6..])
        .expect("someone else")
        .clone();
    let refused = download(&sandbox, &other, &sandbox.root().join("other"));
    assert_eq!(refused.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(stdout.matches("IDENTITY_MISMATCH").count(), 7, "{stdout}");
    assert!(
        std::fs::read_dir(sandbox.root().join("other"))
            .expect("made")
            .next()
            .is_none(),
        "nothing written for someone else"
    );

    let invalid = download(&sandbox, "A123456788", &sandbox.root().join("invalid"));
    assert_eq!(invalid.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("not a valid national ID"));
}
