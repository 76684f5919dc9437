//! The Dossier service kit: everything each service does the same way, so that a service crate
//! holds only its own domain, storage and API.
//!
//! - [`config`]: layered settings (defaults → TOML file → `DOSSIER_…` environment), secrets kept
//!   out of logs.
//! - [`telemetry`]: structured logs, OpenTelemetry export when configured, W3C trace context
//!   carried from call to call.
//! - [`metrics`]: Prometheus metrics of every server, and the gauges a service sets.
//! - [`db`]: SQLite or PostgreSQL by URL, migrations at start, write transactions.
//! - [`server`]: health, reflection, gRPC-Web, deadlines, concurrency and size limits, auth,
//!   graceful shutdown.
//! - [`auth`]: JWT verification into a typed [`auth::Caller`].
//! - [`problem`] and [`status`]: one error type, one mapping to `tonic::Status`.
//! - [`outbox`]: events written with the change, and the `WatchChanges` feed.
//! - [`customers`]: asking customer-profile whether a customer exists (for the other services).
//! - [`idempotency`], [`paging`], [`clock`]: request ids, list pages, controllable time.
#![forbid(unsafe_code)]

pub mod auth;
pub mod clock;
pub mod config;
pub mod customers;
pub mod db;
pub mod idempotency;
pub mod metrics;
pub mod outbox;
pub mod paging;
pub mod problem;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod time;

pub use problem::{FieldViolation, Problem, Violations};
