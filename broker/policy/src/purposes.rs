//! The purpose registry: PDPA specific purposes (特定目的) a request may declare.
//!
//! A request names its purpose in `tongdao-purpose`; rules name the purposes they allow. Both
//! may use the code in any written form (`095`, `○九五`) or the registry's identifier
//! (`tax_administration`), and both resolve to the same [`Purpose`].

use std::collections::HashMap;

use crate::codes::Purpose;
use crate::index::PurposeSet;
use crate::toml_read::{FileCx, Table, parse_document};

/// One registered purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeEntry {
    /// The code, e.g. `095`.
    pub code: Purpose,
    /// Official name, e.g. 財稅行政.
    pub name: String,
    /// Identifier for configuration and logs, e.g. `tax_administration`.
    pub id: String,
    /// Whether a citizen may declare it to read their own records (`self_access = true`):
    /// only such purposes may appear in `citizen:self` rules.
    pub self_access: bool,
}

/// Registered purposes by code and by identifier.
#[derive(Debug, Clone)]
pub struct PurposeRegistry {
    entries: Vec<PurposeEntry>,
    /// Code number → index + 1 (0 = unregistered). A flat table keeps the per-request lookup
    /// to one load.
    by_number: Box<[u16; 1000]>,
    by_id: HashMap<String, usize>,
}

impl Default for PurposeRegistry {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            by_number: Box::new([0; 1000]),
            by_id: HashMap::new(),
        }
    }
}

impl PurposeRegistry {
    pub(crate) fn read(cx: &mut FileCx, text: &str) -> Self {
        let mut registry = Self::default();
        let Some(root) = parse_document(cx, text) else {
            return registry;
        };
        let root = Table::root(cx, &root, "purposes.toml", &["purpose"]);
        for table in root.tables(
            cx,
            "purpose",
            "purpose",
            &["code", "name", "id", "self_access"],
        ) {
            let self_access = match table.get("self_access") {
                None => false,
                Some(value) => match value.get_ref() {
                    toml::de::DeValue::Boolean(b) => *b,
                    _ => {
                        cx.error(&value.span(), "`self_access` must be true or false");
                        false
                    }
                },
            };
            let code = table.req_str(cx, "code");
            let name = table.req_str(cx, "name");
            let id = table.req_str(cx, "id");
            let (Some(code), Some(name), Some(id)) = (code, name, id) else {
                continue;
            };
            let Some(purpose) = Purpose::parse_code(code.get_ref()) else {
                cx.error(
                    &code.span(),
                    format!(
                        "purpose code {:?} is not three digits (e.g. \"095\" or \"○九五\")",
                        code.get_ref()
                    ),
                );
                continue;
            };
            if name.get_ref().trim().is_empty() {
                cx.error(&name.span(), "purpose name is empty");
            }
            if !is_identifier(id.get_ref()) {
                cx.error(
                    &id.span(),
                    format!(
                        "purpose id {:?} must be lowercase letters, digits and underscores",
                        id.get_ref()
                    ),
                );
            }
            let slot = &mut registry.by_number[usize::from(purpose.number())];
            if *slot != 0 {
                cx.error(
                    &code.span(),
                    format!("purpose {purpose} is registered twice"),
                );
                continue;
            }
            if registry.by_id.contains_key(*id.get_ref()) {
                cx.error(
                    &id.span(),
                    format!("purpose id {} is registered twice", id.get_ref()),
                );
                continue;
            }
            let index = registry.entries.len();
            if index == PurposeSet::CAPACITY {
                cx.error(
                    &code.span(),
                    format!(
                        "more than {} purposes registered; the official list has 182",
                        PurposeSet::CAPACITY
                    ),
                );
                continue;
            }
            *slot = (index + 1) as u16;
            registry.by_id.insert((*id.get_ref()).to_owned(), index);
            registry.entries.push(PurposeEntry {
                code: purpose,
                name: (*name.get_ref()).to_owned(),
                id: (*id.get_ref()).to_owned(),
                self_access,
            });
        }
        registry
    }

    /// The registered purpose `text` names: a code in any written form, or an identifier.
    pub fn resolve(&self, text: &str) -> Option<&PurposeEntry> {
        if let Some(purpose) = Purpose::parse_code(text) {
            return self.get(purpose);
        }
        self.by_id.get(text.trim()).map(|&i| &self.entries[i])
    }

    /// The registry index (for [`PurposeSet`]) and code of the purpose `text` names.
    pub(crate) fn resolve_index(&self, text: &str) -> Option<(usize, Purpose)> {
        let index = match Purpose::parse_code(text) {
            Some(purpose) => match self.by_number.get(usize::from(purpose.number())) {
                Some(&slot) if slot != 0 => usize::from(slot) - 1,
                _ => return None,
            },
            None => *self.by_id.get(text.trim())?,
        };
        Some((index, self.entries[index].code))
    }

    /// The registry index of a registered code.
    pub(crate) fn index_of(&self, purpose: Purpose) -> Option<usize> {
        match self.by_number.get(usize::from(purpose.number())) {
            Some(&slot) if slot != 0 => Some(usize::from(slot) - 1),
            _ => None,
        }
    }

    /// The entry of a registered code.
    pub fn get(&self, purpose: Purpose) -> Option<&PurposeEntry> {
        match self.by_number.get(usize::from(purpose.number())) {
            Some(&slot) if slot != 0 => self.entries.get(usize::from(slot) - 1),
            _ => None,
        }
    }

    /// Every registered purpose, in file order.
    pub fn entries(&self) -> &[PurposeEntry] {
        &self.entries
    }
}

pub(crate) fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests;
