//! Visit plans (附表二): a header per salesperson and year, one row per planned visit, and the
//! plan-vs-done figures added up over them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use dossier_kit::db::begin_write;
use dossier_proto::visit as pb;
use sea_orm::{ConnectionTrait, Value};

use super::{Store, check_etag, emit, execute, get, new_id, query, query_one, write_error};
use crate::domain::progress::{Counts, Dimension};
use crate::domain::visit::next_slot;

/// One numbered visit of a plan row: number, planned date, actual date, fulfilling visit.
pub type PlanCell = (i32, Option<String>, Option<String>, Option<String>);

/// One customer's row of a plan as stored.
#[derive(Debug, Clone, Default)]
pub struct PlanRow {
    /// Customer id.
    pub customer_id: String,
    /// Customer name.
    pub customer_name: String,
    /// 序次.
    pub row_no: i32,
    /// The numbered visits: number, planned date, actual date, fulfilling visit.
    pub visits: Vec<PlanCell>,
}

/// A plan as stored.
#[derive(Debug, Clone)]
pub struct StoredPlan {
    /// Plan id.
    pub id: String,
    /// Salesperson.
    pub salesperson_id: String,
    /// Salesperson's name.
    pub salesperson_name: String,
    /// Year.
    pub year: i32,
    /// Version (etag).
    pub version: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Last changed by.
    pub updated_by: String,
    /// Rows by row number.
    pub rows: Vec<PlanRow>,
}

/// Who owns a plan and who writes it.
#[derive(Debug, Clone)]
pub struct PlanOwner<'a> {
    /// Salesperson.
    pub salesperson_id: &'a str,
    /// Salesperson's name.
    pub salesperson_name: &'a str,
    /// Salesperson's team.
    pub team: &'a str,
    /// Year.
    pub year: i32,
    /// Who writes.
    pub actor: &'a str,
    /// When.
    pub now: DateTime<Utc>,
}

/// The plan id of a salesperson's year, created empty when there is none.
pub(crate) async fn ensure_plan(
    conn: &impl ConnectionTrait,
    owner: &PlanOwner<'_>,
) -> Result<String, Problem> {
    if let Some(row) = query_one(
        conn,
        "SELECT id FROM visit_plans WHERE salesperson_id = ? AND year = ?",
        vec![owner.salesperson_id.into(), owner.year.into()],
    )
    .await?
    {
        return get(&row, "id");
    }
    let id = new_id();
    execute(
        conn,
        "INSERT INTO visit_plans (id, salesperson_id, salesperson_name, team, year, version, created_at, updated_at, updated_by) \
         VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
        vec![
            id.clone().into(),
            owner.salesperson_id.into(),
            owner.salesperson_name.into(),
            owner.team.into(),
            owner.year.into(),
            owner.now.into(),
            owner.now.into(),
            owner.actor.into(),
        ],
    )
    .await
    .map_err(write_error)?;
    Ok(id)
}

/// Marks a plan changed (its etag moves on).
pub(crate) async fn touch_plan(
    conn: &impl ConnectionTrait,
    plan_id: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    execute(
        conn,
        "UPDATE visit_plans SET version = version + 1, updated_at = ?, updated_by = ? WHERE id = ?",
        vec![now.into(), actor.into(), plan_id.into()],
    )
    .await?;
    Ok(())
}

/// Fills the actual date of planned visit `number` of a customer with a recorded visit; `false`
/// when the plan has no such open visit (the visit is then unplanned).
pub(crate) async fn fill_actual(
    conn: &impl ConnectionTrait,
    salesperson_id: &str,
    year: i32,
    customer_id: &str,
    number: i32,
    visit_id: &str,
    visit_date: &str,
) -> Result<Option<String>, Problem> {
    // `visit_id IS NULL` in the update itself: of two visits racing for one number, the
    // second finds it taken once the first commits, and counts as unplanned.
    let filled = execute(
        conn,
        "UPDATE planned_visits SET actual_date = ?, visit_id = ? WHERE salesperson_id = ? AND year = ? AND customer_id = ? AND number = ? AND visit_id IS NULL",
        vec![
            visit_date.into(),
            visit_id.into(),
            salesperson_id.into(),
            year.into(),
            customer_id.into(),
            number.into(),
        ],
    )
    .await?;
    if filled == 0 {
        return Ok(None);
    }
    let row = query_one(
        conn,
        "SELECT plan_id FROM planned_visits WHERE salesperson_id = ? AND year = ? AND customer_id = ? AND number = ?",
        vec![salesperson_id.into(), year.into(), customer_id.into(), number.into()],
    )
    .await?;
    row.map(|r| get(&r, "plan_id")).transpose()
}

/// Plans the next visit to a customer on `date` (下次计划时间): the next open number of the
/// customer's row in the plan of `date`'s year (see [`next_slot`]).
pub(crate) async fn plan_next(
    conn: &impl ConnectionTrait,
    owner: &PlanOwner<'_>,
    customer_id: &str,
    customer_name: &str,
    after: i32,
    date: &str,
) -> Result<(), Problem> {
    let plan_id = ensure_plan(conn, owner).await?;
    let rows = query(
        conn,
        "SELECT number, row_no, actual_date FROM planned_visits WHERE plan_id = ? AND customer_id = ?",
        vec![plan_id.clone().into(), customer_id.into()],
    )
    .await?;
    let mut cells = Vec::with_capacity(rows.len());
    let mut row_no = None;
    for row in &rows {
        let actual: Option<String> = get(row, "actual_date")?;
        cells.push((get::<i32>(row, "number")?, actual.is_some()));
        row_no = Some(get::<i32>(row, "row_no")?);
    }
    let number = next_slot(&cells, after).ok_or_else(|| {
        Problem::invalid(
            "visit.next_visit_date",
            format!(
                "the {} plan of customer {customer_id} already holds twelve visits",
                owner.year
            ),
        )
    })?;
    let month = &date[..7.min(date.len())];
    if cells.iter().any(|(n, _)| *n == number) {
        execute(
            conn,
            "UPDATE planned_visits SET planned_date = ?, planned_month = ? WHERE plan_id = ? AND customer_id = ? AND number = ?",
            vec![date.into(), month.into(), plan_id.clone().into(), customer_id.into(), number.into()],
        )
        .await?;
    } else {
        let row_no = match row_no {
            Some(n) => n,
            None => {
                let row = query_one(
                    conn,
                    "SELECT COALESCE(MAX(row_no), 0) AS n FROM planned_visits WHERE plan_id = ?",
                    vec![plan_id.clone().into()],
                )
                .await?;
                row.map(|r| get::<i32>(&r, "n")).transpose()?.unwrap_or(0) + 1
            }
        };
        insert_cell(
            conn,
            &plan_id,
            owner,
            customer_id,
            customer_name,
            row_no,
            (number, Some(date), None),
        )
        .await?;
    }
    touch_plan(conn, &plan_id, owner.actor, owner.now).await
}

async fn insert_cell(
    conn: &impl ConnectionTrait,
    plan_id: &str,
    owner: &PlanOwner<'_>,
    customer_id: &str,
    customer_name: &str,
    row_no: i32,
    (number, planned, actual): (i32, Option<&str>, Option<&str>),
) -> Result<(), Problem> {
    let month: Option<String> = planned.map(|d| d[..7.min(d.len())].to_owned());
    execute(
        conn,
        "INSERT INTO planned_visits (plan_id, salesperson_id, team, year, customer_id, customer_name, row_no, number, planned_date, planned_month, actual_date, visit_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        vec![
            plan_id.into(),
            owner.salesperson_id.into(),
            owner.team.into(),
            owner.year.into(),
            customer_id.into(),
            customer_name.into(),
            row_no.into(),
            number.into(),
            planned.map(str::to_owned).into(),
            month.into(),
            actual.map(str::to_owned).into(),
        ],
    )
    .await
    .map_err(write_error)?;
    Ok(())
}

/// Grouping and filters of a plan-vs-done query.
#[derive(Debug, Clone)]
pub struct ProgressFilter {
    /// Year.
    pub year: i32,
    /// Only this month `YYYY-MM`, or empty.
    pub month: String,
    /// Only this salesperson, or empty.
    pub salesperson_id: String,
    /// Only this customer, or empty.
    pub customer_id: String,
    /// Only this team, or empty.
    pub team: String,
    /// Dimensions grouped by.
    pub dimensions: Vec<Dimension>,
    /// Today, `YYYY-MM-DD`: planned dates before it without a visit are missed.
    pub today: String,
}

/// One group's figures.
#[derive(Debug, Clone, Default)]
pub struct ProgressRow {
    /// Salesperson, when grouped by.
    pub salesperson_id: String,
    /// Salesperson's name.
    pub salesperson_name: String,
    /// Customer, when grouped by.
    pub customer_id: String,
    /// Customer's name.
    pub customer_name: String,
    /// Month, when grouped by.
    pub month: String,
    /// The counts.
    pub counts: Counts,
}

impl Store {
    /// Creates (`etag` empty) or replaces a salesperson's plan for a year. Visits already
    /// recorded fill the actual dates of the new rows they match. Returns the plan id.
    pub async fn upsert_plan(
        &self,
        owner: &PlanOwner<'_>,
        etag: &str,
        rows: &[PlanRow],
        payload: impl FnOnce(&str) -> pb::VisitPlan,
    ) -> Result<String, Problem> {
        let txn = begin_write(&self.db).await?;
        let existing = query_one(
            &txn,
            "SELECT id, version FROM visit_plans WHERE salesperson_id = ? AND year = ?",
            vec![owner.salesperson_id.into(), owner.year.into()],
        )
        .await?;
        let plan_id = match existing {
            Some(row) => {
                let id: String = get(&row, "id")?;
                if etag.is_empty() {
                    return Err(Problem::AlreadyExists {
                        resource: "visit_plan",
                        existing_id: id,
                        reason: "PLAN_EXISTS",
                        message: format!(
                            "{} already has a plan for {}; send its etag to replace it",
                            owner.salesperson_id, owner.year
                        ),
                    });
                }
                check_etag(etag, get(&row, "version")?)?;
                execute(
                    &txn,
                    "UPDATE visit_plans SET salesperson_name = ?, team = ? WHERE id = ?",
                    vec![
                        owner.salesperson_name.into(),
                        owner.team.into(),
                        id.clone().into(),
                    ],
                )
                .await?;
                touch_plan(&txn, &id, owner.actor, owner.now).await?;
                // The rows are replaced; the plan's earlier rows live on in its change events.
                execute(
                    &txn,
                    "DELETE FROM planned_visits WHERE plan_id = ?",
                    vec![id.clone().into()],
                )
                .await?;
                id
            }
            None => {
                if !etag.is_empty() {
                    return Err(Problem::not_found(
                        "visit_plan",
                        format!("{}/{}", owner.salesperson_id, owner.year),
                    ));
                }
                ensure_plan(&txn, owner).await?
            }
        };
        for row in rows {
            for (number, planned, actual, _) in &row.visits {
                insert_cell(
                    &txn,
                    &plan_id,
                    owner,
                    &row.customer_id,
                    &row.customer_name,
                    row.row_no,
                    (*number, planned.as_deref(), actual.as_deref()),
                )
                .await?;
            }
        }
        // Visits recorded before the plan (or before this row) fill it now.
        const MATCH: &str = "FROM visits v WHERE v.salesperson_id = planned_visits.salesperson_id \
             AND v.visit_year = planned_visits.year AND v.customer_id = planned_visits.customer_id \
             AND v.sequence = planned_visits.number";
        execute(
            &txn,
            &format!(
                "UPDATE planned_visits SET visit_id = (SELECT v.id {MATCH} ORDER BY v.id LIMIT 1), \
                 actual_date = (SELECT v.visit_date {MATCH} ORDER BY v.id LIMIT 1) \
                 WHERE plan_id = ? AND actual_date IS NULL AND EXISTS (SELECT 1 {MATCH})"
            ),
            vec![plan_id.clone().into()],
        )
        .await?;
        execute(
            &txn,
            "UPDATE visits SET plan_matched = EXISTS (SELECT 1 FROM planned_visits p WHERE p.visit_id = visits.id) \
             WHERE salesperson_id = ? AND visit_year = ?",
            vec![owner.salesperson_id.into(), owner.year.into()],
        )
        .await?;
        emit(
            &self.outbox,
            &txn,
            owner.now,
            "visit_plan.upserted",
            &plan_id,
            None,
            owner.actor,
            &payload(&plan_id),
        )
        .await?;
        txn.commit().await.map_err(write_error)?;
        self.outbox.notify_committed();
        Ok(plan_id)
    }

    /// A salesperson's plan for a year.
    pub async fn get_plan(&self, salesperson_id: &str, year: i32) -> Result<StoredPlan, Problem> {
        let header = query_one(
            &self.db,
            "SELECT id, salesperson_name, version, created_at, updated_at, updated_by FROM visit_plans WHERE salesperson_id = ? AND year = ?",
            vec![salesperson_id.into(), year.into()],
        )
        .await?
        .ok_or_else(|| Problem::not_found("visit_plan", format!("{salesperson_id}/{year}")))?;
        let id: String = get(&header, "id")?;
        let cells = query(
            &self.db,
            "SELECT customer_id, customer_name, row_no, number, planned_date, actual_date, visit_id \
             FROM planned_visits WHERE plan_id = ? ORDER BY row_no, customer_id, number",
            vec![id.clone().into()],
        )
        .await?;
        let mut rows: Vec<PlanRow> = Vec::new();
        for cell in &cells {
            let customer_id: String = get(cell, "customer_id")?;
            if rows
                .last()
                .map(|r| r.customer_id != customer_id)
                .unwrap_or(true)
            {
                rows.push(PlanRow {
                    customer_id: customer_id.clone(),
                    customer_name: get(cell, "customer_name")?,
                    row_no: get(cell, "row_no")?,
                    visits: Vec::new(),
                });
            }
            if let Some(row) = rows.last_mut() {
                row.visits.push((
                    get(cell, "number")?,
                    get(cell, "planned_date")?,
                    get(cell, "actual_date")?,
                    get(cell, "visit_id")?,
                ));
            }
        }
        Ok(StoredPlan {
            id,
            salesperson_id: salesperson_id.to_owned(),
            salesperson_name: get(&header, "salesperson_name")?,
            year,
            version: get(&header, "version")?,
            created_at: get(&header, "created_at")?,
            updated_at: get(&header, "updated_at")?,
            updated_by: get(&header, "updated_by")?,
            rows,
        })
    }

    /// Plan against done, grouped as asked. The rules are [`crate::domain::progress`]'s, counted
    /// here in SQL so a year of a whole sales force is added up by the database.
    pub async fn progress(&self, filter: &ProgressFilter) -> Result<Vec<ProgressRow>, Problem> {
        let by = |d: Dimension| filter.dimensions.contains(&d);
        let mut planned_keys = Vec::new();
        let mut visit_keys = Vec::new();
        for (dimension, planned, visited) in [
            (Dimension::Salesperson, "salesperson_id", "salesperson_id"),
            (Dimension::Customer, "customer_id", "customer_id"),
            (
                Dimension::Month,
                "planned_month",
                "substr(visit_date, 1, 7)",
            ),
        ] {
            if by(dimension) {
                planned_keys.push(planned.to_owned());
                visit_keys.push(visited.to_owned());
            } else {
                planned_keys.push("''".to_owned());
                visit_keys.push("''".to_owned());
            }
        }
        let select = |keys: &[String]| {
            format!(
                "{} AS k_salesperson, {} AS k_customer, {} AS k_month",
                keys[0], keys[1], keys[2]
            )
        };
        let group = |keys: &[String]| {
            let grouped: Vec<&str> = keys
                .iter()
                .filter(|k| k.as_str() != "''")
                .map(String::as_str)
                .collect();
            if grouped.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", grouped.join(", "))
            }
        };

        let mut planned_filter = vec!["year = ?".to_owned()];
        let mut planned_values: Vec<Value> = vec![filter.today.clone().into(), filter.year.into()];
        let mut visit_filter = vec!["visit_year = ?".to_owned(), "plan_matched = ?".to_owned()];
        let mut visit_values: Vec<Value> = vec![filter.year.into(), false.into()];
        for (value, planned_column, visit_column) in [
            (&filter.month, "planned_month", "substr(visit_date, 1, 7)"),
            (&filter.salesperson_id, "salesperson_id", "salesperson_id"),
            (&filter.customer_id, "customer_id", "customer_id"),
            (&filter.team, "team", "team"),
        ] {
            if !value.is_empty() {
                planned_filter.push(format!("{planned_column} = ?"));
                planned_values.push(value.clone().into());
                visit_filter.push(format!("{visit_column} = ?"));
                visit_values.push(value.clone().into());
            }
        }

        let planned_sql = format!(
            "SELECT {}, MAX(customer_name) AS customer_name, COUNT(*) AS planned, \
             SUM(CASE WHEN actual_date IS NOT NULL THEN 1 ELSE 0 END) AS done, \
             SUM(CASE WHEN actual_date IS NOT NULL AND actual_date <= planned_date THEN 1 ELSE 0 END) AS on_time, \
             SUM(CASE WHEN actual_date IS NULL AND planned_date < ? THEN 1 ELSE 0 END) AS missed \
             FROM planned_visits WHERE {}{}",
            select(&planned_keys),
            planned_filter.join(" AND "),
            group(&planned_keys)
        );
        let unplanned_sql = format!(
            "SELECT {}, COUNT(*) AS unplanned FROM visits WHERE {}{}",
            select(&visit_keys),
            visit_filter.join(" AND "),
            group(&visit_keys)
        );

        let mut groups: BTreeMap<(String, String, String), ProgressRow> = BTreeMap::new();
        let key = |row: &sea_orm::QueryResult| -> Result<(String, String, String), Problem> {
            Ok((
                get::<Option<String>>(row, "k_salesperson")?.unwrap_or_default(),
                get::<Option<String>>(row, "k_customer")?.unwrap_or_default(),
                get::<Option<String>>(row, "k_month")?.unwrap_or_default(),
            ))
        };
        for row in query(&self.db, &planned_sql, planned_values).await? {
            let planned: i64 = get(&row, "planned")?;
            if planned == 0 {
                continue; // an aggregate over no rows
            }
            let entry = groups.entry(key(&row)?).or_default();
            if by(Dimension::Customer) {
                entry.customer_name =
                    get::<Option<String>>(&row, "customer_name")?.unwrap_or_default();
            }
            entry.counts.add(&Counts {
                planned,
                done: get::<Option<i64>>(&row, "done")?.unwrap_or(0),
                on_time: get::<Option<i64>>(&row, "on_time")?.unwrap_or(0),
                missed: get::<Option<i64>>(&row, "missed")?.unwrap_or(0),
                unplanned: 0,
            });
        }
        for row in query(&self.db, &unplanned_sql, visit_values).await? {
            let unplanned: i64 = get(&row, "unplanned")?;
            if unplanned == 0 {
                continue;
            }
            groups.entry(key(&row)?).or_default().counts.unplanned += unplanned;
        }

        let names: BTreeMap<String, String> = if by(Dimension::Salesperson) {
            query(
                &self.db,
                "SELECT salesperson_id, salesperson_name FROM visit_plans WHERE year = ?",
                vec![filter.year.into()],
            )
            .await?
            .iter()
            .map(|r| Ok((get(r, "salesperson_id")?, get(r, "salesperson_name")?)))
            .collect::<Result<_, Problem>>()?
        } else {
            BTreeMap::new()
        };
        Ok(groups
            .into_iter()
            .map(|((salesperson_id, customer_id, month), mut row)| {
                row.salesperson_name = names.get(&salesperson_id).cloned().unwrap_or_default();
                row.salesperson_id = salesperson_id;
                row.customer_id = customer_id;
                row.month = month;
                row
            })
            .collect())
    }
}
