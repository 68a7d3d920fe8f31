//! Tongdao's one typed configuration: a TOML file with `TONGDAO__SECTION__KEY` environment
//! overrides, parsed once at start-up into the values every subcommand uses. Relative paths are
//! resolved against the file's directory, option names carry their units, and [`Config::load`]
//! reports every problem it finds at once.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

#[cfg(test)]
mod tests;

/// Prefix of environment overrides: `TONGDAO__BROKER__LISTEN_ADDR=127.0.0.1:8443` sets
/// `broker.listen_addr`. Values are read as TOML values when they parse as one (numbers,
/// booleans, arrays), as strings otherwise.
pub const ENV_PREFIX: &str = "TONGDAO__";

/// The whole configuration. Each subcommand needs its own section: `tongdao broker` the
/// `[broker]` section, `tongdao adapter household` the `[adapters.household]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The broker, if this file configures one.
    pub broker: Option<BrokerConfig>,
    /// Adapters this file configures.
    #[serde(default)]
    pub adapters: AdaptersConfig,
    /// Logs and metrics.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
}

/// `[broker]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// Where the broker listens for agencies and citizens.
    pub listen_addr: SocketAddr,
    /// The broker's certificate, key, trust anchors and CRLs.
    pub tls: TlsFiles,
    /// Certificate profile (which CA issues what, which attribute carries what). Defaults to the
    /// GPKI profile built into the binary.
    pub certificate_profile: Option<PathBuf>,
    /// The policy directory NDC maintains: registries (`agencies.toml`, `services.toml`,
    /// `purposes.toml`, `roles.toml`) and `rules/*.toml`. Reloaded on change and on SIGHUP.
    pub policy_dir: PathBuf,
    /// The audit log every exchange is recorded in before it reaches an adapter and before its
    /// answer reaches the caller.
    pub audit: AuditConfig,
    /// `[broker.consent]`: MyData consent (grants, revocations, checks). Absent: the broker
    /// serves no consent API and every rule needing consent answers `CONSENT_REQUIRED` /
    /// `CONSENT_INVALID`.
    pub consent: Option<ConsentConfig>,
    /// Issuing CA certificates per profile authority, e.g. `GCA = ["gca.crt"]`. Identities are
    /// read only from leaves these CAs issued, matched by key identifier.
    pub authorities: BTreeMap<String, Vec<PathBuf>>,
    /// A TLS handshake not finished by then is dropped.
    #[serde(default = "defaults::handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
    /// Deadline applied when a caller sends none, and the longest one honoured.
    #[serde(default = "defaults::max_deadline_ms")]
    pub max_deadline_ms: u64,
    /// Largest request or response message the broker relays.
    #[serde(default = "defaults::max_message_bytes")]
    pub max_message_bytes: usize,
    /// HTTP/2 streams one client connection may have open at once.
    #[serde(default = "defaults::max_concurrent_streams")]
    pub max_concurrent_streams: u32,
    /// How long a client-chosen exchange id is remembered to refuse replays. Client-chosen ids
    /// must be UUIDv7, whose timestamp must fall within this window, so memory stays bounded.
    #[serde(default = "defaults::replay_window_s")]
    pub replay_window_s: u64,
    /// Where each domain package is served.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// `[broker.audit]`: the tamper-evident audit log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Directory of the log (segments, C2SP tiles, checkpoints); created if absent.
    pub dir: PathBuf,
    /// The log's Ed25519 signing key, a C2SP note key (`tongdao audit keygen` writes one).
    pub signing_key: PathBuf,
    /// Key of the keyed hash that pseudonymises data subjects (64 hex digits): without it the
    /// log cannot be linked back to a national ID, so the log is no copy of the registers.
    pub pseudonym_key: PathBuf,
    /// The log's origin line in checkpoints, e.g. `tongdao.example/audit`.
    pub origin: String,
}

/// `[broker.consent]`: where consents live and the key that signs their artefacts. Subjects
/// are filed under the audit log's pseudonym key (`broker.audit.pseudonym_key`), so consent
/// and audit pseudonyms are the same.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// `file` (embedded, one broker per directory; the default) or `redis` (shared by
    /// replicas).
    #[serde(default)]
    pub store: ConsentStoreKind,
    /// The embedded store's directory (`store = "file"`); created if absent.
    pub dir: Option<PathBuf>,
    /// Redis URL (`store = "redis"`), e.g. `redis://127.0.0.1:6379/`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key; brokers sharing consents use the same one.
    #[serde(default = "defaults::consent_key_prefix")]
    pub key_prefix: String,
    /// Longest wait for one Redis operation; past it the exchange fails closed
    /// (`CONSENT_UNAVAILABLE`).
    #[serde(default = "defaults::consent_redis_timeout_ms")]
    pub redis_timeout_ms: u64,
    /// The broker's Ed25519 consent-signing key, in the audit key's text format
    /// (`PRIVATE+KEY+<name>+<id>+<base64>`); its public half is published in the directory.
    pub signing_key: PathBuf,
}

/// Where consents are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentStoreKind {
    /// An append-only log on local disk.
    #[default]
    File,
    /// Redis, shared by every broker using the same prefix.
    Redis,
}

/// `[[broker.routes]]`: the adapters serving one domain package.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Protobuf package, e.g. `tongdao.household.v1`.
    pub package: String,
    /// Adapter instances, `host:port`; calls are balanced across them.
    pub endpoints: Vec<String>,
    /// Name the adapters' server certificates must carry (DNS SAN).
    pub server_name: String,
    /// Longest the broker waits for this adapter, whatever the caller's deadline.
    #[serde(default = "defaults::adapter_timeout_ms")]
    pub timeout_ms: u64,
    /// Longest a TCP+TLS connection to an adapter may take.
    #[serde(default = "defaults::connect_timeout_ms")]
    pub connect_timeout_ms: u64,
}

/// Certificate files of one endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM chain: our certificate, then its issuing CA.
    pub certificate: PathBuf,
    /// PEM private key of `certificate`.
    pub private_key: PathBuf,
    /// PEM trust anchors peers must chain to.
    pub trust_anchors: Vec<PathBuf>,
    /// PEM CRLs of the CAs issuing peer certificates.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
}

/// `[adapters]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptersConfig {
    /// `[adapters.household]`: the household registry adapter.
    pub household: Option<HouseholdAdapterConfig>,
    /// `[adapters.land]`: the land registry adapter.
    pub land: Option<LandAdapterConfig>,
    /// `[adapters.tax]`: the tax registry adapter.
    pub tax: Option<TaxAdapterConfig>,
    /// `[adapters.health]`: the health insurance adapter.
    pub health: Option<HealthAdapterConfig>,
    /// `[adapters.commerce]`: the company registry adapter.
    pub commerce: Option<CommerceAdapterConfig>,
}

/// What every adapter needs to serve the broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterServerConfig {
    /// Where the adapter listens for the broker.
    pub listen_addr: SocketAddr,
    /// The adapter's certificate, key, trust anchors and CRLs.
    pub tls: TlsFiles,
    /// DNS name the broker's certificate must carry; every other client is refused.
    pub broker_name: String,
    /// A TLS handshake not finished by then is dropped.
    #[serde(default = "defaults::handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
}

/// `[adapters.household]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdAdapterConfig {
    /// Listener and certificates.
    #[serde(flatten)]
    pub server: AdapterServerConfig,
    /// The fixed-width Big5 extract file exported by the household registration system.
    pub extract: PathBuf,
}

/// `[adapters.land]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandAdapterConfig {
    /// Listener and certificates.
    #[serde(flatten)]
    pub server: AdapterServerConfig,
    /// The land register database: `sqlite:PATH` (a file, the embedded default) or a
    /// `postgres://` URL.
    pub database: String,
    /// Connections kept open to PostgreSQL (SQLite: read connections).
    #[serde(default = "defaults::pool_size")]
    pub pool_size: usize,
    /// A mapping file replacing the shipped one (`adapters/land/mapping.toml`).
    pub mapping: Option<PathBuf>,
}

/// `[adapters.tax]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxAdapterConfig {
    /// Listener and certificates.
    #[serde(flatten)]
    pub server: AdapterServerConfig,
    /// Directory holding the Ministry of Finance's delimited income, property and payment
    /// files.
    pub directory: PathBuf,
    /// A mapping file replacing the shipped one (`adapters/tax/mapping.toml`).
    pub mapping: Option<PathBuf>,
}

/// `[adapters.health]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthAdapterConfig {
    /// Listener and certificates.
    #[serde(flatten)]
    pub server: AdapterServerConfig,
    /// Directory holding the My Health Bank JSON exports.
    pub directory: PathBuf,
    /// A mapping file replacing the shipped one (`adapters/health/mapping.toml`).
    pub mapping: Option<PathBuf>,
}

/// `[adapters.commerce]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommerceAdapterConfig {
    /// Listener and certificates.
    #[serde(flatten)]
    pub server: AdapterServerConfig,
    /// Base URL of the GCIS company data service, e.g. `http://127.0.0.1:8090`.
    pub gcis_url: String,
    /// A GCIS request not answered by then fails the call.
    #[serde(default = "defaults::gcis_timeout_ms")]
    pub gcis_timeout_ms: u64,
    /// A mapping file replacing the shipped one (`adapters/commerce/mapping.toml`).
    pub mapping: Option<PathBuf>,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `json` for machines, `pretty` for people.
    #[serde(default)]
    pub log_format: LogFormat,
    /// `tracing` filter, e.g. `info,tongdao_broker=debug`.
    #[serde(default = "defaults::log_filter")]
    pub log_filter: String,
    /// Where Prometheus scrapes metrics; none if absent.
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::default(),
            log_filter: defaults::log_filter(),
            metrics_addr: None,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable lines.
    Pretty,
}

mod defaults {
    pub(super) fn handshake_timeout_ms() -> u64 {
        5_000
    }
    pub(super) fn max_deadline_ms() -> u64 {
        30_000
    }
    pub(super) fn max_message_bytes() -> usize {
        4 * 1024 * 1024
    }
    pub(super) fn max_concurrent_streams() -> u32 {
        256
    }
    pub(super) fn replay_window_s() -> u64 {
        300
    }
    pub(super) fn adapter_timeout_ms() -> u64 {
        10_000
    }
    pub(super) fn connect_timeout_ms() -> u64 {
        2_000
    }
    pub(super) fn pool_size() -> usize {
        8
    }
    pub(super) fn gcis_timeout_ms() -> u64 {
        5_000
    }
    pub(super) fn consent_key_prefix() -> String {
        "tongdao:consent:".into()
    }
    pub(super) fn consent_redis_timeout_ms() -> u64 {
        1_000
    }
    pub(super) fn log_filter() -> String {
        "info".into()
    }
}

impl BrokerConfig {
    /// See [`BrokerConfig::handshake_timeout_ms`].
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }
    /// See [`BrokerConfig::max_deadline_ms`].
    pub fn max_deadline(&self) -> Duration {
        Duration::from_millis(self.max_deadline_ms)
    }
    /// See [`ConsentConfig::redis_timeout_ms`]; `None` without a consent section.
    pub fn consent_redis_timeout(&self) -> Option<Duration> {
        self.consent
            .as_ref()
            .map(|c| Duration::from_millis(c.redis_timeout_ms))
    }
    /// See [`BrokerConfig::replay_window_s`].
    pub fn replay_window(&self) -> Duration {
        Duration::from_secs(self.replay_window_s)
    }
}

impl RouteConfig {
    /// See [`RouteConfig::timeout_ms`].
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    /// See [`RouteConfig::connect_timeout_ms`].
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

impl AdapterServerConfig {
    /// See [`AdapterServerConfig::handshake_timeout_ms`].
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }
}

/// Every problem found in a configuration, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The file.
    pub path: PathBuf,
    /// One line per problem.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} problem(s):",
            self.path.display(),
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads `path`, applies environment overrides from `env` (pass `std::env::vars()`),
    /// resolves relative paths against the file's directory and checks the values. Files the
    /// configuration names are checked for existence here; their contents are checked by the
    /// components that load them (`tongdao check-config` runs those too).
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let fail = |problems: Vec<String>| ConfigErrors {
            path: path.to_owned(),
            problems,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| fail(vec![format!("cannot read: {e}")]))?;
        let mut config = Self::parse(&text, env).map_err(fail)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(fail(problems))
        }
    }

    /// Parses TOML text with environment overrides; no path resolution, no checks.
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, Vec<String>> {
        let overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(key, _)| key.starts_with(ENV_PREFIX))
            .collect();
        if overrides.is_empty() {
            // Straight from text, so serde's errors keep their line and column.
            return toml::from_str(text).map_err(|e| vec![one_line(&e.to_string())]);
        }
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| vec![one_line(&e.to_string())])?;
        let mut problems = Vec::new();
        for (key, value) in overrides {
            if let Err(problem) = apply_override(&mut table, &key, &value) {
                problems.push(problem);
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                vec![format!(
                    "after environment overrides: {}",
                    one_line(&e.to_string())
                )]
            })
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        let resolve_tls = |tls: &mut TlsFiles| {
            resolve(&mut tls.certificate);
            resolve(&mut tls.private_key);
            tls.trust_anchors.iter_mut().for_each(resolve);
            tls.crls.iter_mut().for_each(resolve);
        };
        if let Some(broker) = &mut self.broker {
            resolve_tls(&mut broker.tls);
            resolve(&mut broker.policy_dir);
            resolve(&mut broker.audit.dir);
            resolve(&mut broker.audit.signing_key);
            resolve(&mut broker.audit.pseudonym_key);
            if let Some(consent) = &mut broker.consent {
                consent.dir.iter_mut().for_each(resolve);
                resolve(&mut consent.signing_key);
            }
            broker.authorities.values_mut().flatten().for_each(resolve);
            if let Some(profile) = &mut broker.certificate_profile {
                resolve(profile);
            }
        }
        if let Some(household) = &mut self.adapters.household {
            resolve_tls(&mut household.server.tls);
            resolve(&mut household.extract);
        }
        if let Some(land) = &mut self.adapters.land {
            resolve_tls(&mut land.server.tls);
            if let Some(path) = land.database.strip_prefix("sqlite:") {
                let mut path = PathBuf::from(path);
                resolve(&mut path);
                land.database = format!("sqlite:{}", path.display());
            }
            land.mapping.iter_mut().for_each(resolve);
        }
        if let Some(tax) = &mut self.adapters.tax {
            resolve_tls(&mut tax.server.tls);
            resolve(&mut tax.directory);
            tax.mapping.iter_mut().for_each(resolve);
        }
        if let Some(health) = &mut self.adapters.health {
            resolve_tls(&mut health.server.tls);
            resolve(&mut health.directory);
            health.mapping.iter_mut().for_each(resolve);
        }
        if let Some(commerce) = &mut self.adapters.commerce {
            resolve_tls(&mut commerce.server.tls);
            commerce.mapping.iter_mut().for_each(resolve);
        }
    }

    /// Every problem with the values, each naming its key.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(broker) = &self.broker {
            check_tls(&mut problems, "broker", &broker.tls);
            check_file(
                &mut problems,
                "broker.audit.signing_key",
                &broker.audit.signing_key,
            );
            check_file(
                &mut problems,
                "broker.audit.pseudonym_key",
                &broker.audit.pseudonym_key,
            );
            if let Some(consent) = &broker.consent {
                check_consent(&mut problems, consent);
            }
            if broker.audit.origin.trim().is_empty() {
                problems.push("broker.audit.origin: must not be empty".into());
            }
            if !broker.policy_dir.is_dir() {
                problems.push(format!(
                    "broker.policy_dir: directory {} does not exist",
                    broker.policy_dir.display()
                ));
            }
            if broker.authorities.is_empty() {
                problems.push(
                    "broker.authorities: name at least one issuing CA (e.g. GCA = [\"gca.crt\"])"
                        .into(),
                );
            }
            for (authority, files) in &broker.authorities {
                for file in files {
                    check_file(
                        &mut problems,
                        &format!("broker.authorities.{authority}"),
                        file,
                    );
                }
            }
            if let Some(profile) = &broker.certificate_profile {
                check_file(&mut problems, "broker.certificate_profile", profile);
            }
            for (name, value) in [
                ("broker.handshake_timeout_ms", broker.handshake_timeout_ms),
                ("broker.max_deadline_ms", broker.max_deadline_ms),
                ("broker.max_message_bytes", broker.max_message_bytes as u64),
                (
                    "broker.max_concurrent_streams",
                    u64::from(broker.max_concurrent_streams),
                ),
            ] {
                if value == 0 {
                    problems.push(format!("{name}: must be greater than 0"));
                }
            }
            let mut packages = BTreeSet::new();
            for (i, route) in broker.routes.iter().enumerate() {
                let key = format!("broker.routes[{i}]");
                if !is_domain_package(&route.package) {
                    problems.push(format!(
                        "{key}.package: {:?} is not a domain package (tongdao.<domain>.v<N>)",
                        route.package
                    ));
                }
                if !packages.insert(route.package.as_str()) {
                    problems.push(format!("{key}.package: {} is routed twice", route.package));
                }
                if route.endpoints.is_empty() {
                    problems.push(format!(
                        "{key}.endpoints: at least one adapter endpoint is needed"
                    ));
                }
                for endpoint in &route.endpoints {
                    if endpoint.parse::<SocketAddr>().is_err() && !is_host_port(endpoint) {
                        problems.push(format!("{key}.endpoints: {endpoint:?} is not host:port"));
                    }
                }
                if route.server_name.is_empty() {
                    problems.push(format!("{key}.server_name: must not be empty"));
                }
                if route.timeout_ms == 0 || route.connect_timeout_ms == 0 {
                    problems.push(format!("{key}: timeouts must be greater than 0"));
                }
            }
        }
        if let Some(household) = &self.adapters.household {
            check_tls(&mut problems, "adapters.household", &household.server.tls);
            check_file(
                &mut problems,
                "adapters.household.extract",
                &household.extract,
            );
            check_adapter_server(&mut problems, "adapters.household", &household.server);
        }
        if let Some(land) = &self.adapters.land {
            check_adapter_server(&mut problems, "adapters.land", &land.server);
            if !(land.database.starts_with("sqlite:")
                || land.database.starts_with("postgres://")
                || land.database.starts_with("postgresql://"))
            {
                problems.push(
                    "adapters.land.database: must be sqlite:PATH or a postgres:// URL".into(),
                );
            }
            if land.pool_size == 0 {
                problems.push("adapters.land.pool_size: must be at least 1".into());
            }
            check_mapping(&mut problems, "adapters.land", land.mapping.as_deref());
        }
        if let Some(tax) = &self.adapters.tax {
            check_adapter_server(&mut problems, "adapters.tax", &tax.server);
            check_dir(&mut problems, "adapters.tax.directory", &tax.directory);
            check_mapping(&mut problems, "adapters.tax", tax.mapping.as_deref());
        }
        if let Some(health) = &self.adapters.health {
            check_adapter_server(&mut problems, "adapters.health", &health.server);
            check_dir(
                &mut problems,
                "adapters.health.directory",
                &health.directory,
            );
            check_mapping(&mut problems, "adapters.health", health.mapping.as_deref());
        }
        if let Some(commerce) = &self.adapters.commerce {
            check_adapter_server(&mut problems, "adapters.commerce", &commerce.server);
            if !commerce.gcis_url.starts_with("http://")
                && !commerce.gcis_url.starts_with("https://")
            {
                problems
                    .push("adapters.commerce.gcis_url: must be an http:// or https:// URL".into());
            }
            if commerce.gcis_timeout_ms == 0 {
                problems.push("adapters.commerce.gcis_timeout_ms: must be greater than 0".into());
            }
            check_mapping(
                &mut problems,
                "adapters.commerce",
                commerce.mapping.as_deref(),
            );
        }
        problems
    }
}

fn check_consent(problems: &mut Vec<String>, consent: &ConsentConfig) {
    check_file(problems, "broker.consent.signing_key", &consent.signing_key);
    match consent.store {
        ConsentStoreKind::File => {
            if consent.dir.is_none() {
                problems.push("broker.consent.dir: required when store = \"file\"".into());
            }
        }
        ConsentStoreKind::Redis => match consent.redis_url.as_deref() {
            None => {
                problems.push("broker.consent.redis_url: required when store = \"redis\"".into());
            }
            Some(url)
                if !["redis://", "rediss://", "unix://", "redis+unix://"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme)) =>
            {
                problems.push(
                    "broker.consent.redis_url: must be a redis://, rediss:// or unix:// URL".into(),
                );
            }
            Some(_) => {}
        },
    }
    if consent.key_prefix.is_empty() {
        problems.push("broker.consent.key_prefix: must not be empty".into());
    }
    if consent.redis_timeout_ms == 0 {
        problems.push("broker.consent.redis_timeout_ms: must be greater than 0".into());
    }
}

/// What every adapter section needs: certificates that exist and a broker name.
fn check_adapter_server(problems: &mut Vec<String>, section: &str, server: &AdapterServerConfig) {
    check_tls(problems, section, &server.tls);
    if server.broker_name.is_empty() {
        problems.push(format!("{section}.broker_name: must not be empty"));
    }
}

fn check_mapping(problems: &mut Vec<String>, section: &str, mapping: Option<&Path>) {
    if let Some(path) = mapping {
        check_file(problems, &format!("{section}.mapping"), path);
    }
}

fn check_dir(problems: &mut Vec<String>, key: &str, path: &Path) {
    if !path.is_dir() {
        problems.push(format!(
            "{key}: directory {} does not exist",
            path.display()
        ));
    }
}

fn check_file(problems: &mut Vec<String>, key: &str, path: &Path) {
    if !path.is_file() {
        problems.push(format!("{key}: file {} does not exist", path.display()));
    }
}

fn check_tls(problems: &mut Vec<String>, section: &str, tls: &TlsFiles) {
    check_file(
        problems,
        &format!("{section}.tls.certificate"),
        &tls.certificate,
    );
    check_file(
        problems,
        &format!("{section}.tls.private_key"),
        &tls.private_key,
    );
    if tls.trust_anchors.is_empty() {
        problems.push(format!(
            "{section}.tls.trust_anchors: at least one trust anchor is needed"
        ));
    }
    for anchor in &tls.trust_anchors {
        check_file(problems, &format!("{section}.tls.trust_anchors"), anchor);
    }
    for crl in &tls.crls {
        check_file(problems, &format!("{section}.tls.crls"), crl);
    }
}

fn is_domain_package(package: &str) -> bool {
    let parts: Vec<&str> = package.split('.').collect();
    matches!(parts.as_slice(), ["tongdao", domain, version]
        if *domain != "v1"
            && !domain.is_empty()
            && domain.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && version.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
}

fn is_host_port(endpoint: &str) -> bool {
    endpoint.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && port.parse::<u16>().is_ok()
    })
}

fn apply_override(table: &mut toml::Table, key: &str, value: &str) -> Result<(), String> {
    let path: Vec<String> = key[ENV_PREFIX.len()..]
        .split("__")
        .map(|part| part.to_ascii_lowercase())
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(format!(
            "{key}: malformed override name (use TONGDAO__SECTION__KEY)"
        ));
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| format!("{key}: empty override"))?;
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("{key}: {part} is not a table in the configuration"))?;
    }
    current.insert(last.clone(), parsed);
    Ok(())
}

fn one_line(message: &str) -> String {
    message
        .split('\n')
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}
