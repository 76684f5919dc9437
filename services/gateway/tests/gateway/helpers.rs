//! Starting customer-profile and the gateway in front of it, and talking to the gateway.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use dossier_kit::auth::Role;
use dossier_kit::clock::ManualClock;
use dossier_kit::config::Config;
use dossier_kit::server::{ShutdownTrigger, shutdown_pair};
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{self as pb};
use dossier_proto::gateway::access_service_client::AccessServiceClient;
use dossier_testkit::{TestDb, auth_config, token, with_token};
use tonic::transport::Channel;

/// customer-profile and the gateway, each with its own database, sharing a clock the test moves.
pub struct Stack {
    channel: Channel,
    pub customers: CustomerServiceClient<Channel>,
    pub access: AccessServiceClient<Channel>,
    pub clock: ManualClock,
    pub gateway_db: String,
    pub profile_port: u16,
    pub profile_trigger: Option<ShutdownTrigger>,
    profile_db: TestDb,
    _gateway_db: TestDb,
    _other_dbs: Vec<TestDb>,
    other_triggers: Vec<ShutdownTrigger>,
    gateway_trigger: ShutdownTrigger,
    data_dir: tempfile::TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.gateway_trigger.fire();
        for trigger in &self.other_triggers {
            trigger.fire();
        }
        if let Some(trigger) = &self.profile_trigger {
            trigger.fire();
        }
    }
}

/// The fixed "now" of tests: 2026-06-15 09:00 UTC.
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
        .single()
        .expect("valid time")
}

async fn start_profile(
    db_url: &str,
    data_dir: &std::path::Path,
    port: u16,
    clock: &ManualClock,
) -> (u16, ShutdownTrigger) {
    let config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "customer_profile": {"listen": format!("127.0.0.1:{port}"), "database_url": db_url},
    }));
    let (trigger, shutdown) = shutdown_pair();
    let app =
        dossier_customer_profile::Application::build(&config, Arc::new(clock.clone()), shutdown)
            .await
            .expect("customer-profile builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    (port, trigger)
}

pub async fn spawn_stack() -> Stack {
    spawn_stack_with(serde_json::json!({})).await
}

/// A stack whose gateway settings are overridden by `gateway` (merged into the defaults).
pub async fn spawn_stack_with(gateway: serde_json::Value) -> Stack {
    spawn(gateway, false).await
}

/// Every service behind the gateway (visit-journal, contract-receivables and complaints too).
pub async fn spawn_full_stack() -> Stack {
    spawn(serde_json::json!({}), true).await
}

/// Starts one of the services that ask customer-profile about customers.
async fn start_other(
    section: &str,
    db_url: &str,
    data_dir: &std::path::Path,
    profile_port: u16,
    clock: &ManualClock,
) -> (u16, ShutdownTrigger) {
    let config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        section: {"listen": "127.0.0.1:0", "database_url": db_url,
                  "customer_profile_endpoint": format!("http://127.0.0.1:{profile_port}")},
    }));
    let (trigger, shutdown) = shutdown_pair();
    let clock: dossier_kit::clock::SharedClock = Arc::new(clock.clone());
    let port = match section {
        "visit_journal" => {
            let app = dossier_visit_journal::Application::build(&config, clock, shutdown)
                .await
                .expect("visit-journal builds");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
        "contract_receivables" => {
            let app = dossier_contract_receivables::Application::build(&config, clock, shutdown)
                .await
                .expect("contract-receivables builds");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
        _ => {
            let app = dossier_complaints::Application::build(&config, clock, shutdown)
                .await
                .expect("complaints builds");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
    };
    (port, trigger)
}

async fn spawn(gateway: serde_json::Value, all: bool) -> Stack {
    let profile_db = TestDb::new().await;
    let gateway_db = TestDb::new().await;
    let data_dir = tempfile::tempdir().expect("data dir");
    let clock = ManualClock::new(start_time());
    let (profile_port, profile_trigger) =
        start_profile(&profile_db.url, data_dir.path(), 0, &clock).await;
    let mut upstreams =
        serde_json::json!({"customer-profile": format!("http://127.0.0.1:{profile_port}")});
    let mut other_dbs = Vec::new();
    let mut other_triggers = Vec::new();
    if all {
        for (section, name) in [
            ("visit_journal", "visit-journal"),
            ("contract_receivables", "contract-receivables"),
            ("complaints", "complaints"),
        ] {
            let db = TestDb::new().await;
            let (port, trigger) =
                start_other(section, &db.url, data_dir.path(), profile_port, &clock).await;
            upstreams[name] = serde_json::json!(format!("http://127.0.0.1:{port}"));
            other_dbs.push(db);
            other_triggers.push(trigger);
        }
    }
    let mut settings = serde_json::json!({
        "listen": "127.0.0.1:0",
        "database_url": gateway_db.url,
        "upstreams": upstreams,
        "relation_cache_secs": 60,
    });
    if let (Some(base), Some(extra)) = (settings.as_object_mut(), gateway.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    let config = Config::from_values(serde_json::json!({
        "data_dir": data_dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "gateway": settings,
    }));
    let (gateway_trigger, shutdown) = shutdown_pair();
    let app = dossier_gateway::Application::build(&config, Arc::new(clock.clone()), shutdown)
        .await
        .expect("gateway builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    Stack {
        customers: CustomerServiceClient::new(channel.clone()),
        access: AccessServiceClient::new(channel.clone()),
        channel,
        clock,
        gateway_db: gateway_db.url.clone(),
        profile_port,
        profile_trigger: Some(profile_trigger),
        profile_db,
        _gateway_db: gateway_db,
        _other_dbs: other_dbs,
        other_triggers,
        gateway_trigger,
        data_dir,
    }
}

impl Stack {
    /// The gateway channel, for raw calls.
    pub fn raw_channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Stops customer-profile (the gateway stays up).
    pub fn stop_profile(&mut self) {
        if let Some(trigger) = self.profile_trigger.take() {
            trigger.fire();
        }
    }

    /// Starts customer-profile again on its port and database.
    pub async fn restart_profile(&mut self) {
        let (_, trigger) = start_profile(
            &self.profile_db.url,
            self.data_dir.path(),
            self.profile_port,
            &self.clock,
        )
        .await;
        self.profile_trigger = Some(trigger);
    }
}

/// A caller of the tests: role, subject, team, scopes.
#[derive(Debug, Clone)]
pub struct Who {
    pub role: Role,
    pub sub: &'static str,
    pub team: &'static str,
    pub scopes: &'static [&'static str],
}

impl Who {
    pub const fn new(role: Role, sub: &'static str, team: &'static str) -> Who {
        Who {
            role,
            sub,
            team,
            scopes: &[],
        }
    }

    pub fn token(&self) -> String {
        dossier_testkit::token_with_scopes(self.role, self.sub, self.team, self.scopes)
    }

    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        with_token(message, &self.token())
    }
}

pub const OWNER: Who = Who::new(Role::SalesRep, "rep-a", "east");
pub const ARCHIVIST: Who = Who::new(Role::Archivist, "arch-1", "");
pub const AUDITOR: Who = Who::new(Role::Auditor, "aud-1", "");

/// A request as `role` with a throwaway subject.
pub fn as_role<T>(role: Role, message: T) -> tonic::Request<T> {
    with_token(message, &token(role, &format!("{role}-x"), "east"))
}

/// A valid credit code, distinct for each `n`.
pub fn credit_code(n: u32) -> String {
    use dossier_customer_profile::domain::credit_code::CreditCode;
    let first17 = format!("91330100{:09}", n);
    let check = CreditCode::check_char(&first17).expect("valid prefix");
    format!("{first17}{check}")
}

/// A company of `owner` in `team`.
pub fn company(name: &str, n: u32, owner: &str, team: &str) -> pb::Customer {
    pb::Customer {
        kind: pb::CustomerKind::Company as i32,
        name: name.into(),
        credit_code: credit_code(n),
        address: "浙江省杭州市西湖区文三路 138 号".into(),
        phone: "0571-88123456".into(),
        grade: pb::Grade::B as i32,
        region: "华东/杭州".into(),
        owner_id: owner.into(),
        team: team.into(),
        contacts: vec![pb::Contact {
            name: "王经理".into(),
            title: "采购部经理".into(),
            role: pb::ContactRole::DecisionMaker as i32,
            phone: "13812345678".into(),
            ..pb::Contact::default()
        }],
        ..pb::Customer::default()
    }
}

/// Creates a customer through the gateway as the archivist.
pub async fn create(stack: &Stack, customer: pb::Customer) -> pb::Customer {
    stack
        .customers
        .clone()
        .create_customer(ARCHIVIST.req(pb::CreateCustomerRequest {
            customer: Some(customer),
            request_id: format!("req-{}", uuid::Uuid::new_v4()),
        }))
        .await
        .expect("created")
        .into_inner()
}

/// The masked-fields header of a reply.
pub fn masked_header<T>(response: &tonic::Response<T>) -> String {
    response
        .metadata()
        .get(dossier_masking::MASKED_FIELDS_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
