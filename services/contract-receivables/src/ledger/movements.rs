//! Deliveries, payments and return claims: everything that moves a receivable.

use std::collections::HashMap;

use chrono::NaiveDate;
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use rust_decimal::Decimal;

use super::{Key, Ledger, check_etag, credit_limit, exposure, new_id};
use crate::domain::claim::{ClaimState, Finding, ReturnClaim, approved_amount};
use crate::domain::contract::Contract;
use crate::domain::credit::{OverrideUse, check_limit};
use crate::domain::movement::Delivery;
use crate::domain::receivable::{Receivable, apply_claim, apply_payment};
use crate::domain::repayment::RepaymentPlan;
use crate::store::Tx;
use crate::wire;

const DELIVERY: &str = "RecordDelivery";
const CLAIM: &str = "FileReturnClaim";
const DECIDE_CLAIM: &str = "DecideReturnClaim";

/// A delivery to record.
#[derive(Debug, Clone)]
pub struct DeliveryInput {
    /// Contract.
    pub contract_id: String,
    /// Line (1 when the contract has one line and none is given).
    pub line_no: i32,
    /// 提货日期.
    pub delivery_date: NaiveDate,
    /// Quantity.
    pub quantity: Decimal,
    /// Notes.
    pub notes: String,
}

/// Passes money that reached receivables in a repayment plan on to the plan's instalments.
/// `plans` holds the plans already read by the transaction (a batch of payments credits one plan
/// several times); the others are read and added.
pub(super) async fn credit_plans(
    tx: &mut Tx,
    plans: &mut HashMap<String, RepaymentPlan>,
    receivables: &[Receivable],
    allocations: &[(String, Decimal)],
    date: NaiveDate,
    actor: &str,
) -> Result<(), Problem> {
    let mut credited: Vec<String> = Vec::new();
    for (receivable_id, amount) in allocations {
        let Some(r) = receivables.iter().find(|r| &r.id == receivable_id) else {
            continue;
        };
        if r.repayment_plan_id.is_empty() {
            continue;
        }
        if !plans.contains_key(&r.repayment_plan_id) {
            let plan: RepaymentPlan = tx.get(&r.repayment_plan_id).await?;
            plans.insert(plan.id.clone(), plan);
        }
        if let Some(plan) = plans.get_mut(&r.repayment_plan_id) {
            plan.credit(*amount, date, tx.now);
        }
        if !credited.contains(&r.repayment_plan_id) {
            credited.push(r.repayment_plan_id.clone());
        }
    }
    for id in credited {
        let Some(plan) = plans.get(&id) else { continue };
        tx.put(plan)?;
        tx.emit_for(
            &plan.customer_id,
            "repayment_plan.paid",
            &plan.id,
            actor,
            &wire::plan(plan, date),
        );
    }
    Ok(())
}

impl Ledger {
    /// Records a delivery: the contract line's remaining quantity bounds it, the credit line
    /// must hold after it (unless overridden), and it creates a receivable due by the terms,
    /// paid at once from the customer's credit held, if any.
    pub async fn record_delivery(
        &self,
        caller: &Caller,
        input: DeliveryInput,
        override_use: OverrideUse,
        key: Key<'_>,
    ) -> Result<Delivery, Problem> {
        if let Some(done) = self
            .store
            .replay(DELIVERY, key.request_id, key.fingerprint)
            .await?
        {
            return Ok(done);
        }
        match self.try_deliver(caller, &input, &override_use, &key).await {
            Ok(d) => Ok(d),
            Err(e) => self.settle_race(DELIVERY, &key, e).await,
        }
    }

    async fn try_deliver(
        &self,
        caller: &Caller,
        input: &DeliveryInput,
        override_use: &OverrideUse,
        key: &Key<'_>,
    ) -> Result<Delivery, Problem> {
        let current: Contract = self.store.get(&input.contract_id).await.map_err(|_| {
            Problem::invalid(
                "delivery.contract_id",
                format!("no contract {}", input.contract_id),
            )
        })?;
        let mut tx = self.begin(&current.customer_id).await?;
        if let Some(done) = tx.replay(DELIVERY, key.request_id, key.fingerprint).await? {
            return Ok(done);
        }
        let mut contract: Contract = tx.get(&input.contract_id).await?;
        let line_no = if input.line_no == 0 && contract.lines.len() == 1 {
            1
        } else {
            input.line_no
        };
        let line = contract.check_delivery(line_no, input.quantity)?.clone();
        if input.delivery_date < contract.signed_date {
            return Err(Problem::invalid(
                "delivery.delivery_date",
                "must not be before the contract's signed date (dates out of order)",
            ));
        }
        let amount = line.value_of(input.quantity);
        let before = exposure(&tx, &contract.customer_id).await?;
        let (_, limit) = credit_limit(&tx, &contract.customer_id, self.today()).await?;
        // Goods leave the undelivered value and become a receivable: the exposure stays, so
        // a delivery is refused only when the customer is over the line already (a line that
        // expired or was cut, say) — the company stops shipping to a customer over its line.
        let excess = check_limit(
            limit,
            before,
            before.total(),
            &format!("delivering on contract {}", contract.contract_no),
            *override_use != OverrideUse::None,
        )?;
        let delivery_id = new_id();
        let override_id = if excess.is_zero() {
            String::new()
        } else {
            self.use_override(
                &mut tx,
                caller,
                &contract.customer_id,
                override_use,
                excess,
                &delivery_id,
            )
            .await?
        };
        let now = tx.now;
        let mut receivable = Receivable {
            id: new_id(),
            customer_id: contract.customer_id.clone(),
            contract_id: contract.id.clone(),
            contract_no: contract.contract_no.clone(),
            delivery_id: delivery_id.clone(),
            salesperson_id: contract.salesperson_id.clone(),
            issue_date: input.delivery_date,
            due_date: contract.terms.due_date(input.delivery_date),
            discount_due_date: contract.terms.discount_due_date(input.delivery_date),
            discount_percent: contract.terms.discount_percent,
            amount,
            paid_amount: Decimal::ZERO,
            discount_amount: Decimal::ZERO,
            adjusted_amount: Decimal::ZERO,
            settled_date: None,
            last_paid_date: None,
            repayment_plan_id: String::new(),
            revision: 1,
            updated_at: now,
        };
        if tx.credit() > Decimal::ZERO {
            let credit = tx.credit();
            let (_, left) = apply_payment(
                std::slice::from_mut(&mut receivable),
                credit,
                input.delivery_date,
                now,
            );
            tx.set_credit(left);
        }
        if let Some(l) = contract.lines.iter_mut().find(|l| l.line_no == line_no) {
            l.deliver(input.quantity, amount);
        }
        contract.revision += 1;
        contract.updated_at = now;
        contract.updated_by = caller.sub.clone();
        let delivery = Delivery {
            id: delivery_id,
            contract_id: contract.id.clone(),
            customer_id: contract.customer_id.clone(),
            line_no,
            delivery_date: input.delivery_date,
            quantity: input.quantity,
            amount,
            product: line.product.clone(),
            unit: line.unit.clone(),
            receivable_id: receivable.id.clone(),
            due_date: receivable.due_date,
            discount_due_date: receivable.discount_due_date,
            override_id,
            notes: input.notes.clone(),
            created_at: now,
            created_by: caller.sub.clone(),
        };
        tx.put(&contract)?;
        tx.put(&receivable)?;
        tx.put(&delivery)?;
        tx.remember(DELIVERY, key.request_id, key.fingerprint, &delivery.id);
        tx.emit(
            "delivery.recorded",
            &delivery.id,
            &caller.sub,
            &wire::delivery(&delivery),
        );
        tx.commit().await?;
        Ok(delivery)
    }

    /// Files a return or discount claim against a delivery.
    pub async fn file_claim(
        &self,
        caller: &Caller,
        mut claim: ReturnClaim,
        key: Key<'_>,
    ) -> Result<ReturnClaim, Problem> {
        if let Some(done) = self
            .store
            .replay(CLAIM, key.request_id, key.fingerprint)
            .await?
        {
            return Ok(done);
        }
        let delivery: Delivery = self.store.get(&claim.delivery_id).await.map_err(|_| {
            Problem::invalid(
                "claim.delivery_id",
                format!("no delivery {}", claim.delivery_id),
            )
        })?;
        let attempt = async {
            let mut tx = self.begin(&delivery.customer_id).await?;
            if let Some(done) = tx.replay(CLAIM, key.request_id, key.fingerprint).await? {
                return Ok(done);
            }
            if !claim.customer_id.is_empty() && claim.customer_id != delivery.customer_id {
                return Err(Problem::invalid(
                    "claim.customer_id",
                    "is not the delivery's customer",
                ));
            }
            if claim.amount > delivery.amount {
                return Err(Problem::invalid(
                    "claim.amount",
                    format!(
                        "must not be above the delivery's value {}",
                        crate::domain::money::format_money(delivery.amount)
                    ),
                ));
            }
            if claim.quantity.is_some_and(|q| q > delivery.quantity) {
                return Err(Problem::invalid(
                    "claim.quantity",
                    "must not be above the quantity delivered",
                ));
            }
            claim.id = new_id();
            claim.customer_id = delivery.customer_id.clone();
            claim.contract_id = delivery.contract_id.clone();
            claim.receivable_id = delivery.receivable_id.clone();
            if claim.product.is_empty() {
                claim.product = delivery.product.clone();
            }
            if claim.unit.is_empty() {
                claim.unit = delivery.unit.clone();
            }
            claim.state = ClaimState::Filed;
            claim.revision = 1;
            claim.created_at = tx.now;
            claim.created_by = caller.sub.clone();
            tx.put(&claim)?;
            tx.remember(CLAIM, key.request_id, key.fingerprint, &claim.id);
            tx.emit(
                "return_claim.filed",
                &claim.id,
                &caller.sub,
                &wire::claim(&claim),
            );
            tx.commit().await?;
            Ok(claim)
        }
        .await;
        match attempt {
            Ok(c) => Ok(c),
            Err(e) => self.settle_race(CLAIM, &key, e).await,
        }
    }

    /// Decides a claim; an approval reduces the delivery's receivable (and pays the plan's
    /// instalments when the receivable is in one).
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_claim(
        &self,
        caller: &Caller,
        id: &str,
        approve: bool,
        amount: Option<Decimal>,
        finding: Finding,
        comment: &str,
        etag: &str,
        key: Key<'_>,
    ) -> Result<ReturnClaim, Problem> {
        if !key.request_id.is_empty()
            && let Some(done) = self
                .store
                .replay(DECIDE_CLAIM, key.request_id, key.fingerprint)
                .await?
        {
            return Ok(done);
        }
        let current: ReturnClaim = self.store.get(id).await?;
        let mut tx = self.begin(&current.customer_id).await?;
        let mut claim: ReturnClaim = tx.get(id).await?;
        check_etag(etag, claim.revision)?;
        claim.require_filed()?;
        let now = tx.now;
        if approve {
            let approved = approved_amount(&claim, amount)?;
            let mut receivable: Receivable = tx.get(&claim.receivable_id).await?;
            apply_claim(&mut receivable, approved, now.date_naive(), now)?;
            tx.put(&receivable)?;
            let credited = [(receivable.id.clone(), approved)];
            credit_plans(
                &mut tx,
                &mut HashMap::new(),
                std::slice::from_ref(&receivable),
                &credited,
                now.date_naive(),
                &caller.sub,
            )
            .await?;
            claim.approved_amount = approved;
            claim.state = ClaimState::Approved;
        } else {
            claim.state = ClaimState::Rejected;
        }
        claim.finding = Some(finding);
        claim.decided_by = caller.sub.clone();
        claim.decided_at = Some(now);
        claim.decision_comment = comment.to_owned();
        claim.revision += 1;
        tx.put(&claim)?;
        if !key.request_id.is_empty() {
            tx.remember(DECIDE_CLAIM, key.request_id, key.fingerprint, &claim.id);
        }
        tx.emit(
            "return_claim.decided",
            &claim.id,
            &caller.sub,
            &wire::claim(&claim),
        );
        tx.commit().await?;
        Ok(claim)
    }
}
