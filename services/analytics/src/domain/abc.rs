//! ABC classification by cumulative sales (Pareto) and key accounts.
//!
//! Customers are ranked by sales in the period (ties by id). A customer belongs to class A while
//! the cumulative share of the customers ranked above it is below the A share — so the customer
//! whose sales cross the A share still counts to A, and one customer making up 90 % of sales is
//! A, not B — then B up to the B share, then C. A key account (重点客户) is a class A customer, or
//! one meeting the other two criteria of the seed: market potential (factor 24 scored 3 or 4 in
//! its latest scored month) and strategic importance (the card's trade standing is 主力).
//! The store evaluates this in SQL over the whole ranking; here are the thresholds.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Cumulative shares closing classes A and B, in basis points (1 % = 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Share closing class A.
    pub a_basis_points: i64,
    /// Share closing class B.
    pub b_basis_points: i64,
}

impl Thresholds {
    /// Thresholds from percent strings, an empty one taking its default. A must be above 0, B
    /// above A, and B at most 100.
    pub fn parse(
        a: &str,
        b: &str,
        defaults: Thresholds,
    ) -> Result<Thresholds, (&'static str, String)> {
        let one = |field: &'static str,
                   text: &str,
                   default: i64|
         -> Result<i64, (&'static str, String)> {
            if text.trim().is_empty() {
                return Ok(default);
            }
            let value: Decimal = text
                .trim()
                .parse()
                .map_err(|_| (field, format!("{text:?} is not a percentage")))?;
            if value <= Decimal::ZERO || value > Decimal::ONE_HUNDRED {
                return Err((field, format!("{text} must be above 0 and at most 100")));
            }
            (value * Decimal::ONE_HUNDRED)
                .round()
                .to_i64()
                .ok_or_else(|| (field, format!("{text} is out of range")))
        };
        let a_basis_points = one("a_share_percent", a, defaults.a_basis_points)?;
        let b_basis_points = one("b_share_percent", b, defaults.b_basis_points)?;
        if b_basis_points <= a_basis_points {
            return Err(("b_share_percent", "must be above the A share".to_owned()));
        }
        Ok(Thresholds {
            a_basis_points,
            b_basis_points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Thresholds = Thresholds {
        a_basis_points: 8000,
        b_basis_points: 9500,
    };

    #[test]
    fn thresholds_default_and_validate() {
        assert_eq!(Thresholds::parse("", "", D), Ok(D));
        assert_eq!(
            Thresholds::parse("70", "90.5", D),
            Ok(Thresholds {
                a_basis_points: 7000,
                b_basis_points: 9050
            })
        );
        assert_eq!(
            Thresholds::parse("96", "", D).map_err(|e| e.0),
            Err("b_share_percent")
        );
        assert_eq!(
            Thresholds::parse("0", "", D).map_err(|e| e.0),
            Err("a_share_percent")
        );
        assert_eq!(
            Thresholds::parse("x", "", D).map_err(|e| e.0),
            Err("a_share_percent")
        );
        assert_eq!(
            Thresholds::parse("", "101", D).map_err(|e| e.0),
            Err("b_share_percent")
        );
    }
}
