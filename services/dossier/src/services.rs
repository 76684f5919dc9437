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
    /// Its configuration section (`customer_profile`: `DOSSIER_CUSTOMER_PROFILE_…`).
    pub section: &'static str,
    /// Where it listens unless configured otherwise.
    pub default_listen: &'static str,
    /// The gRPC service it reports to the health protocol.
    pub grpc_service: &'static str,
    /// Builds it (connects, migrates, binds).
    pub start:
        fn(Config, SharedClock, ShutdownSignal) -> BoxFuture<'static, Result<Started, String>>,
}

/// A [`ServiceEntry`] for a service crate. Every service crate has the same face — consts
/// `SERVICE_NAME`, `CONFIG_SECTION`, `DEFAULT_LISTEN` and `GRPC_SERVICE`, and an `Application`
/// with `build`, `port`, `database` and `run_until_stopped` — so one macro starts them all.
macro_rules! service_entry {
    ($krate:ident) => {
        ServiceEntry {
            name: $krate::SERVICE_NAME,
            section: $krate::CONFIG_SECTION,
            default_listen: $krate::DEFAULT_LISTEN,
            grpc_service: $krate::GRPC_SERVICE,
            start: |config: Config, clock: SharedClock, shutdown: ShutdownSignal| {
                Box::pin(async move {
                    let app = $krate::Application::build(&config, clock, shutdown).await?;
                    Ok(Started {
                        name: $krate::SERVICE_NAME,
                        grpc_service: $krate::GRPC_SERVICE,
                        port: app.port(),
                        database: app.database(),
                        run: Box::pin(app.run_until_stopped()),
                    })
                })
            },
        }
    };
}

/// Every service built so far, customer-profile first (the others ask it about customers). The
/// gateway comes last: `dossier up` points it at the ports the services before it were given.
pub const SERVICES: &[ServiceEntry] = &[
    service_entry!(dossier_customer_profile),
    service_entry!(dossier_visit_journal),
    service_entry!(dossier_contract_receivables),
    service_entry!(dossier_complaints),
    service_entry!(dossier_analytics),
    service_entry!(dossier_gateway),
];

/// The configuration sections of the services that ask customer-profile about customers: `dossier
/// up` points them at the customer-profile it started.
pub const CUSTOMER_PROFILE_CLIENTS: &[&str] =
    &["visit_journal", "contract_receivables", "complaints"];

/// The sources analytics follows, each with the key of its endpoint in the `analytics` section:
/// `dossier up` points analytics at the services it started.
pub const ANALYTICS_SOURCES: &[(&str, &str)] = &[
    (
        dossier_customer_profile::SERVICE_NAME,
        "customer_profile_endpoint",
    ),
    (
        dossier_visit_journal::SERVICE_NAME,
        "visit_journal_endpoint",
    ),
    (
        dossier_contract_receivables::SERVICE_NAME,
        "contract_receivables_endpoint",
    ),
    (dossier_complaints::SERVICE_NAME, "complaints_endpoint"),
];

/// The configuration key of the gateway's address for `service`.
pub fn upstream_key(service: &str) -> String {
    format!("{}.upstreams.{service}", dossier_gateway::CONFIG_SECTION)
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
