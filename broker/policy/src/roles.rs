//! The role registry: named groups of agencies (auditors, policy administrators, social-welfare
//! offices) that rules and the broker's own API can grant to at once.
//!
//! Rules name a role as `role:<name>`; the policy compiler expands it to its agencies, so a
//! decision never looks roles up.

use std::collections::HashMap;

use crate::purposes::is_identifier;
use crate::registry::AgencyRegistry;
use crate::toml_read::{FileCx, Table, parse_document};

/// One role and the agencies that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleEntry {
    /// Role name, e.g. `auditor`.
    pub name: String,
    /// What holding the role means.
    pub description: Option<String>,
    /// Agency codes holding the role, in file order.
    pub agencies: Vec<String>,
}

/// Roles by name.
#[derive(Debug, Clone, Default)]
pub struct RoleRegistry {
    entries: Vec<RoleEntry>,
    by_name: HashMap<String, usize>,
}

impl RoleRegistry {
    /// `agencies` is `None` when the agency registry itself failed (see
    /// [`crate::ServiceRegistry`]).
    pub(crate) fn read(cx: &mut FileCx, text: &str, agencies: Option<&AgencyRegistry>) -> Self {
        let mut registry = Self::default();
        let Some(root) = parse_document(cx, text) else {
            return registry;
        };
        let root = Table::root(cx, &root, "roles.toml", &["role"]);
        for table in root.tables(cx, "role", "role", &["name", "description", "agencies"]) {
            let name = table.req_str(cx, "name");
            let description = table.opt_str(cx, "description");
            let members = table.req_str_list(cx, "agencies");
            let Some(name) = name else { continue };
            if !is_identifier(name.get_ref()) {
                cx.error(
                    &name.span(),
                    format!(
                        "role name {:?} must be lowercase letters, digits and underscores",
                        name.get_ref()
                    ),
                );
            }
            if registry.by_name.contains_key(*name.get_ref()) {
                cx.error(
                    &name.span(),
                    format!("role {} is defined twice", name.get_ref()),
                );
                continue;
            }
            let mut codes: Vec<String> = Vec::new();
            for code in members.iter().flatten() {
                if agencies.is_some_and(|a| a.by_code(code.get_ref()).is_none()) {
                    cx.error(
                        &code.span(),
                        format!("agency {} is not in agencies.toml", code.get_ref()),
                    );
                } else if codes.iter().any(|c| c == code.get_ref()) {
                    cx.error(
                        &code.span(),
                        format!("agency {} is listed twice", code.get_ref()),
                    );
                } else {
                    codes.push((*code.get_ref()).to_owned());
                }
            }
            registry
                .by_name
                .insert((*name.get_ref()).to_owned(), registry.entries.len());
            registry.entries.push(RoleEntry {
                name: (*name.get_ref()).to_owned(),
                description: description.map(|d| (*d.get_ref()).to_owned()),
                agencies: codes,
            });
        }
        registry
    }

    /// The role with this name.
    pub fn get(&self, name: &str) -> Option<&RoleEntry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// Whether `agency_code` holds `role` (e.g. for the audit API's `ROLE_REQUIRED` check).
    pub fn holds(&self, agency_code: &str, role: &str) -> bool {
        self.get(role)
            .is_some_and(|r| r.agencies.iter().any(|a| a == agency_code))
    }

    /// Every role, in file order.
    pub fn entries(&self) -> &[RoleEntry] {
        &self.entries
    }
}
