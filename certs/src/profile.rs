//! The certificate profile: attribute OIDs, subject-class OIDs and which authority may issue
//! which principal kind, read from strict TOML (`certs/profile.toml` is the shipped default).
//!
//! The OIDs are configuration because the public sources for them are corroborated rather than
//! verified (taiwan.md §1): a wrong OID must be a config fix, not a release.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The shipped profile text (`certs/profile.toml`), compiled in so a binary works without files.
pub const EMBEDDED_PROFILE: &str = include_str!("../profile.toml");

/// A dotted-decimal object identifier, validated on construction.
///
/// Kept as arcs rather than a string so comparisons cannot be fooled by spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Oid(Vec<u64>);

/// Why a string is not an OID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OID {text:?}: {why}")]
pub struct OidError {
    /// The rejected text.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Oid {
    /// Parses dotted decimal (`2.16.886.1.100.2.1`); rejects leading zeros, empty arcs, fewer
    /// than two arcs and first arcs that DER cannot encode.
    pub fn parse(text: &str) -> Result<Self, OidError> {
        let err = |why| OidError {
            text: text.to_owned(),
            why,
        };
        let mut arcs = Vec::new();
        for arc in text.split('.') {
            if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("arcs must be decimal numbers"));
            }
            if arc.len() > 1 && arc.starts_with('0') {
                return Err(err("arcs must not have leading zeros"));
            }
            arcs.push(arc.parse::<u64>().map_err(|_| err("arc too large"))?);
        }
        match arcs.as_slice() {
            [first, second, ..] if *first <= 2 && (*first == 2 || *second <= 39) => {
                // DER packs the first two arcs into one sub-identifier: 40*first + second.
                if second.checked_add(40 * first).is_none() {
                    return Err(err("second arc too large"));
                }
                Ok(Oid(arcs))
            }
            [_, _, ..] => Err(err(
                "first arc must be 0, 1 or 2 (second ≤ 39 under 0 and 1)",
            )),
            _ => Err(err("an OID has at least two arcs")),
        }
    }

    /// The arcs, e.g. `[2, 5, 29, 9]`.
    pub fn arcs(&self) -> &[u64] {
        &self.0
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl FromStr for Oid {
    type Err = OidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Oid::parse(s)
    }
}

impl TryFrom<String> for Oid {
    type Error = OidError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Oid::parse(&s)
    }
}

impl From<Oid> for String {
    fn from(oid: Oid) -> String {
        oid.to_string()
    }
}

/// The kind of principal a certificate identifies; authorities are permitted per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A natural person (自然人憑證, MOICA).
    Citizen,
    /// A government agency or one of its units (機關/單位憑證, GCA).
    Agency,
    /// A server: the broker or an adapter (伺服器憑證, GCA).
    Server,
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalKind::Citizen => "citizen",
            PrincipalKind::Agency => "agency",
            PrincipalKind::Server => "server",
        })
    }
}

/// A subject class value; finer than [`PrincipalKind`] because agencies and units differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectClass {
    /// Natural person.
    Citizen,
    /// Government agency (機關).
    Agency,
    /// Government unit (單位) inside an agency.
    Unit,
    /// Server.
    Server,
}

impl SubjectClass {
    /// The principal kind this class belongs to (a unit is an agency principal).
    pub fn kind(self) -> PrincipalKind {
        match self {
            SubjectClass::Citizen => PrincipalKind::Citizen,
            SubjectClass::Agency | SubjectClass::Unit => PrincipalKind::Agency,
            SubjectClass::Server => PrincipalKind::Server,
        }
    }
}

/// Attribute types found inside Subject Directory Attributes (extension 2.5.29.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeOids {
    /// Subject class; its value is one of the [`SubjectClassOids`].
    pub subject_class: Oid,
    /// Last four characters of the national ID (MOICA); the full ID is never in a certificate.
    pub national_id_last4: Oid,
    /// Unified business number 統一編號 (MOEACA); carried for completeness, read by no kind yet.
    pub business_number: Oid,
    /// The organisation's government OID (GCA).
    pub government_oid: Oid,
}

/// Values of the subject-class attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectClassOids {
    /// Natural person.
    pub citizen: Oid,
    /// Government agency.
    pub agency: Oid,
    /// Government unit.
    pub unit: Oid,
    /// Server.
    pub server: Oid,
}

/// A certification authority named by the profile; bound to CA certificates by a trust store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// Short name used everywhere else (`GRCA`, `GCA`, `MOICA`).
    pub name: String,
    /// The OU of the CA's DN; checked when binding a CA certificate to catch a wrong file.
    pub ou: String,
    /// Principal kinds whose certificates this authority may issue.
    pub issues: Vec<PrincipalKind>,
}

impl Authority {
    /// Whether this authority may issue certificates for `kind`.
    pub fn may_issue(&self, kind: PrincipalKind) -> bool {
        self.issues.contains(&kind)
    }
}

/// A certificate profile; see `certs/profile.toml` for the shipped values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Certificate policy OID written into issued leaves (GPKI level 3 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_policy: Option<Oid>,
    /// Attribute OIDs inside Subject Directory Attributes.
    pub attributes: AttributeOids,
    /// Subject-class values.
    pub subject_classes: SubjectClassOids,
    /// The authorities, each `[[authority]]` in TOML.
    #[serde(rename = "authority")]
    pub authorities: Vec<Authority>,
}

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The profile file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, has unknown keys or invalid OIDs.
    #[error("invalid profile TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// The profile parsed but is inconsistent (duplicates, empty names).
    #[error("inconsistent profile: {0}")]
    Invalid(String),
}

impl Default for Profile {
    /// The embedded profile; see [`Profile::embedded`].
    fn default() -> Self {
        Profile::embedded()
    }
}

impl Profile {
    /// The shipped profile ([`EMBEDDED_PROFILE`]).
    pub fn embedded() -> Profile {
        // A unit test parses the embedded text, so this cannot fail in a released build.
        Profile::from_toml_str(EMBEDDED_PROFILE).expect("embedded profile.toml is valid")
    }

    /// Parses and validates profile TOML.
    pub fn from_toml_str(text: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text)?;
        profile.validate()?;
        Ok(profile)
    }

    /// Reads, parses and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Profile::from_toml_str(&text)
    }

    /// Serialises the profile back to TOML (comments are not preserved).
    pub fn to_toml_string(&self) -> String {
        // Every field is a string, list or table: serialisation cannot fail.
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks what serde cannot: distinct OIDs and unique, non-empty authority names.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let invalid = |m: String| Err(ProfileError::Invalid(m));
        let a = &self.attributes;
        let attrs = [
            &a.subject_class,
            &a.national_id_last4,
            &a.business_number,
            &a.government_oid,
        ];
        if attrs.iter().collect::<BTreeSet<_>>().len() != attrs.len() {
            return invalid("attribute OIDs must be distinct".into());
        }
        let c = &self.subject_classes;
        let classes = [&c.citizen, &c.agency, &c.unit, &c.server];
        if classes.iter().collect::<BTreeSet<_>>().len() != classes.len() {
            return invalid("subject-class OIDs must be distinct".into());
        }
        let mut names = BTreeSet::new();
        for authority in &self.authorities {
            if authority.name.trim().is_empty() || authority.ou.trim().is_empty() {
                return invalid("authority name and ou must not be empty".into());
            }
            if !names.insert(authority.name.as_str()) {
                return invalid(format!("authority {:?} listed twice", authority.name));
            }
        }
        Ok(())
    }

    /// The authority with this name.
    pub fn authority(&self, name: &str) -> Option<&Authority> {
        self.authorities.iter().find(|a| a.name == name)
    }

    /// The subject class a subject-class attribute value denotes, if any.
    pub fn subject_class(&self, oid: &Oid) -> Option<SubjectClass> {
        let c = &self.subject_classes;
        [
            (&c.citizen, SubjectClass::Citizen),
            (&c.agency, SubjectClass::Agency),
            (&c.unit, SubjectClass::Unit),
            (&c.server, SubjectClass::Server),
        ]
        .into_iter()
        .find_map(|(o, class)| (o == oid).then_some(class))
    }

    /// The OID written for a subject class.
    pub fn subject_class_oid(&self, class: SubjectClass) -> &Oid {
        let c = &self.subject_classes;
        match class {
            SubjectClass::Citizen => &c.citizen,
            SubjectClass::Agency => &c.agency,
            SubjectClass::Unit => &c.unit,
            SubjectClass::Server => &c.server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_profile_parses_with_taiwan_values() {
        let p = Profile::embedded();
        assert_eq!(p.attributes.subject_class.to_string(), "2.16.886.1.100.2.1");
        assert_eq!(
            p.attributes.government_oid.to_string(),
            "2.16.886.1.100.2.102"
        );
        assert_eq!(p.subject_classes.unit.to_string(), "2.16.886.1.100.3.2.1.2");
        let gca = p.authority("GCA").expect("GCA");
        assert_eq!(gca.ou, "政府憑證管理中心");
        assert!(gca.may_issue(PrincipalKind::Agency) && gca.may_issue(PrincipalKind::Server));
        assert!(!gca.may_issue(PrincipalKind::Citizen));
        assert!(
            p.authority("MOICA")
                .expect("MOICA")
                .may_issue(PrincipalKind::Citizen)
        );
        assert_eq!(
            p.certificate_policy
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("2.16.886.101.0.3.3")
        );
    }

    #[test]
    fn round_trips_through_toml() {
        let p = Profile::embedded();
        assert_eq!(
            Profile::from_toml_str(&p.to_toml_string()).expect("reparse"),
            p
        );
    }

    #[test]
    fn rejects_unknown_keys_bad_oids_and_duplicates() {
        let unknown = EMBEDDED_PROFILE.replace("[attributes]", "[attributes]\nextra = \"1.2\"");
        assert!(matches!(
            Profile::from_toml_str(&unknown),
            Err(ProfileError::Toml(_))
        ));
        let bad_oid = EMBEDDED_PROFILE.replace("\"2.16.886.1.100.2.51\"", "\"2.16.x\"");
        assert!(matches!(
            Profile::from_toml_str(&bad_oid),
            Err(ProfileError::Toml(_))
        ));
        let bad_kind = EMBEDDED_PROFILE.replace("[\"citizen\"]", "[\"company\"]");
        assert!(matches!(
            Profile::from_toml_str(&bad_kind),
            Err(ProfileError::Toml(_))
        ));
        let dup = EMBEDDED_PROFILE.replace("\"2.16.886.1.100.2.51\"", "\"2.16.886.1.100.2.1\"");
        assert!(matches!(
            Profile::from_toml_str(&dup),
            Err(ProfileError::Invalid(_))
        ));
        let dup_name = EMBEDDED_PROFILE.replace("name = \"MOICA\"", "name = \"GCA\"");
        assert!(matches!(
            Profile::from_toml_str(&dup_name),
            Err(ProfileError::Invalid(_))
        ));
    }

    #[test]
    fn oid_parsing() {
        assert_eq!(Oid::parse("2.5.29.9").expect("oid").arcs(), &[2, 5, 29, 9]);
        for bad in [
            "",
            "2",
            "2..5",
            "02.5",
            "3.1",
            "1.40",
            "2.a",
            "2.5.",
            "99999999999999999999.1",
        ] {
            assert!(Oid::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
