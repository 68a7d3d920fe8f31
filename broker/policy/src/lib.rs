//! Tongdao's policy: the registries NDC maintains in `policies/`, the rules binding each
//! exchange to a purpose and a legal basis, compiled into an index the broker decides from in
//! well under a microsecond, and the field masks that minimise responses. Pure: no I/O except
//! [`PolicySources::read_dir`], no transport; callers hand over text, so the broker, NDC's tools
//! and the tests compile the same way.
//!
//! The broker's use, in order:
//! [`Policy::compile`] once per (re)load → [`Policy::decide`] per request →
//! [`Quotas::try_acquire`] → forward → [`FieldMask::apply`] on the reply.

mod codes;
mod decide;
pub mod diff;
mod error;
mod explain;
pub mod fixtures;
mod index;
mod mask;
mod policy;
mod purposes;
mod quota;
mod recipes;
pub mod registry;
mod roles;
mod rules;
mod services;
mod sha256;
mod sources;
#[cfg(test)]
mod test_support;
mod toml_read;
pub mod tools;

pub use codes::{Purpose, parse_data_class};
pub use decide::{Allow, Decision, DecisionRequest, Denial};
pub use error::{PolicyError, PolicyErrors};
pub use explain::{Candidate, Explanation};
pub use mask::{FieldMask, Leaf, MaskError};
pub use policy::{Grant, Policy};
pub use purposes::{PurposeEntry, PurposeRegistry};
pub use quota::Quotas;
pub use recipes::{InputError, InputKind, Leg, LegInputError, Recipe, RecipeInput};
pub use registry::{AgencyEntry, AgencyRegistry, RegistryError};
pub use roles::{RoleEntry, RoleRegistry};
pub use rules::{Client, LegalBasis, Quota, Rule, SpecialBasis};
pub use services::{ServiceEntry, ServiceRegistry};
pub use sources::PolicySources;
