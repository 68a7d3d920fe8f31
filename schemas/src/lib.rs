//! Tongdao's protobuf schemas: the broker's own API (`tongdao.v1`) and the five domain
//! packages, generated with prost/tonic, plus the encoded descriptor set that drives
//! enforcement (subject fields, data classes) and server reflection.
//!
//! [`descriptors`] is the run-time view of the schemas: which field names a request's data
//! subject, which PDPA data class each response field carries, which agency provides a service.

pub mod descriptors;

/// The broker's own API: error reasons, receipts, directory, schema options.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("tongdao.v1");
}

/// Household registration (戶政).
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod household {
    pub mod v1 {
        tonic::include_proto!("tongdao.household.v1");
    }
}

/// Land registration (地政).
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod land {
    pub mod v1 {
        tonic::include_proto!("tongdao.land.v1");
    }
}

/// Tax administration (財稅): income, property and tax payment records.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod tax {
    pub mod v1 {
        tonic::include_proto!("tongdao.tax.v1");
    }
}

/// National Health Insurance (健保): visits and lab results. Every record is PDPA §6 data.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod health {
    pub mod v1 {
        tonic::include_proto!("tongdao.health.v1");
    }
}

/// Commerce registry (商工登記): companies and directorships.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod commerce {
    pub mod v1 {
        tonic::include_proto!("tongdao.commerce.v1");
    }
}

/// The encoded `FileDescriptorSet` of every schema, including imports.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tongdao_descriptors.bin"));
