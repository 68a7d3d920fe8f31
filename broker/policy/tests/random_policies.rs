//! Random policies against a reference model: the compiled index decides exactly as a linear
//! scan over the rules would, and a response masked by the matched rule never carries a field
//! outside the rule's list.

use std::collections::HashSet;
use std::path::Path;

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, Value};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use tongdao_core::Reason;
use tongdao_policy::{Decision, DecisionRequest, Policy, PolicySources};

fn registries() -> PolicySources {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut sources = PolicySources::read_dir(&dir).expect("policies/");
    let rule_files: Vec<String> = sources
        .iter()
        // Recipes go too: they need the shipped rules.
        .filter(|(name, _)| name.starts_with("rules/") || name.starts_with("recipes/"))
        .map(|(name, _)| name.to_owned())
        .collect();
    for name in rule_files {
        sources.remove(&name);
    }
    sources
}

/// Field paths of `message` to `depth` levels, map values entered.
fn paths(message: &MessageDescriptor, prefix: &str, depth: usize, out: &mut Vec<String>) {
    for field in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        out.push(path.clone());
        if let (Kind::Message(inner), true, false) = (field.kind(), depth > 0, field.is_map()) {
            paths(&inner, &path, depth - 1, out);
        }
    }
}

fn related(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| x == y || x.strip_prefix(y).is_some_and(|r| r.starts_with('.'));
    inside(a, b) || inside(b, a)
}

struct Model {
    rules: Vec<ModelRule>,
}

struct ModelRule {
    id: String,
    agencies: Vec<String>,
    method: String,
    purposes: Vec<String>,
    from: i64,
    until: i64,
    fields: Vec<String>,
}

/// What a linear scan over the rules decides: the rule id, or the denial reason.
fn reference(
    model: &Model,
    policy: &Policy,
    request: &DecisionRequest<'_>,
) -> Result<String, Reason> {
    if policy.services().get(request.method).is_none() {
        return Err(Reason::NoMatchingRule);
    }
    let Some(agency) = request.agency_code else {
        return Err(Reason::AgencyRequired);
    };
    let Some(raw) = request.purpose else {
        return Err(Reason::PurposeRequired);
    };
    let Some(purpose) = policy.purposes().resolve(raw) else {
        return Err(Reason::PurposeUnknown);
    };
    let code = purpose.code.to_string();
    let candidates: Vec<&ModelRule> = model
        .rules
        .iter()
        .filter(|r| r.method == request.method && r.agencies.iter().any(|a| a == agency))
        .collect();
    if candidates.is_empty() {
        return Err(Reason::NoMatchingRule);
    }
    let for_purpose: Vec<&&ModelRule> = candidates
        .iter()
        .filter(|r| r.purposes.contains(&code))
        .collect();
    if let Some(rule) = for_purpose
        .iter()
        .find(|r| r.from <= request.now_unix && request.now_unix < r.until)
    {
        return Ok(rule.id.clone());
    }
    if for_purpose.is_empty() {
        Err(Reason::PurposeNotAllowed)
    } else {
        Err(Reason::NoMatchingRule)
    }
}

fn random_value(kind: &Kind, rng: &mut StdRng, depth: usize) -> Value {
    match kind {
        Kind::Message(message) => Value::Message(random_message(message, rng, depth + 1)),
        Kind::String => Value::String(format!("v{}", rng.random_range(1..100))),
        Kind::Bool => Value::Bool(true),
        Kind::Int64 => Value::I64(rng.random_range(1..100)),
        Kind::Uint32 => Value::U32(rng.random_range(1..100)),
        Kind::Uint64 => Value::U64(rng.random_range(1..100)),
        Kind::Int32 => Value::I32(rng.random_range(1..100)),
        Kind::Enum(_) => Value::EnumNumber(1),
        other => panic!("domain schemas have no {other:?} fields"),
    }
}

fn random_message(message: &MessageDescriptor, rng: &mut StdRng, depth: usize) -> DynamicMessage {
    let mut out = DynamicMessage::new(message.clone());
    for field in message.fields() {
        if depth > 4 || !rng.random_bool(0.8) {
            continue;
        }
        let value = if field.is_list() {
            Value::List(
                (0..rng.random_range(1..4))
                    .map(|_| random_value(&field.kind(), rng, depth))
                    .collect(),
            )
        } else {
            random_value(&field.kind(), rng, depth)
        };
        out.set_field(&field, value);
    }
    out
}

fn assert_within(message: &DynamicMessage, listed: &[String], prefix: &str) {
    for (field, value) in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        let released = listed.iter().any(|p| {
            path == *p
                || path
                    .strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        });
        let on_the_way = listed.iter().any(|p| {
            p.strip_prefix(path.as_str())
                .is_some_and(|r| r.starts_with('.'))
        });
        assert!(
            released || on_the_way,
            "{path} left the broker; the rule lists {listed:?}"
        );
        match value {
            Value::Message(inner) => assert_within(inner, listed, &path),
            Value::List(items) => {
                for inner in items.iter().filter_map(Value::as_message) {
                    assert_within(inner, listed, &path);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn random_policies_decide_like_a_linear_scan_and_never_leak() {
    let mut rng = StdRng::seed_from_u64(20_250_701);
    let base = registries();
    let registry_policy = Policy::compile(&base).expect("registries compile");
    let agencies: Vec<String> = registry_policy
        .agencies()
        .agencies()
        .iter()
        .map(|a| a.code.clone())
        .collect();
    let roles: Vec<(String, Vec<String>)> = registry_policy
        .roles()
        .entries()
        .iter()
        .map(|r| (r.name.clone(), r.agencies.clone()))
        .collect();
    let purposes: Vec<String> = registry_policy
        .purposes()
        .entries()
        .iter()
        .map(|p| p.code.to_string())
        .collect();
    let services: Vec<(String, MessageDescriptor)> = registry_policy
        .services()
        .entries()
        .iter()
        .map(|s| (s.method.clone(), s.output()))
        .collect();
    let (start, end) = (1_704_067_200_i64, 1_830_297_600_i64); // 2024 .. 2028

    for round in 0..20 {
        let mut model = Model { rules: Vec::new() };
        let mut claimed: HashSet<(String, String, String)> = HashSet::new();
        let mut text = String::new();
        for index in 0..60 {
            let (method, output) = services.choose(&mut rng).expect("services");
            let mut clients = Vec::new();
            let mut expanded: Vec<String> = Vec::new();
            for _ in 0..rng.random_range(1..3) {
                if rng.random_bool(0.3) {
                    let (name, members) = roles.choose(&mut rng).expect("roles");
                    clients.push(format!("role:{name}"));
                    expanded.extend(members.iter().cloned());
                } else {
                    let agency = agencies.choose(&mut rng).expect("agencies");
                    clients.push(agency.clone());
                    expanded.push(agency.clone());
                }
            }
            clients.sort();
            clients.dedup();
            expanded.sort();
            expanded.dedup();
            let count = rng.random_range(1..4);
            let mut rule_purposes: Vec<String> =
                purposes.choose_multiple(&mut rng, count).cloned().collect();
            rule_purposes.sort();
            let triples: Vec<_> = expanded
                .iter()
                .flat_map(|a| {
                    rule_purposes
                        .iter()
                        .map(move |p| (a.clone(), method.clone(), p.clone()))
                })
                .collect();
            if triples.iter().any(|t| claimed.contains(t)) {
                continue; // Overlapping rules are a lint error; the model keeps them disjoint.
            }
            claimed.extend(triples);
            let mut candidates = Vec::new();
            paths(output, "", 2, &mut candidates);
            let mut fields: Vec<String> = Vec::new();
            for _ in 0..rng.random_range(1..5) {
                let path = candidates.choose(&mut rng).expect("paths").clone();
                if !fields.iter().any(|f| related(f, &path)) {
                    fields.push(path);
                }
            }
            let (from, until) = if rng.random_bool(0.3) {
                let a = rng.random_range(start..end);
                let b = rng.random_range(start..end);
                (a.min(b), a.max(b) + 1)
            } else {
                (i64::MIN, i64::MAX)
            };
            let id = format!("r{round}-{index}");
            let quote = |v: &[String]| {
                v.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            text.push_str(&format!(
                "[[rule]]\nid = {id:?}\nclients = [{}]\nservices = [{method:?}]\npurposes = [{}]\n\
                 fields = [{}]\nlegal_basis = \"duty\"\nspecial_basis = \"law\"\nconsent_required = false\n",
                quote(&clients),
                quote(&rule_purposes),
                quote(&fields)
            ));
            if from != i64::MIN {
                text.push_str(&format!(
                    "valid_from = {:?}\nvalid_until = {:?}\n",
                    rfc3339(from),
                    rfc3339(until)
                ));
            }
            text.push('\n');
            model.rules.push(ModelRule {
                id,
                agencies: expanded,
                method: method.clone(),
                purposes: rule_purposes,
                from,
                until,
                fields,
            });
        }
        let mut sources = base.clone();
        sources.insert("rules/random.toml", text);
        let policy = match Policy::compile(&sources) {
            Ok(policy) => policy,
            Err(errors) => panic!("round {round}: generated policy does not compile:\n{errors}"),
        };

        let mut allowed = 0;
        for _ in 0..400 {
            let agency = match rng.random_range(0..10) {
                0 => None,
                1 => Some("Z00000000Z".to_owned()),
                _ => agencies.choose(&mut rng).cloned(),
            };
            let method = if rng.random_bool(0.05) {
                "/tongdao.land.v1.LandRegistry/Unknown".to_owned()
            } else {
                services.choose(&mut rng).expect("services").0.clone()
            };
            let purpose = match rng.random_range(0..12) {
                0 => None,
                1 => Some("999".to_owned()),
                _ => purposes.choose(&mut rng).cloned(),
            };
            let request = DecisionRequest {
                agency_code: agency.as_deref(),
                method: &method,
                purpose: purpose.as_deref(),
                now_unix: rng.random_range(start..end),
            };
            let expected = reference(&model, &policy, &request);
            match (policy.decide(&request), expected) {
                (Decision::Allow(allow), Ok(id)) => {
                    assert_eq!(&*allow.rule_id, id, "{request:?}");
                    allowed += 1;
                    let rule = model.rules.iter().find(|r| r.id == id).expect("rule");
                    let output = allow.fields.descriptor().clone();
                    let mut response = random_message(&output, &mut rng, 0);
                    allow.fields.apply(&mut response);
                    assert_within(&response, &rule.fields, "");
                }
                (Decision::Deny(denial), Err(reason)) => {
                    assert_eq!(denial.reason(), reason, "{request:?}: {denial}");
                }
                (decision, expected) => {
                    panic!("{request:?}: decided {decision:?}, the reference says {expected:?}")
                }
            }
        }
        assert!(
            allowed > 0,
            "round {round} allowed nothing; the test would prove little"
        );
    }
}

fn rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .expect("in range")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}
