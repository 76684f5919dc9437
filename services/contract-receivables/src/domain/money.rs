//! Amounts and quantities: `Decimal` end to end, parsed from the API's decimal strings with the
//! precision the books keep (CNY to the fen, quantities to three places) and never rounded
//! silently on the way in.

use dossier_kit::FieldViolation;
use rust_decimal::{Decimal, RoundingStrategy};

/// Places of a money amount (CNY: yuan and fen).
pub const MONEY_PLACES: u32 = 2;
/// Places of a quantity.
pub const QUANTITY_PLACES: u32 = 3;
/// The largest amount accepted (one trillion yuan): far above any real contract, far below
/// where `Decimal` arithmetic could overflow.
const MAX_AMOUNT: i64 = 1_000_000_000_000;

fn parse(field: &str, text: &str, places: u32, what: &str) -> Result<Decimal, FieldViolation> {
    let text = text.trim();
    if text.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    let value: Decimal = text
        .parse()
        .map_err(|_| FieldViolation::new(field, format!("{text:?} is not a decimal number")))?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(FieldViolation::new(
            field,
            format!("{what} must not be negative"),
        ));
    }
    if value.normalize().scale() > places {
        return Err(FieldViolation::new(
            field,
            format!("{what} has at most {places} decimal places"),
        ));
    }
    if value > Decimal::from(MAX_AMOUNT) {
        return Err(FieldViolation::new(field, format!("{what} is too large")));
    }
    Ok(value.abs())
}

/// A money amount ≥ 0 with at most two places.
pub fn parse_money(field: &str, text: &str) -> Result<Decimal, FieldViolation> {
    parse(field, text, MONEY_PLACES, "an amount").map(money)
}

/// A money amount > 0 with at most two places.
pub fn parse_positive_money(field: &str, text: &str) -> Result<Decimal, FieldViolation> {
    let value = parse_money(field, text)?;
    if value.is_zero() {
        return Err(FieldViolation::new(field, "must be more than 0"));
    }
    Ok(value)
}

/// A quantity > 0 with at most three places.
pub fn parse_quantity(field: &str, text: &str) -> Result<Decimal, FieldViolation> {
    let value = parse(field, text, QUANTITY_PLACES, "a quantity")?;
    if value.is_zero() {
        return Err(FieldViolation::new(field, "must be more than 0"));
    }
    Ok(value)
}

/// A percentage in [0, 100) with at most two places; empty means 0.
pub fn parse_percent(field: &str, text: &str) -> Result<Decimal, FieldViolation> {
    if text.trim().is_empty() {
        return Ok(Decimal::ZERO);
    }
    let value = parse(field, text, 2, "a percentage")?;
    if value >= Decimal::ONE_HUNDRED {
        return Err(FieldViolation::new(field, "must be below 100"));
    }
    Ok(value)
}

/// `value` rounded to the fen, half away from zero (the bookkeeping convention), with scale 2.
pub fn money(value: Decimal) -> Decimal {
    let mut rounded =
        value.round_dp_with_strategy(MONEY_PLACES, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(MONEY_PLACES);
    rounded
}

/// An amount as the API writes it: two places.
pub fn format_money(value: Decimal) -> String {
    money(value).to_string()
}

/// A quantity as the API writes it: trailing zeros dropped, at most three places.
pub fn format_quantity(value: Decimal) -> String {
    value.normalize().to_string()
}

/// `percent` % of `amount`, to the fen.
pub fn percent_of(amount: Decimal, percent: Decimal) -> Decimal {
    money(amount * percent / Decimal::ONE_HUNDRED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_two_places_and_refuse_more_or_negatives() {
        assert_eq!(
            parse_money("a", "12500").map(format_money).ok().as_deref(),
            Some("12500.00")
        );
        assert_eq!(
            parse_money("a", "1.50").map(format_money).ok().as_deref(),
            Some("1.50")
        );
        assert!(parse_money("a", "1.005").is_err());
        assert!(parse_money("a", "-1").is_err());
        assert!(parse_money("a", "abc").is_err());
        assert!(parse_money("a", "").is_err());
        assert!(parse_positive_money("a", "0").is_err());
        assert!(
            parse_money("a", "1.100").is_ok(),
            "trailing zeros are not precision"
        );
    }

    #[test]
    fn quantities_take_three_places() {
        assert!(parse_quantity("q", "1.125").is_ok());
        assert!(parse_quantity("q", "1.1255").is_err());
        assert!(parse_quantity("q", "0").is_err());
        assert_eq!(format_quantity(Decimal::new(15000, 3)), "15");
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        assert_eq!(
            percent_of(Decimal::new(12345, 2), Decimal::from(2)),
            Decimal::new(247, 2)
        );
        assert!(parse_percent("p", "100").is_err());
        assert_eq!(parse_percent("p", "").ok(), Some(Decimal::ZERO));
    }
}
