//! The `dossier` binary as a user runs it: `dossier up` in a fresh directory, a token from
//! `dossier token`, then a client over gRPC — health, reflection, create, read, the change feed —
//! and a clean stop.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dossier_proto::common::WatchChangesRequest;
use dossier_proto::customer::customer_service_client::CustomerServiceClient;
use dossier_proto::customer::{self as pb};

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

/// Starts `dossier up` in `dir` on free ports and returns the gateway's (the public endpoint).
fn start(dir: &std::path::Path, demo: bool) -> (Running, u16) {
    let mut command = Command::new(BINARY);
    command
        .arg("up")
        .current_dir(dir)
        .env("DOSSIER_CUSTOMER_PROFILE_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_COMPLAINTS_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_CONTRACT_RECEIVABLES_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_VISIT_JOURNAL_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_ANALYTICS_LISTEN", "127.0.0.1:0")
        .env("DOSSIER_GATEWAY_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        // Idle client connections can hold hyper's graceful shutdown open (hyperium/hyper#4170);
        // the grace period bounds it. A short one keeps the test quick.
        .env("DOSSIER_LIMITS_SHUTDOWN_GRACE_SECS", "2")
        .env_remove("DOSSIER_CONFIG")
        .env_remove("DOSSIER_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if demo {
        command.arg("--demo");
    }
    let mut child = command.spawn().expect("dossier starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("dossier printed its endpoints")
            .expect("utf-8 line");
        if !line.trim_start().starts_with("gateway ") {
            continue;
        }
        if let Some(rest) = line.split("grpc://127.0.0.1:").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .expect("port")
                .parse::<u16>()
                .expect("a port number");
        }
    };
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Running { child }, port)
}

fn token(dir: &std::path::Path) -> String {
    let output = Command::new(BINARY)
        .args(["token", "--role", "archivist", "--sub", "system-test"])
        .current_dir(dir)
        .env_remove("DOSSIER_CONFIG")
        .env_remove("DOSSIER_DATA_DIR")
        .output()
        .expect("dossier token runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

#[tokio::test]
async fn dossier_up_serves_a_client_end_to_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut running, port) = start(dir.path(), true);
    let token = token(dir.path());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connects");

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "dossier.gateway.v1.AccessService".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut client = CustomerServiceClient::new(channel.clone());
    // The demo data is loaded right after start; give it a moment.
    let mut demo_count = 0;
    for _ in 0..50 {
        demo_count = client
            .list_customers(authorized(pb::ListCustomersRequest::default(), &token))
            .await
            .expect("list")
            .into_inner()
            .total_size;
        if demo_count >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(demo_count, 40, "the demo customers");

    let created = client
        .create_customer(authorized(
            pb::CreateCustomerRequest {
                customer: Some(pb::Customer {
                    kind: pb::CustomerKind::Person as i32,
                    name: "王芳".into(),
                    phone: "13812345678".into(),
                    ..Default::default()
                }),
                request_id: "system-1".into(),
            },
            &token,
        ))
        .await
        .expect("created")
        .into_inner();
    let read = client
        .get_customer(authorized(
            pb::GetCustomerRequest {
                id: created.id.clone(),
            },
            &token,
        ))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read.name, "王芳");

    let mut feed = client
        .watch_changes(authorized(
            WatchChangesRequest {
                after_sequence: 40,
                event_types: vec![],
            },
            &token,
        ))
        .await
        .expect("watch")
        .into_inner();
    let event = feed.message().await.expect("ok").expect("an event");
    assert_eq!(event.aggregate_id, created.id);

    // analytics follows the change feeds of the services `dossier up` started, with the service
    // token it minted: it sees the 41 customer events and is connected to every source.
    let mut analytics =
        dossier_proto::analytics::analytics_service_client::AnalyticsServiceClient::new(channel);
    let mut seen = (0, false);
    for _ in 0..100 {
        let lag = analytics
            .get_feed_lag(authorized(
                dossier_proto::analytics::GetFeedLagRequest {},
                &token,
            ))
            .await
            .expect("feed lag")
            .into_inner();
        let customers = lag
            .sources
            .iter()
            .find(|s| s.source == "dossier.customer.v1.CustomerService")
            .map(|s| s.applied_sequence)
            .unwrap_or(0);
        seen = (customers, lag.sources.iter().all(|s| s.connected));
        if seen.0 >= 41 && seen.1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen.0 >= 41 && seen.1,
        "analytics applied {} customer events, all connected: {}",
        seen.0,
        seen.1
    );

    // A polite stop: SIGTERM, then the process exits by itself.
    #[cfg(unix)]
    {
        let pid = running.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        let mut waited = 0;
        while running.child.try_wait().expect("wait").is_none() && waited < 100 {
            std::thread::sleep(Duration::from_millis(100));
            waited += 1;
        }
        let exit = running.child.try_wait().expect("wait");
        assert!(
            exit.is_some_and(|s| s.success()),
            "dossier stops cleanly on SIGTERM: {exit:?}"
        );
    }
}
