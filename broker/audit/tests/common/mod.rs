//! Shared helpers for the audit log's integration tests.
#![allow(dead_code)]

use std::path::Path;

use tongdao_audit::{
    AuditLog, AuditRecord, CertificateId, Client, ExchangeCompletion, ExchangeContext,
    ExchangeIntent, LogSigner, Options, Outcome, Permit, Sha256Digest, SubjectPseudonym, Timestamp,
};

pub(crate) const ORIGIN: &str = "audit.tongdao.test/log";
pub(crate) const PSEUDONYM_KEY: [u8; 32] = [0x5a; 32];

pub(crate) fn signer() -> LogSigner {
    let pair = LogSigner::generate(ORIGIN).expect("key pair");
    LogSigner::from_text(&pair.signing_key).expect("signing key parses")
}

pub(crate) fn open(dir: &Path, signer: &LogSigner, options: Options) -> AuditLog {
    AuditLog::open_with(dir, signer.clone(), ORIGIN, options).expect("log opens")
}

/// A national ID of the right shape for number `i` (checksum not needed here).
pub(crate) fn national_id(i: u64) -> String {
    let letter = (b'A' + (i % 26) as u8) as char;
    let sex = if i.is_multiple_of(2) { '1' } else { '2' };
    format!("{letter}{sex}{:08}", i % 100_000_000)
}

/// A realistic record: intents for even `i`, completions for odd.
pub(crate) fn record(i: u64) -> AuditRecord {
    let exchange = ExchangeContext {
        exchange_id: format!("0190b8a4-7c5e-7c2a-9f1e-{:012x}", i / 2),
        trace_id: Some(format!("{:032x}", 0x4bf9_2f35_77b3_4da6u64 ^ (i / 2))),
        client: Client::Agency {
            agency: ["A-LAND", "A-TAX", "A-NHI"][(i / 2 % 3) as usize].into(),
            subsystem: Some("counter".into()),
            certificate: CertificateId {
                serial: format!("{:016x}", i % 7),
                issuer: "CN=Government Certification Authority (test), O=Tongdao, C=TW".into(),
            },
        },
        service: "/tongdao.household.v1.HouseholdRegistry/GetTranscript".into(),
        purpose: Some(["015", "095"][(i / 2 % 2) as usize].into()),
        subject: Some(SubjectPseudonym::derive(
            &PSEUDONYM_KEY,
            &national_id(i / 2),
        )),
        consent_id: None,
        recipe: None,
    };
    let at = Timestamp::from_unix_micros(1_767_225_600_000_000 + i as i64 * 1_000);
    if i.is_multiple_of(2) {
        AuditRecord::ExchangeIntent(ExchangeIntent {
            at,
            exchange,
            permit: Permit {
                rule_id: "land-reads-household-transcript".into(),
                policy_version: "2026-01-01.1".into(),
                disclosed_from: None,
            },
            request_digest: Sha256Digest::of(&i.to_be_bytes()),
        })
    } else {
        AuditRecord::ExchangeCompletion(ExchangeCompletion {
            at,
            exchange,
            released: vec!["C001".into(), "C011".into()],
            outcome: if i % 10 == 9 {
                Outcome {
                    code: 5,
                    reason: Some("RECORD_NOT_FOUND".into()),
                }
            } else {
                Outcome::ok()
            },
            latency_us: 420 + i % 100,
            response_digest: Some(Sha256Digest::of(&(i * 3).to_be_bytes())),
        })
    }
}

/// Appends records `range` concurrently (all enqueued before any is awaited) and returns
/// their acknowledgements in order.
pub(crate) async fn append_all(
    log: &AuditLog,
    range: std::ops::Range<u64>,
) -> Vec<tongdao_audit::Appended> {
    let futures: Vec<_> = range.map(|i| log.append(&record(i))).collect();
    let mut appended = Vec::with_capacity(futures.len());
    for future in futures {
        appended.push(future.await.expect("append is acknowledged"));
    }
    appended
}
