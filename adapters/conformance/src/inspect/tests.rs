use prost_reflect::{DynamicMessage, Value};
use tongdao_core::ids::{BusinessNumber, NationalId};
use tongdao_schemas::descriptors::pool;

use super::*;

fn message(name: &str) -> DynamicMessage {
    DynamicMessage::new(
        pool()
            .get_message_by_name(name)
            .expect("message in the schemas"),
    )
}

fn date(year: u32, month: u32, day: u32) -> DynamicMessage {
    let mut date = message("tongdao.household.v1.RocDate");
    date.set_field_by_name("year", Value::U32(year));
    date.set_field_by_name("month", Value::U32(month));
    date.set_field_by_name("day", Value::U32(day));
    date
}

#[test]
fn roc_dates_are_checked_against_the_calendar() {
    assert_eq!(roc_date_problem(&date(76, 2, 21)), None);
    assert_eq!(roc_date_problem(&date(0, 0, 0)), None, "all zero is unset");
    assert_eq!(
        roc_date_problem(&date(113, 2, 29)),
        None,
        "2024 is a leap year"
    );
    assert!(roc_date_problem(&date(112, 2, 29)).is_some(), "2023 is not");
    assert!(
        roc_date_problem(&date(89, 2, 29)).is_none(),
        "2000 is a leap year"
    );
    assert!(roc_date_problem(&date(189, 2, 29)).is_some(), "2100 is not");
    assert!(roc_date_problem(&date(76, 13, 1)).is_some());
    assert!(roc_date_problem(&date(76, 4, 31)).is_some());
    assert!(roc_date_problem(&date(0, 1, 1)).is_some());
    assert!(roc_date_problem(&date(1000, 1, 1)).is_some());
}

#[test]
fn every_schema_rocdate_is_recognised() {
    for name in [
        "tongdao.household.v1.RocDate",
        "tongdao.land.v1.RocDate",
        "tongdao.tax.v1.RocDate",
        "tongdao.health.v1.RocDate",
        "tongdao.commerce.v1.RocDate",
    ] {
        let descriptor = pool().get_message_by_name(name).expect("RocDate");
        assert!(is_roc_date(&descriptor), "{name}");
    }
    let address = pool()
        .get_message_by_name("tongdao.household.v1.Address")
        .expect("Address");
    assert!(!is_roc_date(&address));
}

#[test]
fn id_rules_follow_field_names_and_classes() {
    let field = |message: &str, name: &str| {
        pool()
            .get_message_by_name(message)
            .and_then(|m| m.get_field_by_name(name))
            .expect("field")
    };
    assert_eq!(
        id_rule(&field("tongdao.household.v1.Member", "national_id")),
        Some(IdRule::NationalId)
    );
    assert_eq!(
        id_rule(&field(
            "tongdao.tax.v1.ListIncomeResponse",
            "earner_national_id"
        )),
        Some(IdRule::NationalId)
    );
    assert_eq!(
        id_rule(&field("tongdao.tax.v1.IncomeItem", "payer_business_number")),
        Some(IdRule::BusinessNumber)
    );
    assert_eq!(
        id_rule(&field("tongdao.land.v1.Ownership", "owner_id")),
        Some(IdRule::NationalIdOrBusinessNumber)
    );
    assert_eq!(
        id_rule(&field(
            "tongdao.household.v1.Transcript",
            "household_number"
        )),
        None
    );
    assert_eq!(
        id_rule(&field("tongdao.health.v1.Visit", "provider_code")),
        None
    );
}

#[test]
fn findings_name_paths_and_never_values() {
    let mut member = message("tongdao.household.v1.Member");
    member.set_field_by_name("national_id", Value::String("A123456780".into()));
    member.set_field_by_name("birth_date", Value::Message(date(76, 2, 30)));
    let mut transcript = message("tongdao.household.v1.Transcript");
    transcript.set_field_by_name("members", Value::List(vec![Value::Message(member)]));
    transcript.set_field_by_name("household_type", Value::EnumNumber(42));
    let mut bytes = prost::Message::encode_to_vec(&transcript);
    // field 99, varint 1: not in the schema
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
    let decoded =
        DynamicMessage::decode(transcript.descriptor(), bytes.as_slice()).expect("decodes");
    let findings = inspect(&decoded);
    assert_eq!(findings.unknown_fields.len(), 1, "{findings:?}");
    assert!(findings.unknown_fields[0].contains("99"));
    assert_eq!(findings.unknown_enums.len(), 1);
    assert!(findings.unknown_enums[0].starts_with("household_type"));
    assert_eq!(findings.bad_dates.len(), 1);
    assert!(findings.bad_dates[0].starts_with("members[0].birth_date"));
    assert_eq!(findings.bad_ids.len(), 1);
    assert!(findings.bad_ids[0].starts_with("members[0].national_id"));
    let all = format!("{findings:?}");
    assert!(
        !all.contains("A123456780"),
        "a finding leaks the value: {all}"
    );
}

#[test]
fn echo_rules() {
    let request = pool()
        .get_message_by_name("tongdao.household.v1.GetTranscriptRequest")
        .expect("request");
    let subject_field = request.get_field_by_name("national_id").expect("subject");
    let subject = Value::String("A123456789".into());
    let transcript_with = |ids: &[&str]| {
        let mut transcript = message("tongdao.household.v1.Transcript");
        let members = ids
            .iter()
            .map(|id| {
                let mut member = message("tongdao.household.v1.Member");
                member.set_field_by_name("national_id", Value::String((*id).into()));
                Value::Message(member)
            })
            .collect();
        transcript.set_field_by_name("members", Value::List(members));
        transcript
    };
    let good = check_echo(
        &transcript_with(&["B234567899", "A123456789"]),
        &subject_field,
        &subject,
        true,
    );
    assert_eq!(good.looked_at, ["members[*].national_id"]);
    assert!(good.problems.is_empty(), "{good:?}");
    let bad = check_echo(
        &transcript_with(&["B234567899"]),
        &subject_field,
        &subject,
        true,
    );
    assert_eq!(bad.problems.len(), 1, "{bad:?}");

    let request = pool()
        .get_message_by_name("tongdao.tax.v1.ListIncomeRequest")
        .expect("request");
    let subject_field = request.get_field_by_name("national_id").expect("subject");
    let mut response = message("tongdao.tax.v1.ListIncomeResponse");
    let empty = check_echo(&response, &subject_field, &subject, false);
    assert_eq!(empty.looked_at, ["earner_national_id"]);
    assert!(
        empty.problems.is_empty(),
        "empty echo allowed without records"
    );
    assert_eq!(
        check_echo(&response, &subject_field, &subject, true)
            .problems
            .len(),
        1
    );
    response.set_field_by_name("earner_national_id", Value::String("B234567899".into()));
    assert_eq!(
        check_echo(&response, &subject_field, &subject, false)
            .problems
            .len(),
        1
    );
    response.set_field_by_name("earner_national_id", Value::String("A123456789".into()));
    assert!(
        check_echo(&response, &subject_field, &subject, true)
            .problems
            .is_empty()
    );
}

#[test]
fn id_shaped_tokens_are_found_and_masked() {
    assert_eq!(national_ids_in("no record for A123456789."), ["******6789"]);
    assert_eq!(
        national_ids_in("A123456780"),
        ["******6780"],
        "checksum does not matter"
    );
    assert!(national_ids_in("XA123456789").is_empty(), "inside a word");
    assert!(national_ids_in("A1234567890").is_empty(), "too long");
    assert!(
        national_ids_in("A323456789").is_empty(),
        "no such second digit"
    );
    assert!(national_ids_in("身分證A123456789不存在").len() == 1);
    assert!(national_ids_in("短").is_empty());
}

#[test]
fn broken_subjects_fail_their_checksum() {
    for valid in ["A123456789", "F131104093", "B234567899"] {
        if valid.parse::<NationalId>().is_err() {
            continue;
        }
        let broken = break_national_id(valid);
        assert_eq!(broken.len(), valid.len());
        assert!(broken.parse::<NationalId>().is_err(), "{broken}");
    }
    assert!(
        break_national_id("A123456789")
            .parse::<NationalId>()
            .is_err()
    );
    for valid in ["22099131", "04595257", "12345675"] {
        if valid.parse::<BusinessNumber>().is_err() {
            continue;
        }
        let broken = break_business_number(valid);
        assert!(broken.parse::<BusinessNumber>().is_err(), "{broken}");
    }
    assert!(
        "22099131".parse::<BusinessNumber>().is_ok(),
        "TSMC's number is the default"
    );
    assert!(
        break_business_number("not digits")
            .parse::<BusinessNumber>()
            .is_err()
    );
    assert!(break_national_id("").parse::<NationalId>().is_err());
    // A sample request may hold anything: never a panic.
    assert!(
        break_national_id("A12345678中")
            .parse::<NationalId>()
            .is_err()
    );
    assert!(
        break_business_number("中")
            .parse::<BusinessNumber>()
            .is_err()
    );
}
