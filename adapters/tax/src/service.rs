//! The `tongdao.tax.v1.TaxRegistry` gRPC service over the loaded files.
//!
//! Every request validates its subject before touching the source; every refusal goes through
//! [`tongdao_core::Rejection`], so its gRPC code and error details match the rest of Tongdao.

use std::sync::Arc;

use tongdao_core::ids::{IdError, NationalId};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::tax::v1::tax_registry_server::TaxRegistry;
use tongdao_schemas::tax::v1::{
    GetTaxPaymentCertificateRequest, IncomeItem, ListIncomeRequest, ListIncomeResponse,
    ListPropertyRequest, ListPropertyResponse, PropertyItem, TaxKind, TaxPayment,
    TaxPaymentCertificate,
};
use tonic::{Request, Response, Status};

use crate::source::{FileKind, TaxSource};

/// Why a request produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The subject is not a valid national ID.
    #[error("subject is not a valid national ID: {0}")]
    SubjectInvalid(#[from] IdError),
    /// A request field other than the subject is unusable.
    #[error("malformed request: {0}")]
    BadRequest(&'static str),
    /// No payment of that tax and year (certificates only; lists are empty instead).
    #[error("no payment of that tax and year")]
    NotFound,
    /// The subject's data in the file is quarantined: one of their lines is malformed.
    #[error("source record malformed ({file}:{line})")]
    SourceMalformed {
        /// The file.
        file: FileKind,
        /// First malformed line of the subject (for operators only).
        line: u32,
    },
    /// The file has a line nobody can be pinned on (for this year), so no answer from it can
    /// be known to be whole.
    #[error("source file incomplete ({file}:{line})")]
    SourceIncomplete {
        /// The file.
        file: FileKind,
        /// First line that made it incomplete.
        line: u32,
    },
}

impl LookupError {
    /// The caller-facing refusal. Messages name neither the national ID nor file details.
    pub fn to_rejection(&self) -> Rejection {
        match self {
            LookupError::SubjectInvalid(e) => Rejection::new(
                Reason::SubjectInvalid,
                format!("national_id is not a valid national ID ({e})"),
            ),
            LookupError::BadRequest(problem) => Rejection::new(Reason::MalformedRequest, *problem),
            LookupError::NotFound => Rejection::new(
                Reason::RecordNotFound,
                "no payment of that tax for that national ID and tax year",
            ),
            LookupError::SourceMalformed { .. } => Rejection::new(
                Reason::SourceRecordMalformed,
                "the tax records for that national ID are malformed at the source; the Ministry \
                 of Finance's data centre has to correct them",
            ),
            LookupError::SourceIncomplete { .. } => Rejection::new(
                Reason::SourceRecordMalformed,
                "the tax source file is incomplete for that year, so the records can be neither \
                 served whole nor ruled out",
            ),
        }
    }
}

impl From<LookupError> for Status {
    fn from(error: LookupError) -> Self {
        error.to_rejection().into_status()
    }
}

/// The gRPC service. Cheap to clone: the source is shared.
#[derive(Debug, Clone)]
pub struct TaxService {
    source: Arc<TaxSource>,
}

/// A ROC year from a request: 1–999.
fn year(value: u32, field: &'static str) -> Result<u16, LookupError> {
    u16::try_from(value)
        .ok()
        .filter(|y| (1..=999).contains(y))
        .ok_or(LookupError::BadRequest(field))
}

fn subject(national_id: &str) -> Result<NationalId, LookupError> {
    Ok(national_id.parse()?)
}

/// Logs, for operators, why the source refused; the caller sees only the reason.
fn logged(error: LookupError) -> LookupError {
    match &error {
        LookupError::SourceMalformed { file, line } => {
            tracing::warn!(%file, line, "tax lookup hit quarantined data");
        }
        LookupError::SourceIncomplete { file, line } => {
            tracing::warn!(%file, line, "tax lookup refused: source file incomplete");
        }
        LookupError::SubjectInvalid(_) | LookupError::BadRequest(_) | LookupError::NotFound => {}
    }
    error
}

/// The certificate number: derived from taxpayer, tax and year only, so asking twice gives the
/// same number. FNV-1a over the three, reduced to 10 digits.
pub fn certificate_number(taxpayer: &NationalId, kind: TaxKind, tax_year_roc: u16) -> String {
    let word = match kind {
        TaxKind::HouseTax => "房",
        TaxKind::LandValueTax => "地",
        TaxKind::LicenceTax | TaxKind::Unspecified => "牌",
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let input = format!(
        "{}|{}|{tax_year_roc}",
        taxpayer.as_str(),
        kind.as_str_name()
    );
    for byte in input.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!(
        "{tax_year_roc:03}{word}繳字第{:010}號",
        hash % 10_000_000_000
    )
}

impl TaxService {
    /// A service answering from `source`.
    pub fn new(source: Arc<TaxSource>) -> Self {
        Self { source }
    }

    /// The source behind the service.
    pub fn source(&self) -> &TaxSource {
        &self.source
    }

    /// `ListIncome` without the gRPC wrapping.
    pub fn list_income(
        &self,
        request: &ListIncomeRequest,
    ) -> Result<ListIncomeResponse, LookupError> {
        let subject = subject(&request.national_id)?;
        let year = year(
            request.income_year_roc,
            "income_year_roc must be a ROC year, 1–999",
        )?;
        let found = self
            .source
            .find(FileKind::Income, &subject, year, None)
            .map_err(logged)?;
        let mut response = ListIncomeResponse {
            income_year_roc: u32::from(year),
            earner_national_id: subject.as_str().to_owned(),
            ..Default::default()
        };
        if let Some(found) = found {
            response.items = found.items::<IncomeItem>().map_err(logged)?;
            found.name.clone_into(&mut response.earner_name);
        }
        Ok(response)
    }

    /// `ListProperty` without the gRPC wrapping.
    pub fn list_property(
        &self,
        request: &ListPropertyRequest,
    ) -> Result<ListPropertyResponse, LookupError> {
        let subject = subject(&request.national_id)?;
        let year = year(request.year_roc, "year_roc must be a ROC year, 1–999")?;
        let found = self
            .source
            .find(FileKind::Property, &subject, year, None)
            .map_err(logged)?;
        let mut response = ListPropertyResponse {
            year_roc: u32::from(year),
            owner_national_id: subject.as_str().to_owned(),
            ..Default::default()
        };
        if let Some(found) = found {
            response.items = found.items::<PropertyItem>().map_err(logged)?;
            found.name.clone_into(&mut response.owner_name);
        }
        Ok(response)
    }

    /// `GetTaxPaymentCertificate` without the gRPC wrapping.
    pub fn payment_certificate(
        &self,
        request: &GetTaxPaymentCertificateRequest,
    ) -> Result<TaxPaymentCertificate, LookupError> {
        let subject = subject(&request.national_id)?;
        let kind = TaxKind::try_from(request.kind)
            .ok()
            .filter(|k| *k != TaxKind::Unspecified)
            .ok_or(LookupError::BadRequest("kind must be a known tax kind"))?;
        let year = year(
            request.tax_year_roc,
            "tax_year_roc must be a ROC year, 1–999",
        )?;
        let found = self
            .source
            .find(FileKind::Payments, &subject, year, Some(kind))
            .map_err(logged)?
            .ok_or(LookupError::NotFound)?;
        let payments = found.items::<TaxPayment>().map_err(logged)?;
        let total_paid = payments
            .iter()
            .try_fold(0i64, |sum, p| sum.checked_add(p.amount_paid))
            .ok_or_else(|| {
                logged(LookupError::SourceMalformed {
                    file: FileKind::Payments,
                    line: 0,
                })
            })?;
        Ok(TaxPaymentCertificate {
            certificate_number: certificate_number(&subject, kind, year),
            taxpayer_name: found.name.to_owned(),
            taxpayer_national_id: subject.as_str().to_owned(),
            kind: kind.into(),
            tax_year_roc: u32::from(year),
            payments,
            total_paid,
        })
    }
}

#[tonic::async_trait]
impl TaxRegistry for TaxService {
    async fn list_income(
        &self,
        request: Request<ListIncomeRequest>,
    ) -> Result<Response<ListIncomeResponse>, Status> {
        Ok(Response::new(TaxService::list_income(
            self,
            request.get_ref(),
        )?))
    }

    async fn list_property(
        &self,
        request: Request<ListPropertyRequest>,
    ) -> Result<Response<ListPropertyResponse>, Status> {
        Ok(Response::new(TaxService::list_property(
            self,
            request.get_ref(),
        )?))
    }

    async fn get_tax_payment_certificate(
        &self,
        request: Request<GetTaxPaymentCertificateRequest>,
    ) -> Result<Response<TaxPaymentCertificate>, Status> {
        Ok(Response::new(self.payment_certificate(request.get_ref())?))
    }
}
