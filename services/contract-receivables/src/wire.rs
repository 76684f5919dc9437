//! Domain values → messages of `dossier.contract.v1`. Money is written with two places,
//! quantities without trailing zeros, dates as `YYYY-MM-DD`.

use chrono::NaiveDate;
use dossier_kit::time::{format_date, to_timestamp};
use dossier_proto::contract as pb;
use rust_decimal::Decimal;

use crate::domain::claim::{ClaimState, ReturnClaim};
use crate::domain::contract::{Contract, ContractLine, ContractStatus, PaymentTerms};
use crate::domain::credit::{Collateral, CreditLine, CreditOverride, LineState, OverrideState};
use crate::domain::money::{format_money, format_quantity};
use crate::domain::movement::{Delivery, Payment};
use crate::domain::performance::{Evaluation, Rating};
use crate::domain::receivable::{Aging, Bucket, Receivable};
use crate::domain::repayment::{
    Deferral, DeferralState, InstalmentState, PlanState, RepaymentPlan,
};

fn date(d: NaiveDate) -> String {
    format_date(Some(d))
}

/// Payment terms.
pub fn terms(t: &PaymentTerms) -> pb::PaymentTerms {
    pb::PaymentTerms {
        net_days: t.net_days,
        discount_percent: t.discount_percent.normalize().to_string(),
        discount_days: t.discount_days,
    }
}

fn line(l: &ContractLine) -> pb::ContractLine {
    pb::ContractLine {
        line_no: l.line_no,
        product: l.product.clone(),
        unit: l.unit.clone(),
        quantity: format_quantity(l.quantity),
        unit_price: format_money(l.unit_price),
        amount: format_money(l.amount()),
        delivered_quantity: format_quantity(l.delivered_quantity),
        packing: l.packing.clone(),
    }
}

/// Contract status.
pub fn status(s: ContractStatus) -> pb::ContractStatus {
    match s {
        ContractStatus::Draft => pb::ContractStatus::Draft,
        ContractStatus::Active => pb::ContractStatus::Active,
        ContractStatus::Completed => pb::ContractStatus::Completed,
        ContractStatus::Terminated => pb::ContractStatus::Terminated,
    }
}

/// A contract.
pub fn contract(c: &Contract) -> pb::Contract {
    pb::Contract {
        id: c.id.clone(),
        contract_no: c.contract_no.clone(),
        customer_id: c.customer_id.clone(),
        signed_date: date(c.signed_date),
        signer: c.signer.clone(),
        lines: c.lines.iter().map(line).collect(),
        total_amount: format_money(c.total()),
        payment_terms: Some(terms(&c.terms)),
        status: status(c.status) as i32,
        etag: c.etag(),
        currency: "CNY".into(),
        valid_from: date(c.valid_from),
        valid_to: date(c.valid_to),
        version: c.version,
        amendments: c
            .amendments
            .iter()
            .map(|a| pb::ContractAmendment {
                version: a.version,
                reason: a.reason.clone(),
                description: a.description.clone(),
                approver_id: a.approver_id.clone(),
                approver_name: a.approver_name.clone(),
                effective_date: date(a.effective_date),
                lines: Vec::new(),
                payment_terms: None,
                valid_to: String::new(),
                total_amount: format_money(a.total_amount),
                changed_fields: a.changed_fields.clone(),
                amend_time: Some(to_timestamp(a.amended_at)),
                amended_by: a.amended_by.clone(),
            })
            .collect(),
        delivered_amount: format_money(c.delivered_value()),
        undelivered_amount: format_money(c.undelivered_value()),
        salesperson_id: c.salesperson_id.clone(),
        notes: c.notes.clone(),
        termination_reason: c.termination_reason.clone(),
        activate_time: c.activated_at.map(to_timestamp),
        close_time: c.closed_at.map(to_timestamp),
        override_id: c.override_id.clone(),
        create_time: Some(to_timestamp(c.created_at)),
        update_time: Some(to_timestamp(c.updated_at)),
        created_by: c.created_by.clone(),
        updated_by: c.updated_by.clone(),
    }
}

/// A delivery.
pub fn delivery(d: &Delivery) -> pb::Delivery {
    pb::Delivery {
        id: d.id.clone(),
        contract_id: d.contract_id.clone(),
        customer_id: d.customer_id.clone(),
        line_no: d.line_no,
        delivery_date: date(d.delivery_date),
        quantity: format_quantity(d.quantity),
        amount: format_money(d.amount),
        product: d.product.clone(),
        unit: d.unit.clone(),
        receivable_id: d.receivable_id.clone(),
        due_date: date(d.due_date),
        discount_due_date: format_date(d.discount_due_date),
        override_id: d.override_id.clone(),
        notes: d.notes.clone(),
        create_time: Some(to_timestamp(d.created_at)),
        created_by: d.created_by.clone(),
    }
}

/// A payment.
pub fn payment(p: &Payment) -> pb::Payment {
    pb::Payment {
        id: p.id.clone(),
        customer_id: p.customer_id.clone(),
        contract_id: p.contract_id.clone(),
        amount: format_money(p.amount),
        received_date: date(p.received_date),
        method: p.method,
        reference: p.reference.clone(),
        receivable_ids: p.receivable_ids.clone(),
        repayment_plan_id: p.repayment_plan_id.clone(),
        allocations: p
            .allocations
            .iter()
            .map(|a| pb::PaymentAllocation {
                receivable_id: a.receivable_id.clone(),
                amount: format_money(a.amount),
                discount_amount: format_money(a.discount_amount),
                contract_id: a.contract_id.clone(),
            })
            .collect(),
        unapplied_amount: format_money(p.unapplied_amount),
        notes: p.notes.clone(),
        create_time: Some(to_timestamp(p.created_at)),
        created_by: p.created_by.clone(),
        payer_bank_name: p.payer_bank_name.clone(),
        payer_bank_account: p.payer_bank_account.clone(),
    }
}

/// A receivable, its overdue figures as of `today`.
pub fn receivable(r: &Receivable, today: NaiveDate) -> pb::Receivable {
    let days = r.days_overdue(today);
    pb::Receivable {
        id: r.id.clone(),
        customer_id: r.customer_id.clone(),
        contract_id: r.contract_id.clone(),
        contract_no: r.contract_no.clone(),
        delivery_id: r.delivery_id.clone(),
        issue_date: date(r.issue_date),
        due_date: date(r.due_date),
        discount_due_date: format_date(r.discount_due_date),
        discount_percent: r.discount_percent.normalize().to_string(),
        amount: format_money(r.amount),
        paid_amount: format_money(r.paid_amount),
        discount_amount: format_money(r.discount_amount),
        adjusted_amount: format_money(r.adjusted_amount),
        open_amount: format_money(r.open_amount()),
        state: if r.is_open() {
            pb::ReceivableState::Open
        } else {
            pb::ReceivableState::Settled
        } as i32,
        overdue: days > 0,
        days_overdue: i32::try_from(days).unwrap_or(i32::MAX),
        repayment_plan_id: r.repayment_plan_id.clone(),
        settled_date: format_date(r.settled_date),
        etag: r.revision.to_string(),
        update_time: Some(to_timestamp(r.updated_at)),
    }
}

fn collateral(c: &Collateral) -> pb::Collateral {
    pb::Collateral {
        kind: c.kind,
        description: c.description.clone(),
        value: c.value.map(format_money).unwrap_or_default(),
        guarantor: c.guarantor.clone(),
        document_ref: c.document_ref.clone(),
    }
}

/// A credit line.
pub fn credit_line(l: &CreditLine) -> pb::CreditLine {
    pb::CreditLine {
        id: l.id.clone(),
        customer_id: l.customer_id.clone(),
        requested_amount: format_money(l.requested_amount),
        approved_amount: l.approved_amount.map(format_money).unwrap_or_default(),
        valid_from: date(l.valid_from),
        valid_to: date(l.valid_to),
        collateral: l.collateral.iter().map(collateral).collect(),
        state: match l.state {
            LineState::Requested => pb::CreditLineState::Requested,
            LineState::Approved => pb::CreditLineState::Approved,
            LineState::Rejected => pb::CreditLineState::Rejected,
            LineState::Superseded => pb::CreditLineState::Superseded,
        } as i32,
        reason: l.reason.clone(),
        requested_by: l.requested_by.clone(),
        approver_id: l.approver_id.clone(),
        decide_time: l.decided_at.map(to_timestamp),
        decision_comment: l.decision_comment.clone(),
        etag: l.revision.to_string(),
        create_time: Some(to_timestamp(l.created_at)),
        update_time: Some(to_timestamp(l.updated_at)),
    }
}

/// A credit override.
pub fn credit_override(o: &CreditOverride) -> pb::CreditOverride {
    pb::CreditOverride {
        id: o.id.clone(),
        customer_id: o.customer_id.clone(),
        contract_id: o.contract_id.clone(),
        amount: format_money(o.amount),
        reason: o.reason.clone(),
        state: match o.state {
            OverrideState::Requested => pb::CreditOverrideState::Requested,
            OverrideState::Approved => pb::CreditOverrideState::Approved,
            OverrideState::Rejected => pb::CreditOverrideState::Rejected,
            OverrideState::Used => pb::CreditOverrideState::Used,
        } as i32,
        requested_by: o.requested_by.clone(),
        approver_id: o.approver_id.clone(),
        decide_time: o.decided_at.map(to_timestamp),
        decision_comment: o.decision_comment.clone(),
        expire_time: o.expires_at.map(to_timestamp),
        used_by_id: o.used_by_id.clone(),
        etag: o.revision.to_string(),
        create_time: Some(to_timestamp(o.created_at)),
    }
}

/// A repayment plan, instalment states as of `today`.
pub fn plan(p: &RepaymentPlan, today: NaiveDate) -> pb::RepaymentPlan {
    pb::RepaymentPlan {
        id: p.id.clone(),
        customer_id: p.customer_id.clone(),
        agreement_no: p.agreement_no.clone(),
        signed_date: date(p.signed_date),
        receivable_ids: p.receivable_ids.clone(),
        debt_amount: format_money(p.debt_amount),
        instalments: p
            .instalments
            .iter()
            .map(|i| pb::Instalment {
                number: i.number,
                due_date: date(i.due_date),
                amount: format_money(i.amount),
                paid_amount: format_money(i.paid_amount),
                paid_date: format_date(i.paid_date),
                state: match i.state(today) {
                    InstalmentState::Due => pb::InstalmentState::Due,
                    InstalmentState::Paid => pb::InstalmentState::Paid,
                    InstalmentState::Overdue => pb::InstalmentState::Overdue,
                } as i32,
                original_due_date: date(i.original_due_date),
            })
            .collect(),
        state: match p.state {
            PlanState::Active => pb::RepaymentPlanState::Active,
            PlanState::Completed => pb::RepaymentPlanState::Completed,
        } as i32,
        paid_amount: format_money(p.paid()),
        outstanding_amount: format_money(p.outstanding()),
        overdue_amount: format_money(p.overdue(today)),
        notes: p.notes.clone(),
        etag: p.revision.to_string(),
        create_time: Some(to_timestamp(p.created_at)),
        update_time: Some(to_timestamp(p.updated_at)),
        created_by: p.created_by.clone(),
    }
}

/// A deferral.
pub fn deferral(d: &Deferral) -> pb::Deferral {
    pb::Deferral {
        id: d.id.clone(),
        plan_id: d.plan_id.clone(),
        customer_id: d.customer_id.clone(),
        instalment_number: d.instalment_number,
        original_due_date: date(d.original_due_date),
        requested_due_date: date(d.requested_due_date),
        reason: d.reason.clone(),
        state: match d.state {
            DeferralState::Requested => pb::DeferralState::Requested,
            DeferralState::Approved => pb::DeferralState::Approved,
            DeferralState::Rejected => pb::DeferralState::Rejected,
        } as i32,
        requested_by: d.requested_by.clone(),
        decided_by: d.decided_by.clone(),
        decide_time: d.decided_at.map(to_timestamp),
        decision_comment: d.decision_comment.clone(),
        etag: d.revision.to_string(),
        create_time: Some(to_timestamp(d.created_at)),
    }
}

/// A return claim.
pub fn claim(c: &ReturnClaim) -> pb::ReturnClaim {
    pb::ReturnClaim {
        id: c.id.clone(),
        customer_id: c.customer_id.clone(),
        contract_id: c.contract_id.clone(),
        delivery_id: c.delivery_id.clone(),
        kind: c.kind,
        product: c.product.clone(),
        quantity: c.quantity.map(format_quantity).unwrap_or_default(),
        unit: c.unit.clone(),
        amount: format_money(c.amount),
        reason: c.reason.clone(),
        responsibility: c.finding.as_ref().map(|f| pb::ResponsibilityFinding {
            party: f.party,
            cause: f.cause.clone(),
            finding: f.finding.clone(),
            assessed_by: f.assessed_by.clone(),
            assess_time: Some(to_timestamp(f.assessed_at)),
        }),
        state: match c.state {
            ClaimState::Filed => pb::ReturnClaimState::Filed,
            ClaimState::Approved => pb::ReturnClaimState::Approved,
            ClaimState::Rejected => pb::ReturnClaimState::Rejected,
        } as i32,
        approved_amount: format_money(c.approved_amount),
        decided_by: c.decided_by.clone(),
        decide_time: c.decided_at.map(to_timestamp),
        decision_comment: c.decision_comment.clone(),
        receivable_id: c.receivable_id.clone(),
        etag: c.revision.to_string(),
        create_time: Some(to_timestamp(c.created_at)),
        created_by: c.created_by.clone(),
    }
}

/// Aging buckets.
pub fn buckets(a: &Aging) -> Vec<pb::AgingAmount> {
    Bucket::ALL
        .iter()
        .zip(a.buckets.iter())
        .map(|(bucket, (amount, count))| pb::AgingAmount {
            bucket: match bucket {
                Bucket::Days0To30 => pb::AgingBucket::Days030,
                Bucket::Days31To60 => pb::AgingBucket::Days3160,
                Bucket::Days61To90 => pb::AgingBucket::Days6190,
                Bucket::Over90 => pb::AgingBucket::DaysOver90,
            } as i32,
            label: bucket.label().into(),
            amount: format_money(*amount),
            receivable_count: *count,
        })
        .collect()
}

/// A credit evaluation.
pub fn evaluation(e: &Evaluation, period: &str) -> pb::CreditEvaluation {
    pb::CreditEvaluation {
        rating: match e.rating {
            Rating::Unrated => pb::CreditRating::Unspecified,
            Rating::A => pb::CreditRating::A,
            Rating::B => pb::CreditRating::B,
            Rating::C => pb::CreditRating::C,
            Rating::D => pb::CreditRating::D,
        } as i32,
        score: e.score.to_string(),
        rule: e.rule.clone(),
        inputs: e
            .inputs
            .iter()
            .map(|(name, value)| pb::RuleInput {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        period: period.to_owned(),
    }
}

/// A decimal as money, for totals.
pub fn money(d: Decimal) -> String {
    format_money(d)
}
