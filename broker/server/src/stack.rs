//! The exchange stack, assembled in one place.

use std::sync::Arc;

use tongdao_core::Rejection;
use tower::{ServiceBuilder, service_fn, util::BoxCloneSyncService};

use crate::{
    admit::Admit,
    audit::Auditor,
    authorize::{Authorize, ConsentLayer},
    catalogue::Catalogue,
    exchange::{Incoming, Reply},
    forward::audited_forward,
    layers::{ObserveLayer, StepLayer},
    policy::PolicyHandle,
    replay::ReplayGuard,
    validate::Validate,
};

/// The exchange stack as one service: an [`Incoming`] call in, the adapter's [`Reply`] or a
/// [`Rejection`] out.
pub(crate) type ExchangeService = BoxCloneSyncService<Incoming, Reply, Rejection>;

/// Assembles the stack every domain exchange passes through, outermost first. The order is
/// the contract drawn in ARCHITECTURE.md: nothing reaches `audited_forward` without passing every
/// check above it, and every outcome — allowed or refused — passes back through `Observe`.
pub(crate) fn exchange_stack(
    catalogue: Arc<Catalogue>,
    replay: ReplayGuard,
    policy: PolicyHandle,
    auditor: Auditor,
    consents: Option<Arc<dyn tongdao_consent::ConsentStore>>,
) -> ExchangeService {
    let stack = ServiceBuilder::new()
        // Count, log and audit every outcome; refusals are recorded like successes.
        .layer(ObserveLayer {
            auditor: auditor.clone(),
            policy: policy.clone(),
        })
        // A usable exchange id, an identified principal, a method that exists.
        .layer(StepLayer(Admit { catalogue }))
        // A client-chosen exchange id is used once.
        .layer(StepLayer(replay))
        // The body is a message of the input type and names a valid data subject.
        .layer(StepLayer(Validate))
        // Default deny: a rule must allow this agency, method and purpose, within its quota;
        // only a Permitted exchange goes on, carrying the fields it may receive.
        .layer(StepLayer(Authorize {
            policy,
            quotas: Arc::default(),
        }))
        // A rule needing consent: the presented consent must cover this agency, subject,
        // method, purpose and fields, unexpired and unrevoked; single use is consumed here.
        .layer(ConsentLayer { store: consents })
        // Intent record (durable) → relay to the adapter, check its answer, release only the
        // permitted fields → completion record (durable) with the receipt.
        .service(service_fn(move |permitted| {
            audited_forward(auditor.clone(), permitted)
        }));
    BoxCloneSyncService::new(stack)
}
