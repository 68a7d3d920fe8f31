//! The mapping as an adapter uses it: a mapping file, rows of every supported shape, and the
//! result decoded into the generated prost types.

use std::collections::{BTreeMap, HashMap};

use prost_reflect::Value;
use tongdao_adapter_sdk::mapping::{FixedWidthLine, Mapping, RowError, RowProblem, SourceRow};
use tongdao_schemas::{land::v1 as land, tax::v1 as tax};

const TAX: &str = r#"
# Property items from the tax register's delimited extract.
[tables.property_kind]            # code tables: source code -> enum value name
"1" = "LAND"
"2" = "BUILDING"
"3" = "VEHICLE"
"4" = "INVESTMENT"

[records.property_item]
message = "tongdao.tax.v1.PropertyItem"
encoding = "utf-8"

[records.property_item.fields]
kind = { column = "財產種類", convert = "code", table = "property_kind" }
location = { column = "坐落" }
parcel_or_building_number = { column = "地號建號", optional = true }
area_cm2 = { column = "面積", convert = "area_m2_to_cm2", optional = true }
share_numerator = { column = "持分", convert = "share_numerator" }
share_denominator = { column = "持分", convert = "share_denominator" }
assessed_value = { column = "財產價值", convert = "integer" }
acquired_on = { column = "取得日期", convert = "roc_date", optional = true }
share_count = { column = "股數", convert = "integer", optional = true }
"#;

const LAND: &str = r#"
[tables.owner_kind]
"1" = "NATURAL_PERSON"
"2" = "JURISTIC_PERSON"
"3" = "PUBLIC_OWNER"
"4" = "FOREIGN_OWNER"

[records.ownership]
message = "tongdao.land.v1.Ownership"

[records.ownership.fields]
register_sequence = { column = "RSEQ", convert = "text_raw" }
registered_on = { column = "RDATE", convert = "roc_date" }
registration_reason = { column = "REASON" }
reason_date = { column = "CDATE", convert = "gregorian_date", optional = true }
owner_name = { column = "NAME" }
owner_id = { column = "ID" }
owner_kind = { column = "KIND", convert = "code", table = "owner_kind" }
share_numerator = { column = "SHARE", convert = "share_numerator" }
share_denominator = { column = "SHARE", convert = "share_denominator" }
declared_land_price_per_m2 = { column = "PRICE", convert = "integer" }
"previous_transfer_on.year" = { column = "PT_YEAR", convert = "integer", optional = true }
"previous_transfer_on.month" = { column = "PT_MONTH", convert = "integer", optional = true }

[records.holding]
message = "tongdao.land.v1.Holding"

[records.holding.fields]
"key.land_office_code" = { column = "UNIT" }
"key.section_code" = { column = "SEC" }
"key.parcel_number" = { column = "NO" }
county = { column = "county" }
area_cm2 = { column = "area", convert = "area_m2_to_cm2" }
"#;

fn tax_row() -> Vec<(String, String)> {
    [
        ("財產種類", "1"),
        ("坐落", "\u{3000}臺北市大安區仁愛段三小段 "),
        ("地號建號", "０００１－０００１"),
        ("面積", "123.45"),
        ("持分", "1/2"),
        ("財產價值", "１，２３４，５６７"),
        ("取得日期", "112/03/05"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn property_item_round_trips_into_the_generated_type() {
    let mapping = Mapping::parse("tax/mapping.toml", TAX).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("property_item").expect("record");
    let item: tax::PropertyItem = record
        .apply_to(&tax_row())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        item,
        tax::PropertyItem {
            kind: tax::PropertyKind::Land as i32,
            location: "臺北市大安區仁愛段三小段".to_owned(),
            parcel_or_building_number: "0001-0001".to_owned(),
            plate_number: String::new(),
            area_cm2: 1_234_500,
            share_numerator: 1,
            share_denominator: 2,
            assessed_value: 1_234_567,
            acquired_on: Some(tax::RocDate {
                year: 112,
                month: 3,
                day: 5
            }),
            investee_name: String::new(),
            investee_business_number: String::new(),
            share_count: 0,
        }
    );

    // The same through the dynamic message.
    let dynamic = record.apply(&tax_row()).expect("maps");
    assert_eq!(
        dynamic
            .transcode_to::<tax::PropertyItem>()
            .expect("decodes"),
        item
    );
}

#[test]
fn ownership_with_nested_roc_dates_round_trips() {
    let mapping = Mapping::parse("land/mapping.toml", LAND).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("ownership").expect("ownership");
    let mut row = BTreeMap::new();
    for (k, v) in [
        ("RSEQ", "0001"),
        ("RDATE", "0980115"),
        ("REASON", "買賣"),
        ("CDATE", "2008-12-20"),
        ("NAME", "林美華"),
        ("ID", "A223456781"),
        ("KIND", "1"),
        ("SHARE", "全部"),
        ("PRICE", "12,800"),
        ("PT_YEAR", "85"),
        ("PT_MONTH", "7"),
    ] {
        row.insert(k.to_owned(), v.to_owned());
    }
    let owner: land::Ownership = record.apply_to(&row).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        owner,
        land::Ownership {
            register_sequence: "0001".to_owned(),
            registered_on: Some(land::RocDate {
                year: 98,
                month: 1,
                day: 15
            }),
            registration_reason: "買賣".to_owned(),
            reason_date: Some(land::RocDate {
                year: 97,
                month: 12,
                day: 20
            }),
            owner_name: "林美華".to_owned(),
            owner_id: "A223456781".to_owned(),
            owner_address: String::new(),
            owner_kind: land::OwnerKind::NaturalPerson as i32,
            share_numerator: 1,
            share_denominator: 1,
            declared_land_price_per_m2: 12_800,
            previous_transfer_value_per_m2: 0,
            previous_transfer_on: Some(land::RocDate {
                year: 85,
                month: 7,
                day: 0
            }),
        }
    );

    // Optional nested parts absent: the nested message is not created at all.
    row.remove("PT_YEAR");
    row.remove("PT_MONTH");
    row.remove("CDATE");
    let owner: land::Ownership = record.apply_to(&row).expect("maps");
    assert_eq!(owner.previous_transfer_on, None);
    assert_eq!(owner.reason_date, None);
}

#[test]
fn holding_from_json_with_nested_key() {
    let mapping = Mapping::parse("land/mapping.toml", LAND).expect("parses");
    let record = mapping.record("holding").expect("holding");
    let json: serde_json::Value = serde_json::json!({
        "UNIT": "AA", "SEC": "0200", "NO": "00010001", "county": "臺北市", "area": 99.5
    });
    let object = json.as_object().expect("object");
    let holding: land::Holding = record.apply_to(object).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        holding.key,
        Some(land::ParcelKey {
            land_office_code: "AA".to_owned(),
            section_code: "0200".to_owned(),
            parcel_number: "00010001".to_owned(),
        })
    );
    assert_eq!(holding.area_cm2, 995_000);
    assert_eq!(holding.county, "臺北市");
    // serde_json::Value works as a row too.
    assert_eq!(
        record.apply_to::<land::Holding, _>(&json).expect("value"),
        holding
    );

    // null is absent; numbers are their text; objects are quoted in errors.
    let null_sec = serde_json::json!({
        "UNIT": "AA", "SEC": null, "NO": "00010001", "county": "臺北市", "area": 1
    });
    let err = record
        .apply_to::<land::Holding, _>(&null_sec)
        .expect_err("null SEC");
    assert_eq!(err.field, "key.section_code");
    assert_eq!(err.problem, RowProblem::Missing);
    let object_area = serde_json::json!({
        "UNIT": "AA", "SEC": "0200", "NO": "1", "county": "x", "area": {"m2": 1}
    });
    let err = record
        .apply_to::<land::Holding, _>(&object_area)
        .expect_err("object area");
    assert_eq!(err.problem, RowProblem::NotDecimal("{\"m2\":1}".to_owned()));
}

#[test]
fn json_dotted_columns_walk_nested_objects() {
    let text = r#"
[records.i]
message = "tongdao.tax.v1.IncomeItem"
[records.i.fields]
payer_name = { column = "payer.name" }
payer_business_number = { column = "payer.ban" }
gross_amount = { column = "amount", convert = "integer" }
"#;
    let mapping = Mapping::parse("m.toml", text).expect("parses");
    let record = mapping.record("i").expect("i");
    let row = serde_json::json!({
        "payer": { "name": "大同股份有限公司", "ban": "04595257" },
        "amount": -1200
    });
    let item: tax::IncomeItem = record.apply_to(&row).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(item.payer_name, "大同股份有限公司");
    assert_eq!(item.payer_business_number, "04595257");
    assert_eq!(item.gross_amount, -1200);
}

#[test]
fn every_row_shape_maps_the_same() {
    let mapping = Mapping::parse("tax/mapping.toml", TAX).expect("parses");
    let record = mapping.record("property_item").expect("record");
    let pairs = tax_row();
    let expected: tax::PropertyItem = record.apply_to(&pairs).expect("pairs");
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let hash: HashMap<String, String> = pairs.iter().cloned().collect();
    let btree: BTreeMap<String, String> = pairs.iter().cloned().collect();
    let json: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    assert_eq!(
        record
            .apply_to::<tax::PropertyItem, _>(borrowed.as_slice())
            .expect("slice"),
        expected
    );
    assert_eq!(
        record
            .apply_to::<tax::PropertyItem, _>(&borrowed)
            .expect("vec"),
        expected
    );
    assert_eq!(
        record
            .apply_to::<tax::PropertyItem, _>(&hash)
            .expect("hash"),
        expected
    );
    assert_eq!(
        record
            .apply_to::<tax::PropertyItem, _>(&btree)
            .expect("btree"),
        expected
    );
    assert_eq!(
        record
            .apply_to::<tax::PropertyItem, _>(&json)
            .expect("json"),
        expected
    );
    // A reference to a row is a row, and so is a fixed-width line behind one.
    let by_ref = &hash;
    assert_eq!(
        record
            .apply_to::<tax::PropertyItem, _>(&by_ref)
            .expect("&&HashMap"),
        expected
    );
    let line = FixedWidthLine(b"abc");
    assert_eq!(SourceRow::raw(&&line), Some(&b"abc"[..]));
}

#[test]
fn apply_to_the_wrong_type_is_an_error_not_a_wrong_value() {
    let mapping = Mapping::parse("tax/mapping.toml", TAX).expect("parses");
    let record = mapping.record("property_item").expect("record");
    let err = record
        .apply_to::<tax::TaxPayment, _>(&tax_row())
        .expect_err("a PropertyItem is not a TaxPayment");
    assert_eq!(err.field, "tongdao.tax.v1.PropertyItem");
    assert!(matches!(err.problem, RowProblem::OutOfRange(_)), "{err}");
}

#[test]
fn a_failing_row_yields_no_message() {
    let mapping = Mapping::parse("tax/mapping.toml", TAX).expect("parses");
    let record = mapping.record("property_item").expect("record");
    let mut row = tax_row();
    for (k, v) in &mut row {
        if k == "取得日期" {
            *v = "112/02/30".to_owned();
        }
    }
    let result: Result<tax::PropertyItem, RowError> = record.apply_to(&row);
    assert_eq!(
        result,
        Err(RowError {
            field: "acquired_on".to_owned(),
            source_ref: "取得日期".to_owned(),
            problem: RowProblem::BadDate("112/02/30".to_owned()),
        })
    );
    assert_eq!(
        result.expect_err("bad").to_string(),
        "acquired_on (from 取得日期): not a valid date: \"112/02/30\""
    );
}

/// A household-style fixed-width Big5 line: name (12 bytes), birth date (7), share (7).
#[test]
fn fixed_width_big5_into_the_generated_type() {
    let text = r#"
[records.payment]
message = "tongdao.tax.v1.TaxPayment"
encoding = "big5"
[records.payment.fields]
property_location = { slice = [0, 12] }
paid_on = { slice = [12, 19], convert = "roc_date" }
amount_paid = { slice = [19, 27], convert = "integer" }
tax_registration_number = { slice = [27, 37], optional = true }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("payment").expect("payment");
    let (location, _, unmappable) = encoding_rs::BIG5.encode("臺中市西區　");
    assert!(!unmappable);
    assert_eq!(location.len(), 12);
    let mut line = location.to_vec();
    line.extend_from_slice(b"1130229");
    line.extend_from_slice(b"   12345");
    let payment: tax::TaxPayment = record
        .apply_to(&FixedWidthLine(&line))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        payment,
        tax::TaxPayment {
            tax_registration_number: String::new(),
            property_location: "臺中市西區".to_owned(),
            amount_paid: 12_345,
            paid_on: Some(tax::RocDate {
                year: 113,
                month: 2,
                day: 29
            }),
        }
    );
    // A fixed-width line has no named columns.
    assert!(FixedWidthLine(&line).column("property_location").is_none());
}

/// Correctness over many rows (no timing): every row maps to exactly what it encodes, and the
/// bad rows among them fail with the expected field.
#[test]
fn maps_thousands_of_rows() {
    let mapping = Mapping::parse("tax/mapping.toml", TAX).expect("parses");
    let record = mapping.record("property_item").expect("record");
    let mut mapped = 0;
    let mut refused = 0;
    for i in 0u64..5_000 {
        let kind = i % 4 + 1;
        let day = i % 28 + 1;
        let month = i % 12 + 1;
        let year = 60 + i % 50;
        let denominator = i % 7 + 1;
        let numerator = i % denominator + 1;
        let value = i * 1_000 + 7;
        let area_cm2 = i * 137;
        let mut row: HashMap<String, String> = HashMap::new();
        row.insert("財產種類".into(), kind.to_string());
        row.insert("坐落".into(), format!("測試段{i}"));
        row.insert(
            "面積".into(),
            format!("{}.{:02}", area_cm2 / 10_000, area_cm2 % 10_000 / 100),
        );
        row.insert("持分".into(), format!("{numerator}/{denominator}"));
        row.insert("財產價值".into(), value.to_string());
        row.insert("取得日期".into(), format!("{year:03}{month:02}{day:02}"));
        let bad = i % 97 == 0;
        if bad {
            row.insert("持分".into(), format!("{}/{denominator}", denominator + 1));
        }
        match record.apply_to::<tax::PropertyItem, _>(&row) {
            Ok(item) => {
                assert!(!bad, "row {i} should have failed");
                assert_eq!(item.kind, kind as i32);
                assert_eq!(item.location, format!("測試段{i}"));
                assert_eq!(item.area_cm2, (area_cm2 / 100 * 100) as i64);
                assert_eq!(
                    (item.share_numerator, item.share_denominator),
                    (numerator, denominator)
                );
                assert_eq!(item.assessed_value, value as i64);
                let date = item.acquired_on.expect("date");
                assert_eq!(
                    (date.year, date.month, date.day),
                    (year as u32, month as u32, day as u32)
                );
                mapped += 1;
            }
            Err(e) => {
                assert!(bad, "row {i}: {e}");
                assert_eq!(e.field, "share_numerator");
                assert_eq!(e.problem.reason(), "bad_share");
                refused += 1;
            }
        }
    }
    assert_eq!(mapped + refused, 5_000);
    assert_eq!(refused, 52);
}

#[test]
fn dynamic_values_for_enum_codes() {
    let mapping = Mapping::parse("tax/mapping.toml", TAX).expect("parses");
    let record = mapping.record("property_item").expect("record");
    let message = record.apply(&tax_row()).expect("maps");
    assert_eq!(
        *message.get_field_by_name("kind").expect("kind"),
        Value::EnumNumber(tax::PropertyKind::Land as i32)
    );
    assert_eq!(record.message_name(), "tongdao.tax.v1.PropertyItem");
}

#[test]
fn encumbrance_with_a_split_list_and_a_year_month_round_trips() {
    let text = r#"
[tables.right]
"A" = "MORTGAGE"
"B" = "MAXIMUM_AMOUNT_MORTGAGE"
[records.encumbrance]
message = "tongdao.land.v1.Encumbrance"
[records.encumbrance.fields]
register_sequence = { column = "RSEQ" }
kind = { column = "RIGHT", convert = "code", table = "right" }
holder_name = { column = "HOLDER", convert = "text_trim" }
secured_amount = { column = "AMOUNT", convert = "integer" }
due_on = { column = "DUE", convert = "roc_year_month" }
share_numerator = { column = "SHARE", convert = "share_numerator" }
share_denominator = { column = "SHARE", convert = "share_denominator" }
encumbered_sequences = { column = "TARGETS", split = ";" }
"#;
    let mapping = Mapping::parse("land.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("encumbrance").expect("record");
    let row: &[(&str, &str)] = &[
        ("RSEQ", "0001-000"),
        ("RIGHT", "B"),
        ("HOLDER", " 臺灣土地銀行（股）公司 "),
        ("AMOUNT", "3,600,000"),
        ("DUE", "142/06"),
        ("SHARE", "1/2"),
        ("TARGETS", "0001;0003"),
    ];
    let encumbrance: land::Encumbrance = record.apply_to(row).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        encumbrance,
        land::Encumbrance {
            register_sequence: "0001-000".to_owned(),
            kind: land::EncumbranceKind::MaximumAmountMortgage as i32,
            registered_on: None,
            registration_reason: String::new(),
            holder_name: "臺灣土地銀行（股）公司".to_owned(),
            holder_id: String::new(),
            secured_amount: 3_600_000,
            due_on: Some(land::RocDate {
                year: 142,
                month: 6,
                day: 0
            }),
            share_numerator: 1,
            share_denominator: 2,
            encumbered_sequences: vec!["0001".to_owned(), "0003".to_owned()],
        }
    );
}
