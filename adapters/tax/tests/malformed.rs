//! Every kind of bad input gets its documented behaviour (FORMAT.md, "How the reader treats
//! errors"): quarantine of the person in that file, an incomplete file, or a refusal to start.

mod common;

use common::{
    Counts, INCOME_HEADER, LogSink, PAYMENT_HEADER, PROPERTY_HEADER, file, id, income_line,
    write_all,
};
use tongdao_adapter_tax::{FileKind, LoadError, LookupError, TaxService, TaxSource};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::tax::v1::tax_registry_server::TaxRegistry;
use tongdao_schemas::tax::v1::{
    GetTaxPaymentCertificateRequest, ListIncomeRequest, ListPropertyRequest, TaxKind,
};
use tonic::{Code, Request};

fn load(dir: &std::path::Path) -> TaxService {
    common::service(dir)
}

fn income(service: &TaxService, serial: u32, year: u32) -> Result<usize, LookupError> {
    service
        .list_income(&ListIncomeRequest {
            national_id: id(serial).to_string(),
            income_year_roc: year,
        })
        .map(|r| r.items.len())
}

fn property(service: &TaxService, serial: u32, year: u32) -> Result<usize, LookupError> {
    service
        .list_property(&ListPropertyRequest {
            national_id: id(serial).to_string(),
            year_roc: year,
        })
        .map(|r| r.items.len())
}

fn reasons(source: &TaxSource, kind: FileKind) -> Vec<(u32, &'static str)> {
    source
        .summary()
        .file(kind)
        .expect("file summary")
        .errors
        .iter()
        .map(|e| (e.line, e.reason))
        .collect()
}

fn is_malformed(result: &Result<usize, LookupError>) -> bool {
    matches!(
        result,
        Err(LookupError::SourceMalformed { .. } | LookupError::SourceIncomplete { .. })
    )
}

const A: u32 = 1_000_010;
const B: u32 = 1_000_021;

/// Income file: A has a good 111 line and the given 112 line (line 3); B has good lines.
fn income_with(bad: &str) -> String {
    file(
        INCOME_HEADER,
        &[
            income_line(111, &id(A), "陳怡君", "600000", "30000", "570000"),
            bad.to_owned(),
            income_line(112, &id(B), "林志明", "500000", "0", "500000"),
            income_line(111, &id(B), "林志明", "400000", "0", "400000"),
        ],
    )
}

#[test]
fn bad_amount_quarantines_the_person_in_that_file_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = income_line(112, &id(A), "陳怡君", "12a4", "0", "1204");
    let property_text = file(
        PROPERTY_HEADER,
        &[format!(
            "112|{}|陳怡君|房屋|臺北市大安區和平東路二段106號3樓|03493-000||98.76|全部|512300|0980301|||",
            id(A)
        )],
    );
    write_all(
        dir.path(),
        Some(&income_with(&bad)),
        Some(&property_text),
        None,
    );
    let service = load(dir.path());
    assert_eq!(
        reasons(service.source(), FileKind::Income),
        vec![(3, "not_integer")]
    );
    // Both of A's income years are refused, even the one whose line parsed.
    assert!(matches!(
        income(&service, A, 111),
        Err(LookupError::SourceMalformed {
            file: FileKind::Income,
            line: 3
        })
    ));
    assert!(is_malformed(&income(&service, A, 112)));
    // A's property (another file) and B's income are served.
    assert_eq!(property(&service, A, 112).expect("property"), 1);
    assert_eq!(income(&service, B, 112).expect("B"), 1);
    assert_eq!(income(&service, B, 111).expect("B"), 1);
    let summary = service
        .source()
        .summary()
        .file(FileKind::Income)
        .expect("summary");
    assert_eq!(summary.quarantined_people, 1);
    assert_eq!(summary.served_lines, 2);
}

#[tokio::test]
async fn quarantined_person_gets_source_record_malformed_over_grpc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = income_line(112, &id(A), "陳怡君", "600000", "30000", "--");
    write_all(dir.path(), Some(&income_with(&bad)), None, None);
    let service = load(dir.path());
    let status = TaxRegistry::list_income(
        &service,
        Request::new(ListIncomeRequest {
            national_id: id(A).to_string(),
            income_year_roc: 112,
        }),
    )
    .await
    .expect_err("quarantined");
    assert_eq!(status.code(), Code::DataLoss);
    assert_eq!(
        Rejection::reason_of(&status),
        Some(Reason::SourceRecordMalformed)
    );
    assert!(!status.message().contains(id(A).as_str()));
    assert!(!status.message().contains("income.txt"));
}

#[test]
fn amounts_that_disagree_and_unknown_codes_are_malformed() {
    let cases = [
        (
            income_line(112, &id(A), "陳怡君", "600000", "30000", "560000"),
            "amounts_disagree",
        ),
        (
            format!("112|{}|陳怡君|99|薪資|22099131|某公司|1|0|1", id(A)),
            "unknown_income_format",
        ),
        (
            format!("112|{}|陳怡君|50|薪資|22099132|某公司|1|0|1", id(A)),
            "bad_business_number",
        ),
        (
            format!("112|{}|陳怡君|50|薪資|22099131||1|0|1", id(A)),
            "missing",
        ),
        (
            // A's line 2 is of 111 with 陳怡君.
            income_line(111, &id(A), "王大明", "600000", "30000", "570000"),
            "name_disagrees",
        ),
        (
            income_line(112, &id(A), "", "600000", "30000", "570000"),
            "missing_name",
        ),
        (
            format!("1120|{}|陳怡君|50|薪資|22099131|某公司|1|0|1", id(A)),
            "bad_year",
        ),
    ];
    for (bad, reason) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_all(dir.path(), Some(&income_with(&bad)), None, None);
        let service = load(dir.path());
        assert_eq!(
            reasons(service.source(), FileKind::Income),
            vec![(3, reason)],
            "{bad}"
        );
        assert!(is_malformed(&income(&service, A, 111)), "{reason}");
        assert_eq!(income(&service, B, 112).expect("B"), 1, "{reason}");
    }
}

#[test]
fn bad_dates_areas_shares_and_kinds_in_property() {
    let good = |date: &str, area: &str, share: &str, kind: &str| {
        format!(
            "112|{}|陳怡君|{kind}|臺北市大安區仁愛段三小段|0450-0001||{area}|{share}|3456789|{date}|||",
            id(A)
        )
    };
    let other = format!("112|{}|林志明|汽機車|||ABC-1234|||0|1091231|||", id(B));
    let cases = [
        (good("1120230", "123.45", "1/4", "土地"), "bad_date"),
        (good("2023-01-05", "123.45", "1/4", "土地"), "bad_date"),
        (good("", "123.45", "1/4", "土地"), "missing"),
        (good("0980228", "123.456", "1/4", "土地"), "not_decimal"),
        (good("0980228", "123.45", "5/4", "土地"), "bad_share"),
        (good("0980228", "123.45", "1/4", "農地"), "unknown_code"),
    ];
    for (bad, reason) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_all(
            dir.path(),
            None,
            Some(&file(PROPERTY_HEADER, &[bad.clone(), other.clone()])),
            None,
        );
        let service = load(dir.path());
        assert_eq!(
            reasons(service.source(), FileKind::Property),
            vec![(2, reason)],
            "{bad}"
        );
        assert!(is_malformed(&property(&service, A, 112)), "{reason}");
        assert_eq!(property(&service, B, 112).expect("B"), 1);
    }
    // The same line with good values is served.
    let dir = tempfile::tempdir().expect("tempdir");
    let line = good("0980228", "1,234.5", "1/4", "土地");
    write_all(
        dir.path(),
        None,
        Some(&file(PROPERTY_HEADER, &[line])),
        None,
    );
    let service = load(dir.path());
    let items = service
        .list_property(&ListPropertyRequest {
            national_id: id(A).to_string(),
            year_roc: 112,
        })
        .expect("served")
        .items;
    assert_eq!(items[0].area_cm2, 12_345_000);
}

#[test]
fn wrong_column_count_with_a_readable_id_quarantines_that_person() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = format!("112|{}|陳怡君|50|薪資|22099131|某公司|1|0", id(A));
    let long = format!(
        "{}|extra",
        income_line(112, &id(A), "陳怡君", "1", "0", "1")
    );
    for bad in [short, long] {
        write_all(dir.path(), Some(&income_with(&bad)), None, None);
        let service = load(dir.path());
        assert_eq!(
            reasons(service.source(), FileKind::Income),
            vec![(3, "column_count")]
        );
        assert!(is_malformed(&income(&service, A, 111)));
        assert_eq!(income(&service, B, 112).expect("B"), 1);
    }
}

#[test]
fn a_line_nobody_can_be_pinned_on_makes_its_year_incomplete() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Unreadable ID, readable year: 112 is incomplete for everyone, 111 is fine.
    let bad = "112|A12345678X|某人|50|薪資|22099131|某公司|1|0|1";
    write_all(dir.path(), Some(&income_with(bad)), None, None);
    let service = load(dir.path());
    assert_eq!(
        reasons(service.source(), FileKind::Income),
        vec![(3, "bad_national_id")]
    );
    assert!(matches!(
        income(&service, B, 112),
        Err(LookupError::SourceIncomplete {
            file: FileKind::Income,
            line: 3
        })
    ));
    // Even someone absent from the file: their 112 line may be the unreadable one.
    assert!(is_malformed(&income(&service, 4_444_444, 112)));
    assert_eq!(income(&service, B, 111).expect("B 111"), 1);
    assert_eq!(income(&service, A, 111).expect("A 111"), 1);

    // Nothing readable at all: every year of that file is incomplete; other files serve.
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(
        dir.path(),
        Some(&income_with("garbage without delimiters")),
        Some(&file(
            PROPERTY_HEADER,
            &[format!(
                "111|{}|林志明|汽機車|||ABC-1234|||0|1091231|||",
                id(B)
            )],
        )),
        None,
    );
    let service = load(dir.path());
    assert_eq!(
        reasons(service.source(), FileKind::Income),
        vec![(3, "column_count")]
    );
    assert!(is_malformed(&income(&service, B, 111)));
    assert!(is_malformed(&income(&service, B, 1)));
    assert_eq!(property(&service, B, 111).expect("property"), 1);
    let summary = service
        .source()
        .summary()
        .file(FileKind::Income)
        .expect("summary");
    assert!(summary.incomplete_all_years);
}

#[test]
fn a_line_that_is_not_utf8_is_malformed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = income_with("PLACEHOLDER").into_bytes();
    let at = text
        .windows(11)
        .position(|w| w == b"PLACEHOLDER")
        .expect("placeholder");
    let mut bad = format!("112|{}|", id(A)).into_bytes();
    bad.extend_from_slice(&[0xB3, 0xAF, 0xA9, 0xC9]); // 陳怡 in Big5
    bad.extend_from_slice("|50|薪資|22099131|某公司|1|0|1".as_bytes());
    text.splice(at..at + 11, bad);
    std::fs::write(dir.path().join("income.txt"), text).expect("write");
    std::fs::write(dir.path().join("property.txt"), file(PROPERTY_HEADER, &[])).expect("write");
    std::fs::write(dir.path().join("payments.txt"), file(PAYMENT_HEADER, &[])).expect("write");
    let service = load(dir.path());
    assert_eq!(
        reasons(service.source(), FileKind::Income),
        vec![(3, "not_utf8")]
    );
    assert!(is_malformed(&income(&service, A, 111)));
    assert_eq!(income(&service, B, 112).expect("B"), 1);
}

#[test]
fn trailer_problems_make_the_file_incomplete() {
    let lines = [income_line(112, &id(B), "林志明", "500000", "0", "500000")];
    let cases = [
        // Missing (a truncated transfer).
        format!("{INCOME_HEADER}\n{}\n", lines[0]),
        // Count disagrees.
        format!("{INCOME_HEADER}\n{}\nTRAILER|2\n", lines[0]),
        // Not a number.
        format!("{INCOME_HEADER}\n{}\nTRAILER|one\n", lines[0]),
        // Data after it.
        format!("{INCOME_HEADER}\n{}\nTRAILER|1\n{}\n", lines[0], lines[0]),
    ];
    for text in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_all(dir.path(), Some(&text), None, None);
        let service = load(dir.path());
        let found = reasons(service.source(), FileKind::Income);
        assert!(
            !found.is_empty() && found.iter().all(|(_, r)| *r == "trailer"),
            "{text}: {found:?}"
        );
        assert!(is_malformed(&income(&service, B, 112)), "{text}");
        assert_eq!(property(&service, B, 112).expect("other files serve"), 0);
    }
}

#[test]
fn bom_crlf_blank_lines_commas_and_full_width_digits_are_read() {
    let line = |gross: &str, withheld: &str, net: &str| {
        income_line(112, &id(A), "陳怡君", gross, withheld, net)
    };
    let text = format!(
        "\u{FEFF}{INCOME_HEADER}\r\n{}\r\n\r\n{}\n{}\r\nTRAILER|3\r\n\r\n\n",
        line("1,234,567", "61,728", "1,172,839"),
        line("１２３４", "0", "1234"),
        line(" 100 ", "0", "100"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(dir.path(), Some(&text), None, None);
    let service = load(dir.path());
    assert_eq!(reasons(service.source(), FileKind::Income), vec![]);
    let items = service
        .list_income(&ListIncomeRequest {
            national_id: id(A).to_string(),
            income_year_roc: 112,
        })
        .expect("served")
        .items;
    let gross: Vec<i64> = items.iter().map(|i| i.gross_amount).collect();
    assert_eq!(gross, vec![1_234_567, 1_234, 100]);
    // CR stripped: the last field (net) parsed, not "1172839\r".
    assert_eq!(items[0].net_amount, 1_172_839);
}

#[test]
fn a_bom_not_at_the_start_or_a_header_without_bom_stripping_would_fail() {
    // BOM only in front of the header is skipped; anywhere else it is content.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{INCOME_HEADER}\n\u{FEFF}{}\nTRAILER|1\n",
        income_line(112, &id(A), "陳怡君", "1", "0", "1")
    );
    write_all(dir.path(), Some(&text), None, None);
    let service = load(dir.path());
    // The year column reads "\u{FEFF}112": not a year.
    assert_eq!(
        reasons(service.source(), FileKind::Income),
        vec![(2, "bad_year")]
    );
}

#[test]
fn payments_with_bad_tax_item_or_amount_are_malformed() {
    let good = format!(
        "112|{}|林志明|房屋稅|A01234567|臺北市大安區和平東路二段106號3樓|4812|1120531",
        id(B)
    );
    let cases = [
        (
            format!("112|{}|陳怡君|遺產稅|X|某處|100|1120531", id(A)),
            "unknown_tax_item",
        ),
        (
            format!("112|{}|陳怡君|房屋稅|X|某處|0|1120531", id(A)),
            "bad_amount",
        ),
        (
            format!("112|{}|陳怡君|房屋稅|X|某處|100|1121301", id(A)),
            "bad_date",
        ),
    ];
    for (bad, reason) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_all(
            dir.path(),
            None,
            None,
            Some(&file(PAYMENT_HEADER, &[bad.clone(), good.clone()])),
        );
        let service = load(dir.path());
        assert_eq!(
            reasons(service.source(), FileKind::Payments),
            vec![(2, reason)]
        );
        let refused = service
            .payment_certificate(&GetTaxPaymentCertificateRequest {
                national_id: id(A).to_string(),
                kind: TaxKind::HouseTax.into(),
                tax_year_roc: 112,
            })
            .expect_err("quarantined");
        assert!(
            matches!(refused, LookupError::SourceMalformed { .. }),
            "{refused:?}"
        );
        let certificate = service
            .payment_certificate(&GetTaxPaymentCertificateRequest {
                national_id: id(B).to_string(),
                kind: TaxKind::HouseTax.into(),
                tax_year_roc: 112,
            })
            .expect("B's certificate");
        assert_eq!(certificate.total_paid, 4812);
    }
}

#[test]
fn bad_headers_stop_the_load_naming_file_and_column() {
    let without = INCOME_HEADER.replace("|給付總額", "");
    let twice = format!("{INCOME_HEADER}|所得類別");
    let empty_name = format!("{INCOME_HEADER}|");
    let cases = [
        (without.as_str(), "給付總額"),
        (twice.as_str(), "所得類別"),
        (empty_name.as_str(), "no name"),
        ("", "empty"),
    ];
    for (header, expect) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_all(dir.path(), Some(&file(header, &[])), None, None);
        let error = tongdao_adapter_tax::load(dir.path(), None).expect_err("bad header");
        assert!(matches!(error, LoadError::Header { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("income.txt"), "{message}");
        assert!(message.contains(expect), "{message}");
    }
    // An empty file has no header either.
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(dir.path(), Some(""), None, None);
    let error = tongdao_adapter_tax::load(dir.path(), None).expect_err("empty file");
    assert!(error.to_string().contains("no header"), "{error}");
    // Extra columns are ignored.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{INCOME_HEADER}|備註\n{}|無\nTRAILER|1\n",
        income_line(112, &id(A), "陳怡君", "1", "0", "1")
    );
    write_all(dir.path(), Some(&text), None, None);
    let service = load(dir.path());
    assert_eq!(income(&service, A, 112).expect("served"), 1);
}

#[test]
fn a_missing_file_stops_the_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(dir.path(), None, None, None);
    std::fs::remove_file(dir.path().join("property.txt")).expect("remove");
    let error = tongdao_adapter_tax::load(dir.path(), None).expect_err("missing");
    assert!(matches!(error, LoadError::Missing { .. }), "{error:?}");
    assert!(error.to_string().contains("property.txt"), "{error}");
    let error = tongdao_adapter_tax::load(&dir.path().join("nowhere"), None).expect_err("no dir");
    // Every file's problem at once.
    assert!(
        matches!(&error, LoadError::Several(all) if all.len() == 3),
        "{error:?}"
    );
    let message = error.to_string();
    for name in ["income.txt", "property.txt", "payments.txt"] {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn a_configured_mapping_replaces_the_shipped_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The data centre renamed 給付總額 to 給付金額.
    let header = INCOME_HEADER.replace("給付總額", "給付金額");
    let text = file(
        &header,
        &[income_line(112, &id(A), "陳怡君", "100", "0", "100")],
    );
    write_all(dir.path(), Some(&text), None, None);
    let error = tongdao_adapter_tax::load(dir.path(), None).expect_err("shipped mapping");
    assert!(error.to_string().contains("給付總額"), "{error}");

    let mapping = tongdao_adapter_tax::DEFAULT_MAPPING
        .replace("column = \"給付總額\"", "column = \"給付金額\"");
    let mapping_path = dir.path().join("mapping.toml");
    std::fs::write(&mapping_path, mapping).expect("write mapping");
    let source = tongdao_adapter_tax::load(dir.path(), Some(&mapping_path)).expect("loads");
    let service = TaxService::new(std::sync::Arc::new(source));
    assert_eq!(income(&service, A, 112).expect("served"), 1);

    // A mapping that does not fit the schema, or lacks a record, stops the load.
    let broken = tongdao_adapter_tax::DEFAULT_MAPPING.replace("payer_name =", "payer_nam =");
    std::fs::write(&mapping_path, broken).expect("write mapping");
    let error = tongdao_adapter_tax::load(dir.path(), Some(&mapping_path)).expect_err("bad");
    assert!(matches!(error, LoadError::Mapping { .. }), "{error:?}");
    let partial = tongdao_adapter_tax::DEFAULT_MAPPING
        .split("[records.tax_payment]")
        .next()
        .expect("text")
        .to_owned();
    std::fs::write(&mapping_path, partial).expect("write mapping");
    let error = tongdao_adapter_tax::load(dir.path(), Some(&mapping_path)).expect_err("bad");
    assert!(error.to_string().contains("tax_payment"), "{error}");
    let error = tongdao_adapter_tax::load(dir.path(), Some(&dir.path().join("none.toml")))
        .expect_err("no mapping file");
    assert!(matches!(error, LoadError::Mapping { .. }), "{error:?}");
}

#[test]
fn malformed_lines_are_counted_by_reason_and_logged_with_file_and_line_without_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = income_line(112, &id(A), "陳怡君", "12a4", "0", "1204");
    let property_text = file(
        PROPERTY_HEADER,
        &[
            format!(
                "112|{}|陳怡君|房屋|某處|03493-000||98.76|全部|512300|0981301|||",
                id(A)
            ),
            format!(
                "112|{}|陳怡君|房屋|某處|03493-000||98.76|全部|512300|0981302|||",
                id(B)
            ),
        ],
    );
    write_all(
        dir.path(),
        Some(&income_with(&bad)),
        Some(&property_text),
        None,
    );

    let counts = Counts::default();
    let logs = LogSink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let source = tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&counts, || {
            tongdao_adapter_tax::load(dir.path(), None).expect("loads")
        })
    });
    let metric = "tongdao_adapter_source_malformed_total";
    assert_eq!(
        counts.get(metric, &[("adapter", "tax"), ("reason", "not_integer")]),
        1
    );
    assert_eq!(
        counts.get(metric, &[("adapter", "tax"), ("reason", "bad_date")]),
        2
    );
    assert_eq!(counts.get(metric, &[("adapter", "tax")]), 3);
    assert_eq!(source.summary().malformed_lines(), 3);

    let text = logs.text();
    assert!(text.contains("income.txt:3"), "{text}");
    assert!(text.contains("not_integer"), "{text}");
    assert!(text.contains("property.txt:2"), "{text}");
    assert!(text.contains("property.txt:3"), "{text}");
    for serial in [A, B] {
        assert!(!text.contains(id(serial).as_str()), "ID in log: {text}");
    }
    assert!(!text.contains("陳怡君"), "name in log: {text}");

    // A refused lookup logs file and line for operators, still no ID.
    let service = TaxService::new(std::sync::Arc::new(source));
    let logs = LogSink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        assert!(is_malformed(&income(&service, A, 112)));
    });
    let text = logs.text();
    assert!(
        text.contains("income.txt") && text.contains("line=3"),
        "{text}"
    );
    assert!(!text.contains(id(A).as_str()), "{text}");
}

#[test]
fn a_name_change_between_years_is_served_with_each_years_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = file(
        INCOME_HEADER,
        &[
            income_line(111, &id(A), "陳怡君", "100", "0", "100"),
            income_line(112, &id(A), "陳宜君", "200", "0", "200"),
            income_line(111, &id(A), "陳怡君", "300", "0", "300"),
        ],
    );
    write_all(dir.path(), Some(&text), None, None);
    let service = load(dir.path());
    assert_eq!(reasons(service.source(), FileKind::Income), vec![]);
    let answer = |year| {
        service
            .list_income(&ListIncomeRequest {
                national_id: id(A).to_string(),
                income_year_roc: year,
            })
            .expect("served")
    };
    assert_eq!(answer(111).earner_name, "陳怡君");
    assert_eq!(answer(111).items.len(), 2);
    assert_eq!(answer(112).earner_name, "陳宜君");
}

#[test]
fn the_example_in_format_md_reads_as_documented() {
    let doc = include_str!("../FORMAT.md");
    let start = doc
        .find("## Example (`payments.txt`")
        .expect("example section");
    let block = &doc[start..];
    let from = block.find("```\n").expect("code block") + 4;
    let to = from + block[from..].find("```").expect("end of block");
    // The document says CR LF and a BOM; Markdown keeps the BOM, the CRs are put back.
    let example = block[from..to].replace('\n', "\r\n");
    assert!(example.starts_with('\u{FEFF}'));
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(dir.path(), None, None, Some(&example));
    let service = load(dir.path());
    assert_eq!(reasons(service.source(), FileKind::Payments), vec![]);
    let certificate = service
        .payment_certificate(&GetTaxPaymentCertificateRequest {
            national_id: "A123456789".to_owned(),
            kind: TaxKind::HouseTax.into(),
            tax_year_roc: 112,
        })
        .expect("the example's house tax");
    assert_eq!(certificate.total_paid, 4812);
    assert_eq!(certificate.taxpayer_name, "陳怡君");
}
