//! Opening, changing, listing and merging archives.

use chrono::{DateTime, Datelike, Utc};
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use dossier_kit::db::begin_write;
use dossier_kit::idempotency::{self, Prior};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::entities::customer;
use super::{
    Change, Store, emit_customer, explain_conflict, insert_version, load, model_from_record,
};
use crate::domain::card::{self, CustomerCard, CustomerRecord, archive_number, changed_fields};
use crate::domain::classification::*;
use crate::domain::name::normalise_name;

/// Filters of a customer list; unset filters do not filter.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Part of the name, or an exact archive number or credit code.
    pub query: String,
    /// Kind.
    pub kind: Option<CustomerKind>,
    /// Grade.
    pub grade: Option<Grade>,
    /// Region, exact or a prefix ending in `/`.
    pub region: String,
    /// Route.
    pub route_code: String,
    /// Responsible salesperson.
    pub owner_id: String,
    /// Lifecycle.
    pub lifecycle: Option<Lifecycle>,
    /// Only those whose review is due at or before this time.
    pub review_due_before: Option<DateTime<Utc>>,
    /// Customer type.
    pub customer_type: Option<CustomerType>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Team.
    pub team: String,
    /// Trade standing.
    pub trade_standing: Option<TradeStanding>,
    /// Custodian.
    pub custodian_id: String,
    /// Include archived and merged archives.
    pub include_archived: bool,
}

/// Sort orders of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ordering {
    /// By archive number (default).
    #[default]
    ArchiveNo,
    /// By name.
    Name,
    /// By opening time.
    CreateTime,
    /// By last change.
    UpdateTime,
    /// By review due date.
    ReviewDueAt,
    /// By route code, then order within the route (a salesperson's visiting order).
    Route,
}

impl Ordering {
    /// Parses `order_by`: a field name optionally followed by ` desc`.
    pub fn parse(order_by: &str) -> Result<(Ordering, bool), dossier_kit::FieldViolation> {
        let text = order_by.trim();
        if text.is_empty() {
            return Ok((Ordering::ArchiveNo, false));
        }
        let (field, descending) = match text.rsplit_once(' ') {
            Some((field, dir)) if dir.eq_ignore_ascii_case("desc") => (field.trim(), true),
            Some((field, dir)) if dir.eq_ignore_ascii_case("asc") => (field.trim(), false),
            _ => (text, false),
        };
        let ordering = match field {
            "archive_no" => Ordering::ArchiveNo,
            "name" => Ordering::Name,
            "create_time" => Ordering::CreateTime,
            "update_time" => Ordering::UpdateTime,
            "review_due_at" => Ordering::ReviewDueAt,
            "route" => Ordering::Route,
            other => {
                return Err(dossier_kit::FieldViolation::new(
                    "order_by",
                    format!(
                        "{other:?} is not one of archive_no, name, create_time, update_time, review_due_at, route"
                    ),
                ));
            }
        };
        Ok((ordering, descending))
    }
}

/// An existing archive that may describe the same customer.
#[derive(Debug, Clone)]
pub struct Duplicate {
    /// Id.
    pub id: String,
    /// Archive number.
    pub archive_no: String,
    /// Name.
    pub name: String,
    /// Why it matched: true for the credit code, false for the name.
    pub by_credit_code: bool,
    /// Its state.
    pub state: CustomerState,
}

impl Store {
    /// Opens an archive. Idempotent by `request_id`: a retry with the same content returns the
    /// archive the first call opened.
    pub async fn create(
        &self,
        caller: &Caller,
        mut card: CustomerCard,
        request_id: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        review_interval_days: i64,
    ) -> Result<CustomerRecord, Problem> {
        const SCOPE: &str = "CreateCustomer";
        if let Prior::Replay(id) =
            idempotency::check(&self.db, SCOPE, request_id, fingerprint).await?
        {
            return self.get(&id).await;
        }
        if let Some(code) = &card.credit_code
            && let Some(existing) = customer::Entity::find()
                .filter(customer::Column::CreditCode.eq(code.as_str()))
                .one(&self.db)
                .await?
        {
            // A concurrent retry of this very request may have just opened it.
            if let Prior::Replay(id) =
                idempotency::check(&self.db, SCOPE, request_id, fingerprint).await?
            {
                return self.get(&id).await;
            }
            return Err(super::credit_code_taken(&existing.id, &existing.archive_no));
        }
        if card.owner_id.is_empty() {
            card.owner_id = caller.sub.clone();
        }
        if card.team.is_empty() {
            card.team = caller.team.clone();
        }

        let txn = begin_write(&self.db).await?;
        let sequence = next_archive_numbers(&txn, now.year(), 1).await?;
        let record = new_record(
            card,
            archive_number(now.year(), sequence),
            caller,
            now,
            review_interval_days,
        );
        // Unique violations are kept apart: they mean a concurrent request won a race.
        let written: Result<(), Result<sea_orm::DbErr, Problem>> = async {
            let row = model_from_record(&record).map_err(Err)?;
            customer::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(Ok)?;
            let filled = filled_fields(&record.card);
            insert_version(&txn, &record, ChangeKind::Created, &caller.sub, &filled, "")
                .await
                .map_err(Err)?;
            idempotency::record(&txn, SCOPE, request_id, fingerprint, &record.id, now)
                .await
                .map_err(Ok)?;
            emit_customer(&self.outbox, &txn, "created", &record, &caller.sub)
                .await
                .map_err(Err)?;
            txn.commit().await.map_err(Ok)
        }
        .await;
        match written {
            Ok(()) => {
                self.outbox.notify_committed();
                Ok(record)
            }
            Err(Err(problem)) => Err(problem),
            Err(Ok(db_error)) => {
                // The transaction is rolled back when dropped. Either the same request won
                // (answer with its result) or another archive holds the credit code.
                if let Prior::Replay(id) =
                    idempotency::check(&self.db, SCOPE, request_id, fingerprint).await?
                {
                    return self.get(&id).await;
                }
                Err(explain_conflict(&self.db, &record.card, db_error).await)
            }
        }
    }

    /// Applies `apply` to an archive in one transaction: the etag is checked, the version bumped,
    /// the version row and the event written, all or nothing. A change that changes nothing is
    /// not recorded.
    pub async fn change<F>(
        &self,
        id: &str,
        change: Change<'_>,
        apply: F,
    ) -> Result<CustomerRecord, Problem>
    where
        F: FnOnce(&mut CustomerRecord) -> Result<String, Problem>,
    {
        let txn = begin_write(&self.db).await?;
        let result = self.change_in(&txn, id, change, apply).await;
        finish(&self.outbox, txn, result).await
    }

    /// [`Store::change`] inside a transaction the caller commits.
    pub(super) async fn change_in<F>(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        id: &str,
        change: Change<'_>,
        apply: F,
    ) -> Result<CustomerRecord, Problem>
    where
        F: FnOnce(&mut CustomerRecord) -> Result<String, Problem>,
    {
        let before = load(txn, id).await?;
        before.check_etag(change.etag)?;
        let mut after = before.clone();
        let note = apply(&mut after)?;
        let mut changed = changed_fields(&before.card, &after.card);
        for (field, differs) in [
            ("state", before.state != after.state),
            (
                "merged_into_id",
                before.merged_into_id != after.merged_into_id,
            ),
            ("review_due_at", before.review_due_at != after.review_due_at),
            (
                "last_reviewed_at",
                before.last_reviewed_at != after.last_reviewed_at,
            ),
        ] {
            if differs {
                changed.push(field.to_owned());
            }
        }
        if changed.is_empty() && change.kind == ChangeKind::Updated {
            return Ok(before);
        }
        after.version = before.version + 1;
        after.updated_at = change.now;
        after.updated_by = change.caller.sub.clone();
        // Optimistic write: a concurrent change that committed first makes this match nothing.
        let updated = customer::Entity::update_many()
            .set(model_from_record(&after)?)
            .filter(customer::Column::Id.eq(id))
            .filter(customer::Column::Version.eq(before.version))
            .exec(txn)
            .await;
        let updated = match updated {
            Ok(updated) => updated,
            Err(err) => return Err(explain_conflict(&self.db, &after.card, err).await),
        };
        if updated.rows_affected == 0 {
            return Err(Problem::stale(&before.etag(), "a newer version"));
        }
        insert_version(
            txn,
            &after,
            change.kind,
            &change.caller.sub,
            &changed,
            &note,
        )
        .await?;
        emit_customer(&self.outbox, txn, change.verb, &after, &change.caller.sub).await?;
        Ok(after)
    }

    /// A page of archives matching `filter`, and how many match in all.
    pub async fn list(
        &self,
        filter: &CustomerFilter,
        ordering: Ordering,
        descending: bool,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<CustomerRecord>, u64), Problem> {
        let condition = condition_of(filter);
        let total = customer::Entity::find()
            .filter(condition.clone())
            .count(&self.db)
            .await?;
        let direction = if descending { Order::Desc } else { Order::Asc };
        let mut query = customer::Entity::find()
            .select_only()
            .columns(super::RECORD_COLUMNS)
            .filter(condition);
        query = match ordering {
            Ordering::ArchiveNo => query.order_by(customer::Column::ArchiveNo, direction.clone()),
            Ordering::Name => query.order_by(customer::Column::Name, direction.clone()),
            Ordering::CreateTime => query.order_by(customer::Column::CreatedAt, direction.clone()),
            Ordering::UpdateTime => query.order_by(customer::Column::UpdatedAt, direction.clone()),
            Ordering::ReviewDueAt => {
                query.order_by(customer::Column::ReviewDueAt, direction.clone())
            }
            Ordering::Route => query
                .order_by(customer::Column::RouteCode, direction.clone())
                .order_by(customer::Column::RouteOrder, direction.clone()),
        };
        // A unique tie-breaker keeps pages stable when the sort key repeats.
        let models = query
            .order_by(customer::Column::Id, direction)
            .offset(offset)
            .limit(limit)
            .into_model::<super::RecordRow>()
            .all(&self.db)
            .await?;
        let records = models
            .into_iter()
            .map(super::record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, total))
    }

    /// Archives that may describe the same customer as `card` (same credit code or same normalised
    /// name), strongest first, `exclude` left out.
    pub async fn find_duplicates(
        &self,
        card: &CustomerCard,
        exclude: &str,
    ) -> Result<Vec<Duplicate>, Problem> {
        let mut found: Vec<Duplicate> = Vec::new();
        if let Some(code) = &card.credit_code {
            // Merged archives release the column; their cards still hold the code.
            for m in customer::Entity::find()
                .filter(customer::Column::CreditCode.eq(code.as_str()))
                .all(&self.db)
                .await?
            {
                found.push(duplicate_of(m, true)?);
            }
        }
        let key = normalise_name(&card.name);
        if !key.is_empty() {
            for m in customer::Entity::find()
                .filter(customer::Column::NameKey.eq(key))
                .order_by_asc(customer::Column::ArchiveNo)
                .limit(50)
                .all(&self.db)
                .await?
            {
                if !found.iter().any(|d| d.id == m.id) {
                    found.push(duplicate_of(m, false)?);
                }
            }
        }
        found.retain(|d| d.id != exclude);
        Ok(found)
    }

    /// Merges `merged_id` into `survivor_id`: the survivor fills its gaps from the duplicate, the
    /// duplicate's documents move to the survivor's catalogue (keeping their old archive number),
    /// the duplicate becomes MERGED and points at the survivor. Both histories record it.
    pub async fn merge(
        &self,
        caller: &Caller,
        survivor_id: &str,
        merged_id: &str,
        survivor_etag: &str,
        now: DateTime<Utc>,
    ) -> Result<CustomerRecord, Problem> {
        if survivor_id == merged_id {
            return Err(Problem::invalid(
                "merged_id",
                "must differ from survivor_id",
            ));
        }
        let txn = begin_write(&self.db).await?;
        let result = async {
            let survivor = load(&txn, survivor_id).await?;
            let merged = load(&txn, merged_id).await.map_err(|p| match p {
                Problem::NotFound { .. } => Problem::not_found("customer", merged_id),
                other => other,
            })?;
            survivor.ensure_active()?;
            merged.ensure_active()?;
            survivor.check_etag(survivor_etag)?;

            // The duplicate first: it must release its credit code before the survivor takes it.
            let mut gone = merged.clone();
            gone.state = CustomerState::Merged;
            gone.merged_into_id = Some(survivor.id.clone());
            gone.version += 1;
            gone.updated_at = now;
            gone.updated_by = caller.sub.clone();
            customer::Entity::update(model_from_record(&gone)?)
                .exec(&txn)
                .await?;
            let note = format!("merged into {} ({})", survivor.archive_no, survivor.id);
            insert_version(
                &txn,
                &gone,
                ChangeKind::MergedAway,
                &caller.sub,
                &["merged_into_id".into(), "state".into()],
                &note,
            )
            .await?;

            let mut kept = survivor.clone();
            let filled = card::fill_gaps(&mut kept.card, &merged.card);
            kept.version += 1;
            kept.updated_at = now;
            kept.updated_by = caller.sub.clone();
            customer::Entity::update(model_from_record(&kept)?)
                .exec(&txn)
                .await?;
            let note = format!(
                "merged {} ({}) into this archive",
                merged.archive_no, merged.id
            );
            insert_version(
                &txn,
                &kept,
                ChangeKind::MergedIn,
                &caller.sub,
                &filled,
                &note,
            )
            .await?;

            super::documents::move_documents(&txn, &merged, &kept.id).await?;
            emit_customer(&self.outbox, &txn, "merged_away", &gone, &caller.sub).await?;
            emit_customer(&self.outbox, &txn, "merged_in", &kept, &caller.sub).await?;
            Ok(kept)
        }
        .await;
        finish(&self.outbox, txn, result).await
    }
}

/// Commits on success (and wakes the feed), rolls back on failure.
pub(super) async fn finish<T>(
    outbox: &dossier_kit::outbox::Outbox,
    txn: sea_orm::DatabaseTransaction,
    result: Result<T, Problem>,
) -> Result<T, Problem> {
    match result {
        Ok(value) => {
            txn.commit().await?;
            outbox.notify_committed();
            Ok(value)
        }
        Err(problem) => {
            let _ = txn.rollback().await;
            Err(problem)
        }
    }
}

fn duplicate_of(m: customer::Model, by_credit_code: bool) -> Result<Duplicate, Problem> {
    Ok(Duplicate {
        state: CustomerState::from_code(&m.state)
            .ok_or_else(|| Problem::internal("unknown stored state"))?,
        id: m.id,
        archive_no: m.archive_no,
        name: m.name,
        by_credit_code,
    })
}

fn condition_of(filter: &CustomerFilter) -> Condition {
    let mut c = Condition::all();
    if !filter.include_archived {
        c = c.add(customer::Column::State.eq(CustomerState::Active.code()));
    }
    let query = filter.query.trim();
    if !query.is_empty() {
        let key = normalise_name(query);
        let mut any = Condition::any()
            .add(customer::Column::ArchiveNo.eq(query))
            .add(customer::Column::CreditCode.eq(query.to_uppercase()))
            .add(customer::Column::Name.contains(query));
        if !key.is_empty() {
            any = any.add(customer::Column::NameKey.contains(&key));
        }
        c = c.add(any);
    }
    if let Some(kind) = filter.kind {
        c = c.add(customer::Column::Kind.eq(kind.code()));
    }
    if let Some(grade) = filter.grade {
        c = c.add(customer::Column::Grade.eq(grade.code()));
    }
    if let Some(lifecycle) = filter.lifecycle {
        c = c.add(customer::Column::Lifecycle.eq(lifecycle.code()));
    }
    if let Some(customer_type) = filter.customer_type {
        c = c.add(customer::Column::CustomerType.eq(customer_type.code()));
    }
    if let Some(channel) = filter.channel {
        c = c.add(customer::Column::Channel.eq(channel.code()));
    }
    if let Some(standing) = filter.trade_standing {
        c = c.add(customer::Column::TradeStanding.eq(standing.code()));
    }
    let region = filter.region.trim();
    if !region.is_empty() {
        c = c.add(if region.ends_with('/') {
            customer::Column::Region.starts_with(region)
        } else {
            customer::Column::Region.eq(region)
        });
    }
    for (column, value) in [
        (customer::Column::RouteCode, &filter.route_code),
        (customer::Column::OwnerId, &filter.owner_id),
        (customer::Column::Team, &filter.team),
        (customer::Column::CustodianId, &filter.custodian_id),
    ] {
        if !value.trim().is_empty() {
            c = c.add(column.eq(value.trim()));
        }
    }
    if let Some(due) = filter.review_due_before {
        c = c.add(customer::Column::ReviewDueAt.lte(due));
    }
    c
}

/// A new archive at version 1.
pub(super) fn new_record(
    card: CustomerCard,
    archive_no: String,
    caller: &Caller,
    now: DateTime<Utc>,
    review_interval_days: i64,
) -> CustomerRecord {
    CustomerRecord {
        id: uuid::Uuid::now_v7().to_string(),
        archive_no,
        state: CustomerState::Active,
        merged_into_id: None,
        review_due_at: crate::domain::policy::next_review_due(now, review_interval_days),
        last_reviewed_at: None,
        version: 1,
        created_at: now,
        created_by: caller.sub.clone(),
        updated_at: now,
        updated_by: caller.sub.clone(),
        card,
    }
}

/// The fields a new card fills, for its first version.
pub(super) fn filled_fields(card: &CustomerCard) -> Vec<String> {
    changed_fields(&CustomerCard::default(), card)
}

/// Reserves `count` archive numbers of `year` and returns the first. The counter row is
/// upserted, so concurrent creators serialise on it and never share a number.
pub(super) async fn next_archive_numbers(
    conn: &impl ConnectionTrait,
    year: i32,
    count: i64,
) -> Result<i64, Problem> {
    let name = format!("archive_no:{year}");
    let backend = conn.get_database_backend();
    let insert = Query::insert()
        .into_table("counters")
        .columns(["name", "value"])
        .values_panic([name.clone().into(), count.into()])
        .on_conflict(
            OnConflict::column("name")
                .value("value", Expr::col(("counters", "value")).add(count))
                .to_owned(),
        )
        .returning_col("value")
        .to_owned();
    let (sql, values) = match backend {
        DbBackend::Postgres => insert.build(sea_orm::sea_query::PostgresQueryBuilder),
        _ => insert.build(sea_orm::sea_query::SqliteQueryBuilder),
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| Problem::internal("counter upsert returned nothing"))?;
    let last: i64 = row.try_get("", "value")?;
    Ok(last - count + 1)
}
