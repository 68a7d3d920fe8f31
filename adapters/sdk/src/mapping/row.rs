//! [`SourceRow`] for the shapes adapters read: header/value maps and pairs, JSON objects and
//! fixed-width lines.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
};

use super::SourceRow;

/// A reference to a row is the row.
impl<T: SourceRow + ?Sized> SourceRow for &T {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).column(name)
    }

    fn raw(&self) -> Option<&[u8]> {
        (**self).raw()
    }
}

impl<S: std::hash::BuildHasher> SourceRow for HashMap<String, String, S> {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

impl SourceRow for BTreeMap<String, String> {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// Header/value pairs; the first pair with the header wins.
impl SourceRow for [(&str, &str)] {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.iter()
            .find(|(header, _)| *header == name)
            .map(|(_, value)| Cow::Borrowed(*value))
    }
}

/// Header/value pairs; the first pair with the header wins.
impl SourceRow for [(String, String)] {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| Cow::Borrowed(value.as_str()))
    }
}

/// Header/value pairs; the first pair with the header wins.
impl SourceRow for Vec<(String, String)> {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.as_slice().column(name)
    }
}

/// Header/value pairs; the first pair with the header wins.
impl SourceRow for Vec<(&str, &str)> {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.as_slice().column(name)
    }
}

/// The text of a JSON value as a column: strings as they are, numbers and booleans as their
/// JSON text, arrays and objects as compact JSON (so a converter names them in its error);
/// `null` is absent.
fn json_text(value: &serde_json::Value) -> Option<Cow<'_, str>> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        serde_json::Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
        other @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
            Some(Cow::Owned(other.to_string()))
        }
    }
}

/// A JSON object's keys are its columns. A key that is not in the object but contains dots
/// (`patient.name`) is looked up as a path through nested objects.
impl SourceRow for serde_json::Map<String, serde_json::Value> {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(value) = self.get(name) {
            return json_text(value);
        }
        if !name.contains('.') {
            return None;
        }
        let mut segments = name.split('.');
        let mut current = self.get(segments.next()?)?;
        for segment in segments {
            current = current.as_object()?.get(segment)?;
        }
        json_text(current)
    }
}

/// A JSON object as its map; any other JSON value has no columns.
impl SourceRow for serde_json::Value {
    fn column(&self, name: &str) -> Option<Cow<'_, str>> {
        self.as_object().and_then(|object| object.column(name))
    }
}

/// One raw record of a fixed-width file (without its line terminator), for `slice` fields. It
/// has no named columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWidthLine<'a>(pub &'a [u8]);

impl SourceRow for FixedWidthLine<'_> {
    fn column(&self, _name: &str) -> Option<Cow<'_, str>> {
        None
    }

    fn raw(&self) -> Option<&[u8]> {
        Some(self.0)
    }
}
