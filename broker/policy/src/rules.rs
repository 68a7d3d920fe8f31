//! Rules: who may call which services, for which purposes, receiving which fields, on which
//! legal basis. Default deny: a request no rule allows is refused.
//!
//! A rule file holds `[[rule]]` tables. Each is read strictly (unknown keys are errors) and
//! checked against the registries; every problem is reported with its line.
//!
//! `clients` names agency codes, roles (`role:<name>`) or `citizen:self`: citizens reading their
//! own records with their citizen certificate (`rules/self_access.toml`). A `citizen:self` rule
//! grants to nobody else, names only purposes marked `self_access` in `purposes.toml` and only
//! services whose request names a person by national ID, and has neither consent (the caller is
//! the subject) nor a quota (quotas count per client). The broker, not the policy, checks that
//! the subject is the caller (`IDENTITY_MISMATCH`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use tongdao_schemas::descriptors;
use tongdao_schemas::v1::SubjectKind;

use crate::codes::Purpose;
use crate::mask::{FieldMask, redundant_paths};
use crate::purposes::PurposeRegistry;
use crate::registry::AgencyRegistry;
use crate::roles::RoleRegistry;
use crate::services::ServiceRegistry;
use crate::toml_read::{FileCx, Table, format_instant, parse_document};

/// Who a rule grants to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Client {
    /// One agency, by code.
    Agency(String),
    /// Every agency holding a role (`role:<name>` in a rule file).
    Role(String),
    /// `citizen:self`: a citizen reading their own records with a citizen certificate. The
    /// broker lets such a call through only when the request's subject is the caller's own
    /// national ID (`IDENTITY_MISMATCH` otherwise); the rule may name only purposes marked
    /// `self_access` in `purposes.toml` and services whose subject is a national ID.
    CitizenSelf,
}

/// How `citizen:self` is written in rule files, and the key its rules have in the index.
pub(crate) const CITIZEN_SELF: &str = "citizen:self";

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Agency(code) => f.write_str(code),
            Self::Role(name) => write!(f, "role:{name}"),
            Self::CitizenSelf => f.write_str(CITIZEN_SELF),
        }
    }
}

/// The PDPA ground on which an agency uses personal data: §15 for collection, §16 for use
/// outside the original purpose. Identifiers as written in rule files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegalBasis {
    /// `duty`: within the agency's statutory duties (執行法定職務必要範圍內, §15(1) / §16).
    Duty,
    /// `consent`: the subject's consent (經當事人同意, §15(2) / §16(7)).
    Consent,
    /// `no_harm`: no harm to the subject's rights (對當事人權益無侵害, §15(3)).
    NoHarm,
    /// `law`: expressly provided by law (法律明文規定, §16(1)).
    Law,
    /// `public_interest`: national security or public interest (§16(2)).
    PublicInterest,
    /// `danger_to_life`: to avert danger to the subject's life, body, freedom or property
    /// (§16(3)).
    DangerToLife,
    /// `preventing_harm`: to prevent serious harm to others' rights (§16(4)).
    PreventingHarm,
    /// `statistics_research`: statistics or research in the public interest, de-identified
    /// (§16(5)).
    StatisticsResearch,
    /// `subject_benefit`: in the subject's interest (有利於當事人權益, §16(6)).
    SubjectBenefit,
}

impl LegalBasis {
    const ALL: [(&'static str, Self); 9] = [
        ("duty", Self::Duty),
        ("consent", Self::Consent),
        ("no_harm", Self::NoHarm),
        ("law", Self::Law),
        ("public_interest", Self::PublicInterest),
        ("danger_to_life", Self::DangerToLife),
        ("preventing_harm", Self::PreventingHarm),
        ("statistics_research", Self::StatisticsResearch),
        ("subject_benefit", Self::SubjectBenefit),
    ];

    /// The identifier used in rule files, e.g. `duty`.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, basis)| *basis == self)
            .map_or("duty", |(name, _)| name)
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, basis)| *basis)
    }
}

impl fmt::Display for LegalBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The PDPA §6 ¶1 ground that allows special-category data (health, genetics, sex life, health
/// checks, criminal records) to be used. Identifiers as written in rule files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialBasis {
    /// `law`: expressly provided by law (§6 ¶1 (1)).
    Law,
    /// `duty`: necessary for the agency's statutory duty, with security measures (§6 ¶1 (2)).
    Duty,
    /// `made_public`: made public by the subject or lawfully public (§6 ¶1 (3)).
    MadePublic,
    /// `research`: medical, health or crime-prevention statistics or research, de-identified
    /// (§6 ¶1 (4)).
    Research,
    /// `assist_duty`: necessary to assist an agency's statutory duty, with security measures
    /// (§6 ¶1 (5)).
    AssistDuty,
    /// `consent`: the subject's written consent (§6 ¶1 (6)).
    Consent,
}

impl SpecialBasis {
    const ALL: [(&'static str, Self); 6] = [
        ("law", Self::Law),
        ("duty", Self::Duty),
        ("made_public", Self::MadePublic),
        ("research", Self::Research),
        ("assist_duty", Self::AssistDuty),
        ("consent", Self::Consent),
    ];

    /// The identifier used in rule files, e.g. `law`.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, basis)| *basis == self)
            .map_or("law", |(name, _)| name)
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, basis)| *basis)
    }
}

impl fmt::Display for SpecialBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rate limit: at most `requests` calls per window of `per_seconds`, per rule and client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Calls allowed per window.
    pub requests: u32,
    /// Window length in seconds (86400 = one day).
    pub per_seconds: u32,
}

/// One rule, as written (roles not yet expanded).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id, reported with every decision and in the audit log.
    pub id: String,
    /// What the rule is for.
    pub description: Option<String>,
    /// The rule file, e.g. `rules/tax.toml`.
    pub file: String,
    /// Line of the rule's `id`.
    pub line: u32,
    /// Agencies and roles the rule grants to.
    pub clients: Vec<Client>,
    /// Full method paths.
    pub services: Vec<String>,
    /// Purposes the rule allows.
    pub purposes: Vec<Purpose>,
    /// Released response fields, as written.
    pub fields: Vec<String>,
    /// The §15/§16 basis.
    pub legal_basis: LegalBasis,
    /// The statute or authority relied on, e.g. 稅捐稽徵法第30條.
    pub citation: Option<String>,
    /// The §6 ground; required when a special-category field is released.
    pub special_basis: Option<SpecialBasis>,
    /// Whether each call must carry the subject's consent.
    pub consent_required: bool,
    /// Start of validity (Unix seconds, inclusive).
    pub valid_from: Option<i64>,
    /// End of validity (Unix seconds, exclusive).
    pub valid_until: Option<i64>,
    /// Rate limit per client.
    pub quota: Option<Quota>,
    /// Days the subject's view of these accesses is deferred (e.g. during an investigation).
    pub deferred_disclosure_days: Option<u32>,
}

impl Rule {
    /// Whether the rule is in force at `now_unix`.
    pub fn is_valid_at(&self, now_unix: i64) -> bool {
        self.valid_from.is_none_or(|from| now_unix >= from)
            && self.valid_until.is_none_or(|until| now_unix < until)
    }

    /// The validity window in words, e.g. `from 2025-01-01T00:00:00+08:00`; empty if unbounded.
    pub fn window_text(&self) -> String {
        match (self.valid_from, self.valid_until) {
            (None, None) => String::new(),
            (Some(from), None) => format!("from {}", format_instant(from)),
            (None, Some(until)) => format!("until {}", format_instant(until)),
            (Some(from), Some(until)) => {
                format!(
                    "from {} until {}",
                    format_instant(from),
                    format_instant(until)
                )
            }
        }
    }
}

/// The registries a rule is checked against; `None` where a registry file was unusable, so
/// its failure is not repeated as an "unknown …" error in every rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registries<'a> {
    pub(crate) agencies: Option<&'a AgencyRegistry>,
    pub(crate) purposes: Option<&'a PurposeRegistry>,
    pub(crate) services: Option<&'a ServiceRegistry>,
    pub(crate) roles: Option<&'a RoleRegistry>,
}

/// Masks shared between rules that release the same fields of the same service.
pub(crate) type MaskCache = HashMap<(usize, Vec<String>), Arc<FieldMask>>;

/// A rule that passed its own checks, with roles expanded and masks compiled.
#[derive(Debug)]
pub(crate) struct CheckedRule {
    pub(crate) rule: Rule,
    /// Agencies the rule grants to, roles expanded, in order of first mention.
    pub(crate) agencies: Vec<String>,
    /// Index into the service registry and the mask for that service's output, per service.
    pub(crate) services: Vec<(usize, Arc<FieldMask>)>,
}

const RULE_KEYS: [&str; 14] = [
    "id",
    "description",
    "clients",
    "services",
    "purposes",
    "fields",
    "legal_basis",
    "citation",
    "special_basis",
    "consent_required",
    "valid_from",
    "valid_until",
    "quota",
    "deferred_disclosure_days",
];

/// Reads one rule file. Rules with problems are reported to `cx` and left out.
pub(crate) fn read_rules(
    cx: &mut FileCx,
    text: &str,
    registries: Registries<'_>,
    masks: &mut MaskCache,
) -> Vec<CheckedRule> {
    let Some(root) = parse_document(cx, text) else {
        return Vec::new();
    };
    let root = Table::root(cx, &root, "rule file", &["rule"]);
    let mut rules = Vec::new();
    for table in root.tables(cx, "rule", "rule", &RULE_KEYS) {
        let before = cx.errors.len();
        let rule = read_rule(cx, &table, registries, masks);
        if cx.errors.len() == before {
            rules.extend(rule);
        }
    }
    rules
}

fn read_rule(
    cx: &mut FileCx,
    table: &Table<'_, '_>,
    registries: Registries<'_>,
    masks: &mut MaskCache,
) -> Option<CheckedRule> {
    let id = table.req_str(cx, "id");
    let description = table.opt_str(cx, "description");
    let clients = table.req_str_list(cx, "clients");
    let services = table.req_str_list(cx, "services");
    let purposes = table.req_str_list(cx, "purposes");
    let fields = table.req_str_list(cx, "fields");
    let legal_basis = table.req_str(cx, "legal_basis");
    let citation = table.opt_str(cx, "citation");
    let special_basis = table.opt_str(cx, "special_basis");
    let consent_required = table.req_bool(cx, "consent_required");
    let valid_from = table.opt_instant(cx, "valid_from");
    let valid_until = table.opt_instant(cx, "valid_until");
    let deferred = table.opt_uint(cx, "deferred_disclosure_days");
    let quota = read_quota(cx, table);

    let header = table.header_span();
    let line = id
        .as_ref()
        .map_or_else(|| cx.line(header.start), |id| cx.line(id.span().start));
    if let Some(id) = &id
        && !is_rule_id(id.get_ref())
    {
        cx.error(
            &id.span(),
            format!(
                "rule id {:?} must be lowercase letters, digits, `-`, `_` or `.`",
                id.get_ref()
            ),
        );
    }

    // Clients, roles expanded.
    let mut parsed_clients = Vec::new();
    let mut agencies: Vec<String> = Vec::new();
    for client in clients.iter().flatten() {
        let text = *client.get_ref();
        if let Some(who) = text.strip_prefix("citizen:") {
            if who != "self" {
                cx.error(
                    &client.span(),
                    format!(
                        "unknown citizen client {text:?}: citizens can only be granted access \
                         to their own records, written citizen:self"
                    ),
                );
                continue;
            }
            if parsed_clients.contains(&Client::CitizenSelf) {
                cx.error(&client.span(), "client citizen:self is listed twice");
            } else {
                parsed_clients.push(Client::CitizenSelf);
            }
            continue;
        }
        read_agency_client(cx, client, registries, &mut parsed_clients, &mut agencies);
    }
    if clients.as_ref().is_some_and(Vec::is_empty) {
        cx.error(
            &header,
            "`clients` is empty: the rule would grant to nobody",
        );
    }

    // Self-access: citizens acting for themselves, nobody else in the same rule.
    let self_access = parsed_clients.contains(&Client::CitizenSelf);
    if self_access && parsed_clients.len() > 1 {
        let span = table.get("clients").map_or(header.clone(), |v| v.span());
        cx.error(
            &span,
            "citizen:self cannot share a rule with agencies or roles: a self-access rule \
             grants citizens their own records only; write the agencies' rule separately",
        );
    }
    if self_access && consent_required == Some(true) {
        let span = table
            .get("consent_required")
            .map_or(header.clone(), |v| v.span());
        cx.error(
            &span,
            "a citizen:self rule cannot require consent: the caller is the data subject",
        );
    }
    if self_access && let Some(value) = table.get("quota") {
        cx.error(
            &value.span(),
            "a citizen:self rule cannot have a quota: quotas count per client, and every \
             citizen would share one",
        );
    }

    // Purposes.
    let mut parsed_purposes = Vec::new();
    for purpose in purposes.iter().flatten() {
        let Some(registry) = registries.purposes else {
            break;
        };
        match registry.resolve(purpose.get_ref()) {
            Some(entry) if parsed_purposes.contains(&entry.code) => cx.error(
                &purpose.span(),
                format!("purpose {} is listed twice", entry.code),
            ),
            Some(entry) => {
                if self_access && !entry.self_access {
                    cx.error(
                        &purpose.span(),
                        format!(
                            "purpose {} is not a self-access purpose: a citizen:self rule may \
                             name only purposes marked `self_access = true` in purposes.toml",
                            entry.code
                        ),
                    );
                }
                parsed_purposes.push(entry.code);
            }
            None => cx.error(
                &purpose.span(),
                format!(
                    "unknown purpose {:?} (not in purposes.toml)",
                    purpose.get_ref()
                ),
            ),
        }
    }
    if purposes.as_ref().is_some_and(Vec::is_empty) {
        cx.error(
            &header,
            "`purposes` is empty: every rule is bound to a purpose",
        );
    }

    // Legal basis and §6 ground.
    let legal_basis = legal_basis.and_then(|basis| {
        let parsed = LegalBasis::parse(basis.get_ref());
        if parsed.is_none() {
            let names: Vec<_> = LegalBasis::ALL.iter().map(|(n, _)| *n).collect();
            cx.error(
                &basis.span(),
                format!(
                    "unknown legal_basis {:?} (one of: {})",
                    basis.get_ref(),
                    names.join(", ")
                ),
            );
        }
        parsed
    });
    let special_basis = match special_basis {
        Some(basis) => {
            let parsed = SpecialBasis::parse(basis.get_ref());
            if parsed.is_none() {
                let names: Vec<_> = SpecialBasis::ALL.iter().map(|(n, _)| *n).collect();
                cx.error(
                    &basis.span(),
                    format!(
                        "unknown special_basis {:?} (a §6 ground, one of: {})",
                        basis.get_ref(),
                        names.join(", ")
                    ),
                );
            }
            parsed
        }
        None => None,
    };
    if let Some(consent_required) = consent_required {
        let consent_basis = legal_basis == Some(LegalBasis::Consent)
            || special_basis == Some(SpecialBasis::Consent);
        if consent_basis && !consent_required {
            let span = table
                .get("consent_required")
                .map_or(header.clone(), |v| v.span());
            cx.error(
                &span,
                "the rule relies on consent, so `consent_required` must be true",
            );
        }
    }

    // Window, quota, deferral.
    if let (Some(from), Some(until)) = (&valid_from, &valid_until)
        && from.get_ref() >= until.get_ref()
    {
        cx.error(
            &until.span(),
            "`valid_until` must be later than `valid_from`",
        );
    }
    let deferred = deferred.and_then(|days| match u32::try_from(*days.get_ref()) {
        Ok(days) => Some(days),
        Err(_) => {
            cx.error(&days.span(), "`deferred_disclosure_days` is too large");
            None
        }
    });

    // Services and their masks.
    let mut checked_services = Vec::new();
    let field_list: Vec<&str> = fields.iter().flatten().map(|f| *f.get_ref()).collect();
    if let Some(fields) = &fields {
        if fields.is_empty() {
            cx.error(&header, "`fields` is empty: the rule would release nothing");
        }
        for (index, cover) in redundant_paths(&field_list) {
            cx.error(
                &fields[index].span(),
                format!(
                    "field {:?} is already released by {:?}",
                    field_list[index], field_list[cover]
                ),
            );
        }
    }
    let mut special_fields = Vec::new();
    for service in services.iter().flatten() {
        let Some(registry) = registries.services else {
            break;
        };
        let Some(index) = registry.index_of(service.get_ref()) else {
            cx.error(
                &service.span(),
                format!(
                    "unknown service {:?} (not in services.toml)",
                    service.get_ref()
                ),
            );
            continue;
        };
        if self_access
            && descriptors::subject_field(&registry.entries()[index].descriptor().input())
                .is_none_or(|(_, kind)| kind != SubjectKind::NationalId)
        {
            cx.error(
                &service.span(),
                format!(
                    "{} does not name a person by national ID, so a citizen:self rule cannot \
                     allow it (the broker checks the subject against the citizen's certificate)",
                    service.get_ref()
                ),
            );
            continue;
        }
        if checked_services.iter().any(|(i, _)| *i == index) {
            cx.error(
                &service.span(),
                format!("service {} is listed twice", service.get_ref()),
            );
            continue;
        }
        let Some(fields) = &fields else { continue };
        let entry = &registry.entries()[index];
        let mut key_paths: Vec<String> = field_list.iter().map(|f| (*f).to_owned()).collect();
        key_paths.sort();
        let mask = match masks.get(&(index, key_paths.clone())) {
            Some(mask) => Arc::clone(mask),
            None => match FieldMask::compile(&entry.output(), &field_list) {
                Ok(mask) => {
                    let mask = Arc::new(mask);
                    masks.insert((index, key_paths), Arc::clone(&mask));
                    mask
                }
                Err(errors) => {
                    for error in errors {
                        let at = if services.as_ref().is_some_and(|s| s.len() > 1) {
                            format!(" (in the response of {})", entry.method)
                        } else {
                            String::new()
                        };
                        cx.error(
                            &fields[error.index].span(),
                            format!("unknown field {:?}: {}{at}", error.path, error.message),
                        );
                    }
                    continue;
                }
            },
        };
        for leaf in mask.leaves() {
            if leaf.released
                && leaf.class.is_some_and(descriptors::is_special_category)
                && !special_fields.contains(&leaf.path)
            {
                special_fields.push(leaf.path);
            }
        }
        checked_services.push((index, mask));
    }
    if services.as_ref().is_some_and(Vec::is_empty) {
        cx.error(&header, "`services` is empty: the rule would allow nothing");
    }
    if !special_fields.is_empty() && special_basis.is_none() && fields.is_some() {
        let span = table.get("fields").map_or(header.clone(), |v| v.span());
        let shown: Vec<_> = special_fields.iter().take(3).map(String::as_str).collect();
        let more = if special_fields.len() > 3 {
            ", …"
        } else {
            ""
        };
        cx.error(
            &span,
            format!(
                "releases §6 special-category data ({}{more}) without `special_basis` naming \
                 the §6 ground (law, duty, made_public, research, assist_duty, consent)",
                shown.join(", ")
            ),
        );
    }

    Some(CheckedRule {
        rule: Rule {
            id: (*id?.get_ref()).to_owned(),
            description: description.map(|d| (*d.get_ref()).to_owned()),
            file: cx.name.clone(),
            line,
            clients: parsed_clients,
            services: services?
                .iter()
                .map(|s| (*s.get_ref()).to_owned())
                .collect(),
            purposes: parsed_purposes,
            fields: field_list.iter().map(|f| (*f).to_owned()).collect(),
            legal_basis: legal_basis?,
            citation: citation.map(|c| (*c.get_ref()).to_owned()),
            special_basis,
            consent_required: consent_required?,
            valid_from: valid_from.map(|v| *v.get_ref()),
            valid_until: valid_until.map(|v| *v.get_ref()),
            quota,
            deferred_disclosure_days: deferred,
        },
        agencies,
        services: checked_services,
    })
}

fn read_quota(cx: &mut FileCx, table: &Table<'_, '_>) -> Option<Quota> {
    let quota = table.sub_table(cx, "quota", "quota", &["requests", "per_seconds"])?;
    let requests = quota.req_uint(cx, "requests");
    let per_seconds = quota.req_uint(cx, "per_seconds");
    let mut positive = |value: Option<toml::Spanned<u64>>, key: &str| {
        let value = value?;
        match u32::try_from(*value.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                cx.error(
                    &value.span(),
                    format!("quota `{key}` must be between 1 and {}", u32::MAX),
                );
                None
            }
        }
    };
    let requests = positive(requests, "requests");
    let per_seconds = positive(per_seconds, "per_seconds");
    Some(Quota {
        requests: requests?,
        per_seconds: per_seconds?,
    })
}

fn is_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// Reads one client naming an agency code or `role:<name>` (the `citizen:` forms are the
/// caller's business): reports an unknown agency or role and a client listed twice, adds it to
/// `clients`, and the agencies it names — roles expanded, in order of first mention — to
/// `agencies`. Rules and recipes name their clients the same way.
pub(crate) fn read_agency_client(
    cx: &mut FileCx,
    client: &toml::Spanned<&str>,
    registries: Registries<'_>,
    clients: &mut Vec<Client>,
    agencies: &mut Vec<String>,
) {
    let text = *client.get_ref();
    let parsed = match text.strip_prefix("role:") {
        Some(role) => {
            if let Some(roles) = registries.roles {
                match roles.get(role) {
                    Some(entry) => {
                        for agency in &entry.agencies {
                            if !agencies.contains(agency) {
                                agencies.push(agency.clone());
                            }
                        }
                    }
                    None => cx.error(
                        &client.span(),
                        format!("unknown role {role:?} (not in roles.toml)"),
                    ),
                }
            }
            Client::Role(role.to_owned())
        }
        None => {
            if registries
                .agencies
                .is_some_and(|a| a.by_code(text).is_none())
            {
                cx.error(
                    &client.span(),
                    format!(
                        "unknown agency {text:?} (not in agencies.toml; roles are written role:<name>)"
                    ),
                );
            } else if !agencies.iter().any(|a| a == text) {
                agencies.push(text.to_owned());
            }
            Client::Agency(text.to_owned())
        }
    };
    if clients.contains(&parsed) {
        cx.error(&client.span(), format!("client {parsed} is listed twice"));
    } else {
        clients.push(parsed);
    }
}
