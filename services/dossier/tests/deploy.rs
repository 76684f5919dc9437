//! The deployment files in `deploy/` read the way the tools read them (no Docker engine or
//! cluster runs here): the compose file, the PostgreSQL init script, the Kubernetes manifests and
//! the Dockerfile, checked against what the code says — the services the binary knows
//! (`services::SERVICES`), the configuration keys their settings types have, the secrets those
//! types keep out of serialisation, the gRPC services the health protocol reports, and which
//! service calls which. Finally each service is started with the compose and with the Kubernetes
//! configuration (on this machine's database and ports) and must answer SERVING.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

// The binary's own table of services, so a service the binary does not know fails here.
#[allow(dead_code)]
#[path = "../src/services.rs"]
mod services;

/// The analytics service is deployed but is not on this branch's table yet; it is accepted while
/// the gateway routes a package to it. Once it is in `services::SERVICES` this changes nothing.
const ANALYTICS: &str = "analytics";

/// Keys of the analytics section, until its settings type is in the workspace (issue 7).
const ANALYTICS_KEYS: &[&str] = &[
    "listen",
    "customer_profile_endpoint",
    "visit_journal_endpoint",
    "contract_receivables_endpoint",
    "complaints_endpoint",
];

/// Keys that hold secrets: their settings types never serialise them (checked below), and the
/// deployment files may give them only by reference.
const SECRET_KEYS: &[(&str, &str)] = &[("auth", "hs256_secret"), (ANALYTICS, "feed_token")];

/// Every service section has a secret database URL.
const DATABASE_URL: &str = "database_url";

/// The Prometheus port key each service section gets with the metrics work (issue 8, branch
/// `observe`). Accepted in every service section only while no settings type has a metrics key
/// at all: once that work has landed, the key must come from the types like every other.
const METRICS_LISTEN: &str = "metrics_listen";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of a file, merge keys (`<<: *anchor`) applied, as JSON values.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| {
            let mut value = serde_norway::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            value
                .apply_merge()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::to_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn yaml(path: &Path) -> Value {
    let mut documents = yaml_documents(path);
    assert_eq!(documents.len(), 1, "{}: one document", path.display());
    documents.remove(0)
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

fn map_of<'a>(value: &'a Value, what: &str) -> &'a serde_json::Map<String, Value> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not a mapping: {value}"))
}

fn list_of<'a>(value: &'a Value, what: &str) -> &'a Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not a list: {value}"))
}

// ---- what the code says ----------------------------------------------------------------------

/// A service the deployment runs, as the code describes it.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    section: String,
    grpc_service: String,
}

/// The services the binary runs, plus analytics while it is routed but not yet in the table.
fn known_services() -> BTreeMap<String, Known> {
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

fn serialized_keys<T: serde::Serialize>(value: &T) -> BTreeSet<String> {
    match serde_json::to_value(value).expect("settings serialise") {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("settings are not a mapping: {other}"),
    }
}

/// Configuration keys by section, from the settings types; and which of them are secrets.
struct Keys {
    by_section: BTreeMap<String, BTreeSet<String>>,
    secrets: BTreeSet<(String, String)>,
}

impl Keys {
    fn from_code() -> Self {
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
        by_section
            .entry(ANALYTICS.into())
            .or_insert_with(|| ANALYTICS_KEYS.iter().map(|k| (*k).to_owned()).collect());
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
            if !metrics_landed || section == ANALYTICS {
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
    fn parse_env(&self, name: &str) -> Option<(String, String)> {
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

    fn is_secret(&self, name: &str) -> bool {
        self.parse_env(name)
            .is_some_and(|pair| self.secrets.contains(&pair))
    }
}

/// The host and port of `http://host:port`.
fn host_port(url: &str) -> (String, u16) {
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

fn listen_port(listen: &str) -> u16 {
    listen
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{listen}: not host:port"))
}

/// The gateway's upstream map as figment reads `DOSSIER_GATEWAY_UPSTREAMS`: an inline table
/// `{name="http://host:port", …}`.
fn inline_table(value: &str) -> BTreeMap<String, String> {
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
fn calls(
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

// ---- compose ---------------------------------------------------------------------------------

struct Compose {
    services: serde_json::Map<String, Value>,
}

impl Compose {
    fn load() -> Self {
        let file = yaml(&deploy_dir().join("docker-compose.yml"));
        Self {
            services: map_of(&file["services"], "services").clone(),
        }
    }

    /// The Dossier containers: compose name → the service their command serves.
    fn dossier(&self) -> BTreeMap<String, String> {
        self.services
            .iter()
            .filter_map(|(name, spec)| {
                let command = spec["command"].as_array()?;
                (command.first()?.as_str()? == "serve").then(|| {
                    assert_eq!(command.len(), 2, "{name}: command is `serve <service>`");
                    (name.clone(), str_of(&command[1], "service").to_owned())
                })
            })
            .collect()
    }

    fn env(&self, name: &str) -> BTreeMap<String, String> {
        map_of(&self.services[name]["environment"], "environment")
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()
    }
}

/// `${NAME}`, `${NAME:?message}`, `${NAME:-default}` → `NAME`, for each reference in `text`.
fn references(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .map(|rest| {
            rest.split(['}', ':', '-', '?'])
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// `create_database <name> "${PASSWORD_VAR:-}"` lines of the init script: name → variable.
fn init_script_databases() -> BTreeMap<String, String> {
    let script = read(&deploy_dir().join("postgres/init-databases.sh"));
    script
        .lines()
        .filter_map(|line| line.strip_prefix("create_database "))
        .map(|rest| {
            let (name, password) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("{rest}: create_database <name> <password>"));
            let variable = references(password)
                .pop()
                .unwrap_or_else(|| panic!("{rest}: password from the environment"));
            (name.to_owned(), variable)
        })
        .collect()
}

#[test]
fn every_compose_service_is_one_the_binary_serves() {
    let known = known_services();
    let compose = Compose::load();
    let served: BTreeSet<String> = compose.dossier().into_values().collect();
    let expected: BTreeSet<String> = known.keys().cloned().collect();
    assert_eq!(served, expected, "every service runs, each once");
    for (container, service) in compose.dossier() {
        assert_eq!(container, service, "a container is named after its service");
    }
}

#[test]
fn each_compose_service_has_its_own_database_created_by_the_init_script() {
    let known = known_services();
    let compose = Compose::load();
    let created = init_script_databases();
    let postgres_env = compose.env("postgres");
    let mut used = BTreeSet::new();
    for (container, service) in compose.dossier() {
        let section = &known[&service].section;
        let env = compose.env(&container);
        let key = format!("DOSSIER_{}_DATABASE_URL", section.to_ascii_uppercase());
        let url = env
            .get(&key)
            .unwrap_or_else(|| panic!("{container}: no {key}"));
        // postgres://<role>:${PASSWORD}@postgres:5432/<database>
        let rest = url
            .strip_prefix("postgres://")
            .unwrap_or_else(|| panic!("{container}: {url} is not PostgreSQL"));
        let (userinfo, location) = rest.split_once('@').expect("user@host");
        let (role, password) = userinfo.split_once(':').expect("role:password");
        let (host, database) = location.split_once('/').expect("host/database");
        assert_eq!(host, "postgres:5432", "{container}: the compose database");
        assert_eq!(database, section, "{container}: the database of its own");
        assert_eq!(role, section, "{container}: a role of its own");
        assert!(used.insert(database.to_owned()), "{database} shared");
        let variable = references(password)
            .pop()
            .unwrap_or_else(|| panic!("{container}: the password is a literal in {url}"));
        assert_eq!(
            created.get(database),
            Some(&variable),
            "{container}: the init script creates {database} with the password in ${variable}"
        );
        assert!(
            references(postgres_env.get(&variable).map_or("", String::as_str)).contains(&variable),
            "postgres gets ${variable} for the init script"
        );
    }
    let created: BTreeSet<String> = created.into_keys().collect();
    assert_eq!(
        created, used,
        "the init script creates what the services use"
    );
    let postgres = &compose.services["postgres"];
    assert!(
        list_of(&postgres["volumes"], "volumes").iter().any(|v| {
            str_of(v, "volume")
                .starts_with("./postgres/init-databases.sh:/docker-entrypoint-initdb.d/")
        }),
        "the init script is mounted where the postgres image runs it"
    );
}

#[test]
fn the_gateway_is_the_only_published_port() {
    let compose = Compose::load();
    let publishing: Vec<&String> = compose
        .services
        .iter()
        .filter(|(_, spec)| spec.get("ports").is_some())
        .map(|(name, _)| name)
        .collect();
    assert_eq!(publishing, ["gateway"]);
    let listen = compose.env("gateway")["DOSSIER_GATEWAY_LISTEN"].clone();
    let ports = list_of(&compose.services["gateway"]["ports"], "ports");
    assert_eq!(ports.len(), 1);
    let published = str_of(&ports[0], "port");
    assert_eq!(
        published
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok()),
        Some(listen_port(&listen)),
        "the published port is where the gateway listens"
    );
    // The opt-in UI file publishes Jaeger's UI on loopback only.
    let ui = yaml(&deploy_dir().join("compose.ui.yml"));
    for (name, spec) in map_of(&ui["services"], "services") {
        for port in spec["ports"].as_array().into_iter().flatten() {
            assert!(
                str_of(port, "port").starts_with("127.0.0.1:"),
                "{name}: {port} is published beyond this host"
            );
        }
    }
}

#[test]
fn every_dossier_image_builds_from_the_dockerfile_and_checks_its_health() {
    let compose = Compose::load();
    let deploy = deploy_dir();
    let mut images = BTreeSet::new();
    for (container, service) in compose.dossier() {
        let spec = &compose.services[&container];
        let context = deploy.join(str_of(&spec["build"]["context"], "build.context"));
        let dockerfile = context.join(str_of(&spec["build"]["dockerfile"], "build.dockerfile"));
        assert!(
            context.join("Cargo.toml").exists() && context.join("Cargo.lock").exists(),
            "{container}: builds from the workspace root"
        );
        assert_eq!(
            dockerfile.canonicalize().expect("Dockerfile exists"),
            deploy
                .join("Dockerfile")
                .canonicalize()
                .expect("deploy/Dockerfile"),
            "{container}: builds deploy/Dockerfile"
        );
        images.insert(str_of(&spec["image"], "image").to_owned());
        let test: Vec<&str> = list_of(&spec["healthcheck"]["test"], "healthcheck.test")
            .iter()
            .map(|v| str_of(v, "test"))
            .collect();
        assert_eq!(
            test,
            ["CMD", "dossier", "probe", "--service", service.as_str()],
            "{container}: gRPC health of its own service"
        );
    }
    assert_eq!(images.len(), 1, "one image for every service: {images:?}");
    for (name, spec) in &compose.services {
        if !compose.dossier().contains_key(name) {
            assert!(spec.get("build").is_none(), "{name} is not built here");
        }
    }
}

#[test]
fn compose_services_find_each_other_where_they_listen() {
    let known = known_services();
    let compose = Compose::load();
    let containers = compose.dossier();
    let listen_of = |service: &str| {
        let section = known[service].section.to_ascii_uppercase();
        listen_port(&compose.env(service)[&format!("DOSSIER_{section}_LISTEN")])
    };
    for (container, service) in &containers {
        let env = compose.env(container);
        let listen = &env[&format!(
            "DOSSIER_{}_LISTEN",
            known[service].section.to_ascii_uppercase()
        )];
        assert!(
            listen.starts_with("0.0.0.0:"),
            "{container}: listens beyond its container"
        );
        for (target, (host, port)) in calls(&known[service].section, &env, &known) {
            assert!(
                containers.contains_key(&host),
                "{container}: {host} is no container"
            );
            assert_eq!(
                containers[&host], target,
                "{container}: {host} serves {target}"
            );
            assert_eq!(port, listen_of(&target), "{container}: {target}'s port");
        }
    }
    // The gateway knows every service it routes a package to.
    let gateway = calls("gateway", &compose.env("gateway"), &known);
    for (_, owner) in dossier_gateway::routing::PACKAGE_OWNERS {
        assert!(
            gateway.contains_key(*owner),
            "the gateway has no upstream {owner}"
        );
    }
}

#[test]
fn compose_secrets_come_from_the_uncommitted_env_file() {
    let keys = Keys::from_code();
    let compose_text = read(&deploy_dir().join("docker-compose.yml"));
    let example = read(&deploy_dir().join(".env.example"));
    let offered: BTreeSet<&str> = example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    for variable in references(&compose_text) {
        assert!(
            offered.contains(variable.as_str()),
            "${variable} is not in deploy/.env.example"
        );
    }
    let compose = Compose::load();
    for (container, _) in compose.dossier() {
        for (name, value) in compose.env(&container) {
            if keys.is_secret(&name) {
                let literal = value.replace("${", "").len() == value.len();
                assert!(!literal, "{container}: {name} is a literal");
                if name.ends_with("_DATABASE_URL") {
                    assert!(value.contains(":${"), "{container}: the password of {name}");
                }
            }
        }
    }
    let ignored = read(&deploy_dir().join("../.gitignore"));
    assert!(
        ignored
            .lines()
            .any(|l| l.trim() == ".env" || l.trim() == "deploy/.env"),
        ".env is ignored by git"
    );
}

#[test]
fn every_configuration_variable_in_the_deployment_is_a_real_key() {
    let keys = Keys::from_code();
    let compose = Compose::load();
    let mut checked = 0;
    for name in compose.services.keys() {
        if !compose.dossier().contains_key(name) {
            continue;
        }
        for variable in compose.env(name).keys() {
            keys.parse_env(variable);
            checked += 1;
        }
    }
    for document in k8s_documents() {
        match document["kind"].as_str() {
            Some("ConfigMap") => {
                for variable in map_of(&document["data"], "data").keys() {
                    if variable.starts_with("DOSSIER_") {
                        keys.parse_env(variable);
                        checked += 1;
                    }
                }
            }
            Some("Deployment") => {
                for container in containers(&document) {
                    for entry in container["env"].as_array().into_iter().flatten() {
                        keys.parse_env(str_of(&entry["name"], "env name"));
                        checked += 1;
                    }
                }
            }
            _ => {}
        }
    }
    assert!(checked > 50, "only {checked} variables found");
}

// ---- Kubernetes ------------------------------------------------------------------------------

fn k8s_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir().join("k8s"))
        .expect("deploy/k8s")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    files
}

fn k8s_documents() -> Vec<Value> {
    k8s_files().iter().flat_map(|p| yaml_documents(p)).collect()
}

fn containers(deployment: &Value) -> &Vec<Value> {
    list_of(
        &deployment["spec"]["template"]["spec"]["containers"],
        "containers",
    )
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn named<'a>(documents: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    of_kind(documents, kind)
        .into_iter()
        .find(|d| d["metadata"]["name"].as_str() == Some(name))
}

/// Whether `selector` (matchLabels, or a plain label map) selects pods labelled `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let wanted = selector.get("matchLabels").unwrap_or(selector);
    // A peer without a pod selector (a namespace or an address block) selects no pod by name.
    wanted.as_object().is_some_and(|wanted| {
        !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
    })
}

/// The environment a Deployment's container sees from its ConfigMaps.
fn configured_env(documents: &[Value], container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let name = str_of(&source["configMapRef"]["name"], "configMapRef");
        let map =
            named(documents, "ConfigMap", name).unwrap_or_else(|| panic!("no ConfigMap {name}"));
        for (k, v) in map_of(&map["data"], "data") {
            env.insert(k.clone(), str_of(v, k).to_owned());
        }
    }
    env
}

#[test]
fn every_service_has_a_deployment_and_a_service_with_grpc_probes_and_resources() {
    let known = known_services();
    let documents = k8s_documents();
    let deployments = of_kind(&documents, "Deployment");
    let served: BTreeSet<String> = deployments
        .iter()
        .map(|d| {
            let args: Vec<&str> = list_of(&containers(d)[0]["args"], "args")
                .iter()
                .map(|a| str_of(a, "arg"))
                .collect();
            assert_eq!(args.len(), 2, "args are serve <service>");
            assert_eq!(args[0], "serve");
            assert_eq!(d["metadata"]["name"].as_str(), Some(args[1]));
            args[1].to_owned()
        })
        .collect();
    assert_eq!(served, known.keys().cloned().collect::<BTreeSet<_>>());

    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(selects(&deployment["spec"]["selector"], pod_labels));
        let container = &containers(deployment)[0];
        let env = configured_env(&documents, container);
        let section = service.section.to_ascii_uppercase();
        let port = listen_port(&env[&format!("DOSSIER_{section}_LISTEN")]);
        let grpc_port = list_of(&container["ports"], "ports")
            .iter()
            .find(|p| p["name"] == "grpc")
            .expect("a grpc port");
        assert_eq!(grpc_port["containerPort"], port, "{}: port", service.name);

        let readiness = &container["readinessProbe"]["grpc"];
        assert_eq!(readiness["port"], port, "{}: readiness port", service.name);
        assert_eq!(
            readiness["service"].as_str(),
            Some(service.grpc_service.as_str()),
            "{}: ready when its gRPC service is SERVING",
            service.name
        );
        assert_eq!(
            container["livenessProbe"]["grpc"]["port"], port,
            "{}: liveness through gRPC health",
            service.name
        );
        for side in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    !container["resources"][side][resource].is_null(),
                    "{}: {side}.{resource}",
                    service.name
                );
            }
        }
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
            true
        );

        let svc = named(&documents, "Service", &service.name).expect("a Service");
        assert!(
            selects(&svc["spec"]["selector"], pod_labels),
            "{}: Service selects its pods",
            service.name
        );
        let svc_port = &list_of(&svc["spec"]["ports"], "ports")[0];
        assert_eq!(svc_port["port"], port, "{}: Service port", service.name);
        let expected_type = if service.name == dossier_gateway::SERVICE_NAME {
            "LoadBalancer"
        } else {
            "ClusterIP"
        };
        assert_eq!(
            svc["spec"]["type"].as_str(),
            Some(expected_type),
            "{}",
            service.name
        );

        let pdb = of_kind(&documents, "PodDisruptionBudget")
            .into_iter()
            .find(|p| selects(&p["spec"]["selector"], pod_labels));
        assert!(pdb.is_some(), "{}: a PodDisruptionBudget", service.name);

        let hpa = of_kind(&documents, "HorizontalPodAutoscaler")
            .into_iter()
            .find(|h| h["spec"]["scaleTargetRef"]["name"].as_str() == Some(&service.name));
        match hpa {
            Some(hpa) => {
                assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
                assert!(
                    deployment["spec"].get("replicas").is_none(),
                    "{}: the autoscaler owns the replica count",
                    service.name
                );
            }
            None => assert_eq!(
                deployment["spec"]["replicas"], 1,
                "{}: without an autoscaler, one replica",
                service.name
            ),
        }
    }
    let autoscaled = |name: &str| {
        of_kind(&documents, "HorizontalPodAutoscaler")
            .iter()
            .any(|h| h["spec"]["scaleTargetRef"]["name"].as_str() == Some(name))
    };
    assert!(
        autoscaled(dossier_gateway::SERVICE_NAME),
        "the gateway autoscales"
    );
    // Analytics consumes the change feeds: one consumer, never two side by side.
    assert!(!autoscaled(ANALYTICS));
    let analytics = named(&documents, "Deployment", ANALYTICS).expect("analytics");
    assert_eq!(analytics["spec"]["replicas"], 1);
    assert_eq!(analytics["spec"]["strategy"]["type"], "Recreate");
}

#[test]
fn only_the_gateway_and_the_services_own_callers_reach_a_service() {
    let known = known_services();
    let documents = k8s_documents();
    let policies = of_kind(&documents, "NetworkPolicy");
    assert!(
        policies.iter().any(|p| {
            map_of(&p["spec"]["podSelector"], "podSelector").is_empty()
                && p["spec"]["ingress"].is_null()
                && p["spec"]["egress"].is_null()
                && list_of(&p["spec"]["policyTypes"], "policyTypes").len() == 2
        }),
        "a default-deny policy closes the namespace"
    );
    // Who calls whom, from each service's configured endpoints.
    let mut callers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut callees: BTreeMap<String, BTreeMap<String, u16>> = BTreeMap::new();
    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let env = configured_env(&documents, &containers(deployment)[0]);
        for (target, (host, port)) in calls(&service.section, &env, &known) {
            assert_eq!(host, target, "{}: {target}'s Service name", service.name);
            callers
                .entry(target.clone())
                .or_default()
                .insert(service.name.clone());
            callees
                .entry(service.name.clone())
                .or_default()
                .insert(target, port);
        }
    }
    let gateway = dossier_gateway::SERVICE_NAME;
    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        let port = list_of(&containers(deployment)[0]["ports"], "ports")
            .iter()
            .find(|p| p["name"] == "grpc")
            .expect("grpc port")["containerPort"]
            .clone();
        let mine: Vec<&&Value> = policies
            .iter()
            .filter(|p| selects(&p["spec"]["podSelector"], pod_labels))
            .collect();
        assert!(!mine.is_empty(), "{}: a NetworkPolicy", service.name);
        let allowed = callers.get(&service.name).cloned().unwrap_or_default();
        if service.name != gateway {
            assert!(
                allowed.contains(gateway),
                "{}: the gateway calls it",
                service.name
            );
        }
        let mut admitted = BTreeSet::new();
        for policy in &mine {
            for rule in policy["spec"]["ingress"].as_array().into_iter().flatten() {
                let ports = rule["ports"].as_array();
                let opens_grpc = ports.is_none_or(|ports| ports.iter().any(|p| p["port"] == port));
                if !opens_grpc {
                    continue;
                }
                if service.name == gateway {
                    continue; // the public endpoint
                }
                let from = list_of(
                    &rule["from"],
                    "from: a rule opening the gRPC port names its callers",
                );
                for peer in from {
                    assert!(
                        peer.get("namespaceSelector").is_none() && peer.get("ipBlock").is_none(),
                        "{}: only pods of this namespace, by name",
                        service.name
                    );
                    let caller = known
                        .values()
                        .find(|k| {
                            let d = named(&documents, "Deployment", &k.name).expect("deployment");
                            selects(
                                &peer["podSelector"],
                                &d["spec"]["template"]["metadata"]["labels"],
                            )
                        })
                        .unwrap_or_else(|| panic!("{}: a peer that is no service", service.name));
                    assert!(
                        allowed.contains(&caller.name),
                        "{}: {} may call it, but does not need to",
                        service.name,
                        caller.name
                    );
                    admitted.insert(caller.name.clone());
                }
            }
        }
        if service.name != gateway {
            assert_eq!(admitted, allowed, "{}: every caller admitted", service.name);
        }
        // And the callers may leave towards it (egress is closed by default too).
        for (target, target_port) in callees.get(&service.name).into_iter().flatten() {
            let target_labels = &named(&documents, "Deployment", target).expect("target")["spec"]["template"]
                ["metadata"]["labels"];
            let open = mine.iter().any(|policy| {
                policy["spec"]["egress"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|rule| {
                        rule["to"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|peer| selects(&peer["podSelector"], target_labels))
                            && rule["ports"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|p| p["port"] == *target_port)
                    })
            });
            assert!(open, "{}: egress to {target}:{target_port}", service.name);
        }
    }
}

#[test]
fn kubernetes_secrets_are_only_referenced() {
    let keys = Keys::from_code();
    let known = known_services();
    let documents = k8s_documents();
    assert!(
        of_kind(&documents, "Secret").is_empty(),
        "no Secret is committed: the operator creates them"
    );
    for map in of_kind(&documents, "ConfigMap") {
        for (name, value) in map_of(&map["data"], "data") {
            assert!(!keys.is_secret(name), "{name} is a secret in a ConfigMap");
            let value = str_of(value, name);
            assert!(
                !(value.contains("://") && value.contains('@')),
                "{name}: credentials in a URL"
            );
        }
    }
    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let container = &containers(deployment)[0];
        let mut referenced = BTreeSet::new();
        for entry in container["env"].as_array().into_iter().flatten() {
            let name = str_of(&entry["name"], "env name");
            if keys.is_secret(name) {
                assert!(entry.get("value").is_none(), "{name}: a literal value");
                let reference = &entry["valueFrom"]["secretKeyRef"];
                assert!(
                    reference["name"].is_string() && reference["key"].is_string(),
                    "{name}: from a Secret by reference"
                );
                referenced.insert(name.to_owned());
            }
        }
        let database = format!(
            "DOSSIER_{}_DATABASE_URL",
            service.section.to_ascii_uppercase()
        );
        assert!(
            referenced.contains(&database),
            "{}: {database}",
            service.name
        );
    }
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let kustomization = yaml(&deploy_dir().join("k8s/kustomization.yaml"));
    let listed: BTreeSet<String> = list_of(&kustomization["resources"], "resources")
        .iter()
        .map(|r| str_of(r, "resource").to_owned())
        .collect();
    let present: BTreeSet<String> = k8s_files()
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, present);
}

// ---- Dockerfile ------------------------------------------------------------------------------

/// The Dockerfile's instructions (continuation lines joined, comments dropped) by stage.
fn dockerfile_stages() -> Vec<Vec<String>> {
    let text = read(&deploy_dir().join("Dockerfile"));
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                if !current.trim().is_empty() {
                    instructions.push(current.trim().to_owned());
                }
                current.clear();
            }
        }
    }
    let mut stages: Vec<Vec<String>> = Vec::new();
    for instruction in instructions {
        if instruction.to_ascii_uppercase().starts_with("FROM ") {
            stages.push(Vec::new());
        }
        if let Some(stage) = stages.last_mut() {
            stage.push(instruction);
        }
    }
    stages
}

#[test]
fn the_image_is_multi_stage_non_root_and_checks_grpc_health() {
    let stages = dockerfile_stages();
    assert!(stages.len() >= 2, "multi-stage");
    let last = stages.last().expect("a final stage");
    let find = |keyword: &str| {
        last.iter()
            .filter(|i| i.to_ascii_uppercase().starts_with(&format!("{keyword} ")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let user = find("USER").pop().expect("the final stage names a USER");
    let who = user[5..]
        .split(':')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(who != "root" && who != "0", "runs as {who}");
    let healthcheck = find("HEALTHCHECK").pop().expect("a HEALTHCHECK");
    let command = healthcheck
        .split(" CMD ")
        .nth(1)
        .expect("HEALTHCHECK … CMD");
    assert!(
        command.contains("dossier") && command.contains("\"probe\""),
        "the check is `dossier probe`: {command}"
    );
    let entrypoint = find("ENTRYPOINT").pop().expect("an ENTRYPOINT");
    assert!(entrypoint.contains("dossier"));
    // The binary comes from a build stage, not from outside.
    assert!(
        find("COPY")
            .iter()
            .any(|c| c.contains("--from=builder") && c.contains("dossier")),
        "the binary is copied from the builder stage"
    );
    assert!(
        stages[..stages.len() - 1]
            .iter()
            .flatten()
            .any(|i| i.contains("cargo build --release --locked -p dossier")),
        "a stage builds the binary"
    );
    let ignore = read(&deploy_dir().join("../.dockerignore"));
    for excluded in ["**/target", ".env", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == excluded),
            ".dockerignore leaves out {excluded}"
        );
    }
}

// ---- the binary takes the deployment's configuration -----------------------------------------

const BINARY: &str = env!("CARGO_BIN_EXE_dossier");

/// The values `deploy/.env.example` gives, for `${VAR…}` references in the compose file.
fn example_values() -> BTreeMap<String, String> {
    read(&deploy_dir().join(".env.example"))
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// `text` with every `${VAR…}` replaced by the example's value.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing }") + start;
        let name = references(&rest[start..=end]).pop().expect("a name");
        out.push_str(values.get(&name).map_or("", String::as_str));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Runs `dossier serve <service>` with a deployment's environment — on this machine: a free
/// loopback port instead of the container's address, the test database instead of the
/// deployment's, the test RS256 key for the mounted one, no trace export — and asks its health
/// with `dossier probe`. Every other value (numbers, maps such as the gateway's upstreams,
/// endpoints) is the deployment's own, so a value the binary cannot read fails here.
async fn serves_with(service: &Known, deployment_env: &BTreeMap<String, String>, what: &str) {
    let db = dossier_testkit::TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let section = service.section.to_ascii_uppercase();
    let mut env = deployment_env.clone();
    env.insert(format!("DOSSIER_{section}_LISTEN"), "127.0.0.1:0".into());
    env.insert(format!("DOSSIER_{section}_DATABASE_URL"), db.url.clone());
    if env.contains_key(&format!("DOSSIER_{section}_METRICS_LISTEN")) {
        env.insert(
            format!("DOSSIER_{section}_METRICS_LISTEN"),
            "127.0.0.1:0".into(),
        );
    }
    if env.contains_key("DOSSIER_AUTH_PUBLIC_KEY_FILE") {
        env.insert(
            "DOSSIER_AUTH_PUBLIC_KEY_FILE".into(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../crates/kit/tests/keys/rs256-test.pub.pem")
                .display()
                .to_string(),
        );
    }
    env.remove("DOSSIER_TELEMETRY_OTLP_ENDPOINT");
    env.insert("DOSSIER_DATA_DIR".into(), dir.path().display().to_string());
    env.insert("DOSSIER_LIMITS_SHUTDOWN_GRACE_SECS".into(), "1".into());

    let mut child = std::process::Command::new(BINARY)
        .args(["serve", &service.name])
        .env_clear()
        .envs(&env)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dossier serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let port = lines.find_map(|line| {
        let line = line.ok()?;
        let rest = line.split("grpc://127.0.0.1:").nth(1)?;
        rest.split_whitespace().next()?.parse::<u16>().ok()
    });
    let Some(port) = port else {
        let _ = child.kill();
        let output = child.wait_with_output().expect("output");
        panic!(
            "{what}: {} did not start: {}",
            service.name,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::thread::spawn(move || for _ in lines {});
    let probe = std::process::Command::new(BINARY)
        .args(["probe", "--addr", &format!("127.0.0.1:{port}"), "--service"])
        .arg(&service.name)
        .env_clear()
        .envs(&env)
        .current_dir(dir.path())
        .output()
        .expect("dossier probe runs");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        probe.status.success(),
        "{what}: {} is not serving: {}",
        service.name,
        String::from_utf8_lossy(&probe.stderr)
    );
}

#[tokio::test]
async fn the_binary_serves_with_the_compose_configuration() {
    let known = known_services();
    let compose = Compose::load();
    let values = example_values();
    for entry in services::SERVICES {
        let env = compose
            .env(entry.name)
            .into_iter()
            .map(|(k, v)| (k, substitute(&v, &values)))
            .collect();
        serves_with(&known[entry.name], &env, "compose").await;
    }
}

#[tokio::test]
async fn the_binary_serves_with_the_kubernetes_configuration() {
    let known = known_services();
    let documents = k8s_documents();
    for entry in services::SERVICES {
        let deployment = named(&documents, "Deployment", entry.name).expect("deployment");
        let env = configured_env(&documents, &containers(deployment)[0]);
        serves_with(&known[entry.name], &env, "kubernetes").await;
    }
}
