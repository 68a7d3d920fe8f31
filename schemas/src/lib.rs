//! Tongdao's protobuf schemas: the broker's own API (`tongdao.v1`) and the five domain
//! packages, generated with prost/tonic, plus the encoded descriptor set that drives
//! enforcement (subject fields, data classes) and server reflection.

#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

/// The broker's own API: error reasons, receipts, directory, schema options.
pub mod v1 {
    tonic::include_proto!("tongdao.v1");
}

/// Household registration (戶政).
pub mod household {
    pub mod v1 {
        tonic::include_proto!("tongdao.household.v1");
    }
}

/// The encoded `FileDescriptorSet` of every schema, including imports.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tongdao_descriptors.bin"));
