//! Logs and traces: structured `tracing` output (pretty or JSON), and OpenTelemetry export over
//! OTLP/gRPC when an endpoint is configured. Initialised once per process.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
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

/// Installs the global subscriber. `RUST_LOG` overrides the configured filter. Calling it again
/// (tests, several services in one process) keeps the first subscriber.
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
                Some(tracing_opentelemetry::layer().with_tracer(tracer)),
                Some(provider),
            )
        }
        None => (None, None),
    };

    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    if installed.is_err() {
        // Already installed by an earlier call in this process; keep that one.
        return Ok(TelemetryGuard::default());
    }
    Ok(TelemetryGuard { provider })
}
