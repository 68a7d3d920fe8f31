//! Running a recipe's legs: each as soon as the legs it reads have settled, every call of a
//! leg at once, each call through the exchange stack as a child exchange.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::{StreamExt as _, stream::FuturesUnordered};
use prost::Message as _;
use prost_reflect::DynamicMessage;
use tongdao_core::{Reason, Rejection};
use tongdao_policy::{Leg, Recipe};
use tongdao_schemas::v1::{LegCall, LegResult, leg_call};
use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tower::ServiceExt as _;

use super::leg_error;
use crate::{
    audit::Recorded,
    exchange::{
        CONSENT_HEADER, Caller, ExchangeId, Incoming, LegContext, PURPOSE_HEADER, Reply,
        TraceContext,
    },
    stack::ExchangeService,
};

/// One recipe run in progress.
pub(super) struct Runner<'r> {
    pub(super) recipe: &'r Recipe,
    /// The caller's input, already checked against the recipe's declaration.
    pub(super) input: &'r HashMap<String, String>,
    pub(super) caller: Arc<Caller>,
    /// `tongdao-consent` as the caller sent it, passed on the legs about the consent subject.
    pub(super) consent: Option<MetadataValue<Ascii>>,
    pub(super) parent: ExchangeId,
    pub(super) trace: TraceContext,
    /// When every leg must have answered.
    pub(super) deadline: Instant,
    /// How long past `deadline` a call may take to record its own outcome before the runner
    /// stops waiting for it (the stack ends the adapter's wait at `deadline` and writes the
    /// completion record; this only guards against a stack that does not).
    pub(super) grace: Duration,
    pub(super) stack: ExchangeService,
}

impl Runner<'_> {
    /// Runs every leg and returns their results in the recipe's order. Never fails: a leg that
    /// is refused, fails, times out or cannot be built is reported in its own result.
    pub(super) async fn run(&self) -> Vec<LegResult> {
        let legs = &self.recipe.legs;
        let input = self.input.clone().into_iter().collect();
        // Each leg's calls once it has settled, and its answer when a later leg reads it.
        let mut settled: Vec<Option<Vec<LegCall>>> = vec![None; legs.len()];
        let mut answers: Vec<Option<DynamicMessage>> = vec![None; legs.len()];
        let mut started = vec![false; legs.len()];
        let mut running = FuturesUnordered::new();
        loop {
            // Start every leg whose inputs have all settled. A leg that cannot be built settles
            // at once, which may release others, hence the inner loop.
            while let Some(index) = (0..legs.len())
                .find(|&i| !started[i] && legs[i].depends_on.iter().all(|&d| settled[d].is_some()))
            {
                started[index] = true;
                let leg = &legs[index];
                match self.requests(leg, &input, &answers) {
                    Ok(bodies) => running.push(self.run_leg(index, leg, bodies)),
                    Err(rejection) => settled[index] = Some(vec![not_made(&rejection)]),
                }
            }
            let Some((index, calls, answer)) = running.next().await else {
                break;
            };
            answers[index] = answer;
            settled[index] = Some(calls);
        }
        legs.iter()
            .zip(settled)
            .map(|(leg, settled)| LegResult {
                leg: leg.name.clone(),
                service: leg.service.clone(),
                // Every leg settles: its dependencies are earlier in a valid (acyclic) recipe.
                calls: settled.unwrap_or_default(),
            })
            .collect()
    }

    /// The leg's requests, or why it cannot run: a leg it reads did not answer, or what that
    /// leg answered does not make a request.
    fn requests(
        &self,
        leg: &Leg,
        input: &std::collections::BTreeMap<String, String>,
        answers: &[Option<DynamicMessage>],
    ) -> Result<Vec<Bytes>, Rejection> {
        if let Some(&missing) = leg.depends_on.iter().find(|&&d| answers[d].is_none()) {
            return Err(Rejection::new(
                Reason::LegNotRun,
                format!(
                    "leg {} was not run: leg {}, which it reads, did not answer",
                    leg.name, self.recipe.legs[missing].name
                ),
            ));
        }
        leg.requests(input, answers).map_err(|error| {
            Rejection::new(
                Reason::LegNotRun,
                format!("leg {} was not run: {error}", leg.name),
            )
        })
    }

    /// Every call of one leg, at once: their results, and the answer when a later leg reads it.
    async fn run_leg(
        &self,
        index: usize,
        leg: &Leg,
        bodies: Vec<Bytes>,
    ) -> (usize, Vec<LegCall>, Option<DynamicMessage>) {
        let context = Arc::new(LegContext {
            record: tongdao_audit::RecipeLeg {
                recipe: self.recipe.name.clone(),
                leg: leg.name.clone(),
                parent_exchange_id: self.parent.to_string(),
            },
            fields: leg.fields.clone(),
            timeout: leg.timeout,
        });
        // Decoding an answer is needed only when a later leg reads it, and later legs read only
        // single-call legs (the policy refuses reading a fanned-out one).
        let read_later = !leg.fans_out()
            && self
                .recipe
                .legs
                .iter()
                .any(|other| other.depends_on.contains(&index));
        let started = Instant::now();
        let (calls, mut answers): (Vec<LegCall>, Vec<Option<DynamicMessage>>) =
            futures::future::join_all(
                bodies
                    .into_iter()
                    .map(|body| self.call(leg, context.clone(), body, started, read_later)),
            )
            .await
            .into_iter()
            .unzip();
        let answer = answers.pop().flatten();
        (index, calls, answer)
    }

    /// One child exchange through the stack: the run's deadline bounds it, and the leg's
    /// timeout bounds the adapter's answer (in the stack, like a route's timeout).
    async fn call(
        &self,
        leg: &Leg,
        context: Arc<LegContext>,
        body: Bytes,
        started: Instant,
        read_later: bool,
    ) -> (LegCall, Option<DynamicMessage>) {
        let id = ExchangeId::generate();
        let incoming = Incoming {
            id,
            requested_id: None,
            path: leg.service.clone(),
            caller: self.caller.clone(),
            metadata: self.metadata(leg),
            body,
            deadline: self.deadline,
            trace: self.trace.child(),
            recorded: Recorded::default(),
            leg: Some(context),
        };
        let wait = self.deadline.saturating_duration_since(Instant::now()) + self.grace;
        let outcome = match tokio::time::timeout(wait, self.stack.clone().oneshot(incoming)).await {
            Ok(Ok(reply)) => minimised(leg, reply, read_later),
            Ok(Err(rejection)) => Err(rejection),
            Err(_elapsed) => Err(Rejection::new(
                Reason::DeadlineExceeded,
                format!(
                    "leg {} had not answered when the caller's deadline came",
                    leg.name
                ),
            )),
        };
        let latency_us = started.elapsed().as_micros() as u64;
        match outcome {
            Ok(answer) => {
                let call = LegCall {
                    exchange_id: id.to_string(),
                    outcome: Some(leg_call::Outcome::Response(prost_types::Any {
                        type_url: format!(
                            "type.googleapis.com/{}",
                            leg.fields.descriptor().full_name()
                        ),
                        value: answer.encoded,
                    })),
                    latency_us,
                    receipt: answer.receipt.unwrap_or_default(),
                };
                (call, answer.message)
            }
            Err(rejection) => {
                let call = LegCall {
                    exchange_id: id.to_string(),
                    outcome: Some(leg_call::Outcome::Error(leg_error(&rejection))),
                    latency_us,
                    receipt: String::new(),
                };
                (call, None)
            }
        }
    }

    /// The metadata of a leg's call: the recipe's purpose always; the caller's consent only on
    /// legs about the consent subject (a consent names its subject, so on other legs it could
    /// only be refused, and it has no business in their records).
    fn metadata(&self, leg: &Leg) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        if let Ok(purpose) = MetadataValue::try_from(self.recipe.purpose.to_string()) {
            metadata.insert(PURPOSE_HEADER, purpose);
        }
        if leg.consent
            && let Some(consent) = &self.consent
        {
            metadata.insert(CONSENT_HEADER, consent.clone());
        }
        metadata
    }
}

/// A leg call's answer: as sent to the caller, and decoded when a later leg reads it.
struct Answer {
    encoded: Vec<u8>,
    message: Option<DynamicMessage>,
    receipt: Option<String>,
}

/// The leg's answer minimised to its fields. The broker already released only those when they
/// are within the rule (the usual case, checked when the policy compiled: then the reply says
/// so and is passed on as it is); otherwise — a policy reload between reading the recipe and
/// deciding the call — it is masked here. Decoded only when needed.
fn minimised(leg: &Leg, reply: Reply, read_later: bool) -> Result<Answer, Rejection> {
    if reply.masked_to_leg && !read_later {
        return Ok(Answer {
            encoded: reply.body.to_vec(),
            message: None,
            receipt: reply.receipt,
        });
    }
    let mut message = DynamicMessage::decode(leg.fields.descriptor().clone(), reply.body.clone())
        .map_err(|_| {
        Rejection::new(
            Reason::AdapterFailed,
            "the adapter's answer is not a message of the method's output type",
        )
    })?;
    let encoded = if reply.masked_to_leg {
        reply.body.to_vec()
    } else {
        leg.fields.apply(&mut message);
        message.encode_to_vec()
    };
    Ok(Answer {
        encoded,
        message: read_later.then_some(message),
        receipt: reply.receipt,
    })
}

/// A call that was never made: no exchange id, the reason it could not be.
fn not_made(rejection: &Rejection) -> LegCall {
    LegCall {
        exchange_id: String::new(),
        outcome: Some(leg_call::Outcome::Error(leg_error(rejection))),
        latency_us: 0,
        receipt: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use tongdao_policy::{Policy, PolicySources};
    use tongdao_schemas::household::v1::{Member, Transcript};

    use super::*;

    fn shipped() -> Policy {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        Policy::compile(&PolicySources::read_dir(&dir).expect("readable")).expect("compiles")
    }

    fn reply(masked_to_leg: bool) -> Reply {
        let transcript = Transcript {
            household_number: "F1234567".into(),
            issuing_office: "released by a wider rule".into(),
            members: vec![Member {
                name: "王小明".into(),
                birthplace: "臺北市".into(),
                ..Member::default()
            }],
            ..Transcript::default()
        };
        Reply {
            body: transcript.encode_to_vec().into(),
            receipt: None,
            masked_to_leg,
        }
    }

    #[test]
    fn an_answer_the_stack_did_not_mask_to_the_leg_is_masked_here() {
        let policy = shipped();
        let recipe = policy.recipe("welfare-eligibility").expect("shipped");
        let household = &recipe.legs[0];
        let answer = minimised(household, reply(false), true).expect("decodes");
        let sent = Transcript::decode(answer.encoded.as_slice()).expect("transcript");
        assert_eq!(sent.household_number, "F1234567");
        assert!(sent.issuing_office.is_empty(), "not among the leg's fields");
        assert!(sent.members[0].birthplace.is_empty());
        assert_eq!(sent.members[0].name, "王小明");
        assert!(answer.message.is_some(), "a later leg reads it");
    }

    #[test]
    fn an_answer_already_masked_to_the_leg_passes_as_it_is_and_is_decoded_only_if_read() {
        let policy = shipped();
        let recipe = policy.recipe("welfare-eligibility").expect("shipped");
        let household = &recipe.legs[0];
        let original = reply(true).body.to_vec();
        let answer = minimised(household, reply(true), false).expect("passes");
        assert_eq!(
            answer.encoded, original,
            "the stack's bytes, not re-encoded"
        );
        assert!(answer.message.is_none());
        let read = minimised(household, reply(true), true).expect("decodes");
        assert!(read.message.is_some());
    }
}
