//! The land office database's tables (`FORMAT.md`): names, columns and the DDL that creates
//! them. Reader and seed writer agree on this layout and nothing else: each side formats or
//! parses the legacy text values on its own.

/// 土地標示部: one row per parcel.
pub const DESCRIPTION_TABLE: &str = "RALID";
/// 土地所有權部: one row per ownership entry.
pub const OWNERSHIP_TABLE: &str = "RBLOW";
/// 土地他項權利部: one row per encumbrance.
pub const ENCUMBRANCE_TABLE: &str = "RCLOR";

/// Columns of [`DESCRIPTION_TABLE`], in DDL order.
pub const DESCRIPTION_COLUMNS: &[&str] = &[
    "UNIT",
    "SEC",
    "PARCEL_NO",
    "SEC_NAME",
    "COUNTY",
    "TOWN",
    "REG_DATE",
    "REG_REASON",
    "AREA",
    "ZONE",
    "LAND_CLASS",
    "CUR_VALUE",
    "LAND_PRICE",
    "BLDG_CNT",
];

/// Columns of [`OWNERSHIP_TABLE`], in DDL order.
pub const OWNERSHIP_COLUMNS: &[&str] = &[
    "UNIT",
    "SEC",
    "PARCEL_NO",
    "RSEQ",
    "REG_DATE",
    "REG_REASON",
    "REASON_DATE",
    "OWNER_NAME",
    "OWNER_ID",
    "OWNER_ADDR",
    "RIGHT_SCOPE",
    "DECL_PRICE",
    "PREV_VALUE",
    "PREV_YM",
];

/// Columns of [`ENCUMBRANCE_TABLE`], in DDL order.
pub const ENCUMBRANCE_COLUMNS: &[&str] = &[
    "UNIT",
    "SEC",
    "PARCEL_NO",
    "RSEQ",
    "RIGHT_TYPE",
    "REG_DATE",
    "REG_REASON",
    "HOLDER_NAME",
    "HOLDER_ID",
    "AMOUNT",
    "DUE_DATE",
    "RIGHT_SCOPE",
    "TARGET_RSEQ",
];

/// Every table with its columns.
pub const TABLES: &[(&str, &[&str])] = &[
    (DESCRIPTION_TABLE, DESCRIPTION_COLUMNS),
    (OWNERSHIP_TABLE, OWNERSHIP_COLUMNS),
    (ENCUMBRANCE_TABLE, ENCUMBRANCE_COLUMNS),
];

/// `CREATE TABLE` for `table`: every column `TEXT`, the key columns `NOT NULL`, a primary key
/// on the parcel key (plus `RSEQ` below the description). Valid in SQLite and PostgreSQL.
pub fn create_table(table: &str, columns: &[&str]) -> String {
    let key: &[&str] = if table == DESCRIPTION_TABLE {
        &["UNIT", "SEC", "PARCEL_NO"]
    } else {
        &["UNIT", "SEC", "PARCEL_NO", "RSEQ"]
    };
    let cols: Vec<String> = columns
        .iter()
        .map(|c| {
            if key.contains(c) {
                format!("{c} TEXT NOT NULL")
            } else {
                format!("{c} TEXT")
            }
        })
        .collect();
    format!(
        "CREATE TABLE {table} ({}, PRIMARY KEY ({}))",
        cols.join(", "),
        key.join(", ")
    )
}

/// The index `ListHoldings` needs: ownership entries by owner ID.
pub const CREATE_OWNER_INDEX: &str = "CREATE INDEX RBLOW_OWNER_ID ON RBLOW (OWNER_ID)";

// ---- the queries the adapter runs (`$n` placeholders; SQLite gets `?n`) ----------------------

pub(crate) fn select_by_parcel(table: &str, columns: &[&str], ordered: bool) -> String {
    format!(
        "SELECT {} FROM {table} WHERE UNIT = $1 AND SEC = $2 AND PARCEL_NO = $3{}",
        columns.join(", "),
        if ordered { " ORDER BY RSEQ" } else { "" }
    )
}

/// Columns of a holdings row: the ownership entry and its parcel's description (`D_*`, all
/// NULL when the description is missing).
pub const HOLDING_COLUMNS: &[&str] = &[
    "UNIT",
    "SEC",
    "PARCEL_NO",
    "RSEQ",
    "REG_DATE",
    "RIGHT_SCOPE",
    "D_UNIT",
    "D_SEC_NAME",
    "D_COUNTY",
    "D_TOWN",
    "D_AREA",
    "D_ZONE",
    "D_CUR_VALUE",
];

pub(crate) const SELECT_HOLDINGS: &str = "SELECT o.UNIT, o.SEC, o.PARCEL_NO, o.RSEQ, o.REG_DATE, \
     o.RIGHT_SCOPE, d.UNIT, d.SEC_NAME, d.COUNTY, d.TOWN, d.AREA, d.ZONE, d.CUR_VALUE \
     FROM RBLOW o LEFT JOIN RALID d \
     ON d.UNIT = o.UNIT AND d.SEC = o.SEC AND d.PARCEL_NO = o.PARCEL_NO \
     WHERE o.OWNER_ID = $1 ORDER BY o.UNIT, o.SEC, o.PARCEL_NO, o.RSEQ";

/// `SELECT <columns> FROM <table> WHERE 1 = 0`: fails if the table or a column is missing.
pub(crate) fn probe(table: &str, columns: &[&str]) -> String {
    format!("SELECT {} FROM {table} WHERE 1 = 0", columns.join(", "))
}

/// `$n` → `?n` for SQLite.
pub(crate) fn sqlite_placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Every ownership entry's key and owner ID (the unattributable-owner scan).
pub(crate) const SELECT_OWNER_IDS: &str = "SELECT UNIT, SEC, PARCEL_NO, RSEQ, OWNER_ID FROM RBLOW";
