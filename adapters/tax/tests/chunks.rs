//! A file read by several threads (runs of whole lines) gives exactly what one thread gives:
//! the same answers, the same malformed lines at the same line numbers, quarantine and name
//! checks across runs.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{INCOME_HEADER, file, id, income_line, write_all};
use tongdao_adapter_tax::{
    DEFAULT_MAPPING, FileKind, LoadOptions, LookupError, TaxMapping, TaxService, TaxSource,
};
use tongdao_schemas::tax::v1::{
    GetTaxPaymentCertificateRequest, ListIncomeRequest, ListPropertyRequest, TaxKind,
};

fn load(dir: &Path, chunks: usize) -> TaxSource {
    let mapping = TaxMapping::parse("mapping.toml", DEFAULT_MAPPING).expect("mapping");
    TaxSource::load_with(
        dir,
        mapping,
        LoadOptions {
            chunks_per_file: chunks,
            min_chunk_bytes: 1,
        },
    )
    .expect("loads")
}

fn errors(source: &TaxSource) -> Vec<String> {
    source
        .summary()
        .files
        .iter()
        .flat_map(|f| f.errors.iter().map(ToString::to_string))
        .collect()
}

#[test]
fn generated_registers_answer_the_same_from_one_or_many_runs() {
    let population = tongdao_synth::Population::generate(3, 200);
    let registers = tongdao_synth::Registers::generate(&population);
    let dir = tempfile::tempdir().expect("tempdir");
    tongdao_adapter_tax::seed::write_files(&registers.tax, dir.path()).expect("seed");
    let one = TaxService::new(Arc::new(load(dir.path(), 1)));
    let many = TaxService::new(Arc::new(load(dir.path(), 7)));
    assert!(errors(one.source()).is_empty());
    assert!(errors(many.source()).is_empty());
    let mut compared = 0;
    for r in &registers.tax.income {
        let request = ListIncomeRequest {
            national_id: r.earner_national_id.to_string(),
            income_year_roc: u32::from(r.income_year_roc),
        };
        assert_eq!(one.list_income(&request), many.list_income(&request));
        compared += 1;
    }
    for r in &registers.tax.property {
        let request = ListPropertyRequest {
            national_id: r.owner_national_id.to_string(),
            year_roc: u32::from(r.year_roc),
        };
        assert_eq!(one.list_property(&request), many.list_property(&request));
    }
    for r in &registers.tax.payments {
        for kind in [
            TaxKind::HouseTax,
            TaxKind::LandValueTax,
            TaxKind::LicenceTax,
        ] {
            let request = GetTaxPaymentCertificateRequest {
                national_id: r.taxpayer_national_id.to_string(),
                kind: kind.into(),
                tax_year_roc: u32::from(r.tax_year_roc),
            };
            assert_eq!(
                one.payment_certificate(&request),
                many.payment_certificate(&request)
            );
        }
    }
    assert!(compared > 0);
}

#[test]
fn quarantine_names_and_line_numbers_hold_across_runs() {
    const A: u32 = 2_000_010;
    const B: u32 = 2_000_021;
    const C: u32 = 2_000_032;
    let mut lines = Vec::new();
    for i in 0..40u32 {
        lines.push(income_line(112, &id(B), "林志明", "100", "0", "100"));
        lines.push(income_line(
            112,
            &id(A),
            "陳怡君",
            &i.to_string(),
            "0",
            &i.to_string(),
        ));
        lines.push(income_line(111, &id(C), "王小華", "5", "0", "5"));
    }
    // Line numbers (header = 1): A's bad amount near the end, C's other name in the middle, a
    // blank line and an unreadable line for 110.
    lines[100] = income_line(112, &id(A), "陳怡君", "x", "0", "1"); // line 102
    lines[62] = income_line(111, &id(C), "王曉華", "5", "0", "5"); // line 64
    lines[30] = String::new(); // line 32, blank
    lines[40] = "110|not-an-id|某人|50|薪資|22099131|某公司|1|0|1".to_owned(); // line 42
    let text = file(INCOME_HEADER, &lines).replace("TRAILER|120", "TRAILER|119");
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(dir.path(), Some(&text), None, None);

    let one = load(dir.path(), 1);
    let expected = vec![
        "income.txt:42: bad_national_id (所得人統一編號)".to_owned(),
        "income.txt:64: name_disagrees (所得人姓名)".to_owned(),
        "income.txt:102: not_integer (gross_amount)".to_owned(),
    ];
    assert_eq!(errors(&one), expected);
    for chunks in [2, 3, 5, 16, 120] {
        let many = load(dir.path(), chunks);
        assert_eq!(errors(&many), expected, "{chunks} runs");
        let service = TaxService::new(Arc::new(many));
        let ask = |serial: u32, year: u32| {
            service.list_income(&ListIncomeRequest {
                national_id: id(serial).to_string(),
                income_year_roc: year,
            })
        };
        assert!(matches!(
            ask(A, 112),
            Err(LookupError::SourceMalformed { line: 102, .. })
        ));
        assert!(matches!(
            ask(C, 111),
            Err(LookupError::SourceMalformed { line: 64, .. })
        ));
        assert!(matches!(
            ask(B, 110),
            Err(LookupError::SourceIncomplete { line: 42, .. })
        ));
        assert_eq!(ask(B, 112).expect("B").items.len(), 39, "{chunks} runs");
        let summary = service
            .source()
            .summary()
            .file(FileKind::Income)
            .expect("summary");
        assert_eq!(summary.data_lines, 119);
        assert_eq!(summary.quarantined_people, 2);
    }
}

#[test]
fn a_name_change_between_years_across_runs_is_not_a_disagreement() {
    const A: u32 = 3_000_010;
    let text = file(
        INCOME_HEADER,
        &[
            income_line(111, &id(A), "陳怡君", "100", "0", "100"),
            income_line(112, &id(A), "陳宜君", "200", "0", "200"),
            income_line(111, &id(A), "陳怡君", "300", "0", "300"),
            income_line(112, &id(A), "陳怡君", "400", "0", "400"), // line 5: disagrees in 112
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(dir.path(), Some(&text), None, None);
    for chunks in [1, 2, 3, 4] {
        let source = load(dir.path(), chunks);
        assert_eq!(
            errors(&source),
            vec!["income.txt:5: name_disagrees (所得人姓名)".to_owned()],
            "{chunks} runs"
        );
    }
    let text = file(
        INCOME_HEADER,
        &[
            income_line(111, &id(A), "陳怡君", "100", "0", "100"),
            income_line(112, &id(A), "陳宜君", "200", "0", "200"),
            income_line(111, &id(A), "陳怡君", "300", "0", "300"),
        ],
    );
    write_all(dir.path(), Some(&text), None, None);
    for chunks in [1, 2, 3] {
        let service = TaxService::new(Arc::new(load(dir.path(), chunks)));
        assert!(errors(service.source()).is_empty());
        let answer = service
            .list_income(&ListIncomeRequest {
                national_id: id(A).to_string(),
                income_year_roc: 112,
            })
            .expect("served");
        assert_eq!(answer.earner_name, "陳宜君", "{chunks} runs");
    }
}

#[test]
fn a_run_whose_first_name_is_the_odd_one_and_then_breaks_is_quarantined_at_the_name() {
    const D: u32 = 4_000_010;
    const E: u32 = 4_000_021;
    let text = file(
        INCOME_HEADER,
        &[
            income_line(112, &id(D), "周杰", "1", "0", "1"), // 2
            income_line(112, &id(E), "蔡依", "1", "0", "1"), // 3
            income_line(112, &id(E), "蔡依", "1", "0", "1"), // 4
            income_line(112, &id(D), "周杰倫", "1", "0", "1"), // 5: other name
            income_line(112, &id(D), "周杰倫", "x", "0", "1"), // 6: bad amount too
            income_line(112, &id(E), "蔡依", "1", "0", "1"), // 7
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write_all(dir.path(), Some(&text), None, None);
    let expected = vec![
        "income.txt:5: name_disagrees (所得人姓名)".to_owned(),
        "income.txt:6: not_integer (gross_amount)".to_owned(),
    ];
    for chunks in 1..=6 {
        let service = TaxService::new(Arc::new(load(dir.path(), chunks)));
        assert_eq!(errors(service.source()), expected, "{chunks} runs");
        let ask = |serial: u32| {
            service.list_income(&ListIncomeRequest {
                national_id: id(serial).to_string(),
                income_year_roc: 112,
            })
        };
        assert!(
            matches!(ask(D), Err(LookupError::SourceMalformed { line: 5, .. })),
            "{chunks} runs"
        );
        assert_eq!(ask(E).expect("E").items.len(), 3, "{chunks} runs");
        let summary = service
            .source()
            .summary()
            .file(FileKind::Income)
            .expect("summary");
        assert_eq!(summary.served_lines, 3, "{chunks} runs");
    }
}
