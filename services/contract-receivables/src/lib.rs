//! **contract-and-receivables** — the money side of a customer archive: sales contracts
//! (经销合同) and their amendments, deliveries (提货) and the receivables they create, payments
//! received (回款), credit lines and overrides (信用额度), repayment agreements and deferrals
//! (欠款还款), returns and discounts (退赔折价), aging and the performance and credit evaluation
//! sheet (附表五), served as `dossier.contract.v1.ContractService`.
//!
//! Layout: [`domain`] holds the business rules (no tonic, no sea-orm); [`store`] the table,
//! the per-customer lock and the outbox; [`ledger`] the use cases, one transaction each (payments
//! are recorded in groups by one writer, one transaction per group);
//! [`api`] the gRPC service; [`wire`] domain → message conversions. [`Application`] wires them
//! into a server with the kit.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod ledger;
pub mod store;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dossier_kit::clock::SharedClock;
use dossier_kit::config::{Config, database_url_or_default};
use dossier_kit::customers::CustomerDirectory;
use dossier_kit::server::{GrpcServer, ShutdownSignal, authenticate, bind};
use dossier_proto::contract::contract_service_server::ContractServiceServer;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The service's name in logs, traces and the `dossier` command.
pub const SERVICE_NAME: &str = "contract-receivables";
/// Its configuration section.
pub const CONFIG_SECTION: &str = "contract_receivables";
/// Its embedded database file under the data directory.
pub const DATABASE_FILE: &str = "contract-receivables.db";
/// The gRPC service it serves.
pub const GRPC_SERVICE: &str = "dossier.contract.v1.ContractService";
/// Its default address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50063";

/// Settings of contract-and-receivables (section `contract_receivables`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL; unset means `sqlite://<data_dir>/contract-receivables.db`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// Where customer-profile answers whether a customer exists.
    pub customer_profile_endpoint: String,
    /// Seconds between sweeps that report instalments fallen overdue (0: no background sweep;
    /// reads of plans still sweep).
    pub overdue_sweep_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50063))),
            database_url: None,
            customer_profile_endpoint: "http://127.0.0.1:50061".into(),
            overdue_sweep_seconds: 300,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_ref().map(|_| "[set]"))
            .field("customer_profile_endpoint", &self.customer_profile_endpoint)
            .field("overdue_sweep_seconds", &self.overdue_sweep_seconds)
            .finish()
    }
}

/// The running service: bound to its port, database migrated, ready to serve.
pub struct Application {
    listener: TcpListener,
    server: GrpcServer,
    shutdown: ShutdownSignal,
    database_url: String,
    ledger: ledger::Ledger,
    sweep_every: u64,
}

impl Application {
    /// Builds the service from configuration: connects and migrates its database, binds its
    /// port (`listen`, port 0 for any free one).
    pub async fn build(
        config: &Config,
        clock: SharedClock,
        shutdown: ShutdownSignal,
    ) -> Result<Self, String> {
        let common = config.common()?;
        let settings: Settings = config.section(CONFIG_SECTION)?;
        let database_url = database_url_or_default(
            settings.database_url.as_ref(),
            &common.data_dir,
            DATABASE_FILE,
        );
        let db = dossier_kit::db::connect_and_migrate::<store::migration::Migrator>(&database_url)
            .await
            .map_err(|e| {
                format!(
                    "{SERVICE_NAME} database {}: {e}",
                    dossier_kit::config::redact_url(&database_url)
                )
            })?;
        let verifier = Arc::new(common.auth.verifier(&common.data_dir)?);
        let listener = bind(settings.listen).await?;
        let limits = common.limits.clone();
        let directory = CustomerDirectory::new(&settings.customer_profile_endpoint)?;
        let ledger = ledger::Ledger::new(store::Store::new(db), clock);
        let api = api::ContractApi::new(ledger.clone(), directory, shutdown.clone());
        let service = ContractServiceServer::new(api)
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes);
        let routes = tonic::service::Routes::new(
            tonic::service::interceptor::InterceptedService::new(service, authenticate(verifier)),
        );
        Ok(Self {
            listener,
            server: GrpcServer {
                routes,
                service_names: vec![GRPC_SERVICE],
                limits,
            },
            shutdown,
            database_url,
            ledger,
            sweep_every: settings.overdue_sweep_seconds,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The database URL in use, password removed.
    pub fn database(&self) -> String {
        dossier_kit::config::redact_url(&self.database_url)
    }

    /// Serves until the shutdown signal fires; meanwhile sweeps for overdue instalments.
    pub async fn run_until_stopped(self) -> Result<(), String> {
        if self.sweep_every > 0 {
            let ledger = self.ledger.clone();
            let mut shutdown = self.shutdown.clone();
            let every = Duration::from_secs(self.sweep_every);
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = shutdown.wait() => return,
                    }
                    if let Err(error) = ledger.sweep_overdue("").await {
                        tracing::warn!(%error, "overdue sweep failed");
                    }
                }
            });
        }
        self.server.serve(self.listener, self.shutdown).await
    }
}
