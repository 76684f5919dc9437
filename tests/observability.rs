//! Traces and metrics of separate `dossier serve` processes: one trace runs from the gateway
//! through customer-profile into its database statements (and from the gateway through
//! complaints on to customer-profile), exported over OTLP to a receiver this test runs; and every
//! service counts its calls in Prometheus format on its metrics port.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dossier_kit::auth::Role;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{self as pb};
use dossier_testkit::token;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use support::{Topology, with_token};

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    /// Attributes, their values printed.
    attributes: HashMap<String, String>,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    status: i32,
}

fn printed(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// An OTLP/gRPC trace receiver keeping every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .map(|kv| printed(kv.value.as_ref().and_then(|v| v.value.as_ref())))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    kept.push(Received {
                        service: service.clone(),
                        name: span.name,
                        trace_id: hex::encode(span.trace_id),
                        span_id: hex::encode(span.span_id),
                        parent_id: hex::encode(span.parent_span_id),
                        attributes: span
                            .attributes
                            .iter()
                            .map(|kv| {
                                let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
                                (kv.key.clone(), printed(value))
                            })
                            .collect(),
                        status: span.status.map_or(0, |status| status.code),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Serves on a free loopback port; returns its endpoint.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        format!("http://{address}")
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }
}

const GET_CUSTOMER: &str = "/dossier.customer.v1.CustomerService/GetCustomer";
const CREATE_CUSTOMER: &str = "/dossier.customer.v1.CustomerService/CreateCustomer";

fn customer(name: &str) -> pb::Customer {
    pb::Customer {
        kind: pb::CustomerKind::Company as i32,
        name: name.into(),
        address: "浙江省杭州市西湖区文三路 138 号".into(),
        phone: "0571-88123456".into(),
        region: "华东/杭州".into(),
        owner_id: "rep-east".into(),
        team: "east".into(),
        ..pb::Customer::default()
    }
}

#[tokio::test]
async fn one_trace_runs_from_the_gateway_through_the_service_into_its_database() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let mut topology = Topology::new(
        &["customer-profile", "complaints", "gateway"],
        &[],
        &[
            ("DOSSIER_TELEMETRY_OTLP_ENDPOINT", endpoint.as_str()),
            // Spans go out every 100 ms instead of every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            // Logs at warn: traces are exported all the same.
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    topology.start("customer-profile");
    topology.start("complaints");
    topology.start("gateway");

    let archivist = token(Role::Archivist, "arch-1", "");
    let mut client = CustomerServiceClient::new(topology.channel("gateway"));
    let created = client
        .create_customer(with_token(
            pb::CreateCustomerRequest {
                customer: Some(customer("杭州恒远化工有限公司")),
                request_id: "trace-1".into(),
            },
            &archivist,
        ))
        .await
        .expect("created")
        .into_inner();

    // The caller's own trace context: the gateway's span must continue it.
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let mut request = with_token(
        pb::GetCustomerRequest {
            id: created.id.clone(),
        },
        &archivist,
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{client_trace}-{client_span}-01")
            .parse()
            .expect("ascii"),
    );
    client.get_customer(request).await.expect("read");
    // The create came without a trace context: the gateway started a trace, and its audit
    // event names that trace.
    let auditor = token(Role::Auditor, "aud-1", "");
    let audited = dossier_proto::gateway::access_service_client::AccessServiceClient::new(
        topology.channel("gateway"),
    )
    .list_audit_events(with_token(
        dossier_proto::gateway::ListAuditEventsRequest {
            method: CREATE_CUSTOMER.into(),
            ..Default::default()
        },
        &auditor,
    ))
    .await
    .expect("audit listed")
    .into_inner()
    .events;
    assert_eq!(audited.len(), 1, "{audited:#?}");
    let audited_trace = audited[0].trace_id.clone();

    // A read of a customer that does not exist: its own trace, its status on the spans.
    let missing = client
        .get_customer(with_token(
            pb::GetCustomerRequest {
                id: uuid::Uuid::new_v4().to_string(),
            },
            &archivist,
        ))
        .await
        .expect_err("no such customer");
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // The exporters send in batches: wait until the read's spans have arrived.
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == client_trace)
            .collect();
        let has = |service: &str| {
            spans
                .iter()
                .any(|s| s.service == service && s.name == GET_CUSTOMER)
        };
        let db = spans
            .iter()
            .any(|s| s.service == "customer-profile" && s.name.starts_with("sea_orm"));
        if has("gateway") && has("customer-profile") && db {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_id: HashMap<&str, &Received> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();

    let gateway = spans
        .iter()
        .find(|s| s.service == "gateway" && s.name == GET_CUSTOMER)
        .unwrap_or_else(|| panic!("a gateway span for the read in {spans:#?}"));
    assert_eq!(
        gateway.parent_id, client_span,
        "the gateway's span is a child of the caller's"
    );
    let service = spans
        .iter()
        .find(|s| s.service == "customer-profile" && s.name == GET_CUSTOMER)
        .unwrap_or_else(|| panic!("a customer-profile span for the read in {spans:#?}"));
    assert_eq!(
        service.parent_id, gateway.span_id,
        "the service's span is a child of the gateway's"
    );

    // Database statements: spans of customer-profile under its request span.
    let under_service = |span: &Received| {
        let mut at = span;
        for _ in 0..32 {
            if at.span_id == service.span_id {
                return true;
            }
            match by_id.get(at.parent_id.as_str()) {
                Some(parent) => at = parent,
                None => return false,
            }
        }
        false
    };
    let statements: Vec<&Received> = spans
        .iter()
        .filter(|s| s.service == "customer-profile" && s.name.starts_with("sea_orm"))
        .collect();
    assert!(
        !statements.is_empty(),
        "database spans in the read's trace: {spans:#?}"
    );
    assert!(
        statements.iter().all(|s| under_service(s)),
        "every database span of the trace descends from the service's span: {spans:#?}"
    );
    assert!(
        spans.iter().all(|s| s.trace_id == client_trace),
        "one trace id throughout"
    );
    for span in [gateway, service] {
        assert_eq!(
            span.attributes
                .get("rpc.grpc.status_code")
                .map(String::as_str),
            Some("0"),
            "{span:#?}"
        );
    }

    let create_span = receiver
        .spans()
        .into_iter()
        .find(|s| s.service == "gateway" && s.name == CREATE_CUSTOMER)
        .expect("the gateway's span of the create");
    assert_eq!(
        create_span.trace_id, audited_trace,
        "the audit event names the call's trace"
    );
    assert_ne!(audited_trace, client_trace);

    // The failed read: a trace of its own, NOT_FOUND (5) on both server spans, which stay
    // unmarked as errors (the caller's mistake, not the server's).
    let mut failed = Vec::new();
    for _ in 0..100 {
        failed = receiver
            .spans()
            .into_iter()
            .filter(|s| {
                s.name == GET_CUSTOMER
                    && s.attributes.get("rpc.grpc.status_code").map(String::as_str) == Some("5")
            })
            .collect();
        if failed.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        failed.len(),
        2,
        "gateway and service spans of the failed read: {failed:#?}"
    );
    assert_ne!(failed[0].trace_id, client_trace);
    assert_eq!(failed[0].trace_id, failed[1].trace_id);
    assert!(failed.iter().all(|s| s.status != 2), "{failed:#?}");

    // A service that is down is the server side's failure: UNAVAILABLE, an error span.
    let down = dossier_proto::visit::visit_service_client::VisitServiceClient::new(
        topology.channel("gateway"),
    )
    .get_visit(with_token(
        dossier_proto::visit::GetVisitRequest { id: "v-1".into() },
        &token(Role::SalesManager, "mgr-east", "east"),
    ))
    .await
    .expect_err("visit-journal is not running");
    assert_eq!(down.code(), tonic::Code::Unavailable);
    let mut unavailable = None;
    for _ in 0..100 {
        unavailable = receiver.spans().into_iter().find(|s| {
            s.name == "/dossier.visit.v1.VisitService/GetVisit"
                && s.attributes.get("rpc.grpc.status_code").map(String::as_str) == Some("14")
        });
        if unavailable.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unavailable = unavailable.expect("the gateway's span of the call to a service down");
    assert_eq!(unavailable.service, "gateway");
    assert_eq!(unavailable.status, 2, "{unavailable:#?}");

    // Three services deep: a complaint filed through the gateway makes complaints ask
    // customer-profile about the customer, and that call joins the same trace.
    let file_trace = "0af7651916cd43dd8448eb211c80319c";
    let mut request = with_token(
        dossier_proto::complaint::FileComplaintRequest {
            complaint: Some(dossier_proto::complaint::Complaint {
                customer_id: created.id.clone(),
                complaint_time: Some(dossier_kit::time::to_timestamp(chrono::Utc::now())),
                complainant: "王建国".into(),
                complainant_phone: "13812345678".into(),
                subject: "第三批货晚到".into(),
                content: "第三批货晚到五天,影响生产".into(),
                ..Default::default()
            }),
            request_id: "trace-complaint".into(),
        },
        &token(Role::CustomerService, "desk-1", "east"),
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{file_trace}-b7ad6b7169203331-01")
            .parse()
            .expect("ascii"),
    );
    dossier_proto::complaint::complaint_service_client::ComplaintServiceClient::new(
        topology.channel("gateway"),
    )
    .file_complaint(request)
    .await
    .expect("complaint filed");
    const FILE: &str = "/dossier.complaint.v1.ComplaintService/FileComplaint";
    let mut hops = None;
    for _ in 0..100 {
        let spans: Vec<Received> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == file_trace)
            .collect();
        let gateway = spans
            .iter()
            .find(|s| s.service == "gateway" && s.name == FILE);
        let complaints = spans.iter().find(|s| {
            s.service == "complaints"
                && s.name == FILE
                && gateway.is_some_and(|g| s.parent_id == g.span_id)
        });
        let profile = spans.iter().find(|s| {
            s.service == "customer-profile"
                && s.name == GET_CUSTOMER
                && complaints.is_some_and(|c| s.parent_id == c.span_id)
        });
        if let (Some(g), Some(c), Some(p)) = (gateway, complaints, profile) {
            hops = Some((g.clone(), c.clone(), p.clone()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (gateway, complaints, profile) = hops.unwrap_or_else(|| {
        panic!(
            "gateway → complaints → customer-profile in one trace: {:#?}",
            receiver
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == file_trace)
                .collect::<Vec<_>>()
        )
    });
    assert_eq!(gateway.parent_id, "b7ad6b7169203331");
    assert_eq!(complaints.parent_id, gateway.span_id);
    assert_eq!(profile.parent_id, complaints.span_id);
}

#[tokio::test]
async fn every_service_counts_its_calls_by_method_and_code() {
    let mut topology = Topology::new(
        &["customer-profile", "gateway"],
        &["customer-profile", "gateway"],
        &[],
    )
    .await;
    topology.start("customer-profile");
    topology.start("gateway");
    let archivist = token(Role::Archivist, "arch-1", "");
    let mut client = CustomerServiceClient::new(topology.channel("gateway"));
    for n in 0..3 {
        client
            .create_customer(with_token(
                pb::CreateCustomerRequest {
                    customer: Some(customer(&format!("宁波{n}号贸易有限公司"))),
                    request_id: format!("metrics-{n}"),
                },
                &archivist,
            ))
            .await
            .expect("created");
    }
    // A credit code with a wrong check character.
    let refused = client
        .create_customer(with_token(
            pb::CreateCustomerRequest {
                customer: Some(pb::Customer {
                    credit_code: "91330100MA2B3C4D5E".into(),
                    ..customer("杭州恒远化工有限公司")
                }),
                request_id: "metrics-bad".into(),
            },
            &archivist,
        ))
        .await
        .expect_err("a bad credit code is refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    const CREATE: &str = "/dossier.customer.v1.CustomerService/CreateCustomer";
    for service in ["customer-profile", "gateway"] {
        let text = support::scrape(topology.metrics_address(service)).await;
        assert!(
            text.contains(&format!(
                "dossier_grpc_requests_total{{method=\"{CREATE}\",code=\"OK\"}} 3"
            )),
            "{service}: three creates answered OK:\n{text}"
        );
        assert!(
            text.contains(&format!(
                "dossier_grpc_requests_total{{method=\"{CREATE}\",code=\"INVALID_ARGUMENT\"}} 1"
            )),
            "{service}: the refused create under its code:\n{text}"
        );
        assert!(
            text.contains(&format!(
                "dossier_grpc_request_duration_seconds_count{{method=\"{CREATE}\"}} 4"
            )),
            "{service}: four creates timed:\n{text}"
        );
        assert!(
            text.contains("dossier_grpc_request_duration_seconds_bucket{"),
            "{service}: a latency histogram:\n{text}"
        );
        assert!(
            text.contains("dossier_grpc_errors_total{code=\"INVALID_ARGUMENT\"} 1"),
            "{service}: errors by code:\n{text}"
        );
    }
}
