//! Admission: a well-formed call, from an identified principal, to a method on the bus.

use std::sync::Arc;

use tongdao_core::{Reason, Rejection};

use crate::{
    catalogue::Catalogue,
    exchange::{Exchange, Incoming},
    layers::Step,
};

/// Turns what arrived into an [`Exchange`]: the exchange id must be usable, the certificate
/// must identify a principal, and the method must exist.
#[derive(Debug, Clone)]
pub(crate) struct Admit {
    pub(crate) catalogue: Arc<Catalogue>,
}

impl Step<Incoming> for Admit {
    type Out = Exchange;

    fn apply(&self, incoming: Incoming) -> Result<Exchange, Rejection> {
        let client_chose_id = match incoming.requested_id {
            None => false,
            Some(Ok(_)) => true,
            Some(Err(())) => {
                return Err(Rejection::new(
                    Reason::ExchangeIdInvalid,
                    "tongdao-exchange-id must be a UUIDv7 from the last few minutes, or absent",
                ));
            }
        };
        let principal = incoming.caller.principal.clone()?;
        let method = self.catalogue.resolve(&incoming.path)?;
        Ok(Exchange {
            id: incoming.id,
            client_chose_id,
            method,
            principal,
            metadata: incoming.metadata,
            body: incoming.body,
            deadline: incoming.deadline,
            trace: incoming.trace,
            caller: incoming.caller,
            admitted: std::time::Instant::now(),
            recorded: incoming.recorded,
            subject: None,
            leg: incoming.leg,
        })
    }
}
