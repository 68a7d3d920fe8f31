use super::*;

use std::sync::Arc;

use crate::decide::{Decision, DecisionRequest};
use crate::rules::Quota;
use crate::test_support::{NOW, shipped};

fn allow_with(quota: Option<Quota>) -> Allow {
    let policy = shipped();
    let Decision::Allow(mut allow) = policy.decide(&DecisionRequest {
        agency_code: Some("307010000D"),
        method: "/tongdao.household.v1.HouseholdRegistry/GetTranscript",
        purpose: Some("095"),
        now_unix: NOW,
    }) else {
        panic!("allowed");
    };
    allow.quota = quota;
    allow
}

const MIDNIGHT_TAIPEI: i64 = 1_751_299_200; // 2025-07-01T00:00:00+08:00

#[test]
fn counts_per_fixed_window_aligned_to_taiwan_midnight() {
    let quotas = Quotas::new();
    let allow = allow_with(Some(Quota {
        requests: 2,
        per_seconds: 86_400,
    }));
    assert_eq!(
        quotas.try_acquire(&allow, "307010000D", MIDNIGHT_TAIPEI),
        Ok(())
    );
    assert_eq!(
        quotas.try_acquire(&allow, "307010000D", MIDNIGHT_TAIPEI + 86_399),
        Ok(())
    );
    let denial = quotas
        .try_acquire(&allow, "307010000D", MIDNIGHT_TAIPEI + 86_399)
        .expect_err("third call in the day");
    assert_eq!(denial.reason(), Reason::QuotaExceeded);
    assert!(denial.message().contains("retry in 1 s"), "{denial}");
    assert_eq!(
        quotas.remaining(&allow, "307010000D", MIDNIGHT_TAIPEI),
        Some(0)
    );
    // A new day in Taipei.
    assert_eq!(
        quotas.try_acquire(&allow, "307010000D", MIDNIGHT_TAIPEI + 86_400),
        Ok(())
    );
    assert_eq!(
        quotas.remaining(&allow, "307010000D", MIDNIGHT_TAIPEI + 86_400),
        Some(1)
    );
}

#[test]
fn clients_and_rules_count_separately() {
    let quotas = Quotas::new();
    let allow = allow_with(Some(Quota {
        requests: 1,
        per_seconds: 60,
    }));
    let mut other_rule = allow.clone();
    other_rule.rule_id = Arc::from("another-rule");
    assert_eq!(quotas.try_acquire(&allow, "A", NOW), Ok(()));
    assert!(quotas.try_acquire(&allow, "A", NOW).is_err());
    assert_eq!(quotas.try_acquire(&allow, "B", NOW), Ok(()));
    assert_eq!(quotas.try_acquire(&other_rule, "A", NOW), Ok(()));
}

#[test]
fn no_quota_means_no_limit() {
    let quotas = Quotas::new();
    let allow = allow_with(None);
    for _ in 0..1000 {
        assert_eq!(quotas.try_acquire(&allow, "A", NOW), Ok(()));
    }
    assert_eq!(quotas.remaining(&allow, "A", NOW), None);
}

#[test]
fn a_changed_window_starts_afresh() {
    let quotas = Quotas::new();
    let daily = allow_with(Some(Quota {
        requests: 1,
        per_seconds: 86_400,
    }));
    assert_eq!(quotas.try_acquire(&daily, "A", NOW), Ok(()));
    assert!(quotas.try_acquire(&daily, "A", NOW).is_err());
    let hourly = allow_with(Some(Quota {
        requests: 1,
        per_seconds: 3_600,
    }));
    assert_eq!(quotas.try_acquire(&hourly, "A", NOW), Ok(()));
}

#[test]
fn concurrent_callers_never_exceed_the_quota() {
    let quotas = Arc::new(Quotas::new());
    let allow = Arc::new(allow_with(Some(Quota {
        requests: 100,
        per_seconds: 60,
    })));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let quotas = Arc::clone(&quotas);
            let allow = Arc::clone(&allow);
            std::thread::spawn(move || {
                (0..100)
                    .filter(|_| quotas.try_acquire(&allow, "A", NOW).is_ok())
                    .count()
            })
        })
        .collect();
    let granted: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(granted, 100);
}

#[test]
fn extreme_times_do_not_overflow() {
    let quotas = Quotas::new();
    let allow = allow_with(Some(Quota {
        requests: 1,
        per_seconds: 86_400,
    }));
    assert_eq!(quotas.try_acquire(&allow, "A", i64::MAX), Ok(()));
    assert_eq!(quotas.try_acquire(&allow, "B", i64::MIN), Ok(()));
}
