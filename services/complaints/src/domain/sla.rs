//! Reply-time targets (SLA): how many hours the company gives itself to reply to a complaint,
//! by the customer's grade (default 48 h), counted either around the clock or in business hours
//! only. The target is fixed on the complaint when it is filed, so a later change of the
//! customer's grade or of the configuration does not move a deadline already promised.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// Hours to reply when neither the grade nor the configuration says otherwise.
pub const DEFAULT_REPLY_HOURS: u32 = 48;
/// The longest target accepted (a year), so a deadline is always computable.
pub const MAX_REPLY_HOURS: u32 = 8760;

/// A working day: hours counted towards a target only between `start_hour` and `end_hour`
/// local time (local = UTC + `utc_offset_minutes`), Monday to Friday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// First hour of the working day, 0–23.
    pub start_hour: u32,
    /// Hour the working day ends, 1–24, after `start_hour`.
    pub end_hour: u32,
    /// Local time's offset from UTC in minutes (480 for China).
    pub utc_offset_minutes: i32,
}

impl BusinessHours {
    /// Checks the hours make a working day.
    pub fn validate(&self) -> Result<(), String> {
        if self.start_hour >= self.end_hour || self.end_hour > 24 {
            return Err(format!(
                "business hours {}–{} do not make a working day",
                self.start_hour, self.end_hour
            ));
        }
        if self.utc_offset_minutes.abs() > 14 * 60 {
            return Err(format!(
                "utc_offset_minutes {} is not an offset",
                self.utc_offset_minutes
            ));
        }
        Ok(())
    }

    fn offset(&self) -> Duration {
        Duration::minutes(i64::from(self.utc_offset_minutes))
    }

    fn day_bounds(&self, local: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
        let day = local.date().and_time(NaiveTime::MIN);
        (
            day + Duration::hours(i64::from(self.start_hour)),
            day + Duration::hours(i64::from(self.end_hour)),
        )
    }

    /// `start` plus `hours` of working time.
    fn add(&self, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
        let mut remaining = Duration::hours(i64::from(hours));
        let mut at = start.naive_utc() + self.offset();
        // Each turn consumes one working day (or skips a non-working one): bounded by the
        // target's length in days plus the weekends in between.
        loop {
            let (open, close) = self.day_bounds(at);
            let weekend = matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
            if weekend || at >= close {
                at = (at.date() + Duration::days(1)).and_time(NaiveTime::MIN);
                continue;
            }
            if at < open {
                at = open;
            }
            let available = close - at;
            if remaining <= available {
                return (at + remaining - self.offset()).and_utc();
            }
            remaining -= available;
            at = close;
        }
    }
}

/// The reply-time targets in force: a default, per-grade overrides, and optional business hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTargets {
    /// Hours for a grade without its own target.
    pub default_hours: u32,
    /// Hours by grade: index 1 = A … 4 = D (the customer-profile `Grade` numbers).
    pub by_grade: [Option<u32>; 5],
    /// Count only working hours, when set.
    pub business_hours: Option<BusinessHours>,
}

impl Default for ReplyTargets {
    fn default() -> Self {
        Self {
            default_hours: DEFAULT_REPLY_HOURS,
            by_grade: [None; 5],
            business_hours: None,
        }
    }
}

impl ReplyTargets {
    /// Targets from configuration: `by_grade` maps `A`–`D` to hours.
    pub fn from_settings(
        default_hours: u32,
        by_grade: &std::collections::BTreeMap<String, u32>,
        business_hours: Option<BusinessHours>,
    ) -> Result<Self, String> {
        let check = |what: &str, hours: u32| {
            if hours == 0 || hours > MAX_REPLY_HOURS {
                Err(format!(
                    "{what} must be 1–{MAX_REPLY_HOURS} hours, not {hours}"
                ))
            } else {
                Ok(hours)
            }
        };
        let mut targets = ReplyTargets {
            default_hours: check("reply_hours", default_hours)?,
            by_grade: [None; 5],
            business_hours,
        };
        for (grade, hours) in by_grade {
            let index = match grade.trim().to_ascii_uppercase().as_str() {
                "A" => 1,
                "B" => 2,
                "C" => 3,
                "D" => 4,
                other => {
                    return Err(format!(
                        "reply_hours_by_grade: {other:?} is not A, B, C or D"
                    ));
                }
            };
            targets.by_grade[index] =
                Some(check(&format!("reply_hours_by_grade.{grade}"), *hours)?);
        }
        if let Some(hours) = &business_hours {
            hours.validate()?;
        }
        Ok(targets)
    }

    /// The target in hours for a customer of `grade` (customer-profile's `Grade` number; 0 or
    /// unknown means the default).
    pub fn hours_for_grade(&self, grade: i32) -> u32 {
        usize::try_from(grade)
            .ok()
            .and_then(|i| self.by_grade.get(i).copied().flatten())
            .unwrap_or(self.default_hours)
    }

    /// The reply deadline of a clock started at `start` with a target of `hours`.
    pub fn due(&self, start: DateTime<Utc>, hours: u32) -> DateTime<Utc> {
        match &self.business_hours {
            None => start + Duration::hours(i64::from(hours)),
            Some(calendar) => calendar.add(start, hours),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn around_the_clock_the_deadline_is_the_start_plus_the_target() {
        let targets = ReplyTargets::default();
        assert_eq!(
            targets.due(at(2026, 6, 15, 9, 0), 48),
            at(2026, 6, 17, 9, 0)
        );
    }

    #[test]
    fn grades_have_their_own_targets_and_the_rest_the_default() {
        let mut by_grade = std::collections::BTreeMap::new();
        by_grade.insert("a".to_owned(), 24);
        let targets = ReplyTargets::from_settings(48, &by_grade, None).expect("valid");
        assert_eq!(targets.hours_for_grade(1), 24);
        assert_eq!(targets.hours_for_grade(2), 48);
        assert_eq!(targets.hours_for_grade(0), 48);
        assert_eq!(targets.hours_for_grade(99), 48);
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut by_grade = std::collections::BTreeMap::new();
        by_grade.insert("Z".to_owned(), 24);
        assert!(ReplyTargets::from_settings(48, &by_grade, None).is_err());
        assert!(ReplyTargets::from_settings(0, &Default::default(), None).is_err());
        let backwards = BusinessHours {
            start_hour: 18,
            end_hour: 9,
            utc_offset_minutes: 0,
        };
        assert!(ReplyTargets::from_settings(48, &Default::default(), Some(backwards)).is_err());
    }

    #[test]
    fn business_hours_skip_nights_and_weekends() {
        // 09:00–18:00 in UTC+8, i.e. 01:00–10:00 UTC. 2026-06-19 is a Friday.
        let calendar = BusinessHours {
            start_hour: 9,
            end_hour: 18,
            utc_offset_minutes: 480,
        };
        let targets = ReplyTargets {
            business_hours: Some(calendar),
            ..ReplyTargets::default()
        };
        // Friday 16:00 local + 4 working hours: 2 on Friday, 2 on Monday → Monday 11:00 local.
        let friday_16_local = at(2026, 6, 19, 8, 0);
        assert_eq!(targets.due(friday_16_local, 4), at(2026, 6, 22, 3, 0));
        // Filed at night (Tuesday 22:00 local): the clock starts Wednesday 09:00 local.
        let tuesday_22_local = at(2026, 6, 16, 14, 0);
        assert_eq!(targets.due(tuesday_22_local, 9), at(2026, 6, 17, 10, 0));
        // 48 working hours = 5 days and 3 hours of working time, from Monday 09:00 local.
        let monday_9_local = at(2026, 6, 15, 1, 0);
        assert_eq!(targets.due(monday_9_local, 48), at(2026, 6, 22, 4, 0));
    }
}
