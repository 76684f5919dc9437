//! The Dossier API contract as Rust: the code generated from `proto/` (messages, tonic clients and
//! servers), the encoded file descriptor set (for server reflection and dynamic messages), and a
//! lookup of each field's sensitivity annotation, which drives masking in the gateway.
#![forbid(unsafe_code)]

pub mod sensitivity;

/// Declares the module of one proto package `dossier.<name>.v1` and its generated code.
macro_rules! package {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub mod $name {
            /// Version 1.
            pub mod v1 {
                // What `tonic::include_proto!` does, which takes only a literal.
                include!(concat!(env!("OUT_DIR"), "/dossier.", stringify!($name), ".v1.rs"));
            }
        }
    };
}

/// Generated code, one module per proto package.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod dossier {
    package!(
        /// `dossier.common.v1`: sensitivity options, change feed, shared conventions.
        common
    );
    package!(
        /// `dossier.customer.v1`: the customer archive.
        customer
    );
    package!(
        /// `dossier.visit.v1`: visit plans, visit records, work journals, reports, follow-ups.
        visit
    );
    package!(
        /// `dossier.contract.v1`: contracts, deliveries, payments, credit, debts, returns.
        contract
    );
    package!(
        /// `dossier.complaint.v1`: complaint cards and feedback.
        complaint
    );
    package!(
        /// `dossier.analytics.v1`: sales-force analysis, comparison, composition.
        analytics
    );
    package!(
        /// `dossier.gateway.v1`: the gateway's own access service (borrowing, audit).
        gateway
    );
}

pub use dossier::common::v1 as common;
pub use dossier::customer::v1 as customer;
pub use dossier::{
    analytics::v1 as analytics, complaint::v1 as complaint, contract::v1 as contract,
};
pub use dossier::{gateway::v1 as gateway, visit::v1 as visit};

/// The encoded `FileDescriptorSet` of the whole contract, imports included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/dossier_descriptor.bin"));

/// The contract's descriptors, decoded once.
pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::OnceLock<prost_reflect::DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        // The bytes were produced by protox from the same sources in build.rs; failing to decode
        // them is a build defect, not a runtime condition.
        #[allow(clippy::expect_used)]
        prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .expect("the embedded descriptor set decodes")
    })
}

/// The proto packages of the Dossier API, in the order services were built.
pub const API_PACKAGES: &[&str] = &[
    "dossier.common.v1",
    "dossier.customer.v1",
    "dossier.visit.v1",
    "dossier.contract.v1",
    "dossier.complaint.v1",
    "dossier.analytics.v1",
    "dossier.gateway.v1",
];
