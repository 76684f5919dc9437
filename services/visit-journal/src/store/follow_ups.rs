//! Key-account follow-up sheets (重点客户业务跟进表): interviews and quotes, numbered per customer.

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::db::begin_write;
use dossier_kit::idempotency;
use dossier_proto::visit as pb;

use super::{RequestKey, Store, emit, execute, get, query, query_one, write_error};

/// One entry of a sheet as stored.
#[derive(Debug, Clone)]
pub enum SheetEntry {
    /// An interview.
    Interview(pb::FollowUpInterview),
    /// A quote.
    Quote(pb::Quote),
}

impl Store {
    /// Adds an entry of `kind` (`interview` or `quote`) to a customer's sheet, numbered after the
    /// last of its kind; `build` makes the message from its number.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_follow_up<M: prost::Name>(
        &self,
        customer_id: &str,
        kind: &'static str,
        id: &str,
        entry_date: &str,
        key: RequestKey<'_>,
        actor: &str,
        now: DateTime<Utc>,
        build: impl FnOnce(i32) -> M,
    ) -> Result<M, Problem> {
        let txn = begin_write(&self.db).await?;
        let last = query_one(
            &txn,
            "SELECT COALESCE(MAX(number), 0) AS n FROM follow_ups WHERE customer_id = ? AND entry_kind = ?",
            vec![customer_id.into(), kind.into()],
        )
        .await?;
        let number = last.map(|r| get::<i32>(&r, "n")).transpose()?.unwrap_or(0) + 1;
        let message = build(number);
        execute(
            &txn,
            "INSERT INTO follow_ups (id, customer_id, entry_kind, number, entry_date, created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.into(),
                customer_id.into(),
                kind.into(),
                number.into(),
                entry_date.into(),
                now.into(),
                message.encode_to_vec().into(),
            ],
        )
        .await
        .map_err(write_error)?;
        idempotency::record(&txn, key.scope, key.request_id, key.fingerprint, id, now)
            .await
            .map_err(write_error)?;
        emit(
            &self.outbox,
            &txn,
            now,
            &format!("follow_up.{kind}_added"),
            id,
            Some(customer_id.to_owned()),
            actor,
            &message,
        )
        .await?;
        txn.commit().await.map_err(write_error)?;
        self.outbox.notify_committed();
        Ok(message)
    }

    /// One stored entry by id.
    pub async fn get_follow_up(&self, id: &str) -> Result<SheetEntry, Problem> {
        let row = query_one(
            &self.db,
            "SELECT entry_kind, body FROM follow_ups WHERE id = ?",
            vec![id.into()],
        )
        .await?
        .ok_or_else(|| Problem::not_found("follow_up", id))?;
        entry_of(&row)
    }

    /// A customer's sheet in date order (interviews before quotes of the same day).
    pub async fn follow_up_sheet(&self, customer_id: &str) -> Result<Vec<SheetEntry>, Problem> {
        query(
            &self.db,
            "SELECT entry_kind, body FROM follow_ups WHERE customer_id = ? ORDER BY entry_date, entry_kind, number",
            vec![customer_id.into()],
        )
        .await?
        .iter()
        .map(entry_of)
        .collect()
    }
}

fn entry_of(row: &sea_orm::QueryResult) -> Result<SheetEntry, Problem> {
    let kind: String = get(row, "entry_kind")?;
    Ok(if kind == "quote" {
        SheetEntry::Quote(super::decode(row)?)
    } else {
        SheetEntry::Interview(super::decode(row)?)
    })
}
