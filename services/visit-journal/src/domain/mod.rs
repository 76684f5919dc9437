//! The business rules of visit-and-journal: who may do what, what a valid visit, journal, quote
//! or plan period is, how a journal walks its sign-off chain, and how plan-vs-done is counted.
//! Nothing here knows gRPC or the database.

pub mod amounts;
pub mod journal;
pub mod period;
pub mod policy;
pub mod progress;
pub mod visit;
