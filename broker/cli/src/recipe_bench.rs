//! `tongdao bench --recipe NAME`: what a recipe costs against its own legs called by hand.
//!
//! One sandbox, one broker and five adapters as child processes, one request in flight,
//! alternating for the measured time:
//! - **recipe**: `tongdao.v1.OneStop/RunRecipe`, end to end;
//! - **sum**: the same legs as direct exchanges through the same broker, one call after the
//!   other in dependency order, each request built from the answers before it — a portal
//!   wiring the calls by hand;
//! - **chain**: from those same timings, the slowest dependency chain, a leg costing its
//!   slowest call (a recipe makes a leg's calls at once): the floor a perfect runner reaches.
//!
//! A recipe near its chain and well under the sum is the point of running legs concurrently.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use bytes::Bytes;
use hdrhistogram::Histogram;
use prost_reflect::DynamicMessage;
use tongdao_policy::Recipe;
use tongdao_schemas::v1::leg_call;
use tonic::transport::Channel;

use crate::{
    bench::{BenchArgs, lift_quotas},
    client,
    recipes::{self, agency_code, runner_identity, sandbox_input, sandbox_policy},
    sandbox::{ChildStack, Sandbox},
};

/// Deadline of each recipe run and each call.
const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn bench(args: &BenchArgs, name: &str) -> Result<(), String> {
    let mut sandbox = Sandbox::create(args.households)?;
    lift_quotas(&sandbox)?;
    let policy = sandbox_policy(&sandbox)?;
    let recipe = policy
        .recipe(name)
        .ok_or_else(|| format!("no recipe named {name:?} in the shipped policy"))?
        .clone();
    let identity = runner_identity(&policy, &recipe)?;
    let grantee = agency_code(&policy, &identity).unwrap_or_default();
    let input = sandbox_input(&sandbox, &recipe);
    eprintln!(
        "sandbox in {} ({} households); recipe {} run by {identity}",
        sandbox.root().display(),
        args.households,
        recipe.name
    );
    let stack = ChildStack::spawn(&mut sandbox).await?;
    let consent = match &recipe.consent_subject {
        Some(_) => Some(
            recipes::grant_consent(
                &sandbox,
                recipes::consent_request(&sandbox, &recipe, &grantee),
            )
            .await?,
        ),
        None => None,
    };
    // A direct call is consent-checked against its rule's fields, not the leg's narrower ones,
    // so the by-hand path presents a consent covering what the rules release.
    let by_hand_consent = match &recipe.consent_subject {
        Some(_) => {
            let mut request = recipes::consent_request(&sandbox, &recipe, &grantee);
            request.fields = rule_fields(&policy, &recipe, &grantee);
            Some(recipes::grant_consent(&sandbox, request).await?)
        }
        None => None,
    };
    let channel = client::channel(
        &sandbox.identity(&identity),
        &sandbox.broker_addr().to_string(),
        Some(sandbox.broker_server_name()),
    )?;
    let by_hand = ByHand {
        recipe: &recipe,
        input: input.clone().into_iter().collect(),
        consent: by_hand_consent,
        channel: channel.clone(),
    };
    let histogram = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut whole, mut sum, mut chain) = (histogram(), histogram(), histogram());
    let mut calls = 0;
    let warm_until = Instant::now() + Duration::from_secs(args.warmup_s);
    let mut measure_until = None;
    loop {
        let now = Instant::now();
        let measuring = now >= warm_until;
        let until = *measure_until.get_or_insert(warm_until + Duration::from_secs(args.duration_s));
        if now >= until {
            break;
        }
        let started = Instant::now();
        let (answer, _) =
            recipes::run_on(channel.clone(), name, &input, consent.as_deref(), TIMEOUT)
                .await
                .map_err(|status| format!("recipe: {}", client::describe_status(&status)))?;
        let elapsed = started.elapsed();
        if answer.failed > 0 {
            return Err(format!(
                "recipe {name}: {} call(s) failed, so its timing would mean nothing: {}",
                answer.failed,
                failures(&answer)
            ));
        }
        let timings = by_hand.run().await?;
        if measuring {
            let _ = whole.record(micros(elapsed));
            let _ = sum.record(micros(timings.sum));
            let _ = chain.record(micros(timings.chain));
            calls = timings.calls;
        }
    }
    drop(stack);

    println!();
    println!(
        "tongdao bench --recipe {name}: {} households, {} s measured after {} s warm-up, 1 in \
         flight, {} core(s); {} legs, {calls} calls per run",
        args.households,
        args.duration_s,
        args.warmup_s,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        recipe.legs.len()
    );
    println!();
    println!("| measure | runs | p50 µs | p90 µs | p99 µs |");
    println!("|---|---:|---:|---:|---:|");
    for (label, h) in [
        ("recipe (OneStop/RunRecipe)", &whole),
        ("slowest dependency chain (legs by hand)", &chain),
        ("sum of the legs (by hand, one after another)", &sum),
    ] {
        println!(
            "| {label} | {} | {} | {} | {} |",
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99)
        );
    }
    let p50 = |h: &Histogram<u64>| h.value_at_quantile(0.5).max(1) as f64;
    println!();
    println!(
        "recipe p50 / chain p50: {:.2}; recipe p50 / sum p50: {:.2}",
        p50(&whole) / p50(&chain),
        p50(&whole) / p50(&sum)
    );
    Ok(())
}

/// The fields the grantee's rules release for the recipe's consent legs, for the recipe's
/// purpose.
fn rule_fields(policy: &tongdao_policy::Policy, recipe: &Recipe, grantee: &str) -> Vec<String> {
    let mut fields: Vec<String> = policy
        .grants_for(grantee)
        .into_iter()
        .filter(|grant| grant.purposes.contains(&recipe.purpose))
        .filter(|grant| {
            recipe
                .legs
                .iter()
                .any(|leg| leg.consent && leg.service == grant.service.method)
        })
        .flat_map(|grant| grant.fields.paths().to_vec())
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

fn micros(duration: Duration) -> u64 {
    duration.as_micros().max(1) as u64
}

fn failures(answer: &tongdao_schemas::v1::RunRecipeResponse) -> String {
    answer
        .legs
        .iter()
        .flat_map(|leg| leg.calls.iter().map(move |call| (leg, call)))
        .filter_map(|(leg, call)| match &call.outcome {
            Some(leg_call::Outcome::Error(error)) => {
                Some(format!("{}: {} {}", leg.leg, error.reason, error.message))
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The recipe's legs as a portal would call them without the broker's runner.
struct ByHand<'r> {
    recipe: &'r Recipe,
    input: BTreeMap<String, String>,
    consent: Option<String>,
    channel: Channel,
}

/// One by-hand run: every call's time added up, the slowest chain, and how many calls.
struct Timings {
    sum: Duration,
    chain: Duration,
    calls: usize,
}

impl ByHand<'_> {
    async fn run(&self) -> Result<Timings, String> {
        let legs = &self.recipe.legs;
        let mut answers: Vec<Option<DynamicMessage>> = vec![None; legs.len()];
        // When each leg's chain ends: the latest end among what it reads, plus its slowest call.
        let mut chain_end: Vec<Option<Duration>> = vec![None; legs.len()];
        let (mut sum, mut calls) = (Duration::ZERO, 0);
        while let Some(index) = (0..legs.len()).find(|&i| {
            chain_end[i].is_none() && legs[i].depends_on.iter().all(|&d| chain_end[d].is_some())
        }) {
            let leg = &legs[index];
            let bodies = leg
                .requests(&self.input, &answers)
                .map_err(|e| format!("leg {}: {e}", leg.name))?;
            let mut metadata = vec![(
                "tongdao-purpose".to_owned(),
                self.recipe.purpose.to_string(),
            )];
            if leg.consent
                && let Some(consent) = &self.consent
            {
                metadata.push(("tongdao-consent".to_owned(), consent.clone()));
            }
            let mut slowest = Duration::ZERO;
            let mut answered = Vec::new();
            for body in bodies {
                let started = Instant::now();
                let (reply, _) = client::unary(
                    self.channel.clone(),
                    &leg.service,
                    body,
                    &metadata,
                    Some(TIMEOUT),
                )
                .await
                .map_err(|status| {
                    format!(
                        "leg {} by hand: {}",
                        leg.name,
                        client::describe_status(&status)
                    )
                })?;
                let took = started.elapsed();
                sum += took;
                slowest = slowest.max(took);
                calls += 1;
                answered.push(minimised(leg, reply)?);
            }
            if answered.len() == 1 {
                answers[index] = answered.pop();
            }
            let start = leg
                .depends_on
                .iter()
                .filter_map(|&d| chain_end[d])
                .max()
                .unwrap_or(Duration::ZERO);
            chain_end[index] = Some(start + slowest);
        }
        Ok(Timings {
            sum,
            chain: chain_end.into_iter().flatten().max().unwrap_or_default(),
            calls,
        })
    }
}

fn minimised(leg: &tongdao_policy::Leg, reply: Bytes) -> Result<DynamicMessage, String> {
    let mut message = DynamicMessage::decode(leg.fields.descriptor().clone(), reply)
        .map_err(|e| format!("leg {}: answer does not decode: {e}", leg.name))?;
    leg.fields.apply(&mut message);
    Ok(message)
}
