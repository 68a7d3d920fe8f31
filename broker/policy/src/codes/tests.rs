use super::*;

#[test]
fn purpose_codes_in_every_written_form() {
    for form in ["095", " 095 ", "○九五", "〇九五", "０９５", "零九五"] {
        assert_eq!(
            Purpose::parse_code(form).map(Purpose::number),
            Some(95),
            "{form:?}"
        );
    }
    assert_eq!(
        Purpose::parse_code("一八二").map(Purpose::number),
        Some(182)
    );
    assert_eq!(
        Purpose::parse_code("095").map(|p| p.to_string()).as_deref(),
        Some("095")
    );
}

#[test]
fn malformed_purpose_codes_are_refused() {
    for form in ["", "95", "0950", "000", "09a", "九十五", "tax", "0 95"] {
        assert_eq!(Purpose::parse_code(form), None, "{form:?}");
    }
}

#[test]
fn data_classes_in_both_forms() {
    assert_eq!(parse_data_class("C001"), Some(DataClass::C001));
    assert_eq!(parse_data_class("Ｃ○○一"), Some(DataClass::C001));
    assert_eq!(parse_data_class("Ｃ一一一"), Some(DataClass::C111));
    assert_eq!(parse_data_class("C000"), None);
    assert_eq!(parse_data_class("C999"), None, "not in the schema's enum");
    assert_eq!(parse_data_class("001"), None);
    assert_eq!(parse_data_class("c001"), None);
}
