//! What the kit checks: the adapter's address and name, the service it serves, the identities
//! the kit presents, and the subjects and sample requests it asks about.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MethodDescriptor, ServiceDescriptor};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tongdao_core::ids::{BusinessNumber, NationalId};

use crate::wire::{self, Dialer};

/// A subject given on the command line, classified by its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectArg {
    /// A national ID or resident ID valid by checksum: used for `NATIONAL_ID` subject fields.
    NationalId(String),
    /// A unified business number valid by checksum: used for `BUSINESS_NUMBER` subject fields.
    BusinessNumber(String),
    /// A JSON object: used for message-typed subject fields (e.g. a land parcel key) it
    /// decodes as.
    Json(String),
}

impl SubjectArg {
    /// Classifies `text`: a valid national ID, a valid unified business number, or a JSON
    /// object. Anything else is an error (which names the shape, never the value).
    pub fn parse(text: &str) -> Result<SubjectArg, String> {
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(trimmed)
                .map_err(|e| format!("subject JSON does not parse: {e}"))?;
            return Ok(SubjectArg::Json(trimmed.to_owned()));
        }
        if text.parse::<NationalId>().is_ok() {
            return Ok(SubjectArg::NationalId(text.to_owned()));
        }
        if text.parse::<BusinessNumber>().is_ok() {
            return Ok(SubjectArg::BusinessNumber(text.to_owned()));
        }
        Err(format!(
            "subject of {} characters is neither a national ID nor a unified business number \
             valid by checksum, nor a JSON object",
            text.chars().count()
        ))
    }
}

/// Limits the kit works within.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Each TCP connect and each TLS handshake.
    pub connect_timeout: Duration,
    /// Each call, from sending to the last trailer.
    pub call_timeout: Duration,
    /// Calls in flight at once in the concurrency check.
    pub concurrency: usize,
    /// How late an answer to a call with a 1 ms deadline may be.
    pub deadline_slack: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            call_timeout: Duration::from_secs(5),
            concurrency: 32,
            deadline_slack: Duration::from_millis(500),
        }
    }
}

/// Everything a conformance run needs, loaded and validated: build it with
/// [`Target::builder`], run it with [`crate::run_checks`].
#[derive(Clone)]
pub struct Target {
    pub(crate) dialer: Dialer,
    pub(crate) service: ServiceDescriptor,
    pub(crate) broker: Arc<ClientConfig>,
    pub(crate) broker_tls12: Arc<ClientConfig>,
    pub(crate) anonymous: Arc<ClientConfig>,
    pub(crate) stranger: Option<Arc<ClientConfig>>,
    pub(crate) subjects: Vec<SubjectArg>,
    pub(crate) absent_subjects: Vec<SubjectArg>,
    /// Sample requests by method name.
    pub(crate) requests: BTreeMap<String, DynamicMessage>,
    pub(crate) limits: Limits,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("addr", &self.dialer.addr)
            .field("server_name", &self.dialer.server_name)
            .field("service", &self.service.full_name())
            .field("stranger", &self.stranger.is_some())
            .field("subjects", &self.subjects.len())
            .field("absent_subjects", &self.absent_subjects.len())
            .field("requests", &self.requests.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Starts describing the adapter at `addr` (`host:port`) serving `service` (full name, e.g.
    /// `tongdao.land.v1.LandRegistry`).
    pub fn builder(addr: impl Into<String>, service: impl Into<String>) -> TargetBuilder {
        TargetBuilder {
            addr: addr.into(),
            service: service.into(),
            server_name: None,
            broker: None,
            stranger: None,
            cas: Vec::new(),
            subjects: Vec::new(),
            absent_subjects: Vec::new(),
            requests: Vec::new(),
            pool: None,
            limits: Limits::default(),
        }
    }

    /// The adapter's address.
    pub fn addr(&self) -> &str {
        &self.dialer.addr
    }

    /// The service checked.
    pub fn service(&self) -> &ServiceDescriptor {
        &self.service
    }

    /// The name the adapter's certificate is verified against.
    pub fn server_name(&self) -> String {
        match &self.dialer.server_name {
            ServerName::DnsName(name) => name.as_ref().to_owned(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            other => format!("{other:?}"),
        }
    }
}

/// Builds a [`Target`] from files and values; [`TargetBuilder::build`] reports every problem
/// at once.
#[derive(Debug, Clone)]
pub struct TargetBuilder {
    addr: String,
    service: String,
    server_name: Option<String>,
    broker: Option<(PathBuf, PathBuf)>,
    stranger: Option<(PathBuf, PathBuf)>,
    cas: Vec<PathBuf>,
    subjects: Vec<String>,
    absent_subjects: Vec<String>,
    requests: Vec<(String, String)>,
    pool: Option<DescriptorPool>,
    limits: Limits,
}

/// Why a [`Target`] could not be built: every problem found.
#[derive(Debug, Clone)]
pub struct BuildError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problems.join("; "))
    }
}

impl std::error::Error for BuildError {}

impl TargetBuilder {
    /// The DNS name (or IP) the adapter's certificate must be valid for; defaults to the host
    /// part of the address.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The broker's certificate chain (PEM, leaf first) and private key: the one identity the
    /// adapter must accept.
    pub fn broker(mut self, certificate: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.broker = Some((certificate.into(), key.into()));
        self
    }

    /// A certificate valid under the same CA that is not the broker's: the adapter must refuse
    /// it. Without one, that check is skipped.
    pub fn stranger(mut self, certificate: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.stranger = Some((certificate.into(), key.into()));
        self
    }

    /// A PEM file of trust anchors for the adapter's certificate (repeatable).
    pub fn ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.cas.push(path.into());
        self
    }

    /// The identities of a development PKI directory in the layout `tongdao pki` and
    /// `tongdao_pki::DevPki::write_to` write: the broker (`broker.crt`, `broker.key`), the root
    /// (`grca.crt`) as CA, and the leaf at path stem `stranger` (e.g. `agencies/taipei-tax`) as
    /// the stranger.
    pub fn dev_pki(self, dir: impl AsRef<Path>, stranger: &str) -> Self {
        let dir = dir.as_ref();
        self.broker(dir.join("broker.crt"), dir.join("broker.key"))
            .ca(dir.join("grca.crt"))
            .stranger(
                dir.join(format!("{stranger}.crt")),
                dir.join(format!("{stranger}.key")),
            )
    }

    /// A subject the source knows (repeatable: one per subject kind the service uses).
    pub fn subject(mut self, value: impl Into<String>) -> Self {
        self.subjects.push(value.into());
        self
    }

    /// A subject valid by checksum that the source does not know (repeatable).
    pub fn absent_subject(mut self, value: impl Into<String>) -> Self {
        self.absent_subjects.push(value.into());
        self
    }

    /// A sample request for `method` (short name or `package.Service/Method`) in the proto3
    /// JSON mapping; its subject field is filled in with the known subject when left empty.
    pub fn request(mut self, method: impl Into<String>, json: impl Into<String>) -> Self {
        self.requests.push((method.into(), json.into()));
        self
    }

    /// `Method={json}`, as given to `--request`.
    pub fn request_arg(self, arg: &str) -> Self {
        match arg.split_once('=') {
            Some((method, json)) => self.request(method.trim(), json),
            None => self.request(arg, ""),
        }
    }

    /// The descriptor pool to find the service in; defaults to the schemas compiled into
    /// Tongdao.
    pub fn descriptor_pool(mut self, pool: DescriptorPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Reads a binary `FileDescriptorSet` (with its imports, including
    /// `tongdao/v1/options.proto`) as the descriptor pool.
    pub fn descriptor_set_file(self, path: &Path) -> Result<Self, BuildError> {
        let problem = |p: String| BuildError { problems: vec![p] };
        let bytes = std::fs::read(path)
            .map_err(|e| problem(format!("{}: cannot read: {e}", path.display())))?;
        let pool = DescriptorPool::decode(bytes.as_slice()).map_err(|e| {
            problem(format!(
                "{}: not a usable FileDescriptorSet: {e}",
                path.display()
            ))
        })?;
        Ok(self.descriptor_pool(pool))
    }

    /// Replaces the time and concurrency limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Loads the files and checks every value; lists every problem found.
    pub fn build(self) -> Result<Target, BuildError> {
        let mut problems = Vec::new();
        let pool = self
            .pool
            .unwrap_or_else(|| tongdao_schemas::descriptors::pool().clone());
        let service = pool.get_service_by_name(&self.service);
        if service.is_none() {
            problems.push(format!(
                "service {:?} is not in the descriptor pool (known: {})",
                self.service,
                pool.services()
                    .map(|s| s.full_name().to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }

        let host = self
            .addr
            .rsplit_once(':')
            .map(|(host, _)| host.trim_matches(['[', ']']).to_owned());
        if self
            .addr
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            problems.push(format!("target {:?} is not host:port", self.addr));
        }
        let name_text = self.server_name.or(host).unwrap_or_default();
        let server_name = match ServerName::try_from(name_text.clone()) {
            Ok(name) => Some(name),
            Err(e) => {
                problems.push(format!("server name {name_text:?}: {e}"));
                None
            }
        };

        let mut roots = RootCertStore::empty();
        if self.cas.is_empty() {
            problems
                .push("no CA given (--ca): the adapter's certificate cannot be verified".into());
        }
        for ca in &self.cas {
            match tongdao_tls::certificates(ca) {
                Ok(certs) => {
                    for cert in certs {
                        if let Err(e) = roots.add(cert) {
                            problems.push(format!(
                                "{}: not a usable CA certificate: {e}",
                                ca.display()
                            ));
                        }
                    }
                }
                Err(e) => problems.push(e.to_string()),
            }
        }

        let identity =
            |files: &Option<(PathBuf, PathBuf)>, what: &str, problems: &mut Vec<String>| {
                let (cert, key) = files.as_ref()?;
                match tongdao_tls::Material::load(cert, key, &[], &[]) {
                    Ok(material) => Some(material),
                    Err(e) => {
                        problems.push(format!("{what}: {e}"));
                        None
                    }
                }
            };
        if self.broker.is_none() {
            problems
                .push("no broker certificate and key given (--broker-cert, --broker-key)".into());
        }
        let broker = identity(&self.broker, "broker identity", &mut problems);
        let stranger = identity(&self.stranger, "stranger identity", &mut problems);
        let mut config = |identity: Option<&tongdao_tls::Material>,
                          versions: &[&'static rustls::SupportedProtocolVersion],
                          what: &str| {
            match wire::client_config(
                &roots,
                identity.map(|m| (m.chain.as_slice(), &m.key)),
                versions,
            ) {
                Ok(config) => Some(config),
                Err(e) => {
                    problems.push(format!("{what}: {e}"));
                    None
                }
            }
        };
        let tls13: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
        let tls12: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
        let broker_config = broker
            .as_ref()
            .and_then(|m| config(Some(m), tls13, "broker"));
        let broker_tls12 = broker
            .as_ref()
            .and_then(|m| config(Some(m), tls12, "broker"));
        let anonymous = config(None, tls13, "anonymous client");
        let stranger_config = stranger
            .as_ref()
            .and_then(|m| config(Some(m), tls13, "stranger"));

        let mut subjects = Vec::new();
        for value in &self.subjects {
            match SubjectArg::parse(value) {
                Ok(arg) => subjects.push(arg),
                Err(e) => problems.push(format!("--subject: {e}")),
            }
        }
        let mut absent_subjects = Vec::new();
        for value in &self.absent_subjects {
            match SubjectArg::parse(value) {
                Ok(arg) => absent_subjects.push(arg),
                Err(e) => problems.push(format!("--absent-subject: {e}")),
            }
        }

        let mut requests = BTreeMap::new();
        if let Some(service) = &service {
            for (method_name, json) in &self.requests {
                match find_method(service, method_name) {
                    None => problems.push(format!(
                        "--request {method_name}: {} has no such method",
                        service.full_name()
                    )),
                    Some(method) => match decode_json(&method.input(), json) {
                        Ok(message) => {
                            requests.insert(method.name().to_owned(), message);
                        }
                        Err(e) => problems.push(format!("--request {method_name}: {e}")),
                    },
                }
            }
            // Subjects given as JSON must fit some message-typed subject field.
            for subject in &subjects {
                if let SubjectArg::Json(json) = subject
                    && !service.methods().any(|m| subject_message_fits(&m, json))
                {
                    problems.push(format!(
                        "--subject JSON object fits no message-typed subject field of {}",
                        service.full_name()
                    ));
                }
            }
        }

        if self.limits.concurrency == 0 {
            problems.push("concurrency must be at least 1".into());
        }

        match (service, server_name, broker_config, broker_tls12, anonymous) {
            (
                Some(service),
                Some(server_name),
                Some(broker),
                Some(broker_tls12),
                Some(anonymous),
            ) if problems.is_empty() => Ok(Target {
                dialer: Dialer {
                    addr: self.addr,
                    server_name,
                    connect_timeout: self.limits.connect_timeout,
                },
                service,
                broker,
                broker_tls12,
                anonymous,
                stranger: stranger_config,
                subjects,
                absent_subjects,
                requests,
                limits: self.limits,
            }),
            _ => Err(BuildError { problems }),
        }
    }
}

/// The method of `service` named `name` (short, or `package.Service/Method`).
pub(crate) fn find_method(service: &ServiceDescriptor, name: &str) -> Option<MethodDescriptor> {
    let short = match name.trim_start_matches('/').split_once('/') {
        Some((service_name, method)) if service_name == service.full_name() => method,
        Some(_) => return None,
        None => name,
    };
    service.methods().find(|m| m.name() == short)
}

/// Decodes `json` (proto3 JSON mapping; unknown fields are an error) as `descriptor`; an
/// empty string is the empty message.
pub(crate) fn decode_json(
    descriptor: &prost_reflect::MessageDescriptor,
    json: &str,
) -> Result<DynamicMessage, String> {
    if json.trim().is_empty() {
        return Ok(DynamicMessage::new(descriptor.clone()));
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let message = DynamicMessage::deserialize(descriptor.clone(), &mut deserializer)
        .map_err(|e| format!("not a valid {} in JSON: {e}", descriptor.full_name()))?;
    deserializer
        .end()
        .map_err(|e| format!("trailing characters after the JSON: {e}"))?;
    Ok(message)
}

fn subject_message_fits(method: &MethodDescriptor, json: &str) -> bool {
    let Some((field, _)) = tongdao_schemas::descriptors::subject_field(&method.input()) else {
        return false;
    };
    match field.kind() {
        Kind::Message(message) => decode_json(&message, json).is_ok(),
        _ => false,
    }
}
