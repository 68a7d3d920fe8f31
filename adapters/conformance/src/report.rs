//! The result of a run: one [`Check`] per requirement tested, rendered for people or as JSON.

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// The adapter met the requirement.
    Pass,
    /// The adapter broke the requirement.
    Fail,
    /// The check could not be run (the reason says what is missing).
    Skip,
}

impl Outcome {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// One check of one requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The requirement in `adapters/CONTRACT.md`, e.g. `C-TLS-3`.
    pub id: &'static str,
    /// What was checked, e.g. `GetTranscript: invalid subject refused`.
    pub name: String,
    /// How it came out.
    pub outcome: Outcome,
    /// One line: what was seen, and for a failure what the contract wants instead.
    pub detail: String,
}

/// Every check of a run, in the order they ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The adapter's address.
    pub target: String,
    /// The service checked.
    pub service: String,
    /// The checks.
    pub checks: Vec<Check>,
}

/// Requirements of `adapters/CONTRACT.md` the kit cannot observe over the wire: an adapter's
/// review covers them.
pub const REVIEW_ONLY: [&str; 15] = [
    "C-TLS-4", "C-HLT-2", "C-DL-2", "C-ERR-5", "C-ERR-6", "C-ERR-10", "C-SCH-5", "C-SUB-3",
    "C-OBS-1", "C-OBS-2", "C-OBS-3", "C-POL-1", "C-POL-2", "C-POL-3", "C-POL-4",
];

impl Report {
    /// Whether no check failed: what the exit status reports.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.outcome == Outcome::Fail)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail)
    }

    /// The checks of requirement `id`.
    pub fn with_id<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Check> {
        self.checks.iter().filter(move |c| c.id == id)
    }

    /// How many checks came out `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }

    /// The report as JSON (`--json`).
    pub fn to_json(&self) -> String {
        let summary = serde_json::json!({
            "pass": self.count(Outcome::Pass),
            "fail": self.count(Outcome::Fail),
            "skip": self.count(Outcome::Skip),
            "passed": self.passed(),
            "review_only": REVIEW_ONLY,
        });
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("summary".to_owned(), summary);
        }
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Tongdao adapter conformance: {} at {}",
            self.service, self.target
        )?;
        writeln!(f)?;
        let name_width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        for check in &self.checks {
            writeln!(
                f,
                "  {}  {:<9} {:<width$}  {}",
                check.outcome.as_str(),
                check.id,
                check.name,
                check.detail,
                width = name_width
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{} checks: {} PASS, {} FAIL, {} SKIP — {}",
            self.checks.len(),
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip),
            if self.passed() {
                "conforms"
            } else {
                "DOES NOT CONFORM"
            }
        )?;
        writeln!(
            f,
            "Not observable over the wire, review against adapters/CONTRACT.md: {}",
            REVIEW_ONLY.join(", ")
        )
    }
}
