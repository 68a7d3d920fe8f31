//! Each kind of policy error is reported with its file and line, and every problem of a policy
//! is reported at once.

use std::path::Path;

use tongdao_policy::{Policy, PolicySources};

fn shipped() -> PolicySources {
    PolicySources::read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"))
        .expect("policies/ is readable")
}

/// The shipped policy with `files` added or replaced; the `file:line: message` of every error.
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

fn assert_single(errors: &[String], expected_prefix: &str, fragment: &str) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(expected_prefix) && errors[0].contains(fragment),
        "expected `{expected_prefix}… {fragment}…`, got {errors:#?}"
    );
}

const GOOD: &str = r#"
[[rule]]
id = "extra"
clients = ["A15000000A"]
services = ["/tongdao.land.v1.LandRegistry/ListHoldings"]
purposes = ["157"]
fields = ["holdings.county"]
legal_basis = "statistics_research"
consent_required = false
"#;

#[test]
fn the_template_rule_is_valid() {
    assert_eq!(
        errors_with(&[("rules/extra.toml", GOOD)]),
        Vec::<String>::new()
    );
}

#[test]
fn unknown_key() {
    let text = GOOD.replace(
        "consent_required = false",
        "consent_required = false\nconsnet = true",
    );
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:10:",
        "unknown key `consnet` in rule",
    );
}

#[test]
fn unknown_agency() {
    let text = GOOD.replace("A15000000A", "A99999999A");
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:4:",
        "unknown agency \"A99999999A\"",
    );
}

#[test]
fn unknown_role() {
    let text = GOOD.replace("\"A15000000A\"", "\"role:wizards\"");
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:4:",
        "unknown role \"wizards\"",
    );
}

#[test]
fn unknown_service() {
    let text = GOOD.replace("ListHoldings", "ListEverything");
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:5:",
        "unknown service \"/tongdao.land.v1.LandRegistry/ListEverything\"",
    );
}

#[test]
fn unknown_field() {
    let text = GOOD.replace(
        "fields = [\"holdings.county\"]",
        "fields = [\n  \"holdings.county\",\n  \"holdings.owner_id\",\n]",
    );
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:9:",
        "unknown field \"holdings.owner_id\": tongdao.land.v1.Holding has no field `owner_id`",
    );
}

#[test]
fn field_inside_a_scalar() {
    let text = GOOD.replace("holdings.county", "holdings.county.name");
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:7:",
        "holdings.county is not a message field",
    );
}

#[test]
fn redundant_field() {
    let text = GOOD.replace(
        "[\"holdings.county\"]",
        "[\"holdings\", \"holdings.county\"]",
    );
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:7:",
        "\"holdings.county\" is already released by \"holdings\"",
    );
}

#[test]
fn unknown_purpose() {
    let text = GOOD.replace("\"157\"", "\"157\", \"○○○\", \"not_a_purpose\"");
    let errors = errors_with(&[("rules/extra.toml", &text)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("rules/extra.toml:6: unknown purpose"))
    );
}

#[test]
fn full_width_purposes_are_accepted_in_rules() {
    let text = GOOD.replace("\"157\"", "\"一五七\"");
    assert_eq!(
        errors_with(&[("rules/extra.toml", &text)]),
        Vec::<String>::new()
    );
}

#[test]
fn special_category_field_without_special_basis() {
    let text = r#"
[[rule]]
id = "health-without-basis"
clients = ["A15000000A"]
services = ["/tongdao.health.v1.HealthInsurance/ListVisits"]
purposes = ["157"]
fields = ["visits.diagnoses", "name"]
legal_basis = "statistics_research"
consent_required = false
"#;
    assert_single(
        &errors_with(&[("rules/extra.toml", text)]),
        "rules/extra.toml:7:",
        "releases §6 special-category data (visits.diagnoses.icd10cm_code, visits.diagnoses.name) without `special_basis`",
    );
    let fixed = text.replace(
        "consent_required",
        "special_basis = \"research\"\nconsent_required",
    );
    assert_eq!(
        errors_with(&[("rules/extra.toml", &fixed)]),
        Vec::<String>::new()
    );
    let admin_only = text.replace(
        "\"visits.diagnoses\", \"name\"",
        "\"visits.claimed_points\"",
    );
    assert_eq!(
        errors_with(&[("rules/extra.toml", &admin_only)]),
        Vec::<String>::new(),
        "C088 insurance details are not a special category"
    );
}

#[test]
fn unknown_special_basis_and_legal_basis() {
    let text = GOOD.replace(
        "legal_basis = \"statistics_research\"",
        "legal_basis = \"because\"\nspecial_basis = \"vibes\"",
    );
    let errors = errors_with(&[("rules/extra.toml", &text)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("rules/extra.toml:8: unknown legal_basis \"because\""));
    assert!(errors[1].starts_with("rules/extra.toml:9: unknown special_basis \"vibes\""));
}

#[test]
fn consent_basis_needs_consent_required() {
    let text = GOOD.replace("\"statistics_research\"", "\"consent\"");
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:9:",
        "`consent_required` must be true",
    );
}

#[test]
fn duplicate_rule_id_across_files() {
    let text = GOOD.replace("\"extra\"", "\"land-parcel-tax-095\"");
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/land.toml:",
        "duplicate rule id \"land-parcel-tax-095\" (first defined at rules/extra.toml:3)",
    );
}

#[test]
fn two_rules_for_the_same_client_service_and_purpose() {
    let text = format!("{GOOD}\n{}", GOOD.replace("\"extra\"", "\"extra-2\""));
    assert_single(
        &errors_with(&[("rules/extra.toml", &text)]),
        "rules/extra.toml:13:",
        "rule \"extra-2\" overlaps rule \"extra\" (rules/extra.toml:3)",
    );
}

#[test]
fn overlap_through_a_role() {
    // 307010000D holds role:tax_authority, which land-parcel-tax-095 already grants 095 to.
    let text = r#"
[[rule]]
id = "direct-grant"
clients = ["307010000D"]
services = ["/tongdao.land.v1.LandRegistry/GetParcel"]
purposes = ["095"]
fields = ["key"]
legal_basis = "duty"
consent_required = false
"#;
    assert_single(
        &errors_with(&[("rules/zz.toml", text)]),
        "rules/zz.toml:3:",
        "both allow 307010000D to call /tongdao.land.v1.LandRegistry/GetParcel for purpose 095",
    );
}

#[test]
fn successive_windows_do_not_overlap() {
    let first = GOOD.replace(
        "consent_required = false",
        "consent_required = false\nvalid_until = 2026-01-01T00:00:00+08:00",
    );
    let second = GOOD.replace("\"extra\"", "\"extra-2026\"").replace(
        "consent_required = false",
        "consent_required = false\nvalid_from = 2026-01-01T00:00:00+08:00",
    );
    let text = format!("{first}\n{second}");
    assert_eq!(
        errors_with(&[("rules/extra.toml", &text)]),
        Vec::<String>::new()
    );
}

#[test]
fn bad_window_and_quota() {
    let text = GOOD.replace(
        "consent_required = false",
        "consent_required = false\nvalid_from = 2026-01-01T00:00:00+08:00\nvalid_until = 2025-01-01T00:00:00+08:00\nquota = { requests = 0, per_seconds = 60, burst = 1 }\ndeferred_disclosure_days = -1",
    );
    let errors = errors_with(&[("rules/extra.toml", &text)]);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(errors[0].starts_with("rules/extra.toml:11: `valid_until` must be later"));
    assert!(errors[1].starts_with("rules/extra.toml:12: unknown key `burst` in quota"));
    assert!(errors[2].starts_with("rules/extra.toml:12: quota `requests` must be between 1"));
    assert!(errors[3].starts_with(
        "rules/extra.toml:13: `deferred_disclosure_days` must be a non-negative integer"
    ));
}

#[test]
fn missing_keys_point_at_the_rule_header() {
    let text = "\n\n[[rule]]\nid = \"incomplete\"\n";
    let errors = errors_with(&[("rules/extra.toml", text)]);
    assert!(errors.len() >= 6, "{errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("rules/extra.toml:3: rule is missing `")),
        "{errors:#?}"
    );
}

#[test]
fn toml_syntax_error() {
    let text = format!("{GOOD}\nfields = [\n");
    let errors = errors_with(&[("rules/extra.toml", &text)]);
    assert!(!errors.is_empty());
    assert!(
        errors[0].starts_with("rules/extra.toml:") && errors[0].contains("TOML syntax"),
        "{errors:#?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
[[rule]]
id = "Bad Id"
clients = ["role:nobody", "A15000000A", "A15000000A"]
services = ["/tongdao.land.v1.LandRegistry/GetParcel", "/nope"]
purposes = ["999"]
fields = ["owners.nope"]
legal_basis = "duty"
consent_required = "no"
"#;
    let roles = format!(
        "[[role]]\nname = \"extra_role\"\nagencies = [\"X00000000X\"]\n\n{}",
        shipped().get("roles.toml").expect("roles.toml")
    );
    let errors = errors_with(&[("rules/extra.toml", text), ("roles.toml", &roles)]);
    let expected_lines = [
        "roles.toml:3:",
        "rules/extra.toml:3:",
        "rules/extra.toml:4:",
        "rules/extra.toml:4:",
        "rules/extra.toml:5:",
        "rules/extra.toml:6:",
        "rules/extra.toml:7:",
        "rules/extra.toml:9:",
    ];
    assert_eq!(errors.len(), expected_lines.len(), "{errors:#?}");
    for (error, prefix) in errors.iter().zip(expected_lines) {
        assert!(error.starts_with(prefix), "{errors:#?}");
    }
}

#[test]
fn service_registry_is_checked_against_the_schemas() {
    let text = r#"
[[service]]
method = "/tongdao.land.v1.LandRegistry/Burn"
provider = "301000200A"
classes = []

[[service]]
method = "/tongdao.land.v1.LandRegistry/GetParcel"
provider = "A99999999A"
classes = ["C001", "C003", "C032", "C081"]

[[service]]
method = "/tongdao.land.v1.LandRegistry/ListHoldings"
provider = "301000200A"
classes = ["C032", "C081", "C111"]

[[service]]
method = "/tongdao.tax.v1.TaxRegistry/ListIncome"
provider = "307000000D"
classes = ["C001", "Ｃ○○三"]

[[service]]
method = "/tongdao.v1.Directory/ListServices"
provider = "A15000000A"
classes = []
"#;
    let errors = errors_with(&[("services.toml", text)]);
    let services: Vec<_> = errors
        .iter()
        .filter(|e| e.starts_with("services.toml"))
        .collect();
    assert_eq!(services.len(), 6, "{errors:#?}");
    assert!(services[0].starts_with("services.toml:3: unknown method Burn"));
    assert!(
        services[1].starts_with("services.toml:9: provider A99999999A is not in agencies.toml")
    );
    assert!(services[2].starts_with(
        "services.toml:9: provider A99999999A differs from the schema's provider_agency 301000200A"
    ));
    assert!(services[3].starts_with(
        "services.toml:15: /tongdao.land.v1.LandRegistry/ListHoldings cannot return C111"
    ));
    assert!(services[4].starts_with(
        "services.toml:20: /tongdao.tax.v1.TaxRegistry/ListIncome can return C081 too"
    ));
    assert!(
        services[5].starts_with("services.toml:23: tongdao.v1.Directory is not a domain service")
    );
    // Rules naming the services that are no longer registered are reported too.
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("rules/") && e.contains("unknown service"))
    );
}

#[test]
fn registry_files_must_exist_and_unknown_files_are_refused() {
    let mut sources = shipped();
    sources.remove("services.toml");
    sources.insert("rules/nested/x.toml", "");
    sources.insert("notes.toml", "");
    let errors: Vec<String> = match Policy::compile(&sources) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.errors().iter().map(ToString::to_string).collect(),
    };
    assert_eq!(
        errors,
        [
            "notes.toml: not a policy file (expected agencies.toml, services.toml, purposes.toml, roles.toml, rules/*.toml or recipes/*.toml)",
            "rules/nested/x.toml: not a policy file (expected agencies.toml, services.toml, purposes.toml, roles.toml, rules/*.toml or recipes/*.toml)",
            "services.toml: missing: every policy needs this registry",
        ],
        "a missing registry is one error, not one per rule that names a service"
    );
}

#[test]
fn agency_registry_errors_carry_lines() {
    let text = "[[agency]]\ncode = \"bad\"\nname = \"X\"\ngovernment_oid = \"1.2\"\n";
    let errors = errors_with(&[("agencies.toml", text)]);
    assert!(
        errors[0].starts_with("agencies.toml:2: agency code \"bad\""),
        "{errors:#?}"
    );
}
