//! Serving a gRPC service the way every Dossier server does: health, reflection, gRPC-Web,
//! request deadlines, a concurrency limit, message-size limits, authentication, and a graceful
//! shutdown that lets in-flight calls finish.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::{Request, Status};

use crate::auth::{Caller, JwtVerifier};
use crate::config::LimitSettings;

/// A signal that fires once, when the process is asked to stop. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownSignal(watch::Receiver<bool>);

/// The trigger of a [`ShutdownSignal`].
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(Arc<watch::Sender<bool>>);

/// A signal and the trigger that fires it.
pub fn shutdown_pair() -> (ShutdownTrigger, ShutdownSignal) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger(Arc::new(sender)), ShutdownSignal(receiver))
}

impl ShutdownTrigger {
    /// Fires the signal.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl ShutdownSignal {
    /// Resolves when the signal fires (at once if it has).
    pub async fn wait(&mut self) {
        // An error means the trigger was dropped: treat it as a stop as well.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// A signal that fires on Ctrl-C or SIGTERM.
    pub fn from_os() -> (ShutdownTrigger, ShutdownSignal) {
        let (trigger, signal) = shutdown_pair();
        let on_signal = trigger.clone();
        tokio::spawn(async move {
            wait_for_os_signal().await;
            tracing::info!("shutdown requested");
            on_signal.fire();
        });
        (trigger, signal)
    }
}

async fn wait_for_os_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// Makes the authentication interceptor: verifies `authorization: Bearer <jwt>` and puts the
/// [`Caller`] into the request's extensions. Health and reflection are served without it.
pub fn authenticate(
    verifier: Arc<JwtVerifier>,
) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static {
    move |mut request: Request<()>| {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let caller = verifier.verify_header(header).map_err(Status::from)?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller the interceptor authenticated.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, crate::Problem> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| crate::Problem::Unauthenticated {
            message: "no authenticated caller".into(),
        })
}

/// One gRPC server: the business services in `routes` (already wrapped with their interceptors
/// and message limits), reported SERVING under `service_names`, plus health and reflection.
pub struct GrpcServer {
    /// The business services.
    pub routes: Routes,
    /// Full names for the health service, e.g. `dossier.customer.v1.CustomerService`.
    pub service_names: Vec<&'static str>,
    /// Limits.
    pub limits: LimitSettings,
}

impl GrpcServer {
    /// Serves on `listener` until `shutdown` fires, then stops accepting, lets in-flight calls
    /// finish for up to the grace period, and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        mut shutdown: ShutdownSignal,
    ) -> Result<(), String> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        for name in &self.service_names {
            health_reporter
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(dossier_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| format!("reflection: {e}"))?;
        let reflection_alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(dossier_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| format!("reflection: {e}"))?;

        let limits = &self.limits;
        let routes = self
            .routes
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_alpha);

        let mut stop_signal = shutdown.clone();
        let server_name = self.service_names.first().copied().unwrap_or("grpc");
        let server = Server::builder()
            // Browsers and some mobile stacks speak gRPC-Web over HTTP/1.1.
            .accept_http1(true)
            // A call without its own deadline gets this one; a shorter client deadline wins.
            .timeout(Duration::from_secs(limits.request_timeout_secs))
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            // The call's span joins the caller's trace (W3C `traceparent`).
            .trace_fn(move |request| crate::telemetry::server_span(request, server_name))
            // One limit for the whole server, shared by all connections, so a burst waits
            // instead of exhausting the database pool.
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                limits.concurrency_limit,
            ))
            .layer(tonic_web::GrpcWebLayer::new())
            // Inside gRPC-Web: a call's status is read from plain gRPC response headers.
            .layer(crate::metrics::MetricsLayer)
            .add_routes(routes)
            // Nagle's algorithm off, as tonic does when it binds itself: with it on, a small
            // reply waits for the client's delayed ACK (about 40 ms a call).
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                async move { stop_signal.wait().await },
            );

        // Bounded: an idle client connection can keep hyper's graceful shutdown waiting
        // (hyperium/hyper#4170), and a stop must not hang on a client.
        let grace = Duration::from_secs(limits.shutdown_grace_secs);
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => return result.map_err(|e| format!("server: {e}")),
            _ = shutdown.wait() => {}
        }
        // Load balancers stop sending new calls while the in-flight ones finish.
        for name in &self.service_names {
            health_reporter
                .set_service_status(*name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        match tokio::time::timeout(grace, server).await {
            Ok(result) => result.map_err(|e| format!("server: {e}")),
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "in-flight calls did not finish in time"
                );
                Ok(())
            }
        }
    }
}

/// Binds a listener; port 0 picks a free port (tests).
pub async fn bind(address: std::net::SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))
}
