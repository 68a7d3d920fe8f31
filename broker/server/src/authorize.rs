//! Authorization as a type: only a [`Permitted`] exchange can be forwarded to an adapter, and
//! only this module can make one.

use tongdao_core::{Principal, Reason, Rejection};

use crate::{exchange::Exchange, layers::Step};

/// An exchange the broker has decided to allow. The field is private and there is no public
/// constructor, so code after the authorization layer cannot forge one.
#[derive(Debug)]
pub(crate) struct Permitted<T>(T);

impl<T> Permitted<T> {
    /// The permitted value.
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

/// The authorization step.
///
/// Until purpose-bound rules exist (the policy issue), the foundation admits any registered
/// agency to any routed domain method, and nobody else: citizens get their own self-access
/// rules later, and default deny starts here.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authorize;

impl Step<Exchange> for Authorize {
    type Out = Permitted<Exchange>;

    fn apply(&self, exchange: Exchange) -> Result<Permitted<Exchange>, Rejection> {
        match exchange.principal {
            Principal::Agency(_) => Ok(Permitted(exchange)),
            Principal::Citizen(_) => Err(Rejection::new(
                Reason::AgencyRequired,
                "domain services are open to agency certificates; a citizen certificate cannot call them",
            )),
        }
    }
}
