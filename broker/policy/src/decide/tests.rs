use super::*;

use crate::PolicySources;
use crate::test_support::{NOW, shipped, shipped_sources};

const TRANSCRIPT: &str = "/tongdao.household.v1.HouseholdRegistry/GetTranscript";
const INCOME: &str = "/tongdao.tax.v1.TaxRegistry/ListIncome";
const LABS: &str = "/tongdao.health.v1.HealthInsurance/ListLabResults";

fn request<'a>(
    agency: Option<&'a str>,
    method: &'a str,
    purpose: Option<&'a str>,
) -> DecisionRequest<'a> {
    DecisionRequest {
        agency_code: agency,
        method,
        purpose,
        now_unix: NOW,
    }
}

fn denial(decision: Decision) -> Denial {
    match decision {
        Decision::Deny(denial) => denial,
        Decision::Allow(allow) => panic!("expected a denial, allowed by {}", allow.rule_id),
    }
}

#[test]
fn allow_carries_rule_version_mask_and_basis() {
    let policy = shipped();
    let Decision::Allow(allow) = policy.decide(&request(Some("379010000A"), INCOME, Some("057")))
    else {
        panic!("allowed");
    };
    assert_eq!(&*allow.rule_id, "tax-income-welfare-consent");
    assert_eq!(&*allow.policy_version, policy.version());
    assert_eq!(allow.purpose.map(|p| p.to_string()).as_deref(), Some("057"));
    assert!(allow.consent_required);
    assert_eq!(allow.legal_basis, LegalBasis::Consent);
    assert_eq!(allow.special_basis, None);
    assert_eq!(allow.released_classes, [DataClass::C001, DataClass::C081]);
    assert_eq!(allow.quota.map(|q| q.requests), Some(1000));
    assert!(allow.fields.releases("items.gross_amount"));
    assert!(!allow.fields.releases("earner_national_id"));
}

#[test]
fn purposes_are_normalised() {
    let policy = shipped();
    for form in ["057", " 057", "○五七", "０５７", "social_administration"] {
        let decision = policy.decide(&request(Some("379010000A"), INCOME, Some(form)));
        let Decision::Allow(allow) = decision else {
            panic!("{form:?} should be allowed");
        };
        assert_eq!(allow.purpose.map(|p| p.number()), Some(57), "{form:?}");
    }
}

#[test]
fn each_denial_reason() {
    let policy = shipped();
    let cases = [
        (
            request(
                Some("379010000A"),
                "/tongdao.tax.v1.TaxRegistry/Nope",
                Some("057"),
            ),
            Reason::NoMatchingRule,
        ),
        (request(None, INCOME, Some("057")), Reason::AgencyRequired),
        (
            request(Some("379010000A"), INCOME, None),
            Reason::PurposeRequired,
        ),
        (
            request(Some("379010000A"), INCOME, Some("  ")),
            Reason::PurposeRequired,
        ),
        (
            request(Some("379010000A"), INCOME, Some("A123456789")),
            Reason::PurposeUnknown,
        ),
        (
            request(Some("379010000A"), INCOME, Some("095")),
            Reason::PurposeNotAllowed,
        ),
        (
            request(Some("A17000000J"), INCOME, Some("114")),
            Reason::NoMatchingRule,
        ),
        (
            request(Some("X00000000X"), INCOME, Some("057")),
            Reason::NoMatchingRule,
        ),
    ];
    for (request, reason) in cases {
        let denial = denial(policy.decide(&request));
        assert_eq!(denial.reason(), reason, "{request:?}: {denial}");
    }
}

#[test]
fn denial_messages_do_not_echo_the_purpose_header() {
    let denial = denial(shipped().decide(&request(Some("379010000A"), INCOME, Some("A123456789"))));
    assert!(!denial.message().contains("A123456789"), "{denial}");
    let rejection = denial.into_rejection();
    assert_eq!(rejection.reason(), Reason::PurposeUnknown);
    assert_eq!(
        rejection.message(),
        "the tongdao-purpose value is not a registered PDPA purpose code (three digits, e.g. 095)"
    );
}

#[test]
fn purpose_not_allowed_names_the_allowed_purposes() {
    let denial = denial(shipped().decide(&request(Some("307010000D"), TRANSCRIPT, Some("057"))));
    assert_eq!(denial.reason(), Reason::PurposeNotAllowed);
    assert!(
        denial.message().contains("only for purpose 095, not 057"),
        "{denial}"
    );
}

#[test]
fn validity_window_is_inclusive_at_the_start_and_exclusive_at_the_end() {
    let policy = shipped();
    let start = 1_735_660_800; // 2025-01-01T00:00:00+08:00
    let end = 1_798_732_800; // 2027-01-01T00:00:00+08:00
    let at = |now_unix| DecisionRequest {
        now_unix,
        ..request(Some("A21000000I"), LABS, Some("157"))
    };
    assert!(!policy.decide(&at(start - 1)).is_allow());
    assert!(policy.decide(&at(start)).is_allow());
    assert!(policy.decide(&at(end - 1)).is_allow());
    let late = denial(policy.decide(&at(end)));
    assert_eq!(late.reason(), Reason::NoMatchingRule);
    assert!(late.message().contains("not in force"), "{late}");
}

#[test]
fn roles_are_expanded_at_compile_time() {
    let policy = shipped();
    for agency in ["307000000D", "307010000D"] {
        let decision = policy.decide(&request(
            Some(agency),
            "/tongdao.land.v1.LandRegistry/GetParcel",
            Some("095"),
        ));
        assert!(decision.is_allow(), "{agency} holds role:tax_authority");
    }
    assert_eq!(
        policy.rule_agencies("land-parcel-tax-095"),
        ["307000000D", "307010000D"]
    );
}

#[test]
fn successive_rules_hand_over_at_the_window_boundary() {
    let mut sources: PolicySources = shipped_sources();
    let rule = |id: &str, window: &str, field: &str| {
        format!(
            "[[rule]]\nid = \"{id}\"\nclients = [\"A15000000A\"]\nservices = [\"{INCOME}\"]\n\
             purposes = [\"157\"]\nfields = [\"{field}\"]\nlegal_basis = \"statistics_research\"\n\
             consent_required = false\n{window}\n"
        )
    };
    let text = rule(
        "old",
        "valid_until = 2026-01-01T00:00:00+08:00",
        "income_year_roc",
    ) + &rule(
        "new",
        "valid_from = 2026-01-01T00:00:00+08:00",
        "items.gross_amount",
    );
    sources.insert("rules/research.toml", text);
    let policy = crate::Policy::compile(&sources).expect("compiles");
    let boundary = 1_767_196_800; // 2026-01-01T00:00:00+08:00
    let at = |now_unix| {
        let decision = policy.decide(&DecisionRequest {
            now_unix,
            ..request(Some("A15000000A"), INCOME, Some("157"))
        });
        decision.into_result().map(|a| a.rule_id.to_string())
    };
    assert_eq!(at(boundary - 1).as_deref(), Ok("old"));
    assert_eq!(at(boundary).as_deref(), Ok("new"));
}

#[test]
fn decisions_are_the_same_for_equal_policies() {
    let a = shipped();
    let b = shipped();
    let req = request(Some("307010000D"), TRANSCRIPT, Some("095"));
    let (Decision::Allow(x), Decision::Allow(y)) = (a.decide(&req), b.decide(&req)) else {
        panic!("allowed");
    };
    assert_eq!(x, y);
}
