//! Policy errors: every problem found in a set of policy files, each with the file and line NDC
//! has to edit.

use std::fmt;

/// One problem in one policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file's name as given in [`crate::PolicySources`], e.g. `rules/tax.toml`.
    pub file: String,
    /// 1-based line of the offending key or value; `None` when the problem is the file itself
    /// (missing, unknown name, unreadable).
    pub line: Option<u32>,
    /// What is wrong, written for the person editing the file.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found while compiling a policy, sorted by file and line. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(Vec<PolicyError>);

impl PolicyErrors {
    /// Sorts by file then line, keeping discovery order within a line, so output is stable.
    pub(crate) fn new(mut errors: Vec<PolicyError>) -> Self {
        errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        errors.dedup();
        Self(errors)
    }

    /// The problems, sorted by file and line.
    pub fn errors(&self) -> &[PolicyError] {
        &self.0
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a compile failure has at least one problem. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for PolicyErrors {
    /// One `file:line: message` per line, the format editors and CI annotate from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl IntoIterator for PolicyErrors {
    type Item = PolicyError;
    type IntoIter = std::vec::IntoIter<PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
