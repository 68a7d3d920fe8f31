//! Rows → `tongdao.land.v1` messages through the declarative mapping (`mapping.toml`), plus
//! what a mapping cannot say: the parcel key's shape, the kind of owner from the shape of its ID
//! and the ID's checksum, register sequences, `PREV_YM` (`YYYMM`), `TARGET_RSEQ` (a list), and
//! the checks across the rows of a parcel. A value that does not parse makes the whole record
//! malformed, and the caller gets none of it.
//!
//! The seed writer formats the legacy values independently of this reading side.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use tongdao_adapter_sdk::mapping::{Mapping, RecordMapping, RowError, SourceRow};
use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_schemas::land::v1::{
    Encumbrance, Holding, OwnerKind, Ownership, Parcel, ParcelDescription, ParcelKey, RocDate,
};

use crate::schema::{DESCRIPTION_TABLE, OWNERSHIP_TABLE};
use crate::store::{ParcelRows, Row};

/// The shipped mapping (`adapters/land/mapping.toml`).
pub const SHIPPED_MAPPING: &str = include_str!("../mapping.toml");

/// The four record mappings the adapter needs, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct LandMapping {
    description: RecordMapping,
    ownership: RecordMapping,
    encumbrance: RecordMapping,
    holding: RecordMapping,
}

impl LandMapping {
    /// The shipped mapping.
    pub fn shipped() -> Result<LandMapping, Vec<String>> {
        Self::parse("adapters/land/mapping.toml", SHIPPED_MAPPING)
    }

    /// A mapping file replacing the shipped one (`[adapters.land] mapping`).
    pub fn load(path: &Path) -> Result<LandMapping, Vec<String>> {
        let mapping = Mapping::load(path).map_err(|e| e.0)?;
        Self::resolve(&path.display().to_string(), &mapping)
    }

    /// Parses `text`; errors are `origin:line: message`.
    pub fn parse(origin: &str, text: &str) -> Result<LandMapping, Vec<String>> {
        let mapping = Mapping::parse(origin, text).map_err(|e| e.0)?;
        Self::resolve(origin, &mapping)
    }

    fn resolve(origin: &str, mapping: &Mapping) -> Result<LandMapping, Vec<String>> {
        let mut problems = Vec::new();
        let mut record = |name: &str, message: &str| match mapping.record(name) {
            Some(record) if record.message_name() == message => Some(record.clone()),
            Some(record) => {
                problems.push(format!(
                    "{origin}: [records.{name}] must map onto {message}, not {}",
                    record.message_name()
                ));
                None
            }
            None => {
                problems.push(format!(
                    "{origin}: [records.{name}] (onto {message}) is missing"
                ));
                None
            }
        };
        let description = record("description", "tongdao.land.v1.ParcelDescription");
        let ownership = record("ownership", "tongdao.land.v1.Ownership");
        let encumbrance = record("encumbrance", "tongdao.land.v1.Encumbrance");
        let holding = record("holding", "tongdao.land.v1.Holding");
        match (description, ownership, encumbrance, holding) {
            (Some(description), Some(ownership), Some(encumbrance), Some(holding)) => {
                Ok(LandMapping {
                    description,
                    ownership,
                    encumbrance,
                    holding,
                })
            }
            _ => Err(problems),
        }
    }
}

impl SourceRow for Row {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(Cow::Borrowed)
    }
}

/// What the adapter's own checks find wrong (the mapping's converters report theirs as
/// [`tongdao_adapter_sdk::mapping::RowProblem`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A required value is NULL or blank.
    Missing,
    /// Not a real ROC month `YYYMM`.
    BadDate,
    /// A national ID or business number whose checksum fails.
    IdChecksum,
    /// An owner or holder ID of no known shape.
    IdShape,
    /// The row's key is not `UNIT` 2 letters, `SEC` 4 digits, `PARCEL_NO` 8 digits.
    BadKey,
    /// A register sequence not of the table's shape.
    BadSequence,
    /// A value that is not text (BLOB, invalid UTF-8).
    NotText,
    /// Ownership or encumbrance rows without the parcel's description (標示部).
    MissingDescription,
    /// The ownership shares of the parcel do not add up to exactly 1.
    ShareTotal,
    /// An encumbrance names an ownership entry the parcel does not have.
    DanglingTarget,
}

impl Problem {
    /// The `reason` label of `tongdao_adapter_source_malformed_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::BadDate => "bad_date",
            Problem::IdChecksum => "id_checksum",
            Problem::IdShape => "id_shape",
            Problem::BadKey => "bad_parcel_key",
            Problem::BadSequence => "bad_register_sequence",
            Problem::NotText => "not_text",
            Problem::MissingDescription => "missing_description",
            Problem::ShareTotal => "share_total",
            Problem::DanglingTarget => "dangling_target",
        }
    }
}

/// A malformed source record: where (table, key, column) and why. Never holds the value
/// itself (it may be a national ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The table.
    pub table: &'static str,
    /// The row's key, `UNIT/SEC/PARCEL_NO[/RSEQ]`.
    pub key: String,
    /// The column.
    pub column: String,
    /// Snake-case reason, the metric's label (`bad_date`, `bad_share`, `id_checksum` …).
    pub reason: &'static str,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} column {}: {}",
            self.table, self.key, self.column, self.reason
        )
    }
}

impl std::error::Error for RecordError {}

/// A row being read: every accessor names the column in the error it returns.
struct Fields<'a> {
    row: &'a Row,
}

impl<'a> Fields<'a> {
    fn new(row: &'a Row) -> Result<Fields<'a>, RecordError> {
        let fields = Fields { row };
        if let Some(column) = row.unreadable() {
            return Err(fields.error(column, Problem::NotText));
        }
        Ok(fields)
    }

    fn key(&self) -> String {
        let part = |c: &str| self.row.get(c).unwrap_or("").trim().to_owned();
        let mut key = format!("{}/{}/{}", part("UNIT"), part("SEC"), part("PARCEL_NO"));
        if let Some(seq) = self.row.get("RSEQ") {
            key.push('/');
            key.push_str(seq.trim());
        }
        key
    }

    fn error(&self, column: &str, problem: Problem) -> RecordError {
        RecordError {
            table: self.row.table(),
            key: self.key(),
            column: column.to_owned(),
            reason: problem.reason(),
        }
    }

    /// A mapping error: the column it names, the converter's reason. Columns of the joined
    /// description (`D_*`) are reported against the description's table and key.
    fn mapped(&self, error: &RowError) -> RecordError {
        match error.source_ref.strip_prefix("D_") {
            Some(column) => RecordError {
                table: DESCRIPTION_TABLE,
                key: self
                    .key()
                    .rsplit_once('/')
                    .map_or_else(String::new, |(k, _)| k.to_owned()),
                column: column.to_owned(),
                reason: error.problem.reason(),
            },
            None => RecordError {
                table: self.row.table(),
                key: self.key(),
                column: error.source_ref.clone(),
                reason: error.problem.reason(),
            },
        }
    }

    fn required(&self, column: &'static str) -> Result<&'a str, RecordError> {
        match self.row.get(column).map(str::trim) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(self.error(column, Problem::Missing)),
        }
    }

    fn optional(&self, column: &'static str) -> Option<&'a str> {
        self.row
            .get(column)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }

    fn parse_optional<T>(
        &self,
        column: &'static str,
        problem: Problem,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, RecordError> {
        self.optional(column)
            .map(|value| parse(value).ok_or_else(|| self.error(column, problem)))
            .transpose()
    }

    /// `UNIT`, `SEC`, `PARCEL_NO` as a message key.
    fn parcel_key(&self) -> Result<ParcelKey, RecordError> {
        let unit = self.required("UNIT")?;
        let section = self.required("SEC")?;
        let number = self.required("PARCEL_NO")?;
        if !is_land_office(unit) {
            return Err(self.error("UNIT", Problem::BadKey));
        }
        if !is_digits(section, 4) {
            return Err(self.error("SEC", Problem::BadKey));
        }
        if !is_digits(number, 8) {
            return Err(self.error("PARCEL_NO", Problem::BadKey));
        }
        Ok(ParcelKey {
            land_office_code: unit.to_owned(),
            section_code: section.to_owned(),
            parcel_number: format!("{}-{}", &number[..4], &number[4..]),
        })
    }
}

/// 標示部 → description.
pub fn description(mapping: &LandMapping, row: &Row) -> Result<ParcelDescription, RecordError> {
    let f = Fields::new(row)?;
    mapping.description.apply_to(row).map_err(|e| f.mapped(&e))
}

/// 所有權部 → ownership entry. The owner's kind follows from the shape of `OWNER_ID`.
pub fn ownership(mapping: &LandMapping, row: &Row) -> Result<Ownership, RecordError> {
    let f = Fields::new(row)?;
    let mut ownership: Ownership = mapping.ownership.apply_to(row).map_err(|e| f.mapped(&e))?;
    if !is_digits(&ownership.register_sequence, 4) {
        return Err(f.error("RSEQ", Problem::BadSequence));
    }
    let kind = owner_kind(&ownership.owner_id).map_err(|p| f.error("OWNER_ID", p))?;
    ownership.owner_kind = kind as i32;
    ownership.previous_transfer_on = f.parse_optional("PREV_YM", Problem::BadDate, roc_month)?;
    Ok(ownership)
}

/// 他項權利部 → encumbrance.
pub fn encumbrance(mapping: &LandMapping, row: &Row) -> Result<Encumbrance, RecordError> {
    let f = Fields::new(row)?;
    let mut encumbrance: Encumbrance = mapping
        .encumbrance
        .apply_to(row)
        .map_err(|e| f.mapped(&e))?;
    let sequence = encumbrance.register_sequence.as_str();
    let well_formed = sequence.len() == 8
        && sequence.as_bytes()[4] == b'-'
        && is_digits(&sequence[..4], 4)
        && is_digits(&sequence[5..], 3);
    if !well_formed {
        return Err(f.error("RSEQ", Problem::BadSequence));
    }
    if !encumbrance.holder_id.is_empty() {
        owner_kind(&encumbrance.holder_id).map_err(|p| f.error("HOLDER_ID", p))?;
    }
    if let Some(list) = f.optional("TARGET_RSEQ") {
        encumbrance.encumbered_sequences = list
            .split(',')
            .map(|s| {
                let s = s.trim();
                is_digits(s, 4)
                    .then(|| s.to_owned())
                    .ok_or_else(|| f.error("TARGET_RSEQ", Problem::BadSequence))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(encumbrance)
}

/// A holdings row (ownership entry joined with its description) → holding.
pub fn holding(mapping: &LandMapping, row: &Row) -> Result<Holding, RecordError> {
    let f = Fields::new(row)?;
    if f.optional("D_UNIT").is_none() {
        return Err(f.error("PARCEL_NO", Problem::MissingDescription));
    }
    let key = f.parcel_key()?;
    let mut holding: Holding = mapping.holding.apply_to(row).map_err(|e| f.mapped(&e))?;
    if !is_digits(&holding.register_sequence, 4) {
        return Err(f.error("RSEQ", Problem::BadSequence));
    }
    holding.key = Some(key);
    Ok(holding)
}

/// Every row under one key → the parcel, after checking the parts agree: the description
/// exists, the shares add up to exactly 1, every encumbered sequence exists.
pub fn parcel(
    mapping: &LandMapping,
    key: ParcelKey,
    rows: &ParcelRows,
) -> Result<Parcel, RecordError> {
    let Some(description_row) = &rows.description else {
        let orphan = rows.owners.first().or(rows.encumbrances.first());
        return Err(match orphan {
            Some(row) => Fields { row }.error("PARCEL_NO", Problem::MissingDescription),
            None => RecordError {
                table: DESCRIPTION_TABLE,
                key: String::new(),
                column: "PARCEL_NO".into(),
                reason: Problem::MissingDescription.reason(),
            },
        });
    };
    let description = description(mapping, description_row)?;
    let owners = rows
        .owners
        .iter()
        .map(|row| ownership(mapping, row))
        .collect::<Result<Vec<_>, _>>()?;
    let encumbrances = rows
        .encumbrances
        .iter()
        .map(|row| encumbrance(mapping, row))
        .collect::<Result<Vec<_>, _>>()?;
    let whole = Fields {
        row: description_row,
    };
    if !shares_make_one(
        owners
            .iter()
            .map(|o| (o.share_numerator, o.share_denominator)),
    ) {
        return Err(RecordError {
            table: OWNERSHIP_TABLE,
            ..whole.error("RIGHT_SCOPE", Problem::ShareTotal)
        });
    }
    for (row, encumbrance) in rows.encumbrances.iter().zip(&encumbrances) {
        let dangling = encumbrance
            .encumbered_sequences
            .iter()
            .any(|seq| !owners.iter().any(|o| &o.register_sequence == seq));
        if dangling {
            return Err(Fields { row }.error("TARGET_RSEQ", Problem::DanglingTarget));
        }
    }
    Ok(Parcel {
        key: Some(key),
        description: Some(description),
        owners,
        encumbrances,
    })
}

// ---- the legacy value formats --------------------------------------------------------------

fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// Land office code: 2 uppercase ASCII letters.
pub(crate) fn is_land_office(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn digits_value(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn real_date(year: u32, month: u32, day: u32) -> Option<RocDate> {
    if year == 0 || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let gregorian = year + 1911;
    let leap = gregorian.is_multiple_of(4)
        && (!gregorian.is_multiple_of(100) || gregorian.is_multiple_of(400));
    let days = match month {
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 31,
    };
    (day <= days).then_some(RocDate { year, month, day })
}

/// `YYYMM` (前次移轉年月) → the first of that month.
pub(crate) fn roc_month(s: &str) -> Option<RocDate> {
    if s.len() != 5 {
        return None;
    }
    real_date(digits_value(&s[..3])?, digits_value(&s[3..])?, 1)
}

/// The kind of owner an ID's shape says: none → public; a national or resident ID (checksum
/// checked) → natural person; 8 digits (checksum checked) → juristic person; an old-style
/// resident number (`[A-Z][A-D]\d{8}`, shape only) → foreign owner.
pub(crate) fn owner_kind(id: &str) -> Result<OwnerKind, Problem> {
    let bytes = id.as_bytes();
    if id.is_empty() {
        return Ok(OwnerKind::PublicOwner);
    }
    if bytes.len() == 10
        && bytes[0].is_ascii_uppercase()
        && bytes[2..].iter().all(u8::is_ascii_digit)
    {
        return match bytes[1] {
            b'1' | b'2' | b'8' | b'9' => NationalId::from_str(id)
                .map(|_| OwnerKind::NaturalPerson)
                .map_err(|_| Problem::IdChecksum),
            b'A'..=b'D' => Ok(OwnerKind::ForeignOwner),
            _ => Err(Problem::IdShape),
        };
    }
    if bytes.len() == 8 && bytes.iter().all(u8::is_ascii_digit) {
        return BusinessNumber::from_str(id)
            .map(|_| OwnerKind::JuristicPerson)
            .map_err(|_| Problem::IdChecksum);
    }
    Err(Problem::IdShape)
}

/// Whether a raw `OWNER_ID` can be attributed: NULL or blank (a public owner), or exactly the
/// canonical text of a valid ID (no surrounding spaces, checksum right). An ID that fails this
/// might be anyone's, so the absence of holdings cannot be confirmed while such rows exist.
pub fn owner_id_attributable(raw: Option<&str>) -> bool {
    match raw {
        None => true,
        Some(raw) if raw.trim().is_empty() => true,
        Some(raw) => raw.trim() == raw && owner_kind(raw).is_ok(),
    }
}

/// Σ n/d == 1 exactly (false on overflow or an empty list).
fn shares_make_one(shares: impl Iterator<Item = (u64, u64)>) -> bool {
    fn gcd(mut a: u128, mut b: u128) -> u128 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    let (mut num, mut den): (u128, u128) = (0, 1);
    let mut any = false;
    for (n, d) in shares {
        any = true;
        let (n, d) = (u128::from(n), u128::from(d));
        let Some(next_den) = den.checked_mul(d) else {
            return false;
        };
        let Some(next_num) = num
            .checked_mul(d)
            .and_then(|a| n.checked_mul(den).and_then(|b| a.checked_add(b)))
        else {
            return false;
        };
        let g = gcd(next_num, next_den).max(1);
        (num, den) = (next_num / g, next_den / g);
    }
    any && num == den
}

#[cfg(test)]
mod tests;
