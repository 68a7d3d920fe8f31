//! Reading a directory of My Health Bank (健康存摺) JSON exports (`FORMAT.md`) into an
//! in-memory index by national ID.
//!
//! Each file is parsed on its own, so the load is linear in the number of files and spread
//! over the machine's cores. The quirks of real exports are handled here, before the mapping
//! sees a record: a UTF-8 byte-order mark is skipped, "無資料" placeholder rows are dropped,
//! exact duplicate records are served once. Normalisation of full-width characters and blank
//! values is the mapping's `text`/`integer`/`roc_date` converters' job, except for the national
//! IDs, which the reader compares itself.
//!
//! A file that cannot be read whole quarantines everyone it names: a request for any national
//! ID found in it answers "source record malformed", never a partial answer. A broken file that
//! names nobody readable makes the directory *incomplete*: a request that finds nothing then
//! also answers "source record malformed", because the person may be in that file.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use prost::Message as _;
use serde_json::{Map, Value};
use tongdao_adapter_sdk::mapping::{Mapping, RecordMapping, RowError};
use tongdao_core::ids::NationalId;
use tongdao_schemas::health::v1::{
    Diagnosis, LabResult, ListLabResultsResponse, ListVisitsResponse, Order, Visit,
};

/// The value of every field of a placeholder row: "no data".
pub const NO_DATA: &str = "無資料";

/// The UTF-8 byte-order mark some exports start with.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Diagnosis slots of a visit record (`diagnosis_1` … `diagnosis_5` in the mapping).
pub const DIAGNOSIS_SLOTS: usize = 5;

/// The shipped mapping (`adapters/health/mapping.toml`).
pub const SHIPPED_MAPPING: &str = include_str!("../mapping.toml");

/// The record mappings the reader needs, resolved once.
#[derive(Debug, Clone)]
pub struct HealthMapping {
    visit: RecordMapping,
    diagnoses: Vec<RecordMapping>,
    order: RecordMapping,
    lab_result: RecordMapping,
}

impl HealthMapping {
    /// The shipped mapping.
    pub fn shipped() -> Result<HealthMapping, Vec<String>> {
        let mapping =
            Mapping::parse("adapters/health/mapping.toml", SHIPPED_MAPPING).map_err(|e| e.0)?;
        HealthMapping::from_mapping(&mapping)
    }

    /// The mapping file at `path` (a replacement for the shipped one).
    pub fn load(path: &Path) -> Result<HealthMapping, Vec<String>> {
        let mapping = Mapping::load(path).map_err(|e| e.0)?;
        HealthMapping::from_mapping(&mapping)
    }

    /// Picks the records the reader needs out of `mapping`; every missing record or record
    /// mapping to the wrong message is a problem.
    pub fn from_mapping(mapping: &Mapping) -> Result<HealthMapping, Vec<String>> {
        let mut problems = Vec::new();
        let mut take = |name: &str, message: &str| -> Option<RecordMapping> {
            match mapping.record(name) {
                Some(record) if record.message_name() == message => Some(record.clone()),
                Some(record) => {
                    problems.push(format!(
                        "mapping record `{name}` maps to {}, expected {message}",
                        record.message_name()
                    ));
                    None
                }
                None => {
                    problems.push(format!("mapping has no record `{name}` ({message})"));
                    None
                }
            }
        };
        let visit = take("visit", "tongdao.health.v1.Visit");
        let diagnoses: Vec<Option<RecordMapping>> = (1..=DIAGNOSIS_SLOTS)
            .map(|n| take(&format!("diagnosis_{n}"), "tongdao.health.v1.Diagnosis"))
            .collect();
        let order = take("order", "tongdao.health.v1.Order");
        let lab_result = take("lab_result", "tongdao.health.v1.LabResult");
        match (
            visit,
            diagnoses.into_iter().collect::<Option<Vec<_>>>(),
            order,
            lab_result,
        ) {
            (Some(visit), Some(diagnoses), Some(order), Some(lab_result))
                if problems.is_empty() =>
            {
                Ok(HealthMapping {
                    visit,
                    diagnoses,
                    order,
                    lab_result,
                })
            }
            _ => Err(problems),
        }
    }
}

/// What is wrong with a file or a record, as a metric label (`reason="…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemKind {
    /// The file could not be read.
    UnreadableFile,
    /// The file is not UTF-8 (after an optional BOM).
    NotUtf8,
    /// The file is not valid JSON.
    InvalidJson,
    /// `myhealthbank`, `bdata`, `r1` or `r7` is missing or of the wrong JSON type, or a record
    /// is not an object.
    BadStructure,
    /// The file's national ID (`bdata.b1.1`) is missing or fails its checksum.
    SubjectInvalid,
    /// A record's national ID (`r1.1`, `r7.1`) differs from the file's.
    SubjectMismatch,
    /// Two files hold the same national ID.
    DuplicateSubject,
    /// A diagnosis slot with a name but no code.
    DiagnosisWithoutCode,
    /// A medical institution code that is not 10 digits.
    BadProviderCode,
    /// A visit's end date before its visit date.
    EndBeforeStart,
    /// A lab result's report date before its visit date.
    ReportBeforeVisit,
    /// A value the mapping rejected; the label is [`RowProblem::reason`]
    /// (`tongdao_adapter_sdk::mapping::RowProblem`), e.g. `bad_date`, `unknown_code`.
    Mapping(&'static str),
}

impl ProblemKind {
    /// The metric label, snake_case.
    pub fn label(self) -> &'static str {
        match self {
            ProblemKind::UnreadableFile => "unreadable_file",
            ProblemKind::NotUtf8 => "not_utf8",
            ProblemKind::InvalidJson => "invalid_json",
            ProblemKind::BadStructure => "bad_structure",
            ProblemKind::SubjectInvalid => "subject_invalid",
            ProblemKind::SubjectMismatch => "subject_mismatch",
            ProblemKind::DuplicateSubject => "duplicate_subject",
            ProblemKind::DiagnosisWithoutCode => "diagnosis_without_code",
            ProblemKind::BadProviderCode => "bad_provider_code",
            ProblemKind::EndBeforeStart => "end_before_start",
            ProblemKind::ReportBeforeVisit => "report_before_visit",
            ProblemKind::Mapping(reason) => reason,
        }
    }
}

/// One malformed file or record. Carries the file, the place in it and what was wrong — never
/// a value from the record, so it is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The export file.
    pub file: PathBuf,
    /// Where in the file: a JSON pointer such as `/myhealthbank/r1/3/r1.6`, or `line L column
    /// C` for a JSON syntax error; empty for the whole file.
    pub at: String,
    /// What was wrong.
    pub kind: ProblemKind,
    /// Detail without record values (the mapped field, the JSON error category).
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if !self.at.is_empty() {
            write!(f, " at {}", self.at)?;
        }
        write!(f, ": {}", self.kind.label())?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// One insured person's records, each list sorted by visit date (file order within a day).
///
/// Kept protobuf-encoded: a million people's records take a fraction of the memory their
/// decoded messages would, and decoding one person's list costs microseconds per request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Name as the export gives it (`bdata.b1.2`), normalised; empty if absent.
    pub name: String,
    /// Visits (r1) with their orders (r1_1), as an encoded `ListVisitsResponse.visits`.
    visits: Box<[u8]>,
    /// Lab results (r7), as an encoded `ListLabResultsResponse.results`.
    lab_results: Box<[u8]>,
    visit_count: u32,
    lab_result_count: u32,
}

impl Person {
    /// A person with these records, sorted as given.
    pub fn new(name: String, visits: Vec<Visit>, lab_results: Vec<LabResult>) -> Person {
        let visit_count = u32::try_from(visits.len()).unwrap_or(u32::MAX);
        let lab_result_count = u32::try_from(lab_results.len()).unwrap_or(u32::MAX);
        Person {
            name,
            visits: ListVisitsResponse {
                visits,
                ..ListVisitsResponse::default()
            }
            .encode_to_vec()
            .into_boxed_slice(),
            lab_results: ListLabResultsResponse {
                results: lab_results,
                ..ListLabResultsResponse::default()
            }
            .encode_to_vec()
            .into_boxed_slice(),
            visit_count,
            lab_result_count,
        }
    }

    /// The visits, oldest first.
    pub fn visits(&self) -> Result<Vec<Visit>, prost::DecodeError> {
        ListVisitsResponse::decode(&*self.visits).map(|r| r.visits)
    }

    /// The lab results, oldest first.
    pub fn lab_results(&self) -> Result<Vec<LabResult>, prost::DecodeError> {
        ListLabResultsResponse::decode(&*self.lab_results).map(|r| r.results)
    }

    /// Number of visits.
    pub fn visit_count(&self) -> usize {
        self.visit_count as usize
    }

    /// Number of lab results.
    pub fn lab_result_count(&self) -> usize {
        self.lab_result_count as usize
    }
}

/// What the index holds for a national ID.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// The person's records, whole.
    Served(Person),
    /// Some file naming the person is malformed: the first problem, for operators.
    Quarantined(Problem),
}

/// The outcome of a lookup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    /// The person's records.
    Found(&'a Person),
    /// The person has no records in the exports.
    Absent,
    /// The person's data is quarantined.
    Quarantined(&'a Problem),
    /// The person is in no readable file, but some broken file names nobody readable: absence
    /// cannot be confirmed. Holds the first such problem.
    Unconfirmed(&'a Problem),
}

/// Counts from one load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// `.json` files read.
    pub files: usize,
    /// People served.
    pub people: usize,
    /// People quarantined.
    pub quarantined_people: usize,
    /// Visits indexed (after deduplication).
    pub visits: usize,
    /// Lab results indexed (after deduplication).
    pub lab_results: usize,
    /// "無資料" placeholder rows skipped.
    pub placeholder_rows: usize,
    /// Exact duplicate records dropped.
    pub duplicate_records: usize,
    /// Files with a byte-order mark.
    pub bom_files: usize,
    /// Malformed files whose people could not be told: they make the directory incomplete.
    pub unattributed_files: usize,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
}

/// The loaded exports: an index by national ID.
#[derive(Debug, Clone, Default)]
pub struct Exports {
    people: HashMap<NationalId, Entry>,
    unattributed: Option<Problem>,
    summary: LoadSummary,
}

/// Why the directory could not be loaded at all (malformed content is not an error: it is
/// quarantined and reported in the [`LoadSummary`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The directory could not be listed.
    #[error("cannot list the exports directory {}: {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Exports {
    /// Reads every `*.json` file directly in `dir` (not in subdirectories), in parallel over
    /// the available cores. Counts malformed files and records in
    /// `tongdao_adapter_source_malformed_total{adapter="health", reason}` and logs each with
    /// its file and position.
    pub fn load(dir: &Path, mapping: &HealthMapping) -> Result<Exports, LoadError> {
        let listing = std::fs::read_dir(dir).map_err(|source| LoadError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|source| LoadError::Directory {
                path: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            let is_json = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let is_file = entry
                .file_type()
                .is_ok_and(|t| t.is_file() || t.is_symlink());
            if is_json && is_file {
                files.push(path);
            } else {
                tracing::debug!(file = %path.display(), "health exports: not a .json file, skipped");
            }
        }
        files.sort();
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        let chunk = files.len().div_ceil(workers).max(1);
        let outcomes: Vec<Vec<FileOutcome>> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|paths| {
                    scope.spawn(move || {
                        paths
                            .iter()
                            .map(|path| match std::fs::read(path) {
                                Ok(bytes) => parse_file(path, &bytes, mapping),
                                Err(e) => FileOutcome::malformed(
                                    Vec::new(),
                                    vec![Problem {
                                        file: path.clone(),
                                        at: String::new(),
                                        kind: ProblemKind::UnreadableFile,
                                        detail: e.kind().to_string(),
                                    }],
                                    false,
                                ),
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        // A worker that died leaves its files unread: the directory cannot
                        // confirm anyone's absence.
                        vec![FileOutcome::malformed(
                            Vec::new(),
                            vec![Problem {
                                file: dir.to_owned(),
                                at: String::new(),
                                kind: ProblemKind::UnreadableFile,
                                detail: "a loading worker failed".to_owned(),
                            }],
                            false,
                        )]
                    })
                })
                .collect()
        });
        let mut exports = Exports {
            people: HashMap::with_capacity(files.len()),
            ..Exports::default()
        };
        exports.summary.files = files.len();
        for outcome in outcomes.into_iter().flatten() {
            exports.add(outcome);
        }
        exports.finish();
        Ok(exports)
    }

    /// Indexes one file's outcome.
    fn add(&mut self, outcome: FileOutcome) {
        let summary = &mut self.summary;
        summary.placeholder_rows += outcome.placeholder_rows;
        summary.duplicate_records += outcome.duplicate_records;
        summary.bom_files += usize::from(outcome.bom);
        match outcome.content {
            Content::Person { id, file, person } => match self.people.get_mut(&id) {
                None => {
                    self.people.insert(id, Entry::Served(person));
                }
                Some(entry) => {
                    let problem = Problem {
                        file,
                        at: "/myhealthbank/bdata/b1.1".to_owned(),
                        kind: ProblemKind::DuplicateSubject,
                        detail: "another file holds the same national ID".to_owned(),
                    };
                    summary.problems.push(problem.clone());
                    if matches!(entry, Entry::Served(_)) {
                        *entry = Entry::Quarantined(problem);
                    }
                }
            },
            Content::Malformed { ids, problems } => {
                let Some(first) = problems.first().cloned() else {
                    return;
                };
                if ids.is_empty() {
                    summary.unattributed_files += 1;
                    if self.unattributed.is_none() {
                        self.unattributed = Some(first.clone());
                    }
                }
                for id in ids {
                    match self.people.get_mut(&id) {
                        Some(Entry::Quarantined(_)) => {}
                        Some(entry) => *entry = Entry::Quarantined(first.clone()),
                        None => {
                            self.people.insert(id, Entry::Quarantined(first.clone()));
                        }
                    }
                }
                summary.problems.extend(problems);
            }
        }
    }

    /// Totals, metrics and logs.
    fn finish(&mut self) {
        let summary = &mut self.summary;
        for entry in self.people.values() {
            match entry {
                Entry::Served(person) => {
                    summary.people += 1;
                    summary.visits += person.visit_count();
                    summary.lab_results += person.lab_result_count();
                }
                Entry::Quarantined(_) => summary.quarantined_people += 1,
            }
        }
        for problem in &summary.problems {
            metrics::counter!(
                "tongdao_adapter_source_malformed_total",
                "adapter" => "health",
                "reason" => problem.kind.label()
            )
            .increment(1);
        }
        // Every one is logged (adapters/CONTRACT.md C-OBS-1): file, place and rule, no value.
        for problem in &summary.problems {
            tracing::warn!(
                file = %problem.file.display(),
                at = %problem.at,
                reason = problem.kind.label(),
                detail = %problem.detail,
                "health exports: malformed record quarantined"
            );
        }
        tracing::info!(
            files = summary.files,
            people = summary.people,
            quarantined_people = summary.quarantined_people,
            visits = summary.visits,
            lab_results = summary.lab_results,
            placeholder_rows = summary.placeholder_rows,
            duplicate_records = summary.duplicate_records,
            bom_files = summary.bom_files,
            malformed = summary.problems.len(),
            unattributed_files = summary.unattributed_files,
            "health exports loaded"
        );
    }

    /// The person's records, or why they cannot be served.
    pub fn lookup(&self, id: &NationalId) -> Lookup<'_> {
        match self.people.get(id) {
            Some(Entry::Served(person)) => Lookup::Found(person),
            Some(Entry::Quarantined(problem)) => Lookup::Quarantined(problem),
            None => match &self.unattributed {
                Some(problem) => Lookup::Unconfirmed(problem),
                None => Lookup::Absent,
            },
        }
    }

    /// What the load found.
    pub fn summary(&self) -> &LoadSummary {
        &self.summary
    }

    /// Whether every malformed file could be attributed to the people it names.
    pub fn is_complete(&self) -> bool {
        self.unattributed.is_none()
    }
}

/// One file, parsed.
#[derive(Debug, Default)]
struct FileOutcome {
    content: Content,
    placeholder_rows: usize,
    duplicate_records: usize,
    bom: bool,
}

#[derive(Debug)]
enum Content {
    Person {
        id: NationalId,
        file: PathBuf,
        person: Person,
    },
    Malformed {
        /// Every valid national ID the file names: all are quarantined.
        ids: Vec<NationalId>,
        problems: Vec<Problem>,
    },
}

impl Default for Content {
    fn default() -> Self {
        Content::Malformed {
            ids: Vec::new(),
            problems: Vec::new(),
        }
    }
}

impl FileOutcome {
    fn malformed(ids: Vec<NationalId>, problems: Vec<Problem>, bom: bool) -> FileOutcome {
        FileOutcome {
            content: Content::Malformed { ids, problems },
            bom,
            ..FileOutcome::default()
        }
    }
}

/// Parses one export file. Never fails: a malformed file is an outcome.
fn parse_file(path: &Path, bytes: &[u8], mapping: &HealthMapping) -> FileOutcome {
    let (bom, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let problem = |at: String, kind: ProblemKind, detail: String| Problem {
        file: path.to_owned(),
        at,
        kind,
        detail,
    };
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let at = format!("byte {}", e.valid_up_to() + if bom { BOM.len() } else { 0 });
            return FileOutcome::malformed(
                scan_ids(body),
                vec![problem(at, ProblemKind::NotUtf8, String::new())],
                bom,
            );
        }
    };
    let root: Value = match serde_json::from_str(text) {
        Ok(root) => root,
        Err(e) => {
            let at = format!("line {} column {}", e.line(), e.column());
            let detail = format!("{:?}", e.classify()).to_lowercase();
            return FileOutcome::malformed(
                scan_ids(body),
                vec![problem(at, ProblemKind::InvalidJson, detail)],
                bom,
            );
        }
    };
    let mut reader = FileReader {
        path,
        mapping,
        problems: Vec::new(),
        placeholder_rows: 0,
        duplicate_records: 0,
    };
    let parsed = reader.document(&root);
    let FileReader {
        problems,
        placeholder_rows,
        duplicate_records,
        ..
    } = reader;
    match parsed {
        Some((id, person)) if problems.is_empty() => FileOutcome {
            content: Content::Person {
                id,
                file: path.to_owned(),
                person,
            },
            placeholder_rows,
            duplicate_records,
            bom,
        },
        _ => {
            let mut ids = scan_ids(body);
            if let Some((id, _)) = parsed
                && !ids.contains(&id)
            {
                ids.push(id);
            }
            FileOutcome {
                content: Content::Malformed {
                    ids,
                    problems: if problems.is_empty() {
                        vec![problem(
                            String::new(),
                            ProblemKind::BadStructure,
                            String::new(),
                        )]
                    } else {
                        problems
                    },
                },
                placeholder_rows,
                duplicate_records,
                bom,
            }
        }
    }
}

/// The parse state of one file.
struct FileReader<'a> {
    path: &'a Path,
    mapping: &'a HealthMapping,
    problems: Vec<Problem>,
    placeholder_rows: usize,
    duplicate_records: usize,
}

impl FileReader<'_> {
    fn problem(&mut self, at: String, kind: ProblemKind, detail: impl Into<String>) {
        self.problems.push(Problem {
            file: self.path.to_owned(),
            at,
            kind,
            detail: detail.into(),
        });
    }

    fn row_problem(&mut self, at: &str, error: &RowError) {
        // The column names the place; the problem's text quotes the value, so only its
        // reason is kept (the value may be health data).
        self.problem(
            format!("{at}/{}", error.source_ref),
            ProblemKind::Mapping(error.problem.reason()),
            format!("field {}", error.field),
        );
    }

    /// The whole document: header, visits, lab results. `None` when the header is unusable;
    /// otherwise the person, to be served only if no problem was recorded.
    fn document(&mut self, root: &Value) -> Option<(NationalId, Person)> {
        let Some(bank) = root.get("myhealthbank").and_then(Value::as_object) else {
            self.problem(
                "/myhealthbank".into(),
                ProblemKind::BadStructure,
                "missing or not an object",
            );
            return None;
        };
        let Some(bdata) = bank.get("bdata").and_then(Value::as_object) else {
            self.problem(
                "/myhealthbank/bdata".into(),
                ProblemKind::BadStructure,
                "missing or not an object",
            );
            return None;
        };
        let id_text = bdata.get("b1.1").and_then(Value::as_str).map(normalize);
        let Some(id) = id_text.and_then(|text| text.parse::<NationalId>().ok()) else {
            self.problem(
                "/myhealthbank/bdata/b1.1".into(),
                ProblemKind::SubjectInvalid,
                "missing or not a valid national ID",
            );
            return None;
        };
        let name = bdata
            .get("b1.2")
            .and_then(Value::as_str)
            .map(normalize)
            .unwrap_or_default();
        let visits = self.section(bank, "r1", &id, |reader, at, record| {
            reader.visit(at, record)
        });
        let lab_results = self.section(bank, "r7", &id, |reader, at, record| {
            match reader.mapping.lab_result.apply_to::<LabResult, _>(record) {
                Ok(result) => {
                    let ok = reader.provider_code(at, "r7.2", &result.provider_code)
                        & reader.not_before(
                            at,
                            "r7.5",
                            result.report_date.as_ref(),
                            result.visit_date.as_ref(),
                            ProblemKind::ReportBeforeVisit,
                        );
                    ok.then_some(result)
                }
                Err(e) => {
                    reader.row_problem(at, &e);
                    None
                }
            }
        });
        let (mut visits, mut lab_results) = (visits, lab_results);
        self.duplicate_records += dedupe(&mut visits);
        self.duplicate_records += dedupe(&mut lab_results);
        visits.sort_by_key(|v| date_key(v.visit_date.as_ref()));
        lab_results.sort_by_key(|r| date_key(r.visit_date.as_ref()));
        let person = Person::new(name, visits, lab_results);
        Some((id, person))
    }

    /// The records of section `key` (`r1`, `r7`): an array of objects, placeholders skipped,
    /// each record's ID (`<key>.1`) checked against the file's.
    fn section<T>(
        &mut self,
        bank: &Map<String, Value>,
        key: &str,
        id: &NationalId,
        mut map: impl FnMut(&mut Self, &str, &Map<String, Value>) -> Option<T>,
    ) -> Vec<T> {
        let Some(rows) = bank.get(key).and_then(Value::as_array) else {
            self.problem(
                format!("/myhealthbank/{key}"),
                ProblemKind::BadStructure,
                "missing or not an array",
            );
            return Vec::new();
        };
        let id_key = format!("{key}.1");
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let at = format!("/myhealthbank/{key}/{i}");
            let Some(record) = row.as_object() else {
                self.problem(at, ProblemKind::BadStructure, "record is not an object");
                continue;
            };
            if is_placeholder(record, Some(&id_key)) {
                self.placeholder_rows += 1;
                continue;
            }
            let record_id = record.get(&id_key).and_then(Value::as_str).map(normalize);
            if record_id.as_deref() != Some(id.as_str()) {
                self.problem(
                    format!("{at}/{id_key}"),
                    ProblemKind::SubjectMismatch,
                    "the record's national ID is missing or not the file's",
                );
                continue;
            }
            if let Some(item) = map(self, &at, record) {
                out.push(item);
            }
        }
        out
    }

    /// A medical institution code must be 10 ASCII digits (after normalisation).
    fn provider_code(&mut self, at: &str, column: &str, code: &str) -> bool {
        let ok = code.len() == 10 && code.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            self.problem(
                format!("{at}/{column}"),
                ProblemKind::BadProviderCode,
                "not 10 digits",
            );
        }
        ok
    }

    /// `later` (at `column`) must not be before `earlier`.
    fn not_before(
        &mut self,
        at: &str,
        column: &str,
        later: Option<&tongdao_schemas::health::v1::RocDate>,
        earlier: Option<&tongdao_schemas::health::v1::RocDate>,
        kind: ProblemKind,
    ) -> bool {
        let ok = date_key(later) >= date_key(earlier);
        if !ok {
            self.problem(format!("{at}/{column}"), kind, String::new());
        }
        ok
    }

    /// One visit record with its diagnoses and orders.
    fn visit(&mut self, at: &str, record: &Map<String, Value>) -> Option<Visit> {
        let mapping = self.mapping;
        let mut visit: Visit = match mapping.visit.apply_to(record) {
            Ok(visit) => visit,
            Err(e) => {
                self.row_problem(at, &e);
                return None;
            }
        };
        let mut ok = self.provider_code(at, "r1.3", &visit.provider_code);
        if visit.end_date.is_some() {
            ok &= self.not_before(
                at,
                "r1.7",
                visit.end_date.as_ref(),
                visit.visit_date.as_ref(),
                ProblemKind::EndBeforeStart,
            );
        }
        for (slot, diagnosis_mapping) in mapping.diagnoses.iter().enumerate() {
            match diagnosis_mapping.apply_to::<Diagnosis, _>(record) {
                Ok(d) if d.icd10cm_code.is_empty() && d.name.is_empty() => {}
                Ok(d) if d.icd10cm_code.is_empty() => {
                    self.problem(
                        at.to_owned(),
                        ProblemKind::DiagnosisWithoutCode,
                        format!("diagnosis slot {}", slot + 1),
                    );
                    ok = false;
                }
                Ok(d) => visit.diagnoses.push(d),
                Err(e) => {
                    self.row_problem(at, &e);
                    ok = false;
                }
            }
        }
        match record.get("r1_1") {
            None | Some(Value::Null) => {}
            Some(Value::Array(orders)) => {
                for (j, order) in orders.iter().enumerate() {
                    let order_at = format!("{at}/r1_1/{j}");
                    let Some(order) = order.as_object() else {
                        self.problem(
                            order_at,
                            ProblemKind::BadStructure,
                            "order is not an object",
                        );
                        ok = false;
                        continue;
                    };
                    if is_placeholder(order, None) {
                        self.placeholder_rows += 1;
                        continue;
                    }
                    match mapping.order.apply_to::<Order, _>(order) {
                        Ok(order) => visit.orders.push(order),
                        Err(e) => {
                            self.row_problem(&order_at, &e);
                            ok = false;
                        }
                    }
                }
            }
            Some(_) => {
                self.problem(
                    format!("{at}/r1_1"),
                    ProblemKind::BadStructure,
                    "orders are not an array",
                );
                ok = false;
            }
        }
        ok.then_some(visit)
    }
}

/// A placeholder row: every string value (the record's national ID `id_key` aside) is "無資料"
/// or blank, at least one is "無資料", and there is nothing else (no nested records).
fn is_placeholder(record: &Map<String, Value>, id_key: Option<&str>) -> bool {
    let mut no_data = false;
    for (key, value) in record {
        match value {
            Value::String(s) => {
                // "無資料" has no ASCII to fold: trimming is all the normalisation it needs.
                let s = s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{3000}');
                if s == NO_DATA {
                    no_data = true;
                } else if !s.is_empty() && Some(key.as_str()) != id_key {
                    return false;
                }
            }
            Value::Null => {}
            Value::Array(items) if items.is_empty() => {}
            _ => return false,
        }
    }
    no_data
}

/// Drops exact duplicates (same encoded message), keeping the first; returns how many went.
fn dedupe<M: prost::Message>(items: &mut Vec<M>) -> usize {
    let before = items.len();
    let mut seen = HashSet::with_capacity(items.len());
    items.retain(|item| seen.insert(item.encode_to_vec()));
    before - items.len()
}

/// A sortable form of a date.
fn date_key(date: Option<&tongdao_schemas::health::v1::RocDate>) -> (u32, u32, u32) {
    date.map_or((0, 0, 0), |d| (d.year, d.month, d.day))
}

/// Trims ASCII and full-width spaces and turns full-width ASCII into half-width: how the
/// reader compares national IDs and placeholder values.
pub fn normalize(text: &str) -> String {
    text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{3000}')
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            other => other,
        })
        .collect()
}

/// Every checksum-valid national ID written in `bytes` (full-width digits and letters
/// included; invalid UTF-8 is replaced): the people a broken file is about. Linear in the
/// file's size.
fn scan_ids(bytes: &[u8]) -> Vec<NationalId> {
    let text = String::from_utf8_lossy(bytes);
    let folded: Vec<u8> = if text.chars().any(|c| ('\u{FF10}'..='\u{FF5A}').contains(&c)) {
        let mut folded = String::with_capacity(text.len());
        for c in text.chars() {
            folded.push(match c {
                '\u{FF10}'..='\u{FF5A}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                other => other,
            });
        }
        folded.into_bytes()
    } else {
        text.as_bytes().to_vec()
    };
    let bytes = folded.as_slice();
    let mut ids = Vec::new();
    let mut i = 0;
    while i + 10 <= bytes.len() {
        let window = &bytes[i..i + 10];
        let shaped = window[0].is_ascii_uppercase()
            && matches!(window[1], b'1' | b'2' | b'8' | b'9')
            && window[2..].iter().all(u8::is_ascii_digit);
        let standalone = (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes.get(i + 10).is_none_or(|b| !b.is_ascii_alphanumeric());
        if shaped && standalone {
            if let Some(id) = std::str::from_utf8(window)
                .ok()
                .and_then(|s| s.parse::<NationalId>().ok())
                && !ids.contains(&id)
            {
                ids.push(id);
            }
            i += 10;
        } else {
            i += 1;
        }
    }
    ids
}

#[cfg(test)]
mod tests;
