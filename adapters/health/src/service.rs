//! The `tongdao.health.v1.HealthInsurance` gRPC service over the loaded exports.
//!
//! Validates the subject before looking anything up, then the date range, then answers from
//! the index. Every refusal goes through [`tongdao_core::Rejection`].

use std::sync::Arc;

use tongdao_core::ids::{IdError, NationalId};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::health::v1::health_insurance_server::HealthInsurance;
use tongdao_schemas::health::v1::{
    ListLabResultsRequest, ListLabResultsResponse, ListVisitsRequest, ListVisitsResponse, RocDate,
};
use tonic::{Request, Response, Status};

use crate::export::{Exports, Lookup, Person};

/// Why a request produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The subject is not a valid national ID.
    #[error("subject is not a valid national ID: {0}")]
    SubjectInvalid(#[from] IdError),
    /// A date of the range is not a real calendar date, or the range ends before it starts.
    #[error("bad date range: {0}")]
    BadRange(&'static str),
    /// The person's data is quarantined: a file naming them is malformed.
    #[error("source record malformed")]
    SourceMalformed,
    /// The person is in no readable file, but some malformed file names nobody readable.
    #[error("source exports incomplete; absence cannot be confirmed")]
    SourceIncomplete,
    /// The adapter's own index could not be read back (a bug).
    #[error("internal error reading the index")]
    Internal,
}

impl LookupError {
    /// The caller-facing refusal. Messages name neither the national ID nor file details.
    pub fn to_rejection(&self) -> Rejection {
        match self {
            LookupError::SubjectInvalid(e) => Rejection::new(
                Reason::SubjectInvalid,
                format!("national_id is not a valid national ID ({e})"),
            ),
            LookupError::BadRange(why) => Rejection::new(Reason::MalformedRequest, *why),
            LookupError::SourceMalformed => Rejection::new(
                Reason::SourceRecordMalformed,
                "the health insurance records for that national ID are malformed at the \
                 source; the NHI administration has to correct them",
            ),
            LookupError::SourceIncomplete => Rejection::new(
                Reason::SourceRecordMalformed,
                "some health insurance exports are unreadable, so the records for that \
                 national ID can be neither served nor ruled out",
            ),
            LookupError::Internal => Rejection::new(
                Reason::AdapterFailed,
                "the health adapter failed to read its own index",
            ),
        }
    }
}

impl From<LookupError> for Status {
    fn from(error: LookupError) -> Self {
        error.to_rejection().into_status()
    }
}

/// An inclusive range of visit dates; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    from: Option<(u32, u32, u32)>,
    to: Option<(u32, u32, u32)>,
}

impl DateRange {
    /// The range of a request: each end, if set, must be a real calendar date (ROC year 1–999),
    /// and `from` must not be after `to`.
    pub fn new(from: Option<&RocDate>, to: Option<&RocDate>) -> Result<DateRange, LookupError> {
        let from = from
            .map(|d| checked(d).ok_or(LookupError::BadRange("from_date is not a valid date")))
            .transpose()?;
        let to = to
            .map(|d| checked(d).ok_or(LookupError::BadRange("to_date is not a valid date")))
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(LookupError::BadRange("from_date is after to_date"));
        }
        Ok(DateRange { from, to })
    }

    /// Whether `date` lies in the range (an unset date lies in no bounded range).
    pub fn contains(&self, date: Option<&RocDate>) -> bool {
        let Some(d) = date else {
            return self.from.is_none() && self.to.is_none();
        };
        let key = (d.year, d.month, d.day);
        self.from.is_none_or(|from| key >= from) && self.to.is_none_or(|to| key <= to)
    }
}

/// A real calendar date as a sortable triple.
fn checked(date: &RocDate) -> Option<(u32, u32, u32)> {
    let RocDate { year, month, day } = *date;
    if !(1..=999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let gregorian = year + 1911;
    let leap = (gregorian % 4 == 0 && gregorian % 100 != 0) || gregorian % 400 == 0;
    let days = match month {
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 31,
    };
    (day <= days).then_some((year, month, day))
}

/// The gRPC service. Cheap to clone: the exports are shared.
#[derive(Debug, Clone)]
pub struct HealthService {
    exports: Arc<Exports>,
}

impl HealthService {
    /// A service answering from `exports`.
    pub fn new(exports: Arc<Exports>) -> Self {
        Self { exports }
    }

    /// The exports behind the service.
    pub fn exports(&self) -> &Exports {
        &self.exports
    }

    /// The subject's person record (`None`: nothing in the exports) and the requested range,
    /// validated in that order: subject first, before the source is touched.
    fn find(
        &self,
        national_id: &str,
        from: Option<&RocDate>,
        to: Option<&RocDate>,
    ) -> Result<(Option<&Person>, DateRange), LookupError> {
        let subject: NationalId = national_id.parse()?;
        let range = DateRange::new(from, to)?;
        match self.exports.lookup(&subject) {
            Lookup::Found(person) => Ok((Some(person), range)),
            Lookup::Absent => Ok((None, range)),
            Lookup::Quarantined(problem) => {
                // Operators need the file to fix the source; the caller never sees it.
                tracing::warn!(file = %problem.file.display(), at = %problem.at,
                    reason = problem.kind.label(), "health lookup hit a quarantined person");
                Err(LookupError::SourceMalformed)
            }
            Lookup::Unconfirmed(problem) => {
                tracing::warn!(file = %problem.file.display(), reason = problem.kind.label(),
                    "health lookup missed while some exports are unreadable");
                Err(LookupError::SourceIncomplete)
            }
        }
    }

    /// ListVisits without the gRPC wrapping.
    pub fn visits(&self, request: &ListVisitsRequest) -> Result<ListVisitsResponse, LookupError> {
        let (person, range) = self.find(
            &request.national_id,
            request.from_date.as_ref(),
            request.to_date.as_ref(),
        )?;
        let (name, mut visits) = match person {
            Some(person) => (
                person.name.clone(),
                person.visits().map_err(|e| internal(&e))?,
            ),
            None => (String::new(), Vec::new()),
        };
        visits.retain(|v| range.contains(v.visit_date.as_ref()));
        Ok(ListVisitsResponse {
            national_id: request.national_id.clone(),
            name,
            visits,
        })
    }

    /// ListLabResults without the gRPC wrapping.
    pub fn lab_results(
        &self,
        request: &ListLabResultsRequest,
    ) -> Result<ListLabResultsResponse, LookupError> {
        let (person, range) = self.find(
            &request.national_id,
            request.from_date.as_ref(),
            request.to_date.as_ref(),
        )?;
        let (name, mut results) = match person {
            Some(person) => (
                person.name.clone(),
                person.lab_results().map_err(|e| internal(&e))?,
            ),
            None => (String::new(), Vec::new()),
        };
        results.retain(|r| range.contains(r.visit_date.as_ref()));
        Ok(ListLabResultsResponse {
            national_id: request.national_id.clone(),
            name,
            results,
        })
    }
}

/// The index's own encoding failed to decode: a bug, never the caller's fault.
fn internal(error: &prost::DecodeError) -> LookupError {
    tracing::error!(%error, "health index: stored records do not decode");
    LookupError::Internal
}

#[tonic::async_trait]
impl HealthInsurance for HealthService {
    async fn list_visits(
        &self,
        request: Request<ListVisitsRequest>,
    ) -> Result<Response<ListVisitsResponse>, Status> {
        self.visits(request.get_ref())
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn list_lab_results(
        &self,
        request: Request<ListLabResultsRequest>,
    ) -> Result<Response<ListLabResultsResponse>, Status> {
        self.lab_results(request.get_ref())
            .map(Response::new)
            .map_err(Status::from)
    }
}
