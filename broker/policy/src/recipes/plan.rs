//! How a leg builds its requests at run time, from the checked input and earlier legs'
//! answers. Everything here was type-checked when the recipe compiled; what can still go wrong
//! (an earlier leg that did not answer, an empty subject, a number too large for its field) is
//! a [`LegInputError`], never a panic.

use std::collections::BTreeMap;

use prost::Message as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use super::LegInputError;

/// Where one request field's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A literal from the recipe file, already converted to the field's type.
    Literal(Value),
    /// `$input.<name>`.
    Input(String),
    /// `$<leg>.<path>`: a field of an earlier leg's minimised answer.
    Leg {
        leg: usize,
        path: Vec<FieldDescriptor>,
    },
    /// `$each` (empty path) or `$each.<path>`: the current `for_each` item.
    Each(Vec<FieldDescriptor>),
}

/// One request field set from one source.
#[derive(Debug, Clone)]
pub(crate) struct Setter {
    /// The field in the request: singular message fields, then the field set.
    pub(crate) target: Vec<FieldDescriptor>,
    pub(crate) source: Source,
    /// The source as written in the recipe, for messages.
    pub(crate) written: String,
}

/// `for_each`: the repeated field of an earlier leg's answer whose items the leg calls once
/// each for.
#[derive(Debug, Clone)]
pub(crate) struct ForEach {
    pub(crate) leg: usize,
    pub(crate) path: Vec<FieldDescriptor>,
    pub(crate) written: String,
}

/// How a leg builds its requests; see [`super::Leg::requests`].
#[derive(Debug, Clone)]
pub(crate) struct RequestPlan {
    pub(crate) leg_name: String,
    /// The service's input message type.
    pub(crate) request: MessageDescriptor,
    /// The request's subject field (top level), when the service has one.
    pub(crate) subject: Option<FieldDescriptor>,
    pub(crate) setters: Vec<Setter>,
    pub(crate) for_each: Option<ForEach>,
    /// A bool path in the item: true means no call for that item.
    pub(crate) skip_if: Option<Vec<FieldDescriptor>>,
    pub(crate) max_calls: usize,
    /// Names of the recipe's legs, by index, for messages.
    pub(crate) leg_names: Vec<String>,
}

impl RequestPlan {
    pub(crate) fn requests(
        &self,
        input: &BTreeMap<String, String>,
        done: &[Option<DynamicMessage>],
    ) -> Result<Vec<bytes::Bytes>, LegInputError> {
        let Some(for_each) = &self.for_each else {
            let request = self.build(input, done, None)?;
            if !self.subject_is_set(&request) {
                return Err(self.error(&format!(
                    "the request's subject ({}) would be empty: the value it is read from is \
                     empty",
                    self.subject_name()
                )));
            }
            return Ok(vec![encode(&request)]);
        };
        let answer = self.answer(done, for_each.leg)?;
        let items = match read_path(answer, &for_each.path) {
            Some(Value::List(items)) => items,
            _ => Vec::new(),
        };
        let mut requests = Vec::new();
        for item in &items {
            if self.skips(item) {
                continue;
            }
            let request = self.build(input, done, Some(item))?;
            // An item without a subject (say, a member without a national ID) is not a call.
            if !self.subject_is_set(&request) {
                continue;
            }
            requests.push(request);
            if requests.len() > self.max_calls {
                return Err(self.error(&format!(
                    "{} would need more than max_calls = {} calls (one per item of {})",
                    self.leg_name, self.max_calls, for_each.written
                )));
            }
        }
        Ok(requests.iter().map(encode).collect())
    }

    fn build(
        &self,
        input: &BTreeMap<String, String>,
        done: &[Option<DynamicMessage>],
        item: Option<&Value>,
    ) -> Result<DynamicMessage, LegInputError> {
        let mut request = DynamicMessage::new(self.request.clone());
        for setter in &self.setters {
            let Some(field) = setter.target.last() else {
                continue;
            };
            let value = match &setter.source {
                Source::Literal(value) => value.clone(),
                Source::Input(name) => self.input_value(input, name, field)?,
                Source::Leg { leg, path } => {
                    let answer = self.answer(done, *leg)?;
                    let value = read_path(answer, path).ok_or_else(|| {
                        self.error(&format!("{} could not be read", setter.written))
                    })?;
                    self.convert(value, field, &setter.written)?
                }
                Source::Each(path) => {
                    let item = item.ok_or_else(|| {
                        self.error(&format!("{} is read outside a for_each", setter.written))
                    })?;
                    let value = match (path.is_empty(), item) {
                        (true, _) => Some(item.clone()),
                        (false, Value::Message(message)) => read_path(message, path),
                        (false, _) => None,
                    }
                    .ok_or_else(|| self.error(&format!("{} could not be read", setter.written)))?;
                    self.convert(value, field, &setter.written)?
                }
            };
            set_path(&mut request, &setter.target, value)
                .map_err(|why| self.error(&format!("{}: {why}", setter.written)))?;
        }
        Ok(request)
    }

    fn skips(&self, item: &Value) -> bool {
        let Some(path) = &self.skip_if else {
            return false;
        };
        match item {
            Value::Message(message) => matches!(read_path(message, path), Some(Value::Bool(true))),
            _ => false,
        }
    }

    fn answer<'d>(
        &self,
        done: &'d [Option<DynamicMessage>],
        leg: usize,
    ) -> Result<&'d DynamicMessage, LegInputError> {
        done.get(leg).and_then(Option::as_ref).ok_or_else(|| {
            let name = self.leg_names.get(leg).map_or("?", String::as_str);
            self.error(&format!(
                "it reads leg `{name}`, which has not answered (it failed, was refused or has \
                 not run yet)"
            ))
        })
    }

    fn input_value(
        &self,
        input: &BTreeMap<String, String>,
        name: &str,
        field: &FieldDescriptor,
    ) -> Result<Value, LegInputError> {
        let text = input
            .get(name)
            .ok_or_else(|| self.error(&format!("input `{name}` is missing")))?;
        match field.kind() {
            Kind::String => Ok(Value::String(text.clone())),
            kind => text
                .trim()
                .parse::<i128>()
                .ok()
                .and_then(|n| int_value(&kind, n))
                .ok_or_else(|| {
                    self.error(&format!(
                        "input `{name}` is not a number that fits `{}`",
                        field.name()
                    ))
                }),
        }
    }

    /// A value read from an answer, in the target field's type (integers change width when
    /// they fit).
    fn convert(
        &self,
        value: Value,
        field: &FieldDescriptor,
        written: &str,
    ) -> Result<Value, LegInputError> {
        let kind = field.kind();
        if is_integer(&kind) {
            return value_as_i128(&value)
                .and_then(|n| int_value(&kind, n))
                .ok_or_else(|| {
                    self.error(&format!(
                        "{written} does not fit `{}` ({:?})",
                        field.name(),
                        kind
                    ))
                });
        }
        Ok(value)
    }

    fn subject_is_set(&self, request: &DynamicMessage) -> bool {
        let Some(subject) = &self.subject else {
            return true;
        };
        if !request.has_field(subject) {
            return false;
        }
        match &*request.get_field(subject) {
            Value::String(text) => !text.trim().is_empty(),
            Value::Message(message) => message.fields().next().is_some(),
            _ => true,
        }
    }

    fn subject_name(&self) -> &str {
        self.subject.as_ref().map_or("-", FieldDescriptor::name)
    }

    fn error(&self, message: &str) -> LegInputError {
        LegInputError(format!("leg `{}`: {message}", self.leg_name))
    }
}

fn encode(message: &DynamicMessage) -> bytes::Bytes {
    bytes::Bytes::from(message.encode_to_vec())
}

/// The value at `path` in `message` (every step but the last a singular message field, as
/// checked at compile time); the default value where a field is unset.
pub(crate) fn read_path(message: &DynamicMessage, path: &[FieldDescriptor]) -> Option<Value> {
    let (last, steps) = path.split_last()?;
    let mut current = message.clone();
    for step in steps {
        let Value::Message(inner) = current.get_field(step).into_owned() else {
            return None;
        };
        current = inner;
    }
    Some(current.get_field(last).into_owned())
}

/// Sets the field at `target` (singular message fields, then the field) to `value`.
fn set_path(
    message: &mut DynamicMessage,
    target: &[FieldDescriptor],
    value: Value,
) -> Result<(), String> {
    let Some((last, steps)) = target.split_last() else {
        return Err("no field to set".to_owned());
    };
    let mut current = message;
    for step in steps {
        match current.get_field_mut(step) {
            Value::Message(inner) => current = inner,
            _ => return Err(format!("`{}` is not a message", step.name())),
        }
    }
    current
        .try_set_field(last, value)
        .map_err(|e| format!("cannot set `{}`: {e}", last.name()))
}

pub(crate) fn is_integer(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Int32
            | Kind::Sint32
            | Kind::Sfixed32
            | Kind::Int64
            | Kind::Sint64
            | Kind::Sfixed64
            | Kind::Uint32
            | Kind::Fixed32
            | Kind::Uint64
            | Kind::Fixed64
    )
}

/// `n` as a value of an integer field of `kind`, if it fits.
pub(crate) fn int_value(kind: &Kind, n: i128) -> Option<Value> {
    match kind {
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => i32::try_from(n).ok().map(Value::I32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => i64::try_from(n).ok().map(Value::I64),
        Kind::Uint32 | Kind::Fixed32 => u32::try_from(n).ok().map(Value::U32),
        Kind::Uint64 | Kind::Fixed64 => u64::try_from(n).ok().map(Value::U64),
        _ => None,
    }
}

fn value_as_i128(value: &Value) -> Option<i128> {
    match value {
        Value::I32(n) => Some(i128::from(*n)),
        Value::I64(n) => Some(i128::from(*n)),
        Value::U32(n) => Some(i128::from(*n)),
        Value::U64(n) => Some(i128::from(*n)),
        _ => None,
    }
}
