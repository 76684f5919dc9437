//! The services this binary can run, in one table, so `up`, `serve` and `migrate` agree on what
//! exists. A new service is one more entry here.

use dossier_kit::clock::SharedClock;
use dossier_kit::config::Config;
use dossier_kit::server::ShutdownSignal;
use futures::future::BoxFuture;

/// A service started and bound to its port.
pub struct Started {
    /// Service name.
    pub name: &'static str,
    /// The gRPC service it serves.
    pub grpc_service: &'static str,
    /// Bound port.
    pub port: u16,
    /// Database in use (password removed).
    pub database: String,
    /// Serves until shutdown.
    pub run: BoxFuture<'static, Result<(), String>>,
}

/// How to start one service.
pub struct ServiceEntry {
    /// Name used on the command line.
    pub name: &'static str,
    /// Builds it (connects, migrates, binds).
    pub start:
        fn(Config, SharedClock, ShutdownSignal) -> BoxFuture<'static, Result<Started, String>>,
}

/// Every service built so far.
pub const SERVICES: &[ServiceEntry] = &[
    ServiceEntry {
        name: dossier_customer_profile::SERVICE_NAME,
        start: start_customer_profile,
    },
    ServiceEntry {
        name: dossier_contract_receivables::SERVICE_NAME,
        start: start_contract_receivables,
    },
];

fn start_contract_receivables(
    config: Config,
    clock: SharedClock,
    shutdown: ShutdownSignal,
) -> BoxFuture<'static, Result<Started, String>> {
    Box::pin(async move {
        let app =
            dossier_contract_receivables::Application::build(&config, clock, shutdown).await?;
        Ok(Started {
            name: dossier_contract_receivables::SERVICE_NAME,
            grpc_service: dossier_contract_receivables::GRPC_SERVICE,
            port: app.port(),
            database: app.database(),
            run: Box::pin(app.run_until_stopped()),
        })
    })
}

fn start_customer_profile(
    config: Config,
    clock: SharedClock,
    shutdown: ShutdownSignal,
) -> BoxFuture<'static, Result<Started, String>> {
    Box::pin(async move {
        let app = dossier_customer_profile::Application::build(&config, clock, shutdown).await?;
        Ok(Started {
            name: dossier_customer_profile::SERVICE_NAME,
            grpc_service: dossier_customer_profile::GRPC_SERVICE,
            port: app.port(),
            database: app.database(),
            run: Box::pin(app.run_until_stopped()),
        })
    })
}

/// Finds a service by name.
pub fn find(name: &str) -> Option<&'static ServiceEntry> {
    SERVICES.iter().find(|s| s.name == name)
}

/// The names of all services, for messages.
pub fn names() -> String {
    SERVICES
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}
