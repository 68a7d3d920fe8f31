use super::*;

fn subject() -> NationalId {
    NationalId::with_checksum('A', 1, 2_345_678).expect("valid ID")
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-28T00:00:00Z").expect("time")
}

fn request() -> Grant {
    Grant {
        subject: subject(),
        grantee: "376570000A".into(),
        services: vec![
            "/tongdao.tax.v1.TaxRegistry/ListProperty".into(),
            "/tongdao.tax.v1.TaxRegistry/ListIncome".into(),
            "/tongdao.tax.v1.TaxRegistry/ListIncome".into(),
        ],
        fields: vec!["items.gross_amount".into(), "income_year_roc".into()],
        purpose: "057".into(),
        validity: Validity::Until(now().plus_seconds(3600).expect("time")),
    }
}

#[test]
fn a_grant_becomes_a_canonical_consent() {
    let consent = Consent::grant(request(), now(), &Limits::default()).expect("valid grant");
    assert_eq!(
        consent.services(),
        [
            "/tongdao.tax.v1.TaxRegistry/ListIncome",
            "/tongdao.tax.v1.TaxRegistry/ListProperty"
        ],
        "sorted, duplicates dropped"
    );
    assert_eq!(consent.fields(), ["income_year_roc", "items.gross_amount"]);
    assert_eq!(consent.purpose().as_str(), "057");
    assert_eq!(consent.granted_at(), now());
    assert_eq!(consent.id().as_uuid().get_version_num(), 7);

    let json = String::from_utf8(consent.to_canonical_json()).expect("UTF-8");
    let expected = format!(
        concat!(
            r#"{{"id":"{}","subject":"A123456789","grantee":"376570000A","#,
            r#""services":["/tongdao.tax.v1.TaxRegistry/ListIncome","/tongdao.tax.v1.TaxRegistry/ListProperty"],"#,
            r#""fields":["income_year_roc","items.gross_amount"],"purpose":"057","#,
            r#""validity":{{"kind":"until","not_after":"2026-11-28T01:00:00Z"}},"#,
            r#""granted_at":"2026-11-28T00:00:00Z"}}"#
        ),
        consent.id()
    );
    assert_eq!(subject().as_str(), "A123456789");
    assert_eq!(json, expected);
    let back: Consent = serde_json::from_str(&json).expect("decodes");
    assert_eq!(back, consent);
}

#[test]
fn single_use_encodes_its_kind() {
    let mut grant = request();
    grant.validity = Validity::SingleUse {
        not_after: now().plus_seconds(60).expect("time"),
    };
    let consent = Consent::grant(grant, now(), &Limits::default()).expect("valid grant");
    let json = String::from_utf8(consent.to_canonical_json()).expect("UTF-8");
    assert!(
        json.contains(r#""validity":{"kind":"single_use","not_after":"2026-11-28T00:01:00Z"}"#)
    );
    assert!(consent.validity().is_single_use());
    let back: Consent = serde_json::from_str(&json).expect("decodes");
    assert_eq!(back.validity(), consent.validity());
}

#[test]
fn every_bad_input_has_its_error() {
    let limits = Limits::default();
    let refuse = |change: fn(&mut Grant)| {
        let mut grant = request();
        change(&mut grant);
        Consent::grant(grant, now(), &limits).expect_err("refused")
    };
    assert!(matches!(
        refuse(|g| g.grantee = "37657000a".into()),
        GrantError::Grantee(IdError::WrongLength { .. })
    ));
    assert!(matches!(
        refuse(|g| g.grantee = "376570000a".into()),
        GrantError::Grantee(IdError::BadLetter { position: 10, .. })
    ));
    for purpose in ["57", "0570", "000", "○五七", " 057", "05a"] {
        let mut grant = request();
        grant.purpose = purpose.into();
        assert_eq!(
            Consent::grant(grant, now(), &limits).expect_err(purpose),
            GrantError::Purpose
        );
    }
    assert_eq!(refuse(|g| g.services.clear()), GrantError::NoServices);
    assert_eq!(refuse(|g| g.fields.clear()), GrantError::NoFields);
    for bad in [
        "tongdao.tax.v1.TaxRegistry/ListIncome",
        "/tongdao.tax.v1.TaxRegistry",
        "/tongdao.tax.v1.TaxRegistry/List/Income",
        "/tongdao..TaxRegistry/ListIncome",
        "/tongdao.tax.v1.TaxRegistry/",
        "/tongdao.tax.v1.TaxRegistry/List Income",
        "/tongdao.tax.v1.TaxRegistry/ListIncome\n",
    ] {
        let mut grant = request();
        grant.services.push(bad.into());
        assert_eq!(
            Consent::grant(grant, now(), &limits).expect_err(bad),
            GrantError::Service { position: 4 },
            "{bad:?}"
        );
    }
    for bad in [
        "",
        "items.",
        ".items",
        "items..x",
        "1items",
        "items.gross-amount",
        "項目",
    ] {
        let mut grant = request();
        grant.fields.insert(0, bad.into());
        assert_eq!(
            Consent::grant(grant, now(), &limits).expect_err(bad),
            GrantError::Field { position: 1 },
            "{bad:?}"
        );
    }
    assert_eq!(
        refuse(
            |g| g.validity = Validity::Until(Timestamp::parse("2026-11-28T00:00:00Z").expect("t"))
        ),
        GrantError::NotInFuture
    );
    assert_eq!(
        refuse(|g| g.validity = Validity::SingleUse {
            not_after: Timestamp::parse("2026-11-27T00:00:00Z").expect("t")
        }),
        GrantError::NotInFuture
    );
    assert_eq!(
        refuse(
            |g| g.validity = Validity::Until(Timestamp::parse("2027-11-30T00:00:00Z").expect("t"))
        ),
        GrantError::TooLong { max_days: 366 }
    );
    let tight = Limits {
        max_services: 1,
        max_fields: 1,
        ..Limits::default()
    };
    assert_eq!(
        Consent::grant(request(), now(), &tight).expect_err("too many"),
        GrantError::TooManyServices { max: 1 }
    );
    let mut grant = request();
    grant.services.truncate(1);
    assert_eq!(
        Consent::grant(grant, now(), &tight).expect_err("too many"),
        GrantError::TooManyFields { max: 1 }
    );
}

#[test]
fn exactly_the_maximum_span_is_allowed() {
    let mut grant = request();
    grant.validity = Validity::Until(now().plus_seconds(366 * 86_400).expect("time"));
    Consent::grant(grant, now(), &Limits::default()).expect("a span of exactly the maximum");
}

#[test]
fn consent_ids_take_one_spelling() {
    let id = ConsentId::generate();
    let text = id.to_string();
    assert_eq!(text.parse::<ConsentId>(), Ok(id));
    assert_eq!(
        text.to_uppercase().parse::<ConsentId>(),
        Err(ConsentIdError::Malformed)
    );
    assert_eq!(
        text.replace('-', "").parse::<ConsentId>(),
        Err(ConsentIdError::Malformed)
    );
    assert_eq!(
        format!("{{{text}}}").parse::<ConsentId>(),
        Err(ConsentIdError::Malformed)
    );
    assert_eq!(
        format!(" {text}").parse::<ConsentId>(),
        Err(ConsentIdError::Malformed)
    );
    assert_eq!(
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8".parse::<ConsentId>(),
        Err(ConsentIdError::NotVersion7),
        "a version 1 UUID"
    );
    assert_eq!(
        "0193a5b2-7c3d-7000-0000-000000000000".parse::<ConsentId>(),
        Err(ConsentIdError::NotVersion7),
        "version 7 bits but not the RFC variant"
    );
    assert!(ConsentId::generate() > id, "v7 ids sort by time");
}

#[test]
fn decoding_refuses_what_a_grant_never_makes() {
    let consent = Consent::grant(request(), now(), &Limits::default()).expect("valid grant");
    let json: serde_json::Value =
        serde_json::from_slice(&consent.to_canonical_json()).expect("json");
    let refused = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut json = json.clone();
        change(&mut json);
        serde_json::from_value::<Consent>(json).is_err()
    };
    assert!(refused(&|j| j["services"] = serde_json::json!([])));
    assert!(
        refused(&|j| j["fields"] = serde_json::json!(["b", "a"])),
        "unsorted"
    );
    assert!(
        refused(&|j| j["fields"] = serde_json::json!(["a", "a"])),
        "duplicates"
    );
    assert!(
        refused(&|j| j["subject"] = serde_json::json!("A123456788")),
        "checksum"
    );
    assert!(
        refused(&|j| j["extra"] = serde_json::json!(1)),
        "unknown member"
    );
    assert!(refused(
        &|j| j["validity"]["kind"] = serde_json::json!("forever")
    ));
    assert!(
        refused(&|j| j["validity"]["not_after"] = serde_json::json!("2026-11-27T00:00:00Z")),
        "ends before the grant"
    );
    assert!(!refused(&|_| {}));
}

#[test]
fn ancestors_cover_their_descendants() {
    let fields = vec![
        "earner_name".to_owned(),
        "items".to_owned(),
        "x.y".to_owned(),
    ];
    assert!(covers(&fields, "earner_name"));
    assert!(covers(&fields, "items"));
    assert!(covers(&fields, "items.gross_amount"));
    assert!(covers(&fields, "items.a.b"));
    assert!(covers(&fields, "x.y.z"));
    assert!(
        !covers(&fields, "x"),
        "a descendant does not cover its parent"
    );
    assert!(!covers(&fields, "items_extra"));
    assert!(!covers(&fields, "earner"));
    assert!(!covers(&fields, "earner_name_x"));
}

#[test]
fn status_orders_revoked_used_expired() {
    let mut grant = request();
    grant.validity = Validity::SingleUse {
        not_after: now().plus_seconds(10).expect("time"),
    };
    let consent = Consent::grant(grant, now(), &Limits::default()).expect("valid");
    let later = now().plus_seconds(20).expect("time");
    let mut state = ConsentState::default();
    assert_eq!(state.status(&consent, now()), Status::Active);
    assert_eq!(state.status(&consent, later), Status::Expired);
    state.used_at = Some(now());
    assert_eq!(state.status(&consent, later), Status::Used);
    state.revoked_at = Some(now());
    assert_eq!(state.status(&consent, later), Status::Revoked);
}
