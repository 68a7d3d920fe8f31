//! Writes a synthetic [`LandRegister`] into the land office database (`FORMAT.md`), in SQLite
//! or PostgreSQL: drops the old tables, creates them, loads every row and builds the owner
//! index, all in one transaction.
//!
//! The legacy text formats are written here independently of the reader's parsing
//! ([`crate::records`]), so a bug on one side cannot hide in the other.

use std::path::Path;

use bytes::{BufMut, BytesMut};
use futures::SinkExt;
use tongdao_synth::registers::{EncumbranceKind, LandRegister, Owner, Parcel};
use tongdao_synth::roc::RocDate;

use crate::schema::{
    self, DESCRIPTION_COLUMNS, DESCRIPTION_TABLE, ENCUMBRANCE_COLUMNS, ENCUMBRANCE_TABLE,
    OWNERSHIP_COLUMNS, OWNERSHIP_TABLE,
};

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// 標示部 rows.
    pub parcels: usize,
    /// 所有權部 rows.
    pub ownerships: usize,
    /// 他項權利部 rows.
    pub encumbrances: usize,
}

/// Why seeding failed; nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The PostgreSQL URL or schema name is unusable.
    #[error("{0}")]
    Config(String),
    /// A value of the register cannot be written in the legacy format.
    #[error("parcel {parcel}: {problem}")]
    Unrepresentable {
        /// The parcel's key.
        parcel: String,
        /// What cannot be written.
        problem: String,
    },
}

type Values = Vec<Option<String>>;

// ---- legacy formatting (independent of the reader) -----------------------------------------

fn yyymmdd(date: RocDate) -> String {
    format!("{:03}{:02}{:02}", date.year(), date.month(), date.day())
}

fn yyymm(date: RocDate) -> String {
    format!("{:03}{:02}", date.year(), date.month())
}

fn right_scope(numerator: u64, denominator: u64) -> String {
    if numerator == 1 && denominator == 1 {
        "全部".to_owned()
    } else {
        format!("{numerator}/{denominator}")
    }
}

fn square_metres(parcel: &str, cm2: i64) -> Result<String, SeedError> {
    if cm2 <= 0 || cm2 % 100 != 0 {
        return Err(SeedError::Unrepresentable {
            parcel: parcel.to_owned(),
            problem: format!("area {cm2} cm² is not a positive whole number of 0.01 m²"),
        });
    }
    Ok(format!("{}.{:02}", cm2 / 10_000, (cm2 % 10_000) / 100))
}

fn right_type(kind: EncumbranceKind) -> &'static str {
    match kind {
        EncumbranceKind::Mortgage => "01",
        EncumbranceKind::MaximumAmountMortgage => "02",
        EncumbranceKind::Superficies => "03",
    }
}

/// `0001-0001` → `00010001`.
fn stored_number(parcel: &Parcel) -> Result<String, SeedError> {
    let number = &parcel.key.parcel_number;
    match number.split_once('-') {
        Some((parent, child))
            if parent.len() == 4
                && child.len() == 4
                && parent
                    .bytes()
                    .chain(child.bytes())
                    .all(|b| b.is_ascii_digit()) =>
        {
            Ok(format!("{parent}{child}"))
        }
        _ => Err(SeedError::Unrepresentable {
            parcel: label(parcel),
            problem: "parcel number is not NNNN-NNNN".into(),
        }),
    }
}

fn label(parcel: &Parcel) -> String {
    format!(
        "{}/{}/{}",
        parcel.key.land_office_code, parcel.key.section_code, parcel.key.parcel_number
    )
}

/// The rows of one parcel: (標示部, 所有權部 rows, 他項權利部 rows).
fn parcel_rows(parcel: &Parcel) -> Result<(Values, Vec<Values>, Vec<Values>), SeedError> {
    let unit = parcel.key.land_office_code.clone();
    let sec = parcel.key.section_code.clone();
    let number = stored_number(parcel)?;
    let text = |s: &str| Some(s.to_owned());
    let description = vec![
        Some(unit.clone()),
        Some(sec.clone()),
        Some(number.clone()),
        text(&parcel.section_name),
        text(parcel.county),
        text(parcel.district),
        Some(yyymmdd(parcel.registered_on)),
        text(parcel.registration_reason),
        Some(square_metres(&label(parcel), parcel.area_cm2)?),
        text(parcel.land_use_zone),
        text(parcel.land_use_class),
        Some(parcel.announced_current_value_per_m2.to_string()),
        Some(parcel.announced_land_price_per_m2.to_string()),
        Some(parcel.building_count.to_string()),
    ];
    let owners = parcel
        .owners
        .iter()
        .map(|o| {
            let (name, id, address) = match &o.owner {
                Owner::Person {
                    national_id,
                    name,
                    address,
                } => (name.as_str(), Some(national_id.to_string()), text(address)),
                Owner::Company {
                    business_number,
                    name,
                    address,
                } => (
                    name.as_str(),
                    Some(business_number.to_string()),
                    text(address),
                ),
                Owner::Public { name } => (*name, None, None),
            };
            vec![
                Some(unit.clone()),
                Some(sec.clone()),
                Some(number.clone()),
                text(&o.register_sequence),
                Some(yyymmdd(o.registered_on)),
                text(o.registration_reason),
                Some(yyymmdd(o.reason_date)),
                text(name),
                id,
                address,
                Some(right_scope(o.share_numerator, o.share_denominator)),
                Some(o.declared_land_price_per_m2.to_string()),
                Some(o.previous_transfer_value_per_m2.to_string()),
                Some(yyymm(o.previous_transfer_on)),
            ]
        })
        .collect();
    let encumbrances = parcel
        .encumbrances
        .iter()
        .map(|e| {
            vec![
                Some(unit.clone()),
                Some(sec.clone()),
                Some(number.clone()),
                text(&e.register_sequence),
                text(right_type(e.kind)),
                Some(yyymmdd(e.registered_on)),
                text(e.registration_reason),
                text(&e.holder_name),
                Some(e.holder_business_number.to_string()),
                Some(e.secured_amount.to_string()),
                Some(yyymmdd(e.due_on)),
                Some(right_scope(e.share_numerator, e.share_denominator)),
                Some(e.encumbered_sequences.join(",")),
            ]
        })
        .collect();
    Ok((description, owners, encumbrances))
}

fn insert_sql(table: &str, columns: &[&str], placeholder: impl Fn(usize) -> String) -> String {
    let marks: Vec<String> = (1..=columns.len()).map(placeholder).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        marks.join(", ")
    )
}

// ---- SQLite --------------------------------------------------------------------------------

/// Writes `register` into the SQLite file at `path` (created if absent; the land tables are
/// replaced, other tables left alone).
pub fn write_sqlite(register: &LandRegister, path: &Path) -> Result<SeedSummary, SeedError> {
    let mut connection = rusqlite::Connection::open(path)?;
    connection.pragma_update(None, "cache_size", -65_536)?;
    let tx = connection.transaction()?;
    for (table, columns) in schema::TABLES {
        tx.execute(&format!("DROP TABLE IF EXISTS {table}"), [])?;
        tx.execute(&schema::create_table(table, columns), [])?;
    }
    let mut summary = SeedSummary::default();
    {
        let mut descriptions =
            tx.prepare(&insert_sql(DESCRIPTION_TABLE, DESCRIPTION_COLUMNS, |i| {
                format!("?{i}")
            }))?;
        let mut owners = tx.prepare(&insert_sql(OWNERSHIP_TABLE, OWNERSHIP_COLUMNS, |i| {
            format!("?{i}")
        }))?;
        let mut encumbrances =
            tx.prepare(&insert_sql(ENCUMBRANCE_TABLE, ENCUMBRANCE_COLUMNS, |i| {
                format!("?{i}")
            }))?;
        for parcel in &register.parcels {
            let (description, owner_rows, encumbrance_rows) = parcel_rows(parcel)?;
            descriptions.execute(rusqlite::params_from_iter(description))?;
            summary.parcels += 1;
            for row in owner_rows {
                owners.execute(rusqlite::params_from_iter(row))?;
                summary.ownerships += 1;
            }
            for row in encumbrance_rows {
                encumbrances.execute(rusqlite::params_from_iter(row))?;
                summary.encumbrances += 1;
            }
        }
    }
    tx.execute(schema::CREATE_OWNER_INDEX, [])?;
    tx.commit()?;
    Ok(summary)
}

// ---- PostgreSQL ----------------------------------------------------------------------------

/// Writes `register` into PostgreSQL at `url`, in `schema` (created if absent) or else the
/// URL's `search_path`, with `COPY`.
pub async fn write_postgres(
    register: &LandRegister,
    url: &str,
    schema: Option<&str>,
) -> Result<SeedSummary, SeedError> {
    let config =
        crate::store::postgres_config(url).map_err(|e| SeedError::Config(e.to_string()))?;
    let mut client = crate::store::postgres_connect(&config).await?;
    if let Some(schema) = schema {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(SeedError::Config(format!(
                "schema name {schema:?}: use lowercase letters, digits and _"
            )));
        }
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
            ))
            .await?;
    }
    let tx = client.transaction().await?;
    for (table, columns) in schema::TABLES {
        tx.batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; {}",
            schema::create_table(table, columns)
        ))
        .await?;
    }
    let mut summary = SeedSummary::default();
    for (table, columns) in schema::TABLES {
        let sink = tx
            .copy_in(&format!("COPY {table} ({}) FROM STDIN", columns.join(", ")))
            .await?;
        futures::pin_mut!(sink);
        let mut buffer = BytesMut::with_capacity(1 << 20);
        for parcel in &register.parcels {
            let (description, owners, encumbrances) = parcel_rows(parcel)?;
            let rows = match *table {
                DESCRIPTION_TABLE => vec![description],
                OWNERSHIP_TABLE => owners,
                _ => encumbrances,
            };
            for row in rows {
                copy_line(&mut buffer, &row);
                match *table {
                    DESCRIPTION_TABLE => summary.parcels += 1,
                    OWNERSHIP_TABLE => summary.ownerships += 1,
                    _ => summary.encumbrances += 1,
                }
            }
            if buffer.len() >= 1 << 20 {
                sink.send(buffer.split().freeze()).await?;
            }
        }
        if !buffer.is_empty() {
            sink.send(buffer.split().freeze()).await?;
        }
        sink.finish().await?;
    }
    tx.batch_execute(schema::CREATE_OWNER_INDEX).await?;
    tx.batch_execute("ANALYZE RALID; ANALYZE RBLOW; ANALYZE RCLOR")
        .await?;
    tx.commit().await?;
    Ok(summary)
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_line(buffer: &mut BytesMut, row: &[Option<String>]) {
    for (index, value) in row.iter().enumerate() {
        if index > 0 {
            buffer.put_u8(b'\t');
        }
        match value {
            None => buffer.put_slice(b"\\N"),
            Some(text) => {
                for byte in text.bytes() {
                    match byte {
                        b'\\' => buffer.put_slice(b"\\\\"),
                        b'\t' => buffer.put_slice(b"\\t"),
                        b'\n' => buffer.put_slice(b"\\n"),
                        b'\r' => buffer.put_slice(b"\\r"),
                        other => buffer.put_u8(other),
                    }
                }
            }
        }
    }
    buffer.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_formats() {
        let date = RocDate::new(76, 2, 21).expect("valid");
        assert_eq!(yyymmdd(date), "0760221");
        assert_eq!(yyymm(date), "07602");
        assert_eq!(right_scope(1, 1), "全部");
        assert_eq!(right_scope(3, 8), "3/8");
        assert_eq!(square_metres("k", 1_234_500).expect("exact"), "123.45");
        assert_eq!(square_metres("k", 800_000).expect("exact"), "80.00");
        assert_eq!(square_metres("k", 100).expect("exact"), "0.01");
        assert!(square_metres("k", 150).is_err());
        assert!(square_metres("k", 0).is_err());
    }

    #[test]
    fn copy_escapes() {
        let mut buffer = BytesMut::new();
        copy_line(
            &mut buffer,
            &[Some("a\tb\\c\nd".into()), None, Some(String::new())],
        );
        assert_eq!(&buffer[..], b"a\\tb\\\\c\\nd\t\\N\t\n");
    }
}
