//! `dossier up` and `dossier serve`.

use anyhow::{Context, bail};
use clap::Args;
use dossier_kit::config::Config;
use dossier_kit::server::ShutdownSignal;

use crate::services::{self, Started};

/// Options of `dossier up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Load the demo data once the services are up (skipped when already loaded).
    #[arg(long)]
    pub demo: bool,
    /// Data directory for the embedded databases and the development secret.
    #[arg(long, env = "DOSSIER_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

/// Options of `dossier serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service to run.
    pub service: String,
    /// Data directory (embedded databases, development secret).
    #[arg(long, env = "DOSSIER_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

fn with_data_dir(config: &Config, data_dir: Option<std::path::PathBuf>) -> Config {
    match data_dir {
        Some(dir) => config.clone().set("data_dir", dir.display().to_string()),
        None => config.clone(),
    }
}

/// Runs every service in this process until Ctrl-C.
pub async fn up(config: &Config, args: UpArgs) -> anyhow::Result<()> {
    let config = with_data_dir(config, args.data_dir);
    let common = config.common().map_err(anyhow::Error::msg)?;
    let _telemetry =
        dossier_kit::telemetry::init(&common.telemetry, "dossier").map_err(anyhow::Error::msg)?;
    let (trigger, shutdown) = ShutdownSignal::from_os();

    let mut started = Vec::new();
    let mut config = analytics_token(config, &common)?;
    for entry in services::SERVICES {
        let service = (entry.start)(
            config.clone(),
            dossier_kit::clock::system(),
            shutdown.clone(),
        )
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("starting {}", entry.name))?;
        // The gateway (started last) reaches each service where it actually listens, and the
        // services that ask customer-profile about customers ask this one.
        let at = format!("http://127.0.0.1:{}", service.port);
        config = config.set(&services::upstream_key(service.name), at.clone());
        if service.name == dossier_customer_profile::SERVICE_NAME {
            for section in services::CUSTOMER_PROFILE_CLIENTS {
                config = config.set(&format!("{section}.customer_profile_endpoint"), at.clone());
            }
        }
        if let Some((_, key)) = services::ANALYTICS_SOURCES
            .iter()
            .find(|(name, _)| *name == service.name)
        {
            config = config.set(
                &format!("{}.{key}", dossier_analytics::CONFIG_SECTION),
                at.clone(),
            );
        }
        started.push(service);
    }
    let mut metrics = Vec::new();
    for entry in services::SERVICES {
        metrics.extend(start_metrics(&config, entry.name, &shutdown).await?);
    }
    print_banner(&started, &metrics, &common.data_dir);

    let endpoints: Vec<(String, u16)> = started
        .iter()
        .map(|s| (s.name.to_owned(), s.port))
        .collect();
    let runs: Vec<_> = started.into_iter().map(|s| tokio::spawn(s.run)).collect();
    if args.demo {
        let port = endpoints
            .iter()
            .find(|(name, _)| name == dossier_customer_profile::SERVICE_NAME)
            .map(|(_, p)| *p);
        if let Some(port) = port {
            let endpoint = format!("http://127.0.0.1:{port}");
            match crate::commands::demo::load(
                &config,
                &endpoint,
                crate::commands::demo::DEFAULT_COUNT,
            )
            .await
            {
                Ok(summary) => {
                    println!("demo data: {summary}");
                    let at = |service: &str| {
                        endpoints
                            .iter()
                            .find(|(name, _)| name == service)
                            .map(|(_, port)| format!("http://127.0.0.1:{port}"))
                    };
                    if let Some(visits) = at(dossier_visit_journal::SERVICE_NAME) {
                        match crate::demo_visits::load(&config, &visits, &endpoint).await {
                            Ok(summary) => println!("demo visits: {summary}"),
                            Err(error) => eprintln!("demo visits not loaded: {error:#}"),
                        }
                    }
                    if let Some(complaints) = at(dossier_complaints::SERVICE_NAME) {
                        match crate::demo_complaints::load(&config, &endpoint, &complaints).await {
                            Ok(summary) => println!("demo complaints: {summary}"),
                            Err(error) => eprintln!("demo complaints not loaded: {error:#}"),
                        }
                    }
                    if let Some(contracts) = at(dossier_contract_receivables::SERVICE_NAME) {
                        match crate::demo_contract::load(&config, &endpoint, &contracts).await {
                            Ok(summary) => println!("demo contracts: {summary}"),
                            Err(error) => eprintln!("demo contracts not loaded: {error:#}"),
                        }
                    }
                    println!("demo users (dossier token --role <role> --sub <sub> --team <team>):");
                    for (sub, name, team) in crate::demo_data::demo_sales_reps() {
                        let role = if sub.starts_with("mgr-") {
                            "sales_manager"
                        } else {
                            "sales_rep"
                        };
                        println!("  {name:<4} --role {role} --sub {sub} --team {team}");
                    }
                }
                Err(error) => eprintln!("demo data not loaded: {error:#}"),
            }
        }
    }
    let mut failure = None;
    for run in runs {
        match run.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                failure.get_or_insert(error);
                trigger.fire();
            }
            Err(join) => {
                failure.get_or_insert(join.to_string());
                trigger.fire();
            }
        }
    }
    match failure {
        Some(error) => bail!(error),
        None => {
            println!("stopped");
            Ok(())
        }
    }
}

/// Gives analytics the service token its consumers present to the change feeds, unless one is
/// configured: a long-lived executive token minted with the development key (never printed).
fn analytics_token(
    config: Config,
    common: &dossier_kit::config::CommonSettings,
) -> anyhow::Result<Config> {
    let key = format!("{}.feed_token", dossier_analytics::CONFIG_SECTION);
    let settings: dossier_analytics::Settings = config
        .section(dossier_analytics::CONFIG_SECTION)
        .map_err(anyhow::Error::msg)?;
    if settings.feed_token.is_some() {
        return Ok(config);
    }
    let request = dossier_kit::auth::TokenRequest {
        sub: "svc-analytics".into(),
        name: "analytics".into(),
        role: dossier_kit::auth::Role::Executive,
        team: String::new(),
        scopes: Vec::new(),
        ttl: std::time::Duration::from_secs(10 * 365 * 86_400),
    };
    match common.auth.mint_dev_token(&common.data_dir, &request) {
        Ok(token) => Ok(config.set(&key, token)),
        Err(error) => {
            // With RS256/ES256 keys only the identity provider mints: configure
            // analytics.feed_token (DOSSIER_ANALYTICS_FEED_TOKEN) then.
            eprintln!("analytics: no feed token ({error}); set DOSSIER_ANALYTICS_FEED_TOKEN");
            Ok(config)
        }
    }
}

/// Runs one service until Ctrl-C.
pub async fn serve(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    let config = with_data_dir(config, args.data_dir);
    let entry = services::find(&args.service).with_context(|| {
        format!(
            "no service {:?}; one of {}",
            args.service,
            services::names()
        )
    })?;
    let common = config.common().map_err(anyhow::Error::msg)?;
    let _telemetry =
        dossier_kit::telemetry::init(&common.telemetry, entry.name).map_err(anyhow::Error::msg)?;
    let (_trigger, shutdown) = ShutdownSignal::from_os();
    let config = analytics_token(config, &common)?;
    let metrics = start_metrics(&config, entry.name, &shutdown).await?;
    let started = (entry.start)(config, dossier_kit::clock::system(), shutdown)
        .await
        .map_err(anyhow::Error::msg)?;
    print_banner(
        std::slice::from_ref(&started),
        metrics.as_slice(),
        &common.data_dir,
    );
    started.run.await.map_err(anyhow::Error::msg)
}

/// Starts the Prometheus endpoint of `service` when its section sets `metrics_listen`.
async fn start_metrics(
    config: &Config,
    service: &'static str,
    shutdown: &ShutdownSignal,
) -> anyhow::Result<Option<(&'static str, std::net::SocketAddr)>> {
    let section = service.replace('-', "_");
    let bound = dossier_kit::metrics::start(config, &section, shutdown.clone())
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("metrics endpoint of {service}"))?;
    Ok(bound.map(|address| (service, address)))
}

fn print_banner(
    started: &[Started],
    metrics: &[(&str, std::net::SocketAddr)],
    data_dir: &std::path::Path,
) {
    println!("Dossier is up.");
    for service in started {
        println!(
            "  {:<20} grpc://127.0.0.1:{}  ({})  db: {}",
            service.name, service.port, service.grpc_service, service.database
        );
    }
    for (service, address) in metrics {
        println!("  {service:<20} metrics http://{address}/metrics");
    }
    println!("Data directory: {}", data_dir.display());
    println!("Get a token:    dossier token --role archivist --sub $USER");
    // The gateway is the public endpoint when it runs; otherwise the one service started.
    let front = started
        .iter()
        .find(|s| s.name == dossier_gateway::SERVICE_NAME)
        .or(started.first());
    if let Some(front) = front {
        println!(
            "Try:            grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" 127.0.0.1:{} list",
            front.port
        );
    }
    println!("Stop with Ctrl-C.");
}
