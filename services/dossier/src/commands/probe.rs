//! `dossier probe`: asks a server over the gRPC health protocol (`grpc.health.v1.Health/Check`)
//! whether it is SERVING and succeeds only then. It is the container health check: the image
//! needs no separately downloaded probe binary, and the answer is the server's own (a service
//! draining for shutdown reports NOT_SERVING before it stops accepting calls).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use dossier_kit::config::Config;
use serde::{Deserialize, Serialize};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::services;

/// Options of `dossier probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Address to ask, host:port. Default: where the service named by --service listens (its
    /// configured `listen`; an unspecified address such as 0.0.0.0 is asked on loopback).
    #[arg(long)]
    pub addr: Option<String>,
    /// A Dossier service (e.g. customer-profile: the address and the gRPC service to ask about
    /// come from the configuration) or a full gRPC service name (e.g.
    /// dossier.customer.v1.CustomerService). Without it the server as a whole is asked about.
    #[arg(long)]
    pub service: Option<String>,
    /// Seconds to wait for the connection and for the answer, each.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

/// What to ask where.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// `host:port`.
    address: String,
    /// The gRPC service name asked about; empty for the whole server.
    grpc_service: String,
}

/// Only the `listen` key of a service section.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ListenOnly {
    listen: Option<String>,
}

/// Exits 0 when the server answers SERVING; fails otherwise (exit code 1).
pub async fn probe(config: &Config, args: ProbeArgs) -> anyhow::Result<()> {
    let target = resolve(config, &args)?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", target.address))
        .with_context(|| format!("address {:?}", target.address))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .with_context(|| format!("{}: cannot connect", target.address))?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: target.grpc_service.clone(),
        })
        .await;
    let what = if target.grpc_service.is_empty() {
        target.address.clone()
    } else {
        format!("{} {}", target.address, target.grpc_service)
    };
    let status = match answer {
        Ok(response) => response.into_inner().status,
        Err(status) => bail!("{what}: {} ({})", status.message(), status.code()),
    };
    match ServingStatus::try_from(status) {
        Ok(ServingStatus::Serving) => {
            println!("{what}: SERVING");
            Ok(())
        }
        Ok(other) => bail!("{what}: {}", other.as_str_name()),
        Err(_) => bail!("{what}: unknown status {status}"),
    }
}

/// Works out the address and the gRPC service name from the options and the configuration.
fn resolve(config: &Config, args: &ProbeArgs) -> anyhow::Result<Target> {
    let entry = args.service.as_deref().and_then(services::find);
    match (entry, &args.addr) {
        (Some(entry), Some(address)) => Ok(Target {
            address: address.clone(),
            grpc_service: entry.grpc_service.to_owned(),
        }),
        (Some(entry), None) => {
            let configured: ListenOnly =
                config.section(entry.section).map_err(anyhow::Error::msg)?;
            let listen = configured
                .listen
                .unwrap_or_else(|| entry.default_listen.to_owned());
            let listen: SocketAddr = listen
                .parse()
                .with_context(|| format!("{}.listen {listen:?} is not host:port", entry.section))?;
            Ok(Target {
                address: reachable(listen).to_string(),
                grpc_service: entry.grpc_service.to_owned(),
            })
        }
        (None, Some(address)) => Ok(Target {
            address: address.clone(),
            grpc_service: args.service.clone().unwrap_or_default(),
        }),
        (None, None) => bail!(
            "give --addr host:port, or --service with one of {} to take its configured address",
            services::names()
        ),
    }
}

/// A listen address as a client reaches it from the same host: 0.0.0.0 and [::] mean every
/// interface, loopback among them.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port())
        }
        _ => listen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(addr: Option<&str>, service: Option<&str>) -> ProbeArgs {
        ProbeArgs {
            addr: addr.map(str::to_owned),
            service: service.map(str::to_owned),
            timeout: 3,
        }
    }

    #[test]
    fn a_dossier_service_is_asked_where_it_is_configured_to_listen() {
        let config = Config::from_values(serde_json::json!({
            "customer_profile": {"listen": "0.0.0.0:7001"},
        }));
        let target = resolve(&config, &args(None, Some("customer-profile"))).expect("resolves");
        assert_eq!(
            target,
            Target {
                address: "127.0.0.1:7001".into(),
                grpc_service: dossier_customer_profile::GRPC_SERVICE.into(),
            }
        );
    }

    #[test]
    fn an_unconfigured_service_is_asked_at_its_default_address() {
        let config = Config::from_values(serde_json::json!({}));
        let target = resolve(&config, &args(None, Some("complaints"))).expect("resolves");
        assert_eq!(target.address, dossier_complaints::DEFAULT_LISTEN);
        assert_eq!(target.grpc_service, dossier_complaints::GRPC_SERVICE);
    }

    #[test]
    fn an_explicit_address_wins_and_other_names_are_asked_verbatim() {
        let config = Config::from_values(serde_json::json!({
            "gateway": {"listen": "0.0.0.0:7002"},
        }));
        let target = resolve(&config, &args(Some("gw:50051"), Some("gateway"))).expect("resolves");
        assert_eq!(target.address, "gw:50051");
        assert_eq!(target.grpc_service, dossier_gateway::GRPC_SERVICE);
        let target = resolve(&config, &args(Some("h:1"), Some("x.y.Z"))).expect("resolves");
        assert_eq!(target.grpc_service, "x.y.Z");
        let target = resolve(&config, &args(Some("h:1"), None)).expect("resolves");
        assert_eq!(target.grpc_service, "");
    }

    #[test]
    fn without_an_address_the_service_must_be_known() {
        let config = Config::from_values(serde_json::json!({}));
        assert!(resolve(&config, &args(None, None)).is_err());
        assert!(resolve(&config, &args(None, Some("x.y.Z"))).is_err());
        let config = Config::from_values(serde_json::json!({"gateway": {"listen": "nowhere"}}));
        assert!(resolve(&config, &args(None, Some("gateway"))).is_err());
    }

    #[test]
    fn unspecified_addresses_are_asked_on_loopback() {
        let v6: SocketAddr = "[::]:9".parse().expect("addr");
        assert_eq!(reachable(v6).to_string(), "[::1]:9");
        let other: SocketAddr = "10.1.2.3:9".parse().expect("addr");
        assert_eq!(reachable(other), other);
    }
}
