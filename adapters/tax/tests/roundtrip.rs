//! Synthetic records written by `seed` come back through the files, the mapping and the
//! service as answers equal to the records; the contract's answers for unknown people and
//! invalid requests.

mod common;

use std::collections::BTreeSet;

use common::{id, sample_records, service};
use tongdao_adapter_tax::seed::{SeedSummary, write_files};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::tax::v1::tax_registry_server::TaxRegistry;
use tongdao_schemas::tax::v1::{
    GetTaxPaymentCertificateRequest, IncomeItem, ListIncomeRequest, ListPropertyRequest,
    PropertyItem, PropertyKind, RocDate, TaxKind, TaxPayment,
};
use tongdao_synth::registers::{self, TaxRecords};
use tonic::{Code, Request};

fn roc(d: tongdao_synth::RocDate) -> Option<RocDate> {
    Some(RocDate {
        year: u32::from(d.year()),
        month: u32::from(d.month()),
        day: u32::from(d.day()),
    })
}

fn expected_income(r: &registers::IncomeRecord) -> IncomeItem {
    IncomeItem {
        income_format_code: r.income_format_code.to_owned(),
        income_format_name: r.income_format_name.to_owned(),
        payer_name: r.payer_name.clone(),
        payer_business_number: r
            .payer_business_number
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_default(),
        gross_amount: r.gross_amount,
        tax_withheld: r.tax_withheld,
        net_amount: r.net_amount,
    }
}

fn expected_property(r: &registers::PropertyRecord) -> PropertyItem {
    let kind = match r.kind {
        registers::PropertyKind::Land => PropertyKind::Land,
        registers::PropertyKind::Building => PropertyKind::Building,
        registers::PropertyKind::Vehicle => PropertyKind::Vehicle,
        registers::PropertyKind::Investment => PropertyKind::Investment,
    };
    PropertyItem {
        kind: kind.into(),
        location: r.location.clone(),
        parcel_or_building_number: r.parcel_or_building_number.clone(),
        plate_number: r.plate_number.clone(),
        area_cm2: r.area_cm2,
        share_numerator: r.share_numerator,
        share_denominator: r.share_denominator,
        assessed_value: r.assessed_value,
        acquired_on: roc(r.acquired_on),
        investee_name: r.investee_name.clone(),
        investee_business_number: r
            .investee_business_number
            .as_ref()
            .map(|b| b.as_str().to_owned())
            .unwrap_or_default(),
        share_count: r.share_count,
    }
}

fn tax_kind(k: registers::TaxKind) -> TaxKind {
    match k {
        registers::TaxKind::HouseTax => TaxKind::HouseTax,
        registers::TaxKind::LandValueTax => TaxKind::LandValueTax,
        registers::TaxKind::LicenceTax => TaxKind::LicenceTax,
    }
}

/// Writes `records`, loads them back and checks every (person, year) answer against them.
fn assert_round_trip(records: &TaxRecords) {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = write_files(records, dir.path()).expect("seed writes");
    assert_eq!(
        summary,
        SeedSummary {
            income_lines: records.income.len() as u64,
            property_lines: records.property.len() as u64,
            payment_lines: records.payments.len() as u64,
        }
    );
    let service = service(dir.path());
    assert_eq!(service.source().summary().malformed_lines(), 0);

    let keys: BTreeSet<(String, u16)> = records
        .income
        .iter()
        .map(|r| (r.earner_national_id.to_string(), r.income_year_roc))
        .collect();
    for (nid, year) in &keys {
        let mine: Vec<_> = records
            .income
            .iter()
            .filter(|r| r.earner_national_id.as_str() == nid && r.income_year_roc == *year)
            .collect();
        let answer = service
            .list_income(&ListIncomeRequest {
                national_id: nid.clone(),
                income_year_roc: u32::from(*year),
            })
            .expect("income answers");
        assert_eq!(answer.income_year_roc, u32::from(*year));
        assert_eq!(&answer.earner_national_id, nid);
        assert_eq!(answer.earner_name, mine[0].earner_name);
        let expected: Vec<IncomeItem> = mine.iter().map(|r| expected_income(r)).collect();
        assert_eq!(answer.items, expected);
    }

    let keys: BTreeSet<(String, u16)> = records
        .property
        .iter()
        .map(|r| (r.owner_national_id.to_string(), r.year_roc))
        .collect();
    for (nid, year) in &keys {
        let mine: Vec<_> = records
            .property
            .iter()
            .filter(|r| r.owner_national_id.as_str() == nid && r.year_roc == *year)
            .collect();
        let answer = service
            .list_property(&ListPropertyRequest {
                national_id: nid.clone(),
                year_roc: u32::from(*year),
            })
            .expect("property answers");
        assert_eq!(answer.owner_name, mine[0].owner_name);
        assert_eq!(&answer.owner_national_id, nid);
        let expected: Vec<PropertyItem> = mine.iter().map(|r| expected_property(r)).collect();
        assert_eq!(answer.items, expected);
    }

    let keys: BTreeSet<(String, u16, i32)> = records
        .payments
        .iter()
        .map(|r| {
            (
                r.taxpayer_national_id.to_string(),
                r.tax_year_roc,
                tax_kind(r.kind) as i32,
            )
        })
        .collect();
    for (nid, year, kind) in &keys {
        let mine: Vec<_> = records
            .payments
            .iter()
            .filter(|r| {
                r.taxpayer_national_id.as_str() == nid
                    && r.tax_year_roc == *year
                    && tax_kind(r.kind) as i32 == *kind
            })
            .collect();
        let certificate = service
            .payment_certificate(&GetTaxPaymentCertificateRequest {
                national_id: nid.clone(),
                kind: *kind,
                tax_year_roc: u32::from(*year),
            })
            .expect("certificate answers");
        let expected: Vec<TaxPayment> = mine
            .iter()
            .map(|r| TaxPayment {
                tax_registration_number: r.tax_registration_number.clone(),
                property_location: r.property_location.clone(),
                amount_paid: r.amount_paid,
                paid_on: roc(r.paid_on),
            })
            .collect();
        assert_eq!(certificate.payments, expected);
        assert_eq!(
            certificate.total_paid,
            mine.iter().map(|r| r.amount_paid).sum::<i64>()
        );
        assert_eq!(certificate.taxpayer_name, mine[0].taxpayer_name);
        assert_eq!(&certificate.taxpayer_national_id, nid);
        assert_eq!(certificate.kind, *kind);
        assert_eq!(certificate.tax_year_roc, u32::from(*year));
    }
}

#[test]
fn hand_built_records_round_trip() {
    let records = sample_records();
    assert_round_trip(&records);
}

#[test]
fn generated_registers_round_trip() {
    let population = tongdao_synth::Population::generate(7, 300);
    let registers = tongdao_synth::Registers::generate(&population);
    let tax = &registers.tax;
    assert!(
        !tax.income.is_empty() && !tax.property.is_empty() && !tax.payments.is_empty(),
        "the generator fills all three: {} income, {} property, {} payments",
        tax.income.len(),
        tax.property.len(),
        tax.payments.len()
    );
    for kind in [
        registers::PropertyKind::Land,
        registers::PropertyKind::Building,
        registers::PropertyKind::Vehicle,
        registers::PropertyKind::Investment,
    ] {
        assert!(tax.property.iter().any(|p| p.kind == kind), "{kind:?}");
    }
    assert_round_trip(tax);
}

#[test]
fn certificate_numbers_are_deterministic_and_distinct() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_files(&sample_records(), dir.path()).expect("seed writes");
    let service = service(dir.path());
    let ask = |kind: TaxKind, year: u32| {
        service
            .payment_certificate(&GetTaxPaymentCertificateRequest {
                national_id: id(1_234_560).to_string(),
                kind: kind.into(),
                tax_year_roc: year,
            })
            .expect("certificate")
            .certificate_number
    };
    let first = ask(TaxKind::LandValueTax, 112);
    assert_eq!(first, ask(TaxKind::LandValueTax, 112));
    assert!(
        first.starts_with("112地繳字第") && first.ends_with('號'),
        "{first}"
    );
    assert_ne!(first, ask(TaxKind::LandValueTax, 111));
    assert_ne!(first, ask(TaxKind::HouseTax, 112));
    // Two land value tax bills in the sample: both listed, summed.
    let certificate = service
        .payment_certificate(&GetTaxPaymentCertificateRequest {
            national_id: id(1_234_560).to_string(),
            kind: TaxKind::LandValueTax.into(),
            tax_year_roc: 112,
        })
        .expect("certificate");
    assert_eq!(certificate.payments.len(), 2);
    assert_eq!(certificate.total_paid, 12_034 + 2_100);
}

fn reason(status: &tonic::Status) -> Option<Reason> {
    Rejection::reason_of(status)
}

#[tokio::test]
async fn unknown_person_gets_empty_lists_and_no_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_files(&sample_records(), dir.path()).expect("seed writes");
    let service = service(dir.path());
    let nobody = id(7_777_777).to_string();

    let income = TaxRegistry::list_income(
        &service,
        Request::new(ListIncomeRequest {
            national_id: nobody.clone(),
            income_year_roc: 112,
        }),
    )
    .await
    .expect("OK for a valid subject with nothing")
    .into_inner();
    assert!(income.items.is_empty());
    assert_eq!(income.earner_national_id, nobody);
    assert_eq!(income.income_year_roc, 112);

    let property = TaxRegistry::list_property(
        &service,
        Request::new(ListPropertyRequest {
            national_id: nobody.clone(),
            year_roc: 112,
        }),
    )
    .await
    .expect("OK for a valid subject with nothing")
    .into_inner();
    assert!(property.items.is_empty());

    // A known person in a year with nothing is also an empty list.
    let other_year = TaxRegistry::list_income(
        &service,
        Request::new(ListIncomeRequest {
            national_id: id(1_234_560).to_string(),
            income_year_roc: 100,
        }),
    )
    .await
    .expect("OK")
    .into_inner();
    assert!(other_year.items.is_empty());

    for (nid, kind, year) in [
        (nobody.as_str(), TaxKind::HouseTax, 112),
        // Known taxpayer, no licence tax paid.
        (id(1_234_560).as_str(), TaxKind::LicenceTax, 112),
        // Known taxpayer and tax, other year.
        (id(1_234_560).as_str(), TaxKind::HouseTax, 110),
    ] {
        let status = TaxRegistry::get_tax_payment_certificate(
            &service,
            Request::new(GetTaxPaymentCertificateRequest {
                national_id: nid.to_owned(),
                kind: kind.into(),
                tax_year_roc: year,
            }),
        )
        .await
        .expect_err("no payment");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(reason(&status), Some(Reason::RecordNotFound));
        assert!(!status.message().contains(nid), "{}", status.message());
    }
}

#[tokio::test]
async fn invalid_subject_and_request_fields_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_files(&sample_records(), dir.path()).expect("seed writes");
    let service = service(dir.path());
    let mut bad_checksum = id(1_234_560).to_string();
    let last = bad_checksum
        .pop()
        .and_then(|c| c.to_digit(10))
        .expect("digit");
    bad_checksum.push_str(&((last + 1) % 10).to_string());

    for subject in ["", "A12345678", "a123456789", bad_checksum.as_str()] {
        let status = TaxRegistry::list_income(
            &service,
            Request::new(ListIncomeRequest {
                national_id: subject.to_owned(),
                income_year_roc: 112,
            }),
        )
        .await
        .expect_err("invalid subject");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason(&status), Some(Reason::SubjectInvalid), "{subject}");
        if !subject.is_empty() {
            assert!(!status.message().contains(subject));
        }
        let status = TaxRegistry::list_property(
            &service,
            Request::new(ListPropertyRequest {
                national_id: subject.to_owned(),
                year_roc: 112,
            }),
        )
        .await
        .expect_err("invalid subject");
        assert_eq!(reason(&status), Some(Reason::SubjectInvalid));
        let status = TaxRegistry::get_tax_payment_certificate(
            &service,
            Request::new(GetTaxPaymentCertificateRequest {
                national_id: subject.to_owned(),
                kind: TaxKind::HouseTax.into(),
                tax_year_roc: 112,
            }),
        )
        .await
        .expect_err("invalid subject");
        assert_eq!(reason(&status), Some(Reason::SubjectInvalid));
    }

    let good = id(1_234_560).to_string();
    let status = TaxRegistry::list_income(
        &service,
        Request::new(ListIncomeRequest {
            national_id: good.clone(),
            income_year_roc: 0,
        }),
    )
    .await
    .expect_err("year 0");
    assert_eq!(reason(&status), Some(Reason::MalformedRequest));
    let status = TaxRegistry::list_property(
        &service,
        Request::new(ListPropertyRequest {
            national_id: good.clone(),
            year_roc: 2023,
        }),
    )
    .await
    .expect_err("Gregorian year");
    assert_eq!(reason(&status), Some(Reason::MalformedRequest));
    for kind in [TaxKind::Unspecified as i32, 42] {
        let status = TaxRegistry::get_tax_payment_certificate(
            &service,
            Request::new(GetTaxPaymentCertificateRequest {
                national_id: good.clone(),
                kind,
                tax_year_roc: 112,
            }),
        )
        .await
        .expect_err("bad kind");
        assert_eq!(reason(&status), Some(Reason::MalformedRequest));
    }
}

#[test]
fn seed_refuses_values_the_format_cannot_carry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut records = sample_records();
    records.income[0].payer_name = "A|B 公司".to_owned();
    let error = write_files(&records, dir.path()).expect_err("a delimiter in a value");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);

    let mut records = sample_records();
    records.property[0].area_cm2 = 1_234_567; // finer than 0.01 m²
    let error = write_files(&records, dir.path()).expect_err("an area the format cannot carry");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn seeded_files_have_bom_crlf_header_and_trailer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = sample_records();
    write_files(&records, dir.path()).expect("seed writes");
    let text = std::fs::read_to_string(dir.path().join("payments.txt")).expect("read");
    assert!(text.starts_with("\u{FEFF}課稅年度|納稅義務人統一編號|"));
    assert!(text.ends_with(&format!("\r\nTRAILER|{}\r\n", records.payments.len())));
    let property = std::fs::read_to_string(dir.path().join("property.txt")).expect("read");
    // 1,234,500 cm² = 123.45 m²; a 1/1 share is written 全部, a 1/4 share n/d.
    assert!(property.contains("|123.45|1/4|"), "{property}");
    assert!(property.contains("|987.65|全部|"), "{property}");
    assert!(property.contains("|0980228|"));
}
