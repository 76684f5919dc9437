//! Money in the read model. Amounts arrive as decimal strings with two places and are kept as
//! whole cents (`i64`) in the database, so that `SUM` in SQL is exact on both SQLite and
//! PostgreSQL; every figure leaves the service as a `Decimal` again, formatted with two places.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// Cents of a decimal amount string (`"12500.00"` → 1 250 000); `None` when it is not a number.
pub fn parse_cents(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    let value: Decimal = text.parse().ok()?;
    (value * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
}

/// The decimal amount of `cents`.
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// `cents` as a money string with two places.
pub fn format_cents(cents: i64) -> String {
    format!("{:.2}", from_cents(cents))
}

/// `part` in percent of `whole` with two places; `None` when `whole` is zero.
pub fn percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if whole.is_zero() {
        None
    } else {
        Some(
            (part * Decimal::ONE_HUNDRED / whole)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        )
    }
}

/// A percentage as a string with two places; empty when there is none.
pub fn format_percent(value: Option<Decimal>) -> String {
    value.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// `part_cents` in percent of `whole_cents`, formatted; empty when `whole_cents` is zero.
pub fn share(part_cents: i64, whole_cents: i64) -> String {
    format_percent(percent(from_cents(part_cents), from_cents(whole_cents)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_round_trip() {
        assert_eq!(parse_cents("12500.00"), Some(1_250_000));
        assert_eq!(parse_cents("0.005"), Some(1));
        assert_eq!(parse_cents(""), Some(0));
        assert_eq!(parse_cents("abc"), None);
        assert_eq!(format_cents(1_250_005), "12500.05");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(share(1, 3), "33.33");
        assert_eq!(share(1, 0), "");
    }
}
