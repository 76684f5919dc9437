//! The gateway's business rules, free of transport and storage: borrowing, the audit chain,
//! rate limits, and the record-level rules beside the masking table.

pub mod audit_chain;
pub mod borrow;
pub mod rate_limit;
pub mod rules;
