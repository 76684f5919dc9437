//! API tests of contract-and-receivables: the real service on port 0 beside a real
//! customer-profile, each with its own throwaway database (SQLite, or PostgreSQL when
//! `DOSSIER_TEST_POSTGRES_URL` is set).
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod concurrency;
mod contracts;
mod helpers;
mod invariants;
mod money;
