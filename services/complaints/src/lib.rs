//! **complaints** — the customer complaint card (附表八 客户投诉管理卡) of Dossier and its life
//! cycle (received → analysed → handling → replied → closed, reopened when the customer is not
//! satisfied), reply-time targets per customer grade with overdue, soon-due and escalation
//! lists, customer feedback records (客户反馈记录) and complaint statistics, served as
//! `dossier.complaint.v1.ComplaintService`.
//!
//! Layout: [`domain`] holds the business rules (no tonic, no sea-orm); [`store`] the tables,
//! queries and the outbox; [`api`] the gRPC service; [`wire`] the message ↔ domain conversions.
//! [`Application`] wires them into a server with the kit.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod store;
pub mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use dossier_kit::clock::SharedClock;
use dossier_kit::config::{Config, database_url_or_default};
use dossier_kit::customers::CustomerDirectory;
use dossier_kit::server::{GrpcServer, ShutdownSignal, authenticate, bind};
use dossier_proto::complaint::complaint_service_server::ComplaintServiceServer;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use domain::sla::{BusinessHours, DEFAULT_REPLY_HOURS, ReplyTargets};

/// The service's name in logs, traces and the `dossier` command.
pub const SERVICE_NAME: &str = "complaints";
/// Its configuration section.
pub const CONFIG_SECTION: &str = "complaints";
/// Its embedded database file under the data directory.
pub const DATABASE_FILE: &str = "complaints.db";
/// The gRPC service it serves.
pub const GRPC_SERVICE: &str = "dossier.complaint.v1.ComplaintService";
/// Its default address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50064";
/// customer-profile's default address.
pub const DEFAULT_CUSTOMER_PROFILE_ENDPOINT: &str = "http://127.0.0.1:50061";

/// Settings of complaints (section `complaints`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL; unset means `sqlite://<data_dir>/complaints.db`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// Where customer-profile answers (customer checks and grades).
    pub customer_profile_endpoint: String,
    /// Reply target in hours for grades without their own (default 48).
    pub reply_hours: u32,
    /// Reply targets by customer grade, e.g. `{ A = 24, B = 36 }`.
    pub reply_hours_by_grade: BTreeMap<String, u32>,
    /// When set, targets count only working hours (Monday–Friday, `start_hour`–`end_hour`).
    pub business_hours: Option<BusinessHours>,
    /// Local time's offset from UTC in minutes, for statistics by month (480 for China).
    pub utc_offset_minutes: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50064))),
            database_url: None,
            customer_profile_endpoint: DEFAULT_CUSTOMER_PROFILE_ENDPOINT.into(),
            reply_hours: DEFAULT_REPLY_HOURS,
            reply_hours_by_grade: BTreeMap::new(),
            business_hours: None,
            utc_offset_minutes: 480,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_ref().map(|_| "[set]"))
            .field("customer_profile_endpoint", &self.customer_profile_endpoint)
            .field("reply_hours", &self.reply_hours)
            .field("reply_hours_by_grade", &self.reply_hours_by_grade)
            .field("business_hours", &self.business_hours)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
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
    /// Builds the service from configuration: checks the reply targets, connects and migrates
    /// its database, binds its port (`listen`, port 0 for any free one).
    pub async fn build(
        config: &Config,
        clock: SharedClock,
        shutdown: ShutdownSignal,
    ) -> Result<Self, String> {
        let common = config.common()?;
        let settings: Settings = config.section(CONFIG_SECTION)?;
        let targets = ReplyTargets::from_settings(
            settings.reply_hours,
            &settings.reply_hours_by_grade,
            settings.business_hours,
        )
        .map_err(|e| format!("{CONFIG_SECTION}: {e}"))?;
        if settings.utc_offset_minutes.abs() > 14 * 60 {
            return Err(format!(
                "{CONFIG_SECTION}.utc_offset_minutes {} is not an offset",
                settings.utc_offset_minutes
            ));
        }
        let directory = CustomerDirectory::new(&settings.customer_profile_endpoint)?;
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
        let api = api::ComplaintApi::new(api::Parts {
            store: store::Store::new(db),
            clock,
            targets,
            directory,
            utc_offset: chrono::Duration::minutes(i64::from(settings.utc_offset_minutes)),
            shutdown: shutdown.clone(),
        });
        let service = ComplaintServiceServer::new(api)
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
