//! The visit-journal API through a real gRPC client, against a real customer-profile.

mod helpers;

mod follow_ups;
mod journals;
mod plans;
mod reports;
mod visits;
