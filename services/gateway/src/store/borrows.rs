//! Borrow records. A borrow changes state in place (with a version for optimistic concurrency);
//! each change writes its outbox event in the same transaction. Nothing is deleted.

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::outbox::NewEvent;
use sea_orm::{ConnectionTrait, QueryResult};

use super::{Store, statement};
use crate::domain::borrow::BorrowState;
use crate::relations::Grant;

/// A borrow as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BorrowRecord {
    /// Id (UUIDv7).
    pub id: String,
    /// Who borrows (`sub`).
    pub borrower_id: String,
    /// Their name.
    pub borrower_name: String,
    /// The borrowed customer.
    pub customer_id: String,
    /// The customer's team when requested (whose manager decides).
    pub customer_team: String,
    /// Why.
    pub purpose: String,
    /// Free notes.
    pub notes: String,
    /// When requested.
    pub request_time: DateTime<Utc>,
    /// When approved.
    pub from_time: Option<DateTime<Utc>>,
    /// Due time.
    pub until: DateTime<Utc>,
    /// State.
    pub state: BorrowState,
    /// Who decided.
    pub approver_id: String,
    /// Their name.
    pub approver_name: String,
    /// When decided.
    pub decide_time: Option<DateTime<Utc>>,
    /// The decision's comment or reason.
    pub decision_comment: String,
    /// When returned.
    pub return_time: Option<DateTime<Utc>>,
    /// Returned after its due time.
    pub returned_late: bool,
    /// Version, bumped on every change (the etag).
    pub version: i64,
}

/// Which borrows to list.
#[derive(Debug, Clone, Default)]
pub struct BorrowFilter {
    /// Only this state.
    pub state: Option<BorrowState>,
    /// Only active borrows past their due time at `now`.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only this borrower.
    pub borrower_id: Option<String>,
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only customers of this team.
    pub team: Option<String>,
}

const COLUMNS: &str = "id, borrower_id, borrower_name, customer_id, customer_team, purpose, notes, \
     request_time, from_time, until, state, approver_id, approver_name, decide_time, \
     decision_comment, return_time, returned_late, version";

fn from_row(row: &QueryResult) -> Result<BorrowRecord, Problem> {
    let state: i32 = row.try_get("", "state").map_err(Problem::from)?;
    Ok(BorrowRecord {
        id: row.try_get("", "id").map_err(Problem::from)?,
        borrower_id: row.try_get("", "borrower_id").map_err(Problem::from)?,
        borrower_name: row.try_get("", "borrower_name").map_err(Problem::from)?,
        customer_id: row.try_get("", "customer_id").map_err(Problem::from)?,
        customer_team: row.try_get("", "customer_team").map_err(Problem::from)?,
        purpose: row.try_get("", "purpose").map_err(Problem::from)?,
        notes: row.try_get("", "notes").map_err(Problem::from)?,
        request_time: row.try_get("", "request_time").map_err(Problem::from)?,
        from_time: row.try_get("", "from_time").map_err(Problem::from)?,
        until: row.try_get("", "until").map_err(Problem::from)?,
        state: BorrowState::from_number(state)
            .ok_or_else(|| Problem::internal(format!("borrow state {state} unknown")))?,
        approver_id: row.try_get("", "approver_id").map_err(Problem::from)?,
        approver_name: row.try_get("", "approver_name").map_err(Problem::from)?,
        decide_time: row.try_get("", "decide_time").map_err(Problem::from)?,
        decision_comment: row.try_get("", "decision_comment").map_err(Problem::from)?,
        return_time: row.try_get("", "return_time").map_err(Problem::from)?,
        returned_late: row.try_get("", "returned_late").map_err(Problem::from)?,
        version: row.try_get("", "version").map_err(Problem::from)?,
    })
}

impl Store {
    /// Stores a new borrow request with its event.
    pub async fn insert_borrow(
        &self,
        record: &BorrowRecord,
        event: NewEvent,
        idempotency: Option<(&str, &str)>,
    ) -> Result<(), Problem> {
        let txn = dossier_kit::db::begin_write(&self.db).await?;
        let backend = txn.get_database_backend();
        txn.execute_raw(statement(
            backend,
            &format!(
                "INSERT INTO borrows ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            [
                record.id.clone().into(),
                record.borrower_id.clone().into(),
                record.borrower_name.clone().into(),
                record.customer_id.clone().into(),
                record.customer_team.clone().into(),
                record.purpose.clone().into(),
                record.notes.clone().into(),
                record.request_time.into(),
                record.from_time.into(),
                record.until.into(),
                record.state.number().into(),
                record.approver_id.clone().into(),
                record.approver_name.clone().into(),
                record.decide_time.into(),
                record.decision_comment.clone().into(),
                record.return_time.into(),
                record.returned_late.into(),
                record.version.into(),
            ],
        ))
        .await?;
        if let Some((key, fingerprint)) = idempotency {
            dossier_kit::idempotency::record(
                &txn,
                "gateway.RequestBorrow",
                key,
                fingerprint,
                &record.id,
                record.request_time,
            )
            .await?;
        }
        self.outbox.append(&txn, record.request_time, event).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// Writes a changed borrow if it is still at `expected_version`; `ABORTED` otherwise.
    pub async fn update_borrow(
        &self,
        record: &BorrowRecord,
        expected_version: i64,
        at: DateTime<Utc>,
        event: NewEvent,
    ) -> Result<(), Problem> {
        let txn = dossier_kit::db::begin_write(&self.db).await?;
        let backend = txn.get_database_backend();
        let result = txn
            .execute_raw(statement(
                backend,
                "UPDATE borrows SET from_time = ?, until = ?, state = ?, approver_id = ?, \
                 approver_name = ?, decide_time = ?, decision_comment = ?, return_time = ?, \
                 returned_late = ?, notes = ?, version = ? WHERE id = ? AND version = ?",
                [
                    record.from_time.into(),
                    record.until.into(),
                    record.state.number().into(),
                    record.approver_id.clone().into(),
                    record.approver_name.clone().into(),
                    record.decide_time.into(),
                    record.decision_comment.clone().into(),
                    record.return_time.into(),
                    record.returned_late.into(),
                    record.notes.clone().into(),
                    record.version.into(),
                    record.id.clone().into(),
                    expected_version.into(),
                ],
            ))
            .await?;
        if result.rows_affected() != 1 {
            return Err(Problem::Aborted {
                message: format!("borrow {} changed meanwhile; read it again", record.id),
            });
        }
        self.outbox.append(&txn, at, event).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// One borrow.
    pub async fn borrow(&self, id: &str) -> Result<Option<BorrowRecord>, Problem> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                &format!("SELECT {COLUMNS} FROM borrows WHERE id = ?"),
                [id.to_owned().into()],
            ))
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The borrow a request id produced before, if any (see the kit's idempotency).
    pub async fn prior_borrow(
        &self,
        key: &str,
        fingerprint: &str,
    ) -> Result<Option<BorrowRecord>, Problem> {
        match dossier_kit::idempotency::check(&self.db, "gateway.RequestBorrow", key, fingerprint)
            .await?
        {
            dossier_kit::idempotency::Prior::New => Ok(None),
            dossier_kit::idempotency::Prior::Replay(id) => self.borrow(&id).await,
        }
    }

    /// A page of borrows, newest first, and the total matching.
    pub async fn list_borrows(
        &self,
        filter: &BorrowFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<BorrowRecord>, u64), Problem> {
        let backend = self.db.get_database_backend();
        let mut clauses = Vec::new();
        let mut values: Vec<sea_orm::Value> = Vec::new();
        if let Some(state) = filter.state {
            clauses.push("state = ?");
            values.push(state.number().into());
        }
        if let Some(now) = filter.overdue_at {
            clauses.push("state = ? AND until <= ?");
            values.push(BorrowState::Active.number().into());
            values.push(now.into());
        }
        if let Some(borrower) = &filter.borrower_id {
            clauses.push("borrower_id = ?");
            values.push(borrower.clone().into());
        }
        if let Some(customer) = &filter.customer_id {
            clauses.push("customer_id = ?");
            values.push(customer.clone().into());
        }
        if let Some(team) = &filter.team {
            clauses.push("customer_team = ?");
            values.push(team.clone().into());
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let total_row = self
            .db
            .query_one_raw(statement(
                backend,
                &format!("SELECT COUNT(*) AS n FROM borrows{filter_sql}"),
                values.clone(),
            ))
            .await?;
        let total: i64 = match total_row {
            Some(row) => row.try_get("", "n").map_err(Problem::from)?,
            None => 0,
        };
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT {COLUMNS} FROM borrows{filter_sql} ORDER BY request_time DESC, id DESC LIMIT {limit} OFFSET {offset}"
                ),
                values,
            ))
            .await?;
        let records = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((records, total.max(0) as u64))
    }

    /// The approved, not yet returned borrows of `borrower` (their due time is checked by the
    /// caller against the clock).
    pub async fn active_grants(&self, borrower: &str) -> Result<Vec<Grant>, Problem> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                "SELECT id, customer_id, until FROM borrows WHERE borrower_id = ? AND state = ?",
                [
                    borrower.to_owned().into(),
                    BorrowState::Active.number().into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Grant {
                    id: row.try_get("", "id").map_err(Problem::from)?,
                    customer_id: row.try_get("", "customer_id").map_err(Problem::from)?,
                    until: row.try_get("", "until").map_err(Problem::from)?,
                })
            })
            .collect()
    }
}
