//! customer-profile through a real gRPC client against an in-process server on port 0, each test
//! with its own database: SQLite by default, PostgreSQL when `DOSSIER_TEST_POSTGRES_URL` is set.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod helpers;

mod catalogue;
mod changes;
mod customers;
mod sheets;
