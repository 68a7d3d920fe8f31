//! The declarative mapping: a TOML file (the reference is `adapters/MAPPING.md`) says how one
//! source record — named text columns, JSON keys, or a raw fixed-width line — becomes one
//! protobuf message of `tongdao_schemas`.
//!
//! [`Mapping::parse`] reads and checks the whole file once, against the message descriptors:
//! every field path, every converter against its field's type, every code table against its
//! enum; it reports every problem at once with `origin:line`. What it builds is a plan per
//! record — field descriptors resolved, converters chosen, code tables turned into hash maps —
//! so that [`RecordMapping::apply`], called for every row an adapter serves, neither re-reads
//! the TOML nor looks anything up by name in the descriptor pool.
//!
//! A row maps whole or not at all: the first field that fails is the error, and no partly
//! filled message is ever returned.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    ops::Range,
    path::Path,
};

use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

mod convert;
mod row;

pub use row::FixedWidthLine;

/// One source record, as the mapping reads it.
pub trait SourceRow {
    /// A column's / key's text; None when the column or key is absent.
    fn column(&self, name: &str) -> Option<Cow<'_, str>>;
    /// The whole raw record, for `slice` fields (fixed-width lines).
    fn raw(&self) -> Option<&[u8]> {
        None
    }
}

/// A parsed, validated mapping file: one [`RecordMapping`] per `[records.<name>]`.
#[derive(Debug, Clone)]
pub struct Mapping {
    records: BTreeMap<String, RecordMapping>,
}

/// Every problem found in a mapping file, each as `origin:line: message`, in line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingErrors(pub Vec<String>);

impl fmt::Display for MappingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for MappingErrors {}

/// Why one row could not be mapped: the target field, where its value came from (a column name
/// or `bytes a..b`), and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} (from {source_ref}): {problem}")]
pub struct RowError {
    /// The target field's path in the message, e.g. `acquired_on` or `key.section_code`.
    pub field: String,
    /// The column (or JSON key) name, or `bytes a..b` for a slice of a fixed-width line.
    pub source_ref: String,
    /// What was wrong.
    pub problem: RowProblem,
}

/// What was wrong with a row's value. Offending values are quoted, cut to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    /// A required field's column is absent or its value blank (also: a `slice` field on a row
    /// without a raw line).
    #[error("missing or blank")]
    Missing,
    /// Not an integer (`integer`).
    #[error("not an integer: \"{0}\"")]
    NotInteger(String),
    /// Not a decimal number with at most 2 decimals (`area_m2_to_cm2`).
    #[error("not a decimal number with at most 2 decimals: \"{0}\"")]
    NotDecimal(String),
    /// Not a date in an accepted form, or not a real calendar date (`roc_date`,
    /// `gregorian_date`).
    #[error("not a valid date: \"{0}\"")]
    BadDate(String),
    /// Not a share `n/d` with 1 ≤ n ≤ d, `d分之n` or `全部` (`share_numerator`,
    /// `share_denominator`).
    #[error("not a share n/d with 1 <= n <= d: \"{0}\"")]
    BadShare(String),
    /// A code that is not in the field's code table (`code`).
    #[error("code not in the table: \"{0}\"")]
    UnknownCode(String),
    /// Not a value name or number of the field's enum (`enum`), or not a boolean word (`bool`).
    #[error("not a value of the field's enum or boolean: \"{0}\"")]
    BadEnum(String),
    /// A `slice`'s bytes are not valid in the record's encoding (UTF-8 or Big5).
    #[error("bytes not valid in the record's encoding")]
    BadEncoding,
    /// A required `slice` reaches past the end of the line.
    #[error("the line ends before the slice does")]
    SliceOutOfRange,
    /// A well-formed value that does not fit the field (e.g. a negative number into a uint64).
    #[error("out of range: {0}")]
    OutOfRange(String),
}

impl RowProblem {
    /// A snake_case label for metrics, e.g. `bad_date`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotInteger(_) => "not_integer",
            Self::NotDecimal(_) => "not_decimal",
            Self::BadDate(_) => "bad_date",
            Self::BadShare(_) => "bad_share",
            Self::UnknownCode(_) => "unknown_code",
            Self::BadEnum(_) => "bad_enum",
            Self::BadEncoding => "bad_encoding",
            Self::SliceOutOfRange => "slice_out_of_range",
            Self::OutOfRange(_) => "out_of_range",
        }
    }
}

/// How one `[records.<name>]` maps a row to its message.
#[derive(Debug, Clone)]
pub struct RecordMapping {
    name: String,
    descriptor: MessageDescriptor,
    fields: Vec<FieldPlan>,
}

impl Mapping {
    /// Every problem at once, each as `origin:line: message` (unknown message, unknown field,
    /// converter that does not fit the field's type, unknown table, bad slice, …).
    pub fn parse(origin: &str, text: &str) -> Result<Mapping, MappingErrors> {
        // Editors on Windows may save a byte order mark; it is not part of the TOML.
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut parser = Parser::new(origin, text);
        let records = parser.document();
        parser.finish().map(|()| Mapping { records })
    }

    /// Reads and parses the mapping file at `path` (what `[adapters.<domain>] mapping = "…"`
    /// names); errors name the path.
    pub fn load(path: &Path) -> Result<Mapping, MappingErrors> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| MappingErrors(vec![format!("{origin}: cannot read: {e}")]))?;
        Mapping::parse(&origin, &text)
    }

    /// The record mapping named `name` (`[records.<name>]`).
    pub fn record(&self, name: &str) -> Option<&RecordMapping> {
        self.records.get(name)
    }

    /// Every record mapping, by name.
    pub fn records(&self) -> impl Iterator<Item = (&str, &RecordMapping)> {
        self.records
            .iter()
            .map(|(name, record)| (name.as_str(), record))
    }
}

impl RecordMapping {
    /// The record's name (`[records.<name>]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full name of the message it builds, e.g. `tongdao.tax.v1.PropertyItem`.
    pub fn message_name(&self) -> &str {
        self.descriptor.full_name()
    }

    /// The descriptor of the message it builds.
    pub fn descriptor(&self) -> &MessageDescriptor {
        &self.descriptor
    }

    /// Maps one row; the first failing field is the error; never a partial message.
    pub fn apply<R: SourceRow + ?Sized>(&self, row: &R) -> Result<DynamicMessage, RowError> {
        let mut message = DynamicMessage::new(self.descriptor.clone());
        for plan in &self.fields {
            let value = match plan.read(row) {
                Ok(Some(value)) => value,
                Ok(None) => continue,
                Err(problem) => return Err(plan.error(problem)),
            };
            let mut target = &mut message;
            for parent in &plan.parents {
                target = match target.get_field_mut(parent).as_message_mut() {
                    Some(nested) => nested,
                    None => {
                        return Err(plan.error(RowProblem::OutOfRange(format!(
                            "{} is not a message",
                            parent.full_name()
                        ))));
                    }
                };
            }
            if target.try_set_field(&plan.field, value).is_err() {
                return Err(plan.error(RowProblem::OutOfRange(format!(
                    "the converted value does not fit {}",
                    plan.field.full_name()
                ))));
            }
        }
        Ok(message)
    }

    /// Same, into the generated prost type (M must be the mapped message's type). A type that
    /// cannot hold what was mapped (a different message) is reported as `OutOfRange` against
    /// the message's name.
    pub fn apply_to<M: prost::Message + Default, R: SourceRow + ?Sized>(
        &self,
        row: &R,
    ) -> Result<M, RowError> {
        use prost::Message as _;
        let message = self.apply(row)?;
        let bytes = message.encode_to_vec();
        let wrong_type = |detail: String| RowError {
            field: self.message_name().to_owned(),
            source_ref: format!("record {}", self.name),
            problem: RowProblem::OutOfRange(format!(
                "the target type is not {}: {detail}",
                self.message_name()
            )),
        };
        let decoded = M::decode(bytes.as_slice()).map_err(|e| wrong_type(e.to_string()))?;
        // A different message type drops the fields it does not know, so re-encodes shorter.
        if decoded.encoded_len() != bytes.len() {
            return Err(wrong_type("fields were lost in decoding".to_owned()));
        }
        Ok(decoded)
    }
}

// ---------------------------------------------------------------------------------------------
// The plan `apply` follows.

/// One target field: where its text comes from, how it is converted, where it goes.
#[derive(Debug, Clone)]
struct FieldPlan {
    /// Dotted path of the target field, for errors.
    target: String,
    source: Source,
    /// The column name or `bytes a..b`, for errors.
    source_ref: String,
    optional: bool,
    encoding: Encoding,
    /// For a repeated field: the separator between its elements in the one source value.
    split: Option<String>,
    /// The message fields leading to the target's message (empty for a top-level field).
    parents: Vec<FieldDescriptor>,
    field: FieldDescriptor,
    converter: Converter,
}

#[derive(Debug, Clone)]
enum Source {
    Column(String),
    Slice { start: usize, end: usize },
}

/// The encoding of a record's raw line, for `slice` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Big5,
}

/// The integer field types a number can be written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntKind {
    I32,
    I64,
    U32,
    U64,
}

impl IntKind {
    fn of(kind: &Kind) -> Option<IntKind> {
        match kind {
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Some(IntKind::I32),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Some(IntKind::I64),
            Kind::Uint32 | Kind::Fixed32 => Some(IntKind::U32),
            Kind::Uint64 | Kind::Fixed64 => Some(IntKind::U64),
            _ => None,
        }
    }

    fn value(self, n: i128) -> Result<Value, RowProblem> {
        let out = |ty: &str| RowProblem::OutOfRange(format!("{n} does not fit {ty}"));
        Ok(match self {
            IntKind::I32 => Value::I32(i32::try_from(n).map_err(|_| out("int32"))?),
            IntKind::I64 => Value::I64(i64::try_from(n).map_err(|_| out("int64"))?),
            IntKind::U32 => Value::U32(u32::try_from(n).map_err(|_| out("uint32"))?),
            IntKind::U64 => Value::U64(u64::try_from(n).map_err(|_| out("uint64"))?),
        })
    }
}

/// A date message's fields (`year`, `month`, `day`), resolved once.
#[derive(Debug, Clone)]
struct DateTarget {
    message: MessageDescriptor,
    year: (FieldDescriptor, IntKind),
    month: (FieldDescriptor, IntKind),
    day: (FieldDescriptor, IntKind),
}

impl DateTarget {
    fn of(message: &MessageDescriptor) -> Option<DateTarget> {
        let part = |name: &str| {
            let field = message.get_field_by_name(name)?;
            if field.is_list() || field.is_map() {
                return None;
            }
            let kind = IntKind::of(&field.kind())?;
            Some((field, kind))
        };
        Some(DateTarget {
            message: message.clone(),
            year: part("year")?,
            month: part("month")?,
            day: part("day")?,
        })
    }

    fn value(&self, (year, month, day): (u32, u32, u32)) -> Result<Value, RowProblem> {
        let mut date = DynamicMessage::new(self.message.clone());
        for ((field, kind), n) in [(&self.year, year), (&self.month, month), (&self.day, day)] {
            let value = kind.value(i128::from(n))?;
            date.try_set_field(field, value).map_err(|_| {
                RowProblem::OutOfRange(format!("{n} does not fit {}", field.full_name()))
            })?;
        }
        Ok(Value::Message(date))
    }
}

/// An enum's values, by name and number.
#[derive(Debug, Clone)]
struct EnumTarget {
    by_name: HashMap<String, i32>,
    numbers: HashSet<i32>,
}

impl EnumTarget {
    fn of(descriptor: &EnumDescriptor) -> EnumTarget {
        EnumTarget {
            by_name: descriptor
                .values()
                .map(|v| (v.name().to_owned(), v.number()))
                .collect(),
            numbers: descriptor.values().map(|v| v.number()).collect(),
        }
    }
}

#[derive(Debug, Clone)]
enum Converter {
    Text,
    TextTrim,
    TextRaw,
    Integer(IntKind),
    AreaM2ToCm2(IntKind),
    ShareNumerator(IntKind),
    ShareDenominator(IntKind),
    RocDate(Box<DateTarget>),
    RocYearMonth(Box<DateTarget>),
    GregorianDate(Box<DateTarget>),
    CodeString(HashMap<String, String>),
    CodeEnum(HashMap<String, i32>),
    Enum(EnumTarget),
    Bool,
}

impl Converter {
    /// Converts a non-blank text.
    fn convert(&self, text: &str) -> Result<Value, RowProblem> {
        match self {
            Converter::Text => Ok(Value::String(convert::normalize(text).into_owned())),
            Converter::TextTrim => Ok(Value::String(convert::trim(text).to_owned())),
            Converter::TextRaw => Ok(Value::String(text.to_owned())),
            Converter::Integer(kind) => kind.value(convert::integer(text)?),
            Converter::AreaM2ToCm2(kind) => kind.value(convert::area_m2_to_cm2(text)?),
            Converter::ShareNumerator(kind) => kind.value(i128::from(convert::share(text)?.0)),
            Converter::ShareDenominator(kind) => kind.value(i128::from(convert::share(text)?.1)),
            Converter::RocDate(target) => target.value(convert::roc_date(text)?),
            Converter::RocYearMonth(target) => {
                let (year, month) = convert::roc_year_month(text)?;
                target.value((year, month, 0))
            }
            Converter::GregorianDate(target) => target.value(convert::gregorian_date(text)?),
            Converter::CodeString(table) => table
                .get(convert::normalize(text).as_ref())
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| RowProblem::UnknownCode(convert::quote(text))),
            Converter::CodeEnum(table) => table
                .get(convert::normalize(text).as_ref())
                .map(|n| Value::EnumNumber(*n))
                .ok_or_else(|| RowProblem::UnknownCode(convert::quote(text))),
            Converter::Enum(target) => {
                let norm = convert::normalize(text);
                if let Some(n) = target.by_name.get(norm.as_ref()) {
                    return Ok(Value::EnumNumber(*n));
                }
                match norm.parse::<i32>() {
                    Ok(n) if target.numbers.contains(&n) => Ok(Value::EnumNumber(n)),
                    _ => Err(RowProblem::BadEnum(convert::quote(text))),
                }
            }
            Converter::Bool => Ok(Value::Bool(convert::boolean(text)?)),
        }
    }
}

impl FieldPlan {
    fn error(&self, problem: RowProblem) -> RowError {
        RowError {
            field: self.target.clone(),
            source_ref: self.source_ref.clone(),
            problem,
        }
    }

    fn absent(&self) -> Result<Option<Value>, RowProblem> {
        if self.optional {
            Ok(None)
        } else {
            Err(RowProblem::Missing)
        }
    }

    /// The field's value from `row`: `None` when an optional field is absent or blank.
    fn read<R: SourceRow + ?Sized>(&self, row: &R) -> Result<Option<Value>, RowProblem> {
        let text = match &self.source {
            Source::Column(name) => match row.column(name) {
                Some(text) => text,
                None => return self.absent(),
            },
            Source::Slice { start, end } => {
                let Some(raw) = row.raw() else {
                    return self.absent();
                };
                let Some(bytes) = raw.get(*start..*end) else {
                    return if self.optional {
                        Ok(None)
                    } else {
                        Err(RowProblem::SliceOutOfRange)
                    };
                };
                decode(bytes, self.encoding).ok_or(RowProblem::BadEncoding)?
            }
        };
        if convert::is_blank(&text) {
            return self.absent();
        }
        let Some(separator) = &self.split else {
            return self.converter.convert(&text).map(Some);
        };
        let elements = text
            .split(separator.as_str())
            .filter(|element| !convert::is_blank(element))
            .map(|element| self.converter.convert(element))
            .collect::<Result<Vec<Value>, RowProblem>>()?;
        if elements.is_empty() {
            return self.absent();
        }
        Ok(Some(Value::List(elements)))
    }
}

/// Decodes a slice of a raw line; `None` if it is not valid in the encoding (including a
/// double-byte Big5 character cut by the slice).
fn decode(bytes: &[u8], encoding: Encoding) -> Option<Cow<'_, str>> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        Encoding::Big5 => {
            encoding_rs::BIG5.decode_without_bom_handling_and_without_replacement(bytes)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing and checking the file.

/// The converters a mapping may name, for error messages.
const CONVERTERS: &str = "text, text_trim, text_raw, integer, area_m2_to_cm2, roc_date, \
                          roc_year_month, gregorian_date, share_numerator, share_denominator, \
                          code, enum, bool";

/// The keys of a field's inline table.
const SPEC_KEYS: [&str; 6] = ["column", "slice", "convert", "table", "optional", "split"];

/// A code table as written: (normalised code, value, span of the entry).
#[derive(Debug)]
struct CodeTable {
    entries: Vec<(String, String, Range<usize>)>,
}

/// A field's spec as written, before it is checked against the message.
struct FieldSpec {
    path: String,
    span: Range<usize>,
    source: Option<(Source, String)>,
    convert: (String, Range<usize>),
    /// Whether `convert` was written (else it is the default, `text`).
    convert_given: bool,
    table: Option<(String, Range<usize>)>,
    optional: bool,
    /// The separator of a repeated field's elements.
    split: Option<(String, Range<usize>)>,
}

struct Parser<'a> {
    origin: &'a str,
    text: &'a str,
    line_starts: Vec<usize>,
    errors: Vec<(usize, String)>,
}

impl<'a> Parser<'a> {
    fn new(origin: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Parser {
            origin,
            text,
            line_starts,
            errors: Vec::new(),
        }
    }

    fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let line = self.line(span.start);
        self.errors.push((line, message.into()));
    }

    fn finish(mut self) -> Result<(), MappingErrors> {
        if self.errors.is_empty() {
            return Ok(());
        }
        self.errors.sort_by_key(|(line, _)| *line);
        Err(MappingErrors(
            self.errors
                .into_iter()
                .map(|(line, message)| format!("{}:{line}: {message}", self.origin))
                .collect(),
        ))
    }

    fn document(&mut self) -> BTreeMap<String, RecordMapping> {
        let (document, syntax) = DeTable::parse_recoverable(self.text);
        if !syntax.is_empty() {
            for e in syntax {
                let span = e.span().unwrap_or(0..0);
                self.error(&span, format!("TOML syntax: {}", e.message().trim()));
            }
            return BTreeMap::new();
        }
        let mut tables_value = None;
        let mut records_value = None;
        for (key, value) in document.get_ref().iter() {
            match key.get_ref().as_ref() {
                "tables" => tables_value = Some(value),
                "records" => records_value = Some(value),
                other => self.error(
                    &key.span(),
                    format!("unknown key `{other}`: a mapping file has [tables.*] and [records.*]"),
                ),
            }
        }
        let tables = match tables_value {
            Some(value) => self.tables(value),
            None => HashMap::new(),
        };
        let mut records = BTreeMap::new();
        let Some(records_value) = records_value else {
            self.error(&(0..0), "no [records.<name>] table: nothing to map");
            return records;
        };
        let Some(records_table) = self.table_of(records_value, "records") else {
            return records;
        };
        if records_table.is_empty() {
            self.error(
                &records_value.span(),
                "no [records.<name>] table: nothing to map",
            );
        }
        for (name, value) in records_table.iter() {
            if let Some(record) = self.record(name, value, &tables) {
                records.insert(name.get_ref().to_string(), record);
            }
        }
        records
    }

    /// `value` as a table, or an error naming `what`.
    fn table_of<'v, 'i>(
        &mut self,
        value: &'v Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(
                    &value.span(),
                    format!("`{what}` must be a table, not a {}", other.type_str()),
                );
                None
            }
        }
    }

    fn tables(&mut self, value: &Spanned<DeValue<'_>>) -> HashMap<String, CodeTable> {
        let mut tables = HashMap::new();
        let Some(all) = self.table_of(value, "tables") else {
            return tables;
        };
        for (name, value) in all.iter() {
            let name_str = name.get_ref().as_ref();
            let Some(entries) = self.table_of(value, &format!("tables.{name_str}")) else {
                continue;
            };
            if entries.is_empty() {
                self.error(&name.span(), format!("table `{name_str}` is empty"));
            }
            let mut table = CodeTable {
                entries: Vec::with_capacity(entries.len()),
            };
            let mut seen: HashMap<String, String> = HashMap::new();
            for (code, mapped) in entries.iter() {
                let code_str = code.get_ref().as_ref();
                let DeValue::String(mapped_str) = mapped.get_ref() else {
                    self.error(
                        &code.span(),
                        format!(
                            "table `{name_str}`: the value of code \"{code_str}\" must be a string, not a {}",
                            mapped.get_ref().type_str()
                        ),
                    );
                    continue;
                };
                if convert::is_blank(code_str) {
                    self.error(&code.span(), format!("table `{name_str}`: a blank code"));
                    continue;
                }
                let normalized = convert::normalize(code_str).into_owned();
                if let Some(first) = seen.insert(normalized.clone(), code_str.to_owned()) {
                    self.error(
                        &code.span(),
                        format!(
                            "table `{name_str}`: code \"{code_str}\" is the same as \"{first}\" once spaces and full-width characters are normalised"
                        ),
                    );
                    continue;
                }
                table
                    .entries
                    .push((normalized, mapped_str.to_string(), code.span()));
            }
            tables.insert(name_str.to_owned(), table);
        }
        tables
    }

    fn record(
        &mut self,
        name: &Spanned<Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
        tables: &HashMap<String, CodeTable>,
    ) -> Option<RecordMapping> {
        let record_name = name.get_ref().as_ref();
        let here = format!("records.{record_name}");
        let table = self.table_of(value, &here)?;
        let mut message = None;
        let mut encoding = Encoding::Utf8;
        let mut fields = None;
        for (key, value) in table.iter() {
            match key.get_ref().as_ref() {
                "message" => message = self.message(&here, value),
                "encoding" => match value.get_ref() {
                    DeValue::String(e)
                        if e.eq_ignore_ascii_case("utf-8") || e.eq_ignore_ascii_case("utf8") =>
                    {
                        encoding = Encoding::Utf8;
                    }
                    DeValue::String(e) if e.eq_ignore_ascii_case("big5") => {
                        encoding = Encoding::Big5;
                    }
                    _ => self.error(
                        &value.span(),
                        format!("{here}.encoding must be \"utf-8\" or \"big5\""),
                    ),
                },
                "fields" => fields = Some(value),
                other => self.error(
                    &key.span(),
                    format!("{here}: unknown key `{other}` (expected message, encoding, fields)"),
                ),
            }
        }
        let has_message_key = table.iter().any(|(k, _)| k.get_ref().as_ref() == "message");
        if !has_message_key {
            self.error(
                &name.span(),
                format!("{here}: no `message` (the protobuf message's full name)"),
            );
        }
        let Some(fields) = fields else {
            self.error(&name.span(), format!("{here}: no [{here}.fields]"));
            return None;
        };
        let mut specs = Vec::new();
        if let Some(fields_table) = self.table_of(fields, &format!("{here}.fields")) {
            if fields_table.is_empty() {
                self.error(&fields.span(), format!("{here}.fields is empty"));
            }
            self.field_specs(&here, "", fields_table, &mut specs);
        }
        specs.sort_by_key(|spec| spec.span.start);
        let descriptor = message?;
        let before = self.errors.len();
        let plans: Vec<FieldPlan> = specs
            .iter()
            .filter_map(|spec| self.plan(&here, &descriptor, spec, encoding, tables))
            .collect();
        self.check_overlaps(&here, &plans, &specs);
        if self.errors.len() != before || plans.len() != specs.len() {
            return None;
        }
        Some(RecordMapping {
            name: record_name.to_owned(),
            descriptor,
            fields: plans,
        })
    }

    /// The descriptor a record's `message` names.
    fn message(&mut self, here: &str, value: &Spanned<DeValue<'_>>) -> Option<MessageDescriptor> {
        let DeValue::String(full_name) = value.get_ref() else {
            let kind = value.get_ref().type_str();
            self.error(
                &value.span(),
                format!("{here}.message must be a string, not a {kind}"),
            );
            return None;
        };
        let found = tongdao_schemas::descriptors::pool().get_message_by_name(full_name);
        if found.is_none() {
            self.error(
                &value.span(),
                format!("{here}: unknown message `{full_name}` (not in tongdao_schemas)"),
            );
        }
        found
    }

    /// Collects the field specs of a `fields` table; a table none of whose keys is a spec key
    /// is a group of fields of a nested message (`key.section_code` written as a dotted key or
    /// a sub-table).
    fn field_specs(
        &mut self,
        here: &str,
        prefix: &str,
        table: &DeTable<'_>,
        specs: &mut Vec<FieldSpec>,
    ) {
        for (key, value) in table.iter() {
            let path = format!("{prefix}{}", key.get_ref());
            let DeValue::Table(inner) = value.get_ref() else {
                self.error(
                    &key.span(),
                    format!(
                        "{here}.fields: `{path}` must be an inline table such as {{ column = \"…\" }}, not a {}",
                        value.get_ref().type_str()
                    ),
                );
                continue;
            };
            let is_spec = inner.iter().any(|(k, v)| {
                SPEC_KEYS.contains(&k.get_ref().as_ref())
                    && !matches!(v.get_ref(), DeValue::Table(_))
            });
            if !is_spec {
                if inner.is_empty() {
                    self.error(
                        &key.span(),
                        format!("{here}.fields: `{path}` is empty: give it a column or slice"),
                    );
                }
                self.field_specs(here, &format!("{path}."), inner, specs);
                continue;
            }
            if let Some(spec) = self.field_spec(here, path, key.span(), inner) {
                specs.push(spec);
            }
        }
    }

    fn field_spec(
        &mut self,
        here: &str,
        path: String,
        span: Range<usize>,
        table: &DeTable<'_>,
    ) -> Option<FieldSpec> {
        let before = self.errors.len();
        let mut column = None;
        let mut slice = None;
        let mut convert = ("text".to_owned(), span.clone());
        let mut convert_given = false;
        let mut code_table = None;
        let mut optional = false;
        let mut split = None;
        let at = format!("{here}.fields.{path}");
        for (key, value) in table.iter() {
            let key_name = key.get_ref().as_ref();
            let v = value.get_ref();
            match (key_name, v) {
                ("column", DeValue::String(name)) => {
                    if name.is_empty() {
                        self.error(&value.span(), format!("{at}: empty column name"));
                    }
                    column = Some((Source::Column(name.to_string()), name.to_string()));
                }
                ("slice", DeValue::Array(bounds)) => {
                    let numbers: Vec<Option<usize>> = bounds
                        .iter()
                        .map(|b| {
                            b.get_ref()
                                .as_integer()
                                .and_then(|i| usize::from_str_radix(i.as_str(), i.radix()).ok())
                        })
                        .collect();
                    match numbers.as_slice() {
                        [Some(start), Some(end)] if start < end => {
                            slice = Some((
                                Source::Slice {
                                    start: *start,
                                    end: *end,
                                },
                                format!("bytes {start}..{end}"),
                            ));
                        }
                        _ => self.error(
                            &value.span(),
                            format!("{at}: slice must be [start, end]: byte offsets, 0 <= start < end, end exclusive"),
                        ),
                    }
                }
                ("convert", DeValue::String(name)) => {
                    convert = (name.to_string(), value.span());
                    convert_given = true;
                }
                ("table", DeValue::String(name)) => code_table = Some((name.to_string(), value.span())),
                ("optional", DeValue::Boolean(b)) => optional = *b,
                ("split", DeValue::String(separator)) => {
                    if separator.is_empty() {
                        self.error(&value.span(), format!("{at}: empty split separator"));
                    }
                    split = Some((separator.to_string(), value.span()));
                }
                ("column" | "convert" | "table" | "split", other) => self.error(
                    &value.span(),
                    format!("{at}: `{key_name}` must be a string, not a {}", other.type_str()),
                ),
                ("slice", other) => self.error(
                    &value.span(),
                    format!("{at}: slice must be an array [start, end], not a {}", other.type_str()),
                ),
                ("optional", other) => self.error(
                    &value.span(),
                    format!("{at}: optional must be true or false, not a {}", other.type_str()),
                ),
                (other, _) => self.error(
                    &key.span(),
                    format!("{at}: unknown key `{other}` (expected column, slice, convert, table, optional, split)"),
                ),
            }
        }
        let source = match (column, slice) {
            (Some(column), None) => Some(column),
            (None, Some(slice)) => Some(slice),
            (Some(_), Some(_)) => {
                self.error(&span, format!("{at}: both column and slice: give one"));
                None
            }
            (None, None) => {
                let bad_slice = table.iter().any(|(k, _)| k.get_ref().as_ref() == "slice");
                if !bad_slice {
                    self.error(
                        &span,
                        format!("{at}: no column or slice: say where the value comes from"),
                    );
                }
                None
            }
        };
        if self.errors.len() != before {
            return None;
        }
        Some(FieldSpec {
            path,
            span,
            source,
            convert,
            convert_given,
            table: code_table,
            optional,
            split,
        })
    }

    /// Resolves a spec against the message and builds its plan.
    fn plan(
        &mut self,
        here: &str,
        descriptor: &MessageDescriptor,
        spec: &FieldSpec,
        encoding: Encoding,
        tables: &HashMap<String, CodeTable>,
    ) -> Option<FieldPlan> {
        let at = format!("{here}.fields.{}", spec.path);
        let (parents, field) = match resolve(descriptor, &spec.path) {
            Ok(resolved) => resolved,
            Err(problem) => {
                self.error(&spec.span, format!("{at}: {problem}"));
                return None;
            }
        };
        match (&spec.split, field.is_list()) {
            (None, true) => {
                self.error(
                    &spec.span,
                    format!(
                        "{at}: {} is repeated: give `split = \"<separator>\"` to fill it from one value, or map one row per element",
                        field.full_name()
                    ),
                );
                return None;
            }
            (Some((_, span)), false) => {
                self.error(
                    span,
                    format!(
                        "{at}: `split` is only for repeated fields, and {} is not one",
                        field.full_name()
                    ),
                );
                return None;
            }
            _ => {}
        }
        let (source, source_ref) = spec.source.clone()?;
        let converter = self.converter(&at, spec, &field, tables)?;
        Some(FieldPlan {
            target: spec.path.clone(),
            source,
            source_ref,
            optional: spec.optional,
            encoding,
            split: spec.split.as_ref().map(|(separator, _)| separator.clone()),
            parents,
            field,
            converter,
        })
    }

    fn converter(
        &mut self,
        at: &str,
        spec: &FieldSpec,
        field: &FieldDescriptor,
        tables: &HashMap<String, CodeTable>,
    ) -> Option<Converter> {
        let (name, convert_span) = (&spec.convert.0, &spec.convert.1);
        let kind = field.kind();
        let int = IntKind::of(&kind);
        if name != "code"
            && let Some((_, span)) = &spec.table
        {
            self.error(
                span,
                format!("{at}: `table` is only for convert = \"code\""),
            );
            return None;
        }
        let mismatch = |needs: &str| {
            let fitting = match &kind {
                Kind::String => "text, text_trim, text_raw, code",
                Kind::Enum(_) => "code, enum",
                Kind::Bool => "bool",
                Kind::Message(m) if DateTarget::of(m).is_some() => {
                    "roc_date, roc_year_month, gregorian_date"
                }
                Kind::Message(_) => "none: map the fields inside it with dotted paths",
                other if IntKind::of(other).is_some() => {
                    "integer, area_m2_to_cm2, share_numerator, share_denominator"
                }
                _ => "none",
            };
            format!(
                "{at}: convert `{name}`{} needs {needs}, but {} is {} (converters for it: {fitting})",
                if spec.convert_given {
                    ""
                } else {
                    " (the default)"
                },
                field.full_name(),
                kind_name(&kind),
            )
        };
        let converter = match name.as_str() {
            "text" | "text_trim" | "text_raw" => match kind {
                Kind::String if name == "text" => Converter::Text,
                Kind::String if name == "text_trim" => Converter::TextTrim,
                Kind::String => Converter::TextRaw,
                _ => {
                    self.error(convert_span, mismatch("a string field"));
                    return None;
                }
            },
            "integer" | "area_m2_to_cm2" | "share_numerator" | "share_denominator" => {
                let Some(int) = int else {
                    self.error(convert_span, mismatch("an integer field"));
                    return None;
                };
                match name.as_str() {
                    "integer" => Converter::Integer(int),
                    "area_m2_to_cm2" => Converter::AreaM2ToCm2(int),
                    "share_numerator" => Converter::ShareNumerator(int),
                    _ => Converter::ShareDenominator(int),
                }
            }
            "roc_date" | "roc_year_month" | "gregorian_date" => {
                let target = match &kind {
                    Kind::Message(message) => DateTarget::of(message),
                    _ => None,
                };
                let Some(target) = target else {
                    self.error(
                        convert_span,
                        mismatch("a message field with integer year, month and day (a RocDate)"),
                    );
                    return None;
                };
                match name.as_str() {
                    "roc_date" => Converter::RocDate(Box::new(target)),
                    "roc_year_month" => Converter::RocYearMonth(Box::new(target)),
                    _ => Converter::GregorianDate(Box::new(target)),
                }
            }
            "code" => {
                let Some((table_name, table_span)) = &spec.table else {
                    self.error(
                        convert_span,
                        format!("{at}: convert `code` needs `table = \"<name>\"`"),
                    );
                    return None;
                };
                let Some(table) = tables.get(table_name) else {
                    self.error(
                        table_span,
                        format!("{at}: unknown table `{table_name}` (no [tables.{table_name}])"),
                    );
                    return None;
                };
                match &kind {
                    Kind::String => Converter::CodeString(
                        table
                            .entries
                            .iter()
                            .map(|(code, value, _)| (code.clone(), value.clone()))
                            .collect(),
                    ),
                    Kind::Enum(enum_descriptor) => {
                        let values = EnumTarget::of(enum_descriptor);
                        let mut map = HashMap::with_capacity(table.entries.len());
                        let mut ok = true;
                        for (code, value, span) in &table.entries {
                            match values.by_name.get(value) {
                                Some(number) => {
                                    map.insert(code.clone(), *number);
                                }
                                None => {
                                    ok = false;
                                    self.error(
                                        span,
                                        format!(
                                            "table `{table_name}`: \"{value}\" is not a value of {} (the enum of {})",
                                            enum_descriptor.full_name(),
                                            at
                                        ),
                                    );
                                }
                            }
                        }
                        if !ok {
                            return None;
                        }
                        Converter::CodeEnum(map)
                    }
                    _ => {
                        self.error(convert_span, mismatch("a string or enum field"));
                        return None;
                    }
                }
            }
            "enum" => match &kind {
                Kind::Enum(enum_descriptor) => Converter::Enum(EnumTarget::of(enum_descriptor)),
                _ => {
                    self.error(convert_span, mismatch("an enum field"));
                    return None;
                }
            },
            "bool" => match kind {
                Kind::Bool => Converter::Bool,
                _ => {
                    self.error(convert_span, mismatch("a bool field"));
                    return None;
                }
            },
            other => {
                self.error(
                    convert_span,
                    format!("{at}: unknown converter `{other}` (one of: {CONVERTERS})"),
                );
                return None;
            }
        };
        Some(converter)
    }

    /// Two specs may not write the same field, a field and a field inside it, or two members
    /// of one oneof.
    fn check_overlaps(&mut self, here: &str, plans: &[FieldPlan], specs: &[FieldSpec]) {
        let spans: HashMap<&str, &Range<usize>> =
            specs.iter().map(|s| (s.path.as_str(), &s.span)).collect();
        let mut targets: HashSet<&str> = HashSet::new();
        for spec in specs {
            if !targets.insert(spec.path.as_str()) {
                self.error(
                    &spec.span,
                    format!("{here}.fields: `{}` is mapped twice", spec.path),
                );
            }
        }
        for spec in specs {
            let mut prefix_end = 0;
            while let Some(dot) = spec.path[prefix_end..].find('.') {
                let prefix = &spec.path[..prefix_end + dot];
                if targets.contains(prefix) {
                    self.error(
                        &spec.span,
                        format!(
                            "{here}.fields: `{}` is inside `{prefix}`, which is mapped as a whole",
                            spec.path
                        ),
                    );
                }
                prefix_end += dot + 1;
            }
        }
        // (path of the message holding the oneof, oneof) -> (member path, first target using it)
        let mut oneofs: HashMap<(String, String), (String, &str)> = HashMap::new();
        for plan in plans {
            let mut prefix = String::new();
            for field in plan.parents.iter().chain(std::iter::once(&plan.field)) {
                let member = if prefix.is_empty() {
                    field.name().to_owned()
                } else {
                    format!("{prefix}.{}", field.name())
                };
                if let Some(oneof) = field.containing_oneof() {
                    let key = (prefix.clone(), oneof.full_name().to_owned());
                    match oneofs.get(&key) {
                        Some((first_member, first)) if *first_member != member => {
                            let span = spans
                                .get(plan.target.as_str())
                                .map_or(0..0, |s| (*s).clone());
                            let first = (*first).to_owned();
                            self.error(
                                &span,
                                format!(
                                    "{here}.fields: `{}` and `{first}` are in different members of oneof {}: map at most one",
                                    plan.target,
                                    oneof.full_name()
                                ),
                            );
                        }
                        Some(_) => {}
                        None => {
                            oneofs.insert(key, (member.clone(), &plan.target));
                        }
                    }
                }
                prefix = member;
            }
        }
    }
}

/// The message fields leading to a dotted path's field, and the field.
fn resolve(
    descriptor: &MessageDescriptor,
    path: &str,
) -> Result<(Vec<FieldDescriptor>, FieldDescriptor), String> {
    let mut message = descriptor.clone();
    let mut parents = Vec::new();
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let Some(field) = message.get_field_by_name(segment) else {
            return Err(format!(
                "unknown field `{segment}` in {}",
                message.full_name()
            ));
        };
        if field.is_map() {
            return Err(format!(
                "{} is a map: a mapping cannot fill map fields",
                field.full_name()
            ));
        }
        if segments.peek().is_none() {
            return Ok((parents, field));
        }
        if field.is_list() {
            return Err(format!(
                "{} is repeated, so `{path}` cannot reach inside it: map one row per element",
                field.full_name()
            ));
        }
        let Kind::Message(inner) = field.kind() else {
            return Err(format!(
                "{} is {}, not a message, so `{path}` cannot reach inside it",
                field.full_name(),
                kind_name(&field.kind())
            ));
        };
        parents.push(field);
        message = inner;
    }
    Err(format!("empty field path `{path}`"))
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => format!("a message ({})", m.full_name()),
        Kind::Enum(e) => format!("an enum ({})", e.full_name()),
        Kind::Double => "a double".to_owned(),
        Kind::Float => "a float".to_owned(),
        Kind::Int32 => "an int32".to_owned(),
        Kind::Int64 => "an int64".to_owned(),
        Kind::Uint32 => "a uint32".to_owned(),
        Kind::Uint64 => "a uint64".to_owned(),
        Kind::Sint32 => "a sint32".to_owned(),
        Kind::Sint64 => "a sint64".to_owned(),
        Kind::Fixed32 => "a fixed32".to_owned(),
        Kind::Fixed64 => "a fixed64".to_owned(),
        Kind::Sfixed32 => "a sfixed32".to_owned(),
        Kind::Sfixed64 => "a sfixed64".to_owned(),
        Kind::Bool => "a bool".to_owned(),
        Kind::String => "a string".to_owned(),
        Kind::Bytes => "bytes".to_owned(),
    }
}

#[cfg(test)]
mod tests;
