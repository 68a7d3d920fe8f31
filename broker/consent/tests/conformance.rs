//! The behaviour every consent store must have, run against both: the embedded `FileStore`
//! and `RedisStore` (two connections, as two brokers sharing one Redis).
//!
//! Each case gets two handles, `a` and `b`. For the file store they are clones of one store
//! (one broker); for Redis they are separate connections, so every "via b" assertion is a
//! cross-broker one.

mod common;

use std::{any::Any, sync::Arc};

use common::*;
use tongdao_consent::{
    CheckError, Consent, ConsentId, ConsentStore, FileStore, Permit, Refusal, Revocation,
    ScopeMismatch, Status, StoreError, Timestamp, Use,
};

type Guard = Box<dyn Any + Send>;

async fn file_stores() -> Option<(Stores, Guard)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path(), subject_key()).expect("opens");
    Some(((Arc::new(store.clone()), Arc::new(store)), Box::new(dir)))
}

async fn redis_stores() -> Option<(Stores, Guard)> {
    Some((redis_pair().await?, Box::new(())))
}

macro_rules! conformance {
    ($module:ident, $stores:ident) => {
        mod $module {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(((a, b), _guard)) = $stores().await else {
                            return;
                        };
                        super::$name(a, b).await;
                    }
                };
            }

            case!(grant_check_revoke);
            case!(only_the_subject_revokes);
            case!(unknown_ids_are_refused);
            case!(expiry_is_exclusive);
            case!(scope_mismatch_per_dimension);
            case!(refusals_come_in_order);
            case!(single_use_is_used_once);
            case!(concurrent_single_use_gives_one_permit);
            case!(single_use_covers_one_recipe_run);
            case!(a_refused_check_does_not_consume);
            case!(revoked_single_use_is_revoked);
            case!(grants_are_idempotent_and_ids_unique);
            case!(lists_hold_only_the_subjects_consents);
        }
    };
}

conformance!(file, file_stores);
conformance!(redis, redis_stores);

type Store = Arc<dyn ConsentStore>;

async fn check(store: &Store, id: &ConsentId, usage: &Use<'_>) -> Result<Permit, Refusal> {
    match store.check(id, usage).await {
        Ok(permit) => Ok(permit),
        Err(CheckError::Refused(refusal)) => Err(refusal),
        Err(CheckError::Store(error)) => panic!("store failed: {error}"),
    }
}

async fn grant_check_revoke(a: Store, b: Store) {
    let consent = grant_for(citizen(), until(3600));
    a.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let now = Timestamp::now();
    let usage = usage(&grantee, &subject, &fields, now);
    for store in [&a, &b, &a] {
        let permit = check(store, consent.id(), &usage).await.expect("permitted");
        assert_eq!(
            permit,
            Permit {
                id: *consent.id(),
                consumed: false,
                not_after: consent.validity().not_after()
            }
        );
    }
    let listed = b.list(&subject).await.expect("lists");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, consent);
    assert_eq!(listed[0].1.status(&listed[0].0, now), Status::Active);

    let at = Timestamp::now();
    assert_eq!(
        a.revoke(consent.id(), &subject, at).await.expect("revokes"),
        Revocation::Revoked { at }
    );
    // Seen at once by the other broker: nothing is cached.
    assert_eq!(
        check(&b, consent.id(), &usage).await,
        Err(Refusal::Revoked { at })
    );
    assert_eq!(
        check(&a, consent.id(), &usage).await,
        Err(Refusal::Revoked { at })
    );
    let later = at.plus_seconds(5).expect("time");
    assert_eq!(
        b.revoke(consent.id(), &subject, later)
            .await
            .expect("idempotent"),
        Revocation::AlreadyRevoked { at },
        "revoking twice says so and keeps the first time"
    );
    let listed = a.list(&subject).await.expect("lists");
    assert_eq!(listed[0].1.revoked_at, Some(at));
    assert_eq!(listed[0].1.status(&listed[0].0, now), Status::Revoked);
}

async fn only_the_subject_revokes(a: Store, b: Store) {
    let consent = grant_for(citizen(), until(3600));
    a.grant(&consent).await.expect("granted");
    let now = Timestamp::now();
    assert_eq!(
        b.revoke(consent.id(), &neighbour(), now)
            .await
            .expect("answers"),
        Revocation::NotFound,
        "another citizen cannot revoke it, nor learn that it exists"
    );
    assert_eq!(
        b.revoke(&ConsentId::generate(), &citizen(), now)
            .await
            .expect("answers"),
        Revocation::NotFound
    );
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    check(&b, consent.id(), &usage(&grantee, &subject, &fields, now))
        .await
        .expect("still usable");
}

async fn unknown_ids_are_refused(a: Store, b: Store) {
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let usage = usage(&grantee, &subject, &fields, Timestamp::now());
    let _ = a;
    assert_eq!(
        check(&b, &ConsentId::generate(), &usage).await,
        Err(Refusal::Unknown)
    );
    assert_eq!(Refusal::Unknown.reason().as_str_name(), "CONSENT_INVALID");
}

async fn expiry_is_exclusive(a: Store, b: Store) {
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    for validity in [until(60), single_use(60)] {
        let consent = grant_for(citizen(), validity);
        a.grant(&consent).await.expect("granted");
        let not_after = consent.validity().not_after();
        for late in [not_after, not_after.plus_seconds(86_400).expect("time")] {
            assert_eq!(
                check(&b, consent.id(), &usage(&grantee, &subject, &fields, late)).await,
                Err(Refusal::Expired { not_after })
            );
        }
        let last_second = not_after.plus_seconds(-1).expect("time");
        let permit = check(
            &b,
            consent.id(),
            &usage(&grantee, &subject, &fields, last_second),
        )
        .await
        .expect("valid up to its last second");
        assert_eq!(permit.consumed, validity.is_single_use());
    }
}

async fn scope_mismatch_per_dimension(a: Store, b: Store) {
    let consent = grant_for(citizen(), until(3600));
    a.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let now = Timestamp::now();
    let ok = usage(&grantee, &subject, &fields, now);
    let id = consent.id();

    let other_agency = other_agency();
    let case = Use {
        grantee: &other_agency,
        ..ok
    };
    assert_eq!(
        check(&b, id, &case).await,
        Err(Refusal::Scope(ScopeMismatch::Grantee))
    );
    let neighbour = neighbour();
    let case = Use {
        subject: &neighbour,
        ..ok
    };
    assert_eq!(
        check(&b, id, &case).await,
        Err(Refusal::Scope(ScopeMismatch::Subject))
    );
    for service in [PROPERTY, "/tongdao.tax.v1.TaxRegistry/List", "", "\n"] {
        let case = Use { service, ..ok };
        assert_eq!(
            check(&b, id, &case).await,
            Err(Refusal::Scope(ScopeMismatch::Service)),
            "{service:?}"
        );
    }
    let case = Use {
        purpose: "074".parse().expect("purpose"),
        ..ok
    };
    assert_eq!(
        check(&b, id, &case).await,
        Err(Refusal::Scope(ScopeMismatch::Purpose))
    );
    // The consent lists `income_year_roc` and `items`.
    for field in [
        "earner_name",
        "income_year",
        "items_x",
        "income_year_roc_x",
        "income",
    ] {
        let wider = vec!["income_year_roc".to_owned(), field.to_owned()];
        let case = Use {
            fields: &wider,
            ..ok
        };
        assert_eq!(
            check(&b, id, &case).await,
            Err(Refusal::Scope(ScopeMismatch::Field(field.to_owned()))),
            "{field}"
        );
    }
    let narrower = [
        "items.gross_amount".to_owned(),
        "items".to_owned(),
        "items.deep.er".to_owned(),
    ];
    for fields in [&narrower[..], &[]] {
        let case = Use { fields, ..ok };
        check(&b, id, &case)
            .await
            .expect("a subset (or descendants of a listed field) is covered");
    }
    assert_eq!(
        Refusal::Scope(ScopeMismatch::Purpose)
            .reason()
            .as_str_name(),
        "CONSENT_SCOPE"
    );
}

async fn refusals_come_in_order(a: Store, b: Store) {
    let consent = grant_for(citizen(), until(60));
    a.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let at = Timestamp::now();
    a.revoke(consent.id(), &subject, at).await.expect("revoked");
    let late = consent.validity().not_after();
    let base = usage(&grantee, &subject, &fields, late);
    let other_agency = other_agency();
    // Another agency learns nothing about the consent's state.
    let case = Use {
        grantee: &other_agency,
        service: PROPERTY,
        ..base
    };
    assert_eq!(
        check(&b, consent.id(), &case).await,
        Err(Refusal::Scope(ScopeMismatch::Grantee))
    );
    // Revoked before expired before the remaining scope.
    let case = Use {
        service: PROPERTY,
        ..base
    };
    assert_eq!(
        check(&b, consent.id(), &case).await,
        Err(Refusal::Revoked { at })
    );
    let fresh = grant_for(citizen(), until(60));
    a.grant(&fresh).await.expect("granted");
    assert_eq!(
        check(&b, fresh.id(), &case).await,
        Err(Refusal::Expired {
            not_after: fresh.validity().not_after()
        })
    );
}

async fn single_use_is_used_once(a: Store, b: Store) {
    let consent = grant_for(citizen(), single_use(600));
    a.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let now = Timestamp::now();
    let usage = usage(&grantee, &subject, &fields, now);
    let permit = check(&a, consent.id(), &usage).await.expect("first use");
    assert!(permit.consumed);
    for store in [&a, &b] {
        assert_eq!(
            check(store, consent.id(), &usage).await,
            Err(Refusal::AlreadyUsed { at: now })
        );
    }
    let listed = b.list(&subject).await.expect("lists");
    assert_eq!(listed[0].1.used_at, Some(now));
    assert_eq!(listed[0].1.status(&listed[0].0, now), Status::Used);
    assert_eq!(
        Refusal::AlreadyUsed { at: now }.reason().as_str_name(),
        "CONSENT_USED"
    );
}

async fn concurrent_single_use_gives_one_permit(a: Store, b: Store) {
    for round in 0..5 {
        let consent = grant_for(citizen(), single_use(600));
        a.grant(&consent).await.expect("granted");
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = Vec::new();
        for task in 0..16 {
            let store = if task % 2 == 0 { a.clone() } else { b.clone() };
            let barrier = barrier.clone();
            let id = *consent.id();
            tasks.push(tokio::spawn(async move {
                let (grantee, subject, fields) = (welfare(), citizen(), fields());
                let usage = usage(&grantee, &subject, &fields, Timestamp::now());
                barrier.wait().await;
                check(&store, &id, &usage).await
            }));
        }
        let mut permits = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(permit) => {
                    assert!(permit.consumed);
                    permits += 1;
                }
                Err(Refusal::AlreadyUsed { .. }) => {}
                Err(other) => panic!("round {round}: unexpected refusal {other:?}"),
            }
        }
        assert_eq!(
            permits, 1,
            "round {round}: exactly one of 16 concurrent uses"
        );
    }
}

/// One use of a single-use consent is one exchange or one recipe run: the run's legs about the
/// consenting person, checked at once, share the use the first made; another run, or a direct
/// exchange, finds it used.
async fn single_use_covers_one_recipe_run(a: Store, b: Store) {
    let consent = grant_for(citizen(), single_use(600));
    a.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let now = Timestamp::now();
    let leg = Use {
        run: Some("0190b8a4-0000-7000-8000-00000000000a"),
        ..usage(&grantee, &subject, &fields, now)
    };
    let id = consent.id();
    let (first, second, third) = tokio::join!(
        check(&a, id, &leg),
        check(&b, id, &leg),
        check(&a, id, &leg)
    );
    let checks = [first, second, third];
    assert!(checks.iter().all(Result::is_ok), "{checks:?}");
    let consumed = checks
        .iter()
        .filter(|c| matches!(c, Ok(permit) if permit.consumed))
        .count();
    assert_eq!(consumed, 1, "one use for the whole run: {checks:?}");
    check(&b, id, &leg)
        .await
        .expect("a later leg of the same run");
    let other_run = Use {
        run: Some("0190b8a4-0000-7000-8000-00000000000b"),
        ..leg
    };
    assert_eq!(
        check(&b, id, &other_run).await,
        Err(Refusal::AlreadyUsed { at: now })
    );
    let direct = Use { run: None, ..leg };
    assert_eq!(
        check(&a, id, &direct).await,
        Err(Refusal::AlreadyUsed { at: now })
    );
}

async fn a_refused_check_does_not_consume(a: Store, b: Store) {
    let consent = grant_for(citizen(), single_use(600));
    a.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let now = Timestamp::now();
    let ok = usage(&grantee, &subject, &fields, now);
    let wrong = Use {
        service: PROPERTY,
        ..ok
    };
    assert_eq!(
        check(&b, consent.id(), &wrong).await,
        Err(Refusal::Scope(ScopeMismatch::Service))
    );
    let late = Use {
        now: consent.validity().not_after(),
        ..ok
    };
    assert!(matches!(
        check(&b, consent.id(), &late).await,
        Err(Refusal::Expired { .. })
    ));
    assert!(check(&a, consent.id(), &ok).await.expect("unused").consumed);
}

async fn revoked_single_use_is_revoked(a: Store, b: Store) {
    let consent = grant_for(citizen(), single_use(600));
    a.grant(&consent).await.expect("granted");
    let (grantee, subject, fields) = (welfare(), citizen(), fields());
    let at = Timestamp::now();
    assert_eq!(
        b.revoke(consent.id(), &subject, at).await.expect("revokes"),
        Revocation::Revoked { at }
    );
    assert_eq!(
        check(&a, consent.id(), &usage(&grantee, &subject, &fields, at)).await,
        Err(Refusal::Revoked { at })
    );
}

async fn grants_are_idempotent_and_ids_unique(a: Store, b: Store) {
    let consent = grant_for(citizen(), until(3600));
    a.grant(&consent).await.expect("granted");
    b.grant(&consent)
        .await
        .expect("granting the same consent again is a no-op");
    // Another consent under the same id (only a bug could make one).
    let mut json: serde_json::Value =
        serde_json::from_slice(&consent.to_canonical_json()).expect("json");
    json["purpose"] = "074".into();
    let impostor: Consent = serde_json::from_value(json).expect("a well-formed consent");
    assert_eq!(impostor.id(), consent.id());
    match b.grant(&impostor).await {
        Err(StoreError::Conflict(id)) => assert_eq!(&id, consent.id()),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let listed = a.list(&citizen()).await.expect("lists");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, consent, "the first grant stands");
}

async fn lists_hold_only_the_subjects_consents(a: Store, b: Store) {
    let mine = [
        grant_for(citizen(), until(3600)),
        grant_for(citizen(), single_use(60)),
        grant_for(citizen(), until(86_400)),
    ];
    let theirs = grant_for(neighbour(), until(3600));
    // Granted out of order through both handles; listed in id (grant) order.
    for (n, consent) in [&mine[2], &theirs, &mine[0], &mine[1]]
        .into_iter()
        .enumerate()
    {
        let store = if n % 2 == 0 { &a } else { &b };
        store.grant(consent).await.expect("granted");
    }
    let listed = b.list(&citizen()).await.expect("lists");
    let ids: Vec<_> = listed.iter().map(|(c, _)| *c.id()).collect();
    assert_eq!(ids, mine.iter().map(|c| *c.id()).collect::<Vec<_>>());
    for ((consent, state), granted) in listed.iter().zip(&mine) {
        assert_eq!(consent, granted);
        assert_eq!(consent.subject(), &citizen());
        assert_eq!(state.revoked_at, None);
        assert_eq!(state.used_at, None);
    }
    let listed = a.list(&neighbour()).await.expect("lists");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, theirs);
    let nobody = tongdao_core::ids::NationalId::with_checksum('C', 1, 1).expect("ID");
    assert!(a.list(&nobody).await.expect("lists").is_empty());
}
