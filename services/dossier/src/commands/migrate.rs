//! `dossier migrate`: creates or upgrades the databases (services also do it at start).

use anyhow::Context;
use clap::Args;
use dossier_kit::config::{Config, database_url_or_default, redact_url};

/// Options of `dossier migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only this service (default: all).
    pub service: Option<String>,
    /// Data directory of the embedded databases.
    #[arg(long, env = "DOSSIER_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

/// Runs the migrations.
pub async fn migrate(config: &Config, args: MigrateArgs) -> anyhow::Result<()> {
    let config = match &args.data_dir {
        Some(dir) => config.clone().set("data_dir", dir.display().to_string()),
        None => config.clone(),
    };
    let common = config.common().map_err(anyhow::Error::msg)?;
    if let Some(name) = &args.service
        && crate::services::find(name).is_none()
    {
        anyhow::bail!("no service {name:?}; one of {}", crate::services::names());
    }
    let wanted = |name: &str| args.service.as_deref().is_none_or(|s| s == name);
    if wanted(dossier_customer_profile::SERVICE_NAME) {
        let settings: dossier_customer_profile::Settings = config
            .section(dossier_customer_profile::CONFIG_SECTION)
            .map_err(anyhow::Error::msg)?;
        let url = database_url_or_default(
            settings.database_url.as_ref(),
            &common.data_dir,
            dossier_customer_profile::DATABASE_FILE,
        );
        dossier_kit::db::connect_and_migrate::<dossier_customer_profile::store::migration::Migrator>(&url)
            .await
            .with_context(|| format!("migrating {}", redact_url(&url)))?;
        println!(
            "{:<20} up to date  ({})",
            dossier_customer_profile::SERVICE_NAME,
            redact_url(&url)
        );
    }
    Ok(())
}
