//! Repayment agreements, deferrals, and the overdue sweep that reports instalments as they
//! fall overdue.

use chrono::NaiveDate;
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use rust_decimal::Decimal;

use super::{Key, Ledger, check_etag, new_id};
use crate::domain::receivable::Receivable;
use crate::domain::repayment::{
    Deferral, DeferralState, Instalment, PlanState, RepaymentPlan, check_deferral, validate_plan,
};
use crate::store::Filter;
use crate::wire;

const PLAN: &str = "CreateRepaymentPlan";
const DEFERRAL: &str = "RequestDeferral";

/// A repayment agreement to record.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Customer.
    pub customer_id: String,
    /// 协议号.
    pub agreement_no: String,
    /// Signed.
    pub signed_date: NaiveDate,
    /// Receivables covered; empty means all the customer's open receivables.
    pub receivable_ids: Vec<String>,
    /// (due date, amount) in order.
    pub instalments: Vec<(NaiveDate, Decimal)>,
    /// Notes.
    pub notes: String,
}

impl Ledger {
    /// Records a repayment agreement over open receivables not yet in another plan; the
    /// instalments must add up to their open amount exactly.
    pub async fn create_plan(
        &self,
        caller: &Caller,
        input: PlanInput,
        key: Key<'_>,
    ) -> Result<RepaymentPlan, Problem> {
        if let Some(done) = self
            .store
            .replay(PLAN, key.request_id, key.fingerprint)
            .await?
        {
            return Ok(done);
        }
        let attempt = async {
            let mut tx = self.begin(&input.customer_id).await?;
            if let Some(done) = tx.replay(PLAN, key.request_id, key.fingerprint).await? {
                return Ok(done);
            }
            let mut covered: Vec<Receivable> = if input.receivable_ids.is_empty() {
                tx.all::<Receivable>(&Filter::customer(&input.customer_id).states(&["open"]))
                    .await?
                    .into_iter()
                    .filter(|r| r.repayment_plan_id.is_empty())
                    .collect()
            } else {
                let mut list = Vec::new();
                for (i, id) in input.receivable_ids.iter().enumerate() {
                    let field = format!("plan.receivable_ids[{i}]");
                    let r: Receivable = tx.get_own(id).await.map_err(|_| {
                        Problem::invalid(&field, format!("no receivable {id} of this customer"))
                    })?;
                    if !r.is_open() {
                        return Err(Problem::precondition(
                            "RECEIVABLE_SETTLED",
                            format!("receivable {id} is settled"),
                        ));
                    }
                    if !r.repayment_plan_id.is_empty() {
                        return Err(Problem::precondition(
                            "RECEIVABLE_IN_PLAN",
                            format!("receivable {id} is in plan {} already", r.repayment_plan_id),
                        ));
                    }
                    list.push(r);
                }
                list
            };
            if covered.is_empty() {
                return Err(Problem::precondition(
                    "NO_DEBT",
                    "the customer has no open receivable outside a plan",
                ));
            }
            let debt: Decimal = covered.iter().map(Receivable::open_amount).sum();
            validate_plan(input.signed_date, &input.instalments, debt)?;
            let now = tx.now;
            let plan = RepaymentPlan {
                id: new_id(),
                customer_id: input.customer_id.clone(),
                agreement_no: input.agreement_no.clone(),
                signed_date: input.signed_date,
                receivable_ids: covered.iter().map(|r| r.id.clone()).collect(),
                debt_amount: debt,
                instalments: input
                    .instalments
                    .iter()
                    .enumerate()
                    .map(|(i, (due, amount))| Instalment {
                        number: i as i32 + 1,
                        due_date: *due,
                        amount: *amount,
                        paid_amount: Decimal::ZERO,
                        paid_date: None,
                        original_due_date: *due,
                        overdue_reported: false,
                    })
                    .collect(),
                state: PlanState::Active,
                notes: input.notes.clone(),
                revision: 1,
                created_at: now,
                updated_at: now,
                created_by: caller.sub.clone(),
            };
            for r in &mut covered {
                r.repayment_plan_id = plan.id.clone();
                r.revision += 1;
                r.updated_at = now;
                tx.put(r)?;
            }
            tx.put(&plan)?;
            tx.remember(PLAN, key.request_id, key.fingerprint, &plan.id);
            tx.emit(
                "repayment_plan.created",
                &plan.id,
                &caller.sub,
                &wire::plan(&plan, self.today()),
            );
            tx.commit().await?;
            Ok(plan)
        }
        .await;
        match attempt {
            Ok(p) => Ok(p),
            Err(e) => self.settle_race(PLAN, &key, e).await,
        }
    }

    /// Asks to defer an instalment (延期还款审批单).
    pub async fn request_deferral(
        &self,
        caller: &Caller,
        plan_id: &str,
        number: i32,
        to: NaiveDate,
        reason: &str,
        key: Key<'_>,
    ) -> Result<Deferral, Problem> {
        if let Some(done) = self
            .store
            .replay(DEFERRAL, key.request_id, key.fingerprint)
            .await?
        {
            return Ok(done);
        }
        let current: RepaymentPlan = self.store.get(plan_id).await.map_err(|_| {
            Problem::invalid("deferral.plan_id", format!("no repayment plan {plan_id}"))
        })?;
        let attempt = async {
            let mut tx = self.begin(&current.customer_id).await?;
            if let Some(done) = tx.replay(DEFERRAL, key.request_id, key.fingerprint).await? {
                return Ok(done);
            }
            let plan: RepaymentPlan = tx.get(plan_id).await?;
            let instalment = check_deferral(&plan, number, to)?;
            let d = Deferral {
                id: new_id(),
                plan_id: plan.id.clone(),
                customer_id: plan.customer_id.clone(),
                instalment_number: number,
                original_due_date: instalment.due_date,
                requested_due_date: to,
                reason: reason.to_owned(),
                state: DeferralState::Requested,
                requested_by: caller.sub.clone(),
                decided_by: String::new(),
                decided_at: None,
                decision_comment: String::new(),
                revision: 1,
                created_at: tx.now,
            };
            tx.put(&d)?;
            tx.remember(DEFERRAL, key.request_id, key.fingerprint, &d.id);
            tx.emit(
                "deferral.requested",
                &d.id,
                &caller.sub,
                &wire::deferral(&d),
            );
            tx.commit().await?;
            Ok(d)
        }
        .await;
        match attempt {
            Ok(d) => Ok(d),
            Err(e) => self.settle_race(DEFERRAL, &key, e).await,
        }
    }

    /// A manager decides a deferral; an approval moves the instalment's due date.
    pub async fn decide_deferral(
        &self,
        caller: &Caller,
        id: &str,
        approve: bool,
        comment: &str,
        etag: &str,
    ) -> Result<Deferral, Problem> {
        let current: Deferral = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let mut d: Deferral = tx.get(id).await?;
        check_etag(etag, d.revision)?;
        if d.state != DeferralState::Requested {
            return Err(Problem::precondition(
                "WRONG_STATE",
                format!("deferral {id} is {}, not requested", d.state.code()),
            ));
        }
        let now = tx.now;
        if approve {
            let mut plan: RepaymentPlan = tx.get(&d.plan_id).await?;
            // Checked again: the plan may have changed since the request.
            check_deferral(&plan, d.instalment_number, d.requested_due_date)?;
            if let Some(i) = plan
                .instalments
                .iter_mut()
                .find(|i| i.number == d.instalment_number)
            {
                i.due_date = d.requested_due_date;
                i.overdue_reported = false;
            }
            plan.revision += 1;
            plan.updated_at = now;
            tx.put(&plan)?;
            tx.emit(
                "repayment_plan.deferred",
                &plan.id,
                &caller.sub,
                &wire::plan(&plan, self.today()),
            );
            d.state = DeferralState::Approved;
        } else {
            d.state = DeferralState::Rejected;
        }
        d.decided_by = caller.sub.clone();
        d.decided_at = Some(now);
        d.decision_comment = comment.to_owned();
        d.revision += 1;
        tx.put(&d)?;
        tx.emit("deferral.decided", &d.id, &caller.sub, &wire::deferral(&d));
        tx.commit().await?;
        Ok(d)
    }

    /// Marks instalments that fell overdue by today and emits `instalment.overdue` once for
    /// each; `customer_id` narrows the sweep. Returns how many were reported.
    pub async fn sweep_overdue(&self, customer_id: &str) -> Result<usize, Problem> {
        let today = self.today();
        let filter = Filter {
            customer_id: customer_id.to_owned(),
            ..Filter::default()
        }
        .states(&["active"]);
        let plans: Vec<RepaymentPlan> = self.store.all(&filter).await?;
        let mut reported = 0;
        for candidate in plans {
            let mut probe = candidate.clone();
            if probe.take_newly_overdue(today).is_empty() {
                continue;
            }
            let mut tx = self.begin(&candidate.customer_id).await?;
            let mut plan: RepaymentPlan = tx.get(&candidate.id).await?;
            let numbers = plan.take_newly_overdue(today);
            if numbers.is_empty() {
                continue;
            }
            plan.revision += 1;
            plan.updated_at = tx.now;
            tx.put(&plan)?;
            let message = wire::plan(&plan, today);
            for number in &numbers {
                tx.emit(
                    "instalment.overdue",
                    &format!("{}#{number}", plan.id),
                    "system",
                    &message,
                );
            }
            reported += numbers.len();
            tx.commit().await?;
        }
        Ok(reported)
    }
}
