//! GCIS JSON objects → `tongdao.commerce.v1` messages, field by field as `mapping.toml` says:
//! which key feeds which field, with which converter, and whether a blank is allowed.
//!
//! Converters (the same names as the mapping file's):
//! - `text`: strings and numbers; ASCII and full-width spaces trimmed; full-width digits and
//!   Latin letters folded to half-width (punctuation kept); a value of only spaces is blank;
//! - `integer`: a JSON number, or a string of digits with optional `,` separators;
//! - `roc_date`: `YYYMMDD` (or `YYY/MM/DD`, `YYY-MM-DD`), a real calendar date;
//! - `code`: one of a table's codes.
//!
//! A required field that is blank or missing, a value a converter refuses, or a value of the
//! wrong JSON type fails the whole object: a record is served whole or not at all.

use serde_json::{Map, Value};
use tongdao_schemas::commerce::v1::{
    BusinessItem, Company, CompanyStatus, Director, Directorship, RocDate,
};

/// Why an object could not be mapped: the source key and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct RecordError {
    /// The JSON key (e.g. `Company_Setup_Date`), or a path like `Cmp_Business[2].Business_Item_Desc`.
    pub key: String,
    /// snake_case problem, the metric's `reason` label: `missing_field`, `wrong_type`,
    /// `bad_integer`, `bad_date`, `unknown_code`.
    pub problem: &'static str,
}

fn fail(key: &str, problem: &'static str) -> RecordError {
    RecordError {
        key: key.to_owned(),
        problem,
    }
}

/// The value under `key` as text; `None` if the key is missing or null.
fn raw(object: &Map<String, Value>, key: &str) -> Result<Option<String>, RecordError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(fail(key, "wrong_type")),
    }
}

/// Trims ASCII and full-width spaces; folds full-width digits and Latin letters to
/// half-width. Full-width punctuation stays: `，` in a Chinese sentence is the registry's text.
fn normalise(text: &str) -> String {
    text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{3000}')
        .chars()
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            other => other,
        })
        .collect()
}

/// `text`, blank allowed (→ "").
fn text(object: &Map<String, Value>, key: &str) -> Result<String, RecordError> {
    Ok(raw(object, key)?.map(|s| normalise(&s)).unwrap_or_default())
}

/// `text`, required.
fn text_required(object: &Map<String, Value>, key: &str) -> Result<String, RecordError> {
    let value = text(object, key)?;
    if value.is_empty() {
        return Err(fail(key, "missing_field"));
    }
    Ok(value)
}

/// `integer`, blank allowed (→ 0).
fn integer(object: &Map<String, Value>, key: &str) -> Result<i64, RecordError> {
    let value = text(object, key)?;
    if value.is_empty() {
        return Ok(0);
    }
    let digits: String = value.chars().filter(|&c| c != ',').collect();
    let well_formed = !value.starts_with(',')
        && !value.ends_with(',')
        && !value.contains(",,")
        && digits
            .strip_prefix('-')
            .unwrap_or(&digits)
            .bytes()
            .all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(fail(key, "bad_integer"));
    }
    digits.parse().map_err(|_| fail(key, "bad_integer"))
}

/// `integer` that must not be negative, blank allowed (→ 0).
fn count(object: &Map<String, Value>, key: &str) -> Result<u64, RecordError> {
    u64::try_from(integer(object, key)?).map_err(|_| fail(key, "bad_integer"))
}

/// `roc_date`, blank allowed (→ unset).
fn roc_date(object: &Map<String, Value>, key: &str) -> Result<Option<RocDate>, RecordError> {
    let value = text(object, key)?;
    if value.is_empty() {
        return Ok(None);
    }
    parse_roc_date(&value)
        .map(Some)
        .ok_or_else(|| fail(key, "bad_date"))
}

fn roc_date_required(object: &Map<String, Value>, key: &str) -> Result<RocDate, RecordError> {
    roc_date(object, key)?.ok_or_else(|| fail(key, "missing_field"))
}

/// `0760221`, `076/02/21`, `76/2/21`, `076-02-21` → 76-02-21, if that day exists.
pub fn parse_roc_date(value: &str) -> Option<RocDate> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (year, month, day) = if value.len() == 7 && all_digits(value) {
        (&value[..3], &value[3..5], &value[5..])
    } else {
        let mut parts = value.split(['/', '-']);
        let parts = (parts.next()?, parts.next()?, parts.next()?, parts.next());
        match parts {
            (y, m, d, None) if y.len() <= 3 && m.len() <= 2 && d.len() <= 2 => (y, m, d),
            _ => return None,
        }
    };
    if !(all_digits(year) && all_digits(month) && all_digits(day)) {
        return None;
    }
    let (year, month, day): (u32, u32, u32) =
        (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    let gregorian = year + 1911;
    let leap = gregorian % 4 == 0 && (gregorian % 100 != 0 || gregorian % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (year >= 1 && (1..=days).contains(&day)).then_some(RocDate { year, month, day })
}

/// `code` with the `company_status` table.
fn company_status(object: &Map<String, Value>, key: &str) -> Result<CompanyStatus, RecordError> {
    let value = text_required(object, key)?;
    Ok(match value.as_str() {
        "01" => CompanyStatus::ApprovedIncorporation,
        "02" => CompanyStatus::ApprovedRegistration,
        "03" => CompanyStatus::Annulled,
        "04" => CompanyStatus::Revoked,
        "05" => CompanyStatus::Dissolved,
        "06" => CompanyStatus::Suspended,
        "09" => CompanyStatus::Closed,
        _ => return Err(fail(key, "unknown_code")),
    })
}

/// A company (`應用三` object) with its business items; directors are added by the caller.
pub fn company(object: &Map<String, Value>) -> Result<Company, RecordError> {
    let items = match object.get("Cmp_Business") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(item) => business_item(item).map_err(|e| RecordError {
                    key: format!("Cmp_Business[{i}].{}", e.key),
                    problem: e.problem,
                }),
                _ => Err(fail(&format!("Cmp_Business[{i}]"), "wrong_type")),
            })
            .collect::<Result<_, _>>()?,
        // Some exports write "no items" as a blank string.
        Some(Value::String(s)) if normalise(s).is_empty() => Vec::new(),
        Some(_) => return Err(fail("Cmp_Business", "wrong_type")),
    };
    Ok(Company {
        business_number: text_required(object, "Business_Accounting_NO")?,
        name: text_required(object, "Company_Name")?,
        status: company_status(object, "Company_Status")? as i32,
        status_description: text(object, "Company_Status_Desc")?,
        capital_stock_amount: integer(object, "Capital_Stock_Amount")?,
        paid_in_capital_amount: integer(object, "Paid_In_Capital_Amount")?,
        responsible_person_name: text(object, "Responsible_Name")?,
        location: text(object, "Company_Location")?,
        registering_organisation: text(object, "Register_Organization_Desc")?,
        setup_date: Some(roc_date_required(object, "Company_Setup_Date")?),
        last_change_date: roc_date(object, "Change_Of_Approval_Data")?,
        suspension_start: roc_date(object, "Sus_Beg_Date")?,
        suspension_end: roc_date(object, "Sus_End_Date")?,
        business_items: items,
        directors: Vec::new(),
    })
}

/// One `Cmp_Business` element. The code may be blank (a free-text item).
pub fn business_item(object: &Map<String, Value>) -> Result<BusinessItem, RecordError> {
    Ok(BusinessItem {
        code: text(object, "Business_Item")?,
        description: text_required(object, "Business_Item_Desc")?,
    })
}

/// One director object.
pub fn director(object: &Map<String, Value>) -> Result<Director, RecordError> {
    Ok(Director {
        position: text_required(object, "Person_Position_Name")?,
        name: text_required(object, "Person_Name")?,
        juristic_person_name: text(object, "Juristic_Person_Name")?,
        shareholding: count(object, "Person_Shareholding")?,
    })
}

/// One directorship object of the internal endpoint.
pub fn directorship(object: &Map<String, Value>) -> Result<Directorship, RecordError> {
    Ok(Directorship {
        business_number: text_required(object, "Business_Accounting_NO")?,
        company_name: text_required(object, "Company_Name")?,
        position: text_required(object, "Person_Position_Name")?,
        company_status: company_status(object, "Company_Status")? as i32,
        juristic_person_name: text(object, "Juristic_Person_Name")?,
        shareholding: count(object, "Person_Shareholding")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn dates() {
        let d = |y, m, d| {
            Some(RocDate {
                year: y,
                month: m,
                day: d,
            })
        };
        assert_eq!(parse_roc_date("0760221"), d(76, 2, 21));
        assert_eq!(parse_roc_date("076/02/21"), d(76, 2, 21));
        assert_eq!(parse_roc_date("113-2-29"), d(113, 2, 29));
        assert_eq!(parse_roc_date("1120229"), None);
        assert_eq!(parse_roc_date("0761301"), None);
        assert_eq!(parse_roc_date("0000101"), None);
        assert_eq!(parse_roc_date("076022"), None);
        assert_eq!(parse_roc_date("07602211"), None);
        assert_eq!(parse_roc_date("76/2/21/1"), None);
        assert_eq!(parse_roc_date("+76/2/21"), None);
    }

    #[test]
    fn quirks_are_absorbed() {
        let o =
            object(r#"{"a":"  x　","b":"1,234,567","c":1234,"d":"       ","e":"ＡＢ１，","f":-5}"#);
        assert_eq!(text(&o, "a"), Ok("x".into()));
        assert_eq!(integer(&o, "b"), Ok(1_234_567));
        assert_eq!(integer(&o, "c"), Ok(1234));
        assert_eq!(integer(&o, "d"), Ok(0));
        assert_eq!(integer(&o, "missing"), Ok(0));
        assert_eq!(roc_date(&o, "d"), Ok(None));
        assert_eq!(text(&o, "e"), Ok("AB1，".into()));
        assert_eq!(count(&o, "f").map_err(|e| e.problem), Err("bad_integer"));
        assert_eq!(
            text_required(&o, "d").map_err(|e| e.problem),
            Err("missing_field")
        );
    }

    #[test]
    fn bad_values_fail() {
        let o = object(r#"{"a":"12,,3","b":"1.5","c":[1],"d":"abc"}"#);
        assert_eq!(integer(&o, "a").map_err(|e| e.problem), Err("bad_integer"));
        assert_eq!(integer(&o, "b").map_err(|e| e.problem), Err("bad_integer"));
        assert_eq!(text(&o, "c").map_err(|e| e.problem), Err("wrong_type"));
        assert_eq!(roc_date(&o, "d").map_err(|e| e.problem), Err("bad_date"));
        let company_object = object(
            r#"{"Business_Accounting_NO":"22099131","Company_Name":"X","Company_Status":"07",
                "Company_Setup_Date":"0760221"}"#,
        );
        assert_eq!(
            company(&company_object).map_err(|e| (e.key, e.problem)),
            Err(("Company_Status".into(), "unknown_code"))
        );
    }
}
