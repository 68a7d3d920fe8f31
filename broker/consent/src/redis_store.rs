//! The shared store: consents in Redis, for replicas of the broker.
//!
//! Layout under a configurable prefix `P` (default `tongdao:consent:`):
//!
//! - `P c:<consent id>` — a hash: `doc` (the stored consent's canonical JSON, subject as its
//!   pseudonym) and, for the check script, `subject`, `grantee`, `services`, `purpose`,
//!   `fields` (lists as `\n`-delimited text), `not_after` (Unix seconds), `single_use`
//!   (`1`/`0`), and once they happen `revoked_at` / `used_at` (Unix seconds). It expires
//!   [`RedisOptions::retention`] after `not_after`.
//! - `P s:<pseudonym>` — a set of the subject's consent ids, for listing.
//!
//! Every operation is one Lua script run with `EVALSHA` (loaded at connect, reloaded by the
//! client if Redis lost it): one round trip, and atomic, so a single-use consent is
//! consumed by exactly one check whichever broker sends it, and a revocation is seen by the
//! next check on every broker (nothing is cached). The list script reads keys it is not
//! passed, so this needs one Redis (with replicas/Sentinel), not Redis Cluster; and Redis
//! 7.0 or later (`PEXPIRETIME`). Durability is Redis's: run it with `appendonly yes` and
//! `appendfsync always` for an acknowledged change to survive a Redis crash.

use std::{fmt, sync::Arc, time::Duration};

use redis::{
    Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tongdao_core::ids::NationalId;

use crate::{
    error::StoreError,
    model::{Consent, ConsentId, ConsentState},
    record::StoredConsent,
    store::{
        CheckError, ConsentStore, Permit, Refusal, Revocation, ScopeMismatch, StoreFuture, Use,
    },
    subject::SubjectKey,
    timestamp::Timestamp,
};

/// How a [`RedisStore`] connects and names its keys.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Prefix of every key. Default `tongdao:consent:`; tests use a unique one each.
    pub prefix: String,
    /// Longest wait for one operation, reconnecting included. Default 1 s: a stuck or
    /// unreachable Redis fails the check closed (the exchange gets `UNAVAILABLE`) rather than
    /// holding it to its deadline.
    pub response_timeout: Duration,
    /// Longest wait to (re)connect. Default 1 s.
    pub connection_timeout: Duration,
    /// How long a consent is kept after its `not_after` (then it is gone: checks say
    /// unknown, listings omit it). Default 400 days, so a citizen sees a year of history.
    pub retention: Duration,
}

impl Default for RedisOptions {
    fn default() -> RedisOptions {
        RedisOptions {
            prefix: "tongdao:consent:".into(),
            response_timeout: Duration::from_secs(1),
            connection_timeout: Duration::from_secs(1),
            retention: Duration::from_secs(400 * 24 * 3600),
        }
    }
}

/// Consents in Redis, shared by every broker connected to it. Cheap to clone (one
/// multiplexed connection, reconnected automatically).
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    timeout: Duration,
    key: SubjectKey,
    prefix: Arc<str>,
    retention_ms: i64,
    scripts: Arc<Scripts>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

struct Scripts {
    grant: Script,
    revoke: Script,
    list: Script,
    check: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`), loads the scripts, and files subjects
    /// under `key`'s pseudonyms.
    pub async fn connect(
        url: &str,
        key: SubjectKey,
        options: RedisOptions,
    ) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url)?;
        // Reconnect attempts are short and few: while they run, requests wait on them, and
        // `bounded` cuts every request off at `response_timeout` anyway.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.response_timeout))
            .set_connection_timeout(Some(options.connection_timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let mut connection = ConnectionManager::new_with_config(client, config).await?;
        let scripts = Scripts {
            grant: Script::new(GRANT),
            revoke: Script::new(REVOKE),
            list: Script::new(LIST),
            check: Script::new(CHECK),
        };
        for script in [
            &scripts.grant,
            &scripts.revoke,
            &scripts.list,
            &scripts.check,
        ] {
            script.prepare_invoke().load_async(&mut connection).await?;
        }
        let retention_ms = i64::try_from(options.retention.as_millis()).unwrap_or(i64::MAX);
        Ok(RedisStore {
            connection,
            timeout: options.response_timeout,
            key,
            prefix: options.prefix.into(),
            retention_ms,
            scripts: Arc::new(scripts),
        })
    }

    /// One `PING`: a health probe, and the benchmark's baseline round trip.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(async {
            let mut connection = self.connection.clone();
            let _: String = redis::cmd("PING").query_async(&mut connection).await?;
            Ok(())
        })
        .await
    }

    /// Cuts an operation off after `response_timeout`. A script that was sent may still run
    /// in Redis: a revocation or grant cut off this way may have happened (the caller was
    /// told it did not and will retry, which is idempotent); a single-use consent may have
    /// been consumed without a permit (fail closed).
    async fn bounded<T, E: From<StoreError>>(
        &self,
        operation: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "redis did not answer within {} ms",
                self.timeout.as_millis()
            ))
            .into()),
        }
    }

    fn consent_key(&self, id: &ConsentId) -> String {
        format!("{}c:{id}", self.prefix)
    }

    fn subject_key(&self, subject: &str) -> String {
        format!("{}s:{subject}", self.prefix)
    }

    async fn grant_inner(&self, consent: &Consent) -> Result<(), StoreError> {
        let pseudonym = self.key.pseudonym(consent.subject());
        let subject = pseudonym.to_hex();
        let terms = consent.terms();
        let stored = StoredConsent::of(consent, pseudonym);
        let not_after = terms.validity.not_after().unix_seconds();
        let expire_at_ms = not_after
            .saturating_mul(1000)
            .saturating_add(self.retention_ms);
        let mut invocation = self.scripts.grant.key(self.consent_key(consent.id()));
        invocation
            .key(self.subject_key(&subject))
            .arg(stored.encode())
            .arg(consent.id().to_string())
            .arg(&subject)
            .arg(terms.grantee.as_str())
            .arg(delimited(&terms.services))
            .arg(terms.purpose.as_str())
            .arg(delimited(&terms.fields))
            .arg(not_after)
            .arg(if terms.validity.is_single_use() {
                "1"
            } else {
                "0"
            })
            .arg(expire_at_ms);
        let reply: String = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        match reply.as_str() {
            "granted" | "exists" => Ok(()),
            "conflict" => Err(StoreError::Conflict(*consent.id())),
            other => Err(StoreError::Protocol(format!("grant answered {other:?}"))),
        }
    }

    async fn revoke_inner(
        &self,
        id: &ConsentId,
        subject: &NationalId,
        at: Timestamp,
    ) -> Result<Revocation, StoreError> {
        let mut invocation = self.scripts.revoke.key(self.consent_key(id));
        invocation
            .arg(self.key.pseudonym(subject).to_hex())
            .arg(at.unix_seconds());
        let reply: Vec<String> = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        match reply.as_slice() {
            [outcome] if outcome == "notfound" => Ok(Revocation::NotFound),
            [outcome, at] if outcome == "revoked" => Ok(Revocation::Revoked { at: seconds(at)? }),
            [outcome, at] if outcome == "already" => {
                Ok(Revocation::AlreadyRevoked { at: seconds(at)? })
            }
            other => Err(StoreError::Protocol(format!("revoke answered {other:?}"))),
        }
    }

    async fn list_inner(
        &self,
        subject: &NationalId,
    ) -> Result<Vec<(Consent, ConsentState)>, StoreError> {
        let pseudonym = self.key.pseudonym(subject);
        let mut invocation = self.scripts.list.key(self.subject_key(&pseudonym.to_hex()));
        invocation.arg(format!("{}c:", self.prefix));
        let reply: Vec<String> = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        if !reply.len().is_multiple_of(3) {
            return Err(StoreError::Protocol("list answered a ragged array".into()));
        }
        let optional = |text: &String| {
            if text.is_empty() {
                Ok(None)
            } else {
                seconds(text).map(Some)
            }
        };
        let mut listed = Vec::with_capacity(reply.len() / 3);
        for item in reply.chunks_exact(3) {
            let stored = StoredConsent::decode(item[0].as_bytes())
                .map_err(|error| StoreError::Protocol(format!("stored consent: {error}")))?;
            if stored.subject != pseudonym {
                return Err(StoreError::Protocol(format!(
                    "consent {} is filed under another subject",
                    stored.id
                )));
            }
            let state = ConsentState {
                revoked_at: optional(&item[1])?,
                used_at: optional(&item[2])?,
            };
            listed.push((
                Consent::from_parts(stored.id, subject.clone(), stored.terms),
                state,
            ));
        }
        listed.sort_by(|a, b| a.0.id().cmp(b.0.id()));
        Ok(listed)
    }

    async fn check_inner(&self, id: &ConsentId, usage: &Use<'_>) -> Result<Permit, CheckError> {
        // The script delimits lists with newlines: a path holding one can match nothing.
        if usage.service.contains('\n') {
            return Err(Refusal::Scope(ScopeMismatch::Service).into());
        }
        if let Some(field) = usage.fields.iter().find(|f| f.contains('\n')) {
            return Err(Refusal::Scope(ScopeMismatch::Field(field.clone())).into());
        }
        let mut invocation = self.scripts.check.key(self.consent_key(id));
        invocation
            .arg(usage.grantee.as_str())
            .arg(self.key.pseudonym(usage.subject).to_hex())
            .arg(usage.service)
            .arg(usage.purpose.as_str())
            .arg(usage.now.unix_seconds())
            .arg(usage.run.unwrap_or(""))
            .arg(usage.fields);
        let reply: Vec<String> = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::from)?;
        let refusal = match reply.as_slice() {
            [outcome, not_after, consumed] if outcome == "ok" => {
                return Ok(Permit {
                    id: *id,
                    consumed: consumed == "1",
                    not_after: seconds(not_after)?,
                });
            }
            [outcome] if outcome == "unknown" => Refusal::Unknown,
            [outcome, at] if outcome == "revoked" => Refusal::Revoked { at: seconds(at)? },
            [outcome, at] if outcome == "expired" => Refusal::Expired {
                not_after: seconds(at)?,
            },
            [outcome, at] if outcome == "used" => Refusal::AlreadyUsed { at: seconds(at)? },
            [outcome, what] if outcome == "scope" => Refusal::Scope(match what.as_str() {
                "grantee" => ScopeMismatch::Grantee,
                "subject" => ScopeMismatch::Subject,
                "service" => ScopeMismatch::Service,
                "purpose" => ScopeMismatch::Purpose,
                other => {
                    return Err(
                        StoreError::Protocol(format!("check answered scope {other:?}")).into(),
                    );
                }
            }),
            [outcome, what, field] if outcome == "scope" && what == "field" => {
                Refusal::Scope(ScopeMismatch::Field(field.clone()))
            }
            other => {
                return Err(StoreError::Protocol(format!("check answered {other:?}")).into());
            }
        };
        Err(refusal.into())
    }
}

impl ConsentStore for RedisStore {
    fn grant<'a>(&'a self, consent: &'a Consent) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(self.bounded(self.grant_inner(consent)))
    }

    fn revoke<'a>(
        &'a self,
        id: &'a ConsentId,
        subject: &'a NationalId,
        at: Timestamp,
    ) -> StoreFuture<'a, Result<Revocation, StoreError>> {
        Box::pin(self.bounded(self.revoke_inner(id, subject, at)))
    }

    fn list<'a>(
        &'a self,
        subject: &'a NationalId,
    ) -> StoreFuture<'a, Result<Vec<(Consent, ConsentState)>, StoreError>> {
        Box::pin(self.bounded(self.list_inner(subject)))
    }

    fn check<'a>(
        &'a self,
        id: &'a ConsentId,
        usage: &'a Use<'a>,
    ) -> StoreFuture<'a, Result<Permit, CheckError>> {
        Box::pin(self.bounded(self.check_inner(id, usage)))
    }
}

/// `\na\nb\n`: a list the scripts search with plain `string.find` for `\n<entry>\n`.
fn delimited(list: &[String]) -> String {
    let mut out = String::from("\n");
    for entry in list {
        out.push_str(entry);
        out.push('\n');
    }
    out
}

fn seconds(text: &str) -> Result<Timestamp, StoreError> {
    text.parse::<i64>()
        .ok()
        .and_then(Timestamp::from_unix_seconds)
        .ok_or_else(|| StoreError::Protocol(format!("{text:?} is not a time")))
}

/// KEYS: consent hash, subject set. ARGV: doc, id, subject, grantee, services, purpose,
/// fields, not_after, single_use, expire_at_ms.
const GRANT: &str = r"
local doc = redis.call('HGET', KEYS[1], 'doc')
if doc then
  if doc == ARGV[1] then return 'exists' end
  return 'conflict'
end
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'subject', ARGV[3], 'grantee', ARGV[4],
  'services', ARGV[5], 'purpose', ARGV[6], 'fields', ARGV[7], 'not_after', ARGV[8],
  'single_use', ARGV[9])
local expire_at = tonumber(ARGV[10])
redis.call('PEXPIREAT', KEYS[1], expire_at)
redis.call('SADD', KEYS[2], ARGV[2])
-- -1: the set has no expiry yet. The set lives as long as its longest-lived consent.
if redis.call('PEXPIRETIME', KEYS[2]) < expire_at then
  redis.call('PEXPIREAT', KEYS[2], expire_at)
end
return 'granted'
";

/// KEYS: consent hash. ARGV: subject, at.
const REVOKE: &str = r"
local h = redis.call('HMGET', KEYS[1], 'subject', 'revoked_at')
if not h[1] or h[1] ~= ARGV[1] then return {'notfound'} end
if h[2] then return {'already', h[2]} end
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[2])
return {'revoked', ARGV[2]}
";

/// KEYS: subject set. ARGV: prefix of consent hashes. Returns doc, revoked_at, used_at per
/// consent ('' when absent); drops ids whose hash has expired.
const LIST: &str = r"
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HMGET', ARGV[1] .. id, 'doc', 'revoked_at', 'used_at')
  if h[1] then
    out[#out + 1] = h[1]
    out[#out + 1] = h[2] or ''
    out[#out + 1] = h[3] or ''
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
";

/// KEYS: consent hash. ARGV: grantee, subject, service, purpose, now, run ('' for a direct
/// exchange), fields… The rules and their order are `store::evaluate`'s; a single-use consent
/// used by a recipe run's leg answers the run's other legs without another use.
const CHECK: &str = r"
local h = redis.call('HMGET', KEYS[1], 'grantee', 'subject', 'services', 'purpose', 'fields',
  'not_after', 'single_use', 'revoked_at', 'used_at', 'used_by')
if not h[1] then return {'unknown'} end
if h[1] ~= ARGV[1] then return {'scope', 'grantee'} end
if h[2] ~= ARGV[2] then return {'scope', 'subject'} end
if h[8] then return {'revoked', h[8]} end
if tonumber(ARGV[5]) >= tonumber(h[6]) then return {'expired', h[6]} end
if not string.find(h[3], '\n' .. ARGV[3] .. '\n', 1, true) then return {'scope', 'service'} end
if h[4] ~= ARGV[4] then return {'scope', 'purpose'} end
local fields = h[5]
for i = 7, #ARGV do
  local field = ARGV[i]
  local covered = string.find(fields, '\n' .. field .. '\n', 1, true)
  local dot = 0
  while not covered do
    dot = string.find(field, '.', dot + 1, true)
    if not dot then break end
    covered = string.find(fields, '\n' .. string.sub(field, 1, dot - 1) .. '\n', 1, true)
  end
  if not covered then return {'scope', 'field', field} end
end
if h[7] == '1' then
  if h[9] then
    if ARGV[6] ~= '' and h[10] == ARGV[6] then return {'ok', h[6], '0'} end
    return {'used', h[9]}
  end
  if ARGV[6] ~= '' then
    redis.call('HSET', KEYS[1], 'used_at', ARGV[5], 'used_by', ARGV[6])
  else
    redis.call('HSET', KEYS[1], 'used_at', ARGV[5])
  end
  return {'ok', h[6], '1'}
end
return {'ok', h[6], '0'}
";
