//! The two movements of goods and money: a delivery (提货) against a contract line, and a payment
//! received (回款 / 货款回收) with where it went.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::receivable::Allocation;

/// A delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Id.
    pub id: String,
    /// Contract.
    pub contract_id: String,
    /// Customer.
    pub customer_id: String,
    /// Contract line.
    pub line_no: i32,
    /// 提货日期.
    pub delivery_date: NaiveDate,
    /// Quantity.
    pub quantity: Decimal,
    /// 货物价款 = quantity × the line's unit price.
    pub amount: Decimal,
    /// Product.
    pub product: String,
    /// Unit.
    pub unit: String,
    /// The receivable it created.
    pub receivable_id: String,
    /// Due date of that receivable.
    pub due_date: NaiveDate,
    /// Last day of its discount.
    pub discount_due_date: Option<NaiveDate>,
    /// Override used, if any.
    pub override_id: String,
    /// Notes.
    pub notes: String,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// By.
    pub created_by: String,
}

/// A payment received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Id.
    pub id: String,
    /// Customer.
    pub customer_id: String,
    /// Contract it was directed to, if any.
    pub contract_id: String,
    /// Amount.
    pub amount: Decimal,
    /// Date received.
    pub received_date: NaiveDate,
    /// Method's proto number.
    pub method: i32,
    /// Bank reference.
    pub reference: String,
    /// Receivables it was directed to, if any.
    pub receivable_ids: Vec<String>,
    /// Repayment plan it was directed to, if any.
    pub repayment_plan_id: String,
    /// Where it went.
    pub allocations: Vec<Allocation>,
    /// Left over, held as customer credit.
    pub unapplied_amount: Decimal,
    /// Notes.
    pub notes: String,
    /// Payer's bank.
    pub payer_bank_name: String,
    /// Payer's account.
    pub payer_bank_account: String,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// By.
    pub created_by: String,
}
