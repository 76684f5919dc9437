//! Starting customer-profile and visit-journal for a test and talking to them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dossier_kit::auth::Role;
use dossier_kit::clock::ManualClock;
use dossier_kit::config::Config;
use dossier_kit::server::{ShutdownTrigger, shutdown_pair};
use dossier_proto::common::{ChangeEvent, WatchChangesRequest};
use dossier_proto::customer as cpb;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::visit as pb;
use dossier_proto::visit::visit_service_client::VisitServiceClient;
use dossier_testkit::{TestDb, auth_config, token, with_token};
use futures::StreamExt;
use tonic::transport::Channel;

/// Both services, each with its own database, sharing a clock the test moves.
pub struct TestApp {
    pub client: VisitServiceClient<Channel>,
    pub customers: CustomerServiceClient<Channel>,
    pub clock: ManualClock,
    _dbs: (TestDb, TestDb),
    triggers: (ShutdownTrigger, ShutdownTrigger),
    _data_dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.triggers.0.fire();
        self.triggers.1.fire();
    }
}

/// The fixed "now" of tests: 2026-06-15 09:00 UTC.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
        .single()
        .expect("valid time")
}

/// A time on 2026-06-15.
pub fn at(hour: u32, minute: u32) -> prost_types::Timestamp {
    let t = Utc
        .with_ymd_and_hms(2026, 6, 15, hour, minute, 0)
        .single()
        .expect("valid time");
    dossier_kit::time::to_timestamp(t)
}

async fn connect(port: u16) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects")
}

pub async fn spawn_app() -> TestApp {
    let profile_db = TestDb::new().await;
    let visit_db = TestDb::new().await;
    let data_dir = tempfile::tempdir().expect("data dir");
    let clock = ManualClock::new(start_time());

    let (profile_trigger, profile_shutdown) = shutdown_pair();
    let profile_config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "customer_profile": {"listen": "127.0.0.1:0", "database_url": profile_db.url},
    }));
    let profile = dossier_customer_profile::Application::build(
        &profile_config,
        Arc::new(clock.clone()),
        profile_shutdown,
    )
    .await
    .expect("customer-profile builds");
    let profile_port = profile.port();
    tokio::spawn(profile.run_until_stopped());

    let (visit_trigger, visit_shutdown) = shutdown_pair();
    let config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "visit_journal": {
            "listen": "127.0.0.1:0",
            "database_url": visit_db.url,
            "customer_profile_endpoint": format!("http://127.0.0.1:{profile_port}"),
        },
    }));
    let app =
        dossier_visit_journal::Application::build(&config, Arc::new(clock.clone()), visit_shutdown)
            .await
            .expect("visit-journal builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());

    TestApp {
        client: VisitServiceClient::new(connect(port).await),
        customers: CustomerServiceClient::new(connect(profile_port).await),
        clock,
        _dbs: (profile_db, visit_db),
        triggers: (profile_trigger, visit_trigger),
        _data_dir: data_dir,
    }
}

/// A request as `sub` with `role` in team `east`.
pub fn as_user<T>(role: Role, sub: &str, message: T) -> tonic::Request<T> {
    with_token(message, &token(role, sub, "east"))
}

/// A request as salesperson `rep-1` of team `east`.
pub fn rep<T>(message: T) -> tonic::Request<T> {
    as_user(Role::SalesRep, "rep-1", message)
}

/// A request as the east team's manager.
pub fn manager<T>(message: T) -> tonic::Request<T> {
    as_user(Role::SalesManager, "head-east", message)
}

impl TestApp {
    /// Creates an active customer on route `route` at position `order` and returns its id.
    pub async fn customer(&self, name: &str, route: &str, order: i32) -> String {
        let card = cpb::Customer {
            kind: cpb::CustomerKind::Company as i32,
            name: name.into(),
            region: "华东/杭州".into(),
            address: "浙江省杭州市西湖区文三路 138 号".into(),
            route_code: route.into(),
            route_order: order,
            owner_id: "rep-1".into(),
            team: "east".into(),
            ..cpb::Customer::default()
        };
        self.customers
            .clone()
            .create_customer(as_user(
                Role::Archivist,
                "archivist-1",
                cpb::CreateCustomerRequest {
                    customer: Some(card),
                    request_id: uuid::Uuid::new_v4().to_string(),
                },
            ))
            .await
            .expect("customer created")
            .into_inner()
            .id
    }

    /// Records a visit as `rep-1`.
    pub async fn visit(&self, visit: pb::Visit) -> Result<pb::Visit, tonic::Status> {
        self.client
            .clone()
            .record_visit(rep(pb::RecordVisitRequest {
                visit: Some(visit),
                request_id: uuid::Uuid::new_v4().to_string(),
            }))
            .await
            .map(|r| r.into_inner())
    }

    /// Every event of the change feed so far.
    pub async fn events(&self) -> Vec<ChangeEvent> {
        let mut stream = self
            .client
            .clone()
            .watch_changes(manager(WatchChangesRequest::default()))
            .await
            .expect("watch")
            .into_inner();
        let mut events = Vec::new();
        while let Ok(Some(Ok(event))) =
            tokio::time::timeout(Duration::from_millis(300), stream.next()).await
        {
            events.push(event);
        }
        events
    }
}

/// A visit to `customer` on 2026-06-15 from 10:00 to 11:00.
pub fn visit_to(customer: &str, sequence: i32) -> pb::Visit {
    pb::Visit {
        customer_id: customer.into(),
        sequence,
        objective: "介绍新品水性切削油".into(),
        interviewee: "彭广春".into(),
        interviewee_title: "注塑部主管".into(),
        topics: "价格与供货周期".into(),
        outcome: "同意试用".into(),
        check_in_time: Some(at(8, 0)),
        start_time: Some(at(8, 5)),
        end_time: Some(at(8, 50)),
        check_in_location: Some(pb::GeoLocation {
            latitude: "30.274085".into(),
            longitude: "120.155070".into(),
            coordinate_system: pb::CoordinateSystem::Wgs84 as i32,
            accuracy_meters: 15,
            place: "杭州市西湖区文三路 138 号".into(),
        }),
        ..pb::Visit::default()
    }
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
