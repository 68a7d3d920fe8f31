//! Append, close, reopen, append more, prove, search and verify: the happy path end to end,
//! across a segment boundary, with interop checks against independent C2SP code.

mod common;

use common::*;
use tongdao_audit::{
    AuditError, AuditRecord, LogReader, Options, Query, Receipt, SEGMENT_ENTRIES, SubjectPseudonym,
    Timestamp, leaf_hash, search, verify, verify_consistency, verify_inclusion,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_recover_prove_search_verify() {
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = signer();
    let key = signer.verifier().expect("verifier");
    let first = SEGMENT_ENTRIES + 1000;
    let total = first + 500;

    let log = open(dir.path(), &signer, Options::default());
    let appended = append_all(&log, 0..first).await;
    for (i, a) in appended.iter().enumerate() {
        assert_eq!(a.index, i as u64);
        assert_eq!(
            a.leaf_hash,
            leaf_hash(&record(i as u64).encode().expect("encodes"))
        );
        assert!(a.tree_size > a.index);
    }
    // A receipt carries a signed checkpoint containing the record; it survives the
    // trailer encoding and its inclusion proof checks.
    let last = appended[appended.len() - 1];
    let receipt = log.receipt(&last).expect("receipt");
    let decoded = Receipt::decode(&receipt.encode(), &key).expect("receipt decodes");
    assert_eq!(decoded, receipt);
    let stranger = common::signer().verifier().expect("verifier");
    assert!(
        Receipt::decode(&receipt.encode(), &stranger).is_err(),
        "another log's key"
    );
    let proof = log
        .inclusion_proof(last.index, receipt.checkpoint.checkpoint().size)
        .expect("proof");
    receipt
        .verify_inclusion(&proof)
        .expect("receipt proves inclusion");
    let persisted = log.checkpoint().await.expect("checkpoint");
    assert_eq!(persisted.checkpoint().size, first);
    log.close();

    // Reopen: the log continues where it stopped.
    let log = open(dir.path(), &signer, Options::default());
    assert_eq!(log.size(), first);
    let more = append_all(&log, first..total).await;
    assert_eq!(more[0].index, first);
    let old_root = log.root(first).expect("old root");
    let new_root = log.root(total).expect("new root");
    let consistency = log.consistency_proof(first, total).expect("consistency");
    verify_consistency(&consistency, first, total, &old_root, &new_root).expect("consistent");
    assert!(log.append(&record(0)).await.is_ok());
    log.close();
    let total = total + 1;

    // Offline reader: proofs against the signed checkpoint, from tiles on disk.
    let reader = LogReader::open(dir.path()).expect("reader");
    assert_eq!(reader.size(), total);
    let head = reader
        .checkpoint()
        .expect("checkpoint")
        .checkpoint()
        .clone();
    assert_eq!(head.size, total);
    for index in [0, 255, 256, SEGMENT_ENTRIES - 1, SEGMENT_ENTRIES, total - 1] {
        let proof = reader.inclusion_proof(index, head.size).expect("proof");
        let entry = reader.entry(index).expect("entry");
        verify_inclusion(&proof, index, head.size, &leaf_hash(&entry), &head.root)
            .expect("inclusion checks");
    }
    assert!(matches!(
        reader.inclusion_proof(total, total),
        Err(AuditError::OutOfRange { .. })
    ));

    // The checkpoint is a standard C2SP checkpoint in a standard signed note.
    let note = std::fs::read(dir.path().join("checkpoint")).expect("checkpoint file");
    let text_end = note
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("note text")
        + 1;
    let parsed = tlog_tiles::Checkpoint::from_bytes(&note[..text_end]).expect("C2SP parses");
    assert_eq!(parsed.size(), total);
    assert_eq!(parsed.hash().0, head.root.0);
    assert!(dir.path().join("tile/0/000").is_file());
    assert!(dir.path().join("tile/1/000").is_file());
    assert!(dir.path().join("tile/entries/000").is_file());
    // Entry bundles hold the same bytes as the segments.
    let bundle = std::fs::read(dir.path().join("tile/entries/000")).expect("bundle");
    let first_len = u16::from_be_bytes([bundle[0], bundle[1]]) as usize;
    assert_eq!(
        &bundle[2..2 + first_len],
        reader.entry(0).expect("entry").as_slice()
    );

    // Search by each field.
    let subject = SubjectPseudonym::derive(&PSEUDONYM_KEY, &national_id(7));
    let by_subject: Vec<_> = search(
        dir.path(),
        &Query {
            subject: Some(subject),
            ..Query::default()
        },
    )
    .expect("search")
    .collect::<Result<_, _>>()
    .expect("records");
    assert_eq!(
        by_subject.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![14, 15]
    );
    let exchange_id = format!("0190b8a4-7c5e-7c2a-9f1e-{:012x}", 7);
    let count = |query: Query| search(dir.path(), &query).expect("search").count();
    assert_eq!(
        count(Query {
            exchange_id: Some(exchange_id.to_uppercase()),
            ..Query::default()
        }),
        2
    );
    assert_eq!(
        count(Query {
            outcome: Some("record_not_found".into()),
            until: Some(Timestamp::from_unix_micros(1_767_225_600_000_000 + 100_000)),
            ..Query::default()
        }),
        10
    );
    assert_eq!(
        count(Query {
            service: Some("HouseholdRegistry/GetTranscript".into()),
            agency: Some("A-TAX".into()),
            purpose: Some("095".into()),
            since: Some(Timestamp::from_unix_micros(1_767_225_600_000_000)),
            until: Some(Timestamp::from_unix_micros(1_767_225_600_000_000 + 12_000)),
            ..Query::default()
        }),
        // Exchanges 0..6 (records 0..12): A-TAX with purpose 095 is exchange 1 only.
        2
    );
    let found = search(
        dir.path(),
        &Query {
            trace_id: Some(format!("{:032x}", 0x4bf9_2f35_77b3_4da6u64 ^ 3)),
            ..Query::default()
        },
    )
    .expect("search")
    .next()
    .expect("found")
    .expect("record");
    assert!(matches!(found.record, AuditRecord::ExchangeIntent(_)));
    assert_eq!(found.index, 6);

    // And the whole log verifies, with progress reported.
    let mut calls = 0;
    let report = verify(dir.path(), &key, |done, all| {
        assert!(done <= all);
        calls += 1;
    })
    .expect("verifies");
    assert_eq!(report.entries, total);
    assert_eq!(report.unsigned_entries, 0);
    assert_eq!(report.tiles_missing, 0);
    assert!(
        report.checkpoints >= 2,
        "one per sealed segment plus the latest"
    );
    assert!(calls >= 2);

    // Stale or missing derived files (a power cut loses unsynced tile writes): `open`
    // rebuilds them from the segments.
    let level1 = dir.path().join("tile/1/000");
    let mut stale = std::fs::read(&level1).expect("level-1 tile");
    stale[100] ^= 0xff;
    std::fs::write(&level1, &stale).expect("write");
    std::fs::remove_file(dir.path().join("tile/0/005")).expect("remove level-0 tile");
    let log = open(dir.path(), &signer, Options::default());
    assert_eq!(log.size(), total);
    log.close();
    assert_ne!(std::fs::read(&level1).expect("rebuilt"), stale);
    let report = verify(dir.path(), &key, |_, _| {}).expect("verifies after rebuild");
    assert_eq!(report.tiles_missing, 0);
}

#[tokio::test]
async fn a_second_writer_is_refused_and_a_wrong_key_or_origin_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = signer();
    let log = open(dir.path(), &signer, Options::default());
    append_all(&log, 0..3).await;
    assert!(matches!(
        tongdao_audit::AuditLog::open(dir.path(), signer.clone(), ORIGIN),
        Err(AuditError::Locked(_))
    ));
    log.close();
    assert!(matches!(
        tongdao_audit::AuditLog::open(dir.path(), common::signer(), ORIGIN),
        Err(AuditError::Corrupt { .. })
    ));
    assert!(matches!(
        tongdao_audit::AuditLog::open(dir.path(), signer, "another.origin/log"),
        Err(AuditError::Corrupt { .. })
    ));
}
