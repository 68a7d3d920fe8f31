//! Replay protection: a client-chosen exchange id is used once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tongdao_core::{Reason, Rejection};
use uuid::Uuid;

use crate::{exchange::Exchange, layers::Step};

/// Remembers client-chosen exchange ids for the replay window.
///
/// Client-chosen ids are UUIDv7, whose embedded timestamp must lie within the window (checked
/// at ingress): an id older than the window is refused as stale, so the guard never needs to
/// remember more than one window of traffic.
#[derive(Debug, Clone)]
pub(crate) struct ReplayGuard {
    window: Duration,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Id → Unix milliseconds after which it may be forgotten.
    expiry: HashMap<Uuid, u64>,
    next_sweep_ms: u64,
}

impl ReplayGuard {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            seen: Arc::default(),
        }
    }

    /// Whether a client-chosen id is acceptable at ingress: a UUIDv7 whose timestamp is within
    /// the window of now (either side, for clock skew).
    pub(crate) fn fresh(&self, id: &Uuid) -> bool {
        let Some(timestamp) = id.get_timestamp() else {
            return false;
        };
        if id.get_version_num() != 7 {
            return false;
        }
        let (secs, nanos) = timestamp.to_unix();
        let issued = Duration::new(secs, nanos);
        let now = now_since_epoch();
        let skew = issued.abs_diff(now);
        skew <= self.window
    }
}

fn now_since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl Step<Exchange> for ReplayGuard {
    type Out = Exchange;

    fn apply(&self, exchange: Exchange) -> Result<Exchange, Rejection> {
        if !exchange.client_chose_id {
            return Ok(exchange);
        }
        let now_ms = now_since_epoch().as_millis() as u64;
        // Twice the window: the id's own timestamp may be up to one window in the future.
        let forget_at = now_ms + 2 * self.window.as_millis() as u64;
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now_ms >= seen.next_sweep_ms {
            seen.expiry.retain(|_, expiry| *expiry > now_ms);
            seen.next_sweep_ms = now_ms + 1_000;
        }
        if seen.expiry.insert(exchange.id.0, forget_at).is_some() {
            return Err(Rejection::new(
                Reason::ReplayedExchange,
                "this tongdao-exchange-id was used before; every exchange needs a new id",
            ));
        }
        Ok(exchange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_v7_ids_are_fresh() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        assert!(guard.fresh(&Uuid::now_v7()));
        assert!(!guard.fresh(&Uuid::new_v4()), "v4 has no timestamp");
        let old = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_600_000_000,
            0,
        ));
        assert!(!guard.fresh(&old), "older than the window");
    }
}
