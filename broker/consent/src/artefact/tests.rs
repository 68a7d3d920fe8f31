use super::*;
use crate::{
    model::{Grant, Limits, Validity},
    timestamp::Timestamp,
};
use tongdao_core::ids::NationalId;

fn consent() -> Consent {
    let now = Timestamp::now();
    Consent::grant(
        Grant {
            subject: NationalId::with_checksum('F', 2, 1_234_567).expect("ID"),
            grantee: "376570000A".into(),
            services: vec!["/tongdao.tax.v1.TaxRegistry/ListIncome".into()],
            fields: vec!["income_year_roc".into(), "items.gross_amount".into()],
            purpose: "057".into(),
            validity: Validity::SingleUse {
                not_after: now.plus_seconds(600).expect("time"),
            },
        },
        now,
        &Limits::default(),
    )
    .expect("valid grant")
}

fn signer(name: &str) -> ConsentSigner {
    let pair = ConsentSigner::generate(name).expect("key pair");
    let signer = ConsentSigner::from_text(&pair.signing_key).expect("signing key parses");
    assert_eq!(signer.verifier().as_text(), pair.verifier_key);
    signer
}

#[test]
fn a_signed_consent_verifies_offline() {
    let signer = signer("consent.tongdao.test");
    let consent = consent();
    let artefact = signer.sign(&consent);
    assert!(artefact.starts_with("tdc1."));
    assert_eq!(artefact.split('.').count(), 3);
    assert!(
        artefact
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "header- and URL-safe"
    );
    // Only the public key, parsed from its published text.
    let key = VerifierKey::from_text(signer.verifier().as_text()).expect("verifier key");
    assert_eq!(verify_artefact(&artefact, &key), Ok(consent.clone()));
    assert_eq!(signer.sign(&consent), artefact, "deterministic");
    assert_eq!(consent_id_of(&artefact), Ok(*consent.id()));
    assert_eq!(consent_id_of(&consent.id().to_string()), Ok(*consent.id()));
}

#[test]
fn changing_any_byte_fails() {
    let signer = signer("consent.tongdao.test");
    let artefact = signer.sign(&consent());
    let key = signer.verifier();
    let bytes = artefact.as_bytes();
    for position in 0..bytes.len() {
        for replacement in [b'A', b'B', b'-', b'_', b'.', b'0', b'=', b'~'] {
            if bytes[position] == replacement {
                continue;
            }
            let mut altered = bytes.to_vec();
            altered[position] = replacement;
            let altered = String::from_utf8(altered).expect("ASCII");
            assert!(
                verify_artefact(&altered, key).is_err(),
                "byte {position} changed to {:?} still verifies",
                char::from(replacement)
            );
        }
    }
    assert_eq!(
        verify_artefact(&artefact[..artefact.len() - 1], key),
        Err(ArtefactError::Malformed)
    );
    assert_eq!(
        verify_artefact(&format!("{artefact}A"), key),
        Err(ArtefactError::Malformed)
    );
    assert_eq!(
        verify_artefact(&format!("{artefact}="), key),
        Err(ArtefactError::Malformed)
    );
    assert_eq!(verify_artefact("", key), Err(ArtefactError::Malformed));
    assert_eq!(
        verify_artefact(&"tdc1.".repeat(4000), key),
        Err(ArtefactError::Malformed)
    );
}

#[test]
fn a_changed_payload_with_its_signature_fails() {
    let signer = signer("consent.tongdao.test");
    let artefact = signer.sign(&consent());
    let (head, signature) = artefact.rsplit_once('.').expect("three parts");
    let payload = URL_SAFE_NO_PAD
        .decode(head.strip_prefix(ARTEFACT_PREFIX).expect("prefix"))
        .expect("base64");
    let text = String::from_utf8(payload).expect("JSON");
    // Grant oneself more fields, keep the signature.
    let widened = text.replace(r#""fields":["#, r#""fields":["earner_name","#);
    assert_ne!(widened, text);
    let forged = format!(
        "{ARTEFACT_PREFIX}{}.{signature}",
        URL_SAFE_NO_PAD.encode(widened)
    );
    assert_eq!(
        verify_artefact(&forged, signer.verifier()),
        Err(ArtefactError::BadSignature)
    );
}

#[test]
fn another_key_is_named() {
    let broker = signer("consent.tongdao.test");
    let impostor = signer("consent.tongdao.test");
    let artefact = impostor.sign(&consent());
    match verify_artefact(&artefact, broker.verifier()) {
        Err(ArtefactError::UnknownKey(key)) => assert_eq!(key, impostor.verifier().key_name()),
        other => panic!("expected UnknownKey, got {other:?}"),
    }
    let renamed = signer("someone.else");
    assert!(matches!(
        verify_artefact(&renamed.sign(&consent()), broker.verifier()),
        Err(ArtefactError::UnknownKey(_))
    ));
}

#[test]
fn a_non_canonical_payload_signed_by_the_key_is_refused() {
    // Only a signing bug could produce one; verification still refuses it.
    let signer = signer("consent.tongdao.test");
    let payload = String::from_utf8(encode_payload(signer.verifier().key_name(), &consent()))
        .expect("JSON")
        .replacen('{', "{ ", 1);
    let mut text = format!("{ARTEFACT_PREFIX}{}", URL_SAFE_NO_PAD.encode(&payload));
    let signature = signer.key.sign(text.as_bytes());
    text.push('.');
    text.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    assert!(matches!(
        verify_artefact(&text, signer.verifier()),
        Err(ArtefactError::Payload(_))
    ));
}

#[test]
fn keys_are_the_audit_logs_format() {
    // A key generated by the audit log's tooling works here, and the other way round.
    let audit = tongdao_audit::LogSigner::generate("consent.tongdao.test").expect("audit key");
    let signer = ConsentSigner::from_text(&audit.signing_key).expect("audit signing key parses");
    assert_eq!(signer.verifier().as_text(), audit.verifier_key);
    let ours = ConsentSigner::generate("consent.tongdao.test").expect("key");
    let parsed = tongdao_audit::LogSigner::from_text(&ours.signing_key).expect("parses there");
    assert_eq!(parsed.verifier_key(), ours.verifier_key);
    tongdao_audit::VerifierKey::from_text(&ours.verifier_key).expect("verifier parses there");
}

#[test]
fn bad_keys_are_refused() {
    let pair = ConsentSigner::generate("consent.tongdao.test").expect("key");
    for bad in [
        "",
        "PRIVATE+KEY+",
        "PRIVATE+KEY+name+0000000+AQ==",
        &pair
            .signing_key
            .replacen("PRIVATE+KEY+consent", "PRIVATE+KEY+other", 1),
        &pair.verifier_key,
    ] {
        assert!(ConsentSigner::from_text(bad).is_err(), "{bad:?}");
    }
    assert!(ConsentSigner::generate("has space").is_err());
    assert!(ConsentSigner::generate("has+plus").is_err());
    assert!(ConsentSigner::generate("").is_err());
    assert!(VerifierKey::from_text(&pair.signing_key).is_err());
    assert!(
        VerifierKey::from_text(&pair.verifier_key.replacen("consent", "other", 1)).is_err(),
        "the id no longer matches the name"
    );
    VerifierKey::from_text(&format!("  {}\n", pair.verifier_key)).expect("whitespace trimmed");
}

#[test]
fn header_values_name_a_consent() {
    assert_eq!(consent_id_of("not-an-id"), Err(ConsentIdError::Malformed));
    assert_eq!(
        consent_id_of("tdc1.e30.AAAA"),
        Err(ConsentIdError::Malformed)
    );
    assert_eq!(consent_id_of("tdc1."), Err(ConsentIdError::Malformed));
}
