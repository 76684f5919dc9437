//! Request messages → domain values, every fault reported with its field path at once.

use chrono::{Datelike, NaiveDate};
use dossier_kit::time::parse_date;
use dossier_kit::{Problem, Violations};
use dossier_proto::contract as pb;
use rust_decimal::Decimal;

use crate::domain::contract::{ContractDraft, ContractLine, PaymentTerms, validate_draft};
use crate::domain::credit::{Collateral, OverrideUse};
use crate::domain::money::{parse_money, parse_percent, parse_positive_money, parse_quantity};

/// A required date.
pub fn required_date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    match v.check(parse_date(field, text)) {
        Some(Some(d)) => Some(d),
        Some(None) => {
            v.add(field, "is required (YYYY-MM-DD)");
            None
        }
        None => None,
    }
}

/// An optional date.
pub fn optional_date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    v.check(parse_date(field, text)).flatten()
}

/// A required non-blank string.
pub fn required(v: &mut Violations, field: &str, text: &str) {
    if text.trim().is_empty() {
        v.add(field, "is required");
    }
}

/// Payment terms (unset: net 30, no discount).
pub fn terms(v: &mut Violations, field: &str, t: Option<&pb::PaymentTerms>) -> PaymentTerms {
    match t {
        None => PaymentTerms::default(),
        Some(t) => PaymentTerms {
            net_days: t.net_days,
            discount_percent: v
                .check(parse_percent(
                    &format!("{field}.discount_percent"),
                    &t.discount_percent,
                ))
                .unwrap_or_default(),
            discount_days: t.discount_days,
        },
    }
}

/// Contract lines.
pub fn lines(v: &mut Violations, field: &str, lines: &[pb::ContractLine]) -> Vec<ContractLine> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let at = format!("{field}[{i}]");
            ContractLine {
                line_no: i as i32 + 1,
                product: l.product.trim().to_owned(),
                unit: l.unit.trim().to_owned(),
                quantity: v
                    .check(parse_quantity(&format!("{at}.quantity"), &l.quantity))
                    .unwrap_or_default(),
                unit_price: v
                    .check(parse_money(&format!("{at}.unit_price"), &l.unit_price))
                    .unwrap_or_default(),
                delivered_quantity: Decimal::ZERO,
                delivered_amount: Decimal::ZERO,
                packing: l.packing.clone(),
            }
        })
        .collect()
}

/// A whole contract as drafted, validated.
pub fn contract(
    c: &pb::Contract,
    prefix: &str,
    today: NaiveDate,
) -> Result<ContractDraft, Problem> {
    let mut v = Violations::new();
    required(&mut v, &format!("{prefix}.customer_id"), &c.customer_id);
    if !c.currency.is_empty() && c.currency != "CNY" {
        v.add(format!("{prefix}.currency"), "only CNY is kept");
    }
    let signed = required_date(&mut v, &format!("{prefix}.signed_date"), &c.signed_date);
    let valid_from = optional_date(&mut v, &format!("{prefix}.valid_from"), &c.valid_from);
    let valid_to = optional_date(&mut v, &format!("{prefix}.valid_to"), &c.valid_to);
    let terms = terms(
        &mut v,
        &format!("{prefix}.payment_terms"),
        c.payment_terms.as_ref(),
    );
    let lines = lines(&mut v, &format!("{prefix}.lines"), &c.lines);
    if !v.is_empty() {
        return Err(Problem::InvalidArgument(v.list().to_vec()));
    }
    let signed = signed.unwrap_or(today);
    let valid_from = valid_from.unwrap_or(signed);
    let valid_to = valid_to.unwrap_or_else(|| {
        NaiveDate::from_ymd_opt(valid_from.year() + 1, valid_from.month(), 1)
            .and_then(|d| d.pred_opt())
            .unwrap_or(valid_from)
    });
    let draft = ContractDraft {
        contract_no: c.contract_no.trim().to_owned(),
        customer_id: c.customer_id.trim().to_owned(),
        signed_date: signed,
        signer: c.signer.clone(),
        lines,
        terms,
        valid_from,
        valid_to,
        salesperson_id: c.salesperson_id.clone(),
        notes: c.notes.clone(),
    };
    validate_draft(&draft, prefix).finish(|| draft.clone())
}

/// How a call proposes to exceed the credit line.
pub fn override_use(o: Option<&pb::OverrideApproval>) -> OverrideUse {
    match o {
        Some(o) if !o.override_id.is_empty() => OverrideUse::Approved(o.override_id.clone()),
        Some(o) if o.manager_approval => OverrideUse::ByCaller(o.reason.clone()),
        _ => OverrideUse::None,
    }
}

/// Collateral entries.
pub fn collateral(v: &mut Violations, items: &[pb::Collateral]) -> Vec<Collateral> {
    items
        .iter()
        .enumerate()
        .map(|(i, c)| Collateral {
            kind: c.kind,
            description: c.description.clone(),
            value: if c.value.trim().is_empty() {
                None
            } else {
                v.check(parse_money(&format!("collateral[{i}].value"), &c.value))
            },
            guarantor: c.guarantor.clone(),
            document_ref: c.document_ref.clone(),
        })
        .collect()
}

/// A positive amount.
pub fn positive(v: &mut Violations, field: &str, text: &str) -> Decimal {
    v.check(parse_positive_money(field, text))
        .unwrap_or_default()
}
