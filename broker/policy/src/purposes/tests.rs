use super::*;

fn read(text: &str) -> (PurposeRegistry, Vec<String>) {
    let mut cx = FileCx::new("purposes.toml", text);
    let registry = PurposeRegistry::read(&mut cx, text);
    (
        registry,
        cx.errors.iter().map(ToString::to_string).collect(),
    )
}

#[test]
fn shipped_registry_has_every_seed_purpose() {
    let (registry, errors) = read(include_str!("../../../../policies/purposes.toml"));
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(registry.entries().len(), 25);
    let tax = registry.resolve("095").expect("095");
    assert_eq!(tax.name, "財稅行政");
    assert_eq!(registry.resolve("○九五"), Some(tax));
    assert_eq!(registry.resolve("tax_administration"), Some(tax));
    assert!(registry.resolve("096").is_none());
    assert!(registry.resolve("").is_none());
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let text = r#"
[[purpose]]
code = "95"
name = "x"
id = "x"

[[purpose]]
code = "○九五"
name = "財稅行政"
id = "Tax"

[[purpose]]
code = "095"
name = "again"
id = "again"
"#;
    let (_, errors) = read(text);
    assert_eq!(
        errors,
        [
            "purposes.toml:3: purpose code \"95\" is not three digits (e.g. \"095\" or \"○九五\")",
            "purposes.toml:10: purpose id \"Tax\" must be lowercase letters, digits and underscores",
            "purposes.toml:13: purpose 095 is registered twice",
        ]
    );
}
