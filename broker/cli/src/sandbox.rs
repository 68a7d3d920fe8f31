//! A throw-away Tongdao installation in a temporary directory: a development PKI in GPKI shape,
//! a synthetic household extract, the shipped agency registry and a configuration file naming
//! them. The demo, the benchmark and the integration tests all run on one, through the same
//! configuration path `tongdao broker --config` uses.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tongdao_pki::{
    AgencyRequest, CitizenRequest, DevPki, LeafSpec, Oid, Profile, RevocationReason, ServerRequest,
    Validity,
};
use tongdao_synth::{Population, write_household_extract};

use crate::client::{self, ClientFiles};

/// The policy shipped in `policies/` (registries and rules), built into the binary so the demo
/// runs anywhere: (path relative to the policy directory, contents).
pub const SHIPPED_POLICY: [(&str, &str); 9] = [
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
        "rules/tax.toml",
        include_str!("../../../policies/rules/tax.toml"),
    ),
];

/// Origin of the sandbox's audit log (and the name of its signing key).
pub const AUDIT_ORIGIN: &str = "tongdao.test/audit";

/// DNS name in the broker's certificate; adapters accept only this peer.
pub const BROKER_NAME: &str = "broker.tongdao.test";
/// DNS name in the household adapter's certificate.
pub const HOUSEHOLD_ADAPTER_NAME: &str = "household.adapter.tongdao.test";

/// Agency identities the sandbox issues: (file name, agency name, government OID).
/// `unregistered` carries an OID that is deliberately absent from the registry; `ndc` holds the
/// auditor role.
pub const AGENCIES: [(&str, &str, &str); 5] = [
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
];

/// A sandbox on disk; removed when dropped.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
    broker_addr: SocketAddr,
    adapter_addr: SocketAddr,
    listeners: Option<(TcpListener, TcpListener)>,
    subject_ids: Vec<String>,
    citizen_id: String,
}

impl Sandbox {
    /// Creates the PKI, an extract of `households` synthetic households, and `tongdao.toml`
    /// with the broker and the household adapter on free loopback ports.
    pub fn create(households: usize) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("tongdao-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path().to_owned();
        let broker_listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let adapter_listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        let broker_addr = broker_listener.local_addr().map_err(|e| e.to_string())?;
        let adapter_addr = adapter_listener.local_addr().map_err(|e| e.to_string())?;

        let population = Population::generate(20_261_127, households.max(1));
        let mut extract = Vec::new();
        write_household_extract(&population, &mut extract).map_err(|e| format!("extract: {e}"))?;
        write(&root.join("data/household.dat"), &extract)?;
        let subject_ids: Vec<String> = population
            .people()
            .filter(|(_, person)| person.removed.is_none())
            .map(|(_, person)| person.national_id.to_string())
            .collect();
        let citizen_id = subject_ids
            .first()
            .cloned()
            .ok_or("the population has nobody in it")?;

        write_pki(&root.join("pki"), &citizen_id)?;
        write_audit_keys(&root.join("audit-keys"))?;
        for (path, text) in SHIPPED_POLICY {
            write(&root.join("policies").join(path), text.as_bytes())?;
        }
        write(
            &root.join("tongdao.toml"),
            config_text(broker_addr, adapter_addr).as_bytes(),
        )?;
        Ok(Self {
            dir,
            broker_addr,
            adapter_addr,
            listeners: Some((broker_listener, adapter_listener)),
            subject_ids,
            citizen_id,
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
        self.adapter_addr
    }

    /// Name the broker's certificate carries.
    pub fn broker_server_name(&self) -> &'static str {
        BROKER_NAME
    }

    /// Name the household adapter's certificate carries.
    pub fn adapter_server_name(&self) -> &'static str {
        HOUSEHOLD_ADAPTER_NAME
    }

    /// The listeners reserved for broker and adapter (in-process use); `None` once taken. A
    /// caller that runs them as child processes drops these first.
    pub fn take_listeners(&mut self) -> Option<(TcpListener, TcpListener)> {
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
    pki.issue(
        "household",
        LeafSpec::Server(
            ServerRequest::new([HOUSEHOLD_ADAPTER_NAME, "localhost"])
                .ip(loopback)
                .government_oid(oid("2.16.886.101.20003.20001.20010")?),
        ),
    )
    .map_err(pki_error)?;
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

fn config_text(broker: SocketAddr, adapter: SocketAddr) -> String {
    format!(
        r#"# Written by the Tongdao sandbox: a broker and the household adapter on loopback.
[broker]
listen_addr = "{broker}"
policy_dir = "policies"

[broker.audit]
dir = "audit"
signing_key = "audit-keys/signing.key"
pseudonym_key = "audit-keys/pseudonym.key"
origin = "{AUDIT_ORIGIN}"

[broker.authorities]
GCA = ["pki/gca.crt"]
MOICA = ["pki/moica.crt"]

[broker.tls]
certificate = "pki/broker.crt"
private_key = "pki/broker.key"
trust_anchors = ["pki/grca.crt"]
crls = ["pki/gca.crl", "pki/moica.crl"]

[[broker.routes]]
package = "tongdao.household.v1"
endpoints = ["{adapter}"]
server_name = "{HOUSEHOLD_ADAPTER_NAME}"
timeout_ms = 5000

[adapters.household]
listen_addr = "{adapter}"
broker_name = "{BROKER_NAME}"
extract = "data/household.dat"

[adapters.household.tls]
certificate = "pki/adapters/household.crt"
private_key = "pki/adapters/household.key"
trust_anchors = ["pki/grca.crt"]
crls = ["pki/gca.crl"]

[telemetry]
log_format = "json"
log_filter = "warn"
"#
    )
}

/// The broker and adapter running as child processes of this binary.
#[derive(Debug)]
pub struct ChildStack {
    children: Vec<Child>,
}

impl ChildStack {
    /// Starts `tongdao adapter household` and `tongdao broker` (this executable) on the
    /// sandbox's configuration and waits until both answer health checks.
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
        for args in [vec!["adapter", "household"], vec!["broker"]] {
            let child = Command::new(exe)
                .args(&args)
                .arg("--config")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting {}: {e}", args.join(" ")))?;
            stack.children.push(child);
        }
        wait_healthy(
            &sandbox.broker_client_files(),
            sandbox.adapter_addr(),
            HOUSEHOLD_ADAPTER_NAME,
        )
        .await?;
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

/// The broker and the household adapter running as tasks of this process, built through the
/// same configuration path as `tongdao broker` and `tongdao adapter household`.
#[derive(Debug)]
pub struct InProcessStack {
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Handshakes the broker accepted and refused.
    pub broker_counts: std::sync::Arc<tongdao_tls::HandshakeCounts>,
    /// Handshakes the adapter accepted and refused.
    pub adapter_counts: std::sync::Arc<tongdao_tls::HandshakeCounts>,
    /// Reloads the broker's certificates and CRLs, as SIGHUP does.
    pub broker_tls: tongdao_broker::TlsReloader,
    /// Recompiles the broker's policy directory, as a file change or SIGHUP does.
    pub broker_policy: tongdao_broker::PolicyReloader,
}

impl InProcessStack {
    /// Loads `sandbox`'s configuration and starts both servers on its reserved listeners.
    pub async fn start(sandbox: &mut Sandbox) -> Result<Self, String> {
        let config = tongdao_config::Config::load(&sandbox.config_path(), std::iter::empty())
            .map_err(|e| e.to_string())?;
        let (broker_listener, adapter_listener) =
            sandbox.take_listeners().ok_or("listeners already taken")?;
        let tokio_listener = |listener: TcpListener| {
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
            tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())
        };
        let broker_config = config.broker.as_ref().ok_or("no [broker] section")?;
        let broker = tongdao_broker::Broker::from_config(broker_config)
            .map_err(|problems| problems.join("; "))?;
        let adapter =
            crate::adapter_cmd::build(crate::adapter_cmd::AdapterKind::Household, &config).await?;
        let (shutdown, watch) = tokio::sync::watch::channel(false);
        let stopped = |mut watch: tokio::sync::watch::Receiver<bool>| async move {
            let _ = watch.wait_for(|stop| *stop).await;
        };
        let mut stack = Self {
            shutdown: Some(shutdown),
            tasks: Vec::new(),
            broker_counts: broker.handshake_counts(),
            broker_tls: broker.tls_reloader(),
            broker_policy: broker.policy_reloader(),
            adapter_counts: adapter.handshake_counts(),
        };
        let listener = tokio_listener(adapter_listener)?;
        let signal = stopped(watch.clone());
        stack
            .tasks
            .push(tokio::spawn(adapter.serve(listener, signal)));
        let listener = tokio_listener(broker_listener)?;
        let signal = stopped(watch);
        stack
            .tasks
            .push(tokio::spawn(broker.serve(listener, signal)));
        Ok(stack)
    }

    /// Stops both servers, letting in-flight calls finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}
