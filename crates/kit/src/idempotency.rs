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
    let row = conn
        .query_one_raw(crate::db::statement(
            backend,
            "SELECT fingerprint, resource_id FROM idempotency_keys WHERE scope = ? AND request_id = ?",
            [scope.into(), key.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(Prior::New);
    };
    let stored: String = row.try_get("", "fingerprint").map_err(Problem::from)?;
    let resource_id: String = row.try_get("", "resource_id").map_err(Problem::from)?;
    prior(&stored, resource_id, fingerprint)
}

/// What a key stored with `stored_fingerprint` for `resource_id` means for a request with
/// `fingerprint`: the same content is a replay, other content is refused.
pub fn prior(
    stored_fingerprint: &str,
    resource_id: String,
    fingerprint: &str,
) -> Result<Prior, Problem> {
    if stored_fingerprint == fingerprint {
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

/// A key stored earlier: the fingerprint of its request and the resource it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Fingerprint of the first request's content.
    pub fingerprint: String,
    /// The resource it produced.
    pub resource_id: String,
}

/// The stored keys among `request_ids` in `scope`, by request id: one query for a whole batch of
/// requests. Takes no lock: a writer batching requests runs it under its own serialisation and
/// relies on the keys' uniqueness at insert for a twin it could not see.
pub async fn lookup_all(
    conn: &impl ConnectionTrait,
    scope: &str,
    request_ids: &[&str],
) -> Result<std::collections::HashMap<String, Stored>, DbErr> {
    let mut found = std::collections::HashMap::new();
    let backend = conn.get_database_backend();
    for chunk in crate::db::statement_chunks(backend, request_ids, KEY_CHUNK, |id| id.len() + 8) {
        let list = vec!["?"; chunk.len()].join(", ");
        let mut values: Vec<sea_orm::Value> = vec![scope.into()];
        values.extend(chunk.iter().map(|id| sea_orm::Value::from(*id)));
        let rows = conn
            .query_all_raw(crate::db::statement(
                backend,
                &format!(
                    "SELECT request_id, fingerprint, resource_id FROM idempotency_keys \
                     WHERE scope = ? AND request_id IN ({list})"
                ),
                values,
            ))
            .await?;
        for row in rows {
            found.insert(
                row.try_get("", "request_id")?,
                Stored {
                    fingerprint: row.try_get("", "fingerprint")?,
                    resource_id: row.try_get("", "resource_id")?,
                },
            );
        }
    }
    Ok(found)
}

/// Keys read or written per statement by the batch functions at most (see also
/// [`crate::db::statement_chunks`]).
const KEY_CHUNK: usize = 500;

/// A key to record: the request id, its content's fingerprint and the resource it produced.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The client's request id.
    pub request_id: String,
    /// Fingerprint of the request content.
    pub fingerprint: String,
    /// The resource the request produced.
    pub resource_id: String,
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
    let key = NewKey {
        request_id: key.to_owned(),
        fingerprint: fingerprint.to_owned(),
        resource_id: resource_id.to_owned(),
    };
    record_all(conn, scope, &[key], at).await
}

/// Records `keys` of `scope` in as few statements as the database allows; as [`record`].
pub async fn record_all(
    conn: &impl ConnectionTrait,
    scope: &str,
    keys: &[NewKey],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let size = |k: &NewKey| {
        scope.len() + k.request_id.len() + k.fingerprint.len() + k.resource_id.len() + 32
    };
    for chunk in crate::db::statement_chunks(backend, keys, KEY_CHUNK, size) {
        let rows = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 5);
        for key in chunk {
            values.extend([
                scope.into(),
                key.request_id.clone().into(),
                key.fingerprint.clone().into(),
                key.resource_id.clone().into(),
                at.into(),
            ]);
        }
        conn.execute_raw(crate::db::statement(
            backend,
            &format!(
                "INSERT INTO idempotency_keys (scope, request_id, fingerprint, resource_id, created_at) VALUES {rows}"
            ),
            values,
        ))
        .await?;
    }
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
