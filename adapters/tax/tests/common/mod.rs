//! Shared helpers: hand-built synthetic records, hand-written files, a metrics recorder.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use tongdao_adapter_tax::{TaxService, TaxSource};
use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_synth::RocDate;
use tongdao_synth::registers::{
    IncomeRecord, PaymentRecord, PropertyKind, PropertyRecord, TaxKind, TaxRecords,
};

/// A checksum-valid national ID: `A1` / `B2` + serial.
pub fn id(serial: u32) -> NationalId {
    let (letter, gender) = if serial.is_multiple_of(2) {
        ('A', 1)
    } else {
        ('B', 2)
    };
    NationalId::with_checksum(letter, gender, serial).expect("valid ID parts")
}

/// `n` distinct checksum-valid business numbers.
pub fn business_numbers(n: usize) -> Vec<BusinessNumber> {
    (10_000_000u32..)
        .filter_map(|v| format!("{v:08}").parse().ok())
        .take(n)
        .collect()
}

pub fn date(y: u16, m: u8, d: u8) -> RocDate {
    RocDate::new(y, m, d).expect("real date")
}

/// Three people over two years with every kind of item, and one person with nothing.
pub fn sample_records() -> TaxRecords {
    let bn = business_numbers(4);
    let people = [
        (id(1_234_560), "陳怡君"),
        (id(2_345_671), "林志明"),
        (id(3_456_782), "王小華"),
    ];
    let mut income = Vec::new();
    let mut property = Vec::new();
    let mut payments = Vec::new();
    for (p, (nid, name)) in people.iter().enumerate() {
        for year in [111u16, 112] {
            let base = 600_000 + 10_000 * p as i64 + i64::from(year);
            income.push(IncomeRecord {
                income_year_roc: year,
                earner_national_id: nid.clone(),
                earner_name: (*name).to_owned(),
                income_format_code: "50",
                income_format_name: "薪資",
                payer_name: "宏達精密股份有限公司".to_owned(),
                payer_business_number: Some(bn[0].clone()),
                gross_amount: base,
                tax_withheld: base / 20,
                net_amount: base - base / 20,
            });
            income.push(IncomeRecord {
                income_year_roc: year,
                earner_national_id: nid.clone(),
                earner_name: (*name).to_owned(),
                income_format_code: "51",
                income_format_name: "租賃",
                payer_name: "張美玲".to_owned(),
                payer_business_number: None,
                gross_amount: 180_000,
                tax_withheld: 0,
                net_amount: 180_000,
            });
            if p == 0 {
                income.push(IncomeRecord {
                    income_year_roc: year,
                    earner_national_id: nid.clone(),
                    earner_name: (*name).to_owned(),
                    income_format_code: "5A",
                    income_format_name: "利息",
                    payer_name: "臺灣第一商業銀行股份有限公司".to_owned(),
                    payer_business_number: Some(bn[1].clone()),
                    gross_amount: 1_234,
                    tax_withheld: 0,
                    net_amount: 1_234,
                });
            }
            property.push(PropertyRecord {
                year_roc: year,
                owner_national_id: nid.clone(),
                owner_name: (*name).to_owned(),
                kind: PropertyKind::Land,
                location: "臺北市大安區仁愛段三小段".to_owned(),
                parcel_or_building_number: format!("04{p}0-0001"),
                plate_number: String::new(),
                area_cm2: 1_234_500 + 100 * p as i64,
                share_numerator: 1,
                share_denominator: 4,
                assessed_value: 3_456_789,
                acquired_on: date(98, 2, 28),
                investee_name: String::new(),
                investee_business_number: None,
                share_count: 0,
            });
            property.push(PropertyRecord {
                year_roc: year,
                owner_national_id: nid.clone(),
                owner_name: (*name).to_owned(),
                kind: PropertyKind::Building,
                location: "臺北市大安區和平東路二段106號3樓".to_owned(),
                parcel_or_building_number: "03493-000".to_owned(),
                plate_number: String::new(),
                area_cm2: 9_876_500,
                share_numerator: 1,
                share_denominator: 1,
                assessed_value: 512_300,
                acquired_on: date(98, 3, 1),
                investee_name: String::new(),
                investee_business_number: None,
                share_count: 0,
            });
            property.push(PropertyRecord {
                year_roc: year,
                owner_national_id: nid.clone(),
                owner_name: (*name).to_owned(),
                kind: PropertyKind::Vehicle,
                location: String::new(),
                parcel_or_building_number: String::new(),
                plate_number: format!("ABC-12{p}4"),
                area_cm2: 0,
                share_numerator: 0,
                share_denominator: 0,
                assessed_value: 0,
                acquired_on: date(109, 12, 31),
                investee_name: String::new(),
                investee_business_number: None,
                share_count: 0,
            });
            property.push(PropertyRecord {
                year_roc: year,
                owner_national_id: nid.clone(),
                owner_name: (*name).to_owned(),
                kind: PropertyKind::Investment,
                location: String::new(),
                parcel_or_building_number: String::new(),
                plate_number: String::new(),
                area_cm2: 0,
                share_numerator: 0,
                share_denominator: 0,
                assessed_value: 150_000,
                acquired_on: date(105, 7, 1),
                investee_name: "宏達精密股份有限公司".to_owned(),
                investee_business_number: Some(bn[0].clone()),
                share_count: 15_000,
            });
            payments.push(PaymentRecord {
                tax_year_roc: year,
                taxpayer_national_id: nid.clone(),
                taxpayer_name: (*name).to_owned(),
                kind: TaxKind::HouseTax,
                tax_registration_number: format!("A01234567{p}"),
                property_location: "臺北市大安區和平東路二段106號3樓".to_owned(),
                amount_paid: 4_812,
                paid_on: date(year, 5, 31),
            });
            payments.push(PaymentRecord {
                tax_year_roc: year,
                taxpayer_national_id: nid.clone(),
                taxpayer_name: (*name).to_owned(),
                kind: TaxKind::LandValueTax,
                tax_registration_number: format!("AA0200-0045000{p}"),
                property_location: "臺北市大安區仁愛段三小段0450-0001".to_owned(),
                amount_paid: 12_034,
                paid_on: date(year, 11, 30),
            });
            payments.push(PaymentRecord {
                tax_year_roc: year,
                taxpayer_national_id: nid.clone(),
                taxpayer_name: (*name).to_owned(),
                kind: TaxKind::LandValueTax,
                tax_registration_number: format!("AA0200-0046000{p}"),
                property_location: "臺北市大安區仁愛段三小段0460-0000".to_owned(),
                amount_paid: 2_100,
                paid_on: date(year, 11, 29),
            });
        }
    }
    TaxRecords {
        income,
        property,
        payments,
    }
}

pub const INCOME_HEADER: &str = "所得年度|所得人統一編號|所得人姓名|所得格式代號|所得類別|扣繳單位統一編號|扣繳單位名稱|給付總額|扣繳稅額|給付淨額";
pub const PROPERTY_HEADER: &str = "財產歸屬年度|所有人統一編號|所有人姓名|財產種類|坐落|地號建號|車牌號碼|面積|持分|財產價值|取得日期|被投資單位名稱|被投資單位統一編號|股數";
pub const PAYMENT_HEADER: &str =
    "課稅年度|納稅義務人統一編號|納稅義務人姓名|稅目|稅籍編號|坐落|繳納金額|繳納日期";

/// A file from its header and data lines, LF ends, with a correct trailer.
pub fn file(header: &str, lines: &[String]) -> String {
    let mut text = format!("{header}\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!("TRAILER|{}\n", lines.len()));
    text
}

/// Writes the three files into `dir`; `None` writes an empty (header + `TRAILER|0`) file.
pub fn write_all(dir: &Path, income: Option<&str>, property: Option<&str>, payments: Option<&str>) {
    let empty = |h: &str| file(h, &[]);
    std::fs::write(
        dir.join("income.txt"),
        income.map_or_else(|| empty(INCOME_HEADER), str::to_owned),
    )
    .expect("write income");
    std::fs::write(
        dir.join("property.txt"),
        property.map_or_else(|| empty(PROPERTY_HEADER), str::to_owned),
    )
    .expect("write property");
    std::fs::write(
        dir.join("payments.txt"),
        payments.map_or_else(|| empty(PAYMENT_HEADER), str::to_owned),
    )
    .expect("write payments");
}

/// An income line of `nid` for `year`.
pub fn income_line(
    year: u16,
    nid: &NationalId,
    name: &str,
    gross: &str,
    withheld: &str,
    net: &str,
) -> String {
    format!(
        "{year}|{nid}|{name}|50|薪資|22099131|台灣積體電路製造股份有限公司|{gross}|{withheld}|{net}"
    )
}

pub fn load(dir: &Path) -> TaxSource {
    tongdao_adapter_tax::load(dir, None).expect("source loads")
}

pub fn service(dir: &Path) -> TaxService {
    TaxService::new(Arc::new(load(dir)))
}

/// Counts every counter increment by name and labels.
#[derive(Debug, Default, Clone)]
pub struct Counts(Arc<Mutex<Vec<Increment>>>);

/// One counter increment: name, labels, value.
type Increment = (String, Vec<(String, String)>, u64);

impl Counts {
    /// The sum of increments of `name` whose labels include all of `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .lock()
            .expect("counts lock")
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }
}

#[derive(Debug)]
struct CounterHandle {
    name: String,
    labels: Vec<(String, String)>,
    counts: Counts,
}

impl metrics::CounterFn for CounterHandle {
    fn increment(&self, value: u64) {
        self.counts.0.lock().expect("counts lock").push((
            self.name.clone(),
            self.labels.clone(),
            value,
        ));
    }

    fn absolute(&self, _value: u64) {}
}

impl metrics::Recorder for Counts {
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
        metrics::Counter::from_arc(Arc::new(CounterHandle {
            name: key.name().to_owned(),
            labels: key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect(),
            counts: self.clone(),
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

/// A `tracing` writer collecting everything logged.
#[derive(Debug, Default, Clone)]
pub struct LogSink(Arc<Mutex<Vec<u8>>>);

impl LogSink {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LogSink;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
