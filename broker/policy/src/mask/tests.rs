use super::*;

use prost::Message as _;
use prost_reflect::{DescriptorPool, MapKey};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet, MessageOptions,
    OneofDescriptorProto,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tongdao_schemas::household::v1 as household;

fn transcript_descriptor() -> MessageDescriptor {
    descriptors::pool()
        .get_message_by_name("tongdao.household.v1.Transcript")
        .expect("Transcript in the pool")
}

fn transcript() -> DynamicMessage {
    let member = |name: &str, id: &str| household::Member {
        relationship: "長子".into(),
        name: name.into(),
        national_id: id.into(),
        birth_date: Some(household::RocDate {
            year: 76,
            month: 5,
            day: 1,
        }),
        sex: "男".into(),
        birthplace: "臺北市".into(),
        events: vec![household::Event {
            date: Some(household::RocDate {
                year: 76,
                month: 5,
                day: 3,
            }),
            kind: "出生登記".into(),
            remark: "民國七十六年五月一日在臺北市出生".into(),
        }],
        ..Default::default()
    };
    let transcript = household::Transcript {
        transcript_number: "北市大安戶字第000123號".into(),
        household_number: "F1234567".into(),
        address: Some(household::Address {
            county: "臺北市".into(),
            district: "大安區".into(),
            street: "仁愛路四段1號".into(),
            ..Default::default()
        }),
        head_name: "王大明".into(),
        members: vec![
            member("王大明", "A123456789"),
            member("王小明", "A123456780"),
        ],
        ..Default::default()
    };
    DynamicMessage::decode(
        transcript_descriptor(),
        transcript.encode_to_vec().as_slice(),
    )
    .expect("decodes")
}

#[test]
fn releases_only_listed_fields_inside_repeated_messages() {
    let mask = FieldMask::compile(
        &transcript_descriptor(),
        &["members.name", "members.birth_date", "address.county"],
    )
    .expect("valid paths");
    let mut message = transcript();
    mask.apply(&mut message);
    let result: household::Transcript = message.transcode_to().expect("transcodes");
    assert_eq!(result.transcript_number, "");
    assert_eq!(result.head_name, "");
    let address = result
        .address
        .expect("address kept: a listed path goes through it");
    assert_eq!(address.county, "臺北市");
    assert_eq!(address.street, "");
    assert_eq!(
        result.members.len(),
        2,
        "elements survive, emptied of withheld fields"
    );
    for member in &result.members {
        assert!(!member.name.is_empty());
        assert_eq!(member.birth_date.map(|d| d.year), Some(76));
        assert_eq!(member.national_id, "");
        assert!(member.events.is_empty());
        assert_eq!(member.birthplace, "");
    }
}

#[test]
fn canonical_paths_drop_duplicates_and_covered_paths() {
    let mask = FieldMask::compile(
        &transcript_descriptor(),
        &[
            "members.name",
            "members",
            "address.county",
            "address.county",
        ],
    )
    .expect("valid");
    assert_eq!(mask.paths(), ["address.county", "members"]);
    assert!(mask.releases("members.events.remark"));
    assert!(mask.releases("address.county"));
    assert!(!mask.releases("address"));
    assert!(!mask.releases("members_x"));
}

#[test]
fn released_classes_follow_inheritance() {
    let mask =
        FieldMask::compile(&transcript_descriptor(), &["members.birth_date.year"]).expect("valid");
    // RocDate.year has no class of its own; birth_date is C011.
    assert_eq!(mask.released_classes(), [DataClass::C011]);
    let mask = FieldMask::compile(&transcript_descriptor(), &["members"]).expect("valid");
    assert_eq!(
        mask.released_classes(),
        [
            DataClass::C001,
            DataClass::C003,
            DataClass::C011,
            DataClass::C021,
            DataClass::C023
        ]
    );
    assert!(
        FieldMask::none(&transcript_descriptor())
            .released_classes()
            .is_empty()
    );
}

#[test]
fn every_bad_path_is_reported_with_its_index() {
    let errors = FieldMask::compile(
        &transcript_descriptor(),
        &[
            "members.name",
            "members.nmae",
            "head_name.x",
            "",
            "address..county",
        ],
    )
    .expect_err("bad paths");
    let indices: Vec<usize> = errors.iter().map(|e| e.index).collect();
    assert_eq!(indices, [1, 2, 3, 4], "{errors:#?}");
    assert!(
        errors[0]
            .message
            .contains("tongdao.household.v1.Member has no field `nmae`")
    );
    assert!(
        errors[1]
            .message
            .contains("head_name is not a message field")
    );
}

#[test]
fn a_message_of_another_type_is_cleared() {
    let mask = FieldMask::compile(&transcript_descriptor(), &["members"]).expect("valid");
    let other = descriptors::pool()
        .get_message_by_name("tongdao.household.v1.Member")
        .expect("Member");
    let mut message = DynamicMessage::new(other);
    message.set_field_by_name("name", Value::String("王大明".into()));
    mask.apply(&mut message);
    assert_eq!(message.fields().count(), 0);
}

#[test]
fn unknown_fields_are_dropped_at_every_depth() {
    let mask =
        FieldMask::compile(&transcript_descriptor(), &["members", "head_name"]).expect("valid");
    let member = descriptors::pool()
        .get_message_by_name("tongdao.household.v1.Member")
        .expect("Member");
    let mut inner = DynamicMessage::new(member);
    inner.set_field_by_name("name", Value::String("王大明".into()));
    let inner = with_unknown_field(&inner, 900);
    let mut outer = DynamicMessage::new(transcript_descriptor());
    outer.set_field_by_name("head_name", Value::String("王大明".into()));
    outer.set_field_by_name("members", Value::List(vec![Value::Message(inner)]));
    let mut outer = with_unknown_field(&outer, 901);
    assert_eq!(count_unknown(&outer), 2);
    mask.apply(&mut outer);
    assert_eq!(count_unknown(&outer), 0, "even inside a released subtree");
    let result: household::Transcript = outer.transcode_to().expect("transcodes");
    assert_eq!(result.members[0].name, "王大明");
    assert_eq!(result.head_name, "王大明");
    // And what leaves the broker encodes without them.
    let reencoded = outer.encode_to_vec();
    assert_eq!(reencoded, result.encode_to_vec());
}

#[test]
fn leaves_list_released_and_withheld() {
    let mask = FieldMask::compile(&transcript_descriptor(), &["address"]).expect("valid");
    let leaves = mask.leaves();
    assert!(
        leaves
            .iter()
            .any(|l| l.path == "address.street" && l.released)
    );
    assert!(
        leaves
            .iter()
            .any(|l| l.path == "members.events.date.year" && !l.released)
    );
    assert_eq!(
        leaves.len(),
        descriptors::response_leaves(&transcript_descriptor()).len(),
        "same leaves as the schema crate lists"
    );
}

#[test]
fn redundant_paths_are_found() {
    assert_eq!(
        redundant_paths(&["a", "a.b", "c", "c", "ab"]),
        [(1, 0), (3, 2)]
    );
}

// ── Maps, oneofs and recursion: a schema made for the test ─────────────────────────────────

fn field(
    name: &str,
    number: i32,
    label: Label,
    kind: Type,
    type_name: Option<&str>,
) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(label as i32),
        r#type: Some(kind as i32),
        type_name: type_name.map(Into::into),
        ..Default::default()
    }
}

/// `test.Outer` with a map of messages, a map of strings, a recursive field and a oneof;
/// `test.Inner` with a repeated recursive field.
fn test_pool() -> DescriptorPool {
    use Label::{Optional, Repeated};
    let entry = |name: &str, value: FieldDescriptorProto| DescriptorProto {
        name: Some(name.into()),
        field: vec![field("key", 1, Optional, Type::String, None), value],
        options: Some(MessageOptions {
            map_entry: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut choice_a = field("a", 7, Optional, Type::String, None);
    choice_a.oneof_index = Some(0);
    let mut choice_b = field("b", 8, Optional, Type::Message, Some(".test.Inner"));
    choice_b.oneof_index = Some(0);
    let outer = DescriptorProto {
        name: Some("Outer".into()),
        field: vec![
            field("name", 1, Optional, Type::String, None),
            field("inner", 2, Optional, Type::Message, Some(".test.Inner")),
            field("items", 3, Repeated, Type::Message, Some(".test.Inner")),
            field(
                "by_key",
                4,
                Repeated,
                Type::Message,
                Some(".test.Outer.ByKeyEntry"),
            ),
            field(
                "labels",
                5,
                Repeated,
                Type::Message,
                Some(".test.Outer.LabelsEntry"),
            ),
            field("child", 6, Optional, Type::Message, Some(".test.Outer")),
            choice_a,
            choice_b,
        ],
        nested_type: vec![
            entry(
                "ByKeyEntry",
                field("value", 2, Optional, Type::Message, Some(".test.Inner")),
            ),
            entry(
                "LabelsEntry",
                field("value", 2, Optional, Type::String, None),
            ),
        ],
        oneof_decl: vec![OneofDescriptorProto {
            name: Some("choice".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let inner = DescriptorProto {
        name: Some("Inner".into()),
        field: vec![
            field("x", 1, Optional, Type::String, None),
            field("y", 2, Optional, Type::Int32, None),
            field("nested", 3, Repeated, Type::Message, Some(".test.Inner")),
        ],
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("test.proto".into()),
        package: Some("test".into()),
        message_type: vec![outer, inner],
        syntax: Some("proto3".into()),
        ..Default::default()
    };
    DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] })
        .expect("test schema is valid")
}

#[test]
fn map_paths_go_through_values() {
    let pool = test_pool();
    let outer = pool.get_message_by_name("test.Outer").expect("Outer");
    let inner = pool.get_message_by_name("test.Inner").expect("Inner");
    let mask =
        FieldMask::compile(&outer, &["by_key.x", "child.inner.y", "b.nested.x"]).expect("valid");
    assert!(
        FieldMask::compile(&outer, &["labels.x"]).is_err(),
        "map of strings has no fields"
    );

    let mut value = DynamicMessage::new(inner);
    value.set_field_by_name("x", Value::String("kept".into()));
    value.set_field_by_name("y", Value::I32(7));
    let mut message = DynamicMessage::new(outer);
    message.set_field_by_name(
        "by_key",
        Value::Map([(MapKey::String("k".into()), Value::Message(value.clone()))].into()),
    );
    message.set_field_by_name(
        "labels",
        Value::Map([(MapKey::String("k".into()), Value::String("v".into()))].into()),
    );
    message.set_field_by_name("b", Value::Message(value));
    mask.apply(&mut message);
    let by_key = message.get_field_by_name("by_key").expect("kept");
    let entry = by_key
        .as_map()
        .and_then(|m| m.get(&MapKey::String("k".into())))
        .and_then(Value::as_message)
        .expect("value kept");
    assert_eq!(
        entry.get_field_by_name("x").as_deref(),
        Some(&Value::String("kept".into()))
    );
    assert!(!entry.has_field_by_name("y"));
    assert!(!message.has_field_by_name("labels"));
    let b = message.get_field_by_name("b").expect("oneof member kept");
    assert!(!b.as_message().expect("message").has_field_by_name("x"));
}

// ── The property: nothing outside the mask survives, everything inside is unchanged ────────

/// Every field path of `message` down to `depth` levels (map values entered, as masks do).
fn all_paths(message: &MessageDescriptor, prefix: &str, depth: usize, out: &mut Vec<String>) {
    for field in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        out.push(path.clone());
        if depth > 0
            && let Some(inner) = value_message(&field)
        {
            all_paths(&inner, &path, depth - 1, out);
        }
    }
}

fn random_value(kind: &Kind, rng: &mut StdRng, depth: usize) -> Value {
    match kind {
        Kind::Message(message) => Value::Message(random_message(message, rng, depth + 1)),
        Kind::String => Value::String(format!("s{}", rng.random_range(1..1000))),
        Kind::Bytes => Value::Bytes(vec![rng.random::<u8>() | 1].into()),
        Kind::Bool => Value::Bool(true),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(rng.random_range(1..1000)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(rng.random_range(1..1_000_000)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(rng.random_range(1..1000)),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.random_range(1..1_000_000)),
        Kind::Float => Value::F32(1.5),
        Kind::Double => Value::F64(2.5),
        Kind::Enum(e) => {
            let values: Vec<i32> = e.values().map(|v| v.number()).filter(|n| *n != 0).collect();
            Value::EnumNumber(
                values
                    .get(rng.random_range(0..values.len().max(1)))
                    .copied()
                    .unwrap_or(1),
            )
        }
    }
}

fn random_message(message: &MessageDescriptor, rng: &mut StdRng, depth: usize) -> DynamicMessage {
    let mut out = DynamicMessage::new(message.clone());
    if depth > 4 {
        return out;
    }
    for field in message.fields() {
        if !rng.random_bool(0.7) {
            continue;
        }
        let value = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                continue;
            };
            let key_kind = entry.map_entry_key_field().kind();
            let value_kind = entry.map_entry_value_field().kind();
            let mut map = std::collections::HashMap::new();
            for _ in 0..rng.random_range(0..3) {
                let key = random_value(&key_kind, rng, depth)
                    .into_map_key()
                    .expect("map keys are scalars");
                map.insert(key, random_value(&value_kind, rng, depth));
            }
            Value::Map(map)
        } else if field.is_list() {
            Value::List(
                (0..rng.random_range(0..4))
                    .map(|_| random_value(&field.kind(), rng, depth))
                    .collect(),
            )
        } else {
            random_value(&field.kind(), rng, depth)
        };
        out.set_field(&field, value);
    }
    if rng.random_bool(0.3) {
        out = with_unknown_field(&out, 4000 + rng.random_range(0..100));
    }
    out
}

/// Re-decodes `message` with a varint field the schema does not know appended.
fn with_unknown_field(message: &DynamicMessage, number: u32) -> DynamicMessage {
    let mut bytes = message.encode_to_vec();
    let mut varint = |mut n: u64| loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    };
    varint(u64::from(number) << 3);
    varint(42);
    DynamicMessage::decode(message.descriptor(), bytes.as_slice()).expect("decodes")
}

fn count_unknown(message: &DynamicMessage) -> usize {
    let mut count = message.unknown_fields().count();
    for (_, value) in message.fields() {
        for_each_message_ref(value, |inner| count += count_unknown(inner));
    }
    count
}

fn for_each_message_ref(value: &Value, mut f: impl FnMut(&DynamicMessage)) {
    match value {
        Value::Message(inner) => f(inner),
        Value::List(items) => items.iter().filter_map(Value::as_message).for_each(f),
        Value::Map(entries) => entries.values().filter_map(Value::as_message).for_each(f),
        _ => {}
    }
}

fn is_released(listed: &[String], path: &str) -> bool {
    listed.iter().any(|p| {
        path == p
            || path
                .strip_prefix(p.as_str())
                .is_some_and(|r| r.starts_with('.'))
    })
}

fn is_on_the_way(listed: &[String], path: &str) -> bool {
    listed
        .iter()
        .any(|p| p.strip_prefix(path).is_some_and(|r| r.starts_with('.')))
}

/// Asserts no field outside `listed` is set anywhere in `message`, and no unknown field.
fn assert_within(message: &DynamicMessage, listed: &[String], prefix: &str) {
    assert_eq!(
        message.unknown_fields().count(),
        0,
        "unknown field under {prefix:?}"
    );
    for (field, value) in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        assert!(
            is_released(listed, &path) || is_on_the_way(listed, &path),
            "{path} is set but the mask {listed:?} does not release it"
        );
        for_each_message_ref(value, |inner| assert_within(inner, listed, &path));
    }
}

/// The message flattened to (path with element indices and map keys, value), sorted: a
/// comparison that ignores how the message is stored internally.
fn flatten(message: &DynamicMessage, prefix: &str, out: &mut Vec<(String, String)>) {
    for (field, value) in message.fields() {
        let path = format!("{prefix}/{}", field.name());
        flatten_value(value, &path, out);
    }
}

fn flatten_value(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Message(inner) => {
            out.push((path.to_owned(), "<message>".to_owned()));
            flatten(inner, path, out);
        }
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_value(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Map(entries) => {
            for (key, item) in entries {
                flatten_value(item, &format!("{path}[{key:?}]"), out);
            }
        }
        other => out.push((path.to_owned(), format!("{other:?}"))),
    }
}

fn flat(message: &DynamicMessage) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten(message, "", &mut out);
    out.sort();
    out
}

/// What applying `listed` must leave, computed the slow, obvious way.
fn expected(message: &DynamicMessage, listed: &[String], prefix: &str) -> DynamicMessage {
    let mut out = DynamicMessage::new(message.descriptor());
    for (field, value) in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        if is_released(listed, &path) {
            out.set_field(&field, value.clone());
        } else if is_on_the_way(listed, &path) {
            let descend = |v: &Value| match v {
                Value::Message(inner) => Value::Message(expected(inner, listed, &path)),
                other => other.clone(),
            };
            let kept = match value {
                Value::List(items) => Value::List(items.iter().map(descend).collect()),
                Value::Map(entries) => Value::Map(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), descend(v)))
                        .collect(),
                ),
                other => descend(other),
            };
            out.set_field(&field, kept);
        }
    }
    out
}

fn response_types() -> Vec<MessageDescriptor> {
    let mut types: Vec<MessageDescriptor> = descriptors::domain_services()
        .flat_map(|service| service.methods().map(|m| m.output()).collect::<Vec<_>>())
        .collect();
    types.push(
        test_pool()
            .get_message_by_name("test.Outer")
            .expect("Outer"),
    );
    types
}

#[test]
fn property_nothing_outside_the_mask_survives_and_released_fields_are_unchanged() {
    let mut rng = StdRng::seed_from_u64(0x7d_2025);
    let types = response_types();
    assert!(types.len() >= 11);
    for round in 0..600 {
        let message_type = &types[round % types.len()];
        let mut candidates = Vec::new();
        all_paths(message_type, "", 3, &mut candidates);
        let density = rng.random_range(0.0..0.4);
        let listed: Vec<String> = candidates
            .into_iter()
            .filter(|_| rng.random_bool(density))
            .collect();
        let mask = FieldMask::compile(message_type, &listed).expect("paths from the schema");
        let original = random_message(message_type, &mut rng, 0);
        let mut masked = original.clone();
        mask.apply(&mut masked);

        assert_within(&masked, &listed, "");
        // Unknown fields are dropped at every depth, so compare with the original without them.
        let mut want = expected(&original, &listed, "");
        let none_unknown =
            FieldMask::compile(message_type, &top_level(message_type)).expect("valid");
        none_unknown.apply(&mut want);
        assert_eq!(
            flat(&masked),
            flat(&want),
            "round {round}: {} with mask {listed:?}",
            message_type.full_name()
        );
        // Applying twice changes nothing more.
        let mut again = masked.clone();
        mask.apply(&mut again);
        assert_eq!(flat(&again), flat(&masked));
    }
}

/// Every top-level field: a mask that releases everything, which only drops unknown fields.
fn top_level(message: &MessageDescriptor) -> Vec<String> {
    message.fields().map(|f| f.name().to_owned()).collect()
}
