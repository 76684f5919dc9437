//! Visit plans and visit records (附表二, 附表三): twelve numbered visits a year per customer, the
//! times and place of a visit as a phone reports them, and how a recorded visit feeds the plan.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use dossier_kit::Violations;
use dossier_kit::problem::FieldViolation;
use rust_decimal::Decimal;

/// Numbered visits per customer per year (第一次 … 第十二次).
pub const MAX_VISITS_PER_YEAR: i32 = 12;
/// How far a check-in may run ahead of the server's clock unless configured: phones' clocks
/// drift, but a check-in an hour in the future is a wrong clock or a forged record.
pub const DEFAULT_CHECK_IN_TOLERANCE_SECONDS: i64 = 300;

/// Checks a visit number: 1–12, or 0 (an unplanned visit) where `allow_unplanned`.
pub fn check_number(field: &str, number: i32, allow_unplanned: bool) -> Result<(), FieldViolation> {
    let low = if allow_unplanned { 0 } else { 1 };
    if (low..=MAX_VISITS_PER_YEAR).contains(&number) {
        Ok(())
    } else {
        Err(FieldViolation::new(
            field,
            format!("must be between {low} and {MAX_VISITS_PER_YEAR}, not {number}"),
        ))
    }
}

/// The times a visit reports, already parsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct VisitTimes {
    /// Check-in (from the phone).
    pub check_in: Option<DateTime<Utc>>,
    /// Interview start.
    pub start: Option<DateTime<Utc>>,
    /// Interview end (结束面谈时间).
    pub end: Option<DateTime<Utc>>,
}

/// Checks the times of a visit against each other and against `now`: the interview does not end
/// before it starts, and nothing is reported from beyond the clock-skew `tolerance`.
pub fn check_times(
    prefix: &str,
    times: &VisitTimes,
    now: DateTime<Utc>,
    tolerance: Duration,
    violations: &mut Violations,
) {
    if let (Some(start), Some(end)) = (times.start, times.end)
        && end < start
    {
        violations.add(format!("{prefix}end_time"), "is before start_time");
    }
    for (name, at) in [
        ("check_in_time", times.check_in),
        ("start_time", times.start),
        ("end_time", times.end),
    ] {
        if let Some(at) = at
            && at > now + tolerance
        {
            violations.add(
                format!("{prefix}{name}"),
                format!(
                    "is in the future beyond the allowed clock skew of {} s",
                    tolerance.num_seconds()
                ),
            );
        }
    }
}

/// The day of a visit: the one given, else the day of the check-in, the end or the start.
pub fn visit_day(explicit: Option<NaiveDate>, times: &VisitTimes) -> Option<NaiveDate> {
    explicit.or_else(|| {
        times
            .check_in
            .or(times.end)
            .or(times.start)
            .map(|t| t.date_naive())
    })
}

/// Parses a latitude (±90) or longitude (±180) in degrees; empty means none.
pub fn parse_coordinate(
    field: &str,
    value: &str,
    limit: i64,
) -> Result<Option<Decimal>, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let degrees: Decimal = value
        .parse()
        .map_err(|_| FieldViolation::new(field, format!("{value:?} is not a number of degrees")))?;
    if degrees.abs() > Decimal::from(limit) {
        return Err(FieldViolation::new(
            field,
            format!("must be between -{limit} and {limit}"),
        ));
    }
    Ok(Some(degrees))
}

/// Where one planned visit stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannedState {
    /// 计划: the date has not passed.
    Planned,
    /// 实施: a visit fills it.
    Done,
    /// The date passed without a visit.
    Missed,
}

/// The state of a planned visit. The plan-vs-done query counts the same rule in SQL
/// (`store::plans::progress`), where a year of 200 salespeople is added up.
pub fn planned_state(
    planned: Option<NaiveDate>,
    actual: Option<NaiveDate>,
    today: NaiveDate,
) -> PlannedState {
    match (planned, actual) {
        (_, Some(_)) => PlannedState::Done,
        (Some(planned), None) if planned < today => PlannedState::Missed,
        _ => PlannedState::Planned,
    }
}

/// Which numbered visit a "next visit" date (下次计划时间) plans: the first number after `after`
/// (the visit just made, when it is in the same year) that is not done yet, else the next free
/// number. `row` lists the numbers already in the plan row with whether each is done. `None`
/// when all twelve are taken.
pub fn next_slot(row: &[(i32, bool)], after: i32) -> Option<i32> {
    let open = row
        .iter()
        .filter(|(number, done)| *number > after && !*done)
        .map(|(number, _)| *number)
        .min();
    if open.is_some() {
        return open;
    }
    let highest = row.iter().map(|(n, _)| *n).max().unwrap_or(0).max(after);
    (highest < MAX_VISITS_PER_YEAR).then_some(highest + 1)
}

/// The calendar year of a date, as plans are kept.
pub fn plan_year(date: NaiveDate) -> i32 {
    date.year()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, h, 0, 0)
            .single()
            .expect("time")
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    #[test]
    fn numbers_run_from_one_to_twelve() {
        assert!(check_number("n", 1, false).is_ok());
        assert!(check_number("n", 12, false).is_ok());
        assert!(check_number("n", 13, false).is_err());
        assert!(check_number("n", 0, false).is_err());
        assert!(check_number("n", 0, true).is_ok());
        assert!(check_number("n", -1, true).is_err());
    }

    #[test]
    fn an_interview_ending_before_it_starts_is_refused() {
        let mut v = Violations::new();
        let times = VisitTimes {
            check_in: None,
            start: Some(at(10)),
            end: Some(at(9)),
        };
        check_times("visit.", &times, at(12), Duration::seconds(300), &mut v);
        assert_eq!(v.list()[0].field, "visit.end_time");
    }

    #[test]
    fn a_check_in_beyond_the_skew_is_refused_and_within_it_accepted() {
        let now = at(9);
        let mut v = Violations::new();
        let soon = VisitTimes {
            check_in: Some(now + Duration::seconds(200)),
            ..VisitTimes::default()
        };
        check_times("", &soon, now, Duration::seconds(300), &mut v);
        assert!(v.is_empty());
        let late = VisitTimes {
            check_in: Some(now + Duration::hours(1)),
            ..VisitTimes::default()
        };
        check_times("", &late, now, Duration::seconds(300), &mut v);
        assert_eq!(v.list()[0].field, "check_in_time");
    }

    #[test]
    fn the_visit_day_comes_from_the_check_in_when_not_given() {
        let times = VisitTimes {
            check_in: Some(at(9)),
            ..VisitTimes::default()
        };
        assert_eq!(visit_day(None, &times), Some(day(6, 15)));
        assert_eq!(visit_day(Some(day(6, 1)), &times), Some(day(6, 1)));
        assert_eq!(visit_day(None, &VisitTimes::default()), None);
    }

    #[test]
    fn coordinates_stay_on_the_globe() {
        assert!(
            parse_coordinate("lat", "31.230416", 90)
                .expect("ok")
                .is_some()
        );
        assert!(parse_coordinate("lat", "91", 90).is_err());
        assert!(parse_coordinate("lng", "-181", 180).is_err());
        assert!(parse_coordinate("lng", "east", 180).is_err());
    }

    #[test]
    fn planned_visits_are_done_missed_or_planned() {
        let today = day(6, 15);
        assert_eq!(
            planned_state(Some(day(6, 1)), Some(day(6, 2)), today),
            PlannedState::Done
        );
        assert_eq!(
            planned_state(Some(day(6, 1)), None, today),
            PlannedState::Missed
        );
        assert_eq!(
            planned_state(Some(day(6, 15)), None, today),
            PlannedState::Planned
        );
    }

    #[test]
    fn the_next_visit_takes_the_next_open_number() {
        assert_eq!(next_slot(&[], 0), Some(1));
        assert_eq!(next_slot(&[(1, true), (2, false)], 1), Some(2));
        assert_eq!(next_slot(&[(1, true), (2, true)], 2), Some(3));
        assert_eq!(next_slot(&[(1, false), (2, false)], 0), Some(1));
        let full: Vec<(i32, bool)> = (1..=12).map(|n| (n, true)).collect();
        assert_eq!(next_slot(&full, 12), None);
    }
}
