//! Filing, changing and listing complaints.

use chrono::{DateTime, Duration, Utc};
use dossier_kit::Problem;
use dossier_kit::db::begin_write;
use dossier_kit::outbox::NewEvent;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entities::complaint;
use super::{Inserted, NewRow, Store, finish, parse_body};
use crate::domain::complaint::{ComplaintRecord, Reaction, State};

/// Filters of a complaint list; unset filters do not filter.
#[derive(Debug, Clone, Default)]
pub struct ComplaintFilter {
    /// The customer.
    pub customer_id: String,
    /// The state.
    pub state: Option<State>,
    /// The handler's `sub`.
    pub handler_id: String,
    /// Part of the subject.
    pub subject: String,
    /// Complaints made at or after.
    pub from_time: Option<DateTime<Utc>>,
    /// Complaints made before.
    pub to_time: Option<DateTime<Utc>>,
    /// Only those overdue at this time.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only those awaiting a reply and due in `(now, now + window]`: (now, window).
    pub due_within: Option<(DateTime<Utc>, Duration)>,
    /// Only escalated, not closed.
    pub escalated: bool,
    /// Only closed with this reaction.
    pub reaction: Option<Reaction>,
    /// Include closed complaints.
    pub include_closed: bool,
}

/// Sort orders of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ordering {
    /// By reply deadline (default): the most urgent first.
    #[default]
    ReplyDue,
    /// By complaint time.
    ComplaintTime,
    /// By last change.
    UpdateTime,
}

impl Ordering {
    /// Parses `order_by`: a field name optionally followed by ` desc` or ` asc`.
    pub fn parse(order_by: &str) -> Result<(Ordering, bool), Problem> {
        let text = order_by.trim();
        if text.is_empty() {
            return Ok((Ordering::ReplyDue, false));
        }
        let (field, descending) = match text.rsplit_once(' ') {
            Some((field, dir)) if dir.eq_ignore_ascii_case("desc") => (field.trim(), true),
            Some((field, dir)) if dir.eq_ignore_ascii_case("asc") => (field.trim(), false),
            _ => (text, false),
        };
        let ordering = match field {
            "reply_due_time" => Ordering::ReplyDue,
            "complaint_time" => Ordering::ComplaintTime,
            "update_time" => Ordering::UpdateTime,
            other => {
                return Err(Problem::invalid(
                    "order_by",
                    format!("{other:?} is not one of complaint_time, reply_due_time, update_time"),
                ));
            }
        };
        Ok((ordering, descending))
    }
}

/// The row of a record: the searchable columns are derived here and nowhere else.
fn row_of(r: &ComplaintRecord) -> Result<complaint::ActiveModel, Problem> {
    Ok(complaint::ActiveModel {
        id: Set(r.id.clone()),
        customer_id: Set(r.card.customer_id.clone()),
        state: Set(r.state.code().to_owned()),
        subject: Set(r.card.subject.clone()),
        handler_id: Set(r.handler.id.clone()),
        complaint_time: Set(r.card.complaint_time.unwrap_or(r.created_at)),
        reply_due_at: Set(r.reply_due),
        awaits_reply: Set(r.state.awaits_reply()),
        escalated: Set(r.is_escalated()),
        reaction: Set(r.reaction.map(|x| x.code().to_owned())),
        version: Set(r.version),
        body: Set(serde_json::to_string(r).map_err(Problem::internal)?),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
    })
}

fn event_of(verb: &str, r: &ComplaintRecord, actor: &str, now: DateTime<Utc>) -> NewEvent {
    NewEvent::new(
        format!("complaint.{verb}"),
        &r.id,
        Some(r.card.customer_id.clone()),
        actor,
        &crate::wire::complaint_to_proto(r, now),
    )
}

async fn load(conn: &impl ConnectionTrait, id: &str) -> Result<ComplaintRecord, Problem> {
    let row = complaint::Entity::find_by_id(id.to_owned())
        .select_only()
        .column(complaint::Column::Body)
        .into_tuple::<String>()
        .one(conn)
        .await?
        .ok_or_else(|| Problem::not_found("complaint", id))?;
    parse_body(id, &row)
}

fn condition_of(filter: &ComplaintFilter) -> Condition {
    let mut c = Condition::all();
    match filter.state {
        Some(state) => c = c.add(complaint::Column::State.eq(state.code())),
        None if !filter.include_closed => {
            c = c.add(complaint::Column::State.ne(State::Closed.code()))
        }
        None => {}
    }
    if !filter.customer_id.trim().is_empty() {
        c = c.add(complaint::Column::CustomerId.eq(filter.customer_id.trim()));
    }
    if !filter.handler_id.trim().is_empty() {
        c = c.add(complaint::Column::HandlerId.eq(filter.handler_id.trim()));
    }
    if !filter.subject.trim().is_empty() {
        c = c.add(complaint::Column::Subject.contains(filter.subject.trim()));
    }
    if let Some(from) = filter.from_time {
        c = c.add(complaint::Column::ComplaintTime.gte(from));
    }
    if let Some(to) = filter.to_time {
        c = c.add(complaint::Column::ComplaintTime.lt(to));
    }
    if let Some(now) = filter.overdue_at {
        // The same rule as `ComplaintRecord::is_overdue`: awaiting a reply, deadline reached.
        c = c
            .add(complaint::Column::AwaitsReply.eq(true))
            .add(complaint::Column::ReplyDueAt.lte(now));
    }
    if let Some((now, window)) = filter.due_within {
        c = c
            .add(complaint::Column::AwaitsReply.eq(true))
            .add(complaint::Column::ReplyDueAt.gt(now))
            .add(complaint::Column::ReplyDueAt.lte(now + window));
    }
    if filter.escalated {
        c = c.add(complaint::Column::Escalated.eq(true));
    }
    if let Some(reaction) = filter.reaction {
        c = c.add(complaint::Column::Reaction.eq(reaction.code()));
    }
    c
}

impl Store {
    /// Reads one complaint.
    pub async fn get(&self, id: &str) -> Result<ComplaintRecord, Problem> {
        load(&self.db, id).await
    }

    /// Files `record` under `request_id`; a retry (or a concurrent twin) gets the complaint the
    /// first request filed.
    pub async fn file(
        &self,
        record: ComplaintRecord,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<ComplaintRecord, Problem> {
        let event = event_of("filed", &record, &record.created_by, record.created_at);
        let inserted = self
            .insert_idempotent(
                ("FileComplaint", request_id, fingerprint),
                &record.id,
                NewRow::Complaint(row_of(&record)?),
                event,
                record.created_at,
            )
            .await?;
        match inserted {
            Inserted::New => Ok(record),
            Inserted::Replay(id) => self.get(&id).await,
        }
    }

    /// Applies `apply` to a complaint in one transaction: the etag is checked, the version
    /// bumped, the row and the `complaint.<verb>` event written, all or nothing.
    pub async fn change<F>(
        &self,
        id: &str,
        etag: &str,
        verb: &str,
        actor: &str,
        now: DateTime<Utc>,
        apply: F,
    ) -> Result<ComplaintRecord, Problem>
    where
        F: FnOnce(&mut ComplaintRecord) -> Result<(), Problem>,
    {
        let txn = begin_write(&self.db).await?;
        let result = async {
            let before = load(&txn, id).await?;
            before.check_etag(etag)?;
            let mut after = before.clone();
            apply(&mut after)?;
            after.version = before.version + 1;
            after.updated_at = now;
            after.updated_by = actor.to_owned();
            // Optimistic write: a concurrent change that committed first makes this match nothing.
            let updated = complaint::Entity::update_many()
                .set(row_of(&after)?)
                .filter(complaint::Column::Id.eq(id))
                .filter(complaint::Column::Version.eq(before.version))
                .exec(&txn)
                .await?;
            if updated.rows_affected == 0 {
                return Err(Problem::stale(&before.etag(), "a newer version"));
            }
            self.outbox
                .append(&txn, now, event_of(verb, &after, actor, now))
                .await?;
            Ok(after)
        }
        .await;
        finish(&self.outbox, txn, result).await
    }

    /// A page of complaints matching `filter`, and how many match in all.
    pub async fn list(
        &self,
        filter: &ComplaintFilter,
        ordering: Ordering,
        descending: bool,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ComplaintRecord>, u64), Problem> {
        let condition = condition_of(filter);
        let total = complaint::Entity::find()
            .filter(condition.clone())
            .count(&self.db)
            .await?;
        let direction = if descending { Order::Desc } else { Order::Asc };
        let column = match ordering {
            Ordering::ReplyDue => complaint::Column::ReplyDueAt,
            Ordering::ComplaintTime => complaint::Column::ComplaintTime,
            Ordering::UpdateTime => complaint::Column::UpdatedAt,
        };
        // A unique tie-breaker keeps pages stable when the sort key repeats.
        let rows = complaint::Entity::find()
            .select_only()
            .column(complaint::Column::Id)
            .column(complaint::Column::Body)
            .filter(condition)
            .order_by(column, direction.clone())
            .order_by(complaint::Column::Id, direction)
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

    /// Every complaint matching `filter` (closed ones included), for statistics.
    pub async fn all_matching(
        &self,
        filter: &ComplaintFilter,
    ) -> Result<Vec<ComplaintRecord>, Problem> {
        let filter = ComplaintFilter {
            include_closed: true,
            ..filter.clone()
        };
        let rows = complaint::Entity::find()
            .select_only()
            .column(complaint::Column::Id)
            .column(complaint::Column::Body)
            .filter(condition_of(&filter))
            .order_by(complaint::Column::ComplaintTime, Order::Asc)
            .into_tuple::<(String, String)>()
            .all(&self.db)
            .await?;
        rows.iter().map(|(id, body)| parse_body(id, body)).collect()
    }
}
