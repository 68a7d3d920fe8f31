//! `tongdao.v1.Audit`: the audit log's search, checkpoints and proofs over gRPC, for agencies
//! holding the `auditor` role and nobody else.

use tongdao_core::{Principal, Reason, Rejection};
use tongdao_schemas::v1::{
    AuditEntry, AuditSearchRequest, AuditSearchResponse, CheckpointResponse, GetCheckpointRequest,
    InclusionProofRequest, InclusionProofResponse, audit_server::Audit,
};
use tonic::{Request, Response, Status};

use crate::{audit::Auditor, policy::PolicyHandle};

/// Most records one search returns.
const MAX_RESULTS: usize = 1000;

/// The role the audit API requires.
const AUDITOR_ROLE: &str = "auditor";

/// `tongdao.v1.Audit`.
#[derive(Debug, Clone)]
pub(crate) struct AuditApi {
    pub(crate) auditor: Auditor,
    pub(crate) policy: PolicyHandle,
}

impl AuditApi {
    /// Only an agency holding the auditor role in the policy in force may read the log.
    fn require_auditor<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let principal = crate::api::caller(request)?
            .principal
            .clone()
            .map_err(Rejection::into_status)?;
        match principal {
            Principal::Agency(agency)
                if self.policy.load().roles().holds(&agency.code, AUDITOR_ROLE) =>
            {
                Ok(())
            }
            _ => Err(Rejection::new(
                Reason::RoleRequired,
                "the audit API is open to agencies holding the auditor role",
            )
            .into_status()),
        }
    }
}

fn text(value: &str) -> Option<String> {
    (!value.trim().is_empty()).then(|| value.trim().to_owned())
}

fn unavailable(error: impl std::fmt::Display) -> Status {
    tracing::warn!(%error, "audit API could not read the log");
    Rejection::new(
        Reason::AuditUnavailable,
        "the audit log cannot be read right now",
    )
    .into_status()
}

#[tonic::async_trait]
impl Audit for AuditApi {
    async fn search(
        &self,
        request: Request<AuditSearchRequest>,
    ) -> Result<Response<AuditSearchResponse>, Status> {
        self.require_auditor(&request)?;
        let search = request.into_inner();
        let limit = match search.limit as usize {
            0 => MAX_RESULTS,
            n => n.min(MAX_RESULTS),
        };
        let query = tongdao_audit::Query {
            exchange_id: text(&search.exchange_id),
            trace_id: text(&search.trace_id),
            agency: text(&search.agency),
            service: text(&search.service),
            purpose: text(&search.purpose),
            // Hashed here, so the log is searched by pseudonym and never holds the ID.
            subject: text(&search.national_id).map(|id| self.auditor.pseudonym(&id)),
            outcome: text(&search.outcome),
            since: None,
            until: None,
        };
        let dir = self.auditor.dir().to_owned();
        // A scan of segment files: blocking I/O, off the async workers.
        let found =
            tokio::task::spawn_blocking(move || -> Result<(Vec<AuditEntry>, bool), String> {
                let mut entries = Vec::new();
                for found in tongdao_audit::search(&dir, &query).map_err(|e| e.to_string())? {
                    let found = found.map_err(|e| e.to_string())?;
                    if entries.len() == limit {
                        return Ok((entries, true));
                    }
                    let json = found.record.encode().map_err(|e| e.to_string())?;
                    entries.push(AuditEntry {
                        index: found.index,
                        record_json: String::from_utf8_lossy(&json).into_owned(),
                    });
                }
                Ok((entries, false))
            })
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        let (entries, truncated) = found;
        Ok(Response::new(AuditSearchResponse { entries, truncated }))
    }

    async fn get_checkpoint(
        &self,
        request: Request<GetCheckpointRequest>,
    ) -> Result<Response<CheckpointResponse>, Status> {
        self.require_auditor(&request)?;
        let checkpoint = self.auditor.log().checkpoint().await.map_err(unavailable)?;
        Ok(Response::new(CheckpointResponse {
            signed_note: String::from_utf8_lossy(checkpoint.as_bytes()).into_owned(),
            tree_size: checkpoint.checkpoint().size,
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<InclusionProofRequest>,
    ) -> Result<Response<InclusionProofResponse>, Status> {
        self.require_auditor(&request)?;
        let asked = request.into_inner();
        let log = self.auditor.log();
        let tree_size = match asked.tree_size {
            0 => log
                .latest_checkpoint()
                .map_or_else(|| log.size(), |c| c.checkpoint().size),
            n => n,
        };
        let hashes = log
            .inclusion_proof(asked.index, tree_size)
            .map_err(|error| {
                Rejection::new(
                    Reason::MalformedRequest,
                    format!("no proof for that index and size: {error}"),
                )
                .into_status()
            })?;
        Ok(Response::new(InclusionProofResponse {
            index: asked.index,
            tree_size,
            hashes: hashes.iter().map(|h| h.0.to_vec()).collect(),
        }))
    }
}
