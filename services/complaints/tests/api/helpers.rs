//! Starting customer-profile and complaints for a test and talking to them.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use dossier_kit::auth::Role;
use dossier_kit::clock::{Clock, ManualClock};
use dossier_kit::config::Config;
use dossier_kit::server::{ShutdownTrigger, shutdown_pair};
use dossier_kit::time::to_timestamp;
use dossier_proto::complaint::complaint_service_client::ComplaintServiceClient;
use dossier_proto::complaint::{self as pb};
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{self as cpb};
use dossier_testkit::{TestDb, auth_config, token, with_token};
use tonic::transport::Channel;

/// Both services with their own databases and one clock the test moves.
pub struct TestApp {
    pub client: ComplaintServiceClient<Channel>,
    pub customers: CustomerServiceClient<Channel>,
    pub clock: ManualClock,
    _dbs: (TestDb, TestDb),
    triggers: Vec<ShutdownTrigger>,
    _data_dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for trigger in &self.triggers {
            trigger.fire();
        }
    }
}

/// The fixed "now" of tests: 2026-06-15 09:00 UTC (a Monday).
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
        .single()
        .expect("valid time")
}

async fn connect(port: u16) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects")
}

/// Starts both services; `complaints` is merged into the complaints section (e.g. targets).
pub async fn spawn_with(complaints: serde_json::Value) -> TestApp {
    let (profile_db, complaints_db) = (TestDb::new().await, TestDb::new().await);
    let data_dir = tempfile::tempdir().expect("data dir");
    let clock = ManualClock::new(start_time());

    let profile_config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "customer_profile": {"listen": "127.0.0.1:0", "database_url": profile_db.url},
    }));
    let (profile_trigger, profile_shutdown) = shutdown_pair();
    let profile = dossier_customer_profile::Application::build(
        &profile_config,
        Arc::new(clock.clone()),
        profile_shutdown,
    )
    .await
    .expect("customer-profile builds");
    let profile_port = profile.port();
    tokio::spawn(profile.run_until_stopped());

    let mut section = serde_json::json!({
        "listen": "127.0.0.1:0",
        "database_url": complaints_db.url,
        "customer_profile_endpoint": format!("http://127.0.0.1:{profile_port}"),
    });
    if let (Some(section), Some(extra)) = (section.as_object_mut(), complaints.as_object()) {
        for (key, value) in extra {
            section.insert(key.clone(), value.clone());
        }
    }
    let config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "complaints": section,
    }));
    let (trigger, shutdown) = shutdown_pair();
    let app = dossier_complaints::Application::build(&config, Arc::new(clock.clone()), shutdown)
        .await
        .expect("complaints builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        client: ComplaintServiceClient::new(connect(port).await),
        customers: CustomerServiceClient::new(connect(profile_port).await),
        clock,
        _dbs: (profile_db, complaints_db),
        triggers: vec![trigger, profile_trigger],
        _data_dir: data_dir,
    }
}

/// Starts both services with the default settings (48 h around the clock).
pub async fn spawn_app() -> TestApp {
    spawn_with(serde_json::json!({})).await
}

/// A request as `role` (subject `<role>-1`, team `east`).
pub fn as_role<T>(role: Role, message: T) -> tonic::Request<T> {
    with_token(message, &token(role, &format!("{role}-1"), "east"))
}

/// A request from the customer-service desk (files and handles complaints).
pub fn desk<T>(message: T) -> tonic::Request<T> {
    as_role(Role::CustomerService, message)
}

/// The field violations of an INVALID_ARGUMENT status.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The `ErrorInfo` reason of a status.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

impl TestApp {
    /// The test clock's now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Opens a company of `grade` in customer-profile and returns its id.
    pub async fn customer(&self, name: &str, grade: cpb::Grade) -> String {
        self.customers
            .clone()
            .create_customer(as_role(
                Role::Archivist,
                cpb::CreateCustomerRequest {
                    customer: Some(cpb::Customer {
                        kind: cpb::CustomerKind::Company as i32,
                        name: name.into(),
                        address: "浙江省杭州市西湖区文三路 138 号".into(),
                        grade: grade as i32,
                        ..cpb::Customer::default()
                    }),
                    request_id: uuid::Uuid::new_v4().to_string(),
                },
            ))
            .await
            .expect("customer created")
            .into_inner()
            .id
    }

    /// A valid card for `customer_id`, complained about now.
    pub fn card(&self, customer_id: &str, subject: &str) -> pb::Complaint {
        pb::Complaint {
            customer_id: customer_id.into(),
            complaint_time: Some(to_timestamp(self.now())),
            complainant: "王建国".into(),
            complainant_phone: "13812345678".into(),
            subject: subject.into(),
            content: "第三批货晚到五天,影响生产".into(),
            ..pb::Complaint::default()
        }
    }

    /// Files a complaint and returns it.
    pub async fn file(&self, customer_id: &str, subject: &str) -> pb::Complaint {
        self.client
            .clone()
            .file_complaint(desk(pb::FileComplaintRequest {
                complaint: Some(self.card(customer_id, subject)),
                request_id: uuid::Uuid::new_v4().to_string(),
            }))
            .await
            .expect("filed")
            .into_inner()
    }

    pub async fn get(&self, id: &str) -> pb::Complaint {
        self.client
            .clone()
            .get_complaint(desk(pb::GetComplaintRequest { id: id.into() }))
            .await
            .expect("read")
            .into_inner()
    }

    pub async fn analyse(&self, c: &pb::Complaint) -> Result<pb::Complaint, tonic::Status> {
        self.client
            .clone()
            .analyze_complaint(desk(pb::AnalyzeComplaintRequest {
                id: c.id.clone(),
                analysis: "物流排期错误".into(),
                etag: c.etag.clone(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn handle(
        &self,
        c: &pb::Complaint,
        handler_id: &str,
    ) -> Result<pb::Complaint, tonic::Status> {
        self.client
            .clone()
            .start_handling(desk(pb::StartHandlingRequest {
                id: c.id.clone(),
                handling_method: "补发并补偿运费".into(),
                handler: format!("{handler_id}名"),
                handler_id: handler_id.into(),
                etag: c.etag.clone(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn reply(&self, c: &pb::Complaint) -> Result<pb::Complaint, tonic::Status> {
        self.client
            .clone()
            .reply_complaint(desk(pb::ReplyComplaintRequest {
                id: c.id.clone(),
                result: "已补发".into(),
                reply: "致歉,已补发并补偿运费".into(),
                etag: c.etag.clone(),
                ..pb::ReplyComplaintRequest::default()
            }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn close(
        &self,
        c: &pb::Complaint,
        reaction: pb::CustomerReaction,
    ) -> Result<pb::Complaint, tonic::Status> {
        self.client
            .clone()
            .close_complaint(desk(pb::CloseComplaintRequest {
                id: c.id.clone(),
                customer_reaction: reaction as i32,
                etag: c.etag.clone(),
                note: String::new(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn reopen(&self, c: &pb::Complaint) -> Result<pb::Complaint, tonic::Status> {
        self.client
            .clone()
            .reopen_complaint(desk(pb::ReopenComplaintRequest {
                id: c.id.clone(),
                reason: "客户仍不满意".into(),
                etag: c.etag.clone(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn list(&self, request: pb::ListComplaintsRequest) -> pb::ListComplaintsResponse {
        self.client
            .clone()
            .list_complaints(desk(request))
            .await
            .expect("listed")
            .into_inner()
    }
}
