//! One-stop recipes through the real broker and the five adapters, over mTLS with the sandbox's
//! certificates: the shipped recipes answer every leg, and what each leg answered agrees with
//! the registers and holds only the leg's fields; an agency's system down fails only its legs;
//! a leg its rule refuses is refused alone; the audit log holds the run's parent record and a
//! record for every leg call under it, on one trace; the directory lists what a caller may run;
//! whole-run refusals are specific and audited.

use std::{collections::HashMap, time::Duration};

use tongdao_adapter_commerce::standin::{Dataset, Fault};
use tongdao_audit::{AuditRecord, Query};
use tongdao_cli::{
    adapter_cmd::AdapterKind,
    recipes::{self, agency_code, consent_request, runner_identity, sandbox_input, sandbox_policy},
};
use tongdao_core::Reason;
use tongdao_integration_tests::{System, assert_refused, sandbox::InProcessStack};
use tongdao_policy::Policy;
use tongdao_schemas::{
    commerce::v1::ListDirectorshipsResponse,
    household::v1::Transcript,
    land::v1::{ListHoldingsResponse, Parcel},
    tax::v1::{ListIncomeResponse, TaxPaymentCertificate},
    v1::{
        LegCall, ListRecipesRequest, RunRecipeResponse, directory_client::DirectoryClient, leg_call,
    },
};
use tonic::Code;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A recipe as its client runs it on the sandbox: who, with which input and consent.
struct Prepared {
    name: &'static str,
    identity: String,
    input: HashMap<String, String>,
    consent: Option<String>,
}

/// Prepares `name` for its first sandbox client, granting the citizen's consent when the
/// recipe has a consent subject and `with_consent` is set.
async fn prepare(
    system: &System,
    policy: &Policy,
    name: &'static str,
    with_consent: bool,
) -> Prepared {
    let recipe = policy.recipe(name).expect("shipped recipe");
    let identity = runner_identity(policy, recipe).expect("a sandbox agency runs it");
    let consent = match (&recipe.consent_subject, with_consent) {
        (Some(_), true) => {
            let grantee = agency_code(policy, &identity).expect("agency code");
            let request = consent_request(&system.sandbox, recipe, &grantee);
            Some(
                recipes::grant_consent(&system.sandbox, request)
                    .await
                    .expect("the citizen grants the recipe's consent"),
            )
        }
        _ => None,
    };
    Prepared {
        name,
        identity,
        input: sandbox_input(&system.sandbox, recipe),
        consent,
    }
}

async fn run(system: &System, prepared: &Prepared) -> RunRecipeResponse {
    let (response, metadata) = recipes::run(
        &system.sandbox,
        &prepared.identity,
        prepared.name,
        &prepared.input,
        prepared.consent.as_deref(),
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|status| panic!("{} runs: {status:?}", prepared.name));
    assert_eq!(
        metadata
            .get("tongdao-exchange-id")
            .and_then(|v| v.to_str().ok()),
        Some(response.exchange_id.as_str()),
        "the parent exchange id is in the response metadata"
    );
    response
}

/// The calls of leg `name`.
fn calls<'r>(response: &'r RunRecipeResponse, name: &str) -> &'r [LegCall] {
    &response
        .legs
        .iter()
        .find(|leg| leg.leg == name)
        .unwrap_or_else(|| panic!("leg {name} is in the answer"))
        .calls
}

/// The answers of leg `name`, decoded; panics on a failed call.
fn answers<M: prost::Message + Default>(response: &RunRecipeResponse, name: &str) -> Vec<M> {
    calls(response, name)
        .iter()
        .map(|call| match &call.outcome {
            Some(leg_call::Outcome::Response(any)) => {
                M::decode(any.value.as_slice()).expect("the answer decodes as the leg's output")
            }
            other => panic!("leg {name} did not answer: {other:?}"),
        })
        .collect()
}

/// The error reason of every call of leg `name`.
fn reasons(response: &RunRecipeResponse, name: &str) -> Vec<String> {
    calls(response, name)
        .iter()
        .map(|call| match &call.outcome {
            Some(leg_call::Outcome::Error(error)) => error.reason.clone(),
            _ => "OK".to_owned(),
        })
        .collect()
}

fn all_answered(response: &RunRecipeResponse) {
    let failed: Vec<_> = response
        .legs
        .iter()
        .flat_map(|leg| leg.calls.iter().map(move |call| (&leg.leg, call)))
        .filter_map(|(leg, call)| match &call.outcome {
            Some(leg_call::Outcome::Error(error)) => Some(format!("{leg}: {error:?}")),
            _ => None,
        })
        .collect();
    assert!(failed.is_empty(), "{}: {failed:?}", response.recipe);
    assert_eq!(response.failed, 0);
    assert!(response.succeeded > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_recipes_answer_every_leg_with_the_registers_data_and_only_the_legs_fields() {
    let system = System::start().await;
    let policy = sandbox_policy(&system.sandbox).expect("sandbox policy");
    let person = system.sandbox.citizen_id().to_owned();
    let registers = system.sandbox.registers();

    // Welfare eligibility: the household, each current member's land, the applicant's income
    // and property (the last two with the applicant's consent).
    let welfare = prepare(&system, &policy, "welfare-eligibility", true).await;
    let response = run(&system, &welfare).await;
    all_answered(&response);
    assert_eq!(response.purpose, "057");
    let household: Vec<Transcript> = answers(&response, "household");
    let members = &household[0].members;
    let current = members.iter().filter(|m| !m.removed).count();
    assert!(current > 0);
    assert_eq!(
        calls(&response, "members_land").len(),
        current,
        "one land call per current member, none for removed ones"
    );
    for member in members {
        // The welfare rule releases birth dates; the recipe does not ask for them.
        assert!(member.birth_date.is_none(), "minimised to the leg's fields");
    }
    let year: u32 = welfare.input["income_year"].parse().expect("year");
    let income: Vec<ListIncomeResponse> = answers(&response, "applicant_income");
    let expected: i64 = registers
        .tax
        .income
        .iter()
        .filter(|r| r.earner_national_id.as_str() == person && u32::from(r.income_year_roc) == year)
        .map(|r| r.gross_amount)
        .sum();
    assert!(expected > 0, "the citizen has income in {year}");
    let received: i64 = income[0].items.iter().map(|i| i.gross_amount).sum();
    assert_eq!(
        received, expected,
        "the applicant's gross income for {year}"
    );
    assert!(
        income[0].items.iter().all(|i| i.payer_name.is_empty()),
        "payer names are not among the leg's fields"
    );

    // Company registration: identity, holdings → each parcel's register, house tax.
    let company = prepare(&system, &policy, "company-registration", true).await;
    let response = run(&system, &company).await;
    all_answered(&response);
    let holdings: Vec<ListHoldingsResponse> = answers(&response, "holdings");
    assert!(!holdings[0].holdings.is_empty(), "the citizen holds land");
    let parcels: Vec<Parcel> = answers(&response, "premises");
    assert_eq!(
        parcels.len(),
        holdings[0].holdings.len(),
        "one parcel register per holding"
    );
    for (parcel, holding) in parcels.iter().zip(&holdings[0].holdings) {
        assert_eq!(parcel.key, holding.key, "the parcel read is the holding's");
        assert!(
            parcel.owners.iter().all(|o| o.owner_id.is_empty()),
            "owners' IDs are not among the leg's fields"
        );
    }
    let certificate: Vec<TaxPaymentCertificate> = answers(&response, "house_tax");
    assert_eq!(
        certificate[0].tax_year_roc.to_string(),
        company.input["tax_year"]
    );

    // Moving house: everything that carries the old address.
    let moving = prepare(&system, &policy, "moving-house", true).await;
    let response = run(&system, &moving).await;
    all_answered(&response);
    let directorships: Vec<ListDirectorshipsResponse> = answers(&response, "directorships");
    let expected = registers
        .commerce
        .companies
        .iter()
        .flat_map(|c| &c.directors)
        .filter(|d| d.national_id.as_str() == person)
        .count();
    assert!(expected > 0, "the citizen directs a company");
    assert_eq!(directorships[0].directorships.len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_down_fails_only_its_legs() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = tongdao_integration_tests::sandbox::Sandbox::create(20).expect("sandbox");
    let stack = InProcessStack::start_without(&mut sandbox, &[AdapterKind::Tax])
        .await
        .expect("stack starts");
    let system = System { sandbox, stack };
    let policy = sandbox_policy(&system.sandbox).expect("sandbox policy");
    let welfare = prepare(&system, &policy, "welfare-eligibility", true).await;
    let response = run(&system, &welfare).await;
    for tax_leg in ["applicant_income", "applicant_property"] {
        assert_eq!(
            reasons(&response, tax_leg),
            ["ADAPTER_UNAVAILABLE"],
            "{tax_leg}"
        );
        let call = &calls(&response, tax_leg)[0];
        assert!(
            !call.exchange_id.is_empty(),
            "the refused call was an exchange"
        );
    }
    assert!(
        reasons(&response, "household").iter().all(|r| r == "OK")
            && !reasons(&response, "members_land").is_empty()
            && reasons(&response, "members_land").iter().all(|r| r == "OK"),
        "the household and land legs still answer: {:?}",
        response.legs
    );
    assert_eq!(response.failed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leg_its_rule_refuses_is_refused_alone_and_a_dependent_leg_is_reported_not_run() {
    let system = System::start().await;
    let policy = sandbox_policy(&system.sandbox).expect("sandbox policy");

    // Without the applicant's consent, the legs whose rules need it are refused; the others
    // (the household and each member's land, read under the authority's duty) answer.
    let welfare = prepare(&system, &policy, "welfare-eligibility", false).await;
    let response = run(&system, &welfare).await;
    assert_eq!(reasons(&response, "applicant_income"), ["CONSENT_REQUIRED"]);
    assert_eq!(
        reasons(&response, "applicant_property"),
        ["CONSENT_REQUIRED"]
    );
    assert_eq!(reasons(&response, "household"), ["OK"]);
    assert!(reasons(&response, "members_land").iter().all(|r| r == "OK"));

    // A consent that covers the income but not the property: only the property is refused.
    let recipe = policy.recipe("welfare-eligibility").expect("recipe");
    let grantee = agency_code(&policy, &welfare.identity).expect("code");
    let mut request = consent_request(&system.sandbox, recipe, &grantee);
    let income = recipe
        .legs
        .iter()
        .find(|leg| leg.name == "applicant_income")
        .expect("income leg");
    request.services = vec![income.service.clone()];
    request.fields = income.fields.paths().to_vec();
    let income_only = recipes::grant_consent(&system.sandbox, request)
        .await
        .expect("granted");
    let response = run(
        &system,
        &Prepared {
            consent: Some(income_only),
            ..welfare
        },
    )
    .await;
    assert_eq!(reasons(&response, "applicant_income"), ["OK"]);
    assert_eq!(reasons(&response, "applicant_property"), ["CONSENT_SCOPE"]);
    assert_eq!(response.failed, 1);

    // Company registration without consent: the holdings leg is refused, so the premises leg,
    // which reads it, is reported as not run (no exchange was made), never silently absent.
    let company = prepare(&system, &policy, "company-registration", false).await;
    let response = run(&system, &company).await;
    assert_eq!(reasons(&response, "holdings"), ["CONSENT_REQUIRED"]);
    assert_eq!(reasons(&response, "premises"), ["LEG_NOT_RUN"]);
    assert!(calls(&response, "premises")[0].exchange_id.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_holds_the_parent_and_a_record_for_every_leg_call_on_one_trace() {
    let system = System::start().await;
    let policy = sandbox_policy(&system.sandbox).expect("sandbox policy");
    let welfare = prepare(&system, &policy, "welfare-eligibility", false).await;
    let response = run(&system, &welfare).await;

    let records: Vec<AuditRecord> = tongdao_audit::search(
        &system.sandbox.audit_dir(),
        &Query {
            exchange_id: Some(response.exchange_id.clone()),
            ..Query::default()
        },
    )
    .expect("search")
    .map(|found| found.expect("readable").record)
    .collect();

    let parents: Vec<_> = records
        .iter()
        .filter_map(|record| match record {
            AuditRecord::RecipeRun(run) => Some(run),
            _ => None,
        })
        .collect();
    assert_eq!(parents.len(), 1, "one recipe_run record");
    let parent = parents[0];
    assert_eq!(parent.recipe, "welfare-eligibility");
    assert_eq!(parent.exchange.exchange_id, response.exchange_id);
    assert_eq!(parent.exchange.service, "/tongdao.v1.OneStop/RunRecipe");
    assert_eq!(parent.exchange.purpose.as_deref(), Some("057"));
    assert_eq!(
        parent.exchange.trace_id.as_deref(),
        Some(response.trace_id.as_str())
    );
    let leg_calls: usize = response.legs.iter().map(|leg| leg.calls.len()).sum();
    assert_eq!(parent.legs.len(), leg_calls, "every call is in the parent");

    // Every call has its own records under the parent: intent and completion when forwarded,
    // one denial when refused (the consent legs here), all on the parent's trace.
    for leg in &response.legs {
        for call in &leg.calls {
            let own: Vec<&AuditRecord> = records
                .iter()
                .filter(|r| {
                    r.exchange()
                        .is_some_and(|e| e.exchange_id == call.exchange_id)
                })
                .collect();
            let kinds: Vec<&str> = own.iter().map(|r| r.kind()).collect();
            match &call.outcome {
                Some(leg_call::Outcome::Response(_)) => {
                    assert_eq!(
                        kinds,
                        ["exchange_intent", "exchange_completion"],
                        "{}",
                        leg.leg
                    );
                }
                _ => assert_eq!(kinds, ["denial"], "{}", leg.leg),
            }
            for record in own {
                let exchange = record.exchange().expect("exchange record");
                assert_eq!(
                    exchange.parent_exchange_id(),
                    Some(response.exchange_id.as_str())
                );
                let step = exchange
                    .recipe
                    .as_ref()
                    .expect("a leg record names its recipe");
                assert_eq!(
                    (step.recipe.as_str(), step.leg.as_str()),
                    ("welfare-eligibility", leg.leg.as_str())
                );
                assert_eq!(exchange.trace_id, parent.exchange.trace_id);
                assert_eq!(exchange.service, leg.service);
                assert_eq!(exchange.purpose.as_deref(), Some("057"));
            }
            let listed = parent
                .legs
                .iter()
                .find(|l| l.exchange_id.as_deref() == Some(call.exchange_id.as_str()))
                .expect("the parent lists the call");
            assert_eq!(listed.leg, leg.leg);
        }
    }
    // A released-class check: the household leg's completion records only what the leg asked
    // for (C003 national IDs, C021 relationships, C001 names), not the rule's birth dates.
    let household_call = &calls(&response, "household")[0].exchange_id;
    let released = records
        .iter()
        .find_map(|r| match r {
            AuditRecord::ExchangeCompletion(c) if &c.exchange.exchange_id == household_call => {
                Some(c.released.clone())
            }
            _ => None,
        })
        .expect("completion");
    assert!(!released.contains(&"C011".to_owned()), "{released:?}");

    // The citizen sees the run and each step about them, each saying it was part of the
    // welfare-eligibility service.
    let listing = my_exchanges(&system).await;
    let run = listing
        .iter()
        .find(|e| e.exchange_id == response.exchange_id)
        .expect("the run is listed to its consent subject");
    assert_eq!(
        (run.method.as_str(), run.recipe.as_str(), run.allowed),
        ("/tongdao.v1.OneStop/RunRecipe", "welfare-eligibility", true)
    );
    let household = listing
        .iter()
        .find(|e| &e.exchange_id == household_call)
        .expect("the household step is listed");
    assert_eq!(
        (
            household.recipe.as_str(),
            household.recipe_leg.as_str(),
            household.parent_exchange_id.as_str()
        ),
        (
            "welfare-eligibility",
            "household",
            response.exchange_id.as_str()
        )
    );
    let income_call = &calls(&response, "applicant_income")[0].exchange_id;
    let income = listing
        .iter()
        .find(|e| &e.exchange_id == income_call)
        .expect("the refused income step is listed too");
    assert_eq!(
        (
            income.allowed,
            income.reason.as_str(),
            income.recipe_leg.as_str()
        ),
        (false, "CONSENT_REQUIRED", "applicant_income")
    );
}

/// The sandbox citizen's own MyData listing.
async fn my_exchanges(system: &System) -> Vec<tongdao_schemas::v1::MyDataEntry> {
    let request = tongdao_schemas::v1::ListExchangesRequest {
        national_id: system.sandbox.citizen_id().to_owned(),
    };
    let (body, _) = system
        .call(
            &system.sandbox.identity("citizens/valid"),
            "tongdao.v1.MyData/ListExchanges",
            bytes::Bytes::from(prost::Message::encode_to_vec(&request)),
            &[],
        )
        .await
        .expect("listed");
    <tongdao_schemas::v1::ListExchangesResponse as prost::Message>::decode(body)
        .expect("decodes")
        .entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_lists_a_callers_recipes_and_whole_run_refusals_are_specific_and_audited() {
    let system = System::start().await;
    let policy = sandbox_policy(&system.sandbox).expect("sandbox policy");
    let listed = |identity: &'static str| {
        let channel = tongdao_cli::client::channel(
            &system.sandbox.identity(identity),
            &system.sandbox.broker_addr().to_string(),
            Some(system.sandbox.broker_server_name()),
        )
        .expect("channel");
        async move {
            let mut names: Vec<String> = DirectoryClient::new(channel)
                .list_recipes(ListRecipesRequest {})
                .await
                .expect("listed")
                .into_inner()
                .recipes
                .into_iter()
                .map(|r| r.name)
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        listed("agencies/taipei-welfare").await,
        ["welfare-eligibility"]
    );
    assert_eq!(
        listed("agencies/commerce-dept").await,
        ["company-registration"]
    );
    assert!(listed("agencies/taipei-tax").await.is_empty());
    // What a portal needs to build the call and tell the citizen what will be asked.
    let channel = tongdao_cli::client::channel(
        &system.sandbox.identity("agencies/taipei-welfare"),
        &system.sandbox.broker_addr().to_string(),
        Some(system.sandbox.broker_server_name()),
    )
    .expect("channel");
    let entry = DirectoryClient::new(channel)
        .list_recipes(ListRecipesRequest {})
        .await
        .expect("listed")
        .into_inner()
        .recipes
        .remove(0);
    assert_eq!(
        (entry.purpose.as_str(), entry.consent_subject.as_str()),
        ("057", "applicant")
    );
    let leg = |name: &str| {
        entry
            .legs
            .iter()
            .find(|l| l.name == name)
            .expect("leg listed")
            .clone()
    };
    assert!(leg("members_land").for_each && !leg("members_land").consent);
    assert_eq!(leg("members_land").depends_on, ["household"]);
    assert!(leg("applicant_income").consent && !leg("applicant_income").for_each);
    assert!(
        leg("household")
            .fields
            .contains(&"members.national_id".to_owned())
    );
    assert!(listed("citizens/valid").await.is_empty());

    let welfare = prepare(&system, &policy, "welfare-eligibility", false).await;
    let call = |identity: &'static str, recipe: &'static str, input: HashMap<String, String>| {
        let sandbox = &system.sandbox;
        async move { recipes::run(sandbox, identity, recipe, &input, None, TIMEOUT).await }
    };
    let refused = assert_refused(
        call(
            "agencies/taipei-tax",
            "welfare-eligibility",
            welfare.input.clone(),
        )
        .await,
        Code::PermissionDenied,
        Reason::RecipeNotAllowed,
    );
    assert!(refused.metadata().get("tongdao-exchange-id").is_some());
    assert_refused(
        call(
            "agencies/taipei-welfare",
            "no-such-recipe",
            welfare.input.clone(),
        )
        .await,
        Code::NotFound,
        Reason::RecipeUnknown,
    );
    let mut bad = welfare.input.clone();
    bad.insert("applicant".to_owned(), "A123456788".to_owned());
    let refused = assert_refused(
        call("agencies/taipei-welfare", "welfare-eligibility", bad).await,
        Code::InvalidArgument,
        Reason::RecipeInputInvalid,
    );
    assert!(
        !refused.message().contains("A123456788"),
        "the message never echoes an ID: {}",
        refused.message()
    );
    let mut unknown = welfare.input.clone();
    unknown.insert("spouse".to_owned(), system.sandbox.citizen_id().to_owned());
    assert_refused(
        call("agencies/taipei-welfare", "welfare-eligibility", unknown).await,
        Code::InvalidArgument,
        Reason::RecipeInputInvalid,
    );
    assert_refused(
        call(
            "citizens/valid",
            "welfare-eligibility",
            welfare.input.clone(),
        )
        .await,
        Code::PermissionDenied,
        Reason::AgencyRequired,
    );

    // Each refusal is one denial record of the run, and no leg ran.
    let denials: Vec<String> =
        tongdao_audit::search(&system.sandbox.audit_dir(), &Query::default())
            .expect("search")
            .map(|found| found.expect("readable").record)
            .filter_map(|record| match record {
                AuditRecord::Denial(d) if d.exchange.service == "/tongdao.v1.OneStop/RunRecipe" => {
                    d.outcome.reason
                }
                _ => None,
            })
            .collect();
    assert_eq!(
        denials,
        [
            "RECIPE_NOT_ALLOWED",
            "RECIPE_UNKNOWN",
            "RECIPE_INPUT_INVALID",
            "RECIPE_INPUT_INVALID",
            "AGENCY_REQUIRED"
        ]
    );
    let legs_run = tongdao_audit::search(&system.sandbox.audit_dir(), &Query::default())
        .expect("search")
        .filter(|found| {
            found
                .as_ref()
                .ok()
                .and_then(|f| f.record.exchange().map(|e| e.recipe.is_some()))
                .unwrap_or(false)
        })
        .count();
    assert_eq!(legs_run, 0, "no leg of a refused run reached the stack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_deadline_bounds_the_run_and_a_hanging_agency_is_reported_late_alone() {
    tongdao_tls::install_crypto_provider();
    let mut sandbox = tongdao_integration_tests::sandbox::Sandbox::create(20).expect("sandbox");
    // The company registry's service never answers about the citizen.
    let dataset_path = sandbox.source_path(tongdao_cli::seed_cmd::layout::GCIS_DATASET);
    let mut dataset = Dataset::load(&dataset_path).expect("dataset");
    dataset.inject(sandbox.citizen_id(), Fault::Hang);
    std::fs::write(&dataset_path, serde_json::to_vec(&dataset).expect("json")).expect("write");
    let stack = InProcessStack::start(&mut sandbox)
        .await
        .expect("stack starts");
    let system = System { sandbox, stack };
    let policy = sandbox_policy(&system.sandbox).expect("sandbox policy");
    let moving = prepare(&system, &policy, "moving-house", true).await;

    let deadline = Duration::from_millis(1500);
    let started = std::time::Instant::now();
    let (response, _) = recipes::run(
        &system.sandbox,
        &moving.identity,
        moving.name,
        &moving.input,
        moving.consent.as_deref(),
        deadline,
    )
    .await
    .expect("the run answers within the caller's deadline");
    assert!(
        started.elapsed() < deadline,
        "answered in {:?}",
        started.elapsed()
    );
    // The directorships leg's own timeout (2 s) is longer than the caller's deadline: the
    // deadline ends it, and says so; every other leg answered.
    assert_eq!(reasons(&response, "directorships"), ["DEADLINE_EXCEEDED"]);
    for leg in ["household", "land", "property"] {
        assert_eq!(reasons(&response, leg), ["OK"], "{leg}");
    }
    // The late call was still recorded: its completion says what the caller was told.
    let late = calls(&response, "directorships")[0].exchange_id.clone();
    assert_eq!(
        completion_reason(&system, &late).as_deref(),
        Some("DEADLINE_EXCEEDED")
    );

    // With time to spare, the leg's own timeout (2 s) ends the wait: ADAPTER_TIMEOUT, the
    // agency's fault, not the caller's deadline.
    let started = std::time::Instant::now();
    let (response, _) = recipes::run(
        &system.sandbox,
        &moving.identity,
        moving.name,
        &moving.input,
        moving.consent.as_deref(),
        Duration::from_secs(4),
    )
    .await
    .expect("the run answers");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "answered at the leg's timeout: {took:?}"
    );
    assert_eq!(reasons(&response, "directorships"), ["ADAPTER_TIMEOUT"]);
    let late = calls(&response, "directorships")[0].exchange_id.clone();
    assert_eq!(
        completion_reason(&system, &late).as_deref(),
        Some("ADAPTER_TIMEOUT")
    );
}

/// The outcome reason of the completion record of exchange `id`.
fn completion_reason(system: &System, id: &str) -> Option<String> {
    tongdao_audit::search(
        &system.sandbox.audit_dir(),
        &Query {
            exchange_id: Some(id.to_owned()),
            ..Query::default()
        },
    )
    .expect("search")
    .find_map(|found| match found.expect("readable").record {
        AuditRecord::ExchangeCompletion(completion) => completion.outcome.reason,
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_consent_covers_one_whole_run() {
    let system = System::start().await;
    let policy = sandbox_policy(&system.sandbox).expect("sandbox policy");
    let mut welfare = prepare(&system, &policy, "welfare-eligibility", false).await;
    let recipe = policy.recipe("welfare-eligibility").expect("recipe");
    let grantee = agency_code(&policy, &welfare.identity).expect("code");
    let mut request = consent_request(&system.sandbox, recipe, &grantee);
    request.single_use = true;
    welfare.consent = Some(
        recipes::grant_consent(&system.sandbox, request)
            .await
            .expect("granted"),
    );
    // Both consent legs run at once and share the one use.
    let first = run(&system, &welfare).await;
    all_answered(&first);
    // The next run finds it used, on every leg that needs it; the others still answer.
    let second = run(&system, &welfare).await;
    assert_eq!(reasons(&second, "applicant_income"), ["CONSENT_USED"]);
    assert_eq!(reasons(&second, "applicant_property"), ["CONSENT_USED"]);
    assert_eq!(reasons(&second, "household"), ["OK"]);
}
