//! Field masks: the part of a response a rule releases.
//!
//! A rule lists dotted field paths relative to the method's output message (`members.name`).
//! Listing a message-typed field releases its whole subtree; paths go through repeated fields
//! (every element) and map fields (every value; keys travel with any released value). The mask
//! is compiled once, against the output [`MessageDescriptor`], into a tree that says per message
//! type which fields to clear and which to descend into, so applying it is a walk over the
//! fields that are actually present.
//!
//! Default deny holds inside the payload too: a field the rule does not list is cleared, and so
//! is anything the schema does not know (unknown fields decoded from the wire, extensions),
//! because no rule can name it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};
use tongdao_schemas::descriptors;
use tongdao_schemas::v1::DataClass;

/// The fields of one response type a rule releases.
#[derive(Clone)]
pub struct FieldMask {
    descriptor: MessageDescriptor,
    root: Node,
    /// Per message type inside a released subtree: where its nested messages are.
    plans: Vec<StripPlan>,
    paths: Vec<String>,
    released_classes: Vec<DataClass>,
}

/// What to do inside one message of the response.
#[derive(Debug, Clone)]
struct Node {
    /// Fields withheld entirely.
    withheld: Box<[FieldDescriptor]>,
    /// Message-typed fields released in part, with the mask of their (element or value) type.
    partial: Box<[(FieldDescriptor, Node)]>,
    /// Message-typed fields released whole, with the [`StripPlan`] of their type: walked only
    /// to drop unknown fields.
    released_messages: Box<[(FieldDescriptor, usize)]>,
    /// Whether the message type declares extension ranges (proto2 only): extensions are dropped.
    extensible: bool,
}

/// How to reach every nested message of one message type, to drop unknown fields from a
/// released subtree without enumerating its scalar fields.
#[derive(Debug, Clone)]
struct StripPlan {
    message_fields: Box<[(FieldDescriptor, usize)]>,
    extensible: bool,
}

/// Builds strip plans, one per message type, shared by every occurrence of the type.
#[derive(Default)]
struct PlanBuilder {
    plans: Vec<StripPlan>,
    by_name: std::collections::HashMap<String, usize>,
}

impl PlanBuilder {
    fn plan(&mut self, message: &MessageDescriptor) -> usize {
        if let Some(&index) = self.by_name.get(message.full_name()) {
            return index;
        }
        // Reserve the slot first: recursive types refer back to it.
        let index = self.plans.len();
        self.by_name.insert(message.full_name().to_owned(), index);
        self.plans.push(StripPlan {
            message_fields: Box::new([]),
            extensible: message.extension_ranges().next().is_some(),
        });
        let fields: Vec<(FieldDescriptor, usize)> = message
            .fields()
            .filter_map(|field| value_message(&field).map(|inner| (field, inner)))
            .map(|(field, inner)| {
                let plan = self.plan(&inner);
                (field, plan)
            })
            .collect();
        self.plans[index].message_fields = fields.into();
        index
    }
}

/// A field path a mask cannot be compiled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskError {
    /// Position of the path in the list given to [`FieldMask::compile`].
    pub index: usize,
    /// The path as given.
    pub path: String,
    /// Why it does not resolve.
    pub message: String,
}

impl fmt::Display for MaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {:?}: {}", self.path, self.message)
    }
}

/// One scalar or enum field reachable in a response, as [`FieldMask::leaves`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Dotted path from the response message, e.g. `members.birth_date.year`.
    pub path: String,
    /// The governing data class (the leaf's own, or its nearest classified ancestor's).
    pub class: Option<DataClass>,
    /// Whether the mask releases it.
    pub released: bool,
}

impl FieldMask {
    /// Compiles `paths` against `message`. Every path that does not resolve is reported, with
    /// its position, so a rule file can point at the offending line.
    pub fn compile<S: AsRef<str>>(
        message: &MessageDescriptor,
        paths: &[S],
    ) -> Result<Self, Vec<MaskError>> {
        let mut errors = Vec::new();
        let mut tree = PathTree::default();
        for (index, path) in paths.iter().enumerate() {
            let path = path.as_ref();
            match check_path(message, path) {
                Ok(()) => tree.insert(path),
                Err(message) => errors.push(MaskError {
                    index,
                    path: path.to_owned(),
                    message,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut plans = PlanBuilder::default();
        let root = build(message, &tree, &mut plans);
        let mut canonical = Vec::new();
        tree.canonical_paths("", &mut canonical);
        let mut mask = Self {
            descriptor: message.clone(),
            root,
            plans: plans.plans,
            paths: canonical,
            released_classes: Vec::new(),
        };
        mask.released_classes = mask
            .leaves()
            .into_iter()
            .filter(|leaf| leaf.released)
            .filter_map(|leaf| leaf.class)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(mask)
    }

    /// A mask that releases nothing of `message`.
    pub fn none(message: &MessageDescriptor) -> Self {
        Self {
            descriptor: message.clone(),
            root: build(message, &PathTree::default(), &mut PlanBuilder::default()),
            plans: Vec::new(),
            paths: Vec::new(),
            released_classes: Vec::new(),
        }
    }

    /// Clears every field of `message` the mask does not release, at any depth, in repeated and
    /// map fields too, and every unknown field or extension. A message of another type than the
    /// mask was compiled for is cleared entirely: releasing nothing is the only safe reading.
    pub fn apply(&self, message: &mut DynamicMessage) {
        if message.descriptor() != self.descriptor {
            *message = DynamicMessage::new(message.descriptor());
            return;
        }
        self.root.apply(message, &self.plans);
    }

    /// The response type the mask was compiled for.
    pub fn descriptor(&self) -> &MessageDescriptor {
        &self.descriptor
    }

    /// The released paths, sorted, without duplicates or paths inside another listed path.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The data classes of every released leaf, in code order: what the broker reports as
    /// having left the provider.
    pub fn released_classes(&self) -> &[DataClass] {
        &self.released_classes
    }

    /// Whether the field at `path` (a leaf or a message field) is released whole.
    pub fn releases(&self, path: &str) -> bool {
        self.paths.iter().any(|p| {
            path == p
                || path
                    .strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
    }

    /// Every leaf of the response type with whether the mask releases it, depth first in
    /// declaration order (for `explain` and `diff`). A message type already on the path is not
    /// entered again, so recursive types terminate; such a field is listed as one leaf.
    pub fn leaves(&self) -> Vec<Leaf> {
        let mut leaves = Vec::new();
        let mut on_path = vec![self.descriptor.full_name().to_owned()];
        collect_leaves(
            &self.descriptor,
            Cover::Part(&self.root),
            "",
            None,
            &mut on_path,
            &mut leaves,
        );
        leaves
    }
}

impl fmt::Debug for FieldMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldMask")
            .field("message", &self.descriptor.full_name())
            .field("paths", &self.paths)
            .finish()
    }
}

impl PartialEq for FieldMask {
    fn eq(&self, other: &Self) -> bool {
        self.descriptor == other.descriptor && self.paths == other.paths
    }
}

impl Eq for FieldMask {}

impl Node {
    fn apply(&self, message: &mut DynamicMessage, plans: &[StripPlan]) {
        for field in &*self.withheld {
            message.clear_field(field);
        }
        for (field, node) in &*self.partial {
            if message.has_field(field) {
                for_each_message(message.get_field_mut(field), |inner| {
                    node.apply(inner, plans);
                });
            }
        }
        for (field, plan) in &*self.released_messages {
            if message.has_field(field) {
                for_each_message(message.get_field_mut(field), |inner| {
                    strip_unknown(inner, *plan, plans);
                });
            }
        }
        drop_unknown(message, self.extensible);
    }
}

/// Calls `f` on each message a field value holds: the value itself, each element, each map
/// value.
fn for_each_message(value: &mut Value, mut f: impl FnMut(&mut DynamicMessage)) {
    match value {
        Value::Message(inner) => f(inner),
        Value::List(items) => {
            for item in items {
                if let Value::Message(inner) = item {
                    f(inner);
                }
            }
        }
        Value::Map(entries) => {
            for item in entries.values_mut() {
                if let Value::Message(inner) = item {
                    f(inner);
                }
            }
        }
        _ => {}
    }
}

/// Drops what the schema does not know from a released subtree, at every depth.
fn strip_unknown(message: &mut DynamicMessage, plan: usize, plans: &[StripPlan]) {
    let Some(strip) = plans.get(plan) else {
        return;
    };
    for (field, inner_plan) in &*strip.message_fields {
        if message.has_field(field) {
            for_each_message(message.get_field_mut(field), |inner| {
                strip_unknown(inner, *inner_plan, plans);
            });
        }
    }
    drop_unknown(message, strip.extensible);
}

fn drop_unknown(message: &mut DynamicMessage, extensible: bool) {
    if message.unknown_fields().next().is_some() {
        message.take_unknown_fields().for_each(drop);
    }
    if extensible {
        message.take_extensions().for_each(drop);
    }
}

/// The message type a path continues into through `field`: the field's type, or for a map the
/// value type. `None` for scalars, enums and maps of scalars.
fn value_message(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    match field.kind() {
        Kind::Message(message) if field.is_map() => match message.map_entry_value_field().kind() {
            Kind::Message(value) => Some(value),
            _ => None,
        },
        Kind::Message(message) => Some(message),
        _ => None,
    }
}

fn check_path(message: &MessageDescriptor, path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".to_owned());
    }
    let mut current = Some(message.clone());
    let mut walked = String::new();
    for segment in path.split('.') {
        if segment.is_empty() {
            return Err("empty segment (two dots, or a dot at an end)".to_owned());
        }
        let Some(message) = current else {
            return Err(format!(
                "{walked} is not a message field; nothing can be selected inside it"
            ));
        };
        let Some(field) = message.get_field_by_name(segment) else {
            return Err(format!("{} has no field `{segment}`", message.full_name()));
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
        current = value_message(&field);
    }
    Ok(())
}

/// The listed paths as a tree of field names; `released` marks a listed path.
#[derive(Debug, Default)]
struct PathTree {
    released: bool,
    children: BTreeMap<String, PathTree>,
}

impl PathTree {
    fn insert(&mut self, path: &str) {
        let mut node = self;
        for segment in path.split('.') {
            node = node.children.entry(segment.to_owned()).or_default();
        }
        node.released = true;
    }

    fn canonical_paths(&self, prefix: &str, out: &mut Vec<String>) {
        for (name, child) in &self.children {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            if child.released {
                out.push(path);
            } else {
                child.canonical_paths(&path, out);
            }
        }
    }
}

fn build(message: &MessageDescriptor, tree: &PathTree, plans: &mut PlanBuilder) -> Node {
    let mut withheld = Vec::new();
    let mut partial = Vec::new();
    let mut released_messages = Vec::new();
    for field in message.fields() {
        match tree.children.get(field.name()) {
            None => withheld.push(field),
            Some(child) if child.released => {
                if let Some(inner) = value_message(&field) {
                    let plan = plans.plan(&inner);
                    released_messages.push((field, plan));
                }
            }
            Some(child) => {
                // check_path guarantees a path continues only through message fields.
                if let Some(inner) = value_message(&field) {
                    partial.push((field, build(&inner, child, plans)));
                } else {
                    withheld.push(field);
                }
            }
        }
    }
    Node {
        withheld: withheld.into(),
        partial: partial.into(),
        released_messages: released_messages.into(),
        extensible: message.extension_ranges().next().is_some(),
    }
}

#[derive(Clone, Copy)]
enum Cover<'a> {
    All,
    Nothing,
    Part(&'a Node),
}

fn collect_leaves(
    message: &MessageDescriptor,
    cover: Cover<'_>,
    prefix: &str,
    inherited: Option<DataClass>,
    on_path: &mut Vec<String>,
    leaves: &mut Vec<Leaf>,
) {
    for field in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        let class = descriptors::data_class(&field).or(inherited);
        let inner_cover = match cover {
            Cover::All => Cover::All,
            Cover::Nothing => Cover::Nothing,
            Cover::Part(node) => {
                if node.withheld.contains(&field) {
                    Cover::Nothing
                } else if let Some((_, sub)) = node.partial.iter().find(|(f, _)| *f == field) {
                    Cover::Part(sub)
                } else {
                    Cover::All
                }
            }
        };
        match value_message(&field) {
            Some(inner) if !on_path.iter().any(|name| name == inner.full_name()) => {
                on_path.push(inner.full_name().to_owned());
                collect_leaves(&inner, inner_cover, &path, class, on_path, leaves);
                on_path.pop();
            }
            _ => leaves.push(Leaf {
                path,
                class,
                released: !matches!(inner_cover, Cover::Nothing),
            }),
        }
    }
}

/// Paths that repeat or sit inside another listed path, each with the index of the path that
/// covers it: listing both is a mistake in a rule (the inner one has no effect).
pub(crate) fn redundant_paths<S: AsRef<str>>(paths: &[S]) -> Vec<(usize, usize)> {
    let mut redundant = Vec::new();
    let mut seen = HashSet::new();
    for (index, path) in paths.iter().enumerate() {
        let path = path.as_ref();
        if !seen.insert(path) {
            if let Some(first) = paths.iter().position(|p| p.as_ref() == path) {
                redundant.push((index, first));
            }
            continue;
        }
        if let Some(cover) = paths.iter().position(|p| {
            let p = p.as_ref();
            path.strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('.'))
        }) {
            redundant.push((index, cover));
        }
    }
    redundant
}

#[cfg(test)]
mod tests;
