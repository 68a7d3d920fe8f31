use prost_reflect::Value;
use tongdao_pki::{AgencyRequest, DevPki, LeafSpec, Oid, Profile, ServerRequest};

use super::*;

const KEY: &str = r#"{"landOfficeCode":"GB","sectionCode":"3000","parcelNumber":"0001-0000"}"#;

fn pki() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut pki = DevPki::new(Profile::embedded()).expect("dev PKI");
    pki.issue_broker(ServerRequest::new(["broker.tongdao.test"]))
        .expect("broker");
    pki.issue(
        "taipei-tax",
        LeafSpec::Agency(AgencyRequest::new(
            "財政部臺北國稅局",
            Oid::parse("2.16.886.101.20003.20004.20100").expect("OID"),
        )),
    )
    .expect("agency");
    pki.write_to(dir.path()).expect("write");
    dir
}

fn plan(target: &Target, method: &str) -> Plan {
    let method = target
        .service
        .methods()
        .find(|m| m.name() == method)
        .expect("method");
    Plan::new(target, method)
}

fn string_field(message: &DynamicMessage, name: &str) -> String {
    match message.get_field_by_name(name).as_deref() {
        Some(Value::String(s)) => s.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn each_method_gets_the_subject_of_its_kind() {
    let dir = pki();
    let target = Target::builder("127.0.0.1:1", "tongdao.land.v1.LandRegistry")
        .dev_pki(dir.path(), "agencies/taipei-tax")
        .subject("A123456789")
        .subject(KEY)
        .absent_subject(
            r#"{"landOfficeCode":"ZZ","sectionCode":"9999","parcelNumber":"9999-9999"}"#,
        )
        .build()
        .expect("target");

    let get = plan(&target, "GetParcel");
    assert_eq!(get.kind, MethodKind::Get);
    let Some(Value::Message(key)) = &get.known else {
        panic!("GetParcel's subject is the parcel key: {:?}", get.known);
    };
    assert_eq!(string_field(key, "land_office_code"), "GB");
    assert!(matches!(get.absent, Some(Value::Message(_))));
    let invalid = get.invalid_requests();
    let labels: Vec<_> = invalid.iter().map(|(label, _)| *label).collect();
    assert_eq!(labels, ["malformed fields", "unset"]);
    let Some(Value::Message(broken)) = invalid[0]
        .1
        .get_field_by_name("key")
        .map(|v| v.into_owned())
    else {
        panic!("a broken key");
    };
    assert_eq!(string_field(&broken, "land_office_code"), "?");
    assert!(!invalid[1].1.has_field_by_name("key"));

    let list = plan(&target, "ListHoldings");
    assert_eq!(list.kind, MethodKind::List);
    assert_eq!(list.known, Some(Value::String("A123456789".into())));
    assert!(list.absent.is_none(), "no absent national ID was given");
    let invalid = list.invalid_requests();
    assert_eq!(invalid.len(), 2);
    let broken = string_field(&invalid[0].1, "national_id");
    assert_ne!(broken, "A123456789");
    assert!(broken.parse::<tongdao_core::ids::NationalId>().is_err());
    assert_eq!(string_field(&invalid[1].1, "national_id"), "");
}

#[test]
fn samples_keep_their_fields_and_get_the_subject_when_they_leave_it_empty() {
    let dir = pki();
    let target = Target::builder("127.0.0.1:1", "tongdao.tax.v1.TaxRegistry")
        .dev_pki(dir.path(), "agencies/taipei-tax")
        .subject("A123456789")
        .request_arg(r#"ListIncome={"incomeYearRoc":112}"#)
        .request_arg(
            r#"tongdao.tax.v1.TaxRegistry/ListProperty={"nationalId":"F131104093","yearRoc":111}"#,
        )
        .build()
        .expect("target");
    let income = plan(&target, "ListIncome");
    assert!(income.from_sample);
    assert_eq!(string_field(&income.base, "national_id"), "A123456789");
    assert_eq!(
        income.base.get_field_by_name("income_year_roc").as_deref(),
        Some(&Value::U32(112))
    );
    let property = plan(&target, "ListProperty");
    assert_eq!(property.known, Some(Value::String("F131104093".into())));
    let certificate = plan(&target, "GetTaxPaymentCertificate");
    assert!(!certificate.from_sample);
    assert_eq!(string_field(&certificate.base, "national_id"), "A123456789");
}

#[test]
fn a_method_without_a_subject_of_its_kind_says_what_to_pass() {
    let dir = pki();
    let target = Target::builder("127.0.0.1:1", "tongdao.commerce.v1.CompanyRegistry")
        .dev_pki(dir.path(), "agencies/taipei-tax")
        .subject("A123456789")
        .build()
        .expect("target");
    let company = plan(&target, "GetCompany");
    assert!(company.known.is_none());
    assert!(company.missing.contains("--subject"), "{}", company.missing);
    // The invalid-subject check needs no known subject.
    assert_eq!(company.invalid_requests().len(), 2);
}

#[test]
fn the_builder_lists_every_problem() {
    let error = Target::builder("no-port", "tongdao.nothing.v1.Nothing")
        .broker("/nonexistent/broker.crt", "/nonexistent/broker.key")
        .ca("/nonexistent/ca.crt")
        .subject("A12345678")
        .absent_subject("not an id")
        .build()
        .expect_err("nothing here is usable");
    let text = error.to_string();
    for expected in [
        "tongdao.nothing.v1.Nothing",
        "host:port",
        "/nonexistent/ca.crt",
        "--subject",
        "--absent-subject",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    assert!(
        !text.contains("A12345678"),
        "a rejected subject is not echoed: {text}"
    );

    let dir = pki();
    let error = Target::builder("127.0.0.1:1", "tongdao.land.v1.LandRegistry")
        .dev_pki(dir.path(), "agencies/taipei-tax")
        .request("GetParcel", r#"{"noSuchField":1}"#)
        .request("NoSuchMethod", "{}")
        .subject(r#"{"noSuchField":1}"#)
        .build()
        .expect_err("bad samples");
    assert_eq!(error.problems.len(), 3, "{error}");
}
