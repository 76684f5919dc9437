//! `dossier bench --only visits`: visit-journal's `RecordVisit` throughput and the plan-vs-done
//! query time over a year of data of 200 salespeople × 150 customers (12 planned visits each:
//! 360 000 planned visits, most of the past ones done), beside a bare single-row insert measured
//! in the same run on the same backend.
//!
//! The year is seeded straight into visit-journal's tables (through the API it would take longer
//! than the measurement); the measured calls go through gRPC like a phone's, including the
//! customer lookup in customer-profile (which runs on SQLite in every run).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Datelike, Duration as Days, NaiveDate, Utc};
use dossier_kit::auth::{Role, TokenRequest, mint_hs256};
use dossier_kit::config::Config;
use dossier_kit::server::shutdown_pair;
use dossier_proto::customer::CreateCustomerRequest;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::visit as pb;
use dossier_proto::visit::visit_service_client::VisitServiceClient;
use prost::Message;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use secrecy::SecretString;
use tonic::transport::Channel;

use super::baseline::{Running, postgres_admin};
use super::load::{Load, connect};
use super::{AUDIENCE, BenchArgs, ISSUER};

/// Salespeople in the seeded year.
const SALESPEOPLE: usize = 200;
/// Customers in each salesperson's plan.
const CUSTOMERS: usize = 150;
/// Rows per seeding INSERT.
const BATCH: usize = 400;

/// Runs the visit benchmark on SQLite, then on PostgreSQL when `postgres` is given.
pub async fn run(
    args: &BenchArgs,
    load: Load,
    dir: &std::path::Path,
    postgres: Option<&str>,
    run: &str,
    created: &mut Vec<String>,
) -> anyhow::Result<()> {
    println!(
        "dossier bench --only visits: {} concurrent requests, {} s per measurement after {} s warmup; a year of {SALESPEOPLE} salespeople × {CUSTOMERS} customers × 12 planned visits",
        args.concurrency, args.seconds, args.warmup
    );
    if cfg!(debug_assertions) {
        println!(
            "WARNING: this is a debug build; its figures mean little. Use `cargo run --release -- bench --only visits`."
        );
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let sqlite_dir = dir.join("visits");
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite = |file: &str| format!("sqlite://{}?mode=rwc", sqlite_dir.join(file).display());
    backend(
        args,
        load,
        dir,
        &secret,
        "sqlite",
        &sqlite("visit-journal.db"),
        &sqlite("bare-insert.db"),
    )
    .await?;
    match postgres {
        Some(admin) => {
            let name = format!("bench_{run}_visits");
            postgres_admin(admin, format!("CREATE DATABASE {name}")).await?;
            created.push(name.clone());
            let url = dossier_kit::config::with_database_name(admin, &name);
            backend(args, load, dir, &secret, "postgres", &url, &url).await?;
        }
        None => {
            println!("postgres   skipped: give --postgres URL or set DOSSIER_TEST_POSTGRES_URL")
        }
    }
    Ok(())
}

fn bearer(
    secret: &str,
    sub: &str,
    role: Role,
) -> anyhow::Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> {
    let token = mint_hs256(
        &SecretString::from(secret.to_owned()),
        ISSUER,
        AUDIENCE,
        &TokenRequest {
            sub: sub.into(),
            name: sub.into(),
            role,
            team: "east".into(),
            scopes: vec![],
            ttl: Duration::from_secs(86_400),
        },
    )
    .map_err(anyhow::Error::msg)?;
    format!("Bearer {token}").parse().context("token header")
}

fn with<T>(
    bearer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    message: T,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}

async fn start(
    dir: &std::path::Path,
    secret: &str,
    section: &str,
    values: serde_json::Value,
) -> anyhow::Result<Running> {
    let mut config = serde_json::json!({
        "data_dir": dir.display().to_string(),
        "auth": {"issuer": ISSUER, "audience": AUDIENCE, "algorithm": "HS256", "hs256_secret": secret},
        "telemetry": {"log_filter": "warn"},
        "limits": {"shutdown_grace_secs": 2},
    });
    config[section] = values;
    let config = Config::from_values(config);
    let (trigger, shutdown) = shutdown_pair();
    let clock = dossier_kit::clock::system();
    if section == "customer_profile" {
        let app = dossier_customer_profile::Application::build(&config, clock, shutdown)
            .await
            .map_err(anyhow::Error::msg)?;
        let port = app.port();
        let task =
            tokio::spawn(async move { app.run_until_stopped().await.map_err(anyhow::Error::msg) });
        Ok(Running::new(port, trigger, task))
    } else {
        let app = dossier_visit_journal::Application::build(&config, clock, shutdown)
            .await
            .map_err(anyhow::Error::msg)?;
        let port = app.port();
        let task =
            tokio::spawn(async move { app.run_until_stopped().await.map_err(anyhow::Error::msg) });
        Ok(Running::new(port, trigger, task))
    }
}

/// Runs `op` in `concurrency` closed loops for the warmup and the window; returns successful
/// operations per second in the window, p50 and p99 latency in ms, and the failures.
async fn closed_loop<F, Fut>(load: Load, op: F) -> (f64, f64, f64, u64)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.window;
    let mut workers = Vec::new();
    for _ in 0..load.concurrency {
        let op = op.clone();
        let counter = counter.clone();
        let errors = errors.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let ok = op(counter.fetch_add(1, Ordering::Relaxed)).await;
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                } else if began >= measure_from && Instant::now() <= end {
                    latencies.push(began.elapsed());
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        if let Ok(latencies) = worker.await {
            all.extend(latencies);
        }
    }
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    (
        all.len() as f64 / load.window.as_secs_f64(),
        at(0.5),
        at(0.99),
        errors.load(Ordering::Relaxed),
    )
}

fn sql(backend: DbBackend, sql: String, values: Vec<Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut n = 0;
        sql.chars()
            .map(|c| {
                if c == '?' {
                    n += 1;
                    format!("${n}")
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        sql
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Inserts `rows` into `table` in batches, one transaction per batch.
async fn insert_rows(
    db: &sea_orm::DatabaseConnection,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    for chunk in rows.chunks(BATCH) {
        let txn = db.begin().await?;
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        let text = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            vec![one.as_str(); chunk.len()].join(", ")
        );
        txn.execute_raw(sql(backend, text, values)).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// Seeds the year: plans, planned visits, and the visits that fulfilled most past ones.
async fn seed(
    url: &str,
    customers: &[String],
    year: i32,
    today: NaiveDate,
) -> anyhow::Result<(usize, usize)> {
    let db = dossier_kit::db::connect(url).await?;
    let now = Utc::now();
    let mut plans = Vec::new();
    let mut planned = Vec::new();
    let mut visits = Vec::new();
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).context("year")?;
    for s in 0..SALESPEOPLE {
        let sp = format!("sp-{s:03}");
        let plan_id = uuid::Uuid::now_v7().to_string();
        plans.push(vec![
            plan_id.clone().into(),
            sp.clone().into(),
            sp.clone().into(),
            "east".into(),
            year.into(),
            1i64.into(),
            now.into(),
            now.into(),
            "bench".into(),
        ]);
        for (c, customer) in customers.iter().enumerate() {
            for n in 0..12i64 {
                let day = jan1 + Days::days(n * 30 + ((s + c) % 28) as i64);
                let date = day.format("%Y-%m-%d").to_string();
                // Four in five past visits were made, a few days either side of the plan.
                let done = day < today && !(s * 7 + c * 3 + n as usize).is_multiple_of(5);
                let (actual, visit_id): (Option<String>, Option<String>) = if done {
                    let made = day + Days::days(((s + c + n as usize) % 7) as i64 - 3);
                    let id = uuid::Uuid::now_v7().to_string();
                    let made_date = made.format("%Y-%m-%d").to_string();
                    let body = pb::Visit {
                        id: id.clone(),
                        customer_id: customer.clone(),
                        sequence: n as i32 + 1,
                        salesperson_id: sp.clone(),
                        visit_date: made_date.clone(),
                        objective: "了解用油情况".into(),
                        outcome: "继续跟进".into(),
                        ..pb::Visit::default()
                    };
                    visits.push(vec![
                        id.clone().into(),
                        sp.clone().into(),
                        "east".into(),
                        customer.clone().into(),
                        made_date.clone().into(),
                        made.year().into(),
                        (n as i32 + 1).into(),
                        false.into(),
                        true.into(),
                        "R01".into(),
                        (c as i32).into(),
                        1i64.into(),
                        now.into(),
                        body.encode_to_vec().into(),
                    ]);
                    (Some(made_date), Some(id))
                } else {
                    (None, None)
                };
                planned.push(vec![
                    plan_id.clone().into(),
                    sp.clone().into(),
                    "east".into(),
                    year.into(),
                    customer.clone().into(),
                    format!("客户{c}").into(),
                    (c as i32 + 1).into(),
                    (n as i32 + 1).into(),
                    Some(date.clone()).into(),
                    Some(date[..7].to_owned()).into(),
                    actual.into(),
                    visit_id.into(),
                ]);
            }
        }
    }
    let (planned_count, visit_count) = (planned.len(), visits.len());
    insert_rows(
        &db,
        "visit_plans",
        &[
            "id",
            "salesperson_id",
            "salesperson_name",
            "team",
            "year",
            "version",
            "created_at",
            "updated_at",
            "updated_by",
        ],
        plans,
    )
    .await?;
    insert_rows(
        &db,
        "planned_visits",
        &[
            "plan_id",
            "salesperson_id",
            "team",
            "year",
            "customer_id",
            "customer_name",
            "row_no",
            "number",
            "planned_date",
            "planned_month",
            "actual_date",
            "visit_id",
        ],
        planned,
    )
    .await?;
    insert_rows(
        &db,
        "visits",
        &[
            "id",
            "salesperson_id",
            "team",
            "customer_id",
            "visit_date",
            "visit_year",
            "sequence",
            "open_objections",
            "plan_matched",
            "route_code",
            "route_order",
            "version",
            "created_at",
            "body",
        ],
        visits,
    )
    .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    db.close().await?;
    Ok((planned_count, visit_count))
}

#[allow(clippy::too_many_arguments)]
async fn backend(
    args: &BenchArgs,
    load: Load,
    dir: &std::path::Path,
    secret: &str,
    backend: &str,
    visit_url: &str,
    bare_url: &str,
) -> anyhow::Result<()> {
    let profile_db = format!(
        "sqlite://{}?mode=rwc",
        dir.join(format!("visits-cp-{backend}.db")).display()
    );
    let profile = start(
        dir,
        secret,
        "customer_profile",
        serde_json::json!({"listen": "127.0.0.1:0", "database_url": profile_db}),
    )
    .await?;
    let visits_app = start(
        dir,
        secret,
        "visit_journal",
        serde_json::json!({
            "listen": "127.0.0.1:0",
            "database_url": visit_url,
            "customer_profile_endpoint": format!("http://127.0.0.1:{}", profile.port),
        }),
    )
    .await?;
    let archivist = bearer(secret, "bench", Role::Archivist)?;
    let mut customers_client = CustomerServiceClient::new(connect(profile.port).await?);
    let mut customers = Vec::with_capacity(CUSTOMERS);
    for (i, card) in crate::demo_data::demo_customers(CUSTOMERS, 2026)
        .into_iter()
        .enumerate()
    {
        let created = customers_client
            .create_customer(with(
                &archivist,
                CreateCustomerRequest {
                    customer: Some(card),
                    request_id: format!("bench-{i}"),
                },
            ))
            .await
            .context("creating a bench customer")?
            .into_inner();
        customers.push(created.id);
    }
    let today = Utc::now().date_naive();
    let year = today.year();
    let began = Instant::now();
    let (planned, done) = seed(visit_url, &customers, year, today).await?;
    println!(
        "{backend:<10} seeded {planned} planned visits and {done} visits in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    // Bare single-row insert: one autocommitted INSERT of a visit-sized row per operation.
    let bare = dossier_kit::db::connect(bare_url).await?;
    // BYTEA is PostgreSQL's blob; SQLite takes any type name.
    bare.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_bare_insert (id VARCHAR(64) PRIMARY KEY, payload BYTEA)",
    )
    .await?;
    let payload = pb::Visit {
        objective: "了解用油情况，推介新品".repeat(4),
        ..pb::Visit::default()
    }
    .encode_to_vec();
    let bare_backend = bare.get_database_backend();
    let bare_op = {
        let bare = bare.clone();
        let payload = payload.clone();
        move |_n: u64| {
            let bare = bare.clone();
            let payload = payload.clone();
            async move {
                let statement = sql(
                    bare_backend,
                    "INSERT INTO bench_bare_insert (id, payload) VALUES (?, ?)".into(),
                    vec![uuid::Uuid::now_v7().to_string().into(), payload.into()],
                );
                bare.execute_raw(statement).await.is_ok()
            }
        }
    };
    let (bare_rate, bare_p50, bare_p99, bare_errors) = closed_loop(load, bare_op).await;
    bare.close().await?;

    // RecordVisit from many phones: each worker is one of the seeded salespeople.
    let mut channels: Vec<Channel> = Vec::new();
    for _ in 0..load.connections.max(1) {
        channels.push(connect(visits_app.port).await?);
    }
    let tokens: Arc<Vec<_>> = Arc::new(
        (0..SALESPEOPLE)
            .map(|s| bearer(secret, &format!("sp-{s:03}"), Role::SalesRep))
            .collect::<anyhow::Result<_>>()?,
    );
    let customers = Arc::new(customers);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let record = {
        let channels = Arc::new(channels.clone());
        move |n: u64| {
            let channels = channels.clone();
            let tokens = tokens.clone();
            let customers = customers.clone();
            let run_id = run_id.clone();
            async move {
                let mut client =
                    VisitServiceClient::new(channels[n as usize % channels.len()].clone());
                let now = dossier_kit::time::to_timestamp(Utc::now() - Days::minutes(5));
                let visit = pb::Visit {
                    customer_id: customers[n as usize % customers.len()].clone(),
                    sequence: 0,
                    objective: "了解用油情况，推介新品".into(),
                    outcome: "继续跟进".into(),
                    check_in_time: Some(now),
                    ..pb::Visit::default()
                };
                let request = with(
                    &tokens[n as usize % tokens.len()],
                    pb::RecordVisitRequest {
                        visit: Some(visit),
                        request_id: format!("{run_id}-{n}"),
                    },
                );
                client.record_visit(request).await.is_ok()
            }
        }
    };
    let (rate, p50, p99, errors) = closed_loop(load, record).await;
    println!(
        "{:<30} {:<10} {:>9} {:>8} {:>8} {:>7} {:>14}",
        "measurement", "backend", "ops/s", "p50 ms", "p99 ms", "errors", "vs bare insert"
    );
    println!(
        "{:<30} {backend:<10} {bare_rate:>9.0} {bare_p50:>8.2} {bare_p99:>8.2} {bare_errors:>7} {:>14}",
        "bare 1-row insert", "1.00"
    );
    println!(
        "{:<30} {backend:<10} {rate:>9.0} {p50:>8.2} {p99:>8.2} {errors:>7} {:>14.2}",
        "RecordVisit",
        if bare_rate > 0.0 {
            rate / bare_rate
        } else {
            0.0
        }
    );

    // Plan-vs-done: one salesperson's month, and the whole sales force's year.
    let executive = bearer(secret, "bench-vp", Role::Executive)?;
    let mut client = VisitServiceClient::new(channels[0].clone());
    let month = format!("{year}-{:02}", today.month());
    let queries = [
        (
            "progress: 1 salesperson, month",
            pb::GetPlanProgressRequest {
                year,
                month: month.clone(),
                salesperson_id: "sp-007".into(),
                ..Default::default()
            },
            20,
        ),
        (
            "progress: 200 × year by person",
            pb::GetPlanProgressRequest {
                year,
                group_by: vec![pb::ProgressDimension::Salesperson as i32],
                ..Default::default()
            },
            5,
        ),
        (
            "progress: all, year by month",
            pb::GetPlanProgressRequest {
                year,
                group_by: vec![pb::ProgressDimension::Month as i32],
                ..Default::default()
            },
            5,
        ),
    ];
    for (label, request, times) in queries {
        let mut took = Vec::new();
        let mut rows = 0;
        for _ in 0..times {
            let began = Instant::now();
            let reply = client
                .get_plan_progress(with(&executive, request.clone()))
                .await
                .with_context(|| format!("{label} on {backend}"))?
                .into_inner();
            took.push(began.elapsed().as_secs_f64() * 1000.0);
            rows = reply.rows.len();
        }
        took.sort_by(f64::total_cmp);
        println!(
            "{label:<30} {backend:<10} median {:>8.1} ms, max {:>8.1} ms over {times} calls ({rows} rows)",
            took[took.len() / 2],
            took[took.len() - 1]
        );
    }
    let _ = args;
    visits_app.stop().await?;
    profile.stop().await
}
