//! Storage of visit-journal: the tables (see [`migration`]), the queries, and the outbox event of
//! every change written in the same transaction as the change.
//!
//! Journals, reports and work plans need nothing beyond the generic record functions at the end
//! of this module ([`Store::insert_record`], [`Store::replace_record`], [`Store::list`]).
//!
//! Queries are plain SQL with `?` placeholders (numbered for PostgreSQL by [`statement`]): the
//! records are kept as encoded messages beside a few indexed columns, which sea-orm's entity
//! layer would only wrap.

pub mod migration;

mod follow_ups;
mod plans;
mod visits;

pub use follow_ups::SheetEntry;
pub use plans::{PlanOwner, StoredPlan};
pub use plans::{PlanRow, ProgressFilter, ProgressRow};
pub use visits::{NewVisit, VisitOrder};

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::idempotency::{self, Prior};
use dossier_kit::outbox::{NewEvent, Outbox};
use dossier_kit::problem::is_unique_violation;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement, Value,
};

/// The service's storage.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    outbox: Outbox,
}

/// A create guarded by a request id (AIP-155).
#[derive(Debug, Clone, Copy)]
pub struct RequestKey<'a> {
    /// The method, e.g. `RecordVisit`.
    pub scope: &'a str,
    /// The client's request id.
    pub request_id: &'a str,
    /// Fingerprint of the request's content.
    pub fingerprint: &'a str,
}

impl Store {
    /// Storage over a migrated database.
    pub fn new(db: DatabaseConnection) -> Self {
        let outbox = Outbox::new(db.clone());
        Self { db, outbox }
    }

    /// The change feed.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The connection pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The id a request with this key produced before, if it was made.
    pub async fn replayed(&self, key: &RequestKey<'_>) -> Result<Option<String>, Problem> {
        match idempotency::check(&self.db, key.scope, key.request_id, key.fingerprint).await? {
            Prior::New => Ok(None),
            Prior::Replay(id) => Ok(Some(id)),
        }
    }
}

/// A statement for `backend` from SQL with `?` placeholders (numbered `$n` on PostgreSQL).
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push('$');
                numbered.push_str(&n.to_string());
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Runs a statement; returns the rows affected.
pub(crate) async fn execute(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    Ok(conn
        .execute_raw(statement(backend, sql, values))
        .await?
        .rows_affected())
}

/// Runs a query.
pub(crate) async fn query(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, DbErr> {
    let backend = conn.get_database_backend();
    conn.query_all_raw(statement(backend, sql, values)).await
}

/// Runs a query for at most one row.
pub(crate) async fn query_one(
    conn: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<QueryResult>, DbErr> {
    let backend = conn.get_database_backend();
    conn.query_one_raw(statement(backend, sql, values)).await
}

/// A column of a row.
pub(crate) fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T, Problem> {
    row.try_get("", column).map_err(Problem::from)
}

/// Decodes the stored message of a row.
pub(crate) fn decode<M: Message + Default>(row: &QueryResult) -> Result<M, Problem> {
    let bytes: Vec<u8> = get(row, "body")?;
    M::decode(bytes.as_slice())
        .map_err(|e| Problem::internal(format!("stored record unreadable: {e}")))
}

/// A database error of a write: a unique violation means a concurrent writer got there first.
pub(crate) fn write_error(err: DbErr) -> Problem {
    if is_unique_violation(&err) {
        Problem::Aborted {
            message: "a concurrent change won; read again and retry".into(),
        }
    } else {
        err.into()
    }
}

/// Refuses a stale etag.
pub(crate) fn check_etag(expected: &str, version: i64) -> Result<(), Problem> {
    if !expected.is_empty() && expected != version.to_string() {
        return Err(Problem::stale(expected, &version.to_string()));
    }
    Ok(())
}

/// Appends the event of a change.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn emit<M: prost::Name>(
    outbox: &Outbox,
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
    event_type: &str,
    aggregate_id: &str,
    customer_id: Option<String>,
    actor: &str,
    payload: &M,
) -> Result<(), Problem> {
    outbox
        .append(
            conn,
            at,
            NewEvent::new(event_type, aggregate_id, customer_id, actor, payload),
        )
        .await?;
    Ok(())
}

/// Conjunctive filters of a list query.
#[derive(Debug, Default)]
pub(crate) struct Where {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Where {
    /// `column = value`, skipped when `value` is empty.
    pub fn eq_text(&mut self, column: &str, value: &str) -> &mut Self {
        if !value.is_empty() {
            self.raw(&format!("{column} = ?"), vec![value.into()]);
        }
        self
    }

    /// Any clause with its values.
    pub fn raw(&mut self, clause: &str, values: Vec<Value>) -> &mut Self {
        self.clauses.push(clause.to_owned());
        self.values.extend(values);
        self
    }

    /// The `WHERE …` text (empty when there is no filter) and its values.
    pub fn build(&self) -> (String, Vec<Value>) {
        if self.clauses.is_empty() {
            (String::new(), Vec::new())
        } else {
            (
                format!(" WHERE {}", self.clauses.join(" AND ")),
                self.values.clone(),
            )
        }
    }
}

/// One page of stored messages of `table` matching `filter`, and how many match in all.
pub(crate) async fn list_page<M: Message + Default>(
    conn: &impl ConnectionTrait,
    table: &str,
    filter: &Where,
    order_by: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<M>, u64), Problem> {
    let (clause, values) = filter.build();
    let count = query_one(
        conn,
        &format!("SELECT COUNT(*) AS n FROM {table}{clause}"),
        values.clone(),
    )
    .await?;
    let total: i64 = match count {
        Some(row) => get(&row, "n")?,
        None => 0,
    };
    let rows = query(
        conn,
        &format!(
            "SELECT body FROM {table}{clause} ORDER BY {order_by} LIMIT {} OFFSET {}",
            limit.min(i64::MAX as u64),
            offset.min(i64::MAX as u64)
        ),
        values,
    )
    .await?;
    let items = rows.iter().map(decode).collect::<Result<Vec<M>, _>>()?;
    Ok((items, total.max(0) as u64))
}

/// Reads the stored message and version of `table`'s row `id`.
pub(crate) async fn load<M: Message + Default>(
    conn: &impl ConnectionTrait,
    table: &str,
    resource: &'static str,
    id: &str,
) -> Result<(M, i64), Problem> {
    let row = query_one(
        conn,
        &format!("SELECT body, version FROM {table} WHERE id = ?"),
        vec![id.into()],
    )
    .await?
    .ok_or_else(|| Problem::not_found(resource, id))?;
    Ok((decode(&row)?, get(&row, "version")?))
}

/// Replaces the stored message of `table`'s row `id` at `version` (the one read), with `sets`
/// (more `column = ?` assignments) beside it; a concurrent change in between is ABORTED.
pub(crate) async fn replace(
    conn: &impl ConnectionTrait,
    table: &str,
    id: &str,
    version: i64,
    body: Vec<u8>,
    sets: Vec<(&str, Value)>,
) -> Result<(), Problem> {
    let mut assignments = vec!["body = ?".to_owned(), "version = version + 1".to_owned()];
    let mut values: Vec<Value> = vec![body.into()];
    for (column, value) in sets {
        assignments.push(format!("{column} = ?"));
        values.push(value);
    }
    values.push(id.into());
    values.push(version.into());
    let changed = execute(
        conn,
        &format!(
            "UPDATE {table} SET {} WHERE id = ? AND version = ?",
            assignments.join(", ")
        ),
        values,
    )
    .await?;
    if changed == 0 {
        return Err(Problem::Aborted {
            message: "a concurrent change won; read again and retry".into(),
        });
    }
    Ok(())
}

/// A fresh record id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A new record of one of the body tables, with its event.
pub(crate) struct NewRecord<'a, M: prost::Name> {
    /// Table.
    pub table: &'static str,
    /// Columns besides `body`.
    pub columns: &'a [&'a str],
    /// Their values.
    pub values: Vec<Value>,
    /// The record.
    pub message: &'a M,
    /// Its id.
    pub id: &'a str,
    /// The customer concerned.
    pub customer_id: Option<String>,
    /// Idempotency, for creates that take a request id.
    pub key: Option<RequestKey<'a>>,
    /// Event type.
    pub event_type: &'a str,
    /// Who.
    pub actor: &'a str,
    /// When.
    pub now: DateTime<Utc>,
}

impl Store {
    /// Inserts a record with its request id and event in one transaction. A unique violation
    /// (a concurrent duplicate, or a second record where one is allowed) is ABORTED.
    pub(crate) async fn insert_record<M: prost::Name>(
        &self,
        new: NewRecord<'_, M>,
    ) -> Result<(), Problem> {
        let txn = dossier_kit::db::begin_write(&self.db).await?;
        let placeholders = vec!["?"; new.columns.len() + 1].join(", ");
        let mut values = new.values;
        values.push(new.message.encode_to_vec().into());
        execute(
            &txn,
            &format!(
                "INSERT INTO {} ({}, body) VALUES ({placeholders})",
                new.table,
                new.columns.join(", ")
            ),
            values,
        )
        .await
        .map_err(write_error)?;
        if let Some(key) = new.key {
            idempotency::record(
                &txn,
                key.scope,
                key.request_id,
                key.fingerprint,
                new.id,
                new.now,
            )
            .await
            .map_err(write_error)?;
        }
        emit(
            &self.outbox,
            &txn,
            new.now,
            new.event_type,
            new.id,
            new.customer_id,
            new.actor,
            new.message,
        )
        .await?;
        txn.commit().await.map_err(write_error)?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// Replaces a record read at `version` and appends its event, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn replace_record<M: prost::Name>(
        &self,
        table: &str,
        id: &str,
        version: i64,
        message: &M,
        sets: Vec<(&str, Value)>,
        event_type: &str,
        customer_id: Option<String>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Problem> {
        let txn = dossier_kit::db::begin_write(&self.db).await?;
        replace(&txn, table, id, version, message.encode_to_vec(), sets).await?;
        emit(
            &self.outbox,
            &txn,
            now,
            event_type,
            id,
            customer_id,
            actor,
            message,
        )
        .await?;
        txn.commit().await.map_err(write_error)?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// One record of a body table and its version.
    pub(crate) async fn load<M: Message + Default>(
        &self,
        table: &str,
        resource: &'static str,
        id: &str,
    ) -> Result<(M, i64), Problem> {
        load(&self.db, table, resource, id).await
    }

    /// A page of records of a body table.
    pub(crate) async fn list<M: Message + Default>(
        &self,
        table: &str,
        filter: &Where,
        order_by: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<M>, u64), Problem> {
        list_page(&self.db, table, filter, order_by, offset, limit).await
    }
}
