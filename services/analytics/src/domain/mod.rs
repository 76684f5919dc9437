//! The business rules of analytics, free of gRPC and SQL: the 25 factors and their scoring rules,
//! the proposals the data backs, sheet totals and ranks, periods, and the ABC classification.

pub mod abc;
pub mod factors;
pub mod money;
pub mod period;
pub mod policy;
pub mod proposals;
pub mod sheet;
