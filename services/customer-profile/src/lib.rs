//! **customer-profile** — the customer archive of Dossier: customer cards (客户资料卡), their
//! classification (客户归类), every version of every card, reviews, duplicates and merges, yearly
//! volumes, and the archive catalogue (档案目录), served as `dossier.customer.v1.CustomerService`.
//!
//! Layout: [`domain`] holds the business rules (no tonic, no sea-orm); [`store`] the tables,
//! queries and the outbox; [`api`] the gRPC service; [`wire`] the message ↔ domain conversions.
//! [`Application`] wires them into a server with the kit.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod store;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use dossier_kit::clock::SharedClock;
use dossier_kit::config::{Config, database_url_or_default};
use dossier_kit::server::{GrpcServer, ShutdownSignal, authenticate, bind};
use dossier_proto::customer::customer_service_server::CustomerServiceServer;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The service's name in logs, traces and the `dossier` command.
pub const SERVICE_NAME: &str = "customer-profile";
/// Its configuration section.
pub const CONFIG_SECTION: &str = "customer_profile";
/// Its embedded database file under the data directory.
pub const DATABASE_FILE: &str = "customer-profile.db";
/// The gRPC service it serves.
pub const GRPC_SERVICE: &str = "dossier.customer.v1.CustomerService";
/// Its default address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50061";

/// Settings of customer-profile (section `customer_profile`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL; unset means `sqlite://<data_dir>/customer-profile.db`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// Days between full reviews of a card.
    pub review_interval_days: i64,
    /// Largest document, in bytes.
    pub max_document_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50061))),
            database_url: None,
            review_interval_days: domain::policy::DEFAULT_REVIEW_INTERVAL_DAYS,
            max_document_bytes: domain::catalogue::DEFAULT_MAX_DOCUMENT_BYTES,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_ref().map(|_| "[set]"))
            .field("review_interval_days", &self.review_interval_days)
            .field("max_document_bytes", &self.max_document_bytes)
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
        let listener = bind(settings.listen).await?;
        let limits = common.limits.clone();
        let api = api::CustomerApi::new(
            store::Store::new(db),
            clock,
            Arc::new(settings),
            shutdown.clone(),
        );
        let service = CustomerServiceServer::new(api)
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
