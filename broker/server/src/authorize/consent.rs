//! The consent step: for a rule that needs the data subject's consent, the consent the
//! exchange presents (`tongdao-consent`: a consent id or an artefact) must be one the store
//! holds for this agency, subject, method, purpose and the rule's fields, unexpired,
//! unrevoked, and unused if single use (consumed here, atomically). A store that cannot
//! answer fails the exchange closed. Only after this step is an exchange [`Permitted`].

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::Either;
use tongdao_consent::{CheckError, ConsentId, ConsentStore, PurposeCode, Timestamp, Use};
use tongdao_core::{Principal, Reason, Rejection, ids::AgencyCode};
use tongdao_policy::Allow;
use tower::{Layer, Service};

use super::{Authorized, Permitted};
use crate::exchange::{CONSENT_HEADER, Exchange, Reply, Subject};

/// The consent the exchange presents, read before any store is asked: none →
/// `CONSENT_REQUIRED`; not a consent id nor an artefact → `CONSENT_INVALID`.
pub(super) fn presented(exchange: &Exchange, allow: &Allow) -> Result<ConsentId, Rejection> {
    let Some(value) = exchange.header(CONSENT_HEADER) else {
        return Err(Rejection::new(
            Reason::ConsentRequired,
            format!(
                "rule {} needs the data subject's consent: send tongdao-consent (the consent id or its artefact)",
                allow.rule_id
            ),
        ));
    };
    tongdao_consent::consent_id_of(value).map_err(|error| {
        Rejection::new(
            Reason::ConsentInvalid,
            format!("tongdao-consent is neither a consent id nor a consent artefact: {error}"),
        )
    })
}

/// Puts [`ConsentGate`] between authorization and forwarding. `None`: the broker has no
/// consent store, and every exchange needing consent is refused.
#[derive(Debug, Clone)]
pub(crate) struct ConsentLayer {
    pub(crate) store: Option<Arc<dyn ConsentStore>>,
}

impl<Inner> Layer<Inner> for ConsentLayer {
    type Service = ConsentGate<Inner>;

    fn layer(&self, inner: Inner) -> Self::Service {
        ConsentGate {
            store: self.store.clone(),
            inner,
        }
    }
}

/// The service of [`ConsentLayer`].
#[derive(Debug, Clone)]
pub(crate) struct ConsentGate<Inner> {
    store: Option<Arc<dyn ConsentStore>>,
    inner: Inner,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<Inner> Service<Authorized> for ConsentGate<Inner>
where
    Inner:
        Service<Permitted<Exchange>, Response = Reply, Error = Rejection> + Clone + Send + 'static,
    Inner::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Rejection;
    type Future = Either<Inner::Future, BoxFuture<Result<Reply, Rejection>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Rejection>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, authorized: Authorized) -> Self::Future {
        let Authorized {
            inner: exchange,
            allow,
            consent,
        } = authorized;
        let Some(id) = consent else {
            // The rule needs no consent.
            return Either::Left(self.inner.call(Permitted {
                inner: exchange,
                allow,
            }));
        };
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let store = self.store.clone();
        Either::Right(Box::pin(async move {
            check(store.as_deref(), &exchange, &allow, &id).await?;
            inner
                .call(Permitted {
                    inner: exchange,
                    allow,
                })
                .await
        }))
    }
}

/// Asks the store whether consent `id` covers this exchange (consuming it if single use).
async fn check(
    store: Option<&dyn ConsentStore>,
    exchange: &Exchange,
    allow: &Allow,
    id: &ConsentId,
) -> Result<(), Rejection> {
    let Some(store) = store else {
        return Err(Rejection::new(
            Reason::ConsentInvalid,
            "this broker has no consent store configured, so no consent can be checked",
        ));
    };
    let scope = |what: &str| {
        Rejection::new(
            Reason::ConsentScope,
            format!("the consent does not cover this exchange: {what}"),
        )
    };
    let grantee: AgencyCode = match &exchange.principal {
        Principal::Agency(agency) => agency
            .code
            .parse()
            .map_err(|_| scope("consents are granted to agencies by agency code"))?,
        Principal::Citizen(_) => return Err(scope("consents are granted to agencies")),
    };
    let Some(Subject::NationalId(subject)) = &exchange.subject else {
        return Err(scope("the request names no person who could consent"));
    };
    let purpose: PurposeCode = allow
        .purpose
        .map(|p| p.to_string())
        .unwrap_or_default()
        .parse()
        .map_err(|_| scope("the exchange declares no purpose"))?;
    // A recipe's legs share one use of a single-use consent: the run is the occasion.
    let usage = Use {
        grantee: &grantee,
        subject,
        service: &exchange.method.path,
        purpose,
        fields: allow.fields.paths(),
        now: Timestamp::now(),
        run: exchange
            .leg
            .as_ref()
            .map(|leg| leg.record.parent_exchange_id.as_str()),
    };
    match store.check(id, &usage).await {
        Ok(permit) => {
            metrics::counter!("tongdao_consent_checks_total", "outcome" => "OK").increment(1);
            tracing::debug!(consent_id = %permit.id, consumed = permit.consumed, "consent holds");
            Ok(())
        }
        Err(CheckError::Refused(refusal)) => {
            let reason = refusal.reason();
            metrics::counter!("tongdao_consent_checks_total", "outcome" => reason.as_str_name())
                .increment(1);
            Err(Rejection::new(reason, format!("consent {id}: {refusal}")))
        }
        Err(CheckError::Store(error)) => Err(crate::consent::store_unavailable(&error)),
    }
}
