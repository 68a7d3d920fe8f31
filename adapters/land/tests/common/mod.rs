//! Test fixtures: a seeded land database in SQLite or in a throw-away PostgreSQL schema, a
//! metrics recorder and a log capture for the whole test binary, and the expected messages
//! built from the synthetic register (independently of the adapter's mapping).

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tongdao_adapter_land::seed;
use tongdao_adapter_land::{AnyStore, LandMapping, LandService};
use tongdao_schemas::land::v1 as pb;
use tongdao_synth::registers::{EncumbranceKind, LandRegister, Owner, Parcel, Registers};
use tongdao_synth::{Population, RocDate};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server tests use (`TONGDAO_TEST_POSTGRES_URL`, else the local default).
pub fn postgres_url() -> String {
    std::env::var("TONGDAO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into())
}

/// The shipped mapping.
pub fn mapping() -> Arc<LandMapping> {
    Arc::new(LandMapping::shipped().expect("the shipped mapping"))
}

/// A generated register (cached per seed and size).
pub fn generated(seed: u64, households: usize) -> (Population, LandRegister) {
    let population = Population::generate(seed, households);
    let land = Registers::generate(&population).land;
    assert!(
        !land.parcels.is_empty(),
        "the synthetic generator produced no parcels for {households} households"
    );
    (population, land)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A seeded database and the service over it.
pub struct Fixture {
    pub backend: Backend,
    /// `sqlite:PATH` or the PostgreSQL URL with the schema in `options`.
    pub database: String,
    pub sqlite_path: Option<PathBuf>,
    pub schema: Option<String>,
    pub service: LandService<AnyStore>,
    _dir: Option<tempfile::TempDir>,
}

static SCHEMA_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Whether PostgreSQL can be used; without it tests skip, unless `CI` is set (then they fail).
pub async fn postgres_available() -> bool {
    let config: tokio_postgres::Config = postgres_url().parse().expect("test URL");
    match config.connect(tokio_postgres::NoTls).await {
        Ok(_) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL at {} is required in CI: {e}", postgres_url())
        }
        Err(e) => {
            eprintln!(
                "skipping: PostgreSQL at {} unavailable: {e}",
                postgres_url()
            );
            false
        }
    }
}

/// The URL with `search_path` set to `schema`.
pub fn url_with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

impl Fixture {
    /// Seeds `register` into `backend`; `None` if PostgreSQL is wanted but absent outside CI.
    pub async fn new(backend: Backend, register: &LandRegister) -> Option<Fixture> {
        Self::with_pool(backend, register, 2).await
    }

    pub async fn with_pool(
        backend: Backend,
        register: &LandRegister,
        pool_size: usize,
    ) -> Option<Fixture> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("land.sqlite");
                let summary = seed::write_sqlite(register, &path).expect("seed sqlite");
                assert_eq!(summary.parcels, register.parcels.len());
                let database = format!("sqlite:{}", path.display());
                let store = AnyStore::open(&database, pool_size).await.expect("open");
                Some(Fixture {
                    backend,
                    database,
                    sqlite_path: Some(path),
                    schema: None,
                    service: LandService::new(Arc::new(store), mapping()),
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                if !postgres_available().await {
                    return None;
                }
                let schema = format!(
                    "land_test_{}_{}",
                    std::process::id(),
                    SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                let summary = seed::write_postgres(register, &postgres_url(), Some(&schema))
                    .await
                    .expect("seed postgres");
                assert_eq!(summary.parcels, register.parcels.len());
                let database = url_with_schema(&postgres_url(), &schema);
                let store = AnyStore::open(&database, pool_size).await.expect("open");
                Some(Fixture {
                    backend,
                    database,
                    sqlite_path: None,
                    schema: Some(schema),
                    service: LandService::new(Arc::new(store), mapping()),
                    _dir: None,
                })
            }
        }
    }

    /// Runs `sql` against the seeded database (to break rows on purpose).
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let path = self.sqlite_path.clone().expect("sqlite path");
                let connection = rusqlite::Connection::open(path).expect("open rw");
                connection.execute_batch(sql).expect("tamper");
            }
            Backend::Postgres => {
                let config: tokio_postgres::Config = self.database.parse().expect("url");
                let (client, connection) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(connection);
                client.batch_execute(sql).await.expect("tamper");
            }
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(schema) = self.schema.take() {
            // Best effort: a leftover schema only costs space in the test database.
            let url = postgres_url();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async move {
                    let config: tokio_postgres::Config = url.parse().ok()?;
                    let (client, connection) = config.connect(tokio_postgres::NoTls).await.ok()?;
                    tokio::spawn(connection);
                    client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

// ---- expected messages, straight from the synthetic model ----------------------------------

pub fn date(d: RocDate) -> pb::RocDate {
    pb::RocDate {
        year: u32::from(d.year()),
        month: u32::from(d.month()),
        day: u32::from(d.day()),
    }
}

pub fn key(parcel: &Parcel) -> pb::ParcelKey {
    pb::ParcelKey {
        land_office_code: parcel.key.land_office_code.clone(),
        section_code: parcel.key.section_code.clone(),
        parcel_number: parcel.key.parcel_number.clone(),
    }
}

pub fn expected_parcel(parcel: &Parcel) -> pb::Parcel {
    pb::Parcel {
        key: Some(key(parcel)),
        description: Some(pb::ParcelDescription {
            registered_on: Some(date(parcel.registered_on)),
            registration_reason: parcel.registration_reason.into(),
            area_cm2: parcel.area_cm2,
            land_use_zone: parcel.land_use_zone.into(),
            land_use_class: parcel.land_use_class.into(),
            announced_current_value_per_m2: parcel.announced_current_value_per_m2,
            announced_land_price_per_m2: parcel.announced_land_price_per_m2,
            county: parcel.county.into(),
            district: parcel.district.into(),
            section_name: parcel.section_name.clone(),
            building_count: parcel.building_count,
        }),
        owners: parcel
            .owners
            .iter()
            .map(|o| {
                let (name, id, address, kind) = match &o.owner {
                    Owner::Person {
                        national_id,
                        name,
                        address,
                    } => (
                        name.clone(),
                        national_id.to_string(),
                        address.clone(),
                        pb::OwnerKind::NaturalPerson,
                    ),
                    Owner::Company {
                        business_number,
                        name,
                        address,
                    } => (
                        name.clone(),
                        business_number.to_string(),
                        address.clone(),
                        pb::OwnerKind::JuristicPerson,
                    ),
                    Owner::Public { name } => (
                        (*name).to_owned(),
                        String::new(),
                        String::new(),
                        pb::OwnerKind::PublicOwner,
                    ),
                };
                pb::Ownership {
                    register_sequence: o.register_sequence.clone(),
                    registered_on: Some(date(o.registered_on)),
                    registration_reason: o.registration_reason.into(),
                    reason_date: Some(date(o.reason_date)),
                    owner_name: name,
                    owner_id: id,
                    owner_address: address,
                    owner_kind: kind as i32,
                    share_numerator: o.share_numerator,
                    share_denominator: o.share_denominator,
                    declared_land_price_per_m2: o.declared_land_price_per_m2,
                    previous_transfer_value_per_m2: o.previous_transfer_value_per_m2,
                    previous_transfer_on: Some(date(o.previous_transfer_on)),
                }
            })
            .collect(),
        encumbrances: parcel
            .encumbrances
            .iter()
            .map(|e| pb::Encumbrance {
                register_sequence: e.register_sequence.clone(),
                kind: match e.kind {
                    EncumbranceKind::Mortgage => pb::EncumbranceKind::Mortgage,
                    EncumbranceKind::MaximumAmountMortgage => {
                        pb::EncumbranceKind::MaximumAmountMortgage
                    }
                    EncumbranceKind::Superficies => pb::EncumbranceKind::Superficies,
                } as i32,
                registered_on: Some(date(e.registered_on)),
                registration_reason: e.registration_reason.into(),
                holder_name: e.holder_name.clone(),
                holder_id: e.holder_business_number.to_string(),
                secured_amount: e.secured_amount,
                due_on: Some(date(e.due_on)),
                share_numerator: e.share_numerator,
                share_denominator: e.share_denominator,
                encumbered_sequences: e.encumbered_sequences.clone(),
            })
            .collect(),
    }
}

/// Every person owner's expected holdings, by national ID, in key order.
pub fn expected_holdings(register: &LandRegister) -> HashMap<String, Vec<pb::Holding>> {
    let mut out: HashMap<String, Vec<pb::Holding>> = HashMap::new();
    for parcel in &register.parcels {
        for o in &parcel.owners {
            if let Owner::Person { national_id, .. } = &o.owner {
                out.entry(national_id.to_string())
                    .or_default()
                    .push(pb::Holding {
                        key: Some(key(parcel)),
                        county: parcel.county.into(),
                        district: parcel.district.into(),
                        section_name: parcel.section_name.clone(),
                        area_cm2: parcel.area_cm2,
                        land_use_zone: parcel.land_use_zone.into(),
                        announced_current_value_per_m2: parcel.announced_current_value_per_m2,
                        register_sequence: o.register_sequence.clone(),
                        share_numerator: o.share_numerator,
                        share_denominator: o.share_denominator,
                        registered_on: Some(date(o.registered_on)),
                    });
            }
        }
    }
    out
}

// ---- metrics and logs for the whole binary -------------------------------------------------

#[derive(Default)]
struct Recorder {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

fn render(key: &metrics::Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl metrics::Recorder for Recorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let counter = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(render(key))
            .or_default()
            .clone();
        metrics::Counter::from_arc(counter)
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

struct Observed {
    recorder: &'static Recorder,
    log: Arc<Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn observed() -> &'static Observed {
    static OBSERVED: OnceLock<Observed> = OnceLock::new();
    OBSERVED.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::default());
        metrics::set_global_recorder(recorder).expect("one recorder per test binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        Observed { recorder, log }
    })
}

/// Installs the recorder and log capture (call before anything is counted or logged).
pub fn observe() {
    observed();
}

/// `tongdao_adapter_source_malformed_total{adapter="land", reason}` so far.
pub fn malformed_count(reason: &str) -> u64 {
    let key = format!("tongdao_adapter_source_malformed_total{{adapter=land,reason={reason}}}");
    observed()
        .recorder
        .counters
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .map_or(0, |c| c.load(Ordering::Relaxed))
}

/// Everything logged at INFO and above so far.
pub fn log_text() -> String {
    String::from_utf8_lossy(
        &observed()
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned()
}
