//! `dossier bench`: throughput and latency of customer-profile's `GetCustomer` and
//! `CreateCustomer`, on SQLite and on PostgreSQL, beside two baselines measured in the same run:
//!
//! - **echo**: a bare tonic server answering `GetCustomer` with a prebuilt customer — the
//!   ceiling of gRPC on this machine, with this client;
//! - **bare 1-row read**: the same bare server doing one primary-key `SELECT` of one row with
//!   raw sqlx and decoding the customer from it — what any service reading one record costs.
//!
//! Machines are noisy, so the figures that mean something are the ratios against the baselines
//! of the same run. The target (from the issue) is `GetCustomer` of a customer with 5 contacts
//! at ≥ 75 % of the bare one-row read at 32 concurrent streams.
//!
//! Everything runs in this process on 127.0.0.1 (client and servers share the cores): each
//! server on port 0, each run with its own databases — SQLite files in a temporary directory,
//! and a `bench_<uuid>` PostgreSQL database dropped at the end, also after an error or Ctrl-C.
//! The figures are only meaningful from an optimised build: `cargo run --release -- bench`.

mod analytics;
mod baseline;
mod load;
mod payments;
mod visits;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use dossier_kit::auth::{Role, TokenRequest, mint_hs256};
use dossier_kit::config::Config;
use dossier_kit::server::shutdown_pair;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{CreateCustomerRequest, Customer, GetCustomerRequest};
use prost::Message;
use secrecy::SecretString;

use baseline::{BarePool, Running};
use load::{Bearer, Call, Load, Measurement};

/// Contacts of the customer that `GetCustomer` reads (the issue's shape).
const CONTACTS: usize = 5;
/// The issue's target: `GetCustomer` at this share of the bare one-row read or more.
const TARGET: f64 = 0.75;
/// The gateway issue's target: `GetCustomer` through the gateway, masked, at this share of the
/// direct call or more.
const GATEWAY_TARGET: f64 = 0.60;
/// The concurrency the target is stated for.
const TARGET_CONCURRENCY: usize = 32;
/// Token issuer and audience of the run's throwaway HS256 configuration.
const ISSUER: &str = "dossier";
/// See [`ISSUER`].
const AUDIENCE: &str = "dossier-api";

/// Which customer-profile methods to measure (the echo is always measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Only {
    /// `GetCustomer` and its bare one-row read baseline.
    Get,
    /// `CreateCustomer`.
    Create,
    /// Both.
    All,
    /// visit-journal: `RecordVisit` and plan-vs-done over a year of data (see `visits.rs`).
    Visits,
    /// contract-receivables' `RecordPayment` beside a bare single-row insert.
    Payments,
    /// analytics: change-feed catch-up from zero, and `GetComposition` / `ClassifyCustomers`
    /// beside plain SQL aggregates over the same rows (see `analytics.rs`).
    Analytics,
}

/// Options of `dossier bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Requests in flight at once, each a closed loop (request, await, record).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds of each measurement, after the warmup.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Seconds of warmup before each measurement; its samples are discarded.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// HTTP/2 connections the workers share, round-robin.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// PostgreSQL admin URL (e.g. postgres://postgres@127.0.0.1:5432/test); a `bench_<uuid>`
    /// database is created there and dropped afterwards. Without it PostgreSQL is skipped.
    #[arg(long, env = "DOSSIER_TEST_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Which methods to measure.
    #[arg(long, value_enum, default_value_t = Only::All)]
    pub only: Only,
    /// Rounds of the gateway comparison (direct, gateway and bare hop measured in turn).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// `--only analytics`: deliveries written to the change feed (customers: a tenth of them).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
}

/// Runs the benchmarks and prints the table.
pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.concurrency > 0 && args.connections > 0,
        "--concurrency and --connections must be at least 1"
    );
    let load = Load {
        concurrency: args.concurrency,
        connections: args.connections,
        warmup: Duration::try_from_secs_f64(args.warmup).context("--warmup")?,
        window: Duration::try_from_secs_f64(args.seconds).context("--seconds")?,
    };
    anyhow::ensure!(!load.window.is_zero(), "--seconds must be more than 0");
    if args.only == Only::Payments {
        return payments::run(&args).await;
    }
    if args.only == Only::Analytics {
        return analytics::run(&args).await;
    }
    // Warnings of the servers (a failing database, say) show; RUST_LOG overrides.
    let telemetry = dossier_kit::config::TelemetrySettings {
        log_filter: "warn".into(),
        ..Default::default()
    };
    let _telemetry =
        dossier_kit::telemetry::init(&telemetry, "dossier-bench").map_err(anyhow::Error::msg)?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("dossier-bench-{run}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let postgres = args.postgres.clone().filter(|url| !url.trim().is_empty());
    let mut created = Vec::new();
    let result = tokio::select! {
        result = run_all(&args, load, &dir, postgres.as_deref(), &run, &mut created) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Some(admin) = &postgres {
        for name in &created {
            if let Err(error) = baseline::postgres_admin(
                admin,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await
            {
                eprintln!("warning: could not drop PostgreSQL database {name}: {error:#}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// What the run shares: load, credentials, the card to create, the table being printed.
struct Bench<'a> {
    args: &'a BenchArgs,
    load: Load,
    dir: &'a Path,
    secret: String,
    bearer: Bearer,
    /// A salesperson who does not own the reference customer (the gateway masks for them).
    rep_bearer: Bearer,
    template: Customer,
    report: Report,
}

/// Measures the echo, then each backend; prints as it goes.
async fn run_all(
    args: &BenchArgs,
    load: Load,
    dir: &Path,
    postgres: Option<&str>,
    run: &str,
    created: &mut Vec<String>,
) -> anyhow::Result<()> {
    if args.only == Only::Visits {
        return visits::run(args, load, dir, postgres, run, created).await;
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let token = mint_hs256(
        &SecretString::from(secret.clone()),
        ISSUER,
        AUDIENCE,
        &TokenRequest {
            sub: "bench".into(),
            name: "bench".into(),
            role: Role::Archivist,
            team: String::new(),
            scopes: vec![],
            ttl: Duration::from_secs(86_400),
        },
    )
    .map_err(anyhow::Error::msg)?;
    let rep_token = mint_hs256(
        &SecretString::from(secret.clone()),
        ISSUER,
        AUDIENCE,
        &TokenRequest {
            sub: "bench-rep".into(),
            name: "bench-rep".into(),
            role: Role::SalesRep,
            team: "bench".into(),
            scopes: vec![],
            ttl: Duration::from_secs(86_400),
        },
    )
    .map_err(anyhow::Error::msg)?;
    let template = crate::demo_data::demo_customers(64, 2026)
        .into_iter()
        .find(|customer| customer.contacts.len() == CONTACTS)
        .context("the demo data has no customer with 5 contacts")?;
    let mut bench = Bench {
        args,
        load,
        dir,
        secret,
        bearer: Bearer::new(&token)?,
        rep_bearer: Bearer::new(&rep_token)?,
        template,
        report: Report::default(),
    };
    bench.report.print_header(args);

    let sqlite_dir = dir.join("sqlite");
    let sqlite = |file: &str| format!("sqlite://{}?mode=rwc", sqlite_dir.join(file).display());
    bench
        .backend(
            "sqlite",
            &sqlite("customer-profile.db"),
            &sqlite("bare-read.db"),
        )
        .await?;

    match postgres {
        Some(admin) => {
            let name = format!("bench_{run}");
            baseline::postgres_admin(admin, format!("CREATE DATABASE {name}")).await?;
            created.push(name.clone());
            let url = dossier_kit::config::with_database_name(admin, &name);
            bench.backend("postgres", &url, &url).await?;
        }
        None => println!(
            "{:<18} {:<10} skipped: give --postgres URL or set DOSSIER_TEST_POSTGRES_URL",
            "(all)", "postgres"
        ),
    }
    bench.report.finish()
}

impl Bench<'_> {
    /// Measures one backend: the bare read, then customer-profile's methods.
    async fn backend(
        &mut self,
        backend: &'static str,
        service_url: &str,
        bare_url: &str,
    ) -> anyhow::Result<()> {
        let service = self
            .start_service(service_url)
            .await
            .with_context(|| format!("starting customer-profile on {backend}"))?;
        let reference = self.create_reference(service.port).await?;
        let get = Call::Get {
            id: reference.id.clone(),
            contacts: CONTACTS,
        };
        if self.report.echo.is_none() {
            println!(
                "{:<18} {:<10} reply of {} bytes, {CONTACTS} contacts",
                "(GetCustomer)",
                "-",
                reference.encoded_len()
            );
            let echo = baseline::serve(baseline::echo(reference.clone())).await?;
            let measured = load::measure(echo.port, &self.bearer, &get, self.load).await;
            echo.stop().await?;
            self.report.row(What::Echo, "-", &measured?);
        }
        if self.args.only != Only::Create {
            let pool = BarePool::open(bare_url, &reference)
                .await
                .with_context(|| format!("bare read table on {backend}"))?;
            let bare = baseline::serve(baseline::bare_read(pool.clone())).await?;
            let measured = load::measure(bare.port, &self.bearer, &get, self.load).await;
            bare.stop().await?;
            pool.close().await;
            self.report.row(What::BareRead, backend, &measured?);
            let measured = load::measure(service.port, &self.bearer, &get, self.load).await?;
            self.report.row(What::Get, backend, &measured);
            self.compare_gateway(backend, service.port, &get).await?;
        }
        if self.args.only != Only::Get {
            let create = Call::Create {
                template: Arc::new(self.template.clone()),
                next: Arc::new(AtomicU64::new(1)),
            };
            let measured = load::measure(service.port, &self.bearer, &create, self.load).await?;
            self.report.row(What::Create, backend, &measured);
        }
        service.stop().await
    }

    /// The same call through the gateway, as a salesperson who does not own the customer
    /// (authenticated, relation looked up and remembered, masked, audited), and through a hop
    /// that does nothing — what is left for the gateway's own work is the distance between the
    /// two. Measured in rounds of direct, gateway and hop in turn, each figure the sum of its
    /// rounds: a noisy machine's drift then falls on all three alike instead of on whichever
    /// came last.
    async fn compare_gateway(
        &mut self,
        backend: &'static str,
        service_port: u16,
        get: &Call,
    ) -> anyhow::Result<()> {
        let gateway = self
            .start_gateway(service_port, backend)
            .await
            .with_context(|| format!("starting the gateway on {backend}"))?;
        let hop = baseline::serve(baseline::PassThrough::to(service_port)?).await?;
        let rounds = async {
            let mut sums: [Option<Measurement>; 3] = [None, None, None];
            let mut shares = Vec::new();
            for _ in 0..self.args.rounds.max(1) {
                let direct = load::measure(service_port, &self.bearer, get, self.load).await?;
                let via_gw = load::measure(gateway.port, &self.rep_bearer, get, self.load).await?;
                let via_hop = load::measure(hop.port, &self.bearer, get, self.load).await?;
                shares.push(via_gw.rate() / direct.rate().max(f64::MIN_POSITIVE));
                for (sum, m) in sums.iter_mut().zip([direct, via_gw, via_hop]) {
                    match sum {
                        Some(sum) => sum.absorb(m)?,
                        None => *sum = Some(m),
                    }
                }
            }
            anyhow::Ok((sums, shares))
        }
        .await;
        gateway.stop().await?;
        hop.stop().await?;
        let ([Some(direct), Some(via_gw), Some(via_hop)], shares) = rounds? else {
            anyhow::bail!("no gateway round was measured");
        };
        self.report.row(What::GetPaired, backend, &direct);
        self.report.row(What::Gateway, backend, &via_gw);
        self.report.row(What::PassThrough, backend, &via_hop);
        let shares: Vec<String> = shares
            .iter()
            .map(|s| format!("{:.1} %", s * 100.0))
            .collect();
        println!(
            "{:<18} {:<10} gateway ÷ direct per round: {}",
            "",
            backend,
            shares.join(", ")
        );
        Ok(())
    }

    /// Starts customer-profile from explicit configuration on a free loopback port.
    async fn start_service(&self, database_url: &str) -> anyhow::Result<Running> {
        let config = Config::from_values(serde_json::json!({
            "data_dir": self.dir.display().to_string(),
            "auth": {"issuer": ISSUER, "audience": AUDIENCE, "algorithm": "HS256", "hs256_secret": self.secret},
            "telemetry": {"log_filter": "warn"},
            "limits": {"shutdown_grace_secs": 2},
            "customer_profile": {"listen": "127.0.0.1:0", "database_url": database_url},
        }));
        let (trigger, shutdown) = shutdown_pair();
        let app = dossier_customer_profile::Application::build(
            &config,
            dossier_kit::clock::system(),
            shutdown,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let port = app.port();
        let task =
            tokio::spawn(async move { app.run_until_stopped().await.map_err(anyhow::Error::msg) });
        Ok(Running::new(port, trigger, task))
    }

    /// Starts the gateway in front of customer-profile at `upstream_port`, its own database (the
    /// audit log) a SQLite file, its rate limit out of the way.
    async fn start_gateway(&self, upstream_port: u16, backend: &str) -> anyhow::Result<Running> {
        let database = format!(
            "sqlite://{}?mode=rwc",
            self.dir.join(format!("gateway-{backend}.db")).display()
        );
        let config = Config::from_values(serde_json::json!({
            "data_dir": self.dir.display().to_string(),
            "auth": {"issuer": ISSUER, "audience": AUDIENCE, "algorithm": "HS256", "hs256_secret": self.secret},
            "telemetry": {"log_filter": "warn"},
            "limits": {"shutdown_grace_secs": 2},
            "gateway": {
                "listen": "127.0.0.1:0",
                "database_url": database,
                "upstreams": {"customer-profile": format!("http://127.0.0.1:{upstream_port}")},
                "rate_limit_per_second": 1.0e9,
                "rate_limit_burst": 1_000_000_000u64,
            },
        }));
        let (trigger, shutdown) = shutdown_pair();
        let app =
            dossier_gateway::Application::build(&config, dossier_kit::clock::system(), shutdown)
                .await
                .map_err(anyhow::Error::msg)?;
        let port = app.port();
        let task =
            tokio::spawn(async move { app.run_until_stopped().await.map_err(anyhow::Error::msg) });
        Ok(Running::new(port, trigger, task))
    }

    /// Creates the customer `GetCustomer` reads, through the API, and returns it as read back.
    async fn create_reference(&self, port: u16) -> anyhow::Result<Customer> {
        let mut client = CustomerServiceClient::with_interceptor(
            load::connect(port).await?,
            self.bearer.clone(),
        );
        let request = CreateCustomerRequest {
            customer: Some(self.template.clone()),
            request_id: "bench-reference".into(),
        };
        let created = client
            .create_customer(request)
            .await
            .context("creating the reference customer")?
            .into_inner();
        let stored = client
            .get_customer(GetCustomerRequest { id: created.id })
            .await
            .context("reading the reference customer")?
            .into_inner();
        anyhow::ensure!(
            stored.contacts.len() == CONTACTS,
            "the reference customer has {} contacts",
            stored.contacts.len()
        );
        Ok(stored)
    }
}

/// The kinds of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    /// The echo baseline.
    Echo,
    /// The bare one-row read baseline.
    BareRead,
    /// customer-profile's `GetCustomer`.
    Get,
    /// customer-profile's `CreateCustomer`.
    Create,
    /// `GetCustomer` direct again, measured in turn with the gateway (its rounds summed).
    GetPaired,
    /// `GetCustomer` through the gateway as a salesperson (masked).
    Gateway,
    /// `GetCustomer` through a bare HTTP/2 forwarder: the least any proxy hop costs.
    PassThrough,
}

impl What {
    /// The row's name.
    fn label(self) -> &'static str {
        match self {
            What::Echo => "echo (ceiling)",
            What::BareRead => "bare 1-row read",
            What::Get => "GetCustomer",
            What::Create => "CreateCustomer",
            What::GetPaired => "GetCustomer again",
            What::Gateway => "GetCustomer via gw",
            What::PassThrough => "  via bare hop",
        }
    }
}

/// The table being printed, and what later rows are compared with.
#[derive(Debug, Default)]
struct Report {
    /// Echo throughput.
    echo: Option<f64>,
    /// Bare read throughput of the backend being measured.
    bare: Option<f64>,
    /// Direct `GetCustomer` throughput of the backend being measured.
    direct: Option<f64>,
    /// Failed requests over all rows.
    errors: u64,
}

impl Report {
    /// Prints the build warning, the parameters, the target and the column titles.
    fn print_header(&self, args: &BenchArgs) {
        if cfg!(debug_assertions) {
            println!(
                "WARNING: this is a debug build; its figures mean little. Use `cargo run --release -- bench`."
            );
        }
        println!(
            "dossier bench: {} concurrent requests over {} HTTP/2 connections, {} s per measurement after {} s warmup",
            args.concurrency, args.connections, args.seconds, args.warmup
        );
        println!(
            "client and servers in this process on 127.0.0.1; compare the ratios, not the absolute figures"
        );
        println!(
            "target (issue): GetCustomer of a customer with {CONTACTS} contacts at ≥ 75 % of the bare one-row read at {TARGET_CONCURRENCY} concurrent streams"
        );
        println!(
            "target (gateway issue): GetCustomer via the gateway as a non-owning sales_rep (masked, audited) at ≥ 60 % of the direct call; its ratio is in the last column, beside a bare HTTP/2 hop (the floor of any proxy)"
        );
        if args.concurrency != TARGET_CONCURRENCY {
            println!(
                "  (this run uses {} concurrent requests: PASS/BELOW below is not the issue's condition)",
                args.concurrency
            );
        }
        println!();
        println!(
            "{:<18} {:<10} {:>9} {:>8} {:>8} {:>7} {:>8} {:>13}  target",
            "measurement",
            "backend",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "vs echo",
            "vs bare read",
        );
    }

    /// Prints one measurement with its ratios, and its first error when it had any.
    fn row(&mut self, what: What, backend: &str, m: &Measurement) {
        let rate = m.rate();
        match what {
            What::Echo => self.echo = Some(rate),
            What::BareRead => self.bare = Some(rate),
            What::Get | What::GetPaired => self.direct = Some(rate),
            _ => {}
        }
        // GetCustomer is judged against the bare read; through the gateway, against the
        // direct call of the same run (that column then reads "vs direct").
        let (vs_bare, target) = match what {
            What::Get => (ratio(rate, self.bare), TARGET),
            What::Gateway => (ratio(rate, self.direct), GATEWAY_TARGET),
            // No target of its own: the floor the gateway's figure is to be read against.
            What::PassThrough => (ratio(rate, self.direct), f64::NAN),
            _ => (None, 0.0),
        };
        let verdict = match vs_bare {
            _ if target.is_nan() => "  (floor)",
            Some(share) if share >= target => "  PASS",
            Some(_) => "  BELOW",
            None => "",
        };
        println!(
            "{:<18} {:<10} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>8} {:>13}{verdict}",
            what.label(),
            backend,
            rate,
            m.millis_at(0.5),
            m.millis_at(0.99),
            m.errors,
            percent(ratio(rate, self.echo)),
            percent(vs_bare),
        );
        if let Some(error) = &m.first_error {
            println!("{:<18} ! {} failed requests; first: {error}", "", m.errors);
        }
        self.errors += m.errors;
    }

    /// Fails when any request failed, so that a run with errors cannot pass for a clean one.
    fn finish(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.errors == 0,
            "{} requests failed during the benchmark (see the table)",
            self.errors
        );
        Ok(())
    }
}

/// `value ÷ base`, when there is a base.
fn ratio(value: f64, base: Option<f64>) -> Option<f64> {
    base.filter(|base| *base > 0.0).map(|base| value / base)
}

/// `73.4 %`, or `-`.
fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_owned(), |share| format!("{:.1} %", share * 100.0))
}
