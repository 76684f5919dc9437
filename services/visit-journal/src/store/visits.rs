//! Visit records (附表三): recorded once per request id, feeding the plan in the same
//! transaction — the actual date of the visit's number, and the next planned visit.

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::db::begin_write;
use dossier_kit::idempotency;
use dossier_proto::visit as pb;
use prost::Message;

use super::plans::{PlanOwner, fill_actual, plan_next, touch_plan};
use super::{RequestKey, Store, Where, emit, execute, list_page, load, replace, write_error};

/// A visit to record, complete but for what the plan adds.
#[derive(Debug, Clone)]
pub struct NewVisit<'a> {
    /// The record (id, etag and times set).
    pub visit: pb::Visit,
    /// The salesperson's name and team.
    pub salesperson_name: &'a str,
    /// The salesperson's team.
    pub team: &'a str,
    /// The customer's route (路序), from customer-profile.
    pub route: (String, i32),
    /// Year of the visit.
    pub year: i32,
    /// Year of the next planned visit, when one is set.
    pub next_year: Option<i32>,
    /// Idempotency.
    pub key: RequestKey<'a>,
    /// When.
    pub now: DateTime<Utc>,
    /// Who.
    pub actor: &'a str,
}

/// How a visit list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitOrder {
    /// Newest day first.
    DateDescending,
    /// Oldest day first.
    DateAscending,
    /// By the customers' route (路序), then the time of day.
    Route,
}

impl Store {
    /// Records a visit: the row, the plan's actual date, the next planned visit, the request id
    /// and the event, in one transaction. A concurrent duplicate fails ABORTED; the caller looks
    /// the request id up again.
    pub async fn record_visit(&self, new: NewVisit<'_>) -> Result<pb::Visit, Problem> {
        let visit = &new.visit;
        let txn = begin_write(&self.db).await?;
        let mut matched = false;
        if visit.sequence > 0
            && let Some(plan_id) = fill_actual(
                &txn,
                &visit.salesperson_id,
                new.year,
                &visit.customer_id,
                visit.sequence,
                &visit.id,
                &visit.visit_date,
            )
            .await?
        {
            touch_plan(&txn, &plan_id, new.actor, new.now).await?;
            matched = true;
        }
        if let Some(next_year) = new.next_year {
            let owner = PlanOwner {
                salesperson_id: &visit.salesperson_id,
                salesperson_name: new.salesperson_name,
                team: new.team,
                year: next_year,
                actor: new.actor,
                now: new.now,
            };
            let after = if next_year == new.year {
                visit.sequence
            } else {
                0
            };
            plan_next(
                &txn,
                &owner,
                &visit.customer_id,
                &visit.customer_name,
                after,
                &visit.next_visit_date,
            )
            .await?;
        }
        execute(
            &txn,
            "INSERT INTO visits (id, salesperson_id, team, customer_id, visit_date, visit_year, sequence, open_objections, plan_matched, route_code, route_order, version, created_at, body) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            vec![
                visit.id.clone().into(),
                visit.salesperson_id.clone().into(),
                new.team.into(),
                visit.customer_id.clone().into(),
                visit.visit_date.clone().into(),
                new.year.into(),
                visit.sequence.into(),
                (!visit.open_objections.trim().is_empty()).into(),
                matched.into(),
                new.route.0.clone().into(),
                new.route.1.into(),
                new.now.into(),
                visit.encode_to_vec().into(),
            ],
        )
        .await
        .map_err(write_error)?;
        idempotency::record(
            &txn,
            new.key.scope,
            new.key.request_id,
            new.key.fingerprint,
            &visit.id,
            new.now,
        )
        .await
        .map_err(write_error)?;
        emit(
            &self.outbox,
            &txn,
            new.now,
            "visit.recorded",
            &visit.id,
            Some(visit.customer_id.clone()),
            new.actor,
            visit,
        )
        .await?;
        txn.commit().await.map_err(write_error)?;
        self.outbox.notify_committed();
        Ok(new.visit)
    }

    /// One visit and its version.
    pub async fn get_visit(&self, id: &str) -> Result<(pb::Visit, i64), Problem> {
        load(&self.db, "visits", "visit", id).await
    }

    /// Stores a corrected visit read at `version`.
    pub async fn update_visit(
        &self,
        visit: &pb::Visit,
        version: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Problem> {
        let txn = begin_write(&self.db).await?;
        replace(
            &txn,
            "visits",
            &visit.id,
            version,
            visit.encode_to_vec(),
            vec![(
                "open_objections",
                (!visit.open_objections.trim().is_empty()).into(),
            )],
        )
        .await?;
        emit(
            &self.outbox,
            &txn,
            now,
            "visit.updated",
            &visit.id,
            Some(visit.customer_id.clone()),
            actor,
            visit,
        )
        .await?;
        txn.commit().await.map_err(write_error)?;
        self.outbox.notify_committed();
        Ok(())
    }

    /// A page of visits.
    pub(crate) async fn list_visits(
        &self,
        filter: &Where,
        order: VisitOrder,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<pb::Visit>, u64), Problem> {
        let order_by = match order {
            VisitOrder::DateDescending => "visit_date DESC, id DESC",
            VisitOrder::DateAscending => "visit_date ASC, id ASC",
            VisitOrder::Route => "visit_date ASC, route_code ASC, route_order ASC, id ASC",
        };
        list_page(&self.db, "visits", filter, order_by, offset, limit).await
    }

    /// How many visits a salesperson recorded between two days (inclusive).
    pub async fn count_visits(
        &self,
        salesperson_id: &str,
        from: &str,
        to: &str,
    ) -> Result<i64, Problem> {
        let row = super::query_one(
            &self.db,
            "SELECT COUNT(*) AS n FROM visits WHERE salesperson_id = ? AND visit_date >= ? AND visit_date <= ?",
            vec![salesperson_id.into(), from.into(), to.into()],
        )
        .await?;
        match row {
            Some(row) => super::get(&row, "n"),
            None => Ok(0),
        }
    }
}
