//! Running Dossier as a production topology in a test: each service a separate `dossier serve`
//! process on its own loopback port and its own database (a fresh PostgreSQL database per
//! service when `DOSSIER_TEST_POSTGRES_URL` is set, else a SQLite file per service), all
//! configured by one TOML file, the gateway in front.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dossier_testkit::TestDb;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_dossier");

/// The services of a full topology, customer-profile first, the gateway last.
pub const ALL: &[&str] = &[
    "customer-profile",
    "visit-journal",
    "contract-receivables",
    "complaints",
    "analytics",
    "gateway",
];

/// How long a process may take to bind and migrate.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `dossier serve` process; killed when dropped.
struct Process {
    child: Child,
    metrics: Option<SocketAddr>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A set of services run as separate processes.
pub struct Topology {
    // Fields drop in order: the processes first, then their databases and files.
    running: BTreeMap<&'static str, Process>,
    dbs: Vec<TestDb>,
    /// Data directory, configuration file and the processes' logs.
    pub dir: tempfile::TempDir,
    config: PathBuf,
    ports: BTreeMap<&'static str, u16>,
    env: Vec<(String, String)>,
}

/// A free loopback port (bound and released: the process binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn section(service: &str) -> String {
    service.replace('-', "_")
}

impl Topology {
    /// Creates a database per service in `services` and the configuration naming them; starts
    /// nothing. `metrics` lists the services that serve Prometheus metrics; `env` is given to
    /// every process.
    pub async fn new(services: &[&'static str], metrics: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: BTreeMap<&'static str, u16> =
            ALL.iter().map(|name| (*name, free_port())).collect();
        let url = |name: &str| format!("http://127.0.0.1:{}", ports[name]);
        let mut dbs = Vec::new();
        let mut toml = format!(
            "data_dir = {:?}\n\n[auth]\nissuer = {:?}\naudience = {:?}\nalgorithm = \"HS256\"\nhs256_secret = {:?}\n\n[limits]\nshutdown_grace_secs = 1\n",
            dir.path().display().to_string(),
            dossier_testkit::TEST_ISSUER,
            dossier_testkit::TEST_AUDIENCE,
            dossier_testkit::TEST_SECRET,
        );
        for name in services {
            let db = TestDb::new().await;
            toml.push_str(&format!(
                "\n[{}]\nlisten = \"127.0.0.1:{}\"\ndatabase_url = {:?}\n",
                section(name),
                ports[name],
                db.url
            ));
            if !matches!(*name, "customer-profile" | "gateway") {
                toml.push_str(&format!(
                    "customer_profile_endpoint = {:?}\n",
                    url("customer-profile")
                ));
            }
            if *name == "analytics" {
                // It follows the four sources' change feeds (customer-profile's is above).
                for source in ["visit-journal", "contract-receivables", "complaints"] {
                    toml.push_str(&format!(
                        "{}_endpoint = {:?}\n",
                        section(source),
                        url(source)
                    ));
                }
            }
            if metrics.contains(name) {
                toml.push_str("metrics_listen = \"127.0.0.1:0\"\n");
            }
            dbs.push(db);
        }
        toml.push_str("\n[gateway.upstreams]\n");
        for name in ALL.iter().filter(|n| **n != "gateway") {
            toml.push_str(&format!("{name:?} = {:?}\n", url(name)));
        }
        let config = dir.path().join("dossier.toml");
        std::fs::write(&config, toml).expect("configuration written");
        Self {
            dir,
            config,
            ports,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            running: BTreeMap::new(),
            dbs,
        }
    }

    /// Starts `service` and waits until it has printed its endpoints (bound, migrated).
    pub fn start(&mut self, service: &'static str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(service))
            .expect("log file");
        let mut command = Command::new(BINARY);
        command
            .args(["serve", service, "--config"])
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env_remove("DOSSIER_CONFIG")
            .env_remove("DOSSIER_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("dossier serve starts");
        let stdout = child.stdout.take().expect("stdout");
        // Lines are read on a thread (which then keeps draining stdout so the process never
        // blocks on a full pipe), so that a process that hangs fails the test in bounded time.
        let (lines, banner) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines.send(line);
            }
        });
        let mut metrics = None;
        loop {
            let line = match banner.recv_timeout(START_TIMEOUT) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "{service} was not up within {START_TIMEOUT:?}:\n{}",
                        self.log(service)
                    );
                }
            };
            if let Some(rest) = line.split("metrics http://").nth(1) {
                metrics = rest.trim_end_matches("/metrics").parse::<SocketAddr>().ok();
            }
            if line.starts_with("Stop with") {
                break;
            }
        }
        self.running.insert(service, Process { child, metrics });
    }

    /// Starts every service of [`ALL`] that has a database here, the gateway last.
    pub fn start_all(&mut self, services: &[&'static str]) {
        for service in services {
            self.start(service);
        }
    }

    /// Kills `service` at once (SIGKILL: no graceful shutdown, nothing flushed).
    pub fn kill(&mut self, service: &str) {
        let mut process = self.running.remove(service).expect("running");
        process.child.kill().expect("killed");
        process.child.wait().expect("reaped");
    }

    /// The gRPC address of `service`.
    pub fn url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[service])
    }

    /// A channel to `service` (connected lazily, so it works across restarts).
    pub fn channel(&self, service: &str) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.url(service))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy()
    }

    /// The metrics endpoint `service` printed.
    pub fn metrics_address(&self, service: &str) -> SocketAddr {
        self.running[service]
            .metrics
            .expect("the service printed its metrics address")
    }

    /// Whether the services run on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.dbs.first().is_some_and(TestDb::is_postgres)
    }

    fn log_path(&self, service: &str) -> PathBuf {
        self.dir.path().join(format!("{service}.log"))
    }

    /// What `service` wrote to stderr so far (for failure messages).
    pub fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.log_path(service)).unwrap_or_default()
    }
}

/// `GET /metrics` from `address`, the body as text.
pub async fn scrape(address: SocketAddr) -> String {
    tokio::task::spawn_blocking(move || scrape_blocking(address))
        .await
        .expect("scrape")
}

fn scrape_blocking(address: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("metrics endpoint reachable");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    body.to_owned()
}

/// Wraps `message` in a request carrying `token`.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    dossier_testkit::with_token(message, token)
}
