use tongdao_audit::{
    AuditRecord, CertificateId, Client, Denial, ExchangeCompletion, ExchangeContext,
    ExchangeIntent, Found, Outcome, Permit, Sha256Digest, SubjectPseudonym, Timestamp,
};
use tongdao_core::{Agency, Citizen, Principal, Reason, ids::NationalId};

use super::{list, own_national_id};

const DAY_MICROS: i64 = 86_400_000_000;

fn shipped_policy() -> tongdao_policy::Policy {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    crate::policy::load(&dir).expect("the shipped policy compiles")
}

fn context(exchange_id: &str, agency: &str, purpose: &str) -> ExchangeContext {
    ExchangeContext {
        exchange_id: exchange_id.into(),
        trace_id: None,
        client: Client::Agency {
            agency: agency.into(),
            subsystem: None,
            certificate: CertificateId {
                serial: "01".into(),
                issuer: "CN=GCA".into(),
            },
        },
        service: "/tongdao.household.v1.HouseholdRegistry/GetTranscript".into(),
        purpose: Some(purpose.into()),
        subject: Some(SubjectPseudonym::derive(&[7; 32], "A123456789")),
        consent_id: None,
        recipe: None,
    }
}

fn allowed(
    index: u64,
    exchange_id: &str,
    agency: &str,
    purpose: &str,
    rule: &str,
    at: Timestamp,
    disclosed_from: Option<Timestamp>,
) -> [Found; 2] {
    [
        Found {
            index,
            record: AuditRecord::ExchangeIntent(ExchangeIntent {
                at,
                exchange: context(exchange_id, agency, purpose),
                permit: Permit {
                    rule_id: rule.into(),
                    policy_version: "v".into(),
                    disclosed_from,
                },
                request_digest: Sha256Digest::of(b"q"),
            }),
        },
        Found {
            index: index + 1,
            record: AuditRecord::ExchangeCompletion(ExchangeCompletion {
                at,
                exchange: context(exchange_id, agency, purpose),
                released: vec!["C001".into(), "C011".into()],
                outcome: Outcome::ok(),
                latency_us: 10,
                response_digest: Some(Sha256Digest::of(b"r")),
            }),
        },
    ]
}

fn denied(index: u64, exchange_id: &str, at: Timestamp) -> Found {
    Found {
        index,
        record: AuditRecord::Denial(Denial {
            at,
            exchange: context(exchange_id, "307010000D", "015"),
            policy_version: Some("v".into()),
            outcome: Outcome {
                code: 7,
                reason: Some("PURPOSE_NOT_ALLOWED".into()),
            },
            latency_us: 5,
            request_digest: None,
        }),
    }
}

#[test]
fn a_deferred_access_is_withheld_until_its_date_and_then_listed() {
    let policy = shipped_policy();
    let t0 = Timestamp::from_unix_micros(1_790_000_000_000_000);
    let release = Timestamp::from_unix_micros(t0.unix_micros() + 90 * DAY_MICROS);
    let mut found = Vec::new();
    found.extend(allowed(
        0,
        "e-civil",
        "301000000A",
        "015",
        "household-transcript-civil-affairs",
        t0,
        None,
    ));
    found.extend(allowed(
        2,
        "e-tax",
        "307010000D",
        "095",
        "household-transcript-tax-095",
        t0,
        Some(release),
    ));
    found.push(denied(4, "e-denied", t0));

    let now = list(found.clone(), &policy, t0);
    let ids: Vec<_> = now.entries.iter().map(|e| e.exchange_id.as_str()).collect();
    assert_eq!(ids, ["e-civil", "e-denied"]);
    assert_eq!(now.withheld, 1);
    assert_eq!(now.withheld_until, Some(release));
    let civil = &now.entries[0];
    assert!(civil.allowed);
    assert_eq!(civil.agency_code, "301000000A");
    assert!(!civil.agency_name.is_empty());
    assert_eq!(civil.purpose_code, "015");
    assert!(!civil.purpose_name.is_empty());
    assert_eq!(civil.legal_basis, "duty");
    assert_eq!(civil.citation, "戶籍法");
    assert_eq!(civil.data_classes, ["C001", "C011"]);
    assert_eq!(
        civil.records.iter().map(|r| r.index).collect::<Vec<_>>(),
        [0, 1]
    );
    let refusal = &now.entries[1];
    assert!(!refusal.allowed);
    assert_eq!(refusal.reason, "PURPOSE_NOT_ALLOWED");
    assert!(refusal.rule_id.is_empty());

    // The same log, read the moment the release date has passed.
    let later = list(found, &policy, release);
    let ids: Vec<_> = later
        .entries
        .iter()
        .map(|e| e.exchange_id.as_str())
        .collect();
    assert_eq!(ids, ["e-civil", "e-tax", "e-denied"]);
    assert_eq!(later.withheld, 0);
    assert_eq!(later.withheld_until, None);
    assert_eq!(later.entries[1].citation, "稅捐稽徵法第30條");
}

#[test]
fn only_a_citizen_may_list_and_only_their_own_id() {
    let id = NationalId::with_checksum('A', 1, 2_345_678).expect("valid");
    let citizen = Principal::Citizen(Citizen {
        name: "王小明".into(),
        national_id_last4: id.last4().to_owned(),
    });
    assert_eq!(
        own_national_id(&citizen, &id.as_str().to_ascii_lowercase())
            .expect("own ID")
            .as_str(),
        id.as_str()
    );
    let other = NationalId::with_checksum('B', 2, 7_654_321).expect("valid");
    let refused = own_national_id(&citizen, other.as_str()).expect_err("another ID");
    assert_eq!(refused.reason(), Reason::IdentityMismatch);
    let mut broken = id.as_str().to_owned();
    let last = broken.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    broken.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    let refused = own_national_id(&citizen, &broken).expect_err("bad checksum");
    assert_eq!(refused.reason(), Reason::SubjectInvalid);
    let agency = Principal::Agency(Agency {
        code: "301000000A".into(),
        name: "內政部".into(),
        government_oid: "2.16.886.101.20003.20001".into(),
        unit: None,
    });
    let refused = own_national_id(&agency, id.as_str()).expect_err("agency");
    assert_eq!(refused.reason(), Reason::CitizenRequired);
}
