//! Periods of reports: a month `YYYY-MM`, a quarter `YYYY-Qn` or a year `YYYY`, each a range of
//! calendar days, with the previous period of the same length.

use chrono::{Datelike, Months, NaiveDate};

/// A report period: the days `from ..= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    months: u32,
}

impl Period {
    /// Parses `YYYY-MM`, `YYYY-Qn` or `YYYY`.
    pub fn parse(text: &str) -> Result<Period, String> {
        let text = text.trim();
        let bad = || format!("{text:?} is not a month YYYY-MM, a quarter YYYY-Qn or a year YYYY");
        let year = |y: &str| -> Result<i32, String> {
            if y.len() != 4 {
                return Err(bad());
            }
            let y: i32 = y.parse().map_err(|_| bad())?;
            if (1900..=9999).contains(&y) {
                Ok(y)
            } else {
                Err(bad())
            }
        };
        let (first, months) = if let Some((y, q)) = text.split_once("-Q") {
            let q: u32 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) || q.to_string().len() != 1 {
                return Err(bad());
            }
            (ymd(year(y)?, (q - 1) * 3 + 1).ok_or_else(bad)?, 3)
        } else if let Some((y, m)) = text.split_once('-') {
            let m: u32 = if m.len() == 2 {
                m.parse().map_err(|_| bad())?
            } else {
                return Err(bad());
            };
            (ymd(year(y)?, m).ok_or_else(bad)?, 1)
        } else {
            (ymd(year(text)?, 1).ok_or_else(bad)?, 12)
        };
        Ok(Self::starting(first, months))
    }

    /// The month `year`-`month`.
    pub fn month(year: i32, month: u32) -> Option<Period> {
        ymd(year, month).map(|d| Self::starting(d, 1))
    }

    /// The `months` months starting on `first`.
    fn starting(first: NaiveDate, months: u32) -> Period {
        let to = first
            .checked_add_months(Months::new(months))
            .and_then(|d| d.pred_opt())
            .unwrap_or(first);
        Period {
            from: first,
            to,
            months,
        }
    }

    /// The period of the same length just before.
    pub fn previous(&self) -> Period {
        let first = self
            .from
            .checked_sub_months(Months::new(self.months))
            .unwrap_or(self.from);
        Self::starting(first, self.months)
    }

    /// The same period a year earlier.
    pub fn year_before(&self) -> Period {
        let first = self
            .from
            .checked_sub_months(Months::new(12))
            .unwrap_or(self.from);
        Self::starting(first, self.months)
    }

    /// The period as instants `[start, end)` in Unix seconds, days taken in local time
    /// `utc_offset_minutes` east of UTC.
    pub fn instants(&self, utc_offset_minutes: i32) -> (i64, i64) {
        let offset = i64::from(utc_offset_minutes) * 60;
        let start = self
            .from
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(0);
        let end = self
            .to
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
            .unwrap_or(i64::MAX);
        (start - offset, end - offset)
    }

    /// The number of months.
    pub fn months(&self) -> u32 {
        self.months
    }

    /// First day as `YYYY-MM-DD`.
    pub fn from_text(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    /// Last day as `YYYY-MM-DD`.
    pub fn to_text(&self) -> String {
        self.to.format("%Y-%m-%d").to_string()
    }

    /// The period's canonical name.
    pub fn name(&self) -> String {
        match self.months {
            1 => self.from.format("%Y-%m").to_string(),
            3 => format!("{}-Q{}", self.from.year(), self.from.month0() / 3 + 1),
            _ => self.from.year().to_string(),
        }
    }
}

fn ymd(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)
}

/// Parses a month `YYYY-MM` into its period.
pub fn parse_month(text: &str) -> Result<Period, String> {
    let period = Period::parse(text)?;
    if period.months == 1 {
        Ok(period)
    } else {
        Err(format!("{text:?} is not a month YYYY-MM"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_their_predecessors() {
        let m = Period::parse("2026-03").expect("month");
        assert_eq!(
            (m.from_text(), m.to_text()),
            ("2026-03-01".into(), "2026-03-31".into())
        );
        assert_eq!(m.previous().name(), "2026-02");
        assert_eq!(m.previous().to_text(), "2026-02-28");
        let q = Period::parse("2026-Q1").expect("quarter");
        assert_eq!(q.to_text(), "2026-03-31");
        assert_eq!(q.previous().name(), "2025-Q4");
        let y = Period::parse("2025").expect("year");
        assert_eq!(y.to_text(), "2025-12-31");
        assert_eq!(y.previous().name(), "2024");
        assert_eq!(m.year_before().name(), "2025-03");
        for bad in ["", "2026-13", "2026-Q5", "26", "2026-3", "x"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_month("2026").is_err());
    }
}
