//! `dossier bench --only analytics`: how fast analytics catches up with change feeds from zero,
//! and what its composition and classification cost against plain SQL aggregates over the same
//! rows, in the same run, on SQLite and (when configured) PostgreSQL.
//!
//! customer-profile and contract-receivables run with their outboxes seeded in bulk — `--events`
//! deliveries (default 1 000 000) over a tenth as many customers, two years of days — and
//! analytics' consumers follow both feeds from sequence 0 until they reach the heads:
//! events/s, target ≥ 20 000 on SQLite. Then analytics serves the caught-up read model and
//! `GetComposition` (sales by grade, a year against the year before: every delivery) and
//! `ClassifyCustomers` (one year) are timed beside a plain `GROUP BY` over the same rows:
//! target ≤ 2× the plain aggregate.

use std::time::{Duration, Instant};

use anyhow::Context;
use dossier_analytics::feed::{self, FeedSource, LagBoard};
use dossier_analytics::store::apply::Source;
use dossier_analytics::store::{Store, statement};
use dossier_kit::auth::{Role, TokenRequest, mint_hs256};
use dossier_kit::config::Config;
use dossier_kit::server::shutdown_pair;
use dossier_proto::analytics::analytics_service_client::AnalyticsServiceClient;
use dossier_proto::analytics::{
    ClassifyCustomersRequest, CompositionDimension, GetCompositionRequest,
};
use dossier_proto::{contract, customer};
use prost::Message;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait, Value};
use secrecy::SecretString;

use super::baseline::{Running, postgres_admin};
use super::{AUDIENCE, BenchArgs, ISSUER};

/// Catch-up target on SQLite, events per second.
const CATCH_UP_TARGET: f64 = 20_000.0;
/// Aggregate target: at most this many times the plain SQL aggregate.
const AGGREGATE_TARGET: f64 = 2.0;
/// Rows per seeding statement.
const SEED_ROWS: usize = 500;
/// Timed repetitions of each query; the best is reported.
const REPEAT: usize = 3;

fn token(secret: &str) -> anyhow::Result<String> {
    mint_hs256(
        &SecretString::from(secret.to_owned()),
        ISSUER,
        AUDIENCE,
        &TokenRequest {
            sub: "svc-analytics".into(),
            name: "bench".into(),
            role: Role::Executive,
            team: String::new(),
            scopes: vec![],
            ttl: Duration::from_secs(86_400),
        },
    )
    .map_err(anyhow::Error::msg)
}

fn config(dir: &std::path::Path, secret: &str, section: &str, values: serde_json::Value) -> Config {
    Config::from_values(serde_json::json!({
        "data_dir": dir.display().to_string(),
        "auth": {"issuer": ISSUER, "audience": AUDIENCE, "algorithm": "HS256", "hs256_secret": secret},
        "telemetry": {"log_filter": "warn"},
        "limits": {"shutdown_grace_secs": 2, "max_message_bytes": 67_108_864},
        section: values,
    }))
}

/// Runs the analytics benchmark on SQLite and, when configured, PostgreSQL.
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.events >= 10, "--events must be at least 10");
    if cfg!(debug_assertions) {
        println!(
            "WARNING: this is a debug build; its figures mean little. Use `cargo run --release -- bench --only analytics`."
        );
    }
    println!(
        "dossier bench --only analytics: {} deliveries over {} customers; targets: catch-up ≥ {} events/s on SQLite, aggregates ≤ {}× the plain SQL aggregate",
        args.events,
        args.events / 10,
        CATCH_UP_TARGET,
        AGGREGATE_TARGET
    );
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("dossier-bench-an-{run}"));
    std::fs::create_dir_all(&dir)?;
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let sqlite = |n: &str| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{n}.db")).display()
        )
    };
    let mut failure = None;
    if let Err(error) = backend(
        args,
        &dir,
        &secret,
        "sqlite",
        [
            sqlite("customer-profile"),
            sqlite("contract-receivables"),
            sqlite("analytics"),
        ],
    )
    .await
    {
        failure = Some(error);
    }
    if let Some(admin) = args.postgres.as_deref().filter(|u| !u.trim().is_empty()) {
        let names = ["cp", "cr", "an"].map(|n| format!("bench_an_{run}_{n}"));
        for name in &names {
            postgres_admin(admin, format!("CREATE DATABASE {name}")).await?;
        }
        let urls = names
            .clone()
            .map(|n| dossier_kit::config::with_database_name(admin, &n));
        if let Err(error) = backend(args, &dir, &secret, "postgres", urls).await {
            failure.get_or_insert(error);
        }
        for name in &names {
            if let Err(error) = postgres_admin(
                admin,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
            {
                eprintln!("warning: could not drop {name}: {error:#}");
            }
        }
    } else {
        println!("postgres   skipped: give --postgres URL or set DOSSIER_TEST_POSTGRES_URL");
    }
    let _ = std::fs::remove_dir_all(&dir);
    failure.map_or(Ok(()), Err)
}

/// Appends encoded events to an outbox in bulk: multi-row inserts, large transactions.
async fn seed_outbox(
    db: &DatabaseConnection,
    count: u64,
    event: impl Fn(u64) -> (String, String, String, Vec<u8>),
) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    let at = chrono::Utc::now();
    let mut n = 0;
    while n < count {
        let txn = db.begin().await?;
        for _ in 0..20 {
            if n >= count {
                break;
            }
            let rows = SEED_ROWS.min((count - n) as usize);
            let mut values: Vec<Value> = Vec::with_capacity(rows * 7);
            for i in n..n + rows as u64 {
                let (event_type, id, type_url, payload) = event(i);
                values.extend([
                    event_type.into(),
                    id.clone().into(),
                    id.into(),
                    "bench".into(),
                    at.into(),
                    type_url.into(),
                    payload.into(),
                ]);
            }
            let sql = format!(
                "INSERT INTO outbox (event_type, aggregate_id, customer_id, actor_id, occurred_at, type_url, payload) VALUES {}",
                vec!["(?, ?, ?, ?, ?, ?, ?)"; rows].join(", ")
            );
            txn.execute_raw(statement(backend, &sql, values)).await?;
            n += rows as u64;
        }
        txn.commit().await?;
    }
    Ok(())
}

async fn start<F, A>(build: F) -> anyhow::Result<Running>
where
    F: FnOnce(dossier_kit::server::ShutdownSignal) -> A,
    A: std::future::Future<
            Output = anyhow::Result<(u16, futures::future::BoxFuture<'static, Result<(), String>>)>,
        >,
{
    let (trigger, shutdown) = shutdown_pair();
    let (port, run) = build(shutdown).await?;
    let task = tokio::spawn(async move { run.await.map_err(anyhow::Error::msg) });
    Ok(Running::new(port, trigger, task))
}

async fn best<T, F, Fut>(mut f: F) -> anyhow::Result<(Duration, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..REPEAT {
        let t = Instant::now();
        let out = f().await?;
        let took = t.elapsed();
        if best.as_ref().is_none_or(|(b, _)| took < *b) {
            best = Some((took, out));
        }
    }
    best.context("no repetition ran")
}

async fn backend(
    args: &BenchArgs,
    dir: &std::path::Path,
    secret: &str,
    name: &str,
    urls: [String; 3],
) -> anyhow::Result<()> {
    let [cp_url, cr_url, an_url] = urls;
    let customers = (args.events / 10).max(1);
    let cp_dir = dir.join(format!("cp-{name}"));
    std::fs::create_dir_all(&cp_dir)?;
    let cp = start(|shutdown| {
        let c = config(
            &cp_dir,
            secret,
            "customer_profile",
            serde_json::json!({"listen": "127.0.0.1:0", "database_url": cp_url}),
        );
        async move {
            let app = dossier_customer_profile::Application::build(
                &c,
                dossier_kit::clock::system(),
                shutdown,
            )
            .await
            .map_err(anyhow::Error::msg)?;
            let port = app.port();
            Ok((
                port,
                Box::pin(app.run_until_stopped()) as futures::future::BoxFuture<'static, _>,
            ))
        }
    })
    .await?;
    let cr = start(|shutdown| {
        let c = config(
            dir,
            secret,
            "contract_receivables",
            serde_json::json!({
                "listen": "127.0.0.1:0",
                "database_url": cr_url,
                "customer_profile_endpoint": format!("http://127.0.0.1:{}", cp.port),
            }),
        );
        async move {
            let app = dossier_contract_receivables::Application::build(
                &c,
                dossier_kit::clock::system(),
                shutdown,
            )
            .await
            .map_err(anyhow::Error::msg)?;
            let port = app.port();
            Ok((
                port,
                Box::pin(app.run_until_stopped()) as futures::future::BoxFuture<'static, _>,
            ))
        }
    })
    .await?;

    // Seed both outboxes as the services would have written them.
    let t = Instant::now();
    let cp_db = dossier_kit::db::connect(&cp_url).await?;
    seed_outbox(&cp_db, customers, |i| {
        let id = format!("c{i:07}");
        let c = customer::Customer {
            id: id.clone(),
            name: format!("客户{i}"),
            grade: (i % 4) as i32 + 1,
            region: format!("地区{}", i % 10),
            owner_id: format!("rep-{}", i % 50),
            team: format!("team-{}", i % 5),
            trade_standing: (i % 3) as i32 + 1,
            state: customer::CustomerState::Active as i32,
            ..Default::default()
        };
        (
            "customer.created".into(),
            id,
            "type.googleapis.com/dossier.customer.v1.Customer".into(),
            c.encode_to_vec(),
        )
    })
    .await?;
    let cr_db = dossier_kit::db::connect(&cr_url).await?;
    let start_day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).context("date")?;
    seed_outbox(&cr_db, args.events, |i| {
        let day = start_day + chrono::Duration::days((i % 730) as i64);
        let cents = (i * 7919) % 100_000 + 100;
        let d = contract::Delivery {
            id: format!("d{i:08}"),
            contract_id: format!("k{}", i % customers),
            customer_id: format!("c{:07}", (i * 31) % customers),
            delivery_date: day.format("%Y-%m-%d").to_string(),
            amount: format!("{}.{:02}", cents / 100, cents % 100),
            product: format!("产品{}", i % 20),
            receivable_id: format!("r{i:08}"),
            due_date: (day + chrono::Duration::days(30))
                .format("%Y-%m-%d")
                .to_string(),
            ..Default::default()
        };
        (
            "delivery.recorded".into(),
            d.customer_id.clone(),
            "type.googleapis.com/dossier.contract.v1.Delivery".into(),
            d.encode_to_vec(),
        )
    })
    .await?;
    let total_events = customers + args.events;
    println!(
        "{name:<10} seeded {total_events} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Catch up from zero.
    let store = Store::new(
        dossier_kit::db::connect_and_migrate::<dossier_analytics::store::migration::Migrator>(
            &an_url,
        )
        .await?,
    );
    let (_hold, shutdown) = shutdown_pair();
    let token = SecretString::from(token(secret)?);
    let heads = [
        (Source::Customers, cp.port, customers),
        (Source::Contracts, cr.port, args.events),
    ];
    let t = Instant::now();
    let consumers: Vec<_> = heads
        .iter()
        .map(|(source, port, _)| {
            feed::spawn(
                store.clone(),
                FeedSource {
                    source: *source,
                    endpoint: format!("http://127.0.0.1:{port}"),
                    token: token.clone(),
                },
                LagBoard::default(),
                dossier_kit::clock::system(),
                shutdown.clone(),
            )
        })
        .collect();
    loop {
        let mut done = true;
        for (source, _, head) in &heads {
            if store
                .position(*source)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                < *head
            {
                done = false;
            }
        }
        if done {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(3600),
            "catch-up took over an hour"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t.elapsed().as_secs_f64();
    for c in consumers {
        c.abort();
    }
    let rate = total_events as f64 / took;
    println!(
        "{name:<10} catch-up from zero: {total_events} events in {took:.1} s = {rate:.0} events/s  (target ≥ {CATCH_UP_TARGET:.0} on SQLite: {})",
        if name != "sqlite" {
            "n/a"
        } else if rate >= CATCH_UP_TARGET {
            "met"
        } else {
            "NOT met"
        }
    );

    // The queries, through the service, beside plain aggregates on the same database.
    let an = start(|shutdown| {
        let c = config(dir, secret, "analytics", serde_json::json!({"listen": "127.0.0.1:0", "database_url": an_url, "follow_feeds": false}));
        async move {
            let app = dossier_analytics::Application::build(&c, dossier_kit::clock::system(), shutdown)
                .await
                .map_err(anyhow::Error::msg)?;
            let port = app.port();
            Ok((port, Box::pin(app.run_until_stopped()) as futures::future::BoxFuture<'static, _>))
        }
    })
    .await?;
    let client = AnalyticsServiceClient::new(super::load::connect(an.port).await?)
        .max_decoding_message_size(64 * 1024 * 1024);
    let bearer = format!("Bearer {}", token_text(&token));
    let db = store.db().clone();
    let plain = |sql: &'static str| {
        let db = db.clone();
        move || {
            let db = db.clone();
            async move {
                let rows = db
                    .query_all_raw(statement(db.get_database_backend(), sql, vec![]))
                    .await?;
                Ok(rows.len())
            }
        }
    };
    let (composition, slices) = best(|| {
        let request = authorized(
            GetCompositionRequest {
                dimension: CompositionDimension::Sales as i32,
                period: "2026".into(),
                ..Default::default()
            },
            &bearer,
        );
        let mut client = client.clone();
        async move {
            Ok(client
                .get_composition(request?)
                .await?
                .into_inner()
                .slices
                .len())
        }
    })
    .await?;
    let (plain_composition, _) = best(plain(
        "SELECT c.grade, SUM(d.amount_cents) FROM rm_deliveries d JOIN rm_customers c ON c.id = d.customer_id \
         WHERE d.delivery_date >= '2025-01-01' AND d.delivery_date <= '2026-12-31' GROUP BY c.grade",
    ))
    .await?;
    let (classify, ranked) = best(|| {
        let request = authorized(
            ClassifyCustomersRequest {
                period: "2026".into(),
                ..Default::default()
            },
            &bearer,
        );
        let mut client = client.clone();
        async move {
            Ok(client
                .classify_customers(request?)
                .await?
                .into_inner()
                .total_size)
        }
    })
    .await?;
    let (plain_classify, _) = best(plain(
        "SELECT customer_id, SUM(amount_cents) FROM rm_deliveries \
         WHERE delivery_date >= '2026-01-01' AND delivery_date <= '2026-12-31' GROUP BY customer_id",
    ))
    .await?;
    let line = |what: &str, took: Duration, base: Duration, rows: String| {
        let ratio = took.as_secs_f64() / base.as_secs_f64().max(1e-9);
        println!(
            "{name:<10} {what:<18} {:>9.1} ms   plain aggregate {:>9.1} ms   ratio {ratio:>5.2}×  (target ≤ {AGGREGATE_TARGET}×: {})  {rows}",
            took.as_secs_f64() * 1000.0,
            base.as_secs_f64() * 1000.0,
            if ratio <= AGGREGATE_TARGET {
                "met"
            } else {
                "NOT met"
            }
        );
    };
    line(
        "GetComposition",
        composition,
        plain_composition,
        format!("{slices} slices"),
    );
    line(
        "ClassifyCustomers",
        classify,
        plain_classify,
        format!("{ranked} customers ranked"),
    );
    an.stop().await?;
    cr.stop().await?;
    cp.stop().await?;
    Ok(())
}

fn authorized<T>(message: T, bearer: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.parse()?);
    Ok(request)
}

fn token_text(token: &SecretString) -> String {
    use secrecy::ExposeSecret;
    token.expose_secret().to_owned()
}
