//! complaints through a real gRPC client against an in-process server on port 0 (beside a real
//! customer-profile), each test with its own databases: SQLite by default, PostgreSQL when
//! `DOSSIER_TEST_POSTGRES_URL` is set.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod helpers;

mod changes;
mod feedback;
mod lifecycle;
mod sla;
mod stats;
mod validation;
