use super::*;

fn sample() -> AuditRecord {
    let key = [7u8; 32];
    AuditRecord::ExchangeIntent(ExchangeIntent {
        at: Timestamp::from_unix_micros(1_767_225_600_123_456),
        exchange: ExchangeContext {
            exchange_id: "0190b8a4-7c5e-7c2a-9f1e-3b2d4c5e6f70".into(),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            client: Client::Agency {
                agency: "A-LAND".into(),
                subsystem: None,
                certificate: CertificateId {
                    serial: "0a1b".into(),
                    issuer: "CN=GCA Test".into(),
                },
            },
            service: "/tongdao.household.v1.HouseholdRegistry/GetTranscript".into(),
            purpose: Some("015".into()),
            subject: Some(SubjectPseudonym::derive(&key, "A123456789")),
            consent_id: None,
            recipe: None,
        },
        permit: Permit {
            rule_id: "land-reads-household".into(),
            policy_version: "2026-01-01.1".into(),
            disclosed_from: None,
        },
        request_digest: Sha256Digest::of(b"request"),
    })
}

#[test]
fn encoding_is_canonical_and_round_trips() {
    let record = sample();
    let bytes = record.encode().expect("encodes");
    let text = std::str::from_utf8(&bytes).expect("utf-8");
    assert!(text.starts_with(r#"{"kind":"exchange_intent","at":"2026-01-01T00:00:00.123456Z","exchange":{"exchange_id":"#), "{text}");
    assert!(
        text.contains(r#""consent_id":null"#),
        "absent values are null, not omitted: {text}"
    );
    let back = AuditRecord::decode(&bytes).expect("decodes");
    assert_eq!(back, record);
    assert_eq!(
        back.encode().expect("encodes"),
        bytes,
        "one record, one encoding"
    );
}

#[test]
fn no_national_id_in_the_encoding() {
    let text = String::from_utf8(sample().encode().expect("encodes")).expect("utf-8");
    assert!(!text.contains("A123456789"));
    assert!(!text.to_ascii_uppercase().contains("A123456789"));
}

#[test]
fn pseudonyms_are_keyed_and_case_insensitive() {
    let key = [1u8; 32];
    let a = SubjectPseudonym::derive(&key, "A123456789");
    assert_eq!(a, SubjectPseudonym::derive(&key, " a123456789 "));
    assert_ne!(a, SubjectPseudonym::derive(&[2u8; 32], "A123456789"));
    assert_ne!(a, SubjectPseudonym::derive(&key, "A123456780"));
    assert_eq!(SubjectPseudonym::from_hex(&a.to_hex()), Some(a));
}

#[test]
fn timestamps_format_fixed_width_and_parse() {
    let at = Timestamp::from_unix_micros(1_767_225_600_000_001);
    assert_eq!(at.to_string(), "2026-01-01T00:00:00.000001Z");
    assert_eq!(
        Timestamp::parse_rfc3339("2026-01-01T08:00:00.000001+08:00"),
        Some(at)
    );
    assert_eq!(grpc_code_name(7), "PERMISSION_DENIED");
    assert_eq!(grpc_code_name(99), "UNKNOWN_CODE");
}

#[test]
fn a_leg_names_its_parent_and_a_direct_exchange_keeps_its_version_1_encoding() {
    let direct = sample().encode().expect("encodes");
    let text = std::str::from_utf8(&direct).expect("utf-8");
    assert!(
        !text.contains("recipe"),
        "records without a parent keep their one encoding: {text}"
    );
    let AuditRecord::ExchangeIntent(mut intent) = sample() else {
        unreachable!("sample is an intent")
    };
    intent.exchange.recipe = Some(RecipeLeg {
        recipe: "welfare-eligibility".into(),
        leg: "household".into(),
        parent_exchange_id: "0190b8a4-0000-7000-8000-000000000001".into(),
    });
    let leg = AuditRecord::ExchangeIntent(intent);
    let bytes = leg.encode().expect("encodes");
    let text = std::str::from_utf8(&bytes).expect("utf-8");
    assert!(
        text.contains(
            r#""consent_id":null,"recipe":{"recipe":"welfare-eligibility","leg":"household","parent_exchange_id":"0190b8a4-0000-7000-8000-000000000001"}}"#
        ),
        "{text}"
    );
    assert_eq!(AuditRecord::decode(&bytes).expect("decodes"), leg);
}

#[test]
fn a_recipe_run_lists_every_call_and_round_trips() {
    let exchange = sample().exchange().cloned().expect("context");
    let run = AuditRecord::RecipeRun(RecipeRun {
        at: Timestamp::from_unix_micros(1_767_225_600_500_000),
        exchange: ExchangeContext {
            service: "/tongdao.v1.OneStop/RunRecipe".into(),
            ..exchange
        },
        recipe: "welfare-eligibility".into(),
        policy_version: "abc123".into(),
        legs: vec![
            LegCallOutcome {
                leg: "household".into(),
                exchange_id: Some("0190b8a4-0000-7000-8000-000000000002".into()),
                outcome: Outcome::ok(),
            },
            LegCallOutcome {
                leg: "members_land".into(),
                exchange_id: None,
                outcome: Outcome {
                    code: 9,
                    reason: Some("LEG_NOT_RUN".into()),
                },
            },
        ],
        outcome: Outcome::ok(),
        latency_us: 4200,
    });
    let bytes = run.encode().expect("encodes");
    let text = std::str::from_utf8(&bytes).expect("utf-8");
    assert!(text.starts_with(r#"{"kind":"recipe_run","#), "{text}");
    assert!(
        text.contains(r#""leg":"members_land","exchange_id":null"#),
        "{text}"
    );
    let back = AuditRecord::decode(&bytes).expect("decodes");
    assert_eq!(back, run);
    assert_eq!(back.kind(), "recipe_run");
    assert_eq!(back.outcome(), Some(&Outcome::ok()));
    assert_eq!(
        back.exchange().map(|e| e.service.as_str()),
        Some("/tongdao.v1.OneStop/RunRecipe")
    );
}
