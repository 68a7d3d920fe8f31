//! Who is calling: the verified client certificate read through the certificate profile, and
//! an agency's government OID looked up in the agency registry. Runs once per connection.

use tongdao_core::{Agency, Citizen, Principal, Reason, Rejection, principal::CertificateFacts};
use tongdao_pki::{IdentityKind, Profile, TrustStore};
use tongdao_tls::Peer;

use crate::{exchange::Caller, policy::PolicyHandle};

/// Reads principals out of verified certificate chains.
#[derive(Debug)]
pub struct Identifier {
    trust: TrustStore,
    policy: PolicyHandle,
}

impl Identifier {
    /// Binds each configured authority's CA certificates (`GCA = [files]`) to the profile.
    pub fn new(
        profile: Profile,
        authorities: &std::collections::BTreeMap<String, Vec<std::path::PathBuf>>,
        policy: PolicyHandle,
    ) -> Result<Self, Vec<String>> {
        let mut trust = TrustStore::new(profile);
        let mut problems = Vec::new();
        for (authority, files) in authorities {
            for file in files {
                if let Err(error) = trust.bind_pem_file(authority, file) {
                    problems.push(format!(
                        "broker.authorities.{authority}: {}: {error}",
                        file.display()
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(Self { trust, policy })
        } else {
            Err(problems)
        }
    }

    /// The caller behind a verified peer chain. Never fails: a certificate that identifies
    /// nobody yields a caller whose every call is refused with the reason.
    pub fn identify(&self, peer: &Peer) -> Caller {
        let Some((leaf, intermediates)) = peer.chain.split_first() else {
            // The acceptor requires a client certificate, so this cannot happen; refuse anyway.
            return Caller {
                principal: Err(Rejection::new(
                    Reason::PrincipalUnrecognised,
                    "no client certificate",
                )),
                certificate: CertificateFacts::default(),
                remote_addr: peer.remote_addr,
            };
        };
        let identity = match self.trust.identify_presented(leaf, intermediates) {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(remote_addr = %peer.remote_addr, code = error.code(), %error, "certificate identifies no principal");
                metrics::counter!("tongdao_unidentified_connections_total", "code" => error.code())
                    .increment(1);
                return Caller {
                    principal: Err(Rejection::new(
                        Reason::PrincipalUnrecognised,
                        format!(
                            "the certificate fits no accepted profile ({})",
                            error.code()
                        ),
                    )),
                    certificate: CertificateFacts::default(),
                    remote_addr: peer.remote_addr,
                };
            }
        };
        let certificate = CertificateFacts {
            serial: identity.serial_hex.clone(),
            issuer: identity.issuer_dn.clone(),
            not_after_unix: identity.not_after.unix_timestamp(),
        };
        let principal = match identity.kind {
            IdentityKind::Agency {
                government_oid,
                unit,
            } => match self.policy.load().agencies().by_oid(&government_oid) {
                Some(entry) => Ok(Principal::Agency(Agency {
                    code: entry.code.clone(),
                    name: entry.name.clone(),
                    government_oid,
                    unit,
                })),
                None => Err(Rejection::new(
                    Reason::AgencyUnknown,
                    format!(
                        "government OID {government_oid} is not in the agency registry; ask NDC to register the agency"
                    ),
                )),
            },
            IdentityKind::Citizen {
                name,
                national_id_last4,
            } => Ok(Principal::Citizen(Citizen {
                name,
                national_id_last4,
            })),
            IdentityKind::Server { .. } => Err(Rejection::new(
                Reason::PrincipalUnrecognised,
                "a server certificate cannot act as a client of the broker",
            )),
        };
        Caller {
            principal,
            certificate,
            remote_addr: peer.remote_addr,
        }
    }
}
