//! **analytics** — the comprehensive sales-force analysis (附表六 客户综合销售力分析表) and its
//! comparison (附表七), customer composition (客户构成分析) with ABC / key-account classification,
//! key-customer sales (重点客户销量统计表), salesperson performance and the general manager's
//! dashboard, with their xlsx exports, served as `dossier.analytics.v1.AnalyticsService`.
//!
//! Analytics owns a read model fed only by the other services' change feeds ([`feed`]): one
//! consumer per source stores the last applied sequence in the same transaction as what it
//! applied, so a crash loses nothing and counts nothing twice.
//!
//! Layout: [`domain`] holds the rules (no tonic, no sea-orm); [`store`] the tables, the applying
//! of events and the aggregates in SQL; [`api`] the gRPC service; [`export`] the workbooks.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod export;
pub mod feed;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use dossier_kit::clock::SharedClock;
use dossier_kit::config::{Config, database_url_or_default};
use dossier_kit::server::{GrpcServer, ShutdownSignal, authenticate, bind};
use dossier_proto::analytics::analytics_service_server::AnalyticsServiceServer;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use domain::abc::Thresholds;
use feed::{FeedSource, LagBoard};
use store::apply::Source;

/// The service's name in logs, traces and the `dossier` command.
pub const SERVICE_NAME: &str = "analytics";
/// Its configuration section.
pub const CONFIG_SECTION: &str = "analytics";
/// Its embedded database file under the data directory.
pub const DATABASE_FILE: &str = "analytics.db";
/// The gRPC service it serves.
pub const GRPC_SERVICE: &str = "dossier.analytics.v1.AnalyticsService";
/// Its default address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50065";

/// Settings of analytics (section `analytics`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL; unset means `sqlite://<data_dir>/analytics.db`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// customer-profile's change feed.
    pub customer_profile_endpoint: String,
    /// visit-journal's change feed.
    pub visit_journal_endpoint: String,
    /// contract-receivables' change feed.
    pub contract_receivables_endpoint: String,
    /// complaints' change feed.
    pub complaints_endpoint: String,
    /// The service token the consumers present to the sources (`dossier up` mints one). Without
    /// it the consumers report `UNAUTHENTICATED` in `GetFeedLag`.
    #[serde(skip_serializing)]
    pub feed_token: Option<SecretString>,
    /// Whether to follow the feeds (off only for tools that drive the consumers themselves).
    pub follow_feeds: bool,
    /// Cumulative share closing ABC class A, percent (default 80).
    pub abc_a_share_percent: String,
    /// Cumulative share closing class B, percent (default 95: B is the next 15 %, C the last 5 %).
    pub abc_b_share_percent: String,
    /// Local time's offset from UTC in minutes, for months of complaints (480 for China).
    pub utc_offset_minutes: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50065))),
            database_url: None,
            customer_profile_endpoint: "http://127.0.0.1:50061".into(),
            visit_journal_endpoint: "http://127.0.0.1:50062".into(),
            contract_receivables_endpoint: "http://127.0.0.1:50063".into(),
            complaints_endpoint: "http://127.0.0.1:50064".into(),
            feed_token: None,
            follow_feeds: true,
            abc_a_share_percent: "80".into(),
            abc_b_share_percent: "95".into(),
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
            .field("visit_journal_endpoint", &self.visit_journal_endpoint)
            .field(
                "contract_receivables_endpoint",
                &self.contract_receivables_endpoint,
            )
            .field("complaints_endpoint", &self.complaints_endpoint)
            .field("feed_token", &self.feed_token.as_ref().map(|_| "[set]"))
            .field("follow_feeds", &self.follow_feeds)
            .field("abc_a_share_percent", &self.abc_a_share_percent)
            .field("abc_b_share_percent", &self.abc_b_share_percent)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .finish()
    }
}

impl Settings {
    /// The feeds to follow, with the token (an empty one when none is configured).
    pub fn feeds(&self) -> Vec<FeedSource> {
        let token = self
            .feed_token
            .clone()
            .unwrap_or_else(|| SecretString::from(String::new()));
        Source::ALL
            .iter()
            .map(|&source| FeedSource {
                source,
                endpoint: match source {
                    Source::Customers => self.customer_profile_endpoint.clone(),
                    Source::Visits => self.visit_journal_endpoint.clone(),
                    Source::Contracts => self.contract_receivables_endpoint.clone(),
                    Source::Complaints => self.complaints_endpoint.clone(),
                },
                token: token.clone(),
            })
            .collect()
    }
}

/// The running service: bound to its port, database migrated, ready to serve and follow.
pub struct Application {
    listener: TcpListener,
    server: GrpcServer,
    shutdown: ShutdownSignal,
    database_url: String,
    consumers: Vec<(store::Store, FeedSource, LagBoard, SharedClock)>,
}

impl Application {
    /// Builds the service from configuration: connects and migrates its database, binds its port
    /// (`listen`, port 0 for any free one). The consumers start with [`run_until_stopped`].
    ///
    /// [`run_until_stopped`]: Self::run_until_stopped
    pub async fn build(
        config: &Config,
        clock: SharedClock,
        shutdown: ShutdownSignal,
    ) -> Result<Self, String> {
        let common = config.common()?;
        let settings: Settings = config.section(CONFIG_SECTION)?;
        let thresholds = Thresholds::parse(
            &settings.abc_a_share_percent,
            &settings.abc_b_share_percent,
            Thresholds {
                a_basis_points: 8000,
                b_basis_points: 9500,
            },
        )
        .map_err(|(field, reason)| format!("{CONFIG_SECTION}.abc_{field}: {reason}"))?;
        if settings.utc_offset_minutes.abs() > 14 * 60 {
            return Err(format!(
                "{CONFIG_SECTION}.utc_offset_minutes {} is not an offset",
                settings.utc_offset_minutes
            ));
        }
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
        let store = store::Store::new(db);
        let board = LagBoard::default();
        let verifier = Arc::new(common.auth.verifier(&common.data_dir)?);
        let listener = bind(settings.listen).await?;
        let limits = common.limits.clone();
        let api = api::AnalyticsApi::new(api::Parts {
            store: store.clone(),
            clock: clock.clone(),
            board: board.clone(),
            thresholds,
            utc_offset_minutes: settings.utc_offset_minutes,
        });
        let service = AnalyticsServiceServer::new(api)
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes);
        let routes = tonic::service::Routes::new(
            tonic::service::interceptor::InterceptedService::new(service, authenticate(verifier)),
        );
        let consumers = if settings.follow_feeds {
            settings
                .feeds()
                .into_iter()
                .map(|feed| (store.clone(), feed, board.clone(), clock.clone()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            listener,
            server: GrpcServer {
                routes,
                service_names: vec![GRPC_SERVICE],
                limits,
            },
            shutdown,
            database_url,
            consumers,
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

    /// Follows the feeds and serves until the shutdown signal fires.
    pub async fn run_until_stopped(self) -> Result<(), String> {
        let consumers: Vec<_> = self
            .consumers
            .into_iter()
            .map(|(store, feed, board, clock)| {
                feed::spawn(store, feed, board, clock, self.shutdown.clone())
            })
            .collect();
        let served = self.server.serve(self.listener, self.shutdown).await;
        for consumer in consumers {
            consumer.abort();
        }
        served
    }
}
