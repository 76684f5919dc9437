//! The business rules of the customer archive, free of transport and storage: what a valid card
//! is, which fields a complete card needs, how duplicates are recognised, how the catalogue is
//! numbered, when reviews fall due, and who may do what. A newcomer looking for a rule of
//! customer-profile should find it here.

pub mod card;
pub mod catalogue;
pub mod classification;
pub mod completeness;
pub mod contact_info;
pub mod credit_code;
pub mod name;
pub mod policy;
pub mod volume;
