//! The policy in force: compiled from the policy directory, swapped whole on reload so every
//! exchange is decided by exactly one version, and a bad directory never replaces a good policy.

use std::{path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;
use tongdao_policy::{Policy, PolicySources};

/// The policy in force, shared by the identifier, the authorization step and the directory.
pub type PolicyHandle = Arc<ArcSwap<Policy>>;

/// Reads and compiles the policy directory; every problem as `file:line: message`.
pub(crate) fn load(dir: &std::path::Path) -> Result<Policy, Vec<String>> {
    let sources =
        PolicySources::read_dir(dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
    Policy::compile(&sources)
        .map_err(|errors| errors.errors().iter().map(ToString::to_string).collect())
}

/// Recompiles the policy directory and swaps it in; see [`crate::Broker::policy_reloader`].
#[derive(Debug, Clone)]
pub struct PolicyReloader {
    pub(crate) dir: PathBuf,
    pub(crate) current: PolicyHandle,
    pub(crate) auditor: crate::audit::Auditor,
}

impl PolicyReloader {
    /// Compiles the directory again. On success the new policy decides every exchange that
    /// starts from now on (exchanges in flight finish under the version that admitted them) and
    /// its version is returned; on failure the policy in force keeps serving and every problem
    /// is returned.
    pub fn reload(&self) -> Result<String, Vec<String>> {
        let policy = load(&self.dir)?;
        let version = policy.version().to_owned();
        let previous = self.current.load().version().to_owned();
        let digest = policy.digest().to_owned();
        self.current.store(Arc::new(policy));
        if previous != version {
            announce(&version);
            // Roll-outs are part of the record: which policy decided which exchanges.
            let auditor = self.auditor.clone();
            let (new, old) = (version.clone(), previous);
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime
                        .spawn(async move { auditor.policy_change(new, Some(old), &digest).await });
                }
                Err(_) => tracing::error!("policy change not recorded: no async runtime"),
            }
        }
        Ok(version)
    }

    /// The version in force.
    pub fn version(&self) -> String {
        self.current.load().version().to_owned()
    }

    /// The directory it compiles.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

/// Logs the version now in force and exposes it as a metric.
pub(crate) fn announce(version: &str) {
    tracing::info!(policy_version = version, "policy in force");
    metrics::gauge!("tongdao_policy_info", "version" => version.to_owned()).set(1.0);
}
