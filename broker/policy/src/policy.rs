//! Compiling policy files into an index the broker decides from.
//!
//! Compilation reads every file, reports every problem (file:line), and only then builds the
//! index. A policy with any problem does not compile, so a bad edit can never replace a
//! working policy.
//!
//! The index is keyed by method, then by agency code, and holds the few rules for that pair:
//! roles are expanded and field masks compiled here, so a decision is two hash lookups and a
//! scan of a handful of entries, whatever the rule count.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost_reflect::DescriptorPool;
use tongdao_schemas::descriptors;

use crate::codes::Purpose;
use crate::decide::Allow;
use crate::error::{PolicyError, PolicyErrors};
use crate::index::{AgencyKey, ClassSet, FastMap, PurposeSet};
use crate::mask::FieldMask;
use crate::purposes::PurposeRegistry;
use crate::recipes::{RECIPES_DIR, compile_recipes};
use crate::registry::AgencyRegistry;
use crate::roles::RoleRegistry;
use crate::rules::{CheckedRule, MaskCache, Registries, Rule, read_rules};
use crate::services::{ServiceEntry, ServiceRegistry};
use crate::sha256::{Sha256, hex};
use crate::sources::{AGENCIES, PURPOSES, PolicySources, ROLES, RULES_DIR, SERVICES};
use crate::toml_read::FileCx;

/// A compiled policy: the registries, the rules, and the decision index.
#[derive(Debug)]
pub struct Policy {
    version: Arc<str>,
    digest: String,
    agencies: AgencyRegistry,
    purposes: PurposeRegistry,
    services: ServiceRegistry,
    roles: RoleRegistry,
    rules: Vec<Rule>,
    /// Agencies each rule grants to, roles expanded (same order as `rules`).
    rule_agencies: Vec<Vec<String>>,
    /// One-stop recipes (`recipes/*.toml`), in file order.
    recipes: Vec<crate::recipes::Recipe>,
    pub(crate) index: FastMap<Box<str>, Slot>,
}

/// Everything about one service the decision needs.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) personal: bool,
    pub(crate) by_client: FastMap<AgencyKey, ClientRules>,
}

/// The rules of one agency for one service.
#[derive(Debug)]
pub(crate) struct ClientRules {
    pub(crate) agency: Box<str>,
    /// The first rule, inline: most agencies have one rule per service, and a decision then
    /// reads it without another pointer chase.
    first: Entry,
    rest: Box<[Entry]>,
    /// The purposes of all entries, for `PURPOSE_NOT_ALLOWED` messages: inline, so a denial
    /// touches no cold memory beyond what the lookup already did.
    pub(crate) all_purposes: PurposeSet,
}

impl ClientRules {
    fn new(agency: &str, mut entries: Vec<Entry>) -> Option<Self> {
        if entries.is_empty() {
            return None;
        }
        let first = entries.remove(0);
        let mut all_purposes = first.purpose_set;
        for entry in &entries {
            all_purposes.union_with(&entry.purpose_set);
        }
        Some(Self {
            agency: agency.into(),
            first,
            rest: entries.into_boxed_slice(),
            all_purposes,
        })
    }

    /// The agency's rules for the service, in policy order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        std::iter::once(&self.first).chain(self.rest.iter())
    }
}

/// One rule as it applies to one service and one agency.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) rule: usize,
    /// Purposes by registry index, for the decision.
    pub(crate) purpose_set: PurposeSet,
    /// The same purposes, for the directory and tools.
    pub(crate) purposes: Box<[Purpose]>,
    pub(crate) valid_from: i64,
    pub(crate) valid_until: i64,
    /// Data classes the mask releases, inline; `allow.released_classes` is built from it per
    /// decision rather than cloned from a cold heap buffer.
    pub(crate) classes: ClassSet,
    /// The decision returned on a match, with `purpose` and `released_classes` filled in per
    /// request.
    pub(crate) allow: Allow,
}

impl Entry {
    pub(crate) fn is_valid_at(&self, now_unix: i64) -> bool {
        self.valid_from <= now_unix && now_unix < self.valid_until
    }
}

/// What one agency may call: a rule as it applies to one service, for the directory.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// The service it allows.
    pub service: &'a ServiceEntry,
    /// The purposes it allows the service for.
    pub purposes: &'a [Purpose],
    /// The fields of the service's response it releases.
    pub fields: &'a FieldMask,
}

impl Policy {
    /// Compiles a policy against the schemas built into `tongdao-schemas`.
    pub fn compile(sources: &PolicySources) -> Result<Self, PolicyErrors> {
        Self::compile_with(sources, descriptors::pool())
    }

    /// Compiles a policy against another descriptor pool (one that includes
    /// `tongdao/v1/options.proto`), e.g. for schemas under test.
    pub fn compile_with(
        sources: &PolicySources,
        pool: &DescriptorPool,
    ) -> Result<Self, PolicyErrors> {
        let mut errors = Vec::new();
        for (name, _) in sources.iter() {
            let in_dir = |dir: &str| {
                name.strip_prefix(dir)
                    .is_some_and(|rest| rest.ends_with(".toml") && !rest.contains('/'))
            };
            let known = [AGENCIES, SERVICES, PURPOSES, ROLES].contains(&name)
                || in_dir(RULES_DIR)
                || in_dir(RECIPES_DIR);
            if !known {
                errors.push(PolicyError {
                    file: name.to_owned(),
                    line: None,
                    message: "not a policy file (expected agencies.toml, services.toml, \
                              purposes.toml, roles.toml, rules/*.toml or recipes/*.toml)"
                        .to_owned(),
                });
            }
        }

        let agencies = read_registry(sources, AGENCIES, true, &mut errors, |cx, text| {
            let registry = AgencyRegistry::read(cx, text);
            let usable = !registry.agencies().is_empty();
            (registry, usable)
        });
        let purposes = read_registry(sources, PURPOSES, true, &mut errors, |cx, text| {
            let registry = PurposeRegistry::read(cx, text);
            let usable = !registry.entries().is_empty();
            (registry, usable)
        });
        let services = read_registry(sources, SERVICES, true, &mut errors, |cx, text| {
            let registry = ServiceRegistry::read(cx, text, pool, agencies.usable());
            let usable = !registry.entries().is_empty();
            (registry, usable)
        });
        // No roles file means no roles; a rule naming one is then an error like any other.
        let roles = read_registry(sources, ROLES, false, &mut errors, |cx, text| {
            (RoleRegistry::read(cx, text, agencies.usable()), true)
        });

        let registries = Registries {
            agencies: agencies.usable(),
            purposes: purposes.usable(),
            services: services.usable(),
            roles: roles.usable(),
        };
        let mut masks = MaskCache::new();
        let mut checked: Vec<CheckedRule> = Vec::new();
        for (name, text) in sources.iter() {
            if !name.starts_with(RULES_DIR) {
                continue;
            }
            let mut cx = FileCx::new(name, text);
            checked.extend(read_rules(&mut cx, text, registries, &mut masks));
            errors.extend(cx.errors);
        }
        check_across_rules(&checked, &services.registry, &mut errors);

        // Recipes are checked against the rule index, so it is built before them (from the
        // rules that passed their checks); nothing is returned unless every file is clean.
        let (digest, version) = digest(sources);
        let version: Arc<str> = version.into();
        let index = build_index(&checked, &services.registry, &purposes.registry, &version);
        let context = crate::recipes::Context {
            registries,
            index: &index,
            rules: &checked,
            rules_ok: errors.is_empty(),
        };
        let recipes = compile_recipes(sources, &context, &mut errors);

        if !errors.is_empty() {
            return Err(PolicyErrors::new(errors));
        }
        let (rules, rule_agencies) = checked
            .into_iter()
            .map(|checked| (checked.rule, checked.agencies))
            .unzip();
        Ok(Self {
            version,
            digest,
            agencies: agencies.registry,
            purposes: purposes.registry,
            services: services.registry,
            roles: roles.registry,
            rules,
            rule_agencies,
            recipes,
            index,
        })
    }

    /// The policy version: the first 12 hex digits of [`Policy::digest`]. The same files
    /// always give the same version, on every replica.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// SHA-256 over every file's name and text (sorted by name, each length-prefixed), in hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The agency registry compiled with this policy.
    pub fn agencies(&self) -> &AgencyRegistry {
        &self.agencies
    }

    /// The purpose registry.
    pub fn purposes(&self) -> &PurposeRegistry {
        &self.purposes
    }

    /// The service registry.
    pub fn services(&self) -> &ServiceRegistry {
        &self.services
    }

    /// The role registry.
    pub fn roles(&self) -> &RoleRegistry {
        &self.roles
    }

    /// Every rule, ordered by file name and position in the file.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.id == id)
    }

    /// The agencies a rule grants to, roles expanded.
    pub fn rule_agencies(&self, rule_id: &str) -> &[String] {
        self.rules
            .iter()
            .position(|rule| rule.id == rule_id)
            .map_or(&[], |i| &self.rule_agencies[i])
    }

    /// What `agency_code` may call — services in registry order, rules in policy order —
    /// whatever the time (each rule says its own validity window).
    pub fn grants_for(&self, agency_code: &str) -> Vec<Grant<'_>> {
        let mut grants = Vec::new();
        for service in self.services.entries() {
            let Some(slot) = self.index.get(service.method.as_str()) else {
                continue;
            };
            let Some(client) = AgencyKey::new(agency_code).and_then(|k| slot.by_client.get(&k))
            else {
                continue;
            };
            for entry in client.entries() {
                grants.push(Grant {
                    rule: &self.rules[entry.rule],
                    service,
                    purposes: &entry.purposes,
                    fields: &entry.allow.fields,
                });
            }
        }
        grants
    }

    /// What a citizen may call for their own records (`citizen:self` rules), as
    /// [`Policy::grants_for`] lists an agency's.
    pub fn self_access_grants(&self) -> Vec<Grant<'_>> {
        self.grants_for(crate::rules::CITIZEN_SELF)
    }

    /// Every recipe, ordered by file name.
    pub fn recipes(&self) -> &[crate::recipes::Recipe] {
        &self.recipes
    }

    /// The recipe with this name.
    pub fn recipe(&self, name: &str) -> Option<&crate::recipes::Recipe> {
        self.recipes.iter().find(|recipe| recipe.name == name)
    }

    /// The recipes `agency_code` may run.
    pub fn recipes_for(&self, agency_code: &str) -> Vec<&crate::recipes::Recipe> {
        self.recipes
            .iter()
            .filter(|recipe| recipe.agencies.iter().any(|a| a == agency_code))
            .collect()
    }

    pub(crate) fn rule_at(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    pub(crate) fn rule_agencies_at(&self, index: usize) -> &[String] {
        &self.rule_agencies[index]
    }
}

/// A registry file as read: the registry (empty if missing) and whether other files may be
/// checked against it.
struct ReadRegistry<T> {
    registry: T,
    usable: bool,
}

impl<T> ReadRegistry<T> {
    fn usable(&self) -> Option<&T> {
        self.usable.then_some(&self.registry)
    }
}

fn read_registry<T: Default>(
    sources: &PolicySources,
    name: &str,
    required: bool,
    errors: &mut Vec<PolicyError>,
    read: impl FnOnce(&mut FileCx, &str) -> (T, bool),
) -> ReadRegistry<T> {
    let Some(text) = sources.get(name) else {
        if required {
            errors.push(PolicyError {
                file: name.to_owned(),
                line: None,
                message: "missing: every policy needs this registry".to_owned(),
            });
        }
        return ReadRegistry {
            registry: T::default(),
            usable: !required,
        };
    };
    let mut cx = FileCx::new(name, text);
    let (registry, usable) = read(&mut cx, text);
    // A registry that yielded nothing usable would make every reference to it an error;
    // its own errors say what is wrong.
    let usable = usable || !cx.has_errors();
    errors.extend(cx.errors);
    ReadRegistry { registry, usable }
}

/// Checks that need every rule: unique ids, and no two rules competing for the same request.
fn check_across_rules(
    rules: &[CheckedRule],
    services: &ServiceRegistry,
    errors: &mut Vec<PolicyError>,
) {
    let mut ids: HashMap<&str, &Rule> = HashMap::new();
    for checked in rules {
        let rule = &checked.rule;
        if let Some(first) = ids.get(rule.id.as_str()) {
            errors.push(PolicyError {
                file: rule.file.clone(),
                line: Some(rule.line),
                message: format!(
                    "duplicate rule id {:?} (first defined at {}:{})",
                    rule.id, first.file, first.line
                ),
            });
        } else {
            ids.insert(&rule.id, rule);
        }
    }

    // (agency, service, purpose) → rules already claiming it, with their windows.
    let mut claims: HashMap<(&str, usize, Purpose), Vec<usize>> = HashMap::new();
    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    for (index, checked) in rules.iter().enumerate() {
        let rule = &checked.rule;
        let citizens = rule
            .clients
            .contains(&crate::rules::Client::CitizenSelf)
            .then_some(crate::rules::CITIZEN_SELF);
        for agency in checked.agencies.iter().map(String::as_str).chain(citizens) {
            for (service, _) in &checked.services {
                for &purpose in &rule.purposes {
                    let claimants = claims.entry((agency, *service, purpose)).or_default();
                    for &other in claimants.iter() {
                        let earlier = &rules[other].rule;
                        if !windows_overlap(earlier, rule) || !reported.insert((other, index)) {
                            continue;
                        }
                        errors.push(PolicyError {
                            file: rule.file.clone(),
                            line: Some(rule.line),
                            message: format!(
                                "rule {:?} overlaps rule {:?} ({}:{}): both allow {agency} to \
                                 call {} for purpose {purpose}; give them disjoint validity \
                                 windows or merge them",
                                rule.id,
                                earlier.id,
                                earlier.file,
                                earlier.line,
                                services.entries()[*service].method
                            ),
                        });
                    }
                    claimants.push(index);
                }
            }
        }
    }
}

fn windows_overlap(a: &Rule, b: &Rule) -> bool {
    let (a_from, a_until) = window(a);
    let (b_from, b_until) = window(b);
    a_from < b_until && b_from < a_until
}

fn window(rule: &Rule) -> (i64, i64) {
    (
        rule.valid_from.unwrap_or(i64::MIN),
        rule.valid_until.unwrap_or(i64::MAX),
    )
}

fn build_index(
    rules: &[CheckedRule],
    services: &ServiceRegistry,
    purposes: &PurposeRegistry,
    version: &Arc<str>,
) -> FastMap<Box<str>, Slot> {
    let mut by_service: Vec<HashMap<&str, Vec<Entry>>> = (0..services.entries().len())
        .map(|_| HashMap::new())
        .collect();
    for (index, checked) in rules.iter().enumerate() {
        let rule = &checked.rule;
        let rule_id: Arc<str> = rule.id.as_str().into();
        let purpose_list: Box<[Purpose]> = rule.purposes.clone().into();
        let mut purpose_set = PurposeSet::default();
        for &purpose in &rule.purposes {
            if let Some(index) = purposes.index_of(purpose) {
                purpose_set.insert(index);
            }
        }
        let (valid_from, valid_until) = window(rule);
        for (service, mask) in &checked.services {
            let allow = Allow {
                rule_id: Arc::clone(&rule_id),
                policy_version: Arc::clone(version),
                purpose: None,
                fields: Arc::clone(mask),
                consent_required: rule.consent_required,
                legal_basis: rule.legal_basis,
                special_basis: rule.special_basis,
                released_classes: Vec::new(),
                quota: rule.quota,
                deferred_disclosure_days: rule.deferred_disclosure_days,
            };
            let citizens = rule
                .clients
                .contains(&crate::rules::Client::CitizenSelf)
                .then_some(crate::rules::CITIZEN_SELF);
            for agency in checked.agencies.iter().map(String::as_str).chain(citizens) {
                by_service[*service].entry(agency).or_default().push(Entry {
                    rule: index,
                    purpose_set,
                    purposes: purpose_list.clone(),
                    classes: ClassSet::from_classes(mask.released_classes()),
                    valid_from,
                    valid_until,
                    allow: allow.clone(),
                });
            }
        }
    }
    services
        .entries()
        .iter()
        .zip(by_service)
        .map(|(service, by_client)| {
            let slot = Slot {
                personal: service.carries_personal_data(),
                by_client: by_client
                    .into_iter()
                    .filter_map(|(agency, entries)| {
                        Some((AgencyKey::new(agency)?, ClientRules::new(agency, entries)?))
                    })
                    .collect(),
            };
            (service.method.as_str().into(), slot)
        })
        .collect()
}

/// SHA-256 over the sources and the short version derived from it.
fn digest(sources: &PolicySources) -> (String, String) {
    let mut hasher = Sha256::new();
    for (name, text) in sources.iter() {
        // Length prefixes keep file boundaries unambiguous.
        hasher.update(&(name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update(&(text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
    }
    let digest = hex(&hasher.finish());
    let version = digest[..12].to_owned();
    (digest, version)
}

#[cfg(test)]
mod tests;
