//! The gateway against a real customer-profile: masking by role and relation on every path,
//! token attacks, borrowing with a controllable clock, the audit chain, routing and limits.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod audit;
mod borrowing;
mod helpers;
mod journals;
mod jwt;
mod matrix;
mod routing;
