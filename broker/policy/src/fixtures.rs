//! Policy fixtures: requests with the decision NDC expects, run by `tongdao policy test` so a
//! policy change that alters a decision is caught before roll-out.
//!
//! ```toml
//! now = 2025-07-01T09:00:00+08:00          # time of every case unless it says `at`
//!
//! [[case]]
//! name = "tax office reads land ownership for tax administration"
//! agency = "307010000D"                     # omit for a citizen acting for themselves
//! method = "/tongdao.land.v1.LandRegistry/GetParcel"
//! purpose = "095"                           # omit for no tongdao-purpose header
//! expect = "allow"
//! rule = "land-parcel-tax-095"
//! fields = ["description", "key", "owners"] # optional: exactly these paths released
//! released = ["owners.owner_id"]            # optional: each released whole
//! withheld = ["encumbrances"]               # optional: nothing under each released
//!
//! [[case]]
//! name = "…"
//! method = "…"
//! expect = "deny"
//! reason = "PURPOSE_REQUIRED"
//! ```

use tongdao_core::Reason;

use crate::decide::{Decision, DecisionRequest};
use crate::error::PolicyErrors;
use crate::policy::Policy;
use crate::toml_read::{FileCx, Table, format_instant, parse_document};

/// A fixture file: cases of requests and expected decisions.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// The file's name, as cited in failures.
    pub file: String,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One request and the decision expected for it.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case checks.
    pub name: String,
    /// Line of the case's `[[case]]` header.
    pub line: u32,
    /// Calling agency; `None` for a citizen acting for themselves (`citizen:self` rules).
    pub agency: Option<String>,
    /// Full method path.
    pub method: String,
    /// Raw purpose header value.
    pub purpose: Option<String>,
    /// Time of the request, Unix seconds.
    pub now_unix: i64,
    /// Expected decision.
    pub expect: Expectation,
}

/// An expected decision.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// Allowed by this rule, with optional checks on the released fields.
    Allow {
        /// The rule id.
        rule: String,
        /// Exactly these paths released (as [`crate::FieldMask::paths`] lists them).
        fields: Option<Vec<String>>,
        /// Each of these released whole.
        released: Vec<String>,
        /// Nothing under each of these released.
        withheld: Vec<String>,
    },
    /// Denied for this reason.
    Deny(Reason),
}

/// A case whose decision differs from the expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `file:line` of the case.
    pub location: String,
    /// The case's name.
    pub name: String,
    /// What differs, one line each.
    pub differences: Vec<String>,
}

/// The outcome of running fixtures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureReport {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failures: Vec<Failure>,
}

const CASE_KEYS: [&str; 11] = [
    "name", "agency", "method", "purpose", "at", "expect", "rule", "fields", "released",
    "withheld", "reason",
];

impl Fixtures {
    /// Parses a fixture file strictly; every problem is reported with its line.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyErrors> {
        let mut cx = FileCx::new(file, text);
        let cases = read_cases(&mut cx, text);
        if cx.has_errors() {
            Err(PolicyErrors::new(cx.errors))
        } else {
            Ok(Self {
                file: file.to_owned(),
                cases,
            })
        }
    }

    /// Decides every case with `policy` and compares.
    pub fn run(&self, policy: &Policy) -> FixtureReport {
        let mut report = FixtureReport::default();
        for case in &self.cases {
            let differences = check(policy, case);
            if differences.is_empty() {
                report.passed += 1;
            } else {
                report.failures.push(Failure {
                    location: format!("{}:{}", self.file, case.line),
                    name: case.name.clone(),
                    differences,
                });
            }
        }
        report
    }
}

fn read_cases(cx: &mut FileCx, text: &str) -> Vec<Case> {
    let Some(root) = parse_document(cx, text) else {
        return Vec::new();
    };
    let root = Table::root(cx, &root, "fixture file", &["now", "case"]);
    let default_now = root.opt_instant(cx, "now").map(|n| *n.get_ref());
    let mut cases = Vec::new();
    for table in root.tables(cx, "case", "case", &CASE_KEYS) {
        let line = cx.line(table.header_span().start);
        let name = table.req_str(cx, "name");
        let agency = table.opt_str(cx, "agency");
        let method = table.req_str(cx, "method");
        let purpose = table.opt_str(cx, "purpose");
        let at = table.opt_instant(cx, "at").map(|n| *n.get_ref());
        let expect = table.req_str(cx, "expect");
        let now = at.or(default_now);
        if now.is_none() && table.get("at").is_none() {
            cx.error(
                &table.header_span(),
                "case has no time: give the file a `now` or the case an `at`",
            );
        }
        let owned = |list: Option<Vec<toml::Spanned<&str>>>| -> Vec<String> {
            list.into_iter()
                .flatten()
                .map(|s| (*s.get_ref()).to_owned())
                .collect()
        };
        let expectation = match expect.as_ref().map(|e| *e.get_ref()) {
            Some("allow") => {
                for key in ["reason"] {
                    if let Some(value) = table.get(key) {
                        cx.error(
                            &value.span(),
                            format!("`{key}` belongs to expect = \"deny\""),
                        );
                    }
                }
                let rule = table.req_str(cx, "rule");
                let fields = table.opt_str_list(cx, "fields");
                let released = table.opt_str_list(cx, "released");
                let withheld = table.opt_str_list(cx, "withheld");
                rule.map(|rule| Expectation::Allow {
                    rule: (*rule.get_ref()).to_owned(),
                    fields: fields.map(|f| owned(Some(f))),
                    released: owned(released),
                    withheld: owned(withheld),
                })
            }
            Some("deny") => {
                for key in ["rule", "fields", "released", "withheld"] {
                    if let Some(value) = table.get(key) {
                        cx.error(
                            &value.span(),
                            format!("`{key}` belongs to expect = \"allow\""),
                        );
                    }
                }
                let reason = table.req_str(cx, "reason");
                reason.and_then(|reason| match Reason::from_str_name(reason.get_ref()) {
                    Some(parsed) if parsed != Reason::Unspecified => {
                        Some(Expectation::Deny(parsed))
                    }
                    _ => {
                        cx.error(
                            &reason.span(),
                            format!(
                                "unknown reason {:?} (e.g. \"PURPOSE_NOT_ALLOWED\")",
                                reason.get_ref()
                            ),
                        );
                        None
                    }
                })
            }
            Some(other) => {
                if let Some(expect) = &expect {
                    cx.error(
                        &expect.span(),
                        format!("`expect` must be \"allow\" or \"deny\", not {other:?}"),
                    );
                }
                None
            }
            None => None,
        };
        let (Some(name), Some(method), Some(now), Some(expect)) = (name, method, now, expectation)
        else {
            continue;
        };
        cases.push(Case {
            name: (*name.get_ref()).to_owned(),
            line,
            agency: agency.map(|a| (*a.get_ref()).to_owned()),
            method: (*method.get_ref()).to_owned(),
            purpose: purpose.map(|p| (*p.get_ref()).to_owned()),
            now_unix: now,
            expect,
        });
    }
    cases
}

fn check(policy: &Policy, case: &Case) -> Vec<String> {
    let request = DecisionRequest {
        agency_code: case.agency.as_deref(),
        method: &case.method,
        purpose: case.purpose.as_deref(),
        now_unix: case.now_unix,
    };
    let decision = policy.decide(&request);
    let mut differences = Vec::new();
    match (&case.expect, &decision) {
        (
            Expectation::Allow {
                rule,
                fields,
                released,
                withheld,
            },
            Decision::Allow(allow),
        ) => {
            if &*allow.rule_id != rule {
                differences.push(format!(
                    "expected rule {rule}, matched rule {}",
                    allow.rule_id
                ));
            }
            let mask = &allow.fields;
            if let Some(expected) = fields {
                let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
                expected.sort_unstable();
                expected.dedup();
                let actual: Vec<&str> = mask.paths().iter().map(String::as_str).collect();
                for path in &expected {
                    if !actual.contains(path) {
                        differences.push(format!("- {path}  (expected, not released)"));
                    }
                }
                for path in &actual {
                    if !expected.contains(path) {
                        differences.push(format!("+ {path}  (released, not expected)"));
                    }
                }
            }
            for path in released {
                if !mask.releases(path) {
                    differences.push(format!("expected {path} to be released; it is not"));
                }
            }
            let leaves = mask.leaves();
            for path in withheld {
                let leaked: Vec<&str> = leaves
                    .iter()
                    .filter(|leaf| leaf.released && is_within(&leaf.path, path))
                    .map(|leaf| leaf.path.as_str())
                    .collect();
                if !leaked.is_empty() {
                    differences.push(format!(
                        "expected {path} to be withheld; released: {}",
                        leaked.join(", ")
                    ));
                }
            }
        }
        (Expectation::Deny(reason), Decision::Deny(denial)) => {
            if denial.reason() != *reason {
                differences.push(format!(
                    "expected deny {}, got deny {} ({})",
                    reason.as_str_name(),
                    denial.reason().as_str_name(),
                    denial.message()
                ));
            }
        }
        (expect, actual) => {
            differences.push(format!("expected: {}", describe_expectation(expect)));
            differences.push(format!("actual:   {}", describe_decision(actual)));
        }
    }
    if !differences.is_empty() {
        differences.insert(
            0,
            format!(
                "request: agency {} → {} purpose {} at {}",
                case.agency.as_deref().unwrap_or("(none)"),
                case.method,
                case.purpose.as_deref().unwrap_or("(none)"),
                format_instant(case.now_unix)
            ),
        );
    }
    differences
}

fn is_within(path: &str, ancestor: &str) -> bool {
    path == ancestor
        || path
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn describe_expectation(expect: &Expectation) -> String {
    match expect {
        Expectation::Allow { rule, .. } => format!("allow by rule {rule}"),
        Expectation::Deny(reason) => format!("deny {}", reason.as_str_name()),
    }
}

fn describe_decision(decision: &Decision) -> String {
    match decision {
        Decision::Allow(allow) => format!(
            "allow by rule {} (fields: {})",
            allow.rule_id,
            allow.fields.paths().join(", ")
        ),
        Decision::Deny(denial) => format!(
            "deny {} ({})",
            denial.reason().as_str_name(),
            denial.message()
        ),
    }
}
