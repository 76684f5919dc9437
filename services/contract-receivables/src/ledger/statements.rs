//! Statements: credit status, aging, and the performance and credit evaluation sheet (附表五).
//! All read-only; all sums over `Decimal`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use dossier_kit::Problem;
use rust_decimal::Decimal;

use super::Ledger;
use crate::domain::claim::ReturnClaim;
use crate::domain::contract::Contract;
use crate::domain::credit::{CreditLine, Exposure, line_in_force};
use crate::domain::movement::{Delivery, Payment};
use crate::domain::performance::{Evaluation, Period, evaluate};
use crate::domain::receivable::{Aging, Receivable};
use crate::store::Filter;

/// A customer's credit now.
#[derive(Debug, Clone)]
pub struct CreditStatus {
    /// Customer.
    pub customer_id: String,
    /// The line in force, if any.
    pub line: Option<CreditLine>,
    /// Its amount (zero without one).
    pub limit: Decimal,
    /// Exposure.
    pub exposure: Exposure,
    /// Open and past due.
    pub overdue: Decimal,
    /// Largest days overdue.
    pub max_days_overdue: i64,
    /// Credit held (overpayments).
    pub credit_held: Decimal,
    /// When.
    pub as_of: DateTime<Utc>,
}

/// One customer's aging.
#[derive(Debug, Clone)]
pub struct CustomerAgingRow {
    /// Customer.
    pub customer_id: String,
    /// Aging.
    pub aging: Aging,
}

/// Aging of one customer, a salesperson's book, or everyone.
#[derive(Debug, Clone)]
pub struct AgingReport {
    /// The day aged on.
    pub as_of: NaiveDate,
    /// The total.
    pub total: Aging,
    /// Per customer, by customer id.
    pub customers: Vec<CustomerAgingRow>,
}

/// One row of the performance sheet.
#[derive(Debug, Clone)]
pub struct PerformanceRow {
    /// The delivery.
    pub delivery: Delivery,
    /// Its contract's number.
    pub contract_no: String,
    /// Its contract's amendments, summarised.
    pub amendments: String,
    /// Collected on it so far.
    pub collected: Decimal,
    /// Date of the last collection.
    pub collection_date: Option<NaiveDate>,
    /// How it was paid.
    pub credit_note: String,
}

/// The performance and credit evaluation sheet.
#[derive(Debug, Clone)]
pub struct Performance {
    /// Customer.
    pub customer_id: String,
    /// The period.
    pub period: Period,
    /// Goods value delivered in the period.
    pub sales: Decimal,
    /// Quantity delivered in the period.
    pub delivered_quantity: Decimal,
    /// Collected in the period.
    pub collected: Decimal,
    /// Since 1 January of the period's year, to the period's end.
    pub cumulative_sales: Decimal,
    /// Since 1 January of the period's year, to the period's end.
    pub cumulative_collections: Decimal,
    /// 1 January of the period's year.
    pub cumulative_since: NaiveDate,
    /// This period's evaluation.
    pub evaluation: Evaluation,
    /// The same period last year.
    pub last_year: Evaluation,
    /// One row per delivery of the period.
    pub rows: Vec<PerformanceRow>,
    /// Value of contracts signed in the period.
    pub signed: Decimal,
    /// Open at the period's end.
    pub open_at_end: Decimal,
    /// Aging at the period's end.
    pub aging_at_end: Aging,
}

/// The receivables as they stood at the end of `day`: money and claims after it undone.
fn as_of(
    receivables: &[Receivable],
    payments: &[Payment],
    claims: &[ReturnClaim],
    day: NaiveDate,
) -> Vec<Receivable> {
    let mut paid: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for p in payments.iter().filter(|p| p.received_date <= day) {
        for a in &p.allocations {
            let e = paid.entry(a.receivable_id.as_str()).or_default();
            e.0 += a.amount;
            e.1 += a.discount_amount;
        }
    }
    let mut adjusted: BTreeMap<&str, Decimal> = BTreeMap::new();
    for c in claims
        .iter()
        .filter(|c| c.decided_at.is_some_and(|at| at.date_naive() <= day))
    {
        *adjusted.entry(c.receivable_id.as_str()).or_default() += c.approved_amount;
    }
    receivables
        .iter()
        .filter(|r| r.issue_date <= day)
        .map(|r| {
            let mut then = r.clone();
            // Credit held and applied at delivery is not in any payment's allocations: keep
            // whatever part of the paid amount the payments do not explain.
            let (by_payments, discount) = paid.get(r.id.as_str()).copied().unwrap_or_default();
            let all_by_payments: Decimal = payments
                .iter()
                .flat_map(|p| &p.allocations)
                .filter(|a| a.receivable_id == r.id)
                .map(|a| a.amount)
                .sum();
            let from_credit = (r.paid_amount - all_by_payments).max(Decimal::ZERO);
            then.paid_amount = by_payments + from_credit;
            then.discount_amount = discount;
            then.adjusted_amount = adjusted.get(r.id.as_str()).copied().unwrap_or_default();
            if then.is_open() {
                then.settled_date = None;
            }
            then
        })
        .collect()
}

impl Ledger {
    /// The customer's credit line, exposure, availability and overdue amount now.
    pub async fn credit_status(&self, customer_id: &str) -> Result<CreditStatus, Problem> {
        let today = self.today();
        let lines: Vec<CreditLine> = self
            .store
            .all(&Filter::customer(customer_id).states(&["approved"]))
            .await?;
        let line = line_in_force(&lines, today).cloned();
        let receivables: Vec<Receivable> = self
            .store
            .all(&Filter::customer(customer_id).states(&["open"]))
            .await?;
        let contracts: Vec<Contract> = self
            .store
            .all(&Filter::customer(customer_id).states(&["active"]))
            .await?;
        let aging = Aging::of(&receivables, today);
        Ok(CreditStatus {
            customer_id: customer_id.to_owned(),
            limit: line
                .as_ref()
                .and_then(|l| l.approved_amount)
                .unwrap_or_default(),
            line,
            exposure: Exposure {
                open_receivables: receivables.iter().map(Receivable::open_amount).sum(),
                undelivered: contracts.iter().map(Contract::exposure).sum(),
            },
            overdue: aging.overdue,
            max_days_overdue: aging.max_days_overdue,
            credit_held: self.store.customer_credit(customer_id).await?,
            as_of: self.now(),
        })
    }

    /// Ages open receivables on `as_of` for one customer, one salesperson's book, or all.
    pub async fn aging(
        &self,
        customer_id: &str,
        salesperson_id: &str,
        as_of: NaiveDate,
    ) -> Result<AgingReport, Problem> {
        let filter = Filter {
            customer_id: customer_id.to_owned(),
            salesperson_id: salesperson_id.to_owned(),
            ..Filter::default()
        }
        .states(&["open"]);
        let receivables: Vec<Receivable> = self.store.all(&filter).await?;
        let mut per_customer: BTreeMap<String, Aging> = BTreeMap::new();
        let mut total = Aging::default();
        for r in &receivables {
            total.add(r, as_of);
            per_customer
                .entry(r.customer_id.clone())
                .or_default()
                .add(r, as_of);
        }
        Ok(AgingReport {
            as_of,
            total,
            customers: per_customer
                .into_iter()
                .map(|(customer_id, aging)| CustomerAgingRow { customer_id, aging })
                .collect(),
        })
    }

    /// The performance and credit evaluation sheet of a customer for a period.
    pub async fn performance(
        &self,
        customer_id: &str,
        period: Period,
    ) -> Result<Performance, Problem> {
        let today = self.today();
        let everything = Filter::customer(customer_id);
        let deliveries: Vec<Delivery> = self.store.all(&everything).await?;
        let payments: Vec<Payment> = self.store.all(&everything).await?;
        let receivables: Vec<Receivable> = self.store.all(&everything).await?;
        let contracts: Vec<Contract> = self.store.all(&everything).await?;
        let claims: Vec<ReturnClaim> = self.store.all(&everything).await?;
        let since = NaiveDate::from_ymd_opt(period.start.year(), 1, 1).unwrap_or(period.start);
        let cumulative = Period {
            start: since,
            end: period.end,
        };
        let in_period: Vec<&Delivery> = deliveries
            .iter()
            .filter(|d| period.contains(d.delivery_date))
            .collect();
        let end = period.end.min(today);
        let mut rows = Vec::new();
        for d in &in_period {
            let contract = contracts.iter().find(|c| c.id == d.contract_id);
            let receivable = receivables.iter().find(|r| r.id == d.receivable_id);
            let allocations: Vec<(NaiveDate, Decimal)> = payments
                .iter()
                .flat_map(|p| p.allocations.iter().map(move |a| (p.received_date, a)))
                .filter(|(_, a)| a.receivable_id == d.receivable_id)
                .map(|(day, a)| (day, a.amount))
                .collect();
            let collected = allocations.iter().map(|(_, a)| *a).sum();
            let collection_date = allocations.iter().map(|(day, _)| *day).max();
            let credit_note = match receivable {
                Some(r) if !r.is_open() => match r.settled_date {
                    Some(s) if s <= r.due_date => format!("paid on time {s}"),
                    Some(s) => format!("paid {} days late", (s - r.due_date).num_days()),
                    None => "settled".into(),
                },
                Some(r) if r.due_date < today => {
                    format!("open, {} days overdue", (today - r.due_date).num_days())
                }
                Some(_) => "open, not yet due".into(),
                None => String::new(),
            };
            rows.push(PerformanceRow {
                delivery: (*d).clone(),
                contract_no: contract.map(|c| c.contract_no.clone()).unwrap_or_default(),
                amendments: contract
                    .map(|c| {
                        c.amendments
                            .iter()
                            .map(|a| format!("v{} {}: {}", a.version, a.effective_date, a.reason))
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default(),
                collected,
                collection_date,
                credit_note,
            });
        }
        let collected_in = |p: Period| -> Decimal {
            payments
                .iter()
                .filter(|x| p.contains(x.received_date))
                .map(|x| x.amount)
                .sum()
        };
        let sales_in = |p: Period| -> Decimal {
            deliveries
                .iter()
                .filter(|d| p.contains(d.delivery_date))
                .map(|d| d.amount)
                .sum()
        };
        let then = as_of(&receivables, &payments, &claims, end);
        let aging_at_end = Aging::of(&then, end);
        let last_year = period.year_before();
        let last_year_then = as_of(&receivables, &payments, &claims, last_year.end);
        Ok(Performance {
            customer_id: customer_id.to_owned(),
            period,
            sales: sales_in(period),
            delivered_quantity: in_period.iter().map(|d| d.quantity).sum(),
            collected: collected_in(period),
            cumulative_sales: sales_in(cumulative),
            cumulative_collections: collected_in(cumulative),
            cumulative_since: since,
            evaluation: evaluate(&then, period, end),
            last_year: evaluate(&last_year_then, last_year, last_year.end.min(today)),
            rows,
            signed: contracts
                .iter()
                .filter(|c| period.contains(c.signed_date))
                .map(Contract::total)
                .sum(),
            open_at_end: aging_at_end.total(),
            aging_at_end,
        })
    }
}
