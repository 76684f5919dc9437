//! **gateway** — the one public endpoint of Dossier (DOMAIN.md §6, ARCHITECTURE.md "The
//! gateway"). Every call on a service's own method path is authenticated, checked against the
//! caller's access level and relation to the record, forwarded as raw bytes to the service that
//! owns the proto package, masked field by field from the contract's sensitivity annotations, and
//! audited in a hash chain. It also serves `dossier.gateway.v1.AccessService`: who am I,
//! borrowing (借阅), the audit log.
//!
//! Layout: [`domain`] (borrow rules, the audit chain, rate limits, record-level rules),
//! [`store`] (borrows, audit events), [`routing`] (method → service), [`upstream`] (raw
//! forwarding), [`inspect`] (reading requests through the contract), [`relations`] (owner /
//! team / borrower), [`proxy`] (the front door), [`audit`] (group-committed audit writes),
//! [`api`] (AccessService).
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod domain;
pub mod inspect;
pub mod proxy;
pub mod relations;
pub mod routing;
pub mod store;
pub mod upstream;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dossier_kit::auth::JwtVerifier;
use dossier_kit::clock::SharedClock;
use dossier_kit::config::{Config, database_url_or_default};
use dossier_kit::customers::CustomerDirectory;
use dossier_kit::server::{GrpcServer, ShutdownSignal, bind};
use dossier_proto::gateway::access_service_server::AccessServiceServer;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::domain::borrow::{BorrowPolicy, DEFAULT_BORROW_DAYS, MAX_BORROW_DAYS};
use crate::domain::rate_limit::{RateLimit, RateLimiter};

/// The service's name in logs and the `dossier` command.
pub const SERVICE_NAME: &str = "gateway";
/// Its configuration section.
pub const CONFIG_SECTION: &str = "gateway";
/// Its embedded database file under the data directory.
pub const DATABASE_FILE: &str = "gateway.db";
/// The gRPC service it serves itself.
pub const GRPC_SERVICE: &str = "dossier.gateway.v1.AccessService";
/// Its default address: the one public endpoint.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// Settings of the gateway (section `gateway`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Database URL (borrows, audit); unset means `sqlite://<data_dir>/gateway.db`.
    #[serde(skip_serializing)]
    pub database_url: Option<SecretString>,
    /// Service name → address, e.g. `customer-profile = "http://127.0.0.1:50061"`.
    pub upstreams: BTreeMap<String, String>,
    /// Days a borrow lasts when the request names no due time.
    pub borrow_default_days: i64,
    /// The longest borrow, in days.
    pub borrow_max_days: i64,
    /// Calls per second each caller may make, sustained.
    pub rate_limit_per_second: f64,
    /// Calls each caller may make at once after a quiet spell.
    pub rate_limit_burst: u32,
    /// Largest `page_size` a list may ask for.
    pub max_page_size: i64,
    /// Seconds the owner of a customer and a caller's grants are remembered.
    pub relation_cache_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50051))),
            database_url: None,
            upstreams: routing::DEFAULT_UPSTREAMS
                .iter()
                .map(|(name, address)| ((*name).to_owned(), (*address).to_owned()))
                .collect(),
            borrow_default_days: DEFAULT_BORROW_DAYS,
            borrow_max_days: MAX_BORROW_DAYS,
            rate_limit_per_second: 200.0,
            rate_limit_burst: 400,
            max_page_size: 500,
            relation_cache_secs: 5,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_ref().map(|_| "[set]"))
            .field("upstreams", &self.upstreams)
            .field("borrow_default_days", &self.borrow_default_days)
            .field("borrow_max_days", &self.borrow_max_days)
            .field("rate_limit_per_second", &self.rate_limit_per_second)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("max_page_size", &self.max_page_size)
            .field("relation_cache_secs", &self.relation_cache_secs)
            .finish()
    }
}

/// The running gateway: bound, database migrated, ready to serve.
pub struct Application {
    listener: TcpListener,
    server: GrpcServer,
    shutdown: ShutdownSignal,
    database_url: String,
}

impl Application {
    /// Builds the gateway from configuration. The services need not be up: their channels
    /// connect on first use and reconnect by themselves.
    pub async fn build(
        config: &Config,
        clock: SharedClock,
        shutdown: ShutdownSignal,
    ) -> Result<Self, String> {
        let common = config.common()?;
        let settings: Settings = config.section(CONFIG_SECTION)?;
        if settings.borrow_default_days < 1
            || settings.borrow_max_days < settings.borrow_default_days
        {
            return Err(format!(
                "{SERVICE_NAME}: borrow_default_days must be at least 1 and at most borrow_max_days"
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
        let verifier = Arc::new(common.auth.verifier(&common.data_dir)?);
        let listener = bind(settings.listen).await?;
        let limits = common.limits.clone();

        let upstream_map: HashMap<String, String> =
            settings.upstreams.clone().into_iter().collect();
        let customer_profile = upstream_map
            .get(dossier_kit::customers::CUSTOMER_PROFILE)
            .cloned()
            .ok_or_else(|| format!("{SERVICE_NAME}: no upstream for customer-profile"))?;
        let directory = CustomerDirectory::new(&customer_profile)?;
        let relations = relations::RelationResolver::new(
            directory.clone(),
            store.clone(),
            clock.clone(),
            Duration::from_secs(settings.relation_cache_secs),
        );
        let audit = audit::AuditLog::start(store.clone());
        let masker = Arc::new(dossier_masking::Masker::new());
        let gate = proxy::Gate {
            methods: routing::MethodTable::new(dossier_proto::descriptor_pool()),
            upstreams: upstream::Upstreams::new(&upstream_map, limits.max_message_bytes)?,
            masker: masker.clone(),
            verifier: verifier.clone(),
            relations: relations.clone(),
            audit: audit.clone(),
            limiter: Mutex::new(RateLimiter::new(RateLimit {
                per_second: settings.rate_limit_per_second,
                burst: f64::from(settings.rate_limit_burst),
            })),
            clock: clock.clone(),
            limits: proxy::ProxyLimits {
                max_message_bytes: limits.max_message_bytes,
                max_page_size: settings.max_page_size,
            },
        };
        let access = api::AccessApi::new(
            store,
            audit,
            directory,
            relations,
            clock,
            BorrowPolicy {
                default_days: settings.borrow_default_days,
                max_days: settings.borrow_max_days,
            },
            masker,
        );
        let access = AccessServiceServer::new(access)
            .max_decoding_message_size(limits.max_message_bytes)
            .max_encoding_message_size(limits.max_message_bytes);
        // The gateway's own service by name; every other path falls through to the proxy.
        let router =
            tonic::service::Routes::new(tonic::service::interceptor::InterceptedService::new(
                access,
                soft_authenticate(verifier),
            ))
            .prepare()
            .into_axum_router()
            .fallback_service(proxy::Proxy::new(Arc::new(gate)));
        Ok(Self {
            listener,
            server: GrpcServer {
                routes: tonic::service::Routes::from(router),
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

/// Authenticates AccessService calls without refusing them: a verified caller is put in the
/// request's extensions, and a call without one is refused by the handler *after* it is audited
/// (the kit's interceptor would refuse before anything could record the attempt).
fn soft_authenticate(
    verifier: Arc<JwtVerifier>,
) -> impl Fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |mut request: tonic::Request<()>| {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if let Ok(caller) = verifier.verify_header(header) {
            request.extensions_mut().insert(caller);
        }
        Ok(request)
    }
}
