//! The performance and credit evaluation sheet (附表五 客户业绩统计及信用评估表): periods, and the
//! credit rule that grades how a customer paid what fell due in a period.

use chrono::{Datelike, NaiveDate};
use dossier_kit::Problem;
use rust_decimal::Decimal;

use super::receivable::Receivable;

/// A period: a month `YYYY-MM`, a quarter `YYYY-Qn` or a year `YYYY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
}

impl Period {
    /// Parses the notation of `GetPerformance`.
    pub fn parse(text: &str) -> Result<Period, Problem> {
        let bad = || {
            Problem::invalid(
                "period",
                format!("{text:?} is not a month YYYY-MM, a quarter YYYY-Qn or a year YYYY"),
            )
        };
        let text = text.trim();
        let year: i32 = text
            .get(0..4)
            .and_then(|y| y.parse().ok())
            .ok_or_else(bad)?;
        let (first_month, months) = match text.get(4..) {
            Some("") => (1, 12),
            Some(rest) if rest.starts_with("-Q") => {
                let q: u32 = rest[2..].parse().map_err(|_| bad())?;
                if !(1..=4).contains(&q) {
                    return Err(bad());
                }
                ((q - 1) * 3 + 1, 3)
            }
            Some(rest) if rest.starts_with('-') && rest.len() == 3 => {
                let m: u32 = rest[1..].parse().map_err(|_| bad())?;
                if !(1..=12).contains(&m) {
                    return Err(bad());
                }
                (m, 1)
            }
            _ => return Err(bad()),
        };
        let start = NaiveDate::from_ymd_opt(year, first_month, 1).ok_or_else(bad)?;
        let end = start
            .checked_add_months(chrono::Months::new(months))
            .and_then(|d| d.pred_opt())
            .ok_or_else(bad)?;
        Ok(Period { start, end })
    }

    /// The same period a year earlier.
    pub fn year_before(&self) -> Period {
        let back = |d: NaiveDate| d.checked_sub_months(chrono::Months::new(12)).unwrap_or(d);
        // The end is recomputed from the start so a leap-day February stays a whole month.
        let start = back(self.start);
        let months = (self.end.year() - self.start.year()) as u32 * 12 + self.end.month()
            - self.start.month()
            + 1;
        let end = start
            .checked_add_months(chrono::Months::new(months))
            .and_then(|d| d.pred_opt())
            .unwrap_or(back(self.end));
        Period { start, end }
    }

    /// Whether `day` is in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

/// A credit grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    /// Nothing fell due in the period.
    Unrated,
    /// A: paid on time.
    A,
    /// B: late, at most 30 days.
    B,
    /// C: 31–90 days late, or less than half on time.
    C,
    /// D: more than 90 days late.
    D,
}

/// A grade with the rule and inputs that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The grade.
    pub rating: Rating,
    /// Score 0–100.
    pub score: Decimal,
    /// The rule, in words.
    pub rule: String,
    /// Inputs by name.
    pub inputs: Vec<(String, String)>,
}

/// Grades how the receivables that fell due in `period` were paid, looking on `as_of` (the
/// period's end, or today when the period is still running):
/// - days late of a receivable = (settled date, or `as_of` when still open) − due date;
/// - D when the worst is over 90 days; C when over 30, or fewer than half were paid on time;
///   B when any was late; A otherwise; unrated when nothing fell due;
/// - score = 100 × on-time ratio − 40 × min(worst, 90) / 90, floored at 0, two places.
pub fn evaluate<'a>(
    receivables: impl IntoIterator<Item = &'a Receivable>,
    period: Period,
    as_of: NaiveDate,
) -> Evaluation {
    let mut count = 0u32;
    let mut on_time = 0u32;
    let mut worst = 0i64;
    for r in receivables {
        if !period.contains(r.due_date) || r.due_date > as_of {
            continue;
        }
        count += 1;
        let paid_on = if r.is_open() {
            as_of
        } else {
            r.settled_date.unwrap_or(as_of)
        };
        let late = (paid_on - r.due_date).num_days().max(0);
        if late == 0 && !r.is_open() {
            on_time += 1;
        }
        worst = worst.max(late);
    }
    if count == 0 {
        return Evaluation {
            rating: Rating::Unrated,
            score: Decimal::ZERO,
            rule: "nothing fell due in the period → not rated".into(),
            inputs: vec![("receivables_due".into(), "0".into())],
        };
    }
    let ratio = (Decimal::from(on_time) / Decimal::from(count)).round_dp(4);
    let (rating, why) = if worst > 90 {
        (Rating::D, format!("max days overdue {worst} > 90 → D"))
    } else if worst > 30 {
        (Rating::C, format!("max days overdue {worst} > 30 → C"))
    } else if ratio < Decimal::new(5, 1) {
        (Rating::C, format!("on-time ratio {ratio} < 0.5 → C"))
    } else if worst > 0 {
        (
            Rating::B,
            format!("max days overdue {worst} ≤ 30 and on-time ratio {ratio} ≥ 0.5 → B"),
        )
    } else {
        (Rating::A, format!("all {count} paid by their due date → A"))
    };
    let penalty = Decimal::from(40 * worst.min(90)) / Decimal::from(90);
    let score = (ratio * Decimal::ONE_HUNDRED - penalty)
        .max(Decimal::ZERO)
        .round_dp(2);
    Evaluation {
        rating,
        score,
        rule: why,
        inputs: vec![
            ("receivables_due".into(), count.to_string()),
            ("paid_on_time".into(), on_time.to_string()),
            ("on_time_ratio".into(), ratio.to_string()),
            ("max_days_overdue".into(), worst.to_string()),
            ("as_of_date".into(), as_of.format("%Y-%m-%d").to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_months_quarters_and_years() {
        let p = Period::parse("2026-02").expect("month");
        assert_eq!(p.end, NaiveDate::from_ymd_opt(2026, 2, 28).expect("d"));
        let q = Period::parse("2026-Q4").expect("quarter");
        assert_eq!(q.start, NaiveDate::from_ymd_opt(2026, 10, 1).expect("d"));
        assert_eq!(q.end, NaiveDate::from_ymd_opt(2026, 12, 31).expect("d"));
        let y = Period::parse("2025").expect("year");
        assert_eq!(
            y.year_before().start,
            NaiveDate::from_ymd_opt(2024, 1, 1).expect("d")
        );
        assert!(Period::parse("2026-13").is_err());
        assert!(Period::parse("26").is_err());
    }
}
