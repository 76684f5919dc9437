//! `dossier bench --only payments`: throughput of contract-receivables' `RecordPayment` on
//! SQLite and on PostgreSQL, beside a bare single-row `INSERT` through a pool opened the same
//! way (the kit's `db::connect`) on the same database, in the same run. The target (issue #4):
//! `RecordPayment` at ≥ 30 % of the bare insert.
//!
//! Each payment is a full money-moving call over gRPC: token check, request-id idempotency, the
//! customer's lock row, the open receivables read, the payment, the credit held and the outbox
//! event, committed before the reply. The service's payment writer records the calls in flight
//! together, one transaction per group (see `ledger/payments.rs`); the bare insert is one
//! autocommit statement per row. The payers are 64 customers spread over the workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use dossier_kit::auth::{Role, TokenRequest, mint_hs256};
use dossier_kit::config::Config;
use dossier_kit::server::shutdown_pair;
use dossier_proto::contract::contract_service_client::ContractServiceClient;
use dossier_proto::contract::{Payment, PaymentMethod, RecordPaymentRequest};
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{CreateCustomerRequest, Customer, CustomerKind};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::SecretString;

use super::baseline::{Running, postgres_admin};
use super::{AUDIENCE, BenchArgs, ISSUER};

/// Customers paying.
const PAYERS: u64 = 64;
/// The issue's target: RecordPayment at this share of the bare insert or more.
const TARGET: f64 = 0.30;

fn token(secret: &str, role: Role) -> anyhow::Result<String> {
    mint_hs256(
        &SecretString::from(secret.to_owned()),
        ISSUER,
        AUDIENCE,
        &TokenRequest {
            sub: format!("bench-{role}"),
            name: "bench".into(),
            role,
            team: String::new(),
            scopes: vec![],
            ttl: Duration::from_secs(86_400),
        },
    )
    .map_err(anyhow::Error::msg)
}

fn authorized<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

fn config(dir: &std::path::Path, secret: &str, section: &str, values: serde_json::Value) -> Config {
    Config::from_values(serde_json::json!({
        "data_dir": dir.display().to_string(),
        "auth": {"issuer": ISSUER, "audience": AUDIENCE, "algorithm": "HS256", "hs256_secret": secret},
        "telemetry": {"log_filter": "warn"},
        "limits": {"shutdown_grace_secs": 2},
        section: values,
    }))
}

/// Runs the payments benchmark on SQLite and, when configured, PostgreSQL.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        println!(
            "WARNING: this is a debug build; its figures mean little. Use `cargo run --release -- bench --only payments`."
        );
    }
    println!(
        "dossier bench --only payments: {} concurrent requests, {} s per measurement after {} s warmup; target RecordPayment ≥ {:.0} % of the bare insert",
        args.concurrency,
        args.seconds,
        args.warmup,
        TARGET * 100.0
    );
    println!(
        "{:<10} {:>16} {:>16} {:>9}  target",
        "backend", "RecordPayment/s", "bare insert/s", "ratio"
    );
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("dossier-bench-pay-{run}"));
    std::fs::create_dir_all(&dir)?;
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.join("contract-receivables.db").display()
    );
    let mut failure = None;
    if let Err(error) = backend(args, &dir, &secret, "sqlite", &sqlite).await {
        failure = Some(error);
    }
    if let Some(admin) = args.postgres.as_deref().filter(|u| !u.trim().is_empty()) {
        let name = format!("bench_pay_{run}");
        postgres_admin(admin, format!("CREATE DATABASE {name}")).await?;
        let url = dossier_kit::config::with_database_name(admin, &name);
        if let Err(error) = backend(args, &dir, &secret, "postgres", &url).await {
            failure.get_or_insert(error);
        }
        if let Err(error) = postgres_admin(
            admin,
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
        {
            eprintln!("warning: could not drop {name}: {error:#}");
        }
    } else {
        println!(
            "{:<10} skipped: give --postgres URL or set DOSSIER_TEST_POSTGRES_URL",
            "postgres"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    failure.map_or(Ok(()), Err)
}

async fn backend(
    args: &BenchArgs,
    dir: &std::path::Path,
    secret: &str,
    name: &str,
    url: &str,
) -> anyhow::Result<()> {
    // customer-profile (on SQLite: it is only asked once per payer) and contract-receivables.
    let (cp_trigger, cp_shutdown) = shutdown_pair();
    let cp_dir = dir.join(format!("cp-{name}"));
    std::fs::create_dir_all(&cp_dir)?;
    let cp = dossier_customer_profile::Application::build(
        &config(
            &cp_dir,
            secret,
            "customer_profile",
            serde_json::json!({"listen": "127.0.0.1:0"}),
        ),
        dossier_kit::clock::system(),
        cp_shutdown,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let cp_port = cp.port();
    let cp_task =
        tokio::spawn(async move { cp.run_until_stopped().await.map_err(anyhow::Error::msg) });
    let cp_running = Running::new(cp_port, cp_trigger, cp_task);

    let (trigger, shutdown) = shutdown_pair();
    let app = dossier_contract_receivables::Application::build(
        &config(
            dir,
            secret,
            "contract_receivables",
            serde_json::json!({
                "listen": "127.0.0.1:0",
                "database_url": url,
                "customer_profile_endpoint": format!("http://127.0.0.1:{cp_port}"),
            }),
        ),
        dossier_kit::clock::system(),
        shutdown,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let port = app.port();
    let task =
        tokio::spawn(async move { app.run_until_stopped().await.map_err(anyhow::Error::msg) });
    let service = Running::new(port, trigger, task);

    let archivist = token(secret, Role::Archivist)?;
    let finance = token(secret, Role::Finance)?;
    let mut customers = CustomerServiceClient::new(super::load::connect(cp_port).await?);
    let mut payers = Vec::new();
    for n in 0..PAYERS {
        let created = customers
            .create_customer(authorized(
                CreateCustomerRequest {
                    customer: Some(Customer {
                        kind: CustomerKind::Company as i32,
                        name: format!("回款测试客户{n}"),
                        credit_code: super::load::credit_code(900_000 + n).unwrap_or_default(),
                        address: "上海市浦东新区世纪大道 1 号".into(),
                        phone: "021-50501234".into(),
                        region: "华东/上海".into(),
                        ..Customer::default()
                    }),
                    request_id: format!("bench-payer-{n}"),
                },
                &archivist,
            )?)
            .await
            .context("creating a payer")?
            .into_inner();
        payers.push(created.id);
    }
    let payers = Arc::new(payers);
    let today = chrono::Utc::now().date_naive().to_string();
    let channels: Vec<_> = {
        let mut list = Vec::new();
        for _ in 0..args.connections.max(1) {
            list.push(super::load::connect(port).await?);
        }
        list
    };
    let template = Payment {
        amount: "123.45".into(),
        received_date: today,
        method: PaymentMethod::BankTransfer as i32,
        ..Payment::default()
    };
    let sequence = Arc::new(AtomicU64::new(0));
    let pay = {
        let finance = finance.clone();
        move |worker: usize| {
            let mut client = ContractServiceClient::new(channels[worker % channels.len()].clone());
            let payers = payers.clone();
            let template = template.clone();
            let sequence = sequence.clone();
            let finance = finance.clone();
            async move {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let mut payment = template;
                payment.customer_id = payers[(n % PAYERS) as usize].clone();
                let request = authorized(
                    RecordPaymentRequest {
                        payment: Some(payment),
                        request_id: format!("bench-{n}"),
                    },
                    &finance,
                )?;
                client.record_payment(request).await?;
                anyhow::Ok(())
            }
        }
    };
    let payments = closed_loop(args, pay).await;

    // The bare insert: one row per statement, autocommit, through the kit's pool.
    let pool = dossier_kit::db::connect(url).await?;
    let backend = pool.get_database_backend();
    pool.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_bare_insert (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, amount TEXT NOT NULL)",
    )
    .await?;
    let pool = Arc::new(pool);
    let counter = Arc::new(AtomicU64::new(0));
    let insert = move |_worker: usize| {
        let pool = pool.clone();
        let n = counter.fetch_add(1, Ordering::Relaxed);
        async move {
            let sql = if backend == DbBackend::Postgres {
                "INSERT INTO bench_bare_insert (id, customer_id, amount) VALUES ($1, $2, $3)"
            } else {
                "INSERT INTO bench_bare_insert (id, customer_id, amount) VALUES (?, ?, ?)"
            };
            pool.execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    format!("bare-{n}").into(),
                    format!("c-{}", n % PAYERS).into(),
                    "123.45".into(),
                ],
            ))
            .await?;
            anyhow::Ok(())
        }
    };
    let bare = closed_loop(args, insert).await;
    let ratio = if bare.0 > 0.0 {
        payments.0 / bare.0
    } else {
        0.0
    };
    println!(
        "{:<10} {:>16.0} {:>16.0} {:>8.1} %  {}",
        name,
        payments.0,
        bare.0,
        ratio * 100.0,
        if ratio >= TARGET { "PASS" } else { "BELOW" }
    );
    for (what, (_, errors, first)) in [("RecordPayment", &payments), ("bare insert", &bare)] {
        if *errors > 0 {
            println!(
                "{:<10} ! {what}: {errors} failed; first: {}",
                "",
                first.as_deref().unwrap_or("?")
            );
        }
    }
    service.stop().await?;
    cp_running.stop().await?;
    anyhow::ensure!(
        payments.1 == 0 && bare.1 == 0,
        "requests failed during the benchmark"
    );
    Ok(())
}

/// Runs `call` in `concurrency` closed loops for warmup + window; returns (ops/s in the window,
/// errors, first error).
async fn closed_loop<F, Fut>(args: &BenchArgs, call: F) -> (f64, u64, Option<String>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let call = Arc::new(call);
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let mut workers = Vec::new();
    for worker in 0..args.concurrency.max(1) {
        let (call, counting, stop, ok, errors, first_error) = (
            call.clone(),
            counting.clone(),
            stop.clone(),
            ok.clone(),
            errors.clone(),
            first_error.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let result = call(worker).await;
                if counting.load(Ordering::Relaxed) {
                    match result {
                        Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(error) => {
                            if let Ok(mut first) = first_error.lock() {
                                first.get_or_insert_with(|| format!("{error:#}"));
                            }
                            errors.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup.max(0.0))).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds.max(0.1))).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let first = first_error.lock().ok().and_then(|f| f.clone());
    (
        ok.load(Ordering::Relaxed) as f64 / elapsed,
        errors.load(Ordering::Relaxed),
        first,
    )
}
