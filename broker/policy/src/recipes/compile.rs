//! Reading and checking recipe files (`recipes/*.toml`), after the rules: a recipe is checked
//! against the rule index, so that it can never ask for more than every client's rules allow.
//! Every problem is reported with its file and line, and reading carries on.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Value};
use toml::Spanned;
use toml::de::DeValue;
use tongdao_schemas::descriptors;

use super::plan::{ForEach, RequestPlan, Setter, Source, int_value, is_integer};
use super::{InputKind, Leg, RECIPES_DIR, Recipe, RecipeInput};
use crate::codes::Purpose;
use crate::error::PolicyError;
use crate::index::{AgencyKey, FastMap};
use crate::mask::{FieldMask, redundant_paths};
use crate::policy::Slot;
use crate::rules::{CheckedRule, Client, Registries, read_agency_client};
use crate::services::ServiceEntry;
use crate::sources::PolicySources;
use crate::toml_read::{FileCx, Span, Table, parse_document, type_name};

const RECIPE_KEYS: [&str; 8] = [
    "name",
    "title",
    "description",
    "purpose",
    "clients",
    "consent",
    "input",
    "leg",
];
const INPUT_KEYS: [&str; 3] = ["name", "kind", "description"];
const LEG_KEYS: [&str; 8] = [
    "name",
    "service",
    "fields",
    "timeout_ms",
    "request",
    "for_each",
    "skip_if",
    "max_calls",
];
const DEFAULT_MAX_CALLS: u64 = 50;
const MAX_CALLS_LIMIT: u64 = 500;
const TIMEOUT_MS_LIMIT: u64 = 60_000;

/// What recipes are checked against.
pub(crate) struct Context<'a> {
    pub(crate) registries: Registries<'a>,
    pub(crate) index: &'a FastMap<Box<str>, Slot>,
    pub(crate) rules: &'a [CheckedRule],
    /// False when a rule file had problems: its rules are missing from the index, and "no
    /// rule allows" errors would only repeat them.
    pub(crate) rules_ok: bool,
}

/// Reads every `recipes/*.toml` of `sources`; problems go to `errors`.
pub(crate) fn compile_recipes(
    sources: &PolicySources,
    context: &Context<'_>,
    errors: &mut Vec<PolicyError>,
) -> Vec<Recipe> {
    let mut recipes = Vec::new();
    // Recipe name → where it was first defined.
    let mut names: HashMap<String, (String, u32)> = HashMap::new();
    for (file, text) in sources.iter() {
        if !file.starts_with(RECIPES_DIR) {
            continue;
        }
        let mut cx = FileCx::new(file, text);
        if let Some(recipe) = read_recipe(&mut cx, text, context, &mut names) {
            recipes.push(recipe);
        }
        errors.extend(cx.errors);
    }
    recipes
}

/// One input as declared, with where its name is.
struct InputDef {
    input: RecipeInput,
    span: Span,
    used: bool,
}

/// What the recipe says about itself, needed by every leg.
struct Head {
    purpose: Option<Purpose>,
    agencies: Vec<String>,
    consent: Option<String>,
}

/// A leg as read before its request: what other legs' references are checked against.
struct LegHead<'t, 'i, 'r> {
    name: String,
    line: u32,
    table: Table<'t, 'i>,
    service: Option<&'r ServiceEntry>,
    mask: Option<Arc<FieldMask>>,
    timeout: Option<Duration>,
    max_calls: usize,
    /// Whether the leg has `for_each` (then its answers cannot be read by other legs).
    fans_out: bool,
    /// A rule of some client requiring the subject's consent for this leg.
    consent_rule: Option<String>,
}

fn read_recipe(
    cx: &mut FileCx,
    text: &str,
    context: &Context<'_>,
    names: &mut HashMap<String, (String, u32)>,
) -> Option<Recipe> {
    let before = cx.errors.len();
    let root = parse_document(cx, text)?;
    let root = Table::root(cx, &root, "recipe", &RECIPE_KEYS);
    let name = root.req_str(cx, "name");
    let title = root.req_str(cx, "title");
    let description = root.opt_str(cx, "description");
    let line = name.as_ref().map_or(1, |n| cx.line(n.span().start));
    if let Some(name) = &name {
        check_recipe_name(cx, name, names, line);
    }
    if let Some(title) = &title
        && title.get_ref().trim().is_empty()
    {
        cx.error(&title.span(), "`title` is empty");
    }
    let purpose = read_purpose(cx, &root, context.registries);
    let (clients, agencies) = read_clients(cx, &root, context.registries);
    let mut inputs = read_inputs(cx, &root);
    let consent = read_consent(cx, &root, &inputs);
    let head = Head {
        purpose,
        agencies,
        consent,
    };

    let tables = root.tables(cx, "leg", "leg", &LEG_KEYS);
    if tables.is_empty() && root.get("leg").is_none() {
        cx.error(&(0..0), "recipe has no [[leg]]: it would call nothing");
    }
    let heads = read_leg_heads(cx, tables, context, &head);
    let legs = read_leg_requests(cx, &heads, &mut inputs, &head);
    check_cycles(cx, &heads, &legs);
    // A leg whose service is unknown was not read further, so its inputs look unused.
    let all_read = heads.iter().all(|h| h.service.is_some());
    for input in &inputs {
        if all_read && !input.used {
            cx.error(
                &input.span,
                format!(
                    "input `{}` is not used by any leg (a typo in a `$input.` reference?)",
                    input.input.name
                ),
            );
        }
    }

    if cx.errors.len() != before {
        return None;
    }
    Some(Recipe {
        name: (*name?.get_ref()).to_owned(),
        title: (*title?.get_ref()).to_owned(),
        description: description.map(|d| (*d.get_ref()).to_owned()),
        file: cx.name.clone(),
        line,
        clients,
        agencies: head.agencies,
        purpose: head.purpose?,
        consent_subject: head.consent,
        inputs: inputs.into_iter().map(|i| i.input).collect(),
        legs: legs.into_iter().collect::<Option<Vec<Leg>>>()?,
    })
}

fn check_recipe_name(
    cx: &mut FileCx,
    name: &Spanned<&str>,
    names: &mut HashMap<String, (String, u32)>,
    line: u32,
) {
    let text = *name.get_ref();
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        cx.error(
            &name.span(),
            format!("recipe name {text:?} must be lowercase letters, digits and `-`"),
        );
    }
    if let Some((file, first)) = names.get(text) {
        cx.error(
            &name.span(),
            format!("duplicate recipe name {text:?} (first defined at {file}:{first})"),
        );
    } else {
        names.insert(text.to_owned(), (cx.name.clone(), line));
    }
}

fn read_purpose(
    cx: &mut FileCx,
    root: &Table<'_, '_>,
    registries: Registries<'_>,
) -> Option<Purpose> {
    let purpose = root.req_str(cx, "purpose")?;
    let registry = registries.purposes?;
    match registry.resolve(purpose.get_ref()) {
        Some(entry) => Some(entry.code),
        None => {
            cx.error(
                &purpose.span(),
                format!(
                    "unknown purpose {:?} (not in purposes.toml)",
                    purpose.get_ref()
                ),
            );
            None
        }
    }
}

/// The clients as written and the agencies they name, roles expanded.
fn read_clients(
    cx: &mut FileCx,
    root: &Table<'_, '_>,
    registries: Registries<'_>,
) -> (Vec<Client>, Vec<String>) {
    let mut clients = Vec::new();
    let mut agencies: Vec<String> = Vec::new();
    let Some(list) = root.req_str_list(cx, "clients") else {
        return (clients, agencies);
    };
    if list.is_empty() {
        let span = root.get("clients").map_or(0..0, |v| v.span());
        cx.error(&span, "`clients` is empty: nobody could run the recipe");
    }
    for client in &list {
        let text = *client.get_ref();
        if text.starts_with("citizen:") {
            cx.error(
                &client.span(),
                format!(
                    "{text:?} cannot run a recipe: recipes are run by agencies (agency codes \
                     or role:<name>)"
                ),
            );
            continue;
        }
        read_agency_client(cx, client, registries, &mut clients, &mut agencies);
    }
    (clients, agencies)
}

fn read_inputs(cx: &mut FileCx, root: &Table<'_, '_>) -> Vec<InputDef> {
    let mut inputs: Vec<InputDef> = Vec::new();
    for table in root.tables(cx, "input", "input", &INPUT_KEYS) {
        let name = table.req_str(cx, "name");
        let kind = table.req_str(cx, "kind");
        let description = table.opt_str(cx, "description");
        let kind = kind.and_then(|kind| {
            let parsed = parse_kind(kind.get_ref());
            if parsed.is_none() {
                cx.error(
                    &kind.span(),
                    format!(
                        "unknown input kind {:?} (one of: national_id, business_number, \
                         roc_year, text)",
                        kind.get_ref()
                    ),
                );
            }
            parsed
        });
        let Some(name) = name else { continue };
        if !is_identifier(name.get_ref()) {
            cx.error(
                &name.span(),
                format!(
                    "input name {:?} must be a lowercase letter or `_` followed by lowercase \
                     letters, digits or `_`",
                    name.get_ref()
                ),
            );
        }
        if inputs.iter().any(|i| i.input.name == *name.get_ref()) {
            cx.error(
                &name.span(),
                format!("input `{}` is declared twice", name.get_ref()),
            );
            continue;
        }
        let Some(kind) = kind else { continue };
        inputs.push(InputDef {
            input: RecipeInput {
                name: (*name.get_ref()).to_owned(),
                kind,
                description: description.map(|d| (*d.get_ref()).to_owned()),
            },
            span: name.span(),
            used: false,
        });
    }
    inputs
}

fn parse_kind(text: &str) -> Option<InputKind> {
    [
        InputKind::NationalId,
        InputKind::BusinessNumber,
        InputKind::RocYear,
        InputKind::Text,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == text)
}

fn read_consent(cx: &mut FileCx, root: &Table<'_, '_>, inputs: &[InputDef]) -> Option<String> {
    let consent = root.opt_str(cx, "consent")?;
    let name = *consent.get_ref();
    match inputs.iter().find(|i| i.input.name == name) {
        None => {
            cx.error(
                &consent.span(),
                format!("`consent` names {name:?}, which is not a declared input"),
            );
            None
        }
        Some(input) if input.input.kind != InputKind::NationalId => {
            cx.error(
                &consent.span(),
                format!(
                    "`consent` names input `{name}` of kind {}: consent is a person's, so it \
                     must be of kind national_id",
                    input.input.kind.as_str()
                ),
            );
            None
        }
        Some(_) => Some(name.to_owned()),
    }
}

/// `[a-z_][a-z0-9_]*`.
fn is_identifier(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn read_leg_heads<'t, 'i, 'r>(
    cx: &mut FileCx,
    tables: Vec<Table<'t, 'i>>,
    context: &Context<'r>,
    head: &Head,
) -> Vec<LegHead<'t, 'i, 'r>> {
    let mut heads: Vec<LegHead<'t, 'i, 'r>> = Vec::new();
    for table in tables {
        let name = table.req_str(cx, "name");
        let line = name.as_ref().map_or_else(
            || cx.line(table.header_span().start),
            |n| cx.line(n.span().start),
        );
        let name_text = name
            .as_ref()
            .map_or(String::new(), |n| (*n.get_ref()).to_owned());
        if let Some(name) = &name {
            check_leg_name(cx, name, &heads);
        }
        let service = read_service(cx, &table, context);
        let fields = read_fields(cx, &table, service);
        let consent_rule = match (service, &fields) {
            (Some(service), Some((_, list))) => {
                check_rules(cx, &table, context, head, service, list)
            }
            _ => None,
        };
        let timeout = table.req_uint(cx, "timeout_ms").and_then(|ms| {
            if (1..=TIMEOUT_MS_LIMIT).contains(ms.get_ref()) {
                Some(Duration::from_millis(*ms.get_ref()))
            } else {
                cx.error(
                    &ms.span(),
                    format!("`timeout_ms` must be between 1 and {TIMEOUT_MS_LIMIT}"),
                );
                None
            }
        });
        let fans_out = table.get("for_each").is_some();
        let max_calls = read_max_calls(cx, &table, fans_out);
        heads.push(LegHead {
            name: name_text,
            line,
            table,
            service,
            mask: fields.map(|(mask, _)| mask),
            timeout,
            max_calls,
            fans_out,
            consent_rule,
        });
    }
    heads
}

fn check_leg_name(cx: &mut FileCx, name: &Spanned<&str>, earlier: &[LegHead<'_, '_, '_>]) {
    let text = *name.get_ref();
    if !is_identifier(text) {
        cx.error(
            &name.span(),
            format!(
                "leg name {text:?} must be a lowercase letter or `_` followed by lowercase \
                 letters, digits or `_`"
            ),
        );
    } else if text == "input" || text == "each" {
        cx.error(
            &name.span(),
            format!("a leg cannot be named `{text}`: `${text}` means something else"),
        );
    }
    if let Some(first) = earlier.iter().find(|h| h.name == text) {
        cx.error(
            &name.span(),
            format!(
                "leg `{text}` is defined twice (first at line {})",
                first.line
            ),
        );
    }
}

fn read_service<'r>(
    cx: &mut FileCx,
    table: &Table<'_, '_>,
    context: &Context<'r>,
) -> Option<&'r ServiceEntry> {
    let service = table.req_str(cx, "service")?;
    let registry = context.registries.services?;
    let entry = registry.get(service.get_ref());
    if entry.is_none() {
        cx.error(
            &service.span(),
            format!(
                "unknown service {:?} (not in services.toml)",
                service.get_ref()
            ),
        );
    }
    entry
}

/// The leg's `fields` as a mask of the service's response, with the paths as written.
fn read_fields<'t>(
    cx: &mut FileCx,
    table: &Table<'t, '_>,
    service: Option<&ServiceEntry>,
) -> Option<(Arc<FieldMask>, Vec<Spanned<&'t str>>)> {
    let fields = table.req_str_list(cx, "fields")?;
    if fields.is_empty() {
        let span = table
            .get("fields")
            .map_or(table.header_span(), |v| v.span());
        cx.error(&span, "`fields` is empty: the leg would receive nothing");
        return None;
    }
    let paths: Vec<&str> = fields.iter().map(|f| *f.get_ref()).collect();
    for (index, cover) in redundant_paths(&paths) {
        cx.error(
            &fields[index].span(),
            format!(
                "field {:?} is already listed by {:?}",
                paths[index], paths[cover]
            ),
        );
    }
    let service = service?;
    match FieldMask::compile(&service.output(), &paths) {
        Ok(mask) => Some((Arc::new(mask), fields)),
        Err(errors) => {
            for error in errors {
                cx.error(
                    &fields[error.index].span(),
                    format!(
                        "unknown field {:?}: {} (in the response of {})",
                        error.path, error.message, service.method
                    ),
                );
            }
            None
        }
    }
}

/// Checks that every client has a rule allowing the leg's service for the recipe's purpose
/// and that each such rule releases every field the leg lists. Returns the id of a rule that
/// requires the subject's consent, if any does.
fn check_rules(
    cx: &mut FileCx,
    table: &Table<'_, '_>,
    context: &Context<'_>,
    head: &Head,
    service: &ServiceEntry,
    fields: &[Spanned<&str>],
) -> Option<String> {
    let purpose = head.purpose?;
    if !context.rules_ok {
        return None;
    }
    let service_span = table
        .get("service")
        .map_or(table.header_span(), |v| v.span());
    let fields_span = table
        .get("fields")
        .map_or(table.header_span(), |v| v.span());
    let slot = context.index.get(service.method.as_str());
    let mut consent_rule = None;
    for agency in &head.agencies {
        let entries: Vec<_> = slot
            .zip(AgencyKey::new(agency))
            .and_then(|(slot, key)| slot.by_client.get(&key))
            .map(|client| {
                client
                    .entries()
                    .filter(|entry| entry.purposes.contains(&purpose))
                    .collect()
            })
            .unwrap_or_default();
        if entries.is_empty() {
            cx.error(
                &service_span,
                format!(
                    "client {agency} has no rule allowing {} for purpose {purpose}",
                    service.method
                ),
            );
            continue;
        }
        for entry in entries {
            let rule_id = context
                .rules
                .get(entry.rule)
                .map_or("?", |r| r.rule.id.as_str());
            let withheld: Vec<&str> = fields
                .iter()
                .map(|f| *f.get_ref())
                .filter(|path| !entry.allow.fields.releases(path))
                .collect();
            if !withheld.is_empty() {
                cx.error(
                    &fields_span,
                    format!(
                        "rule {rule_id} does not release {} to client {agency}; a leg may list \
                         only fields every client's rule releases",
                        withheld.join(", ")
                    ),
                );
            }
            if entry.allow.consent_required && consent_rule.is_none() {
                consent_rule = Some(rule_id.to_owned());
            }
        }
    }
    consent_rule
}

fn read_max_calls(cx: &mut FileCx, table: &Table<'_, '_>, fans_out: bool) -> usize {
    let Some(value) = table.opt_uint(cx, "max_calls") else {
        return if fans_out {
            DEFAULT_MAX_CALLS as usize
        } else {
            1
        };
    };
    if !fans_out {
        cx.error(
            &value.span(),
            "`max_calls` applies only to a leg with `for_each`",
        );
        return 1;
    }
    if !(1..=MAX_CALLS_LIMIT).contains(value.get_ref()) {
        cx.error(
            &value.span(),
            format!("`max_calls` must be between 1 and {MAX_CALLS_LIMIT}"),
        );
        return 1;
    }
    usize::try_from(*value.get_ref()).unwrap_or(1)
}

/// The type a request field or a read value has, for "does it fit" checks.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Str,
    Int,
    Bool,
    Enum(EnumDescriptor),
    Msg(MessageDescriptor),
    Other(String),
}

impl Ty {
    fn of(kind: &Kind) -> Self {
        match kind {
            Kind::String => Self::Str,
            Kind::Bool => Self::Bool,
            Kind::Enum(e) => Self::Enum(e.clone()),
            Kind::Message(m) => Self::Msg(m.clone()),
            kind if is_integer(kind) => Self::Int,
            other => Self::Other(format!("{other:?}").to_lowercase()),
        }
    }

    fn of_input(kind: InputKind) -> Self {
        match kind {
            InputKind::RocYear => Self::Int,
            InputKind::NationalId | InputKind::BusinessNumber | InputKind::Text => Self::Str,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Str => "a string".to_owned(),
            Self::Int => "an integer".to_owned(),
            Self::Bool => "a boolean".to_owned(),
            Self::Enum(e) => format!("an enum {}", e.full_name()),
            Self::Msg(m) => format!("a message {}", m.full_name()),
            Self::Other(kind) => format!("a {kind}"),
        }
    }
}

/// What a reference reads: its source and the type of the value.
struct Read {
    source: Source,
    ty: Ty,
}

/// Checks one leg's `for_each`, `skip_if` and `request`, giving the leg if all is well.
struct LegCx<'h, 't, 'i, 'r> {
    heads: &'h [LegHead<'t, 'i, 'r>],
    me: usize,
    /// The for_each list field's item type, its path as written (`members`) and the leg it
    /// belongs to, once resolved.
    item: Option<(Ty, String, usize)>,
    deps: BTreeSet<usize>,
    setters: Vec<Setter>,
}

fn read_leg_requests(
    cx: &mut FileCx,
    heads: &[LegHead<'_, '_, '_>],
    inputs: &mut [InputDef],
    head: &Head,
) -> Vec<Option<Leg>> {
    let names: Vec<String> = heads.iter().map(|h| h.name.clone()).collect();
    let mut legs = Vec::new();
    for (me, leg) in heads.iter().enumerate() {
        let mut lcx = LegCx {
            heads,
            me,
            item: None,
            deps: BTreeSet::new(),
            setters: Vec::new(),
        };
        let for_each = read_for_each(cx, &mut lcx);
        let skip_if = read_skip_if(cx, &mut lcx);
        let request_desc = leg.service.map(|s| s.descriptor().input());
        let request = leg.table.get("request");
        match (&request_desc, request) {
            (_, None) => cx.error(&leg.table.header_span(), "leg is missing `request`"),
            (Some(message), Some(value)) => {
                if let Some(table) = open_message(cx, value, message) {
                    read_request(cx, &mut lcx, inputs, &table, message, &[]);
                }
            }
            (None, Some(_)) => {}
        }
        let subject = request_desc
            .as_ref()
            .and_then(descriptors::subject_field)
            .map(|(field, _)| field);
        let consent = check_subject(cx, &lcx, leg, subject.as_ref(), request, head);
        legs.push(build_leg(
            leg,
            lcx,
            request_desc,
            subject,
            for_each,
            skip_if,
            consent,
            &names,
        ));
    }
    legs
}

#[allow(clippy::too_many_arguments)] // one constructor, every part already checked
fn build_leg(
    leg: &LegHead<'_, '_, '_>,
    lcx: LegCx<'_, '_, '_, '_>,
    request: Option<MessageDescriptor>,
    subject: Option<FieldDescriptor>,
    for_each: Option<ForEach>,
    skip_if: Option<Vec<FieldDescriptor>>,
    consent: bool,
    names: &[String],
) -> Option<Leg> {
    let service = leg.service?;
    Some(Leg {
        name: leg.name.clone(),
        line: leg.line,
        service: service.method.clone(),
        fields: leg.mask.clone()?,
        timeout: leg.timeout?,
        consent,
        depends_on: lcx.deps.into_iter().collect(),
        max_calls: leg.max_calls,
        plan: RequestPlan {
            leg_name: leg.name.clone(),
            request: request?,
            subject,
            setters: lcx.setters,
            for_each,
            skip_if,
            max_calls: leg.max_calls,
            leg_names: names.to_vec(),
        },
    })
}

/// Checks the subject field is set and, where a rule needs consent, set from the consent
/// input. Returns whether the recipe's consent covers the leg.
fn check_subject(
    cx: &mut FileCx,
    lcx: &LegCx<'_, '_, '_, '_>,
    leg: &LegHead<'_, '_, '_>,
    subject: Option<&FieldDescriptor>,
    request: Option<&Spanned<DeValue<'_>>>,
    head: &Head,
) -> bool {
    let Some(subject) = subject else {
        return false;
    };
    let Some(request) = request else {
        return false;
    };
    let sets = |setter: &&Setter| setter.target.first() == Some(subject);
    if !lcx.setters.iter().any(|s| sets(&s)) && leg.service.is_some() {
        cx.error(
            &request.span(),
            format!(
                "the request does not set `{}`, the subject field of {} (whom or what the call \
                 is about)",
                subject.name(),
                leg.service.map_or("", |s| s.method.as_str())
            ),
        );
        return false;
    }
    let consent = head.consent.as_ref().is_some_and(|consent| {
        lcx.setters.iter().any(|setter| {
            setter.target.len() == 1
                && sets(&setter)
                && matches!(&setter.source, Source::Input(name) if name == consent)
        })
    });
    if let Some(rule) = &leg.consent_rule
        && !consent
    {
        let span = leg
            .table
            .get("service")
            .map_or(leg.table.header_span(), |v| v.span());
        let message = match &head.consent {
            None => format!(
                "rule {rule} requires the subject's consent, but the recipe declares no \
                 `consent` input, so no consent would cover leg `{}`",
                leg.name
            ),
            Some(input) => format!(
                "rule {rule} requires the subject's consent, but leg `{}` does not set `{}` \
                 from `$input.{input}`, so the recipe's consent would not cover it",
                leg.name,
                subject.name()
            ),
        };
        cx.error(&span, message);
    }
    consent
}

fn read_for_each(cx: &mut FileCx, lcx: &mut LegCx<'_, '_, '_, '_>) -> Option<ForEach> {
    let leg = &lcx.heads[lcx.me];
    let value = leg.table.opt_str(cx, "for_each")?;
    let text = *value.get_ref();
    let hint = "for_each must be a repeated field of an earlier leg's answer, e.g. \
                $household.members";
    let Some((source, path)) = text
        .strip_prefix('$')
        .and_then(|rest| rest.split_once('.'))
        .filter(|(source, _)| *source != "input" && *source != "each")
    else {
        cx.error(&value.span(), format!("`for_each = {text:?}`: {hint}"));
        return None;
    };
    let index = source_leg(cx, lcx, source, &value.span(), text)?;
    let head = &lcx.heads[index];
    let (Some(service), Some(mask)) = (head.service, &head.mask) else {
        return None;
    };
    let fields = match resolve_path(&service.output(), path, true) {
        Ok(fields) => fields,
        Err(why) => {
            cx.error(&value.span(), format!("`{text}`: {why}"));
            return None;
        }
    };
    let list = fields.last()?;
    if !list.is_list() {
        cx.error(
            &value.span(),
            format!("`{text}` is not a repeated field: {hint}"),
        );
        return None;
    }
    let prefix = format!("{path}.");
    let released = mask.releases(path) || mask.paths().iter().any(|p| p.starts_with(&prefix));
    if !released {
        cx.error(
            &value.span(),
            format!(
                "`{text}`: leg `{source}` does not receive `{path}` (list it, or fields inside \
                 it, in that leg's `fields`)"
            ),
        );
        return None;
    }
    lcx.item = Some((Ty::of(&list.kind()), path.to_owned(), index));
    lcx.deps.insert(index);
    Some(ForEach {
        leg: index,
        path: fields,
        written: text.to_owned(),
    })
}

fn read_skip_if(cx: &mut FileCx, lcx: &mut LegCx<'_, '_, '_, '_>) -> Option<Vec<FieldDescriptor>> {
    let leg = &lcx.heads[lcx.me];
    let value = leg.table.opt_str(cx, "skip_if")?;
    if !leg.fans_out {
        cx.error(
            &value.span(),
            "`skip_if` applies only to a leg with `for_each`",
        );
        return None;
    }
    let text = *value.get_ref();
    let Some(path) = text.strip_prefix("$each.") else {
        cx.error(
            &value.span(),
            format!("`skip_if = {text:?}` must be a bool field of the item, like $each.removed"),
        );
        return None;
    };
    let read = read_each(cx, lcx, path, &value.span(), text)?;
    if let Source::Each(fields) = read.source {
        if read.ty == Ty::Bool {
            return Some(fields);
        }
        cx.error(
            &value.span(),
            format!("`skip_if = {text:?}` is {}, not a bool", read.ty.describe()),
        );
    }
    None
}

/// The index of the leg named `source`, read by the leg being checked, or an error.
fn source_leg(
    cx: &mut FileCx,
    lcx: &LegCx<'_, '_, '_, '_>,
    source: &str,
    span: &Span,
    written: &str,
) -> Option<usize> {
    let Some(index) = lcx.heads.iter().position(|h| h.name == source) else {
        cx.error(span, format!("`{written}`: unknown leg `{source}`"));
        return None;
    };
    if index == lcx.me {
        cx.error(
            span,
            format!("`{written}`: leg `{source}` reads its own answer"),
        );
        return None;
    }
    if lcx.heads[index].fans_out {
        cx.error(
            span,
            format!(
                "`{written}`: reading the answers of for_each leg `{source}` from another leg \
                 is not supported (it answers once per item)"
            ),
        );
        return None;
    }
    Some(index)
}

/// Walks `path` from `message`: every step but the last must be a singular message field;
/// the last may be repeated only when `last_repeated`.
fn resolve_path(
    message: &MessageDescriptor,
    path: &str,
    last_repeated: bool,
) -> Result<Vec<FieldDescriptor>, String> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut current = message.clone();
    let mut fields = Vec::new();
    let mut walked = String::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if segment.is_empty() {
            return Err("empty field name (two dots, or a dot at an end)".to_owned());
        }
        let Some(field) = current.get_field_by_name(segment) else {
            return Err(format!("{} has no field `{segment}`", current.full_name()));
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
        if (field.is_list() || field.is_map()) && !(last && last_repeated) {
            return Err(format!(
                "`{walked}` is a repeated field: one value cannot be read across it; use \
                 for_each to call once per item"
            ));
        }
        fields.push(field.clone());
        if !last {
            match field.kind() {
                Kind::Message(inner) => current = inner,
                _ => return Err(format!("`{walked}` is not a message: nothing is inside it")),
            }
        }
    }
    Ok(fields)
}

/// `$each` or `$each.<path>` in the leg being checked.
fn read_each(
    cx: &mut FileCx,
    lcx: &LegCx<'_, '_, '_, '_>,
    path: &str,
    span: &Span,
    written: &str,
) -> Option<Read> {
    if !lcx.heads[lcx.me].fans_out {
        cx.error(
            span,
            format!("`{written}`: `$each` is only available in a leg with for_each"),
        );
        return None;
    }
    // A for_each that did not resolve was reported already.
    let (item, list_path, source) = lcx.item.clone()?;
    if path.is_empty() {
        return Some(Read {
            source: Source::Each(Vec::new()),
            ty: item,
        });
    }
    let Ty::Msg(message) = &item else {
        cx.error(
            span,
            format!("`{written}`: the items of `{list_path}` are not messages"),
        );
        return None;
    };
    let fields = match resolve_path(message, path, false) {
        Ok(fields) => fields,
        Err(why) => {
            cx.error(span, format!("`{written}`: {why}"));
            return None;
        }
    };
    let full = format!("{list_path}.{path}");
    if let Some(mask) = &lcx.heads[source].mask
        && !mask.releases(&full)
    {
        cx.error(
            span,
            format!(
                "`{written}`: `{full}` is not among the for_each leg's `fields` (its answer is \
                 minimised to them before any leg reads it)"
            ),
        );
        return None;
    }
    let ty = Ty::of(&fields.last()?.kind());
    Some(Read {
        source: Source::Each(fields),
        ty,
    })
}

/// Opens a request table against `message`'s fields.
fn open_message<'t, 'i>(
    cx: &mut FileCx,
    value: &'t Spanned<DeValue<'i>>,
    message: &MessageDescriptor,
) -> Option<Table<'t, 'i>> {
    let names: Vec<String> = message.fields().map(|f| f.name().to_owned()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Table::open(cx, value, "request", &names)
}

fn read_request(
    cx: &mut FileCx,
    lcx: &mut LegCx<'_, '_, '_, '_>,
    inputs: &mut [InputDef],
    table: &Table<'_, '_>,
    message: &MessageDescriptor,
    prefix: &[FieldDescriptor],
) {
    for (key, value) in table.entries() {
        // Unknown names were reported when the table was opened.
        let Some(field) = message.get_field_by_name(key) else {
            continue;
        };
        let mut target = prefix.to_vec();
        target.push(field.clone());
        let dotted: Vec<&str> = target.iter().map(FieldDescriptor::name).collect();
        let dotted = dotted.join(".");
        if field.is_list() || field.is_map() {
            cx.error(
                &value.span(),
                format!("request field `{dotted}` is repeated: recipes set singular fields only"),
            );
            continue;
        }
        let ty = Ty::of(&field.kind());
        let span = value.span();
        let source = match value.get_ref() {
            DeValue::Table(_) => {
                let Ty::Msg(inner) = &ty else {
                    cx.error(
                        &span,
                        format!(
                            "request field `{dotted}` is {}, not a message: give it a value, \
                             not a table",
                            ty.describe()
                        ),
                    );
                    continue;
                };
                if let Some(sub) = open_message(cx, value, inner) {
                    read_request(cx, lcx, inputs, &sub, inner, &target);
                }
                continue;
            }
            DeValue::String(text) if text.starts_with("$$") => {
                literal_string(cx, &text[1..], &ty, &dotted, &span)
            }
            DeValue::String(text) if text.starts_with('$') => {
                read_reference(cx, lcx, inputs, text, &span).and_then(|read| {
                    if fits(&read.ty, &ty) {
                        Some(read.source)
                    } else {
                        cx.error(
                            &span,
                            format!(
                                "`{text}` is {}, but request field `{dotted}` is {}",
                                read.ty.describe(),
                                ty.describe()
                            ),
                        );
                        None
                    }
                })
            }
            DeValue::String(text) => literal_string(cx, text, &ty, &dotted, &span),
            DeValue::Integer(integer) => {
                let digits: String = integer.as_str().chars().filter(|c| *c != '_').collect();
                let n = i128::from_str_radix(digits.trim_start_matches('+'), integer.radix()).ok();
                match (&ty, n) {
                    (Ty::Int, Some(n)) => match int_value(&field.kind(), n) {
                        Some(value) => Some(Source::Literal(value)),
                        None => {
                            cx.error(&span, format!("{n} does not fit request field `{dotted}`"));
                            None
                        }
                    },
                    _ => {
                        wrong_literal(cx, &span, "an integer", &dotted, &ty);
                        None
                    }
                }
            }
            DeValue::Boolean(b) => {
                if ty == Ty::Bool {
                    Some(Source::Literal(Value::Bool(*b)))
                } else {
                    wrong_literal(cx, &span, "a boolean", &dotted, &ty);
                    None
                }
            }
            other => {
                cx.error(
                    &span,
                    format!(
                        "request field `{dotted}`: expected a string, an integer, a boolean or \
                         a table, found {}",
                        type_name(other)
                    ),
                );
                None
            }
        };
        if let Some(source) = source {
            let written = match value.get_ref() {
                DeValue::String(text) => text.to_string(),
                _ => dotted.clone(),
            };
            lcx.setters.push(Setter {
                target,
                source,
                written,
            });
        }
    }
}

fn wrong_literal(cx: &mut FileCx, span: &Span, found: &str, dotted: &str, ty: &Ty) {
    cx.error(
        span,
        format!(
            "request field `{dotted}` is {}, but the value is {found}",
            ty.describe()
        ),
    );
}

fn literal_string(
    cx: &mut FileCx,
    text: &str,
    ty: &Ty,
    dotted: &str,
    span: &Span,
) -> Option<Source> {
    match ty {
        Ty::Str => Some(Source::Literal(Value::String(text.to_owned()))),
        Ty::Enum(e) => match e.get_value_by_name(text) {
            Some(value) => Some(Source::Literal(Value::EnumNumber(value.number()))),
            None => {
                let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
                cx.error(
                    span,
                    format!(
                        "{text:?} is not a value of {} (request field `{dotted}`; one of: {})",
                        e.full_name(),
                        names.join(", ")
                    ),
                );
                None
            }
        },
        _ => {
            wrong_literal(cx, span, "a string", dotted, ty);
            None
        }
    }
}

/// `$input.<name>`, `$each[.<path>]` or `$<leg>.<path>`.
fn read_reference(
    cx: &mut FileCx,
    lcx: &mut LegCx<'_, '_, '_, '_>,
    inputs: &mut [InputDef],
    text: &str,
    span: &Span,
) -> Option<Read> {
    let rest = &text[1..];
    let (source, path) = rest.split_once('.').unwrap_or((rest, ""));
    match source {
        "input" => {
            let Some(input) = inputs.iter_mut().find(|i| i.input.name == path) else {
                cx.error(span, format!("`{text}`: unknown input `{path}`"));
                return None;
            };
            input.used = true;
            Some(Read {
                source: Source::Input(path.to_owned()),
                ty: Ty::of_input(input.input.kind),
            })
        }
        "each" => read_each(cx, lcx, path, span, text),
        leg => {
            let index = source_leg(cx, lcx, leg, span, text)?;
            if path.is_empty() {
                cx.error(
                    span,
                    format!("`{text}` needs a field path, e.g. `${leg}.<field>`"),
                );
                return None;
            }
            let head = &lcx.heads[index];
            let (Some(service), Some(mask)) = (head.service, &head.mask) else {
                return None;
            };
            let fields = match resolve_path(&service.output(), path, false) {
                Ok(fields) => fields,
                Err(why) => {
                    cx.error(span, format!("`{text}`: {why}"));
                    return None;
                }
            };
            if !mask.releases(path) {
                cx.error(
                    span,
                    format!(
                        "`{text}`: `{path}` is not among leg `{leg}`'s `fields` (its answer is \
                         minimised to them before any leg reads it)"
                    ),
                );
                return None;
            }
            lcx.deps.insert(index);
            let ty = Ty::of(&fields.last()?.kind());
            Some(Read {
                source: Source::Leg {
                    leg: index,
                    path: fields,
                },
                ty,
            })
        }
    }
}

fn fits(source: &Ty, target: &Ty) -> bool {
    source == target
}

/// Reports every cycle among the legs once, at the line of its first leg in the file.
fn check_cycles(cx: &mut FileCx, heads: &[LegHead<'_, '_, '_>], legs: &[Option<Leg>]) {
    let deps: Vec<Vec<usize>> = legs
        .iter()
        .map(|leg| leg.as_ref().map_or_else(Vec::new, |l| l.depends_on.clone()))
        .collect();
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    for cycle in find_cycles(&deps) {
        let mut members = cycle.clone();
        members.sort_unstable();
        if !reported.insert(members.clone()) {
            continue;
        }
        let Some(&first) = members.first() else {
            continue;
        };
        // Start the description at the first leg in the file.
        let start = cycle.iter().position(|&i| i == first).unwrap_or(0);
        let mut names: Vec<&str> = cycle[start..]
            .iter()
            .chain(&cycle[..start])
            .map(|&i| heads[i].name.as_str())
            .collect();
        names.push(heads[first].name.as_str());
        let offset = cx.line_start(heads[first].line);
        cx.error(
            &(offset..offset),
            format!(
                "legs read each other in a cycle ({}; each reads the next): none of them could \
                 run first",
                names.join(" → ")
            ),
        );
    }
}

/// Every elementary cycle the depth-first search meets (each leg's edges point at the legs it
/// reads).
fn find_cycles(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        node: usize,
        deps: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        cycles: &mut Vec<Vec<usize>>,
    ) {
        marks[node] = Mark::OnPath;
        path.push(node);
        for &next in deps.get(node).map_or(&[][..], Vec::as_slice) {
            match marks.get(next) {
                Some(Mark::New) => visit(next, deps, marks, path, cycles),
                Some(Mark::OnPath) => {
                    if let Some(at) = path.iter().position(|&n| n == next) {
                        cycles.push(path[at..].to_vec());
                    }
                }
                _ => {}
            }
        }
        path.pop();
        marks[node] = Mark::Done;
    }
    let mut marks = vec![Mark::New; deps.len()];
    let mut cycles = Vec::new();
    for start in 0..deps.len() {
        if marks[start] == Mark::New {
            visit(start, deps, &mut marks, &mut Vec::new(), &mut cycles);
        }
    }
    cycles
}
