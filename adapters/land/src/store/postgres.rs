//! PostgreSQL: a fixed pool of `pool_size` connections, each with the adapter's statements
//! prepared; a connection found closed is replaced on next use. Requests share connections
//! (tokio-postgres pipelines them).
//!
//! The schema holding the tables is chosen the PostgreSQL way, in the URL:
//! `postgres://user@host/db?options=-c%20search_path%3Dland`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_postgres::{Client, NoTls, Statement};

use futures::TryStreamExt;

use super::{LandStore, OwnerIdScan, ParcelRows, Row, StoreError, StoredKey};
use crate::schema::{self, DESCRIPTION_COLUMNS, ENCUMBRANCE_COLUMNS, OWNERSHIP_COLUMNS};

/// A PostgreSQL land register.
pub struct PostgresStore {
    config: tokio_postgres::Config,
    slots: Vec<tokio::sync::Mutex<Option<Arc<Connection>>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool_size", &self.slots.len())
            .finish_non_exhaustive()
    }
}

struct Connection {
    client: Client,
    description: Statement,
    owners: Statement,
    encumbrances: Statement,
    holdings: Statement,
}

/// Parses a PostgreSQL URL, with a 5 s connect timeout unless it sets one.
pub(crate) fn parse_url(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Config(format!("postgres URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    Ok(config)
}

/// Connects and spawns the connection's driver task.
pub(crate) async fn connect_client(
    config: &tokio_postgres::Config,
) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "land: postgres connection closed");
        }
    });
    Ok(client)
}

fn db_message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_owned())
}

impl PostgresStore {
    /// Connects `pool_size` (at least 1) connections and checks the tables.
    pub async fn open(url: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        let config = parse_url(url)?;
        let size = pool_size.max(1);
        let probe = connect_client(&config).await?;
        for (table, columns) in schema::TABLES {
            probe
                .prepare(&schema::probe(table, columns))
                .await
                .map_err(|e| {
                    if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
                        StoreError::MissingTable { table }
                    } else {
                        StoreError::Columns {
                            table,
                            detail: db_message(&e),
                        }
                    }
                })?;
        }
        drop(probe);
        let mut slots = Vec::with_capacity(size);
        for _ in 0..size {
            let connection = Self::connect(&config).await?;
            slots.push(tokio::sync::Mutex::new(Some(Arc::new(connection))));
        }
        Ok(PostgresStore {
            config,
            slots,
            next: AtomicUsize::new(0),
        })
    }

    async fn connect(config: &tokio_postgres::Config) -> Result<Connection, StoreError> {
        let client = connect_client(config).await?;
        let description = client
            .prepare(&schema::select_by_parcel(
                schema::DESCRIPTION_TABLE,
                DESCRIPTION_COLUMNS,
                false,
            ))
            .await?;
        let owners = client
            .prepare(&schema::select_by_parcel(
                schema::OWNERSHIP_TABLE,
                OWNERSHIP_COLUMNS,
                true,
            ))
            .await?;
        let encumbrances = client
            .prepare(&schema::select_by_parcel(
                schema::ENCUMBRANCE_TABLE,
                ENCUMBRANCE_COLUMNS,
                true,
            ))
            .await?;
        let holdings = client.prepare(schema::SELECT_HOLDINGS).await?;
        Ok(Connection {
            client,
            description,
            owners,
            encumbrances,
            holdings,
        })
    }

    /// The next connection round-robin, reconnected if it was closed.
    async fn connection(&self) -> Result<Arc<Connection>, StoreError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[index].lock().await;
        if let Some(connection) = slot.as_ref()
            && !connection.client.is_closed()
        {
            return Ok(connection.clone());
        }
        *slot = None;
        let connection = Arc::new(Self::connect(&self.config).await?);
        *slot = Some(connection.clone());
        Ok(connection)
    }
}

fn to_rows(
    rows: Vec<tokio_postgres::Row>,
    table: &'static str,
    columns: &'static [&'static str],
) -> Vec<Row> {
    rows.into_iter()
        .map(|row| {
            let mut unreadable = None;
            let values = columns
                .iter()
                .enumerate()
                .map(|(index, column)| {
                    row.try_get::<_, Option<String>>(index).unwrap_or_else(|_| {
                        unreadable.get_or_insert(*column);
                        None
                    })
                })
                .collect();
            let mut row = Row::new(table, columns, values);
            if let Some(column) = unreadable {
                row.mark_unreadable(column);
            }
            row
        })
        .collect()
}

impl LandStore for PostgresStore {
    async fn parcel(&self, key: &StoredKey) -> Result<ParcelRows, StoreError> {
        let connection = self.connection().await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&key.unit, &key.section, &key.parcel_no];
        let (description, owners, encumbrances) = futures::future::try_join3(
            connection.client.query(&connection.description, &params),
            connection.client.query(&connection.owners, &params),
            connection.client.query(&connection.encumbrances, &params),
        )
        .await?;
        Ok(ParcelRows {
            description: to_rows(description, schema::DESCRIPTION_TABLE, DESCRIPTION_COLUMNS)
                .into_iter()
                .next(),
            owners: to_rows(owners, schema::OWNERSHIP_TABLE, OWNERSHIP_COLUMNS),
            encumbrances: to_rows(encumbrances, schema::ENCUMBRANCE_TABLE, ENCUMBRANCE_COLUMNS),
        })
    }

    async fn holdings(&self, owner_id: &str) -> Result<Vec<Row>, StoreError> {
        let connection = self.connection().await?;
        let rows = connection
            .client
            .query(&connection.holdings, &[&owner_id])
            .await?;
        Ok(to_rows(
            rows,
            schema::OWNERSHIP_TABLE,
            schema::HOLDING_COLUMNS,
        ))
    }

    async fn scan_owner_ids(
        &self,
        attributable: fn(Option<&str>) -> bool,
    ) -> Result<OwnerIdScan, StoreError> {
        let connection = self.connection().await?;
        let rows = connection
            .client
            .query_raw(schema::SELECT_OWNER_IDS, std::iter::empty::<&str>())
            .await?;
        futures::pin_mut!(rows);
        let mut scan = OwnerIdScan::default();
        while let Some(row) = rows.try_next().await? {
            let ok = row.try_get::<_, Option<&str>>(4).is_ok_and(attributable);
            scan.add(
                || {
                    let part = |i| {
                        row.try_get::<_, Option<String>>(i)
                            .ok()
                            .flatten()
                            .unwrap_or_default()
                    };
                    format!("{}/{}/{}/{}", part(0), part(1), part(2), part(3))
                },
                ok,
            );
        }
        Ok(scan)
    }
}
