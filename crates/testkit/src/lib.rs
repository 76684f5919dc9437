//! Test support shared by the services' tests: a throwaway database per test — SQLite in a temp
//! directory, or a fresh PostgreSQL database when `DOSSIER_TEST_POSTGRES_URL` is set — and
//! development tokens signed with a fixed test secret.
#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use dossier_kit::auth::{Role, TokenRequest, mint_hs256};
use sea_orm::ConnectionTrait;
use secrecy::SecretString;

/// The variable naming the PostgreSQL server tests run against (an admin URL, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`).
pub const POSTGRES_ENV: &str = "DOSSIER_TEST_POSTGRES_URL";

/// The HS256 secret of test tokens.
pub const TEST_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
/// Issuer of test tokens.
pub const TEST_ISSUER: &str = "dossier";
/// Audience of test tokens.
pub const TEST_AUDIENCE: &str = "dossier-api";

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    /// Connection URL of the database.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A new empty database on the configured backend.
    pub async fn new() -> TestDb {
        match std::env::var(POSTGRES_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => Self::postgres(admin_url).await,
            _ => Self::sqlite(),
        }
    }

    /// Whether this database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            postgres: None,
        }
    }

    async fn postgres(admin_url: String) -> TestDb {
        let name = format!("dossier_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let url = dossier_kit::config::with_database_name(&admin_url, &name);
        TestDb {
            url,
            _dir: None,
            postgres: Some((admin_url, name)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async: do the cleanup on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = sea_orm::Database::connect(admin_url.as_str()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The test secret as a `SecretString`.
pub fn test_secret() -> SecretString {
    SecretString::from(TEST_SECRET.to_owned())
}

/// Configuration values that make a service trust test tokens.
pub fn auth_config() -> serde_json::Value {
    serde_json::json!({
        "issuer": TEST_ISSUER,
        "audience": TEST_AUDIENCE,
        "algorithm": "HS256",
        "hs256_secret": TEST_SECRET,
    })
}

/// A token for `sub` with `role` in `team`.
pub fn token(role: Role, sub: &str, team: &str) -> String {
    token_with_scopes(role, sub, team, &[])
}

/// A token for `sub` with `role` in `team` and integration `scopes`.
pub fn token_with_scopes(role: Role, sub: &str, team: &str, scopes: &[&str]) -> String {
    mint_hs256(
        &test_secret(),
        TEST_ISSUER,
        TEST_AUDIENCE,
        &TokenRequest {
            sub: sub.into(),
            name: sub.into(),
            role,
            team: team.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ttl: Duration::from_secs(3600),
        },
    )
    .expect("mint test token")
}

/// Wraps `message` in a request carrying `token`.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii header"),
    );
    request
}
