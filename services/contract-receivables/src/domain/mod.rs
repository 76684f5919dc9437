//! The business rules of contracts and receivables: no tonic, no sea-orm.

pub mod claim;
pub mod contract;
pub mod credit;
pub mod money;
pub mod movement;
pub mod performance;
pub mod policy;
pub mod receivable;
pub mod repayment;
