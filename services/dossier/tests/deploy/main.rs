//! The deployment files in `deploy/` read the way the tools read them (no Docker engine or
//! cluster runs here): the compose file, the PostgreSQL init script, the Kubernetes manifests and
//! the Dockerfile, checked against what the code says — the services the binary knows
//! (`services::SERVICES`), the configuration keys their settings types have, the secrets those
//! types keep out of serialisation, the gRPC services the health protocol reports, and which
//! service calls which. Finally each service is started with the compose and with the Kubernetes
//! configuration (on this machine's database and ports) and must answer SERVING.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

// The binary's own table of services, so a service the binary does not know fails here.
#[allow(dead_code)]
#[path = "../../src/services.rs"]
mod services;

mod code;
mod compose;
mod configuration;
mod dockerfile;
mod files;
mod kubernetes;
