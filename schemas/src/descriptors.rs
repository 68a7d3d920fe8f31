//! The run-time view of the schemas: the compiled descriptor pool and the custom options of
//! `tongdao/v1/options.proto` read from it.
//!
//! The broker uses these to find a request's data subject (`(tongdao.v1.subject)`), to know
//! which PDPA data class each response field carries (`(tongdao.v1.data_class)`), whether a
//! class is a §6 special category, and which agency provides a service
//! (`(tongdao.v1.provider_agency)`).
//!
//! Options are looked up in the pool the descriptor itself belongs to, so these functions work
//! on descriptors from [`pool`] and on descriptors from any other pool that includes
//! `tongdao/v1/options.proto`.
//!
//! A data class on a message-typed field classifies the whole value (e.g. a `RocDate` birth
//! date is C011); scalar and enum leaves inside it that carry no class of their own inherit it.

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use prost_reflect::{
    DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    ServiceDescriptor, Value,
};

use crate::{FILE_DESCRIPTOR_SET, v1};

/// Full name of the field option naming a request's data subject.
pub const SUBJECT_OPTION: &str = "tongdao.v1.subject";
/// Full name of the field option giving a response field's PDPA data class.
pub const DATA_CLASS_OPTION: &str = "tongdao.v1.data_class";
/// Full name of the service option giving the provider's agency code.
pub const PROVIDER_AGENCY_OPTION: &str = "tongdao.v1.provider_agency";
/// Full name of the enum value option marking a PDPA §6 special category.
pub const SPECIAL_CATEGORY_OPTION: &str = "tongdao.v1.special_category";
/// Full name of the enum value option giving a data class's official Chinese name.
pub const CLASS_NAME_OPTION: &str = "tongdao.v1.class_name";
/// Full name of the data class enum.
const DATA_CLASS_ENUM: &str = "tongdao.v1.DataClass";

/// The descriptor pool of every schema compiled into this crate (including imports such as
/// `google/protobuf/descriptor.proto`), decoded once.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into tongdao-schemas by build.rs must decode")
    })
}

/// Whether `package` is a domain package, `tongdao.<domain>.v<N>` (not the broker's own
/// `tongdao.v1`, not `google.*`).
pub fn is_domain_package(package: &str) -> bool {
    let mut parts = package.split('.');
    let (Some("tongdao"), Some(domain), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let is_version = |s: &str| {
        s.strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    !domain.is_empty() && !is_version(domain) && is_version(version)
}

/// Every service of a domain package (`tongdao.<domain>.v1`) in [`pool`].
pub fn domain_services() -> impl Iterator<Item = ServiceDescriptor> {
    pool()
        .services()
        .filter(|service| is_domain_package(service.package_name()))
}

/// The agency code (機關代碼) of the agency providing `service`, from
/// `(tongdao.v1.provider_agency)`; `None` if the option is absent or empty.
pub fn provider_agency(service: &ServiceDescriptor) -> Option<String> {
    let extension = extension(service.parent_pool(), PROVIDER_AGENCY_OPTION)?;
    match option_value(&service.options(), &extension)? {
        Value::String(code) if !code.is_empty() => Some(code),
        _ => None,
    }
}

/// The kind of data subject `field` names, from `(tongdao.v1.subject)`; `None` if the option is
/// absent, unspecified or an unknown value.
pub fn subject_kind(field: &FieldDescriptor) -> Option<v1::SubjectKind> {
    let extension = extension(field.parent_pool(), SUBJECT_OPTION)?;
    match option_value(&field.options(), &extension)? {
        Value::EnumNumber(number) => match v1::SubjectKind::try_from(number) {
            Ok(v1::SubjectKind::Unspecified) | Err(_) => None,
            Ok(kind) => Some(kind),
        },
        _ => None,
    }
}

/// The first field of `request` (in declaration order) marked `(tongdao.v1.subject)`, with the
/// kind of subject it names. A well-formed request has exactly one.
pub fn subject_field(request: &MessageDescriptor) -> Option<(FieldDescriptor, v1::SubjectKind)> {
    request
        .fields()
        .find_map(|field| subject_kind(&field).map(|kind| (field, kind)))
}

/// The PDPA data class of `field`, from `(tongdao.v1.data_class)`; `None` if the option is
/// absent, unspecified or an unknown value.
pub fn data_class(field: &FieldDescriptor) -> Option<v1::DataClass> {
    let extension = extension(field.parent_pool(), DATA_CLASS_OPTION)?;
    match option_value(&field.options(), &extension)? {
        Value::EnumNumber(number) => match v1::DataClass::try_from(number) {
            Ok(v1::DataClass::Unspecified) | Err(_) => None,
            Ok(class) => Some(class),
        },
        _ => None,
    }
}

/// Whether `class` is a PDPA §6 special category, read from the `(tongdao.v1.special_category)`
/// option of its enum value in the schema.
pub fn is_special_category(class: v1::DataClass) -> bool {
    data_class_option(class, SPECIAL_CATEGORY_OPTION)
        .is_some_and(|value| matches!(value, Value::Bool(true)))
}

/// The official Chinese name of `class` (e.g. 辨識個人者 for C001), from
/// `(tongdao.v1.class_name)`.
pub fn data_class_name(class: v1::DataClass) -> Option<String> {
    match data_class_option(class, CLASS_NAME_OPTION)? {
        Value::String(name) if !name.is_empty() => Some(name),
        _ => None,
    }
}

/// The code of `class` as written in the PDPA classification, e.g. `"C001"`.
pub fn data_class_code(class: v1::DataClass) -> &'static str {
    class.as_str_name()
}

/// Every data class reachable from `message`: the classes of its fields and, recursively, of
/// the fields of its message-typed fields. Recursive types are visited once.
pub fn response_data_classes(message: &MessageDescriptor) -> BTreeSet<v1::DataClass> {
    let mut classes = BTreeSet::new();
    let mut visited = HashSet::new();
    let mut stack = vec![message.clone()];
    while let Some(message) = stack.pop() {
        if !visited.insert(message.full_name().to_owned()) {
            continue;
        }
        for field in message.fields() {
            classes.extend(data_class(&field));
            if let Kind::Message(inner) = field.kind() {
                stack.push(inner);
            }
        }
    }
    classes
}

/// A scalar or enum field reachable from a response message, with the data class that governs
/// it.
#[derive(Debug, Clone)]
pub struct ResponseLeaf {
    /// Field names from the response message down to the leaf, joined by `.`, e.g.
    /// `members.birth_date.year`.
    pub path: String,
    /// The leaf field.
    pub field: FieldDescriptor,
    /// The leaf's own data class or, failing that, the class of its nearest classified
    /// enclosing message field; `None` if neither has one.
    pub class: Option<v1::DataClass>,
}

/// Every scalar and enum leaf reachable from `message`, depth first in declaration order, with
/// its governing data class (see [`ResponseLeaf::class`]). A message type already on the path
/// from the root is not entered again, so recursive types terminate.
pub fn response_leaves(message: &MessageDescriptor) -> Vec<ResponseLeaf> {
    let mut leaves = Vec::new();
    let mut on_path = vec![message.full_name().to_owned()];
    collect_leaves(message, "", None, &mut on_path, &mut leaves);
    leaves
}

fn collect_leaves(
    message: &MessageDescriptor,
    prefix: &str,
    inherited: Option<v1::DataClass>,
    on_path: &mut Vec<String>,
    leaves: &mut Vec<ResponseLeaf>,
) {
    for field in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        let class = data_class(&field).or(inherited);
        match field.kind() {
            Kind::Message(inner) => {
                if on_path.iter().any(|name| name == inner.full_name()) {
                    continue;
                }
                on_path.push(inner.full_name().to_owned());
                collect_leaves(&inner, &path, class, on_path, leaves);
                on_path.pop();
            }
            _ => leaves.push(ResponseLeaf { path, field, class }),
        }
    }
}

fn extension(pool: &DescriptorPool, name: &str) -> Option<ExtensionDescriptor> {
    pool.get_extension_by_name(name)
}

fn option_value(options: &DynamicMessage, extension: &ExtensionDescriptor) -> Option<Value> {
    options
        .has_extension(extension)
        .then(|| options.get_extension(extension).into_owned())
}

fn data_class_option(class: v1::DataClass, option: &str) -> Option<Value> {
    let pool = pool();
    let extension = extension(pool, option)?;
    let value = pool
        .get_enum_by_name(DATA_CLASS_ENUM)?
        .get_value(class as i32)?;
    option_value(&value.options(), &extension)
}
