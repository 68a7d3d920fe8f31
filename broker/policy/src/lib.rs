//! Tongdao's policy data: the registries NDC maintains in `policies/`. Pure parsing and lookup,
//! no I/O: callers read the files and hand over their text, so the same code serves the broker,
//! the linter and tests.

pub mod registry;

pub use registry::{AgencyEntry, AgencyRegistry, RegistryError};
