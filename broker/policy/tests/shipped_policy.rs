//! The policy shipped in `policies/` lints clean and passes its fixtures.

use std::path::{Path, PathBuf};

use tongdao_policy::fixtures::Fixtures;
use tongdao_policy::{Policy, PolicySources, tools};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn shipped() -> PolicySources {
    PolicySources::read_dir(&policies_dir()).expect("policies/ is readable")
}

#[test]
fn shipped_policy_lints_clean() {
    let report = tools::lint(&shipped());
    assert!(report.ok, "{}", report.text);
    let policy = Policy::compile(&shipped()).expect("compiles");
    assert_eq!(policy.services().entries().len(), 10);
    assert_eq!(policy.purposes().entries().len(), 25);
    assert!(policy.rules().len() >= 12);
    assert_eq!(policy.version().len(), 12);
}

#[test]
fn shipped_fixtures_pass() {
    let dir = policies_dir().join("tests");
    let mut fixtures = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("policies/tests") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = format!(
                "tests/{}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
            );
            fixtures.push((name, std::fs::read_to_string(&path).expect("readable")));
        }
    }
    assert!(!fixtures.is_empty());
    let report = tools::test(&shipped(), &fixtures);
    assert!(report.ok, "{}", report.text);
}

#[test]
fn fixtures_cover_every_rule_and_denial_reason() {
    let policy = Policy::compile(&shipped()).expect("compiles");
    let text =
        std::fs::read_to_string(policies_dir().join("tests/default.toml")).expect("fixtures");
    let fixtures = Fixtures::parse("tests/default.toml", &text).expect("fixtures parse");
    for rule in policy.rules() {
        let covered = fixtures.cases.iter().any(|case| {
            matches!(&case.expect, tongdao_policy::fixtures::Expectation::Allow { rule: id, .. } if *id == rule.id)
        });
        assert!(covered, "rule {} has no allow fixture", rule.id);
    }
    for reason in [
        "PURPOSE_REQUIRED",
        "PURPOSE_UNKNOWN",
        "PURPOSE_NOT_ALLOWED",
        "NO_MATCHING_RULE",
        "AGENCY_REQUIRED",
    ] {
        let covered = fixtures.cases.iter().any(|case| {
            matches!(&case.expect, tongdao_policy::fixtures::Expectation::Deny(r) if r.as_str_name() == reason)
        });
        assert!(covered, "no fixture for {reason}");
    }
}

#[test]
fn version_is_deterministic_and_content_bound() {
    let a = Policy::compile(&shipped()).expect("compiles");
    let b = Policy::compile(&shipped()).expect("compiles");
    assert_eq!(a.version(), b.version());
    assert_eq!(a.digest(), b.digest());
    let mut changed = shipped();
    let text = changed.get("roles.toml").expect("roles").to_owned() + "\n# comment\n";
    changed.insert("roles.toml", text);
    let c = Policy::compile(&changed).expect("compiles");
    assert_ne!(a.version(), c.version());
}
