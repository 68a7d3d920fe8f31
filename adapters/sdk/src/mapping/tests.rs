use std::collections::HashMap;

use super::*;

const PROPERTY: &str = r#"
[tables.property_kind]
"1" = "LAND"
"2" = "BUILDING"

[records.property_item]
message = "tongdao.tax.v1.PropertyItem"

[records.property_item.fields]
kind = { column = "財產種類", convert = "code", table = "property_kind" }
location = { column = "坐落" }
area_cm2 = { column = "面積", convert = "area_m2_to_cm2" }
share_numerator = { column = "持分", convert = "share_numerator" }
share_denominator = { column = "持分", convert = "share_denominator" }
assessed_value = { column = "財產價值", convert = "integer" }
acquired_on = { column = "取得日期", convert = "roc_date", optional = true }
"#;

fn row(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn good_row() -> HashMap<String, String> {
    row(&[
        ("財產種類", "1"),
        ("坐落", " 臺北市大安區仁愛段三小段 "),
        ("面積", "123.45"),
        ("持分", "1/2"),
        ("財產價值", "1,234,567"),
        ("取得日期", "1120305"),
    ])
}

fn errors(text: &str) -> Vec<String> {
    match Mapping::parse("m.toml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0,
    }
}

/// Asserts that one error is reported on `line` and contains `needle`.
fn assert_error(errors: &[String], line: usize, needle: &str) {
    let prefix = format!("m.toml:{line}: ");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&prefix) && e.contains(needle)),
        "no error at line {line} containing {needle:?} in {errors:#?}"
    );
}

fn get<'m>(message: &'m DynamicMessage, name: &str) -> Cow<'m, Value> {
    message
        .get_field_by_name(name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

#[test]
fn parses_and_maps_a_row() {
    let mapping = Mapping::parse("m.toml", PROPERTY).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("property_item").expect("record");
    assert_eq!(record.message_name(), "tongdao.tax.v1.PropertyItem");
    assert_eq!(record.name(), "property_item");
    assert!(mapping.record("nope").is_none());
    assert_eq!(mapping.records().count(), 1);
    let message = record.apply(&good_row()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(*get(&message, "kind"), Value::EnumNumber(1));
    assert_eq!(
        *get(&message, "location"),
        Value::String("臺北市大安區仁愛段三小段".to_owned())
    );
    assert_eq!(*get(&message, "area_cm2"), Value::I64(1_234_500));
    assert_eq!(*get(&message, "share_numerator"), Value::U64(1));
    assert_eq!(*get(&message, "share_denominator"), Value::U64(2));
    assert_eq!(*get(&message, "assessed_value"), Value::I64(1_234_567));
    let date = get(&message, "acquired_on");
    let date = date.as_message().expect("date message");
    assert_eq!(*get(date, "year"), Value::U32(112));
    assert_eq!(*get(date, "month"), Value::U32(3));
    assert_eq!(*get(date, "day"), Value::U32(5));
}

#[test]
fn fields_apply_in_file_order_and_the_first_failure_is_the_error() {
    let mapping = Mapping::parse("m.toml", PROPERTY).expect("parses");
    let record = mapping.record("property_item").expect("record");
    let mut bad = good_row();
    bad.insert("面積".into(), "12.345".into());
    bad.insert("財產價值".into(), "lots".into());
    let err = record.apply(&bad).expect_err("two bad fields");
    // area_cm2 comes before assessed_value in the file (not in alphabetical order).
    assert_eq!(err.field, "area_cm2");
    assert_eq!(err.source_ref, "面積");
    assert!(matches!(err.problem, RowProblem::NotDecimal(_)));
    assert_eq!(err.problem.reason(), "not_decimal");
    assert!(
        err.to_string()
            .starts_with("area_cm2 (from 面積): not a decimal")
    );
}

#[test]
fn required_absent_or_blank_is_missing_and_optional_stays_default() {
    let mapping = Mapping::parse("m.toml", PROPERTY).expect("parses");
    let record = mapping.record("property_item").expect("record");

    let mut absent = good_row();
    absent.remove("坐落");
    let err = record.apply(&absent).expect_err("location absent");
    assert_eq!(
        err,
        RowError {
            field: "location".into(),
            source_ref: "坐落".into(),
            problem: RowProblem::Missing
        }
    );

    let mut blank = good_row();
    blank.insert("坐落".into(), " \u{3000} ".into());
    assert_eq!(
        record.apply(&blank).expect_err("blank").problem,
        RowProblem::Missing
    );

    for date in [None, Some(""), Some("   ")] {
        let mut no_date = good_row();
        match date {
            None => no_date.remove("取得日期"),
            Some(d) => no_date.insert("取得日期".into(), d.into()),
        };
        let message = record.apply(&no_date).expect("optional date");
        assert!(!message.has_field_by_name("acquired_on"));
    }

    let mut bad_date = good_row();
    bad_date.insert("取得日期".into(), "1120230".into());
    let err = record.apply(&bad_date).expect_err("optional but bad");
    assert_eq!(err.problem, RowProblem::BadDate("1120230".into()));
    assert_eq!(err.problem.reason(), "bad_date");
}

#[test]
fn unknown_code_and_range_errors() {
    let mapping = Mapping::parse("m.toml", PROPERTY).expect("parses");
    let record = mapping.record("property_item").expect("record");
    let mut bad = good_row();
    bad.insert("財產種類".into(), "9".into());
    assert_eq!(
        record.apply(&bad).expect_err("code").problem,
        RowProblem::UnknownCode("9".into())
    );
    // Codes are looked up after normalisation.
    let mut spaced = good_row();
    spaced.insert("財產種類".into(), " ２ ".into());
    let message = record.apply(&spaced).expect("full-width code");
    assert_eq!(*get(&message, "kind"), Value::EnumNumber(2));

    let mut huge = good_row();
    huge.insert("財產價值".into(), "99,999,999,999,999,999,999".into());
    let err = record.apply(&huge).expect_err("too big for int64");
    assert!(matches!(err.problem, RowProblem::OutOfRange(_)), "{err}");
    assert_eq!(err.problem.reason(), "out_of_range");
}

const LAND: &str = r#"
[tables.owner_kind]
"A" = "NATURAL_PERSON"
"B" = "JURISTIC_PERSON"

[records.holding]
message = "tongdao.land.v1.Holding"
[records.holding.fields]
"key.land_office_code" = { column = "UNIT" }
key.section_code = { column = "SEC" }
[records.holding.fields.key.parcel_number]
column = "NO"
[records.holding.fields.registered_on]
column = "REG_DATE"
convert = "gregorian_date"

[records.ownership]
message = "tongdao.land.v1.Ownership"
[records.ownership.fields]
owner_kind = { column = "kind", convert = "code", table = "owner_kind" }
register_sequence = { column = "seq", convert = "text_raw" }
"#;

#[test]
fn nested_paths_in_every_toml_spelling() {
    let mapping = Mapping::parse("land.toml", LAND).unwrap_or_else(|e| panic!("{e}"));
    let holding = mapping.record("holding").expect("holding");
    let rows: &[(&str, &str)] = &[
        ("UNIT", "AA"),
        ("SEC", "0200"),
        ("NO", "0001-0001"),
        ("REG_DATE", "2023-03-05"),
    ];
    let message = holding.apply(rows).unwrap_or_else(|e| panic!("{e}"));
    let key = get(&message, "key");
    let key = key.as_message().expect("key");
    assert_eq!(*get(key, "land_office_code"), Value::String("AA".into()));
    assert_eq!(*get(key, "section_code"), Value::String("0200".into()));
    assert_eq!(
        *get(key, "parcel_number"),
        Value::String("0001-0001".into())
    );
    let date = get(&message, "registered_on");
    assert_eq!(
        *get(date.as_message().expect("date"), "year"),
        Value::U32(112)
    );

    let missing: &[(&str, &str)] = &[("UNIT", "AA"), ("NO", "0001-0001")];
    let err = holding.apply(missing).expect_err("no SEC");
    assert_eq!(err.field, "key.section_code");
    assert_eq!(err.source_ref, "SEC");
}

#[test]
fn text_raw_keeps_spaces_and_enum_accepts_names_and_numbers() {
    let text = r#"
[records.r]
message = "tongdao.land.v1.Ownership"
[records.r.fields]
register_sequence = { column = "seq", convert = "text_raw" }
owner_kind = { column = "kind", convert = "enum" }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("r").expect("r");
    let message = record
        .apply(&row(&[("seq", " 0001 "), ("kind", "JURISTIC_PERSON")]))
        .expect("maps");
    assert_eq!(
        *get(&message, "register_sequence"),
        Value::String(" 0001 ".into())
    );
    assert_eq!(*get(&message, "owner_kind"), Value::EnumNumber(2));
    let message = record
        .apply(&row(&[("seq", "1"), ("kind", "4")]))
        .expect("by number");
    assert_eq!(*get(&message, "owner_kind"), Value::EnumNumber(4));
    for bad in ["9", "natural_person", "SOMEONE", "-1"] {
        let err = record
            .apply(&row(&[("seq", "1"), ("kind", bad)]))
            .expect_err(bad);
        assert_eq!(err.problem, RowProblem::BadEnum(bad.into()));
    }
}

#[test]
fn code_onto_a_string_field() {
    let text = r#"
[tables.names]
"50" = "薪資"
"9A" = "執行業務報酬"
[records.income]
message = "tongdao.tax.v1.IncomeItem"
[records.income.fields]
income_format_code = { column = "code" }
income_format_name = { column = "code", convert = "code", table = "names" }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("income").expect("income");
    let message = record.apply(&row(&[("code", "9A")])).expect("maps");
    assert_eq!(
        *get(&message, "income_format_name"),
        Value::String("執行業務報酬".into())
    );
    assert_eq!(
        record
            .apply(&row(&[("code", "9Z")]))
            .expect_err("unknown")
            .problem,
        RowProblem::UnknownCode("9Z".into())
    );
}

#[test]
fn bool_converter() {
    let text = r#"
[records.m]
message = "tongdao.household.v1.Member"
[records.m.fields]
removed = { column = "flag", convert = "bool" }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("m").expect("m");
    let yes = record.apply(&row(&[("flag", "是")])).expect("yes");
    assert_eq!(*get(&yes, "removed"), Value::Bool(true));
    let no = record.apply(&row(&[("flag", "N")])).expect("no");
    assert_eq!(*get(&no, "removed"), Value::Bool(false));
    let err = record.apply(&row(&[("flag", "maybe")])).expect_err("bad");
    assert_eq!(err.problem, RowProblem::BadEnum("maybe".into()));
    assert_eq!(err.problem.reason(), "bad_enum");
}

#[test]
fn slices_of_a_big5_line() {
    let text = r#"
[records.p]
message = "tongdao.tax.v1.PropertyItem"
encoding = "big5"
[records.p.fields]
location = { slice = [0, 6] }
assessed_value = { slice = [6, 10], convert = "integer" }
plate_number = { slice = [10, 18], optional = true }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("p").expect("p");
    let (name, _, unmappable) = encoding_rs::BIG5.encode("臺北市");
    assert!(!unmappable);
    assert_eq!(name.len(), 6);
    let mut line = name.to_vec();
    line.extend_from_slice(b"0123ABC-1234");
    let message = record.apply(&FixedWidthLine(&line)).expect("maps");
    assert_eq!(*get(&message, "location"), Value::String("臺北市".into()));
    assert_eq!(*get(&message, "assessed_value"), Value::I64(123));
    assert_eq!(
        *get(&message, "plate_number"),
        Value::String("ABC-1234".into())
    );

    // A line that ends before an optional slice leaves it unset.
    let short = &line[..10];
    let message = record.apply(&FixedWidthLine(short)).expect("short line");
    assert!(!message.has_field_by_name("plate_number"));
    // … but not before a required one.
    let err = record
        .apply(&FixedWidthLine(&line[..8]))
        .expect_err("too short");
    assert_eq!(err.field, "assessed_value");
    assert_eq!(err.source_ref, "bytes 6..10");
    assert_eq!(err.problem, RowProblem::SliceOutOfRange);
    assert_eq!(err.problem.reason(), "slice_out_of_range");

    // A slice that cuts a double-byte character in half is not valid Big5.
    let mut cut = line.clone();
    cut[5] = b' ';
    let err = record.apply(&FixedWidthLine(&cut)).expect_err("bad big5");
    assert_eq!(err.problem, RowProblem::BadEncoding);
    assert_eq!(err.problem.reason(), "bad_encoding");

    // A row with no raw line has no slices.
    let err = record.apply(&good_row()).expect_err("no raw line");
    assert_eq!(err.problem, RowProblem::Missing);
}

#[test]
fn utf8_slices_reject_invalid_bytes() {
    let text = r#"
[records.p]
message = "tongdao.tax.v1.PropertyItem"
[records.p.fields]
location = { slice = [0, 3] }
"#;
    let mapping = Mapping::parse("m.toml", text).expect("parses");
    let record = mapping.record("p").expect("p");
    let message = record
        .apply(&FixedWidthLine("臺".as_bytes()))
        .expect("utf-8");
    assert_eq!(*get(&message, "location"), Value::String("臺".into()));
    let err = record
        .apply(&FixedWidthLine(&"臺".as_bytes()[..2].repeat(2)))
        .expect_err("cut");
    assert_eq!(err.problem, RowProblem::BadEncoding);
}

#[test]
fn type_checks_against_the_descriptor() {
    let text = r#"
[tables.bad_kind]
"1" = "LAND"
"2" = "CASTLE"

[tables.strings]
"1" = "x"

[records.p]
message = "tongdao.tax.v1.PropertyItem"
[records.p.fields]
location = { column = "a", convert = "integer" }
area_cm2 = { column = "b", convert = "roc_date" }
acquired_on = { column = "c", convert = "text" }
kind = { column = "d", convert = "code", table = "bad_kind" }
share_count = { column = "e", convert = "code", table = "strings" }
investee_name = { column = "f", convert = "enum" }
plate_number = { column = "g", convert = "bool" }
assessed_value = { column = "h", convert = "share_numerator", table = "strings" }
share_numerator = { column = "i", convert = "code", table = "missing_table" }
share_denominator = { column = "j", convert = "code" }
parcel_or_building_number = { column = "k", convert = "frobnicate" }
"investee_business_number.x" = { column = "l" }
no_such_field = { column = "m" }
"#;
    let errors = errors(text);
    assert_error(
        &errors,
        4,
        "\"CASTLE\" is not a value of tongdao.tax.v1.PropertyKind",
    );
    assert_error(&errors, 12, "convert `integer` needs an integer field");
    assert_error(
        &errors,
        13,
        "convert `roc_date` needs a message field with integer year",
    );
    assert_error(&errors, 14, "convert `text` needs a string field");
    assert_error(&errors, 16, "convert `code` needs a string or enum field");
    assert_error(&errors, 17, "convert `enum` needs an enum field");
    assert_error(&errors, 18, "convert `bool` needs a bool field");
    assert_error(&errors, 19, "`table` is only for convert = \"code\"");
    assert_error(&errors, 20, "unknown table `missing_table`");
    assert_error(&errors, 21, "convert `code` needs `table");
    assert_error(&errors, 22, "unknown converter `frobnicate`");
    assert_error(&errors, 23, "not a message");
    assert_error(
        &errors,
        24,
        "unknown field `no_such_field` in tongdao.tax.v1.PropertyItem",
    );
    assert_eq!(errors.len(), 13, "{errors:#?}");
}

#[test]
fn structural_errors_with_lines() {
    let text = r#"
title = "x"

[tables.t]
"1" = 5
" " = "blank"

[records.a]
message = "tongdao.tax.v1.NoSuchMessage"
[records.a.fields]
location = { column = "a" }

[records.b]
message = "tongdao.tax.v1.PropertyItem"
encoding = "latin-1"
colour = "red"
[records.b.fields]
location = { column = "a", slice = [0, 4] }
plate_number = { optional = true }
investee_name = { slice = [4, 2] }
share_count = { slice = [1] }
assessed_value = { column = 3 }
kind = { column = "k", convert = "enum", default = "LAND" }
acquired_on = "取得日期"
share_numerator = { column = "n", convert = "integer", optional = "yes" }

[records.c]
message = "tongdao.tax.v1.PropertyItem"
"#;
    let errors = errors(text);
    assert_error(&errors, 2, "unknown key `title`");
    assert_error(&errors, 5, "must be a string, not a integer");
    assert_error(&errors, 6, "a blank code");
    assert_error(&errors, 9, "unknown message `tongdao.tax.v1.NoSuchMessage`");
    assert_error(&errors, 15, "encoding must be \"utf-8\" or \"big5\"");
    assert_error(&errors, 16, "unknown key `colour`");
    assert_error(&errors, 18, "both column and slice");
    assert_error(&errors, 19, "no column or slice");
    assert_error(&errors, 20, "slice must be [start, end]");
    assert_error(&errors, 21, "slice must be [start, end]");
    assert_error(&errors, 22, "`column` must be a string");
    assert_error(&errors, 23, "unknown key `default`");
    assert_error(&errors, 24, "must be an inline table");
    assert_error(&errors, 25, "optional must be true or false");
    assert_error(&errors, 27, "records.c: no [records.c.fields]");
    // In line order.
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| {
            e.split(':')
                .nth(1)
                .and_then(|l| l.parse().ok())
                .expect("origin:line: message")
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{errors:#?}");
}

#[test]
fn overlapping_targets() {
    let text = r#"
[records.h]
message = "tongdao.land.v1.Holding"
[records.h.fields]
registered_on = { column = "d", convert = "roc_date" }
"registered_on.year" = { column = "y", convert = "integer" }
"key.section_code" = { column = "SEC" }
key.section_code = { column = "SEC2" }
"#;
    let errors = errors(text);
    assert_error(&errors, 6, "is inside `registered_on`");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`key.section_code` is mapped twice")),
        "{errors:#?}"
    );
}

#[test]
fn repeated_fields_are_refused() {
    let text = r#"
[records.e]
message = "tongdao.land.v1.Encumbrance"
[records.e.fields]
encumbered_sequences = { column = "s" }
[records.p]
message = "tongdao.land.v1.Parcel"
[records.p.fields]
"owners.owner_name" = { column = "n" }
"#;
    let errors = errors(text);
    assert_error(&errors, 5, "is repeated");
    assert_error(&errors, 9, "is repeated");
}

#[test]
fn oneof_members_are_exclusive() {
    // WhoAmIResponse has `oneof principal { AgencyPrincipal agency; CitizenPrincipal citizen; }`.
    let one_member = r#"
[records.r]
message = "tongdao.v1.WhoAmIResponse"
[records.r.fields]
"agency.agency_code" = { column = "a" }
"agency.name" = { column = "b" }
certificate_serial = { column = "c" }
"#;
    let mapping = Mapping::parse("m.toml", one_member).unwrap_or_else(|e| panic!("{e}"));
    let message = mapping
        .record("r")
        .expect("r")
        .apply(&row(&[("a", "301000000A"), ("b", "內政部"), ("c", "01")]))
        .expect("maps");
    let agency = get(&message, "agency");
    assert_eq!(
        *get(agency.as_message().expect("agency"), "name"),
        Value::String("內政部".into())
    );

    let two_members = format!("{one_member}\"citizen.name\" = {{ column = \"d\" }}\n");
    let errors = errors(&two_members);
    assert_error(
        &errors,
        8,
        "different members of oneof tongdao.v1.WhoAmIResponse.principal",
    );
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn syntax_errors_have_lines() {
    let errors = errors("[records.a]\nmessage = \"x\"\nfields = {\n");
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("m.toml:") && e.contains("TOML syntax")),
        "{errors:#?}"
    );
    let unclosed = self::errors("\n\n[records.a\n");
    assert_error(&unclosed, 3, "TOML syntax");
}

#[test]
fn empty_files_and_sections() {
    assert_error(&errors(""), 1, "no [records.<name>] table");
    assert_error(&errors("[tables.t]\n"), 1, "table `t` is empty");
    assert_error(
        &errors("[records.r]\nmessage = \"tongdao.tax.v1.PropertyItem\"\n[records.r.fields]\n"),
        3,
        "records.r.fields is empty",
    );
}

#[test]
fn errors_display_one_per_line() {
    let e = Mapping::parse("x.toml", "a = 1\nb = 2\n").expect_err("errors");
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), e.0.len());
    assert!(
        shown
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("x.toml:1: "))
    );
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(!boxed.to_string().is_empty());
}

#[test]
fn load_reads_a_file_and_names_it() {
    let dir = std::env::temp_dir().join(format!("tongdao-mapping-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mapping.toml");
    std::fs::write(&path, PROPERTY).expect("write");
    assert!(Mapping::load(&path).is_ok());
    std::fs::write(&path, "oops = 1\n").expect("write");
    let e = Mapping::load(&path).expect_err("bad");
    assert!(
        e.0[0].starts_with(&format!("{}:1: ", path.display())),
        "{e}"
    );
    let e = Mapping::load(&dir.join("absent.toml")).expect_err("absent");
    assert!(e.0[0].contains("cannot read"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mapping_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mapping>();
    assert_send_sync::<RecordMapping>();
    assert_send_sync::<RowError>();
}

#[test]
fn a_type_mismatch_names_the_converters_that_fit() {
    let text = r#"
[records.p]
message = "tongdao.tax.v1.PropertyItem"
[records.p.fields]
area_cm2 = { column = "a" }
acquired_on = { column = "b", convert = "integer" }
kind = { column = "c", convert = "text" }
"#;
    let errors = errors(text);
    assert_error(
        &errors,
        5,
        "convert `text` (the default) needs a string field, but tongdao.tax.v1.PropertyItem.area_cm2 is an int64 (converters for it: integer, area_m2_to_cm2",
    );
    assert_error(
        &errors,
        6,
        "(converters for it: roc_date, roc_year_month, gregorian_date)",
    );
    assert_error(&errors, 7, "(converters for it: code, enum)");
}

#[test]
fn split_fills_a_repeated_field_from_one_value() {
    let text = r#"
[records.e]
message = "tongdao.land.v1.Encumbrance"
[records.e.fields]
register_sequence = { column = "seq" }
encumbered_sequences = { column = "targets", split = ",", optional = true }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("e").expect("e");
    let message = record
        .apply(&row(&[
            ("seq", "0001-000"),
            ("targets", " 0001, 0002 ,,0003 "),
        ]))
        .expect("maps");
    assert_eq!(
        *get(&message, "encumbered_sequences"),
        Value::List(vec![
            Value::String("0001".into()),
            Value::String("0002".into()),
            Value::String("0003".into()),
        ])
    );
    // Only separators and blanks: no elements, as for a blank value.
    let message = record
        .apply(&row(&[("seq", "0001-000"), ("targets", " , ,")]))
        .expect("optional");
    assert!(!message.has_field_by_name("encumbered_sequences"));
}

#[test]
fn split_elements_are_converted_one_by_one() {
    let text = r#"
[tables.names]
"1" = "0001"
"2" = "0002"
[records.e]
message = "tongdao.land.v1.Encumbrance"
[records.e.fields]
encumbered_sequences = { column = "t", convert = "code", table = "names", split = "/" }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("e").expect("e");
    let message = record.apply(&row(&[("t", "2/1")])).expect("maps");
    assert_eq!(
        *get(&message, "encumbered_sequences"),
        Value::List(vec![
            Value::String("0002".into()),
            Value::String("0001".into())
        ])
    );
    let err = record.apply(&row(&[("t", "1/3")])).expect_err("3 unknown");
    assert_eq!(err.field, "encumbered_sequences");
    assert_eq!(err.problem, RowProblem::UnknownCode("3".into()));
    assert_eq!(
        record
            .apply(&row(&[("t", "/")]))
            .expect_err("required")
            .problem,
        RowProblem::Missing
    );
}

#[test]
fn split_only_with_repeated_fields() {
    let text = r#"
[records.e]
message = "tongdao.land.v1.Encumbrance"
[records.e.fields]
encumbered_sequences = { column = "a" }
holder_name = { column = "b", split = "," }
register_sequence = { column = "c", split = "" }
share_numerator = { column = "d", split = 1 }
"#;
    let errors = errors(text);
    assert_error(&errors, 5, "is repeated: give `split");
    assert_error(&errors, 6, "`split` is only for repeated fields");
    assert_error(&errors, 7, "empty split separator");
    assert_error(&errors, 8, "`split` must be a string");
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

#[test]
fn text_trim_and_roc_year_month() {
    let text = r#"
[records.o]
message = "tongdao.land.v1.Ownership"
[records.o.fields]
registration_reason = { column = "reason", convert = "text_trim" }
previous_transfer_on = { column = "ym", convert = "roc_year_month" }
"#;
    let mapping = Mapping::parse("m.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let record = mapping.record("o").expect("o");
    let message = record
        .apply(&row(&[
            ("reason", "\u{3000}買賣（部分）\u{3000}"),
            ("ym", "08507"),
        ]))
        .expect("maps");
    assert_eq!(
        *get(&message, "registration_reason"),
        Value::String("買賣（部分）".into())
    );
    let ym = get(&message, "previous_transfer_on");
    let ym = ym.as_message().expect("date");
    assert_eq!(*get(ym, "year"), Value::U32(85));
    assert_eq!(*get(ym, "month"), Value::U32(7));
    assert_eq!(*get(ym, "day"), Value::U32(0));
    let err = record
        .apply(&row(&[("reason", "x"), ("ym", "08513")]))
        .expect_err("month 13");
    assert_eq!(err.problem, RowProblem::BadDate("08513".into()));
}

#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_accepted() {
    let with_bom = format!("\u{FEFF}{}", PROPERTY.replace('\n', "\r\n"));
    let mapping = Mapping::parse("m.toml", &with_bom).unwrap_or_else(|e| panic!("{e}"));
    assert!(mapping.record("property_item").is_some());
    let bad = "\u{FEFF}\r\n[records.r]\r\nmessage = \"tongdao.tax.v1.Nope\"\r\n[records.r.fields]\r\nx = { column = \"x\" }\r\n";
    assert_error(&errors(bad), 3, "unknown message `tongdao.tax.v1.Nope`");
}
