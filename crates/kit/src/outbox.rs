//! The outbox and the change feed.
//!
//! Every mutation writes its event into the service's own `outbox` table inside the transaction
//! that makes the change, so an event exists exactly when its change does. `WatchChanges` reads
//! that table: it replays from a sequence and then follows live.
//!
//! **Ordering.** A reader that has seen sequence N must never later find a committed event below
//! N, or a consumer resuming from N would skip it. With a plain PostgreSQL sequence, transaction A
//! can take 5, B take 6 and commit first. So the event write takes a transaction-scoped advisory
//! lock before it draws its sequence number: appends are serialised from that point to commit,
//! and sequences become visible in order. The lock is held only for the tail of the transaction
//! (the event is written last). SQLite has a single writer, so commit order is sequence order
//! already.

use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use sea_orm_migration::prelude::*;
use tokio::sync::watch;

use crate::problem::Problem;
use dossier_proto::common::ChangeEvent;

/// Key of the PostgreSQL advisory lock that orders appends ("dossier" in ASCII).
const APPEND_LOCK_KEY: i64 = 0x0064_6f73_7369_6572;
/// Events read per query while replaying.
const BATCH: i64 = 500;
/// Events written per `INSERT` by [`Outbox::append_all`] at most (7 values each, far below either
/// database's limit on bound values; see also [`crate::db::statement_chunks`]).
const APPEND_CHUNK: usize = 500;
/// How often a live follower looks for events written by another process.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `<aggregate>.<verb>`, e.g. `customer.created`.
    pub event_type: String,
    /// Id of the record that changed.
    pub aggregate_id: String,
    /// The customer concerned, if any.
    pub customer_id: Option<String>,
    /// Who made the change.
    pub actor_id: String,
    /// The record after the change.
    pub payload: prost_types::Any,
}

impl NewEvent {
    /// An event whose payload is `message`, packed as `google.protobuf.Any`.
    pub fn new<M: prost::Name>(
        event_type: impl Into<String>,
        aggregate_id: impl Into<String>,
        customer_id: Option<String>,
        actor_id: impl Into<String>,
        message: &M,
    ) -> Self {
        Self {
            event_type: event_type.into(),
            aggregate_id: aggregate_id.into(),
            customer_id,
            actor_id: actor_id.into(),
            // The conventional prefix, which generic tools (grpcurl, prost-reflect) resolve.
            payload: prost_types::Any {
                type_url: format!("type.googleapis.com/{}", M::full_name()),
                value: message.encode_to_vec(),
            },
        }
    }
}

/// A service's outbox: appends events in the caller's transaction and serves the feed.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: DatabaseConnection,
    committed: watch::Sender<()>,
}

impl Outbox {
    /// The outbox of the database `db` (migrated with [`Migration`]).
    pub fn new(db: DatabaseConnection) -> Self {
        let (committed, _) = watch::channel(());
        Self { db, committed }
    }

    /// Appends `event` inside `txn`; returns its sequence. Call last in the transaction: from here
    /// to commit, other appenders wait (see the module docs).
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        at: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<u64, DbErr> {
        self.append_all(txn, at, vec![event])
            .await?
            .pop()
            .ok_or_else(|| DbErr::Custom("outbox insert returned no sequence".into()))
    }

    /// Appends `events`, in order, inside `txn` with as few statements as the database allows
    /// (one per [`APPEND_CHUNK`] events, and one lock); returns their sequences, ascending. Call
    /// last in the transaction, as [`Outbox::append`].
    pub async fn append_all(
        &self,
        txn: &impl ConnectionTrait,
        at: DateTime<Utc>,
        events: Vec<NewEvent>,
    ) -> Result<Vec<u64>, DbErr> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let backend = txn.get_database_backend();
        if backend == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT pg_advisory_xact_lock($1)",
                [APPEND_LOCK_KEY.into()],
            ))
            .await?;
        }
        let mut sequences = Vec::with_capacity(events.len());
        let size = |e: &NewEvent| {
            e.event_type.len()
                + e.aggregate_id.len()
                + e.customer_id.as_ref().map_or(0, String::len)
                + e.actor_id.len()
                + e.payload.type_url.len()
                + e.payload.value.len()
                + 64
        };
        for chunk in crate::db::statement_chunks(backend, &events, APPEND_CHUNK, size) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO outbox (event_type, aggregate_id, customer_id, actor_id, occurred_at, type_url, payload) \
                 VALUES {rows} RETURNING sequence"
            );
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
            for event in chunk {
                values.extend([
                    event.event_type.clone().into(),
                    event.aggregate_id.clone().into(),
                    event.customer_id.clone().into(),
                    event.actor_id.clone().into(),
                    at.into(),
                    event.payload.type_url.clone().into(),
                    event.payload.value.clone().into(),
                ]);
            }
            let rows = txn
                .query_all_raw(crate::db::statement(backend, &sql, values))
                .await?;
            let mut chunk_sequences = rows
                .iter()
                .map(|row| row.try_get::<i64>("", "sequence").map(|s| s as u64))
                .collect::<Result<Vec<_>, _>>()?;
            // Sequences are drawn in row order; RETURNING does not promise to list them so.
            chunk_sequences.sort_unstable();
            sequences.extend(chunk_sequences);
        }
        Ok(sequences)
    }

    /// Tells live followers in this process that a transaction with events committed. Followers
    /// in other processes find the events by polling.
    pub fn notify_committed(&self) {
        self.committed.send_replace(());
    }

    /// Events after `after_sequence`, at most `limit`, in sequence order.
    pub async fn read_after(
        &self,
        after_sequence: u64,
        limit: i64,
        event_types: &[String],
    ) -> Result<Vec<ChangeEvent>, DbErr> {
        let backend = self.db.get_database_backend();
        let placeholder = |n: usize| {
            if backend == DbBackend::Postgres {
                format!("${n}")
            } else {
                "?".into()
            }
        };
        let mut sql = format!(
            "SELECT sequence, event_type, aggregate_id, customer_id, actor_id, occurred_at, type_url, payload \
             FROM outbox WHERE sequence > {}",
            placeholder(1)
        );
        let mut values: Vec<Value> = vec![(after_sequence as i64).into()];
        if !event_types.is_empty() {
            let list = (0..event_types.len())
                .map(|i| placeholder(i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            sql.push_str(&format!(" AND event_type IN ({list})"));
            values.extend(event_types.iter().map(|t| Value::from(t.clone())));
        }
        sql.push_str(&format!(" ORDER BY sequence LIMIT {limit}"));
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        rows.into_iter()
            .map(|row| {
                let occurred_at: DateTime<Utc> = row.try_get("", "occurred_at")?;
                let sequence: i64 = row.try_get("", "sequence")?;
                let customer_id: Option<String> = row.try_get("", "customer_id")?;
                Ok(ChangeEvent {
                    sequence: sequence as u64,
                    event_type: row.try_get("", "event_type")?,
                    aggregate_id: row.try_get("", "aggregate_id")?,
                    occurred_at: Some(prost_types::Timestamp {
                        seconds: occurred_at.timestamp(),
                        nanos: occurred_at.timestamp_subsec_nanos() as i32,
                    }),
                    actor_id: row.try_get("", "actor_id")?,
                    payload: Some(prost_types::Any {
                        type_url: row.try_get("", "type_url")?,
                        value: row.try_get("", "payload")?,
                    }),
                    customer_id: customer_id.unwrap_or_default(),
                    // Only the gateway fills it in, for what it masked.
                    masked_fields: Vec::new(),
                })
            })
            .collect()
    }

    /// The highest sequence written so far (0 for an empty feed).
    pub async fn head(&self) -> Result<u64, DbErr> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COALESCE(MAX(sequence), 0) AS head FROM outbox",
            ))
            .await?;
        let head: i64 = match row {
            Some(row) => row.try_get("", "head")?,
            None => 0,
        };
        Ok(head as u64)
    }

    /// The change feed: every event after `after_sequence`, then new ones as they commit, until
    /// the receiver goes away or `shutdown` fires. Each event is delivered once, in order.
    pub fn watch(
        &self,
        after_sequence: u64,
        event_types: Vec<String>,
        mut shutdown: crate::server::ShutdownSignal,
    ) -> Pin<Box<dyn Stream<Item = Result<ChangeEvent, Problem>> + Send>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let outbox = self.clone();
        let mut committed = self.committed.subscribe();
        tokio::spawn(async move {
            let mut cursor = after_sequence;
            loop {
                let batch = match outbox.read_after(cursor, BATCH, &event_types).await {
                    Ok(batch) => batch,
                    Err(err) => {
                        let _ = sender.send(Err(Problem::from(err))).await;
                        return;
                    }
                };
                let caught_up = (batch.len() as i64) < BATCH;
                for event in batch {
                    cursor = event.sequence;
                    if sender.send(Ok(event)).await.is_err() {
                        return; // the client went away
                    }
                }
                if caught_up {
                    tokio::select! {
                        _ = committed.changed() => {}
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                        _ = sender.closed() => return,
                        _ = shutdown.wait() => return,
                    }
                }
            }
        });
        Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
    }
}

/// Creates the `outbox` table. Every service lists it in its migrator.
#[derive(Debug, Default)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0000_000001_kit_outbox"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Written per backend: the sequence must be an auto-incrementing 64-bit key that is
        // never reused, which the two databases spell differently.
        let table = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "CREATE TABLE outbox (
                    sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    event_type TEXT NOT NULL,
                    aggregate_id TEXT NOT NULL,
                    customer_id TEXT,
                    actor_id TEXT NOT NULL,
                    occurred_at TIMESTAMPTZ NOT NULL,
                    type_url TEXT NOT NULL,
                    payload BYTEA NOT NULL
                )"
            }
            _ => {
                "CREATE TABLE outbox (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_type TEXT NOT NULL,
                    aggregate_id TEXT NOT NULL,
                    customer_id TEXT,
                    actor_id TEXT NOT NULL,
                    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
                    type_url TEXT NOT NULL,
                    payload BLOB NOT NULL
                )"
            }
        };
        db.execute_unprepared(table).await?;
        db.execute_unprepared("CREATE INDEX outbox_aggregate ON outbox (aggregate_id, sequence)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE outbox")
            .await?;
        Ok(())
    }
}
