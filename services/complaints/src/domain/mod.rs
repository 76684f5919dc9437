//! The business rules of complaints, free of transport and storage: what a valid complaint card
//! and feedback record are, the life cycle and its legal moves, reply-time targets, the
//! statistics and who may do what. A newcomer looking for a rule of complaints finds it here.

pub mod complaint;
pub mod feedback;
pub mod lifecycle;
pub mod policy;
pub mod sla;
pub mod stats;
