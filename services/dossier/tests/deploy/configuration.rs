//! The configuration in compose and Kubernetes: every variable a real key, and the binary
//! started with it answers SERVING.

use std::collections::BTreeMap;
use std::path::Path;

use crate::code::*;
use crate::compose::*;
use crate::files::*;
use crate::kubernetes::*;
use crate::services;

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

// ---- the binary takes the deployment's configuration -----------------------------------------

pub const BINARY: &str = env!("CARGO_BIN_EXE_dossier");

/// The values `deploy/.env.example` gives, for `${VAR…}` references in the compose file.
pub fn example_values() -> BTreeMap<String, String> {
    read(&deploy_dir().join(".env.example"))
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// `text` with every `${VAR…}` replaced by the example's value.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
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
pub async fn serves_with(service: &Known, deployment_env: &BTreeMap<String, String>, what: &str) {
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
