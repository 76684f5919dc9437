//! `deploy/docker-compose.yml` and the PostgreSQL init script.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::code::*;
use crate::files::*;

// ---- compose ---------------------------------------------------------------------------------

pub struct Compose {
    pub services: serde_json::Map<String, Value>,
}

impl Compose {
    pub fn load() -> Self {
        let file = yaml(&deploy_dir().join("docker-compose.yml"));
        Self {
            services: map_of(&file["services"], "services").clone(),
        }
    }

    /// The Dossier containers: compose name → the service their command serves.
    pub fn dossier(&self) -> BTreeMap<String, String> {
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

    pub fn env(&self, name: &str) -> BTreeMap<String, String> {
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

/// `create_database <name> "${PASSWORD_VAR:-}"` lines of the init script: name → variable.
pub fn init_script_databases() -> BTreeMap<String, String> {
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
