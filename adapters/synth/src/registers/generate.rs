//! The registers' generator (being written; see the module docs for what it must keep true).

use crate::population::Population;

use super::Registers;

pub(super) fn registers(_population: &Population) -> Registers {
    Registers {
        land: super::LandRegister::default(),
        commerce: super::CompanyRegister::default(),
        tax: super::TaxRecords::default(),
        health: super::HealthRecords::default(),
    }
}
