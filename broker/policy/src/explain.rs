//! Explanations: for one request, the decision, the rule that matched or the rules that came
//! closest and what each lacks, and the fields released and withheld. For NDC and agency
//! developers (`tongdao policy explain`), never sent to callers.

use crate::decide::{Decision, DecisionRequest, Lookup};
use crate::mask::Leaf;
use crate::policy::Policy;
use crate::rules::Rule;
use crate::services::ServiceEntry;

/// How many near-miss rules an explanation lists.
const MAX_CANDIDATES: usize = 5;

/// Why a request is allowed or denied.
#[derive(Debug, Clone)]
pub struct Explanation<'p> {
    /// The decision, exactly as [`Policy::decide`] returns it.
    pub decision: Decision,
    /// The service, if the method is registered.
    pub service: Option<&'p ServiceEntry>,
    /// The rule that allowed the request.
    pub matched: Option<&'p Rule>,
    /// Other rules for the same service, nearest first, each with what it lacks for this
    /// request.
    pub candidates: Vec<Candidate<'p>>,
    /// Every leaf of the response with whether it is released (empty when denied).
    pub leaves: Vec<Leaf>,
}

/// A rule that covers the service but did not match.
#[derive(Debug, Clone)]
pub struct Candidate<'p> {
    /// The rule.
    pub rule: &'p Rule,
    /// What the request would need to change, or the rule, for it to match.
    pub mismatches: Vec<String>,
}

impl Policy {
    /// Explains the decision for `request`.
    pub fn explain(&self, request: &DecisionRequest<'_>) -> Explanation<'_> {
        let decision = self.decide(request);
        let service = self.services().get(request.method);
        let (matched, leaves) = match self.lookup(request) {
            Lookup::Matched(entry, _) => {
                (Some(self.rule_at(entry.rule)), entry.allow.fields.leaves())
            }
            Lookup::Refused(_) => (None, Vec::new()),
        };
        let purpose = request
            .purpose
            .and_then(|raw| self.purposes().resolve(raw))
            .map(|entry| entry.code);
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        for (index, rule) in self.rules().iter().enumerate() {
            if !rule.services.iter().any(|s| s == request.method)
                || matched.is_some_and(|m| m.id == rule.id)
            {
                continue;
            }
            let mut mismatches = Vec::new();
            match request.agency_code {
                None if !rule.clients.contains(&crate::rules::Client::CitizenSelf) => {
                    mismatches.push("the caller is not an agency".to_owned());
                }
                None => {}
                Some(agency) if !self.rule_agencies_at(index).iter().any(|a| a == agency) => {
                    let clients: Vec<String> =
                        rule.clients.iter().map(ToString::to_string).collect();
                    mismatches.push(format!("grants to {}, not {agency}", clients.join(", ")));
                }
                Some(_) => {}
            }
            let allowed: Vec<String> = rule.purposes.iter().map(ToString::to_string).collect();
            match (purpose, request.purpose) {
                (Some(p), _) if !rule.purposes.contains(&p) => {
                    mismatches.push(format!("allows purpose {}, not {p}", allowed.join(", ")));
                }
                (None, None) => {
                    mismatches.push(format!("needs a declared purpose ({})", allowed.join(", ")));
                }
                (None, Some(_)) => mismatches.push(format!(
                    "the declared purpose is not registered; the rule allows {}",
                    allowed.join(", ")
                )),
                _ => {}
            }
            if !rule.is_valid_at(request.now_unix) {
                mismatches.push(format!(
                    "not in force at that time (valid {})",
                    rule.window_text()
                ));
            }
            candidates.push(Candidate { rule, mismatches });
        }
        candidates.sort_by(|a, b| {
            (a.mismatches.len(), &a.rule.file, a.rule.line).cmp(&(
                b.mismatches.len(),
                &b.rule.file,
                b.rule.line,
            ))
        });
        candidates.truncate(MAX_CANDIDATES);
        Explanation {
            decision,
            service,
            matched,
            candidates,
            leaves,
        }
    }
}
