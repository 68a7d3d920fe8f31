//! Rows → `tongdao.land.v1` messages, refusing any row that is not exactly what `FORMAT.md`
//! says. Nothing here guesses: a value that does not parse makes the whole record malformed,
//! and the caller gets none of it.
//!
//! The legacy text formats (ROC dates `YYYMMDD`, shares `n/d` or `全部`, areas as decimal m²)
//! are parsed here and only here; the seed writer formats them independently.

use std::fmt;
use std::str::FromStr;

use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_schemas::land::v1::{
    Encumbrance, EncumbranceKind, Holding, OwnerKind, Ownership, Parcel, ParcelDescription,
    ParcelKey, RocDate,
};

use crate::store::{ParcelRows, Row};

/// What is wrong with a source value. [`Problem::reason`] is the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A required value is NULL or blank.
    Missing,
    /// Not a real ROC date (`YYYMMDD`, or `YYMMDD` before year 100; `YYYMM` for months).
    BadDate,
    /// Not `n/d` with 1 ≤ n ≤ d, nor `全部`.
    BadShare,
    /// Not a positive decimal number of m² with at most 2 decimals.
    BadArea,
    /// Not a non-negative decimal integer in range.
    BadNumber,
    /// A national ID or business number whose checksum fails.
    IdChecksum,
    /// An owner or holder ID of no known shape.
    IdShape,
    /// The row's key is not `UNIT` 2 letters, `SEC` 4 digits, `PARCEL_NO` 8 digits.
    BadKey,
    /// A register sequence not of the table's shape.
    BadSequence,
    /// A code missing from its code table.
    UnknownCode,
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
            Problem::Missing => "missing_value",
            Problem::BadDate => "bad_roc_date",
            Problem::BadShare => "bad_share",
            Problem::BadArea => "bad_area",
            Problem::BadNumber => "bad_number",
            Problem::IdChecksum => "id_checksum",
            Problem::IdShape => "id_shape",
            Problem::BadKey => "bad_parcel_key",
            Problem::BadSequence => "bad_register_sequence",
            Problem::UnknownCode => "unknown_code",
            Problem::NotText => "not_text",
            Problem::MissingDescription => "missing_description",
            Problem::ShareTotal => "share_total",
            Problem::DanglingTarget => "dangling_target",
        }
    }
}

/// A malformed source record: where (table, key, column) and what. Never holds the value
/// itself (it may be a national ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The table.
    pub table: &'static str,
    /// The row's key, `UNIT/SEC/PARCEL_NO[/RSEQ]`.
    pub key: String,
    /// The column.
    pub column: &'static str,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} column {}: {}",
            self.table,
            self.key,
            self.column,
            self.problem.reason()
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

    fn error(&self, column: &'static str, problem: Problem) -> RecordError {
        RecordError {
            table: self.row.table(),
            key: self.key(),
            column,
            problem,
        }
    }

    /// Trimmed text; NULL is blank.
    fn text(&self, column: &'static str) -> String {
        self.row.get(column).unwrap_or("").trim().to_owned()
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

    fn parse<T>(
        &self,
        column: &'static str,
        problem: Problem,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, RecordError> {
        parse(self.required(column)?).ok_or_else(|| self.error(column, problem))
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

    fn date(&self, column: &'static str) -> Result<RocDate, RecordError> {
        self.parse(column, Problem::BadDate, roc_date)
    }

    fn amount(&self, column: &'static str) -> Result<i64, RecordError> {
        self.parse(column, Problem::BadNumber, amount)
    }

    fn share(&self, column: &'static str) -> Result<(u64, u64), RecordError> {
        self.parse(column, Problem::BadShare, share)
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

    fn sequence(&self, shape: fn(&str) -> bool) -> Result<String, RecordError> {
        let sequence = self.required("RSEQ")?;
        if shape(sequence) {
            Ok(sequence.to_owned())
        } else {
            Err(self.error("RSEQ", Problem::BadSequence))
        }
    }
}

/// 標示部 → description.
pub fn description(row: &Row) -> Result<ParcelDescription, RecordError> {
    let f = Fields::new(row)?;
    Ok(ParcelDescription {
        registered_on: Some(f.date("REG_DATE")?),
        registration_reason: f.text("REG_REASON"),
        area_cm2: f.parse("AREA", Problem::BadArea, area_cm2)?,
        land_use_zone: f.text("ZONE"),
        land_use_class: f.text("LAND_CLASS"),
        announced_current_value_per_m2: f.amount("CUR_VALUE")?,
        announced_land_price_per_m2: f.amount("LAND_PRICE")?,
        county: f.required("COUNTY")?.to_owned(),
        district: f.required("TOWN")?.to_owned(),
        section_name: f.text("SEC_NAME"),
        building_count: f
            .parse_optional("BLDG_CNT", Problem::BadNumber, |v| {
                amount(v).and_then(|n| u32::try_from(n).ok())
            })?
            .unwrap_or(0),
    })
}

/// 所有權部 → ownership entry. The owner's kind follows from the shape of `OWNER_ID`.
pub fn ownership(row: &Row) -> Result<Ownership, RecordError> {
    let f = Fields::new(row)?;
    let owner_id = f.text("OWNER_ID");
    let owner_kind = owner_kind(&owner_id).map_err(|p| f.error("OWNER_ID", p))?;
    let (share_numerator, share_denominator) = f.share("RIGHT_SCOPE")?;
    Ok(Ownership {
        register_sequence: f.sequence(|s| is_digits(s, 4))?,
        registered_on: Some(f.date("REG_DATE")?),
        registration_reason: f.text("REG_REASON"),
        reason_date: f.parse_optional("REASON_DATE", Problem::BadDate, roc_date)?,
        owner_name: f.required("OWNER_NAME")?.to_owned(),
        owner_id,
        owner_address: f.text("OWNER_ADDR"),
        owner_kind: owner_kind as i32,
        share_numerator,
        share_denominator,
        declared_land_price_per_m2: f
            .parse_optional("DECL_PRICE", Problem::BadNumber, amount)?
            .unwrap_or(0),
        previous_transfer_value_per_m2: f
            .parse_optional("PREV_VALUE", Problem::BadNumber, amount)?
            .unwrap_or(0),
        previous_transfer_on: f.parse_optional("PREV_YM", Problem::BadDate, roc_month)?,
    })
}

/// 他項權利部 → encumbrance.
pub fn encumbrance(row: &Row) -> Result<Encumbrance, RecordError> {
    let f = Fields::new(row)?;
    let kind = f.parse("RIGHT_TYPE", Problem::UnknownCode, right_type)?;
    let holder_id = f.text("HOLDER_ID");
    if !holder_id.is_empty() {
        owner_kind(&holder_id).map_err(|p| f.error("HOLDER_ID", p))?;
    }
    let (share_numerator, share_denominator) = f.share("RIGHT_SCOPE")?;
    let encumbered_sequences = match f.optional("TARGET_RSEQ") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                let s = s.trim();
                is_digits(s, 4)
                    .then(|| s.to_owned())
                    .ok_or_else(|| f.error("TARGET_RSEQ", Problem::BadSequence))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Encumbrance {
        register_sequence: f.sequence(|s| {
            s.len() == 8
                && s.as_bytes()[4] == b'-'
                && is_digits(&s[..4], 4)
                && is_digits(&s[5..], 3)
        })?,
        kind: kind as i32,
        registered_on: Some(f.date("REG_DATE")?),
        registration_reason: f.text("REG_REASON"),
        holder_name: f.required("HOLDER_NAME")?.to_owned(),
        holder_id,
        secured_amount: f
            .parse_optional("AMOUNT", Problem::BadNumber, amount)?
            .unwrap_or(0),
        due_on: f.parse_optional("DUE_DATE", Problem::BadDate, roc_date)?,
        share_numerator,
        share_denominator,
        encumbered_sequences,
    })
}

/// A holdings row (ownership entry joined with its description) → holding.
pub fn holding(row: &Row) -> Result<Holding, RecordError> {
    let f = Fields::new(row)?;
    if f.optional("D_UNIT").is_none() {
        return Err(f.error("PARCEL_NO", Problem::MissingDescription));
    }
    let (share_numerator, share_denominator) = f.share("RIGHT_SCOPE")?;
    // The description's values are checked as strictly as GetParcel would.
    let description = |column: &'static str| RecordError {
        table: crate::schema::DESCRIPTION_TABLE,
        key: f
            .key()
            .rsplit_once('/')
            .map_or_else(String::new, |(k, _)| k.to_owned()),
        column,
        problem: Problem::Missing,
    };
    let area = f.optional("D_AREA").ok_or_else(|| description("AREA"))?;
    let area_cm2 = area_cm2(area).ok_or_else(|| RecordError {
        problem: Problem::BadArea,
        ..description("AREA")
    })?;
    let value = f
        .optional("D_CUR_VALUE")
        .ok_or_else(|| description("CUR_VALUE"))?;
    let announced_current_value_per_m2 = amount(value).ok_or_else(|| RecordError {
        problem: Problem::BadNumber,
        ..description("CUR_VALUE")
    })?;
    Ok(Holding {
        key: Some(f.parcel_key()?),
        county: f
            .optional("D_COUNTY")
            .ok_or_else(|| description("COUNTY"))?
            .to_owned(),
        district: f
            .optional("D_TOWN")
            .ok_or_else(|| description("TOWN"))?
            .to_owned(),
        section_name: f.text("D_SEC_NAME"),
        area_cm2,
        land_use_zone: f.text("D_ZONE"),
        announced_current_value_per_m2,
        register_sequence: f.sequence(|s| is_digits(s, 4))?,
        share_numerator,
        share_denominator,
        registered_on: Some(f.date("REG_DATE")?),
    })
}

/// Every row under one key → the parcel, after checking the parts agree: the description
/// exists, the shares add up to exactly 1, every encumbered sequence exists.
pub fn parcel(key: ParcelKey, rows: &ParcelRows) -> Result<Parcel, RecordError> {
    let Some(description_row) = &rows.description else {
        let orphan = rows.owners.first().or(rows.encumbrances.first());
        return Err(match orphan {
            Some(row) => Fields { row }.error("PARCEL_NO", Problem::MissingDescription),
            None => RecordError {
                table: crate::schema::DESCRIPTION_TABLE,
                key: String::new(),
                column: "PARCEL_NO",
                problem: Problem::MissingDescription,
            },
        });
    };
    let description = description(description_row)?;
    let owners = rows
        .owners
        .iter()
        .map(ownership)
        .collect::<Result<Vec<_>, _>>()?;
    let encumbrances = rows
        .encumbrances
        .iter()
        .map(encumbrance)
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
            table: crate::schema::OWNERSHIP_TABLE,
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

/// `YYYMMDD` (or `YYMMDD` for years before 100) → a real calendar date.
pub(crate) fn roc_date(s: &str) -> Option<RocDate> {
    let year_len = match s.len() {
        7 => 3,
        6 => 2,
        _ => return None,
    };
    let (y, rest) = s.split_at(year_len);
    real_date(
        digits_value(y)?,
        digits_value(&rest[..2])?,
        digits_value(&rest[2..])?,
    )
}

/// `YYYMM` (前次移轉年月) → the first of that month.
pub(crate) fn roc_month(s: &str) -> Option<RocDate> {
    if s.len() != 5 {
        return None;
    }
    real_date(digits_value(&s[..3])?, digits_value(&s[3..])?, 1)
}

/// `n/d` with 1 ≤ n ≤ d, or `全部` (sole ownership, 1/1).
pub(crate) fn share(s: &str) -> Option<(u64, u64)> {
    if s == "全部" {
        return Some((1, 1));
    }
    let (n, d) = s.split_once('/')?;
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(n) || !all_digits(d) {
        return None;
    }
    let (n, d): (u64, u64) = (n.parse().ok()?, d.parse().ok()?);
    (n >= 1 && n <= d).then_some((n, d))
}

/// Decimal m² with at most 2 decimals (`123.45`, `80`, `0.5`), positive → cm².
pub(crate) fn area_cm2(s: &str) -> Option<i64> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.ends_with('.') {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut hundredths: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    if fraction.len() == 1 {
        hundredths *= 10;
    }
    let cm2 = whole.checked_mul(10_000)?.checked_add(hundredths * 100)?;
    (cm2 > 0).then_some(cm2)
}

/// A non-negative decimal integer (NT$, counts).
pub(crate) fn amount(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// 權利種類 code table (`FORMAT.md`).
pub(crate) fn right_type(code: &str) -> Option<EncumbranceKind> {
    Some(match code {
        "01" => EncumbranceKind::Mortgage,
        "02" => EncumbranceKind::MaximumAmountMortgage,
        "03" => EncumbranceKind::Superficies,
        "04" => EncumbranceKind::Servitude,
        "05" => EncumbranceKind::AgriculturalUse,
        "06" => EncumbranceKind::Dian,
        _ => return None,
    })
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
