//! NDC's policy tools (`tongdao policy lint|test|explain|diff`) as functions from policy text to
//! a printable report, so the command line only reads files and prints.

use std::fmt::Write as _;

use crate::decide::{Decision, DecisionRequest};
use crate::diff::{RecipeChange, diff as diff_policies};
use crate::fixtures::Fixtures;
use crate::policy::Policy;
use crate::sources::PolicySources;
use crate::toml_read::format_instant;
use tongdao_schemas::descriptors::data_class_code;

/// A tool's output and whether it succeeded (the exit status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Text for the terminal, ending in a newline.
    pub text: String,
    /// `false` when the tool found problems: lint errors, failing fixtures.
    pub ok: bool,
}

impl Report {
    fn failed(text: String) -> Self {
        Self { text, ok: false }
    }
}

/// Compiles the policy and lists every problem as `file:line: message`.
pub fn lint(sources: &PolicySources) -> Report {
    match Policy::compile(sources) {
        Ok(policy) => Report {
            text: format!(
                "policy {}: {} agencies, {} services, {} purposes, {} roles, {} rules, {} \
                 recipes; no problems\n",
                policy.version(),
                policy.agencies().agencies().len(),
                policy.services().entries().len(),
                policy.purposes().entries().len(),
                policy.roles().entries().len(),
                policy.rules().len(),
                policy.recipes().len()
            ),
            ok: true,
        },
        Err(errors) => Report::failed(format!(
            "{errors}\n{} problem{}\n",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        )),
    }
}

/// Explains a recipe: what the caller supplies, and for each client agency (or only `agency`)
/// the rule each leg runs under at `now_unix` — legal basis, whether it needs the consent — and
/// what the leg receives of what the rule releases. Not ok when the recipe is unknown, the
/// agency is not a client, or a leg would be refused.
pub fn explain_recipe(
    sources: &PolicySources,
    name: &str,
    agency: Option<&str>,
    now_unix: i64,
) -> Report {
    let policy = match Policy::compile(sources) {
        Ok(policy) => policy,
        Err(errors) => return Report::failed(format!("the policy does not compile:\n{errors}\n")),
    };
    let Some(recipe) = policy.recipe(name) else {
        let known: Vec<&str> = policy.recipes().iter().map(|r| r.name.as_str()).collect();
        return Report::failed(format!(
            "no recipe named {name:?} (recipes: {})\n",
            known.join(", ")
        ));
    };
    let clients: Vec<&str> = match agency {
        Some(code) if recipe.agencies.iter().any(|a| a == code) => vec![code],
        Some(code) => {
            return Report::failed(format!(
                "agency {code} is not a client of recipe {name} (clients: {})\n",
                recipe.agencies.join(", ")
            ));
        }
        None => recipe.agencies.iter().map(String::as_str).collect(),
    };
    let mut text = String::new();
    let mut ok = true;
    let _ = writeln!(text, "policy {}", policy.version());
    let _ = writeln!(
        text,
        "recipe {} ({}:{}): {}",
        recipe.name, recipe.file, recipe.line, recipe.title
    );
    let _ = writeln!(text, "purpose: {}", recipe.purpose);
    let inputs: Vec<String> = recipe
        .inputs
        .iter()
        .map(|i| format!("{} ({})", i.name, i.kind.as_str()))
        .collect();
    let _ = writeln!(text, "inputs: {}", inputs.join(", "));
    if let Some(subject) = &recipe.consent_subject {
        let _ = writeln!(
            text,
            "consent: of {subject}, presented on the legs about them"
        );
    }
    for code in clients {
        let agency_name = policy
            .agencies()
            .by_code(code)
            .map_or("", |a| a.name.as_str());
        let _ = writeln!(text, "client {code} ({agency_name}):");
        for leg in &recipe.legs {
            let reads: Vec<&str> = leg
                .depends_on
                .iter()
                .filter_map(|&i| recipe.legs.get(i).map(|l| l.name.as_str()))
                .collect();
            let mut shape = if reads.is_empty() {
                "at once".to_owned()
            } else {
                format!("after {}", reads.join(", "))
            };
            if leg.fans_out() {
                shape.push_str(", once per item");
            }
            let _ = writeln!(text, "  leg {} ({shape}) → {}", leg.name, leg.service);
            let request = DecisionRequest {
                agency_code: Some(code),
                method: &leg.service,
                purpose: Some(&recipe.purpose.to_string()),
                now_unix,
            };
            match policy.decide(&request) {
                Decision::Allow(allow) => {
                    let rule = policy.rule(&allow.rule_id);
                    let basis = rule.map_or(String::new(), |r| match &r.citation {
                        Some(citation) => format!("{} ({citation})", r.legal_basis),
                        None => r.legal_basis.to_string(),
                    });
                    let _ = writeln!(text, "    rule {}: {basis}", allow.rule_id);
                    let consent = match (allow.consent_required, leg.consent) {
                        (true, _) => "needs the consent",
                        (false, true) => "consent presented, not needed",
                        (false, false) => "no consent",
                    };
                    let _ = writeln!(
                        text,
                        "    {consent}; receives {} of the {} leaf fields the rule releases",
                        released_leaves(&leg.fields),
                        released_leaves(&allow.fields)
                    );
                    let _ = writeln!(text, "    fields: {}", leg.fields.paths().join(", "));
                }
                Decision::Deny(denial) => {
                    ok = false;
                    let _ = writeln!(
                        text,
                        "    DENY {} — {}",
                        denial.reason().as_str_name(),
                        denial.message()
                    );
                }
            }
        }
    }
    Report { text, ok }
}

fn released_leaves(mask: &crate::mask::FieldMask) -> usize {
    mask.leaves().iter().filter(|leaf| leaf.released).count()
}

/// Runs fixture files (name → text) against the compiled policy.
pub fn test(sources: &PolicySources, fixtures: &[(String, String)]) -> Report {
    let policy = match Policy::compile(sources) {
        Ok(policy) => policy,
        Err(errors) => return Report::failed(format!("the policy does not compile:\n{errors}\n")),
    };
    let mut text = String::new();
    let mut passed = 0;
    let mut failed = 0;
    let mut broken = false;
    if fixtures.is_empty() {
        return Report::failed("no fixture files\n".to_owned());
    }
    for (name, fixture_text) in fixtures {
        let fixtures = match Fixtures::parse(name, fixture_text) {
            Ok(fixtures) => fixtures,
            Err(errors) => {
                let _ = writeln!(text, "{errors}");
                broken = true;
                continue;
            }
        };
        let report = fixtures.run(&policy);
        passed += report.passed;
        failed += report.failures.len();
        for failure in report.failures {
            let _ = writeln!(text, "FAIL {} {}", failure.location, failure.name);
            for line in failure.differences {
                let _ = writeln!(text, "    {line}");
            }
        }
    }
    let _ = writeln!(
        text,
        "policy {}: {passed} passed, {failed} failed{}",
        policy.version(),
        if broken {
            ", fixture files with errors"
        } else {
            ""
        }
    );
    Report {
        text,
        ok: failed == 0 && !broken,
    }
}

/// Explains one request: the decision, the rule that matched or the nearest ones, and the
/// fields released and withheld.
pub fn explain(sources: &PolicySources, request: &DecisionRequest<'_>) -> Report {
    let policy = match Policy::compile(sources) {
        Ok(policy) => policy,
        Err(errors) => return Report::failed(format!("the policy does not compile:\n{errors}\n")),
    };
    let explanation = policy.explain(request);
    let mut text = String::new();
    let agency = match request.agency_code {
        Some(code) => match policy.agencies().by_code(code) {
            Some(entry) => format!("{code} ({})", entry.name),
            None => format!("{code} (not registered)"),
        },
        None => "citizen:self (a citizen, for their own records)".to_owned(),
    };
    let purpose = match request.purpose {
        Some(raw) => match policy.purposes().resolve(raw) {
            Some(entry) => format!("{} ({})", entry.code, entry.name),
            None => format!("{raw:?} (not registered)"),
        },
        None => "(none)".to_owned(),
    };
    let _ = writeln!(text, "policy {}", policy.version());
    let _ = writeln!(
        text,
        "request: agency {agency} → {}, purpose {purpose}, at {}",
        request.method,
        format_instant(request.now_unix)
    );
    match &explanation.decision {
        Decision::Allow(allow) => {
            let _ = write!(text, "decision: ALLOW by rule {}", allow.rule_id);
            if let Some(rule) = explanation.matched {
                let _ = write!(text, " ({}:{})", rule.file, rule.line);
            }
            let _ = writeln!(text);
            if let Some(rule) = explanation.matched {
                let mut basis = format!("legal basis: {}", rule.legal_basis);
                if let Some(citation) = &rule.citation {
                    let _ = write!(basis, " ({citation})");
                }
                if let Some(special) = rule.special_basis {
                    let _ = write!(basis, "; §6 ground: {special}");
                }
                let _ = writeln!(text, "  {basis}");
                let _ = writeln!(
                    text,
                    "  consent required: {}",
                    if rule.consent_required { "yes" } else { "no" }
                );
                if let Some(quota) = rule.quota {
                    let _ = writeln!(
                        text,
                        "  quota: {} requests per {} s per agency",
                        quota.requests, quota.per_seconds
                    );
                }
                if !rule.window_text().is_empty() {
                    let _ = writeln!(text, "  valid {}", rule.window_text());
                }
            }
            let classes: Vec<&str> = allow
                .released_classes
                .iter()
                .map(|c| data_class_code(*c))
                .collect();
            let _ = writeln!(text, "  released classes: {}", classes.join(" "));
        }
        Decision::Deny(denial) => {
            let _ = writeln!(
                text,
                "decision: DENY {} — {}",
                denial.reason().as_str_name(),
                denial.message()
            );
        }
    }
    if !explanation.leaves.is_empty() {
        for (title, released) in [("released", true), ("withheld", false)] {
            let leaves: Vec<_> = explanation
                .leaves
                .iter()
                .filter(|leaf| leaf.released == released)
                .collect();
            let _ = writeln!(text, "fields {title} ({}):", leaves.len());
            for leaf in leaves {
                let class = leaf.class.map_or("", |c| data_class_code(c));
                let _ = writeln!(text, "  {:<48} {class}", leaf.path);
            }
        }
    }
    if explanation.service.is_none() {
        let _ = writeln!(text, "{} is not in services.toml", request.method);
    } else if explanation.candidates.is_empty() {
        if explanation.matched.is_none() {
            let _ = writeln!(text, "no rule mentions {}", request.method);
        }
    } else {
        let title = if explanation.matched.is_some() {
            "other rules for this service"
        } else {
            "nearest rules"
        };
        let _ = writeln!(text, "{title}:");
        for candidate in &explanation.candidates {
            let _ = writeln!(
                text,
                "  {} ({}:{}): {}",
                candidate.rule.id,
                candidate.rule.file,
                candidate.rule.line,
                if candidate.mismatches.is_empty() {
                    "would also match".to_owned()
                } else {
                    candidate.mismatches.join("; ")
                }
            );
        }
    }
    Report { text, ok: true }
}

/// Which agency/service/purpose combinations gain or lose access or fields from `old` to `new`.
pub fn diff(old: &PolicySources, new: &PolicySources) -> Report {
    let old_policy = match Policy::compile(old) {
        Ok(policy) => policy,
        Err(errors) => {
            return Report::failed(format!("the old policy does not compile:\n{errors}\n"));
        }
    };
    let new_policy = match Policy::compile(new) {
        Ok(policy) => policy,
        Err(errors) => {
            return Report::failed(format!("the new policy does not compile:\n{errors}\n"));
        }
    };
    let changes = diff_policies(&old_policy, &new_policy);
    let mut text = format!(
        "policy {} → {}\n",
        old_policy.version(),
        new_policy.version()
    );
    for change in &changes {
        let name = new_policy
            .agencies()
            .by_code(&change.agency)
            .or_else(|| old_policy.agencies().by_code(&change.agency))
            .map_or("", |a| a.name.as_str());
        let who = format!(
            "{} {name} {} purpose {}",
            change.agency, change.method, change.purpose
        );
        match (&change.old, &change.new) {
            (None, Some(new)) => {
                let _ = writeln!(
                    text,
                    "+ {who}: gains access (rule {}{}), {} fields: {}",
                    new.rules.join(", "),
                    if new.consent_required {
                        ", with consent"
                    } else {
                        ""
                    },
                    new.fields.len(),
                    summarise(&change.gained_fields())
                );
            }
            (Some(old), None) => {
                let _ = writeln!(
                    text,
                    "- {who}: loses access (was rule {})",
                    old.rules.join(", ")
                );
            }
            (Some(old), Some(new)) => {
                let mut parts = Vec::new();
                let gained = change.gained_fields();
                let lost = change.lost_fields();
                if !gained.is_empty() {
                    parts.push(format!("gains {}", summarise(&gained)));
                }
                if !lost.is_empty() {
                    parts.push(format!("loses {}", summarise(&lost)));
                }
                if old.consent_required != new.consent_required {
                    parts.push(if new.consent_required {
                        "consent now required".to_owned()
                    } else {
                        "consent no longer required".to_owned()
                    });
                }
                let _ = writeln!(
                    text,
                    "~ {who} (rule {}): {}",
                    new.rules.join(", "),
                    parts.join("; ")
                );
            }
            (None, None) => {}
        }
    }
    let recipes = crate::diff::recipe_diff(&old_policy, &new_policy);
    for change in &recipes {
        match change {
            RecipeChange::Added {
                name,
                agencies,
                legs,
            } => {
                let _ = writeln!(
                    text,
                    "+ recipe {name}: added for {} ({} legs: {})",
                    agencies.join(", "),
                    legs.len(),
                    legs.join(", ")
                );
            }
            RecipeChange::Removed { name } => {
                let _ = writeln!(text, "- recipe {name}: removed");
            }
            RecipeChange::Changed { name, details } => {
                let _ = writeln!(text, "~ recipe {name}: {}", details.join("; "));
            }
        }
    }
    let total = changes.len() + recipes.len();
    let _ = writeln!(text, "{total} change{}", if total == 1 { "" } else { "s" });
    Report { text, ok: true }
}

fn summarise(paths: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        let _ = write!(text, ", … ({} more)", paths.len() - SHOWN);
    }
    text
}
