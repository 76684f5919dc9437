//! Logs and traces: structured `tracing` output (pretty or JSON), and OpenTelemetry export over
//! OTLP/gRPC when an endpoint is configured. Initialised once per process.
//!
//! One trace follows a call across services through the W3C `traceparent` header: every server
//! makes its request span a child of the caller's context ([`server_span`]), and a service that
//! calls another puts its current span's context into the outgoing metadata
//! ([`inject_context`]). Database statements get spans of their own from sea-orm
//! (`tracing-spans`), under the request span.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::TelemetrySettings;

/// Keeps the trace exporter alive; dropping it flushes pending spans.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Which spans are exported when an OTLP endpoint is set, whatever the log filter: a service
/// logging only warnings still traces its calls and their statements.
const TRACE_FILTER: &str = "info";

/// Installs the global subscriber. `RUST_LOG` overrides the configured log filter. Calling it
/// again (tests, several services in one process) keeps the first subscriber.
pub fn init(settings: &TelemetrySettings, service_name: &str) -> Result<TelemetryGuard, String> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_filter))
        .map_err(|e| format!("telemetry.log_filter: {e}"))?;
    let fmt_layer = if settings.log_format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().with_target(false).boxed()
    };

    let (otel_layer, provider) = match &settings.otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service_name.to_owned())
                        .build(),
                )
                .build();
            let tracer = provider.tracer(service_name.to_owned());
            opentelemetry::global::set_tracer_provider(provider.clone());
            (
                Some(
                    tracing_opentelemetry::layer()
                        .with_tracer(tracer)
                        .with_filter(EnvFilter::new(TRACE_FILTER)),
                ),
                Some(provider),
            )
        }
        None => (None, None),
    };

    let installed = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer)
        .try_init();
    if installed.is_err() {
        // Already installed by an earlier call in this process; keep that one.
        return Ok(TelemetryGuard::default());
    }
    Ok(TelemetryGuard { provider })
}

/// The span of one call a server handles, named after the method path and made a child of the
/// trace context the caller sent in `traceparent` (a call without one starts a trace). `server`
/// names the serving service, e.g. `dossier.customer.v1.CustomerService`.
pub fn server_span<B>(request: &http::Request<B>, server: &str) -> tracing::Span {
    let path = request.uri().path();
    let span = tracing::info_span!(
        "grpc",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        server = %server,
        method = %path,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: then there is no trace to join.
        let _ = span.set_parent(parent);
    }
    span
}

/// Records the status a call was answered with on its span (the current one, made by
/// [`server_span`]). As OpenTelemetry's gRPC conventions say, only the codes that mean the
/// server failed mark the span as an error; a refused request is the caller's.
pub fn record_status(code: tonic::Code) {
    use tonic::Code;
    let span = tracing::Span::current();
    span.record("rpc.grpc.status_code", code as i32);
    if matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    ) {
        span.record("otel.status_code", "ERROR");
    }
}

/// The trace id of the current span (32 hex digits) when it is exported, so that a record of
/// the call (the gateway's audit event) can name the trace that shows it.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Writes the current span's trace context into outgoing gRPC metadata (`traceparent`,
/// `tracestate`), so the called service's span becomes its child. Leaves the metadata as it is
/// when there is no exported trace (no OTLP endpoint configured).
pub fn inject_context(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return;
    }
    TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}
