//! Policy diffs: which agency/service/purpose combinations gain or lose access, or fields,
//! between two compiled policies. Roles are expanded and fields compared leaf by leaf, so
//! rewriting a rule without changing what it releases shows no change.

use std::collections::{BTreeMap, BTreeSet};

use crate::codes::Purpose;
use crate::policy::Policy;

/// What one agency may receive from one service for one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Rules granting it (more than one only for successive validity windows).
    pub rules: Vec<String>,
    /// Released leaf paths of the response.
    pub fields: BTreeSet<String>,
    /// Whether any granting rule requires consent.
    pub consent_required: bool,
}

/// A combination whose access differs between the two policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessChange {
    /// Agency code.
    pub agency: String,
    /// Full method path.
    pub method: String,
    /// Purpose.
    pub purpose: Purpose,
    /// Access under the old policy (`None`: none).
    pub old: Option<Access>,
    /// Access under the new policy (`None`: none).
    pub new: Option<Access>,
}

impl AccessChange {
    /// Leaves released by the new policy but not the old.
    pub fn gained_fields(&self) -> Vec<&str> {
        only_in(self.new.as_ref(), self.old.as_ref())
    }

    /// Leaves released by the old policy but not the new.
    pub fn lost_fields(&self) -> Vec<&str> {
        only_in(self.old.as_ref(), self.new.as_ref())
    }
}

/// Leaves released by `a` and not by `b`.
fn only_in<'a>(a: Option<&'a Access>, b: Option<&Access>) -> Vec<&'a str> {
    a.map(|a| {
        a.fields
            .iter()
            .filter(|field| !b.is_some_and(|b| b.fields.contains(*field)))
            .map(String::as_str)
            .collect()
    })
    .unwrap_or_default()
}

type Key = (String, String, Purpose);

/// Every combination whose access, fields or consent requirement differs, sorted by agency,
/// method and purpose.
pub fn diff(old: &Policy, new: &Policy) -> Vec<AccessChange> {
    let old_access = access_map(old);
    let mut new_access = access_map(new);
    let mut changes = Vec::new();
    for (key, before) in old_access {
        let after = new_access.remove(&key);
        let same = after.as_ref().is_some_and(|after| {
            after.fields == before.fields && after.consent_required == before.consent_required
        });
        if !same {
            changes.push(change(key, Some(before), after));
        }
    }
    for (key, after) in new_access {
        changes.push(change(key, None, Some(after)));
    }
    changes
        .sort_by(|a, b| (&a.agency, &a.method, a.purpose).cmp(&(&b.agency, &b.method, b.purpose)));
    changes
}

fn change(key: Key, old: Option<Access>, new: Option<Access>) -> AccessChange {
    let (agency, method, purpose) = key;
    AccessChange {
        agency,
        method,
        purpose,
        old,
        new,
    }
}

fn access_map(policy: &Policy) -> BTreeMap<Key, Access> {
    let mut map: BTreeMap<Key, Access> = BTreeMap::new();
    for (method, slot) in &policy.index {
        for client in slot.by_client.values() {
            let agency = &client.agency;
            for entry in client.entries() {
                let rule = &policy.rule_at(entry.rule).id;
                let fields: BTreeSet<String> = entry
                    .allow
                    .fields
                    .leaves()
                    .into_iter()
                    .filter(|leaf| leaf.released)
                    .map(|leaf| leaf.path)
                    .collect();
                for &purpose in entry.purposes.iter() {
                    let access = map
                        .entry((agency.to_string(), method.to_string(), purpose))
                        .or_insert_with(|| Access {
                            rules: Vec::new(),
                            fields: BTreeSet::new(),
                            consent_required: false,
                        });
                    if !access.rules.contains(rule) {
                        access.rules.push(rule.clone());
                    }
                    access.fields.extend(fields.iter().cloned());
                    access.consent_required |= entry.allow.consent_required;
                }
            }
        }
    }
    map
}

/// How a recipe differs between two policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipeChange {
    /// Only in the new policy: its clients and legs.
    Added {
        /// The recipe's name.
        name: String,
        /// Client agencies, roles expanded.
        agencies: Vec<String>,
        /// Leg names.
        legs: Vec<String>,
    },
    /// Only in the old policy.
    Removed {
        /// The recipe's name.
        name: String,
    },
    /// In both, with these differences (one line each, for people).
    Changed {
        /// The recipe's name.
        name: String,
        /// What changed: clients, purpose, consent subject, legs, a leg's service, fields or
        /// consent.
        details: Vec<String>,
    },
}

/// Every recipe added, removed or changed, by name. Leg fields are compared leaf by leaf.
pub fn recipe_diff(old: &Policy, new: &Policy) -> Vec<RecipeChange> {
    let mut changes = Vec::new();
    for before in old.recipes() {
        match new.recipe(&before.name) {
            None => changes.push(RecipeChange::Removed {
                name: before.name.clone(),
            }),
            Some(after) => {
                let details = recipe_details(before, after);
                if !details.is_empty() {
                    changes.push(RecipeChange::Changed {
                        name: after.name.clone(),
                        details,
                    });
                }
            }
        }
    }
    for after in new.recipes() {
        if old.recipe(&after.name).is_none() {
            changes.push(RecipeChange::Added {
                name: after.name.clone(),
                agencies: after.agencies.clone(),
                legs: after.legs.iter().map(|leg| leg.name.clone()).collect(),
            });
        }
    }
    changes
}

fn recipe_details(before: &crate::Recipe, after: &crate::Recipe) -> Vec<String> {
    let mut details = Vec::new();
    let set = |items: &[String]| items.iter().cloned().collect::<BTreeSet<String>>();
    let (old_clients, new_clients) = (set(&before.agencies), set(&after.agencies));
    for agency in new_clients.difference(&old_clients) {
        details.push(format!("client {agency} added"));
    }
    for agency in old_clients.difference(&new_clients) {
        details.push(format!("client {agency} removed"));
    }
    if before.purpose != after.purpose {
        details.push(format!("purpose {} → {}", before.purpose, after.purpose));
    }
    if before.consent_subject != after.consent_subject {
        details.push(format!(
            "consent subject {} → {}",
            before.consent_subject.as_deref().unwrap_or("(none)"),
            after.consent_subject.as_deref().unwrap_or("(none)")
        ));
    }
    for leg in &after.legs {
        let Some(old_leg) = before.legs.iter().find(|l| l.name == leg.name) else {
            details.push(format!("leg {} added ({})", leg.name, leg.service));
            continue;
        };
        if old_leg.service != leg.service {
            details.push(format!(
                "leg {}: service {} → {}",
                leg.name, old_leg.service, leg.service
            ));
            continue;
        }
        let (old_fields, new_fields) = (released(&old_leg.fields), released(&leg.fields));
        let gained: Vec<&str> = new_fields
            .difference(&old_fields)
            .map(String::as_str)
            .collect();
        let lost: Vec<&str> = old_fields
            .difference(&new_fields)
            .map(String::as_str)
            .collect();
        if !gained.is_empty() {
            details.push(format!("leg {} gains {}", leg.name, gained.join(", ")));
        }
        if !lost.is_empty() {
            details.push(format!("leg {} loses {}", leg.name, lost.join(", ")));
        }
        if old_leg.consent != leg.consent {
            details.push(format!(
                "leg {} {} the consent",
                leg.name,
                if leg.consent {
                    "now presents"
                } else {
                    "no longer presents"
                }
            ));
        }
    }
    for leg in &before.legs {
        if !after.legs.iter().any(|l| l.name == leg.name) {
            details.push(format!("leg {} removed", leg.name));
        }
    }
    details
}

/// The leaf paths a mask releases.
fn released(mask: &crate::FieldMask) -> BTreeSet<String> {
    mask.leaves()
        .into_iter()
        .filter(|leaf| leaf.released)
        .map(|leaf| leaf.path)
        .collect()
}
