//! A throw-away Tongdao installation in a temporary directory: a development PKI in GPKI shape,
//! the five agencies' legacy sources seeded from one synthetic population, the shipped policy
//! and a configuration file naming them. The demo, the benchmark and the integration tests all run on one, through the same
//! configuration path `tongdao broker --config` uses.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::adapter_cmd::AdapterKind;
use crate::client::{self, ClientFiles};
use crate::seed_cmd::{self, layout};
use tongdao_pki::{
    AgencyRequest, CitizenRequest, DevPki, LeafSpec, Oid, Profile, RevocationReason, ServerRequest,
    Validity,
};

/// The policy shipped in `policies/` (registries and rules), built into the binary so the demo
/// runs anywhere: (path relative to the policy directory, contents).
pub const SHIPPED_POLICY: [(&str, &str); 13] = [
    (
        "agencies.toml",
        include_str!("../../../policies/agencies.toml"),
    ),
    (
        "services.toml",
        include_str!("../../../policies/services.toml"),
    ),
    (
        "purposes.toml",
        include_str!("../../../policies/purposes.toml"),
    ),
    ("roles.toml", include_str!("../../../policies/roles.toml")),
    (
        "rules/commerce.toml",
        include_str!("../../../policies/rules/commerce.toml"),
    ),
    (
        "rules/health.toml",
        include_str!("../../../policies/rules/health.toml"),
    ),
    (
        "rules/household.toml",
        include_str!("../../../policies/rules/household.toml"),
    ),
    (
        "rules/land.toml",
        include_str!("../../../policies/rules/land.toml"),
    ),
    (
        "rules/self_access.toml",
        include_str!("../../../policies/rules/self_access.toml"),
    ),
    (
        "rules/tax.toml",
        include_str!("../../../policies/rules/tax.toml"),
    ),
    (
        "recipes/company-registration.toml",
        include_str!("../../../policies/recipes/company-registration.toml"),
    ),
    (
        "recipes/moving-house.toml",
        include_str!("../../../policies/recipes/moving-house.toml"),
    ),
    (
        "recipes/welfare-eligibility.toml",
        include_str!("../../../policies/recipes/welfare-eligibility.toml"),
    ),
];

/// Origin of the sandbox's audit log (and the name of its signing key).
pub const AUDIT_ORIGIN: &str = "tongdao.test/audit";

/// DNS name in the broker's certificate; adapters accept only this peer.
pub const BROKER_NAME: &str = "broker.tongdao.test";
/// DNS name in the household adapter's certificate.
pub const HOUSEHOLD_ADAPTER_NAME: &str = "household.adapter.tongdao.test";

/// DNS name in adapter `kind`'s certificate, e.g. `land.adapter.tongdao.test`.
pub fn adapter_server_name(kind: AdapterKind) -> String {
    format!("{}.adapter.tongdao.test", kind.name())
}

/// Government OID of the agency running adapter `kind` (its certificate carries it).
fn provider_oid(kind: AdapterKind) -> &'static str {
    match kind {
        AdapterKind::Household => "2.16.886.101.20003.20001.20010",
        AdapterKind::Land => "2.16.886.101.20003.20001.20020",
        AdapterKind::Tax => "2.16.886.101.20003.20004",
        AdapterKind::Health => "2.16.886.101.20003.20065.20022",
        AdapterKind::Commerce => "2.16.886.101.20003.20007.20050",
    }
}

/// Agency identities the sandbox issues: (file name, agency name, government OID).
/// `unregistered` carries an OID that is deliberately absent from the registry; `ndc` holds the
/// auditor role.
pub const AGENCIES: [(&str, &str, &str); 8] = [
    (
        "taipei-tax",
        "財政部臺北國稅局",
        "2.16.886.101.20003.20004.20100",
    ),
    (
        "household-dept",
        "內政部戶政司",
        "2.16.886.101.20003.20001.20010",
    ),
    (
        "taipei-welfare",
        "臺北市政府社會局",
        "2.16.886.101.20003.20301.20010",
    ),
    (
        "unregistered",
        "未登錄機關",
        "2.16.886.101.20003.20004.29999",
    ),
    ("ndc", "國家發展委員會", "2.16.886.101.20003.20069"),
    (
        "land-dept",
        "內政部地政司",
        "2.16.886.101.20003.20001.20020",
    ),
    ("mohw", "衛生福利部", "2.16.886.101.20003.20065"),
    // Runs the paper-free company registration recipe.
    (
        "commerce-dept",
        "經濟部商業發展署",
        "2.16.886.101.20003.20007.20050",
    ),
];

/// The listeners a sandbox reserves on loopback, for servers started in this process.
#[derive(Debug)]
pub struct Listeners {
    /// The broker's.
    pub broker: TcpListener,
    /// Each adapter's, in [`AdapterKind::ALL`] order.
    pub adapters: Vec<(AdapterKind, TcpListener)>,
    /// The GCIS stand-in's (plain HTTP).
    pub gcis: TcpListener,
}

/// A sandbox on disk; removed when dropped.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
    broker_addr: SocketAddr,
    adapter_addrs: Vec<(AdapterKind, SocketAddr)>,
    gcis_addr: SocketAddr,
    listeners: Option<Listeners>,
    subject_ids: Vec<String>,
    citizen_id: String,
    showcase_id: String,
    seeded: seed_cmd::Seeded,
}

impl Sandbox {
    /// Creates the PKI, the five sources for `households` synthetic households, and
    /// `tongdao.toml` with the broker, the five adapters and the GCIS stand-in on free loopback
    /// ports.
    pub fn create(households: usize) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("tongdao-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path().to_owned();
        let bind = || {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            Ok::<_, String>((listener, addr))
        };
        let (broker, broker_addr) = bind()?;
        let (gcis, gcis_addr) = bind()?;
        let mut adapters = Vec::new();
        let mut adapter_addrs = Vec::new();
        for kind in AdapterKind::ALL {
            let (listener, addr) = bind()?;
            adapters.push((kind, listener));
            adapter_addrs.push((kind, addr));
        }

        let seeded = seed_cmd::write_sources(&root, households, seed_cmd::DEFAULT_SEED)?;
        let population = &seeded.population;
        let subject_ids: Vec<String> = population
            .people()
            .filter(|(_, person)| person.removed.is_none())
            .map(|(_, person)| person.national_id.to_string())
            .collect();
        let citizen_id = subject_ids
            .first()
            .cloned()
            .ok_or("the population has nobody in it")?;
        let showcase_id = tongdao_synth::registers::showcase_person(population)
            .map(|person| person.national_id.to_string())
            .ok_or("the population has no adult with records at all five agencies")?;

        write_pki(&root.join("pki"), &citizen_id)?;
        write_audit_keys(&root.join("audit-keys"))?;
        write_consent_keys(&root.join("consent-keys"))?;
        for (path, text) in SHIPPED_POLICY {
            write(&root.join("policies").join(path), text.as_bytes())?;
        }
        write(
            &root.join("tongdao.toml"),
            config_text(broker_addr, &adapter_addrs, gcis_addr).as_bytes(),
        )?;
        Ok(Self {
            dir,
            broker_addr,
            adapter_addrs,
            gcis_addr,
            listeners: Some(Listeners {
                broker,
                adapters,
                gcis,
            }),
            subject_ids,
            citizen_id,
            showcase_id,
            seeded,
        })
    }

    /// The sandbox directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `tongdao.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root().join("tongdao.toml")
    }

    /// The policy directory.
    pub fn policy_dir(&self) -> PathBuf {
        self.root().join("policies")
    }

    /// The audit log's directory.
    pub fn audit_dir(&self) -> PathBuf {
        self.root().join("audit")
    }

    /// The audit log's public key file.
    pub fn audit_public_key(&self) -> PathBuf {
        self.root().join("audit-keys/signing.pub")
    }

    /// The consent artefacts' public (verifier) key file, as the directory publishes it.
    pub fn consent_public_key(&self) -> PathBuf {
        self.root().join("consent-keys/signing.pub")
    }

    /// The embedded consent store's directory.
    pub fn consent_dir(&self) -> PathBuf {
        self.root().join("consent")
    }

    /// The PKI directory.
    pub fn pki(&self) -> PathBuf {
        self.root().join("pki")
    }

    /// Where the broker listens.
    pub fn broker_addr(&self) -> SocketAddr {
        self.broker_addr
    }

    /// Where the household adapter listens.
    pub fn adapter_addr(&self) -> SocketAddr {
        self.adapter_addr_of(AdapterKind::Household)
    }

    /// Where adapter `kind` listens.
    pub fn adapter_addr_of(&self, kind: AdapterKind) -> SocketAddr {
        self.adapter_addrs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, addr)| *addr)
            .expect("the sandbox has every adapter")
    }

    /// Where the GCIS stand-in listens (plain HTTP).
    pub fn gcis_addr(&self) -> SocketAddr {
        self.gcis_addr
    }

    /// Name the broker's certificate carries.
    pub fn broker_server_name(&self) -> &'static str {
        BROKER_NAME
    }

    /// Name the household adapter's certificate carries.
    pub fn adapter_server_name(&self) -> &'static str {
        HOUSEHOLD_ADAPTER_NAME
    }

    /// The listeners reserved for the servers (in-process use); `None` once taken. A caller
    /// that runs them as child processes drops these first.
    pub fn take_listeners(&mut self) -> Option<Listeners> {
        self.listeners.take()
    }

    /// National IDs of every current member in the extract.
    pub fn subject_ids(&self) -> &[String] {
        &self.subject_ids
    }

    /// The national ID of the person holding the `citizens/valid` certificate.
    pub fn citizen_id(&self) -> &str {
        &self.citizen_id
    }

    /// A person with records at all five agencies (household, land, income, visits, and a
    /// company they direct).
    pub fn showcase_id(&self) -> &str {
        &self.showcase_id
    }

    /// The synthetic population the sources were written from.
    pub fn population(&self) -> &tongdao_synth::Population {
        &self.seeded.population
    }

    /// The records the land, tax, health and company sources were written from.
    pub fn registers(&self) -> &tongdao_synth::Registers {
        &self.seeded.registers
    }

    /// The seeded file or directory at `relative` (see [`layout`]).
    pub fn source_path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// Certificate files of a leaf by path stem, e.g. `agencies/taipei-tax`, trusting GRCA.
    pub fn identity(&self, stem: &str) -> ClientFiles {
        let pki = self.pki();
        ClientFiles {
            certificate: pki.join(format!("{stem}.crt")),
            private_key: pki.join(format!("{stem}.key")),
            trust_anchors: vec![pki.join("grca.crt")],
        }
    }

    /// An agency's certificate files.
    pub fn agency_files(&self, name: &str) -> ClientFiles {
        self.identity(&format!("agencies/{name}"))
    }

    /// The broker's certificate files used as a client (what the broker presents to adapters).
    pub fn broker_client_files(&self) -> ClientFiles {
        self.identity("broker")
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn oid(text: &str) -> Result<Oid, String> {
    Oid::parse(text).map_err(|e| e.to_string())
}

/// Issues the sandbox's identities and writes them with the CAs and CRLs.
fn write_pki(dir: &Path, citizen_id: &str) -> Result<(), String> {
    let pki_error = |e: tongdao_pki::PkiError| e.to_string();
    let mut pki = DevPki::new(Profile::embedded()).map_err(pki_error)?;
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    pki.issue_broker(
        ServerRequest::new([BROKER_NAME, "localhost"])
            .ip(loopback)
            .government_oid(oid("2.16.886.101.20003.20069")?),
    )
    .map_err(pki_error)?;
    for kind in AdapterKind::ALL {
        let name = adapter_server_name(kind);
        pki.issue(
            kind.name(),
            LeafSpec::Server(
                ServerRequest::new([name.as_str(), "localhost"])
                    .ip(loopback)
                    .government_oid(oid(provider_oid(kind))?),
            ),
        )
        .map_err(pki_error)?;
    }
    for (name, agency, government_oid) in AGENCIES {
        pki.issue(
            name,
            LeafSpec::Agency(AgencyRequest::new(agency, oid(government_oid)?)),
        )
        .map_err(pki_error)?;
    }
    let tax = oid(AGENCIES[0].2)?;
    pki.issue(
        "expired",
        LeafSpec::Agency(
            AgencyRequest::new(AGENCIES[0].1, tax.clone()).validity(Validity::expired()),
        ),
    )
    .map_err(pki_error)?;
    pki.issue(
        "not-yet-valid",
        LeafSpec::Agency(
            AgencyRequest::new(AGENCIES[0].1, tax.clone()).validity(Validity::not_yet_valid()),
        ),
    )
    .map_err(pki_error)?;
    pki.issue(
        "revoked-agency",
        LeafSpec::Agency(AgencyRequest::new(AGENCIES[0].1, tax.clone())),
    )
    .map_err(pki_error)?;
    pki.revoke("agencies/revoked-agency", RevocationReason::KeyCompromise)
        .map_err(pki_error)?;
    let last4 = &citizen_id[citizen_id.len() - 4..];
    pki.issue(
        "valid",
        LeafSpec::Citizen(CitizenRequest::new("王小明", last4)),
    )
    .map_err(pki_error)?;
    pki.issue(
        "suspended",
        LeafSpec::Citizen(CitizenRequest::new("李小華", "0001")),
    )
    .map_err(pki_error)?;
    pki.suspend("citizens/suspended").map_err(pki_error)?;
    pki.issue(
        "revoked",
        LeafSpec::Citizen(CitizenRequest::new("陳大同", "0002")),
    )
    .map_err(pki_error)?;
    pki.revoke("citizens/revoked", RevocationReason::KeyCompromise)
        .map_err(pki_error)?;

    // The standard layout `tongdao pki` works on (pki.toml holds the CA state), so the
    // sandbox's PKI can be revoked from and re-issued like any development PKI.
    pki.write_to(dir).map_err(pki_error)?;

    // A stranger: same profile shape and the same agency OID, issued by an unrelated root.
    let mut stranger = DevPki::stranger(Profile::embedded()).map_err(pki_error)?;
    let leaf = stranger
        .issue(
            "impostor",
            LeafSpec::Agency(AgencyRequest::new(AGENCIES[0].1, tax)),
        )
        .map_err(pki_error)?;
    write(
        &dir.join("stranger/impostor.crt"),
        leaf.chain_pem.as_bytes(),
    )?;
    write_key(&dir.join("stranger/impostor.key"), leaf.key_pem())?;
    Ok(())
}

/// Writes a private key readable by its owner only, from the moment the file exists.
/// The audit log's signing key (and its public half for verifiers) and the key of the keyed
/// hash that pseudonymises subjects.
fn write_audit_keys(dir: &Path) -> Result<(), String> {
    let pair = tongdao_audit::LogSigner::generate(AUDIT_ORIGIN).map_err(|e| e.to_string())?;
    write_key(&dir.join("signing.key"), &pair.signing_key)?;
    write(&dir.join("signing.pub"), pair.verifier_key.as_bytes())?;
    let random = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let pseudonym_key: String = random.iter().map(|u| u.simple().to_string()).collect();
    write_key(&dir.join("pseudonym.key"), &pseudonym_key)
}

/// The broker's consent-signing key (same text format as the audit key, a separate key) and
/// its public half, which the directory publishes for offline verification of artefacts.
fn write_consent_keys(dir: &Path) -> Result<(), String> {
    let pair =
        tongdao_consent::ConsentSigner::generate(CONSENT_KEY_NAME).map_err(|e| e.to_string())?;
    write_key(&dir.join("signing.key"), &pair.signing_key)?;
    write(&dir.join("signing.pub"), pair.verifier_key.as_bytes())
}

/// Name of the sandbox's consent-signing key.
const CONSENT_KEY_NAME: &str = "consent.sandbox.tongdao.example";

fn write_key(path: &Path, pem: &str) -> Result<(), String> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn config_text(
    broker: SocketAddr,
    adapters: &[(AdapterKind, SocketAddr)],
    gcis: SocketAddr,
) -> String {
    let mut text = format!(
        r#"# Written by the Tongdao sandbox: a broker and the five agency adapters on loopback.
[broker]
listen_addr = "{broker}"
policy_dir = "policies"

[broker.audit]
dir = "audit"
signing_key = "audit-keys/signing.key"
pseudonym_key = "audit-keys/pseudonym.key"
origin = "{AUDIT_ORIGIN}"

[broker.consent]
store = "file"
dir = "consent"
signing_key = "consent-keys/signing.key"

[broker.authorities]
GCA = ["pki/gca.crt"]
MOICA = ["pki/moica.crt"]

[broker.tls]
certificate = "pki/broker.crt"
private_key = "pki/broker.key"
trust_anchors = ["pki/grca.crt"]
crls = ["pki/gca.crl", "pki/moica.crl"]

[telemetry]
log_format = "json"
log_filter = "warn"
"#
    );
    for (kind, addr) in adapters {
        let name = kind.name();
        let server_name = adapter_server_name(*kind);
        text.push_str(&format!(
            r#"
[[broker.routes]]
package = "tongdao.{name}.v1"
endpoints = ["{addr}"]
server_name = "{server_name}"
timeout_ms = 5000
"#
        ));
    }
    for (kind, addr) in adapters {
        let name = kind.name();
        let source = match kind {
            AdapterKind::Household => format!("extract = \"{}\"", layout::HOUSEHOLD_EXTRACT),
            AdapterKind::Land => format!("database = \"sqlite:{}\"", layout::LAND_DATABASE),
            AdapterKind::Tax => format!("directory = \"{}\"", layout::TAX_DIR),
            AdapterKind::Health => format!("directory = \"{}\"", layout::HEALTH_DIR),
            AdapterKind::Commerce => format!("gcis_url = \"http://{gcis}\""),
        };
        text.push_str(&format!(
            r#"
[adapters.{name}]
listen_addr = "{addr}"
broker_name = "{BROKER_NAME}"
{source}

[adapters.{name}.tls]
certificate = "pki/adapters/{name}.crt"
private_key = "pki/adapters/{name}.key"
trust_anchors = ["pki/grca.crt"]
crls = ["pki/gca.crl"]
"#
        ));
    }
    text
}

/// The broker, the five adapters and the GCIS stand-in running as child processes of this
/// binary.
#[derive(Debug)]
pub struct ChildStack {
    children: Vec<Child>,
}

impl ChildStack {
    /// Starts `tongdao gcis-standin`, `tongdao adapter <each>` and `tongdao broker` (this
    /// executable) on the sandbox's configuration and waits until all answer health checks.
    pub async fn spawn(sandbox: &mut Sandbox) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        Self::spawn_binary(&exe, sandbox).await
    }

    /// Like [`ChildStack::spawn`] with the `tongdao` binary at `exe`.
    pub async fn spawn_binary(exe: &Path, sandbox: &mut Sandbox) -> Result<Self, String> {
        // Free the reserved ports for the children to bind.
        drop(sandbox.take_listeners());
        let config = sandbox.config_path();
        let mut stack = Self {
            children: Vec::new(),
        };
        let dataset = sandbox.source_path(layout::GCIS_DATASET);
        let gcis = sandbox.gcis_addr().to_string();
        let mut commands: Vec<Vec<std::ffi::OsString>> = vec![vec![
            "gcis-standin".into(),
            "--dataset".into(),
            dataset.into(),
            "--listen".into(),
            gcis.into(),
        ]];
        for kind in AdapterKind::ALL {
            commands.push(vec![
                "adapter".into(),
                kind.name().into(),
                "--config".into(),
                config.clone().into(),
            ]);
        }
        commands.push(vec!["broker".into(), "--config".into(), config.into()]);
        for args in commands {
            let child = Command::new(exe)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting {args:?}: {e}"))?;
            stack.children.push(child);
        }
        for kind in AdapterKind::ALL {
            wait_healthy(
                &sandbox.broker_client_files(),
                sandbox.adapter_addr_of(kind),
                &adapter_server_name(kind),
            )
            .await?;
        }
        wait_healthy(
            &sandbox.agency_files("taipei-tax"),
            sandbox.broker_addr(),
            BROKER_NAME,
        )
        .await?;
        Ok(stack)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `grpc.health.v1.Health/Check` until it answers or 30 s pass.
pub async fn wait_healthy(
    files: &ClientFiles,
    addr: SocketAddr,
    server_name: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        let channel = client::channel(files, &addr.to_string(), Some(server_name))?;
        match client::unary(
            channel,
            "grpc.health.v1.Health/Check",
            bytes::Bytes::new(),
            &[],
            Some(Duration::from_secs(2)),
        )
        .await
        {
            Ok(_) => return Ok(()),
            Err(status) => last = client::describe_status(&status),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{addr} did not become healthy in 30 s: {last}"))
}

/// The broker, the five adapters and the GCIS stand-in running as tasks of this process, built
/// through the same configuration path as `tongdao broker` and `tongdao adapter <domain>`.
#[derive(Debug)]
pub struct InProcessStack {
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Handshakes the broker accepted and refused.
    pub broker_counts: std::sync::Arc<tongdao_tls::HandshakeCounts>,
    /// Handshakes the household adapter accepted and refused.
    pub adapter_counts: std::sync::Arc<tongdao_tls::HandshakeCounts>,
    /// Reloads the broker's certificates and CRLs, as SIGHUP does.
    pub broker_tls: tongdao_broker::TlsReloader,
    /// Recompiles the broker's policy directory, as a file change or SIGHUP does.
    pub broker_policy: tongdao_broker::PolicyReloader,
}

impl InProcessStack {
    /// Loads `sandbox`'s configuration and starts every server on its reserved listeners.
    pub async fn start(sandbox: &mut Sandbox) -> Result<Self, String> {
        Self::start_without(sandbox, &[]).await
    }

    /// Like [`InProcessStack::start`], leaving the adapters in `down` stopped (their ports
    /// stay reserved and closed), to show what callers see when an agency's system is down.
    pub async fn start_without(
        sandbox: &mut Sandbox,
        down: &[AdapterKind],
    ) -> Result<Self, String> {
        let config = tongdao_config::Config::load(&sandbox.config_path(), std::iter::empty())
            .map_err(|e| e.to_string())?;
        let listeners = sandbox.take_listeners().ok_or("listeners already taken")?;
        let tokio_listener = |listener: TcpListener| {
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
            tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())
        };
        let broker_config = config.broker.as_ref().ok_or("no [broker] section")?;
        let broker = tongdao_broker::Broker::from_config(broker_config)
            .map_err(|problems| problems.join("; "))?;
        let (shutdown, watch) = tokio::sync::watch::channel(false);
        let stopped = |mut watch: tokio::sync::watch::Receiver<bool>| async move {
            let _ = watch.wait_for(|stop| *stop).await;
        };
        let mut tasks = Vec::new();

        // The GCIS stand-in first: the commerce adapter is its client.
        let dataset = tongdao_adapter_commerce::standin::Dataset::load(
            sandbox.source_path(layout::GCIS_DATASET),
        )
        .map_err(|e| format!("GCIS dataset: {e}"))?;
        tasks.push(tokio::spawn(tongdao_adapter_commerce::standin::serve(
            tokio_listener(listeners.gcis)?,
            std::sync::Arc::new(dataset),
            stopped(watch.clone()),
        )));

        let mut adapter_counts = None;
        for (kind, listener) in listeners.adapters {
            if down.contains(&kind) {
                // Closing the listener refuses connections, as a stopped adapter would.
                drop(listener);
                continue;
            }
            let adapter = crate::adapter_cmd::build(kind, &config).await?;
            if kind == AdapterKind::Household {
                adapter_counts = Some(adapter.handshake_counts());
            }
            tasks.push(tokio::spawn(
                adapter.serve(tokio_listener(listener)?, stopped(watch.clone())),
            ));
        }
        let mut stack = Self {
            shutdown: Some(shutdown),
            broker_counts: broker.handshake_counts(),
            broker_tls: broker.tls_reloader(),
            broker_policy: broker.policy_reloader(),
            adapter_counts: adapter_counts.unwrap_or_default(),
            tasks,
        };
        stack.tasks.push(tokio::spawn(
            broker.serve(tokio_listener(listeners.broker)?, stopped(watch)),
        ));
        Ok(stack)
    }

    /// Stops every server, letting in-flight calls finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}
