//! Disk full: when the audit log's filesystem fills up, the broker fails closed with
//! AUDIT_UNAVAILABLE and reports NOT_SERVING; when space returns it serves again; and nothing
//! it acknowledged is lost. The log lives on a small tmpfs mounted for the test (root only;
//! skipped with a note where mounting is not allowed).

use std::{collections::HashSet, path::PathBuf, process::Command, time::Duration};

use prost::Message as _;
use tongdao_cli::sandbox::{InProcessStack, Sandbox};
use tongdao_integration_tests::{GET_TRANSCRIPT, transcript_request};

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Option<Self> {
        std::fs::create_dir_all(&at).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .status()
            .ok()?;
        status.success().then_some(Self(at))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("mount");
        assert!(status.success(), "remount");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn full_disk_fails_closed_and_recovers_without_losing_acknowledged_records() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = Sandbox::create(5).expect("sandbox");
    let Some(tmpfs) = Tmpfs::mount(sandbox.audit_dir(), "384k") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return;
    };
    let stack = InProcessStack::start(&mut sandbox).await.expect("stack");
    let files = sandbox.agency_files("taipei-tax");
    let channel = tongdao_cli::client::channel(
        &files,
        &sandbox.broker_addr().to_string(),
        Some(sandbox.broker_server_name()),
    )
    .expect("channel");
    let metadata = [("tongdao-purpose".to_owned(), "095".to_owned())];
    let call = || {
        tongdao_cli::client::unary(
            channel.clone(),
            GET_TRANSCRIPT,
            transcript_request(&sandbox.subject_ids()[0]),
            &metadata,
            Some(Duration::from_secs(5)),
        )
    };

    // Fill the disk: answers stop with AUDIT_UNAVAILABLE, never with data served unlogged.
    let mut answered = HashSet::new();
    let mut refused = None;
    for _ in 0..5_000 {
        match call().await {
            Ok((_, metadata)) => {
                let id = metadata
                    .get("tongdao-exchange-id")
                    .and_then(|v| v.to_str().ok())
                    .expect("id");
                answered.insert(id.to_owned());
            }
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("the full disk stops the broker from answering");
    assert_eq!(
        tongdao_core::Rejection::reason_of(&refused),
        Some(tongdao_core::Reason::AuditUnavailable),
        "{refused:?}"
    );
    assert!(!answered.is_empty());

    // Health says so.
    let health = || async {
        let request = bytes::Bytes::from(
            tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            }
            .encode_to_vec(),
        );
        let (body, _) = tongdao_cli::client::unary(
            channel.clone(),
            "grpc.health.v1.Health/Check",
            request,
            &[],
            None,
        )
        .await
        .expect("health answers");
        tonic_health::pb::HealthCheckResponse::decode(body)
            .expect("decodes")
            .status
    };
    let mut not_serving = false;
    for _ in 0..40 {
        if health().await
            == tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
        {
            not_serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        not_serving,
        "health reports NOT_SERVING while the log cannot be written"
    );

    // Space returns: the broker serves again by itself.
    tmpfs.resize("64m");
    let mut recovered = false;
    for _ in 0..50 {
        if let Ok((_, metadata)) = call().await {
            let id = metadata
                .get("tongdao-exchange-id")
                .and_then(|v| v.to_str().ok())
                .expect("id");
            answered.insert(id.to_owned());
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "the broker answers again once the disk has space"
    );
    stack.stop().await;

    // Nothing acknowledged was lost, and the log verifies.
    let mut completed = HashSet::new();
    for found in tongdao_audit::search(&sandbox.audit_dir(), &tongdao_audit::Query::default())
        .expect("search")
    {
        if let tongdao_audit::AuditRecord::ExchangeCompletion(c) = found.expect("readable").record {
            completed.insert(c.exchange.exchange_id);
        }
    }
    let missing = answered.difference(&completed).count();
    assert_eq!(
        missing, 0,
        "{missing} acknowledged exchanges missing from the log"
    );
    let key = tongdao_audit::VerifierKey::from_file(&sandbox.audit_public_key()).expect("key");
    tongdao_audit::verify(&sandbox.audit_dir(), &key, |_, _| {}).expect("the log verifies");
    drop(tmpfs);
}
