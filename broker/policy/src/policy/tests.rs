use super::*;

use crate::test_support::shipped;

#[test]
fn grants_for_an_agency_list_its_services_purposes_and_fields() {
    let policy = shipped();
    let grants = policy.grants_for("379010000A");
    let summary: Vec<(&str, &str)> = grants
        .iter()
        .map(|g| (g.service.method.as_str(), g.rule.id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "/tongdao.household.v1.HouseholdRegistry/GetTranscript",
                "household-transcript-welfare"
            ),
            (
                "/tongdao.land.v1.LandRegistry/GetParcel",
                "land-parcel-class2-welfare"
            ),
            (
                "/tongdao.land.v1.LandRegistry/ListHoldings",
                "land-holdings-welfare"
            ),
            (
                "/tongdao.tax.v1.TaxRegistry/ListIncome",
                "tax-income-welfare-consent"
            ),
            (
                "/tongdao.tax.v1.TaxRegistry/ListProperty",
                "tax-property-welfare-consent"
            ),
            (
                "/tongdao.health.v1.HealthInsurance/ListVisits",
                "health-visits-welfare-consent"
            ),
        ]
    );
    assert!(
        grants[1]
            .fields
            .paths()
            .contains(&"owners.owner_name".to_owned())
    );
    assert!(policy.grants_for("X00000000X").is_empty());
}

#[test]
fn the_index_has_a_slot_per_service_and_shares_masks() {
    let policy = shipped();
    assert_eq!(policy.index.len(), policy.services().entries().len());
    let slot = &policy.index["/tongdao.land.v1.LandRegistry/GetParcel"];
    let rules = |code| {
        slot.by_client[&AgencyKey::new(code).expect("key")]
            .entries()
            .next()
            .expect("a rule")
    };
    let a = &rules("307000000D").allow.fields;
    let b = &rules("307010000D").allow.fields;
    assert!(
        Arc::ptr_eq(a, b),
        "one mask per rule and service, shared by the role's agencies"
    );
}

#[test]
fn rules_keep_what_they_were_given() {
    let policy = shipped();
    let rule = policy.rule("household-transcript-tax-095").expect("rule");
    assert_eq!(rule.file, "rules/household.toml");
    assert_eq!(rule.deferred_disclosure_days, Some(90));
    assert_eq!(
        rule.quota,
        Some(crate::Quota {
            requests: 5000,
            per_seconds: 86_400
        })
    );
    assert_eq!(rule.citation.as_deref(), Some("稅捐稽徵法第30條"));
    let research = policy.rule("health-labs-research-2025").expect("rule");
    assert_eq!(research.special_basis, Some(crate::SpecialBasis::Research));
    assert_eq!(research.valid_from, Some(1_735_660_800));
}

#[test]
fn an_empty_rule_set_denies_everything() {
    let mut sources = crate::test_support::shipped_sources();
    for name in [
        "rules/household.toml",
        "rules/land.toml",
        "rules/tax.toml",
        "rules/health.toml",
        "rules/commerce.toml",
        // Recipes need rules; without any, every leg would be refused.
        "recipes/company-registration.toml",
        "recipes/moving-house.toml",
        "recipes/welfare-eligibility.toml",
    ] {
        sources.remove(name);
    }
    let policy = Policy::compile(&sources).expect("registries alone compile");
    let decision = policy.decide(&crate::DecisionRequest {
        agency_code: Some("307010000D"),
        method: "/tongdao.land.v1.LandRegistry/GetParcel",
        purpose: Some("095"),
        now_unix: 0,
    });
    assert!(!decision.is_allow());
}
