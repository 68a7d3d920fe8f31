//! Reader of the Ministry of Finance's delimited files (see `FORMAT.md`) and the in-memory
//! index the service answers from.
//!
//! Every data line is converted through the mapping once at load, so a malformed line is found
//! before any request; the index then keeps only where each person's lines are (the file's
//! bytes stay in memory, a few dozen bytes of index per line) and converts them again when
//! asked. A person with a malformed line in a file is quarantined for that file; a line that
//! cannot be pinned on anyone makes the file incomplete for its year (or for all years).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prost_reflect::DynamicMessage;
use tongdao_adapter_sdk::mapping::{Mapping, RecordMapping, SourceRow};
use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_schemas::tax::v1::{PropertyKind, TaxKind};

use crate::service::LookupError;

/// The trailer line: `TRAILER|<count>`.
const TRAILER: &[u8] = b"TRAILER";
const TRAILER_PREFIX: &[u8] = b"TRAILER|";
/// The UTF-8 byte-order mark some Windows tools put before the header.
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Income format codes of FORMAT.md's table.
const INCOME_FORMATS: [&str; 10] = ["50", "51", "53", "54", "5A", "5B", "5C", "9A", "9B", "92"];

/// One of the three files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `income.txt`, 所得資料.
    Income,
    /// `property.txt`, 財產歸屬資料.
    Property,
    /// `payments.txt`, 繳納資料.
    Payments,
}

/// The columns the adapter reads itself, because they index the data.
#[derive(Debug, Clone, Copy)]
struct KeyColumns {
    year: &'static str,
    id: &'static str,
    name: &'static str,
    tax_item: Option<&'static str>,
}

impl FileKind {
    /// The three files, in load order.
    pub const ALL: [FileKind; 3] = [FileKind::Income, FileKind::Property, FileKind::Payments];

    /// The file's name in the configured directory.
    pub fn file_name(self) -> &'static str {
        match self {
            FileKind::Income => "income.txt",
            FileKind::Property => "property.txt",
            FileKind::Payments => "payments.txt",
        }
    }

    /// The mapping record that turns one of its lines into an item.
    pub fn record_name(self) -> &'static str {
        match self {
            FileKind::Income => "income_item",
            FileKind::Property => "property_item",
            FileKind::Payments => "tax_payment",
        }
    }

    /// The message that record must produce.
    pub fn message_name(self) -> &'static str {
        match self {
            FileKind::Income => "tongdao.tax.v1.IncomeItem",
            FileKind::Property => "tongdao.tax.v1.PropertyItem",
            FileKind::Payments => "tongdao.tax.v1.TaxPayment",
        }
    }

    fn keys(self) -> KeyColumns {
        match self {
            FileKind::Income => KeyColumns {
                year: "所得年度",
                id: "所得人統一編號",
                name: "所得人姓名",
                tax_item: None,
            },
            FileKind::Property => KeyColumns {
                year: "財產歸屬年度",
                id: "所有人統一編號",
                name: "所有人姓名",
                tax_item: None,
            },
            FileKind::Payments => KeyColumns {
                year: "課稅年度",
                id: "納稅義務人統一編號",
                name: "納稅義務人姓名",
                tax_item: Some("稅目"),
            },
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// Why the source could not be loaded at all. Malformed lines are not errors: they are
/// quarantined and reported in the [`LoadSummary`].
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// One of the three files is not in the directory.
    #[error("tax source {}: file missing", path.display())]
    Missing {
        /// The path looked for.
        path: PathBuf,
    },
    /// A file exists but could not be read.
    #[error("tax source {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The header line is unusable, so no line of the file can be read.
    #[error("tax source {}: line 1 (header): {problem}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// More than one file cannot be loaded; each problem is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<LoadError>),
    /// The mapping file is unusable.
    #[error("tax mapping {origin}: {}", problems.join("; "))]
    Mapping {
        /// Where the mapping came from.
        origin: String,
        /// Every problem found.
        problems: Vec<String>,
    },
}

/// The parsed mapping's three records, each with the columns it reads (for the header check).
#[derive(Debug, Clone)]
pub struct TaxMapping {
    income: RecordPlan,
    property: RecordPlan,
    payments: RecordPlan,
}

/// One record of the mapping and the columns it reads.
#[derive(Debug, Clone)]
struct RecordPlan {
    record: RecordMapping,
    columns: BTreeSet<String>,
}

impl TaxMapping {
    /// Parses a mapping file's text; `origin` names it in errors. It must define the records
    /// `income_item`, `property_item` and `tax_payment` producing the tax items.
    pub fn parse(origin: &str, text: &str) -> Result<TaxMapping, LoadError> {
        let fail = |problems: Vec<String>| LoadError::Mapping {
            origin: origin.to_owned(),
            problems,
        };
        let mapping = Mapping::parse(origin, text).map_err(|e| fail(e.0))?;
        // The SDK checks the file against the schema; what it leaves to us is which records we
        // need and which columns they read.
        let document: toml::Table = toml::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        let mut plan = |kind: FileKind| -> Option<RecordPlan> {
            let name = kind.record_name();
            let Some(record) = mapping.record(name) else {
                problems.push(format!("record `{name}` missing"));
                return None;
            };
            if record.message_name() != kind.message_name() {
                problems.push(format!(
                    "record `{name}` must produce {}",
                    kind.message_name()
                ));
                return None;
            }
            let columns = document
                .get("records")
                .and_then(|r| r.get(name))
                .and_then(|r| r.get("fields"))
                .and_then(toml::Value::as_table)
                .map(|fields| {
                    fields
                        .values()
                        .filter_map(|f| f.get("column").and_then(toml::Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            Some(RecordPlan {
                record: record.clone(),
                columns,
            })
        };
        let (income, property, payments) = (
            plan(FileKind::Income),
            plan(FileKind::Property),
            plan(FileKind::Payments),
        );
        match (income, property, payments) {
            (Some(income), Some(property), Some(payments)) => Ok(TaxMapping {
                income,
                property,
                payments,
            }),
            _ => Err(fail(problems)),
        }
    }

    fn plan(&self, kind: FileKind) -> &RecordPlan {
        match kind {
            FileKind::Income => &self.income,
            FileKind::Property => &self.property,
            FileKind::Payments => &self.payments,
        }
    }
}

/// One malformed line (or trailer problem): where and why, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedLine {
    /// The file.
    pub file: FileKind,
    /// 1-based line number.
    pub line: u32,
    /// The metric's reason label, e.g. `bad_integer`, `column_count`, `trailer`.
    pub reason: &'static str,
    /// The column (or item field) at fault, when there is one.
    pub column: Option<String>,
}

impl fmt::Display for MalformedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)?;
        if let Some(column) = &self.column {
            write!(f, " ({column})")?;
        }
        Ok(())
    }
}

/// What loading one file found.
#[derive(Debug, Clone)]
pub struct FileSummary {
    /// The file.
    pub file: FileKind,
    /// Its path.
    pub path: PathBuf,
    /// Data lines (not the header, trailer or blank lines).
    pub data_lines: u64,
    /// Lines served: well-formed lines of people not quarantined.
    pub served_lines: u64,
    /// People with at least one line.
    pub people: usize,
    /// People whose data in this file is quarantined.
    pub quarantined_people: usize,
    /// Malformed lines and trailer problems, each counted once.
    pub malformed_lines: u64,
    /// `malformed_lines` by reason.
    pub by_reason: BTreeMap<&'static str, u64>,
    /// Every malformed line, in line order (each is also logged).
    pub errors: Vec<MalformedLine>,
    /// Years for which the file is incomplete (a line nobody can be pinned on).
    pub incomplete_years: BTreeSet<u16>,
    /// Whether the file is incomplete for every year.
    pub incomplete_all_years: bool,
    /// Time spent reading and checking it.
    pub elapsed: Duration,
}

/// What loading the three files found.
#[derive(Debug, Clone)]
pub struct LoadSummary {
    /// One per file, in [`FileKind::ALL`] order.
    pub files: Vec<FileSummary>,
}

impl LoadSummary {
    /// The summary of one file.
    pub fn file(&self, kind: FileKind) -> Option<&FileSummary> {
        self.files.iter().find(|f| f.file == kind)
    }

    /// Malformed lines over all files.
    pub fn malformed_lines(&self) -> u64 {
        self.files.iter().map(|f| f.malformed_lines).sum()
    }
}

/// Where one served line is, and its keys.
#[derive(Debug, Clone, Copy)]
struct LineRef {
    start: usize,
    end: usize,
    line: u32,
    year: u16,
    tax: Option<TaxKind>,
}

/// One person's lines in one file.
///
/// Names are not stored: a year's name is read from its first line when needed. Names must
/// agree within a year (one answer carries one name); a change between years is a change of
/// name (更名) and is fine.
#[derive(Debug, Default)]
struct Person {
    /// Well-formed lines, in file order (once quarantined, those before the quarantine, kept
    /// until the runs are put together for the name checks).
    lines: Vec<LineRef>,
    /// First malformed line, if any: then nothing of theirs in this file is served.
    quarantined_at: Option<u32>,
    /// The quarantine is a line whose name differs from the run's first name; it is counted
    /// (or moved to an earlier line) when the runs are put together, since the run's first
    /// name may itself be the odd one out.
    name_break: bool,
}

/// The (trimmed) name field of an indexed line.
fn name_at<'t>(text: &'t [u8], header: &Header, at: &LineRef) -> &'t str {
    text.get(at.start..at.end)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|line| line.split('|').nth(header.name))
        .map_or("", trim)
}

/// The first line of `year` among `lines`.
fn first_of_year(lines: &[LineRef], year: u16) -> Option<&LineRef> {
    lines.iter().find(|l| l.year == year)
}

/// The header: column names and where the key columns are.
#[derive(Debug)]
struct Header {
    index: HashMap<String, usize>,
    width: usize,
    year: usize,
    id: usize,
    name: usize,
    tax_item: Option<usize>,
}

/// One data line seen through its header, for the mapping.
struct Row<'a> {
    header: &'a Header,
    fields: &'a [&'a str],
}

impl SourceRow for Row<'_> {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        let at = *self.header.index.get(name)?;
        self.fields.get(at).map(|v| Cow::Borrowed(*v))
    }
}

/// Years a file is incomplete for: the first offending line of each.
#[derive(Debug, Default)]
struct Incomplete {
    all: Option<u32>,
    years: BTreeMap<u16, u32>,
}

impl Incomplete {
    fn covers(&self, year: u16) -> Option<u32> {
        self.all.or_else(|| self.years.get(&year).copied())
    }
}

/// One loaded file.
#[derive(Debug)]
struct Table {
    kind: FileKind,
    text: Vec<u8>,
    header: Header,
    people: HashMap<[u8; 10], Person>,
    incomplete: Incomplete,
}

/// The three files, indexed by national ID.
#[derive(Debug)]
pub struct TaxSource {
    mapping: TaxMapping,
    income: Table,
    property: Table,
    payments: Table,
    summary: LoadSummary,
}

/// The lines of one person for one request, ready to convert.
pub(crate) struct Found<'a> {
    /// Their name in the file.
    pub(crate) name: &'a str,
    lines: Vec<LineRef>,
    table: &'a Table,
    record: &'a RecordMapping,
}

impl Found<'_> {
    /// Converts every line, in file order. A line that fails now (it passed at load) answers
    /// "malformed" rather than a partial list.
    pub(crate) fn items<M: prost::Message + Default>(&self) -> Result<Vec<M>, LookupError> {
        let mut items = Vec::with_capacity(self.lines.len());
        for at in &self.lines {
            let malformed = || LookupError::SourceMalformed {
                file: self.table.kind,
                line: at.line,
            };
            let text = self
                .table
                .text
                .get(at.start..at.end)
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .ok_or_else(malformed)?;
            let fields: Vec<&str> = text.split('|').collect();
            let row = Row {
                header: &self.table.header,
                fields: &fields,
            };
            items.push(
                self.record
                    .apply_to::<M, _>(&row)
                    .map_err(|_| malformed())?,
            );
        }
        Ok(items)
    }
}

impl TaxSource {
    /// Reads the three files of `directory` through `mapping`, in parallel. Logs and counts
    /// malformed lines (`tongdao_adapter_source_malformed_total{adapter="tax", reason}`).
    pub fn load(directory: &Path, mapping: TaxMapping) -> Result<TaxSource, LoadError> {
        TaxSource::load_with(directory, mapping, LoadOptions::default())
    }

    /// [`TaxSource::load`] with explicit [`LoadOptions`].
    pub fn load_with(
        directory: &Path,
        mapping: TaxMapping,
        options: LoadOptions,
    ) -> Result<TaxSource, LoadError> {
        let shared = &mapping;
        let (income, property, payments) = std::thread::scope(|scope| {
            let income = scope.spawn(|| load_table(FileKind::Income, directory, shared, options));
            let property =
                scope.spawn(|| load_table(FileKind::Property, directory, shared, options));
            let payments = load_table(FileKind::Payments, directory, shared, options);
            let join = |handle: std::thread::ScopedJoinHandle<'_, _>, kind: FileKind| {
                handle.join().unwrap_or_else(|_| {
                    Err(LoadError::Io {
                        path: directory.join(kind.file_name()),
                        source: std::io::Error::other("the loading thread failed"),
                    })
                })
            };
            (
                join(income, FileKind::Income),
                join(property, FileKind::Property),
                payments,
            )
        });
        let ((income, income_summary), (property, property_summary), (payments, payments_summary)) =
            match (income, property, payments) {
                (Ok(income), Ok(property), Ok(payments)) => (income, property, payments),
                (income, property, payments) => {
                    let mut errors: Vec<LoadError> = [income.err(), property.err(), payments.err()]
                        .into_iter()
                        .flatten()
                        .collect();
                    return Err(if errors.len() == 1 {
                        errors.remove(0)
                    } else {
                        LoadError::Several(errors)
                    });
                }
            };
        let summary = LoadSummary {
            files: vec![income_summary, property_summary, payments_summary],
        };
        report(&summary);
        Ok(TaxSource {
            mapping,
            income,
            property,
            payments,
            summary,
        })
    }

    /// What the load found.
    pub fn summary(&self) -> &LoadSummary {
        &self.summary
    }

    fn table(&self, kind: FileKind) -> &Table {
        match kind {
            FileKind::Income => &self.income,
            FileKind::Property => &self.property,
            FileKind::Payments => &self.payments,
        }
    }

    /// The lines of `subject` in `kind`'s file for `year` (and tax item), or why none can be
    /// served. `Ok(None)`: the file has nothing for them, and is complete for that year.
    pub(crate) fn find(
        &self,
        kind: FileKind,
        subject: &NationalId,
        year: u16,
        tax: Option<TaxKind>,
    ) -> Result<Option<Found<'_>>, LookupError> {
        let table = self.table(kind);
        if let Some(line) = table.incomplete.covers(year) {
            return Err(LookupError::SourceIncomplete { file: kind, line });
        }
        let Some(person) = id_key(subject.as_str()).and_then(|key| table.people.get(&key)) else {
            return Ok(None);
        };
        if let Some(line) = person.quarantined_at {
            return Err(LookupError::SourceMalformed { file: kind, line });
        }
        let lines: Vec<LineRef> = person
            .lines
            .iter()
            .filter(|l| l.year == year && (tax.is_none() || l.tax == tax))
            .copied()
            .collect();
        if lines.is_empty() {
            return Ok(None);
        }
        let record = &self.mapping.plan(kind).record;
        Ok(Some(Found {
            name: name_at(&table.text, &table.header, &lines[0]),
            lines,
            table,
            record,
        }))
    }
}

/// The index key of a national ID (always 10 ASCII bytes once parsed).
fn id_key(id: &str) -> Option<[u8; 10]> {
    id.as_bytes().try_into().ok()
}

/// ASCII and ideographic spaces, as FORMAT.md trims them.
fn is_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\u{3000}'
}

fn trim(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// Who a malformed line belongs to, as far as it can be read.
#[derive(Clone, Copy)]
enum Owner {
    Person([u8; 10]),
    Year(u16),
    Nobody,
}

/// A problem with one line.
struct Fault {
    reason: &'static str,
    column: Option<String>,
}

fn fault(reason: &'static str, column: impl Into<String>) -> Fault {
    Fault {
        reason,
        column: Some(column.into()),
    }
}

fn parse_year(text: &str) -> Option<u16> {
    let text = trim(text);
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|y| *y >= 1)
}

fn parse_tax_item(text: &str) -> Option<TaxKind> {
    match trim(text) {
        "房屋稅" => Some(TaxKind::HouseTax),
        "地價稅" => Some(TaxKind::LandValueTax),
        "使用牌照稅" => Some(TaxKind::LicenceTax),
        _ => None,
    }
}

fn business_number_ok(text: &str) -> bool {
    text.is_empty() || text.parse::<BusinessNumber>().is_ok()
}

/// A string field of a mapped message ("" when unset).
fn text_field<'m>(message: &'m DynamicMessage, name: &str) -> Cow<'m, str> {
    match message.get_field_by_name(name) {
        Some(Cow::Borrowed(value)) => Cow::Borrowed(value.as_str().unwrap_or("")),
        Some(Cow::Owned(value)) => Cow::Owned(value.as_str().unwrap_or("").to_owned()),
        None => Cow::Borrowed(""),
    }
}

/// An int64 field of a mapped message (0 when unset).
fn int_field(message: &DynamicMessage, name: &str) -> i64 {
    message
        .get_field_by_name(name)
        .and_then(|value| value.as_i64())
        .unwrap_or(0)
}

/// Maps the line and applies the checks beyond the mapping (FORMAT.md, "How the reader treats
/// errors"). Load only validates, so it stays with the dynamic message and never converts it
/// to the generated type (a request does that, through the same mapping).
fn check_item(kind: FileKind, record: &RecordMapping, row: &Row<'_>) -> Result<(), Fault> {
    let item = record.apply(row).map_err(|e| Fault {
        reason: e.problem.reason(),
        column: Some(e.field),
    })?;
    match kind {
        FileKind::Income => {
            let code = text_field(&item, "income_format_code");
            if !INCOME_FORMATS.contains(&code.as_ref()) {
                return Err(fault("unknown_income_format", "income_format_code"));
            }
            if !business_number_ok(&text_field(&item, "payer_business_number")) {
                return Err(fault("bad_business_number", "payer_business_number"));
            }
            if text_field(&item, "payer_name").is_empty() {
                return Err(fault("missing", "payer_name"));
            }
            let (gross, withheld) = (
                int_field(&item, "gross_amount"),
                int_field(&item, "tax_withheld"),
            );
            if gross.checked_sub(withheld) != Some(int_field(&item, "net_amount")) {
                return Err(fault("amounts_disagree", "net_amount"));
            }
        }
        FileKind::Property => {
            let kind = item
                .get_field_by_name("kind")
                .and_then(|value| value.as_enum_number())
                .unwrap_or(0);
            if PropertyKind::try_from(kind).unwrap_or(PropertyKind::Unspecified)
                == PropertyKind::Unspecified
            {
                return Err(fault("unknown_code", "kind"));
            }
            if !business_number_ok(&text_field(&item, "investee_business_number")) {
                return Err(fault("bad_business_number", "investee_business_number"));
            }
        }
        FileKind::Payments => {
            if int_field(&item, "amount_paid") <= 0 {
                return Err(fault("bad_amount", "amount_paid"));
            }
            for name in ["tax_registration_number", "property_location"] {
                if text_field(&item, name).is_empty() {
                    return Err(fault("missing", name));
                }
            }
        }
    }
    Ok(())
}

/// Reads and checks the header line.
fn header(kind: FileKind, line: &[u8], mapping: &TaxMapping) -> Result<Header, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
    if trim(text).is_empty() {
        return Err("empty: the first line must name the columns".to_owned());
    }
    let mut index = HashMap::new();
    let mut width = 0;
    for (at, name) in text.split('|').enumerate() {
        let name = trim(name);
        if name.is_empty() {
            return Err(format!("column {} has no name", at + 1));
        }
        if index.insert(name.to_owned(), at).is_some() {
            return Err(format!("column {name} appears twice"));
        }
        width = at + 1;
    }
    let keys = kind.keys();
    let mut required: BTreeSet<&str> = [keys.year, keys.id, keys.name].into_iter().collect();
    required.extend(keys.tax_item);
    required.extend(mapping.plan(kind).columns.iter().map(String::as_str));
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !index.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        return Err(format!("column(s) missing: {}", missing.join(", ")));
    }
    let extra: Vec<&String> = index
        .keys()
        .filter(|c| !required.contains(c.as_str()))
        .collect();
    if !extra.is_empty() {
        tracing::warn!(file = kind.file_name(), columns = ?extra, "tax source: columns ignored");
    }
    let at = |name: &str| index.get(name).copied().unwrap_or(0);
    Ok(Header {
        year: at(keys.year),
        id: at(keys.id),
        name: at(keys.name),
        tax_item: keys.tax_item.map(at),
        width,
        index,
    })
}

/// The state of one file's load.
struct Loader<'m> {
    kind: FileKind,
    record: &'m RecordMapping,
    people: HashMap<[u8; 10], Person>,
    incomplete: Incomplete,
    summary: FileSummary,
}

impl Loader<'_> {
    fn malformed(&mut self, line: u32, owner: Owner, problem: Fault) {
        let Fault { reason, column } = problem;
        self.summary.malformed_lines += 1;
        *self.summary.by_reason.entry(reason).or_default() += 1;
        self.summary.errors.push(MalformedLine {
            file: self.kind,
            line,
            reason,
            column,
        });
        match owner {
            Owner::Person(key) => {
                let person = self.people.entry(key).or_default();
                if person.quarantined_at.is_none() {
                    person.quarantined_at = Some(line);
                }
            }
            Owner::Year(year) => {
                self.incomplete.years.entry(year).or_insert(line);
            }
            Owner::Nobody => {
                self.incomplete.all.get_or_insert(line);
            }
        }
    }

    /// Checks one data line; on success, indexes it.
    fn data_line(&mut self, header: &Header, bytes: &[u8], start: usize, end: usize, line: u32) {
        let raw = bytes.get(start..end).unwrap_or_default();
        let Ok(text) = std::str::from_utf8(raw) else {
            let lossy = String::from_utf8_lossy(raw);
            let fields: Vec<&str> = lossy.split('|').collect();
            let owner = owner_of(header, &fields);
            self.malformed(line, owner, fault("not_utf8", "line"));
            return;
        };
        let fields: Vec<&str> = text.split('|').collect();
        if fields.len() != header.width {
            let owner = owner_of(header, &fields);
            let column = format!("{} fields, header has {}", fields.len(), header.width);
            self.malformed(line, owner, fault("column_count", column));
            return;
        }
        let keys = self.kind.keys();
        let year = fields.get(header.year).and_then(|y| parse_year(y));
        let id = fields
            .get(header.id)
            .and_then(|id| trim(id).parse::<NationalId>().ok())
            .and_then(|id| id_key(id.as_str()));
        let Some(key) = id else {
            let owner = year.map_or(Owner::Nobody, Owner::Year);
            self.malformed(line, owner, fault("bad_national_id", keys.id));
            return;
        };
        let Some(year) = year else {
            self.malformed(line, Owner::Person(key), fault("bad_year", keys.year));
            return;
        };
        let name = fields.get(header.name).map_or("", |n| trim(n));
        if name.is_empty() {
            self.malformed(line, Owner::Person(key), fault("missing_name", keys.name));
            return;
        }
        let tax = match (header.tax_item, keys.tax_item) {
            (Some(at), Some(column)) => match fields.get(at).and_then(|t| parse_tax_item(t)) {
                Some(tax) => Some(tax),
                None => {
                    self.malformed(line, Owner::Person(key), fault("unknown_tax_item", column));
                    return;
                }
            },
            _ => None,
        };
        let row = Row {
            header,
            fields: &fields,
        };
        if let Err(problem) = check_item(self.kind, self.record, &row) {
            self.malformed(line, Owner::Person(key), problem);
            return;
        }
        let person = self.people.entry(key).or_default();
        if person.quarantined_at.is_some() {
            return;
        }
        if let Some(first) = first_of_year(&person.lines, year)
            && name_at(bytes, header, first) != name
        {
            person.quarantined_at = Some(line);
            person.name_break = true;
            return;
        }
        person.lines.push(LineRef {
            start,
            end,
            line,
            year,
            tax,
        });
    }
}

/// The owner of a line whose fields could not all be trusted: a checksum-valid ID at the ID
/// column's position, else the year, else nobody.
fn owner_of(header: &Header, fields: &[&str]) -> Owner {
    let id = fields
        .get(header.id)
        .and_then(|id| trim(id).parse::<NationalId>().ok())
        .and_then(|id| id_key(id.as_str()));
    match id {
        Some(key) => Owner::Person(key),
        None => match fields.get(header.year).and_then(|y| parse_year(y)) {
            Some(year) => Owner::Year(year),
            None => Owner::Nobody,
        },
    }
}

/// How a file is split for loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// At most this many threads read one file (each a run of whole lines); the three files
    /// load side by side on top of that. Default: a third of the available cores (at least 1,
    /// at most 16).
    pub chunks_per_file: usize,
    /// A run is at least this many bytes (smaller files are read by one thread).
    pub min_chunk_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            // The three files already load side by side.
            chunks_per_file: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .div_ceil(3)
                .min(16),
            min_chunk_bytes: 1 << 20,
        }
    }
}

fn is_blank(raw: &[u8]) -> bool {
    raw.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

fn is_trailer(raw: &[u8]) -> bool {
    raw == TRAILER || raw.starts_with(TRAILER_PREFIX)
}

/// The last non-blank line of `text[from..]`, if it is a trailer: (its start, its content end).
fn find_trailer(text: &[u8], from: usize) -> Option<(usize, usize)> {
    let body = text.get(from..)?;
    let last = body
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))?;
    let start = body[..last]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let end = body[last..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(body.len(), |i| last + i);
    let content = body[start..end]
        .strip_suffix(b"\r")
        .unwrap_or(&body[start..end]);
    is_trailer(content).then_some((from + start, from + start + content.len()))
}

impl<'m> Loader<'m> {
    fn new(kind: FileKind, record: &'m RecordMapping, path: &Path) -> Self {
        Loader {
            kind,
            record,
            people: HashMap::new(),
            incomplete: Incomplete::default(),
            summary: FileSummary {
                file: kind,
                path: path.to_owned(),
                data_lines: 0,
                served_lines: 0,
                people: 0,
                quarantined_people: 0,
                malformed_lines: 0,
                by_reason: BTreeMap::new(),
                errors: Vec::new(),
                incomplete_years: BTreeSet::new(),
                incomplete_all_years: false,
                elapsed: Duration::ZERO,
            },
        }
    }

    /// Reads the data lines in `text[start..end]`, numbering them from 1; returns how many
    /// lines (blank ones included) there were.
    fn run(&mut self, header: &Header, text: &[u8], start: usize, end: usize) -> u32 {
        let mut seen = 0;
        for (from, to, line) in Lines::range(text, start, end) {
            seen = line;
            let raw = &text[from..to];
            if is_blank(raw) {
                continue;
            }
            if is_trailer(raw) {
                // A trailer before the end: files concatenated, or data after the end.
                self.malformed(line, Owner::Nobody, fault("trailer", "not the last line"));
                continue;
            }
            self.summary.data_lines += 1;
            self.data_line(header, text, from, to, line);
        }
        seen
    }

    /// Makes the first run the base of the file: its line numbers shifted by `offset`, and its
    /// pending name disagreements (there is no earlier run to compare with) counted.
    fn rebase(&mut self, offset: u32) {
        for error in &mut self.summary.errors {
            error.line += offset;
        }
        if let Some(line) = &mut self.incomplete.all {
            *line += offset;
        }
        for line in self.incomplete.years.values_mut() {
            *line += offset;
        }
        let mut disagreeing = Vec::new();
        for (key, person) in &mut self.people {
            for line in &mut person.lines {
                line.line += offset;
            }
            if let Some(line) = &mut person.quarantined_at {
                *line += offset;
                if person.name_break {
                    disagreeing.push((*key, *line));
                }
            }
        }
        let column = self.kind.keys().name;
        for (key, line) in disagreeing {
            self.malformed(line, Owner::Person(key), fault("name_disagrees", column));
        }
    }

    /// Adds the result of the run that follows this one; its line numbers are shifted by
    /// `offset`. A person's lines stay in file order; their name is checked across runs.
    fn absorb(&mut self, run: Loader<'_>, offset: u32, text: &[u8], header: &Header) {
        let Loader {
            people,
            incomplete,
            summary,
            ..
        } = run;
        self.summary.data_lines += summary.data_lines;
        self.summary.malformed_lines += summary.malformed_lines;
        for (reason, count) in summary.by_reason {
            *self.summary.by_reason.entry(reason).or_default() += count;
        }
        for mut error in summary.errors {
            error.line += offset;
            self.summary.errors.push(error);
        }
        if let Some(line) = incomplete.all {
            self.incomplete.all.get_or_insert(line + offset);
        }
        for (year, line) in incomplete.years {
            self.incomplete.years.entry(year).or_insert(line + offset);
        }
        // Name checks are settled here, against the name of the person's first line in the
        // file: (person, line) of each name_disagrees to count.
        let mut disagreeing = Vec::new();
        for (key, mut person) in people {
            for line in &mut person.lines {
                line.line += offset;
            }
            person.quarantined_at = person.quarantined_at.map(|line| line + offset);
            let known = match self.people.entry(key) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    if let (true, Some(line)) = (person.name_break, person.quarantined_at) {
                        disagreeing.push((key, line));
                    }
                    slot.insert(person);
                    continue;
                }
                std::collections::hash_map::Entry::Occupied(slot) => slot.into_mut(),
            };
            if known.quarantined_at.is_some() {
                continue;
            }
            // The first line of this run whose year's name disagrees with the file's name for
            // that year.
            let clash = person
                .lines
                .iter()
                .filter(|l| first_of_year(&person.lines, l.year).is_some_and(|f| f.line == l.line))
                .filter(|l| {
                    first_of_year(&known.lines, l.year)
                        .is_some_and(|k| name_at(text, header, k) != name_at(text, header, l))
                })
                .map(|l| l.line)
                .min();
            if let Some(line) = clash {
                disagreeing.push((key, line));
                continue;
            }
            if let Some(line) = person.quarantined_at {
                known.quarantined_at = Some(line);
                known.lines = Vec::new();
                if person.name_break {
                    disagreeing.push((key, line));
                }
                continue;
            }
            known.lines.append(&mut person.lines);
        }
        for (key, line) in disagreeing {
            let column = self.kind.keys().name;
            self.malformed(line, Owner::Person(key), fault("name_disagrees", column));
        }
    }
}

fn load_table(
    kind: FileKind,
    directory: &Path,
    mapping: &TaxMapping,
    options: LoadOptions,
) -> Result<(Table, FileSummary), LoadError> {
    let started = Instant::now();
    let path = directory.join(kind.file_name());
    let text = std::fs::read(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            LoadError::Missing { path: path.clone() }
        } else {
            LoadError::Io {
                path: path.clone(),
                source,
            }
        }
    })?;
    let record = &mapping.plan(kind).record;
    let header_problem = |problem: String| LoadError::Header {
        path: path.clone(),
        problem,
    };

    let mut lines = Lines::new(&text);
    let Some((start, end, _)) = lines.next() else {
        return Err(header_problem(
            "the file is empty: no header line".to_owned(),
        ));
    };
    let header = header(kind, &text[start..end], mapping).map_err(header_problem)?;
    let body = lines.position();
    let trailer = find_trailer(&text, body);
    let data_end = trailer.map_or(text.len(), |(start, _)| start);

    // Runs of whole lines, one thread each.
    let size = data_end.saturating_sub(body);
    let runs = options
        .chunks_per_file
        .min(size / options.min_chunk_bytes.max(1))
        .max(1);
    let mut bounds = vec![body];
    for i in 1..runs {
        let target = body + size / runs * i;
        let at = text[target..data_end]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(data_end, |p| target + p + 1);
        if bounds.last().is_some_and(|last| at > *last) && at < data_end {
            bounds.push(at);
        }
    }
    bounds.push(data_end);
    let results: Vec<(Loader<'_>, u32)> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let (from, to) = (w[0], w[1]);
                let (header, text, path) = (&header, &text, &path);
                scope.spawn(move || {
                    let mut loader = Loader::new(kind, record, path);
                    let seen = loader.run(header, text, from, to);
                    (loader, seen)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    // A run that died answers as unreadable: the whole file is incomplete.
                    let mut loader = Loader::new(kind, record, &path);
                    loader.malformed(1, Owner::Nobody, fault("load_failed", "thread"));
                    (loader, 0)
                })
            })
            .collect()
    });
    let mut runs = results.into_iter();
    let (mut loader, mut offset) = match runs.next() {
        Some((first, seen)) => {
            // The first run is the base: it keeps its index (no copy), shifted past the
            // header, its name checks settled as they stand.
            let mut first = first;
            first.rebase(1);
            (first, seen.saturating_add(1))
        }
        None => (Loader::new(kind, record, &path), 1),
    };
    for (run, seen) in runs {
        loader.absorb(run, offset, &text, &header);
        offset = offset.saturating_add(seen);
    }
    loader.summary.errors.sort_by_key(|e| e.line);

    match trailer {
        None => loader.malformed(offset, Owner::Nobody, fault("trailer", "missing")),
        Some((start, end)) => {
            let line = offset.saturating_add(1);
            let count = std::str::from_utf8(&text[start..end])
                .ok()
                .and_then(|t| t.split_once('|'))
                .map(|(_, n)| trim(n))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok());
            match count {
                None => loader.malformed(line, Owner::Nobody, fault("trailer", "record count")),
                Some(count) if count != loader.summary.data_lines => {
                    let column = format!(
                        "record count {count}, data lines {}",
                        loader.summary.data_lines
                    );
                    loader.malformed(line, Owner::Nobody, fault("trailer", column));
                }
                Some(_) => {}
            }
        }
    }

    let Loader {
        people,
        incomplete,
        mut summary,
        ..
    } = loader;
    summary.people = people.len();
    summary.quarantined_people = people
        .values()
        .filter(|p| p.quarantined_at.is_some())
        .count();
    let mut people = people;
    for person in people.values_mut() {
        if person.quarantined_at.is_some() {
            person.lines = Vec::new();
        }
    }
    summary.served_lines = people.values().map(|p| p.lines.len() as u64).sum();
    summary.incomplete_years = incomplete.years.keys().copied().collect();
    summary.incomplete_all_years = incomplete.all.is_some();
    summary.elapsed = started.elapsed();
    Ok((
        Table {
            kind,
            text,
            header,
            people,
            incomplete,
        },
        summary,
    ))
}

/// Lines as byte ranges without their terminator (LF, or CR LF), with 1-based numbers.
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    line: u32,
}

impl<'a> Lines<'a> {
    /// A whole file; a byte-order mark before the first line is skipped.
    fn new(bytes: &'a [u8]) -> Self {
        let at = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
        Lines {
            bytes,
            at,
            end: bytes.len(),
            line: 0,
        }
    }

    /// The lines of `bytes[start..end]` (`start` at a line's start).
    fn range(bytes: &'a [u8], start: usize, end: usize) -> Self {
        Lines {
            bytes,
            at: start,
            end: end.min(bytes.len()),
            line: 0,
        }
    }

    /// Where the next line starts.
    fn position(&self) -> usize {
        self.at.min(self.end)
    }
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize, u32);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let start = self.at;
        let rest = self.bytes.get(start..self.end)?;
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(self.end, |i| start + i);
        self.at = end + 1;
        self.line = self.line.saturating_add(1);
        let content_end = if end > start && self.bytes.get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        Some((start, content_end, self.line))
    }
}

/// Logs the load, every malformed line at WARN (the adapter contract's C-OBS-1), and counts
/// them by reason. Only file, line, reason and column are logged, never a value.
fn report(summary: &LoadSummary) {
    for file in &summary.files {
        for (reason, count) in &file.by_reason {
            metrics::counter!(
                "tongdao_adapter_source_malformed_total",
                "adapter" => "tax",
                "reason" => *reason
            )
            .increment(*count);
        }
        for error in &file.errors {
            tracing::warn!(
                location = %format_args!("{}:{}", file.path.display(), error.line),
                reason = error.reason,
                column = error.column.as_deref().unwrap_or(""),
                "tax source: malformed line"
            );
        }
        if file.incomplete_all_years || !file.incomplete_years.is_empty() {
            tracing::error!(
                file = %file.path.display(),
                all_years = file.incomplete_all_years,
                years = ?file.incomplete_years,
                "tax source: file incomplete; its requests answer SOURCE_RECORD_MALFORMED"
            );
        }
        tracing::info!(
            file = %file.path.display(),
            data_lines = file.data_lines,
            served_lines = file.served_lines,
            people = file.people,
            quarantined_people = file.quarantined_people,
            malformed_lines = file.malformed_lines,
            elapsed_ms = file.elapsed.as_millis() as u64,
            "tax source loaded"
        );
    }
}
