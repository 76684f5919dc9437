//! Periods of work plans and reports: a month `YYYY-MM` or an ISO week `YYYY-Www`.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use dossier_kit::problem::FieldViolation;

/// A closed range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
}

/// Parses a month `YYYY-MM`.
pub fn parse_month(field: &str, value: &str) -> Result<Period, FieldViolation> {
    let bad = || {
        FieldViolation::new(
            field,
            format!("{value:?} is not a month of the form YYYY-MM"),
        )
    };
    let (year, month) = value.trim().split_once('-').ok_or_else(bad)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(bad());
    }
    let year: i32 = year.parse().map_err(|_| bad())?;
    let month: u32 = month.parse().map_err(|_| bad())?;
    let start = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .ok_or_else(bad)?;
    Ok(Period {
        start,
        end: next - Duration::days(1),
    })
}

/// Parses an ISO week `YYYY-Www` (Monday to Sunday).
pub fn parse_week(field: &str, value: &str) -> Result<Period, FieldViolation> {
    let bad = || {
        FieldViolation::new(
            field,
            format!("{value:?} is not an ISO week of the form YYYY-Www"),
        )
    };
    let (year, week) = value.trim().split_once("-W").ok_or_else(bad)?;
    if year.len() != 4 || week.len() != 2 {
        return Err(bad());
    }
    let year: i32 = year.parse().map_err(|_| bad())?;
    let week: u32 = week.parse().map_err(|_| bad())?;
    let start = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
    Ok(Period {
        start,
        end: start + Duration::days(6),
    })
}

/// The month `YYYY-MM` a date falls in.
pub fn month_of(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn months_run_to_their_last_day() {
        let feb = parse_month("p", "2028-02").expect("month");
        assert_eq!((feb.start, feb.end), (day(2028, 2, 1), day(2028, 2, 29)));
        let dec = parse_month("p", "2026-12").expect("month");
        assert_eq!(dec.end, day(2026, 12, 31));
        assert!(parse_month("p", "2026-13").is_err());
        assert!(parse_month("p", "2026-1").is_err());
    }

    #[test]
    fn iso_weeks_start_on_monday() {
        let week = parse_week("p", "2026-W01").expect("week");
        assert_eq!((week.start, week.end), (day(2025, 12, 29), day(2026, 1, 4)));
        assert!(parse_week("p", "2026-W54").is_err());
        assert!(parse_week("p", "2026-01").is_err());
    }
}
