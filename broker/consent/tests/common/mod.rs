//! Fixtures shared by the store tests.

#![allow(dead_code, unreachable_pub)]

use std::{sync::Arc, time::Duration};

use tongdao_consent::{
    Consent, ConsentStore, Grant, Limits, PurposeCode, RedisOptions, RedisStore, SubjectKey,
    Timestamp, Use, Validity,
};
use tongdao_core::ids::{AgencyCode, NationalId};

pub const INCOME: &str = "/tongdao.tax.v1.TaxRegistry/ListIncome";
pub const PROPERTY: &str = "/tongdao.tax.v1.TaxRegistry/ListProperty";

pub fn subject_key() -> SubjectKey {
    SubjectKey::new(&[7; 32])
}

/// The citizen who grants (A123456789).
pub fn citizen() -> NationalId {
    NationalId::with_checksum('A', 1, 2_345_678).expect("valid ID")
}

/// Another citizen.
pub fn neighbour() -> NationalId {
    NationalId::with_checksum('B', 2, 7_654_321).expect("valid ID")
}

/// The grantee: a social welfare office.
pub fn welfare() -> AgencyCode {
    "376570000A".parse().expect("agency code")
}

pub fn other_agency() -> AgencyCode {
    "301000000A".parse().expect("agency code")
}

pub fn purpose() -> PurposeCode {
    "057".parse().expect("purpose")
}

pub fn fields() -> Vec<String> {
    ["income_year_roc", "items.gross_amount", "items.net_amount"]
        .map(String::from)
        .to_vec()
}

/// A grant by `subject` to the welfare office for income, purpose 057.
pub fn grant_for(subject: NationalId, validity: Validity) -> Consent {
    Consent::grant(
        Grant {
            subject,
            grantee: welfare().to_string(),
            services: vec![INCOME.into()],
            fields: vec!["income_year_roc".into(), "items".into()],
            purpose: "057".into(),
            validity,
        },
        Timestamp::now(),
        &Limits::default(),
    )
    .expect("valid grant")
}

pub fn in_seconds(seconds: i64) -> Timestamp {
    Timestamp::now().plus_seconds(seconds).expect("time")
}

pub fn until(seconds: i64) -> Validity {
    Validity::Until(in_seconds(seconds))
}

pub fn single_use(seconds: i64) -> Validity {
    Validity::SingleUse {
        not_after: in_seconds(seconds),
    }
}

/// The exchange the consents of `grant_for` allow, at `now`.
pub fn usage<'a>(
    grantee: &'a AgencyCode,
    subject: &'a NationalId,
    fields: &'a [String],
    now: Timestamp,
) -> Use<'a> {
    Use {
        grantee,
        subject,
        service: INCOME,
        purpose: purpose(),
        fields,
        now,
        run: None,
    }
}

pub type Stores = (Arc<dyn ConsentStore>, Arc<dyn ConsentStore>);

pub fn redis_url() -> String {
    std::env::var("TONGDAO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A key prefix no other test run uses.
pub fn unique_prefix() -> String {
    format!(
        "tongdao-test:consent:{}:",
        tongdao_consent::ConsentId::generate()
    )
}

/// Options for tests: a unique prefix; keys vanish an hour after their consents end.
pub fn redis_options(prefix: &str) -> RedisOptions {
    RedisOptions {
        prefix: prefix.to_owned(),
        retention: Duration::from_secs(3600),
        ..RedisOptions::default()
    }
}

/// Connects to the test Redis, or — only when `CI` is unset — returns `None` after saying
/// loudly that the Redis tests are skipped. With `CI` set an unreachable Redis fails the test.
pub async fn redis_store(prefix: &str) -> Option<RedisStore> {
    let url = redis_url();
    match RedisStore::connect(&url, subject_key(), redis_options(prefix)).await {
        Ok(store) => Some(store),
        Err(error) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED: Redis at {url} is unreachable ({error}); with CI set this test fails"
            );
            None
        }
        Err(error) => panic!("Redis at {url} is unreachable ({error}) and CI is set"),
    }
}

/// Two connections to one Redis under one prefix: two brokers sharing state.
pub async fn redis_pair() -> Option<Stores> {
    let prefix = unique_prefix();
    let a = redis_store(&prefix).await?;
    let b = redis_store(&prefix).await?;
    Some((Arc::new(a), Arc::new(b)))
}
