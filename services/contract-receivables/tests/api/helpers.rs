//! Starting the services for a test and talking to them.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use dossier_customer_profile::domain::credit_code::CreditCode;
use dossier_kit::auth::Role;
use dossier_kit::clock::{Clock, ManualClock};
use dossier_kit::config::Config;
use dossier_kit::server::{ShutdownTrigger, shutdown_pair};
use dossier_proto::contract::contract_service_client::ContractServiceClient;
use dossier_proto::contract::{self as pb};
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{self as cpb};
use dossier_testkit::{TestDb, auth_config, token, with_token};
use tonic::transport::Channel;

/// The services under test.
pub struct TestApp {
    pub client: ContractServiceClient<Channel>,
    pub customers: CustomerServiceClient<Channel>,
    pub clock: ManualClock,
    _dbs: Vec<TestDb>,
    triggers: Vec<ShutdownTrigger>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for t in &self.triggers {
            t.fire();
        }
    }
}

/// The fixed "now" of tests: 2026-06-15 09:00 UTC.
pub fn start_time() -> chrono::DateTime<Utc> {
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

/// Starts customer-profile and contract-receivables.
pub async fn spawn_app() -> TestApp {
    spawn_with(true).await
}

/// Starts contract-receivables with customer-profile down (its endpoint refuses connections).
pub async fn spawn_without_customer_profile() -> TestApp {
    spawn_with(false).await
}

async fn spawn_with(customer_profile: bool) -> TestApp {
    let clock = ManualClock::new(start_time());
    let shared: dossier_kit::clock::SharedClock = Arc::new(clock.clone());
    let mut dbs = Vec::new();
    let mut triggers = Vec::new();
    let mut dirs = Vec::new();

    let cp_port = if customer_profile {
        let db = TestDb::new().await;
        let dir = tempfile::tempdir().expect("dir");
        let config = Config::from_values(serde_json::json!({
            "data_dir": dir.path().display().to_string(),
            "auth": auth_config(),
            "telemetry": {"log_filter": "warn"},
            "customer_profile": {"listen": "127.0.0.1:0", "database_url": db.url},
        }));
        let (trigger, shutdown) = shutdown_pair();
        let app = dossier_customer_profile::Application::build(&config, shared.clone(), shutdown)
            .await
            .expect("customer-profile builds");
        let port = app.port();
        tokio::spawn(app.run_until_stopped());
        dbs.push(db);
        triggers.push(trigger);
        dirs.push(dir);
        port
    } else {
        // A port nobody listens on: bind one, then let it go.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };

    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::from_values(serde_json::json!({
        "data_dir": dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
        "contract_receivables": {
            "listen": "127.0.0.1:0",
            "database_url": db.url,
            "customer_profile_endpoint": format!("http://127.0.0.1:{cp_port}"),
            "overdue_sweep_seconds": 0,
        },
    }));
    let (trigger, shutdown) = shutdown_pair();
    let app = dossier_contract_receivables::Application::build(&config, shared, shutdown)
        .await
        .expect("contract-receivables builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    dbs.push(db);
    triggers.push(trigger);
    dirs.push(dir);
    let channel = connect(port).await;
    let customers = if customer_profile {
        CustomerServiceClient::new(connect(cp_port).await)
    } else {
        CustomerServiceClient::new(channel.clone())
    };
    TestApp {
        client: ContractServiceClient::new(channel),
        customers,
        clock,
        _dbs: dbs,
        triggers,
        _dirs: dirs,
    }
}

/// A request as `role` (subject `<role>-1`, team `east`).
pub fn as_role<T>(role: Role, message: T) -> tonic::Request<T> {
    with_token(message, &token(role, &format!("{role}-1"), "east"))
}

/// A request as a sales manager (may sell and approve).
pub fn manager<T>(message: T) -> tonic::Request<T> {
    as_role(Role::SalesManager, message)
}

/// A request as finance (records payments).
pub fn finance<T>(message: T) -> tonic::Request<T> {
    as_role(Role::Finance, message)
}

/// A date.
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn credit_code(n: u32) -> String {
    let first17 = format!("91330100{:09}", n);
    let check = CreditCode::check_char(&first17).expect("valid prefix");
    format!("{first17}{check}")
}

impl TestApp {
    /// Today on the test clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    /// Creates a customer in customer-profile and returns its id.
    pub async fn customer(&self, n: u32) -> String {
        self.customers
            .clone()
            .create_customer(as_role(
                Role::Archivist,
                cpb::CreateCustomerRequest {
                    customer: Some(cpb::Customer {
                        kind: cpb::CustomerKind::Company as i32,
                        name: format!("测试客户{n}有限公司"),
                        credit_code: credit_code(n),
                        region: "华东/杭州".into(),
                        address: "浙江省杭州市西湖区文三路 138 号".into(),
                        phone: "0571-88123456".into(),
                        ..cpb::Customer::default()
                    }),
                    request_id: format!("cust-{n}-{}", uuid::Uuid::new_v4()),
                },
            ))
            .await
            .expect("customer created")
            .into_inner()
            .id
    }

    /// Requests and approves a credit line of `amount` valid this year.
    pub async fn credit_line(&self, customer_id: &str, amount: &str) -> pb::CreditLine {
        let mut client = self.client.clone();
        let line = client
            .set_credit_line(manager(pb::SetCreditLineRequest {
                customer_id: customer_id.into(),
                amount: amount.into(),
                valid_from: "2026-01-01".into(),
                valid_to: "2027-12-31".into(),
                reason: "年度授信".into(),
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            }))
            .await
            .expect("line requested")
            .into_inner();
        client
            .approve_credit_line(manager(pb::ApproveCreditLineRequest {
                id: line.id,
                etag: line.etag,
                ..Default::default()
            }))
            .await
            .expect("line approved")
            .into_inner()
    }

    /// Drafts a one-line contract: `quantity` × `unit_price`, with `terms`.
    pub async fn draft(
        &self,
        customer_id: &str,
        contract_no: &str,
        quantity: &str,
        unit_price: &str,
        terms: Option<pb::PaymentTerms>,
    ) -> pb::Contract {
        self.client
            .clone()
            .create_contract(manager(pb::CreateContractRequest {
                contract: Some(contract(
                    customer_id,
                    contract_no,
                    quantity,
                    unit_price,
                    terms,
                )),
                request_id: uuid::Uuid::new_v4().to_string(),
            }))
            .await
            .expect("contract drafted")
            .into_inner()
    }

    /// Drafts and activates a contract.
    pub async fn active(
        &self,
        customer_id: &str,
        contract_no: &str,
        quantity: &str,
        unit_price: &str,
        terms: Option<pb::PaymentTerms>,
    ) -> pb::Contract {
        let c = self
            .draft(customer_id, contract_no, quantity, unit_price, terms)
            .await;
        self.client
            .clone()
            .activate_contract(manager(pb::ActivateContractRequest {
                id: c.id,
                etag: c.etag,
                r#override: None,
            }))
            .await
            .expect("contract activated")
            .into_inner()
    }

    /// Delivers `quantity` of line 1 on `day`.
    pub async fn deliver(
        &self,
        contract_id: &str,
        quantity: &str,
        day: NaiveDate,
    ) -> Result<pb::Delivery, tonic::Status> {
        self.client
            .clone()
            .record_delivery(manager(pb::RecordDeliveryRequest {
                delivery: Some(pb::Delivery {
                    contract_id: contract_id.into(),
                    line_no: 1,
                    delivery_date: day.to_string(),
                    quantity: quantity.into(),
                    ..Default::default()
                }),
                request_id: uuid::Uuid::new_v4().to_string(),
                r#override: None,
            }))
            .await
            .map(|r| r.into_inner())
    }

    /// Records a payment.
    pub async fn pay(
        &self,
        customer_id: &str,
        amount: &str,
        day: NaiveDate,
        request_id: &str,
    ) -> Result<pb::Payment, tonic::Status> {
        self.client
            .clone()
            .record_payment(finance(payment_request(
                customer_id,
                amount,
                day,
                request_id,
            )))
            .await
            .map(|r| r.into_inner())
    }

    /// The customer's credit status.
    pub async fn status(&self, customer_id: &str) -> pb::GetCreditStatusResponse {
        self.client
            .clone()
            .get_credit_status(finance(pb::GetCreditStatusRequest {
                customer_id: customer_id.into(),
            }))
            .await
            .expect("status")
            .into_inner()
    }
}

/// A RecordPayment request.
pub fn payment_request(
    customer_id: &str,
    amount: &str,
    day: NaiveDate,
    request_id: &str,
) -> pb::RecordPaymentRequest {
    pb::RecordPaymentRequest {
        payment: Some(pb::Payment {
            customer_id: customer_id.into(),
            amount: amount.into(),
            received_date: day.to_string(),
            method: pb::PaymentMethod::BankTransfer as i32,
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

/// A one-line contract message.
pub fn contract(
    customer_id: &str,
    contract_no: &str,
    quantity: &str,
    unit_price: &str,
    terms: Option<pb::PaymentTerms>,
) -> pb::Contract {
    pb::Contract {
        contract_no: contract_no.into(),
        customer_id: customer_id.into(),
        signed_date: "2026-06-01".into(),
        signer: "王经理".into(),
        lines: vec![pb::ContractLine {
            product: "液压油 46#".into(),
            unit: "桶".into(),
            quantity: quantity.into(),
            unit_price: unit_price.into(),
            packing: "200L/桶".into(),
            ..Default::default()
        }],
        payment_terms: terms,
        valid_from: "2026-06-01".into(),
        valid_to: "2026-12-31".into(),
        ..Default::default()
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

/// The `ErrorInfo` reason and metadata of a status.
pub fn error_info(status: &tonic::Status) -> (String, std::collections::HashMap<String, String>) {
    use tonic_types::StatusExt;
    let info = status
        .get_details_error_info()
        .expect("error info attached");
    (info.reason, info.metadata)
}

/// A decimal from the wire.
pub fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse().expect("decimal")
}
