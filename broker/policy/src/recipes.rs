//! Recipes: named one-stop compositions of several services under one purpose, maintained by
//! NDC in `policies/recipes/*.toml` and compiled with the rest of the policy.
//!
//! A recipe names who may run it, the purpose every leg is declared for, the inputs the caller
//! supplies, and its legs: each leg calls one service, receives only the fields it lists, and
//! builds its request from the input, from an earlier leg's answer, or once per item of a
//! repeated field of an earlier leg (`for_each`). The broker runs independent legs at once and a
//! dependent leg as soon as what it reads is there; every call is a child exchange, decided,
//! consent-checked, minimised and audited exactly like a direct one.
//!
//! The file format (one recipe per file, top-level keys; full reference in
//! `policies/RECIPES.md`):
//!
//! ```toml
//! name = "welfare-eligibility"        # [a-z0-9-]+, unique across files
//! title = "社會救助資格審查"             # required
//! description = "…"                   # optional
//! purpose = "057"                     # the one purpose of every leg
//! clients = ["role:social_welfare"]   # agency codes / role:<name>; not citizen:self
//! consent = "applicant"               # optional: a national_id input whose consent covers
//!                                     # the legs whose subject is set from it
//! [[input]]
//! name = "applicant"                  # [a-z_][a-z0-9_]*; every input must be used
//! kind = "national_id"                # national_id | business_number | roc_year | text
//!
//! [[leg]]
//! name = "household"                  # [a-z_][a-z0-9_]*, unique, not `input` nor `each`
//! service = "/tongdao.household.v1.HouseholdRegistry/GetTranscript"
//! fields = ["members.national_id", "members.removed"]   # within every client's rule
//! timeout_ms = 800                    # 1..=60000
//! request = { national_id = "$input.applicant", kind = "CURRENT_WHOLE" }
//!
//! [[leg]]
//! name = "members_land"
//! service = "/tongdao.land.v1.LandRegistry/ListHoldings"
//! for_each = "$household.members"     # one call per item of an earlier leg's repeated field
//! skip_if = "$each.removed"           # a bool in the item: true → no call
//! max_calls = 20                      # 1..=500, default 50
//! fields = ["holdings.county"]
//! timeout_ms = 1500
//! request = { national_id = "$each.national_id" }
//! ```
//!
//! Request values are `$input.<name>`, `$<leg>.<path>` (within that leg's `fields`), `$each` /
//! `$each.<path>`, `$$…` (a literal `$…`), or literals (strings, enum value names, integers,
//! booleans); nested tables set sub-message fields. Compilation checks every reference, type,
//! the subject field, consent coverage and cycles, against the rule index (`compile.rs`).
//!
//! This module is pure: it validates files and builds request messages; running legs is the
//! broker's business.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prost_reflect::DynamicMessage;

use crate::codes::Purpose;
use crate::mask::FieldMask;
use crate::rules::Client;

mod compile;
mod input;
mod plan;
#[cfg(test)]
mod tests;

pub(crate) use compile::{Context, compile_recipes};
pub(crate) use plan::RequestPlan;

/// Recipe files live under this directory of the policy.
pub(crate) const RECIPES_DIR: &str = "recipes/";

/// One compiled recipe.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// Unique name, `[a-z0-9-]+`, e.g. `welfare-eligibility`.
    pub name: String,
    /// One line for directories and portals.
    pub title: String,
    /// Longer explanation, when given.
    pub description: Option<String>,
    /// File and line of the recipe (its first key), for messages.
    pub file: String,
    /// Line of the recipe in `file`.
    pub line: u32,
    /// Who may run it, as written (agency codes and roles).
    pub clients: Vec<Client>,
    /// The same, roles expanded to agency codes.
    pub agencies: Vec<String>,
    /// The purpose every leg declares.
    pub purpose: Purpose,
    /// The input (of kind national ID) whose holder's consent covers the legs about them: the
    /// consent the caller presents is passed on those legs (`Leg::consent`).
    pub consent_subject: Option<String>,
    /// What the caller supplies.
    pub inputs: Vec<RecipeInput>,
    /// The legs in file order; `Leg::depends_on` gives the order they may run in.
    pub legs: Vec<Leg>,
}

/// An input a caller supplies when running a recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeInput {
    /// Name, referred to as `$input.<name>`.
    pub name: String,
    /// What it must hold.
    pub kind: InputKind,
    /// What it is, for callers.
    pub description: Option<String>,
}

/// The kinds of recipe inputs, each checked before any leg runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A national ID with a valid checksum (`national_id`).
    NationalId,
    /// A business number (統一編號) with a valid checksum (`business_number`).
    BusinessNumber,
    /// A ROC year, 1–999 (`roc_year`).
    RocYear,
    /// Free text, 1–256 characters (`text`).
    Text,
}

impl InputKind {
    /// The name used in recipe files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NationalId => "national_id",
            Self::BusinessNumber => "business_number",
            Self::RocYear => "roc_year",
            Self::Text => "text",
        }
    }
}

/// One leg: a service called once, or once per item of an earlier leg's repeated field.
#[derive(Debug, Clone)]
pub struct Leg {
    /// Name, unique in the recipe, referred to as `$<name>.<path>`.
    pub name: String,
    /// Line of the leg in the recipe's file.
    pub line: u32,
    /// Full method path, `/package.Service/Method`.
    pub service: String,
    /// The fields of the answer the recipe receives: never more than the caller's rule
    /// releases (checked at compile time for every client).
    pub fields: Arc<FieldMask>,
    /// Bound on each call of the leg (the caller's deadline bounds it too).
    pub timeout: Duration,
    /// Whether the recipe's consent is presented on this leg (its subject is the consent
    /// subject).
    pub consent: bool,
    /// Earlier legs this leg reads (indices into `Recipe::legs`), directly.
    pub depends_on: Vec<usize>,
    /// The most calls a `for_each` leg may make.
    pub max_calls: usize,
    /// How requests are built (opaque to the broker).
    pub(crate) plan: RequestPlan,
}

/// Why a leg's requests could not be built from what it reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LegInputError(pub String);

/// Why a caller's recipe input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl Recipe {
    /// Checks the caller's input: every declared input present and well formed, nothing else.
    pub fn check_input(&self, input: &BTreeMap<String, String>) -> Result<(), InputError> {
        input::check_input(self, input)
    }
}

impl Leg {
    /// Whether the leg is called once per item of an earlier leg's answer (`for_each`).
    pub fn fans_out(&self) -> bool {
        self.plan.for_each.is_some()
    }

    /// The encoded requests of this leg: one, or one per `for_each` item (items skipped by
    /// `skip_if` or whose read values are empty produce none), given the checked input and
    /// the minimised answers of earlier legs (`done[i]` for `Recipe::legs[i]`, `None` when
    /// that leg has not answered).
    pub fn requests(
        &self,
        input: &BTreeMap<String, String>,
        done: &[Option<DynamicMessage>],
    ) -> Result<Vec<bytes::Bytes>, LegInputError> {
        self.plan.requests(input, done)
    }
}
