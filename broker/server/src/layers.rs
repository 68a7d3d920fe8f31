//! The building blocks of the exchange stack: [`Step`], a synchronous check or transformation
//! wrapped as a tower layer, and [`ObserveLayer`], which counts and logs every exchange.

use std::{
    future::{Ready, ready},
    pin::Pin,
    task::{Context, Poll},
};

use futures::future::Either;
use tongdao_core::{Rejection, reason::reason_name};
use tower::{Layer, Service};

use crate::{
    audit::{Auditor, DenialFacts},
    exchange::{Incoming, Reply},
    policy::PolicyHandle,
};

/// One concern of the exchange stack: takes the exchange as the layer before left it and hands
/// it on (possibly as a new type) or refuses it.
pub(crate) trait Step<In>: Clone + Send + Sync + 'static {
    /// What the next layer receives.
    type Out;
    /// Checks or transforms the exchange.
    fn apply(&self, input: In) -> Result<Self::Out, Rejection>;
}

/// Wraps a [`Step`] as a tower layer.
#[derive(Debug, Clone)]
pub(crate) struct StepLayer<S>(pub(crate) S);

impl<S: Clone, Inner> Layer<Inner> for StepLayer<S> {
    type Service = StepService<S, Inner>;

    fn layer(&self, inner: Inner) -> Self::Service {
        StepService {
            step: self.0.clone(),
            inner,
        }
    }
}

/// The service of a [`StepLayer`].
#[derive(Debug, Clone)]
pub(crate) struct StepService<S, Inner> {
    step: S,
    inner: Inner,
}

impl<In, S, Inner> Service<In> for StepService<S, Inner>
where
    S: Step<In>,
    Inner: Service<S::Out, Response = Reply, Error = Rejection>,
{
    type Response = Reply;
    type Error = Rejection;
    type Future = Either<Inner::Future, Ready<Result<Reply, Rejection>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Rejection>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, input: In) -> Self::Future {
        match self.step.apply(input) {
            Ok(output) => Either::Left(self.inner.call(output)),
            Err(rejection) => Either::Right(ready(Err(rejection))),
        }
    }
}

/// Counts, logs and audits every exchange with its outcome — denials exactly like successes.
/// Refusals before an adapter was asked are recorded here as denials; later outcomes are in
/// the exchange's completion record.
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    pub(crate) auditor: Auditor,
    pub(crate) policy: PolicyHandle,
}

impl<Inner> Layer<Inner> for ObserveLayer {
    type Service = Observe<Inner>;

    fn layer(&self, inner: Inner) -> Self::Service {
        Observe {
            inner,
            auditor: self.auditor.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// The service of [`ObserveLayer`].
#[derive(Debug, Clone)]
pub(crate) struct Observe<Inner> {
    inner: Inner,
    auditor: Auditor,
    policy: PolicyHandle,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<Inner> Service<Incoming> for Observe<Inner>
where
    Inner: Service<Incoming, Response = Reply, Error = Rejection>,
    Inner::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Rejection;
    type Future = BoxFuture<Result<Reply, Rejection>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Rejection>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, incoming: Incoming) -> Self::Future {
        let recorded = incoming.recorded.clone();
        let facts = DenialFacts::of(&incoming);
        let (auditor, policy) = (self.auditor.clone(), self.policy.clone());
        let response = self.inner.call(incoming);
        Box::pin(async move {
            let mut result = response.await;
            if let Err(rejection) = &result
                && !recorded.is_marked()
            {
                let version = Some(policy.load().version().to_owned());
                if let Err(unavailable) = auditor.denial(&facts, rejection, version).await {
                    result = Err(unavailable);
                }
            }
            let elapsed = facts.received.elapsed();
            let outcome = match &result {
                Ok(_) => "OK",
                Err(rejection) => reason_name(rejection.reason()),
            };
            let principal = match &facts.caller.principal {
                Ok(principal) => principal.to_string(),
                Err(_) => "unidentified".to_owned(),
            };
            // Unknown paths are collapsed so a scanner cannot blow up the metric's cardinality.
            let method_label = if matches!(&result, Err(r) if matches!(r.reason(), tongdao_core::Reason::ServiceUnknown | tongdao_core::Reason::MethodUnknown))
            {
                "unknown".to_owned()
            } else {
                facts.path.clone()
            };
            metrics::counter!("tongdao_exchanges_total", "method" => method_label.clone(), "outcome" => outcome).increment(1);
            metrics::histogram!("tongdao_exchange_duration_seconds", "method" => method_label)
                .record(elapsed.as_secs_f64());
            tracing::info!(
                exchange_id = facts.id,
                trace_id = facts.trace_id,
                method = facts.path,
                principal,
                certificate_serial = facts.caller.certificate.serial,
                outcome,
                latency_us = elapsed.as_micros() as u64,
                "exchange"
            );
            result
        })
    }
}
