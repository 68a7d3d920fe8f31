//! Where the register is read: one [`LandStore`] trait, a SQLite and a PostgreSQL
//! implementation, and [`AnyStore`] choosing between them from the configured URL.
//!
//! Stores return raw rows (column → text, NULL kept apart from empty); turning them into
//! messages, and refusing malformed ones, is [`crate::records`]'s job.

mod postgres;
mod sqlite;

use std::future::Future;

pub use postgres::PostgresStore;
pub(crate) use postgres::{connect_client as postgres_connect, parse_url as postgres_config};
pub use sqlite::SqliteStore;

/// One row as the source holds it: legacy text per column, `None` for SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    table: &'static str,
    columns: &'static [&'static str],
    values: Vec<Option<String>>,
    unreadable: Option<&'static str>,
}

impl Row {
    /// A row of `table` with `values` for `columns` (same length, same order).
    pub fn new(
        table: &'static str,
        columns: &'static [&'static str],
        values: Vec<Option<String>>,
    ) -> Row {
        debug_assert_eq!(columns.len(), values.len());
        Row {
            table,
            columns,
            values,
            unreadable: None,
        }
    }

    /// Marks `column` as holding a value that is not text (a BLOB, invalid UTF-8, a typed
    /// column): the row is malformed.
    pub fn mark_unreadable(&mut self, column: &'static str) {
        self.unreadable.get_or_insert(column);
    }

    /// The first column whose value could not be read as text, if any.
    pub fn unreadable(&self) -> Option<&'static str> {
        self.unreadable
    }

    /// The table the row comes from.
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// The value of `column`: `None` if NULL or not selected.
    pub fn get(&self, column: &str) -> Option<&str> {
        let index = self.columns.iter().position(|c| *c == column)?;
        self.values.get(index)?.as_deref()
    }
}

/// Everything the register holds under one parcel key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParcelRows {
    /// The 標示部 row, if any.
    pub description: Option<Row>,
    /// 所有權部 rows in register order.
    pub owners: Vec<Row>,
    /// 他項權利部 rows in register order.
    pub encumbrances: Vec<Row>,
}

impl ParcelRows {
    /// No row at all under the key.
    pub fn is_empty(&self) -> bool {
        self.description.is_none() && self.owners.is_empty() && self.encumbrances.is_empty()
    }
}

/// The key as the database stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// `UNIT`: land office code.
    pub unit: String,
    /// `SEC`: section code.
    pub section: String,
    /// `PARCEL_NO`: 8 digits, parent and child number without the hyphen.
    pub parcel_no: String,
}

/// The source could not be read: unreachable, gone, or refusing the query.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (connection refused, broken, or query error).
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The configuration does not name a usable database.
    #[error("{0}")]
    Config(String),
    /// A table the adapter reads is not there.
    #[error("table {table} missing")]
    MissingTable {
        /// The table.
        table: &'static str,
    },
    /// A table lacks a column the adapter reads.
    #[error("table {table} lacks a column the adapter reads: {detail}")]
    Columns {
        /// The table.
        table: &'static str,
        /// What the database said.
        detail: String,
    },
    /// A blocking worker died.
    #[error("worker failed: {0}")]
    Worker(String),
}

/// What a scan of every ownership entry's owner ID found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerIdScan {
    /// Ownership entries read.
    pub rows: u64,
    /// Entries whose owner ID the check refused: they cannot be attributed to anyone.
    pub unattributable: u64,
    /// Key (`UNIT/SEC/PARCEL_NO/RSEQ`) of the first such entry.
    pub first: Option<String>,
}

impl OwnerIdScan {
    pub(crate) fn add(&mut self, key: impl FnOnce() -> String, attributable: bool) {
        self.rows += 1;
        if !attributable {
            self.unattributable += 1;
            if self.first.is_none() {
                self.first = Some(key());
            }
        }
    }
}

/// Read access to the land register.
pub trait LandStore: Send + Sync + 'static {
    /// Every row under `key` (empty if the register has none).
    fn parcel(
        &self,
        key: &StoredKey,
    ) -> impl Future<Output = Result<ParcelRows, StoreError>> + Send;

    /// Every ownership entry of the owner with ID `owner_id`, joined with its parcel's
    /// description ([`crate::schema::HOLDING_COLUMNS`]), in key order.
    fn holdings(&self, owner_id: &str)
    -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// Reads every ownership entry's `OWNER_ID` (streaming) and counts those `attributable`
    /// refuses (it gets the raw value, `None` for NULL).
    fn scan_owner_ids(
        &self,
        attributable: fn(Option<&str>) -> bool,
    ) -> impl Future<Output = Result<OwnerIdScan, StoreError>> + Send;
}

/// SQLite or PostgreSQL, chosen by the configured `database` string.
#[derive(Debug)]
pub enum AnyStore {
    /// `sqlite:PATH`.
    Sqlite(SqliteStore),
    /// `postgres://…` or `postgresql://…`.
    Postgres(Box<PostgresStore>),
}

impl AnyStore {
    /// Opens `database` (`sqlite:PATH` or a PostgreSQL URL) with `pool_size` connections and
    /// checks that every table and column is there.
    pub async fn open(database: &str, pool_size: usize) -> Result<AnyStore, StoreError> {
        if let Some(path) = database.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Config("sqlite: needs a file path".into()));
            }
            Ok(AnyStore::Sqlite(SqliteStore::open(path, pool_size).await?))
        } else if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            Ok(AnyStore::Postgres(Box::new(
                PostgresStore::open(database, pool_size).await?,
            )))
        } else {
            Err(StoreError::Config(
                "expected `sqlite:PATH` or a `postgres://` URL".into(),
            ))
        }
    }
}

/// The configured database as it may be shown in errors and logs: a SQLite path as given, a
/// PostgreSQL URL without its password and options.
pub fn describe_database(database: &str) -> String {
    if database.starts_with("sqlite:") {
        return database.to_owned();
    }
    let Ok(config) = database.parse::<tokio_postgres::Config>() else {
        return "an unparsable database URL".to_owned();
    };
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[allow(unreachable_patterns)]
        Some(_) => "(socket)".to_owned(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

impl LandStore for AnyStore {
    async fn parcel(&self, key: &StoredKey) -> Result<ParcelRows, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.parcel(key).await,
            AnyStore::Postgres(s) => s.parcel(key).await,
        }
    }

    async fn holdings(&self, owner_id: &str) -> Result<Vec<Row>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.holdings(owner_id).await,
            AnyStore::Postgres(s) => s.holdings(owner_id).await,
        }
    }

    async fn scan_owner_ids(
        &self,
        attributable: fn(Option<&str>) -> bool,
    ) -> Result<OwnerIdScan, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.scan_owner_ids(attributable).await,
            AnyStore::Postgres(s) => s.scan_owner_ids(attributable).await,
        }
    }
}
