//! Deliveries, payments and return claims: everything that moves a receivable.

use chrono::NaiveDate;
use dossier_kit::Problem;
use dossier_kit::auth::Caller;
use rust_decimal::Decimal;

use super::{Key, Ledger, check_etag, credit_limit, exposure, new_id};
use crate::domain::claim::{ClaimState, Finding, ReturnClaim, approved_amount};
use crate::domain::contract::Contract;
use crate::domain::credit::{OverrideUse, check_limit};
use crate::domain::movement::{Delivery, Payment};
use crate::domain::receivable::{Allocation, Receivable, apply_claim, apply_payment};
use crate::domain::repayment::RepaymentPlan;
use crate::store::{Filter, Tx};
use crate::wire;

const DELIVERY: &str = "RecordDelivery";
const PAYMENT: &str = "RecordPayment";
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

/// A payment to record.
#[derive(Debug, Clone)]
pub struct PaymentInput {
    /// Customer.
    pub customer_id: String,
    /// Directed to this contract's receivables, if set.
    pub contract_id: String,
    /// Amount.
    pub amount: Decimal,
    /// Received.
    pub received_date: NaiveDate,
    /// Method's proto number.
    pub method: i32,
    /// Bank reference.
    pub reference: String,
    /// Directed to these receivables, in this order, if set.
    pub receivable_ids: Vec<String>,
    /// Directed to this plan's receivables, if set.
    pub repayment_plan_id: String,
    /// Notes.
    pub notes: String,
    /// Payer's bank.
    pub payer_bank_name: String,
    /// Payer's account.
    pub payer_bank_account: String,
}

/// Passes money that reached receivables in a repayment plan on to the plan's instalments.
async fn credit_plans(
    tx: &mut Tx,
    receivables: &[Receivable],
    allocations: &[(String, Decimal)],
    date: NaiveDate,
    actor: &str,
) -> Result<(), Problem> {
    let mut plans: Vec<RepaymentPlan> = Vec::new();
    for (receivable_id, amount) in allocations {
        let Some(r) = receivables.iter().find(|r| &r.id == receivable_id) else {
            continue;
        };
        if r.repayment_plan_id.is_empty() {
            continue;
        }
        let index = match plans.iter().position(|p| p.id == r.repayment_plan_id) {
            Some(i) => i,
            None => {
                plans.push(tx.get(&r.repayment_plan_id).await?);
                plans.len() - 1
            }
        };
        plans[index].credit(*amount, date, tx.now);
    }
    for plan in plans {
        tx.put(&plan).await?;
        tx.emit(
            "repayment_plan.paid",
            &plan.id,
            actor,
            &wire::plan(&plan, date),
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
        if tx.credit > Decimal::ZERO {
            let credit = tx.credit;
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
        tx.put(&contract).await?;
        tx.put(&receivable).await?;
        tx.put(&delivery).await?;
        tx.remember(DELIVERY, key.request_id, key.fingerprint, &delivery.id)
            .await?;
        tx.emit(
            "delivery.recorded",
            &delivery.id,
            &caller.sub,
            &wire::delivery(&delivery),
        );
        tx.commit().await?;
        Ok(delivery)
    }

    /// Records a payment: applied oldest-first (or where directed), early-payment discounts
    /// granted inside their window, the rest held as customer credit. Idempotent by key.
    pub async fn record_payment(
        &self,
        caller: &Caller,
        input: PaymentInput,
        key: Key<'_>,
    ) -> Result<Payment, Problem> {
        // No replay check before the transaction: the one inside it, under the customer's
        // lock, is the one that counts, and payments are the hot path.
        match self.try_pay(caller, &input, &key).await {
            Ok(p) => Ok(p),
            Err(e) => self.settle_race(PAYMENT, &key, e).await,
        }
    }

    async fn try_pay(
        &self,
        caller: &Caller,
        input: &PaymentInput,
        key: &Key<'_>,
    ) -> Result<Payment, Problem> {
        let mut tx = self.begin(&input.customer_id).await?;
        // The key is claimed first, under the customer's lock: a repeat whose twin committed
        // fails here on the key's uniqueness before doing any work, and `settle_race` answers
        // it with the first result (or ALREADY_EXISTS for other content). One statement fewer
        // than check-then-record on the hottest path.
        let payment_id = new_id();
        tx.remember(PAYMENT, key.request_id, key.fingerprint, &payment_id)
            .await?;
        let mut targets: Vec<Receivable> = if !input.receivable_ids.is_empty() {
            let mut directed = Vec::new();
            for (i, id) in input.receivable_ids.iter().enumerate() {
                let r: Receivable = tx.get_own(id).await.map_err(|_| {
                    Problem::invalid(
                        format!("payment.receivable_ids[{i}]"),
                        format!("no receivable {id} of this customer"),
                    )
                })?;
                directed.push(r);
            }
            directed
        } else {
            let mut filter = Filter::customer(&input.customer_id).states(&["open"]);
            if !input.repayment_plan_id.is_empty() {
                tx.get_own::<RepaymentPlan>(&input.repayment_plan_id)
                    .await
                    .map_err(|_| {
                        Problem::invalid(
                            "payment.repayment_plan_id",
                            "no such plan of this customer",
                        )
                    })?;
                filter.parent_id = input.repayment_plan_id.clone();
            } else if !input.contract_id.is_empty() {
                tx.get_own::<Contract>(&input.contract_id)
                    .await
                    .map_err(|_| {
                        Problem::invalid("payment.contract_id", "no such contract of this customer")
                    })?;
                filter.contract_id = input.contract_id.clone();
            }
            let mut open: Vec<Receivable> = tx.all(&filter).await?;
            open.sort_by_key(Receivable::age_key);
            open
        };
        let now = tx.now;
        let (allocations, left) =
            apply_payment(&mut targets, input.amount, input.received_date, now);
        let touched: Vec<&Receivable> = targets
            .iter()
            .filter(|r| allocations.iter().any(|a| a.receivable_id == r.id))
            .collect();
        for r in &touched {
            tx.put(*r).await?;
        }
        let plan_credits: Vec<(String, Decimal)> = allocations
            .iter()
            .map(|a: &Allocation| (a.receivable_id.clone(), a.amount + a.discount_amount))
            .collect();
        credit_plans(
            &mut tx,
            &targets,
            &plan_credits,
            input.received_date,
            &caller.sub,
        )
        .await?;
        if !left.is_zero() {
            let credit = tx.credit + left;
            tx.set_credit(credit);
        }
        let payment = Payment {
            id: payment_id,
            customer_id: input.customer_id.clone(),
            contract_id: input.contract_id.clone(),
            amount: input.amount,
            received_date: input.received_date,
            method: input.method,
            reference: input.reference.clone(),
            receivable_ids: input.receivable_ids.clone(),
            repayment_plan_id: input.repayment_plan_id.clone(),
            allocations,
            unapplied_amount: left,
            notes: input.notes.clone(),
            payer_bank_name: input.payer_bank_name.clone(),
            payer_bank_account: input.payer_bank_account.clone(),
            created_at: now,
            created_by: caller.sub.clone(),
        };
        tx.put(&payment).await?;
        tx.emit(
            "payment.recorded",
            &payment.id,
            &caller.sub,
            &wire::payment(&payment),
        );
        tx.commit().await?;
        Ok(payment)
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
            tx.put(&claim).await?;
            tx.remember(CLAIM, key.request_id, key.fingerprint, &claim.id)
                .await?;
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
            tx.put(&receivable).await?;
            let credited = [(receivable.id.clone(), approved)];
            credit_plans(
                &mut tx,
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
        tx.put(&claim).await?;
        if !key.request_id.is_empty() {
            tx.remember(DECIDE_CLAIM, key.request_id, key.fingerprint, &claim.id)
                .await?;
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
