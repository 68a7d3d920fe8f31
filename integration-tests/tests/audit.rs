//! Every exchange through the real broker is in the audit log: allowed ones as an intent and a
//! completion whose receipt comes back in the trailers and verifies against the log's key,
//! refused ones as a denial with their reason; the log verifies, and holds no national ID.

use tongdao_audit::{AuditRecord, Query, Receipt, VerifierKey};
use tongdao_integration_tests::{GET_TRANSCRIPT, System, transcript_request};

fn records_of(dir: &std::path::Path, exchange_id: &str) -> Vec<AuditRecord> {
    let query = Query {
        exchange_id: Some(exchange_id.to_owned()),
        ..Query::default()
    };
    tongdao_audit::search(dir, &query)
        .expect("search")
        .map(|found| found.expect("readable").record)
        .collect()
}

#[tokio::test]
async fn exchanges_and_denials_are_recorded_with_verifiable_receipts() {
    let system = System::start().await;
    let files = system.sandbox.agency_files("taipei-tax");
    let subject = system.someone();

    // Allowed: the receipt comes back and verifies against the log's public key.
    let (_, metadata) = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&subject),
            &[("tongdao-purpose", "095")],
        )
        .await
        .expect("allowed");
    let exchange_id = metadata
        .get("tongdao-exchange-id")
        .and_then(|v| v.to_str().ok())
        .expect("id")
        .to_owned();
    let receipt_text = metadata
        .get("tongdao-receipt")
        .and_then(|v| v.to_str().ok())
        .expect("receipt");
    let key = VerifierKey::from_file(&system.sandbox.audit_public_key()).expect("public key");
    let receipt = Receipt::decode(receipt_text, &key).expect("a receipt signed by the log");
    let reader = tongdao_audit::LogReader::open(&system.sandbox.audit_dir()).expect("reader");
    let proof = reader
        .inclusion_proof(receipt.index, receipt.checkpoint.checkpoint().size)
        .expect("proof");
    receipt
        .verify_inclusion(&proof)
        .expect("the completion record is in the log");

    // Refused: recorded as a denial with its reason.
    let refused = system
        .call(
            &files,
            GET_TRANSCRIPT,
            transcript_request(&subject),
            &[("tongdao-purpose", "057")],
        )
        .await
        .expect_err("purpose not allowed");
    let refused_id = refused
        .metadata()
        .get("tongdao-exchange-id")
        .and_then(|v| v.to_str().ok())
        .expect("id")
        .to_owned();
    let System { sandbox, stack } = system;
    stack.stop().await;
    let dir = sandbox.audit_dir();

    let kinds: Vec<&str> = records_of(&dir, &exchange_id)
        .iter()
        .map(AuditRecord::kind)
        .collect();
    assert_eq!(kinds.len(), 2, "intent and completion: {kinds:?}");
    let denial = records_of(&dir, &refused_id);
    assert_eq!(denial.len(), 1, "one denial record");
    let outcome = denial[0].outcome().expect("outcome");
    assert_eq!(outcome.reason.as_deref(), Some("PURPOSE_NOT_ALLOWED"));

    let report = tongdao_audit::verify(&dir, &key, |_, _| {}).expect("the log verifies");
    drop(report);

    // Records, tiles and checkpoints hold pseudonyms, never the national ID itself.
    let mut pending = vec![dir];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                let found = bytes
                    .windows(subject.len())
                    .any(|w| w == subject.as_bytes());
                assert!(!found, "national ID in clear in {}", path.display());
            }
        }
    }
}

#[tokio::test]
async fn audit_api_is_for_auditors_only() {
    use tongdao_schemas::v1::{AuditSearchRequest, AuditSearchResponse, CheckpointResponse};
    let system = System::start().await;
    let subject = system.someone();
    let (_, metadata) = system
        .call(
            &system.sandbox.agency_files("taipei-tax"),
            GET_TRANSCRIPT,
            transcript_request(&subject),
            &[("tongdao-purpose", "095")],
        )
        .await
        .expect("allowed");
    let exchange_id = metadata
        .get("tongdao-exchange-id")
        .and_then(|v| v.to_str().ok())
        .expect("id")
        .to_owned();

    // The tax office holds no auditor role.
    let search =
        |request: AuditSearchRequest| bytes::Bytes::from(prost::Message::encode_to_vec(&request));
    let by_id = AuditSearchRequest {
        exchange_id: exchange_id.clone(),
        ..Default::default()
    };
    let refused = system
        .call(
            &system.sandbox.agency_files("taipei-tax"),
            "tongdao.v1.Audit/Search",
            search(by_id.clone()),
            &[],
        )
        .await;
    tongdao_integration_tests::assert_refused(
        refused,
        tonic::Code::PermissionDenied,
        tongdao_core::Reason::RoleRequired,
    );

    // NDC does: by exchange id, and by the subject's national ID (hashed by the broker).
    let auditor = system.sandbox.agency_files("ndc");
    let (body, _) = system
        .call(&auditor, "tongdao.v1.Audit/Search", search(by_id), &[])
        .await
        .expect("auditor");
    let found = <AuditSearchResponse as prost::Message>::decode(body).expect("decodes");
    assert_eq!(found.entries.len(), 2, "intent and completion");
    assert!(
        found
            .entries
            .iter()
            .all(|e| !e.record_json.contains(&subject)),
        "no ID in clear"
    );
    let by_subject = AuditSearchRequest {
        national_id: subject.clone(),
        ..Default::default()
    };
    let (body, _) = system
        .call(&auditor, "tongdao.v1.Audit/Search", search(by_subject), &[])
        .await
        .expect("auditor");
    let found = <AuditSearchResponse as prost::Message>::decode(body).expect("decodes");
    assert!(
        found.entries.len() >= 2,
        "the subject's exchange is found by national ID"
    );

    let (body, _) = system
        .call(
            &auditor,
            "tongdao.v1.Audit/GetCheckpoint",
            bytes::Bytes::new(),
            &[],
        )
        .await
        .expect("checkpoint");
    let checkpoint = <CheckpointResponse as prost::Message>::decode(body).expect("decodes");
    assert!(
        checkpoint
            .signed_note
            .starts_with(tongdao_cli::sandbox::AUDIT_ORIGIN)
    );
    assert!(checkpoint.tree_size >= 2);
    system.stack.stop().await;
}
