//! Recording, changing and listing feedback records.

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::db::begin_write;
use dossier_kit::outbox::NewEvent;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entities::feedback;
use super::{Inserted, NewRow, Store, finish, parse_body};
use crate::domain::feedback::FeedbackRecord;

/// Filters of a feedback list; unset filters do not filter.
#[derive(Debug, Clone, Default)]
pub struct FeedbackFilter {
    /// The customer.
    pub customer_id: String,
    /// The complaint.
    pub complaint_id: String,
    /// Given at or after.
    pub from_time: Option<DateTime<Utc>>,
    /// Given before.
    pub to_time: Option<DateTime<Utc>>,
    /// Only those without a follow-up.
    pub without_follow_up: bool,
}

fn row_of(r: &FeedbackRecord) -> Result<feedback::ActiveModel, Problem> {
    Ok(feedback::ActiveModel {
        id: Set(r.id.clone()),
        customer_id: Set(r.entry.customer_id.clone()),
        complaint_id: Set(r.entry.complaint_id.clone()),
        feedback_time: Set(r.entry.feedback_time.unwrap_or(r.created_at)),
        has_follow_up: Set(!r.entry.follow_up.trim().is_empty()),
        version: Set(r.version),
        body: Set(serde_json::to_string(r).map_err(Problem::internal)?),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
    })
}

fn event_of(verb: &str, r: &FeedbackRecord, actor: &str) -> NewEvent {
    NewEvent::new(
        format!("feedback.{verb}"),
        &r.id,
        Some(r.entry.customer_id.clone()),
        actor,
        &crate::wire::feedback_to_proto(r),
    )
}

async fn load(conn: &impl ConnectionTrait, id: &str) -> Result<FeedbackRecord, Problem> {
    let body = feedback::Entity::find_by_id(id.to_owned())
        .select_only()
        .column(feedback::Column::Body)
        .into_tuple::<String>()
        .one(conn)
        .await?
        .ok_or_else(|| Problem::not_found("feedback", id))?;
    parse_body(id, &body)
}

impl Store {
    /// Reads one feedback record.
    pub async fn get_feedback(&self, id: &str) -> Result<FeedbackRecord, Problem> {
        load(&self.db, id).await
    }

    /// Records feedback under `request_id`; a retry gets the record the first request made.
    pub async fn record_feedback(
        &self,
        record: FeedbackRecord,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<FeedbackRecord, Problem> {
        let event = event_of("recorded", &record, &record.recorded_by);
        let inserted = self
            .insert_idempotent(
                ("RecordFeedback", request_id, fingerprint),
                &record.id,
                NewRow::Feedback(row_of(&record)?),
                event,
                record.created_at,
            )
            .await?;
        match inserted {
            Inserted::New => Ok(record),
            Inserted::Replay(id) => self.get_feedback(&id).await,
        }
    }

    /// Applies `apply` to a feedback record in one transaction, etag checked, event written.
    pub async fn change_feedback<F>(
        &self,
        id: &str,
        etag: &str,
        actor: &str,
        now: DateTime<Utc>,
        apply: F,
    ) -> Result<FeedbackRecord, Problem>
    where
        F: FnOnce(&mut FeedbackRecord) -> Result<(), Problem>,
    {
        let txn = begin_write(&self.db).await?;
        let result = async {
            let before = load(&txn, id).await?;
            if !etag.is_empty() && etag != before.etag() {
                return Err(Problem::stale(etag, &before.etag()));
            }
            let mut after = before.clone();
            apply(&mut after)?;
            after.version = before.version + 1;
            after.updated_at = now;
            after.updated_by = actor.to_owned();
            let updated = feedback::Entity::update_many()
                .set(row_of(&after)?)
                .filter(feedback::Column::Id.eq(id))
                .filter(feedback::Column::Version.eq(before.version))
                .exec(&txn)
                .await?;
            if updated.rows_affected == 0 {
                return Err(Problem::stale(&before.etag(), "a newer version"));
            }
            self.outbox
                .append(&txn, now, event_of("updated", &after, actor))
                .await?;
            Ok(after)
        }
        .await;
        finish(&self.outbox, txn, result).await
    }

    /// A page of feedback records, newest first, and how many match in all.
    pub async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<FeedbackRecord>, u64), Problem> {
        let mut c = Condition::all();
        if !filter.customer_id.trim().is_empty() {
            c = c.add(feedback::Column::CustomerId.eq(filter.customer_id.trim()));
        }
        if !filter.complaint_id.trim().is_empty() {
            c = c.add(feedback::Column::ComplaintId.eq(filter.complaint_id.trim()));
        }
        if let Some(from) = filter.from_time {
            c = c.add(feedback::Column::FeedbackTime.gte(from));
        }
        if let Some(to) = filter.to_time {
            c = c.add(feedback::Column::FeedbackTime.lt(to));
        }
        if filter.without_follow_up {
            c = c.add(feedback::Column::HasFollowUp.eq(false));
        }
        let total = feedback::Entity::find()
            .filter(c.clone())
            .count(&self.db)
            .await?;
        let rows = feedback::Entity::find()
            .select_only()
            .column(feedback::Column::Id)
            .column(feedback::Column::Body)
            .filter(c)
            .order_by(feedback::Column::FeedbackTime, Order::Desc)
            .order_by(feedback::Column::Id, Order::Desc)
            .offset(offset)
            .limit(limit)
            .into_tuple::<(String, String)>()
            .all(&self.db)
            .await?;
        let records = rows
            .iter()
            .map(|(id, body)| parse_body(id, body))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, total))
    }
}
