//! The aggregates behind the reports. Everything that runs over many customers aggregates in
//! SQL (GROUP BY and window functions over the read model); only one customer's rows (for its
//! sheet) or one row per slice, salesperson or page ever reach memory.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use dossier_kit::Problem;
use sea_orm::{QueryResult, Value};

use super::{Store, int, text};
use crate::domain::abc::Thresholds;
use crate::domain::factors::SALES_POTENTIAL;
use crate::domain::period::Period;
use crate::domain::proposals::{CREDIT_BANDS_DAYS, Receivable, Settlement};

/// Contract states whose amounts count as a sales target (active or completed).
const TARGET_STATES: &str = "2, 3";

/// What the read model knows of a customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerInfo {
    /// Name.
    pub name: String,
    /// Responsible salesperson.
    pub owner_id: String,
    /// Team.
    pub team: String,
    /// Region.
    pub region: String,
}

/// A complaint as the sheet needs it (instants in Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComplaintRow {
    /// Received.
    pub complaint_at: i64,
    /// Replied, if so.
    pub reply_at: Option<i64>,
    /// Reply deadline, if any.
    pub reply_due_at: Option<i64>,
    /// Closed.
    pub closed: bool,
}

/// One slice of a composition, before shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceRow {
    /// Key.
    pub key: String,
    /// Amount in the period.
    pub amount: i64,
    /// Amount in the previous period.
    pub previous: i64,
    /// Customers in the slice in the period.
    pub customers: i64,
}

/// One classified customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRow {
    /// Customer.
    pub customer_id: String,
    /// Name.
    pub name: String,
    /// Rank by sales.
    pub rank: i64,
    /// Sales.
    pub sales: i64,
    /// Cumulative sales of it and all above.
    pub cumulative: i64,
    /// 1 = A, 2 = B, 3 = C.
    pub class: i64,
    /// Market potential met.
    pub potential: bool,
    /// Strategic importance met.
    pub strategic: bool,
}

/// A classification page with its counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classification {
    /// Rows of the page.
    pub rows: Vec<ClassRow>,
    /// Total sales.
    pub total: i64,
    /// Customers per class A, B, C.
    pub counts: [i64; 3],
    /// Key accounts.
    pub key_accounts: i64,
    /// Customers with sales.
    pub customers: i64,
}

/// A key customer's sales figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySalesRow {
    /// Customer (empty on the total row).
    pub customer_id: String,
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Salesperson.
    pub salesperson_id: String,
    /// Month, previous month, same month last year, year to date, last year to date.
    pub amounts: [i64; 5],
    /// Year target (0 when none).
    pub target: i64,
    /// Collections of the month.
    pub collected: i64,
}

/// What a composition measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// Sales by customer grade.
    Grade,
    /// Sales by product.
    Product,
    /// Sales by region.
    Region,
}

fn day(d: NaiveDate) -> Value {
    d.format("%Y-%m-%d").to_string().into()
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn slices(rows: Vec<QueryResult>) -> Result<Vec<SliceRow>, Problem> {
    rows.iter()
        .map(|row| {
            Ok(SliceRow {
                key: text(row, "k")?,
                amount: int(row, "cur")?,
                previous: int(row, "prev")?,
                customers: int(row, "n")?,
            })
        })
        .collect()
}

impl Store {
    /// What the read model knows of `ids` (unknown ids are missing).
    pub async fn customers(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, CustomerInfo>, Problem> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(500) {
            let rows = self
                .rows(
                    &format!(
                        "SELECT id, name, owner_id, team, region FROM rm_customers WHERE id IN ({})",
                        vec!["?"; chunk.len()].join(", ")
                    ),
                    chunk.iter().map(|c| c.clone().into()).collect(),
                )
                .await?;
            for row in rows {
                out.insert(
                    text(&row, "id")?,
                    CustomerInfo {
                        name: text(&row, "name")?,
                        owner_id: text(&row, "owner_id")?,
                        team: text(&row, "team")?,
                        region: text(&row, "region")?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// A customer's deliveries per month (`YYYY-MM` → cents) in the days `from ..= to`.
    pub async fn monthly_sales(
        &self,
        customer_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<String, i64>, Problem> {
        let rows = self
            .rows(
                "SELECT SUBSTR(delivery_date, 1, 7) AS month, CAST(SUM(amount_cents) AS BIGINT) AS amount \
                 FROM rm_deliveries WHERE customer_id = ? AND delivery_date >= ? AND delivery_date <= ? \
                 GROUP BY SUBSTR(delivery_date, 1, 7)",
                vec![customer_id.into(), day(from), day(to)],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((text(row, "month")?, int(row, "amount")?)))
            .collect()
    }

    /// A customer's sales targets per year: its active and completed contracts' totals.
    pub async fn targets(&self, customer_id: &str) -> Result<BTreeMap<i32, i64>, Problem> {
        let rows = self
            .rows(
                &format!(
                    "SELECT target_year, CAST(SUM(total_cents) AS BIGINT) AS amount FROM rm_contracts \
                     WHERE customer_id = ? AND status IN ({TARGET_STATES}) GROUP BY target_year"
                ),
                vec![customer_id.into()],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((int(row, "target_year")? as i32, int(row, "amount")?)))
            .collect()
    }

    /// A customer's complaints received in `[from, to)` (Unix seconds).
    pub async fn complaints_of(
        &self,
        customer_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<ComplaintRow>, Problem> {
        let rows = self
            .rows(
                "SELECT complaint_at, reply_at, reply_due_at, closed FROM rm_complaints \
                 WHERE customer_id = ? AND complaint_at >= ? AND complaint_at < ?",
                vec![customer_id.into(), from.into(), to.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ComplaintRow {
                    complaint_at: int(row, "complaint_at")?,
                    reply_at: row.try_get("", "reply_at")?,
                    reply_due_at: row.try_get("", "reply_due_at")?,
                    closed: int(row, "closed")? != 0,
                })
            })
            .collect()
    }

    /// A customer's receivables and what settled them.
    pub async fn receivables_of(
        &self,
        customer_id: &str,
    ) -> Result<(Vec<Receivable>, Vec<Settlement>), Problem> {
        let rows = self
            .rows(
                "SELECT receivable_id, MIN(delivery_date) AS issued, MIN(due_date) AS due, \
                 CAST(SUM(amount_cents) AS BIGINT) AS amount FROM rm_deliveries \
                 WHERE customer_id = ? AND receivable_id <> '' GROUP BY receivable_id",
                vec![customer_id.into()],
            )
            .await?;
        let mut receivables = Vec::new();
        for row in rows {
            let (Some(issued), Some(due)) = (
                parse_day(&text(&row, "issued")?),
                parse_day(&text(&row, "due")?),
            ) else {
                continue;
            };
            receivables.push(Receivable {
                id: text(&row, "receivable_id")?,
                issued,
                due,
                amount_cents: int(&row, "amount")?,
            });
        }
        let rows = self
            .rows(
                "SELECT receivable_id, received_date, amount_cents FROM rm_allocations WHERE customer_id = ?",
                vec![customer_id.into()],
            )
            .await?;
        let mut settlements = Vec::new();
        for row in rows {
            if let Some(received) = parse_day(&text(&row, "received_date")?) {
                settlements.push(Settlement {
                    receivable_id: text(&row, "receivable_id")?,
                    received,
                    amount_cents: int(&row, "amount_cents")?,
                });
            }
        }
        Ok((receivables, settlements))
    }

    /// Sales of `period` and of the period before, by grade, product or region, in one scan.
    pub async fn sales_composition(
        &self,
        breakdown: Breakdown,
        period: Period,
        team: &str,
    ) -> Result<Vec<SliceRow>, Problem> {
        let previous = period.previous();
        let mut values = vec![
            day(period.from),
            day(period.from),
            day(period.from),
            day(previous.from),
            day(period.to),
        ];
        let mut filter = String::new();
        if !team.is_empty() {
            filter.push_str(" AND c.team = ?");
            values.push(team.into());
        }
        let sql = match breakdown {
            // Grade and region belong to the customer: sum the deliveries per customer first
            // (one pass, grouped along the customer index), then the customers per slice.
            Breakdown::Grade | Breakdown::Region => {
                let key = if breakdown == Breakdown::Grade {
                    "CAST(COALESCE(c.grade, 0) AS TEXT)"
                } else {
                    "COALESCE(c.region, '')"
                };
                format!(
                    "SELECT {key} AS k, CAST(SUM(s.cur) AS BIGINT) AS cur, CAST(SUM(s.prev) AS BIGINT) AS prev, \
                     CAST(SUM(CASE WHEN s.n > 0 THEN 1 ELSE 0 END) AS BIGINT) AS n FROM ( \
                       SELECT d.customer_id, \
                       SUM(CASE WHEN d.delivery_date >= ? THEN d.amount_cents ELSE 0 END) AS cur, \
                       SUM(CASE WHEN d.delivery_date < ? THEN d.amount_cents ELSE 0 END) AS prev, \
                       SUM(CASE WHEN d.delivery_date >= ? THEN 1 ELSE 0 END) AS n \
                       FROM rm_deliveries d WHERE d.delivery_date >= ? AND d.delivery_date <= ? \
                       GROUP BY d.customer_id) s \
                     LEFT JOIN rm_customers c ON c.id = s.customer_id WHERE 1 = 1{filter} GROUP BY {key}"
                )
            }
            Breakdown::Product => {
                // The customers only filter by team here.
                let join = if team.is_empty() {
                    ""
                } else {
                    "LEFT JOIN rm_customers c ON c.id = d.customer_id"
                };
                format!(
                    "SELECT d.product AS k, \
                     CAST(SUM(CASE WHEN d.delivery_date >= ? THEN d.amount_cents ELSE 0 END) AS BIGINT) AS cur, \
                     CAST(SUM(CASE WHEN d.delivery_date < ? THEN d.amount_cents ELSE 0 END) AS BIGINT) AS prev, \
                     CAST(COUNT(DISTINCT CASE WHEN d.delivery_date >= ? THEN d.customer_id END) AS BIGINT) AS n \
                     FROM rm_deliveries d {join} \
                     WHERE d.delivery_date >= ? AND d.delivery_date <= ?{filter} GROUP BY d.product"
                )
            }
        };
        let rows = self.rows(&sql, values).await?;
        slices(rows)
    }

    /// Receivables open at the end of `period` and of the period before, by the customers'
    /// credit rating A–D (the days-overdue bands of the creditworthiness rule).
    pub async fn credit_composition(
        &self,
        period: Period,
        team: &str,
    ) -> Result<Vec<SliceRow>, Problem> {
        let current = self.open_by_rating(period.to, team).await?;
        let previous = self.open_by_rating(period.previous().to, team).await?;
        let mut out: BTreeMap<String, SliceRow> = BTreeMap::new();
        for (key, (amount, customers)) in current {
            out.insert(
                key.clone(),
                SliceRow {
                    key,
                    amount,
                    previous: 0,
                    customers,
                },
            );
        }
        for (key, (amount, _)) in previous {
            out.entry(key.clone())
                .or_insert(SliceRow {
                    key,
                    amount: 0,
                    previous: 0,
                    customers: 0,
                })
                .previous = amount;
        }
        Ok(out.into_values().collect())
    }

    /// Open receivables as of the end of `as_of` by credit rating: rating → (amount, customers).
    async fn open_by_rating(
        &self,
        as_of: NaiveDate,
        team: &str,
    ) -> Result<BTreeMap<String, (i64, i64)>, Problem> {
        let band = |days: i64| day(as_of - chrono::Duration::days(days));
        let mut values = vec![
            day(as_of),
            day(as_of),
            day(as_of),
            day(as_of),
            band(CREDIT_BANDS_DAYS[0]),
            band(CREDIT_BANDS_DAYS[1]),
        ];
        let (join, filter) = if team.is_empty() {
            ("", "")
        } else {
            values.push(team.into());
            (
                "JOIN rm_customers c ON c.id = p.customer_id",
                "WHERE c.team = ?",
            )
        };
        // Overdue = due before the day (as in the creditworthiness rule); a customer's rating
        // is set by its oldest overdue open receivable.
        let rows = self
            .rows(
                &format!(
                    "WITH r AS ( \
                       SELECT d.customer_id, d.due_date, d.amount_cents - COALESCE(a.paid, 0) AS open \
                       FROM rm_deliveries d LEFT JOIN ( \
                         SELECT receivable_id, SUM(amount_cents) AS paid FROM rm_allocations \
                         WHERE received_date <= ? GROUP BY receivable_id) a ON a.receivable_id = d.receivable_id \
                       WHERE d.delivery_date <= ?), \
                     p AS ( \
                       SELECT customer_id, SUM(open) AS open, \
                       MIN(CASE WHEN due_date < ? THEN due_date END) AS oldest_due \
                       FROM r WHERE open > 0 GROUP BY customer_id) \
                     SELECT CASE WHEN p.oldest_due IS NULL OR p.oldest_due >= ? THEN 'A' \
                       WHEN p.oldest_due >= ? THEN 'B' WHEN p.oldest_due >= ? THEN 'C' ELSE 'D' END AS k, \
                       CAST(SUM(p.open) AS BIGINT) AS amount, CAST(COUNT(*) AS BIGINT) AS n \
                     FROM p {join} {filter} GROUP BY 1"
                ),
                values,
            )
            .await?;
        rows.iter()
            .map(|row| Ok((text(row, "k")?, (int(row, "amount")?, int(row, "n")?))))
            .collect()
    }

    /// Customers with sales in `period`, ranked, classified A/B/C and flagged as key accounts;
    /// one page of them with the counts of the whole ranking.
    pub async fn classify(
        &self,
        period: Period,
        thresholds: Thresholds,
        key_accounts_only: bool,
        limit: u64,
        offset: u64,
    ) -> Result<Classification, Problem> {
        let ranking = format!(
            "WITH s AS ( \
               SELECT customer_id, CAST(SUM(amount_cents) AS BIGINT) AS sales FROM rm_deliveries \
               WHERE delivery_date >= ? AND delivery_date <= ? GROUP BY customer_id \
               HAVING SUM(amount_cents) > 0), \
             r AS ( \
               SELECT customer_id, sales, \
               CAST(ROW_NUMBER() OVER (ORDER BY sales DESC, customer_id) AS BIGINT) AS rank, \
               CAST(SUM(sales) OVER (ORDER BY sales DESC, customer_id ROWS UNBOUNDED PRECEDING) AS BIGINT) AS cum, \
               CAST(SUM(sales) OVER () AS BIGINT) AS total FROM s), \
             pot AS ( \
               SELECT p.customer_id FROM sf_scores p WHERE p.factor = {SALES_POTENTIAL} \
               AND p.superseded_at IS NULL AND p.score >= 3 AND p.month = ( \
                 SELECT MAX(q.month) FROM sf_scores q WHERE q.customer_id = p.customer_id \
                 AND q.factor = {SALES_POTENTIAL} AND q.superseded_at IS NULL)), \
             k AS ( \
               SELECT r.customer_id, r.sales, r.rank, r.cum, r.total, COALESCE(c.name, '') AS name, \
               CAST(CASE WHEN (r.cum - r.sales) * 10000 < ? * r.total THEN 1 \
                    WHEN (r.cum - r.sales) * 10000 < ? * r.total THEN 2 ELSE 3 END AS BIGINT) AS class, \
               CAST(CASE WHEN c.trade_standing = 1 THEN 1 ELSE 0 END AS BIGINT) AS strategic, \
               CAST(CASE WHEN pot.customer_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS potential \
               FROM r LEFT JOIN rm_customers c ON c.id = r.customer_id \
               LEFT JOIN pot ON pot.customer_id = r.customer_id), \
             x AS ( \
               SELECT k.*, CAST(CASE WHEN k.class = 1 OR (k.strategic = 1 AND k.potential = 1) THEN 1 ELSE 0 END AS BIGINT) AS key_account \
               FROM k)"
        );
        let values = || -> Vec<Value> {
            vec![
                day(period.from),
                day(period.to),
                thresholds.a_basis_points.into(),
                thresholds.b_basis_points.into(),
            ]
        };
        let filter = if key_accounts_only {
            "WHERE key_account = 1"
        } else {
            ""
        };
        // One pass: the page's rows carry the counts of the whole ranking (window aggregates
        // over it); only a page past the end needs the counts asked separately.
        let counted = format!(
            "{ranking}, y AS ( \
               SELECT x.*, CAST(COUNT(*) OVER () AS BIGINT) AS n, \
               CAST(SUM(CASE WHEN class = 1 THEN 1 ELSE 0 END) OVER () AS BIGINT) AS a, \
               CAST(SUM(CASE WHEN class = 2 THEN 1 ELSE 0 END) OVER () AS BIGINT) AS b, \
               CAST(SUM(CASE WHEN class = 3 THEN 1 ELSE 0 END) OVER () AS BIGINT) AS c, \
               CAST(SUM(key_account) OVER () AS BIGINT) AS keys FROM x)"
        );
        let mut page_values = values();
        page_values.push((limit as i64).into());
        page_values.push((offset as i64).into());
        let rows = self
            .rows(
                &format!(
                    "{counted} SELECT customer_id, name, rank, sales, cum, total, class, strategic, potential, \
                     n, a, b, c, keys FROM y {filter} ORDER BY rank LIMIT ? OFFSET ?"
                ),
                page_values,
            )
            .await?;
        let mut out = Classification::default();
        let read_counts = |row: &QueryResult, out: &mut Classification| -> Result<(), Problem> {
            out.customers = int(row, "n")?;
            out.total = int(row, "total")?;
            out.counts = [int(row, "a")?, int(row, "b")?, int(row, "c")?];
            out.key_accounts = int(row, "keys")?;
            Ok(())
        };
        if let Some(row) = rows.first() {
            read_counts(row, &mut out)?;
        } else if let Some(row) = self
                .rows(
                    &format!(
                        "{counted} SELECT CAST(MAX(total) AS BIGINT) AS total, MAX(n) AS n, MAX(a) AS a, \
                         MAX(b) AS b, MAX(c) AS c, MAX(keys) AS keys FROM y"
                    ),
                    values(),
                )
                .await?
                .first()
        {
            read_counts(row, &mut out)?;
        }
        for row in rows {
            out.rows.push(ClassRow {
                customer_id: text(&row, "customer_id")?,
                name: text(&row, "name")?,
                rank: int(&row, "rank")?,
                sales: int(&row, "sales")?,
                cumulative: int(&row, "cum")?,
                class: int(&row, "class")?,
                potential: int(&row, "potential")? != 0,
                strategic: int(&row, "strategic")? != 0,
            });
        }
        Ok(out)
    }

    /// Key customers' sales for `month` (key: the card's trade standing 主力 or grade A), one
    /// page, largest month amount first, and the total of all matching rows; with their count.
    pub async fn key_customer_sales(
        &self,
        month: Period,
        region: &str,
        salesperson_id: &str,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<KeySalesRow>, KeySalesRow, i64), Problem> {
        let year_start = month.from.with_month(1).unwrap_or(month.from);
        let last_year = month.year_before();
        let last_year_start = last_year.from.with_month(1).unwrap_or(last_year.from);
        let previous = month.previous();
        let mut filter = String::new();
        let mut filter_values: Vec<Value> = Vec::new();
        if !region.is_empty() {
            if region.ends_with('/') {
                filter.push_str(" AND c.region LIKE ?");
                filter_values.push(format!("{}%", region.replace('%', "")).into());
            } else {
                filter.push_str(" AND c.region = ?");
                filter_values.push(region.into());
            }
        }
        if !salesperson_id.is_empty() {
            filter.push_str(" AND c.owner_id = ?");
            filter_values.push(salesperson_id.into());
        }
        const SUM: &str = "CAST(SUM(CASE WHEN d.delivery_date >= ? AND d.delivery_date <= ? THEN d.amount_cents ELSE 0 END) AS BIGINT)";
        let base = format!(
            "WITH k AS ( \
               SELECT c.id, c.name, c.region, c.owner_id, \
               {SUM} AS m0, {SUM} AS m1, {SUM} AS m2, {SUM} AS m3, {SUM} AS m4 \
               FROM rm_customers c LEFT JOIN rm_deliveries d ON d.customer_id = c.id \
               AND d.delivery_date >= ? AND d.delivery_date <= ? \
               WHERE (c.trade_standing = 1 OR c.grade = 1){filter} \
               GROUP BY c.id, c.name, c.region, c.owner_id), \
             x AS ( \
               SELECT k.*, \
               CAST(COALESCE((SELECT SUM(t.total_cents) FROM rm_contracts t WHERE t.customer_id = k.id \
                 AND t.target_year = ? AND t.status IN ({TARGET_STATES})), 0) AS BIGINT) AS target, \
               CAST(COALESCE((SELECT SUM(p.amount_cents) FROM rm_payments p WHERE p.customer_id = k.id \
                 AND p.received_date >= ? AND p.received_date <= ?), 0) AS BIGINT) AS collected \
               FROM k)"
        );
        let mut values: Vec<Value> = vec![
            day(month.from),
            day(month.to),
            day(previous.from),
            day(previous.to),
            day(last_year.from),
            day(last_year.to),
            day(year_start),
            day(month.to),
            day(last_year_start),
            day(last_year.to),
            day(last_year_start.min(previous.from)),
            day(month.to),
        ];
        values.extend(filter_values);
        values.push(i64::from(month.from.year()).into());
        values.push(day(month.from));
        values.push(day(month.to));
        let read = |row: &QueryResult| -> Result<KeySalesRow, Problem> {
            Ok(KeySalesRow {
                customer_id: text(row, "id")?,
                name: text(row, "name")?,
                region: text(row, "region")?,
                salesperson_id: text(row, "owner_id")?,
                amounts: [
                    int(row, "m0")?,
                    int(row, "m1")?,
                    int(row, "m2")?,
                    int(row, "m3")?,
                    int(row, "m4")?,
                ],
                target: int(row, "target")?,
                collected: int(row, "collected")?,
            })
        };
        let totals = self
            .rows(
                &format!(
                    "{base} SELECT '' AS id, '' AS name, '' AS region, '' AS owner_id, \
                     CAST(COALESCE(SUM(m0), 0) AS BIGINT) AS m0, CAST(COALESCE(SUM(m1), 0) AS BIGINT) AS m1, \
                     CAST(COALESCE(SUM(m2), 0) AS BIGINT) AS m2, CAST(COALESCE(SUM(m3), 0) AS BIGINT) AS m3, \
                     CAST(COALESCE(SUM(m4), 0) AS BIGINT) AS m4, CAST(COALESCE(SUM(target), 0) AS BIGINT) AS target, \
                     CAST(COALESCE(SUM(collected), 0) AS BIGINT) AS collected, CAST(COUNT(*) AS BIGINT) AS n FROM x"
                ),
                values.clone(),
            )
            .await?;
        let (total, count) = match totals.first() {
            Some(row) => (read(row)?, int(row, "n")?),
            None => (KeySalesRow::default(), 0),
        };
        values.push((limit as i64).into());
        values.push((offset as i64).into());
        let rows = self
            .rows(
                &format!("{base} SELECT * FROM x ORDER BY m0 DESC, id LIMIT ? OFFSET ?"),
                values,
            )
            .await?;
        let rows = rows.iter().map(read).collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total, count))
    }
}
