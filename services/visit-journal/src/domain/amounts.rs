//! Money and quantities as decimal strings: never negative, never more places than the unit has.

use dossier_kit::problem::FieldViolation;
use rust_decimal::Decimal;

/// Places of a CNY amount.
pub const MONEY_PLACES: u32 = 2;
/// Places of a quantity in kilograms.
pub const QUANTITY_PLACES: u32 = 3;

/// Parses an optional non-negative decimal with at most `places` places; empty means none.
pub fn parse_decimal(
    field: &str,
    value: &str,
    places: u32,
) -> Result<Option<Decimal>, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let amount: Decimal = value
        .parse()
        .map_err(|_| FieldViolation::new(field, format!("{value:?} is not a decimal number")))?;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(FieldViolation::new(field, "must not be negative"));
    }
    if amount.normalize().scale() > places {
        return Err(FieldViolation::new(
            field,
            format!("has more than {places} decimal places"),
        ));
    }
    Ok(Some(amount))
}

/// Formats an amount with exactly `places` places.
pub fn format_decimal(amount: Decimal, places: u32) -> String {
    let mut amount = amount;
    amount.rescale(places);
    amount.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_takes_two_places_and_no_sign() {
        assert_eq!(
            parse_decimal("a", "12.50", 2).expect("ok"),
            Some(Decimal::new(1250, 2))
        );
        assert_eq!(parse_decimal("a", "", 2).expect("ok"), None);
        assert!(parse_decimal("a", "-1", 2).is_err());
        assert!(parse_decimal("a", "1.005", 2).is_err());
        assert!(parse_decimal("a", "abc", 2).is_err());
        assert!(parse_decimal("q", "1.005", 3).is_ok());
    }

    #[test]
    fn formatting_pads_to_the_places() {
        assert_eq!(format_decimal(Decimal::new(5, 0), 2), "5.00");
    }
}
