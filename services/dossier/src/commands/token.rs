//! `dossier token`: mints a development token with the configured HS256 secret (the one
//! generated under the data directory when none is configured).

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use dossier_kit::auth::{Role, TokenRequest};
use dossier_kit::config::Config;

/// Options of `dossier token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Access level: sales_rep, customer_service, sales_manager, executive, finance, archivist,
    /// auditor or integration.
    #[arg(long)]
    pub role: String,
    /// Subject: the user or service-account id.
    #[arg(long)]
    pub sub: String,
    /// Sales team.
    #[arg(long, default_value = "")]
    pub team: String,
    /// Display name.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Scopes of an integration account, comma-separated (e.g. customers.basic,receivables).
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Lifetime, e.g. 30m, 1h, 7d.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Data directory holding the development secret.
    #[arg(long, env = "DOSSIER_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

/// Prints a token.
pub fn token(config: &Config, args: TokenArgs) -> anyhow::Result<()> {
    let config = match &args.data_dir {
        Some(dir) => config.clone().set("data_dir", dir.display().to_string()),
        None => config.clone(),
    };
    let common = config.common().map_err(anyhow::Error::msg)?;
    let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
    let request = TokenRequest {
        name: if args.name.is_empty() {
            args.sub.clone()
        } else {
            args.name
        },
        sub: args.sub,
        role,
        team: args.team,
        scopes: args.scopes,
        ttl: parse_ttl(&args.ttl).context("--ttl")?,
    };
    let token = common
        .auth
        .mint_dev_token(&common.data_dir, &request)
        .map_err(anyhow::Error::msg)?;
    println!("{token}");
    Ok(())
}

/// Parses `30s`, `15m`, `2h`, `7d`.
pub fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: u64 = number
        .parse()
        .with_context(|| format!("{text:?} should look like 30m, 1h or 7d"))?;
    let seconds = match unit {
        "s" | "" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        other => anyhow::bail!("unknown unit {other:?}; use s, m, h or d"),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn lifetimes_parse() {
        assert_eq!(parse_ttl("90").expect("ok").as_secs(), 90);
        assert_eq!(parse_ttl("15m").expect("ok").as_secs(), 900);
        assert_eq!(parse_ttl("7d").expect("ok").as_secs(), 604_800);
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
