//! The `tongdao.land.v1.LandRegistry` gRPC service over a [`LandStore`].
//!
//! Validates the subject before touching the source, reads, maps, and refuses with a
//! [`Rejection`] whatever cannot be served whole.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tongdao_core::ids::NationalId;
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::land::v1::land_registry_server::LandRegistry;
use tongdao_schemas::land::v1::{
    GetParcelRequest, ListHoldingsRequest, ListHoldingsResponse, Parcel, ParcelKey,
};
use tonic::{Request, Response, Status};

use crate::records::{self, LandMapping, RecordError};
use crate::store::{LandStore, OwnerIdScan, StoreError, StoredKey};

/// Why a lookup produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The subject (parcel key or national ID) is not valid.
    #[error("subject invalid: {0}")]
    SubjectInvalid(String),
    /// No such parcel.
    #[error("no such parcel")]
    NotFound,
    /// A source row the request needs is malformed.
    #[error("source record malformed: {0}")]
    SourceMalformed(RecordError),
    /// Nothing was found, but the register has ownership entries whose owner ID is malformed
    /// and might be the subject's, so absence cannot be confirmed.
    #[error("absence cannot be confirmed: {unattributable} unattributable ownership entries")]
    SourceIncomplete {
        /// How many.
        unattributable: u64,
    },
    /// The database could not be read.
    #[error("source unavailable: {0}")]
    SourceUnavailable(#[from] StoreError),
}

impl LookupError {
    /// The caller-facing refusal: no IDs, no table names, no database details.
    pub fn to_rejection(&self) -> Rejection {
        match self {
            LookupError::SubjectInvalid(what) => {
                Rejection::new(Reason::SubjectInvalid, what.clone())
            }
            LookupError::NotFound => Rejection::new(
                Reason::RecordNotFound,
                "the land register has no parcel with that key",
            ),
            LookupError::SourceMalformed(_) => Rejection::new(
                Reason::SourceRecordMalformed,
                "the land register's record for this request is malformed at the source; the \
                 land office has to correct it",
            ),
            LookupError::SourceIncomplete { .. } => Rejection::new(
                Reason::SourceRecordMalformed,
                "the land register has ownership entries whose owner ID is malformed, so the \
                 absence of holdings can be neither confirmed nor ruled out; the land office has \
                 to correct them",
            ),
            LookupError::SourceUnavailable(_) => Rejection::new(
                Reason::AdapterUnavailable,
                "the land register database cannot be read right now; retry later",
            ),
        }
    }
}

impl From<LookupError> for Status {
    fn from(error: LookupError) -> Self {
        error.to_rejection().into_status()
    }
}

/// Logs a malformed record (table, key, column; never the value) and counts it.
fn malformed(error: RecordError) -> LookupError {
    tracing::warn!(
        table = error.table,
        key = %error.key,
        column = %error.column,
        reason = error.reason,
        "land source record malformed; refused"
    );
    metrics::counter!(
        "tongdao_adapter_source_malformed_total",
        "adapter" => "land",
        "reason" => error.reason
    )
    .increment(1);
    LookupError::SourceMalformed(error)
}

fn unavailable(error: StoreError) -> LookupError {
    tracing::error!(%error, "land register database unavailable");
    LookupError::SourceUnavailable(error)
}

/// Checks a requested parcel key's shape: office 2 uppercase letters, section 4 digits,
/// number `NNNN-NNNN`.
pub fn validate_key(key: Option<&ParcelKey>) -> Result<StoredKey, LookupError> {
    let key = key.ok_or_else(|| LookupError::SubjectInvalid("key is required".into()))?;
    let key = tongdao_core::ids::ParcelKey::new(
        &key.land_office_code,
        &key.section_code,
        &key.parcel_number,
    )
    .map_err(|error| LookupError::SubjectInvalid(format!("key.{error}")))?;
    let (parent, child) = key.number();
    Ok(StoredKey {
        unit: key.office().to_owned(),
        section: key.section().to_owned(),
        parcel_no: format!("{parent}{child}"),
    })
}

/// What the last owner-ID scan found: entries no request can be sure are not the subject's.
#[derive(Debug, Default)]
struct Unattributable {
    count: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Unattributable {
    fn set(&self, scan: &OwnerIdScan) {
        *self.first.lock().unwrap_or_else(PoisonError::into_inner) = scan.first.clone();
        self.count.store(scan.unattributable, Ordering::Relaxed);
    }

    fn first(&self) -> String {
        self.first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default()
    }
}

async fn rescan<S: LandStore>(
    store: &S,
    unattributable: &Unattributable,
) -> Result<OwnerIdScan, StoreError> {
    let start = Instant::now();
    let scan = store.scan_owner_ids(records::owner_id_attributable).await?;
    unattributable.set(&scan);
    if scan.unattributable > 0 {
        tracing::warn!(
            table = crate::schema::OWNERSHIP_TABLE,
            column = "OWNER_ID",
            first_key = scan.first.as_deref().unwrap_or(""),
            unattributable = scan.unattributable,
            rows = scan.rows,
            "ownership entries with malformed owner IDs: empty ListHoldings answers cannot be \
             confirmed until they are corrected"
        );
    } else {
        tracing::info!(
            rows = scan.rows,
            elapsed_ms = start.elapsed().as_millis() as u64,
            "land register owner IDs scanned; all attributable"
        );
    }
    Ok(scan)
}

/// The gRPC service. Cheap to clone: the store is shared.
#[derive(Debug)]
pub struct LandService<S> {
    store: Arc<S>,
    mapping: Arc<LandMapping>,
    unattributable: Arc<Unattributable>,
}

impl<S> Clone for LandService<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            mapping: self.mapping.clone(),
            unattributable: self.unattributable.clone(),
        }
    }
}

impl<S: LandStore> LandService<S> {
    /// A service answering from `store`, mapping rows with `mapping`. Until
    /// [`LandService::rescan_owner_ids`] runs, every owner ID counts as attributable.
    pub fn new(store: Arc<S>, mapping: Arc<LandMapping>) -> Self {
        Self {
            store,
            mapping,
            unattributable: Arc::default(),
        }
    }

    /// Scans every ownership entry's owner ID; while some cannot be attributed (malformed,
    /// checksum wrong, padded), a ListHoldings that finds nothing answers
    /// `SOURCE_RECORD_MALFORMED` instead of an empty list.
    pub async fn rescan_owner_ids(&self) -> Result<OwnerIdScan, StoreError> {
        rescan(self.store.as_ref(), &self.unattributable).await
    }

    /// Rescans every `every` in the background, until the service's store is dropped.
    pub fn spawn_rescans(&self, every: Duration) {
        let store: Weak<S> = Arc::downgrade(&self.store);
        let unattributable = self.unattributable.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                let Some(store) = store.upgrade() else {
                    return;
                };
                if let Err(error) = rescan(store.as_ref(), &unattributable).await {
                    tracing::warn!(%error, "land register owner-ID rescan failed");
                }
            }
        });
    }

    /// The store behind the service.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// GetParcel without the gRPC wrapping.
    pub async fn parcel(&self, key: Option<&ParcelKey>) -> Result<Parcel, LookupError> {
        let stored = validate_key(key)?;
        let rows = self.store.parcel(&stored).await.map_err(unavailable)?;
        if rows.is_empty() {
            return Err(LookupError::NotFound);
        }
        let key = key.cloned().unwrap_or_default();
        records::parcel(&self.mapping, key, &rows).map_err(malformed)
    }

    /// ListHoldings without the gRPC wrapping.
    pub async fn holdings(&self, national_id: &str) -> Result<ListHoldingsResponse, LookupError> {
        let subject: NationalId = national_id.parse().map_err(|e| {
            LookupError::SubjectInvalid(format!("national_id is not a valid national ID ({e})"))
        })?;
        let rows = self
            .store
            .holdings(subject.as_str())
            .await
            .map_err(unavailable)?;
        let holdings = rows
            .iter()
            .map(|row| records::holding(&self.mapping, row))
            .collect::<Result<Vec<_>, _>>()
            .map_err(malformed)?;
        let unattributable = self.unattributable.count.load(Ordering::Relaxed);
        if holdings.is_empty() && unattributable > 0 {
            tracing::warn!(
                table = crate::schema::OWNERSHIP_TABLE,
                column = "OWNER_ID",
                first_key = %self.unattributable.first(),
                unattributable,
                "ListHoldings found nothing while some owner IDs are unattributable; refused"
            );
            metrics::counter!(
                "tongdao_adapter_source_malformed_total",
                "adapter" => "land",
                "reason" => "unattributable_owner_id"
            )
            .increment(1);
            return Err(LookupError::SourceIncomplete { unattributable });
        }
        Ok(ListHoldingsResponse { holdings })
    }
}

#[tonic::async_trait]
impl<S: LandStore> LandRegistry for LandService<S> {
    async fn get_parcel(
        &self,
        request: Request<GetParcelRequest>,
    ) -> Result<Response<Parcel>, Status> {
        let request = request.into_inner();
        Ok(Response::new(self.parcel(request.key.as_ref()).await?))
    }

    async fn list_holdings(
        &self,
        request: Request<ListHoldingsRequest>,
    ) -> Result<Response<ListHoldingsResponse>, Status> {
        let request = request.into_inner();
        Ok(Response::new(self.holdings(&request.national_id).await?))
    }
}
