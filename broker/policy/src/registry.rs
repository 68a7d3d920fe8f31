//! The agency registry: which government OIDs belong to which agency (機關代碼 and name).
//!
//! Modelled on MODA's public `GDS.csv` (OrgName, OID, OrgCode). An agency certificate whose
//! government OID is not registered here identifies nobody on the bus.

use std::collections::HashMap;

use crate::toml_read::{FileCx, Table, parse_document};

/// One registered agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyEntry {
    /// Agency code (機關代碼), 10 characters, e.g. `307000000D`.
    pub code: String,
    /// Official name, e.g. 財政部.
    pub name: String,
    /// Government OID carried in the agency's certificates, e.g. `2.16.886.101.20003.20004`.
    pub government_oid: String,
}

/// Government OID → agency, and agency code → agency.
#[derive(Debug, Clone, Default)]
pub struct AgencyRegistry {
    agencies: Vec<AgencyEntry>,
    by_oid: HashMap<String, usize>,
    by_code: HashMap<String, usize>,
}

/// A registry file that cannot be used; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}", problems.join("; "))]
pub struct RegistryError {
    /// The file name given to [`AgencyRegistry::parse`].
    pub file: String,
    /// One entry per problem, each starting with its line (`line 7: …`).
    pub problems: Vec<String>,
}

impl AgencyRegistry {
    /// Parses a registry file's text (`[[agency]]` tables). `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, RegistryError> {
        let mut cx = FileCx::new(file, text);
        let registry = Self::read(&mut cx, text);
        if cx.has_errors() {
            Err(RegistryError {
                file: file.to_owned(),
                problems: cx
                    .errors
                    .into_iter()
                    .map(|e| match e.line {
                        Some(line) => format!("line {line}: {}", e.message),
                        None => e.message,
                    })
                    .collect(),
            })
        } else {
            Ok(registry)
        }
    }

    /// Reads the file, reporting every problem to `cx`. Entries with a usable code are kept
    /// even when something else about them is wrong, so the files that refer to them are not
    /// flooded with follow-on "unknown agency" errors.
    pub(crate) fn read(cx: &mut FileCx, text: &str) -> Self {
        let mut registry = Self::default();
        let Some(root) = parse_document(cx, text) else {
            return registry;
        };
        let root = Table::root(cx, &root, "agencies.toml", &["agency"]);
        for table in root.tables(cx, "agency", "agency", &["code", "name", "government_oid"]) {
            let code = table.req_str(cx, "code");
            let name = table.req_str(cx, "name");
            let oid = table.req_str(cx, "government_oid");
            let (Some(code), Some(name), Some(oid)) = (code, name, oid) else {
                continue;
            };
            if !is_agency_code(code.get_ref()) {
                cx.error(
                    &code.span(),
                    format!(
                        "agency code {:?} is not 9 letters/digits and a letter",
                        code.get_ref()
                    ),
                );
            }
            if !is_oid(oid.get_ref()) {
                cx.error(
                    &oid.span(),
                    format!("government_oid {:?} is not a dotted OID", oid.get_ref()),
                );
            }
            let index = registry.agencies.len();
            let duplicate_oid = registry.by_oid.contains_key(*oid.get_ref());
            if duplicate_oid {
                cx.error(
                    &oid.span(),
                    format!("government_oid {} is registered twice", oid.get_ref()),
                );
            }
            if registry.by_code.contains_key(*code.get_ref()) {
                cx.error(
                    &code.span(),
                    format!("agency code {} is registered twice", code.get_ref()),
                );
                continue;
            }
            registry.by_code.insert((*code.get_ref()).to_owned(), index);
            if !duplicate_oid {
                registry.by_oid.insert((*oid.get_ref()).to_owned(), index);
            }
            registry.agencies.push(AgencyEntry {
                code: (*code.get_ref()).to_owned(),
                name: (*name.get_ref()).to_owned(),
                government_oid: (*oid.get_ref()).to_owned(),
            });
        }
        registry
    }

    /// The agency a government OID belongs to. Exact match only: a unit with its own OID must be
    /// registered itself, so registering a ministry never silently admits all its units.
    pub fn by_oid(&self, government_oid: &str) -> Option<&AgencyEntry> {
        self.by_oid.get(government_oid).map(|&i| &self.agencies[i])
    }

    /// The agency with this code.
    pub fn by_code(&self, code: &str) -> Option<&AgencyEntry> {
        self.by_code.get(code).map(|&i| &self.agencies[i])
    }

    /// Every registered agency, in file order.
    pub fn agencies(&self) -> &[AgencyEntry] {
        &self.agencies
    }
}

fn is_agency_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 10
        && bytes[..9]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && bytes[9].is_ascii_uppercase()
}

fn is_oid(oid: &str) -> bool {
    oid.split('.').count() >= 2
        && oid
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
