//! Yearly volumes (客户档案每年分年度清理、按类装订成固定卷): closing a year freezes that year's
//! documents and versions into an immutable, catalogued volume whose digest lets anyone check it
//! was not altered.

use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};

use dossier_kit::Problem;

/// The earliest year that can be closed.
pub const FIRST_YEAR: i32 = 1980;

/// Refuses years that have not begun or are implausibly old.
pub fn check_closable(year: i32, today: NaiveDate) -> Result<(), Problem> {
    if year < FIRST_YEAR || year > today.year() {
        return Err(Problem::invalid(
            "year",
            format!("must be between {FIRST_YEAR} and {}", today.year()),
        ));
    }
    Ok(())
}

/// Refuses a change dated in a closed year.
pub fn ensure_year_open(date: NaiveDate, closed_years: &[i32]) -> Result<(), Problem> {
    if closed_years.contains(&date.year()) {
        return Err(Problem::precondition(
            "YEAR_CLOSED",
            format!(
                "the year {} of this archive is closed into a volume and cannot change",
                date.year()
            ),
        ));
    }
    Ok(())
}

/// The volume number: `<archive_no>/<year>`.
pub fn volume_number(archive_no: &str, year: i32) -> String {
    format!("{archive_no}/{year}")
}

/// SHA-256 (hex) of a volume's frozen content in its canonical serialised form.
pub fn digest(canonical: &[u8]) -> String {
    hex::encode(Sha256::digest(canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn future_years_cannot_be_closed() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        assert!(check_closable(2026, today).is_ok());
        assert!(check_closable(2025, today).is_ok());
        assert!(check_closable(2027, today).is_err());
    }

    #[test]
    fn a_closed_year_refuses_changes() {
        let date = NaiveDate::from_ymd_opt(2025, 3, 1).expect("date");
        assert!(ensure_year_open(date, &[2025]).is_err());
        assert!(ensure_year_open(date, &[2024]).is_ok());
    }
}
