//! `tongdao.v1.OneStop`: running a recipe.
//!
//! A recipe run is a parent exchange whose legs are ordinary exchanges: each call of a leg is
//! an [`Incoming`] with its own child id, sent through the same exchange stack as a direct call
//! (admission, validation, policy, consent, audited forwarding), carrying the recipe's purpose,
//! the caller's identity, the consent where the leg is about the consent subject, the parent's
//! trace, and the leg's fields. So a leg can never get more than a direct call would, and is
//! refused or fails alone. The runner only orders the legs (each starts as soon as the legs it
//! reads have settled) and collects what they answered; the parent's `recipe_run` record lists
//! every call's outcome.

mod run;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use prost::Message as _;
use tongdao_audit::{AuditRecord, LegCallOutcome, Outcome, RecipeRun, Timestamp};
use tongdao_core::{Principal, Reason, Rejection, ids::NationalId};
use tongdao_policy::{InputKind, Policy, Recipe};
use tongdao_schemas::v1::{
    LegError, RunRecipeRequest, RunRecipeResponse, leg_call, one_stop_server::OneStop,
};
use tonic::{Request, Response, Status, metadata::MetadataValue};

use crate::{
    api::caller,
    audit::{Auditor, DenialFacts},
    exchange::{CONSENT_HEADER, Caller, ExchangeId, TRACEPARENT_HEADER, TraceContext},
    ingress::{caller_budget, insert_id, status_for},
    policy::PolicyHandle,
    stack::ExchangeService,
};

/// The method path recipe runs are recorded under.
const RUN_RECIPE: &str = "/tongdao.v1.OneStop/RunRecipe";

/// `tongdao.v1.OneStop`.
#[derive(Clone)]
pub(crate) struct OneStopApi {
    /// The exchange stack every leg call goes through, as direct calls do.
    pub(crate) stack: ExchangeService,
    pub(crate) policy: PolicyHandle,
    pub(crate) auditor: Auditor,
    /// The longest a recipe may take, whatever deadline the caller sends.
    pub(crate) max_deadline: Duration,
}

#[tonic::async_trait]
impl OneStop for OneStopApi {
    async fn run_recipe(
        &self,
        request: Request<RunRecipeRequest>,
    ) -> Result<Response<RunRecipeResponse>, Status> {
        let received = Instant::now();
        let caller = caller(&request)?;
        let header = |key: &str| {
            request
                .metadata()
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let budget = caller_budget(header("grpc-timeout").as_deref(), self.max_deadline);
        let trace = TraceContext::continue_or_start(header(TRACEPARENT_HEADER).as_deref());
        let consent = header(CONSENT_HEADER);
        let parent = ExchangeId::generate();
        let body = request.get_ref().encode_to_vec();
        let policy = self.policy.load_full();
        let run = request.into_inner();

        let recipe = match admit(&caller, &policy, &run) {
            Ok(recipe) => recipe,
            Err(rejection) => {
                let facts = DenialFacts::for_api(parent, &trace, &caller, RUN_RECIPE, body)
                    .with_purpose(policy.recipe(&run.recipe).map(|r| r.purpose.to_string()))
                    .with_consent(consent.as_deref());
                self.auditor
                    .denial(&facts, &rejection, Some(policy.version().to_owned()))
                    .await
                    .map_err(|unavailable| status_for(unavailable, parent))?;
                return Err(status_for(rejection, parent));
            }
        };

        // Keep a tenth of the caller's budget to record the run and answer (a durable append on
        // a busy disk takes milliseconds to tens of them): legs still running then are reported
        // as past the deadline rather than the whole answer being lost.
        let reserve = (budget / 10).clamp(Duration::from_millis(5), Duration::from_millis(200));
        let runner = run::Runner {
            recipe,
            input: &run.input,
            caller: caller.clone(),
            consent: consent
                .as_deref()
                .and_then(|c| MetadataValue::try_from(c).ok()),
            parent,
            trace,
            deadline: received + budget.saturating_sub(reserve),
            grace: reserve / 2,
            stack: self.stack.clone(),
        };
        let legs = runner.run().await;

        let response = RunRecipeResponse {
            recipe: recipe.name.clone(),
            exchange_id: parent.to_string(),
            trace_id: trace.trace_id_hex(),
            purpose: recipe.purpose.to_string(),
            policy_version: policy.version().to_owned(),
            succeeded: count_calls(&legs, true),
            failed: count_calls(&legs, false),
            legs,
        };
        self.record_run(
            &caller,
            &response,
            recipe,
            &run.input,
            consent.as_deref(),
            received,
        )
        .await
        .map_err(|unavailable| status_for(unavailable, parent))?;
        metrics::counter!("tongdao_recipe_runs_total", "recipe" => recipe.name.clone())
            .increment(1);
        metrics::histogram!("tongdao_recipe_duration_seconds", "recipe" => recipe.name.clone())
            .record(received.elapsed().as_secs_f64());
        let mut response = Response::new(response);
        insert_id(response.metadata_mut(), parent);
        Ok(response)
    }
}

/// The checks on the run as a whole, before any leg: an agency caller, a known recipe that
/// lists it, well-formed input. Everything about the legs themselves is left to the exchange
/// stack, leg by leg.
fn admit<'p>(
    caller: &Caller,
    policy: &'p Policy,
    run: &RunRecipeRequest,
) -> Result<&'p Recipe, Rejection> {
    let agency = match caller.principal.as_ref().map_err(Clone::clone)? {
        Principal::Agency(agency) => agency,
        Principal::Citizen(_) => {
            return Err(Rejection::new(
                Reason::AgencyRequired,
                "recipes are run by agencies' one-stop services; citizens download their own \
                 records with the self-access rules",
            ));
        }
    };
    let recipe = policy.recipe(&run.recipe).ok_or_else(|| {
        let shown = if run.recipe.len() <= 64
            && run
                .recipe
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            format!("no recipe named {:?}", run.recipe)
        } else {
            "no recipe of that name".to_owned()
        };
        Rejection::new(
            Reason::RecipeUnknown,
            format!("{shown}; tongdao.v1.Directory/ListRecipes lists the recipes you may run"),
        )
    })?;
    if !recipe.agencies.contains(&agency.code) {
        return Err(Rejection::new(
            Reason::RecipeNotAllowed,
            format!(
                "recipe {} is not open to agency {}: its clients are set by NDC in the policy",
                recipe.name, agency.code
            ),
        ));
    }
    let input: BTreeMap<String, String> = run.input.clone().into_iter().collect();
    recipe
        .check_input(&input)
        .map_err(|error| Rejection::new(Reason::RecipeInputInvalid, error.to_string()))?;
    Ok(recipe)
}

impl OneStopApi {
    /// The parent record: who ran which recipe for whom, and every call's outcome. Durable
    /// before the caller receives the results, like any completion.
    async fn record_run(
        &self,
        caller: &Caller,
        response: &RunRecipeResponse,
        recipe: &Recipe,
        input: &std::collections::HashMap<String, String>,
        consent: Option<&str>,
        received: Instant,
    ) -> Result<(), Rejection> {
        let legs = response
            .legs
            .iter()
            .flat_map(|leg| {
                leg.calls.iter().map(|call| LegCallOutcome {
                    leg: leg.leg.clone(),
                    exchange_id: (!call.exchange_id.is_empty()).then(|| call.exchange_id.clone()),
                    outcome: match &call.outcome {
                        Some(leg_call::Outcome::Error(error)) => Outcome {
                            code: error.code,
                            reason: Some(error.reason.clone()),
                        },
                        _ => Outcome::ok(),
                    },
                })
            })
            .collect();
        let record = AuditRecord::RecipeRun(RecipeRun {
            at: Timestamp::now(),
            exchange: tongdao_audit::ExchangeContext {
                exchange_id: response.exchange_id.clone(),
                trace_id: Some(response.trace_id.clone()),
                client: crate::audit::client(caller),
                service: RUN_RECIPE.to_owned(),
                purpose: Some(response.purpose.clone()),
                subject: run_subject(recipe, input).map(|id| self.auditor.pseudonym(&id)),
                consent_id: consent.and_then(crate::consent::audited_consent_id),
                recipe: None,
            },
            recipe: recipe.name.clone(),
            policy_version: response.policy_version.clone(),
            legs,
            outcome: Outcome::ok(),
            latency_us: received.elapsed().as_micros() as u64,
        });
        self.auditor.append(record).await.map(|_| ())
    }
}

/// Whom a run is about, for its parent record: the consent subject, else the first person
/// input. (Each leg's own records name the leg's subject.)
fn run_subject(
    recipe: &Recipe,
    input: &std::collections::HashMap<String, String>,
) -> Option<String> {
    let person = recipe.consent_subject.as_deref().or_else(|| {
        recipe
            .inputs
            .iter()
            .find(|i| i.kind == InputKind::NationalId)
            .map(|i| i.name.as_str())
    })?;
    input
        .get(person)
        .and_then(|value| value.trim().parse::<NationalId>().ok())
        .map(|id| id.as_str().to_owned())
}

fn count_calls(legs: &[tongdao_schemas::v1::LegResult], succeeded: bool) -> u32 {
    legs.iter()
        .flat_map(|leg| &leg.calls)
        .filter(|call| matches!(call.outcome, Some(leg_call::Outcome::Response(_))) == succeeded)
        .count() as u32
}

/// A rejection as a leg's error in the answer.
fn leg_error(rejection: &Rejection) -> LegError {
    LegError {
        code: rejection.code() as u32,
        reason: tongdao_core::reason::reason_name(rejection.reason()).to_owned(),
        message: rejection.message().to_owned(),
    }
}
