//! Deterministic synthetic population for Tongdao: households and people with valid national
//! IDs, consistent families and registration events, plus the household registry's legacy
//! fixed-width Big5 extract written from them. Synthetic data only: nothing here describes a
//! real person.

pub mod household_extract;
pub mod population;
pub mod registers;
pub mod roc;
mod tables;

pub use household_extract::{ExtractWriteError, write_household_extract};
pub use population::{
    Address, Event, EventKind, Household, HouseholdType, Indigenous, IndigenousStatus,
    MilitaryService, Person, Population, Removal, Sex,
};
pub use registers::Registers;
pub use roc::RocDate;
