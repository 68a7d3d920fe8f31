//! The text of a policy: file name → contents. The only I/O in the crate is
//! [`PolicySources::read_dir`]; everything else works on text handed in, so the broker, the
//! tools and the tests compile exactly the same way.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The registry files at the top of a policy directory.
pub(crate) const AGENCIES: &str = "agencies.toml";
pub(crate) const SERVICES: &str = "services.toml";
pub(crate) const PURPOSES: &str = "purposes.toml";
pub(crate) const ROLES: &str = "roles.toml";
/// Rule files live under this directory.
pub(crate) const RULES_DIR: &str = "rules/";

/// Policy files by name: `agencies.toml`, `services.toml`, `purposes.toml`, `roles.toml`,
/// `rules/<name>.toml` and `recipes/<name>.toml`. Names use `/` whatever the platform, and are what errors cite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySources {
    files: BTreeMap<String, String>,
}

impl PolicySources {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.files.insert(name.into(), text.into());
    }

    /// Removes a file, returning its text.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.files.remove(name)
    }

    /// The text of a file.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }

    /// Every file, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(n, t)| (n.as_str(), t.as_str()))
    }

    /// Reads the `*.toml` files at the top of `dir`, in `dir/rules/` and in `dir/recipes/`.
    /// Other directories (such as `tests/` with fixtures) are not part of the policy. A missing
    /// `rules/` is an empty rule set: default deny for everything; a missing `recipes/`, no
    /// recipes.
    pub fn read_dir(dir: &Path) -> io::Result<Self> {
        let mut sources = Self::new();
        read_toml_files(dir, "", &mut sources)?;
        let rules = dir.join(RULES_DIR.trim_end_matches('/'));
        if rules.is_dir() {
            read_toml_files(&rules, RULES_DIR, &mut sources)?;
        }
        let recipes = dir.join(crate::recipes::RECIPES_DIR.trim_end_matches('/'));
        if recipes.is_dir() {
            read_toml_files(&recipes, crate::recipes::RECIPES_DIR, &mut sources)?;
        }
        Ok(sources)
    }
}

fn read_toml_files(dir: &Path, prefix: &str, sources: &mut PolicySources) -> io::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if !path.is_file() || path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        sources.insert(format!("{prefix}{name}"), text);
    }
    Ok(())
}
