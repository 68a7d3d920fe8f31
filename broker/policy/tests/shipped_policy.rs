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

#[test]
fn every_shipped_recipe_explains_with_a_rule_for_every_leg_of_every_client() {
    let sources = shipped();
    let policy = Policy::compile(&sources).expect("compiles");
    assert_eq!(policy.recipes().len(), 3);
    let now = 1_798_761_600; // 2027-01-01
    for recipe in policy.recipes() {
        let report = tools::explain_recipe(&sources, &recipe.name, None, now);
        assert!(report.ok, "{}", report.text);
        let rules = report.text.matches("    rule ").count();
        assert_eq!(
            rules,
            recipe.legs.len() * recipe.agencies.len(),
            "{}",
            report.text
        );
        assert!(!report.text.contains("DENY"), "{}", report.text);
    }
    // Welfare: the household is read under duty, the applicant's income with the consent.
    let welfare = tools::explain_recipe(&sources, "welfare-eligibility", Some("379010000A"), now);
    assert!(
        welfare
            .text
            .contains("leg members_land (after household, once per item)"),
        "{}",
        welfare.text
    );
    assert!(
        welfare
            .text
            .contains("rule tax-income-welfare-consent: consent"),
        "{}",
        welfare.text
    );
    // Not a client, or no such recipe: a failed report saying so.
    let outsider = tools::explain_recipe(&sources, "welfare-eligibility", Some("307010000D"), now);
    assert!(!outsider.ok && outsider.text.contains("not a client"));
    let unknown = tools::explain_recipe(&sources, "nope", None, now);
    assert!(!unknown.ok && unknown.text.contains("no recipe named"));
}

#[test]
fn diff_names_what_a_recipe_change_adds_and_removes() {
    let old = shipped();
    let mut new = old.clone();
    let welfare = old
        .get("recipes/welfare-eligibility.toml")
        .expect("shipped")
        .replace(
            "\"holdings.county\", \"holdings.district\",",
            "\"holdings.county\",",
        );
    new.insert("recipes/welfare-eligibility.toml", welfare);
    new.remove("recipes/moving-house.toml");
    let report = tools::diff(&old, &new);
    assert!(report.ok, "{}", report.text);
    assert!(
        report
            .text
            .contains("~ recipe welfare-eligibility: leg members_land loses holdings.district"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains("- recipe moving-house: removed"),
        "{}",
        report.text
    );
    let back = tools::diff(&new, &old);
    assert!(
        back.text.contains("+ recipe moving-house: added for 301000100A (4 legs: household, land, property, directorships)"),
        "{}",
        back.text
    );
    assert!(tools::diff(&old, &old).text.ends_with("0 changes\n"));
}
