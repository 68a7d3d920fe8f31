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
