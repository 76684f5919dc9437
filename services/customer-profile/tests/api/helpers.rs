//! Starting the service for a test and talking to it.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use dossier_customer_profile::Application;
use dossier_customer_profile::domain::credit_code::CreditCode;
use dossier_kit::auth::Role;
use dossier_kit::clock::ManualClock;
use dossier_kit::config::Config;
use dossier_kit::server::{ShutdownTrigger, shutdown_pair};
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{self as pb};
use dossier_testkit::{TestDb, auth_config, token, with_token};
use tonic::transport::Channel;

/// A running service with its own database and a clock the test moves.
pub struct TestApp {
    pub client: CustomerServiceClient<Channel>,
    pub channel: Channel,
    pub clock: ManualClock,
    _db: TestDb,
    trigger: ShutdownTrigger,
    _data_dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.trigger.fire();
    }
}

/// The fixed "now" of tests: 2026-06-15 09:00 UTC.
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
        .single()
        .expect("valid time")
}

pub async fn spawn_app() -> TestApp {
    let db = TestDb::new().await;
    let data_dir = tempfile::tempdir().expect("data dir");
    let config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "customer_profile": {"listen": "127.0.0.1:0", "database_url": db.url, "max_document_bytes": 4096},
    }));
    let clock = ManualClock::new(start_time());
    let (trigger, shutdown) = shutdown_pair();
    let app = Application::build(&config, Arc::new(clock.clone()), shutdown)
        .await
        .expect("service builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    TestApp {
        client: CustomerServiceClient::new(channel.clone()),
        channel,
        clock,
        _db: db,
        trigger,
        _data_dir: data_dir,
    }
}

/// A request as `role` (subject `<role>-1`, team `east`).
pub fn as_role<T>(role: Role, message: T) -> tonic::Request<T> {
    with_token(message, &token(role, &format!("{role}-1"), "east"))
}

/// A request as the archivist (may do everything).
pub fn archivist<T>(message: T) -> tonic::Request<T> {
    as_role(Role::Archivist, message)
}

/// A valid credit code, distinct for each `n`.
pub fn credit_code(n: u32) -> String {
    let first17 = format!("91330100{:09}", n);
    let check = CreditCode::check_char(&first17).expect("valid prefix");
    format!("{first17}{check}")
}

/// A valid company card.
pub fn company(name: &str, n: u32) -> pb::Customer {
    pb::Customer {
        kind: pb::CustomerKind::Company as i32,
        name: name.into(),
        credit_code: credit_code(n),
        address: "浙江省杭州市西湖区文三路 138 号".into(),
        phone: "0571-88123456".into(),
        grade: pb::Grade::B as i32,
        region: "华东/杭州".into(),
        contacts: (0..5)
            .map(|i| pb::Contact {
                name: format!("联系人{i}"),
                title: "采购部经理".into(),
                role: if i == 0 {
                    pb::ContactRole::DecisionMaker as i32
                } else {
                    pb::ContactRole::Contact as i32
                },
                phone: format!("1381234567{i}"),
                hobbies: "钓鱼".into(),
                ..pb::Contact::default()
            })
            .collect(),
        ..pb::Customer::default()
    }
}

/// Creates a company and returns it.
pub async fn create(app: &TestApp, name: &str, n: u32) -> pb::Customer {
    app.client
        .clone()
        .create_customer(archivist(pb::CreateCustomerRequest {
            customer: Some(company(name, n)),
            request_id: format!("req-{n}-{}", uuid::Uuid::new_v4()),
        }))
        .await
        .expect("created")
        .into_inner()
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

/// The `ErrorInfo` reason and metadata of a status.
pub fn error_info(status: &tonic::Status) -> (String, std::collections::HashMap<String, String>) {
    use tonic_types::StatusExt;
    let info = status
        .get_details_error_info()
        .expect("error info attached");
    (info.reason, info.metadata)
}

impl TestApp {
    /// The test clock's now, in seconds.
    pub fn clock_now_seconds(&self) -> i64 {
        use dossier_kit::clock::Clock;
        self.clock.now().timestamp()
    }
}
