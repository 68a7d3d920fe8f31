//! A strict reader over toml's spanned document tree.
//!
//! serde stops at the first problem; NDC wants every problem of a file at once, each with its
//! line. So policy files are parsed into [`DeTable`] (which keeps the byte span of every key and
//! value) and read by hand: each getter reports a wrong type, a missing key or an unknown key to
//! the file's [`FileCx`] and carries on.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::PolicyError;

/// Byte range in a file's text.
pub(crate) type Span = Range<usize>;

/// A file being read: its name, where its lines start, and the problems found so far.
#[derive(Debug)]
pub(crate) struct FileCx {
    pub(crate) name: String,
    line_starts: Vec<usize>,
    pub(crate) errors: Vec<PolicyError>,
}

impl FileCx {
    pub(crate) fn new(name: &str, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self {
            name: name.to_owned(),
            line_starts,
            errors: Vec::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> u32 {
        let index = self.line_starts.partition_point(|&start| start <= offset);
        index.max(1) as u32
    }

    /// Byte offset where 1-based `line` starts, to report at a line already known.
    pub(crate) fn line_start(&self, line: u32) -> usize {
        let index = (line as usize).saturating_sub(1);
        self.line_starts.get(index).copied().unwrap_or(0)
    }

    pub(crate) fn error(&mut self, span: &Span, message: impl Into<String>) {
        let line = self.line(span.start);
        self.errors.push(PolicyError {
            file: self.name.clone(),
            line: Some(line),
            message: message.into(),
        });
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Parses a whole file. Syntax errors are reported (all of them, with recovery) and the file is
/// then not read further: a half-parsed file would only add misleading follow-on errors.
pub(crate) fn parse_document<'i>(cx: &mut FileCx, text: &'i str) -> Option<Spanned<DeTable<'i>>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(table);
    }
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        let message = format!("TOML syntax: {}", error.message().trim_end());
        cx.error(&span, message);
    }
    None
}

/// A table read strictly: keys outside `allowed` are reported when it is opened.
#[derive(Debug, Clone)]
pub(crate) struct Table<'t, 'i> {
    table: &'t DeTable<'i>,
    header: Span,
    what: &'static str,
}

/// The type of a TOML value as named in error messages.
pub(crate) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'t, 'i> Table<'t, 'i> {
    /// Opens `value` as a table described as `what` (e.g. "rule"), reporting every key not in
    /// `allowed`.
    pub(crate) fn open(
        cx: &mut FileCx,
        value: &'t Spanned<DeValue<'i>>,
        what: &'static str,
        allowed: &[&str],
    ) -> Option<Self> {
        let DeValue::Table(table) = value.get_ref() else {
            cx.error(
                &value.span(),
                format!(
                    "expected a table ({what}), found {}",
                    type_name(value.get_ref())
                ),
            );
            return None;
        };
        let this = Self {
            table,
            header: value.span(),
            what,
        };
        this.reject_unknown(cx, allowed);
        Some(this)
    }

    /// The document root, with the top-level keys it may hold.
    pub(crate) fn root(
        cx: &mut FileCx,
        root: &'t Spanned<DeTable<'i>>,
        what: &'static str,
        allowed: &[&str],
    ) -> Self {
        let this = Self {
            table: root.get_ref(),
            header: 0..0,
            what,
        };
        this.reject_unknown(cx, allowed);
        this
    }

    fn reject_unknown(&self, cx: &mut FileCx, allowed: &[&str]) {
        for key in self.table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                cx.error(
                    &key.span(),
                    format!(
                        "unknown key `{}` in {} (expected one of: {})",
                        key.get_ref(),
                        self.what,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// Line of the table's header (`[[rule]]`), where "missing key" problems are reported.
    pub(crate) fn header_span(&self) -> Span {
        self.header.clone()
    }

    /// Every key and value, in file order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'t str, &'t Spanned<DeValue<'i>>)> {
        self.table
            .iter()
            .map(|(key, value)| (key.get_ref().as_ref(), value))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    fn required(&self, cx: &mut FileCx, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        let value = self.get(key);
        if value.is_none() {
            cx.error(&self.header, format!("{} is missing `{key}`", self.what));
        }
        value
    }

    /// A required string.
    pub(crate) fn req_str(&self, cx: &mut FileCx, key: &str) -> Option<Spanned<&'t str>> {
        self.required(cx, key).and_then(|v| as_str(cx, key, v))
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, cx: &mut FileCx, key: &str) -> Option<Spanned<&'t str>> {
        self.get(key).and_then(|v| as_str(cx, key, v))
    }

    /// A required boolean.
    pub(crate) fn req_bool(&self, cx: &mut FileCx, key: &str) -> Option<bool> {
        let value = self.required(cx, key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                cx.error(
                    &value.span(),
                    format!("`{key}` must be true or false, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An optional non-negative integer.
    pub(crate) fn opt_uint(&self, cx: &mut FileCx, key: &str) -> Option<Spanned<u64>> {
        self.get(key).and_then(|v| as_uint(cx, key, v))
    }

    /// A required non-negative integer.
    pub(crate) fn req_uint(&self, cx: &mut FileCx, key: &str) -> Option<Spanned<u64>> {
        self.required(cx, key).and_then(|v| as_uint(cx, key, v))
    }

    /// A required array of strings (each with its own span).
    pub(crate) fn req_str_list(&self, cx: &mut FileCx, key: &str) -> Option<Vec<Spanned<&'t str>>> {
        self.required(cx, key).and_then(|v| as_str_list(cx, key, v))
    }

    /// An optional array of strings.
    pub(crate) fn opt_str_list(&self, cx: &mut FileCx, key: &str) -> Option<Vec<Spanned<&'t str>>> {
        self.get(key).and_then(|v| as_str_list(cx, key, v))
    }

    /// An optional instant: a TOML offset datetime or an RFC 3339 string, as Unix seconds.
    /// A datetime without an offset is refused: policy windows must not depend on the host's
    /// time zone.
    pub(crate) fn opt_instant(&self, cx: &mut FileCx, key: &str) -> Option<Spanned<i64>> {
        let value = self.get(key)?;
        let text = match value.get_ref() {
            DeValue::Datetime(datetime) => datetime.to_string(),
            DeValue::String(text) => text.to_string(),
            other => {
                cx.error(
                    &value.span(),
                    format!(
                        "`{key}` must be an RFC 3339 date-time, found {}",
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        match parse_rfc3339(&text) {
            Some(seconds) => Some(Spanned::new(value.span(), seconds)),
            None => {
                cx.error(
                    &value.span(),
                    format!(
                        "`{key}` = {text:?} is not an RFC 3339 date-time with an offset, \
                         e.g. 2025-01-01T00:00:00+08:00"
                    ),
                );
                None
            }
        }
    }

    /// An optional array of tables (`[[key]]`), each opened strictly.
    pub(crate) fn tables(
        &self,
        cx: &mut FileCx,
        key: &str,
        what: &'static str,
        allowed: &[&str],
    ) -> Vec<Self> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            cx.error(
                &value.span(),
                format!(
                    "`{key}` must be an array of tables ([[{key}]]), found {}",
                    type_name(value.get_ref())
                ),
            );
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| Self::open(cx, item, what, allowed))
            .collect()
    }

    /// An optional sub-table (`key = { … }`), opened strictly.
    pub(crate) fn sub_table(
        &self,
        cx: &mut FileCx,
        key: &str,
        what: &'static str,
        allowed: &[&str],
    ) -> Option<Self> {
        self.get(key)
            .and_then(|value| Self::open(cx, value, what, allowed))
    }
}

fn as_str<'t>(
    cx: &mut FileCx,
    key: &str,
    value: &'t Spanned<DeValue<'_>>,
) -> Option<Spanned<&'t str>> {
    match value.get_ref() {
        DeValue::String(text) => Some(Spanned::new(value.span(), text.as_ref())),
        other => {
            cx.error(
                &value.span(),
                format!("`{key}` must be a string, found {}", type_name(other)),
            );
            None
        }
    }
}

fn as_uint(cx: &mut FileCx, key: &str, value: &Spanned<DeValue<'_>>) -> Option<Spanned<u64>> {
    if let DeValue::Integer(integer) = value.get_ref()
        && let Ok(n) = u64::from_str_radix(integer.as_str(), integer.radix())
    {
        return Some(Spanned::new(value.span(), n));
    }
    cx.error(
        &value.span(),
        format!(
            "`{key}` must be a non-negative integer, found {}",
            type_name(value.get_ref())
        ),
    );
    None
}

fn as_str_list<'t>(
    cx: &mut FileCx,
    key: &str,
    value: &'t Spanned<DeValue<'_>>,
) -> Option<Vec<Spanned<&'t str>>> {
    let DeValue::Array(items) = value.get_ref() else {
        cx.error(
            &value.span(),
            format!(
                "`{key}` must be an array of strings, found {}",
                type_name(value.get_ref())
            ),
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        match item.get_ref() {
            DeValue::String(text) => out.push(Spanned::new(item.span(), text.as_ref())),
            other => cx.error(
                &item.span(),
                format!("`{key}` must hold strings only, found {}", type_name(other)),
            ),
        }
    }
    Some(out)
}

/// RFC 3339 with a mandatory offset, to Unix seconds.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// Unix seconds as RFC 3339 in Taiwan time (UTC+8), for messages NDC and callers read.
pub(crate) fn format_instant(seconds: i64) -> String {
    let taipei = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.to_offset(taipei)
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{seconds}"))
}

#[cfg(test)]
mod tests;
