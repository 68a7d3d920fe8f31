//! The `tongdao.commerce.v1.CompanyRegistry` gRPC service over the GCIS client.
//!
//! Validates the subject before touching the source, asks GCIS, maps the answer whole or not at
//! all. Every refusal goes through [`tongdao_core::Rejection`]; source failures are logged and
//! counted here, once, where their kind is known.

use std::sync::Arc;

use tongdao_core::ids::{BusinessNumber, IdError, NationalId};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::commerce::v1::company_registry_server::CompanyRegistry;
use tongdao_schemas::commerce::v1::{
    Company, GetCompanyRequest, ListDirectorshipsRequest, ListDirectorshipsResponse,
};
use tonic::{Request, Response, Status};

use crate::gcis::{
    COMPANY_DATASET, DIRECTORS_DATASET, DIRECTORSHIPS_PATH, GcisClient, OPEN_DATA_PATH,
    SourceError, describe_query,
};
use crate::records::{CommerceMapping, RecordError};

/// Metric counting malformed source records, by `reason`.
pub const MALFORMED_METRIC: &str = "tongdao_adapter_source_malformed_total";
/// Metric counting failed source requests, by `kind` (`unavailable`, `rejected`).
pub const SOURCE_ERRORS_METRIC: &str = "tongdao_adapter_source_errors_total";

/// Why a lookup produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The subject field does not hold a valid ID.
    #[error("{field} is not valid: {error}")]
    SubjectInvalid {
        /// The request field.
        field: &'static str,
        /// What is wrong with it.
        error: IdError,
    },
    /// GCIS has no company with that business number.
    #[error("no company registration for that business number")]
    NotFound,
    /// GCIS is down, slow, or answered with an error page or sentence.
    #[error("the company registry is unavailable")]
    Unavailable,
    /// GCIS refused the adapter's query: the adapter's configuration is wrong.
    #[error("the company registry refused the adapter's query")]
    SourceRejected,
    /// GCIS answered, but the record (or the answer) is malformed.
    #[error("the company registry's record is malformed ({reason})")]
    SourceMalformed {
        /// The metric's reason label.
        reason: &'static str,
    },
}

impl LookupError {
    /// The caller-facing refusal. Messages name no ID and no source detail.
    pub fn to_rejection(&self) -> Rejection {
        match self {
            LookupError::SubjectInvalid { field, error } => Rejection::new(
                Reason::SubjectInvalid,
                match *field {
                    "national_id" => format!("national_id is not a valid national ID ({error})"),
                    _ => format!("{field} is not a valid unified business number ({error})"),
                },
            ),
            LookupError::NotFound => Rejection::new(
                Reason::RecordNotFound,
                "no company registration for that business number",
            ),
            LookupError::Unavailable => Rejection::new(
                Reason::AdapterUnavailable,
                "the company registry (GCIS) is not answering; try again later",
            ),
            LookupError::SourceRejected => Rejection::new(
                Reason::AdapterFailed,
                "the company registry refused the adapter's query; the adapter's operators \
                 have to correct its configuration",
            ),
            LookupError::SourceMalformed { .. } => Rejection::new(
                Reason::SourceRecordMalformed,
                "the company registry's record is malformed at the source; the registry has \
                 to correct it",
            ),
        }
    }
}

impl From<LookupError> for Status {
    fn from(error: LookupError) -> Self {
        error.to_rejection().into_status()
    }
}

/// The gRPC service. Cheap to clone: the client's connection pool is shared.
#[derive(Debug, Clone)]
pub struct CommerceService {
    client: GcisClient,
    mapping: Arc<CommerceMapping>,
}

/// Logs and counts a source failure. The error's detail says where (the query, a national ID
/// shown by its last 4 characters only).
fn source_failure(error: SourceError, operation: &'static str) -> LookupError {
    match error {
        SourceError::Unavailable { detail } => {
            metrics::counter!(SOURCE_ERRORS_METRIC, "adapter" => "commerce", "kind" => "unavailable")
                .increment(1);
            tracing::warn!(operation, %detail, "commerce: GCIS unavailable");
            LookupError::Unavailable
        }
        SourceError::Rejected { detail } => {
            metrics::counter!(SOURCE_ERRORS_METRIC, "adapter" => "commerce", "kind" => "rejected")
                .increment(1);
            tracing::error!(operation, %detail, "commerce: GCIS refused the query");
            LookupError::SourceRejected
        }
        SourceError::Malformed { reason, detail } => {
            malformed(reason, operation, &detail);
            LookupError::SourceMalformed { reason }
        }
    }
}

/// Logs (with where in the source and the rule broken) and counts a malformed answer.
fn malformed(reason: &'static str, operation: &'static str, detail: &str) {
    metrics::counter!(MALFORMED_METRIC, "adapter" => "commerce", "reason" => reason).increment(1);
    tracing::warn!(operation, reason, detail, "commerce: malformed GCIS record");
}

/// An object that failed the mapping: `location` is its query and index in the answer.
fn record_failure(error: &RecordError, operation: &'static str, location: &str) -> LookupError {
    malformed(
        error.problem,
        operation,
        &format!(
            "{location}: key {} (field {}) breaks {}",
            error.key, error.field, error.problem
        ),
    );
    LookupError::SourceMalformed {
        reason: error.problem,
    }
}

impl CommerceService {
    /// A service answering from the GCIS service behind `client`, mapping its objects with
    /// `mapping`.
    pub fn new(client: GcisClient, mapping: CommerceMapping) -> Self {
        Self {
            client,
            mapping: Arc::new(mapping),
        }
    }

    /// GetCompany without the gRPC wrapping.
    pub async fn company(&self, business_number: &str) -> Result<Company, LookupError> {
        let subject: BusinessNumber =
            business_number
                .parse()
                .map_err(|error| LookupError::SubjectInvalid {
                    field: "business_number",
                    error,
                })?;
        let number = subject.as_str();
        let (company, directors) = tokio::join!(
            self.client.company(&subject),
            self.client.directors(&subject)
        );
        let company = company
            .map_err(|e| source_failure(e, "GetCompany"))?
            .ok_or(LookupError::NotFound)?;
        let directors = directors.map_err(|e| source_failure(e, "GetCompany"))?;

        let company_query = describe_query(
            &format!("{OPEN_DATA_PATH}{COMPANY_DATASET}"),
            "Business_Accounting_NO",
            number,
        );
        let mut mapped = self
            .mapping
            .company(&company)
            .map_err(|e| record_failure(&e, "GetCompany", &format!("{company_query} record 0")))?;
        if mapped.business_number != number {
            malformed(
                "subject_mismatch",
                "GetCompany",
                &format!("{company_query} record 0: the object is about another business number"),
            );
            return Err(LookupError::SourceMalformed {
                reason: "subject_mismatch",
            });
        }
        let directors_query = describe_query(
            &format!("{OPEN_DATA_PATH}{DIRECTORS_DATASET}"),
            "Business_Accounting_NO",
            number,
        );
        mapped.directors = directors
            .iter()
            .enumerate()
            .map(|(i, director)| {
                self.mapping.director(director).map_err(|e| {
                    record_failure(
                        &e.within("directors", i),
                        "GetCompany",
                        &format!("{directors_query} record {i}"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(mapped)
    }

    /// ListDirectorships without the gRPC wrapping.
    pub async fn directorships(
        &self,
        national_id: &str,
    ) -> Result<ListDirectorshipsResponse, LookupError> {
        let subject: NationalId =
            national_id
                .parse()
                .map_err(|error| LookupError::SubjectInvalid {
                    field: "national_id",
                    error,
                })?;
        let rows = self
            .client
            .directorships(&subject)
            .await
            .map_err(|e| source_failure(e, "ListDirectorships"))?;
        let query = describe_query(DIRECTORSHIPS_PATH, "Person_ID", subject.as_str());
        let mut directorships = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            // The row's company, for the log: a business number, never the person's ID.
            let company = row
                .get("Business_Accounting_NO")
                .and_then(|v| v.as_str())
                .map(str::trim)
                .unwrap_or("");
            if let Some(person) = row.get("Person_ID")
                && person.as_str().map(str::trim) != Some(subject.as_str())
            {
                malformed(
                    "subject_mismatch",
                    "ListDirectorships",
                    &format!("{query} record {i} (company {company}): about another person"),
                );
                return Err(LookupError::SourceMalformed {
                    reason: "subject_mismatch",
                });
            }
            directorships.push(self.mapping.directorship(row).map_err(|e| {
                record_failure(
                    &e,
                    "ListDirectorships",
                    &format!("{query} record {i} (company {company})"),
                )
            })?);
        }
        Ok(ListDirectorshipsResponse { directorships })
    }
}

#[tonic::async_trait]
impl CompanyRegistry for CommerceService {
    async fn get_company(
        &self,
        request: Request<GetCompanyRequest>,
    ) -> Result<Response<Company>, Status> {
        let request = request.into_inner();
        self.company(&request.business_number)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn list_directorships(
        &self,
        request: Request<ListDirectorshipsRequest>,
    ) -> Result<Response<ListDirectorshipsResponse>, Status> {
        let request = request.into_inner();
        self.directorships(&request.national_id)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }
}
