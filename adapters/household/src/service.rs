//! The `tongdao.household.v1.HouseholdRegistry` gRPC service over a loaded extract.
//!
//! Validates the subject, looks it up, maps the household. Every refusal goes through
//! [`tongdao_core::Rejection`], so its gRPC code and error details match the rest of Tongdao.

use std::sync::Arc;

use tongdao_core::ids::{IdError, NationalId};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::household::v1::household_registry_server::HouseholdRegistry;
use tongdao_schemas::household::v1::{GetTranscriptRequest, Transcript, TranscriptKind};
use tonic::{Request, Response, Status};

use crate::extract::Registry;

/// Why a lookup produced no transcript.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The subject is not a valid national ID.
    #[error("subject is not a valid national ID: {0}")]
    SubjectInvalid(#[from] IdError),
    /// No household holds the subject (in the way the transcript kind needs).
    #[error("no household record for that national ID")]
    NotFound,
    /// The subject's household is quarantined: some line of it is malformed.
    #[error("source record malformed (first bad line {line})")]
    SourceMalformed {
        /// First malformed line of the household in the extract (for operators only).
        line: usize,
    },
    /// Nothing was found, but the extract has lines that could not be attributed to a
    /// household, so absence cannot be confirmed.
    #[error("source extract incomplete; absence cannot be confirmed")]
    SourceIncomplete,
}

impl LookupError {
    /// The caller-facing refusal. Messages name neither the national ID nor extract details.
    pub fn to_rejection(&self) -> Rejection {
        match self {
            LookupError::SubjectInvalid(e) => Rejection::new(
                Reason::SubjectInvalid,
                format!("national_id is not a valid national ID ({e})"),
            ),
            LookupError::NotFound => Rejection::new(
                Reason::RecordNotFound,
                "no household record for that national ID",
            ),
            LookupError::SourceMalformed { .. } => Rejection::new(
                Reason::SourceRecordMalformed,
                "the registry's record for that national ID is malformed at the source; \
                 the registry office has to correct it",
            ),
            LookupError::SourceIncomplete => Rejection::new(
                Reason::SourceRecordMalformed,
                "the registry extract is incomplete, so the record can be neither served nor \
                 ruled out",
            ),
        }
    }
}

impl From<LookupError> for Status {
    fn from(error: LookupError) -> Self {
        error.to_rejection().into_status()
    }
}

/// The gRPC service. Cheap to clone: the registry is shared.
#[derive(Debug, Clone)]
pub struct HouseholdService {
    registry: Arc<Registry>,
}

impl HouseholdService {
    /// A service answering from `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }

    /// The registry behind the service.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The lookup without the gRPC wrapping; `kind` is the raw enum value from the request.
    pub fn lookup(&self, national_id: &str, kind: i32) -> Result<Transcript, Status> {
        let kind = TranscriptKind::try_from(kind).map_err(|_| {
            Rejection::new(
                Reason::MalformedRequest,
                "kind is not a known transcript kind",
            )
            .into_status()
        })?;
        let subject: NationalId = national_id.parse().map_err(LookupError::SubjectInvalid)?;
        self.registry.transcript(&subject, kind).map_err(|error| {
            match &error {
                // Operators need the line to fix the source; the caller never sees it.
                LookupError::SourceMalformed { line } => {
                    tracing::warn!(line, "household lookup hit a quarantined record");
                }
                LookupError::SourceIncomplete => {
                    tracing::warn!("household lookup missed in an incomplete extract");
                }
                LookupError::SubjectInvalid(_) | LookupError::NotFound => {}
            }
            error.into()
        })
    }
}

#[tonic::async_trait]
impl HouseholdRegistry for HouseholdService {
    async fn get_transcript(
        &self,
        request: Request<GetTranscriptRequest>,
    ) -> Result<Response<Transcript>, Status> {
        let request = request.into_inner();
        self.lookup(&request.national_id, request.kind)
            .map(Response::new)
    }
}
