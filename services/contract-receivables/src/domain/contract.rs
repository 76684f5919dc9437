//! Sales contracts (经销合同): lines, totals, payment terms, the life cycle draft → active →
//! completed / terminated, and amendments (合同存异与变更情况) that make a new version instead of
//! overwriting the old one.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use dossier_kit::{Problem, Violations};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::{money, percent_of};

/// Life cycle of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    /// 草稿: editable, not binding, not in the exposure.
    Draft,
    /// 执行中: deliveries may be recorded; the undelivered value counts in the exposure.
    Active,
    /// 已完成.
    Completed,
    /// 已终止.
    Terminated,
}

impl ContractStatus {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            ContractStatus::Draft => "draft",
            ContractStatus::Active => "active",
            ContractStatus::Completed => "completed",
            ContractStatus::Terminated => "terminated",
        }
    }
}

/// Payment terms, e.g. 2/10 net 30.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentTerms {
    /// Days after delivery in which the invoice is due.
    pub net_days: i32,
    /// Early-payment discount in percent (0 for none).
    pub discount_percent: Decimal,
    /// Days after delivery within which the discount applies.
    pub discount_days: i32,
}

impl Default for PaymentTerms {
    fn default() -> Self {
        Self {
            net_days: 30,
            discount_percent: Decimal::ZERO,
            discount_days: 0,
        }
    }
}

impl PaymentTerms {
    /// Checks the terms: net days 0–3650, discount days within the net days, a discount needs
    /// a window.
    pub fn validate(&self, prefix: &str, v: &mut Violations) {
        if !(0..=3650).contains(&self.net_days) {
            v.add(format!("{prefix}.net_days"), "must be between 0 and 3650");
        }
        if self.discount_days < 0 || self.discount_days > self.net_days.max(0) {
            v.add(
                format!("{prefix}.discount_days"),
                "must be between 0 and net_days",
            );
        }
        if !self.discount_percent.is_zero() && self.discount_days == 0 {
            v.add(
                format!("{prefix}.discount_days"),
                "a discount needs a window of at least one day",
            );
        }
    }

    /// When an invoice issued on `issued` falls due.
    pub fn due_date(&self, issued: NaiveDate) -> NaiveDate {
        issued + Duration::days(i64::from(self.net_days))
    }

    /// The last day an invoice issued on `issued` may be paid with the discount, if any.
    pub fn discount_due_date(&self, issued: NaiveDate) -> Option<NaiveDate> {
        (!self.discount_percent.is_zero())
            .then(|| issued + Duration::days(i64::from(self.discount_days)))
    }
}

/// One line of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractLine {
    /// Line number, from 1.
    pub line_no: i32,
    /// 产品.
    pub product: String,
    /// 单位.
    pub unit: String,
    /// 数量.
    pub quantity: Decimal,
    /// 单价.
    pub unit_price: Decimal,
    /// Quantity delivered so far.
    pub delivered_quantity: Decimal,
    /// Value delivered so far: the sum of the deliveries' amounts, so that the last delivery
    /// of a line takes exactly what is left and no fen is lost to rounding.
    #[serde(default)]
    pub delivered_amount: Decimal,
    /// Packing, e.g. `18L/桶`.
    pub packing: String,
}

impl ContractLine {
    /// quantity × unit price, to the fen.
    pub fn amount(&self) -> Decimal {
        money(self.quantity * self.unit_price)
    }
    /// Quantity still to deliver.
    pub fn remaining_quantity(&self) -> Decimal {
        (self.quantity - self.delivered_quantity).max(Decimal::ZERO)
    }
    /// Value of `quantity` of this line, to the fen; the delivery that completes the line takes
    /// exactly the rest of the line's amount.
    pub fn value_of(&self, quantity: Decimal) -> Decimal {
        if quantity >= self.remaining_quantity() {
            (self.amount() - self.delivered_amount).max(Decimal::ZERO)
        } else {
            money(quantity * self.unit_price)
        }
    }
    /// Records a delivery of `quantity` worth `amount`.
    pub fn deliver(&mut self, quantity: Decimal, amount: Decimal) {
        self.delivered_quantity += quantity;
        self.delivered_amount += amount;
    }
}

/// One amendment: who approved what and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    /// The version it produced.
    pub version: i32,
    /// 变更原因.
    pub reason: String,
    /// What changes, in words.
    pub description: String,
    /// 批准人 (`sub`).
    pub approver_id: String,
    /// The approver's printed name.
    pub approver_name: String,
    /// When it takes effect.
    pub effective_date: NaiveDate,
    /// The total after it.
    pub total_amount: Decimal,
    /// Contract fields it changed.
    pub changed_fields: Vec<String>,
    /// When recorded.
    pub amended_at: DateTime<Utc>,
    /// Who recorded it.
    pub amended_by: String,
}

/// A contract as stored: the current version; earlier versions are kept as snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// Id (UUIDv7).
    pub id: String,
    /// 合同号, unique.
    pub contract_no: String,
    /// The customer.
    pub customer_id: String,
    /// 签订日期.
    pub signed_date: NaiveDate,
    /// 签约人.
    pub signer: String,
    /// The lines.
    pub lines: Vec<ContractLine>,
    /// Payment terms.
    pub terms: PaymentTerms,
    /// Life-cycle state.
    pub status: ContractStatus,
    /// 有效期 start.
    pub valid_from: NaiveDate,
    /// 有效期 end.
    pub valid_to: NaiveDate,
    /// 1 for the original, plus one per amendment.
    pub version: i32,
    /// Amendments, oldest first.
    pub amendments: Vec<Amendment>,
    /// Responsible salesperson.
    pub salesperson_id: String,
    /// 备注.
    pub notes: String,
    /// Why terminated.
    pub termination_reason: String,
    /// When activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// When completed or terminated.
    pub closed_at: Option<DateTime<Utc>>,
    /// Credit override used at activation.
    pub override_id: String,
    /// Optimistic-concurrency counter (the etag); bumps on every change.
    pub revision: i64,
    /// When drafted.
    pub created_at: DateTime<Utc>,
    /// Who drafted it.
    pub created_by: String,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// Who last changed it.
    pub updated_by: String,
}

/// What a caller proposes for a contract (create or draft edit).
#[derive(Debug, Clone)]
pub struct ContractDraft {
    /// 合同号.
    pub contract_no: String,
    /// Customer.
    pub customer_id: String,
    /// 签订日期.
    pub signed_date: NaiveDate,
    /// 签约人.
    pub signer: String,
    /// Lines (line numbers assigned here).
    pub lines: Vec<ContractLine>,
    /// Terms.
    pub terms: PaymentTerms,
    /// Validity.
    pub valid_from: NaiveDate,
    /// Validity end.
    pub valid_to: NaiveDate,
    /// Salesperson (empty: the caller).
    pub salesperson_id: String,
    /// Notes.
    pub notes: String,
}

/// Checks the rules of a whole contract: lines present, dates in order, terms sane.
pub fn validate_draft(d: &ContractDraft, prefix: &str) -> Violations {
    let mut v = Violations::new();
    if d.contract_no.trim().is_empty() {
        v.add(format!("{prefix}.contract_no"), "is required");
    } else if d.contract_no.chars().count() > 64 {
        v.add(format!("{prefix}.contract_no"), "is at most 64 characters");
    }
    if d.lines.is_empty() {
        v.add(
            format!("{prefix}.lines"),
            "a contract needs at least one line",
        );
    }
    for (i, line) in d.lines.iter().enumerate() {
        if line.product.trim().is_empty() {
            v.add(format!("{prefix}.lines[{i}].product"), "is required");
        }
    }
    if d.valid_to < d.valid_from {
        v.add(
            format!("{prefix}.valid_to"),
            "must not be before valid_from (dates out of order)",
        );
    }
    if d.signed_date > d.valid_to {
        v.add(
            format!("{prefix}.signed_date"),
            "must not be after valid_to (dates out of order)",
        );
    }
    d.terms.validate(&format!("{prefix}.payment_terms"), &mut v);
    v
}

/// Numbers the lines 1, 2, … in the order given.
pub fn number_lines(lines: &mut [ContractLine]) {
    for (i, line) in lines.iter_mut().enumerate() {
        line.line_no = i as i32 + 1;
    }
}

impl Contract {
    /// Sum of the line amounts.
    pub fn total(&self) -> Decimal {
        self.lines.iter().map(ContractLine::amount).sum()
    }
    /// Value delivered so far.
    pub fn delivered_value(&self) -> Decimal {
        self.lines.iter().map(|l| l.delivered_amount).sum()
    }
    /// Value not yet delivered.
    pub fn undelivered_value(&self) -> Decimal {
        (self.total() - self.delivered_value()).max(Decimal::ZERO)
    }
    /// What the contract adds to the customer's exposure: its undelivered value while active.
    pub fn exposure(&self) -> Decimal {
        if self.status == ContractStatus::Active {
            self.undelivered_value()
        } else {
            Decimal::ZERO
        }
    }
    /// The etag.
    pub fn etag(&self) -> String {
        self.revision.to_string()
    }
    /// Whether everything has been delivered.
    pub fn fully_delivered(&self) -> bool {
        self.lines.iter().all(|l| l.remaining_quantity().is_zero())
    }

    /// Refuses unless the contract is in one of `allowed` (`WRONG_STATE`).
    pub fn require_status(&self, allowed: &[ContractStatus], action: &str) -> Result<(), Problem> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(Problem::FailedPrecondition {
                reason: "WRONG_STATE",
                message: format!(
                    "contract {} is {}; {action} needs it {}",
                    self.contract_no,
                    self.status.code(),
                    allowed
                        .iter()
                        .map(|s| s.code())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                metadata: vec![("status".into(), self.status.code().into())],
            })
        }
    }

    /// Refuses a delivery of `quantity` on line `line_no` that the contract does not cover.
    pub fn check_delivery(
        &self,
        line_no: i32,
        quantity: Decimal,
    ) -> Result<&ContractLine, Problem> {
        self.require_status(&[ContractStatus::Active], "a delivery")?;
        let line = self
            .lines
            .iter()
            .find(|l| l.line_no == line_no)
            .ok_or_else(|| {
                Problem::invalid(
                    "delivery.line_no",
                    format!("contract {} has no line {line_no}", self.contract_no),
                )
            })?;
        if quantity > line.remaining_quantity() {
            return Err(Problem::FailedPrecondition {
                reason: "QUANTITY_EXCEEDS_CONTRACT",
                message: format!(
                    "delivery.quantity {} exceeds the {} remaining on line {line_no} of contract {}",
                    quantity.normalize(),
                    line.remaining_quantity().normalize(),
                    self.contract_no
                ),
                metadata: vec![
                    ("requested".into(), quantity.normalize().to_string()),
                    (
                        "remaining".into(),
                        line.remaining_quantity().normalize().to_string(),
                    ),
                ],
            });
        }
        Ok(line)
    }
}

/// The changes an amendment asks for; `None` leaves a part as it was.
#[derive(Debug, Clone, Default)]
pub struct AmendmentRequest {
    /// Why.
    pub reason: String,
    /// What, in words.
    pub description: String,
    /// Approver's printed name.
    pub approver_name: String,
    /// Effective date (default: today).
    pub effective_date: Option<NaiveDate>,
    /// New lines.
    pub lines: Option<Vec<ContractLine>>,
    /// New terms.
    pub terms: Option<PaymentTerms>,
    /// New end of validity.
    pub valid_to: Option<NaiveDate>,
}

/// Applies an amendment to an active contract, producing the next version. Lines already
/// delivered keep their deliveries: a new line may not go below what was delivered on it.
pub fn amend(
    contract: &Contract,
    request: &AmendmentRequest,
    approver_id: &str,
    now: DateTime<Utc>,
) -> Result<Contract, Problem> {
    contract.require_status(&[ContractStatus::Active], "an amendment")?;
    let mut v = Violations::new();
    if request.reason.trim().is_empty() {
        v.add("amendment.reason", "is required");
    }
    let mut next = contract.clone();
    let mut changed = Vec::new();
    if let Some(lines) = &request.lines {
        let mut lines = lines.clone();
        number_lines(&mut lines);
        for (i, line) in lines.iter_mut().enumerate() {
            let (delivered, delivered_amount) = contract
                .lines
                .iter()
                .find(|old| old.line_no == line.line_no)
                .map(|old| (old.delivered_quantity, old.delivered_amount))
                .unwrap_or_default();
            if line.quantity < delivered {
                v.add(
                    format!("amendment.lines[{i}].quantity"),
                    format!(
                        "must not be below the {} already delivered",
                        delivered.normalize()
                    ),
                );
            }
            line.delivered_quantity = delivered;
            line.delivered_amount = delivered_amount;
        }
        for old in contract.lines.iter().skip(lines.len()) {
            if !old.delivered_quantity.is_zero() {
                v.add(
                    "amendment.lines",
                    format!("line {} has deliveries and cannot be removed", old.line_no),
                );
            }
        }
        if lines.is_empty() {
            v.add("amendment.lines", "a contract needs at least one line");
        }
        next.lines = lines;
        changed.push("lines".to_owned());
        changed.push("total_amount".to_owned());
    }
    if let Some(terms) = request.terms {
        terms.validate("amendment.payment_terms", &mut v);
        next.terms = terms;
        changed.push("payment_terms".to_owned());
    }
    if let Some(valid_to) = request.valid_to {
        if valid_to < contract.valid_from {
            v.add(
                "amendment.valid_to",
                "must not be before valid_from (dates out of order)",
            );
        }
        next.valid_to = valid_to;
        changed.push("valid_to".to_owned());
    }
    if changed.is_empty() {
        v.add(
            "amendment",
            "changes nothing: give lines, payment_terms or valid_to",
        );
    }
    let effective_date = request.effective_date.unwrap_or(now.date_naive());
    if effective_date < contract.signed_date {
        v.add(
            "amendment.effective_date",
            "must not be before the signed date",
        );
    }
    if !v.is_empty() {
        return Err(Problem::InvalidArgument(v.list().to_vec()));
    }
    next.version += 1;
    next.revision += 1;
    next.updated_at = now;
    next.updated_by = approver_id.to_owned();
    let total = next.total();
    next.amendments.push(Amendment {
        version: next.version,
        reason: request.reason.clone(),
        description: request.description.clone(),
        approver_id: approver_id.to_owned(),
        approver_name: request.approver_name.clone(),
        effective_date,
        total_amount: total,
        changed_fields: changed,
        amended_at: now,
        amended_by: approver_id.to_owned(),
    });
    Ok(next)
}

/// The early-payment discount of an amount under `terms`.
pub fn discount_of(terms: &PaymentTerms, amount: Decimal) -> Decimal {
    percent_of(amount, terms.discount_percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    pub(crate) fn contract() -> Contract {
        let now = DateTime::from_timestamp(1_780_000_000, 0).expect("time");
        Contract {
            id: "c1".into(),
            contract_no: "HT-1".into(),
            customer_id: "k".into(),
            signed_date: date("2026-06-01"),
            signer: "王".into(),
            lines: vec![ContractLine {
                line_no: 1,
                product: "润滑油".into(),
                unit: "桶".into(),
                quantity: Decimal::from(10),
                unit_price: Decimal::new(12345, 2),
                delivered_quantity: Decimal::ZERO,
                delivered_amount: Decimal::ZERO,
                packing: String::new(),
            }],
            terms: PaymentTerms::default(),
            status: ContractStatus::Active,
            valid_from: date("2026-06-01"),
            valid_to: date("2026-12-31"),
            version: 1,
            amendments: vec![],
            salesperson_id: "s".into(),
            notes: String::new(),
            termination_reason: String::new(),
            activated_at: None,
            closed_at: None,
            override_id: String::new(),
            revision: 1,
            created_at: now,
            created_by: "u".into(),
            updated_at: now,
            updated_by: "u".into(),
        }
    }

    #[test]
    fn totals_and_exposure_follow_the_lines() {
        let mut c = contract();
        assert_eq!(c.total(), Decimal::new(123450, 2));
        let value = c.lines[0].value_of(Decimal::from(4));
        c.lines[0].deliver(Decimal::from(4), value);
        assert_eq!(c.undelivered_value(), Decimal::new(74070, 2));
        c.status = ContractStatus::Draft;
        assert_eq!(c.exposure(), Decimal::ZERO);
    }

    #[test]
    fn a_delivery_beyond_the_remaining_quantity_is_refused() {
        let mut c = contract();
        c.lines[0].delivered_quantity = Decimal::from(8);
        assert!(c.check_delivery(1, Decimal::from(2)).is_ok());
        assert!(matches!(
            c.check_delivery(1, Decimal::from(3)),
            Err(Problem::FailedPrecondition {
                reason: "QUANTITY_EXCEEDS_CONTRACT",
                ..
            })
        ));
        assert!(c.check_delivery(2, Decimal::ONE).is_err());
    }

    #[test]
    fn amendments_make_a_new_version_and_keep_deliveries() {
        let mut c = contract();
        c.lines[0].delivered_quantity = Decimal::from(4);
        let mut line = c.lines[0].clone();
        line.quantity = Decimal::from(3);
        let request = AmendmentRequest {
            reason: "客户减量".into(),
            effective_date: Some(date("2026-06-10")),
            lines: Some(vec![line.clone()]),
            ..Default::default()
        };
        assert!(
            amend(&c, &request, "m", c.created_at).is_err(),
            "below delivered"
        );
        line.quantity = Decimal::from(6);
        let request = AmendmentRequest {
            lines: Some(vec![line]),
            ..request
        };
        let next = amend(&c, &request, "m", c.created_at).expect("amended");
        assert_eq!(next.version, 2);
        assert_eq!(next.lines[0].delivered_quantity, Decimal::from(4));
        assert_eq!(next.amendments.len(), 1);
    }

    #[test]
    fn terms_give_due_and_discount_dates() {
        let terms = PaymentTerms {
            net_days: 30,
            discount_percent: Decimal::from(2),
            discount_days: 10,
        };
        assert_eq!(terms.due_date(date("2026-06-01")), date("2026-07-01"));
        assert_eq!(
            terms.discount_due_date(date("2026-06-01")),
            Some(date("2026-06-11"))
        );
        let mut v = Violations::new();
        PaymentTerms {
            discount_days: 40,
            ..terms
        }
        .validate("t", &mut v);
        assert!(!v.is_empty());
    }
}
