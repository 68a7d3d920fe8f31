//! Looking at what an adapter answered: the schema rules of `adapters/CONTRACT.md` (C-SCH-*)
//! and the subject rules (C-SUB-2), applied to decoded messages. Nothing here prints a national
//! ID: findings name the field path and the rule, never the value.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage as _, Value,
};
use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_schemas::{descriptors, v1::DataClass};

/// What the schema rules found in one response.
#[derive(Debug, Default, Clone)]
pub(crate) struct Findings {
    /// C-SCH-1: fields not in the schema, as `path#number`.
    pub(crate) unknown_fields: Vec<String>,
    /// C-SCH-2: enum values not defined in the schema.
    pub(crate) unknown_enums: Vec<String>,
    /// C-SCH-3: ROC dates that are not calendar dates.
    pub(crate) bad_dates: Vec<String>,
    /// Count of ROC dates looked at (set and valid or not).
    pub(crate) dates_seen: usize,
    /// C-SCH-4: identifier fields that fail their checksum.
    pub(crate) bad_ids: Vec<String>,
    /// Count of non-empty identifier fields looked at.
    pub(crate) ids_seen: usize,
}

/// The identifier an ID-carrying field must hold when non-empty (C-SCH-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdRule {
    /// `national_id` or `*_national_id`: a national (or resident) ID.
    NationalId,
    /// `business_number` or `*_business_number`: a unified business number.
    BusinessNumber,
    /// Any other `*_id` field of data class C003: either of the two.
    NationalIdOrBusinessNumber,
}

/// The C-SCH-4 rule for `field`, if it carries an identifier: string fields (singular or
/// repeated) named `national_id` / `*_national_id`, `business_number` / `*_business_number`, or
/// `*_id` with data class C003.
pub(crate) fn id_rule(field: &FieldDescriptor) -> Option<IdRule> {
    if field.kind() != Kind::String || field.is_map() {
        return None;
    }
    let name = field.name();
    if name == "national_id" || name.ends_with("_national_id") {
        Some(IdRule::NationalId)
    } else if name == "business_number" || name.ends_with("_business_number") {
        Some(IdRule::BusinessNumber)
    } else if name.ends_with("_id") && descriptors::data_class(field) == Some(DataClass::C003) {
        Some(IdRule::NationalIdOrBusinessNumber)
    } else {
        None
    }
}

/// Why `value` breaks `rule`, if it does; the reason never contains the value.
fn id_problem(rule: IdRule, value: &str) -> Option<String> {
    let national = value.parse::<NationalId>().map(|_| ());
    let business = value.parse::<BusinessNumber>().map(|_| ());
    match rule {
        IdRule::NationalId => national.err().map(|e| e.to_string()),
        IdRule::BusinessNumber => business.err().map(|e| e.to_string()),
        IdRule::NationalIdOrBusinessNumber => match (national, business) {
            (Ok(()), _) | (_, Ok(())) => None,
            (Err(n), Err(b)) => Some(format!(
                "neither a national ID ({n}) nor a business number ({b})"
            )),
        },
    }
}

/// Whether `message` is a ROC date: a message named `RocDate`, or any message whose fields are
/// exactly `year`, `month` and `day` of unsigned integer type.
pub(crate) fn is_roc_date(message: &MessageDescriptor) -> bool {
    if message.name() == "RocDate" {
        return true;
    }
    let mut names: Vec<_> = message
        .fields()
        .filter(|f| matches!(f.kind(), Kind::Uint32 | Kind::Uint64) && !f.is_list())
        .map(|f| f.name().to_owned())
        .collect();
    names.sort();
    names == ["day", "month", "year"] && message.fields().len() == 3
}

fn roc_date_problem(message: &DynamicMessage) -> Option<String> {
    let number = |name: &str| match message.get_field_by_name(name).as_deref() {
        Some(Value::U32(n)) => Some(u64::from(*n)),
        Some(Value::U64(n)) => Some(*n),
        Some(Value::I32(n)) => u64::try_from(*n).ok(),
        Some(Value::I64(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    let (Some(year), Some(month), Some(day)) = (number("year"), number("month"), number("day"))
    else {
        return Some("year, month and day must be unsigned integers".to_owned());
    };
    if year == 0 && month == 0 && day == 0 {
        return None; // all zero: no date (C-SCH-3 treats it as unset)
    }
    if !(1..=999).contains(&year) {
        return Some(format!("ROC year {year} is outside 1..=999"));
    }
    if !(1..=12).contains(&month) {
        return Some(format!("month {month} is outside 1..=12"));
    }
    let gregorian = year + 1911;
    let leap = (gregorian % 4 == 0 && gregorian % 100 != 0) || gregorian % 400 == 0;
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days).contains(&day) {
        return Some(format!(
            "day {day} does not exist in month {month} of ROC {year} ({gregorian})"
        ));
    }
    None
}

/// Applies the schema rules to every level of `message`.
pub(crate) fn inspect(message: &DynamicMessage) -> Findings {
    let mut findings = Findings::default();
    walk(message, "", &mut findings);
    findings
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn walk(message: &DynamicMessage, path: &str, findings: &mut Findings) {
    let here = if path.is_empty() { "(response)" } else { path };
    for unknown in message.unknown_fields() {
        findings.unknown_fields.push(format!(
            "{here}: field number {} ({:?}) is not in {}",
            unknown.number(),
            unknown.wire_type(),
            message.descriptor().full_name()
        ));
    }
    if is_roc_date(&message.descriptor()) {
        findings.dates_seen += 1;
        if let Some(problem) = roc_date_problem(message) {
            findings.bad_dates.push(format!("{here}: {problem}"));
        }
    }
    for (field, value) in message.fields() {
        let field_path = join(path, field.name());
        match value {
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    leaf(&field, item, &format!("{field_path}[{i}]"), findings);
                }
            }
            Value::Map(entries) => {
                for (key, item) in entries {
                    let key = match key {
                        MapKey::String(s) => format!("{s:?}"),
                        other => format!("{other:?}"),
                    };
                    leaf(&field, item, &format!("{field_path}[{key}]"), findings);
                }
            }
            single => leaf(&field, single, &field_path, findings),
        }
    }
}

fn leaf(field: &FieldDescriptor, value: &Value, path: &str, findings: &mut Findings) {
    match value {
        Value::Message(inner) => walk(inner, path, findings),
        Value::EnumNumber(number) => {
            let kind = if field.is_map() {
                field.kind().as_message().and_then(|entry| {
                    entry
                        .get_field_by_name("value")
                        .and_then(|v| v.kind().as_enum().cloned())
                })
            } else {
                field.kind().as_enum().cloned()
            };
            if let Some(enumeration) = kind
                && enumeration.get_value(*number).is_none()
            {
                findings.unknown_enums.push(format!(
                    "{path}: {number} is not a value of {}",
                    enumeration.full_name()
                ));
            }
        }
        Value::String(text) => {
            if let Some(rule) = id_rule(field)
                && !text.is_empty()
            {
                findings.ids_seen += 1;
                if let Some(problem) = id_problem(rule, text) {
                    findings.bad_ids.push(format!("{path}: {problem}"));
                }
            }
        }
        _ => {}
    }
}

/// Whether response field `field` echoes request subject field `subject`: its name is the
/// subject field's name or ends in `_<that name>`, and it has the same type (string, or the
/// same message type).
pub(crate) fn echoes(field: &FieldDescriptor, subject: &FieldDescriptor) -> bool {
    let name = field.name();
    let named = name == subject.name() || name.ends_with(&format!("_{}", subject.name()));
    let typed = match (field.kind(), subject.kind()) {
        (Kind::String, Kind::String) => true,
        (Kind::Message(a), Kind::Message(b)) => a.full_name() == b.full_name(),
        _ => false,
    };
    named && typed && !field.is_map()
}

/// The result of the C-SUB-2 rules on one response.
#[derive(Debug, Default, Clone)]
pub(crate) struct Echo {
    /// Echo fields looked at, by path.
    pub(crate) looked_at: Vec<String>,
    /// Rule violations.
    pub(crate) problems: Vec<String>,
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Message(m) => m.fields().next().is_none(),
        _ => false,
    }
}

/// Whether the response holds any record: a non-empty repeated or map field at the top level.
pub(crate) fn has_records(response: &DynamicMessage) -> bool {
    response.fields().any(|(_, value)| match value {
        Value::List(items) => !items.is_empty(),
        Value::Map(entries) => !entries.is_empty(),
        _ => false,
    })
}

/// The top-level repeated and map fields that are not empty.
pub(crate) fn non_empty_lists(response: &DynamicMessage) -> Vec<String> {
    response
        .fields()
        .filter_map(|(field, value)| match value {
            Value::List(items) if !items.is_empty() => {
                Some(format!("{} ({} entries)", field.name(), items.len()))
            }
            Value::Map(entries) if !entries.is_empty() => {
                Some(format!("{} ({} entries)", field.name(), entries.len()))
            }
            _ => None,
        })
        .collect()
}

/// C-SUB-2 on `response` to a request whose subject field `subject_field` held `subject`:
///
/// * a top-level echo field MUST equal the subject when set, and MUST be set when the answer
///   holds a record (`record` — a Get answer, or a List answer with any entry);
/// * in each top-level repeated message field, when its elements have echo fields, at least
///   one element's echo MUST equal the subject (a household transcript lists the subject among
///   its members).
pub(crate) fn check_echo(
    response: &DynamicMessage,
    subject_field: &FieldDescriptor,
    subject: &Value,
    record: bool,
) -> Echo {
    let mut echo = Echo::default();
    for field in response.descriptor().fields() {
        if echoes(&field, subject_field) && !field.is_list() {
            echo.looked_at.push(field.name().to_owned());
            let value = response.get_field(&field);
            if is_empty_value(&value) {
                if record {
                    echo.problems.push(format!(
                        "{} is empty though the answer holds a record",
                        field.name()
                    ));
                }
            } else if value.as_ref() != subject {
                echo.problems.push(format!(
                    "{} differs from the request's subject",
                    field.name()
                ));
            }
            continue;
        }
        let Kind::Message(element) = field.kind() else {
            continue;
        };
        if !field.is_list() {
            continue;
        }
        let inner: Vec<FieldDescriptor> = element
            .fields()
            .filter(|f| echoes(f, subject_field) && !f.is_list())
            .collect();
        if inner.is_empty() {
            continue;
        }
        let value = response.get_field(&field);
        let Some(items) = value.as_list() else {
            continue;
        };
        for inner_field in inner {
            let path = format!("{}[*].{}", field.name(), inner_field.name());
            echo.looked_at.push(path.clone());
            if items.is_empty() {
                continue;
            }
            let found = items.iter().any(|item| {
                item.as_message()
                    .is_some_and(|m| m.get_field(&inner_field).as_ref() == subject)
            });
            if !found {
                echo.problems.push(format!(
                    "no entry of {path} is the request's subject ({} entries): the answer is \
                     about someone else",
                    items.len()
                ));
            }
        }
    }
    echo
}

/// National-ID-shaped tokens (`[A-Z][1289]` + 8 digits, not inside a longer word) in `text`,
/// masked to their last 4 characters.
pub(crate) fn national_ids_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    if bytes.len() < 10 {
        return found;
    }
    for start in 0..=bytes.len() - 10 {
        let window = &bytes[start..start + 10];
        let shaped = window[0].is_ascii_uppercase()
            && matches!(window[1], b'1' | b'2' | b'8' | b'9')
            && window[2..].iter().all(u8::is_ascii_digit);
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after_ok = bytes
            .get(start + 10)
            .is_none_or(|b| !b.is_ascii_alphanumeric());
        if shaped && before_ok && after_ok {
            found.push(mask(&text[start..start + 10]));
        }
    }
    found
}

/// `******6789`: an identifier with all but its last 4 characters hidden.
pub(crate) fn mask(id: &str) -> String {
    let count = id.chars().count();
    id.chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < count { '*' } else { c })
        .collect()
}

/// The same national ID with a wrong check digit.
pub(crate) fn break_national_id(valid: &str) -> String {
    break_last_digit(valid, |s| s.parse::<NationalId>().is_err())
        .unwrap_or_else(|| "A123456780".to_owned())
}

/// The same business number with a wrong check digit.
pub(crate) fn break_business_number(valid: &str) -> String {
    break_last_digit(valid, |s| s.parse::<BusinessNumber>().is_err())
        .unwrap_or_else(|| "12345678".to_owned())
}

fn break_last_digit(valid: &str, invalid: impl Fn(&str) -> bool) -> Option<String> {
    if !valid.is_ascii() {
        return None;
    }
    let (head, last) = valid.split_at(valid.len().checked_sub(1)?);
    let digit = last.parse::<u32>().ok()?;
    (1..10)
        .map(|delta| format!("{head}{}", (digit + delta) % 10))
        .find(|candidate| invalid(candidate))
}

/// A copy of a message-typed subject (e.g. a parcel key) whose every string field has a shape
/// no identifier has.
pub(crate) fn break_message_subject(valid: &DynamicMessage) -> DynamicMessage {
    let mut broken = valid.clone();
    for field in valid.descriptor().fields() {
        if field.kind() == Kind::String && !field.is_list() && !field.is_map() {
            broken.set_field(&field, Value::String("?".to_owned()));
        }
    }
    broken
}

#[cfg(test)]
mod tests;
