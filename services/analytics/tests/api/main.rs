//! API tests of analytics: the four source services run in this process, events are written to
//! their outboxes, analytics follows their change feeds, and its answers are checked against
//! figures computed by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod fixtures;
mod helpers;
mod proposals;
mod restart;
mod scoring;
