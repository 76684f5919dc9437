//! **visit-journal** — what salespeople touch every day, mostly from a phone: visit plans (附表二
//! 客户拜访计划) and their plan-vs-done figures, visit records (附表三 客户拜访档案记录), the daily work
//! journal (附表九 业务工作日志) with its sign-off chain, reports (推销员客户信息报告制度), key-account
//! follow-up sheets (重点客户业务跟进表) and weekly and monthly work plans, served as
//! `dossier.visit.v1.VisitService`.
//!
//! Layout: [`domain`] holds the business rules (no tonic, no sea-orm); [`store`] the tables,
//! queries and the outbox; [`api`] the gRPC service and the message ↔ domain conversions.
//! [`Application`] wires them into a server with the kit.
//!
//! Customers belong to customer-profile: every write naming a customer asks it through
//! [`dossier_kit::customers::CustomerDirectory`] (a lookup, not a change-feed replica), which
//! also yields the customer's route (路序) that orders a day's visits.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use dossier_kit::clock::SharedClock;
use dossier_kit::config::{Config, database_url_or_default};
use dossier_kit::customers::CustomerDirectory;
use dossier_kit::server::{GrpcServer, ShutdownSignal, authenticate, bind};
use dossier_proto::visit::visit_service_server::VisitServiceServer;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The service's name in logs, traces and the `dossier` command.
pub const SERVICE_NAME: &str = "visit-journal";
/// Its configuration section.
pub const CONFIG_SECTION: &str = "visit_journal";
/// Its embedded database file under the data directory.
pub const DATABASE_FILE: &str = "visit-journal.db";
/// The gRPC service it serves.
pub const GRPC_SERVICE: &str = "dossier.visit.v1.VisitService";
/// Its default address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50062";

/// Settings of visit-journal (section `visit_journal`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL; unset means `sqlite://<data_dir>/visit-journal.db`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// Where customer-profile answers.
    pub customer_profile_endpoint: String,
    /// How far a phone's check-in time may run ahead of the server's clock (clock skew).
    pub check_in_tolerance_seconds: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50062))),
            database_url: None,
            customer_profile_endpoint: "http://127.0.0.1:50061".into(),
            check_in_tolerance_seconds: domain::visit::DEFAULT_CHECK_IN_TOLERANCE_SECONDS,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_ref().map(|_| "[set]"))
            .field("customer_profile_endpoint", &self.customer_profile_endpoint)
            .field(
                "check_in_tolerance_seconds",
                &self.check_in_tolerance_seconds,
            )
            .finish()
    }
}

/// The running service: bound to its port, database migrated, ready to serve.
pub struct Application {
    listener: TcpListener,
    server: GrpcServer,
    shutdown: ShutdownSignal,
    database_url: String,
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
        let directory = CustomerDirectory::new(&settings.customer_profile_endpoint)?;
        let listener = bind(settings.listen).await?;
        let limits = common.limits.clone();
        let api = api::VisitApi::new(
            store::Store::new(db),
            directory,
            clock,
            Arc::new(settings),
            shutdown.clone(),
        );
        let service = VisitServiceServer::new(api)
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

    /// Serves until the shutdown signal fires.
    pub async fn run_until_stopped(self) -> Result<(), String> {
        self.server.serve(self.listener, self.shutdown).await
    }
}
