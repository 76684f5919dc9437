//! Returns and discounts (退赔折价): a claim against a delivery, decided by a manager with a
//! responsibility finding (原因、责任鉴定); an approved claim reduces the delivery's receivable.

use chrono::{DateTime, Utc};
use dossier_kit::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// State of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// Awaiting a decision.
    Filed,
    /// Approved: the receivable was reduced.
    Approved,
    /// Rejected.
    Rejected,
}

impl ClaimState {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            ClaimState::Filed => "filed",
            ClaimState::Approved => "approved",
            ClaimState::Rejected => "rejected",
        }
    }
}

/// The cause and who is responsible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The responsible party's proto number.
    pub party: i32,
    /// Cause.
    pub cause: String,
    /// Finding.
    pub finding: String,
    /// Who assessed.
    pub assessed_by: String,
    /// When.
    pub assessed_at: DateTime<Utc>,
}

/// A return or discount claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnClaim {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// Contract.
    pub contract_id: String,
    /// Delivery.
    pub delivery_id: String,
    /// Kind's proto number (return, compensation, discount).
    pub kind: i32,
    /// Product.
    pub product: String,
    /// Quantity concerned.
    pub quantity: Option<Decimal>,
    /// Unit.
    pub unit: String,
    /// Amount claimed.
    pub amount: Decimal,
    /// Reason.
    pub reason: String,
    /// Finding, when decided.
    pub finding: Option<Finding>,
    /// State.
    pub state: ClaimState,
    /// Amount approved.
    pub approved_amount: Decimal,
    /// Who decided.
    pub decided_by: String,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    pub decision_comment: String,
    /// The receivable reduced.
    pub receivable_id: String,
    /// Optimistic-concurrency counter.
    pub revision: i64,
    /// Filed.
    pub created_at: DateTime<Utc>,
    /// Who filed.
    pub created_by: String,
}

impl ReturnClaim {
    /// Refuses a decision unless the claim awaits one.
    pub fn require_filed(&self) -> Result<(), Problem> {
        if self.state == ClaimState::Filed {
            Ok(())
        } else {
            Err(Problem::precondition(
                "WRONG_STATE",
                format!("claim {} is {}, not filed", self.id, self.state.code()),
            ))
        }
    }
}

/// The amount to approve: the one given, or the amount claimed; never more than claimed.
pub fn approved_amount(claim: &ReturnClaim, given: Option<Decimal>) -> Result<Decimal, Problem> {
    let amount = given.unwrap_or(claim.amount);
    if amount > claim.amount {
        return Err(Problem::invalid(
            "approved_amount",
            "must not be above the amount claimed",
        ));
    }
    Ok(amount)
}
