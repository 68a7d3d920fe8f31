//! Running one-stop recipes on a sandbox: which sandbox agency runs a recipe, inputs drawn from
//! the sandbox's data, the citizen's consent for the legs about them, and the call itself. The
//! demo, the benchmark and the integration tests share these, so they all run the shipped
//! recipes the same way a portal would.

use std::{collections::HashMap, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use tongdao_policy::{InputKind, Policy, PolicySources, Recipe};
use tongdao_schemas::v1::{
    GrantConsentRequest, RunRecipeRequest, RunRecipeResponse, consent_client::ConsentClient,
};
use tonic::{Status, metadata::MetadataMap};

use crate::{
    client,
    sandbox::{AGENCIES, Sandbox},
};

/// The method recipes are run with.
pub const RUN_RECIPE: &str = "tongdao.v1.OneStop/RunRecipe";

/// The sandbox's certificate holder for citizens: consents are granted as this person.
const CITIZEN: &str = "citizens/valid";

/// The policy the sandbox's broker runs (the shipped one, as written into the sandbox).
pub fn sandbox_policy(sandbox: &Sandbox) -> Result<Policy, String> {
    let sources = PolicySources::read_dir(&sandbox.policy_dir()).map_err(|e| e.to_string())?;
    Policy::compile(&sources).map_err(|errors| errors.to_string())
}

/// The sandbox identity (`agencies/<name>`) of the first of the recipe's client agencies that
/// the sandbox issued a certificate to.
pub fn runner_identity(policy: &Policy, recipe: &Recipe) -> Result<String, String> {
    recipe
        .agencies
        .iter()
        .filter_map(|code| policy.agencies().by_code(code))
        .find_map(|agency| {
            AGENCIES
                .iter()
                .find(|(_, _, oid)| *oid == agency.government_oid)
                .map(|(name, _, _)| format!("agencies/{name}"))
        })
        .ok_or_else(|| {
            format!(
                "no sandbox agency is a client of recipe {} (clients: {})",
                recipe.name,
                recipe.agencies.join(", ")
            )
        })
}

/// The agency code of a sandbox identity (`agencies/<name>`).
pub fn agency_code(policy: &Policy, identity: &str) -> Option<String> {
    let name = identity.strip_prefix("agencies/")?;
    let (_, _, oid) = AGENCIES.iter().find(|(n, _, _)| *n == name)?;
    policy
        .agencies()
        .by_oid(oid)
        .map(|agency| agency.code.clone())
}

/// Inputs for running `recipe` on the sandbox's data: every person is the citizen holding the
/// sandbox's citizen certificate (so they can consent), every year the latest year the tax
/// records cover, every business number a company that person directs.
pub fn sandbox_input(sandbox: &Sandbox, recipe: &Recipe) -> HashMap<String, String> {
    let person = sandbox.citizen_id().to_owned();
    let registers = sandbox.registers();
    let year = registers
        .tax
        .income
        .iter()
        .map(|record| record.income_year_roc)
        .max()
        .unwrap_or(113);
    let company = registers
        .commerce
        .companies
        .iter()
        .find(|c| c.directors.iter().any(|d| d.national_id.as_str() == person))
        .or_else(|| registers.commerce.companies.first())
        .map(|c| c.business_number.to_string())
        .unwrap_or_default();
    recipe
        .inputs
        .iter()
        .map(|input| {
            let value = match input.kind {
                InputKind::NationalId => person.clone(),
                InputKind::RocYear => year.to_string(),
                InputKind::BusinessNumber => company.clone(),
                InputKind::Text => "sandbox".to_owned(),
            };
            (input.name.clone(), value)
        })
        .collect()
}

/// The consent request covering the legs of `recipe` that present the consent: their services
/// and fields, the recipe's purpose, for `grantee`, reusable for an hour.
pub fn consent_request(sandbox: &Sandbox, recipe: &Recipe, grantee: &str) -> GrantConsentRequest {
    let legs = recipe.legs.iter().filter(|leg| leg.consent);
    let mut services: Vec<String> = legs.clone().map(|leg| leg.service.clone()).collect();
    services.sort();
    services.dedup();
    let mut fields: Vec<String> = legs.flat_map(|leg| leg.fields.paths().to_vec()).collect();
    fields.sort();
    fields.dedup();
    GrantConsentRequest {
        national_id: sandbox.citizen_id().to_owned(),
        grantee: grantee.to_owned(),
        services,
        fields,
        purpose: recipe.purpose.to_string(),
        single_use: false,
        not_after_unix: tongdao_consent::Timestamp::now().unix_seconds() + 3600,
    }
}

/// Grants `request` as the sandbox's citizen; returns the consent id.
pub async fn grant_consent(
    sandbox: &Sandbox,
    request: GrantConsentRequest,
) -> Result<String, String> {
    let channel = client::channel(
        &sandbox.identity(CITIZEN),
        &sandbox.broker_addr().to_string(),
        Some(sandbox.broker_server_name()),
    )?;
    let granted = ConsentClient::new(channel)
        .grant(request)
        .await
        .map_err(|status| format!("granting consent: {}", client::describe_status(&status)))?;
    granted
        .into_inner()
        .consent
        .map(|consent| consent.consent_id)
        .ok_or_else(|| "the broker granted no consent".to_owned())
}

/// Runs `recipe` as `identity` with `input`, presenting `consent` when given, within
/// `timeout`; returns the answer and the response metadata (the parent exchange id).
pub async fn run(
    sandbox: &Sandbox,
    identity: &str,
    recipe: &str,
    input: &HashMap<String, String>,
    consent: Option<&str>,
    timeout: Duration,
) -> Result<(RunRecipeResponse, MetadataMap), Status> {
    let channel = client::channel(
        &sandbox.identity(identity),
        &sandbox.broker_addr().to_string(),
        Some(sandbox.broker_server_name()),
    )
    .map_err(Status::internal)?;
    run_on(channel, recipe, input, consent, timeout).await
}

/// [`run`] on an open channel (the benchmark reuses one).
pub async fn run_on(
    channel: tonic::transport::Channel,
    recipe: &str,
    input: &HashMap<String, String>,
    consent: Option<&str>,
    timeout: Duration,
) -> Result<(RunRecipeResponse, MetadataMap), Status> {
    let request = RunRecipeRequest {
        recipe: recipe.to_owned(),
        input: input.clone(),
    };
    let metadata: Vec<(String, String)> = consent
        .map(|c| ("tongdao-consent".to_owned(), c.to_owned()))
        .into_iter()
        .collect();
    let (body, metadata) = client::unary(
        channel,
        RUN_RECIPE,
        Bytes::from(request.encode_to_vec()),
        &metadata,
        Some(timeout),
    )
    .await?;
    let response = RunRecipeResponse::decode(body)
        .map_err(|e| Status::internal(format!("RunRecipeResponse does not decode: {e}")))?;
    Ok((response, metadata))
}

/// The demo's one-stop step: the welfare office runs `welfare-eligibility` with the citizen's
/// consent, and each leg is shown with its outcome and time, under one parent exchange.
pub(crate) async fn demo(sandbox: &Sandbox) -> Result<(), String> {
    const NAME: &str = "welfare-eligibility";
    let policy = sandbox_policy(sandbox)?;
    let recipe = policy
        .recipe(NAME)
        .ok_or_else(|| format!("the shipped policy has no recipe {NAME}"))?;
    let identity = runner_identity(&policy, recipe)?;
    let grantee = agency_code(&policy, &identity).unwrap_or_default();
    let consent = grant_consent(sandbox, consent_request(sandbox, recipe, &grantee)).await?;
    let input = sandbox_input(sandbox, recipe);
    let started = std::time::Instant::now();
    let (answer, _) = run(
        sandbox,
        &identity,
        NAME,
        &input,
        Some(&consent),
        Duration::from_secs(10),
    )
    .await
    .map_err(|status| format!("{NAME}: {}", client::describe_status(&status)))?;
    let wall = started.elapsed();
    println!(
        "   recipe {NAME} (purpose {}), parent exchange {}",
        answer.purpose, answer.exchange_id
    );
    let mut sum_us = 0;
    for leg in &answer.legs {
        for call in &leg.calls {
            sum_us += call.latency_us;
            let outcome = match &call.outcome {
                Some(tongdao_schemas::v1::leg_call::Outcome::Error(error)) => error.reason.clone(),
                _ => "OK".to_owned(),
            };
            println!(
                "   {outcome:<4} leg {:<20} {:>7.1} ms  {}",
                leg.leg,
                call.latency_us as f64 / 1000.0,
                leg.service.trim_start_matches('/')
            );
        }
    }
    println!(
        "   {} calls answered, {} failed, in {:.1} ms: legs ran concurrently (their times add \
         up to {:.1} ms)",
        answer.succeeded,
        answer.failed,
        wall.as_secs_f64() * 1000.0,
        sum_us as f64 / 1000.0
    );
    Ok(())
}
