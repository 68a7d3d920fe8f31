//! `citizen:self` rules: what they may say, each mistake reported with its file and line, and
//! how they decide (a caller that is not an agency is a citizen acting for themselves).

use std::path::Path;

use tongdao_core::Reason;
use tongdao_policy::{Client, DecisionRequest, Policy, PolicySources};

fn shipped() -> PolicySources {
    PolicySources::read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"))
        .expect("policies/ is readable")
}

fn errors_with(files: &[(&str, &str)]) -> Vec<String> {
    let mut sources = shipped();
    for (name, text) in files {
        sources.insert(*name, *text);
    }
    match Policy::compile(&sources) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.errors().iter().map(ToString::to_string).collect(),
    }
}

/// A self-access rule with one line replaced (`key = …` by `line`).
fn rule_with(key: &str, line: &str) -> String {
    let base = [
        ("id", r#"id = "extra-self""#),
        ("clients", r#"clients = ["citizen:self"]"#),
        (
            "services",
            r#"services = ["/tongdao.land.v1.LandRegistry/ListHoldings"]"#,
        ),
        ("purposes", r#"purposes = ["073"]"#),
        ("fields", r#"fields = ["holdings.county"]"#),
        ("legal_basis", r#"legal_basis = "law""#),
        ("consent_required", "consent_required = false"),
    ];
    let mut text = String::from("[[rule]]\n");
    for (name, default) in base {
        text.push_str(if name == key { line } else { default });
        text.push('\n');
    }
    if key == "extra" {
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn single(errors: &[String], line: u32, fragment: &str) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!("rules/extra.toml:{line}:")) && errors[0].contains(fragment),
        "expected rules/extra.toml:{line}: …{fragment}…, got {errors:#?}"
    );
}

#[test]
fn a_well_formed_self_access_rule_compiles() {
    let text = rule_with("id", r#"id = "extra-self""#);
    // The shipped self-access rule for ListHoldings claims the same (citizen, service, purpose).
    let errors = errors_with(&[("rules/extra.toml", &text)]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("overlaps rule \"extra-self\" (rules/extra.toml:2)")
            && errors[0].contains("both allow citizen:self"),
        "{errors:#?}"
    );
    let text = rule_with(
        "services",
        r#"services = ["/tongdao.tax.v1.TaxRegistry/GetTaxPaymentCertificate"]"#,
    )
    .replace("holdings.county", "certificate_number");
    assert_eq!(
        errors_with(&[("rules/extra.toml", &text)]),
        Vec::<String>::new()
    );
}

#[test]
fn only_citizen_self_is_a_citizen_client() {
    let text = rule_with("clients", r#"clients = ["citizen:A123456789"]"#);
    single(
        &errors_with(&[("rules/extra.toml", &text)]),
        3,
        "unknown citizen client \"citizen:A123456789\"",
    );
}

#[test]
fn citizens_and_agencies_do_not_share_a_rule() {
    let text = rule_with("clients", r#"clients = ["citizen:self", "307010000D"]"#);
    single(
        &errors_with(&[("rules/extra.toml", &text)]),
        3,
        "citizen:self cannot share a rule with agencies or roles",
    );
}

#[test]
fn a_self_access_rule_names_only_self_access_purposes() {
    let text = rule_with("purposes", r#"purposes = ["073", "095"]"#);
    single(
        &errors_with(&[("rules/extra.toml", &text)]),
        5,
        "purpose 095 is not a self-access purpose",
    );
}

#[test]
fn self_access_needs_neither_consent_nor_a_quota() {
    let text = rule_with("consent_required", "consent_required = true");
    let errors = errors_with(&[("rules/extra.toml", &text)]);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("rules/extra.toml:8:") && e.contains("cannot require consent")),
        "{errors:#?}"
    );
    let text = rule_with("extra", "quota = { requests = 10, per_seconds = 60 }");
    let errors = errors_with(&[("rules/extra.toml", &text)]);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("rules/extra.toml:9:") && e.contains("cannot have a quota")),
        "{errors:#?}"
    );
}

#[test]
fn a_self_access_rule_needs_a_service_about_a_person() {
    let text = rule_with(
        "services",
        r#"services = ["/tongdao.land.v1.LandRegistry/GetParcel"]"#,
    )
    .replace("holdings.county", "key");
    single(
        &errors_with(&[("rules/extra.toml", &text)]),
        4,
        "does not name a person by national ID",
    );
}

#[test]
fn self_access_purpose_flag_must_be_a_boolean() {
    let mut sources = shipped();
    let purposes = sources
        .get("purposes.toml")
        .expect("purposes.toml")
        .replace("self_access = true", "self_access = \"yes\"");
    sources.insert("purposes.toml", &purposes);
    let errors: Vec<String> = match Policy::compile(&sources) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.errors().iter().map(ToString::to_string).collect(),
    };
    assert!(
        errors.iter().any(|e| e.starts_with("purposes.toml:")
            && e.contains("`self_access` must be true or false")),
        "{errors:#?}"
    );
}

#[test]
fn citizens_are_decided_by_self_access_rules_only() {
    let policy = Policy::compile(&shipped()).expect("shipped policy compiles");
    let decide = |agency: Option<&str>, method: &str, purpose: Option<&str>| {
        policy.decide(&DecisionRequest {
            agency_code: agency,
            method,
            purpose,
            now_unix: 1_750_000_000,
        })
    };
    let visits = "/tongdao.health.v1.HealthInsurance/ListVisits";
    let allow = decide(None, visits, Some("073"))
        .into_result()
        .expect("allowed");
    assert_eq!(&*allow.rule_id, "self-health-visits");
    assert!(!allow.consent_required);
    let rule = policy.rule("self-health-visits").expect("rule");
    assert_eq!(rule.clients, vec![Client::CitizenSelf]);
    // The pseudo-client is not an agency code an agency could present.
    let denial = decide(Some("citizen:self"), visits, Some("073"))
        .into_result()
        .expect_err("denied");
    assert_eq!(denial.reason(), Reason::NoMatchingRule);
    let denial = decide(None, visits, Some("064"))
        .into_result()
        .expect_err("denied");
    assert_eq!(denial.reason(), Reason::PurposeNotAllowed);
    assert!(
        denial.message().contains("a citizen"),
        "{}",
        denial.message()
    );
    let denial = decide(None, "/tongdao.land.v1.LandRegistry/GetParcel", Some("073"))
        .into_result()
        .expect_err("denied");
    assert_eq!(denial.reason(), Reason::AgencyRequired);
}
