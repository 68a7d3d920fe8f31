//! Writes synthetic health records as My Health Bank (健康存摺) JSON exports (`FORMAT.md`),
//! one file per insured person, with the quirks of real exports injected deterministically so
//! that every seeded dataset exercises the reader's handling of them:
//!
//! | quirk | which people (k = position in national-ID order, from 0) |
//! |---|---|
//! | UTF-8 byte-order mark | k % 3 == 0 |
//! | full-width digits and letters in codes, dates, sequence, points, quantities, values; provider names padded with full-width spaces | k % 2 == 0 |
//! | full-width digits in the records' national ID (`r1.1`, `r7.1`) | k % 6 == 0 |
//! | claimed points with thousands separators (`1,234`) | k % 3 == 1 |
//! | first visit and last lab result written twice (exact duplicates) | k % 4 == 0, and the first person with a visit or lab result if none before |
//! | "無資料" placeholder row at the top of `r7` even though it has rows | k % 5 == 0 |
//! | "無資料" placeholder row for an empty `r1` or `r7`, and in `r1_1` of a visit without orders | always |
//! | blank strings for an absent end date, copay code, unit, reference range and unused diagnosis slots | always |
//!
//! The writer is deliberately independent of the reader (`export.rs`): it shares no helper
//! with it, so a misunderstanding of the format cannot cancel out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tongdao_core::ids::NationalId;
use tongdao_synth::RocDate;
use tongdao_synth::registers::{HealthRecords, LabRecord, VisitRecord, VisitType};

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// The file written for each person.
    pub files: BTreeMap<NationalId, PathBuf>,
    /// Visits written (without the injected duplicates).
    pub visits: usize,
    /// Lab results written (without the injected duplicates).
    pub lab_results: usize,
    /// Files starting with a byte-order mark.
    pub bom_files: usize,
    /// Files with full-width characters in codes and digits.
    pub full_width_files: usize,
    /// "無資料" placeholder rows written.
    pub placeholder_rows: usize,
    /// Duplicate records written.
    pub duplicate_records: usize,
}

/// Writes one export per person of `records` into `dir` (created if needed), named by an
/// opaque file number (`MHB000000001.json`, in national-ID order), never by the ID.
pub fn write_exports(records: &HealthRecords, dir: &Path) -> std::io::Result<SeedSummary> {
    std::fs::create_dir_all(dir)?;
    let mut people: BTreeMap<&NationalId, (Vec<&VisitRecord>, Vec<&LabRecord>)> = BTreeMap::new();
    for visit in &records.visits {
        people.entry(&visit.national_id).or_default().0.push(visit);
    }
    for lab in &records.lab_results {
        people.entry(&lab.national_id).or_default().1.push(lab);
    }
    let mut summary = SeedSummary::default();
    for (k, (id, (visits, labs))) in people.into_iter().enumerate() {
        let quirks = Quirks {
            bom: k % 3 == 0,
            full_width: k % 2 == 0,
            full_width_id: k % 6 == 0,
            grouped_points: k % 3 == 1,
            duplicate: k % 4 == 0 || summary.duplicate_records == 0,
            placeholder_in_r7: k % 5 == 0,
        };
        let path = dir.join(format!("MHB{:09}.json", k + 1));
        let text = export_text(id, &visits, &labs, &quirks, &mut summary)?;
        let mut bytes = Vec::with_capacity(text.len() + 3);
        if quirks.bom {
            bytes.extend_from_slice(b"\xEF\xBB\xBF");
            summary.bom_files += 1;
        }
        bytes.extend_from_slice(text.as_bytes());
        std::fs::write(&path, bytes)?;
        summary.full_width_files += usize::from(quirks.full_width);
        summary.visits += visits.len();
        summary.lab_results += labs.len();
        summary.files.insert(id.clone(), path);
    }
    Ok(summary)
}

/// The quirks of one file.
struct Quirks {
    bom: bool,
    full_width: bool,
    full_width_id: bool,
    grouped_points: bool,
    duplicate: bool,
    placeholder_in_r7: bool,
}

impl Quirks {
    /// A code, date or number as written: full-width ASCII when the file has that quirk.
    fn ascii(&self, text: &str) -> String {
        if !self.full_width {
            return text.to_owned();
        }
        to_full_width(text)
    }

    fn id(&self, id: &NationalId) -> String {
        if self.full_width_id {
            to_full_width(id.as_str())
        } else {
            id.as_str().to_owned()
        }
    }

    fn date(&self, date: RocDate) -> String {
        self.ascii(&format!(
            "{:03}/{:02}/{:02}",
            date.year(),
            date.month(),
            date.day()
        ))
    }

    fn name(&self, name: &str) -> String {
        if self.full_width {
            format!("\u{3000}{name}\u{3000}")
        } else {
            name.to_owned()
        }
    }

    fn points(&self, points: i64) -> String {
        let plain = points.to_string();
        let text = if self.grouped_points && points >= 1000 {
            let digits = plain.as_bytes();
            let mut out = String::with_capacity(plain.len() + plain.len() / 3);
            for (i, d) in digits.iter().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(',');
                }
                out.push(char::from(*d));
            }
            out
        } else {
            plain
        };
        self.ascii(&text)
    }
}

/// Full-width forms of printable ASCII (space excepted).
fn to_full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            other => other,
        })
        .collect()
}

/// The NHI export's wording of a visit type.
fn visit_type_label(visit_type: VisitType) -> &'static str {
    visit_type.label()
}

/// The NHI export's wording of a regional branch; an out-of-range branch is written as its
/// number (the reader will reject it, as it should).
fn branch_label(branch: u8) -> String {
    match branch {
        1 => "臺北業務組".to_owned(),
        2 => "北區業務組".to_owned(),
        3 => "中區業務組".to_owned(),
        4 => "南區業務組".to_owned(),
        5 => "高屏業務組".to_owned(),
        6 => "東區業務組".to_owned(),
        other => other.to_string(),
    }
}

const NO_DATA: &str = "無資料";

/// A JSON object written key by key, in the export's key order.
struct Object(Vec<(String, Json)>);

enum Json {
    Text(String),
    Array(Vec<Object>),
    Object(Object),
}

impl Object {
    fn new() -> Object {
        Object(Vec::new())
    }

    fn text(mut self, key: &str, value: impl Into<String>) -> Object {
        self.0.push((key.to_owned(), Json::Text(value.into())));
        self
    }

    fn array(mut self, key: &str, items: Vec<Object>) -> Object {
        self.0.push((key.to_owned(), Json::Array(items)));
        self
    }

    fn object(mut self, key: &str, object: Object) -> Object {
        self.0.push((key.to_owned(), Json::Object(object)));
        self
    }

    fn write(&self, out: &mut String, indent: usize) -> std::io::Result<()> {
        if self.0.is_empty() {
            out.push_str("{}");
            return Ok(());
        }
        out.push_str("{\n");
        for (i, (key, value)) in self.0.iter().enumerate() {
            pad(out, indent + 1);
            quote(out, key)?;
            out.push_str(": ");
            match value {
                Json::Text(text) => quote(out, text)?,
                Json::Object(object) => object.write(out, indent + 1)?,
                Json::Array(items) if items.is_empty() => out.push_str("[]"),
                Json::Array(items) => {
                    out.push_str("[\n");
                    for (j, item) in items.iter().enumerate() {
                        pad(out, indent + 2);
                        item.write(out, indent + 2)?;
                        if j + 1 < items.len() {
                            out.push(',');
                        }
                        out.push('\n');
                    }
                    pad(out, indent + 1);
                    out.push(']');
                }
            }
            if i + 1 < self.0.len() {
                out.push(',');
            }
            out.push('\n');
        }
        pad(out, indent);
        out.push('}');
        Ok(())
    }
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

fn quote(out: &mut String, text: &str) -> std::io::Result<()> {
    let quoted = serde_json::to_string(text).map_err(std::io::Error::other)?;
    out.push_str(&quoted);
    Ok(())
}

/// The file's text (without a BOM).
fn export_text(
    id: &NationalId,
    visits: &[&VisitRecord],
    labs: &[&LabRecord],
    quirks: &Quirks,
    summary: &mut SeedSummary,
) -> std::io::Result<String> {
    let name = visits
        .first()
        .map(|v| v.name.as_str())
        .or_else(|| labs.first().map(|l| l.name.as_str()))
        .unwrap_or_default();
    let exported_on = visits
        .iter()
        .map(|v| v.end_date.unwrap_or(v.visit_date))
        .chain(labs.iter().map(|l| l.report_date))
        .max();
    let mut bdata = Object::new().text("b1.1", id.as_str()).text("b1.2", name);
    if let Some(date) = exported_on {
        bdata = bdata.text(
            "b1.3",
            format!("{:03}/{:02}/{:02}", date.year(), date.month(), date.day()),
        );
    }

    let mut r1 = Vec::with_capacity(visits.len() + 1);
    for (i, visit) in visits.iter().enumerate() {
        r1.push(visit_object(visit, quirks, summary));
        if i == 0 && quirks.duplicate {
            r1.push(visit_object(visit, quirks, summary));
            summary.duplicate_records += 1;
        }
    }
    if r1.is_empty() {
        r1.push(visit_placeholder(id));
        summary.placeholder_rows += 1;
    }

    let mut r7 = Vec::with_capacity(labs.len() + 2);
    if quirks.placeholder_in_r7 || labs.is_empty() {
        r7.push(lab_placeholder(id));
        summary.placeholder_rows += 1;
    }
    for (i, lab) in labs.iter().enumerate() {
        r7.push(lab_object(lab, quirks));
        if i + 1 == labs.len() && quirks.duplicate {
            r7.push(lab_object(lab, quirks));
            summary.duplicate_records += 1;
        }
    }

    let document = Object::new().object(
        "myhealthbank",
        Object::new()
            .object("bdata", bdata)
            .array("r1", r1)
            .array("r7", r7),
    );
    let mut out = String::with_capacity(1024 + 900 * visits.len() + 400 * labs.len());
    document.write(&mut out, 0)?;
    out.push('\n');
    Ok(out)
}

fn visit_object(visit: &VisitRecord, quirks: &Quirks, summary: &mut SeedSummary) -> Object {
    let mut object = Object::new()
        .text("r1.1", quirks.id(&visit.national_id))
        .text("r1.2", visit_type_label(visit.visit_type))
        .text("r1.3", quirks.ascii(&visit.provider_code))
        .text("r1.4", quirks.name(&visit.provider_name))
        .text("r1.5", branch_label(visit.nhi_branch))
        .text("r1.6", quirks.date(visit.visit_date))
        .text(
            "r1.7",
            visit.end_date.map(|d| quirks.date(d)).unwrap_or_default(),
        )
        .text("r1.8", quirks.ascii(&visit.sequence));
    for slot in 0..5 {
        let (code, name) = visit
            .diagnoses
            .get(slot)
            .map(|(code, name)| (quirks.ascii(code), (*name).to_owned()))
            .unwrap_or_default();
        object = object
            .text(&format!("r1.{}", 9 + 2 * slot), code)
            .text(&format!("r1.{}", 10 + 2 * slot), name);
    }
    let mut orders: Vec<Object> = visit
        .orders
        .iter()
        .map(|(code, name, quantity)| {
            Object::new()
                .text("r1_1.1", quirks.ascii(code))
                .text("r1_1.2", *name)
                .text("r1_1.3", quirks.ascii(quantity))
        })
        .collect();
    if orders.is_empty() {
        orders.push(
            Object::new()
                .text("r1_1.1", NO_DATA)
                .text("r1_1.2", NO_DATA)
                .text("r1_1.3", NO_DATA),
        );
        summary.placeholder_rows += 1;
    }
    object
        .text("r1.19", quirks.ascii(visit.copay_code))
        .text("r1.20", quirks.points(visit.claimed_points))
        .array("r1_1", orders)
}

fn visit_placeholder(id: &NationalId) -> Object {
    let mut object = Object::new().text("r1.1", id.as_str());
    for key in 2..=20 {
        object = object.text(&format!("r1.{key}"), NO_DATA);
    }
    object
}

fn lab_object(lab: &LabRecord, quirks: &Quirks) -> Object {
    Object::new()
        .text("r7.1", quirks.id(&lab.national_id))
        .text("r7.2", quirks.ascii(&lab.provider_code))
        .text("r7.3", quirks.name(&lab.provider_name))
        .text("r7.4", quirks.date(lab.visit_date))
        .text("r7.5", quirks.date(lab.report_date))
        .text("r7.6", quirks.ascii(lab.order_code))
        .text("r7.7", lab.item_name)
        .text("r7.8", quirks.ascii(&lab.value))
        .text("r7.9", lab.unit)
        .text("r7.10", quirks.ascii(lab.reference_range))
}

fn lab_placeholder(id: &NationalId) -> Object {
    let mut object = Object::new().text("r7.1", id.as_str());
    for key in 2..=10 {
        object = object.text(&format!("r7.{key}"), NO_DATA);
    }
    object
}
