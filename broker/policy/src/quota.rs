//! Quotas: per rule and client, at most N permitted calls per window, counted in process.
//!
//! Fixed windows aligned to Taiwan time (UTC+8, no daylight saving), so "1000 per day" means per
//! calendar day as the agencies count it. Every permitted call counts, whether or not the
//! adapter then answers: the quota bounds what the client may ask for. State survives policy
//! reloads (keep one `Quotas` for the broker's lifetime); a changed window length starts a new
//! window. Shared quotas across replicas come with the scale-out issue.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tongdao_core::Reason;

use crate::decide::{Allow, Denial};

/// Offset of Taiwan time from UTC, in seconds.
const TAIPEI_OFFSET: i64 = 8 * 3600;

/// In-process quota counters.
#[derive(Debug, Default)]
pub struct Quotas {
    windows: Mutex<WindowsByRule>,
}

/// Rule id → client → its current window.
type WindowsByRule = HashMap<Box<str>, HashMap<Box<str>, Window>>;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    length: u32,
    used: u32,
}

impl Quotas {
    /// No calls counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call by `client` under `allow`'s rule at `now_unix`, or refuses it with
    /// `QUOTA_EXCEEDED` when the window is used up. A rule without a quota always succeeds and
    /// counts nothing.
    pub fn try_acquire(&self, allow: &Allow, client: &str, now_unix: i64) -> Result<(), Denial> {
        let Some(quota) = allow.quota else {
            return Ok(());
        };
        let length = i64::from(quota.per_seconds);
        let start = window_start(now_unix, length);
        // A poisoned lock still holds consistent counters: every update is a single store.
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let by_client = match windows.get_mut(&*allow.rule_id) {
            Some(by_client) => by_client,
            None => windows.entry(allow.rule_id.as_ref().into()).or_default(),
        };
        let window = match by_client.get_mut(client) {
            Some(window) => window,
            None => by_client.entry(client.into()).or_insert(Window {
                start,
                length: quota.per_seconds,
                used: 0,
            }),
        };
        if window.start != start || window.length != quota.per_seconds {
            *window = Window {
                start,
                length: quota.per_seconds,
                used: 0,
            };
        }
        if window.used >= quota.requests {
            let retry_after = start + length - now_unix;
            return Err(Denial::new(
                Reason::QuotaExceeded,
                format!(
                    "quota of rule {} exhausted: {} requests per {} s; retry in {retry_after} s",
                    allow.rule_id, quota.requests, quota.per_seconds
                ),
            ));
        }
        window.used += 1;
        Ok(())
    }

    /// Calls left for `client` under `allow`'s rule in the window containing `now_unix`;
    /// `None` if the rule has no quota.
    pub fn remaining(&self, allow: &Allow, client: &str, now_unix: i64) -> Option<u32> {
        let quota = allow.quota?;
        let length = i64::from(quota.per_seconds);
        let start = window_start(now_unix, length);
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let used = windows
            .get(&*allow.rule_id)
            .and_then(|by_client| by_client.get(client))
            .filter(|w| w.start == start && w.length == quota.per_seconds)
            .map_or(0, |w| w.used);
        Some(quota.requests.saturating_sub(used))
    }
}

#[cfg(test)]
mod tests;

/// Start of the fixed window containing `now_unix`, windows aligned to midnight Taiwan time.
fn window_start(now_unix: i64, length: i64) -> i64 {
    now_unix
        .saturating_add(TAIPEI_OFFSET)
        .div_euclid(length)
        .saturating_mul(length)
        .saturating_sub(TAIPEI_OFFSET)
}
