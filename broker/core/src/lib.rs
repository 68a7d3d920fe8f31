//! The vocabulary every Tongdao crate shares: identifiers with their checksums, the principal
//! behind a connection, and the fixed set of error reasons with the one table that maps each
//! to a gRPC status.

pub mod codec;
pub mod deadline;
pub mod ids;
pub mod principal;
pub mod reason;

pub use principal::{Agency, Citizen, Principal};
pub use reason::{Reason, Rejection};
