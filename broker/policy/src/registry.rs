//! The agency registry: which government OIDs belong to which agency (機關代碼 and name).
//!
//! Modelled on MODA's public `GDS.csv` (OrgName, OID, OrgCode). An agency certificate whose
//! government OID is not registered here identifies nobody on the bus.

use std::collections::HashMap;

use serde::Deserialize;

/// One registered agency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyEntry {
    /// Agency code (機關代碼), 10 characters, e.g. `307000000D`.
    pub code: String,
    /// Official name, e.g. 財政部.
    pub name: String,
    /// Government OID carried in the agency's certificates, e.g. `2.16.886.101.20003.20004`.
    pub government_oid: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    agency: Vec<AgencyEntry>,
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
    /// One entry per problem, with the line where it is known.
    pub problems: Vec<String>,
}

impl AgencyRegistry {
    /// Parses a registry file's text (`[[agency]]` tables). `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, RegistryError> {
        let fail = |problems| RegistryError {
            file: file.to_owned(),
            problems,
        };
        let parsed: RegistryFile =
            toml::from_str(text).map_err(|e| fail(vec![e.to_string().replace('\n', " ")]))?;
        let mut registry = Self::default();
        let mut problems = Vec::new();
        for (index, entry) in parsed.agency.into_iter().enumerate() {
            let at = format!("agency #{} ({})", index + 1, entry.name);
            if !is_agency_code(&entry.code) {
                problems.push(format!(
                    "{at}: code {:?} is not 9 letters/digits and a letter",
                    entry.code
                ));
            }
            if !is_oid(&entry.government_oid) {
                problems.push(format!(
                    "{at}: government_oid {:?} is not a dotted OID",
                    entry.government_oid
                ));
            }
            if registry
                .by_oid
                .insert(entry.government_oid.clone(), index)
                .is_some()
            {
                problems.push(format!(
                    "{at}: government_oid {} is registered twice",
                    entry.government_oid
                ));
            }
            if registry.by_code.insert(entry.code.clone(), index).is_some() {
                problems.push(format!("{at}: code {} is registered twice", entry.code));
            }
            registry.agencies.push(entry);
        }
        if problems.is_empty() {
            Ok(registry)
        } else {
            Err(fail(problems))
        }
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
mod tests {
    use super::*;

    #[test]
    fn shipped_registry_parses() {
        let text = include_str!("../../../policies/agencies.toml");
        let registry =
            AgencyRegistry::parse("agencies.toml", text).expect("shipped registry is valid");
        let mof = registry
            .by_oid("2.16.886.101.20003.20004")
            .expect("財政部 registered");
        assert_eq!(mof.code, "307000000D");
        assert_eq!(
            registry.by_code("307000000D").map(|a| a.name.as_str()),
            Some("財政部")
        );
        assert!(registry.by_oid("2.16.886.101.20003.99999").is_none());
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
[[agency]]
code = "bad"
name = "A"
government_oid = "1.2.x"
[[agency]]
code = "307000000D"
name = "B"
government_oid = "1.2.3"
[[agency]]
code = "307000000D"
name = "C"
government_oid = "1.2.3"
"#;
        let error = AgencyRegistry::parse("test.toml", text).expect_err("invalid");
        assert_eq!(error.problems.len(), 4, "{error}");
    }

    #[test]
    fn unknown_key_is_refused() {
        let text =
            "[[agency]]\ncode = \"307000000D\"\nname = \"B\"\ngovernment_oid = \"1.2\"\noops = 1\n";
        let error = AgencyRegistry::parse("test.toml", text).expect_err("unknown key");
        assert!(error.to_string().contains("oops"), "{error}");
    }
}
