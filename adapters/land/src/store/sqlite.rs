//! The embedded default: a SQLite file, read through a small pool of read-only connections on
//! blocking worker threads.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::{LandStore, OwnerIdScan, ParcelRows, Row, StoreError, StoredKey};
use crate::schema::{self, DESCRIPTION_COLUMNS, ENCUMBRANCE_COLUMNS, OWNERSHIP_COLUMNS};

static DESCRIPTION_SQL: LazyLock<String> = LazyLock::new(|| {
    schema::sqlite_placeholders(&schema::select_by_parcel(
        schema::DESCRIPTION_TABLE,
        DESCRIPTION_COLUMNS,
        false,
    ))
});
static OWNERS_SQL: LazyLock<String> = LazyLock::new(|| {
    schema::sqlite_placeholders(&schema::select_by_parcel(
        schema::OWNERSHIP_TABLE,
        OWNERSHIP_COLUMNS,
        true,
    ))
});
static ENCUMBRANCES_SQL: LazyLock<String> = LazyLock::new(|| {
    schema::sqlite_placeholders(&schema::select_by_parcel(
        schema::ENCUMBRANCE_TABLE,
        ENCUMBRANCE_COLUMNS,
        true,
    ))
});
static HOLDINGS_SQL: LazyLock<String> =
    LazyLock::new(|| schema::sqlite_placeholders(schema::SELECT_HOLDINGS));

/// A SQLite land register opened read-only.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl SqliteStore {
    /// Opens `pool_size` (at least 1) read-only connections to the file at `path` and checks
    /// its tables.
    pub async fn open(path: impl AsRef<Path>, pool_size: usize) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let size = pool_size.max(1);
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || -> Result<Vec<Connection>, StoreError> {
                if !path.is_file() {
                    return Err(StoreError::Config(format!(
                        "sqlite: {} is not a file",
                        path.display()
                    )));
                }
                let first = open_connection(&path)?;
                check_schema(&first)?;
                let mut connections = vec![first];
                for _ in 1..size {
                    connections.push(open_connection(&path)?);
                }
                Ok(connections)
            })
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))??
        };
        Ok(SqliteStore {
            path,
            idle: Arc::new(Mutex::new(opened)),
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    /// Runs `work` on a pooled connection on a blocking thread. A connection that failed is
    /// dropped and replaced by a fresh one next time (the file may have been replaced).
    async fn with_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        // The permit travels with the work: a request abandoned at its deadline still holds
        // its connection until the query ends, so at most `pool_size` queries ever run.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?;
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let idle = self.idle.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut connection = match pooled {
                Some(connection) => connection,
                None => open_connection(&path)?,
            };
            let result = work(&mut connection);
            if result.is_ok() {
                idle.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(connection);
            }
            result.map_err(StoreError::from)
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }
}

fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(Duration::from_secs(5))?;
    Ok(connection)
}

fn check_schema(connection: &Connection) -> Result<(), StoreError> {
    for (table, columns) in schema::TABLES {
        let exists: i64 = connection.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
            [table],
            |row| row.get(0),
        )?;
        if exists == 0 {
            return Err(StoreError::MissingTable { table });
        }
        connection
            .prepare(&schema::probe(table, columns))
            .map_err(|e| StoreError::Columns {
                table,
                detail: e.to_string(),
            })?;
    }
    Ok(())
}

fn query(
    connection: &Connection,
    sql: &str,
    table: &'static str,
    columns: &'static [&'static str],
    params: &[&str],
) -> Result<Vec<Row>, rusqlite::Error> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        let mut unreadable = None;
        for (index, column) in columns.iter().enumerate() {
            let value = match row.get_ref(index)? {
                ValueRef::Null => None,
                ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => Some(text.to_owned()),
                    Err(_) => {
                        unreadable.get_or_insert(*column);
                        None
                    }
                },
                // TEXT affinity turns numbers into text on insert; these only come from a
                // column declared otherwise.
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(_) | ValueRef::Blob(_) => {
                    unreadable.get_or_insert(*column);
                    None
                }
            };
            values.push(value);
        }
        let mut row = Row::new(table, columns, values);
        if let Some(column) = unreadable {
            row.mark_unreadable(column);
        }
        out.push(row);
    }
    Ok(out)
}

impl LandStore for SqliteStore {
    async fn parcel(&self, key: &StoredKey) -> Result<ParcelRows, StoreError> {
        let key = key.clone();
        self.with_connection(move |connection| {
            // One read transaction: the three parts come from one snapshot.
            let tx = connection.transaction()?;
            let params = [key.unit.as_str(), &key.section, &key.parcel_no];
            let description = query(
                &tx,
                &DESCRIPTION_SQL,
                schema::DESCRIPTION_TABLE,
                DESCRIPTION_COLUMNS,
                &params,
            )?
            .into_iter()
            .next();
            let owners = query(
                &tx,
                &OWNERS_SQL,
                schema::OWNERSHIP_TABLE,
                OWNERSHIP_COLUMNS,
                &params,
            )?;
            let encumbrances = query(
                &tx,
                &ENCUMBRANCES_SQL,
                schema::ENCUMBRANCE_TABLE,
                ENCUMBRANCE_COLUMNS,
                &params,
            )?;
            tx.finish()?;
            Ok(ParcelRows {
                description,
                owners,
                encumbrances,
            })
        })
        .await
    }

    async fn holdings(&self, owner_id: &str) -> Result<Vec<Row>, StoreError> {
        let owner_id = owner_id.to_owned();
        self.with_connection(move |connection| {
            query(
                connection,
                &HOLDINGS_SQL,
                schema::OWNERSHIP_TABLE,
                schema::HOLDING_COLUMNS,
                &[owner_id.as_str()],
            )
        })
        .await
    }

    async fn scan_owner_ids(
        &self,
        attributable: fn(Option<&str>) -> bool,
    ) -> Result<OwnerIdScan, StoreError> {
        self.with_connection(move |connection| {
            let mut statement = connection.prepare_cached(schema::SELECT_OWNER_IDS)?;
            let mut rows = statement.query([])?;
            let mut scan = OwnerIdScan::default();
            while let Some(row) = rows.next()? {
                let text = |i: usize| match row.get_ref(i) {
                    Ok(ValueRef::Text(bytes)) => Ok(std::str::from_utf8(bytes).ok()),
                    Ok(ValueRef::Null) => Ok(None),
                    Ok(_) => Ok(Some("\u{fffd}")),
                    Err(e) => Err(e),
                };
                let id = match row.get_ref(4)? {
                    ValueRef::Null => Some(None),
                    ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok().map(Some),
                    _ => None,
                };
                let ok = id.is_some_and(attributable);
                scan.add(
                    || {
                        let part = |i| text(i).ok().flatten().unwrap_or("").to_owned();
                        format!("{}/{}/{}/{}", part(0), part(1), part(2), part(3))
                    },
                    ok,
                );
            }
            Ok(scan)
        })
        .await
    }
}
