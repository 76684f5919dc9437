//! What the code says: the services the binary runs, the configuration keys their settings
//! types have (and which are secrets), the addresses a configuration names.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::services;

/// The analytics service: one replica, and the holder of the feed token.
pub const ANALYTICS: &str = dossier_analytics::SERVICE_NAME;

/// Keys that hold secrets: their settings types never serialise them (checked below), and the
/// deployment files may give them only by reference.
pub const SECRET_KEYS: &[(&str, &str)] = &[("auth", "hs256_secret"), (ANALYTICS, "feed_token")];

/// Every service section has a secret database URL.
pub const DATABASE_URL: &str = "database_url";

/// The Prometheus port key each service section gets with the metrics work (issue 8, branch
/// `observe`). Accepted in every service section only while no settings type has a metrics key
/// at all: once that work has landed, the key must come from the types like every other.
pub const METRICS_LISTEN: &str = "metrics_listen";

// ---- what the code says ----------------------------------------------------------------------

/// A service the deployment runs, as the code describes it.
#[derive(Debug, Clone)]
pub struct Known {
    pub name: String,
    pub section: String,
    pub grpc_service: String,
}

/// The services the binary runs, plus analytics while it is routed but not yet in the table.
pub fn known_services() -> BTreeMap<String, Known> {
    let pool = dossier_proto::descriptor_pool();
    let mut known: BTreeMap<String, Known> = services::SERVICES
        .iter()
        .map(|entry| {
            (
                entry.name.to_owned(),
                Known {
                    name: entry.name.to_owned(),
                    section: entry.section.to_owned(),
                    grpc_service: entry.grpc_service.to_owned(),
                },
            )
        })
        .collect();
    if !known.contains_key(ANALYTICS) {
        let (package, _) = dossier_gateway::routing::PACKAGE_OWNERS
            .iter()
            .find(|(_, owner)| *owner == ANALYTICS)
            .expect("the gateway routes a package to analytics");
        let service = pool
            .services()
            .find(|s| s.package_name() == *package)
            .expect("the analytics contract has a service");
        known.insert(
            ANALYTICS.to_owned(),
            Known {
                name: ANALYTICS.to_owned(),
                section: ANALYTICS.to_owned(),
                grpc_service: service.full_name().to_owned(),
            },
        );
    }
    known
}

pub fn serialized_keys<T: serde::Serialize>(value: &T) -> BTreeSet<String> {
    match serde_json::to_value(value).expect("settings serialise") {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("settings are not a mapping: {other}"),
    }
}

/// Configuration keys by section, from the settings types; and which of them are secrets.
pub struct Keys {
    pub by_section: BTreeMap<String, BTreeSet<String>>,
    pub secrets: BTreeSet<(String, String)>,
}

impl Keys {
    pub fn from_code() -> Self {
        use dossier_kit::config::{AuthSettings, LimitSettings, TelemetrySettings};
        let mut by_section: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        by_section.insert("auth".into(), serialized_keys(&AuthSettings::default()));
        by_section.insert(
            "telemetry".into(),
            serialized_keys(&TelemetrySettings::default()),
        );
        by_section.insert("limits".into(), serialized_keys(&LimitSettings::default()));
        let services = [
            (
                dossier_customer_profile::CONFIG_SECTION,
                serialized_keys(&dossier_customer_profile::Settings::default()),
            ),
            (
                dossier_visit_journal::CONFIG_SECTION,
                serialized_keys(&dossier_visit_journal::Settings::default()),
            ),
            (
                dossier_contract_receivables::CONFIG_SECTION,
                serialized_keys(&dossier_contract_receivables::Settings::default()),
            ),
            (
                dossier_complaints::CONFIG_SECTION,
                serialized_keys(&dossier_complaints::Settings::default()),
            ),
            (
                dossier_analytics::CONFIG_SECTION,
                serialized_keys(&dossier_analytics::Settings::default()),
            ),
            (
                dossier_gateway::CONFIG_SECTION,
                serialized_keys(&dossier_gateway::Settings::default()),
            ),
        ];
        let mut secrets = BTreeSet::new();
        let metrics_landed = services
            .iter()
            .any(|(_, keys)| keys.iter().any(|k| k.contains("metrics")));
        for (section, keys) in services {
            by_section.insert(section.into(), keys);
        }
        for section in known_services().values().map(|k| k.section.clone()) {
            let keys = by_section
                .get_mut(&section)
                .unwrap_or_else(|| panic!("no settings for section {section}"));
            // A secret is exactly what the type does not serialise: if a database URL ever
            // serialised, it could reach a log or a debug dump.
            assert!(
                !keys.contains(DATABASE_URL),
                "{section}.{DATABASE_URL} must not serialise"
            );
            keys.insert(DATABASE_URL.into());
            if !metrics_landed {
                keys.insert(METRICS_LISTEN.into());
            }
            secrets.insert((section.clone(), DATABASE_URL.to_owned()));
        }
        for (section, key) in SECRET_KEYS {
            let keys = by_section.get_mut(*section).expect("section");
            assert!(!keys.contains(*key), "{section}.{key} must not serialise");
            keys.insert((*key).to_owned());
            secrets.insert(((*section).to_owned(), (*key).to_owned()));
        }
        Self {
            by_section,
            secrets,
        }
    }

    /// `DOSSIER_CUSTOMER_PROFILE_DATABASE_URL` → `("customer_profile", "database_url")`, as the
    /// kit maps environment names; `None` for the top-level `DOSSIER_DATA_DIR`.
    pub fn parse_env(&self, name: &str) -> Option<(String, String)> {
        let rest = name
            .strip_prefix("DOSSIER_")
            .unwrap_or_else(|| panic!("{name}: not a DOSSIER_ variable"))
            .to_ascii_lowercase();
        if rest == "data_dir" || rest == "config" {
            return None;
        }
        let (section, key) = self
            .by_section
            .keys()
            .filter_map(|section| {
                rest.strip_prefix(section.as_str())
                    .and_then(|r| r.strip_prefix('_'))
                    .map(|key| (section.clone(), key.to_owned()))
            })
            .max_by_key(|(section, _)| section.len())
            .unwrap_or_else(|| panic!("{name}: no configuration section"));
        assert!(
            self.by_section[&section].contains(&key),
            "{name}: {section} has no key {key:?}; it has {:?}",
            self.by_section[&section]
        );
        Some((section, key))
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.parse_env(name)
            .is_some_and(|pair| self.secrets.contains(&pair))
    }
}

/// The host and port of `http://host:port`.
pub fn host_port(url: &str) -> (String, u16) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{url}: not http://"));
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{url}: no port"));
    (
        host.to_owned(),
        port.parse().unwrap_or_else(|_| panic!("{url}: bad port")),
    )
}

pub fn listen_port(listen: &str) -> u16 {
    listen
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{listen}: not host:port"))
}

/// The gateway's upstream map as figment reads `DOSSIER_GATEWAY_UPSTREAMS`: an inline table
/// `{name="http://host:port", …}`.
pub fn inline_table(value: &str) -> BTreeMap<String, String> {
    let inner = value
        .trim()
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or_else(|| panic!("{value}: not {{…}}"));
    inner
        .split(',')
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("{pair}: not key=value"));
            (
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            )
        })
        .collect()
}

/// Which services a service calls, from its endpoint settings.
pub fn calls(
    section: &str,
    env: &BTreeMap<String, String>,
    known: &BTreeMap<String, Known>,
) -> BTreeMap<String, (String, u16)> {
    let mut calls = BTreeMap::new();
    for (name, value) in env {
        let prefix = format!("DOSSIER_{}_", section.to_ascii_uppercase());
        let Some(key) = name.strip_prefix(&prefix) else {
            continue;
        };
        if key == "UPSTREAMS" {
            for (service, url) in inline_table(value) {
                calls.insert(service, host_port(&url));
            }
        } else if let Some(target) = key.strip_suffix("_ENDPOINT") {
            let service = known
                .values()
                .find(|k| k.section.eq_ignore_ascii_case(target))
                .unwrap_or_else(|| panic!("{name}: names no service"));
            calls.insert(service.name.clone(), host_port(value));
        }
    }
    calls
}
