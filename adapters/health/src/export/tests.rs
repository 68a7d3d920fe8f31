use serde_json::json;

use super::*;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[test]
fn placeholder_rows_are_recognised_and_data_rows_are_not() {
    let placeholder = object(json!({"r1.1": "A123456789", "r1.2": "無資料", "r1.3": "無資料"}));
    assert!(is_placeholder(&placeholder, Some("r1.1")));
    let padded = object(json!({"r7.1": "A123456789", "r7.2": "\u{3000}無資料 ", "r7.3": ""}));
    assert!(is_placeholder(&padded, Some("r7.1")));
    let order = object(json!({"r1_1.1": "無資料", "r1_1.2": "無資料", "r1_1.3": "無資料"}));
    assert!(is_placeholder(&order, None));
    // An order whose code is real is data, even with the other values "無資料".
    let order_with_code = object(json!({"r1_1.1": "09015C", "r1_1.2": "無資料"}));
    assert!(!is_placeholder(&order_with_code, None));
    let blank = object(json!({"r1.1": "A123456789", "r1.2": ""}));
    assert!(
        !is_placeholder(&blank, Some("r1.1")),
        "all blank is not a placeholder"
    );
    let nested = object(json!({"r1.2": "無資料", "r1_1": [{"r1_1.1": "09015C"}]}));
    assert!(!is_placeholder(&nested, Some("r1.1")));
}

#[test]
fn ids_are_found_in_broken_text_only_when_valid_and_standalone() {
    let text = br#"{"b1.1": "A123456789", "x": "A123456788", "y": "ZA123456789", "z": "B1234567890"} "A123456789"#;
    let ids = scan_ids(text);
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].as_str(), "A123456789");
    assert!(scan_ids(b"").is_empty());
    assert!(scan_ids(b"A12345678").is_empty());
}

#[test]
fn normalize_trims_and_folds_full_width() {
    assert_eq!(normalize("\u{3000}Ａ１２３ \u{3000}"), "A123");
    assert_eq!(normalize("無資料"), "無資料");
    assert_eq!(normalize("臺大\u{3000}醫院"), "臺大 醫院");
}

#[test]
fn shipped_mapping_has_every_record() {
    let mapping = HealthMapping::shipped();
    assert!(mapping.is_ok(), "{:?}", mapping.err());
}

#[test]
fn a_mapping_without_the_visit_record_is_refused() {
    let text = SHIPPED_MAPPING
        .replace("[records.visit]", "[records.visits]")
        .replace("[records.visit.fields]", "[records.visits.fields]");
    let mapping = Mapping::parse("test.toml", &text).map_err(|e| e.0);
    let Ok(mapping) = mapping else {
        panic!("the edited mapping should parse: {mapping:?}");
    };
    let problems = HealthMapping::from_mapping(&mapping)
        .err()
        .unwrap_or_default();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`visit`"), "{problems:?}");
}

#[test]
fn ids_written_full_width_are_found_too() {
    let text = "{\"r1.1\": \"Ａ１２３４５６７８９\"".as_bytes();
    let ids = scan_ids(text);
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].as_str(), "A123456789");
}
