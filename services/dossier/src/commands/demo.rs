//! `dossier demo`: loads realistic demo data through the public API (so it is validated,
//! versioned and on the change feed like any other data). Each record has a fixed request id, so
//! loading twice changes nothing.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use dossier_kit::auth::{Role, TokenRequest};
use dossier_kit::config::Config;
use dossier_proto::customer::CreateCustomerRequest;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use tonic::Code;

/// Customers loaded when no count is given.
pub const DEFAULT_COUNT: usize = 40;
/// Seed of the demo data: the same seed always gives the same customers.
const SEED: u64 = 2026;

/// Options of `dossier demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// customer-profile's address.
    #[arg(long, default_value = "http://127.0.0.1:50061")]
    pub endpoint: String,
    /// complaints' address (its demo complaints are loaded after the customers).
    #[arg(long, default_value = "http://127.0.0.1:50064")]
    pub complaints_endpoint: String,
    /// visit-journal's address (its demo plans, visits and journals).
    #[arg(long, default_value = "http://127.0.0.1:50062")]
    pub visit_endpoint: String,
    /// contract-receivables' address (its demo contracts, deliveries and payments).
    #[arg(long, default_value = "http://127.0.0.1:50063")]
    pub contract_endpoint: String,
    /// How many customers.
    #[arg(long, default_value_t = DEFAULT_COUNT)]
    pub count: usize,
    /// Data directory holding the development secret.
    #[arg(long, env = "DOSSIER_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

/// Loads the demo data into a running system.
pub async fn demo(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    let config = match &args.data_dir {
        Some(dir) => config.clone().set("data_dir", dir.display().to_string()),
        None => config.clone(),
    };
    let summary = load(&config, &args.endpoint, args.count).await?;
    println!("{summary}");
    let complaints =
        crate::demo_complaints::load(&config, &args.endpoint, &args.complaints_endpoint).await?;
    println!("{complaints}");
    println!(
        "{}",
        crate::demo_visits::load(&config, &args.visit_endpoint, &args.endpoint).await?
    );
    let summary =
        crate::demo_contract::load(&config, &args.endpoint, &args.contract_endpoint).await?;
    println!("{summary}");
    Ok(())
}

/// Loads `count` demo customers through `endpoint`; returns a one-line summary.
pub async fn load(config: &Config, endpoint: &str, count: usize) -> anyhow::Result<String> {
    let common = config.common().map_err(anyhow::Error::msg)?;
    let archivist = TokenRequest {
        sub: "arch-chenjing".into(),
        name: "陈静".into(),
        role: Role::Archivist,
        team: String::new(),
        scopes: vec![],
        ttl: Duration::from_secs(600),
    };
    let token = common
        .auth
        .mint_dev_token(&common.data_dir, &archivist)
        .map_err(anyhow::Error::msg)?;
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().context("token header")?;
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .context("endpoint")?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach customer-profile at {endpoint}"))?;
    let mut client =
        CustomerServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
            Ok(request)
        });
    let (mut created, mut present) = (0, 0);
    for (index, customer) in crate::demo_data::demo_customers(count, SEED)
        .into_iter()
        .enumerate()
    {
        let request = CreateCustomerRequest {
            customer: Some(customer),
            request_id: format!("demo-{SEED}-{index}"),
        };
        match client.create_customer(request).await {
            Ok(_) => created += 1,
            // Loaded before by another run (same request id, or the credit code is on file).
            Err(status) if status.code() == Code::AlreadyExists => present += 1,
            Err(status) => anyhow::bail!(
                "demo customer {index}: {}: {}",
                status.code(),
                status.message()
            ),
        }
    }
    Ok(format!(
        "{count} demo customers ({created} written, {present} already there) at {endpoint}"
    ))
}
