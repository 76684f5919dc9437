//! Idempotent requests (AIP-155): a create or money-moving call carries a `request_id`; a retry
//! with the same id and the same content returns the first result and records nothing twice, the
//! same id with other content is refused. The key is stored in the same transaction as the
//! change it guards.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sea_orm_migration::prelude::*;
use sha2::{Digest, Sha256};

use crate::problem::Problem;

/// What an earlier request with the same key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Nothing yet: go ahead.
    New,
    /// The same request was done before; this is the id of the resource it produced.
    Replay(String),
}

/// A fingerprint of a request's content (SHA-256 of its encoding, hex).
pub fn fingerprint(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// Validates a request id: required, at most 128 characters of `[A-Za-z0-9._:-]`.
pub fn validate_request_id(field: &str, request_id: &str) -> Result<(), Problem> {
    if request_id.is_empty() {
        return Err(Problem::invalid(
            field,
            "is required: a client-chosen id (a UUID) that makes retries safe",
        ));
    }
    if request_id.len() > 128
        || !request_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
    {
        return Err(Problem::invalid(
            field,
            "must be at most 128 characters of letters, digits and . _ : -",
        ));
    }
    Ok(())
}

fn placeholders(backend: DbBackend, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            if backend == DbBackend::Postgres {
                format!("${i}")
            } else {
                "?".into()
            }
        })
        .collect()
}

/// The first key of the two-key PostgreSQL advisory locks that serialise twins of one request
/// ("ID"); a space of its own, apart from the outbox's single-key lock.
const TWIN_LOCK_SPACE: i32 = 0x4944;

/// Looks up a key in `scope` (usually the method name).
///
/// Inside a write transaction on PostgreSQL the lookup first takes a transaction-scoped lock on
/// the key: two twins sent at once (a client retrying before the first answer) would otherwise
/// both find nothing under READ COMMITTED, both do the work, and the second would fail on the
/// key's uniqueness. With the lock the second waits for the first to end and then finds its key
/// (a replay) or, if the first rolled back, goes ahead. SQLite's single writer (`BEGIN
/// IMMEDIATE`) serialises twins already.
pub async fn check(
    conn: &impl ConnectionTrait,
    scope: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Prior, Problem> {
    let backend = conn.get_database_backend();
    if backend == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [TWIN_LOCK_SPACE.into(), format!("{scope}\u{1f}{key}").into()],
        ))
        .await?;
    }
    let p = placeholders(backend, 2);
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT fingerprint, resource_id FROM idempotency_keys WHERE scope = {} AND request_id = {}", p[0], p[1]),
            [scope.into(), key.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(Prior::New);
    };
    let stored: String = row.try_get("", "fingerprint").map_err(Problem::from)?;
    let resource_id: String = row.try_get("", "resource_id").map_err(Problem::from)?;
    if stored == fingerprint {
        Ok(Prior::Replay(resource_id))
    } else {
        Err(Problem::AlreadyExists {
            resource: "request",
            existing_id: resource_id,
            reason: "REQUEST_ID_REUSED",
            message: "request_id was already used for a request with other content".into(),
        })
    }
}

/// Records a key inside the transaction of the change. A unique violation here means a
/// concurrent request with the same key won; the caller rolls back and calls [`check`] again.
pub async fn record(
    conn: &impl ConnectionTrait,
    scope: &str,
    key: &str,
    fingerprint: &str,
    resource_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let p = placeholders(backend, 5);
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO idempotency_keys (scope, request_id, fingerprint, resource_id, created_at) VALUES ({})",
            p.join(", ")
        ),
        [scope.into(), key.into(), fingerprint.into(), resource_id.into(), at.into()],
    ))
    .await?;
    Ok(())
}

/// Creates the `idempotency_keys` table. Every service that takes request ids lists it.
#[derive(Debug, Default)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0000_000002_kit_idempotency"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(ColumnDef::new("scope").string().not_null())
                    .col(ColumnDef::new("request_id").string().not_null())
                    .col(ColumnDef::new("fingerprint").string().not_null())
                    .col(ColumnDef::new("resource_id").string().not_null())
                    .col(
                        ColumnDef::new("created_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col("scope").col("request_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("idempotency_keys").to_owned())
            .await
    }
}
