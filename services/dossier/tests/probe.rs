//! `dossier probe` against a real `dossier serve` process, as the container health check runs it:
//! exit 0 only when the server answers SERVING for the service asked about, a failure for an
//! unknown service, a wrong address or a stopped server. The service runs on the test database
//! (SQLite, or PostgreSQL when `DOSSIER_TEST_POSTGRES_URL` is set).
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dossier_testkit::{TEST_SECRET, TestDb};

const BINARY: &str = env!("CARGO_BIN_EXE_dossier");

struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `dossier` command with no configuration from the environment that runs the test.
fn dossier(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir)
        .env_remove("DOSSIER_CONFIG")
        .env_remove("DOSSIER_DATA_DIR")
        .env_remove("DOSSIER_CUSTOMER_PROFILE_LISTEN")
        .env("DOSSIER_AUTH_HS256_SECRET", TEST_SECRET)
        .env("RUST_LOG", "warn");
    command
}

/// `dossier serve customer-profile` on a free port; returns the port.
fn serve(dir: &std::path::Path, database_url: &str) -> (Running, u16) {
    let mut child = dossier(dir)
        .args(["serve", "customer-profile"])
        .env("DOSSIER_CUSTOMER_PROFILE_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_CUSTOMER_PROFILE_DATABASE_URL", database_url)
        .env("DOSSIER_LIMITS_SHUTDOWN_GRACE_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dossier serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("dossier printed its endpoint")
            .expect("utf-8 line");
        if let Some(rest) = line.split("grpc://127.0.0.1:").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .expect("a port number");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Running { child }, port)
}

fn probe(dir: &std::path::Path, args: &[&str], listen: Option<&str>) -> Output {
    let mut command = dossier(dir);
    command.arg("probe").args(args);
    if let Some(listen) = listen {
        command.env("DOSSIER_CUSTOMER_PROFILE_LISTEN", listen);
    }
    command.output().expect("dossier probe runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn the_probe_passes_only_for_a_serving_service() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut running, port) = serve(dir.path(), &db.url);
    let addr = format!("127.0.0.1:{port}");

    // The server as a whole, at an explicit address.
    let whole = probe(dir.path(), &["--addr", &addr], None);
    assert!(whole.status.success(), "{}", text(&whole));
    assert!(text(&whole).contains("SERVING"));

    // The service by its Dossier name: address from its configured listen (0.0.0.0 is asked on
    // loopback, as inside a container), the gRPC service name from the binary's table.
    let by_name = probe(
        dir.path(),
        &["--service", "customer-profile"],
        Some(&format!("0.0.0.0:{port}")),
    );
    assert!(by_name.status.success(), "{}", text(&by_name));
    assert!(
        text(&by_name).contains("dossier.customer.v1.CustomerService: SERVING"),
        "{}",
        text(&by_name)
    );

    // A service this server does not serve: the gateway's gRPC service, or a made-up one.
    for service in ["gateway", "dossier.nothing.v1.Nothing"] {
        let other = probe(dir.path(), &["--addr", &addr, "--service", service], None);
        assert_eq!(other.status.code(), Some(1), "{service}: {}", text(&other));
    }

    // Nothing to ask without an address or a known service.
    let vague = probe(
        dir.path(),
        &["--service", "dossier.nothing.v1.Nothing"],
        None,
    );
    assert_eq!(vague.status.code(), Some(1), "{}", text(&vague));

    // A stopped server fails the check, and within the timeout.
    let _ = running.child.kill();
    let _ = running.child.wait();
    let started = Instant::now();
    let stopped = probe(dir.path(), &["--addr", &addr, "--timeout", "2"], None);
    assert_eq!(stopped.status.code(), Some(1), "{}", text(&stopped));
    assert!(started.elapsed() < Duration::from_secs(10));
}
