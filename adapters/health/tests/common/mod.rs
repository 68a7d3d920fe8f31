//! Shared by the health adapter's tests: hand-built synthetic records, the expected answers
//! (written from the source records independently of the reader), metric and log capture.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tongdao_adapter_health::{Exports, HealthMapping, HealthService};
use tongdao_core::ids::NationalId;
use tongdao_schemas::health::v1 as pb;
use tongdao_synth::RocDate;
use tongdao_synth::registers::{HealthRecords, LabRecord, VisitRecord, VisitType};

/// A valid national ID from a serial number.
pub(crate) fn id(serial: u32) -> NationalId {
    let letters = ['A', 'B', 'E', 'F', 'H', 'K'];
    let letter = letters[serial as usize % letters.len()];
    let gender = if serial.is_multiple_of(2) { 1 } else { 2 };
    NationalId::with_checksum(letter, gender, 1_000_000 + serial).expect("valid ID parts")
}

/// A ROC date (test data only: panics on an impossible date written in a test).
pub(crate) fn date(year: u16, month: u8, day: u8) -> RocDate {
    RocDate::new(year, month, day).expect("a real date")
}

fn visit(
    who: &NationalId,
    name: &str,
    visit_type: VisitType,
    on: RocDate,
    provider: (&str, &str),
    diagnoses: Vec<(&'static str, &'static str)>,
    orders: Vec<(&'static str, &'static str, &str)>,
) -> VisitRecord {
    VisitRecord {
        national_id: who.clone(),
        name: name.to_owned(),
        visit_type,
        nhi_branch: 1 + (on.day() % 6),
        provider_code: provider.0.to_owned(),
        provider_name: provider.1.to_owned(),
        visit_date: on,
        end_date: None,
        sequence: format!("{:04}", u32::from(on.day()) * 3),
        diagnoses,
        copay_code: "C10",
        claimed_points: 350 + i64::from(on.month()) * 1111,
        orders: orders
            .into_iter()
            .map(|(c, n, q)| (c, n, q.to_owned()))
            .collect(),
    }
}

fn lab(
    who: &NationalId,
    name: &str,
    on: RocDate,
    reported: RocDate,
    item: (&'static str, &'static str, &str, &'static str, &'static str),
) -> LabRecord {
    LabRecord {
        national_id: who.clone(),
        name: name.to_owned(),
        provider_code: "0401180014".to_owned(),
        provider_name: "國立臺灣大學醫學院附設醫院".to_owned(),
        visit_date: on,
        report_date: reported,
        order_code: item.0,
        item_name: item.1,
        value: item.2.to_owned(),
        unit: item.3,
        reference_range: item.4,
    }
}

/// Eight people with a spread of cases: many visits across years, an inpatient stay with an
/// end date, five diagnoses, visits without orders, two visits on one day, qualitative lab
/// results, people with visits only and with lab results only. Lists sorted by (ID, date).
pub(crate) fn records() -> HealthRecords {
    let ntuh = ("0401180014", "國立臺灣大學醫學院附設醫院");
    let clinic = ("3501200000", "安心診所");
    let tcm = ("3502040011", "仁愛中醫診所（分院）");
    let mut visits = Vec::new();
    let mut labs = Vec::new();
    for serial in 0..8u32 {
        let who = id(serial);
        let name = [
            "王小明",
            "林美玲",
            "陳志豪",
            "張雅婷",
            "李建國",
            "黃淑芬",
            "吳俊傑",
            "劉怡君",
        ][serial as usize];
        if serial != 5 {
            // Person 5 has lab results only.
            for (i, year) in [110u16, 111, 112, 113].into_iter().enumerate() {
                let on = date(year, 1 + (serial as u8 + i as u8) % 12, 5 + serial as u8);
                visits.push(visit(
                    &who,
                    name,
                    VisitType::WesternOutpatient,
                    on,
                    clinic,
                    vec![("J06.9", "急性上呼吸道感染")],
                    vec![
                        ("00155C", "一般門診診察費", "1"),
                        ("AC45806100", "普拿疼錠500毫克", "0.5"),
                    ],
                ));
            }
            let mut stay = visit(
                &who,
                name,
                VisitType::Inpatient,
                date(112, 6, 10),
                ntuh,
                vec![
                    ("E11.9", "第二型糖尿病"),
                    ("I10", "原發性高血壓"),
                    ("N18.3", "慢性腎臟病第三期"),
                    ("E78.5", "高血脂症"),
                    ("K21.9", "胃食道逆流"),
                ],
                vec![("09015C", "肌酸酐", "1"), ("09005C", "血糖", "2")],
            );
            stay.end_date = Some(date(112, 6, 17));
            stay.sequence = "IC06".to_owned();
            stay.copay_code = "001";
            stay.claimed_points = 48_213;
            visits.push(stay);
            // Same day, different provider, no orders.
            visits.push(visit(
                &who,
                name,
                VisitType::TcmOutpatient,
                date(112, 6, 10),
                tcm,
                vec![("M54.5", "下背痛")],
                vec![],
            ));
            visits.push(visit(
                &who,
                name,
                VisitType::Emergency,
                date(113, 12, 31),
                ntuh,
                vec![("R10.9", "腹痛")],
                vec![],
            ));
        }
        if serial != 2 && serial != 7 {
            // People 2 and 7 have visits only.
            labs.push(lab(
                &who,
                name,
                date(112, 6, 10),
                date(112, 6, 12),
                ("09015C", "CRE 肌酸酐", "0.9", "mg/dL", "0.7-1.3"),
            ));
            labs.push(lab(
                &who,
                name,
                date(113, 2, 29),
                date(113, 3, 1),
                ("06013C", "尿蛋白", "陰性", "", "陰性"),
            ));
            labs.push(lab(
                &who,
                name,
                date(111, 8, 1),
                date(111, 8, 3),
                ("09005C", "GLU 血糖", "105", "mg/dL", "70-99"),
            ));
        }
    }
    visits.sort_by(|a, b| (&a.national_id, a.visit_date).cmp(&(&b.national_id, b.visit_date)));
    labs.sort_by(|a, b| (&a.national_id, a.visit_date).cmp(&(&b.national_id, b.visit_date)));
    HealthRecords {
        visits,
        lab_results: labs,
    }
}

/// The tests' own normalisation (what the mapping's `text` converter promises): trim ASCII
/// and full-width spaces, full-width ASCII to half-width.
pub(crate) fn norm(text: &str) -> String {
    text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{3000}')
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

pub(crate) fn pb_date(date: RocDate) -> pb::RocDate {
    pb::RocDate {
        year: u32::from(date.year()),
        month: u32::from(date.month()),
        day: u32::from(date.day()),
    }
}

fn visit_type(t: VisitType) -> pb::VisitType {
    match t {
        VisitType::WesternOutpatient => pb::VisitType::WesternOutpatient,
        VisitType::TcmOutpatient => pb::VisitType::TcmOutpatient,
        VisitType::DentalOutpatient => pb::VisitType::DentalOutpatient,
        VisitType::Emergency => pb::VisitType::Emergency,
        VisitType::Inpatient => pb::VisitType::Inpatient,
        VisitType::PharmacyDispensing => pb::VisitType::PharmacyDispensing,
    }
}

fn branch(n: u8) -> pb::NhiBranch {
    match n {
        1 => pb::NhiBranch::Taipei,
        2 => pb::NhiBranch::Northern,
        3 => pb::NhiBranch::Central,
        4 => pb::NhiBranch::Southern,
        5 => pb::NhiBranch::Kaoping,
        6 => pb::NhiBranch::Eastern,
        _ => pb::NhiBranch::Unspecified,
    }
}

/// The answer a source visit should become.
pub(crate) fn expected_visit(v: &VisitRecord) -> pb::Visit {
    pb::Visit {
        visit_type: visit_type(v.visit_type) as i32,
        nhi_branch: branch(v.nhi_branch) as i32,
        provider_code: norm(&v.provider_code),
        provider_name: norm(&v.provider_name),
        visit_date: Some(pb_date(v.visit_date)),
        end_date: v.end_date.map(pb_date),
        sequence: norm(&v.sequence),
        diagnoses: v
            .diagnoses
            .iter()
            .map(|(code, name)| pb::Diagnosis {
                icd10cm_code: norm(code),
                name: norm(name),
            })
            .collect(),
        copay_code: norm(v.copay_code),
        claimed_points: v.claimed_points,
        orders: v
            .orders
            .iter()
            .map(|(code, name, quantity)| pb::Order {
                order_code: norm(code),
                name: norm(name),
                quantity: norm(quantity),
            })
            .collect(),
    }
}

/// The answer a source lab result should become.
pub(crate) fn expected_lab(l: &LabRecord) -> pb::LabResult {
    pb::LabResult {
        provider_code: norm(&l.provider_code),
        provider_name: norm(&l.provider_name),
        visit_date: Some(pb_date(l.visit_date)),
        report_date: Some(pb_date(l.report_date)),
        order_code: norm(l.order_code),
        item_name: norm(l.item_name),
        value: norm(&l.value),
        unit: norm(l.unit),
        reference_range: norm(l.reference_range),
    }
}

/// Keeps the first of equal items (what the reader promises for exact duplicates).
pub(crate) fn first_of_equal<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Expected visits and lab results per person, sorted by visit date (stable).
pub(crate) fn expected(
    records: &HealthRecords,
) -> BTreeMap<NationalId, (String, Vec<pb::Visit>, Vec<pb::LabResult>)> {
    let mut out: BTreeMap<NationalId, (String, Vec<pb::Visit>, Vec<pb::LabResult>)> =
        BTreeMap::new();
    for v in &records.visits {
        let entry = out.entry(v.national_id.clone()).or_default();
        if entry.0.is_empty() {
            entry.0 = norm(&v.name);
        }
        entry.1.push(expected_visit(v));
    }
    for l in &records.lab_results {
        let entry = out.entry(l.national_id.clone()).or_default();
        if entry.0.is_empty() {
            entry.0 = norm(&l.name);
        }
        entry.2.push(expected_lab(l));
    }
    for (_, visits, labs) in out.values_mut() {
        *visits = first_of_equal(std::mem::take(visits));
        *labs = first_of_equal(std::mem::take(labs));
        let key = |d: &Option<pb::RocDate>| d.map(|d| (d.year, d.month, d.day));
        visits.sort_by_key(|v| key(&v.visit_date));
        labs.sort_by_key(|l| key(&l.visit_date));
    }
    out
}

/// Loads `dir` with the shipped mapping into a service.
pub(crate) fn service(dir: &Path) -> HealthService {
    let mapping = HealthMapping::shipped().expect("shipped mapping");
    let exports = Exports::load(dir, &mapping).expect("exports directory");
    HealthService::new(Arc::new(exports))
}

/// Counters recorded while a closure ran, by `name{label=value,…}`.
#[derive(Clone, Default)]
pub(crate) struct CapturedMetrics(Arc<Mutex<BTreeMap<String, u64>>>);

impl CapturedMetrics {
    pub(crate) fn get(&self, key: &str) -> u64 {
        self.0
            .lock()
            .map(|m| m.get(key).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    pub(crate) fn all(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

struct CapturedCounter {
    key: String,
    values: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl metrics::CounterFn for CapturedCounter {
    fn increment(&self, value: u64) {
        if let Ok(mut m) = self.values.lock() {
            *m.entry(self.key.clone()).or_default() += value;
        }
    }

    fn absolute(&self, value: u64) {
        if let Ok(mut m) = self.values.lock() {
            m.insert(self.key.clone(), value);
        }
    }
}

impl metrics::Recorder for CapturedMetrics {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        metrics::Counter::from_arc(Arc::new(CapturedCounter {
            key: format!("{}{{{}}}", key.name(), labels.join(",")),
            values: self.0.clone(),
        }))
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// Log output captured as text.
#[derive(Clone, Default)]
pub(crate) struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    pub(crate) fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with its metrics and its logs at info level and above captured.
pub(crate) fn captured<T>(f: impl FnOnce() -> T) -> (T, CapturedMetrics, String) {
    let metrics = CapturedMetrics::default();
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out =
        tracing::subscriber::with_default(subscriber, || metrics::with_local_recorder(&metrics, f));
    (out, metrics, log.text())
}
