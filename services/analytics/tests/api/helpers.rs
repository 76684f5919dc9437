//! The four source services and analytics, started in this process with their own databases,
//! and ways to write change events straight into a source's outbox (in bulk, as a source would
//! have written them) and to wait until analytics has caught up.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dossier_analytics::store::Store;
use dossier_analytics::store::apply::Source;
use dossier_kit::auth::Role;
use dossier_kit::clock::ManualClock;
use dossier_kit::config::Config;
use dossier_kit::outbox::{NewEvent, Outbox};
use dossier_kit::server::{ShutdownTrigger, shutdown_pair};
use dossier_proto::analytics::analytics_service_client::AnalyticsServiceClient;
use dossier_proto::analytics::{self as pb};
use dossier_proto::{complaint, contract, customer, visit};
use dossier_testkit::{TestDb, auth_config, token, with_token};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use tonic::transport::Channel;

/// The fixed "now" of tests: 2026-06-15 09:00 UTC.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0)
        .single()
        .expect("valid time")
}

/// The token the consumers present to the sources.
pub fn feed_token() -> String {
    token(Role::Executive, "svc-analytics", "")
}

/// A request as a sales manager of team `east`.
pub fn manager<T>(message: T) -> tonic::Request<T> {
    with_token(message, &token(Role::SalesManager, "mgr-1", "east"))
}

/// A request as `role` with subject `sub` in team `team`.
pub fn as_user<T>(role: Role, sub: &str, team: &str, message: T) -> tonic::Request<T> {
    with_token(message, &token(role, sub, team))
}

/// One source service running.
pub struct Running {
    pub port: u16,
    pub db: Arc<TestDb>,
    pub conn: DatabaseConnection,
    pub outbox: Outbox,
    trigger: ShutdownTrigger,
}

impl Running {
    /// Stops the service (its feed streams end; consumers reconnect to a new one).
    pub fn stop(&self) {
        self.trigger.fire();
    }
}

/// The sources, analytics, and one clock.
pub struct Stack {
    pub customers: Running,
    pub visits: Running,
    pub contracts: Running,
    pub complaints: Running,
    pub analytics: Option<AnalyticsServiceClient<Channel>>,
    pub analytics_db: TestDb,
    pub clock: ManualClock,
    triggers: Vec<ShutdownTrigger>,
    _data_dir: tempfile::TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for r in [
            &self.customers,
            &self.visits,
            &self.contracts,
            &self.complaints,
        ] {
            r.stop();
        }
        for t in &self.triggers {
            t.fire();
        }
    }
}

async fn connect(port: u16) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects")
}

fn base(dir: &tempfile::TempDir) -> serde_json::Value {
    serde_json::json!({
        "data_dir": dir.path().display().to_string(),
        "auth": auth_config(),
        "telemetry": {"log_filter": "warn"},
    })
}

fn config(dir: &tempfile::TempDir, section: &str, values: serde_json::Value) -> Config {
    let mut all = base(dir);
    all[section] = values;
    Config::from_values(all)
}

/// Starts one source service (`which`) on `db`; `port` 0 for any.
pub async fn start_source(
    which: Source,
    db: Arc<TestDb>,
    port: u16,
    profile_port: u16,
    clock: &ManualClock,
    dir: &tempfile::TempDir,
) -> Running {
    let listen = format!("127.0.0.1:{port}");
    let profile = format!("http://127.0.0.1:{profile_port}");
    let (trigger, shutdown) = shutdown_pair();
    let clock = Arc::new(clock.clone());
    let port = match which {
        Source::Customers => {
            let c = config(
                dir,
                "customer_profile",
                serde_json::json!({"listen": listen, "database_url": db.url}),
            );
            let app = dossier_customer_profile::Application::build(&c, clock, shutdown)
                .await
                .expect("customer-profile");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
        Source::Visits => {
            let c = config(
                dir,
                "visit_journal",
                serde_json::json!({"listen": listen, "database_url": db.url, "customer_profile_endpoint": profile}),
            );
            let app = dossier_visit_journal::Application::build(&c, clock, shutdown)
                .await
                .expect("visit-journal");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
        Source::Contracts => {
            let c = config(
                dir,
                "contract_receivables",
                serde_json::json!({"listen": listen, "database_url": db.url, "customer_profile_endpoint": profile}),
            );
            let app = dossier_contract_receivables::Application::build(&c, clock, shutdown)
                .await
                .expect("contract-receivables");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
        Source::Complaints => {
            let c = config(
                dir,
                "complaints",
                serde_json::json!({"listen": listen, "database_url": db.url, "customer_profile_endpoint": profile}),
            );
            let app = dossier_complaints::Application::build(&c, clock, shutdown)
                .await
                .expect("complaints");
            let port = app.port();
            tokio::spawn(app.run_until_stopped());
            port
        }
    };
    let conn = dossier_kit::db::connect(&db.url).await.expect("source db");
    let outbox = Outbox::new(conn.clone());
    Running {
        port,
        db,
        conn,
        outbox,
        trigger,
    }
}

/// The four sources; analytics too when `with_analytics` (following them).
pub async fn spawn_stack(with_analytics: bool) -> Stack {
    let dir = tempfile::tempdir().expect("data dir");
    let clock = ManualClock::new(start_time());
    let new_db = || async { Arc::new(TestDb::new().await) };
    let customers = start_source(Source::Customers, new_db().await, 0, 0, &clock, &dir).await;
    let p = customers.port;
    let visits = start_source(Source::Visits, new_db().await, 0, p, &clock, &dir).await;
    let contracts = start_source(Source::Contracts, new_db().await, 0, p, &clock, &dir).await;
    let complaints = start_source(Source::Complaints, new_db().await, 0, p, &clock, &dir).await;
    let analytics_db = TestDb::new().await;
    let mut triggers = Vec::new();
    let analytics = if with_analytics {
        let c = config(
            &dir,
            "analytics",
            serde_json::json!({
                "listen": "127.0.0.1:0",
                "database_url": analytics_db.url,
                "customer_profile_endpoint": format!("http://127.0.0.1:{}", customers.port),
                "visit_journal_endpoint": format!("http://127.0.0.1:{}", visits.port),
                "contract_receivables_endpoint": format!("http://127.0.0.1:{}", contracts.port),
                "complaints_endpoint": format!("http://127.0.0.1:{}", complaints.port),
                "feed_token": feed_token(),
            }),
        );
        let (trigger, shutdown) = shutdown_pair();
        let app = dossier_analytics::Application::build(&c, Arc::new(clock.clone()), shutdown)
            .await
            .expect("analytics builds");
        let port = app.port();
        tokio::spawn(app.run_until_stopped());
        triggers.push(trigger);
        Some(AnalyticsServiceClient::new(connect(port).await))
    } else {
        None
    };
    Stack {
        customers,
        visits,
        contracts,
        complaints,
        analytics,
        analytics_db,
        clock,
        triggers,
        _data_dir: dir,
    }
}

impl Stack {
    /// The running source `which`.
    pub fn source(&self, which: Source) -> &Running {
        match which {
            Source::Customers => &self.customers,
            Source::Visits => &self.visits,
            Source::Contracts => &self.contracts,
            Source::Complaints => &self.complaints,
        }
    }

    /// Stops the source `which` and starts it again on the same database and port.
    pub async fn restart(&mut self, which: Source) {
        let (db, port) = {
            let running = self.source(which);
            running.stop();
            (running.db.clone(), running.port)
        };
        let profile = self.customers.port;
        // The old server lets its streams end and releases the port: wait until it has (on a
        // loaded machine that takes longer than any fixed pause), for 20 s at most.
        for _ in 0..200 {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let running = start_source(which, db, port, profile, &self.clock, &self._data_dir).await;
        match which {
            Source::Customers => self.customers = running,
            Source::Visits => self.visits = running,
            Source::Contracts => self.contracts = running,
            Source::Complaints => self.complaints = running,
        }
    }

    /// The analytics client.
    pub fn client(&self) -> AnalyticsServiceClient<Channel> {
        self.analytics.clone().expect("analytics runs")
    }

    /// Writes `events` into the outbox of `which` in one transaction.
    pub async fn write(&self, which: Source, events: Vec<NewEvent>) {
        let running = self.source(which);
        write(&running.conn, &running.outbox, events, self.clock_now()).await;
    }

    fn clock_now(&self) -> DateTime<Utc> {
        use dossier_kit::clock::Clock;
        self.clock.now()
    }

    /// The feeds of the four sources for a consumer.
    pub fn feeds(&self) -> Vec<dossier_analytics::feed::FeedSource> {
        Source::ALL
            .iter()
            .map(|&source| dossier_analytics::feed::FeedSource {
                source,
                endpoint: format!("http://127.0.0.1:{}", self.source(source).port),
                token: SecretString::from(feed_token()),
            })
            .collect()
    }

    /// Waits until the analytics database has applied every source's head.
    pub async fn caught_up(&self, store: &Store) {
        wait_for(store, self).await;
    }
}

/// Writes `events` into `outbox` (over `db`) in one transaction.
pub async fn write(
    db: &DatabaseConnection,
    outbox: &Outbox,
    events: Vec<NewEvent>,
    at: DateTime<Utc>,
) {
    let txn = dossier_kit::db::begin_write(db).await.expect("begin");
    for event in events {
        outbox.append(&txn, at, event).await.expect("append");
    }
    txn.commit().await.expect("commit");
}

/// The store of an analytics database (migrated).
pub async fn store_at(url: &str) -> Store {
    let db =
        dossier_kit::db::connect_and_migrate::<dossier_analytics::store::migration::Migrator>(url)
            .await
            .expect("analytics db");
    Store::new(db)
}

async fn wait_for(store: &Store, stack: &Stack) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut done = true;
        for source in Source::ALL {
            let head = stack.source(source).outbox.head().await.expect("head");
            let applied = store.position(source).await.expect("position");
            if applied < head {
                done = false;
            }
        }
        if done {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let mut report = Vec::new();
            for source in Source::ALL {
                let head = stack.source(source).outbox.head().await.expect("head");
                let applied = store.position(source).await.expect("position");
                report.push(format!("{}: {applied}/{head}", source.name()));
            }
            panic!("analytics did not catch up in time: {report:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- payloads -------------------------------------------------------------------------------

/// A customer card event.
pub fn customer_event(
    id: &str,
    name: &str,
    grade: i32,
    region: &str,
    owner: &str,
    team: &str,
    key: bool,
) -> NewEvent {
    let c = customer::Customer {
        id: id.into(),
        name: name.into(),
        grade,
        region: region.into(),
        owner_id: owner.into(),
        team: team.into(),
        trade_standing: if key { 1 } else { 2 },
        state: customer::CustomerState::Active as i32,
        ..Default::default()
    };
    NewEvent::new("customer.created", id, Some(id.into()), "test", &c)
}

/// A delivery event (its receivable shares the delivery's id).
pub fn delivery_event(
    id: &str,
    customer: &str,
    date: &str,
    product: &str,
    amount: &str,
    due: &str,
) -> NewEvent {
    let d = contract::Delivery {
        id: id.into(),
        contract_id: "k-1".into(),
        customer_id: customer.into(),
        delivery_date: date.into(),
        amount: amount.into(),
        product: product.into(),
        receivable_id: format!("r-{id}"),
        due_date: due.into(),
        ..Default::default()
    };
    NewEvent::new("delivery.recorded", id, Some(customer.into()), "test", &d)
}

/// A payment event applied to receivables.
pub fn payment_event(
    id: &str,
    customer: &str,
    date: &str,
    allocations: &[(&str, &str)],
) -> NewEvent {
    let total: rust_decimal::Decimal = allocations
        .iter()
        .map(|(_, a)| a.parse::<rust_decimal::Decimal>().expect("amount"))
        .sum();
    let p = contract::Payment {
        id: id.into(),
        customer_id: customer.into(),
        amount: format!("{total:.2}"),
        received_date: date.into(),
        allocations: allocations
            .iter()
            .map(|(r, a)| contract::PaymentAllocation {
                receivable_id: (*r).into(),
                amount: (*a).into(),
                discount_amount: "0.00".into(),
                contract_id: "k-1".into(),
            })
            .collect(),
        ..Default::default()
    };
    NewEvent::new("payment.recorded", id, Some(customer.into()), "test", &p)
}

/// A contract event.
pub fn contract_event(id: &str, customer: &str, valid_from: &str, total: &str) -> NewEvent {
    let c = contract::Contract {
        id: id.into(),
        customer_id: customer.into(),
        valid_from: valid_from.into(),
        total_amount: total.into(),
        status: contract::ContractStatus::Active as i32,
        ..Default::default()
    };
    NewEvent::new("contract.signed", id, Some(customer.into()), "test", &c)
}

/// A complaint event.
pub fn complaint_event(
    id: &str,
    customer: &str,
    at: DateTime<Utc>,
    reply: Option<DateTime<Utc>>,
    due: DateTime<Utc>,
    closed: bool,
) -> NewEvent {
    let ts = |t: DateTime<Utc>| dossier_kit::time::to_timestamp(t);
    let c = complaint::Complaint {
        id: id.into(),
        customer_id: customer.into(),
        complaint_time: Some(ts(at)),
        reply_time: reply.map(ts),
        reply_due_time: Some(ts(due)),
        state: if closed {
            complaint::ComplaintState::Closed as i32
        } else if reply.is_some() {
            complaint::ComplaintState::Replied as i32
        } else {
            complaint::ComplaintState::Received as i32
        },
        ..Default::default()
    };
    NewEvent::new("complaint.filed", id, Some(customer.into()), "test", &c)
}

/// A visit plan event: (customer, planned date, actual date) rows for one salesperson.
pub fn plan_event(id: &str, salesperson: &str, visits: &[(&str, &str, &str)]) -> NewEvent {
    let p = visit::VisitPlan {
        id: id.into(),
        salesperson_id: salesperson.into(),
        year: 2026,
        rows: visits
            .iter()
            .enumerate()
            .map(|(i, (c, planned, actual))| visit::VisitPlanRow {
                row_no: i as i32 + 1,
                customer_id: (*c).into(),
                visits: vec![visit::PlannedVisit {
                    number: 1,
                    planned_date: (*planned).into(),
                    actual_date: (*actual).into(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    NewEvent::new("visit_plan.upserted", id, None, "test", &p)
}

/// Scores a customer-month, as a general manager (who may score every team's customers).
pub async fn score(
    client: &mut AnalyticsServiceClient<Channel>,
    customer: &str,
    month: &str,
    scores: &[(i32, i32)],
) -> Result<pb::MonthlyScorecard, tonic::Status> {
    client
        .score_sales_force(as_user(
            dossier_kit::auth::Role::Executive,
            "gm-1",
            "",
            pb::ScoreSalesForceRequest {
                customer_id: customer.into(),
                month: month.into(),
                scores: scores
                    .iter()
                    .map(|(f, s)| pb::FactorScore {
                        factor: *f,
                        score: *s,
                        note: String::new(),
                    })
                    .collect(),
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner())
}
