//! Prometheus metrics: what every server counts by itself (calls by method and status code, their
//! latency, errors by code) and the gauges a service sets (a change-feed consumer's lag), served
//! in the Prometheus text format on `GET /metrics` at the service's `metrics_listen` address.
//!
//! One registry per process: `dossier serve` runs one service, so its endpoint shows that
//! service; under `dossier up` every endpoint shows the whole process (the `method` label names
//! the service anyway).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tonic::Code;

use crate::config::Config;
use crate::server::ShutdownSignal;

/// The content type Prometheus expects from a text-format scrape.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: a millisecond to ten seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The method label of calls on a path no service serves: unknown paths must not each grow a
/// new series.
const UNKNOWN_METHOD: &str = "unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Copy)]
struct LatencyHistogram;

impl MetricConstructor<Histogram> for LatencyHistogram {
    fn new_metric(&self) -> Histogram {
        Histogram::new(LATENCY_BUCKETS)
    }
}

struct Metrics {
    registry: Registry,
    requests: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram, LatencyHistogram>,
    errors: Family<CodeLabels, Counter>,
    feed_lag: Family<SourceLabels, Gauge>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::default();
        let requests = Family::<CallLabels, Counter>::default();
        let latency = Family::new_with_constructor(LatencyHistogram);
        let errors = Family::<CodeLabels, Counter>::default();
        let feed_lag = Family::<SourceLabels, Gauge>::default();
        registry.register(
            "dossier_grpc_requests",
            "gRPC calls served, by method and status code",
            requests.clone(),
        );
        registry.register(
            "dossier_grpc_request_duration_seconds",
            "Time to answer a gRPC call (to the response headers), by method",
            latency.clone(),
        );
        registry.register(
            "dossier_grpc_errors",
            "gRPC calls answered with a status other than OK, by code",
            errors.clone(),
        );
        registry.register(
            "dossier_feed_lag_events",
            "Events a change-feed consumer has yet to apply, by source feed",
            feed_lag.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            errors,
            feed_lag,
        }
    })
}

/// Counts one call answered with `code` after `elapsed`.
pub fn record_call(method: &str, code: Code, elapsed: Duration) {
    let metrics = metrics();
    let method = if code == Code::Unimplemented {
        UNKNOWN_METHOD.to_owned()
    } else {
        method.to_owned()
    };
    let name = code_name(code);
    metrics
        .requests
        .get_or_create(&CallLabels {
            method: method.clone(),
            code: name,
        })
        .inc();
    metrics
        .latency
        .get_or_create(&MethodLabels { method })
        .observe(elapsed.as_secs_f64());
    if code != Code::Ok {
        metrics
            .errors
            .get_or_create(&CodeLabels { code: name })
            .inc();
    }
}

/// Sets the lag of a change-feed consumer: how many events of `source` (e.g. `customer-profile`)
/// it has yet to apply. Shown as `dossier_feed_lag_events{source="…"}`.
pub fn set_feed_lag(source: &str, events: i64) {
    metrics()
        .feed_lag
        .get_or_create(&SourceLabels {
            source: source.to_owned(),
        })
        .set(events);
}

/// Every metric of this process in the Prometheus text format.
pub fn render() -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &metrics().registry);
    text
}

/// The canonical upper-case name of a gRPC status code, as in `google.rpc.Code`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The status of a gRPC response as far as its headers tell: an error is answered
/// "trailers-only", its `grpc-status` in the headers; a response without one carries its
/// messages, and is counted OK (a stream that fails later is not re-counted).
fn code_of<B>(response: &http::Response<B>) -> Code {
    match response.headers().get("grpc-status") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(Code::Unknown, Code::from_i32),
        None if response.status() == http::StatusCode::OK => Code::Ok,
        None => Code::Unknown,
    }
}

/// The tower layer every [`crate::server::GrpcServer`] puts around its services.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner }
    }
}

/// Counts and times each call of the service it wraps.
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for MetricsService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            let code = match &result {
                Ok(response) => code_of(response),
                Err(_) => Code::Unknown,
            };
            record_call(&method, code, started.elapsed());
            // Still inside the call's span (the server's `trace_fn` wraps every layer).
            crate::telemetry::record_status(code);
            result
        })
    }
}

/// The metrics address configured for a service section (`<section>.metrics_listen`, e.g.
/// `DOSSIER_CUSTOMER_PROFILE_METRICS_LISTEN=127.0.0.1:9161`); none means no endpoint.
pub fn configured_listen(config: &Config, section: &str) -> Result<Option<SocketAddr>, String> {
    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    #[serde(default)]
    struct Section {
        metrics_listen: Option<SocketAddr>,
    }
    Ok(config.section::<Section>(section)?.metrics_listen)
}

/// Binds `<section>.metrics_listen` when it is set and serves `GET /metrics` there until
/// `shutdown` fires. Returns the bound address (port 0 picks a free one).
pub async fn start(
    config: &Config,
    section: &str,
    shutdown: ShutdownSignal,
) -> Result<Option<SocketAddr>, String> {
    let Some(address) = configured_listen(config, section)? else {
        return Ok(None);
    };
    let listener = crate::server::bind(address).await?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("metrics listener: {e}"))?;
    tokio::spawn(async move {
        if let Err(error) = serve(listener, shutdown).await {
            tracing::error!(%error, "metrics endpoint stopped");
        }
    });
    Ok(Some(bound))
}

/// Serves `GET /metrics` on `listener` until `shutdown` fires.
pub async fn serve(listener: TcpListener, mut shutdown: ShutdownSignal) -> Result<(), String> {
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], render()) }),
    );
    tonic::transport::Server::builder()
        // Prometheus scrapes over HTTP/1.1.
        .accept_http1(true)
        .add_routes(tonic::service::Routes::from(router))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            async move { shutdown.wait().await },
        )
        .await
        .map_err(|e| format!("metrics endpoint: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_method_and_code_and_errors_by_code() {
        record_call(
            "/test.v1.Metrics/Count",
            Code::InvalidArgument,
            Duration::from_millis(3),
        );
        record_call(
            "/test.v1.Metrics/Count",
            Code::Ok,
            Duration::from_millis(20),
        );
        record_call(
            "/test.v1.Metrics/Count",
            Code::Ok,
            Duration::from_millis(20),
        );
        let text = render();
        assert!(
            text.contains(
                "dossier_grpc_requests_total{method=\"/test.v1.Metrics/Count\",code=\"OK\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("dossier_grpc_requests_total{method=\"/test.v1.Metrics/Count\",code=\"INVALID_ARGUMENT\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "dossier_grpc_request_duration_seconds_count{method=\"/test.v1.Metrics/Count\"} 3"
            ),
            "{text}"
        );
        // 3 ms falls in the 5 ms bucket; the two 20 ms calls only from 25 ms on.
        assert!(
            text.contains("dossier_grpc_request_duration_seconds_bucket{le=\"0.005\",method=\"/test.v1.Metrics/Count\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("dossier_grpc_request_duration_seconds_bucket{le=\"0.025\",method=\"/test.v1.Metrics/Count\"} 3"),
            "{text}"
        );
        assert!(text.contains("dossier_grpc_errors_total{code=\"INVALID_ARGUMENT\"}"));
    }

    #[test]
    fn unknown_paths_share_one_series() {
        record_call("/no.such/Method1", Code::Unimplemented, Duration::ZERO);
        record_call("/no.such/Method2", Code::Unimplemented, Duration::ZERO);
        let text = render();
        assert!(!text.contains("/no.such/"), "{text}");
        assert!(text.contains("method=\"unknown\",code=\"UNIMPLEMENTED\"}"));
    }

    #[test]
    fn feed_lag_is_a_gauge_by_source() {
        set_feed_lag("test-feed", 42);
        set_feed_lag("test-feed", 7);
        let text = render();
        assert!(
            text.contains("dossier_feed_lag_events{source=\"test-feed\"} 7"),
            "{text}"
        );
    }

    #[test]
    fn a_status_in_the_headers_is_the_calls_code() {
        let trailers_only = http::Response::builder()
            .header("grpc-status", "3")
            .body(())
            .expect("response");
        assert_eq!(code_of(&trailers_only), Code::InvalidArgument);
        let streaming = http::Response::builder().body(()).expect("response");
        assert_eq!(code_of(&streaming), Code::Ok);
    }

    #[test]
    fn the_metrics_address_comes_from_the_service_section() {
        let config = Config::from_values(serde_json::json!({
            "customer_profile": {"metrics_listen": "127.0.0.1:9161"}
        }));
        assert_eq!(
            configured_listen(&config, "customer_profile").expect("valid"),
            Some(SocketAddr::from(([127, 0, 0, 1], 9161)))
        );
        assert_eq!(configured_listen(&config, "gateway").expect("valid"), None);
    }
}
