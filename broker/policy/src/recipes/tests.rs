use std::collections::BTreeMap;

use prost::Message as _;
use prost_reflect::DynamicMessage;
use tongdao_core::ids::NationalId;
use tongdao_schemas::descriptors;
use tongdao_schemas::household::v1::{Member, Transcript};
use tongdao_schemas::land::v1::{
    GetParcelRequest, Holding, ListHoldingsRequest, ListHoldingsResponse, ParcelKey,
};
use tongdao_schemas::tax::v1::{GetTaxPaymentCertificateRequest, TaxKind};

use super::*;
use crate::Policy;
use crate::test_support::{shipped, shipped_sources};

/// A valid recipe against the shipped rules; cases below change one thing in it.
const BASE: &str = r#"name = "t"
title = "T"
purpose = "057"
clients = ["role:social_welfare"]
consent = "applicant"

[[input]]
name = "applicant"
kind = "national_id"

[[input]]
name = "year"
kind = "roc_year"

[[leg]]
name = "household"
service = "/tongdao.household.v1.HouseholdRegistry/GetTranscript"
fields = ["household_number", "members.name", "members.national_id", "members.removed"]
timeout_ms = 800
request = { national_id = "$input.applicant", kind = "CURRENT_WHOLE" }

[[leg]]
name = "income"
service = "/tongdao.tax.v1.TaxRegistry/ListIncome"
fields = ["income_year_roc", "earner_name"]
timeout_ms = 800
request = { national_id = "$input.applicant", income_year_roc = "$input.year" }

[[leg]]
name = "land"
service = "/tongdao.land.v1.LandRegistry/ListHoldings"
for_each = "$household.members"
skip_if = "$each.removed"
fields = ["holdings.county"]
timeout_ms = 800
request = { national_id = "$each.national_id" }
"#;

/// The problems of `recipes/t.toml` when added to the shipped policy, as `line: message`.
fn problems(text: &str) -> Vec<String> {
    let mut sources = shipped_sources();
    sources.insert("recipes/t.toml", text);
    match Policy::compile(&sources) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .errors()
            .iter()
            .filter(|e| e.file == "recipes/t.toml")
            .map(|e| format!("{}: {}", e.line.unwrap_or(0), e.message))
            .collect(),
    }
}

/// BASE with `from` replaced by `to` (which must occur).
fn changed(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has {from:?}");
    BASE.replacen(from, to, 1)
}

#[track_caller]
fn assert_problem(text: &str, line: u32, needle: &str) {
    let found = problems(text);
    assert!(
        found
            .iter()
            .any(|p| p.starts_with(&format!("{line}: ")) && p.contains(needle)),
        "expected {line}: …{needle}…, found {found:#?}"
    );
}

#[test]
fn the_base_recipe_compiles() {
    assert_eq!(problems(BASE), Vec::<String>::new());
}

#[test]
fn the_shipped_policy_has_three_recipes() {
    let policy = shipped();
    let names: Vec<&str> = policy.recipes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "company-registration",
            "moving-house",
            "welfare-eligibility"
        ]
    );
    let welfare = policy.recipe("welfare-eligibility").expect("recipe");
    assert_eq!(welfare.consent_subject.as_deref(), Some("applicant"));
    assert_eq!(welfare.agencies, ["379010000A", "A21040000I"]);
    let legs: Vec<(&str, bool, &[usize])> = welfare
        .legs
        .iter()
        .map(|l| (l.name.as_str(), l.consent, l.depends_on.as_slice()))
        .collect();
    assert_eq!(
        legs,
        [
            ("household", true, &[][..]),
            ("members_land", false, &[0][..]),
            ("applicant_income", true, &[][..]),
            ("applicant_property", true, &[][..]),
        ]
    );
    assert_eq!(welfare.legs[1].max_calls, 20);
    let company = policy.recipe("company-registration").expect("recipe");
    assert_eq!(company.legs[2].depends_on, [1]);
    assert!(!company.legs[2].consent, "a parcel is not a person");
}

#[test]
fn recipes_for_expands_roles() {
    let policy = shipped();
    let names = |code| -> Vec<String> {
        policy
            .recipes_for(code)
            .iter()
            .map(|r| r.name.clone())
            .collect()
    };
    assert_eq!(names("A21040000I"), ["welfare-eligibility"]);
    assert_eq!(names("379010000A"), ["welfare-eligibility"]);
    assert_eq!(names("350050000A"), ["company-registration"]);
    assert_eq!(names("301000100A"), ["moving-house"]);
    assert!(names("307010000D").is_empty());
}

#[test]
fn unknown_keys_and_missing_keys() {
    assert_problem(
        &changed("title = \"T\"\n", "title = \"T\"\ncolour = \"red\"\n"),
        3,
        "unknown key `colour` in recipe",
    );
    assert_problem(
        &changed("title = \"T\"\n", ""),
        1,
        "recipe is missing `title`",
    );
    assert_problem(
        &changed(
            "timeout_ms = 800\nrequest = { national_id = \"$input.applicant\", income",
            "request = { national_id = \"$input.applicant\", income",
        ),
        22,
        "leg is missing `timeout_ms`",
    );
}

#[test]
fn bad_names() {
    assert_problem(&changed("name = \"t\"", "name = \"T_1\""), 1, "recipe name");
    assert_problem(
        &changed("name = \"income\"", "name = \"Income\""),
        23,
        "leg name",
    );
    assert_problem(
        &changed("name = \"income\"", "name = \"input\""),
        23,
        "cannot be named",
    );
    assert_problem(
        &changed("name = \"income\"", "name = \"household\""),
        23,
        "leg `household` is defined twice",
    );
    assert_problem(
        &changed("name = \"year\"", "name = \"applicant\""),
        12,
        "input `applicant` is declared twice",
    );
}

#[test]
fn duplicate_recipe_names_cite_the_first() {
    let mut sources = shipped_sources();
    sources.insert("recipes/t.toml", BASE);
    sources.insert("recipes/u.toml", BASE);
    let errors = Policy::compile(&sources).expect_err("duplicate");
    let messages: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
    assert!(
        messages.contains(
            &"recipes/u.toml:1: duplicate recipe name \"t\" (first defined at recipes/t.toml:1)"
                .to_owned()
        ),
        "{messages:#?}"
    );
}

#[test]
fn unknown_purpose_and_clients() {
    assert_problem(&changed("\"057\"", "\"999\""), 3, "unknown purpose \"999\"");
    assert_problem(
        &changed("[\"role:social_welfare\"]", "[\"citizen:self\"]"),
        4,
        "cannot run a recipe",
    );
    assert_problem(
        &changed("[\"role:social_welfare\"]", "[\"role:nobody\"]"),
        4,
        "unknown role \"nobody\"",
    );
    assert_problem(
        &changed("[\"role:social_welfare\"]", "[\"X00000000X\"]"),
        4,
        "unknown agency \"X00000000X\"",
    );
}

#[test]
fn consent_must_name_a_national_id_input() {
    assert_problem(
        &changed("consent = \"applicant\"", "consent = \"year\""),
        5,
        "must be of kind national_id",
    );
    assert_problem(
        &changed("consent = \"applicant\"", "consent = \"nobody\""),
        5,
        "not a declared input",
    );
}

#[test]
fn unknown_service_and_field() {
    assert_problem(
        &changed("TaxRegistry/ListIncome", "TaxRegistry/Nope"),
        24,
        "unknown service \"/tongdao.tax.v1.TaxRegistry/Nope\"",
    );
    assert_problem(
        &changed("[\"income_year_roc\", \"earner_name\"]", "[\"nope\"]"),
        25,
        "unknown field \"nope\"",
    );
}

#[test]
fn fields_beyond_a_clients_rule() {
    assert_problem(
        &changed(
            "[\"income_year_roc\", \"earner_name\"]",
            "[\"income_year_roc\", \"earner_national_id\"]",
        ),
        25,
        "rule tax-income-welfare-consent does not release earner_national_id to client \
         379010000A",
    );
}

#[test]
fn a_client_without_a_rule() {
    assert_problem(
        &changed(
            "[\"role:social_welfare\"]",
            "[\"role:social_welfare\", \"301000300A\"]",
        ),
        17,
        "client 301000300A has no rule allowing \
         /tongdao.household.v1.HouseholdRegistry/GetTranscript for purpose 057",
    );
}

#[test]
fn request_literals_are_typed() {
    assert_problem(
        &changed("kind = \"CURRENT_WHOLE\"", "kind = \"WHOLE\""),
        20,
        "\"WHOLE\" is not a value of tongdao.household.v1.TranscriptKind",
    );
    assert_problem(
        &changed("kind = \"CURRENT_WHOLE\"", "kind = true"),
        20,
        "is an enum tongdao.household.v1.TranscriptKind, but the value is a boolean",
    );
    assert_problem(
        &changed("kind = \"CURRENT_WHOLE\"", "colour = 1"),
        20,
        "unknown key `colour` in request",
    );
}

#[test]
fn the_subject_must_be_set() {
    assert_problem(
        &changed(
            "{ national_id = \"$input.applicant\", kind = \"CURRENT_WHOLE\" }",
            "{ kind = \"CURRENT_WHOLE\" }",
        ),
        20,
        "the request does not set `national_id`",
    );
}

#[test]
fn references_must_resolve() {
    let income = "income_year_roc = \"$input.year\"";
    for (to, needle) in [
        ("income_year_roc = \"$input.yaer\"", "unknown input `yaer`"),
        ("income_year_roc = \"$nope.x\"", "unknown leg `nope`"),
        (
            "income_year_roc = \"$income.income_year_roc\"",
            "leg `income` reads its own answer",
        ),
        (
            "income_year_roc = \"$each.x\"",
            "`$each` is only available in a leg with for_each",
        ),
        (
            "income_year_roc = \"$household.nope\"",
            "tongdao.household.v1.Transcript has no field `nope`",
        ),
        (
            "income_year_roc = \"$household.members.name\"",
            "`members` is a repeated field",
        ),
        (
            "income_year_roc = \"$input.applicant\"",
            "`$input.applicant` is a string, but request field `income_year_roc` is an integer",
        ),
        (
            "income_year_roc = \"$land.holdings\"",
            "reading the answers of for_each leg `land` from another leg is not supported",
        ),
    ] {
        assert_problem(&changed(income, to), 27, needle);
    }
}

#[test]
fn a_read_must_be_among_the_source_legs_fields() {
    assert_problem(
        &changed(
            "{ national_id = \"$each.national_id\" }",
            "{ national_id = \"$each.spouse_name\" }",
        ),
        36,
        "`members.spouse_name` is not among the for_each leg's `fields`",
    );
    assert_problem(
        &changed(
            "{ national_id = \"$input.applicant\", income_year_roc",
            "{ national_id = \"$household.head_name\", income_year_roc",
        ),
        27,
        "`head_name` is not among leg `household`'s `fields`",
    );
}

#[test]
fn for_each_and_skip_if_are_checked() {
    assert_problem(
        &changed(
            "for_each = \"$household.members\"",
            "for_each = \"$income.earner_name\"",
        ),
        32,
        "`$income.earner_name` is not a repeated field",
    );
    assert_problem(
        &changed(
            "for_each = \"$household.members\"",
            "for_each = \"$input.applicant\"",
        ),
        32,
        "for_each must be a repeated field of an earlier leg's answer",
    );
    assert_problem(
        &changed("skip_if = \"$each.removed\"", "skip_if = \"$each.name\""),
        33,
        "is a string, not a bool",
    );
    assert_problem(
        &changed("for_each = \"$household.members\"\n", ""),
        32,
        "`skip_if` applies only to a leg with `for_each`",
    );
    assert_problem(
        &changed("name = \"income\"\n", "name = \"income\"\nmax_calls = 3\n"),
        24,
        "`max_calls` applies only to a leg with `for_each`",
    );
    assert_problem(
        &changed(
            "skip_if = \"$each.removed\"\n",
            "skip_if = \"$each.removed\"\nmax_calls = 501\n",
        ),
        34,
        "`max_calls` must be between 1 and 500",
    );
}

#[test]
fn cycles_are_one_error_naming_them() {
    let text = changed(
        "{ national_id = \"$input.applicant\", kind = \"CURRENT_WHOLE\" }",
        "{ national_id = \"$income.earner_name\", kind = \"CURRENT_WHOLE\" }",
    )
    .replacen(
        "{ national_id = \"$input.applicant\", income_year_roc",
        "{ national_id = \"$household.household_number\", income_year_roc",
        1,
    );
    let found = problems(&text);
    let cycles: Vec<&String> = found.iter().filter(|p| p.contains("cycle")).collect();
    assert_eq!(
        cycles,
        [
            &"16: legs read each other in a cycle (household → income → household; each reads \
           the next): none of them could run first"
                .to_owned()
        ],
        "{found:#?}"
    );
}

#[test]
fn consent_must_cover_legs_whose_rule_requires_it() {
    assert_problem(
        &changed("consent = \"applicant\"\n", ""),
        23,
        "rule tax-income-welfare-consent requires the subject's consent, but the recipe \
         declares no `consent` input",
    );
    let text = changed(
        "{ national_id = \"$input.applicant\", income_year_roc",
        "{ national_id = \"$household.household_number\", income_year_roc",
    );
    assert_problem(
        &text,
        24,
        "leg `income` does not set `national_id` from `$input.applicant`",
    );
}

#[test]
fn unused_inputs_are_errors() {
    assert_problem(
        &changed(
            "[[leg]]\nname = \"household\"",
            "[[input]]\nname = \"spare\"\nkind = \"text\"\n\n[[leg]]\nname = \"household\"",
        ),
        16,
        "input `spare` is not used by any leg",
    );
}

fn input(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn id(serial: u32) -> String {
    NationalId::with_checksum('A', 1, serial)
        .expect("id")
        .to_string()
}

fn all_kinds() -> Recipe {
    let kinds = [
        ("person", InputKind::NationalId),
        ("company", InputKind::BusinessNumber),
        ("year", InputKind::RocYear),
        ("note", InputKind::Text),
    ];
    let mut recipe = shipped().recipes()[0].clone();
    recipe.inputs = kinds
        .iter()
        .map(|(name, kind)| RecipeInput {
            name: (*name).to_owned(),
            kind: *kind,
            description: None,
        })
        .collect();
    recipe
}

#[test]
fn check_input_accepts_good_input() {
    let person = id(2_345_678);
    let good = input(&[
        ("person", &person),
        ("company", "12345675"),
        ("year", "113"),
        ("note", "遷入"),
    ]);
    assert_eq!(all_kinds().check_input(&good), Ok(()));
}

#[test]
fn check_input_refuses_each_bad_input_without_echoing_ids() {
    let person = id(2_345_678);
    let good = [
        ("person", person.as_str()),
        ("company", "12345675"),
        ("year", "113"),
        ("note", "遷入"),
    ];
    let recipe = all_kinds();
    let long = "x".repeat(257);
    let mut bad_id = person.clone();
    bad_id.replace_range(9.., if person.ends_with('0') { "1" } else { "0" });
    for (name, value, needle) in [
        (
            "person",
            bad_id.as_str(),
            "input `person` is not a valid national ID",
        ),
        (
            "company",
            "12345678",
            "input `company` is not a valid business number",
        ),
        ("year", "0", "input `year` is not a ROC year"),
        ("year", "1000", "input `year` is not a ROC year"),
        ("year", "abc", "input `year` is not a ROC year"),
        ("note", "  ", "input `note` is empty"),
        (
            "note",
            long.as_str(),
            "input `note` is longer than 256 characters",
        ),
    ] {
        let mut pairs = good.to_vec();
        pairs.retain(|(n, _)| *n != name);
        pairs.push((name, value));
        let error = recipe.check_input(&input(&pairs)).expect_err(needle);
        assert!(error.0.contains(needle), "{needle}: {error}");
        assert!(!error.0.contains(&bad_id), "no national ID in {error}");
    }
    let missing = recipe.check_input(&input(&good[1..])).expect_err("missing");
    assert_eq!(missing.0, "input `person` (a national ID) is missing");
    let mut extra = good.to_vec();
    extra.push(("other", "x"));
    let unknown = recipe.check_input(&input(&extra)).expect_err("extra");
    assert!(unknown.0.starts_with("unknown input `other`"), "{unknown}");
}

fn dynamic<M: prost::Message>(name: &str, message: &M) -> DynamicMessage {
    let descriptor = descriptors::pool()
        .get_message_by_name(name)
        .expect("message type");
    DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).expect("decodes")
}

fn member(name: &str, national_id: &str, removed: bool) -> Member {
    Member {
        name: name.to_owned(),
        national_id: national_id.to_owned(),
        removed,
        ..Member::default()
    }
}

#[test]
fn requests_fan_out_per_item_and_skip() {
    let policy = shipped();
    let welfare = policy.recipe("welfare-eligibility").expect("recipe");
    let household = Transcript {
        members: vec![
            member("甲", &id(1), false),
            member("乙", &id(2), true),
            member("丙", "", false),
            member("丁", &id(4), false),
        ],
        ..Transcript::default()
    };
    let done = [
        Some(dynamic("tongdao.household.v1.Transcript", &household)),
        None,
        None,
        None,
    ];
    let applicant = id(1);
    let input = input(&[("applicant", &applicant), ("income_year", "113")]);
    let requests = welfare.legs[1].requests(&input, &done).expect("requests");
    let ids: Vec<String> = requests
        .iter()
        .map(|b| {
            ListHoldingsRequest::decode(b.as_ref())
                .expect("decodes")
                .national_id
        })
        .collect();
    assert_eq!(ids, [id(1), id(4)], "removed and ID-less members skipped");

    let big = Transcript {
        members: (0..21).map(|n| member("x", &id(n), false)).collect(),
        ..Transcript::default()
    };
    let done = [
        Some(dynamic("tongdao.household.v1.Transcript", &big)),
        None,
        None,
        None,
    ];
    let error = welfare.legs[1]
        .requests(&input, &done)
        .expect_err("too many");
    assert!(error.0.contains("more than max_calls = 20"), "{error}");

    let error = welfare.legs[1]
        .requests(&input, &[None, None, None, None])
        .expect_err("household missing");
    assert_eq!(
        error.0,
        "leg `members_land`: it reads leg `household`, which has not answered (it failed, was \
         refused or has not run yet)"
    );
}

#[test]
fn requests_copy_inputs_literals_and_whole_messages() {
    let policy = shipped();
    let company = policy.recipe("company-registration").expect("recipe");
    let person = id(7);
    let input = input(&[("responsible_person", &person), ("tax_year", "113")]);
    let house_tax = company.legs[3].requests(&input, &[]).expect("one request");
    assert_eq!(house_tax.len(), 1);
    let request = GetTaxPaymentCertificateRequest::decode(house_tax[0].as_ref()).expect("decodes");
    assert_eq!(request.national_id, person);
    assert_eq!(request.kind, TaxKind::HouseTax as i32);
    assert_eq!(request.tax_year_roc, 113);

    let key = |n: &str| ParcelKey {
        land_office_code: "AA".to_owned(),
        section_code: "0001".to_owned(),
        parcel_number: n.to_owned(),
    };
    let holdings = ListHoldingsResponse {
        holdings: vec![
            Holding {
                key: Some(key("00010000")),
                ..Holding::default()
            },
            Holding {
                key: Some(key("00020000")),
                ..Holding::default()
            },
        ],
    };
    let done = [
        None,
        Some(dynamic("tongdao.land.v1.ListHoldingsResponse", &holdings)),
        None,
        None,
    ];
    let parcels: Vec<Option<ParcelKey>> = company.legs[2]
        .requests(&input, &done)
        .expect("requests")
        .iter()
        .map(|b| GetParcelRequest::decode(b.as_ref()).expect("decodes").key)
        .collect();
    assert_eq!(parcels, [Some(key("00010000")), Some(key("00020000"))]);
}

#[test]
fn requests_never_panic_on_bad_input() {
    let policy = shipped();
    let company = policy.recipe("company-registration").expect("recipe");
    let error = company.legs[3]
        .requests(
            &input(&[("responsible_person", "x"), ("tax_year", "abc")]),
            &[],
        )
        .expect_err("not a number");
    assert!(
        error.0.contains("input `tax_year` is not a number"),
        "{error}"
    );
    let error = company.legs[3]
        .requests(&BTreeMap::new(), &[])
        .expect_err("missing");
    assert!(error.0.contains("is missing"), "{error}");
}
