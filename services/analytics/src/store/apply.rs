//! Applying change-feed events to the read model.
//!
//! A batch of events of one source is applied in one transaction together with the source's new
//! position, so after a crash the read model and the position agree: events at or below the
//! stored position are skipped, the rest applied once. Each event carries the record after the
//! change, so applying is an upsert keyed by the record's id (re-applying the latest state is
//! harmless); within a batch only the last state of each record is written, in multi-row
//! statements, which is what makes catching up fast.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use dossier_kit::Problem;
use dossier_proto::common::ChangeEvent;
use dossier_proto::{complaint, contract, customer, visit};
use prost::Message;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Value};

use super::{Store, execute, int, statement};
use crate::domain::money::parse_cents;

/// The services whose change feeds analytics follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// customer-profile: customer cards.
    Customers,
    /// visit-journal: visits and visit plans.
    Visits,
    /// contract-receivables: contracts, deliveries, payments.
    Contracts,
    /// complaints: complaint cards.
    Complaints,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 4] = [
        Source::Customers,
        Source::Visits,
        Source::Contracts,
        Source::Complaints,
    ];

    /// The source's gRPC service, as `GetFeedLag` names it.
    pub fn name(self) -> &'static str {
        match self {
            Source::Customers => "dossier.customer.v1.CustomerService",
            Source::Visits => "dossier.visit.v1.VisitService",
            Source::Contracts => "dossier.contract.v1.ContractService",
            Source::Complaints => "dossier.complaint.v1.ComplaintService",
        }
    }
}

/// What a batch left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The source's position after the batch.
    pub sequence: u64,
    /// Events applied (not skipped as already applied).
    pub applied: usize,
    /// Commit time of the last event applied (Unix seconds).
    pub event_time: Option<i64>,
}

/// The rows one batch writes, keyed by record id so the last state wins.
#[derive(Default)]
struct Rows {
    customers: BTreeMap<String, Vec<Value>>,
    contracts: BTreeMap<String, Vec<Value>>,
    deliveries: BTreeMap<String, Vec<Value>>,
    payments: BTreeMap<String, (Vec<Value>, Vec<Vec<Value>>)>,
    visits: BTreeMap<String, Vec<Value>>,
    plans: BTreeMap<String, Vec<Vec<Value>>>,
    complaints: BTreeMap<String, Vec<Value>>,
    /// (kind, id) → row: what awaits someone (urgent reports, approvals).
    open_items: BTreeMap<(&'static str, String), Vec<Value>>,
}

fn seconds(ts: Option<&prost_types::Timestamp>) -> Option<i64> {
    ts.map(|t| t.seconds)
}

fn cents(field: &str, text: &str) -> Result<i64, String> {
    parse_cents(text).ok_or_else(|| format!("{field} {text:?} is not an amount"))
}

fn year_of(date: &str) -> Option<i32> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .map(|d| d.year())
}

impl Rows {
    /// Adds the record an event carries; events of records analytics does not read are ignored.
    fn add(&mut self, event: &ChangeEvent) -> Result<(), String> {
        let Some(any) = event.payload.as_ref() else {
            return Ok(());
        };
        let kind = any.type_url.rsplit('/').next().unwrap_or_default();
        let bytes = any.value.as_slice();
        let bad = |e: prost::DecodeError| format!("{kind}: {e}");
        match kind {
            "dossier.customer.v1.Customer" => {
                let c = customer::Customer::decode(bytes).map_err(bad)?;
                self.customers.insert(
                    c.id.clone(),
                    vec![
                        c.id.into(),
                        c.name.into(),
                        i64::from(c.grade).into(),
                        c.region.into(),
                        c.owner_id.into(),
                        c.team.into(),
                        i64::from(c.trade_standing).into(),
                        i64::from(c.state).into(),
                    ],
                );
            }
            "dossier.contract.v1.Contract" => {
                let c = contract::Contract::decode(bytes).map_err(bad)?;
                let year = year_of(&c.valid_from)
                    .or_else(|| year_of(&c.signed_date))
                    .or_else(|| {
                        seconds(c.create_time.as_ref())
                            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
                            .map(|t| t.year())
                    })
                    .unwrap_or(0);
                self.contracts.insert(
                    c.id.clone(),
                    vec![
                        c.id.into(),
                        c.customer_id.into(),
                        i64::from(year).into(),
                        cents("total_amount", &c.total_amount)?.into(),
                        i64::from(c.status).into(),
                    ],
                );
            }
            "dossier.contract.v1.Delivery" => {
                let d = contract::Delivery::decode(bytes).map_err(bad)?;
                self.deliveries.insert(
                    d.id.clone(),
                    vec![
                        d.id.into(),
                        d.customer_id.into(),
                        d.contract_id.into(),
                        d.delivery_date.into(),
                        d.product.into(),
                        cents("amount", &d.amount)?.into(),
                        d.receivable_id.into(),
                        d.due_date.into(),
                    ],
                );
            }
            "dossier.contract.v1.Payment" => {
                let p = contract::Payment::decode(bytes).map_err(bad)?;
                let mut allocations = BTreeMap::new();
                for a in &p.allocations {
                    // A discount settles its part of the receivable as a payment does.
                    let amount = cents("allocation.amount", &a.amount)?
                        + cents("allocation.discount_amount", &a.discount_amount)?;
                    *allocations.entry(a.receivable_id.clone()).or_insert(0) += amount;
                }
                let allocations = allocations
                    .into_iter()
                    .map(|(receivable, amount)| {
                        vec![
                            p.id.clone().into(),
                            receivable.into(),
                            p.customer_id.clone().into(),
                            p.received_date.clone().into(),
                            amount.into(),
                        ]
                    })
                    .collect();
                self.payments.insert(
                    p.id.clone(),
                    (
                        vec![
                            p.id.clone().into(),
                            p.customer_id.clone().into(),
                            p.received_date.clone().into(),
                            cents("amount", &p.amount)?.into(),
                        ],
                        allocations,
                    ),
                );
            }
            "dossier.visit.v1.Visit" => {
                let v = visit::Visit::decode(bytes).map_err(bad)?;
                self.visits.insert(
                    v.id.clone(),
                    vec![
                        v.id.into(),
                        v.customer_id.into(),
                        v.salesperson_id.into(),
                        v.visit_date.into(),
                    ],
                );
            }
            "dossier.visit.v1.VisitPlan" => {
                let plan = visit::VisitPlan::decode(bytes).map_err(bad)?;
                let mut rows = Vec::new();
                for row in &plan.rows {
                    for v in &row.visits {
                        rows.push(vec![
                            plan.id.clone().into(),
                            row.customer_id.clone().into(),
                            i64::from(v.number).into(),
                            plan.salesperson_id.clone().into(),
                            v.planned_date.clone().into(),
                            v.actual_date.clone().into(),
                        ]);
                    }
                }
                self.plans.insert(plan.id, rows);
            }
            "dossier.complaint.v1.Complaint" => {
                let c = complaint::Complaint::decode(bytes).map_err(bad)?;
                let closed = c.state == complaint::ComplaintState::Closed as i32;
                self.complaints.insert(
                    c.id.clone(),
                    vec![
                        c.id.into(),
                        c.customer_id.into(),
                        seconds(c.complaint_time.as_ref())
                            .or(seconds(c.create_time.as_ref()))
                            .unwrap_or(event_seconds(event))
                            .into(),
                        seconds(c.reply_time.as_ref()).into(),
                        seconds(c.reply_due_time.as_ref()).into(),
                        i64::from(closed).into(),
                        i64::from(c.state).into(),
                    ],
                );
            }
            "dossier.visit.v1.Report" => {
                let r = visit::Report::decode(bytes).map_err(bad)?;
                let open = r.kind == visit::ReportKind::Urgent as i32 && !r.acknowledged;
                self.open_item(OpenKind::UrgentReport, r.id, r.customer_id, open);
            }
            "dossier.contract.v1.CreditLine" => {
                let c = contract::CreditLine::decode(bytes).map_err(bad)?;
                let open = c.state == contract::CreditLineState::Requested as i32;
                self.open_item(OpenKind::Approval, c.id, c.customer_id, open);
            }
            "dossier.contract.v1.Deferral" => {
                let d = contract::Deferral::decode(bytes).map_err(bad)?;
                let open = d.state == contract::DeferralState::Requested as i32;
                self.open_item(OpenKind::Approval, d.id, d.customer_id, open);
            }
            "dossier.contract.v1.CreditOverride" => {
                let o = contract::CreditOverride::decode(bytes).map_err(bad)?;
                let open = o.state == contract::CreditOverrideState::Requested as i32;
                self.open_item(OpenKind::Approval, o.id, o.customer_id, open);
            }
            _ => {}
        }
        Ok(())
    }

    fn open_item(&mut self, kind: OpenKind, id: String, customer_id: String, open: bool) {
        let kind = kind.as_str();
        self.open_items.insert(
            (kind, id.clone()),
            vec![
                kind.into(),
                id.into(),
                customer_id.into(),
                i64::from(open).into(),
            ],
        );
    }

    async fn write(self, txn: &DatabaseTransaction) -> Result<(), sea_orm::DbErr> {
        upsert(
            txn,
            "rm_customers",
            &[
                "id",
                "name",
                "grade",
                "region",
                "owner_id",
                "team",
                "trade_standing",
                "state",
            ],
            &["id"],
            self.customers.into_values().collect(),
        )
        .await?;
        upsert(
            txn,
            "rm_contracts",
            &["id", "customer_id", "target_year", "total_cents", "status"],
            &["id"],
            self.contracts.into_values().collect(),
        )
        .await?;
        upsert(
            txn,
            "rm_deliveries",
            &[
                "id",
                "customer_id",
                "contract_id",
                "delivery_date",
                "product",
                "amount_cents",
                "receivable_id",
                "due_date",
            ],
            &["id"],
            self.deliveries.into_values().collect(),
        )
        .await?;
        let payment_ids: Vec<Value> = self.payments.keys().map(|k| k.clone().into()).collect();
        delete_in(txn, "rm_allocations", "payment_id", payment_ids).await?;
        let mut payments = Vec::new();
        let mut allocations = Vec::new();
        for (_, (payment, allocated)) in self.payments {
            payments.push(payment);
            allocations.extend(allocated);
        }
        upsert(
            txn,
            "rm_payments",
            &["id", "customer_id", "received_date", "amount_cents"],
            &["id"],
            payments,
        )
        .await?;
        upsert(
            txn,
            "rm_allocations",
            &[
                "payment_id",
                "receivable_id",
                "customer_id",
                "received_date",
                "amount_cents",
            ],
            &["payment_id", "receivable_id"],
            allocations,
        )
        .await?;
        upsert(
            txn,
            "rm_visits",
            &["id", "customer_id", "salesperson_id", "visit_date"],
            &["id"],
            self.visits.into_values().collect(),
        )
        .await?;
        let plan_ids: Vec<Value> = self.plans.keys().map(|k| k.clone().into()).collect();
        delete_in(txn, "rm_planned_visits", "plan_id", plan_ids).await?;
        upsert(
            txn,
            "rm_planned_visits",
            &[
                "plan_id",
                "customer_id",
                "number",
                "salesperson_id",
                "planned_date",
                "actual_date",
            ],
            &["plan_id", "customer_id", "number"],
            self.plans.into_values().flatten().collect(),
        )
        .await?;
        upsert(
            txn,
            "rm_complaints",
            &[
                "id",
                "customer_id",
                "complaint_at",
                "reply_at",
                "reply_due_at",
                "closed",
                "state",
            ],
            &["id"],
            self.complaints.into_values().collect(),
        )
        .await?;
        upsert(
            txn,
            "rm_open_items",
            &["kind", "id", "customer_id", "open"],
            &["kind", "id"],
            self.open_items.into_values().collect(),
        )
        .await?;
        Ok(())
    }
}

/// What an open item awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKind {
    /// An urgent report not yet acknowledged by a manager.
    UrgentReport,
    /// A credit line request, deferral or credit override awaiting a decision.
    Approval,
}

impl OpenKind {
    /// Its name in the read model.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenKind::UrgentReport => "urgent_report",
            OpenKind::Approval => "approval",
        }
    }
}

fn event_seconds(event: &ChangeEvent) -> i64 {
    seconds(event.occurred_at.as_ref()).unwrap_or(0)
}

/// Most placeholders in one statement (well under SQLite's and PostgreSQL's limits).
const MAX_PARAMETERS: usize = 4000;

/// Inserts `rows` into `table`, replacing the rows with the same `key`.
async fn upsert(
    txn: &DatabaseTransaction,
    table: &str,
    columns: &[&str],
    key: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), sea_orm::DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
    let updates = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let per_statement = (MAX_PARAMETERS / columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {updates}",
            columns.join(", "),
            vec![tuple.as_str(); chunk.len()].join(", "),
            key.join(", ")
        );
        execute(txn, &sql, chunk.into_iter().flatten().collect()).await?;
    }
    Ok(())
}

/// Deletes the rows of `table` whose `column` is one of `values`.
async fn delete_in(
    txn: &DatabaseTransaction,
    table: &str,
    column: &str,
    values: Vec<Value>,
) -> Result<(), sea_orm::DbErr> {
    for chunk in values.chunks(MAX_PARAMETERS) {
        let sql = format!(
            "DELETE FROM {table} WHERE {column} IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        execute(txn, &sql, chunk.to_vec()).await?;
    }
    Ok(())
}

impl Store {
    /// The last sequence applied from `source` (0 before the first event).
    pub async fn position(&self, source: Source) -> Result<u64, Problem> {
        position(self.db(), source).await
    }

    /// Applies `events` of `source` (in sequence order) and stores the new position, in one
    /// transaction. Events at or below the stored position are skipped.
    pub async fn apply(
        &self,
        source: Source,
        events: &[ChangeEvent],
        now: DateTime<Utc>,
    ) -> Result<Applied, Problem> {
        let _turn = self.writer_turn().await;
        let txn = dossier_kit::db::begin_write(self.db()).await?;
        let from = position(&txn, source).await?;
        let mut rows = Rows::default();
        let mut applied = Applied {
            sequence: from,
            ..Applied::default()
        };
        for event in events.iter().filter(|e| e.sequence > from) {
            if event.sequence <= applied.sequence {
                continue; // out of order would be a feed defect; never apply twice
            }
            if let Err(error) = rows.add(event) {
                // A record that cannot be read is skipped (and said so) rather than stopping
                // the feed for every later event.
                tracing::warn!(
                    source = source.name(),
                    sequence = event.sequence,
                    %error,
                    "change event skipped"
                );
            }
            applied.sequence = event.sequence;
            applied.applied += 1;
            applied.event_time = Some(event_seconds(event));
        }
        if applied.applied == 0 {
            txn.rollback().await?;
            return Ok(applied);
        }
        rows.write(&txn).await?;
        execute(
            &txn,
            "INSERT INTO feed_position (source, sequence, event_time, applied_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (source) DO UPDATE SET sequence = excluded.sequence, \
             event_time = excluded.event_time, applied_at = excluded.applied_at",
            vec![
                source.name().into(),
                (applied.sequence as i64).into(),
                applied.event_time.into(),
                now.timestamp().into(),
            ],
        )
        .await?;
        txn.commit().await?;
        Ok(applied)
    }

    /// Every stored position: source name → (sequence, last event time, applied at).
    pub async fn positions(
        &self,
    ) -> Result<BTreeMap<String, (u64, Option<i64>, Option<i64>)>, Problem> {
        let rows = self
            .rows(
                "SELECT source, sequence, event_time, applied_at FROM feed_position",
                vec![],
            )
            .await?;
        let mut out = BTreeMap::new();
        for row in rows {
            let source: String = row.try_get("", "source")?;
            let sequence = int(&row, "sequence")? as u64;
            let event_time: Option<i64> = row.try_get("", "event_time")?;
            let applied_at: Option<i64> = row.try_get("", "applied_at")?;
            out.insert(source, (sequence, event_time, applied_at));
        }
        Ok(out)
    }
}

async fn position(conn: &impl ConnectionTrait, source: Source) -> Result<u64, Problem> {
    let row = conn
        .query_one_raw(statement(
            conn.get_database_backend(),
            "SELECT sequence FROM feed_position WHERE source = ?",
            vec![source.name().into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => int(&row, "sequence")? as u64,
        None => 0,
    })
}
