//! Receivables (应收账款) and how money reaches them: a delivery creates one, due by the
//! contract's terms; payments are applied oldest-first (or where directed), settling an invoice
//! with the early-payment discount when paid in full inside the window; approved return claims
//! reduce it. The balance rule, kept by every change here:
//! `open = amount − paid − discount − adjusted ≥ 0`.

use chrono::{DateTime, NaiveDate, Utc};
use dossier_kit::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::{format_money, percent_of};

/// A receivable: one delivery's invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receivable {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// Contract.
    pub contract_id: String,
    /// 合同号.
    pub contract_no: String,
    /// The delivery that created it.
    pub delivery_id: String,
    /// The contract's salesperson (for a salesperson's collections book).
    pub salesperson_id: String,
    /// Issue (delivery) date.
    pub issue_date: NaiveDate,
    /// Due date (issue + net days).
    pub due_date: NaiveDate,
    /// Last day of the early-payment discount, if any.
    pub discount_due_date: Option<NaiveDate>,
    /// Discount in percent.
    pub discount_percent: Decimal,
    /// Goods value.
    pub amount: Decimal,
    /// Paid by payments (and customer credit).
    pub paid_amount: Decimal,
    /// Early-payment discount granted.
    pub discount_amount: Decimal,
    /// Reduced by approved return claims.
    pub adjusted_amount: Decimal,
    /// When it reached zero.
    pub settled_date: Option<NaiveDate>,
    /// Date of the last money applied.
    pub last_paid_date: Option<NaiveDate>,
    /// Repayment plan covering it, if any.
    pub repayment_plan_id: String,
    /// Optimistic-concurrency counter.
    pub revision: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Receivable {
    /// What is still owed.
    pub fn open_amount(&self) -> Decimal {
        self.amount - self.paid_amount - self.discount_amount - self.adjusted_amount
    }
    /// Whether anything is owed.
    pub fn is_open(&self) -> bool {
        self.open_amount() > Decimal::ZERO
    }
    /// Days past due on `as_of` (0 when not due or settled).
    pub fn days_overdue(&self, as_of: NaiveDate) -> i64 {
        if !self.is_open() {
            return 0;
        }
        (as_of - self.due_date).num_days().max(0)
    }
    /// Oldest first: by due date, then issue date, then id (ids are time-ordered UUIDv7).
    pub fn age_key(&self) -> (NaiveDate, NaiveDate, String) {
        (self.due_date, self.issue_date, self.id.clone())
    }

    fn mark(&mut self, date: NaiveDate, now: DateTime<Utc>) {
        self.last_paid_date = Some(date);
        if !self.is_open() && self.settled_date.is_none() {
            self.settled_date = Some(date);
        }
        self.revision += 1;
        self.updated_at = now;
    }
}

/// Money applied to one receivable by one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The receivable.
    pub receivable_id: String,
    /// Its contract.
    pub contract_id: String,
    /// Amount applied.
    pub amount: Decimal,
    /// Discount granted with it.
    pub discount_amount: Decimal,
}

/// Applies `amount` received on `date` to `receivables` in the order given (the caller sorts:
/// oldest first, or the directed ones). A receivable paid in full inside its discount window is
/// settled with the discount; a part payment gets none. Returns the allocations and what is
/// left over (held as customer credit).
pub fn apply_payment(
    receivables: &mut [Receivable],
    amount: Decimal,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> (Vec<Allocation>, Decimal) {
    let mut left = amount;
    let mut allocations = Vec::new();
    for r in receivables.iter_mut() {
        if left.is_zero() {
            break;
        }
        let open = r.open_amount();
        if open <= Decimal::ZERO {
            continue;
        }
        let discount = match r.discount_due_date {
            // Inside the window: from the invoice's issue to its last discount day.
            Some(last_day)
                if r.issue_date <= date && date <= last_day && !r.discount_percent.is_zero() =>
            {
                percent_of(open, r.discount_percent)
            }
            _ => Decimal::ZERO,
        };
        let (applied, granted) = if !discount.is_zero() && left >= open - discount {
            (open - discount, discount)
        } else {
            (left.min(open), Decimal::ZERO)
        };
        if applied.is_zero() && granted.is_zero() {
            continue;
        }
        r.paid_amount += applied;
        r.discount_amount += granted;
        left -= applied;
        r.mark(date, now);
        allocations.push(Allocation {
            receivable_id: r.id.clone(),
            contract_id: r.contract_id.clone(),
            amount: applied,
            discount_amount: granted,
        });
    }
    debug_assert!(receivables.iter().all(|r| r.open_amount() >= Decimal::ZERO));
    (allocations, left)
}

/// Reduces a receivable by an approved claim; refuses more than is open.
pub fn apply_claim(
    receivable: &mut Receivable,
    approved: Decimal,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    let open = receivable.open_amount();
    if approved > open {
        return Err(Problem::FailedPrecondition {
            reason: "CLAIM_EXCEEDS_OPEN_AMOUNT",
            message: format!(
                "approved_amount {} is above the {} still open on the receivable",
                format_money(approved),
                format_money(open)
            ),
            metadata: vec![
                ("approved_amount".into(), format_money(approved)),
                ("open_amount".into(), format_money(open)),
            ],
        });
    }
    receivable.adjusted_amount += approved;
    receivable.mark(date, now);
    Ok(())
}

/// The aging buckets, by days overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// 0–30 days overdue, and not yet due.
    Days0To30,
    /// 31–60.
    Days31To60,
    /// 61–90.
    Days61To90,
    /// Over 90.
    Over90,
}

impl Bucket {
    /// All, in order.
    pub const ALL: [Bucket; 4] = [
        Bucket::Days0To30,
        Bucket::Days31To60,
        Bucket::Days61To90,
        Bucket::Over90,
    ];
    /// The bucket of `days` overdue.
    pub fn of(days: i64) -> Bucket {
        match days {
            ..=30 => Bucket::Days0To30,
            31..=60 => Bucket::Days31To60,
            61..=90 => Bucket::Days61To90,
            _ => Bucket::Over90,
        }
    }
    /// Its label.
    pub fn label(self) -> &'static str {
        match self {
            Bucket::Days0To30 => "0-30",
            Bucket::Days31To60 => "31-60",
            Bucket::Days61To90 => "61-90",
            Bucket::Over90 => ">90",
        }
    }
}

/// Open receivables by bucket. The 0–30 bucket includes what is not yet due, so the four
/// buckets always add up to the open balance; `not_due` says how much of it is not due yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aging {
    /// Amount and count per bucket, in [`Bucket::ALL`] order.
    pub buckets: [(Decimal, i32); 4],
    /// Open and not yet due.
    pub not_due: Decimal,
    /// Open and past due.
    pub overdue: Decimal,
    /// Oldest due date among the open receivables.
    pub oldest_due: Option<NaiveDate>,
    /// Largest days overdue.
    pub max_days_overdue: i64,
}

impl Aging {
    /// Ages `receivables` on `as_of`.
    pub fn of<'a>(
        receivables: impl IntoIterator<Item = &'a Receivable>,
        as_of: NaiveDate,
    ) -> Aging {
        let mut aging = Aging::default();
        for r in receivables {
            aging.add(r, as_of);
        }
        aging
    }

    /// Adds one receivable.
    pub fn add(&mut self, r: &Receivable, as_of: NaiveDate) {
        let open = r.open_amount();
        if open <= Decimal::ZERO {
            return;
        }
        let days = (as_of - r.due_date).num_days();
        let index = Bucket::ALL
            .iter()
            .position(|b| *b == Bucket::of(days))
            .unwrap_or(0);
        self.buckets[index].0 += open;
        self.buckets[index].1 += 1;
        if days > 0 {
            self.overdue += open;
            self.max_days_overdue = self.max_days_overdue.max(days);
        } else {
            self.not_due += open;
        }
        self.oldest_due = Some(self.oldest_due.map_or(r.due_date, |d| d.min(r.due_date)));
    }

    /// The open balance.
    pub fn total(&self) -> Decimal {
        self.buckets.iter().map(|(amount, _)| *amount).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn receivable(id: &str, amount: i64, issued: &str) -> Receivable {
        let issue = date(issued);
        Receivable {
            id: id.into(),
            customer_id: "k".into(),
            contract_id: "c".into(),
            contract_no: "HT".into(),
            delivery_id: "d".into(),
            salesperson_id: "s".into(),
            issue_date: issue,
            due_date: issue + chrono::Duration::days(30),
            discount_due_date: Some(issue + chrono::Duration::days(10)),
            discount_percent: Decimal::from(2),
            amount: Decimal::from(amount),
            paid_amount: Decimal::ZERO,
            discount_amount: Decimal::ZERO,
            adjusted_amount: Decimal::ZERO,
            settled_date: None,
            last_paid_date: None,
            repayment_plan_id: String::new(),
            revision: 1,
            updated_at: DateTime::from_timestamp(0, 0).expect("time"),
        }
    }

    #[test]
    fn two_ten_net_thirty_paid_on_day_ten_settles_with_two_percent_off() {
        let now = DateTime::from_timestamp(0, 0).expect("time");
        let mut rs = vec![receivable("a", 1000, "2026-06-01")];
        let (alloc, left) = apply_payment(&mut rs, Decimal::from(980), date("2026-06-11"), now);
        assert_eq!(left, Decimal::ZERO);
        assert_eq!(alloc[0].discount_amount, Decimal::from(20));
        assert!(!rs[0].is_open());

        let mut rs = vec![receivable("a", 1000, "2026-06-01")];
        let (alloc, _) = apply_payment(&mut rs, Decimal::from(980), date("2026-06-12"), now);
        assert_eq!(alloc[0].discount_amount, Decimal::ZERO);
        assert_eq!(rs[0].open_amount(), Decimal::from(20));
    }

    #[test]
    fn money_dated_before_the_invoice_earns_no_discount_on_it() {
        let now = DateTime::from_timestamp(0, 0).expect("time");
        let mut rs = vec![receivable("a", 1000, "2026-06-01")];
        let (alloc, _) = apply_payment(&mut rs, Decimal::from(980), date("2026-05-30"), now);
        assert_eq!(alloc[0].discount_amount, Decimal::ZERO);
    }

    #[test]
    fn payments_go_oldest_first_and_overpayment_is_left_over() {
        let now = DateTime::from_timestamp(0, 0).expect("time");
        let mut rs = vec![
            receivable("a", 100, "2026-01-01"),
            receivable("b", 100, "2026-02-01"),
        ];
        let (alloc, left) = apply_payment(&mut rs, Decimal::from(250), date("2026-05-01"), now);
        assert_eq!(alloc.len(), 2);
        assert_eq!(left, Decimal::from(50));
        assert!(rs.iter().all(|r| !r.is_open()));
    }

    #[test]
    fn claims_cannot_take_a_receivable_below_zero() {
        let now = DateTime::from_timestamp(0, 0).expect("time");
        let mut r = receivable("a", 100, "2026-01-01");
        assert!(apply_claim(&mut r, Decimal::from(101), date("2026-01-05"), now).is_err());
        assert!(apply_claim(&mut r, Decimal::from(100), date("2026-01-05"), now).is_ok());
        assert_eq!(r.settled_date, Some(date("2026-01-05")));
    }

    #[test]
    fn aging_buckets_add_up_to_the_open_balance() {
        let rs = [
            receivable("a", 100, "2026-01-01"),
            receivable("b", 200, "2026-03-01"),
            receivable("c", 300, "2026-05-20"),
        ];
        let aging = Aging::of(&rs, date("2026-05-15"));
        assert_eq!(aging.total(), Decimal::from(600));
        assert_eq!(aging.buckets[3].0, Decimal::from(100));
        assert_eq!(aging.buckets[1].0, Decimal::from(200));
        assert_eq!(aging.max_days_overdue, 104);
        assert_eq!(aging.not_due, Decimal::from(300));
    }
}
