//! Writes synthetic [`TaxRecords`] as the Ministry of Finance's three delimited files
//! (`FORMAT.md`): UTF-8 with a byte-order mark, CR LF line ends, a Chinese header line, `|`
//! between fields, a `TRAILER|<count>` line. Used by `tongdao seed`, the demo and the tests.
//!
//! This module shares no code with the reader (`source.rs`) on purpose: a formatting bug here
//! and a parsing bug there cannot cancel out, so the round-trip tests mean something.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use tongdao_synth::RocDate;
use tongdao_synth::registers::{
    IncomeRecord, PaymentRecord, PropertyKind, PropertyRecord, TaxKind, TaxRecords,
};

/// What [`write_files`] wrote: data lines per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeedSummary {
    /// Lines of `income.txt`.
    pub income_lines: u64,
    /// Lines of `property.txt`.
    pub property_lines: u64,
    /// Lines of `payments.txt`.
    pub payment_lines: u64,
}

const INCOME_HEADER: [&str; 10] = [
    "所得年度",
    "所得人統一編號",
    "所得人姓名",
    "所得格式代號",
    "所得類別",
    "扣繳單位統一編號",
    "扣繳單位名稱",
    "給付總額",
    "扣繳稅額",
    "給付淨額",
];

const PROPERTY_HEADER: [&str; 14] = [
    "財產歸屬年度",
    "所有人統一編號",
    "所有人姓名",
    "財產種類",
    "坐落",
    "地號建號",
    "車牌號碼",
    "面積",
    "持分",
    "財產價值",
    "取得日期",
    "被投資單位名稱",
    "被投資單位統一編號",
    "股數",
];

const PAYMENT_HEADER: [&str; 8] = [
    "課稅年度",
    "納稅義務人統一編號",
    "納稅義務人姓名",
    "稅目",
    "稅籍編號",
    "坐落",
    "繳納金額",
    "繳納日期",
];

/// Writes `income.txt`, `property.txt` and `payments.txt` into `dir` (which must exist),
/// replacing them. Refuses (`InvalidInput`) a value the format cannot carry — a `|` or line
/// break, surrounding spaces the reader would trim, an area finer than 0.01 m² — rather than
/// write a file that reads back differently.
pub fn write_files(records: &TaxRecords, dir: &Path) -> io::Result<SeedSummary> {
    let mut summary = SeedSummary::default();

    let mut income = Sheet::create(&dir.join("income.txt"), &INCOME_HEADER)?;
    for record in &records.income {
        income.line(&income_line(record)?)?;
    }
    summary.income_lines = income.finish()?;

    let mut property = Sheet::create(&dir.join("property.txt"), &PROPERTY_HEADER)?;
    for record in &records.property {
        property.line(&property_line(record)?)?;
    }
    summary.property_lines = property.finish()?;

    let mut payments = Sheet::create(&dir.join("payments.txt"), &PAYMENT_HEADER)?;
    for record in &records.payments {
        payments.line(&payment_line(record)?)?;
    }
    summary.payment_lines = payments.finish()?;

    Ok(summary)
}

/// One file being written.
struct Sheet {
    out: BufWriter<File>,
    lines: u64,
}

impl Sheet {
    fn create(path: &Path, header: &[&str]) -> io::Result<Sheet> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all("\u{FEFF}".as_bytes())?;
        out.write_all(header.join("|").as_bytes())?;
        out.write_all(b"\r\n")?;
        Ok(Sheet { out, lines: 0 })
    }

    fn line(&mut self, fields: &[String]) -> io::Result<()> {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b"|")?;
            }
            self.out.write_all(field.as_bytes())?;
        }
        self.out.write_all(b"\r\n")?;
        self.lines += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        write!(self.out, "TRAILER|{}\r\n", self.lines)?;
        self.out
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        Ok(self.lines)
    }
}

fn refuse(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

/// A text value as written: refused if the reader would not read it back as is.
fn text(value: &str) -> io::Result<String> {
    if value.contains(['|', '\r', '\n']) {
        return Err(refuse("a value contains a delimiter or line break"));
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(refuse("a value has surrounding spaces"));
    }
    if value
        .chars()
        .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c))
    {
        return Err(refuse("a value has full-width ASCII forms"));
    }
    Ok(value.to_owned())
}

fn date(d: RocDate) -> String {
    format!("{:03}{:02}{:02}", d.year(), d.month(), d.day())
}

/// Square metres with 2 decimals from exact cm²; empty for 0.
fn area(cm2: i64) -> io::Result<String> {
    if cm2 == 0 {
        return Ok(String::new());
    }
    if cm2 < 0 || cm2 % 100 != 0 {
        return Err(refuse("an area is negative or finer than 0.01 m²"));
    }
    let hundredths = cm2 / 100;
    Ok(format!("{}.{:02}", hundredths / 100, hundredths % 100))
}

/// `全部` for the whole, `n/d` otherwise, empty for no share (0/0).
fn share(numerator: u64, denominator: u64) -> String {
    match (numerator, denominator) {
        (0, 0) => String::new(),
        (1, 1) => "全部".to_owned(),
        (n, d) => format!("{n}/{d}"),
    }
}

fn income_line(r: &IncomeRecord) -> io::Result<Vec<String>> {
    Ok(vec![
        r.income_year_roc.to_string(),
        r.earner_national_id.as_str().to_owned(),
        text(&r.earner_name)?,
        text(r.income_format_code)?,
        text(r.income_format_name)?,
        r.payer_business_number
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_default(),
        text(&r.payer_name)?,
        r.gross_amount.to_string(),
        r.tax_withheld.to_string(),
        r.net_amount.to_string(),
    ])
}

fn property_line(r: &PropertyRecord) -> io::Result<Vec<String>> {
    let kind = match r.kind {
        PropertyKind::Land => "土地",
        PropertyKind::Building => "房屋",
        PropertyKind::Vehicle => "汽機車",
        PropertyKind::Investment => "投資",
    };
    Ok(vec![
        r.year_roc.to_string(),
        r.owner_national_id.as_str().to_owned(),
        text(&r.owner_name)?,
        kind.to_owned(),
        text(&r.location)?,
        text(&r.parcel_or_building_number)?,
        text(&r.plate_number)?,
        area(r.area_cm2)?,
        share(r.share_numerator, r.share_denominator),
        r.assessed_value.to_string(),
        date(r.acquired_on),
        text(&r.investee_name)?,
        r.investee_business_number
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_default(),
        if r.share_count == 0 {
            String::new()
        } else {
            r.share_count.to_string()
        },
    ])
}

fn payment_line(r: &PaymentRecord) -> io::Result<Vec<String>> {
    let kind = match r.kind {
        TaxKind::HouseTax => "房屋稅",
        TaxKind::LandValueTax => "地價稅",
        TaxKind::LicenceTax => "使用牌照稅",
    };
    Ok(vec![
        r.tax_year_roc.to_string(),
        r.taxpayer_national_id.as_str().to_owned(),
        text(&r.taxpayer_name)?,
        kind.to_owned(),
        text(&r.tax_registration_number)?,
        text(&r.property_location)?,
        r.amount_paid.to_string(),
        date(r.paid_on),
    ])
}
