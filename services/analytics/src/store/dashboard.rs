//! The aggregates of the salesperson performance and the manager's dashboard, each one GROUP BY
//! over the read model.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use dossier_kit::Problem;
use sea_orm::Value;

use super::apply::OpenKind;
use super::{Store, int, text};
use crate::domain::period::Period;

/// One salesperson's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalespersonFigures {
    /// Team (of the salesperson's customers).
    pub team: String,
    /// Sales.
    pub sales: i64,
    /// Collections.
    pub collected: i64,
    /// Overdue receivables at the end of the period.
    pub overdue: i64,
    /// Visits planned in the period.
    pub visits_planned: i64,
    /// Planned visits done.
    pub visits_done: i64,
    /// Complaints received.
    pub complaints: i64,
    /// Customers with their first delivery in the period.
    pub new_customers: i64,
}

/// The dashboard's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DashboardFigures {
    /// Sales of the period.
    pub sales: i64,
    /// Sales of the previous period.
    pub previous_sales: i64,
    /// Collections.
    pub collected: i64,
    /// Open receivables now.
    pub open: i64,
    /// Overdue receivables now.
    pub overdue: i64,
    /// Visits planned.
    pub visits_planned: i64,
    /// Planned visits done.
    pub visits_done: i64,
    /// Complaints not closed.
    pub open_complaints: i64,
    /// Complaints past their reply deadline without reply.
    pub overdue_complaints: i64,
    /// Urgent reports not acknowledged.
    pub urgent_reports: i64,
    /// Requests awaiting a decision.
    pub pending_approvals: i64,
}

/// A customer's sales now and before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoverRow {
    /// Customer.
    pub customer_id: String,
    /// Name.
    pub name: String,
    /// Sales of the period.
    pub current: i64,
    /// Sales of the previous period.
    pub previous: i64,
}

fn day(d: NaiveDate) -> Value {
    d.format("%Y-%m-%d").to_string().into()
}

/// A team filter on the customers `c`: SQL and its values.
fn team_filter(team: &str) -> (&'static str, Vec<Value>) {
    if team.is_empty() {
        ("", vec![])
    } else {
        (" AND c.team = ?", vec![team.into()])
    }
}

/// Open receivables per customer as of a day: `(customer_id, due_date, open)` rows, as SQL.
const OPEN_AS_OF: &str = "SELECT d.customer_id, d.due_date, d.amount_cents - COALESCE(a.paid, 0) AS open \
     FROM rm_deliveries d LEFT JOIN ( \
       SELECT receivable_id, SUM(amount_cents) AS paid FROM rm_allocations \
       WHERE received_date <= ? GROUP BY receivable_id) a ON a.receivable_id = d.receivable_id \
     WHERE d.delivery_date <= ?";

impl Store {
    /// One value per key from a query returning `k` and `v`.
    async fn grouped(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<BTreeMap<String, i64>, Problem> {
        let rows = self.rows(sql, values).await?;
        rows.iter()
            .map(|row| Ok((text(row, "k")?, int(row, "v")?)))
            .collect()
    }

    /// Figures per salesperson (the customers' owner; visits by the planning salesperson).
    pub async fn salesperson_figures(
        &self,
        period: Period,
        team: &str,
        salesperson: &str,
        complaint_window: (i64, i64),
    ) -> Result<BTreeMap<String, SalespersonFigures>, Problem> {
        let (tf, tv) = team_filter(team);
        let (sf, sv) = if salesperson.is_empty() {
            ("", vec![])
        } else {
            (" AND c.owner_id = ?", vec![Value::from(salesperson)])
        };
        let filters = |mut v: Vec<Value>| {
            v.extend(tv.clone());
            v.extend(sv.clone());
            v
        };
        let range = || vec![day(period.from), day(period.to)];
        let sales = self
            .grouped(
                &format!(
                    "SELECT c.owner_id AS k, CAST(SUM(d.amount_cents) AS BIGINT) AS v FROM rm_deliveries d \
                     JOIN rm_customers c ON c.id = d.customer_id \
                     WHERE d.delivery_date >= ? AND d.delivery_date <= ?{tf}{sf} GROUP BY c.owner_id"
                ),
                filters(range()),
            )
            .await?;
        let collected = self
            .grouped(
                &format!(
                    "SELECT c.owner_id AS k, CAST(SUM(p.amount_cents) AS BIGINT) AS v FROM rm_payments p \
                     JOIN rm_customers c ON c.id = p.customer_id \
                     WHERE p.received_date >= ? AND p.received_date <= ?{tf}{sf} GROUP BY c.owner_id"
                ),
                filters(range()),
            )
            .await?;
        let overdue = self
            .grouped(
                &format!(
                    "SELECT c.owner_id AS k, CAST(SUM(r.open) AS BIGINT) AS v FROM ({OPEN_AS_OF}) r \
                     JOIN rm_customers c ON c.id = r.customer_id \
                     WHERE r.open > 0 AND r.due_date < ?{tf}{sf} GROUP BY c.owner_id"
                ),
                filters(vec![day(period.to), day(period.to), day(period.to)]),
            )
            .await?;
        let complaints = self
            .grouped(
                &format!(
                    "SELECT c.owner_id AS k, CAST(COUNT(*) AS BIGINT) AS v FROM rm_complaints m \
                     JOIN rm_customers c ON c.id = m.customer_id \
                     WHERE m.complaint_at >= ? AND m.complaint_at < ?{tf}{sf} GROUP BY c.owner_id"
                ),
                filters(vec![complaint_window.0.into(), complaint_window.1.into()]),
            )
            .await?;
        let new_customers = self
            .grouped(
                &format!(
                    "SELECT c.owner_id AS k, CAST(COUNT(*) AS BIGINT) AS v FROM ( \
                       SELECT customer_id, MIN(delivery_date) AS first FROM rm_deliveries GROUP BY customer_id) f \
                     JOIN rm_customers c ON c.id = f.customer_id \
                     WHERE f.first >= ? AND f.first <= ?{tf}{sf} GROUP BY c.owner_id"
                ),
                filters(range()),
            )
            .await?;
        let (vsf, vsv) = if salesperson.is_empty() {
            ("", vec![])
        } else {
            (" AND v.salesperson_id = ?", vec![Value::from(salesperson)])
        };
        let mut visit_values = range();
        visit_values.extend(tv.clone());
        visit_values.extend(vsv);
        let visits = self
            .rows(
                &format!(
                    "SELECT v.salesperson_id AS k, CAST(COUNT(*) AS BIGINT) AS planned, \
                     CAST(SUM(CASE WHEN v.actual_date <> '' THEN 1 ELSE 0 END) AS BIGINT) AS done \
                     FROM rm_planned_visits v LEFT JOIN rm_customers c ON c.id = v.customer_id \
                     WHERE v.planned_date >= ? AND v.planned_date <= ?{tf}{vsf} GROUP BY v.salesperson_id"
                ),
                visit_values,
            )
            .await?;
        let teams = self
            .rows(
                &format!(
                    "SELECT c.owner_id AS k, MAX(c.team) AS team FROM rm_customers c WHERE 1 = 1{tf}{sf} GROUP BY c.owner_id"
                ),
                filters(vec![]),
            )
            .await?;
        let mut out: BTreeMap<String, SalespersonFigures> = BTreeMap::new();
        for row in teams {
            let key = text(&row, "k")?;
            if key.is_empty() {
                continue;
            }
            out.entry(key).or_default().team = text(&row, "team")?;
        }
        for (key, v) in sales {
            out.entry(key).or_default().sales = v;
        }
        for (key, v) in collected {
            out.entry(key).or_default().collected = v;
        }
        for (key, v) in overdue {
            out.entry(key).or_default().overdue = v;
        }
        for (key, v) in complaints {
            out.entry(key).or_default().complaints = v;
        }
        for (key, v) in new_customers {
            out.entry(key).or_default().new_customers = v;
        }
        for row in visits {
            let figures = out.entry(text(&row, "k")?).or_default();
            figures.visits_planned = int(&row, "planned")?;
            figures.visits_done = int(&row, "done")?;
        }
        out.remove("");
        Ok(out)
    }

    /// The dashboard's figures for `period`, receivables and complaints as of `today` / `now`.
    pub async fn dashboard(
        &self,
        period: Period,
        team: &str,
        today: NaiveDate,
        now: i64,
    ) -> Result<DashboardFigures, Problem> {
        let (tf, tv) = team_filter(team);
        let with = |mut v: Vec<Value>| {
            v.extend(tv.clone());
            v
        };
        let previous = period.previous();
        let one =
            |rows: Vec<sea_orm::QueryResult>, a: &str, b: &str| -> Result<(i64, i64), Problem> {
                match rows.first() {
                    Some(row) => Ok((int(row, a)?, int(row, b)?)),
                    None => Ok((0, 0)),
                }
            };
        let mut out = DashboardFigures::default();
        (out.sales, out.previous_sales) = one(
            self.rows(
                &format!(
                    "SELECT CAST(SUM(CASE WHEN d.delivery_date >= ? THEN d.amount_cents ELSE 0 END) AS BIGINT) AS cur, \
                     CAST(SUM(CASE WHEN d.delivery_date < ? THEN d.amount_cents ELSE 0 END) AS BIGINT) AS prev \
                     FROM rm_deliveries d LEFT JOIN rm_customers c ON c.id = d.customer_id \
                     WHERE d.delivery_date >= ? AND d.delivery_date <= ?{tf}"
                ),
                with(vec![
                    day(period.from),
                    day(period.from),
                    day(previous.from),
                    day(period.to),
                ]),
            )
            .await?,
            "cur",
            "prev",
        )?;
        (out.collected, _) = one(
            self.rows(
                &format!(
                    "SELECT CAST(SUM(p.amount_cents) AS BIGINT) AS v, CAST(COUNT(*) AS BIGINT) AS n FROM rm_payments p \
                     LEFT JOIN rm_customers c ON c.id = p.customer_id \
                     WHERE p.received_date >= ? AND p.received_date <= ?{tf}"
                ),
                with(vec![day(period.from), day(period.to)]),
            )
            .await?,
            "v",
            "n",
        )?;
        (out.open, out.overdue) = one(
            self.rows(
                &format!(
                    "SELECT CAST(SUM(r.open) AS BIGINT) AS open, \
                     CAST(SUM(CASE WHEN r.due_date < ? THEN r.open ELSE 0 END) AS BIGINT) AS overdue \
                     FROM ({OPEN_AS_OF}) r LEFT JOIN rm_customers c ON c.id = r.customer_id WHERE r.open > 0{tf}"
                ),
                with(vec![day(today), day(today), day(today)]),
            )
            .await?,
            "open",
            "overdue",
        )?;
        (out.visits_planned, out.visits_done) = one(
            self.rows(
                &format!(
                    "SELECT CAST(COUNT(*) AS BIGINT) AS planned, \
                     CAST(SUM(CASE WHEN v.actual_date <> '' THEN 1 ELSE 0 END) AS BIGINT) AS done \
                     FROM rm_planned_visits v LEFT JOIN rm_customers c ON c.id = v.customer_id \
                     WHERE v.planned_date >= ? AND v.planned_date <= ?{tf}"
                ),
                with(vec![day(period.from), day(period.to)]),
            )
            .await?,
            "planned",
            "done",
        )?;
        (out.open_complaints, out.overdue_complaints) = one(
            self.rows(
                &format!(
                    "SELECT CAST(COUNT(*) AS BIGINT) AS open, \
                     CAST(SUM(CASE WHEN m.reply_at IS NULL AND m.reply_due_at < ? THEN 1 ELSE 0 END) AS BIGINT) AS overdue \
                     FROM rm_complaints m LEFT JOIN rm_customers c ON c.id = m.customer_id WHERE m.closed = 0{tf}"
                ),
                with(vec![now.into()]),
            )
            .await?,
            "open",
            "overdue",
        )?;
        (out.urgent_reports, out.pending_approvals) = one(
            self.rows(
                &format!(
                    "SELECT CAST(SUM(CASE WHEN o.kind = ? THEN 1 ELSE 0 END) AS BIGINT) AS urgent, \
                     CAST(SUM(CASE WHEN o.kind = ? THEN 1 ELSE 0 END) AS BIGINT) AS approvals \
                     FROM rm_open_items o LEFT JOIN rm_customers c ON c.id = o.customer_id WHERE o.open = 1{tf}"
                ),
                with(vec![
                    OpenKind::UrgentReport.as_str().into(),
                    OpenKind::Approval.as_str().into(),
                ]),
            )
            .await?,
            "urgent",
            "approvals",
        )?;
        Ok(out)
    }

    /// The customers whose sales rose (`rising`) or fell most against the previous period.
    pub async fn movers(
        &self,
        period: Period,
        team: &str,
        rising: bool,
        limit: u64,
    ) -> Result<Vec<MoverRow>, Problem> {
        let (tf, tv) = team_filter(team);
        let previous = period.previous();
        let (condition, order) = if rising {
            ("cur > prev", "cur - prev DESC")
        } else {
            ("cur < prev", "cur - prev ASC")
        };
        let mut values = vec![
            day(period.from),
            day(period.from),
            day(previous.from),
            day(period.to),
        ];
        values.extend(tv);
        values.push((limit as i64).into());
        let rows = self
            .rows(
                &format!(
                    "SELECT m.customer_id, COALESCE(c.name, '') AS name, m.cur, m.prev FROM ( \
                       SELECT d.customer_id, \
                       CAST(SUM(CASE WHEN d.delivery_date >= ? THEN d.amount_cents ELSE 0 END) AS BIGINT) AS cur, \
                       CAST(SUM(CASE WHEN d.delivery_date < ? THEN d.amount_cents ELSE 0 END) AS BIGINT) AS prev \
                       FROM rm_deliveries d WHERE d.delivery_date >= ? AND d.delivery_date <= ? \
                       GROUP BY d.customer_id) m LEFT JOIN rm_customers c ON c.id = m.customer_id \
                     WHERE {condition}{tf} ORDER BY {order}, m.customer_id LIMIT ?"
                ),
                values,
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(MoverRow {
                    customer_id: text(row, "customer_id")?,
                    name: text(row, "name")?,
                    current: int(row, "cur")?,
                    previous: int(row, "prev")?,
                })
            })
            .collect()
    }
}
