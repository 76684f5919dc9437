//! Credit (信用额度审批表, 超额审批): credit lines requested and approved by a manager, with
//! collateral or guarantees (授信金额抵押保证登记), the exposure they bound, and the overrides
//! that let one call exceed them.
//!
//! Exposure = open receivables + undelivered value of active contracts. No approved, current
//! line means a limit of zero: a customer without a line trades only with an override.

use chrono::{DateTime, NaiveDate, Utc};
use dossier_kit::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::format_money;

/// State of a credit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    /// Awaiting a manager.
    Requested,
    /// In force (between its dates).
    Approved,
    /// Refused.
    Rejected,
    /// Replaced by a later approved line.
    Superseded,
}

impl LineState {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            LineState::Requested => "requested",
            LineState::Approved => "approved",
            LineState::Rejected => "rejected",
            LineState::Superseded => "superseded",
        }
    }
}

/// One collateral or guarantee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collateral {
    /// The kind's proto number (mortgage, pledge, guarantee, other).
    pub kind: i32,
    /// What it is.
    pub description: String,
    /// Assessed value.
    pub value: Option<Decimal>,
    /// The guarantor.
    pub guarantor: String,
    /// Reference of the registered document.
    pub document_ref: String,
}

/// A credit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLine {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// Amount asked for.
    pub requested_amount: Decimal,
    /// Amount approved.
    pub approved_amount: Option<Decimal>,
    /// First day in force.
    pub valid_from: NaiveDate,
    /// Last day in force.
    pub valid_to: NaiveDate,
    /// Collateral and guarantees.
    pub collateral: Vec<Collateral>,
    /// State.
    pub state: LineState,
    /// Why requested.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// Who decided.
    pub approver_id: String,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    pub decision_comment: String,
    /// Optimistic-concurrency counter.
    pub revision: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl CreditLine {
    /// Whether it is the binding line on `day`.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.state == LineState::Approved && self.valid_from <= day && day <= self.valid_to
    }
    /// Refuses a decision unless the line awaits one.
    pub fn require_requested(&self) -> Result<(), Problem> {
        if self.state == LineState::Requested {
            Ok(())
        } else {
            Err(Problem::precondition(
                "WRONG_STATE",
                format!(
                    "credit line {} is {}, not requested",
                    self.id,
                    self.state.code()
                ),
            ))
        }
    }
}

/// The line in force on `day` among a customer's lines: the latest approved one.
pub fn line_in_force(lines: &[CreditLine], day: NaiveDate) -> Option<&CreditLine> {
    lines
        .iter()
        .filter(|l| l.in_force(day))
        .max_by_key(|l| (l.decided_at, l.id.clone()))
}

/// State of a credit override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideState {
    /// Awaiting a manager.
    Requested,
    /// May be used once.
    Approved,
    /// Refused.
    Rejected,
    /// Used up by a call.
    Used,
}

impl OverrideState {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            OverrideState::Requested => "requested",
            OverrideState::Approved => "approved",
            OverrideState::Rejected => "rejected",
            OverrideState::Used => "used",
        }
    }
}

/// A request to exceed the line once (超额审批).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditOverride {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// The contract it is meant for, if named.
    pub contract_id: String,
    /// The excess it covers.
    pub amount: Decimal,
    /// Why.
    pub reason: String,
    /// State.
    pub state: OverrideState,
    /// Who asked.
    pub requested_by: String,
    /// Who decided.
    pub approver_id: String,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    pub decision_comment: String,
    /// Unusable after.
    pub expires_at: Option<DateTime<Utc>>,
    /// The contract or delivery that used it.
    pub used_by_id: String,
    /// Optimistic-concurrency counter.
    pub revision: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// How a call proposes to go beyond the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideUse {
    /// None: the line binds.
    None,
    /// A previously approved override (by id).
    Approved(String),
    /// The calling manager approves the excess in the call, for the reason given.
    ByCaller(String),
}

/// The credit figures of a customer at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exposure {
    /// Open receivables.
    pub open_receivables: Decimal,
    /// Undelivered value of active contracts.
    pub undelivered: Decimal,
}

impl Exposure {
    /// The exposure.
    pub fn total(&self) -> Decimal {
        self.open_receivables + self.undelivered
    }
}

/// The excess over the line if exposure becomes `after`: `Ok(zero)` when within the line,
/// otherwise `CREDIT_LIMIT_EXCEEDED` with the figures (unless an override is to cover it, in
/// which case the excess is returned for the override to be checked against).
pub fn check_limit(
    limit: Decimal,
    before: Exposure,
    after: Decimal,
    what: &str,
    overriding: bool,
) -> Result<Decimal, Problem> {
    if after <= limit {
        return Ok(Decimal::ZERO);
    }
    let excess = after - limit;
    if overriding {
        return Ok(excess);
    }
    Err(Problem::FailedPrecondition {
        reason: "CREDIT_LIMIT_EXCEEDED",
        message: format!(
            "{what} would take exposure to {} above the approved credit line of {} by {} \
             (open receivables {}, undelivered {}); attach an approved override",
            format_money(after),
            format_money(limit),
            format_money(excess),
            format_money(before.open_receivables),
            format_money(before.undelivered),
        ),
        metadata: vec![
            ("credit_line".into(), format_money(limit)),
            ("exposure".into(), format_money(before.total())),
            ("exposure_after".into(), format_money(after)),
            ("excess".into(), format_money(excess)),
            (
                "available".into(),
                format_money((limit - before.total()).max(Decimal::ZERO)),
            ),
        ],
    })
}

/// Checks that `o` may cover `excess` for `customer_id` now.
pub fn check_override(
    o: &CreditOverride,
    customer_id: &str,
    excess: Decimal,
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    let refuse = |message: String| Err(Problem::precondition("OVERRIDE_NOT_USABLE", message));
    if o.customer_id != customer_id {
        return refuse(format!("override {} is for another customer", o.id));
    }
    if o.state != OverrideState::Approved {
        return refuse(format!(
            "override {} is {}, not approved",
            o.id,
            o.state.code()
        ));
    }
    if o.expires_at.is_some_and(|at| at < now) {
        return refuse(format!("override {} has expired", o.id));
    }
    if o.amount < excess {
        return refuse(format!(
            "override {} covers {} but the excess is {}",
            o.id,
            format_money(o.amount),
            format_money(excess)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_the_line_passes_and_beyond_it_reports_the_figures() {
        let before = Exposure {
            open_receivables: Decimal::from(9000),
            undelivered: Decimal::from(900),
        };
        assert!(
            check_limit(
                Decimal::from(10000),
                before,
                Decimal::from(10000),
                "x",
                false
            )
            .is_ok()
        );
        match check_limit(
            Decimal::from(10000),
            before,
            Decimal::from(10050),
            "x",
            false,
        ) {
            Err(Problem::FailedPrecondition {
                reason, metadata, ..
            }) => {
                assert_eq!(reason, "CREDIT_LIMIT_EXCEEDED");
                assert!(metadata.contains(&("excess".into(), "50.00".into())));
            }
            other => panic!("expected refusal, got {other:?}"),
        }
        assert_eq!(
            check_limit(
                Decimal::from(10000),
                before,
                Decimal::from(10050),
                "x",
                true
            )
            .ok(),
            Some(Decimal::from(50))
        );
    }
}
