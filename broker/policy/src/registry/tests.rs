use super::*;

#[test]
fn shipped_registry_parses() {
    let text = include_str!("../../../../policies/agencies.toml");
    let registry = AgencyRegistry::parse("agencies.toml", text).expect("shipped registry is valid");
    let mof = registry
        .by_oid("2.16.886.101.20003.20004")
        .expect("財政部 registered");
    assert_eq!(mof.code, "307000000D");
    assert_eq!(
        registry.by_code("307000000D").map(|a| a.name.as_str()),
        Some("財政部")
    );
    assert!(registry.by_oid("2.16.886.101.20003.99999").is_none());
}

#[test]
fn every_problem_is_reported() {
    let text = r#"
[[agency]]
code = "bad"
name = "A"
government_oid = "1.2.x"
[[agency]]
code = "307000000D"
name = "B"
government_oid = "1.2.3"
[[agency]]
code = "307000000D"
name = "C"
government_oid = "1.2.3"
"#;
    let error = AgencyRegistry::parse("test.toml", text).expect_err("invalid");
    assert_eq!(error.problems.len(), 4, "{error}");
}

#[test]
fn unknown_key_is_refused() {
    let text =
        "[[agency]]\ncode = \"307000000D\"\nname = \"B\"\ngovernment_oid = \"1.2\"\noops = 1\n";
    let error = AgencyRegistry::parse("test.toml", text).expect_err("unknown key");
    assert!(error.to_string().contains("oops"), "{error}");
}
