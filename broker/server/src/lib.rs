//! The Tongdao broker: accepts agencies and citizens over mutual TLS, identifies the principal
//! once per connection, runs every domain exchange through one stack of checks, relays permitted
//! exchanges to the adapter serving the method, and serves its own API (directory, health,
//! reflection).

mod admit;
mod api;
mod audit;
mod audit_api;
mod authorize;
mod catalogue;
mod consent;
mod consent_api;
mod exchange;
mod forward;
mod identify;
mod ingress;
mod layers;
mod mydata_api;
mod onestop;
mod policy;
mod replay;
mod stack;
mod validate;

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tongdao_config::BrokerConfig;
use tongdao_schemas::{FILE_DESCRIPTOR_SET, v1::directory_server::DirectoryServer};
use tongdao_tls::{ClientTls, Material, ServeOptions};
use tonic::{body::Body, service::Routes as ApiRoutes};
use tower::Service;

pub use exchange::{
    CLIENT_AGENCY_HEADER, CONSENT_HEADER, Caller, EXCHANGE_ID_HEADER, PURPOSE_HEADER,
    RECEIPT_HEADER, TRACEPARENT_HEADER,
};
pub use identify::Identifier;
pub use policy::{PolicyHandle, PolicyReloader};

use crate::{
    api::DirectoryApi, catalogue::Catalogue, forward::Routes, ingress::DomainIngress,
    replay::ReplayGuard, stack::exchange_stack,
};

/// A broker built from its configuration, ready to serve.
pub struct Broker {
    tls: Arc<ArcSwap<rustls::ServerConfig>>,
    tls_files: tongdao_config::TlsFiles,
    identifier: Arc<Identifier>,
    policy: PolicyReloader,
    auditor: audit::Auditor,
    service: Dispatch,
    health: tonic_health::server::HealthReporter,
    options: ServeOptions,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Loads every file the configuration names and builds the broker. Every problem found is
    /// returned at once (one line each), so `tongdao check-config` can show them together.
    pub fn from_config(config: &BrokerConfig) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let material = Material::load(
            &config.tls.certificate,
            &config.tls.private_key,
            &config.tls.trust_anchors,
            &config.tls.crls,
        )
        .map_err(|e| problems.push(format!("broker.tls: {e}")))
        .ok();
        let policy = policy::load(&config.policy_dir)
            .map_err(|found| {
                problems.extend(found.into_iter().map(|p| format!("broker.policy_dir: {p}")));
            })
            .ok();
        let profile = match &config.certificate_profile {
            Some(path) => tongdao_pki::Profile::load(path)
                .map_err(|e| problems.push(format!("broker.certificate_profile: {e}")))
                .ok(),
            None => Some(tongdao_pki::Profile::embedded()),
        };
        let auditor = open_audit(&config.audit)
            .map_err(|problem| problems.push(format!("broker.audit: {problem}")))
            .ok();
        // `[broker.consent]` is optional: without it no consent API and no consent checks.
        let consents = match &config.consent {
            None => Some(None),
            Some(consent) => consent::Consents::open(
                consent,
                &config.audit.pseudonym_key,
                config.consent_redis_timeout().unwrap_or_default(),
            )
            .map_err(|found| {
                problems.extend(found.into_iter().map(|p| format!("broker.consent: {p}")));
            })
            .ok()
            .map(Some),
        };
        let (Some(material), Some(policy), Some(profile), Some(auditor), Some(consents)) =
            (material, policy, profile, auditor, consents)
        else {
            return Err(problems);
        };
        let server_config = tongdao_tls::server_config(&material)
            .map_err(|e| problems.push(format!("broker.tls: {e}")))
            .ok();
        let client_tls = ClientTls::new(&material)
            .map_err(|e| problems.push(format!("broker.tls (toward adapters): {e}")))
            .ok();
        let policy: PolicyHandle = Arc::new(ArcSwap::from_pointee(policy));
        let identifier = Identifier::new(profile, &config.authorities, policy.clone())
            .map_err(|found| problems.extend(found))
            .ok();
        let routes = client_tls.and_then(|tls| {
            Routes::new(&config.routes, &tls)
                .map_err(|e| problems.push(format!("broker.routes: {e}")))
                .ok()
        });
        let (Some(server_config), Some(identifier), Some(routes)) =
            (server_config, identifier, routes)
        else {
            return Err(problems);
        };

        let catalogue = Arc::new(Catalogue::new(&routes));
        let replay = ReplayGuard::new(config.replay_window());
        let stack = exchange_stack(
            catalogue.clone(),
            replay.clone(),
            policy.clone(),
            auditor.clone(),
            consents.as_ref().map(|c| c.store.clone()),
        );
        let domain = DomainIngress {
            stack: stack.clone(),
            replay,
            max_message_bytes: config.max_message_bytes,
            max_deadline: config.max_deadline(),
        };
        let one_stop = onestop::OneStopApi {
            stack,
            policy: policy.clone(),
            auditor: auditor.clone(),
            max_deadline: config.max_deadline(),
        };
        let (health, health_service) = tonic_health::server::health_reporter();
        let directory = DirectoryApi {
            catalogue,
            policy: policy.clone(),
            consent_verifier_key: consents
                .as_ref()
                .map(|c| c.signer.verifier().as_text().to_owned())
                .unwrap_or_default(),
        };
        let consent_api = consent_api::ConsentApi {
            consents,
            auditor: auditor.clone(),
            policy: policy.clone(),
        };

        let audit_api = audit_api::AuditApi {
            auditor: auditor.clone(),
            policy: policy.clone(),
        };
        let api = ApiRoutes::new(DirectoryServer::new(directory))
            .add_service(tongdao_schemas::v1::audit_server::AuditServer::new(
                audit_api,
            ))
            .add_service(tongdao_schemas::v1::my_data_server::MyDataServer::new(
                mydata_api::MyDataApi {
                    auditor: auditor.clone(),
                    policy: policy.clone(),
                },
            ))
            .add_service(tongdao_schemas::v1::consent_server::ConsentServer::new(
                consent_api,
            ))
            .add_service(tongdao_schemas::v1::one_stop_server::OneStopServer::new(
                one_stop,
            ))
            .add_service(health_service)
            .add_service(reflection_v1())
            .add_service(reflection_v1alpha())
            .prepare();
        Ok(Self {
            tls: Arc::new(ArcSwap::from_pointee(server_config)),
            tls_files: config.tls.clone(),
            identifier: Arc::new(identifier),
            auditor: auditor.clone(),
            policy: PolicyReloader {
                dir: config.policy_dir.clone(),
                current: policy,
                auditor,
            },
            service: Dispatch { api, domain },
            health,
            options: ServeOptions {
                server_name: "broker",
                handshake_timeout: config.handshake_timeout(),
                max_concurrent_streams: config.max_concurrent_streams,
                drain_timeout: Duration::from_secs(10),
                counts: Arc::default(),
            },
        })
    }

    /// A handle that re-reads the broker's certificate, key, trust anchors and CRLs and swaps
    /// them in for new connections (on SIGHUP: CRLs are reissued daily, certificates rotate).
    pub fn tls_reloader(&self) -> TlsReloader {
        TlsReloader {
            files: self.tls_files.clone(),
            target: self.tls.clone(),
        }
    }

    /// A handle that recompiles the policy directory and swaps the new policy in (on change
    /// and on SIGHUP).
    pub fn policy_reloader(&self) -> PolicyReloader {
        self.policy.clone()
    }

    /// Handshakes this broker accepted and refused, by reason.
    pub fn handshake_counts(&self) -> Arc<tongdao_tls::HandshakeCounts> {
        self.options.counts.clone()
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight exchanges.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        self.health
            .set_serving::<DirectoryServer<DirectoryApi>>()
            .await;
        policy::announce(&self.policy.version());
        let watchdog = tokio::spawn(follow_audit_health(
            self.health.clone(),
            self.auditor.clone(),
        ));
        let identifier = self.identifier;
        tongdao_tls::serve(
            listener,
            self.tls,
            self.options,
            move |peer| Arc::new(identifier.identify(peer)),
            self.service,
            shutdown,
        )
        .await;
        watchdog.abort();
    }
}

/// Health follows the audit log: a broker that cannot record serves nothing, so it reports
/// NOT_SERVING until the log is writable again and load balancers send traffic elsewhere.
async fn follow_audit_health(
    health: tonic_health::server::HealthReporter,
    auditor: audit::Auditor,
) {
    let mut serving = true;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let available = auditor.is_available();
        if available == serving {
            continue;
        }
        serving = available;
        let status = if available {
            tonic_health::ServingStatus::Serving
        } else {
            tonic_health::ServingStatus::NotServing
        };
        health.set_service_status("", status).await;
        health
            .set_service_status("tongdao.v1.Directory", status)
            .await;
        tracing::warn!(available, "audit log availability changed");
    }
}

/// Opens (or creates) the audit log with its signing and pseudonym keys.
fn open_audit(config: &tongdao_config::AuditConfig) -> Result<audit::Auditor, String> {
    let signer =
        tongdao_audit::LogSigner::from_file(&config.signing_key).map_err(|e| e.to_string())?;
    let pseudonym_key =
        tongdao_audit::read_pseudonym_key(&config.pseudonym_key).map_err(|e| e.to_string())?;
    let log = tongdao_audit::AuditLog::open(&config.dir, signer, &config.origin)
        .map_err(|e| format!("{}: {e}", config.dir.display()))?;
    Ok(audit::Auditor::new(log, &config.dir, pseudonym_key))
}

/// Re-reads TLS material and swaps it in; see [`Broker::tls_reloader`].
#[derive(Debug, Clone)]
pub struct TlsReloader {
    files: tongdao_config::TlsFiles,
    target: Arc<ArcSwap<rustls::ServerConfig>>,
}

impl TlsReloader {
    /// Loads the files again. On any error the configuration in use stays as it was: a bad
    /// CRL or key file never replaces a good one.
    pub fn reload(&self) -> Result<(), String> {
        let files = &self.files;
        let material = Material::load(
            &files.certificate,
            &files.private_key,
            &files.trust_anchors,
            &files.crls,
        )
        .map_err(|e| e.to_string())?;
        let config = tongdao_tls::server_config(&material).map_err(|e| e.to_string())?;
        self.target.store(Arc::new(config));
        Ok(())
    }
}

fn reflection_v1() -> tonic_reflection::server::v1::ServerReflectionServer<
    impl tonic_reflection::server::v1::ServerReflection,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the compiled-in descriptor set is valid")
}

fn reflection_v1alpha() -> tonic_reflection::server::v1alpha::ServerReflectionServer<
    impl tonic_reflection::server::v1alpha::ServerReflection,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the compiled-in descriptor set is valid")
}

/// The broker's top-level service: its own API by path prefix, everything else is a domain
/// exchange.
#[derive(Clone)]
struct Dispatch {
    api: ApiRoutes,
    domain: DomainIngress,
}

/// Services the broker answers itself; every other path is routed as a domain exchange.
const API_PREFIXES: [&str; 3] = ["/tongdao.v1.", "/grpc.health.v1.", "/grpc.reflection."];

impl Service<http::Request<Body>> for Dispatch {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path();
        if API_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
            Box::pin(self.api.call(request))
        } else {
            self.domain.call(request)
        }
    }
}
