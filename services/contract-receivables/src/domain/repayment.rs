//! Debts and repayment (欠款还款): a repayment agreement (欠款还款协议) turns open receivables into
//! a plan of instalments (客户还款计划); money applied to the plan's receivables pays the
//! instalments in order; a manager may move an instalment's due date (延期还款审批单).
//! An instalment is due, paid, or overdue once its due date has passed unpaid.

use chrono::{DateTime, NaiveDate, Utc};
use dossier_kit::{Problem, Violations};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::format_money;

/// State of an instalment on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstalmentState {
    /// Not yet paid, not yet late.
    Due,
    /// Paid in full.
    Paid,
    /// Past its due date unpaid.
    Overdue,
}

/// One instalment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    /// 1, 2, …
    pub number: i32,
    /// Due date (moved by approved deferrals).
    pub due_date: NaiveDate,
    /// Amount.
    pub amount: Decimal,
    /// Paid so far.
    pub paid_amount: Decimal,
    /// When paid in full.
    pub paid_date: Option<NaiveDate>,
    /// Due date before any deferral.
    pub original_due_date: NaiveDate,
    /// Whether its `instalment.overdue` event was sent.
    pub overdue_reported: bool,
}

impl Instalment {
    /// State on `today`.
    pub fn state(&self, today: NaiveDate) -> InstalmentState {
        if self.paid_amount >= self.amount {
            InstalmentState::Paid
        } else if self.due_date < today {
            InstalmentState::Overdue
        } else {
            InstalmentState::Due
        }
    }
}

/// State of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// Being repaid.
    Active,
    /// Everything paid.
    Completed,
}

impl PlanState {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            PlanState::Active => "active",
            PlanState::Completed => "completed",
        }
    }
}

/// A repayment agreement with its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepaymentPlan {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// 协议号.
    pub agreement_no: String,
    /// Signed.
    pub signed_date: NaiveDate,
    /// Receivables covered.
    pub receivable_ids: Vec<String>,
    /// Debt covered (their open amount when signed).
    pub debt_amount: Decimal,
    /// Instalments, in order.
    pub instalments: Vec<Instalment>,
    /// State.
    pub state: PlanState,
    /// Notes.
    pub notes: String,
    /// Optimistic-concurrency counter.
    pub revision: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who recorded it.
    pub created_by: String,
}

impl RepaymentPlan {
    /// Paid so far.
    pub fn paid(&self) -> Decimal {
        self.instalments.iter().map(|i| i.paid_amount).sum()
    }
    /// Still to pay.
    pub fn outstanding(&self) -> Decimal {
        self.debt_amount - self.paid()
    }
    /// Unpaid amount of overdue instalments on `today`.
    pub fn overdue(&self, today: NaiveDate) -> Decimal {
        self.instalments
            .iter()
            .filter(|i| i.state(today) == InstalmentState::Overdue)
            .map(|i| i.amount - i.paid_amount)
            .sum()
    }

    /// Credits `amount` (money or approved claims reaching the plan's receivables) to the
    /// instalments in order.
    pub fn credit(&mut self, amount: Decimal, date: NaiveDate, now: DateTime<Utc>) {
        let mut left = amount;
        for i in &mut self.instalments {
            if left.is_zero() {
                break;
            }
            let owed = i.amount - i.paid_amount;
            if owed <= Decimal::ZERO {
                continue;
            }
            let part = owed.min(left);
            i.paid_amount += part;
            left -= part;
            if i.paid_amount >= i.amount {
                i.paid_date = Some(date);
            }
        }
        if self.instalments.iter().all(|i| i.paid_amount >= i.amount) {
            self.state = PlanState::Completed;
        }
        self.revision += 1;
        self.updated_at = now;
    }

    /// The instalments that became overdue on `today` and were not reported yet; marks them.
    pub fn take_newly_overdue(&mut self, today: NaiveDate) -> Vec<i32> {
        let mut numbers = Vec::new();
        for i in &mut self.instalments {
            if i.state(today) == InstalmentState::Overdue && !i.overdue_reported {
                i.overdue_reported = true;
                numbers.push(i.number);
            }
        }
        numbers
    }
}

/// Checks a proposed plan against the debt it covers: instalments positive, dates after the
/// signing and strictly ascending, amounts adding up to the debt exactly.
pub fn validate_plan(
    signed: NaiveDate,
    instalments: &[(NaiveDate, Decimal)],
    debt: Decimal,
) -> Result<(), Problem> {
    let mut v = Violations::new();
    if instalments.is_empty() {
        v.add("plan.instalments", "a plan needs at least one instalment");
    }
    let mut previous: Option<NaiveDate> = None;
    for (i, (due, _)) in instalments.iter().enumerate() {
        if *due < signed {
            v.add(
                format!("plan.instalments[{i}].due_date"),
                "must not be before signed_date (dates out of order)",
            );
        }
        if previous.is_some_and(|p| *due <= p) {
            v.add(
                format!("plan.instalments[{i}].due_date"),
                "must be after the previous instalment's (dates out of order)",
            );
        }
        previous = Some(*due);
    }
    if !v.is_empty() {
        return Err(Problem::InvalidArgument(v.list().to_vec()));
    }
    let sum: Decimal = instalments.iter().map(|(_, a)| *a).sum();
    if sum != debt {
        return Err(Problem::invalid(
            "plan.instalments",
            format!(
                "instalments add up to {} but the debt covered is {}",
                format_money(sum),
                format_money(debt)
            ),
        ));
    }
    Ok(())
}

/// State of a deferral request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeferralState {
    /// Awaiting a manager.
    Requested,
    /// Approved: the instalment moved.
    Approved,
    /// Rejected.
    Rejected,
}

impl DeferralState {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            DeferralState::Requested => "requested",
            DeferralState::Approved => "approved",
            DeferralState::Rejected => "rejected",
        }
    }
}

/// A deferral request (延期还款审批单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferral {
    /// Id.
    pub id: String,
    /// The plan.
    pub plan_id: String,
    /// Customer.
    pub customer_id: String,
    /// The instalment.
    pub instalment_number: i32,
    /// Its due date when asked.
    pub original_due_date: NaiveDate,
    /// The date asked for.
    pub requested_due_date: NaiveDate,
    /// Why.
    pub reason: String,
    /// State.
    pub state: DeferralState,
    /// Who asked.
    pub requested_by: String,
    /// Who decided.
    pub decided_by: String,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    pub decision_comment: String,
    /// Optimistic-concurrency counter.
    pub revision: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Checks a deferral of instalment `number` of `plan` to `to`.
pub fn check_deferral(
    plan: &RepaymentPlan,
    number: i32,
    to: NaiveDate,
) -> Result<&Instalment, Problem> {
    if plan.state != PlanState::Active {
        return Err(Problem::precondition(
            "WRONG_STATE",
            format!("repayment plan {} is {}", plan.id, plan.state.code()),
        ));
    }
    let index = plan
        .instalments
        .iter()
        .position(|i| i.number == number)
        .ok_or_else(|| {
            Problem::invalid(
                "deferral.instalment_number",
                format!("plan has no instalment {number}"),
            )
        })?;
    let instalment = &plan.instalments[index];
    if instalment.paid_amount >= instalment.amount {
        return Err(Problem::precondition(
            "INSTALMENT_PAID",
            format!("instalment {number} is paid already"),
        ));
    }
    if to <= instalment.due_date {
        return Err(Problem::invalid(
            "deferral.requested_due_date",
            "must be after the instalment's current due date (dates out of order)",
        ));
    }
    if let Some(next) = plan.instalments.get(index + 1)
        && to >= next.due_date
    {
        return Err(Problem::invalid(
            "deferral.requested_due_date",
            "must be before the next instalment's due date (dates out of order)",
        ));
    }
    Ok(instalment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn plan() -> RepaymentPlan {
        let now = DateTime::from_timestamp(0, 0).expect("time");
        let instalment = |n: i32, due: &str| Instalment {
            number: n,
            due_date: date(due),
            amount: Decimal::from(100),
            paid_amount: Decimal::ZERO,
            paid_date: None,
            original_due_date: date(due),
            overdue_reported: false,
        };
        RepaymentPlan {
            id: "p".into(),
            customer_id: "k".into(),
            agreement_no: "XY-1".into(),
            signed_date: date("2026-01-01"),
            receivable_ids: vec![],
            debt_amount: Decimal::from(200),
            instalments: vec![instalment(1, "2026-02-01"), instalment(2, "2026-03-01")],
            state: PlanState::Active,
            notes: String::new(),
            revision: 1,
            created_at: now,
            updated_at: now,
            created_by: "u".into(),
        }
    }

    #[test]
    fn instalments_go_due_paid_or_overdue() {
        let now = DateTime::from_timestamp(0, 0).expect("time");
        let mut p = plan();
        assert_eq!(
            p.instalments[0].state(date("2026-02-01")),
            InstalmentState::Due
        );
        assert_eq!(
            p.instalments[0].state(date("2026-02-02")),
            InstalmentState::Overdue
        );
        assert_eq!(p.take_newly_overdue(date("2026-02-02")), vec![1]);
        assert!(
            p.take_newly_overdue(date("2026-02-03")).is_empty(),
            "reported once"
        );
        p.credit(Decimal::from(150), date("2026-02-03"), now);
        assert_eq!(
            p.instalments[0].state(date("2026-02-03")),
            InstalmentState::Paid
        );
        assert_eq!(p.outstanding(), Decimal::from(50));
        p.credit(Decimal::from(50), date("2026-02-04"), now);
        assert_eq!(p.state, PlanState::Completed);
    }

    #[test]
    fn plans_must_add_up_and_run_forward() {
        let signed = date("2026-01-01");
        let ok = [
            (date("2026-02-01"), Decimal::from(100)),
            (date("2026-03-01"), Decimal::from(100)),
        ];
        assert!(validate_plan(signed, &ok, Decimal::from(200)).is_ok());
        assert!(validate_plan(signed, &ok, Decimal::from(201)).is_err());
        let backwards = [ok[1], ok[0]];
        assert!(validate_plan(signed, &backwards, Decimal::from(200)).is_err());
    }

    #[test]
    fn deferrals_move_forward_but_not_past_the_next_instalment() {
        let p = plan();
        assert!(check_deferral(&p, 1, date("2026-02-15")).is_ok());
        assert!(check_deferral(&p, 1, date("2026-01-15")).is_err());
        assert!(check_deferral(&p, 1, date("2026-03-01")).is_err());
        assert!(check_deferral(&p, 3, date("2026-04-01")).is_err());
    }
}
