//! The broker's consent machinery, built once from `[broker.consent]`: the store (embedded
//! file store, or Redis shared by replicas) and the key that signs artefacts.

use std::{fmt, sync::Arc, time::Duration};

use tongdao_config::{ConsentConfig, ConsentStoreKind};
use tongdao_consent::{
    CheckError, Consent, ConsentId, ConsentSigner, ConsentState, ConsentStore, FileStore, Permit,
    RedisOptions, RedisStore, Revocation, StoreError, StoreFuture, SubjectKey, Timestamp, Use,
    consent_id_of,
};
use tongdao_core::{Reason, Rejection, ids::NationalId};

/// The store and the signer, shared by the consent API and the exchange stack.
#[derive(Debug, Clone)]
pub(crate) struct Consents {
    pub(crate) store: Arc<dyn ConsentStore>,
    pub(crate) signer: Arc<ConsentSigner>,
}

impl Consents {
    /// Opens the configured store and reads the signing key. Subjects are filed under the
    /// audit log's pseudonym key, so consent and audit pseudonyms are the same.
    pub(crate) fn open(
        config: &ConsentConfig,
        pseudonym_key: &std::path::Path,
        redis_timeout: Duration,
    ) -> Result<Consents, Vec<String>> {
        let mut problems = Vec::new();
        let signer = ConsentSigner::from_file(&config.signing_key)
            .map_err(|e| problems.push(format!("signing_key: {e}")))
            .ok();
        let key = SubjectKey::from_file(pseudonym_key)
            .map_err(|e| problems.push(format!("pseudonym key (broker.audit.pseudonym_key): {e}")))
            .ok();
        let (Some(signer), Some(key)) = (signer, key) else {
            return Err(problems);
        };
        let store: Arc<dyn ConsentStore> = match config.store {
            ConsentStoreKind::File => {
                let Some(dir) = &config.dir else {
                    return Err(vec!["dir: required when store = \"file\"".into()]);
                };
                Arc::new(FileStore::open(dir, key).map_err(|e| vec![format!("store: {e}")])?)
            }
            ConsentStoreKind::Redis => {
                let Some(url) = &config.redis_url else {
                    return Err(vec!["redis_url: required when store = \"redis\"".into()]);
                };
                Arc::new(SharedRedis {
                    url: url.clone(),
                    key,
                    options: RedisOptions {
                        prefix: config.key_prefix.clone(),
                        response_timeout: redis_timeout,
                        connection_timeout: redis_timeout,
                        ..RedisOptions::default()
                    },
                    store: tokio::sync::OnceCell::new(),
                })
            }
        };
        Ok(Consents {
            store,
            signer: Arc::new(signer),
        })
    }
}

/// What an audit record names as the consent an exchange presented: the consent id read from
/// the `tongdao-consent` value (a bare id or an artefact), never the value itself — an
/// artefact holds the citizen's national ID in clear, and the log holds none. A malformed
/// value records nothing (the outcome says `CONSENT_INVALID`).
pub(crate) fn audited_consent_id(value: &str) -> Option<String> {
    consent_id_of(value).ok().map(|id| id.to_string())
}

/// The refusal for a store that could not answer: fail closed.
pub(crate) fn store_unavailable(error: &StoreError) -> Rejection {
    metrics::counter!("tongdao_consent_store_failures_total").increment(1);
    tracing::error!(%error, "consent store unavailable; failing closed");
    Rejection::new(
        Reason::ConsentUnavailable,
        "the consent store cannot answer right now; nothing is served without a consent check, retry later",
    )
}

/// The Redis store, connected on first use: `Broker::from_config` is synchronous and a broker
/// must start (and fail consent checks closed) while Redis is down; a failed connection is
/// retried by the next operation.
struct SharedRedis {
    url: String,
    key: SubjectKey,
    options: RedisOptions,
    store: tokio::sync::OnceCell<RedisStore>,
}

impl fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRedis")
            .field("prefix", &self.options.prefix)
            .field("connected", &self.store.initialized())
            .finish_non_exhaustive()
    }
}

impl SharedRedis {
    async fn connected(&self) -> Result<&RedisStore, StoreError> {
        // Bounded: connecting includes loading the scripts (a few round trips).
        let limit = self.options.connection_timeout * 3;
        self.store
            .get_or_try_init(|| async {
                tokio::time::timeout(
                    limit,
                    RedisStore::connect(&self.url, self.key.clone(), self.options.clone()),
                )
                .await
                .map_err(|_| StoreError::Unavailable("connecting to redis timed out".into()))?
            })
            .await
    }
}

impl ConsentStore for SharedRedis {
    fn grant<'a>(&'a self, consent: &'a Consent) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.connected().await?.grant(consent).await })
    }

    fn revoke<'a>(
        &'a self,
        id: &'a ConsentId,
        subject: &'a NationalId,
        at: Timestamp,
    ) -> StoreFuture<'a, Result<Revocation, StoreError>> {
        Box::pin(async move { self.connected().await?.revoke(id, subject, at).await })
    }

    fn list<'a>(
        &'a self,
        subject: &'a NationalId,
    ) -> StoreFuture<'a, Result<Vec<(Consent, ConsentState)>, StoreError>> {
        Box::pin(async move { self.connected().await?.list(subject).await })
    }

    fn check<'a>(
        &'a self,
        id: &'a ConsentId,
        usage: &'a Use<'a>,
    ) -> StoreFuture<'a, Result<Permit, CheckError>> {
        Box::pin(async move {
            let store = self.connected().await.map_err(CheckError::Store)?;
            store.check(id, usage).await
        })
    }
}

#[cfg(test)]
mod tests {
    use tongdao_consent::{Grant, Limits, Validity};

    use super::*;

    #[test]
    fn the_audit_log_gets_the_id_never_the_artefact() {
        let pair = ConsentSigner::generate("consent.test").expect("key");
        let signer = ConsentSigner::from_text(&pair.signing_key).expect("signer");
        let now = Timestamp::now();
        let consent = Consent::grant(
            Grant {
                subject: "A123456789".parse().expect("valid ID"),
                grantee: "379010000A".into(),
                services: vec!["/tongdao.tax.v1.TaxRegistry/ListIncome".into()],
                fields: vec!["items".into()],
                purpose: "057".into(),
                validity: Validity::Until(now.plus_seconds(60).expect("in range")),
            },
            now,
            &Limits::default(),
        )
        .expect("granted");
        let artefact = signer.sign(&consent);
        assert!(artefact.contains('.'));
        let id = consent.id().to_string();
        assert_eq!(audited_consent_id(&artefact).as_deref(), Some(id.as_str()));
        assert_eq!(audited_consent_id(&id).as_deref(), Some(id.as_str()));
        for bad in [
            "",
            "A123456789",
            "tdc1.garbage.x",
            "01936B2E-8D4A-7C3F-9A1B-2C3D4E5F6A7B",
        ] {
            assert_eq!(audited_consent_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_store_failure_is_consent_unavailable() {
        let rejection = store_unavailable(&StoreError::Closed);
        assert_eq!(rejection.reason(), Reason::ConsentUnavailable);
        assert_eq!(rejection.code(), tonic::Code::Unavailable);
    }
}
